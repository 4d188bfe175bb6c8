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

use super::crypto::Sealer;
use super::StoreError;
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
    /// The whole message to send, headers included (sealed at rest).
    pub raw: Vec<u8>,
}

/// A queued notice claimed for sending.
#[derive(Debug, Clone)]
pub struct QueuedNotice {
    /// The notice's id.
    pub id: String,
    pub(crate) kind: String,
    pub(crate) about: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The whole message to send.
    pub raw: Vec<u8>,
    /// Sends tried so far, this one included.
    pub attempts: u32,
    /// Since it was queued, by the database's clock.
    pub(crate) age: Duration,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The next hop accepted it (`250` after DATA).
    Sent,
    /// Try again after `after` (a 4xx, a connection error).
    Retry {
        /// The reply or error, kept as the notice's last error.
        why: String,
        /// The backoff before the next attempt.
        after: Duration,
    },
    /// Never again (a permanent 5xx, too old, damaged).
    GiveUp {
        /// The reply or error, kept as the notice's last error.
        why: String,
    },
}

/// A notice as listed: no content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NoticeSummary {
    /// The notice's id.
    pub id: String,
    /// `held`, `rejected`, `compliance`, `digest`, `dsn`.
    pub kind: String,
    /// The message it is about.
    pub about: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// Sends tried so far.
    pub attempts: u32,
    pub(crate) created_at: String,
    /// The last send's error, if any.
    pub last_error: Option<String>,
}

/// Where a notice is in its life.
pub(crate) const PENDING: &str = "pending";
pub(crate) const SENT: &str = "sent";
pub(crate) const FAILED: &str = "failed";

/// What `/metrics` shows of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Notices not yet sent or given up.
    pub pending: u64,
    /// Age of the oldest pending notice, by the database's clock.
    pub oldest: Duration,
}

/// The associated data a notice's content is sealed with: moving the
/// ciphertext to another row, kind or recipient list breaks the seal.
pub(crate) fn binding(id: &str, kind: &str, to_json: &str) -> String {
    serde_json::json!(["matterwall outbox v1", id, kind, to_json]).to_string()
}

/// A notice sealed for its row: what both backends insert.
pub(crate) struct SealedNotice {
    pub id: String,
    /// The recipients as stored (JSON text), bound into the seal.
    pub to_json: String,
    pub nonce: Vec<u8>,
    pub sealed: Vec<u8>,
    pub notice: NewNotice,
}

impl SealedNotice {
    /// The notice as its caller gets it back, `attempts` already counted.
    pub(crate) fn queued(self, attempts: u32) -> QueuedNotice {
        let n = self.notice;
        QueuedNotice {
            id: self.id,
            kind: n.kind,
            about: n.about,
            to: n.to,
            raw: n.raw,
            attempts,
            age: Duration::ZERO,
        }
    }
}

/// The [`deliverable`] notices, each with a new id and sealed to it.
pub(crate) fn seal_all(
    sealer: &Sealer,
    notices: Vec<NewNotice>,
) -> Result<Vec<SealedNotice>, StoreError> {
    deliverable(notices)
        .into_iter()
        .map(|notice| {
            let id = super::new_id();
            let to_json = serde_json::to_string(&notice.to)?;
            let aad = binding(&id, &notice.kind, &to_json);
            let (nonce, sealed) = sealer.seal(aad.as_bytes(), &notice.raw);
            Ok(SealedNotice {
                id,
                to_json,
                nonce,
                sealed,
                notice,
            })
        })
        .collect()
}

/// A row as claimed, still sealed; `now` is the database's clock at the
/// claim, `attempts` counts this one.
pub(crate) struct ClaimedRow {
    pub id: String,
    pub kind: String,
    pub about: String,
    pub to_json: String,
    pub created_at: String,
    pub now: String,
    pub attempts: u32,
    pub nonce: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// Opens claimed rows. A row whose seal fails (or whose recipients do not
/// read) is given up through `give_up`, never sent: its content cannot be
/// trusted to be what was queued.
pub(crate) fn open_claimed(
    sealer: &Sealer,
    rows: Vec<ClaimedRow>,
    give_up: impl Fn(&str, &Delivery) -> Result<(), StoreError>,
) -> Result<Vec<QueuedNotice>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let aad = binding(&r.id, &r.kind, &r.to_json);
        let raw = sealer.open(aad.as_bytes(), &r.nonce, &r.sealed);
        let to = serde_json::from_str(&r.to_json).ok();
        match (raw, to) {
            (Some(raw), Some(to)) => out.push(QueuedNotice {
                age: age(&r.created_at, &r.now),
                attempts: r.attempts,
                id: r.id,
                kind: r.kind,
                about: r.about,
                to,
                raw,
            }),
            _ => {
                tracing::error!(notice = %r.id, "queued notice fails its seal: given up");
                let why = "damaged: the seal does not open".to_string();
                give_up(&r.id, &Delivery::GiveUp { why })?;
            }
        }
    }
    Ok(out)
}

/// What settling an attempt writes to the notice's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settlement<'a> {
    /// [`PENDING`] again, [`SENT`] or [`FAILED`].
    pub status: &'static str,
    /// The next hop's words (or ours), kept when `None`.
    pub why: Option<&'a str>,
    /// Due again this long from now (a retry's backoff; zero when settled).
    pub after: Duration,
    /// Settled for good: `done_at` is set, and retention may delete it.
    pub done: bool,
}

/// What an attempt's outcome means for the notice's row.
pub(crate) fn settlement(how: &Delivery) -> Settlement<'_> {
    let (status, why, after) = match how {
        Delivery::Sent => (SENT, None, Duration::ZERO),
        Delivery::Retry { why, after } => (PENDING, Some(why.as_str()), *after),
        Delivery::GiveUp { why } => (FAILED, Some(why.as_str()), Duration::ZERO),
    };
    Settlement {
        status,
        why,
        after,
        done: status != PENDING,
    }
}

/// What one attempt at `n` means: `tried` as it came back, except that a
/// retry is delayed by `retry` doubling per attempt (at most an hour), and
/// turns into giving up once the notice is `give_up` old.
pub(crate) fn schedule(
    retry: Duration,
    give_up: Duration,
    n: &QueuedNotice,
    tried: Delivery,
) -> Delivery {
    let Delivery::Retry { why, .. } = tried else {
        return tried;
    };
    if n.age >= give_up {
        let why = format!("{why}; given up after {} s", n.age.as_secs());
        return Delivery::GiveUp { why };
    }
    let doubling = 2u32.saturating_pow(n.attempts.saturating_sub(1).min(16));
    let after = retry
        .saturating_mul(doubling)
        .min(Duration::from_secs(3600));
    Delivery::Retry { why, after }
}

/// The notices worth queueing: `<>` taken out of the recipients (RFC 5321
/// §4.5.5: no mailbox; a notice to it would be a bounce of a bounce), and
/// notices left with no recipient dropped.
pub(crate) fn deliverable(notices: Vec<NewNotice>) -> Vec<NewNotice> {
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
pub(crate) struct OutboxCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) gave_up: AtomicU64,
    pub(crate) wake: tokio::sync::Notify,
}

impl OutboxCounters {
    pub(crate) fn count(&self, d: &Delivery) {
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
    fn an_outcome_settles_the_row() {
        let retry = Delivery::Retry {
            why: "451 busy".into(),
            after: Duration::from_secs(4),
        };
        let s = settlement(&retry);
        assert_eq!(
            (s.status, s.why, s.after, s.done),
            (PENDING, Some("451 busy"), Duration::from_secs(4), false)
        );
        let s = settlement(&Delivery::Sent);
        assert_eq!((s.status, s.why, s.done), (SENT, None, true));
        let give_up = Delivery::GiveUp {
            why: "550 no".into(),
        };
        let s = settlement(&give_up);
        assert_eq!((s.status, s.why, s.done), (FAILED, Some("550 no"), true));
    }

    #[test]
    fn retries_back_off_and_give_up_when_old() {
        let n = |attempts, age| QueuedNotice {
            id: "n".into(),
            kind: "held".into(),
            about: "m".into(),
            to: vec!["a@firm.example".into()],
            raw: Vec::new(),
            attempts,
            age: Duration::from_secs(age),
        };
        let tried = || Delivery::Retry {
            why: "451".into(),
            after: Duration::ZERO,
        };
        let (retry, give_up) = (Duration::from_secs(10), Duration::from_secs(3600));
        let after = |d| match d {
            Delivery::Retry { after, .. } => after.as_secs(),
            other => panic!("{other:?}"),
        };
        assert_eq!(after(schedule(retry, give_up, &n(1, 0), tried())), 10);
        assert_eq!(after(schedule(retry, give_up, &n(3, 0), tried())), 40);
        assert_eq!(after(schedule(retry, give_up, &n(30, 0), tried())), 3600);
        let old = schedule(retry, give_up, &n(2, 3600), tried());
        assert!(matches!(old, Delivery::GiveUp { .. }), "{old:?}");
        assert_eq!(
            schedule(retry, give_up, &n(2, 3600), Delivery::Sent),
            Delivery::Sent
        );
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
