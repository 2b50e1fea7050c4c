//! Any byte string, read as (lossy) UTF-8, must parse or be rejected with an
//! error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = loci_model::litmus::parse("fuzz.litmus", &s);
});
