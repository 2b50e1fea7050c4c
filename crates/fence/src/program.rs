//! From statements to functions and control-flow graphs.
//!
//! A function starts at every non-local label in a code section (`.L…`
//! and numeric labels are local) and runs to the next one. Blocks start at
//! labels and after branches. An instruction is an *entry* — reachable from
//! code loci cannot see, so nothing is known on the way in — when it starts
//! a function, carries a label that is referenced other than by a direct
//! branch of its own function (jump tables, `adr`, exception tables,
//! branches from other functions), or has no visible predecessor (landing
//! pads). In `objdump -d` input every instruction of a function with an
//! indirect jump is an entry.
//!
//! Functions containing conditional or repeated assembly (`.if`, `.rept`,
//! `.irp`, …) are not analysed: the text is not what runs.

use crate::arch::Arch;
use crate::effect::{Effect, Flow};
use crate::source::{is_ident_char, Source, StmtKind};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: label names are short; SipHash's DoS resistance buys nothing
/// here and costs a tenth of the parse.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<Fnv>>;

/// One instruction of a function.
#[derive(Clone, Debug)]
pub struct Insn {
    /// Index of its statement in [`Source::stmts`] (the mnemonic).
    pub stmt: usize,
    /// A standalone prefix statement before it (`lock;`), if any.
    pub prefix_stmt: Option<usize>,
    /// What it does.
    pub effect: Effect,
    /// Reachable from unseen code: nothing is known on the way in.
    pub entry: bool,
}

/// A basic block: instructions `start..end` of its function.
#[derive(Clone, Debug)]
pub struct Block {
    /// First instruction.
    pub start: usize,
    /// One past the last instruction.
    pub end: usize,
    /// Successor blocks.
    pub succs: Vec<usize>,
    /// Predecessor blocks.
    pub preds: Vec<usize>,
    /// Control may leave the function from the end of this block; `Some(true)`
    /// when it does so by returning to the caller.
    pub exit: Option<bool>,
}

/// One function.
#[derive(Clone, Debug)]
pub struct Function {
    /// Its name (the label).
    pub name: String,
    /// 0-based line of its label.
    pub line: u32,
    /// Its address (objdump input).
    pub addr: Option<u64>,
    /// Its instructions.
    pub insns: Vec<Insn>,
    /// Its blocks, in order.
    pub blocks: Vec<Block>,
    /// Why it is not analysed, if it is not.
    pub skipped: Option<String>,
}

/// A note about the input (line is 0-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// 0-based line.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

/// A whole input file, ready for analysis.
#[derive(Debug)]
pub struct Program<'a> {
    /// Its architecture.
    pub arch: Arch,
    /// Whether it is `objdump -d` output (never rewritten).
    pub objdump: bool,
    /// Its text, split.
    pub source: Source<'a>,
    /// Its functions.
    pub functions: Vec<Function>,
    /// Notes (unparseable statements, skipped functions).
    pub notes: Vec<Note>,
}

fn is_local_label(name: &str) -> bool {
    name.starts_with(".L") || name.bytes().all(|b| b.is_ascii_digit())
}

fn is_code_section(name: &str, flags: &str) -> bool {
    name.starts_with(".text")
        || name.starts_with(".init")
        || name.starts_with(".fini")
        || flags.contains('x')
}

/// Builds the program of a split source.
pub fn build<'a>(source: Source<'a>, arch: Arch, objdump: bool) -> Program<'a> {
    let mut p = Program {
        arch,
        objdump,
        source,
        functions: Vec::new(),
        notes: Vec::new(),
    };
    if objdump {
        build_objdump(&mut p);
    } else {
        build_gas(&mut p);
    }
    p
}

/// Unique name of a numeric label definition.
fn numeric_name(name: &str, stmt: usize) -> String {
    format!("{name}@{stmt}")
}

fn build_gas(p: &mut Program<'_>) {
    let stmts = &p.source.stmts;
    // Numeric labels: definitions by name, in order.
    let mut numeric: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in stmts.iter().enumerate() {
        if let StmtKind::Label(l) = s.kind {
            if l.bytes().all(|b| b.is_ascii_digit()) {
                numeric.entry(l).or_default().push(i);
            }
        }
    }
    let resolve = |t: &str, at: usize| -> String {
        let t = t.trim();
        let last = t.as_bytes().last().copied();
        if t.len() >= 2 && matches!(last, Some(b'b' | b'f')) {
            let (n, d) = t.split_at(t.len() - 1);
            if n.bytes().all(|b| b.is_ascii_digit()) {
                if let Some(defs) = numeric.get(n) {
                    // Definitions are in statement order: binary search.
                    let found = if d == "b" {
                        let k = defs.partition_point(|&k| k < at);
                        k.checked_sub(1).map(|k| &defs[k])
                    } else {
                        let k = defs.partition_point(|&k| k <= at);
                        defs.get(k)
                    };
                    if let Some(&k) = found {
                        return numeric_name(n, k);
                    }
                }
                return format!("{t}@unresolved");
            }
        }
        t.to_string()
    };

    let mut in_code = true;
    let mut section_stack: Vec<(bool, bool, bool)> = Vec::new();
    let mut prev_code = true;
    // References from debug sections (`.LVL…` location lists) are not
    // control flow.
    let mut in_debug = false;
    let mut prev_debug = false;
    let mut macro_depth = 0u32;
    let mut cur: Option<Function> = None;
    let mut pending_labels: Vec<String> = Vec::new();
    // label → (function index, instruction index it precedes)
    let mut label_at: FastMap<String, (usize, usize)> = FastMap::default();
    // Every label name defined anywhere: only those can be referenced.
    let defined: FastSet<&str> = stmts
        .iter()
        .filter_map(|s| match s.kind {
            StmtKind::Label(l) => Some(l),
            _ => None,
        })
        .collect();
    // References other than direct branches: label → referencing function
    // (usize::MAX: from data or directives).
    let mut other_refs: Vec<(std::borrow::Cow<'_, str>, usize)> = Vec::new();
    let mut branch_refs: Vec<(String, usize)> = Vec::new();
    let mut pending_prefix: Option<usize> = None;
    let mut funcs: Vec<Function> = Vec::new();
    let mut notes = Vec::new();

    let finish = |cur: &mut Option<Function>, funcs: &mut Vec<Function>| {
        if let Some(f) = cur.take() {
            funcs.push(f);
        }
    };

    for (i, s) in stmts.iter().enumerate() {
        // A standalone prefix binds to the next instruction only if nothing
        // (a label: a branch may land after the prefix; a directive) comes
        // between. Otherwise that instruction is taken without it — for
        // `lock` the conservative reading.
        if pending_prefix.is_some() && !matches!(s.kind, StmtKind::Insn(..)) {
            pending_prefix = None;
        }
        match s.kind {
            StmtKind::Directive(d, args) => {
                let d = d.to_ascii_lowercase();
                if d == ".macro" {
                    macro_depth += 1;
                    continue;
                }
                if d == ".endm" {
                    macro_depth = macro_depth.saturating_sub(1);
                    continue;
                }
                if macro_depth > 0 {
                    continue;
                }
                if !in_debug && !d.starts_with(".cfi") && d != ".loc" && d != ".file" {
                    collect_refs(args, usize::MAX, &mut other_refs, &resolve, i, &defined);
                }
                match d.as_str() {
                    ".text" => {
                        prev_code = in_code;
                        prev_debug = in_debug;
                        in_code = true;
                        in_debug = false;
                    }
                    ".data" | ".bss" | ".rodata" => {
                        prev_code = in_code;
                        prev_debug = in_debug;
                        in_code = false;
                        in_debug = false;
                    }
                    ".section" | ".pushsection" => {
                        let mut parts = args.splitn(2, ',');
                        let name = parts.next().unwrap_or("").trim();
                        let flags = parts.next().unwrap_or("");
                        let flags = flags
                            .split(',')
                            .next()
                            .unwrap_or("")
                            .trim()
                            .trim_matches('"');
                        if d == ".pushsection" {
                            section_stack.push((in_code, prev_code, in_debug));
                        }
                        prev_code = in_code;
                        prev_debug = in_debug;
                        in_code = is_code_section(name, flags);
                        in_debug = name.starts_with(".debug");
                    }
                    ".popsection" => {
                        if let Some((c, pc, dbg)) = section_stack.pop() {
                            in_code = c;
                            prev_code = pc;
                            in_debug = dbg;
                        }
                    }
                    ".previous" => {
                        std::mem::swap(&mut in_code, &mut prev_code);
                        std::mem::swap(&mut in_debug, &mut prev_debug);
                    }
                    ".if" | ".ifdef" | ".ifndef" | ".ifc" | ".ifnc" | ".ifeq" | ".ifne"
                    | ".ifb" | ".ifnb" | ".ifeqs" | ".ifnes" | ".ifge" | ".ifgt" | ".ifle"
                    | ".iflt" | ".else" | ".elseif" | ".endif" | ".rept" | ".irp" | ".irpc"
                    | ".endr" => {
                        if let Some(f) = cur.as_mut() {
                            if f.skipped.is_none() {
                                f.skipped = Some(format!(
                                    "uses `{d}` (conditional or repeated assembly): the text is not what runs"
                                ));
                            }
                        }
                    }
                    ".inst" | ".word" | ".long" | ".4byte" | ".hword" | ".short" | ".byte"
                    | ".quad" | ".8byte" | ".xword" | ".dword"
                        if in_code =>
                    {
                        // Raw bytes in code: may be any instruction.
                        if let Some(f) = cur.as_mut() {
                            attach_labels(&mut pending_labels, &mut label_at, funcs.len(), f);
                            f.insns.push(Insn {
                                stmt: i,
                                prefix_stmt: None,
                                effect: Effect::unknown(),
                                entry: false,
                            });
                        }
                    }
                    _ => {}
                }
            }
            _ if macro_depth > 0 => {}
            StmtKind::Label(l) if in_code => {
                if is_local_label(l) {
                    let name = if l.bytes().all(|b| b.is_ascii_digit()) {
                        numeric_name(l, i)
                    } else {
                        l.to_string()
                    };
                    if cur.is_none() {
                        cur = Some(new_function("(top of file)", s.line, None));
                    }
                    pending_labels.push(name);
                } else {
                    finish(&mut cur, &mut funcs);
                    pending_labels.clear();
                    cur = Some(new_function(l, s.line, None));
                    pending_labels.push(l.to_string());
                }
            }
            StmtKind::Label(_) => {}
            StmtKind::Insn(m, ops) if in_code => {
                if arch_is_x86(p.arch) && crate::x86::is_prefix(m) && ops.is_empty() {
                    pending_prefix = Some(i);
                    continue;
                }
                let f = cur.get_or_insert_with(|| new_function("(top of file)", s.line, None));
                attach_labels(&mut pending_labels, &mut label_at, funcs.len(), f);
                let valid = m.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                    && m.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
                let prefix = pending_prefix.take();
                let effect = if !valid {
                    notes.push(Note {
                        line: s.line,
                        message: format!(
                            "cannot parse `{}`: kept verbatim, treated as an unknown instruction",
                            p.source.text(i)
                        ),
                    });
                    Effect::unknown()
                } else {
                    match p.arch {
                        Arch::Aarch64 => crate::aarch64::classify(m, ops),
                        Arch::X86_64 => crate::x86::classify(
                            m,
                            ops,
                            prefix.map(|k| match stmts[k].kind {
                                StmtKind::Insn(pm, _) => pm,
                                _ => "",
                            }),
                        ),
                    }
                };
                let fi = funcs.len();
                match &effect.flow {
                    Flow::Jump(t) | Flow::CondJump(t) => branch_refs.push((resolve(t, i), fi)),
                    Flow::Call(Some(t)) => other_refs.push((resolve(t, i).into(), fi)),
                    _ => collect_refs(ops, fi, &mut other_refs, &resolve, i, &defined),
                }
                f.insns.push(Insn {
                    stmt: i,
                    prefix_stmt: prefix,
                    effect,
                    entry: false,
                });
            }
            StmtKind::Insn(_, ops) => {
                collect_refs(ops, usize::MAX, &mut other_refs, &resolve, i, &defined)
            }
        }
    }
    finish(&mut cur, &mut funcs);

    // Entries: labels whose address is taken (jump tables, `adr`,
    // exception tables) or that other functions branch to.
    let mut entries: Vec<(usize, usize)> = Vec::new();
    for (name, _) in &other_refs {
        if let Some(&(fi, ii)) = label_at.get(name.as_ref()) {
            entries.push((fi, ii));
        }
    }
    for (name, from) in &branch_refs {
        if let Some(&(fi, ii)) = label_at.get(name) {
            if *from != fi {
                entries.push((fi, ii));
            }
        }
    }
    for (fi, ii) in entries {
        if let Some(insn) = funcs[fi].insns.get_mut(ii) {
            insn.entry = true;
        }
    }
    for (fi, f) in funcs.iter_mut().enumerate() {
        let targets = |t: &str, at: usize| -> Result<Option<usize>, String> {
            let name = resolve(t, at);
            if name.ends_with("@unresolved") {
                return Err(format!("branch to unresolved numeric label `{t}`"));
            }
            match label_at.get(&name) {
                Some(&(g, ii)) if g == fi => Ok(Some(ii)),
                Some(_) => Ok(None),
                None => {
                    let computed = name.starts_with(".+")
                        || name.starts_with(".-")
                        || name == "."
                        || name.contains(['+', '-'])
                            && label_at.contains_key(name.split(['+', '-']).next().unwrap_or(""));
                    if computed {
                        Err(format!("branch to computed address `{t}`"))
                    } else {
                        Ok(None)
                    }
                }
            }
        };
        let stmt_of: Vec<usize> = f.insns.iter().map(|x| x.stmt).collect();
        let r = build_blocks(f, |ii, t| targets(t, stmt_of[ii]));
        if let Err(e) = r {
            if f.skipped.is_none() {
                f.skipped = Some(e);
            }
        }
        if let Some(reason) = &f.skipped {
            notes.push(Note {
                line: f.line,
                message: format!("function `{}` not analysed: {reason}", f.name),
            });
        }
    }
    p.functions = funcs;
    p.notes.extend(notes);
}

fn arch_is_x86(a: Arch) -> bool {
    a == Arch::X86_64
}

fn new_function(name: &str, line: u32, addr: Option<u64>) -> Function {
    Function {
        name: name.to_string(),
        line,
        addr,
        insns: Vec::new(),
        blocks: Vec::new(),
        skipped: None,
    }
}

fn attach_labels(
    pending: &mut Vec<String>,
    label_at: &mut FastMap<String, (usize, usize)>,
    fi: usize,
    f: &Function,
) {
    for l in pending.drain(..) {
        label_at.entry(l).or_insert((fi, f.insns.len()));
    }
}

/// Every symbol-like token of `text` counts as a reference.
fn collect_refs<'a>(
    text: &'a str,
    from: usize,
    out: &mut Vec<(std::borrow::Cow<'a, str>, usize)>,
    resolve: &dyn Fn(&str, usize) -> String,
    at: usize,
    defined: &FastSet<&str>,
) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if is_ident_char(b[i]) {
            let s = i;
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            let tok = &text[s..i];
            let first = tok.as_bytes()[0];
            if first.is_ascii_alphabetic() || first == b'.' || first == b'_' {
                if defined.contains(tok) {
                    out.push((tok.into(), from));
                }
            } else if (tok.ends_with('b') || tok.ends_with('f'))
                && defined.contains(&tok[..tok.len() - 1])
            {
                let r = resolve(tok, at);
                if r.contains('@') {
                    out.push((r.into(), from));
                }
            }
        } else {
            i += 1;
        }
    }
}

/// Splits `f` into blocks; `target(insn, label)` resolves a direct branch
/// to an instruction index of `f` (`None`: leaves the function).
fn build_blocks(
    f: &mut Function,
    target: impl Fn(usize, &str) -> Result<Option<usize>, String>,
) -> Result<(), String> {
    let n = f.insns.len();
    if n == 0 {
        return Ok(());
    }
    let mut leader = vec![false; n + 1];
    leader[0] = true;
    let mut jump_to: Vec<Option<usize>> = vec![None; n];
    for i in 0..n {
        match &f.insns[i].effect.flow {
            Flow::Jump(t) | Flow::CondJump(t) => {
                let t = t.clone();
                jump_to[i] = target(i, &t)?;
                if let Some(k) = jump_to[i] {
                    leader[k] = true;
                }
                leader[i + 1] = true;
            }
            Flow::Return | Flow::IndirectJump | Flow::Stop => leader[i + 1] = true,
            Flow::Next | Flow::Call(_) => {}
        }
        if f.insns[i].entry {
            leader[i] = true;
        }
    }
    // Labels start blocks too: any instruction that is a branch target or
    // entry is already a leader; other labels do not change the graph.
    let mut block_of = vec![0usize; n + 1];
    let mut blocks: Vec<Block> = Vec::new();
    for i in 0..n {
        if leader[i] {
            blocks.push(Block {
                start: i,
                end: i,
                succs: Vec::new(),
                preds: Vec::new(),
                exit: None,
            });
        }
        let b = blocks.len() - 1;
        blocks[b].end = i + 1;
        block_of[i] = b;
    }
    let nb = blocks.len();
    #[allow(clippy::needless_range_loop)] // blocks[b] is written in the loop
    for b in 0..nb {
        let last = blocks[b].end - 1;
        let fall = if b + 1 < nb { Some(b + 1) } else { None };
        let mut succ = Vec::new();
        let mut exit = None;
        let mut add = |t: Option<usize>, ret: bool, succ: &mut Vec<usize>| match t {
            Some(k) => succ.push(k),
            None => {
                exit = Some(exit.unwrap_or(true) && ret);
            }
        };
        match &f.insns[last].effect.flow {
            Flow::Next | Flow::Call(_) => add(fall, false, &mut succ),
            Flow::Jump(_) => add(jump_to[last].map(|k| block_of[k]), false, &mut succ),
            Flow::CondJump(_) => {
                add(jump_to[last].map(|k| block_of[k]), false, &mut succ);
                add(fall, false, &mut succ);
            }
            Flow::Return => add(None, true, &mut succ),
            Flow::IndirectJump | Flow::Stop => add(None, false, &mut succ),
        }
        succ.dedup();
        blocks[b].succs = succ;
        blocks[b].exit = exit;
    }
    for b in 0..nb {
        for s in blocks[b].succs.clone() {
            blocks[s].preds.push(b);
        }
    }
    // The function start, and blocks nothing visible reaches, are entries.
    f.insns[0].entry = true;
    for blk in &blocks {
        if blk.preds.is_empty() {
            f.insns[blk.start].entry = true;
        }
    }
    f.blocks = blocks;
    Ok(())
}

fn build_objdump(p: &mut Program<'_>) {
    let stmts = &p.source.stmts;
    let mut funcs: Vec<Function> = Vec::new();
    let mut notes = Vec::new();
    for (i, s) in stmts.iter().enumerate() {
        match s.kind {
            StmtKind::Label(l) => funcs.push(new_function(l, s.line, s.addr)),
            StmtKind::Insn(m, ops) => {
                if funcs.is_empty() {
                    funcs.push(new_function("(top of file)", s.line, s.addr));
                }
                let effect = if m == "(bad)" {
                    notes.push(Note {
                        line: s.line,
                        message: "objdump could not decode this instruction: treated as unknown"
                            .into(),
                    });
                    Effect::unknown()
                } else {
                    match p.arch {
                        Arch::Aarch64 => crate::aarch64::classify(m, ops),
                        Arch::X86_64 => crate::x86::classify(m, ops, None),
                    }
                };
                let f = funcs.last_mut().expect("pushed above");
                f.insns.push(Insn {
                    stmt: i,
                    prefix_stmt: None,
                    effect,
                    entry: false,
                });
            }
            StmtKind::Directive(..) => {}
        }
    }
    // Address → (function, instruction).
    let mut at: HashMap<u64, (usize, usize)> = HashMap::new();
    for (fi, f) in funcs.iter().enumerate() {
        for (ii, insn) in f.insns.iter().enumerate() {
            if let Some(a) = stmts[insn.stmt].addr {
                at.insert(a, (fi, ii));
            }
        }
    }
    let hex = |t: &str| -> Option<u64> {
        let w = t.split_whitespace().next()?;
        u64::from_str_radix(w.trim_start_matches("0x"), 16).ok()
    };
    // Branches and calls into the middle of another function are entries,
    // and so is any address another instruction mentions (`adr`, an
    // unrecognised branch: `ADDR <sym+off>` in objdump's operands).
    let mut entries = Vec::new();
    for (fi, f) in funcs.iter().enumerate() {
        for insn in &f.insns {
            let t = match &insn.effect.flow {
                Flow::Jump(t) | Flow::CondJump(t) | Flow::Call(Some(t)) => t.as_str(),
                _ => {
                    if let StmtKind::Insn(_, ops) = stmts[insn.stmt].kind {
                        if let Some(k) = ops.find(" <") {
                            let word = ops[..k].rsplit([' ', ',', '\t']).next().unwrap_or("");
                            if let Some(&(g, ii)) = hex(word).and_then(|a| at.get(&a)) {
                                entries.push((g, ii));
                            }
                        }
                    }
                    continue;
                }
            };
            if let Some(&(g, ii)) = hex(t).and_then(|a| at.get(&a)) {
                let call = matches!(insn.effect.flow, Flow::Call(_));
                if g != fi || call {
                    entries.push((g, ii));
                }
            }
        }
    }
    for (g, ii) in entries {
        funcs[g].insns[ii].entry = true;
    }
    for (fi, f) in funcs.iter_mut().enumerate() {
        if f.insns.iter().any(|x| x.effect.flow == Flow::IndirectJump) {
            // Jump-table targets are invisible: anything may be entered.
            for x in &mut f.insns {
                x.entry = true;
            }
        }
        let r = build_blocks(f, |_, t| match hex(t).and_then(|a| at.get(&a)) {
            Some(&(g, ii)) if g == fi => Ok(Some(ii)),
            _ => Ok(None),
        });
        if let Err(e) = r {
            f.skipped = Some(e);
        }
    }
    p.functions = funcs;
    p.notes.extend(notes);
}

/// Maps a function name to its index (first definition wins).
pub fn function_index(p: &Program<'_>) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (i, f) in p.functions.iter().enumerate() {
        m.entry(f.name.clone()).or_insert(i);
        if let Some(a) = f.addr {
            m.entry(format!("{a:x}")).or_insert(i);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::split;

    fn prog(text: &str, arch: Arch) -> Program<'_> {
        build(split(text, arch), arch, false)
    }

    #[test]
    fn numeric_labels_resolve_to_the_nearest_definition() {
        let p = prog(
            "f:\n1:\n\tnop\n\tb 1f\n1:\n\tnop\n\tb 1b\n\tret\n",
            Arch::Aarch64,
        );
        let f = &p.functions[0];
        // Blocks: [nop, b 1f] [nop, b 1b] [ret]; 1f → block 1, 1b → block 1.
        assert_eq!(f.blocks.len(), 3);
        assert_eq!(f.blocks[0].succs, vec![1]);
        assert_eq!(f.blocks[1].succs, vec![1]);
        assert!(f.blocks[2].preds.is_empty() && f.insns[f.blocks[2].start].entry);
    }

    #[test]
    fn address_taken_labels_and_other_functions_branch_targets_are_entries() {
        let p = prog(
            "f:\n\tnop\n.L1:\n\tnop\n.L2:\n\tnop\n\tret\ng:\n\tb .L2\n\t.section .rodata\n\t.xword .L1\n",
            Arch::Aarch64,
        );
        let f = &p.functions[0];
        let entries: Vec<bool> = f.insns.iter().map(|x| x.entry).collect();
        assert_eq!(entries, vec![true, true, true, false]);
    }

    #[test]
    fn debug_section_references_are_not_entries() {
        let p = prog(
            "f:\n\tnop\n.LVL1:\n\tnop\n\tret\n\t.section .debug_loc\n\t.quad .LVL1\n",
            Arch::Aarch64,
        );
        let entries: Vec<bool> = p.functions[0].insns.iter().map(|x| x.entry).collect();
        assert_eq!(entries, vec![true, false, false]);
    }

    #[test]
    fn objdump_addresses_in_unknown_instructions_are_entries() {
        let text = "a:     file format elf64-littleaarch64\n0000000000000754 <f>:\n 754:\td503201f \tnop\n 758:\t54000001 \tb.any\t760 <f+0xc>\n 75c:\td503201f \tnop\n 760:\td503201f \tnop\n 764:\td65f03c0 \tret\n";
        let p = build(
            crate::source::split_objdump(text, Arch::Aarch64),
            Arch::Aarch64,
            true,
        );
        let entries: Vec<bool> = p.functions[0].insns.iter().map(|x| x.entry).collect();
        assert_eq!(entries, vec![true, false, false, true, false]);
    }

    #[test]
    fn odd_branch_targets_do_not_panic() {
        for t in ["1\u{e9}", "\u{e9}b", "1", "b", ".+8", "x+4"] {
            let text = format!("f:\n\tb {t}\nx:\n\tret\n");
            let _ = prog(&text, Arch::Aarch64);
        }
        let p = prog("f:\n\tb .+8\n\tret\n", Arch::Aarch64);
        assert!(p.functions[0]
            .skipped
            .as_deref()
            .unwrap()
            .contains("computed address"));
    }
}
