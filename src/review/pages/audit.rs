//! The audit log, newest first, filterable by kind, actor and message, and
//! a page that walks the whole chain (`audit verify` in the browser).

use super::{href, render, when, Chrome, PageError};
use crate::review::access::Perm;
use crate::review::session::WebSession;
use crate::review::ReviewState;
use crate::store::audit::{self, canonical};
use crate::store::checkpoint;
use crate::store::AuditFilter;
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::Extension;
use serde::Deserialize;

const PAGE_SIZE: usize = 50;

/// The kinds the filter offers (any other still shows under "all").
pub(crate) const KINDS: &[&str] = &[
    "verdict",
    "release",
    "released",
    "release-failed",
    "release-uncertain",
    "reject",
    "expired",
    "view",
    "download",
    "login",
    "login-failed",
    "logout",
    "reload",
    "waiver-added",
    "waiver-revoked",
    "user-added",
    "user-disabled",
    "user-enabled",
    "token-created",
];

pub(crate) struct EntryView {
    pub(crate) seq: u64,
    pub(crate) time: String,
    pub(crate) actor: String,
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) details: String,
    pub(crate) hash: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<EntryView>,
    /// Each kind the filter offers, and whether it is the one chosen.
    kinds: Vec<(&'static str, bool)>,
    actor: String,
    message: String,
    older: Option<String>,
    newest: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct AuditParams {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    message: String,
    before: Option<u64>,
}

pub(crate) async fn page(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    w.require(Perm::Audit)?;
    let Query(p) = params.map_err(|e| PageError::bad(e.body_text()))?;
    let opt = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let f = AuditFilter {
        kind: opt(&p.kind),
        actor: opt(&p.actor),
        message: opt(&p.message),
        before: p.before,
        limit: PAGE_SIZE,
    };
    let entries = s.store.run(move |st| st.audit_query(&f)).await?;
    let pairs = |before: &str| {
        href(
            "/audit",
            &[
                ("kind", &p.kind),
                ("actor", &p.actor),
                ("message", &p.message),
                ("before", before),
            ],
        )
    };
    let older = (entries.len() == PAGE_SIZE)
        .then(|| entries.last().map(|e| pairs(&e.seq.to_string())))
        .flatten();
    let page = AuditPage {
        chrome: Chrome::new(&s, &w, "audit"),
        newest: p.before.is_some().then(|| pairs("")),
        older,
        entries: entries
            .into_iter()
            .map(|e| EntryView {
                message: e.details["message"].as_str().unwrap_or("").to_string(),
                details: canonical(&e.details),
                seq: e.seq,
                time: when(&e.time),
                actor: e.actor,
                kind: e.kind,
                hash: e.hash.chars().take(12).collect(),
            })
            .collect(),
        kinds: KINDS.iter().map(|k| (*k, p.kind == *k)).collect(),
        actor: p.actor,
        message: p.message,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    intact: Option<u64>,
    broken: String,
    /// What the signed checkpoints say (`audit verify`'s second half).
    checkpoints: Checkpoints,
}

/// The checkpoint half of the verify page.
pub(crate) struct Checkpoints {
    /// False when never checkpointed: nothing to compare.
    pub(crate) any: bool,
    pub(crate) problems: Vec<String>,
    /// The newest authentic checkpoint's seq and time.
    pub(crate) newest: Option<(u64, String)>,
}

pub(crate) async fn verify(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
) -> Result<Html<String>, PageError> {
    w.require(Perm::Audit)?;
    let paths = s.engine.load().config.checkpoints().paths;
    let (result, report) = s
        .store
        .run(move |st| {
            let chain = audit::verify(st)?;
            let end = chain.as_ref().ok().copied();
            let report = checkpoint::check_files(st, &paths, &paths.file, end)?;
            Ok((chain, report))
        })
        .await?;
    let checkpoints = Checkpoints {
        any: report.is_some(),
        newest: report
            .as_ref()
            .and_then(|r| r.newest.as_ref())
            .map(|c| (c.seq, c.time.clone())),
        problems: report.map(|r| r.problems).unwrap_or_default(),
    };
    let page = VerifyPage {
        chrome: Chrome::new(&s, &w, "audit"),
        intact: result.as_ref().ok().copied(),
        broken: result.err().map(|b| b.to_string()).unwrap_or_default(),
        checkpoints,
    };
    render(&page)
}
