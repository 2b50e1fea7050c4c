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
//! - the per-object counts: the granule's object id (shadow) is the one
//!   the thread last counted, and its row in the object still names the
//!   thread ([`crate::objects`]);
//! - false sharing: the thread's slot in the line's record, remembered from
//!   the last access to that line ([`crate::lines::LineMemo`]);
//! - the thread's totals ([`crate::state::ThreadStats`]).
//!
//! Anything else — another epoch, object, line or thread, an access
//! spanning granules or lines, range accesses, atomics, tracing on — takes
//! the slow path under the lock (`abi::access_by`), which then teaches the
//! fast path ([`learn`]). The fast path changes nothing until every check
//! has passed, so falling back is always safe.
//!
//! Cost of a hit: about 60 instructions, no atomic read-modify-write and
//! no store to memory another thread writes (ThreadSanitizer's fast path:
//! about 55 on the same accesses, measured with callgrind).

use crate::lines::{LineRec, SharedSlot};
use crate::objects::Row;
use crate::race;
use crate::shadow::{self, Chunk, Shadow};
use crate::state::{Guard, Hit, Kind, Table, ThreadStats};
use core::cell::Cell;
use core::ptr::null;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU8, Ordering};

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
    /// The thread's epoch mirror.
    epoch: &'static AtomicU32,
    /// The thread's lock-free totals.
    stats: &'static ThreadStats,
    /// The object last counted: id, end, site and the thread's row.
    obj_id: Cell<u32>,
    obj_site: Cell<u32>,
    obj_end: Cell<usize>,
    row: Cell<*const Row>,
    /// The line last noted: index, site, record and the thread's slot.
    line: Cell<usize>,
    line_site: Cell<u32>,
    line_rec: Cell<*const LineRec>,
    line_slot: Cell<*const SharedSlot>,
}

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

/// Record a plain access of `size` bytes at `addr` without the lock, if
/// it is one the fast path can take (see the module docs); `false` means
/// nothing was recorded and the caller must take the slow path.
#[inline(always)]
pub(crate) fn try_access(addr: usize, size: usize, kind: Kind) -> bool {
    let c = slot::get();
    let flags = FLAGS.load(Ordering::Relaxed);
    let off = addr & 7;
    if c.is_null() || flags & ENABLED == 0 || off + size > 8 {
        return false;
    }
    // SAFETY: contexts are leaked, and only this thread uses its own.
    let c = unsafe { &*c };
    let Some((chunk, gi)) = shadow::lookup(L1.load(Ordering::Acquire), addr) else {
        return false;
    };
    let tid = c.tid;
    let write = kind == Kind::Write;
    let k = kind as usize;
    if flags & RACES != 0 {
        let epoch = c.epoch.load(Ordering::Relaxed);
        let mask = (((1u16 << size) - 1) << off) as u8;
        if !race::same_epoch(&chunk.cells[gi], tid, epoch, mask, write, false) {
            return false;
        }
    }
    let id = Shadow::id(chunk, gi);
    if id == 0 {
        c.stats.add(false, k, 1);
        return true;
    }
    let end = c.obj_end.get();
    if id != c.obj_id.get() || addr >= end {
        return false;
    }
    // SAFETY: a non-zero `obj_id` comes with a row in a leaked slab chunk.
    let row = unsafe { &*c.row.get() };
    if !row.owned_by(tid) {
        return false;
    }
    let len = size.min(end - addr);
    let lo = addr & 63;
    let line = addr >> 6;
    if lo + len > 64 || c.line.get() != line || c.line_site.get() != c.obj_site.get() {
        return false;
    }
    // SAFETY: a valid `line` comes with a record in a leaked slab chunk.
    let (rec, slot) = unsafe { (&*c.line_rec.get(), &*c.line_slot.get()) };
    if !rec.is_line(line) || !slot.owned_by(tid) {
        return false;
    }
    row.bump(k);
    c.stats.add(true, k, 1);
    slot.note(((1u64 << len) - 1) << lo, write);
    true
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
    if FLAGS.load(Ordering::Relaxed) != flags {
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
            epoch: t.hb.epoch_cell(tid),
            stats: t.stats(tid),
            obj_id: Cell::new(0),
            obj_site: Cell::new(0),
            obj_end: Cell::new(0),
            row: Cell::new(null()),
            line: Cell::new(usize::MAX),
            line_site: Cell::new(0),
            line_rec: Cell::new(null()),
            line_slot: Cell::new(null()),
        }));
        g.set_ctx(c);
    }
    // SAFETY: contexts are leaked, and only this thread uses its own.
    let c = unsafe { &*c };
    let Some(h) = hit else { return };
    if let Some(row) = h.row {
        c.obj_id.set(h.id);
        c.obj_end.set(h.end);
        c.obj_site.set(h.site);
        c.row.set(row);
    }
    if let Some(m) = h.memo {
        c.line.set(m.line);
        c.line_site.set(m.site);
        c.line_rec.set(m.rec);
        c.line_slot.set(m.slot);
    }
}

/// Forget the object the thread of guard `g` last counted (its row may
/// be claimed for another object without [`learn`]).
pub(crate) fn forget_object(g: &Guard) {
    let c = g.ctx();
    if !c.is_null() {
        // SAFETY: contexts are leaked, and only this thread uses its own.
        unsafe { &*c }.obj_id.set(0);
    }
}
