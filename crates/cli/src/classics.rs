//! `loci litmus --classics`: the teaching set (being written).
use anyhow::Result;
use loci_model::exec::Options;
use std::process::ExitCode;

/// Architecture of the teaching set.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ClassicArch {
    /// Arm AArch64.
    Aarch64,
    /// x86-64.
    X86,
}

/// Runs the teaching set.
pub fn run(_arch: ClassicArch, _json: bool, _opts: &Options) -> Result<ExitCode> {
    anyhow::bail!("--classics: not written yet")
}
