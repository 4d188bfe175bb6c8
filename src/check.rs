//! The full decision for one message with no network: extract → detect →
//! policy. `matterwall check` prints the [`Verdict`]; the SMTP proxy acts on it.

use crate::config::Config;
use crate::detect::{Findings, Match};
use crate::engine::Engine;
use crate::extract::{self, Extraction, Flag};
use crate::policy::first_contact::{self, Contacts};
use crate::policy::recipients::{self, ExtraWaiver, Recipient};
use crate::policy::rules::{Action, FiredRule};
use crate::policy::{self, Facts, Modifiers};
use chrono::NaiveDate;
use mail_parser::{Address, MessageParser};
use serde::{Deserialize, Serialize};

/// The SMTP envelope: it, not the headers, decides authorisation.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// The reverse path (`MAIL FROM`); empty for the null sender.
    pub from: String,
    /// Every forward path (`RCPT TO`), in the order given.
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
    pub(crate) address: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    /// True when the sender is screened from a matter the message mentions (an ethical wall).
    pub screened: bool,
}

/// What `check` prints (DESIGN §5), and what the act stage acts on.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The greatest action among the enforced rules that fired (`pass` when none did).
    pub action: Action,
    /// The enforced rules that fired; `check` prints their names (DESIGN §5),
    /// the held record keeps them whole (see [`HeldVerdict`]).
    #[serde(serialize_with = "names")]
    pub rules: Vec<FiredRule>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "names")]
    /// Rules in `monitor` mode that would have fired: reported, never acted on.
    pub monitor: Vec<FiredRule>,
    /// Every client, matter and pattern found, with where it was found.
    pub matches: Vec<Match>,
    /// Each envelope recipient and whether it may see what the message mentions.
    pub recipients: Vec<Recipient>,
    /// Parts that could not be read; any of them makes the message uninspectable.
    pub uninspectable: Vec<Flag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) anomalies: Vec<Flag>,
    /// The sender, as checked against ethical walls.
    pub sender: Sender,
    #[serde(skip_serializing_if = "Modifiers::is_empty")]
    pub(crate) modifiers: Modifiers,
    /// Issue #18: a `split` rule held only some recipients; the others get
    /// the message now. Absent (and not printed) otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) split: Option<SplitVerdict>,
    /// Issue #18: said when a rule tests `first_contact` but no mail
    /// history was read (`matterwall check`): every domain counted as known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) first_contact: Option<&'static str>,
    pub(crate) size: usize,
    /// Ids of the clients mentioned, directly or through a matter, and the
    /// matter numbers: what the quarantine and the audit trail record
    /// instead of the words that matched.
    #[serde(skip)]
    pub(crate) clients: Vec<String>,
    #[serde(skip)]
    pub(crate) matters: Vec<String>,
}

/// A per-recipient split (issue #18), as `check` prints it: who is held,
/// who gets the message now, and what the rules decide for those alone
/// (`pass` or `encrypt`, with their rules and modifiers).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SplitVerdict {
    /// The held recipients, as `recipients` lists them.
    pub(crate) held: Vec<String>,
    /// The recipients who get the message now.
    pub(crate) released: Vec<String>,
    /// What the released recipients get.
    pub(crate) action: Action,
    /// The enforced rules that fired for the released recipients alone.
    #[serde(serialize_with = "names")]
    pub(crate) rules: Vec<FiredRule>,
    /// Their modifiers (headers, notices).
    #[serde(skip_serializing_if = "Modifiers::is_empty")]
    pub(crate) modifiers: Modifiers,
    /// Indices of the held recipients in the envelope.
    #[serde(skip)]
    pub(crate) held_at: Vec<usize>,
}

/// Fired rules as `check` prints them: by name.
fn names<S: serde::Serializer>(rules: &[FiredRule], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(rules.iter().map(|r| &r.name))
}

impl Verdict {
    /// The verdict for a message matterwall wrote itself and holds under
    /// `rule` (a report the next hop would not take): no scan, no matches.
    pub(crate) fn internal(rule: &str) -> Verdict {
        Verdict {
            action: Action::Hold,
            rules: vec![FiredRule {
                name: rule.to_string(),
                action: Action::Hold,
                mode: crate::policy::rules::Mode::Enforce,
                two_person: false,
                sender_release: false,
                delay_seconds: None,
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
            split: None,
            first_contact: None,
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
    pub(crate) fn first_with(&self, action: Action) -> Option<&FiredRule> {
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
    /// Issue #18: the clients mentioned, sealed, so that reviewer scope
    /// reads them from the seal and not only from the record's column.
    clients: &'a [String],
}

impl Verdict {
    /// The JSON a held record keeps (see [`HeldVerdict`] for reading it).
    pub(crate) fn held_json(&self) -> serde_json::Result<String> {
        let fired = self.rules.iter().chain(&self.monitor).collect();
        serde_json::to_string(&Sealed {
            verdict: self,
            fired,
            clients: &self.clients,
        })
    }
}

/// A held record's verdict, read back typed (what review shows).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct HeldVerdict {
    /// Every rule that fired, as it was then.
    #[serde(default)]
    pub(crate) fired: Vec<FiredRule>,
    #[serde(default)]
    pub(crate) matches: Vec<Match>,
    #[serde(default)]
    pub(crate) recipients: Vec<HeldRecipient>,
    #[serde(default)]
    pub(crate) uninspectable: Vec<Flag>,
    /// Issue #18: the message was split; these recipients got it at once.
    #[serde(default)]
    pub(crate) split: Option<HeldSplit>,
    /// Issue #18: the client ids mentioned, directly or through a matter;
    /// `None` in a record sealed before verdicts named them.
    #[serde(default)]
    pub(crate) clients: Option<Vec<String>>,
    /// The sender as the walls saw it.
    #[serde(default)]
    pub(crate) sender: HeldSender,
}

/// A held record's sender, read back: only whether a wall was involved.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct HeldSender {
    #[serde(default)]
    pub(crate) screened: bool,
}

/// A held record's split, read back: who got the message at once, and how.
#[derive(Debug, Deserialize)]
pub(crate) struct HeldSplit {
    /// The recipients who got the message at once.
    pub(crate) released: Vec<String>,
    /// How they got it: `pass` or `encrypt`.
    pub(crate) action: Action,
}

/// One recipient of a held message, as its verdict recorded it.
#[derive(Debug, Deserialize)]
pub(crate) struct HeldRecipient {
    pub(crate) address: String,
    pub(crate) status: crate::policy::recipients::RecipientStatus,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// Issue #18: `sender`, `firm` or `unchecked` when a first contact.
    #[serde(default)]
    pub(crate) first_contact: Option<String>,
}

impl HeldVerdict {
    /// Reads a sealed verdict; one that does not parse reads as empty (the
    /// page still shows the envelope and the message).
    pub(crate) fn parse(json: &str) -> HeldVerdict {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// Whether the sender may release this message themselves, read from
    /// the sealed verdict (a reload cannot widen it): see
    /// [`sender_may_release`]. A verdict that did not parse reads as no.
    pub(crate) fn sender_may_release(&self) -> bool {
        sender_may_release(&self.fired, !self.uninspectable.is_empty(), self.walled())
    }

    /// The undo-send delay this record was held for, read from the seal
    /// ([`delay`]); `None`: it waits for a person.
    pub(crate) fn delay(&self) -> Option<std::time::Duration> {
        delay(&self.fired, !self.uninspectable.is_empty(), self.walled())
    }

    fn walled(&self) -> bool {
        use crate::policy::recipients::RecipientStatus;
        self.sender.screened
            || self
                .recipients
                .iter()
                .any(|r| r.status == RecipientStatus::Screened)
    }
}

impl Verdict {
    /// [`sender_may_release`] for a verdict about to be held.
    pub(crate) fn sender_may_release(&self) -> bool {
        sender_may_release(&self.rules, !self.uninspectable.is_empty(), self.walled())
    }

    /// [`delay`] for a verdict about to be held.
    pub(crate) fn delay(&self) -> Option<std::time::Duration> {
        delay(&self.rules, !self.uninspectable.is_empty(), self.walled())
    }

    fn walled(&self) -> bool {
        self.sender.screened || self.recipients.iter().any(|r| r.flags.screened)
    }
}

/// Undo-send (issue #18): a held message goes by itself at its due time
/// only when every enforced rule that fired and does more than pass has a
/// delay (the longest counts), none asks for two reviewers, and no wall or
/// unreadable part is involved; otherwise it waits for a person.
fn delay(fired: &[FiredRule], unreadable: bool, walled: bool) -> Option<std::time::Duration> {
    use crate::policy::rules::Mode;
    if unreadable || walled {
        return None;
    }
    let acting = fired
        .iter()
        .filter(|r| r.mode == Mode::Enforce && r.action != Action::Pass);
    let mut longest = None;
    for r in acting {
        let seconds = r.delay_seconds.filter(|_| !r.two_person)?;
        longest = longest.max(Some(seconds));
    }
    longest.map(std::time::Duration::from_secs)
}

/// Sender release (issue #18, DESIGN §7): only when every enforced rule
/// that fired and does more than pass says `sender_release` (and none asks
/// for two reviewers), and never for a wall or for content nobody could
/// read, whatever the rules say. Monitor-mode rules decide nothing.
fn sender_may_release(fired: &[FiredRule], unreadable: bool, walled: bool) -> bool {
    use crate::policy::rules::Mode;
    let mut acting = fired
        .iter()
        .filter(|r| r.mode == Mode::Enforce && r.action != Action::Pass)
        .peekable();
    acting.peek().is_some()
        && acting.all(|r| r.sender_release && !r.two_person)
        && !unreadable
        && !walled
}

/// What `check` says when a rule tests `first_contact`: it reads no mail
/// history (no store, no network), so no domain is a first contact.
pub(crate) const FIRST_CONTACT_NOT_CHECKED: &str =
    "not checked: check reads no mail history, so every recipient domain counted as known";

/// Decides what to do with `raw`, sent with `envelope`, on `today`.
pub fn check(engine: &Engine, envelope: &Envelope, raw: &[u8], today: NaiveDate) -> Verdict {
    check_with(engine, envelope, raw, today, &[], &Contacts::NotChecked)
}

/// [`check`], with the waivers added in the review interface and what the
/// store knows of the recipients' domains (first contact).
pub(crate) fn check_with(
    engine: &Engine,
    envelope: &Envelope,
    raw: &[u8],
    today: NaiveDate,
    extra: &[ExtraWaiver],
    contacts: &Contacts,
) -> Verdict {
    let (cfg, policy) = (&engine.config, &engine.policy);
    let extraction = extract::extract(raw, &cfg.limits);
    let findings = engine.detector.scan(&cfg.dict, &extraction.segments);
    let mut rcpts: Vec<Recipient> = envelope
        .to
        .iter()
        .map(|to| recipients::classify(cfg, policy, to, &findings, today, extra))
        .collect();
    first_contact::mark(&mut rcpts, contacts);
    let sender_addr = crate::text::address::normalise_address(&envelope.from)
        .unwrap_or_else(|_| envelope.from.trim().to_lowercase());
    let sender = Sender {
        screened: recipients::is_screened(cfg, &sender_addr, &findings),
        address: sender_addr,
    };
    let facts = facts(cfg, &findings, &rcpts, &sender, &extraction, raw.len());
    let decision = policy::decide(cfg, policy, &facts, &mut rcpts);
    let split =
        policy::split(cfg, policy, &facts, &mut rcpts, &decision).map(|s| split_verdict(&rcpts, s));
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
        split,
        first_contact: (policy.uses_first_contact() && matches!(contacts, Contacts::NotChecked))
            .then_some(FIRST_CONTACT_NOT_CHECKED),
        size: raw.len(),
        clients,
        matters,
    }
}

fn split_verdict(rcpts: &[Recipient], s: policy::Split) -> SplitVerdict {
    let (held, released) = rcpts
        .iter()
        .enumerate()
        .partition::<Vec<_>, _>(|(i, _)| s.held.contains(i));
    let address =
        |v: Vec<(usize, &Recipient)>| v.into_iter().map(|(_, r)| r.address.clone()).collect();
    SplitVerdict {
        held: address(held),
        released: address(released),
        action: s.released.action,
        rules: s.released.rules,
        modifiers: s.released.modifiers,
        held_at: s.held,
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

#[cfg(test)]
mod tests {
    use super::sender_may_release;
    use crate::policy::rules::{Action, FiredRule, Mode};

    fn rule(action: Action, mode: Mode, sender_release: bool, two_person: bool) -> FiredRule {
        FiredRule {
            name: "r".into(),
            action,
            mode,
            two_person,
            sender_release,
            delay_seconds: None,
        }
    }

    #[test]
    fn sender_release_needs_every_acting_rule_and_no_wall_or_unreadable_part() {
        use Action::{Hold, Pass};
        use Mode::{Enforce, Monitor};
        let yes = rule(Hold, Enforce, true, false);
        let no = rule(Hold, Enforce, false, false);
        assert!(sender_may_release(std::slice::from_ref(&yes), false, false));
        assert!(!sender_may_release(&[], false, false), "nothing held it");
        assert!(!sender_may_release(&[yes.clone(), no], false, false));
        let watching = rule(Hold, Monitor, false, false);
        let passing = rule(Pass, Enforce, false, false);
        assert!(sender_may_release(
            &[yes.clone(), watching, passing],
            false,
            false
        ));
        let four_eyes = rule(Hold, Enforce, true, true);
        assert!(!sender_may_release(&[four_eyes], false, false));
        assert!(
            !sender_may_release(std::slice::from_ref(&yes), true, false),
            "unreadable"
        );
        assert!(!sender_may_release(&[yes], false, true), "walled");
    }

    #[test]
    fn a_delay_needs_every_acting_rule_and_no_wall_or_unreadable_part() {
        use super::delay;
        use std::time::Duration;
        let delayed = |s| FiredRule {
            delay_seconds: Some(s),
            ..rule(Action::Hold, Mode::Enforce, false, false)
        };
        let (short, long) = (delayed(60), delayed(300));
        let both = [short.clone(), long];
        assert_eq!(delay(&both, false, false), Some(Duration::from_secs(300)));
        assert_eq!(delay(&[], false, false), None, "nothing held it");
        let held = rule(Action::Hold, Mode::Enforce, false, false);
        assert_eq!(delay(&[short.clone(), held], false, false), None);
        let encrypt = rule(Action::Encrypt, Mode::Enforce, false, false);
        assert_eq!(
            delay(&[short.clone(), encrypt], false, false),
            None,
            "needs encrypting"
        );
        let watching = rule(Action::Hold, Mode::Monitor, false, false);
        let minute = Some(Duration::from_secs(60));
        assert_eq!(delay(&[short.clone(), watching], false, false), minute);
        assert_eq!(
            delay(std::slice::from_ref(&short), true, false),
            None,
            "unreadable"
        );
        assert_eq!(
            delay(std::slice::from_ref(&short), false, true),
            None,
            "walled"
        );
    }
}
