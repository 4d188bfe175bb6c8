//! The binary's glue for the long-running and store commands: wiring,
//! signals, and printing. Library code stays in `matterwall::*`.

pub mod audit;
pub mod quarantine;
pub mod reload;
pub mod serve;
pub mod user;
