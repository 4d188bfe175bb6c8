//! Each attachment reader, chosen by the first byte.
#![no_main]
use libfuzzer_sys::fuzz_target;
use matterwall_fuzz::invariants;

fuzz_target!(|data: &[u8]| {
    invariants::attachment(data);
});
