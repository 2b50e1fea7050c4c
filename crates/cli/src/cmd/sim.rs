//! `loci sim`: trace-driven cache simulation and machine descriptions.
//!
//! First increment: the cachegrind-compatible cache model replaying a
//! Valgrind lackey trace; directory MESI coherence on a machine file
//! replaying a loci trace; loading/checking machine files (presets).

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use loci_sim::cache::Geometry;
use loci_sim::cachegrind::{CachegrindSim, Counts};
use loci_sim::coherence::Coherence;
use loci_sim::lackey::for_each_op;
use loci_sim::machine::Machine;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

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
                                                   (thread N runs on core N)

With the same geometry, the counts equal cachegrind's
(valgrind --tool=cachegrind --cache-sim=yes --I1=... --D1=... --LL=...).")]
pub struct SimArgs {
    /// Trace to replay (`-` for stdin): a Valgrind `lackey --trace-mem=yes`
    /// trace for `cachegrind`, a loci trace for `mesi`.
    pub trace: Option<PathBuf>,

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
    let model = args.cache_model.unwrap_or(if args.machine.is_some() {
        CacheModel::Mesi
    } else {
        CacheModel::Cachegrind
    });
    if model == CacheModel::Mesi {
        return run_mesi(&args, &mut out);
    }
    if args.machine.is_some() {
        bail!("--cache-model cachegrind takes its geometry from --I1/--D1/--LL, not --machine");
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

/// `--cache-model mesi`: without a trace, check and print the machine;
/// with one, replay it (thread N on core N) and print the statistics.
fn run_mesi(args: &SimArgs, out: &mut impl Write) -> Result<ExitCode> {
    let Some(path) = &args.machine else {
        bail!("--cache-model mesi needs --machine FILE");
    };
    if args.i1.is_some() || args.d1.is_some() || args.ll.is_some() {
        bail!("--I1/--D1/--LL belong to --cache-model cachegrind; mesi uses the --machine caches");
    }
    let m = Machine::load(path)?;
    let Some(trace) = &args.trace else {
        if args.json {
            serde_json::to_writer_pretty(&mut *out, &m)?;
            writeln!(out)?;
        } else {
            print_machine(out, &m)?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let input: Box<dyn std::io::Read> = if trace.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(trace)
            .with_context(|| format!("cannot open {}", trace.display()))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let mut sim = Coherence::new(&m).with_context(|| path.display().to_string())?;
    let reader = loci_trace::Reader::new(input).with_context(|| trace.display().to_string())?;
    for ev in reader {
        let ev = ev.with_context(|| trace.display().to_string())?;
        sim.on_event(&ev)
            .with_context(|| format!("{} on {}", trace.display(), m.name))?;
    }
    let s = sim.stats();
    if args.json {
        serde_json::to_writer_pretty(&mut *out, s)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{} : {}", m.name, trace.display())?;
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
    }
    Ok(ExitCode::SUCCESS)
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
    Ok(())
}
