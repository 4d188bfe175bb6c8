//! The outbox on SQLite: one node, so a claim is an UPDATE of `next_at`
//! and `claimed_by` inside the write transaction, and the database's clock
//! is this machine's.

use super::super::audit::AuditEvent;
use super::super::outbox::{
    age, binding, deliverable, later, Delivery, NewNotice, NoticeSummary, OutboxStats,
    QueuedNotice, FAILED, PENDING, SENT,
};
use super::super::{Cluster, Outbox, StoreError};
use super::{now, SqliteStore};
use rusqlite::{params, Connection};
use std::time::Duration;

impl SqliteStore {
    /// Inserts `notices` in the caller's transaction, due at once.
    pub(super) fn queue_in(
        &self,
        conn: &Connection,
        notices: Vec<NewNotice>,
    ) -> Result<(), StoreError> {
        self.insert_notices(conn, notices, None)?;
        Ok(())
    }

    /// Inserts `notices`; with `lease`, claimed by this node for that long
    /// (their first attempt counted), else due at once.
    fn insert_notices(
        &self,
        conn: &Connection,
        notices: Vec<NewNotice>,
        lease: Option<Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        let at = now();
        let (next, by, attempts) = match lease {
            Some(l) => (later(&at, l), Some(self.node.as_str()), 1),
            None => (at.clone(), None, 0),
        };
        let mut out = Vec::new();
        for n in deliverable(notices) {
            let id = super::super::new_id();
            let to = serde_json::to_string(&n.to)?;
            let (nonce, sealed) = self
                .sealer
                .seal(binding(&id, &n.kind, &to).as_bytes(), &n.raw);
            conn.execute(
                "INSERT INTO outbox (id, kind, about, rcpts, created_at, status, attempts,
                                     next_at, claimed_by, raw_nonce, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10)",
                params![id, n.kind, n.about, to, at, attempts, next, by, nonce, sealed],
            )?;
            out.push(QueuedNotice {
                id,
                kind: n.kind,
                about: n.about,
                to: n.to,
                raw: n.raw,
                attempts,
                age: Duration::ZERO,
            });
        }
        Ok(out)
    }

    /// Deletes notices settled before `before` (retention).
    pub(super) fn prune_notices(conn: &Connection, before: &str) -> Result<usize, StoreError> {
        Ok(conn.execute(
            "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND done_at < ?1",
            [before],
        )?)
    }

    /// Opens a claimed row; `None` when its seal fails.
    fn open_notice(&self, row: ClaimedRow, now: &str) -> Option<QueuedNotice> {
        let ClaimedRow {
            id,
            kind,
            about,
            to,
            created_at,
            attempts,
            nonce,
            sealed,
        } = row;
        let raw = self
            .sealer
            .open(binding(&id, &kind, &to).as_bytes(), &nonce, &sealed)?;
        Some(QueuedNotice {
            to: serde_json::from_str(&to).ok()?,
            age: age(&created_at, now),
            attempts,
            id,
            kind,
            about,
            raw,
        })
    }
}

/// A row as claimed, still sealed.
struct ClaimedRow {
    id: String,
    kind: String,
    about: String,
    to: String,
    created_at: String,
    attempts: u32,
    nonce: Vec<u8>,
    sealed: Vec<u8>,
}

impl Outbox for SqliteStore {
    fn queue_notices(
        &self,
        notices: Vec<NewNotice>,
        event: AuditEvent,
        lease: Duration,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        self.write(|tx| {
            let queued = self.insert_notices(tx, notices, Some(lease))?;
            self.append_in(tx, &event)?;
            Ok(queued)
        })
    }

    fn claim_job_with(
        &self,
        name: &str,
        period: Duration,
        notices: Vec<NewNotice>,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let won = super::cluster::claim_in(tx, name, period, &self.node)?;
            if won {
                self.queue_in(tx, notices)?;
            }
            Ok(won)
        })
    }

    fn claim_notices(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        let at = now();
        let rows = self.write(|tx| {
            let rows: Vec<ClaimedRow> = {
                let mut stmt = tx.prepare(
                    "SELECT id, kind, about, rcpts, created_at, attempts, raw_nonce, raw
                     FROM outbox WHERE status = 'pending' AND next_at <= ?1
                     ORDER BY next_at, created_at LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![at, limit as i64], |r| {
                    Ok(ClaimedRow {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        about: r.get(2)?,
                        to: r.get(3)?,
                        created_at: r.get(4)?,
                        attempts: r.get::<_, u32>(5)? + 1,
                        nonce: r.get(6)?,
                        sealed: r.get(7)?,
                    })
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let until = later(&at, lease);
            for r in &rows {
                tx.execute(
                    "UPDATE outbox SET next_at = ?1, claimed_by = ?2, attempts = ?3 WHERE id = ?4",
                    params![until, self.node, r.attempts, r.id],
                )?;
            }
            Ok(rows)
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.id.clone();
            match self.open_notice(row, &at) {
                Some(n) => out.push(n),
                None => {
                    tracing::error!(notice = %id, "queued notice fails its seal: given up");
                    let why = "damaged: the seal does not open".to_string();
                    self.settle_notice(&id, &Delivery::GiveUp { why })?;
                }
            }
        }
        Ok(out)
    }

    fn settle_notice(&self, id: &str, how: &Delivery) -> Result<(), StoreError> {
        let at = now();
        let (status, why, next) = match how {
            Delivery::Sent => (SENT, None, at.clone()),
            Delivery::Retry { why, after } => (PENDING, Some(why.as_str()), later(&at, *after)),
            Delivery::GiveUp { why } => (FAILED, Some(why.as_str()), at.clone()),
        };
        let done = (status != PENDING).then_some(at.as_str());
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET status = ?1, last_error = COALESCE(?2, last_error),
                                   next_at = ?3, done_at = ?4, claimed_by = NULL
                 WHERE id = ?5 AND status = 'pending'",
                params![status, why, next, done, id],
            )?;
            Ok(())
        })
    }

    fn reclaim_notices(&self) -> Result<u64, StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET next_at = ?1, claimed_by = NULL
                 WHERE status = 'pending' AND claimed_by = ?2",
                params![now(), self.node],
            )?;
            Ok(n as u64)
        })
    }

    fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let conn = self.conn();
        let (pending, oldest): (i64, Option<String>) = conn.query_row(
            "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let db_now = self.db_now()?;
        Ok(OutboxStats {
            pending: pending.max(0) as u64,
            oldest: oldest.map_or(Duration::ZERO, |o| age(&o, &db_now)),
        })
    }

    fn notices(&self) -> Result<Vec<NoticeSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, kind, about, rcpts, status, attempts, created_at, last_error
             FROM outbox ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let to: String = r.get(3)?;
            Ok(NoticeSummary {
                id: r.get(0)?,
                kind: r.get(1)?,
                about: r.get(2)?,
                to: serde_json::from_str(&to).unwrap_or_default(),
                status: r.get(4)?,
                attempts: r.get(5)?,
                created_at: r.get(6)?,
                last_error: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
