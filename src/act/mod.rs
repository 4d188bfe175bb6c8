//! The act stage: the only code that answers DATA. It runs `check` on a
//! blocking thread, then passes (relay; the next hop's reply is ours),
//! holds (store commit, then 250), or rejects (550 with the rule name).
//! Every failure maps to a 4xx in one place ([`tempfail`]); a 250 is given
//! only after the next hop accepted or the store committed.
//!
//! One structured log line per message: id, envelope, action, rules, size,
//! timings, reply code. Never content, never matched text.

pub mod dsn;
mod encrypt;
mod hold;
pub mod modify;
pub mod notify;
mod pass;
pub mod release;

use crate::check::{self, Envelope, Verdict};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::rules::Action;
use crate::smtp::codec::Reply;
use crate::smtp::session::{Peer, Settle, Transaction};
use crate::store::Store;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Instant;

/// Shared by every session: the live config (swapped on reload), the store.
pub struct Actor {
    pub config: Arc<ArcSwap<Config>>,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
}

/// Why a message was not settled; always a 4xx to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tempfail {
    /// The next hop could not be reached or did not answer in time.
    NextHop,
    /// Anything of ours: a panic in the scan, a store failure.
    Internal,
}

pub fn tempfail(t: Tempfail) -> Reply {
    match t {
        Tempfail::NextHop => Reply::new(451, "4.4.1 next hop unavailable, try again later"),
        Tempfail::Internal => Reply::new(451, "4.3.0 internal error, try again later"),
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
        let reply = self.decide_and_act(&mut rec, &tx, raw).await;
        let outcome = if reply.code >= 400 && rec.action == "pass" {
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
        let cfg = self.config.load_full();
        let started = Instant::now();
        let Some((verdict, raw)) = scan(cfg.clone(), tx, raw).await else {
            tracing::error!(id = %rec.id, "the scan panicked; answering 451");
            return tempfail(Tempfail::Internal);
        };
        rec.scan_ms = started.elapsed().as_millis() as u64;
        self.metrics.scan(rec.scan_ms);
        rec.rules = verdict.rules.clone();
        rec.action = verdict.action.as_str();
        log_fallbacks(&cfg, &rec.id, &verdict);
        match verdict.action {
            Action::Pass => {
                let started = Instant::now();
                let out = modify::apply(&raw, &verdict.modifiers);
                let reply = pass::relay(&cfg, self.store.clone(), &rec.id, tx, &out).await;
                let ms = started.elapsed().as_millis() as u64;
                rec.relay_ms = Some(ms);
                self.metrics.relay(ms);
                reply
            }
            Action::Hold => {
                let reply = hold::hold(self.store.clone(), &rec.id, tx, &verdict, raw).await;
                if reply.is_positive() {
                    self.notify_hold(cfg, &rec.id, tx, &verdict);
                }
                reply
            }
            Action::Encrypt => {
                let started = Instant::now();
                let store = self.store.clone();
                let reply = encrypt::encrypt(&cfg, store, &rec.id, tx, &verdict, raw).await;
                let ms = started.elapsed().as_millis() as u64;
                rec.relay_ms = Some(ms);
                self.metrics.relay(ms);
                reply
            }
            Action::Reject => reject(&cfg, &verdict),
        }
    }
}

/// When an encrypt rule fired, says for each external recipient without a
/// usable key why (no file, expired, no keyEncipherment…): the rule's
/// fallback, not encryption, decides what it gets.
fn log_fallbacks(cfg: &Config, id: &str, verdict: &Verdict) {
    let encrypt_fired = verdict.rules.iter().any(|name| {
        cfg.rules
            .iter()
            .any(|r| &r.name == name && r.action == Action::Encrypt)
    });
    if !encrypt_fired {
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

impl Actor {
    /// Sends the hold's notices in the background: the client's `250` does
    /// not wait for them, and the held message is safe whatever they do.
    fn notify_hold(&self, cfg: Arc<Config>, id: &str, tx: &Transaction, verdict: &Verdict) {
        let notices = notify::on_hold(&cfg, id, &tx.from, &tx.rcpts, verdict);
        if notices.is_empty() {
            return;
        }
        let id = id.to_string();
        tokio::spawn(async move {
            notify::send(&cfg, &id, notices).await;
        });
    }
}

/// Runs `check` on a blocking thread; `None` if it panicked.
async fn scan(cfg: Arc<Config>, tx: &Transaction, raw: Vec<u8>) -> Option<(Verdict, Vec<u8>)> {
    let envelope = Envelope {
        from: tx.from.clone(),
        to: tx.rcpts.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let verdict = check::check(&cfg, &envelope, &raw, check::today());
        (verdict, raw)
    })
    .await
    .ok()
}

/// `550 5.7.1` naming the first rejecting rule that fired; never the match.
fn reject(cfg: &Config, verdict: &Verdict) -> Reply {
    let rule = verdict
        .rules
        .iter()
        .find(|name| {
            cfg.rules
                .iter()
                .any(|r| &r.name == *name && r.action == Action::Reject)
        })
        .or(verdict.rules.first())
        .map(String::as_str)
        .unwrap_or("policy");
    Reply::new(550, format!("5.7.1 rejected by rule {rule}"))
}
