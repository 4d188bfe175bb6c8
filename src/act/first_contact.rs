//! First contact on the mail path (issue #18): the store is asked, before
//! the scan, which recipient domains the sender and the firm already wrote
//! to; and once mail has actually gone to the next hop (pass, encrypt, the
//! released part of a split, a reviewer's release), the outside domains
//! the next hop accepted are learned.
//!
//! Learning never holds up a reply: on the SMTP path it is spawned after
//! the next hop's answer is known, and its failure is only logged and
//! counted ([`Handle::learn_contacts`]). A lookup that fails counts every
//! outside domain as a first contact (`Contacts::Unavailable`).

use crate::config::Config;
use crate::engine::Engine;
use crate::policy::first_contact::Contacts;
use crate::store::Handle;
use crate::text::address;

/// The outside domains of `rcpts`, normalised as the policy sees them,
/// without duplicates; addresses that do not parse have none.
pub(crate) fn outside_domains<'a>(
    cfg: &Config,
    rcpts: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    let mut domains: Vec<String> = rcpts
        .into_iter()
        .filter_map(|r| address::parse(r).ok())
        .map(|a| a.domain)
        .filter(|d| !cfg.is_internal(d))
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

/// The sender as the store keys it; `None` for the null sender and
/// anything that does not parse (nothing is learned for those).
fn sender_key(from: &str) -> Option<String> {
    address::normalise_address(from).ok()
}

/// What the store knows of the recipients' domains, when a rule asks.
pub(crate) async fn lookup(
    engine: &Engine,
    store: &Handle,
    id: &str,
    from: &str,
    rcpts: &[String],
) -> Contacts {
    let policy = &engine.policy;
    if !policy.uses_first_contact() {
        return Contacts::NotChecked;
    }
    let domains = outside_domains(&engine.config, rcpts);
    let sender = sender_key(from);
    let key = sender.clone().unwrap_or_default();
    let max_age = policy.first_contact_max_age();
    match store
        .run(move |st| st.known_contacts(&key, &domains, max_age))
        .await
    {
        // The null sender (a bounce), or one that does not parse, has no
        // history of its own: what the firm wrote to counts as its.
        Ok(mut known) if sender.is_none() => {
            known.sender = known.firm.clone();
            Contacts::Known(known)
        }
        Ok(known) => Contacts::Known(known),
        Err(e) => {
            tracing::error!(id, error = %e, "cannot look up first contacts; every outside domain counts as new");
            Contacts::Unavailable
        }
    }
}

/// The sender and the outside domains of `rcpts` the next hop took (all
/// but `refused`); `None` when the sender is not learned.
fn taken(cfg: &Config, from: &str, (rcpts, refused): Sent<'_>) -> Option<(String, Vec<String>)> {
    let sender = sender_key(from)?;
    let taken = rcpts.iter().filter(|r| !refused.contains(r));
    Some((sender, outside_domains(cfg, taken)))
}

/// The envelope recipients of what went, and those the next hop refused.
pub(crate) type Sent<'a> = (&'a [String], &'a [String]);

/// Learns the outside domains the next hop took, for `from`; awaited (a
/// release, which no SMTP client waits on).
pub(crate) async fn learn(cfg: &Config, store: &Handle, id: &str, from: &str, sent: Sent<'_>) {
    if let Some((sender, domains)) = taken(cfg, from, sent) {
        store.learn_contacts(id, sender, domains).await;
    }
}

/// [`learn`] in the background: the reply to DATA does not wait for it.
pub(crate) fn learn_later(cfg: &Config, store: &Handle, id: &str, from: &str, sent: Sent<'_>) {
    let Some((sender, domains)) = taken(cfg, from, sent).filter(|(_, d)| !d.is_empty()) else {
        return;
    };
    let (store, id) = (store.clone(), id.to_string());
    tokio::spawn(async move { store.learn_contacts(&id, sender, domains).await });
}
