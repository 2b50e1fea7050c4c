//! Where threads run and where heap memory lives: thread-to-core pinning
//! and NUMA placement policies for heap blocks.
//!
//! Placement works on 4 KiB pages ([`crate::coherence::PAGE`]): when a
//! block is allocated, each of its pages that has no home node yet gets
//! one from the policy; a page shared by several small blocks keeps the
//! node chosen for the first of them, as on a real machine. Pages outside
//! heap blocks (globals, stacks) are always first-touch.

use crate::coherence::PAGE;
use crate::machine::Machine;
use crate::{Error, ErrorKind};
use loci_trace::Event;
use std::collections::{BTreeMap, HashMap};

/// How heap pages get their home NUMA node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// The node of the core that first touches the page (Linux default).
    FirstTouch,
    /// Heap pages round-robin over the nodes by page number
    /// (`page % nodes`, like `numactl --interleave=all`).
    Interleave,
    /// The node of the core of the allocating thread.
    AllocNode,
    /// Per allocation site, the node of the core of the thread that
    /// accesses the site's blocks most (ties: the lowest thread id); found
    /// by a pass over the whole trace before the replay. Sites never
    /// accessed fall back to first-touch.
    Consumer,
    /// "Local heap, lift on export" (MultiMLton): a block lives on its
    /// allocating thread's node until another trace thread first touches
    /// it; at that touch the block is copied to the toucher's node, which
    /// stalls the toucher for the copy: `dram.latency_ns[to][from] + size /
    /// dram.copy_gbps` ns. After the copy the block's pages are homed on
    /// the new node and the old copy's lines are dropped from every cache
    /// (the new copy starts uncached: a conservative simplification, a
    /// real `memcpy` leaves the tail of the object in the copier's cache).
    /// A block is lifted at most once; pages shared with other blocks move
    /// with it; the GC marker's reads never lift.
    LiftOnExport,
}

impl Placement {
    /// Every policy, with its command-line name.
    pub const ALL: [(Placement, &'static str); 5] = [
        (Placement::FirstTouch, "first-touch"),
        (Placement::Interleave, "interleave"),
        (Placement::AllocNode, "alloc-node"),
        (Placement::Consumer, "consumer"),
        (Placement::LiftOnExport, "lift-on-export"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Placement::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }
}

impl std::str::FromStr for Placement {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Placement::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                Error::new(ErrorKind::Parse(format!(
                    "unknown placement {s:?}: expected first-touch, interleave, alloc-node, consumer or lift-on-export"
                )))
            })
    }
}

/// Which core each trace thread runs on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pinning {
    /// Thread `t` on core `t`: fills socket 0 first.
    Compact,
    /// Threads round-robin over the sockets: thread `t` on socket
    /// `t % sockets`, as that socket's core number `t / sockets`.
    Spread,
    /// Thread `t` on core `list[t]`.
    List(Vec<u32>),
}

impl std::str::FromStr for Pinning {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "compact" => Ok(Pinning::Compact),
            "spread" => Ok(Pinning::Spread),
            _ => s
                .split(',')
                .map(|c| c.trim().parse::<u32>())
                .collect::<Result<Vec<u32>, _>>()
                .map(Pinning::List)
                .map_err(|_| {
                    Error::new(ErrorKind::Parse(format!(
                        "bad pinning {s:?}: expected compact, spread or a list of cores like 0,16,1"
                    )))
                }),
        }
    }
}

impl Pinning {
    /// The core of `thread` on `machine`, or an error naming the thread.
    pub fn core_of(&self, machine: &Machine, thread: u32) -> Result<u32, Error> {
        let core = match self {
            Pinning::Compact => Some(thread),
            Pinning::Spread => {
                let s = machine.topology.sockets;
                let per = machine.cores() / s;
                let i = thread / s;
                (i < per).then(|| (thread % s) * per + i)
            }
            Pinning::List(l) => l.get(thread as usize).copied(),
        };
        match core {
            Some(c) if c < machine.cores() => Ok(c),
            _ => Err(Error::new(ErrorKind::Invalid(format!(
                "thread {thread} has no core under {} pinning on a {}-core machine",
                match self {
                    Pinning::Compact => "compact".to_string(),
                    Pinning::Spread => "spread".to_string(),
                    Pinning::List(l) => format!("the {}-core list", l.len()),
                },
                machine.cores()
            )))),
        }
    }
}

/// Live heap blocks, to attribute accesses to allocation sites.
#[derive(Debug, Default)]
pub struct Blocks {
    /// start -> (end, site)
    live: BTreeMap<u64, (u64, u32)>,
}

impl Blocks {
    /// Applies an `Alloc` or `Free`; other events are ignored.
    pub fn on_event(&mut self, e: &Event) {
        match *e {
            Event::Alloc {
                addr, size, site, ..
            } => {
                self.live.insert(addr, (addr.saturating_add(size), site));
            }
            Event::Free { addr, .. } => {
                self.live.remove(&addr);
            }
            _ => {}
        }
    }

    /// The allocation site of the live block containing `addr`.
    pub fn site_of(&self, addr: u64) -> Option<u32> {
        let (_, &(end, site)) = self.live.range(..=addr).next_back()?;
        (addr < end).then_some(site)
    }
}

/// The consumer pre-pass: for each allocation site, the thread that
/// accesses its blocks most (ties: the lowest thread id).
pub fn main_consumers<'a>(events: impl IntoIterator<Item = &'a Event>) -> BTreeMap<u32, u32> {
    let mut blocks = Blocks::default();
    let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
    for e in events {
        blocks.on_event(e);
        if let Event::Access { thread, addr, .. } = *e {
            if let Some(site) = blocks.site_of(addr) {
                *counts.entry((site, thread)).or_default() += 1;
            }
        }
    }
    let mut best: BTreeMap<u32, (u64, u32)> = BTreeMap::new();
    for ((site, thread), n) in counts {
        let b = best.entry(site).or_insert((n, thread));
        if n > b.0 || (n == b.0 && thread < b.1) {
            *b = (n, thread);
        }
    }
    best.into_iter().map(|(s, (_, t))| (s, t)).collect()
}

/// The home node the policy gives page `page` of a block allocated by a
/// thread on core `alloc_core`, or `None` for first-touch.
pub(crate) fn page_node(
    policy: Placement,
    machine: &Machine,
    page: u64,
    alloc_core: u32,
    consumer_core: Option<u32>,
) -> Option<u32> {
    match policy {
        Placement::FirstTouch => None,
        Placement::Interleave => Some((page % machine.nodes() as u64) as u32),
        Placement::AllocNode | Placement::LiftOnExport => machine.node_of(alloc_core),
        Placement::Consumer => consumer_core.and_then(|c| machine.node_of(c)),
    }
}

/// The pages overlapping `addr .. addr + size`.
pub(crate) fn pages(addr: u64, size: u64) -> std::ops::RangeInclusive<u64> {
    addr / PAGE..=addr.saturating_add(size.max(1) - 1) / PAGE
}
