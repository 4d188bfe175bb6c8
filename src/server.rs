//! The whole server in one call: the SMTP proxy, the review listener and
//! their background jobs (daily digest, hourly retention, the notice
//! outbox), sharing one live
//! config (swapped atomically on [`Signal::Reload`]; a bad one is refused
//! and the old stays) and one store. Every reload, accepted or refused, is
//! in the audit trail.
//!
//! It runs on listeners the caller has already bound, and takes its
//! signals from a channel rather than from the operating system: the binary
//! (`matterwall serve`) binds the configured addresses and turns SIGHUP and
//! SIGTERM into [`Signal`]s; a test binds `127.0.0.1:0`, so no port is ever
//! chosen, released and hoped for, and sends the same signals in-process.

use crate::act::{notify, sender_link, Actor, LiveWaivers};
use crate::config::notify::ComplianceMode;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::review::{self, ReviewState};
use crate::smtp::listener::Listener;
use crate::smtp::session::Buffers;
use crate::store::{self, AuditEvent, Handle, Store, StoreError};
use arc_swap::ArcSwap;
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, watch};

/// The two sockets the server accepts on, bound by the caller.
#[derive(Debug)]
pub struct Listeners {
    /// Where mail comes in (`[smtp] listen` in the binary).
    pub smtp: std::net::TcpListener,
    /// The review interface, API and metrics (`[review] listen`).
    pub review: std::net::TcpListener,
}

/// What the caller asks of a running server. Dropping every sender is the
/// same as [`Signal::Stop`], so a caller that goes away stops the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Load the config file anew and swap it in if it is valid; re-read the
    /// review-added waivers (another node may have changed them).
    Reload,
    /// Stop accepting, drain the sessions in flight, and return.
    Stop,
}

/// Why the server could not start. Once it runs, failures are logged and
/// it carries on.
#[derive(Debug, Error)]
pub enum ServeError {
    /// `[store] url` names a store that cannot be opened (path, key, schema).
    #[error("cannot open the store")]
    OpenStore(#[source] StoreError),
    /// The startup reads (stuck releases, review waivers) failed.
    #[error("cannot read the store")]
    ReadStore(#[source] StoreError),
    /// A listener handed in cannot be made non-blocking or registered.
    #[error("cannot use the {0} listener")]
    Listener(&'static str, #[source] std::io::Error),
}

/// Runs the server with `engine` (loaded from `config_path`, which a
/// reload reads again) until [`Signal::Stop`], then drains and returns.
pub async fn run(
    config_path: &Path,
    engine: Engine,
    listeners: Listeners,
    signals: mpsc::Receiver<Signal>,
) -> Result<(), ServeError> {
    let config = &engine.config;
    let (url, dir, key, node) = (
        config.store.url.clone(),
        config.dir.clone(),
        config.store.key_file.clone(),
        config.store.node.clone(),
    );
    // Opened on the blocking pool like every later call: a store's client
    // may not be used from async code.
    let opened = tokio::task::spawn_blocking(move || {
        store::open(&url, &dir, key.as_deref(), node.as_deref())
    })
    .await
    .map_err(|e| ServeError::OpenStore(StoreError::Task(e.to_string())))?;
    let store = Handle::new(opened.map_err(ServeError::OpenStore)?);
    let stuck = store.run(|st| st.stuck_releasing()).await;
    for id in stuck.map_err(ServeError::ReadStore)? {
        tracing::warn!(id = %id, "left in 'releasing' by an interrupted release: check the next hop, not re-sent");
    }
    let waivers: LiveWaivers = Arc::new(ArcSwap::from_pointee(Vec::new()));
    let w = waivers.clone();
    let n = store
        .run(move |st| review::waivers::refresh(st, &w))
        .await
        .map_err(ServeError::ReadStore)?;
    let smtp = tokio_listener(listeners.smtp).map_err(|e| ServeError::Listener("SMTP", e))?;
    let http = tokio_listener(listeners.review).map_err(|e| ServeError::Listener("review", e))?;
    let checkpoints = store::checkpoint::start(store.clone(), config.checkpoints()).await;
    // Before "listening": a caller that sees that line finds the spool
    // folder made and a crash's files gone.
    let buffers = Buffers::for_listener(config);
    // The addresses actually bound: with port 0 in the config this line is
    // how a caller learns them.
    tracing::info!(smtp = %local(&smtp), review = %local(&http), https = config.review_tls.is_some(),
        next_hop = %config.next_hop.address, review_waivers = n, "listening");
    let review_tls = config.review_tls.clone();
    let live = Live {
        engine: Arc::new(ArcSwap::from_pointee(engine)),
        waivers,
        metrics: Arc::new(Metrics::default()),
        store,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(obey(
        config_path.to_path_buf(),
        live.clone(),
        signals,
        stop_tx,
    ));
    // Aborted on return, as the binary's runtime would drop them on exit:
    // a server run in-process leaves nothing behind.
    let sso = Arc::new(review::oidc::Sso::new());
    let jobs = [
        tokio::spawn(review::oidc::keep_fresh(live.engine.clone(), sso.clone())),
        tokio::spawn(digest_daily(live.engine.clone(), live.store.clone())),
        tokio::spawn(retention_hourly(live.engine.clone(), live.store.clone())),
        tokio::spawn(checkpoints.run()),
        tokio::spawn(review_changes(live.store.clone(), live.waivers.clone())),
        tokio::spawn(outbox(live.engine.clone(), live.store.clone())),
        tokio::spawn(crate::act::undo::run(
            live.engine.clone(),
            live.store.clone(),
        )),
    ];
    let router = review::router(ReviewState {
        engine: live.engine.clone(),
        store: live.store.clone(),
        metrics: live.metrics.clone(),
        waivers: live.waivers.clone(),
        limiter: Arc::default(),
        secure_cookies: review_tls.is_some(),
        sso,
    });
    let http_task = tokio::spawn(serve_http(http, review_tls, router, stop_rx.clone()));
    let listener = Listener {
        listener: smtp,
        engine: live.engine.clone(),
        settle: Arc::new(Actor {
            engine: live.engine,
            waivers: live.waivers,
            store: live.store,
            metrics: live.metrics,
        }),
        buffers,
    };
    listener.run(stopped(stop_rx)).await;
    if let Ok(Err(e)) = http_task.await {
        tracing::error!(error = %e, "the review listener failed");
    }
    jobs.iter().for_each(tokio::task::JoinHandle::abort);
    tracing::info!("stopped");
    Ok(())
}

/// A std listener made non-blocking and handed to the runtime.
fn tokio_listener(l: std::net::TcpListener) -> std::io::Result<tokio::net::TcpListener> {
    l.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(l)
}

fn local(l: &tokio::net::TcpListener) -> String {
    l.local_addr()
        .map_or_else(|_| "?".into(), |a: SocketAddr| a.to_string())
}

/// Resolves once `stop` says so (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The review listener, plain or HTTPS, until `stop`. The client's address
/// reaches the handlers (login rate limiting, the audit trail).
async fn serve_http(
    http: tokio::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: axum::Router,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            axum::serve(http, app)
                .with_graceful_shutdown(stopped(stop))
                .await
        }
        Some(tls) => {
            // `tap_io` is what lets axum hand the TLS listener's peer
            // address to `ConnectInfo`.
            let listener = review::tls::TlsListener::new(http, tls)?.tap_io(|_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped(stop))
                .await
        }
    }
}

/// What a reload swaps, and where it reports.
#[derive(Clone)]
struct Live {
    engine: Arc<ArcSwap<Engine>>,
    waivers: LiveWaivers,
    metrics: Arc<Metrics>,
    store: Handle,
}

/// Carries out the caller's signals until [`Signal::Stop`] or until every
/// sender is gone, then tells the listeners to stop.
async fn obey(
    path: PathBuf,
    live: Live,
    mut signals: mpsc::Receiver<Signal>,
    stop: watch::Sender<bool>,
) {
    while let Some(Signal::Reload) = signals.recv().await {
        let details = reload(&path, &live.engine, &live.metrics).await;
        let event = AuditEvent::new("system", "reload", details);
        live.store.append_or_log("reload", event).await;
        let w = live.waivers.clone();
        let refreshed = live.store.run(move |st| review::waivers::refresh(st, &w));
        if let Err(e) = refreshed.await {
            tracing::error!(error = %e, "cannot re-read the review waivers");
        }
    }
    tracing::info!("shutting down");
    let _ = stop.send(true);
}

/// Loads the config anew and swaps it in; returns what the audit trail
/// records: the outcome and counts (never a problem's text, which can quote
/// a dictionary row).
async fn reload(path: &Path, live: &ArcSwap<Engine>, metrics: &Metrics) -> serde_json::Value {
    let p = path.to_path_buf();
    match tokio::task::spawn_blocking(move || Engine::load(&p)).await {
        Ok(Ok(new)) => {
            let dict = &new.config.dict;
            let rules = new.policy.rules.len();
            tracing::info!(
                clients = dict.clients.len(),
                matters = dict.matters.len(),
                rules,
                "configuration reloaded"
            );
            let details = json!({"ok": true, "clients": dict.clients.len(),
                "matters": dict.matters.len(), "waivers": dict.waivers.len(),
                "rules": rules});
            live.store(Arc::new(new));
            metrics.reload(true);
            details
        }
        Ok(Err(e)) => {
            for p in &e.problems {
                tracing::error!(problem = %p, "reload refused; the running configuration stays");
            }
            metrics.reload(false);
            json!({"ok": false, "problems": e.problems.len()})
        }
        Err(_) => {
            tracing::error!("reload panicked; the running configuration stays");
            metrics.reload(false);
            json!({"ok": false, "panicked": true})
        }
    }
}

/// How long a node's claim on the hourly retention run keeps other nodes
/// off it (as [`notify::DIGEST_PERIOD`] for the digest).
const RETENTION_PERIOD: std::time::Duration = std::time::Duration::from_secs(50 * 60);

/// In `[notify] compliance_mode = "digest"`, sends compliance the list of
/// held mail once a day at `digest_at` (UTC). The mode and time are read at
/// each turn, so a reload changes them.
async fn digest_daily(live: Arc<ArcSwap<Engine>>, store: Handle) {
    loop {
        let at = live.load().config.notify.digest_at;
        let now = chrono::Utc::now();
        let mut next = now.date_naive().and_time(at).and_utc();
        if next <= now {
            next += chrono::Duration::days(1);
        }
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let engine = live.load_full();
        let cfg = &engine.config;
        if cfg.notify.mode != ComplianceMode::Digest {
            continue;
        }
        // Once per cluster (issue #13): the node that claims today's run
        // queues the digest in the claim's transaction; the others skip it.
        let read = |st: &dyn Store| Ok((st.list()?, sender_link::self_releases_today(st)?));
        let (held, self_released) = match store.run(read).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the store for the daily digest");
                continue;
            }
        };
        let notices: Vec<_> = notify::digest(cfg, &held, &self_released)
            .into_iter()
            .collect();
        let claim =
            move |st: &dyn Store| st.claim_job_with("digest", notify::DIGEST_PERIOD, notices);
        match store.run(claim).await {
            Ok(true) => store.outbox().wake.notify_one(),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "cannot queue the daily digest"),
        }
    }
}

/// How many due notices one round claims.
const OUTBOX_BATCH: usize = 16;

/// The outbox job (issue #13): claims due notices (once per cluster: a
/// claim is a lease by the database's clock, `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL), tries each once and records the outcome. It starts by
/// taking back this node's own claims (a previous run of this node that
/// died mid-send), wakes when a notice is queued here, and looks every
/// second for notices due by their backoff or queued by other nodes.
async fn outbox(live: Arc<ArcSwap<Engine>>, store: Handle) {
    let second = std::time::Duration::from_secs(1);
    match store.run(|st| st.reclaim_notices()).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            notices = n,
            "notices claimed by this node before a restart: sending again"
        ),
        Err(e) => tracing::error!(error = %e, "cannot take back this node's notice claims"),
    }
    loop {
        let engine = live.load_full();
        let lease = notify::lease(&engine.config);
        let batch = store
            .run(move |st| st.claim_notices(OUTBOX_BATCH, lease))
            .await;
        let pause = match batch {
            Ok(notices) => {
                // A full batch: more may be due at once.
                let more = notices.len() == OUTBOX_BATCH;
                for n in notices {
                    notify::settle(&engine.config, &store, n).await;
                }
                if more {
                    std::time::Duration::ZERO
                } else {
                    second
                }
            }
            Err(e) => {
                // The store is down: a line every few seconds, not a flood.
                tracing::error!(error = %e, "cannot read the outbox; trying again");
                second * 5
            }
        };
        if !pause.is_zero() {
            let _ = tokio::time::timeout(pause, store.outbox().wake.notified()).await;
        }
    }
}

/// Keeps the live review waivers in step with the store when another node
/// (or the CLI) changes them: LISTEN/NOTIFY on PostgreSQL wakes it at once,
/// and the review generation, compared every second, catches what a
/// notification lost while a connection was down would have said.
/// (Users and sessions need nothing: each request reads them from the store.)
async fn review_changes(store: Handle, waivers: LiveWaivers) {
    let second = std::time::Duration::from_secs(1);
    let mut seen = store.run(|st| st.review_generation()).await.ok();
    loop {
        let started = std::time::Instant::now();
        let heard = store.run(move |st| st.wait_review_change(second)).await;
        if !matches!(heard, Ok(true)) {
            // A store that does not wait (one node), or failed: pause here.
            tokio::time::sleep(second.saturating_sub(started.elapsed())).await;
        }
        let Ok(now) = store.run(|st| st.review_generation()).await else {
            continue;
        };
        if seen == Some(now) {
            continue;
        }
        let w = waivers.clone();
        match store.run(move |st| review::waivers::refresh(st, &w)).await {
            Ok(n) => {
                tracing::info!(
                    review_waivers = n,
                    "review waivers changed elsewhere; reloaded"
                );
                seen = Some(now);
            }
            Err(e) => tracing::error!(error = %e, "cannot re-read the review waivers"),
        }
    }
}

/// Destroys what is past `[store] retention_days`, and forgets first
/// contacts past `[policy] first_contact_days`, hourly. The first run is
/// an hour after start, and a run is skipped when the wall clock moved more
/// than an hour beyond the monotonic clock since the last one: a clock
/// jumped forward must not expire the whole queue (RELIABILITY §2 item 16).
async fn retention_hourly(live: Arc<ArcSwap<Engine>>, store: Handle) {
    let hour = std::time::Duration::from_secs(3600);
    let mut last = (std::time::Instant::now(), chrono::Utc::now());
    loop {
        tokio::time::sleep(hour).await;
        let now = (std::time::Instant::now(), chrono::Utc::now());
        let jumped = store::clock_jumped(now.0 - last.0, now.1 - last.1);
        last = now;
        if jumped {
            tracing::error!("the wall clock jumped; retention skipped this hour");
            continue;
        }
        let (days, contacts) = {
            let engine = live.load();
            let policy = &engine.policy;
            (
                engine.config.store.retention_days,
                policy.first_contact_max_age(),
            )
        };
        // One node per cluster per hour (issue #13); expiry is idempotent,
        // so this saves work rather than guarding correctness. First-contact
        // pairs past `first_contact_days` go in the same run (issue #18).
        let run = move |st: &dyn Store| match st.claim_job("retention", RETENTION_PERIOD)? {
            true => {
                let gone = store::apply_retention(st, days)?;
                store::forget_old_contacts(st, contacts)?;
                Ok(gone)
            }
            false => Ok(Vec::new()),
        };
        if let Err(e) = store.run(run).await {
            tracing::error!(error = %e, "retention failed; will try again in an hour")
        }
    }
}
