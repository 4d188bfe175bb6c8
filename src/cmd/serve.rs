//! `matterwall serve`: binds the configured addresses, turns SIGHUP into a
//! reload and SIGTERM or SIGINT into a graceful stop, and runs
//! [`matterwall::server::run`] until then. Everything else the server does
//! lives in the library, so tests run the same code in-process.

use anyhow::{Context, Result};
use matterwall::engine::Engine;
use matterwall::server::{self, Listeners, Signal};
use std::net::TcpListener;
use std::path::Path;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

pub(crate) fn run(config_path: &Path) -> Result<()> {
    let engine = Engine::load(config_path).map_err(|e| {
        for p in &e.problems {
            tracing::error!(problem = %p, "configuration refused");
        }
        anyhow::anyhow!("{e}")
    })?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(serve(config_path, engine))
}

async fn serve(path: &Path, engine: Engine) -> Result<()> {
    let cfg = &engine.config;
    let bind =
        |addr: &str| TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"));
    let listeners = Listeners {
        smtp: bind(&cfg.smtp.listen)?,
        review: bind(&cfg.review.listen)?,
    };
    let _pid = super::reload::PidFile::create(cfg)?;
    let (tx, rx) = mpsc::channel(4);
    forward_signals(tx)?;
    server::run(path, engine, listeners, rx).await?;
    Ok(())
}

/// SIGHUP reloads the config (and re-reads the review-added waivers, which
/// another node may have changed); SIGTERM and SIGINT stop.
fn forward_signals(tx: mpsc::Sender<Signal>) -> Result<()> {
    let mut hup = signal(SignalKind::hangup()).context("cannot install signal handlers")?;
    let mut term = signal(SignalKind::terminate()).context("cannot install signal handlers")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install signal handlers")?;
    tokio::spawn(async move {
        loop {
            let sent = tokio::select! {
                _ = hup.recv() => tx.send(Signal::Reload).await,
                _ = term.recv() => break,
                _ = int.recv() => break,
            };
            if sent.is_err() {
                return;
            }
        }
        let _ = tx.send(Signal::Stop).await;
    });
    Ok(())
}
