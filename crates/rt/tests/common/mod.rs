//! Helpers shared by the runtime's integration tests.

use std::path::{Path, PathBuf};

/// A scratch directory under the system's temporary directory, named
/// `PREFIX-PID-NAME`: emptied when made, removed when dropped unless the
/// test is failing (then kept, for a look at what was built and run).
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh, empty scratch directory `prefix-PID-name`.
    pub fn new(prefix: &str, name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The race corpus: every C (`.c`) and C++ (`.cc`) program in
/// `examples/races/`, sorted.
#[allow(dead_code)]
pub fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/races");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "c" || e == "cc"))
        .collect();
    v.sort();
    v
}

/// `(loci's expected verdict, TSan's expected verdict)` from a corpus
/// program's header (`loci-race-test: race` / `no race`, and `tsan: ...`
/// where ThreadSanitizer is known to differ).
#[allow(dead_code)]
pub fn expectations(src: &str) -> (bool, bool) {
    let verdict = |key: &str| {
        src.lines().take(12).find_map(|l| {
            let rest = l.split(key).nth(1)?.trim();
            if rest.starts_with("no race") {
                Some(false)
            } else if rest.starts_with("race") {
                Some(true)
            } else {
                None
            }
        })
    };
    let loci = verdict("loci-race-test:").expect("no `loci-race-test:` line");
    (loci, verdict("tsan:").unwrap_or(loci))
}

/// Did this run report a race, ThreadSanitizer-style (a data race, or a
/// use after free racing with the free), and exit with TSan's status 66?
#[allow(dead_code)]
pub fn reported(o: &std::process::Output) -> bool {
    let err = String::from_utf8_lossy(&o.stderr);
    let warned = ["data race", "heap-use-after-free"].iter().any(|what| {
        err.contains(&format!("WARNING: ThreadSanitizer: {what} (pid="))
            && err.contains(&format!("SUMMARY: ThreadSanitizer: {what}"))
    });
    warned && o.status.code() == Some(66)
}

/// Run `cmd`, which must succeed (else fail with its stderr).
#[allow(dead_code)]
pub fn run_ok(cmd: &mut std::process::Command) -> std::process::Output {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}
