//! Central types and constants: size classes, blocks, pages, segments, heaps.
//!
//! See the glossary at the crate root. Field comments say who may touch a
//! field: *owner* = the thread whose TLS heap is the page's heap, *lock* = any
//! thread holding `Heap::lock`, *atomic* = anyone, with atomics.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};

/// Bytes per segment; segments are aligned to this, so `ptr & !(SEGMENT_SIZE-1)`
/// (of `ptr - 1`, see `segment::segment_of`) finds the header.
pub(crate) const SEGMENT_SIZE: usize = 4 << 20;
/// Bytes per page inside a small segment.
pub(crate) const PAGE_SIZE: usize = 64 << 10;
/// Pages per segment; page 0 holds the segment header and is never used for blocks.
pub(crate) const PAGES_PER_SEGMENT: usize = SEGMENT_SIZE / PAGE_SIZE;
/// Largest size served from pages; bigger objects get their own mapping.
pub(crate) const MAX_SMALL: usize = 16 << 10;
/// Number of size classes.
pub(crate) const NUM_CLASSES: usize = 8 + 7 * 4;
/// Minimum alignment of every block (what `malloc` promises on x86-64).
pub(crate) const MIN_ALIGN: usize = 16;
/// Marker stored in the second word of a freed block (xor its address) so
/// that a double free is cheap to suspect; confirmed by a list scan.
pub(crate) const FREED_MARK: usize = 0x10c1_a110_cf4e_ed00;
/// Number of owner frees into a shared page collected before they are handed
/// back to the shared free list (one lock per batch).
pub(crate) const SHARED_FLUSH_BATCH: u32 = 32;

/// Block size of each class: 16..128 in steps of 16, then four classes per
/// power of two (2^k * 5/4, 6/4, 7/4, 8/4) up to 16 KiB.
pub(crate) const CLASS_SIZE: [usize; NUM_CLASSES] = {
    let mut t = [0usize; NUM_CLASSES];
    let mut i = 0;
    while i < 8 {
        t[i] = 16 * (i + 1);
        i += 1;
    }
    let mut k = 7;
    while k < 14 {
        let mut j = 1;
        while j <= 4 {
            t[8 + (k - 7) * 4 + (j - 1)] = (1 << k) + j * (1 << (k - 2));
            j += 1;
        }
        k += 1;
    }
    t
};

/// Size class of a request of `size <= MAX_SMALL` bytes.
///
/// Cost: about 6 instructions (one branch, a `lzcnt`, shifts).
#[inline(always)]
pub(crate) fn class_of(size: usize) -> usize {
    if size <= 128 {
        // size 0 behaves like 1.
        return size.max(1).div_ceil(16) - 1;
    }
    let k = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize; // 2^k < size <= 2^(k+1)
    let step_shift = k - 2;
    let j = (size - (1 << k) + (1 << step_shift) - 1) >> step_shift; // 1..=4
    8 + (k - 7) * 4 + (j - 1)
}

/// Smallest class whose blocks hold `size` bytes and are all aligned to
/// `align` (blocks start at 64 KiB-aligned page starts, so a block size that
/// is a multiple of `align` suffices). `None` if no class fits.
pub(crate) fn class_for_layout(size: usize, align: usize) -> Option<usize> {
    if align <= MIN_ALIGN {
        return (size <= MAX_SMALL).then(|| class_of(size));
    }
    let need = size.max(align);
    if need > MAX_SMALL {
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

/// A free block: its first word links to the next free block.
#[repr(C)]
pub(crate) struct Block {
    pub(crate) next: *mut Block,
}

/// Page state for the "full" protocol (see `page.rs`).
pub(crate) const PAGE_NOT_FULL: u8 = 0;
/// The owner found no free block and moved the page off its queue.
pub(crate) const PAGE_FULL: u8 = 1;
/// A remote free saw `PAGE_FULL` and queued the page on `Heap::delayed`.
pub(crate) const PAGE_DELAYED: u8 = 2;

/// A 64 KiB page of equal-sized blocks, described in its segment header.
#[repr(C)]
pub(crate) struct Page {
    /// Blocks ready to allocate. Owner (or lock, for shared pages).
    pub(crate) free: *mut Block,
    /// Blocks freed by the owner. Owner only.
    pub(crate) local_free: *mut Block,
    /// Blocks freed by other threads, pushed with CAS. Atomic.
    pub(crate) thread_free: AtomicPtr<Block>,
    /// Blocks handed out and not yet collected back. Owner (lock for shared pages).
    pub(crate) used: u32,
    /// Owner frees sitting in `local_free` of a shared page. Owner only.
    pub(crate) local_free_count: u32,
    /// Block size in bytes (0 while the page is unused).
    pub(crate) block_size: usize,
    /// Offset of the first never-carved byte. Owner (lock for shared pages).
    pub(crate) bump: usize,
    /// Start of the page's memory.
    pub(crate) start: *mut u8,
    /// Owning heap; set when the page is taken from its segment (under lock).
    pub(crate) heap: *mut Heap,
    /// Next/previous page in the owner's class queue (or shared list).
    pub(crate) next: *mut Page,
    /// See `next`.
    pub(crate) prev: *mut Page,
    /// Link in `Heap::delayed`. Atomic (written by the pushing thread).
    pub(crate) delayed_next: *mut Page,
    /// Size class.
    pub(crate) class: u8,
    /// Whether the page is in use by a heap. Lock.
    pub(crate) in_use: bool,
    /// Whether foreign threads allocate from it (`alloc_for`, node heaps).
    pub(crate) shared: bool,
    /// One of `PAGE_NOT_FULL`, `PAGE_FULL`, `PAGE_DELAYED`. Atomic.
    pub(crate) full: AtomicU8,
}

/// Kind of a segment.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum SegmentKind {
    /// 64 pages of small blocks.
    Small = 1,
    /// One large object in its own mapping.
    Large = 2,
}

/// Header at the start of every segment (4 MiB aligned).
#[repr(C)]
pub(crate) struct Segment {
    /// Small or Large.
    pub(crate) kind: SegmentKind,
    /// NUMA node the segment is bound to, or `usize::MAX` if unbound.
    pub(crate) node: usize,
    /// Start and length of the whole mapping (for `munmap`).
    pub(crate) map_base: *mut u8,
    /// See `map_base`.
    pub(crate) map_len: usize,
    /// Large: usable bytes from the object pointer to the end of the mapping.
    pub(crate) large_usable: usize,
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
    pub(crate) pages: [Page; PAGES_PER_SEGMENT],
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
#[repr(C)]
pub struct Heap {
    /// Current page of each class: the fast path's only lookup. Owner.
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
    /// Link in the abandoned-heap stack (guarded by its lock).
    pub(crate) next_abandoned: UnsafeCell<*mut Heap>,
}

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
        assert_eq!(CLASS_SIZE[NUM_CLASSES - 1], MAX_SMALL);
    }

    #[test]
    fn class_of_is_the_smallest_fitting_class() {
        for size in 0..=MAX_SMALL {
            let c = class_of(size);
            assert!(CLASS_SIZE[c] >= size, "size {size} class {c}");
            if c > 0 {
                assert!(CLASS_SIZE[c - 1] < size.max(1), "size {size} class {c}");
            }
        }
    }

    #[test]
    fn aligned_classes_are_multiples_of_the_alignment() {
        let mut align = 32;
        while align <= MAX_SMALL {
            for size in [1, align / 2, align, align + 1, 3 * align] {
                match class_for_layout(size, align) {
                    Some(c) => {
                        assert_eq!(CLASS_SIZE[c] % align, 0);
                        assert!(CLASS_SIZE[c] >= size);
                    }
                    None => assert!(size.max(align) > MAX_SMALL),
                }
            }
            align *= 2;
        }
    }

    #[test]
    fn segment_header_fits_in_page_zero() {
        assert!(core::mem::size_of::<Segment>() <= PAGE_SIZE);
    }
}
