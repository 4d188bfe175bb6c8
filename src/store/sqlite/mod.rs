//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a commit is on disk before `hold` returns (and so before any 250).
//! Status changes are single UPDATEs guarded by the expected old status, so
//! two reviewers (or a CLI and the server) cannot both release one message;
//! each runs in an IMMEDIATE transaction together with its audit entry.
//!
//! One file per trait: `held.rs` (quarantine), `accounts.rs` (users,
//! sessions, tokens, waivers), `audit.rs` (the chain). `schema.rs` creates
//! and migrates the tables.

mod accounts;
mod audit;
pub mod cluster;
mod held;
mod outbox;
mod schema;
#[cfg(test)]
mod tests;

use super::crypto::Sealer;
use super::StoreError;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    sealer: Sealer,
    /// `[store] node`: stamped on the audit entries this store writes.
    node: String,
}

/// Creates the data directory 0700 and the database file 0600 before SQLite
/// opens it (issue #15: envelopes, ids and the audit trail are not for other
/// local users). SQLite gives the `-wal` and `-shm` companions the database
/// file's mode; files an older version left readable are tightened here.
fn private_files(db: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(db)
        .map_err(io(db))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            let private = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(path, private).map_err(io(path))?;
        }
    }
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl SqliteStore {
    /// Opens (creating on first start, migrating an older file) the
    /// database and its key.
    pub fn open(db: &Path, key: &Path, node: &str) -> Result<SqliteStore, StoreError> {
        private_files(db)?;
        let mut conn = Connection::open(db)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Destroyed content (retention) is overwritten with zeros in the
        // file, not just unlinked from the b-tree.
        conn.pragma_update(None, "secure_delete", "ON")?;
        schema::migrate(&mut conn)?;
        let sealer = Sealer::load_or_create(key)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            sealer,
            node: node.to_string(),
        })
    }

    /// The connection, for `store migrate` (which reads rows as stored).
    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock left no half-done transaction
        // (rusqlite rolls back on drop), so the connection is still sound.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in an IMMEDIATE transaction (the write lock is taken at the
    /// start, so another process cannot slip an audit entry in between our
    /// read of the head and our append) and commits.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}
