//! The outbox (issue #13): what matterwall sends on its own (held and
//! rejected notices, compliance notices and digests, delivery reports),
//! kept in the store from the transaction of the event that causes it until
//! the next hop accepted it. A retrying job (`server.rs`) claims due
//! notices for a lease, sends them, and settles each: `sent` on the next
//! hop's `250`, back to `pending` with a backoff on a 4xx or a connection
//! error, `failed` on a permanent 5xx or past the configured age.
//!
//! A notice's message is mail content (it names the recipients of a held
//! message, a reviewer's comment, the list of held mail): sealed at rest
//! like held content, bound to the notice's id, kind and recipients.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A notice to queue, as the act stage composes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotice {
    /// `held`, `rejected`, `compliance`, `digest`, `dsn`.
    pub kind: String,
    /// The held message (or relayed message) it is about; `digest` for one.
    pub about: String,
    /// Envelope recipients; `<>` (empty) is never queued.
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

/// A queued notice claimed for sending.
#[derive(Debug, Clone)]
pub struct QueuedNotice {
    pub id: String,
    pub kind: String,
    pub about: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
    /// Sends tried so far, this one included.
    pub attempts: u32,
    /// Since it was queued, by the database's clock.
    pub age: Duration,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The next hop accepted it (`250` after DATA).
    Sent,
    /// Try again after `after` (a 4xx, a connection error).
    Retry { why: String, after: Duration },
    /// Never again (a permanent 5xx, too old, damaged).
    GiveUp { why: String },
}

/// A notice as listed: no content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NoticeSummary {
    pub id: String,
    pub kind: String,
    pub about: String,
    pub to: Vec<String>,
    pub status: String,
    pub attempts: u32,
    pub created_at: String,
    pub last_error: Option<String>,
}

/// Where a notice is in its life.
pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// What `/metrics` shows of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: u64,
    /// Age of the oldest pending notice, by the database's clock.
    pub oldest: Duration,
}

/// The associated data a notice's content is sealed with: moving the
/// ciphertext to another row, kind or recipient list breaks the seal.
pub(crate) fn binding(id: &str, kind: &str, to_json: &str) -> String {
    serde_json::json!(["matterwall outbox v1", id, kind, to_json]).to_string()
}

/// The notices worth queueing: `<>` taken out of the recipients (RFC 5321
/// §4.5.5: no mailbox; a notice to it would be a bounce of a bounce), and
/// notices left with no recipient dropped.
pub fn deliverable(notices: Vec<NewNotice>) -> Vec<NewNotice> {
    notices
        .into_iter()
        .map(|mut n| {
            n.to.retain(|t| !t.trim().is_empty());
            n
        })
        .filter(|n| !n.to.is_empty())
        .collect()
}

/// Time from `earlier` to `now` (both RFC 3339); zero when unreadable or
/// negative.
pub(crate) fn age(earlier: &str, now: &str) -> Duration {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(earlier), parse(now)) {
        (Some(e), Some(n)) => (n - e).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

/// `now` plus `d`, in the store's time format.
pub(crate) fn later(now: &str, d: Duration) -> String {
    let base = chrono::DateTime::parse_from_rfc3339(now)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365));
    (base + d).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The outbox job's counters since start, for `/metrics`; beside the
/// store handle so the job and the scrape share them. `wake` lets a
/// caller that just queued a notice start the job at once.
#[derive(Debug, Default)]
pub struct OutboxCounters {
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub gave_up: AtomicU64,
    pub wake: tokio::sync::Notify,
}

impl OutboxCounters {
    pub fn count(&self, d: &Delivery) {
        let c = match d {
            Delivery::Sent => &self.sent,
            Delivery::Retry { .. } => &self.retried,
            Delivery::GiveUp { .. } => &self.gave_up,
        };
        c.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_null_path_is_never_a_recipient() {
        let n = |to: &[&str]| NewNotice {
            kind: "held".into(),
            about: "x".into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            raw: b"m".to_vec(),
        };
        let out = deliverable(vec![n(&[""]), n(&["", "a@firm.example"])]);
        assert_eq!(out, vec![n(&["a@firm.example"])]);
    }

    #[test]
    fn ages_and_deadlines() {
        let t = "2026-01-01T00:00:00.000Z";
        assert_eq!(
            later(t, Duration::from_secs(90)),
            "2026-01-01T00:01:30.000Z"
        );
        assert_eq!(age(t, "2026-01-01T00:01:30.000Z"), Duration::from_secs(90));
        assert_eq!(age("2026-01-02T00:00:00.000Z", t), Duration::ZERO);
    }
}
