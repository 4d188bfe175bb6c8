//! The integration tests: one crate, so one binary to build and link, with
//! one module per concern and one [`support`] module they share (ripgrep's
//! layout). The server runs in-process on listeners the test bound
//! (`support::Server`); the few tests about what only a process shows
//! (signals, the PID file, `kill -9`) and the corpus run the built binary.

mod support;

mod attachments;
mod config_errors;
mod corpus;
mod differential_html;
mod encrypt;
mod faulty_next_hop;
mod fidelity;
mod fuzz_seeds;
mod layers;
mod lint;
mod login_flood;
mod next_hop_tls;
mod notify;
mod postfix_e2e;
mod regression;
mod replay;
mod retention;
mod review_api;
mod review_browser;
mod serve_process;
mod slowloris;
mod smtp_e2e;
mod swaks;
mod tls;
