//! The accept loop: one task per connection, bounded by a semaphore
//! (`421` beyond it), `554 5.7.1` to anyone outside `allowed_networks`,
//! TCP_NODELAY on every socket, the PROXY protocol from listed load
//! balancers (`[smtp] proxy_protocol_from`, [`super::proxy`]), and graceful shutdown: stop accepting, let
//! sessions finish their transaction within the grace period, then `421`.
//!
//! Shape after mini-redis's `server.rs`; draining is "acquire every permit".

use super::proxy;
use super::session::{Buffers, Limits, Session, Settle, Shutdown};
use crate::config::Config;
use crate::engine::Engine;
use arc_swap::ArcSwap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

pub(crate) struct Listener<A> {
    pub(crate) listener: TcpListener,
    pub(crate) engine: Arc<ArcSwap<Engine>>,
    pub(crate) settle: Arc<A>,
    /// Shared by every session for the listener's life (a reload does not
    /// resize them): made by the caller with [`Buffers::for_listener`]
    /// before it says it is listening, so the spool folder is ready and
    /// emptied of a crash's files by then.
    pub(crate) buffers: Buffers,
}

/// How long sessions get after the grace period to finish a settle already
/// under way (a relay or a store commit) before the process gives up on them.
const HARD_STOP: Duration = Duration::from_secs(5);

impl<A: Settle> Listener<A> {
    /// Accepts until `stop` resolves, then drains.
    pub(crate) async fn run(self, stop: impl Future<Output = ()>) {
        let engine = self.engine.load_full();
        let cfg = &engine.config;
        let max = cfg.smtp.max_connections.max(1);
        let grace = Duration::from_secs(cfg.smtp.shutdown_grace_secs);
        let permits = Arc::new(Semaphore::new(max));
        let (shutdown, watcher) = watch::channel(Shutdown::Running);
        let budget = self.buffers.clone();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => self.admit(stream, &permits, &watcher, &budget),
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                () = &mut stop => break,
            }
        }
        drop(self.listener);
        tracing::info!(
            grace_secs = grace.as_secs(),
            "stopped accepting; draining sessions"
        );
        let _ = shutdown.send(Shutdown::Draining);
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, permits.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("grace period over; closing remaining sessions with 421");
            let _ = shutdown.send(Shutdown::Now);
            let _ = tokio::time::timeout(HARD_STOP, permits.acquire_many(all)).await;
        }
    }

    fn admit(
        &self,
        stream: TcpStream,
        permits: &Arc<Semaphore>,
        watcher: &watch::Receiver<Shutdown>,
        budget: &Buffers,
    ) {
        let _ = stream.set_nodelay(true);
        let shared = (permits, watcher, budget);
        let peer = stream.peer_addr().ok();
        let engine = self.engine.load_full();
        let balancer = peer.filter(|p| engine.config.proxy_from.iter().any(|n| n.contains(p.ip())));
        let Some(balancer) = balancer else {
            let settle = self.settle.clone();
            return start(stream, peer, &engine.config, settle, shared);
        };
        // From a listed load balancer: the PROXY header first, then the
        // client it names is the one checked and logged.
        let (settle, permits, watcher) = (self.settle.clone(), permits.clone(), watcher.clone());
        let budget = budget.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            // A balancer sends its header at once; a slow one is not one.
            let limit = Duration::from_secs(engine.config.smtp.command_timeout_secs.clamp(1, 10));
            match proxy::read_header(&mut stream, balancer, limit).await {
                Ok(client) => {
                    let shared = (&permits, &watcher, &budget);
                    start(stream, Some(client), &engine.config, settle, shared)
                }
                Err(e) => {
                    tracing::warn!(balancer = %balancer, error = %e, "PROXY header refused; connection closed");
                }
            }
        });
    }
}

/// What every session shares: connection permits, the shutdown signal,
/// the DATA memory budget, the spool and the scan gate.
type Shared<'a> = (
    &'a Arc<Semaphore>,
    &'a watch::Receiver<Shutdown>,
    &'a Buffers,
);

/// Admits `client` (as the socket or the PROXY header names it): `554` if
/// it is outside `allowed_networks`, `421` beyond `max_connections`, else
/// a session in its own task.
fn start<A: Settle>(
    stream: TcpStream,
    client: Option<SocketAddr>,
    cfg: &Config,
    settle: Arc<A>,
    (permits, watcher, budget): Shared,
) {
    let allowed = client.is_some_and(|p| cfg.allowed_networks.iter().any(|n| n.contains(p.ip())));
    if !allowed {
        tracing::warn!(client = ?client, "connection from outside allowed_networks refused");
        tokio::spawn(refuse(stream, "554 5.7.1 access denied\r\n"));
        return;
    }
    let Ok(permit) = permits.clone().try_acquire_owned() else {
        tracing::warn!(client = ?client, "too many connections");
        tokio::spawn(refuse(
            stream,
            "421 4.7.0 too many connections, try again later\r\n",
        ));
        return;
    };
    let mut limits = Limits::from_config(cfg);
    limits.buffers = budget.clone();
    let session = Session::new(stream, settle, limits, client, watcher.clone());
    tokio::spawn(async move {
        if let Err(e) = session.run().await {
            tracing::debug!(client = ?client, error = %e, "session ended with an I/O error");
        }
        drop(permit);
    });
}

/// Says one line and closes, bounded so a refused peer cannot hold a task.
async fn refuse(mut stream: TcpStream, line: &'static str) {
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = stream.write_all(line.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
