//! Multi-threaded replay: clocks follow acquire/release edges, the timed
//! schedule never passes an acquire before its release and interleaves by
//! simulated time, and is deterministic.

use loci_sim::machine::Machine;
use loci_sim::ordering::OrderingSim;
use loci_sim::replay::{replay_timed, InOrder};
use loci_sim::workload::{generate, Params, Workload};
use loci_trace::Event;
use std::collections::HashMap;
use std::path::PathBuf;

fn sim() -> OrderingSim {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../presets/generic-2s.toml");
    OrderingSim::new(&Machine::load(&p).unwrap(), None).unwrap()
}

fn acc(thread: u32, addr: u64, write: bool) -> Event {
    Event::Access {
        thread,
        addr,
        size: 8,
        write,
        atomic: false,
        site: None,
    }
}

/// Thread 0 stores A (cold: drains in 85 ns) and releases O: under drain
/// the STLR waits 85 ns and costs 2 cycles (0.8 ns), so O is released at
/// 85.8 ns. Thread 1 acquires O at clock 0: it waits 85.8 ns, pays LDAR's
/// 0.8 ns, then loads A from core 0 (same die, 50 ns): 136.6 ns.
fn handoff() -> Vec<Event> {
    vec![
        acc(0, 0x1000, true),
        Event::Release {
            thread: 0,
            object: 9,
        },
        Event::Acquire {
            thread: 1,
            object: 9,
        },
        acc(1, 0x1000, false),
    ]
}

#[test]
fn acquire_waits_for_release_in_both_schedules() {
    let check = |s: &OrderingSim| {
        let r = s.report();
        let t1 = &r.threads[1];
        assert!((t1.sync_wait_ns - 85.8).abs() < 1e-9, "{t1:?}");
        assert!((t1.clock_ns - 136.6).abs() < 1e-9, "{t1:?}");
        assert!((r.threads[0].clock_ns - 85.8).abs() < 1e-9);
    };
    let mut a = sim();
    let mut in_order = InOrder::default();
    for e in &handoff() {
        in_order.on_event(&mut a, e).unwrap();
    }
    check(&a);
    let mut b = sim();
    assert_eq!(replay_timed(&mut b, &handoff()).unwrap(), vec![0, 1, 2, 3]);
    check(&b);
}

#[test]
fn timed_replay_interleaves_by_clock() {
    // In the trace, thread 0 loads 10 cold lines (850 ns) and then X, and
    // only then thread 1 stores X. Timed, thread 1 (clock 0) stores X
    // first: it pays the DRAM miss (85 ns) and thread 0 takes X from it
    // (50 ns), the other way round from trace order.
    let mut ev: Vec<Event> = (0..10).map(|i| acc(0, 0x10_0000 + i * 64, false)).collect();
    ev.push(acc(0, 0x20_0000, false));
    ev.push(acc(1, 0x20_0000, true));
    let mut a = sim();
    for e in &ev {
        a.on_event(e).unwrap();
    }
    let ta = a.report().coherence.per_core_latency_ns;
    assert_eq!((ta[0], ta[1]), (11.0 * 85.0, 50.0));
    let mut b = sim();
    let order = replay_timed(&mut b, &ev).unwrap();
    assert_eq!(order[..2], [0, 11]);
    let tb = b.report().coherence.per_core_latency_ns;
    assert_eq!((tb[0], tb[1]), (10.0 * 85.0 + 50.0, 85.0));
}

#[test]
fn timed_replay_respects_every_sync_edge_and_is_deterministic() {
    for w in [
        Workload::ProducerConsumer,
        Workload::Publication,
        Workload::CaptureByRef,
    ] {
        let ev = generate(
            w,
            &Params {
                threads: 4,
                iters: 50,
                object_size: 256,
            },
        )
        .unwrap();
        let mut s = sim();
        let order = replay_timed(&mut s, &ev).unwrap();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..ev.len()).collect::<Vec<_>>(),
            "every event once"
        );
        // Position of each event in the schedule.
        let mut rank = vec![0; ev.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let mut last_release: HashMap<u64, usize> = HashMap::new();
        let mut per_thread_last: HashMap<u32, usize> = HashMap::new();
        for (i, e) in ev.iter().enumerate() {
            // Program order per thread is kept.
            if let Some(&j) = per_thread_last.get(&e.thread()) {
                assert!(rank[j] < rank[i]);
            }
            per_thread_last.insert(e.thread(), i);
            match *e {
                Event::Release { object, .. } => {
                    last_release.insert(object, i);
                }
                Event::Acquire { object, .. } => {
                    let j = last_release[&object];
                    assert!(rank[j] < rank[i], "{w:?}: acquire {i} before release {j}");
                }
                _ => {}
            }
        }
        let json = serde_json::to_string(&s.report()).unwrap();
        let mut again = sim();
        assert_eq!(replay_timed(&mut again, &ev).unwrap(), order);
        assert_eq!(serde_json::to_string(&again.report()).unwrap(), json);
    }
}

#[test]
fn thread_start_follows_its_parent() {
    let ev = vec![
        acc(0, 0x1000, false),
        acc(0, 0x2000, false),
        Event::ThreadStart {
            thread: 1,
            parent: Some(0),
        },
        acc(1, 0x3000, false),
    ];
    let mut s = sim();
    replay_timed(&mut s, &ev).unwrap();
    let r = s.report();
    assert!((r.threads[1].sync_wait_ns - 170.0).abs() < 1e-9);
    assert!((r.threads[1].clock_ns - 255.0).abs() < 1e-9);
}

/// Every sync object id moves clocks alike, the largest one included.
#[test]
fn in_order_edges_hold_for_any_object_id() {
    let replay = |object: u64| {
        let events: Vec<Event> = handoff()
            .into_iter()
            .map(|e| match e {
                Event::Release { thread, .. } => Event::Release { thread, object },
                Event::Acquire { thread, .. } => Event::Acquire { thread, object },
                e => e,
            })
            .collect();
        let mut s = sim();
        let mut order = InOrder::default();
        for e in &events {
            order.on_event(&mut s, e).unwrap();
        }
        s.report()
    };
    let r = replay(9);
    assert!(r.threads[1].sync_wait_ns > 0.0);
    for object in [0, u64::MAX - 1, u64::MAX] {
        assert_eq!(replay(object), r, "object {object}");
    }
}
