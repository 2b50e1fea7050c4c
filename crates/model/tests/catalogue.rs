//! The herd7 catalogue: every test of `../shared/litmus` (Dat3M's corpus
//! with herd7 7.57's verdicts in `expected.csv`) must give herd7's
//! observation and number of final states (or, where only herd7's Ok/No
//! is recorded, the same verdict). Tests using something loci does not
//! support yet are reported as `unsupported: <what>` and counted, never
//! guessed.
//!
//! The data is read in place. Without `../shared` (a user's clone) the
//! test prints a notice and passes; CI's `.ci/run` requires it.

use loci_model::exec::{self, ExecError, Options};
use loci_model::{litmus, models};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/litmus");
    p.join("expected.csv").exists().then_some(p)
}

struct Row {
    path: String,
    model: String,
    ok: String,
    observation: String,
    states: String,
}

enum Verdict {
    Agree,
    Disagree(String),
    Unsupported(String),
    Error(String),
}

/// Tests where loci knowingly differs from herd7, with the reason. They are
/// reported on every run; the test fails if one starts to agree (remove it
/// here) or differs in another way.
const KNOWN_DEVIATIONS: &[(&str, &str, &str)] = &[
    (
        "AARCH64/mixed/MP+dmb.sy+addrXW+1.litmus",
        "states herd7 2 loci 3",
        "a misaligned 8-byte load overlapping a misaligned 8-byte store: loci also finds the \
         state where the load reads the store's overlapping bytes; herd7 7.57 does not (same Observation)",
    ),
    (
        "AARCH64/mixed/MP+dmb.sy+addrXW+124.litmus",
        "states herd7 2 loci 3",
        "same shape as MP+dmb.sy+addrXW+1 at offset 124 (same Observation)",
    ),
];

/// The number of catalogue tests loci agrees on today; a change that makes
/// fewer agree (even by turning them `unsupported`) fails.
const MIN_AGREE: usize = 6350;

#[test]
fn herd7_catalogue() {
    let Some(dir) = shared() else {
        eprintln!("notice: ../shared/litmus not found; skipping the herd7 catalogue test");
        return;
    };
    let csv = std::fs::read_to_string(dir.join("expected.csv")).unwrap();
    let rows: Vec<Row> = csv
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                path: f[0].into(),
                model: f[1].into(),
                ok: f[2].into(),
                observation: f[3].into(),
                states: f[4].into(),
            }
        })
        .collect();
    assert!(rows.len() > 6000, "expected.csv has {} rows", rows.len());
    let model_of = |m: &str| match m {
        "aarch64" => "aarch64",
        "x86tso" => "x86tso",
        "rc11" => "rc11",
        other => panic!("unknown model {other} in expected.csv"),
    };
    let loaded: BTreeMap<&str, loci_model::cat::Model> = ["aarch64", "x86tso", "rc11"]
        .into_iter()
        .map(|m| (m, models::load(m).unwrap()))
        .collect();

    let results: Vec<(String, Verdict)> = rows
        .par_iter()
        .map(|r| {
            let file = dir.join(&r.path);
            let test = match litmus::parse_file(&file) {
                Ok(t) => t,
                Err(e) => return (r.path.clone(), Verdict::Error(e.to_string())),
            };
            let mut opts = Options {
                prune_coherence: true,
                ..Options::default()
            };
            if r.path.starts_with("AARCH64/mixed/") {
                opts.variants.insert("mixed".into());
            }
            let out = match exec::run(&test, &loaded[model_of(&r.model)], &opts) {
                Ok(o) => o,
                Err(ExecError::Unsupported(m)) => return (r.path.clone(), Verdict::Unsupported(m)),
                Err(e) => return (r.path.clone(), Verdict::Error(e.to_string())),
            };
            // herd7 prints `Undef` for racy C tests; expected.csv then records
            // Dat3M's verdict on the condition itself.
            let ok = out.ok(test.quantifier);
            let mut why = Vec::new();
            if r.ok != (ok as u8).to_string() {
                why.push(format!(
                    "herd7 {} loci {}",
                    ok_word(&r.ok),
                    if ok { "Ok" } else { "No" }
                ));
            }
            if !r.observation.is_empty() && r.observation != out.observation().as_str() {
                why.push(format!(
                    "observation herd7 {} loci {}",
                    r.observation,
                    out.observation().as_str()
                ));
            }
            if !r.states.is_empty() && r.states != out.states.len().to_string() {
                why.push(format!(
                    "states herd7 {} loci {}",
                    r.states,
                    out.states.len()
                ));
            }
            if why.is_empty() {
                (r.path.clone(), Verdict::Agree)
            } else {
                (r.path.clone(), Verdict::Disagree(why.join(", ")))
            }
        })
        .collect();

    let mut agree = 0;
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for (p, v) in &results {
        match v {
            Verdict::Agree if KNOWN_DEVIATIONS.iter().any(|k| k.0 == p) => bad.push(format!(
                "{p}: now agrees with herd7: remove it from KNOWN_DEVIATIONS"
            )),
            Verdict::Agree => agree += 1,
            Verdict::Unsupported(m) => *unsupported.entry(m.clone()).or_default() += 1,
            Verdict::Disagree(m) => match KNOWN_DEVIATIONS.iter().find(|k| k.0 == p) {
                Some(k) if k.1 == m => eprintln!("  known deviation: {p}: {m}: {}", k.2),
                _ => bad.push(format!("{p}: {m}")),
            },
            Verdict::Error(m) => bad.push(format!("{p}: error: {m}")),
        }
    }
    let n_unsup: usize = unsupported.values().sum();
    eprintln!(
        "herd7 catalogue: {agree} agree, {} disagree or fail, {n_unsup} unsupported",
        bad.len()
    );
    for (m, n) in &unsupported {
        eprintln!("  unsupported: {m} ({n} tests)");
    }
    for b in bad.iter().take(50) {
        eprintln!("  {b}");
    }
    assert!(
        bad.is_empty(),
        "{} catalogue tests disagree with herd7 or fail",
        bad.len()
    );
    assert!(
        agree >= MIN_AGREE,
        "only {agree} catalogue tests agree (at least {MIN_AGREE} did before)"
    );
}

fn ok_word(s: &str) -> &'static str {
    if s == "1" {
        "Ok"
    } else {
        "No"
    }
}

/// Coherence pruning must not change any outcome under the built-in
/// models: on a sample of the catalogue (every 7th test, mixed-size
/// included), the full enumeration and the pruned one give the same final
/// states and the same positive and negative counts.
#[test]
fn coherence_pruning_changes_nothing() {
    let Some(dir) = shared() else {
        eprintln!("notice: ../shared/litmus not found; skipping the pruning check");
        return;
    };
    let csv = std::fs::read_to_string(dir.join("expected.csv")).unwrap();
    let rows: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .step_by(7)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    let compared: usize = rows
        .par_iter()
        .map(|(path, model)| {
            let Ok(test) = litmus::parse_file(&dir.join(path)) else {
                return 0;
            };
            let model = models::load(model).unwrap();
            let mut full = Options {
                max_candidates: 300_000,
                ..Options::default()
            };
            if path.starts_with("AARCH64/mixed/") {
                full.variants.insert("mixed".into());
            }
            let pruned = Options {
                prune_coherence: true,
                ..full.clone()
            };
            match (
                exec::run(&test, &model, &full),
                exec::run(&test, &model, &pruned),
            ) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        a.states, b.states,
                        "{path}: pruning changed the final states"
                    );
                    assert_eq!(
                        (a.positive, a.negative),
                        (b.positive, b.negative),
                        "{path}: pruning changed the counts"
                    );
                    assert!(b.candidates <= a.candidates);
                    1
                }
                _ => 0,
            }
        })
        .sum();
    eprintln!("pruning check: {compared} tests compared");
    assert!(compared > 700, "only {compared} tests could be compared");
}

/// herd7's own model files, run unmodified by loci's cat interpreter, give
/// herd7's verdicts: x86tso.cat on the X86 tests and rc11.cat on the C11
/// tests. Needs a herdtools7 checkout: set `LOCI_HERD_LIBDIR` to its
/// `herd/libdir` (the test prints a notice and passes when it is unset).
#[test]
fn herd7_own_cat_files() {
    let (Some(dir), Some(libdir)) = (shared(), std::env::var_os("LOCI_HERD_LIBDIR")) else {
        eprintln!("notice: set LOCI_HERD_LIBDIR=<herdtools7>/herd/libdir (and have ../shared) to run herd7's own cat files");
        return;
    };
    let libdir = PathBuf::from(libdir);
    let csv = std::fs::read_to_string(dir.join("expected.csv")).unwrap();
    let mut checked = 0;
    for (prefix, cat) in [("X86/", "x86tso.cat"), ("C11/", "rc11.cat")] {
        let model = models::load(&libdir.join(cat).display().to_string()).unwrap();
        for line in csv.lines().skip(1).filter(|l| l.starts_with(prefix)) {
            let f: Vec<&str> = line.split(',').collect();
            let Ok(test) = litmus::parse_file(&dir.join(f[0])) else {
                continue;
            };
            let out = match exec::run(&test, &model, &Options::default()) {
                Ok(o) => o,
                Err(ExecError::Unsupported(_)) => continue,
                Err(e) => panic!("{}: {e}", f[0]),
            };
            assert_eq!(
                (out.ok(test.quantifier) as u8).to_string(),
                f[2],
                "{}: verdict",
                f[0]
            );
            if !f[3].is_empty() {
                assert_eq!(out.observation().as_str(), f[3], "{}: observation", f[0]);
                assert_eq!(out.states.len().to_string(), f[4], "{}: states", f[0]);
            }
            checked += 1;
        }
    }
    eprintln!("herd7's own cat files: {checked} tests agree");
    assert!(checked > 400);
}
