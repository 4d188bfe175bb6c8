//! `--compare`: how policy B's verdict on a message differs from policy A's,
//! in the terms an administrator trialling a change needs — the action, the
//! rules that fired, and what made the difference (the matches one found and
//! the other did not, the recipients whose status changed).

use crate::check::Verdict;
use crate::policy::rules::Action;
use mail_parser::MessageParser;
use serde::Serialize;
use std::collections::BTreeSet;

/// A message whose verdicts differ.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Difference {
    pub(crate) subject: String,
    pub(crate) a: Side,
    pub(crate) b: Side,
    /// Matches found by only one of the two (`kind id "text"`).
    pub(crate) only_a: Vec<String>,
    pub(crate) only_b: Vec<String>,
    /// Recipients whose status changed: address, A's status, B's status.
    pub(crate) recipients: Vec<(String, String, String)>,
}

/// One policy's verdict, in short.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Side {
    pub(crate) action: Action,
    /// Enforced rules, then monitored ones marked `(monitor)`.
    pub(crate) rules: Vec<String>,
}

impl Side {
    fn of(v: &Verdict) -> Side {
        let monitor = v.monitor.iter().map(|r| format!("{} (monitor)", r.name));
        Side {
            action: v.action,
            rules: v
                .rules
                .iter()
                .map(|r| r.name.clone())
                .chain(monitor)
                .collect(),
        }
    }

    /// `hold [unauthorised-recipient]`, as the summary prints it.
    pub(crate) fn describe(&self) -> String {
        if self.rules.is_empty() {
            return self.action.as_str().to_string();
        }
        format!("{} [{}]", self.action.as_str(), self.rules.join(", "))
    }
}

/// How `b` differs from `a` on `raw`, or `None` when the action and the
/// fired rules are the same.
pub(crate) fn difference(raw: &[u8], a: &Verdict, b: &Verdict) -> Option<Difference> {
    let (sa, sb) = (Side::of(a), Side::of(b));
    if sa == sb {
        return None;
    }
    let (ma, mb) = (match_keys(a), match_keys(b));
    let recipients = a
        .recipients
        .iter()
        .zip(&b.recipients)
        .filter(|(x, y)| x.status != y.status)
        .map(|(x, y)| {
            let (from, to) = (x.status.as_str(), y.status.as_str());
            (x.address.clone(), from.to_string(), to.to_string())
        })
        .collect();
    Some(Difference {
        subject: subject(raw),
        a: sa,
        b: sb,
        only_a: ma.difference(&mb).cloned().collect(),
        only_b: mb.difference(&ma).cloned().collect(),
        recipients,
    })
}

fn match_keys(v: &Verdict) -> BTreeSet<String> {
    v.matches
        .iter()
        .map(|m| format!("{} {} {:?}", m.kind, m.id, m.text))
        .collect()
}

/// The message's Subject, decoded (empty when it has none).
pub(crate) fn subject(raw: &[u8]) -> String {
    MessageParser::default()
        .parse_headers(raw)
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}
