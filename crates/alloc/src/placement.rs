//! Applying a placement plan (`LOCI_PLACEMENT=plan.json`, format in
//! `plan.rs`) to `malloc`/`calloc` calls, by the caller's return address.
//!
//! Start-up: an ELF constructor of the library (`.init_array`, so it runs
//! when the library is loaded, before `main`) reads the file, parses it,
//! and resolves each site's `function` in the ELF symbol tables of the
//! objects loaded at that moment (`dl_iterate_phdr`, then each file's
//! `.symtab`, else `.dynsym`) to an address range: the whole function
//! `[start, start + size)`, or the single return address `start + offset`.
//! The ranges are sorted and published once (a leaked, immutable table
//! behind an atomic pointer). A malformed plan is reported once on stderr
//! with its file, line and column and ignored; a site that names no loaded
//! function is reported and skipped; the program runs either way. (Once per
//! *process*: every program a script starts under `LD_PRELOAD` reads the
//! plan and reports the sites it does not contain.)
//!
//! Hot path: `capi::malloc` is one indirect jump. Without a plan it goes
//! straight to the allocator (the plan costs nothing); once a plan is
//! published it goes to a two-instruction trampoline that reads its own
//! return address from the stack (`mov (%rsp), %rsi` on x86-64) and jumps
//! to the Rust implementation with it as a second argument, which does a
//! binary search over the resolved ranges. (`calloc` always takes the
//! trampoline: one load of the table pointer and a branch without a plan.)
//!
//! Limits: objects loaded later with `dlopen` are not searched; a call
//! through a wrapper (`xmalloc`, `g_malloc`, `operator new`) is attributed
//! to the wrapper, so the plan must name the wrapper (and then covers all
//! its callers); tail calls to `malloc` (`jmp malloc` compiled from
//! `return malloc(n)`) carry the caller's caller's return address; only
//! x86-64 reads the return address (elsewhere plans are parsed but never
//! match).

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::elf;
use crate::os;
use crate::plan::{self, Policy};

/// A resolved site: return addresses in `[lo, hi)` get `policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    pub(crate) policy: Policy,
}

/// The active plan: ranges sorted by `lo`, non-overlapping (a single-call
/// site inside a whole-function site splits nothing: the narrower one is
/// searched first, see `policy_for`).
struct Table {
    ranges: Vec<Range>,
}

static ACTIVE: AtomicPtr<Table> = AtomicPtr::new(core::ptr::null_mut());

/// Round-robin counter for `interleave`.
static INTERLEAVE_NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether a plan is active (then call [`policy_for`]).
///
/// Cost: one load and a branch.
#[inline(always)]
pub(crate) fn active() -> bool {
    !ACTIVE.load(Ordering::Relaxed).is_null()
}

/// The policy for a call whose return address is `ret`, if a plan is
/// active and lists it: a binary search of the resolved ranges.
#[inline(never)]
pub(crate) fn policy_for(ret: usize) -> Option<Policy> {
    let t = ACTIVE.load(Ordering::Acquire);
    if t.is_null() {
        return None;
    }
    // SAFETY: a published table is never freed or changed.
    let ranges = unsafe { &(*t).ranges };
    lookup(ranges, ret)
}

/// Binary search of sorted ranges; when ranges nest (a call inside a whole
/// function), the innermost (last starting) one containing `ret` wins.
fn lookup(ranges: &[Range], ret: usize) -> Option<Policy> {
    let mut i = ranges.partition_point(|r| r.lo <= ret);
    while i > 0 {
        i -= 1;
        let r = &ranges[i];
        if ret < r.hi {
            return Some(r.policy);
        }
        // Whole-function ranges never overlap each other, so a few steps
        // back suffice; stop once ranges start too far before `ret`.
        if ret - r.lo > (1 << 24) {
            break;
        }
    }
    None
}

/// The next node for an `interleave` allocation.
pub(crate) fn interleave_node(nodes: usize) -> usize {
    INTERLEAVE_NEXT.fetch_add(1, Ordering::Relaxed) % nodes.max(1)
}

/// Resolve a parsed plan against the loaded objects. Returns the ranges
/// (sorted) and one message per site that could not be resolved.
pub(crate) fn resolve(p: &plan::Plan, objects: &[os::LoadedObject]) -> (Vec<Range>, Vec<String>) {
    let mut files: Vec<Option<Vec<u8>>> = vec![None; objects.len()];
    let mut ranges = Vec::new();
    let mut problems = Vec::new();
    for site in &p.sites {
        let mut found = None;
        for (i, o) in objects.iter().enumerate() {
            if let Some(m) = &site.module {
                if !o.path.ends_with(m.as_str()) {
                    continue;
                }
            }
            if files[i].is_none() {
                files[i] = Some(std::fs::read(&o.path).unwrap_or_default());
            }
            let bytes = files[i].as_deref().unwrap_or(&[]);
            if let Some((value, size)) = elf::find_function(bytes, &site.function) {
                found = Some((o, value as usize, size as usize));
                break;
            }
        }
        let Some((o, value, size)) = found else {
            problems.push(format!(
                "{}: site {site}: no function `{}` in the loaded objects{}; site ignored",
                site.pos,
                site.function,
                if site.module.is_some() {
                    " matching its module"
                } else {
                    ""
                }
            ));
            continue;
        };
        let start = o.bias.wrapping_add(value);
        let (lo, hi) = match site.offset {
            Some(off) => {
                if size > 0 && off as usize > size {
                    problems.push(format!(
                        "{}: site {site}: offset {off:#x} is past the end of `{}` ({size:#x} bytes); site ignored",
                        site.pos, site.function
                    ));
                    continue;
                }
                let at = start + off as usize;
                (at, at + 1)
            }
            None => (start, start + size.max(1)),
        };
        ranges.push(Range {
            lo,
            hi,
            policy: site.policy,
        });
    }
    ranges.sort_by_key(|r| (r.lo, core::cmp::Reverse(r.hi)));
    ranges.dedup_by_key(|r| (r.lo, r.hi));
    (ranges, problems)
}

/// Read, parse and resolve the plan named by `LOCI_PLACEMENT` (if set) and
/// activate it. Reports problems on stderr, once; never panics into the
/// host. With `LOCI_PLACEMENT_VERBOSE=1` it also lists the resolved sites.
pub(crate) fn init_from_env() {
    let Some(path) = std::env::var_os("LOCI_PLACEMENT") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let shown = path.display().to_string();
    let say = |msg: &str| os::write_stderr(format!("loci-alloc: {msg}\n").as_bytes());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            say(&format!(
                "LOCI_PLACEMENT: cannot read {shown}: {e}; no placement plan"
            ));
            return;
        }
    };
    let parsed = match plan::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            say(&format!("LOCI_PLACEMENT: {shown}:{e}; the plan is ignored"));
            return;
        }
    };
    let (ranges, problems) = resolve(&parsed, &os::loaded_objects());
    for p in &problems {
        say(&format!("LOCI_PLACEMENT: {shown}:{p}"));
    }
    if std::env::var_os("LOCI_PLACEMENT_VERBOSE").is_some_and(|v| v == "1") {
        say(&format!(
            "LOCI_PLACEMENT: {shown}: {} of {} sites active",
            ranges.len(),
            parsed.sites.len()
        ));
        for r in &ranges {
            say(&format!("  [{:#x}, {:#x}) -> {}", r.lo, r.hi, r.policy));
        }
    }
    if ranges.is_empty() {
        return;
    }
    let table = Box::into_raw(Box::new(Table { ranges }));
    // Published once; a second call (there is none) would leak the old one.
    ACTIVE.store(table, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(lo: usize, hi: usize, policy: Policy) -> Range {
        Range { lo, hi, policy }
    }

    #[test]
    fn lookup_finds_the_innermost_range() {
        let ranges = vec![
            r(0x1000, 0x1100, Policy::Consumer),
            r(0x1040, 0x1041, Policy::Node(1)),
            r(0x2000, 0x2010, Policy::Interleave),
        ];
        assert_eq!(lookup(&ranges, 0xfff), None);
        assert_eq!(lookup(&ranges, 0x1000), Some(Policy::Consumer));
        assert_eq!(lookup(&ranges, 0x1040), Some(Policy::Node(1)));
        assert_eq!(lookup(&ranges, 0x1041), Some(Policy::Consumer));
        assert_eq!(lookup(&ranges, 0x10ff), Some(Policy::Consumer));
        assert_eq!(lookup(&ranges, 0x1100), None);
        assert_eq!(lookup(&ranges, 0x200f), Some(Policy::Interleave));
        assert_eq!(lookup(&ranges, 0x2010), None);
        assert_eq!(lookup(&[], 0x2010), None);
    }

    #[test]
    fn resolves_functions_of_this_binary_and_reports_the_rest() {
        let text = r#"{"version": 1, "sites": [
            {"function": "loci_numa_node_count", "policy": "node:0"},
            {"function": "loci_numa_node_count", "offset": 1, "policy": "consumer"},
            {"function": "loci_numa_node_count", "offset": "0xffffff", "policy": "consumer"},
            {"function": "no_such_function_42", "policy": "interleave"},
            {"function": "loci_numa_node_count", "module": "libnothing.so", "policy": "interleave"}
        ]}"#;
        let p = plan::parse(text).unwrap();
        let (ranges, problems) = resolve(&p, &os::loaded_objects());
        let f = crate::capi::loci_numa_node_count as *const () as usize;
        assert_eq!(ranges.len(), 2, "{ranges:?} {problems:?}");
        assert_eq!(ranges[0].lo, f);
        assert!(ranges[0].hi > f + 1);
        assert_eq!(ranges[0].policy, Policy::Node(0));
        assert_eq!(ranges[1], r(f + 1, f + 2, Policy::Consumer));
        assert_eq!(lookup(&ranges, f + 1), Some(Policy::Consumer));
        assert_eq!(lookup(&ranges, f + 2), Some(Policy::Node(0)));
        assert_eq!(problems.len(), 3);
        assert!(
            problems[0].starts_with(
                "4:13: site loci_numa_node_count+0xffffff: offset 0xffffff is past the end"
            ),
            "{}",
            problems[0]
        );
        assert_eq!(
            problems[1],
            "5:13: site no_such_function_42: no function `no_such_function_42` in the loaded objects; site ignored"
        );
        assert_eq!(
            problems[2],
            "6:13: site loci_numa_node_count in libnothing.so: no function `loci_numa_node_count` in the loaded objects matching its module; site ignored"
        );
    }
}
