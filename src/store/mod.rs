//! Durable storage of held messages (the quarantine), behind the [`Store`]
//! trait so PostgreSQL can follow SQLite. A held message is a state machine
//! `held → releasing → released`, `held → rejected | expired`; raw bytes and
//! the full verdict (which names the matched text) are encrypted at rest with
//! AES-256-GCM, one random nonce per record, the record id as associated data.
//!
//! The same store holds the review users, sessions and API tokens, waivers
//! added in the review interface, and the hash-chained audit trail.
//!
//! The traits are synchronous; the async side goes through one
//! [`Handle`], which runs every call on the blocking pool. That is a must
//! for PostgreSQL: the sync `postgres` client drives its own runtime and
//! panics when called from inside an async task.
//!
//! Two backends: [`sqlite`] (the embedded default, one node) and
//! [`postgres`] (several nodes on one database, issue #13). [`Cluster`] is
//! what several nodes need beyond one: a node name, the database's clock,
//! once-per-cluster jobs and news of review changes made elsewhere.

pub mod accounts;
pub mod audit;
pub mod checkpoint;
pub mod crypto;
mod group;
pub mod handle;
pub mod held;
pub mod migrate;
pub mod outbox;
pub mod postgres;
pub mod sqlite;

pub use accounts::{NewUser, NewWaiver, Role, SessionRecord, User, WaiverRecord};
pub use audit::{AuditEntry, AuditEvent, AuditFilter, AuditHead};
pub use handle::Handle;
pub use held::{HeldMessage, HeldPage, HeldQuery, HeldSort, HeldStatus, HeldSummary, NewHeld};
pub use outbox::{Delivery, NewNotice, NoticeSummary, OutboxStats, QueuedNotice};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store URL {0:?}: expected sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL down, unreachable or refusing: the caller answers 451.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("no held message {0}")]
    NotFound(String),
    #[error("message {id} is {status}, not {wanted}")]
    WrongStatus {
        id: String,
        status: HeldStatus,
        wanted: HeldStatus,
    },
    /// Authentication failed on decrypt: tampering, corruption or a wrong
    /// key. The record is never released and never deleted.
    #[error("message {0} is damaged or the key is wrong; it stays in the store")]
    Damaged(String),
    /// Past the retention period: the content is gone for good.
    #[error("message {0} expired: its content was destroyed under the retention period")]
    Destroyed(String),
    #[error("cannot encode: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    /// The shared commit of a batch of writes failed (group commit): each
    /// writer in the batch gets this copy of the committer's error.
    #[error("the commit failed: {0}")]
    Commit(String),
    /// The blocking task running a store call panicked or was cancelled.
    #[error("the store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// The store could not do its work (a database, disk or task error), as
    /// opposed to refusing a request (no such message, wrong status, bad
    /// input): what an operator must look at.
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::WrongStatus { .. }
                | StoreError::Destroyed(_)
                | StoreError::Invalid(_)
                | StoreError::Exists(_)
        )
    }

    /// The disk is full: SMTP says `452 4.3.1` (RFC 3463: mail system
    /// full), so the client retries later rather than reporting a fault.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

/// The quarantine. Every method commits durably before it returns, and
/// every status change writes its audit entry in the same transaction.
pub trait Quarantine: Send + Sync {
    /// Stores a held message with the audit entry for its verdict and the
    /// notices the hold causes (the outbox); returns its id once all are
    /// committed and fsync'd.
    fn hold_with(
        &self,
        msg: NewHeld,
        verdict: AuditEvent,
        notices: Vec<NewNotice>,
    ) -> Result<String, StoreError>;
    /// [`Quarantine::hold_with`] with no notice.
    fn hold(&self, msg: NewHeld, verdict: AuditEvent) -> Result<String, StoreError> {
        self.hold_with(msg, verdict, Vec::new())
    }
    /// Every message, newest first (the `quarantine list` view).
    fn list(&self) -> Result<Vec<HeldSummary>, StoreError>;
    /// One page of the queue, filtered and sorted, with the total count.
    fn query(&self, q: &HeldQuery) -> Result<HeldPage, StoreError>;
    /// How many messages are in each status.
    fn status_counts(&self) -> Result<Vec<(HeldStatus, u64)>, StoreError>;
    fn get(&self, id: &str) -> Result<HeldMessage, StoreError>;
    /// `held → releasing`, committed (with the reviewer's audit entry)
    /// before anything is sent, so a crash mid-release can never lead to a
    /// silent second delivery.
    fn begin_release(&self, id: &str, by: &Review<'_>) -> Result<HeldMessage, StoreError>;
    /// `releasing → released` once the next hop accepted; `refused` are the
    /// recipients it turned down.
    fn finish_release(&self, id: &str, refused: &[String]) -> Result<(), StoreError>;
    /// `releasing → held`, when the next hop certainly did not take it.
    fn abort_release(&self, id: &str, why: &str) -> Result<(), StoreError>;
    /// `held → rejected`, with the reviewer's audit entry and the notices
    /// (the sender's) in the same transaction.
    fn reject_with(
        &self,
        id: &str,
        by: &Review<'_>,
        notices: Vec<NewNotice>,
    ) -> Result<(), StoreError>;
    fn reject(&self, id: &str, by: &Review<'_>) -> Result<(), StoreError> {
        self.reject_with(id, by, Vec::new())
    }
    /// Ids left in `releasing` by a crash: reported, never re-sent blindly.
    fn stuck_releasing(&self) -> Result<Vec<String>, StoreError>;
    /// Retention: every message received before `before` (RFC 3339, UTC)
    /// that is not mid-release becomes `expired`, its raw bytes and verdict
    /// (which holds the snippets) and subject destroyed, each with an
    /// `expired` audit entry in the same transaction. Settled notices
    /// (sent or given up) settled before `before` are deleted from the
    /// outbox. Returns each id with the status it had.
    fn expire(&self, before: &str) -> Result<Vec<(String, HeldStatus)>, StoreError>;
    /// Messages currently `held`, for the queue-size gauge.
    fn held_count(&self) -> Result<u64, StoreError>;
    /// True when the next hop accepted the copy named `key` (a hash, see
    /// `act::encrypt`) less than `window` ago: a retry must not send it again.
    fn copy_accepted(&self, key: &str, window: std::time::Duration) -> Result<bool, StoreError>;
    /// Records that the next hop accepted the copy `key` of message `id`;
    /// forgets records older than `window`.
    fn record_copy(
        &self,
        key: &str,
        id: &str,
        window: std::time::Duration,
    ) -> Result<(), StoreError>;
}

/// Who acts on a held message, and why.
#[derive(Debug, Clone, Copy)]
pub struct Review<'a> {
    pub actor: &'a str,
    pub comment: Option<&'a str>,
}

/// Review users, their sessions and API tokens, and waivers added in the
/// review interface. Changes that matter to an auditor are audited in the
/// same transaction.
pub trait Accounts: Send + Sync {
    fn add_user(&self, user: NewUser, by: &str) -> Result<(), StoreError>;
    fn user(&self, name: &str) -> Result<Option<User>, StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Disabling also ends the user's sessions and deletes their API tokens
    /// (re-enabling does not bring them back).
    fn set_disabled(&self, name: &str, disabled: bool, by: &str) -> Result<(), StoreError>;
    /// Records a TOTP time step as used; false if it (or a later one) was
    /// already used, so a one-time code cannot be replayed.
    fn use_totp_step(&self, name: &str, step: u64) -> Result<bool, StoreError>;
    fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError>;
    /// The live (unexpired) session with this id hash, and its user.
    fn session(&self, id_hash: &str) -> Result<Option<(SessionRecord, User)>, StoreError>;
    /// Records a request at `at` (RFC 3339) on the session; with `authed`,
    /// also that the user just gave their password again.
    fn touch_session(&self, id_hash: &str, at: &str, authed: bool) -> Result<(), StoreError>;
    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Stores an API token by its SHA-256 (the token itself is never stored).
    fn add_token(&self, hash: &str, user: &str, by: &str) -> Result<(), StoreError>;
    fn token_user(&self, hash: &str) -> Result<Option<User>, StoreError>;
    fn add_waiver(&self, w: NewWaiver, by: &str) -> Result<WaiverRecord, StoreError>;
    fn revoke_waiver(&self, id: i64, by: &str) -> Result<(), StoreError>;
    /// Waivers added in the review interface and not revoked.
    fn waivers(&self) -> Result<Vec<WaiverRecord>, StoreError>;
}

/// The audit trail: see [`audit`].
pub trait AuditLog: Send + Sync {
    fn append(&self, event: AuditEvent) -> Result<AuditEntry, StoreError>;
    /// Entries with seq above `after`, oldest first (for walking the chain).
    fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// Entries matching `f`, newest first.
    fn audit_query(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError>;
}

/// What several nodes sharing one database need (issue #13). SQLite
/// implements it for one node, so callers need not know the backend.
pub trait Cluster: Send + Sync {
    /// `[store] node`: named in log lines and stamped on audit entries.
    fn node(&self) -> &str;
    /// A trivial round trip to the database (`/healthz`).
    fn ping(&self) -> Result<(), StoreError>;
    /// The database's clock (RFC 3339, UTC, milliseconds): one clock for
    /// every node, for jobs and cut-offs that must agree across nodes.
    fn db_now(&self) -> Result<String, StoreError>;
    /// Claims this run of the job `name` for this node: true when no node
    /// claimed it less than `period` ago by the database's clock. Atomic
    /// across the cluster, so retention or the digest runs on one node.
    fn claim_job(&self, name: &str, period: std::time::Duration) -> Result<bool, StoreError>;
    /// A number that grows whenever users or waivers change (the seq of
    /// the last such audit entry): the periodic backstop for
    /// [`Cluster::wait_review_change`].
    fn review_generation(&self) -> Result<u64, StoreError>;
    /// Waits up to `timeout` for news that another node changed users or
    /// waivers (LISTEN/NOTIFY on PostgreSQL); true when some arrived. A
    /// backend with no other node may return false at once.
    /// Notifications are lost while a connection is down, so callers also
    /// compare [`Cluster::review_generation`].
    fn wait_review_change(&self, timeout: std::time::Duration) -> Result<bool, StoreError>;
}

/// The notice outbox: see [`outbox`]. Notices are queued inside the
/// transaction of what causes them ([`Quarantine::hold_with`],
/// [`Quarantine::reject_with`], [`Outbox::queue_notices`],
/// [`Outbox::claim_job_with`]); `<>` is never a recipient.
pub trait Outbox: Send + Sync {
    /// Queues `notices` with the audit entry `event`, in one transaction
    /// (a delivery report and the record that it is owed), already claimed
    /// by this node for `lease`: the caller tries them at once and settles
    /// them; if it dies first, the claim lapses and the job sends them.
    fn queue_notices(
        &self,
        notices: Vec<NewNotice>,
        event: AuditEvent,
        lease: std::time::Duration,
    ) -> Result<Vec<QueuedNotice>, StoreError>;
    /// [`Cluster::claim_job`], queueing `notices` in the same transaction
    /// when (and only when) the claim is won: the digest goes out once per
    /// cluster, and is not lost by a node that dies after claiming.
    fn claim_job_with(
        &self,
        name: &str,
        period: std::time::Duration,
        notices: Vec<NewNotice>,
    ) -> Result<bool, StoreError>;
    /// Claims up to `limit` pending notices that are due, for `lease` by
    /// the database's clock (no other node takes them meanwhile), and
    /// counts the attempt. A notice whose seal fails is given up here.
    fn claim_notices(
        &self,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<QueuedNotice>, StoreError>;
    /// Records how an attempt ended; a notice already settled stays so.
    fn settle_notice(&self, id: &str, how: &Delivery) -> Result<(), StoreError>;
    /// Makes this node's claims due at once: after a restart nothing of
    /// this node is still sending them. Returns how many.
    fn reclaim_notices(&self) -> Result<u64, StoreError>;
    fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
    /// Every notice (no content), oldest first.
    fn notices(&self) -> Result<Vec<NoticeSummary>, StoreError>;
}

/// Everything the server needs from its store; one implementation per
/// backend.
pub trait Store: Quarantine + Accounts + AuditLog + Cluster + Outbox {}
impl<T: Quarantine + Accounts + AuditLog + Cluster + Outbox> Store for T {}

/// The audit kinds that change review state shared between nodes.
pub const REVIEW_KINDS: &str =
    "'user-added', 'user-disabled', 'user-enabled', 'waiver-added', 'waiver-revoked'";

/// Opens the store named by `[store] url` (`sqlite://PATH`, relative to
/// the config folder, or `postgres://…`) as node `node` (default: the host
/// name). The key file is relative to the config folder; by default
/// `matterwall.key` beside an SQLite database, or in the config folder.
pub fn open(
    url: &str,
    config_dir: &Path,
    key_file: Option<&str>,
    node: Option<&str>,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let node = node.map_or_else(default_node, str::to_string);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let key = config_dir.join(key_file.unwrap_or("matterwall.key"));
        let store = postgres::PgStore::open(url, &key, &node)?;
        return Ok(std::sync::Arc::new(store));
    }
    let path = url
        .strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| StoreError::BadUrl(url.to_string()))?;
    let db = config_dir.join(path);
    let key = match key_file {
        Some(k) => config_dir.join(k),
        None => db.with_file_name("matterwall.key"),
    };
    Ok(std::sync::Arc::new(sqlite::SqliteStore::open(
        &db, &key, &node,
    )?))
}

/// The host name, the default `[store] node`.
pub fn default_node() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Applies `[store] retention_days` (0: keep forever) as of now; logs
/// each destroyed message. `serve` runs it hourly, `quarantine expire` on
/// demand.
pub fn apply_retention(
    store: &dyn Store,
    days: u32,
) -> Result<Vec<(String, HeldStatus)>, StoreError> {
    if days == 0 {
        return Ok(Vec::new());
    }
    // The database's clock: on several nodes, one cut-off for all.
    let now = chrono::DateTime::parse_from_rfc3339(&store.db_now()?)
        .map_err(|e| StoreError::Invalid(format!("the database's clock: {e}")))?
        .with_timezone(&chrono::Utc);
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let gone = store.expire(&cutoff.to_rfc3339())?;
    for (id, was) in &gone {
        tracing::info!(id = %id, was = %was, days, "retention: content destroyed, message expired");
    }
    Ok(gone)
}

/// Whether the wall clock moved more than an hour further than the
/// monotonic clock (`mono`) over the same interval (`wall`), either way.
pub fn clock_jumped(mono: std::time::Duration, wall: chrono::Duration) -> bool {
    let mono = chrono::Duration::from_std(mono).unwrap_or(chrono::Duration::MAX);
    (wall - mono).abs() > chrono::Duration::hours(1)
}

/// A fresh random id: 16 hex characters.
pub fn new_id() -> String {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("the OS random source failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::clock_jumped;
    use chrono::Duration as Wall;
    use std::time::Duration as Mono;

    #[test]
    fn a_year_forward_or_back_is_a_jump_drift_is_not() {
        let hour = Mono::from_secs(3600);
        assert!(!clock_jumped(hour, Wall::hours(1)));
        assert!(!clock_jumped(hour, Wall::minutes(61)));
        assert!(clock_jumped(hour, Wall::days(365)));
        assert!(clock_jumped(hour, Wall::days(-365)));
    }
}
