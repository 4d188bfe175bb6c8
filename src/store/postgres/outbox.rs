//! The outbox on PostgreSQL: due notices are claimed with `FOR UPDATE SKIP
//! LOCKED` and a lease on the database's clock, so of several nodes one
//! sends each notice; a node that dies mid-send leaves its claim to lapse
//! (or to itself, when it starts again).

use super::super::audit::AuditEvent;
use super::super::outbox::{
    age, open_claimed, seal_all, settlement, ClaimedRow, Delivery, NewNotice, NoticeSummary,
    OutboxStats, QueuedNotice,
};
use super::super::{Outbox, StoreError};
use super::{PgStore, Tx, NOW};
use ::postgres::Client;
use std::sync::LazyLock;
use std::time::Duration;

/// The database's clock `secs` (the parameter named) from now, in the
/// store's time format.
fn later(param: &str) -> String {
    format!(
        "to_char((clock_timestamp() + make_interval(secs => {param})) AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    )
}

/// A notice into the outbox: due at once, or claimed by this node for
/// `$9` seconds.
static QUEUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO outbox (id, kind, about, rcpts, created_at, status, attempts, next_at,
                             claimed_by, raw_nonce, raw)
         VALUES ($1, $2, $3, $4, {NOW}, 'pending', $5, {}, $6, $7, $8)",
        later("$9")
    )
});

/// A notice's attempt settled: sent, failed for good, or due again in `$3`
/// seconds.
static SETTLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE outbox SET status = $1, last_error = COALESCE($2, last_error),
                           next_at = {}, claimed_by = NULL,
                           done_at = CASE WHEN $4 THEN {NOW} END
         WHERE id = $5 AND status = 'pending'",
        later("$3")
    )
});

impl PgStore {
    /// Inserts `notices` in the caller's transaction; with `lease`, claimed
    /// by this node for that long (their first attempt counted), else due
    /// at once.
    pub(super) fn queue_in(
        &self,
        tx: &mut Tx,
        notices: Vec<NewNotice>,
        lease: Option<Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        let (secs, by, attempts) = match lease {
            Some(l) => (l.as_secs_f64(), Some(self.node.as_str()), 1),
            None => (0.0, None, 0),
        };
        let mut out = Vec::new();
        for n in seal_all(&self.sealer, notices)? {
            let insert = tx.prepared(QUEUE.as_str(), &[])?;
            tx.execute(
                &insert,
                &[
                    &n.id,
                    &n.notice.kind,
                    &n.notice.about,
                    &n.to_json,
                    &attempts,
                    &by,
                    &n.nonce,
                    &n.sealed,
                    &secs,
                ],
            )?;
            out.push(n.queued(attempts as u32));
        }
        Ok(out)
    }

    /// Deletes notices settled before `before` (retention).
    pub(super) fn prune_notices(c: &mut Client, before: &str) -> Result<u64, StoreError> {
        Ok(c.execute(
            "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND done_at < $1",
            &[&before],
        )?)
    }
}

impl Outbox for PgStore {
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
        let (limit, lease) = (limit as i64, lease.as_secs_f64());
        let rows = self.with(|c| {
            // One statement: the rows another node has locked are skipped,
            // and once this commits their lease keeps every node off them.
            Ok(c.query(
                &format!(
                    "WITH due AS (
                         SELECT id FROM outbox WHERE status = 'pending' AND next_at <= {NOW}
                         ORDER BY next_at, created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                     UPDATE outbox o SET next_at = {}, claimed_by = $3,
                                         attempts = o.attempts + 1
                     FROM due WHERE o.id = due.id
                     RETURNING o.id, o.kind, o.about, o.rcpts, o.created_at, o.attempts,
                               o.raw_nonce, o.raw, {NOW}",
                    later("$2")
                ),
                &[&limit, &lease, &self.node],
            )?)
        })?;
        let rows = rows
            .iter()
            .map(|r| ClaimedRow {
                id: r.get(0),
                kind: r.get(1),
                about: r.get(2),
                to_json: r.get(3),
                created_at: r.get(4),
                attempts: r.get::<_, i32>(5).max(0) as u32,
                nonce: r.get(6),
                sealed: r.get(7),
                now: r.get(8),
            })
            .collect();
        open_claimed(&self.sealer, rows, |id, how| self.settle_notice(id, how))
    }

    fn settle_notice(&self, id: &str, how: &Delivery) -> Result<(), StoreError> {
        let s = settlement(how);
        let (status, why, after, done) = (s.status, s.why, s.after.as_secs_f64(), s.done);
        // Through the writers' batches: a settlement on its own would be a
        // transaction and an fsync of its own for every notice sent, on the
        // connection the reads share.
        self.write(|tx| {
            let settle = tx.prepared(SETTLE.as_str(), &[])?;
            tx.execute(&settle, &[&status, &why, &after, &done, &id])?;
            Ok(())
        })
    }

    fn reclaim_notices(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.execute(
                &format!(
                    "UPDATE outbox SET next_at = {NOW}, claimed_by = NULL
                     WHERE status = 'pending' AND claimed_by = $1"
                ),
                &[&self.node],
            )?)
        })
    }

    fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.with(|c| {
            let r = c.query_one(
                &format!(
                    "SELECT count(*), min(created_at), {NOW} FROM outbox WHERE status = 'pending'"
                ),
                &[],
            )?;
            let (pending, oldest, now): (i64, Option<String>, String) =
                (r.get(0), r.get(1), r.get(2));
            Ok(OutboxStats {
                pending: pending.max(0) as u64,
                oldest: oldest.map_or(Duration::ZERO, |o| age(&o, &now)),
            })
        })
    }

    fn notices(&self) -> Result<Vec<NoticeSummary>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT id, kind, about, rcpts, status, attempts, created_at, last_error
                 FROM outbox ORDER BY created_at, id",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| NoticeSummary {
                    id: r.get(0),
                    kind: r.get(1),
                    about: r.get(2),
                    to: serde_json::from_str(r.get::<_, &str>(3)).unwrap_or_default(),
                    status: r.get(4),
                    attempts: r.get::<_, i32>(5).max(0) as u32,
                    created_at: r.get(6),
                    last_error: r.get(7),
                })
                .collect())
        })
    }
}
