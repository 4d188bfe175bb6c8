//! The SMTP command parser, line reader and DATA receiver.
#![no_main]
use libfuzzer_sys::fuzz_target;
use matterwall_fuzz::invariants;

fuzz_target!(|data: &[u8]| {
    invariants::smtp(data);
});
