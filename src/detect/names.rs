//! Client names and aliases, found with one Aho-Corasick automaton over the
//! normalised text, on word boundaries.
//!
//! `MatchKind::Standard` with overlapping search reports every occurrence of
//! every pattern, so a longer name that fails its boundary check cannot hide a
//! shorter one that passes (leftmost-longest would skip past it). The automaton
//! is the contiguous NFA: at 100,000+ patterns the DFA costs gigabytes.

use super::Hit;
use crate::config::dictionary::{ClientIdx, Dictionaries};
use crate::extract::normalise::normalise;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::collections::HashMap;

/// What one pattern stands for: a client, through its name or an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameTarget {
    pub client: ClientIdx,
    pub weak: bool,
}

#[derive(Debug)]
pub struct NameMatcher {
    ac: Option<AhoCorasick>,
    /// Per pattern, the first client it names.
    targets: Vec<NameTarget>,
    /// Patterns shared by several clients (two clients with the alias `ACME`).
    shared: HashMap<u32, Vec<NameTarget>>,
}

impl NameMatcher {
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
                let norm = norm.trim();
                if norm.is_empty() {
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
        })
    }

    pub fn heap_bytes(&self) -> usize {
        self.ac.as_ref().map_or(0, AhoCorasick::memory_usage) + self.targets.capacity() * 8
    }

    /// Finds every client name or alias in normalised `text`.
    pub fn find(&self, text: &str, out: &mut Vec<Hit>) {
        let Some(ac) = &self.ac else { return };
        for m in ac.find_overlapping_iter(text) {
            if !on_word_boundaries(text, m.start(), m.end()) {
                continue;
            }
            let p = m.pattern().as_u32();
            out.push(Hit::Client(self.targets[p as usize], m.range()));
            for &t in self.shared.get(&p).into_iter().flatten() {
                out.push(Hit::Client(t, m.range()));
            }
        }
    }
}

/// `Acme` must not match inside `Acmeology`: the characters either side of the
/// match, when the match's own edge is a letter or digit, must not be one.
fn on_word_boundaries(text: &str, start: usize, end: usize) -> bool {
    let word = |c: char| c.is_alphanumeric();
    let first_inner = text[start..end].chars().next().is_some_and(word);
    let last_inner = text[start..end].chars().next_back().is_some_and(word);
    let before = text[..start].chars().next_back().is_some_and(word);
    let after = text[end..].chars().next().is_some_and(word);
    !((first_inner && before) || (last_inner && after))
}

#[cfg(test)]
mod tests {
    use super::on_word_boundaries;

    #[test]
    fn boundaries() {
        let t = "acmeology and acme, (acme) xacme";
        assert!(!on_word_boundaries(t, 0, 4));
        assert!(on_word_boundaries(t, 14, 18));
        assert!(on_word_boundaries(t, 21, 25));
        assert!(!on_word_boundaries(t, 28, 32));
    }
}
