use super::lower_threads;
use crate::ir::{BinOp, Expr, Inst, LabelId, Pos, RegId, RmwOp, Tag, Thread, UnOp};
use std::path::Path;

fn one(src: &str) -> Thread {
    let mut ts = lower_threads(src, 1).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(ts.len(), 1);
    ts.remove(0)
}

fn reg(t: &Thread, name: &str) -> Expr {
    Expr::reg(rid(t, name))
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

fn load(dst: Option<RegId>, addr: Expr, width: u8, tags: &[Tag]) -> Inst {
    Inst::Load {
        dst,
        addr,
        width,
        signed: true,
        tags: tags.to_vec(),
    }
}

fn store(addr: Expr, val: Expr, tags: &[Tag]) -> Inst {
    Inst::Store {
        addr,
        val,
        width: 4,
        tags: tags.to_vec(),
    }
}

fn assign(dst: RegId, expr: Expr) -> Inst {
    Inst::Assign {
        dst,
        expr,
        width: 8,
    }
}

fn sext32(t: &Thread, r: &str) -> Inst {
    assign(rid(t, r), Expr::un(UnOp::SignExt(32), reg(t, r)))
}

fn p(line: u32, col: u32) -> Pos {
    Pos { line, col }
}

fn err(src: &str) -> (u32, u32, String) {
    match lower_threads(src, 1) {
        Ok(t) => panic!("expected an error, got {t:?}"),
        Err(d) => (d.pos.line, d.pos.col, d.msg),
    }
}

#[test]
fn message_passing_writer() {
    let t = one(
        "P0 (volatile int* x, atomic_int* y) {\n  *x = 1;\n  atomic_store_explicit(y, 1, memory_order_release);\n}\n",
    );
    assert_eq!(t.name, "P0");
    assert_eq!(
        t.code,
        vec![
            store(Expr::addr("x"), Expr::int(1), &["NA"]),
            store(Expr::addr("y"), Expr::int(1), &["REL", "A"]),
        ]
    );
    assert_eq!(t.pos, vec![p(2, 3), p(3, 3)]);
    assert!(t.regs.is_empty());
}

#[test]
fn reader_with_if_and_first_line_offset() {
    let src = "\nP0 (atomic_int* y, int* x) {\n int r0 = atomic_load_explicit(y,memory_order_acquire);\n int r1 = -1;\n if (1 == r0) {\n   r1 = *x; // plain\n }\n}\n";
    let ts = lower_threads(src, 20).unwrap();
    let t = &ts[0];
    let (r0, r1) = (rid(t, "r0"), rid(t, "r1"));
    let l0 = lab(t, "%L0");
    assert_eq!(
        t.code,
        vec![
            load(Some(r0), Expr::addr("y"), 4, &["ACQ", "A"]),
            assign(r1, Expr::int(-1)),
            Inst::Branch {
                cond: Some(Expr::un(
                    UnOp::LNot,
                    Expr::bin(BinOp::Eq, Expr::int(1), Expr::reg(r0))
                )),
                target: l0,
            },
            load(Some(r1), Expr::addr("x"), 4, &["NA"]),
            Inst::Label(l0),
        ]
    );
    assert_eq!(
        t.pos,
        vec![p(22, 2), p(23, 2), p(24, 2), p(25, 4), p(24, 2)]
    );
}

#[test]
fn loads_inside_expressions_use_hidden_registers_in_order() {
    let t = one(
        "P0 (atomic_int* w, atomic_int* x, volatile int* y) {\n  int t = atomic_load_explicit(x, memory_order_acquire) + *y;\n  atomic_store_explicit(w, t - 1, memory_order_relaxed);\n}",
    );
    let (t0, t1, tt) = (rid(&t, "%t0"), rid(&t, "%t1"), rid(&t, "t"));
    assert_eq!(
        t.code,
        vec![
            load(Some(t0), Expr::addr("x"), 4, &["ACQ", "A"]),
            load(Some(t1), Expr::addr("y"), 4, &["NA"]),
            assign(tt, Expr::bin(BinOp::Add, Expr::reg(t0), Expr::reg(t1))),
            store(
                Expr::addr("w"),
                Expr::bin(BinOp::Sub, Expr::reg(tt), Expr::int(1)),
                &["RLX", "A"]
            ),
        ]
    );
    // One position per statement: herd7's instruction instance.
    assert_eq!(t.pos, vec![p(2, 3), p(2, 3), p(2, 3), p(3, 3)]);
}

#[test]
fn rmws_and_fences() {
    let t = one("P0 (atomic_int* x, _Atomic int *y) {
  int r0 = atomic_fetch_add_explicit(x, 1, memory_order_acq_rel);
  atomic_exchange(y, 2);
  atomic_thread_fence(memory_order_seq_cst);
  atomic_fetch_sub_explicit(x, r0 + 1, memory_order_relaxed);
  int r1 = atomic_load_explicit(y, memory_order_consume);
}");
    let r0 = rid(&t, "r0");
    let rmw = |dst, addr: &str, op, operand, tag: Tag| Inst::Rmw {
        dst,
        addr: Expr::addr(addr),
        op,
        operand,
        width: 4,
        read_tags: vec![tag, "A", "RMW"],
        write_tags: vec![tag, "A", "RMW"],
    };
    assert_eq!(
        t.code,
        vec![
            rmw(Some(r0), "x", RmwOp::Add, Expr::int(1), "ACQ_REL"),
            sext32(&t, "r0"),
            rmw(None, "y", RmwOp::Swap, Expr::int(2), "SC"),
            Inst::Fence { tags: vec!["SC"] },
            rmw(
                None,
                "x",
                RmwOp::Sub,
                Expr::bin(BinOp::Add, Expr::reg(r0), Expr::int(1)),
                "RLX"
            ),
            load(Some(rid(&t, "r1")), Expr::addr("y"), 4, &["CON", "A"]),
        ]
    );
}

#[test]
fn compare_exchange_with_expected_in_memory_as_herd() {
    let t = one(
        "P0 (atomic_int* x, atomic_int* one) {
  int r0 = atomic_compare_exchange_strong_explicit(x, one, 2, memory_order_acquire, memory_order_relaxed);
}",
    );
    let (e, old, r0) = (rid(&t, "%t0"), rid(&t, "%t1"), rid(&t, "r0"));
    let l0 = lab(&t, "%L0");
    assert_eq!(
        t.code,
        vec![
            load(Some(e), Expr::addr("one"), 4, &["NA"]),
            Inst::Cas {
                dst: Some(old),
                ok: Some(r0),
                addr: Expr::addr("x"),
                expected: Expr::reg(e),
                new: Expr::int(2),
                width: 4,
                read_tags: vec!["ACQ", "A", "RMW"],
                write_tags: vec!["ACQ", "A", "RMW"],
                fail_tags: vec!["RLX", "A"],
                weak: false,
            },
            Inst::Branch {
                cond: Some(Expr::reg(r0)),
                target: l0,
            },
            store(Expr::addr("one"), Expr::reg(old), &["NA"]),
            Inst::Label(l0),
        ]
    );
    assert!(t.pos.iter().all(|q| *q == p(2, 3)));
}

#[test]
fn compare_exchange_with_local_expected() {
    let t = one("P0 (atomic_int* x) {
  int e = 0;
  int ok = atomic_compare_exchange_weak(x, &e, 1);
  atomic_compare_exchange_strong_explicit(x, &e, ok, memory_order_release, memory_order_acquire);
}");
    let (e, ok) = (rid(&t, "e"), rid(&t, "ok"));
    let cas = |ok, new, s: Tag, f: Tag, weak| Inst::Cas {
        dst: Some(e),
        ok,
        addr: Expr::addr("x"),
        expected: Expr::reg(e),
        new,
        width: 4,
        read_tags: vec![s, "A", "RMW"],
        write_tags: vec![s, "A", "RMW"],
        fail_tags: vec![f, "A"],
        weak,
    };
    assert_eq!(
        t.code,
        vec![
            assign(e, Expr::int(0)),
            cas(Some(ok), Expr::int(1), "SC", "SC", true),
            sext32(&t, "e"),
            cas(None, Expr::reg(ok), "REL", "ACQ", false),
            sext32(&t, "e"),
        ]
    );
}

#[test]
fn else_short_circuit_pointer_arithmetic_and_long() {
    let t = one("void P0 (atomic_long* x, atomic_int* y) {
  long a = atomic_load(x);
  if (a != 0 && *y) { a = 1; } else { a = 2; }
  int b = atomic_load_explicit(y + a, memory_order_relaxed);
}");
    let (a, t0, t1, b) = (rid(&t, "a"), rid(&t, "%t0"), rid(&t, "%t1"), rid(&t, "b"));
    let (l0, l1, l2) = (lab(&t, "%L0"), lab(&t, "%L1"), lab(&t, "%L2"));
    let not = |e| Expr::un(UnOp::LNot, e);
    assert_eq!(
        t.code,
        vec![
            load(Some(a), Expr::addr("x"), 8, &["SC", "A"]),
            assign(t0, Expr::bin(BinOp::Ne, Expr::reg(a), Expr::int(0))),
            Inst::Branch {
                cond: Some(not(Expr::reg(t0))),
                target: l0,
            },
            load(Some(t1), Expr::addr("y"), 4, &["NA"]),
            assign(t0, Expr::bin(BinOp::Ne, Expr::reg(t1), Expr::int(0))),
            Inst::Label(l0),
            Inst::Branch {
                cond: Some(not(Expr::reg(t0))),
                target: l1,
            },
            assign(a, Expr::int(1)),
            Inst::Branch {
                cond: None,
                target: l2,
            },
            Inst::Label(l1),
            assign(a, Expr::int(2)),
            Inst::Label(l2),
            load(
                Some(b),
                Expr::bin(
                    BinOp::Add,
                    Expr::addr("y"),
                    Expr::bin(BinOp::Mul, Expr::reg(a), Expr::int(4))
                ),
                4,
                &["RLX", "A"]
            ),
        ]
    );
}

#[test]
fn while_loop_and_two_threads() {
    let ts = lower_threads(
        "P0 (atomic_int* x) {
  int r = 0;
  while (r == 0) { r = atomic_load_explicit(x, memory_order_relaxed); }
}
/* second */ P1 (atomic_int* x) { atomic_store(x, 1); }
",
        1,
    )
    .unwrap();
    assert_eq!(ts.len(), 2);
    let t = &ts[0];
    let r = rid(t, "r");
    let (top, end) = (lab(t, "%L0"), lab(t, "%L1"));
    assert_eq!(
        t.code,
        vec![
            assign(r, Expr::int(0)),
            Inst::Label(top),
            Inst::Branch {
                cond: Some(Expr::un(
                    UnOp::LNot,
                    Expr::bin(BinOp::Eq, Expr::reg(r), Expr::int(0))
                )),
                target: end,
            },
            load(Some(r), Expr::addr("x"), 4, &["RLX", "A"]),
            Inst::Branch {
                cond: None,
                target: top,
            },
            Inst::Label(end),
        ]
    );
    assert_eq!(ts[1].name, "P1");
    assert_eq!(
        ts[1].code,
        vec![store(Expr::addr("x"), Expr::int(1), &["SC", "A"])]
    );
    assert_eq!(ts[1].pos, vec![p(5, 35)]);
}

#[test]
fn errors_have_positions() {
    let cases: &[(&str, (u32, u32, &str))] = &[
        (
            "P0 (atomic_int* x) {\n  foo(x);\n}",
            (2, 3, "unknown function 'foo'"),
        ),
        (
            "P0 (atomic_int* x) {\n  r9 = 1;\n}",
            (2, 3, "undeclared identifier 'r9'"),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = atomic_load_explicit(z, memory_order_relaxed);\n}",
            (2, 32, "undeclared identifier 'z'"),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = 1\n}",
            (3, 1, "expected ';', found '}'"),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = atomic_load_explicit(x, 3);\n}",
            (
                2,
                35,
                "expected a memory order (memory_order_relaxed, memory_order_acquire, ...)",
            ),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = atomic_load_explicit(x);\n}",
            (2, 11, "'atomic_load_explicit' takes 2 arguments, found 1"),
        ),
        (
            "P0 (atomic_int* x) {\n  x = 1;\n}",
            (
                2,
                3,
                "cannot assign to parameter 'x' (write '*x = ...' to store to the location)",
            ),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = *x / 2;\n}",
            (2, 14, "'/' and '%' are not supported (the IR has no division)"),
        ),
        (
            "P1 (atomic_int* x) {\n}",
            (1, 1, "expected thread function P0, found P1"),
        ),
        (
            "P0 (atomic_int* x) {\n  for (;;) {}\n}",
            (2, 3, "unsupported statement 'for' in a litmus thread"),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = 0;\n  r = &r;\n}",
            (
                3,
                7,
                "'&' is only supported as the expected argument of atomic_compare_exchange",
            ),
        ),
        (
            "P0 (atomic_int* x) {\n  /* open\n}",
            (2, 3, "unterminated comment '/*'"),
        ),
        (
            "P0 (int x) {\n}",
            (1, 5, "parameter 'x' must be a pointer to a shared location"),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = 1;\n  atomic_store_explicit(r, 1, memory_order_relaxed);\n}",
            (3, 25, "expected a pointer to a shared location"),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = atomic_store_explicit(x, 1, memory_order_relaxed);\n}",
            (2, 11, "'atomic_store_explicit' returns no value"),
        ),
        (
            "P0 (atomic_int* x) {\n  int r = 0 @ 1;\n}",
            (2, 13, "unexpected character '@'"),
        ),
        ("", (1, 1, "expected thread functions 'P0(...) { ... }'")),
    ];
    for (src, (line, col, msg)) in cases {
        assert_eq!(err(src), (*line, *col, msg.to_string()), "for {src:?}");
    }
}

// ----- corpus ------------------------------------------------------------

const CORPUS: &str = "/work/shared/litmus";

fn litmus_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut es: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    es.sort();
    for p in es {
        if p.is_dir() {
            litmus_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "litmus") {
            out.push(p);
        }
    }
}

/// Ad-hoc splitter for tests: the thread text of a C litmus file (between
/// the init block and the condition) and its first line number.
fn c_threads_text(text: &str) -> Option<(String, u32)> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut depth = 0;
    let mut start = None;
    while i < chars.len() {
        if chars[i] == '(' && chars.get(i + 1) == Some(&'*') {
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == ')') {
                i += 1;
            }
            i += 2;
            continue;
        }
        match chars[i] {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    start = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let after: String = chars[start?..].iter().collect();
    let init_line = chars[..start?].iter().filter(|c| **c == '\n').count() as u32 + 1;
    let mut lines: Vec<&str> = after.split('\n').collect();
    lines.remove(0); // rest of the init block's last line
    let end = lines.iter().position(|l| {
        let l = l.trim_start();
        ["exists", "~exists", "forall", "locations", "filter"]
            .iter()
            .any(|k| l.starts_with(k))
    })?;
    Some((lines[..end].join("\n"), init_line + 1))
}

fn corpus_c_sources() -> Option<Vec<(String, String, u32)>> {
    let dir = Path::new(CORPUS).join("C11");
    if !dir.is_dir() {
        return None;
    }
    let mut files = Vec::new();
    litmus_files(&dir, &mut files);
    Some(
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("readable corpus file");
                let (src, line) = c_threads_text(&text)
                    .unwrap_or_else(|| panic!("{}: splitter failed", f.display()));
                (f.display().to_string(), src, line)
            })
            .collect(),
    )
}

#[test]
fn corpus_lowers_without_diagnostics() {
    let Some(srcs) = corpus_c_sources() else {
        eprintln!("note: {CORPUS}/C11 absent; corpus smoke test skipped");
        return;
    };
    assert!(srcs.len() >= 100, "only {} C tests found", srcs.len());
    let mut threads = 0;
    for (file, src, line) in &srcs {
        match lower_threads(src, *line) {
            Ok(ts) => {
                assert!(!ts.is_empty(), "{file}: no threads");
                for t in &ts {
                    assert_eq!(t.code.len(), t.pos.len());
                    assert!(t.pos.iter().all(|q| q.line >= *line), "{file}: {:?}", t.pos);
                }
                threads += ts.len();
            }
            Err(d) => panic!("{file}:{}:{}: {}", d.pos.line, d.pos.col, d.msg),
        }
    }
    assert!(threads >= 2 * srcs.len());
}

#[test]
fn corpus_positions_are_file_positions() {
    let Some(srcs) = corpus_c_sources() else {
        eprintln!("note: {CORPUS}/C11 absent; corpus smoke test skipped");
        return;
    };
    let Some((_, src, line)) = srcs
        .iter()
        .find(|s| s.0.ends_with("C11/manual/mp_fences.litmus"))
    else {
        panic!("mp_fences.litmus missing from the corpus");
    };
    let ts = lower_threads(src, *line).unwrap();
    // `*x = 1;` is on line 13, column 2 of the file.
    assert_eq!(ts[0].pos[0], p(13, 2));
    assert_eq!(ts[0].code[1], Inst::Fence { tags: vec!["REL"] });
}

// ----- no panics -----------------------------------------------------------

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "P0 (atomic_int* x, volatile int* y, atomic_int* one) {
  int r0 = atomic_compare_exchange_strong_explicit(x, one, 2, memory_order_acquire, memory_order_relaxed);
  int r1 = -1;
  if (r0 == 1 && *y) { r1 = *y; } else { atomic_thread_fence(memory_order_seq_cst); }
  while (r1 != 0) { r1 = atomic_fetch_add_explicit(x + r0, (r1 << 1) ^ ~3, memory_order_acq_rel); }
}
P1 (atomic_int* x) { atomic_store(x, 1); int e = 0; atomic_compare_exchange_weak(x, &e, (long) e); }
";

    fn samples() -> &'static Vec<String> {
        static S: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            let mut v = vec![SAMPLE.to_string()];
            if let Some(srcs) = corpus_c_sources() {
                v.extend(srcs.into_iter().map(|s| s.1));
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
                1 => cs.insert(i, *c),
                _ if i < cs.len() => {
                    cs.remove(i);
                }
                _ => cs.insert(i, *c),
            }
        }
        cs.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1500,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_text_never_panics(s in "\\PC{0,300}") {
            let _ = lower_threads(&s, 1);
        }

        #[test]
        fn c_like_text_never_panics(s in "[P0-9x-z_ (){}*;=,&|!<>+^~/-]{0,200}|(P0 \\(int\\* x\\) \\{[a-z0-9_ (){}*;=,&|!<>+-]{0,200}\\})") {
            let _ = lower_threads(&s, 1);
        }

        #[test]
        fn mutated_tests_never_panic(
            k in any::<usize>(),
            edits in proptest::collection::vec(
                (any::<usize>(), any::<u8>(), prop_oneof![
                    Just('('), Just(')'), Just('{'), Just('}'), Just('*'), Just(';'),
                    Just('&'), Just(','), Just('x'), Just('1'), Just(' '), any::<char>()
                ]),
                1..10,
            ),
        ) {
            let ss = samples();
            let s = &ss[k % ss.len()];
            let _ = lower_threads(&mutate(s, &edits), 3);
        }
    }

    #[test]
    fn deep_nesting_is_a_diagnostic() {
        let deep = format!(
            "P0 (int* x) {{ int r = {}1{}; }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let d = lower_threads(&deep, 1).unwrap_err();
        assert_eq!(d.msg, "nesting too deep");
        let deep_if = format!("P0 (int* x) {{ {} }}", "if (1) ".repeat(5000));
        assert!(lower_threads(&deep_if, 1).is_err());
    }
}
