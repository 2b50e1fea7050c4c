//! `loci sim`: trace-driven cache simulation and machine descriptions.
//!
//! The cachegrind-compatible cache model replaying a Valgrind lackey
//! trace; directory MESI coherence, store buffers and barrier costs on a
//! machine file replaying a loci trace or a synthetic workload, under
//! placement policies, barrier variants and an optional GC marker;
//! `--compare` runs every combination in parallel (rayon) and prints one
//! table; loading/checking machine files (presets).

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loci_sim::cache::Geometry;
use loci_sim::cachegrind::{CachegrindSim, Counts};
use loci_sim::lackey::{for_each_event, for_each_op};
use loci_sim::machine::Machine;
use loci_sim::ordering::{BarrierPolicy, GcMarker, OrderingCosts, OrderingSim, Report};
use loci_sim::placement::{main_consumers, Pinning, Placement};
use loci_sim::replay::{replay_timed_progress, InOrder};
use loci_sim::variant::BarrierVariant;
use loci_sim::workload::{generate, Params, Workload};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `loci sim`.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  valgrind --tool=lackey --trace-mem=yes --log-file=prog.lackey ./prog
  loci sim --cache-model cachegrind --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 prog.lackey
  loci sim --cache-model cachegrind --I1=... --D1=... --LL=... --json prog.lackey
  loci sim --machine presets/epyc-7r13-2s.toml     check a machine file and print its shape
  loci sim --machine presets/epyc-7r13-2s.toml run.locitrace
                                                   MESI coherence + NUMA costs of a loci trace
                                                   (thread N runs on core N), store buffers
                                                   and barrier stalls per thread
  loci sim --machine presets/xeon-gold-6242-2s.toml --import lackey prog.lackey
                                                   a single-threaded program's lackey trace on a
                                                   machine (thread 0 on core 0, first-touch)
  loci sim --machine presets/graviton2.toml --barrier order --store-buffer 16 run.locitrace
  loci sim --machine presets/generic-2s.toml --workload capture-by-ref --pin spread \
           --compare first-touch,interleave,alloc-node,consumer,lift-on-export
  loci sim --machine presets/graviton2.toml --workload publication \
           --compare as-traced,drop-ishst-after-alloc,drain,order,no-gc,gc:2us
                                                   one table: the cross product of the placements,
                                                   barrier variants, drain/order and GC markers listed
  loci sim --workload false-sharing --threads 4 --iters 100 --emit-trace fs.locitrace
  loci sim --machine presets/xeon-gold-6242-2s.toml --schedule timed --pin 0,16 fs.locitrace

With the same geometry, the counts equal cachegrind's
(valgrind --tool=cachegrind --cache-sim=yes --I1=... --D1=... --LL=...).")]
pub struct SimArgs {
    /// Trace to replay (`-` for stdin): a Valgrind `lackey --trace-mem=yes`
    /// trace for `cachegrind`; for `mesi` a loci trace, or a lackey trace
    /// with --import lackey.
    pub trace: Option<PathBuf>,

    /// Format of the trace: `loci` (the default for mesi) or `lackey` (a
    /// Valgrind `lackey --trace-mem=yes` trace: the only format of
    /// cachegrind; for mesi, a single-threaded program replayed as thread 0,
    /// its data accesses only).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub import: Option<Import>,

    /// Cache model: `mesi` when --machine is given, else `cachegrind`.
    #[arg(long, value_enum)]
    pub cache_model: Option<CacheModel>,

    /// Level-1 instruction cache, cachegrind syntax: size,assoc,line_size.
    #[arg(long = "I1", value_name = "SIZE,ASSOC,LINE")]
    pub i1: Option<String>,

    /// Level-1 data cache, cachegrind syntax: size,assoc,line_size.
    #[arg(long = "D1", value_name = "SIZE,ASSOC,LINE")]
    pub d1: Option<String>,

    /// Last-level cache, cachegrind syntax: size,assoc,line_size.
    #[arg(long = "LL", value_name = "SIZE,ASSOC,LINE")]
    pub ll: Option<String>,

    /// Machine description (TOML); without a trace, check and summarise it.
    #[arg(long, value_name = "FILE")]
    pub machine: Option<PathBuf>,

    /// Barrier implementation (mesi): `drain` waits for the store buffer to
    /// empty, `order` only keeps later stores behind; default: the
    /// machine's `[ordering] barrier`.
    #[arg(long, value_enum)]
    pub barrier: Option<Barrier>,

    /// Store-buffer entries per core (mesi; 0: none); default: the
    /// machine's `[ordering] store_buffer`.
    #[arg(long, value_name = "N")]
    pub store_buffer: Option<u32>,

    /// Generate a synthetic workload instead of reading a trace:
    /// capture-by-ref, producer-consumer, false-sharing or publication.
    #[arg(long, value_name = "NAME")]
    pub workload: Option<String>,

    /// Threads of the --workload (default 2).
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,

    /// Iterations per thread of the --workload (default 1000).
    #[arg(long, value_name = "N")]
    pub iters: Option<u32>,

    /// Bytes of the --workload's shared block or published objects, a
    /// multiple of 64 (default 4096).
    #[arg(long, value_name = "BYTES")]
    pub object_size: Option<u64>,

    /// Also write the --workload's events as a loci trace to FILE.
    #[arg(long, value_name = "FILE")]
    pub emit_trace: Option<PathBuf>,

    /// Heap placement: first-touch (default), interleave, alloc-node,
    /// consumer (the node of the thread using an allocation site most) or
    /// lift-on-export (allocator's node until another thread touches a
    /// block, then copied to that thread's node; needs dram.copy_gbps).
    #[arg(long, value_name = "POLICY")]
    pub placement: Option<String>,

    /// Compare runs in one table, with ratios against the first run: a
    /// list of placements (first-touch, consumer, lift-on-export, ...),
    /// barrier variants (as-traced, drop-ishst-after-alloc, drop:KIND, ...),
    /// barrier implementations (drain, order) and GC markers (no-gc,
    /// gc:PERIOD); every combination is run, in parallel.
    #[arg(long, value_name = "A,B,...")]
    pub compare: Option<String>,

    /// Drop or merge barriers of the trace (mesi): as-traced (default),
    /// drop-ishst-after-alloc, drop:KIND, drop-after-alloc:KIND, merge:KIND,
    /// drop-after-site:S/S/..., joined by +. KIND: dmb-ish, dmb-ishst,
    /// dmb-ishld, dmb-sy, dsb, mfence, sfence, lfence, locked-rmw.
    #[arg(long, value_name = "VARIANT")]
    pub barrier_variant: Option<String>,

    /// Run a concurrent GC marker thread (mesi) that reads every live heap
    /// object once per PERIOD of simulated time (like 2us, 500ns, 1ms; a
    /// bare number is ns), on the core the pinning gives the thread after
    /// the trace's last one.
    #[arg(long, value_name = "PERIOD")]
    pub gc_marker: Option<String>,

    /// Never show a progress bar (it is shown on stderr only when stderr
    /// is a terminal and the run has taken more than 2 s).
    #[arg(long)]
    pub no_progress: bool,

    /// Thread-to-core mapping: compact (thread N on core N, default),
    /// spread (round-robin over sockets) or a core list like 0,16,1.
    #[arg(long, value_name = "compact|spread|LIST")]
    pub pin: Option<String>,

    /// Replay order: `trace` (default: trace order, streaming) or `timed`
    /// (simulated-time order across threads, never passing an Acquire
    /// before its Release). Both move clocks along acquire/release edges.
    #[arg(long, value_enum)]
    pub schedule: Option<Schedule>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Cache models `loci sim` can replay a trace with.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheModel {
    /// cachegrind's model: I1 + D1 + unified LL, LRU, write-allocate.
    Cachegrind,
    /// Directory MESI coherence over the --machine's caches, NUMA memory.
    Mesi,
}

/// Trace formats `loci sim` reads.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Import {
    /// The loci trace format (`loci profile --trace`, `--emit-trace`).
    Loci,
    /// Valgrind `lackey --trace-mem=yes` output.
    Lackey,
}

/// Replay schedules (see `loci_sim::replay`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Trace order.
    Trace,
    /// Simulated-time order, respecting acquire/release edges.
    Timed,
}

/// Barrier implementations (see `loci_sim::ordering`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barrier {
    /// Barriers wait until the store buffer is empty.
    Drain,
    /// Barriers keep later stores behind earlier ones; no stall unless the
    /// store buffer fills (DSB still drains).
    Order,
}

impl From<Barrier> for BarrierPolicy {
    fn from(b: Barrier) -> Self {
        match b {
            Barrier::Drain => BarrierPolicy::Drain,
            Barrier::Order => BarrierPolicy::Order,
        }
    }
}

#[derive(serde::Serialize)]
#[allow(non_snake_case)]
struct CachegrindReport {
    cache_model: &'static str,
    I1: Geometry,
    D1: Geometry,
    LL: Geometry,
    events: Counts,
}

/// Runs `loci sim`.
pub fn run(args: SimArgs) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let model = args
        .cache_model
        .unwrap_or(if args.machine.is_some() || args.workload.is_some() {
            CacheModel::Mesi
        } else {
            CacheModel::Cachegrind
        });
    if model == CacheModel::Mesi {
        return run_mesi(&args, &mut out);
    }
    if args.barrier.is_some()
        || args.store_buffer.is_some()
        || args.placement.is_some()
        || args.compare.is_some()
        || args.pin.is_some()
        || args.workload.is_some()
        || args.schedule.is_some()
        || args.barrier_variant.is_some()
        || args.gc_marker.is_some()
    {
        bail!("--barrier, --store-buffer, --placement, --compare, --pin, --schedule, --barrier-variant, --gc-marker and --workload belong to --cache-model mesi (with --machine)");
    }
    if args.machine.is_some() {
        bail!("--cache-model cachegrind takes its geometry from --I1/--D1/--LL, not --machine");
    }
    if args.import == Some(Import::Loci) {
        bail!("--cache-model cachegrind replays lackey traces only (--import lackey)");
    }
    let Some(trace) = &args.trace else {
        bail!("give a lackey trace to replay, or --machine FILE to check a machine description");
    };
    let geometry = |flag: &str, v: &Option<String>| -> Result<Geometry> {
        let Some(v) = v else {
            bail!("--cache-model cachegrind needs --{flag}=size,assoc,line_size");
        };
        Geometry::parse_cachegrind(v).with_context(|| format!("--{flag}"))
    };
    let (i1, d1, ll) = (
        geometry("I1", &args.i1)?,
        geometry("D1", &args.d1)?,
        geometry("LL", &args.ll)?,
    );
    let mut sim = CachegrindSim::new(i1, d1, ll)?;
    let input: Box<dyn BufRead> = if trace.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(trace)
            .with_context(|| format!("cannot open {}", trace.display()))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    for_each_op(input, |op| sim.apply(op)).with_context(|| trace.display().to_string())?;
    let counts = sim.counts();
    if args.json {
        let report = CachegrindReport {
            cache_model: "cachegrind",
            I1: i1,
            D1: d1,
            LL: ll,
            events: counts,
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "I1 cache: {i1}   D1 cache: {d1}   LL cache: {ll}")?;
        for (name, v) in Counts::NAMES.iter().zip(counts.values()) {
            writeln!(out, "{name:<6} {v:>16}")?;
        }
        let pct = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                a as f64 * 100.0 / b as f64
            }
        };
        let c = counts;
        writeln!(out, "I1  miss rate {:>6.2}%", pct(c.I1mr, c.Ir))?;
        writeln!(out, "LLi miss rate {:>6.2}%", pct(c.ILmr, c.Ir))?;
        writeln!(
            out,
            "D1  miss rate {:>6.2}%",
            pct(c.D1mr + c.D1mw, c.Dr + c.Dw)
        )?;
        writeln!(
            out,
            "LLd miss rate {:>6.2}%",
            pct(c.DLmr + c.DLmw, c.Dr + c.Dw)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the events of a mesi run come from.
enum Source {
    /// A trace file (or `-`), streamed.
    File(PathBuf),
    /// A Valgrind lackey trace file (or `-`), streamed as thread 0's events.
    Lackey(PathBuf),
    /// Events in memory (a synthetic workload, or a trace read whole).
    Memory(String, Vec<loci_trace::Event>),
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::File(p) | Source::Lackey(p) => p.display().to_string(),
            Source::Memory(l, _) => l.clone(),
        }
    }

    /// Reads a file source into memory (needed by --placement consumer and
    /// --compare, which look at the trace more than once).
    fn into_memory(self) -> Result<Source> {
        if let Source::Lackey(trace) = &self {
            let mut events = Vec::new();
            for_each_event(open_text(trace)?, 0, |e| {
                events.push(*e);
                Ok::<(), loci_sim::Error>(())
            })
            .with_context(|| trace.display().to_string())?;
            return Ok(Source::Memory(trace.display().to_string(), events));
        }
        let Source::File(trace) = self else {
            return Ok(self);
        };
        let label = trace.display().to_string();
        let reader = loci_trace::Reader::new(open(&trace)?).with_context(|| label.clone())?;
        let events = reader
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| label.clone())?;
        Ok(Source::Memory(label, events))
    }

    /// The amount of work `replay` reports progress in: events in memory,
    /// bytes of a file (0 when unknown, as for stdin).
    fn work(&self) -> u64 {
        match self {
            Source::Memory(_, events) => events.len() as u64,
            Source::File(p) if p.as_os_str() != "-" => {
                std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
            }
            Source::File(_) => 0,
            // Lines of text, not events: no progress bar.
            Source::Lackey(_) => 0,
        }
    }

    /// Calls `on` for every event, a slice of them at a time (a trace
    /// file's block, borrowed from the reader; 65,536 events of memory);
    /// `progress.inc(n)` after each slice with the work done since the
    /// last call (see [`Source::work`]).
    fn replay(
        &self,
        mut on: impl FnMut(&[loci_trace::Event]) -> Result<()>,
        progress: &Progress,
    ) -> Result<()> {
        const STEP: usize = 1 << 16;
        match self {
            Source::Memory(_, events) => {
                for chunk in events.chunks(STEP) {
                    on(chunk)?;
                    progress.inc(chunk.len() as u64);
                }
                Ok(())
            }
            Source::Lackey(trace) => {
                for_each_event(open_text(trace)?, 0, |e| on(std::slice::from_ref(e)))
                    .with_context(|| trace.display().to_string())?;
                Ok(())
            }
            Source::File(trace) => {
                let label = trace.display().to_string();
                let mut reader =
                    loci_trace::Reader::new(open(trace)?).with_context(|| label.clone())?;
                let mut reported = 0u64;
                while let Some(events) = reader.next_events().with_context(|| label.clone())? {
                    on(events)?;
                    progress.inc(reader.offset() - reported);
                    reported = reader.offset();
                }
                Ok(())
            }
        }
    }
}

/// A progress bar on stderr that appears only when stderr is a terminal
/// and the run has lasted more than 2 s (short runs and pipes never see
/// it; stdout, where --json goes, never does). Shared by parallel runs.
struct Progress {
    bar: ProgressBar,
    start: Instant,
    enabled: bool,
    shown: AtomicBool,
}

impl Progress {
    fn new(total: u64, enabled: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "loci sim {bar:40} {percent:>3}% {elapsed_precise} (eta {eta})",
        ) {
            bar.set_style(style);
        }
        Progress {
            bar,
            start: Instant::now(),
            enabled: enabled && total > 0 && std::io::stderr().is_terminal(),
            shown: AtomicBool::new(false),
        }
    }

    fn inc(&self, n: u64) {
        self.bar.inc(n);
        if self.enabled
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() > Duration::from_secs(2)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        if self.shown.load(Ordering::Relaxed) {
            self.bar.finish_and_clear();
        }
    }
}

fn open(trace: &PathBuf) -> Result<Box<dyn std::io::Read>> {
    Ok(if trace.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(trace)
            .with_context(|| format!("cannot open {}", trace.display()))?;
        // A small buffer: it serves the 12-byte block headers, while the
        // reader's block-sized reads (64 KiB) bypass it and go straight
        // into the reader's own buffer instead of being copied through.
        Box::new(BufReader::with_capacity(4096, f))
    })
}

/// Opens a text trace (`-`: stdin) for line-by-line reading.
fn open_text(trace: &PathBuf) -> Result<Box<dyn BufRead>> {
    Ok(if trace.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(trace)
            .with_context(|| format!("cannot open {}", trace.display()))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    })
}

/// The synthetic workload of `--workload`, if any; refuses workload
/// options without it.
fn workload(args: &SimArgs) -> Result<Option<(String, Vec<loci_trace::Event>)>> {
    let Some(w) = &args.workload else {
        if args.threads.is_some()
            || args.iters.is_some()
            || args.object_size.is_some()
            || args.emit_trace.is_some()
        {
            bail!("--threads, --iters, --object-size and --emit-trace belong to --workload");
        }
        return Ok(None);
    };
    if args.trace.is_some() {
        bail!("give either a trace or --workload, not both");
    }
    let w: Workload = w.parse()?;
    let d = Params::default();
    let p = Params {
        threads: args.threads.unwrap_or(d.threads),
        iters: args.iters.unwrap_or(d.iters),
        object_size: args.object_size.unwrap_or(d.object_size),
    };
    let events = generate(w, &p).with_context(|| format!("--workload {}", w.name()))?;
    if let Some(file) = &args.emit_trace {
        let f = std::fs::File::create(file)
            .with_context(|| format!("cannot create {}", file.display()))?;
        let mut wr = loci_trace::Writer::new(std::io::BufWriter::new(f))
            .with_context(|| file.display().to_string())?;
        for e in &events {
            wr.write(e).with_context(|| file.display().to_string())?;
        }
        let mut b = wr.finish().with_context(|| file.display().to_string())?;
        b.flush().with_context(|| file.display().to_string())?;
    }
    let label = format!(
        "{} (threads {}, iters {}, object size {})",
        w.name(),
        p.threads,
        p.iters,
        p.object_size
    );
    Ok(Some((label, events)))
}

/// Everything that is the same in each run of a comparison.
struct Setup {
    machine: Machine,
    costs: OrderingCosts,
    pinning: Pinning,
    schedule: Schedule,
    /// The GC marker's thread id: the trace's largest thread id plus one.
    gc_thread: u32,
}

/// What differs between the runs of a comparison.
#[derive(Clone, Debug)]
struct Run {
    placement: Placement,
    barrier: BarrierPolicy,
    variant: BarrierVariant,
    /// The GC marker's period in ns, if one runs.
    gc_ns: Option<f64>,
    /// The names of this run's values along the compared dimensions.
    label: String,
}

/// Parses a duration like `2us`, `500ns`, `1.5ms`, `1s` or `250` (ns).
fn parse_period(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, scale) = [
        ("ns", 1.0),
        ("us", 1e3),
        ("µs", 1e3),
        ("ms", 1e6),
        ("s", 1e9),
    ]
    .iter()
    .find_map(|&(suffix, scale)| t.strip_suffix(suffix).map(|n| (n, scale)))
    .unwrap_or((t, 1.0));
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * scale),
        _ => bail!("bad period {s:?}: expected a positive duration like 2us, 500ns or 1ms"),
    }
}

fn gc_name(gc: Option<f64>) -> String {
    match gc {
        None => "no-gc".into(),
        Some(ns) => format!("gc:{ns}ns"),
    }
}

/// The runs of `--compare LIST` (or the single run of the other flags):
/// each item of LIST is a placement, a barrier variant, `drain`/`order` or
/// `no-gc`/`gc:PERIOD`; every combination of the listed values runs, the
/// GC setting varying slowest and the barrier variant fastest. Dimensions
/// not listed take their value from the other flags.
fn plan_runs(
    compare: Option<&str>,
    placement: Placement,
    barrier: BarrierPolicy,
    variant: BarrierVariant,
    gc_ns: Option<f64>,
) -> Result<Vec<Run>> {
    let Some(list) = compare else {
        return Ok(vec![Run {
            placement,
            barrier,
            variant,
            gc_ns,
            label: placement.name().into(),
        }]);
    };
    let (mut ps, mut bs, mut vs, mut gs) = (vec![], vec![], vec![], vec![]);
    for item in list.split(',').map(str::trim) {
        if let Ok(p) = item.parse::<Placement>() {
            ps.push(p);
        } else if let Ok(b) = item.parse::<BarrierPolicy>() {
            bs.push(b);
        } else if item == "no-gc" {
            gs.push(None);
        } else if let Some(period) = item.strip_prefix("gc:") {
            gs.push(Some(parse_period(period).context("--compare")?));
        } else if BarrierVariant::looks_like(item) {
            vs.push(item.parse::<BarrierVariant>().context("--compare")?);
        } else {
            bail!(
                "--compare: {item:?} is neither a placement (first-touch, interleave, alloc-node, consumer, \
                 lift-on-export), a barrier variant (as-traced, drop-ishst-after-alloc, drop:KIND, ...), \
                 drain/order nor no-gc/gc:PERIOD"
            );
        }
    }
    let varied = [ps.len() > 1, bs.len() > 1, vs.len() > 1, gs.len() > 1];
    if ps.is_empty() {
        ps.push(placement);
    }
    if bs.is_empty() {
        bs.push(barrier);
    }
    if vs.is_empty() {
        vs.push(variant);
    }
    if gs.is_empty() {
        gs.push(gc_ns);
    }
    let mut runs = Vec::new();
    for &g in &gs {
        for &b in &bs {
            for &p in &ps {
                for v in &vs {
                    let mut parts: Vec<String> = Vec::new();
                    if varied[3] {
                        parts.push(gc_name(g));
                    }
                    if varied[1] {
                        parts.push(b.to_string());
                    }
                    if varied[0] {
                        parts.push(p.name().into());
                    }
                    if varied[2] {
                        parts.push(v.name().into());
                    }
                    if parts.is_empty() {
                        parts.push(p.name().into());
                    }
                    runs.push(Run {
                        placement: p,
                        barrier: b,
                        variant: v.clone(),
                        gc_ns: g,
                        label: parts.join("/"),
                    });
                }
            }
        }
    }
    if runs.len() < 2 {
        bail!("--compare needs at least two runs, like first-touch,consumer or drain,order");
    }
    Ok(runs)
}

fn simulate(setup: &Setup, source: &Source, run: &Run, progress: &Progress) -> Result<Report> {
    let consumers = match (run.placement, source) {
        (Placement::Consumer, Source::Memory(_, events)) => main_consumers(events),
        _ => Default::default(),
    };
    let mut costs = setup.costs;
    costs.barrier = run.barrier;
    let mut sim = OrderingSim::with_costs(&setup.machine, costs)
        .context("--store-buffer")?
        .with_pinning(setup.pinning.clone())
        .with_placement(run.placement, consumers)
        .with_variant(run.variant.clone());
    if let Some(period_ns) = run.gc_ns {
        sim = sim
            .with_gc_marker(GcMarker {
                period_ns,
                thread: setup.gc_thread,
            })
            .context("--gc-marker")?;
    }
    let label = source.label();
    let context = || format!("{label} on {}", setup.machine.name);
    match (setup.schedule, source) {
        (Schedule::Timed, Source::Memory(_, events)) => {
            let mut done = 0;
            replay_timed_progress(&mut sim, events, &mut |n| {
                progress.inc((n - done) as u64);
                done = n;
            })
            .with_context(context)?;
        }
        _ => {
            let mut in_order = InOrder::default();
            source.replay(
                |events| in_order.on_events(&mut sim, events).with_context(context),
                progress,
            )?;
        }
    }
    Ok(sim.report())
}

/// `--cache-model mesi`: without a trace, check and print the machine;
/// with a trace or a workload, replay it and print the statistics.
fn run_mesi(args: &SimArgs, out: &mut impl Write) -> Result<ExitCode> {
    if args.i1.is_some() || args.d1.is_some() || args.ll.is_some() {
        bail!("--I1/--D1/--LL belong to --cache-model cachegrind; mesi uses the --machine caches");
    }
    if args.import.is_some() && args.trace.is_none() {
        bail!("--import names the format of a trace file: give one");
    }
    let generated = workload(args)?;
    let Some(path) = &args.machine else {
        if let (Some((label, events)), Some(file)) = (&generated, &args.emit_trace) {
            if args.json {
                let v = serde_json::json!({
                    "workload": label, "events": events.len(), "trace": file.display().to_string()
                });
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{label}: {} events written to {}",
                    events.len(),
                    file.display()
                )?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        bail!("--cache-model mesi needs --machine FILE (or --workload with --emit-trace FILE)");
    };
    let m = Machine::load(path)?;
    let source = match (generated, &args.trace) {
        (Some((label, events)), _) => Source::Memory(label, events),
        (None, Some(trace)) if args.import == Some(Import::Lackey) => Source::Lackey(trace.clone()),
        (None, Some(trace)) => Source::File(trace.clone()),
        (None, None) => {
            if args.placement.is_some()
                || args.compare.is_some()
                || args.pin.is_some()
                || args.schedule.is_some()
                || args.barrier_variant.is_some()
                || args.gc_marker.is_some()
            {
                bail!("--placement, --compare, --pin, --schedule, --barrier-variant and --gc-marker need a trace or --workload");
            }
            if args.json {
                serde_json::to_writer_pretty(&mut *out, &m)?;
                writeln!(out)?;
            } else {
                print_machine(out, &m)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut costs = m.ordering.unwrap_or(OrderingCosts::NONE);
    if let Some(b) = args.barrier {
        costs.barrier = b.into();
    }
    if let Some(n) = args.store_buffer {
        costs.store_buffer = n;
    }
    let pinning: Pinning = match &args.pin {
        Some(p) => p.parse().context("--pin")?,
        None => Pinning::Compact,
    };
    if args.compare.is_some() && args.placement.is_some() {
        bail!("give either --placement or --compare, not both");
    }
    let placement = match &args.placement {
        Some(p) => p.parse().context("--placement")?,
        None => Placement::FirstTouch,
    };
    let variant: BarrierVariant = match &args.barrier_variant {
        Some(v) => v.parse().context("--barrier-variant")?,
        None => BarrierVariant::default(),
    };
    let gc_ns = match &args.gc_marker {
        Some(p) => Some(parse_period(p).context("--gc-marker")?),
        None => None,
    };
    let runs = plan_runs(
        args.compare.as_deref(),
        placement,
        costs.barrier,
        variant,
        gc_ns,
    )?;
    if runs.iter().any(|r| r.placement == Placement::LiftOnExport) && m.dram.copy_gbps.is_none() {
        bail!(
            "{}: the lift-on-export placement needs the key dram.copy_gbps (GB/s of one core copying between nodes)",
            path.display()
        );
    }
    let schedule = args.schedule.unwrap_or(Schedule::Trace);
    let source = if runs.len() > 1
        || runs
            .iter()
            .any(|r| r.placement == Placement::Consumer || r.gc_ns.is_some())
        || schedule == Schedule::Timed
    {
        source.into_memory()?
    } else {
        source
    };
    let gc_thread = match &source {
        Source::Memory(_, events) => events.iter().map(|e| e.thread()).max().map_or(0, |t| t + 1),
        Source::File(_) | Source::Lackey(_) => 0,
    };
    let setup = Setup {
        machine: m,
        costs,
        pinning,
        schedule,
        gc_thread,
    };
    let progress = Progress::new(source.work() * runs.len() as u64, !args.no_progress);
    let reports = runs
        .par_iter()
        .map(|r| simulate(&setup, &source, r, &progress))
        .collect::<Result<Vec<_>>>();
    progress.finish();
    let reports = reports?;
    if reports.len() > 1 {
        print_comparison(
            out,
            args.json,
            &setup.machine,
            &source.label(),
            &runs,
            &reports,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = &reports[0];
    let s = &report.coherence;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{} : {}", setup.machine.name, source.label())?;
    writeln!(out, "placement = {}", report.placement.name())?;
    let rows: [(&str, u64); 14] = [
        ("accesses", s.accesses),
        ("reads", s.reads),
        ("writes", s.writes),
        ("l1_hits", s.l1_hits),
        ("l2_hits", s.l2_hits),
        ("l3_hits", s.l3_hits),
        ("dram_local", s.dram_local),
        ("dram_remote", s.dram_remote),
        ("transfers_same_die", s.transfers_same_die),
        ("transfers_cross_die", s.transfers_cross_die),
        ("transfers_cross_socket", s.transfers_cross_socket),
        ("upgrades", s.upgrades),
        ("invalidations", s.invalidations),
        ("writebacks", s.writebacks),
    ];
    for (name, v) in rows {
        writeln!(out, "{name:<24} {v:>14}")?;
    }
    writeln!(out, "{:<24} {:>14.1}", "latency_ns", s.latency_ns)?;
    if report.placement == Placement::LiftOnExport {
        let l = &report.lift;
        writeln!(
            out,
            "lifts: {} blocks, {} bytes copied, {:.1} ns of copying",
            l.lifts, l.bytes, l.copy_ns
        )?;
    }
    if let Some(gc) = &report.gc {
        writeln!(
            out,
            "GC marker: thread {} on core {}, period {} ns: {} cycles, {} lines read",
            gc.marker.thread, gc.core, gc.marker.period_ns, gc.cycles, gc.lines_read
        )?;
    }
    writeln!(
        out,
        "\nbarrier = {}, barrier variant = {}, store buffer = {} entries per core",
        report.barrier, report.barrier_variant, report.store_buffer
    )?;
    writeln!(
        out,
        "{:>6} {:>5} {:>10} {:>10} {:>9} {:>8} {:>14} {:>14} {:>16} {:>14} {:>14} {:>12}",
        "thread",
        "core",
        "loads",
        "stores",
        "barriers",
        "dropped",
        "clock_ns",
        "bar_stall_ns",
        "bar_stall_cycles",
        "sb_full_ns",
        "sync_wait_ns",
        "lift_ns"
    )?;
    for t in &report.threads {
        writeln!(
            out,
            "{:>6} {:>5} {:>10} {:>10} {:>9} {:>8} {:>14.1} {:>14.1} {:>16.1} {:>14.1} {:>14.1} {:>12.1}{}",
            t.thread,
            t.core,
            t.loads,
            t.stores,
            t.barriers,
            t.barriers_dropped,
            t.clock_ns,
            t.barrier_stall_ns,
            t.barrier_stall_cycles,
            t.store_buffer_full_stall_ns,
            t.sync_wait_ns,
            t.lift_ns,
            if report.gc.is_some_and(|g| g.marker.thread == t.thread) {
                "  (GC marker)"
            } else {
                ""
            }
        )?;
    }
    print_sites(out, report)?;
    Ok(ExitCode::SUCCESS)
}

/// The per-allocation-site table.
fn print_sites(out: &mut impl Write, report: &Report) -> Result<()> {
    writeln!(out, "\nper allocation site (\"-\": outside heap blocks)")?;
    writeln!(
        out,
        "{:>8} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>11} {:>9} {:>9} {:>9} {:>8} {:>8} {:>14}",
        "site",
        "accesses",
        "l1_hits",
        "l2_hits",
        "l3_hits",
        "dram_loc",
        "dram_rem",
        "xfer_die",
        "xfer_xdie",
        "xfer_sock",
        "upgrades",
        "invals",
        "wbacks",
        "latency_ns"
    )?;
    for site in &report.sites {
        let c = &site.counters;
        if site.site.is_none() && c.accesses == 0 {
            continue;
        }
        let name = site.site.map_or("-".to_string(), |s| s.to_string());
        writeln!(
            out,
            "{:>8} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>11} {:>9} {:>9} {:>9} {:>8} {:>8} {:>14.1}",
            name,
            c.accesses,
            c.l1_hits,
            c.l2_hits,
            c.l3_hits,
            c.dram_local,
            c.dram_remote,
            c.transfers_same_die,
            c.transfers_cross_die,
            c.transfers_cross_socket,
            c.upgrades,
            c.invalidations,
            c.writebacks,
            c.latency_ns
        )?;
    }
    Ok(())
}

/// The figures compared across runs: (name, value). Thread figures leave
/// out the GC marker; each trace thread's clock has a row of its own.
fn figures(r: &Report) -> Vec<(String, f64)> {
    let s = &r.coherence;
    let marker = r.gc.map(|g| g.marker.thread);
    let threads = || r.threads.iter().filter(|t| Some(t.thread) != marker);
    let max_clock = threads().map(|t| t.clock_ns).fold(0.0, f64::max);
    let mut v: Vec<(String, f64)> = vec![
        ("latency_ns".into(), s.latency_ns),
        ("max_thread_clock_ns".into(), max_clock),
    ];
    v.extend(threads().map(|t| (format!("thread_{}_clock_ns", t.thread), t.clock_ns)));
    v.extend([
        (
            "barrier_stall_ns".into(),
            threads().map(|t| t.barrier_stall_ns).sum(),
        ),
        (
            "sb_full_stall_ns".into(),
            threads().map(|t| t.store_buffer_full_stall_ns).sum(),
        ),
        (
            "barriers".into(),
            threads().map(|t| t.barriers as f64).sum(),
        ),
        (
            "barriers_dropped".into(),
            threads().map(|t| t.barriers_dropped as f64).sum(),
        ),
        ("dram_local".into(), s.dram_local as f64),
        ("dram_remote".into(), s.dram_remote as f64),
        ("transfers_same_die".into(), s.transfers_same_die as f64),
        ("transfers_cross_die".into(), s.transfers_cross_die as f64),
        (
            "transfers_cross_socket".into(),
            s.transfers_cross_socket as f64,
        ),
        ("l3_hits".into(), s.l3_hits as f64),
        ("upgrades".into(), s.upgrades as f64),
        ("invalidations".into(), s.invalidations as f64),
        ("lift_copy_ns".into(), r.lift.copy_ns),
        (
            "gc_lines_read".into(),
            r.gc.map_or(0.0, |g| g.lines_read as f64),
        ),
    ]);
    v
}

/// The value of figure `name` in `figs`, if it has one (runs may differ
/// in their threads).
fn figure(figs: &[(String, f64)], name: &str) -> Option<f64> {
    figs.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

fn ratio(v: f64, base: f64) -> Option<f64> {
    (base != 0.0).then(|| v / base)
}

fn print_comparison(
    out: &mut impl Write,
    json: bool,
    m: &Machine,
    label: &str,
    runs: &[Run],
    reports: &[Report],
) -> Result<()> {
    let base = figures(&reports[0]);
    if json {
        let items: Vec<serde_json::Value> = runs
            .iter()
            .zip(reports)
            .map(|(run, r)| {
                let figs = figures(r);
                let ratios: serde_json::Map<String, serde_json::Value> = base
                    .iter()
                    .filter_map(|(n, b)| {
                        let v = figure(&figs, n)?;
                        Some((n.clone(), serde_json::json!(ratio(v, *b))))
                    })
                    .collect();
                serde_json::json!({
                    "label": run.label,
                    "placement": r.placement,
                    "barrier": r.barrier,
                    "barrier_variant": r.barrier_variant,
                    "gc_period_ns": run.gc_ns,
                    "ratio_to_baseline": ratios,
                    "report": r,
                })
            })
            .collect();
        let v = serde_json::json!({
            "machine": m.name,
            "source": label,
            "baseline": runs[0].label,
            "runs": items,
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{} : {}", m.name, label)?;
    writeln!(
        out,
        "baseline = {} (ratios are value / baseline)",
        runs[0].label
    )?;
    let width = runs
        .iter()
        .map(|r| r.label.len())
        .max()
        .unwrap_or(0)
        .max(24);
    write!(out, "{:<24}", "")?;
    for r in runs {
        write!(out, " {:>width$}", r.label)?;
    }
    writeln!(out)?;
    let all: Vec<Vec<(String, f64)>> = reports.iter().map(figures).collect();
    for (name, b) in &base {
        let b = *b;
        write!(out, "{name:<24}")?;
        for f in &all {
            let Some(v) = figure(f, name) else {
                write!(out, " {:>width$}", "-")?;
                continue;
            };
            let cell = match ratio(v, b) {
                Some(x) => format!("{v:.1} ({x:.3}x)"),
                None if v == 0.0 => "0.0 (=)".to_string(),
                None => format!("{v:.1} (new)"),
            };
            write!(out, " {cell:>width$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn print_machine(out: &mut impl Write, m: &Machine) -> Result<()> {
    let t = &m.topology;
    writeln!(out, "{} ({} GHz)", m.name, m.ghz)?;
    writeln!(
        out,
        "{} socket(s) x {} die(s) x {} core(s) = {} cores, {} NUMA node(s)",
        t.sockets,
        t.dies_per_socket,
        t.cores_per_die,
        m.cores(),
        m.nodes()
    )?;
    for (name, c) in [
        ("L1d", m.caches.l1d),
        ("L2", m.caches.l2),
        ("L3", m.caches.l3),
    ] {
        writeln!(
            out,
            "{name:<4} {:>10} B  {:>2}-way  {} B lines  {:>3} cycles  shared by {:?}{}",
            c.size,
            c.assoc,
            c.line,
            c.hit_cycles,
            c.shared,
            if c.inclusive { "  inclusive" } else { "" }
        )?;
    }
    let x = &m.transfer;
    writeln!(
        out,
        "core-to-core: same die {} ns, cross die {} ns, cross socket {} ns",
        x.same_die_ns, x.cross_die_ns, x.cross_socket_ns
    )?;
    for (i, row) in m.dram.latency_ns.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>6.1}")).collect();
        writeln!(out, "DRAM from node {i} (ns): {}", cells.join(" "))?;
    }
    match &m.ordering {
        Some(o) => {
            let f = &o.fence_cycles;
            writeln!(
                out,
                "store buffer: {} entries per core, barriers: {}",
                o.store_buffer, o.barrier
            )?;
            writeln!(
                out,
                "barrier cycles: DMB ISH {} ISHST {} ISHLD {} SY {}, DSB {}, LDAR {}, STLR {}, MFENCE {}, SFENCE {}, LFENCE {}, locked RMW {}",
                f.dmb_ish, f.dmb_ishst, f.dmb_ishld, f.dmb_sy, f.dsb, f.ldar, f.stlr, f.mfence, f.sfence, f.lfence, f.locked_rmw
            )?;
        }
        None => writeln!(out, "no [ordering] section: no store buffer, free barriers")?,
    }
    Ok(())
}
