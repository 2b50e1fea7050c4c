//! Tests that parse, and are small enough (at most 4 threads of at most 12
//! instructions), are run under their architecture's default model with a
//! candidate budget: errors (budget exceeded, unsupported, ...) are fine,
//! panics are not.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use loci_model::cat::Model;
use loci_model::exec::{self, Options};
use loci_model::models;

thread_local! {
    // Parsing a built-in cat model costs far more than a small test: load
    // each once per process.
    static MODELS: RefCell<HashMap<&'static str, Model>> = RefCell::new(HashMap::new());
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let Ok(test) = loci_model::litmus::parse("fuzz.litmus", &s) else {
        return;
    };
    if test.threads.len() > 4 || test.threads.iter().any(|t| t.code.len() > 12) {
        return;
    }
    let name = models::default_for(test.arch);
    MODELS.with(|m| {
        let mut m = m.borrow_mut();
        let model = m
            .entry(name)
            .or_insert_with(|| models::load(name).expect("built-in model loads"));
        let opts = Options {
            max_candidates: 20_000,
            ..Default::default()
        };
        let _ = exec::run(&test, model, &opts);
    });
});
