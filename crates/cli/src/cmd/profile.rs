//! `loci profile`: run a program built with `loci cc` and show, per
//! allocation site, which threads read, wrote and atomically accessed its
//! heap objects (most accessed first) and the falsely shared cache lines,
//! or the runtime's JSON with `--json`.
//! Data races found on the way are reported by the runtime on stderr in
//! ThreadSanitizer's format (exit status 66); `--trace FILE` also writes
//! the run's events in the loci-trace format for `loci sim`.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Arguments of `loci profile`.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  loci cc -O1 -o prog prog.c
  loci profile -- ./prog ARGS...            table of allocation sites, most accessed first
  loci profile -o run.json --json -- ./prog print (and keep) the JSON profile
  loci profile --trace run.locitrace -- ./prog   also write a trace for `loci sim`
  loci profile --no-races -- ./prog         profile only, no race detection
  loci profile --plan plan.json -- ./prog   also write a placement plan for the handoff sites

The exit status is the program's (128+N if it was killed by signal N); 66
when data races were reported, as under ThreadSanitizer.")]
pub struct ProfileArgs {
    /// Where the runtime writes the JSON profile (passed as LOCI_PROFILE_OUT).
    #[arg(short = 'o', long = "output", default_value = "loci-profile.json")]
    pub output: PathBuf,

    /// Print the JSON profile instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Also write every access, allocation, free, atomic, fence and
    /// synchronisation event to FILE in the loci-trace format (passed as
    /// LOCI_TRACE_OUT).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// Do not detect data races (passes LOCI_RACES=0): faster, and the
    /// exit status stays the program's.
    #[arg(long)]
    pub no_races: bool,

    /// Also write a placement plan to FILE: every *handoff* site with the
    /// `consumer` policy, for loci-alloc's LD_PRELOAD library
    /// (`LOCI_PLACEMENT=FILE LD_PRELOAD=libloci_alloc.so ./prog`).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// The program (built with `loci cc`) and its arguments, after `--`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<OsString>,
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// `function (file:line)` of a site.
fn site_name(s: &Value) -> String {
    let f = s["function"].as_str().unwrap_or("??");
    let file = s["file"]
        .as_str()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("??");
    match s["line"].as_u64() {
        Some(l) => format!("{f} ({file}:{l})"),
        None => format!("{f} ({file})"),
    }
}

/// The name a site has in the table: [`site_name`], followed by its
/// caller's (`name <- caller (file:line)`) when another site has the same
/// name — the sites of a malloc wrapper (`ZSTD_customMalloc`) differ only
/// in their callers.
fn site_label(s: &Value, names: &HashMap<String, usize>) -> String {
    let name = site_name(s);
    let caller = &s["caller"];
    if names.get(&name).copied().unwrap_or(0) > 1 && caller["function"].is_string() {
        format!("{name} <- {}", site_name(caller))
    } else {
        name
    }
}

/// The human table for a profile.
pub fn table(p: &Value) -> String {
    let mut out = String::new();
    let sites = p["sites"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut names: HashMap<String, usize> = HashMap::new();
    for s in sites {
        *names.entry(site_name(s)).or_default() += 1;
    }
    let labels: Vec<String> = sites.iter().map(|s| site_label(s, &names)).collect();
    // The first column fits the longest label (at least 40 characters).
    let w = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(40);
    out.push_str(&format!(
        "{:<w$} {:>8} {:>10} {:<12} {:>10} {:>10} {:>10}  per thread (reads/writes/atomics)\n",
        "site", "objects", "bytes", "class", "reads", "writes", "atomics"
    ));
    for (s, label) in sites.iter().zip(&labels) {
        let threads: Vec<String> = s["threads"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|t| {
                format!(
                    "T{}:{}/{}/{}",
                    n(&t["thread"]),
                    n(&t["reads"]),
                    n(&t["writes"]),
                    n(&t["atomics"])
                )
            })
            .collect();
        out.push_str(&format!(
            "{:<w$} {:>8} {:>10} {:<12} {:>10} {:>10} {:>10}  {}\n",
            label,
            n(&s["objects"]),
            n(&s["bytes"]),
            s["class"].as_str().unwrap_or("?"),
            n(&s["reads"]),
            n(&s["writes"]),
            n(&s["atomics"]),
            threads.join(" ")
        ));
    }
    false_sharing_section(&mut out, p);
    let u = &p["unattributed"];
    out.push_str(&format!(
        "unattributed (not heap): {} reads, {} writes, {} atomics; {} threads\n",
        n(&u["reads"]),
        n(&u["writes"]),
        n(&u["atomics"]),
        p["threads"].as_array().map_or(0, Vec::len)
    ));
    if let Some(r) = p["races"].as_u64() {
        if r > 0 {
            out.push_str(&format!(
                "data races: {r} (reported on stderr in ThreadSanitizer's format)\n"
            ));
        } else {
            out.push_str("data races: none\n");
        }
    }
    out
}

/// Falsely shared lines shown in the table.
const FALSE_SHARING_TOP: usize = 10;

/// `file:line` of a site (`function` when there is no line).
fn short_site(s: &Value) -> String {
    let file = s["file"]
        .as_str()
        .map(|p| p.rsplit('/').next().unwrap_or(p));
    match (file, s["line"].as_u64()) {
        (Some(f), Some(l)) => format!("{f}:{l}"),
        _ => s["function"].as_str().unwrap_or("??").to_owned(),
    }
}

/// The falsely shared cache lines (most written first, the top
/// [`FALSE_SHARING_TOP`]), when the profile has `false_sharing` (older
/// runtimes do not).
fn false_sharing_section(out: &mut String, p: &Value) {
    let Some(lines) = p["false_sharing"].as_array() else {
        return;
    };
    if lines.is_empty() {
        out.push_str("false sharing: none\n");
        return;
    }
    out.push_str(&format!(
        "false sharing: {} cache line{}{}\n",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" },
        if lines.len() > FALSE_SHARING_TOP {
            format!(" (top {FALSE_SHARING_TOP} by writes)")
        } else {
            String::new()
        }
    ));
    for l in lines.iter().take(FALSE_SHARING_TOP) {
        let sites: Vec<String> = l["sites"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(short_site)
            .collect();
        // In thread order (JSON objects are read back sorted by key).
        let mut keys: Vec<String> = l["threads"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|t| format!("T{}", n(t)))
            .collect();
        if l["bytes"].get("others").is_some() {
            keys.push("others".into());
        }
        let by: Vec<String> = keys
            .iter()
            .map(|k| format!("{k} bytes {}", l["bytes"][k].as_str().unwrap_or("?")))
            .collect();
        out.push_str(&format!(
            "  line {} (site {}) written by {}: {} writes\n",
            l["line_address"].as_str().unwrap_or("?"),
            sites.join(", "),
            by.join(", "),
            n(&l["writes"])
        ));
    }
}

/// Run `loci profile`.
pub fn run(args: ProfileArgs) -> Result<ExitCode> {
    let (prog, rest) = args.command.split_first().context("no program given")?;
    let _ = std::fs::remove_file(&args.output);
    let mut cmd = Command::new(prog);
    cmd.args(rest).env("LOCI_PROFILE_OUT", &args.output);
    if let Some(t) = &args.trace {
        let _ = std::fs::remove_file(t);
        cmd.env("LOCI_TRACE_OUT", t);
    }
    if args.no_races {
        cmd.env("LOCI_RACES", "0");
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", prog.to_string_lossy()))?;
    let code = match status.code() {
        Some(c) => c,
        None => {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        }
    };
    let text = match std::fs::read_to_string(&args.output) {
        Ok(t) => t,
        Err(_) => bail!(
            "{} wrote no profile to {} (was it built with `loci cc`? did it exit through exit()?)",
            prog.to_string_lossy(),
            args.output.display()
        ),
    };
    let p: Value = serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", args.output.display()))?;
    if let Some(plan) = &args.plan {
        let (json, notes) = loci_alloc::plan::plan_json_from_profile(&text)
            .map_err(|e| anyhow::anyhow!("{}:{e}", args.output.display()))?;
        for n in &notes {
            eprintln!("loci profile: {n}");
        }
        std::fs::write(plan, json).with_context(|| format!("writing {}", plan.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&p)?)?;
    } else {
        stdout.write_all(table(&p).as_bytes())?;
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_sites_in_order() {
        let p: Value = serde_json::from_str(
            r#"{"sites": [{"function": "main", "file": "/a/b.c", "line": 7, "objects": 1, "bytes": 4,
                "class": "handoff", "reads": 1001, "writes": 1001, "atomics": 0,
                "threads": [{"thread": 0, "reads": 1, "writes": 1, "atomics": 0},
                            {"thread": 1, "reads": 1000, "writes": 1000, "atomics": 0}]}],
                "threads": [{}, {}], "unattributed": {"reads": 3, "writes": 2, "atomics": 1}}"#,
        )
        .unwrap();
        let t = table(&p);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("main (b.c:7)"), "{t}");
        assert!(lines[1].contains("handoff"));
        assert!(lines[1].ends_with("T0:1/1/0 T1:1000/1000/0"), "{t}");
        assert_eq!(
            lines[2],
            "unattributed (not heap): 3 reads, 2 writes, 1 atomics; 2 threads"
        );
    }

    #[test]
    fn sites_of_one_wrapper_are_told_apart_by_their_callers() {
        let site = |line: u64, caller: &str| {
            serde_json::json!({"function": "xmalloc", "file": "/a/util.c", "line": 3,
                "caller": {"function": caller, "file": "/a/main.c", "line": line},
                "objects": 1, "bytes": 8, "class": "private", "reads": 1, "writes": 0,
                "atomics": 0, "threads": []})
        };
        let lone = serde_json::json!({"function": "main", "file": "/a/main.c", "line": 9,
            "caller": {"function": "__libc_start_main", "file": null, "line": null},
            "objects": 1, "bytes": 8, "class": "private", "reads": 1, "writes": 0,
            "atomics": 0, "threads": []});
        let p = serde_json::json!({"sites": [site(10, "parse"), site(20, "emit"), lone],
            "threads": [], "unattributed": {}});
        let t = table(&p);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].starts_with("xmalloc (util.c:3) <- parse (main.c:10) "),
            "{t}"
        );
        assert!(
            lines[2].starts_with("xmalloc (util.c:3) <- emit (main.c:20) "),
            "{t}"
        );
        // A name that occurs once is shown alone.
        assert!(lines[3].starts_with("main (main.c:9) "), "{t}");
    }

    #[test]
    fn table_lists_falsely_shared_lines() {
        let mut p: Value = serde_json::from_str(
            r#"{"sites": [], "threads": [{}, {}, {}], "unattributed": {},
                "false_sharing": [{"line_address": "0x5555aa40", "threads": [1, 2],
                  "sites": [{"function": "main", "file": "/src/counters.c", "line": 12}],
                  "writes": 2002, "bytes": {"T1": "0-7", "T2": "8-15"}}]}"#,
        )
        .unwrap();
        let t = table(&p);
        assert!(
            t.contains(
                "false sharing: 1 cache line\n  line 0x5555aa40 (site counters.c:12) written by T1 bytes 0-7, T2 bytes 8-15: 2002 writes\n"
            ),
            "{t}"
        );
        let line = p["false_sharing"][0].clone();
        p["false_sharing"] = Value::Array(vec![line; 12]);
        let t = table(&p);
        assert!(
            t.contains("false sharing: 12 cache lines (top 10 by writes)\n"),
            "{t}"
        );
        assert_eq!(t.matches("  line 0x5555aa40").count(), 10);
        p["false_sharing"] = Value::Array(vec![]);
        assert!(table(&p).contains("false sharing: none\n"));
    }

    #[test]
    fn table_states_races() {
        let mut p: Value = serde_json::from_str(
            r#"{"sites": [], "threads": [{}], "unattributed": {}, "races": 2}"#,
        )
        .unwrap();
        assert!(
            table(&p).ends_with("data races: 2 (reported on stderr in ThreadSanitizer's format)\n")
        );
        p["races"] = 0.into();
        assert!(table(&p).ends_with("data races: none\n"));
    }
}
