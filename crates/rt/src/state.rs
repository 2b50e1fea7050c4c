//! The runtime's state: thread ids, the re-entrancy guard, the per-thread
//! shadow call stack, and the table of live heap objects with their
//! per-thread access counts.
//!
//! Concurrency contract: all shared state lives in one [`Table`] behind a
//! single [`Lock`] (never allocates; safe across `fork`), except what the
//! lock-free fast path (`fast`) updates: per-object rows of counters
//! (`objects`), per-thread totals ([`ThreadStats`]), line slots (`lines`),
//! all atomics with one writing thread each. Rows are claimed and line
//! records made under small shard locks of their own ([`SLAB`],
//! [`LINES`]; lock order: the table, then a shard), which the fast path
//! takes without the table lock. An access the fast path does
//! not take locks the table once: a lookup in an ordered map of live
//! objects, `O(log n)` in the number of live objects, plus a scan of the
//! object's rows.
//!
//! Everything here runs with the thread's [`Guard`] held, so that any
//! allocation the runtime makes (maps, vectors) goes straight to the real
//! allocator without being recorded.
//!
//! The happens-before state of the race detector ([`crate::race`]) lives
//! in the same table, so one lock covers counting and race checking.

use crate::lines::{LineMemo, Lines, LINELESS_MIN, LINES};
use crate::live::Live;
use crate::lock::{Lock, LockGuard};
use crate::objects::{Objects, Row, Slab, SLAB};
use crate::race::{Detector, Race, Stacks, SyncOp};
use crate::shadow::Shadow;
use crate::trace::{self, Tracer};
use loci_trace::Event;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Kind of an access, the index into a `[u64; 3]` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A plain (or volatile, or range) read.
    Read = 0,
    /// A plain write.
    Write = 1,
    /// Any `__tsan_atomic*` operation other than a fence.
    Atomic = 2,
}

/// Depth of the shadow call stack; deeper frames are counted, not stored.
const SHADOW_DEPTH: usize = 64;

/// How many of a freed block's first bytes carry the mark of its free
/// (ThreadSanitizer marks the same: checking and marking more would cost
/// time and shadow memory in proportion to what is freed, for little).
const FREED_MARK_BYTES: usize = 1024;

/// Blocks this big or bigger get no imitated write at allocation (see
/// `Detector::imitate_write`): their shadow is emptied instead, which
/// costs no more than a `memset` of it (writing every granule's cell and
/// side data would cost time in proportion to the block, and most of a
/// big buffer is first written by its allocating thread anyway). A race
/// of another thread with the allocation itself is then not reported
/// for them.
const IMITATED_MAX_SIZE: usize = 128 << 10;

/// Blocks this big or bigger get no freed mark: glibc serves them (from
/// 128 KiB, its first `mmap` threshold) with `mmap` and unmaps them when
/// freed, and the system may map that memory again for anything.
const FREED_MARK_MAX_SIZE: usize = 128 << 10;

thread_local! {
    static TID: Cell<u32> = const { Cell::new(u32::MAX) };
    static IN_RT: Cell<bool> = const { Cell::new(false) };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static SHADOW: [Cell<usize>; SHADOW_DEPTH] = const { [const { Cell::new(0) }; SHADOW_DEPTH] };
    /// `NODE[k]`: the interned stack of `SHADOW[..k]` (valid for `k <= VALID`).
    static NODE: [Cell<u32>; SHADOW_DEPTH + 1] = const { [const { Cell::new(0) }; SHADOW_DEPTH + 1] };
    static VALID: Cell<usize> = const { Cell::new(0) };
    /// Frames this thread interned: `(parent, pc, node)`, direct-mapped
    /// by [`intern_slot`], so that re-entering a function interns its frame
    /// without the stacks' lock (four threads of zstd spent 6 % of their
    /// time waiting for it).
    static INTERNED: [Cell<(u32, usize, u32)>; INTERN_MEMO] =
        const { [const { Cell::new((0, 0, 0)) }; INTERN_MEMO] };
}

/// Entries of the per-thread memo of interned frames.
const INTERN_MEMO: usize = 256;

/// The memo slot of frame `pc` under stack node `parent`.
#[inline]
fn intern_slot(parent: u32, pc: usize) -> usize {
    let h = (pc as u64 ^ (parent as u64).rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 56) as usize % INTERN_MEMO
}

static NEXT_TID: AtomicU32 = AtomicU32::new(0);
/// Set once the report has been written: from then on nothing is recorded.
pub(crate) static FINISHED: AtomicBool = AtomicBool::new(false);

/// Proof that the current thread is inside the runtime. Dropping it
/// leaves. While it lives, the thread's fast-path context is hidden (so
/// the runtime's own accesses, e.g. through intercepted `memcpy`, are
/// never recorded by the fast path either).
pub(crate) struct Guard {
    ctx: *const crate::fast::Ctx,
}

impl Guard {
    /// Enter the runtime, or `None` when this thread already is inside it
    /// (the runtime's own allocations must not be recorded).
    #[inline]
    pub(crate) fn enter() -> Option<Guard> {
        if crate::fast::busy() {
            return None;
        }
        IN_RT.with(|g| {
            if g.get() {
                None
            } else {
                g.set(true);
                Some(Guard {
                    ctx: crate::fast::hide(),
                })
            }
        })
    }

    /// The thread's fast-path context (null if it has none yet).
    pub(crate) fn ctx(&self) -> *const crate::fast::Ctx {
        self.ctx
    }

    /// Give the thread its fast-path context (installed on leaving).
    pub(crate) fn set_ctx(&mut self, c: *const crate::fast::Ctx) {
        self.ctx = c;
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        crate::fast::restore(self.ctx);
        IN_RT.with(|g| g.set(false));
    }
}

/// The current thread's id, registering it (parent unknown) on first use.
pub(crate) fn current_tid(_g: &Guard) -> u32 {
    let t = TID.with(|t| t.get());
    if t != u32::MAX {
        return t;
    }
    let t = NEXT_TID.fetch_add(1, Ordering::Relaxed);
    TID.with(|c| c.set(t));
    table().thread_mut(t);
    t
}

/// Run `f` on the table with the current thread's id, for a
/// synchronisation event (a lock, an unlock, a fence ...). Nothing
/// happens inside the runtime itself or after the report.
pub(crate) fn with_hb(f: impl FnOnce(&mut Table, u32)) {
    if FINISHED.load(Ordering::Relaxed) {
        return;
    }
    let Some(g) = Guard::enter() else { return };
    let tid = current_tid(&g);
    let mut t = table();
    f(&mut t, tid);
}

/// Would an access by this thread be recorded now (not inside the
/// runtime, report not yet written)?
#[inline]
pub(crate) fn recording() -> bool {
    !FINISHED.load(Ordering::Relaxed) && !IN_RT.with(|g| g.get())
}

/// `mmap` (`mapped`) or `munmap` of `[addr, addr+len)` by this thread:
/// counted, and the range's race-detector shadow is forgotten.
pub(crate) fn note_mapping(addr: usize, len: usize, mapped: bool) {
    if FINISHED.load(Ordering::Relaxed) {
        return;
    }
    let Some(g) = Guard::enter() else { return };
    let tid = current_tid(&g);
    let mut t = table();
    t.hb.forget_range(addr, len);
    let info = t.thread_mut(tid);
    if mapped {
        info.mmaps += 1;
        info.mapped_bytes += len as u64;
    } else {
        info.munmaps += 1;
    }
}

/// The calling thread's stack `[lo, hi)`, from `pthread_getattr_np`
/// (empty when it cannot be had). Allocates: call inside the runtime.
pub(crate) fn own_stack(_g: &Guard) -> (usize, usize) {
    // SAFETY: `attr` is initialised by pthread_getattr_np before use and
    // destroyed after; pthread_self has no preconditions.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            return (0, 0);
        }
        (addr as usize, addr as usize + size)
    }
}

/// The thread whose stack holds `addr`, if any.
pub(crate) fn stack_owner(t: &Table, addr: usize) -> Option<u32> {
    t.threads
        .iter()
        .position(|i| (i.stack.0..i.stack.1).contains(&addr))
        .map(|i| i as u32)
}

/// Give the current thread id `tid` (called first thing in a new thread).
pub(crate) fn set_current_tid(tid: u32) {
    TID.with(|c| c.set(tid));
}

/// Reserve an id for a thread about to be created by `parent` with
/// `pthread_create` called at `pc`; the child inherits the parent's clock.
pub(crate) fn new_thread(g: &Guard, start_routine: usize, pc: usize) -> u32 {
    let parent = current_tid(g);
    let t = NEXT_TID.fetch_add(1, Ordering::Relaxed);
    let mut tab = table();
    let stack = stack_node();
    tab.hb.thread_created(parent, t);
    tab.emit(Event::Release {
        thread: parent,
        object: trace::CREATE_OBJ | t as u64,
    });
    let info = tab.thread_mut(t);
    info.parent = Some(parent);
    info.start_routine = start_routine;
    info.created_pc = pc;
    info.created_stack = stack;
    t
}

/// `__tsan_func_entry`: push the caller's pc.
#[inline]
pub(crate) fn func_entry(pc: usize) {
    let d = DEPTH.with(|d| {
        let v = d.get();
        d.set(v + 1);
        v
    });
    if d < SHADOW_DEPTH {
        SHADOW.with(|s| s[d].set(pc));
        VALID.with(|v| v.set(v.get().min(d)));
    }
}

/// The current thread's call stack as a node of the detector's stack trie.
/// Cost: nothing when no function was entered since the last call,
/// otherwise one hash lookup per newly entered frame.
#[inline]
pub(crate) fn stack_node() -> u32 {
    let d = DEPTH.with(|d| d.get()).min(SHADOW_DEPTH);
    let v = VALID.with(|v| v.get()).min(d);
    if v == d {
        return NODE.with(|nodes| nodes[d].get());
    }
    intern_frames(v, d)
}

/// [`stack_node`] when frames `v..d` are new.
#[cold]
fn intern_frames(v: usize, d: usize) -> u32 {
    // Interning may allocate: inside the runtime (if not already).
    let _g = Guard::enter();
    NODE.with(|nodes| {
        let mut node = nodes[v].get();
        // Frames this thread interned before, without the lock.
        let mut i = v;
        SHADOW.with(|s| {
            INTERNED.with(|memo| {
                while i < d {
                    let pc = s[i].get();
                    let (p, q, n) = memo[intern_slot(node, pc)].get();
                    if (p, q) != (node, pc) || n == 0 {
                        break;
                    }
                    node = n;
                    nodes[i + 1].set(node);
                    i += 1;
                }
            })
        });
        if i < d {
            // Bounded: a signal handler that interrupted this thread inside
            // libc's malloc must not wait for a thread that holds the
            // stacks and waits for malloc (seen in
            // `thousands_of_threads_and_signals`). It then names the known
            // prefix of the stack, and interns the rest next time.
            let Some(mut stacks) = STACKS.lock_bounded(10) else {
                VALID.with(|x| x.set(i));
                return node;
            };
            SHADOW.with(|s| {
                INTERNED.with(|memo| {
                    for i in i..d {
                        let pc = s[i].get();
                        let parent = node;
                        node = stacks.push(parent, pc);
                        nodes[i + 1].set(node);
                        memo[intern_slot(parent, pc)].set((parent, pc, node));
                    }
                })
            });
        }
        VALID.with(|x| x.set(d));
        node
    })
}

/// `__tsan_func_exit`: pop (saturating: a thread may leave frames that it
/// never entered, e.g. when instrumented code starts mid-stack).
#[inline]
pub(crate) fn func_exit() {
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
}

/// The pc at which the innermost instrumented function was called, if any.
pub(crate) fn shadow_top() -> usize {
    let d = DEPTH.with(|d| d.get());
    if d == 0 || d > SHADOW_DEPTH {
        0
    } else {
        SHADOW.with(|s| s[d - 1].get())
    }
}

/// Access counts of one thread: `[reads, writes, atomics]`.
pub(crate) type Counts = [u64; 3];

/// A live heap object.
#[derive(Debug)]
pub(crate) struct Object {
    pub(crate) base: usize,
    pub(crate) size: usize,
    /// The call stack of the allocation (a node of the detector's trie).
    pub(crate) stack: u32,
    /// The allocating function.
    pub(crate) func: AllocFn,
    pub(crate) site: usize,
    pub(crate) alloc_tid: u32,
    /// Its id in [`Objects`] (0: none, the slab was full): the counters of
    /// its first [`crate::objects::ROWS`] threads.
    pub(crate) id: u32,
    /// `(thread, counts)` of further threads (all threads when `id` is 0),
    /// in order of first access.
    pub(crate) per_thread: Vec<(u32, Counts)>,
}

/// What the lock-free fast path (`fast`) may remember after an access
/// counted against a heap object.
#[derive(Clone, Copy)]
pub(crate) struct Hit {
    /// The object's allocation site.
    pub(crate) site: u32,
    /// The object's id (0: none).
    pub(crate) id: u32,
    /// The object's first byte.
    pub(crate) start: usize,
    /// One past the object's last byte.
    pub(crate) end: usize,
    /// The thread's counters in the object, if it has a row.
    pub(crate) row: Option<&'static Row>,
    /// The thread's slot in the record of the accessed line, if any.
    pub(crate) memo: Option<LineMemo>,
}

/// One thread's access totals, which the thread counts without the lock
/// (leaked, never moved; folded into [`ThreadInfo`] for the report).
/// Alone in its cache line: the fast path adds to it on every access, and
/// two threads' totals allocated side by side would share a line.
#[derive(Default, Debug)]
#[repr(align(64))]
pub(crate) struct ThreadStats {
    /// Accesses to heap objects, `[reads, writes, atomics]`.
    pub(crate) heap: [AtomicU64; 3],
    /// Accesses to memory that is not a live heap object.
    pub(crate) unattributed: [AtomicU64; 3],
    /// Accesses to heap lines without a record (see `lines::FULL`).
    pub(crate) untracked: AtomicU64,
}

impl ThreadStats {
    /// Add `n` accesses of kind `k` (heap or not); the caller is the
    /// thread itself or holds the table lock.
    #[inline]
    pub(crate) fn add(&self, heap: bool, k: usize, n: u64) {
        let c = if heap {
            &self.heap[k]
        } else {
            &self.unattributed[k]
        };
        c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Add an access to a heap line without a record (the thread itself).
    #[inline]
    pub(crate) fn add_untracked(&self) {
        let u = &self.untracked;
        u.store(u.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// The function of the malloc family that allocated an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AllocFn {
    /// `malloc`
    Malloc,
    /// `calloc`
    Calloc,
    /// `realloc` or `reallocarray`
    Realloc,
    /// `posix_memalign`
    PosixMemalign,
    /// `aligned_alloc`
    AlignedAlloc,
    /// `memalign`
    Memalign,
    /// `valloc`
    Valloc,
    /// `pvalloc`
    Pvalloc,
}

impl AllocFn {
    /// Its index in [`crate::race_report::INTERCEPTED`] (the side data of
    /// its blocks' imitated writes).
    pub(crate) fn code(self) -> u8 {
        crate::race_report::ALLOCATED + self as u8
    }

    /// The C name.
    pub(crate) fn name(self) -> &'static str {
        crate::race_report::INTERCEPTED[self.code() as usize]
    }
}

/// How an object was used, see [`classify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    /// The allocating thread did at least 99% of the accesses.
    Private,
    /// Another single thread did at least 90% of the accesses.
    Handoff,
    /// Several threads, at most one of which writes (plain or atomic).
    SharedRead,
    /// Several threads, two or more of which write.
    SharedWrite,
    /// Never accessed through instrumented code.
    Unaccessed,
}

impl Class {
    /// All classes, in report order.
    pub(crate) const ALL: [Class; 5] = [
        Class::Private,
        Class::Handoff,
        Class::SharedRead,
        Class::SharedWrite,
        Class::Unaccessed,
    ];

    /// The name used in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::Private => "private",
            Class::Handoff => "handoff",
            Class::SharedRead => "shared-read",
            Class::SharedWrite => "shared-write",
            Class::Unaccessed => "unaccessed",
        }
    }
}

/// Classify an object allocated by `alloc_tid` from its per-thread counts.
pub(crate) fn classify(alloc_tid: u32, per_thread: &[(u32, Counts)]) -> Class {
    let total: u64 = per_thread.iter().map(|(_, c)| c.iter().sum::<u64>()).sum();
    if total == 0 {
        return Class::Unaccessed;
    }
    let (top_tid, top) = per_thread
        .iter()
        .map(|(t, c)| (*t, c.iter().sum::<u64>()))
        .max_by_key(|&(t, n)| (n, std::cmp::Reverse(t)))
        .unwrap_or((alloc_tid, 0));
    // Integer comparisons: top/total >= 99/100 and >= 90/100.
    if top_tid == alloc_tid && top * 100 >= total * 99 {
        return Class::Private;
    }
    if top_tid != alloc_tid && top * 100 >= total * 90 {
        return Class::Handoff;
    }
    let writers = per_thread
        .iter()
        .filter(|(_, c)| c[Kind::Write as usize] + c[Kind::Atomic as usize] > 0)
        .count();
    if writers >= 2 {
        Class::SharedWrite
    } else {
        Class::SharedRead
    }
}

/// Aggregate of all objects allocated at one site (call pc + caller pc).
#[derive(Debug, Default)]
pub(crate) struct Site {
    pub(crate) pc: usize,
    pub(crate) caller: usize,
    pub(crate) objects: u64,
    pub(crate) bytes: u64,
    pub(crate) alloc_threads: Vec<u32>,
    pub(crate) per_thread: Vec<(u32, Counts)>,
    /// Objects per class, indexed like [`Class::ALL`].
    pub(crate) classes: [u64; 5],
    /// Accesses made to objects of each class, indexed like [`Class::ALL`].
    pub(crate) class_accesses: [u64; 5],
}

/// Per-thread information.
#[derive(Debug, Default, Clone)]
pub(crate) struct ThreadInfo {
    pub(crate) parent: Option<u32>,
    pub(crate) start_routine: usize,
    pub(crate) pthread: Option<libc::pthread_t>,
    pub(crate) joined_by: Option<u32>,
    /// Accesses to heap objects.
    pub(crate) heap: Counts,
    /// Accesses to memory that is not a live heap object.
    pub(crate) unattributed: Counts,
    /// Counters the thread updates without the lock (folded into `heap`
    /// and `unattributed` by [`Table::fold_stats`]).
    pub(crate) stats: Option<&'static ThreadStats>,
    /// Objects this thread allocated.
    pub(crate) allocs: u64,
    /// The kernel's id of the thread (`gettid`), once it ran.
    pub(crate) os_tid: i64,
    /// The thread's stack, `[lo, hi)` (empty if unknown), for race
    /// reports' "Location is stack of ...".
    pub(crate) stack: (usize, usize),
    /// Where `pthread_create` was called (return address) and the stack.
    pub(crate) created_pc: usize,
    /// The creator's call stack (a node of the detector's trie).
    pub(crate) created_stack: u32,
    /// Has the thread's start routine returned?
    pub(crate) finished: bool,
    /// Detached (`pthread_detach`, or created detached): never joined,
    /// and not a leak when it ends.
    pub(crate) detached: bool,
    /// `mmap` calls (successful) and the bytes they mapped.
    pub(crate) mmaps: u64,
    /// Bytes mapped by `mmap`.
    pub(crate) mapped_bytes: u64,
    /// `munmap` calls.
    pub(crate) munmaps: u64,
}

/// All shared state.
#[derive(Debug)]
pub(crate) struct Table {
    /// Live objects by base address.
    pub(crate) live: Live,
    pub(crate) sites: Vec<Site>,
    site_index: BTreeMap<(usize, usize), usize>,
    pub(crate) threads: Vec<ThreadInfo>,
    /// Happens-before state and shadow memory of the race detector.
    pub(crate) hb: Detector,
    /// Is race detection on (`LOCI_RACES` is not `0`)?
    pub(crate) races_on: bool,
    /// The trace being written (`LOCI_TRACE_OUT`), if any.
    pub(crate) trace: Option<Tracer>,
    /// Per cache line of heap objects: who wrote and read which bytes
    /// (false sharing, [`crate::lines`]; the fast path reaches the same
    /// records without the table).
    pub(crate) lines: &'static Lines,
    /// Per-object counters of live objects (ids over a slab the fast path
    /// reaches without the table).
    pub(crate) objects: Objects,
    /// A buffer reused when objects are folded into their sites.
    scratch: Vec<(u32, Counts)>,
}

impl Table {
    /// An empty table, keeping its line records in `lines` and its
    /// objects' rows in `slab` (the process's table: [`LINES`] and
    /// [`SLAB`], which the fast path reads).
    pub(crate) const fn new(lines: &'static Lines, slab: &'static Slab) -> Table {
        Table {
            live: Live::new(),
            sites: Vec::new(),
            site_index: BTreeMap::new(),
            threads: Vec::new(),
            hb: Detector::new(),
            races_on: true,
            trace: None,
            lines,
            objects: Objects::new(slab),
            scratch: Vec::new(),
        }
    }

    /// Append `e` to the trace, if one is being written (a failed write
    /// stops tracing).
    #[inline]
    pub(crate) fn emit(&mut self, e: Event) {
        if let Some(t) = &mut self.trace {
            if !t.write(&e) {
                self.trace = None;
            }
        }
    }

    /// Trace an acquire (`true`) or release of sync object `addr` by `tid`.
    #[inline]
    fn emit_sync(&mut self, tid: u32, addr: usize, acquire: bool) {
        let (thread, object) = (tid, addr as u64);
        self.emit(if acquire {
            Event::Acquire { thread, object }
        } else {
            Event::Release { thread, object }
        });
    }

    /// `tid` applies synchronisation effect `op` to object `addr` (a
    /// lock taken, an unlock, a post, a successful wait ...).
    pub(crate) fn sync_op(&mut self, tid: u32, addr: usize, op: SyncOp) {
        if self.races_on {
            self.hb.sync_op(tid, addr, op);
        }
        let acquire = matches!(
            op,
            SyncOp::Acquire | SyncOp::ReadLocked | SyncOp::WriteLocked
        );
        self.emit_sync(tid, addr, acquire);
    }

    /// `atomic_thread_fence(mo)` by `tid`.
    pub(crate) fn fence(&mut self, tid: u32, mo: i32) {
        if self.races_on {
            self.hb.fence(tid, mo);
        }
        if let Some(kind) = trace::fence_kind(mo) {
            self.emit(Event::Fence { thread: tid, kind });
        }
    }

    /// Record the `Free` of `obj` by `tid` in the trace.
    pub(crate) fn emit_free(&mut self, tid: u32, obj: &Object) {
        self.emit(Event::Free {
            thread: tid,
            addr: obj.base as u64,
            size: obj.size as u64,
            site: obj.site as u32,
        });
    }
}

static TABLE: Lock<Table> = Lock::new(Table::new(&LINES, &SLAB));

/// The call stacks referenced by cells, objects and threads (its own lock:
/// interned from the lock-free access path too). Lock order: the table
/// before the stacks.
static STACKS: Lock<Stacks> = Lock::new(Stacks::new());

/// Lock the call-stack trie.
pub(crate) fn stacks() -> LockGuard<'static, Stacks> {
    STACKS.lock()
}

/// Lock the table.
pub(crate) fn table() -> LockGuard<'static, Table> {
    TABLE.lock()
}

extern "C" fn fork_prepare() {
    TABLE.raw_lock();
    SLAB.lock_all();
    LINES.lock_all();
    STACKS.raw_lock();
}

extern "C" fn fork_parent() {
    // SAFETY: runs after `fork_prepare` took the locks in this thread.
    unsafe {
        STACKS.raw_unlock();
        LINES.unlock_all();
        SLAB.unlock_all();
        TABLE.raw_unlock();
    }
}

/// A forked child profiles nothing and writes no report (it would
/// overwrite the parent's): the profile is the parent process's.
extern "C" fn fork_child() {
    crate::fast::disable();
    FINISHED.store(true, Ordering::Release);
    // SAFETY: the child's only thread is the one whose `fork_prepare` took
    // the locks.
    unsafe {
        STACKS.raw_unlock();
        LINES.unlock_all();
        SLAB.unlock_all();
        TABLE.raw_unlock();
    }
}

/// Keep the table lock out of `fork` (see [`crate::lock`]). Once.
pub(crate) fn install_fork_handlers() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if !DONE.swap(true, Ordering::AcqRel) {
        // SAFETY: the handlers are `extern "C" fn()` living for the whole
        // program.
        unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
    }
}

fn add(into: &mut Vec<(u32, Counts)>, tid: u32, c: &Counts) {
    match into.iter_mut().find(|(t, _)| *t == tid) {
        Some((_, have)) => {
            for (x, y) in have.iter_mut().zip(c.iter()) {
                *x += y;
            }
        }
        None => into.push((tid, *c)),
    }
}

impl Table {
    /// The info of thread `t`, creating entries up to it.
    pub(crate) fn thread_mut(&mut self, t: u32) -> &mut ThreadInfo {
        let i = t as usize;
        if self.threads.len() <= i {
            self.threads.resize(i + 1, ThreadInfo::default());
        }
        &mut self.threads[i]
    }

    /// The lock-free counters of thread `t` (made on first use).
    pub(crate) fn stats(&mut self, t: u32) -> &'static ThreadStats {
        let info = self.thread_mut(t);
        info.stats
            .get_or_insert_with(|| Box::leak(Box::new(ThreadStats::default())))
    }

    /// Move every thread's lock-free counters into its [`ThreadInfo`].
    pub(crate) fn fold_stats(&mut self) {
        for info in &mut self.threads {
            if let Some(st) = info.stats {
                for k in 0..3 {
                    info.heap[k] += st.heap[k].swap(0, Ordering::Relaxed);
                    info.unattributed[k] += st.unattributed[k].swap(0, Ordering::Relaxed);
                }
                self.lines
                    .add_untracked(st.untracked.swap(0, Ordering::Relaxed));
            }
        }
    }

    /// Record a one-byte access of `kind` by `tid` at `addr` (a write
    /// when `kind` is [`Kind::Write`]); see [`Table::access_sized`].
    #[cfg(test)]
    pub(crate) fn access(&mut self, addr: usize, tid: u32, kind: Kind) -> Option<u32> {
        self.access_sized(addr, 1, tid, kind, kind == Kind::Write)
            .map(|h| h.site)
    }

    /// Count one access of kind `k` by `tid` to `obj`: in the thread's row
    /// when the object has an id and a row is free, else in its list.
    fn count(objects: &Objects, obj: &mut Object, tid: u32, k: usize) -> Option<&'static Row> {
        if obj.id != 0 {
            if let Some(r) = objects.row(obj.id, tid) {
                r.bump(k);
                return Some(r);
            }
        }
        match obj.per_thread.iter_mut().find(|(t, _)| *t == tid) {
            Some((_, c)) => c[k] += 1,
            None => {
                let mut c = [0; 3];
                c[k] = 1;
                obj.per_thread.push((tid, c));
            }
        }
        None
    }

    /// Record an access of `kind` by `tid` to the `size` bytes at `addr`,
    /// counted against the object containing `addr`; `write`: it stores
    /// (for the cache-line record; an atomic may or may not). Returns what
    /// the fast path may remember of the heap object accessed, if any.
    /// Cost: one ordered-map lookup, a scan of the object's rows, and one
    /// hash lookup per cache line touched (inside the object).
    #[inline]
    pub(crate) fn access_sized(
        &mut self,
        addr: usize,
        size: usize,
        tid: u32,
        kind: Kind,
        write: bool,
    ) -> Option<Hit> {
        let k = kind as usize;
        // The shadow's object id names the object (or says there is none)
        // without searching the ordered map.
        let key = match self.hb.shadow.get(addr).map(|(c, gi)| Shadow::id(c, gi)) {
            Some(0) => None,
            Some(id) => self
                .objects
                .base(id)
                .filter(|&b| id != u32::MAX && self.live.contains(b))
                .or_else(|| self.live.at_or_below(addr).map(|(b, _)| b)),
            None => self.live.at_or_below(addr).map(|(b, _)| b),
        };
        let objects = &self.objects;
        let hit = match key.and_then(|b| self.live.get_mut(b).map(|o| (b, o))) {
            Some((base, obj)) if addr < base + obj.size.max(1) => {
                let row = Self::count(objects, obj, tid, k);
                let end = base + obj.size.max(1);
                Some((obj.site as u32, obj.id, base, end, row))
            }
            _ => None,
        };
        self.stats(tid).add(hit.is_some(), k, 1);
        let (site, id, start, end, row) = hit?;
        let len = end.min(addr.saturating_add(size.max(1))) - addr;
        let memo = if end - start >= LINELESS_MIN {
            None
        } else {
            self.lines
                .note(&self.hb.shadow, addr, len, tid, write, site)
        };
        Some(Hit {
            site,
            id,
            start,
            end,
            row,
            memo,
        })
    }

    /// Record one access of `kind` by `tid` to every live object that
    /// overlaps `[addr, addr+size)`, or one unattributed access if none
    /// does; returns the site index of the (lowest) object hit, if any.
    pub(crate) fn access_range(
        &mut self,
        addr: usize,
        size: usize,
        tid: u32,
        kind: Kind,
    ) -> Option<u32> {
        if size == 0 {
            return None;
        }
        let end = addr.saturating_add(size);
        let k = kind as usize;
        let mut hits = 0u64;
        let mut site = None;
        let (objects, lines, shadow) = (&self.objects, self.lines, &self.hb.shadow);
        self.live.each_overlapping(addr, end, |base, obj| {
            Self::count(objects, obj, tid, k);
            hits += 1;
            site = Some(obj.site as u32);
            let lo = addr.max(base);
            let hi = end.min(base + obj.size.max(1));
            if obj.size < LINELESS_MIN {
                lines.note(
                    shadow,
                    lo,
                    hi - lo,
                    tid,
                    kind == Kind::Write,
                    obj.site as u32,
                );
            }
        });
        let st = self.stats(tid);
        if hits > 0 {
            st.add(true, k, hits);
        } else {
            st.add(false, k, 1);
        }
        site
    }

    /// Take the live object at `base` out of the table (to be put back with
    /// [`Table::put_back`] or retired with [`Table::retire`]). Its shadow
    /// marks stay until it is retired.
    pub(crate) fn take(&mut self, base: usize) -> Option<Object> {
        self.live.remove(base)
    }

    /// Reinsert an object taken with [`Table::take`] (a failed `realloc`).
    pub(crate) fn put_back(&mut self, base: usize, obj: Object) {
        self.live.insert(base, obj);
    }

    /// Record a new object `[base, base+size)` allocated by `tid` at call
    /// pc `pc` from a function called at `caller`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn alloc(
        &mut self,
        base: usize,
        size: usize,
        tid: u32,
        pc: usize,
        caller: usize,
        stack: u32,
        func: AllocFn,
    ) {
        let next = self.sites.len();
        let site = *self.site_index.entry((pc, caller)).or_insert(next);
        if site == next {
            self.sites.push(Site {
                pc,
                caller,
                ..Site::default()
            });
        }
        self.thread_mut(tid).allocs += 1;
        // A stale entry at the same base (freed behind our back, e.g. by a
        // non-interposed path) is retired first.
        if let Some(old) = self.live.remove(base) {
            self.retire(old);
        }
        let id = self.objects.alloc(base, size, site as u32).unwrap_or(0);
        // Mark the object's granules for the fast path: its id, or
        // `u32::MAX` ("ask the table") when it has none.
        self.hb
            .shadow
            .mark(base, size, if id == 0 { u32::MAX } else { id }, None);
        if self.races_on {
            // Replaces the marks of an earlier free of this memory (see
            // `free`); the marking above mapped the block's chunks.
            if size < IMITATED_MAX_SIZE {
                self.hb
                    .imitate_write(tid, (base, size), pc, stack, func.code());
            } else {
                self.hb.shadow.forget_cells(base, size);
            }
        }
        self.live.insert(
            base,
            Object {
                base,
                size,
                stack,
                func,
                site,
                alloc_tid: tid,
                id,
                per_thread: Vec::new(),
            },
        );
        self.emit(Event::Alloc {
            thread: tid,
            addr: base as u64,
            size: size as u64,
            site: site as u32,
        });
    }

    /// `tid` frees the object at `base` (if any; `pc`: the call of `free`,
    /// `stack`: the thread's stack node), which is folded into its site.
    /// With race detection on, the free is a write of the object's first
    /// [`FREED_MARK_BYTES`] bytes, as in ThreadSanitizer: it is checked
    /// against the accesses recorded there (a race found is returned, for
    /// the caller to report) and stays in their cells as the mark of the
    /// freed block, so that a later access by a thread not ordered after
    /// the free is reported as a use after free. The marks are cleared when
    /// the memory is allocated again ([`Table::alloc`]). Blocks of
    /// [`FREED_MARK_MAX_SIZE`] bytes or more get no mark: the allocator may
    /// give their memory back to the system, which may map it again for
    /// something else (a thread's stack).
    pub(crate) fn free(&mut self, base: usize, tid: u32, pc: usize, stack: u32) -> Option<Race> {
        let obj = self.live.remove(base)?;
        self.free_taken(obj, tid, pc, stack, crate::race_report::FREE)
    }

    /// [`Table::free`] of an object already taken out of the table (with
    /// [`Table::take`]): `realloc` takes the old block before calling the
    /// real `realloc`, and calls this when the block moved (`func`:
    /// [`crate::race_report::REALLOC`]). The memory is then already back
    /// with the allocator, which may have handed it to another thread: no
    /// mark is left where a live object lies now (its allocation emptied
    /// the cells; a later one will).
    pub(crate) fn free_taken(
        &mut self,
        obj: Object,
        tid: u32,
        pc: usize,
        stack: u32,
        func: u8,
    ) -> Option<Race> {
        self.emit_free(tid, &obj);
        let base = obj.base;
        let mut race = None;
        let mut marked = 0;
        if self.races_on && obj.size > 0 && obj.size < FREED_MARK_MAX_SIZE {
            let len = obj.size.min(FREED_MARK_BYTES);
            let reused = self
                .live
                .at_or_below(base + len - 1)
                .is_some_and(|(b, o)| b + o.size.max(1) > base);
            if !reused {
                marked = len;
                race = self.hb.free(tid, (base, len), pc, stack, func);
            }
        }
        self.retire_marked(obj, marked);
        race
    }

    /// Fold all live objects into their sites (at exit).
    pub(crate) fn retire_all(&mut self) {
        self.lines.flush_all(&self.hb.shadow);
        for obj in self.live.take_all() {
            // At exit the shadow is not cleared (nothing reads it again).
            self.fold(obj);
        }
    }

    /// Fold a dead object into its site and forget its shadow (the memory
    /// goes back to the allocator).
    pub(crate) fn retire(&mut self, obj: Object) {
        self.retire_marked(obj, 0);
    }

    /// [`Table::retire`], keeping the race cells of the object's first
    /// `marked` bytes (the marks of its free, see [`Table::free`]).
    fn retire_marked(&mut self, obj: Object, marked: usize) {
        let mark = if obj.id == 0 { u32::MAX } else { obj.id };
        self.hb.shadow.mark(obj.base, obj.size, 0, Some(mark));
        self.hb.forget_sync(obj.base, obj.size);
        let kept = if marked == 0 {
            obj.base
        } else {
            (obj.base + marked).next_multiple_of(8)
        };
        let end = obj.base + obj.size;
        if end > kept {
            self.hb.shadow.forget(kept, end - kept);
        }
        self.fold(obj);
    }

    /// Fold a dead object's counts and line records into its site.
    fn fold(&mut self, mut obj: Object) {
        // The rows, then the threads beyond them, in a reused buffer.
        let mut all = std::mem::take(&mut self.scratch);
        all.clear();
        if obj.id != 0 {
            self.objects.release(obj.id, &mut all);
        }
        all.append(&mut obj.per_thread);
        self.lines.flush_range(&self.hb.shadow, obj.base, obj.size);
        let class = classify(obj.alloc_tid, &all);
        let accesses: u64 = all.iter().map(|(_, c)| c.iter().sum::<u64>()).sum();
        let site = &mut self.sites[obj.site];
        site.objects += 1;
        site.bytes += obj.size as u64;
        if !site.alloc_threads.contains(&obj.alloc_tid) {
            site.alloc_threads.push(obj.alloc_tid);
        }
        for (t, c) in all.iter() {
            add(&mut site.per_thread, *t, c);
        }
        let ci = Class::ALL.iter().position(|c| *c == class).unwrap_or(4);
        site.classes[ci] += 1;
        site.class_accesses[ci] += accesses;
        self.scratch = all;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify(0, &[]), Class::Unaccessed);
        assert_eq!(
            classify(0, &[(0, [99, 0, 0]), (1, [1, 0, 0])]),
            Class::Private
        );
        assert_eq!(
            classify(0, &[(0, [98, 0, 0]), (1, [2, 0, 0])]),
            Class::SharedRead
        );
        assert_eq!(
            classify(0, &[(0, [1, 1, 0]), (1, [9, 9, 0])]),
            Class::Handoff
        );
        assert_eq!(
            classify(0, &[(0, [0, 5, 0]), (1, [0, 0, 5])]),
            Class::SharedWrite
        );
        // Private needs the allocator to be the dominant thread.
        assert_eq!(classify(2, &[(1, [100, 0, 0])]), Class::Handoff);
    }

    #[test]
    fn allocating_functions_are_named_in_race_reports() {
        use AllocFn::*;
        let names = [
            (Malloc, "malloc"),
            (Calloc, "calloc"),
            (Realloc, "realloc"),
            (PosixMemalign, "posix_memalign"),
            (AlignedAlloc, "aligned_alloc"),
            (Memalign, "memalign"),
            (Valloc, "valloc"),
            (Pvalloc, "pvalloc"),
        ];
        for (f, name) in names {
            assert_eq!(f.name(), name);
            assert_eq!(crate::race_report::INTERCEPTED[f.code() as usize], name);
        }
    }

    #[test]
    fn table_attributes_by_interval() {
        let mut t = Table::new(
            Box::leak(Box::new(Lines::new())),
            Box::leak(Box::new(Slab::new())),
        );
        t.alloc(1000, 16, 0, 0x10, 0, 0, AllocFn::Malloc);
        t.alloc(1016, 8, 0, 0x10, 0, 0, AllocFn::Calloc);
        t.access(1000, 1, Kind::Write);
        t.access(1015, 1, Kind::Read);
        t.access(1016, 0, Kind::Atomic);
        t.access(1024, 0, Kind::Read);
        t.access(999, 0, Kind::Read);
        t.free(1000, 0, 0, 0);
        t.retire_all();
        t.fold_stats();
        assert_eq!(t.sites.len(), 1);
        let s = &t.sites[0];
        assert_eq!((s.objects, s.bytes), (2, 24));
        assert_eq!(s.per_thread, vec![(1, [1, 1, 0]), (0, [0, 0, 1])]);
        assert_eq!(t.threads[0].unattributed, [2, 0, 0]);
        assert_eq!(t.threads[1].heap, [1, 1, 0]);
        assert_eq!(s.classes, [1, 1, 0, 0, 0]);
    }
}
