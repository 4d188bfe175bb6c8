//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a commit is on disk before `hold` returns (and so before any 250).
//! Writes that arrive together share one transaction and one fsync (group
//! commit, `store/group.rs`) on the writer connection; reads, and the
//! unaudited one-statement writes (sessions, TOTP steps), use a second
//! connection, which sees only what is committed.
//! Status changes are single UPDATEs guarded by the expected old status, so
//! two reviewers (or a CLI and the server) cannot both release one message;
//! each runs in an IMMEDIATE transaction together with its audit entry.
//!
//! One file per trait: `held.rs` (quarantine), `accounts.rs` (users,
//! sessions, tokens, waivers), `audit.rs` (the chain). `schema.rs` creates
//! and migrates the tables.

mod accounts;
mod audit;
pub(crate) mod cluster;
mod contacts;
mod held;
mod outbox;
mod schema;
mod stats;
#[cfg(test)]
mod tests;

use super::crypto::Sealer;
use super::group::{self, Group, Writer};
use super::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct SqliteStore {
    /// Reads and unaudited writes.
    conn: Mutex<Connection>,
    /// Audited writes, in shared transactions.
    writer: Group<SqliteWriter>,
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
    pub(crate) fn open(db: &Path, key: &Path, node: &str) -> Result<SqliteStore, StoreError> {
        private_files(db)?;
        let mut writer = connect(db)?;
        schema::migrate(&mut writer)?;
        let conn = connect(db)?;
        let sealer = Sealer::load_or_create(key)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            writer: Group::new(SqliteWriter(writer), group::LIMITS),
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

    /// Runs `f` in the writers' shared IMMEDIATE transaction (the write
    /// lock is taken at its start, so another process cannot slip an audit
    /// entry in between our read of the head and our append), in its own
    /// savepoint; returns once that transaction is committed.
    fn write<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_sized(0, f)
    }

    /// As [`Self::write`], for a write of about `bytes` (a held message):
    /// the batch's size is bounded.
    fn write_sized<T>(
        &self,
        bytes: usize,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.writer.run(bytes, |conn| f(conn))
    }

    /// Batches committed and writes in them since open: the group-commit
    /// tests check that concurrent writes shared a transaction.
    #[cfg(test)]
    pub(crate) fn commit_stats(&self) -> (u64, u64) {
        self.writer.stats()
    }
}

/// Opens one connection with the store's settings (each is per connection).
fn connect(db: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Destroyed content (retention) is overwritten with zeros in the
    // file, not just unlinked from the b-tree.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

/// The writer connection as group commit drives it.
#[derive(Debug)]
struct SqliteWriter(Connection);

impl Writer for SqliteWriter {
    type Conn = Connection;

    fn begin(&mut self) -> Result<(), StoreError> {
        Ok(self.0.execute_batch("BEGIN IMMEDIATE")?)
    }
    fn savepoint(&mut self) -> Result<(), StoreError> {
        Ok(self.0.execute_batch("SAVEPOINT op")?)
    }
    fn release(&mut self) -> Result<(), StoreError> {
        Ok(self.0.execute_batch("RELEASE op")?)
    }
    fn rollback_to(&mut self) -> Result<(), StoreError> {
        Ok(self.0.execute_batch("ROLLBACK TO op; RELEASE op")?)
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(self.0.execute_batch("COMMIT")?)
    }
    fn abandon(&mut self) {
        if !self.0.is_autocommit() {
            // A connection that cannot even roll back fails its next BEGIN.
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
    fn in_transaction(&self) -> bool {
        !self.0.is_autocommit()
    }
    fn conn(&mut self) -> &mut Connection {
        &mut self.0
    }
}
