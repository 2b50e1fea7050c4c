//! The runtime on AArch64, run under `qemu-aarch64` (user-mode emulation):
//! the race corpus's verdicts, and a program whose profile counts and
//! atomic results are exact, built with `aarch64-linux-gnu-gcc
//! -fsanitize=thread` and linked with loci's runtime cross-built for
//! `aarch64-unknown-linux-gnu`. What differs from x86-64 in the runtime is
//! checked this way: the allocation and `free` trampolines (the return
//! address in `x30`), the thread-local context (a `thread_local!`, not the
//! x86-64 initial-exec slot), and atomics (LL/SC or LSE instructions).
//!
//! qemu checks semantics, not timing or memory-model corner cases: it runs
//! the guest's threads on host threads, so atomics really are concurrent,
//! but with x86-64's stronger ordering underneath.
//!
//! Needs `aarch64-linux-gnu-gcc`/`g++`, `qemu-aarch64` with the AArch64
//! libc in `/usr/aarch64-linux-gnu`, and the cross-built runtime:
//!
//! ```text
//! rustup target add aarch64-unknown-linux-gnu
//! cargo build -p loci-rt --release --target aarch64-unknown-linux-gnu
//! ```
//!
//! (`.cargo/config.toml` names the cross linker; `.ci/run` does both.)
//! Skips with a notice when any of these is missing, or when the
//! cross-built runtime is older than the host one (rebuild it then) —
//! except with `LOCI_REQUIRE_AARCH64` set (`.ci/run` sets it once the
//! cross build succeeded), where that is a failure;
//! `$LOCI_RT_LIB_AARCH64` names another library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{corpus, expectations, reported, run_ok, Scratch};

const SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// The cross-built runtime, if it is there and not older than the host
/// one next to this test binary; else why not.
fn runtime_lib() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("LOCI_RT_LIB_AARCH64") {
        return Ok(p.into());
    }
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/aarch64-HASH
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target = profile_dir.parent().unwrap();
    let lib = target.join("aarch64-unknown-linux-gnu/release/libloci_rt.a");
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let Some(cross) = modified(&lib) else {
        return Err(format!("{} is not built", lib.display()));
    };
    if modified(&profile_dir.join("libloci_rt.a")).is_some_and(|host| host > cross) {
        return Err(format!("{} is older than the host runtime", lib.display()));
    }
    Ok(lib)
}

/// Is `tool` on the PATH (it runs with `--version`)?
fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Say why `test` cannot run: a notice (the test is skipped), or a
/// failure where everything it needs should be there
/// (`LOCI_REQUIRE_AARCH64` set).
fn skip(test: &str, why: &str) {
    if std::env::var_os("LOCI_REQUIRE_AARCH64").is_some_and(|v| !v.is_empty()) {
        panic!("{test} cannot run: {why}");
    }
    eprintln!("notice: skipping {test}: {why}");
}

/// The runtime library, or `None` after [`skip`] said what is missing.
fn setup(test: &str) -> Option<PathBuf> {
    let missing: Vec<&str> = [
        "aarch64-linux-gnu-gcc",
        "aarch64-linux-gnu-g++",
        "qemu-aarch64",
    ]
    .into_iter()
    .filter(|t| !have(t))
    .collect();
    if !missing.is_empty() || !Path::new(SYSROOT).is_dir() {
        let why = format!(
            "needs {} and {SYSROOT} (Debian: gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user)",
            missing.join(", ")
        );
        skip(test, &why);
        return None;
    }
    match runtime_lib() {
        Ok(lib) => Some(lib),
        Err(why) => {
            let why = format!("{why} (rustup target add aarch64-unknown-linux-gnu; cargo build -p loci-rt --release --target aarch64-unknown-linux-gnu)");
            skip(test, &why);
            None
        }
    }
}

/// Compile `src` (C, or C++ for `.cc`) with the cross compiler at
/// optimisation level `opt` (`-O1`, ...): an instrumented build linked
/// with `rt`, and an uninstrumented one. Returns `(instrumented, plain)`.
fn build(dir: &Path, src: &Path, rt: &Path, opt: &str) -> (PathBuf, PathBuf) {
    let name = src.file_stem().unwrap().to_string_lossy().into_owned();
    let cc = if src.extension().is_some_and(|e| e == "cc") {
        "aarch64-linux-gnu-g++"
    } else {
        "aarch64-linux-gnu-gcc"
    };
    let obj = dir.join(format!("{name}.o"));
    run_ok(
        Command::new(cc)
            .args([opt, "-g", "-fsanitize=thread", "-Wno-tsan", "-c", "-o"])
            .arg(&obj)
            .arg(src),
    );
    let (loci, plain) = (
        dir.join(format!("{name}-loci")),
        dir.join(format!("{name}-plain")),
    );
    run_ok(
        Command::new(cc)
            .arg("-o")
            .arg(&loci)
            .arg(&obj)
            .arg(rt)
            .args(["-lpthread", "-ldl", "-lm"]),
    );
    run_ok(
        Command::new(cc)
            .args([opt, "-g", "-o"])
            .arg(&plain)
            .arg(src)
            .arg("-lpthread"),
    );
    (loci, plain)
}

/// Run an AArch64 program under qemu, in `dir`.
fn qemu(exe: &Path, dir: &Path, env: &[(&str, &Path)]) -> Output {
    Command::new("timeout")
        .arg("300")
        .arg("qemu-aarch64")
        .args(["-L", SYSROOT])
        .arg(exe)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Every corpus program gets its expected verdict on AArch64 too (the
/// verdict loci gives, and ThreadSanitizer gives, on x86-64: see
/// `races.rs`), with the uninstrumented build's output.
#[test]
fn race_corpus_verdicts_on_aarch64() {
    let Some(rt) = setup("race_corpus_verdicts_on_aarch64") else {
        return;
    };
    let dir = Scratch::new("loci-a64", "corpus");
    let mut failures = Vec::new();
    let programs = corpus();
    for src in &programs {
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        let (want, _) = expectations(&std::fs::read_to_string(src).unwrap());
        // As `races.rs` builds them.
        let (loci, plain) = build(&dir, src, &rt, "-O1");
        let profile = dir.join(format!("{name}.json"));
        let (l, p) = (
            qemu(&loci, &dir, &[("LOCI_PROFILE_OUT", &profile)]),
            qemu(&plain, &dir, &[]),
        );
        let got = reported(&l);
        eprintln!("{name:<28} loci={}", if got { "race" } else { "no-race" });
        if got != want {
            failures.push(format!(
                "{name}: race={got}, expected {want}; exit {:?}, stderr:\n{}",
                l.status.code(),
                String::from_utf8_lossy(&l.stderr)
            ));
        }
        if l.stdout != p.stdout {
            failures.push(format!(
                "{name}: stdout differs from the uninstrumented build"
            ));
        }
        if !got && (l.stderr != p.stderr || l.status.code() != p.status.code()) {
            failures.push(format!(
                "{name}: stderr/exit differ from the uninstrumented build: {:?} {}",
                l.status.code(),
                String::from_utf8_lossy(&l.stderr)
            ));
        }
    }
    eprintln!("{} programs on AArch64", programs.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Capture by reference, atomics of every size from several threads and a
/// compare-and-swap loop: exact results and exact counts in the profile.
const COUNTS: &str = r#"#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#define N 1000
#define T 4
static _Atomic uint8_t a8;
static _Atomic uint16_t a16;
static _Atomic uint32_t a32;
static _Atomic uint64_t a64;
static _Atomic long cas;
static void *bump(void *arg) {
    int *counter = arg;
    for (int i = 0; i < N; i++)
        (*counter)++;
    return NULL;
}
static void *atomics(void *arg) {
    (void)arg;
    for (int i = 0; i < N; i++) {
        atomic_fetch_add_explicit(&a8, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&a16, 1, memory_order_acq_rel);
        atomic_fetch_add(&a32, 1);
        atomic_fetch_add_explicit(&a64, 3, memory_order_release);
        long v = atomic_load_explicit(&cas, memory_order_acquire);
        while (!atomic_compare_exchange_weak(&cas, &v, v + 2))
            ;
    }
    return NULL;
}
int main(void) {
    int *counter = malloc(sizeof *counter); /* SITE */
    *counter = 0;
    pthread_t t;
    pthread_create(&t, NULL, bump, counter);
    pthread_join(t, NULL);
    pthread_t ts[T];
    for (int i = 0; i < T; i++)
        pthread_create(&ts[i], NULL, atomics, NULL);
    for (int i = 0; i < T; i++)
        pthread_join(ts[i], NULL);
    printf("counter=%d a8=%u a16=%u a32=%u a64=%lu cas=%ld\n", *counter,
           (unsigned)a8, (unsigned)a16, (unsigned)a32, (unsigned long)a64, (long)cas);
    free(counter);
    return 0;
}
"#;

#[test]
fn counts_and_atomics_are_exact_on_aarch64() {
    let Some(rt) = setup("counts_and_atomics_are_exact_on_aarch64") else {
        return;
    };
    let dir = Scratch::new("loci-a64", "counts");
    let src = dir.join("counts.c");
    std::fs::write(&src, COUNTS).unwrap();
    // Unoptimised, so that the loop's loads and stores stay (as in
    // `programs.rs`).
    let (loci, plain) = build(&dir, &src, &rt, "-O0");
    let profile = dir.join("profile.json");
    let l = qemu(&loci, &dir, &[("LOCI_PROFILE_OUT", &profile)]);
    let p = qemu(&plain, &dir, &[]);
    let out = String::from_utf8_lossy(&l.stdout);
    // 4 threads x 1000: a8 wraps (4000 mod 256 = 160).
    assert_eq!(
        out,
        "counter=1000 a8=160 a16=4000 a32=4000 a64=12000 cas=8000\n",
        "stderr:\n{}",
        String::from_utf8_lossy(&l.stderr)
    );
    assert_eq!(l.stdout, p.stdout);
    assert_eq!(
        l.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&l.stderr)
    );
    let text = std::fs::read_to_string(&profile).expect("no profile written");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let line = COUNTS
        .lines()
        .position(|l| l.contains("/* SITE */"))
        .unwrap()
        + 1;
    let site = json["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["line"] == line)
        .unwrap_or_else(|| panic!("no site at line {line}: {text}"));
    assert_eq!(site["function"], "main");
    assert_eq!(site["class"], "handoff");
    let threads: Vec<(u64, u64, u64)> = site["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["thread"].as_u64().unwrap(),
                t["reads"].as_u64().unwrap(),
                t["writes"].as_u64().unwrap(),
            )
        })
        .collect();
    // main: `*counter = 0` and the read for printf; thread 1: N x (load, store).
    assert_eq!(threads, vec![(0, 1, 1), (1, 1000, 1000)]);
    // Each atomics thread: 5 atomic operations per round, at least (the
    // compare-and-swap may retry), on globals (not attributable to heap).
    let per_thread = json["threads"].as_array().unwrap();
    assert_eq!(per_thread.len(), 6, "{text}");
    for t in &per_thread[2..] {
        let atomics = t["unattributed"]["atomics"].as_u64().unwrap();
        assert!(atomics >= 5000, "{t}");
    }
    assert_eq!(json["races"], 0);
}
