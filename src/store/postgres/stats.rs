//! The dashboard's aggregates in PostgreSQL, the twin of the SQLite ones
//! (see `store::stats`): the same rows from the same indexes (`held_status`,
//! `held_received`, `audit_decided`), the message of a decision read from
//! the audit table's `message` column.

use super::super::stats::{seconds_between, Decision, QueueStats, DECISIONS_CAP, TOP};
use super::super::StoreError;
use super::PgStore;

impl PgStore {
    pub(super) fn oldest_held_in(&self) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT min(received_at) FROM held WHERE status = 'held'",
                &[],
            )?;
            Ok(r.get(0))
        })
    }

    pub(super) fn queue_stats_in(&self, since: &str) -> Result<QueueStats, StoreError> {
        self.with(|c| {
            let q = c.query_one(
                "SELECT count(*), min(received_at) FROM held WHERE status = 'held'",
                &[],
            )?;
            let held_now: i64 = q.get(0);
            let per_day = c
                .query(
                    "SELECT substr(received_at, 1, 10) AS day, r, count(*)
                     FROM held, jsonb_array_elements_text(rules::jsonb) AS r
                     WHERE received_at >= $1
                     GROUP BY day, r",
                    &[&since],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2).max(0) as u64))
                .collect();
            let top_clients = c
                .query(
                    "SELECT cl, count(*) AS n
                     FROM held, jsonb_array_elements_text(clients::jsonb) AS cl
                     WHERE received_at >= $1
                     GROUP BY cl ORDER BY n DESC, cl LIMIT $2",
                    &[&since, &(TOP as i64)],
                )?
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
                .collect();
            let decisions = c
                .query(
                    "SELECT a.actor, a.kind, a.at, h.received_at
                     FROM audit a JOIN held h ON h.id = a.message
                     WHERE a.kind IN ('release', 'reject') AND a.at >= $1
                     ORDER BY a.at DESC LIMIT $2",
                    &[&since, &(DECISIONS_CAP as i64)],
                )?
                .iter()
                .map(|r| {
                    let (at, held): (&str, &str) = (r.get(2), r.get(3));
                    Decision {
                        reviewer: r.get(0),
                        kind: r.get(1),
                        seconds: seconds_between(held, at),
                    }
                })
                .collect();
            Ok(QueueStats {
                held_now: held_now.max(0) as u64,
                oldest_held: q.get(1),
                per_day,
                top_clients,
                decisions,
            })
        })
    }
}
