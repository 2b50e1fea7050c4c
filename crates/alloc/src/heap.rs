//! Heap layer: creating heaps, the thread-local current heap, thread exit
//! (abandon) and thread start (adopt), and per-NUMA-node heaps.
//!
//! Concurrency contract: heaps live in a global arena and are never freed,
//! so a `*mut Heap` (and a `HeapHandle`) stays valid forever. The abandoned
//! stack, the arena and the node-heap table are guarded by global spin
//! locks. A heap is owned by at most one thread at a time; ownership moves
//! only through the abandoned stack (whose lock orders the hand-over).

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::os;
use crate::types::*;

/// A global value guarded by a spin lock.
struct Locked<T> {
    lock: SpinLock,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is only accessed while `lock` is held.
unsafe impl<T: Send> Sync for Locked<T> {}

struct Arena {
    cursor: *mut u8,
    end: *mut u8,
}

// SAFETY: the pointers refer to process-global mappings.
unsafe impl Send for Arena {}

struct HeapList(*mut Heap);
// SAFETY: heaps are process-global and never freed.
unsafe impl Send for HeapList {}

static ARENA: Locked<Arena> = Locked {
    lock: SpinLock::new(),
    value: UnsafeCell::new(Arena {
        cursor: ptr::null_mut(),
        end: ptr::null_mut(),
    }),
};

/// Every heap ever created (linked through `next_all`), guarded by the
/// arena lock: the `fork` handlers walk it.
static ALL_HEAPS: Locked<HeapList> = Locked {
    lock: SpinLock::new(),
    value: UnsafeCell::new(HeapList(ptr::null_mut())),
};

static ABANDONED: Locked<HeapList> = Locked {
    lock: SpinLock::new(),
    value: UnsafeCell::new(HeapList(ptr::null_mut())),
};

/// Maximum NUMA nodes supported (one `mbind` mask word).
pub(crate) const MAX_NODES: usize = 64;
static NODE_HEAPS: [AtomicPtr<Heap>; MAX_NODES] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_NODES];
static NODE_HEAPS_LOCK: SpinLock = SpinLock::new();

const UNINIT: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
static INIT: AtomicU8 = AtomicU8::new(UNINIT);
static THREAD_KEY: AtomicUsize = AtomicUsize::new(usize::MAX);
static NODE_COUNT: AtomicUsize = AtomicUsize::new(1);

/// One-time global initialisation: the pthread key for thread exit and the
/// NUMA node count. Never allocates through malloc.
fn global_init() {
    if INIT.load(Ordering::Acquire) == DONE {
        return;
    }
    if INIT
        .compare_exchange(UNINIT, RUNNING, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        if let Some(key) = os::create_thread_key(on_thread_exit) {
            THREAD_KEY.store(key as usize, Ordering::Release);
        }
        NODE_COUNT.store(os::numa_node_count().clamp(1, MAX_NODES), Ordering::Release);
        INIT.store(DONE, Ordering::Release);
    } else {
        while INIT.load(Ordering::Acquire) != DONE {
            os::yield_now();
        }
    }
}

/// Number of NUMA nodes (1 when the machine has no NUMA information).
pub(crate) fn node_count() -> usize {
    global_init();
    NODE_COUNT.load(Ordering::Acquire)
}

/// Allocate and initialise a heap in the global arena (null if out of memory).
fn heap_new(node: usize, untouched: bool) -> *mut Heap {
    let size = core::mem::size_of::<Heap>();
    let align = core::mem::align_of::<Heap>();
    let _g = ARENA.lock.lock();
    // SAFETY: the arena is guarded by its lock; the chunk is fresh memory.
    unsafe {
        let a = &mut *ARENA.value.get();
        let mut at = ((a.cursor as usize + align - 1) & !(align - 1)) as *mut u8;
        if a.cursor.is_null() || at as usize + size > a.end as usize {
            const CHUNK: usize = 256 << 10;
            let chunk = os::map_aligned(CHUNK, os::OS_PAGE);
            if chunk.is_null() {
                return ptr::null_mut();
            }
            a.cursor = chunk;
            a.end = chunk.add(CHUNK);
            at = chunk;
        }
        a.cursor = at.add(size);
        let heap = at as *mut Heap;
        // The arena's memory comes fresh (zero) from `mmap` and is never
        // reused (heaps are never freed), and all-zero bytes are a valid
        // `Heap` but for the fields written here, one by one: a `Heap`
        // value written whole would be a `memset` and a `memcpy` call, which
        // an interposer may turn into a `malloc` while the arena lock is
        // held (see `os.rs`).
        let direct = (*heap).direct.get() as *mut *mut Page;
        for c in 0..NUM_CLASSES {
            direct.add(c).write(crate::page::empty_page());
        }
        let claims = (*heap).claims.get() as *mut Claim;
        for i in 0..CLAIM_SLOTS {
            ptr::addr_of_mut!((*claims.add(i)).page).write(crate::page::empty_page());
        }
        ptr::addr_of_mut!((*heap).node).write(node);
        ptr::addr_of_mut!((*heap).untouched).write(untouched);
        ptr::addr_of_mut!((*heap).home_node).write(AtomicUsize::new(usize::MAX));
        let _all = ALL_HEAPS.lock.lock();
        let all = &mut *ALL_HEAPS.value.get();
        (*heap).next_all = all.0;
        all.0 = heap;
        heap
    }
}

/// What a thread without a heap finds in its TLS slot: a heap that owns
/// nothing and is never written, whose direct table and claim cache point
/// at the empty page, so that the allocation fast paths need no null
/// test (they find no free block and take their miss paths, which give
/// the thread a heap) and `free` finds no page it owns.
#[repr(transparent)]
pub(crate) struct NoHeap(Heap);

// SAFETY: nothing ever writes to the no-heap (see `no_heap`).
unsafe impl Sync for NoHeap {}

/// The empty page's address (a static initializer may take it).
const EMPTY: *mut Page = core::ptr::addr_of!(crate::page::EMPTY_PAGE) as *mut Page;

/// See [`NoHeap`]. Its address is the initial value of every thread's TLS
/// slot (`tls.rs`).
pub(crate) static NO_HEAP: NoHeap = NoHeap(Heap {
    direct: UnsafeCell::new([EMPTY; NUM_CLASSES]),
    queues: UnsafeCell::new([PageQueue::EMPTY; NUM_CLASSES]),
    shared: UnsafeCell::new([PageQueue::EMPTY; NUM_CLASSES]),
    segments: UnsafeCell::new(ptr::null_mut()),
    delayed: AtomicPtr::new(ptr::null_mut()),
    lock: SpinLock::new(),
    node: usize::MAX,
    home_node: AtomicUsize::new(usize::MAX),
    untouched: false,
    next_abandoned: UnsafeCell::new(ptr::null_mut()),
    next_all: ptr::null_mut(),
    claims: UnsafeCell::new(
        [Claim {
            target: ptr::null_mut(),
            page: EMPTY,
            free: ptr::null_mut(),
        }; CLAIM_SLOTS],
    ),
    dirty_pages: AtomicUsize::new(0),
    next_purge: AtomicU64::new(0),
    purge_tick: UnsafeCell::new(0),
    retired: UnsafeCell::new(0),
});

/// The address of [`NO_HEAP`]: "this thread has no heap".
#[inline(always)]
pub(crate) fn no_heap() -> *mut Heap {
    ptr::addr_of!(NO_HEAP) as *mut Heap
}

/// The calling thread's heap if it has one, else [`no_heap`] (never null).
///
/// Cost: one initial-exec TLS load (see `tls.rs`).
#[inline(always)]
pub(crate) fn current_or_none() -> *mut Heap {
    crate::tls::get()
}

/// The calling thread's heap, creating or adopting one on first use.
/// Null only if the OS is out of memory.
#[inline(always)]
pub(crate) fn current() -> *mut Heap {
    let h = current_or_none();
    if h == no_heap() {
        init_current()
    } else {
        h
    }
}

#[cold]
#[inline(never)]
fn init_current() -> *mut Heap {
    global_init();
    let adopted = {
        let _g = ABANDONED.lock.lock();
        // SAFETY: the stack is guarded by its lock.
        unsafe {
            let list = &mut *ABANDONED.value.get();
            let h = list.0;
            if !h.is_null() {
                list.0 = *(*h).next_abandoned.get();
            }
            h
        }
    };
    let heap = if adopted.is_null() {
        heap_new(usize::MAX, false)
    } else {
        adopted
    };
    if heap.is_null() {
        return heap;
    }
    if node_count() > 1 {
        if let Some(n) = os::current_node() {
            // SAFETY: heaps are never freed; this thread now owns it.
            unsafe { (*heap).home_node.store(n, Ordering::Relaxed) };
        }
    }
    crate::tls::set(heap);
    let key = THREAD_KEY.load(Ordering::Acquire);
    if key != usize::MAX {
        os::set_thread_value(key as libc::pthread_key_t, heap as *mut u8);
    }
    // Registered here, not in `global_init`: glibc's pthread_atfork may
    // call malloc, which must find this thread's heap already set.
    if !ATFORK.swap(true, Ordering::AcqRel) {
        os::register_atfork(fork_prepare, fork_release, fork_release);
    }
    heap
}

static ATFORK: AtomicBool = AtomicBool::new(false);

/// Before `fork`: take every allocator lock, in the one order no other
/// path contradicts (node-heap table → abandoned stack → arena → heap list
/// → every heap → region cache), so that no lock is held by a thread that
/// will not exist in the child.
extern "C" fn fork_prepare() {
    NODE_HEAPS_LOCK.lock_raw();
    ABANDONED.lock.lock_raw();
    ARENA.lock.lock_raw();
    ALL_HEAPS.lock.lock_raw();
    // SAFETY: the list is guarded by its lock, held; heaps are never freed.
    unsafe {
        let mut h = (*ALL_HEAPS.value.get()).0;
        while !h.is_null() {
            (*h).lock.lock_raw();
            h = (*h).next_all;
        }
    }
    crate::segment::cache_lock().lock_raw();
}

/// After `fork`, in the parent and in the child: release what
/// `fork_prepare` took. (In the child the other threads' heaps stay
/// orphaned: their blocks can still be freed, remotely.)
extern "C" fn fork_release() {
    crate::segment::cache_lock().force_unlock();
    // SAFETY: as in fork_prepare; the list lock is still held.
    unsafe {
        let mut h = (*ALL_HEAPS.value.get()).0;
        while !h.is_null() {
            (*h).lock.force_unlock();
            h = (*h).next_all;
        }
    }
    ALL_HEAPS.lock.force_unlock();
    ARENA.lock.force_unlock();
    ABANDONED.lock.force_unlock();
    NODE_HEAPS_LOCK.force_unlock();
}

/// pthread key destructor: abandon the exiting thread's heap.
///
/// With signals blocked: a handler that allocates (an instrumented
/// handler under a sanitizer runtime) would otherwise wait for the heap
/// lock held here, forever, and no interposer can defer signals around
/// this call (see `os::SignalsBlocked`). glibc's own thread-exit path has
/// that deadlock (`tcache_thread_shutdown` frees under the arena lock).
unsafe extern "C" fn on_thread_exit(value: *mut libc::c_void) {
    let heap = value as *mut Heap;
    if heap.is_null() || current_or_none() != heap {
        return;
    }
    let _signals = os::SignalsBlocked::new();
    // SAFETY: the exiting thread still owns `heap`; shared pages and the
    // segment list are read under the heap lock.
    unsafe {
        // Give up this thread's claims on other heaps' pages.
        crate::page::release_claims(heap);
        // Give owner-freed blocks of shared pages back to their allocators.
        let _g = (*heap).lock.lock();
        let mut seg = *(*heap).segments.get();
        while !seg.is_null() {
            for i in crate::segment::page_range((*seg).kind) {
                let p = ptr::addr_of_mut!((*seg).pages[i]);
                if (*p).in_use && (*p).shared {
                    crate::page::flush_shared(p);
                }
            }
            seg = (*seg).next;
        }
    }
    crate::tls::set(no_heap());
    let _g = ABANDONED.lock.lock();
    // SAFETY: the stack is guarded by its lock; from here on frees by this
    // thread take the remote path because its TLS slot is the no-heap.
    unsafe {
        let list = &mut *ABANDONED.value.get();
        *(*heap).next_abandoned.get() = list.0;
        list.0 = heap;
    }
}

/// The heap for NUMA `node` (nodes that do not exist map to node 0), created
/// on first use. Its segments are bound to the node with `mbind`.
pub(crate) fn node_heap(node: usize) -> *mut Heap {
    let node = if node < node_count() { node } else { 0 };
    let h = NODE_HEAPS[node].load(Ordering::Acquire);
    if !h.is_null() {
        return h;
    }
    let _g = NODE_HEAPS_LOCK.lock();
    let h = NODE_HEAPS[node].load(Ordering::Acquire);
    if !h.is_null() {
        return h;
    }
    let h = heap_new(node, false);
    NODE_HEAPS[node].store(h, Ordering::Release);
    h
}

static CONSUMER_POOL: AtomicPtr<Heap> = AtomicPtr::new(ptr::null_mut());

/// The consumer pool: a heap owned by no thread whose never-used blocks
/// are handed out without being written (see `page::malloc_untouched`), so
/// that the first thread to write a block — its consumer — places its OS
/// pages by first touch. Serves the `consumer` placement policy. Its
/// segments are not bound to a node. Null if out of memory.
pub(crate) fn consumer_pool() -> *mut Heap {
    let h = CONSUMER_POOL.load(Ordering::Acquire);
    if !h.is_null() {
        return h;
    }
    let _g = NODE_HEAPS_LOCK.lock();
    let h = CONSUMER_POOL.load(Ordering::Acquire);
    if !h.is_null() {
        return h;
    }
    global_init();
    let h = heap_new(usize::MAX, true);
    CONSUMER_POOL.store(h, Ordering::Release);
    h
}
