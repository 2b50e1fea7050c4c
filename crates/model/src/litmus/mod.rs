//! Litmus tests in herd7's syntax: the parsed form ([`Test`]) and the parser.
//!
//! A test file is `ARCH NAME`, an optional doc string and `key=value`
//! metadata, the init block `{ ... }`, the threads (columns separated by `|`
//! and `;` for assembly, `P0(...) { ... }` functions for C), then optional
//! `locations [...]` and `filter (...)`, and the final condition (`exists`,
//! `~exists` or `forall`). Trailing `<< ... >>` blocks (herd's old extra
//! sections) are ignored.

mod cond;
mod parse;

pub use cond::parse_prop;
pub use parse::{parse, parse_file};

use crate::ir::{Pos, Thread, Value};
use serde::Serialize;
use std::fmt;

/// The architecture a test is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Arch {
    /// Arm AArch64.
    AArch64,
    /// Intel x86 (32-bit register names, herd's `X86`).
    X86,
    /// x86-64 (herd's `X86_64`).
    X86_64,
    /// C11 with atomics.
    C,
}

impl Arch {
    /// herd7's name for the architecture.
    pub fn herd_name(self) -> &'static str {
        match self {
            Arch::AArch64 => "AArch64",
            Arch::X86 => "X86",
            Arch::X86_64 => "X86_64",
            Arch::C => "C",
        }
    }
}

/// A parse problem at a position of the file being parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    /// Where (1-based line and column).
    pub pos: Pos,
    /// What is wrong.
    pub msg: String,
}

impl Diag {
    /// A diagnostic at `pos`.
    pub fn new(pos: Pos, msg: impl Into<String>) -> Self {
        Diag {
            pos,
            msg: msg.into(),
        }
    }
}

/// An error in a litmus file: `file:line:col: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LitmusError {
    /// The file (as given by the caller).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for LitmusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
    }
}

impl std::error::Error for LitmusError {}

impl LitmusError {
    /// Attaches a file name to a diagnostic.
    pub fn from_diag(file: &str, d: Diag) -> Self {
        LitmusError {
            file: file.to_string(),
            line: d.pos.line,
            col: d.pos.col,
            msg: d.msg,
        }
    }
}

/// A line of thread source handed to an assembly front end: the text of one
/// instruction cell (between `|` separators), with the position of its
/// first character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrcLine {
    /// The cell's text, trimmed.
    pub text: String,
    /// Position of `text`'s first character.
    pub pos: Pos,
}

/// Something a final state or condition can name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum LVal {
    /// A register of a thread (`1:X2`; `P1:EAX` is normalised to `1:EAX`).
    Reg {
        /// Thread index.
        thread: usize,
        /// Register name as written in the condition.
        reg: String,
    },
    /// A memory location (`x` or `[x]`).
    Loc(String),
}

impl fmt::Display for LVal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LVal::Reg { thread, reg } => write!(f, "{thread}:{reg}"),
            LVal::Loc(l) => write!(f, "{l}"),
        }
    }
}

/// One entry of the init block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitItem {
    /// What is initialised.
    pub lval: LVal,
    /// Declared type, when given (`uint64_t`, `int*`, `atomic_int`...).
    pub ty: Option<String>,
    /// Initial value (`None`: declared only; the value is 0).
    pub value: Option<Value>,
    /// Where it was written.
    pub pos: Pos,
}

/// A proposition over final states (condition and filter).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Prop {
    /// Always true.
    True,
    /// Always false.
    False,
    /// `lval = value`.
    Eq(LVal, Value),
    /// `lval = lval` (both sides read from the state).
    EqLVal(LVal, LVal),
    /// `~p`.
    Not(Box<Prop>),
    /// `p /\ q /\ ...`.
    And(Vec<Prop>),
    /// `p \/ q \/ ...`.
    Or(Vec<Prop>),
    /// `p => q`.
    Implies(Box<Prop>, Box<Prop>),
}

impl Prop {
    /// Every lval the proposition reads, in order of first appearance.
    pub fn lvals(&self, out: &mut Vec<LVal>) {
        match self {
            Prop::True | Prop::False => {}
            Prop::Eq(l, _) => push_unique(out, l),
            Prop::EqLVal(a, b) => {
                push_unique(out, a);
                push_unique(out, b);
            }
            Prop::Not(p) => p.lvals(out),
            Prop::And(ps) | Prop::Or(ps) => ps.iter().for_each(|p| p.lvals(out)),
            Prop::Implies(a, b) => {
                a.lvals(out);
                b.lvals(out);
            }
        }
    }

    /// Evaluates the proposition, reading lvals with `get`.
    pub fn eval(&self, get: &impl Fn(&LVal) -> Value) -> bool {
        match self {
            Prop::True => true,
            Prop::False => false,
            Prop::Eq(l, v) => get(l) == *v,
            Prop::EqLVal(a, b) => get(a) == get(b),
            Prop::Not(p) => !p.eval(get),
            Prop::And(ps) => ps.iter().all(|p| p.eval(get)),
            Prop::Or(ps) => ps.iter().any(|p| p.eval(get)),
            Prop::Implies(a, b) => !a.eval(get) || b.eval(get),
        }
    }
}

fn push_unique(out: &mut Vec<LVal>, l: &LVal) {
    if !out.contains(l) {
        out.push(l.clone());
    }
}

impl LVal {
    /// herd7's rendering in states and conditions: `1:X2`, `[x]`.
    pub fn herd(&self) -> String {
        match self {
            LVal::Reg { thread, reg } => format!("{thread}:{reg}"),
            LVal::Loc(l) => format!("[{l}]"),
        }
    }
}

impl Prop {
    /// Binding strength: `=>` 1, `\/` 2, `/\` 3, atoms and `not` 4.
    fn level(&self) -> u8 {
        match self {
            Prop::Implies(..) => 1,
            Prop::Or(_) => 2,
            Prop::And(_) => 3,
            _ => 4,
        }
    }
}

impl fmt::Display for Prop {
    /// herd7's rendering, as in its `Condition` line: memory locations in
    /// brackets, parentheses only where precedence needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prop::True => write!(f, "true"),
            Prop::False => write!(f, "false"),
            Prop::Eq(l, v) => write!(f, "{}={v}", l.herd()),
            Prop::EqLVal(a, b) => write!(f, "{}={}", a.herd(), b.herd()),
            Prop::Not(p) => write!(f, "not ({p})"),
            Prop::And(ps) => join(f, ps, " /\\ ", 3),
            Prop::Or(ps) => join(f, ps, " \\/ ", 2),
            Prop::Implies(a, b) => write!(f, "{} => {}", Paren(a, 2), Paren(b, 1)),
        }
    }
}

/// A proposition, parenthesised when it binds more loosely than `.1`.
struct Paren<'a>(&'a Prop, u8);

impl fmt::Display for Paren<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.level() < self.1 {
            write!(f, "({})", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, ps: &[Prop], sep: &str, level: u8) -> fmt::Result {
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            write!(f, "{sep}")?;
        }
        // Same-level children (e.g. a nested conjunction) keep their
        // parentheses so that the tree reads back the same.
        write!(f, "{}", Paren(p, level + 1))?;
    }
    Ok(())
}

/// The kind of final condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Quantifier {
    /// `exists p`: some execution satisfies `p`.
    Exists,
    /// `~exists p`: no execution satisfies `p`.
    NotExists,
    /// `forall p`: every execution satisfies `p`.
    Forall,
}

/// A parsed litmus test.
#[derive(Clone, Debug)]
pub struct Test {
    /// Architecture.
    pub arch: Arch,
    /// Test name.
    pub name: String,
    /// Doc string, if any.
    pub doc: Option<String>,
    /// `key=value` metadata lines.
    pub info: Vec<(String, String)>,
    /// The init block.
    pub init: Vec<InitItem>,
    /// The threads, lowered to IR.
    pub threads: Vec<Thread>,
    /// Extra lvals to observe (`locations [...]`).
    pub locations: Vec<LVal>,
    /// `filter` proposition: executions failing it are discarded.
    pub filter: Option<Prop>,
    /// The final condition's quantifier.
    pub quantifier: Quantifier,
    /// The final condition's proposition.
    pub condition: Prop,
    /// Position of the condition keyword.
    pub condition_pos: Pos,
}

impl Test {
    /// The lvals shown in final states: `locations` first, then those of the
    /// condition (herd7's order).
    pub fn observed(&self) -> Vec<LVal> {
        let mut out = Vec::new();
        for l in &self.locations {
            push_unique(&mut out, l);
        }
        self.condition.lvals(&mut out);
        out
    }
}
