//! `loci`: the command-line front of the loci toolkit. A thin binary: it
//! parses arguments, calls the library crates and maps results to exit
//! codes (0 success, 1 some test failed or was unsupported, 2 usage or I/O
//! error).

mod classics;
mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// loci finds and fixes the two hidden costs of concurrent programs on big
/// machines: where memory lives, and how much memory ordering is paid for.
#[derive(Parser, Debug)]
#[command(name = "loci", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile and link like `cc`, instrumented for loci's runtime (gcc -fsanitize=thread ABI).
    Cc(cmd::cc::CcArgs),
    /// Find redundant, mergeable and over-strong barriers in AArch64/x86-64 assembly; rewrite them soundly.
    Fences(cmd::fences::FencesArgs),
    /// Run litmus tests (herd7 syntax) under a memory model, with herd7's output.
    Litmus(cmd::litmus::LitmusArgs),
    /// Run a program built with `loci cc` and show per-site, per-thread heap access counts.
    Profile(cmd::profile::ProfileArgs),
    /// Simulate caches, coherence and NUMA costs from a trace (cachegrind-compatible mode, MESI on machine presets).
    Sim(cmd::sim::SimArgs),
}

/// herd7 spells its long options with one dash (`-model`, `-variant`);
/// accept those too.
fn herd_style_args() -> Vec<String> {
    std::env::args()
        .map(|a| match a.as_str() {
            "-model" | "-variant" | "-unroll" | "-cat" => format!("-{a}"),
            _ => a,
        })
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(herd_style_args());
    let result = match cli.command {
        Command::Cc(args) => cmd::cc::run(args),
        Command::Fences(args) => cmd::fences::run(args),
        Command::Litmus(args) => cmd::litmus::run(args),
        Command::Profile(args) => cmd::profile::run(args),
        Command::Sim(args) => cmd::sim::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (e.g. `loci litmus ... | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("loci: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
