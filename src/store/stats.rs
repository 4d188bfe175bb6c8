//! The quarantine in aggregate, for the compliance lead's dashboard (issue
//! #18) and `/metrics`: what the queue holds now, holds per day by rule,
//! the clients and rules held most, and how long reviewers take to decide.
//! Both backends answer [`super::Quarantine::queue_stats`] with the same
//! rows; what is computed from them (days without holds, the top rules,
//! percentiles) is computed here once, so the two cannot drift apart.
//!
//! **Bounded by design.** Every query reads either the `held` rows of the
//! queue (`status = 'held'`, the `held_status` index) or rows inside the
//! window (`received_at >= since`, the `held_received` index; decision
//! entries with `at >= since`, the `audit_decided` index on `(kind, at)`),
//! never the whole table: a million held rows from past years cost nothing;
//! what costs is what the window holds, and the decisions read are capped
//! at [`DECISIONS_CAP`] (the newest). The size of the queue is one index
//! count, as `/metrics` has always done. Measured on SQLite
//! (`sqlite::stats::tests::a_million_rows`, by hand, debug build on a busy
//! 2-core machine): 1,000,000 rows, 200,000 of them held and 10,000 in the
//! window, 72 ms for the whole dashboard; the oldest held, 0.1 ms. On
//! PostgreSQL (`tests/it/dashboard.rs`, `a_million_rows_on_postgres`, the
//! same rows, vacuumed): 173 ms, most of it counting the 200,000 held;
//! the oldest held, 0.5 ms.
//!
//! **Decision times come from the audit trail**, not from the `held` row:
//! the `release` or `reject` entry is written in the very transaction that
//! records the reviewer's decision, with the reviewer as its actor, and is
//! never changed afterwards. The row's `updated_at` is not exact: for a
//! release it moves again when the next hop accepts (`released`), after a
//! failed relay (`release-failed`), on a four-eyes approval and at expiry;
//! and `reviewed_by` is overwritten by a later attempt. The hold's time is
//! the row's `received_at`, written in the transaction of the `verdict`
//! entry. A release that failed and was released again is two decisions.

use serde::Serialize;

/// How many days the dashboard looks back.
pub const WINDOW_DAYS: u32 = 30;
/// How many clients (and rules) the "most held" charts show.
pub const TOP: usize = 8;
/// The most decisions read for the percentiles (the newest in the window):
/// a bound on memory and time whatever the review volume.
pub const DECISIONS_CAP: usize = 50_000;

/// What the store answers for a window (`since`, RFC 3339, UTC).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueStats {
    /// Messages `held` now (the queue).
    pub held_now: u64,
    /// When the oldest of them was received (RFC 3339), if any.
    pub oldest_held: Option<String>,
    /// Holds in the window per UTC day (`YYYY-MM-DD`) and rule: a message
    /// held by two rules counts under each.
    pub per_day: Vec<(String, String, u64)>,
    /// Clients most often mentioned by messages held in the window, by id,
    /// most first (at most [`TOP`]).
    pub top_clients: Vec<(String, u64)>,
    /// Each decision in the window: reviewer, `release` or `reject`, and
    /// seconds from hold to decision (the newest [`DECISIONS_CAP`]).
    pub decisions: Vec<Decision>,
}

/// One reviewer's decision on one held message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Who decided (the audit entry's actor).
    pub reviewer: String,
    /// `release` or `reject`.
    pub kind: String,
    /// From the hold to the decision.
    pub seconds: u64,
}

/// Seconds from `held` to `decided` (both RFC 3339); 0 when the clock
/// went backwards or a time does not parse.
pub(crate) fn seconds_between(held: &str, decided: &str) -> u64 {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(held), parse(decided)) {
        (Some(h), Some(d)) => (d - h).num_seconds().max(0) as u64,
        _ => 0,
    }
}

/// The start of the window that ends on `now`'s UTC day and spans
/// [`WINDOW_DAYS`] days, as the stored times write it (midnight UTC).
pub fn window_start(now: &str) -> Option<String> {
    let days = window_days(now)?;
    Some(format!("{}T00:00:00.000Z", days.first()?))
}

/// The window's days, oldest first (`YYYY-MM-DD`), ending on `now`'s day.
pub fn window_days(now: &str) -> Option<Vec<String>> {
    let today = chrono::DateTime::parse_from_rfc3339(now)
        .ok()?
        .with_timezone(&chrono::Utc)
        .date_naive();
    let days = (0..WINDOW_DAYS)
        .rev()
        .map(|back| (today - chrono::Days::new(u64::from(back))).to_string())
        .collect();
    Some(days)
}

/// Holds per day by rule laid out for a chart: for each of `days`, the
/// count of each rule in `rules` order (0 for a day without holds).
pub fn day_matrix(stats: &QueueStats, days: &[String], rules: &[String]) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0; rules.len()]; days.len()];
    for (day, rule, n) in &stats.per_day {
        let (Some(d), Some(r)) = (
            days.iter().position(|x| x == day),
            rules.iter().position(|x| x == rule),
        ) else {
            continue;
        };
        m[d][r] += n;
    }
    m
}

/// Rules by how many holds they made in the window, most first, ties by
/// name.
pub fn top_rules(stats: &QueueStats) -> Vec<(String, u64)> {
    let mut by: std::collections::BTreeMap<&str, u64> = Default::default();
    for (_, rule, n) in &stats.per_day {
        *by.entry(rule).or_default() += n;
    }
    let mut v: Vec<(String, u64)> = by.into_iter().map(|(r, n)| (r.into(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// One reviewer's decision times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerTimes {
    /// The reviewer.
    pub reviewer: String,
    /// How many decisions.
    pub decisions: u64,
    /// Median seconds from hold to decision.
    pub median: u64,
    /// 90th percentile.
    pub p90: u64,
}

/// Median and 90th percentile per reviewer (nearest rank: a value some
/// decision really took), most decisions first.
pub fn by_reviewer(decisions: &[Decision]) -> Vec<ReviewerTimes> {
    let mut by: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    for d in decisions {
        by.entry(&d.reviewer).or_default().push(d.seconds);
    }
    let mut v: Vec<ReviewerTimes> = by
        .into_iter()
        .map(|(reviewer, mut secs)| {
            secs.sort_unstable();
            ReviewerTimes {
                reviewer: reviewer.into(),
                decisions: secs.len() as u64,
                median: nearest_rank(&secs, 50),
                p90: nearest_rank(&secs, 90),
            }
        })
        .collect();
    v.sort_by(|a, b| {
        b.decisions
            .cmp(&a.decisions)
            .then_with(|| a.reviewer.cmp(&b.reviewer))
    });
    v
}

/// The `pct`th percentile of sorted `v` by nearest rank (0 for none).
fn nearest_rank(v: &[u64], pct: usize) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = (pct * v.len()).div_ceil(100).max(1);
    v[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let d = |r: &str, s| Decision {
            reviewer: r.into(),
            kind: "release".into(),
            seconds: s,
        };
        let mut all: Vec<Decision> = (1..=10).map(|s| d("rita", s * 60)).collect();
        all.push(d("ravi", 5));
        let got = by_reviewer(&all);
        assert_eq!(got[0].reviewer, "rita");
        assert_eq!(
            (got[0].decisions, got[0].median, got[0].p90),
            (10, 300, 540)
        );
        assert_eq!((got[1].decisions, got[1].median, got[1].p90), (1, 5, 5));
        assert_eq!(nearest_rank(&[], 50), 0);
        assert_eq!(nearest_rank(&[1, 2], 50), 1);
        assert_eq!(nearest_rank(&[1, 2], 90), 2);
    }

    #[test]
    fn the_window_is_thirty_utc_days_ending_today() {
        let now = "2026-03-01T10:00:00.000Z";
        let days = window_days(now).unwrap();
        assert_eq!(days.len(), 30);
        assert_eq!(days[0], "2026-01-31");
        assert_eq!(days[29], "2026-03-01");
        assert_eq!(window_start(now).unwrap(), "2026-01-31T00:00:00.000Z");
        assert_eq!(window_start("not a time"), None);
    }

    #[test]
    fn matrix_and_top_rules() {
        let stats = QueueStats {
            per_day: vec![
                ("2026-03-01".into(), "a".into(), 2),
                ("2026-03-01".into(), "b".into(), 3),
                ("2026-02-28".into(), "a".into(), 4),
                ("2025-01-01".into(), "a".into(), 9),
            ],
            ..Default::default()
        };
        let top = top_rules(&stats);
        assert_eq!(top, [("a".to_string(), 15), ("b".to_string(), 3)]);
        let days = ["2026-02-28".to_string(), "2026-03-01".to_string()];
        let rules = ["b".to_string(), "a".to_string()];
        assert_eq!(day_matrix(&stats, &days, &rules), [[0, 4], [3, 2]]);
        assert_eq!(
            seconds_between("2026-03-01T10:00:00Z", "2026-03-01T11:00:00.5Z"),
            3600
        );
        assert_eq!(
            seconds_between("2026-03-01T10:00:00Z", "2026-03-01T09:00:00Z"),
            0
        );
    }
}
