//! End-to-end: compile small C programs with `gcc -fsanitize=thread`, link
//! them against this crate's static library instead of libtsan, run them
//! and check the exact per-object, per-thread counts in the profile.
//!
//! Needs `gcc` with ThreadSanitizer support; skips with a notice otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{run_ok, Scratch};

/// The static library cargo built for this test run: next to the test
/// binary (`target/<profile>/deps`), newest first.
fn runtime_lib() -> PathBuf {
    runtime_lib_ext(".a")
}

/// The runtime built with extension `ext` (`.a` or `.so`).
fn runtime_lib_ext(ext: &str) -> PathBuf {
    if let Some(p) = std::env::var_os("LOCI_RT_LIB").filter(|_| ext == ".a") {
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
            n.starts_with("libloci_rt") && n.ends_with(ext)
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.metadata().and_then(|m| m.modified()).ok()));
    found
        .into_iter()
        .next()
        .expect("libloci_rt.a not found next to the test binary")
}

fn have_tsan_gcc(dir: &Path) -> bool {
    let src = dir.join("probe.c");
    std::fs::write(&src, "int main(void){return 0;}\n").unwrap();
    Command::new("gcc")
        .args(["-fsanitize=thread", "-c", "-o"])
        .arg(dir.join("probe.o"))
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A scratch directory for test `name` (removed when the test passes).
fn tmpdir(name: &str) -> Scratch {
    Scratch::new("loci-rt", name)
}

struct Run {
    /// Where the programs were built and run (removed with the run).
    dir: Scratch,
    plain: Output,
    instrumented: Output,
    profile: serde_json::Value,
}

/// Build `src` twice (plain and instrumented + our runtime), run both.
/// `None` when gcc cannot do `-fsanitize=thread`.
fn build_and_run(name: &str, src: &str) -> Option<Run> {
    build_and_run_with(name, src, false)
}

/// As [`build_and_run`]; with `shared`, link the cdylib (found at run time
/// through an rpath) instead of the static library.
fn build_and_run_with(name: &str, src: &str, shared: bool) -> Option<Run> {
    build_and_run_env(name, src, shared, &[])
}

/// [`build_and_run_with`], running the program with environment `env` too.
fn build_and_run_env(name: &str, src: &str, shared: bool, env: &[(&str, &str)]) -> Option<Run> {
    let dir = tmpdir(name);
    if !have_tsan_gcc(&dir) {
        eprintln!("notice: skipping {name}: gcc with -fsanitize=thread (libtsan) is not available");
        return None;
    }
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let obj = dir.join(format!("{name}.o"));
    run_ok(
        Command::new("gcc")
            .args(["-O0", "-g", "-fsanitize=thread", "-c", "-o"])
            .arg(&obj)
            .arg(&c),
    );
    let inst = dir.join(name);
    let mut link = Command::new("gcc");
    link.arg("-o").arg(&inst).arg(&obj);
    if shared {
        let so = runtime_lib_ext(".so");
        let so_dir = so.parent().unwrap();
        link.arg(format!("-L{}", so_dir.display()))
            .arg(format!("-Wl,-rpath,{}", so_dir.display()))
            .arg(format!("-l:{}", so.file_name().unwrap().to_string_lossy()));
    } else {
        link.arg(runtime_lib());
    }
    run_ok(link.args(["-lpthread", "-ldl", "-lm"]));
    let plain = dir.join(format!("{name}-plain"));
    run_ok(
        Command::new("gcc")
            .args(["-O0", "-g", "-o"])
            .arg(&plain)
            .arg(&c)
            .arg("-lpthread"),
    );
    let out = dir.join("profile.json");
    // In the scratch directory: a program killed by a signal may dump core.
    let instrumented = Command::new(&inst)
        .current_dir(&dir)
        .env("LOCI_PROFILE_OUT", &out)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let plain = Command::new(&plain).current_dir(&dir).output().unwrap();
    let text = std::fs::read_to_string(&out).expect("no profile written");
    let profile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{text}"));
    Some(Run {
        dir,
        plain,
        instrumented,
        profile,
    })
}

/// The line (1-based) of the only line of `src` containing `marker`.
fn line_of(src: &str, marker: &str) -> u64 {
    let lines: Vec<usize> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(marker))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "marker {marker}");
    lines[0] as u64
}

fn site_at(p: &serde_json::Value, line: u64) -> &serde_json::Value {
    let sites = p["sites"].as_array().unwrap();
    let hits: Vec<_> = sites.iter().filter(|s| s["line"] == line).collect();
    assert_eq!(hits.len(), 1, "sites at line {line}: {sites:#?}");
    hits[0]
}

/// `[(thread, reads, writes, atomics)]` of a site.
fn per_thread(site: &serde_json::Value) -> Vec<(u64, u64, u64, u64)> {
    site["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["thread"].as_u64().unwrap(),
                t["reads"].as_u64().unwrap(),
                t["writes"].as_u64().unwrap(),
                t["atomics"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn same_behaviour(r: &Run) {
    assert_eq!(r.plain.stdout, r.instrumented.stdout, "stdout differs");
    assert_eq!(r.plain.stderr, r.instrumented.stderr, "stderr differs");
    assert_eq!(
        r.plain.status.code(),
        r.instrumented.status.code(),
        "exit status differs"
    );
}

const CAPTURE: &str = r#"#include <pthread.h>
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
    int *counter = malloc(sizeof *counter); /* SITE */
    *counter = 0;
    pthread_t t;
    pthread_create(&t, NULL, bump, counter);
    pthread_join(t, NULL);
    printf("counter=%d\n", *counter);
    free(counter);
    return 3;
}
"#;

#[test]
fn capture_by_reference_is_a_handoff() {
    let Some(r) = build_and_run("capture", CAPTURE) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(r.instrumented.status.code(), Some(3));
    let s = site_at(&r.profile, line_of(CAPTURE, "/* SITE */"));
    assert_eq!(s["function"], "main");
    assert!(s["file"].as_str().unwrap().ends_with("capture.c"), "{s}");
    assert_eq!(s["objects"], 1);
    assert_eq!(s["bytes"], 4);
    assert_eq!(s["alloc_threads"], serde_json::json!([0]));
    assert_eq!(s["class"], "handoff");
    // main: `*counter = 0` and the read for printf; thread 1: N x (load, store).
    assert_eq!(per_thread(s), vec![(0, 1, 1, 0), (1, 1000, 1000, 0)]);
    let threads = r.profile["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[1]["parent"], 0);
    assert_eq!(threads[1]["joined_by"], 0);
    assert_eq!(threads[1]["start_routine"], "bump");
}

#[test]
fn capture_by_reference_with_the_cdylib() {
    let Some(r) = build_and_run_with("capture-so", CAPTURE, true) else {
        return;
    };
    same_behaviour(&r);
    let s = site_at(&r.profile, line_of(CAPTURE, "/* SITE */"));
    assert_eq!(s["function"], "main");
    assert_eq!(s["class"], "handoff");
    assert_eq!(per_thread(s), vec![(0, 1, 1, 0), (1, 1000, 1000, 0)]);
}

const ALLOCATORS: &str = r#"#include <stdio.h>
#include <stdlib.h>
int main(void) {
    int *a = malloc(4 * sizeof *a); /* A */
    for (int i = 0; i < 4; i++)
        a[i] = i;
    a = realloc(a, 64 * sizeof *a); /* B */
    for (int i = 4; i < 64; i++)
        a[i] = i;
    long s = 0;
    for (int i = 0; i < 64; i++)
        s += a[i];
    void *p;
    if (posix_memalign(&p, 64, 128)) /* C */
        return 1;
    ((char *)p)[127] = 1;
    char *q = aligned_alloc(64, 64); /* D */
    q[0] = 2;
    double *z = calloc(8, sizeof *z); /* E */
    s += (long)z[7];
    printf("%ld %d %d %g\n", s, ((char *)p)[127], q[0], z[7]);
    free(a);
    free(p);
    free(q);
    free(z);
    return 0;
}
"#;

#[test]
fn realloc_calloc_and_aligned_allocations() {
    let Some(r) = build_and_run("allocators", ALLOCATORS) else {
        return;
    };
    same_behaviour(&r);
    let p = &r.profile;
    let check = |marker: &str, bytes: u64, counts: (u64, u64, u64, u64)| {
        let s = site_at(p, line_of(ALLOCATORS, marker));
        assert_eq!(s["objects"], 1, "{marker}");
        assert_eq!(s["bytes"], bytes, "{marker}");
        assert_eq!(s["class"], "private", "{marker}");
        assert_eq!(per_thread(s), vec![counts], "{marker}");
    };
    // realloc retires the old object and starts a new one at its own site.
    check("/* A */", 16, (0, 0, 4, 0));
    check("/* B */", 256, (0, 64, 60, 0));
    check("/* C */", 128, (0, 1, 1, 0));
    check("/* D */", 64, (0, 1, 1, 0));
    check("/* E */", 64, (0, 2, 0, 0));
}

const FORK: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void *spin(void *arg) {
    int *x = arg;
    for (int i = 0; i < 100000; i++)
        x[i % 16] += 1;
    return NULL;
}
int main(void) {
    int *x = calloc(16, sizeof *x); /* SITE */
    pthread_t t;
    pthread_create(&t, NULL, spin, x);
    pid_t pid = fork(); /* while the other thread hammers the runtime */
    if (pid == 0) {
        int *y = malloc(sizeof *y);
        *y = 7;
        printf("child %d\n", *y);
        exit(5);
    }
    int status;
    waitpid(pid, &status, 0);
    pthread_join(t, NULL);
    printf("child exit %d\n", WEXITSTATUS(status));
    free(x);
    return 0;
}
"#;

#[test]
fn fork_while_threads_run() {
    let Some(r) = build_and_run("fork", FORK) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(
        String::from_utf8_lossy(&r.instrumented.stdout),
        "child 7\nchild exit 5\n"
    );
    // The profile is the parent's: exactly the spinning thread's accesses.
    let s = site_at(&r.profile, line_of(FORK, "/* SITE */"));
    assert_eq!(per_thread(s), vec![(1, 100000, 100000, 0)]);
    assert_eq!(s["class"], "handoff");
}

const PRIVATE: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define LEN 64
static long sums[T];
static void *work(void *arg) {
    long id = (long)arg;
    int *buf = malloc(LEN * sizeof *buf); /* SITE */
    for (int i = 0; i < LEN; i++)
        buf[i] = i * (int)id;
    long s = 0;
    for (int i = 0; i < LEN; i++)
        s += buf[i];
    sums[id] = s;
    free(buf);
    return NULL;
}
int main(void) {
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < T; i++)
        printf("%ld\n", sums[i]);
    return 0;
}
"#;

#[test]
fn thread_private_buffers() {
    let Some(r) = build_and_run("private", PRIVATE) else {
        return;
    };
    same_behaviour(&r);
    let s = site_at(&r.profile, line_of(PRIVATE, "/* SITE */"));
    assert_eq!(s["function"], "work");
    assert_eq!(s["objects"], 4);
    assert_eq!(s["bytes"], 4 * 64 * 4);
    assert_eq!(s["alloc_threads"], serde_json::json!([1, 2, 3, 4]));
    assert_eq!(s["class"], "private");
    assert_eq!(s["classes"]["private"], 4);
    let want: Vec<_> = (1..=4).map(|t| (t, 64, 64, 0)).collect();
    assert_eq!(per_thread(s), want);
}

const BIG_TABLE: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define BIG (2 << 20)
#define N 100000
static unsigned char *big, *small;
static volatile size_t four = 4;
static void *work(void *arg) {
    unsigned s = 0;
    for (unsigned i = 0; i < N; i++) {
        unsigned v;
        /* An unaligned 4-byte range (libc's memcpy), a random byte store
           into the same 2 MiB table, a small object in between. */
        memcpy(&v, big + (i * 4099u) % (BIG - 8), four);
        big[(i * 7919u) % BIG] = (unsigned char)v;
        small[i % 64] += 1;
        s += v;
    }
    *(unsigned *)arg = s;
    return NULL;
}
int main(void) {
    big = malloc(BIG); /* BIG */
    small = malloc(64); /* SMALL */
    memset(big, 1, BIG);
    memset(small, 0, 64);
    unsigned s;
    pthread_t t;
    pthread_create(&t, NULL, work, &s);
    pthread_join(t, NULL);
    printf("%u %d\n", s, small[0]);
    free(big);
    free(small);
    return 0;
}
"#;

#[test]
fn a_big_table_and_small_ranges_are_counted_exactly() {
    // Objects of 1 MiB or more have no line records, small ranges are
    // checked and counted without the lock, and a thread alternating
    // between two objects remembers both: the counts stay exact.
    let Some(r) = build_and_run("bigtable", BIG_TABLE) else {
        return;
    };
    same_behaviour(&r);
    let big = site_at(&r.profile, line_of(BIG_TABLE, "/* BIG */"));
    // main: memset (one write per object); thread 1: N ranges, N stores.
    assert_eq!(
        per_thread(big),
        vec![(0, 0, 1, 0), (1, 100_000, 100_000, 0)]
    );
    assert_eq!(big["class"], "handoff");
    let small = site_at(&r.profile, line_of(BIG_TABLE, "/* SMALL */"));
    assert_eq!(
        per_thread(small),
        vec![(0, 1, 1, 0), (1, 100_000, 100_000, 0)]
    );
    let stats = &r.profile["false_sharing_stats"];
    assert_eq!(stats["untracked_accesses"], 0, "{stats}");
    assert_eq!(r.profile["false_sharing"], serde_json::json!([]));
}

const HANDOFF: &str = r#"#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#define M 50
struct msg { int seq; int data[16]; };
static _Atomic(struct msg *) slot;
static void *produce(void *arg) {
    (void)arg;
    for (int i = 0; i < M; i++) {
        struct msg *m = malloc(sizeof *m); /* SITE */
        m->seq = i;
        while (atomic_load(&slot) != NULL)
            ;
        atomic_store(&slot, m);
    }
    return NULL;
}
static void *consume(void *arg) {
    long *total = arg;
    for (int i = 0; i < M; i++) {
        struct msg *m;
        while ((m = atomic_exchange(&slot, NULL)) == NULL)
            ;
        int seq = m->seq;
        for (int j = 0; j < 16; j++)
            m->data[j] = seq * j;
        for (int j = 0; j < 16; j++)
            *total += m->data[j];
        free(m);
    }
    return NULL;
}
int main(void) {
    long *total = calloc(1, sizeof *total); /* TOTAL */
    pthread_t p, c;
    pthread_create(&p, NULL, produce, NULL);
    pthread_create(&c, NULL, consume, total);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    printf("total=%ld\n", *total);
    free(total);
    return 0;
}
"#;

#[test]
fn producer_consumer_handoff() {
    let Some(r) = build_and_run("handoff", HANDOFF) else {
        return;
    };
    same_behaviour(&r);
    let s = site_at(&r.profile, line_of(HANDOFF, "/* SITE */"));
    assert_eq!(s["function"], "produce");
    assert_eq!(s["objects"], 50);
    assert_eq!(s["bytes"], 50 * 68);
    assert_eq!(s["alloc_threads"], serde_json::json!([1]));
    assert_eq!(s["class"], "handoff");
    assert_eq!(s["classes"]["handoff"], 50);
    // producer: one write per message; consumer: seq + 16 data reads, 16 writes.
    assert_eq!(per_thread(s), vec![(1, 0, 50, 0), (2, 850, 800, 0)]);
    // `*total += ...` is a load and a store, 16 per message, by thread 2;
    // main reads it once for printf.
    let t = site_at(&r.profile, line_of(HANDOFF, "/* TOTAL */"));
    assert_eq!(per_thread(t), vec![(0, 1, 0, 0), (2, 800, 800, 0)]);
    assert_eq!(t["class"], "handoff");
    // The spinning on the global `slot` is unattributed and atomic.
    let un = &r.profile["unattributed"];
    assert!(un["atomics"].as_u64().unwrap() >= 100, "{un}");
}

const ATOMICS: &str = r#"#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define N 20000
static void *add(void *arg) {
    _Atomic long *c = arg;
    for (int i = 0; i < N; i++) {
        if (i & 1)
            atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
        else
            atomic_fetch_add(c, 1);
    }
    return NULL;
}
int main(void) {
    _Atomic long *c = malloc(sizeof *c); /* SITE */
    atomic_init(c, 0);
    pthread_t t[T];
    for (int i = 0; i < T; i++)
        pthread_create(&t[i], NULL, add, (void *)c);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    long v = atomic_load(c);
    printf("%ld\n", v);
    free((void *)c);
    return v == (long)T * N ? 0 : 1;
}
"#;

#[test]
fn atomics_are_atomic_and_counted() {
    let Some(r) = build_and_run("atomics", ATOMICS) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(String::from_utf8_lossy(&r.instrumented.stdout), "80000\n");
    let s = site_at(&r.profile, line_of(ATOMICS, "/* SITE */"));
    assert_eq!(s["class"], "shared-write");
    let pt = per_thread(s);
    assert_eq!(pt.len(), 5);
    // main: gcc compiles atomic_init to a relaxed atomic store, then one
    // atomic load.
    assert_eq!(pt[0], (0, 0, 0, 2));
    for (i, t) in pt[1..].iter().enumerate() {
        assert_eq!(*t, (i as u64 + 1, 0, 0, 20000));
    }
}

const BULK: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
int main(int argc, char **argv) {
    (void)argv;
    size_t n = 100 + (size_t)argc; /* a run-time size: real libc calls */
    char *a = malloc(n); /* A */
    char *b = malloc(n); /* B */
    memset(a, 'x', n - 1);
    a[n - 1] = 0;
    memcpy(b, a, n);
    size_t len = strlen(b);
    int c = strcmp(a, b);
    void *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m, 1 << 16);
    printf("%zu %d\n", len, c);
    free(a);
    free(b);
    return 0;
}
"#;

#[test]
fn libc_bulk_operations_and_mappings_are_counted() {
    let Some(r) = build_and_run("bulk", BULK) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(String::from_utf8_lossy(&r.instrumented.stdout), "100 0\n");
    // a: memset and a[n-1] write it, memcpy and strcmp read it.
    let a = site_at(&r.profile, line_of(BULK, "/* A */"));
    assert_eq!(per_thread(a), vec![(0, 2, 2, 0)]);
    // b: memcpy writes it, strlen and strcmp read it.
    let b = site_at(&r.profile, line_of(BULK, "/* B */"));
    assert_eq!(per_thread(b), vec![(0, 2, 1, 0)]);
    let main = &r.profile["threads"][0];
    assert_eq!(main["mmaps"], 1);
    assert_eq!(main["mapped_bytes"], 65536);
    assert_eq!(main["munmaps"], 1);
    assert_eq!(r.profile["races"], 0);
}

#[test]
fn trace_of_capture_by_reference() {
    let Some(r) = build_and_run("capture-trace", CAPTURE) else {
        return;
    };
    same_behaviour(&r);
    let dir = &r.dir;
    let out = dir.join("t.locitrace");
    let o = Command::new(dir.join("capture-trace"))
        .env("LOCI_PROFILE_OUT", dir.join("p2.json"))
        .env("LOCI_TRACE_OUT", &out)
        .output()
        .unwrap();
    assert_eq!(o.stdout, r.plain.stdout);
    use loci_trace::Event;
    let ev = loci_trace::read_all(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        ev[0],
        Event::ThreadStart {
            thread: 0,
            parent: None
        }
    );
    assert_eq!(*ev.last().unwrap(), Event::ThreadExit { thread: 0 });
    let allocs: Vec<(u64, u64, u32)> = ev
        .iter()
        .filter_map(|e| match *e {
            Event::Alloc {
                thread: 0,
                addr,
                size: 4,
                site,
            } => Some((addr, 4, site)),
            _ => None,
        })
        .collect();
    // The counter is the only 4-byte block main allocates.
    assert_eq!(allocs.len(), 1, "{allocs:?}");
    let (addr, _, site) = allocs[0];
    let count = |thread: u32, write: bool| {
        ev.iter()
            .filter(|e| {
                **e == Event::Access {
                    thread,
                    addr,
                    size: 4,
                    write,
                    atomic: false,
                    site: Some(site),
                }
            })
            .count()
    };
    assert_eq!((count(1, false), count(1, true)), (1000, 1000));
    assert_eq!((count(0, false), count(0, true)), (1, 1));
    let pos = |e: Event| ev.iter().position(|x| *x == e).unwrap_or(usize::MAX);
    const CREATE: u64 = 1 << 63;
    const EXIT: u64 = 1 << 62;
    let created = pos(Event::Release {
        thread: 0,
        object: CREATE | 1,
    });
    let started = pos(Event::ThreadStart {
        thread: 1,
        parent: Some(0),
    });
    let acquired = pos(Event::Acquire {
        thread: 1,
        object: CREATE | 1,
    });
    let exited = pos(Event::ThreadExit { thread: 1 });
    let joined = pos(Event::Acquire {
        thread: 0,
        object: EXIT | 1,
    });
    let freed = pos(Event::Free {
        thread: 0,
        addr,
        size: 4,
        site,
    });
    assert!(
        created < started
            && started < acquired
            && acquired < exited
            && exited < joined
            && joined < freed
            && freed < ev.len(),
        "{created} {started} {acquired} {exited} {joined} {freed}"
    );
}

const MANY_THREADS: &str = r#"#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#define T 2000
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long *counter;
static __thread int hits; /* each handler run touches only its own thread's */
static void on_alarm(int s) { (void)s; hits++; }
static void *bump(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    (*counter)++;
    pthread_mutex_unlock(&m);
    return NULL;
}
int main(void) {
    counter = calloc(1, sizeof *counter); /* SITE */
    signal(SIGALRM, on_alarm);
    ualarm(500, 500); /* signals land in new threads as they start */
    for (int i = 0; i < T; i++) {
        pthread_t t;
        pthread_create(&t, NULL, bump, NULL);
        pthread_join(t, NULL);
    }
    ualarm(0, 0);
    printf("%ld\n", *counter);
    free(counter);
    return 0;
}
"#;

#[test]
fn thousands_of_threads_and_signals() {
    let Some(r) = build_and_run("many", MANY_THREADS) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(String::from_utf8_lossy(&r.instrumented.stdout), "2000\n");
    assert_eq!(r.profile["races"], 0);
    let threads = r.profile["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 2001);
    assert!(threads[1..]
        .iter()
        .all(|t| t["parent"] == 0 && t["joined_by"] == 0));
    let s = site_at(&r.profile, line_of(MANY_THREADS, "/* SITE */"));
    let pt = per_thread(s);
    assert_eq!(pt.len(), 2001);
    assert!(pt[1..]
        .iter()
        .all(|&(_, rd, wr, at)| (rd, wr, at) == (1, 1, 0)));
}

const PTHREAD_EXIT: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *leave(void *arg) {
    int *x = arg;
    *x = 9;
    pthread_exit(NULL);
}
int main(void) {
    int *x = malloc(sizeof *x);
    pthread_t t;
    pthread_create(&t, NULL, leave, x);
    pthread_join(t, NULL);
    printf("%d\n", *x);
    free(x);
    return 0;
}
"#;

#[test]
fn pthread_exit_ends_the_thread_in_profile_and_trace() {
    let Some(r) = build_and_run("pexit", PTHREAD_EXIT) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(r.profile["races"], 0);
    let dir = &r.dir;
    let out = dir.join("t.locitrace");
    let o = Command::new(dir.join("pexit"))
        .env("LOCI_PROFILE_OUT", dir.join("p2.json"))
        .env("LOCI_TRACE_OUT", &out)
        .output()
        .unwrap();
    assert_eq!(o.stdout, b"9\n");
    use loci_trace::Event;
    let ev = loci_trace::read_all(&std::fs::read(&out).unwrap()).unwrap();
    let pos = |e: Event| ev.iter().position(|x| *x == e);
    let released = pos(Event::Release {
        thread: 1,
        object: (1 << 62) | 1,
    })
    .expect("no exit release");
    let exited = pos(Event::ThreadExit { thread: 1 }).expect("no ThreadExit");
    let joined = pos(Event::Acquire {
        thread: 0,
        object: (1 << 62) | 1,
    })
    .expect("no join acquire");
    assert!(released < exited && exited < joined);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::ThreadExit { .. }))
            .count(),
        2
    );
}

/// Two threads, each incrementing its own `long` of one 64-byte-aligned
/// block: both counters in one cache line (false sharing).
const FS_PACKED: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define N 1000
static void *bump(void *arg) {
    long *mine = arg;
    *mine = 0;
    for (int i = 0; i < N; i++)
        (*mine)++;
    return NULL;
}
int main(void) {
    long *c;
    if (posix_memalign((void **)&c, 64, 64)) /* SITE */
        return 1;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, bump, &c[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("%ld %ld\n", c[0], c[1]);
    free(c);
    return 0;
}
"#;

fn false_sharing(p: &serde_json::Value) -> &Vec<serde_json::Value> {
    p["false_sharing"].as_array().expect("no false_sharing[]")
}

#[test]
fn packed_per_thread_counters_are_falsely_shared() {
    let Some(r) = build_and_run("fs-packed", FS_PACKED) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(
        String::from_utf8_lossy(&r.instrumented.stdout),
        "1000 1000\n"
    );
    let fs = false_sharing(&r.profile);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let l = &fs[0];
    assert_eq!(l["threads"], serde_json::json!([1, 2]));
    // Each thread: `*mine = 0`, then N increments (a load and a store).
    assert_eq!(l["writes"], 2002);
    assert_eq!(l["writes_by"], serde_json::json!({"T1": 1001, "T2": 1001}));
    assert_eq!(l["bytes"], serde_json::json!({"T1": "0-7", "T2": "8-15"}));
    // main only reads the counters after the joins.
    assert_eq!(l["readers"], serde_json::json!([0]));
    assert_eq!(l["more_threads"], false);
    let sites = l["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0]["function"], "main");
    assert_eq!(sites[0]["line"], line_of(FS_PACKED, "/* SITE */"));
    assert!(sites[0]["file"].as_str().unwrap().ends_with("fs-packed.c"));
    let addr = l["line_address"].as_str().unwrap();
    let addr = u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(addr % 64, 0);
    assert_eq!(r.profile["false_sharing_stats"]["true_shared_lines"], 0);
    assert_eq!(r.profile["races"], 0);
}

/// The same counters padded to a cache line each.
const FS_PADDED: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define N 1000
struct padded { long v; char pad[56]; };
static void *bump(void *arg) {
    struct padded *mine = arg;
    mine->v = 0;
    for (int i = 0; i < N; i++)
        mine->v++;
    return NULL;
}
int main(void) {
    struct padded *c;
    if (posix_memalign((void **)&c, 64, 2 * sizeof *c)) /* SITE */
        return 1;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, bump, &c[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("%ld %ld\n", c[0].v, c[1].v);
    free(c);
    return 0;
}
"#;

#[test]
fn four_workers_keep_the_four_exact_slots_of_their_line() {
    // main allocates (calloc) the counters of four workers and reads them
    // after the joins: the four workers, who touch the line first, get
    // its four exact slots and main is merged (`more_threads`). A runtime
    // that gave the allocating thread a slot at allocation merged the
    // fourth worker as `others`.
    let src = FS_PACKED
        .replace(
            "posix_memalign((void **)&c, 64, 64)",
            "!(c = calloc(4, sizeof *c))",
        )
        .replace("t[2]", "t[4]")
        .replace("i < 2", "i < 4")
        .replace(
            r#""%ld %ld\n", c[0], c[1]"#,
            r#""%ld %ld %ld %ld\n", c[0], c[1], c[2], c[3]"#,
        );
    let Some(r) = build_and_run("fs-four", &src) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(
        String::from_utf8_lossy(&r.instrumented.stdout),
        "1000 1000 1000 1000\n"
    );
    let fs = false_sharing(&r.profile);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let l = &fs[0];
    assert_eq!(l["threads"], serde_json::json!([1, 2, 3, 4]));
    assert_eq!(
        l["writes_by"],
        serde_json::json!({"T1": 1001, "T2": 1001, "T3": 1001, "T4": 1001})
    );
    assert_eq!(l["more_threads"], true);
}

#[test]
fn padded_per_thread_counters_are_not_falsely_shared() {
    let Some(r) = build_and_run("fs-padded", FS_PADDED) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(
        String::from_utf8_lossy(&r.instrumented.stdout),
        "1000 1000\n"
    );
    assert_eq!(false_sharing(&r.profile).len(), 0, "{:#?}", r.profile);
    assert_eq!(r.profile["false_sharing_stats"]["true_shared_lines"], 0);
    // The same accesses as packed, now one writer per line.
    let s = site_at(&r.profile, line_of(FS_PADDED, "/* SITE */"));
    assert_eq!(
        per_thread(s),
        vec![(0, 2, 0, 0), (1, 1000, 1001, 0), (2, 1000, 1001, 0)]
    );
}

/// One counter shared by two threads under a mutex: true sharing.
const FS_MUTEX: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define N 1000
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *bump(void *arg) {
    long *c = arg;
    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&m);
        (*c)++;
        pthread_mutex_unlock(&m);
    }
    return NULL;
}
int main(void) {
    long *c = calloc(1, sizeof *c); /* SITE */
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, bump, c);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", *c);
    free(c);
    return 0;
}
"#;

#[test]
fn a_mutex_protected_shared_counter_is_true_sharing() {
    let Some(r) = build_and_run("fs-mutex", FS_MUTEX) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(String::from_utf8_lossy(&r.instrumented.stdout), "2000\n");
    assert_eq!(r.profile["races"], 0);
    assert_eq!(false_sharing(&r.profile).len(), 0, "{:#?}", r.profile);
    assert_eq!(r.profile["false_sharing_stats"]["true_shared_lines"], 1);
}

/// Per-thread atomic counters packed into one line: atomic stores and
/// RMWs are writes of the line, main's atomic loads after the joins reads.
const FS_ATOMIC: &str = r#"#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#define N 500
static void *bump(void *arg) {
    _Atomic long *mine = arg;
    atomic_store_explicit(mine, 0, memory_order_relaxed);
    for (int i = 0; i < N; i++)
        atomic_fetch_add_explicit(mine, 1, memory_order_relaxed);
    return NULL;
}
int main(void) {
    _Atomic long *c = aligned_alloc(64, 64); /* SITE */
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, bump, (void *)&c[i + 1]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    long s = 0;
    for (int i = 1; i < 4; i++)
        s += atomic_load(&c[i]);
    printf("%ld\n", s);
    free((void *)c);
    return 0;
}
"#;

#[test]
fn packed_atomic_counters_are_falsely_shared() {
    let Some(r) = build_and_run("fs-atomic", FS_ATOMIC) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(String::from_utf8_lossy(&r.instrumented.stdout), "1500\n");
    let fs = false_sharing(&r.profile);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let l = &fs[0];
    assert_eq!(l["threads"], serde_json::json!([1, 2, 3]));
    assert_eq!(l["writes"], 3 * 501);
    assert_eq!(
        l["writes_by"],
        serde_json::json!({"T1": 501, "T2": 501, "T3": 501})
    );
    assert_eq!(
        l["bytes"],
        serde_json::json!({"T1": "8-15", "T2": "16-23", "T3": "24-31"})
    );
    assert_eq!(l["readers"], serde_json::json!([0]));
    assert_eq!(l["sites"][0]["line"], line_of(FS_ATOMIC, "/* SITE */"));
    assert_eq!(r.profile["races"], 0);
}

/// A heap counter written by a second thread, then the program ends
/// through `END` (not `exit`).
fn ends_without_exit(end: &str) -> String {
    format!(
        r#"#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#define N 500
static void *bump(void *arg) {{
    int *counter = arg;
    for (int i = 0; i < N; i++)
        (*counter)++;
    return NULL;
}}
int main(void) {{
    int *counter = malloc(sizeof *counter); /* SITE */
    *counter = 0;
    pthread_t t;
    pthread_create(&t, NULL, bump, counter);
    pthread_join(t, NULL);
    printf("counter=%d\n", *counter);
    fflush(stdout);
    {end}
    return 0;
}}
"#
    )
}

/// Same stdout, stderr, exit code and terminating signal (and core dump)
/// as the plain build.
fn same_end(r: &Run) {
    use std::os::unix::process::ExitStatusExt;
    same_behaviour(r);
    assert_eq!(r.plain.status.signal(), r.instrumented.status.signal());
    assert_eq!(
        r.plain.status.core_dumped(),
        r.instrumented.status.core_dumped()
    );
}

/// The profile of [`ends_without_exit`]: the counter's exact counts, with
/// `main_reads` reads by main.
fn check_counter_profile(r: &Run, src: &str, main_reads: u64) {
    assert_eq!(
        String::from_utf8_lossy(&r.instrumented.stdout),
        "counter=500\n"
    );
    let s = site_at(&r.profile, line_of(src, "/* SITE */"));
    assert_eq!(s["function"], "main");
    assert_eq!(s["objects"], 1);
    assert_eq!(s["bytes"], 4);
    assert_eq!(s["class"], "handoff");
    // main: `*counter = 0` and the read for printf (+ the read for the
    // faulting address); thread 1: N x (load, store).
    assert_eq!(per_thread(s), vec![(0, main_reads, 1, 0), (1, 500, 500, 0)]);
    assert_eq!(r.profile["threads"].as_array().unwrap().len(), 2);
}

#[test]
fn underscore_exit_writes_the_profile() {
    let src = ends_without_exit("_exit(7);");
    let Some(r) = build_and_run("uexit", &src) else {
        return;
    };
    same_end(&r);
    assert_eq!(r.instrumented.status.code(), Some(7));
    check_counter_profile(&r, &src, 1);
}

#[test]
fn capital_exit_writes_the_profile() {
    let src = ends_without_exit("_Exit(5);");
    let Some(r) = build_and_run("cexit", &src) else {
        return;
    };
    same_end(&r);
    assert_eq!(r.instrumented.status.code(), Some(5));
    check_counter_profile(&r, &src, 1);
}

#[test]
fn abort_writes_the_profile_and_still_dies_of_sigabrt() {
    use std::os::unix::process::ExitStatusExt;
    let src = ends_without_exit("abort();");
    let Some(r) = build_and_run("abort", &src) else {
        return;
    };
    same_end(&r);
    assert_eq!(r.instrumented.status.signal(), Some(libc_sig::SIGABRT));
    check_counter_profile(&r, &src, 1);
}

#[test]
fn a_segfault_writes_the_profile_and_still_dies_of_sigsegv() {
    use std::os::unix::process::ExitStatusExt;
    let src = ends_without_exit("*(volatile int *)(long)(*counter - 500) = 1;");
    let Some(r) = build_and_run("segv", &src) else {
        return;
    };
    same_end(&r);
    assert_eq!(r.instrumented.status.signal(), Some(libc_sig::SIGSEGV));
    check_counter_profile(&r, &src, 2);
}

#[test]
fn a_handler_the_program_installs_is_kept() {
    // The program's own SIGSEGV handler runs (and exits 9 with `_exit`,
    // which writes the profile).
    let src = ends_without_exit(
        "struct sigaction sa = {0}; sa.sa_handler = on_segv; sigaction(SIGSEGV, &sa, NULL);\n    \
         *(volatile int *)(long)(*counter - 500) = 1;",
    )
    .replace(
        "int main(void) {",
        "static void on_segv(int s) { (void)s; write(1, \"handled\\n\", 8); _exit(9); }\nint main(void) {",
    );
    let Some(r) = build_and_run("own-handler", &src) else {
        return;
    };
    same_end(&r);
    assert_eq!(r.instrumented.status.code(), Some(9));
    assert_eq!(
        String::from_utf8_lossy(&r.instrumented.stdout),
        "counter=500\nhandled\n"
    );
    let s = site_at(&r.profile, line_of(&src, "/* SITE */"));
    // main also read `*counter` for the faulting address.
    assert_eq!(per_thread(s), vec![(0, 2, 1, 0), (1, 500, 500, 0)]);
}

#[test]
fn a_vfork_child_that_calls_underscore_exit_leaves_the_profile_alone() {
    // The child shares the parent's memory: its `_exit` must neither write
    // the profile nor stop the parent's recording.
    let src = ends_without_exit(
        "pid_t pid = vfork(); if (pid == 0) _exit(3);\n    \
         int st; waitpid(pid, &st, 0); printf(\"child=%d\\n\", WEXITSTATUS(st));\n    \
         *counter += 1; printf(\"%d\\n\", *counter);",
    )
    .replace(
        "#include <unistd.h>",
        "#include <unistd.h>\n#include <sys/wait.h>",
    );
    let Some(r) = build_and_run("vfork", &src) else {
        return;
    };
    same_end(&r);
    assert_eq!(
        String::from_utf8_lossy(&r.instrumented.stdout),
        "counter=500\nchild=3\n501\n"
    );
    let s = site_at(&r.profile, line_of(&src, "/* SITE */"));
    // main after the child: `*counter += 1` (read, write) and the read
    // for printf.
    assert_eq!(per_thread(s), vec![(0, 3, 2, 0), (1, 500, 500, 0)]);
}

#[test]
fn underscore_exit_after_a_race_keeps_its_status_as_tsan_does() {
    // ThreadSanitizer (gcc 12's libtsan) reports the race and ends with
    // the program's own `_exit` status, not 66.
    let src = ends_without_exit("_exit(7);")
        .replace("#define N 500", "#define N 500\nstatic int racy;")
        .replace(
            "    int *counter = arg;\n",
            "    int *counter = arg;\n    racy = 1;\n",
        )
        .replace(
            "pthread_create(&t, NULL, bump, counter);",
            "pthread_create(&t, NULL, bump, counter);\n    racy = 2;",
        );
    let Some(r) = build_and_run("uexit-race", &src) else {
        return;
    };
    let err = String::from_utf8_lossy(&r.instrumented.stderr);
    assert_eq!(r.instrumented.status.code(), Some(7), "{err}");
    assert_eq!(r.plain.status.code(), Some(7));
    assert_eq!(r.plain.stdout, r.instrumented.stdout);
    assert!(
        err.starts_with("==================\nWARNING: ThreadSanitizer: data race"),
        "{err}"
    );
    assert!(
        err.ends_with("ThreadSanitizer: reported 1 warnings\n"),
        "{err}"
    );
    assert_eq!(r.profile["races"], 1);
    check_counter_profile(&r, &src, 1);
}

/// Signal numbers (Linux, x86-64 and AArch64 agree on these).
mod libc_sig {
    pub const SIGABRT: i32 = 6;
    pub const SIGSEGV: i32 = 11;
}

const REUSE: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define T 6
#define R 300
static int *shared;
static long sums[T];
static void *work(void *arg) {
    long id = (long)arg, s = 0;
    for (int r = 0; r < R; r++) {
        int *p = malloc(10 * sizeof *p); /* PRIV */
        for (int i = 0; i < 10; i++)
            p[i] = i + r;
        for (int i = 0; i < 10; i++)
            s += p[i];
        free(p);
        for (int i = 0; i < 16; i++)
            s += shared[i];
    }
    sums[id] = s;
    return NULL;
}
int main(void) {
    shared = malloc(16 * sizeof *shared); /* SHARED */
    for (int i = 0; i < 16; i++)
        shared[i] = i;
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    long s = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        s += sums[i];
    }
    printf("%ld\n", s);
    free(shared);
    return 0;
}
"#;

/// The lock-free fast path keeps counts exact when object ids and
/// addresses are reused at once by several threads (each thread's
/// remembered object goes stale), and when more threads touch an object
/// than it has lock-free rows (the rest are counted under the lock).
#[test]
fn counts_stay_exact_across_reuse_and_many_threads() {
    let Some(r) = build_and_run("reuse", REUSE) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(r.profile["races"], 0);
    let sorted = |line| {
        let mut v = per_thread(site_at(&r.profile, line_of(REUSE, line)));
        v.sort();
        v
    };
    let want: Vec<_> = (1..=6).map(|t| (t, 3000, 3000, 0)).collect();
    assert_eq!(sorted("/* PRIV */"), want);
    let mut want = vec![(0, 0, 16, 0)];
    want.extend((1..=6).map(|t| (t, 16 * 300, 0, 0)));
    assert_eq!(sorted("/* SHARED */"), want);
    let s = site_at(&r.profile, line_of(REUSE, "/* PRIV */"));
    assert_eq!(s["objects"], 6 * 300);
}

const NEIGHBOURS: &str = r#"#include <stdio.h>
#include <stdlib.h>
#define R 50
#define N 1000
int main(void) {
    long s = 0;
    for (int r = 0; r < R; r++) {
        long *a = malloc(sizeof *a); /* A */
        long *b = malloc(sizeof *b); /* B */
        *a = 0;
        *b = 0;
        for (int i = 0; i < N; i++)
            *b += i;
        for (int i = 0; i < N; i++)
            *a += i;
        free(a);
        /* Likely a's memory, while the thread remembers a's line. */
        long *c = malloc(sizeof *c); /* C */
        *c = 0;
        for (int i = 0; i < N; i++)
            *c += i;
        for (int i = 0; i < N; i++)
            *b += 1;
        s += *b;
        free(c);
        free(b);
    }
    printf("%ld\n", s);
    return 0;
}
"#;

/// An object freed while the thread remembers its line for the fast path
/// (`Near` in `fast.rs`), and its memory reused at once by an object of
/// another site: each access is counted against the object that holds it
/// (the remembered row's claim goes stale at the free).
#[test]
fn memory_reused_while_remembered_counts_for_the_new_object() {
    // Without race detection too: then no race cell is forgotten at the
    // free, and only the remembered row's claim tells the reuse.
    for races in ["1", "0"] {
        let name = format!("neighbours{races}");
        let Some(r) = build_and_run_env(&name, NEIGHBOURS, false, &[("LOCI_RACES", races)]) else {
            return;
        };
        same_behaviour(&r);
        let at = |m| per_thread(site_at(&r.profile, line_of(NEIGHBOURS, m)));
        assert_eq!(
            at("/* A */"),
            vec![(0, 50 * 1000, 50 * 1001, 0)],
            "races {races}"
        );
        assert_eq!(
            at("/* B */"),
            vec![(0, 50 * 2001, 50 * 2001, 0)],
            "races {races}"
        );
        assert_eq!(
            at("/* C */"),
            vec![(0, 50 * 1000, 50 * 1001, 0)],
            "races {races}"
        );
    }
}

/// An instrumented signal handler that lands while its thread is inside
/// `malloc` or `free`: the runtime must not allocate from it (glibc's
/// single-threaded `malloc` takes no lock and is not reentrant: the
/// runtime's allocations for the handler's new stacks and semaphores
/// corrupted its heap, "malloc assertion failure in sysmalloc", in 6 of 6
/// runs before the fix).
const SIGNALS_IN_MALLOC: &str = r#"/* Signals landing while the thread is inside malloc/free, with an
 * instrumented handler that makes the runtime record new call stacks and
 * new synchronisation objects (sem_post is async-signal-safe): the
 * runtime must not allocate from the handler while the allocator, which
 * is not reentrant, is interrupted. */
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#define SEMS 16384
static volatile long hits;
static long table[4096];
static sem_t sems[SEMS];
/* Distinct call stacks, so that the runtime interns new stack nodes. */
static __attribute__((noinline)) void leaf(int d, int k) { table[(d * 131 + k) & 4095] += 1; }
static __attribute__((noinline)) void walk(int d, int k) {
    if (d == 0) leaf(d, k);
    else if (k & 1) walk(d - 1, k >> 1);
    else { walk(d - 1, k >> 1); leaf(d, k); }
}
static void on_alarm(int s) {
    (void)s;
    static int k;
    walk(12, k);
    sem_post(&sems[k % SEMS]);
    k++;
    hits++;
}
int main(void) {
    for (int i = 0; i < SEMS; i++)
        sem_init(&sems[i], 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &it, NULL);
    void *keep[64] = {0};
    for (long i = 0; i < 300000; i++) {
        int j = i & 63;
        free(keep[j]);
        keep[j] = malloc((size_t)(i % 4000) + 1);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("done %d\n", hits > 0);
    return 0;
}
"#;

#[test]
fn signal_handlers_interrupting_malloc_do_not_corrupt_the_heap() {
    let Some(r) = build_and_run("signals_in_malloc", SIGNALS_IN_MALLOC) else {
        return;
    };
    same_behaviour(&r);
    assert_eq!(String::from_utf8_lossy(&r.instrumented.stdout), "done 1\n");
}
