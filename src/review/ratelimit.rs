//! Login rate limiting, in memory: failed attempts are counted per user
//! name and per client address in a fixed window; past the limit, further
//! attempts are refused without checking the password (so a guesser gets
//! nothing, and argon2 is not a lever for exhausting the CPU). A success
//! clears the user's count. Memory is bounded: when the table grows past
//! [`MAX_KEYS`], expired windows are dropped, and if that is not enough,
//! the oldest go.
//!
//! Refusals are counted, not each audited (issue #15): the first refusal of
//! a (user, address) pair opens a window and is written; the rest in that
//! window only count, and the count is handed back to be written with the
//! pair's next entry (its next refusal after the window, or its next attempt
//! once unblocked). A script hammering the form therefore adds one audit row
//! per window, not one per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per user name per window.
pub(crate) const PER_USER: u32 = 5;
/// Failures per client address per window (several people may share one).
pub(crate) const PER_ADDR: u32 = 20;
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    table: Mutex<HashMap<String, (Instant, u32)>>,
    /// Refusals per (user, address) pair: window start and count.
    refused: Mutex<HashMap<String, (Instant, u32)>>,
}

/// What to audit for one refused attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The first in a new window: write an entry, carrying how many were
    /// refused in the pair's previous window (0: none).
    Write { before: u32 },
    /// Counted into the open window; nothing written now.
    Counted,
}

impl Limiter {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long until `user` from `addr` may try again, if blocked now.
    pub(crate) fn blocked(&self, user: &str, addr: &str, now: Instant) -> Option<Duration> {
        let t = self.table();
        let wait = |key: String, max: u32| {
            t.get(&key).and_then(|&(start, n)| {
                let left = WINDOW
                    .checked_sub(now.duration_since(start))
                    .filter(|l| !l.is_zero())?;
                (n >= max).then_some(left)
            })
        };
        wait(format!("u:{user}"), PER_USER).max(wait(format!("a:{addr}"), PER_ADDR))
    }

    pub(crate) fn failed(&self, user: &str, addr: &str, now: Instant) {
        let mut t = self.table();
        for key in [format!("u:{user}"), format!("a:{addr}")] {
            let e = t.entry(key).or_insert((now, 0));
            if now.duration_since(e.0) >= WINDOW {
                *e = (now, 0);
            }
            e.1 += 1;
        }
        prune(&mut t, now);
    }

    /// Counts a refused attempt of `user` from `addr`: see [`Refusal`].
    pub(crate) fn refused(&self, user: &str, addr: &str, now: Instant) -> Refusal {
        let mut t = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{user}\0{addr}");
        let refusal = match t.get_mut(&key) {
            Some(e) if now.duration_since(e.0) < WINDOW => {
                e.1 += 1;
                return Refusal::Counted;
            }
            Some(e) => Refusal::Write { before: e.1 },
            None => Refusal::Write { before: 0 },
        };
        t.insert(key, (now, 1));
        prune(&mut t, now);
        refusal
    }

    /// Takes the refusal count of `user` from `addr` once it is no longer
    /// blocked: `Some(n)` if more were refused than the one entry written.
    pub(crate) fn take_refused(&self, user: &str, addr: &str) -> Option<u32> {
        let mut t = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        t.remove(&format!("{user}\0{addr}"))
            .map(|(_, n)| n)
            .filter(|&n| n > 1)
    }

    pub(crate) fn succeeded(&self, user: &str) {
        self.table().remove(&format!("u:{user}"));
    }
}

/// Bounds a table: expired windows go first, then the oldest.
fn prune(t: &mut HashMap<String, (Instant, u32)>, now: Instant) {
    if t.len() <= MAX_KEYS {
        return;
    }
    t.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
    while t.len() > MAX_KEYS {
        let oldest = t
            .iter()
            .min_by_key(|(_, (s, _))| *s)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => t.remove(&k),
            None => break,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_then_per_address() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..PER_USER {
            assert!(l.blocked("alice", "10.0.0.1", t0).is_none());
            l.failed("alice", "10.0.0.1", t0);
        }
        assert!(l.blocked("alice", "10.0.0.2", t0).is_some(), "per user");
        assert!(l.blocked("bob", "10.0.0.1", t0).is_none());
        assert!(
            l.blocked("alice", "x", t0 + WINDOW).is_none(),
            "window over"
        );
        for i in 0..PER_ADDR {
            l.failed(&format!("u{i}"), "10.0.0.9", t0);
        }
        assert!(l.blocked("carol", "10.0.0.9", t0).is_some(), "per address");
        l.succeeded("alice");
        assert!(l.blocked("alice", "10.0.0.2", t0).is_none());
    }

    #[test]
    fn refusals_one_entry_per_window_with_the_count() {
        let l = Limiter::default();
        let t0 = Instant::now();
        assert_eq!(l.refused("a", "x", t0), Refusal::Write { before: 0 });
        for _ in 0..99 {
            assert_eq!(l.refused("a", "x", t0), Refusal::Counted);
        }
        assert_eq!(l.refused("a", "y", t0), Refusal::Write { before: 0 });
        assert_eq!(
            l.refused("a", "x", t0 + WINDOW),
            Refusal::Write { before: 100 }
        );
        assert_eq!(l.refused("a", "x", t0 + WINDOW), Refusal::Counted);
        assert_eq!(l.take_refused("a", "x"), Some(2));
        assert_eq!(l.take_refused("a", "x"), None);
        assert_eq!(
            l.take_refused("a", "y"),
            None,
            "one refusal: already written"
        );
    }

    #[test]
    fn bounded() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            l.failed(&format!("u{i}"), "a", t0);
        }
        assert!(l.table().len() <= MAX_KEYS);
    }
}
