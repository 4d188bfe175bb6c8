//! [`Cluster`] on PostgreSQL: the database's clock, job claims that one
//! node wins (a row per job, updated under the write lock), and review
//! changes heard through LISTEN/NOTIFY on a connection of its own (the
//! audit insert trigger notifies `matterwall_review`).

use super::super::{Cluster, StoreError, REVIEW_KINDS};
use super::{PgStore, NOW};
use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::Client;
use std::time::Duration;

/// Claims the job `name` for `node` in the caller's transaction (see
/// [`Cluster::claim_job`]).
pub(super) fn claim_in(
    tx: &mut Client,
    name: &str,
    period: Duration,
    node: &str,
) -> Result<bool, StoreError> {
    let period = period.as_secs_f64();
    // The claim and the clock are the database's: no node's own clock
    // decides whether another node already ran the job.
    let n = tx.execute(
        &format!(
            "INSERT INTO jobs (name, claimed_at, node) VALUES ($1, {NOW}, $2)
             ON CONFLICT (name) DO UPDATE SET claimed_at = excluded.claimed_at,
                                             node = excluded.node
             WHERE jobs.claimed_at::timestamptz
                   <= clock_timestamp() - make_interval(secs => $3)"
        ),
        &[&name, &node, &period],
    )?;
    Ok(n == 1)
}

impl Cluster for PgStore {
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
        self.with(|c| Ok(c.batch_execute("SELECT 1")?))
    }

    fn db_now(&self) -> Result<String, StoreError> {
        self.with(Self::now_in)
    }

    fn claim_job(&self, name: &str, period: Duration) -> Result<bool, StoreError> {
        self.write(|tx| claim_in(tx, name, period, &self.node))
    }

    fn review_generation(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let seq: i64 = c
                .query_one(
                    &format!(
                        "SELECT COALESCE(MAX(seq), 0) FROM audit WHERE kind IN ({REVIEW_KINDS})"
                    ),
                    &[],
                )?
                .get(0);
            Ok(seq.max(0) as u64)
        })
    }

    fn wait_review_change(&self, timeout: Duration) -> Result<bool, StoreError> {
        let mut slot = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|c| c.is_closed()) {
            *slot = None;
            let mut c = self.connect()?;
            c.batch_execute("LISTEN matterwall_review")?;
            *slot = Some(c);
        }
        let client = slot.as_mut().expect("connected above");
        let mut n = client.notifications();
        let first = n.timeout_iter(timeout).next();
        let heard = match first {
            Ok(heard) => heard.is_some(),
            Err(e) => {
                drop(n);
                *slot = None;
                return Err(e.into());
            }
        };
        // What else is already queued is the same news.
        while let Ok(Some(_)) = n.iter().next() {}
        Ok(heard)
    }
}
