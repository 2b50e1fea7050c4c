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

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loci-cli-profile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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
