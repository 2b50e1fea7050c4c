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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            variants: HashSet::new(),
            unroll: 2,
            max_candidates: 50_000_000,
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

/// One event of a candidate execution.
struct GEvent {
    thread: Option<usize>,
    local: usize,
    kind: Kind,
    loc: Option<usize>,
}

/// Runs `test` under `model`.
pub fn run(test: &Test, model: &Model, opts: &Options) -> Result<Outcome, ExecError> {
    if opts.variants.contains("mixed") {
        return Err(ExecError::Unsupported(
            "mixed-size accesses (-variant mixed) are not supported yet".into(),
        ));
    }
    if let Some(it) = test
        .init
        .iter()
        .find(|i| i.ty.as_deref().is_some_and(|t| t.contains('[')))
    {
        return Err(ExecError::Unsupported(format!(
            "array location '{}' ({}:{})",
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
    let addresses: Vec<Value> = addresses.into_iter().collect();

    // Symbolic paths of each thread.
    let mut thread_paths: Vec<Vec<Path>> = Vec::new();
    for (ti, t) in test.threads.iter().enumerate() {
        let init: Vec<Value> = t
            .regs
            .iter()
            .map(|r| reg_init(test, ti, r).unwrap_or(Value::ZERO))
            .collect();
        let ps = paths::explore(t, &init, &addresses, opts.unroll).map_err(|e| {
            let p = t.pos.get(e.inst).copied().unwrap_or_default();
            ExecError::Unsupported(format!(
                "{}:{}: thread {}: {}",
                p.line, p.col, t.name, e.msg
            ))
        })?;
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

    let mut out = Outcome {
        observed: observed.clone(),
        states: BTreeMap::new(),
        positive: 0,
        negative: 0,
        flags: BTreeSet::new(),
        undefined: false,
        candidates: 0,
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
        let mut c = Combo::new(test, &locs, &loc_index, &mem_init, &combo, opts);
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

/// One combination of thread paths, with its events and static relations.
struct Combo<'a> {
    test: &'a Test,
    paths: Vec<&'a Path>,
    locs: &'a [String],
    events: Vec<GEvent>,
    /// Global index of the first event of each thread.
    offset: Vec<usize>,
    init_vals: Vec<Value>,
    base: Base,
    reads: Vec<usize>,
    writes_by_loc: Vec<Vec<usize>>,
    opts: &'a Options,
}

impl<'a> Combo<'a> {
    fn new(
        test: &'a Test,
        locs: &'a [String],
        loc_index: &HashMap<&str, usize>,
        mem_init: &HashMap<String, Value>,
        paths: &[&'a Path],
        opts: &'a Options,
    ) -> Self {
        let mut events = Vec::new();
        let mut init_vals = Vec::new();
        for (i, l) in locs.iter().enumerate() {
            events.push(GEvent {
                thread: None,
                local: i,
                kind: Kind::W,
                loc: Some(i),
            });
            init_vals.push(mem_init.get(l).cloned().unwrap_or(Value::ZERO));
        }
        let mut offset = Vec::new();
        for (t, p) in paths.iter().enumerate() {
            offset.push(events.len());
            for (li, e) in p.events.iter().enumerate() {
                events.push(GEvent {
                    thread: Some(t),
                    local: li,
                    kind: e.kind,
                    loc: e.loc.as_ref().map(|l| loc_index[l.as_str()]),
                });
            }
        }
        let n = events.len();
        let mut sets: HashMap<String, EventSet> = HashMap::new();
        let set = |name: &str, i: usize, sets: &mut HashMap<String, EventSet>| {
            sets.entry(name.to_string())
                .or_insert_with(|| EventSet::empty(n))
                .insert(i);
        };
        for name in KNOWN_SETS {
            sets.insert(name.to_string(), EventSet::empty(n));
        }
        let mut rels: HashMap<String, Relation> = HashMap::new();
        let mut po = Relation::empty(n);
        let mut loc = Relation::empty(n);
        let mut ext = Relation::empty(n);
        let mut same_instance = Relation::empty(n);
        let mut addr = Relation::empty(n);
        let mut data = Relation::empty(n);
        let mut ctrl = Relation::empty(n);
        let mut paddr = Relation::empty(n);
        let mut pdata = Relation::empty(n);
        let mut pctrl = Relation::empty(n);
        let mut amo = Relation::empty(n);
        let mut lxsx = Relation::empty(n);
        let tag_of =
            |g: &GEvent| -> Option<&paths::PEvent> { g.thread.map(|t| &paths[t].events[g.local]) };
        for (i, g) in events.iter().enumerate() {
            match g.kind {
                Kind::R => {
                    set("R", i, &mut sets);
                    set("M", i, &mut sets);
                    set("Exp", i, &mut sets);
                }
                Kind::W => {
                    set("W", i, &mut sets);
                    set("M", i, &mut sets);
                    if g.thread.is_none() {
                        set("IW", i, &mut sets);
                    } else {
                        set("Exp", i, &mut sets);
                    }
                }
                Kind::F => set("F", i, &mut sets),
            }
            if let Some(e) = tag_of(g) {
                for t in &e.tags {
                    set(t, i, &mut sets);
                    if *t == "X" {
                        set("EX", i, &mut sets);
                    }
                }
            }
            for (j, h) in events.iter().enumerate() {
                if g.loc.is_some() && g.loc == h.loc {
                    loc.insert(i, j);
                }
                if g.thread != h.thread || g.thread.is_none() {
                    ext.insert(i, j);
                }
                if let (Some(a), Some(b)) = (g.thread, h.thread) {
                    let same = tag_of(g).unwrap().instance == tag_of(h).unwrap().instance;
                    if a == b && g.local < h.local && !same {
                        po.insert(i, j);
                    }
                    if a == b && tag_of(g).unwrap().instance == tag_of(h).unwrap().instance {
                        same_instance.insert(i, j);
                    }
                }
            }
        }
        for (t, p) in paths.iter().enumerate() {
            let off = offset[t];
            for (li, e) in p.events.iter().enumerate() {
                let j = off + li;
                let add = |deps: u64, r: &mut Relation, mem_only: bool| {
                    if mem_only && e.kind == Kind::F {
                        return;
                    }
                    let mut d = deps;
                    while d != 0 {
                        let k = d.trailing_zeros() as usize;
                        d &= d - 1;
                        if k != li {
                            r.insert(off + k, j);
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
                    amo.insert(off + r, j);
                }
                if let Some(r) = e.lxsx_of {
                    lxsx.insert(off + r, j);
                }
            }
        }
        let int = ext.complement();
        let m = sets["M"].clone();
        rels.insert("sm".into(), Relation::id_on(&m));
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
        let mut writes_by_loc = vec![Vec::new(); locs.len()];
        for (i, g) in events.iter().enumerate() {
            if g.kind == Kind::W && g.thread.is_some() {
                writes_by_loc[g.loc.unwrap()].push(i);
            }
        }
        Combo {
            test,
            paths: paths.to_vec(),
            locs,
            events,
            offset,
            init_vals,
            base,
            reads,
            writes_by_loc,
            opts,
        }
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
            let l = self.events[r].loc.unwrap();
            let mut cands = vec![l]; // the initial write of `l` has index `l`
            cands.extend(self.writes_by_loc[l].iter().copied());
            for w in cands {
                rf[r] = w;
                self.rf_choice(k + 1, rf, model, cache, observed, out)?;
            }
            return Ok(());
        }
        // All reads have a source: compute values, check path conditions.
        let Some(vals) = self.values(rf) else {
            return Ok(());
        };
        for (t, p) in self.paths.iter().enumerate() {
            for (c, want) in &p.constraints {
                let v = sym::eval(c, &mut |n| vals[self.offset[t] + n as usize].clone());
                match v {
                    Some(v) if sym::truthy(&v) == *want => {}
                    _ => return Ok(()),
                }
            }
        }
        let n = self.events.len();
        let rf_rel = Relation::from_pairs(n, self.reads.iter().map(|&r| (rf[r], r)));
        // Coherence orders: per location, every permutation of its writes.
        let mut orders: Vec<Vec<usize>> = self.writes_by_loc.clone();
        self.co_choice(0, &mut orders, &rf_rel, &vals, model, cache, observed, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn co_choice(
        &mut self,
        l: usize,
        orders: &mut Vec<Vec<usize>>,
        rf: &Relation,
        vals: &[Option<Value>],
        model: &Model,
        cache: &mut StaticCache,
        observed: &[LVal],
        out: &mut Outcome,
    ) -> Result<(), ExecError> {
        if l < orders.len() {
            // Heap's algorithm over orders[l].
            let k = orders[l].len();
            let mut c = vec![0usize; k];
            self.co_choice(l + 1, orders, rf, vals, model, cache, observed, out)?;
            let mut i = 0;
            while i < k {
                if c[i] < i {
                    if i % 2 == 0 {
                        orders[l].swap(0, i);
                    } else {
                        orders[l].swap(c[i], i);
                    }
                    self.co_choice(l + 1, orders, rf, vals, model, cache, observed, out)?;
                    c[i] += 1;
                    i = 0;
                } else {
                    c[i] = 0;
                    i += 1;
                }
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
        for (loc, ord) in orders.iter().enumerate() {
            let chain: Vec<usize> = std::iter::once(loc).chain(ord.iter().copied()).collect();
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
        if !verdict.allowed {
            if std::env::var_os("LOCI_DEBUG").is_some() {
                let mem_final: Vec<Value> = orders
                    .iter()
                    .enumerate()
                    .map(|(loc, ord)| match ord.last() {
                        Some(&w) => vals[w].clone().unwrap_or(Value::ZERO),
                        None => self.init_vals[loc].clone(),
                    })
                    .collect();
                let get = |lv: &LVal| -> Value { self.lookup(lv, vals, &mem_final) };
                if self.test.condition.eval(&get) {
                    eprintln!(
                        "forbidden by {:?}: rf={:?} co={:?}",
                        verdict.failed, self.base.rels["rf"], self.base.rels["co"]
                    );
                    for (i, g) in self.events.iter().enumerate() {
                        let tags = g
                            .thread
                            .map(|t| self.paths[t].events[g.local].tags.clone())
                            .unwrap_or_default();
                        eprintln!(
                            "  e{i}: T{:?} {:?} loc={:?} val={:?} tags={tags:?}",
                            g.thread,
                            g.kind,
                            g.loc.map(|l| &self.locs[l]),
                            vals[i]
                        );
                    }
                    for r in ["addr", "data", "ctrl", "rmw"] {
                        eprintln!("  {r} = {:?}", self.base.rels[r]);
                    }
                }
            }
            return Ok(());
        }
        // Final state.
        let mem_final: Vec<Value> = orders
            .iter()
            .enumerate()
            .map(|(loc, ord)| match ord.last() {
                Some(&w) => vals[w].clone().unwrap_or(Value::ZERO),
                None => self.init_vals[loc].clone(),
            })
            .collect();
        let get = |lv: &LVal| -> Value { self.lookup(lv, vals, &mem_final) };
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

    fn lookup(&self, lv: &LVal, vals: &[Option<Value>], mem_final: &[Value]) -> Value {
        match lv {
            LVal::Loc(l) => match self.locs.iter().position(|x| x == l) {
                Some(i) => mem_final[i].clone(),
                None => Value::ZERO,
            },
            LVal::Reg { thread, reg } => {
                let t = &self.test.threads[*thread];
                let canon =
                    crate::front::canonical_reg(self.test.arch, reg).unwrap_or_else(|| reg.clone());
                match t.regs.iter().position(|r| *r == canon) {
                    Some(ri) => {
                        let s = &self.paths[*thread].regs[ri];
                        let off = self.offset[*thread];
                        sym::eval(s, &mut |n| vals[off + n as usize].clone()).unwrap_or(Value::ZERO)
                    }
                    None => reg_init(self.test, *thread, &canon).unwrap_or(Value::ZERO),
                }
            }
        }
    }

    /// The value of every event (writes: written value; reads: read value)
    /// under `rf`, or `None` when values depend on themselves or are
    /// undefined.
    fn values(&self, rf: &[usize]) -> Option<Vec<Option<Value>>> {
        let n = self.events.len();
        let mut vals: Vec<Option<Value>> = vec![None; n];
        let mut state = vec![0u8; n];
        for i in 0..n {
            if self.events[i].kind != Kind::F {
                self.value(i, rf, &mut vals, &mut state)?;
            }
        }
        Some(vals)
    }

    fn value(
        &self,
        i: usize,
        rf: &[usize],
        vals: &mut Vec<Option<Value>>,
        state: &mut Vec<u8>,
    ) -> Option<Value> {
        match state[i] {
            2 => return vals[i].clone(),
            1 => return None,
            _ => {}
        }
        state[i] = 1;
        let g = &self.events[i];
        let v = match (g.thread, g.kind) {
            (None, _) => Some(self.init_vals[g.local].clone()),
            (Some(_), Kind::R) => self.value(rf[i], rf, vals, state),
            (Some(t), Kind::W) => {
                let s = self.paths[t].events[g.local].val.as_ref().unwrap();
                let off = self.offset[t];
                let mut bad = false;
                let r = sym::eval(s, &mut |k| {
                    let v = self.value(off + k as usize, rf, vals, state);
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
            (Some(_), Kind::F) => None,
        };
        v.as_ref()?;
        state[i] = 2;
        vals[i] = v.clone();
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
