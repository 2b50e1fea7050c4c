//! `loci sim` end to end: workloads, placement comparison, barrier flags,
//! trace emission and byte-identical output.

use std::path::PathBuf;
use std::process::{Command, Output};

fn preset(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../presets")
        .join(name)
        .display()
        .to_string()
}

fn loci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loci"))
        .arg("sim")
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> (Vec<u8>, serde_json::Value) {
    let out = loci(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout).unwrap();
    (out.stdout, v)
}

#[test]
fn compare_placements_of_capture_by_ref() {
    let m = preset("generic-2s.toml");
    let args = [
        "--machine",
        &m,
        "--workload",
        "capture-by-ref",
        "--iters",
        "3",
        "--pin",
        "spread",
        "--compare",
        "first-touch,consumer",
        "--json",
    ];
    let (bytes, v) = ok_json(&args);
    assert_eq!(v["baseline"], "first-touch");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["report"]["dram_remote"], 63);
    assert_eq!(runs[1]["placement"], "consumer");
    assert_eq!(runs[1]["report"]["dram_remote"], 1);
    assert_eq!(runs[1]["report"]["dram_local"], 63);
    assert_eq!(runs[1]["report"]["threads"][1]["core"], 16);
    let base = runs[0]["report"]["latency_ns"].as_f64().unwrap();
    let cons = runs[1]["report"]["latency_ns"].as_f64().unwrap();
    assert!((base - cons - 3100.0).abs() < 1e-6);
    let r = runs[1]["ratio_to_baseline"]["latency_ns"].as_f64().unwrap();
    assert!((r - cons / base).abs() < 1e-12);
    // Deterministic: the same command prints the same bytes.
    assert_eq!(bytes, ok_json(&args).0);
    // The table names every policy.
    let out = loci(&args[..args.len() - 1]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("consumer") && text.contains("dram_remote"),
        "{text}"
    );
}

#[test]
fn emitted_trace_replays_like_the_workload() {
    let dir = std::env::temp_dir().join(format!("loci-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fs.locitrace");
    let f = file.display().to_string();
    let gen = [
        "--workload",
        "false-sharing",
        "--threads",
        "4",
        "--iters",
        "25",
        "--emit-trace",
        &f,
    ];
    let out = loci(&gen);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("events written"));
    let m = preset("epyc-7r13-2s.toml");
    let (a, v) = ok_json(&["--machine", &m, &f, "--json"]);
    let mut direct = vec!["--machine", m.as_str(), "--json"];
    direct.extend_from_slice(&gen[..6]);
    let (b, _) = ok_json(&direct);
    assert_eq!(a, b);
    // 4 threads x 25 writes to one line: all but the first move the line.
    assert_eq!(v["writes"], 100);
    assert_eq!(v["invalidations"], 99);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn barrier_flag_switches_policy() {
    let m = preset("graviton2.toml");
    let run = |policy: &str| {
        let (_, v) = ok_json(&[
            "--machine",
            &m,
            "--workload",
            "publication",
            "--threads",
            "2",
            "--iters",
            "20",
            "--object-size",
            "128",
            "--barrier",
            policy,
            "--store-buffer",
            "64",
            "--json",
        ]);
        v
    };
    let d = run("drain");
    let o = run("order");
    assert_eq!(d["barrier"], "drain");
    assert_eq!(d["store_buffer"], 64);
    assert!(d["threads"][0]["barrier_stall_ns"].as_f64().unwrap() > 0.0);
    assert_eq!(o["threads"][0]["barrier_stall_ns"].as_f64().unwrap(), 0.0);
    // 20 x (3 stores) fit in 64 entries: no full-buffer stall either.
    assert_eq!(
        o["threads"][0]["store_buffer_full_stall_ns"]
            .as_f64()
            .unwrap(),
        0.0
    );
    assert_eq!(d["latency_ns"], o["latency_ns"]);
}

#[test]
fn bad_combinations_are_refused() {
    let m = preset("generic-2s.toml");
    for args in [
        vec!["--machine", &m, "--workload", "nope"],
        vec![
            "--machine",
            &m,
            "--workload",
            "false-sharing",
            "x.locitrace",
        ],
        vec![
            "--machine",
            &m,
            "--workload",
            "false-sharing",
            "--compare",
            "consumer",
        ],
        vec![
            "--machine",
            &m,
            "--workload",
            "false-sharing",
            "--pin",
            "wide",
        ],
        vec![
            "--machine",
            &m,
            "--workload",
            "false-sharing",
            "--threads",
            "40",
        ],
        vec!["--workload", "false-sharing"],
        vec!["--machine", &m, "--threads", "2"],
        vec!["--machine", &m, "--placement", "consumer"],
    ] {
        let out = loci(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn timed_schedule_is_deterministic_and_syncs_clocks() {
    let m = preset("generic-2s.toml");
    let args = [
        "--machine",
        &m,
        "--workload",
        "producer-consumer",
        "--threads",
        "4",
        "--iters",
        "30",
        "--pin",
        "spread",
        "--schedule",
        "timed",
        "--json",
    ];
    let (a, v) = ok_json(&args);
    assert_eq!(a, ok_json(&args).0);
    let threads = v["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 4);
    // Consumers (odd threads) wait for their producers' releases.
    for t in threads
        .iter()
        .filter(|t| t["thread"].as_u64().unwrap() % 2 == 1)
    {
        assert!(t["sync_wait_ns"].as_f64().unwrap() > 0.0, "{t}");
    }
    assert_eq!(threads[1]["core"], 16);
    assert_eq!(v["accesses"], 4 * 30);
}

#[test]
fn compare_crosses_barrier_variants_with_drain_and_order() {
    let m = preset("graviton2.toml");
    let args = [
        "--machine",
        &m,
        "--workload",
        "publication",
        "--iters",
        "20",
        "--object-size",
        "128",
        "--store-buffer",
        "64",
        "--compare",
        "as-traced,drop-ishst-after-alloc,drain,order",
        "--json",
    ];
    let (bytes, v) = ok_json(&args);
    assert_eq!(bytes, ok_json(&args).0, "parallel runs, same bytes");
    assert_eq!(v["baseline"], "drain/as-traced");
    let runs = v["runs"].as_array().unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "drain/as-traced",
            "drain/drop-ishst-after-alloc",
            "order/as-traced",
            "order/drop-ishst-after-alloc"
        ]
    );
    // Thread 0 allocates 20 objects, each followed by one DMB ISHST.
    let t0 = |i: usize| &runs[i]["report"]["threads"][0];
    assert_eq!(t0(0)["barriers_dropped"], 0);
    assert_eq!(t0(1)["barriers_dropped"], 20);
    assert_eq!(t0(3)["barriers_dropped"], 20);
    assert_eq!(
        t0(0)["barriers"].as_u64().unwrap() - t0(1)["barriers"].as_u64().unwrap(),
        20
    );
    assert_eq!(runs[1]["barrier_variant"], "drop-ishst-after-alloc");
    assert_eq!(runs[2]["barrier"], "order");
    // Under order no barrier waits, dropped or not.
    assert_eq!(t0(2)["barrier_stall_ns"].as_f64().unwrap(), 0.0);
    // Under drain the STLR right after each dropped DMB ISHST drains the
    // same stores, so the stall moves rather than vanishes: it may only
    // shrink.
    let stall = |i: usize| t0(i)["barrier_stall_ns"].as_f64().unwrap();
    assert!(stall(1) <= stall(0) && stall(0) > 0.0);
    // The table has one column per run.
    let out = loci(&args[..args.len() - 1]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("order/drop-ishst-after-alloc"), "{text}");
    assert!(text.contains("barriers_dropped"), "{text}");
}

#[test]
fn gc_marker_lift_on_export_and_sites() {
    let m = preset("generic-2s.toml");
    let args = [
        "--machine",
        &m,
        "--workload",
        "capture-by-ref",
        "--iters",
        "3",
        "--pin",
        "spread",
        "--placement",
        "lift-on-export",
        "--gc-marker",
        "1us",
        "--json",
    ];
    let (bytes, v) = ok_json(&args);
    assert_eq!(bytes, ok_json(&args).0);
    // One 4 KiB block lifted to node 1: 135 ns + 4096 B / 10 GB/s.
    assert_eq!(v["lift"]["lifts"], 1);
    assert!((v["lift"]["copy_ns"].as_f64().unwrap() - 544.6).abs() < 1e-9);
    // The marker is thread 2 (after the trace's threads 0 and 1), on the
    // core spread pinning gives thread 2: core 1.
    assert_eq!(v["gc"]["thread"], 2);
    assert_eq!(v["gc"]["core"], 1);
    assert_eq!(v["gc"]["period_ns"], 1000.0);
    assert!(v["gc"]["cycles"].as_u64().unwrap() >= 1);
    let sites = v["sites"].as_array().unwrap();
    assert_eq!(sites[1]["site"], 1);
    // Thread 1's 3 x 65 accesses, thread 0's header write and the
    // marker's 64 reads per cycle all touch the block.
    let cycles = v["gc"]["cycles"].as_u64().unwrap();
    assert_eq!(sites[1]["accesses"].as_u64().unwrap(), 196 + 64 * cycles);
    // The table shows the marker and the site breakdown.
    let out = loci(&args[..args.len() - 1]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("(GC marker)") && text.contains("per allocation site"),
        "{text}"
    );
    assert!(out.stderr.is_empty(), "no progress bar on a pipe");
}

#[test]
fn bad_variant_gc_and_lift_inputs_are_refused_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("loci-sim-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let no_copy = dir.join("nocopy.toml");
    let text = std::fs::read_to_string(preset("generic-2s.toml")).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("copy_gbps"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&no_copy, text).unwrap();
    let nc = no_copy.display().to_string();
    let m = preset("generic-2s.toml");
    let w = ["--workload", "capture-by-ref", "--iters", "2"];
    for (extra, needle) in [
        (
            vec!["--machine", &m, "--barrier-variant", "drop:dmb-x"],
            "dmb-x",
        ),
        (vec!["--machine", &m, "--gc-marker", "0us"], "--gc-marker"),
        (vec!["--machine", &m, "--gc-marker", "soon"], "--gc-marker"),
        (
            vec!["--machine", &m, "--compare", "first-touch,fastest"],
            "fastest",
        ),
        (vec!["--machine", &m, "--compare", "drain"], "at least two"),
        (
            vec!["--machine", &nc, "--placement", "lift-on-export"],
            "dram.copy_gbps",
        ),
    ] {
        let mut args = extra.clone();
        args.extend_from_slice(&w);
        let out = loci(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_traces_and_machines_name_the_offset_key_and_file() {
    let dir = std::env::temp_dir().join(format!("loci-sim-damage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = preset("generic-2s.toml");
    // A trace of more than one block (64 KiB blocks), cut inside the second.
    let file = dir.join("pub.locitrace");
    let f = file.display().to_string();
    let gen = [
        "--workload",
        "publication",
        "--iters",
        "200",
        "--object-size",
        "512",
        "--emit-trace",
        &f,
    ];
    assert!(loci(&gen).status.success());
    let bytes = std::fs::read(&file).unwrap();
    let first_block = 12 + 12 + u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    assert!(bytes.len() > first_block + 100);
    let cut = dir.join("cut.locitrace");
    std::fs::write(&cut, &bytes[..first_block + 100]).unwrap();
    let out = loci(&["--machine", &m, &cut.display().to_string(), "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no report from a damaged trace");
    assert!(
        err.contains(&format!("byte offset {first_block}")) && err.contains("cut.locitrace"),
        "{err}"
    );
    // A flipped payload byte: a checksum error at the same block.
    let mut flipped = bytes.clone();
    flipped[first_block + 50] ^= 0x40;
    let bad = dir.join("flip.locitrace");
    std::fs::write(&bad, &flipped).unwrap();
    let out = loci(&["--machine", &m, &bad.display().to_string()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("byte offset {first_block}")) && err.contains("checksum"),
        "{err}"
    );
    // Machines: an unknown key, an impossible cache, a core on no node.
    let text = std::fs::read_to_string(&m).unwrap();
    for (name, edit, needles) in [
        (
            "key.toml",
            ("ghz = 2.5", "ghz = 2.5\nturbo = 3\n#"),
            vec!["turbo", "key.toml"],
        ),
        (
            "assoc.toml",
            ("size = 32768 ", "size = 32000 "),
            vec!["caches.l1d", "32000", "assoc.toml"],
        ),
        (
            "nodes.toml",
            ("nodes_per_socket = 1 ", "nodes_per_socket = 3 "),
            vec!["topology.nodes_per_socket", "nodes.toml"],
        ),
    ] {
        assert!(text.contains(edit.0), "{name}");
        let p = dir.join(name);
        std::fs::write(&p, text.replacen(edit.0, edit.1, 1)).unwrap();
        let out = loci(&["--machine", &p.display().to_string()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}");
        for n in needles {
            assert!(err.contains(n), "{name}: {n} missing in {err}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_output_does_not_depend_on_the_number_of_rayon_threads() {
    let m = preset("graviton2.toml");
    let args = [
        "sim",
        "--machine",
        &m,
        "--workload",
        "publication",
        "--iters",
        "50",
        "--object-size",
        "128",
        "--compare",
        "as-traced,drop-ishst-after-alloc,drain,order,no-gc,gc:1us",
        "--json",
    ];
    let run = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_loci"))
            .args(args)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = run("1");
    assert_eq!(one, run("3"));
    let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 8);
    assert_eq!(
        v["runs"][7]["label"],
        "gc:1000ns/order/drop-ishst-after-alloc"
    );
}

/// A small C program for the lackey import: a heap array written
/// sequentially (stores), read with a stride (loads) and incremented in
/// place (modifies).
const LACKEY_PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#define N (1 << 16)
int main(void) {
    volatile long *a = malloc(N * sizeof *a);
    for (long i = 0; i < N; i++) a[i] = i;
    long s = 0;
    for (int r = 0; r < 4; r++)
        for (long i = 0; i < N; i += 8) s += a[i];
    for (long i = 0; i < N; i += 16) a[i]++;
    printf("%ld\n", s + a[16]);
    return 0;
}
"#;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn lackey_trace_replays_on_a_machine_as_one_thread() {
    if !have("valgrind") || !have("cc") {
        eprintln!("NOTICE: skipping the lackey import test: valgrind or cc not found");
        return;
    }
    let dir = std::env::temp_dir().join(format!("loci-sim-lackey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe, log) = (dir.join("p.c"), dir.join("p"), dir.join("p.lackey"));
    std::fs::write(&src, LACKEY_PROGRAM).unwrap();
    let st = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "cc failed");
    let st = Command::new("valgrind")
        .args(["--tool=lackey", "--trace-mem=yes"])
        .arg(format!("--log-file={}", log.display()))
        .arg(&exe)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "lackey failed");
    // Lackey's own counts of data events, straight from the text.
    let text = std::fs::read_to_string(&log).unwrap();
    let count = |k: &str| text.lines().filter(|l| l.starts_with(k)).count() as u64;
    let (loads, stores, modifies) = (count(" L "), count(" S "), count(" M "));
    assert!(loads > 10_000 && stores > 60_000 && modifies > 1_000);
    let log = log.display().to_string();
    let xeon = preset("xeon-gold-6242-2s.toml");

    let (bytes, v) = ok_json(&["--machine", &xeon, "--import", "lackey", &log, "--json"]);
    let threads = v["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1, "one thread: {threads:?}");
    let t = &threads[0];
    assert_eq!(
        (t["thread"].as_u64(), t["core"].as_u64()),
        (Some(0), Some(0))
    );
    // A modify is a load and a store of the same bytes; fetches are not data.
    assert_eq!(t["loads"].as_u64(), Some(loads + modifies));
    assert_eq!(t["stores"].as_u64(), Some(stores + modifies));
    let n = |k: &str| v[k].as_u64().unwrap();
    assert!(n("accesses") >= loads + stores + 2 * modifies);
    assert!(n("l1_hits") > 0);
    // One thread: no sharing, and first-touch puts every page on its node.
    for k in [
        "transfers_same_die",
        "transfers_cross_die",
        "transfers_cross_socket",
        "invalidations",
        "upgrades",
        "dram_remote",
    ] {
        assert_eq!(n(k), 0, "{k}");
    }
    // The 512 KiB array is written first: at least one DRAM fetch per line.
    assert!(n("dram_local") >= (1 << 16) * 8 / 64, "{}", n("dram_local"));
    // Deterministic.
    let (again, _) = ok_json(&["--machine", &xeon, "--import", "lackey", &log, "--json"]);
    assert_eq!(bytes, again);

    // Pinned to a core of socket 1, the pages are first-touched there.
    let (_, v) = ok_json(&[
        "--machine",
        &xeon,
        "--import",
        "lackey",
        &log,
        "--pin",
        "16",
        "--json",
    ]);
    assert_eq!(v["threads"][0]["core"].as_u64(), Some(16));
    assert_eq!(v["dram_remote"].as_u64(), Some(0));
    assert!(v["dram_local"].as_u64().unwrap() >= (1 << 16) * 8 / 64);

    // Read into memory for a comparison, and from stdin.
    let (_, v) = ok_json(&[
        "--machine",
        &xeon,
        "--import",
        "lackey",
        &log,
        "--compare",
        "drain,order",
        "--json",
    ]);
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    let out = Command::new(env!("CARGO_BIN_EXE_loci"))
        .args([
            "sim",
            "--machine",
            &xeon,
            "--import",
            "lackey",
            "-",
            "--json",
        ])
        .stdin(std::fs::File::open(&log).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes);

    // A loci trace is not a lackey trace, and cachegrind reads lackey only.
    let out = loci(&["--machine", &xeon, "--import", "loci", &log]);
    assert!(!out.status.success());
    let out = loci(&[
        "--cache-model",
        "cachegrind",
        "--import",
        "loci",
        "--I1=32768,8,64",
        "--D1=32768,8,64",
        "--LL=8388608,16,64",
        &log,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lackey"));
    let _ = std::fs::remove_dir_all(&dir);
}
