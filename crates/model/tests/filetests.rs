//! Filetests: every `tests/litmus/**/X.litmus` is run under its
//! architecture's default model and its output (herd7's format, without the
//! `Time` line; or the error, for files under `errors/`) must equal
//! `X.litmus.expected`. On a mismatch the test prints a diff; run with
//! `LOCI_BLESS=1` to rewrite the expected files (then review the diff).

use loci_model::exec::{self, Options};
use loci_model::{litmus, models, report};
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "litmus") {
            out.push(p);
        }
    }
}

/// The output for one file: herd7's text, or `error: ...` lines.
fn output(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap().display().to_string();
    let src = std::fs::read_to_string(path).unwrap();
    let test = match litmus::parse(&rel, &src) {
        Ok(t) => t,
        Err(e) => return format!("error: {e}\n"),
    };
    let model = models::load(models::default_for(test.arch)).unwrap();
    match exec::run(&test, &model, &Options::default()) {
        Ok(out) => report::herd_text(&test, &out, None),
        Err(e) => format!("error: {rel}: {e}\n"),
    }
}

fn diff(expected: &str, got: &str) -> String {
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    let mut s = String::new();
    for i in 0..e.len().max(g.len()) {
        match (e.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => s += &format!("  {a}\n"),
            (a, b) => {
                if let Some(a) = a {
                    s += &format!("- {a}\n");
                }
                if let Some(b) = b {
                    s += &format!("+ {b}\n");
                }
            }
        }
    }
    s
}

#[test]
fn litmus_filetests() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/litmus");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    assert!(files.len() >= 20, "only {} filetests found", files.len());
    let bless = std::env::var_os("LOCI_BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let got = output(f, &root);
        let is_error_test = f.components().any(|c| c.as_os_str() == "errors");
        if is_error_test != got.starts_with("error:") {
            failures.push(format!(
                "{}: expected {}, got:\n{got}",
                f.display(),
                if is_error_test {
                    "an error"
                } else {
                    "a result"
                }
            ));
            continue;
        }
        let exp_path = PathBuf::from(format!("{}.expected", f.display()));
        let expected = std::fs::read_to_string(&exp_path).unwrap_or_default();
        if expected != got {
            if bless {
                std::fs::write(&exp_path, &got).unwrap();
                eprintln!("blessed {}", exp_path.display());
            } else {
                failures.push(format!("{}:\n{}", f.display(), diff(&expected, &got)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} filetest(s) differ (rerun with LOCI_BLESS=1 to accept the new output):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
