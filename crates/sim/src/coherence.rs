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

/// Page size used for NUMA placement, in bytes.
pub const PAGE: u64 = 4096;

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

#[derive(Debug, Clone, Default)]
struct Entry {
    /// The core holding the line in M (`true`) or E (`false`).
    owner: Option<(u32, bool)>,
    /// Cores holding the line in S, sorted, without duplicates.
    sharers: Vec<u32>,
}

/// Counters and latencies accumulated by a simulation.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
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
    /// Sum of access latencies per core, in ns.
    pub per_core_latency_ns: Vec<f64>,
}

/// The coherence simulator for one machine.
#[derive(Debug, Clone)]
pub struct Coherence {
    machine: Machine,
    line_bits: u32,
    l1: Vec<Cache>,
    l2: Vec<Cache>,
    l3: Vec<Cache>,
    dir: HashMap<u64, Entry>,
    page_home: HashMap<u64, u32>,
    bindings: Vec<(u64, u64, u32)>,
    stats: Stats,
    l1_ns: f64,
    l2_ns: f64,
    l3_ns: f64,
}

fn invalid(m: String) -> Error {
    Error::new(ErrorKind::Invalid(m))
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
        Ok(Coherence {
            line_bits: c.l1d.line.trailing_zeros(),
            l1: build(cores, c.l1d)?,
            l2: build(cores, c.l2)?,
            l3: build(l3_instances, c.l3)?,
            dir: HashMap::new(),
            page_home: HashMap::new(),
            bindings: Vec::new(),
            stats: Stats {
                per_core_latency_ns: vec![0.0; cores],
                ..Stats::default()
            },
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
        self.page_home.get(&page).copied()
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
        if self.page_home.contains_key(&page) {
            return Ok(false);
        }
        self.page_home.insert(page, node);
        Ok(true)
    }

    /// The statistics so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The MESI state of the line containing `addr` in `core`'s caches.
    pub fn state(&self, core: u32, addr: u64) -> State {
        self.line_state(core, addr >> self.line_bits)
    }

    fn line_state(&self, core: u32, line: u64) -> State {
        match self.dir.get(&line) {
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
            Some(e) if e.sharers.binary_search(&core).is_ok() => State::Shared,
            _ => State::Invalid,
        }
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
    pub fn access(&mut self, core: u32, addr: u64, size: u64, write: bool) -> Result<f64, Error> {
        if core >= self.machine.cores() {
            return Err(invalid(format!(
                "core {core} does not exist (the machine has {} cores)",
                self.machine.cores()
            )));
        }
        let first = addr >> self.line_bits;
        let last = addr.saturating_add(size.max(1) - 1) >> self.line_bits;
        let mut cost = 0.0;
        for line in first..=last {
            cost += self.access_line(core, line, write);
        }
        self.stats.latency_ns += cost;
        self.stats.per_core_latency_ns[core as usize] += cost;
        Ok(cost)
    }

    fn l3_of(&self, core: u32) -> usize {
        let t = &self.machine.topology;
        let die = core / t.cores_per_die;
        match self.machine.caches.l3.shared {
            Sharing::Socket => (die / t.dies_per_socket) as usize,
            _ => die as usize,
        }
    }

    fn node_of(&self, core: u32) -> u32 {
        self.machine.node_of(core).unwrap_or(0)
    }

    /// Latency of a core-to-core transfer, counted by distance.
    fn transfer(&mut self, from: u32, to: u32) -> f64 {
        let m = &self.machine;
        let (same_socket, same_die) = (
            m.socket_of(from) == m.socket_of(to),
            m.die_of(from) == m.die_of(to),
        );
        if !same_socket {
            self.stats.transfers_cross_socket += 1;
        } else if !same_die {
            self.stats.transfers_cross_die += 1;
        } else {
            self.stats.transfers_same_die += 1;
        }
        m.transfer_ns(from, to).unwrap_or(0.0)
    }

    fn private_hit(&mut self, core: u32, line: u64) -> f64 {
        let c = core as usize;
        if !self.l1[c].access_line(line) {
            self.stats.l1_hits += 1;
            self.l1_ns
        } else {
            self.l2[c].access_line(line);
            self.stats.l2_hits += 1;
            self.l2_ns
        }
    }

    fn invalidate_core(&mut self, core: u32, line: u64) {
        self.l1[core as usize].invalidate_line(line);
        self.l2[core as usize].invalidate_line(line);
        self.stats.invalidations += 1;
    }

    /// Invalidates every sharer of `line` except `core`; returns the
    /// latency to the farthest one (0 if none).
    fn invalidate_sharers(&mut self, core: u32, line: u64, sharers: &[u32]) -> f64 {
        let mut worst: f64 = 0.0;
        for &s in sharers.iter().filter(|&&s| s != core) {
            self.invalidate_core(s, line);
            worst = worst.max(self.machine.transfer_ns(core, s).unwrap_or(0.0));
        }
        worst
    }

    fn home_of(&mut self, line: u64, core: u32) -> u32 {
        let page = (line << self.line_bits) / PAGE;
        if let Some(&n) = self.page_home.get(&page) {
            return n;
        }
        let node = self
            .bindings
            .iter()
            .find(|&&(lo, hi, _)| lo <= page && page <= hi)
            .map(|&(_, _, n)| n)
            .unwrap_or_else(|| self.node_of(core));
        self.page_home.insert(page, node);
        node
    }

    fn access_line(&mut self, core: u32, line: u64, write: bool) -> f64 {
        self.stats.accesses += 1;
        if write {
            self.stats.writes += 1;
        } else {
            self.stats.reads += 1;
        }
        match (self.line_state(core, line), write) {
            (State::Modified, _) | (State::Exclusive | State::Shared, false) => {
                self.private_hit(core, line)
            }
            (State::Exclusive, true) => {
                self.dir.entry(line).or_default().owner = Some((core, true));
                self.private_hit(core, line)
            }
            (State::Shared, true) => {
                self.stats.upgrades += 1;
                let hit = self.private_hit(core, line);
                let sharers = self
                    .dir
                    .get(&line)
                    .map(|e| e.sharers.clone())
                    .unwrap_or_default();
                let inval = self.invalidate_sharers(core, line, &sharers);
                self.dir.insert(
                    line,
                    Entry {
                        owner: Some((core, true)),
                        sharers: Vec::new(),
                    },
                );
                self.drop_other_l3(core, line);
                hit + inval
            }
            (State::Invalid, _) => {
                let cost = self.fetch(core, line, write);
                self.fill_private(core, line);
                cost
            }
        }
    }

    /// Brings `line` to `core`, which does not hold it, and updates the
    /// directory; returns the latency.
    fn fetch(&mut self, core: u32, line: u64, write: bool) -> f64 {
        let entry = self.dir.remove(&line).unwrap_or_default();
        let l3 = self.l3_of(core);
        let (cost, new_entry) = if let Some((owner, dirty)) = entry.owner {
            let cost = self.transfer(owner, core);
            if write {
                self.invalidate_core(owner, line);
                (
                    cost,
                    Entry {
                        owner: Some((core, true)),
                        sharers: Vec::new(),
                    },
                )
            } else {
                if dirty {
                    self.stats.writebacks += 1;
                    let l3o = self.l3_of(owner);
                    self.l3[l3o].access_line(line);
                }
                let mut sharers = vec![owner, core];
                sharers.sort_unstable();
                (
                    cost,
                    Entry {
                        owner: None,
                        sharers,
                    },
                )
            }
        } else if !entry.sharers.is_empty() {
            let fetch = if self.l3[l3].contains_line(line) {
                self.l3[l3].access_line(line);
                self.stats.l3_hits += 1;
                self.l3_ns
            } else {
                let m = &self.machine;
                let nearest = entry
                    .sharers
                    .iter()
                    .copied()
                    .min_by(|&a, &b| {
                        let da = m.transfer_ns(a, core).unwrap_or(f64::INFINITY);
                        let db = m.transfer_ns(b, core).unwrap_or(f64::INFINITY);
                        da.total_cmp(&db).then(a.cmp(&b))
                    })
                    .unwrap_or(core);
                self.transfer(nearest, core)
            };
            if write {
                let inval = self.invalidate_sharers(core, line, &entry.sharers);
                (
                    fetch + inval,
                    Entry {
                        owner: Some((core, true)),
                        sharers: Vec::new(),
                    },
                )
            } else {
                let mut sharers = entry.sharers;
                if let Err(i) = sharers.binary_search(&core) {
                    sharers.insert(i, core);
                }
                (
                    fetch,
                    Entry {
                        owner: None,
                        sharers,
                    },
                )
            }
        } else {
            let cost = if !self.l3[l3].access_line(line) {
                self.stats.l3_hits += 1;
                self.l3_ns
            } else {
                let (from, home) = (self.node_of(core), self.home_of(line, core));
                if from == home {
                    self.stats.dram_local += 1;
                } else {
                    self.stats.dram_remote += 1;
                }
                self.machine.dram_ns(from, home).unwrap_or(0.0)
            };
            (
                cost,
                Entry {
                    owner: Some((core, write)),
                    sharers: Vec::new(),
                },
            )
        };
        self.dir.insert(line, new_entry);
        if write {
            self.drop_other_l3(core, line);
        }
        cost
    }

    /// Removes stale copies of `line` from the L3 instances not serving `core`.
    fn drop_other_l3(&mut self, core: u32, line: u64) {
        let mine = self.l3_of(core);
        for (i, l3) in self.l3.iter_mut().enumerate() {
            if i != mine {
                l3.invalidate_line(line);
            }
        }
    }

    /// Installs `line` in `core`'s L2 and L1, evicting as needed.
    fn fill_private(&mut self, core: u32, line: u64) {
        let c = core as usize;
        if let (_, Some(victim)) = self.l2[c].access_line_evict(line) {
            self.l1[c].invalidate_line(victim);
            self.evict(core, victim);
        }
        self.l1[c].access_line(line);
    }

    /// `core`'s private caches dropped `line`: update the directory.
    fn evict(&mut self, core: u32, line: u64) {
        let Some(e) = self.dir.get_mut(&line) else {
            return;
        };
        if let Some((o, dirty)) = e.owner {
            if o == core {
                e.owner = None;
                if dirty {
                    self.stats.writebacks += 1;
                }
            }
        }
        if let Ok(i) = e.sharers.binary_search(&core) {
            e.sharers.remove(i);
        }
        if e.owner.is_none() && e.sharers.is_empty() {
            self.dir.remove(&line);
        }
        let l3 = self.l3_of(core);
        self.l3[l3].access_line(line);
    }

    /// Checks the directory against the caches (an expensive, whole-state
    /// check for tests): single writer or multiple readers per line, every
    /// listed core holds the line in its L2, every L2 line is listed, and
    /// every L1 line is in L2.
    pub fn check_invariants(&self) -> Result<(), String> {
        let cores = self.machine.cores();
        for (&line, e) in &self.dir {
            if e.owner.is_some() && !e.sharers.is_empty() {
                return Err(format!("line {line:#x}: an owner and sharers at once"));
            }
            if e.owner.is_none() && e.sharers.is_empty() {
                return Err(format!("line {line:#x}: empty directory entry"));
            }
            if e.sharers.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!("line {line:#x}: sharers not sorted/unique"));
            }
            let holders = e
                .owner
                .map(|(o, _)| o)
                .into_iter()
                .chain(e.sharers.iter().copied());
            for c in holders {
                if c >= cores || !self.l2[c as usize].contains_line(line) {
                    return Err(format!(
                        "line {line:#x}: core {c} listed but does not hold it"
                    ));
                }
            }
        }
        for c in 0..cores {
            for line in self.l2[c as usize].lines() {
                if self.line_state(c, line) == State::Invalid {
                    return Err(format!(
                        "core {c} holds line {line:#x} unknown to the directory"
                    ));
                }
            }
            for line in self.l1[c as usize].lines() {
                if !self.l2[c as usize].contains_line(line) {
                    return Err(format!("core {c}: L1 line {line:#x} not in L2"));
                }
            }
        }
        Ok(())
    }
}
