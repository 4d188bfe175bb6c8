//! The fuzz targets' invariants on stable: every committed seed and every
//! crash the fuzzers found (`fuzz/seeds/<target>/`) replayed through the same
//! checks `cargo fuzz` runs (`fuzz/src/invariants.rs`, included here by
//! path), so a regression shows in CI without nightly or libFuzzer.

#[path = "../../fuzz/src/invariants.rs"]
#[allow(dead_code)]
mod invariants;

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files of `fuzz/seeds/<target>/`, sorted; at least one.
fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = root().join("fuzz/seeds").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

fn replay(target: &str, check: impl Fn(&[u8])) {
    for file in seeds(target) {
        let bytes = std::fs::read(&file).expect("read seed");
        check(&bytes);
    }
}

#[test]
fn smtp_seeds_hold_the_codec_invariants() {
    replay("smtp", invariants::smtp);
}

#[test]
fn message_seeds_hold_the_extraction_invariants() {
    let engine = invariants::engine(root());
    replay("message", |b| invariants::message(&engine, b));
}

#[test]
fn attachment_seeds_hold_the_reader_invariants() {
    replay("attachment", invariants::attachment);
}

#[test]
fn config_seeds_load_or_refuse_without_panicking() {
    replay("config", invariants::config);
}
