//! Machine descriptions: topology, caches, core-to-core transfer latencies
//! and NUMA DRAM latencies, read from TOML.
//!
//! Cores are numbered densely: socket-major, then die, then core within the
//! die. NUMA nodes split each socket's cores into equal contiguous ranges.
//! A *die* is the group of cores sharing the innermost shared cache (an AMD
//! CCX, an Arm cluster or SCCL, or a whole Intel socket).
//!
//! ```toml
//! name = "example"
//! ghz = 2.0
//! [topology]
//! sockets = 2
//! dies_per_socket = 1
//! cores_per_die = 4
//! nodes_per_socket = 1
//! [caches.l1d]
//! size = 32768
//! assoc = 8
//! line = 64
//! hit_cycles = 4
//! [caches.l2]
//! size = 1048576
//! assoc = 16
//! line = 64
//! hit_cycles = 14
//! [caches.l3]
//! size = 8388608
//! assoc = 16
//! line = 64
//! hit_cycles = 50
//! shared = "socket"
//! inclusive = false
//! [transfer]
//! same_die_ns = 40.0
//! cross_die_ns = 40.0
//! cross_socket_ns = 130.0
//! [dram]
//! latency_ns = [[85.0, 135.0], [135.0, 85.0]]
//! copy_gbps = 10.0
//! ```

use crate::cache::Geometry;
use crate::ordering::OrderingCosts;
use crate::{Error, ErrorKind};
use serde::Deserialize;
use std::path::Path;

/// A whole machine.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Human-readable name.
    pub name: String,
    /// Core clock in GHz, to convert cache hit cycles to nanoseconds.
    pub ghz: f64,
    /// Sockets, dies, cores and NUMA nodes.
    pub topology: Topology,
    /// The cache hierarchy.
    pub caches: Caches,
    /// Cache-to-cache transfer latencies.
    pub transfer: Transfer,
    /// DRAM latencies.
    pub dram: Dram,
    /// Store buffers and barrier costs; without it, no store buffer and
    /// free barriers ([`OrderingCosts::NONE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering: Option<OrderingCosts>,
}

/// Counts of sockets, dies, cores and NUMA nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Number of sockets (packages).
    pub sockets: u32,
    /// Dies (groups sharing the last-level cache) per socket.
    pub dies_per_socket: u32,
    /// Cores per die.
    pub cores_per_die: u32,
    /// NUMA nodes per socket.
    pub nodes_per_socket: u32,
}

/// Which cores share a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// Private to one core.
    Core,
    /// Shared by the cores of one die.
    Die,
    /// Shared by the cores of one socket.
    Socket,
}

/// One cache level.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheLevel {
    /// Capacity in bytes (per instance).
    pub size: u64,
    /// Ways per set.
    pub assoc: u32,
    /// Line size in bytes.
    pub line: u32,
    /// Load-to-use latency of a hit, in core cycles.
    pub hit_cycles: u32,
    /// Who shares one instance; private (`core`) unless given.
    #[serde(default = "private")]
    pub shared: Sharing,
    /// Whether the level holds every line of the levels above it.
    #[serde(default)]
    pub inclusive: bool,
}

fn private() -> Sharing {
    Sharing::Core
}

impl CacheLevel {
    /// The geometry (size, assoc, line) of this level.
    pub fn geometry(&self) -> Geometry {
        Geometry {
            size: self.size,
            assoc: self.assoc,
            line: self.line,
        }
    }
}

/// The cache hierarchy: private L1d and L2, and a shared L3.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Caches {
    /// Level-1 data cache, private.
    pub l1d: CacheLevel,
    /// Level-2 cache, private.
    pub l2: CacheLevel,
    /// Last-level cache, shared per die or per socket.
    pub l3: CacheLevel,
}

/// Latency of moving a cache line from one core's cache to another's.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Between two cores of the same die, in ns.
    pub same_die_ns: f64,
    /// Between two dies of the same socket, in ns.
    pub cross_die_ns: f64,
    /// Between two sockets, in ns.
    pub cross_socket_ns: f64,
}

/// DRAM latencies.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dram {
    /// `latency_ns[a][b]`: load latency in ns from a core on node `a` to
    /// memory on node `b`.
    pub latency_ns: Vec<Vec<f64>>,
    /// Bandwidth in GB/s (bytes per ns) of one core copying an object
    /// from one node's memory to another's, as `memcpy` does: the
    /// "local heap, lift on export" placement charges a lift
    /// `latency_ns[to][from] + bytes / copy_gbps` ns. Optional; required
    /// only by that placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_gbps: Option<f64>,
}

impl Machine {
    /// Reads and validates a machine file; errors name the file.
    pub fn load(path: &Path) -> Result<Machine, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Io(e)).in_file(path.display().to_string()))?;
        Machine::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates a machine description; `origin` (a file name)
    /// is named in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Machine, Error> {
        let m: Machine = toml::from_str(text).map_err(|e| {
            Error::new(ErrorKind::Parse(e.to_string().trim_end().to_string()))
                .in_file(origin.to_string())
        })?;
        m.validate().map_err(|e| e.in_file(origin.to_string()))?;
        Ok(m)
    }

    /// Checks that the machine can exist.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::new(ErrorKind::Invalid(m)));
        let t = &self.topology;
        for (name, v) in [
            ("topology.sockets", t.sockets),
            ("topology.dies_per_socket", t.dies_per_socket),
            ("topology.cores_per_die", t.cores_per_die),
            ("topology.nodes_per_socket", t.nodes_per_socket),
        ] {
            if v == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        let per_socket = t.dies_per_socket as u64 * t.cores_per_die as u64;
        if per_socket % t.nodes_per_socket as u64 != 0 {
            return bad(format!(
                "topology.nodes_per_socket = {}: {per_socket} cores per socket cannot be split evenly into {} NUMA nodes, so some core would be on no node",
                t.nodes_per_socket, t.nodes_per_socket
            ));
        }
        if self.cores() > 1 << 20 {
            return bad(format!("{} cores is more than loci supports", self.cores()));
        }
        if !(self.ghz.is_finite() && self.ghz > 0.0) {
            return bad(format!("ghz must be positive, got {}", self.ghz));
        }
        let c = &self.caches;
        for (name, level) in [("l1d", c.l1d), ("l2", c.l2), ("l3", c.l3)] {
            level.geometry().validate().map_err(|e| {
                let why = match e.kind {
                    ErrorKind::Invalid(m) => m,
                    other => other.to_string(),
                };
                Error::new(ErrorKind::Invalid(format!("caches.{name}: {why}")))
            })?;
            if level.line != c.l1d.line {
                return bad(format!(
                    "caches.{name}.line is {} but caches.l1d.line is {}: all levels must share one line size",
                    level.line, c.l1d.line
                ));
            }
        }
        if c.l1d.shared != Sharing::Core || c.l2.shared != Sharing::Core {
            return bad("caches.l1d and caches.l2 must be private (shared = \"core\")".into());
        }
        if c.l3.shared == Sharing::Core {
            return bad("caches.l3 must be shared (\"die\" or \"socket\")".into());
        }
        for (name, v) in [
            ("transfer.same_die_ns", self.transfer.same_die_ns),
            ("transfer.cross_die_ns", self.transfer.cross_die_ns),
            ("transfer.cross_socket_ns", self.transfer.cross_socket_ns),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} must be positive, got {v}"));
            }
        }
        let nodes = self.nodes() as usize;
        let d = &self.dram.latency_ns;
        if d.len() != nodes || d.iter().any(|row| row.len() != nodes) {
            return bad(format!(
                "dram.latency_ns must be a {nodes}x{nodes} matrix (one row and column per NUMA node)"
            ));
        }
        if let Some(v) = d.iter().flatten().find(|v| !(v.is_finite() && **v > 0.0)) {
            return bad(format!("dram.latency_ns entries must be positive, got {v}"));
        }
        if let Some(g) = self.dram.copy_gbps {
            if !(g.is_finite() && g > 0.0) {
                return bad(format!("dram.copy_gbps must be positive, got {g}"));
            }
        }
        if let Some(o) = &self.ordering {
            o.validate()?;
        }
        Ok(())
    }

    /// Total number of cores.
    pub fn cores(&self) -> u32 {
        let t = &self.topology;
        t.sockets
            .saturating_mul(t.dies_per_socket)
            .saturating_mul(t.cores_per_die)
    }

    /// Total number of NUMA nodes.
    pub fn nodes(&self) -> u32 {
        self.topology.sockets * self.topology.nodes_per_socket
    }

    fn cores_per_socket(&self) -> u32 {
        self.topology.dies_per_socket * self.topology.cores_per_die
    }

    /// The socket of `core`, or `None` if there is no such core.
    pub fn socket_of(&self, core: u32) -> Option<u32> {
        (core < self.cores()).then(|| core / self.cores_per_socket())
    }

    /// The global die number of `core`.
    pub fn die_of(&self, core: u32) -> Option<u32> {
        (core < self.cores()).then(|| core / self.topology.cores_per_die)
    }

    /// The NUMA node of `core`.
    pub fn node_of(&self, core: u32) -> Option<u32> {
        let per_node = self.cores_per_socket() / self.topology.nodes_per_socket;
        (core < self.cores()).then(|| core / per_node)
    }

    /// Latency in ns of moving a line from `from`'s cache to `to`'s:
    /// same die, cross die or cross socket. `None` for unknown cores.
    pub fn transfer_ns(&self, from: u32, to: u32) -> Option<f64> {
        let t = &self.transfer;
        Some(if self.socket_of(from)? != self.socket_of(to)? {
            t.cross_socket_ns
        } else if self.die_of(from)? != self.die_of(to)? {
            t.cross_die_ns
        } else {
            t.same_die_ns
        })
    }

    /// DRAM latency in ns for a core on node `from` reading memory on `to`.
    pub fn dram_ns(&self, from: u32, to: u32) -> Option<f64> {
        self.dram
            .latency_ns
            .get(from as usize)?
            .get(to as usize)
            .copied()
    }
}
