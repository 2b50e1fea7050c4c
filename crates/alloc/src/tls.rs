//! The calling thread's heap pointer in thread-local storage.
//!
//! On x86-64 Linux the slot is an ELF TLS variable declared in assembly and
//! read with the *initial-exec* model: `mov slot@GOTTPOFF(%rip), %reg; mov
//! %fs:(%reg), %reg`, two instructions. Rust's `thread_local!` in a shared
//! library uses the general-dynamic model instead, a call to
//! `__tls_get_addr` (about 11 instructions) on every `malloc` and `free`.
//! Initial-exec TLS lives in the static TLS block, which is what
//! `LD_PRELOAD`ed and directly linked libraries use; a library loaded later
//! with `dlopen` takes its 8 bytes from glibc's static TLS surplus (there is
//! room for a few hundred bytes), and `dlopen` fails if that is exhausted.
//!
//! Elsewhere a `const`-initialised `thread_local!` `Cell` is used (no
//! destructor, so no allocation on first use).
//!
//! A thread without a heap reads `heap::no_heap()` (the slot's initial
//! value on x86-64; null, translated by [`get`], elsewhere), never null,
//! so that the fast paths need no null test.
//!
//! Concurrency contract: each thread sees only its own slot.

use crate::types::Heap;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
core::arch::global_asm!(
    // Initialised (`.tdata`), not zero (`.tbss`): every thread starts with
    // the no-heap's address. (The dynamic linker relocates the TLS
    // initialisation image before it copies it for any thread.)
    ".section .tdata.loci_alloc_heap,\"awT\",@progbits",
    ".p2align 3",
    // Global (the asm blocks that read it may sit in other object files)
    // but hidden: never exported from the shared library.
    ".globl loci_alloc_tls_heap",
    ".hidden loci_alloc_tls_heap",
    ".type loci_alloc_tls_heap, @object",
    ".size loci_alloc_tls_heap, 8",
    "loci_alloc_tls_heap:",
    ".quad {none}",
    ".text",
    none = sym crate::heap::NO_HEAP,
);

/// The calling thread's heap, or `heap::no_heap()` if it has none.
///
/// Cost: two instructions on x86-64 Linux.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[inline(always)]
pub(crate) fn get() -> *mut Heap {
    let v: *mut Heap;
    // SAFETY: reads this thread's 8-byte TLS slot declared above; the
    // GOTTPOFF relocation gives its offset from the thread pointer (%fs).
    unsafe {
        core::arch::asm!(
            "mov {v}, qword ptr [rip + loci_alloc_tls_heap@GOTTPOFF]",
            "mov {v}, qword ptr fs:[{v}]",
            v = out(reg) v,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
    v
}

/// Set the calling thread's heap.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[inline]
pub(crate) fn set(h: *mut Heap) {
    // SAFETY: writes this thread's 8-byte TLS slot declared above.
    unsafe {
        core::arch::asm!(
            "mov {off}, qword ptr [rip + loci_alloc_tls_heap@GOTTPOFF]",
            "mov qword ptr fs:[{off}], {h}",
            off = out(reg) _,
            h = in(reg) h,
            options(nostack, preserves_flags),
        );
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
std::thread_local! {
    /// `const`-initialised `Cell` of a raw pointer: no destructor, so std
    /// stores it in plain ELF TLS without allocating. Null stands for the
    /// no-heap here.
    static CURRENT: core::cell::Cell<*mut Heap> = const { core::cell::Cell::new(core::ptr::null_mut()) };
}

/// The calling thread's heap, or `heap::no_heap()` if it has none.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[inline(always)]
pub(crate) fn get() -> *mut Heap {
    let h = CURRENT.with(|c| c.get());
    if h.is_null() {
        crate::heap::no_heap()
    } else {
        h
    }
}

/// Set the calling thread's heap.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[inline]
pub(crate) fn set(h: *mut Heap) {
    CURRENT.with(|c| c.set(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_has_its_own_slot() {
        let before = get() as usize;
        std::thread::spawn(move || {
            // (With the `c-abi` feature the thread may have allocated
            // through loci already, so its slot need not be null.)
            let own = get();
            let fake = 0x1000 as *mut Heap;
            set(fake);
            assert_eq!(get(), fake);
            set(own);
        })
        .join()
        .unwrap();
        assert_eq!(
            get() as usize,
            before,
            "another thread's set is not seen here"
        );
    }
}
