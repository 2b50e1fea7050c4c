//! AArch64 front end: herd7's AArch64 litmus syntax (GNU-like assembly,
//! one instruction per cell) lowered to IR.
//!
//! Registers `Xn`/`Wn` share the canonical name `Xn` (a `W` write
//! zero-extends, a `W` read sees the low 32 bits); `XZR`/`WZR` read as zero
//! and discard writes. `CMP`/`SUBS`/`ADDS` set hidden registers `%fa`/`%fb`
//! (the compared operands) that `B.cond`, `CSEL` and friends read, so
//! control and pick dependencies flow through them as through the NZCV
//! flags.
//!
//! Event tags, as herd7's AArch64 sets: `A` (LDAR/LDAXR/acquire atomics),
//! `Q` (LDAPR), `L` (STLR/STLXR/release atomics), `X` (exclusives; the
//! engine adds it to atomic read-modify-writes), `NoRet` (ST<op> atomics),
//! and fences `DMB.<opt>`, `DSB.<opt>`, `ISB`.

use crate::ir::{BinOp, Expr, Inst, Operand, RegId, RmwOp, Tag, Thread, UnOp, Value, Width};
use crate::litmus::{Diag, SrcLine};

/// Canonical register name: `W3`/`X3` → `X3`; `None` if not a register.
pub fn canonical_reg(name: &str) -> Option<String> {
    let u = name.to_ascii_uppercase();
    let (_, n) = parse_gpr(&u)?;
    n.map(|n| format!("X{n}"))
}

/// Parses `Xn`/`Wn`/`XZR`/`WZR`/`SP`: (width in bytes, register number or
/// `None` for the zero register).
fn parse_gpr(u: &str) -> Option<(Width, Option<u8>)> {
    match u {
        "XZR" => return Some((8, None)),
        "WZR" => return Some((4, None)),
        _ => {}
    }
    let (w, rest) = match u.as_bytes().first()? {
        b'X' => (8, &u[1..]),
        b'W' => (4, &u[1..]),
        _ => return None,
    };
    if rest.is_empty() || rest.len() > 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u8 = rest.parse().ok()?;
    (n <= 30).then_some((w, Some(n)))
}

/// Lowers one AArch64 thread.
pub fn lower_thread(_index: usize, name: &str, cells: &[SrcLine]) -> Result<Thread, Diag> {
    let mut l = Lowerer {
        t: Thread {
            name: name.to_string(),
            ..Default::default()
        },
        cmp_width: 8,
        defined_labels: Vec::new(),
        used_labels: Vec::new(),
    };
    for cell in cells {
        l.cell(cell)?;
    }
    for (lab, pos) in &l.used_labels {
        if !l.defined_labels.contains(lab) {
            return Err(Diag::new(*pos, format!("undefined label '{lab}'")));
        }
    }
    Ok(l.t)
}

struct Lowerer {
    t: Thread,
    cmp_width: Width,
    defined_labels: Vec<String>,
    used_labels: Vec<(String, crate::ir::Pos)>,
}

/// One operand token with its column offset in the cell.
struct Args<'a> {
    items: Vec<(&'a str, usize)>,
}

fn split_args(s: &str, base: usize) -> Args<'_> {
    // Split on commas outside brackets.
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                push_item(&mut items, s, start, i, base);
                start = i + 1;
            }
            _ => {}
        }
    }
    push_item(&mut items, s, start, s.len(), base);
    Args { items }
}

fn push_item<'a>(items: &mut Vec<(&'a str, usize)>, s: &'a str, a: usize, b: usize, base: usize) {
    let raw = &s[a..b];
    let lead = raw.len() - raw.trim_start().len();
    let t = raw.trim();
    if !t.is_empty() {
        items.push((t, base + a + lead));
    }
}

enum Addr {
    /// Base register plus offset expression.
    Simple(Expr),
}

impl Lowerer {
    fn err(&self, cell: &SrcLine, off: usize, msg: String) -> Diag {
        let mut p = cell.pos;
        p.col += off as u32;
        Diag::new(p, msg)
    }

    fn cell(&mut self, cell: &SrcLine) -> Result<(), Diag> {
        let mut text = cell.text.as_str();
        let mut off = 0;
        // Labels `L:` (possibly several) before an instruction.
        loop {
            let t = text.trim_start();
            off += text.len() - t.len();
            text = t;
            if let Some(i) = text.find(':') {
                let lab = &text[..i];
                if !lab.is_empty()
                    && lab
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    if self.defined_labels.iter().any(|l| l == lab) {
                        return Err(self.err(cell, off, format!("label '{lab}' defined twice")));
                    }
                    self.defined_labels.push(lab.to_string());
                    let id = self.t.label(lab);
                    self.t.push(Inst::Label(id), cell.pos);
                    text = &text[i + 1..];
                    off += i + 1;
                    continue;
                }
            }
            break;
        }
        let text = text.trim_end();
        if text.is_empty() {
            return Ok(());
        }
        let (mnem, rest, rest_off) = match text.find(char::is_whitespace) {
            Some(i) => {
                let r = &text[i..];
                let lead = r.len() - r.trim_start().len();
                (&text[..i], r.trim_start(), off + i + lead)
            }
            None => (text, "", off + text.len()),
        };
        let m = mnem.to_ascii_uppercase();
        let args = split_args(rest, rest_off);
        let mut p = cell.pos;
        p.col += off as u32;
        let insts = self.inst(cell, &m, &args, off, rest_off)?;
        for i in insts {
            self.t.push(i, p);
        }
        Ok(())
    }

    fn nargs(
        &self,
        cell: &SrcLine,
        m: &str,
        args: &Args,
        n: &[usize],
        at: usize,
    ) -> Result<(), Diag> {
        if !n.contains(&args.items.len()) {
            let want = n
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(self.err(
                cell,
                at,
                format!("{m} takes {want} operands, found {}", args.items.len()),
            ));
        }
        Ok(())
    }

    /// A register operand: (expr of its value as read, width, canonical id).
    fn reg_read(&mut self, cell: &SrcLine, (s, at): (&str, usize)) -> Result<(Expr, Width), Diag> {
        let u = s.to_ascii_uppercase();
        match parse_gpr(&u) {
            Some((w, None)) => Ok((Expr::int(0), w)),
            Some((w, Some(n))) => {
                let r = self.t.reg(&format!("X{n}"));
                let e = Expr::reg(r);
                Ok((
                    if w == 4 {
                        Expr::un(UnOp::ZeroExt(32), e)
                    } else {
                        e
                    },
                    w,
                ))
            }
            None => Err(self.err(cell, at, format!("bad register '{s}'"))),
        }
    }

    /// A destination register: (id or None for XZR, width).
    fn reg_write(
        &mut self,
        cell: &SrcLine,
        (s, at): (&str, usize),
    ) -> Result<(Option<RegId>, Width), Diag> {
        let u = s.to_ascii_uppercase();
        match parse_gpr(&u) {
            Some((w, None)) => Ok((None, w)),
            Some((w, Some(n))) => Ok((Some(self.t.reg(&format!("X{n}"))), w)),
            None => Err(self.err(cell, at, format!("bad register '{s}'"))),
        }
    }

    fn imm(&self, cell: &SrcLine, (s, at): (&str, usize)) -> Result<i64, Diag> {
        let b = s.strip_prefix('#').unwrap_or(s);
        let (neg, b) = match b.strip_prefix('-') {
            Some(x) => (true, x),
            None => (false, b),
        };
        let v = if let Some(h) = b.strip_prefix("0x").or_else(|| b.strip_prefix("0X")) {
            u64::from_str_radix(h, 16).ok().map(|v| v as i64)
        } else {
            b.parse::<i64>().ok()
        };
        match v {
            Some(v) => Ok(if neg { -v } else { v }),
            None => Err(self.err(cell, at, format!("bad immediate '{s}'"))),
        }
    }

    /// A second operand: register (with optional shift/extend in the
    /// following args) or immediate.
    fn operand(&mut self, cell: &SrcLine, args: &[(&str, usize)]) -> Result<Expr, Diag> {
        let (s, at) = args[0];
        let mut e = if s.starts_with('#')
            || s.starts_with('-')
            || s.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            Expr::int(self.imm(cell, (s, at))?)
        } else {
            self.reg_read(cell, (s, at))?.0
        };
        if let Some(&(m, mat)) = args.get(1) {
            e = self.modifier(cell, e, (m, mat))?;
        }
        if args.len() > 2 {
            return Err(self.err(cell, args[2].1, "too many operands".into()));
        }
        Ok(e)
    }

    /// Applies `LSL #n`, `LSR #n`, `ASR #n`, `SXTW`, `UXTW [#n]` to `e`.
    fn modifier(&self, cell: &SrcLine, e: Expr, (m, at): (&str, usize)) -> Result<Expr, Diag> {
        let mut parts = m.split_whitespace();
        let kind = parts.next().unwrap_or("").to_ascii_uppercase();
        let amount = match parts.next() {
            Some(a) => self.imm(cell, (a, at + kind.len() + 1))?,
            None => 0,
        };
        let shl = |e: Expr| {
            if amount == 0 {
                e
            } else {
                Expr::bin(BinOp::Shl, e, Expr::int(amount))
            }
        };
        Ok(match kind.as_str() {
            "LSL" => shl(e),
            "LSR" => Expr::bin(BinOp::Lsr, e, Expr::int(amount)),
            "ASR" => Expr::bin(BinOp::Asr, e, Expr::int(amount)),
            "SXTW" => shl(Expr::un(UnOp::SignExt(32), e)),
            "UXTW" => shl(Expr::un(UnOp::ZeroExt(32), e)),
            "SXTX" | "UXTX" => shl(e),
            _ => return Err(self.err(cell, at, format!("unknown operand modifier '{m}'"))),
        })
    }

    /// A memory operand `[Xn]`, `[Xn,#imm]`, `[Xn,Xm]`, `[Xn,Wm,SXTW]`,
    /// `[Xn,Xm,LSL #k]`.
    fn mem(&mut self, cell: &SrcLine, (s, at): (&str, usize)) -> Result<Addr, Diag> {
        let inner = s
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .ok_or_else(|| {
                if s.ends_with("]!") {
                    self.err(
                        cell,
                        at,
                        format!("pre-indexed addressing '{s}' is not supported"),
                    )
                } else {
                    self.err(
                        cell,
                        at,
                        format!("expected a memory operand '[Xn...]', found '{s}'"),
                    )
                }
            })?;
        let parts = split_args(inner, at + 1);
        if parts.items.is_empty() {
            return Err(self.err(cell, at, "empty memory operand".into()));
        }
        let (b, bat) = parts.items[0];
        let bu = b.to_ascii_uppercase();
        let base = match parse_gpr(&bu) {
            Some((8, Some(n))) => Expr::reg(self.t.reg(&format!("X{n}"))),
            _ if bu == "SP" => {
                return Err(self.err(cell, bat, "SP as a base register is not supported".into()))
            }
            _ => return Err(self.err(cell, bat, format!("bad base register '{b}' (expected Xn)"))),
        };
        if parts.items.len() == 1 {
            return Ok(Addr::Simple(base));
        }
        let off = self.operand(cell, &parts.items[1..])?;
        Ok(Addr::Simple(Expr::bin(BinOp::Add, base, off)))
    }

    fn addr_expr(a: Addr) -> Expr {
        match a {
            Addr::Simple(e) => e,
        }
    }

    fn target(&mut self, cell: &SrcLine, (s, at): (&str, usize)) -> Result<u16, Diag> {
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(self.err(cell, at, format!("bad label '{s}'")));
        }
        let mut p = cell.pos;
        p.col += at as u32;
        self.used_labels.push((s.to_string(), p));
        Ok(self.t.label(s))
    }

    /// The condition of `B.cond`/`CSEL` over the hidden compare registers.
    fn cond(&mut self, cell: &SrcLine, c: &str, at: usize) -> Result<Expr, Diag> {
        let fa = Expr::reg(self.t.reg("%fa"));
        let fb = Expr::reg(self.t.reg("%fb"));
        let sx = |e: Expr, w: Width| {
            if w == 4 {
                Expr::un(UnOp::SignExt(32), e)
            } else {
                e
            }
        };
        let w = self.cmp_width;
        let (op, signed) = match c.to_ascii_uppercase().as_str() {
            "EQ" => (BinOp::Eq, false),
            "NE" => (BinOp::Ne, false),
            "LT" => (BinOp::Lt, true),
            "LE" => (BinOp::Le, true),
            "GT" => (BinOp::Gt, true),
            "GE" => (BinOp::Ge, true),
            "LO" | "CC" => (BinOp::Ltu, false),
            "LS" => (BinOp::Leu, false),
            "HI" => (BinOp::Gtu, false),
            "HS" | "CS" => (BinOp::Geu, false),
            "AL" => return Ok(Expr::int(1)),
            other => return Err(self.err(cell, at, format!("unknown condition code '{other}'"))),
        };
        Ok(if signed {
            Expr::bin(op, sx(fa, w), sx(fb, w))
        } else {
            Expr::bin(op, fa, fb)
        })
    }

    fn set_flags(&mut self, a: Expr, b: Expr, w: Width) -> Vec<Inst> {
        self.cmp_width = w;
        let fa = self.t.reg("%fa");
        let fb = self.t.reg("%fb");
        vec![
            Inst::Assign {
                dst: fa,
                expr: a,
                width: w,
            },
            Inst::Assign {
                dst: fb,
                expr: b,
                width: w,
            },
        ]
    }

    fn inst(
        &mut self,
        cell: &SrcLine,
        m: &str,
        args: &Args,
        m_at: usize,
        a_at: usize,
    ) -> Result<Vec<Inst>, Diag> {
        let a = &args.items;
        let assign = |dst: Option<RegId>, expr: Expr, width: Width| -> Vec<Inst> {
            match dst {
                Some(dst) => vec![Inst::Assign { dst, expr, width }],
                None => vec![],
            }
        };
        // Barriers.
        match m {
            "DMB" | "DSB" => {
                self.nargs(cell, m, args, &[1], a_at)?;
                let opt = a[0].0.to_ascii_uppercase();
                let tag = fence_tag(m, &opt).ok_or_else(|| {
                    self.err(cell, a[0].1, format!("unknown {m} option '{}'", a[0].0))
                })?;
                return Ok(vec![Inst::Fence { tags: vec![tag] }]);
            }
            "ISB" => {
                self.nargs(cell, m, args, &[0], a_at)?;
                return Ok(vec![Inst::Fence { tags: vec!["ISB"] }]);
            }
            "NOP" => return Ok(vec![]),
            _ => {}
        }
        // Branches.
        if m == "B" {
            self.nargs(cell, m, args, &[1], a_at)?;
            let target = self.target(cell, a[0])?;
            return Ok(vec![Inst::Branch { cond: None, target }]);
        }
        if let Some(c) = m.strip_prefix("B.") {
            self.nargs(cell, m, args, &[1], a_at)?;
            let cond = self.cond(cell, c, m_at + 2)?;
            let target = self.target(cell, a[0])?;
            return Ok(vec![Inst::Branch {
                cond: Some(cond),
                target,
            }]);
        }
        if m == "CBZ" || m == "CBNZ" {
            self.nargs(cell, m, args, &[2], a_at)?;
            let (r, _) = self.reg_read(cell, a[0])?;
            let target = self.target(cell, a[1])?;
            let op = if m == "CBZ" { BinOp::Eq } else { BinOp::Ne };
            return Ok(vec![Inst::Branch {
                cond: Some(Expr::bin(op, r, Expr::int(0))),
                target,
            }]);
        }
        if m == "TBZ" || m == "TBNZ" {
            self.nargs(cell, m, args, &[3], a_at)?;
            let (r, _) = self.reg_read(cell, a[0])?;
            let bit = self.imm(cell, a[1])?;
            let target = self.target(cell, a[2])?;
            let b = Expr::bin(
                BinOp::And,
                Expr::bin(BinOp::Lsr, r, Expr::int(bit)),
                Expr::int(1),
            );
            let op = if m == "TBZ" { BinOp::Eq } else { BinOp::Ne };
            return Ok(vec![Inst::Branch {
                cond: Some(Expr::bin(op, b, Expr::int(0))),
                target,
            }]);
        }
        // Moves and arithmetic.
        match m {
            "MOV" | "MOVZ" => {
                self.nargs(cell, m, args, &[2], a_at)?;
                let (d, w) = self.reg_write(cell, a[0])?;
                let src = self.operand(cell, &a[1..])?;
                return Ok(assign(d, src, w));
            }
            "MVN" | "NEG" => {
                self.nargs(cell, m, args, &[2], a_at)?;
                let (d, w) = self.reg_write(cell, a[0])?;
                let src = self.operand(cell, &a[1..])?;
                let op = if m == "MVN" { UnOp::Not } else { UnOp::Neg };
                return Ok(assign(d, Expr::un(op, src), w));
            }
            "SXTW" | "UXTW" | "SXTB" | "SXTH" | "UXTB" | "UXTH" => {
                self.nargs(cell, m, args, &[2], a_at)?;
                let (d, w) = self.reg_write(cell, a[0])?;
                let (src, _) = self.reg_read(cell, a[1])?;
                let op = match m {
                    "SXTW" => UnOp::SignExt(32),
                    "UXTW" => UnOp::ZeroExt(32),
                    "SXTB" => UnOp::SignExt(8),
                    "UXTB" => UnOp::ZeroExt(8),
                    "SXTH" => UnOp::SignExt(16),
                    _ => UnOp::ZeroExt(16),
                };
                return Ok(assign(d, Expr::un(op, src), w));
            }
            "ADD" | "SUB" | "EOR" | "AND" | "ORR" | "BIC" | "ORN" | "EON" | "MUL" | "LSL"
            | "LSR" | "ASR" | "ADDS" | "SUBS" | "ANDS" => {
                self.nargs(cell, m, args, &[3, 4], a_at)?;
                let (d, w) = self.reg_write(cell, a[0])?;
                let (x, _) = self.reg_read(cell, a[1])?;
                let y = self.operand(cell, &a[2..])?;
                let op = match m {
                    "ADD" | "ADDS" => BinOp::Add,
                    "SUB" | "SUBS" => BinOp::Sub,
                    "EOR" => BinOp::Xor,
                    "AND" | "ANDS" => BinOp::And,
                    "ORR" => BinOp::Or,
                    "BIC" => BinOp::Bic,
                    "MUL" => BinOp::Mul,
                    "LSL" => BinOp::Shl,
                    "LSR" => BinOp::Lsr,
                    "ASR" => BinOp::Asr,
                    "ORN" => {
                        let e = Expr::bin(BinOp::Or, x, Expr::un(UnOp::Not, y));
                        return Ok(assign(d, e, w));
                    }
                    _ => {
                        // EON
                        let e = Expr::bin(BinOp::Xor, x, Expr::un(UnOp::Not, y));
                        return Ok(assign(d, e, w));
                    }
                };
                let mut out = Vec::new();
                if m == "SUBS" {
                    out.extend(self.set_flags(x.clone(), y.clone(), w));
                } else if m == "ADDS" || m == "ANDS" {
                    let r = Expr::bin(op, x.clone(), y.clone());
                    out.extend(self.set_flags(r, Expr::int(0), w));
                }
                out.extend(assign(d, Expr::bin(op, x, y), w));
                return Ok(out);
            }
            "CMP" | "CMN" | "TST" => {
                self.nargs(cell, m, args, &[2, 3], a_at)?;
                let (x, w) = self.reg_read(cell, a[0])?;
                let y = self.operand(cell, &a[1..])?;
                return Ok(match m {
                    "CMP" => self.set_flags(x, y, w),
                    "CMN" => self.set_flags(x, Expr::un(UnOp::Neg, y), w),
                    _ => self.set_flags(Expr::bin(BinOp::And, x, y), Expr::int(0), w),
                });
            }
            "CSEL" | "CSINC" | "CSINV" | "CSNEG" => {
                self.nargs(cell, m, args, &[4], a_at)?;
                let (d, w) = self.reg_write(cell, a[0])?;
                let (x, _) = self.reg_read(cell, a[1])?;
                let (y, _) = self.reg_read(cell, a[2])?;
                let c = self.cond(cell, a[3].0, a[3].1)?;
                let y = match m {
                    "CSINC" => Expr::bin(BinOp::Add, y, Expr::int(1)),
                    "CSINV" => Expr::un(UnOp::Not, y),
                    "CSNEG" => Expr::un(UnOp::Neg, y),
                    _ => y,
                };
                return Ok(assign(
                    d,
                    Expr::Select(Box::new(c), Box::new(x), Box::new(y)),
                    w,
                ));
            }
            "CSET" => {
                self.nargs(cell, m, args, &[2], a_at)?;
                let (d, w) = self.reg_write(cell, a[0])?;
                let c = self.cond(cell, a[1].0, a[1].1)?;
                return Ok(assign(
                    d,
                    Expr::Select(Box::new(c), Box::new(Expr::int(1)), Box::new(Expr::int(0))),
                    w,
                ));
            }
            _ => {}
        }
        // Memory accesses.
        if let Some(acc) = classify_access(m) {
            return self.access(cell, m, args, a_at, acc);
        }
        Err(self.err(cell, m_at, format!("unknown AArch64 instruction '{m}'")))
    }

    fn access(
        &mut self,
        cell: &SrcLine,
        m: &str,
        args: &Args,
        a_at: usize,
        acc: Access,
    ) -> Result<Vec<Inst>, Diag> {
        let a = &args.items;
        let width_of = |w: Width| acc.size.unwrap_or(w);
        match acc.kind {
            AccKind::Load { signed } => {
                self.nargs(cell, m, args, &[2, 3], a_at)?;
                if a.len() == 3 {
                    return Err(self.err(
                        cell,
                        a[2].1,
                        "post-indexed addressing is not supported".into(),
                    ));
                }
                let (d, w) = self.reg_write(cell, a[0])?;
                let addr = Self::addr_expr(self.mem(cell, a[1])?);
                let width = width_of(w);
                let mut out = vec![Inst::Load {
                    dst: d,
                    addr,
                    width,
                    signed,
                    tags: acc.tags.clone(),
                }];
                if signed && w == 4 {
                    // LDRSB Wd: sign-extend to 32 bits then zero-extend to 64.
                    if let Some(d) = d {
                        out.push(Inst::Assign {
                            dst: d,
                            expr: Expr::reg(d),
                            width: 4,
                        });
                    }
                }
                Ok(out)
            }
            AccKind::LoadPair => {
                self.nargs(cell, m, args, &[3], a_at)?;
                let (d1, w) = self.reg_write(cell, a[0])?;
                let (d2, _) = self.reg_write(cell, a[1])?;
                let base = Self::addr_expr(self.mem(cell, a[2])?);
                let second = Expr::bin(BinOp::Add, base.clone(), Expr::int(w as i64));
                Ok(vec![
                    Inst::Load {
                        dst: d1,
                        addr: base,
                        width: w,
                        signed: false,
                        tags: acc.tags.clone(),
                    },
                    Inst::Load {
                        dst: d2,
                        addr: second,
                        width: w,
                        signed: false,
                        tags: acc.tags.clone(),
                    },
                ])
            }
            AccKind::Store => {
                self.nargs(cell, m, args, &[2, 3], a_at)?;
                if a.len() == 3 {
                    return Err(self.err(
                        cell,
                        a[2].1,
                        "post-indexed addressing is not supported".into(),
                    ));
                }
                let (v, w) = self.reg_read(cell, a[0])?;
                let addr = Self::addr_expr(self.mem(cell, a[1])?);
                Ok(vec![Inst::Store {
                    addr,
                    val: v,
                    width: width_of(w),
                    tags: acc.tags.clone(),
                }])
            }
            AccKind::StorePair => {
                self.nargs(cell, m, args, &[3], a_at)?;
                let (v1, w) = self.reg_read(cell, a[0])?;
                let (v2, _) = self.reg_read(cell, a[1])?;
                let base = Self::addr_expr(self.mem(cell, a[2])?);
                let second = Expr::bin(BinOp::Add, base.clone(), Expr::int(w as i64));
                Ok(vec![
                    Inst::Store {
                        addr: base,
                        val: v1,
                        width: w,
                        tags: acc.tags.clone(),
                    },
                    Inst::Store {
                        addr: second,
                        val: v2,
                        width: w,
                        tags: acc.tags.clone(),
                    },
                ])
            }
            AccKind::StoreExcl => {
                self.nargs(cell, m, args, &[3], a_at)?;
                let (s, _) = self.reg_write(cell, a[0])?;
                let (v, w) = self.reg_read(cell, a[1])?;
                let addr = Self::addr_expr(self.mem(cell, a[2])?);
                let status = match s {
                    Some(s) => s,
                    None => self.t.reg("%xzr"),
                };
                Ok(vec![Inst::StoreExclusive {
                    status,
                    addr,
                    val: v,
                    width: width_of(w),
                    tags: acc.tags.clone(),
                }])
            }
            AccKind::Rmw { op, ret } => {
                let (operand, w, dst, addr) = if ret {
                    self.nargs(cell, m, args, &[3], a_at)?;
                    let (v, w) = self.reg_read(cell, a[0])?;
                    let (d, _) = self.reg_write(cell, a[1])?;
                    (v, w, d, Self::addr_expr(self.mem(cell, a[2])?))
                } else {
                    self.nargs(cell, m, args, &[2], a_at)?;
                    let (v, w) = self.reg_read(cell, a[0])?;
                    (v, w, None, Self::addr_expr(self.mem(cell, a[1])?))
                };
                let mut read_tags = acc.tags.clone();
                let write_tags = acc.wtags.clone();
                if !ret || (dst.is_none() && op != RmwOp::Swap) {
                    read_tags.push("NoRet");
                }
                Ok(vec![Inst::Rmw {
                    dst,
                    addr,
                    op,
                    operand,
                    width: width_of(w),
                    read_tags,
                    write_tags,
                }])
            }
            AccKind::Cas => {
                self.nargs(cell, m, args, &[3], a_at)?;
                let (dst, w) = self.reg_write(cell, a[0])?;
                let (expected, _) = self.reg_read(cell, a[0])?;
                let (new, _) = self.reg_read(cell, a[1])?;
                let addr = Self::addr_expr(self.mem(cell, a[2])?);
                Ok(vec![Inst::Cas {
                    dst,
                    ok: None,
                    addr,
                    expected,
                    new,
                    width: width_of(w),
                    read_tags: acc.tags.clone(),
                    write_tags: acc.wtags.clone(),
                    fail_tags: acc.tags.clone(),
                    weak: false,
                }])
            }
        }
    }
}

fn fence_tag(kind: &str, opt: &str) -> Option<Tag> {
    const DMB: &[(&str, Tag)] = &[
        ("SY", "DMB.SY"),
        ("ST", "DMB.ST"),
        ("LD", "DMB.LD"),
        ("ISH", "DMB.ISH"),
        ("ISHST", "DMB.ISHST"),
        ("ISHLD", "DMB.ISHLD"),
        ("OSH", "DMB.OSH"),
        ("OSHST", "DMB.OSHST"),
        ("OSHLD", "DMB.OSHLD"),
        ("NSH", "DMB.NSH"),
        ("NSHST", "DMB.NSHST"),
        ("NSHLD", "DMB.NSHLD"),
    ];
    const DSB: &[(&str, Tag)] = &[
        ("SY", "DSB.SY"),
        ("ST", "DSB.ST"),
        ("LD", "DSB.LD"),
        ("ISH", "DSB.ISH"),
        ("ISHST", "DSB.ISHST"),
        ("ISHLD", "DSB.ISHLD"),
        ("OSH", "DSB.OSH"),
        ("OSHST", "DSB.OSHST"),
        ("OSHLD", "DSB.OSHLD"),
        ("NSH", "DSB.NSH"),
        ("NSHST", "DSB.NSHST"),
        ("NSHLD", "DSB.NSHLD"),
    ];
    let table = if kind == "DMB" { DMB } else { DSB };
    table.iter().find(|(o, _)| *o == opt).map(|(_, t)| *t)
}

#[derive(Clone)]
enum AccKind {
    Load { signed: bool },
    LoadPair,
    Store,
    StorePair,
    StoreExcl,
    Rmw { op: RmwOp, ret: bool },
    Cas,
}

#[derive(Clone)]
struct Access {
    kind: AccKind,
    /// Fixed size from the mnemonic's B/H/SW suffix.
    size: Option<Width>,
    /// Tags of the (read) event.
    tags: Vec<Tag>,
    /// Tags of the write event of an RMW.
    wtags: Vec<Tag>,
}

/// Decodes a memory-access mnemonic into its kind, size and tags.
fn classify_access(m: &str) -> Option<Access> {
    let acc = |kind, size, tags: Vec<Tag>| {
        Some(Access {
            kind,
            size,
            tags,
            wtags: vec![],
        })
    };
    // Size suffixes.
    let strip_size = |s: &str| -> (String, Option<Width>) {
        if let Some(b) = s.strip_suffix('B') {
            (b.to_string(), Some(1))
        } else if let Some(b) = s.strip_suffix('H') {
            (b.to_string(), Some(2))
        } else {
            (s.to_string(), None)
        }
    };
    match m {
        "LDR" | "LDUR" => return acc(AccKind::Load { signed: false }, None, vec![]),
        "LDRB" | "LDURB" => return acc(AccKind::Load { signed: false }, Some(1), vec![]),
        "LDRH" | "LDURH" => return acc(AccKind::Load { signed: false }, Some(2), vec![]),
        "LDRSB" => return acc(AccKind::Load { signed: true }, Some(1), vec![]),
        "LDRSH" => return acc(AccKind::Load { signed: true }, Some(2), vec![]),
        "LDRSW" => return acc(AccKind::Load { signed: true }, Some(4), vec![]),
        "STR" | "STUR" => return acc(AccKind::Store, None, vec![]),
        "STRB" | "STURB" => return acc(AccKind::Store, Some(1), vec![]),
        "STRH" | "STURH" => return acc(AccKind::Store, Some(2), vec![]),
        "LDP" => return acc(AccKind::LoadPair, None, vec![]),
        "STP" => return acc(AccKind::StorePair, None, vec![]),
        _ => {}
    }
    let (base, size) = strip_size(m);
    match base.as_str() {
        "LDAR" => return acc(AccKind::Load { signed: false }, size, vec!["A"]),
        "LDAPR" | "LDAPUR" => return acc(AccKind::Load { signed: false }, size, vec!["Q"]),
        "STLR" | "STLUR" => return acc(AccKind::Store, size, vec!["L"]),
        "LDXR" => return acc(AccKind::Load { signed: false }, size, vec!["X"]),
        "LDAXR" => return acc(AccKind::Load { signed: false }, size, vec!["X", "A"]),
        "STXR" => return acc(AccKind::StoreExcl, size, vec!["X"]),
        "STLXR" => return acc(AccKind::StoreExcl, size, vec!["X", "L"]),
        _ => {}
    }
    // CAS{A,L,AL}{B,H}
    if let Some(ord) = base.strip_prefix("CAS") {
        let (r, w) = ordering(ord)?;
        return Some(Access {
            kind: AccKind::Cas,
            size,
            tags: r,
            wtags: w,
        });
    }
    if let Some(ord) = base.strip_prefix("SWP") {
        let (r, w) = ordering(ord)?;
        return Some(Access {
            kind: AccKind::Rmw {
                op: RmwOp::Swap,
                ret: true,
            },
            size,
            tags: r,
            wtags: w,
        });
    }
    const OPS: &[(&str, RmwOp)] = &[
        ("ADD", RmwOp::Add),
        ("CLR", RmwOp::Clr),
        ("EOR", RmwOp::Xor),
        ("SET", RmwOp::Or),
        ("SMAX", RmwOp::Smax),
        ("SMIN", RmwOp::Smin),
        ("UMAX", RmwOp::Umax),
        ("UMIN", RmwOp::Umin),
    ];
    for (ret, prefix) in [(true, "LD"), (false, "ST")] {
        if let Some(rest) = base.strip_prefix(prefix) {
            for (name, op) in OPS {
                if let Some(ord) = rest.strip_prefix(name) {
                    let (r, w) = ordering(ord)?;
                    if !ret && !r.is_empty() {
                        return None; // ST<op>A does not exist
                    }
                    return Some(Access {
                        kind: AccKind::Rmw { op: *op, ret },
                        size,
                        tags: r,
                        wtags: w,
                    });
                }
            }
        }
    }
    None
}

/// Ordering suffix of atomics: `""`, `A`, `L`, `AL` → (read tags, write tags).
fn ordering(s: &str) -> Option<(Vec<Tag>, Vec<Tag>)> {
    match s {
        "" => Some((vec![], vec![])),
        "A" => Some((vec!["A"], vec![])),
        "L" => Some((vec![], vec!["L"])),
        "AL" => Some((vec!["A"], vec!["L"])),
        _ => None,
    }
}

/// Makes an address constant operand (used by tests).
#[allow(dead_code)]
fn addr_const(s: &str) -> Operand {
    Operand::Const(Value::Addr(s.to_string(), 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Pos;

    fn lower(lines: &[&str]) -> Result<Thread, Diag> {
        let cells: Vec<SrcLine> = lines
            .iter()
            .enumerate()
            .map(|(i, t)| SrcLine {
                text: t.to_string(),
                pos: Pos {
                    line: i as u32 + 1,
                    col: 2,
                },
            })
            .collect();
        lower_thread(0, "P0", &cells)
    }

    #[test]
    fn loads_stores_and_fences() {
        let t = lower(&[
            "MOV W0,#1",
            "STR W0,[X1]",
            "DMB ISHST",
            "LDAR X2,[X3,W4,SXTW]",
        ])
        .unwrap();
        assert_eq!(t.regs, vec!["X0", "X1", "X2", "X3", "X4"]);
        assert_eq!(
            t.code[0],
            Inst::Assign {
                dst: 0,
                expr: Expr::int(1),
                width: 4
            }
        );
        assert_eq!(
            t.code[1],
            Inst::Store {
                addr: Expr::reg(1),
                val: Expr::un(UnOp::ZeroExt(32), Expr::reg(0)),
                width: 4,
                tags: vec![]
            }
        );
        assert_eq!(
            t.code[2],
            Inst::Fence {
                tags: vec!["DMB.ISHST"]
            }
        );
        match &t.code[3] {
            Inst::Load {
                dst: Some(2),
                width: 8,
                tags,
                ..
            } => assert_eq!(tags, &vec!["A"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn atomics_and_branches() {
        let t = lower(&[
            "LDADDAL W0,W1,[X2]",
            "STADDL W0,[X2]",
            "CASA X0,X1,[X2]",
            "CBNZ W1,L0",
            "L0:",
            "ISB",
        ])
        .unwrap();
        match &t.code[0] {
            Inst::Rmw {
                op: RmwOp::Add,
                read_tags,
                write_tags,
                ..
            } => {
                assert_eq!(read_tags, &vec!["A"]);
                assert_eq!(write_tags, &vec!["L"]);
            }
            o => panic!("{o:?}"),
        }
        match &t.code[1] {
            Inst::Rmw {
                dst: None,
                read_tags,
                write_tags,
                ..
            } => {
                assert_eq!(read_tags, &vec!["NoRet"]);
                assert_eq!(write_tags, &vec!["L"]);
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(t.code[2], Inst::Cas { .. }));
        assert!(matches!(
            t.code[3],
            Inst::Branch {
                cond: Some(_),
                target: 0
            }
        ));
        assert_eq!(t.code[4], Inst::Label(0));
        assert_eq!(t.code[5], Inst::Fence { tags: vec!["ISB"] });
    }

    #[test]
    fn errors_name_the_problem_and_column() {
        let e = lower(&["MOV W0,#1", "FROB X1"]).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 2));
        assert!(
            e.msg.contains("unknown AArch64 instruction 'FROB'"),
            "{}",
            e.msg
        );
        let e = lower(&["LDR W0,[W1]"]).unwrap_err();
        assert!(e.msg.contains("bad base register"), "{}", e.msg);
        assert_eq!(e.pos.col, 2 + 8);
        let e = lower(&["B nowhere"]).unwrap_err();
        assert!(e.msg.contains("undefined label 'nowhere'"));
        assert!(lower(&["DMB FOO"])
            .unwrap_err()
            .msg
            .contains("unknown DMB option"));
        assert!(lower(&["MOV X0"])
            .unwrap_err()
            .msg
            .contains("takes 2 operands"));
        assert!(lower(&["MOV X99,#1"])
            .unwrap_err()
            .msg
            .contains("bad register"));
    }
}
