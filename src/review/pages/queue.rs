//! The queue: held mail filtered by client, matter, sender, rule and age,
//! sorted by column, a page at a time, with a count per status.

use super::{ago, href, render, size, when, Chrome, PageError};
use crate::review::access::Perm;
use crate::review::filter::{QueueParams, AGES};
use crate::review::session::WebSession;
use crate::review::ReviewState;
use crate::store::{HeldPage, HeldStatus, HeldSummary};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::Extension;

pub(crate) const PAGE_SIZE: usize = 25;
/// Up to this many clients the filter is a select box; beyond, a text box.
const MAX_CLIENT_CHOICES: usize = 500;

pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) received: String,
    pub(crate) ago: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) rules: Vec<String>,
    pub(crate) mentions: Vec<String>,
    pub(crate) size: String,
    pub(crate) status: HeldStatus,
    /// Four-eyes: "approved by X, awaiting a second reviewer".
    pub(crate) awaiting: Option<String>,
    /// Undo-send: "goes at 2026-12-03 10:00 UTC" while held.
    pub(crate) due: Option<String>,
}

pub(crate) struct Link {
    pub(crate) label: String,
    pub(crate) href: String,
    pub(crate) on: bool,
}

/// The filters as the form shows them back.
#[derive(Default, Clone)]
pub(crate) struct Filters {
    pub(crate) status: String,
    pub(crate) client: String,
    pub(crate) matter: String,
    pub(crate) sender: String,
    pub(crate) rule: String,
    pub(crate) age: String,
    pub(crate) sort: String,
    pub(crate) dir: String,
}

impl Filters {
    fn pairs(&self) -> [(&'static str, &str); 8] {
        [
            ("status", &self.status),
            ("client", &self.client),
            ("matter", &self.matter),
            ("sender", &self.sender),
            ("rule", &self.rule),
            ("age", &self.age),
            ("sort", &self.sort),
            ("dir", &self.dir),
        ]
    }

    /// This view's URL with one parameter changed.
    fn with(&self, key: &str, value: &str) -> String {
        let mut pairs = self.pairs();
        for p in pairs.iter_mut().filter(|p| p.0 == key) {
            p.1 = value;
        }
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        if key == "page" {
            all.push(("page", value));
        }
        href("/queue", &all)
    }
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<Row>,
    total: u64,
    /// Messages matching the filters that the user's ethical wall hides.
    hidden: u64,
    first: u64,
    last: u64,
    prev: Option<String>,
    next: Option<String>,
    tabs: Vec<Link>,
    columns: Vec<Link>,
    f: Filters,
    rules: Vec<String>,
    ages: Vec<(&'static str, &'static str)>,
    clients: Option<Vec<(String, String)>>,
    /// Issue #18: a scoped reviewer's scope, as words ("clients C-1").
    scope: Option<String>,
}

fn row(h: HeldSummary, now: chrono::DateTime<chrono::Utc>) -> Row {
    let mut mentions = h.clients;
    mentions.extend(h.matters);
    Row {
        received: when(&h.received_at),
        ago: ago(&h.received_at, now),
        to: h.to.join(", "),
        size: size(h.size),
        subject: if h.subject.is_empty() {
            "(no subject)".into()
        } else {
            h.subject
        },
        id: h.id,
        from: h.from,
        rules: h.rules,
        mentions,
        status: h.status,
        awaiting: h.awaiting,
        due: h
            .due_at
            .filter(|_| h.status == HeldStatus::Held)
            .map(|d| format!("goes at {}", super::when(&d))),
    }
}

pub(crate) async fn page(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    params: Result<Query<QueueParams>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    w.require(Perm::Read)?;
    let Query(mut p) = params.map_err(|e| PageError::bad(e.body_text()))?;
    // The queue opens on what needs a decision; "all" lifts the filter.
    let status = p
        .status
        .clone()
        .unwrap_or_else(|| HeldStatus::Held.as_str().into());
    p.status = Some(status.clone()).filter(|st| st != "all");
    let now = chrono::Utc::now();
    let q = p.to_query(now, Some(PAGE_SIZE)).map_err(PageError::bad)?;
    let (offset, limit) = (q.offset as u64, q.limit as u64);
    let page: HeldPage = crate::review::walls::query(&s, &w.user, q).await?;
    let counts = s.store.run(|st| st.status_counts()).await?;
    let f = Filters {
        status,
        client: p.client.unwrap_or_default(),
        matter: p.matter.unwrap_or_default(),
        sender: p.sender.unwrap_or_default(),
        rule: p.rule.unwrap_or_default(),
        age: p.age.unwrap_or_default(),
        sort: p.sort.unwrap_or_default(),
        dir: p.dir.unwrap_or_default(),
    };
    let engine = s.engine.load();
    let cfg = &engine.config;
    let shown = page.items.len() as u64;
    let view = QueuePage {
        chrome: Chrome::new(&s, &w, "queue"),
        total: page.total,
        hidden: page.hidden,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        prev: (offset > 0).then(|| f.with("page", &(offset / limit).to_string())),
        next: (offset + shown < page.total)
            .then(|| f.with("page", &(offset / limit + 2).to_string())),
        tabs: tabs(&f, &counts),
        columns: columns(&f),
        rows: page.items.into_iter().map(|h| row(h, now)).collect(),
        rules: engine.policy.rules.iter().map(|r| r.name.clone()).collect(),
        ages: AGES.to_vec(),
        clients: client_choices(cfg, &crate::review::walls::Wall::for_user(cfg, &w.user)),
        scope: w
            .user
            .scope
            .as_ref()
            .filter(|_| w.user.role == crate::store::Role::Reviewer)
            .map(|sc| sc.describe()),
        f,
    };
    render(&view)
}

/// The client filter's choices: the clients a scoped reviewer may see, or
/// all; `None` (a text box) when there are too many to list.
fn client_choices(
    cfg: &crate::config::Config,
    wall: &crate::review::walls::Wall,
) -> Option<Vec<(String, String)>> {
    let shown: Vec<(String, String)> = cfg
        .dict
        .clients
        .iter()
        .filter(|c| wall.allows_client(&c.id))
        .take(MAX_CLIENT_CHOICES + 1)
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    (shown.len() <= MAX_CLIENT_CHOICES).then_some(shown)
}

fn tabs(f: &Filters, counts: &[(HeldStatus, u64)]) -> Vec<Link> {
    let count = |st: HeldStatus| counts.iter().find(|c| c.0 == st).map_or(0, |c| c.1);
    let all: u64 = counts.iter().map(|c| c.1).sum();
    let tab = |st: HeldStatus| Link {
        label: format!("{} ({})", capital(st.as_str()), count(st)),
        href: f.with("status", st.as_str()),
        on: f.status == st.as_str(),
    };
    let mut out: Vec<Link> = [
        HeldStatus::Held,
        HeldStatus::Released,
        HeldStatus::Rejected,
        HeldStatus::Expired,
    ]
    .into_iter()
    .map(tab)
    .collect();
    // Releasing is a moment, not a place: its tab shows only while one is.
    if count(HeldStatus::Releasing) > 0 {
        out.push(tab(HeldStatus::Releasing));
    }
    out.push(Link {
        label: format!("All ({all})"),
        href: f.with("status", "all"),
        on: f.status == "all",
    });
    out
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The sortable columns: a link that sorts by it, flipping the direction
/// when it is already the sort column.
fn columns(f: &Filters) -> Vec<Link> {
    let current = if f.sort.is_empty() {
        "received"
    } else {
        &f.sort
    };
    let asc = f.dir == "asc";
    [
        ("received", "Received"),
        ("sender", "From"),
        ("size", "Size"),
        ("status", "Status"),
    ]
    .iter()
    .map(|(key, label)| {
        let on = current == *key;
        let dir = if on && !asc { "asc" } else { "desc" };
        let mut g = f.clone();
        g.sort = key.to_string();
        g.dir = dir.to_string();
        let arrow = match (on, asc) {
            (false, _) => "",
            (true, true) => " ▲",
            (true, false) => " ▼",
        };
        Link {
            label: format!("{label}{arrow}"),
            href: href("/queue", &g.pairs()),
            on,
        }
    })
    .collect()
}
