//! What a session runs under: the `[smtp]` limits, the TLS server side,
//! and the budgets every session of a listener shares.

use crate::config::Config;
use crate::smtp::budget::Budget;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::ServerConfig;

/// The limits a session runs under, fixed when it starts (a reload applies
/// to the next connection).
#[derive(Debug, Clone)]
pub struct Limits {
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_commands: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// The session's lifetime cap, from its start.
    pub max_session: Duration,
    /// The STARTTLS server side; `None`: not offered.
    pub tls: Option<Arc<ServerConfig>>,
    /// `[smtp] accept_tenant_ids`, lower-case; empty: no tenant check.
    pub accept_tenants: Vec<String>,
    /// To tell our own loop stamp from a forged one in what arrives.
    pub stamp: crate::config::stamp::StampKey,
    /// DATA bytes in memory across all sessions (the listener's, shared).
    pub buffer: Arc<Budget>,
}

impl Limits {
    pub fn from_config(cfg: &Config) -> Limits {
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
            buffer: Budget::new(s.max_buffered_bytes),
        }
    }
}
