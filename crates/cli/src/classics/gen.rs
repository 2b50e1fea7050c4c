//! The teaching set's tests: classic shapes crossed with intra-thread
//! orderings, written out as herd7 litmus text.
//!
//! Every thread of a shape makes one or two accesses; a thread with two
//! has one program-order *edge* (load->load, load->store, store->load or
//! store->store), and an [`Ordering`] is put on that edge when it makes
//! sense there ([`Ordering::fits`]). Tests are named as diy7 names them
//! (`MP+dmb.st+addr`, `SB+dmb.sys`, `MP+popl+poap`), and the text follows
//! diy7's register allocation and layout, so a generated test is the same
//! file as the corpus's test of the same name up to the doc lines.

use super::ClassicArch;

/// Direction of an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// A load.
    R,
    /// A store.
    W,
}

impl Dir {
    fn letter(self) -> char {
        match self {
            Dir::R => 'R',
            Dir::W => 'W',
        }
    }
}

/// One access of a shape's thread.
#[derive(Clone, Copy, Debug)]
pub struct Acc {
    /// Load or store.
    pub dir: Dir,
    /// Location.
    pub loc: &'static str,
    /// For a store the value stored; for a load the value the condition
    /// asks it to read.
    pub val: u8,
}

const fn w(loc: &'static str, val: u8) -> Acc {
    Acc {
        dir: Dir::W,
        loc,
        val,
    }
}

const fn r(loc: &'static str, val: u8) -> Acc {
    Acc {
        dir: Dir::R,
        loc,
        val,
    }
}

/// A classic shape: threads, and the weak outcome its condition asks for.
#[derive(Debug)]
pub struct Shape {
    /// diy's name (`MP`, `2+2W`, ...).
    pub name: &'static str,
    /// What the name stands for.
    pub title: &'static str,
    /// The accesses of each thread, in program order.
    pub threads: &'static [&'static [Acc]],
    /// Final values of memory the condition asks for (before the loads').
    pub final_mem: &'static [(&'static str, u8)],
    /// The question the condition asks, in words.
    pub question: &'static str,
}

impl Shape {
    /// The threads with two accesses, i.e. with an edge.
    pub fn edge_threads(&self) -> Vec<usize> {
        (0..self.threads.len())
            .filter(|&t| self.threads[t].len() == 2)
            .collect()
    }

    /// The kind of thread `t`'s edge, e.g. `R->W`.
    pub fn edge_kind(&self, t: usize) -> String {
        let a = self.threads[t];
        format!("{}->{}", a[0].dir.letter(), a[1].dir.letter())
    }

    /// What the threads do, in words.
    pub fn story(&self) -> String {
        let mut parts = Vec::new();
        for (t, accs) in self.threads.iter().enumerate() {
            let acts: Vec<String> = accs
                .iter()
                .map(|a| match a.dir {
                    Dir::W => format!("writes {}={}", a.loc, a.val),
                    Dir::R => format!("reads {}", a.loc),
                })
                .collect();
            parts.push(format!("P{t} {}", acts.join(" then ")));
        }
        parts.join("; ")
    }
}

/// The shapes, in the order they are shown.
pub const SHAPES: &[Shape] = &[
    Shape {
        name: "MP",
        title: "message passing",
        threads: &[&[w("x", 1), w("y", 1)], &[r("y", 1), r("x", 0)]],
        final_mem: &[],
        question: "can P1 see the flag y=1 but then the old x=0?",
    },
    Shape {
        name: "SB",
        title: "store buffering",
        threads: &[&[w("x", 1), r("y", 0)], &[w("y", 1), r("x", 0)]],
        final_mem: &[],
        question: "can both loads miss the other thread's store (both read 0)?",
    },
    Shape {
        name: "LB",
        title: "load buffering",
        threads: &[&[r("x", 1), w("y", 1)], &[r("y", 1), w("x", 1)]],
        final_mem: &[],
        question: "can each load read the store that comes after the other load (both read 1)?",
    },
    Shape {
        name: "S",
        title: "store then read-write",
        threads: &[&[w("x", 2), w("y", 1)], &[r("y", 1), w("x", 1)]],
        final_mem: &[("x", 2)],
        question: "can P1 read y=1 and yet its store x=1 be overwritten by P0's earlier x=2?",
    },
    Shape {
        name: "R",
        title: "write-write then write-read",
        threads: &[&[w("x", 1), w("y", 1)], &[w("y", 2), r("x", 0)]],
        final_mem: &[("y", 2)],
        question: "can P1's y=2 come after P0's y=1 and P1 still read the old x=0?",
    },
    Shape {
        name: "2+2W",
        title: "two pairs of writes",
        threads: &[&[w("x", 2), w("y", 1)], &[w("y", 2), w("x", 1)]],
        final_mem: &[("x", 2), ("y", 2)],
        question: "can both first stores be the last ones (x=2 and y=2 at the end)?",
    },
    Shape {
        name: "WRC",
        title: "write-to-read causality",
        threads: &[
            &[w("x", 1)],
            &[r("x", 1), w("y", 1)],
            &[r("y", 1), r("x", 0)],
        ],
        final_mem: &[],
        question: "can P1 see x=1, P2 see P1's y=1, and P2 still read x=0?",
    },
    Shape {
        name: "RWC",
        title: "read-to-write causality",
        threads: &[
            &[w("x", 1)],
            &[r("x", 1), r("y", 0)],
            &[w("y", 1), r("x", 0)],
        ],
        final_mem: &[],
        question: "can P1 see x=1 then y=0, while P2 writes y=1 then reads x=0?",
    },
    Shape {
        name: "ISA2",
        title: "message passing through a third thread",
        threads: &[
            &[w("x", 1), w("y", 1)],
            &[r("y", 1), w("z", 1)],
            &[r("z", 1), r("x", 0)],
        ],
        final_mem: &[],
        question: "can P1 see y=1, P2 see P1's z=1, and P2 still read x=0?",
    },
    Shape {
        name: "IRIW",
        title: "independent reads of independent writes",
        threads: &[
            &[w("x", 1)],
            &[r("x", 1), r("y", 0)],
            &[w("y", 1)],
            &[r("y", 1), r("x", 0)],
        ],
        final_mem: &[],
        question: "can P1 and P3 see the two independent writes in opposite orders?",
    },
];

/// What keeps a thread's two accesses in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordering {
    /// Nothing: plain accesses in program order.
    Po,
    /// `DMB SY`.
    DmbSy,
    /// `DMB ST`.
    DmbSt,
    /// `DMB LD`.
    DmbLd,
    /// Address dependency.
    Addr,
    /// Data dependency.
    Data,
    /// Control dependency.
    Ctrl,
    /// Control dependency and `ISB`.
    CtrlIsb,
    /// `LDAR` first (if a load), `STLR` second (if a store).
    AcqRel,
    /// x86 `MFENCE`.
    Mfence,
    /// x86 locked store: `XCHG`.
    Xchg,
}

/// The orderings of an architecture, in the order they are shown.
pub fn orderings(arch: ClassicArch) -> &'static [Ordering] {
    use Ordering::*;
    match arch {
        ClassicArch::Aarch64 => &[Po, DmbSy, DmbSt, DmbLd, Addr, Data, Ctrl, CtrlIsb, AcqRel],
        ClassicArch::X86 => &[Po, Mfence, Xchg],
    }
}

impl Ordering {
    /// Short label, as in the tables' headers.
    pub fn label(self) -> &'static str {
        match self {
            Ordering::Po => "po",
            Ordering::DmbSy => "dmb.sy",
            Ordering::DmbSt => "dmb.st",
            Ordering::DmbLd => "dmb.ld",
            Ordering::Addr => "addr",
            Ordering::Data => "data",
            Ordering::Ctrl => "ctrl",
            Ordering::CtrlIsb => "ctrlisb",
            Ordering::AcqRel => "acq/rel",
            Ordering::Mfence => "mfence",
            Ordering::Xchg => "xchg",
        }
    }

    /// One line on what it orders.
    pub fn meaning(self, arch: ClassicArch) -> &'static str {
        match self {
            Ordering::Po if arch == ClassicArch::X86 => {
                "nothing: plain MOVs; x86-TSO keeps every order except store->load \
                 (a store may wait in the store buffer while a later load reads memory)"
            }
            Ordering::Po => "nothing: plain LDR/STR; Armv8 may reorder any two accesses to different locations",
            Ordering::DmbSy => "DMB SY (DMB ISH behaves the same): orders everything, every access before it with every access after it",
            Ordering::DmbSt => "DMB ST (DMB ISHST behaves the same): orders store->store only",
            Ordering::DmbLd => "DMB LD (DMB ISHLD behaves the same): orders load->load and load->store",
            Ordering::Addr => "address dependency (the loaded value, EORed to 0, indexes the next address): orders a load before later loads and stores",
            Ordering::Data => "data dependency (the loaded value, EORed to 0, feeds the stored value): orders a load before a later store",
            Ordering::Ctrl => "control dependency (CBNZ on the loaded value): orders a load before later stores only",
            Ordering::CtrlIsb => "control dependency then ISB: orders a load before later loads and stores",
            Ordering::AcqRel => "LDAR on the first access if a load (later accesses stay after it), STLR on the second if a store (earlier accesses stay before it); a store->load edge gets STLR then LDAR, which Arm keeps in order (RCsc)",
            Ordering::Mfence => "MFENCE: orders everything, store->load included",
            Ordering::Xchg => "the thread's stores are XCHG [m],r (implicitly locked): a locked instruction orders everything, store->load included",
        }
    }

    /// Whether the ordering makes sense on an edge `first -> second`.
    pub fn fits(self, first: Dir, second: Dir) -> bool {
        match self {
            Ordering::Po
            | Ordering::DmbSy
            | Ordering::DmbSt
            | Ordering::DmbLd
            | Ordering::AcqRel => true,
            Ordering::Addr | Ordering::Ctrl | Ordering::CtrlIsb => first == Dir::R,
            Ordering::Data => first == Dir::R && second == Dir::W,
            Ordering::Mfence => true,
            Ordering::Xchg => first == Dir::W || second == Dir::W,
        }
    }

    /// diy's name of the edge, as it appears in test names: `dmb.st`,
    /// `ctrlisb`, and for acquire/release `po` followed by one letter per
    /// access: `a` LDAR, `l` STLR, `p` plain (`poap`, `popl`, `poal`,
    /// `pola`).
    pub fn diy(self, first: Dir, second: Dir) -> String {
        match self {
            Ordering::AcqRel => {
                let (a, b) = acq_rel(first, second);
                let letter = |acq: bool, rel: bool| {
                    if acq {
                        'a'
                    } else if rel {
                        'l'
                    } else {
                        'p'
                    }
                };
                format!("po{}{}", letter(a.0, a.1), letter(b.0, b.1))
            }
            o => o.label().to_string(),
        }
    }
}

/// For an acquire/release edge, (acquire, release) of each access:
/// LDAR for the first access when it is a load, STLR for the second when
/// it is a store, and on a store->load edge STLR then LDAR.
fn acq_rel(first: Dir, second: Dir) -> ((bool, bool), (bool, bool)) {
    let wr = first == Dir::W && second == Dir::R;
    ((first == Dir::R, wr), (wr, second == Dir::W))
}

/// The name diy gives a shape with these edges: the bare shape when every
/// edge is plain `po`, `SHAPE+es` when all edges are the same `e`, and
/// `SHAPE+e1+e2+...` otherwise.
pub fn test_name(shape: &str, edges: &[String]) -> String {
    if edges.iter().all(|e| e == "po") {
        shape.to_string()
    } else if edges.len() >= 2 && edges.iter().all(|e| *e == edges[0]) {
        format!("{shape}+{}s", edges[0])
    } else {
        format!("{shape}+{}", edges.join("+"))
    }
}

/// Where a test sits in the tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A two-thread shape: P0's ordering (row) by P1's (column).
    Grid(Ordering, Ordering),
    /// A larger shape: one ordering on every edge that admits it.
    Uniform(Ordering),
    /// A larger shape: a classic mix.
    Mix,
}

/// One edge of a generated test.
#[derive(Clone, Debug)]
pub struct Edge {
    /// Thread.
    pub thread: usize,
    /// Kind, e.g. `R->W`.
    pub kind: String,
    /// The ordering on it.
    pub ordering: Ordering,
    /// diy's name for it.
    pub diy: String,
}

/// One generated test.
#[derive(Clone, Debug)]
pub struct Classic {
    /// diy-style name.
    pub name: String,
    /// The shape.
    pub shape: &'static Shape,
    /// Its edges, one per thread with two accesses.
    pub edges: Vec<Edge>,
    /// Where it is shown.
    pub place: Place,
    /// herd7 litmus text.
    pub text: String,
}

/// Classic mixes of the larger shapes (orderings per edge thread).
fn mixes(arch: ClassicArch, shape: &str) -> &'static [&'static [Ordering]] {
    use Ordering::*;
    match (arch, shape) {
        (ClassicArch::Aarch64, "WRC") => {
            &[&[DmbSy, Addr], &[Data, Addr], &[Po, Addr], &[DmbSy, Po]]
        }
        (ClassicArch::Aarch64, "RWC") => {
            &[&[Addr, DmbSy], &[DmbLd, DmbSy], &[Po, DmbSy], &[DmbSy, Po]]
        }
        (ClassicArch::Aarch64, "ISA2") => &[
            &[DmbSt, Addr, Addr],
            &[DmbSt, Data, Addr],
            &[DmbSy, Data, Addr],
            &[Po, Data, Addr],
        ],
        (ClassicArch::Aarch64, "IRIW") => &[&[Addr, Po], &[DmbSy, Addr]],
        (ClassicArch::X86, "RWC") => &[&[Po, Mfence]],
        (ClassicArch::X86, "IRIW") => &[],
        _ => &[],
    }
}

/// Every test of the teaching set for `arch`.
pub fn generate(arch: ClassicArch) -> Vec<Classic> {
    let mut out: Vec<Classic> = Vec::new();
    let all = orderings(arch);
    for shape in SHAPES {
        let ets = shape.edge_threads();
        let fits = |t: usize, o: Ordering| {
            let a = shape.threads[t];
            o.fits(a[0].dir, a[1].dir)
        };
        let push = |ords: &[Ordering], place: Place, out: &mut Vec<Classic>| {
            let c = build(arch, shape, ords);
            if !out.iter().any(|o| o.name == c.name) {
                out.push(Classic { place, ..c });
            }
        };
        if shape.threads.len() == 2 && ets.len() == 2 {
            for &a in all.iter().filter(|&&o| fits(0, o)) {
                for &b in all.iter().filter(|&&o| fits(1, o)) {
                    push(&[a, b], Place::Grid(a, b), &mut out);
                }
            }
        } else {
            for &o in all {
                if !ets.iter().any(|&t| fits(t, o)) {
                    continue;
                }
                let ords: Vec<Ordering> = ets
                    .iter()
                    .map(|&t| if fits(t, o) { o } else { Ordering::Po })
                    .collect();
                push(&ords, Place::Uniform(o), &mut out);
            }
            for m in mixes(arch, shape.name) {
                debug_assert!(
                    m.len() == ets.len() && ets.iter().zip(m.iter()).all(|(&t, &o)| fits(t, o))
                );
                push(m, Place::Mix, &mut out);
            }
        }
    }
    out
}

/// Builds the test of `shape` with ordering `ords[i]` on the edge of its
/// i-th thread with two accesses.
fn build(arch: ClassicArch, shape: &'static Shape, ords: &[Ordering]) -> Classic {
    let ets = shape.edge_threads();
    assert_eq!(
        ets.len(),
        ords.len(),
        "{}: one ordering per edge",
        shape.name
    );
    let edges: Vec<Edge> = ets
        .iter()
        .zip(ords)
        .map(|(&t, &o)| {
            let a = shape.threads[t];
            Edge {
                thread: t,
                kind: shape.edge_kind(t),
                ordering: o,
                diy: o.diy(a[0].dir, a[1].dir),
            }
        })
        .collect();
    let names: Vec<String> = edges.iter().map(|e| e.diy.clone()).collect();
    let name = test_name(shape.name, &names);
    let ord_of = |t: usize| {
        edges
            .iter()
            .find(|e| e.thread == t)
            .map(|e| e.ordering)
            .unwrap_or(Ordering::Po)
    };
    let text = match arch {
        ClassicArch::Aarch64 => aarch64_text(&name, shape, &ord_of),
        ClassicArch::X86 => x86_text(&name, shape, &ord_of),
    };
    Classic {
        name,
        shape,
        edges,
        place: Place::Mix,
        text,
    }
}

/// The code of one thread, with its init items and the condition's terms
/// on its registers.
struct ThreadCode {
    code: Vec<String>,
    init: Vec<String>,
    cond: Vec<String>,
}

/// diy's AArch64 code for a thread: registers numbered in order of need
/// (value/destination before address), `EOR Wt,Wd,Wd` for dependencies,
/// `CBNZ` to the next line for control.
fn aarch64_thread(t: usize, accs: &[Acc], ord: Ordering, labels: &mut usize) -> ThreadCode {
    let mut tc = ThreadCode {
        code: Vec::new(),
        init: Vec::new(),
        cond: Vec::new(),
    };
    let mut next = 0usize;
    let mut fresh = || {
        next += 1;
        next - 1
    };
    let (aq0, aq1) = if accs.len() == 2 && ord == Ordering::AcqRel {
        acq_rel(accs[0].dir, accs[1].dir)
    } else {
        ((false, false), (false, false))
    };
    // First access.
    let a0 = accs[0];
    let d0 = fresh();
    let x0 = fresh();
    tc.init.push(format!("{t}:X{x0}={};", a0.loc));
    match a0.dir {
        Dir::W => {
            tc.code.push(format!("MOV W{d0},#{}", a0.val));
            tc.code.push(format!(
                "{} W{d0},[X{x0}]",
                if aq0.1 { "STLR" } else { "STR" }
            ));
        }
        Dir::R => {
            tc.code.push(format!(
                "{} W{d0},[X{x0}]",
                if aq0.0 { "LDAR" } else { "LDR" }
            ));
            tc.cond.push(format!("{t}:X{d0}={}", a0.val));
        }
    }
    if accs.len() < 2 {
        return tc;
    }
    let a1 = accs[1];
    // The edge.
    let mut index = None;
    let mut data = None;
    match ord {
        Ordering::DmbSy => tc.code.push("DMB SY".into()),
        Ordering::DmbSt => tc.code.push("DMB ST".into()),
        Ordering::DmbLd => tc.code.push("DMB LD".into()),
        Ordering::Addr => {
            let r = fresh();
            tc.code.push(format!("EOR W{r},W{d0},W{d0}"));
            index = Some(r);
        }
        Ordering::Data => {
            let r = fresh();
            tc.code.push(format!("EOR W{r},W{d0},W{d0}"));
            tc.code.push(format!("ADD W{r},W{r},#{}", a1.val));
            data = Some(r);
        }
        Ordering::Ctrl | Ordering::CtrlIsb => {
            let l = format!("LC{:02}", *labels);
            *labels += 1;
            tc.code.push(format!("CBNZ W{d0},{l}"));
            tc.code.push(format!("{l}:"));
            if ord == Ordering::CtrlIsb {
                tc.code.push("ISB".into());
            }
        }
        Ordering::Po | Ordering::AcqRel | Ordering::Mfence | Ordering::Xchg => {}
    }
    // Second access.
    let d1 = match data {
        Some(r) => r,
        None => fresh(),
    };
    let x1 = fresh();
    tc.init.push(format!("{t}:X{x1}={};", a1.loc));
    let addr = match index {
        Some(i) => format!("[X{x1},W{i},SXTW]"),
        None => format!("[X{x1}]"),
    };
    match a1.dir {
        Dir::W => {
            if data.is_none() {
                tc.code.push(format!("MOV W{d1},#{}", a1.val));
            }
            tc.code.push(format!(
                "{} W{d1},{addr}",
                if aq1.1 { "STLR" } else { "STR" }
            ));
        }
        Dir::R => {
            tc.code.push(format!(
                "{} W{d1},{addr}",
                if aq1.0 { "LDAR" } else { "LDR" }
            ));
            tc.cond.push(format!("{t}:X{d1}={}", a1.val));
        }
    }
    tc
}

/// x86 code for a thread: `MOV [x],$v` stores (or `XCHG [x],r` with r
/// initialised to v), `MOV r,[x]` loads into EAX, EBX, ...
fn x86_thread(t: usize, accs: &[Acc], ord: Ordering) -> ThreadCode {
    const REGS: [&str; 4] = ["EAX", "EBX", "ECX", "EDX"];
    let mut tc = ThreadCode {
        code: Vec::new(),
        init: Vec::new(),
        cond: Vec::new(),
    };
    let mut next = 0usize;
    for (i, a) in accs.iter().enumerate() {
        if i == 1 && ord == Ordering::Mfence {
            tc.code.push("MFENCE".into());
        }
        match a.dir {
            Dir::W if ord == Ordering::Xchg && accs.len() == 2 => {
                let r = REGS[next];
                next += 1;
                tc.init.push(format!("{t}:{r}={};", a.val));
                tc.code.push(format!("XCHG [{}],{r}", a.loc));
            }
            Dir::W => tc.code.push(format!("MOV [{}],${}", a.loc, a.val)),
            Dir::R => {
                let r = REGS[next];
                next += 1;
                tc.code.push(format!("MOV {r},[{}]", a.loc));
                tc.cond.push(format!("{t}:{r}={}", a.val));
            }
        }
    }
    tc
}

fn aarch64_text(name: &str, shape: &Shape, ord_of: &dyn Fn(usize) -> Ordering) -> String {
    let mut labels = 0;
    let threads: Vec<ThreadCode> = shape
        .threads
        .iter()
        .enumerate()
        .map(|(t, accs)| aarch64_thread(t, accs, ord_of(t), &mut labels))
        .collect();
    let init: Vec<String> = threads.iter().map(|tc| tc.init.join(" ")).collect();
    assemble("AArch64", name, shape, &init, &threads)
}

fn x86_text(name: &str, shape: &Shape, ord_of: &dyn Fn(usize) -> Ordering) -> String {
    let threads: Vec<ThreadCode> = shape
        .threads
        .iter()
        .enumerate()
        .map(|(t, accs)| x86_thread(t, accs, ord_of(t)))
        .collect();
    let mut locs: Vec<&str> = shape
        .threads
        .iter()
        .flat_map(|a| a.iter().map(|a| a.loc))
        .collect();
    locs.sort();
    locs.dedup();
    let mut init = vec![locs
        .iter()
        .map(|l| format!("{l}=0;"))
        .collect::<Vec<_>>()
        .join(" ")];
    init.extend(
        threads
            .iter()
            .filter(|tc| !tc.init.is_empty())
            .map(|tc| tc.init.join(" ")),
    );
    assemble("X86", name, shape, &init, &threads)
}

/// Lays a test out as diy does: header, init block, one column per
/// thread, `exists` condition (memory terms first).
fn assemble(
    arch: &str,
    name: &str,
    shape: &Shape,
    init: &[String],
    threads: &[ThreadCode],
) -> String {
    let mut s = format!(
        "{arch} {name}\n\"loci classics: {} ({})\"\n{{\n",
        shape.name, shape.title
    );
    for line in init {
        s.push_str(line);
        s.push('\n');
    }
    s.push_str("}\n");
    let rows = threads.iter().map(|tc| tc.code.len()).max().unwrap_or(0);
    let widths: Vec<usize> = threads
        .iter()
        .enumerate()
        .map(|(t, tc)| {
            tc.code
                .iter()
                .map(|c| c.len())
                .chain([format!("P{t}").len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect();
        format!("{};\n", parts.join("|"))
    };
    s.push_str(&line((0..threads.len()).map(|t| format!("P{t}")).collect()));
    for i in 0..rows {
        s.push_str(&line(
            threads
                .iter()
                .map(|tc| tc.code.get(i).cloned().unwrap_or_default())
                .collect(),
        ));
    }
    let mut terms: Vec<String> = shape
        .final_mem
        .iter()
        .map(|(l, v)| format!("{l}={v}"))
        .collect();
    terms.extend(threads.iter().flat_map(|tc| tc.cond.iter().cloned()));
    s.push_str(&format!("exists\n({})\n", terms.join(" /\\ ")));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(arch: ClassicArch, name: &str) -> Classic {
        generate(arch)
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} not generated"))
    }

    #[test]
    fn names_follow_diy() {
        assert_eq!(
            test_name("SB", &["dmb.sy".into(), "dmb.sy".into()]),
            "SB+dmb.sys"
        );
        assert_eq!(
            test_name("MP", &["dmb.st".into(), "addr".into()]),
            "MP+dmb.st+addr"
        );
        assert_eq!(test_name("MP", &["po".into(), "po".into()]), "MP");
        assert_eq!(
            test_name("ISA2", &["po".into(), "data".into(), "po".into()]),
            "ISA2+po+data+po"
        );
        assert_eq!(Ordering::AcqRel.diy(Dir::W, Dir::W), "popl");
        assert_eq!(Ordering::AcqRel.diy(Dir::R, Dir::R), "poap");
        assert_eq!(Ordering::AcqRel.diy(Dir::R, Dir::W), "poal");
        assert_eq!(Ordering::AcqRel.diy(Dir::W, Dir::R), "pola");
    }

    #[test]
    fn orderings_only_where_they_make_sense() {
        for c in generate(ClassicArch::Aarch64)
            .iter()
            .chain(&generate(ClassicArch::X86))
        {
            for e in &c.edges {
                let ok = match e.ordering {
                    Ordering::Data => e.kind == "R->W",
                    Ordering::Addr | Ordering::Ctrl | Ordering::CtrlIsb => e.kind.starts_with('R'),
                    Ordering::Xchg => e.kind.contains('W'),
                    _ => true,
                };
                assert!(ok, "{}: {} on {}", c.name, e.ordering.label(), e.kind);
            }
        }
        let names: Vec<String> = generate(ClassicArch::Aarch64)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert!(!names
            .iter()
            .any(|n| n.starts_with("MP+data") || n.starts_with("SB+addr")));
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate names");
    }

    #[test]
    fn text_is_diy_layout() {
        let c = find(ClassicArch::Aarch64, "MP+dmb.st+addr");
        let expect = "\
{
0:X1=x; 0:X3=y;
1:X1=y; 1:X4=x;
}
 P0          | P1                  ;
 MOV W0,#1   | LDR W0,[X1]         ;
 STR W0,[X1] | EOR W2,W0,W0        ;
 DMB ST      | LDR W3,[X4,W2,SXTW] ;
 MOV W2,#1   |                     ;
 STR W2,[X3] |                     ;
exists
(1:X0=1 /\\ 1:X3=0)
";
        assert!(c.text.ends_with(expect), "{}", c.text);
        let c = find(ClassicArch::Aarch64, "S+dmb.sy+data");
        assert!(
            c.text.contains(" STR W0,[X1] | EOR W2,W0,W0 ;\n"),
            "{}",
            c.text
        );
        assert!(c.text.contains("(x=2 /\\ 1:X0=1)"), "{}", c.text);
        let c = find(ClassicArch::Aarch64, "SB+polas");
        assert!(
            c.text
                .contains(" STLR W0,[X1] | STLR W0,[X1] ;\n LDAR W2,[X3] | LDAR W2,[X3] ;\n"),
            "{}",
            c.text
        );
        let c = find(ClassicArch::X86, "SB+xchg+po");
        assert!(
            c.text.contains("0:EAX=1;")
                && c.text.contains("XCHG [x],EAX")
                && c.text.contains("(0:EBX=0 /\\ 1:EAX=0)")
        );
    }
}
