//! The review listener: the compliance web interface (server-rendered
//! HTML, no JavaScript), its JSON API, and what operations need
//! (`/healthz`, `/metrics`). It depends on `store`, `act` (release) and
//! `metrics`, never on `smtp`.
//!
//! Every response carries a strict Content-Security-Policy and friends
//! ([`security_headers`]): held messages are hostile input, and even a
//! rendering slip must not turn into running script.

pub(crate) mod access;
pub(crate) mod actions;
pub(crate) mod api;
pub mod auth;
pub(crate) mod charts;
pub(crate) mod filter;
pub(crate) mod oidc;
pub(crate) mod pages;
pub(crate) mod ratelimit;
pub mod scope;
pub(crate) mod session;
pub(crate) mod tls;
pub(crate) mod view;
pub(crate) mod waivers;
pub(crate) mod walls;

use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::store::Handle;
use arc_swap::ArcSwap;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct ReviewState {
    pub(crate) engine: Arc<ArcSwap<Engine>>,
    pub(crate) store: Handle,
    pub(crate) metrics: Arc<Metrics>,
    /// The review-added waivers the act stage reads (shared with it).
    pub(crate) waivers: crate::act::LiveWaivers,
    pub(crate) limiter: Arc<ratelimit::Limiter>,
    /// Cookies get `Secure` when the listener speaks TLS.
    pub(crate) secure_cookies: bool,
    /// Single sign-on: the provider as last discovered (`[review.oidc]`).
    pub(crate) sso: Arc<oidc::Sso>,
}

pub(crate) fn router(state: ReviewState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(api::routes())
        .merge(pages::routes(state.clone()))
        .layer(axum::middleware::map_response_with_state(
            state.secure_cookies,
            security_headers,
        ))
        .with_state(state)
}

/// The policy every response gets: nothing but our own stylesheet and
/// images may load, no script at all, forms post only to us, no framing.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Over TLS (`tls`), also tells the browser never to come back in
/// plaintext (HSTS, a year).
async fn security_headers(
    State(tls): State<bool>,
    mut r: axum::response::Response,
) -> axum::response::Response {
    use header::HeaderValue;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Held content must not linger in a browser or proxy cache.
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    r
}

/// How long `/healthz` waits for the store before saying it is down.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// 200 when a trivial store call succeeds within [`HEALTH_TIMEOUT`], else
/// 503: a load balancer or monitor takes a node whose store is unreachable
/// out of service (it would answer every hold with 451).
async fn healthz(State(s): State<ReviewState>) -> impl IntoResponse {
    let probe = s.store.run(|st| st.ping());
    let (code, store) = match tokio::time::timeout(HEALTH_TIMEOUT, probe).await {
        Ok(Ok(())) => (StatusCode::OK, "reachable"),
        Ok(Err(_)) => (StatusCode::SERVICE_UNAVAILABLE, "unreachable"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not answering"),
    };
    let status = if code == StatusCode::OK { "ok" } else { "fail" };
    let body = serde_json::json!({"status": status, "store": store}).to_string() + "\n";
    (code, [(header::CONTENT_TYPE, "application/json")], body)
}

async fn metrics(State(s): State<ReviewState>) -> impl IntoResponse {
    let counts = s
        .store
        .run(|st| {
            // The age by the database's clock, as the outbox's: one clock
            // for every node scraped.
            let oldest = match st.oldest_held()? {
                Some(at) => crate::store::outbox::age(&at, &st.db_now()?),
                None => std::time::Duration::ZERO,
            };
            Ok((st.held_count()?, st.outbox_stats()?, oldest))
        })
        .await;
    let (queue, outbox, oldest_held) = match counts {
        Ok(n) => n,
        _ => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable\n".to_string(),
            )
                .into_response()
        }
    };
    let engine = s.engine.load();
    let cfg = &engine.config;
    let gauges = [
        (
            "matterwall_held_messages",
            "messages waiting in the quarantine",
            queue,
        ),
        (
            "matterwall_held_oldest_age_seconds",
            "age of the oldest message waiting in the quarantine (0: none); held mail \
             expires unreviewed at [store] retention_days",
            oldest_held.as_secs(),
        ),
        (
            "matterwall_store_failures",
            "store calls that failed since start (disk full, I/O, database errors)",
            s.store.failures(),
        ),
        (
            "matterwall_first_contact_unlearned",
            "first-contact learnings that could not be written since start (those domains \
             stay new)",
            s.store.contacts_unlearned(),
        ),
        (
            "matterwall_outbox_pending",
            "notices waiting to be sent (the whole cluster)",
            outbox.pending,
        ),
        (
            "matterwall_outbox_oldest_seconds",
            "age of the oldest notice waiting to be sent",
            outbox.oldest.as_secs(),
        ),
        (
            "matterwall_dictionary_clients",
            "clients in the loaded dictionary",
            cfg.dict.clients.len() as u64,
        ),
        (
            "matterwall_dictionary_matters",
            "matters in the loaded dictionary",
            cfg.dict.matters.len() as u64,
        ),
        (
            "matterwall_dictionary_waivers",
            "waivers in the loaded dictionary",
            cfg.dict.waivers.len() as u64,
        ),
        (
            "matterwall_rules",
            "rules in the loaded configuration",
            engine.policy.rules.len() as u64,
        ),
    ];
    let mut body = s.metrics.render(&gauges);
    body.push_str(&outbox_metrics(&s.store));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The outbox job's counters on this node (`matterwall_outbox_*_total`).
fn outbox_metrics(store: &Handle) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let c = store.outbox();
    let mut out = String::new();
    for (name, help, n) in [
        ("sent", "notices the next hop accepted", &c.sent),
        (
            "retries",
            "notice attempts to be retried (4xx, no connection)",
            &c.retried,
        ),
        ("gave_up", "notices given up (5xx, or too old)", &c.gave_up),
    ] {
        out.push_str(&format!(
            "# HELP matterwall_outbox_{name}_total {help}\n\
             # TYPE matterwall_outbox_{name}_total counter\n\
             matterwall_outbox_{name}_total {}\n",
            n.load(Relaxed)
        ));
    }
    out
}
