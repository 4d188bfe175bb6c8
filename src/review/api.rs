//! The JSON API (DESIGN §7), for scripts and other tools: bearer tokens
//! from `matterwall token create`, the same role checks as the pages, and
//! every error as `{"error": "..."}` with a fitting status. No cookies are
//! read here, so the API needs no CSRF defence.

use super::access::{allowed, Perm};
use super::actions::{self, ActionError};
use super::auth::{password, secret, valid_user_name};
use super::filter::QueueParams;
use super::walls::{self, Sight};
use super::ReviewState;
use crate::store::{AuditFilter, HeldStatus, NewUser, Role, Scope, StoreError, User};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn routes() -> Router<ReviewState> {
    Router::new()
        .route("/api/held", get(list))
        .route("/api/held/{id}", get(show))
        .route("/api/held/{id}/release", post(release))
        .route("/api/held/{id}/approve", post(approve))
        .route("/api/held/{id}/reject", post(reject))
        .route("/api/audit", get(audit))
        .route("/api/users", get(users).post(add_user))
}

/// An API error: status and a message for the caller.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(json!({"error": self.1}))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ActionError::from(e).into()
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        let status = match e {
            ActionError::BadInput(_) => StatusCode::BAD_REQUEST,
            ActionError::NotFound(_) => StatusCode::NOT_FOUND,
            ActionError::Forbidden(_) => StatusCode::FORBIDDEN,
            ActionError::Conflict(_) => StatusCode::CONFLICT,
            ActionError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ActionError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.message().to_string())
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// The user a valid bearer token acts as.
pub(crate) struct ApiUser(pub(crate) User);

impl ApiUser {
    fn require(&self, perm: Perm) -> Result<(), ApiError> {
        if allowed(self.0.role, perm) {
            Ok(())
        } else {
            Err(ApiError(
                StatusCode::FORBIDDEN,
                format!("the {} role may not do this", self.0.role.as_str()),
            ))
        }
    }
}

impl FromRequestParts<ReviewState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &ReviewState) -> Result<Self, ApiError> {
        let unauthorised = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.to_string());
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorised("a bearer token is required"))?;
        let hash = secret::digest(token);
        let user = s.store.run(move |st| st.token_user(&hash)).await?;
        user.map(ApiUser)
            .ok_or_else(|| unauthorised("the token is unknown or its user is disabled"))
    }
}

/// Held message ids are 16 hex digits; anything else is not one.
pub(crate) fn valid_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no held message {id}"),
        ))
    }
}

async fn list(
    user: ApiUser,
    State(s): State<ReviewState>,
    params: Result<Query<QueueParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    user.require(Perm::Read)?;
    let Query(p) = params.map_err(|e| bad(e.body_text()))?;
    let q = p.to_query(chrono::Utc::now(), None).map_err(bad)?;
    let page = walls::query(&s, &user.0, q).await?;
    Ok(Json(json!(page)))
}

async fn show(
    user: ApiUser,
    State(s): State<ReviewState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    user.require(Perm::Read)?;
    check_id(&id)?;
    let (msg, sight) = walls::load_for(&s, &user.0, &id).await?;
    if sight != Sight::Full {
        let details = json!({"message": id, "via": "api", "withheld": true});
        actions::audit(&s.store, &user.0.name, "view", details).await?;
        let summary = walls::withhold(msg.summary);
        return Ok(Json(json!({"message": summary, "withheld": true})));
    }
    let details = json!({"message": id, "via": "api"});
    actions::audit(&s.store, &user.0.name, "view", details).await?;
    let verdict: Value = serde_json::from_str(&msg.verdict_json).unwrap_or(Value::Null);
    Ok(Json(json!({"message": msg.summary, "verdict": verdict})))
}

#[derive(Deserialize)]
struct CommentBody {
    #[serde(default)]
    comment: String,
}

/// What release, approve and reject check first, in this order: the role,
/// the id's shape, the body, then the user's wall and scope (a hidden
/// message answers as an unknown one). The comment, unchecked.
async fn may_act(
    user: &ApiUser,
    s: &ReviewState,
    id: &str,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<String, ApiError> {
    user.require(Perm::Act)?;
    check_id(id)?;
    let Json(b) = body.map_err(|e| bad(e.body_text()))?;
    walls::may_act(s, &user.0, id).await?;
    Ok(b.comment)
}

async fn release(
    user: ApiUser,
    State(s): State<ReviewState>,
    Path(id): Path<String>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let comment = may_act(&user, &s, &id, body).await?;
    let done = actions::release(&s, &user.0.name, &id, &comment).await?;
    Ok(Json(
        json!({"id": id, "status": HeldStatus::Released, "refused": done.refused}),
    ))
}

async fn approve(
    user: ApiUser,
    State(s): State<ReviewState>,
    Path(id): Path<String>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let comment = may_act(&user, &s, &id, body).await?;
    actions::approve(&s, &user.0.name, &id, &comment).await?;
    Ok(Json(json!({
        "id": id,
        "status": HeldStatus::Held,
        "approved_by": user.0.name,
        // The queue's wording, from the one place that makes it.
        "awaiting": crate::store::held::four_eyes_note(true, HeldStatus::Held, Some(&user.0.name)),
    })))
}

async fn reject(
    user: ApiUser,
    State(s): State<ReviewState>,
    Path(id): Path<String>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let comment = may_act(&user, &s, &id, body).await?;
    actions::reject(&s, &user.0.name, &id, &comment).await?;
    Ok(Json(json!({"id": id, "status": HeldStatus::Rejected})))
}

#[derive(Deserialize, Default)]
struct AuditParams {
    kind: Option<String>,
    actor: Option<String>,
    message: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
}

async fn audit(
    user: ApiUser,
    State(s): State<ReviewState>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    user.require(Perm::Audit)?;
    let Query(p) = params.map_err(|e| bad(e.body_text()))?;
    let f = AuditFilter {
        kind: p.kind.filter(|k| !k.is_empty()),
        actor: p.actor.filter(|a| !a.is_empty()),
        message: p.message.filter(|m| !m.is_empty()),
        before: p.before,
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
    };
    let entries = s.store.run(move |st| st.audit_query(&f)).await?;
    Ok(Json(json!({"entries": entries})))
}

async fn users(user: ApiUser, State(s): State<ReviewState>) -> Result<Json<Value>, ApiError> {
    user.require(Perm::Admin)?;
    let all = s.store.run(|st| st.users()).await?;
    Ok(Json(json!({"users": all})))
}

#[derive(Deserialize)]
struct NewUserBody {
    name: String,
    role: String,
    password: String,
    /// Issue #18: reviewer scope, client ids and groups (none: all).
    #[serde(default)]
    clients: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

async fn add_user(
    user: ApiUser,
    State(s): State<ReviewState>,
    body: Result<Json<NewUserBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    user.require(Perm::Admin)?;
    let Json(b) = body.map_err(|e| bad(e.body_text()))?;
    let scope = Scope {
        clients: b.clients,
        groups: b.groups,
    };
    let new = new_user(&s, b.name, &b.role, b.password, scope).await?;
    let (name, role, scope) = (new.name.clone(), new.role, new.scope.clone());
    let by = user.0.name.clone();
    s.store.run(move |st| st.add_user(new, &by)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name, "role": role, "scope": scope})),
    ))
}

/// Validates a new user, its scope against the live dictionaries (issue
/// #18), and hashes the password (on the blocking pool: argon2 is
/// deliberately slow). Shared with the users page.
pub(crate) async fn new_user(
    s: &ReviewState,
    name: String,
    role: &str,
    pw: String,
    scope: Scope,
) -> Result<NewUser, ActionError> {
    if !valid_user_name(&name) {
        return Err(ActionError::BadInput(
            "user name: 1 to 64 letters, digits, '.', '_', '-' or '@'".into(),
        ));
    }
    let role = Role::parse(role)
        .ok_or_else(|| ActionError::BadInput("role: expected reviewer, auditor or admin".into()))?;
    let engine = s.engine.load_full();
    let scope = crate::review::scope::checked(&engine.config, role, scope)
        .map_err(|e| ActionError::BadInput(format!("scope: {e}")))?;
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|_| ActionError::Internal("the hashing task failed".into()))?
        .map_err(ActionError::BadInput)?;
    Ok(NewUser {
        name,
        role,
        password_hash: hash,
        totp_secret: None,
        scope,
    })
}
