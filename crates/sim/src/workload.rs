//! Synthetic workloads: small, deterministic event streams with a known
//! sharing pattern, for trying machine models without a recorded trace.
//!
//! Thread `t` is trace thread `t` (and runs on core `t` in a replay).
//! Thread 0 starts first; it creates the others (a `Release` of the spawn
//! object `SPAWN + t` followed by the child's `ThreadStart` and `Acquire`).
//! Every access carries a site id; heap blocks live at [`HEAP`] and above,
//! globals at [`GLOBALS`] and above. No randomness: the same parameters
//! always give the same events.
//!
//! | workload | pattern |
//! | --- | --- |
//! | `capture-by-ref` | thread 0 allocates one block (site 1) and writes its first word (a header; the rest is fresh zeroed memory it never touches), then every other thread `t` reads the whole block and writes one word of line `t` of it, `iters` times: memory allocated by one thread and used by others. Under first-touch, thread 0's header write decides the node of the block's first page |
//! | `producer-consumer` | threads pair up (0→1, 2→3, …); per iteration the producer writes one 64-byte slot of a ring of 8 slots, releases the slot's sync object, and the consumer acquires it and reads the slot |
//! | `false-sharing` | every thread writes its own 8-byte counter, all counters in one cache line, round-robin, `iters` times each |
//! | `publication` | per iteration thread 0 allocates an object (site 2), writes its fields, executes `DMB ISHST`, stores its address to a global pointer with a `Release`; each other thread `Acquire`s, reads the pointer and then the fields |

use crate::{Error, ErrorKind};
use loci_trace::{Event, FenceKind};

/// Base address of heap blocks.
pub const HEAP: u64 = 0x1000_0000;
/// Base address of globals.
pub const GLOBALS: u64 = 0x2000_0000;
/// Sync object ids of thread spawns: `SPAWN + child`.
pub const SPAWN: u64 = 1 << 32;
/// Cache line size the workloads are laid out for, in bytes.
pub const LINE: u64 = 64;

/// The synthetic workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One thread allocates, the others use (captured by reference).
    CaptureByRef,
    /// Pairs of producer and consumer threads passing slots.
    ProducerConsumer,
    /// Threads writing distinct bytes of one cache line.
    FalseSharing,
    /// Allocation, initialisation, store barrier and publication.
    Publication,
}

impl Workload {
    /// Every workload, with its command-line name.
    pub const ALL: [(Workload, &'static str); 4] = [
        (Workload::CaptureByRef, "capture-by-ref"),
        (Workload::ProducerConsumer, "producer-consumer"),
        (Workload::FalseSharing, "false-sharing"),
        (Workload::Publication, "publication"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Workload::ALL
            .iter()
            .find(|(w, _)| *w == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }
}

impl std::str::FromStr for Workload {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Workload::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(w, _)| *w)
            .ok_or_else(|| {
                let names: Vec<&str> = Workload::ALL.iter().map(|(_, n)| *n).collect();
                Error::new(ErrorKind::Parse(format!(
                    "unknown workload {s:?}: expected one of {}",
                    names.join(", ")
                )))
            })
    }
}

/// Parameters of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Number of threads, at least 2 (`producer-consumer`: even).
    pub threads: u32,
    /// Iterations per thread.
    pub iters: u32,
    /// Bytes of the shared block (`capture-by-ref`) or of each published
    /// object (`publication`); a multiple of [`LINE`].
    pub object_size: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            threads: 2,
            iters: 1000,
            object_size: 4096,
        }
    }
}

/// At most this many events are generated.
pub const MAX_EVENTS: u64 = 100_000_000;

fn invalid(m: String) -> Error {
    Error::new(ErrorKind::Invalid(m))
}

struct Gen {
    out: Vec<Event>,
}

impl Gen {
    fn access(&mut self, thread: u32, addr: u64, size: u32, write: bool, site: u32) {
        self.out.push(Event::Access {
            thread,
            addr,
            size,
            write,
            atomic: false,
            site: Some(site),
        });
    }

    /// Starts thread 0 (unless `main_started`) and spawns the others.
    fn spawn_all(&mut self, threads: u32, main_started: bool) {
        if !main_started {
            self.out.push(Event::ThreadStart {
                thread: 0,
                parent: None,
            });
        }
        for t in 1..threads {
            self.out.push(Event::Release {
                thread: 0,
                object: SPAWN + t as u64,
            });
            self.out.push(Event::ThreadStart {
                thread: t,
                parent: Some(0),
            });
            self.out.push(Event::Acquire {
                thread: t,
                object: SPAWN + t as u64,
            });
        }
    }

    fn exit_all(&mut self, threads: u32) {
        for t in (0..threads).rev() {
            self.out.push(Event::ThreadExit { thread: t });
        }
    }
}

/// Rough upper bound on the events `w` generates with `p`.
fn estimate(w: Workload, p: &Params) -> u64 {
    let (t, i, lines) = (p.threads as u64, p.iters as u64, p.object_size / LINE);
    let per = match w {
        Workload::CaptureByRef => t * (lines + 1),
        Workload::ProducerConsumer => t * 3,
        Workload::FalseSharing => t,
        Workload::Publication => lines + 4 + t * (lines + 2),
    };
    i.saturating_mul(per).saturating_add(4 * t + lines)
}

/// Generates the events of workload `w`.
pub fn generate(w: Workload, p: &Params) -> Result<Vec<Event>, Error> {
    if p.threads < 2 {
        return Err(invalid(format!(
            "{} needs at least 2 threads, got {}",
            w.name(),
            p.threads
        )));
    }
    if w == Workload::ProducerConsumer && p.threads % 2 != 0 {
        return Err(invalid(format!(
            "producer-consumer pairs threads up: give an even number, got {}",
            p.threads
        )));
    }
    if w == Workload::FalseSharing && p.threads as u64 > LINE / 8 {
        return Err(invalid(format!(
            "false-sharing puts one 8-byte counter per thread in a {LINE}-byte line: at most {} threads, got {}",
            LINE / 8,
            p.threads
        )));
    }
    if p.object_size == 0 || p.object_size % LINE != 0 || p.object_size > 1 << 30 {
        return Err(invalid(format!(
            "object size must be a positive multiple of {LINE} bytes up to 1 GiB, got {}",
            p.object_size
        )));
    }
    if (w == Workload::CaptureByRef) && p.object_size / LINE < p.threads as u64 {
        return Err(invalid(format!(
            "capture-by-ref gives each thread its own line of the block: the block needs at least {} bytes",
            p.threads as u64 * LINE
        )));
    }
    let n = estimate(w, p);
    if n > MAX_EVENTS {
        return Err(invalid(format!(
            "{} with these parameters would generate about {n} events; the limit is {MAX_EVENTS}",
            w.name()
        )));
    }
    let mut g = Gen {
        out: Vec::with_capacity(n as usize),
    };
    let lines = p.object_size / LINE;
    match w {
        Workload::CaptureByRef => {
            g.out.push(Event::ThreadStart {
                thread: 0,
                parent: None,
            });
            g.out.push(Event::Alloc {
                thread: 0,
                addr: HEAP,
                size: p.object_size,
                site: 1,
            });
            g.access(0, HEAP, 8, true, 10);
            g.spawn_all(p.threads, true);
            for _ in 0..p.iters {
                for t in 1..p.threads {
                    for l in 0..lines {
                        g.access(t, HEAP + l * LINE, 8, false, 11);
                    }
                    g.access(t, HEAP + t as u64 * LINE, 8, true, 12);
                }
            }
            g.exit_all(p.threads);
        }
        Workload::ProducerConsumer => {
            g.spawn_all(p.threads, false);
            const SLOTS: u64 = 8;
            for i in 0..p.iters as u64 {
                for pair in 0..p.threads / 2 {
                    let (prod, cons) = (2 * pair, 2 * pair + 1);
                    let ring = GLOBALS + pair as u64 * SLOTS * LINE;
                    let slot = ring + (i % SLOTS) * LINE;
                    let object = (pair as u64) << 8 | (i % SLOTS);
                    g.access(prod, slot, 64, true, 20);
                    g.out.push(Event::Release {
                        thread: prod,
                        object,
                    });
                    g.out.push(Event::Acquire {
                        thread: cons,
                        object,
                    });
                    g.access(cons, slot, 64, false, 21);
                }
            }
            g.exit_all(p.threads);
        }
        Workload::FalseSharing => {
            g.spawn_all(p.threads, false);
            for _ in 0..p.iters {
                for t in 0..p.threads {
                    g.access(t, GLOBALS + t as u64 * 8, 8, true, 30);
                }
            }
            g.exit_all(p.threads);
        }
        Workload::Publication => {
            g.spawn_all(p.threads, false);
            let ptr = GLOBALS;
            for i in 0..p.iters as u64 {
                let obj = HEAP + i * p.object_size;
                g.out.push(Event::Alloc {
                    thread: 0,
                    addr: obj,
                    size: p.object_size,
                    site: 2,
                });
                for l in 0..lines {
                    g.access(0, obj + l * LINE, 8, true, 40);
                }
                g.out.push(Event::Fence {
                    thread: 0,
                    kind: FenceKind::DmbIshSt,
                });
                g.access(0, ptr, 8, true, 41);
                g.out.push(Event::Release {
                    thread: 0,
                    object: ptr,
                });
                for t in 1..p.threads {
                    g.out.push(Event::Acquire {
                        thread: t,
                        object: ptr,
                    });
                    g.access(t, ptr, 8, false, 42);
                    for l in 0..lines {
                        g.access(t, obj + l * LINE, 8, false, 43);
                    }
                }
            }
            g.exit_all(p.threads);
        }
    }
    Ok(g.out)
}
