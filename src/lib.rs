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
//! Who owns what, in layers (a module imports only layers below it;
//! `tests/it/layers.rs` checks it):
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | – | `failpoint` | test-only crash points (the `failpoints` feature; empty otherwise), below everything |
//! | 0 | `text`, `store`, `metrics` | normalisation, addresses, the matter key; the quarantine and audit trail; counters |
//! | 1 | `extract` | MIME and attachments → text segments, within its [`extract::Limits`]; one walker ([`extract::walk`]) owns the recursion, every reader is a leaf |
//! | 2 | `config` | the TOML, dictionaries and keys as plain data ([`config::Config`]) |
//! | 3–4 | `detect`, `policy` | each compiles its part of the config and builds its matchers |
//! | 5–6 | `engine`, `check` | [`engine::Engine`]: a config with its detector and policy, the snapshot a reload swaps; [`check::check`]: extract → detect → policy, no network |
//! | 7 | `replay` | [`replay`]: an archive through one policy or two (summary, compare, reports), no network |
//! | 8–9 | `smtp`, `act` | the wire (codec, session, relay client); the only code that answers DATA |
//! | 10–11 | `review`, `server` | the review listener; [`server::run`], the whole server on listeners the caller bound |
//!
//! The verdict is typed from end to end: fired rules carry their name,
//! action and mode ([`policy::rules::FiredRule`]) and a held record seals
//! them, so what a reviewer reads is what decided. `matterwall serve` and
//! the integration tests both run [`server::run`].
//!
//! Items are `pub(crate)` unless the command (`src/main.rs`), the
//! integration tests, the benchmarks or the fuzz targets use them, so what
//! is `pub` is the library's real surface, and it is documented.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod act;
pub mod check;
pub mod config;
pub mod detect;
pub mod engine;
pub mod extract;
pub mod failpoint;
pub mod metrics;
pub mod policy;
pub mod replay;
pub mod review;
pub mod server;
pub mod smtp;
pub mod store;
pub mod text;
