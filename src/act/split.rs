//! Per-recipient split (issue #18): a `split` rule held only some
//! recipients, so the others get the message now and only the held ones
//! wait for a reviewer. One DATA transaction, one reply:
//!
//! 1. the split's audit entry (`split-release`: who gets it now, and how)
//!    is committed before anything leaves;
//! 2. the released recipients' part goes through the encrypt path (a
//!    plain copy, or the encrypted copies the rules ask for), which
//!    remembers each copy the next hop accepted ([`super::encrypt`]);
//! 3. then the held recipients' part is committed to the quarantine, with
//!    the verdict's audit entry and the notices (which name only them).
//!
//! `250` only when both are done. The outside domains the released part
//! reached are learned for first contact (in the background). A next hop that defers → `451`, nothing
//! held; a store that fails after the relay → `451`, and the client's
//! retry finds the copies already accepted and does not send them again.
//! A next hop that refuses every released recipient for good: its `5xx`
//! answers the whole message and nothing is held (the sender's bounce
//! says so; they send it again).

use super::{encrypt, first_contact, hold, notify, tempfail, Tempfail};
use crate::check::Verdict;
use crate::config::Config;
use crate::smtp::codec::Reply;
use crate::smtp::session::Transaction;
use crate::store::{AuditEvent, Handle};
use serde_json::json;

/// The message's two parts: each with its own envelope and verdict.
struct Parts {
    released: (Transaction, Verdict),
    held: (Transaction, Verdict),
}

/// Relays the released part, then holds the rest; the reply to DATA.
/// `event` is the whole message's verdict entry, written with the hold.
pub(crate) async fn split(
    cfg: &Config,
    store: Handle,
    id: &str,
    tx: &Transaction,
    verdict: &Verdict,
    raw: Vec<u8>,
    event: AuditEvent,
) -> Reply {
    let Some(parts) = parts(tx, verdict) else {
        tracing::error!(id, "envelope and split disagree on the recipients");
        return tempfail(Tempfail::Internal);
    };
    let (rtx, rverdict) = &parts.released;
    if let Err(e) = store.append(released_event(id, rtx, rverdict)).await {
        tracing::error!(id, error = %e, "cannot write the audit trail; answering 4xx");
        return super::store_tempfail(&e);
    }
    let sent = encrypt::encrypt(cfg, store.clone(), id, rtx, rverdict, raw.clone()).await;
    if sent.reply.code != 250 {
        tracing::warn!(id, reply = %sent.reply, "the released part was not relayed; nothing held");
        return sent.reply;
    }
    // The released part went, whatever becomes of the held one.
    first_contact::learn_later(cfg, &store, id, &rtx.from, (&rtx.rcpts, &sent.refused));
    let (htx, hverdict) = &parts.held;
    let link = super::sender_link::for_hold(cfg, &store, id, &htx.from, hverdict);
    let notices = notify::on_hold(cfg, id, &htx.from, &htx.rcpts, hverdict, link.as_deref());
    let held = hold::hold(store, id, htx, hverdict, raw, (event, notices)).await;
    if held.code != 250 {
        return held;
    }
    Reply::new(
        250,
        format!(
            "2.0.0 {id}: relayed to {} recipient(s), {} held as {id}",
            rtx.rcpts.len(),
            htx.rcpts.len()
        ),
    )
}

/// Splits envelope and verdict by the verdict's held recipients.
fn parts(tx: &Transaction, verdict: &Verdict) -> Option<Parts> {
    let split = verdict.split.as_ref()?;
    if tx.rcpts.len() != verdict.recipients.len() {
        return None;
    }
    let mut released = (tx.clone(), verdict.clone());
    let mut held = (tx.clone(), verdict.clone());
    for part in [&mut released, &mut held] {
        part.0.rcpts.clear();
        part.1.recipients.clear();
    }
    for (i, (rcpt, r)) in tx.rcpts.iter().zip(&verdict.recipients).enumerate() {
        let part = if split.held_at.contains(&i) {
            &mut held
        } else {
            &mut released
        };
        part.0.rcpts.push(rcpt.clone());
        part.1.recipients.push(r.clone());
    }
    let v = &mut released.1;
    v.action = split.action;
    v.rules = split.rules.clone();
    v.modifiers = split.modifiers.clone();
    v.split = None;
    Some(Parts { released, held })
}

/// What leaves now, audited before it leaves: ids and addresses, never
/// content.
fn released_event(id: &str, tx: &Transaction, v: &Verdict) -> AuditEvent {
    let details = json!({
        "message": id,
        "from": tx.from,
        "to": tx.rcpts,
        "action": v.action.as_str(),
        "rules": v.rule_names(),
    });
    AuditEvent::new("smtp", "split-release", details)
}
