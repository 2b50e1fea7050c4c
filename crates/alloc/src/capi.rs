//! C ABI (`malloc`, `free`, ... and `loci_*`), exported from the cdylib so
//! that `LD_PRELOAD=libloci_alloc.so` replaces the C allocator.
//!
//! Only compiled with the `c-abi` feature (on by default). Every function
//! sets `errno = ENOMEM` when it returns null for lack of memory, like glibc.

use core::ffi::{c_int, c_void};
use core::ptr;

use crate::alloc::{self, Target};
use crate::os;
use crate::types::MIN_ALIGN;
use crate::{Heap, HeapHandle};

fn nomem(p: *mut u8) -> *mut c_void {
    if p.is_null() {
        os::set_enomem();
    }
    p as *mut c_void
}

/// C `malloc`.
#[no_mangle]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    nomem(alloc::malloc(size))
}

/// C `free`.
///
/// # Safety
/// `p` is null or a live pointer from this allocator.
#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    // SAFETY: per the contract.
    unsafe { alloc::free(p as *mut u8) }
}

/// C `calloc`: overflow-checked, zeroed.
#[no_mangle]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        os::set_enomem();
        return ptr::null_mut();
    };
    nomem(alloc::malloc_zeroed(total, MIN_ALIGN))
}

/// C `realloc` (glibc semantics: `realloc(p, 0)` frees `p` and returns null).
///
/// # Safety
/// `p` is null or a live pointer from this allocator.
#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if !p.is_null() && size == 0 {
        // SAFETY: per the contract.
        unsafe { alloc::free(p as *mut u8) };
        return ptr::null_mut();
    }
    // SAFETY: per the contract.
    nomem(unsafe { alloc::realloc(p as *mut u8, size, MIN_ALIGN) })
}

/// C `reallocarray`: `realloc(p, n * size)` with overflow check.
///
/// # Safety
/// `p` is null or a live pointer from this allocator.
#[no_mangle]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        // SAFETY: per the contract.
        Some(total) => unsafe { realloc(p, total) },
        None => {
            os::set_enomem();
            ptr::null_mut()
        }
    }
}

fn aligned(align: usize, size: usize) -> *mut u8 {
    alloc::malloc_in(Target::Current, size, align.max(MIN_ALIGN))
}

/// C `posix_memalign`: returns `EINVAL` for a bad alignment, `ENOMEM` when
/// out of memory, 0 on success.
///
/// # Safety
/// `out` is valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % core::mem::size_of::<usize>() != 0 {
        return libc::EINVAL;
    }
    let p = aligned(align, size);
    if p.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: per the contract.
    unsafe { *out = p as *mut c_void };
    0
}

/// C11 `aligned_alloc` (any size; alignment must be a power of two).
#[no_mangle]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        // SAFETY: errno slot of this thread.
        unsafe { *libc::__errno_location() = libc::EINVAL };
        return ptr::null_mut();
    }
    nomem(aligned(align, size))
}

/// Obsolete `memalign`; like glibc, a non-power-of-two alignment is rounded up.
#[no_mangle]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    let Some(align) = align.checked_next_power_of_two() else {
        os::set_enomem();
        return ptr::null_mut();
    };
    nomem(aligned(align, size))
}

/// Obsolete `valloc`: page-aligned.
#[no_mangle]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    nomem(aligned(os::OS_PAGE, size))
}

/// Obsolete `pvalloc`: page-aligned, size rounded up to whole pages.
#[no_mangle]
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let Some(rounded) = size.checked_add(os::OS_PAGE - 1) else {
        os::set_enomem();
        return ptr::null_mut();
    };
    nomem(aligned(
        os::OS_PAGE,
        (rounded & !(os::OS_PAGE - 1)).max(os::OS_PAGE),
    ))
}

/// GNU `malloc_usable_size` (0 for null).
///
/// # Safety
/// `p` is null or a live pointer from this allocator.
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    if p.is_null() {
        return 0;
    }
    // SAFETY: per the contract.
    unsafe { alloc::usable_size(p as *mut u8) }
}

/// The calling thread's heap, as an opaque handle that any thread may pass
/// to [`loci_malloc_for`]. Never invalid: heaps outlive their threads.
#[no_mangle]
pub extern "C" fn loci_heap_current() -> *mut c_void {
    Heap::of_current_thread().as_ptr() as *mut c_void
}

/// Allocate `size` bytes (16-aligned) from the heap `heap` (from
/// [`loci_heap_current`]), from any thread. When the heap's thread frees the
/// block it is a local, atomic-free free. Null (errno ENOMEM) on failure.
///
/// # Safety
/// `heap` was returned by [`loci_heap_current`].
#[no_mangle]
pub unsafe extern "C" fn loci_malloc_for(heap: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: per the contract the pointer came from loci_heap_current.
    let h = unsafe { HeapHandle::from_ptr(heap as *mut Heap) };
    match core::alloc::Layout::from_size_align(size, MIN_ALIGN) {
        Ok(l) => nomem(crate::alloc_for(h, l).map_or(ptr::null_mut(), |p| p.as_ptr())),
        Err(_) => nomem(ptr::null_mut()),
    }
}

/// Allocate `size` bytes (16-aligned) whose memory is bound to NUMA `node`
/// (nodes that do not exist fall back to node 0). Null (errno ENOMEM) on failure.
#[no_mangle]
pub extern "C" fn loci_malloc_on_node(node: c_int, size: usize) -> *mut c_void {
    let node = if node < 0 { 0 } else { node as usize };
    match core::alloc::Layout::from_size_align(size, MIN_ALIGN) {
        Ok(l) => nomem(crate::alloc_on_node(node, l).map_or(ptr::null_mut(), |p| p.as_ptr())),
        Err(_) => nomem(ptr::null_mut()),
    }
}

/// Number of NUMA nodes the allocator sees (at least 1).
#[no_mangle]
pub extern "C" fn loci_numa_node_count() -> c_int {
    crate::numa_node_count() as c_int
}
