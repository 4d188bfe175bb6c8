//! The audit chain in PostgreSQL: entries in `audit`, the keyed head in
//! `audit_head`. An append runs in the writers' batch transaction, which
//! holds the write lock and read the head row `FOR UPDATE` when it began,
//! so however many nodes append, each entry chains from the one committed
//! before it.

use super::super::audit::{self, AuditEntry, AuditEvent, AuditFilter, AuditHead, GENESIS};
use super::super::{AuditLog, StoreError};
use super::{Head, PgStore, Tx};
use ::postgres::types::Type;
use ::postgres::{GenericClient, Row};

fn damaged(why: &str) -> StoreError {
    StoreError::Invalid(format!(
        "the audit trail is damaged ({why}); nothing more is appended until it is \
         investigated: run `matterwall audit verify`"
    ))
}

fn read_head(c: &mut impl GenericClient) -> Result<Option<(u64, String, String)>, StoreError> {
    Ok(
        c.query_opt("SELECT seq, hash, mac FROM audit_head WHERE id = 1", &[])?
            .map(|r| (r.get::<_, i64>(0).max(0) as u64, r.get(1), r.get(2))),
    )
}

impl PgStore {
    /// Appends `event`, stamped with this node's name, after the recorded
    /// head (see the SQLite store: a deleted last entry stays a gap, a
    /// forged head is refused). The head and the time are the batch's (see
    /// [`Tx`]): the entry and the new head go in one round trip.
    pub(super) fn append_in(
        &self,
        tx: &mut Tx,
        event: &AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        let details = audit::stamp_node(&event.details, &self.node);
        let (prev_seq, prev_hash) = match tx.head() {
            None => {
                if tx.query_opt("SELECT 1 FROM audit LIMIT 1", &[])?.is_some() {
                    return Err(damaged("its head record is missing"));
                }
                (0, GENESIS.to_string())
            }
            Some(h) => {
                let message = audit::head_message(h.seq, &h.hash);
                if !self.sealer.mac_ok(message.as_bytes(), &h.mac) {
                    return Err(damaged("its head record fails authentication"));
                }
                (h.seq, h.hash.clone())
            }
        };
        let (seq, time) = (prev_seq + 1, tx.now());
        let hash = audit::entry_hash(&prev_hash, seq, &time, &event.actor, &event.kind, &details);
        let mac = self.sealer.mac(audit::head_message(seq, &hash).as_bytes());
        let append = tx.prepared(
            "SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
            ],
        )?;
        tx.execute(
            &append,
            &[
                &(seq as i64),
                &time,
                &event.actor,
                &event.kind,
                &audit::canonical(&details),
                &prev_hash,
                &hash,
                &details["message"].as_str(),
                &mac,
            ],
        )?;
        tx.set_head(Head {
            seq,
            hash: hash.clone(),
            mac,
        });
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
}

const COLUMNS: &str = "seq, at, actor, kind, details, prev_hash, hash";

/// As on SQLite: the listing ends at the contiguous run from seq 1 and
/// never goes past the head.
const LISTED_END: &str = "SELECT LEAST(COALESCE((SELECT MIN(a.seq) FROM audit a
       WHERE a.seq >= 1 AND NOT EXISTS (SELECT 1 FROM audit b WHERE b.seq = a.seq + 1)
         AND EXISTS (SELECT 1 FROM audit c WHERE c.seq = 1)), 0),
     COALESCE((SELECT seq FROM audit_head WHERE id = 1), 0))";

pub(super) fn entry(r: &Row) -> AuditEntry {
    let details: String = r.get(4);
    AuditEntry {
        seq: r.get::<_, i64>(0).max(0) as u64,
        time: r.get(1),
        actor: r.get(2),
        kind: r.get(3),
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        prev_hash: r.get(5),
        hash: r.get(6),
    }
}

impl AuditLog for PgStore {
    fn append(&self, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        self.write(|tx| {
            let entry = self.append_in(tx, &event)?;
            crate::failpoint::hit("audit-append");
            Ok(entry)
        })
    }

    fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {COLUMNS} FROM audit WHERE seq > $1 OR $1 = 0 ORDER BY seq LIMIT $2"
                ),
                &[&(after as i64), &(limit as i64)],
            )?;
            Ok(rows.iter().map(entry).collect())
        })
    }

    fn audit_query(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {COLUMNS} FROM audit
                     WHERE ($1::text IS NULL OR kind = $1)
                       AND ($2::text IS NULL OR actor = $2)
                       AND ($3::text IS NULL OR message = $3)
                       AND ($4::bigint IS NULL OR seq < $4)
                       AND seq >= 1 AND seq <= ({LISTED_END})
                     ORDER BY seq DESC LIMIT $5"
                ),
                &[
                    &f.kind,
                    &f.actor,
                    &f.message,
                    &f.before.map(|b| b as i64),
                    &(f.limit as i64),
                ],
            )?;
            Ok(rows.iter().map(entry).collect())
        })
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let head = self.with(read_head)?;
        Ok(head.map(|(seq, hash, mac)| AuditHead {
            authentic: self
                .sealer
                .mac_ok(audit::head_message(seq, &hash).as_bytes(), &mac),
            seq,
            hash,
        }))
    }
}
