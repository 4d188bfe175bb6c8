//! The review listener. For now only what operations need: `/healthz` and
//! `/metrics` (Prometheus text). The compliance UI and JSON API will join
//! this router; it depends on `store` and `metrics`, never on `smtp`.

pub mod auth;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;
use arc_swap::ArcSwap;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

#[derive(Clone)]
pub struct ReviewState {
    pub config: Arc<ArcSwap<Config>>,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: ReviewState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(s): State<ReviewState>) -> impl IntoResponse {
    let store = s.store.clone();
    let queue = match tokio::task::spawn_blocking(move || store.held_count()).await {
        Ok(Ok(n)) => n,
        _ => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable\n".to_string(),
            )
                .into_response()
        }
    };
    let cfg = s.config.load();
    let gauges = [
        (
            "matterwall_held_messages",
            "messages waiting in the quarantine",
            queue,
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
            cfg.rules.len() as u64,
        ),
    ];
    let body = s.metrics.render(&gauges);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
