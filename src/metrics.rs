//! Counters for `/metrics` (Prometheus text format): messages by action,
//! scan and relay time, reloads. Plain atomics: no registry, no locks on
//! the message path. Gauges that live elsewhere (queue size, dictionary
//! sizes) are read at scrape time by the caller.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

/// The outcomes a message can have, as counted.
pub(crate) const OUTCOMES: [&str; 6] = ["pass", "encrypt", "hold", "reject", "tempfail", "refused"];

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    messages: [AtomicU64; OUTCOMES.len()],
    scan_ms_sum: AtomicU64,
    scan_count: AtomicU64,
    relay_ms_sum: AtomicU64,
    relay_count: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    /// The current run of messages answered 4xx with none taken in between:
    /// when it began (monotonic milliseconds + 1; 0 while there is none)
    /// and how long it is. An outage the sending MTA rides out in its queue
    /// turns into bounces after its `maximal_queue_lifetime` (Postfix: 5
    /// days); this is what an alert watches, days before that.
    streak_since: AtomicU64,
    streak_messages: AtomicU64,
}

/// Milliseconds on the monotonic clock since the first call: a streak's
/// length must not jump with the wall clock.
fn monotonic_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl Metrics {
    pub(crate) fn message(&self, outcome: &str) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.messages[i].fetch_add(1, Relaxed);
        }
        if outcome == "tempfail" {
            let now = monotonic_ms() + 1;
            let _ = self.streak_since.compare_exchange(0, now, Relaxed, Relaxed);
            self.streak_messages.fetch_add(1, Relaxed);
        } else {
            self.streak_since.store(0, Relaxed);
            self.streak_messages.store(0, Relaxed);
        }
    }

    /// Seconds since the current run of 4xx answers began (0: none).
    fn streak_seconds(&self) -> f64 {
        match self.streak_since.load(Relaxed) {
            0 => 0.0,
            since => (monotonic_ms() + 1).saturating_sub(since) as f64 / 1000.0,
        }
    }

    pub(crate) fn scan(&self, ms: u64) {
        self.scan_ms_sum.fetch_add(ms, Relaxed);
        self.scan_count.fetch_add(1, Relaxed);
    }

    pub(crate) fn relay(&self, ms: u64) {
        self.relay_ms_sum.fetch_add(ms, Relaxed);
        self.relay_count.fetch_add(1, Relaxed);
    }

    pub(crate) fn reload(&self, ok: bool) {
        if ok {
            self.reloads.fetch_add(1, Relaxed);
        } else {
            self.reload_failures.fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus exposition, with the gauges the caller read.
    pub(crate) fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        out.push_str("# TYPE matterwall_messages_total counter\n");
        for (i, o) in OUTCOMES.iter().enumerate() {
            let n = self.messages[i].load(Relaxed);
            let _ = writeln!(out, "matterwall_messages_total{{outcome=\"{o}\"}} {n}");
        }
        let summaries = [
            (
                "matterwall_scan_milliseconds",
                &self.scan_ms_sum,
                &self.scan_count,
            ),
            (
                "matterwall_relay_milliseconds",
                &self.relay_ms_sum,
                &self.relay_count,
            ),
        ];
        for (name, sum, count) in summaries {
            let _ = writeln!(out, "# TYPE {name} summary");
            let _ = writeln!(out, "{name}_sum {}", sum.load(Relaxed));
            let _ = writeln!(out, "{name}_count {}", count.load(Relaxed));
        }
        let _ = writeln!(out, "# TYPE matterwall_reloads_total counter");
        let _ = writeln!(
            out,
            "matterwall_reloads_total{{result=\"ok\"}} {}",
            self.reloads.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "matterwall_reloads_total{{result=\"refused\"}} {}",
            self.reload_failures.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP matterwall_tempfail_streak_seconds Time since every message began to get 4xx (0: the last one was taken)\n\
             # TYPE matterwall_tempfail_streak_seconds gauge\n\
             matterwall_tempfail_streak_seconds {:.3}\n\
             # HELP matterwall_tempfail_streak_messages Messages answered 4xx in a row\n\
             # TYPE matterwall_tempfail_streak_messages gauge\n\
             matterwall_tempfail_streak_messages {}",
            self.streak_seconds(),
            self.streak_messages.load(Relaxed)
        );
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}
