//! Detection: text segments in, matches out. Every matcher is built once per
//! config load ([`Detector::build`]) and shared read-only; [`Detector::scan`]
//! does no I/O.
//!
//! Each segment is normalised once; the automaton for names, the matter-number
//! index and custom pattern detectors each read the normalised text once; the
//! built-in detectors read the layout text, where separators, line breaks and
//! case survive. Only when something matched is the segment normalised again
//! with an offset map: to check that a matter number keeps its shape as
//! written, and to show the reviewer the original words.

pub(crate) mod builtin;
pub(crate) mod layout;
pub mod matter;
pub mod names;
pub mod pattern;
pub(crate) mod written;

use crate::config::dictionary::{ClientIdx, Dictionaries, MatterIdx};
use crate::extract::Segment;
use crate::text::normalise::normalise;
use names::{NameMatcher, NameTarget};
use pattern::PatternDetector;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;

/// A raw hit in normalised text.
#[derive(Debug, Clone)]
pub enum Hit {
    /// A client's name or alias; the range is in the normalised text.
    Client(NameTarget, Range<usize>),
    /// A matter number; the range is in the normalised text.
    Matter(MatterIdx, Range<usize>),
    /// A configured pattern detector (by index); the range is in the normalised text.
    Pattern(usize, Range<usize>),
    /// A built-in detector's hit; its range is in the segment's original
    /// text, not the normalised one.
    Builtin(usize, Range<usize>),
}

/// One reported match: what, where, and the words as written.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Match {
    /// `client`, `matter`, or the pattern detector's name.
    pub kind: String,
    /// The client id, the matter number, or the detector's name.
    pub id: String,
    /// The matched words as they appear in the message.
    pub text: String,
    /// Where in the message, as extraction names it (`body`, `attachment[2]/word/document.xml`…).
    pub location: String,
    /// A short stretch of text around the match, for the reviewer.
    pub(crate) snippet: String,
    /// True for a weak alias (counted only because it was corroborated).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) weak: bool,
}

/// What a message mentions.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) matches: Vec<Match>,
    /// Clients mentioned, directly or through one of their matters.
    pub(crate) clients: BTreeSet<ClientIdx>,
    pub(crate) matters: BTreeSet<MatterIdx>,
    /// Names of the pattern detectors that fired.
    pub(crate) detectors: BTreeSet<String>,
}

impl Findings {
    pub(crate) fn mentions(&self) -> bool {
        !self.clients.is_empty() || !self.matters.is_empty()
    }
}

#[derive(Debug)]
/// Every matcher built from one configuration (names, matter numbers, patterns, built-ins), shared read-only by all sessions.
pub struct Detector {
    names: NameMatcher,
    matters: matter::MatterIndex,
    patterns: Vec<PatternDetector>,
    /// The custom detectors' regexes in one pass over the normalised text,
    /// the built-ins' in one pass over the layout text: only those that can
    /// match run alone.
    on_norm: PatternSet,
    on_layout: PatternSet,
}

/// Some of the pattern detectors, as one `RegexSet`.
#[derive(Debug)]
struct PatternSet {
    set: regex::RegexSet,
    /// Index in `Detector::patterns` of each regex of the set.
    which: Vec<usize>,
}

impl PatternSet {
    fn build(patterns: &[PatternDetector], layout: bool) -> Result<Self, String> {
        let which: Vec<usize> = (0..patterns.len())
            .filter(|&i| patterns[i].reads_layout() == layout)
            .collect();
        let set = regex::RegexSetBuilder::new(which.iter().map(|&i| patterns[i].pattern()))
            .size_limit(8 << 20)
            .build()
            .map_err(|e| format!("cannot combine the pattern detectors: {e}"))?;
        Ok(PatternSet { set, which })
    }

    /// Indexes of the detectors whose regex matches somewhere in `text`.
    fn matching(&self, text: &str) -> Vec<usize> {
        if self.which.is_empty() {
            return Vec::new();
        }
        self.set
            .matches(text)
            .iter()
            .map(|k| self.which[k])
            .collect()
    }
}

impl Detector {
    pub(crate) fn build(
        dict: &Dictionaries,
        patterns: Vec<PatternDetector>,
    ) -> Result<Self, String> {
        let on_norm = PatternSet::build(&patterns, false)?;
        let on_layout = PatternSet::build(&patterns, true)?;
        // The automaton is the slow part; the matter index builds beside it.
        let (names, matters) = std::thread::scope(|s| {
            let matters = s.spawn(|| matter::MatterIndex::build(&dict.matters));
            (NameMatcher::build(dict), matters.join())
        });
        let matters = matters.map_err(|_| "building the matter index failed".to_string())?;
        Ok(Detector {
            names: names?,
            matters,
            patterns,
            on_norm,
            on_layout,
        })
    }

    /// Heap bytes of the matchers (for the benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.names.heap_bytes() + self.matters.heap_bytes()
    }

    /// Raw hits in one text and its normalised form (public for the
    /// benchmark). Matter hits are candidates until [`written::keeps_shape`]
    /// has seen how they are written.
    pub fn hits(&self, original: &str, norm: &str, out: &mut Vec<Hit>) {
        self.names.find(norm, out);
        self.matters.find(norm, out);
        if self.patterns.is_empty() {
            return;
        }
        for i in self.on_norm.matching(norm) {
            self.patterns[i].find(norm, |r| out.push(Hit::Pattern(i, r)));
        }
        if self.on_layout.which.is_empty() {
            return;
        }
        let layout = layout::Layout::of(original);
        let (mut which, mut ranges) = (Vec::new(), Vec::new());
        for i in self.on_layout.matching(&layout.text) {
            self.patterns[i].find(&layout.text, |r| {
                which.push(i);
                ranges.push(r);
            });
        }
        if !ranges.is_empty() {
            layout.original_ranges(&mut ranges);
        }
        out.extend(
            which
                .into_iter()
                .zip(ranges)
                .map(|(i, r)| Hit::Builtin(i, r)),
        );
    }

    /// Scans every segment and returns what the message mentions.
    pub(crate) fn scan(&self, dict: &Dictionaries, segments: &[Segment]) -> Findings {
        let mut candidates: Vec<(Match, Hit)> = Vec::new();
        // One match per (kind, id, location); a strong hit replaces a weak one.
        let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
        let mut hits = Vec::new();
        for seg in segments {
            hits.clear();
            let norm = normalise(&seg.text, None);
            self.hits(&seg.text, &norm, &mut hits);
            if hits.is_empty() {
                continue;
            }
            let mut map = Vec::with_capacity(norm.len());
            normalise(&seg.text, Some(&mut map));
            hits.retain(|h| match h {
                Hit::Matter(m, r) => {
                    written::keeps_shape(dict.matters.number(*m), &seg.text, &norm, &map, r)
                }
                _ => true,
            });
            for hit in hits.drain(..) {
                let m = self.describe(dict, &hit, seg, &map);
                match seen.entry((m.kind.clone(), m.id.clone(), m.location.clone())) {
                    Entry::Vacant(v) => {
                        v.insert(candidates.len());
                        candidates.push((m, hit));
                    }
                    Entry::Occupied(o) if candidates[*o.get()].0.weak && !m.weak => {
                        candidates[*o.get()] = (m, hit);
                    }
                    Entry::Occupied(_) => {}
                }
            }
        }
        self.findings(dict, candidates)
    }

    fn describe(&self, dict: &Dictionaries, hit: &Hit, seg: &Segment, map: &[u32]) -> Match {
        let (kind, id, weak) = match hit {
            Hit::Client(t, _) => (
                "client".to_string(),
                dict.clients[t.client as usize].id.clone(),
                t.weak,
            ),
            Hit::Matter(m, _) => (
                "matter".to_string(),
                dict.matters.number(*m).to_string(),
                false,
            ),
            Hit::Pattern(i, _) | Hit::Builtin(i, _) => (
                self.patterns[*i].name.clone(),
                self.patterns[*i].name.clone(),
                false,
            ),
        };
        let (text, snippet) = match hit {
            Hit::Client(_, r) | Hit::Matter(_, r) | Hit::Pattern(_, r) => {
                original_words(&seg.text, map, r)
            }
            Hit::Builtin(_, r) => words_at(&seg.text, r.clone()),
        };
        Match {
            kind,
            id,
            text,
            location: seg.location.clone(),
            snippet,
            weak,
        }
    }

    /// Drops weak aliases that nothing strong corroborates, and collects the
    /// clients and matters mentioned.
    fn findings(&self, dict: &Dictionaries, candidates: Vec<(Match, Hit)>) -> Findings {
        let mut f = Findings::default();
        let mut strong: HashSet<ClientIdx> = HashSet::new();
        for (_, hit) in &candidates {
            match hit {
                Hit::Client(t, _) if !t.weak => {
                    strong.insert(t.client);
                }
                Hit::Matter(m, _) => {
                    strong.insert(dict.matters.client(*m));
                }
                _ => {}
            }
        }
        for (m, hit) in candidates {
            match hit {
                Hit::Client(t, _) if t.weak && !strong.contains(&t.client) => continue,
                Hit::Client(t, _) => {
                    f.clients.insert(t.client);
                }
                Hit::Matter(mi, _) => {
                    f.matters.insert(mi);
                    f.clients.insert(dict.matters.client(mi));
                }
                Hit::Pattern(i, _) | Hit::Builtin(i, _) => {
                    f.detectors.insert(self.patterns[i].name.clone());
                }
            }
            f.matches.push(m);
        }
        f
    }
}

/// The original words behind a normalised range, and a snippet around them.
fn original_words(original: &str, map: &[u32], range: &Range<usize>) -> (String, String) {
    let start = map[range.start] as usize;
    let last = map[range.end - 1] as usize;
    let end = last + original[last..].chars().next().map_or(0, char::len_utf8);
    words_at(original, start..end)
}

/// The original words in `range`, and a snippet around them.
fn words_at(original: &str, range: Range<usize>) -> (String, String) {
    let (start, end) = (range.start, range.end);
    let text = original[start..end].to_string();
    let from = floor_char(original, start.saturating_sub(60));
    let to = floor_char(original, (end + 60).min(original.len()));
    let snippet: String = original[from..to]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (text, snippet)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
