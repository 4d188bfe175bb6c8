//! The configuration and dictionary loader (TOML and three CSVs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use matterwall_fuzz::invariants;

fuzz_target!(|data: &[u8]| {
    invariants::config(data);
});
