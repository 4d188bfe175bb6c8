//! `matterwall serve`: the SMTP listener and the review listener, sharing
//! one live config (swapped atomically on SIGHUP; a bad one is refused and
//! the old stays) and one store. SIGTERM or SIGINT stops it gracefully.
//! Every reload, accepted or refused, is in the audit trail.

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use matterwall::act::{Actor, LiveWaivers};
use matterwall::config::Config;
use matterwall::metrics::Metrics;
use matterwall::review::{self, ReviewState};
use matterwall::smtp::listener::Listener;
use matterwall::store::{self, AuditEvent, Store};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

pub fn run(config_path: &Path) -> Result<()> {
    let cfg = Config::load(config_path).map_err(|e| {
        for p in &e.problems {
            tracing::error!(problem = %p, "configuration refused");
        }
        anyhow::anyhow!("{e}")
    })?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(serve(config_path.to_path_buf(), cfg))
}

async fn serve(path: PathBuf, cfg: Config) -> Result<()> {
    let store: Arc<dyn Store> = Arc::new(
        store::open(&cfg.store.url, &cfg.dir, cfg.store.key_file.as_deref())
            .context("cannot open the store")?,
    );
    for id in store.stuck_releasing().context("cannot read the store")? {
        tracing::warn!(id = %id, "left in 'releasing' by an interrupted release: check the next hop, not re-sent");
    }
    let waivers: LiveWaivers = Arc::new(ArcSwap::from_pointee(Vec::new()));
    let n = review::waivers::refresh(store.as_ref(), &waivers).context("cannot read the store")?;
    let smtp = tokio::net::TcpListener::bind(&cfg.smtp.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.smtp.listen))?;
    let http = tokio::net::TcpListener::bind(&cfg.review.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.review.listen))?;
    let _pid = super::reload::PidFile::create(&cfg)?;
    tracing::info!(smtp = %cfg.smtp.listen, review = %cfg.review.listen, https = cfg.review_tls.is_some(),
        next_hop = %cfg.next_hop.address, review_waivers = n, "listening");
    let review_tls = cfg.review_tls.clone();
    let config = Arc::new(ArcSwap::from_pointee(cfg));
    let metrics = Arc::new(Metrics::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(signals(
        path,
        Live {
            config: config.clone(),
            waivers: waivers.clone(),
            metrics: metrics.clone(),
            store: store.clone(),
        },
        stop_tx,
    ));
    tokio::spawn(digest_daily(config.clone(), store.clone()));
    tokio::spawn(retention_hourly(config.clone(), store.clone()));
    let router = review::router(ReviewState {
        config: config.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        waivers: waivers.clone(),
        limiter: Arc::default(),
        secure_cookies: review_tls.is_some(),
    });
    let http_task = tokio::spawn(serve_http(http, review_tls, router, stop_rx.clone()));
    let actor = Arc::new(Actor {
        config: config.clone(),
        waivers,
        store,
        metrics,
    });
    let listener = Listener {
        listener: smtp,
        config,
        settle: actor,
    };
    let mut smtp_stop = stop_rx;
    listener
        .run(async move {
            let _ = smtp_stop.wait_for(|s| *s).await;
        })
        .await;
    if let Ok(Err(e)) = http_task.await {
        tracing::error!(error = %e, "the review listener failed");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The review listener, plain or HTTPS, until `stop`. The client's address
/// reaches the handlers (login rate limiting, the audit trail).
async fn serve_http(
    http: tokio::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum::serve(http, app).with_graceful_shutdown(stopped).await,
        Some(tls) => {
            // `tap_io` is what lets axum hand the TLS listener's peer
            // address to `ConnectInfo`.
            let listener = review::tls::TlsListener::new(http, tls)?.tap_io(|_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        }
    }
}

/// What a reload swaps, and where it reports.
struct Live {
    config: Arc<ArcSwap<Config>>,
    waivers: LiveWaivers,
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
}

/// SIGHUP reloads the config (and re-reads the review-added waivers, which
/// another node may have changed); SIGTERM and SIGINT stop.
async fn signals(path: PathBuf, live: Live, stop: watch::Sender<bool>) {
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let details = reload(&path, &live.config, &live.metrics).await;
                audit(&live.store, AuditEvent::new("system", "reload", details)).await;
                let (s, w) = (live.store.clone(), live.waivers.clone());
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || review::waivers::refresh(s.as_ref(), &w)).await {
                    tracing::error!(error = %e, "cannot re-read the review waivers");
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("shutting down");
    let _ = stop.send(true);
}

/// Loads the config anew and swaps it in; returns what the audit trail
/// records: the outcome and counts (never a problem's text, which can quote
/// a dictionary row).
async fn reload(path: &Path, config: &ArcSwap<Config>, metrics: &Metrics) -> serde_json::Value {
    let p = path.to_path_buf();
    match tokio::task::spawn_blocking(move || Config::load(&p)).await {
        Ok(Ok(new)) => {
            tracing::info!(
                clients = new.dict.clients.len(),
                matters = new.dict.matters.len(),
                rules = new.rules.len(),
                "configuration reloaded"
            );
            let details = json!({"ok": true, "clients": new.dict.clients.len(),
                "matters": new.dict.matters.len(), "waivers": new.dict.waivers.len(),
                "rules": new.rules.len()});
            config.store(Arc::new(new));
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

/// Appends one entry; a failure is logged (a reload is not undone for it).
async fn audit(store: &Arc<dyn Store>, event: AuditEvent) {
    let s = store.clone();
    match tokio::task::spawn_blocking(move || s.append(event)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot write the audit trail"),
        Err(_) => tracing::error!("the audit write panicked"),
    }
}

/// In `[notify] compliance_mode = "digest"`, sends compliance the list of
/// held mail once a day at `digest_at` (UTC). The mode and time are read at
/// each turn, so a reload changes them.
async fn digest_daily(config: Arc<ArcSwap<Config>>, store: Arc<dyn Store>) {
    use matterwall::act::notify;
    use matterwall::config::notify::ComplianceMode;
    loop {
        let at = config.load().notify.digest_at;
        let now = chrono::Utc::now();
        let mut next = now.date_naive().and_time(at).and_utc();
        if next <= now {
            next += chrono::Duration::days(1);
        }
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let cfg = config.load_full();
        if cfg.notify.mode != ComplianceMode::Digest {
            continue;
        }
        let s = store.clone();
        let held = match tokio::task::spawn_blocking(move || s.list()).await {
            Ok(Ok(h)) => h,
            _ => {
                tracing::error!("cannot read the store for the daily digest");
                continue;
            }
        };
        if let Some(n) = notify::digest(&cfg, &held) {
            notify::send(&cfg, "digest", vec![n]).await;
        }
    }
}

/// Destroys what is past `[store] retention_days`, hourly. The first run is
/// an hour after start, and a run is skipped when the wall clock moved more
/// than an hour beyond the monotonic clock since the last one: a clock
/// jumped forward must not expire the whole queue (RELIABILITY §2 item 16).
async fn retention_hourly(config: Arc<ArcSwap<Config>>, store: Arc<dyn Store>) {
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
        let days = config.load().store.retention_days;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || store::apply_retention(&*s, days)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "retention failed; will try again in an hour")
            }
            Err(_) => tracing::error!("retention panicked; will try again in an hour"),
        }
    }
}
