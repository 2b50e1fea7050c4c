//! `loci litmus`: run litmus tests, print herd7-format results (or JSON).

use crate::classics;
use anyhow::{bail, Context, Result};
use clap::Args;
use loci_model::exec::{self, Options};
use loci_model::litmus::{self, Test};
use loci_model::{models, report};
use rayon::prelude::*;
use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `loci litmus`.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  loci litmus --classics                 what DMB SY/ST/LD, dependencies and acquire/release forbid
  loci litmus MP.litmus SB.litmus        herd7-format results
  loci litmus -j 2 tests/                every *.litmus below tests/, two at a time
  loci litmus -model sc MP.litmus        under sequential consistency instead of the Arm model
  loci litmus --cat my.cat MP.litmus     under your own cat model
  loci litmus --json MP.litmus           the same data as JSON

Models: aarch64 (Armv8, default for AArch64), x86tso (default for X86/X86_64),
rc11 (default for C), sc; or a .cat file.")]
pub struct LitmusArgs {
    /// Litmus files, or directories searched recursively for *.litmus.
    pub files: Vec<PathBuf>,

    /// Memory model: a built-in name (aarch64, x86tso, rc11, sc) or a .cat
    /// file. Default: by architecture, as herd7.
    #[arg(long = "model", value_name = "NAME|FILE.cat")]
    pub model: Option<String>,

    /// A cat file to use as the model (same as --model FILE.cat).
    #[arg(long = "cat", value_name = "FILE.cat", conflicts_with = "model")]
    pub cat: Option<PathBuf>,

    /// herd7 variants visible to the model (e.g. mixed), comma-separated.
    #[arg(long = "variant", value_name = "NAME", value_delimiter = ',')]
    pub variant: Vec<String>,

    /// How many times a backward branch may be taken (herd7's -unroll).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub unroll: u32,

    /// Tests run at a time (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,

    /// Print results as JSON (one object per line).
    #[arg(long)]
    pub json: bool,

    /// Omit the `Time` line (for output that must not vary between runs).
    #[arg(long)]
    pub no_time: bool,

    /// Show the built-in teaching set: classic shapes crossed with barriers,
    /// dependencies and acquire/release, as allowed/forbidden tables.
    #[arg(long)]
    pub classics: bool,

    /// With --classics: also write every generated test to DIR/NAME.litmus.
    #[arg(long, value_name = "DIR", requires = "classics")]
    pub emit: Option<PathBuf>,

    /// Architecture of the teaching set.
    #[arg(long, value_enum, default_value_t = classics::ClassicArch::Aarch64, requires = "classics")]
    pub arch: classics::ClassicArch,
}

/// The result of one file.
enum FileResult {
    Done { text: String },
    Failed { msg: String, unsupported: bool },
}

/// Runs `loci litmus`.
pub fn run(args: LitmusArgs) -> Result<ExitCode> {
    if let Some(j) = args.jobs {
        if j == 0 {
            bail!("-j needs at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(j)
            .build_global()
            .context("cannot start worker threads")?;
    }
    let model_spec = args
        .cat
        .as_ref()
        .map(|p| p.display().to_string())
        .or(args.model.clone());
    let builtin_model = model_spec.as_deref().is_none_or(models::is_builtin);
    let opts = Options {
        variants: args.variant.iter().cloned().collect::<HashSet<_>>(),
        unroll: args.unroll,
        // Sound for the built-in models only (see Options::prune_coherence).
        prune_coherence: builtin_model,
        ..Default::default()
    };
    if args.classics {
        return classics::run_emit(args.arch, args.json, args.emit.as_deref(), &opts);
    }
    if args.files.is_empty() {
        bail!("no litmus files given (try 'loci litmus --classics', or 'loci litmus --help')");
    }
    let files = collect_files(&args.files)?;
    if files.is_empty() {
        bail!("no *.litmus files found in {}", show_paths(&args.files));
    }
    let fixed_model = match &model_spec {
        Some(spec) => Some(models::load(spec).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let defaults: Vec<(String, loci_model::cat::Model)> = models::BUILTIN
        .iter()
        .map(|(n, _)| {
            Ok((
                n.to_string(),
                models::load(n).map_err(|e| anyhow::anyhow!("built-in model {n}: {e}"))?,
            ))
        })
        .collect::<Result<_>>()?;

    let progress = if std::io::stderr().is_terminal() && files.len() >= 20 && !args.json {
        let pb = indicatif::ProgressBar::new(files.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} tests, {elapsed} elapsed, ~{eta} left",
            )
            .unwrap(),
        );
        Some(pb)
    } else {
        None
    };

    let run_one = |path: &Path| -> FileResult {
        let file = path.display().to_string();
        let test: Test = match litmus::parse_file(path) {
            Ok(t) => t,
            Err(e) => {
                return FileResult::Failed {
                    msg: e.to_string(),
                    unsupported: false,
                }
            }
        };
        let (model_name, model) = match (&fixed_model, &model_spec) {
            (Some(m), Some(spec)) => (spec.clone(), m),
            _ => {
                let n = models::default_for(test.arch);
                (
                    n.to_string(),
                    &defaults.iter().find(|(k, _)| k == n).unwrap().1,
                )
            }
        };
        let start = Instant::now();
        let out = match exec::run(&test, model, &opts) {
            Ok(o) => o,
            Err(e) => {
                let unsupported = matches!(e, exec::ExecError::Unsupported(_));
                return FileResult::Failed {
                    msg: format!("{file}: {e}"),
                    unsupported,
                };
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let text = if args.json {
            serde_json::to_string(&report::JsonResult::new(
                &file,
                &model_name,
                &test,
                &out,
                secs,
            ))
            .unwrap()
                + "\n"
        } else {
            report::herd_text(&test, &out, (!args.no_time).then_some(secs)) + "\n"
        };
        FileResult::Done { text }
    };

    let results: Vec<FileResult> = files
        .par_iter()
        .map(|p| {
            let r = run_one(p);
            if let Some(pb) = &progress {
                pb.inc(1);
            }
            r
        })
        .collect();
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut failed, mut unsupported) = (0, 0);
    for r in results {
        match r {
            FileResult::Done { text } => out.write_all(text.as_bytes())?,
            FileResult::Failed {
                msg,
                unsupported: u,
            } => {
                out.flush()?;
                eprintln!("{msg}");
                if u {
                    unsupported += 1;
                } else {
                    failed += 1;
                }
            }
        }
    }
    out.flush()?;
    if failed + unsupported > 0 {
        eprintln!(
            "loci: {failed} file(s) with errors, {unsupported} unsupported, {} run",
            files.len() - failed - unsupported
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn show_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Expands directories into their *.litmus files (sorted), keeping files
/// as given.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).with_context(|| format!("cannot read '{}'", p.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).with_context(|| format!("cannot list '{}'", p.display()))?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "litmus") {
            out.push(p);
        }
    }
    Ok(())
}
