//! The lock-free fast path of a plain instrumented access.
//!
//! Most accesses repeat what the same thread just did: the same object,
//! the same cache line, the same bytes in the same epoch. For those,
//! everything the runtime records can be updated by the thread alone,
//! without the table lock:
//!
//! - race detection: FastTrack's "same epoch" case — the thread already
//!   has a cell in the granule's shadow covering these bytes, at least as
//!   strong, in its current epoch — needs no check and no store
//!   ([`crate::race::same_epoch`], reading the packed cells of
//!   [`crate::shadow`]);
//! - the per-object counts: the thread's row in the object
//!   ([`crate::objects`]); the false-sharing record: the thread's slot in
//!   the line's record ([`crate::lines`]); the thread's totals
//!   ([`crate::state::ThreadStats`]).
//!
//! Three levels, cheapest first:
//!
//! 1. [`Near`]: the lines of objects the thread counted in just before
//!    (four, direct-mapped). An access inside the object's bytes of such a
//!    line is checked (the "same epoch" test on its granule's cells, found
//!    without a lookup) and counted after two compares of claims
//!    ([`crate::objects::next_claim`]) that prove the row and slot are
//!    still the thread's, for the same object and line record. This is a
//!    repeated access and the next element of a scan alike.
//! 2. `general`: the shadow lookup, the object the granule's id names and
//!    the line memo (`lines`); it fills level 1.
//! 3. Misses: the race check of a new epoch or granule, lock-free
//!    (`race_miss`); the thread's first access to an object or line
//!    (`count`): its row claimed under the object id's shard lock
//!    (`claim_object`), the line's record made and its slot claimed
//!    under the line's shard lock (`count_new_line`), not the table lock
//!    (a producer's `malloc` and a consumer's `free` hold that one), and
//!    under the table lock only what these cannot settle;
//!    atomics ([`atomic`]), synchronisation ([`sync`]); anything the fast
//!    path cannot take (no context, tracing on, an access spanning
//!    granules) goes to the locked path (`abi::access_slow`), which then
//!    teaches the fast path ([`learn`]).
//!
//! Nothing is changed until every check has passed, so falling back is
//! always safe.
//!
//! Cost of a level-1 hit: about 50 instructions, no atomic
//! read-modify-write, no store to memory another thread writes and no
//! stack frame (ThreadSanitizer's fast path: about 60 on the same
//! accesses; callgrind on `benches/profile/capture.c`, where the whole
//! program runs 71 instructions per access under loci and 69 under TSan).
//! The race check of a granule that the "same epoch" test does not settle
//! is lock-free too ([`race::check_store`]: a compare-and-swap per
//! access, where ThreadSanitizer uses a plain store that can lose a
//! race).

use crate::lines::{LineRec, SharedSlot};
use crate::objects::Row;
use crate::race::{self, Access, SyncOp, ThreadClock};
use crate::shadow::{self, Chunk, Shadow};
use crate::state::{self, Guard, Hit, Kind, Table, ThreadStats};
use core::cell::Cell;
use core::ptr::null;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// [`FLAGS`]: the fast path may run (no trace is being written).
const ENABLED: u8 = 1;
/// [`FLAGS`]: race detection is on.
const RACES: u8 = 2;

/// What the fast path may do, set by [`learn`] from the table.
static FLAGS: AtomicU8 = AtomicU8::new(0);
/// The first level of the table's shadow, published by [`learn`].
static L1: AtomicPtr<AtomicPtr<Chunk>> = AtomicPtr::new(core::ptr::null_mut());

/// What one thread remembers between accesses (leaked, one per thread
/// that made an instrumented access; reached through [`slot`]).
pub(crate) struct Ctx {
    /// The thread's id.
    tid: u32,
    /// The thread's epoch mirror: the thread and its epoch packed as
    /// [`shadow::owner`].
    owner: &'static AtomicU64,
    /// The thread's lock-free totals.
    stats: &'static ThreadStats,
    /// The thread's clock state (only this thread changes it).
    clock: *const ThreadClock,
    /// Objects recently counted in, direct-mapped by id (a scan that
    /// reads one buffer and writes another alternates between two).
    objs: [Cell<ObjMemo>; OBJ_MEMO],
    /// Lines recently noted, direct-mapped by line index: (line, site,
    /// record, the thread's slot in it).
    lines: [Cell<LineEntry>; LINE_MEMO],
    /// Lines of objects the thread counted in recently, direct-mapped by
    /// line index (see [`Near`]).
    near: [Cell<Near>; NEAR],
    /// The same for lines where the thread counts in the record's merged
    /// slot (threads beyond [`crate::lines::SLOTS`]), whose updates are
    /// atomic: looked at only when `near` misses, so that the hit path
    /// has no test for it.
    near_shared: [Cell<Near>; NEAR],
    /// The slot `near` entries of lines without a record point to
    /// ([`SharedSlot::sink`]: objects of `lines::LINELESS_MIN` bytes or
    /// more).
    sink: SharedSlot,
}

/// An object the thread counted in (see [`Ctx::objs`]).
#[derive(Clone, Copy)]
struct ObjMemo {
    /// The object's id (0: none).
    id: u32,
    /// Its allocation site.
    site: u32,
    /// Its bytes: `start..end`.
    start: usize,
    end: usize,
    /// The thread's row in it.
    row: *const Row,
}

/// Objects remembered per thread.
const OBJ_MEMO: usize = 4;

const NO_OBJ: ObjMemo = ObjMemo {
    id: 0,
    site: 0,
    start: 0,
    end: 0,
    row: null(),
};

impl Ctx {
    /// The remembered object that would be `id` (check its `id`).
    #[inline(always)]
    fn obj(&self, id: u32) -> ObjMemo {
        self.objs[id as usize % OBJ_MEMO].get()
    }
}

/// A cache line of an object the thread just counted an access in: all a
/// further plain access to the object's bytes in that line needs, so that
/// it is checked and counted with no lookup — a repeat of one access, or
/// the next element of a scan. Valid while the thread's row in the object
/// and its slot in the line's record still carry the claims they had
/// ([`crate::objects::next_claim`]: the same object, so `lo..hi` still
/// holds its bytes, and the same line record, which has seen the object's
/// site). The race check is still made (FastTrack's "same epoch" test on
/// the granule's cells, found from `cells`).
#[derive(Clone, Copy)]
struct Near {
    /// The object's bytes in the line: `lo..hi` (empty: `0..0`).
    lo: usize,
    hi: usize,
    /// The cells of the line's first granule (the line's 8 granules' cells
    /// follow each other).
    cells: *const [AtomicU64; race::CELLS],
    /// The thread's row in the object, and its claim (null: a line of no
    /// heap object, see `ids`).
    row: *const Row,
    row_claim: u64,
    /// The thread's slot in the line's record, and its claim.
    slot: *const SharedSlot,
    slot_claim: u64,
    /// For a line of no heap object (`row` null): the object ids of its
    /// first granule (the others follow) and of its page, which must still
    /// be 0 for an access to be counted as unattributed.
    ids: *const AtomicU32,
    page_id: *const AtomicU32,
}

/// Entries of [`Ctx::near`].
const NEAR: usize = 4;

const NO_NEAR: Near = Near {
    lo: 0,
    hi: 0,
    cells: null(),
    row: null(),
    row_claim: 0,
    slot: null(),
    slot_claim: 0,
    ids: null(),
    page_id: null(),
};

/// A remembered line: index (`usize::MAX`: none), site, record, slot.
type LineEntry = (usize, u32, *const LineRec, *const SharedSlot);

/// Entries of a thread's line memo.
const LINE_MEMO: usize = 4;

const NO_ENTRY: LineEntry = (usize::MAX, 0, null(), null());

/// The calling thread's context pointer in an initial-exec TLS slot: two
/// instructions to read (`thread_local!` in a position-independent
/// library costs a call through `__tls_get_addr`). The slot is null
/// while the thread is inside the runtime (see `state::Guard`), which is
/// how the fast path knows not to record the runtime's own accesses.
mod slot {
    use super::Ctx;

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    core::arch::global_asm!(
        ".section .tbss.loci_rt_ctx,\"awT\",@nobits",
        ".p2align 3",
        ".globl loci_rt_tls_ctx",
        ".hidden loci_rt_tls_ctx",
        ".type loci_rt_tls_ctx, @object",
        ".size loci_rt_tls_ctx, 8",
        "loci_rt_tls_ctx:",
        ".zero 8",
        ".text",
    );

    /// The calling thread's context, or null.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[inline(always)]
    pub(crate) fn get() -> *const Ctx {
        let v: *const Ctx;
        // SAFETY: reads this thread's 8-byte TLS slot declared above; the
        // GOTTPOFF relocation gives its offset from the thread pointer.
        unsafe {
            core::arch::asm!(
                "mov {v}, qword ptr [rip + loci_rt_tls_ctx@GOTTPOFF]",
                "mov {v}, qword ptr fs:[{v}]",
                v = out(reg) v,
                options(nostack, readonly, preserves_flags),
            );
        }
        v
    }

    /// Set the calling thread's context.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[inline(always)]
    pub(crate) fn set(c: *const Ctx) {
        // SAFETY: writes this thread's 8-byte TLS slot declared above.
        unsafe {
            core::arch::asm!(
                "mov {off}, qword ptr [rip + loci_rt_tls_ctx@GOTTPOFF]",
                "mov qword ptr fs:[{off}], {c}",
                off = out(reg) _,
                c = in(reg) c,
                options(nostack, preserves_flags),
            );
        }
    }

    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    std::thread_local! {
        static CURRENT: core::cell::Cell<*const Ctx> = const { core::cell::Cell::new(core::ptr::null()) };
    }

    /// The calling thread's context, or null.
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    #[inline(always)]
    pub(crate) fn get() -> *const Ctx {
        CURRENT.with(|c| c.get())
    }

    /// Set the calling thread's context.
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    #[inline(always)]
    pub(crate) fn set(c: *const Ctx) {
        CURRENT.with(|x| x.set(c))
    }
}

/// The context slot's value while the thread runs the race detector or
/// holds a shard lock outside the runtime (see [`unlocked`]): nothing is
/// recorded then, and the runtime cannot be entered (see [`busy`]).
const BUSY: *const Ctx = core::ptr::dangling();

/// Is the thread inside the unlocked race check (so that the runtime must
/// not be entered, e.g. from a signal handler)?
#[inline]
pub(crate) fn busy() -> bool {
    slot::get() == BUSY
}

/// Hide the thread's context from the fast path (entering the runtime);
/// returns it for [`restore`].
#[inline]
pub(crate) fn hide() -> *const Ctx {
    let c = slot::get();
    if !c.is_null() {
        slot::set(null());
    }
    c
}

/// Undo [`hide`] (leaving the runtime).
#[inline]
pub(crate) fn restore(c: *const Ctx) {
    if !c.is_null() {
        slot::set(c);
    }
}

/// Turn the fast path off for good (the profile is being written, or this
/// is a forked child): every access then reaches the slow path, which
/// checks `FINISHED`.
pub(crate) fn disable() {
    FLAGS.store(DISABLED, Ordering::Release);
}

/// [`FLAGS`] once [`disable`]d ([`learn`] never changes it back).
const DISABLED: u8 = 0x80;

/// The calling thread's context and the fast path's flags, when it may
/// record without the table lock: it has a context, is neither inside the
/// runtime nor inside a [`while_busy`] section, and no trace is written.
#[inline(always)]
fn current() -> Option<(&'static Ctx, u8)> {
    let c = slot::get();
    let flags = FLAGS.load(Ordering::Relaxed);
    if (c as usize) <= BUSY as usize || flags & ENABLED == 0 {
        return None;
    }
    // SAFETY: contexts are leaked, and only this thread uses its own.
    Some((unsafe { &*c }, flags))
}

/// Run `f`, a call into the real allocator (`malloc`, `free`, ...), with
/// the thread's context slot set to BUSY (and restored after): a signal
/// handler that interrupts the allocator then neither records its
/// accesses nor enters the runtime, which allocates, while the allocator
/// is not reentrant (glibc's single-threaded `malloc` takes no lock at
/// all: its heap was corrupted). Two TLS stores.
#[inline(always)]
pub(crate) fn in_allocator<R>(f: impl FnOnce() -> R) -> R {
    let c = slot::get();
    slot::set(BUSY);
    let r = f();
    slot::set(c);
    r
}

/// Run `f` with the thread's context slot set to BUSY (and restored to
/// `c` after): for sections that check races, hold a shard lock or may
/// allocate, so that a signal handler interrupting them records nothing
/// and cannot enter the runtime, and malloc hooks record nothing.
#[inline(always)]
fn while_busy<R>(c: &'static Ctx, f: impl FnOnce() -> R) -> R {
    slot::set(BUSY);
    let r = f();
    slot::set(c);
    r
}

impl Ctx {
    /// The thread's clock state.
    ///
    /// # Safety
    /// Only from the context's own thread, outside the runtime (then it is
    /// the state's only user: only the thread itself changes it).
    #[allow(clippy::mut_from_ref)]
    unsafe fn clock_mut(&self) -> &mut ThreadClock {
        // SAFETY: the state is a leaked box (never freed); exclusivity is
        // the caller's contract.
        unsafe { &mut *(self.clock as *mut ThreadClock) }
    }
}

/// `$f::<SIZE, WRITE>(c, addr, pc, func)` with the access's size and
/// kind as constants (the hooks pass constants, so the match folds away);
/// other sizes take the slow path.
macro_rules! sized {
    ($f:ident, $c:expr, $addr:expr, $size:expr, $kind:expr, $pc:expr, $func:expr) => {
        match ($size, $kind == Kind::Write) {
            (1, false) => $f::<1, false>($c, $addr, $pc, $func),
            (2, false) => $f::<2, false>($c, $addr, $pc, $func),
            (4, false) => $f::<4, false>($c, $addr, $pc, $func),
            (8, false) => $f::<8, false>($c, $addr, $pc, $func),
            (1, true) => $f::<1, true>($c, $addr, $pc, $func),
            (2, true) => $f::<2, true>($c, $addr, $pc, $func),
            (4, true) => $f::<4, true>($c, $addr, $pc, $func),
            (8, true) => $f::<8, true>($c, $addr, $pc, $func),
            _ => crate::abi::access_slow($addr, $size, $kind, $pc, false, $func),
        }
    };
}

/// Record a plain access of `size` bytes at `addr` (`pc`: the accessing
/// instruction; `func`: the intercepted libc function making it, 0: the
/// program): without the lock when the thread repeats what it just did
/// (see the module docs), else through [`race_miss`], [`count`] or, when
/// the fast path cannot run at all, the locked path. Everything the hit
/// path needs is inline and calls nothing, so that it needs no stack
/// frame; each miss is a tail call.
#[inline(always)]
pub(crate) fn access(addr: usize, size: usize, kind: Kind, pc: usize, func: u8) {
    // `current()`, written out: this is the hottest path.
    let c = slot::get();
    let flags = FLAGS.load(Ordering::Relaxed);
    let off = addr & 7;
    if (c as usize) <= BUSY as usize || flags & ENABLED == 0 || off + size > 8 {
        return crate::abi::access_slow(addr, size, kind, pc, false, func);
    }
    // SAFETY: contexts are leaked, and only this thread uses its own.
    let c = unsafe { &*c };
    let write = kind == Kind::Write;
    let line = addr >> 6;
    // SAFETY: only this thread uses its context's cells (no reference
    // into them outlives this function).
    let r = unsafe { &*c.near[line % NEAR].as_ptr() };
    // `lo..hi` lies in the entry's line (empty: `0..0`).
    if addr >= r.lo && addr + size <= r.hi {
        // A line of the object counted in just before (see `Near`).
        if flags & RACES != 0 {
            let owner = c.owner.load(Ordering::Relaxed);
            let mask = (((1u16 << size) - 1) << off) as u8;
            // SAFETY: the line's granules' cells, in a never-unmapped chunk.
            let cells = unsafe { &*r.cells.add((addr >> 3) & 7) };
            if !race::same_epoch_owner(cells, owner, mask, write, false) {
                return sized!(race_miss, c, addr, size, kind, pc, func);
            }
        }
        if count_near::<false>(c, r, addr, size, kind, write) {
            return;
        }
    }
    sized!(general, c, addr, size, kind, pc, func)
}

/// The part of [`access`] for an access outside the lines of [`Near`]:
/// the shadow, the "same epoch" test, the object and line memos, then the
/// line remembered in [`Near`] (out of line, so that the test above needs
/// no registers saved).
#[inline(never)]
fn general<const SIZE: usize, const WRITE: bool>(
    c: &'static Ctx,
    addr: usize,
    pc: usize,
    func: u8,
) {
    let (size, write) = (SIZE, WRITE);
    let kind = if WRITE { Kind::Write } else { Kind::Read };
    let flags = FLAGS.load(Ordering::Relaxed);
    // A context exists only once `learn` published the first level.
    let Some((chunk, gi)) = shadow::lookup_mapped(L1.load(Ordering::Acquire), addr) else {
        return crate::abi::access_slow(addr, size, kind, pc, false, func);
    };
    if flags & RACES != 0 {
        let owner = c.owner.load(Ordering::Relaxed);
        let mask = (((1u16 << size) - 1) << (addr & 7)) as u8;
        if !race::same_epoch_owner(&chunk.cells[gi], owner, mask, write, false) {
            return race_miss::<SIZE, WRITE>(c, addr, pc, func);
        }
    }
    count_missed(c, chunk, gi, addr, size, kind, write);
}

/// Count an access `Near` did not (granule `gi` of `chunk`): through the
/// thread's [`Ctx::near_shared`] entry, the object and line memos (then
/// remembered in `Near`), else [`count`].
#[inline]
fn count_missed(
    c: &'static Ctx,
    chunk: &Chunk,
    gi: usize,
    addr: usize,
    size: usize,
    kind: Kind,
    write: bool,
) {
    if count_near_shared(c, addr, size, kind, write) {
        return;
    }
    match count_hit(c, chunk, gi, addr, size, kind, write) {
        Counted::No => count(c, addr, size, kind, write),
        Counted::Unattributed => remember_unattributed(c, chunk, gi, addr),
        Counted::InObject => remember(c, chunk, gi, addr),
        Counted::Lineless => remember_lineless(c, chunk, gi, addr),
    }
}

/// Count an access of `kind` (`write`: it stores) to the `size` bytes at
/// `addr` through the thread's [`Ctx::near_shared`] entry for its line, if
/// it holds them; `false`: nothing was counted.
#[inline(always)]
fn count_near_shared(c: &Ctx, addr: usize, size: usize, kind: Kind, write: bool) -> bool {
    // SAFETY: only this thread uses its context's cells.
    let r = unsafe { &*c.near_shared[(addr >> 6) % NEAR].as_ptr() };
    addr >= r.lo && addr + size <= r.hi && count_near::<true>(c, r, addr, size, kind, write)
}

/// Count an access of `kind` (`write`: it stores) to the `size` bytes at
/// `addr`, which lie in `r`'s bytes, through `r` if its row and slot
/// still carry their claims; `false`: nothing was counted. `SHARED`: `r`
/// is an entry of [`Ctx::near_shared`] (atomic updates of the slot).
#[inline(always)]
fn count_near<const SHARED: bool>(
    c: &Ctx,
    r: &Near,
    addr: usize,
    size: usize,
    kind: Kind,
    write: bool,
) -> bool {
    if r.row.is_null() {
        // A line of no heap object: still none at this granule?
        // SAFETY: shadow words of a never-unmapped chunk.
        let none = unsafe {
            (*r.ids.add((addr >> 3) & 7)).load(Ordering::Relaxed) == 0
                && (*r.page_id).load(Ordering::Relaxed) == 0
        };
        if none {
            c.stats.add(false, kind as usize, 1);
        }
        return none;
    }
    // SAFETY: rows and slots live in leaked slabs.
    let (row, slot) = unsafe { (&*r.row, &*r.slot) };
    if row.claim.load(Ordering::Relaxed) != r.row_claim || slot.claim() != r.slot_claim {
        return false;
    }
    let m = ((1u64 << size) - 1) << (addr & 63);
    if SHARED {
        slot.note_shared(m, write);
    } else {
        slot.note(m, write);
    }
    count_in(c, row, kind as usize);
    true
}

/// Remember the line of the access at `addr` (granule `gi` of `chunk`)
/// just counted by [`count_hit`] (so the context's object and line memos
/// hold the thread's row and slot) in the thread's [`Near`] entry for it.
#[inline(always)]
fn remember(c: &Ctx, chunk: &Chunk, gi: usize, addr: usize) {
    let line = addr >> 6;
    let (_, _, _, slot) = c.lines[line % LINE_MEMO].get();
    let o = c.obj(Shadow::id(chunk, gi));
    c.near[line % NEAR].set(object_line(&o, chunk, gi, addr, slot));
}

/// Remember the line of the access at `addr` (granule `gi` of `chunk`)
/// just counted in a remembered object without line records in the
/// thread's [`Near`] entry for it (with the thread's sink for a slot).
#[inline(never)]
fn remember_lineless(c: &Ctx, chunk: &Chunk, gi: usize, addr: usize) {
    let o = c.obj(Shadow::id(chunk, gi));
    c.near[(addr >> 6) % NEAR].set(object_line(&o, chunk, gi, addr, &c.sink));
}

/// Remember the line of the access at `addr` (granule `gi` of `chunk`)
/// just counted in the merged slot `slot` of its record (the context's
/// object memo holds the thread's row) in the thread's
/// [`Ctx::near_shared`] entry for it.
#[inline(never)]
fn remember_shared(c: &Ctx, o: &ObjMemo, chunk: &Chunk, gi: usize, addr: usize, slot: &SharedSlot) {
    c.near_shared[(addr >> 6) % NEAR].set(object_line(o, chunk, gi, addr, slot));
}

/// The [`Near`] entry for the line of the access at `addr` (granule `gi`
/// of `chunk`) just counted in the remembered object `o`, in line slot
/// `slot`.
#[inline(always)]
fn object_line(
    o: &ObjMemo,
    chunk: &Chunk,
    gi: usize,
    addr: usize,
    slot: *const SharedSlot,
) -> Near {
    let line = addr >> 6;
    let row = o.row;
    // SAFETY: the caller just counted through both (leaked slabs).
    let (row_claim, slot_claim) =
        unsafe { ((*row).claim.load(Ordering::Relaxed), (*slot).claim()) };
    Near {
        lo: o.start.max(line << 6),
        hi: o.end.min((line + 1) << 6),
        cells: &chunk.cells[gi & !7],
        row,
        row_claim,
        slot,
        slot_claim,
        ids: null(),
        page_id: null(),
    }
}

/// Remember the line of the access at `addr` (granule `gi` of `chunk`)
/// just counted as unattributed in the thread's [`Near`] entry for it.
#[inline(never)]
fn remember_unattributed(c: &Ctx, chunk: &Chunk, gi: usize, addr: usize) {
    let line = addr >> 6;
    c.near[line % NEAR].set(Near {
        lo: line << 6,
        hi: (line + 1) << 6,
        cells: &chunk.cells[gi & !7],
        row: null(),
        row_claim: 0,
        slot: null(),
        slot_claim: 0,
        ids: &chunk.ids[gi & !7],
        page_id: &chunk.page_ids[gi / shadow::PAGE_GRANULES],
    });
}

/// The race check of a plain access the "same epoch" test did not
/// settle, without the table lock: the granule's lock-free check
/// (the table lock only to report a race), then the counting.
/// One copy per size and kind, as for [`general`] (the mask and the
/// counting paths fold to constants: 46 instructions fewer per miss in
/// `benches/profile/readmostly.c`). (Four arguments, all in registers: the call from [`access`]
/// is a jump.)
#[inline(never)]
fn race_miss<const SIZE: usize, const WRITE: bool>(
    c: &'static Ctx,
    addr: usize,
    pc: usize,
    func: u8,
) {
    let (size, kind) = (SIZE, if WRITE { Kind::Write } else { Kind::Read });
    // `access` found it mapped (chunks are never unmapped).
    let Some((chunk, gi)) = shadow::lookup_mapped(L1.load(Ordering::Acquire), addr) else {
        return;
    };
    let write = kind == Kind::Write;
    let info = shadow::side_info(state::stack_node(), func);
    // SAFETY: this thread, outside the runtime (it has a context).
    let vc = &unsafe { c.clock_mut() }.vc;
    let mask = (((1u16 << size) - 1) << (addr & 7)) as u8;
    // The epoch mirror holds this thread's packed thread and epoch.
    let cur = c.owner.load(Ordering::Relaxed) | mask as u64 | (write as u64) << 8;
    let sides = Shadow::sides(chunk, gi);
    let (j, w) = while_busy(c, || {
        race::check_store(&chunk.cells[gi], sides, vc, cur, pc, info)
    });
    if j < race::CELLS {
        report(race::race_at(chunk, gi, addr >> 3, j, w, cur, (pc, info)));
    }
    // SAFETY: only this thread uses its context's cells.
    let r = unsafe { &*c.near[(addr >> 6) % NEAR].as_ptr() };
    if addr >= r.lo && addr + size <= r.hi {
        // `access` came here from the line's `Near` entry: count there.
        if count_near::<false>(c, r, addr, size, kind, write) {
            return;
        }
    }
    count_missed(c, chunk, gi, addr, size, kind, write);
}

/// The counting fast path: count an access of kind `kind` (`write`: it
/// stores, for the line's record) of `size` bytes at `addr` (granule `gi`
/// of `chunk`; the access must not cross the granule) against its object, its line and the
/// thread's totals, if it lies wholly inside the object and line the
/// thread's context remembers, or as unattributed. Loads and
/// compares only, then three or four increments of the thread's own
/// counters: no call, no atomic read-modify-write.
#[inline(always)]
fn count_hit(
    c: &Ctx,
    chunk: &Chunk,
    gi: usize,
    addr: usize,
    size: usize,
    kind: Kind,
    write: bool,
) -> Counted {
    let k = kind as usize;
    let id = Shadow::id(chunk, gi);
    if id == 0 {
        c.stats.add(false, k, 1);
        return Counted::Unattributed;
    }
    let o = c.obj(id);
    if id != o.id || addr + size > o.end {
        return Counted::No;
    }
    // SAFETY: a remembered object comes with a row in a leaked slab chunk.
    let row = unsafe { &*o.row };
    if o.end - o.start >= crate::lines::LINELESS_MIN {
        // No line records (random accesses to a big table land here).
        if !row.owned_by(c.tid) {
            return Counted::No;
        }
        count_in(c, row, k);
        return Counted::Lineless;
    }
    let line = addr >> 6;
    let (l, s, rec, slot) = c.lines[line % LINE_MEMO].get();
    // SAFETY: a valid entry's record and slot live in leaked slab chunks
    // (`l == line` is never true of the empty entry).
    if !row.owned_by(c.tid)
        || l != line
        || s != o.site
        || !unsafe { (*rec).is_line(line) && (*slot).owned_by(c.tid) }
    {
        return Counted::No;
    }
    // The granule lies inside the line.
    // SAFETY: as above.
    unsafe { &*slot }.note(((1u64 << size) - 1) << (addr & 63), write);
    count_in(c, row, k);
    Counted::InObject
}

/// Count one access of kind `k` in the thread's `row` of an object and
/// in the thread's heap total.
#[inline(always)]
fn count_in(c: &Ctx, row: &Row, k: usize) {
    row.bump(k);
    c.stats.add(true, k, 1);
}

/// What [`count_hit`] did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// Nothing: the caller must count another way.
    No,
    /// Counted as not attributable to a heap object.
    Unattributed,
    /// Counted in the object and line the context remembers (its row and
    /// slot in them are the context's object and line memos).
    InObject,
    /// Counted in an object the context remembers that has no line
    /// records.
    Lineless,
}

/// Count what [`count_hit`] did not: through the object the context
/// remembers and the line's record found through the shadow (learning the
/// thread's slot in it), else under the table lock.
/// (Five arguments: the call from [`access`] is a jump.)
#[inline(never)]
fn count(c: &'static Ctx, addr: usize, size: usize, kind: Kind, write: bool) {
    let counted = match shadow::lookup_mapped(L1.load(Ordering::Acquire), addr) {
        Some((chunk, gi)) => count_records(c, chunk, gi, addr, size, kind, write),
        None => false,
    };
    if !counted {
        count_locked(c.tid, addr, size, kind, write);
    }
}

/// The lock-free half of [`count`]; `false`: nothing was counted.
#[inline]
fn count_records(
    c: &'static Ctx,
    chunk: &Chunk,
    gi: usize,
    addr: usize,
    size: usize,
    kind: Kind,
    write: bool,
) -> bool {
    let tid = c.tid;
    let k = kind as usize;
    let id = Shadow::id(chunk, gi);
    if id == 0 {
        c.stats.add(false, k, 1);
        return true;
    }
    let mut o = c.obj(id);
    // SAFETY: a remembered object comes with a row in a leaked slab
    // chunk (the empty memo's id is never `id`).
    if id != o.id || !(o.start..o.end).contains(&addr) || !unsafe { &*o.row }.owned_by(tid) {
        // The thread's first access to the object (or the memo lost it).
        match claim_object(c, id, addr) {
            Some(claimed) => o = claimed,
            None => return false,
        }
    }
    let end = o.end;
    // SAFETY: as above.
    let row = unsafe { &*o.row };
    let len = size.min(end - addr);
    let lo = addr & 63;
    let line = addr >> 6;
    if lo + len > 64 {
        return false;
    }
    let site = o.site;
    let memo = &c.lines[line % LINE_MEMO];
    let (l, s, rec, slot) = memo.get();
    let m = ((1u64 << len) - 1) << lo;
    // SAFETY: a valid entry's record and slot live in leaked slab chunks.
    if l == line && s == site && unsafe { (*rec).is_line(line) && (*slot).owned_by(tid) } {
        // SAFETY: as above.
        unsafe { &*slot }.note(m, write);
    } else {
        // Not remembered: the line's record through the shadow, and the
        // thread's slot in it.
        let rec = chunk.line_recs[gi / 8].load(Ordering::Relaxed);
        if rec.is_null() {
            // No record: the lock makes one, unless the object has none
            // or none is left.
            if addr + size > end {
                return false;
            }
            if end - o.start >= crate::lines::LINELESS_MIN {
                count_in(c, row, k);
                remember_lineless(c, chunk, gi, addr);
                return true;
            }
            if !crate::lines::FULL.load(Ordering::Relaxed) {
                return count_new_line(c, chunk, gi, &o, addr, m, kind, write);
            }
            c.stats.add_untracked();
            count_in(c, row, k);
            return true;
        }
        // SAFETY: line records live in leaked slab chunks (never freed).
        let rec: &'static LineRec = unsafe { &*rec };
        if !rec.is_line(line) {
            return false;
        }
        let Some(slot) = rec.slot_for(tid, site) else {
            // A new thread or site in the line.
            if addr + size > end {
                return false;
            }
            return count_new_line(c, chunk, gi, &o, addr, m, kind, write);
        };
        if slot.is_merged() {
            // Shared with other threads: atomic updates; remembered only
            // in `Near`, by the claims (the line memo is for the thread's
            // own slots).
            slot.note_shared(m, write);
            if addr + size <= end {
                count_in(c, row, k);
                remember_shared(c, &o, chunk, gi, addr, slot);
                return true;
            }
        } else {
            memo.set((line, site, rec, slot));
            slot.note(m, write);
            count_in(c, row, k);
            // The line's next accesses take `access`'s hit path (not
            // `general` once more, then `count_hit`: about 280
            // instructions per line walked in `benches/profile/private.c`).
            c.near[line % NEAR].set(object_line(&o, chunk, gi, addr, slot));
            return true;
        }
    }
    count_in(c, row, k);
    true
}

/// The object memo of the thread of context `c` for live object `id`
/// holding `addr`, after claiming the thread's row in it without the
/// table lock ([`crate::objects::Slab::claim`]: the id's shard lock);
/// `None`: the table must count (no id, not live any more, or all rows
/// taken).
#[inline(never)]
fn claim_object(c: &'static Ctx, id: u32, addr: usize) -> Option<ObjMemo> {
    // `u32::MAX` names every object without an id: only the table knows.
    if id == u32::MAX {
        return None;
    }
    // A shard lock is held inside.
    let got = while_busy(c, || crate::objects::SLAB.claim(id, c.tid, addr))?;
    let o = ObjMemo {
        id,
        site: got.site,
        start: got.start,
        end: got.end,
        row: got.row,
    };
    c.objs[id as usize % OBJ_MEMO].set(o);
    Some(o)
}

/// Count an access of kind `kind` (`write`: it stores) to the bytes `m`
/// of the line of `addr` (granule `gi` of `chunk`) in object `o`, whose
/// line record lacks the thread or `o`'s site, or does not exist yet:
/// the record is found or made, and the thread's slot claimed, under the
/// line's shard lock ([`crate::lines::Lines::note_line`]), without the
/// table lock; then remembered like [`count_records`] does. Always
/// counts.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn count_new_line(
    c: &'static Ctx,
    chunk: &Chunk,
    gi: usize,
    o: &ObjMemo,
    addr: usize,
    m: u64,
    kind: Kind,
    write: bool,
) -> bool {
    let line = addr >> 6;
    let recs = Some(&chunk.line_recs[gi / 8]);
    // A shard lock is held inside, and the shard may allocate.
    let memo = while_busy(c, || {
        crate::lines::LINES.note_line(recs, line, m, c.tid, write, o.site)
    });
    // SAFETY: a remembered object comes with a row in a leaked slab chunk.
    count_in(c, unsafe { &*o.row }, kind as usize);
    if let Some(memo) = memo {
        c.lines[line % LINE_MEMO].set((line, memo.site, memo.rec, memo.slot));
        c.near[line % NEAR].set(object_line(o, chunk, gi, addr, memo.slot));
    }
    true
}

/// The slow path of a plain access without the table lock, when the
/// thread has a context (and so is not inside the runtime): the race
/// check, lock-free (the table lock only to report a
/// race), then the counting fast path, else counting under the table lock.
/// Enters the runtime ([`Guard`]) only where it may allocate. `false` when
/// nothing was done (no context, tracing, or memory not shadowed yet): the
/// caller takes the locked path.
pub(crate) fn unlocked(addr: usize, size: usize, kind: Kind, pc: usize, func: u8) -> bool {
    let Some((c, flags)) = current() else {
        return false;
    };
    let tid = c.tid;
    let l1 = L1.load(Ordering::Acquire);
    if shadow::lookup(l1, addr).is_none() {
        return false;
    }
    if flags & RACES != 0 {
        let a = Access {
            addr,
            size,
            write: kind == Kind::Write,
            atomic: false,
            pc,
            stack: state::stack_node(),
            func,
        };
        // SAFETY: this thread, outside the runtime (it has a context).
        let vc = &unsafe { c.clock_mut() }.vc;
        let mut found = None;
        let checked = while_busy(c, || race::check(l1, tid, vc, &a, false, &mut found));
        if checked.is_err() {
            return false;
        }
        if let Some(r) = found {
            report(r);
        }
    }
    // Not `count_hit`: the access may span granules.
    count(c, addr, size, kind, kind == Kind::Write);
    true
}

/// A range access (`__tsan_read_range`, or a libc function's bytes) of
/// `size` bytes at `addr` without the table lock, when it lies in one
/// cache line and in one object (every granule names the same object id)
/// or in no object: then it is checked like a plain access and counted
/// once, as the locked path counts a range per object it overlaps.
/// `false`: nothing was done, take the locked path.
pub(crate) fn range(addr: usize, size: usize, kind: Kind, pc: usize, func: u8) -> bool {
    if size == 0 || (addr & 63) + size > 64 {
        return false;
    }
    // A line never crosses a chunk.
    let Some((chunk, gi)) = shadow::lookup(L1.load(Ordering::Acquire), addr) else {
        return false;
    };
    let id = Shadow::id(chunk, gi);
    let last = gi + ((addr & 7) + size - 1) / 8;
    // `u32::MAX` names every object without an id: only the table knows.
    if id == u32::MAX || (gi + 1..=last).any(|g| Shadow::id(chunk, g) != id) {
        return false;
    }
    unlocked(addr, size, kind, pc, func)
}

/// Count an access the counting fast path could not take, under the table
/// lock (inside the runtime), and teach the fast path.
#[cold]
fn count_locked(tid: u32, addr: usize, size: usize, kind: Kind, write: bool) {
    if let Some(mut g) = Guard::enter() {
        let mut t = state::table();
        let hit = t.access_sized(addr, size, tid, kind, write);
        learn(&mut g, &mut t, tid, addr, hit);
    }
}

/// Apply synchronisation effect `op` on object `addr` for the calling
/// thread without the table lock, when it has a context and no trace is
/// being written (the trace needs the events in the table's order):
/// only the thread's own clock state and the object's shard of the sync
/// map are touched. `false`: nothing was done, take the locked path.
pub(crate) fn sync(addr: usize, op: SyncOp) -> bool {
    let Some((c, flags)) = current() else {
        return false;
    };
    if flags & RACES == 0 {
        return true;
    }
    // SAFETY: this thread, outside the runtime (it has a context).
    let th = unsafe { c.clock_mut() };
    // A shard lock is held inside, and the map or the clock may allocate.
    if while_busy(c, || race::apply(th, c.tid, race::sync_map(), addr, op)) {
        c.owner
            .store(shadow::owner(c.tid, th.vc.get(c.tid)), Ordering::Relaxed);
    }
    true
}

/// Perform atomic operation `op` on the `size` bytes at `addr` and record
/// it without the table lock, when the thread has a context, no trace is
/// being written and the bytes are shadowed; `req` says what `op` may do.
/// An operation that cannot release a clock into the variable (a load, or
/// a relaxed or acquire store or RMW by a thread with no release fence)
/// runs without any lock when the variable has no clock
/// ([`race::may_have_sync`]: then acquiring or collecting it is a no-op);
/// otherwise the operation and its effect on the variable's clock run
/// under the lock of the variable's shard of the sync map (the race check
/// between the read and the write half). Then the counting fast path (or
/// the table lock to count). `Err(op)`: not taken, nothing done.
pub(crate) fn atomic<R, F: FnOnce() -> (R, i32, bool, bool)>(
    addr: usize,
    size: usize,
    pc: usize,
    req: race::AtomicReq,
    op: F,
) -> Result<R, F> {
    let Some((c, flags)) = current().filter(|_| size != 0) else {
        return Err(op);
    };
    let tid = c.tid;
    let l1 = L1.load(Ordering::Acquire);
    let off = addr & 7;
    // A line of an object the thread counted in just before (`Near`, as
    // for plain accesses; the variable within one granule): its granule's
    // cells and the thread's row and slot are at hand.
    // SAFETY: only this thread uses its context's cells.
    let r = unsafe { &*c.near[(addr >> 6) % NEAR].as_ptr() };
    let near = addr >= r.lo && addr + size <= r.hi && off + size <= 8;
    let found = if near {
        None
    } else {
        let Some((chunk, gi)) = shadow::lookup(l1, addr) else {
            return Err(op);
        };
        // The last byte's chunk too, when it is another one (rare).
        let last = addr + size - 1;
        if last >> shadow::CHUNK_SHIFT != addr >> shadow::CHUNK_SHIFT
            && shadow::lookup(l1, last).is_none()
        {
            return Err(op);
        }
        Some((chunk, gi))
    };
    let races = flags & RACES != 0;
    // SAFETY: this thread, outside the runtime (it has a context).
    let th = unsafe { c.clock_mut() };
    if !races || !req.may_release(th) {
        let (result, mo, reads, writes) = op();
        if races {
            let mask = (((1u16 << size.min(8)) - 1) << off) as u8;
            let owner = c.owner.load(Ordering::Relaxed);
            let cells = match found {
                Some((chunk, gi)) => &chunk.cells[gi],
                // SAFETY: the line's granules' cells, in a never-unmapped
                // chunk.
                None => unsafe { &*r.cells.add((addr >> 3) & 7) },
            };
            // Nothing to do when the variable has no clock and FastTrack's
            // "same epoch" test settles the race check.
            if off + size > 8
                || !race::same_epoch_owner(cells, owner, mask, writes, true)
                || (reads && race::may_have_sync(addr))
            {
                atomic_unlocked(c, addr, size, pc, mo, reads, writes);
            }
        }
        let kind = Kind::Atomic;
        match found {
            None => {
                if !count_near::<false>(c, r, addr, size, kind, writes) {
                    count(c, addr, size, kind, writes);
                }
            }
            Some(_) if off + size > 8 => count(c, addr, size, kind, writes),
            // Remembered only in an empty entry: an atomic variable next
            // to a plain one in the same entry (a pointer read before
            // each operation) would evict it, and then be evicted, on
            // every operation.
            Some((chunk, gi)) if r.hi == 0 => count_missed(c, chunk, gi, addr, size, kind, writes),
            Some((chunk, gi)) => {
                if count_hit(c, chunk, gi, addr, size, kind, writes) == Counted::No {
                    count(c, addr, size, kind, writes);
                }
            }
        }
        return Ok(result);
    }
    let stack = state::stack_node();
    // The shard lock is held, and the map or the clock may allocate.
    let out = while_busy(c, || {
        race::atomic(
            race::sync_map(),
            th,
            tid,
            l1,
            (addr, size, pc, stack),
            races,
            req,
            op,
        )
    });
    if out.ticked {
        c.owner
            .store(shadow::owner(tid, th.vc.get(tid)), Ordering::Relaxed);
    }
    if let Some(f) = out.race {
        report(f);
    }
    count(c, addr, size, Kind::Atomic, out.writes);
    Ok(out.result)
}

/// The happens-before side of an atomic operation that could not release
/// a clock into the variable and was performed without a lock by the
/// thread of context `c` (see [`atomic`]), with order `mo`, reading and
/// writing as `reads` and `writes` say: only if the variable may have a
/// clock, its read half under the variable's shard lock (acquiring or
/// collecting the clock the variable has *now*: a release made between
/// the operation and the lock is acquired too — fewer races reported,
/// never more — in that narrow window only); then the race check of the
/// access, as in [`race::atomic`]. The thread's epoch does not change.
#[inline(never)]
fn atomic_unlocked(
    c: &'static Ctx,
    addr: usize,
    size: usize,
    pc: usize,
    mo: i32,
    reads: bool,
    writes: bool,
) {
    let tid = c.tid;
    let stack = state::stack_node();
    // SAFETY: this thread, outside the runtime (it has a context).
    let th = unsafe { c.clock_mut() };
    let l1 = L1.load(Ordering::Acquire);
    let mut found = None;
    // Shard locks are held inside.
    while_busy(c, || {
        if reads && race::may_have_sync(addr) {
            let mut shard = race::sync_map().lock(addr);
            race::atomic_read_effect(th, &mut shard, addr, mo);
        }
        race::check_atomic(l1, tid, &th.vc, (addr, size, pc, stack), writes, &mut found);
    });
    if let Some(f) = found {
        report(f);
    }
}

/// Report race `r` (unless reported before), inside the runtime.
#[cold]
fn report(r: race::Race) {
    let Some(_g) = Guard::enter() else { return };
    let mut t = state::table();
    if let Some(r) = t.hb.dedupe(r) {
        crate::race_report::report(&t, &r);
    }
}

/// After a slow-path access by `tid` at `addr` (inside the runtime, under
/// guard `g`, the table locked): make sure the fast path can find the
/// granule's shadow and the thread's context, and remember the object and
/// line the access was counted in.
pub(crate) fn learn(g: &mut Guard, t: &mut Table, tid: u32, addr: usize, hit: Option<Hit>) {
    let flags = if t.trace.is_some() {
        0
    } else {
        ENABLED | if t.races_on { RACES } else { 0 }
    };
    let old = FLAGS.load(Ordering::Relaxed);
    if old != flags && old != DISABLED {
        FLAGS.store(flags, Ordering::Relaxed);
    }
    if t.hb.shadow.get(addr).is_none() && t.hb.shadow.make(addr).is_none() {
        return;
    }
    let l1 = t.hb.shadow.first_level();
    if L1.load(Ordering::Relaxed) != l1 {
        L1.store(l1, Ordering::Release);
    }
    let mut c = g.ctx();
    if c.is_null() {
        c = Box::leak(Box::new(Ctx {
            tid,
            owner: t.hb.epoch_cell(tid),
            stats: t.stats(tid),
            clock: t.hb.clock_ptr(tid),
            objs: [const { Cell::new(NO_OBJ) }; OBJ_MEMO],
            lines: [const { Cell::new(NO_ENTRY) }; LINE_MEMO],
            near: [const { Cell::new(NO_NEAR) }; NEAR],
            near_shared: [const { Cell::new(NO_NEAR) }; NEAR],
            sink: SharedSlot::sink(),
        }));
        g.set_ctx(c);
    }
    // SAFETY: contexts are leaked, and only this thread uses its own.
    let c = unsafe { &*c };
    let Some(h) = hit else { return };
    if let Some(row) = h.row {
        c.objs[h.id as usize % OBJ_MEMO].set(ObjMemo {
            id: h.id,
            site: h.site,
            start: h.start,
            end: h.end,
            row,
        });
    }
    if let Some(m) = h.memo {
        c.lines[m.line % LINE_MEMO].set((m.line, m.site, m.rec, m.slot));
    }
}

/// Forget the objects the thread of guard `g` counted in (its rows may
/// be claimed for other objects without [`learn`]).
pub(crate) fn forget_object(g: &Guard) {
    let c = g.ctx();
    if !c.is_null() {
        // SAFETY: contexts are leaked, and only this thread uses its own.
        for o in &unsafe { &*c }.objs {
            o.set(NO_OBJ);
        }
    }
}
