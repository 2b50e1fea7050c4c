//! The rewrite rules and their evidence from the memory model.
//!
//! Every finding names a rule. A rule's soundness is checked, not assumed:
//! for a program fragment the rule applies to, loci embeds the fragment in
//! the classic litmus shapes — MP (as writer and as reader), SB, LB, S, R,
//! 2+2W, WRC and ISA2, the fragment's thread in the role whose two accesses
//! straddle it, the other threads fully fenced — with the fragment's own
//! accesses aimed at each location in turn and both directions of every
//! branch, runs original and rewritten tests under the model (loci-model:
//! `aarch64` for AArch64, `x86tso` for x86-64) and requires that the
//! rewritten program has no final state the original does not. Each rule
//! also has a near miss — the same rewrite where it is *not* sound — whose
//! evidence must show a new final state, so the check is known to bite.
//!
//! [`apply`] runs the real analysis on a fragment, so the evidence is about
//! what `loci fences --fix` does, not about a hand-written copy of it.

use crate::analyse::{analyse_text, Finding, Kind, Options};
use crate::arch::Arch;
use loci_model::exec::{run, Options as ExecOptions};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A location of an evidence program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// `x`
    X,
    /// `y`
    Y,
    /// The fragment's own location: `z`, `x` or `y` depending on the
    /// variant.
    Inner,
}

/// One instruction of an evidence fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ins {
    /// A load (`acq`: 0 plain, 1 LDAR, 2 LDAPR).
    Load(Loc, u8),
    /// A store (`true`: STLR).
    Store(Loc, bool),
    /// An AArch64 swap (SWP with acquire, release).
    Swap(Loc, bool, bool),
    /// A barrier, as written in assembly (`dmb ishst`, `mfence`).
    Barrier(String),
    /// Branch to label `n` if register 9 is zero.
    BranchIfZero(u8),
    /// Branch to label `n`.
    Jump(u8),
    /// Label `n`.
    Label(u8),
}

/// A straight-line or branching fragment of one thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Its architecture.
    pub arch: Arch,
    /// Its instructions.
    pub ins: Vec<Ins>,
}

impl Fragment {
    /// Parses the compact form used by rules and tests: `;`-separated
    /// `ld z`, `ldar z`, `ldapr z`, `st z`, `stlr z`, `swpal z`, `L1:`,
    /// `cbz L1`, or a barrier (`dmb ish`, `mfence`); locations `x`, `y`,
    /// `z` (the inner one).
    pub fn parse(arch: Arch, s: &str) -> Fragment {
        let loc = |w: &str| match w {
            "x" => Loc::X,
            "y" => Loc::Y,
            _ => Loc::Inner,
        };
        let ins = s
            .split(';')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                let mut w = t.split_whitespace();
                let a = w.next().unwrap_or("");
                let b = w.next().unwrap_or("z");
                match a {
                    "ld" => Ins::Load(loc(b), 0),
                    "ldar" => Ins::Load(loc(b), 1),
                    "ldapr" => Ins::Load(loc(b), 2),
                    "st" => Ins::Store(loc(b), false),
                    "stlr" => Ins::Store(loc(b), true),
                    "swp" => Ins::Swap(loc(b), false, false),
                    "swpal" => Ins::Swap(loc(b), true, true),
                    "cbz" => Ins::BranchIfZero(b.trim_start_matches('L').parse().unwrap_or(0)),
                    "b" => Ins::Jump(b.trim_start_matches('L').parse().unwrap_or(0)),
                    l if l.starts_with('L') && l.ends_with(':') => {
                        Ins::Label(l[1..l.len() - 1].parse().unwrap_or(0))
                    }
                    _ => Ins::Barrier(t.to_string()),
                }
            })
            .collect();
        Fragment { arch, ins }
    }

    /// The compact form.
    pub fn compact(&self) -> String {
        let l = |l: &Loc| match l {
            Loc::X => "x",
            Loc::Y => "y",
            Loc::Inner => "z",
        };
        let v: Vec<String> = self
            .ins
            .iter()
            .map(|i| match i {
                Ins::Load(p, 0) => format!("ld {}", l(p)),
                Ins::Load(p, 1) => format!("ldar {}", l(p)),
                Ins::Load(p, _) => format!("ldapr {}", l(p)),
                Ins::Store(p, false) => format!("st {}", l(p)),
                Ins::Store(p, true) => format!("stlr {}", l(p)),
                Ins::Swap(p, a, r) => format!(
                    "swp{}{} {}",
                    if *a { "a" } else { "" },
                    if *r { "l" } else { "" },
                    l(p)
                ),
                Ins::Barrier(b) => b.clone(),
                Ins::BranchIfZero(n) => format!("cbz L{n}"),
                Ins::Jump(n) => format!("b L{n}"),
                Ins::Label(n) => format!("L{n}:"),
            })
            .collect();
        v.join("; ")
    }

    /// The fragment as a function in GNU assembler syntax: line `k + 2` is
    /// instruction `k`.
    pub fn to_asm(&self) -> String {
        let mut s = String::from("f:\n");
        for i in &self.ins {
            let line = match (self.arch, i) {
                (Arch::Aarch64, Ins::Load(_, 0)) => "\tldr w10, [x3]".to_string(),
                (Arch::Aarch64, Ins::Load(_, 1)) => "\tldar w10, [x3]".to_string(),
                (Arch::Aarch64, Ins::Load(_, _)) => "\tldapr w10, [x3]".to_string(),
                (Arch::Aarch64, Ins::Store(_, false)) => "\tstr w20, [x3]".to_string(),
                (Arch::Aarch64, Ins::Store(_, true)) => "\tstlr w20, [x3]".to_string(),
                (Arch::Aarch64, Ins::Swap(_, a, r)) => format!(
                    "\tswp{}{} w20, w10, [x3]",
                    if *a { "a" } else { "" },
                    if *r { "l" } else { "" }
                ),
                (Arch::X86_64, Ins::Load(..)) => "\tmovl z(%rip), %eax".to_string(),
                (Arch::X86_64, Ins::Store(..)) => "\tmovl $1, z(%rip)".to_string(),
                (Arch::X86_64, Ins::Swap(..)) => "\txchgl %eax, z(%rip)".to_string(),
                (_, Ins::Barrier(b)) => format!("\t{b}"),
                (Arch::Aarch64, Ins::BranchIfZero(n)) => format!("\tcbz w9, .L{n}"),
                (Arch::X86_64, Ins::BranchIfZero(n)) => format!("\tje .L{n}"),
                (Arch::Aarch64, Ins::Jump(n)) => format!("\tb .L{n}"),
                (Arch::X86_64, Ins::Jump(n)) => format!("\tjmp .L{n}"),
                (_, Ins::Label(n)) => format!(".L{n}:"),
            };
            s.push_str(&line);
            s.push('\n');
        }
        s.push_str(match self.arch {
            Arch::Aarch64 => "\tret\n",
            Arch::X86_64 => "\tret\n",
        });
        s
    }
}

/// Runs the real analysis on a fragment and applies its applied findings.
pub fn apply(frag: &Fragment, merge: bool) -> (Fragment, Vec<Finding>) {
    let asm = frag.to_asm();
    let opts = Options {
        merge,
        interprocedural: true,
    };
    let (_, report) = analyse_text(&asm, Some(frag.arch), &opts).expect("own assembly parses");
    let mut ins: Vec<Option<Ins>> = frag.ins.iter().cloned().map(Some).collect();
    for f in report.findings.iter().filter(|f| f.applied) {
        for e in &f.edits {
            // Line 1 is `f:`; instruction k is on line k + 2 (0-based k+1).
            let li = asm_line_of_edit(&asm, e.stmt, frag.arch);
            let k = li - 1;
            ins[k] = e.text.as_ref().map(|t| Ins::Barrier(t.replace('\t', " ")));
        }
    }
    (
        Fragment {
            arch: frag.arch,
            ins: ins.into_iter().flatten().collect(),
        },
        report.findings,
    )
}

fn asm_line_of_edit(asm: &str, stmt: usize, arch: Arch) -> usize {
    let src = crate::source::split(asm, arch);
    src.stmts[stmt].line as usize
}

/// A litmus shape around the fragment: the accesses before and after it
/// in thread 0 and the other threads.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Its name (diy7 family).
    pub name: &'static str,
    before: (bool, Loc, u8), // (is store, location, value)
    after: (bool, Loc, u8),
    others: &'static [&'static [(u8, char, u8)]], // (0 load / 1 store / 2 fence, loc, value)
}

/// The shapes, each a classic test with the fragment's thread in one role.
pub const SHAPES: [Shape; 9] = [
    Shape {
        name: "MP (writer)",
        before: (true, Loc::X, 1),
        after: (true, Loc::Y, 1),
        others: &[&[(0, 'y', 0), (2, ' ', 0), (0, 'x', 0)]],
    },
    Shape {
        name: "MP (reader)",
        before: (false, Loc::Y, 0),
        after: (false, Loc::X, 0),
        others: &[&[(1, 'x', 1), (2, ' ', 0), (1, 'y', 1)]],
    },
    Shape {
        name: "SB",
        before: (true, Loc::X, 1),
        after: (false, Loc::Y, 0),
        others: &[&[(1, 'y', 1), (2, ' ', 0), (0, 'x', 0)]],
    },
    Shape {
        name: "LB",
        before: (false, Loc::X, 0),
        after: (true, Loc::Y, 1),
        others: &[&[(0, 'y', 0), (2, ' ', 0), (1, 'x', 1)]],
    },
    Shape {
        name: "S",
        before: (true, Loc::X, 2),
        after: (true, Loc::Y, 1),
        others: &[&[(0, 'y', 0), (2, ' ', 0), (1, 'x', 1)]],
    },
    Shape {
        name: "R",
        before: (true, Loc::X, 1),
        after: (true, Loc::Y, 1),
        others: &[&[(1, 'y', 2), (2, ' ', 0), (0, 'x', 0)]],
    },
    Shape {
        name: "2+2W",
        before: (true, Loc::X, 1),
        after: (true, Loc::Y, 2),
        others: &[&[(1, 'y', 1), (2, ' ', 0), (1, 'x', 2)]],
    },
    Shape {
        name: "WRC (middle)",
        before: (false, Loc::X, 0),
        after: (true, Loc::Y, 1),
        others: &[&[(1, 'x', 1)], &[(0, 'y', 0), (2, ' ', 0), (0, 'x', 0)]],
    },
    Shape {
        name: "ISA2 (first)",
        before: (true, Loc::X, 1),
        after: (true, Loc::Y, 1),
        others: &[
            &[(0, 'y', 0), (2, ' ', 0), (1, 'w', 1)],
            &[(0, 'w', 0), (2, ' ', 0), (0, 'x', 0)],
        ],
    },
];

/// Where the fragment's own accesses go, per variant.
const INNER: [char; 3] = ['z', 'x', 'y'];

/// The litmus test of `frag` in `shape`, its inner accesses at `inner`,
/// register 9 = `r9` (selects branch directions).
pub fn litmus(frag: &Fragment, shape: &Shape, inner: char, r9: u8, name: &str) -> String {
    let a64 = frag.arch == Arch::Aarch64;
    let mut threads: Vec<Vec<String>> = Vec::new();
    let mut observed: Vec<String> = Vec::new();
    let loc = |l: Loc| match l {
        Loc::X => 'x',
        Loc::Y => 'y',
        Loc::Inner => inner,
    };
    let x86_regs = ["EAX", "EBX", "ECX", "EDX", "ESI", "EDI"];
    // Thread 0.
    let mut t0 = Vec::new();
    let mut nload = 0usize;
    let mut nstore = 0u8;
    let access = |nload: &mut usize,
                  t: &mut Vec<String>,
                  obs: &mut Vec<String>,
                  store: bool,
                  l: char,
                  v: u8,
                  kind: &str,
                  tid: usize| {
        if a64 {
            let xr = match l {
                'x' => "X1",
                'y' => "X2",
                'z' => "X3",
                _ => "X4",
            };
            if store {
                t.push(format!("MOV W20,#{v}"));
                t.push(format!(
                    "{} W20,[{xr}]",
                    if kind.is_empty() { "STR" } else { kind }
                ));
            } else {
                let r = 10 + *nload;
                *nload += 1;
                if kind.starts_with("SWP") {
                    t.push(format!("MOV W20,#{v}"));
                    t.push(format!("{kind} W20,W{r},[{xr}]"));
                } else {
                    t.push(format!(
                        "{} W{r},[{xr}]",
                        if kind.is_empty() { "LDR" } else { kind }
                    ));
                }
                obs.push(format!("{tid}:X{r}"));
            }
        } else if store {
            t.push(format!("MOV [{l}],${v}"));
        } else {
            let r = x86_regs[*nload % x86_regs.len()];
            *nload += 1;
            if kind.starts_with("SWP") {
                // XCHG with memory: locked, a full barrier.
                t.push(format!("MOV {r},${v}"));
                t.push(format!("XCHG [{l}],{r}"));
            } else {
                t.push(format!("MOV {r},[{l}]"));
            }
            obs.push(format!("{tid}:{r}"));
        }
    };
    let (bs, bl, bv) = shape.before;
    access(&mut nload, &mut t0, &mut observed, bs, loc(bl), bv, "", 0);
    for i in &frag.ins {
        match i {
            Ins::Load(l, k) => {
                let kind = match k {
                    0 => "",
                    1 => "LDAR",
                    _ => "LDAPR",
                };
                access(
                    &mut nload,
                    &mut t0,
                    &mut observed,
                    false,
                    loc(*l),
                    0,
                    kind,
                    0,
                )
            }
            Ins::Store(l, rel) => {
                nstore += 1;
                access(
                    &mut nload,
                    &mut t0,
                    &mut observed,
                    true,
                    loc(*l),
                    10 + nstore,
                    if *rel { "STLR" } else { "" },
                    0,
                )
            }
            Ins::Swap(l, a, r) => {
                nstore += 1;
                let kind = format!(
                    "SWP{}{}",
                    if *a { "A" } else { "" },
                    if *r { "L" } else { "" }
                );
                access(
                    &mut nload,
                    &mut t0,
                    &mut observed,
                    false,
                    loc(*l),
                    10 + nstore,
                    &kind,
                    0,
                )
            }
            Ins::Barrier(b) => t0.push(b.to_ascii_uppercase()),
            Ins::BranchIfZero(n) => t0.push(format!("CBZ W9,LF{n}")),
            Ins::Jump(n) => t0.push(format!("B LF{n}")),
            Ins::Label(n) => t0.push(format!("LF{n}:")),
        }
    }
    let (as_, al, av) = shape.after;
    access(&mut nload, &mut t0, &mut observed, as_, loc(al), av, "", 0);
    threads.push(t0);
    for (k, th) in shape.others.iter().enumerate() {
        let tid = k + 1;
        let mut t = Vec::new();
        nload = 0;
        for &(op, l, v) in th.iter() {
            match op {
                2 => t.push(if a64 {
                    "DMB SY".into()
                } else {
                    "MFENCE".into()
                }),
                _ => access(&mut nload, &mut t, &mut observed, op == 1, l, v, "", tid),
            }
        }
        threads.push(t);
    }
    // Assemble the test.
    let mut s = String::new();
    let _ = writeln!(s, "{} {name}", if a64 { "AArch64" } else { "X86" });
    s.push_str("{\n");
    if a64 {
        for t in 0..threads.len() {
            let _ = write!(s, "{t}:X1=x; {t}:X2=y; {t}:X3=z; {t}:X4=w; ");
        }
        let _ = write!(s, "0:X9={r9};");
    }
    s.push_str("\n}\n");
    let width: Vec<usize> = threads
        .iter()
        .enumerate()
        .map(|(k, t)| {
            t.iter()
                .map(|l| l.len())
                .max()
                .unwrap_or(0)
                .max(format!("P{k}").len())
        })
        .collect();
    let rows = threads.iter().map(|t| t.len()).max().unwrap_or(0);
    let cell = |s: &mut String, text: &str, w: usize, last: bool| {
        let _ = write!(s, " {text:w$} {}", if last { ";" } else { "|" });
    };
    for (k, w) in width.iter().enumerate() {
        cell(&mut s, &format!("P{k}"), *w, k + 1 == threads.len());
    }
    s.push('\n');
    for r in 0..rows {
        for (k, t) in threads.iter().enumerate() {
            cell(
                &mut s,
                t.get(r).map(String::as_str).unwrap_or(""),
                width[k],
                k + 1 == threads.len(),
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "locations [x; y; z; w; {}]", observed.join("; "));
    s
}

/// The evidence of one litmus test: final states of original and
/// rewritten programs.
#[derive(Clone, Debug)]
pub struct Check {
    /// Shape name.
    pub shape: &'static str,
    /// Where the fragment's own accesses went.
    pub inner: char,
    /// Register 9 (branch directions).
    pub r9: u8,
    /// Final states of the original.
    pub original: usize,
    /// Final states of the rewritten program.
    pub rewritten: usize,
    /// States the rewritten program has and the original does not.
    pub new_states: Vec<String>,
    /// The original test's text.
    pub test: String,
}

/// Runs every shape × inner location × branch direction for `orig` vs
/// `new`.
pub fn evidence(orig: &Fragment, new: &Fragment) -> Result<Vec<Check>, String> {
    let model_name = match orig.arch {
        Arch::Aarch64 => "aarch64",
        Arch::X86_64 => "x86tso",
    };
    let model = loci_model::models::load(model_name).map_err(|e| e.to_string())?;
    let opts = ExecOptions {
        prune_coherence: true,
        ..ExecOptions::default()
    };
    let branches = orig.ins.iter().any(|i| matches!(i, Ins::BranchIfZero(_)));
    let r9s: &[u8] = if branches { &[0, 1] } else { &[0] };
    let mut out = Vec::new();
    for shape in &SHAPES {
        for &inner in &INNER {
            for &r9 in r9s {
                let states = |f: &Fragment| -> Result<(BTreeSet<String>, String), String> {
                    let text = litmus(f, shape, inner, r9, "T");
                    let test = loci_model::litmus::parse("evidence.litmus", &text)
                        .map_err(|e| format!("{e}\n{text}"))?;
                    let o = run(&test, &model, &opts).map_err(|e| format!("{e}\n{text}"))?;
                    let set = o
                        .states
                        .keys()
                        .map(|vals| {
                            o.observed
                                .iter()
                                .zip(vals)
                                .map(|(l, v)| format!("{}={v}", l.herd()))
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .collect();
                    Ok((set, text))
                };
                let (a, text) = states(orig)?;
                let (b, _) = states(new)?;
                out.push(Check {
                    shape: shape.name,
                    inner,
                    r9,
                    original: a.len(),
                    rewritten: b.len(),
                    new_states: b.difference(&a).cloned().collect(),
                    test: text,
                });
            }
        }
    }
    Ok(out)
}

/// A rewrite rule with its example and near miss.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Identifier used in findings.
    pub id: &'static str,
    /// Architecture of the examples.
    pub arch: Arch,
    /// What it says.
    pub summary: &'static str,
    /// A fragment it applies to (the analysis must rewrite it with this rule).
    pub example: &'static str,
    /// Whether the example needs `--merge`.
    pub merge: bool,
    /// A near miss: a fragment the analysis must leave alone...
    pub near_miss: &'static str,
    /// ...and the rewrite that would be wrong there.
    pub wrong_rewrite: &'static str,
}

/// Every rule, with examples on both architectures.
pub const RULES: [Rule; 10] = [
    Rule {
        id: "redundant-before",
        arch: Arch::Aarch64,
        summary: "a barrier whose orderings another barrier already gives on every path into it: no access of the kinds it orders since that barrier",
        example: "dmb ish; ld z; dmb ishst",
        merge: false,
        near_miss: "dmb ish; st z; dmb ishst",
        wrong_rewrite: "dmb ish; st z",
    },
    Rule {
        id: "redundant-after",
        arch: Arch::Aarch64,
        summary: "a barrier whose orderings another barrier gives on every path out of it, before any access of the kinds it orders",
        example: "dmb ishst; ld z; dmb ish",
        merge: false,
        near_miss: "dmb ishst; st z; dmb ishld",
        wrong_rewrite: "st z; dmb ishld",
    },
    Rule {
        id: "redundant-before",
        arch: Arch::Aarch64,
        summary: "acquire loads are ordered by themselves: a DMB LD needs no cover for them",
        example: "dmb ishld; ldar z; dmb ishld",
        merge: false,
        near_miss: "dmb ishld; ld z; dmb ishld",
        wrong_rewrite: "dmb ishld; ld z",
    },
    Rule {
        id: "redundant-after",
        arch: Arch::Aarch64,
        summary: "release stores are ordered by themselves: a DMB ST before an STLR and another DMB ST covers nothing new",
        example: "dmb ishst; stlr z; dmb ishst",
        merge: false,
        near_miss: "dmb ishst; st z; dmb ishst",
        wrong_rewrite: "st z; dmb ishst",
    },
    Rule {
        id: "redundant-before",
        arch: Arch::Aarch64,
        summary: "the cover must hold on every path: both arms of a branch end in a full barrier",
        example: "cbz L1; dmb ish; b L2; L1:; dmb ish; L2:; ld z; dmb ishst",
        merge: false,
        near_miss: "cbz L1; dmb ish; b L2; L1:; st z; L2:; ld z; dmb ishst",
        wrong_rewrite: "cbz L1; dmb ish; b L2; L1:; st z; L2:; ld z",
    },
    Rule {
        id: "weaken-to-st",
        arch: Arch::Aarch64,
        summary: "a full DMB whose load orderings are covered elsewhere: only store→store is left, DMB ST suffices",
        example: "dmb ishld; st z; dmb ish; st z; dmb ish",
        merge: false,
        near_miss: "dmb ishld; st z; dmb ish; ld z",
        wrong_rewrite: "dmb ishld; st z; dmb ishst; ld z",
    },
    Rule {
        id: "weaken-to-ld",
        arch: Arch::Aarch64,
        summary: "a full DMB after which no store comes before another full DMB, and no store since the last one: only load→* is left, DMB LD suffices",
        example: "dmb ish; ld z; dmb ish; ld z",
        merge: false,
        near_miss: "st z; dmb ish; ld z",
        wrong_rewrite: "st z; dmb ishld; ld z",
    },
    Rule {
        id: "merge",
        arch: Arch::Aarch64,
        summary: "two barriers with nothing between them become one that orders everything either orders (a strengthening, with --merge)",
        example: "dmb ishld; dmb ishst",
        merge: true,
        near_miss: "dmb ishld; st z; dmb ishst",
        wrong_rewrite: "dmb ish; st z",
    },
    Rule {
        id: "redundant-before",
        arch: Arch::X86_64,
        summary: "x86-TSO (Vafeiadis & Zappa Nardelli FE1): an MFENCE with no store since the previous MFENCE or locked instruction",
        example: "mfence; ld z; mfence",
        merge: false,
        near_miss: "mfence; st z; mfence",
        wrong_rewrite: "mfence; st z",
    },
    Rule {
        id: "redundant-after",
        arch: Arch::X86_64,
        summary: "x86-TSO (Vafeiadis & Zappa Nardelli FE2): an MFENCE followed by another fence before any load",
        example: "mfence; st z; mfence",
        merge: false,
        near_miss: "mfence; ld z",
        wrong_rewrite: "ld z",
    },
];

/// Checks a rule: the analysis rewrites its example with this rule and
/// the evidence shows no new state; the analysis leaves the near miss
/// alone and the wrong rewrite does show a new state. Returns the
/// example's rewrite and both evidences.
pub fn check_rule(rule: &Rule) -> Result<RuleEvidence, String> {
    let example = Fragment::parse(rule.arch, rule.example);
    let (rewritten, findings) = apply(&example, rule.merge);
    let used = findings.iter().any(|f| f.rule == rule.id && f.applied);
    let example_checks = evidence(&example, &rewritten)?;
    let near = Fragment::parse(rule.arch, rule.near_miss);
    let (near_rewritten, near_findings) = apply(&near, rule.merge);
    let wrong = Fragment::parse(rule.arch, rule.wrong_rewrite);
    let wrong_checks = evidence(&near, &wrong)?;
    Ok(RuleEvidence {
        example,
        rewritten,
        used,
        findings,
        example_checks,
        near_miss_untouched: near_rewritten == near
            || near_findings.iter().all(|f| {
                f.kind != Kind::Redundant && f.kind != Kind::Weakenable || f.rule != rule.id
            }),
        wrong_checks,
    })
}

/// What [`check_rule`] found.
#[derive(Clone, Debug)]
pub struct RuleEvidence {
    /// The example.
    pub example: Fragment,
    /// What the analysis made of it.
    pub rewritten: Fragment,
    /// Whether the analysis used this rule on it.
    pub used: bool,
    /// The analysis' findings on the example.
    pub findings: Vec<Finding>,
    /// Original vs rewritten example, per test.
    pub example_checks: Vec<Check>,
    /// Whether the analysis left the near miss alone.
    pub near_miss_untouched: bool,
    /// Near miss vs the wrong rewrite, per test.
    pub wrong_checks: Vec<Check>,
}

impl RuleEvidence {
    /// Sound example, applied by the analysis, near miss untouched, wrong
    /// rewrite caught.
    pub fn holds(&self) -> bool {
        self.used
            && self.example_checks.iter().all(|c| c.new_states.is_empty())
            && self.near_miss_untouched
            && self.wrong_checks.iter().any(|c| !c.new_states.is_empty())
    }
}
