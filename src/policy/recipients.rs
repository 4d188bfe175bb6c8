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

use super::address::{self, within, Address};
use crate::config::dictionary::{ClientIdx, MatterIdx};
use crate::config::Config;
use crate::detect::Findings;
use chrono::NaiveDate;
use serde::Serialize;

/// What is known about one envelope recipient.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recipient {
    pub address: String,
    /// The one word a reviewer reads first: `internal`, `external`,
    /// `authorised`, `unauthorised`, `lookalike`, `screened`, `unparseable`.
    pub status: &'static str,
    #[serde(skip)]
    pub parsed: Option<Address>,
    #[serde(skip)]
    pub flags: Flags,
    /// Why, when the status needs explaining.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `smime` or `openpgp` when an encrypt decision found a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<&'static str>,
    /// That key, for the encrypt action.
    #[serde(skip)]
    pub key: Option<std::sync::Arc<crate::config::certs::RecipientKey>>,
}

/// Every fact about a recipient that a rule can test.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub internal: bool,
    pub external: bool,
    pub authorised: bool,
    pub unauthorised: bool,
    pub lookalike: bool,
    pub screened: bool,
    pub unparseable: bool,
}

impl Flags {
    pub fn has(&self, status: &str) -> bool {
        match status {
            "internal" => self.internal,
            "external" => self.external,
            "authorised" => self.authorised,
            "unauthorised" => self.unauthorised,
            "lookalike" => self.lookalike,
            "screened" => self.screened,
            "unparseable" => self.unparseable,
            _ => false,
        }
    }
}

pub const STATUSES: &[&str] = &[
    "internal",
    "external",
    "authorised",
    "unauthorised",
    "lookalike",
    "screened",
    "unparseable",
];

/// A waiver added in the review interface: by client id, not index, so it
/// survives a dictionary reload that renumbers clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraWaiver {
    pub client_id: String,
    /// A normalised address, or a domain (subdomains included).
    pub recipient: String,
    pub expires: NaiveDate,
}

/// Classifies one envelope recipient against what the message mentions.
pub fn classify(
    cfg: &Config,
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
            r.status = "unparseable";
            r.reason = Some(format!("address not accepted: {why}"));
            return r;
        }
    };
    r.address = addr.to_string();
    let f = &mut r.flags;
    f.internal = cfg.is_internal(&addr.domain);
    f.external = !f.internal;
    if f.external && !cfg.is_known_domain(&addr.domain) {
        if let Some(known) = cfg.lookalike.imitates(&addr.domain) {
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

fn status_of(f: &Flags) -> &'static str {
    if f.screened {
        "screened"
    } else if f.lookalike {
        "lookalike"
    } else if f.unauthorised {
        "unauthorised"
    } else if f.internal {
        "internal"
    } else if f.authorised {
        "authorised"
    } else {
        "external"
    }
}

/// True when `address` is walled off from a mentioned matter.
pub fn is_screened(cfg: &Config, address: &str, found: &Findings) -> bool {
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
