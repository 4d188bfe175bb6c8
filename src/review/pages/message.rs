//! One held message: envelope, rules, every match in context, what could
//! not be inspected, the body as text, the attachments (downloadable only
//! as attachments, as opaque bytes), and the release / reject forms.

use super::login::ClientAddr;
use super::reauth::{self, ReleaseForm};
use super::{render, size, when, Chrome, PageError};
use crate::check::HeldVerdict;
use crate::policy::rules::Mode;
use crate::review::access::Perm;
use crate::review::actions;
use crate::review::api::valid_id;
use crate::review::session::WebSession;
use crate::review::view::{self, AttachmentView, MatchView};
use crate::review::walls::{self, Sight};
use crate::review::ReviewState;
use crate::store::{HeldMessage, HeldStatus};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;

pub(crate) struct RuleView {
    pub(crate) name: String,
    pub(crate) action: String,
}

pub(crate) struct RecipientView {
    pub(crate) address: String,
    pub(crate) status: String,
    pub(crate) reason: String,
}

pub(crate) struct FlagView {
    pub(crate) location: String,
    pub(crate) reason: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    id: String,
    subject: String,
    status: HeldStatus,
    received: String,
    from: String,
    size: String,
    comment: Option<String>,
    reviewed_by: Option<String>,
    /// Issue #18: the sender released it through their link; the comment
    /// is their justification.
    self_released_by: Option<String>,
    rules: Vec<RuleView>,
    recipients: Vec<RecipientView>,
    matches: Vec<MatchView>,
    uninspectable: Vec<FlagView>,
    headers: Vec<(&'static str, String)>,
    body: String,
    body_truncated: bool,
    attachments: Vec<AttachmentView>,
    can_act: bool,
    done: String,
    /// Four-eyes (issue #18): what it waits for, and whether the next step
    /// is the first reviewer's approval.
    awaiting: Option<String>,
    needs_approval: bool,
    /// A split message: the recipients who got it at once, and how
    /// (`pass` or `encrypt`).
    released_now: Vec<String>,
    released_as: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    #[serde(default)]
    done: String,
}

/// The message as far as the user's ethical wall lets them see it: a
/// hidden one is the same 404 as an unknown id.
async fn load(
    s: &ReviewState,
    w: &WebSession,
    id: &str,
) -> Result<(HeldMessage, Sight), PageError> {
    if !valid_id(id) {
        return Err(PageError::not_found());
    }
    walls::load_for(s, &w.user, id)
        .await
        .map_err(not_found_page)
}

#[derive(Template)]
#[template(path = "withheld.html")]
struct WithheldPage {
    chrome: Chrome,
    id: String,
    status: HeldStatus,
    received: String,
    from: String,
    to: String,
    rules: Vec<String>,
}

/// What an admin or auditor behind the wall sees: that it exists.
async fn withheld(
    s: &ReviewState,
    w: &WebSession,
    msg: HeldMessage,
) -> Result<Html<String>, PageError> {
    let sum = msg.summary;
    let details = json!({"message": sum.id, "withheld": true});
    actions::audit(&s.store, &w.user.name, "view", details).await?;
    render(&WithheldPage {
        chrome: Chrome::new(s, w, "queue"),
        received: when(&sum.received_at),
        to: sum.to.join(", "),
        id: sum.id,
        status: sum.status,
        from: sum.from,
        rules: sum.rules,
    })
}

/// The enforced rules that held the message, with the action each had when it fired
/// (not the live config's: a reload may have renamed or changed them). A
/// record sealed before verdicts kept their rules whole shows names only.
fn rule_views(verdict: &HeldVerdict, names: &[String]) -> Vec<RuleView> {
    if verdict.fired.is_empty() {
        let unknown = |name: &String| RuleView {
            name: name.clone(),
            action: String::new(),
        };
        return names.iter().map(unknown).collect();
    }
    verdict
        .fired
        .iter()
        .filter(|r| r.mode == Mode::Enforce)
        .map(|r| RuleView {
            name: r.name.clone(),
            action: r.action.as_str().to_string(),
        })
        .collect()
}

pub(crate) async fn page(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    w.require(Perm::Read)?;
    let (msg, sight) = load(&s, &w, &id).await?;
    if sight != Sight::Full {
        return withheld(&s, &w, msg).await;
    }
    actions::audit(&s.store, &w.user.name, "view", json!({"message": id})).await?;
    let verdict = HeldVerdict::parse(&msg.verdict_json);
    let engine = s.engine.load();
    let cfg = &engine.config;
    let label = |kind: &str, id: &str| match kind {
        "client" => cfg
            .dict
            .client_by_id
            .get(id)
            .map(|&c| cfg.dict.clients[c as usize].name.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let rules = rule_views(&verdict, &msg.summary.rules);
    let recipients = verdict
        .recipients
        .iter()
        .map(|r| RecipientView {
            address: r.address.clone(),
            status: r.status.as_str().into(),
            reason: recipient_reason(r),
        })
        .collect();
    let uninspectable = verdict
        .uninspectable
        .iter()
        .map(|f| FlagView {
            location: f.location.clone(),
            reason: f.reason.clone(),
        })
        .collect();
    let parsed = view::parse(&msg.raw);
    let sum = msg.summary;
    let (released_now, released_as) = verdict
        .split
        .map(|s| (s.released, s.action.as_str().to_string()))
        .unwrap_or_default();
    let page = MessagePage {
        needs_approval: sum.two_person && sum.approved_by.is_none(),
        awaiting: sum.awaiting,
        released_now,
        released_as,
        chrome: Chrome::new(&s, &w, "queue"),
        matches: view::matches(&verdict.matches, label),
        can_act: w.can(Perm::Act) && sum.status == HeldStatus::Held,
        subject: if sum.subject.is_empty() {
            "(no subject)".into()
        } else {
            sum.subject
        },
        received: when(&sum.received_at),
        size: size(sum.size),
        id: sum.id,
        status: sum.status,
        from: sum.from,
        comment: sum.comment,
        self_released_by: sum
            .reviewed_by
            .as_deref()
            .and_then(|by| by.strip_prefix(crate::act::sender_link::ACTOR_PREFIX))
            .map(str::to_string),
        reviewed_by: sum.reviewed_by,
        rules,
        recipients,
        uninspectable,
        headers: parsed.headers,
        body: parsed.body,
        body_truncated: parsed.body_truncated,
        attachments: parsed.attachments,
        done: done.done,
    };
    render(&page)
}

/// An attachment's bytes, always as a download of opaque bytes: never
/// rendered by the browser, whatever it claims to be.
pub(crate) async fn download(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    Path((id, n)): Path<(String, usize)>,
) -> Result<Response, PageError> {
    w.require(Perm::Read)?;
    let (msg, sight) = load(&s, &w, &id).await?;
    if sight != Sight::Full {
        return Err(PageError::forbidden(
            "You are screened from a matter this message mentions.".into(),
        ));
    }
    let (name, bytes) = view::attachment(&msg.raw, n).ok_or_else(PageError::not_found)?;
    // The file name may carry a client's name: the entry says which part.
    let details = json!({"message": id, "part": n, "bytes": bytes.len()});
    actions::audit(&s.store, &w.user.name, "download", details).await?;
    let disposition = header::HeaderValue::from_str(&view::content_disposition(&name))
        .map_err(|_| PageError::bad("unusable file name".into()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct CommentForm {
    #[serde(default)]
    comment: String,
}

/// Releases after the wall check and, when due, the password asked again
/// ([`super::reauth`]).
pub(crate) async fn release(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    addr: ClientAddr,
    Path(id): Path<String>,
    form: Result<Form<ReleaseForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = checked(&s, &w, &id, form).await?;
    if let Some(page) = reauth::required(&s, &w, &addr, &id, &f).await {
        return Ok(page);
    }
    actions::release(&s, &w.user.name, &id, &f.comment).await?;
    Ok(Redirect::to(&format!("/held/{id}?done=released")).into_response())
}

/// Four-eyes (issue #18): the first reviewer approves, with a comment.
/// Nothing is sent, so the password is not asked again here; it is at the
/// release.
pub(crate) async fn approve(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    Path(id): Path<String>,
    form: Result<Form<CommentForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let f = checked(&s, &w, &id, form).await?;
    actions::approve(&s, &w.user.name, &id, &f.comment).await?;
    Ok(Redirect::to(&format!("/held/{id}?done=approved")))
}

pub(crate) async fn reject(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    Path(id): Path<String>,
    form: Result<Form<CommentForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let f = checked(&s, &w, &id, form).await?;
    actions::reject(&s, &w.user.name, &id, &f.comment).await?;
    Ok(Redirect::to(&format!("/held/{id}?done=rejected")))
}

/// What every action on one message checks first, in this order: the
/// permission, the form, the id, and the walls (a message hidden from this
/// reviewer is not found).
async fn checked<F>(
    s: &ReviewState,
    w: &WebSession,
    id: &str,
    form: Result<Form<F>, FormRejection>,
) -> Result<F, PageError> {
    w.require(Perm::Act)?;
    let Form(f) = form.map_err(|e| PageError::bad(e.body_text()))?;
    if !valid_id(id) {
        return Err(PageError::not_found());
    }
    walls::may_act(s, &w.user, id)
        .await
        .map_err(not_found_page)?;
    Ok(f)
}

/// A hidden or unknown message is the one not-found page, whatever the
/// store's wording.
fn not_found_page(e: crate::review::actions::ActionError) -> PageError {
    match e {
        crate::review::actions::ActionError::NotFound(_) => PageError::not_found(),
        e => e.into(),
    }
}

/// A held recipient's reason as the page says it, with why it was a first
/// contact (issue #18) when it was: a reviewer sees why a recipient who
/// is otherwise authorised was held.
fn recipient_reason(r: &crate::check::HeldRecipient) -> String {
    let first = match r.first_contact.as_deref() {
        Some("sender") => Some("first contact: the sender never wrote to this domain"),
        Some("firm") => Some("first contact: nobody in the firm wrote to this domain"),
        Some(_) => Some("first contact: the store could not say, so counted as new"),
        None => None,
    };
    let parts: Vec<&str> = [r.reason.as_deref(), first].into_iter().flatten().collect();
    parts.join("; ")
}
