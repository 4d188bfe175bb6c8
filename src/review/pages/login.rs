//! Login and logout. The login form carries its own CSRF token (a cookie
//! the form must echo, since there is no session yet); attempts are rate
//! limited per user and per address; a user with TOTP enrolled must give a
//! fresh code; every success and failure is audited with the address.

use super::{render, PageError};
use crate::review::auth::{password, secret, totp};
use crate::review::ratelimit::Refusal;
use crate::review::session::{self, WebSession, LOGIN_COOKIE, SESSION_COOKIE};
use crate::review::ReviewState;
use crate::store::{AuditEvent, Handle, Store};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Instant;

/// The client's address, for rate limiting and the audit trail.
pub(crate) struct ClientAddr(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientAddr(addr))
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    firm: String,
    token: String,
    username: String,
    error: Option<String>,
    /// The single sign-on button's text, when `[review.oidc]` is set.
    sso: Option<String>,
}

/// Renders the form with a fresh login token (and its cookie).
pub(crate) fn login_page(
    s: &ReviewState,
    status: StatusCode,
    username: String,
    error: Option<String>,
) -> Response {
    let token = secret::random_token("");
    let engine = s.engine.load();
    let page = LoginPage {
        firm: engine.config.firm_name.clone(),
        token: token.clone(),
        username,
        error,
        sso: engine.config.oidc.as_ref().map(|o| o.label.clone()),
    };
    let cookie = session::set_cookie(LOGIN_COOKIE, &token, "/login", 1800, s.secure_cookies);
    match render(&page) {
        Ok(html) => (status, [(header::SET_COOKIE, cookie)], html).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn form(State(s): State<ReviewState>, headers: HeaderMap) -> Response {
    if session::lookup(&s, &headers).await.is_some() {
        return Redirect::to("/queue").into_response();
    }
    login_page(&s, StatusCode::OK, String::new(), None)
}

#[derive(Deserialize, Default)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

pub(crate) async fn submit(
    State(s): State<ReviewState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return PageError::bad("The login form was malformed.".into()).into_response();
    };
    let want = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if want.is_empty() || !secret::ct_eq(&f.csrf, &want) {
        return PageError::forbidden(
            "The login form's security token is missing or out of date. Reload the page.".into(),
        )
        .into_response();
    }
    let name: String = f.username.trim().chars().take(64).collect();
    if let Some(wait) = s.limiter.blocked(&name, &addr, Instant::now()) {
        // One entry per window per (user, address), not one per request.
        if let Refusal::Write { before } = s.limiter.refused(&name, &addr, Instant::now()) {
            let details = json!({"user": name, "address": addr, "reason": "rate limited",
                "refused_in_previous_window": before});
            audit(&s.store, &name, "login-failed", details).await;
        }
        let mins = wait.as_secs().div_ceil(60);
        let msg = format!("Too many failed attempts. Try again in {mins} minute(s).");
        return login_page(&s, StatusCode::TOO_MANY_REQUESTS, name, Some(msg));
    }
    if let Some(n) = s.limiter.take_refused(&name, &addr) {
        let details = json!({"user": name, "address": addr, "reason": "rate limited",
            "refused_in_window": n});
        audit(&s.store, &name, "login-refusals", details).await;
    }
    match authenticate(&s.store, &name, f.password, f.code).await {
        Ok(()) => match start_session(&s, &name, &addr, "password").await {
            Ok(set) => signed_in(set, Redirect::to("/queue").into_response()),
            Err(e) => e.into_response(),
        },
        Err(reason) => {
            s.limiter.failed(&name, &addr, Instant::now());
            audit(
                &s.store,
                &name,
                "login-failed",
                json!({"user": name, "address": addr, "reason": reason}),
            )
            .await;
            let msg = "Wrong user name, password or code.".to_string();
            login_page(&s, StatusCode::UNAUTHORIZED, name, Some(msg))
        }
    }
}

/// Checks the password (always spending argon2's time, even for an unknown
/// name) and the TOTP code on the blocking pool; the error says why, for
/// the audit trail only.
pub(super) async fn authenticate(
    store: &Handle,
    name: &str,
    pw: String,
    code: String,
) -> Result<(), &'static str> {
    let name = name.to_string();
    store
        .run(move |st| Ok(check_login(st, &name, &pw, &code)))
        .await
        .unwrap_or(Err("internal error"))
}

fn check_login(st: &dyn Store, name: &str, pw: &str, code: &str) -> Result<(), &'static str> {
    let user = st.user(name).map_err(|_| "store error")?;
    let Some(user) = user else {
        password::verify_dummy(pw);
        return Err("unknown user");
    };
    if !password::verify(pw, &user.password_hash) {
        return Err("wrong password");
    }
    if user.disabled {
        return Err("user disabled");
    }
    if let Some(secret) = &user.totp_secret {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let step = totp::check(secret, code, now).ok_or("wrong one-time code")?;
        if !st.use_totp_step(name, step).map_err(|_| "store error")? {
            return Err("one-time code reused");
        }
    }
    Ok(())
}

/// Stores a new session for `name` and audits the login (`via` says how:
/// `password` or `oidc`); returns the cookies to set.
pub(crate) async fn start_session(
    s: &ReviewState,
    name: &str,
    addr: &str,
    via: &str,
) -> Result<[header::HeaderValue; 2], PageError> {
    s.limiter.succeeded(name);
    let minutes = s.engine.load().config.review.session_minutes;
    let (rec, id) = session::new_session(name, minutes);
    let created = s.store.run(move |st| st.create_session(&rec)).await;
    if created.is_err() {
        tracing::error!(user = name, "cannot store a new session");
        return Err(PageError::bad(
            "The session could not be started; see the server log.".into(),
        ));
    }
    let details = json!({"user": name, "address": addr, "via": via});
    audit(&s.store, name, "login", details).await;
    let secure = s.secure_cookies;
    let max_age = (minutes * 60) as i64;
    let set = session::set_cookie(SESSION_COOKIE, &id, "/", max_age, secure);
    let clear = session::set_cookie(LOGIN_COOKIE, "", "/login", 0, secure);
    Ok([set, clear])
}

/// `r` with a new session's cookies.
pub(crate) fn signed_in(cookies: [header::HeaderValue; 2], mut r: Response) -> Response {
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

pub(crate) async fn logout(
    State(s): State<ReviewState>,
    Extension(w): Extension<WebSession>,
) -> Response {
    let hash = w.id_hash.clone();
    if let Err(e) = s.store.run(move |st| st.delete_session(&hash)).await {
        tracing::error!(error = %e, "cannot end a session");
    }
    audit(
        &s.store,
        &w.user.name,
        "logout",
        json!({"user": w.user.name}),
    )
    .await;
    let clear = session::set_cookie(SESSION_COOKIE, "", "/", 0, s.secure_cookies);
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

/// Appends an entry; a failure is logged (a login is not undone for it).
pub(crate) async fn audit(store: &Handle, actor: &str, kind: &str, details: serde_json::Value) {
    store
        .append_or_log(kind, AuditEvent::new(actor, kind, details))
        .await;
}
