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
    pthread_exit: unsafe extern "C" fn(*mut c_void) -> !;
    pthread_detach: unsafe extern "C" fn(libc::pthread_t) -> c_int;
    pthread_tryjoin_np: unsafe extern "C" fn(libc::pthread_t, *mut *mut c_void) -> c_int;
    pthread_timedjoin_np: unsafe extern "C" fn(libc::pthread_t, *mut *mut c_void, *const libc::timespec) -> c_int;
    pthread_mutex_lock: unsafe extern "C" fn(*mut libc::pthread_mutex_t) -> c_int;
    pthread_mutex_trylock: unsafe extern "C" fn(*mut libc::pthread_mutex_t) -> c_int;
    pthread_mutex_timedlock: unsafe extern "C" fn(*mut libc::pthread_mutex_t, *const libc::timespec) -> c_int;
    pthread_mutex_unlock: unsafe extern "C" fn(*mut libc::pthread_mutex_t) -> c_int;
    pthread_mutex_init: unsafe extern "C" fn(*mut libc::pthread_mutex_t, *const libc::pthread_mutexattr_t) -> c_int;
    pthread_mutex_destroy: unsafe extern "C" fn(*mut libc::pthread_mutex_t) -> c_int;
    pthread_rwlock_rdlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_tryrdlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_timedrdlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t, *const libc::timespec) -> c_int;
    pthread_rwlock_wrlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_trywrlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_timedwrlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t, *const libc::timespec) -> c_int;
    pthread_rwlock_unlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_destroy: unsafe extern "C" fn(*mut libc::pthread_rwlock_t) -> c_int;
    pthread_spin_lock: unsafe extern "C" fn(*mut libc::pthread_spinlock_t) -> c_int;
    pthread_spin_trylock: unsafe extern "C" fn(*mut libc::pthread_spinlock_t) -> c_int;
    pthread_spin_unlock: unsafe extern "C" fn(*mut libc::pthread_spinlock_t) -> c_int;
    pthread_spin_destroy: unsafe extern "C" fn(*mut libc::pthread_spinlock_t) -> c_int;
    pthread_barrier_wait: unsafe extern "C" fn(*mut libc::pthread_barrier_t) -> c_int;
    pthread_barrier_destroy: unsafe extern "C" fn(*mut libc::pthread_barrier_t) -> c_int;
    pthread_once: unsafe extern "C" fn(*mut libc::pthread_once_t, unsafe extern "C" fn()) -> c_int;
    sem_post: unsafe extern "C" fn(*mut libc::sem_t) -> c_int;
    sem_wait: unsafe extern "C" fn(*mut libc::sem_t) -> c_int;
    sem_trywait: unsafe extern "C" fn(*mut libc::sem_t) -> c_int;
    sem_timedwait: unsafe extern "C" fn(*mut libc::sem_t, *const libc::timespec) -> c_int;
    sem_destroy: unsafe extern "C" fn(*mut libc::sem_t) -> c_int;
    sem_clockwait: unsafe extern "C" fn(*mut libc::sem_t, libc::clockid_t, *const libc::timespec) -> c_int;
    pthread_mutex_clocklock: unsafe extern "C" fn(*mut libc::pthread_mutex_t, libc::clockid_t, *const libc::timespec) -> c_int;
    pthread_rwlock_clockrdlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t, libc::clockid_t, *const libc::timespec) -> c_int;
    pthread_rwlock_clockwrlock: unsafe extern "C" fn(*mut libc::pthread_rwlock_t, libc::clockid_t, *const libc::timespec) -> c_int;
    pthread_cond_clockwait: unsafe extern "C" fn(*mut libc::pthread_cond_t, *mut libc::pthread_mutex_t, libc::clockid_t, *const libc::timespec) -> c_int;
    memcpy: unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> *mut c_void;
    memmove: unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> *mut c_void;
    memset: unsafe extern "C" fn(*mut c_void, c_int, usize) -> *mut c_void;
    memcmp: unsafe extern "C" fn(*const c_void, *const c_void, usize) -> c_int;
    memchr: unsafe extern "C" fn(*const c_void, c_int, usize) -> *mut c_void;
    strlen: unsafe extern "C" fn(*const c_char) -> usize;
    strnlen: unsafe extern "C" fn(*const c_char, usize) -> usize;
    strncpy: unsafe extern "C" fn(*mut c_char, *const c_char, usize) -> *mut c_char;
    strcmp: unsafe extern "C" fn(*const c_char, *const c_char) -> c_int;
    strncmp: unsafe extern "C" fn(*const c_char, *const c_char, usize) -> c_int;
    strchr: unsafe extern "C" fn(*const c_char, c_int) -> *mut c_char;
    strrchr: unsafe extern "C" fn(*const c_char, c_int) -> *mut c_char;
    mmap: unsafe extern "C" fn(*mut c_void, usize, c_int, c_int, c_int, libc::off_t) -> *mut c_void;
    munmap: unsafe extern "C" fn(*mut c_void, usize) -> c_int;
}

/// The condition-variable functions, resolved by version: glibc keeps a
/// pre-2.3.2 `pthread_cond_*` with another layout, and plain `dlsym` may
/// return that one (ThreadSanitizer asks for `GLIBC_2.3.2` for the same
/// reason). On targets without that version the default symbol is used.
pub(crate) mod cond {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    static WAIT: AtomicUsize = AtomicUsize::new(0);
    static TIMEDWAIT: AtomicUsize = AtomicUsize::new(0);

    fn lookup(slot: &AtomicUsize, name: &'static str) -> usize {
        let p = slot.load(Ordering::Acquire);
        if p != 0 {
            return p;
        }
        // SAFETY: NUL-terminated names; dlvsym/dlsym have no other
        // preconditions.
        let mut q = unsafe {
            libc::dlvsym(
                libc::RTLD_NEXT,
                name.as_ptr() as *const c_char,
                c"GLIBC_2.3.2".as_ptr(),
            )
        } as usize;
        if q == 0 {
            // SAFETY: as above.
            q = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr() as *const c_char) } as usize;
        }
        slot.store(q, Ordering::Release);
        q
    }

    /// `pthread_cond_wait`'s prototype.
    pub(crate) type WaitFn =
        unsafe extern "C" fn(*mut libc::pthread_cond_t, *mut libc::pthread_mutex_t) -> c_int;
    /// `pthread_cond_timedwait`'s prototype.
    pub(crate) type TimedWaitFn = unsafe extern "C" fn(
        *mut libc::pthread_cond_t,
        *mut libc::pthread_mutex_t,
        *const libc::timespec,
    ) -> c_int;

    /// The real `pthread_cond_wait`.
    pub(crate) fn wait() -> Option<WaitFn> {
        let p = lookup(&WAIT, "pthread_cond_wait\0");
        // SAFETY: `p` is the address of pthread_cond_wait, of type WaitFn.
        (p != 0).then(|| unsafe { core::mem::transmute::<usize, WaitFn>(p) })
    }

    /// The real `pthread_cond_timedwait`.
    pub(crate) fn timedwait() -> Option<TimedWaitFn> {
        let p = lookup(&TIMEDWAIT, "pthread_cond_timedwait\0");
        // SAFETY: `p` is the address of pthread_cond_timedwait.
        (p != 0).then(|| unsafe { core::mem::transmute::<usize, TimedWaitFn>(p) })
    }
}

/// Write `msg` to stderr (fd 2) with `write(2)`, bypassing stdio buffers.
pub(crate) fn say(msg: &str) {
    let mut b = msg.as_bytes();
    while !b.is_empty() {
        // SAFETY: `b` is a valid buffer of `b.len()` bytes.
        let n = unsafe { libc::write(2, b.as_ptr() as *const c_void, b.len()) };
        if n <= 0 {
            return;
        }
        b = &b[n as usize..];
    }
}

/// A libc function the runtime must forward to is missing: say so, naming
/// it, and abort (never a silent no-op).
#[cold]
pub(crate) fn missing(name: &str) -> ! {
    say("loci-rt: cannot find the real ");
    say(name);
    say(" (dlsym RTLD_NEXT); aborting\n");
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
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

/// libc's `memcpy`, or a byte loop while it is not resolved yet.
///
/// # Safety
/// As for `memcpy`.
#[inline]
pub(crate) unsafe fn real_memcpy(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    match real::memcpy() {
        // SAFETY: the caller upholds memcpy's contract.
        Some(f) => unsafe { f(d, s, n) },
        // SAFETY: as above; memmove also copies non-overlapping blocks.
        None => unsafe { fallback::memmove(d, s, n) },
    }
}

/// libc's `memmove`, or a byte loop while it is not resolved yet.
///
/// # Safety
/// As for `memmove`.
#[inline]
pub(crate) unsafe fn real_memmove(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    match real::memmove() {
        // SAFETY: the caller upholds memmove's contract.
        Some(f) => unsafe { f(d, s, n) },
        // SAFETY: as above.
        None => unsafe { fallback::memmove(d, s, n) },
    }
}

/// libc's `memset`, or a byte loop while it is not resolved yet.
///
/// # Safety
/// As for `memset`.
#[inline]
pub(crate) unsafe fn real_memset(d: *mut c_void, c: c_int, n: usize) -> *mut c_void {
    match real::memset() {
        // SAFETY: the caller upholds memset's contract.
        Some(f) => unsafe { f(d, c, n) },
        // SAFETY: as above.
        None => unsafe { fallback::memset(d, c, n) },
    }
}

/// Byte-at-a-time versions of the bulk functions, used only while the
/// real ones are being resolved (`dlsym` running on this or another
/// thread). Volatile accesses keep the compiler from turning the loops
/// back into calls of the very functions they stand in for.
pub(crate) mod fallback {
    use core::ffi::{c_int, c_void};

    /// `memmove` (handles overlap in both directions).
    ///
    /// # Safety
    /// As for `memmove`.
    pub(crate) unsafe fn memmove(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
        let (dp, sp) = (d as *mut u8, s as *const u8);
        if (dp as usize) <= (sp as usize) {
            for i in 0..n {
                // SAFETY: both ranges are valid for n bytes (caller).
                unsafe { dp.add(i).write_volatile(sp.add(i).read_volatile()) };
            }
        } else {
            for i in (0..n).rev() {
                // SAFETY: as above.
                unsafe { dp.add(i).write_volatile(sp.add(i).read_volatile()) };
            }
        }
        d
    }

    /// `memset`.
    ///
    /// # Safety
    /// As for `memset`.
    pub(crate) unsafe fn memset(d: *mut c_void, c: c_int, n: usize) -> *mut c_void {
        let dp = d as *mut u8;
        for i in 0..n {
            // SAFETY: the range is valid for n bytes (caller).
            unsafe { dp.add(i).write_volatile(c as u8) };
        }
        d
    }

    /// `strnlen` (`usize::MAX` for `strlen`).
    ///
    /// # Safety
    /// `s` is readable up to its NUL or `max` bytes.
    pub(crate) unsafe fn strnlen(s: *const u8, max: usize) -> usize {
        let mut i = 0;
        // SAFETY: reading up to the terminator or max bytes (caller).
        while i < max && unsafe { s.add(i).read_volatile() } != 0 {
            i += 1;
        }
        i
    }

    /// `memcmp`/`strncmp`: compare up to `n` bytes, stopping at a NUL
    /// when `strings`.
    ///
    /// # Safety
    /// Both are readable for the bytes compared.
    pub(crate) unsafe fn compare(a: *const u8, b: *const u8, n: usize, strings: bool) -> c_int {
        for i in 0..n {
            // SAFETY: within the compared prefix (caller).
            let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
            if x != y {
                return x as c_int - y as c_int;
            }
            if strings && x == 0 {
                return 0;
            }
        }
        0
    }

    /// `memchr`/`strchr`/`strrchr`: offset of the first (or last) `c` in
    /// the first `n` bytes.
    ///
    /// # Safety
    /// `s` is readable for `n` bytes.
    pub(crate) unsafe fn find(s: *const u8, c: u8, n: usize, last: bool) -> Option<usize> {
        let mut hit = None;
        for i in 0..n {
            // SAFETY: within the n bytes (caller).
            if unsafe { s.add(i).read_volatile() } == c {
                hit = Some(i);
                if !last {
                    break;
                }
            }
        }
        hit
    }
}
