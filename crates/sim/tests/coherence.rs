//! Directory MESI coherence: invariants under random accesses, analytic
//! costs, and determinism.

use loci_sim::coherence::{Coherence, State};
use loci_sim::machine::Machine;
use loci_trace::{read_all, Event, Writer};
use proptest::prelude::*;
use std::path::PathBuf;

fn preset(name: &str) -> Machine {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../presets")
        .join(name);
    Machine::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// 2 sockets x 2 dies x 2 cores, with caches of a few lines so that
/// evictions happen constantly.
fn tiny() -> Machine {
    Machine::from_toml(TINY, "tiny").unwrap_or_else(|e| panic!("{e}"))
}

/// The machine of [`tiny`].
const TINY: &str = r#"
name = "tiny"
ghz = 1.0
[topology]
sockets = 2
dies_per_socket = 2
cores_per_die = 2
nodes_per_socket = 1
[caches.l1d]
size = 128
assoc = 2
line = 64
hit_cycles = 1
[caches.l2]
size = 256
assoc = 2
line = 64
hit_cycles = 4
[caches.l3]
size = 512
assoc = 2
line = 64
hit_cycles = 10
shared = "die"
[transfer]
same_die_ns = 20.0
cross_die_ns = 60.0
cross_socket_ns = 150.0
[dram]
latency_ns = [[80.0, 130.0], [130.0, 80.0]]
"#;

proptest! {
    #[test]
    fn single_writer_multiple_readers_after_every_access(
        ops in prop::collection::vec((0u32..8, 0u64..24, any::<bool>()), 1..300)
    ) {
        let mut sim = Coherence::new(&tiny()).expect("sim");
        for (core, line, write) in ops {
            let addr = line * 64 + 8;
            sim.access(core, addr, 8, write).expect("access");
            if let Err(e) = sim.check_invariants() {
                return Err(TestCaseError::fail(e));
            }
            let mine = sim.state(core, addr);
            if write {
                prop_assert_eq!(mine, State::Modified);
                for other in (0..8).filter(|&c| c != core) {
                    prop_assert_eq!(sim.state(other, addr), State::Invalid);
                }
            } else {
                prop_assert_ne!(mine, State::Invalid);
            }
            let owners = (0..8)
                .filter(|&c| matches!(sim.state(c, addr), State::Modified | State::Exclusive))
                .count();
            let sharers = (0..8).filter(|&c| sim.state(c, addr) == State::Shared).count();
            prop_assert!(owners <= 1 && (owners == 0 || sharers == 0));
        }
    }
}

#[test]
fn ping_pong_across_sockets_costs_one_transfer_per_handoff() {
    let m = preset("generic-2s.toml");
    let (a, b) = (0u32, 16u32);
    assert_ne!(m.socket_of(a), m.socket_of(b));
    let mut sim = Coherence::new(&m).unwrap();
    let first = sim.access(a, 0x10000, 8, true).unwrap();
    assert_eq!(first, 85.0); // first touch: local DRAM
    const N: u64 = 1000;
    for i in 0..N {
        let core = if i % 2 == 0 { b } else { a };
        let cost = sim.access(core, 0x10000, 8, true).unwrap();
        assert_eq!(cost, 130.0, "handoff {i}");
    }
    let s = sim.stats();
    assert_eq!(s.transfers_cross_socket, N);
    assert_eq!(s.transfers_same_die + s.transfers_cross_die, 0);
    assert_eq!(s.invalidations, N);
    assert_eq!(s.latency_ns, 85.0 + N as f64 * 130.0);
    assert_eq!(s.dram_local, 1);
}

#[test]
fn same_die_and_cross_die_transfers_use_their_latencies() {
    let m = preset("epyc-7r13-2s.toml");
    let mut sim = Coherence::new(&m).unwrap();
    sim.access(0, 0x4000, 8, true).unwrap();
    assert_eq!(sim.access(1, 0x4000, 8, false).unwrap(), 23.0); // same CCX
    assert_eq!(sim.state(0, 0x4000), State::Shared);
    assert_eq!(sim.state(1, 0x4000), State::Shared);
    // Core 6 is on the next CCX: the nearest sharer is cross-die.
    assert_eq!(sim.access(6, 0x4000, 8, false).unwrap(), 107.0);
    // Upgrade by core 6: an L1 hit (4 cycles at 2.65 GHz) plus invalidating
    // cores 0 and 1, the farthest of which is cross-die.
    let up = sim.access(6, 0x4000, 8, true).unwrap();
    assert_eq!(up, 4.0 / 2.65 + 107.0);
    assert_eq!(sim.stats().upgrades, 1);
    assert_eq!(sim.stats().invalidations, 2);
}

#[test]
fn remote_node_touch_costs_remote_dram_latency() {
    let m = preset("generic-2s.toml");
    let mut sim = Coherence::new(&m).unwrap();
    // A page bound to node 1, first touched by core 0 on node 0.
    sim.bind(0x20_0000, 4096, 1).unwrap();
    assert_eq!(sim.access(0, 0x20_0000, 8, false).unwrap(), 135.0);
    // A page first touched on node 1 (first-touch places it there) ...
    assert_eq!(sim.access(16, 0x30_0000, 8, false).unwrap(), 85.0);
    // ... costs core 0 the remote latency for another line of that page.
    assert_eq!(sim.access(0, 0x30_0040, 8, false).unwrap(), 135.0);
    let s = sim.stats();
    assert_eq!((s.dram_local, s.dram_remote), (1, 2));
    assert!(sim.bind(0, 4096, 2).is_err());
    assert!(sim.access(32, 0, 8, false).is_err());
}

fn synthetic_trace() -> Vec<u8> {
    let mut w = Writer::new(Vec::new()).unwrap();
    let mut x: u64 = 42;
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let thread = ((x >> 60) % 8) as u32 * 12; // spread over both sockets
        let addr = 0x100_0000 + ((x >> 20) % 4096) * 16;
        w.write(&Event::Access {
            thread,
            addr,
            size: 8,
            write: (x >> 40) % 4 == 0,
            atomic: false,
            site: None,
        })
        .unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn same_trace_and_machine_give_byte_identical_json() {
    let bytes = synthetic_trace();
    let m = preset("epyc-7r13-2s.toml");
    let run = || {
        let mut sim = Coherence::new(&m).unwrap();
        for ev in read_all(&bytes).unwrap() {
            sim.on_event(&ev).unwrap();
        }
        sim.check_invariants().unwrap();
        serde_json::to_string(&sim.stats()).unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["accesses"], 20_000);
    assert!(v["transfers_cross_socket"].as_u64().unwrap() > 0);
    assert!(v["transfers_cross_die"].as_u64().unwrap() > 0);
}

/// A machine of 2 sockets x 100 cores: sharer sets reach beyond core 127.
fn wide() -> Machine {
    // `tiny`'s machine with 50 cores per die.
    let wide = TINY
        .replace("name = \"tiny\"", "name = \"wide\"")
        .replace("cores_per_die = 2", "cores_per_die = 50");
    Machine::from_toml(&wide, "wide").unwrap_or_else(|e| panic!("{e}"))
}

/// Cores above 127 share, are invalidated and keep the invariants like
/// the others.
#[test]
fn sharers_beyond_core_127() {
    let mut sim = Coherence::new(&wide()).expect("sim");
    let addr = 0x4000;
    for core in [3, 130, 199, 64, 150] {
        sim.access(core, addr, 8, false).expect("read");
        sim.check_invariants().expect("invariants");
    }
    for core in [3, 130, 199, 64, 150] {
        assert_eq!(sim.state(core, addr), State::Shared, "core {core}");
    }
    let before = sim.stats().invalidations;
    sim.access(131, addr, 8, true).expect("write");
    sim.check_invariants().expect("invariants");
    assert_eq!(sim.stats().invalidations - before, 5);
    assert_eq!(sim.state(131, addr), State::Modified);
    for core in [3, 130, 199, 64, 150] {
        assert_eq!(sim.state(core, addr), State::Invalid, "core {core}");
    }
    // A shared line written by one of its high sharers: an upgrade.
    sim.access(140, addr, 8, false).expect("read");
    sim.access(160, addr, 8, false).expect("read");
    sim.access(160, addr, 8, true).expect("upgrade");
    sim.check_invariants().expect("invariants");
    assert_eq!(sim.state(160, addr), State::Modified);
    assert_eq!(sim.state(140, addr), State::Invalid);
    assert_eq!(sim.state(131, addr), State::Invalid);
}
