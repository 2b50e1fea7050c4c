//! Abstract syntax of cat models, as written (names are still strings).
//!
//! The parser produces these trees; `resolve` turns them into the slot-based
//! form that `eval` runs.

use std::fmt;

/// A source position: index of the file in the model's file table, then a
/// 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// Binary operators on sets and relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    /// `|`
    Union,
    /// `&`
    Inter,
    /// `\`
    Diff,
    /// `;`
    Seq,
    /// `*` between two sets.
    Product,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Union => "|",
            BinOp::Inter => "&",
            BinOp::Diff => "\\",
            BinOp::Seq => ";",
            BinOp::Product => "*",
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    /// Prefix `~`.
    Comp,
    /// Postfix `^-1`.
    Inv,
    /// Postfix `+`.
    Plus,
    /// Postfix `*`.
    Star,
    /// Postfix `?`.
    Opt,
    /// `[e]`.
    ToId,
}

/// A function's formal parameters: one name (`f x`, `f(x)`; `None` for `_`)
/// or a tuple (`f(a, b)`, `f()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pat {
    Var(Option<String>),
    Tuple(Vec<Option<String>>),
}

/// A condition over the variants the caller selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    Variant(String, Pos),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

/// `name = expr`; function bindings are desugared into [`Expr::Fun`].
#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub name: String,
    pub pos: Pos,
    pub expr: Expr,
}

/// Expressions.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    /// `0` or `{}`: the empty set or relation.
    Empty,
    /// `_`: all events.
    Universe,
    Var(String, Pos),
    /// The position is the operator's.
    Bin(BinOp, Box<Expr>, Box<Expr>, Pos),
    Un(UnOp, Box<Expr>, Pos),
    /// Function application `f x`, `f(x, y)`.
    App(Box<Expr>, Box<Expr>, Pos),
    /// `(e1, e2, ...)` or `()`.
    Tuple(Vec<Expr>),
    Fun(Pat, Box<Expr>),
    Let {
        rec: bool,
        binds: Vec<Binding>,
        body: Box<Expr>,
        pos: Pos,
    },
    If(Cond, Box<Expr>, Box<Expr>),
    Try(Box<Expr>, Box<Expr>),
}

/// Fully parenthesised rendering, used by tests to check precedence.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Empty => f.write_str("0"),
            Expr::Universe => f.write_str("_"),
            Expr::Var(x, _) => f.write_str(x),
            Expr::Bin(op, a, b, _) => write!(f, "({a} {} {b})", op.symbol()),
            Expr::Un(UnOp::Comp, a, _) => write!(f, "~{a}"),
            Expr::Un(UnOp::ToId, a, _) => write!(f, "[{a}]"),
            Expr::Un(op, a, _) => {
                let s = match op {
                    UnOp::Inv => "^-1",
                    UnOp::Plus => "+",
                    UnOp::Star => "*",
                    _ => "?",
                };
                write!(f, "{a}{s}")
            }
            Expr::App(g, a, _) => write!(f, "{g}({a})"),
            Expr::Tuple(es) => {
                f.write_str("<")?;
                for (i, e) in es.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(">")
            }
            Expr::Fun(p, b) => write!(f, "(fun {p:?} -> {b})"),
            Expr::Let {
                rec, binds, body, ..
            } => {
                f.write_str(if *rec { "(let rec " } else { "(let " })?;
                for (i, b) in binds.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    write!(f, "{} = {}", b.name, b.expr)?;
                }
                write!(f, " in {body})")
            }
            Expr::If(c, a, b) => write!(f, "(if {c:?} then {a} else {b})"),
            Expr::Try(a, b) => write!(f, "(try {a} with {b})"),
        }
    }
}

/// The three tests of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckKind {
    Acyclic,
    Irreflexive,
    Empty,
}

/// How a check's outcome is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckMode {
    /// A failure forbids the execution.
    Require,
    /// `flag`: a success is reported, nothing is forbidden.
    Flag,
    /// `undefined_unless`: a failure makes the execution undefined.
    UndefinedUnless,
    /// `assert`: a failure is an error of the model.
    Assert,
}

/// Instructions.
#[derive(Clone, Debug)]
pub(crate) enum Instr {
    Let {
        rec: bool,
        binds: Vec<Binding>,
    },
    Check {
        mode: CheckMode,
        negated: bool,
        kind: CheckKind,
        expr: Expr,
        name: Option<String>,
        pos: Pos,
    },
    Procedure {
        name: String,
        rec: bool,
        pat: Pat,
        body: Vec<Instr>,
        pos: Pos,
    },
    Call {
        name: String,
        arg: Expr,
        as_name: Option<String>,
        pos: Pos,
    },
    If {
        cond: Cond,
        then: Vec<Instr>,
        els: Vec<Instr>,
    },
    Include {
        file: String,
        pos: Pos,
    },
}

/// One parsed file.
#[derive(Clone, Debug)]
pub(crate) struct File {
    pub title: Option<String>,
    pub instrs: Vec<Instr>,
}
