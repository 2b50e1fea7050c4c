//! cachegrind compatibility: the two-level (L1 split into I1/D1, unified
//! LL) cache simulation of Valgrind's cachegrind, fed by a Valgrind
//! `lackey --trace-mem=yes` trace, producing cachegrind's event counts.
//!
//! The rules followed, from cachegrind's manual and `cg_sim.c`:
//!
//! 1. Every cache is LRU and write-allocate; a write is simulated exactly
//!    like a read.
//! 2. An access that straddles two lines looks up both and counts one miss
//!    if either misses.
//! 3. An L1 miss looks up the same access in LL; an L1 hit does not touch
//!    LL. LL is never back-invalidated ("inclusive" in the manual's loose
//!    sense: nothing enforces inclusion).
//! 4. A modify (lackey's `M`, cachegrind's `Dm`, e.g. `inc` on memory) is
//!    counted as one data read only: the write cannot miss after the read
//!    allocated the line.

use crate::cache::{Cache, Geometry};
use crate::lackey::Op;
use crate::Error;

/// cachegrind's event counts, named as in cachegrind's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[allow(non_snake_case)]
pub struct Counts {
    /// Instructions executed.
    pub Ir: u64,
    /// I1 instruction-fetch misses.
    pub I1mr: u64,
    /// LL instruction-fetch misses.
    pub ILmr: u64,
    /// Data reads (including modifies).
    pub Dr: u64,
    /// D1 read misses.
    pub D1mr: u64,
    /// LL data-read misses.
    pub DLmr: u64,
    /// Data writes.
    pub Dw: u64,
    /// D1 write misses.
    pub D1mw: u64,
    /// LL data-write misses.
    pub DLmw: u64,
}

impl Counts {
    /// The event names, in cachegrind's order.
    pub const NAMES: [&'static str; 9] = [
        "Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw",
    ];

    /// The counts in the order of [`Counts::NAMES`].
    pub fn values(&self) -> [u64; 9] {
        [
            self.Ir, self.I1mr, self.ILmr, self.Dr, self.D1mr, self.DLmr, self.Dw, self.D1mw,
            self.DLmw,
        ]
    }
}

/// The cachegrind-compatible simulator.
#[derive(Debug, Clone)]
pub struct CachegrindSim {
    i1: Cache,
    d1: Cache,
    ll: Cache,
    counts: Counts,
}

impl CachegrindSim {
    /// Empty caches of the given geometries (see
    /// [`Geometry::parse_cachegrind`] for cachegrind's own restrictions).
    pub fn new(i1: Geometry, d1: Geometry, ll: Geometry) -> Result<Self, Error> {
        Ok(CachegrindSim {
            i1: Cache::new(i1)?,
            d1: Cache::new(d1)?,
            ll: Cache::new(ll)?,
            counts: Counts::default(),
        })
    }

    /// Simulates one trace operation.
    pub fn apply(&mut self, op: Op) {
        let c = &mut self.counts;
        match op {
            Op::Instr { addr, size } => {
                c.Ir += 1;
                if self.i1.access(addr, size) {
                    c.I1mr += 1;
                    if self.ll.access(addr, size) {
                        c.ILmr += 1;
                    }
                }
            }
            Op::Load { addr, size } | Op::Modify { addr, size } => {
                c.Dr += 1;
                if self.d1.access(addr, size) {
                    c.D1mr += 1;
                    if self.ll.access(addr, size) {
                        c.DLmr += 1;
                    }
                }
            }
            Op::Store { addr, size } => {
                c.Dw += 1;
                if self.d1.access(addr, size) {
                    c.D1mw += 1;
                    if self.ll.access(addr, size) {
                        c.DLmw += 1;
                    }
                }
            }
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim() -> CachegrindSim {
        let g = |size| Geometry {
            size,
            assoc: 2,
            line: 64,
        };
        CachegrindSim::new(g(256), g(256), g(1024)).unwrap()
    }

    #[test]
    fn modify_counts_as_a_read() {
        let mut s = sim();
        s.apply(Op::Modify {
            addr: 0x1000,
            size: 4,
        });
        s.apply(Op::Store {
            addr: 0x1000,
            size: 4,
        });
        let c = s.counts();
        assert_eq!((c.Dr, c.D1mr, c.DLmr), (1, 1, 1));
        assert_eq!((c.Dw, c.D1mw, c.DLmw), (1, 0, 0));
    }

    #[test]
    fn l1_miss_ll_hit() {
        let mut s = sim();
        // D1 has 2 sets x 2 ways; lines 0, 2, 4 all map to set 0.
        for line in [0u64, 2, 4, 0] {
            s.apply(Op::Load {
                addr: line * 64,
                size: 8,
            });
        }
        let c = s.counts();
        assert_eq!((c.Dr, c.D1mr, c.DLmr), (4, 4, 3));
        s.apply(Op::Instr { addr: 0, size: 4 });
        let c = s.counts();
        assert_eq!((c.Ir, c.I1mr, c.ILmr), (1, 1, 0));
    }
}
