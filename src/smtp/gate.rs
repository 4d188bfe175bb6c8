//! `[smtp] max_scanning_bytes`: how many bytes of messages may be scanned
//! and settled at once (issue 14). Extraction makes copies of a message's
//! parts, so twenty 100 MB messages finishing DATA together would need
//! several gigabytes if all were scanned at once; here each waits for a
//! share of this budget in proportion to its size (a weighted semaphore,
//! first come first served), and peak memory follows the configuration,
//! not the traffic. A message larger than the whole budget takes all of
//! it: one message is always let through.
//!
//! The share is held from before a spooled message is read back into
//! memory until the act stage has answered (scan, then relay or hold).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB so that gigabytes fit a semaphore's
/// `u32` permits.
const UNIT: usize = 1024;

/// The shared gate; `None` inside: no cap.
#[derive(Debug)]
pub(crate) struct ScanGate {
    permits: Option<Arc<Semaphore>>,
    total: u32,
    waiting: AtomicUsize,
}

/// A message's share of the budget; given back on drop.
#[derive(Debug)]
pub(crate) struct Pass {
    _permit: Option<OwnedSemaphorePermit>,
}

impl ScanGate {
    /// A gate for `max_bytes` at once; 0: no cap.
    pub(crate) fn new(max_bytes: usize) -> Arc<ScanGate> {
        let total = u32::try_from(max_bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        let permits = (total > 0).then(|| Arc::new(Semaphore::new(total as usize)));
        Arc::new(ScanGate {
            permits,
            total,
            waiting: AtomicUsize::new(0),
        })
    }

    /// Waits until a message of `bytes` may be scanned.
    pub(crate) async fn enter(&self, bytes: usize) -> Pass {
        let Some(permits) = &self.permits else {
            return Pass { _permit: None };
        };
        let want = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total);
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _counted = Waiting(&self.waiting);
        let permit = permits
            .clone()
            .acquire_many_owned(want)
            .await
            .expect("the scan gate's semaphore is never closed");
        Pass {
            _permit: Some(permit),
        }
    }

    /// True when a message of `bytes` would wait now (for the log line).
    pub(crate) fn would_wait(&self, bytes: usize) -> bool {
        self.permits.as_ref().is_some_and(|p| {
            let want = bytes.div_ceil(UNIT).clamp(1, self.total as usize);
            p.available_permits() < want
        })
    }

    /// Messages waiting for their share now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// Counts a waiter out however its wait ends (granted or cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `f` once: `Some` if it finished without waiting.
    async fn now<F: std::future::Future>(f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            out = f => Some(out),
            () = std::future::ready(()) => None,
        }
    }

    #[tokio::test]
    async fn shares_follow_size_and_one_message_always_passes() {
        let gate = ScanGate::new(100 * UNIT);
        let a = now(gate.enter(60 * UNIT)).await.expect("fits");
        assert!(gate.would_wait(41 * UNIT));
        assert!(now(gate.enter(41 * UNIT)).await.is_none(), "60 + 41 > 100");
        assert_eq!(gate.waiting(), 0, "a cancelled wait is counted out");
        let b = now(gate.enter(40 * UNIT)).await.expect("60 + 40 fit");
        drop((a, b));
        // Larger than the whole budget: takes all of it, and passes alone.
        let big = now(gate.enter(1000 * UNIT))
            .await
            .expect("one always passes");
        assert!(now(gate.enter(1)).await.is_none());
        drop(big);
        assert!(now(gate.enter(1)).await.is_some());
    }

    #[tokio::test]
    async fn zero_is_no_cap() {
        let gate = ScanGate::new(0);
        let _a = now(gate.enter(usize::MAX)).await.expect("no cap");
        assert!(now(gate.enter(usize::MAX)).await.is_some());
        assert!(!gate.would_wait(usize::MAX));
    }
}
