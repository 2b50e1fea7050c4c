//! The ThreadSanitizer instrumentation ABI as `gcc -fsanitize=thread`
//! (gcc 12) emits it: plain, unaligned, volatile and range accesses,
//! function entry/exit, vptr accesses, bulk memory operations and the
//! atomic operations on 1-, 2-, 4- and 8-byte integers.
//!
//! Every access is counted against its heap object and checked for races
//! by the happens-before detector (`race`): without a lock when it
//! repeats what the thread just did (`fast`), else under the lock of the
//! object table (see `state`). The access hooks are naked
//! trampolines that pass their return address (the accessing instruction)
//! on, for frame `#0` of race reports. Atomic operations are performed for
//! real, with the requested memory order, inside the table's critical
//! section, so the detector sees them in the order they took effect.
//!
//! clang 14's `-fsanitize=thread` emits a subset of the same entries
//! (plus `__tsan_atomic*_compare_exchange_val`, and the compound
//! `__tsan_read_write*` / `__tsan_unaligned_read_write*` with
//! `-mllvm -tsan-compound-read-before-write`), all provided here.
//!
//! The 16-byte atomics `__tsan_atomic128_*` (gcc and clang emit them for
//! `__int128` atomics with `-mcx16`) are in module `wide` (x86-64; on
//! AArch64 they abort with a message naming them).
//!
//! Defined but not implemented — each aborts with a message naming it,
//! never a silent no-op:
//! `__tsan_ignore_thread_begin`/`__tsan_ignore_thread_end` (clang emits
//! them only in Objective-C `dealloc`/`+initialize` methods).

use crate::race::{self, Access};
use crate::state::{self, Guard, Kind, FINISHED};
use core::ffi::c_void;
use loci_trace::Event;
use std::sync::atomic::{self, Ordering};

/// Count one access of `kind` (`range`: one per object overlapped) and
/// check it for races. `pc` is the accessing instruction.
#[inline(always)]
pub(crate) fn access(addr: usize, size: usize, kind: Kind, pc: usize, range: bool) {
    access_by(addr, size, kind, pc, range, 0)
}

/// As [`access`], made inside intercepted libc function number `func`
/// (see `race_report::INTERCEPTED`; 0: the program itself).
#[inline(always)]
pub(crate) fn access_by(addr: usize, size: usize, kind: Kind, pc: usize, range: bool, func: u8) {
    // A range inside one granule is one plain access (a granule holds
    // bytes of one heap object at most): gcc makes `memcpy(&v, p, 4)`,
    // zstd's unaligned `MEM_read32`, a `__tsan_read_range`.
    if size != 0 && (!range || (addr & 7) + size <= 8) {
        return crate::fast::access(addr, size, kind, pc, func);
    }
    if range && crate::fast::range(addr, size, kind, pc, func) {
        return;
    }
    access_slow(addr, size, kind, pc, range, func)
}

/// [`access_by`] under the table lock (everything the fast path did not
/// take). Kept out of line so that the fast path's callers stay small.
#[inline(never)]
pub(crate) fn access_slow(addr: usize, size: usize, kind: Kind, pc: usize, range: bool, func: u8) {
    if size == 0 || FINISHED.load(Ordering::Relaxed) {
        return;
    }
    if !range && crate::fast::unlocked(addr, size, kind, pc, func) {
        return;
    }
    let Some(mut g) = Guard::enter() else { return };
    let tid = state::current_tid(&g);
    let mut t = state::table();
    let site = if range {
        // Rows claimed here are not remembered by the fast path.
        crate::fast::forget_object(&g);
        t.access_range(addr, size, tid, kind)
    } else {
        let hit = t.access_sized(addr, size, tid, kind, kind == Kind::Write);
        crate::fast::learn(&mut g, &mut t, tid, addr, hit);
        hit.map(|h| h.site)
    };
    if t.trace.is_some() {
        t.emit(Event::Access {
            thread: tid,
            addr: addr as u64,
            size: size.min(u32::MAX as usize) as u32,
            write: kind == Kind::Write,
            atomic: false,
            site,
        });
    }
    if t.races_on {
        let stack = state::stack_node();
        let a = Access {
            addr,
            size,
            write: kind == Kind::Write,
            atomic: false,
            pc,
            stack,
            func,
        };
        if let Some(r) = t.hb.access(tid, &a) {
            crate::race_report::report(&t, &r);
        }
    }
}

/// The implementations behind the access trampolines: the hook's
/// arguments plus the return address.
mod imp {
    use super::*;

    macro_rules! fixed {
        ($($name:ident, $size:expr, $kind:expr;)*) => {$(
            pub(super) extern "C" fn $name(addr: *const c_void, pc: usize) {
                access(addr as usize, $size, $kind, pc, false)
            }
        )*};
    }

    fixed!(
        __tsan_read1, 1, Kind::Read;
        __tsan_read2, 2, Kind::Read;
        __tsan_read4, 4, Kind::Read;
        __tsan_read8, 8, Kind::Read;
        __tsan_read16, 16, Kind::Read;
        __tsan_write1, 1, Kind::Write;
        __tsan_write2, 2, Kind::Write;
        __tsan_write4, 4, Kind::Write;
        __tsan_write8, 8, Kind::Write;
        __tsan_write16, 16, Kind::Write;
    );

    macro_rules! compound {
        ($($name:ident, $size:expr;)*) => {$(
            pub(super) extern "C" fn $name(addr: *const c_void, pc: usize) {
                access(addr as usize, $size, Kind::Read, pc, false);
                access(addr as usize, $size, Kind::Write, pc, false)
            }
        )*};
    }

    compound!(
        __tsan_read_write1, 1;
        __tsan_read_write2, 2;
        __tsan_read_write4, 4;
        __tsan_read_write8, 8;
        __tsan_read_write16, 16;
    );

    pub(super) extern "C" fn __tsan_read_range(addr: *const c_void, size: usize, pc: usize) {
        access(addr as usize, size, Kind::Read, pc, true)
    }

    pub(super) extern "C" fn __tsan_write_range(addr: *const c_void, size: usize, pc: usize) {
        access(addr as usize, size, Kind::Write, pc, true)
    }

    pub(super) extern "C" fn __tsan_vptr_update(
        vptr_p: *mut *mut c_void,
        _new_val: *mut c_void,
        pc: usize,
    ) {
        access(
            vptr_p as usize,
            core::mem::size_of::<usize>(),
            Kind::Write,
            pc,
            false,
        )
    }

    pub(super) extern "C" fn __tsan_vptr_read(vptr_p: *mut *mut c_void, pc: usize) {
        access(
            vptr_p as usize,
            core::mem::size_of::<usize>(),
            Kind::Read,
            pc,
            false,
        )
    }

    pub(super) unsafe extern "C" fn __tsan_memcpy(
        dst: *mut c_void,
        src: *const c_void,
        n: usize,
        pc: usize,
    ) -> *mut c_void {
        access(src as usize, n, Kind::Read, pc, true);
        access(dst as usize, n, Kind::Write, pc, true);
        // SAFETY: the caller guarantees memcpy's contract.
        unsafe { crate::sys::real_memcpy(dst, src, n) }
    }

    pub(super) unsafe extern "C" fn __tsan_memmove(
        dst: *mut c_void,
        src: *const c_void,
        n: usize,
        pc: usize,
    ) -> *mut c_void {
        access(src as usize, n, Kind::Read, pc, true);
        access(dst as usize, n, Kind::Write, pc, true);
        // SAFETY: the caller guarantees memmove's contract.
        unsafe { crate::sys::real_memmove(dst, src, n) }
    }

    pub(super) unsafe extern "C" fn __tsan_memset(
        dst: *mut c_void,
        c: i32,
        n: usize,
        pc: usize,
    ) -> *mut c_void {
        access(dst as usize, n, Kind::Write, pc, true);
        // SAFETY: the caller guarantees memset's contract.
        unsafe { crate::sys::real_memset(dst, c, n) }
    }
}

macro_rules! access_fns {
    ($($name:ident, $alias:ident;)*) => {$(
        trampoline!(
            /// Instrumented access: counted against the object at `addr`
            /// and checked for races.
            $name(addr: *const c_void) => imp::$alias, "rsi", "x1");
    )*};
}

access_fns!(
    __tsan_read1, __tsan_read1;
    __tsan_read2, __tsan_read2;
    __tsan_read4, __tsan_read4;
    __tsan_read8, __tsan_read8;
    __tsan_read16, __tsan_read16;
    __tsan_unaligned_read2, __tsan_read2;
    __tsan_unaligned_read4, __tsan_read4;
    __tsan_unaligned_read8, __tsan_read8;
    __tsan_unaligned_read16, __tsan_read16;
    __tsan_volatile_read1, __tsan_read1;
    __tsan_volatile_read2, __tsan_read2;
    __tsan_volatile_read4, __tsan_read4;
    __tsan_volatile_read8, __tsan_read8;
    __tsan_volatile_read16, __tsan_read16;
    __tsan_write1, __tsan_write1;
    __tsan_write2, __tsan_write2;
    __tsan_write4, __tsan_write4;
    __tsan_write8, __tsan_write8;
    __tsan_write16, __tsan_write16;
    __tsan_unaligned_write2, __tsan_write2;
    __tsan_unaligned_write4, __tsan_write4;
    __tsan_unaligned_write8, __tsan_write8;
    __tsan_unaligned_write16, __tsan_write16;
    __tsan_volatile_write1, __tsan_write1;
    __tsan_volatile_write2, __tsan_write2;
    __tsan_volatile_write4, __tsan_write4;
    __tsan_volatile_write8, __tsan_write8;
    __tsan_volatile_write16, __tsan_write16;
);

macro_rules! compound_fns {
    ($($name:ident, $alias:ident;)*) => {$(
        trampoline!(
            /// Instrumented read-modify-write (clang's compound access,
            /// `x += 1`): counted as one read and one write, both checked
            /// for races.
            $name(addr: *const c_void) => imp::$alias, "rsi", "x1");
    )*};
}

compound_fns!(
    __tsan_read_write1, __tsan_read_write1;
    __tsan_read_write2, __tsan_read_write2;
    __tsan_read_write4, __tsan_read_write4;
    __tsan_read_write8, __tsan_read_write8;
    __tsan_read_write16, __tsan_read_write16;
    __tsan_unaligned_read_write2, __tsan_read_write2;
    __tsan_unaligned_read_write4, __tsan_read_write4;
    __tsan_unaligned_read_write8, __tsan_read_write8;
    __tsan_unaligned_read_write16, __tsan_read_write16;
);

trampoline!(
    /// Instrumented read of `size` bytes: one read per object it overlaps.
    __tsan_read_range(addr: *const c_void, size: usize) => imp::__tsan_read_range, "rdx", "x2");
trampoline!(
    /// Instrumented write of `size` bytes: one write per object it overlaps.
    __tsan_write_range(addr: *const c_void, size: usize) => imp::__tsan_write_range, "rdx", "x2");
trampoline!(
    /// A C++ object's vtable pointer is written (counted as a write).
    __tsan_vptr_update(vptr_p: *mut *mut c_void, new_val: *mut c_void) => imp::__tsan_vptr_update, "rdx", "x2");
trampoline!(
    /// A C++ object's vtable pointer is read (counted as a read).
    __tsan_vptr_read(vptr_p: *mut *mut c_void) => imp::__tsan_vptr_read, "rsi", "x1");
trampoline!(
    /// Instrumented `memcpy`: one read of `src` and one write of `dst` per
    /// object overlapped (checked for races), then the copy.
    __tsan_memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void => imp::__tsan_memcpy, "rcx", "x3");
trampoline!(
    /// Instrumented `memmove`.
    __tsan_memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void => imp::__tsan_memmove, "rcx", "x3");
trampoline!(
    /// Instrumented `memset`.
    __tsan_memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void => imp::__tsan_memset, "rcx", "x3");

/// An instrumented function is entered; `pc` is its return address. Pushed
/// on the thread's shadow stack, whose top names the caller of an
/// allocating function in the report.
#[no_mangle]
pub extern "C" fn __tsan_func_entry(pc: *mut c_void) {
    state::func_entry(pc as usize)
}

/// An instrumented function returns: pops the shadow stack.
#[no_mangle]
pub extern "C" fn __tsan_func_exit() {
    state::func_exit()
}

/// The trace events of an atomic operation (see `trace`).
#[allow(clippy::too_many_arguments)]
fn atomic_events(
    t: &mut state::Table,
    tid: u32,
    addr: usize,
    size: usize,
    mo: i32,
    reads: bool,
    writes: bool,
    site: Option<u32>,
) {
    let m = mo & 0x7fff;
    let (acq, rel) = (matches!(m, 1 | 2) || m >= 4, m >= 3);
    if reads && acq {
        t.emit(Event::Acquire {
            thread: tid,
            object: addr as u64,
        });
    }
    t.emit(Event::Access {
        thread: tid,
        addr: addr as u64,
        size: size as u32,
        write: writes,
        atomic: true,
        site,
    });
    if crate::trace::locked(mo, reads, writes) {
        t.emit(Event::Fence {
            thread: tid,
            kind: loci_trace::FenceKind::LockedRmw,
        });
    }
    if writes && rel {
        t.emit(Event::Release {
            thread: tid,
            object: addr as u64,
        });
    }
}

/// Perform atomic operation `op` on `addr`, count it and apply its
/// happens-before effect: without the table lock when the thread can
/// (`fast::atomic`), else under it. Either way the operation and its effect
/// on the variable's clock happen under the lock of the variable's shard of
/// the sync map, so that the detector sees the operations on one variable
/// in the order they took effect. `op` returns its result, the memory
/// order that applied (the failure order of a failed compare-exchange),
/// and whether it read and wrote; `req` says what it may do.
#[inline]
pub(crate) fn atomic_op<R>(
    addr: usize,
    size: usize,
    pc: usize,
    req: race::AtomicReq,
    op: impl FnOnce() -> (R, i32, bool, bool),
) -> R {
    if FINISHED.load(Ordering::Relaxed) {
        return op().0;
    }
    let op = match crate::fast::atomic(addr, size, pc, req, op) {
        Ok(r) => return r,
        Err(op) => op,
    };
    let Some(mut g) = Guard::enter() else {
        return op().0;
    };
    let tid = state::current_tid(&g);
    let mut t = state::table();
    let races = t.races_on;
    let stack = if races { state::stack_node() } else { 0 };
    let (th, sync, l1) = t.hb.for_atomic(tid, addr, size);
    let out = race::atomic(sync, th, tid, l1, (addr, size, pc, stack), races, req, op);
    if out.ticked {
        t.hb.sync_epoch(tid);
    }
    if let Some(race) = out.race.and_then(|r| t.hb.dedupe(r)) {
        crate::race_report::report(&t, &race);
    }
    let (r, mo, reads, writes) = (out.result, out.mo, out.reads, out.writes);
    let hit = t.access_sized(addr, size, tid, Kind::Atomic, writes);
    crate::fast::learn(&mut g, &mut t, tid, addr, hit);
    if t.trace.is_some() {
        let site = hit.map(|h| h.site);
        atomic_events(&mut t, tid, addr, size, mo, reads, writes, site);
    }
    r
}

/// Decode a C11 `memory_order` as the instrumentation passes it. gcc may
/// set bits above the order (`__ATOMIC_HLE_*` at bit 16, its internal
/// "sync" flag at bit 15), so only the low 15 bits are kept; anything
/// out of range is treated as `seq_cst`.
#[inline]
pub(crate) fn order(mo: i32) -> Ordering {
    match mo & 0x7fff {
        0 => Ordering::Relaxed,
        1 | 2 => Ordering::Acquire, // consume is promoted to acquire
        3 => Ordering::Release,
        4 => Ordering::AcqRel,
        _ => Ordering::SeqCst,
    }
}

/// An order valid for a load (a load cannot release: strengthened).
#[inline]
pub(crate) fn load_order(mo: i32) -> Ordering {
    match order(mo) {
        Ordering::Release | Ordering::AcqRel => Ordering::SeqCst,
        o => o,
    }
}

/// An order valid for a store (a store cannot acquire: strengthened).
#[inline]
pub(crate) fn store_order(mo: i32) -> Ordering {
    match order(mo) {
        Ordering::Acquire | Ordering::AcqRel => Ordering::SeqCst,
        o => o,
    }
}

/// An order valid for the failure path of a compare-exchange.
#[inline]
pub(crate) fn failure_order(mo: i32) -> Ordering {
    match order(mo) {
        Ordering::Release => Ordering::Relaxed,
        Ordering::AcqRel => Ordering::Acquire,
        o => o,
    }
}

macro_rules! atomic_fns {
    ($m:ident, $t:ty, $at:ty, $load:ident, $store:ident, $xchg:ident, $add:ident, $sub:ident,
     $and:ident, $or:ident, $xor:ident, $nand:ident, $cas_s:ident, $cas_w:ident, $cas_v:ident) => {
        /// The implementations behind this width's trampolines (the
        /// hook's arguments plus the return address).
        mod $m {
            use super::*;

            pub(super) unsafe extern "C" fn $load(a: *const $t, mo: i32, pc: usize) -> $t {
                // SAFETY: the caller passes an aligned pointer to a live atomic object.
                let at = unsafe { <$at>::from_ptr(a as *mut $t) };
                let req = race::AtomicReq::new(false, mo);
                atomic_op(a as usize, core::mem::size_of::<$t>(), pc, req, || {
                    (at.load(load_order(mo)), mo, true, false)
                })
            }

            pub(super) unsafe extern "C" fn $store(a: *mut $t, v: $t, mo: i32, pc: usize) {
                // SAFETY: as for the load.
                let at = unsafe { <$at>::from_ptr(a) };
                let req = race::AtomicReq::new(true, mo);
                atomic_op(a as usize, core::mem::size_of::<$t>(), pc, req, || {
                    (at.store(v, store_order(mo)), mo, false, true)
                })
            }

            atomic_fns!(@rmw $t, $at, $xchg, swap);
            atomic_fns!(@rmw $t, $at, $add, fetch_add);
            atomic_fns!(@rmw $t, $at, $sub, fetch_sub);
            atomic_fns!(@rmw $t, $at, $and, fetch_and);
            atomic_fns!(@rmw $t, $at, $or, fetch_or);
            atomic_fns!(@rmw $t, $at, $xor, fetch_xor);
            atomic_fns!(@rmw $t, $at, $nand, fetch_nand);

            /// Compare-exchange; `Err(current)` on failure.
            unsafe fn cas(
                a: *mut $t,
                expected: $t,
                v: $t,
                mo: i32,
                fmo: i32,
                weak: bool,
                pc: usize,
            ) -> Result<$t, $t> {
                // SAFETY: the caller passes an aligned pointer to a live atomic object.
                let at = unsafe { <$at>::from_ptr(a) };
                let req = race::AtomicReq::new(true, mo);
                atomic_op(a as usize, core::mem::size_of::<$t>(), pc, req, || {
                    let r = if weak {
                        at.compare_exchange_weak(expected, v, order(mo), failure_order(fmo))
                    } else {
                        at.compare_exchange(expected, v, order(mo), failure_order(fmo))
                    };
                    match r {
                        Ok(old) => (Ok(old), mo, true, true),
                        Err(cur) => (Err(cur), fmo, true, false),
                    }
                })
            }

            pub(super) unsafe extern "C" fn $cas_s(
                a: *mut $t, c: *mut $t, v: $t, mo: i32, fmo: i32, pc: usize,
            ) -> i32 {
                // SAFETY: `c` is a valid pointer by contract; `a` as for the load.
                match unsafe { cas(a, *c, v, mo, fmo, false, pc) } {
                    Ok(_) => 1,
                    Err(cur) => {
                        // SAFETY: `c` is valid by contract.
                        unsafe { *c = cur };
                        0
                    }
                }
            }

            pub(super) unsafe extern "C" fn $cas_w(
                a: *mut $t, c: *mut $t, v: $t, mo: i32, fmo: i32, pc: usize,
            ) -> i32 {
                // SAFETY: as for the strong form.
                match unsafe { cas(a, *c, v, mo, fmo, true, pc) } {
                    Ok(_) => 1,
                    Err(cur) => {
                        // SAFETY: `c` is valid by contract.
                        unsafe { *c = cur };
                        0
                    }
                }
            }

            pub(super) unsafe extern "C" fn $cas_v(
                a: *mut $t, c: $t, v: $t, mo: i32, fmo: i32, pc: usize,
            ) -> $t {
                // SAFETY: as for the load.
                match unsafe { cas(a, c, v, mo, fmo, false, pc) } {
                    Ok(old) | Err(old) => old,
                }
            }
        }

        trampoline!(
            /// Atomic load with the given memory order.
            $load(a: *const $t, mo: i32) -> $t => $m::$load, "rdx", "x2");
        trampoline!(
            /// Atomic store with the given memory order.
            $store(a: *mut $t, v: $t, mo: i32) => $m::$store, "rcx", "x3");
        trampoline!(
            /// Atomic exchange; returns the previous value.
            $xchg(a: *mut $t, v: $t, mo: i32) -> $t => $m::$xchg, "rcx", "x3");
        trampoline!(
            /// Atomic fetch-and-add; returns the previous value.
            $add(a: *mut $t, v: $t, mo: i32) -> $t => $m::$add, "rcx", "x3");
        trampoline!(
            /// Atomic fetch-and-subtract; returns the previous value.
            $sub(a: *mut $t, v: $t, mo: i32) -> $t => $m::$sub, "rcx", "x3");
        trampoline!(
            /// Atomic fetch-and-and; returns the previous value.
            $and(a: *mut $t, v: $t, mo: i32) -> $t => $m::$and, "rcx", "x3");
        trampoline!(
            /// Atomic fetch-and-or; returns the previous value.
            $or(a: *mut $t, v: $t, mo: i32) -> $t => $m::$or, "rcx", "x3");
        trampoline!(
            /// Atomic fetch-and-xor; returns the previous value.
            $xor(a: *mut $t, v: $t, mo: i32) -> $t => $m::$xor, "rcx", "x3");
        trampoline!(
            /// Atomic fetch-and-nand; returns the previous value.
            $nand(a: *mut $t, v: $t, mo: i32) -> $t => $m::$nand, "rcx", "x3");
        trampoline!(
            /// Strong compare-exchange: on failure stores the current value
            /// in `*c`; returns 1 on success, 0 on failure.
            $cas_s(a: *mut $t, c: *mut $t, v: $t, mo: i32, fmo: i32) -> i32 => $m::$cas_s, "r9", "x5");
        trampoline!(
            /// Weak compare-exchange (may fail spuriously), as the strong one.
            $cas_w(a: *mut $t, c: *mut $t, v: $t, mo: i32, fmo: i32) -> i32 => $m::$cas_w, "r9", "x5");
        trampoline!(
            /// Compare-exchange returning the previous value.
            $cas_v(a: *mut $t, c: $t, v: $t, mo: i32, fmo: i32) -> $t => $m::$cas_v, "r9", "x5");
    };
    (@rmw $t:ty, $at:ty, $name:ident, $op:ident) => {
        pub(super) unsafe extern "C" fn $name(a: *mut $t, v: $t, mo: i32, pc: usize) -> $t {
            // SAFETY: the caller passes an aligned pointer to a live atomic object.
            let at = unsafe { <$at>::from_ptr(a) };
            let req = race::AtomicReq::new(true, mo);
            atomic_op(a as usize, core::mem::size_of::<$t>(), pc, req, || {
                (at.$op(v, order(mo)), mo, true, true)
            })
        }
    };
}

atomic_fns!(
    imp8,
    u8,
    atomic::AtomicU8,
    __tsan_atomic8_load,
    __tsan_atomic8_store,
    __tsan_atomic8_exchange,
    __tsan_atomic8_fetch_add,
    __tsan_atomic8_fetch_sub,
    __tsan_atomic8_fetch_and,
    __tsan_atomic8_fetch_or,
    __tsan_atomic8_fetch_xor,
    __tsan_atomic8_fetch_nand,
    __tsan_atomic8_compare_exchange_strong,
    __tsan_atomic8_compare_exchange_weak,
    __tsan_atomic8_compare_exchange_val
);
atomic_fns!(
    imp16,
    u16,
    atomic::AtomicU16,
    __tsan_atomic16_load,
    __tsan_atomic16_store,
    __tsan_atomic16_exchange,
    __tsan_atomic16_fetch_add,
    __tsan_atomic16_fetch_sub,
    __tsan_atomic16_fetch_and,
    __tsan_atomic16_fetch_or,
    __tsan_atomic16_fetch_xor,
    __tsan_atomic16_fetch_nand,
    __tsan_atomic16_compare_exchange_strong,
    __tsan_atomic16_compare_exchange_weak,
    __tsan_atomic16_compare_exchange_val
);
atomic_fns!(
    imp32,
    u32,
    atomic::AtomicU32,
    __tsan_atomic32_load,
    __tsan_atomic32_store,
    __tsan_atomic32_exchange,
    __tsan_atomic32_fetch_add,
    __tsan_atomic32_fetch_sub,
    __tsan_atomic32_fetch_and,
    __tsan_atomic32_fetch_or,
    __tsan_atomic32_fetch_xor,
    __tsan_atomic32_fetch_nand,
    __tsan_atomic32_compare_exchange_strong,
    __tsan_atomic32_compare_exchange_weak,
    __tsan_atomic32_compare_exchange_val
);
atomic_fns!(
    imp64,
    u64,
    atomic::AtomicU64,
    __tsan_atomic64_load,
    __tsan_atomic64_store,
    __tsan_atomic64_exchange,
    __tsan_atomic64_fetch_add,
    __tsan_atomic64_fetch_sub,
    __tsan_atomic64_fetch_and,
    __tsan_atomic64_fetch_or,
    __tsan_atomic64_fetch_xor,
    __tsan_atomic64_fetch_nand,
    __tsan_atomic64_compare_exchange_strong,
    __tsan_atomic64_compare_exchange_weak,
    __tsan_atomic64_compare_exchange_val
);

/// An ABI entry the runtime does not implement was called: say so, naming
/// it, and abort.
fn not_implemented(name: &str) -> ! {
    crate::sys::say("loci-rt: ThreadSanitizer ABI entry ");
    crate::sys::say(name);
    crate::sys::say(" is not implemented by loci's runtime; aborting\n");
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

macro_rules! unimplemented_fns {
    ($($name:ident)*) => {$(
        /// Not implemented: aborts with a message naming this entry (the
        /// arguments, whatever they are, are never read).
        #[no_mangle]
        pub extern "C" fn $name() -> ! {
            not_implemented(stringify!($name))
        }
    )*};
}

// The 16-byte atomics are implemented on x86-64 (module `wide`).
#[cfg(not(target_arch = "x86_64"))]
unimplemented_fns!(
    __tsan_atomic128_load
    __tsan_atomic128_store
    __tsan_atomic128_exchange
    __tsan_atomic128_fetch_add
    __tsan_atomic128_fetch_sub
    __tsan_atomic128_fetch_and
    __tsan_atomic128_fetch_or
    __tsan_atomic128_fetch_xor
    __tsan_atomic128_fetch_nand
    __tsan_atomic128_compare_exchange_strong
    __tsan_atomic128_compare_exchange_weak
    __tsan_atomic128_compare_exchange_val
);

unimplemented_fns!(
    __tsan_ignore_thread_begin
    __tsan_ignore_thread_end
);

/// `atomic_thread_fence(mo)`: a real fence (relaxed is no fence in C11),
/// and its happens-before effect (see `race`).
#[no_mangle]
pub extern "C" fn __tsan_atomic_thread_fence(mo: i32) {
    match order(mo) {
        Ordering::Relaxed => {}
        o => atomic::fence(o),
    }
    state::with_hb(|t, tid| t.fence(tid, mo));
}

/// `atomic_signal_fence(mo)`: a compiler fence.
#[no_mangle]
pub extern "C" fn __tsan_atomic_signal_fence(mo: i32) {
    match order(mo) {
        Ordering::Relaxed => {}
        o => atomic::compiler_fence(o),
    }
}

/// Called by a constructor in every instrumented object file: resolves
/// the real libc functions, names the calling (main) thread 0 and arranges
/// for the report to be written at exit. Idempotent.
#[no_mangle]
pub extern "C" fn __tsan_init() {
    crate::sys::ensure_resolved();
    if let Some(g) = Guard::enter() {
        let tid = state::current_tid(&g);
        let off = std::env::var_os("LOCI_RACES").is_some_and(|v| v == "0");
        let trace = std::env::var_os("LOCI_TRACE_OUT");
        let stack = state::own_stack(&g);
        let mut t = state::table();
        t.hb.thread(tid);
        if t.thread_mut(tid).stack == (0, 0) {
            t.thread_mut(tid).stack = stack;
        }
        if off {
            t.races_on = false;
        }
        if t.trace.is_none() {
            if let Some(path) = trace {
                t.trace = crate::trace::Tracer::create(&path);
                t.emit(Event::ThreadStart {
                    thread: tid,
                    parent: None,
                });
            }
        }
    }
    state::install_fork_handlers();
    crate::report::install_at_exit();
    #[cfg(not(test))]
    crate::fatal::install();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_mask_high_bits() {
        assert_eq!(order(0), Ordering::Relaxed);
        assert_eq!(order(2 | 1 << 16), Ordering::Acquire);
        assert_eq!(order(3 | 1 << 15), Ordering::Release);
        assert_eq!(order(5 | 1 << 17), Ordering::SeqCst);
        assert_eq!(load_order(3), Ordering::SeqCst);
        assert_eq!(store_order(2), Ordering::SeqCst);
        assert_eq!(failure_order(4), Ordering::Acquire);
    }
}
