//! Re-authentication before a release (issue #15 finding 8, RELIABILITY §3):
//! with `[review] reauth_for_release` on (the default), a release from the
//! web pages whose session last proved its user more than [`FRESH`] ago
//! first asks for the password (and the one-time code when TOTP is
//! enrolled) again. The same form posts back to the release with the
//! comment kept, so it is one extra step, not a new login.
//!
//! Wrong answers count against the login limiter of (user, address) and
//! are audited like failed logins: a stolen session cookie does not become
//! a way to guess the password. The JSON API is not asked: a bearer token
//! is a credential of its own, created by an administrator and revoked by
//! disabling its user.

use super::login::{self, ClientAddr};
use super::{render, Chrome};
use crate::review::session::{self, WebSession};
use crate::review::ReviewState;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::Instant;

/// How recent the last authentication must be for a release without asking.
pub(crate) const FRESH: chrono::Duration = chrono::Duration::minutes(5);

/// The release form: the comment, and the password and code when asked.
#[derive(Deserialize, Default)]
pub(crate) struct ReleaseForm {
    #[serde(default)]
    pub(crate) comment: String,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default)]
    pub(crate) code: String,
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage<'a> {
    chrome: Chrome,
    id: &'a str,
    comment: &'a str,
    totp: bool,
    /// A single sign-on user has no password: they sign in again at the
    /// provider (`prompt=login`, see `review::oidc::flow`) and come back.
    sso: bool,
    error: Option<String>,
}

fn ask(
    s: &ReviewState,
    w: &WebSession,
    id: &str,
    f: &ReleaseForm,
    error: Option<String>,
) -> Response {
    let status = match error {
        None => StatusCode::OK,
        Some(_) => StatusCode::UNAUTHORIZED,
    };
    let page = ReauthPage {
        chrome: Chrome::new(s, w, "queue"),
        id,
        comment: &f.comment,
        totp: w.user.has_totp(),
        sso: w.user.is_sso(),
        error,
    };
    match render(&page) {
        Ok(html) => (status, html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `None` when the release may go ahead; otherwise the page to show
/// instead (the question, a wrong answer, or the rate limit).
pub(crate) async fn required(
    s: &ReviewState,
    w: &WebSession,
    addr: &ClientAddr,
    id: &str,
    f: &ReleaseForm,
) -> Option<Response> {
    if !s.engine.load().config.review.reauth_for_release {
        return None;
    }
    let now = chrono::Utc::now();
    if session::since(&w.authed_at, now).is_some_and(|d| d <= FRESH) {
        return None;
    }
    let Some(pw) = f.password.clone().filter(|_| !w.user.is_sso()) else {
        return Some(ask(s, w, id, f, None));
    };
    let (name, ip) = (w.user.name.as_str(), addr.0.as_str());
    if s.limiter.blocked(name, ip, Instant::now()).is_some() {
        let msg = "Too many failed attempts. Try again later.".to_string();
        let mut r = ask(s, w, id, f, Some(msg));
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Some(r);
    }
    match login::authenticate(&s.store, name, pw, f.code.clone()).await {
        Ok(()) => {
            s.limiter.succeeded(name);
            let hash = w.id_hash.clone();
            let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            if s.store
                .run(move |st| st.touch_session(&hash, &at, true))
                .await
                .is_err()
            {
                tracing::error!("cannot record a re-authentication");
            }
            let details = json!({"user": name, "address": ip, "message": id});
            login::audit(&s.store, name, "reauth", details).await;
            None
        }
        Err(reason) => {
            s.limiter.failed(name, ip, Instant::now());
            let details = json!({"user": name, "address": ip, "reason": reason, "message": id});
            login::audit(&s.store, name, "reauth-failed", details).await;
            let msg = "Wrong password or code.".to_string();
            Some(ask(s, w, id, f, Some(msg)))
        }
    }
}
