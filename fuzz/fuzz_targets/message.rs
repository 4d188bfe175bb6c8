//! A whole message through extraction, detection and policy.
#![no_main]
use libfuzzer_sys::fuzz_target;
use matterwall::engine::Engine;
use matterwall_fuzz::invariants;
use std::path::Path;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    // Built once: a small dictionary, small limits (fuzz/matterwall.toml).
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        invariants::engine(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
    });
    invariants::message(engine, data);
});
