//! Directory-based MESI coherence over a [`Machine`]'s caches, with NUMA
//! memory placement and latency accounting.
//!
//! # Model
//!
//! - Each core has a private L1d and L2 (L1 contents are kept a subset of
//!   L2: an L2 eviction or an invalidation removes the line from both).
//!   Coherence state lives at the granularity of the private L2.
//! - A directory maps each line held in some private cache to either one
//!   owner in M or E, or a set of sharers in S — never both (the
//!   single-writer/multiple-reader invariant, checked by
//!   [`Coherence::check_invariants`]).
//! - The shared L3 (one instance per die or per socket) is a non-coherent
//!   LRU cache of data: it is filled from DRAM and by private evictions, and
//!   a write removes the line from every other L3 instance.
//! - Costs, in ns: a private hit costs the L1 or L2 hit cycles; a miss whose
//!   line is owned (M/E) elsewhere costs one core-to-core transfer from the
//!   owner (same die / cross die / cross socket); a read miss on a line only
//!   shared elsewhere costs an L3 hit if the local L3 instance holds it,
//!   otherwise a transfer from the nearest sharer; a line cached nowhere
//!   costs an L3 hit or the DRAM latency from the core's node to the line's
//!   home node. A write to a line held by other cores (S upgrade or write
//!   miss) also pays the transfer latency to the farthest sharer it
//!   invalidates.
//! - Home nodes: pages (4 KiB) bound with [`Coherence::bind`] live on their
//!   bound node; any other page is placed on the node of the first core that
//!   touches it (first-touch).
//!
//! Not modelled here: store buffers and barrier costs (see
//! [`crate::ordering`], which replays on top of this model), prefetching,
//! contention and bandwidth, L3 inclusion/back-invalidation, SMT.

use crate::cache::Cache;
use crate::machine::{Machine, Sharing};
use crate::{Error, ErrorKind};
use loci_trace::Event;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Page size used for NUMA placement, in bytes.
pub const PAGE: u64 = 4096;

/// No line number (line numbers are addresses shifted right by at least 4).
const NO_LINE: u64 = u64::MAX;

/// A multiplicative hasher for line and page numbers (the hot-path maps):
/// one multiply per key instead of SipHash's rounds. Keys come from the
/// trace, not from an adversary, so flooding resistance is not needed.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineHasher(u64);

impl Hasher for LineHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the high bits (used by hashbrown's control
        // bytes) and the low bits (the bucket) both depend on every key bit.
        let x = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// A `HashMap` keyed by line or page numbers, with [`LineHasher`].
pub type LineMap<V> = HashMap<u64, V, BuildHasherDefault<LineHasher>>;

/// The counters of a simulation, for the whole run or one allocation
/// site (see [`Coherence::set_bucket`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Counters {
    /// Line accesses simulated (an access straddling lines counts per line).
    pub accesses: u64,
    /// Of which reads.
    pub reads: u64,
    /// Of which writes.
    pub writes: u64,
    /// Hits in the private L1d.
    pub l1_hits: u64,
    /// Hits in the private L2.
    pub l2_hits: u64,
    /// Hits in the shared L3.
    pub l3_hits: u64,
    /// Fetches from DRAM on the core's own node.
    pub dram_local: u64,
    /// Fetches from DRAM on another node.
    pub dram_remote: u64,
    /// Cache-to-cache transfers between cores of one die.
    pub transfers_same_die: u64,
    /// Cache-to-cache transfers between dies of one socket.
    pub transfers_cross_die: u64,
    /// Cache-to-cache transfers between sockets.
    pub transfers_cross_socket: u64,
    /// Writes to a line held in S (S to M upgrades).
    pub upgrades: u64,
    /// Copies invalidated in other cores' private caches.
    pub invalidations: u64,
    /// Modified lines written back (evicted or downgraded).
    pub writebacks: u64,
    /// Sum of all access latencies, in ns.
    pub latency_ns: f64,
}

impl Counters {
    /// Adds `o` to `self`, field by field.
    pub fn add(&mut self, o: &Counters) {
        self.accesses += o.accesses;
        self.reads += o.reads;
        self.writes += o.writes;
        self.l1_hits += o.l1_hits;
        self.l2_hits += o.l2_hits;
        self.l3_hits += o.l3_hits;
        self.dram_local += o.dram_local;
        self.dram_remote += o.dram_remote;
        self.transfers_same_die += o.transfers_same_die;
        self.transfers_cross_die += o.transfers_cross_die;
        self.transfers_cross_socket += o.transfers_cross_socket;
        self.upgrades += o.upgrades;
        self.invalidations += o.invalidations;
        self.writebacks += o.writebacks;
        self.latency_ns += o.latency_ns;
    }
}

/// MESI state of a line in one core's private caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Modified: the only copy, dirty.
    Modified,
    /// Exclusive: the only copy, clean.
    Exclusive,
    /// Shared: a clean copy, others may exist.
    Shared,
    /// Invalid: not present.
    Invalid,
}

/// Number of cores whose sharer bit lives in [`Sharers::low`].
const LOW_CORES: u32 = 128;

/// A set of cores (the sharers of a line): a bit mask for cores 0 to 127,
/// which needs no allocation, and a sorted list of the cores beyond (absent,
/// and so unallocated, on machines of at most 128 cores). Iteration is in
/// increasing core order. Small (24 bytes), for a dense directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sharers {
    /// Cores 0 to 127, one bit each, in two words (a `u128`'s 16-byte
    /// alignment would pad every directory slot).
    low: [u64; 2],
    /// Cores from 128 on, sorted; `None` rather than an empty list. Boxed
    /// on purpose: a thin pointer (8 bytes, not a `Vec`'s 24) keeps the
    /// directory dense for the common machine, which never allocates it.
    #[allow(clippy::box_collection)]
    high: Option<Box<Vec<u32>>>,
}

impl Sharers {
    /// Cores 0 to 127 as one mask.
    #[inline]
    fn low(&self) -> u128 {
        self.low[0] as u128 | (self.low[1] as u128) << 64
    }

    /// Cores from 128 on.
    #[inline]
    fn high(&self) -> &[u32] {
        self.high.as_deref().map_or(&[], |h| h.as_slice())
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.low == [0, 0] && self.high.is_none()
    }

    #[inline]
    fn contains(&self, core: u32) -> bool {
        if core < LOW_CORES {
            self.low[(core >> 6) as usize] >> (core & 63) & 1 != 0
        } else {
            self.high().binary_search(&core).is_ok()
        }
    }

    #[inline]
    fn insert(&mut self, core: u32) {
        if core < LOW_CORES {
            self.low[(core >> 6) as usize] |= 1 << (core & 63);
        } else {
            self.insert_high(core);
        }
    }

    /// [`Sharers::insert`] of a core beyond the mask.
    #[cold]
    fn insert_high(&mut self, core: u32) {
        let h = self.high.get_or_insert_with(Default::default);
        if let Err(i) = h.binary_search(&core) {
            h.insert(i, core);
        }
    }

    #[inline]
    fn remove(&mut self, core: u32) {
        if core < LOW_CORES {
            self.low[(core >> 6) as usize] &= !(1 << (core & 63));
        } else if let Some(h) = &mut self.high {
            if let Ok(i) = h.binary_search(&core) {
                h.remove(i);
            }
            if h.is_empty() {
                self.high = None;
            }
        }
    }

    /// The cores, in increasing order.
    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let mut m = self.low();
        std::iter::from_fn(move || {
            (m != 0).then(|| {
                let c = m.trailing_zeros();
                m &= m - 1;
                c
            })
        })
        .chain(self.high().iter().copied())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The core holding the line in M (`true`) or E (`false`).
    owner: Option<(u32, bool)>,
    /// Cores holding the line in S.
    sharers: Sharers,
    /// The only L3 instance that may hold the line, or [`ANY_L3`] when
    /// others may too: a write then invalidates the line in that instance
    /// alone instead of scanning every other one. Known after a write
    /// (which drops every other copy) until a write-back or an eviction
    /// puts the line in another instance; a new entry knows nothing (L3
    /// copies outlive directory entries).
    l3: u32,
}

/// [`Entry::l3`] when any L3 instance may hold the line.
const ANY_L3: u32 = u32::MAX;

impl Default for Entry {
    fn default() -> Self {
        Entry {
            owner: None,
            sharers: Sharers::default(),
            l3: ANY_L3,
        }
    }
}

/// A map from line (or page) numbers to `V`: an open-addressing hash
/// table with linear probing, built for the simulator's hot maps (the
/// coherence directory, pages' home nodes, sync objects' release clocks):
/// a lookup is a multiply, a shift and (mostly) one key comparison; a
/// miss can look a key up and insert it in the same probe
/// ([`LineTable::slot`]) and then update the value in place by slot; a
/// removal shifts the following entries back (no tombstones). Keys and
/// values lie side by side, and the table is at most 70 % full: a lookup
/// mostly reads one cache line, and the table stays smaller than a general
/// hash map of the same entries. Every key but `u64::MAX` (the empty-slot
/// mark) can be stored.
#[derive(Debug, Clone)]
pub(crate) struct LineTable<V> {
    /// Each slot's key (or [`NO_LINE`] for an empty slot) and value (the
    /// default in empty slots), side by side: a probe reads one cache line.
    pub(crate) slots: Vec<(u64, V)>,
    /// Occupied slots.
    len: usize,
    /// The most slots that may be occupied (70 % of them): one more
    /// grows the table.
    max_len: usize,
    /// `64 - log2(slots)`: a key's home slot is the top bits of its hash.
    shift: u32,
}

/// The coherence directory: line number -> [`Entry`].
type Directory = LineTable<Entry>;

impl<V: Default + Clone> Default for LineTable<V> {
    fn default() -> Self {
        Self::with_slots(Self::INITIAL_SLOTS)
    }
}

impl<V: Default + Clone> LineTable<V> {
    /// Slots of a new table (a power of two).
    const INITIAL_SLOTS: usize = 1 << 10;

    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn with_slots(n: usize) -> Self {
        debug_assert!(n.is_power_of_two() && n >= 2);
        LineTable {
            slots: vec![(NO_LINE, V::default()); n],
            len: 0,
            max_len: n * 7 / 10,
            shift: 64 - n.trailing_zeros(),
        }
    }

    /// The home slot of `key` (Fibonacci hashing: the top bits of the
    /// product depend on every bit of the key).
    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `key`, if it is in the table.
    #[inline]
    pub(crate) fn find(&self, key: u64) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].0;
            if k == key {
                return (key != NO_LINE).then_some(i);
            }
            if k == NO_LINE {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// The value of `key`, if it is in the table.
    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<&V> {
        self.find(key).map(|i| &self.slots[i].1)
    }

    /// The slot of `key` (not `u64::MAX`), inserting it with the default
    /// value if it was not in the table. The slot stays valid until the
    /// next insertion or removal.
    #[inline]
    pub(crate) fn slot(&mut self, key: u64) -> usize {
        debug_assert!(key != NO_LINE);
        if self.len >= self.max_len {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].0;
            if k == key {
                return i;
            }
            if k == NO_LINE {
                self.slots[i].0 = key;
                self.len += 1;
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Sets the value of `key` (not `u64::MAX`); returns whether the key
    /// is new.
    #[inline]
    pub(crate) fn insert(&mut self, key: u64, value: V) -> bool {
        let len = self.len;
        let i = self.slot(key);
        self.slots[i].1 = value;
        self.len > len
    }

    #[cold]
    fn grow(&mut self) {
        let old = std::mem::replace(self, Self::with_slots(self.slots.len() * 2));
        for (key, v) in old.slots {
            if key != NO_LINE {
                let i = self.slot(key);
                self.slots[i].1 = v;
            }
        }
    }

    /// Removes the key in slot `i`; returns its value.
    pub(crate) fn remove_at(&mut self, mut i: usize) -> V {
        let mask = self.mask();
        let value = std::mem::take(&mut self.slots[i].1);
        // Backward-shift deletion: move up every following entry of the
        // probe run whose home slot is not in (i, j], so that no lookup
        // meets a hole before its key.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let k = self.slots[j].0;
            if k == NO_LINE {
                break;
            }
            let h = self.home(k);
            let stays = if i <= j {
                i < h && h <= j
            } else {
                i < h || h <= j
            };
            if !stays {
                let v = std::mem::take(&mut self.slots[j].1);
                self.slots[i] = (k, v);
                i = j;
            }
        }
        self.slots[i].0 = NO_LINE;
        self.len -= 1;
        value
    }

    /// Removes `key`; returns its value if it was in the table.
    pub(crate) fn remove(&mut self, key: u64) -> Option<V> {
        self.find(key).map(|i| self.remove_at(i))
    }

    /// Every key and its value (in no particular order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &V)> + '_ {
        self.slots
            .iter()
            .filter(|(k, _)| *k != NO_LINE)
            .map(|(k, v)| (*k, v))
    }
}

/// Counters and latencies accumulated by a simulation: the totals of its
/// [`Counters`] (read through `Deref`: `stats.l1_hits`) and the latency
/// per core. Serialised flat, as one object.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// The run's totals.
    #[serde(flatten)]
    pub totals: Counters,
    /// Sum of access latencies per core, in ns.
    pub per_core_latency_ns: Vec<f64>,
}

impl std::ops::Deref for Stats {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        &self.totals
    }
}

impl Stats {
    /// The totals of `counters` (a run's buckets), with per-core latencies.
    pub fn from_counters<'a>(
        counters: impl IntoIterator<Item = &'a Counters>,
        per_core_latency_ns: Vec<f64>,
    ) -> Stats {
        let mut totals = Counters::default();
        for c in counters {
            totals.add(c);
        }
        Stats {
            totals,
            per_core_latency_ns,
        }
    }
}

/// One core's private caches and its place in the machine.
#[derive(Debug, Clone)]
struct Private {
    l1: Cache,
    l2: Cache,
    /// A line the core holds in Modified state (its last write), or
    /// `NO_LINE`: a store hitting it in L1 needs no directory lookup.
    m_line: u64,
    /// Sum of the core's access latencies, in ns.
    latency_ns: f64,
    /// Its node, socket, die and L3 instance.
    node: u32,
    socket: u32,
    die: u32,
    l3: u32,
}

/// The coherence simulator for one machine.
#[derive(Debug, Clone)]
pub struct Coherence {
    machine: Machine,
    line_bits: u32,
    /// `1 << line_bits`.
    line_size: u64,
    /// Per core: its private caches and what the hot paths need to know
    /// about it, side by side (one bounds check per core touched).
    private: Vec<Private>,
    l3: Vec<Cache>,
    dir: Directory,
    page_home: LineTable<u32>,
    /// The pages that have a home, in order (to visit the touched pages of
    /// a block without walking all of it).
    homed: std::collections::BTreeSet<u64>,
    bindings: Vec<(u64, u64, u32)>,
    /// Counters per bucket (bucket 0 unless the caller sets others).
    buckets: Vec<Counters>,
    /// The bucket the current access is counted in.
    bucket: usize,
    /// Number of cores.
    cores: u32,
    l1_ns: f64,
    l2_ns: f64,
    l3_ns: f64,
}

fn invalid(m: String) -> Error {
    Error::new(ErrorKind::Invalid(m))
}

/// The state of a line in `core`'s caches, given its directory entry.
#[inline]
fn state_in(entry: Option<&Entry>, core: u32) -> State {
    match entry {
        Some(Entry {
            owner: Some((o, dirty)),
            ..
        }) if *o == core => {
            if *dirty {
                State::Modified
            } else {
                State::Exclusive
            }
        }
        Some(e) if e.sharers.contains(core) => State::Shared,
        _ => State::Invalid,
    }
}

impl Coherence {
    /// Empty caches and directory for `machine` (which is validated).
    pub fn new(machine: &Machine) -> Result<Coherence, Error> {
        machine.validate()?;
        let cores = machine.cores() as usize;
        let c = &machine.caches;
        let l3_instances = match c.l3.shared {
            Sharing::Socket => machine.topology.sockets,
            _ => machine.topology.sockets * machine.topology.dies_per_socket,
        } as usize;
        let build = |n: usize, level: crate::machine::CacheLevel| -> Result<Vec<Cache>, Error> {
            (0..n).map(|_| Cache::new(level.geometry())).collect()
        };
        let cycles = |n: u32| n as f64 / machine.ghz;
        let t = machine.topology;
        let per_node = t.dies_per_socket * t.cores_per_die / t.nodes_per_socket;
        let per_socket = t.dies_per_socket * t.cores_per_die;
        let private = (0..cores as u32)
            .map(|core| {
                Ok(Private {
                    l1: Cache::new(c.l1d.geometry())?,
                    l2: Cache::new(c.l2.geometry())?,
                    m_line: NO_LINE,
                    latency_ns: 0.0,
                    node: core / per_node,
                    socket: core / per_socket,
                    die: core / t.cores_per_die,
                    l3: match c.l3.shared {
                        Sharing::Socket => core / per_socket,
                        _ => core / t.cores_per_die,
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Coherence {
            line_bits: c.l1d.line.trailing_zeros(),
            line_size: 1 << c.l1d.line.trailing_zeros(),
            private,
            l3: build(l3_instances, c.l3)?,
            dir: Directory::new(),
            page_home: LineTable::new(),
            homed: Default::default(),
            bindings: Vec::new(),
            buckets: vec![Counters::default()],
            bucket: 0,
            cores: cores as u32,
            l1_ns: cycles(c.l1d.hit_cycles),
            l2_ns: cycles(c.l2.hit_cycles),
            l3_ns: cycles(c.l3.hit_cycles),
            machine: machine.clone(),
        })
    }

    /// Places the pages overlapping `addr .. addr + len` on `node` (like
    /// `mbind`); takes effect for pages not yet touched.
    pub fn bind(&mut self, addr: u64, len: u64, node: u32) -> Result<(), Error> {
        if node >= self.machine.nodes() {
            return Err(invalid(format!(
                "node {node} does not exist (the machine has {})",
                self.machine.nodes()
            )));
        }
        if len > 0 {
            self.bindings
                .push((addr / PAGE, addr.saturating_add(len - 1) / PAGE, node));
        }
        Ok(())
    }

    /// The home node of page number `page` (address / [`PAGE`]), once it
    /// has one (it was touched, or placed with [`Coherence::place_page`]).
    pub fn page_home(&self, page: u64) -> Option<u32> {
        self.page_home.get(page).copied()
    }

    /// Gives page number `page` the home node `node` unless it already has
    /// one; returns whether it was placed.
    pub fn place_page(&mut self, page: u64, node: u32) -> Result<bool, Error> {
        if node >= self.machine.nodes() {
            return Err(invalid(format!(
                "node {node} does not exist (the machine has {})",
                self.machine.nodes()
            )));
        }
        if self.page_home.find(page).is_some() {
            return Ok(false);
        }
        if self.page_home.insert(page, node) {
            self.homed.insert(page);
        }
        Ok(true)
    }

    /// Gives page number `page` the home node `node`, replacing any home it
    /// had (an object copied to another node: see
    /// [`crate::placement::Placement::LiftOnExport`]).
    pub fn rehome_page(&mut self, page: u64, node: u32) -> Result<(), Error> {
        if node >= self.machine.nodes() {
            return Err(invalid(format!(
                "node {node} does not exist (the machine has {})",
                self.machine.nodes()
            )));
        }
        if self.page_home.insert(page, node) {
            self.homed.insert(page);
        }
        Ok(())
    }

    /// The pages numbered `lo ..= hi` that have a home (were touched or
    /// placed), in order. Only lines of such pages can be cached.
    pub fn homed_pages(&self, lo: u64, hi: u64) -> impl Iterator<Item = u64> + '_ {
        self.homed.range(lo..=hi.max(lo)).copied()
    }

    /// Drops the line containing `addr` from every cache and from the
    /// directory, without counting invalidations or write-backs: its
    /// memory was copied elsewhere and this copy is dead.
    pub fn purge(&mut self, addr: u64) {
        let line = addr >> self.line_bits;
        if let Some(e) = self.dir.remove(line) {
            for c in e.owner.map(|(o, _)| o).into_iter().chain(e.sharers.iter()) {
                if self.private[c as usize].m_line == line {
                    self.private[c as usize].m_line = NO_LINE;
                }
                self.private[c as usize].l1.invalidate_line(line);
                self.private[c as usize].l2.invalidate_line(line);
            }
        }
        for l3 in &mut self.l3 {
            l3.invalidate_line(line);
        }
    }

    /// Counts the following accesses in bucket `bucket` (0 until changed;
    /// buckets are created as needed). [`Coherence::buckets`] gives each
    /// bucket's counters and [`Coherence::stats`] their sum.
    #[inline]
    pub fn set_bucket(&mut self, bucket: usize) {
        if bucket >= self.buckets.len() {
            self.buckets.resize(bucket + 1, Counters::default());
        }
        self.bucket = bucket;
    }

    /// The counters of every bucket so far, by bucket number.
    pub fn buckets(&self) -> &[Counters] {
        &self.buckets
    }

    /// The statistics so far (the sum of all buckets).
    pub fn stats(&self) -> Stats {
        Stats::from_counters(
            &self.buckets,
            self.private.iter().map(|p| p.latency_ns).collect(),
        )
    }

    #[inline]
    fn k(&mut self) -> &mut Counters {
        &mut self.buckets[self.bucket]
    }

    /// The MESI state of the line containing `addr` in `core`'s caches.
    pub fn state(&self, core: u32, addr: u64) -> State {
        self.line_state(core, addr >> self.line_bits)
    }

    fn line_state(&self, core: u32, line: u64) -> State {
        state_in(self.dir.get(line), core)
    }

    /// Replays one trace event. Thread `t` runs on core `t`; only memory
    /// accesses have a cost in this version, other events are skipped.
    pub fn on_event(&mut self, event: &Event) -> Result<(), Error> {
        if let Event::Access {
            thread,
            addr,
            size,
            write,
            ..
        } = *event
        {
            self.access(thread, addr, size as u64, write)?;
        }
        Ok(())
    }

    /// Simulates `core` reading or writing `addr .. addr + size` (a size of
    /// 0 counts as 1); returns the latency in ns.
    #[inline(always)]
    pub fn access(&mut self, core: u32, addr: u64, size: u64, write: bool) -> Result<f64, Error> {
        if core >= self.cores {
            return Err(invalid(format!(
                "core {core} does not exist (the machine has {} cores)",
                self.machine.cores()
            )));
        }
        let first = addr >> self.line_bits;
        let last = addr.saturating_add(size.max(1) - 1) >> self.line_bits;
        let mut cost = self.access_line(core, first, write);
        if last != first {
            for line in first + 1..=last {
                cost += self.access_line(core, line, write);
            }
        }
        self.k().latency_ns += cost;
        self.private[core as usize].latency_ns += cost;
        Ok(cost)
    }

    /// [`Coherence::access`] in bucket `bucket` (see
    /// [`Coherence::set_bucket`]): what follows a failed
    /// [`Coherence::l1_hit`]. The first line goes straight to the general
    /// path (which counts an L1 hit exactly as the fast path would); an
    /// access of one line is that call and the latency sums, inline.
    #[inline(always)]
    pub fn access_in(
        &mut self,
        bucket: usize,
        core: u32,
        addr: u64,
        size: u64,
        write: bool,
    ) -> Result<f64, Error> {
        let c = core as usize;
        if bucket >= self.buckets.len()
            || core >= self.cores
            || size.max(1) > self.line_size - (addr & (self.line_size - 1))
        {
            return self.access_in_general(bucket, core, addr, size, write);
        }
        self.bucket = bucket;
        let cost = self.access_line_slow(core, addr >> self.line_bits, write);
        self.buckets[bucket].latency_ns += cost;
        self.private[c].latency_ns += cost;
        Ok(cost)
    }

    /// [`Coherence::access_in`] in every case: [`Coherence::access`] in
    /// that bucket.
    #[inline(never)]
    fn access_in_general(
        &mut self,
        bucket: usize,
        core: u32,
        addr: u64,
        size: u64,
        write: bool,
    ) -> Result<f64, Error> {
        self.set_bucket(bucket);
        self.access(core, addr, size, write)
    }

    /// The fast path of [`Coherence::access`] in bucket `bucket` (see
    /// [`Coherence::set_bucket`]): when the access touches one line and
    /// hits the L1 without needing the directory (a read, or a write to
    /// the line the core holds Modified), counts it and returns its
    /// latency; otherwise changes nothing and returns `None`.
    #[inline(always)]
    pub fn l1_hit(
        &mut self,
        core: u32,
        addr: u64,
        size: u64,
        write: bool,
        bucket: usize,
    ) -> Option<f64> {
        // One line: the size (0 counts as 1) fits in what the line has
        // left after the offset.
        if size.max(1) > self.line_size - (addr & (self.line_size - 1)) {
            return None;
        }
        let line = addr >> self.line_bits;
        let p = self.private.get_mut(core as usize)?;
        if write && p.m_line != line {
            return None;
        }
        let k = self.buckets.get_mut(bucket)?;
        if !p.l1.hit_line(line) {
            return None;
        }
        self.bucket = bucket;
        let cost = self.l1_ns;
        k.accesses += 1;
        if write {
            k.writes += 1;
        } else {
            k.reads += 1;
        }
        k.l1_hits += 1;
        k.latency_ns += cost;
        p.latency_ns += cost;
        Some(cost)
    }

    #[inline]
    fn l3_of(&self, core: u32) -> usize {
        self.private[core as usize].l3 as usize
    }

    #[inline]
    fn node_of(&self, core: u32) -> u32 {
        self.private[core as usize].node
    }

    /// Latency in ns between the caches of two (valid) cores.
    #[inline]
    fn distance_ns(&self, from: u32, to: u32) -> f64 {
        let t = &self.machine.transfer;
        if self.private[from as usize].socket != self.private[to as usize].socket {
            t.cross_socket_ns
        } else if self.private[from as usize].die != self.private[to as usize].die {
            t.cross_die_ns
        } else {
            t.same_die_ns
        }
    }

    /// Latency of a core-to-core transfer, counted by distance.
    #[inline]
    fn transfer(&mut self, from: u32, to: u32) -> f64 {
        let k = &mut self.buckets[self.bucket];
        let t = &self.machine.transfer;
        if self.private[from as usize].socket != self.private[to as usize].socket {
            k.transfers_cross_socket += 1;
            t.cross_socket_ns
        } else if self.private[from as usize].die != self.private[to as usize].die {
            k.transfers_cross_die += 1;
            t.cross_die_ns
        } else {
            k.transfers_same_die += 1;
            t.same_die_ns
        }
    }

    /// A hit in `core`'s private caches (the line is in its L2): in the
    /// L1, or in the L2 and then brought into the L1.
    #[inline]
    fn private_hit(&mut self, core: u32, line: u64) -> f64 {
        let c = core as usize;
        if self.private[c].l1.hit_line(line) {
            self.k().l1_hits += 1;
            self.l1_ns
        } else {
            self.private[c].l1.insert_absent(line);
            self.private[c].l2.access_line(line);
            self.k().l2_hits += 1;
            self.l2_ns
        }
    }

    /// Drops `line` from `core`'s private caches (another core writes it).
    #[inline(always)]
    fn invalidate_core(&mut self, core: u32, line: u64) {
        if self.private[core as usize].m_line == line {
            self.private[core as usize].m_line = NO_LINE;
        }
        self.private[core as usize].l1.invalidate_line(line);
        self.private[core as usize].l2.invalidate_line(line);
        self.k().invalidations += 1;
    }

    /// Invalidates every sharer of `line` except `core`; returns the
    /// latency to the farthest one (0 if none).
    fn invalidate_sharers(&mut self, core: u32, line: u64, sharers: &Sharers) -> f64 {
        let mut worst: f64 = 0.0;
        // The bit mask first (a plain loop: the common case), then the
        // cores beyond it; increasing core order either way.
        // The mask word by word (no 128-bit arithmetic).
        for (base, &word) in (0u32..).step_by(64).zip(&sharers.low) {
            let mut m = word;
            while m != 0 {
                let s = base + m.trailing_zeros();
                m &= m - 1;
                if s != core {
                    self.invalidate_core(s, line);
                    worst = worst.max(self.distance_ns(core, s));
                }
            }
        }
        for &s in sharers.high() {
            if s != core {
                self.invalidate_core(s, line);
                worst = worst.max(self.distance_ns(core, s));
            }
        }
        worst
    }

    fn home_of(&mut self, line: u64, core: u32) -> u32 {
        let page = (line << self.line_bits) / PAGE;
        if let Some(&n) = self.page_home.get(page) {
            return n;
        }
        let node = self
            .bindings
            .iter()
            .find(|&&(lo, hi, _)| lo <= page && page <= hi)
            .map(|&(_, _, n)| n)
            .unwrap_or_else(|| self.node_of(core));
        if self.page_home.insert(page, node) {
            self.homed.insert(page);
        }
        node
    }

    #[inline]
    fn access_line(&mut self, core: u32, line: u64, write: bool) -> f64 {
        // Fast path, no directory lookup: a read hitting the L1 (L1 lines
        // are always in L2 and listed in the directory, so the core holds
        // the line in M, E or S, and a read needs nothing more).
        // Likewise a write hitting the L1 on the line the core last wrote,
        // while it still holds it Modified (`m_line` is cleared whenever
        // the core loses M: invalidation, downgrade, eviction, purge).
        let c = core as usize;
        if (!write || self.private[c].m_line == line) && self.private[c].l1.hit_line(line) {
            let k = &mut self.buckets[self.bucket];
            k.accesses += 1;
            if write {
                k.writes += 1;
            } else {
                k.reads += 1;
            }
            k.l1_hits += 1;
            return self.l1_ns;
        }
        self.access_line_slow(core, line, write)
    }

    /// [`Coherence::access_line`] past the fast path. The line's directory
    /// entry is found (or made, empty) by one probe and updated in place
    /// by its slot: no entry is moved out and back.
    fn access_line_slow(&mut self, core: u32, line: u64, write: bool) -> f64 {
        let c = core as usize;
        if write {
            // Every write below leaves the core holding the line in M.
            self.private[c].m_line = line;
        }
        let k = &mut self.buckets[self.bucket];
        k.accesses += 1;
        if write {
            k.writes += 1;
        } else {
            k.reads += 1;
        }
        let slot = self.dir.slot(line);
        let e = &mut self.dir.slots[slot].1;
        let cost = match e.owner {
            // Modified or Exclusive here: a private hit (a write makes it
            // Modified).
            Some((o, dirty)) if o == core => {
                if write && !dirty {
                    e.owner = Some((core, true));
                }
                return self.private_hit(core, line);
            }
            Some((owner, dirty)) => self.fetch_from_owner(core, line, write, owner, dirty, slot),
            None if e.sharers.contains(core) => {
                if !write {
                    return self.private_hit(core, line);
                }
                // Shared here, written: an upgrade.
                e.owner = Some((core, true));
                let sharers = std::mem::take(&mut e.sharers);
                self.k().upgrades += 1;
                let hit = self.private_hit(core, line);
                let inval = self.invalidate_sharers(core, line, &sharers);
                self.drop_other_l3(core, line, slot);
                return hit + inval;
            }
            None if e.sharers.is_empty() => self.fetch_from_memory(core, line, write, slot),
            None => self.fetch_from_sharers(core, line, write, slot),
        };
        if write {
            self.drop_other_l3(core, line, slot);
        }
        self.fill_private(core, line);
        cost
    }

    /// Brings `line` to `core` from `owner`, which holds it Modified
    /// (`dirty`) or Exclusive, and updates the line's directory entry in
    /// `slot`; returns the latency.
    fn fetch_from_owner(
        &mut self,
        core: u32,
        line: u64,
        write: bool,
        owner: u32,
        dirty: bool,
        slot: usize,
    ) -> f64 {
        let cost = self.transfer(owner, core);
        let e = &mut self.dir.slots[slot].1;
        if write {
            e.owner = Some((core, true));
            self.invalidate_core(owner, line);
        } else {
            // An owned line has no sharers: the two cores become them.
            e.owner = None;
            e.sharers.insert(owner);
            e.sharers.insert(core);
            if self.private[owner as usize].m_line == line {
                self.private[owner as usize].m_line = NO_LINE;
            }
            if dirty {
                self.k().writebacks += 1;
                let l3o = self.l3_of(owner);
                self.l3[l3o].access_line(line);
                let e = &mut self.dir.slots[slot].1;
                if e.l3 as usize != l3o {
                    e.l3 = ANY_L3;
                }
            }
        }
        cost
    }

    /// Brings `line` to `core` when other cores share it (none owns it)
    /// and updates the line's directory entry in `slot`; returns the
    /// latency: an L3 hit, else a transfer from the nearest sharer, plus
    /// for a write the invalidation of the farthest sharer.
    fn fetch_from_sharers(&mut self, core: u32, line: u64, write: bool, slot: usize) -> f64 {
        let l3 = self.l3_of(core);
        let fetch = if self.l3[l3].hit_line(line) {
            self.k().l3_hits += 1;
            self.l3_ns
        } else {
            let nearest = self.dir.slots[slot]
                .1
                .sharers
                .iter()
                .min_by(|&a, &b| {
                    let (da, db) = (self.distance_ns(a, core), self.distance_ns(b, core));
                    da.total_cmp(&db).then(a.cmp(&b))
                })
                .unwrap_or(core);
            self.transfer(nearest, core)
        };
        let e = &mut self.dir.slots[slot].1;
        if write {
            e.owner = Some((core, true));
            let sharers = std::mem::take(&mut e.sharers);
            fetch + self.invalidate_sharers(core, line, &sharers)
        } else {
            e.sharers.insert(core);
            fetch
        }
    }

    /// Brings `line`, cached in no private cache, to `core` from its L3
    /// instance or from DRAM, and makes `core` its owner in the (empty)
    /// directory entry in `slot`; returns the latency.
    fn fetch_from_memory(&mut self, core: u32, line: u64, write: bool, slot: usize) -> f64 {
        let l3 = self.l3_of(core);
        let cost = if !self.l3[l3].access_line(line) {
            self.k().l3_hits += 1;
            self.l3_ns
        } else {
            let (from, home) = (self.node_of(core), self.home_of(line, core));
            if from == home {
                self.k().dram_local += 1;
            } else {
                self.k().dram_remote += 1;
            }
            self.machine.dram_ns(from, home).unwrap_or(0.0)
        };
        self.dir.slots[slot].1.owner = Some((core, write));
        cost
    }

    /// Removes stale copies of `line` from the L3 instances not serving `core`.
    /// `core`, whose line's directory entry is in `slot`, writes `line`:
    /// its L3 instance becomes the only one that may hold the line.
    #[inline(always)]
    fn drop_other_l3(&mut self, core: u32, line: u64, slot: usize) {
        let mine = self.l3_of(core);
        let only = std::mem::replace(&mut self.dir.slots[slot].1.l3, mine as u32);
        if only == ANY_L3 {
            for (i, l3) in self.l3.iter_mut().enumerate() {
                if i != mine {
                    l3.invalidate_line(line);
                }
            }
        } else if only as usize != mine {
            // No other instance has it (see `Entry::l3`).
            self.l3[only as usize].invalidate_line(line);
        }
    }

    /// Installs `line` in `core`'s L2 and L1, evicting as needed. The core
    /// does not hold the line (its directory state was Invalid, so it is
    /// not in its L2, nor in its L1, a subset of the L2): no lookup.
    fn fill_private(&mut self, core: u32, line: u64) {
        let c = core as usize;
        if let Some(victim) = self.private[c].l2.insert_absent(line) {
            self.private[c].l1.invalidate_line(victim);
            self.evict(core, victim);
        }
        self.private[c].l1.insert_absent(line);
    }

    /// `core`'s private caches dropped `line`: update the directory.
    fn evict(&mut self, core: u32, line: u64) {
        let l3 = self.l3_of(core);
        if self.private[core as usize].m_line == line {
            self.private[core as usize].m_line = NO_LINE;
        }
        let Some(slot) = self.dir.find(line) else {
            return;
        };
        let e = &mut self.dir.slots[slot].1;
        if let Some((o, dirty)) = e.owner {
            if o == core {
                e.owner = None;
                if dirty {
                    self.buckets[self.bucket].writebacks += 1;
                }
            }
        }
        e.sharers.remove(core);
        if e.owner.is_none() && e.sharers.is_empty() {
            self.dir.remove_at(slot);
        } else if e.l3 as usize != l3 {
            // The line goes to this core's L3 instance, maybe another one.
            e.l3 = ANY_L3;
        }
        self.l3[l3].access_line(line);
    }

    /// Checks the directory against the caches (an expensive, whole-state
    /// check for tests): single writer or multiple readers per line, every
    /// listed core holds the line in its L2, every L2 line is listed, and
    /// every L1 line is in L2; a line whose entry names the only L3
    /// instance that may hold it is in no other.
    pub fn check_invariants(&self) -> Result<(), String> {
        let cores = self.machine.cores();
        for (line, e) in self.dir.iter() {
            if e.owner.is_some() && !e.sharers.is_empty() {
                return Err(format!("line {line:#x}: an owner and sharers at once"));
            }
            if e.owner.is_none() && e.sharers.is_empty() {
                return Err(format!("line {line:#x}: empty directory entry"));
            }
            if e.sharers.high().windows(2).any(|w| w[0] >= w[1])
                || e.sharers.high().first().is_some_and(|&c| c < LOW_CORES)
                || e.sharers.high.as_ref().is_some_and(|h| h.is_empty())
            {
                return Err(format!("line {line:#x}: sharers not sorted/unique"));
            }
            if e.l3 != ANY_L3 {
                let others = (0..self.l3.len()).filter(|&i| i != e.l3 as usize);
                if let Some(i) = others.into_iter().find(|&i| self.l3[i].contains_line(line)) {
                    return Err(format!(
                        "line {line:#x}: only L3 instance {} may hold it, but instance {i} does",
                        e.l3
                    ));
                }
            }
            let holders = e.owner.map(|(o, _)| o).into_iter().chain(e.sharers.iter());
            for c in holders {
                if c >= cores || !self.private[c as usize].l2.contains_line(line) {
                    return Err(format!(
                        "line {line:#x}: core {c} listed but does not hold it"
                    ));
                }
            }
        }
        for c in 0..cores {
            for line in self.private[c as usize].l2.lines() {
                if self.line_state(c, line) == State::Invalid {
                    return Err(format!(
                        "core {c} holds line {line:#x} unknown to the directory"
                    ));
                }
            }
            let m = self.private[c as usize].m_line;
            if m != NO_LINE && self.line_state(c, m) != State::Modified {
                return Err(format!(
                    "core {c}: remembered as holding line {m:#x} Modified, but it does not"
                ));
            }
            for line in self.private[c as usize].l1.lines() {
                if !self.private[c as usize].l2.contains_line(line) {
                    return Err(format!("core {c}: L1 line {line:#x} not in L2"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Directory, Entry, HashMap};

    /// A directory entry stays small: the directory is probed on every
    /// miss (owner and dirty bit, the sharer mask and its overflow
    /// pointer, the only L3 instance that may hold the line).
    #[test]
    fn a_directory_entry_is_40_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    /// The directory agrees with a `HashMap` through inserts, updates and
    /// removals, across growth and with colliding probe runs.
    #[test]
    fn directory_matches_a_hash_map() {
        let mut d = Directory::with_slots(4);
        let mut m: HashMap<u64, u32> = HashMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct lines, so that removals hit listed ones.
            let line = (x % 300) * if x & 1 == 0 { 1 } else { 1 << 20 };
            if x >> 60 < 9 {
                let i = d.slot(line);
                d.slots[i].1.owner = Some((step, false));
                m.insert(line, step);
            } else {
                let got = d.remove(line).and_then(|e| e.owner).map(|(o, _)| o);
                assert_eq!(got, m.remove(&line), "removing line {line}");
            }
            assert_eq!(d.len, m.len());
        }
        for (&line, &v) in &m {
            assert_eq!(d.get(line).and_then(|e| e.owner), Some((v, false)));
        }
        let listed: Vec<(u64, Option<(u32, bool)>)> = d.iter().map(|(l, e)| (l, e.owner)).collect();
        assert_eq!(listed.len(), m.len());
        assert!(d.get(u64::MAX - 1).is_none());
    }
}
