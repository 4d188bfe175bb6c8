//! `[smtp] max_buffered_bytes`: a cap on the DATA bytes held in memory
//! across all sessions, so many large messages at once (Microsoft 365
//! allows 150 MB each) cannot exhaust memory. A session reserves its
//! message's declared `SIZE=` (or `max_message_size` without one) when the
//! client sends DATA; beyond the cap the body goes to the encrypted spool
//! instead ([`super::spool`]; `452 4.3.1` before any byte only when that
//! cannot be had), and the body is held to what was reserved (a `SIZE=`
//! that lies gets `552`). The reservation is given back when the message
//! is settled or the session ends. How many messages are scanned at once is
//! the scan gate's business ([`super::gate`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The shared budget; `max == 0` means no cap.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    max: usize,
    used: AtomicUsize,
}

/// Bytes reserved by one message; returned on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<Budget>,
    pub(crate) bytes: usize,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Arc<Budget> {
        Arc::new(Budget {
            max,
            used: AtomicUsize::new(0),
        })
    }

    /// Reserves `bytes`, or `None` if that would pass the cap.
    pub(crate) fn reserve(self: &Arc<Budget>, bytes: usize) -> Option<Reservation> {
        if self.max == 0 {
            return Some(Reservation {
                budget: self.clone(),
                bytes: 0,
            });
        }
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.checked_add(bytes).filter(|n| *n <= self.max)?;
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Some(Reservation {
                        budget: self.clone(),
                        bytes,
                    })
                }
                Err(now) => used = now,
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub(crate) fn is_capped(&self) -> bool {
        self.max > 0
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_capped_and_given_back() {
        let b = Budget::new(100);
        let r1 = b.reserve(60).unwrap();
        assert!(b.reserve(41).is_none());
        let r2 = b.reserve(40).unwrap();
        assert_eq!(b.used(), 100);
        drop(r1);
        assert_eq!(b.used(), 40);
        drop(r2);
        assert_eq!(b.used(), 0);
        let off = Budget::new(0);
        assert!(off.reserve(usize::MAX).is_some());
    }
}
