//! C ABI (`malloc`, `free`, ... and `loci_*`), exported from the cdylib so
//! that `LD_PRELOAD=libloci_alloc.so` replaces the C allocator.
//!
//! Only compiled with the `c-abi` feature (on by default). Every function
//! sets `errno = ENOMEM` when it returns null for lack of memory, like glibc.

use core::ffi::{c_int, c_void};
use core::ptr;

use crate::alloc::{self, Target};
use crate::os;
use crate::placement;
use crate::types::MIN_ALIGN;
use crate::Heap;

#[inline(always)]
fn nomem(p: *mut u8) -> *mut c_void {
    if p.is_null() {
        return enomem();
    }
    p as *mut c_void
}

#[cold]
#[inline(never)]
fn enomem() -> *mut c_void {
    os::set_enomem();
    ptr::null_mut()
}

/// C `malloc`. On x86-64 one indirect jump through `MALLOC_IMPL`: to
/// `malloc_plain` without a placement plan, to `malloc_with_return`
/// (which passes the caller's return address on, see `placement.rs`) once
/// a plan is active.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[no_mangle]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    // The tail jump keeps the stack, and so the return address at (%rsp),
    // as the caller left it.
    core::arch::naked_asm!(
        "jmp qword ptr [rip + {imp}]",
        imp = sym MALLOC_IMPL,
    )
}

/// Where `malloc` jumps: [`malloc_plain`] until a placement plan is
/// published (`use_placement_plan`), `malloc_with_return` after. Read by
/// `malloc`'s `jmp`; written once, by the library's constructor.
#[cfg(target_arch = "x86_64")]
static MALLOC_IMPL: core::sync::atomic::AtomicPtr<()> =
    core::sync::atomic::AtomicPtr::new(malloc_plain as *mut ());

/// `malloc` with a placement plan: its return address (at `(%rsp)` on
/// entry) becomes the second argument (`%rsi`) of [`malloc_from`].
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
extern "C" fn malloc_with_return(size: usize) -> *mut c_void {
    core::arch::naked_asm!(
        "mov rsi, qword ptr [rsp]",
        "jmp {imp}",
        imp = sym malloc_from,
    )
}

/// Route `malloc` through the placement plan (called once a plan is active).
#[cfg(target_arch = "x86_64")]
fn use_placement_plan() {
    MALLOC_IMPL.store(
        malloc_with_return as *mut (),
        core::sync::atomic::Ordering::Release,
    );
}

/// Without return-address placement there is nothing to route.
#[cfg(not(target_arch = "x86_64"))]
fn use_placement_plan() {}

/// C `malloc` (without return-address placement on this architecture).
#[cfg(not(target_arch = "x86_64"))]
#[no_mangle]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    malloc_from(size, 0)
}

/// `malloc(size)` without a placement plan: the allocator's fast path,
/// with no stack frame (everything else is a tail call to
/// [`malloc_plain_miss`]).
extern "C" fn malloc_plain(size: usize) -> *mut c_void {
    match alloc::malloc_hit(size) {
        Some(p) => p as *mut c_void,
        None => malloc_plain_miss(size),
    }
}

/// The rest of [`malloc_plain`]: sets `errno` when out of memory.
#[inline(never)]
extern "C" fn malloc_plain_miss(size: usize) -> *mut c_void {
    nomem(alloc::malloc_miss(size))
}

/// `malloc(size)` called from return address `ret`: applies the placement
/// plan's policy if `ret` is one of its sites.
extern "C" fn malloc_from(size: usize, ret: usize) -> *mut c_void {
    if placement::active() {
        return malloc_planned(size, ret);
    }
    nomem(alloc::malloc(size))
}

/// `malloc` while a placement plan is active (out of line, so that the
/// fast path above keeps no registers for it).
#[cold]
#[inline(never)]
fn malloc_planned(size: usize, ret: usize) -> *mut c_void {
    match placement::policy_for(ret) {
        Some(policy) => nomem(alloc::malloc_placed(policy, size, false)),
        None => nomem(alloc::malloc(size)),
    }
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

/// C `calloc`: overflow-checked, zeroed. On x86-64 a trampoline like
/// [`malloc`]'s.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[no_mangle]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    // The return address becomes the third argument (%rdx).
    core::arch::naked_asm!(
        "mov rdx, qword ptr [rsp]",
        "jmp {imp}",
        imp = sym calloc_from,
    )
}

/// C `calloc` (without return-address placement on this architecture).
#[cfg(not(target_arch = "x86_64"))]
#[no_mangle]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    calloc_from(n, size, 0)
}

/// `calloc(n, size)` called from return address `ret`.
extern "C" fn calloc_from(n: usize, size: usize, ret: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        os::set_enomem();
        return ptr::null_mut();
    };
    if let Some(policy) = placement::policy_for(ret) {
        return nomem(alloc::malloc_placed(policy, total, true));
    }
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
    // (Per the contract the pointer came from loci_heap_current. A null
    // one finds no claim, whose empty slots hold no target and the empty
    // page, and is refused on the miss path.)
    match alloc::malloc_for_hit(heap as *mut Heap, size) {
        Some(p) => p as *mut c_void,
        None => malloc_for_miss(heap, size),
    }
}

/// The rest of [`loci_malloc_for`] (no stack frame on its fast path).
#[inline(never)]
extern "C" fn malloc_for_miss(heap: *mut c_void, size: usize) -> *mut c_void {
    if heap.is_null() {
        os::fatal("loci_malloc_for: null heap handle", 0);
    }
    nomem(alloc::malloc_for(heap as *mut Heap, size))
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

/// The heap that owns the block `p` (a thread heap, a node heap or the
/// consumer pool, see [`loci_consumer_pool`]), or null for a large object
/// (which belongs to no heap) and for null.
///
/// # Safety
/// `p` is null or a live pointer from this allocator.
#[no_mangle]
pub unsafe extern "C" fn loci_heap_of(p: *mut c_void) -> *mut c_void {
    if p.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: per the contract.
    unsafe { alloc::heap_of(p as *mut u8) as *mut c_void }
}

/// The consumer pool: the heap that serves the `consumer` placement policy
/// (blocks handed out untouched so that their consumer's first write
/// places them). Null if out of memory.
#[no_mangle]
pub extern "C" fn loci_consumer_pool() -> *mut c_void {
    crate::heap::consumer_pool() as *mut c_void
}

/// The NUMA node backing the (touched) byte at `p`, or -1 if the kernel
/// cannot tell.
///
/// # Safety
/// `p` points into mapped memory.
#[no_mangle]
pub unsafe extern "C" fn loci_node_of(p: *const c_void) -> c_int {
    // SAFETY: per the contract.
    match unsafe { crate::node_of(p as *const u8) } {
        Some(n) => n as c_int,
        None => -1,
    }
}

/// Whether the OS page holding `p` is resident (1), not yet touched (0), or
/// unknown (-1), from `mincore`. Shows whether a `consumer` block was left
/// untouched by its allocating thread.
#[no_mangle]
pub extern "C" fn loci_is_resident(p: *const c_void) -> c_int {
    match os::is_resident(p as *const u8) {
        Some(true) => 1,
        Some(false) => 0,
        None => -1,
    }
}

/// Runs when the library is loaded (an ELF constructor): gives the loading
/// thread its heap (which registers the `fork` handlers now, not from
/// inside some later `malloc` that might run under glibc's atfork lock),
/// then reads the placement plan named by `LOCI_PLACEMENT`, if any.
extern "C" fn load_placement_plan() {
    let _ = crate::heap::current();
    placement::init_from_env();
    if placement::active() {
        use_placement_plan();
    }
}

#[used]
#[link_section = ".init_array"]
static LOAD_PLACEMENT_PLAN: extern "C" fn() = load_placement_plan;
