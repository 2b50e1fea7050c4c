//! X86 and X86_64 front end: herd7's X86 (Intel operand order, `MOV
//! [x],$1`, `MOV EAX,[y]`) and X86_64 (AT&T order, `movl $1,(x)`, `mov
//! (y),%eax`) litmus threads lowered to IR.
//!
//! # Semantics (after herd7's `herd/X86Sem.ml` and `herd/X86_64Sem.ml`)
//!
//! * Plain `MOV` loads and stores carry no tags. Widths: X86 accesses are
//!   4 bytes (`MOVB`/`MOVW`/`MOVQ`: 1/2/8); X86_64 accesses take the size
//!   suffix (`movb/w/l/q`), else the size of the register operand, else 4
//!   (herd7's unsized X86_64 instruction accesses a word).
//! * X86 registers (`EAX`...) are whole untruncated registers, as herd7's
//!   X86 values are machine words: register writes have width 8, loads
//!   sign-extend from the access width (so `MOV [x],$-1` then `MOV EAX,[x]`
//!   gives `-1`, as in herd7), and the old value an RMW/CAS puts in a
//!   register is sign-extended with an explicit [`UnOp::SignExt`].
//! * X86_64 registers are 64-bit (`RAX`); `eax`/`ax`/`al`/`ah` name parts
//!   of `RAX`. 32-bit writes zero-extend (a width-4 [`Inst::Assign`]), 8-
//!   and 16-bit writes merge, reads of a part mask it.
//! * `XCHG` between memory and a register is always atomic: an
//!   [`Inst::Rmw`] `Swap` with empty tags (the engine adds `X` and the
//!   pairing). herd7's `UXCH` behaves the same.
//! * `LOCK ADD/SUB/AND/OR/XOR/INC/DEC/XADD [m],...` are [`Inst::Rmw`]s;
//!   `LOCK CMPXCHG [m],r` is an [`Inst::Cas`] whose failure read is tagged
//!   `X` (herd7 marks every access of a locked instruction atomic, the
//!   failing read included); the accumulator (`EAX`/`RAX`) receives the old
//!   value on failure (`Select` on `ZF`). Without `LOCK` these are a plain
//!   load and store (and for `CMPXCHG` a branch over the store).
//!   herd7 accepts `LOCK` only on XCHG, ADD, XOR, INC, DEC (and X86_64
//!   CMPXCHG), and implements CMPXCHG only for X86_64; SUB, AND, OR, XADD
//!   and X86 CMPXCHG are accepted here as extensions with the hardware
//!   meaning.
//! * `MFENCE`/`LFENCE`/`SFENCE`: [`Inst::Fence`] tagged `MFENCE`/...
//!   `MOVNTI` (X86_64): a store tagged `NT`.
//! * Flags are hidden registers `ZF`, `SF`, `CF` with herd7's meaning:
//!   after `CMP a,b`: `ZF = (a == b)`, `SF = (a > b)`, `CF = 0`; after an
//!   ALU operation with result `v`: `ZF = (v == 0)`, `SF = (v > 0)`, `CF =
//!   0` (INC/DEC leave `CF`). `JE` branches on `ZF`, `JNE` on `!ZF`, `JGT`
//!   and `JS` on `SF`, `JLE` and `JNS` on `!SF`, `JGE` on `ZF || SF`, and
//!   `JLT` on `ZF || !SF` (sic: herd7's definition). Flags are computed only
//!   in threads that read them (`Jcc`, `CMOVC`, `SETNB`, or a flag
//!   operand): elsewhere they are dead. `CMP`'s memory reads always happen.
//! * `JMP`, `Jcc`: [`Inst::Branch`] to the thread's labels; `RET` (X86_64)
//!   jumps to the end of the thread. `NOP`, `ENDBR64`, `NOPL`/`NOPW` emit
//!   nothing.
//!
//! Every instruction lowered from one cell carries the cell's position
//! (herd7 never relates two events of one instruction by `po`).

mod syntax;
#[cfg(test)]
mod tests;

use self::syntax::{Alu, Cc, Mem, Mn, Opnd, Part, Reg, Tk, T};
use crate::ir::{BinOp, Expr, Inst, LabelId, Pos, RegId, RmwOp, Tag, Thread, UnOp, Width};
use crate::litmus::{Arch, Diag, SrcLine};
use std::collections::HashMap;

/// Canonical register name: X86 `eax` → `EAX`; X86_64 `eax`/`ax`/`al` →
/// `RAX`, `r8d` → `R8`; the flags `ZF`, `SF`, `CF`. `None` when `name` is
/// not a register of `arch`.
pub fn canonical_reg(arch: Arch, name: &str) -> Option<String> {
    syntax::parse_reg(arch, name).map(|r| r.canon)
}

/// Lowers one X86 or X86_64 thread (`cells`: its non-empty instruction
/// cells, in order).
pub fn lower_thread(
    arch: Arch,
    _index: usize,
    name: &str,
    cells: &[SrcLine],
) -> Result<Thread, Diag> {
    let mut parsed = Vec::with_capacity(cells.len());
    for c in cells {
        parsed.push(parse_cell(arch, c)?);
    }
    let flags = parsed
        .iter()
        .flat_map(|c| c.instr.iter())
        .any(|i| i.reads_flags());
    let mut lw = Lower {
        arch,
        t: Thread {
            name: name.to_string(),
            ..Default::default()
        },
        flags,
        ntmp: 0,
        nlabel: 0,
        pos: Pos::default(),
        defined: HashMap::new(),
        used: Vec::new(),
        ret: None,
    };
    for c in &parsed {
        for (l, pos) in &c.labels {
            if lw.defined.insert(l.clone(), *pos).is_some() {
                return Err(Diag::new(*pos, format!("label '{l}' defined twice")));
            }
            lw.pos = *pos;
            let id = lw.t.label(l);
            lw.push(Inst::Label(id));
        }
        if let Some(i) = &c.instr {
            lw.pos = i.pos;
            lw.instr(i)?;
        }
    }
    for (l, pos) in &lw.used {
        if !lw.defined.contains_key(l) {
            return Err(Diag::new(*pos, format!("undefined label '{l}'")));
        }
    }
    if let Some(r) = lw.ret {
        lw.push(Inst::Label(r));
    }
    Ok(lw.t)
}

/// A parsed cell: labels, then at most one instruction.
struct Cell {
    labels: Vec<(String, Pos)>,
    instr: Option<Instr>,
}

/// A parsed instruction.
struct Instr {
    mn: Mn,
    /// The mnemonic as written.
    text: String,
    /// Explicit size suffix.
    suffix: Option<u8>,
    lock: bool,
    /// Operands in the order written, with their positions.
    ops: Vec<(Opnd, Pos)>,
    pos: Pos,
}

impl Instr {
    fn reads_flags(&self) -> bool {
        matches!(self.mn, Mn::Jcc(_) | Mn::Cmovc | Mn::Setnb)
            || self.ops.iter().any(|(o, _)| match o {
                Opnd::Reg(r) => r.is_flag(),
                _ => false,
            })
    }
}

fn at(cell: &SrcLine, off: usize) -> Pos {
    Pos {
        line: cell.pos.line,
        col: cell.pos.col.saturating_add(off as u32),
    }
}

fn parse_cell(arch: Arch, cell: &SrcLine) -> Result<Cell, Diag> {
    let toks = syntax::tokens(&cell.text).map_err(|(off, m)| Diag::new(at(cell, off), m))?;
    let mut i = 0;
    let mut labels = Vec::new();
    while let (
        Some(Tk {
            t: T::Ident(l),
            off,
        }),
        Some(Tk { t: T::P(':'), .. }),
    ) = (toks.get(i), toks.get(i + 1))
    {
        labels.push((l.clone(), at(cell, *off)));
        i += 2;
    }
    if i >= toks.len() {
        return Ok(Cell {
            labels,
            instr: None,
        });
    }
    let mut lock = false;
    let mut lock_pos = None;
    let (mn, text, suffix, mpos) = loop {
        let tk = &toks[i];
        let pos = at(cell, tk.off);
        let T::Ident(m) = &tk.t else {
            return Err(Diag::new(
                pos,
                format!("expected an {} instruction", arch.herd_name()),
            ));
        };
        let found = syntax::mnemonic(arch, m).map_err(|e| Diag::new(pos, e))?;
        let Some((mn, suffix)) = found else {
            return Err(Diag::new(
                pos,
                format!("unknown {} instruction '{m}'", arch.herd_name()),
            ));
        };
        i += 1;
        if mn == Mn::Lock {
            if lock {
                return Err(Diag::new(pos, "repeated LOCK prefix"));
            }
            lock = true;
            lock_pos = Some(pos);
            if i >= toks.len() {
                return Err(Diag::new(pos, "LOCK prefix without an instruction"));
            }
            continue;
        }
        break (mn, m.clone(), suffix, pos);
    };
    // Operands: split at top-level commas.
    let rest = &toks[i..];
    let mut ops = Vec::new();
    if !rest.is_empty() {
        let mut depth = 0i32;
        let mut start = 0;
        for k in 0..=rest.len() {
            let end = k == rest.len();
            if !end {
                match rest[k].t {
                    T::P('(') | T::P('[') => depth += 1,
                    T::P(')') | T::P(']') => depth -= 1,
                    _ => {}
                }
            }
            if end || (depth == 0 && rest[k].t == T::P(',')) {
                let part = &rest[start..k];
                let opos = match part.first() {
                    Some(t) => at(cell, t.off),
                    None => at(
                        cell,
                        rest.get(k)
                            .map(|t| t.off)
                            .unwrap_or(cell.text.chars().count()),
                    ),
                };
                if part.is_empty() {
                    return Err(Diag::new(opos, "missing operand"));
                }
                let o = syntax::operand(arch, part).map_err(|e| {
                    let first = part[0].off;
                    let last_off = rest
                        .get(k)
                        .map(|t| t.off)
                        .unwrap_or(cell.text.chars().count());
                    let shown: String = cell
                        .text
                        .chars()
                        .skip(first)
                        .take(last_off.saturating_sub(first))
                        .collect();
                    if e == "bad operand" {
                        Diag::new(opos, format!("bad operand '{}'", shown.trim_end()))
                    } else {
                        Diag::new(opos, format!("bad operand '{}': {e}", shown.trim_end()))
                    }
                })?;
                ops.push((o, opos));
                start = k + 1;
            }
        }
    }
    let instr = Instr {
        mn,
        text,
        suffix,
        lock,
        ops,
        pos: lock_pos.unwrap_or(mpos),
    };
    check_arity(arch, &instr)?;
    Ok(Cell {
        labels,
        instr: Some(instr),
    })
}

fn check_arity(arch: Arch, i: &Instr) -> Result<(), Diag> {
    let n = match i.mn {
        Mn::Mov | Mn::Alu(_) | Mn::Cmp | Mn::Xchg | Mn::Xadd | Mn::Cmpxchg | Mn::Cmovc => 2,
        Mn::Movnti => 2,
        Mn::Inc | Mn::Dec | Mn::Setnb | Mn::Jmp | Mn::Jcc(_) => 1,
        Mn::Fence(_) | Mn::Ret | Mn::Lock => 0,
        // NOPL/NOPW take an (ignored) operand.
        Mn::Nop => i.ops.len(),
    };
    if i.ops.len() != n {
        return Err(Diag::new(
            i.pos,
            format!(
                "{} instruction '{}' takes {n} operand{}, found {}",
                arch.herd_name(),
                i.text,
                if n == 1 { "" } else { "s" },
                i.ops.len()
            ),
        ));
    }
    if i.lock
        && !matches!(
            i.mn,
            Mn::Alu(Alu::Add | Alu::Sub | Alu::And | Alu::Or | Alu::Xor)
                | Mn::Inc
                | Mn::Dec
                | Mn::Xchg
                | Mn::Xadd
                | Mn::Cmpxchg
        )
    {
        return Err(Diag::new(
            i.pos,
            format!("illegal LOCK prefix on instruction '{}'", i.text),
        ));
    }
    Ok(())
}

struct Lower {
    arch: Arch,
    t: Thread,
    /// Whether some instruction of the thread reads the flags.
    flags: bool,
    ntmp: u32,
    nlabel: u32,
    /// Position of the instruction being lowered.
    pos: Pos,
    defined: HashMap<String, Pos>,
    used: Vec<(String, Pos)>,
    /// The end-of-thread label `RET` jumps to.
    ret: Option<LabelId>,
}

impl Lower {
    fn push(&mut self, i: Inst) {
        self.t.push(i, self.pos);
    }

    fn tmp(&mut self) -> RegId {
        let n = format!("%t{}", self.ntmp);
        self.ntmp += 1;
        self.t.reg(&n)
    }

    fn fresh_label(&mut self) -> LabelId {
        let n = format!("%L{}", self.nlabel);
        self.nlabel += 1;
        self.t.label(&n)
    }

    fn flag(&mut self, f: &str) -> RegId {
        self.t.reg(f)
    }

    fn set_flag(&mut self, f: &str, e: Expr) {
        let r = self.flag(f);
        self.push(Inst::Assign {
            dst: r,
            expr: e,
            width: 8,
        });
    }

    /// herd7's flags after an ALU result `v` (`cf`: also clear `CF`).
    fn result_flags(&mut self, v: Expr, cf: bool) {
        if !self.flags {
            return;
        }
        self.set_flag("ZF", Expr::bin(BinOp::Eq, v.clone(), Expr::int(0)));
        self.set_flag("SF", Expr::bin(BinOp::Gt, v, Expr::int(0)));
        if cf {
            self.set_flag("CF", Expr::int(0));
        }
    }

    /// Loads sign-extend on X86 (untruncated values), zero-extend on X86_64.
    fn signed_loads(&self) -> bool {
        self.arch != Arch::X86_64
    }

    /// The value of register operand `r`.
    fn reg_read(&mut self, r: &Reg) -> Expr {
        let id = self.t.reg(&r.canon);
        let e = Expr::reg(id);
        match r.part {
            Part::Full | Part::Q => e,
            Part::L => Expr::un(UnOp::ZeroExt(32), e),
            Part::W => Expr::un(UnOp::ZeroExt(16), e),
            Part::B => Expr::un(UnOp::ZeroExt(8), e),
            Part::H => Expr::un(UnOp::ZeroExt(8), Expr::bin(BinOp::Lsr, e, Expr::int(8))),
        }
    }

    /// Writes `v` to register operand `r` (X86_64 part semantics).
    fn reg_write(&mut self, r: &Reg, v: Expr) {
        let id = self.t.reg(&r.canon);
        let cur = Expr::reg(id);
        let merge = |keep: i64, new: Expr| {
            Expr::bin(
                BinOp::Or,
                Expr::bin(BinOp::And, cur.clone(), Expr::int(keep)),
                new,
            )
        };
        let (expr, width) = match r.part {
            Part::Full | Part::Q => (v, 8),
            Part::L => (v, 4),
            Part::W => (merge(!0xffff, Expr::un(UnOp::ZeroExt(16), v)), 8),
            Part::B => (merge(!0xff, Expr::un(UnOp::ZeroExt(8), v)), 8),
            Part::H => (
                merge(
                    !0xff00,
                    Expr::bin(BinOp::Shl, Expr::un(UnOp::ZeroExt(8), v), Expr::int(8)),
                ),
                8,
            ),
        };
        self.push(Inst::Assign {
            dst: id,
            expr,
            width,
        });
    }

    /// Writes the old value `old` of an RMW/CAS (a hidden register) to
    /// register operand `r`.
    fn reg_write_old(&mut self, r: &Reg, old: RegId, width: Width) {
        let v = if r.part == Part::Full && width < 8 {
            Expr::un(UnOp::SignExt(width * 8), Expr::reg(old))
        } else {
            Expr::reg(old)
        };
        self.reg_write(r, v);
    }

    fn addr(&mut self, m: &Mem) -> Expr {
        let mut terms: Vec<Expr> = Vec::new();
        if let Some(s) = &m.sym {
            terms.push(Expr::addr(s));
        }
        if let Some(b) = &m.base {
            terms.push(self.reg_read(b));
        }
        if let Some((x, s)) = &m.index {
            let xv = self.reg_read(x);
            terms.push(match s {
                1 => xv,
                s => Expr::bin(BinOp::Mul, xv, Expr::int(*s)),
            });
        }
        if m.disp != 0 || terms.is_empty() {
            terms.push(Expr::int(m.disp));
        }
        let mut it = terms.into_iter();
        let first = it.next().unwrap_or_else(|| Expr::int(0));
        it.fold(first, |a, b| Expr::bin(BinOp::Add, a, b))
    }

    fn load(&mut self, dst: Option<RegId>, addr: Expr, width: Width) {
        let signed = self.signed_loads();
        self.push(Inst::Load {
            dst,
            addr,
            width,
            signed,
            tags: vec![],
        });
    }

    /// The value of a source operand (memory is loaded into a hidden
    /// register).
    fn rd(&mut self, o: &Opnd, opos: Pos, width: Width) -> Result<Expr, Diag> {
        Ok(match o {
            Opnd::Imm(v) => Expr::int(*v),
            Opnd::Reg(r) => self.reg_read(r),
            Opnd::Mem(m) => {
                let a = self.addr(m);
                let t = self.tmp();
                self.load(Some(t), a, width);
                Expr::reg(t)
            }
            Opnd::Label(l) => {
                return Err(Diag::new(
                    opos,
                    format!("bad operand '{l}': not a register"),
                ))
            }
        })
    }

    /// Writes `v` to a destination operand.
    fn wr(&mut self, o: &Opnd, opos: Pos, v: Expr, width: Width) -> Result<(), Diag> {
        match o {
            Opnd::Reg(r) => {
                self.reg_write(r, v);
                Ok(())
            }
            Opnd::Mem(m) => {
                let a = self.addr(m);
                self.push(Inst::Store {
                    addr: a,
                    val: v,
                    width,
                    tags: vec![],
                });
                Ok(())
            }
            Opnd::Imm(_) => Err(Diag::new(opos, "cannot write to an immediate")),
            Opnd::Label(l) => Err(Diag::new(
                opos,
                format!("bad operand '{l}': not a register"),
            )),
        }
    }

    /// Access width of `i`: suffix, else register operand (X86_64), else 4.
    fn width(&self, i: &Instr) -> Width {
        if let Some(w) = i.suffix {
            return w;
        }
        if self.arch == Arch::X86_64 {
            for (o, _) in &i.ops {
                if let Opnd::Reg(r) = o {
                    if !r.is_flag() {
                        return r.part.width();
                    }
                }
            }
        }
        4
    }

    /// `(destination, source)` of a two-operand instruction: Intel order on
    /// X86, AT&T order on X86_64.
    fn dst_src<'a>(&self, i: &'a Instr) -> (&'a (Opnd, Pos), &'a (Opnd, Pos)) {
        if self.arch == Arch::X86_64 {
            (&i.ops[1], &i.ops[0])
        } else {
            (&i.ops[0], &i.ops[1])
        }
    }

    fn accumulator(&self, width: Width) -> Reg {
        match self.arch {
            Arch::X86_64 => Reg {
                canon: "RAX".into(),
                part: match width {
                    1 => Part::B,
                    2 => Part::W,
                    4 => Part::L,
                    _ => Part::Q,
                },
            },
            _ => Reg {
                canon: "EAX".into(),
                part: Part::Full,
            },
        }
    }

    fn jump(&mut self, l: &(Opnd, Pos)) -> Result<LabelId, Diag> {
        match &l.0 {
            Opnd::Label(name) => {
                self.used.push((name.clone(), l.1));
                Ok(self.t.label(name))
            }
            // A label may be spelt like a register in principle; accept it.
            Opnd::Reg(_) | Opnd::Imm(_) | Opnd::Mem(_) => Err(Diag::new(l.1, "expected a label")),
        }
    }

    fn instr(&mut self, i: &Instr) -> Result<(), Diag> {
        let w = self.width(i);
        match i.mn {
            Mn::Nop | Mn::Lock => {}
            Mn::Fence(tag) => self.push(Inst::Fence { tags: vec![tag] }),
            Mn::Mov => {
                let ((d, dpos), (s, spos)) = self.dst_src(i);
                match (d, s) {
                    (Opnd::Reg(r), Opnd::Mem(m))
                        if matches!(r.part, Part::Full | Part::Q)
                            || (r.part == Part::L && w == 4) =>
                    {
                        let a = self.addr(m);
                        let id = self.t.reg(&r.canon);
                        self.load(Some(id), a, w);
                    }
                    _ => {
                        let v = self.rd(s, *spos, w)?;
                        self.wr(d, *dpos, v, w)?;
                    }
                }
            }
            Mn::Movnti => {
                let ((d, dpos), (s, spos)) = self.dst_src(i);
                let Opnd::Mem(m) = d else {
                    return Err(Diag::new(*dpos, "MOVNTI needs a memory destination"));
                };
                let Opnd::Reg(_) = s else {
                    return Err(Diag::new(*spos, "MOVNTI needs a register source"));
                };
                let v = self.rd(s, *spos, w)?;
                let a = self.addr(m);
                self.push(Inst::Store {
                    addr: a,
                    val: v,
                    width: w,
                    tags: vec!["NT"],
                });
            }
            Mn::Alu(op) => {
                let (d, s) = self.dst_src(i);
                let src = s.clone();
                self.alu(i, op, d, Some(&src), w)?;
            }
            Mn::Inc | Mn::Dec => {
                let op = if i.mn == Mn::Inc { Alu::Add } else { Alu::Sub };
                let d = &i.ops[0];
                self.alu(i, op, d, None, w)?;
            }
            Mn::Cmp => {
                // herd7: flags from (first, second) in Intel order, i.e.
                // (destination, source).
                let ((a, apos), (b, bpos)) = self.dst_src(i);
                let va = self.rd(a, *apos, w)?;
                let vb = self.rd(b, *bpos, w)?;
                if self.flags {
                    self.set_flag("ZF", Expr::bin(BinOp::Eq, va.clone(), vb.clone()));
                    self.set_flag("SF", Expr::bin(BinOp::Gt, va, vb));
                    self.set_flag("CF", Expr::int(0));
                }
            }
            Mn::Xchg => self.xchg(i, w)?,
            Mn::Xadd => self.xadd(i, w)?,
            Mn::Cmpxchg => self.cmpxchg(i, w)?,
            Mn::Cmovc => {
                // `CMOVC r, ea` (both syntaxes): r := ea when CF.
                let (r, rpos) = &i.ops[0];
                let (s, spos) = &i.ops[1];
                let Opnd::Reg(r) = r else {
                    return Err(Diag::new(*rpos, "CMOVC needs a register destination"));
                };
                let skip = self.fresh_label();
                let cf = self.flag("CF");
                self.push(Inst::Branch {
                    cond: Some(Expr::un(UnOp::LNot, Expr::reg(cf))),
                    target: skip,
                });
                let v = self.rd(s, *spos, w)?;
                self.reg_write(r, v);
                self.push(Inst::Label(skip));
            }
            Mn::Setnb => {
                let (d, dpos) = &i.ops[0];
                let cf = self.flag("CF");
                self.wr(
                    d,
                    *dpos,
                    Expr::bin(BinOp::Xor, Expr::reg(cf), Expr::int(1)),
                    w,
                )?;
            }
            Mn::Jmp => {
                let l = self.jump(&i.ops[0])?;
                self.push(Inst::Branch {
                    cond: None,
                    target: l,
                });
            }
            Mn::Jcc(cc) => {
                let l = self.jump(&i.ops[0])?;
                let zf = Expr::reg(self.flag("ZF"));
                let sf = Expr::reg(self.flag("SF"));
                let not = |e| Expr::un(UnOp::LNot, e);
                let cond = match cc {
                    Cc::E => zf,
                    Cc::Ne => not(zf),
                    Cc::Gt | Cc::S => sf,
                    Cc::Le | Cc::Ns => not(sf),
                    Cc::Ge => Expr::bin(BinOp::LOr, zf, sf),
                    Cc::Lt => Expr::bin(BinOp::LOr, zf, not(sf)),
                };
                self.push(Inst::Branch {
                    cond: Some(cond),
                    target: l,
                });
            }
            Mn::Ret => {
                let r = match self.ret {
                    Some(r) => r,
                    None => {
                        let r = self.t.label("%ret");
                        self.ret = Some(r);
                        r
                    }
                };
                self.push(Inst::Branch {
                    cond: None,
                    target: r,
                });
            }
        }
        Ok(())
    }

    /// `d := d op s` (`s` `None`: INC/DEC, operand 1 and no `CF`).
    fn alu(
        &mut self,
        i: &Instr,
        op: Alu,
        d: &(Opnd, Pos),
        s: Option<&(Opnd, Pos)>,
        w: Width,
    ) -> Result<(), Diag> {
        let bop = match op {
            Alu::Add => BinOp::Add,
            Alu::Sub => BinOp::Sub,
            Alu::And => BinOp::And,
            Alu::Or => BinOp::Or,
            Alu::Xor => BinOp::Xor,
            Alu::Shl => BinOp::Shl,
        };
        let cf = s.is_some();
        let (dst, dpos) = d;
        match dst {
            Opnd::Reg(r) => {
                let a = self.reg_read(r);
                let b = match s {
                    Some((s, spos)) => self.rd(s, *spos, w)?,
                    None => Expr::int(1),
                };
                self.reg_write(r, Expr::bin(bop, a, b));
                let v = self.reg_read(r);
                self.result_flags(v, cf);
            }
            Opnd::Mem(m) if i.lock => {
                let rop = match op {
                    Alu::Add => RmwOp::Add,
                    Alu::Sub => RmwOp::Sub,
                    Alu::And => RmwOp::And,
                    Alu::Or => RmwOp::Or,
                    Alu::Xor => RmwOp::Xor,
                    Alu::Shl => {
                        return Err(Diag::new(
                            i.pos,
                            format!("illegal LOCK prefix on instruction '{}'", i.text),
                        ))
                    }
                };
                let b = match s {
                    Some((s, spos)) => self.rd(s, *spos, w)?,
                    None => Expr::int(1),
                };
                let a = self.addr(m);
                let old = self.flags.then(|| self.tmp());
                self.push(Inst::Rmw {
                    dst: old,
                    addr: a,
                    op: rop,
                    operand: b.clone(),
                    width: w,
                    read_tags: vec![],
                    write_tags: vec![],
                });
                if let Some(old) = old {
                    self.result_flags(Expr::bin(bop, Expr::reg(old), b), cf);
                }
            }
            Opnd::Mem(m) => {
                let a = self.addr(m);
                let old = self.tmp();
                self.load(Some(old), a.clone(), w);
                let b = match s {
                    Some((s, spos)) => self.rd(s, *spos, w)?,
                    None => Expr::int(1),
                };
                let v = Expr::bin(bop, Expr::reg(old), b);
                self.push(Inst::Store {
                    addr: a,
                    val: v.clone(),
                    width: w,
                    tags: vec![],
                });
                self.result_flags(v, cf);
            }
            Opnd::Imm(_) => return Err(Diag::new(*dpos, "cannot write to an immediate")),
            Opnd::Label(l) => {
                return Err(Diag::new(
                    *dpos,
                    format!("bad operand '{l}': not a register"),
                ))
            }
        }
        Ok(())
    }

    fn xchg(&mut self, i: &Instr, w: Width) -> Result<(), Diag> {
        let (a, apos) = &i.ops[0];
        let (b, bpos) = &i.ops[1];
        match (a, b) {
            (Opnd::Mem(m), Opnd::Reg(r)) | (Opnd::Reg(r), Opnd::Mem(m)) => {
                let v = self.reg_read(r);
                let addr = self.addr(m);
                // The old value goes straight into the register when that
                // is exact: X86 registers (then sign-extended in place),
                // X86_64 `rax`, and `eax` for a 4-byte swap (zero-extends).
                let direct =
                    matches!(r.part, Part::Full | Part::Q) || (r.part == Part::L && w == 4);
                let dst = if direct {
                    self.t.reg(&r.canon)
                } else {
                    self.tmp()
                };
                self.push(Inst::Rmw {
                    dst: Some(dst),
                    addr,
                    op: RmwOp::Swap,
                    operand: v,
                    width: w,
                    read_tags: vec![],
                    write_tags: vec![],
                });
                if !direct {
                    self.reg_write_old(r, dst, w);
                } else if r.part == Part::Full && w < 8 {
                    self.push(Inst::Assign {
                        dst,
                        expr: Expr::un(UnOp::SignExt(w * 8), Expr::reg(dst)),
                        width: 8,
                    });
                }
            }
            (Opnd::Reg(ra), Opnd::Reg(rb)) => {
                let t = self.tmp();
                let va = self.reg_read(ra);
                self.push(Inst::Assign {
                    dst: t,
                    expr: va,
                    width: 8,
                });
                let vb = self.reg_read(rb);
                self.reg_write(ra, vb);
                self.reg_write(rb, Expr::reg(t));
            }
            (Opnd::Mem(_), Opnd::Mem(_)) => {
                return Err(Diag::new(*bpos, "XCHG between two memory operands"))
            }
            (Opnd::Reg(_) | Opnd::Mem(_), _) => {
                return Err(Diag::new(*bpos, "XCHG needs a register or memory operand"))
            }
            _ => return Err(Diag::new(*apos, "XCHG needs a register or memory operand")),
        }
        Ok(())
    }

    fn xadd(&mut self, i: &Instr, w: Width) -> Result<(), Diag> {
        let ((d, dpos), (s, spos)) = self.dst_src(i);
        let Opnd::Reg(r) = s else {
            return Err(Diag::new(*spos, "XADD needs a register source"));
        };
        let v = self.reg_read(r);
        match d {
            Opnd::Mem(m) => {
                let addr = self.addr(m);
                let old = self.tmp();
                if i.lock {
                    self.push(Inst::Rmw {
                        dst: Some(old),
                        addr,
                        op: RmwOp::Add,
                        operand: v.clone(),
                        width: w,
                        read_tags: vec![],
                        write_tags: vec![],
                    });
                } else {
                    self.load(Some(old), addr.clone(), w);
                    self.push(Inst::Store {
                        addr,
                        val: Expr::bin(BinOp::Add, Expr::reg(old), v.clone()),
                        width: w,
                        tags: vec![],
                    });
                }
                self.result_flags(Expr::bin(BinOp::Add, Expr::reg(old), v), true);
                self.reg_write_old(r, old, w);
            }
            Opnd::Reg(dr) => {
                let old = self.tmp();
                let dv = self.reg_read(dr);
                self.push(Inst::Assign {
                    dst: old,
                    expr: dv,
                    width: 8,
                });
                self.reg_write(dr, Expr::bin(BinOp::Add, Expr::reg(old), v));
                let res = self.reg_read(dr);
                self.result_flags(res, true);
                self.reg_write(r, Expr::reg(old));
            }
            _ => {
                return Err(Diag::new(
                    *dpos,
                    "XADD needs a register or memory destination",
                ))
            }
        }
        Ok(())
    }

    fn cmpxchg(&mut self, i: &Instr, w: Width) -> Result<(), Diag> {
        // herd7's order is `CMPXCHG ea, reg` on both architectures; accept
        // the AT&T order `cmpxchg %reg, mem` too.
        let (e, r) = match (&i.ops[0].0, &i.ops[1].0) {
            (Opnd::Reg(_), Opnd::Mem(_)) => (&i.ops[1], &i.ops[0]),
            _ => (&i.ops[0], &i.ops[1]),
        };
        let (Opnd::Reg(r), _) = r else {
            return Err(Diag::new(r.1, "CMPXCHG needs a register source"));
        };
        let acc = self.accumulator(w);
        let zf = self.flag("ZF");
        match &e.0 {
            Opnd::Mem(m) => {
                let addr = self.addr(m);
                let expected = self.reg_read(&acc);
                let new = self.reg_read(r);
                let old = self.tmp();
                if i.lock {
                    let fail: Vec<Tag> = vec!["X"];
                    self.push(Inst::Cas {
                        dst: Some(old),
                        ok: Some(zf),
                        addr,
                        expected,
                        new,
                        width: w,
                        read_tags: vec![],
                        write_tags: vec![],
                        fail_tags: fail,
                        weak: false,
                    });
                } else {
                    self.load(Some(old), addr.clone(), w);
                    self.set_flag("ZF", Expr::bin(BinOp::Eq, Expr::reg(old), expected));
                    let skip = self.fresh_label();
                    self.push(Inst::Branch {
                        cond: Some(Expr::un(UnOp::LNot, Expr::reg(zf))),
                        target: skip,
                    });
                    self.push(Inst::Store {
                        addr,
                        val: new,
                        width: w,
                        tags: vec![],
                    });
                    self.push(Inst::Label(skip));
                }
                self.cmpxchg_acc(&acc, old, w);
            }
            Opnd::Reg(er) => {
                let old = self.tmp();
                let ev = self.reg_read(er);
                self.push(Inst::Assign {
                    dst: old,
                    expr: ev,
                    width: 8,
                });
                let expected = self.reg_read(&acc);
                self.set_flag("ZF", Expr::bin(BinOp::Eq, Expr::reg(old), expected));
                let new = self.reg_read(r);
                self.reg_write(
                    er,
                    Expr::Select(
                        Box::new(Expr::reg(zf)),
                        Box::new(new),
                        Box::new(Expr::reg(old)),
                    ),
                );
                self.cmpxchg_acc(&acc, old, w);
            }
            _ => {
                return Err(Diag::new(
                    e.1,
                    "CMPXCHG needs a register or memory destination",
                ))
            }
        }
        Ok(())
    }

    /// `acc := ZF ? acc : old` (the accumulator receives the old value on
    /// failure).
    fn cmpxchg_acc(&mut self, acc: &Reg, old: RegId, w: Width) {
        let zf = self.flag("ZF");
        let old_v = if acc.part == Part::Full && w < 8 {
            Expr::un(UnOp::SignExt(w * 8), Expr::reg(old))
        } else {
            Expr::reg(old)
        };
        let cur = self.reg_read(acc);
        self.reg_write(
            acc,
            Expr::Select(Box::new(Expr::reg(zf)), Box::new(cur), Box::new(old_v)),
        );
    }
}
