//! Central types and constants: size classes, blocks, pages, segments, heaps.
//!
//! See the glossary at the crate root. Field comments say who may touch a
//! field: *owner* = the thread whose TLS heap is the page's heap, *lock* = any
//! thread holding `Heap::lock`, *atomic* = anyone, with atomics.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Bytes per segment; segments are aligned to this, so `ptr & !(SEGMENT_SIZE-1)`
/// (of `ptr - 1`, see `segment::segment_of`) finds the header.
pub(crate) const SEGMENT_SIZE: usize = 4 << 20;
/// Bytes per page inside a small segment (log2: `PAGE_SHIFT`).
pub(crate) const PAGE_SIZE: usize = 64 << 10;
/// log2 of `PAGE_SIZE`.
pub(crate) const PAGE_SHIFT: u32 = 16;
/// Bytes per page inside a medium segment (log2: `MEDIUM_PAGE_SHIFT`).
pub(crate) const MEDIUM_PAGE_SIZE: usize = 512 << 10;
/// log2 of `MEDIUM_PAGE_SIZE`.
pub(crate) const MEDIUM_PAGE_SHIFT: u32 = 19;
/// Page descriptors per segment (a small segment uses all of them, page 0
/// holding the header; a medium segment uses the first 8, page 0 starting
/// after the 64 KiB header).
pub(crate) const PAGES_PER_SEGMENT: usize = SEGMENT_SIZE / PAGE_SIZE;
/// Largest size served from small (64 KiB) pages.
pub(crate) const MAX_SMALL: usize = 16 << 10;
/// Largest size served by the classes that put several blocks on a page.
pub(crate) const MAX_MULTI: usize = 128 << 10;
/// Largest size served from pages at all: the *page-object* class
/// (`PAGE_OBJECT_CLASS`) gives each object above `MAX_MULTI` a whole
/// medium page (448 KiB: what page 0 of a medium segment holds). Bigger
/// objects get their own mapping.
///
/// Why: objects just above `MAX_MULTI` (a buffer grown by `realloc`) then
/// reuse the resident memory of released medium pages, and their
/// released pages serve the medium classes again, where a mapping of
/// their own kept the two apart (a program whose buffers grow through the
/// medium classes into large objects held both resident). Such an object
/// grows in place up to 448 KiB.
pub(crate) const MAX_PAGED: usize = MEDIUM_PAGE_SIZE - PAGE_SIZE;
/// Number of size classes.
pub(crate) const NUM_CLASSES: usize = 8 + 10 * 4 + 1;
/// The page-object class: one block of `MAX_PAGED` bytes per medium page
/// (see `MAX_PAGED`).
pub(crate) const PAGE_OBJECT_CLASS: usize = NUM_CLASSES - 1;
/// First medium class (block size > `MAX_SMALL`).
pub(crate) const FIRST_MEDIUM_CLASS: usize = 8 + 7 * 4;
/// Minimum alignment of every block (what `malloc` promises on x86-64).
pub(crate) const MIN_ALIGN: usize = 16;
/// Marker stored in the second word of a freed block (cleared when the
/// block is handed out again) so that a double free is cheap to suspect;
/// confirmed by a list scan (live data that happens to hold the marker
/// only costs that scan).
pub(crate) const FREED_MARK: usize = 0xffff_ffff_d0c1_a110;

// The mark is a sign-extended 32-bit immediate: `free` compares and
// stores it without loading a 64-bit constant first.
const _: () = assert!(FREED_MARK as i64 == FREED_MARK as i32 as i64);
/// How long (milliseconds) a released page's memory stays resident
/// (*dirty*, reusable by any size class without page faults) before the
/// heap's next slow path returns it to the OS with `madvise`.
pub(crate) const PURGE_DELAY_MS: u64 = 50;
/// Number of owner frees into a shared page collected before they are handed
/// back to the page's allocator (one CAS onto `thread_free` per batch).
pub(crate) const SHARED_FLUSH_BATCH: u32 = 32;

/// Block size of each class: 16..128 in steps of 16, then four classes per
/// power of two (2^k * 5/4, 6/4, 7/4, 8/4) up to 128 KiB, then the
/// page-object class (`MAX_PAGED`).
pub(crate) const CLASS_SIZE: [usize; NUM_CLASSES] = {
    let mut t = [0usize; NUM_CLASSES];
    let mut i = 0;
    while i < 8 {
        t[i] = 16 * (i + 1);
        i += 1;
    }
    let mut k = 7;
    while k < 17 {
        let mut j = 1;
        while j <= 4 {
            t[8 + (k - 7) * 4 + (j - 1)] = (1 << k) + j * (1 << (k - 2));
            j += 1;
        }
        k += 1;
    }
    t[PAGE_OBJECT_CLASS] = MAX_PAGED;
    t
};

// The medium classes start right after the last small class.
const _: () = assert!(CLASS_SIZE[FIRST_MEDIUM_CLASS - 1] == MAX_SMALL);

/// Size class of a request of `size <= MAX_PAGED` bytes, by arithmetic.
#[inline(always)]
const fn class_of_computed(size: usize) -> usize {
    if size > MAX_MULTI {
        return PAGE_OBJECT_CLASS;
    }
    if size <= 128 {
        // size 0 behaves like 1.
        let size = if size == 0 { 1 } else { size };
        return size.div_ceil(16) - 1;
    }
    let k = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize; // 2^k < size <= 2^(k+1)
    let step_shift = k - 2;
    let j = (size - (1 << k) + (1 << step_shift) - 1) >> step_shift; // 1..=4
    8 + (k - 7) * 4 + (j - 1)
}

/// Requests up to this size find their class in `SMALL_CLASS`.
pub(crate) const SMALL_LOOKUP_MAX: usize = 1024;

/// Class of each size `16 * i` (i.e. of sizes `16 * i - 15 ..= 16 * i`),
/// for sizes up to `SMALL_LOOKUP_MAX`: the class boundaries there are all
/// multiples of 16.
const SMALL_CLASS: [u8; SMALL_LOOKUP_MAX / 16 + 1] = {
    let mut t = [0u8; SMALL_LOOKUP_MAX / 16 + 1];
    let mut i = 0;
    while i < t.len() {
        t[i] = class_of_computed(i * 16) as u8;
        i += 1;
    }
    t
};

/// Size class of a request of `size <= SMALL_LOOKUP_MAX` bytes (the
/// table lookup of [`class_of`]).
///
/// Cost: 3 instructions (add, shift, byte load).
#[inline(always)]
pub(crate) fn small_class_of(size: usize) -> usize {
    debug_assert!(size <= SMALL_LOOKUP_MAX);
    // SAFETY: the index is at most SMALL_LOOKUP_MAX / 16, the table's last.
    unsafe { *SMALL_CLASS.get_unchecked(size.div_ceil(16)) as usize }
}

/// Size class of a request of `size <= MAX_PAGED` bytes.
///
/// Cost: 3 instructions (add, shift, byte load) up to 1 KiB; about 10
/// (`lzcnt`, shifts) above.
#[inline(always)]
pub(crate) fn class_of(size: usize) -> usize {
    if size <= SMALL_LOOKUP_MAX {
        return SMALL_CLASS[size.div_ceil(16)] as usize;
    }
    class_of_computed(size)
}

/// Multiplier for the "is `off` a multiple of the block size?" test of
/// [`is_block_start`]: `floor(2^64 / block_size) + 1`.
///
/// Why it works, for `d = block_size <= 2^17` (the page-object class's
/// 448 KiB, whose only block starts at offset 0, is checked exhaustively
/// by a unit test: there the offset `d` itself, past the block, passes,
/// like the start of a block not yet carved in other classes) and `m = (2^64 + e) / d`
/// (so `1 <= e <= d`): for `off = q*d + r` with `off < 2^20`, the low 64
/// bits of `off * m` are `q*e + r*m`. If `r == 0` that is `q*e <= off <
/// 2^20`; otherwise `r*m` is at least `2^64 / d >= 2^47` and (with `q*e`)
/// stays below `2^64`, so the product is `>= 2^47`. For the "negative"
/// offsets `-k` (`1 <= k <= 2^16`, a pointer just below a page's start,
/// into a medium segment's header) the product is `-(k*m)`, whose low bits
/// are at least `2^64 - 2^17` (when `d` divides `k`: `e >= 1`) or at least
/// `2^47 - 2^17`: never below `2^20` either. (The `+ 1` is what makes
/// `e >= 1` when `d` is a power of two.)
pub(crate) const fn block_magic(block_size: usize) -> u64 {
    ((1u128 << 64) / block_size as u128 + 1) as u64
}

/// Offsets below this are what [`is_block_start`] decides exactly.
pub(crate) const BLOCK_CHECK_RANGE: usize = 1 << 20;

// Every offset inside a page is in that range.
const _: () = assert!(MEDIUM_PAGE_SIZE <= BLOCK_CHECK_RANGE);

/// Whether `off` (an offset from a page's start, `< 2^20`, or a small
/// negative offset wrapped around, see [`block_magic`]) is a multiple of
/// the block size whose magic is `magic`.
///
/// Cost: a multiplication and a compare (instead of a 64-bit `div`).
#[inline(always)]
pub(crate) fn is_block_start(off: usize, magic: u64) -> bool {
    (off as u64).wrapping_mul(magic) < BLOCK_CHECK_RANGE as u64
}

/// Smallest class whose blocks hold `size` bytes and are all aligned to
/// `align` (blocks start at 64 KiB-aligned page starts, so for `align <=
/// 64 KiB` a block size that is a multiple of `align` suffices). `None` if
/// no class fits.
pub(crate) fn class_for_layout(size: usize, align: usize) -> Option<usize> {
    if align <= MIN_ALIGN {
        return (size <= MAX_PAGED).then(|| class_of(size));
    }
    let need = size.max(align);
    // Page starts are only 64 KiB aligned (a medium segment's page 0 starts
    // after the header), so bigger alignments go to large objects.
    if need > MAX_PAGED || align > PAGE_SIZE {
        return None;
    }
    let mut c = class_of(need);
    while c < NUM_CLASSES {
        if CLASS_SIZE[c] % align == 0 {
            return Some(c);
        }
        c += 1;
    }
    None
}

/// Bits of a `Page::thread_free` word that hold the list head: every
/// block address is below 2^47 (the segment map covers no more).
const TF_PTR_BITS: u32 = 47;

/// The list head of a tagged `Page::thread_free` word.
#[inline(always)]
pub(crate) fn tf_ptr(v: *mut Block) -> *mut Block {
    (v as usize & ((1 << TF_PTR_BITS) - 1)) as *mut Block
}

/// The block count of a tagged `Page::thread_free` word. (It counts up to
/// 2^17 - 1, more than a page's blocks; only repeated remote double frees,
/// which are not detected, could wrap it.)
#[inline(always)]
pub(crate) fn tf_count(v: *mut Block) -> u32 {
    (v as usize >> TF_PTR_BITS) as u32
}

/// A tagged `Page::thread_free` word: list `head`, `count` blocks.
#[inline(always)]
pub(crate) fn tf_pack(head: *mut Block, count: u32) -> *mut Block {
    ((head as usize) | ((count as usize) << TF_PTR_BITS)) as *mut Block
}

/// A free block: its first word links to the next free block.
#[repr(C)]
pub(crate) struct Block {
    pub(crate) next: *mut Block,
}

/// `Page::local_owner` of shared pages: never a heap address, never null
/// (a thread without a heap compares null).
pub(crate) const NOT_LOCAL: *mut Heap = usize::MAX as *mut Heap;

/// Page state for the "full" protocol (see `page.rs`).
pub(crate) const PAGE_NOT_FULL: u8 = 0;
/// The owner found no free block and moved the page off its queue.
pub(crate) const PAGE_FULL: u8 = 1;
/// A remote free saw `PAGE_FULL` and queued the page on `Heap::delayed`.
pub(crate) const PAGE_DELAYED: u8 = 2;

/// A 64 KiB page of equal-sized blocks, described in its segment header.
///
/// 128 bytes, cache-line aligned: what the fast paths touch (`free`,
/// `local_free`, `used`, `block_magic`, `start`, `local_owner`) is in the
/// first 64 bytes, and `free` finds a descriptor with a shift.
#[repr(C, align(64))]
pub(crate) struct Page {
    /// Blocks ready to allocate. Owner (or lock, for shared pages; empty
    /// while a shared page is claimed: its list is then in the `Claim`).
    pub(crate) free: *mut Block,
    /// Blocks freed by the owner. Owner only.
    pub(crate) local_free: *mut Block,
    /// Blocks freed by other threads, pushed with CAS. Atomic. The word
    /// is tagged: the list head in its low 47 bits, the number of blocks
    /// on the list (pushed by remote frees) in the top 17 (see
    /// [`tf_ptr`], [`tf_count`]), so that the owner learns the count
    /// without walking the list through other cores' cache lines.
    pub(crate) thread_free: AtomicPtr<Block>,
    /// Blocks handed out and not yet collected back. Owner. For a shared
    /// page (whose allocation side another thread may hold, see
    /// `page::take_thread_free`) it counts down instead the owner's frees
    /// until the next hand-over of `local_free` (`page::flush_shared`),
    /// which the free fast path's "became zero" test then triggers (and
    /// from 1 after a hand-over, so that `page::free_slow` sees the first
    /// block of the new list).
    pub(crate) used: u32,
    /// Size class.
    pub(crate) class: u8,
    /// Whether the page is in use by a heap. Lock.
    pub(crate) in_use: bool,
    /// Whether foreign threads allocate from it (`alloc_for`, node heaps).
    pub(crate) shared: bool,
    /// One of `PAGE_NOT_FULL`, `PAGE_FULL`, `PAGE_DELAYED`. Atomic.
    pub(crate) full: AtomicU8,
    /// `block_magic(block_size)`, for the interior-pointer check in `free`.
    pub(crate) block_magic: u64,
    /// Start of the page's memory.
    pub(crate) start: *mut u8,
    /// `heap` for an in-use page that is not marked full (shared or not);
    /// `NOT_LOCAL` for every other page (full, not in use): `free`'s
    /// one-compare test for "a plain local free". Owner (lock while not in
    /// use).
    pub(crate) local_owner: *mut Heap,
    /// Block size in bytes (0 while the page is unused).
    pub(crate) block_size: usize,
    /// Offset of the first never-carved byte. Owner (lock for shared pages).
    pub(crate) bump: usize,
    /// Bytes of block memory from `start` (64 KiB, or up to 512 KiB in a
    /// medium segment).
    pub(crate) capacity: usize,
    /// Owning heap; set when the page is taken from its segment (under lock).
    pub(crate) heap: *mut Heap,
    /// Next/previous page in the owner's class queue (or shared list).
    pub(crate) next: *mut Page,
    /// See `next`.
    pub(crate) prev: *mut Page,
    /// Link in `Heap::delayed`. Atomic (written by the pushing thread).
    /// Shared pages never go on `delayed`; for them it holds instead the
    /// last block of `local_free` (cast), or null if not known (see
    /// `page::flush_shared`). Owner.
    pub(crate) delayed_next: *mut Page,
    /// While not in use: bytes from `start` that may still be resident
    /// (0 once purged). Lock.
    pub(crate) dirty: u32,
    /// When the page was last released (`os::now_ms`, truncated: compared with wrapping arithmetic). Lock.
    pub(crate) freed_at: u32,
    /// Shared pages: the heap whose thread currently allocates from this
    /// page without the lock (see `page::malloc_claimed`), or null. Changed
    /// under the page's heap lock.
    pub(crate) claimed: *mut Heap,
}

/// Kind of a segment.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum SegmentKind {
    /// 64 pages of small blocks.
    Small = 1,
    /// One large object in its own mapping.
    Large = 2,
    /// 8 pages of 512 KiB for medium blocks (16..128 KiB) and page
    /// objects (128..448 KiB, one per page).
    Medium = 3,
}

/// Header at the start of every small or medium segment (4 MiB aligned),
/// and (with the `Large` fields) in front of every large object (see
/// `segment::large_header`).
#[repr(C)]
pub(crate) struct Segment {
    /// Small, Medium or Large.
    pub(crate) kind: SegmentKind,
    /// log2 of the page size (`PAGE_SHIFT` or `MEDIUM_PAGE_SHIFT`): the
    /// page of a block is `pages[(p - segment) >> page_shift]`.
    pub(crate) page_shift: u32,
    /// NUMA node the segment is bound to, or `usize::MAX` if unbound.
    pub(crate) node: usize,
    /// Start and length of the whole mapping (for `munmap`).
    pub(crate) map_base: *mut u8,
    /// See `map_base`.
    pub(crate) map_len: usize,
    /// Large: usable bytes from the object pointer (the requested size
    /// rounded up to OS pages).
    pub(crate) large_usable: usize,
    /// Large: bytes from the object pointer to the end of the mapping (what
    /// `realloc` may grow to in place; untouched address space costs no RSS).
    pub(crate) large_capacity: usize,
    /// Large: the object pointer handed out (anything else is an invalid free).
    pub(crate) large_obj: *mut u8,
    /// Small: owning heap. Lock.
    pub(crate) heap: *mut Heap,
    /// Small: number of pages in use. Lock.
    pub(crate) used_pages: usize,
    /// Small: links in the heap's segment list. Lock.
    pub(crate) next: *mut Segment,
    /// See `next`.
    pub(crate) prev: *mut Segment,
    /// Small: page descriptors (index 0 unused: it holds this header).
    /// One more than there are pages, never in use: an (invalid) pointer
    /// exactly 4 MiB past the header, which `segment::segment_of` maps to
    /// this segment, indexes it, so `free` needs no bounds mask.
    pub(crate) pages: [Page; PAGES_PER_SEGMENT + 1],
}

/// Slots in a heap's claim cache (`Heap::claims`).
pub(crate) const CLAIM_SLOTS: usize = 64;

/// A shared page of another heap (`target`) that this heap's thread has
/// claimed: it allocates from it without a lock.
///
/// While claimed, the page's free list is here, in the claiming thread's
/// own heap, not in the page's `free`: allocating for another thread then
/// writes nothing in the page descriptor, whose first line the page's
/// owner writes on every free (`local_free`, `used`), so that producer and
/// consumer do not pass that line back and forth on every operation. (The
/// page's `free` is empty while claimed; `page::unclaim` puts the list
/// back.)
#[derive(Clone, Copy)]
pub(crate) struct Claim {
    pub(crate) target: *mut Heap,
    pub(crate) page: *mut Page,
    /// Blocks of `page` ready to allocate. The claimer's.
    pub(crate) free: *mut Block,
}

impl Claim {
    /// An unused slot: no target (null, which no handle is), the empty
    /// page (`page::empty_page`) and no free block, so that a lookup, even
    /// for a null target, finds nothing to pop.
    pub(crate) fn empty() -> Claim {
        Claim {
            target: ptr::null_mut(),
            page: crate::page::empty_page(),
            free: ptr::null_mut(),
        }
    }
}

/// Doubly linked list of pages.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct PageQueue {
    pub(crate) first: *mut Page,
    pub(crate) last: *mut Page,
}

impl PageQueue {
    pub(crate) const EMPTY: PageQueue = PageQueue {
        first: ptr::null_mut(),
        last: ptr::null_mut(),
    };
}

/// Test-and-test-and-set spin lock that yields after spinning.
pub(crate) struct SpinLock {
    locked: AtomicBool,
}

impl SpinLock {
    pub(crate) const fn new() -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
        }
    }

    pub(crate) fn lock(&self) -> SpinGuard<'_> {
        let mut spins = 0u32;
        loop {
            if !self.locked.load(Ordering::Relaxed)
                && self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return SpinGuard { lock: self };
            }
            spins += 1;
            if spins < 64 {
                core::hint::spin_loop();
            } else {
                crate::os::yield_now();
            }
        }
    }

    /// Take the lock without a guard (for the `fork` handlers, which lock
    /// in one callback and unlock in another). Pair with [`Self::force_unlock`].
    pub(crate) fn lock_raw(&self) {
        core::mem::forget(self.lock());
    }

    /// Release a lock taken with [`Self::lock_raw`] (by this thread, or by
    /// the parent thread before `fork`, in the child).
    pub(crate) fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

/// Releases the lock when dropped.
pub(crate) struct SpinGuard<'a> {
    lock: &'a SpinLock,
}

impl Drop for SpinGuard<'_> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

/// Per-thread (or per-node) heap. Heaps are never freed: a thread's heap is
/// abandoned at thread exit and adopted whole by the next new thread.
/// Aligned to 128 bytes (two cache lines, what adjacent-line prefetch
/// pairs), so that the fields one thread writes on its slow paths never
/// share a line with the next heap's `direct` table, which another thread
/// reads on every `malloc`.
#[repr(C, align(128))]
pub struct Heap {
    /// Current page of each class: the fast path's only lookup (the empty
    /// page, `page::empty_page`, for a class without one). Owner.
    pub(crate) direct: UnsafeCell<[*mut Page; NUM_CLASSES]>,
    /// All non-full owner pages of each class. Owner.
    pub(crate) queues: UnsafeCell<[PageQueue; NUM_CLASSES]>,
    /// Shared pages per class (for `alloc_for`/node heaps). Lock.
    pub(crate) shared: UnsafeCell<[PageQueue; NUM_CLASSES]>,
    /// Segments of this heap. Lock.
    pub(crate) segments: UnsafeCell<*mut Segment>,
    /// Full pages that received a remote free (atomic stack via `delayed_next`).
    pub(crate) delayed: AtomicPtr<Page>,
    /// Guards segments, page acquisition/release and shared pages.
    pub(crate) lock: SpinLock,
    /// NUMA node for node heaps; `usize::MAX` for thread heaps.
    pub(crate) node: usize,
    /// Thread heaps on a machine with several NUMA nodes: the node of the
    /// CPU the owning thread ran on when it took the heap (`getcpu`), where
    /// fresh pages that other threads claim to allocate for this heap are
    /// bound (see `page::claim_new`); `usize::MAX` if unknown or on one
    /// node. Written by the owner, read by claimers.
    pub(crate) home_node: AtomicUsize,
    /// The consumer pool (see `heap::consumer_pool`): blocks are handed out
    /// without being written.
    pub(crate) untouched: bool,
    /// Link in the abandoned-heap stack (guarded by its lock).
    pub(crate) next_abandoned: UnsafeCell<*mut Heap>,
    /// Link in the list of all heaps (written once, under the arena lock).
    pub(crate) next_all: *mut Heap,
    /// Pages of other heaps (`alloc_for` targets, node heaps) this heap's
    /// thread has claimed, direct-mapped by (target, class). Owner.
    pub(crate) claims: UnsafeCell<[Claim; CLAIM_SLOTS]>,
    /// Released pages of this heap's segments whose memory is still
    /// resident (`Page::dirty > 0`). Changed under the lock; read without.
    pub(crate) dirty_pages: AtomicUsize,
    /// Earliest time (`os::now_ms`) of the next purge (read without the
    /// lock to skip early).
    pub(crate) next_purge: AtomicU64,
    /// Owner's generic-path calls since it last looked at the clock.
    pub(crate) purge_tick: UnsafeCell<u32>,
    /// Classes (bit `c`) whose direct page a local free left empty: kept
    /// for the class's next allocations, released when the heap next
    /// takes a page for another class (see `page::release_retired`). Owner.
    pub(crate) retired: UnsafeCell<u64>,
}

// `Heap::retired` has a bit per class.
const _: () = assert!(NUM_CLASSES <= 64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_table_is_increasing_and_16_aligned() {
        for c in 0..NUM_CLASSES {
            assert_eq!(CLASS_SIZE[c] % MIN_ALIGN, 0, "class {c}");
            if c > 0 {
                assert!(CLASS_SIZE[c] > CLASS_SIZE[c - 1]);
            }
        }
        assert_eq!(CLASS_SIZE[NUM_CLASSES - 1], MAX_PAGED);
        assert_eq!(CLASS_SIZE[FIRST_MEDIUM_CLASS - 1], MAX_SMALL);
    }

    #[test]
    fn class_of_is_the_smallest_fitting_class() {
        for size in 0..=MAX_PAGED {
            let c = class_of(size);
            assert!(CLASS_SIZE[c] >= size, "size {size} class {c}");
            if c > 0 {
                assert!(CLASS_SIZE[c - 1] < size.max(1), "size {size} class {c}");
            }
        }
    }

    #[test]
    fn class_lookup_table_agrees_with_the_formula() {
        for size in 0..=MAX_PAGED {
            assert_eq!(class_of(size), class_of_computed(size), "size {size}");
        }
    }

    #[test]
    fn block_magic_divides_exactly_on_every_page_offset() {
        for &bs in CLASS_SIZE.iter() {
            let m = block_magic(bs);
            for off in 0..MEDIUM_PAGE_SIZE {
                assert_eq!(is_block_start(off, m), off % bs == 0, "bs {bs} off {off}");
            }
            // Pointers below a page's start (a medium segment's header).
            for k in 1..=PAGE_SIZE {
                assert!(!is_block_start(k.wrapping_neg(), m), "bs {bs} off -{k}");
            }
        }
    }

    #[test]
    fn aligned_classes_are_multiples_of_the_alignment() {
        let mut align = 32;
        while align <= MAX_PAGED {
            for size in [1, align / 2, align, align + 1, 3 * align] {
                match class_for_layout(size, align) {
                    Some(c) => {
                        assert_eq!(CLASS_SIZE[c] % align, 0);
                        assert!(CLASS_SIZE[c] >= size);
                    }
                    None => assert!(size.max(align) > MAX_PAGED || align > PAGE_SIZE),
                }
            }
            align *= 2;
        }
    }

    #[test]
    fn page_descriptors_are_128_bytes() {
        assert_eq!(core::mem::size_of::<Page>(), 128);
        assert!(core::mem::offset_of!(Page, local_owner) + 8 <= 64);
    }

    #[test]
    fn segment_header_fits_in_page_zero() {
        assert!(core::mem::size_of::<Segment>() <= PAGE_SIZE);
    }
}
