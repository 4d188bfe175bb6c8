//! The web interface's pages: server-rendered HTML from askama templates
//! (`templates/`, HTML-escaped by default), one stylesheet, no JavaScript.
//! One file per page family; this one wires the routes, the chrome every
//! page shares (who is logged in, what they may open) and the error page.

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod dashboard;
pub(crate) mod login;
pub(crate) mod message;
pub(crate) mod queue;
pub(crate) mod reauth;
pub(crate) mod sender;

use super::access::Perm;
use super::actions::ActionError;
use super::session::{require_session, WebSession};
use super::ReviewState;
use askama::Template;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub(crate) fn routes(state: ReviewState) -> Router<ReviewState> {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/queue", get(queue::page))
        .route("/held/{id}", get(message::page))
        .route("/held/{id}/attachment/{n}", get(message::download))
        .route("/held/{id}/release", post(message::release))
        .route("/held/{id}/approve", post(message::approve))
        .route("/held/{id}/reject", post(message::reject))
        .route("/audit", get(audit::page))
        .route("/audit/verify", get(audit::verify))
        .route("/dashboard", get(dashboard::page))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/users/{name}/{change}", post(admin::set_disabled))
        .route("/admin/scope/{name}", post(admin::set_scope))
        .route(
            "/admin/waivers",
            get(admin::waivers).post(admin::add_waiver),
        )
        .route("/admin/waivers/{id}/revoke", post(admin::revoke_waiver))
        .route("/logout", post(login::logout))
        .route_layer(middleware::from_fn_with_state(state, require_session));
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/login/oidc", get(super::oidc::flow::start))
        .route(
            crate::config::oidc::CALLBACK_PATH,
            get(super::oidc::flow::callback),
        )
        .route("/sender/{token}", get(sender::page).post(sender::submit))
        .route("/sender/{token}/cancel", post(sender::cancel))
        .route("/static/style.css", get(css))
        .merge(pages)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/style.css"),
    )
        .into_response()
}

/// What the frame of every page needs: the user, the logout form's token,
/// and which sections to offer.
pub(crate) struct Chrome {
    pub(crate) firm: String,
    pub(crate) user: String,
    pub(crate) role: &'static str,
    pub(crate) csrf: String,
    pub(crate) can_audit: bool,
    pub(crate) can_admin: bool,
    pub(crate) active: &'static str,
}

impl Chrome {
    pub(crate) fn new(s: &ReviewState, w: &WebSession, active: &'static str) -> Chrome {
        Chrome {
            firm: s.engine.load().config.firm_name.clone(),
            user: w.user.name.clone(),
            role: w.user.role.as_str(),
            csrf: w.csrf.clone(),
            can_audit: w.can(Perm::Audit),
            can_admin: w.can(Perm::Admin),
            active,
        }
    }
}

/// A page that could not be shown, with a message for the person.
#[derive(Debug)]
pub(crate) struct PageError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl PageError {
    pub(crate) fn forbidden(message: String) -> PageError {
        PageError {
            status: StatusCode::FORBIDDEN,
            message,
        }
    }

    pub(crate) fn bad(message: String) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    pub(crate) fn not_found() -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            message: "There is no such page or message.".into(),
        }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        ActionError::from(e).into()
    }
}

impl From<ActionError> for PageError {
    fn from(e: ActionError) -> Self {
        let status = match e {
            ActionError::BadInput(_) => StatusCode::BAD_REQUEST,
            ActionError::NotFound(_) => StatusCode::NOT_FOUND,
            ActionError::Forbidden(_) => StatusCode::FORBIDDEN,
            ActionError::Conflict(_) => StatusCode::CONFLICT,
            ActionError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ActionError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        PageError {
            status,
            message: e.message().to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        match page.render() {
            Ok(body) => (self.status, Html(body)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        }
    }
}

/// Renders a page; a template error is a 500 (and logged).
pub(crate) fn render<T: Template>(t: &T) -> Result<Html<String>, PageError> {
    t.render().map(Html).map_err(|e| {
        tracing::error!(error = %e, "cannot render a page");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "The page could not be rendered; see the server log.".into(),
        }
    })
}

/// `/path?k=v&…` with the non-empty pairs, URL-encoded.
pub(crate) fn href(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

/// `2026-11-02 10:00` from a stored RFC 3339 time (UTC).
pub(crate) fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// How long ago, in the largest unit that fits: `5 min`, `3 h`, `2 d`.
pub(crate) fn ago(rfc3339: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return String::new();
    };
    let mins = (now - t.with_timezone(&chrono::Utc)).num_minutes().max(0);
    match mins {
        0 => "just now".into(),
        1..=59 => format!("{mins} min ago"),
        60..=2879 => format!("{} h ago", mins / 60),
        _ => format!("{} d ago", mins / 1440),
    }
}

/// `1.2 MB`, `340 KB`, `900 B`.
pub(crate) fn size(bytes: u64) -> String {
    match bytes {
        0..=999 => format!("{bytes} B"),
        1000..=999_999 => format!("{} KB", bytes / 1000),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            href("/queue", &[("a", ""), ("b", "x y&<")]),
            "/queue?b=x+y%26%3C"
        );
        assert_eq!(href("/queue", &[]), "/queue");
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-02T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(ago("2026-01-02T09:55:00.000Z", now), "5 min ago");
        assert_eq!(ago("2026-01-01T09:00:00+00:00", now), "25 h ago");
        assert_eq!(when("2026-01-02T09:55:00.123Z"), "2026-01-02 09:55 UTC");
        assert_eq!(size(1_500_000), "1.5 MB");
    }
}
