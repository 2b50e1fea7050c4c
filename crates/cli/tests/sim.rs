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
