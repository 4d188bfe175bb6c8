//! Administration: users (add, disable, enable, scope) and waivers (add,
//! revoke).
//! Admins only; every change is audited by the store in its transaction,
//! and a waiver change is live for the next message.

use super::{render, when, Chrome, PageError};
use crate::check::today;
use crate::review::access::Perm;
use crate::review::api::new_user;
use crate::review::scope;
use crate::review::session::WebSession;
use crate::review::{waivers, ReviewState};
use crate::store::{Scope, User, WaiverRecord};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::{Html, Redirect};
use axum::{Extension, Form};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<User>,
    me: String,
}

pub(crate) async fn users(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
) -> Result<Html<String>, PageError> {
    w.require(Perm::Admin)?;
    let mut users = s.store.run(|st| st.users()).await?;
    for u in &mut users {
        u.created_at = when(&u.created_at);
    }
    render(&UsersPage {
        chrome: Chrome::new(&s, &w, "users"),
        users,
        me: w.user.name.clone(),
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct UserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    /// Issue #18: reviewer scope, comma-separated client ids and groups.
    #[serde(default)]
    clients: String,
    #[serde(default)]
    groups: String,
}

pub(crate) async fn add_user(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    form: Result<Form<UserForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    w.require(Perm::Admin)?;
    let Form(f) = form.map_err(|e| PageError::bad(e.body_text()))?;
    let scope = Scope {
        clients: scope::parse_list(&f.clients),
        groups: scope::parse_list(&f.groups),
    };
    let user = new_user(&s, f.name.trim().to_string(), &f.role, f.password, scope).await?;
    let by = w.user.name.clone();
    s.store.run(move |st| st.add_user(user, &by)).await?;
    Ok(Redirect::to("/admin/users"))
}

pub(crate) async fn set_disabled(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    Path((name, change)): Path<(String, String)>,
) -> Result<Redirect, PageError> {
    w.require(Perm::Admin)?;
    let disabled = match change.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(PageError::not_found()),
    };
    if disabled && name == w.user.name {
        return Err(PageError::bad("You cannot disable yourself.".into()));
    }
    let by = w.user.name.clone();
    s.store
        .run(move |st| st.set_disabled(&name, disabled, &by))
        .await?;
    Ok(Redirect::to("/admin/users"))
}

#[derive(Deserialize, Default)]
pub(crate) struct ScopeForm {
    #[serde(default)]
    clients: String,
    #[serde(default)]
    groups: String,
}

/// Issue #18: sets a reviewer's scope to the ids and groups typed, or lifts
/// it when both are empty; checked against the live dictionaries and
/// audited by the store (`user-scope-changed`).
pub(crate) async fn set_scope(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    Path(name): Path<String>,
    form: Result<Form<ScopeForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    w.require(Perm::Admin)?;
    let Form(f) = form.map_err(|e| PageError::bad(e.body_text()))?;
    let key = name.clone();
    let user = s
        .store
        .run(move |st| st.user(&key))
        .await?
        .ok_or_else(PageError::not_found)?;
    let engine = s.engine.load_full();
    let new = scope::from_lists(&engine.config, user.role, &f.clients, &f.groups)
        .map_err(|e| PageError::bad(format!("Scope for {name}: {e}.")))?;
    let by = w.user.name.clone();
    s.store
        .run(move |st| st.set_scope(&name, new.as_ref(), &by))
        .await?;
    Ok(Redirect::to("/admin/users"))
}

pub(crate) struct FileWaiver {
    pub(crate) client_id: String,
    pub(crate) recipient: String,
    pub(crate) expires: String,
    pub(crate) reference: String,
}

#[derive(Template)]
#[template(path = "waivers.html")]
struct WaiversPage {
    chrome: Chrome,
    added: Vec<WaiverRecord>,
    from_file: Vec<FileWaiver>,
    clients: Vec<(String, String)>,
    today: String,
}

pub(crate) async fn waivers(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
) -> Result<Html<String>, PageError> {
    w.require(Perm::Admin)?;
    let mut added = s.store.run(|st| st.waivers()).await?;
    for a in &mut added {
        a.added_at = when(&a.added_at);
    }
    let engine = s.engine.load();
    let cfg = &engine.config;
    let from_file = cfg
        .dict
        .waivers
        .iter()
        .map(|x| FileWaiver {
            client_id: cfg.dict.clients[x.client as usize].id.clone(),
            recipient: x.recipient.clone(),
            expires: x.expires.to_string(),
            reference: x.reference.clone(),
        })
        .collect();
    let clients = cfg
        .dict
        .clients
        .iter()
        .take(2000)
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    render(&WaiversPage {
        chrome: Chrome::new(&s, &w, "waivers"),
        added,
        from_file,
        clients,
        today: today().to_string(),
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct WaiverForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    reference: String,
}

pub(crate) async fn add_waiver(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    form: Result<Form<WaiverForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    w.require(Perm::Admin)?;
    let Form(f) = form.map_err(|e| PageError::bad(e.body_text()))?;
    let engine = s.engine.load_full();
    let cfg = &engine.config;
    let new = waivers::validate(
        cfg,
        &f.client_id,
        &f.recipient,
        &f.expires,
        &f.reference,
        today(),
    )
    .map_err(PageError::bad)?;
    let (by, live) = (w.user.name.clone(), s.waivers.clone());
    s.store
        .run(move |st| {
            st.add_waiver(new, &by)?;
            waivers::refresh(st, &live)
        })
        .await?;
    Ok(Redirect::to("/admin/waivers"))
}

pub(crate) async fn revoke_waiver(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
    Path(id): Path<i64>,
) -> Result<Redirect, PageError> {
    w.require(Perm::Admin)?;
    let (by, live) = (w.user.name.clone(), s.waivers.clone());
    s.store
        .run(move |st| {
            st.revoke_waiver(id, &by)?;
            waivers::refresh(st, &live)
        })
        .await?;
    Ok(Redirect::to("/admin/waivers"))
}
