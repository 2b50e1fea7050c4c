//! The exit report: symbolises allocation sites and writes JSON to the
//! file named by `LOCI_PROFILE_OUT` (default `loci-profile.json`). When
//! races were reported it then ends the process with status 66, as
//! ThreadSanitizer does (after flushing stdio, so no output is lost).
//!
//! Symbolisation reads the DWARF of the module containing each pc with the
//! `addr2line` crate; the module and its load bias come from
//! `dl_iterate_phdr` (the main executable is read through
//! `/proc/self/exe`).

use crate::lines;
use crate::state::{self, Class, Guard, Site, FINISHED};
use core::ffi::{c_int, c_void, CStr};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Register [`at_exit`] with `atexit` once.
pub(crate) fn install_at_exit() {
    if !INSTALLED.swap(true, Ordering::AcqRel) {
        // SAFETY: `at_exit` is an `extern "C" fn()` that lives for the
        // whole program.
        unsafe { libc::atexit(at_exit) };
    }
}

extern "C" fn at_exit() {
    let warnings = write_profile();
    if warnings > 0 {
        crate::sys::say(&format!("ThreadSanitizer: reported {warnings} warnings\n"));
        // SAFETY: fflush(NULL) flushes every open output stream.
        unsafe { libc::fflush(core::ptr::null_mut()) };
        // Ends the process (as TSan's exit code 66) without running the
        // remaining handlers again.
        exit_now(RACE_EXIT_CODE);
    }
}

/// End the process with `status` right now, like `_exit` (which this
/// library interposes, hence the system call).
pub(crate) fn exit_now(status: c_int) -> ! {
    loop {
        // SAFETY: exit_group has no preconditions and does not return.
        unsafe { libc::syscall(libc::SYS_exit_group, status as libc::c_long) };
    }
}

/// Write the profile (and finish the trace) once: from `exit`, `_exit`
/// or a fatal signal, whichever comes first, after reporting thread leaks
/// as ThreadSanitizer does. Returns the number of warnings reported (races
/// and thread leaks; 0 when the profile was already written, or cannot be
/// written because this thread is inside the runtime).
pub(crate) fn write_profile() -> u64 {
    let Some(_g) = Guard::enter() else { return 0 };
    let mut t = state::table();
    crate::fast::disable();
    if FINISHED.swap(true, Ordering::AcqRel) {
        return 0;
    }
    if let Some(tr) = t.trace.take() {
        let mut tr = Some(tr);
        // The main thread's end (unless it already left by pthread_exit).
        let main_done = t.threads.first().is_some_and(|i| i.finished);
        if let Some(w) = tr.as_mut().filter(|_| !main_done) {
            if !w.write(&loci_trace::Event::ThreadExit { thread: 0 }) {
                tr = None;
            }
        }
        if let Some(w) = tr {
            w.finish();
        }
    }
    t.retire_all();
    t.fold_stats();
    let json = render(&t, &mut Symbolizer::new());
    let (leaks, nleaks) = crate::race_report::thread_leaks(&t);
    let warnings = t.hb.races + nleaks;
    drop(t);
    if nleaks > 0 {
        crate::sys::say(&leaks);
    }
    let path = std::env::var_os("LOCI_PROFILE_OUT").unwrap_or_else(|| "loci-profile.json".into());
    if let Err(e) = std::fs::write(&path, json) {
        // Best effort, and said once: the host's output is otherwise untouched.
        eprintln!(
            "loci-rt: cannot write profile {}: {e}",
            path.to_string_lossy()
        );
    }
    warnings
}

/// The exit status of a process in which races were reported
/// (ThreadSanitizer's default `exitcode`).
pub(crate) const RACE_EXIT_CODE: i32 = 66;

/// A source location.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) function: Option<String>,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
}

struct Module {
    path: String,
    bias: usize,
    ranges: Vec<(usize, usize)>,
}

/// Maps pcs to source locations, loading each module's debug info once.
pub(crate) struct Symbolizer {
    modules: Vec<Module>,
    loaders: BTreeMap<String, Option<addr2line::Loader>>,
    /// Per module: its data symbols `(address, size, name)`, by address.
    data: BTreeMap<String, Vec<(u64, u64, String)>>,
}

/// The data objects (with a size) of the ELF file at `path`, by address.
fn data_symbols(path: &str) -> Vec<(u64, u64, String)> {
    use object::{Object, ObjectSymbol, SymbolKind};
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(file) = object::File::parse(&*bytes) else {
        return Vec::new();
    };
    let mut v: Vec<(u64, u64, String)> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Data && s.size() > 0 && s.is_definition())
        .filter_map(|s| {
            let name = s.name().ok()?;
            Some((
                s.address(),
                s.size(),
                addr2line::demangle_auto(name.into(), None).into_owned(),
            ))
        })
        .collect();
    v.sort();
    v.dedup_by_key(|e| e.0);
    v
}

unsafe extern "C" fn phdr_cb(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid info and our `data`, which is
    // the `Vec<Module>` below.
    let (info, mods) = unsafe { (&*info, &mut *(data as *mut Vec<Module>)) };
    let name = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: a non-null dlpi_name is a NUL-terminated string.
        unsafe { CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    let path = if name.is_empty() {
        std::fs::read_link("/proc/self/exe")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        name
    };
    let mut ranges = Vec::new();
    for i in 0..info.dlpi_phnum as usize {
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        if ph.p_type == libc::PT_LOAD {
            let lo = info.dlpi_addr as usize + ph.p_vaddr as usize;
            ranges.push((lo, lo + ph.p_memsz as usize));
        }
    }
    mods.push(Module {
        path,
        bias: info.dlpi_addr as usize,
        ranges,
    });
    0
}

impl Symbolizer {
    /// Snapshot the loaded modules.
    pub(crate) fn new() -> Symbolizer {
        let mut modules: Vec<Module> = Vec::new();
        // SAFETY: the callback only reads what dl_iterate_phdr hands it and
        // writes to `modules`.
        unsafe { libc::dl_iterate_phdr(Some(phdr_cb), &mut modules as *mut _ as *mut c_void) };
        Symbolizer {
            modules,
            loaders: BTreeMap::new(),
            data: BTreeMap::new(),
        }
    }

    /// The module containing `pc` (re-reading the module list once when
    /// none does: a library may have been loaded since).
    fn module_index(&mut self, pc: usize) -> Option<usize> {
        let find = |mods: &[Module]| {
            mods.iter()
                .position(|m| m.ranges.iter().any(|&(lo, hi)| (lo..hi).contains(&pc)))
        };
        if let Some(i) = find(&self.modules) {
            return Some(i);
        }
        self.modules = Symbolizer::new().modules;
        find(&self.modules)
    }

    /// `(file name of the module, offset of pc in it)`, for reports.
    pub(crate) fn module_offset(&mut self, pc: usize) -> Option<(String, usize)> {
        let i = self.module_index(pc)?;
        let m = &self.modules[i];
        let name = m.path.rsplit('/').next().unwrap_or(&m.path).to_owned();
        Some((name, pc - m.bias))
    }

    /// The global variable containing `addr`: `(name, size, start)`.
    pub(crate) fn global(&mut self, addr: usize) -> Option<(String, u64, usize)> {
        let i = self.module_index(addr)?;
        let (path, bias) = (self.modules[i].path.clone(), self.modules[i].bias);
        let syms = self
            .data
            .entry(path.clone())
            .or_insert_with(|| data_symbols(&path));
        let probe = (addr - bias) as u64;
        let k = syms.partition_point(|e| e.0 <= probe);
        let (start, size, name) = syms.get(k.checked_sub(1)?)?;
        (probe < start + size).then(|| (name.clone(), *size, *start as usize + bias))
    }

    /// The ELF symbol containing `addr` (functions and data), demangled.
    pub(crate) fn symbol(&mut self, addr: usize) -> Option<String> {
        let i = self.module_index(addr)?;
        let (path, bias) = (self.modules[i].path.clone(), self.modules[i].bias);
        let loader = self
            .loaders
            .entry(path.clone())
            .or_insert_with(|| addr2line::Loader::new(&path).ok())
            .as_ref()?;
        loader
            .find_symbol((addr - bias) as u64)
            .map(|n| addr2line::demangle_auto(n.into(), None).into_owned())
    }

    /// Locate a return address (the call instruction is just before it).
    pub(crate) fn locate_return(&mut self, ret: usize) -> Loc {
        if ret == 0 {
            return Loc::default();
        }
        let pc = ret - 1;
        let Some(i) = self.module_index(pc) else {
            return Loc::default();
        };
        let m = &self.modules[i];
        let probe = (pc - m.bias) as u64;
        let loader = self
            .loaders
            .entry(m.path.clone())
            .or_insert_with(|| addr2line::Loader::new(&m.path).ok());
        let Some(loader) = loader else {
            return Loc::default();
        };
        let mut loc = Loc::default();
        if let Ok(mut frames) = loader.find_frames(probe) {
            // The innermost frame is the call site (inlined frames first).
            if let Ok(Some(f)) = frames.next() {
                loc.function = f
                    .function
                    .as_ref()
                    .and_then(|n| n.demangle().ok().map(|s| s.into_owned()));
                if let Some(l) = f.location {
                    loc.file = l.file.map(str::to_owned);
                    loc.line = l.line;
                }
            }
        }
        if loc.function.is_none() {
            // No DWARF: the nearest preceding ELF symbol (may be wrong in
            // stripped libraries), demangled.
            loc.function = loader
                .find_symbol(probe)
                .map(|n| addr2line::demangle_auto(n.into(), None).into_owned());
        }
        loc
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt_str(out: &mut String, s: &Option<String>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

fn json_loc(out: &mut String, loc: &Loc) {
    out.push_str("\"function\": ");
    json_opt_str(out, &loc.function);
    out.push_str(", \"file\": ");
    json_opt_str(out, &loc.file);
    match loc.line {
        Some(l) => {
            let _ = write!(out, ", \"line\": {l}");
        }
        None => out.push_str(", \"line\": null"),
    }
}

fn site_total(s: &Site) -> u64 {
    s.per_thread
        .iter()
        .map(|(_, c)| c.iter().sum::<u64>())
        .sum()
}

/// The class of a site: that of the objects carrying most of its accesses
/// (ties and access-free sites go to the most numerous class).
fn site_class(s: &Site) -> Class {
    let i = (0..5)
        .max_by_key(|&i| (s.class_accesses[i], s.classes[i], std::cmp::Reverse(i)))
        .unwrap_or(4);
    Class::ALL[i]
}

/// Render the profile as JSON.
pub(crate) fn render(t: &state::Table, sym: &mut Symbolizer) -> String {
    let mut out = String::new();
    out.push_str("{\n  \"version\": 1,\n  \"sites\": [");
    let mut order: Vec<&Site> = t.sites.iter().filter(|s| s.objects > 0).collect();
    order.sort_by_key(|s| (std::cmp::Reverse(site_total(s)), s.pc));
    for (i, s) in order.iter().enumerate() {
        out.push_str(if i == 0 { "\n    {" } else { ",\n    {" });
        json_loc(&mut out, &sym.locate_return(s.pc));
        let _ = write!(out, ", \"pc\": \"{:#x}\", \"caller\": {{", s.pc);
        json_loc(&mut out, &sym.locate_return(s.caller));
        let _ = write!(
            out,
            "}}, \"objects\": {}, \"bytes\": {}, \"alloc_threads\": [",
            s.objects, s.bytes
        );
        let mut at = s.alloc_threads.clone();
        at.sort_unstable();
        for (j, a) in at.iter().enumerate() {
            let _ = write!(out, "{}{a}", if j == 0 { "" } else { ", " });
        }
        out.push_str("], \"class\": ");
        json_str(&mut out, site_class(s).name());
        out.push_str(", \"classes\": {");
        for (j, c) in Class::ALL.iter().enumerate() {
            let _ = write!(
                out,
                "{}\"{}\": {}",
                if j == 0 { "" } else { ", " },
                c.name(),
                s.classes[j]
            );
        }
        let mut sum = [0u64; 3];
        let mut pt = s.per_thread.clone();
        pt.sort_unstable_by_key(|(t, _)| *t);
        for (_, c) in &pt {
            for (x, y) in sum.iter_mut().zip(c.iter()) {
                *x += y;
            }
        }
        let _ = write!(
            out,
            "}}, \"reads\": {}, \"writes\": {}, \"atomics\": {}, \"threads\": [",
            sum[0], sum[1], sum[2]
        );
        for (j, (tid, c)) in pt.iter().enumerate() {
            let _ = write!(
                out,
                "{}{{\"thread\": {tid}, \"reads\": {}, \"writes\": {}, \"atomics\": {}}}",
                if j == 0 { "" } else { ", " },
                c[0],
                c[1],
                c[2]
            );
        }
        out.push_str("]}");
    }
    out.push_str("\n  ],\n  \"threads\": [");
    let mut un = [0u64; 3];
    for (i, th) in t.threads.iter().enumerate() {
        for (x, y) in un.iter_mut().zip(th.unattributed.iter()) {
            *x += y;
        }
        let _ = write!(
            out,
            "{}\n    {{\"thread\": {i}, \"parent\": ",
            if i == 0 { "" } else { "," }
        );
        match th.parent {
            Some(p) => {
                let _ = write!(out, "{p}");
            }
            None => out.push_str("null"),
        }
        out.push_str(", \"start_routine\": ");
        let f = if th.start_routine == 0 {
            None
        } else {
            // A function address, not a return address: locate it exactly.
            sym.locate_return(th.start_routine + 1).function
        };
        json_opt_str(&mut out, &f);
        out.push_str(", \"joined_by\": ");
        match th.joined_by {
            Some(p) => {
                let _ = write!(out, "{p}");
            }
            None => out.push_str("null"),
        }
        let _ = write!(
            out,
            ", \"acquires\": {}, \"releases\": {}, \"mmaps\": {}, \"mapped_bytes\": {}, \"munmaps\": {}",
            t.hb.threads.get(i).map_or(0, |c| c.acquires),
            t.hb.threads.get(i).map_or(0, |c| c.releases),
            th.mmaps,
            th.mapped_bytes,
            th.munmaps
        );
        let _ = write!(
            out,
            ", \"allocations\": {}, \"heap\": {{\"reads\": {}, \"writes\": {}, \"atomics\": {}}}, \"unattributed\": {{\"reads\": {}, \"writes\": {}, \"atomics\": {}}}}}",
            th.allocs, th.heap[0], th.heap[1], th.heap[2], th.unattributed[0], th.unattributed[1], th.unattributed[2]
        );
    }
    out.push_str("\n  ],\n");
    render_false_sharing(&mut out, t, sym);
    let _ = write!(
        out,
        "  \"unattributed\": {{\"reads\": {}, \"writes\": {}, \"atomics\": {}}},\n  \"races\": {}\n}}\n",
        un[0], un[1], un[2], t.hb.races
    );
    out
}

/// A thread id in a report: `1`, or `others` for the merged slot.
fn thread_key(tid: u32) -> String {
    if tid == lines::OTHERS {
        "others".into()
    } else {
        format!("T{tid}")
    }
}

/// `"false_sharing": [...]` (most written first) and its counters
/// (`"false_sharing_stats"`), each line ending with `,\n`.
fn render_false_sharing(out: &mut String, t: &state::Table, sym: &mut Symbolizer) {
    out.push_str("  \"false_sharing\": [");
    for (i, l) in t.lines.falsely_shared().iter().enumerate() {
        out.push_str(if i == 0 { "\n    {" } else { ",\n    {" });
        let _ = write!(out, "\"line_address\": \"{:#x}\", \"threads\": [", l.addr);
        let ids: Vec<String> = l
            .writers
            .iter()
            .filter(|w| w.tid != lines::OTHERS)
            .map(|w| w.tid.to_string())
            .collect();
        out.push_str(&ids.join(", "));
        let _ = write!(
            out,
            "], \"more_threads\": {}, \"writes\": {}, \"sites\": [",
            l.writers.iter().any(|w| w.tid == lines::OTHERS) || l.readers.contains(&lines::OTHERS),
            l.writes
        );
        for (j, &site) in l.sites.iter().enumerate() {
            out.push_str(if j == 0 { "{" } else { ", {" });
            let pc = t.sites.get(site as usize).map_or(0, |s| s.pc);
            json_loc(out, &sym.locate_return(pc));
            out.push('}');
        }
        out.push_str("], \"bytes\": {");
        for (j, w) in l.writers.iter().enumerate() {
            let _ = write!(
                out,
                "{}\"{}\": \"{}\"",
                if j == 0 { "" } else { ", " },
                thread_key(w.tid),
                lines::ranges(w.written)
            );
        }
        out.push_str("}, \"writes_by\": {");
        for (j, w) in l.writers.iter().enumerate() {
            let _ = write!(
                out,
                "{}\"{}\": {}",
                if j == 0 { "" } else { ", " },
                thread_key(w.tid),
                w.writes
            );
        }
        out.push_str("}, \"readers\": [");
        let rd: Vec<String> = l
            .readers
            .iter()
            .filter(|&&r| r != lines::OTHERS)
            .map(|r| r.to_string())
            .collect();
        out.push_str(&rd.join(", "));
        out.push_str("]}");
    }
    let _ = write!(
        out,
        "\n  ],\n  \"false_sharing_stats\": {{\"true_shared_lines\": {}, \"untracked_accesses\": {}, \"dropped_lines\": {}, \"max_lines\": {}}},\n",
        t.lines.true_shared(),
        t.lines.untracked(),
        t.lines.dropped(),
        lines::MAX_LINES
    );
}
