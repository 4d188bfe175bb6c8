//! Client names and aliases, found with one Aho-Corasick automaton over the
//! normalised text, on word boundaries.
//!
//! Normalised text is words separated by single spaces and starts with one,
//! so each pattern is the normalised name *with its leading space*: a match
//! starts at a word start by construction, and only the end needs checking.
//! This also keeps the automaton at its root while it reads the inside of a
//! word, where failure transitions would otherwise cost most of the time.
//!
//! `MatchKind::Standard` with overlapping search reports every occurrence of
//! every pattern, so a longer name that fails its boundary check cannot hide a
//! shorter one that passes (leftmost-longest would skip past it). The automaton
//! is the contiguous NFA: at 100,000+ patterns the DFA costs gigabytes.
//!
//! The automaton is not run over every byte. A name can only start at a word
//! whose text is the first word of some name, so one pass hashes each word
//! and asks a Bloom filter of first words (a few hundred KiB, so it stays in
//! cache); only at the few words that pass does the automaton read a window
//! as long as the longest name. Prose words almost all fail the filter,
//! which is what makes this several times faster than the full automaton
//! pass, and a false positive only costs one short window.

use super::Hit;
use crate::config::dictionary::{ClientIdx, Dictionaries};
use crate::text::normalise::normalise;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use std::collections::HashMap;
use std::ops::Range;

/// What one pattern stands for: a client, through its name or an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameTarget {
    pub(crate) client: ClientIdx,
    pub(crate) weak: bool,
}

#[derive(Debug)]
/// One Aho-Corasick automaton over every client name and alias, normalised, so the text is scanned once whatever the number of clients.
pub struct NameMatcher {
    ac: Option<AhoCorasick>,
    /// Per pattern, the first client it names.
    targets: Vec<NameTarget>,
    /// Patterns shared by several clients (two clients with the alias `ACME`).
    shared: HashMap<u32, Vec<NameTarget>>,
    first_words: Bloom,
    /// The longest pattern, in bytes: the window read at a candidate word.
    max_len: usize,
}

/// A Bloom filter of word hashes, two bits per word.
#[derive(Debug)]
struct Bloom {
    bits: Vec<u64>,
    mask: u64,
}

impl Bloom {
    /// Sized at 16 bits per word (about 1.4 % false positives with two probes).
    fn with_capacity(words: usize) -> Bloom {
        let n = (words * 16).next_power_of_two().max(1 << 12);
        Bloom {
            bits: vec![0; n / 64],
            mask: n as u64 - 1,
        }
    }

    fn probes(&self, h: u64) -> [u64; 2] {
        [h & self.mask, (h >> 32 ^ h.rotate_left(17)) & self.mask]
    }

    fn insert(&mut self, h: u64) {
        for b in self.probes(h) {
            self.bits[(b / 64) as usize] |= 1 << (b % 64);
        }
    }

    fn may_contain(&self, h: u64) -> bool {
        self.probes(h)
            .iter()
            .all(|&b| self.bits[(b / 64) as usize] & (1 << (b % 64)) != 0)
    }
}

const WORD_HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// Folds one byte in: a rotate and an xor, so the per-byte dependency
/// chain is two cheap instructions; [`word_mix`] spreads the bits once per
/// word. Collisions only cost a window of automaton, never a miss.
fn word_hash_step(h: u64, b: u8) -> u64 {
    h.rotate_left(8) ^ u64::from(b)
}

fn word_mix(h: u64) -> u64 {
    let h = h.wrapping_mul(0x517c_c1b7_2722_0a95);
    h ^ (h >> 29)
}

/// A word's hash, the same at build and at scan time.
fn word_hash(word: &[u8]) -> u64 {
    word_mix(
        word.iter()
            .fold(WORD_HASH_SEED, |h, &b| word_hash_step(h, b)),
    )
}

impl NameMatcher {
    /// Builds the automaton from the dictionaries; fails only on an automaton too large to build.
    pub fn build(dict: &Dictionaries) -> Result<Self, String> {
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut targets = Vec::new();
        let mut shared: HashMap<u32, Vec<NameTarget>> = HashMap::new();
        for (c, client) in dict.clients.iter().enumerate() {
            let names = std::iter::once((client.name.as_str(), false))
                .chain(client.aliases.iter().map(|a| (a.text.as_str(), a.weak)));
            for (name, weak) in names {
                let norm = normalise(name, None);
                let norm = norm.trim_end();
                if norm.trim().is_empty() {
                    continue;
                }
                let target = NameTarget {
                    client: c as ClientIdx,
                    weak,
                };
                match index.get(norm) {
                    Some(&p) if targets[p as usize] == target => {}
                    Some(&p) => shared.entry(p).or_default().push(target),
                    None => {
                        index.insert(norm.to_string(), patterns.len() as u32);
                        patterns.push(norm.to_string());
                        targets.push(target);
                    }
                }
            }
        }
        drop(index);
        let mut first_words = Bloom::with_capacity(patterns.len());
        for p in &patterns {
            let first = p[1..].split(' ').next().unwrap_or_default();
            first_words.insert(word_hash(first.as_bytes()));
        }
        let max_len = patterns.iter().map(String::len).max().unwrap_or(0);
        let ac = if patterns.is_empty() {
            None
        } else {
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&patterns)
                .map_err(|e| format!("cannot build the client-name matcher: {e}"))?;
            Some(ac)
        };
        Ok(NameMatcher {
            ac,
            targets,
            shared,
            first_words,
            max_len,
        })
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.ac.as_ref().map_or(0, AhoCorasick::memory_usage)
            + self.targets.capacity() * 8
            + self.first_words.bits.capacity() * 8
    }

    /// Finds every client name or alias in normalised `text` (which starts
    /// with a space and has single spaces between words).
    pub fn find(&self, text: &str, out: &mut Vec<Hit>) {
        let Some(ac) = &self.ac else { return };
        let bytes = text.as_bytes();
        if bytes.first() != Some(&b' ') {
            // Not normalised text: no word structure to lean on.
            return self.find_at(ac, text, 0..text.len(), false, out);
        }
        // One pass: hash each word as its bytes go by; at each space, ask
        // the filter about the word just ended.
        let mut start = 0; // the space before the current word
        let mut h = WORD_HASH_SEED;
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            if b != b' ' {
                h = word_hash_step(h, b);
                continue;
            }
            self.check_word(ac, text, start, i, h, out);
            start = i;
            h = WORD_HASH_SEED;
        }
        self.check_word(ac, text, start, bytes.len(), h, out);
    }

    /// Runs the automaton at the word `start + 1..end` (hash `h`) if it
    /// may begin a name.
    fn check_word(
        &self,
        ac: &AhoCorasick,
        text: &str,
        start: usize,
        end: usize,
        h: u64,
        out: &mut Vec<Hit>,
    ) {
        if end > start + 1 && self.first_words.may_contain(word_mix(h)) {
            let window = start..(start + self.max_len).min(text.len());
            self.find_at(ac, text, window, true, out);
        }
    }

    /// Every pattern inside `window` that ends on a word end; `anchored`:
    /// only the ones that start where the window does.
    fn find_at(
        &self,
        ac: &AhoCorasick,
        text: &str,
        window: Range<usize>,
        anchored: bool,
        out: &mut Vec<Hit>,
    ) {
        let start = window.start;
        for m in ac.find_overlapping_iter(Input::new(text).range(window)) {
            if anchored && m.start() != start {
                continue; // a later word: it has its own window
            }
            if text.as_bytes().get(m.end()).is_some_and(|&b| b != b' ') {
                continue; // the name goes on into a longer word
            }
            let p = m.pattern().as_u32();
            let words = m.start() + 1..m.end(); // without the leading space
            out.push(Hit::Client(self.targets[p as usize], words.clone()));
            for &t in self.shared.get(&p).into_iter().flatten() {
                out.push(Hit::Client(t, words.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::dictionary::{Alias, Client};

    #[test]
    fn word_boundaries() {
        let mut dict = Dictionaries::default();
        dict.clients.push(Client {
            id: "C-1".into(),
            name: "Acme".into(),
            aliases: vec![Alias {
                text: "Acme Holdings".into(),
                weak: false,
            }],
            domains: vec![],
            group: None,
        });
        let m = NameMatcher::build(&dict).unwrap();
        let found = |t: &str| {
            let mut out = Vec::new();
            m.find(&normalise(t, None), &mut out);
            out.len()
        };
        assert_eq!(found("Acmeology and xacme"), 0);
        assert_eq!(found("(Acme), acme."), 2);
        assert_eq!(found("Acme Holdingsx"), 1);
        assert_eq!(found("Acme Holdings"), 2);
    }

    /// The filtered scan finds exactly what one automaton pass over the
    /// whole text finds, on text dense with names, prefixes and near misses.
    #[test]
    fn same_as_the_full_pass() {
        let names = [
            "Acme",
            "Acme Holdings",
            "Acme Holdings Ltd",
            "Holdings",
            "Blue Sky",
            "Sky Blue Trust",
            "Zeta",
        ];
        let mut dict = Dictionaries::default();
        for (i, n) in names.iter().enumerate() {
            dict.clients.push(Client {
                id: format!("C-{i}"),
                name: n.to_string(),
                aliases: vec![],
                domains: vec![],
                group: None,
            });
        }
        let m = NameMatcher::build(&dict).unwrap();
        let words = [
            "acme", "holdings", "ltd", "blue", "sky", "trust", "zeta", "acmex", "xacme", "of",
            "the", "skyblue",
        ];
        let mut seed = 7u64;
        let mut text = String::from(" ");
        for _ in 0..5000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(words[(seed >> 33) as usize % words.len()]);
            text.push(' ');
        }
        text.pop();
        let key = |h: &Hit| match h {
            Hit::Client(t, r) => (t.client, r.start, r.end),
            _ => unreachable!(),
        };
        let mut fast = Vec::new();
        m.find(&text, &mut fast);
        let mut full = Vec::new();
        m.find_at(
            m.ac.as_ref().unwrap(),
            &text,
            0..text.len(),
            false,
            &mut full,
        );
        let mut fast: Vec<_> = fast.iter().map(key).collect();
        let mut full: Vec<_> = full.iter().map(key).collect();
        fast.sort_unstable();
        full.sort_unstable();
        assert!(full.len() > 1000, "a dense text: {}", full.len());
        assert_eq!(fast, full);
    }
}
