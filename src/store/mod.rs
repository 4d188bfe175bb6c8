//! Durable storage of held messages (the quarantine), behind the [`Store`]
//! trait so PostgreSQL can follow SQLite. A held message is a state machine
//! `held → releasing → released`, `held → rejected | expired`; raw bytes and
//! the full verdict (which names the matched text) are encrypted at rest with
//! AES-256-GCM, one random nonce per record, the record id as associated data.
//!
//! The trait is synchronous: callers on the async side run it on
//! `spawn_blocking`, so a slow fsync never stalls a session.

pub mod crypto;
pub mod sqlite;

use serde::Serialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store URL {0:?}: expected sqlite://PATH")]
    BadUrl(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
        status: String,
        wanted: &'static str,
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
}

/// A message to hold, as the act stage hands it over.
#[derive(Debug, Clone)]
pub struct NewHeld {
    /// From [`new_id`]: the same id names the message in the log line.
    pub id: String,
    pub from: String,
    pub to: Vec<String>,
    pub action: String,
    pub rules: Vec<String>,
    /// The full verdict as JSON (encrypted at rest: it names matched text).
    pub verdict_json: String,
    pub raw: Vec<u8>,
}

/// What a listing shows: no content, no matched text.
#[derive(Debug, Clone, Serialize)]
pub struct HeldSummary {
    pub id: String,
    pub received_at: String,
    pub status: String,
    pub from: String,
    pub to: Vec<String>,
    pub action: String,
    pub rules: Vec<String>,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One held message, decrypted.
#[derive(Debug, Clone)]
pub struct HeldMessage {
    pub summary: HeldSummary,
    pub verdict_json: String,
    pub raw: Vec<u8>,
}

/// The quarantine. Every method commits durably before it returns.
pub trait Store: Send + Sync {
    /// Stores a held message; returns its id once committed and fsync'd.
    fn hold(&self, msg: NewHeld) -> Result<String, StoreError>;
    fn list(&self) -> Result<Vec<HeldSummary>, StoreError>;
    fn get(&self, id: &str) -> Result<HeldMessage, StoreError>;
    /// `held → releasing`, committed before anything is sent, so a crash
    /// mid-release can never lead to a silent second delivery.
    fn begin_release(&self, id: &str) -> Result<HeldMessage, StoreError>;
    /// `releasing → released` once the next hop accepted.
    fn finish_release(&self, id: &str) -> Result<(), StoreError>;
    /// `releasing → held`, when the next hop certainly did not take it.
    fn abort_release(&self, id: &str, why: &str) -> Result<(), StoreError>;
    fn reject(&self, id: &str, comment: Option<&str>) -> Result<(), StoreError>;
    /// Ids left in `releasing` by a crash: reported, never re-sent blindly.
    fn stuck_releasing(&self) -> Result<Vec<String>, StoreError>;
    /// Retention: every message received before `before` (RFC 3339, UTC)
    /// that is not mid-release becomes `expired`, its raw bytes and verdict
    /// (which holds the snippets) destroyed. Returns each id with the status
    /// it had, for the audit trail.
    fn expire(&self, before: &str) -> Result<Vec<(String, String)>, StoreError>;
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

/// Opens the store named by `[store] url`, relative to the config folder.
pub fn open(
    url: &str,
    config_dir: &Path,
    key_file: Option<&str>,
) -> Result<sqlite::SqliteStore, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| StoreError::BadUrl(url.to_string()))?;
    let db = config_dir.join(path);
    let key = match key_file {
        Some(k) => config_dir.join(k),
        None => db.with_file_name("matterwall.key"),
    };
    sqlite::SqliteStore::open(&db, &key)
}

/// Applies `[store] retention_days` (0: keep forever) as of now; logs
/// each destroyed message. `serve` runs it hourly, `quarantine expire` on
/// demand.
pub fn apply_retention(store: &dyn Store, days: u32) -> Result<Vec<(String, String)>, StoreError> {
    if days == 0 {
        return Ok(Vec::new());
    }
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
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
