//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a commit is on disk before `hold` returns (and so before any 250).
//! Status changes are single UPDATEs guarded by the expected old status, so
//! two reviewers (or a CLI and the server) cannot both release one message.

use super::crypto::Sealer;
use super::{HeldMessage, HeldSummary, NewHeld, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS held (
    id            TEXT PRIMARY KEY,
    received_at   TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    status        TEXT NOT NULL
                  CHECK (status IN ('held','releasing','released','rejected','expired')),
    envelope      TEXT NOT NULL,
    action        TEXT NOT NULL,
    rules         TEXT NOT NULL,
    size          INTEGER NOT NULL,
    raw_nonce     BLOB NOT NULL,
    raw           BLOB NOT NULL,
    verdict_nonce BLOB NOT NULL,
    verdict       BLOB NOT NULL,
    comment       TEXT
);
CREATE INDEX IF NOT EXISTS held_status ON held (status, received_at);
CREATE TABLE IF NOT EXISTS accepted_copy (
    key         TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL,
    accepted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accepted_copy_at ON accepted_copy (accepted_at);
";

#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    sealer: Sealer,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl SqliteStore {
    /// Opens (creating on first start) the database and its key.
    pub fn open(db: &Path, key: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = db.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(db)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Destroyed content (retention) is overwritten with zeros in the
        // file, not just unlinked from the b-tree.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        let sealer = Sealer::load_or_create(key)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            sealer,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock left no half-done transaction
        // (rusqlite rolls back on drop), so the connection is still sound.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves `id` from `from` to `to`; reports what it was if not `from`.
    fn transition(
        &self,
        id: &str,
        from: &'static str,
        to: &str,
        comment: Option<&str>,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        let changed = conn.execute(
            "UPDATE held SET status = ?1, updated_at = ?2, comment = COALESCE(?3, comment)
             WHERE id = ?4 AND status = ?5",
            params![to, now(), comment, id, from],
        )?;
        if changed == 1 {
            return Ok(());
        }
        let status: Option<String> = conn
            .query_row("SELECT status FROM held WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        match status {
            None => Err(StoreError::NotFound(id.to_string())),
            Some(status) => Err(StoreError::WrongStatus {
                id: id.to_string(),
                status,
                wanted: from,
            }),
        }
    }
}

const SUMMARY: &str = "id, received_at, status, envelope, action, rules, size, comment";

fn summary(r: &Row<'_>) -> rusqlite::Result<HeldSummary> {
    let envelope: String = r.get(3)?;
    let rules: String = r.get(5)?;
    let env: serde_json::Value = serde_json::from_str(&envelope).unwrap_or_default();
    Ok(HeldSummary {
        id: r.get(0)?,
        received_at: r.get(1)?,
        status: r.get(2)?,
        from: env["from"].as_str().unwrap_or("").to_string(),
        to: serde_json::from_value(env["to"].clone()).unwrap_or_default(),
        action: r.get(4)?,
        rules: serde_json::from_str(&rules).unwrap_or_default(),
        size: r.get::<_, i64>(6)? as u64,
        comment: r.get(7)?,
    })
}

impl Store for SqliteStore {
    fn hold(&self, msg: NewHeld) -> Result<String, StoreError> {
        let id = msg.id.clone();
        let (raw_nonce, raw) = self.sealer.seal(id.as_bytes(), &msg.raw);
        let verdict_aad = format!("{id}/verdict");
        let (verdict_nonce, verdict) = self
            .sealer
            .seal(verdict_aad.as_bytes(), msg.verdict_json.as_bytes());
        let envelope = serde_json::json!({"from": msg.from, "to": msg.to}).to_string();
        let rules = serde_json::to_string(&msg.rules)?;
        let at = now();
        self.conn().execute(
            "INSERT INTO held (id, received_at, updated_at, status, envelope, action, rules,
                               size, raw_nonce, raw, verdict_nonce, verdict)
             VALUES (?1, ?2, ?2, 'held', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                at,
                envelope,
                msg.action,
                rules,
                msg.raw.len() as i64,
                raw_nonce,
                raw,
                verdict_nonce,
                verdict
            ],
        )?;
        Ok(id)
    }

    fn list(&self) -> Result<Vec<HeldSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SUMMARY} FROM held ORDER BY received_at DESC, id"
        ))?;
        let rows = stmt.query_map([], summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn get(&self, id: &str) -> Result<HeldMessage, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!(
                    "SELECT {SUMMARY}, raw_nonce, raw, verdict_nonce, verdict FROM held WHERE id = ?1"
                ),
                [id],
                |r| {
                    let blobs: [Vec<u8>; 4] = [r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?];
                    Ok((summary(r)?, blobs))
                },
            )
            .optional()?;
        let (summary, [rn, raw, vn, verdict]) =
            row.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        if summary.status == "expired" {
            return Err(StoreError::Destroyed(id.to_string()));
        }
        let damaged = || StoreError::Damaged(id.to_string());
        let raw = self
            .sealer
            .open(id.as_bytes(), &rn, &raw)
            .ok_or_else(damaged)?;
        let aad = format!("{id}/verdict");
        let verdict = self
            .sealer
            .open(aad.as_bytes(), &vn, &verdict)
            .ok_or_else(damaged)?;
        Ok(HeldMessage {
            summary,
            verdict_json: String::from_utf8_lossy(&verdict).into_owned(),
            raw,
        })
    }

    fn begin_release(&self, id: &str) -> Result<HeldMessage, StoreError> {
        // Decrypt first: a damaged record must stay `held`, never `releasing`.
        let msg = self.get(id)?;
        self.transition(id, "held", "releasing", None)?;
        Ok(msg)
    }

    fn finish_release(&self, id: &str) -> Result<(), StoreError> {
        self.transition(id, "releasing", "released", None)
    }

    fn abort_release(&self, id: &str, why: &str) -> Result<(), StoreError> {
        self.transition(id, "releasing", "held", Some(why))
    }

    fn reject(&self, id: &str, comment: Option<&str>) -> Result<(), StoreError> {
        self.transition(id, "held", "rejected", comment)
    }

    fn stuck_releasing(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM held WHERE status = 'releasing'")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn expire(&self, before: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let gone: Vec<(String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, status FROM held WHERE received_at < ?1
                 AND status IN ('held', 'released', 'rejected')",
            )?;
            let rows = stmt.query_map([before], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, _) in &gone {
            tx.execute(
                "UPDATE held SET status = 'expired', updated_at = ?1, raw = X'', raw_nonce = X'',
                 verdict = X'', verdict_nonce = X'' WHERE id = ?2",
                params![now(), id],
            )?;
        }
        tx.commit()?;
        if !gone.is_empty() {
            // Old page images would otherwise linger in the WAL file.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(gone)
    }

    fn held_count(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn()
                .query_row("SELECT count(*) FROM held WHERE status = 'held'", [], |r| {
                    r.get(0)
                })?;
        Ok(n as u64)
    }

    fn copy_accepted(&self, key: &str, window: Duration) -> Result<bool, StoreError> {
        let since = unix_now() - window.as_secs() as i64;
        let found: Option<i64> = self
            .conn()
            .query_row(
                "SELECT 1 FROM accepted_copy WHERE key = ?1 AND accepted_at > ?2",
                params![key, since],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    fn record_copy(&self, key: &str, id: &str, window: Duration) -> Result<(), StoreError> {
        let now = unix_now();
        let conn = self.conn();
        conn.execute(
            "INSERT OR REPLACE INTO accepted_copy (key, message_id, accepted_at) VALUES (?1, ?2, ?3)",
            params![key, id, now],
        )?;
        conn.execute(
            "DELETE FROM accepted_copy WHERE accepted_at <= ?1",
            params![now - window.as_secs() as i64],
        )?;
        Ok(())
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> NewHeld {
        NewHeld {
            id: crate::store::new_id(),
            from: "a@firm.example".into(),
            to: vec!["b@x.example".into()],
            action: "hold".into(),
            rules: vec!["unauthorised-recipient".into()],
            verdict_json: r#"{"action":"hold"}"#.into(),
            raw: b"Subject: secret\r\n\r\nHarrowgate\r\n".to_vec(),
        }
    }

    #[test]
    fn hold_release_reject_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::open("sqlite://q/db.sqlite", dir.path(), None).unwrap();
        let key = dir.path().join("q/matterwall.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let id = store.hold(msg()).unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(store.get(&id).unwrap().raw, msg().raw);
        assert_eq!(store.held_count().unwrap(), 1);
        store.begin_release(&id).unwrap();
        assert!(matches!(
            store.begin_release(&id),
            Err(StoreError::WrongStatus { .. })
        ));
        assert_eq!(store.stuck_releasing().unwrap(), std::slice::from_ref(&id));
        store.finish_release(&id).unwrap();
        assert!(matches!(
            store.reject(&id, None),
            Err(StoreError::WrongStatus { .. })
        ));
        let other = store.hold(msg()).unwrap();
        store.reject(&other, Some("not ok")).unwrap();
        assert_eq!(store.list().unwrap().len(), 2);
        // The raw bytes are not in the database file in clear.
        let third = store.hold(msg()).unwrap();
        drop(store);
        let db = std::fs::read(dir.path().join("q/db.sqlite")).unwrap();
        let wal = std::fs::read(dir.path().join("q/db.sqlite-wal")).unwrap_or_default();
        for file in [db, wal] {
            assert!(!file.windows(10).any(|w| w == b"Harrowgate"));
        }
        // Flipped bits are detected and the record stays put.
        let conn = Connection::open(dir.path().join("q/db.sqlite")).unwrap();
        conn.execute(
            "UPDATE held SET raw = zeroblob(length(raw)) WHERE id = ?1",
            [&third],
        )
        .unwrap();
        drop(conn);
        let store = super::super::open("sqlite://q/db.sqlite", dir.path(), None).unwrap();
        assert!(matches!(
            store.begin_release(&third),
            Err(StoreError::Damaged(_))
        ));
        assert_eq!(
            store
                .list()
                .unwrap()
                .iter()
                .filter(|s| s.status == "held")
                .count(),
            1
        );
    }

    #[test]
    fn retention_destroys_content_but_not_a_release_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::open("sqlite://q/db.sqlite", dir.path(), None).unwrap();
        let held = store.hold(msg()).unwrap();
        let rejected = store.hold(msg()).unwrap();
        store.reject(&rejected, Some("no")).unwrap();
        let releasing = store.hold(msg()).unwrap();
        store.begin_release(&releasing).unwrap();
        assert!(store
            .expire("2000-01-01T00:00:00+00:00")
            .unwrap()
            .is_empty());
        let mut gone = store.expire(&now()).unwrap();
        gone.sort();
        let mut want = vec![
            (held.clone(), "held".to_string()),
            (rejected, "rejected".into()),
        ];
        want.sort();
        assert_eq!(gone, want);
        assert!(matches!(store.get(&held), Err(StoreError::Destroyed(_))));
        assert!(
            store.get(&releasing).is_ok(),
            "a release in flight is left alone"
        );
        assert!(store.begin_release(&held).is_err());
        let blob: Vec<u8> = store
            .conn()
            .query_row("SELECT raw FROM held WHERE id = ?1", [&held], |r| r.get(0))
            .unwrap();
        assert!(blob.is_empty());
        assert!(store.expire(&now()).unwrap().is_empty(), "once only");
    }
}
