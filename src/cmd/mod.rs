//! The binary's glue for every command: wiring, signals, and printing.
//! Library code stays in `matterwall::*`; `main.rs` only parses and dispatches.

pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod lint;
pub(crate) mod quarantine;
pub(crate) mod reload;
pub(crate) mod replay;
pub(crate) mod rules;
pub(crate) mod serve;
pub(crate) mod store;
pub(crate) mod user;

/// Loads the configuration, its one-line error as `main` prints it.
pub(crate) fn load(path: &std::path::Path) -> Result<matterwall::config::Config, String> {
    matterwall::config::Config::load(path).map_err(|e| e.to_string())
}

/// Loads the configuration and builds the engine (rules and detectors
/// checked, matchers built): what `check`, `rules` and `reload` need.
pub(crate) fn load_engine(path: &std::path::Path) -> Result<matterwall::engine::Engine, String> {
    matterwall::engine::Engine::load(path).map_err(|e| e.to_string())
}
