//! Any byte string, read as (lossy) UTF-8, must parse as a cat model or be
//! rejected with an error, never panic. `include`s of other files are not
//! resolved (the built-in stdlib/cos/filters still are).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = loci_model::cat::Model::parse("fuzz.cat", &s, &|_| None);
});
