//! Store buffers and barrier costs: analytic cases on the generic 2-socket
//! preset, policy differences, presets, TOML checks and determinism.

use loci_sim::machine::Machine;
use loci_sim::ordering::{BarrierPolicy, OrderingCosts, OrderingSim, ThreadStats};
use loci_trace::{Event, FenceKind};
use std::path::PathBuf;

fn preset(name: &str) -> Machine {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../presets")
        .join(name);
    Machine::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// The generic 2-socket preset (2.5 GHz, local DRAM 85 ns, DMB ISH 25
/// cycles) with a store buffer of `depth` entries.
fn sim(depth: u32, policy: BarrierPolicy) -> OrderingSim {
    let m = preset("generic-2s.toml");
    let mut costs = m.ordering.expect("generic-2s has an [ordering] section");
    assert_eq!(costs.fence_cycles.dmb_ish, 25);
    assert_eq!(costs.fence_cycles.dsb, 60);
    costs.store_buffer = depth;
    costs.barrier = policy;
    OrderingSim::with_costs(&m, costs).unwrap()
}

fn store(thread: u32, addr: u64) -> Event {
    Event::Access {
        thread,
        addr,
        size: 8,
        write: true,
        atomic: false,
        site: None,
    }
}

/// `n` stores by thread 0 to distinct cold lines (each a local DRAM miss,
/// 85 ns), then `fence`.
fn run(depth: u32, policy: BarrierPolicy, n: u64, fence: Event) -> ThreadStats {
    let mut s = sim(depth, policy);
    for i in 0..n {
        s.on_event(&store(0, 0x10_0000 + i * 64)).unwrap();
    }
    s.on_event(&fence).unwrap();
    let r = s.report();
    assert_eq!(r.coherence.dram_local, n);
    r.threads[0].clone()
}

fn fence(kind: FenceKind) -> Event {
    Event::Fence { thread: 0, kind }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn drain_dmb_ish_waits_for_buffered_stores() {
    // 3 stores drain one after another: done at 85, 170, 255 ns. The DMB
    // ISH at clock 0 waits 255 ns (637.5 cycles), then costs 25 cycles.
    let t = run(8, BarrierPolicy::Drain, 3, fence(FenceKind::DmbIsh));
    assert!(close(t.barrier_stall_ns, 255.0), "{t:?}");
    assert!(close(t.barrier_stall_cycles, 637.5), "{t:?}");
    assert!(close(t.barrier_base_ns, 10.0), "{t:?}");
    assert!(close(t.clock_ns, 265.0), "{t:?}");
    assert_eq!(t.store_buffer_full_stall_ns, 0.0);
    assert_eq!((t.stores, t.barriers), (3, 1));
}

#[test]
fn order_dmb_ish_does_not_stall_when_buffer_not_full() {
    let t = run(8, BarrierPolicy::Order, 3, fence(FenceKind::DmbIsh));
    assert_eq!(t.barrier_stall_ns, 0.0);
    assert!(close(t.clock_ns, 10.0), "{t:?}");
}

#[test]
fn full_buffer_stalls_under_both_policies() {
    // Depth 4, 6 stores: completions 85, 170, 255, 340; store 5 waits for
    // the first (85 ns), store 6 for the second (170): 170 ns of full
    // stall. Stores 5 and 6 complete at 425 and 510.
    let d = run(4, BarrierPolicy::Drain, 6, fence(FenceKind::DmbIsh));
    assert!(close(d.store_buffer_full_stall_ns, 170.0), "{d:?}");
    assert!(close(d.barrier_stall_ns, 340.0), "{d:?}");
    assert!(close(d.clock_ns, 520.0), "{d:?}");
    let o = run(4, BarrierPolicy::Order, 6, fence(FenceKind::DmbIsh));
    assert!(close(o.store_buffer_full_stall_ns, 170.0), "{o:?}");
    assert_eq!(o.barrier_stall_ns, 0.0);
    assert!(close(o.clock_ns, 180.0), "{o:?}");
}

#[test]
fn dsb_drains_under_order_too() {
    // 2 stores done at 85 and 170; DSB waits 170 ns then costs 60 cycles.
    for p in [BarrierPolicy::Drain, BarrierPolicy::Order] {
        let t = run(8, p, 2, fence(FenceKind::Dsb));
        assert!(close(t.barrier_stall_ns, 170.0), "{p}: {t:?}");
        assert!(close(t.clock_ns, 170.0 + 24.0), "{p}: {t:?}");
    }
}

#[test]
fn load_barriers_and_acquire_never_wait() {
    for ev in [
        fence(FenceKind::DmbIshLd),
        fence(FenceKind::Lfence),
        Event::Acquire {
            thread: 0,
            object: 1,
        },
    ] {
        let t = run(8, BarrierPolicy::Drain, 3, ev);
        assert_eq!(t.barrier_stall_ns, 0.0, "{ev:?}");
    }
}

#[test]
fn release_and_store_barriers_drain_under_drain_only() {
    for ev in [
        fence(FenceKind::DmbIshSt),
        fence(FenceKind::Mfence),
        fence(FenceKind::LockedRmw),
        Event::Release {
            thread: 0,
            object: 1,
        },
    ] {
        let d = run(8, BarrierPolicy::Drain, 2, ev);
        assert!(close(d.barrier_stall_ns, 170.0), "{ev:?}: {d:?}");
        let o = run(8, BarrierPolicy::Order, 2, ev);
        assert_eq!(o.barrier_stall_ns, 0.0, "{ev:?}");
    }
}

#[test]
fn stores_that_completed_are_gone_before_the_barrier() {
    // A store (done at 85), then a load of another cold line (85 ns, clock
    // 85): the buffer is empty by then and the barrier does not wait.
    let mut s = sim(8, BarrierPolicy::Drain);
    s.on_event(&store(0, 0x10_0000)).unwrap();
    s.access(0, 0x20_0000, 8, false).unwrap();
    s.on_event(&fence(FenceKind::DmbIsh)).unwrap();
    let t = &s.report().threads[0];
    assert_eq!(t.barrier_stall_ns, 0.0, "{t:?}");
    assert!(close(t.clock_ns, 95.0), "{t:?}");
}

#[test]
fn without_store_buffer_stores_cost_the_core() {
    let t = run(0, BarrierPolicy::Drain, 3, fence(FenceKind::DmbIsh));
    assert_eq!(t.barrier_stall_ns, 0.0);
    assert!(close(t.clock_ns, 3.0 * 85.0 + 10.0), "{t:?}");
    let m = preset("generic-2s.toml");
    let mut bare = m.clone();
    bare.ordering = None;
    let s = OrderingSim::new(&bare, None).unwrap();
    assert_eq!(*s.costs(), OrderingCosts::NONE);
    let s = OrderingSim::new(&m, Some(BarrierPolicy::Order)).unwrap();
    assert_eq!(s.costs().barrier, BarrierPolicy::Order);
    assert_eq!(s.costs().store_buffer, 32);
}

#[test]
fn threads_have_separate_buffers_and_clocks() {
    // Thread 1 (core 1, same socket) stores to 2 cold lines; thread 0's
    // barrier does not wait for them.
    let mut s = sim(8, BarrierPolicy::Drain);
    s.on_event(&store(1, 0x10_0000)).unwrap();
    s.on_event(&store(1, 0x10_0040)).unwrap();
    s.on_event(&fence(FenceKind::DmbIsh)).unwrap();
    s.on_event(&Event::Fence {
        thread: 1,
        kind: FenceKind::DmbIsh,
    })
    .unwrap();
    let r = s.report();
    assert_eq!(r.threads.len(), 2);
    assert_eq!((r.threads[0].thread, r.threads[1].thread), (0, 1));
    assert_eq!(r.threads[0].barrier_stall_ns, 0.0);
    assert!(close(r.threads[1].barrier_stall_ns, 170.0));
}

#[test]
fn every_preset_has_ordering_costs() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../presets");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 6);
    for p in names {
        let m = Machine::load(&p).unwrap_or_else(|e| panic!("{e}"));
        let o = m
            .ordering
            .unwrap_or_else(|| panic!("{} lacks [ordering]", p.display()));
        assert!(o.store_buffer > 0, "{}", p.display());
    }
}

#[test]
fn ordering_section_is_checked() {
    let base = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../presets/generic-2s.toml"),
    )
    .unwrap();
    let bad_key = base.replace("store_buffer = 32", "store_buffer = 32\nwat = 1");
    let e = Machine::from_toml(&bad_key, "x.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("wat"), "{e}");
    let bad_policy = base.replace("barrier = \"drain\"", "barrier = \"never\"");
    assert!(Machine::from_toml(&bad_policy, "x.toml").is_err());
    let huge = base.replace("store_buffer = 32", "store_buffer = 100000");
    let e = Machine::from_toml(&huge, "x.toml").unwrap_err().to_string();
    assert!(e.contains("store_buffer"), "{e}");
    assert_eq!(
        "order".parse::<BarrierPolicy>().unwrap(),
        BarrierPolicy::Order
    );
    assert!("fast".parse::<BarrierPolicy>().is_err());
}

#[test]
fn replay_is_deterministic() {
    let events: Vec<Event> = (0..2000u64)
        .map(|i| match i % 7 {
            0 => Event::Fence {
                thread: (i % 3) as u32,
                kind: FenceKind::ALL[(i % 9) as usize],
            },
            1 => Event::Release {
                thread: (i % 3) as u32,
                object: i % 5,
            },
            _ => Event::Access {
                thread: (i % 3) as u32,
                addr: (i * 2654435761) % (1 << 16),
                size: 8,
                write: i % 2 == 0,
                atomic: false,
                site: None,
            },
        })
        .collect();
    let once = || {
        let mut s = OrderingSim::new(&preset("epyc-7r13-2s.toml"), None).unwrap();
        for e in &events {
            s.on_event(e).unwrap();
        }
        serde_json::to_string(&s.report()).unwrap()
    };
    let a = once();
    assert_eq!(a, once());
    assert!(a.contains("barrier_stall_ns"));
}
