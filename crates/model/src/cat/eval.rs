//! Evaluation of a resolved model on one candidate execution.
//!
//! Values are event sets, relations, the two polymorphic constants (`0`/`{}`,
//! the empty set or relation, and `_`, all events or all pairs: which one is
//! decided by the other operand, as in herd), tuples, closures, procedures
//! and builtin functions. Matrices are shared behind `Arc`s, so copying a
//! value is cheap and a [`Model`](super::Model) can be shared by threads.
//!
//! Global slots are evaluated lazily, at most once per execution: a binding
//! that no check uses costs nothing, and one that names a primitive the
//! execution lacks is an error only if something uses it. `let rec` groups
//! are computed as least fixpoints by iterating from the empty value until
//! nothing changes.
//!
//! Cost notes: one execution allocates a slot table and a base-name table
//! (one pointer-sized entry each); each base name is looked up in the
//! [`Base`](super::Base) maps once, on first use, and copied once; every
//! operator allocates its result matrix.

use std::fmt;
use std::sync::Arc;

use super::ast::{BinOp, CheckKind, CheckMode, Pos, UnOp};
use super::resolve::{
    Capture, Code, Cond, Expr, FunDef, GlobalDef, Instr, PatSlots, ProcDef, Program,
};
use super::{Base, StaticCache, Verdict};
use crate::rel::{EventSet, Relation};

/// Deepest nesting of function and procedure calls; cat functions cannot
/// test their arguments without `match`, so deep recursion never ends.
const MAX_CALL_DEPTH: u32 = 200;

/// A builtin function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// `domain(r)`: the events with a successor.
    Domain,
    /// `range(r)`: the events with a predecessor.
    Range,
    /// `ctrlcfence(S)` or herd's `ctrlcfence(r, S)`: `(r & (_ * S)); po`
    /// with `r` = `ctrl` by default; the base indices of `po` and `ctrl`.
    CtrlCfence { po: u32, ctrl: u32 },
}

/// A closure: a function and the values it captured.
#[derive(Debug)]
pub(crate) struct Closure {
    pub def: Arc<FunDef>,
    pub captured: Vec<Value>,
}

/// A procedure and the values it captured.
#[derive(Debug)]
pub(crate) struct ProcVal {
    pub def: Arc<ProcDef>,
    pub captured: Vec<Value>,
}

/// A cat value.
#[derive(Clone)]
pub(crate) enum Value {
    /// `0`, `{}`: the empty set or relation.
    Empty,
    /// `_`: all events, or all pairs of events.
    Universe,
    Set(Arc<EventSet>),
    Rel(Arc<Relation>),
    Tuple(Arc<[Value]>),
    Closure(Arc<Closure>),
    Proc(Arc<ProcVal>),
    Builtin(Builtin),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Empty => f.write_str("{}"),
            Value::Universe => f.write_str("_"),
            Value::Set(s) => write!(f, "set {s:?}"),
            Value::Rel(r) => write!(f, "rel {r:?}"),
            Value::Tuple(t) => f.debug_tuple("").field(t).finish(),
            Value::Closure(c) => write!(f, "<fun {}>", c.def.name),
            Value::Proc(p) => write!(f, "<procedure {}>", p.def.name),
            Value::Builtin(b) => write!(f, "<builtin {b:?}>"),
        }
    }
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Empty => "the empty value",
            Value::Universe => "the universe `_`",
            Value::Set(_) => "a set",
            Value::Rel(_) => "a relation",
            Value::Tuple(_) => "a tuple",
            Value::Closure(_) | Value::Builtin(_) => "a function",
            Value::Proc(_) => "a procedure",
        }
    }

    /// Whether the value means the same for every number of events.
    fn n_independent(&self) -> bool {
        match self {
            Value::Set(_) | Value::Rel(_) => false,
            Value::Tuple(t) => t.iter().all(Value::n_independent),
            Value::Closure(c) => c.captured.iter().all(Value::n_independent),
            Value::Proc(p) => p.captured.iter().all(Value::n_independent),
            Value::Empty | Value::Universe | Value::Builtin(_) => true,
        }
    }
}

/// Whether two values are equal (for fixpoints); functions compare by
/// definition and captures.
fn same(a: &Value, b: &Value, n: usize) -> bool {
    match (a, b) {
        (Value::Empty, Value::Empty) | (Value::Universe, Value::Universe) => true,
        (Value::Empty, Value::Set(s)) | (Value::Set(s), Value::Empty) => s.is_empty(),
        (Value::Empty, Value::Rel(r)) | (Value::Rel(r), Value::Empty) => r.is_empty(),
        (Value::Universe, Value::Set(s)) | (Value::Set(s), Value::Universe) => s.len() == n,
        (Value::Universe, Value::Rel(r)) | (Value::Rel(r), Value::Universe) => r.len() == n * n,
        (Value::Set(x), Value::Set(y)) => x == y,
        (Value::Rel(x), Value::Rel(y)) => x == y,
        (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q, n))
        }
        (Value::Closure(x), Value::Closure(y)) => {
            Arc::ptr_eq(&x.def, &y.def)
                && x.captured
                    .iter()
                    .zip(&y.captured)
                    .all(|(p, q)| same(p, q, n))
        }
        (Value::Proc(x), Value::Proc(y)) => Arc::ptr_eq(x, y),
        (Value::Builtin(x), Value::Builtin(y)) => x == y,
        _ => false,
    }
}

/// What went wrong while evaluating, and where.
#[derive(Debug)]
pub(crate) struct EvalError {
    pub pos: Pos,
    pub msg: EvalMsg,
}

/// The message of an [`EvalError`], formatted only when reported.
#[derive(Debug)]
pub(crate) enum EvalMsg {
    Unbound(Arc<str>),
    Text(String),
}

impl fmt::Display for EvalMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalMsg::Unbound(x) => write!(f, "unbound identifier `{x}`"),
            EvalMsg::Text(s) => f.write_str(s),
        }
    }
}

type R<T> = Result<T, EvalError>;

fn fail<T>(pos: Pos, msg: String) -> R<T> {
    Err(EvalError {
        pos,
        msg: EvalMsg::Text(msg),
    })
}

/// Lazy state of a global slot.
#[derive(Clone)]
pub(crate) enum GState {
    Pending,
    Busy,
    Done(Value),
}

/// Local variables of the running function, procedure or definition.
struct Frame<'f> {
    locals: Vec<Value>,
    captured: &'f [Value],
}

impl<'f> Frame<'f> {
    fn new(nlocals: u32, captured: &'f [Value]) -> Self {
        Frame {
            locals: vec![Value::Empty; nlocals as usize],
            captured,
        }
    }
}

/// Outcome of running instructions.
enum Flow {
    Go,
    /// A required check failed; its label.
    Stop(Arc<str>),
}

/// Evaluation state for one candidate execution.
struct Ctx<'a> {
    prog: &'a Program,
    base: &'a Base,
    n: usize,
    globals: Vec<GState>,
    bases: Vec<Option<Value>>,
    variants: Vec<bool>,
    depth: u32,
    flags: Vec<String>,
    undefined: Vec<String>,
}

fn set_op(op: BinOp, a: &EventSet, b: &EventSet) -> EventSet {
    match op {
        BinOp::Union => a.union(b),
        BinOp::Inter => a.inter(b),
        _ => a.diff(b),
    }
}

fn rel_op(op: BinOp, a: &Relation, b: &Relation) -> Relation {
    match op {
        BinOp::Union => a.union(b),
        BinOp::Inter => a.inter(b),
        _ => a.diff(b),
    }
}

fn full_rel(n: usize) -> Relation {
    let all = EventSet::full(n);
    Relation::product(&all, &all)
}

impl<'a> Ctx<'a> {
    fn new(
        prog: &'a Program,
        base: &'a Base,
        globals: Vec<GState>,
        bases: Vec<Option<Value>>,
    ) -> Self {
        let variants = prog
            .variant_names
            .iter()
            .map(|v| base.variants.contains(v))
            .collect();
        Ctx {
            prog,
            base,
            n: base.n,
            globals,
            bases,
            variants,
            depth: 0,
            flags: Vec::new(),
            undefined: Vec::new(),
        }
    }

    // ----- names -----

    fn base_value(&mut self, b: u32, pos: Pos) -> R<Value> {
        if let Some(v) = &self.bases[b as usize] {
            return Ok(v.clone());
        }
        let name = &self.prog.base_names[b as usize];
        let n = self.n;
        let mismatch = |u: usize| {
            fail(
                pos,
                format!("primitive `{name}` is over {u} events but the execution has {n}"),
            )
        };
        let v = if let Some(s) = self.base.sets.get(&**name) {
            if s.universe() != n {
                return mismatch(s.universe());
            }
            Value::Set(Arc::new(s.clone()))
        } else if let Some(r) = self.base.rels.get(&**name) {
            if r.universe() != n {
                return mismatch(r.universe());
            }
            Value::Rel(Arc::new(r.clone()))
        } else if &**name == "id" {
            Value::Rel(Arc::new(Relation::identity(n)))
        } else {
            return Err(EvalError {
                pos,
                msg: EvalMsg::Unbound(name.clone()),
            });
        };
        self.bases[b as usize] = Some(v.clone());
        Ok(v)
    }

    fn eval_code(&mut self, code: &Code) -> R<Value> {
        let mut fr = Frame::new(code.nlocals, &[]);
        self.eval(&code.expr, &mut fr)
    }

    fn global(&mut self, slot: u32) -> R<Value> {
        let s = slot as usize;
        match &self.globals[s] {
            GState::Done(v) => return Ok(v.clone()),
            GState::Busy => {
                return fail(
                    Pos::default(),
                    "internal error: cyclic global definition".into(),
                )
            }
            GState::Pending => {}
        }
        let prog = self.prog;
        match &prog.globals[s] {
            GlobalDef::Code(code) => {
                self.globals[s] = GState::Busy;
                match self.eval_code(code) {
                    Ok(v) => {
                        self.globals[s] = GState::Done(v.clone());
                        Ok(v)
                    }
                    Err(e) => {
                        self.globals[s] = GState::Pending;
                        Err(e)
                    }
                }
            }
            GlobalDef::Rec(g) => {
                self.fix_group(*g)?;
                self.global(slot)
            }
        }
    }

    fn fix_cap(&self, members: usize) -> usize {
        (self.n * self.n + 1) * members + 16
    }

    /// Least fixpoint of a top-level `let rec` group.
    fn fix_group(&mut self, g: u32) -> R<()> {
        let prog = self.prog;
        let group = &prog.groups[g as usize];
        for &s in &group.slots {
            self.globals[s as usize] = GState::Done(Value::Empty);
        }
        let reset = |cx: &mut Self| {
            for &s in &group.slots {
                cx.globals[s as usize] = GState::Pending;
            }
        };
        for _ in 0..self.fix_cap(group.slots.len()) {
            let mut changed = false;
            for (&s, code) in group.slots.iter().zip(&group.defs) {
                let v = match self.eval_code(code) {
                    Ok(v) => v,
                    Err(e) => {
                        reset(self);
                        return Err(e);
                    }
                };
                let GState::Done(old) = &self.globals[s as usize] else {
                    unreachable!("let rec slot left its group")
                };
                changed |= !same(old, &v, self.n);
                self.globals[s as usize] = GState::Done(v);
            }
            if !changed {
                return Ok(());
            }
        }
        reset(self);
        fail(
            group.pos,
            "`let rec` does not converge (is it monotone?)".into(),
        )
    }

    /// Least fixpoint of a local `let rec`.
    fn fix_locals(&mut self, binds: &[(u32, Expr)], fr: &mut Frame, pos: Pos) -> R<()> {
        for (l, _) in binds {
            fr.locals[*l as usize] = Value::Empty;
        }
        for _ in 0..self.fix_cap(binds.len()) {
            let mut changed = false;
            for (l, e) in binds {
                let v = self.eval(e, fr)?;
                changed |= !same(&fr.locals[*l as usize], &v, self.n);
                fr.locals[*l as usize] = v;
            }
            if !changed {
                return Ok(());
            }
        }
        fail(pos, "`let rec` does not converge (is it monotone?)".into())
    }

    fn cond(&self, c: &Cond) -> bool {
        match c {
            Cond::Variant(i) => self.variants[*i as usize],
            Cond::Not(a) => !self.cond(a),
            Cond::And(a, b) => self.cond(a) && self.cond(b),
            Cond::Or(a, b) => self.cond(a) || self.cond(b),
        }
    }

    // ----- expressions -----

    fn eval(&mut self, e: &Expr, fr: &mut Frame) -> R<Value> {
        match e {
            Expr::Const(v) => Ok(v.clone()),
            Expr::Global(s) => self.global(*s),
            Expr::Local(i) => Ok(fr.locals[*i as usize].clone()),
            Expr::Captured(i) => Ok(fr.captured[*i as usize].clone()),
            Expr::Base(b, pos) => self.base_value(*b, *pos),
            Expr::Bin(op, a, b, pos) => {
                let a = self.eval(a, fr)?;
                let b = self.eval(b, fr)?;
                self.binary(*op, a, b, *pos)
            }
            Expr::Un(op, a, pos) => {
                let a = self.eval(a, fr)?;
                self.unary(*op, a, *pos)
            }
            Expr::App(f, a, pos) => {
                let f = self.eval(f, fr)?;
                let a = self.eval(a, fr)?;
                self.apply(f, a, *pos)
            }
            Expr::Tuple(es) => {
                let vs = es.iter().map(|e| self.eval(e, fr)).collect::<R<Vec<_>>>()?;
                Ok(Value::Tuple(Arc::from(vs)))
            }
            Expr::Fun(def) => Ok(Value::Closure(Arc::new(Closure {
                def: def.clone(),
                captured: capture(&def.captures, fr),
            }))),
            Expr::Proc(def) => Ok(Value::Proc(Arc::new(ProcVal {
                def: def.clone(),
                captured: capture(&def.captures, fr),
            }))),
            Expr::Let(binds, body) => {
                self.let_locals(binds, fr)?;
                self.eval(body, fr)
            }
            Expr::LetRec(binds, body, pos) => {
                self.fix_locals(binds, fr, *pos)?;
                self.eval(body, fr)
            }
            Expr::If(c, a, b) => {
                if self.cond(c) {
                    self.eval(a, fr)
                } else {
                    self.eval(b, fr)
                }
            }
            Expr::Try(a, b) => match self.eval(a, fr) {
                Ok(v) => Ok(v),
                Err(_) => self.eval(b, fr),
            },
        }
    }

    /// Non-recursive local bindings: all right-hand sides first.
    fn let_locals(&mut self, binds: &[(Option<u32>, Expr)], fr: &mut Frame) -> R<()> {
        if let [(l, e)] = binds {
            let v = self.eval(e, fr)?;
            if let Some(l) = l {
                fr.locals[*l as usize] = v;
            }
            return Ok(());
        }
        let vs = binds
            .iter()
            .map(|(_, e)| self.eval(e, fr))
            .collect::<R<Vec<_>>>()?;
        for ((l, _), v) in binds.iter().zip(vs) {
            if let Some(l) = l {
                fr.locals[*l as usize] = v;
            }
        }
        Ok(())
    }

    fn apply(&mut self, f: Value, arg: Value, pos: Pos) -> R<Value> {
        match f {
            Value::Closure(c) => {
                if self.depth >= MAX_CALL_DEPTH {
                    return fail(
                        pos,
                        format!("calls nested too deeply (in `{}`)", c.def.name),
                    );
                }
                let mut fr = Frame::new(c.def.nlocals, &c.captured);
                bind(&c.def.pat, arg, &mut fr.locals, &c.def.name, pos)?;
                self.depth += 1;
                let r = self.eval(&c.def.body, &mut fr);
                self.depth -= 1;
                r
            }
            Value::Builtin(b) => self.builtin(b, arg, pos),
            v => fail(
                pos,
                format!("cannot apply {}: it is not a function", v.kind()),
            ),
        }
    }

    fn builtin(&mut self, b: Builtin, arg: Value, pos: Pos) -> R<Value> {
        match b {
            Builtin::Domain | Builtin::Range => {
                let name = if b == Builtin::Domain {
                    "domain"
                } else {
                    "range"
                };
                match arg {
                    Value::Rel(r) => Ok(Value::Set(Arc::new(if b == Builtin::Domain {
                        r.domain()
                    } else {
                        r.range()
                    }))),
                    Value::Empty | Value::Universe => Ok(arg),
                    v => fail(
                        pos,
                        format!("`{name}` needs a relation, found {}", v.kind()),
                    ),
                }
            }
            Builtin::CtrlCfence { po, ctrl } => {
                let (r, s) = match arg {
                    Value::Tuple(t) if t.len() == 2 => (t[0].clone(), t[1].clone()),
                    s => (self.base_value(ctrl, pos)?, s),
                };
                let r = self.rel_operand(r, pos, "the relation argument of", "ctrlcfence")?;
                let s = self.set_operand(s, pos, "the set argument of", "ctrlcfence")?;
                let (Some(r), Some(s)) = (r, s) else {
                    return Ok(Value::Empty);
                };
                let po = self.base_value(po, pos)?;
                let Some(po) = self.rel_operand(po, pos, "`po` in", "ctrlcfence")? else {
                    return Ok(Value::Empty);
                };
                let fenced = r.restrict(&EventSet::full(self.n), &s);
                Ok(Value::Rel(Arc::new(fenced.seq(&po))))
            }
        }
    }

    /// A relation operand: `None` for the empty value.
    fn rel_operand(&self, v: Value, pos: Pos, side: &str, op: &str) -> R<Option<Arc<Relation>>> {
        match v {
            Value::Rel(r) => Ok(Some(r)),
            Value::Empty => Ok(None),
            Value::Universe => Ok(Some(Arc::new(full_rel(self.n)))),
            Value::Set(_) => fail(
                pos,
                format!("{side} `{op}` is a set where a relation is needed (write [S] for the identity on S)"),
            ),
            v => fail(pos, format!("{side} `{op}` is {} where a relation is needed", v.kind())),
        }
    }

    /// A set operand: `None` for the empty value.
    fn set_operand(&self, v: Value, pos: Pos, side: &str, op: &str) -> R<Option<Arc<EventSet>>> {
        match v {
            Value::Set(s) => Ok(Some(s)),
            Value::Empty => Ok(None),
            Value::Universe => Ok(Some(Arc::new(EventSet::full(self.n)))),
            v => fail(
                pos,
                format!("{side} `{op}` is {} where a set is needed", v.kind()),
            ),
        }
    }

    fn binary(&mut self, op: BinOp, a: Value, b: Value, pos: Pos) -> R<Value> {
        let sym = op.symbol();
        match op {
            BinOp::Seq => {
                let a = self.rel_operand(a, pos, "the left operand of", sym)?;
                let b = self.rel_operand(b, pos, "the right operand of", sym)?;
                Ok(match (a, b) {
                    (Some(x), Some(y)) => Value::Rel(Arc::new(x.seq(&y))),
                    _ => Value::Empty,
                })
            }
            BinOp::Product => {
                let a = self.set_operand(a, pos, "the left operand of", sym)?;
                let b = self.set_operand(b, pos, "the right operand of", sym)?;
                Ok(match (a, b) {
                    (Some(x), Some(y)) => Value::Rel(Arc::new(Relation::product(&x, &y))),
                    _ => Value::Empty,
                })
            }
            BinOp::Union | BinOp::Inter | BinOp::Diff => self.lattice(op, a, b, pos),
        }
    }

    /// `|`, `&`, `\` on two sets or two relations (or the constants).
    fn lattice(&mut self, op: BinOp, a: Value, b: Value, pos: Pos) -> R<Value> {
        let ok = |v: &Value| {
            matches!(
                v,
                Value::Empty | Value::Universe | Value::Set(_) | Value::Rel(_)
            )
        };
        if !ok(&a) || !ok(&b) {
            return fail(
                pos,
                format!(
                    "`{}` needs two sets or two relations, found {} and {}",
                    op.symbol(),
                    a.kind(),
                    b.kind()
                ),
            );
        }
        Ok(match (a, b) {
            (Value::Set(x), Value::Set(y)) => Value::Set(Arc::new(set_op(op, &x, &y))),
            (Value::Rel(x), Value::Rel(y)) => Value::Rel(Arc::new(rel_op(op, &x, &y))),
            (Value::Empty, b) => match op {
                BinOp::Union => b,
                _ => Value::Empty,
            },
            (a, Value::Empty) => match op {
                BinOp::Inter => Value::Empty,
                _ => a,
            },
            (Value::Universe, b) => match op {
                BinOp::Union => Value::Universe,
                BinOp::Inter => b,
                _ => self.unary(UnOp::Comp, b, pos)?,
            },
            (a, Value::Universe) => match op {
                BinOp::Union => Value::Universe,
                BinOp::Inter => a,
                _ => Value::Empty,
            },
            (a, b) => {
                return fail(
                    pos,
                    format!(
                        "`{}` needs two sets or two relations, found {} and {}",
                        op.symbol(),
                        a.kind(),
                        b.kind()
                    ),
                )
            }
        })
    }

    fn unary(&mut self, op: UnOp, a: Value, pos: Pos) -> R<Value> {
        let n = self.n;
        let name = match op {
            UnOp::Comp => "~",
            UnOp::Inv => "^-1",
            UnOp::Plus => "+",
            UnOp::Star => "*",
            UnOp::Opt => "?",
            UnOp::ToId => "[...]",
        };
        Ok(match (op, a) {
            (UnOp::Comp, Value::Set(s)) => Value::Set(Arc::new(s.complement())),
            (UnOp::Comp, Value::Rel(r)) => Value::Rel(Arc::new(r.complement())),
            (UnOp::Comp, Value::Empty) => Value::Universe,
            (UnOp::Comp, Value::Universe) => Value::Empty,
            (UnOp::ToId, Value::Set(s)) => Value::Rel(Arc::new(Relation::id_on(&s))),
            (UnOp::ToId, Value::Empty) => Value::Empty,
            (UnOp::ToId, Value::Universe) => Value::Rel(Arc::new(Relation::identity(n))),
            (UnOp::ToId, v) => {
                return fail(pos, format!("`[...]` needs a set, found {}", v.kind()));
            }
            (UnOp::Inv, Value::Rel(r)) => Value::Rel(Arc::new(r.inverse())),
            (UnOp::Plus, Value::Rel(r)) => Value::Rel(Arc::new(r.plus())),
            (UnOp::Star, Value::Rel(r)) => Value::Rel(Arc::new(r.star())),
            (UnOp::Opt, Value::Rel(r)) => Value::Rel(Arc::new(r.opt())),
            (UnOp::Inv | UnOp::Plus, Value::Empty) => Value::Empty,
            (UnOp::Star | UnOp::Opt, Value::Empty) => Value::Rel(Arc::new(Relation::identity(n))),
            (UnOp::Inv | UnOp::Plus | UnOp::Star | UnOp::Opt, Value::Universe) => Value::Universe,
            (_, v) => {
                return fail(
                    pos,
                    format!(
                        "`{name}` needs {}, found {}",
                        if op == UnOp::Comp {
                            "a set or a relation"
                        } else {
                            "a relation"
                        },
                        v.kind()
                    ),
                );
            }
        })
    }

    // ----- instructions -----

    fn test(&self, kind: CheckKind, v: &Value, pos: Pos) -> R<bool> {
        let n = self.n;
        Ok(match (kind, v) {
            (_, Value::Empty) => true,
            (_, Value::Universe) => n == 0,
            (CheckKind::Acyclic, Value::Rel(r)) => r.is_acyclic(),
            (CheckKind::Irreflexive, Value::Rel(r)) => r.is_irreflexive(),
            (CheckKind::Empty, Value::Rel(r)) => r.is_empty(),
            (CheckKind::Empty, Value::Set(s)) => s.is_empty(),
            (k, v) => {
                let what = match k {
                    CheckKind::Acyclic => "`acyclic` needs a relation",
                    CheckKind::Irreflexive => "`irreflexive` needs a relation",
                    CheckKind::Empty => "`empty` needs a set or a relation",
                };
                return fail(pos, format!("{what}, found {}", v.kind()));
            }
        })
    }

    fn exec(&mut self, instrs: &[Instr], fr: &mut Frame, call: Option<&Arc<str>>) -> R<Flow> {
        for ins in instrs {
            match ins {
                Instr::Check(c) => {
                    let v = self.eval(&c.expr, fr)?;
                    let holds = self.test(c.kind, &v, c.pos)? != c.negated;
                    let label = || match (c.named, call) {
                        (false, Some(name)) => name.clone(),
                        _ => c.label.clone(),
                    };
                    match c.mode {
                        CheckMode::Require if !holds => return Ok(Flow::Stop(label())),
                        CheckMode::Flag if holds => self.flags.push(label().to_string()),
                        CheckMode::UndefinedUnless if !holds => {
                            self.undefined.push(label().to_string())
                        }
                        CheckMode::Assert if !holds => {
                            return fail(c.pos, format!("assertion `{}` failed", label()))
                        }
                        _ => {}
                    }
                }
                Instr::Call {
                    callee,
                    arg,
                    name,
                    pos,
                } => {
                    let p = self.eval(callee, fr)?;
                    let a = self.eval(arg, fr)?;
                    let Value::Proc(p) = p else {
                        return fail(
                            *pos,
                            format!("`call` needs a procedure, found {}", p.kind()),
                        );
                    };
                    if self.depth >= MAX_CALL_DEPTH {
                        return fail(
                            *pos,
                            format!("calls nested too deeply (in `{}`)", p.def.name),
                        );
                    }
                    let mut pf = Frame::new(p.def.nlocals, &p.captured);
                    bind(&p.def.pat, a, &mut pf.locals, &p.def.name, *pos)?;
                    self.depth += 1;
                    let r = self.exec(&p.def.body, &mut pf, name.as_ref().or(call));
                    self.depth -= 1;
                    if let Flow::Stop(l) = r? {
                        return Ok(Flow::Stop(l));
                    }
                }
                Instr::If(c, a, b) => {
                    let body = if self.cond(c) { a } else { b };
                    if let Flow::Stop(l) = self.exec(body, fr, call)? {
                        return Ok(Flow::Stop(l));
                    }
                }
                Instr::Let(binds) => self.let_locals(binds, fr)?,
                Instr::LetRec(binds, pos) => self.fix_locals(binds, fr, *pos)?,
            }
        }
        Ok(Flow::Go)
    }

    fn verdict(self, flow: Flow) -> Verdict {
        let failed = match flow {
            Flow::Go => None,
            Flow::Stop(l) => Some(l.to_string()),
        };
        Verdict {
            allowed: failed.is_none(),
            failed,
            flags: self.flags,
            undefined: self.undefined,
        }
    }
}

fn capture(caps: &[Capture], fr: &Frame) -> Vec<Value> {
    caps.iter()
        .map(|c| match c {
            Capture::Local(i) => fr.locals[*i as usize].clone(),
            Capture::Captured(i) => fr.captured[*i as usize].clone(),
        })
        .collect()
}

/// Binds an argument to a function's parameters.
fn bind(pat: &PatSlots, arg: Value, locals: &mut [Value], name: &str, pos: Pos) -> R<()> {
    match pat {
        PatSlots::Var(Some(l)) => locals[*l as usize] = arg,
        PatSlots::Var(None) => {}
        PatSlots::Tuple(ls) => match arg {
            Value::Tuple(t) if t.len() == ls.len() => {
                for (l, v) in ls.iter().zip(t.iter()) {
                    if let Some(l) = l {
                        locals[*l as usize] = v.clone();
                    }
                }
            }
            v => {
                let got = match &v {
                    Value::Tuple(t) => format!("{} arguments", t.len()),
                    v => v.kind().to_string(),
                };
                return fail(
                    pos,
                    format!("`{name}` takes {} arguments, given {got}", ls.len()),
                );
            }
        },
    }
    Ok(())
}

/// Values of the global slots that depend on nothing from the execution,
/// computed once (functions and procedures, mostly).
pub(crate) fn fold_constants(prog: &Program) -> Vec<Option<Value>> {
    let empty = Base::default();
    let nslots = prog.globals.len();
    let mut cx = Ctx::new(
        prog,
        &empty,
        vec![GState::Pending; nslots],
        vec![None; prog.base_names.len()],
    );
    let is_const = |s: usize| prog.slot_bases[s].is_empty() && !prog.slot_variants[s];
    for s in 0..nslots {
        if is_const(s) {
            let _ = cx.global(s as u32);
        }
    }
    cx.globals
        .into_iter()
        .enumerate()
        .map(|(s, g)| match g {
            GState::Done(v) if is_const(s) && v.n_independent() => Some(v),
            _ => None,
        })
        .collect()
}

/// Prepares `cache` for `dynamic` and this execution's static part.
fn prepare(
    cache: &mut StaticCache,
    model_id: u64,
    prog: &Program,
    base: &Base,
    dynamic: &[&str],
    variants: &[bool],
) {
    let same_key = cache.model_id == model_id
        && cache.n == base.n
        && cache.variants == variants
        && cache.dynamic.len() == dynamic.len()
        && cache.dynamic.iter().zip(dynamic).all(|(a, b)| a == b);
    if same_key {
        return;
    }
    cache.model_id = model_id;
    cache.n = base.n;
    cache.variants = variants.to_vec();
    cache.dynamic = dynamic.iter().map(|s| s.to_string()).collect();
    cache.static_base = prog
        .base_names
        .iter()
        .map(|b| !dynamic.contains(&&**b))
        .collect();
    cache.static_slot = prog
        .slot_bases
        .iter()
        .map(|bs| bs.iter().all(|b| cache.static_base[*b as usize]))
        .collect();
    cache.slots = vec![None; prog.globals.len()];
    cache.bases = vec![None; prog.base_names.len()];
}

/// Judges one execution; see [`Model::check_with_cache`](super::Model::check_with_cache).
pub(crate) fn run(
    prog: &Program,
    init: &[Option<Value>],
    model_id: u64,
    base: &Base,
    cache: Option<(&mut StaticCache, &[&str])>,
) -> Result<Verdict, EvalError> {
    let globals: Vec<GState> = init
        .iter()
        .map(|v| match v {
            Some(v) => GState::Done(v.clone()),
            None => GState::Pending,
        })
        .collect();
    let bases = vec![None; prog.base_names.len()];
    let mut cx = Ctx::new(prog, base, globals, bases);
    let Some((cache, dynamic)) = cache else {
        let mut fr = Frame::new(prog.top_nlocals, &[]);
        let flow = cx.exec(&prog.top, &mut fr, None)?;
        return Ok(cx.verdict(flow));
    };
    prepare(cache, model_id, prog, base, dynamic, &cx.variants);
    for (g, v) in cx.globals.iter_mut().zip(&cache.slots) {
        if let Some(v) = v {
            *g = GState::Done(v.clone());
        }
    }
    for (b, v) in cx.bases.iter_mut().zip(&cache.bases) {
        if v.is_some() {
            b.clone_from(v);
        }
    }
    let mut fr = Frame::new(prog.top_nlocals, &[]);
    let flow = cx.exec(&prog.top, &mut fr, None);
    for (s, g) in cx.globals.iter().enumerate() {
        if let (true, None, None, GState::Done(v)) =
            (cache.static_slot[s], &cache.slots[s], &init[s], g)
        {
            cache.slots[s] = Some(v.clone());
        }
    }
    for (b, v) in cx.bases.iter().enumerate() {
        if let (true, None, Some(v)) = (cache.static_base[b], &cache.bases[b], v) {
            cache.bases[b] = Some(v.clone());
        }
    }
    Ok(cx.verdict(flow?))
}

/// Evaluates the global slot `slot` (tests only).
#[cfg(test)]
pub(crate) fn eval_slot(
    prog: &Program,
    init: &[Option<Value>],
    base: &Base,
    slot: u32,
) -> Result<Value, EvalError> {
    let globals = init
        .iter()
        .map(|v| v.clone().map_or(GState::Pending, GState::Done))
        .collect();
    let mut cx = Ctx::new(prog, base, globals, vec![None; prog.base_names.len()]);
    cx.global(slot)
}
