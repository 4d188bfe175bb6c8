//! matterwall: an outgoing-email data-loss-prevention filter for law firms.
//!
//! Data flows one way, one module per stage:
//!
//! ```text
//! smtp (bytes in) → extract (MIME → text segments with locations)
//!                 → detect (dictionaries, patterns → matches)
//!                 → policy (envelope + matches → verdict)
//!                 → act (relay / encrypt / hold / reject) → store
//! ```
//!
//! `config` loads the TOML and the dictionaries once into an immutable
//! [`config::Config`] that every stage shares read-only (behind an `Arc` that a
//! reload swaps). [`check::check`] is extract → detect → policy with no network,
//! which is what `matterwall check` prints. [`server::run`] is the whole
//! server (SMTP proxy, review listener, background jobs) on listeners the
//! caller bound: `matterwall serve` and the integration tests both use it.
#![forbid(unsafe_code)]

pub mod act;
pub mod check;
pub mod config;
pub mod detect;
pub mod engine;
pub mod extract;
pub mod metrics;
pub mod policy;
pub mod review;
pub mod server;
pub mod smtp;
pub mod store;
