//! Pinning and heap placement: analytic costs of capture-by-reference on
//! the generic 2-socket preset under each policy.

use loci_sim::coherence::Stats;
use loci_sim::machine::Machine;
use loci_sim::ordering::OrderingSim;
use loci_sim::placement::{main_consumers, Blocks, Pinning, Placement};
use loci_sim::workload::{generate, Params, Workload, HEAP};
use loci_trace::Event;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn generic() -> Machine {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../presets/generic-2s.toml");
    Machine::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn replay(ev: &[Event], pinning: Pinning, placement: Placement) -> Stats {
    let mut s = OrderingSim::new(&generic(), None)
        .unwrap()
        .with_pinning(pinning)
        .with_placement(placement, main_consumers(ev));
    for e in ev {
        s.on_event(e).unwrap();
    }
    let r = s.report();
    assert_eq!(r.placement, placement);
    r.coherence
}

/// Producer thread 0 on core 0 (node 0), consumer thread 1 on core 16
/// (node 1); one 4 KiB block (one page, 64 lines), 3 iterations.
fn capture() -> Vec<Event> {
    generate(
        Workload::CaptureByRef,
        &Params {
            threads: 2,
            iters: 3,
            object_size: 4096,
        },
    )
    .unwrap()
}

#[test]
fn consumer_placement_removes_the_consumers_remote_dram() {
    let ev = capture();
    assert_eq!(main_consumers(&ev), BTreeMap::from([(1, 1)]));
    // First-touch: the producer's header write (local DRAM, 85 ns) puts the
    // page on node 0; the consumer takes line 0 from core 0 across the
    // sockets (130 ns) and reads the other 63 lines from node 0's DRAM
    // (remote, 135 ns each); then everything hits in its L1.
    let ft = replay(&ev, Pinning::Spread, Placement::FirstTouch);
    assert_eq!((ft.dram_local, ft.dram_remote), (1, 63));
    assert_eq!(ft.transfers_cross_socket, 1);
    // Consumer: the page is on node 1. The header write is now remote for
    // the producer (135 ns); the consumer's 63 reads are local (85 ns).
    let co = replay(&ev, Pinning::Spread, Placement::Consumer);
    assert_eq!((co.dram_local, co.dram_remote), (63, 1));
    assert_eq!(co.transfers_cross_socket, 1);
    let saved = (85.0 + 63.0 * 135.0) - (135.0 + 63.0 * 85.0);
    assert!((ft.latency_ns - co.latency_ns - saved).abs() < 1e-6);
    assert!((saved - 3100.0).abs() < 1e-9);
    // The consumer's own time falls by 63 x 50 ns; the producer's rises by 50.
    let (f, c) = (&ft.per_core_latency_ns, &co.per_core_latency_ns);
    assert!((f[16] - c[16] - 3150.0).abs() < 1e-6);
    assert!((c[0] - f[0] - 50.0).abs() < 1e-6);
    // Allocating thread's node is node 0, like first-touch here.
    let an = replay(&ev, Pinning::Spread, Placement::AllocNode);
    assert_eq!(an, ft);
}

#[test]
fn with_both_threads_on_socket_0_consumer_is_first_touch() {
    let ev = capture();
    let ft = replay(&ev, Pinning::Compact, Placement::FirstTouch);
    assert_eq!((ft.dram_local, ft.dram_remote), (64, 0));
    assert_eq!(replay(&ev, Pinning::Compact, Placement::Consumer), ft);
}

#[test]
fn interleave_alternates_pages_between_nodes() {
    // An 8 KiB block: page HEAP/4096 (even) on node 0, the next on node 1.
    let ev = generate(
        Workload::CaptureByRef,
        &Params {
            threads: 2,
            iters: 1,
            object_size: 8192,
        },
    )
    .unwrap();
    assert_eq!((HEAP / 4096) % 2, 0);
    let il = replay(&ev, Pinning::Spread, Placement::Interleave);
    // Consumer on node 1: 63 remote reads on page 0, 64 local on page 1.
    assert_eq!((il.dram_local, il.dram_remote), (1 + 64, 63));
    let ft = replay(&ev, Pinning::Spread, Placement::FirstTouch);
    // First-touch: page 0 by the producer (node 0), page 1 by the consumer.
    assert_eq!((ft.dram_local, ft.dram_remote), (1 + 64, 63));
    let co = replay(&ev, Pinning::Spread, Placement::Consumer);
    assert_eq!((co.dram_local, co.dram_remote), (127, 1));
}

#[test]
fn pinning_maps_threads_to_cores() {
    let m = generic();
    let spread: Vec<u32> = (0..4)
        .map(|t| Pinning::Spread.core_of(&m, t).unwrap())
        .collect();
    assert_eq!(spread, vec![0, 16, 1, 17]);
    assert_eq!(Pinning::Spread.core_of(&m, 31).unwrap(), 31);
    assert!(Pinning::Spread.core_of(&m, 32).is_err());
    assert_eq!(Pinning::Compact.core_of(&m, 5).unwrap(), 5);
    assert!(Pinning::Compact.core_of(&m, 32).is_err());
    let l: Pinning = "3, 20".parse().unwrap();
    assert_eq!(l, Pinning::List(vec![3, 20]));
    assert_eq!(l.core_of(&m, 1).unwrap(), 20);
    assert!(l.core_of(&m, 2).is_err());
    assert!(Pinning::List(vec![40]).core_of(&m, 0).is_err());
    assert_eq!("spread".parse::<Pinning>().unwrap(), Pinning::Spread);
    assert!("wide".parse::<Pinning>().is_err());
    for (p, name) in Placement::ALL {
        assert_eq!(name.parse::<Placement>().unwrap(), p);
        assert_eq!(p.name(), name);
    }
    assert!("nearest".parse::<Placement>().is_err());
}

#[test]
fn consumers_count_accesses_per_site_with_frees() {
    let acc = |thread, addr| Event::Access {
        thread,
        addr,
        size: 8,
        write: false,
        atomic: false,
        site: None,
    };
    let ev = vec![
        Event::Alloc {
            thread: 0,
            addr: 0x1000,
            size: 64,
            site: 7,
        },
        acc(2, 0x1000),
        acc(2, 0x1038),
        acc(1, 0x1008),
        acc(1, 0x1040), // past the block
        Event::Free {
            thread: 0,
            addr: 0x1000,
            size: 64,
            site: 8,
        },
        acc(1, 0x1000), // freed
        acc(1, 0x1000),
        Event::Alloc {
            thread: 0,
            addr: 0x2000,
            size: 16,
            site: 9,
        },
        acc(4, 0x2000),
        acc(3, 0x2008),
    ];
    // Site 7: thread 2 twice, thread 1 once. Site 9: a tie, lowest wins.
    assert_eq!(main_consumers(&ev), BTreeMap::from([(7, 2), (9, 3)]));
    let mut b = Blocks::default();
    b.on_event(&ev[0]);
    assert_eq!(b.site_of(0x103f), Some(7));
    assert_eq!(b.site_of(0x1040), None);
    assert_eq!(b.site_of(0xfff), None);
}
