//! The full decision for one message with no network: extract → detect →
//! policy. `matterwall check` prints the [`Verdict`]; the SMTP proxy acts on it.

use crate::config::Config;
use crate::detect::{Findings, Match};
use crate::engine::Engine;
use crate::extract::{self, Extraction, Flag};
use crate::policy::recipients::{self, ExtraWaiver, Recipient};
use crate::policy::rules::{Action, FiredRule};
use crate::policy::{self, Facts, Modifiers};
use chrono::NaiveDate;
use mail_parser::{Address, MessageParser};
use serde::{Deserialize, Serialize};

/// The SMTP envelope: it, not the headers, decides authorisation.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub from: String,
    pub to: Vec<String>,
}

impl Envelope {
    /// The envelope a message's own headers imply (From; To, Cc and Bcc), for
    /// `check` when none is given.
    pub fn from_headers(raw: &[u8]) -> Envelope {
        let Some(msg) = MessageParser::default().parse_headers(raw) else {
            return Envelope::default();
        };
        let first = |a: Option<&Address>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address.as_deref())
                .map(str::to_string)
        };
        let mut to = Vec::new();
        for a in [msg.to(), msg.cc(), msg.bcc()].into_iter().flatten() {
            to.extend(
                a.iter()
                    .filter_map(|a| a.address.as_deref())
                    .map(str::to_string),
            );
        }
        Envelope {
            from: first(msg.from()).unwrap_or_default(),
            to,
        }
    }
}

impl Envelope {
    /// The given sender and recipients, each falling back to what the
    /// message's headers say when not given (what `check` does by default).
    pub fn or_headers(raw: &[u8], from: Option<String>, to: Vec<String>) -> Envelope {
        let headers = Envelope::from_headers(raw);
        Envelope {
            from: from.unwrap_or(headers.from),
            to: if to.is_empty() { headers.to } else { to },
        }
    }
}

/// The sender, as checked against ethical walls.
#[derive(Debug, Clone, Serialize)]
pub struct Sender {
    pub address: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub screened: bool,
}

/// What `check` prints (DESIGN §5), and what the act stage acts on.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub action: Action,
    /// The enforced rules that fired; `check` prints their names (DESIGN §5),
    /// the held record keeps them whole (see [`HeldVerdict`]).
    #[serde(serialize_with = "names")]
    pub rules: Vec<FiredRule>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "names")]
    pub monitor: Vec<FiredRule>,
    pub matches: Vec<Match>,
    pub recipients: Vec<Recipient>,
    pub uninspectable: Vec<Flag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Flag>,
    pub sender: Sender,
    #[serde(skip_serializing_if = "Modifiers::is_empty")]
    pub modifiers: Modifiers,
    pub size: usize,
    /// Ids of the clients mentioned, directly or through a matter, and the
    /// matter numbers: what the quarantine and the audit trail record
    /// instead of the words that matched.
    #[serde(skip)]
    pub clients: Vec<String>,
    #[serde(skip)]
    pub matters: Vec<String>,
}

/// Fired rules as `check` prints them: by name.
fn names<S: serde::Serializer>(rules: &[FiredRule], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(rules.iter().map(|r| &r.name))
}

impl Verdict {
    /// The verdict for a message matterwall wrote itself and holds under
    /// `rule` (a report the next hop would not take): no scan, no matches.
    pub fn internal(rule: &str) -> Verdict {
        Verdict {
            action: Action::Hold,
            rules: vec![FiredRule {
                name: rule.to_string(),
                action: Action::Hold,
                mode: crate::policy::rules::Mode::Enforce,
            }],
            monitor: Vec::new(),
            matches: Vec::new(),
            recipients: Vec::new(),
            uninspectable: Vec::new(),
            anomalies: Vec::new(),
            sender: Sender {
                address: String::new(),
                screened: false,
            },
            modifiers: Modifiers::default(),
            size: 0,
            clients: Vec::new(),
            matters: Vec::new(),
        }
    }
}

impl Verdict {
    /// The names of the enforced rules that fired, in order.
    pub fn rule_names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).collect()
    }

    /// The first enforced rule that fired with `action`.
    pub fn first_with(&self, action: Action) -> Option<&FiredRule> {
        self.rules.iter().find(|r| r.action == action)
    }
}

/// A verdict as a held record seals it: what `check` prints, plus every
/// fired rule whole (`fired`: name, action, mode), so a reviewer is shown
/// the rule and action that decided even after a reload renamed or changed
/// the rule.
#[derive(Serialize)]
struct Sealed<'a> {
    #[serde(flatten)]
    verdict: &'a Verdict,
    fired: Vec<&'a FiredRule>,
}

impl Verdict {
    /// The JSON a held record keeps (see [`HeldVerdict`] for reading it).
    pub fn held_json(&self) -> serde_json::Result<String> {
        let fired = self.rules.iter().chain(&self.monitor).collect();
        serde_json::to_string(&Sealed {
            verdict: self,
            fired,
        })
    }
}

/// A held record's verdict, read back typed (what review shows).
#[derive(Debug, Default, Deserialize)]
pub struct HeldVerdict {
    /// Every rule that fired, as it was then.
    #[serde(default)]
    pub fired: Vec<FiredRule>,
    #[serde(default)]
    pub matches: Vec<Match>,
    #[serde(default)]
    pub recipients: Vec<HeldRecipient>,
    #[serde(default)]
    pub uninspectable: Vec<Flag>,
}

/// One recipient of a held message, as its verdict recorded it.
#[derive(Debug, Deserialize)]
pub struct HeldRecipient {
    pub address: String,
    pub status: crate::policy::recipients::RecipientStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

impl HeldVerdict {
    /// Reads a sealed verdict; one that does not parse reads as empty (the
    /// page still shows the envelope and the message).
    pub fn parse(json: &str) -> HeldVerdict {
        serde_json::from_str(json).unwrap_or_default()
    }
}

/// Decides what to do with `raw`, sent with `envelope`, on `today`.
pub fn check(engine: &Engine, envelope: &Envelope, raw: &[u8], today: NaiveDate) -> Verdict {
    check_with(engine, envelope, raw, today, &[])
}

/// [`check`], with the waivers added in the review interface too.
pub fn check_with(
    engine: &Engine,
    envelope: &Envelope,
    raw: &[u8],
    today: NaiveDate,
    extra: &[ExtraWaiver],
) -> Verdict {
    let (cfg, policy) = (&engine.config, &engine.policy);
    let extraction = extract::extract(raw, &cfg.limits);
    let findings = engine.detector.scan(&cfg.dict, &extraction.segments);
    let mut rcpts: Vec<Recipient> = envelope
        .to
        .iter()
        .map(|to| recipients::classify(cfg, policy, to, &findings, today, extra))
        .collect();
    let sender_addr = crate::text::address::normalise_address(&envelope.from)
        .unwrap_or_else(|_| envelope.from.trim().to_lowercase());
    let sender = Sender {
        screened: recipients::is_screened(cfg, &sender_addr, &findings),
        address: sender_addr,
    };
    let facts = facts(cfg, &findings, &rcpts, &sender, &extraction, raw.len());
    let decision = policy::decide(cfg, policy, &facts, &mut rcpts);
    let clients = facts.client_ids.iter().cloned().collect();
    let matters = facts.matter_numbers.iter().cloned().collect();
    Verdict {
        action: decision.action,
        rules: decision.rules,
        monitor: decision.monitor,
        matches: findings.matches,
        recipients: rcpts,
        uninspectable: extraction.uninspectable,
        anomalies: extraction.anomalies,
        sender,
        modifiers: decision.modifiers,
        size: raw.len(),
        clients,
        matters,
    }
}

fn facts(
    cfg: &Config,
    f: &Findings,
    rcpts: &[Recipient],
    sender: &Sender,
    x: &Extraction,
    size: usize,
) -> Facts {
    let mut attachment_types = std::collections::BTreeSet::new();
    for a in &x.attachments {
        attachment_types.insert(a.content_type.clone());
        attachment_types.insert(a.detected.clone());
        if let Some((_, ext)) = a.location.rsplit_once('.') {
            attachment_types.insert(ext.to_ascii_lowercase());
        }
    }
    Facts {
        mentions: f.mentions(),
        client_ids: f
            .clients
            .iter()
            .map(|&c| cfg.dict.clients[c as usize].id.clone())
            .collect(),
        matter_numbers: f
            .matters
            .iter()
            .map(|&m| cfg.dict.matters.number(m).to_string())
            .collect(),
        detectors: f.detectors.clone(),
        match_count: f.matches.len(),
        recipients: rcpts.iter().map(|r| r.flags).collect(),
        screened: sender.screened || rcpts.iter().any(|r| r.flags.screened),
        sender: sender.address.clone(),
        uninspectable: !x.uninspectable.is_empty(),
        attachment_types,
        size: size as u64,
    }
}

/// Today's date where the server runs, for waiver expiry.
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
