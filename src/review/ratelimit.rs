//! Login rate limiting, in memory: failed attempts are counted per user
//! name and per client address in a fixed window; past the limit, further
//! attempts are refused without checking the password (so a guesser gets
//! nothing, and argon2 is not a lever for exhausting the CPU). A success
//! clears the user's count. Memory is bounded: when the table grows past
//! [`MAX_KEYS`], expired windows are dropped, and if that is not enough,
//! the oldest go.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per user name per window.
pub const PER_USER: u32 = 5;
/// Failures per client address per window (several people may share one).
pub const PER_ADDR: u32 = 20;
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Default)]
pub struct Limiter {
    table: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long until `user` from `addr` may try again, if blocked now.
    pub fn blocked(&self, user: &str, addr: &str, now: Instant) -> Option<Duration> {
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

    pub fn failed(&self, user: &str, addr: &str, now: Instant) {
        let mut t = self.table();
        for key in [format!("u:{user}"), format!("a:{addr}")] {
            let e = t.entry(key).or_insert((now, 0));
            if now.duration_since(e.0) >= WINDOW {
                *e = (now, 0);
            }
            e.1 += 1;
        }
        if t.len() > MAX_KEYS {
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
    }

    pub fn succeeded(&self, user: &str) {
        self.table().remove(&format!("u:{user}"));
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
    fn bounded() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            l.failed(&format!("u{i}"), "a", t0);
        }
        assert!(l.table().len() <= MAX_KEYS);
    }
}
