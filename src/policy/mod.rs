//! Policy: the facts of one message (what it mentions, who receives it, what
//! could not be inspected) in, a verdict out. Rules come from the TOML; when
//! several fire, the most severe action wins and every fired rule is reported.
//! `mode = "monitor"` rules are reported separately and change nothing.

pub mod lookalike;
pub mod recipients;
pub mod rules;

use crate::config::certs::Lookup;
use crate::config::Config;
use lookalike::LookalikeIndex;
use recipients::{Flags, Recipient};
use rules::{Action, FiredRule, Mode, Rule};
use serde::Serialize;
use std::collections::BTreeSet;

/// What the policy stage builds from one configuration: the compiled rules,
/// in file order, and the index of known domains that look-alikes imitate.
#[derive(Debug)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub lookalike: LookalikeIndex,
}

impl Policy {
    /// Internal, a client's, or a co-counsel's domain (or a subdomain of one).
    pub fn is_known_domain(&self, domain: &str) -> bool {
        let mut d = domain;
        loop {
            if self.lookalike.is_known(d) {
                return true;
            }
            match d.split_once('.') {
                Some((_, parent)) if parent.contains('.') => d = parent,
                _ => return false,
            }
        }
    }
}

/// Everything a rule can test.
#[derive(Debug, Default)]
pub struct Facts {
    pub mentions: bool,
    pub client_ids: BTreeSet<String>,
    pub matter_numbers: BTreeSet<String>,
    pub detectors: BTreeSet<String>,
    pub match_count: usize,
    pub recipients: Vec<Flags>,
    /// The sender or a recipient is walled off from a mentioned matter.
    pub screened: bool,
    pub sender: String,
    pub uninspectable: bool,
    /// Declared content types, detected kinds and file extensions.
    pub attachment_types: BTreeSet<String>,
    pub size: u64,
}

/// What the rules add besides the action.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Modifiers {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notify_sender: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notify_compliance: bool,
}

impl Modifiers {
    pub fn is_empty(&self) -> bool {
        *self == Modifiers::default()
    }

    fn add(&mut self, rule: &Rule) {
        self.add_headers.extend(rule.add_header.clone());
        self.notices.extend(rule.notice.clone());
        self.notify_sender |= rule.notify_sender;
        self.notify_compliance |= rule.notify_compliance;
    }
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub action: Action,
    /// The enforced rules that fired, in rule order.
    pub rules: Vec<FiredRule>,
    /// Monitor-mode rules that fired: reported, they change nothing.
    pub monitor: Vec<FiredRule>,
    pub modifiers: Modifiers,
}

/// Applies every rule to `facts`; an `encrypt` rule that fires looks up each
/// external recipient's key and falls back when one has none.
pub fn decide(
    cfg: &Config,
    policy: &Policy,
    facts: &Facts,
    recipients: &mut [Recipient],
) -> Decision {
    let mut d = Decision {
        action: Action::Pass,
        rules: Vec::new(),
        monitor: Vec::new(),
        modifiers: Modifiers::default(),
    };
    for rule in &policy.rules {
        if !rule.fires(facts) {
            continue;
        }
        if rule.mode == Mode::Monitor {
            d.monitor.push(rule.fired());
            continue;
        }
        let action = match rule.action {
            Action::Encrypt => encrypt_or_fallback(cfg, rule, recipients),
            other => other,
        };
        d.action = d.action.max(action);
        d.rules.push(rule.fired());
        d.modifiers.add(rule);
    }
    d
}

/// Finds a usable key for every external recipient. Each one with a key
/// asks for `encrypt`; each one without asks for the rule's fallback, and
/// the most severe wins: with `fallback = "hold"` one keyless recipient
/// holds the message, with `fallback = "pass"` the keyless ones get it in
/// clear while the others still get encrypted copies.
fn encrypt_or_fallback(cfg: &Config, rule: &Rule, recipients: &mut [Recipient]) -> Action {
    let now = std::time::SystemTime::now();
    let mut action: Option<Action> = None;
    for r in recipients.iter_mut().filter(|r| r.flags.external) {
        let found = match r.parsed.as_ref() {
            Some(a) => cfg.certs.lookup(a, now),
            None => Lookup::Missing,
        };
        let wants = match found {
            Lookup::Key(key) => {
                r.encryption = Some(key.kind().as_str());
                r.key = Some(key);
                Action::Encrypt
            }
            Lookup::Unusable(why) => {
                r.reason
                    .get_or_insert_with(|| format!("no usable key for encryption: {why}"));
                rule.fallback
            }
            Lookup::Missing => {
                r.reason
                    .get_or_insert_with(|| "no certificate or key for encryption".into());
                rule.fallback
            }
        };
        action = Some(action.map_or(wants, |a| a.max(wants)));
    }
    action.unwrap_or(Action::Encrypt)
}
