//! `loci litmus --classics`: the teaching set. What do `DMB SY/ST/LD`,
//! dependencies and acquire/release (or on x86 `MFENCE` and locked
//! stores) actually forbid?
//!
//! The tests are generated as herd7 litmus text ([`gen`]), parsed with
//! [`litmus::parse`] and run under the architecture's model like any
//! other test; the tables show, for each classic shape, which orderings
//! make its weak outcome impossible.

mod gen;

use anyhow::{anyhow, Context, Result};
use gen::{Classic, Ordering, Place};
use loci_model::exec::{self, Observation, Options};
use loci_model::{litmus, models};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Architecture of the teaching set.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassicArch {
    /// Arm AArch64.
    Aarch64,
    /// x86-64.
    X86,
}

impl ClassicArch {
    fn herd_name(self) -> &'static str {
        match self {
            ClassicArch::Aarch64 => "AArch64",
            ClassicArch::X86 => "X86",
        }
    }

    fn model(self) -> &'static str {
        match self {
            ClassicArch::Aarch64 => "aarch64",
            ClassicArch::X86 => "x86tso",
        }
    }
}

/// Width the prose is wrapped at.
const WIDTH: usize = 100;

/// A generated test and what the model says of it.
struct Verdict {
    test: Classic,
    observation: Observation,
    states: usize,
}

impl Verdict {
    fn allowed(&self) -> bool {
        self.observation != Observation::Never
    }

    fn word(&self) -> &'static str {
        if self.allowed() {
            "allowed"
        } else {
            "forbidden"
        }
    }
}

/// Runs the teaching set, and if `emit` is given also writes every test
/// to `emit/NAME.litmus`.
pub fn run_emit(
    arch: ClassicArch,
    json: bool,
    emit: Option<&Path>,
    opts: &Options,
) -> Result<ExitCode> {
    let model =
        models::load(arch.model()).map_err(|e| anyhow!("built-in model {}: {e}", arch.model()))?;
    let tests = gen::generate(arch);
    let verdicts: Vec<Verdict> = tests
        .into_par_iter()
        .map(|test| {
            let file = format!("{}.litmus", test.name);
            let parsed = litmus::parse(&file, &test.text)
                .map_err(|e| anyhow!("generated test {file}: {e}"))?;
            let out = exec::run(&parsed, &model, opts)
                .map_err(|e| anyhow!("generated test {file}: {e}"))?;
            Ok(Verdict {
                observation: out.observation(),
                states: out.states.len(),
                test,
            })
        })
        .collect::<Result<_>>()?;
    if let Some(dir) = emit {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for v in &verdicts {
            let path = dir.join(format!("{}.litmus", v.test.name));
            std::fs::write(&path, &v.test.text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        eprintln!(
            "loci: wrote {} litmus tests to {}",
            verdicts.len(),
            dir.display()
        );
    }
    let text = if json {
        to_json(arch, &verdicts) + "\n"
    } else {
        tables(arch, &verdicts)
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The JSON document.
#[derive(Serialize)]
struct JsonDoc<'a> {
    arch: &'static str,
    model: &'static str,
    legend: Vec<JsonLegend>,
    tests: Vec<JsonTest<'a>>,
}

/// One line of the legend.
#[derive(Serialize)]
struct JsonLegend {
    ordering: &'static str,
    meaning: &'static str,
}

/// One test with its text and verdict.
#[derive(Serialize)]
struct JsonTest<'a> {
    name: &'a str,
    shape: &'static str,
    orderings: Vec<JsonEdge<'a>>,
    litmus: &'a str,
    observation: &'static str,
    allowed: bool,
    states: usize,
}

/// The ordering on one thread's edge.
#[derive(Serialize)]
struct JsonEdge<'a> {
    thread: usize,
    edge: &'a str,
    ordering: &'static str,
    diy: &'a str,
}

/// The JSON document: every test with its text and verdict.
fn to_json(arch: ClassicArch, verdicts: &[Verdict]) -> String {
    let doc = JsonDoc {
        arch: arch.herd_name(),
        model: arch.model(),
        legend: gen::orderings(arch)
            .iter()
            .map(|o| JsonLegend {
                ordering: o.label(),
                meaning: o.meaning(arch),
            })
            .collect(),
        tests: verdicts
            .iter()
            .map(|v| JsonTest {
                name: &v.test.name,
                shape: v.test.shape.name,
                orderings: v
                    .test
                    .edges
                    .iter()
                    .map(|e| JsonEdge {
                        thread: e.thread,
                        edge: &e.kind,
                        ordering: e.ordering.label(),
                        diy: &e.diy,
                    })
                    .collect(),
                litmus: &v.test.text,
                observation: v.observation.as_str(),
                allowed: v.allowed(),
                states: v.states,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap()
}

/// Appends `text` to `s` wrapped at `width` columns, the first line after
/// `first` and the others indented by `indent` spaces.
fn wrap(s: &mut String, first: &str, indent: usize, text: &str, width: usize) {
    let mut line = first.to_string();
    let mut fresh = true;
    for word in text.split_whitespace() {
        if !fresh && line.chars().count() + 1 + word.chars().count() > width {
            s.push_str(line.trim_end());
            s.push('\n');
            line = " ".repeat(indent);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    s.push_str(line.trim_end());
    s.push('\n');
}

/// The human report: legend, then one table per shape.
fn tables(arch: ClassicArch, verdicts: &[Verdict]) -> String {
    let mut s = String::new();
    let forbidden = verdicts.iter().filter(|v| !v.allowed()).count();
    let _ = writeln!(
        s,
        "Classic litmus tests, {} under the {} model: {} tests, {} forbidden, {} allowed.",
        arch.herd_name(),
        arch.model(),
        verdicts.len(),
        forbidden,
        verdicts.len() - forbidden
    );
    s.push_str(
        "Each test asks whether a weak outcome can happen: `allowed` = some execution the model accepts\n\
         reaches the test's `exists` condition, `forbidden` = none does.\n\n",
    );
    s.push_str("What each ordering keeps in order, between a thread's two accesses:\n");
    let all = gen::orderings(arch);
    let w = all.iter().map(|o| o.label().len()).max().unwrap_or(0);
    for o in all {
        wrap(
            &mut s,
            &format!("  {:<w$}  ", o.label()),
            w + 4,
            o.meaning(arch),
            WIDTH,
        );
    }
    let (short, names) = match arch {
        ClassicArch::Aarch64 => (
            "In short: DMB ISHST orders store->store only; DMB ISHLD orders load->load and load->store; \
             DMB ISH orders everything; addr/data/ctrl dependencies order a load before later accesses \
             (data and ctrl only before stores; ctrl+ISB also before loads); LDAR: later accesses stay after; \
             STLR: earlier accesses stay before. The tests write DMB SY/ST/LD, as diy7 does; \
             DMB ISH/ISHST/ISHLD mean the same to the model.",
            "; acq/rel is spelt po<a><b> with a = LDAR, l = STLR, p = plain (poap, popl, poal, pola)",
        ),
        ClassicArch::X86 => (
            "x86-TSO already keeps load->load, load->store and store->store in order, so dependencies \
             (addr/data/ctrl) add nothing on x86 and are not shown; only store->load needs MFENCE or a \
             locked instruction such as XCHG.",
            "; xchg is loci's name (diy7 has none for it)",
        ),
    };
    wrap(&mut s, "  ", 2, short, WIDTH);
    wrap(
        &mut s,
        "",
        0,
        &format!(
            "Test names follow diy7: SHAPE+<P0's>+<P1's>..., one per thread with two accesses, with an `s` \
             when all are the same and the bare shape when all are plain po{names}. \
             `--json` prints every test's litmus text."
        ),
        WIDTH,
    );
    for shape in gen::SHAPES {
        let vs: Vec<&Verdict> = verdicts
            .iter()
            .filter(|v| v.test.shape.name == shape.name)
            .collect();
        if vs.is_empty() {
            continue;
        }
        s.push('\n');
        wrap(
            &mut s,
            "",
            2,
            &format!("{} ({}): {}.", shape.name, shape.title, shape.story()),
            WIDTH,
        );
        wrap(
            &mut s,
            "  ",
            2,
            &format!("Weak outcome: {}", shape.question),
            WIDTH,
        );
        if matches!(vs[0].test.place, Place::Grid(..)) {
            grid(&mut s, arch, shape, &vs);
        } else {
            rows(&mut s, shape, &vs);
        }
    }
    s
}

/// A two-thread shape: rows P0's ordering, columns P1's.
fn grid(s: &mut String, arch: ClassicArch, shape: &gen::Shape, vs: &[&Verdict]) {
    let all = gen::orderings(arch);
    let fits = |t: usize, o: &Ordering| o.fits(shape.threads[t][0].dir, shape.threads[t][1].dir);
    let rows: Vec<Ordering> = all.iter().filter(|o| fits(0, o)).copied().collect();
    let cols: Vec<Ordering> = all.iter().filter(|o| fits(1, o)).copied().collect();
    let _ = writeln!(
        s,
        "  rows: P0's ordering ({}); columns: P1's ordering ({}); test {}+<row>+<column>, e.g. {}",
        shape.edge_kind(0),
        shape.edge_kind(1),
        shape.name,
        vs.iter()
            .find(|v| v.test.edges.iter().all(|e| e.ordering != Ordering::Po))
            .map_or("", |v| &v.test.name)
    );
    let cw = cols
        .iter()
        .map(|o| o.label().len())
        .max()
        .unwrap_or(0)
        .max("forbidden".len())
        + 2;
    let rw = rows
        .iter()
        .map(|o| o.label().len())
        .max()
        .unwrap_or(0)
        .max("P0 \\ P1".len())
        + 2;
    let mut head = format!("  {:<rw$}", "P0 \\ P1");
    for c in &cols {
        let _ = write!(head, "{:<cw$}", c.label());
    }
    let _ = writeln!(s, "{}", head.trim_end());
    for r in &rows {
        let mut line = format!("  {:<rw$}", r.label());
        for c in &cols {
            let cell = vs
                .iter()
                .find(|v| v.test.place == Place::Grid(*r, *c))
                .map_or("MISSING", |v| v.word());
            let _ = write!(line, "{cell:<cw$}");
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
}

/// A larger shape: one row per uniform ordering, then the mixes.
fn rows(s: &mut String, shape: &gen::Shape, vs: &[&Verdict]) {
    let ets = shape.edge_threads();
    let _ = writeln!(
        s,
        "  rows: one ordering put on every edge that admits it (plain po on the others), then classic mixes"
    );
    let heads: Vec<String> = ets
        .iter()
        .map(|&t| format!("P{t} ({})", shape.edge_kind(t)))
        .collect();
    let lw = "acq/rel".len().max("row".len()) + 2;
    let ew: Vec<usize> = heads.iter().map(|h| h.len() + 2).collect();
    let nw = vs.iter().map(|v| v.test.name.len()).max().unwrap_or(0) + 2;
    let mut head = format!("  {:<lw$}", "row");
    for (h, w) in heads.iter().zip(&ew) {
        let _ = write!(head, "{h:<w$}");
    }
    let _ = writeln!(s, "{head}{:<nw$}verdict", "test");
    for v in vs {
        let label = match v.test.place {
            Place::Uniform(o) => o.label(),
            _ => "mix",
        };
        let mut line = format!("  {label:<lw$}");
        for (e, w) in v.test.edges.iter().zip(&ew) {
            let _ = write!(line, "{:<w$}", e.ordering.label());
        }
        let _ = writeln!(s, "{line}{:<nw$}{}", v.test.name, v.word());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(
        arch: ClassicArch,
        dmb: &(dyn Fn(&str) -> String + Sync),
    ) -> Vec<(String, Observation)> {
        let model = models::load(arch.model()).unwrap();
        gen::generate(arch)
            .into_par_iter()
            .map(|c| {
                let t = litmus::parse(&format!("{}.litmus", c.name), &dmb(&c.text)).unwrap();
                let o = exec::run(&t, &model, &Options::default()).unwrap();
                (c.name, o.observation())
            })
            .collect()
    }

    /// The tests say DMB SY/ST/LD; the legend says DMB ISH/ISHST/ISHLD
    /// behave the same. Check that under the model.
    #[test]
    fn ish_forms_give_the_same_verdicts() {
        let plain = verdicts(ClassicArch::Aarch64, &|t| t.to_string());
        let ish = verdicts(ClassicArch::Aarch64, &|t| {
            t.replace("DMB SY", "DMB ISH")
                .replace("DMB ST", "DMB ISHST")
                .replace("DMB LD", "DMB ISHLD")
        });
        assert_eq!(plain, ish);
        assert!(plain.iter().any(|(n, _)| n.contains("dmb.st")));
    }

    /// `--emit DIR` writes one file per test, named after the test, that
    /// parses back to a test of that name.
    #[test]
    fn emit_writes_every_test() {
        let dir = std::env::temp_dir().join(format!("loci-classics-emit-{}", std::process::id()));
        run_emit(ClassicArch::X86, true, Some(&dir), &Options::default()).unwrap();
        let tests = gen::generate(ClassicArch::X86);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), tests.len());
        for c in &tests {
            let t = litmus::parse_file(&dir.join(format!("{}.litmus", c.name))).unwrap();
            assert_eq!(t.name, c.name);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every grid cell has its test and every shape its table.
    #[test]
    fn human_tables_have_every_cell() {
        for arch in [ClassicArch::Aarch64, ClassicArch::X86] {
            let vs: Vec<Verdict> = verdicts(arch, &|t| t.to_string())
                .into_iter()
                .zip(gen::generate(arch))
                .map(|((_, observation), test)| Verdict {
                    test,
                    observation,
                    states: 0,
                })
                .collect();
            let t = tables(arch, &vs);
            assert!(!t.contains("MISSING"), "{t}");
            for shape in gen::SHAPES {
                assert!(t.contains(&format!("\n{} (", shape.name)), "{t}");
            }
        }
    }
}
