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
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who the trail names for a release at the due time.
pub const ACTOR: &str = "undo-send";

/// How many due messages one round takes.
const BATCH: usize = 16;

/// The first wait after a release at the due time failed (the next hop
/// refused or was down: the message is `held` again); doubled per failure.
const RETRY_FIRST: Duration = Duration::from_secs(30);
/// The longest wait between two tries of one message.
const RETRY_MOST: Duration = Duration::from_secs(15 * 60);

/// Looks for due messages every second and releases each. One whose
/// release failed waits before this node tries it again (doubling), so a
/// next hop that is down is not asked every second, nor the trail filled
/// with a `release` and `release-failed` pair per second.
pub async fn run(live: Arc<ArcSwap<Engine>>, store: Handle) {
    let mut waiting: HashMap<String, (Instant, Duration)> = HashMap::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let due = match store.run(|st| st.due(BATCH)).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read due messages; trying again");
                continue;
            }
        };
        waiting.retain(|id, _| due.contains(id));
        let now = Instant::now();
        for id in due {
            if waiting.get(&id).is_some_and(|(at, _)| *at > now) {
                continue;
            }
            let engine = live.load_full();
            if release_if_due(&engine, &store, &id).await == Outcome::TryLater {
                let wait = waiting
                    .get(&id)
                    .map_or(RETRY_FIRST, |(_, w)| (*w * 2).min(RETRY_MOST));
                waiting.insert(id, (now + wait, wait));
            }
        }
    }
}

/// What one look at a due message came to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Released, decided meanwhile, or left `releasing` for a person.
    Done,
    /// Still held: the release failed, or the record could not be read or
    /// is not due by its seal.
    TryLater,
}

/// Releases `id` when its sealed verdict says it was delayed and the
/// delay has passed since its sealed receipt time, by the database's clock.
async fn release_if_due(engine: &Engine, store: &Handle, id: &str) -> Outcome {
    let key = id.to_string();
    let opened = store.run(move |st| Ok((st.get(&key)?, st.db_now()?))).await;
    let (msg, now) = match opened {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(id, error = %e, "a due message cannot be opened; it stays held");
            return Outcome::TryLater;
        }
    };
    if !due_by_seal(&msg, &now) {
        tracing::warn!(
            id,
            "due by its column but not by its sealed verdict; it stays held"
        );
        return Outcome::TryLater;
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
        // Left `releasing` for a person, as every uncertain release is.
        Err(e @ ReleaseError::Uncertain { .. }) => {
            tracing::error!(id, error = %e, "release at the due time may or may not have gone")
        }
        Err(e) => {
            tracing::warn!(id, error = %e, "release at the due time failed; tried again later");
            return Outcome::TryLater;
        }
    }
    Outcome::Done
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
