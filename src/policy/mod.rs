//! Policy: the facts of one message (what it mentions, who receives it, what
//! could not be inspected) in, a verdict out. Rules come from the TOML; when
//! several fire, the most severe action wins and every fired rule is reported.
//! `mode = "monitor"` rules are reported separately and change nothing.

pub(crate) mod first_contact;
pub(crate) mod lookalike;
pub(crate) mod recipients;
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
    /// The compiled rules, in file order.
    pub rules: Vec<Rule>,
    pub(crate) lookalike: LookalikeIndex,
    /// `[policy] delay_external_minutes`, in seconds: undo-send for mail
    /// that would pass to an external recipient (issue #18).
    pub(crate) delay_external: Option<u64>,
    /// `[policy] first_contact_days`: how long a written-to domain stays
    /// known (issue #18).
    pub(crate) first_contact_days: u32,
}

impl Policy {
    /// True when some rule tests `first_contact`: only then does the act
    /// stage ask the store before deciding.
    pub(crate) fn uses_first_contact(&self) -> bool {
        self.rules.iter().any(|r| r.when.first_contact.is_some())
    }

    /// `[policy] first_contact_days` as the store's lookups and prune take
    /// it: how long a domain written to stays known (issue #18).
    pub fn first_contact_max_age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.first_contact_days) * 86_400)
    }

    /// Internal, a client's, or a co-counsel's domain (or a subdomain of one).
    pub(crate) fn is_known_domain(&self, domain: &str) -> bool {
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
pub(crate) struct Facts {
    pub(crate) mentions: bool,
    pub(crate) client_ids: BTreeSet<String>,
    pub(crate) matter_numbers: BTreeSet<String>,
    pub(crate) detectors: BTreeSet<String>,
    pub(crate) match_count: usize,
    pub(crate) recipients: Vec<Flags>,
    /// The sender or a recipient is walled off from a mentioned matter.
    pub(crate) screened: bool,
    pub(crate) sender: String,
    pub(crate) uninspectable: bool,
    /// Declared content types, detected kinds and file extensions.
    pub(crate) attachment_types: BTreeSet<String>,
    pub(crate) size: u64,
}

/// What the rules add besides the action.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Modifiers {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) add_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) notices: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) notify_sender: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) notify_compliance: bool,
}

impl Modifiers {
    pub(crate) fn is_empty(&self) -> bool {
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
pub(crate) struct Decision {
    pub(crate) action: Action,
    /// The enforced rules that fired, in rule order.
    pub(crate) rules: Vec<FiredRule>,
    /// Monitor-mode rules that fired: reported, they change nothing.
    pub(crate) monitor: Vec<FiredRule>,
    pub(crate) modifiers: Modifiers,
}

/// Applies every rule to `facts`; an `encrypt` rule that fires looks up each
/// external recipient's key and falls back when one has none.
pub(crate) fn decide(
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
    delay_external(policy, facts, &mut d);
    d
}

/// The name a delay by `[policy] delay_external_minutes` is recorded under.
pub(crate) const DELAY_EXTERNAL: &str = "delay-external";

/// Undo-send for everything (`[policy] delay_external_minutes`): mail that
/// would pass and has an external recipient is held with a due time, as
/// if a rule `delay-external` had fired. Only mail that would pass: what is
/// encrypted, held or rejected is decided already.
fn delay_external(policy: &Policy, facts: &Facts, d: &mut Decision) {
    let Some(seconds) = policy.delay_external else {
        return;
    };
    if d.action != Action::Pass || !facts.recipients.iter().any(|r| r.external) {
        return;
    }
    d.action = Action::Hold;
    d.rules.push(FiredRule {
        name: DELAY_EXTERNAL.into(),
        action: Action::Hold,
        mode: Mode::Enforce,
        two_person: false,
        sender_release: false,
        delay_seconds: Some(seconds),
    });
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

/// A per-recipient split (issue #18, `split = true` on a hold rule): the
/// recipients to hold, and the decision for the others, who get the
/// message now.
#[derive(Debug, Clone)]
pub(crate) struct Split {
    /// Indices into the recipients of those held.
    pub(crate) held: Vec<usize>,
    /// What the rules decide for the others alone: `pass` or `encrypt`.
    pub(crate) released: Decision,
}

/// Splits a held message by recipient when every rule that holds it is a
/// `split` rule. A split rule holds the recipients it fires for on its own
/// (the rule tested against each recipient alone); any other rule that
/// holds or rejects (a wall, uninspectable content, an encrypt fallback)
/// holds the message whole. The others are decided again as if they were
/// the only recipients: that must pass or encrypt, else no split. `None`:
/// no split (also when every recipient, or none on its own, is held).
pub(crate) fn split(
    cfg: &Config,
    policy: &Policy,
    facts: &Facts,
    recipients: &mut [Recipient],
    d: &Decision,
) -> Option<Split> {
    let splitting: Vec<&Rule> = policy
        .rules
        .iter()
        .filter(|r| r.split && r.mode == Mode::Enforce && r.fires(facts))
        .collect();
    if d.action != Action::Hold || splitting.is_empty() {
        return None;
    }
    let others = Policy {
        rules: policy.rules.iter().filter(|r| !r.split).cloned().collect(),
        lookalike: LookalikeIndex::default(),
        delay_external: None,
        first_contact_days: policy.first_contact_days,
    };
    let mut scratch = recipients.to_vec();
    if decide(cfg, &others, facts, &mut scratch).action >= Action::Hold {
        return None;
    }
    let held: Vec<usize> = (0..facts.recipients.len())
        .filter(|&i| {
            let alone = facts_for(facts, &[i]);
            splitting.iter().any(|r| r.fires(&alone))
        })
        .collect();
    if held.is_empty() || held.len() == facts.recipients.len() {
        return None;
    }
    let rest: Vec<usize> = (0..facts.recipients.len())
        .filter(|i| !held.contains(i))
        .collect();
    let mut subset: Vec<Recipient> = rest.iter().map(|&i| recipients[i].clone()).collect();
    let released = decide(cfg, policy, &facts_for(facts, &rest), &mut subset);
    if released.action >= Action::Hold {
        return None;
    }
    // The keys an encrypt decision found belong to the released recipients.
    for (&i, r) in rest.iter().zip(subset) {
        recipients[i] = r;
    }
    Some(Split { held, released })
}

/// `facts` with only the recipients at `keep`.
fn facts_for(facts: &Facts, keep: &[usize]) -> Facts {
    Facts {
        recipients: keep.iter().map(|&i| facts.recipients[i]).collect(),
        client_ids: facts.client_ids.clone(),
        matter_numbers: facts.matter_numbers.clone(),
        detectors: facts.detectors.clone(),
        attachment_types: facts.attachment_types.clone(),
        sender: facts.sender.clone(),
        ..*facts
    }
}
