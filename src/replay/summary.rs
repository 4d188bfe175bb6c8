//! What a replay adds up to: messages by action and by rule, the most
//! frequent matches (with one example message each), uninspectable reasons,
//! the differences between two policies, and the rate. Built one judged
//! message at a time, so it holds counts, not messages.

use super::compare::Difference;
use super::run::Judged;
use crate::check::Verdict;
use crate::policy::rules::Action;
use crate::text::normalise::normalise;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};
use std::time::Duration;

/// Differences kept for the report; past this they are only counted (the
/// JSON lines carry every one).
pub(crate) const KEPT_DIFFERENCES: usize = 1000;
/// Unreadable messages listed by name; past this only counted.
const KEPT_UNREADABLE: usize = 50;

/// How often something was seen, and the first message it was seen in.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) count: u64,
    pub(crate) example: String,
}

/// A match as the summary groups it: kind, id, and the text normalised
/// (case and spacing folded), so `Harrowgate` and `HARROWGATE` count once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct MatchKey {
    pub(crate) kind: String,
    pub(crate) id: String,
    pub(crate) text: String,
}

/// One policy's counts.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) by_action: BTreeMap<Action, u64>,
    /// Messages each rule fired in; monitored rules end in ` (monitor)`.
    pub(crate) by_rule: BTreeMap<String, u64>,
    /// Messages each match was found in.
    pub(crate) matches: HashMap<MatchKey, Seen>,
    pub(crate) uninspectable: BTreeMap<String, Seen>,
}

impl Tally {
    fn add(&mut self, label: &str, v: &Verdict) {
        *self.by_action.entry(v.action).or_default() += 1;
        for r in &v.rules {
            *self.by_rule.entry(r.name.clone()).or_default() += 1;
        }
        for r in &v.monitor {
            *self
                .by_rule
                .entry(format!("{} (monitor)", r.name))
                .or_default() += 1;
        }
        let keys: BTreeSet<MatchKey> = v
            .matches
            .iter()
            .map(|m| key(&m.kind, &m.id, &m.text))
            .collect();
        for k in keys {
            seen(self.matches.entry(k).or_insert_with(|| first(label)));
        }
        let reasons: BTreeSet<&str> = v.uninspectable.iter().map(|f| f.reason.as_str()).collect();
        for r in reasons {
            let entry = self.uninspectable.entry(r.to_string());
            seen(entry.or_insert_with(|| first(label)));
        }
    }

    /// The `n` most frequent matches, most messages first.
    pub(crate) fn top_matches(&self, n: usize) -> Vec<(&MatchKey, &Seen)> {
        let mut all: Vec<_> = self.matches.iter().collect();
        all.sort_by(|x, y| y.1.count.cmp(&x.1.count).then_with(|| x.0.cmp(y.0)));
        all.truncate(n);
        all
    }

    /// Messages each rule fired in, most first.
    pub(crate) fn rules_by_count(&self) -> Vec<(&String, u64)> {
        let mut all: Vec<_> = self.by_rule.iter().map(|(r, &c)| (r, c)).collect();
        all.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(y.0)));
        all
    }
}

/// A match's summary key (see [`MatchKey`]). A pattern detector's match
/// is grouped by the detector alone: its text is a card or social security
/// number, different in every message and personal data besides.
pub(crate) fn key(kind: &str, id: &str, text: &str) -> MatchKey {
    let text = match kind {
        "client" | "matter" => normalise(text, None).trim().to_string(),
        _ => String::new(),
    };
    MatchKey {
        kind: kind.to_string(),
        id: id.to_string(),
        text,
    }
}

fn first(label: &str) -> Seen {
    Seen {
        count: 0,
        example: label.to_string(),
    }
}

fn seen(s: &mut Seen) {
    s.count += 1;
}

/// The whole replay so far.
#[derive(Debug, Default)]
pub struct Summary {
    /// Messages judged.
    pub messages: u64,
    /// Their size in bytes, together.
    pub bytes: u64,
    pub(crate) a: Tally,
    pub(crate) b: Option<Tally>,
    /// Messages that could not be read: how many, and the first ones.
    pub unreadable: u64,
    pub(crate) unreadable_examples: Vec<(String, String)>,
    /// Messages whose verdicts differ: how many, the first ones, and how
    /// many went from one action to another.
    pub(crate) differing: u64,
    pub(crate) differences: Vec<(String, Difference)>,
    pub(crate) transitions: BTreeMap<(Action, Action), u64>,
    /// Wall time so far.
    pub elapsed: Duration,
    /// Stopped by Ctrl-C before the end of the archive.
    pub interrupted: bool,
}

impl Summary {
    /// A summary for one policy, or two when `compare`.
    pub fn new(compare: bool) -> Summary {
        Summary {
            b: compare.then(Tally::default),
            ..Summary::default()
        }
    }

    /// Counts one judged message in.
    pub fn add(&mut self, j: &Judged) {
        let outcome = match &j.outcome {
            Ok(o) => o,
            Err(why) => {
                self.unreadable += 1;
                if self.unreadable_examples.len() < KEPT_UNREADABLE {
                    self.unreadable_examples
                        .push((j.label.clone(), why.clone()));
                }
                return;
            }
        };
        self.messages += 1;
        self.bytes += j.size as u64;
        self.a.add(&j.label, &outcome.a);
        if let (Some(t), Some(v)) = (self.b.as_mut(), outcome.b.as_ref()) {
            t.add(&j.label, v);
        }
        if let Some(d) = &outcome.difference {
            self.differing += 1;
            *self
                .transitions
                .entry((d.a.action, d.b.action))
                .or_default() += 1;
            if self.differences.len() < KEPT_DIFFERENCES {
                self.differences.push((j.label.clone(), d.clone()));
            }
        }
    }

    pub(crate) fn messages_per_second(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The summary as text (what `replay` prints at the end).
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        super::text::write(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn names_group_by_their_words_and_detectors_by_name_alone() {
        let a = key("client", "C-1", "HARROWGATE\n  Shipping");
        assert_eq!(a, key("client", "C-1", "harrowgate shipping"));
        assert_eq!(a.text, "harrowgate shipping");
        let ssn = key("us-ssn", "us-ssn", "078-05-1120");
        assert_eq!(ssn, key("us-ssn", "us-ssn", "219-09-9999"));
        assert_eq!(ssn.text, "");
    }
}
