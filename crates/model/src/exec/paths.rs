//! Per-thread symbolic execution: every control-flow path of a thread, with
//! its events, their symbolic values and dependencies, and the conditions
//! (on read values) under which the path is taken.
//!
//! Dependencies follow the register dataflow of herd7's AArch64 model
//! (`aarch64deps.cat`): a register carries the set of reads its value was
//! computed from (`data`), and separately those that only *selected* it
//! through a conditional select (`pick`). A read also inherits the
//! dependencies of the last program-order-earlier write to the same
//! location in its thread ("dependency through memory", herd's `lmrs`).

use super::sym::{self, konst, S};
use crate::ir::{BinOp, Expr, Inst, Operand, RmwOp, Tag, Thread, UnOp, Value};
use std::collections::HashMap;
use std::rc::Rc;

/// A location and a byte offset in it.
pub type Loc = (String, i64);

/// Bit set of a thread's event indices (threads have at most 64 events).
pub type Deps = u64;

/// Kind of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Memory read.
    R,
    /// Memory write.
    W,
    /// Fence.
    F,
}

/// One event of a thread path.
#[derive(Clone, Debug)]
pub struct PEvent {
    /// Read, write or fence.
    pub kind: Kind,
    /// Location (for R and W).
    pub loc: Option<String>,
    /// Byte offset in the location (non-zero only for mixed-size tests).
    pub off: i64,
    /// Written value (W only).
    pub val: Option<S>,
    /// Access width in bytes.
    pub width: u8,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Reads this event's address depends on.
    pub addr: Deps,
    /// Reads this event's written value depends on.
    pub data: Deps,
    /// Reads that decided a branch before this event.
    pub ctrl: Deps,
    /// Like `addr`, through selections too.
    pub pick_addr: Deps,
    /// Like `data`, through selections too.
    pub pick_data: Deps,
    /// Like `ctrl`, through selections too.
    pub pick_ctrl: Deps,
    /// Index of the IR instruction instance that made it.
    pub instance: u32,
    /// For the write of an atomic RMW: its read (`amo`).
    pub amo_of: Option<usize>,
    /// For a store-exclusive write: the paired load-exclusive (`lxsx`).
    pub lxsx_of: Option<usize>,
    /// Source instruction index (for messages).
    pub inst: usize,
}

/// One path through a thread.
#[derive(Clone, Debug)]
pub struct Path {
    /// Events in program order.
    pub events: Vec<PEvent>,
    /// Conditions `(value, must_be_true)` on read values.
    pub constraints: Vec<(S, bool)>,
    /// Final value of every register (by `RegId`).
    pub regs: Vec<S>,
}

/// Why a thread could not be explored.
#[derive(Clone, Debug)]
pub struct PathError {
    /// Instruction index.
    pub inst: usize,
    /// What went wrong.
    pub msg: String,
}

#[derive(Clone)]
struct RegVal {
    v: S,
    data: Deps,
    pick: Deps,
}

impl RegVal {
    /// A constant, depending on nothing.
    fn konst(v: Value) -> Self {
        RegVal {
            v: konst(v),
            data: 0,
            pick: 0,
        }
    }
    /// The old value returned by read event `r` of an atomic.
    fn read_by(v: S, r: usize) -> Self {
        RegVal {
            v,
            data: 1 << r,
            pick: 0,
        }
    }
    /// A success flag decided by read event `r` (a pick dependency).
    fn flag(ok: bool, r: usize) -> Self {
        RegVal {
            v: konst(Value::Int(ok as i64)),
            data: 0,
            pick: 1 << r,
        }
    }
}

#[derive(Clone)]
struct State {
    pc: usize,
    regs: Vec<RegVal>,
    events: Vec<PEvent>,
    constraints: Vec<(S, bool)>,
    ctrl: Deps,
    pick_ctrl: Deps,
    visits: HashMap<usize, u32>,
    /// Deps of the last write per location byte (for dependency through
    /// memory).
    last_write: HashMap<(String, i64), (Deps, Deps)>,
    /// Index of the last load-exclusive not yet paired.
    open_excl: Option<usize>,
    instance: u32,
}

/// Explores every path of `t`; also says whether some path was cut at the
/// unrolling bound. `init` gives initial register values,
/// `addresses` the address constants a symbolic address may take, `unroll`
/// how many times a backward branch may be taken.
pub fn explore(
    t: &Thread,
    init: &[Value],
    addresses: &[Value],
    unroll: u32,
    mixed: bool,
) -> Result<(Vec<Path>, bool), PathError> {
    let labels: Vec<usize> = (0..t.labels.len())
        .map(|l| {
            t.code
                .iter()
                .position(|i| *i == Inst::Label(l as u16))
                .unwrap_or(usize::MAX)
        })
        .collect();
    let st = State {
        pc: 0,
        regs: (0..t.regs.len())
            .map(|r| RegVal {
                v: konst(init.get(r).cloned().unwrap_or(Value::ZERO)),
                data: 0,
                pick: 0,
            })
            .collect(),
        events: Vec::new(),
        constraints: Vec::new(),
        ctrl: 0,
        pick_ctrl: 0,
        visits: HashMap::new(),
        last_write: HashMap::new(),
        open_excl: None,
        instance: 0,
    };
    let mut out = Vec::new();
    let ex = Explorer {
        t,
        labels,
        addresses,
        unroll,
        mixed,
        cut: std::cell::Cell::new(false),
    };
    ex.run(st, &mut out)?;
    Ok((out, ex.cut.get()))
}

/// What to do once an access's location is known.
type Then<'b> = dyn Fn(&Explorer<'b>, State, Loc, &mut Vec<Path>) -> Result<(), PathError>;

struct Explorer<'a> {
    t: &'a Thread,
    labels: Vec<usize>,
    addresses: &'a [Value],
    unroll: u32,
    mixed: bool,
    /// Whether a path was dropped at the unrolling bound.
    cut: std::cell::Cell<bool>,
}

impl Explorer<'_> {
    fn eval(&self, st: &State, e: &Expr) -> RegVal {
        match e {
            Expr::Op(Operand::Const(v)) => RegVal {
                v: konst(v.clone()),
                data: 0,
                pick: 0,
            },
            Expr::Op(Operand::Reg(r)) => st.regs[*r as usize].clone(),
            Expr::Bin(op, a, b) => {
                let (a, b) = (self.eval(st, a), self.eval(st, b));
                RegVal {
                    v: sym::bin(*op, a.v, b.v),
                    data: a.data | b.data,
                    pick: a.pick | b.pick,
                }
            }
            Expr::Un(op, a) => {
                let a = self.eval(st, a);
                RegVal {
                    v: sym::un(*op, a.v),
                    ..a
                }
            }
            Expr::Select(c, a, b) => {
                let (c, a, b) = (self.eval(st, c), self.eval(st, a), self.eval(st, b));
                RegVal {
                    v: sym::sel(c.v, a.v, b.v),
                    data: a.data | b.data,
                    pick: a.pick | b.pick | c.data | c.pick,
                }
            }
        }
    }

    fn err(&self, st: &State, msg: impl Into<String>) -> PathError {
        PathError {
            inst: st.pc,
            msg: msg.into(),
        }
    }

    /// Resolves an address to its location, forking over the candidate
    /// addresses when it depends on read values.
    fn with_addr<'s>(
        &'s self,
        st: State,
        a: &RegVal,
        out: &mut Vec<Path>,
        k: &Then<'s>,
    ) -> Result<(), PathError> {
        match &*a.v {
            sym::Sym::C(Value::Addr(l, 0)) => k(self, st, (l.clone(), 0), out),
            sym::Sym::C(Value::Addr(l, o)) if self.mixed => k(self, st, (l.clone(), *o), out),
            sym::Sym::C(Value::Addr(l, o)) => Err(self.err(
                &st,
                format!("access at {l}+{o}: offsets within a location need mixed-size support (-variant mixed)"),
            )),
            sym::Sym::C(v) => Err(self.err(&st, format!("access to address {v}, which is not a location"))),
            _ => {
                for cand in self.addresses {
                    let Value::Addr(l, o) = cand else { continue };
                    if *o != 0 && !self.mixed {
                        continue;
                    }
                    let mut s2 = st.clone();
                    s2.constraints.push((sym::bin(BinOp::Eq, a.v.clone(), konst(cand.clone())), true));
                    k(self, s2, (l.clone(), *o), out)?;
                }
                Ok(())
            }
        }
    }

    fn push_event(st: &mut State, mut e: PEvent) -> Result<usize, PathError> {
        if st.events.len() >= 64 {
            return Err(PathError {
                inst: st.pc,
                msg: "a thread with more than 64 memory events is not supported".into(),
            });
        }
        e.ctrl = st.ctrl;
        e.pick_ctrl = st.pick_ctrl | st.ctrl;
        e.instance = st.instance;
        e.inst = st.pc;
        st.events.push(e);
        Ok(st.events.len() - 1)
    }

    fn ev(kind: Kind, loc: Option<&Loc>, width: u8, tags: &[Tag], a: &RegVal) -> PEvent {
        PEvent {
            kind,
            loc: loc.map(|l| l.0.clone()),
            off: loc.map(|l| l.1).unwrap_or(0),
            val: None,
            width,
            tags: tags.to_vec(),
            addr: a.data,
            data: 0,
            ctrl: 0,
            pick_addr: a.data | a.pick,
            pick_data: 0,
            pick_ctrl: 0,
            instance: 0,
            amo_of: None,
            lxsx_of: None,
            inst: 0,
        }
    }

    /// Adds a read of `loc`; returns its index and the value it gives.
    fn read(
        st: &mut State,
        loc: &Loc,
        width: u8,
        signed: bool,
        tags: &[Tag],
        a: &RegVal,
    ) -> Result<(usize, RegVal), PathError> {
        let e = Self::ev(Kind::R, Some(loc), width, tags, a);
        let i = Self::push_event(st, e)?;
        let (mut wd, mut wp) = (0, 0);
        for b in loc.1..loc.1 + width as i64 {
            if let Some((d, p)) = st.last_write.get(&(loc.0.clone(), b)) {
                wd |= d;
                wp |= p;
            }
        }
        let mut v: S = Rc::new(sym::Sym::Read(i as u32));
        if width < 8 {
            let bits = width * 8;
            v = sym::un(
                if signed {
                    UnOp::SignExt(bits)
                } else {
                    UnOp::ZeroExt(bits)
                },
                v,
            );
        }
        Ok((
            i,
            RegVal {
                v,
                data: (1 << i) | wd,
                pick: wp,
            },
        ))
    }

    fn write(
        st: &mut State,
        loc: &Loc,
        width: u8,
        tags: &[Tag],
        a: &RegVal,
        val: &RegVal,
    ) -> Result<usize, PathError> {
        let mut e = Self::ev(Kind::W, Some(loc), width, tags, a);
        // Memory holds the stored bytes, read back as a signed value of the
        // access width (herd7 prints `x=-1` after a 32-bit store of -1).
        let v = if width < 8 {
            sym::un(UnOp::SignExt(width * 8), val.v.clone())
        } else {
            val.v.clone()
        };
        e.val = Some(v);
        e.data = val.data;
        e.pick_data = val.data | val.pick;
        let i = Self::push_event(st, e)?;
        for b in loc.1..loc.1 + width as i64 {
            st.last_write.insert(
                (loc.0.clone(), b),
                (a.data | val.data, a.pick | val.pick | a.data | val.data),
            );
        }
        Ok(i)
    }

    fn set(st: &mut State, dst: Option<u16>, v: RegVal, width: u8) {
        if let Some(d) = dst {
            let v = if width < 8 {
                RegVal {
                    v: sym::un(UnOp::ZeroExt(width * 8), v.v),
                    ..v
                }
            } else {
                v
            };
            st.regs[d as usize] = v;
        }
    }

    fn run(&self, mut st: State, out: &mut Vec<Path>) -> Result<(), PathError> {
        loop {
            let Some(inst) = self.t.code.get(st.pc) else {
                out.push(Path {
                    events: st.events,
                    constraints: st.constraints,
                    regs: st.regs.into_iter().map(|r| r.v).collect(),
                });
                return Ok(());
            };
            // One source instruction (one C statement) is one instance:
            // herd7 does not order its events by po.
            let p = self.t.pos.get(st.pc).copied().unwrap_or_default();
            st.instance = if p.line == 0 {
                st.pc as u32 + 1
            } else {
                p.line * 4096 + p.col
            };
            match inst {
                Inst::Label(_) => st.pc += 1,
                Inst::Assign { dst, expr, width } => {
                    let v = self.eval(&st, expr);
                    Self::set(&mut st, Some(*dst), v, *width);
                    st.pc += 1;
                }
                Inst::Fence { tags } => {
                    let zero = RegVal::konst(Value::ZERO);
                    let mut e = Self::ev(Kind::F, None, 0, tags, &zero);
                    e.pick_addr = 0;
                    Self::push_event(&mut st, e)?;
                    st.pc += 1;
                }
                Inst::Load {
                    dst,
                    addr,
                    width,
                    signed,
                    tags,
                } => {
                    let a = self.eval(&st, addr);
                    let (dst, width, signed, tags) = (*dst, *width, *signed, tags.clone());
                    let is_excl = tags.contains(&"X");
                    return self.with_addr(st, &a.clone(), out, &move |ex, mut st, loc, out| {
                        let (i, v) = Self::read(&mut st, &loc, width, signed, &tags, &a)?;
                        if is_excl {
                            st.open_excl = Some(i);
                        }
                        Self::set(&mut st, dst, v, 8);
                        st.pc += 1;
                        ex.run(st, out)
                    });
                }
                Inst::Store {
                    addr,
                    val,
                    width,
                    tags,
                } => {
                    let a = self.eval(&st, addr);
                    let v = self.eval(&st, val);
                    let (width, tags) = (*width, tags.clone());
                    return self.with_addr(st, &a.clone(), out, &move |ex, mut st, loc, out| {
                        Self::write(&mut st, &loc, width, &tags, &a, &v)?;
                        st.pc += 1;
                        ex.run(st, out)
                    });
                }
                Inst::StoreExclusive {
                    status,
                    addr,
                    val,
                    width,
                    tags,
                } => {
                    let a = self.eval(&st, addr);
                    let v = self.eval(&st, val);
                    let (status, width, tags) = (*status, *width, tags.clone());
                    return self.with_addr(st, &a.clone(), out, &move |ex, st, loc, out| {
                        // Success: the write happens, paired with the open
                        // load-exclusive. Without one, it always fails (herd7).
                        if st.open_excl.is_some() {
                            let mut ok = st.clone();
                            let i = Self::write(&mut ok, &loc, width, &tags, &a, &v)?;
                            ok.events[i].lxsx_of = ok.open_excl.take();
                            ok.regs[status as usize] = RegVal::konst(Value::ZERO);
                            ok.pc += 1;
                            ex.run(ok, out)?;
                        }
                        // Failure: no write.
                        let mut fail = st;
                        fail.open_excl = None;
                        fail.regs[status as usize] = RegVal::konst(Value::Int(1));
                        fail.pc += 1;
                        ex.run(fail, out)
                    });
                }
                Inst::Rmw {
                    dst,
                    addr,
                    op,
                    operand,
                    width,
                    read_tags,
                    write_tags,
                } => {
                    let a = self.eval(&st, addr);
                    let arg = self.eval(&st, operand);
                    let (dst, op, width) = (*dst, *op, *width);
                    let (rt, wt) = (with_x(read_tags), with_x(write_tags));
                    return self.with_addr(st, &a.clone(), out, &move |ex, mut st, loc, out| {
                        let (r, old) = Self::read(&mut st, &loc, width, false, &rt, &a)?;
                        let newv = RegVal {
                            v: rmw_value(op, old.v.clone(), arg.v.clone(), width),
                            data: arg.data,
                            pick: arg.pick,
                        };
                        let w = Self::write(&mut st, &loc, width, &wt, &a, &newv)?;
                        st.events[w].amo_of = Some(r);
                        // The write's value also flows from the read (iico), for memory forwarding.
                        for b in loc.1..loc.1 + width as i64 {
                            let lw = st.last_write.get_mut(&(loc.0.clone(), b)).unwrap();
                            lw.0 |= 1 << r;
                            lw.1 |= 1 << r;
                        }
                        Self::set(&mut st, dst, RegVal::read_by(old.v, r), 8);
                        st.pc += 1;
                        ex.run(st, out)
                    });
                }
                Inst::Cas {
                    dst,
                    ok,
                    addr,
                    expected,
                    new,
                    width,
                    read_tags,
                    write_tags,
                    fail_tags,
                    weak,
                } => {
                    let a = self.eval(&st, addr);
                    let expv = self.eval(&st, expected);
                    let newv = self.eval(&st, new);
                    let (dst, okr, width, weak) = (*dst, *ok, *width, *weak);
                    let (rt, wt, ft) = (with_x(read_tags), with_x(write_tags), fail_tags.clone());
                    return self.with_addr(st, &a.clone(), out, &move |ex, st, loc, out| {
                        let bits = width * 8;
                        let ext = |v: S| {
                            if width < 8 {
                                sym::un(UnOp::ZeroExt(bits), v)
                            } else {
                                v
                            }
                        };
                        // Success.
                        let mut s = st.clone();
                        let (r, old) = Self::read(&mut s, &loc, width, false, &rt, &a)?;
                        s.constraints.push((
                            sym::bin(BinOp::Eq, old.v.clone(), ext(expv.v.clone())),
                            true,
                        ));
                        let nv = RegVal {
                            v: newv.v.clone(),
                            data: newv.data,
                            pick: newv.pick | expv.data | expv.pick,
                        };
                        let w = Self::write(&mut s, &loc, width, &wt, &a, &nv)?;
                        s.events[w].amo_of = Some(r);
                        s.events[w].pick_data |= expv.data | expv.pick;
                        Self::set(&mut s, dst, RegVal::read_by(old.v.clone(), r), 8);
                        if let Some(okr) = okr {
                            s.regs[okr as usize] = RegVal::flag(true, r);
                        }
                        s.pc += 1;
                        ex.run(s, out)?;
                        // Failure (values differ, or spuriously for a weak CAS).
                        let mut f = st;
                        let (r, old) = Self::read(&mut f, &loc, width, false, &ft, &a)?;
                        if !weak {
                            f.constraints.push((
                                sym::bin(BinOp::Eq, old.v.clone(), ext(expv.v.clone())),
                                false,
                            ));
                        }
                        Self::set(&mut f, dst, RegVal::read_by(old.v, r), 8);
                        if let Some(okr) = okr {
                            f.regs[okr as usize] = RegVal::flag(false, r);
                        }
                        f.pc += 1;
                        ex.run(f, out)
                    });
                }
                Inst::Branch { cond, target } => {
                    let tpc = self.labels[*target as usize];
                    if tpc == usize::MAX {
                        return Err(self.err(&st, "branch to an undefined label"));
                    }
                    if tpc <= st.pc {
                        let n = st.visits.entry(st.pc).or_insert(0);
                        *n += 1;
                        if *n > self.unroll {
                            // Path exceeds the unrolling bound: dropped, as herd7 does.
                            self.cut.set(true);
                            return Ok(());
                        }
                    }
                    let Some(c) = cond else {
                        st.pc = tpc;
                        continue;
                    };
                    let c = self.eval(&st, c);
                    st.ctrl |= c.data;
                    st.pick_ctrl |= c.data | c.pick;
                    // A branch to the next instruction only adds a dependency.
                    let next_real = (st.pc + 1..self.t.code.len())
                        .find(|&i| !matches!(self.t.code[i], Inst::Label(_)))
                        .unwrap_or(self.t.code.len());
                    let target_real = (tpc..self.t.code.len())
                        .find(|&i| !matches!(self.t.code[i], Inst::Label(_)))
                        .unwrap_or(self.t.code.len());
                    if next_real == target_real {
                        st.pc += 1;
                        continue;
                    }
                    match &*c.v {
                        sym::Sym::C(v) => {
                            st.pc = if sym::truthy(v) { tpc } else { st.pc + 1 };
                        }
                        _ => {
                            let mut taken = st.clone();
                            taken.constraints.push((c.v.clone(), true));
                            taken.pc = tpc;
                            self.run(taken, out)?;
                            st.constraints.push((c.v, false));
                            st.pc += 1;
                        }
                    }
                }
            }
        }
    }
}

fn with_x(tags: &[Tag]) -> Vec<Tag> {
    let mut t = tags.to_vec();
    if !t.contains(&"X") {
        t.push("X");
    }
    t
}

fn rmw_value(op: RmwOp, old: S, v: S, width: u8) -> S {
    let bits = width * 8;
    let sx = |s: S| {
        if width < 8 {
            sym::un(UnOp::SignExt(bits), s)
        } else {
            s
        }
    };
    let pick = |cmp: BinOp, a: S, b: S| sym::sel(sym::bin(cmp, a.clone(), b.clone()), a, b);
    match op {
        RmwOp::Swap => v,
        RmwOp::Add => sym::bin(BinOp::Add, old, v),
        RmwOp::Sub => sym::bin(BinOp::Sub, old, v),
        RmwOp::Clr => sym::bin(BinOp::Bic, old, v),
        RmwOp::And => sym::bin(BinOp::And, old, v),
        RmwOp::Or => sym::bin(BinOp::Or, old, v),
        RmwOp::Xor => sym::bin(BinOp::Xor, old, v),
        RmwOp::Nand => sym::un(UnOp::Not, sym::bin(BinOp::And, old, v)),
        RmwOp::Smax => pick(BinOp::Gt, sx(old), sx(v)),
        RmwOp::Smin => pick(BinOp::Lt, sx(old), sx(v)),
        RmwOp::Umax => pick(BinOp::Gtu, old, v),
        RmwOp::Umin => pick(BinOp::Ltu, old, v),
    }
}
