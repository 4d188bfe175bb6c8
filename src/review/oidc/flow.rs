//! The authorization code flow with PKCE (OpenID Connect Core §3.1):
//!
//! 1. `GET /login/oidc` ([`start`]): a fresh state, nonce and PKCE verifier
//!    are stored (sealed, on every node: `Accounts::put_oidc_login`) under
//!    the SHA-256 of a random id the browser keeps in the `mw_oidc` cookie
//!    (`SameSite=Lax`, since it must come back on the provider's redirect,
//!    which is a cross-site navigation), and the browser goes to the
//!    provider, where the user signs in (and gives a second factor: MFA is
//!    the provider's job).
//! 2. `GET /login/oidc/callback` ([`callback`]): the stored login is taken
//!    (deleted) by the cookie's id, so an answer is used once; the state
//!    must match; the code is exchanged with the verifier and the client
//!    secret; the ID token's signature (the provider's published keys),
//!    issuer, audience, expiry and nonce are checked by `openidconnect`.
//!    Then the user is mapped ([`role_for`], [`user_name`]) and gets the
//!    same kind of session a password login gets.
//!
//! Every refusal is audited as `login-failed` with `"via": "oidc"` and the
//! reason; the person is told less (which check failed is for the trail).

use super::{error_chain, Ready};
use crate::config::oidc::Oidc;
use crate::review::auth::{secret, valid_user_name};
use crate::review::pages::login::{audit, login_page, signed_in, start_session, ClientAddr};
use crate::review::pages::{render, PageError};
use crate::review::session;
use crate::review::ReviewState;
use crate::store::{Role, StoreError};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow};
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The cookie that ties the provider's answer to the browser that left.
pub const OIDC_COOKIE: &str = "mw_oidc";
/// How long a login may stay at the provider.
const PENDING_MINUTES: i64 = 10;

/// What a login in flight keeps until the provider answers.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    /// A sign-in again before a release (`prompt=login`): the ID token's
    /// `auth_time` must then be recent.
    #[serde(default)]
    fresh: bool,
    /// Where to go after (a message page), instead of the queue.
    #[serde(default)]
    then: Option<String>,
    /// The session the browser had when it left (its id's SHA-256): the
    /// new one replaces it. Read here, since the `SameSite=Strict` session
    /// cookie does not come back on the provider's cross-site redirect.
    #[serde(default)]
    replaces: Option<String>,
}

/// `GET /login/oidc?fresh=1&then=/held/ID`: a sign-in again before a
/// release (the re-authentication page links here).
#[derive(Deserialize, Default)]
pub struct StartQuery {
    #[serde(default)]
    fresh: Option<String>,
    #[serde(default)]
    then: Option<String>,
}

/// Only a message page of ours: never another site (an open redirect).
fn safe_then(then: Option<String>) -> Option<String> {
    let then = then?;
    let id = then.strip_prefix("/held/")?;
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(then)
}

/// `mw_oidc`: HttpOnly, only for `/login/oidc`, `SameSite=Lax` (the
/// provider's redirect back is a top-level GET from another site, on which
/// a `Strict` cookie would not be sent).
fn oidc_cookie(value: &str, max_age: i64, secure: bool) -> header::HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!(
        "{OIDC_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/login/oidc; Max-Age={max_age}{secure}"
    );
    header::HeaderValue::from_str(&v).expect("cookie values are base64url")
}

fn unavailable(s: &ReviewState) -> Response {
    let why = "Single sign-on is unavailable right now (the identity provider could not be \
               reached). Log in with a local account, or try again in a minute.";
    login_page(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        String::new(),
        Some(why.into()),
    )
}

/// `GET /login/oidc`: off to the provider.
pub async fn start(
    State(s): State<ReviewState>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let Some(ready) = s.sso.ready() else {
        return unavailable(&s);
    };
    let fresh = q.fresh.is_some();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = ready.client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in &ready.cfg.scopes {
        req = req.add_scope(Scope::new(scope.clone()));
    }
    if fresh {
        req = req.add_prompt(CoreAuthPrompt::Login);
    }
    let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
    let pending = Pending {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        fresh,
        then: safe_then(q.then),
        replaces: session::cookie(&headers, session::SESSION_COOKIE).map(|id| secret::digest(&id)),
    };
    let id = secret::random_token("");
    let hash = secret::digest(&id);
    let data = serde_json::to_vec(&pending).expect("plain strings");
    let expires = (chrono::Utc::now() + chrono::Duration::minutes(PENDING_MINUTES))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let put = s
        .store
        .run(move |st| st.put_oidc_login(&hash, &data, &expires))
        .await;
    if put.is_err() {
        tracing::error!("single sign-on: cannot store a login in flight");
        return PageError::bad("The login could not be started; see the server log.".into())
            .into_response();
    }
    let cookie = oidc_cookie(&id, PENDING_MINUTES * 60, s.secure_cookies);
    let mut r = Redirect::to(url.as_str()).into_response();
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r
}

/// The provider's answer (RFC 6749 §4.1.2), in the query.
#[derive(Deserialize, Default)]
pub struct Answer {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// A refused login: what the trail says, and what the person is told.
struct Refusal {
    reason: String,
    user: String,
    tell: &'static str,
}

fn refuse(reason: impl Into<String>, tell: &'static str) -> Refusal {
    Refusal {
        reason: reason.into(),
        user: String::new(),
        tell,
    }
}

const UNVERIFIED: &str = "Single sign-on failed: the identity provider's answer could not be \
                          verified. Try again, or log in with a local account.";
const STALE: &str = "Single sign-on failed: this sign-in has expired or was already used. \
                     Start again from the login page.";

/// `GET /login/oidc/callback`: back from the provider.
pub async fn callback(
    State(s): State<ReviewState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(answer): Query<Answer>,
) -> Response {
    let outcome = sign_in(&s, &headers, answer).await;
    let clear = oidc_cookie("", 0, s.secure_cookies);
    let mut r = match outcome {
        Ok((name, then, replaces)) => {
            end_old_session(&s, replaces).await;
            match start_session(&s, &name, &addr, "oidc").await {
                Ok(cookies) => signed_in(cookies, continue_page(&name, &then)),
                Err(e) => e.into_response(),
            }
        }
        Err(f) => {
            let details =
                json!({"user": f.user, "address": addr, "reason": f.reason, "via": "oidc"});
            audit(&s.store, &f.user, "login-failed", details).await;
            let status = StatusCode::UNAUTHORIZED;
            login_page(&s, status, String::new(), Some(f.tell.into()))
        }
    };
    r.headers_mut().append(header::SET_COOKIE, clear);
    r
}

/// A session the browser already had (a sign-in again before a release)
/// ends: the new one replaces it.
async fn end_old_session(s: &ReviewState, replaces: Option<String>) {
    if let Some(hash) = replaces {
        if s.store
            .run(move |st| st.delete_session(&hash))
            .await
            .is_err()
        {
            tracing::error!("cannot end the session a new sign-in replaces");
        }
    }
}

#[derive(Template)]
#[template(path = "sso_continue.html")]
struct ContinuePage<'a> {
    user: &'a str,
    then: &'a str,
}

/// The page after a good sign-in, which moves on to the queue itself. Not
/// a redirect: the browser arrived here on a redirect from another site,
/// and a `SameSite=Strict` session cookie is not sent on the next hop of
/// such a chain; a navigation this page starts is same-site.
fn continue_page(user: &str, then: &str) -> Response {
    match render(&ContinuePage { user, then }) {
        Ok(html) => html.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Checks the answer and maps its user; the user's name, where to go next
/// and the session the new one replaces, or why not.
async fn sign_in(
    s: &ReviewState,
    headers: &HeaderMap,
    answer: Answer,
) -> Result<(String, String, Option<String>), Refusal> {
    let pending = take_pending(s, headers).await?;
    let then = pending.then.clone().unwrap_or_else(|| "/queue".into());
    let replaces = pending.replaces.clone();
    let state = answer.state.unwrap_or_default();
    if !secret::ct_eq(&state, &pending.state) {
        return Err(refuse("state does not match", STALE));
    }
    if let Some(e) = answer.error {
        let e: String = e.chars().filter(char::is_ascii_graphic).take(64).collect();
        let tell = "Single sign-on failed: the identity provider did not sign you in.";
        return Err(refuse(format!("provider refused: {e}"), tell));
    }
    let ready = s.sso.ready().ok_or_else(|| {
        refuse(
            "provider unavailable",
            "Single sign-on is unavailable right now.",
        )
    })?;
    let code = answer.code.ok_or_else(|| refuse("no code", UNVERIFIED))?;
    let claims = verified_claims(s, &ready, code, pending).await?;
    let name = user_name(&claims, &ready.cfg).map_err(|why| refuse(why, NOT_ALLOWED))?;
    let role = role_for(&claims, &ready.cfg).map_err(|why| Refusal {
        reason: why.into(),
        user: name.clone(),
        tell: NOT_ALLOWED,
    })?;
    provision(s, &name, role).await.map_err(|why| Refusal {
        reason: why,
        user: name.clone(),
        tell: NOT_ALLOWED,
    })?;
    Ok((name, then, replaces))
}

const NOT_ALLOWED: &str = "Single sign-on worked, but your account may not use matterwall. \
                           Ask compliance to add you to a matterwall group.";

/// The login in flight that the browser's cookie names, taken from the
/// store (so a second answer for it finds nothing).
async fn take_pending(s: &ReviewState, headers: &HeaderMap) -> Result<Pending, Refusal> {
    let id = session::cookie(headers, OIDC_COOKIE).filter(|v| !v.is_empty());
    let id = id.ok_or_else(|| refuse("no login in flight (no cookie)", STALE))?;
    let hash = secret::digest(&id);
    let taken = s.store.run(move |st| st.take_oidc_login(&hash)).await;
    match taken {
        Ok(Some(data)) => {
            serde_json::from_slice(&data).map_err(|_| refuse("unreadable login", STALE))
        }
        Ok(None) => Err(refuse("unknown, used or expired state", STALE)),
        Err(_) => Err(refuse("store error", STALE)),
    }
}

/// Exchanges the code (with the PKCE verifier and the client secret) and
/// verifies the ID token: signature by the provider's keys, issuer,
/// audience (this client), expiry, nonce. Its claims as JSON.
async fn verified_claims(
    s: &ReviewState,
    ready: &Ready,
    code: String,
    pending: Pending,
) -> Result<Value, Refusal> {
    let http = s
        .sso
        .http()
        .ok_or_else(|| refuse("no HTTP client", UNVERIFIED))?;
    let exchange = ready
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| refuse(format!("no token endpoint: {e}"), UNVERIFIED))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier));
    let tokens = exchange
        .request_async(http)
        .await
        .map_err(|e| refuse(format!("code exchange: {}", error_chain(&e)), UNVERIFIED))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| refuse("no ID token", UNVERIFIED))?;
    let verifier = ready.client.id_token_verifier();
    let nonce = Nonce::new(pending.nonce);
    let typed = id_token
        .claims(&verifier, &nonce)
        .map_err(|e| refuse(format!("ID token: {}", error_chain(&e)), UNVERIFIED))?;
    if pending.fresh {
        // A provider that ignored prompt=login answers from its old session.
        let recent = chrono::Utc::now() - crate::review::pages::reauth::FRESH;
        if typed.auth_time().is_none_or(|t| t < recent) {
            return Err(refuse("not signed in again (auth_time)", UNVERIFIED));
        }
    }
    // Verified above, this very token: read the claims the typed struct
    // does not carry (the role claim is the firm's choice).
    let payload = id_token.to_string();
    let payload = payload.split('.').nth(1).unwrap_or("");
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| refuse("ID token payload unreadable", UNVERIFIED))
}

/// The review user's name: the `name_claim` (`email` by default),
/// lower-cased. An e-mail the provider says is unverified is refused.
pub fn user_name(claims: &Value, cfg: &Oidc) -> Result<String, &'static str> {
    let name = claims[&cfg.name_claim]
        .as_str()
        .ok_or("the name claim is missing")?
        .trim()
        .to_lowercase();
    if cfg.name_claim == "email" && claims["email_verified"] == Value::Bool(false) {
        return Err("e-mail address not verified by the provider");
    }
    if !valid_user_name(&name) {
        return Err("the name claim is not a valid user name");
    }
    Ok(name)
}

/// The role the `role_claim`'s values (a string or a list of strings) map
/// to. Admin if any value maps to admin (it can do all the others can);
/// else the one role they map to. None, or reviewer and auditor together
/// (neither includes the other, and guessing would grant too much or too
/// little), is refused.
pub fn role_for(claims: &Value, cfg: &Oidc) -> Result<Role, &'static str> {
    let values: Vec<&str> = match &claims[&cfg.role_claim] {
        Value::String(v) => vec![v.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let mut roles: Vec<Role> = cfg
        .roles
        .iter()
        .filter(|(v, _)| values.contains(&v.as_str()))
        .map(|(_, r)| *r)
        .collect();
    roles.sort_by_key(|r| r.as_str());
    roles.dedup();
    if roles.contains(&Role::Admin) {
        return Ok(Role::Admin);
    }
    match roles.as_slice() {
        [one] => Ok(*one),
        [] => Err("the role claim maps to no role"),
        _ => Err("the role claim maps to both reviewer and auditor"),
    }
}

/// Makes or updates the store user (see `Accounts::sso_user`); a local
/// account of that name or a disabled user is refused.
async fn provision(s: &ReviewState, name: &str, role: Role) -> Result<(), String> {
    let who = name.to_string();
    let user = s.store.run(move |st| st.sso_user(&who, role, "oidc")).await;
    match user {
        Ok(u) if u.disabled => Err("user disabled".into()),
        Ok(_) => Ok(()),
        Err(StoreError::Exists(_)) => Err("the name belongs to a local account".into()),
        Err(_) => Err("store error".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Oidc {
        Oidc {
            issuer: "https://idp.example".into(),
            client_id: "mw".into(),
            client_secret: "s".into(),
            redirect_url: "https://mw.example/login/oidc/callback".into(),
            role_claim: "groups".into(),
            name_claim: "email".into(),
            scopes: vec![],
            label: "SSO".into(),
            roles: vec![
                ("a".into(), Role::Admin),
                ("r".into(), Role::Reviewer),
                ("u".into(), Role::Auditor),
            ],
        }
    }

    #[test]
    fn roles_from_claims() {
        let c = cfg();
        let role = |v: Value| role_for(&json!({ "groups": v }), &c);
        assert_eq!(role(json!("r")), Ok(Role::Reviewer));
        assert_eq!(role(json!(["x", "u"])), Ok(Role::Auditor));
        assert_eq!(role(json!(["r", "a", "u"])), Ok(Role::Admin));
        assert!(role(json!(["r", "u"])).is_err());
        assert!(role(json!(["x"])).is_err());
        assert!(role(json!(7)).is_err());
        assert!(role_for(&json!({}), &c).is_err());
    }

    #[test]
    fn names_from_claims() {
        let c = cfg();
        let name = |v: Value| user_name(&v, &c);
        assert_eq!(
            name(json!({"email": "Rita@Firm.example"})),
            Ok("rita@firm.example".into())
        );
        assert!(name(json!({"email": "r@f.example", "email_verified": false})).is_err());
        assert!(name(json!({"email": "<b>@x"})).is_err());
        assert!(name(json!({"sub": "x"})).is_err());
    }
}
