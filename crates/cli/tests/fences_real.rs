//! `loci fences` on real programs (issue 5): the C programs of `examples/fences`
//! are compiled with `gcc -O2 -S`, rewritten with `loci fences --fix` and
//! `loci fences --merge --fix`, assembled, linked and run; the rewritten
//! programs must print exactly what the original prints, exit 0 and pass their
//! own self-checks (an `OK` line).  x86-64 always runs natively with the host
//! `gcc`; AArch64 (`-march=armv8-a` and `-march=armv8.1-a`, LSE) runs under
//! `qemu-aarch64` when `aarch64-linux-gnu-gcc` and `qemu-aarch64` are on PATH
//! (Debian: `gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user`), and is
//! skipped with a notice otherwise.
//!
//! Besides "nothing broke", the test pins what loci must find in the programs
//! built for it (back-to-back `__sync_synchronize()` is redundant, ...) and what
//! it must leave alone (the Go-style publication barrier after zeroing stores).
//! `benches/fences-real.sh` does the same with more runs and dynamic counts.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The C programs of `examples/fences`.
const PROGRAMS: &[&str] = &[
    "c11_atomics",
    "kernel_style",
    "publication",
    "seqlock",
    "spinlock",
    "spsc_ring",
    "sync_builtins",
    "sync_synchronize",
    "treiber",
];

/// A program run longer than this is a failure (a hang after a bad rewrite).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    X86_64,
    /// `-march=armv8-a`: LL/SC loops and DMBs.
    A64,
    /// `-march=armv8.1-a`: LSE atomics.
    A64Lse,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::X86_64 => "x86-64",
            Target::A64 => "a64",
            Target::A64Lse => "a64-lse",
        }
    }

    fn aarch64(self) -> bool {
        self != Target::X86_64
    }

    /// The compiler command and its target flags.
    fn cc(self) -> Vec<&'static str> {
        match self {
            Target::X86_64 => vec!["gcc"],
            Target::A64 => vec![
                "aarch64-linux-gnu-gcc",
                "-march=armv8-a",
                "-mno-outline-atomics",
            ],
            Target::A64Lse => vec![
                "aarch64-linux-gnu-gcc",
                "-march=armv8.1-a",
                "-mno-outline-atomics",
            ],
        }
    }

    /// How to run a binary built for this target.
    fn runner(self, bin: &Path) -> Command {
        if self.aarch64() {
            let mut c = Command::new("qemu-aarch64");
            c.arg("-L").arg("/usr/aarch64-linux-gnu").arg(bin);
            c
        } else {
            Command::new(bin)
        }
    }
}

/// What loci must find (at least) and must not find in one program.
struct Expect {
    program: &'static str,
    /// Applies to the AArch64 targets (true) or to x86-64 (false).
    aarch64: bool,
    min_redundant: usize,
    min_mergeable: usize,
    min_weakenable: usize,
    /// Functions in which no barrier may be reported redundant.
    keep_in: &'static [&'static str],
}

const EXPECT: &[Expect] = &[
    // `__sync_synchronize(); __sync_synchronize();` in send and receive.
    Expect {
        program: "sync_synchronize",
        aarch64: true,
        min_redundant: 2,
        min_mergeable: 0,
        min_weakenable: 0,
        keep_in: &[],
    },
    Expect {
        program: "sync_synchronize",
        aarch64: false,
        min_redundant: 2,
        min_mergeable: 0,
        min_weakenable: 0,
        keep_in: &[],
    },
    // The second `dmb ishst` of new_pair has no store since the first one;
    // the one of new_zeroed follows the zeroing stores and must stay.
    Expect {
        program: "publication",
        aarch64: true,
        min_redundant: 1,
        min_mergeable: 0,
        min_weakenable: 0,
        keep_in: &["new_zeroed"],
    },
    // smp_rmb(); smp_wmb(); merges; the sampler's inner smp_mb()s only order
    // loads; on x86 they are redundant.
    Expect {
        program: "kernel_style",
        aarch64: true,
        min_redundant: 0,
        min_mergeable: 1,
        min_weakenable: 2,
        keep_in: &["writer_round"],
    },
    Expect {
        program: "kernel_style",
        aarch64: false,
        min_redundant: 2,
        min_mergeable: 0,
        min_weakenable: 0,
        keep_in: &[],
    },
    // The release fences of the seqlock writer order stores: both needed.
    Expect {
        program: "seqlock",
        aarch64: true,
        min_redundant: 0,
        min_mergeable: 0,
        min_weakenable: 0,
        keep_in: &["write_gen", "read_gen"],
    },
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fences")
}

/// Whether `cmd --version` runs.
fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn run_checked(mut c: Command, what: &str) -> Result<String, String> {
    let out = c.output().map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `c` with a timeout; returns (exit code, stdout).
fn run_program(mut c: Command) -> Result<(i32, String), String> {
    let dir = tempdir_for("out");
    let path = dir.join("stdout");
    let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let mut child = c
        .stdout(file)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {c:?}: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("{c:?}: no exit after {RUN_TIMEOUT:?} (hang?)"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    Ok((status.code().unwrap_or(-1), out))
}

/// A fresh directory under the system temp dir.
fn tempdir_for(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "loci-fences-real-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Barrier instructions (the ones loci may rewrite) in an assembly file.
fn count_barriers(asm: &str, aarch64: bool) -> usize {
    asm.lines()
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| {
            let mut w = l.split_whitespace();
            let m = w.next().unwrap_or("");
            if aarch64 {
                m == "dmb" || m == "dsb"
            } else {
                let rest: String = w.collect::<Vec<_>>().join(" ");
                m == "mfence"
                    || (m == "lock"
                        && (rest.starts_with("or") || rest.starts_with("add"))
                        && rest.replace(' ', "").ends_with("$0,(%rsp)"))
            }
        })
        .count()
}

/// One row of the summary.
struct Row {
    program: &'static str,
    target: Target,
    barriers: u64,
    redundant: u64,
    mergeable: u64,
    weakenable: u64,
    runs: usize,
}

/// Compile, analyse, rewrite, run and compare one program on one target.
fn check(program: &'static str, target: Target) -> Result<Row, String> {
    let tag = format!("{program}/{}", target.name());
    let dir = tempdir_for(&format!("{program}-{}", target.name()));
    let src = examples_dir().join(format!("{program}.c"));
    let orig = dir.join("orig.s");
    let mut cc = target.cc();
    let mut c = Command::new(cc.remove(0));
    c.args(&cc)
        .args(["-O2", "-pthread", "-S", "-o"])
        .arg(&orig)
        .arg(&src);
    run_checked(c, &format!("{tag}: compile"))?;

    // analyse + --fix, and --merge --fix
    let fix = dir.join("fix.s");
    let merge = dir.join("merge.s");
    let mut c = Command::new(env!("CARGO_BIN_EXE_loci"));
    c.args(["fences", "--json", "--fix"]).arg(&fix).arg(&orig);
    let json = run_checked(c, &format!("{tag}: loci fences --json --fix"))?;
    let doc: Value =
        serde_json::from_str(&json).map_err(|e| format!("{tag}: loci JSON ({e}): {json}"))?;
    let mut c = Command::new(env!("CARGO_BIN_EXE_loci"));
    c.args(["fences", "--merge", "--fix"])
        .arg(&merge)
        .arg(&orig);
    run_checked(c, &format!("{tag}: loci fences --merge --fix"))?;

    let file = &doc["files"][0];
    let n = |k: &str| file[k].as_u64().unwrap_or(0);
    let (barriers, redundant, mergeable, weakenable) = (
        n("barriers"),
        n("redundant"),
        n("mergeable"),
        n("weakenable"),
    );
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &findings {
        *kinds.entry(f["kind"].as_str().unwrap_or("?")).or_default() += 1;
    }
    for (k, v) in [
        ("redundant", redundant),
        ("mergeable", mergeable),
        ("weakenable", weakenable),
    ] {
        if kinds.get(k).copied().unwrap_or(0) as u64 != v {
            return Err(format!("{tag}: summary says {v} {k}, findings[] {kinds:?}"));
        }
    }

    // what loci must find and must leave alone
    for e in EXPECT
        .iter()
        .filter(|e| e.program == program && e.aarch64 == target.aarch64())
    {
        for (k, got, min) in [
            ("redundant", redundant, e.min_redundant),
            ("mergeable", mergeable, e.min_mergeable),
            ("weakenable", weakenable, e.min_weakenable),
        ] {
            if (got as usize) < min {
                return Err(format!(
                    "{tag}: loci found {got} {k}, the program has at least {min}"
                ));
            }
        }
        for f in &findings {
            let func = f["function"].as_str().unwrap_or("");
            if f["kind"] == "redundant" && e.keep_in.contains(&func) {
                return Err(format!(
                    "{tag}: a needed barrier reported redundant in {func}: {f}"
                ));
            }
        }
    }

    // the rewritten files: every applied redundant finding removed one barrier
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{tag}: {e}"));
    let (orig_s, fix_s, merge_s) = (read(&orig)?, read(&fix)?, read(&merge)?);
    let applied_redundant = findings
        .iter()
        .filter(|f| f["kind"] == "redundant" && f["applied"] == true)
        .count();
    let (bo, bf) = (
        count_barriers(&orig_s, target.aarch64()),
        count_barriers(&fix_s, target.aarch64()),
    );
    if bo != barriers as usize {
        return Err(format!(
            "{tag}: loci counts {barriers} barriers, the file has {bo}"
        ));
    }
    if bf + applied_redundant != bo {
        return Err(format!(
            "{tag}: {bo} barriers, {applied_redundant} redundant removed, but --fix left {bf}"
        ));
    }
    if redundant + weakenable == 0 && fix_s != orig_s {
        return Err(format!("{tag}: nothing to fix, but --fix changed the file"));
    }

    // build and run: original once, each distinct rewrite twice
    let mut variants = vec![("orig", orig.clone(), 1)];
    if fix_s != orig_s {
        variants.push(("fix", fix.clone(), 2));
    }
    if merge_s != fix_s && merge_s != orig_s {
        variants.push(("merge", merge.clone(), 2));
    }
    let mut want: Option<(i32, String)> = None;
    let mut runs = 0;
    for (name, asm, times) in variants {
        let bin = dir.join(name);
        let mut cc = target.cc();
        let mut c = Command::new(cc.remove(0));
        c.args(&cc)
            .args(["-O2", "-pthread", "-o"])
            .arg(&bin)
            .arg(&asm);
        run_checked(c, &format!("{tag}: assemble {name}"))?;
        for _ in 0..times {
            let got = run_program(target.runner(&bin))?;
            runs += 1;
            if got.0 != 0 || !got.1.lines().any(|l| l == "OK") {
                return Err(format!(
                    "{tag}: {name}: self-check failed (exit {}):\n{}",
                    got.0, got.1
                ));
            }
            match &want {
                None => want = Some(got),
                Some(w) if *w != got => {
                    return Err(format!(
                        "{tag}: {name} differs from the original:\n{}\nvs\n{}",
                        w.1, got.1
                    ))
                }
                Some(_) => {}
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Row {
        program,
        target,
        barriers,
        redundant,
        mergeable,
        weakenable,
        runs,
    })
}

#[test]
fn fixed_programs_behave_like_the_originals() {
    let start = Instant::now();
    let mut targets = vec![Target::X86_64];
    if have("aarch64-linux-gnu-gcc") && have("qemu-aarch64") {
        targets.extend([Target::A64, Target::A64Lse]);
    } else {
        eprintln!(
            "notice: aarch64-linux-gnu-gcc or qemu-aarch64 not on PATH: AArch64 part skipped \
             (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
        );
    }
    assert!(have("gcc"), "gcc not on PATH");

    let jobs: Mutex<Vec<(&'static str, Target)>> = Mutex::new(
        PROGRAMS
            .iter()
            .flat_map(|p| targets.iter().map(move |t| (*p, *t)))
            .rev()
            .collect(),
    );
    let results: Mutex<Vec<Result<Row, String>>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 2);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = jobs.lock().unwrap().pop();
                let Some((p, t)) = job else { break };
                let r = check(p, t);
                results.lock().unwrap().push(r);
            });
        }
    });

    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| match r {
        Ok(row) => (row.program.to_string(), row.target.name()),
        Err(e) => (e.clone(), ""),
    });
    println!("program           arch     barriers redundant mergeable weakenable runs");
    let mut failures = Vec::new();
    for r in &results {
        match r {
            Ok(row) => println!(
                "{:<17} {:<8} {:>8} {:>9} {:>9} {:>10} {:>4}",
                row.program,
                row.target.name(),
                row.barriers,
                row.redundant,
                row.mergeable,
                row.weakenable,
                row.runs
            ),
            Err(e) => failures.push(e.clone()),
        }
    }
    println!("({:.1} s)", start.elapsed().as_secs_f64());
    assert_eq!(results.len(), PROGRAMS.len() * targets.len());
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn barrier_counter_agrees_with_loci_on_a_snippet() {
    // The test's own barrier counter (used above to check --fix) on known text.
    let a64 = "f:\n\tdmb\tish\n\tldr w0, [x1]\n\tdmb ishst\n\tdsb sy\n\tret\n";
    assert_eq!(count_barriers(a64, true), 3);
    let x86 = "f:\n\tmfence\n\tlock orq\t$0, (%rsp)\n\tlock addl $0,(%rsp)\n\tlock xaddl %eax, (%rdi)\n\tret\n";
    assert_eq!(count_barriers(x86, false), 3);
}
