//! Lookalike domains: a recipient domain that is not known but imitates a
//! known one (internal, client or co-counsel): the same after mapping
//! homoglyphs (`rn` → `m`, `0` → `o`, Cyrillic → Latin), the same name under
//! another top-level domain, or one edit away.
//!
//! One edit is found without comparing against every known domain: each known
//! domain's *skeleton* and all its one-character deletions are hashed into a
//! sorted table; two strings within one edit of each other always share an
//! entry there (the SymSpell observation), and candidates are then verified.

use crate::text::normalise::homoglyph;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

#[derive(Debug, Default)]
pub(crate) struct LookalikeIndex {
    known: Vec<String>,
    skeletons: Vec<String>,
    /// (hash of a skeleton or one of its deletions, index into `known`), sorted.
    deletions: Vec<(u32, u32)>,
    /// Name without its public suffix, skeletonised → known index.
    names: HashMap<String, u32>,
    min_length: usize,
}

impl LookalikeIndex {
    pub(crate) fn build(known: impl IntoIterator<Item = String>, min_length: usize) -> Self {
        let mut known: Vec<String> = known.into_iter().collect();
        known.sort();
        known.dedup();
        let skeletons: Vec<String> = known.iter().map(|d| skeleton(d)).collect();
        let mut deletions = Vec::new();
        let mut names = HashMap::new();
        for (i, s) in skeletons.iter().enumerate() {
            if name_part(s).len() < min_length {
                continue;
            }
            for v in variants(s) {
                deletions.push((hash32(&v), i as u32));
            }
            names.entry(name_part(s).to_string()).or_insert(i as u32);
        }
        deletions.sort_unstable();
        deletions.dedup();
        LookalikeIndex {
            known,
            skeletons,
            deletions,
            names,
            min_length,
        }
    }

    /// True when `domain` is one of the known domains (exactly).
    pub(crate) fn is_known(&self, domain: &str) -> bool {
        self.known
            .binary_search_by(|k| k.as_str().cmp(domain))
            .is_ok()
    }

    /// The known domain that `domain` imitates, if any. `domain` must already
    /// be known not to be (a subdomain of) a known domain.
    pub(crate) fn imitates(&self, domain: &str) -> Option<&str> {
        let s = skeleton(domain);
        if name_part(&s).len() < self.min_length {
            return None;
        }
        if let Some(&i) = self.names.get(name_part(&s)) {
            return Some(&self.known[i as usize]);
        }
        for v in variants(&s) {
            let h = hash32(&v);
            let from = self.deletions.partition_point(|&(x, _)| x < h);
            for &(x, i) in &self.deletions[from..] {
                if x != h {
                    break;
                }
                if strsim::damerau_levenshtein(&s, &self.skeletons[i as usize]) <= 1 {
                    return Some(&self.known[i as usize]);
                }
            }
        }
        None
    }
}

/// The domain as it looks: Unicode form, homoglyphs and digit/letter swaps
/// folded, `rn` read as `m` and `vv` as `w`.
pub(crate) fn skeleton(domain: &str) -> String {
    let (unicode, _) = idna::domain_to_unicode(domain);
    let mut s: String = unicode
        .chars()
        .map(|c| homoglyph(c).unwrap_or(c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            '5' => 's',
            _ => c,
        })
        .collect();
    for (from, to) in [("rn", "m"), ("vv", "w"), ("cl", "d")] {
        s = s.replace(from, to);
    }
    s
}

/// The skeleton without its public suffix: the last label, and a short second
/// level under it (`co.uk`, `com.au`).
fn name_part(s: &str) -> &str {
    let mut labels: Vec<&str> = s.split('.').collect();
    labels.pop();
    if labels.len() >= 2 && labels.last().is_some_and(|l| l.len() <= 3) {
        labels.pop();
    }
    let len: usize = labels
        .iter()
        .map(|l| l.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    &s[..len]
}

/// The string and every string one character shorter.
fn variants(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = vec![s.to_string()];
    for skip in 0..chars.len() {
        out.push(
            chars
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != skip)
                .map(|(_, c)| c)
                .collect(),
        );
    }
    out
}

fn hash32(s: &str) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imitations() {
        let idx = LookalikeIndex::build(
            [
                "silria-motors.io",
                "harrowgate-shipping.com",
                "firm.example",
                "modern.co.uk",
            ]
            .map(String::from),
            5,
        );
        assert_eq!(idx.imitates("siria-motors.io"), Some("silria-motors.io"));
        assert_eq!(
            idx.imitates("harrowgate-shipping.co"),
            Some("harrowgate-shipping.com")
        );
        assert_eq!(
            idx.imitates("harrowgate-shiping.com"),
            Some("harrowgate-shipping.com")
        );
        assert_eq!(idx.imitates("rnodern.co.uk"), Some("modern.co.uk"));
        let cyrillic = idna::domain_to_ascii("h\u{0430}rrowgate-shipping.com").unwrap();
        assert_eq!(idx.imitates(&cyrillic), Some("harrowgate-shipping.com"));
        assert_eq!(idx.imitates("gmail.com"), None);
        assert_eq!(idx.imitates("orbital-estates.io"), None);
    }
}
