//! The compliance lead's dashboard (issue #18; auditors and admins): what
//! the queue is doing, as charts — holds per day by rule over 30 days, the
//! queue's size and the age of its oldest message against the retention
//! deadline, time from hold to decision by reviewer (median and 90th
//! percentile), the clients and rules held most. Server-rendered SVG
//! (`review::charts`), no script.
//!
//! The numbers come from one store call ([`crate::store::Quarantine::queue_stats`]),
//! bounded by the 30-day window and read through indexes (`store::stats`
//! says how). They are counts and ids only: no subject, sender or matter
//! appears, so an auditor walled from a matter learns no more here than
//! the queue's own counts tell them.

use super::{render, when, Chrome, PageError};
use crate::act::sender_link;
use crate::review::access::Perm;
use crate::review::charts::{self, Bar, Series};
use crate::review::session::WebSession;
use crate::review::walls::{self, Wall};
use crate::review::ReviewState;
use crate::store::stats::{self, QueueStats, WINDOW_DAYS};
use crate::store::{AuditFilter, Store, StoreError};
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use axum::Extension;

/// The colour classes of the per-day chart's series (`style.css`): the
/// five rules that held most, then the rest together.
const CLASSES: [&str; 6] = ["c0", "c1", "c2", "c3", "c4", "c5"];

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    /// The window's first day (UTC).
    since: String,
    held_now: u64,
    /// The oldest held message's age (`3 d 4 h`), or a dash.
    oldest: String,
    holds: u64,
    decisions: usize,
    /// What the retention period means for the oldest message.
    deadline: String,
    per_day_svg: String,
    /// Each series of the per-day chart: name, colour class, holds.
    legend: Vec<(String, &'static str, u64)>,
    queue_svg: String,
    times_svg: String,
    clients_svg: String,
    rules_svg: String,
    /// Issue #18: sender releases in the window, newest first (at most
    /// [`SELF_RELEASES_SHOWN`]), and how many there were in all.
    self_released: Vec<SelfReleaseView>,
    self_released_total: usize,
}

/// How many sender releases the panel lists.
const SELF_RELEASES_SHOWN: usize = 10;

/// One sender release as the panel shows it.
struct SelfReleaseView {
    id: String,
    at: String,
    sender: String,
    /// `None` when the viewer is walled from the message by its matters
    /// column (or it is gone): the justification may name what the wall
    /// keeps from them.
    justification: Option<String>,
    /// Nobody has opened the message's page since the release.
    awaiting_look: bool,
}

pub(crate) async fn page(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
) -> Result<Html<String>, PageError> {
    w.require(Perm::Audit)?;
    // The database's clock: the window and the ages agree across nodes.
    let wall = walls::of(&s, &w.user);
    let (now, st, (self_released, self_released_total)) = s
        .store
        .run(move |st| {
            let now = st.db_now()?;
            let since = stats::window_start(&now)
                .ok_or_else(|| StoreError::Invalid(format!("the database's clock: {now}")))?;
            let released = self_released(st, &since, &wall)?;
            Ok((now, st.queue_stats(&since)?, released))
        })
        .await?;
    let engine = s.engine.load();
    let retention_days = engine.config.store.retention_days;
    let client_name = |id: &str| {
        let found = engine.config.dict.clients.iter().find(|c| c.id == id);
        found.map_or_else(|| id.to_string(), |c| format!("{} ({id})", c.name))
    };
    let days = stats::window_days(&now).unwrap_or_default();
    let (per_day_svg, legend) = per_day(&st, &days);
    let oldest_secs = st
        .oldest_held
        .as_deref()
        .map(|at| stats::seconds_between(at, &now));
    let page = DashboardPage {
        chrome: Chrome::new(&s, &w, "dashboard"),
        since: days.first().cloned().unwrap_or_default(),
        held_now: st.held_now,
        oldest: oldest_secs.map_or_else(|| "—".into(), span),
        holds: st.per_day_holds(),
        decisions: st.decisions.len(),
        deadline: deadline(retention_days),
        per_day_svg,
        legend,
        queue_svg: queue_chart(oldest_secs, retention_days),
        times_svg: times_chart(&st),
        clients_svg: count_chart(
            "clients-chart",
            "Clients mentioned by held mail, last 30 days",
            st.top_clients
                .iter()
                .map(|(id, n)| (client_name(id), *n))
                .collect(),
            "c1",
        ),
        rules_svg: count_chart(
            "rules-chart",
            "Rules that held mail, last 30 days",
            stats::top_rules(&st).into_iter().take(stats::TOP).collect(),
            "c0",
        ),
        self_released,
        self_released_total,
    };
    render(&page)
}

/// The sender releases since `since`: the newest few, each with whether
/// anyone opened its page afterwards (a `view` entry later in the trail),
/// and the count of all.
fn self_released(
    st: &dyn Store,
    since: &str,
    wall: &Wall,
) -> Result<(Vec<SelfReleaseView>, usize), StoreError> {
    let all = sender_link::self_releases(st, since, 10_000)?;
    let mut shown = Vec::new();
    for r in all.iter().take(SELF_RELEASES_SHOWN) {
        let views = AuditFilter {
            kind: Some("view".into()),
            message: Some(r.id.clone()),
            limit: 1,
            ..AuditFilter::default()
        };
        let looked = st
            .audit_query(&views)?
            .first()
            .is_some_and(|v| v.seq > r.seq);
        // The listing's columns, not the sealed content: ten held messages
        // of up to 150 MB each are not opened for one page view.
        let visible = st.listed(&r.id).is_ok_and(|m| !wall.blocks_summary(&m));
        shown.push(SelfReleaseView {
            id: r.id.clone(),
            at: when(&r.at),
            sender: r.sender.clone(),
            justification: visible.then(|| r.justification.clone()),
            awaiting_look: !looked,
        });
    }
    Ok((shown, all.len()))
}

impl QueueStats {
    /// Holds in the window, counting a message once per rule that held it.
    fn per_day_holds(&self) -> u64 {
        self.per_day.iter().map(|(_, _, n)| n).sum()
    }
}

/// The per-day stacked columns and their legend: the five rules that held
/// most, each in its colour, and the others as one series.
fn per_day(st: &QueueStats, days: &[String]) -> (String, Vec<(String, &'static str, u64)>) {
    let ranked = stats::top_rules(st);
    let rules: Vec<String> = ranked.iter().map(|(r, _)| r.clone()).collect();
    let full = stats::day_matrix(st, days, &rules);
    let shown = ranked.len().min(CLASSES.len() - 1);
    let folded = ranked.len() > shown;
    let matrix: Vec<Vec<u64>> = full
        .iter()
        .map(|d| {
            let mut row = d[..shown].to_vec();
            if folded {
                row.push(d[shown..].iter().sum());
            }
            row
        })
        .collect();
    let mut legend: Vec<(String, &'static str, u64)> = ranked[..shown]
        .iter()
        .zip(CLASSES)
        .map(|((r, n), c)| (r.clone(), c, *n))
        .collect();
    if folded {
        let rest = ranked[shown..].iter().map(|(_, n)| n).sum();
        legend.push(("other rules".into(), CLASSES[shown], rest));
    }
    let series: Vec<Series<'_>> = legend
        .iter()
        .map(|(name, class, _)| Series { name, class })
        .collect();
    let title = format!("Holds per day by rule, last {WINDOW_DAYS} days");
    let svg = charts::columns("per-day-chart", &title, days, &series, &matrix);
    (svg, legend)
}

/// The oldest held message's age against the retention period, after
/// which it expires unreviewed (its content destroyed, never sent).
fn queue_chart(oldest: Option<u64>, retention_days: u32) -> String {
    let limit = u64::from(retention_days) * 86_400;
    let rows: Vec<Bar> = oldest
        .map(|age| Bar {
            label: "Oldest held message".into(),
            value: age as f64,
            back: (limit > 0).then_some(limit as f64),
            note: if limit > 0 {
                format!("{} of {retention_days} d", span(age))
            } else {
                span(age)
            },
            // Past three quarters of the deadline, the bar turns amber.
            class: if limit > 0 && age * 4 >= limit * 3 {
                "late"
            } else {
                "c0"
            },
        })
        .into_iter()
        .collect();
    let title = "The oldest held message's age against the retention period";
    charts::bars("queue-chart", title, &rows, "The queue is empty")
}

fn deadline(retention_days: u32) -> String {
    if retention_days == 0 {
        "Retention is off ([store] retention_days = 0): held mail waits until reviewed.".into()
    } else {
        format!(
            "Held mail expires unreviewed after {retention_days} days ([store] retention_days): \
             its content is destroyed and it is never sent. The light bar is that deadline."
        )
    }
}

fn times_chart(st: &QueueStats) -> String {
    let rows: Vec<Bar> = stats::by_reviewer(&st.decisions)
        .into_iter()
        .take(12)
        .map(|r| Bar {
            label: format!(
                "{} · {} decision{}",
                r.reviewer,
                r.decisions,
                if r.decisions == 1 { "" } else { "s" }
            ),
            value: r.median as f64,
            back: Some(r.p90 as f64),
            note: format!("{} · p90 {}", span(r.median), span(r.p90)),
            class: "c0",
        })
        .collect();
    charts::bars(
        "times-chart",
        "Time from hold to decision by reviewer: median, and 90th percentile behind it",
        &rows,
        "No decisions in these days",
    )
}

fn count_chart(id: &str, title: &str, counts: Vec<(String, u64)>, class: &'static str) -> String {
    let rows: Vec<Bar> = counts
        .into_iter()
        .map(|(label, n)| Bar {
            label,
            value: n as f64,
            back: None,
            note: n.to_string(),
            class,
        })
        .collect();
    charts::bars(id, title, &rows, "Nothing held in these days")
}

/// A duration as a person reads it: `40 s`, `25 min`, `3 h 10 min`, `2 d 4 h`.
pub(crate) fn span(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{m} min"),
        3600..=86_399 if m == 0 => format!("{h} h"),
        3600..=86_399 => format!("{h} h {m} min"),
        _ if h == 0 => format!("{d} d"),
        _ => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        let got = [0, 59, 60, 3599, 3600, 3660, 86_400, 90_000, 200_000].map(span);
        assert_eq!(
            got,
            [
                "0 s",
                "59 s",
                "1 min",
                "59 min",
                "1 h",
                "1 h 1 min",
                "1 d",
                "1 d 1 h",
                "2 d 7 h"
            ]
        );
    }

    #[test]
    fn six_rules_and_more_fold_into_other() {
        let rows = (0..7)
            .map(|i| ("2026-03-01".to_string(), format!("r{i}"), 10 - i))
            .collect();
        let st = QueueStats {
            per_day: rows,
            ..Default::default()
        };
        let (svg, legend) = per_day(&st, &["2026-03-01".to_string()]);
        let names: Vec<&str> = legend.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(names, ["r0", "r1", "r2", "r3", "r4", "other rules"]);
        assert_eq!(legend[5], ("other rules".into(), "c5", 5 + 4));
        assert!(svg.contains("other rules 9"), "{svg}");
    }

    #[test]
    fn the_queue_bar_turns_amber_near_the_deadline() {
        assert!(queue_chart(Some(80 * 86_400), 90).contains("class=\"late\""));
        assert!(!queue_chart(Some(86_400), 90).contains("class=\"late\""));
        assert!(queue_chart(None, 90).contains("The queue is empty"));
        assert!(queue_chart(Some(60), 0).contains("1 min"));
    }
}
