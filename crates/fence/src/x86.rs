//! x86-64 instructions (AT&T syntax) → [`Effect`]s, following x86-TSO
//! (Sewell, Sarkar, Owens, Zappa Nardelli, Myreen: "x86-TSO", CACM 2010):
//! the machine orders every pair of accesses except a store followed by a
//! load, so only that class (W→R) ever needs a barrier. `MFENCE` and locked
//! instructions (the `lock` prefix, `XCHG` with memory) order it; the
//! rewrite candidates are `MFENCE` and the `lock or/add $0, (%rsp)` idiom.
//!
//! Non-temporal stores, string instructions (fast-string stores are weakly
//! ordered), `CLFLUSH*`, `SFENCE`/`LFENCE` (kept for non-temporal stores and
//! speculation), system calls and the like are unknown: they stop every
//! argument that crosses them.

use crate::effect::*;
use crate::source::operands;

const PREFIXES: [&str; 15] = [
    "lock", "rep", "repe", "repz", "repne", "repnz", "notrack", "bnd", "data16", "addr32", "cs",
    "ds", "es", "xacquire", "xrelease",
];

/// Whether `word` is an instruction prefix that may stand alone (`lock;`).
pub fn is_prefix(word: &str) -> bool {
    PREFIXES.contains(&word.to_ascii_lowercase().as_str())
}

const JCC: [&str; 32] = [
    "ja", "jae", "jb", "jbe", "jc", "jcxz", "jecxz", "jrcxz", "je", "jg", "jge", "jl", "jle",
    "jna", "jnae", "jnb", "jnbe", "jnc", "jne", "jng", "jnge", "jnl", "jnle", "jno", "jnp", "jns",
    "jnz", "jo", "jp", "jpe", "jpo", "js",
];

/// Instructions that access memory without a memory operand, or that are
/// weakly ordered or serialising: unknown.
const UNKNOWN_PREFIXES: [&str; 31] = [
    "movnt",
    "vmovnt",
    "clflush",
    "clwb",
    "clzero",
    "sfence",
    "lfence",
    "maskmov",
    "vmaskmovdqu",
    "syscall",
    "sysenter",
    "sysexit",
    "sysret",
    "xsave",
    "xrstor",
    "fxsave",
    "fxrstor",
    "wrmsr",
    "rdmsr",
    "movdir",
    "enqcmd",
    "xbegin",
    "xend",
    "xabort",
    "iret",
    "monitor",
    "mwait",
    "umonitor",
    "umwait",
    "wbinvd",
    "wbnoinvd",
];
const UNKNOWN_EXACT: [&str; 9] = [
    "cpuid",
    "int",
    "into",
    "in",
    "out",
    "invd",
    "invlpg",
    "tpause",
    "serialize",
];
const STRING_OPS: [&str; 7] = ["movs", "stos", "lods", "cmps", "scas", "ins", "outs"];
/// Read their last (AT&T destination) operand without writing it (exact
/// mnemonics: `cmpxchg`, `cmps`, `btr`… do write).
fn is_read_only(m: &str) -> bool {
    matches!(
        m,
        "cmp"
            | "cmpb"
            | "cmpw"
            | "cmpl"
            | "cmpq"
            | "test"
            | "testb"
            | "testw"
            | "testl"
            | "testq"
            | "bt"
            | "btw"
            | "btl"
            | "btq"
            | "ucomiss"
            | "ucomisd"
            | "comiss"
            | "comisd"
            | "vucomiss"
            | "vucomisd"
            | "vcomiss"
            | "vcomisd"
            | "ptest"
            | "vptest"
    )
}

/// Classifies one x86-64 instruction; `prefix` is a standalone prefix
/// statement just before it (`lock;`), if any.
pub fn classify(mnemonic: &str, ops: &str, prefix: Option<&str>) -> Effect {
    let mut words: Vec<String> = Vec::new();
    if let Some(p) = prefix {
        words.push(p.to_ascii_lowercase());
    }
    words.push(mnemonic.to_ascii_lowercase());
    // `lock addl $0, (%rsp)` arrives as mnemonic `lock`, operands `addl …`.
    let mut ops = ops.trim();
    while words.last().is_some_and(|w| is_prefix(w)) && !ops.is_empty() {
        let (w, rest) = match ops.find(|c: char| c.is_ascii_whitespace()) {
            Some(k) => (&ops[..k], ops[k..].trim()),
            None => (ops, ""),
        };
        words.push(w.to_ascii_lowercase());
        ops = rest;
    }
    let m = words.last().cloned().unwrap_or_default();
    let locked = words[..words.len() - 1].iter().any(|w| w == "lock");
    let rep = words[..words.len() - 1]
        .iter()
        .any(|w| w.starts_with("rep"));
    let m = m.as_str();
    let args = operands(ops);

    // Control flow.
    if m == "jmp" || m == "jmpq" {
        return if ops.starts_with('*') {
            Effect::none().with_flow(Flow::IndirectJump)
        } else if ops.is_empty() {
            Effect::unknown()
        } else {
            Effect::none().with_flow(Flow::Jump(ops.to_string()))
        };
    }
    // Every other `j…` is a conditional jump (`jz`, `jnae`, `jne,pt`…).
    if JCC.contains(&m)
        || m.starts_with('j')
        || matches!(m, "loop" | "loope" | "loopne" | "loopz" | "loopnz")
    {
        return if ops.is_empty() || ops.starts_with('*') {
            Effect::unknown().with_flow(Flow::IndirectJump)
        } else {
            Effect::none().with_flow(Flow::CondJump(ops.to_string()))
        };
    }
    if m == "call" || m == "callq" {
        // Pushes the return address: a store.
        let mut e = store_effect();
        e.flow = Flow::Call((!ops.starts_with('*') && !ops.is_empty()).then(|| ops.to_string()));
        return e;
    }
    if matches!(m, "ret" | "retq" | "retl" | "retn") {
        let mut e = load_effect();
        e.flow = Flow::Return;
        return e;
    }
    if matches!(m, "ud2" | "hlt" | "int3" | "ud1" | "ud0") {
        return Effect::none().with_flow(Flow::Stop);
    }
    if m == "mfence" {
        return Effect::barrier(Barrier {
            op: BarrierOp::Mfence,
            provides: ALL_CLASSES,
            needs: 1 << Class::WR as u8,
            domain: Domain::Sy,
        });
    }
    if rep
        || UNKNOWN_EXACT.contains(&m)
        || UNKNOWN_PREFIXES.iter().any(|p| m.starts_with(p))
        || (args.is_empty() && STRING_OPS.iter().any(|p| m.starts_with(p)))
        || m == "xlat"
        || m == "xlatb"
    {
        return Effect::unknown();
    }
    if m.starts_with("nop")
        || (m.starts_with("lea") && !m.starts_with("leave"))
        || m.starts_with("prefetch")
        || m == "endbr64"
        || m == "pause"
    {
        return Effect::none();
    }
    let mem: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| is_memory_operand(a))
        .map(|(i, _)| i)
        .collect();
    let xchg = m.starts_with("xchg");
    if (locked || xchg) && !mem.is_empty() {
        let fence_idiom = locked
            && (m.starts_with("or") || m.starts_with("add"))
            && args.len() == 2
            && is_zero_immediate(args[0])
            && is_stack_slot(args[1]);
        let mut e = Effect::barrier(Barrier {
            op: if fence_idiom {
                BarrierOp::LockedFence
            } else {
                BarrierOp::Locked
            },
            provides: ALL_CLASSES,
            needs: 1 << Class::WR as u8,
            domain: Domain::Sy,
        });
        e.loads = true;
        e.stores = true;
        return e;
    }
    if locked {
        // `lock` on something without a memory operand does not assemble
        // to anything we know.
        return Effect::unknown();
    }
    // Implicit stack accesses.
    let base = m.trim_end_matches(['q', 'l', 'w']);
    match base {
        "push" | "pushf" | "enter" => {
            let mut e = store_effect();
            if !mem.is_empty() {
                e.loads = true;
            }
            return e;
        }
        "pop" | "popf" | "leave" => {
            let mut e = load_effect();
            if !mem.is_empty() {
                e.stores = true;
                e.kill_in |= 1 << Class::WR as u8;
            }
            return e;
        }
        _ => {}
    }
    if mem.is_empty() {
        return Effect::none();
    }
    let last = args.len() - 1;
    let read_only = is_read_only(m);
    let writes = mem.contains(&last) && !read_only;
    let reads = mem.iter().any(|&i| i != last) || !m.starts_with("mov") || !writes;
    let mut e = Effect::none();
    if reads {
        e = merge(e, load_effect());
    }
    if writes {
        e = merge(e, store_effect());
    }
    e
}

fn merge(mut a: Effect, b: Effect) -> Effect {
    a.kill_in |= b.kill_in;
    a.kill_out |= b.kill_out;
    a.loads |= b.loads;
    a.stores |= b.stores;
    a
}

/// A TSO load: ordered before everything after it; not ordered after an
/// earlier store (W→R).
fn load_effect() -> Effect {
    Effect {
        loads: true,
        kill_out: 1 << Class::WR as u8,
        ..Effect::none()
    }
}

/// A TSO store: ordered after everything before it; not ordered before a
/// later load (W→R).
fn store_effect() -> Effect {
    Effect {
        stores: true,
        kill_in: 1 << Class::WR as u8,
        ..Effect::none()
    }
}

/// `(…)`, `sym`, `sym(%rip)`, `0x10`, `%fs:0x28`: anything but `$imm`,
/// `%reg` and `*` branch operands.
fn is_memory_operand(a: &str) -> bool {
    let a = a.trim();
    if a.is_empty() || a.starts_with('$') || a.starts_with('*') || a.starts_with('{') {
        return false;
    }
    if let Some(r) = a.strip_prefix('%') {
        return r.contains(':');
    }
    true
}

fn is_zero_immediate(a: &str) -> bool {
    matches!(a.trim(), "$0" | "$0x0" | "$0x00")
}

fn is_stack_slot(a: &str) -> bool {
    let a = a.trim();
    a.ends_with("(%rsp)") || a.ends_with("(%esp)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(m: &str, o: &str) -> Effect {
        classify(m, o, None)
    }
    const WR: Classes = 1 << Class::WR as u8;

    #[test]
    fn tso_accesses() {
        let l = e("movl", "(%rdi), %eax");
        assert_eq!(
            (l.kill_in, l.kill_out, l.loads, l.stores),
            (0, WR, true, false)
        );
        let s = e("movl", "%eax, (%rdi)");
        assert_eq!(
            (s.kill_in, s.kill_out, s.loads, s.stores),
            (WR, 0, false, true)
        );
        let rmw = e("addl", "$1, counter(%rip)");
        assert_eq!((rmw.kill_in, rmw.kill_out), (WR, WR));
        assert!(!e("leaq", "8(%rsp), %rdi").accesses());
        assert!(!e("nopw", "0x0(%rax,%rax,1)").accesses());
        assert!(!e("addq", "$8, %rsp").accesses());
        let cmp = e("cmpl", "$0, (%rdi)");
        assert_eq!((cmp.loads, cmp.stores), (true, false));
        // Unlocked cmpxchg writes its destination (found by a real-program
        // test: an MFENCE after it was wrongly judged redundant).
        for (m, o) in [
            ("cmpxchgl", "%ecx, (%rdi)"),
            ("cmpxchg8b", "(%rdi)"),
            ("cmpxchg16b", "(%rdi)"),
        ] {
            let x = e(m, o);
            assert_eq!((x.loads, x.stores, x.kill_in), (true, true, WR), "{m}");
        }
        assert!(e("btsl", "$3, (%rdi)").stores);
        assert_eq!(e("pushq", "%rbp").kill_in, WR);
        assert_eq!(e("movq", "%fs:40, %rax").kill_out, WR);
    }

    #[test]
    fn fences_and_locked() {
        let f = e("mfence", "").barrier.unwrap();
        assert_eq!((f.op, f.needs), (BarrierOp::Mfence, WR));
        let l = e("lock", "xaddl %eax, (%rdi)");
        assert_eq!(l.barrier.unwrap().op, BarrierOp::Locked);
        assert_eq!((l.kill_in, l.kill_out), (0, 0));
        let l = classify("addl", "$0, (%rsp)", Some("lock"));
        assert_eq!(l.barrier.unwrap().op, BarrierOp::LockedFence);
        assert_eq!(
            e("lock", "orq $0x0,(%rsp)").barrier.unwrap().op,
            BarrierOp::LockedFence
        );
        assert_eq!(
            e("xchgl", "%eax, (%rdi)").barrier.unwrap().op,
            BarrierOp::Locked
        );
        assert!(e("xchgl", "%eax, %ebx").barrier.is_none());
        assert!(e("movntil", "%eax, (%rdi)").unknown);
        assert!(e("rep", "stosq").unknown);
        assert!(e("movsb", "").unknown);
        assert!(!e("movsbl", "%al, %eax").accesses());
        assert!(e("sfence", "").unknown);
        assert!(e("iretq", "").unknown);
        assert!(e("mwaitx", "").unknown);
    }

    #[test]
    fn flow() {
        assert_eq!(e("jne", ".L3").flow, Flow::CondJump(".L3".into()));
        assert_eq!(e("jmp", ".L3").flow, Flow::Jump(".L3".into()));
        assert_eq!(e("jmp", "*%rax").flow, Flow::IndirectJump);
        assert_eq!(e("notrack", "jmp *%rax").flow, Flow::IndirectJump);
        assert_eq!(e("call", "foo").flow, Flow::Call(Some("foo".into())));
        assert_eq!(e("call", "*%rax").flow, Flow::Call(None));
        assert_eq!(e("ret", "").flow, Flow::Return);
        assert_eq!(e("ud2", "").flow, Flow::Stop);
        assert_eq!(e("jz", ".L3").flow, Flow::CondJump(".L3".into()));
        assert_eq!(e("jnae", ".L3").flow, Flow::CondJump(".L3".into()));
        // `leave` pops: a load, not an address computation.
        assert!(e("leave", "").loads);
        assert!(e("leaveq", "").loads);
    }
}
