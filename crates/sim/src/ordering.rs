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

use crate::coherence::{Coherence, Counters, Stats, PAGE};
use crate::machine::Machine;
use crate::placement::{page_node, Pinning, Placement};
use crate::variant::{BarrierVariant, Filter};
use crate::{Error, ErrorKind};
use loci_trace::{Event, FenceKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Barriers of the trace that the barrier variant dropped (not
    /// replayed, not in `barriers`).
    pub barriers_dropped: u64,
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
    /// Time spent copying objects lifted to this thread's node
    /// ([`Placement::LiftOnExport`]), in ns.
    pub lift_ns: f64,
}

/// A live heap block.
#[derive(Debug, Clone, Copy)]
struct Block {
    end: u64,
    thread: u32,
    /// Its allocation site.
    site: u32,
    /// The counter bucket of its allocation site.
    bucket: usize,
    /// Lifted (or touched by another thread on the same node) already.
    exported: bool,
    /// The node it was lifted to, if it was.
    lifted_to: Option<u32>,
}

/// An address range `lo .. hi` and its counter bucket: a live heap block
/// (`block` true, `lo` its start) or a gap with no live block (bucket 0).
type Memo = (u64, u64, usize, bool);

/// A memo that matches no address.
const NO_MEMO: Memo = (0, 0, 0, false);

/// A FIFO of store completion times in a ring of fixed capacity (the
/// store-buffer depth rounded up to a power of two): no growth checks, no
/// reallocation, a mask for the wrap-around.
#[derive(Debug, Clone, Default)]
struct StoreBuffer {
    /// The ring (allocated at the first push).
    slots: Vec<f64>,
    /// Free-running positions of the oldest entry and of the next free
    /// slot (`tail - head` entries, wrapping).
    head: usize,
    tail: usize,
}

impl StoreBuffer {
    #[inline(always)]
    fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    #[inline(always)]
    fn front(&self) -> Option<f64> {
        (self.head != self.tail).then(|| self.slots[self.head & self.mask()])
    }

    #[inline(always)]
    fn back(&self) -> Option<f64> {
        (self.head != self.tail).then(|| self.slots[self.tail.wrapping_sub(1) & self.mask()])
    }

    #[inline(always)]
    fn pop_front(&mut self) -> Option<f64> {
        let v = self.front()?;
        self.head = self.head.wrapping_add(1);
        Some(v)
    }

    /// Appends `v`; the caller keeps at most `depth` entries (and `depth`
    /// is the same at every call).
    #[inline(always)]
    fn push_back(&mut self, v: f64, depth: usize) {
        if self.slots.len() < depth {
            self.grow(depth);
        }
        let i = self.tail & self.mask();
        self.slots[i] = v;
        self.tail = self.tail.wrapping_add(1);
    }

    #[cold]
    fn grow(&mut self, depth: usize) {
        // Unroll the ring into a buffer of the new capacity.
        let mut slots = Vec::with_capacity(depth.next_power_of_two());
        while let Some(v) = self.pop_front() {
            slots.push(v);
        }
        self.head = 0;
        self.tail = slots.len();
        slots.resize(depth.next_power_of_two(), 0.0);
        self.slots = slots;
    }

    #[inline]
    fn clear(&mut self) {
        self.head = 0;
        self.tail = 0;
    }
}

#[derive(Debug, Clone, Default)]
struct Core {
    stats: ThreadStats,
    /// Completion times of buffered stores, oldest first (non-decreasing).
    buffer: StoreBuffer,
    /// The two address ranges last looked up, most recent first (see
    /// [`Memo`]).
    memo: [Memo; 2],
}

/// Objects lifted to their consumer's node ([`Placement::LiftOnExport`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LiftStats {
    /// Blocks copied to another node.
    pub lifts: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Time the copies cost their threads, in ns.
    pub copy_ns: f64,
}

/// A concurrent GC marker: a thread of its own that, every `period_ns` of
/// simulated time, reads one word of every line of every live heap block.
///
/// The marker runs on the core its thread id gets from the pinning, which
/// must be no trace thread's core. Its clock starts a mark cycle at the
/// first multiple of the period that the trace's threads have reached (the
/// largest clock of any trace thread after each replayed event); a cycle
/// reads the live blocks in address order, each line's latency advancing
/// the marker's clock, and the next cycle starts a period later or when
/// this one ends, whichever is later. At most one cycle runs per trace
/// event: cycles that fell due while the program's clock jumped by several
/// periods are counted as skipped. Lines of pages no thread has touched
/// yet are skipped (nothing initialised there to mark). The marker only
/// loads, so it turns the owners' Modified lines into Shared ones (their
/// next store pays an upgrade) and its loads land in the per-site counters
/// of the blocks it reads; it never triggers a lift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GcMarker {
    /// Simulated time between the starts of two mark cycles, in ns.
    pub period_ns: f64,
    /// The marker's thread id (no trace thread may use it).
    pub thread: u32,
}

/// What the GC marker did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GcStats {
    /// The marker's configuration.
    #[serde(flatten)]
    pub marker: GcMarker,
    /// The marker's core.
    pub core: u32,
    /// Mark cycles run.
    pub cycles: u64,
    /// Mark cycles that fell due while no trace event happened (the
    /// program's clock jumped by several periods at once) and were skipped.
    pub cycles_skipped: u64,
    /// Lines read by the marker.
    pub lines_read: u64,
}

#[derive(Debug, Clone)]
struct Gc {
    stats: GcStats,
    next_ns: f64,
}

/// The counters of one allocation site (or of all non-heap memory).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteStats {
    /// The allocation site, or `None` for accesses outside live heap
    /// blocks (globals, stacks, freed memory).
    pub site: Option<u32>,
    /// The counters of accesses to the site's blocks.
    #[serde(flatten)]
    pub counters: Counters,
}

/// The result of an ordering replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The machine's name.
    pub machine: String,
    /// The barrier policy used.
    pub barrier: BarrierPolicy,
    /// The barrier variant used (`as-traced`: every barrier of the trace).
    pub barrier_variant: String,
    /// Store-buffer entries per core.
    pub store_buffer: u32,
    /// The heap placement policy used.
    pub placement: Placement,
    /// Coherence statistics (flattened into the report in JSON).
    #[serde(flatten)]
    pub coherence: Stats,
    /// Blocks lifted to another node (all zero unless `lift-on-export`).
    pub lift: LiftStats,
    /// The GC marker's work, when one ran.
    pub gc: Option<GcStats>,
    /// Per-thread ordering statistics, by thread id (the GC marker too).
    pub threads: Vec<ThreadStats>,
    /// Per allocation site, by site; non-heap accesses (`site: null`)
    /// first.
    pub sites: Vec<SiteStats>,
}

/// Replays a trace with coherence, store buffers and barrier costs.
#[derive(Debug, Clone)]
pub struct OrderingSim {
    coherence: Coherence,
    costs: OrderingCosts,
    machine: Machine,
    /// Per thread id, once the thread has been seen.
    cores: Vec<Option<Core>>,
    pinning: Pinning,
    placement: Placement,
    /// Allocation site -> the thread using it most (consumer placement).
    consumers: BTreeMap<u32, u32>,
    /// Live heap blocks by start address.
    blocks: BTreeMap<u64, Block>,
    /// The most recently allocated block, while it is live, as a block
    /// [`Memo`] (or [`NO_MEMO`]): objects are often used right after their
    /// allocation, by other threads too, and this spares those lookups
    /// the B-tree.
    newest: Memo,
    /// Allocation site -> counter bucket (bucket 0: non-heap).
    site_bucket: BTreeMap<u32, usize>,
    filter: Filter,
    lift: LiftStats,
    gc: Option<Gc>,
    /// The largest clock of any trace thread so far (drives the GC marker).
    now_ns: f64,
    /// No GC marker, every barrier as traced, first-touch placement: an
    /// access is only its coherence and store-buffer work (see
    /// [`OrderingSim::on_event`]). Kept up to date by the `with_` methods.
    plain: bool,
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
            cores: Vec::new(),
            pinning: Pinning::Compact,
            placement: Placement::FirstTouch,
            consumers: BTreeMap::new(),
            blocks: BTreeMap::new(),
            newest: NO_MEMO,
            site_bucket: BTreeMap::new(),
            filter: Filter::default(),
            lift: LiftStats::default(),
            gc: None,
            now_ns: 0.0,
            plain: true,
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
        self.update_plain();
        self
    }

    fn update_plain(&mut self) {
        self.plain = self.gc.is_none()
            && self.filter.variant().is_as_traced()
            && self.placement == Placement::FirstTouch;
    }

    /// Drops or merges barriers as `variant` says (before any event).
    pub fn with_variant(mut self, variant: BarrierVariant) -> Self {
        self.filter = Filter::new(variant);
        self.update_plain();
        self
    }

    /// Runs a concurrent GC marker (before any event); see [`GcMarker`].
    /// Errors if the period is not positive or the marker has no core.
    pub fn with_gc_marker(mut self, marker: GcMarker) -> Result<Self, Error> {
        if !(marker.period_ns.is_finite() && marker.period_ns > 0.0) {
            return Err(invalid(format!(
                "the GC marker's period must be positive, got {} ns",
                marker.period_ns
            )));
        }
        let core = self.pinning.core_of(&self.machine, marker.thread)?;
        self.gc = Some(Gc {
            stats: GcStats {
                marker,
                core,
                cycles: 0,
                cycles_skipped: 0,
                lines_read: 0,
            },
            next_ns: marker.period_ns,
        });
        self.core(marker.thread)?;
        self.update_plain();
        Ok(self)
    }

    /// The coherence simulator underneath (to bind pages, say).
    pub fn coherence_mut(&mut self) -> &mut Coherence {
        &mut self.coherence
    }

    /// The ordering costs in force.
    pub fn costs(&self) -> &OrderingCosts {
        &self.costs
    }

    fn gc_thread(&self) -> Option<u32> {
        self.gc.as_ref().map(|g| g.stats.marker.thread)
    }

    /// The state of `thread`, created (and pinned) at its first use.
    #[inline]
    fn core(&mut self, thread: u32) -> Result<&mut Core, Error> {
        let t = thread as usize;
        if t >= self.cores.len() || self.cores[t].is_none() {
            self.new_core(thread)?;
        }
        match self.cores.get_mut(t) {
            Some(Some(c)) => Ok(c),
            _ => Err(invalid(format!("thread {thread} has no state"))),
        }
    }

    #[cold]
    fn new_core(&mut self, thread: u32) -> Result<(), Error> {
        // Pinning gives every thread a core below `cores`, so thread ids
        // are bounded by the machine (or the pinning list) before this
        // vector grows.
        let core = self.pinning.core_of(&self.machine, thread)?;
        if let Some(gc) = &self.gc {
            if gc.stats.marker.thread != thread && gc.stats.core == core {
                return Err(invalid(format!(
                    "thread {thread} runs on core {core}, which is the GC marker's core"
                )));
            }
        }
        let t = thread as usize;
        if t >= self.cores.len() {
            self.cores.resize(t + 1, None);
        }
        self.cores[t] = Some(Core {
            stats: ThreadStats {
                thread,
                core,
                ..ThreadStats::default()
            },
            buffer: StoreBuffer::default(),
            memo: [NO_MEMO; 2],
        });
        Ok(())
    }

    /// The live block containing `addr` (start and block) and the counter
    /// bucket of `addr`, through `thread`'s two-entry memo.
    #[inline]
    fn lookup(&mut self, thread: u32, addr: u64) -> Result<(usize, Option<u64>), Error> {
        let core = self.core(thread)?;
        let [m0, m1] = core.memo;
        if m0.0 <= addr && addr < m0.1 {
            return Ok((m0.2, m0.3.then_some(m0.0)));
        }
        if m1.0 <= addr && addr < m1.1 {
            core.memo = [m1, m0];
            return Ok((m1.2, m1.3.then_some(m1.0)));
        }
        let n = self.newest;
        let memo = if n.0 <= addr && addr < n.1 {
            n
        } else {
            self.lookup_blocks(addr)
        };
        let core = self.core(thread)?;
        core.memo = [memo, core.memo[0]];
        Ok((memo.2, memo.3.then_some(memo.0)))
    }

    /// The live block or the gap containing `addr`, from the block map.
    fn lookup_blocks(&self, addr: u64) -> Memo {
        match self.blocks.range(..=addr).next_back() {
            Some((&start, b)) if addr < b.end => (start, b.end, b.bucket, true),
            before => {
                let lo = before.map_or(0, |(_, b)| b.end);
                let hi = self
                    .blocks
                    .range(addr.saturating_add(1)..)
                    .next()
                    .map_or(u64::MAX, |(&s, _)| s);
                (lo, hi, 0, false)
            }
        }
    }

    /// Keeps the memos true after a block was allocated at `addr .. end`
    /// (replacing any live block it overlaps): a block memo overlapping it
    /// is forgotten; a gap memo overlapping it keeps the larger of its
    /// parts below and above the new block, which are still gaps.
    fn forget_memos_alloc(&mut self, addr: u64, end: u64) {
        for c in self.cores.iter_mut().flatten() {
            for m in &mut c.memo {
                let (lo, hi, _, block) = *m;
                if !(lo < end && addr < hi) {
                    continue;
                }
                let below = addr.saturating_sub(lo);
                let above = hi.saturating_sub(end);
                *m = if block || (below == 0 && above == 0) {
                    NO_MEMO
                } else if above >= below {
                    (end, hi, 0, false)
                } else {
                    (lo, addr, 0, false)
                };
            }
        }
    }

    /// Keeps the memos true after the live block starting at `addr` was
    /// freed: its block memo is forgotten (gap memos stay gaps).
    fn forget_memos_free(&mut self, addr: u64) {
        for c in self.cores.iter_mut().flatten() {
            for m in &mut c.memo {
                if m.3 && m.0 == addr {
                    *m = NO_MEMO;
                }
            }
        }
    }

    fn bucket_of_site(&mut self, site: u32) -> usize {
        let next = self.site_bucket.len() + 1;
        *self.site_bucket.entry(site).or_insert(next)
    }

    /// Gives the pages of `addr .. addr + size` that have no home yet the
    /// node the placement policy chooses for the block containing them.
    fn place(&mut self, addr: u64, size: u64) -> Result<(), Error> {
        for page in crate::placement::pages(addr, size) {
            if self.coherence.page_home(page).is_some() {
                continue;
            }
            let at = (page * PAGE).max(addr);
            let Some((_, &b)) = self.blocks.range(..=at).next_back() else {
                continue;
            };
            if at >= b.end {
                continue;
            }
            let alloc_core = self.core(b.thread)?.stats.core;
            let consumer_core = match self.consumers.get(&b.site) {
                Some(&t) => Some(self.core(t)?.stats.core),
                None => None,
            };
            if let Some(node) = b.lifted_to {
                self.coherence.place_page(page, node)?;
            } else if let Some(node) = page_node(
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

    /// Lifts the block at `start` to `thread`'s node if it is the block's
    /// first touch by another thread (see [`Placement::LiftOnExport`]).
    fn maybe_lift(&mut self, thread: u32, start: u64) -> Result<(), Error> {
        let Some(&b) = self.blocks.get(&start) else {
            return Ok(());
        };
        if b.exported || b.thread == thread {
            return Ok(());
        }
        if let Some(blk) = self.blocks.get_mut(&start) {
            blk.exported = true;
        }
        let core = self.core(thread)?.stats.core;
        let to = self.machine.node_of(core).unwrap_or(0);
        let alloc_core = self.core(b.thread)?.stats.core;
        let from = self
            .coherence
            .page_home(start / PAGE)
            .or_else(|| self.machine.node_of(alloc_core))
            .unwrap_or(0);
        if from == to {
            return Ok(());
        }
        let Some(gbps) = self.machine.dram.copy_gbps else {
            return Err(invalid(format!(
                "machine {:?} has no dram.copy_gbps, which the lift-on-export placement needs",
                self.machine.name
            )));
        };
        let bytes = b.end - start;
        let cost = self.machine.dram_ns(to, from).unwrap_or(0.0) + bytes as f64 / gbps;
        if let Some(blk) = self.blocks.get_mut(&start) {
            blk.lifted_to = Some(to);
        }
        // Only touched pages have a home and cached lines; untouched ones
        // get `lifted_to` from `place` when first touched.
        let (lo, hi) = (start / PAGE, (b.end - 1) / PAGE);
        let touched: Vec<u64> = self.coherence.homed_pages(lo, hi).collect();
        let line = self.machine.caches.l1d.line as u64;
        for page in touched {
            self.coherence.rehome_page(page, to)?;
            let mut a = (page * PAGE).max(start - start % line);
            while a < ((page + 1) * PAGE).min(b.end) {
                self.coherence.purge(a);
                a += line;
            }
        }
        self.lift.lifts += 1;
        self.lift.bytes += bytes;
        self.lift.copy_ns += cost;
        let s = &mut self.core(thread)?.stats;
        s.lift_ns += cost;
        s.clock_ns += cost;
        Ok(())
    }

    /// The simulated clock of `thread`, in ns (0 before its first event).
    pub fn clock(&self, thread: u32) -> f64 {
        match self.cores.get(thread as usize) {
            Some(Some(c)) => c.stats.clock_ns,
            _ => 0.0,
        }
    }

    /// Makes `thread` wait until time `t` (ns) if its clock is earlier,
    /// counting the wait as synchronisation.
    #[inline]
    pub fn sync_to(&mut self, thread: u32, t: f64) -> Result<(), Error> {
        let s = &mut self.core(thread)?.stats;
        if t > s.clock_ns {
            s.sync_wait_ns += t - s.clock_ns;
            s.clock_ns = t;
        }
        Ok(())
    }

    /// Replays one event.
    #[inline(always)]
    pub fn on_event(&mut self, event: &Event) -> Result<(), Error> {
        // Most events are accesses (then acquires and releases), and most
        // replays are plain (see `plain`): then the access or the barrier
        // is all there is to do.
        if self.plain {
            match *event {
                Event::Access {
                    thread,
                    addr,
                    size,
                    write,
                    ..
                } => {
                    // A known thread, in the range its memo remembers (the
                    // common case): an L1 hit needing no directory, the
                    // most common case of all, inline; any other access
                    // out of line, without repeating these lookups.
                    if let Some(Some(core)) = self.cores.get_mut(thread as usize) {
                        let (lo, hi, bucket, _) = core.memo[0];
                        if lo <= addr && addr < hi {
                            let (c, size) = (core.stats.core, size as u64);
                            let cost = match self.coherence.l1_hit(c, addr, size, write, bucket) {
                                Some(cost) => cost,
                                None => self.coherence.access_in(bucket, c, addr, size, write)?,
                            };
                            Self::account(core, cost, write, self.costs.store_buffer as usize);
                            return Ok(());
                        }
                    }
                    return self.access_general(thread, addr, size as u64, write);
                }
                Event::Acquire { thread, .. } => {
                    return self.barrier(thread, self.costs.fence_cycles.ldar, Wait::Never)
                }
                Event::Release { thread, .. } => {
                    return self.barrier(thread, self.costs.fence_cycles.stlr, Wait::Policy)
                }
                _ => {}
            }
        }
        self.on_event_general(event)
    }

    /// [`OrderingSim::on_event`] for any event and configuration.
    #[inline(never)]
    fn on_event_general(&mut self, event: &Event) -> Result<(), Error> {
        let thread = event.thread();
        if !self.filter.variant().is_as_traced() {
            // The thread must exist (have a core) before the filter sizes
            // its per-thread state by the thread id.
            self.core(thread)?;
            if !self.filter.keep(event) {
                self.core(thread)?.stats.barriers_dropped += 1;
                return Ok(());
            }
        }
        if self.gc.is_some() && Some(thread) == self.gc_thread() {
            return Err(invalid(format!(
                "thread {thread} is the GC marker's thread id, but the trace uses it too"
            )));
        }
        match *event {
            Event::Access {
                thread,
                addr,
                size,
                write,
                ..
            } => self.access(thread, addr, size as u64, write)?,
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
                self.barrier(thread, cycles, wait)?
            }
            Event::Acquire { thread, .. } => {
                self.barrier(thread, self.costs.fence_cycles.ldar, Wait::Never)?
            }
            Event::Release { thread, .. } => {
                self.barrier(thread, self.costs.fence_cycles.stlr, Wait::Policy)?
            }
            Event::ThreadStart { thread, .. } | Event::ThreadExit { thread } => {
                self.core(thread)?;
            }
            Event::Alloc {
                thread,
                addr,
                size,
                site,
            } => {
                self.core(thread)?;
                if size > 0 {
                    let bucket = self.bucket_of_site(site);
                    let end = addr.saturating_add(size);
                    // A block allocated over live ones (a trace without
                    // their frees) replaces them.
                    let stale: Vec<u64> = self
                        .blocks
                        .range(..end)
                        .rev()
                        .take_while(|(_, b)| b.end > addr)
                        .map(|(&s, _)| s)
                        .collect();
                    for s in stale {
                        self.blocks.remove(&s);
                    }
                    self.blocks.insert(
                        addr,
                        Block {
                            end,
                            thread,
                            site,
                            bucket,
                            exported: false,
                            lifted_to: None,
                        },
                    );
                    self.forget_memos_alloc(addr, end);
                    self.newest = (addr, end, bucket, true);
                }
            }
            Event::Free { thread, addr, .. } => {
                self.core(thread)?;
                if self.blocks.remove(&addr).is_some() {
                    self.forget_memos_free(addr);
                    if self.newest.0 == addr {
                        self.newest = NO_MEMO;
                    }
                }
            }
        }
        if self.gc.is_some() {
            let c = self.clock(thread);
            if c > self.now_ns {
                self.now_ns = c;
            }
            self.run_gc()?;
        }
        Ok(())
    }

    /// Runs the mark cycles due by `now_ns`.
    fn run_gc(&mut self) -> Result<(), Error> {
        let Some(gc) = &self.gc else {
            return Ok(());
        };
        let (period, thread, core) = (
            gc.stats.marker.period_ns,
            gc.stats.marker.thread,
            gc.stats.core,
        );
        let mut next = gc.next_ns;
        let mut cycles = 0;
        let mut skipped = 0;
        let mut lines_read = 0;
        if self.now_ns >= next {
            if self.blocks.is_empty() {
                // Nothing to mark: skip to the next period after now.
                next = ((self.now_ns / period).floor() + 1.0) * period;
                if let Some(gc) = &mut self.gc {
                    gc.next_ns = next;
                }
                return Ok(());
            }
            let start = next.max(self.clock(thread));
            self.core(thread)?.stats.clock_ns = start;
            let line = self.machine.caches.l1d.line as u64;
            let blocks: Vec<(u64, Block)> = self.blocks.iter().map(|(&s, &b)| (s, b)).collect();
            for (s, b) in blocks {
                self.coherence.set_bucket(b.bucket);
                let (lo, hi) = (s / PAGE, (b.end - 1) / PAGE);
                let touched: Vec<u64> = self.coherence.homed_pages(lo, hi).collect();
                for page in touched {
                    let mut a = (page * PAGE).max(s - s % line);
                    while a < ((page + 1) * PAGE).min(b.end) {
                        let cost = self.coherence.access(core, a.max(s), 1, false)?;
                        let st = &mut self.core(thread)?.stats;
                        st.loads += 1;
                        st.clock_ns += cost;
                        lines_read += 1;
                        a += line;
                    }
                }
            }
            cycles += 1;
            next = (next + period).max(self.clock(thread));
            if self.now_ns >= next {
                // The program's clock jumped several periods since its last
                // event: nothing changed in between for the marker to see,
                // so the cycles due meanwhile are skipped, not replayed.
                let n = ((self.now_ns - next) / period).floor() + 1.0;
                skipped = n as u64;
                next += n * period;
            }
        }
        if let Some(gc) = &mut self.gc {
            gc.next_ns = next;
            gc.stats.cycles += cycles;
            gc.stats.cycles_skipped += skipped;
            gc.stats.lines_read += lines_read;
        }
        Ok(())
    }

    /// Simulates `thread` reading or writing `addr .. addr + size`.
    #[inline(always)]
    pub fn access(&mut self, thread: u32, addr: u64, size: u64, write: bool) -> Result<(), Error> {
        // Fast path: first-touch placement, a thread seen before, and an
        // address in the range its memo remembers (the common case).
        if self.placement == Placement::FirstTouch {
            if let Some(Some(core)) = self.cores.get_mut(thread as usize) {
                let (lo, hi, bucket, _) = core.memo[0];
                if lo <= addr && addr < hi {
                    self.coherence.set_bucket(bucket);
                    let cost = self.coherence.access(core.stats.core, addr, size, write)?;
                    Self::account(core, cost, write, self.costs.store_buffer as usize);
                    return Ok(());
                }
            }
        }
        self.access_general(thread, addr, size, write)
    }

    /// [`OrderingSim::access`] in every case.
    fn access_general(
        &mut self,
        thread: u32,
        addr: u64,
        size: u64,
        write: bool,
    ) -> Result<(), Error> {
        let (bucket, block) = self.lookup(thread, addr)?;
        if self.placement != Placement::FirstTouch {
            if let (Placement::LiftOnExport, Some(start)) = (self.placement, block) {
                self.maybe_lift(thread, start)?;
            }
            self.place(addr, size)?;
        }
        let depth = self.costs.store_buffer as usize;
        let t = thread as usize;
        let Some(Some(core)) = self.cores.get_mut(t) else {
            return Err(invalid(format!("thread {thread} has no state")));
        };
        self.coherence.set_bucket(bucket);
        let cost = self.coherence.access(core.stats.core, addr, size, write)?;
        Self::account(core, cost, write, depth);
        Ok(())
    }

    /// Charges an access of coherence latency `cost` to `core`: a load to
    /// its clock, a store to its store buffer of `depth` entries.
    #[inline(always)]
    fn account(core: &mut Core, cost: f64, write: bool, depth: usize) {
        let s = &mut core.stats;
        if !write {
            s.loads += 1;
            s.clock_ns += cost;
            return;
        }
        s.stores += 1;
        if depth == 0 {
            s.clock_ns += cost;
            return;
        }
        let now = s.clock_ns;
        while core.buffer.front().is_some_and(|done| done <= now) {
            core.buffer.pop_front();
        }
        if core.buffer.len() >= depth {
            let oldest = core.buffer.pop_front().unwrap_or(now);
            s.store_buffer_full_stall_ns += oldest - now;
            s.clock_ns = oldest;
        }
        let start = core.buffer.back().unwrap_or(0.0).max(s.clock_ns);
        core.buffer.push_back(start + cost, depth);
    }

    /// Replays a barrier of base cost `cycles` by `thread`, waiting for
    /// its store buffer to drain if `wait` (and the policy) say so.
    #[inline(always)]
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
            if let Some(last) = core.buffer.back() {
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
        let buckets = self.coherence.buckets();
        let mut sites = Vec::with_capacity(self.site_bucket.len() + 1);
        sites.push(SiteStats {
            site: None,
            counters: buckets.first().copied().unwrap_or_default(),
        });
        for (&site, &b) in &self.site_bucket {
            sites.push(SiteStats {
                site: Some(site),
                counters: buckets.get(b).copied().unwrap_or_default(),
            });
        }
        Report {
            machine: self.machine.name.clone(),
            barrier: self.costs.barrier,
            barrier_variant: self.filter.variant().name().to_string(),
            store_buffer: self.costs.store_buffer,
            placement: self.placement,
            coherence: self.coherence.stats(),
            lift: self.lift,
            gc: self.gc.as_ref().map(|g| g.stats),
            threads: self
                .cores
                .iter()
                .flatten()
                .map(|c| c.stats.clone())
                .collect(),
            sites,
        }
    }
}

fn invalid(m: String) -> Error {
    Error::new(ErrorKind::Invalid(m))
}

#[cfg(test)]
mod tests {
    use super::StoreBuffer;
    use std::collections::VecDeque;

    /// The ring behaves as a `VecDeque` bounded by the depth.
    #[test]
    fn store_buffer_is_a_bounded_fifo() {
        for depth in [1usize, 2, 3, 7] {
            let mut b = StoreBuffer::default();
            let mut q = VecDeque::new();
            for i in 0..200u32 {
                let v = f64::from(i);
                match i % 5 {
                    0 | 1 | 3 if q.len() < depth => {
                        b.push_back(v, depth);
                        q.push_back(v);
                    }
                    2 => assert_eq!(b.pop_front(), q.pop_front()),
                    4 if i % 35 == 4 => {
                        b.clear();
                        q.clear();
                    }
                    _ => assert_eq!(b.pop_front(), q.pop_front()),
                }
                assert_eq!(b.len(), q.len());
                assert_eq!(b.front(), q.front().copied());
                assert_eq!(b.back(), q.back().copied());
            }
        }
    }
}
