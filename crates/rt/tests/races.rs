//! Ground truth for the race detector: every C (`.c`, gcc) and C++ (`.cc`,
//! g++) program in `examples/races/` is compiled once with
//! `-O1 -g -fsanitize=thread`
//! and the object linked three ways: with gcc's ThreadSanitizer runtime
//! (libtsan), with loci's runtime, and (compiled again) without any
//! instrumentation. All three are run; loci's verdict (a `WARNING:
//! ThreadSanitizer: data race` report and exit status 66, or neither) must
//! equal ThreadSanitizer's, and loci's stdout and (race-free) stderr and
//! exit status must equal the uninstrumented program's.
//!
//! Each program's first comment states the expected verdict
//! (`loci-race-test: race` or `loci-race-test: no race`); a line
//! `tsan: ...` records where ThreadSanitizer is known to differ (it does
//! not model fences), which the test checks as well.
//!
//! Needs gcc with ThreadSanitizer (libtsan); skips with a notice otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{corpus, expectations, reported, run_ok, Scratch};

/// The static library cargo built for this test run, next to the test
/// binary (`<target>/<profile>/deps` or its parent), newest first; or
/// `$LOCI_RT_LIB`.
fn runtime_lib() -> PathBuf {
    if let Some(p) = std::env::var_os("LOCI_RT_LIB") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let mut found: Vec<PathBuf> = [deps, deps.parent().unwrap()]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("libloci_rt") && n.ends_with(".a")
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.metadata().and_then(|m| m.modified()).ok()));
    found
        .into_iter()
        .next()
        .expect("libloci_rt.a not found next to the test binary")
}

/// A scratch directory for test `name` (removed when the test passes).
fn tmpdir(name: &str) -> Scratch {
    Scratch::new("loci-races", name)
}

/// Can gcc build *and link* a ThreadSanitizer program here?
fn have_libtsan(dir: &Path) -> bool {
    let src = dir.join("probe.c");
    std::fs::write(&src, "int main(void){return 0;}\n").unwrap();
    Command::new("gcc")
        .args(["-fsanitize=thread", "-o"])
        .arg(dir.join("probe"))
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Built {
    tsan: PathBuf,
    loci: PathBuf,
    plain: PathBuf,
}

fn build(dir: &Path, src: &Path) -> Built {
    let name = src.file_stem().unwrap().to_string_lossy().into_owned();
    let obj = dir.join(format!("{name}.o"));
    let cc = if src.extension().is_some_and(|e| e == "cc") {
        "g++"
    } else {
        "gcc"
    };
    run_ok(
        Command::new(cc)
            .args(["-O1", "-g", "-fsanitize=thread", "-Wno-tsan", "-c", "-o"])
            .arg(&obj)
            .arg(src),
    );
    let b = Built {
        tsan: dir.join(format!("{name}-tsan")),
        loci: dir.join(format!("{name}-loci")),
        plain: dir.join(format!("{name}-plain")),
    };
    run_ok(
        Command::new(cc)
            .args(["-fsanitize=thread", "-o"])
            .arg(&b.tsan)
            .arg(&obj)
            .arg("-lpthread"),
    );
    run_ok(
        Command::new(cc)
            .arg("-o")
            .arg(&b.loci)
            .arg(&obj)
            .arg(runtime_lib())
            .args(["-lpthread", "-ldl", "-lm"]),
    );
    run_ok(
        Command::new(cc)
            .args(["-O1", "-g", "-o"])
            .arg(&b.plain)
            .arg(src)
            .arg("-lpthread"),
    );
    b
}

fn run(exe: &Path, dir: &Path) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(exe)
        .current_dir(dir)
        .env("LOCI_PROFILE_OUT", dir.join("profile.json"))
        .output()
        .unwrap()
}

#[test]
fn verdicts_match_thread_sanitizer_on_the_corpus() {
    let dir = tmpdir("corpus");
    if !have_libtsan(&dir) {
        eprintln!("notice: skipping: gcc cannot link -fsanitize=thread programs (libtsan)");
        return;
    }
    let programs = corpus();
    assert!(programs.len() >= 25, "corpus too small: {programs:?}");
    let mut table = String::new();
    let mut failures = Vec::new();
    let (mut racy, mut agree) = (0, 0);
    for src in &programs {
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(src).unwrap();
        let (want_loci, want_tsan) = expectations(&text);
        let b = build(&dir, src);
        let (t, l, p) = (run(&b.tsan, &dir), run(&b.loci, &dir), run(&b.plain, &dir));
        let (vt, vl) = (reported(&t), reported(&l));
        racy += want_loci as u32;
        agree += (vt == vl) as u32;
        table.push_str(&format!(
            "{name:<28} tsan={:<8} loci={:<8} (exit {:?} / {:?})\n",
            if vt { "race" } else { "no-race" },
            if vl { "race" } else { "no-race" },
            t.status.code(),
            l.status.code()
        ));
        if vl != want_loci {
            failures.push(format!("{name}: loci says race={vl}, expected {want_loci}"));
        }
        if vt != want_tsan {
            failures.push(format!("{name}: tsan says race={vt}, expected {want_tsan}"));
        }
        if l.stdout != p.stdout {
            failures.push(format!(
                "{name}: stdout differs from the uninstrumented build:\n{}\nvs\n{}",
                String::from_utf8_lossy(&l.stdout),
                String::from_utf8_lossy(&p.stdout)
            ));
        }
        if !vl && (l.stderr != p.stderr || l.status.code() != p.status.code()) {
            failures.push(format!(
                "{name}: stderr/exit differ from the uninstrumented build: {:?} {}",
                l.status.code(),
                String::from_utf8_lossy(&l.stderr)
            ));
        }
        if vl && !String::from_utf8_lossy(&l.stderr).contains("ThreadSanitizer: reported ") {
            failures.push(format!("{name}: no `reported N warnings` line"));
        }
    }
    eprintln!("{table}");
    eprintln!(
        "{} programs ({racy} racy): loci and ThreadSanitizer agree on {agree}",
        programs.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Report lines with what differs between the runtimes masked:
/// addresses, pids, thread ids and module offsets.
fn normalize(s: &str) -> Vec<String> {
    s.lines()
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    if w.starts_with("0x") {
                        "ADDR".to_string()
                    } else if w.starts_with("(pid=") {
                        "(pid=N)".to_string()
                    } else if w.starts_with("(tid=") {
                        "(tid=N,".to_string()
                    } else if w.starts_with('(') && w.contains("+0x") {
                        "(MODULE+OFF)".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The report itself: same access lines, frames and SUMMARY as
/// ThreadSanitizer's on a program whose race has a fixed order (the
/// writer's store always precedes main's load).
#[test]
fn report_matches_thread_sanitizer_format() {
    let dir = tmpdir("format");
    if !have_libtsan(&dir) {
        eprintln!("notice: skipping: gcc cannot link -fsanitize=thread programs (libtsan)");
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/races/racy_flag.c");
    let src = src.canonicalize().unwrap();
    let b = build(&dir, &src);
    let (t, l) = (run(&b.tsan, &dir), run(&b.loci, &dir));
    let (t, l) = (
        String::from_utf8_lossy(&t.stderr).into_owned(),
        String::from_utf8_lossy(&l.stderr).into_owned(),
    );
    let (nt, nl) = (normalize(&t), normalize(&l));
    let text = std::fs::read_to_string(&src).unwrap();
    let line_of = |m: &str| text.lines().position(|l| l.contains(m)).unwrap() + 1;
    let path = src.display().to_string();
    let want = [
        "==================".to_string(),
        "WARNING: ThreadSanitizer: data race (pid=N)".to_string(),
        "  Read of size 4 at ADDR by main thread:".to_string(),
        format!("    #0 main {path}:{} (MODULE+OFF)", line_of("/* RACE */")),
        String::new(),
        "  Previous write of size 4 at ADDR by thread T1:".to_string(),
        format!(
            "    #0 writer {path}:{} (MODULE+OFF)",
            line_of("data = 42;")
        ),
        String::new(),
    ];
    assert_eq!(nl[..want.len()], want[..], "loci:\n{l}");
    assert_eq!(nt[..want.len()], want[..], "tsan:\n{t}");
    let summary = |v: &[String]| v.iter().find(|l| l.starts_with("SUMMARY:")).cloned();
    assert_eq!(summary(&nl), summary(&nt));
    assert_eq!(
        summary(&nl).unwrap(),
        format!(
            "SUMMARY: ThreadSanitizer: data race {path}:{} in main",
            line_of("/* RACE */")
        )
    );
    // The writer may not have returned yet when main reads (TSan says
    // "running" then too).
    assert!(
        ["finished", "running"]
            .iter()
            .any(|state| nl.contains(&format!(
                "  Thread T1 (tid=N, {state}) created by main thread at:"
            ))),
        "{l}"
    );
    let global = "  Location is global 'data' of size 4 at ADDR (MODULE+OFF)".to_string();
    assert!(nl.contains(&global), "{l}");
    assert!(nt.contains(&global), "{t}");
    assert_eq!(nl.last().unwrap(), "ThreadSanitizer: reported 1 warnings");
    assert_eq!(nt.last().unwrap(), "ThreadSanitizer: reported 1 warnings");
}

/// Accesses made inside intercepted libc functions name the function as
/// frame #0 and its caller as #1, as ThreadSanitizer's interceptors do.
#[test]
fn libc_accesses_show_the_intercepted_function() {
    let dir = tmpdir("libc");
    if !have_libtsan(&dir) {
        eprintln!("notice: skipping: gcc cannot link -fsanitize=thread programs (libtsan)");
        return;
    }
    let r = loci_report(&dir, "racy_memcpy.c");
    let (src, err, lines) = (&r.src, &r.err, r.lines());
    let (line_of, at) = (|m: &str| r.line_of(m), |p: &str| r.at(p));
    // Sizes are those within the 8-byte granule where the accesses met,
    // as in TSan's report of the same program.
    let cur = at("  Read of size 8 at ");
    assert!(lines[cur].ends_with(" by main thread:"), "{err}");
    assert_eq!(lines[cur + 1], "    #0 strlen <null> (loci-rt)");
    let main_line = format!(
        "    #1 main {}:{} (",
        src.display(),
        line_of("size_t n = strlen(buf);")
    );
    assert!(lines[cur + 2].starts_with(&main_line), "{err}");
    let prev = at("  Previous write of size 8 at ");
    assert!(lines[prev].ends_with(" by thread T1:"), "{err}");
    assert_eq!(lines[prev + 1], "    #0 memcpy <null> (loci-rt)");
    let fill_line = format!(
        "    #1 fill {}:{} (",
        src.display(),
        line_of("memcpy(buf, src")
    );
    assert!(lines[prev + 2].starts_with(&fill_line), "{err}");
}

/// A corpus program's race report under loci, for line-by-line checks.
struct Report {
    /// The program's source.
    src: PathBuf,
    /// Its text.
    text: String,
    /// Its stderr (which must hold the report).
    err: String,
}

impl Report {
    /// The report's lines.
    fn lines(&self) -> Vec<&str> {
        self.err.lines().collect()
    }

    /// The (1-based) source line containing `marker`.
    fn line_of(&self, marker: &str) -> usize {
        self.text.lines().position(|l| l.contains(marker)).unwrap() + 1
    }

    /// The index of the first report line starting with `prefix`.
    fn at(&self, prefix: &str) -> usize {
        self.err
            .lines()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in\n{}", self.err))
    }
}

/// Build `examples/races/NAME` in `dir`, run it with loci's runtime, and
/// require a race report (exit status 66).
fn loci_report(dir: &Path, name: &str) -> Report {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/races")
        .join(name)
        .canonicalize()
        .unwrap();
    let b = build(dir, &src);
    let o = run(&b.loci, dir);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(66), "{name}:\n{err}");
    Report {
        text: std::fs::read_to_string(&src).unwrap(),
        src,
        err,
    }
}

/// A race on a thread's stack names the stack's thread as its location,
/// with ThreadSanitizer's words.
#[test]
fn stack_locations_are_named_as_tsan_names_them() {
    let dir = tmpdir("stack");
    if !have_libtsan(&dir) {
        eprintln!("notice: skipping: gcc cannot link -fsanitize=thread programs (libtsan)");
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/races/racy_stack.c")
        .canonicalize()
        .unwrap();
    let b = build(&dir, &src);
    let want = "  Location is stack of main thread.";
    for exe in [&b.loci, &b.tsan] {
        let o = run(exe, &dir);
        assert_eq!(o.status.code(), Some(66), "{}", exe.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.lines().any(|l| l == want), "{}:\n{err}", exe.display());
    }
}

/// A race with a `free` (or a `realloc` that moved the block) is reported
/// as ThreadSanitizer reports it: the free as a write of size 8 at the
/// block with `free` (`realloc`) as frame `#0`, as
/// the current access ("data race") when it comes second and as the
/// previous one ("heap-use-after-free") when it comes first, and no
/// location (the block is gone).
#[test]
fn races_with_free_are_reported_as_tsan_reports_them() {
    let dir = tmpdir("free");
    if !have_libtsan(&dir) {
        eprintln!("notice: skipping: gcc cannot link -fsanitize=thread programs (libtsan)");
        return;
    }
    // (program, warning, the free came first, the freeing function and
    // its line, the other access's line)
    for (name, what, free_first, (func, freeing), other) in [
        (
            "racy_use_after_free.c",
            "heap-use-after-free",
            true,
            ("free", "free(p);"),
            "p[15] = 42;",
        ),
        (
            "racy_free_while_used.c",
            "data race",
            false,
            ("free", "free(p);"),
            "p[3] = 7;",
        ),
        (
            "racy_use_after_realloc.c",
            "heap-use-after-free",
            true,
            ("realloc", "p = realloc("),
            "old[15] = 42;",
        ),
    ] {
        let r = loci_report(&dir, name);
        let (src, err, lines) = (&r.src, &r.err, r.lines());
        let (line_of, at) = (|m: &str| r.line_of(m), |p: &str| r.at(p));
        assert!(
            lines[at("WARNING: ThreadSanitizer: ")].contains(what),
            "{err}"
        );
        let free = at(if free_first {
            "  Previous write of size 8 at "
        } else {
            "  Write of size 8 at "
        });
        assert!(lines[free].ends_with(" by main thread:"), "{err}");
        assert_eq!(
            lines[free + 1],
            format!("    #0 {func} <null> (loci-rt)"),
            "{err}"
        );
        let main_line = format!("    #1 main {}:{} (", src.display(), line_of(freeing));
        assert!(lines[free + 2].starts_with(&main_line), "{err}");
        let access = at(if free_first {
            "  Write of size 4 at "
        } else {
            "  Previous write of size 8 at "
        });
        assert!(lines[access].ends_with(" by thread T1:"), "{err}");
        assert!(
            lines[access + 1].contains(&format!("{}:{} (", src.display(), line_of(other))),
            "{err}"
        );
        assert!(!err.contains("Location is"), "{err}");
        let summary = format!("SUMMARY: ThreadSanitizer: {what} {}:", src.display());
        assert!(err.contains(&summary), "{err}");
    }
}

/// Threads that end without being joined or detached, as ThreadSanitizer
/// reports them at exit ("thread leak", one report per creation site, exit
/// status 66); detached threads (by `pthread_detach` or created detached)
/// and threads joined by `pthread_tryjoin_np` or `pthread_timedjoin_np`
/// are not leaks.
const LEAKS: &str = r#"#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
static void *work(void *a) { (void)a; return NULL; }
int main(void) {
    pthread_t t[3], d, dd, tj, tt;
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, work, NULL); /* LEAK */
    pthread_create(&d, NULL, work, NULL);
    pthread_detach(d);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_create(&dd, &a, work, NULL);
    pthread_create(&tj, NULL, work, NULL);
    while (pthread_tryjoin_np(tj, NULL) != 0)
        usleep(1000);
    pthread_create(&tt, NULL, work, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 60;
    pthread_timedjoin_np(tt, NULL, &ts);
    usleep(100000);
    printf("done\n");
    return 0;
}
"#;

#[test]
fn thread_leaks_are_reported_as_tsan_reports_them() {
    let dir = tmpdir("leaks");
    if !have_libtsan(&dir) {
        eprintln!("notice: skipping: gcc cannot link -fsanitize=thread programs (libtsan)");
        return;
    }
    let src = dir.join("leaks.c");
    std::fs::write(&src, LEAKS).unwrap();
    let b = build(&dir, &src);
    let (t, l) = (run(&b.tsan, &dir), run(&b.loci, &dir));
    for o in [&t, &l] {
        assert_eq!(o.stdout, b"done\n");
        assert_eq!(
            o.status.code(),
            Some(66),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // All but the interceptor's own frame (TSan names its source file).
    let lines = |o: &Output| -> Vec<String> {
        normalize(&String::from_utf8_lossy(&o.stderr))
            .into_iter()
            .filter(|l| !l.starts_with("    #0 pthread_create "))
            .collect()
    };
    let (lt, ll) = (lines(&t), lines(&l));
    assert_eq!(ll, lt, "loci:\n{}", String::from_utf8_lossy(&l.stderr));
    let line = LEAKS
        .lines()
        .position(|l| l.contains("/* LEAK */"))
        .unwrap()
        + 1;
    let summary = format!(
        "SUMMARY: ThreadSanitizer: thread leak {}:{line} in main",
        src.display()
    );
    assert!(ll.contains(&summary), "{ll:?}");
    assert!(ll.contains(&"  And 2 more similar thread leaks.".to_string()));
    assert!(ll.contains(&"ThreadSanitizer: reported 1 warnings".to_string()));
}
