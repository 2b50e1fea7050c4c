//! Tokens, registers, operands and mnemonics of herd7's X86 (Intel order:
//! `MOV [x],$1`) and X86_64 (AT&T order: `movl $1,(x)`) litmus syntax.

use crate::litmus::Arch;

/// A token of an instruction cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum T {
    /// A name: mnemonic, register, label or symbol.
    Ident(String),
    /// An integer (`1`, `-1`, `0x10`).
    Num(i64),
    /// An immediate with `$`.
    Imm(i64),
    /// `%name` (AT&T register).
    Pct(String),
    /// Punctuation: `,` `[` `]` `(` `)` `:`.
    P(char),
}

/// A token and its character offset in the cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Tk {
    pub(super) t: T,
    pub(super) off: usize,
}

/// Splits a cell into tokens; `Err((offset, message))` on a bad character
/// or number.
pub(super) fn tokens(text: &str) -> Result<Vec<Tk>, (usize, String)> {
    let cs: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let name_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == '.';
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-');
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '(' && cs.get(i + 1) == Some(&'*') {
            let start = i;
            i += 2;
            loop {
                if i + 1 >= cs.len() {
                    return Err((start, "unterminated comment '(*'".into()));
                }
                if cs[i] == '*' && cs[i + 1] == ')' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == '$' || c == '-' || c.is_ascii_digit() {
            let dollar = c == '$';
            if dollar {
                i += 1;
            }
            let neg = cs.get(i) == Some(&'-');
            if neg {
                i += 1;
            }
            let ds = i;
            while i < cs.len() && cs[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let digits: String = cs[ds..i].iter().collect();
            let v = parse_num(&digits).ok_or_else(|| {
                let shown: String = cs[start..i.max(start + 1).min(cs.len())].iter().collect();
                (start, format!("bad number '{shown}'"))
            })?;
            let v = if neg { v.wrapping_neg() } else { v };
            out.push(Tk {
                t: if dollar { T::Imm(v) } else { T::Num(v) },
                off: start,
            });
            continue;
        }
        if c == '%' {
            i += 1;
            while i < cs.len() && name_char(cs[i]) {
                i += 1;
            }
            out.push(Tk {
                t: T::Pct(cs[start + 1..i].iter().collect()),
                off: start,
            });
            continue;
        }
        if name_start(c) {
            while i < cs.len() && name_char(cs[i]) {
                i += 1;
            }
            out.push(Tk {
                t: T::Ident(cs[start..i].iter().collect()),
                off: start,
            });
            continue;
        }
        if matches!(c, ',' | '[' | ']' | '(' | ')' | ':') {
            out.push(Tk {
                t: T::P(c),
                off: start,
            });
            i += 1;
            continue;
        }
        return Err((
            start,
            format!("unexpected character '{}'", c.escape_default()),
        ));
    }
    Ok(out)
}

/// Decimal or `0x` hexadecimal digits (no sign); `None` if malformed.
fn parse_num(d: &str) -> Option<i64> {
    let (digits, radix) = match d.strip_prefix("0x").or(d.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (d, 10),
    };
    if digits.is_empty() {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()?;
    // Allow full 64-bit hexadecimal patterns (two's complement).
    if radix == 16 {
        Some(v as i64)
    } else {
        i64::try_from(v).ok()
    }
}

/// Which bits of a canonical register an operand names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// An X86 (32-bit) register or flag: the whole register, untruncated
    /// (herd7's X86 values are machine words).
    Full,
    /// 64 bits (`rax`).
    Q,
    /// Low 32 bits (`eax`): writes zero-extend.
    L,
    /// Low 16 bits (`ax`): writes merge.
    W,
    /// Low 8 bits (`al`): writes merge.
    B,
    /// Bits 8..16 (`ah`): writes merge.
    H,
}

impl Part {
    /// Width in bytes of an access of this size.
    pub(super) fn width(self) -> u8 {
        match self {
            Part::Full | Part::L => 4,
            Part::Q => 8,
            Part::W => 2,
            Part::B | Part::H => 1,
        }
    }
}

/// A register operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Reg {
    /// Canonical name (`EAX`, `RAX`, `R8`, `ZF`).
    pub(super) canon: String,
    pub(super) part: Part,
}

impl Reg {
    /// A flag register (`ZF`, `SF`, `CF`).
    pub(super) fn is_flag(&self) -> bool {
        matches!(self.canon.as_str(), "ZF" | "SF" | "CF")
    }
}

const X86_REGS: [&str; 8] = ["EAX", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP", "ESP"];
const FLAGS: [&str; 3] = ["ZF", "SF", "CF"];

/// The X86_64 register `name` (any case): canonical 64-bit name and part.
fn x86_64_reg(name: &str) -> Option<Reg> {
    let l = name.to_ascii_lowercase();
    let mk = |canon: &str, part| {
        Some(Reg {
            canon: canon.to_string(),
            part,
        })
    };
    const LEGACY: [(&str, &str); 8] = [
        ("ax", "RAX"),
        ("bx", "RBX"),
        ("cx", "RCX"),
        ("dx", "RDX"),
        ("si", "RSI"),
        ("di", "RDI"),
        ("bp", "RBP"),
        ("sp", "RSP"),
    ];
    for (b, canon) in LEGACY {
        if l == format!("r{b}") {
            return mk(canon, Part::Q);
        }
        if l == format!("e{b}") {
            return mk(canon, Part::L);
        }
        if l == b {
            return mk(canon, Part::W);
        }
    }
    match l.as_str() {
        "al" => return mk("RAX", Part::B),
        "bl" => return mk("RBX", Part::B),
        "cl" => return mk("RCX", Part::B),
        "dl" => return mk("RDX", Part::B),
        "sil" => return mk("RSI", Part::B),
        "dil" => return mk("RDI", Part::B),
        "bpl" => return mk("RBP", Part::B),
        "spl" => return mk("RSP", Part::B),
        "ah" => return mk("RAX", Part::H),
        "bh" => return mk("RBX", Part::H),
        "ch" => return mk("RCX", Part::H),
        "dh" => return mk("RDX", Part::H),
        "rip" => return mk("RIP", Part::Q),
        "cs" => return mk("CS", Part::Q),
        _ => {}
    }
    let rest = l.strip_prefix('r')?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (num, suffix) = rest.split_at(digits_end);
    let n: u8 = num.parse().ok()?;
    if !(8..=15).contains(&n) || num.starts_with('0') {
        return None;
    }
    let part = match suffix {
        "" => Part::Q,
        "d" => Part::L,
        "w" => Part::W,
        "b" => Part::B,
        _ => return None,
    };
    mk(&format!("R{n}"), part)
}

/// The register `name` of `arch` (any case), if it is one.
pub(super) fn parse_reg(arch: Arch, name: &str) -> Option<Reg> {
    let u = name.to_ascii_uppercase();
    if FLAGS.contains(&u.as_str()) {
        return Some(Reg {
            canon: u,
            part: if arch == Arch::X86_64 {
                Part::Q
            } else {
                Part::Full
            },
        });
    }
    match arch {
        Arch::X86_64 => x86_64_reg(name),
        _ => X86_REGS.contains(&u.as_str()).then_some(Reg {
            canon: u,
            part: Part::Full,
        }),
    }
}

/// A memory operand: `sym + base + index*scale + disp`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(super) struct Mem {
    pub(super) sym: Option<String>,
    pub(super) base: Option<Reg>,
    pub(super) index: Option<(Reg, i64)>,
    pub(super) disp: i64,
}

/// An operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Opnd {
    Reg(Reg),
    Imm(i64),
    Mem(Mem),
    /// A bare name that is not a register (a branch target).
    Label(String),
}

/// Parses one operand (`toks` non-empty); `Err(message)` when malformed.
pub(super) fn operand(arch: Arch, toks: &[Tk]) -> Result<Opnd, String> {
    let reg_of = |t: &T| -> Result<Option<Reg>, String> {
        match t {
            T::Ident(n) => Ok(parse_reg(arch, n)),
            T::Pct(n) => match parse_reg(arch, n) {
                Some(r) if arch == Arch::X86_64 => Ok(Some(r)),
                _ => Err(format!("unknown register '%{n}'")),
            },
            _ => Ok(None),
        }
    };
    let ts: Vec<&T> = toks.iter().map(|t| &t.t).collect();
    match ts.as_slice() {
        [T::Imm(v)] | [T::Num(v)] => return Ok(Opnd::Imm(*v)),
        [t @ (T::Ident(_) | T::Pct(_))] => {
            return match reg_of(t)? {
                Some(r) => Ok(Opnd::Reg(r)),
                None => match t {
                    T::Ident(n) => Ok(Opnd::Label(n.clone())),
                    _ => Err("bad operand".into()),
                },
            }
        }
        _ => {}
    }
    // Memory: [%seg:] [disp] ( '[' inner ']' | '(' inner ')' )
    let mut i = 0;
    if arch == Arch::X86_64 && matches!(ts.get(1), Some(T::P(':'))) {
        match reg_of(ts[0])? {
            Some(_) => i = 2,
            None => return Err("bad segment prefix".into()),
        }
    }
    let mut m = Mem::default();
    if let Some(T::Num(d)) = ts.get(i) {
        m.disp = *d;
        i += 1;
    }
    let close = match ts.get(i) {
        Some(T::P('[')) => ']',
        Some(T::P('(')) => ')',
        _ => return Err("bad operand".into()),
    };
    i += 1;
    if ts.last() != Some(&&T::P(close)) || ts.len() < i + 2 {
        return Err(format!("expected '{close}' closing the memory operand"));
    }
    let inner = &ts[i..ts.len() - 1];
    match inner {
        [T::Num(_)] => return Err("absolute numeric addresses are not supported".into()),
        [t] => match reg_of(t)? {
            Some(r) => m.base = Some(r),
            None => match t {
                T::Ident(s) => m.sym = Some(s.clone()),
                _ => return Err("bad operand".into()),
            },
        },
        [b, T::P(','), x] | [b, T::P(','), x, T::P(','), T::Num(_)] => {
            let scale = match inner.get(4) {
                Some(T::Num(s)) => *s,
                _ => 1,
            };
            let (Some(b), Some(x)) = (reg_of(b)?, reg_of(x)?) else {
                return Err("expected registers in '(base,index,scale)'".into());
            };
            m.base = Some(b);
            m.index = Some((x, scale));
        }
        _ => return Err("bad operand".into()),
    }
    if m.base.as_ref().is_some_and(|r| r.is_flag())
        || m.index.as_ref().is_some_and(|r| r.0.is_flag())
    {
        return Err("a flag cannot be used in an address".into());
    }
    Ok(Opnd::Mem(m))
}

/// Condition codes of `Jcc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cc {
    E,
    Ne,
    Le,
    Lt,
    Gt,
    Ge,
    S,
    Ns,
}

/// Two-operand ALU operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Alu {
    Add,
    Sub,
    And,
    Or,
    Xor,
    Shl,
}

/// Instruction kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mn {
    Mov,
    Alu(Alu),
    Inc,
    Dec,
    Cmp,
    Xchg,
    Xadd,
    Cmpxchg,
    Cmovc,
    Setnb,
    Jmp,
    Jcc(Cc),
    Fence(&'static str),
    Nop,
    Ret,
    Movnti,
    Lock,
}

/// Looks a mnemonic up: kind and explicit width suffix. `Err` carries a
/// reason when the mnemonic is known but not supported.
pub(super) fn mnemonic(arch: Arch, m: &str) -> Result<Option<(Mn, Option<u8>)>, String> {
    let u = m.to_ascii_uppercase();
    let exact = |u: &str| -> Result<Option<Mn>, String> {
        Ok(Some(match u {
            "MOV" => Mn::Mov,
            "ADD" => Mn::Alu(Alu::Add),
            "SUB" => Mn::Alu(Alu::Sub),
            "AND" => Mn::Alu(Alu::And),
            "OR" => Mn::Alu(Alu::Or),
            "XOR" => Mn::Alu(Alu::Xor),
            "SHL" => Mn::Alu(Alu::Shl),
            "INC" => Mn::Inc,
            "DEC" => Mn::Dec,
            "CMP" => Mn::Cmp,
            "XCHG" => Mn::Xchg,
            // herd7's "unlocked exchange": same semantics as XCHG.
            "UXCH" if arch == Arch::X86_64 => Mn::Xchg,
            "XADD" => Mn::Xadd,
            "CMPXCHG" => Mn::Cmpxchg,
            "CMOVC" => Mn::Cmovc,
            "SETNB" => Mn::Setnb,
            "JMP" => Mn::Jmp,
            "JE" => Mn::Jcc(Cc::E),
            "JNE" => Mn::Jcc(Cc::Ne),
            "JLE" => Mn::Jcc(Cc::Le),
            "JLT" => Mn::Jcc(Cc::Lt),
            "JGT" => Mn::Jcc(Cc::Gt),
            "JGE" => Mn::Jcc(Cc::Ge),
            "JS" => Mn::Jcc(Cc::S),
            "JNS" => Mn::Jcc(Cc::Ns),
            "MFENCE" => Mn::Fence("MFENCE"),
            "LFENCE" => Mn::Fence("LFENCE"),
            "SFENCE" => Mn::Fence("SFENCE"),
            "NOP" => Mn::Nop,
            "NOPL" | "NOPW" | "ENDBR64" | "RET" | "RETQ" | "MOVNTI" | "MOVNTIL" | "MOVNTIQ"
                if arch != Arch::X86_64 =>
            {
                return Ok(None)
            }
            "NOPL" | "NOPW" | "ENDBR64" => Mn::Nop,
            "RET" | "RETQ" => Mn::Ret,
            "MOVNTI" => Mn::Movnti,
            "LOCK" => Mn::Lock,
            "MOVSD" | "MOVT" | "MOVD" | "MOVNTDQA" | "CLFLUSH" | "CLFLUSHOPT" => {
                return Err(format!(
                    "{} instruction '{m}' is not supported",
                    arch.herd_name()
                ))
            }
            _ => return Ok(None),
        }))
    };
    if let Some(k) = exact(&u)? {
        let w = match u.as_str() {
            "MOVNTIL" => Some(4),
            "MOVNTIQ" => Some(8),
            _ => None,
        };
        return Ok(Some((k, w)));
    }
    // Size suffixes: X86_64 on every sized instruction, X86 on MOV only.
    let Some(last) = u.chars().last() else {
        return Ok(None);
    };
    let w = match last {
        'B' => 1,
        'W' => 2,
        'L' => 4,
        'Q' => 8,
        _ => return Ok(None),
    };
    let base = &u[..u.len() - 1];
    let sized = match arch {
        Arch::X86_64 => matches!(
            base,
            "MOV"
                | "ADD"
                | "SUB"
                | "AND"
                | "OR"
                | "XOR"
                | "SHL"
                | "INC"
                | "DEC"
                | "CMP"
                | "XCHG"
                | "UXCH"
                | "XADD"
                | "CMPXCHG"
                | "CMOVC"
                | "MOVNTI"
        ),
        _ => base == "MOV",
    };
    if !sized {
        return Ok(None);
    }
    Ok(exact(base)?.map(|k| (k, Some(w))))
}
