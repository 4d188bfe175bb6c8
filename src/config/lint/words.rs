//! The lists `dictionaries lint` compares entries with: common English words
//! (by frequency rank), place names, and public webmail/ISP domains. Shipped
//! in `data/` beside this file (sources and licences in its README) and compiled in; a
//! firm adds its own words with `--words FILE`. Words and places are kept
//! normalised the way names are matched ([`normalise`]), so `Zürich` in the
//! list catches `ZURICH` in a dictionary.

use crate::text::normalise::normalise;
use std::collections::HashMap;
use std::path::Path;

const WORDS: &str = include_str!("data/words.txt");
const PLACES: &str = include_str!("data/places.txt");
const WEBMAIL: &str = include_str!("data/webmail.txt");

/// Why an entry is an ordinary word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Common {
    /// Rank in the shipped frequency list (1 = most frequent).
    Word(usize),
    /// In the firm's own list.
    Listed,
    Place,
}

#[derive(Debug, Default)]
/// Common English words and place names, ranked: `rules lint` warns when a client name or alias is one of them, because it would match ordinary prose.
pub struct Words {
    /// Normalised word → rank (0 for the firm's own list).
    common: HashMap<String, usize>,
    places: HashMap<String, ()>,
    /// Exact domains, and names under any top-level domain (`yahoo.*`).
    webmail: Vec<String>,
    webmail_any_tld: Vec<String>,
}

/// The non-comment, non-empty lines of a list.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// A name as the detector sees it: normalised, without the leading space.
pub(crate) fn norm(text: &str) -> String {
    normalise(text, None).trim().to_string()
}

impl Words {
    /// The shipped lists.
    pub fn builtin() -> Words {
        let mut w = Words::default();
        for (rank, word) in entries(WORDS).enumerate() {
            w.common.entry(norm(word)).or_insert(rank + 1);
        }
        w.places = entries(PLACES).map(|p| (norm(p), ())).collect();
        for d in entries(WEBMAIL) {
            match d.strip_suffix(".*") {
                Some(name) => w.webmail_any_tld.push(format!("{name}.")),
                None => w.webmail.push(d.to_string()),
            }
        }
        w
    }

    /// Adds a firm's own list of words or names (one a line, `#` comments).
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        for word in entries(&text) {
            self.common.insert(norm(word), 0);
        }
        Ok(())
    }

    /// Whether a normalised entry is an ordinary word or place name.
    pub(crate) fn common(&self, normalised: &str) -> Option<Common> {
        match self.common.get(normalised) {
            Some(0) => return Some(Common::Listed),
            Some(&rank) if !normalised.contains(' ') => return Some(Common::Word(rank)),
            _ => {}
        }
        self.places
            .contains_key(normalised)
            .then_some(Common::Place)
    }

    /// Whether `domain` (normalised) is a public webmail or ISP domain.
    pub(crate) fn is_webmail(&self, domain: &str) -> bool {
        self.webmail.iter().any(|w| w == domain)
            || self.webmail_any_tld.iter().any(|w| {
                domain.strip_prefix(w.as_str()).is_some_and(|tld| {
                    !tld.is_empty() && tld.split('.').all(|l| l.len() >= 2 && l.len() <= 3)
                })
            })
    }
}
