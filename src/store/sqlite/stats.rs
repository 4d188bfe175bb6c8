//! The dashboard's aggregates in SQLite (see `store::stats` for what they
//! mean and why they stay cheap): each query is bounded by the queue's
//! index or the window's, which the test below checks in the query plan.

use super::super::stats::{seconds_between, Decision, QueueStats, DECISIONS_CAP, TOP};
use super::super::StoreError;
use super::SqliteStore;
use rusqlite::params;

/// The queue now: one count and one minimum over `held_status`.
pub(super) const QUEUE: &str = "SELECT count(*), min(received_at) FROM held WHERE status = 'held'";

/// The oldest held message alone: one seek at the start of `held_status`.
const OLDEST: &str = "SELECT min(received_at) FROM held WHERE status = 'held'";

/// Holds per UTC day and rule in the window (`held_received`).
const PER_DAY: &str = "SELECT substr(h.received_at, 1, 10) AS day, r.value, count(*)
     FROM held h, json_each(h.rules) r
     WHERE h.received_at >= ?1
     GROUP BY day, r.value";

/// The clients held most in the window (`held_received`).
const TOP_CLIENTS: &str = "SELECT c.value, count(*) AS n
     FROM held h, json_each(h.clients) c
     WHERE h.received_at >= ?1
     GROUP BY c.value ORDER BY n DESC, c.value LIMIT ?2";

/// Decisions in the window (`audit_decided`), each with its message's hold
/// time (the primary key), newest first.
const DECISIONS: &str = "SELECT a.actor, a.kind, a.at, h.received_at
     FROM audit a JOIN held h
       ON h.id = CASE WHEN json_valid(a.details) THEN json_extract(a.details, '$.message') END
     WHERE a.kind IN ('release', 'reject') AND a.at >= ?1
     ORDER BY a.at DESC LIMIT ?2";

impl SqliteStore {
    pub(super) fn oldest_held_in(&self) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        let oldest = conn.query_row(OLDEST, [], |r| r.get(0))?;
        Ok(oldest)
    }

    pub(super) fn queue_stats_in(&self, since: &str) -> Result<QueueStats, StoreError> {
        let conn = self.conn();
        let (held_now, oldest_held): (i64, Option<String>) =
            conn.query_row(QUEUE, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut stmt = conn.prepare(PER_DAY)?;
        let per_day = stmt
            .query_map([since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64))
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare(TOP_CLIENTS)?;
        let top_clients = stmt
            .query_map(params![since, TOP as i64], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare(DECISIONS)?;
        let decisions = stmt
            .query_map(params![since, DECISIONS_CAP as i64], |r| {
                let (at, held): (String, String) = (r.get(2)?, r.get(3)?);
                Ok(Decision {
                    reviewer: r.get(0)?,
                    kind: r.get(1)?,
                    seconds: seconds_between(&held, &at),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(QueueStats {
            held_now: held_now.max(0) as u64,
            oldest_held,
            per_day,
            top_clients,
            decisions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand (`cargo test --lib million -- --ignored --nocapture`): a
    /// million held rows, 200,000 of them still held and 10,000 inside the
    /// window; prints how long the dashboard's store call takes.
    #[test]
    #[ignore]
    fn a_million_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("s.db"), &dir.path().join("k"), "t").unwrap();
        let now = chrono::Utc::now();
        let recent =
            (now - chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        store
            .conn()
            .execute_batch(&format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
                 INSERT INTO held (id, received_at, updated_at, status, envelope, action, rules,
                                   size, raw_nonce, raw, verdict_nonce, verdict, clients)
                 SELECT printf('m%07d', i),
                        CASE WHEN i > 990000 THEN '{recent}'
                             ELSE printf('2025-%02d-%02dT10:00:00.000Z', i % 12 + 1, i % 28 + 1) END,
                        '2025-01-01T00:00:00.000Z',
                        CASE WHEN i % 5 = 0 THEN 'held' ELSE 'released' END,
                        '{{}}', 'hold', printf('[\"rule-%d\"]', i % 7), 10, x'', x'', x'', x'',
                        printf('[\"C-%d\"]', i % 50)
                 FROM n;"
            ))
            .unwrap();
        let since = crate::store::stats::window_start(&now.to_rfc3339()).unwrap();
        let t = std::time::Instant::now();
        let st = store.queue_stats_in(&since).unwrap();
        eprintln!(
            "queue_stats over 1,000,000 rows: {:?} (held {}, holds in window {})",
            t.elapsed(),
            st.held_now,
            st.per_day.iter().map(|r| r.2).sum::<u64>()
        );
        let t = std::time::Instant::now();
        let oldest = store.oldest_held_in().unwrap();
        eprintln!("oldest_held: {:?} ({oldest:?})", t.elapsed());
        assert_eq!(st.held_now, 200_000);
    }

    /// No query walks a whole table: each reads through an index (a
    /// `SEARCH`), so a million held rows outside the window cost nothing.
    #[test]
    fn every_aggregate_reads_through_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("s.db"), &dir.path().join("k"), "t").unwrap();
        let conn = store.conn();
        for (sql, want) in [
            (QUEUE, "held_status"),
            (OLDEST, "held_status"),
            (PER_DAY, "held_received"),
            (TOP_CLIENTS, "held_received"),
            (DECISIONS, "audit_decided"),
        ] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let n = stmt.parameter_count();
            let args: Vec<String> = (0..n).map(|_| "2026-01-01".to_string()).collect();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(plan.contains(want), "{sql}\n{plan}");
            for line in plan.lines() {
                let whole = line.starts_with("SCAN h") || line.starts_with("SCAN a");
                let whole = whole || line == "SCAN held" || line == "SCAN audit";
                assert!(!whole, "a whole-table scan in {sql}:\n{plan}");
            }
        }
    }
}
