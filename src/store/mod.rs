//! Durable storage of held messages (the quarantine), behind the [`Store`]
//! trait so PostgreSQL can follow SQLite. A held message is a state machine
//! `held → releasing → released`, `held → rejected | expired`; raw bytes and
//! the full verdict (which names the matched text) are encrypted at rest with
//! AES-256-GCM, one random nonce per record, the record id as associated data.
//!
//! The same store holds the review users, sessions and API tokens, waivers
//! added in the review interface, the hash-chained audit trail, and the
//! first-contact pairs ([`contacts`]).
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

pub(crate) mod accounts;
pub mod audit;
pub mod checkpoint;
pub mod contacts;
pub(crate) mod crypto;
mod group;
pub(crate) mod handle;
pub mod held;
pub mod migrate;
pub(crate) mod outbox;
pub mod postgres;
pub(crate) mod sqlite;
pub mod stats;

pub use accounts::{NewUser, NewWaiver, Role, Scope, SessionRecord, User, WaiverRecord};
pub use audit::{AuditEntry, AuditEvent, AuditFilter, AuditHead};
pub use contacts::{Contacts, KnownContacts};
pub use handle::Handle;
pub use held::{HeldMessage, HeldPage, HeldQuery, HeldSort, HeldStatus, HeldSummary, NewHeld};
pub use outbox::{Delivery, NewNotice, NoticeSummary, OutboxStats, QueuedNotice};
pub use stats::{Decision, QueueStats};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
/// Why a store call failed. The caller answers 4xx for all of them: a store that fails never makes mail pass or vanish.
pub enum StoreError {
    #[error("store URL {0:?}: expected sqlite://PATH or postgres://USER@HOST/DB")]
    /// The `[store] url` is neither `sqlite://` nor `postgres://`.
    BadUrl(String),
    #[error("database error: {0}")]
    /// SQLite failed (full disk, I/O error, a corrupt file).
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL down, unreachable or refusing: the caller answers 451.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("{path}: {source}")]
    /// A file beside the database could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    #[error("key file {path}: {reason}")]
    /// The quarantine key is missing, malformed, or not the one the store was made with.
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    #[error("no held message {0}")]
    /// No message with this id.
    NotFound(String),
    #[error("message {id} is {status}, not {wanted}")]
    /// The message is not in the status the action needs (e.g. released twice).
    WrongStatus {
        /// The message.
        id: String,
        /// Its status now.
        status: HeldStatus,
        /// The status the action needs.
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
    /// A record could not be encoded as JSON.
    Encode(#[from] serde_json::Error),
    #[error("{0}")]
    /// A value the store refuses (an unknown role, an empty name…).
    Invalid(String),
    #[error("{0} already exists")]
    /// A user, token or waiver with this name already exists.
    Exists(String),
    /// The shared commit of a batch of writes failed (group commit): each
    /// writer in the batch gets this copy of the committer's error.
    #[error("the commit failed: {0}")]
    Commit(String),
    /// Four-eyes (issue #18) refuses: not approved yet, approved by the
    /// same reviewer, the sender reviewing, or no approval needed.
    #[error("{0}")]
    FourEyes(String),
    /// The blocking task running a store call panicked or was cancelled.
    #[error("the store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// The store could not do its work (a database, disk or task error), as
    /// opposed to refusing a request (no such message, wrong status, bad
    /// input): what an operator must look at.
    pub(crate) fn is_failure(&self) -> bool {
        !matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::WrongStatus { .. }
                | StoreError::Destroyed(_)
                | StoreError::Invalid(_)
                | StoreError::Exists(_)
                | StoreError::FourEyes(_)
        )
    }

    /// The disk is full: SMTP says `452 4.3.1` (RFC 3463: mail system
    /// full), so the client retries later rather than reporting a fault.
    pub(crate) fn is_storage_full(&self) -> bool {
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
    /// One message, decrypted.
    fn get(&self, id: &str) -> Result<HeldMessage, StoreError>;
    /// What a listing shows of one message (its subject opened), without
    /// reading or opening its content: for pages that name many messages.
    fn listed(&self, id: &str) -> Result<HeldSummary, StoreError>;
    /// `held → releasing`, committed (with the reviewer's audit entry)
    /// before anything is sent, so a crash mid-release can never lead to a
    /// silent second delivery. A two-person message must have been
    /// approved, by someone else than `by` and its sender (issue #18).
    fn begin_release(&self, id: &str, by: &Review<'_>) -> Result<HeldMessage, StoreError>;
    /// Four-eyes (issue #18): the first reviewer's approval of a held
    /// two-person message, with its `approve` audit entry; once only.
    fn approve(&self, id: &str, by: &Review<'_>) -> Result<(), StoreError>;
    /// `releasing → released` once the next hop accepted; `refused` are the
    /// recipients it turned down.
    fn finish_release(&self, id: &str, refused: &[String]) -> Result<(), StoreError> {
        self.finish_release_queueing(id, refused, Vec::new(), None)
            .map(drop)
    }
    /// [`Quarantine::finish_release`] with `notices` (the sender's delivery
    /// report for the refused recipients) queued in the same transaction;
    /// with `lease`, claimed by this node as [`Outbox::queue_notices`] does.
    fn finish_release_queueing(
        &self,
        id: &str,
        refused: &[String],
        notices: Vec<NewNotice>,
        lease: Option<std::time::Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError>;
    /// `releasing → held`, when the next hop certainly did not take it.
    fn abort_release(&self, id: &str, why: &str) -> Result<(), StoreError>;
    /// `held → rejected`, with the reviewer's audit entry and the notices
    /// (the sender's) in the same transaction.
    fn reject_with(
        &self,
        id: &str,
        by: &Review<'_>,
        notices: Vec<NewNotice>,
    ) -> Result<(), StoreError> {
        self.reject_queueing(id, by, notices, None).map(drop)
    }
    /// [`Quarantine::reject_with`]; with `lease`, the notices are claimed
    /// by this node as [`Outbox::queue_notices`] does (the command line
    /// tries them at once), else due at once for the outbox job.
    fn reject_queueing(
        &self,
        id: &str,
        by: &Review<'_>,
        notices: Vec<NewNotice>,
        lease: Option<std::time::Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError>;
    /// [`Quarantine::reject_with`] with no notices.
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
    /// Up to `limit` held messages whose undo-send due time has come (by
    /// the database's clock), the earliest first: candidates only; the
    /// release job checks each against its sealed verdict.
    fn due(&self, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Messages currently `held`, for the queue-size gauge.
    fn held_count(&self) -> Result<u64, StoreError>;
    /// When the oldest message still `held` was received (RFC 3339, UTC),
    /// for `/metrics`: a review deadline (retention) approaching shows
    /// before it is missed.
    fn oldest_held(&self) -> Result<Option<String>, StoreError>;
    /// The quarantine in aggregate over the window from `since` (RFC 3339,
    /// UTC) to now, for the dashboard: see [`stats`] (bounded by the
    /// window, read through indexes).
    fn queue_stats(&self, since: &str) -> Result<QueueStats, StoreError>;
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
    /// A user name, or `cli:NAME` for the command line.
    pub actor: &'a str,
    /// The reviewer's reason, kept in the record and the audit trail.
    pub comment: Option<&'a str>,
}

/// Review users, their sessions and API tokens, and waivers added in the
/// review interface. Changes that matter to an auditor are audited in the
/// same transaction.
pub trait Accounts: Send + Sync {
    /// Creates a user, audited as done by `by`.
    fn add_user(&self, user: NewUser, by: &str) -> Result<(), StoreError>;
    /// The user of this name, if any.
    fn user(&self, name: &str) -> Result<Option<User>, StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Disabling also ends the user's sessions and deletes their API tokens
    /// (re-enabling does not bring them back).
    fn set_disabled(&self, name: &str, disabled: bool, by: &str) -> Result<(), StoreError>;
    /// Issue #18: sets (or with `None` lifts) the clients user `name` may
    /// review, audited as `user-scope-changed` by `by`. The caller checks
    /// the ids and groups against the dictionaries (`review::scope`).
    fn set_scope(&self, name: &str, scope: Option<&Scope>, by: &str) -> Result<(), StoreError>;
    /// Records a TOTP time step as used; false if it (or a later one) was
    /// already used, so a one-time code cannot be replayed.
    fn use_totp_step(&self, name: &str, step: u64) -> Result<bool, StoreError>;
    /// Stores a new session (by its id's hash).
    fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError>;
    /// The live (unexpired) session with this id hash, and its user.
    fn session(&self, id_hash: &str) -> Result<Option<(SessionRecord, User)>, StoreError>;
    /// Records a request at `at` (RFC 3339) on the session; with `authed`,
    /// also that the user just gave their password again.
    fn touch_session(&self, id_hash: &str, at: &str, authed: bool) -> Result<(), StoreError>;
    /// Ends a session (logout).
    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Stores an API token by its SHA-256 (the token itself is never stored).
    fn add_token(&self, hash: &str, user: &str, by: &str) -> Result<(), StoreError>;
    /// The enabled user an API token belongs to, by the token's SHA-256.
    fn token_user(&self, hash: &str) -> Result<Option<User>, StoreError>;
    /// Adds a waiver, audited as done by `by`.
    fn add_waiver(&self, w: NewWaiver, by: &str) -> Result<WaiverRecord, StoreError>;
    /// Revokes a waiver, audited as done by `by`.
    fn revoke_waiver(&self, id: i64, by: &str) -> Result<(), StoreError>;
    /// Waivers added in the review interface and not revoked.
    fn waivers(&self) -> Result<Vec<WaiverRecord>, StoreError>;
    /// The user a single sign-on login names (issue #18): made on its
    /// first login with `role` and no password (`accounts::SSO_PASSWORD`:
    /// a local login never works for it), its role set to `role` again at
    /// every later login (the provider's groups are the truth); audited.
    /// A local account of that name is refused ([`StoreError::Exists`]);
    /// a disabled user comes back unchanged for the caller to refuse.
    fn sso_user(&self, name: &str, role: Role, by: &str) -> Result<User, StoreError>;
    /// Keeps a login in flight at an OpenID provider (its state, nonce and
    /// PKCE verifier as `data`, sealed) under the SHA-256 of the browser's
    /// cookie until `expires_at`, on every node.
    fn put_oidc_login(
        &self,
        id_hash: &str,
        data: &[u8],
        expires_at: &str,
    ) -> Result<(), StoreError>;
    /// Takes a login in flight: deletes and returns it if unexpired, so a
    /// replayed answer from the provider finds nothing.
    fn take_oidc_login(&self, id_hash: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The audit trail: see [`audit`].
pub trait AuditLog: Send + Sync {
    /// Appends one entry, chained to the last and with the head's MAC moved on, in one transaction.
    fn append(&self, event: AuditEvent) -> Result<AuditEntry, StoreError>;
    /// Entries with seq above `after`, oldest first (for walking the chain).
    fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// Entries matching `f`, newest first.
    fn audit_query(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// The head record, to check that the chain's end was not rolled back.
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError>;
}

/// What several nodes sharing one database need (issue #13). SQLite
/// implements it for one node, so callers need not know the backend.
pub trait Cluster: Send + Sync {
    /// `[store] node`: named in log lines and stamped on audit entries.
    fn node(&self) -> &str;
    /// A trivial round trip to the database (`/healthz`).
    fn ping(&self) -> Result<(), StoreError>;
    /// Signs `msg` for a link in a notice (HMAC under a subkey of the
    /// store's key file, which every node shares), in hex.
    fn sign_link(&self, msg: &[u8]) -> String;
    /// Checks a [`Cluster::sign_link`] tag in constant time.
    fn link_signed(&self, msg: &[u8], tag: &str) -> bool;
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
    ) -> Result<bool, StoreError> {
        let won = self.claim_job_queueing(name, period, notices, None)?;
        Ok(won.is_some())
    }
    /// [`Outbox::claim_job_with`], returning the queued notices when the
    /// claim is won (`None` when it is not); with `lease`, claimed by this
    /// node as [`Outbox::queue_notices`] does.
    fn claim_job_queueing(
        &self,
        name: &str,
        period: std::time::Duration,
        notices: Vec<NewNotice>,
        lease: Option<std::time::Duration>,
    ) -> Result<Option<Vec<QueuedNotice>>, StoreError>;
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
    /// What `/metrics` shows of the queue.
    fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
    /// Every notice (no content), oldest first.
    fn notices(&self) -> Result<Vec<NoticeSummary>, StoreError>;
}

/// Everything the server needs from its store; one implementation per
/// backend.
pub trait Store: Quarantine + Accounts + AuditLog + Cluster + Outbox + Contacts {}
impl<T: Quarantine + Accounts + AuditLog + Cluster + Outbox + Contacts> Store for T {}

/// The audit kinds that change review state shared between nodes.
pub(crate) const REVIEW_KINDS: &str =
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

/// Forgets the first-contact pairs not written to for `max_age` (`[policy]
/// first_contact_days`, issue #18): what keeps the table bounded. `serve`
/// runs it hourly with retention; it does not depend on `retention_days`.
pub fn forget_old_contacts(
    store: &dyn Store,
    max_age: std::time::Duration,
) -> Result<u64, StoreError> {
    let n = store.prune_contacts(max_age)?;
    if n > 0 {
        tracing::info!(
            pairs = n,
            "first contact: forgot pairs past first_contact_days"
        );
    }
    Ok(n)
}

/// Whether the wall clock moved more than an hour further than the
/// monotonic clock (`mono`) over the same interval (`wall`), either way.
pub(crate) fn clock_jumped(mono: std::time::Duration, wall: chrono::Duration) -> bool {
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
