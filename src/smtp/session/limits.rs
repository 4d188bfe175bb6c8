//! What a session runs under: the `[smtp]` limits, the TLS server side,
//! and the budgets every session of a listener shares.

use crate::config::Config;
use crate::smtp::budget::Budget;
use crate::smtp::gate::ScanGate;
use crate::smtp::spool::SpoolDir;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::ServerConfig;

/// The limits a session runs under, fixed when it starts (a reload applies
/// to the next connection).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) hostname: String,
    pub(crate) max_message_size: usize,
    pub(crate) max_recipients: usize,
    pub(crate) max_commands: usize,
    pub(crate) command_timeout: Duration,
    pub(crate) data_timeout: Duration,
    /// The session's lifetime cap, from its start.
    pub(crate) max_session: Duration,
    /// The STARTTLS server side; `None`: not offered.
    pub(crate) tls: Option<Arc<ServerConfig>>,
    /// `[smtp] accept_tenant_ids`, lower-case; empty: no tenant check.
    pub(crate) accept_tenants: Vec<String>,
    /// To tell our own loop stamp from a forged one in what arrives.
    pub(crate) stamp: crate::config::stamp::StampKey,
    /// Where DATA goes and when it is scanned (the listener's, shared).
    pub(crate) buffers: Buffers,
}

/// What every session of a listener shares, fixed at its start (a reload
/// does not resize them).
#[derive(Debug, Clone)]
pub(crate) struct Buffers {
    /// `[smtp] max_buffered_bytes`: DATA bytes in memory across sessions.
    pub(crate) memory: Arc<Budget>,
    /// Where a body goes past that; `None`: nowhere (`452 4.3.1` at DATA).
    pub(crate) spool: Option<SpoolDir>,
    /// `[smtp] max_scanning_bytes`: message bytes scanned at once.
    pub(crate) scan: Arc<ScanGate>,
}

impl Buffers {
    /// Fresh budgets for `cfg`, spooling to `spool/` in its data directory
    /// (where the stamp key lives; [`crate::config::stamp::StampKey::locate`]).
    pub(crate) fn from_config(cfg: &Config) -> Buffers {
        let s = &cfg.smtp;
        let data_dir = cfg.stamp_key.path.parent().unwrap_or(&cfg.dir);
        Buffers {
            memory: Budget::new(s.max_buffered_bytes),
            spool: Some(SpoolDir::in_data_dir(data_dir)),
            scan: ScanGate::new(s.max_scanning_bytes),
        }
    }

    /// [`Buffers::from_config`], with the spool folder made ready and
    /// emptied of what a crash left: for a listener, once at its start. A
    /// folder that cannot be made is logged; DATA past the memory budget
    /// then gets `452 4.3.1`.
    pub(crate) fn for_listener(cfg: &Config) -> Buffers {
        let buffers = Buffers::from_config(cfg);
        if let Some(spool) = &buffers.spool {
            match spool.prepare() {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "deleted spool files left by an earlier run"),
                Err(e) => tracing::error!(folder = %spool.path().display(), error = %e,
                    "cannot prepare the spool folder; messages past max_buffered_bytes get 452"),
            }
        }
        buffers
    }
}

impl Limits {
    pub(crate) fn from_config(cfg: &Config) -> Limits {
        let s = &cfg.smtp;
        Limits {
            hostname: s.hostname.clone(),
            max_message_size: s.max_message_size,
            max_recipients: s.max_recipients,
            max_commands: s.max_commands,
            command_timeout: Duration::from_secs(s.command_timeout_secs),
            data_timeout: Duration::from_secs(s.data_timeout_secs),
            // Zero would refuse every session: read it as one second.
            max_session: Duration::from_secs(s.max_session_secs.max(1)),
            tls: cfg.tls.clone(),
            accept_tenants: s
                .accept_tenant_ids
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            stamp: cfg.stamp_key.clone(),
            buffers: Buffers::from_config(cfg),
        }
    }
}
