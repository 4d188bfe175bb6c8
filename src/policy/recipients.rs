//! Who may receive what (DESIGN §3). A recipient is authorised for a client
//! when its domain is internal, one of the client's domains (or a subdomain),
//! a co-counsel domain of a mentioned matter of that client, or covered by an
//! active waiver. It must be authorised for every client mentioned, and for
//! every matter mentioned (co-counsel on one matter is not authorised for the
//! client's other matters).
//!
//! Waivers come from `waivers.csv` (in the config) and from the review
//! interface ([`ExtraWaiver`], kept in the store and passed in at decision
//! time, so one added by an admin counts for the very next message).

use crate::config::dictionary::{ClientIdx, MatterIdx};
use crate::config::Config;
use crate::detect::Findings;
use crate::text::address::{self, within, Address};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The one word a reviewer reads first about a recipient; rules test these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientStatus {
    Internal,
    #[default]
    External,
    Authorised,
    Unauthorised,
    Lookalike,
    Screened,
    Unparseable,
}

impl RecipientStatus {
    const ALL: [RecipientStatus; 7] = [
        RecipientStatus::Internal,
        RecipientStatus::External,
        RecipientStatus::Authorised,
        RecipientStatus::Unauthorised,
        RecipientStatus::Lookalike,
        RecipientStatus::Screened,
        RecipientStatus::Unparseable,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RecipientStatus::Internal => "internal",
            RecipientStatus::External => "external",
            RecipientStatus::Authorised => "authorised",
            RecipientStatus::Unauthorised => "unauthorised",
            RecipientStatus::Lookalike => "lookalike",
            RecipientStatus::Screened => "screened",
            RecipientStatus::Unparseable => "unparseable",
        }
    }

    /// A status named in a rule's `any_recipient` / `all_recipients`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Self::ALL.iter().map(|x| x.as_str()).collect();
                format!("unknown recipient status {s:?} ({})", all.join(", "))
            })
    }
}

/// What is known about one envelope recipient.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recipient {
    pub address: String,
    /// The one word a reviewer reads first.
    pub status: RecipientStatus,
    #[serde(skip)]
    pub(crate) parsed: Option<Address>,
    #[serde(skip)]
    pub(crate) flags: Flags,
    /// Why, when the status needs explaining.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// `smime` or `openpgp` when an encrypt decision found a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) encryption: Option<&'static str>,
    /// That key, for the encrypt action.
    #[serde(skip)]
    pub(crate) key: Option<std::sync::Arc<crate::config::certs::RecipientKey>>,
    /// Issue #18: a first contact, and whose: `sender` (new to the
    /// sender, known to the firm), `firm` (new to everyone), `unchecked`
    /// (the store could not say; counted as first contact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) first_contact: Option<&'static str>,
}

/// Every fact about a recipient that a rule can test.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    pub(crate) internal: bool,
    pub(crate) external: bool,
    pub(crate) authorised: bool,
    pub(crate) unauthorised: bool,
    pub(crate) lookalike: bool,
    pub(crate) screened: bool,
    pub(crate) unparseable: bool,
    /// The sender never sent passed mail to this domain (issue #18).
    pub(crate) first_contact: bool,
    /// Nobody in the firm did.
    pub(crate) first_contact_firm: bool,
}

impl Flags {
    pub(crate) fn has(&self, status: RecipientStatus) -> bool {
        match status {
            RecipientStatus::Internal => self.internal,
            RecipientStatus::External => self.external,
            RecipientStatus::Authorised => self.authorised,
            RecipientStatus::Unauthorised => self.unauthorised,
            RecipientStatus::Lookalike => self.lookalike,
            RecipientStatus::Screened => self.screened,
            RecipientStatus::Unparseable => self.unparseable,
        }
    }
}

/// A status equals its name as `check` prints it.
impl PartialEq<&str> for RecipientStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A waiver added in the review interface: by client id, not index, so it
/// survives a dictionary reload that renumbers clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtraWaiver {
    pub(crate) client_id: String,
    /// A normalised address, or a domain (subdomains included).
    pub(crate) recipient: String,
    pub(crate) expires: NaiveDate,
}

/// Classifies one envelope recipient against what the message mentions.
pub(crate) fn classify(
    cfg: &Config,
    policy: &super::Policy,
    raw: &str,
    found: &Findings,
    today: NaiveDate,
    extra: &[ExtraWaiver],
) -> Recipient {
    let mut r = Recipient {
        address: raw.to_string(),
        ..Default::default()
    };
    let addr = match address::parse(raw) {
        Ok(a) => a,
        Err(why) => {
            r.flags = Flags {
                external: true,
                unauthorised: true,
                unparseable: true,
                ..Default::default()
            };
            r.status = RecipientStatus::Unparseable;
            r.reason = Some(format!("address not accepted: {why}"));
            return r;
        }
    };
    r.address = addr.to_string();
    let f = &mut r.flags;
    f.internal = cfg.is_internal(&addr.domain);
    f.external = !f.internal;
    if f.external && !policy.is_known_domain(&addr.domain) {
        if let Some(known) = policy.lookalike.imitates(&addr.domain) {
            f.lookalike = true;
            r.reason = Some(format!("imitates {known}"));
        }
    }
    f.screened = is_screened(cfg, &r.address, found);
    if found.mentions() {
        let missing = unauthorised_for(cfg, &addr, found, today, extra);
        f.authorised = missing.is_none();
        f.unauthorised = missing.is_some();
        if let (Some(what), None) = (missing, &r.reason) {
            r.reason = Some(format!("not authorised for {what}"));
        }
    }
    r.status = status_of(f);
    r.parsed = Some(addr);
    r
}

fn status_of(f: &Flags) -> RecipientStatus {
    if f.screened {
        RecipientStatus::Screened
    } else if f.lookalike {
        RecipientStatus::Lookalike
    } else if f.unauthorised {
        RecipientStatus::Unauthorised
    } else if f.internal {
        RecipientStatus::Internal
    } else if f.authorised {
        RecipientStatus::Authorised
    } else {
        RecipientStatus::External
    }
}

/// True when `address` is walled off from a mentioned matter.
pub(crate) fn is_screened(cfg: &Config, address: &str, found: &Findings) -> bool {
    found
        .matters
        .iter()
        .any(|&m| cfg.dict.matters.screened(m).iter().any(|s| s == address))
}

/// The first mentioned client or matter `addr` may not receive, by id.
fn unauthorised_for(
    cfg: &Config,
    addr: &Address,
    found: &Findings,
    today: NaiveDate,
    extra: &[ExtraWaiver],
) -> Option<String> {
    if cfg.is_internal(&addr.domain) {
        return None;
    }
    for &c in &found.clients {
        let via_matter = found
            .matters
            .iter()
            .any(|&m| cfg.dict.matters.client(m) == c && cocounsel(cfg, m, &addr.domain));
        if !via_matter && !client_side(cfg, c, addr, today, extra) {
            return Some(cfg.dict.clients[c as usize].id.clone());
        }
    }
    for &m in &found.matters {
        let c = cfg.dict.matters.client(m);
        if !cocounsel(cfg, m, &addr.domain) && !client_side(cfg, c, addr, today, extra) {
            return Some(cfg.dict.matters.number(m).to_string());
        }
    }
    None
}

/// The client's own domains, or an active waiver for this recipient.
fn client_side(
    cfg: &Config,
    c: ClientIdx,
    addr: &Address,
    today: NaiveDate,
    extra: &[ExtraWaiver],
) -> bool {
    let client = &cfg.dict.clients[c as usize];
    if client.domains.iter().any(|d| within(&addr.domain, d)) {
        return true;
    }
    let full = addr.to_string();
    let covers = |recipient: &str| {
        recipient == full || (!recipient.contains('@') && within(&addr.domain, recipient))
    };
    let from_file = cfg
        .dict
        .waivers
        .iter()
        .any(|w| w.client == c && w.expires >= today && covers(&w.recipient));
    from_file
        || extra.iter().any(|w| {
            w.expires >= today
                && cfg.dict.client_by_id.get(&w.client_id) == Some(&c)
                && covers(&w.recipient)
        })
}

fn cocounsel(cfg: &Config, m: MatterIdx, domain: &str) -> bool {
    cfg.dict
        .matters
        .cocounsel_domains(m)
        .iter()
        .any(|d| within(domain, d))
}
