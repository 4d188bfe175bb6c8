//! Rules: named conditions over the facts of one message, each with an action.
//! Compiled from the TOML once per load; evaluating one is a handful of
//! comparisons.

use super::recipients::STATUSES;
use super::Facts;
use crate::config::raw::RawRule;
use serde::Serialize;

/// Actions by severity: when several rules fire, the greatest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pass,
    Encrypt,
    Hold,
    Reject,
}

impl Action {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "pass" => Action::Pass,
            "encrypt" => Action::Encrypt,
            "hold" => Action::Hold,
            "reject" => Action::Reject,
            other => {
                return Err(format!(
                    "unknown action {other:?} (pass, encrypt, hold, reject)"
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Encrypt => "encrypt",
            Action::Hold => "hold",
            Action::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub action: Action,
    /// For `encrypt`: what happens to a recipient without a usable key.
    pub fallback: Action,
    pub monitor: bool,
    pub when: When,
    pub add_header: Option<(String, String)>,
    pub notice: Option<String>,
    pub notify_sender: bool,
    pub notify_compliance: bool,
}

#[derive(Debug, Clone, Default)]
pub struct When {
    pub mentions: Option<bool>,
    pub client: Vec<String>,
    pub matter: Vec<String>,
    pub detector: Vec<String>,
    pub min_matches: Option<usize>,
    pub any_recipient: Option<String>,
    pub all_recipients: Option<String>,
    pub screened: Option<bool>,
    pub sender: Vec<String>,
    pub uninspectable: Option<bool>,
    pub attachment_type: Vec<String>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
}

impl Rule {
    /// Compiles one `[[rule]]`, checking names against what was loaded.
    pub fn compile(
        raw: &RawRule,
        global_monitor: bool,
        detectors: &[&str],
    ) -> Result<Rule, String> {
        let action = Action::parse(&raw.action)?;
        let fallback = match raw.fallback.as_deref() {
            None => Action::Hold,
            Some(_) if action != Action::Encrypt => {
                return Err("`fallback` only applies to encrypt".into())
            }
            Some(f) => Action::parse(f)?,
        };
        if fallback == Action::Encrypt {
            return Err("the fallback of encrypt cannot be encrypt".into());
        }
        let monitor = match raw.mode.as_deref() {
            None => global_monitor,
            Some("monitor") => true,
            Some("enforce") => false,
            Some(other) => return Err(format!("unknown mode {other:?} (enforce, monitor)")),
        };
        let w = &raw.when;
        for status in [&w.any_recipient, &w.all_recipients].into_iter().flatten() {
            if !STATUSES.contains(&status.as_str()) {
                return Err(format!(
                    "unknown recipient status {status:?} ({})",
                    STATUSES.join(", ")
                ));
            }
        }
        for d in &w.detector {
            if !detectors.contains(&d.as_str()) {
                return Err(format!(
                    "unknown detector {d:?}: declare it in a [[detector]] table"
                ));
            }
        }
        let add_header = match &raw.add_header {
            None => None,
            Some(h) => {
                let (name, value) = h
                    .split_once(':')
                    .ok_or("add_header must be `Name: value`")?;
                let name = name.trim();
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                    return Err(format!("bad header name {name:?}"));
                }
                if value.chars().any(|c| c.is_control()) {
                    return Err(
                        "add_header's value must be one line, without control characters".into(),
                    );
                }
                Some((name.to_string(), value.trim().to_string()))
            }
        };
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect();
        Ok(Rule {
            name: raw.name.clone(),
            action,
            fallback,
            monitor,
            when: When {
                mentions: w.mentions,
                client: w.client.clone(),
                matter: w.matter.clone(),
                detector: w.detector.clone(),
                min_matches: w.min_matches,
                any_recipient: w.any_recipient.clone(),
                all_recipients: w.all_recipients.clone(),
                screened: w.screened,
                sender: lower(&w.sender),
                uninspectable: w.uninspectable,
                attachment_type: lower(&w.attachment_type),
                min_size: w.min_size,
                max_size: w.max_size,
            },
            add_header,
            notice: raw.notice.clone(),
            notify_sender: raw.notify_sender,
            notify_compliance: raw.notify_compliance,
        })
    }

    /// True when every condition holds for `facts`.
    pub fn fires(&self, facts: &Facts) -> bool {
        let w = &self.when;
        let eq = |want: Option<bool>, have: bool| want.is_none_or(|w| w == have);
        eq(w.mentions, facts.mentions)
            && (w.client.is_empty() || w.client.iter().any(|c| facts.client_ids.contains(c)))
            && (w.matter.is_empty() || w.matter.iter().any(|m| facts.matter_numbers.contains(m)))
            && (w.detector.is_empty() || w.detector.iter().any(|d| facts.detectors.contains(d)))
            && w.min_matches.is_none_or(|n| facts.match_count >= n)
            && w.any_recipient
                .as_ref()
                .is_none_or(|s| facts.recipients.iter().any(|r| r.has(s)))
            && w.all_recipients
                .as_ref()
                .is_none_or(|s| facts.recipients.iter().all(|r| r.has(s)))
            && eq(w.screened, facts.screened)
            && (w.sender.is_empty() || w.sender.iter().any(|s| sender_matches(s, &facts.sender)))
            && eq(w.uninspectable, facts.uninspectable)
            && (w.attachment_type.is_empty()
                || w.attachment_type
                    .iter()
                    .any(|t| facts.attachment_types.contains(t)))
            && w.min_size.is_none_or(|n| facts.size >= n)
            && w.max_size.is_none_or(|n| facts.size <= n)
    }
}

/// A sender pattern is an address or a domain (subdomains included).
fn sender_matches(pattern: &str, sender: &str) -> bool {
    if pattern.contains('@') {
        return pattern == sender;
    }
    sender
        .rsplit_once('@')
        .is_some_and(|(_, d)| super::address::within(d, pattern))
}
