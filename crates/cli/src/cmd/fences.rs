//! `loci fences`: find redundant, mergeable and over-strong barriers in
//! AArch64 / x86-64 assembly (or `objdump -d` output), and rewrite them.

use anyhow::{bail, Context, Result};
use clap::Args;
use loci_fence::analyse::{analyse_text, Kind, Options, Report};
use loci_fence::arch::Arch;
use loci_fence::rules::{self, RULES};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `loci fences`.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  aarch64-linux-gnu-gcc -O2 -S prog.c            (or: gcc -O2 -S prog.c on x86-64)
  loci fences prog.s                             findings, one per barrier, with the reason
  loci fences --fix prog.fixed.s prog.s          also write the rewritten assembly
  loci fences --merge --fix out.s prog.s         also merge `dmb ishld; dmb ishst` into `dmb ish`
  objdump -d a.out > a.dis; loci fences a.dis    analyse a binary (report only)
  loci fences --json prog.s | jq '.findings[]'
  loci fences --explain                          the rewrite rules and their litmus evidence
  loci fences --explain redundant-before --emit tests/   ...and write those litmus tests

Findings: redundant (remove it), weakenable (a weaker DMB does), mergeable
(with the barrier next to it, one barrier does; a strengthening, applied
only with --merge). Every rule is checked against the Armv8 / x86-TSO
model by running litmus tests (see --explain).")]
pub struct FencesArgs {
    /// Assembly files (`gcc -S`/`clang -S` output or `objdump -d` output).
    pub files: Vec<PathBuf>,

    /// Architecture (aarch64, x86-64); default: guessed from the text.
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,

    /// Write the rewritten assembly to OUT (`-`: stdout, the report then
    /// goes to stderr); one input only.
    #[arg(long, value_name = "OUT")]
    pub fix: Option<PathBuf>,

    /// Apply mergeable findings too (a strengthening: `dmb ishld; dmb
    /// ishst` becomes `dmb ish`).
    #[arg(long)]
    pub merge: bool,

    /// Treat every call as opaque, even to functions defined in the file
    /// (use for shared libraries whose symbols may be interposed).
    #[arg(long)]
    pub opaque_calls: bool,

    /// Print results as JSON.
    #[arg(long)]
    pub json: bool,

    /// Show the rewrite rules and the litmus evidence of their soundness
    /// (all rules, or the one named).
    #[arg(long, value_name = "RULE", num_args = 0..=1, default_missing_value = "all")]
    pub explain: Option<String>,

    /// With --explain: write the litmus tests of the evidence to DIR.
    #[arg(long, value_name = "DIR", requires = "explain")]
    pub emit: Option<PathBuf>,
}

/// Runs `loci fences`.
pub fn run(args: FencesArgs) -> Result<ExitCode> {
    if let Some(rule) = &args.explain {
        return explain(rule, args.emit.as_deref(), args.json);
    }
    if args.files.is_empty() {
        bail!("no assembly files given (try 'loci fences prog.s', or 'loci fences --help')");
    }
    if args.fix.is_some() && args.files.len() != 1 {
        bail!("--fix writes one output: give exactly one input file");
    }
    let arch =
        match &args.arch {
            Some(a) => Some(Arch::from_name(a).with_context(|| {
                format!("unknown architecture '{a}' (expected aarch64 or x86-64)")
            })?),
            None => None,
        };
    let opts = Options {
        merge: args.merge,
        interprocedural: !args.opaque_calls,
    };
    let mut failed = false;
    let mut json_files = Vec::new();
    let mut json_findings = Vec::new();
    let mut totals = [0usize; 3];
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in &args.files {
        let name = path.display().to_string();
        let text = match std::fs::read(path) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!(
                        "{name}: not text (invalid UTF-8 at byte {}): give assembly or `objdump -d` output",
                        e.utf8_error().valid_up_to()
                    );
                    failed = true;
                    continue;
                }
            },
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        let (program, report) = match analyse_text(&text, arch, &opts) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{name}: {e}");
                failed = true;
                continue;
            }
        };
        for n in &report.notes {
            eprintln!("{name}:{}: note: {}", n.line + 1, n.message);
        }
        totals[0] += report.count(Kind::Redundant);
        totals[1] += report.count(Kind::Mergeable);
        totals[2] += report.count(Kind::Weakenable);
        if args.json {
            json_files.push(file_json(&name, &report));
            for f in &report.findings {
                let mut v = serde_json::to_value(f)?;
                v["file"] = json!(name);
                json_findings.push(v);
            }
        } else if args.fix.as_deref().is_some_and(|f| f.as_os_str() == "-") {
            // The rewritten file goes to stdout: the report to stderr.
            eprint!("{}", human(&name, &report));
        } else {
            write!(out, "{}", human(&name, &report))?;
        }
        if let Some(fix) = &args.fix {
            let new = loci_fence::rewrite::rewrite(&program, &report.findings)
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let applied = report.findings.iter().filter(|f| f.applied).count();
            if fix.as_os_str() == "-" {
                out.write_all(new.as_bytes())?;
            } else {
                std::fs::write(fix, new)
                    .with_context(|| format!("cannot write {}", fix.display()))?;
                eprintln!(
                    "loci: wrote {} ({applied} change{})",
                    fix.display(),
                    if applied == 1 { "" } else { "s" }
                );
            }
        }
        // Freeing millions of small allocations of a large file costs
        // more than the process exit does.
        std::mem::forget(program);
        std::mem::forget(report);
        std::mem::forget(text);
    }
    if args.json {
        let v = json!({
            "files": json_files,
            "findings": json_findings,
            "summary": {"redundant": totals[0], "mergeable": totals[1], "weakenable": totals[2]},
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn file_json(name: &str, r: &Report) -> serde_json::Value {
    json!({
        "file": name,
        "arch": r.arch.to_string(),
        "functions": r.functions,
        "analysed": r.analysed,
        "barriers": r.barriers,
        "candidates": r.candidates,
        "redundant": r.count(Kind::Redundant),
        "mergeable": r.count(Kind::Mergeable),
        "weakenable": r.count(Kind::Weakenable),
        "notes": r.notes.iter().map(|n| json!({"line": n.line + 1, "message": n.message})).collect::<Vec<_>>(),
    })
}

/// The human report of one file.
pub fn human(name: &str, r: &Report) -> String {
    let mut s = format!(
        "{name}: {}, {} function{} ({} analysed), {} barrier{} ({} loci may rewrite)\n",
        r.arch,
        r.functions,
        plural(r.functions),
        r.analysed,
        r.barriers,
        plural(r.barriers),
        r.candidates
    );
    if !r.findings.is_empty() {
        let wf = r
            .findings
            .iter()
            .map(|f| f.function.len())
            .max()
            .unwrap_or(0)
            .max(8);
        let wi = r
            .findings
            .iter()
            .map(|f| f.instruction.len())
            .max()
            .unwrap_or(0)
            .max(11);
        let wl = r
            .findings
            .iter()
            .map(|f| f.line.to_string().len())
            .max()
            .unwrap_or(0)
            .max(4);
        s.push_str(&format!(
            "  {:>wl$}  {:wf$}  {:wi$}  FINDING\n",
            "LINE", "FUNCTION", "INSTRUCTION"
        ));
        for f in &r.findings {
            let what = match (&f.replacement, f.kind) {
                (Some(rep), Kind::Mergeable) if !f.applied => {
                    format!("mergeable → `{rep}` (with --merge)")
                }
                (Some(rep), _) => format!("{} → `{rep}`", f.kind.as_str()),
                (None, k) => k.as_str().to_string(),
            };
            s.push_str(&format!(
                "  {:>wl$}  {:wf$}  {:wi$}  {what}\n",
                f.line, f.function, f.instruction
            ));
            s.push_str(&format!(
                "  {:>wl$}  └ {} [rule {}]\n",
                "", f.justification, f.rule
            ));
        }
    }
    s.push_str(&format!(
        "  {} redundant, {} mergeable, {} weakenable\n",
        r.count(Kind::Redundant),
        r.count(Kind::Mergeable),
        r.count(Kind::Weakenable)
    ));
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn explain(which: &str, emit: Option<&Path>, json_out: bool) -> Result<ExitCode> {
    let chosen: Vec<_> = RULES
        .iter()
        .filter(|r| which == "all" || r.id == which)
        .collect();
    if chosen.is_empty() && which == "redundant-split" {
        println!(
            "rule redundant-split: a barrier whose orderings are covered class by class, some by a barrier\n\
             on every path into it (redundant-before), the others by a barrier on every path out of it\n\
             (redundant-after); each class follows the evidence of those two rules, and the randomized\n\
             end-to-end test (crates/fence/tests/random_rewrites.rs) checks the combination."
        );
        return Ok(ExitCode::SUCCESS);
    }
    if chosen.is_empty() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.dedup();
        ids.sort_unstable();
        ids.dedup();
        bail!(
            "no rule '{which}' (rules: {}, redundant-split)",
            ids.join(", ")
        );
    }
    if let Some(dir) = emit {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut all_hold = true;
    let mut out = String::new();
    let mut js = Vec::new();
    for (k, rule) in chosen.iter().enumerate() {
        let ev = rules::check_rule(rule).map_err(|e| anyhow::anyhow!("rule {}: {e}", rule.id))?;
        all_hold &= ev.holds();
        let unsound: usize = ev
            .example_checks
            .iter()
            .filter(|c| !c.new_states.is_empty())
            .count();
        let caught: Vec<_> = ev
            .wrong_checks
            .iter()
            .filter(|c| !c.new_states.is_empty())
            .collect();
        if let Some(dir) = emit {
            for (tag, checks) in [("sound", &ev.example_checks), ("unsound", &ev.wrong_checks)] {
                for c in checks.iter() {
                    let shape: String = c
                        .shape
                        .chars()
                        .map(|ch| {
                            if ch.is_ascii_alphanumeric() || ch == '+' {
                                ch
                            } else {
                                '_'
                            }
                        })
                        .collect();
                    let file = dir.join(format!(
                        "{}-{k}-{tag}-{}-{}-r{}.litmus",
                        rule.id,
                        shape.trim_matches('_'),
                        c.inner,
                        c.r9
                    ));
                    std::fs::write(&file, &c.test)
                        .with_context(|| format!("cannot write {}", file.display()))?;
                }
            }
        }
        if json_out {
            js.push(json!({
                "rule": rule.id,
                "arch": rule.arch.to_string(),
                "summary": rule.summary,
                "example": rule.example,
                "rewritten": ev.rewritten.compact(),
                "tests": ev.example_checks.len(),
                "tests_with_new_states": unsound,
                "near_miss": rule.near_miss,
                "near_miss_untouched": ev.near_miss_untouched,
                "wrong_rewrite": rule.wrong_rewrite,
                "wrong_rewrite_caught_by": caught.len(),
                "holds": ev.holds(),
            }));
            continue;
        }
        out.push_str(&format!(
            "rule {} ({}): {}\n",
            rule.id, rule.arch, rule.summary
        ));
        out.push_str(&format!("  example      {}\n", rule.example));
        for (n, l) in ev.example.to_asm().lines().enumerate() {
            out.push_str(&format!(
                "               {:>2} {}\n",
                n + 1,
                l.replace('\t', "  ")
            ));
        }
        out.push_str(&format!("  loci makes   {}\n", ev.rewritten.compact()));
        for f in ev.findings.iter().filter(|f| f.applied) {
            out.push_str(&format!(
                "               line {}: {} — {}\n",
                f.line,
                f.kind.as_str(),
                f.justification
            ));
        }
        out.push_str(&format!(
            "  evidence     {} litmus tests (MP, SB, LB, S, R, 2+2W, WRC, ISA2 around it{}): {}\n",
            ev.example_checks.len(),
            if ev.example_checks.iter().any(|c| c.r9 == 1) {
                ", both branch directions"
            } else {
                ""
            },
            if unsound == 0 {
                "the rewrite allows no new final state".to_string()
            } else {
                format!("{unsound} tests show NEW final states — UNSOUND")
            }
        ));
        out.push_str(&format!(
            "  near miss    {} — loci {}\n",
            rule.near_miss,
            if ev.near_miss_untouched {
                "leaves it alone"
            } else {
                "REWRITES IT"
            }
        ));
        match caught.first() {
            Some(c) => out.push_str(&format!(
                "               rewriting it to `{}` would be wrong: {} of {} tests gain a state, e.g. {} (inner {}): {}\n",
                rule.wrong_rewrite,
                caught.len(),
                ev.wrong_checks.len(),
                c.shape,
                c.inner,
                c.new_states[0]
            )),
            None => out.push_str(&format!(
                "               rewriting it to `{}`: no test tells the difference (the near miss is too weak)\n",
                rule.wrong_rewrite
            )),
        }
        out.push('\n');
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&js)?);
    } else {
        print!("{out}");
        if let Some(dir) = emit {
            println!(
                "litmus tests written to {} (run them with `loci litmus {}`)",
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(if all_hold {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
