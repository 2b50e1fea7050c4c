//! C front end: the thread functions of herd7's C litmus tests
//! (`P0(atomic_int* x, volatile int* y) { ... }`) lowered to IR.
//!
//! # Model
//!
//! * Parameters are pointers to the shared locations of the same name: `x`
//!   evaluates to the address `x` ([`Expr::addr`]). Locals are registers
//!   named after the local (`r1`), so conditions such as `1:r1=1` find them.
//!   herd7 keeps locals untruncated (its C values are machine words), so
//!   register assignments use width 8; memory accesses use the width of the
//!   pointed-to type (4 for `int`/`atomic_int`, 8 for `long` types, ...),
//!   and loads of signed types sign-extend.
//! * Calls and dereferences inside an expression become loads / RMWs into
//!   fresh hidden registers (`%t0`, `%t1`, ...; `%` cannot start a C
//!   identifier), evaluated left to right, followed by one
//!   [`Inst::Assign`]. When the whole right-hand side is a single access,
//!   the access writes the destination register directly.
//! * Every instruction lowered from one C statement carries the position of
//!   that statement. herd7 evaluates a whole statement as one instruction
//!   instance, and its `po` relates only events of *different* instances:
//!   two accesses of the same statement (`int t = atomic_load_explicit(x,
//!   memory_order_acquire) + *y;`, or the read and write of a
//!   compare-exchange) are not `po`-ordered in herd7. An engine that wants
//!   herd7's `po` exactly can group instructions by position.
//!
//! # Tags
//!
//! As herd7's C semantics (`herd/CSem.ml`) and its event sets
//! (`herd/CAction.ml`, `arch_sets`), as used by `herd/libdir/rc11.cat`:
//!
//! * the memory order of an atomic access or fence: `RLX`, `CON`
//!   (`memory_order_consume`: herd7 has its own set `CON`, which rc11.cat
//!   never names, so a consume load synchronises like no order at all),
//!   `ACQ`, `REL`, `ACQ_REL`, `SC`;
//! * `A` on every access made by an atomic operation (herd7's `A` is "an
//!   access annotated with a memory order, or an RMW"; rc11.cat uses
//!   `A * A` to exempt atomic pairs from data races);
//! * `NA` on plain accesses (`*x`, `*x = v`), whatever the pointer's type:
//!   herd7 annotates by the form of the access, not by the declared type.
//!   herd7's `NA` is the complement of `A`, so it also contains fences and
//!   the initial writes; fences here carry only their order tag;
//! * `RMW` on both halves of an atomic read-modify-write (exchange,
//!   fetch-op, successful compare-exchange): herd7 makes these one event in
//!   its set `RMW` (rc11.cat: `let myrmw = [RMW] | rmw`); the engine adds
//!   `X` and the `rmw` pairing as for any [`Inst::Rmw`]/[`Inst::Cas`].
//!
//! Fences are `[order]` (the engine adds `F`).
//!
//! # Operations
//!
//! * `atomic_load[_explicit]`, `atomic_store[_explicit]`: [`Inst::Load`] /
//!   [`Inst::Store`] tagged `[order, A]` (non-explicit: `SC`, as herd7's
//!   `c11.def` macros).
//! * `atomic_exchange[_explicit]`, `atomic_fetch_{add,sub,or,xor,and}[_explicit]`:
//!   [`Inst::Rmw`] with `[order, A, RMW]` on both halves.
//! * `atomic_compare_exchange_{strong,weak}[_explicit](obj, exp, des, s, f)`:
//!   [`Inst::Cas`], success halves `[s, A, RMW]`, failure read `[f, A]`,
//!   `weak` for `_weak`. Its value is 1 on success, 0 on failure.
//!   - herd7's form, `exp` a pointer to a shared location (`one` in
//!     `atomic_compare_exchange_strong_explicit(x, one, 2, ...)`): as
//!     herd7, a plain (`NA`) read of `*exp` gives the expected value, and on
//!     failure the value read from `obj` is written back to `*exp` with a
//!     plain (`NA`) store (lowered as a branch over that store on the
//!     success flag).
//!   - `&r` with `r` a local (C's usual form, not accepted by herd7): the
//!     `Cas` writes the old value into `r` (`dst: Some(r)`; on success the
//!     old value equals `r`, so this is exactly "update on failure").
//!   - The result of an RMW or CAS of a signed type narrower than 8 bytes
//!     is sign-extended with an explicit [`UnOp::SignExt`] assignment,
//!     because [`Inst::Rmw`]/[`Inst::Cas`] have no `signed` flag.
//! * `atomic_thread_fence(mo)`: [`Inst::Fence`] `[order]`.
//! * `if`/`else` ([`Inst::Branch`] over the then-block when the condition
//!   is zero) and `while` (herd7 unrolls it; here a backward branch).
//!   `&&`/`||` short-circuit (branches when the right side accesses memory).
//! * Expressions: integer literals, locals, the binary operators
//!   `+ - * & | ^ << >> == != < <= > >= && ||`, the unary `! ~ -`, casts
//!   (no effect), `*p`, `p[i]`, pointer arithmetic (`y+r0` adds
//!   `r0 * sizeof(*y)` bytes: IR addresses are byte offsets).
//!
//! Rejected with a [`Diag`]: `/` and `%` (the IR has no division), `for`,
//! `do`, `switch`, `return`, `++`/`--`, structures, local arrays, unknown
//! functions, undeclared identifiers, assignments to parameters, `&`
//! anywhere but a compare-exchange's expected argument, and syntax errors.

mod lexer;
mod parse;
#[cfg(test)]
mod tests;

use self::parse::{Bin, CExpr, Func, Stmt, Ty, Un};
use crate::ir::{BinOp, Expr, Inst, LabelId, Operand, Pos, RegId, RmwOp, Tag, Thread, UnOp, Value};
use crate::litmus::Diag;
use std::collections::HashMap;

/// Lowers the C thread functions `P0(...) { ... }` found in `src`, whose
/// first line is line `first_line` of the file.
pub fn lower_threads(src: &str, first_line: u32) -> Result<Vec<Thread>, Diag> {
    let toks = lexer::lex(src, first_line)?;
    let funcs = parse::parse_program(&toks)?;
    let mut out = Vec::with_capacity(funcs.len());
    for (i, f) in funcs.iter().enumerate() {
        if f.num as usize != i {
            return Err(Diag::new(
                f.pos,
                format!("expected thread function P{i}, found P{}", f.num),
            ));
        }
        out.push(lower_func(f)?);
    }
    Ok(out)
}

fn lower_func(f: &Func) -> Result<Thread, Diag> {
    let mut params: HashMap<String, Ty> = HashMap::new();
    for p in &f.params {
        if params.insert(p.name.clone(), p.ty).is_some() {
            return Err(Diag::new(
                p.pos,
                format!("duplicate parameter '{}'", p.name),
            ));
        }
    }
    let mut lw = Lower {
        t: Thread {
            name: format!("P{}", f.num),
            ..Default::default()
        },
        params,
        locals: HashMap::new(),
        ntmp: 0,
        nlabel: 0,
        pos: f.pos,
    };
    for s in &f.body {
        lw.stmt(s)?;
    }
    Ok(lw.t)
}

/// The memory-order tag of `memory_order_*`.
fn mo_tag(name: &str) -> Option<Tag> {
    Some(match name {
        "memory_order_relaxed" => "RLX",
        "memory_order_consume" => "CON",
        "memory_order_acquire" => "ACQ",
        "memory_order_release" => "REL",
        "memory_order_acq_rel" => "ACQ_REL",
        "memory_order_seq_cst" => "SC",
        _ => return None,
    })
}

/// A lowered value: a side-effect-free expression and its C type.
struct Val {
    e: Expr,
    ty: Ty,
}

/// What kind of atomic operation a library function is.
#[derive(Clone, Copy)]
enum Builtin {
    Load,
    Store,
    Rmw(RmwOp),
    Cas { weak: bool },
    Fence,
}

/// `(operation, explicit memory orders?)` of a function name.
fn builtin(name: &str) -> Option<(Builtin, bool)> {
    let (base, explicit) = match name.strip_suffix("_explicit") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let b = match base {
        "atomic_load" => Builtin::Load,
        "atomic_store" => Builtin::Store,
        "atomic_exchange" => Builtin::Rmw(RmwOp::Swap),
        "atomic_fetch_add" => Builtin::Rmw(RmwOp::Add),
        "atomic_fetch_sub" => Builtin::Rmw(RmwOp::Sub),
        "atomic_fetch_or" => Builtin::Rmw(RmwOp::Or),
        "atomic_fetch_xor" => Builtin::Rmw(RmwOp::Xor),
        "atomic_fetch_and" => Builtin::Rmw(RmwOp::And),
        "atomic_compare_exchange_strong" => Builtin::Cas { weak: false },
        "atomic_compare_exchange_weak" => Builtin::Cas { weak: true },
        "atomic_thread_fence" if !explicit => Builtin::Fence,
        _ => return None,
    };
    Some((b, explicit))
}

struct Lower {
    t: Thread,
    params: HashMap<String, Ty>,
    locals: HashMap<String, Ty>,
    ntmp: u32,
    nlabel: u32,
    /// Position of the statement being lowered (given to every instruction).
    pos: Pos,
}

impl Lower {
    fn push(&mut self, i: Inst) {
        self.t.push(i, self.pos);
    }

    fn tmp(&mut self) -> RegId {
        let name = format!("%t{}", self.ntmp);
        self.ntmp += 1;
        self.t.reg(&name)
    }

    fn fresh_label(&mut self) -> LabelId {
        let name = format!("%L{}", self.nlabel);
        self.nlabel += 1;
        self.t.label(&name)
    }

    fn assign(&mut self, dst: RegId, expr: Expr) {
        self.push(Inst::Assign {
            dst,
            expr,
            width: 8,
        });
    }

    fn local(&mut self, name: &str, pos: Pos) -> Result<(RegId, Ty), Diag> {
        match self.locals.get(name) {
            Some(ty) => {
                let ty = *ty;
                Ok((self.t.reg(name), ty))
            }
            None if self.params.contains_key(name) => Err(Diag::new(
                pos,
                format!(
                    "cannot assign to parameter '{name}' (write '*{name} = ...' to store to the location)"
                ),
            )),
            None => Err(Diag::new(pos, format!("undeclared identifier '{name}'"))),
        }
    }

    // ----- statements -------------------------------------------------

    fn stmt(&mut self, s: &Stmt) -> Result<(), Diag> {
        match s {
            Stmt::Empty => Ok(()),
            Stmt::Block(b) => b.iter().try_for_each(|s| self.stmt(s)),
            Stmt::Decl {
                ty,
                vars,
                pos: dpos,
            } => {
                if ty.void && ty.ptr == 0 {
                    let pos = vars.first().map(|v| v.1).unwrap_or(self.pos);
                    return Err(Diag::new(pos, "a local cannot have type 'void'"));
                }
                for (k, (name, pos, init)) in vars.iter().enumerate() {
                    if self.params.contains_key(name) {
                        return Err(Diag::new(
                            *pos,
                            format!("'{name}' is already a parameter of this thread"),
                        ));
                    }
                    if mo_tag(name).is_some() || builtin(name).is_some() {
                        return Err(Diag::new(*pos, format!("'{name}' is a reserved name")));
                    }
                    // The first declarator is the statement itself.
                    self.pos = if k == 0 { *dpos } else { *pos };
                    if let Some(e) = init {
                        // The initialiser cannot see the new local (herd7
                        // registers are per thread, so a redeclaration
                        // simply reuses the register).
                        let r = self.t.reg(name);
                        self.value_into(e, r)?;
                    }
                    self.locals.insert(name.clone(), *ty);
                }
                Ok(())
            }
            Stmt::Assign {
                name,
                name_pos,
                op,
                value,
                pos,
            } => {
                self.pos = *pos;
                let (r, ty) = self.local(name, *name_pos)?;
                match op {
                    None => self.value_into(value, r),
                    Some(op) => {
                        let cur = Val {
                            e: Expr::reg(r),
                            ty,
                        };
                        let v = self.rv(value)?;
                        let e = self.arith(*op, cur, v, *name_pos)?;
                        self.assign(r, e.e);
                        Ok(())
                    }
                }
            }
            Stmt::Store {
                target,
                op,
                value,
                pos,
            } => {
                self.pos = *pos;
                let (addr, ty) = self.lvalue(target)?;
                let v = self.rv(value)?;
                let val = match op {
                    None => v.e,
                    Some(op) => {
                        let tmp = self.tmp();
                        self.push(Inst::Load {
                            dst: Some(tmp),
                            addr: addr.clone(),
                            width: ty.size(),
                            signed: ty.signed,
                            tags: vec!["NA"],
                        });
                        let cur = Val {
                            e: Expr::reg(tmp),
                            ty,
                        };
                        self.arith(*op, cur, v, target.pos())?.e
                    }
                };
                self.push(Inst::Store {
                    addr,
                    val,
                    width: ty.size(),
                    tags: vec!["NA"],
                });
                Ok(())
            }
            Stmt::Expr(e, pos) => {
                self.pos = *pos;
                self.effect(e)
            }
            Stmt::If {
                cond,
                then,
                els,
                pos,
            } => {
                self.pos = *pos;
                let c = self.rv(cond)?;
                let else_l = self.fresh_label();
                self.push(Inst::Branch {
                    cond: Some(Expr::un(UnOp::LNot, c.e)),
                    target: else_l,
                });
                self.stmt(then)?;
                match els {
                    None => {
                        self.pos = *pos;
                        self.push(Inst::Label(else_l));
                    }
                    Some(els) => {
                        let end_l = self.fresh_label();
                        self.pos = *pos;
                        self.push(Inst::Branch {
                            cond: None,
                            target: end_l,
                        });
                        self.push(Inst::Label(else_l));
                        self.stmt(els)?;
                        self.pos = *pos;
                        self.push(Inst::Label(end_l));
                    }
                }
                Ok(())
            }
            Stmt::While { cond, body, pos } => {
                self.pos = *pos;
                let top = self.fresh_label();
                let end = self.fresh_label();
                self.push(Inst::Label(top));
                let c = self.rv(cond)?;
                self.push(Inst::Branch {
                    cond: Some(Expr::un(UnOp::LNot, c.e)),
                    target: end,
                });
                self.stmt(body)?;
                self.pos = *pos;
                self.push(Inst::Branch {
                    cond: None,
                    target: top,
                });
                self.push(Inst::Label(end));
                Ok(())
            }
        }
    }

    /// Lowers `e` and writes its value into register `r`; a single access
    /// or atomic call writes `r` directly.
    fn value_into(&mut self, e: &CExpr, r: RegId) -> Result<(), Diag> {
        match e {
            CExpr::Call(name, npos, args) => match self.call(name, *npos, args, Some(r))? {
                Some(v) => {
                    if v.e != Expr::reg(r) {
                        self.assign(r, v.e);
                    }
                    Ok(())
                }
                None => Err(Diag::new(*npos, format!("'{name}' returns no value"))),
            },
            CExpr::Unary(Un::Deref, ..) | CExpr::Index(..) => {
                let (addr, ty) = self.lvalue(e)?;
                self.load_plain(Some(r), addr, ty);
                Ok(())
            }
            _ => {
                let v = self.rv(e)?;
                self.assign(r, v.e);
                Ok(())
            }
        }
    }

    /// An expression statement: its value is dropped.
    fn effect(&mut self, e: &CExpr) -> Result<(), Diag> {
        match e {
            CExpr::Call(name, npos, args) => {
                self.call_dropped(name, *npos, args)?;
                Ok(())
            }
            CExpr::Cast(_, a, _) => self.effect(a),
            CExpr::Unary(Un::Deref, ..) | CExpr::Index(..) => {
                let (addr, ty) = self.lvalue(e)?;
                self.load_plain(None, addr, ty);
                Ok(())
            }
            _ => {
                self.rv(e)?;
                Ok(())
            }
        }
    }

    fn call_dropped(&mut self, name: &str, npos: Pos, args: &[CExpr]) -> Result<(), Diag> {
        self.call_full(name, npos, args, None, true).map(|_| ())
    }

    fn load_plain(&mut self, dst: Option<RegId>, addr: Expr, ty: Ty) {
        self.push(Inst::Load {
            dst,
            addr,
            width: ty.size(),
            signed: ty.signed && ty.ptr == 0,
            tags: vec!["NA"],
        });
    }

    // ----- expressions ------------------------------------------------

    /// The address of `*p` / `p[i]` and the type stored there.
    fn lvalue(&mut self, e: &CExpr) -> Result<(Expr, Ty), Diag> {
        match e {
            CExpr::Unary(Un::Deref, p, pos) => {
                let v = self.rv(p)?;
                let ty = self.pointee(v.ty, *pos)?;
                Ok((v.e, ty))
            }
            CExpr::Index(a, i, pos) => {
                let base = self.rv(a)?;
                let idx = self.rv(i)?;
                let sum = self.arith(Bin::Add, base, idx, *pos)?;
                let ty = self.pointee(sum.ty, *pos)?;
                Ok((sum.e, ty))
            }
            _ => Err(Diag::new(e.pos(), "expected '*p' or 'p[i]'")),
        }
    }

    fn pointee(&self, ty: Ty, pos: Pos) -> Result<Ty, Diag> {
        match ty.pointee() {
            Some(t) if t.void && t.ptr == 0 => {
                Err(Diag::new(pos, "cannot access memory through a 'void*'"))
            }
            Some(t) => Ok(t),
            None => Err(Diag::new(
                pos,
                "dereferencing a value that is not a pointer",
            )),
        }
    }

    /// Lowers an expression to a pure [`Expr`], emitting the accesses it
    /// makes (left to right).
    fn rv(&mut self, e: &CExpr) -> Result<Val, Diag> {
        match e {
            CExpr::Int(v, _) => Ok(Val {
                e: Expr::int(*v),
                ty: Ty::INT,
            }),
            CExpr::Var(name, pos) => {
                if let Some(ty) = self.locals.get(name) {
                    let ty = *ty;
                    return Ok(Val {
                        e: Expr::reg(self.t.reg(name)),
                        ty,
                    });
                }
                if let Some(ty) = self.params.get(name) {
                    return Ok(Val {
                        e: Expr::addr(name),
                        ty: *ty,
                    });
                }
                if mo_tag(name).is_some() {
                    return Err(Diag::new(
                        *pos,
                        format!(
                            "'{name}' is only allowed as the memory order of an atomic operation"
                        ),
                    ));
                }
                Err(Diag::new(*pos, format!("undeclared identifier '{name}'")))
            }
            CExpr::Unary(op, a, pos) => match op {
                Un::Deref => {
                    let (addr, ty) = self.lvalue(e)?;
                    let r = self.tmp();
                    self.load_plain(Some(r), addr, ty);
                    Ok(Val {
                        e: Expr::reg(r),
                        ty,
                    })
                }
                Un::AddrOf => Err(Diag::new(
                    *pos,
                    "'&' is only supported as the expected argument of atomic_compare_exchange",
                )),
                Un::Plus => self.rv(a),
                Un::Neg | Un::Not | Un::LNot => {
                    let v = self.rv(a)?;
                    let (u, ty) = match op {
                        Un::Neg => (UnOp::Neg, v.ty),
                        Un::Not => (UnOp::Not, v.ty),
                        _ => (UnOp::LNot, Ty::INT),
                    };
                    Ok(Val {
                        e: Expr::un(u, v.e),
                        ty,
                    })
                }
            },
            CExpr::Index(..) => {
                let (addr, ty) = self.lvalue(e)?;
                let r = self.tmp();
                self.load_plain(Some(r), addr, ty);
                Ok(Val {
                    e: Expr::reg(r),
                    ty,
                })
            }
            CExpr::Cast(ty, a, pos) => {
                if ty.void && ty.ptr == 0 {
                    return Err(Diag::new(
                        *pos,
                        "a '(void)' cast is only allowed on a statement",
                    ));
                }
                let v = self.rv(a)?;
                Ok(Val { e: v.e, ty: *ty })
            }
            CExpr::Call(name, npos, args) => match self.call(name, *npos, args, None)? {
                Some(v) => Ok(v),
                None => Err(Diag::new(*npos, format!("'{name}' returns no value"))),
            },
            CExpr::Binary(op @ (Bin::LAnd | Bin::LOr), a, b, _) => {
                let va = self.rv(a)?;
                if b.is_pure() {
                    let vb = self.rv(b)?;
                    let bop = if *op == Bin::LAnd {
                        BinOp::LAnd
                    } else {
                        BinOp::LOr
                    };
                    return Ok(Val {
                        e: Expr::bin(bop, va.e, vb.e),
                        ty: Ty::INT,
                    });
                }
                // Short-circuit: the right side's accesses happen only when
                // the left side does not decide.
                let t = self.tmp();
                self.assign(t, truth(va.e));
                let end = self.fresh_label();
                let skip = if *op == Bin::LAnd {
                    Expr::un(UnOp::LNot, Expr::reg(t))
                } else {
                    Expr::reg(t)
                };
                self.push(Inst::Branch {
                    cond: Some(skip),
                    target: end,
                });
                let vb = self.rv(b)?;
                self.assign(t, truth(vb.e));
                self.push(Inst::Label(end));
                Ok(Val {
                    e: Expr::reg(t),
                    ty: Ty::INT,
                })
            }
            CExpr::Binary(op, a, b, pos) => {
                let va = self.rv(a)?;
                let vb = self.rv(b)?;
                self.arith(*op, va, vb, *pos)
            }
        }
    }

    /// `a op b` for the non-short-circuit operators, with C's pointer
    /// arithmetic (`p + i` adds `i * sizeof(*p)` bytes).
    fn arith(&mut self, op: Bin, a: Val, b: Val, pos: Pos) -> Result<Val, Diag> {
        let unsigned = !(a.ty.signed && b.ty.signed);
        let cmp = |s: BinOp, u: BinOp| if unsigned { u } else { s };
        let bop = match op {
            Bin::Add => {
                if a.ty.ptr > 0 && b.ty.ptr > 0 {
                    return Err(Diag::new(pos, "cannot add two pointers"));
                }
                if a.ty.ptr > 0 {
                    let e = Expr::bin(BinOp::Add, a.e, scale(b.e, a.ty, pos)?);
                    return Ok(Val { e, ty: a.ty });
                }
                if b.ty.ptr > 0 {
                    let e = Expr::bin(BinOp::Add, scale(a.e, b.ty, pos)?, b.e);
                    return Ok(Val { e, ty: b.ty });
                }
                BinOp::Add
            }
            Bin::Sub => {
                if b.ty.ptr > 0 {
                    return Err(Diag::new(pos, "pointer subtraction is not supported"));
                }
                if a.ty.ptr > 0 {
                    let e = Expr::bin(BinOp::Sub, a.e, scale(b.e, a.ty, pos)?);
                    return Ok(Val { e, ty: a.ty });
                }
                BinOp::Sub
            }
            Bin::Mul => BinOp::Mul,
            Bin::Div | Bin::Rem => {
                return Err(Diag::new(
                    pos,
                    "'/' and '%' are not supported (the IR has no division)",
                ))
            }
            Bin::Shl => BinOp::Shl,
            Bin::Shr => {
                if a.ty.signed {
                    BinOp::Asr
                } else {
                    BinOp::Lsr
                }
            }
            Bin::And => BinOp::And,
            Bin::Or => BinOp::Or,
            Bin::Xor => BinOp::Xor,
            Bin::Eq => BinOp::Eq,
            Bin::Ne => BinOp::Ne,
            Bin::Lt => cmp(BinOp::Lt, BinOp::Ltu),
            Bin::Le => cmp(BinOp::Le, BinOp::Leu),
            Bin::Gt => cmp(BinOp::Gt, BinOp::Gtu),
            Bin::Ge => cmp(BinOp::Ge, BinOp::Geu),
            Bin::LAnd => BinOp::LAnd,
            Bin::LOr => BinOp::LOr,
        };
        let is_cmp = matches!(
            op,
            Bin::Eq | Bin::Ne | Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge | Bin::LAnd | Bin::LOr
        );
        let ty = if is_cmp {
            Ty::INT
        } else if a.ty.size() >= b.ty.size() {
            a.ty
        } else {
            b.ty
        };
        Ok(Val {
            e: Expr::bin(bop, a.e, b.e),
            ty,
        })
    }

    // ----- atomic library calls -----------------------------------------

    /// Lowers a call whose value is used; `want` is a register the result
    /// may be written to directly.
    fn call(
        &mut self,
        name: &str,
        npos: Pos,
        args: &[CExpr],
        want: Option<RegId>,
    ) -> Result<Option<Val>, Diag> {
        self.call_full(name, npos, args, want, false)
    }

    /// The memory-order argument `a`.
    fn mo(&self, a: &CExpr) -> Result<Tag, Diag> {
        if let CExpr::Var(n, _) = a {
            if let Some(t) = mo_tag(n) {
                return Ok(t);
            }
        }
        Err(Diag::new(
            a.pos(),
            "expected a memory order (memory_order_relaxed, memory_order_acquire, ...)",
        ))
    }

    /// The location argument `a`: its address and the type stored there.
    fn loc(&mut self, a: &CExpr) -> Result<(Expr, Ty), Diag> {
        let v = self.rv(a)?;
        match v.ty.pointee() {
            Some(t) if !(t.void && t.ptr == 0) => Ok((v.e, t)),
            _ => Err(Diag::new(
                a.pos(),
                "expected a pointer to a shared location",
            )),
        }
    }

    /// Sign-extends `r` in place when `ty` is a signed type narrower than
    /// 8 bytes (the old value of an RMW/CAS).
    fn sign_extend(&mut self, r: RegId, ty: Ty) {
        let w = ty.size();
        if ty.signed && ty.ptr == 0 && w < 8 {
            self.assign(r, Expr::un(UnOp::SignExt(w * 8), Expr::reg(r)));
        }
    }

    fn call_full(
        &mut self,
        name: &str,
        npos: Pos,
        args: &[CExpr],
        want: Option<RegId>,
        dropped: bool,
    ) -> Result<Option<Val>, Diag> {
        let Some((b, explicit)) = builtin(name) else {
            return Err(Diag::new(npos, format!("unknown function '{name}'")));
        };
        let (nargs, nmo) = match b {
            Builtin::Load => (1, 1),
            Builtin::Store | Builtin::Rmw(_) => (2, 1),
            Builtin::Cas { .. } => (3, 2),
            Builtin::Fence => (0, 1),
        };
        let expect = if explicit || matches!(b, Builtin::Fence) {
            nargs + nmo
        } else {
            nargs
        };
        if args.len() != expect {
            return Err(Diag::new(
                npos,
                format!(
                    "'{name}' takes {expect} argument{}, found {}",
                    if expect == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        // Memory orders first (they are plain names: checking them early
        // gives the error before any instruction is emitted).
        let mos: Vec<Tag> = if explicit || matches!(b, Builtin::Fence) {
            args[nargs..]
                .iter()
                .map(|a| self.mo(a))
                .collect::<Result<_, _>>()?
        } else {
            vec!["SC"; nmo]
        };
        match b {
            Builtin::Fence => {
                self.push(Inst::Fence { tags: vec![mos[0]] });
                Ok(None)
            }
            Builtin::Load => {
                let (addr, ty) = self.loc(&args[0])?;
                let dst = if dropped {
                    None
                } else {
                    Some(want.unwrap_or_else(|| self.tmp()))
                };
                self.push(Inst::Load {
                    dst,
                    addr,
                    width: ty.size(),
                    signed: ty.signed && ty.ptr == 0,
                    tags: vec![mos[0], "A"],
                });
                Ok(dst.map(|r| Val {
                    e: Expr::reg(r),
                    ty,
                }))
            }
            Builtin::Store => {
                let (addr, ty) = self.loc(&args[0])?;
                let v = self.rv(&args[1])?;
                self.push(Inst::Store {
                    addr,
                    val: v.e,
                    width: ty.size(),
                    tags: vec![mos[0], "A"],
                });
                Ok(None)
            }
            Builtin::Rmw(op) => {
                let (addr, ty) = self.loc(&args[0])?;
                let v = self.rv(&args[1])?;
                let dst = if dropped {
                    None
                } else {
                    Some(want.unwrap_or_else(|| self.tmp()))
                };
                let tags = vec![mos[0], "A", "RMW"];
                self.push(Inst::Rmw {
                    dst,
                    addr,
                    op,
                    operand: v.e,
                    width: ty.size(),
                    read_tags: tags.clone(),
                    write_tags: tags,
                });
                Ok(dst.map(|r| {
                    self.sign_extend(r, ty);
                    Val {
                        e: Expr::reg(r),
                        ty,
                    }
                }))
            }
            Builtin::Cas { weak } => {
                let (addr, ty) = self.loc(&args[0])?;
                let width = ty.size();
                let ok_tags = vec![mos[0], "A", "RMW"];
                let fail_tags = vec![mos[1], "A"];
                match &args[1] {
                    // `&r`: the expected value lives in local `r`.
                    CExpr::Unary(Un::AddrOf, inner, apos) => {
                        let CExpr::Var(lname, lpos) = &**inner else {
                            return Err(Diag::new(
                                *apos,
                                "expected '&r' with 'r' a local, or a pointer to a shared location",
                            ));
                        };
                        let r = match self.locals.get(lname) {
                            Some(_) => self.t.reg(lname),
                            None if self.params.contains_key(lname) => {
                                return Err(Diag::new(
                                    *lpos,
                                    format!("'&{lname}': '{lname}' is a parameter; pass '{lname}' itself to use the location as the expected value"),
                                ))
                            }
                            None => {
                                return Err(Diag::new(
                                    *lpos,
                                    format!("undeclared identifier '{lname}'"),
                                ))
                            }
                        };
                        let des = self.rv(&args[2])?;
                        let ok = if dropped {
                            None
                        } else {
                            Some(want.filter(|w| *w != r).unwrap_or_else(|| self.tmp()))
                        };
                        self.push(Inst::Cas {
                            dst: Some(r),
                            ok,
                            addr,
                            expected: Expr::reg(r),
                            new: des.e,
                            width,
                            read_tags: ok_tags.clone(),
                            write_tags: ok_tags,
                            fail_tags,
                            weak,
                        });
                        // `r` holds a value of the location's type.
                        self.sign_extend(r, ty);
                        Ok(ok.map(|k| Val {
                            e: Expr::reg(k),
                            ty: Ty::INT,
                        }))
                    }
                    // herd7's form: the expected value is in memory.
                    exp => {
                        let (eaddr, ety) = self.loc(exp)?;
                        let des = self.rv(&args[2])?;
                        let expected = self.tmp();
                        self.push(Inst::Load {
                            dst: Some(expected),
                            addr: eaddr.clone(),
                            width: ety.size(),
                            signed: ety.signed && ety.ptr == 0,
                            tags: vec!["NA"],
                        });
                        let old = self.tmp();
                        let ok = match want {
                            Some(w) if !dropped => w,
                            _ => self.tmp(),
                        };
                        self.push(Inst::Cas {
                            dst: Some(old),
                            ok: Some(ok),
                            addr,
                            expected: Expr::reg(expected),
                            new: des.e,
                            width,
                            read_tags: ok_tags.clone(),
                            write_tags: ok_tags,
                            fail_tags,
                            weak,
                        });
                        let done = self.fresh_label();
                        self.push(Inst::Branch {
                            cond: Some(Expr::reg(ok)),
                            target: done,
                        });
                        self.push(Inst::Store {
                            addr: eaddr,
                            val: Expr::reg(old),
                            width: ety.size(),
                            tags: vec!["NA"],
                        });
                        self.push(Inst::Label(done));
                        Ok((!dropped).then(|| Val {
                            e: Expr::reg(ok),
                            ty: Ty::INT,
                        }))
                    }
                }
            }
        }
    }
}

/// `e` as a truth value (0 or 1): comparisons already are one.
fn truth(e: Expr) -> Expr {
    match e {
        Expr::Bin(
            BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Ltu
            | BinOp::Leu
            | BinOp::Gtu
            | BinOp::Geu
            | BinOp::LAnd
            | BinOp::LOr,
            ..,
        )
        | Expr::Un(UnOp::LNot, _) => e,
        e => Expr::bin(BinOp::Ne, e, Expr::int(0)),
    }
}

/// `i * sizeof(*p)` for pointer arithmetic on a pointer of type `pty`.
fn scale(i: Expr, pty: Ty, pos: Pos) -> Result<Expr, Diag> {
    let elem = pty.pointee().map(|t| t.size()).unwrap_or(1);
    if pty.ptr == 1 && pty.void {
        return Err(Diag::new(pos, "arithmetic on a 'void*'"));
    }
    Ok(match (&i, elem) {
        (_, 1) => i,
        (Expr::Op(Operand::Const(Value::Int(v))), w) => Expr::int(v.wrapping_mul(w as i64)),
        (_, w) => Expr::bin(BinOp::Mul, i, Expr::int(w as i64)),
    })
}
