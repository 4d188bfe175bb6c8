//! The fuzz crate's library: the invariant checks every target runs. They
//! live in one file ([`invariants`]) that `tests/it/fuzz_seeds.rs` also
//! includes, so the committed seeds replay on stable in CI.
#![forbid(unsafe_code)]

#[path = "invariants.rs"]
pub mod invariants;
