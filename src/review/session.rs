//! Browser sessions: a random id in an `HttpOnly; SameSite=Strict` cookie
//! (`Secure` when the listener has TLS), only its SHA-256 in the store, and
//! a synchroniser CSRF token per session.
//!
//! [`require_session`] guards every page but the login form: no session →
//! the login page (GET) or 403 (POST); and for every POST it reads the form
//! body and checks its `csrf` field against the session's token *before*
//! any handler runs, so no form can forget the check. The handler finds the
//! [`WebSession`] in the request's extensions and asks it for a permission.

use super::access::{allowed, Perm};
use super::auth::secret;
use super::pages::PageError;
use super::ReviewState;
use crate::store::{SessionRecord, User};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

pub(crate) const SESSION_COOKIE: &str = "mw_session";
/// The pre-session CSRF token of the login form (double-submit: the form
/// must echo the cookie; a cross-site page can read neither).
pub(crate) const LOGIN_COOKIE: &str = "mw_login";
/// Forms are small; anything bigger is not one of ours.
const MAX_FORM: usize = 64 * 1024;

/// The logged-in user of a page request.
#[derive(Debug, Clone)]
pub(crate) struct WebSession {
    pub(crate) user: User,
    pub(crate) csrf: String,
    pub(crate) id_hash: String,
    /// When the user last gave their password (RFC 3339): a release may
    /// ask again ([`super::reauth`]).
    pub(crate) authed_at: String,
}

impl WebSession {
    pub(crate) fn require(&self, perm: Perm) -> Result<(), PageError> {
        if allowed(self.user.role, perm) {
            Ok(())
        } else {
            Err(PageError::forbidden(format!(
                "Your role ({}) may not do this.",
                self.user.role.as_str()
            )))
        }
    }

    pub(crate) fn can(&self, perm: Perm) -> bool {
        allowed(self.user.role, perm)
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value with our flags; `max_age` 0 deletes it.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&v).expect("cookie values are base64url")
}

/// A new session for `user`: returns the record to store and the cookie id.
pub(crate) fn new_session(user: &str, minutes: u64) -> (SessionRecord, String) {
    let id = secret::random_token("");
    let now = chrono::Utc::now();
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rec = SessionRecord {
        id_hash: secret::digest(&id),
        user: user.to_string(),
        csrf: secret::random_token(""),
        created_at: stamp.clone(),
        seen_at: stamp.clone(),
        authed_at: stamp,
        expires_at: (now + chrono::Duration::minutes(minutes as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    (rec, id)
}

/// The first value of `name` in a URL-encoded form body.
pub(crate) fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The live session behind the request's cookie, if any.
pub(crate) async fn lookup(s: &ReviewState, headers: &HeaderMap) -> Option<WebSession> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let hash = secret::digest(&id);
    match s.store.run(move |st| st.session(&hash)).await {
        Ok(Some((rec, user))) if still_active(s, &rec).await => Some(WebSession {
            user,
            csrf: rec.csrf,
            id_hash: rec.id_hash,
            authed_at: rec.authed_at,
        }),
        Ok(Some(_)) => None,
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "cannot read sessions");
            None
        }
    }
}

/// Touches the session unless it has been idle longer than `[review]
/// idle_minutes` (issue #15 finding 8), in which case it is ended for good.
/// The last-seen time is written at most every 30 seconds.
async fn still_active(s: &ReviewState, rec: &SessionRecord) -> bool {
    let idle = s.engine.load().config.review.idle_minutes;
    let now = chrono::Utc::now();
    let Some(quiet) = since(&rec.seen_at, now) else {
        return false;
    };
    let hash = rec.id_hash.clone();
    if quiet > chrono::Duration::minutes(idle as i64) {
        tracing::info!(user = %rec.user, idle_minutes = idle, "session ended: idle");
        let _ = s.store.run(move |st| st.delete_session(&hash)).await;
        return false;
    }
    if quiet > chrono::Duration::seconds(30) {
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let touched = s
            .store
            .run(move |st| st.touch_session(&hash, &at, false))
            .await;
        if touched.is_err() {
            tracing::error!("cannot record a session's last request");
        }
    }
    true
}

/// How long ago an RFC 3339 time was; `None` for a time that does not parse.
pub(crate) fn since(rfc3339: &str, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::Duration> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| now - t.with_timezone(&chrono::Utc))
}

/// The guard in front of every page but the login form.
pub(crate) async fn require_session(
    State(s): State<ReviewState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(session) = lookup(&s, req.headers()).await else {
        return if req.method() == Method::GET {
            Redirect::to("/login").into_response()
        } else {
            PageError::forbidden("Your session has ended. Log in again.".into()).into_response()
        };
    };
    let mut req = if req.method() == Method::POST {
        match check_csrf(req, &session.csrf).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        }
    } else {
        req
    };
    req.extensions_mut().insert(session);
    next.run(req).await
}

/// Reads the form body, checks its `csrf` field, and puts the body back.
async fn check_csrf(req: Request, want: &str) -> Result<Request, PageError> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| PageError::bad("The form is too large.".into()))?;
    match form_field(&bytes, "csrf") {
        Some(t) if secret::ct_eq(&t, want) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(PageError::forbidden(
            "The form's security token is missing or out of date. Reload the page and try again."
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_fields() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; mw_session=xyz"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        let v = set_cookie("mw_session", "abc", "/", 60, true);
        assert_eq!(
            v.to_str().unwrap(),
            "mw_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
        assert_eq!(
            form_field(b"x=1&csrf=a%2Bb&csrf=z", "csrf").as_deref(),
            Some("a+b")
        );
        let (rec, id) = new_session("alice", 10);
        assert_eq!(rec.id_hash, secret::digest(&id));
        assert_ne!(rec.csrf, id);
    }
}
