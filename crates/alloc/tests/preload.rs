//! Runs real programs with `LD_PRELOAD=libloci_alloc.so` and requires the
//! same stdout and exit status as without it; also runs C programs that
//! check the C ABI and the double-free abort.
//!
//! Needs `python3`, `git`, `cc` (gcc) and `sort` (coreutils); each check
//! that lacks its tool prints a notice and is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The cdylib cargo built next to this test binary (`target/<profile>/deps`
/// or `target/<profile>`).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for dir in [deps, deps.parent().unwrap()] {
        let p = dir.join("libloci_alloc.so");
        if p.exists() {
            return p;
        }
    }
    panic!("libloci_alloc.so not found next to {}", exe.display());
}

fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("notice: `{tool}` not found; skipping its LD_PRELOAD check");
    }
    ok
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loci-alloc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &str, dir: &Path, preload: bool) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd).current_dir(dir).env("LC_ALL", "C");
    c.env_remove("LD_PRELOAD");
    if preload {
        c.env("LD_PRELOAD", library());
    }
    c.output().unwrap()
}

/// Run `cmd` (in a fresh copy of the setup per run) with and without the
/// allocator and require identical stdout and exit status.
fn same_with_and_without(name: &str, setup: &str, cmd: &str) {
    let plain_dir = tempdir(&format!("{name}-plain"));
    let loci_dir = tempdir(&format!("{name}-loci"));
    for d in [&plain_dir, &loci_dir] {
        let s = run(setup, d, false);
        assert!(
            s.status.success(),
            "setup failed: {}",
            String::from_utf8_lossy(&s.stderr)
        );
    }
    let plain = run(cmd, &plain_dir, false);
    let loci = run(cmd, &loci_dir, true);
    assert!(
        plain.status.success(),
        "{name} fails even without LD_PRELOAD: {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert_eq!(
        loci.status.code(),
        plain.status.code(),
        "{name}: exit status differs; stderr under loci: {}",
        String::from_utf8_lossy(&loci.stderr)
    );
    assert!(!plain.stdout.is_empty(), "{name} printed nothing");
    assert!(
        loci.stdout == plain.stdout,
        "{name}: stdout differs under LD_PRELOAD ({} vs {} bytes); stderr: {}",
        loci.stdout.len(),
        plain.stdout.len(),
        String::from_utf8_lossy(&loci.stderr)
    );
    let _ = std::fs::remove_dir_all(plain_dir);
    let _ = std::fs::remove_dir_all(loci_dir);
}

#[test]
fn the_library_is_really_preloaded() {
    let out = run("cat /proc/self/maps", &std::env::temp_dir(), true);
    assert!(String::from_utf8_lossy(&out.stdout).contains("libloci_alloc.so"));
}

#[test]
fn python_json() {
    if !have("python3") {
        return;
    }
    same_with_and_without(
        "python",
        "true",
        "python3 -c 'import json; print(sum(len(json.dumps(list(range(i)))) for i in range(2000)))' && \
         PYTHONMALLOC=malloc python3 -c 'import json; print(sum(len(json.dumps(list(range(i)))) for i in range(2000)))'",
    );
}

#[test]
fn git_commit_and_log() {
    if !have("git") {
        return;
    }
    let env = "export GIT_CONFIG_NOSYSTEM=1 HOME=. GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b \
               GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@b \
               GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z';";
    same_with_and_without("git-version", "true", "git --version");
    // Everything, including the commits, runs under the allocator.
    same_with_and_without(
        "git",
        "true",
        &format!(
            "{env} git init -q -b main repo && cd repo && \
             for i in 1 2 3 4 5 6 7 8; do seq 1 $((i*500)) > f$i; git add f$i; \
             git commit -q -m \"commit $i\"; done && \
             git log --stat && git log -p -1 | wc -c && git gc -q && git fsck && git log --oneline"
        ),
    );
}

#[test]
fn cc_compiles_a_program() {
    if !have("cc") {
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/preload/sample.c");
    let setup = format!("cp '{}' t.c", src.display());
    same_with_and_without(
        "cc",
        &setup,
        "cc -O2 -Wall -o t t.c && ./t && cc -E t.c | wc -l",
    );
}

#[test]
fn sort_a_generated_file() {
    if !have("sort") || !have("python3") {
        return;
    }
    same_with_and_without(
        "sort",
        "python3 -c 'import random; r=random.Random(7); print(\"\\n\".join(str(r.random()) for _ in range(200000)))' > data",
        "sort data | md5sum && sort -n -r data | head -5 && sort -u data | wc -l",
    );
}

/// Run `cmd` with the library preloaded and its output captured; a run
/// longer than 60 s is a hang (a deadlock spins: the allocator's locks
/// yield), killed, and the test fails saying `hung`.
fn run_preloaded_or_hang(mut cmd: Command, hung: &str) -> Output {
    let mut child = cmd
        .env("LD_PRELOAD", library())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{hung}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn compile_c(name: &str) -> Option<(PathBuf, PathBuf)> {
    if !have("cc") {
        return None;
    }
    let dir = tempdir(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/preload/{name}.c"));
    let exe = dir.join(name);
    let out = Command::new("cc")
        .args(["-O1", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-ldl")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((dir, exe))
}

#[test]
fn interposed_libc_functions_that_allocate_do_not_deadlock() {
    // Like `compile_c`, but with -rdynamic: the executable's memset, memcpy,
    // memmove and mmap, and its open, open64, openat, read and close (which
    // call malloc, as a sanitizer runtime's do) must be what the library's
    // references bind to. With the file functions, the program hung in its
    // first malloc: the one-time initialisation read the NUMA node count
    // through libc's open/read/close, and the interposed open's malloc
    // waited for that initialisation to finish (found with gcc's
    // ThreadSanitizer runtime, which intercepts open, under
    // benches/alloc-selftest.sh).
    if !have("cc") {
        return;
    }
    let dir = tempdir("interposer");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/preload/interposer.c");
    let exe = dir.join("interposer");
    let out = Command::new("cc")
        .args(["-O1", "-pthread", "-rdynamic", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_preloaded_or_hang(
        Command::new(&exe),
        "the interposer program hung under loci-alloc (a malloc from an interposed function waits for a lock its caller holds, or for the initialisation it is part of)",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let n: u64 = stdout
        .trim()
        .strip_prefix("ok interposed=")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "status {:?}\nstdout: {stdout}\nstderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(out.status.success());
    assert!(n > 0, "the library never called the interposed functions");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_signal_handler_that_allocates_during_thread_exit_does_not_deadlock() {
    // See tests/preload/thread_exit_signals.c: before the thread-exit
    // destructor blocked signals, this hung within seconds.
    let Some((dir, exe)) = compile_c("thread_exit_signals") else {
        return;
    };
    let mut cmd = Command::new(&exe);
    cmd.arg("20000");
    let out = run_preloaded_or_hang(
        cmd,
        "thread_exit_signals hung under loci-alloc (a signal handler's malloc waits for the heap lock of its own exiting thread)",
    );
    assert!(
        out.status.success() && out.stdout == b"ok\n",
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn c_api_under_preload() {
    let Some((dir, exe)) = compile_c("api") else {
        return;
    };
    let out = Command::new(&exe)
        .env("LD_PRELOAD", library())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "status {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the library the loci_* symbols are missing: the check is real.
    let plain = Command::new(&exe)
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    assert!(!plain.status.success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn double_free_aborts_naming_the_address() {
    let Some((dir, exe)) = compile_c("double_free") else {
        return;
    };
    let out = Command::new(&exe)
        .env("LD_PRELOAD", library())
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc_sigabrt()),
        "status {:?}",
        out.status
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let addr = usize::from_str_radix(printed.trim().trim_start_matches("0x"), 16).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("double free of 0x{addr:016x}")),
        "stderr: {stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn invalid_frees_abort_naming_the_address() {
    let Some((dir, exe)) = compile_c("bad_free") else {
        return;
    };
    use std::os::unix::process::ExitStatusExt;
    for (mode, what) in [
        ("interior", "interior pointer"),
        ("medium", "interior pointer"),
        ("stack", "not allocated by loci-alloc"),
        ("header", "unused page"),
        ("medium-header", "interior pointer"),
        ("chunk-end", "unused page"),
        ("large", "interior pointer"),
        ("double-full", "double free of"),
    ] {
        let out = Command::new(&exe)
            .arg(mode)
            .env("LD_PRELOAD", library())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc_sigabrt()),
            "{mode}: status {:?}, stderr: {stderr}",
            out.status
        );
        let printed = String::from_utf8_lossy(&out.stdout);
        let addr = usize::from_str_radix(printed.trim().trim_start_matches("0x"), 16).unwrap();
        assert!(
            stderr.contains(what) && stderr.contains(&format!("0x{addr:016x}")),
            "{mode}: stderr: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn libc_sigabrt() -> i32 {
    6
}
