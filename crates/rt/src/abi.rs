//! The ThreadSanitizer instrumentation ABI as `gcc -fsanitize=thread`
//! (gcc 12) emits it: plain, unaligned, volatile and range accesses,
//! function entry/exit, vptr accesses, bulk memory operations and the
//! atomic operations on 1-, 2-, 4- and 8-byte integers.
//!
//! Every access costs one lock of the object table (see [`crate::state`]).
//! Atomic operations are performed for real, with the requested memory
//! order, before (loads) or as (RMWs) they are counted.
//!
//! Not provided (a program that uses them fails to link): the 16-byte
//! atomics `__tsan_atomic128_*`.

use crate::state::{self, Guard, Kind, FINISHED};
use core::ffi::c_void;
use std::sync::atomic::{self, Ordering};

/// Count one access of `kind` at `addr` by the current thread.
#[inline]
fn record(addr: usize, kind: Kind) {
    if FINISHED.load(Ordering::Relaxed) {
        return;
    }
    let Some(g) = Guard::enter() else { return };
    let tid = state::current_tid(&g);
    state::table().access(addr, tid, kind);
}

/// Count one access of `kind` to each object overlapping the range.
#[inline]
fn record_range(addr: usize, size: usize, kind: Kind) {
    if size == 0 || FINISHED.load(Ordering::Relaxed) {
        return;
    }
    let Some(g) = Guard::enter() else { return };
    let tid = state::current_tid(&g);
    state::table().access_range(addr, size, tid, kind);
}

macro_rules! access_fns {
    ($kind:expr => $($name:ident),*) => {
        $(
            /// Instrumented access: counted against the object at `addr`.
            #[no_mangle]
            pub extern "C" fn $name(addr: *const c_void) {
                record(addr as usize, $kind)
            }
        )*
    };
}

access_fns!(Kind::Read =>
    __tsan_read1, __tsan_read2, __tsan_read4, __tsan_read8, __tsan_read16,
    __tsan_unaligned_read2, __tsan_unaligned_read4, __tsan_unaligned_read8,
    __tsan_unaligned_read16,
    __tsan_volatile_read1, __tsan_volatile_read2, __tsan_volatile_read4,
    __tsan_volatile_read8, __tsan_volatile_read16);
access_fns!(Kind::Write =>
    __tsan_write1, __tsan_write2, __tsan_write4, __tsan_write8, __tsan_write16,
    __tsan_unaligned_write2, __tsan_unaligned_write4, __tsan_unaligned_write8,
    __tsan_unaligned_write16,
    __tsan_volatile_write1, __tsan_volatile_write2, __tsan_volatile_write4,
    __tsan_volatile_write8, __tsan_volatile_write16);

/// Instrumented read of `size` bytes: one read per object it overlaps.
#[no_mangle]
pub extern "C" fn __tsan_read_range(addr: *const c_void, size: usize) {
    record_range(addr as usize, size, Kind::Read)
}

/// Instrumented write of `size` bytes: one write per object it overlaps.
#[no_mangle]
pub extern "C" fn __tsan_write_range(addr: *const c_void, size: usize) {
    record_range(addr as usize, size, Kind::Write)
}

/// A C++ object's vtable pointer is written (counted as a write).
#[no_mangle]
pub extern "C" fn __tsan_vptr_update(vptr_p: *mut *mut c_void, _new_val: *mut c_void) {
    record(vptr_p as usize, Kind::Write)
}

/// A C++ object's vtable pointer is read (counted as a read).
#[no_mangle]
pub extern "C" fn __tsan_vptr_read(vptr_p: *mut *mut c_void) {
    record(vptr_p as usize, Kind::Read)
}

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

/// Instrumented `memcpy`: one read of `src` and one write of `dst` per
/// object overlapped, then the copy.
///
/// # Safety
/// As for `memcpy`.
#[no_mangle]
pub unsafe extern "C" fn __tsan_memcpy(
    dst: *mut c_void,
    src: *const c_void,
    n: usize,
) -> *mut c_void {
    record_range(src as usize, n, Kind::Read);
    record_range(dst as usize, n, Kind::Write);
    // SAFETY: the caller guarantees memcpy's contract.
    unsafe { libc::memcpy(dst, src, n) }
}

/// Instrumented `memmove`.
///
/// # Safety
/// As for `memmove`.
#[no_mangle]
pub unsafe extern "C" fn __tsan_memmove(
    dst: *mut c_void,
    src: *const c_void,
    n: usize,
) -> *mut c_void {
    record_range(src as usize, n, Kind::Read);
    record_range(dst as usize, n, Kind::Write);
    // SAFETY: the caller guarantees memmove's contract.
    unsafe { libc::memmove(dst, src, n) }
}

/// Instrumented `memset`.
///
/// # Safety
/// As for `memset`.
#[no_mangle]
pub unsafe extern "C" fn __tsan_memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void {
    record_range(dst as usize, n, Kind::Write);
    // SAFETY: the caller guarantees memset's contract.
    unsafe { libc::memset(dst, c, n) }
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
    ($t:ty, $at:ty, $load:ident, $store:ident, $xchg:ident, $add:ident, $sub:ident,
     $and:ident, $or:ident, $xor:ident, $nand:ident, $cas_s:ident, $cas_w:ident, $cas_v:ident) => {
        /// Atomic load with the given memory order.
        ///
        /// # Safety
        /// `a` must be valid and naturally aligned for atomic access.
        #[no_mangle]
        pub unsafe extern "C" fn $load(a: *const $t, mo: i32) -> $t {
            record(a as usize, Kind::Atomic);
            // SAFETY: the caller passes an aligned pointer to a live atomic object.
            unsafe { <$at>::from_ptr(a as *mut $t) }.load(load_order(mo))
        }

        /// Atomic store with the given memory order.
        ///
        /// # Safety
        /// `a` must be valid and naturally aligned for atomic access.
        #[no_mangle]
        pub unsafe extern "C" fn $store(a: *mut $t, v: $t, mo: i32) {
            record(a as usize, Kind::Atomic);
            // SAFETY: as for the load.
            unsafe { <$at>::from_ptr(a) }.store(v, store_order(mo))
        }

        atomic_fns!(@rmw $t, $at, $xchg, swap);
        atomic_fns!(@rmw $t, $at, $add, fetch_add);
        atomic_fns!(@rmw $t, $at, $sub, fetch_sub);
        atomic_fns!(@rmw $t, $at, $and, fetch_and);
        atomic_fns!(@rmw $t, $at, $or, fetch_or);
        atomic_fns!(@rmw $t, $at, $xor, fetch_xor);
        atomic_fns!(@rmw $t, $at, $nand, fetch_nand);

        /// Strong compare-exchange: on failure stores the current value in
        /// `*c`; returns 1 on success, 0 on failure.
        ///
        /// # Safety
        /// `a` must be valid and aligned for atomic access, `c` valid.
        #[no_mangle]
        pub unsafe extern "C" fn $cas_s(a: *mut $t, c: *mut $t, v: $t, mo: i32, fmo: i32) -> i32 {
            record(a as usize, Kind::Atomic);
            // SAFETY: as for the load; `c` is a valid pointer by contract.
            let (at, expected) = unsafe { (<$at>::from_ptr(a), *c) };
            match at.compare_exchange(expected, v, order(mo), failure_order(fmo)) {
                Ok(_) => 1,
                Err(cur) => {
                    // SAFETY: `c` is valid by contract.
                    unsafe { *c = cur };
                    0
                }
            }
        }

        /// Weak compare-exchange (may fail spuriously), as the strong one.
        ///
        /// # Safety
        /// `a` must be valid and aligned for atomic access, `c` valid.
        #[no_mangle]
        pub unsafe extern "C" fn $cas_w(a: *mut $t, c: *mut $t, v: $t, mo: i32, fmo: i32) -> i32 {
            record(a as usize, Kind::Atomic);
            // SAFETY: as for the strong form.
            let (at, expected) = unsafe { (<$at>::from_ptr(a), *c) };
            match at.compare_exchange_weak(expected, v, order(mo), failure_order(fmo)) {
                Ok(_) => 1,
                Err(cur) => {
                    // SAFETY: `c` is valid by contract.
                    unsafe { *c = cur };
                    0
                }
            }
        }

        /// Compare-exchange returning the previous value.
        ///
        /// # Safety
        /// `a` must be valid and aligned for atomic access.
        #[no_mangle]
        pub unsafe extern "C" fn $cas_v(a: *mut $t, c: $t, v: $t, mo: i32, fmo: i32) -> $t {
            record(a as usize, Kind::Atomic);
            // SAFETY: as for the load.
            match unsafe { <$at>::from_ptr(a) }.compare_exchange(c, v, order(mo), failure_order(fmo)) {
                Ok(old) | Err(old) => old,
            }
        }
    };
    (@rmw $t:ty, $at:ty, $name:ident, $op:ident) => {
        /// Atomic read-modify-write with the given memory order; returns
        /// the previous value.
        ///
        /// # Safety
        /// `a` must be valid and naturally aligned for atomic access.
        #[no_mangle]
        pub unsafe extern "C" fn $name(a: *mut $t, v: $t, mo: i32) -> $t {
            record(a as usize, Kind::Atomic);
            // SAFETY: as for the load.
            unsafe { <$at>::from_ptr(a) }.$op(v, order(mo))
        }
    };
}

atomic_fns!(
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

/// `atomic_thread_fence(mo)`: a real fence (relaxed is no fence in C11).
#[no_mangle]
pub extern "C" fn __tsan_atomic_thread_fence(mo: i32) {
    match order(mo) {
        Ordering::Relaxed => {}
        o => atomic::fence(o),
    }
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
        state::current_tid(&g);
    }
    state::install_fork_handlers();
    crate::report::install_at_exit();
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
