//! libc plumbing: resolving the real allocator and pthread functions behind
//! our interposed symbols, and a bootstrap arena for the allocations that
//! `dlsym` itself makes while we resolve them.
//!
//! Concurrency contract: resolution happens once (first hook call or
//! `__tsan_init`), guarded by an atomic state; until it completes every
//! thread is served from the bootstrap arena, which is a lock-free bump
//! allocator that never frees.

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Size of the bootstrap arena. `dlsym` on glibc allocates well under 1 KiB.
const BOOT_SIZE: usize = 1 << 16;
/// Every bootstrap block starts with a 16-byte header holding its size.
const BOOT_HDR: usize = 16;

#[repr(C, align(64))]
struct BootArena(UnsafeCell<[u8; BOOT_SIZE]>);
// SAFETY: disjoint ranges of the arena are handed out by an atomic bump
// pointer, so no two threads ever access the same bytes through it.
unsafe impl Sync for BootArena {}

static BOOT: BootArena = BootArena(UnsafeCell::new([0; BOOT_SIZE]));
static BOOT_NEXT: AtomicUsize = AtomicUsize::new(0);

/// Allocate `size` bytes aligned to `align` (a power of two, at most 4096)
/// from the bootstrap arena; null when exhausted.
pub(crate) fn boot_alloc(size: usize, align: usize) -> *mut c_void {
    let align = align.clamp(16, 4096);
    let need = match size.checked_add(align + BOOT_HDR) {
        Some(n) if n <= BOOT_SIZE => n,
        _ => return core::ptr::null_mut(),
    };
    let start = BOOT_NEXT.fetch_add(need, Ordering::Relaxed);
    if start + need > BOOT_SIZE {
        return core::ptr::null_mut();
    }
    let base = BOOT.0.get() as usize;
    let user = (base + start + BOOT_HDR + align - 1) & !(align - 1);
    // SAFETY: [base+start, base+start+need) is ours alone (bump pointer);
    // `user - BOOT_HDR >= base + start` and `user + size <= base+start+need`.
    // The arena is zero-initialised, so the memory is as calloc would give.
    unsafe { ((user - BOOT_HDR) as *mut usize).write_unaligned(size) };
    user as *mut c_void
}

/// Is `p` a block of the bootstrap arena?
pub(crate) fn is_boot(p: *const c_void) -> bool {
    let base = BOOT.0.get() as usize;
    (base..base + BOOT_SIZE).contains(&(p as usize))
}

/// Size recorded for bootstrap block `p` (which must satisfy [`is_boot`]).
pub(crate) fn boot_size(p: *const c_void) -> usize {
    // SAFETY: every pointer handed out by `boot_alloc` has its size stored
    // in the header just below it, inside the arena.
    unsafe { ((p as usize - BOOT_HDR) as *const usize).read_unaligned() }
}

const UNRESOLVED: u8 = 0;
const RESOLVING: u8 = 1;
const RESOLVED: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNRESOLVED);

macro_rules! real_fns {
    ($($name:ident: $ty:ty;)*) => {
        #[allow(non_upper_case_globals)]
        mod slot {
            use core::sync::atomic::AtomicUsize;
            $(pub(super) static $name: AtomicUsize = AtomicUsize::new(0);)*
        }

        fn resolve_all() {
            $(
                let name = concat!(stringify!($name), "\0");
                // SAFETY: `name` is NUL-terminated; RTLD_NEXT asks for the
                // next definition after this object, i.e. libc's.
                let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr() as *const c_char) };
                slot::$name.store(p as usize, Ordering::Release);
            )*
        }

        /// The real (next) definitions of the functions we interpose.
        pub(crate) mod real {
            use super::*;
            $(
                /// The next definition of this symbol, if resolved.
                #[inline]
                pub(crate) fn $name() -> Option<$ty> {
                    ensure_resolved();
                    let p = slot::$name.load(Ordering::Acquire);
                    if p == 0 {
                        None
                    } else {
                        // SAFETY: `p` is the address dlsym returned for this
                        // C function, whose prototype is `$ty`.
                        Some(unsafe { core::mem::transmute::<usize, $ty>(p) })
                    }
                }
            )*
        }
    };
}

/// `void *(*)(void *)`, a pthread start routine.
pub(crate) type StartFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;

real_fns! {
    malloc: unsafe extern "C" fn(usize) -> *mut c_void;
    calloc: unsafe extern "C" fn(usize, usize) -> *mut c_void;
    realloc: unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
    free: unsafe extern "C" fn(*mut c_void);
    posix_memalign: unsafe extern "C" fn(*mut *mut c_void, usize, usize) -> c_int;
    aligned_alloc: unsafe extern "C" fn(usize, usize) -> *mut c_void;
    memalign: unsafe extern "C" fn(usize, usize) -> *mut c_void;
    valloc: unsafe extern "C" fn(usize) -> *mut c_void;
    pvalloc: unsafe extern "C" fn(usize) -> *mut c_void;
    malloc_usable_size: unsafe extern "C" fn(*mut c_void) -> usize;
    pthread_create: unsafe extern "C" fn(*mut libc::pthread_t, *const libc::pthread_attr_t, StartFn, *mut c_void) -> c_int;
    pthread_join: unsafe extern "C" fn(libc::pthread_t, *mut *mut c_void) -> c_int;
}

/// Resolve the real functions once. Re-entrant calls (dlsym calling
/// calloc) and concurrent callers return at once and find the slots empty,
/// so they fall back to the bootstrap arena.
#[inline]
pub(crate) fn ensure_resolved() {
    if STATE.load(Ordering::Acquire) == RESOLVED {
        return;
    }
    resolve_slow();
}

#[cold]
fn resolve_slow() {
    if STATE
        .compare_exchange(UNRESOLVED, RESOLVING, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        resolve_all();
        STATE.store(RESOLVED, Ordering::Release);
    }
}
