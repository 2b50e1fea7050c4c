/*!
`loci-sim`: machine models and trace replay for `loci sim`.

It provides:

- [`machine`]: machine descriptions in TOML (topology, caches, core-to-core
  transfer latencies, NUMA DRAM latencies) with validation; the presets in
  the repository's `presets/` directory use this format.
- [`cache`]: set-associative LRU caches.
- [`coherence`]: directory MESI coherence over a machine's caches, with
  core-to-core transfer and NUMA DRAM costs, replaying `loci-trace` events.
- [`cachegrind`] and [`lackey`]: a cachegrind-compatible two-level cache
  simulation driven by Valgrind `lackey --trace-mem=yes` traces, checked
  against cachegrind itself by the `cachegrind` integration test; a lackey
  trace also becomes the loci-trace events of one thread
  ([`lackey::for_each_event`]) for the machine models.
- [`ordering`]: per-core store buffers and barrier costs (`DMB ISH/ISHST/
  ISHLD`, `DSB`, `LDAR`/`STLR`, `MFENCE`, locked RMWs) under a *drain* or an
  *order* barrier implementation, with per-thread simulated clocks.
- [`placement`]: thread-to-core pinning (compact, spread, a list) and heap
  placement policies (first-touch, interleave, allocating thread's node,
  main consumer's node, and MultiMLton's "local heap, lift on export").
- [`variant`]: barrier variants — the trace's barriers dropped or merged
  at chosen sites (e.g. every `DMB ISHST` right after an allocation).
- [`ordering::GcMarker`]: a concurrent GC marker thread reading every live
  heap block periodically; per-allocation-site counters in every report.
- [`replay`]: multi-threaded replay with per-thread clocks that respect
  the recorded acquire/release order, in trace order or in simulated-time
  order.
- [`workload`]: deterministic synthetic workloads (capture by reference,
  producer/consumer, false sharing, publication) as `loci-trace` events.

# Example

```
use loci_sim::cache::Geometry;
use loci_sim::cachegrind::CachegrindSim;
use loci_sim::lackey::for_each_op;

let g = Geometry::parse_cachegrind("32768,8,64").unwrap();
let ll = Geometry::parse_cachegrind("262144,8,64").unwrap();
let mut sim = CachegrindSim::new(g, g, ll).unwrap();
let trace = "I  401000,4\n L 7ff000,8\n L 7ff004,4\n";
for_each_op(trace.as_bytes(), |op| sim.apply(op)).unwrap();
let c = sim.counts();
assert_eq!((c.Ir, c.Dr, c.D1mr), (1, 2, 1));
```
*/
#![deny(missing_docs)]

pub mod cache;
pub mod cachegrind;
pub mod coherence;
pub mod lackey;
pub mod machine;
pub mod ordering;
pub mod placement;
pub mod replay;
pub mod variant;
pub mod workload;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading a file or stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not well-formed (TOML syntax, unknown key, bad trace line).
    #[error("{0}")]
    Parse(String),
    /// The input is well-formed but describes something impossible.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// An error, with the file it concerns when known.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The file concerned, if known.
    pub file: Option<String>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl Error {
    /// An error not tied to a file.
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind, file: None }
    }

    /// The same error, attributed to `file`.
    pub fn in_file(mut self, file: String) -> Self {
        self.file = Some(file);
        self
    }
}
