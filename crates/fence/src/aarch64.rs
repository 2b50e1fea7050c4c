//! AArch64 instructions → [`Effect`]s, following the Armv8 memory model
//! (Arm ARM B2.3; herd7's `aarch64.cat`, whose `bob` relation lists what
//! each barrier and each acquire/release access orders):
//!
//! - `DMB`/`DSB` full (`SY`, `ISH`, `OSH`, `NSH`): every pair of accesses
//!   across it; `…LD`: a load before it with anything after; `…ST`: a store
//!   with a store. The option's shareability domain is kept.
//! - `LDAR`/`LDAPR` and acquire atomics (`[A|Q]; po; [M]`): the load itself
//!   is ordered before everything after it.
//! - `STLR` and release atomics (`[M]; po; [L]`): the store is ordered
//!   after everything before it.
//! - Atomics with both (`…AL`): their store is ordered before everything
//!   after (`[range([A]; amo; [L])]; po; [M]`).
//!
//! Only `DMB`s are rewrite candidates: `DSB` and `ISB` also order
//! non-memory effects (TLB and cache maintenance, system registers) and are
//! kept. Instructions not listed here are unknown: they may access memory
//! and may order it, so they stop every argument that crosses them.

use crate::effect::*;

fn dmb_option(op: &str) -> Option<(Classes, Domain)> {
    let op = op.trim().to_ascii_lowercase();
    let op = op.as_str();
    let full = ALL_CLASSES;
    let ld = FROM_LOAD;
    let st = 1 << Class::WW as u8;
    Some(match op {
        "" | "sy" | "#15" | "#0xf" => (full, Domain::Sy),
        "st" | "#14" | "#0xe" => (st, Domain::Sy),
        "ld" | "#13" | "#0xd" => (ld, Domain::Sy),
        "ish" | "#11" | "#0xb" => (full, Domain::Ish),
        "ishst" | "#10" | "#0xa" => (st, Domain::Ish),
        "ishld" | "#9" | "#0x9" => (ld, Domain::Ish),
        "nsh" | "#7" | "#0x7" => (full, Domain::Nsh),
        "nshst" | "#6" | "#0x6" => (st, Domain::Nsh),
        "nshld" | "#5" | "#0x5" => (ld, Domain::Nsh),
        "osh" | "#3" | "#0x3" => (full, Domain::Osh),
        "oshst" | "#2" | "#0x2" => (st, Domain::Osh),
        "oshld" | "#1" | "#0x1" => (ld, Domain::Osh),
        _ => return None,
    })
}

/// The `dmb` option text for a class set and domain, if one exists.
pub fn dmb_option_name(classes: Classes, domain: Domain) -> Option<&'static str> {
    let st = 1 << Class::WW as u8;
    Some(match (classes, domain) {
        (ALL_CLASSES, Domain::Sy) => "sy",
        (ALL_CLASSES, Domain::Ish) => "ish",
        (ALL_CLASSES, Domain::Osh) => "osh",
        (ALL_CLASSES, Domain::Nsh) => "nsh",
        (FROM_LOAD, Domain::Sy) => "ld",
        (FROM_LOAD, Domain::Ish) => "ishld",
        (FROM_LOAD, Domain::Osh) => "oshld",
        (FROM_LOAD, Domain::Nsh) => "nshld",
        (c, Domain::Sy) if c == st => "st",
        (c, Domain::Ish) if c == st => "ishst",
        (c, Domain::Osh) if c == st => "oshst",
        (c, Domain::Nsh) if c == st => "nshst",
        _ => return None,
    })
}

const CONDS: [&str; 18] = [
    "eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le",
    "al", "nv",
];

/// Data-processing, FP/SIMD, hint and other instructions known to neither
/// access memory nor order it.
const PURE: &[&str] = &[
    "add",
    "adds",
    "sub",
    "subs",
    "adc",
    "adcs",
    "sbc",
    "sbcs",
    "neg",
    "negs",
    "ngc",
    "ngcs",
    "mul",
    "mneg",
    "madd",
    "msub",
    "smaddl",
    "smsubl",
    "umaddl",
    "umsubl",
    "smull",
    "umull",
    "smnegl",
    "umnegl",
    "smulh",
    "umulh",
    "sdiv",
    "udiv",
    "and",
    "ands",
    "orr",
    "orn",
    "eor",
    "eon",
    "bic",
    "bics",
    "mvn",
    "tst",
    "lsl",
    "lsr",
    "asr",
    "ror",
    "lslv",
    "lsrv",
    "asrv",
    "rorv",
    "mov",
    "movz",
    "movn",
    "movk",
    "adr",
    "adrp",
    "cmp",
    "cmn",
    "ccmp",
    "ccmn",
    "csel",
    "csinc",
    "csinv",
    "csneg",
    "cset",
    "csetm",
    "cinc",
    "cinv",
    "cneg",
    "ubfx",
    "sbfx",
    "ubfiz",
    "sbfiz",
    "bfi",
    "bfxil",
    "bfc",
    "bfm",
    "ubfm",
    "sbfm",
    "extr",
    "sxtb",
    "sxth",
    "sxtw",
    "uxtb",
    "uxth",
    "clz",
    "cls",
    "rbit",
    "rev",
    "rev16",
    "rev32",
    "rev64",
    "nop",
    "yield",
    "hint",
    "isb",
    "csdb",
    "ssbb",
    "pssbb",
    "sb",
    "wfe",
    "wfi",
    "sev",
    "sevl",
    "esb",
    "bti",
    "paciasp",
    "pacibsp",
    "autiasp",
    "autibsp",
    "paciaz",
    "pacibz",
    "autiaz",
    "autibz",
    "pacia",
    "pacib",
    "autia",
    "autib",
    "pacda",
    "pacdb",
    "autda",
    "autdb",
    "paciza",
    "pacizb",
    "pacdza",
    "pacdzb",
    "autiza",
    "autizb",
    "xpaclri",
    "xpaci",
    "xpacd",
    "pacga",
    "clrex",
    "cfinv",
    "setf8",
    "setf16",
    "rmif",
    "axflag",
    "xaflag",
    "crc32b",
    "crc32h",
    "crc32w",
    "crc32x",
    "crc32cb",
    "crc32ch",
    "crc32cw",
    "crc32cx",
    "abs",
    "cnt",
    "ctz",
    "smax",
    "smin",
    "umax",
    "umin",
    "dup",
    "ins",
    "umov",
    "smov",
    "movi",
    "mvni",
    "ext",
    "zip1",
    "zip2",
    "uzp1",
    "uzp2",
    "trn1",
    "trn2",
    "tbl",
    "tbx",
    "addp",
    "addv",
    "uaddlv",
    "saddlv",
    "smaxv",
    "sminv",
    "umaxv",
    "uminv",
    "cmeq",
    "cmge",
    "cmgt",
    "cmhi",
    "cmhs",
    "cmle",
    "cmlt",
    "cmtst",
    "bsl",
    "bit",
    "bif",
    "shl",
    "sshr",
    "ushr",
    "ssra",
    "usra",
    "srshr",
    "urshr",
    "sshll",
    "sshll2",
    "ushll",
    "ushll2",
    "sxtl",
    "sxtl2",
    "uxtl",
    "uxtl2",
    "xtn",
    "xtn2",
    "sqxtn",
    "uqxtn",
    "sqxtun",
    "shrn",
    "shrn2",
    "rshrn",
    "rshrn2",
    "sli",
    "sri",
    "not",
    "saddl",
    "saddl2",
    "uaddl",
    "uaddl2",
    "saddw",
    "uaddw",
    "ssubl",
    "usubl",
    "smlal",
    "smlal2",
    "umlal",
    "umlal2",
    "smlsl",
    "umlsl",
    "smull2",
    "umull2",
    "mla",
    "mls",
    "sqadd",
    "uqadd",
    "sqsub",
    "uqsub",
    "shadd",
    "uhadd",
    "srhadd",
    "urhadd",
    "sabd",
    "uabd",
    "saba",
    "uaba",
    "sadalp",
    "uadalp",
    "saddlp",
    "uaddlp",
    "addhn",
    "subhn",
    "raddhn",
    "pmul",
    "pmull",
    "pmull2",
    "aese",
    "aesd",
    "aesmc",
    "aesimc",
    "sha1c",
    "sha1h",
    "sha1m",
    "sha1p",
    "sha1su0",
    "sha1su1",
    "sha256h",
    "sha256h2",
    "sha256su0",
    "sha256su1",
    "sha512h",
    "sha512h2",
    "sha512su0",
    "sha512su1",
    "eor3",
    "bcax",
    "rax1",
    "xar",
    "scvtf",
    "ucvtf",
    "sqdmulh",
    "sqrdmulh",
    "sdot",
    "udot",
    "usdot",
    "sudot",
    "smmla",
    "ummla",
    "addhn2",
    "cnth",
    "cntb",
    "cntw",
    "cntd",
    "ptrue",
    "whilelo",
    "whilelt",
    "incb",
    "incd",
    "inch",
    "incw",
    "decb",
    "decd",
    "dech",
    "decw",
    "uqxtn2",
    "sqxtn2",
];

fn pure_set() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| PURE.iter().copied().collect())
}

/// Classifies one AArch64 instruction.
pub fn classify(mnemonic: &str, ops: &str) -> Effect {
    let mut buf = [0u8; 32];
    let lower;
    let m: &str =
        if mnemonic.len() <= buf.len() && !mnemonic.bytes().any(|b| b.is_ascii_uppercase()) {
            mnemonic
        } else if mnemonic.len() <= buf.len() {
            for (d, s) in buf.iter_mut().zip(mnemonic.bytes()) {
                *d = s.to_ascii_lowercase();
            }
            std::str::from_utf8(&buf[..mnemonic.len()]).unwrap_or(mnemonic)
        } else {
            lower = mnemonic.to_ascii_lowercase();
            lower.as_str()
        };
    match m {
        "dmb" | "dsb" => {
            return match dmb_option(ops) {
                Some((classes, domain)) => Effect::barrier(Barrier {
                    op: if m == "dmb" {
                        BarrierOp::Dmb
                    } else {
                        BarrierOp::Dsb
                    },
                    provides: classes,
                    needs: classes,
                    domain,
                }),
                None => Effect::unknown(),
            }
        }
        "b" => return branch(ops, false),
        "bl" => return Effect::none().with_flow(Flow::Call(target(ops))),
        "blr" | "blraa" | "blrab" | "blraaz" | "blrabz" => {
            return Effect::none().with_flow(Flow::Call(None))
        }
        "br" | "braa" | "brab" | "braaz" | "brabz" => {
            return Effect::none().with_flow(Flow::IndirectJump)
        }
        "ret" | "retaa" | "retab" => return Effect::none().with_flow(Flow::Return),
        "eret" | "eretaa" | "eretab" | "brk" | "udf" | "hlt" | "dcps1" | "dcps2" | "dcps3" => {
            return Effect::none().with_flow(Flow::Stop)
        }
        "cbz" | "cbnz" | "tbz" | "tbnz" => {
            let t = crate::source::operands(ops).last().map(|s| s.to_string());
            return match t {
                Some(t) if !t.is_empty() => Effect::none().with_flow(Flow::CondJump(t)),
                _ => Effect::unknown(),
            };
        }
        "mrs" => {
            let reg = crate::source::operands(ops)
                .get(1)
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            return match reg.as_str() {
                "tpidr_el0" | "tpidrro_el0" | "nzcv" | "fpcr" | "fpsr" | "cntvct_el0"
                | "cntfrq_el0" | "ctr_el0" | "dczid_el0" | "midr_el1" | "mpidr_el1" => {
                    Effect::none()
                }
                _ => Effect::unknown(),
            };
        }
        "prfm" | "prfum" | "prfb" | "prfh" | "prfw" | "prfd" => return Effect::none(),
        _ => {}
    }
    if let Some(c) = m.strip_prefix("b.").or_else(|| m.strip_prefix("bc.")) {
        if CONDS.contains(&c) {
            return branch(ops, c != "al");
        }
    }
    if m.len() == 3 && m.starts_with('b') && CONDS.contains(&&m[1..]) {
        return branch(ops, &m[1..] != "al");
    }
    if pure_set().contains(m) || is_fp(m) {
        return Effect::none();
    }
    if let Some(e) = atomic(m, ops) {
        return e;
    }
    if let Some(e) = load_store(m) {
        return e;
    }
    Effect::unknown()
}

fn target(ops: &str) -> Option<String> {
    let t = ops.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn branch(ops: &str, conditional: bool) -> Effect {
    match target(ops) {
        Some(t) if conditional => Effect::none().with_flow(Flow::CondJump(t)),
        Some(t) => Effect::none().with_flow(Flow::Jump(t)),
        None => Effect::unknown(),
    }
}

/// Floating-point data processing (register only).
fn is_fp(m: &str) -> bool {
    const FP: &[&str] = &[
        "fmov", "fadd", "fsub", "fmul", "fdiv", "fnmul", "fmadd", "fmsub", "fnmadd", "fnmsub",
        "fabs", "fneg", "fsqrt", "fmax", "fmin", "fmaxnm", "fminnm", "fcmp", "fcmpe", "fccmp",
        "fccmpe", "fcsel", "fabd", "fmla", "fmls", "faddp", "fmaxp", "fminp", "fmaxnmp", "fminnmp",
        "fmulx", "frecpe", "frecps", "frecpx", "frsqrte", "frsqrts", "fcmeq", "fcmge", "fcmgt",
        "fcmle", "fcmlt", "facge", "facgt", "fjcvtzs", "fmaxv", "fminv", "fmaxnmv", "fminnmv",
    ];
    FP.contains(&m) || m.starts_with("fcvt") || m.starts_with("frint")
}

/// An access: `read` = Some(acquire?), `write` = Some(release?).
fn access(read: Option<bool>, write: Option<bool>, amo_al: bool, noret: bool) -> Effect {
    let mut e = Effect::none();
    if let Some(acq) = read {
        e.loads = true;
        if !acq || noret {
            e.kill_in |= FROM_LOAD;
        }
        if noret {
            // A no-return atomic's read is not ordered by DMB LD (`R \
            // NoRet` in bob): count it as a store-side access too.
            e.kill_in |= FROM_STORE;
        }
        e.kill_out |= TO_LOAD;
    }
    if let Some(rel) = write {
        e.stores = true;
        if !amo_al {
            e.kill_in |= FROM_STORE;
        }
        if !rel {
            e.kill_out |= TO_STORE;
        }
    }
    e
}

fn is_zero_register(r: Option<&&str>) -> bool {
    r.is_some_and(|r| matches!(r.trim().to_ascii_lowercase().as_str(), "wzr" | "xzr"))
}

/// LSE atomics: `ldadd`/`swp`/`cas` … with `a`, `l`, `al` and `b`/`h`
/// suffixes; `stadd` … (no return value). With the zero register as
/// destination an `…A`/`…AL` form loses its acquire semantics (Arm ARM,
/// LDADD: "if the destination register is not one of WZR or XZR, LDADDA
/// and LDADDAL load from memory with acquire semantics"): it is then a
/// no-return read.
fn atomic(m: &str, ops: &str) -> Option<Effect> {
    const RMW: [&str; 11] = [
        "ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin", "swp", "casp",
        "cas",
    ];
    const NORET: [&str; 8] = [
        "stadd", "stclr", "steor", "stset", "stsmax", "stsmin", "stumax", "stumin",
    ];
    for p in RMW {
        if let Some(rest) = m.strip_prefix(p) {
            let (a, l) = suffix(rest)?;
            let args = crate::source::operands(ops);
            // The register that receives the old value: Rt for LD<op> and
            // SWP, Rs for CAS.
            let dest = if p.starts_with("cas") {
                args.first()
            } else {
                args.get(1)
            };
            if p != "casp" && is_zero_register(dest) {
                return Some(access(Some(false), Some(l), false, true));
            }
            return Some(access(Some(a), Some(l), a && l, false));
        }
    }
    for p in NORET {
        if let Some(rest) = m.strip_prefix(p) {
            let (a, l) = suffix(rest)?;
            if a {
                return None;
            }
            return Some(access(Some(false), Some(l), false, true));
        }
    }
    None
}

/// Splits an atomic's suffix into (acquire, release), after an optional
/// `b`/`h` size.
fn suffix(rest: &str) -> Option<(bool, bool)> {
    let rest = rest
        .strip_suffix('b')
        .or_else(|| rest.strip_suffix('h'))
        .unwrap_or(rest);
    match rest {
        "" => Some((false, false)),
        "a" => Some((true, false)),
        "l" => Some((false, true)),
        "al" => Some((true, true)),
        _ => None,
    }
}

fn load_store(m: &str) -> Option<Effect> {
    // Memory tagging (writes tags, `stzg` zeroes memory): unknown.
    if m.starts_with("ldg")
        || m.starts_with("stg")
        || m.starts_with("stzg")
        || m.starts_with("st2g")
        || m.starts_with("stz2g")
    {
        return None;
    }
    let strip_size = |s: &str| -> bool { matches!(s, "" | "b" | "h" | "sb" | "sh" | "sw" | "p") };
    // Exclusives and acquire/release.
    if let Some(r) = m.strip_prefix("ldaxr").or_else(|| m.strip_prefix("ldaxp")) {
        return strip_size(r).then(|| access(Some(true), None, false, false));
    }
    if let Some(r) = m.strip_prefix("ldxr").or_else(|| m.strip_prefix("ldxp")) {
        return strip_size(r).then(|| access(Some(false), None, false, false));
    }
    if let Some(r) = m.strip_prefix("stlxr").or_else(|| m.strip_prefix("stlxp")) {
        return strip_size(r).then(|| access(None, Some(true), false, false));
    }
    if let Some(r) = m.strip_prefix("stxr").or_else(|| m.strip_prefix("stxp")) {
        return strip_size(r).then(|| access(None, Some(false), false, false));
    }
    for p in ["ldapur", "ldapr", "ldar"] {
        if let Some(r) = m.strip_prefix(p) {
            return strip_size(r).then(|| access(Some(true), None, false, false));
        }
    }
    for p in ["stlur", "stlr"] {
        if let Some(r) = m.strip_prefix(p) {
            return strip_size(r).then(|| access(None, Some(true), false, false));
        }
    }
    // LORegion forms (`ldlar`, `stllr`) order only inside a limited
    // region: plain accesses for us.
    if let Some(r) = m.strip_prefix("ldlar") {
        return strip_size(r).then(|| access(Some(false), None, false, false));
    }
    if let Some(r) = m.strip_prefix("stllr") {
        return strip_size(r).then(|| access(None, Some(false), false, false));
    }
    // Plain loads and stores, scalar, pair, unprivileged, non-temporal,
    // SIMD structure and SVE contiguous forms.
    const LOADS: [&str; 10] = [
        "ldr", "ldur", "ldp", "ldnp", "ldtr", "ld1", "ld2", "ld3", "ld4", "ldff1",
    ];
    const LOADS2: [&str; 2] = ["ldnf1", "ldnt1"];
    const STORES: [&str; 9] = [
        "str", "stur", "stp", "stnp", "sttr", "st1", "st2", "st3", "st4",
    ];
    if LOADS.iter().chain(LOADS2.iter()).any(|p| m.starts_with(p)) {
        return Some(access(Some(false), None, false, false));
    }
    if STORES.iter().any(|p| m.starts_with(p)) || m.starts_with("stnt1") {
        return Some(access(None, Some(false), false, false));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(m: &str, o: &str) -> Effect {
        classify(m, o)
    }

    #[test]
    fn barriers() {
        let b = e("dmb", "ishst").barrier.unwrap();
        assert_eq!(b.op, BarrierOp::Dmb);
        assert_eq!(b.provides, 1 << Class::WW as u8);
        assert_eq!(b.domain, Domain::Ish);
        let b = e("DMB", "ISHLD").barrier.unwrap();
        assert_eq!(b.provides, FROM_LOAD);
        let b = e("dsb", "sy").barrier.unwrap();
        assert_eq!(b.op, BarrierOp::Dsb);
        assert!(!b.is_candidate());
        assert_eq!(e("dmb", "#11").barrier.unwrap().domain, Domain::Ish);
        assert!(e("dmb", "#12").unknown, "reserved option is unknown");
        assert_eq!(dmb_option_name(FROM_LOAD, Domain::Ish), Some("ishld"));
    }

    #[test]
    fn accesses() {
        let l = e("ldr", "w0, [x1]");
        assert_eq!((l.kill_in, l.kill_out), (FROM_LOAD, TO_LOAD));
        let a = e("ldar", "w0, [x1]");
        assert_eq!((a.kill_in, a.kill_out), (0, TO_LOAD));
        let s = e("stp", "x29, x30, [sp, -16]!");
        assert_eq!((s.kill_in, s.kill_out), (FROM_STORE, TO_STORE));
        let r = e("stlr", "w0, [x1]");
        assert_eq!((r.kill_in, r.kill_out), (FROM_STORE, 0));
        let al = e("ldaddal", "w0, w1, [x2]");
        assert_eq!((al.kill_in, al.kill_out), (0, TO_LOAD));
        let plain = e("swpb", "w0, w1, [x2]");
        assert_eq!((plain.kill_in, plain.kill_out), (ALL_CLASSES, ALL_CLASSES));
        let noret = e("staddl", "w0, [x2]");
        assert_eq!((noret.kill_in, noret.kill_out), (ALL_CLASSES, TO_LOAD));
        assert_eq!(e("casal", "w0, w1, [x2]").kill_in, 0);
        // Zero destination: no acquire, no-return read.
        let zr = e("ldaddal", "w1, wzr, [x0]");
        assert_eq!((zr.kill_in, zr.kill_out), (ALL_CLASSES, TO_LOAD));
        assert_eq!(e("swpal", "w1, wzr, [x0]").kill_in, ALL_CLASSES);
        assert_eq!(e("casal", "wzr, w1, [x0]").kill_in, ALL_CLASSES);
        assert_eq!(e("ldaxr", "w0, [x1]").kill_in, 0);
        assert_eq!(e("stlxr", "w2, w0, [x1]").kill_out, 0);
        assert_eq!(e("ld1", "{v0.16b}, [x0]").kill_in, FROM_LOAD);
        assert!(e("stzg", "x0, [x0]").unknown);
        assert!(e("stadda", "w0, [x0]").unknown);
    }

    #[test]
    fn flow_and_unknowns() {
        assert_eq!(e("b.ne", ".L3").flow, Flow::CondJump(".L3".into()));
        assert_eq!(e("bne", ".L3").flow, Flow::CondJump(".L3".into()));
        assert_eq!(e("b", ".L3").flow, Flow::Jump(".L3".into()));
        assert_eq!(e("cbz", "w0, .L5").flow, Flow::CondJump(".L5".into()));
        assert_eq!(e("tbnz", "w0, #3, 1f").flow, Flow::CondJump("1f".into()));
        assert_eq!(e("bl", "foo").flow, Flow::Call(Some("foo".into())));
        assert_eq!(e("br", "x16").flow, Flow::IndirectJump);
        assert_eq!(e("ret", "").flow, Flow::Return);
        assert!(!e("add", "x0, x0, 1").accesses());
        assert!(!e("fmadd", "d0, d1, d2, d3").accesses());
        assert!(!e("mrs", "x0, tpidr_el0").accesses());
        assert!(e("msr", "tpidr_el0, x0").unknown);
        assert!(e("svc", "#0").unknown);
        assert!(e("dc", "zva, x0").unknown);
        assert!(e("frobnicate", "x0").unknown);
        assert!(e("cpyp", "[x0]!, [x1]!, x2!").unknown);
    }
}
