//! Segment layer: 4 MiB aligned chunks from the OS, the global segment map,
//! page acquisition/release inside small segments, and large objects.
//!
//! Concurrency contract: the segment map is a global array of atomic bytes
//! (any thread). Everything that changes a small segment (its page table, its
//! `used_pages`, its membership in a heap's list) runs under the owning
//! heap's `lock`. Large objects belong to no heap: any thread may free them.
//!
//! OS return policy: a page that becomes empty and is released stays
//! resident for `PURGE_DELAY_MS`, then gets `madvise(MADV_DONTNEED)` (its
//! address range stays in the segment); a segment whose last page is
//! released stays with its heap while it has resident pages (they serve
//! the heap's next pages of any class of the kind) and leaves once they
//! are purged; such a segment, and a freed large object, is kept in a
//! *region cache* of
//! 4 MiB-aligned 4 MiB mappings (at most `CACHE_SLOTS`; resident up to
//! `CACHE_DIRTY_MAX` bytes in all, decommitted beyond) for the next
//! segment or large object; when the cache is full it is `munmap`ed.

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use crate::os;
use crate::types::*;

/// Address bits covered by the segment map (x86-64/AArch64 user space with
/// 4-level page tables). Segments above this are refused.
const ADDRESS_BITS: u32 = 47;
/// log2 of `SEGMENT_SIZE`.
const SEGMENT_SHIFT: u32 = SEGMENT_SIZE.trailing_zeros();
/// Entries of the segment map: one per 4 MiB of address space.
const MAP_LEN: usize = 1 << (ADDRESS_BITS - SEGMENT_SHIFT);

/// Segment map entry of a chunk that holds no segment header of ours.
pub(crate) const MAP_NONE: u8 = 0;
/// Segment map entry of a large object's segment whose object starts one
/// OS page in; `MAP_LARGE + c` (up to `MAP_PAGED - 1`) for one that starts
/// `1 + c` pages in (its *page colour*, see `large_alloc`).
pub(crate) const MAP_LARGE: u8 = 1;
/// Entries from this one up are page shifts of small and medium segments.
pub(crate) const MAP_PAGED: u8 = 16;

/// One byte per 4 MiB chunk of address space: `MAP_NONE`, a large
/// object's `MAP_LARGE + colour`, or for a small or medium segment its
/// page shift (`PAGE_SHIFT`, `MEDIUM_PAGE_SHIFT`), so that `free` learns
/// "ours", "paged" and the page index from this one load. 32 MiB of
/// `.bss`: untouched bytes cost no memory (a process with a few GiB of
/// heap touches a few OS pages of it).
static SEGMENT_MAP: [AtomicU8; MAP_LEN] = [const { AtomicU8::new(MAP_NONE) }; MAP_LEN];

// Paged entries are the page shifts and must not collide with the others.
const _: () = assert!(PAGE_SHIFT as u8 >= MAP_PAGED && MEDIUM_PAGE_SHIFT as u8 >= MAP_PAGED);

/// Header bytes reserved in front of a large object (keeps it page aligned).
const LARGE_HEADER: usize = os::OS_PAGE;

/// Set the map entry of the segment header at `seg` (4 MiB aligned); false
/// if `seg` lies beyond the address range the map covers.
fn map_set(seg: usize, entry: u8) -> bool {
    let chunk = seg >> SEGMENT_SHIFT;
    if chunk >= MAP_LEN {
        return false;
    }
    SEGMENT_MAP[chunk].store(entry, Ordering::Release);
    true
}

/// The map entry of the segment that would contain the object at `p`:
/// `MAP_NONE` if that is not one of ours (or `p` is null), `MAP_LARGE`,
/// or the page shift of a small or medium segment.
///
/// Cost: a subtraction, a shift, a compare and a byte load.
#[inline(always)]
pub(crate) fn map_entry(p: *const u8) -> u8 {
    let chunk = (p as usize).wrapping_sub(1) >> SEGMENT_SHIFT;
    if chunk >= MAP_LEN {
        return MAP_NONE;
    }
    SEGMENT_MAP[chunk].load(Ordering::Acquire)
}

/// Whether `seg` is the header address of one of our live segments.
///
/// Cost: one shift, one load, one test.
#[cfg(test)]
pub(crate) fn is_segment(seg: *mut Segment) -> bool {
    let chunk = seg as usize >> SEGMENT_SHIFT;
    chunk < MAP_LEN && SEGMENT_MAP[chunk].load(Ordering::Acquire) != MAP_NONE
}

/// Header of the segment that would contain the object at `p` (non-null).
/// Objects always start strictly after their header and at most
/// `SEGMENT_SIZE` bytes after it, hence `p - 1`.
#[inline(always)]
pub(crate) fn segment_of(p: *const u8) -> *mut Segment {
    ((p as usize - 1) & !(SEGMENT_SIZE - 1)) as *mut Segment
}

/// Header of the large object at `p` (non-null) whose segment map entry
/// is `entry` (`MAP_LARGE + c`): in the OS page below the object, which
/// starts `1 + c` pages into its 4 MiB chunk, at one of 32 offsets 128
/// bytes apart chosen by the chunk's address. The colours spread what
/// `realloc` and `free` touch of many large objects over cache sets and
/// TLB sets: at the chunk's start, every header (and every object's first
/// page) would be 4 MiB from the next, in the same sets, evicting each
/// other when a program works on many large objects in turn.
#[inline(always)]
pub(crate) fn large_header(p: *const u8, entry: u8) -> *mut Segment {
    let chunk = segment_of(p) as usize;
    let page = (entry - MAP_LARGE) as usize * os::OS_PAGE;
    (chunk + page + ((chunk >> SEGMENT_SHIFT) & 31) * 128) as *mut Segment
}

// The header's last line colour ends inside its OS page.
const _: () = assert!(31 * 128 + 128 <= os::OS_PAGE);

/// Resident released pages that `page_acquire` compares at most.
const DIRTY_CANDIDATES: usize = 64;

/// Number of 4 MiB regions kept for reuse.
const CACHE_SLOTS: usize = 256;
/// Bytes of cached regions that may stay resident (not decommitted), so
/// that a large object freed and allocated again costs no page faults.
const CACHE_DIRTY_MAX: usize = 32 << 20;

/// Freed 4 MiB-aligned, 4 MiB-long regions, ready to reuse. Each slot is
/// `(base, dirty)`: the first `dirty` bytes may hold old data (still
/// resident), the rest is zero and decommitted.
struct RegionCache {
    lock: SpinLock,
    len: core::cell::UnsafeCell<usize>,
    dirty_total: core::cell::UnsafeCell<usize>,
    slots: core::cell::UnsafeCell<[(usize, usize); CACHE_SLOTS]>,
}

// SAFETY: the cells are only accessed under `lock`.
unsafe impl Sync for RegionCache {}

static CACHE: RegionCache = RegionCache {
    lock: SpinLock::new(),
    len: core::cell::UnsafeCell::new(0),
    dirty_total: core::cell::UnsafeCell::new(0),
    slots: core::cell::UnsafeCell::new([(0, 0); CACHE_SLOTS]),
};

/// The region cache's lock (for the `fork` handlers in `heap.rs`).
pub(crate) fn cache_lock() -> &'static SpinLock {
    &CACHE.lock
}

/// A 4 MiB region aligned to 4 MiB and the number of leading bytes that
/// may be non-zero (0 for a fresh mapping): from the cache, else from the
/// OS. With `clean`, the region is returned all zero (decommitted if it
/// was dirty). `None` if out of memory.
fn region_get(clean: bool) -> Option<(*mut u8, usize)> {
    let cached = {
        let _g = CACHE.lock.lock();
        // SAFETY: guarded by the cache lock.
        unsafe {
            let len = &mut *CACHE.len.get();
            let slots = &mut *CACHE.slots.get();
            if *len > 0 {
                // Prefer a clean slot for `clean`, a dirty one otherwise.
                let pick = (0..*len)
                    .rev()
                    .find(|&i| (slots[i].1 == 0) == clean)
                    .unwrap_or(*len - 1);
                let r = slots[pick];
                slots[pick] = slots[*len - 1];
                *len -= 1;
                *CACHE.dirty_total.get() -= r.1;
                Some(r)
            } else {
                None
            }
        }
    };
    match cached {
        Some((base, dirty)) => {
            if clean && dirty > 0 {
                // SAFETY: the region is ours now and holds nothing live.
                unsafe { os::reset(base as *mut u8, dirty) };
                return Some((base as *mut u8, 0));
            }
            Some((base as *mut u8, dirty))
        }
        None => {
            let p = os::map_aligned(SEGMENT_SIZE, SEGMENT_SIZE);
            (!p.is_null()).then_some((p, 0))
        }
    }
}

/// Give back a 4 MiB region whose first `touched` bytes may be non-zero:
/// cache it (resident while the cache's dirty budget allows, decommitted
/// otherwise), or unmap it when the cache is full.
///
/// # Safety
/// `base` came from `region_get` and nothing references it any more.
unsafe fn region_put(base: *mut u8, touched: usize) {
    // SAFETY: per the contract the region is ours.
    unsafe {
        {
            let _g = CACHE.lock.lock();
            let len = &mut *CACHE.len.get();
            let dirty_total = &mut *CACHE.dirty_total.get();
            if *len < CACHE_SLOTS && *dirty_total + touched <= CACHE_DIRTY_MAX {
                (*CACHE.slots.get())[*len] = (base as usize, touched);
                *len += 1;
                *dirty_total += touched;
                return;
            }
        }
        // Decommit before publishing: once cached, another thread may reuse it.
        os::reset(base, touched);
        {
            let _g = CACHE.lock.lock();
            let len = &mut *CACHE.len.get();
            if *len < CACHE_SLOTS {
                (*CACHE.slots.get())[*len] = (base as usize, 0);
                *len += 1;
                return;
            }
        }
        os::unmap(base, SEGMENT_SIZE);
    }
}

/// Indices of the page descriptors a segment of `kind` uses.
#[inline]
pub(crate) fn page_range(kind: SegmentKind) -> core::ops::Range<usize> {
    match kind {
        SegmentKind::Small => 1..PAGES_PER_SEGMENT,
        SegmentKind::Medium => 0..SEGMENT_SIZE / MEDIUM_PAGE_SIZE,
        SegmentKind::Large => 0..0,
    }
}

/// Whether `class` is served from medium segments.
#[inline]
pub(crate) fn is_medium_class(class: usize) -> bool {
    class >= FIRST_MEDIUM_CLASS
}

/// Map and initialise a new small or medium segment for `heap`, link it
/// into the heap's list and the segment map.
///
/// # Safety
/// The caller holds `heap.lock`; `heap` is live.
unsafe fn segment_new(heap: *mut Heap, kind: SegmentKind) -> *mut Segment {
    // A region that is still resident (a segment or large object freed
    // shortly before) is reused as it is: its pages start out *dirty*
    // (resident, reusable by any class without page faults, purged later
    // like any released page). Node heaps (whose memory must be bound
    // before it is touched) and the consumer pool (which promises
    // untouched memory) take clean regions.
    // SAFETY: `heap` is live.
    let clean = unsafe { (*heap).node != usize::MAX || (*heap).untouched };
    let Some((base, dirty)) = region_get(clean) else {
        return ptr::null_mut();
    };
    let seg = base as *mut Segment;
    // SAFETY: the mapping is aligned and large enough for the header
    // (checked by a unit test), zeroed below where it was dirty; all-zero
    // bytes are a valid value for every `Page` field, and we write the
    // non-page fields explicitly.
    unsafe {
        if dirty > 0 {
            // (Not `write_bytes`, a `memset` call: see `os::zero`.)
            os::zero(base, core::mem::size_of::<Segment>());
        }
        let now = if dirty > 0 { os::now_ms() } else { 0 };
        let node = (*heap).node;
        ptr::addr_of_mut!((*seg).kind).write(kind);
        let shift = if kind == SegmentKind::Medium {
            MEDIUM_PAGE_SHIFT
        } else {
            PAGE_SHIFT
        };
        ptr::addr_of_mut!((*seg).page_shift).write(shift);
        ptr::addr_of_mut!((*seg).node).write(node);
        ptr::addr_of_mut!((*seg).map_base).write(base);
        ptr::addr_of_mut!((*seg).map_len).write(SEGMENT_SIZE);
        ptr::addr_of_mut!((*seg).large_usable).write(0);
        ptr::addr_of_mut!((*seg).large_capacity).write(0);
        ptr::addr_of_mut!((*seg).large_obj).write(ptr::null_mut());
        ptr::addr_of_mut!((*seg).heap).write(heap);
        ptr::addr_of_mut!((*seg).used_pages).write(0);
        ptr::addr_of_mut!((*seg).prev).write(ptr::null_mut());
        // No descriptor (not even the header's, or those a medium segment
        // does not use) may look like a local owner's page to `free`.
        for i in 0..=PAGES_PER_SEGMENT {
            ptr::addr_of_mut!((*seg).pages[i].local_owner).write(NOT_LOCAL);
        }
        for i in page_range(kind) {
            let pg = ptr::addr_of_mut!((*seg).pages[i]);
            // Page 0 of a medium segment starts after the header.
            let (start, cap) = if i == 0 {
                (base.add(PAGE_SIZE), MEDIUM_PAGE_SIZE - PAGE_SIZE)
            } else {
                (base.add(i << shift), 1 << shift)
            };
            ptr::addr_of_mut!((*pg).start).write(start);
            ptr::addr_of_mut!((*pg).capacity).write(cap);
            // The part of the page that the region's last use may have
            // touched (page memory past `dirty` is zero and not resident).
            let resident = (base as usize + dirty)
                .saturating_sub(start as usize)
                .min(cap);
            if resident > 0 {
                ptr::addr_of_mut!((*pg).dirty).write(resident.next_multiple_of(os::OS_PAGE) as u32);
                ptr::addr_of_mut!((*pg).freed_at).write(now as u32);
                (*heap).dirty_pages.fetch_add(1, Ordering::Relaxed);
            }
            ptr::addr_of_mut!((*pg).thread_free).write(AtomicPtr::new(ptr::null_mut()));
            ptr::addr_of_mut!((*pg).full).write(AtomicU8::new(PAGE_NOT_FULL));
        }
        if node != usize::MAX {
            // Failure (no NUMA policy support) degrades to first-touch placement.
            os::bind_to_node(base, SEGMENT_SIZE, node);
        }
        if !map_set(seg as usize, shift as u8) {
            region_put(base, SEGMENT_SIZE);
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
        let kind = if is_medium_class(class) {
            SegmentKind::Medium
        } else {
            SegmentKind::Small
        };
        let pages = page_range(kind);
        // Prefer a released page whose memory is still resident, in any
        // segment of the kind: reusing it (for any class) costs no page
        // faults. Otherwise the first free page of the first segment with
        // one; otherwise a new segment.
        let want_dirty = (*heap).dirty_pages.load(Ordering::Relaxed) > 0 && !(*heap).untouched;
        let (mut seg, mut pick) = (ptr::null_mut::<Segment>(), None);
        // Among resident pages, a class that fills its page takes one that
        // a class like it used last, the one with the most resident
        // memory; a page object one that a page object used last (it kept
        // only the part that object grew into resident; its `dirty` says
        // the whole block), else the one with the least. Otherwise a page
        // object on a fully written page keeps all of it resident while a
        // multi-block class writes pages in full that a page object left
        // partly untouched, and the heap's resident set grows to every
        // page written in full once. (At most `DIRTY_CANDIDATES` resident
        // pages are compared.)
        let object = class == PAGE_OBJECT_CLASS;
        let (mut best, mut best_key, mut seen) = (false, 0u64, 0);
        let mut s = *(*heap).segments.get();
        'search: while !s.is_null() {
            if (*s).kind == kind && (*s).used_pages < pages.len() {
                for i in pages.clone() {
                    let page = ptr::addr_of_mut!((*s).pages[i]);
                    if !(*page).in_use {
                        let d = (*page).dirty;
                        if want_dirty && d > 0 {
                            let alike = ((*page).class as usize == PAGE_OBJECT_CLASS) == object;
                            let size_key = if object { u32::MAX - d } else { d };
                            let key = (u64::from(alike) << 32) | u64::from(size_key);
                            if !best || key > best_key {
                                (best, best_key, seg, pick) = (true, key, s, Some(i));
                            }
                            seen += 1;
                            if (alike && (object || d as usize >= (*page).capacity))
                                || seen >= DIRTY_CANDIDATES
                            {
                                break 'search;
                            }
                            continue;
                        }
                        if best {
                            continue;
                        }
                        if pick.is_none() {
                            (seg, pick) = (s, Some(i));
                        }
                        if !want_dirty {
                            break 'search;
                        }
                    }
                }
            }
            s = (*s).next;
        }
        if seg.is_null() {
            seg = segment_new(heap, kind);
            if seg.is_null() {
                return ptr::null_mut();
            }
        }
        for i in pick.into_iter().chain(pages) {
            let page = ptr::addr_of_mut!((*seg).pages[i]);
            if !(*page).in_use {
                (*seg).used_pages += 1;
                (*page).in_use = true;
                (*page).shared = shared;
                (*page).heap = heap;
                (*page).local_owner = heap;
                (*page).class = class as u8;
                (*page).block_size = CLASS_SIZE[class];
                (*page).block_magic = block_magic(CLASS_SIZE[class]);
                (*page).bump = 0;
                (*page).free = ptr::null_mut();
                (*page).local_free = ptr::null_mut();
                // (A shared page's first free records the tail of its
                // owner's `local_free`, see `page::free_slow`.)
                (*page).used = if shared { 1 } else { 0 };
                (*page).next = ptr::null_mut();
                (*page).prev = ptr::null_mut();
                (*page).delayed_next = ptr::null_mut();
                (*page)
                    .thread_free
                    .store(ptr::null_mut(), Ordering::Relaxed);
                (*page).full.store(PAGE_NOT_FULL, Ordering::Relaxed);
                (*page).claimed = ptr::null_mut();
                if (*page).dirty > 0 {
                    (*heap).dirty_pages.fetch_sub(1, Ordering::Relaxed);
                    if (*heap).untouched {
                        // The consumer pool promises untouched memory.
                        os::reset((*page).start, (*page).dirty as usize);
                        (*page).dirty = 0;
                    }
                }
                return page;
            }
        }
    }
    // used_pages < pages.len() guarantees a free page above.
    os::fatal("segment page table inconsistent at", 0)
}

/// Give an empty page back to its segment. Its memory stays resident
/// (*dirty*) for `PURGE_DELAY_MS`, reusable by the next page of any class;
/// `maybe_purge` then returns it with `MADV_DONTNEED`. A segment whose last
/// page is released goes to the region cache when none of its pages is
/// resident (else `maybe_purge` sends it once they are purged).
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
        (*page).local_owner = NOT_LOCAL;
        (*page).block_size = 0;
        (*page).free = ptr::null_mut();
        (*page).local_free = ptr::null_mut();
        // Only the carved part was touched (by this use or an earlier one).
        // (`dirty` may still hold what was resident when the page was
        // taken; `page_acquire` uncounted it then, so a released page
        // with resident memory is counted here, whatever it held before:
        // counting only pages that were clean when taken let purges of
        // the others drive the count below zero.)
        (*page).dirty =
            ((*page).dirty as usize).max((*page).bump.next_multiple_of(os::OS_PAGE)) as u32;
        (*page).freed_at = os::now_ms() as u32;
        if (*page).dirty > 0 {
            (*heap).dirty_pages.fetch_add(1, Ordering::Relaxed);
        }
        (*seg).used_pages -= 1;
        // A segment whose last page goes keeps its resident pages for the
        // heap's next pages (of any class of the kind: a program whose
        // objects move between size classes reuses them without page
        // faults) until they are purged; `maybe_purge` then gives it to
        // the region cache. Without resident pages it goes now.
        if (*seg).used_pages == 0 && !has_dirty_pages(seg) {
            segment_release(heap, seg);
        }
    }
}

/// Whether a page of `seg` is released with resident memory.
///
/// # Safety
/// The caller holds the lock of `seg`'s heap.
unsafe fn has_dirty_pages(seg: *mut Segment) -> bool {
    // SAFETY: per the contract.
    unsafe { page_range((*seg).kind).any(|i| (*seg).pages[i].dirty > 0) }
}

/// Unlink the small or medium segment `seg`, none of whose pages is in
/// use, from `heap` and give its region to the cache.
///
/// # Safety
/// The caller holds `heap.lock`; `seg` is one of `heap`'s segments and
/// holds no live block.
unsafe fn segment_release(heap: *mut Heap, seg: *mut Segment) {
    // SAFETY: per the contract.
    unsafe {
        // Uncount its dirty pages and give the cache the extent that may
        // be resident.
        let mut touched = PAGE_SIZE; // the header
        for i in page_range((*seg).kind) {
            let pg = ptr::addr_of_mut!((*seg).pages[i]);
            if (*pg).dirty > 0 {
                (*heap).dirty_pages.fetch_sub(1, Ordering::Relaxed);
                touched = touched.max((*pg).start as usize + (*pg).dirty as usize - seg as usize);
            }
        }
        let (prev, next) = ((*seg).prev, (*seg).next);
        if prev.is_null() {
            *(*heap).segments.get() = next;
        } else {
            (*prev).next = next;
        }
        if !next.is_null() {
            (*next).prev = prev;
        }
        map_set(seg as usize, MAP_NONE);
        region_put((*seg).map_base, touched);
    }
}

/// Return the memory of `heap`'s released pages that have stayed unused
/// for `PURGE_DELAY_MS` to the OS (`MADV_DONTNEED`), and segments left
/// with no page in use and none resident to the region cache. Cheap when there is
/// nothing to do (one relaxed load), or a clock read (vDSO) when it is too
/// early; otherwise, at most once per half delay, a walk of the heap's
/// segments under its lock.
///
/// # Safety
/// `heap` is live; the caller does not hold its lock.
pub(crate) unsafe fn maybe_purge(heap: *mut Heap) {
    // SAFETY: segments and released pages are guarded by the heap lock.
    unsafe {
        if (*heap).dirty_pages.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = os::now_ms();
        if now < (*heap).next_purge.load(Ordering::Relaxed) {
            return;
        }
        let _g = (*heap).lock.lock();
        if now < (*heap).next_purge.load(Ordering::Relaxed) {
            return;
        }
        (*heap)
            .next_purge
            .store(now + PURGE_DELAY_MS / 2, Ordering::Relaxed);
        let mut seg = *(*heap).segments.get();
        while !seg.is_null() {
            for i in page_range((*seg).kind) {
                let page = ptr::addr_of_mut!((*seg).pages[i]);
                if !(*page).in_use
                    && (*page).dirty > 0
                    && u64::from((now as u32).wrapping_sub((*page).freed_at)) >= PURGE_DELAY_MS
                {
                    os::reset((*page).start, (*page).dirty as usize);
                    (*page).dirty = 0;
                    (*heap).dirty_pages.fetch_sub(1, Ordering::Relaxed);
                }
            }
            let next = (*seg).next;
            if (*seg).used_pages == 0 && !has_dirty_pages(seg) {
                segment_release(heap, seg);
            }
            seg = next;
        }
    }
}

/// Allocate a large object (or any object whose alignment no size class
/// satisfies) in its own mapping, optionally bound to `node`.
///
/// Layout: the mapping starts at a multiple of `max(SEGMENT_SIZE, align)`
/// and its length is a multiple of `SEGMENT_SIZE`; the object starts
/// `max(LARGE_HEADER, align)` bytes in; the header sits at the 4 MiB
/// boundary just below the object, which is what `segment_of` computes.
/// The address space after the object up to the end of the mapping is its
/// *capacity*: `realloc` grows into it in place (it is never touched before
/// that, so it costs no memory). Unbound objects that fit one 4 MiB region
/// reuse cached regions (no system call).
/// With `zero`, the object's bytes are zero (only a reused region's dirty
/// part is cleared; fresh memory is zero already). With `fresh`, the
/// mapping is new, never touched by anyone (for the `consumer` policy).
pub(crate) fn large_alloc(
    size: usize,
    align: usize,
    node: Option<usize>,
    zero: bool,
    fresh: bool,
) -> *mut u8 {
    let align = align.max(MIN_ALIGN);
    let offset = LARGE_HEADER.max(align);
    let map_align = SEGMENT_SIZE.max(align);
    let Some((total, map_len)) = offset
        .checked_add(size)
        .and_then(|t| t.checked_add(SEGMENT_SIZE - 1))
        .map(|t| {
            let total = (offset + size).next_multiple_of(os::OS_PAGE);
            (total, t & !(SEGMENT_SIZE - 1))
        })
    else {
        return ptr::null_mut();
    };
    if map_len > isize::MAX as usize / 2 {
        return ptr::null_mut();
    }
    let cached = !fresh && node.is_none() && map_len == SEGMENT_SIZE && map_align == SEGMENT_SIZE;
    let (base, dirty) = if cached {
        match region_get(false) {
            Some(r) => r,
            None => return ptr::null_mut(),
        }
    } else {
        (os::map_aligned(map_len, map_align), 0)
    };
    if base.is_null() {
        return ptr::null_mut();
    }
    // The page colour (see `large_header`): the object starts `1 + colour`
    // pages into its region when it still fits, else one page in.
    let (offset, total, colour) = {
        let colour = (base as usize >> SEGMENT_SHIFT) & (MAP_PAGED - MAP_LARGE - 1) as usize;
        let coloured = (LARGE_HEADER + colour * os::OS_PAGE).next_multiple_of(align);
        let total_c = (coloured + size).next_multiple_of(os::OS_PAGE);
        if map_align == SEGMENT_SIZE && total_c <= map_len {
            (coloured, total_c, colour)
        } else {
            (offset, total, 0)
        }
    };
    // SAFETY: offset < total <= map_len, so obj and the header (which lies
    // in the OS page below obj, see `large_header`, and at or above base)
    // are inside the mapping. (With an alignment of 4 MiB or more, obj's
    // chunk starts 4 MiB below obj, and colour 0 puts the header at its
    // start.)
    unsafe {
        let obj = base.add(offset);
        if dirty > total {
            // A reused region's old use may reach past this object (a
            // released segment is dirty up to 4 MiB): return that part
            // now. Left resident, it would stay so while the object lives,
            // and `large_free` (which gives the cache the object's extent)
            // would hand it on as clean, i.e. zero, which it is not.
            os::reset(base.add(total), dirty - total);
        }
        if zero && dirty > offset {
            ptr::write_bytes(obj, 0, (dirty - offset).min(size));
        }
        let entry = MAP_LARGE + colour as u8;
        let seg = large_header(obj, entry);
        ptr::addr_of_mut!((*seg).kind).write(SegmentKind::Large);
        ptr::addr_of_mut!((*seg).page_shift).write(PAGE_SHIFT);
        ptr::addr_of_mut!((*seg).node).write(node.unwrap_or(usize::MAX));
        ptr::addr_of_mut!((*seg).map_base).write(base);
        ptr::addr_of_mut!((*seg).map_len).write(map_len);
        ptr::addr_of_mut!((*seg).large_usable).write(total - offset);
        ptr::addr_of_mut!((*seg).large_capacity).write(map_len - offset);
        ptr::addr_of_mut!((*seg).large_obj).write(obj);
        ptr::addr_of_mut!((*seg).heap).write(ptr::null_mut());
        if let Some(n) = node {
            os::bind_to_node(base, map_len, n);
        }
        if !map_set(seg as usize, entry) {
            os::unmap(base, map_len);
            return ptr::null_mut();
        }
        obj
    }
}

/// Resize the large object `p` in place to `new_size` bytes if its
/// capacity allows (shrinking decommits the pages past the new end).
/// Returns false (and changes nothing) if it does not fit.
///
/// # Safety
/// `seg` is the live large segment of `p` and `p` is its object.
pub(crate) unsafe fn large_resize(seg: *mut Segment, p: *mut u8, new_size: usize) -> bool {
    // SAFETY: the object and its header are ours (the caller owns `p`).
    unsafe {
        if new_size > (*seg).large_capacity {
            return false;
        }
        let offset = p as usize - (*seg).map_base as usize;
        let usable = (offset + new_size).next_multiple_of(os::OS_PAGE) - offset;
        let old = (*seg).large_usable;
        if usable < old {
            os::reset(p.add(usable), old - usable);
        }
        (*seg).large_usable = usable;
        true
    }
}

/// Free a large object.
///
/// # Safety
/// `seg` is a live large segment (checked by the caller via the map) and
/// `p` is the pointer to free.
pub(crate) unsafe fn large_free(seg: *mut Segment, p: *mut u8) {
    // SAFETY: seg is live per the contract; after the map bit is cleared
    // nothing can find it any more, so unmapping (or caching) is safe.
    unsafe {
        if (*seg).large_obj != p {
            os::fatal("free of an interior pointer", p as usize);
        }
        let (base, len) = ((*seg).map_base, (*seg).map_len);
        let touched = p as usize - base as usize + (*seg).large_usable;
        let cached =
            (*seg).node == usize::MAX && len == SEGMENT_SIZE && base == segment_of(p) as *mut u8;
        map_set(seg as usize, MAP_NONE);
        if cached {
            region_put(base, touched);
        } else {
            os::unmap(base, len);
        }
    }
}
