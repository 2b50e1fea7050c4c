//! The handoff demonstration on a simulated 2-socket machine:
//! `examples/alloc/handoff_sim.c` (the producer allocates each 64 KiB
//! message and writes its header, the consumer fills the body and reads all
//! messages three times, 32 MiB in all) is built with `loci cc`, traced with
//! `loci profile --trace` while running on loci-alloc
//! (`LD_PRELOAD=libloci_alloc.so`), and the trace is replayed by `loci sim`
//! on the 2-socket Xeon Gold 6242 preset, producer on socket 0 and consumer
//! on socket 1 (`--pin spread`), with the placement policies that model
//! the two ways of allocating: `alloc-node` (memory on the allocating
//! thread's node: allocated *by* the producer, whose allocator writes the
//! fresh block first) and `consumer` (on the consumer's node: allocated
//! *for* it), plus `first-touch` (an allocator that writes nothing into
//! the block, like loci-alloc's consumer pool: the producer's header write
//! places the first OS page of each message, the consumer's fill the rest).
//!
//! Ignored by default: it needs the `loci` executable and its runtime
//! library next to this test's target directory, built with
//!
//!     cargo build --release -p loci -p loci-rt
//!     cargo test --release -p loci-alloc --test sim_handoff -- --ignored
//!
//! The trace's accesses are the same on every run (messages are handed
//! over in lock step); only the number of condition-variable waits and the
//! addresses vary, so the test checks ratios with margins around what the
//! simulation gives (consumer placement ~0.61 of alloc-node's simulated
//! time, under 0.05 % of its remote DRAM accesses).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The release directory of this test's target directory (`target/release`).
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn need(p: PathBuf) -> PathBuf {
    assert!(
        p.exists(),
        "{} not found: build it first with `cargo build --release -p loci -p loci-rt`",
        p.display()
    );
    p
}

/// One metric row of `loci sim --compare`'s table: the value per run.
fn row(table: &str, name: &str) -> Vec<f64> {
    let line = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{table}"));
    line.split_whitespace()
        .skip(1)
        .filter(|w| !w.starts_with('('))
        .map(|w| w.parse().unwrap())
        .collect()
}

#[test]
#[ignore = "needs `cargo build --release -p loci -p loci-rt`; run with --ignored"]
fn consumer_placement_on_two_sockets() {
    let rel = release_dir();
    let loci = need(rel.join("loci"));
    let rt = need(rel.join("libloci_rt.a"));
    let lib = need(rel.join("libloci_alloc.so"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("loci-alloc-sim-handoff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("handoff_sim");
    let trace = dir.join("handoff.locitrace");

    let out = Command::new(&loci)
        .args(["cc", "-O1", "-g", "-pthread", "-o"])
        .arg(&exe)
        .arg(root.join("examples/alloc/handoff_sim.c"))
        .env("LOCI_RT_LIB", &rt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "loci cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new(&loci)
        .args(["profile", "--no-races", "-o"])
        .arg(dir.join("profile.json"))
        .arg("--trace")
        .arg(&trace)
        .arg("--")
        .arg(&exe)
        .env("LD_PRELOAD", &lib)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "loci profile failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The program ran to the end on loci-alloc, and the profile sees the
    // messages as handoff objects of make_msg.
    assert!(
        stdout.contains("msgs=512 size=65536 passes=3 checksum=99779328"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("make_msg") && l.contains(" 512 ") && l.contains("handoff")),
        "{stdout}"
    );

    let out = Command::new(&loci)
        .args(["sim", "--machine"])
        .arg(root.join("presets/xeon-gold-6242-2s.toml"))
        .args([
            "--pin",
            "spread",
            "--compare",
            "alloc-node,first-touch,consumer",
        ])
        .arg(&trace)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "loci sim failed: {table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let time = row(&table, "max_thread_clock_ns");
    let remote = row(&table, "dram_remote");
    let local = row(&table, "dram_local");
    let (by_producer, first_touch, for_consumer) = (0, 1, 2);
    // Allocated by the producer: nearly every DRAM access of the consumer
    // is remote (each of the 2 M line fills and reads).
    assert!(remote[by_producer] > 2_000_000.0, "{table}");
    assert!(local[by_producer] < 0.01 * remote[by_producer], "{table}");
    // For the consumer: nearly all local, and the run ~40 % shorter.
    assert!(
        remote[for_consumer] < 0.001 * remote[by_producer],
        "{table}"
    );
    let ratio = time[for_consumer] / time[by_producer];
    assert!(
        (0.55..0.67).contains(&ratio),
        "consumer/alloc-node time {ratio}\n{table}"
    );
    // First touch: the producer's header write places 1 page in 16 on its
    // node (remote for the consumer), the consumer's fill the other 15.
    let share = remote[first_touch] / remote[by_producer];
    assert!(
        (0.04..0.09).contains(&share),
        "first-touch remote share {share}\n{table}"
    );
    assert!(time[for_consumer] < time[first_touch] && time[first_touch] < time[by_producer]);
    eprintln!("{table}");
    let _ = std::fs::remove_dir_all(&dir);
}
