//! The execution engine: enumerates the candidate executions of a litmus
//! test, asks a memory model (a cat [`Model`](crate::cat::Model)) which are
//! allowed, and collects the final states of the allowed ones.
//!
//! Method (as herd7's, in a different order): each thread is first
//! explored symbolically ([`paths`]) — one path per control-flow outcome,
//! with the values of writes as expressions over the values of reads. A
//! candidate execution is then one path per thread, a reads-from source
//! for every read (a write to the same location, or its initial value), and
//! a coherence order per location (the initial write first). A candidate
//! whose read values contradict its paths' branch conditions, or whose
//! values depend on themselves, is not an execution.

pub mod paths;
pub mod sym;

use crate::cat::{Base, Model, StaticCache};
use crate::ir::{Tag, Value};
use crate::litmus::{LVal, Quantifier, Test};
use crate::rel::{EventSet, Relation};
use paths::{Kind, Path};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Options of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// herd7 variants (`mixed`, ...) visible to the model's `if "..."`.
    pub variants: HashSet<String>,
    /// How many times a backward branch may be taken (herd7: 2).
    pub unroll: u32,
    /// Give up after this many candidate executions.
    pub max_candidates: u64,
    /// Skip candidates that break coherence within a thread: a read
    /// reading a program-order-later write of its own thread, or an older
    /// write than its own thread's latest to the same place; and coherence
    /// orders that contradict program order between a thread's writes.
    /// Every built-in model forbids these (aarch64: `coRW1`, `coWR`,
    /// `coWW`; x86tso: `uniproc`; rc11: `coherence`; sc: `sc`), so for them
    /// this changes nothing but speed. Leave it off for other models.
    pub prune_coherence: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            variants: HashSet::new(),
            unroll: 2,
            max_candidates: 50_000_000,
            prune_coherence: false,
        }
    }
}

/// What was observed of a test under a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The lvals of each final state, in order.
    pub observed: Vec<LVal>,
    /// Distinct final states of allowed executions, with whether each
    /// satisfies the condition's proposition.
    pub states: BTreeMap<Vec<Value>, bool>,
    /// Allowed executions satisfying the proposition.
    pub positive: u64,
    /// Allowed executions not satisfying it.
    pub negative: u64,
    /// Flags raised by the model on allowed executions.
    pub flags: BTreeSet<String>,
    /// Whether some allowed execution is undefined (`undefined_unless`).
    pub undefined: bool,
    /// Candidate executions examined.
    pub candidates: u64,
    /// Whether some thread path was cut at the unrolling bound (herd7 then
    /// prints `Loop` before `Ok`/`No`).
    pub cutoff: bool,
}

/// herd7's `Observation` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// No allowed execution satisfies the proposition.
    Never,
    /// Some do, some do not.
    Sometimes,
    /// All do.
    Always,
}

impl Observation {
    /// The word herd7 prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Observation::Never => "Never",
            Observation::Sometimes => "Sometimes",
            Observation::Always => "Always",
        }
    }
}

impl Outcome {
    /// The observation.
    pub fn observation(&self) -> Observation {
        if self.positive == 0 {
            Observation::Never
        } else if self.negative == 0 {
            Observation::Always
        } else {
            Observation::Sometimes
        }
    }

    /// herd7's `Ok` (true) or `No` for the test's quantifier.
    pub fn ok(&self, q: Quantifier) -> bool {
        match q {
            Quantifier::Exists => self.positive > 0,
            Quantifier::NotExists => self.positive == 0,
            Quantifier::Forall => self.negative == 0,
        }
    }
}

/// Why a test could not be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// The test uses something the engine does not support (yet).
    Unsupported(String),
    /// The test is wrong (e.g. a condition on an unknown register).
    Invalid(String),
    /// The model failed on an execution.
    Model(String),
    /// Too many candidate executions.
    TooBig(u64),
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Unsupported(m) => write!(f, "unsupported: {m}"),
            ExecError::Invalid(m) => write!(f, "{m}"),
            ExecError::Model(m) => write!(f, "model error: {m}"),
            ExecError::TooBig(n) => write!(f, "gave up after {n} candidate executions"),
        }
    }
}

impl std::error::Error for ExecError {}

/// One event of a candidate execution: an initial write of a memory unit,
/// a fence, or one part of a thread's memory access (the whole access
/// unless the test is mixed-size).
struct GEvent {
    /// Thread, or `None` for an initial write.
    thread: Option<usize>,
    /// Index of the access in the thread's path (for an initial write: the
    /// unit).
    local: usize,
    kind: Kind,
    /// Memory unit (see [`Layout`]).
    unit: Option<usize>,
    /// Which part of its access (0 for the lowest address).
    part: usize,
}

/// How memory is cut into units, the granularity of reads-from and
/// coherence. Without `-variant mixed` a unit is a whole location; with
/// it, as in herd7, every access is split into parts of the granule size:
/// the smallest access size of the test, or half of it when all accesses
/// have the same size.
struct Layout {
    /// Granule in bytes; 0 when a unit is a whole location.
    granule: i64,
    /// Unit → (location index, byte offset).
    units: Vec<(usize, i64)>,
    index: HashMap<(usize, i64), usize>,
    /// Size in bytes of each location (mixed-size only).
    size: Vec<i64>,
    /// Whether each location's values read back signed.
    signed: Vec<bool>,
}

/// Size in bytes and signedness of a C-like type name.
fn type_size(ty: &str) -> Option<(i64, bool)> {
    let t = ty.trim();
    // `T[N]`: an array of N elements.
    if let Some(open) = t.find('[') {
        let n: i64 = t[open + 1..].trim_end_matches(']').trim().parse().ok()?;
        let (sz, signed) = type_size(&t[..open])?;
        return Some((sz * n, signed));
    }
    if t.ends_with('*') {
        return Some((8, false));
    }
    let t = t
        .trim_start_matches("volatile ")
        .trim_start_matches("_Atomic ")
        .trim_start_matches("atomic_");
    Some(match t {
        "uint8_t" | "unsigned char" | "uchar" => (1, false),
        "int8_t" | "char" => (1, true),
        "uint16_t" | "unsigned short" => (2, false),
        "int16_t" | "short" => (2, true),
        "uint32_t" | "unsigned" | "unsigned int" | "uint" => (4, false),
        "int32_t" | "int" => (4, true),
        "uint64_t" | "unsigned long" | "ulong" | "uintptr_t" => (8, false),
        "int64_t" | "long" | "intptr_t" | "long long" => (8, true),
        "uint128_t" | "__uint128" => (16, false),
        "int128_t" | "__int128" => (16, true),
        _ => return None,
    })
}

/// Runs `test` under `model`.
pub fn run(test: &Test, model: &Model, opts: &Options) -> Result<Outcome, ExecError> {
    let mixed = opts.variants.contains("mixed");
    if let Some(it) = test
        .init
        .iter()
        .find(|i| !mixed && i.ty.as_deref().is_some_and(|t| t.contains('[')))
    {
        return Err(ExecError::Unsupported(format!(
            "array location '{}' without -variant mixed ({}:{})",
            it.lval, it.pos.line, it.pos.col
        )));
    }
    // Locations and address constants.
    let mut locs: BTreeSet<String> = BTreeSet::new();
    let mut addresses: BTreeSet<Value> = BTreeSet::new();
    let mut mem_init: HashMap<String, Value> = HashMap::new();
    for it in &test.init {
        if let LVal::Loc(l) = &it.lval {
            locs.insert(l.clone());
            mem_init.insert(l.clone(), it.value.clone().unwrap_or(Value::ZERO));
        }
        if let Some(Value::Addr(l, _)) = &it.value {
            locs.insert(l.clone());
            addresses.insert(Value::Addr(l.clone(), 0));
        }
    }
    for t in &test.threads {
        for i in &t.code {
            collect_addrs(i, &mut |l| {
                locs.insert(l.to_string());
                addresses.insert(Value::Addr(l.to_string(), 0));
            });
        }
    }
    let observed = test.observed();
    let mut cond_lvals = observed.clone();
    if let Some(f) = &test.filter {
        f.lvals(&mut cond_lvals);
    }
    for l in &cond_lvals {
        if let LVal::Loc(x) = l {
            locs.insert(x.clone());
        }
    }
    // In a mixed-size test a computed address may point inside a location.
    if mixed {
        let sizes: HashMap<String, i64> = test
            .init
            .iter()
            .filter_map(|it| match (&it.lval, &it.ty) {
                (LVal::Loc(l), Some(t)) => type_size(t).map(|(s, _)| (l.clone(), s)),
                _ => None,
            })
            .collect();
        for l in locs.iter() {
            for o in 1..sizes.get(l).copied().unwrap_or(8) {
                addresses.insert(Value::Addr(l.clone(), o));
            }
        }
    }
    let addresses: Vec<Value> = addresses.into_iter().collect();

    // Symbolic paths of each thread.
    let mut thread_paths: Vec<Vec<Path>> = Vec::new();
    let mut any_cut = false;
    for (ti, t) in test.threads.iter().enumerate() {
        let init: Vec<Value> = t
            .regs
            .iter()
            .map(|r| reg_init(test, ti, r).unwrap_or(Value::ZERO))
            .collect();
        let (ps, cut) = paths::explore(t, &init, &addresses, opts.unroll, mixed).map_err(|e| {
            let p = t.pos.get(e.inst).copied().unwrap_or_default();
            ExecError::Unsupported(format!(
                "{}:{}: thread {}: {}",
                p.line, p.col, t.name, e.msg
            ))
        })?;
        any_cut |= cut;
        for p in &ps {
            for e in &p.events {
                if let Some(l) = &e.loc {
                    locs.insert(l.clone());
                }
            }
        }
        thread_paths.push(ps);
    }
    for l in &cond_lvals {
        if let LVal::Reg { thread, reg } = l {
            let t = &test.threads[*thread];
            if test.arch == crate::litmus::Arch::C && !t.regs.iter().any(|r| r == reg) {
                return Err(ExecError::Invalid(format!(
                    "condition names '{l}', but thread {} has no local '{reg}'",
                    t.name
                )));
            }
        }
    }
    let locs: Vec<String> = locs.into_iter().collect();
    let loc_index: HashMap<&str, usize> = locs
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let layout = make_layout(test, &locs, &loc_index, &thread_paths, mixed)?;

    let mut out = Outcome {
        observed: observed.clone(),
        states: BTreeMap::new(),
        positive: 0,
        negative: 0,
        flags: BTreeSet::new(),
        undefined: false,
        candidates: 0,
        cutoff: any_cut,
    };
    let mut choice = vec![0usize; thread_paths.len()];
    if thread_paths.iter().any(|p| p.is_empty()) {
        return Ok(out);
    }
    loop {
        let combo: Vec<&Path> = choice
            .iter()
            .enumerate()
            .map(|(t, &c)| &thread_paths[t][c])
            .collect();
        let mut c = Combo::new(test, &locs, &layout, &mem_init, &combo, opts)?;
        c.enumerate(model, &observed, &mut out)?;
        // Next combination.
        let mut t = 0;
        loop {
            if t == choice.len() {
                return Ok(out);
            }
            choice[t] += 1;
            if choice[t] < thread_paths[t].len() {
                break;
            }
            choice[t] = 0;
            t += 1;
        }
    }
}

fn collect_addrs(i: &crate::ir::Inst, f: &mut impl FnMut(&str)) {
    use crate::ir::{Expr, Inst, Operand};
    fn ex(e: &Expr, f: &mut impl FnMut(&str)) {
        match e {
            Expr::Op(Operand::Const(Value::Addr(l, _))) => f(l),
            Expr::Op(_) => {}
            Expr::Bin(_, a, b) => {
                ex(a, f);
                ex(b, f);
            }
            Expr::Un(_, a) => ex(a, f),
            Expr::Select(c, a, b) => {
                ex(c, f);
                ex(a, f);
                ex(b, f);
            }
        }
    }
    match i {
        Inst::Assign { expr, .. } => ex(expr, f),
        Inst::Load { addr, .. } => ex(addr, f),
        Inst::Store { addr, val, .. } | Inst::StoreExclusive { addr, val, .. } => {
            ex(addr, f);
            ex(val, f)
        }
        Inst::Rmw { addr, operand, .. } => {
            ex(addr, f);
            ex(operand, f)
        }
        Inst::Cas {
            addr,
            expected,
            new,
            ..
        } => {
            ex(addr, f);
            ex(expected, f);
            ex(new, f)
        }
        Inst::Branch { cond: Some(c), .. } => ex(c, f),
        _ => {}
    }
}

/// The initial value of register `reg` of thread `t`.
fn reg_init(test: &Test, t: usize, reg: &str) -> Option<Value> {
    test.init.iter().find_map(|it| match &it.lval {
        LVal::Reg { thread, reg: r } if *thread == t && r == reg => {
            Some(it.value.clone().unwrap_or(Value::ZERO))
        }
        _ => None,
    })
}

/// Cuts memory into units (see [`Layout`]).
fn make_layout(
    test: &Test,
    locs: &[String],
    loc_index: &HashMap<&str, usize>,
    paths: &[Vec<Path>],
    mixed: bool,
) -> Result<Layout, ExecError> {
    let mut layout = Layout {
        granule: 0,
        units: Vec::new(),
        index: HashMap::new(),
        size: vec![0; locs.len()],
        signed: vec![true; locs.len()],
    };
    for it in &test.init {
        if let (LVal::Loc(l), Some(ty)) = (&it.lval, &it.ty) {
            if let (Some(&i), Some((sz, signed))) = (loc_index.get(l.as_str()), type_size(ty)) {
                layout.size[i] = sz;
                layout.signed[i] = signed;
            }
        }
    }
    if !mixed {
        for i in 0..locs.len() {
            layout.index.insert((i, 0), i);
            layout.units.push((i, 0));
        }
        return Ok(layout);
    }
    let mut sizes = BTreeSet::new();
    let mut extent = vec![0i64; locs.len()];
    for ps in paths {
        for p in ps {
            for e in &p.events {
                if let Some(l) = &e.loc {
                    sizes.insert(e.width as i64);
                    let i = loc_index[l.as_str()];
                    extent[i] = extent[i].max(e.off + e.width as i64);
                }
            }
        }
    }
    let mut g = match sizes.len() {
        0 => 1,
        1 => (sizes.first().unwrap() / 2).max(1),
        _ => *sizes.first().unwrap(),
    };
    // A misaligned access (offset not a multiple of the granule) needs a
    // finer granule: the gcd keeps every access made of whole parts. The
    // final states are the same at any granule; only the number of
    // candidate executions (herd7's Positive/Negative) may then differ.
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    for ps in paths {
        for p in ps {
            for e in &p.events {
                if e.loc.is_some() && e.off > 0 {
                    g = gcd(g, e.off);
                }
            }
        }
    }
    layout.granule = g;
    for i in 0..locs.len() {
        if layout.size[i] == 0 {
            layout.size[i] = extent[i].max(8);
        }
        if extent[i] > layout.size[i] {
            return Err(ExecError::Unsupported(format!(
                "an access beyond the {} bytes of location '{}'",
                layout.size[i], locs[i]
            )));
        }
        let mut off = 0;
        while off < layout.size[i] {
            layout.index.insert((i, off), layout.units.len());
            layout.units.push((i, off));
            off += g;
        }
    }
    for ps in paths {
        for p in ps {
            for e in &p.events {
                let Some(l) = &e.loc else { continue };
                if e.off % g != 0 || e.width as i64 % g != 0 || e.off < 0 {
                    return Err(ExecError::Unsupported(format!(
                        "a {}-byte access at offset {} of '{l}' that is not aligned to the {g}-byte granule",
                        e.width, e.off
                    )));
                }
            }
        }
    }
    Ok(layout)
}

/// The `k`-th `g`-byte part of `v` (little-endian).
fn part_of(v: &Value, k: usize, g: i64) -> Option<Value> {
    match v {
        Value::Int(x) => {
            let shift = 8 * g * k as i64;
            let bits = if shift >= 64 { 0 } else { (*x as u64) >> shift };
            let mask = if 8 * g >= 64 {
                u64::MAX
            } else {
                (1u64 << (8 * g)) - 1
            };
            Some(Value::Int((bits & mask) as i64))
        }
        Value::Addr(..) => None,
    }
}

/// Reassembles little-endian `g`-byte parts.
fn compose(parts: &[Value], g: i64) -> Option<Value> {
    if g == 0 || parts.len() == 1 && g >= 8 {
        return parts.first().cloned();
    }
    let mut x: u64 = 0;
    for (k, p) in parts.iter().enumerate() {
        let Value::Int(v) = p else { return None };
        let shift = 8 * g * k as i64;
        if shift < 64 {
            x |= (*v as u64) << shift;
        }
    }
    Some(Value::Int(x as i64))
}

/// One combination of thread paths, with its events and static relations.
struct Combo<'a> {
    test: &'a Test,
    paths: Vec<&'a Path>,
    locs: &'a [String],
    layout: &'a Layout,
    events: Vec<GEvent>,
    /// Index of the first access of each thread in the flat access list.
    acc_off: Vec<usize>,
    /// Global events of each access (its parts).
    parts: Vec<Vec<usize>>,
    /// Initial value of each unit.
    init_vals: Vec<Value>,
    base: Base,
    reads: Vec<usize>,
    /// Candidate sources of each read part (indexed like `reads`).
    sources: Vec<Vec<usize>>,
    /// Candidate coherence orders of each unit's writes.
    co_orders: Vec<Vec<Vec<usize>>>,
    /// Without `-variant mixed`: a location these paths access with two
    /// sizes (an error, as in herd7, if some execution takes these paths).
    width_conflict: Option<String>,
    opts: &'a Options,
}

/// Every interleaving of the sequences `seqs` (each kept in order).
fn interleavings(seqs: &mut [Vec<usize>], cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if seqs.iter().all(|s| s.is_empty()) {
        out.push(cur.clone());
        return;
    }
    for i in 0..seqs.len() {
        if seqs[i].is_empty() {
            continue;
        }
        let x = seqs[i].remove(0);
        cur.push(x);
        interleavings(seqs, cur, out);
        cur.pop();
        seqs[i].insert(0, x);
    }
}

/// Every permutation of `xs`.
fn permutations(xs: &[usize]) -> Vec<Vec<usize>> {
    let mut seqs: Vec<Vec<usize>> = xs.iter().map(|&x| vec![x]).collect();
    let mut out = Vec::new();
    interleavings(&mut seqs, &mut Vec::new(), &mut out);
    out
}

impl<'a> Combo<'a> {
    fn new(
        test: &'a Test,
        locs: &'a [String],
        layout: &'a Layout,
        mem_init: &HashMap<String, Value>,
        paths: &[&'a Path],
        opts: &'a Options,
    ) -> Result<Self, ExecError> {
        let g = layout.granule;
        let mut events = Vec::new();
        let mut init_vals = Vec::new();
        for (u, &(li, off)) in layout.units.iter().enumerate() {
            events.push(GEvent {
                thread: None,
                local: u,
                kind: Kind::W,
                unit: Some(u),
                part: 0,
            });
            let v = mem_init.get(&locs[li]).cloned().unwrap_or(Value::ZERO);
            let v = if g == 0 {
                v
            } else {
                part_of(&v, (off / g) as usize, g).ok_or_else(|| {
                    ExecError::Unsupported(format!(
                        "a pointer value in mixed-size location '{}'",
                        locs[li]
                    ))
                })?
            };
            init_vals.push(v);
        }
        let mut acc_off = Vec::new();
        let mut parts: Vec<Vec<usize>> = Vec::new();
        let loc_of = |l: &str| locs.iter().position(|x| x == l).unwrap();
        for (t, p) in paths.iter().enumerate() {
            acc_off.push(parts.len());
            for (li, e) in p.events.iter().enumerate() {
                let mut mine = Vec::new();
                match &e.loc {
                    None => {
                        mine.push(events.len());
                        events.push(GEvent {
                            thread: Some(t),
                            local: li,
                            kind: e.kind,
                            unit: None,
                            part: 0,
                        });
                    }
                    Some(l) => {
                        let base = loc_of(l);
                        let n = if g == 0 {
                            1
                        } else {
                            (e.width as i64 / g) as usize
                        };
                        for k in 0..n {
                            let off = if g == 0 { 0 } else { e.off + k as i64 * g };
                            let unit = layout.index[&(base, off)];
                            mine.push(events.len());
                            events.push(GEvent {
                                thread: Some(t),
                                local: li,
                                kind: e.kind,
                                unit: Some(unit),
                                part: k,
                            });
                        }
                    }
                }
                parts.push(mine);
            }
        }
        let n = events.len();
        let pev =
            |g: &GEvent| -> Option<&paths::PEvent> { g.thread.map(|t| &paths[t].events[g.local]) };
        let mut sets: HashMap<String, EventSet> = HashMap::new();
        for name in KNOWN_SETS {
            sets.insert(name.to_string(), EventSet::empty(n));
        }
        let set = |name: &str, i: usize, sets: &mut HashMap<String, EventSet>| {
            sets.entry(name.to_string())
                .or_insert_with(|| EventSet::empty(n))
                .insert(i);
        };
        let mut po = Relation::empty(n);
        let mut loc = Relation::empty(n);
        let mut ext = Relation::empty(n);
        let mut same_instance = Relation::empty(n);
        let mut sm = Relation::empty(n);
        for (i, ge) in events.iter().enumerate() {
            match ge.kind {
                Kind::R => {
                    set("R", i, &mut sets);
                    set("M", i, &mut sets);
                    set("Exp", i, &mut sets);
                }
                Kind::W => {
                    set("W", i, &mut sets);
                    set("M", i, &mut sets);
                    if ge.thread.is_none() {
                        set("IW", i, &mut sets);
                    } else {
                        set("Exp", i, &mut sets);
                    }
                }
                Kind::F => set("F", i, &mut sets),
            }
            if let Some(e) = pev(ge) {
                for t in &e.tags {
                    set(t, i, &mut sets);
                    if *t == "X" {
                        set("EX", i, &mut sets);
                    }
                }
            }
            for (j, h) in events.iter().enumerate() {
                if ge.unit.is_some() && ge.unit == h.unit {
                    loc.insert(i, j);
                }
                if ge.thread != h.thread || ge.thread.is_none() {
                    ext.insert(i, j);
                }
                match (ge.thread, h.thread) {
                    (Some(a), Some(b)) if a == b => {
                        let same = pev(ge).unwrap().instance == pev(h).unwrap().instance;
                        if ge.local < h.local && !same {
                            po.insert(i, j);
                        }
                        if same {
                            same_instance.insert(i, j);
                        }
                        if ge.local == h.local && ge.kind != Kind::F {
                            sm.insert(i, j);
                        }
                    }
                    (None, None) if i == j => sm.insert(i, j),
                    _ => {}
                }
            }
        }
        let mut addr = Relation::empty(n);
        let mut data = Relation::empty(n);
        let mut ctrl = Relation::empty(n);
        let mut paddr = Relation::empty(n);
        let mut pdata = Relation::empty(n);
        let mut pctrl = Relation::empty(n);
        let mut amo = Relation::empty(n);
        let mut lxsx = Relation::empty(n);
        for (t, p) in paths.iter().enumerate() {
            let off = acc_off[t];
            for (li, e) in p.events.iter().enumerate() {
                let targets = &parts[off + li];
                let add = |deps: u64, r: &mut Relation, mem_only: bool| {
                    if mem_only && e.kind == Kind::F {
                        return;
                    }
                    let mut d = deps;
                    while d != 0 {
                        let k = d.trailing_zeros() as usize;
                        d &= d - 1;
                        if k != li {
                            for &src in &parts[off + k] {
                                for &dst in targets {
                                    r.insert(src, dst);
                                }
                            }
                        }
                    }
                };
                add(e.addr, &mut addr, true);
                add(e.data, &mut data, true);
                add(e.ctrl, &mut ctrl, false);
                add(e.pick_addr, &mut paddr, true);
                add(e.pick_data, &mut pdata, true);
                add(e.pick_ctrl, &mut pctrl, false);
                if let Some(r) = e.amo_of {
                    for &a in &parts[off + r] {
                        for &b in targets {
                            if events[a].unit == events[b].unit {
                                amo.insert(a, b);
                            }
                        }
                    }
                }
                if let Some(r) = e.lxsx_of {
                    for &a in &parts[off + r] {
                        for &b in targets {
                            lxsx.insert(a, b);
                        }
                    }
                }
            }
        }
        let int = ext.complement();
        let mut rels: HashMap<String, Relation> = HashMap::new();
        rels.insert("sm".into(), sm);
        rels.insert("id".into(), Relation::identity(n));
        rels.insert("po".into(), po);
        rels.insert("loc".into(), loc);
        rels.insert("ext".into(), ext);
        rels.insert("int".into(), int);
        rels.insert("same-instance".into(), same_instance);
        rels.insert("addr".into(), addr);
        rels.insert("data".into(), data);
        rels.insert("ctrl".into(), ctrl);
        rels.insert("pick-addr-dep".into(), paddr);
        rels.insert("pick-data-dep".into(), pdata);
        rels.insert("pick-ctrl-dep".into(), pctrl);
        rels.insert("rmw".into(), amo.union(&lxsx));
        rels.insert("amo".into(), amo);
        rels.insert("lxsx".into(), lxsx);
        for name in ["rf", "co", "fr"] {
            rels.insert(name.into(), Relation::empty(n));
        }
        sets.insert("FW".into(), EventSet::empty(n));
        let base = Base {
            n,
            sets,
            rels,
            variants: opts.variants.clone(),
        };
        let reads: Vec<usize> = (0..n).filter(|&i| events[i].kind == Kind::R).collect();
        let mut writes_by_unit = vec![Vec::new(); layout.units.len()];
        for (i, ge) in events.iter().enumerate() {
            if ge.kind == Kind::W && ge.thread.is_some() {
                writes_by_unit[ge.unit.unwrap()].push(i);
            }
        }
        let prune = opts.prune_coherence;
        let po_rel = &base.rels["po"];
        let sources: Vec<Vec<usize>> = reads
            .iter()
            .map(|&r| {
                let u = events[r].unit.unwrap();
                let ws = &writes_by_unit[u];
                if !prune {
                    return std::iter::once(u).chain(ws.iter().copied()).collect();
                }
                // The latest own write before the read, or else the initial write.
                let own_before = ws
                    .iter()
                    .copied()
                    .filter(|&w| po_rel.contains(w, r))
                    .max_by_key(|&w| events[w].local);
                let mut c = vec![own_before.unwrap_or(u)];
                c.extend(ws.iter().copied().filter(|&w| {
                    events[w].thread != events[r].thread
                        || !(po_rel.contains(w, r) || po_rel.contains(r, w))
                }));
                c
            })
            .collect();
        let co_orders: Vec<Vec<Vec<usize>>> = writes_by_unit
            .iter()
            .map(|ws| {
                if !prune {
                    return permutations(ws);
                }
                let mut by_thread: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                for &w in ws {
                    by_thread
                        .entry(events[w].thread.unwrap())
                        .or_default()
                        .push(w);
                }
                let mut seqs: Vec<Vec<usize>> = by_thread.into_values().collect();
                let mut out = Vec::new();
                interleavings(&mut seqs, &mut Vec::new(), &mut out);
                out
            })
            .collect();
        let mut width_conflict = None;
        if g == 0 {
            let mut width: HashMap<&str, u8> = HashMap::new();
            for p in paths {
                for e in &p.events {
                    let Some(l) = &e.loc else { continue };
                    let w = *width.entry(l.as_str()).or_insert(e.width);
                    if w != e.width && width_conflict.is_none() {
                        width_conflict = Some(format!(
                            "location '{l}' is accessed with {w} and {} bytes: a mixed-size test, run it with -variant mixed",
                            e.width
                        ));
                    }
                }
            }
        }
        Ok(Combo {
            width_conflict,
            test,
            paths: paths.to_vec(),
            locs,
            layout,
            events,
            acc_off,
            parts,
            init_vals,
            base,
            reads,
            sources,
            co_orders,
            opts,
        })
    }

    fn enumerate(
        &mut self,
        model: &Model,
        observed: &[LVal],
        out: &mut Outcome,
    ) -> Result<(), ExecError> {
        let mut rf = vec![usize::MAX; self.events.len()];
        let mut cache = StaticCache::default();
        self.rf_choice(0, &mut rf, model, &mut cache, observed, out)
    }

    fn rf_choice(
        &mut self,
        k: usize,
        rf: &mut Vec<usize>,
        model: &Model,
        cache: &mut StaticCache,
        observed: &[LVal],
        out: &mut Outcome,
    ) -> Result<(), ExecError> {
        if k < self.reads.len() {
            let r = self.reads[k];
            for i in 0..self.sources[k].len() {
                rf[r] = self.sources[k][i];
                self.rf_choice(k + 1, rf, model, cache, observed, out)?;
            }
            return Ok(());
        }
        // All reads have a source: compute values, check path conditions.
        let Some(vals) = self.values(rf) else {
            return Ok(());
        };
        for (t, p) in self.paths.iter().enumerate() {
            let off = self.acc_off[t];
            for (c, want) in &p.constraints {
                let v = sym::eval(c, &mut |n| vals[off + n as usize].clone());
                match v {
                    Some(v) if sym::truthy(&v) == *want => {}
                    _ => return Ok(()),
                }
            }
        }
        if let Some(m) = &self.width_conflict {
            return Err(ExecError::Invalid(m.clone()));
        }
        let n = self.events.len();
        let rf_rel = Relation::from_pairs(n, self.reads.iter().map(|&r| (rf[r], r)));
        let mut orders: Vec<Vec<usize>> = vec![Vec::new(); self.co_orders.len()];
        self.co_choice(
            0,
            &mut orders,
            &rf_rel,
            rf,
            &vals,
            model,
            cache,
            observed,
            out,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn co_choice(
        &mut self,
        l: usize,
        orders: &mut Vec<Vec<usize>>,
        rf: &Relation,
        rf_of: &[usize],
        vals: &[Option<Value>],
        model: &Model,
        cache: &mut StaticCache,
        observed: &[LVal],
        out: &mut Outcome,
    ) -> Result<(), ExecError> {
        if l < orders.len() {
            for i in 0..self.co_orders[l].len() {
                orders[l].clone_from(&self.co_orders[l][i]);
                self.co_choice(l + 1, orders, rf, rf_of, vals, model, cache, observed, out)?;
            }
            return Ok(());
        }
        out.candidates += 1;
        if out.candidates > self.opts.max_candidates {
            return Err(ExecError::TooBig(out.candidates));
        }
        let n = self.events.len();
        let mut co = Relation::empty(n);
        let mut fw = EventSet::empty(n);
        for (unit, ord) in orders.iter().enumerate() {
            let chain: Vec<usize> = std::iter::once(unit).chain(ord.iter().copied()).collect();
            for a in 0..chain.len() {
                for b in a + 1..chain.len() {
                    co.insert(chain[a], chain[b]);
                }
            }
            fw.insert(*chain.last().unwrap());
        }
        let fr = rf.inverse().seq(&co).diff(&Relation::identity(n));
        self.base.rels.insert("rf".into(), rf.clone());
        self.base.rels.insert("co".into(), co);
        self.base.rels.insert("fr".into(), fr);
        self.base.sets.insert("FW".into(), fw);
        let verdict = model
            .check_with_cache(&self.base, cache, &["rf", "co", "fr", "FW"])
            .map_err(|e| ExecError::Model(e.to_string()))?;
        let _ = rf_of;
        // Final values of every unit, then of every location.
        let unit_final: Vec<Value> = orders
            .iter()
            .enumerate()
            .map(|(u, ord)| match ord.last() {
                Some(&w) => self.part_value(w, vals).unwrap_or(Value::ZERO),
                None => self.init_vals[u].clone(),
            })
            .collect();
        let get = |lv: &LVal| -> Value { self.lookup(lv, vals, &unit_final) };
        if !verdict.allowed {
            if std::env::var_os("LOCI_DEBUG").is_some() && self.test.condition.eval(&get) {
                eprintln!(
                    "forbidden by {:?}: rf={:?} co={:?}",
                    verdict.failed, self.base.rels["rf"], self.base.rels["co"]
                );
            }
            return Ok(());
        }
        if let Some(f) = &self.test.filter {
            if !f.eval(&get) {
                return Ok(());
            }
        }
        for f in verdict.flags {
            out.flags.insert(f);
        }
        if !verdict.undefined.is_empty() {
            out.undefined = true;
        }
        let state: Vec<Value> = observed.iter().map(get).collect();
        let sat = self.test.condition.eval(&get);
        if sat {
            out.positive += 1;
        } else {
            out.negative += 1;
        }
        out.states.insert(state, sat);
        Ok(())
    }

    /// The value of write part `w` (its unit's share of the written value).
    fn part_value(&self, w: usize, vals: &[Option<Value>]) -> Option<Value> {
        let ge = &self.events[w];
        match ge.thread {
            None => Some(self.init_vals[ge.local].clone()),
            Some(t) => {
                let v = vals[self.acc_off[t] + ge.local].clone()?;
                if self.layout.granule == 0 {
                    Some(v)
                } else {
                    part_of(&v, ge.part, self.layout.granule)
                }
            }
        }
    }

    fn lookup(&self, lv: &LVal, vals: &[Option<Value>], unit_final: &[Value]) -> Value {
        match lv {
            LVal::Loc(l) => match self.locs.iter().position(|x| x == l) {
                Some(i) => {
                    let g = self.layout.granule;
                    if g == 0 {
                        return unit_final[i].clone();
                    }
                    let size = self.layout.size[i];
                    let ps: Vec<Value> = (0..size / g)
                        .map(|k| unit_final[self.layout.index[&(i, k * g)]].clone())
                        .collect();
                    let v = compose(&ps, g).unwrap_or(Value::ZERO);
                    let bits = (size * 8) as u8;
                    let op = if self.layout.signed[i] {
                        crate::ir::UnOp::SignExt(bits)
                    } else {
                        crate::ir::UnOp::ZeroExt(bits)
                    };
                    if size < 8 {
                        sym::apply_un(op, &v).unwrap_or(v)
                    } else {
                        v
                    }
                }
                None => Value::ZERO,
            },
            LVal::Reg { thread, reg } => {
                let t = &self.test.threads[*thread];
                let canon =
                    crate::front::canonical_reg(self.test.arch, reg).unwrap_or_else(|| reg.clone());
                match t.regs.iter().position(|r| *r == canon) {
                    Some(ri) => {
                        let s = &self.paths[*thread].regs[ri];
                        let off = self.acc_off[*thread];
                        sym::eval(s, &mut |n| vals[off + n as usize].clone()).unwrap_or(Value::ZERO)
                    }
                    None => reg_init(self.test, *thread, &canon).unwrap_or(Value::ZERO),
                }
            }
        }
    }

    /// The value of every access (writes: the written value; reads: the
    /// value read, reassembled from its parts) under `rf`, indexed like
    /// `parts`; `None` when values depend on themselves.
    fn values(&self, rf: &[usize]) -> Option<Vec<Option<Value>>> {
        let na = self.parts.len();
        let mut vals: Vec<Option<Value>> = vec![None; na];
        let mut state = vec![0u8; na];
        for t in 0..self.paths.len() {
            for (li, e) in self.paths[t].events.iter().enumerate() {
                if e.kind != Kind::F {
                    self.value(t, li, rf, &mut vals, &mut state)?;
                }
            }
        }
        Some(vals)
    }

    fn value(
        &self,
        t: usize,
        li: usize,
        rf: &[usize],
        vals: &mut Vec<Option<Value>>,
        state: &mut Vec<u8>,
    ) -> Option<Value> {
        let a = self.acc_off[t] + li;
        match state[a] {
            2 => return vals[a].clone(),
            1 => return None,
            _ => {}
        }
        state[a] = 1;
        let e = &self.paths[t].events[li];
        let v = match e.kind {
            Kind::R => {
                let mut ps = Vec::new();
                for &p in &self.parts[a] {
                    let w = rf[p];
                    let src = &self.events[w];
                    if let Some(st) = src.thread {
                        self.value(st, src.local, rf, vals, state)?;
                    }
                    ps.push(self.part_value(w, vals)?);
                }
                compose(&ps, self.layout.granule)
            }
            Kind::W => {
                let s = e.val.as_ref().unwrap();
                let mut bad = false;
                let r = sym::eval(s, &mut |k| {
                    let v = self.value(t, k as usize, rf, vals, state);
                    if v.is_none() {
                        bad = true;
                    }
                    v
                });
                if bad {
                    None
                } else {
                    r
                }
            }
            Kind::F => None,
        };
        v.as_ref()?;
        state[a] = 2;
        vals[a] = v.clone();
        v
    }
}

/// Event sets every candidate execution defines (empty when no event
/// carries the tag), so that models may name them unconditionally.
pub const KNOWN_SETS: &[Tag] = &[
    "R",
    "W",
    "M",
    "F",
    "IW",
    "Exp",
    "NExp",
    "B",
    "EX",
    "X",
    "A",
    "L",
    "Q",
    "NoRet",
    "DMB.SY",
    "DMB.ST",
    "DMB.LD",
    "DMB.ISH",
    "DMB.ISHST",
    "DMB.ISHLD",
    "DMB.OSH",
    "DMB.OSHST",
    "DMB.OSHLD",
    "DMB.NSH",
    "DMB.NSHST",
    "DMB.NSHLD",
    "DSB.SY",
    "DSB.ST",
    "DSB.LD",
    "DSB.ISH",
    "DSB.ISHST",
    "DSB.ISHLD",
    "DSB.OSH",
    "DSB.OSHST",
    "DSB.OSHLD",
    "DSB.NSH",
    "DSB.NSHST",
    "DSB.NSHLD",
    "ISB",
    "MFENCE",
    "LFENCE",
    "SFENCE",
    "RLX",
    "ACQ",
    "REL",
    "ACQ_REL",
    "SC",
    "NA",
    "RMW",
];
