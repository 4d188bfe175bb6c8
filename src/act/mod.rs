//! The act stage: the only code that answers DATA. It runs `check` on a
//! blocking thread, then passes (relay; the next hop's reply is ours),
//! holds (store commit, then 250), or rejects (550 with the rule name).
//! Every failure maps to a 4xx in one place ([`tempfail`]); a 250 is given
//! only after the next hop accepted or the store committed.
//!
//! One structured log line per message: id, envelope, action, rules, size,
//! timings, reply code. Never content, never matched text.
//!
//! Every verdict is in the audit trail before the message leaves: a held
//! message's entry is written in the same transaction as the message; for
//! the others the entry is committed before relaying or replying, and if it
//! cannot be written the client gets 451 (fail closed: nothing goes out
//! unaudited).

pub(crate) mod dsn;
mod encrypt;
mod first_contact;
mod hold;
pub(crate) mod modify;
pub mod notify;
mod pass;
pub mod release;
pub mod sender_link;
mod split;
pub mod undo;

use crate::check::{self, Envelope, Verdict};
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::policy::first_contact::Contacts;
use crate::policy::recipients::ExtraWaiver;
use crate::policy::rules::Action;
use crate::smtp::codec::Reply;
use crate::smtp::session::{Peer, Settle, Transaction};
use crate::store::{AuditEvent, Handle, StoreError};
use arc_swap::ArcSwap;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// Waivers added in the review interface, swapped whenever one changes.
pub(crate) type LiveWaivers = Arc<ArcSwap<Vec<ExtraWaiver>>>;

/// Shared by every session: the live engine (swapped on reload), the live
/// review-added waivers, the store.
pub(crate) struct Actor {
    pub(crate) engine: Arc<ArcSwap<Engine>>,
    pub(crate) waivers: LiveWaivers,
    pub(crate) store: Handle,
    pub(crate) metrics: Arc<Metrics>,
}

/// Why a message was not settled; always a 4xx to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tempfail {
    /// The next hop could not be reached or did not answer in time.
    NextHop,
    /// Anything of ours: a panic in the scan, a store failure.
    Internal,
    /// The store's disk is full.
    StorageFull,
}

pub(crate) fn tempfail(t: Tempfail) -> Reply {
    match t {
        Tempfail::NextHop => Reply::new(451, "4.4.1 next hop unavailable, try again later"),
        Tempfail::Internal => Reply::new(451, "4.3.0 internal error, try again later"),
        Tempfail::StorageFull => {
            Reply::new(452, "4.3.1 insufficient system storage, try again later")
        }
    }
}

/// The 4xx for a store that could not commit.
pub(crate) fn store_tempfail(e: &StoreError) -> Reply {
    if e.is_storage_full() {
        tempfail(Tempfail::StorageFull)
    } else {
        tempfail(Tempfail::Internal)
    }
}

/// What relaying one message (or one part of it) did: the reply to DATA,
/// and the recipients the next hop refused for good while it took the
/// others (the sender gets a delivery report for those; first contact
/// learns only the rest).
pub(crate) struct Relayed {
    pub(crate) reply: Reply,
    pub(crate) refused: Vec<String>,
}

impl From<Reply> for Relayed {
    fn from(reply: Reply) -> Self {
        Relayed {
            reply,
            refused: Vec::new(),
        }
    }
}

/// What the log line records about one message.
struct Record {
    id: String,
    action: &'static str,
    rules: Vec<String>,
    scan_ms: u64,
    relay_ms: Option<u64>,
}

impl Settle for Actor {
    async fn settle(&self, peer: &Peer, tx: Transaction, raw: Vec<u8>) -> Reply {
        let mut rec = Record {
            id: crate::store::new_id(),
            action: "tempfail",
            rules: Vec::new(),
            scan_ms: 0,
            relay_ms: None,
        };
        let size = raw.len();
        crate::failpoint::hit("data-received");
        let reply = self.decide_and_act(&mut rec, &tx, raw).await;
        // Any 4xx is a tempfail, whatever was decided: a hold that could
        // not be stored was not held, and the sender will try again.
        let outcome = if (400..500).contains(&reply.code) {
            "tempfail"
        } else {
            rec.action
        };
        self.metrics.message(outcome);
        tracing::info!(
            id = %rec.id,
            client = ?peer.addr,
            from = %tx.from,
            to = ?tx.rcpts,
            action = outcome,
            rules = ?rec.rules,
            size,
            scan_ms = rec.scan_ms,
            relay_ms = ?rec.relay_ms,
            reply = reply.code,
            "message"
        );
        reply
    }
}

impl Actor {
    async fn decide_and_act(&self, rec: &mut Record, tx: &Transaction, raw: Vec<u8>) -> Reply {
        let engine = self.engine.load_full();
        let cfg = &engine.config;
        let started = Instant::now();
        let waivers = self.waivers.load_full();
        let contacts = first_contact::lookup(&engine, &self.store, &rec.id, &tx.from, &tx.rcpts);
        let known = (waivers, contacts.await);
        let Some((verdict, raw)) = scan(engine.clone(), known, tx, raw).await else {
            tracing::error!(id = %rec.id, "the scan panicked; answering 451");
            return tempfail(Tempfail::Internal);
        };
        rec.scan_ms = started.elapsed().as_millis() as u64;
        crate::failpoint::hit("after-scan");
        self.metrics.scan(rec.scan_ms);
        rec.rules = verdict.rule_names();
        rec.action = verdict.action.as_str();
        let event = verdict_event(&rec.id, tx, &verdict);
        if !holds(verdict.action) {
            if let Err(reply) = self.audit(&rec.id, event.clone()).await {
                return reply;
            }
        }
        log_fallbacks(&rec.id, &verdict);
        match verdict.action {
            Action::Pass => {
                let started = Instant::now();
                let out = modify::apply(&raw, &verdict.modifiers);
                let sent = pass::relay(cfg, self.store.clone(), &rec.id, tx, &out).await;
                let ms = started.elapsed().as_millis() as u64;
                rec.relay_ms = Some(ms);
                self.metrics.relay(ms);
                self.learn(cfg, &rec.id, tx, sent)
            }
            Action::Hold if verdict.split.is_some() => {
                let started = Instant::now();
                let store = self.store.clone();
                let reply = split::split(cfg, store, &rec.id, tx, &verdict, raw, event).await;
                let ms = started.elapsed().as_millis() as u64;
                rec.relay_ms = Some(ms);
                self.metrics.relay(ms);
                reply
            }
            Action::Hold => {
                // The notices are queued in the hold's transaction.
                let link = sender_link::for_hold(cfg, &self.store, &rec.id, &tx.from, &verdict);
                let notices =
                    notify::on_hold(cfg, &rec.id, &tx.from, &tx.rcpts, &verdict, link.as_deref());
                let store = self.store.clone();
                hold::hold(store, &rec.id, tx, &verdict, raw, (event, notices)).await
            }
            Action::Encrypt => {
                let started = Instant::now();
                let store = self.store.clone();
                let sent = encrypt::encrypt(cfg, store, &rec.id, tx, &verdict, raw).await;
                let ms = started.elapsed().as_millis() as u64;
                rec.relay_ms = Some(ms);
                self.metrics.relay(ms);
                self.learn(cfg, &rec.id, tx, sent)
            }
            Action::Reject => reject(&verdict),
        }
    }
}

impl Actor {
    /// Once the next hop took the message: its outside domains are
    /// learned for first contact, in the background. The reply.
    fn learn(
        &self,
        cfg: &crate::config::Config,
        id: &str,
        tx: &Transaction,
        sent: Relayed,
    ) -> Reply {
        if sent.reply.is_positive() {
            let went = (tx.rcpts.as_slice(), sent.refused.as_slice());
            first_contact::learn_later(cfg, &self.store, id, &tx.from, went);
        }
        sent.reply
    }

    /// Commits one audit entry; else (logged) the 4xx to answer.
    async fn audit(&self, id: &str, event: AuditEvent) -> Result<(), Reply> {
        match self.store.append(event).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(id, error = %e, "cannot write the audit trail; answering 4xx");
                Err(store_tempfail(&e))
            }
        }
    }
}

/// Actions whose audit entry is written with the held message, in its
/// transaction; every other verdict is audited before anything is sent.
fn holds(action: Action) -> bool {
    action == Action::Hold
}

/// The verdict as the audit trail records it: ids, envelope, rule names,
/// what matched by kind and id — never the matched words or any content
/// (a location can be a file name, so it is left out too).
fn verdict_event(id: &str, tx: &Transaction, v: &Verdict) -> AuditEvent {
    let matches: Vec<_> = v
        .matches
        .iter()
        .map(|m| json!({"kind": m.kind, "id": m.id}))
        .collect();
    let recipients: Vec<_> = v
        .recipients
        .iter()
        .map(|r| json!({"address": r.address, "status": r.status}))
        .collect();
    let details = json!({
        "message": id,
        "from": tx.from,
        "to": tx.rcpts,
        "action": v.action.as_str(),
        "rules": v.rule_names(),
        "monitor": v.monitor.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "matches": matches,
        "recipients": recipients,
        "uninspectable": v.uninspectable.len(),
        "size": v.size,
    });
    let mut details = details;
    if let Some(s) = &v.split {
        details["split"] = json!({"held": s.held, "released": s.released});
    }
    AuditEvent::new("smtp", "verdict", details)
}

/// When an encrypt rule fired, says for each external recipient without a
/// usable key why (no file, expired, no keyEncipherment…): the rule's
/// fallback, not encryption, decides what it gets.
fn log_fallbacks(id: &str, verdict: &Verdict) {
    if verdict.first_with(Action::Encrypt).is_none() {
        return;
    }
    for r in verdict
        .recipients
        .iter()
        .filter(|r| r.flags.external && r.key.is_none())
    {
        let reason = r.reason.as_deref().unwrap_or("no key");
        tracing::warn!(id, rcpt = %r.address, reason, "no usable encryption key; the rule's fallback applies");
    }
}

/// Runs `check` on a blocking thread, with the review-added waivers and
/// what the store knows of first contacts; `None` if it panicked.
async fn scan(
    engine: Arc<Engine>,
    (waivers, contacts): (Arc<Vec<ExtraWaiver>>, Contacts),
    tx: &Transaction,
    raw: Vec<u8>,
) -> Option<(Verdict, Vec<u8>)> {
    let envelope = Envelope {
        from: tx.from.clone(),
        to: tx.rcpts.clone(),
    };
    tokio::task::spawn_blocking(move || {
        crate::failpoint::hit("scan");
        let today = check::today();
        let verdict = check::check_with(&engine, &envelope, &raw, today, &waivers, &contacts);
        (verdict, raw)
    })
    .await
    .ok()
}

/// `550 5.7.1` naming the first rejecting rule that fired; never the match.
fn reject(verdict: &Verdict) -> Reply {
    let rule = verdict
        .first_with(Action::Reject)
        .or(verdict.rules.first())
        .map(|r| r.name.as_str())
        .unwrap_or("policy");
    Reply::new(550, format!("5.7.1 rejected by rule {rule}"))
}
