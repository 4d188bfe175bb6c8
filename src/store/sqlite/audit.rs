//! The audit chain in SQLite: entries in `audit`, the keyed head in
//! `audit_head`, both written in the caller's transaction.

use super::super::audit::{self, AuditEntry, AuditEvent, AuditFilter, AuditHead, GENESIS};
use super::super::crypto::Sealer;
use super::super::{AuditLog, StoreError};
use super::{now, SqliteStore};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// Appends `event` after the recorded head, inside the caller's
/// transaction. New entries chain from the head, not from whatever the last
/// row is, so a deleted last entry stays visible as a gap; and a head whose
/// authentication fails is refused rather than papered over.
fn append_in(
    conn: &Connection,
    sealer: &Sealer,
    node: &str,
    event: &AuditEvent,
) -> Result<AuditEntry, StoreError> {
    let details = audit::stamp_node(&event.details, node);
    let (prev_seq, prev_hash) = match read_head(conn)? {
        None => {
            let rows: i64 = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
            if rows > 0 {
                return Err(damaged("its head record is missing"));
            }
            (0, GENESIS.to_string())
        }
        Some((seq, hash, mac)) => {
            if !sealer.mac_ok(audit::head_message(seq, &hash).as_bytes(), &mac) {
                return Err(damaged("its head record fails authentication"));
            }
            (seq, hash)
        }
    };
    let seq = prev_seq + 1;
    let time = now();
    let hash = audit::entry_hash(&prev_hash, seq, &time, &event.actor, &event.kind, &details);
    conn.execute(
        "INSERT INTO audit (seq, at, actor, kind, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            seq as i64,
            time,
            event.actor,
            event.kind,
            audit::canonical(&details),
            prev_hash,
            hash
        ],
    )?;
    let mac = sealer.mac(audit::head_message(seq, &hash).as_bytes());
    conn.execute(
        "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
        params![seq as i64, hash, mac],
    )?;
    Ok(AuditEntry {
        seq,
        time,
        actor: event.actor.clone(),
        kind: event.kind.clone(),
        details,
        prev_hash,
        hash,
    })
}

impl SqliteStore {
    /// Appends `event`, stamped with this node's name, in the caller's
    /// transaction.
    pub(super) fn append_in(
        &self,
        conn: &Connection,
        event: &AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        append_in(conn, &self.sealer, &self.node, event)
    }
}

pub(super) fn damaged(why: &str) -> StoreError {
    StoreError::Invalid(format!(
        "the audit trail is damaged ({why}); nothing more is appended until it is \
         investigated: run `matterwall audit verify`"
    ))
}

fn read_head(conn: &Connection) -> Result<Option<(u64, String, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT seq, hash, mac FROM audit_head WHERE id = 1",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

const COLUMNS: &str = "seq, at, actor, kind, details, prev_hash, hash";

/// The last seq the page and the API list (issue #15): the end of the
/// contiguous run from seq 1, and never past the head, so a row verify would
/// call inserted (seq <= 0, past a gap, past the head) is not shown as real.
/// Hashes are verify's job (`/audit/verify`); this bounds what is listed.
const LISTED_END: &str = "SELECT MIN(COALESCE((SELECT MIN(a.seq) FROM audit a
       WHERE a.seq >= 1 AND NOT EXISTS (SELECT 1 FROM audit b WHERE b.seq = a.seq + 1)
         AND EXISTS (SELECT 1 FROM audit c WHERE c.seq = 1)), 0),
     COALESCE((SELECT seq FROM audit_head WHERE id = 1), 0))";

fn entry(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let details: String = r.get(4)?;
    Ok(AuditEntry {
        // seq <= 0 is never written (a trigger refuses it); one put there by
        // hand reads as 0, which verify reports as inserted.
        seq: r.get::<_, i64>(0)?.max(0) as u64,
        time: r.get(1)?,
        actor: r.get(2)?,
        kind: r.get(3)?,
        // A row edited into invalid JSON still fails its hash check.
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

impl AuditLog for SqliteStore {
    fn append(&self, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        self.write(|tx| {
            let entry = self.append_in(tx, &event)?;
            crate::failpoint::hit("audit-append");
            Ok(entry)
        })
    }

    fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            // From the start, rows with seq <= 0 too: verify must see them.
            "SELECT {COLUMNS} FROM audit WHERE seq > ?1 OR ?1 = 0 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![after as i64, limit as i64], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_query(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM audit
             WHERE (?1 IS NULL OR kind = ?1)
               AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR CASE WHEN json_valid(details)
                    THEN json_extract(details, '$.message') END = ?3)
               AND (?4 IS NULL OR seq < ?4)
               AND seq >= 1 AND seq <= ({LISTED_END})
             ORDER BY seq DESC LIMIT ?5"
        ))?;
        let rows = stmt.query_map(
            params![
                f.kind,
                f.actor,
                f.message,
                f.before.map(|b| b as i64),
                f.limit as i64
            ],
            entry,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let conn = self.conn();
        Ok(read_head(&conn)?.map(|(seq, hash, mac)| AuditHead {
            authentic: self
                .sealer
                .mac_ok(audit::head_message(seq, &hash).as_bytes(), &mac),
            seq,
            hash,
        }))
    }
}
