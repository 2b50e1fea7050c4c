//! Replay speed in events per second, single-threaded: synthetic
//! workloads generated in memory, then replayed by [`OrderingSim`] in
//! trace order (what `loci sim --machine M TRACE` does after decoding),
//! and the loci-trace decoder alone on the same events.
//!
//! Run with `cargo bench -p loci-sim --bench replay` (add `-- RUNS` for
//! another number of timed runs than 5; set `LOCI_BENCH_ONLY=NAME` to time
//! one workload, or `decode` for the decoder only). Prints, per workload, the median,
//! minimum and maximum of the timed runs. This is a benchmark, not a test:
//! it asserts nothing about time.

use loci_sim::machine::Machine;
use loci_sim::ordering::OrderingSim;
use loci_sim::placement::Pinning;
use loci_sim::replay::InOrder;
use loci_sim::workload::{generate, Params, Workload};
use std::path::PathBuf;
use std::time::Instant;

fn preset(name: &str) -> Machine {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../presets")
        .join(name);
    Machine::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// CPU time of the calling thread in ns (Linux: /proc/thread-self/schedstat),
/// so that rates are meaningful on a machine busy with other work.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Median, min and max of `v` (sorted in place).
fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    let machine = preset("xeon-gold-6242-2s.toml");
    let cases = [
        (
            Workload::CaptureByRef,
            Params {
                threads: 4,
                iters: 50_000,
                object_size: 4096,
            },
        ),
        (
            Workload::ProducerConsumer,
            Params {
                threads: 4,
                iters: 1_000_000,
                object_size: 64,
            },
        ),
        (
            Workload::Publication,
            Params {
                threads: 4,
                iters: 20_000,
                object_size: 512,
            },
        ),
        (
            Workload::FalseSharing,
            Params {
                threads: 4,
                iters: 2_000_000,
                object_size: 64,
            },
        ),
    ];
    println!(
        "machine: {}; {runs} timed runs per line; single thread",
        machine.name
    );
    println!(
        "{:<20} {:>11} {:>14} {:>14} {:>14} {:>14}",
        "workload", "events", "median Mev/s", "min Mev/s", "max Mev/s", "CPU Mev/s"
    );
    println!("(Mev/s: million events per second of wall time; CPU: per second of the thread's CPU time, median)");
    let mut total_events = 0u64;
    let mut total_secs = 0.0;
    // `LOCI_BENCH_ONLY=capture-by-ref` (say) times one workload only.
    let only = std::env::var("LOCI_BENCH_ONLY").ok();
    for (w, p) in cases {
        if only.as_deref().is_some_and(|o| o != w.name()) {
            continue;
        }
        let events = generate(w, &p).unwrap();
        let mut rates = Vec::with_capacity(runs);
        let mut cpu_rates = Vec::with_capacity(runs);
        let mut check = None;
        for _ in 0..runs {
            let mut sim = OrderingSim::new(&machine, None)
                .unwrap()
                .with_pinning(Pinning::Spread);
            let mut order = InOrder::default();
            let (t, c) = (Instant::now(), cpu_ns());
            for e in &events {
                order.on_event(&mut sim, e).unwrap();
            }
            let secs = t.elapsed().as_secs_f64();
            if let (Some(a), Some(b)) = (c, cpu_ns()) {
                cpu_rates.push(events.len() as f64 / ((b - a) as f64 / 1e9) / 1e6);
            }
            let accesses = sim.report().coherence.accesses;
            // Every run replays the same thing.
            assert_eq!(*check.get_or_insert(accesses), accesses);
            rates.push(events.len() as f64 / secs / 1e6);
            total_events += events.len() as u64;
            total_secs += secs;
        }
        let (med, min, max) = stats(&mut rates);
        let cpu = if cpu_rates.is_empty() {
            "?".to_string()
        } else {
            format!("{:.1}", stats(&mut cpu_rates).0)
        };
        println!(
            "{:<20} {:>11} {med:>14.1} {min:>14.1} {max:>14.1} {cpu:>14}",
            w.name(),
            events.len()
        );
    }
    if total_events > 0 {
        println!(
            "{:<20} {:>11} {:>14.1}   (all runs: events / seconds)",
            "replay, overall",
            total_events,
            total_events as f64 / total_secs / 1e6
        );
    }
    // The decoder alone (skipped when LOCI_BENCH_ONLY names a workload):
    // encode the capture-by-ref events, time the streaming reader.
    if only.as_deref().is_some_and(|o| o != "decode") {
        return;
    }
    let (w, p) = cases[0];
    let events = generate(w, &p).unwrap();
    let mut wr = loci_trace::Writer::new(Vec::new()).unwrap();
    for e in &events {
        wr.write(e).unwrap();
    }
    let bytes = wr.finish().unwrap();
    let mut rates = Vec::with_capacity(runs);
    let mut cpu_rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_ns());
        let mut n = 0;
        for e in loci_trace::Reader::new(&bytes[..]).unwrap() {
            e.unwrap();
            n += 1;
        }
        let secs = t.elapsed().as_secs_f64();
        if let (Some(a), Some(b)) = (c, cpu_ns()) {
            cpu_rates.push(n as f64 / ((b - a) as f64 / 1e9) / 1e6);
        }
        assert_eq!(n, events.len());
        rates.push(n as f64 / secs / 1e6);
    }
    let (med, min, max) = stats(&mut rates);
    let cpu = if cpu_rates.is_empty() {
        "?".to_string()
    } else {
        format!("{:.1}", stats(&mut cpu_rates).0)
    };
    println!(
        "{:<20} {:>11} {med:>14.1} {min:>14.1} {max:>14.1} {cpu:>14}   ({} MB)",
        "decode (trace)",
        events.len(),
        bytes.len() / 1_000_000
    );
}
