//! Symbolic values: expressions over the values of read events, folded and
//! simplified as they are built, evaluated once a candidate execution fixes
//! what each read reads.

use crate::ir::{BinOp, UnOp, Value};
use std::rc::Rc;

/// A symbolic value: a constant, the value of read event `n` of the
/// current thread, or an operation over symbolic values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sym {
    /// A known value.
    C(Value),
    /// The value read by the thread's event number `n`.
    Read(u32),
    /// A binary operation.
    Bin(BinOp, S, S),
    /// A unary operation.
    Un(UnOp, S),
    /// `if c != 0 then a else b`.
    Sel(S, S, S),
}

/// A shared symbolic value.
pub type S = Rc<Sym>;

/// A constant.
pub fn konst(v: Value) -> S {
    Rc::new(Sym::C(v))
}

/// Builds `a op b`, folding constants and the identities that make fake
/// dependencies (`x ^ x`, `x - x`, `x & 0`, `x * 0`) constant.
pub fn bin(op: BinOp, a: S, b: S) -> S {
    if let (Sym::C(x), Sym::C(y)) = (&*a, &*b) {
        if let Some(v) = apply_bin(op, x, y) {
            return konst(v);
        }
    }
    let zero = |s: &S| matches!(&**s, Sym::C(Value::Int(0)));
    match op {
        BinOp::Xor | BinOp::Sub if a == b => return konst(Value::Int(0)),
        BinOp::And | BinOp::Mul if zero(&a) || zero(&b) => return konst(Value::Int(0)),
        BinOp::Add | BinOp::Or | BinOp::Xor if zero(&b) => return a,
        BinOp::Add | BinOp::Or | BinOp::Xor if zero(&a) => return b,
        BinOp::Sub | BinOp::Shl | BinOp::Lsr | BinOp::Asr if zero(&b) => return a,
        BinOp::Eq if a == b => return konst(Value::Int(1)),
        BinOp::Ne if a == b => return konst(Value::Int(0)),
        _ => {}
    }
    Rc::new(Sym::Bin(op, a, b))
}

/// Builds `op a`, folding constants.
pub fn un(op: UnOp, a: S) -> S {
    if let Sym::C(x) = &*a {
        if let Some(v) = apply_un(op, x) {
            return konst(v);
        }
    }
    Rc::new(Sym::Un(op, a))
}

/// Builds a selection, folding a constant condition.
pub fn sel(c: S, a: S, b: S) -> S {
    if let Sym::C(v) = &*c {
        return if truthy(v) { a } else { b };
    }
    if a == b {
        return a;
    }
    Rc::new(Sym::Sel(c, a, b))
}

/// Whether a value counts as true (non-zero; addresses are true).
pub fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Int(0))
}

/// Evaluates `s`, reading the values of reads with `read`; `None` when a
/// read has no value or the arithmetic is meaningless (e.g. an address
/// multiplied).
pub fn eval(s: &Sym, read: &mut impl FnMut(u32) -> Option<Value>) -> Option<Value> {
    match s {
        Sym::C(v) => Some(v.clone()),
        Sym::Read(n) => read(*n),
        Sym::Bin(op, a, b) => {
            let x = eval(a, read)?;
            let y = eval(b, read)?;
            apply_bin(*op, &x, &y)
        }
        Sym::Un(op, a) => apply_un(*op, &eval(a, read)?),
        Sym::Sel(c, a, b) => {
            if truthy(&eval(c, read)?) {
                eval(a, read)
            } else {
                eval(b, read)
            }
        }
    }
}

/// Calls `f` on every read the value depends on.
pub fn reads(s: &Sym, f: &mut impl FnMut(u32)) {
    match s {
        Sym::C(_) => {}
        Sym::Read(n) => f(*n),
        Sym::Bin(_, a, b) => {
            reads(a, f);
            reads(b, f);
        }
        Sym::Un(_, a) => reads(a, f),
        Sym::Sel(c, a, b) => {
            reads(c, f);
            reads(a, f);
            reads(b, f);
        }
    }
}

fn b2v(b: bool) -> Value {
    Value::Int(b as i64)
}

/// `x op y` on concrete values.
pub fn apply_bin(op: BinOp, x: &Value, y: &Value) -> Option<Value> {
    use Value::*;
    match (x, y) {
        (Int(a), Int(b)) => {
            let (a, b) = (*a, *b);
            let (ua, ub) = (a as u64, b as u64);
            Some(match op {
                BinOp::Add => Int(a.wrapping_add(b)),
                BinOp::Sub => Int(a.wrapping_sub(b)),
                BinOp::Mul => Int(a.wrapping_mul(b)),
                BinOp::And => Int(a & b),
                BinOp::Or => Int(a | b),
                BinOp::Xor => Int(a ^ b),
                BinOp::Bic => Int(a & !b),
                BinOp::Shl => Int(if ub >= 64 { 0 } else { (ua << ub) as i64 }),
                BinOp::Lsr => Int(if ub >= 64 { 0 } else { (ua >> ub) as i64 }),
                BinOp::Asr => Int(a >> ub.min(63)),
                BinOp::Eq => b2v(a == b),
                BinOp::Ne => b2v(a != b),
                BinOp::Lt => b2v(a < b),
                BinOp::Le => b2v(a <= b),
                BinOp::Gt => b2v(a > b),
                BinOp::Ge => b2v(a >= b),
                BinOp::Ltu => b2v(ua < ub),
                BinOp::Leu => b2v(ua <= ub),
                BinOp::Gtu => b2v(ua > ub),
                BinOp::Geu => b2v(ua >= ub),
                BinOp::LAnd => b2v(a != 0 && b != 0),
                BinOp::LOr => b2v(a != 0 || b != 0),
            })
        }
        (Addr(s, o), Int(b)) => match op {
            BinOp::Add => Some(Addr(s.clone(), o.wrapping_add(*b))),
            BinOp::Sub => Some(Addr(s.clone(), o.wrapping_sub(*b))),
            BinOp::Eq => Some(b2v(false)),
            BinOp::Ne => Some(b2v(true)),
            BinOp::LAnd => Some(b2v(*b != 0)),
            BinOp::LOr => Some(b2v(true)),
            _ => None,
        },
        (Int(a), Addr(s, o)) => match op {
            BinOp::Add => Some(Addr(s.clone(), o.wrapping_add(*a))),
            BinOp::Eq => Some(b2v(false)),
            BinOp::Ne => Some(b2v(true)),
            BinOp::LAnd => Some(b2v(*a != 0)),
            BinOp::LOr => Some(b2v(true)),
            _ => None,
        },
        (Addr(s1, o1), Addr(s2, o2)) => match op {
            BinOp::Eq => Some(b2v(x == y)),
            BinOp::Ne => Some(b2v(x != y)),
            BinOp::Sub | BinOp::Xor if s1 == s2 && op == BinOp::Sub => {
                Some(Int(o1.wrapping_sub(*o2)))
            }
            BinOp::Xor if x == y => Some(Int(0)),
            BinOp::LAnd | BinOp::LOr => Some(b2v(true)),
            _ => None,
        },
    }
}

/// `op x` on a concrete value.
pub fn apply_un(op: UnOp, x: &Value) -> Option<Value> {
    match x {
        Value::Int(a) => Some(Value::Int(match op {
            UnOp::Neg => a.wrapping_neg(),
            UnOp::Not => !a,
            UnOp::LNot => (*a == 0) as i64,
            UnOp::ZeroExt(n) if n < 64 => ((*a as u64) & ((1u64 << n) - 1)) as i64,
            UnOp::SignExt(n) if n < 64 => {
                let sh = 64 - n as u32;
                (a << sh) >> sh
            }
            _ => *a,
        })),
        // Addresses fit in any register width.
        Value::Addr(..) => match op {
            UnOp::ZeroExt(_) | UnOp::SignExt(_) => Some(x.clone()),
            UnOp::LNot => Some(Value::Int(0)),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_dependencies_fold_to_zero() {
        let r = Rc::new(Sym::Read(0));
        assert_eq!(
            *bin(BinOp::Xor, r.clone(), r.clone()),
            Sym::C(Value::Int(0))
        );
        let a = konst(Value::Addr("x".into(), 0));
        let z = bin(BinOp::Xor, r.clone(), r);
        assert_eq!(*bin(BinOp::Add, a.clone(), z), *a);
    }

    #[test]
    fn evaluation() {
        let r = Rc::new(Sym::Read(3));
        let e = bin(BinOp::Add, r, konst(Value::Int(2)));
        assert_eq!(
            eval(&e, &mut |n| Some(Value::Int(n as i64))),
            Some(Value::Int(5))
        );
        assert_eq!(
            apply_un(UnOp::SignExt(8), &Value::Int(0xff)),
            Some(Value::Int(-1))
        );
        assert_eq!(
            apply_un(UnOp::ZeroExt(32), &Value::Int(-1)),
            Some(Value::Int(0xffff_ffff))
        );
    }
}
