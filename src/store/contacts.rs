//! First contact (issue #18): which outside domains a sender, and the firm
//! as a whole, has sent passed mail to, and when last. A rule condition
//! `first_contact` tests it; the act stage learns from every message that
//! actually went to the next hop.
//!
//! **Bounded.** One row per (sender, domain) pair, plus one firm-wide row
//! per domain (sender [`FIRM`]), each with its last-seen time; a pair not
//! seen for `[policy] first_contact_days` no longer counts and is deleted
//! by the hourly retention job. So the table holds at most the pairs of
//! the window, however long the firm runs. The primary key
//! `(sender, domain)` makes a lookup a point query per pair, and an index
//! on `last_seen` makes the prune a range delete.
//!
//! Nothing here is message content: addresses and domains only, as the
//! audit trail already records them.

use super::StoreError;
use std::collections::BTreeSet;
use std::time::Duration;

/// The `sender` of the firm-wide rows: never an address (it has no `@`).
pub const FIRM: &str = "*";

/// Of the domains asked about, those already written to within the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownContacts {
    /// Domains this sender sent passed mail to.
    pub sender: BTreeSet<String>,
    /// Domains anyone in the firm sent passed mail to.
    pub firm: BTreeSet<String>,
}

/// The first-contact pairs. Times are the backend's clock (the database's
/// on PostgreSQL, one for every node).
pub trait Contacts: Send + Sync {
    /// Records that passed mail from `sender` (a normalised address) went
    /// to each of `domains` now, for the sender and firm-wide.
    fn learn_contacts(&self, sender: &str, domains: &[String]) -> Result<(), StoreError>;
    /// Of `domains`, those written to less than `max_age` ago by `sender`
    /// and by anyone.
    fn known_contacts(
        &self,
        sender: &str,
        domains: &[String],
        max_age: Duration,
    ) -> Result<KnownContacts, StoreError>;
    /// Deletes the pairs last seen `max_age` ago or earlier; how many.
    fn prune_contacts(&self, max_age: Duration) -> Result<u64, StoreError>;
}

/// The rows one learning writes, sorted (so concurrent writers on
/// PostgreSQL lock them in one order) and without duplicates: each domain
/// for the sender and for the firm.
pub(crate) fn rows(sender: &str, domains: &[String]) -> Vec<(String, String)> {
    let mut rows = BTreeSet::new();
    for d in domains {
        rows.insert((sender.to_string(), d.clone()));
        rows.insert((FIRM.to_string(), d.clone()));
    }
    rows.into_iter().collect()
}

/// Splits the rows a lookup found into the sender's and the firm's.
pub(crate) fn known(found: impl IntoIterator<Item = (String, String)>) -> KnownContacts {
    let mut k = KnownContacts::default();
    for (sender, domain) in found {
        if sender == FIRM {
            k.firm.insert(domain);
        } else {
            k.sender.insert(domain);
        }
    }
    k
}

/// An empty sender (the null reverse path, a bounce) or the firm marker
/// is never learned: neither is a person who wrote to someone.
pub(crate) fn learnable(sender: &str) -> bool {
    sender.contains('@')
}
