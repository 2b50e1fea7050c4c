//! `loci cc` + `loci profile` end to end: build programs from
//! `examples/races/` with `loci cc`, run them under `loci profile`, and
//! check the exit status (66 on a race, as ThreadSanitizer), the race
//! report on stderr, the table, and the trace written with `--trace`.
//!
//! Needs gcc with `-fsanitize=thread` and the runtime library
//! (`$LOCI_RT_LIB`, or the newest `libloci_rt.a` that cargo built: beside
//! the `loci` binary or in `deps/`); skips with a notice otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// The runtime's test helpers (scratch directories), shared by source.
#[path = "../../rt/tests/common/mod.rs"]
mod common;
use common::Scratch;

/// The runtime library to link: `$LOCI_RT_LIB`, else the newest of
/// `libloci_rt.a` beside the `loci` binary (what `cargo build --release`
/// leaves) and `deps/libloci_rt-*.a` (what `cargo test --workspace` builds
/// for loci-rt's own tests) — so a stale copy beside the binary is not used.
fn runtime_lib() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LOCI_RT_LIB") {
        return Some(PathBuf::from(p));
    }
    let dir = Path::new(env!("CARGO_BIN_EXE_loci")).parent().unwrap();
    let mut candidates = vec![dir.join("libloci_rt.a")];
    if let Ok(rd) = std::fs::read_dir(dir.join("deps")) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("libloci_rt") && n.ends_with(".a") {
                candidates.push(e.path());
            }
        }
    }
    candidates
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
}

fn loci() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loci"));
    if let Some(lib) = runtime_lib() {
        c.env("LOCI_RT_LIB", lib);
    }
    c
}

fn runtime_available() -> bool {
    let ok = runtime_lib().is_some();
    let gcc = Command::new("gcc")
        .args(["-fsanitize=thread", "-x", "c", "-c", "-o", "/dev/null", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !(ok && gcc) {
        eprintln!(
            "notice: skipping: needs gcc -fsanitize=thread and libloci_rt.a (cargo build --release -p loci-rt, or run the whole workspace's tests) or LOCI_RT_LIB"
        );
    }
    ok && gcc
}

/// A scratch directory for test `name` (removed when the test passes).
fn tmpdir(name: &str) -> Scratch {
    Scratch::new("loci-cli-profile", name)
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/races")
        .join(name)
}

fn cc(dir: &Path, src: &Path, out: &str) -> PathBuf {
    let exe = dir.join(out);
    let o = loci()
        .arg("cc")
        .args(["-O1", "-o"])
        .arg(&exe)
        .arg(src)
        .arg("-lpthread")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "loci cc failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    exe
}

fn profile(dir: &Path, exe: &Path, extra: &[&str]) -> Output {
    loci()
        .arg("profile")
        .arg("-o")
        .arg(dir.join("p.json"))
        .args(extra)
        .arg("--")
        .arg(exe)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn racy_program_exits_66_with_a_tsan_report_and_a_trace() {
    if !runtime_available() {
        return;
    }
    let dir = tmpdir("racy");
    let exe = cc(&dir, &example("racy_flag.c"), "racy");
    let trace = dir.join("t.locitrace");
    let o = profile(&dir, &exe, &["--trace", trace.to_str().unwrap()]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(66), "{err}");
    assert!(
        err.starts_with("==================\nWARNING: ThreadSanitizer: data race (pid="),
        "{err}"
    );
    assert!(
        err.contains("SUMMARY: ThreadSanitizer: data race "),
        "{err}"
    );
    assert!(
        err.ends_with("ThreadSanitizer: reported 1 warnings\n"),
        "{err}"
    );
    // The program's own output comes first, then the table.
    assert!(out.starts_with("42\n"), "{out}");
    assert!(
        out.ends_with("data races: 1 (reported on stderr in ThreadSanitizer's format)\n"),
        "{out}"
    );
    let events = loci_trace::read_all(&std::fs::read(&trace).unwrap()).unwrap();
    use loci_trace::Event;
    assert_eq!(
        events.first(),
        Some(&Event::ThreadStart {
            thread: 0,
            parent: None
        })
    );
    assert_eq!(events.last(), Some(&Event::ThreadExit { thread: 0 }));
    // main spins on the flag with relaxed atomic loads: at least one.
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Access {
            thread: 0,
            atomic: true,
            write: false,
            size: 4,
            ..
        }
    )));
}

#[test]
fn race_free_program_keeps_its_exit_status() {
    if !runtime_available() {
        return;
    }
    let dir = tmpdir("ok");
    let exe = cc(&dir, &example("ok_condvar.c"), "ok");
    let o = profile(&dir, &exe, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("4950\n"), "{out}");
    assert!(out.ends_with("data races: none\n"), "{out}");
    // --no-races: a racy program runs with its own exit status, no report.
    let racy = cc(&dir, &example("racy_counter.c"), "racy");
    let o = profile(&dir, &racy, &["--no-races"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("p.json")).unwrap()).unwrap();
    assert_eq!(p["races"], 0);
}

#[test]
fn plan_lists_the_handoff_site_with_the_consumer_policy() {
    if !runtime_available() {
        return;
    }
    let dir = tmpdir("plan");
    let src = dir.join("capture.c");
    std::fs::write(
        &src,
        "#include <pthread.h>\n#include <stdlib.h>\n\
         static void *bump(void *a) { volatile int *c = a; for (int i = 0; i < 1000; i++) (*c)++; return 0; }\n\
         __attribute__((noinline)) int *make_counter(void) { int *c = malloc(sizeof *c); *c = 0; return c; }\n\
         int main(void) { int *c = make_counter(); pthread_t t; pthread_create(&t, 0, bump, c);\n\
         pthread_join(t, 0); free(c); return 0; }\n",
    )
    .unwrap();
    let exe = cc(&dir, &src, "capture");
    let plan = dir.join("plan.json");
    let out = profile(
        &dir,
        &exe,
        &["--no-races", "--plan", plan.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&plan).expect("plan written");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = v.to_string();
    assert!(entries.contains("make_counter"), "{text}");
    assert!(entries.contains("consumer"), "{text}");
}

#[test]
fn table_and_json_show_the_falsely_shared_line() {
    if !runtime_available() {
        return;
    }
    let dir = tmpdir("fs");
    let src = dir.join("counters.c");
    // Two per-thread counters in one 64-byte line; volatile keeps every
    // increment at -O1 (a load and a store).
    std::fs::write(
        &src,
        "#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n\
         static void *bump(void *a) { volatile long *c = a; *c = 0; for (int i = 0; i < 1000; i++) (*c)++; return 0; }\n\
         int main(void) {\n\
         long *c; if (posix_memalign((void **)&c, 64, 64)) return 1;\n\
         pthread_t t[2]; for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, bump, &c[i]);\n\
         for (int i = 0; i < 2; i++) pthread_join(t[i], 0);\n\
         printf(\"%ld\\n\", c[0] + c[1]); free(c); return 0; }\n",
    )
    .unwrap();
    let exe = cc(&dir, &src, "counters");
    let o = profile(&dir, &exe, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.starts_with("2000\n"), "{out}");
    let fs: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("false sharing:"))
        .take(2)
        .collect();
    assert_eq!(fs.len(), 2, "{out}");
    assert_eq!(fs[0], "false sharing: 1 cache line");
    assert!(fs[1].starts_with("  line 0x"), "{out}");
    assert!(
        fs[1].ends_with(" (site counters.c:6) written by T1 bytes 0-7, T2 bytes 8-15: 2002 writes"),
        "{out}"
    );
    let o = profile(&dir, &exe, &["--json"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let json = &text[text.find('{').unwrap()..];
    let p: serde_json::Value = serde_json::from_str(json).unwrap();
    let l = &p["false_sharing"][0];
    assert_eq!(l["threads"], serde_json::json!([1, 2]));
    assert_eq!(l["sites"][0]["line"], 6);
    assert_eq!(l["sites"][0]["function"], "main");
    assert!(l["line_address"].as_str().unwrap().starts_with("0x"));
}

/// clang with `-fsanitize=thread`, or a notice and `false`.
fn clang_available() -> bool {
    let ok = Command::new("clang")
        .args(["-fsanitize=thread", "-x", "c", "-c", "-o", "/dev/null", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("notice: skipping: clang with -fsanitize=thread is not installed (apt-get install clang)");
    }
    ok
}

/// `loci cc --clang FLAGS -o OUT SRC -lpthread` (with `env` set).
fn cc_clang(dir: &Path, src: &Path, out: &str, flags: &[&str], env: &[(&str, &str)]) -> PathBuf {
    let exe = dir.join(out);
    let o = loci()
        .arg("cc")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(src)
        .arg("-lpthread")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "loci cc failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    exe
}

const CAPTURE: &str = "#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define N 1000
static void *bump(void *arg) {
    int *counter = arg;
    for (int i = 0; i < N; i++)
        (*counter)++;
    return NULL;
}
int main(void) {
    int *counter = malloc(sizeof *counter); /* SITE: line 12 */
    *counter = 0;
    pthread_t t;
    pthread_create(&t, NULL, bump, counter);
    pthread_join(t, NULL);
    printf(\"counter=%d\\n\", *counter);
    free(counter);
    return 3;
}
";

#[test]
fn clang_capture_by_reference_has_the_same_exact_counts_as_gcc() {
    if !runtime_available() || !clang_available() {
        return;
    }
    let dir = tmpdir("clang-capture");
    let src = dir.join("capture.c");
    std::fs::write(&src, CAPTURE).unwrap();
    let mut profiles = Vec::new();
    for (name, flags) in [("gcc", &["-O0"][..]), ("clang", &["--clang", "-O0"][..])] {
        let exe = cc_clang(&dir, &src, name, flags, &[]);
        let o = profile(&dir, &exe, &[]);
        assert_eq!(
            o.status.code(),
            Some(3),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).starts_with("counter=1000\n"),
            "{name}"
        );
        // Written by loci's runtime (clang's own would write no profile).
        let p: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("p.json")).unwrap()).unwrap();
        std::fs::remove_file(dir.join("p.json")).unwrap();
        let sites: Vec<&serde_json::Value> = p["sites"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["line"] == 12)
            .collect();
        assert_eq!(sites.len(), 1, "{name}: {p:#}");
        let s = sites[0];
        assert_eq!(s["function"], "main", "{name}");
        assert_eq!(s["objects"], 1);
        assert_eq!(s["bytes"], 4);
        assert_eq!(s["alloc_threads"], serde_json::json!([0]));
        assert_eq!(s["class"], "handoff", "{name}");
        // main: `*counter = 0` and the read for printf; thread 1: N x (load, store).
        assert_eq!(
            s["threads"],
            serde_json::json!([
                {"thread": 0, "reads": 1, "writes": 1, "atomics": 0},
                {"thread": 1, "reads": 1000, "writes": 1000, "atomics": 0}
            ]),
            "{name}"
        );
        profiles.push(s["threads"].clone());
    }
    assert_eq!(profiles[0], profiles[1]);
}

#[test]
fn a_program_on_stdin_with_a_language_option_is_instrumented_and_linked() {
    // configure scripts and build systems probe with `cc -x c - -o X`.
    // With gcc the runtime archive used to follow `-x c` on the link line
    // and be compiled as C source (for many minutes).
    if !runtime_available() {
        return;
    }
    let dir = tmpdir("stdin");
    let mut compilers = vec![("gcc", vec!["-O0"])];
    if clang_available() {
        compilers.push(("clang", vec!["--clang", "-O0"]));
    }
    for (name, flags) in compilers {
        let exe = dir.join(name);
        let mut child = loci()
            .arg("cc")
            .args(&flags)
            .args(["-x", "c", "-", "-o"])
            .arg(&exe)
            .arg("-lpthread")
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(CAPTURE.as_bytes()).unwrap();
        }
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{name}: loci cc failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // Instrumented and profiled: main's malloc is a handoff site.
        let o = profile(&dir, &exe, &["--json"]);
        assert_eq!(o.status.code(), Some(3), "{name}");
        let p: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("p.json")).unwrap()).unwrap();
        let handoff = p["sites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["line"] == 12 && s["class"] == "handoff");
        assert!(handoff, "{name}: {p:#}");
    }
}

#[test]
fn clang_racy_programs_exit_66() {
    if !runtime_available() || !clang_available() {
        return;
    }
    let dir = tmpdir("clang-racy");
    // `--clang`, and `CC=clang` without it.
    let a = cc_clang(
        &dir,
        &example("racy_counter.c"),
        "counter",
        &["--clang", "-O1"],
        &[],
    );
    let b = cc_clang(
        &dir,
        &example("racy_flag.c"),
        "flag",
        &["-O1"],
        &[("CC", "clang")],
    );
    for exe in [a, b] {
        let o = profile(&dir, &exe, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(66), "{err}");
        assert!(
            err.starts_with("==================\nWARNING: ThreadSanitizer: data race (pid="),
            "{err}"
        );
        // racy_counter's two threads may race more than once.
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.starts_with("ThreadSanitizer: reported ") && last.ends_with(" warnings"),
            "{err}"
        );
        assert!(dir.join("p.json").is_file());
        std::fs::remove_file(dir.join("p.json")).unwrap();
    }
    // A race-free program keeps its status and stays silent.
    let ok = cc_clang(
        &dir,
        &example("ok_condvar.c"),
        "ok",
        &["--clang", "-O1"],
        &[],
    );
    let o = profile(&dir, &ok, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
}

#[test]
fn clang_compound_accesses_count_a_read_and_a_write() {
    if !runtime_available() || !clang_available() {
        return;
    }
    // `-tsan-compound-read-before-write`: `(*counter)++` becomes one
    // `__tsan_read_write4` call, counted as a read and a write.
    let dir = tmpdir("clang-compound");
    let src = dir.join("capture.c");
    std::fs::write(&src, CAPTURE).unwrap();
    let flags = ["-O0", "-mllvm", "-tsan-compound-read-before-write=1"];
    // Compiled by hand (`loci cc --clang` asks for separate reads with
    // `-tsan-instrument-read-before-write`, which takes precedence); the
    // link is loci's.
    let obj = dir.join("capture.o");
    let o = Command::new("clang")
        .args(flags)
        .args(["-fsanitize=thread", "-g", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    if let Ok(nm) = Command::new("nm").arg("-u").arg(&obj).output() {
        let syms: Vec<String> = String::from_utf8_lossy(&nm.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        assert!(syms.iter().any(|s| s == "__tsan_read_write4"), "{syms:?}");
    }
    let exe = cc_clang(&dir, &obj, "capture", &["--clang"], &[]);
    let o = profile(&dir, &exe, &[]);
    assert_eq!(o.status.code(), Some(3));
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("p.json")).unwrap()).unwrap();
    let s = p["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["line"] == 12)
        .unwrap();
    assert_eq!(
        s["threads"],
        serde_json::json!([
            {"thread": 0, "reads": 1, "writes": 1, "atomics": 0},
            {"thread": 1, "reads": 1000, "writes": 1000, "atomics": 0}
        ])
    );
}

const WIDE: &str = "#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static unsigned __int128 *v;
#define N 2000
static void *work(void *arg) {
    (void)arg;
    for (int i = 0; i < N; i++) {
        __atomic_fetch_add(v, ((unsigned __int128)1 << 64) | 1, __ATOMIC_SEQ_CST);
        unsigned __int128 e = __atomic_load_n(v, __ATOMIC_ACQUIRE);
        while (!__atomic_compare_exchange_n(v, &e, e + 2, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            ;
    }
    return NULL;
}
int main(void) {
    v = aligned_alloc(16, 16); /* ALLOC */
    __atomic_store_n(v, 0, __ATOMIC_RELEASE);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    unsigned __int128 x = __atomic_exchange_n(v, 7, __ATOMIC_SEQ_CST);
    unsigned __int128 old = __sync_val_compare_and_swap(v, 7, 9);
    __atomic_fetch_xor(v, 1, __ATOMIC_RELAXED);
    __atomic_fetch_or(v, 6, __ATOMIC_RELAXED);
    __atomic_fetch_and(v, 12, __ATOMIC_RELAXED);
    __atomic_fetch_sub(v, 1, __ATOMIC_RELAXED);
    __atomic_fetch_nand(v, 3, __ATOMIC_RELAXED);
    printf(\"%llu %llu %llu %llu\\n\", (unsigned long long)(x >> 64), (unsigned long long)x,
           (unsigned long long)old, (unsigned long long)__atomic_load_n(v, __ATOMIC_SEQ_CST));
    free((void *)v);
    return 0;
}
";

/// 16-byte atomics (`-mcx16`) are really atomic, give the uninstrumented
/// results, and are counted as atomics of the object — with gcc and, when
/// installed, clang.
#[test]
fn sixteen_byte_atomics_are_atomic_and_counted() {
    if !runtime_available() {
        return;
    }
    let dir = tmpdir("wide");
    let src = dir.join("wide.c");
    std::fs::write(&src, WIDE).unwrap();
    let plain = dir.join("wide-plain");
    let o = Command::new("gcc")
        .args(["-O1", "-mcx16", "-o"])
        .arg(&plain)
        .arg(&src)
        .args(["-lpthread", "-latomic"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = Command::new(&plain).output().unwrap();
    // 2 threads x 2000 x (1 fetch_add of 2^64+1, CAS +2): high word 4000,
    // low word 3 x 4000; then exchange, CAS 7 -> 9, xor 1, or 6, and 12,
    // sub 1, nand 3.
    assert_eq!(
        String::from_utf8_lossy(&want.stdout),
        "4000 12000 7 18446744073709551612\n"
    );
    let mut compilers = vec![vec!["-O1", "-mcx16"]];
    if clang_available() {
        compilers.push(vec!["--clang", "-O1", "-mcx16"]);
    }
    for flags in compilers {
        let exe = cc_clang(&dir, &src, "wide", &flags, &[]);
        let o = profile(&dir, &exe, &["--json"]);
        assert!(
            o.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let p: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("p.json")).unwrap()).unwrap();
        assert_eq!(p["races"], 0, "{flags:?}");
        let line = WIDE
            .lines()
            .position(|l| l.contains("/* ALLOC */"))
            .unwrap()
            + 1;
        let s = p["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["line"] == line as u64)
            .unwrap_or_else(|| panic!("{flags:?}: no site at line {line}"));
        // Each worker: N fetch_adds, N loads and at least N CASes.
        for t in &s["threads"].as_array().unwrap()[1..] {
            assert!(t["atomics"].as_u64().unwrap() >= 6000, "{flags:?}: {t}");
        }
        // The program's own output is unchanged.
        let run = Command::new(&exe)
            .env("LOCI_PROFILE_OUT", dir.join("q.json"))
            .output()
            .unwrap();
        assert_eq!(run.stdout, want.stdout, "{flags:?}");
    }
}

#[test]
fn an_unimplemented_entry_aborts_naming_it() {
    use std::os::unix::process::ExitStatusExt;
    if !runtime_available() {
        return;
    }
    // clang emits __tsan_ignore_thread_begin only in Objective-C methods;
    // a C program can still call it.
    let dir = tmpdir("unimpl");
    let src = dir.join("unimpl.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nvoid __tsan_ignore_thread_begin(void);\n\
         int main(void) { printf(\"before\\n\"); fflush(stdout);\n\
         __tsan_ignore_thread_begin(); printf(\"after\\n\"); return 0; }\n",
    )
    .unwrap();
    let exe = cc_clang(&dir, &src, "unimpl", &["-O1"], &[]);
    let o = Command::new(&exe).current_dir(&dir).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "before\n");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "loci-rt: ThreadSanitizer ABI entry __tsan_ignore_thread_begin is not implemented by loci's runtime; aborting\n"
    );
    assert_eq!(o.status.signal(), Some(6));
}
