//! The outbox on PostgreSQL: due notices are claimed with `FOR UPDATE SKIP
//! LOCKED` and a lease on the database's clock, so of several nodes one
//! sends each notice; a node that dies mid-send leaves its claim to lapse
//! (or to itself, when it starts again).

use super::super::audit::AuditEvent;
use super::super::outbox::{
    age, binding, deliverable, Delivery, NewNotice, NoticeSummary, OutboxStats, QueuedNotice,
    FAILED, PENDING, SENT,
};
use super::super::{Outbox, StoreError};
use super::{PgStore, NOW};
use ::postgres::{GenericClient, Row};
use std::time::Duration;

/// The database's clock `secs` (the parameter named) from now, in the
/// store's time format.
fn later(param: &str) -> String {
    format!(
        "to_char((clock_timestamp() + make_interval(secs => {param})) AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    )
}

impl PgStore {
    /// Inserts `notices` in the caller's transaction, due at once.
    pub(super) fn queue_in(
        &self,
        c: &mut impl GenericClient,
        notices: Vec<NewNotice>,
    ) -> Result<(), StoreError> {
        self.insert_notices(c, notices, None)?;
        Ok(())
    }

    /// Inserts `notices`; with `lease`, claimed by this node for that long
    /// (their first attempt counted), else due at once.
    fn insert_notices(
        &self,
        c: &mut impl GenericClient,
        notices: Vec<NewNotice>,
        lease: Option<Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        let (secs, by, attempts) = match lease {
            Some(l) => (l.as_secs_f64(), Some(self.node.as_str()), 1),
            None => (0.0, None, 0),
        };
        let mut out = Vec::new();
        for n in deliverable(notices) {
            let id = super::super::new_id();
            let to = serde_json::to_string(&n.to)?;
            let (nonce, sealed) = self
                .sealer
                .seal(binding(&id, &n.kind, &to).as_bytes(), &n.raw);
            c.execute(
                &format!(
                    "INSERT INTO outbox (id, kind, about, rcpts, created_at, status, attempts,
                                         next_at, claimed_by, raw_nonce, raw)
                     VALUES ($1, $2, $3, $4, {NOW}, 'pending', $5, {}, $6, $7, $8)",
                    later("$9")
                ),
                &[
                    &id, &n.kind, &n.about, &to, &attempts, &by, &nonce, &sealed, &secs,
                ],
            )?;
            out.push(QueuedNotice {
                id,
                kind: n.kind,
                about: n.about,
                to: n.to,
                raw: n.raw,
                attempts: attempts as u32,
                age: Duration::ZERO,
            });
        }
        Ok(out)
    }

    /// Deletes notices settled before `before` (retention).
    pub(super) fn prune_notices(
        c: &mut impl GenericClient,
        before: &str,
    ) -> Result<u64, StoreError> {
        Ok(c.execute(
            "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND done_at < $1",
            &[&before],
        )?)
    }

    /// Opens a claimed row; `None` when its seal fails.
    fn open_notice(&self, r: &Row) -> Option<QueuedNotice> {
        let (id, kind, to): (String, String, String) = (r.get(0), r.get(1), r.get(3));
        let nonce: Vec<u8> = r.get(6);
        let sealed: Vec<u8> = r.get(7);
        let raw = self
            .sealer
            .open(binding(&id, &kind, &to).as_bytes(), &nonce, &sealed)?;
        let (created, now): (String, String) = (r.get(4), r.get(8));
        Some(QueuedNotice {
            to: serde_json::from_str(&to).ok()?,
            about: r.get(2),
            attempts: r.get::<_, i32>(5).max(0) as u32,
            age: age(&created, &now),
            id,
            kind,
            raw,
        })
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
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            match self.open_notice(r) {
                Some(n) => out.push(n),
                None => {
                    let id: String = r.get(0);
                    tracing::error!(notice = %id, "queued notice fails its seal: given up");
                    let why = "damaged: the seal does not open".to_string();
                    self.settle_notice(&id, &Delivery::GiveUp { why })?;
                }
            }
        }
        Ok(out)
    }

    fn settle_notice(&self, id: &str, how: &Delivery) -> Result<(), StoreError> {
        let (status, why, after) = match how {
            Delivery::Sent => (SENT, None, 0.0),
            Delivery::Retry { why, after } => (PENDING, Some(why.as_str()), after.as_secs_f64()),
            Delivery::GiveUp { why } => (FAILED, Some(why.as_str()), 0.0),
        };
        let done = status != PENDING;
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE outbox SET status = $1, last_error = COALESCE($2, last_error),
                                       next_at = {}, claimed_by = NULL,
                                       done_at = CASE WHEN $4 THEN {NOW} END
                     WHERE id = $5 AND status = 'pending'",
                    later("$3")
                ),
                &[&status, &why, &after, &done, &id],
            )?;
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
