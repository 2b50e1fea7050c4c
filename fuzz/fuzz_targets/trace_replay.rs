//! The events of any byte string read as a loci trace (what survives the
//! reader) replayed by the simulator on a small 2-socket machine, under
//! lift-on-export placement, a barrier variant and a GC marker: errors are
//! fine (a thread with no core, say), panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loci_sim::machine::Machine;
use loci_sim::ordering::{GcMarker, OrderingSim};
use loci_sim::placement::{Pinning, Placement};
use loci_sim::replay::InOrder;

const MACHINE: &str = r#"
name = "fuzz"
ghz = 2.0
[topology]
sockets = 2
dies_per_socket = 2
cores_per_die = 2
nodes_per_socket = 1
[caches.l1d]
size = 256
assoc = 2
line = 64
hit_cycles = 4
[caches.l2]
size = 512
assoc = 2
line = 64
hit_cycles = 12
[caches.l3]
size = 2048
assoc = 4
line = 64
hit_cycles = 40
shared = "socket"
[transfer]
same_die_ns = 20.0
cross_die_ns = 60.0
cross_socket_ns = 130.0
[dram]
latency_ns = [[80.0, 130.0], [130.0, 80.0]]
copy_gbps = 10.0
[ordering]
store_buffer = 4
barrier = "drain"
[ordering.fence_cycles]
dmb_ish = 25
dmb_ishst = 15
dmb_ishld = 10
dmb_sy = 40
dsb = 60
mfence = 25
sfence = 15
lfence = 10
locked_rmw = 25
ldar = 2
stlr = 2
"#;

fuzz_target!(|data: &[u8]| {
    let events = loci_trace::read_salvage(data).events;
    if events.len() > 5_000 {
        return;
    }
    let Ok(m) = Machine::from_toml(MACHINE, "fuzz.toml") else {
        return;
    };
    let variant = "drop-ishst-after-alloc+merge:dmb-ish".parse().unwrap();
    let Ok(sim) = OrderingSim::new(&m, None) else {
        return;
    };
    let sim = sim
        .with_pinning(Pinning::Spread)
        .with_placement(Placement::LiftOnExport, Default::default())
        .with_variant(variant)
        .with_gc_marker(GcMarker {
            period_ns: 500.0,
            thread: 7,
        });
    let Ok(mut sim) = sim else {
        return;
    };
    let mut order = InOrder::default();
    for e in &events {
        if order.on_event(&mut sim, e).is_err() {
            break;
        }
    }
    let _ = sim.report();
});
