//! Ground truth from outside: small C programs are run under Valgrind's
//! `lackey --trace-mem=yes` (whose trace drives our cachegrind-compatible
//! simulator) and under `cachegrind --cache-sim=yes` with the same cache
//! geometry; every one of cachegrind's nine counts must agree within 1%.
//!
//! Needs `cc` and `valgrind` (Debian package `valgrind`); without them the
//! test prints a notice and passes without checking anything.

use loci_sim::cache::Geometry;
use loci_sim::cachegrind::{CachegrindSim, Counts};
use loci_sim::lackey::for_each_op;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const I1: &str = "16384,4,64";
const D1: &str = "16384,4,64";
const LL: &str = "262144,8,64";

/// Column-major walk of a row-major matrix: one D1 miss per element.
const MATRIX: &str = r#"
#include <stdio.h>
#define N 256
static int a[N][N];
int main(void) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            a[i][j] = i ^ j;
    long s = 0;
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++)
            s += a[i][j];
    printf("%ld\n", s);
    return 0;
}
"#;

/// Pointer chasing over a random cyclic permutation, with read-modify-write
/// (`M`) accesses to each node.
const CHASE: &str = r#"
#include <stdio.h>
#include <stdlib.h>
struct node { struct node *next; long count; char pad[48]; };
int main(void) {
    enum { N = 20000 };
    struct node *nodes = malloc(N * sizeof *nodes);
    unsigned *perm = malloc(N * sizeof *perm);
    if (!nodes || !perm) return 1;
    for (unsigned i = 0; i < N; i++) perm[i] = i;
    unsigned x = 12345;
    for (unsigned i = N - 1; i > 0; i--) {
        x = x * 1103515245u + 12345u;
        unsigned j = (x >> 8) % (i + 1);
        unsigned t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    for (unsigned i = 0; i < N; i++) {
        nodes[perm[i]].next = &nodes[perm[(i + 1) % N]];
        nodes[perm[i]].count = 0;
    }
    struct node *p = &nodes[perm[0]];
    for (int k = 0; k < 5 * N; k++) {
        __asm__ volatile("" ::: "memory");
        p->count++;
        p = p->next;
    }
    long s = 0;
    for (unsigned i = 0; i < N; i++) s += nodes[i].count;
    printf("%ld\n", s);
    free(nodes); free(perm);
    return 0;
}
"#;

/// Unaligned 8-byte loads and stores, many straddling two lines.
const STRADDLE: &str = r#"
#include <stdio.h>
#include <string.h>
#include <stdint.h>
static unsigned char buf[1 << 16];
int main(void) {
    uint64_t s = 0;
    for (int rep = 0; rep < 8; rep++)
        for (size_t off = 3; off + 8 < sizeof buf; off += 61) {
            uint64_t v;
            memcpy(&v, buf + off, 8);
            v += off;
            memcpy(buf + off, &v, 8);
            s += v;
        }
    printf("%llu\n", (unsigned long long)s);
    return 0;
}
"#;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loci-sim-cg-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn compile(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&src, source).expect("write C source");
    let st = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("run cc");
    assert!(st.success(), "cc failed on {name}");
    exe
}

fn cachegrind_counts(dir: &Path, exe: &Path) -> Counts {
    let out = dir.join("cachegrind.out");
    let st = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=yes",
            &format!("--I1={I1}"),
            &format!("--D1={D1}"),
            &format!("--LL={LL}"),
        ])
        .arg(format!("--cachegrind-out-file={}", out.display()))
        .arg(exe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run cachegrind");
    assert!(st.success(), "cachegrind failed");
    let text = std::fs::read_to_string(&out).expect("read cachegrind output");
    let events: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .expect("events: line")
        .split_whitespace()
        .collect();
    let summary: Vec<u64> = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:"))
        .expect("summary: line")
        .split_whitespace()
        .map(|v| v.parse().expect("count"))
        .collect();
    let get = |name: &str| {
        let i = events
            .iter()
            .position(|e| *e == name)
            .unwrap_or_else(|| panic!("cachegrind reports no {name}"));
        summary[i]
    };
    Counts {
        Ir: get("Ir"),
        I1mr: get("I1mr"),
        ILmr: get("ILmr"),
        Dr: get("Dr"),
        D1mr: get("D1mr"),
        DLmr: get("DLmr"),
        Dw: get("Dw"),
        D1mw: get("D1mw"),
        DLmw: get("DLmw"),
    }
}

fn lackey_counts(exe: &Path) -> Counts {
    let g = |s| Geometry::parse_cachegrind(s).expect("geometry");
    let mut sim = CachegrindSim::new(g(I1), g(D1), g(LL)).expect("sim");
    let mut child = Command::new("valgrind")
        .args(["--tool=lackey", "--trace-mem=yes"])
        .arg(exe)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lackey");
    let stderr = child.stderr.take().expect("piped stderr");
    for_each_op(BufReader::with_capacity(1 << 20, stderr), |op| {
        sim.apply(op)
    })
    .expect("parse lackey trace");
    assert!(
        child.wait().expect("wait lackey").success(),
        "lackey failed"
    );
    sim.counts()
}

fn check(name: &str, source: &str) {
    if !have("valgrind") || !have("cc") {
        eprintln!("NOTICE: skipping cachegrind comparison `{name}`: valgrind or cc not found");
        return;
    }
    let dir = scratch_dir(name);
    let exe = compile(&dir, name, source);
    let theirs = cachegrind_counts(&dir, &exe);
    let ours = lackey_counts(&exe);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{name}: I1={I1} D1={D1} LL={LL}");
    eprintln!(
        "{:>6} {:>12} {:>12} {:>8}",
        "event", "loci", "cachegrind", "diff%"
    );
    let mut worst: f64 = 0.0;
    for ((event, a), b) in Counts::NAMES.iter().zip(ours.values()).zip(theirs.values()) {
        let rel = (a as f64 - b as f64).abs() / (b.max(1) as f64) * 100.0;
        worst = worst.max(rel);
        eprintln!("{event:>6} {a:>12} {b:>12} {rel:>8.3}");
    }
    assert!(
        theirs.D1mr > 0 && theirs.Ir > 10_000,
        "the program should exercise the caches"
    );
    assert!(
        worst <= 1.0,
        "{name}: counts differ by up to {worst:.3}% (> 1%): ours {ours:?} cachegrind {theirs:?}"
    );
}

#[test]
fn matrix_matches_cachegrind() {
    check("matrix", MATRIX);
}

#[test]
fn pointer_chase_matches_cachegrind() {
    check("chase", CHASE);
}

#[test]
fn straddling_accesses_match_cachegrind() {
    check("straddle", STRADDLE);
}
