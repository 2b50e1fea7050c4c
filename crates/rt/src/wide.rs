//! The 16-byte atomics of the ThreadSanitizer ABI (`__tsan_atomic128_*`),
//! which gcc and clang emit for `_Atomic __int128` / `std::atomic<__int128>`
//! with `-mcx16`, on x86-64.
//!
//! Every operation is a `lock cmpxchg16b` (a loop of them for stores,
//! exchanges and fetch-ops; a load is a compare-exchange of 0 with 0), as
//! gcc's libatomic does with `-mcx16`: a locked instruction is a full
//! barrier, so every C11 memory order is honoured. The object must be
//! 16-byte aligned (as the compilers lay `__int128` atomics out); like the
//! native instruction, a misaligned one faults. The happens-before effect
//! and the counting are those of the other widths (`abi::atomic_op`).
//!
//! The entries pass the accessing instruction (their return address) on
//! like the other hooks; the compare-exchange forms have no free argument
//! register left for it, so their trampolines pass it on the stack.
//!
//! On AArch64 these entries still abort with a message naming them.

use crate::abi::atomic_op;
use crate::race::AtomicReq;
use core::arch::asm;
use core::cell::UnsafeCell;

/// A 16-byte atomic integer operated on with `lock cmpxchg16b`.
#[repr(transparent)]
struct Wide(UnsafeCell<u128>);

impl Wide {
    /// # Safety
    /// `p` must be a 16-byte aligned pointer to a live `__int128` atomic.
    unsafe fn from_ptr<'a>(p: *mut u128) -> &'a Wide {
        // SAFETY: `Wide` is a transparent wrapper of the pointee (caller).
        unsafe { &*(p as *const Wide) }
    }

    /// `lock cmpxchg16b`: if the value is `old`, make it `new`. Returns
    /// the value found and whether it was replaced.
    fn cas(&self, old: u128, new: u128) -> (u128, bool) {
        let p = self.0.get();
        let (lo, hi): (u64, u64);
        let ok: u8;
        // SAFETY: `p` is 16-byte aligned and valid (`from_ptr`'s
        // contract). rbx (reserved by LLVM, so not nameable as an operand)
        // is swapped with r8 around the instruction and restored. Every
        // operand has a fixed register: a register-class operand may be
        // given rbx itself, which the swap would clobber.
        unsafe {
            asm!(
                "xchg r8, rbx",
                "lock cmpxchg16b xmmword ptr [rsi]",
                "sete r9b",
                "mov rbx, r8",
                in("rsi") p,
                inout("r8") new as u64 => _,
                out("r9b") ok,
                in("rcx") (new >> 64) as u64,
                inout("rax") old as u64 => lo,
                inout("rdx") (old >> 64) as u64 => hi,
                options(nostack),
            );
        }
        (((hi as u128) << 64) | lo as u128, ok != 0)
    }

    fn load(&self) -> u128 {
        self.cas(0, 0).0
    }

    /// Replace the value by `f(value)`; returns the previous value.
    fn update(&self, f: impl Fn(u128) -> u128) -> u128 {
        let mut cur = self.load();
        loop {
            match self.cas(cur, f(cur)) {
                (_, true) => return cur,
                (now, false) => cur = now,
            }
        }
    }
}

/// Perform `f` on the atomic at `a` as an operation that reads and writes.
///
/// # Safety
/// As for [`Wide::from_ptr`].
unsafe fn rmw(a: *mut u128, mo: i32, pc: usize, f: impl Fn(u128) -> u128) -> u128 {
    // SAFETY: the caller's contract.
    let w = unsafe { Wide::from_ptr(a) };
    atomic_op(a as usize, 16, pc, AtomicReq::new(true, mo), || {
        (w.update(f), mo, true, true)
    })
}

/// Compare-exchange; `Err(current)` on failure.
///
/// # Safety
/// As for [`Wide::from_ptr`].
unsafe fn cas(
    a: *mut u128,
    expected: u128,
    v: u128,
    mo: i32,
    fmo: i32,
    pc: usize,
) -> Result<u128, u128> {
    // SAFETY: the caller's contract.
    let w = unsafe { Wide::from_ptr(a) };
    atomic_op(a as usize, 16, pc, AtomicReq::new(true, mo), || {
        match w.cas(expected, v) {
            (old, true) => (Ok(old), mo, true, true),
            (cur, false) => (Err(cur), fmo, true, false),
        }
    })
}

mod imp {
    use super::*;

    pub(super) unsafe extern "C" fn load(a: *const u128, mo: i32, pc: usize) -> u128 {
        // SAFETY: the instrumentation passes a live, aligned atomic.
        let w = unsafe { Wide::from_ptr(a as *mut u128) };
        atomic_op(a as usize, 16, pc, AtomicReq::new(false, mo), || {
            (w.load(), mo, true, false)
        })
    }

    pub(super) unsafe extern "C" fn store(a: *mut u128, v: u128, mo: i32, pc: usize) {
        // SAFETY: as for the load.
        let w = unsafe { Wide::from_ptr(a) };
        atomic_op(a as usize, 16, pc, AtomicReq::new(true, mo), || {
            w.update(|_| v);
            ((), mo, false, true)
        })
    }

    macro_rules! rmws {
        ($($name:ident: |$c:ident, $v:ident| $e:expr;)*) => {$(
            pub(super) unsafe extern "C" fn $name(a: *mut u128, $v: u128, mo: i32, pc: usize) -> u128 {
                // SAFETY: as for the load.
                unsafe { rmw(a, mo, pc, |$c| $e) }
            }
        )*};
    }

    rmws! {
        exchange: |_c, v| v;
        fetch_add: |c, v| c.wrapping_add(v);
        fetch_sub: |c, v| c.wrapping_sub(v);
        fetch_and: |c, v| c & v;
        fetch_or: |c, v| c | v;
        fetch_xor: |c, v| c ^ v;
        fetch_nand: |c, v| !(c & v);
    }

    /// Strong and weak compare-exchange (`lock cmpxchg16b` never fails
    /// spuriously); `pc` is passed on the stack by the trampoline.
    pub(super) unsafe extern "C" fn cas_ptr(
        a: *mut u128,
        c: *mut u128,
        v: u128,
        mo: i32,
        fmo: i32,
        pc: usize,
    ) -> i32 {
        // SAFETY: `c` is valid by contract; `a` as for the load.
        match unsafe { cas(a, *c, v, mo, fmo, pc) } {
            Ok(_) => 1,
            Err(cur) => {
                // SAFETY: `c` is valid by contract.
                unsafe { *c = cur };
                0
            }
        }
    }

    /// Compare-exchange returning the previous value; `fmo` and `pc` on
    /// the stack.
    pub(super) unsafe extern "C" fn cas_val(
        a: *mut u128,
        c: u128,
        v: u128,
        mo: i32,
        fmo: i32,
        pc: usize,
    ) -> u128 {
        // SAFETY: as for the load.
        match unsafe { cas(a, c, v, mo, fmo, pc) } {
            Ok(old) | Err(old) => old,
        }
    }
}

macro_rules! wide_trampoline {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? => $imp:path, $reg:literal) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As for the C function of the same name (a live, 16-byte aligned
        /// atomic).
        #[no_mangle]
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            core::arch::naked_asm!(
                concat!("mov ", $reg, ", qword ptr [rsp]"),
                "jmp {imp}",
                imp = sym $imp,
            );
        }
    };
}

wide_trampoline!(
    /// 16-byte atomic load.
    __tsan_atomic128_load(a: *const u128, mo: i32) -> u128 => imp::load, "rdx");
wide_trampoline!(
    /// 16-byte atomic store.
    __tsan_atomic128_store(a: *mut u128, v: u128, mo: i32) => imp::store, "r8");
wide_trampoline!(
    /// 16-byte atomic exchange; returns the previous value.
    __tsan_atomic128_exchange(a: *mut u128, v: u128, mo: i32) -> u128 => imp::exchange, "r8");
wide_trampoline!(
    /// 16-byte atomic fetch-and-add; returns the previous value.
    __tsan_atomic128_fetch_add(a: *mut u128, v: u128, mo: i32) -> u128 => imp::fetch_add, "r8");
wide_trampoline!(
    /// 16-byte atomic fetch-and-subtract; returns the previous value.
    __tsan_atomic128_fetch_sub(a: *mut u128, v: u128, mo: i32) -> u128 => imp::fetch_sub, "r8");
wide_trampoline!(
    /// 16-byte atomic fetch-and-and; returns the previous value.
    __tsan_atomic128_fetch_and(a: *mut u128, v: u128, mo: i32) -> u128 => imp::fetch_and, "r8");
wide_trampoline!(
    /// 16-byte atomic fetch-and-or; returns the previous value.
    __tsan_atomic128_fetch_or(a: *mut u128, v: u128, mo: i32) -> u128 => imp::fetch_or, "r8");
wide_trampoline!(
    /// 16-byte atomic fetch-and-xor; returns the previous value.
    __tsan_atomic128_fetch_xor(a: *mut u128, v: u128, mo: i32) -> u128 => imp::fetch_xor, "r8");
wide_trampoline!(
    /// 16-byte atomic fetch-and-nand; returns the previous value.
    __tsan_atomic128_fetch_nand(a: *mut u128, v: u128, mo: i32) -> u128 => imp::fetch_nand, "r8");

/// The compare-exchange forms taking `*c` by pointer: all six argument
/// registers are used, so the return address goes to the stack as a
/// seventh argument (one slot, keeping the stack 16-byte aligned at the
/// call), and the trampoline calls instead of jumping.
macro_rules! cas_ptr_trampoline {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As for the C function of the same name (a live, 16-byte aligned
        /// atomic; `c` valid).
        #[no_mangle]
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name(a: *mut u128, c: *mut u128, v: u128, mo: i32, fmo: i32) -> i32 {
            core::arch::naked_asm!(
                "push qword ptr [rsp]",
                "call {imp}",
                "add rsp, 8",
                "ret",
                imp = sym imp::cas_ptr,
            );
        }
    };
}

cas_ptr_trampoline!(
    /// 16-byte strong compare-exchange: on failure stores the current
    /// value in `*c`; returns 1 on success, 0 on failure.
    __tsan_atomic128_compare_exchange_strong);
cas_ptr_trampoline!(
    /// 16-byte weak compare-exchange (never fails spuriously here).
    __tsan_atomic128_compare_exchange_weak);

/// 16-byte compare-exchange returning the previous value. `fmo` arrives on
/// the stack; the trampoline passes it and the return address as the
/// seventh and eighth arguments (with a pad slot for alignment).
///
/// # Safety
/// As for the C function of the same name (a live, 16-byte aligned atomic).
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn __tsan_atomic128_compare_exchange_val(
    a: *mut u128,
    c: u128,
    v: u128,
    mo: i32,
    fmo: i32,
) -> u128 {
    core::arch::naked_asm!(
        // Entry: [rsp] = return address, [rsp+8] = fmo.
        "sub rsp, 8",
        "push qword ptr [rsp + 8]",
        "push qword ptr [rsp + 24]",
        // Now [rsp] = fmo, [rsp+8] = return address (pc), [rsp+16] = pad.
        "call {imp}",
        "add rsp, 24",
        "ret",
        imp = sym imp::cas_val,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(16))]
    struct Aligned(u128);

    /// Every operation, many times, with the results checked (an earlier
    /// version let the compiler put the pointer in rbx, which the swap
    /// clobbered: a fetch-op then looped forever at some call sites; the
    /// operands now have fixed registers).
    #[test]
    fn cmpxchg16b_from_many_call_sites() {
        let mut x = Aligned(0);
        let w = unsafe { Wide::from_ptr(&mut x.0) };
        for i in 0..10_000u128 {
            let before = w.load();
            assert_eq!(w.update(|c| c ^ (i << 70)), before);
            assert_eq!(w.load(), before ^ (i << 70));
            let before = w.load();
            assert_eq!(w.update(|c| c.wrapping_add(3)), before);
            assert_eq!(w.load(), before.wrapping_add(3));
            let cur = w.load();
            assert_eq!(w.cas(cur, !cur), (cur, true));
            assert_eq!(w.cas(cur, 1), (!cur, false));
        }
    }

    #[test]
    fn cmpxchg16b_operations() {
        let mut x = Aligned(5 | 7 << 64);
        let w = unsafe { Wide::from_ptr(&mut x.0) };
        assert_eq!(w.load(), 5 | 7 << 64);
        assert_eq!(w.cas(1, 2), (5 | 7 << 64, false));
        assert_eq!(w.cas(5 | 7 << 64, 9 << 100), (5 | 7 << 64, true));
        assert_eq!(w.update(|c| c.wrapping_add(1)), 9 << 100);
        assert_eq!(w.load(), (9 << 100) + 1);
    }
}
