//! Synthetic workloads: the generated traces have the intended sharing
//! pattern, round-trip through the trace format, are deterministic, and
//! cost what the coherence model says.

use loci_sim::machine::Machine;
use loci_sim::ordering::OrderingSim;
use loci_sim::workload::{generate, Params, Workload, GLOBALS, HEAP, LINE};
use loci_trace::{read_all, Event, FenceKind, Writer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn preset(name: &str) -> Machine {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../presets")
        .join(name);
    Machine::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn params(threads: u32, iters: u32, object_size: u64) -> Params {
    Params {
        threads,
        iters,
        object_size,
    }
}

/// (thread, addr, size, write) of every access.
fn accesses(ev: &[Event]) -> Vec<(u32, u64, u32, bool)> {
    ev.iter()
        .filter_map(|e| match *e {
            Event::Access {
                thread,
                addr,
                size,
                write,
                ..
            } => Some((thread, addr, size, write)),
            _ => None,
        })
        .collect()
}

/// Every Acquire of an object comes after a Release of it; every thread
/// other than 0 starts after its spawn and exits once.
fn check_sync(ev: &[Event], threads: u32) {
    let mut released = BTreeSet::new();
    let mut started = BTreeSet::new();
    let mut exited = BTreeSet::new();
    for e in ev {
        match *e {
            Event::Release { object, .. } => {
                released.insert(object);
            }
            Event::Acquire { object, thread } => {
                assert!(
                    released.contains(&object),
                    "acquire of {object} before release"
                );
                assert!(started.contains(&thread));
            }
            Event::ThreadStart { thread, .. } => assert!(started.insert(thread)),
            Event::ThreadExit { thread } => assert!(exited.insert(thread)),
            _ => assert!(
                started.contains(&e.thread()),
                "{e:?} before its thread starts"
            ),
        }
    }
    assert_eq!(started.len() as u32, threads);
    assert_eq!(exited.len() as u32, threads);
}

#[test]
fn false_sharing_writes_distinct_bytes_of_one_line() {
    let ev = generate(Workload::FalseSharing, &params(4, 50, 4096)).unwrap();
    check_sync(&ev, 4);
    let acc = accesses(&ev);
    assert_eq!(acc.len(), 200);
    let mut ranges: BTreeMap<u32, BTreeSet<(u64, u32)>> = BTreeMap::new();
    for &(t, addr, size, write) in &acc {
        assert!(write);
        assert_eq!(addr / LINE, GLOBALS / LINE, "all in one line");
        assert_eq!(addr / LINE, (addr + size as u64 - 1) / LINE);
        ranges.entry(t).or_default().insert((addr, size));
    }
    assert_eq!(ranges.len(), 4);
    let spans: Vec<(u64, u32)> = ranges
        .values()
        .map(|r| {
            assert_eq!(r.len(), 1, "one counter per thread");
            *r.iter().next().unwrap()
        })
        .collect();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            assert!(
                a.0 + a.1 as u64 <= b.0 || b.0 + b.1 as u64 <= a.0,
                "bytes overlap"
            );
        }
    }
}

#[test]
fn false_sharing_ping_pongs_the_line() {
    // 2 threads on cores 0 and 1 (one die), alternating: the first write
    // misses to local DRAM, every later one takes the line from the other
    // core: 2*100 - 1 same-die transfers and invalidations.
    let ev = generate(Workload::FalseSharing, &params(2, 100, 64)).unwrap();
    let mut s = OrderingSim::new(&preset("generic-2s.toml"), None).unwrap();
    for e in &ev {
        s.on_event(e).unwrap();
    }
    let c = s.report().coherence;
    assert_eq!(c.accesses, 200);
    assert_eq!(c.dram_local, 1);
    assert_eq!(c.transfers_same_die, 199);
    assert_eq!(c.invalidations, 199);
    assert!((c.latency_ns - (85.0 + 199.0 * 50.0)).abs() < 1e-6);
}

#[test]
fn capture_by_ref_block_is_allocated_by_one_thread_used_by_others() {
    let p = params(3, 10, 1024);
    let ev = generate(Workload::CaptureByRef, &p).unwrap();
    check_sync(&ev, 3);
    let allocs: Vec<_> = ev
        .iter()
        .filter_map(|e| match *e {
            Event::Alloc {
                thread, addr, size, ..
            } => Some((thread, addr, size)),
            _ => None,
        })
        .collect();
    assert_eq!(allocs, vec![(0, HEAP, 1024)]);
    let mut per_thread: BTreeMap<u32, u64> = BTreeMap::new();
    let mut writers: BTreeMap<u64, BTreeSet<u32>> = BTreeMap::new();
    for (t, addr, _, write) in accesses(&ev) {
        assert!((HEAP..HEAP + 1024).contains(&addr));
        *per_thread.entry(t).or_default() += 1;
        if write && t != 0 {
            writers.entry(addr / LINE).or_default().insert(t);
        }
    }
    // Thread 0 writes the header once; each user 10 x (16 + 1).
    assert_eq!(per_thread[&0], 1);
    assert_eq!(per_thread[&1], 170);
    assert_eq!(per_thread[&2], 170);
    // Users write disjoint lines (no false sharing between them).
    assert!(writers.values().all(|w| w.len() == 1));
    assert_eq!(writers.len(), 2);
}

#[test]
fn producer_consumer_pairs_release_before_acquire() {
    let ev = generate(Workload::ProducerConsumer, &params(4, 20, 64)).unwrap();
    check_sync(&ev, 4);
    // Each slot is written only by a producer (even thread) and read only
    // by its consumer (the next odd thread).
    let mut users: BTreeMap<u64, BTreeSet<(u32, bool)>> = BTreeMap::new();
    for (t, addr, _, write) in accesses(&ev) {
        assert_eq!(write, t % 2 == 0);
        users.entry(addr / LINE).or_default().insert((t, write));
    }
    assert_eq!(users.len(), 16, "2 rings of 8 slots");
    for u in users.values() {
        let threads: Vec<u32> = u.iter().map(|&(t, _)| t).collect();
        assert_eq!(threads.len(), 2);
        assert_eq!(threads[0] + 1, threads[1]);
    }
    assert!(generate(Workload::ProducerConsumer, &params(3, 1, 64)).is_err());
}

#[test]
fn publication_fences_initialisation_before_the_pointer() {
    let ev = generate(Workload::Publication, &params(2, 5, 128)).unwrap();
    check_sync(&ev, 2);
    let mut pending_init = 0;
    let mut published = 0;
    for e in &ev {
        match *e {
            Event::Access {
                thread: 0,
                addr,
                write: true,
                ..
            } if (HEAP..GLOBALS).contains(&addr) => pending_init += 1,
            Event::Fence {
                thread: 0,
                kind: FenceKind::DmbIshSt,
            } => {
                assert_eq!(pending_init, 2, "two lines initialised before the barrier");
                pending_init = 0;
            }
            Event::Access {
                thread: 0,
                addr: GLOBALS,
                write: true,
                ..
            } => {
                assert_eq!(pending_init, 0, "pointer stored before the barrier");
                published += 1;
            }
            _ => {}
        }
    }
    assert_eq!(published, 5);
}

#[test]
fn workloads_are_deterministic_and_round_trip() {
    for (w, name) in Workload::ALL {
        assert_eq!(name.parse::<Workload>().unwrap(), w);
        assert_eq!(w.name(), name);
        let p = params(2, 7, 256);
        let a = generate(w, &p).unwrap();
        assert_eq!(a, generate(w, &p).unwrap());
        let mut wr = Writer::new(Vec::new()).unwrap();
        for e in &a {
            wr.write(e).unwrap();
        }
        assert_eq!(read_all(&wr.finish().unwrap()).unwrap(), a, "{name}");
    }
    assert!("nope".parse::<Workload>().is_err());
}

#[test]
fn bad_parameters_are_refused() {
    for w in Workload::ALL.map(|(w, _)| w) {
        assert!(generate(w, &params(1, 1, 64)).is_err());
        assert!(generate(w, &params(2, 1, 100)).is_err());
        assert!(generate(w, &params(2, u32::MAX, 1 << 20)).is_err());
    }
    assert!(generate(Workload::FalseSharing, &params(9, 1, 64)).is_err());
    assert!(generate(Workload::CaptureByRef, &params(4, 1, 128)).is_err());
}
