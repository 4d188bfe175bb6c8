//! Undo-send (issue #18, DESIGN §7): a message held under `delay_minutes`
//! (or `[policy] delay_external_minutes`) goes by itself at its due time,
//! unless its sender cancelled it through the link in their notice or a
//! reviewer decided first. Every node runs this job; the release itself is
//! the reviewer's exactly-once release (`held → releasing` commits first),
//! so when two nodes find the same message due, one sends it and the other
//! is refused by the store.
//!
//! The `due_at` column only says where to look. Before sending, the job
//! opens the record and reads the delay from its sealed verdict, and the
//! due time from the sealed receipt time: someone who can edit the
//! database but not read the key cannot make a held message go.

use super::release::{self, ReleaseError};
use crate::check::HeldVerdict;
use crate::engine::Engine;
use crate::store::{Handle, HeldMessage, StoreError};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;

/// Who the trail names for a release at the due time.
pub const ACTOR: &str = "undo-send";

/// How many due messages one round takes.
const BATCH: usize = 16;

/// Looks for due messages every second and releases each.
pub async fn run(live: Arc<ArcSwap<Engine>>, store: Handle) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let due = match store.run(|st| st.due(BATCH)).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read due messages; trying again");
                continue;
            }
        };
        for id in due {
            let engine = live.load_full();
            release_if_due(&engine, &store, &id).await;
        }
    }
}

/// Releases `id` when its sealed verdict says it was delayed and the
/// delay has passed since its sealed receipt time, by the database's clock.
async fn release_if_due(engine: &Engine, store: &Handle, id: &str) {
    let key = id.to_string();
    let opened = store.run(move |st| Ok((st.get(&key)?, st.db_now()?))).await;
    let (msg, now) = match opened {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(id, error = %e, "a due message cannot be opened; it stays held");
            return;
        }
    };
    if !due_by_seal(&msg, &now) {
        tracing::warn!(
            id,
            "due by its column but not by its sealed verdict; it stays held"
        );
        return;
    }
    let comment = "the undo-send delay passed without a cancellation";
    match release::release(&engine.config, store.clone(), id, ACTOR, Some(comment)).await {
        Ok(_) => tracing::info!(id, "released at its due time"),
        Err(ReleaseError::Store(StoreError::WrongStatus { .. })) => {
            tracing::debug!(
                id,
                "decided meanwhile (cancelled, reviewed, or another node)"
            )
        }
        Err(e) => tracing::warn!(id, error = %e, "release at the due time failed"),
    }
}

/// The sealed verdict's delay after the sealed receipt time is `now` or
/// earlier. (Times are RFC 3339 UTC as the store writes them.)
fn due_by_seal(msg: &HeldMessage, now: &str) -> bool {
    let Some(delay) = HeldVerdict::parse(&msg.verdict_json).delay() else {
        return false;
    };
    crate::store::held::due_at(&msg.summary.received_at, Some(delay))
        .is_some_and(|due| due.as_str() <= now)
}
