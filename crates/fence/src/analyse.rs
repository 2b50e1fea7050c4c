//! Findings: which barriers are redundant, weakenable or mergeable, with
//! the path-based reason, decided one at a time.
//!
//! The loop: run both coverage analyses ([`crate::dataflow`]); if some
//! candidate barrier needs no ordering that others do not already provide
//! on every path, it is **redundant** — record it with the barriers that
//! provide the ordering (which are then *pinned*: never changed later, so
//! every printed reason stays true of the final program), remove it, and
//! start again. When none is left, a full `DMB` whose remaining duties are
//! only load→* or only store→store is **weakenable** to `DMB LD`/`DMB ST`.
//! Finally two barriers with no access, call, label or unknown instruction
//! between them are **mergeable** into one (the union of what they order;
//! a strengthening, applied only with `merge`).
//!
//! Functions are processed callees first, so a call's summary describes the
//! callee as it will be after its own rewrites.

use crate::arch::Arch;
use crate::dataflow::{State, Summary};
use crate::effect::*;
use crate::program::{function_index, Function, Note, Program};
use serde::Serialize;

/// What loci found about a barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Everything it orders is already ordered: remove it.
    Redundant,
    /// With the barrier next to it, one barrier can do both.
    Mergeable,
    /// Only some of what it orders can matter: a weaker barrier suffices.
    Weakenable,
}

impl Kind {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Redundant => "redundant",
            Kind::Mergeable => "mergeable",
            Kind::Weakenable => "weakenable",
        }
    }
}

/// A change to one statement of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// Statement index in the source.
    pub stmt: usize,
    /// New text (`None`: delete the statement).
    pub text: Option<String>,
    /// The comment left at the change.
    pub comment: String,
}

/// One finding.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The function it is in.
    pub function: String,
    /// 1-based line in the input.
    pub line: u32,
    /// The barrier instruction, as written.
    pub instruction: String,
    /// What was found.
    pub kind: Kind,
    /// Why, along every path.
    pub justification: String,
    /// The rule of [`crate::rules`] that covers it (`loci fences --explain`).
    pub rule: String,
    /// The instruction to write instead (`None`: delete it).
    pub replacement: Option<String>,
    /// Whether `--fix` applies it (mergeable findings only with `--merge`).
    pub applied: bool,
    /// The statement edits that apply it.
    #[serde(skip)]
    pub edits: Vec<Edit>,
}

/// Options of the analysis.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Apply mergeable findings (a strengthening: `dmb ishld; dmb ishst` →
    /// `dmb ish`).
    pub merge: bool,
    /// Use summaries of callees defined in the same file (assumes calls
    /// reach those definitions: not true of interposed symbols of shared
    /// libraries).
    pub interprocedural: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            merge: false,
            interprocedural: true,
        }
    }
}

/// Everything the analysis says about one file.
#[derive(Clone, Debug)]
pub struct Report {
    /// Architecture.
    pub arch: Arch,
    /// Functions seen.
    pub functions: usize,
    /// Functions analysed (not skipped).
    pub analysed: usize,
    /// Barrier instructions seen (DMB, DSB, MFENCE, locked fences).
    pub barriers: usize,
    /// Of those, the ones loci may rewrite.
    pub candidates: usize,
    /// Findings, by line.
    pub findings: Vec<Finding>,
    /// Notes about the input (0-based lines).
    pub notes: Vec<Note>,
}

impl Report {
    /// Number of findings of a kind.
    pub fn count(&self, k: Kind) -> usize {
        self.findings.iter().filter(|f| f.kind == k).count()
    }
}

/// Analyses a program.
pub fn analyse(p: &Program<'_>, opts: &Options) -> Report {
    let index = function_index(p);
    let callee_of = |t: &str| -> Option<usize> {
        if p.objdump {
            let w = t.split_whitespace().next()?;
            let a = u64::from_str_radix(w.trim_start_matches("0x"), 16).ok()?;
            index.get(&format!("{a:x}")).copied()
        } else {
            index.get(t.trim()).copied()
        }
    };
    let nf = p.functions.len();
    let callees: Vec<Vec<Option<usize>>> = p
        .functions
        .iter()
        .map(|f| {
            f.insns
                .iter()
                .map(|x| match &x.effect.flow {
                    Flow::Call(Some(t)) if opts.interprocedural => callee_of(t),
                    _ => None,
                })
                .collect()
        })
        .collect();
    // Post-order over the call graph (iterative DFS).
    let mut order = Vec::with_capacity(nf);
    let mut state = vec![0u8; nf];
    for root in 0..nf {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some((f, k)) = stack.pop() {
            let next = callees[f].iter().skip(k).position(|c| c.is_some());
            match next {
                Some(off) => {
                    let idx = k + off;
                    stack.push((f, idx + 1));
                    let g = callees[f][idx].expect("is some");
                    if state[g] == 0 {
                        state[g] = 1;
                        stack.push((g, 0));
                    }
                }
                None => {
                    state[f] = 2;
                    order.push(f);
                }
            }
        }
    }
    let mut called = vec![false; nf];
    for c in callees.iter().flatten().flatten() {
        called[*c] = true;
    }
    let mut summaries: Vec<Option<Summary>> = vec![None; nf];
    let mut done = vec![false; nf];
    let mut findings = Vec::new();
    let mut barriers = 0;
    let mut candidates = 0;
    for f in &p.functions {
        for x in &f.insns {
            if let Some(b) = x.effect.barrier {
                if b.op != BarrierOp::Locked {
                    barriers += 1;
                    if b.is_candidate() {
                        candidates += 1;
                    }
                }
            }
        }
    }
    for fi in order {
        let f = &p.functions[fi];
        done[fi] = true;
        if f.skipped.is_some() || f.blocks.is_empty() {
            continue;
        }
        let calls: Vec<Option<Summary>> = callees[fi]
            .iter()
            .map(|c| c.and_then(|g| if done[g] { summaries[g] } else { None }))
            .collect();
        let names: Vec<Option<&str>> = callees[fi]
            .iter()
            .map(|c| c.map(|g| p.functions[g].name.as_str()))
            .collect();
        let mut fa = FunctionAnalysis {
            p,
            f,
            calls: &calls,
            callee_names: &names,
            barriers: f.insns.iter().map(|x| x.effect.barrier).collect(),
            pinned: vec![false; f.insns.len()],
            changed: vec![false; f.insns.len()],
            findings: Vec::new(),
        };
        fa.run(opts);
        if opts.interprocedural && called[fi] {
            summaries[fi] = State {
                f,
                barriers: &fa.barriers,
                calls: &calls,
            }
            .summary();
        }
        findings.extend(fa.findings);
    }
    findings.sort_by_key(|x| x.line);
    Report {
        arch: p.arch,
        functions: nf,
        analysed: p
            .functions
            .iter()
            .filter(|f| f.skipped.is_none() && !f.insns.is_empty())
            .count(),
        barriers,
        candidates,
        findings,
        notes: {
            let mut n = p.notes.clone();
            n.sort_by_key(|x| x.line);
            n
        },
    }
}

struct FunctionAnalysis<'p, 'a> {
    p: &'p Program<'a>,
    f: &'p Function,
    calls: &'p [Option<Summary>],
    callee_names: &'p [Option<&'p str>],
    barriers: Vec<Option<Barrier>>,
    pinned: Vec<bool>,
    changed: Vec<bool>,
    findings: Vec<Finding>,
}

/// Which way a class is covered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Before,
    After,
}

impl FunctionAnalysis<'_, '_> {
    fn state(&self) -> State<'_> {
        State {
            f: self.f,
            barriers: &self.barriers,
            calls: self.calls,
        }
    }

    fn stmt_text(&self, stmt: usize) -> &str {
        self.p.source.text(stmt)
    }

    fn insn_text(&self, i: usize) -> String {
        let x = &self.f.insns[i];
        let t = self.stmt_text(x.stmt);
        let t = match x.prefix_stmt {
            Some(ps) => format!("{}; {}", self.stmt_text(ps), t),
            None => t.to_string(),
        };
        t.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn line(&self, i: usize) -> u32 {
        self.p.source.stmts[self.f.insns[i].stmt].line + 1
    }

    fn candidate(&self, i: usize) -> Option<Barrier> {
        let b = self.barriers[i]?;
        (b.is_candidate() && !self.pinned[i] && !self.changed[i]).then_some(b)
    }

    fn run(&mut self, opts: &Options) {
        // Most functions have no barrier loci may change: nothing to do.
        if !(0..self.f.insns.len()).any(|i| self.candidate(i).is_some()) {
            return;
        }
        loop {
            while self.step() {}
            if !self.merges(opts.merge) {
                break;
            }
        }
    }

    /// One removal or weakening; false when there is none.
    fn step(&mut self) -> bool {
        let st = self.state();
        let (before, _) = st.forward(0);
        let (after, _) = st.backward(0);
        let n = self.f.insns.len();
        let mut pick = None;
        for i in 0..n {
            let Some(b) = self.candidate(i) else { continue };
            let need = b.needs_bits();
            let (cin, cout) = (before[i] & need, after[i] & need);
            if cin == need {
                pick = Some(i);
                break;
            }
            if cin | cout == need && pick.is_none() {
                pick = Some(i);
            }
        }
        if let Some(i) = pick {
            let b = self.barriers[i].expect("candidate");
            let need = b.needs_bits();
            self.redundant(i, b, before[i] & need, after[i] & need);
            return true;
        }
        if self.p.arch != Arch::Aarch64 {
            return false;
        }
        for i in 0..n {
            let Some(b) = self.candidate(i) else { continue };
            if b.op != BarrierOp::Dmb || b.needs != ALL_CLASSES {
                continue;
            }
            let need = b.needs_bits();
            let covered = (before[i] | after[i]) & need;
            let left = classes_of_bits(need & !covered);
            let ww = 1 << Class::WW as u8;
            let weaker = if left & !ww == 0 {
                ww
            } else if left & !FROM_LOAD == 0 {
                FROM_LOAD
            } else {
                continue;
            };
            self.weaken(i, b, weaker, before[i] & need, after[i] & need);
            return true;
        }
        false
    }

    /// Providers of `bit` on every path into (Before) or out of (After) `i`.
    fn providers(&self, i: usize, bit: Bits, dir: Dir) -> Vec<usize> {
        let f = self.f;
        let nb = f.blocks.len();
        let block_of = |k: usize| f.blocks.iter().position(|b| b.start <= k && k < b.end);
        let provides = |j: usize| -> bool {
            let x = &f.insns[j];
            if let Flow::Call(_) = x.effect.flow {
                return self.calls[j].is_some_and(|s| {
                    (match dir {
                        Dir::Before => s.in_gen,
                        Dir::After => s.out_gen,
                    }) & bit
                        != 0
                });
            }
            self.barriers[j].is_some_and(|b| b.provides_bits() & bit != 0)
        };
        let mut found = Vec::new();
        let mut seen = vec![false; nb];
        let Some(b0) = block_of(i) else {
            return found;
        };
        // (block, scan range) work items.
        let mut work: Vec<(usize, usize, usize)> = match dir {
            Dir::Before => vec![(b0, f.blocks[b0].start, i)],
            Dir::After => vec![(b0, i + 1, f.blocks[b0].end)],
        };
        while let Some((b, lo, hi)) = work.pop() {
            let mut hit = None;
            match dir {
                Dir::Before => {
                    for j in (lo..hi).rev() {
                        if provides(j) {
                            hit = Some(j);
                            break;
                        }
                        if f.insns[j].entry {
                            break;
                        }
                    }
                }
                Dir::After => {
                    for j in lo..hi {
                        if provides(j) {
                            hit = Some(j);
                            break;
                        }
                    }
                }
            }
            if let Some(j) = hit {
                if !found.contains(&j) {
                    found.push(j);
                }
                continue;
            }
            let next = match dir {
                Dir::Before => &f.blocks[b].preds,
                Dir::After => &f.blocks[b].succs,
            };
            for &nb2 in next {
                if !seen[nb2] {
                    seen[nb2] = true;
                    let blk = &f.blocks[nb2];
                    work.push((nb2, blk.start, blk.end));
                }
            }
        }
        found.sort_unstable();
        found
    }

    fn describe(&self, j: usize) -> String {
        let x = &self.f.insns[j];
        if let (Flow::Call(_), Some(name)) = (&x.effect.flow, self.callee_names[j]) {
            format!("the call to `{name}` (line {})", self.line(j))
        } else {
            format!("`{}` (line {})", self.insn_text(j), self.line(j))
        }
    }

    /// The reason text for the classes in `bits`, and the providers used.
    fn reasons(&self, i: usize, cin: Bits, cout: Bits, bits: Bits) -> (String, Vec<usize>) {
        let mut parts = Vec::new();
        let mut used = Vec::new();
        // Group classes by (direction, providers).
        let mut groups: Vec<(Dir, Vec<usize>, Vec<Class>)> = Vec::new();
        for c in Class::ALL {
            let cb = bits & (0xF << (4 * c as u16));
            if cb == 0 {
                continue;
            }
            // One direction for every class when one suffices.
            let dir = if cin & bits == bits {
                Dir::Before
            } else if cout & bits == bits || cin & cb != cb {
                Dir::After
            } else {
                Dir::Before
            };
            let prov = self.providers(i, cb, dir);
            match groups.iter_mut().find(|g| g.0 == dir && g.1 == prov) {
                Some(g) => g.2.push(c),
                None => groups.push((dir, prov, vec![c])),
            }
        }
        for (dir, prov, classes) in groups {
            let names: Vec<&str> = classes.iter().map(|c| c.arrow()).collect();
            let kinds_before: Vec<&str> = dedup(classes.iter().map(|c| c.before_word()));
            let kinds_after: Vec<&str> = dedup(classes.iter().map(|c| c.after_word()));
            let by: Vec<String> = prov.iter().take(4).map(|&j| self.describe(j)).collect();
            let more = if prov.len() > 4 {
                format!(" and {} more", prov.len() - 4)
            } else {
                String::new()
            };
            let paths = if prov.len() == 1 {
                "the only path"
            } else {
                "every path"
            };
            let text = match dir {
                Dir::Before => format!(
                    "{} already ordered: on {paths} into it {}{more} comes after the last {}",
                    names.join(", "),
                    by.join(", "),
                    kinds_before.join(" or ")
                ),
                Dir::After => format!(
                    "{} already ordered: on {paths} out of it {}{more} comes before the next {}",
                    names.join(", "),
                    by.join(", "),
                    kinds_after.join(" or ")
                ),
            };
            parts.push(text);
            used.extend(prov);
        }
        (parts.join("; "), used)
    }

    fn pin(&mut self, used: &[usize]) {
        for &j in used {
            if self.barriers[j].is_some() {
                self.pinned[j] = true;
            }
        }
    }

    fn rule_for(&self, cin: Bits, cout: Bits, need: Bits) -> &'static str {
        if cin == need {
            "redundant-before"
        } else if cout == need {
            "redundant-after"
        } else {
            "redundant-split"
        }
    }

    fn removal_edits(&self, i: usize, comment: String) -> Vec<Edit> {
        let x = &self.f.insns[i];
        let mut e = vec![Edit {
            stmt: x.stmt,
            text: None,
            comment,
        }];
        if let Some(ps) = x.prefix_stmt {
            e.push(Edit {
                stmt: ps,
                text: None,
                comment: String::new(),
            });
        }
        e
    }

    fn redundant(&mut self, i: usize, b: Barrier, cin: Bits, cout: Bits) {
        let need = b.needs_bits();
        let (why, used) = self.reasons(i, cin, cout, need);
        self.pin(&used);
        let text = self.insn_text(i);
        let lines: Vec<String> = used.iter().map(|&j| self.line(j).to_string()).collect();
        let comment = format!(
            "loci: removed `{text}`: redundant, ordered by line{} {}",
            if lines.len() > 1 { "s" } else { "" },
            lines.join(", ")
        );
        let extra = if b.op == BarrierOp::Mfence || b.op == BarrierOp::LockedFence {
            " (x86-TSO orders every other pair)"
        } else {
            ""
        };
        self.findings.push(Finding {
            function: self.f.name.clone(),
            line: self.line(i),
            instruction: text,
            kind: Kind::Redundant,
            justification: format!("{why}{extra}"),
            rule: self.rule_for(cin, cout, need).to_string(),
            replacement: None,
            applied: true,
            edits: self.removal_edits(i, comment),
        });
        self.barriers[i] = None;
        self.changed[i] = true;
    }

    fn weaken(&mut self, i: usize, b: Barrier, keep: Classes, cin: Bits, cout: Bits) {
        let need = b.needs_bits();
        let dropped = need & !needs_bits(keep, b.domain);
        let (why, used) = self.reasons(i, cin, cout, dropped);
        self.pin(&used);
        let opt = crate::aarch64::dmb_option_name(keep, b.domain).expect("ld/st forms exist");
        let new_text = format!("dmb {opt}");
        let text = self.insn_text(i);
        let keeps: Vec<&str> = classes_in(keep).map(|c| c.arrow()).collect();
        self.findings.push(Finding {
            function: self.f.name.clone(),
            line: self.line(i),
            instruction: text.clone(),
            kind: Kind::Weakenable,
            justification: format!(
                "{why}; only {} can still need it: `{new_text}` provides exactly that",
                keeps.join(", ")
            ),
            rule: if keep == FROM_LOAD {
                "weaken-to-ld"
            } else {
                "weaken-to-st"
            }
            .to_string(),
            replacement: Some(new_text.clone()),
            applied: true,
            edits: vec![Edit {
                stmt: self.f.insns[i].stmt,
                text: Some(self.respell(i, &new_text)),
                comment: format!("loci: was `{text}`, only {} needed", keeps.join(", ")),
            }],
        });
        self.barriers[i] = Some(Barrier {
            provides: keep,
            needs: keep,
            ..b
        });
        self.changed[i] = true;
    }

    /// `new` spelled like the original statement (case, tab after the
    /// mnemonic).
    fn respell(&self, i: usize, new: &str) -> String {
        let orig = self.stmt_text(self.f.insns[i].stmt);
        let upper = orig.chars().any(|c| c.is_ascii_uppercase())
            && !orig.chars().any(|c| c.is_ascii_lowercase());
        let sep = if orig.contains('\t') { "\t" } else { " " };
        let new = new.replacen(' ', sep, 1);
        if upper {
            new.to_ascii_uppercase()
        } else {
            new
        }
    }

    /// Finds (and with `apply`, performs) merges; true when one was applied.
    fn merges(&mut self, apply: bool) -> bool {
        let f = self.f;
        let mut applied = false;
        for blk in &f.blocks {
            let mut prev: Option<usize> = None;
            for i in blk.start..blk.end {
                let x = &f.insns[i];
                if x.entry && i != blk.start {
                    prev = None;
                }
                if let Some(b) = self.barriers[i] {
                    if let (Some(p), Some(_)) = (prev, self.candidate(i)) {
                        if let Some(pb) = self.candidate(p) {
                            if pb.op == BarrierOp::Dmb && b.op == BarrierOp::Dmb && !x.entry {
                                applied |= self.merge(p, pb, i, b, apply);
                                if applied {
                                    return true;
                                }
                            }
                        }
                    }
                    prev = Some(i);
                    continue;
                }
                if x.effect.accesses() || !matches!(x.effect.flow, Flow::Next) {
                    prev = None;
                }
            }
        }
        applied
    }

    fn merge(&mut self, p: usize, pb: Barrier, i: usize, b: Barrier, apply: bool) -> bool {
        let union = pb.provides | b.provides;
        if union == pb.provides && pb.domain >= b.domain
            || union == b.provides && b.domain >= pb.domain
        {
            return false; // one covers the other: the redundancy pass decides
        }
        let ww = 1 << Class::WW as u8;
        let classes = if union & !FROM_LOAD == 0 {
            FROM_LOAD
        } else if union & !ww == 0 {
            ww
        } else {
            ALL_CLASSES
        };
        let domain = pb.domain.max(b.domain);
        let opt = crate::aarch64::dmb_option_name(classes, domain).expect("all forms exist");
        let new_text = format!("dmb {opt}");
        let (t1, t2) = (self.insn_text(p), self.insn_text(i));
        let added: Vec<&str> = classes_in(classes & !union).map(|c| c.arrow()).collect();
        let strengthening = if added.is_empty() {
            String::new()
        } else {
            format!(" (a strengthening: it also orders {})", added.join(", "))
        };
        let (l1, l2) = (self.line(p), self.line(i));
        let mut edits = vec![Edit {
            stmt: self.f.insns[p].stmt,
            text: Some(self.respell(p, &new_text)),
            comment: format!("loci: `{t1}` merged with `{t2}` of line {l2}"),
        }];
        edits.extend(self.removal_edits(i, format!("loci: `{t2}` merged into line {l1}")));
        self.findings.push(Finding {
            function: self.f.name.clone(),
            line: l1,
            instruction: t1,
            kind: Kind::Mergeable,
            justification: format!(
                "`{t2}` (line {l2}) follows with no memory access, call or label between: one `{new_text}` orders every pair either orders{strengthening}"
            ),
            rule: "merge".to_string(),
            replacement: Some(new_text),
            applied: apply,
            edits,
        });
        self.changed[p] = true;
        self.changed[i] = true;
        if apply {
            self.barriers[p] = Some(Barrier {
                provides: classes,
                needs: classes,
                domain,
                ..pb
            });
            self.barriers[i] = None;
        }
        apply
    }
}

fn dedup<'s>(it: impl Iterator<Item = &'s str>) -> Vec<&'s str> {
    let mut v: Vec<&str> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// Parses `text` (assembly or `objdump -d` output) and analyses it.
pub fn analyse_text<'a>(
    text: &'a str,
    arch: Option<Arch>,
    opts: &Options,
) -> Result<(Program<'a>, Report), String> {
    let arch = match arch.or_else(|| crate::arch::detect(text)) {
        Some(a) => a,
        None => {
            return Err(
                "cannot tell the architecture (AArch64 or x86-64); give it with --arch".into(),
            )
        }
    };
    let objdump = crate::source::is_objdump(text);
    let source = if objdump {
        crate::source::split_objdump(text, arch)
    } else {
        crate::source::split(text, arch)
    };
    let program = crate::program::build(source, arch, objdump);
    let report = analyse(&program, opts);
    Ok((program, report))
}
