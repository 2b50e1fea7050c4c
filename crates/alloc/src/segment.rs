//! Segment layer: 4 MiB aligned chunks from the OS, the global segment map,
//! page acquisition/release inside small segments, and large objects.
//!
//! Concurrency contract: the segment map is a global atomic bitmap (any
//! thread). Everything that changes a small segment (its page table, its
//! `used_pages`, its membership in a heap's list) runs under the owning
//! heap's `lock`. Large objects belong to no heap: any thread may free them.
//!
//! OS return policy: a page that becomes empty and is released gets
//! `madvise(MADV_DONTNEED)` (its address range stays in the segment); a
//! segment whose last page is released is `munmap`ed. Large objects are
//! `munmap`ed on free.

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

use crate::os;
use crate::types::*;

/// Address bits covered by the segment map (x86-64/AArch64 user space with
/// 4-level page tables). Segments above this are refused.
const ADDRESS_BITS: u32 = 47;
const MAP_WORDS: usize = (1usize << ADDRESS_BITS) / SEGMENT_SIZE / 64;

/// One bit per 4 MiB chunk of address space: set iff a segment header of
/// ours lives there. Lives in `.bss`; untouched words cost no memory.
static SEGMENT_MAP: [AtomicU64; MAP_WORDS] = [const { AtomicU64::new(0) }; MAP_WORDS];

/// Header bytes reserved in front of a large object (keeps it page aligned).
const LARGE_HEADER: usize = os::OS_PAGE;

fn map_slot(seg: usize) -> Option<(usize, u64)> {
    let chunk = seg / SEGMENT_SIZE;
    let word = chunk / 64;
    (word < MAP_WORDS).then(|| (word, 1u64 << (chunk % 64)))
}

fn map_set(seg: usize, on: bool) -> bool {
    match map_slot(seg) {
        Some((w, bit)) => {
            if on {
                SEGMENT_MAP[w].fetch_or(bit, Ordering::Release);
            } else {
                SEGMENT_MAP[w].fetch_and(!bit, Ordering::Release);
            }
            true
        }
        None => false,
    }
}

/// Whether `seg` is the header address of one of our live segments.
///
/// Cost: one shift, one load, one test.
#[inline(always)]
pub(crate) fn is_segment(seg: *mut Segment) -> bool {
    match map_slot(seg as usize) {
        Some((w, bit)) => SEGMENT_MAP[w].load(Ordering::Acquire) & bit != 0,
        None => false,
    }
}

/// Header of the segment that would contain the object at `p` (non-null).
/// Objects always start strictly after their header and at most
/// `SEGMENT_SIZE` bytes after it, hence `p - 1`.
#[inline(always)]
pub(crate) fn segment_of(p: *const u8) -> *mut Segment {
    ((p as usize - 1) & !(SEGMENT_SIZE - 1)) as *mut Segment
}

/// Map and initialise a new small segment for `heap`, link it into the
/// heap's list and the segment map.
///
/// # Safety
/// The caller holds `heap.lock`; `heap` is live.
unsafe fn segment_new(heap: *mut Heap) -> *mut Segment {
    let base = os::map_aligned(SEGMENT_SIZE, SEGMENT_SIZE);
    if base.is_null() {
        return ptr::null_mut();
    }
    let seg = base as *mut Segment;
    // SAFETY: the mapping is fresh, zeroed, aligned and large enough for the
    // header (checked by a unit test); all-zero bytes are a valid value for
    // every `Page` field, and we write the non-page fields explicitly.
    unsafe {
        let node = (*heap).node;
        ptr::addr_of_mut!((*seg).kind).write(SegmentKind::Small);
        ptr::addr_of_mut!((*seg).node).write(node);
        ptr::addr_of_mut!((*seg).map_base).write(base);
        ptr::addr_of_mut!((*seg).map_len).write(SEGMENT_SIZE);
        ptr::addr_of_mut!((*seg).large_usable).write(0);
        ptr::addr_of_mut!((*seg).large_obj).write(ptr::null_mut());
        ptr::addr_of_mut!((*seg).heap).write(heap);
        ptr::addr_of_mut!((*seg).used_pages).write(0);
        ptr::addr_of_mut!((*seg).prev).write(ptr::null_mut());
        for i in 1..PAGES_PER_SEGMENT {
            let pg = ptr::addr_of_mut!((*seg).pages[i]);
            ptr::addr_of_mut!((*pg).start).write(base.add(i * PAGE_SIZE));
            ptr::addr_of_mut!((*pg).thread_free).write(AtomicPtr::new(ptr::null_mut()));
            ptr::addr_of_mut!((*pg).full).write(AtomicU8::new(PAGE_NOT_FULL));
        }
        if node != usize::MAX {
            // Failure (no NUMA policy support) degrades to first-touch placement.
            os::bind_to_node(base, SEGMENT_SIZE, node);
        }
        if !map_set(seg as usize, true) {
            os::unmap(base, SEGMENT_SIZE);
            return ptr::null_mut();
        }
        let head = *(*heap).segments.get();
        ptr::addr_of_mut!((*seg).next).write(head);
        if !head.is_null() {
            (*head).prev = seg;
        }
        *(*heap).segments.get() = seg;
    }
    seg
}

/// Take a free page from one of `heap`'s segments (mapping a new segment if
/// all are full) and initialise it for `class`. Null if the OS is out of memory.
///
/// # Safety
/// The caller holds `heap.lock`; `heap` is live.
pub(crate) unsafe fn page_acquire(heap: *mut Heap, class: usize, shared: bool) -> *mut Page {
    // SAFETY: under the heap lock we own every segment in the list and the
    // `in_use`/`used_pages` fields of their pages.
    unsafe {
        let mut seg = *(*heap).segments.get();
        while !seg.is_null() && (*seg).used_pages >= PAGES_PER_SEGMENT - 1 {
            seg = (*seg).next;
        }
        if seg.is_null() {
            seg = segment_new(heap);
            if seg.is_null() {
                return ptr::null_mut();
            }
        }
        for i in 1..PAGES_PER_SEGMENT {
            let page = ptr::addr_of_mut!((*seg).pages[i]);
            if !(*page).in_use {
                (*seg).used_pages += 1;
                (*page).in_use = true;
                (*page).shared = shared;
                (*page).heap = heap;
                (*page).class = class as u8;
                (*page).block_size = CLASS_SIZE[class];
                (*page).bump = 0;
                (*page).free = ptr::null_mut();
                (*page).local_free = ptr::null_mut();
                (*page).local_free_count = 0;
                (*page).used = 0;
                (*page).next = ptr::null_mut();
                (*page).prev = ptr::null_mut();
                (*page)
                    .thread_free
                    .store(ptr::null_mut(), Ordering::Relaxed);
                (*page).full.store(PAGE_NOT_FULL, Ordering::Relaxed);
                return page;
            }
        }
    }
    // used_pages < PAGES_PER_SEGMENT - 1 guarantees a free page above.
    os::fatal("segment page table inconsistent at", 0)
}

/// Give an empty page back to its segment: its memory goes back to the OS
/// with `MADV_DONTNEED`, and the segment is unmapped if it became empty.
///
/// # Safety
/// The caller holds the page's heap lock; the page holds no live blocks and
/// is in no queue, and nothing else references it.
pub(crate) unsafe fn page_release(page: *mut Page) {
    // SAFETY: per the contract, the page and its segment are ours to change.
    unsafe {
        let seg = segment_of((*page).start.add(1));
        let heap = (*seg).heap;
        (*page).in_use = false;
        (*page).block_size = 0;
        (*page).free = ptr::null_mut();
        (*page).local_free = ptr::null_mut();
        os::reset((*page).start, PAGE_SIZE);
        (*seg).used_pages -= 1;
        if (*seg).used_pages == 0 {
            let (prev, next) = ((*seg).prev, (*seg).next);
            if prev.is_null() {
                *(*heap).segments.get() = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            map_set(seg as usize, false);
            os::unmap((*seg).map_base, (*seg).map_len);
        }
    }
}

/// Allocate a large object (or any object whose alignment no size class
/// satisfies) in its own mapping, optionally bound to `node`.
///
/// Layout: the mapping starts at a multiple of `max(SEGMENT_SIZE, align)`;
/// the object starts `max(LARGE_HEADER, align)` bytes in; the header sits at
/// the 4 MiB boundary just below the object, which is what `segment_of`
/// computes.
pub(crate) fn large_alloc(size: usize, align: usize, node: Option<usize>) -> *mut u8 {
    let align = align.max(MIN_ALIGN);
    let offset = LARGE_HEADER.max(align);
    let map_align = SEGMENT_SIZE.max(align);
    let Some(total) = offset
        .checked_add(size)
        .and_then(|t| t.checked_add(os::OS_PAGE - 1))
        .map(|t| t & !(os::OS_PAGE - 1))
    else {
        return ptr::null_mut();
    };
    if total > isize::MAX as usize / 2 {
        return ptr::null_mut();
    }
    let base = os::map_aligned(total, map_align);
    if base.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: offset < total, so obj and the header (which lies in
    // [base, obj)) are inside the fresh mapping.
    unsafe {
        let obj = base.add(offset);
        let seg = segment_of(obj);
        ptr::addr_of_mut!((*seg).kind).write(SegmentKind::Large);
        ptr::addr_of_mut!((*seg).node).write(node.unwrap_or(usize::MAX));
        ptr::addr_of_mut!((*seg).map_base).write(base);
        ptr::addr_of_mut!((*seg).map_len).write(total);
        ptr::addr_of_mut!((*seg).large_usable).write(total - offset);
        ptr::addr_of_mut!((*seg).large_obj).write(obj);
        ptr::addr_of_mut!((*seg).heap).write(ptr::null_mut());
        if let Some(n) = node {
            os::bind_to_node(base, total, n);
        }
        if !map_set(seg as usize, true) {
            os::unmap(base, total);
            return ptr::null_mut();
        }
        obj
    }
}

/// Free a large object.
///
/// # Safety
/// `seg` is a live large segment (checked by the caller via the map) and
/// `p` is the pointer to free.
pub(crate) unsafe fn large_free(seg: *mut Segment, p: *mut u8) {
    // SAFETY: seg is live per the contract; after the map bit is cleared
    // nothing can find it any more, so unmapping is safe.
    unsafe {
        if (*seg).large_obj != p {
            os::fatal("free of an interior pointer", p as usize);
        }
        let (base, len) = ((*seg).map_base, (*seg).map_len);
        map_set(seg as usize, false);
        os::unmap(base, len);
    }
}
