//! Ordering costs: per-core store buffers and memory-barrier costs, replayed
//! on top of [`Coherence`].
//!
//! # Model
//!
//! Every trace thread runs on the core its [`Pinning`] gives (thread `t` on
//! core `t` by default) and has its own simulated clock (ns). Events are
//! replayed in trace order; the coherence state is updated at the moment an
//! access is replayed. Heap pages get their home node from the
//! [`Placement`] policy when first touched: the heap block containing the
//! first access to a page decides (first-touch by default).
//!
//! - A **load** advances its thread's clock by its coherence latency.
//! - A **store** goes into the core's store buffer, a FIFO of
//!   [`OrderingCosts::store_buffer`] entries, and costs the core nothing
//!   while there is room. Stores leave the buffer in order, one at a time:
//!   a store issued at clock `t` with coherence latency `c` completes at
//!   `max(t, completion of the previous store) + c`. A store issued when the
//!   buffer is full stalls its core until the oldest entry completes
//!   (*store-buffer-full stall*). A depth of 0 means no store buffer: the
//!   store's latency is paid by the core at once.
//! - A **barrier** costs its base cost in cycles ([`FenceCycles`]) and,
//!   depending on its kind and on the [`BarrierPolicy`], waits for the store
//!   buffer to drain (*barrier stall*: until the last buffered store has
//!   completed):
//!
//! | event | `drain` | `order` |
//! | --- | --- | --- |
//! | `DMB ISH`, `DMB SY`, `MFENCE`, locked RMW | waits for the buffer to drain | no wait |
//! | `DMB ISHST`, `SFENCE` | waits for the buffer to drain | no wait |
//! | `STLR` (a trace `Release`) | waits for the buffer to drain | no wait |
//! | `DSB` | waits for the buffer to drain | waits for the buffer to drain |
//! | `DMB ISHLD`, `LFENCE`, `LDAR` (a trace `Acquire`) | no wait | no wait |
//!
//! Under `order`, stores behind a barrier cannot overtake the stores before
//! it; since the buffer here is already FIFO, such a barrier costs only its
//! base cost, and the core stalls only when the buffer fills. `DSB` waits
//! for completion by definition, under either policy.
//!
//! Not modelled: store-to-load forwarding, store coalescing, stores
//! draining in parallel, loads waiting on a full barrier's store drain
//! under `order` (speculation is assumed to hide it). Threads' clocks run
//! independently here; [`crate::replay`] moves them along the trace's
//! acquire/release edges and can replay in simulated-time order.

use crate::coherence::{Coherence, Stats, PAGE};
use crate::machine::Machine;
use crate::placement::{page_node, Pinning, Placement};
use crate::{Error, ErrorKind};
use loci_trace::{Event, FenceKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// How a barrier that orders stores is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BarrierPolicy {
    /// The barrier waits until the store buffer is empty.
    Drain,
    /// The barrier only keeps later stores behind earlier ones; no stall
    /// unless the store buffer fills (`DSB` still drains).
    Order,
}

impl std::str::FromStr for BarrierPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "drain" => Ok(BarrierPolicy::Drain),
            "order" => Ok(BarrierPolicy::Order),
            _ => Err(Error::new(ErrorKind::Parse(format!(
                "unknown barrier policy {s:?}: expected \"drain\" or \"order\""
            )))),
        }
    }
}

impl std::fmt::Display for BarrierPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BarrierPolicy::Drain => "drain",
            BarrierPolicy::Order => "order",
        })
    }
}

/// Base costs of barriers and acquire/release accesses, in core cycles:
/// what the instruction costs with an empty store buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FenceCycles {
    /// AArch64 `DMB ISH`.
    pub dmb_ish: u32,
    /// AArch64 `DMB ISHST`.
    pub dmb_ishst: u32,
    /// AArch64 `DMB ISHLD`.
    pub dmb_ishld: u32,
    /// AArch64 `DMB SY`.
    pub dmb_sy: u32,
    /// AArch64 `DSB`.
    pub dsb: u32,
    /// x86 `MFENCE`.
    pub mfence: u32,
    /// x86 `SFENCE`.
    pub sfence: u32,
    /// x86 `LFENCE`.
    pub lfence: u32,
    /// x86 locked read-modify-write (`LOCK` prefix, `XCHG` with memory).
    pub locked_rmw: u32,
    /// AArch64 `LDAR` (load-acquire): a trace `Acquire`.
    pub ldar: u32,
    /// AArch64 `STLR` (store-release): a trace `Release`.
    pub stlr: u32,
}

/// The `[ordering]` section of a machine description.
///
/// ```toml
/// [ordering]
/// store_buffer = 56
/// barrier = "drain"
/// [ordering.fence_cycles]
/// dmb_ish = 30
/// dmb_ishst = 20
/// dmb_ishld = 10
/// dmb_sy = 40
/// dsb = 50
/// mfence = 33
/// sfence = 6
/// lfence = 4
/// locked_rmw = 18
/// ldar = 2
/// stlr = 2
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderingCosts {
    /// Store-buffer entries per core (0: no store buffer).
    pub store_buffer: u32,
    /// How barriers that order stores are implemented.
    pub barrier: BarrierPolicy,
    /// Base costs of barriers.
    pub fence_cycles: FenceCycles,
}

impl OrderingCosts {
    /// No store buffer and free barriers: what a machine without an
    /// `[ordering]` section gets.
    pub const NONE: OrderingCosts = OrderingCosts {
        store_buffer: 0,
        barrier: BarrierPolicy::Drain,
        fence_cycles: FenceCycles {
            dmb_ish: 0,
            dmb_ishst: 0,
            dmb_ishld: 0,
            dmb_sy: 0,
            dsb: 0,
            mfence: 0,
            sfence: 0,
            lfence: 0,
            locked_rmw: 0,
            ldar: 0,
            stlr: 0,
        },
    };

    /// Checks the section; the store buffer is at most 4096 entries.
    pub fn validate(&self) -> Result<(), Error> {
        if self.store_buffer > 4096 {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "ordering.store_buffer is {}: at most 4096 entries are supported",
                self.store_buffer
            ))));
        }
        Ok(())
    }
}

/// What a barrier does, before the policy is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Never waits for the store buffer.
    Never,
    /// Waits under `drain` only.
    Policy,
    /// Always waits (completion barriers).
    Always,
}

/// Ordering statistics of one thread.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThreadStats {
    /// The thread id.
    pub thread: u32,
    /// The core it runs on.
    pub core: u32,
    /// The thread's simulated clock at its last event, in ns.
    pub clock_ns: f64,
    /// Loads replayed.
    pub loads: u64,
    /// Stores replayed.
    pub stores: u64,
    /// Barriers, acquires and releases replayed.
    pub barriers: u64,
    /// Base cost of those barriers, in ns.
    pub barrier_base_ns: f64,
    /// Time spent by barriers waiting for the store buffer, in ns.
    pub barrier_stall_ns: f64,
    /// The same, in core cycles.
    pub barrier_stall_cycles: f64,
    /// Time spent waiting for a slot in a full store buffer, in ns.
    pub store_buffer_full_stall_ns: f64,
    /// Time spent waiting for other threads (an `Acquire` for its
    /// `Release`, a thread start for its parent), in ns: see
    /// [`crate::replay`].
    pub sync_wait_ns: f64,
}

#[derive(Debug, Clone, Default)]
struct Core {
    stats: ThreadStats,
    /// Completion times of buffered stores, oldest first (non-decreasing).
    buffer: VecDeque<f64>,
}

/// The result of an ordering replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The machine's name.
    pub machine: String,
    /// The barrier policy used.
    pub barrier: BarrierPolicy,
    /// Store-buffer entries per core.
    pub store_buffer: u32,
    /// The heap placement policy used.
    pub placement: Placement,
    /// Coherence statistics (flattened into the report in JSON).
    #[serde(flatten)]
    pub coherence: Stats,
    /// Per-thread ordering statistics, by thread id.
    pub threads: Vec<ThreadStats>,
}

/// Replays a trace with coherence, store buffers and barrier costs.
#[derive(Debug, Clone)]
pub struct OrderingSim {
    coherence: Coherence,
    costs: OrderingCosts,
    machine: Machine,
    cores: BTreeMap<u32, Core>,
    pinning: Pinning,
    placement: Placement,
    /// Allocation site -> the thread using it most (consumer placement).
    consumers: BTreeMap<u32, u32>,
    /// Heap blocks ever allocated: start -> (end, allocating thread, site).
    blocks: BTreeMap<u64, (u64, u32, u32)>,
}

impl OrderingSim {
    /// A simulator for `machine`, with its `[ordering]` section (or
    /// [`OrderingCosts::NONE`]) and, if given, another barrier policy.
    pub fn new(machine: &Machine, policy: Option<BarrierPolicy>) -> Result<Self, Error> {
        let mut costs = machine.ordering.unwrap_or(OrderingCosts::NONE);
        if let Some(p) = policy {
            costs.barrier = p;
        }
        Self::with_costs(machine, costs)
    }

    /// A simulator for `machine` with explicit ordering costs.
    pub fn with_costs(machine: &Machine, costs: OrderingCosts) -> Result<Self, Error> {
        costs.validate()?;
        Ok(OrderingSim {
            coherence: Coherence::new(machine)?,
            costs,
            machine: machine.clone(),
            cores: BTreeMap::new(),
            pinning: Pinning::Compact,
            placement: Placement::FirstTouch,
            consumers: BTreeMap::new(),
            blocks: BTreeMap::new(),
        })
    }

    /// Runs the threads where `pinning` says (before any event).
    pub fn with_pinning(mut self, pinning: Pinning) -> Self {
        self.pinning = pinning;
        self
    }

    /// Places heap pages with `placement`. For [`Placement::Consumer`],
    /// `consumers` maps each allocation site to the thread that uses it
    /// most ([`crate::placement::main_consumers`] over the whole trace).
    pub fn with_placement(mut self, placement: Placement, consumers: BTreeMap<u32, u32>) -> Self {
        self.placement = placement;
        self.consumers = consumers;
        self
    }

    /// The coherence simulator underneath (to bind pages, say).
    pub fn coherence_mut(&mut self) -> &mut Coherence {
        &mut self.coherence
    }

    /// The ordering costs in force.
    pub fn costs(&self) -> &OrderingCosts {
        &self.costs
    }

    fn core(&mut self, thread: u32) -> Result<&mut Core, Error> {
        if !self.cores.contains_key(&thread) {
            let core = self.pinning.core_of(&self.machine, thread)?;
            self.cores.insert(
                thread,
                Core {
                    stats: ThreadStats {
                        thread,
                        core,
                        ..ThreadStats::default()
                    },
                    buffer: VecDeque::new(),
                },
            );
        }
        Ok(self.cores.get_mut(&thread).expect("inserted above"))
    }

    /// Gives the pages of `addr .. addr + size` that have no home yet the
    /// node the placement policy chooses for the block containing them.
    fn place(&mut self, addr: u64, size: u64) -> Result<(), Error> {
        if self.placement == Placement::FirstTouch {
            return Ok(());
        }
        for page in crate::placement::pages(addr, size) {
            if self.coherence.page_home(page).is_some() {
                continue;
            }
            let at = (page * PAGE).max(addr);
            let Some((_, &(end, alloc_thread, site))) = self.blocks.range(..=at).next_back() else {
                continue;
            };
            if at >= end {
                continue;
            }
            let alloc_core = self.core(alloc_thread)?.stats.core;
            let consumer_core = match self.consumers.get(&site) {
                Some(&t) => Some(self.core(t)?.stats.core),
                None => None,
            };
            if let Some(node) = page_node(
                self.placement,
                &self.machine,
                page,
                alloc_core,
                consumer_core,
            ) {
                self.coherence.place_page(page, node)?;
            }
        }
        Ok(())
    }

    /// The simulated clock of `thread`, in ns (0 before its first event).
    pub fn clock(&self, thread: u32) -> f64 {
        self.cores.get(&thread).map_or(0.0, |c| c.stats.clock_ns)
    }

    /// Makes `thread` wait until time `t` (ns) if its clock is earlier,
    /// counting the wait as synchronisation.
    pub fn sync_to(&mut self, thread: u32, t: f64) -> Result<(), Error> {
        let s = &mut self.core(thread)?.stats;
        if t > s.clock_ns {
            s.sync_wait_ns += t - s.clock_ns;
            s.clock_ns = t;
        }
        Ok(())
    }

    /// Replays one event.
    pub fn on_event(&mut self, event: &Event) -> Result<(), Error> {
        match *event {
            Event::Access {
                thread,
                addr,
                size,
                write,
                ..
            } => self.access(thread, addr, size as u64, write),
            Event::Fence { thread, kind } => {
                let c = &self.costs.fence_cycles;
                let (cycles, wait) = match kind {
                    FenceKind::DmbIsh => (c.dmb_ish, Wait::Policy),
                    FenceKind::DmbIshSt => (c.dmb_ishst, Wait::Policy),
                    FenceKind::DmbIshLd => (c.dmb_ishld, Wait::Never),
                    FenceKind::DmbSy => (c.dmb_sy, Wait::Policy),
                    FenceKind::Dsb => (c.dsb, Wait::Always),
                    FenceKind::Mfence => (c.mfence, Wait::Policy),
                    FenceKind::Sfence => (c.sfence, Wait::Policy),
                    FenceKind::Lfence => (c.lfence, Wait::Never),
                    FenceKind::LockedRmw => (c.locked_rmw, Wait::Policy),
                };
                self.barrier(thread, cycles, wait)
            }
            Event::Acquire { thread, .. } => {
                self.barrier(thread, self.costs.fence_cycles.ldar, Wait::Never)
            }
            Event::Release { thread, .. } => {
                self.barrier(thread, self.costs.fence_cycles.stlr, Wait::Policy)
            }
            Event::ThreadStart { thread, .. } | Event::ThreadExit { thread } => {
                self.core(thread).map(|_| ())
            }
            Event::Alloc {
                thread,
                addr,
                size,
                site,
            } => {
                self.core(thread)?;
                if size > 0 {
                    self.blocks
                        .insert(addr, (addr.saturating_add(size), thread, site));
                }
                Ok(())
            }
            Event::Free { .. } => Ok(()),
        }
    }

    /// Simulates `thread` reading or writing `addr .. addr + size`.
    pub fn access(&mut self, thread: u32, addr: u64, size: u64, write: bool) -> Result<(), Error> {
        let core_id = self.core(thread)?.stats.core;
        self.place(addr, size)?;
        let cost = self.coherence.access(core_id, addr, size, write)?;
        let depth = self.costs.store_buffer as usize;
        let core = self.core(thread)?;
        let s = &mut core.stats;
        if !write {
            s.loads += 1;
            s.clock_ns += cost;
            return Ok(());
        }
        s.stores += 1;
        if depth == 0 {
            s.clock_ns += cost;
            return Ok(());
        }
        let now = s.clock_ns;
        while core.buffer.front().is_some_and(|&done| done <= now) {
            core.buffer.pop_front();
        }
        if core.buffer.len() >= depth {
            let oldest = core.buffer.pop_front().unwrap_or(now);
            s.store_buffer_full_stall_ns += oldest - now;
            s.clock_ns = oldest;
        }
        let start = core.buffer.back().copied().unwrap_or(0.0).max(s.clock_ns);
        core.buffer.push_back(start + cost);
        Ok(())
    }

    fn barrier(&mut self, thread: u32, cycles: u32, wait: Wait) -> Result<(), Error> {
        let waits = match wait {
            Wait::Never => false,
            Wait::Policy => self.costs.barrier == BarrierPolicy::Drain,
            Wait::Always => true,
        };
        let ghz = self.machine.ghz;
        let core = self.core(thread)?;
        let s = &mut core.stats;
        s.barriers += 1;
        if waits {
            if let Some(&last) = core.buffer.back() {
                let stall = (last - s.clock_ns).max(0.0);
                s.barrier_stall_ns += stall;
                s.barrier_stall_cycles += stall * ghz;
                s.clock_ns += stall;
            }
            core.buffer.clear();
        }
        let base = cycles as f64 / ghz;
        s.barrier_base_ns += base;
        s.clock_ns += base;
        Ok(())
    }

    /// The statistics so far.
    pub fn report(&self) -> Report {
        Report {
            machine: self.machine.name.clone(),
            barrier: self.costs.barrier,
            store_buffer: self.costs.store_buffer,
            placement: self.placement,
            coherence: self.coherence.stats().clone(),
            threads: self.cores.values().map(|c| c.stats.clone()).collect(),
        }
    }
}
