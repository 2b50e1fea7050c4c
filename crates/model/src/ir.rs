//! The intermediate representation that every front end (AArch64, X86, C)
//! lowers a litmus thread to, and that the execution engine interprets.
//!
//! A thread is a list of [`Inst`]s over numbered registers. Registers hold
//! 64-bit values or addresses; memory accesses carry a width and a set of
//! annotation tags (`A`, `L`, `X`, `RLX`, `SC`, ...) that become the event
//! sets the memory model (a cat file) refers to. Fences are events that carry
//! only tags (`DMB.ISH`, `MFENCE`, ...).
//!
//! Dependencies (addr, data, ctrl) are not written in the IR: the engine
//! derives them from which registers an instruction reads, exactly as a
//! register-dataflow analysis would.

use serde::Serialize;
use std::fmt;

/// Index of a register in [`Thread::regs`].
pub type RegId = u16;

/// Index of a label in [`Thread::labels`].
pub type LabelId = u16;

/// An annotation tag on an event; becomes an event set of the same name in
/// cat (e.g. `A`, `Q`, `L`, `X`, `NoRet`, `DMB.ISH`, `ISB`, `MFENCE`, `RLX`,
/// `ACQ`, `REL`, `ACQ_REL`, `SC`, `NA`).
pub type Tag = &'static str;

/// A value held in a register or memory: an integer or the address of a
/// location plus a byte offset.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Value {
    /// A 64-bit integer (stored as two's complement).
    Int(i64),
    /// The address of a named location plus a byte offset.
    Addr(String, i64),
}

impl Value {
    /// The integer zero.
    pub const ZERO: Value = Value::Int(0);
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Addr(s, 0) => write!(f, "{s}"),
            Value::Addr(s, o) => write!(f, "{s}+{o}"),
        }
    }
}

/// An operand of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The current value of a register.
    Reg(RegId),
    /// A constant.
    Const(Value),
}

/// Binary operators of expressions. Arithmetic wraps at 64 bits; results are
/// truncated to the destination's width by the instruction, not here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+` (also address + offset).
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise exclusive or.
    Xor,
    /// Bit clear: `a & !b`.
    Bic,
    /// Logical shift left.
    Shl,
    /// Logical shift right.
    Lsr,
    /// Arithmetic shift right.
    Asr,
    /// `==` (1 or 0).
    Eq,
    /// `!=` (1 or 0).
    Ne,
    /// Signed `<`.
    Lt,
    /// Signed `<=`.
    Le,
    /// Signed `>`.
    Gt,
    /// Signed `>=`.
    Ge,
    /// Unsigned `<`.
    Ltu,
    /// Unsigned `<=`.
    Leu,
    /// Unsigned `>`.
    Gtu,
    /// Unsigned `>=`.
    Geu,
    /// Logical and of truth values (1 or 0).
    LAnd,
    /// Logical or of truth values (1 or 0).
    LOr,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// Two's complement negation.
    Neg,
    /// Bitwise not.
    Not,
    /// Logical not (1 if zero, else 0).
    LNot,
    /// Keep the low `n` bits, zero-extending (`n` in 1..=63).
    ZeroExt(u8),
    /// Keep the low `n` bits, sign-extending (`n` in 1..=63).
    SignExt(u8),
}

/// A side-effect-free expression over registers and constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// An operand.
    Op(Operand),
    /// A binary operation.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// A unary operation.
    Un(UnOp, Box<Expr>),
    /// `if cond != 0 then a else b`. Registers read by `cond` give the
    /// result a *pick* dependency (AArch64 `CSEL`), not a data dependency.
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// A register read.
    pub fn reg(r: RegId) -> Expr {
        Expr::Op(Operand::Reg(r))
    }
    /// An integer constant.
    pub fn int(v: i64) -> Expr {
        Expr::Op(Operand::Const(Value::Int(v)))
    }
    /// The address of a location.
    pub fn addr(loc: &str) -> Expr {
        Expr::Op(Operand::Const(Value::Addr(loc.to_string(), 0)))
    }
    /// `a op b`.
    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Bin(op, Box::new(a), Box::new(b))
    }
    /// `op a`.
    pub fn un(op: UnOp, a: Expr) -> Expr {
        Expr::Un(op, Box::new(a))
    }
    /// Calls `f` on every register the expression reads, with `true` when
    /// the read only selects (the condition of a [`Expr::Select`]).
    pub fn visit_regs(&self, f: &mut impl FnMut(RegId, bool)) {
        self.visit_regs_in(false, f)
    }
    fn visit_regs_in(&self, pick: bool, f: &mut impl FnMut(RegId, bool)) {
        match self {
            Expr::Op(Operand::Reg(r)) => f(*r, pick),
            Expr::Op(Operand::Const(_)) => {}
            Expr::Bin(_, a, b) => {
                a.visit_regs_in(pick, f);
                b.visit_regs_in(pick, f);
            }
            Expr::Un(_, a) => a.visit_regs_in(pick, f),
            Expr::Select(c, a, b) => {
                c.visit_regs_in(true, f);
                a.visit_regs_in(pick, f);
                b.visit_regs_in(pick, f);
            }
        }
    }
}

/// Access width in bytes (1, 2, 4, 8 or 16).
pub type Width = u8;

/// A read-modify-write operation applied to the old value `old` and the
/// instruction's operand `v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RmwOp {
    /// New value is `v` (swap / exchange).
    Swap,
    /// `old + v`.
    Add,
    /// `old - v`.
    Sub,
    /// `old & !v` (AArch64 LDCLR).
    Clr,
    /// `old & v`.
    And,
    /// `old | v` (AArch64 LDSET).
    Or,
    /// `old ^ v`.
    Xor,
    /// `!(old & v)`.
    Nand,
    /// Signed maximum.
    Smax,
    /// Signed minimum.
    Smin,
    /// Unsigned maximum.
    Umax,
    /// Unsigned minimum.
    Umin,
}

/// One IR instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inst {
    /// `dst := expr`, truncated to `width` bytes when `width < 8`
    /// (zero-extended, as AArch64 `W` registers).
    Assign {
        /// Destination register.
        dst: RegId,
        /// Value.
        expr: Expr,
        /// Result width in bytes.
        width: Width,
    },
    /// `dst := mem[addr]` (`dst` absent for a load whose value is dropped).
    Load {
        /// Destination register.
        dst: Option<RegId>,
        /// Address.
        addr: Expr,
        /// Access width in bytes.
        width: Width,
        /// Sign-extend the loaded value to 64 bits.
        signed: bool,
        /// Event tags.
        tags: Vec<Tag>,
    },
    /// `mem[addr] := val` (truncated to `width`).
    Store {
        /// Address.
        addr: Expr,
        /// Stored value.
        val: Expr,
        /// Access width in bytes.
        width: Width,
        /// Event tags.
        tags: Vec<Tag>,
    },
    /// A store-exclusive: either succeeds (writes, `status := 0`) or fails
    /// (no write, `status := 1`). It pairs with the po-previous load tagged
    /// `X` to form `lxsx`/`rmw`.
    StoreExclusive {
        /// Status register (`0` success, `1` failure).
        status: RegId,
        /// Address.
        addr: Expr,
        /// Stored value.
        val: Expr,
        /// Access width in bytes.
        width: Width,
        /// Event tags (include `X`).
        tags: Vec<Tag>,
    },
    /// A single-instruction atomic read-modify-write: reads `old`, writes
    /// `op(old, operand)`, `dst := old`. Both events are tagged `X` by the
    /// engine and related by `amo`.
    Rmw {
        /// Register receiving the old value.
        dst: Option<RegId>,
        /// Address.
        addr: Expr,
        /// Operation.
        op: RmwOp,
        /// Operand.
        operand: Expr,
        /// Access width in bytes.
        width: Width,
        /// Tags of the read event.
        read_tags: Vec<Tag>,
        /// Tags of the write event.
        write_tags: Vec<Tag>,
    },
    /// Compare-and-swap: reads `old`; when `old == expected` writes `new`
    /// (an atomic pair like [`Inst::Rmw`]); otherwise only the read happens
    /// with `fail_tags`. `dst := old`; `ok` (when present) `:= 1` on success,
    /// `0` on failure. When `update_expected` names a register, it receives
    /// `old` on failure (C's `compare_exchange`, whose `expected` lives in a
    /// local).
    Cas {
        /// Register receiving the old value.
        dst: Option<RegId>,
        /// Register receiving success (1) / failure (0).
        ok: Option<RegId>,
        /// Address.
        addr: Expr,
        /// Expected value.
        expected: Expr,
        /// Value written on success.
        new: Expr,
        /// Access width in bytes.
        width: Width,
        /// Tags of the read on success.
        read_tags: Vec<Tag>,
        /// Tags of the write on success.
        write_tags: Vec<Tag>,
        /// Tags of the read on failure.
        fail_tags: Vec<Tag>,
        /// Whether a failing CAS may also fail spuriously (C `_weak`): the
        /// engine then also explores failure when `old == expected`.
        weak: bool,
    },
    /// A fence event with the given tags (e.g. `["DMB.ISH"]`, `["MFENCE"]`,
    /// `["F", "SC"]`).
    Fence {
        /// Event tags.
        tags: Vec<Tag>,
    },
    /// Jump to `target` when `cond` is non-zero (always when `cond` is
    /// `None`). A conditional branch makes every later event
    /// control-dependent on the reads `cond` depends on.
    Branch {
        /// Condition (taken when non-zero); `None` for an unconditional jump.
        cond: Option<Expr>,
        /// Destination label.
        target: LabelId,
    },
    /// A label: the position [`Inst::Branch`] jumps to.
    Label(LabelId),
}

/// Where an instruction came from in the test file (1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Line.
    pub line: u32,
    /// Column.
    pub col: u32,
}

/// One thread of a litmus test, lowered to IR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Thread {
    /// Thread name as in the test (`P0`).
    pub name: String,
    /// Register names, indexed by [`RegId`] (canonical names: `X0` for both
    /// `W0` and `X0`; `EAX`; C local `r1`).
    pub regs: Vec<String>,
    /// Label names, indexed by [`LabelId`].
    pub labels: Vec<String>,
    /// The code.
    pub code: Vec<Inst>,
    /// Source position of each instruction of `code`.
    pub pos: Vec<Pos>,
}

impl Thread {
    /// The id of register `name`, adding it if new.
    pub fn reg(&mut self, name: &str) -> RegId {
        if let Some(i) = self.regs.iter().position(|r| r == name) {
            return i as RegId;
        }
        self.regs.push(name.to_string());
        (self.regs.len() - 1) as RegId
    }

    /// The id of label `name`, adding it if new.
    pub fn label(&mut self, name: &str) -> LabelId {
        if let Some(i) = self.labels.iter().position(|r| r == name) {
            return i as LabelId;
        }
        self.labels.push(name.to_string());
        (self.labels.len() - 1) as LabelId
    }

    /// Appends an instruction that came from `pos`.
    pub fn push(&mut self, inst: Inst, pos: Pos) {
        self.code.push(inst);
        self.pos.push(pos);
    }
}
