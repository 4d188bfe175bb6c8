//! Test-only fail points (issue 16): named places on the mail path where a
//! test can make the process die as `kill -9` would, to prove that every
//! message answered `250` survives a crash at that very step.
//!
//! Compiled in only with the `failpoints` cargo feature (`.ci/run` tests
//! with it); without it [`hit`] is an empty inline function, so a release
//! build carries no trigger at all. With it, `MATTERWALL_FAILPOINTS=NAME=N`
//! (comma-separated for several) kills the process with SIGKILL at the N-th
//! time the point `NAME` is reached; `NAME=panic:N` panics there instead, as
//! a parser bug would (RELIABILITY §2 item 12).
//!
//! The points, in the order a message meets them:
//! `data-received` (DATA read, before the scan), `after-scan` (verdict
//! known, nothing done), `hold-write` (inside the quarantine's transaction,
//! before commit), `audit-append` (inside an audit entry's transaction,
//! before commit), `next-hop-accepted` (the next hop said 250 to a relay,
//! our client not yet answered), `release-sent` (a release's message
//! accepted by the next hop, its record still `releasing`), `outbox-send`
//! (a notice from the outbox accepted by the next hop, not yet marked
//! sent), `scan` (inside the scan's blocking task, before extraction).

/// Marks the fail point `name`; see the module docs.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit(_name: &str) {}

/// Marks the fail point `name`; see the module docs.
#[cfg(feature = "failpoints")]
pub(crate) fn hit(name: &str) {
    armed::hit(name)
}

#[cfg(feature = "failpoints")]
mod armed {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    /// Each armed point: its name, the hit that triggers, whether it
    /// panics (else it kills), the hits so far.
    type Armed = Vec<(String, u64, bool, AtomicU64)>;

    fn armed() -> &'static Armed {
        static ARMED: OnceLock<Armed> = OnceLock::new();
        ARMED.get_or_init(|| {
            let spec = std::env::var("MATTERWALL_FAILPOINTS").unwrap_or_default();
            spec.split(',')
                .filter_map(|p| p.split_once('='))
                .filter_map(|(name, n)| {
                    let (panics, n) = match n.trim().strip_prefix("panic:") {
                        Some(n) => (true, n),
                        None => (false, n.trim()),
                    };
                    Some((name.trim().to_string(), n.parse().ok()?, panics))
                })
                .map(|(name, n, panics)| (name, n, panics, AtomicU64::new(0)))
                .collect()
        })
    }

    pub(crate) fn hit(name: &str) {
        for (armed, at, panics, seen) in armed() {
            if armed == name && seen.fetch_add(1, Ordering::SeqCst) + 1 == *at {
                if *panics {
                    panic!("fail point {name}: a planted panic");
                }
                // As `kill -9`: no unwinding, no destructor, no flush.
                let me = rustix::process::getpid();
                let _ = rustix::process::kill_process(me, rustix::process::Signal::KILL);
                std::process::abort();
            }
        }
    }
}
