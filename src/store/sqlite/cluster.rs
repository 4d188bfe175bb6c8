//! [`Cluster`] for the embedded store: one node, so the database's clock is
//! this machine's, a job claim is a row in `jobs`, and review changes made
//! elsewhere (by the CLI) show only through the generation number.

use super::super::{Cluster, StoreError, REVIEW_KINDS};
use super::{now, SqliteStore};
use rusqlite::{params, Connection, OptionalExtension};
use std::time::Duration;

/// Whether a claim made at `last` is still within `period` of `now`.
pub(crate) fn claimed_recently(last: &str, now: &str, period: Duration) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(last), parse(now), chrono::Duration::from_std(period)) {
        (Some(l), Some(n), Ok(p)) => n < l + p,
        // An unreadable claim is not honoured: the job runs.
        _ => false,
    }
}

/// Claims the job `name` for `node` in the caller's transaction (see
/// [`Cluster::claim_job`]).
pub(super) fn claim_in(
    tx: &Connection,
    name: &str,
    period: Duration,
    node: &str,
) -> Result<bool, StoreError> {
    let at = now();
    let last: Option<String> = tx
        .query_row("SELECT claimed_at FROM jobs WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    if last.is_some_and(|l| claimed_recently(&l, &at, period)) {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO jobs (name, claimed_at, node) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET claimed_at = excluded.claimed_at,
                                         node = excluded.node",
        params![name, at, node],
    )?;
    Ok(true)
}

impl Cluster for SqliteStore {
    fn node(&self) -> &str {
        &self.node
    }

    fn sign_link(&self, msg: &[u8]) -> String {
        self.sealer.link_mac(msg)
    }

    fn link_signed(&self, msg: &[u8], tag: &str) -> bool {
        self.sealer.link_mac_ok(msg, tag)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn db_now(&self) -> Result<String, StoreError> {
        Ok(now())
    }

    fn claim_job(&self, name: &str, period: Duration) -> Result<bool, StoreError> {
        self.write(|tx| claim_in(tx, name, period, &self.node))
    }

    fn review_generation(&self) -> Result<u64, StoreError> {
        let seq: i64 = self.conn().query_row(
            &format!("SELECT COALESCE(MAX(seq), 0) FROM audit WHERE kind IN ({REVIEW_KINDS})"),
            [],
            |r| r.get(0),
        )?;
        Ok(seq.max(0) as u64)
    }

    fn wait_review_change(&self, _timeout: Duration) -> Result<bool, StoreError> {
        // No other node to hear from, so nothing to wait for here: the
        // caller pauses on its own (abortable) timer, and the generation
        // covers the CLI.
        Ok(false)
    }
}
