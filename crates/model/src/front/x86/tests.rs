use super::{canonical_reg, lower_thread};
use crate::ir::{BinOp, Expr, Inst, LabelId, Pos, RegId, RmwOp, Tag, Thread, UnOp};
use crate::litmus::{Arch, SrcLine};
use std::path::Path;

/// Cells on consecutive lines, starting at line 3, column 2.
fn cells(texts: &[&str]) -> Vec<SrcLine> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| SrcLine {
            text: t.to_string(),
            pos: Pos {
                line: 3 + i as u32,
                col: 2,
            },
        })
        .collect()
}

fn lower(arch: Arch, texts: &[&str]) -> Thread {
    lower_thread(arch, 0, "P0", &cells(texts)).unwrap_or_else(|d| panic!("{d:?}"))
}

fn rid(t: &Thread, name: &str) -> RegId {
    t.regs
        .iter()
        .position(|r| r == name)
        .unwrap_or_else(|| panic!("no register {name} in {:?}", t.regs)) as RegId
}

fn lab(t: &Thread, name: &str) -> LabelId {
    t.labels
        .iter()
        .position(|r| r == name)
        .unwrap_or_else(|| panic!("no label {name} in {:?}", t.labels)) as LabelId
}

fn store(addr: Expr, val: Expr, width: u8) -> Inst {
    Inst::Store {
        addr,
        val,
        width,
        tags: vec![],
    }
}

fn load(dst: RegId, addr: Expr, width: u8, signed: bool) -> Inst {
    Inst::Load {
        dst: Some(dst),
        addr,
        width,
        signed,
        tags: vec![],
    }
}

fn assign(dst: RegId, expr: Expr, width: u8) -> Inst {
    Inst::Assign { dst, expr, width }
}

fn rmw(dst: Option<RegId>, addr: Expr, op: RmwOp, operand: Expr, width: u8) -> Inst {
    Inst::Rmw {
        dst,
        addr,
        op,
        operand,
        width,
        read_tags: vec![],
        write_tags: vec![],
    }
}

fn zext(bits: u8, e: Expr) -> Expr {
    Expr::un(UnOp::ZeroExt(bits), e)
}

fn p(line: u32, col: u32) -> Pos {
    Pos { line, col }
}

#[test]
fn store_buffering_thread() {
    let t = lower(Arch::X86, &["MOV [x],$1", "MOV EAX,[y]"]);
    let eax = rid(&t, "EAX");
    assert_eq!(
        t.code,
        vec![
            store(Expr::addr("x"), Expr::int(1), 4),
            load(eax, Expr::addr("y"), 4, true),
        ]
    );
    assert_eq!(t.pos, vec![p(3, 2), p(4, 2)]);
    assert_eq!(t.regs, vec!["EAX"]);
    assert_eq!(t.name, "P0");
}

#[test]
fn lowercase_fences_and_exchanges() {
    let t = lower(
        Arch::X86,
        &[
            "mov [x], 1",
            "mov ebx, [x]",
            "mfence",
            "xchg [y], EBX",
            "XCHG EAX,[x]",
            "LFENCE",
            "sfence",
        ],
    );
    let (ebx, eax) = (rid(&t, "EBX"), rid(&t, "EAX"));
    let sext = |r: RegId| assign(r, Expr::un(UnOp::SignExt(32), Expr::reg(r)), 8);
    assert_eq!(
        t.code,
        vec![
            store(Expr::addr("x"), Expr::int(1), 4),
            load(ebx, Expr::addr("x"), 4, true),
            Inst::Fence {
                tags: vec!["MFENCE"]
            },
            rmw(Some(ebx), Expr::addr("y"), RmwOp::Swap, Expr::reg(ebx), 4),
            sext(ebx),
            rmw(Some(eax), Expr::addr("x"), RmwOp::Swap, Expr::reg(eax), 4),
            sext(eax),
            Inst::Fence {
                tags: vec!["LFENCE"]
            },
            Inst::Fence {
                tags: vec!["SFENCE"]
            },
        ]
    );
}

#[test]
fn locked_and_plain_read_modify_writes() {
    let t = lower(
        Arch::X86,
        &[
            "LOCK ADD [x],$2",
            "lock inc [y]",
            "LOCK XADD [x],EAX",
            "ADD [z],EAX",
            "LOCK DEC [y]",
        ],
    );
    let (eax, t0, t1) = (rid(&t, "EAX"), rid(&t, "%t0"), rid(&t, "%t1"));
    assert_eq!(
        t.code,
        vec![
            rmw(None, Expr::addr("x"), RmwOp::Add, Expr::int(2), 4),
            rmw(None, Expr::addr("y"), RmwOp::Add, Expr::int(1), 4),
            rmw(Some(t0), Expr::addr("x"), RmwOp::Add, Expr::reg(eax), 4),
            assign(eax, Expr::un(UnOp::SignExt(32), Expr::reg(t0)), 8),
            load(t1, Expr::addr("z"), 4, true),
            store(
                Expr::addr("z"),
                Expr::bin(BinOp::Add, Expr::reg(t1), Expr::reg(eax)),
                4
            ),
            rmw(None, Expr::addr("y"), RmwOp::Sub, Expr::int(1), 4),
        ]
    );
    // All instructions of a cell share its position.
    assert_eq!(
        t.pos,
        vec![
            p(3, 2),
            p(4, 2),
            p(5, 2),
            p(5, 2),
            p(6, 2),
            p(6, 2),
            p(7, 2)
        ]
    );
}

#[test]
fn compare_and_branch_set_flags() {
    let t = lower(
        Arch::X86,
        &[
            "MOV EAX,[x]",
            "CMP EAX,$1",
            "JNE L0",
            "MOV [y],$1",
            "L0:",
            "MOV EBX,EAX",
            "ADD EBX,$3",
        ],
    );
    let (eax, ebx) = (rid(&t, "EAX"), rid(&t, "EBX"));
    let (zf, sf, cf) = (rid(&t, "ZF"), rid(&t, "SF"), rid(&t, "CF"));
    let l0 = lab(&t, "L0");
    assert_eq!(
        t.code,
        vec![
            load(eax, Expr::addr("x"), 4, true),
            assign(zf, Expr::bin(BinOp::Eq, Expr::reg(eax), Expr::int(1)), 8),
            assign(sf, Expr::bin(BinOp::Gt, Expr::reg(eax), Expr::int(1)), 8),
            assign(cf, Expr::int(0), 8),
            Inst::Branch {
                cond: Some(Expr::un(UnOp::LNot, Expr::reg(zf))),
                target: l0,
            },
            store(Expr::addr("y"), Expr::int(1), 4),
            Inst::Label(l0),
            assign(ebx, Expr::reg(eax), 8),
            assign(ebx, Expr::bin(BinOp::Add, Expr::reg(ebx), Expr::int(3)), 8),
            assign(zf, Expr::bin(BinOp::Eq, Expr::reg(ebx), Expr::int(0)), 8),
            assign(sf, Expr::bin(BinOp::Gt, Expr::reg(ebx), Expr::int(0)), 8),
            assign(cf, Expr::int(0), 8),
        ]
    );
    assert_eq!(t.pos[6], p(7, 2));
}

#[test]
fn locked_and_plain_cmpxchg() {
    let t = lower(Arch::X86, &["LOCK CMPXCHG [x],EBX", "CMPXCHG [y],ECX"]);
    let (zf, eax, ebx, ecx) = (
        rid(&t, "ZF"),
        rid(&t, "EAX"),
        rid(&t, "EBX"),
        rid(&t, "ECX"),
    );
    let (t0, t1) = (rid(&t, "%t0"), rid(&t, "%t1"));
    let l0 = lab(&t, "%L0");
    let acc = |old: RegId| {
        assign(
            eax,
            Expr::Select(
                Box::new(Expr::reg(zf)),
                Box::new(Expr::reg(eax)),
                Box::new(Expr::un(UnOp::SignExt(32), Expr::reg(old))),
            ),
            8,
        )
    };
    let fail: Vec<Tag> = vec!["X"];
    assert_eq!(
        t.code,
        vec![
            Inst::Cas {
                dst: Some(t0),
                ok: Some(zf),
                addr: Expr::addr("x"),
                expected: Expr::reg(eax),
                new: Expr::reg(ebx),
                width: 4,
                read_tags: vec![],
                write_tags: vec![],
                fail_tags: fail,
                weak: false,
            },
            acc(t0),
            load(t1, Expr::addr("y"), 4, true),
            assign(zf, Expr::bin(BinOp::Eq, Expr::reg(t1), Expr::reg(eax)), 8),
            Inst::Branch {
                cond: Some(Expr::un(UnOp::LNot, Expr::reg(zf))),
                target: l0,
            },
            store(Expr::addr("y"), Expr::reg(ecx), 4),
            Inst::Label(l0),
            acc(t1),
        ]
    );
}

#[test]
fn x86_64_herd_a006_thread() {
    // herdtools7's herd/tests/instructions/X86_64/A006.litmus, thread P1.
    let t = lower(
        Arch::X86_64,
        &[
            "mov (y),%eax",
            "cmp $1,%eax",
            "je L0x3b",
            "L0x31:",
            "mov %eax,(P1_r0)",
            "ret",
            "L0x3b:",
            "movl $1,(x)",
            "jmp L0x31",
        ],
    );
    let rax = rid(&t, "RAX");
    let (zf, sf, cf) = (rid(&t, "ZF"), rid(&t, "SF"), rid(&t, "CF"));
    let (l31, l3b, ret) = (lab(&t, "L0x31"), lab(&t, "L0x3b"), lab(&t, "%ret"));
    let eax = zext(32, Expr::reg(rax));
    assert_eq!(
        t.code,
        vec![
            load(rax, Expr::addr("y"), 4, false),
            assign(zf, Expr::bin(BinOp::Eq, eax.clone(), Expr::int(1)), 8),
            assign(sf, Expr::bin(BinOp::Gt, eax.clone(), Expr::int(1)), 8),
            assign(cf, Expr::int(0), 8),
            Inst::Branch {
                cond: Some(Expr::reg(zf)),
                target: l3b,
            },
            Inst::Label(l31),
            store(Expr::addr("P1_r0"), eax, 4),
            Inst::Branch {
                cond: None,
                target: ret,
            },
            Inst::Label(l3b),
            store(Expr::addr("x"), Expr::int(1), 4),
            Inst::Branch {
                cond: None,
                target: l31,
            },
            Inst::Label(ret),
        ]
    );
}

#[test]
fn x86_64_addressing_sizes_and_parts() {
    let t = lower(
        Arch::X86_64,
        &[
            "movq 0(%rax,%rbx,8),%rcx",
            "movb $1,%al",
            "xchgl (y),%eax",
            "lock addq $1,(x)",
            "movnti %rcx,(z)",
            "shl 2,%eax",
            "movw %ax,8(%rdx)",
            "MOVQ %RBX,[x]",
            "mov (x),%ah",
            "NOPL %cs:0(%rax,%eax,0)",
            "lock cmpxchgq %rbx,(x)",
        ],
    );
    let (rax, rbx, rcx, rdx) = (
        rid(&t, "RAX"),
        rid(&t, "RBX"),
        rid(&t, "RCX"),
        rid(&t, "RDX"),
    );
    let (zf, t0, t1) = (rid(&t, "ZF"), rid(&t, "%t0"), rid(&t, "%t1"));
    let merge = |keep: i64, new: Expr| {
        Expr::bin(
            BinOp::Or,
            Expr::bin(BinOp::And, Expr::reg(rax), Expr::int(keep)),
            new,
        )
    };
    assert_eq!(
        t.code,
        vec![
            load(
                rcx,
                Expr::bin(
                    BinOp::Add,
                    Expr::reg(rax),
                    Expr::bin(BinOp::Mul, Expr::reg(rbx), Expr::int(8))
                ),
                8,
                false
            ),
            assign(rax, merge(!0xff, zext(8, Expr::int(1))), 8),
            rmw(
                Some(rax),
                Expr::addr("y"),
                RmwOp::Swap,
                zext(32, Expr::reg(rax)),
                4
            ),
            rmw(None, Expr::addr("x"), RmwOp::Add, Expr::int(1), 8),
            Inst::Store {
                addr: Expr::addr("z"),
                val: Expr::reg(rcx),
                width: 8,
                tags: vec!["NT"],
            },
            assign(
                rax,
                Expr::bin(BinOp::Shl, zext(32, Expr::reg(rax)), Expr::int(2)),
                4
            ),
            store(
                Expr::bin(BinOp::Add, Expr::reg(rdx), Expr::int(8)),
                zext(16, Expr::reg(rax)),
                2
            ),
            store(Expr::addr("x"), Expr::reg(rbx), 8),
            load(t0, Expr::addr("x"), 1, false),
            assign(
                rax,
                merge(
                    !0xff00,
                    Expr::bin(BinOp::Shl, zext(8, Expr::reg(t0)), Expr::int(8))
                ),
                8
            ),
            Inst::Cas {
                dst: Some(t1),
                ok: Some(zf),
                addr: Expr::addr("x"),
                expected: Expr::reg(rax),
                new: Expr::reg(rbx),
                width: 8,
                read_tags: vec![],
                write_tags: vec![],
                fail_tags: vec!["X"],
                weak: false,
            },
            assign(
                rax,
                Expr::Select(
                    Box::new(Expr::reg(zf)),
                    Box::new(Expr::reg(rax)),
                    Box::new(Expr::reg(t1))
                ),
                8
            ),
        ]
    );
}

#[test]
fn canonical_register_names() {
    let cases: &[(Arch, &str, Option<&str>)] = &[
        (Arch::X86, "EAX", Some("EAX")),
        (Arch::X86, "eax", Some("EAX")),
        (Arch::X86, "ebp", Some("EBP")),
        (Arch::X86, "ZF", Some("ZF")),
        (Arch::X86, "RAX", None),
        (Arch::X86, "x", None),
        (Arch::X86_64, "rax", Some("RAX")),
        (Arch::X86_64, "EAX", Some("RAX")),
        (Arch::X86_64, "ax", Some("RAX")),
        (Arch::X86_64, "al", Some("RAX")),
        (Arch::X86_64, "ah", Some("RAX")),
        (Arch::X86_64, "r8d", Some("R8")),
        (Arch::X86_64, "R15", Some("R15")),
        (Arch::X86_64, "r15b", Some("R15")),
        (Arch::X86_64, "sil", Some("RSI")),
        (Arch::X86_64, "rip", Some("RIP")),
        (Arch::X86_64, "r16", None),
        (Arch::X86_64, "r7", None),
        (Arch::X86_64, "r08", None),
        (Arch::X86_64, "y", None),
    ];
    for (arch, name, want) in cases {
        assert_eq!(
            canonical_reg(*arch, name).as_deref(),
            *want,
            "{arch:?} {name}"
        );
    }
}

#[test]
fn errors_have_positions() {
    type Case<'a> = (Arch, &'a [&'a str], (u32, u32, &'a str));
    let cases: &[Case] = &[
        (
            Arch::X86,
            &["MOV [x],$1", "FOO [x],$1"],
            (4, 2, "unknown X86 instruction 'FOO'"),
        ),
        (
            Arch::X86_64,
            &["movl $1,[%"],
            (
                3,
                10,
                "bad operand '[%': expected ']' closing the memory operand",
            ),
        ),
        (
            Arch::X86,
            &["MOV EAX"],
            (3, 2, "X86 instruction 'MOV' takes 2 operands, found 1"),
        ),
        (
            Arch::X86,
            &["LOCK MOV [x],$1"],
            (3, 2, "illegal LOCK prefix on instruction 'MOV'"),
        ),
        (
            Arch::X86,
            &["JMP L9", "L0:"],
            (3, 6, "undefined label 'L9'"),
        ),
        (
            Arch::X86,
            &["L0:", "L0: MFENCE"],
            (4, 2, "label 'L0' defined twice"),
        ),
        (
            Arch::X86,
            &["MOV [x],%eax"],
            (3, 10, "bad operand '%eax': unknown register '%eax'"),
        ),
        (
            Arch::X86,
            &["MOV [x],$1 junk"],
            (3, 10, "bad operand '$1 junk'"),
        ),
        (
            Arch::X86,
            &["MOV [1],EAX"],
            (
                3,
                6,
                "bad operand '[1]': absolute numeric addresses are not supported",
            ),
        ),
        (
            Arch::X86_64,
            &["movl $1,(x"],
            (
                3,
                10,
                "bad operand '(x': expected ')' closing the memory operand",
            ),
        ),
        (
            Arch::X86,
            &["MOV [x],$99999999999999999999"],
            (3, 10, "bad number '$99999999999999999999'"),
        ),
        (
            Arch::X86,
            &["XCHG [x],[y]"],
            (3, 11, "XCHG between two memory operands"),
        ),
        (
            Arch::X86,
            &["MOV $1,EAX"],
            (3, 6, "cannot write to an immediate"),
        ),
        (
            Arch::X86,
            &["MOVSD"],
            (3, 2, "X86 instruction 'MOVSD' is not supported"),
        ),
        (
            Arch::X86_64,
            &["ret", "movz %eax,%ebx"],
            (4, 2, "unknown X86_64 instruction 'movz'"),
        ),
        (Arch::X86, &["RET"], (3, 2, "unknown X86 instruction 'RET'")),
        (
            Arch::X86,
            &["MOV [x],@"],
            (3, 10, "unexpected character '@'"),
        ),
        (Arch::X86, &["MOV [x],"], (3, 10, "missing operand")),
    ];
    for (arch, texts, (line, col, msg)) in cases {
        let d = lower_thread(*arch, 0, "P0", &cells(texts))
            .expect_err(&format!("{texts:?} should fail"));
        assert_eq!(
            (d.pos.line, d.pos.col, d.msg.as_str()),
            (*line, *col, *msg),
            "for {texts:?}"
        );
    }
}

// ----- corpus --------------------------------------------------------------

const CORPUS: &str = "/work/shared/litmus";

/// Ad-hoc splitter for tests: the thread columns of an X86 litmus file.
fn columns(text: &str) -> Option<Vec<Column>> {
    let lines: Vec<&str> = text.split('\n').collect();
    let head = lines
        .iter()
        .enumerate()
        .skip(1)
        .position(|(_, l)| l.trim_start().starts_with("P0"))?
        + 1;
    let split = |l: &str| -> Vec<(usize, String)> {
        let l = l.trim_end();
        let l = l.strip_suffix(';').unwrap_or(l);
        let mut out = Vec::new();
        let mut start = 0; // char offset of the current cell
        let chars: Vec<char> = l.chars().collect();
        for (k, c) in chars.iter().enumerate().chain([(chars.len(), &'|')]) {
            if *c == '|' {
                let cell: String = chars[start..k].iter().collect();
                let lead = cell.chars().take_while(|c| c.is_whitespace()).count();
                out.push((start + lead, cell.trim().to_string()));
                start = k + 1;
            }
        }
        out
    };
    let names: Vec<String> = split(lines[head]).into_iter().map(|c| c.1).collect();
    let mut cols: Vec<Vec<SrcLine>> = vec![Vec::new(); names.len()];
    for (n, l) in lines.iter().enumerate().skip(head + 1) {
        let t = l.trim();
        if t.is_empty()
            || !t.ends_with(';')
            || ["exists", "~", "forall", "final", "locations", "filter"]
                .iter()
                .any(|k| t.starts_with(k))
        {
            break;
        }
        for (i, (off, cell)) in split(l).into_iter().enumerate() {
            if !cell.is_empty() && i < cols.len() {
                cols[i].push(SrcLine {
                    text: cell,
                    pos: Pos {
                        line: n as u32 + 1,
                        col: off as u32 + 1,
                    },
                });
            }
        }
    }
    Some(names.into_iter().zip(cols).collect())
}

/// A thread's name and cells.
type Column = (String, Vec<SrcLine>);

fn corpus_x86() -> Option<Vec<(String, Vec<Column>)>> {
    let dir = Path::new(CORPUS).join("X86");
    let rd = std::fs::read_dir(&dir).ok()?;
    let mut files: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "litmus"))
        .collect();
    files.sort();
    Some(
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("readable corpus file");
                let cols =
                    columns(&text).unwrap_or_else(|| panic!("{}: splitter failed", f.display()));
                (f.display().to_string(), cols)
            })
            .collect(),
    )
}

#[test]
fn corpus_lowers_without_diagnostics() {
    let Some(files) = corpus_x86() else {
        eprintln!("note: {CORPUS}/X86 absent; corpus smoke test skipped");
        return;
    };
    assert!(files.len() >= 300, "only {} X86 tests found", files.len());
    let mut insts = 0;
    for (file, cols) in &files {
        assert!(!cols.is_empty(), "{file}: no threads");
        for (i, (name, cells)) in cols.iter().enumerate() {
            match lower_thread(Arch::X86, i, name, cells) {
                Ok(t) => {
                    assert_eq!(t.code.len(), t.pos.len());
                    insts += t.code.len();
                }
                Err(d) => panic!("{file}:{}:{}: {}", d.pos.line, d.pos.col, d.msg),
            }
        }
    }
    assert!(insts > 1000);
}

#[test]
fn corpus_sb_positions() {
    let Some(files) = corpus_x86() else {
        eprintln!("note: {CORPUS}/X86 absent; corpus smoke test skipped");
        return;
    };
    let (_, cols) = files
        .iter()
        .find(|f| f.0.ends_with("/X86/SB.litmus"))
        .expect("SB.litmus in the corpus");
    let t = lower_thread(Arch::X86, 1, &cols[1].0, &cols[1].1).unwrap();
    assert_eq!(t.name, "P1");
    assert_eq!(t.pos, vec![p(4, 16), p(5, 16)]);
    assert_eq!(
        t.code,
        vec![
            store(Expr::addr("y"), Expr::int(1), 4),
            load(0, Expr::addr("x"), 4, true),
        ]
    );
}

// ----- no panics -------------------------------------------------------------

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const SAMPLES: &[&str] = &[
        "MOV [x],$1",
        "MOV EAX,[y]",
        "mov [b], 1",
        "XCHG [x],EAX",
        "LOCK XADD [x],EBX",
        "LOCK CMPXCHG [x],ECX",
        "CMP EAX,$1",
        "JNE L0",
        "L0: MFENCE",
        "movl $2,(x)",
        "mov (y),%eax",
        "movq 0(%rax,%rbx,8),%rcx",
        "NOPL %cs:0(%rax,%eax,0)",
        "lock cmpxchgl %ebx,(x)",
        "xchgl (y),%eax",
        "CMOVC EAX,[x]",
        "SETNB [y]",
        "mov %ah,(x)",
    ];

    fn corpus_cells() -> &'static Vec<String> {
        static S: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            let mut v: Vec<String> = SAMPLES.iter().map(|s| s.to_string()).collect();
            if let Some(files) = corpus_x86() {
                for (_, cols) in files.iter().take(60) {
                    for (_, cells) in cols {
                        v.extend(cells.iter().map(|c| c.text.clone()));
                    }
                }
            }
            v
        })
    }

    fn mutate(s: &str, edits: &[(usize, u8, char)]) -> String {
        let mut cs: Vec<char> = s.chars().collect();
        for (at, op, c) in edits {
            let i = if cs.is_empty() {
                0
            } else {
                at % (cs.len() + 1)
            };
            match op % 3 {
                0 if i < cs.len() => cs[i] = *c,
                2 if i < cs.len() => {
                    cs.remove(i);
                }
                _ => cs.insert(i, *c),
            }
        }
        cs.into_iter().collect()
    }

    fn both(texts: &[String]) {
        let cells: Vec<SrcLine> = texts
            .iter()
            .map(|t| SrcLine {
                text: t.clone(),
                pos: Pos { line: 1, col: 1 },
            })
            .collect();
        for arch in [Arch::X86, Arch::X86_64] {
            let _ = lower_thread(arch, 0, "P0", &cells);
            for t in texts {
                let _ = canonical_reg(arch, t);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1500,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_cells_never_panic(texts in proptest::collection::vec("\\PC{0,40}", 0..6)) {
            both(&texts);
        }

        #[test]
        fn asm_like_cells_never_panic(
            texts in proptest::collection::vec("[A-Za-z0-9%$,()\\[\\]: -]{0,30}", 0..6)
        ) {
            both(&texts);
        }

        #[test]
        fn mutated_cells_never_panic(
            picks in proptest::collection::vec(any::<usize>(), 1..6),
            edits in proptest::collection::vec(
                (any::<usize>(), any::<u8>(), prop_oneof![
                    Just('['), Just(']'), Just('('), Just(')'), Just(','), Just('%'),
                    Just('$'), Just(':'), Just('-'), Just('0'), Just(' '), any::<char>()
                ]),
                1..6,
            ),
        ) {
            let cs = corpus_cells();
            let texts: Vec<String> = picks
                .iter()
                .enumerate()
                .map(|(k, i)| {
                    let s = &cs[i % cs.len()];
                    if k == 0 { mutate(s, &edits) } else { s.clone() }
                })
                .collect();
            both(&texts);
        }
    }
}
