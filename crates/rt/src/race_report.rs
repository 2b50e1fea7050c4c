//! Race reports in ThreadSanitizer's text format, written to stderr when a
//! race is found, so that scripts grepping for `WARNING: ThreadSanitizer:
//! data race` or `SUMMARY: ThreadSanitizer` keep working:
//!
//! ```text
//! ==================
//! WARNING: ThreadSanitizer: data race (pid=17940)
//!   Read of size 4 at 0x7b0400000000 by main thread:
//!     #0 main /tmp/race1.c:14 (race1+0x1297)
//!
//!   Previous write of size 4 at 0x7b0400000000 by thread T1:
//!     #0 bump /tmp/race1.c:6 (race1+0x121a)
//!
//!   Location is heap block of size 4 at 0x7b0400000000 allocated by main thread:
//!     #0 malloc <null> (loci-rt)
//!     #1 main /tmp/race1.c:10 (race1+0x1252)
//!
//!   Thread T1 (tid=17942, finished) created by main thread at:
//!     #0 pthread_create <null> (loci-rt)
//!     #1 main /tmp/race1.c:13 (race1+0x128b)
//!
//! SUMMARY: ThreadSanitizer: data race /tmp/race1.c:14 in main
//! ==================
//! ```
//!
//! The location is a heap block (with its allocation stack), a thread's
//! stack (`Location is stack of thread T1.`) or a global, as in TSan.
//!
//! At exit, threads that ended without being joined or detached are
//! reported as TSan reports them (`thread leak`, see [`thread_leaks`]).
//!
//! An access made inside an intercepted libc function (`memcpy`,
//! `strlen`, ...) shows that function as frame `#0`, as in TSan; so does a
//! `free` racing with an earlier access, and an access racing with an
//! earlier `free` is reported as TSan reports it, `WARNING:
//! ThreadSanitizer: heap-use-after-free` (both without a location: the
//! block is gone).
//!
//! Differences from TSan: the runtime's own frames read `<null> (loci-rt)`;
//! held mutexes are not listed.

use crate::lock::Lock;
use crate::race::{Cell, Race};
use crate::report::Symbolizer;
use crate::state::Table;
use std::fmt::Write as _;

/// The symbolizer, kept between reports (its debug info is loaded once).
struct Sym(Option<Symbolizer>);

// SAFETY: the symbolizer is only reached through `SYM`'s lock, so one
// thread at a time uses it; it holds no thread-affine resources (file
// maps and parsed DWARF only).
unsafe impl Send for Sym {}

static SYM: Lock<Sym> = Lock::new(Sym(None));

/// Names of the intercepted libc functions that access memory, by the
/// index stored in a cell (0: the program's own access; [`FREE`]: the
/// freeing of a heap block, see `Table::free`; from [`ALLOCATED`]: the
/// allocation of one).
pub(crate) const INTERCEPTED: [&str; 26] = [
    "",
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "memchr",
    "strlen",
    "strnlen",
    "strcpy",
    "strncpy",
    "strcat",
    "strncat",
    "strcmp",
    "strncmp",
    "strchr",
    "strrchr",
    "free",
    "realloc",
    // The allocating functions, from [`ALLOCATED`] on, in the order of
    // `state::AllocFn` (their blocks' imitated writes, see
    // `Detector::imitate_write`).
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "pvalloc",
];

/// The index in [`INTERCEPTED`] of the first allocating function
/// (`state::AllocFn::code`).
pub(crate) const ALLOCATED: u8 = 18;

/// The index of `free` in [`INTERCEPTED`]: a cell with it is the mark a
/// freed block's granules carry (a write of the whole granule by the
/// freeing thread), and a race with it is reported as TSan reports one:
/// `heap-use-after-free` when the free came first, `data race` (with
/// `free` as the current access's frame `#0`) when it came second.
pub(crate) const FREE: u8 = 16;

/// The index of `realloc` in [`INTERCEPTED`]: the mark of a block that
/// `realloc` moved (freed), reported as [`FREE`]'s are.
pub(crate) const REALLOC: u8 = 17;

/// Is `func` (an index into [`INTERCEPTED`]) one that frees a block?
fn frees(func: u8) -> bool {
    func == FREE || func == REALLOC
}

fn thread_name(t: u32) -> String {
    if t == 0 {
        "main thread".to_string()
    } else {
        format!("thread T{t}")
    }
}

fn frame(out: &mut String, sym: &mut Symbolizer, n: usize, ret: usize) {
    let loc = sym.locate_return(ret);
    let func = loc.function.as_deref().unwrap_or("<null>");
    let _ = write!(out, "    #{n} {func} ");
    match (&loc.file, loc.line) {
        (Some(f), Some(l)) => {
            let _ = write!(out, "{f}:{l}");
        }
        (Some(f), None) => out.push_str(f),
        _ => out.push_str("<null>"),
    }
    match sym.module_offset(ret.saturating_sub(1)) {
        Some((m, off)) => {
            let _ = writeln!(out, " ({m}+{off:#x})");
        }
        None => out.push('\n'),
    }
}

/// Frames of a stack node, innermost first, without the outermost one
/// (the call into the thread's first instrumented function, made from
/// libc or from the runtime, which TSan does not show either).
fn stack_frames(t: &Table, node: u32) -> Vec<usize> {
    let _ = t;
    let mut f = crate::state::stacks().frames(node);
    f.pop();
    f
}

fn access_block(
    out: &mut String,
    t: &Table,
    sym: &mut Symbolizer,
    c: &Cell,
    (addr, size): (usize, usize),
    previous: bool,
) {
    let kind = match (c.atomic, c.write) {
        (false, false) => "read",
        (false, true) => "write",
        (true, false) => "atomic read",
        (true, true) => "atomic write",
    };
    let kind = if previous {
        format!("Previous {kind}")
    } else {
        let mut k = kind.to_string();
        k[..1].make_ascii_uppercase();
        k
    };
    let _ = writeln!(
        out,
        "  {kind} of size {} at {:#x} by {}:",
        size,
        addr,
        thread_name(c.tid)
    );
    let mut n = 0;
    if let Some(name) = INTERCEPTED.get(c.func as usize).filter(|s| !s.is_empty()) {
        // As TSan shows its interceptor: the libc function, then its caller.
        let _ = writeln!(out, "    #0 {name} <null> (loci-rt)");
        n = 1;
    }
    n = frames(out, t, sym, n, c.pc, c.stack);
    if n == 0 {
        // The previous access's side data was replaced while the race was
        // being reported (see `Shadow::cell_as`); TSan's words for it.
        out.push_str("    [failed to restore the stack]\n");
    }
    out.push('\n');
}

/// Format the report of `race` (with the table for objects and threads).
pub(crate) fn format(t: &Table, sym: &mut Symbolizer, race: &Race) -> String {
    let mut out = String::from("==================\n");
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    // TSan's name for a race with an earlier free.
    let what = if frees(race.prev.func) {
        "heap-use-after-free"
    } else {
        "data race"
    };
    let _ = writeln!(out, "WARNING: ThreadSanitizer: {what} (pid={pid})");
    access_block(&mut out, t, sym, &race.cur, race.span(&race.cur), false);
    access_block(&mut out, t, sym, &race.prev, race.span(&race.prev), true);
    let addr = race.granule * 8 + (race.cur.mask & race.prev.mask).trailing_zeros() as usize;
    let obj = t
        .live
        .at_or_below(addr)
        .filter(|&(b, o)| addr < b + o.size.max(1));
    let freeing = frees(race.cur.func) || frees(race.prev.func);
    if freeing {
        // TSan names no location for a freed (or being freed) block.
    } else if let Some((base, o)) = obj {
        let _ = writeln!(
            out,
            "  Location is heap block of size {} at {base:#x} allocated by {}:",
            o.size,
            thread_name(o.alloc_tid)
        );
        let _ = writeln!(out, "    #0 {} <null> (loci-rt)", o.func.name());
        let site = &t.sites[o.site];
        frames(&mut out, t, sym, 1, site.pc, o.stack);
        out.push('\n');
    } else if let Some(owner) = crate::state::stack_owner(t, addr) {
        let _ = writeln!(out, "  Location is stack of {}.\n", thread_name(owner));
    } else if let Some((name, size, start)) = sym.global(addr) {
        let _ = write!(
            out,
            "  Location is global '{name}' of size {size} at {start:#x}"
        );
        match sym.module_offset(start) {
            Some((m, off)) => {
                let _ = writeln!(out, " ({m}+{off:#x})\n");
            }
            None => out.push_str("\n\n"),
        }
    } else if let Some(name) = sym.symbol(addr) {
        let _ = write!(out, "  Location is global '{name}' at {addr:#x}");
        match sym.module_offset(addr) {
            Some((m, off)) => {
                let _ = writeln!(out, " ({m}+{off:#x})\n");
            }
            None => out.push_str("\n\n"),
        }
    }
    let mut tids = vec![race.cur.tid, race.prev.tid];
    tids.sort_unstable();
    tids.dedup();
    for tid in tids.into_iter().filter(|&x| x != 0) {
        thread_block(&mut out, t, sym, tid);
    }
    let loc = if race.cur.pc != 0 {
        sym.locate_return(race.cur.pc)
    } else {
        stack_frames(t, race.cur.stack)
            .first()
            .map(|&pc| sym.locate_return(pc))
            .unwrap_or_default()
    };
    summary(&mut out, what, &loc);
    out
}

/// TSan's block naming thread `tid`: its state and where it was created.
fn thread_block(out: &mut String, t: &Table, sym: &mut Symbolizer, tid: u32) {
    let Some(info) = t.threads.get(tid as usize) else {
        return;
    };
    let state = if info.finished { "finished" } else { "running" };
    let creator = info
        .parent
        .map_or("unknown thread".to_string(), thread_name);
    let _ = writeln!(
        out,
        "  Thread T{tid} (tid={}, {state}) created by {creator} at:",
        info.os_tid
    );
    out.push_str("    #0 pthread_create <null> (loci-rt)\n");
    frames(out, t, sym, 1, info.created_pc, info.created_stack);
    out.push('\n');
}

/// Frames `#n`, `#n+1`, ...: the call at `pc` (0: none), then the stack
/// node `stack`'s frames; returns the next frame number.
fn frames(
    out: &mut String,
    t: &Table,
    sym: &mut Symbolizer,
    mut n: usize,
    pc: usize,
    stack: u32,
) -> usize {
    if pc != 0 {
        frame(out, sym, n, pc);
        n += 1;
    }
    for pc in stack_frames(t, stack) {
        frame(out, sym, n, pc);
        n += 1;
    }
    n
}

/// A report's `SUMMARY` line for a warning of kind `what` at `loc`, and
/// its closing rule.
fn summary(out: &mut String, what: &str, loc: &crate::report::Loc) {
    let _ = write!(out, "SUMMARY: ThreadSanitizer: {what}");
    if let (Some(f), Some(l)) = (&loc.file, loc.line) {
        let _ = write!(out, " {f}:{l}");
    }
    if let Some(func) = &loc.function {
        let _ = write!(out, " in {func}");
    }
    out.push_str("\n==================\n");
}

/// ThreadSanitizer's thread-leak warnings, as it gives them at exit: one
/// per creation stack of the threads that ended without being joined or
/// detached (`And N more similar thread leaks.` for the others created
/// there). Returns the reports' text and how many there are (warnings).
pub(crate) fn thread_leaks(t: &Table) -> (String, u64) {
    let mut groups: Vec<((usize, u32), Vec<u32>)> = Vec::new();
    for (tid, info) in t.threads.iter().enumerate().skip(1) {
        if info.finished && info.joined_by.is_none() && !info.detached {
            let key = (info.created_pc, info.created_stack);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(tid as u32),
                None => groups.push((key, vec![tid as u32])),
            }
        }
    }
    if groups.is_empty() {
        return (String::new(), 0);
    }
    let mut s = SYM.lock();
    let sym = s.0.get_or_insert_with(Symbolizer::new);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut out = String::new();
    for ((pc, _), tids) in &groups {
        out.push_str("==================\n");
        let _ = writeln!(out, "WARNING: ThreadSanitizer: thread leak (pid={pid})");
        thread_block(&mut out, t, sym, tids[0]);
        if tids.len() > 1 {
            let _ = writeln!(out, "  And {} more similar thread leaks.\n", tids.len() - 1);
        }
        summary(&mut out, "thread leak", &sym.locate_return(*pc));
    }
    (out, groups.len() as u64)
}

/// Write the report of `race` to stderr (one `write` per report line
/// group, so reports of concurrent threads do not interleave: the caller
/// holds the table lock).
pub(crate) fn report(t: &Table, race: &Race) {
    let mut s = SYM.lock();
    let sym = s.0.get_or_insert_with(Symbolizer::new);
    let text = format(t, sym, race);
    drop(s);
    crate::sys::say(&text);
}
