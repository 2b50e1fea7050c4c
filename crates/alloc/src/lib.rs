/*!
`loci-alloc`: a thread-caching allocator that can place an object on the heap
(and NUMA node) of the thread that will use it.

It works three ways:

* as Rust's global allocator: `#[global_allocator] static A: LociAlloc = LociAlloc;`
* through a Rust API: [`Heap::of_current_thread`] gives a [`HeapHandle`] that
  any thread may use with [`alloc_for`]; [`alloc_on_node`] binds memory to a
  NUMA node; [`alloc_untouched`] leaves placement to the consumer's first
  touch; [`dealloc`] frees any of them;
* as a C library: `cargo build --release -p loci-alloc` produces
  `libloci_alloc.so`, which exports `malloc`, `free`, `calloc`, `realloc`,
  `reallocarray`, `posix_memalign`, `aligned_alloc`, `memalign`, `valloc`,
  `pvalloc`, `malloc_usable_size` and `loci_heap_current`,
  `loci_malloc_for`, `loci_malloc_on_node`, `loci_numa_node_count`,
  `loci_heap_of`, `loci_consumer_pool`, `loci_node_of`,
  `loci_is_resident`, so `LD_PRELOAD=target/release/libloci_alloc.so
  program` runs any program on it;
* with a placement plan, without recompiling: `LOCI_PLACEMENT=plan.json`
  maps allocation sites (functions, or single calls by return-address
  offset) to a policy (`consumer`, `node:N`, `interleave`); the format is
  in [`plan`], how it is applied (the return address of each `malloc`
  call, read by a two-instruction trampoline) in `placement.rs`.
  [`plan::plan_json_from_profile`] writes a plan from a `loci profile
  --json` report.

# Environment

* `LOCI_PLACEMENT=FILE`: the placement plan, read once when the library
  is loaded. A malformed plan is reported once on stderr as
  `loci-alloc: LOCI_PLACEMENT: FILE:LINE:COL: what is wrong; the plan is
  ignored`; sites naming no loaded function are reported and skipped.
* `LOCI_PLACEMENT_VERBOSE=1`: also list the resolved address ranges.

```
use std::alloc::Layout;
use loci_alloc::{alloc_for, dealloc, Heap};

// The consumer thread publishes its heap handle and waits for an object.
let (htx, hrx) = std::sync::mpsc::channel();
let (otx, orx) = std::sync::mpsc::channel::<usize>();
let consumer = std::thread::spawn(move || {
    htx.send(Heap::of_current_thread()).unwrap();
    let p = orx.recv().unwrap() as *mut u64;
    let v = unsafe { *p };
    unsafe { dealloc(p as *mut u8) }; // a local free: no atomic operation
    v
});
let handle = hrx.recv().unwrap();
let p = alloc_for(handle, Layout::new::<u64>()).unwrap().as_ptr() as *mut u64;
unsafe { *p = 42 };
otx.send(p as usize).unwrap();
assert_eq!(consumer.join().unwrap(), 42);
```

# Glossary

* **block**: one object's memory slot inside a page; all blocks of a page
  have the same size (its *size class*).
* **size class**: 16..128 bytes in steps of 16, then four classes per
  power of two (×5/4, ×6/4, ×7/4, ×8/4) up to 128 KiB: 48 classes; the
  *small* ones go up to 16 KiB, the *medium* ones above. A 49th, the
  *page-object* class, gives an object of 128–448 KiB a medium page of its
  own (in which `realloc` grows it in place).
* **page**: 64 KiB (small classes) or 512 KiB (medium classes) of blocks of
  one class, owned by one heap. (Not an OS page, which is 4 KiB.) It has three free lists: `free` (allocate from),
  `local_free` (the owner's frees), `thread_free` (other threads' frees,
  pushed with CAS and collected by the owner in batches) — *free-list
  sharding*.
* **segment**: 4 MiB of address space aligned to 4 MiB, from `mmap`. A
  *small* segment has a header (page 0) and 63 pages of 64 KiB; a *medium*
  segment has 8 pages of 512 KiB (the first one shortened by the 64 KiB
  header); a *large* segment holds one object bigger than 448 KiB (or one
  whose alignment no class satisfies), and the rest of its mapping is room
  for `realloc` to grow in place. A small or medium object's segment
  header is at `(ptr - 1) & !(4 MiB - 1)`; a large object starts 1 to 16
  OS pages into its region (its *colour*, kept in the segment map) with
  its header in the page below it, so that many large objects do not
  compete for the same cache and TLB sets (see `segment::large_header`).
* **region cache**: up to 256 freed 4 MiB regions kept for the next
  segment or large object (up to 32 MiB of them still resident, the rest
  decommitted), so that churn of large objects makes no system calls; a
  new segment reuses a resident region as it is (its pages start dirty).
* **dirty page**: a released page (no blocks, back in its segment) whose
  memory is still resident; the next page of *any* class takes it first
  (no page faults), and it is purged (`MADV_DONTNEED`) if unused for
  50 ms.
* **segment map**: one bit per 4 MiB of address space, set for our segment
  headers; makes "is this pointer ours?" one load.
* **heap**: per-thread set of pages (a queue per class plus a *direct* table
  of the current page per class). Heaps are never freed.
* **shared page**: a page of heap *H* that other threads allocate from via
  [`alloc_for`]; *H*'s own frees to it are still local (plain stores, handed
  back 32 at a time with one CAS).
* **claim**: a thread that allocates for heap *H* takes one of *H*'s shared
  pages per class for itself (under *H*'s lock) and then allocates from it
  with no lock and no atomic, like from its own pages, until it is used up.
* **node heap**: a heap owned by no thread, whose segments are bound to one
  NUMA node (`mbind`); it serves [`alloc_on_node`].
* **consumer pool**: a heap owned by no thread that hands out never-used
  blocks without writing to them (see [`alloc_untouched`]); it serves the
  `consumer` placement policy.
* **abandoned heap**: the heap of a thread that exited. Its pages keep
  accepting frees (through `thread_free`); the next new thread adopts it.
* **full page**: a page with no free block, taken off its queue; a remote
  free revives it through the heap's *delayed* list (see `page.rs`).

# Layers (files)

`alloc.rs` fast path → `page.rs` generic path and page operations →
`segment.rs` segments, large objects, the region cache and the segment map
→ `os.rs` the kernel (`mmap`, `munmap`, `madvise`, `mbind`, `mincore`,
`dl_iterate_phdr`). `heap.rs` manages heaps and threads; `tls.rs` holds the
thread's heap pointer; `capi.rs` is the C ABI; `types.rs` holds the shared
structures. Placement plans: `json.rs` (reader with positions), `plan.rs`
(format, parser, profile conversion), `elf.rs` (symbol lookup),
`placement.rs` (resolution at start-up, lookup by return address).

# OS return policy

A page that becomes empty (and is not the current page of its class) is
released to its segment but stays resident (*dirty*) for 50 ms, ready for
a page of any class; the heap's next slow path after that returns it with
`madvise(MADV_DONTNEED)` (the segment keeps the address range). A segment whose last page is released, and a freed large
object of up to 4 MiB, goes to the region cache (decommitted beyond its
32 MiB resident budget); beyond 256 cached regions they are `munmap`ed, as
are bigger large objects.

# Limitations

* Linux only (x86-64 and other 64-bit targets with 47-bit user addresses).
* Objects over 4 MiB always take an `mmap`/`munmap` round trip; large
  objects reuse cached regions only when not bound to a node.
* Purges run on a heap's slow paths, not on a timer: a thread that frees
  a lot and then stops allocating keeps its dirty pages resident (and the
  region cache keeps up to 32 MiB) until it allocates again or exits.
* An abandoned heap's memory is only reused when a new thread adopts it.
* A full or empty page whose blocks are all freed by *other* threads is
  reclaimed only when its owner next takes the slow path for that class.
* Claiming a page (`alloc_for` from another thread, node heaps) walks the
  target heap's shared pages of the class under its lock; many exhausted
  shared pages make that walk long. Shared pages are reused but not
  returned to the OS while their heap lives.
* A claim cache has 64 slots per heap: a thread that allocates for many
  (heap, class) pairs in turn claims and releases pages often.
* `realloc` that has to move a block moves it to the calling thread's heap;
  a large object grows in place up to the end of its mapping (a multiple
  of 4 MiB) and is copied, not `mremap`ed, beyond it.
* `fork`: `pthread_atfork` handlers (registered when the first thread
  gets its heap: at load time for the C library, at the first allocation
  for the Rust global allocator) take every allocator lock before the fork and release
  them after it in parent and child, so the child never finds a lock held
  by a thread it does not have. The other threads' heaps stay orphaned in
  the child (their blocks can be freed, their free memory is not reused).
* The heap pointer is an initial-exec TLS variable (see `tls.rs`): a
  library loaded with `dlopen` (rather than `LD_PRELOAD` or linked in)
  takes it from glibc's static TLS surplus.

# Cargo features

* `c-abi` (default): export the C functions above. This also replaces
  `malloc` in every binary that links the rlib; use
  `default-features = false` to get only the Rust API.
*/
#![deny(missing_docs)]

mod alloc;
#[cfg(feature = "c-abi")]
pub mod capi;
#[cfg(feature = "c-abi")]
mod elf;
mod heap;
mod json;
mod os;
mod page;
#[cfg(feature = "c-abi")]
mod placement;
pub mod plan;
mod segment;
mod tls;
mod types;

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

pub use json::Pos;
pub use types::Heap;

/// A reference to a thread's heap that can be sent to and used from any
/// thread. Heaps are never freed, so a handle never dangles; if its thread
/// exits, the heap is abandoned and later adopted by a new thread, and the
/// handle then allocates for that thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeapHandle(NonNull<Heap>);

// SAFETY: a handle is only an identity; allocation through it from a
// foreign thread uses the heap's lock (shared pages).
unsafe impl Send for HeapHandle {}
// SAFETY: as above.
unsafe impl Sync for HeapHandle {}

impl HeapHandle {
    /// The raw heap pointer (what `loci_heap_current` returns in C).
    pub fn as_ptr(self) -> *mut Heap {
        self.0.as_ptr()
    }

    /// Rebuild a handle from [`HeapHandle::as_ptr`].
    ///
    /// # Safety
    /// `p` must come from `as_ptr` (or `loci_heap_current`).
    pub unsafe fn from_ptr(p: *mut Heap) -> HeapHandle {
        match NonNull::new(p) {
            Some(nn) => HeapHandle(nn),
            None => os::fatal("null heap handle", 0),
        }
    }
}

impl Heap {
    /// The calling thread's heap (created on first use).
    pub fn of_current_thread() -> HeapHandle {
        match NonNull::new(heap::current()) {
            Some(h) => HeapHandle(h),
            None => os::fatal("out of memory creating a heap", 0),
        }
    }
}

/// Allocate `layout` from the heap behind `handle`, from any thread. Called
/// by the heap's own thread it is the normal fast path; called by another
/// thread it takes a block from a shared page of that heap that the calling
/// thread has claimed (no lock, no atomic, except when claiming a new
/// page). Either way the block belongs to that heap, so when its thread
/// frees it the free is local (plain stores). On a machine with several
/// NUMA nodes, the fresh pages another thread claims for the heap are
/// bound (`mbind`, preferred) to the node the heap's thread ran on when it
/// took the heap, so the object lives on its consumer's node even though
/// the calling thread carves it; blocks recycled from that heap's frees,
/// and pages it had used before, stay where they were first placed.
/// Objects over 448 KiB are not heap-specific (they get their own
/// mapping). `None` if out of memory.
pub fn alloc_for(handle: HeapHandle, layout: Layout) -> Option<NonNull<u8>> {
    if layout.align() <= types::MIN_ALIGN {
        return NonNull::new(alloc::malloc_for(handle.as_ptr(), layout.size()));
    }
    NonNull::new(alloc::malloc_in(
        alloc::Target::Heap(handle.as_ptr()),
        layout.size(),
        layout.align(),
    ))
}

/// Allocate `layout` in memory bound to NUMA `node` (`mbind` with
/// `MPOL_PREFERRED`). Nodes that do not exist fall back to node 0, and
/// without kernel NUMA support the memory is simply first-touch. `None` if
/// out of memory.
pub fn alloc_on_node(node: usize, layout: Layout) -> Option<NonNull<u8>> {
    NonNull::new(alloc::malloc_in(
        alloc::Target::Node(node),
        layout.size(),
        layout.align(),
    ))
}

/// Allocate `layout` for a consumer that is not known yet: the block comes
/// from the *consumer pool* and, if it was never used before, is returned
/// without the allocator (or anything else) having written to it, so the
/// first thread that writes it places its OS pages on its own NUMA node by
/// first touch. This is the `consumer` policy of placement plans. Useful
/// when the producer only passes the pointer on and the consumer fills the
/// object; blocks smaller than an OS page share pages with neighbours, and
/// the first writer of a page places all of them. `None` if out of memory.
pub fn alloc_untouched(layout: Layout) -> Option<NonNull<u8>> {
    NonNull::new(alloc::malloc_untouched(layout.size(), layout.align()))
}

/// Allocate `layout` from the calling thread's heap. `None` if out of memory.
pub fn allocate(layout: Layout) -> Option<NonNull<u8>> {
    NonNull::new(alloc::malloc_in(
        alloc::Target::Current,
        layout.size(),
        layout.align(),
    ))
}

/// Free memory from any function of this crate (from any thread).
///
/// # Safety
/// `p` is null or was returned by this allocator and not freed since.
/// Cheaply detectable misuse (foreign pointer, interior pointer, double free
/// by the owning thread) aborts with a message naming the address.
pub unsafe fn dealloc(p: *mut u8) {
    // SAFETY: per the contract.
    unsafe { alloc::free(p) }
}

/// Resize a block to `new_size` bytes keeping alignment `align` (in place
/// when the size class still fits). `None` if out of memory, in which case
/// `p` is untouched.
///
/// # Safety
/// `p` is null or a live block of this allocator; `align` (a power of two)
/// is the alignment the result needs.
pub unsafe fn reallocate(p: *mut u8, new_size: usize, align: usize) -> Option<NonNull<u8>> {
    // SAFETY: per the contract.
    NonNull::new(unsafe { alloc::realloc(p, new_size, align) })
}

/// Usable size of a live block (at least the requested size).
///
/// # Safety
/// `p` is a live block of this allocator.
pub unsafe fn usable_size(p: *mut u8) -> usize {
    // SAFETY: per the contract.
    unsafe { alloc::usable_size(p) }
}

/// Number of NUMA nodes (from `/sys/devices/system/node/online`; at least 1).
pub fn numa_node_count() -> usize {
    heap::node_count()
}

/// The NUMA node that backs the (already touched) byte at `p`, as reported
/// by `get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)`; `None` if the kernel
/// cannot tell.
///
/// # Safety
/// `p` points into mapped memory.
pub unsafe fn node_of(p: *const u8) -> Option<usize> {
    // SAFETY: per the contract.
    unsafe { os::node_of_address(p) }
}

/// The allocator as a Rust global allocator.
///
/// ```
/// #[global_allocator]
/// static GLOBAL: loci_alloc::LociAlloc = loci_alloc::LociAlloc;
///
/// fn main() {
///     let v: Vec<u64> = (0..1000).collect();
///     assert_eq!(v.iter().sum::<u64>(), 499_500);
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LociAlloc;

// SAFETY: alloc returns null or a block of at least `layout.size()` bytes
// aligned to `layout.align()`, valid until dealloc; realloc preserves the
// first min(old, new) bytes; blocks never overlap (tested).
unsafe impl GlobalAlloc for LociAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= types::MIN_ALIGN {
            alloc::malloc(layout.size())
        } else {
            alloc::malloc_in(alloc::Target::Current, layout.size(), layout.align())
        }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, _layout: Layout) {
        // SAFETY: GlobalAlloc's contract: p was allocated by this allocator.
        unsafe { alloc::free(p) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        alloc::malloc_zeroed(layout.size(), layout.align())
    }

    #[inline]
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract: p is live with this layout.
        unsafe { alloc::realloc(p, new_size, layout.align()) }
    }
}

#[cfg(test)]
mod tests;
