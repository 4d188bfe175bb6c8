//! The outbox on SQLite: one node, so a claim is an UPDATE of `next_at`
//! and `claimed_by` inside the write transaction, and the database's clock
//! is this machine's.

use super::super::audit::AuditEvent;
use super::super::outbox::{
    age, later, open_claimed, seal_all, settlement, ClaimedRow, Delivery, NewNotice, NoticeSummary,
    OutboxStats, QueuedNotice,
};
use super::super::{Cluster, Outbox, StoreError};
use super::{now, SqliteStore};
use rusqlite::{params, Connection};
use std::time::Duration;

impl SqliteStore {
    /// Inserts `notices` in the caller's transaction; with `lease`, claimed
    /// by this node for that long (their first attempt counted), else due
    /// at once.
    pub(super) fn queue_in(
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
        for n in seal_all(&self.sealer, notices)? {
            conn.execute(
                "INSERT INTO outbox (id, kind, about, rcpts, created_at, status, attempts,
                                     next_at, claimed_by, raw_nonce, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10)",
                params![
                    n.id,
                    n.notice.kind,
                    n.notice.about,
                    n.to_json,
                    at,
                    attempts,
                    next,
                    by,
                    n.nonce,
                    n.sealed
                ],
            )?;
            out.push(n.queued(attempts));
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
}

impl Outbox for SqliteStore {
    fn queue_notices(
        &self,
        notices: Vec<NewNotice>,
        event: AuditEvent,
        lease: Duration,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        self.write(|tx| {
            let queued = self.queue_in(tx, notices, Some(lease))?;
            self.append_in(tx, &event)?;
            Ok(queued)
        })
    }

    fn claim_job_queueing(
        &self,
        name: &str,
        period: Duration,
        notices: Vec<NewNotice>,
        lease: Option<Duration>,
    ) -> Result<Option<Vec<QueuedNotice>>, StoreError> {
        self.write(|tx| {
            if !super::cluster::claim_in(tx, name, period, &self.node)? {
                return Ok(None);
            }
            Ok(Some(self.queue_in(tx, notices, lease)?))
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
                        to_json: r.get(3)?,
                        created_at: r.get(4)?,
                        now: at.clone(),
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
        open_claimed(&self.sealer, rows, |id, how| self.settle_notice(id, how))
    }

    fn settle_notice(&self, id: &str, how: &Delivery) -> Result<(), StoreError> {
        let at = now();
        let s = settlement(how);
        let next = later(&at, s.after);
        let done = s.done.then_some(at.as_str());
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET status = ?1, last_error = COALESCE(?2, last_error),
                                   next_at = ?3, done_at = ?4, claimed_by = NULL
                 WHERE id = ?5 AND status = 'pending'",
                params![s.status, s.why, next, done, id],
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
