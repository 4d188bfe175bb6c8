//! Counters for `/metrics` (Prometheus text format): messages by action,
//! scan and relay time, reloads. Plain atomics: no registry, no locks on
//! the message path. Gauges that live elsewhere (queue size, dictionary
//! sizes) are read at scrape time by the caller.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The outcomes a message can have, as counted.
pub const OUTCOMES: [&str; 6] = ["pass", "encrypt", "hold", "reject", "tempfail", "refused"];

#[derive(Debug, Default)]
pub struct Metrics {
    messages: [AtomicU64; OUTCOMES.len()],
    scan_ms_sum: AtomicU64,
    scan_count: AtomicU64,
    relay_ms_sum: AtomicU64,
    relay_count: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

impl Metrics {
    pub fn message(&self, outcome: &str) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.messages[i].fetch_add(1, Relaxed);
        }
    }

    pub fn scan(&self, ms: u64) {
        self.scan_ms_sum.fetch_add(ms, Relaxed);
        self.scan_count.fetch_add(1, Relaxed);
    }

    pub fn relay(&self, ms: u64) {
        self.relay_ms_sum.fetch_add(ms, Relaxed);
        self.relay_count.fetch_add(1, Relaxed);
    }

    pub fn reload(&self, ok: bool) {
        if ok {
            self.reloads.fetch_add(1, Relaxed);
        } else {
            self.reload_failures.fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus exposition, with the gauges the caller read.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
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
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}
