//! The integration tests: one crate, so one binary to build and link, with
//! one module per concern and one [`support`] module they share (ripgrep's
//! layout). The server runs in-process on listeners the test bound
//! (`support::Server`); the few tests about what only a process shows
//! (signals, the PID file, `kill -9`) and the corpus run the built binary.

mod support;

mod attachments;
mod audit_checkpoints;
mod big_messages;
mod chunking;
mod clock_jump;
mod config_errors;
mod corpus;
mod dashboard;
mod differential_html;
mod differential_mime;
mod disk_full;
mod encrypt;
mod faulty_next_hop;
mod fidelity;
mod first_contact;
mod four_eyes;
mod fsync_error;
mod fuzz_seeds;
#[cfg(feature = "failpoints")]
mod kill_points;
mod layers;
mod lint;
mod login_flood;
mod memory_limit;
mod next_hop_tls;
mod notify;
mod outage;
mod outbox;
mod pathological;
mod postfix_e2e;
mod postgres;
mod regression;
mod replay;
mod retention;
mod review_api;
mod review_browser;
mod review_oidc;
mod review_scope;
mod review_sessions;
mod review_walls;
mod sender_release;
mod serve_process;
mod slowloris;
mod smtp_e2e;
mod soak;
mod split;
mod store_corruption;
mod store_health;
mod store_suite;
mod swaks;
mod tls;
mod two_nodes;
mod undo_send;

// Issue 14: deployment with Microsoft 365 / Google Workspace.
mod dkim;
mod intake;
mod next_hop_auth;
mod next_hop_identity;
mod proxy_protocol;
mod stamp;
