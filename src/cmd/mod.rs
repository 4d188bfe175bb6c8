//! The binary's glue for every command: wiring, signals, and printing.
//! Library code stays in `matterwall::*`; `main.rs` only parses and dispatches.

pub mod audit;
pub mod check;
pub mod lint;
pub mod quarantine;
pub mod reload;
pub mod replay;
pub mod rules;
pub mod serve;
pub mod store;
pub mod user;

/// Loads the configuration, its one-line error as `main` prints it.
pub fn load(path: &std::path::Path) -> Result<matterwall::config::Config, String> {
    matterwall::config::Config::load(path).map_err(|e| e.to_string())
}

/// Loads the configuration and builds the engine (rules and detectors
/// checked, matchers built): what `check`, `rules` and `reload` need.
pub fn load_engine(path: &std::path::Path) -> Result<matterwall::engine::Engine, String> {
    matterwall::engine::Engine::load(path).map_err(|e| e.to_string())
}
