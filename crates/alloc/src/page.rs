//! Page layer and the generic (slow) allocation path.
//!
//! Concurrency contract: a page of a thread heap is changed only by its
//! owner, except `thread_free` (any thread, CAS push / owner swap) and
//! `full` (see below). Shared pages (used by `alloc_for` from other threads
//! and by node heaps): `claimed` changes under the heap lock; the
//! allocation side (`free`, `bump`, `used`) belongs to the claiming thread
//! while the page is claimed (its free list is then in the claiming
//! thread's `Claim`, the page's `free` stays empty) and to the lock holder
//! while it is not;
//! `local_free` belongs to the heap's owner, who hands it over through
//! `thread_free`. The consumer pool's pages are never claimed: all their
//! allocation is under the pool's lock.
//!
//! The *full* protocol lets remote frees revive a page the owner has stopped
//! looking at, without a scan: when the owner finds a page with no free block
//! it removes it from its queue and sets `full = FULL` (SeqCst), then re-reads
//! `thread_free`. A remote free pushes to `thread_free` (SeqCst) then reads
//! `full`; if it sees `FULL` it CASes it to `DELAYED` and pushes the page on
//! `Heap::delayed`. By SeqCst at least one side sees the other, so the page
//! is never lost. The owner drains `delayed` at the start of its slow path.

use core::ptr;
use core::sync::atomic::Ordering;

use crate::segment;
use crate::types::*;

/// Push `page` at the front of `q`.
///
/// # Safety
/// The caller owns `q` and `page` (owner or lock) and `page` is in no queue.
pub(crate) unsafe fn queue_push_front(q: *mut PageQueue, page: *mut Page) {
    // SAFETY: per the contract.
    unsafe {
        (*page).prev = ptr::null_mut();
        (*page).next = (*q).first;
        if (*q).first.is_null() {
            (*q).last = page;
        } else {
            (*(*q).first).prev = page;
        }
        (*q).first = page;
    }
}

/// Push `page` at the back of `q`.
///
/// # Safety
/// The caller owns `q` and `page` (owner or lock) and `page` is in no queue.
pub(crate) unsafe fn queue_push_back(q: *mut PageQueue, page: *mut Page) {
    // SAFETY: per the contract.
    unsafe {
        (*page).next = ptr::null_mut();
        (*page).prev = (*q).last;
        if (*q).last.is_null() {
            (*q).first = page;
        } else {
            (*(*q).last).next = page;
        }
        (*q).last = page;
    }
}

/// Remove `page` from `q`.
///
/// # Safety
/// The caller owns `q`, and `page` is in `q`.
pub(crate) unsafe fn queue_remove(q: *mut PageQueue, page: *mut Page) {
    // SAFETY: per the contract.
    unsafe {
        let (prev, next) = ((*page).prev, (*page).next);
        if prev.is_null() {
            (*q).first = next;
        } else {
            (*prev).next = next;
        }
        if next.is_null() {
            (*q).last = prev;
        } else {
            (*next).prev = prev;
        }
        (*page).prev = ptr::null_mut();
        (*page).next = ptr::null_mut();
    }
}

/// Bytes carved per `page_extend` for each class: as many whole blocks as
/// fit in 4 KiB, at least one.
const EXTEND_BYTES: [usize; NUM_CLASSES] = {
    let mut t = [0usize; NUM_CLASSES];
    let mut c = 0;
    while c < NUM_CLASSES {
        let bs = CLASS_SIZE[c];
        let n = if 4096 / bs == 0 { 1 } else { 4096 / bs };
        t[c] = n * bs;
        c += 1;
    }
    t
};

/// Carve up to 4 KiB worth of never-used blocks (at least one) from the
/// page's bump area into its free list. Carving lazily keeps untouched
/// memory out of the resident set.
///
/// Cost: no division (the span comes from a table); one store per block.
///
/// # Safety
/// The caller owns the page's allocation side (owner or lock).
pub(crate) unsafe fn page_extend(page: *mut Page) {
    // SAFETY: per the contract.
    unsafe { (*page).free = carve(page, (*page).free) }
}

/// Carve up to 4 KiB worth of never-used blocks (at least one) from the
/// page's bump area into a list that continues with `rest`; returns its
/// head (`rest` if the page has no never-used block left).
///
/// # Safety
/// The caller owns the page's allocation side (owner, claim or lock).
unsafe fn carve(page: *mut Page, rest: *mut Block) -> *mut Block {
    // SAFETY: blocks are carved inside the page's range.
    unsafe {
        let bs = (*page).block_size;
        let bump = (*page).bump;
        if bump + bs > (*page).capacity {
            return rest;
        }
        // `end` is a whole number of blocks past `bump` (capacity may not be).
        let span = EXTEND_BYTES[(*page).class as usize];
        let end = if bump + span <= (*page).capacity {
            bump + span
        } else {
            let mut e = bump + bs;
            while e + bs <= (*page).capacity {
                e += bs;
            }
            e
        };
        let start = (*page).start;
        let mut off = bump;
        while off + bs < end {
            (*(start.add(off) as *mut Block)).next = start.add(off + bs) as *mut Block;
            off += bs;
        }
        (*(start.add(off) as *mut Block)).next = rest;
        (*page).bump = end;
        start.add(bump) as *mut Block
    }
}

/// Move blocks freed by other threads into `free`.
///
/// Cost: one swap; the count comes with the list (see `Page::thread_free`),
/// so the list is only walked (to its tail) when `free` is not empty. Not
/// walking it matters: its blocks were last written by other cores, and a
/// walk takes a cache miss per block in a row, where the allocations that
/// pop them one by one overlap those misses with other work.
///
/// # Safety
/// The caller owns the page's allocation side (owner or lock), and only
/// remote frees push to this page's `thread_free` (not a shared page of a
/// thread heap, whose owner hands over lists of uncounted blocks).
pub(crate) unsafe fn collect_thread_free(page: *mut Page) {
    // SAFETY: after the swap, the list is ours alone.
    unsafe {
        if (*page).thread_free.load(Ordering::Relaxed).is_null() {
            return;
        }
        let v = (*page).thread_free.swap(ptr::null_mut(), Ordering::Acquire);
        let list = tf_ptr(v);
        if !(*page).free.is_null() {
            let mut last = list;
            while !(*last).next.is_null() {
                last = (*last).next;
            }
            (*last).next = (*page).free;
        }
        (*page).free = list;
        (*page).used -= tf_count(v);
    }
}

/// Owner: give an empty `free` list blocks to allocate, if the page has
/// freed ones: the owner's own frees (`local_free`, a swap) first, else
/// other threads' (`thread_free`, a swap that also brings the count).
/// Nothing is walked: a page's lists are only merged when one of them is
/// empty, and blocks left on the others wait for the next time `free`
/// runs dry (their page's `used` stays higher until then).
///
/// # Safety
/// The calling thread owns the (non-shared) page.
pub(crate) unsafe fn page_collect(page: *mut Page) {
    // SAFETY: owner-only fields.
    unsafe {
        if !(*page).free.is_null() {
            return;
        }
        if !(*page).local_free.is_null() {
            (*page).free = (*page).local_free;
            (*page).local_free = ptr::null_mut();
            return;
        }
        collect_thread_free(page);
    }
}

/// Ask for the cache line of `b` (the next block a page will hand out)
/// in a writable state, without waiting for it: `prefetchw` on x86-64,
/// nothing elsewhere. A block freed by another thread was last written
/// there (its free-list link and free mark); popping blocks one after the
/// other follows their links, so without the prefetch every allocation
/// waits for the previous block's line to cross from that core. A
/// prefetch never faults (`b` may be null).
#[inline(always)]
pub(crate) fn prefetch_block(b: *mut Block) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing architecturally and never faults.
    unsafe {
        core::arch::asm!(
            "prefetchw byte ptr [{b}]",
            b = in(reg) b,
            options(nostack, readonly, preserves_flags)
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = b;
}

/// Pop a block from a page known to have one; clears the double-free mark.
///
/// # Safety
/// The caller owns the allocation side and `free` is non-null.
#[inline(always)]
pub(crate) unsafe fn page_pop(page: *mut Page) -> *mut u8 {
    // SAFETY: free is non-null per the contract; blocks are >= 16 bytes.
    unsafe {
        let b = (*page).free;
        (*page).free = (*b).next;
        (*page).used += 1;
        *(b as *mut usize).add(1) = 0;
        b as *mut u8
    }
}

/// Owner: re-queue full pages that received remote frees.
///
/// # Safety
/// The calling thread owns `heap`.
unsafe fn drain_delayed(heap: *mut Heap) {
    // SAFETY: after the swap the stack is ours; pushers wrote `delayed_next`
    // before their Release CAS.
    unsafe {
        if (*heap).delayed.load(Ordering::Relaxed).is_null() {
            return;
        }
        let mut page = (*heap).delayed.swap(ptr::null_mut(), Ordering::Acquire);
        while !page.is_null() {
            let next = (*page).delayed_next;
            (*page).full.store(PAGE_NOT_FULL, Ordering::SeqCst);
            (*page).local_owner = heap;
            let q = ptr::addr_of_mut!((*(*heap).queues.get())[(*page).class as usize]);
            // At the back: by the time the walk reaches it, more of its
            // blocks will have been freed.
            queue_push_back(q, page);
            page = next;
        }
    }
}

/// A page with no blocks that a heap's `direct` table points at for a
/// class it has no page of, so that the allocation fast path needs no
/// null test: its `free` and `local_free` stay null (no block of it can be
/// freed: it is in no segment).
#[repr(transparent)]
pub(crate) struct EmptyPage(core::cell::UnsafeCell<core::mem::MaybeUninit<Page>>);

// SAFETY: nothing ever writes to the empty page (see `malloc_refill`).
unsafe impl Sync for EmptyPage {}

pub(crate) static EMPTY_PAGE: EmptyPage = EmptyPage(core::cell::UnsafeCell::new(
    // All-zero bytes are a valid `Page` (null lists, no heap).
    core::mem::MaybeUninit::zeroed(),
));

/// The address of the empty page (see `EMPTY_PAGE`).
#[inline(always)]
pub(crate) fn empty_page() -> *mut Page {
    EMPTY_PAGE.0.get() as *mut Page
}

/// The allocation fast path found `page` (the direct page of `class`, or
/// the empty page) without a free block: take the owner's own frees over
/// (a swap, no walk), else run the generic path.
///
/// # Safety
/// The calling thread owns `heap`; `page` is its direct page of `class`.
#[inline(never)]
pub(crate) unsafe extern "C" fn malloc_refill(
    heap: *mut Heap,
    page: *mut Page,
    class: usize,
) -> *mut u8 {
    // SAFETY: owner-only fields; the empty page's `local_free` is null.
    unsafe {
        let lf = (*page).local_free;
        if !lf.is_null() {
            (*page).local_free = ptr::null_mut();
            (*page).free = (*lf).next;
            (*page).used += 1;
            *(lf as *mut usize).add(1) = 0;
            return lf as *mut u8;
        }
        malloc_generic(heap, class)
    }
}

/// Generic allocation path for `class` when the direct page has no free
/// block: drain delayed pages, walk the class queue collecting frees,
/// retire full pages, and finally take a fresh page from a segment.
///
/// # Safety
/// The calling thread owns `heap`.
#[cold]
#[inline(never)]
pub(crate) unsafe fn malloc_generic(heap: *mut Heap, class: usize) -> *mut u8 {
    // SAFETY: owner-only structures of `heap`; segment work under its lock.
    unsafe {
        // Look at the clock only every 64th slow path.
        let tick = (*heap).purge_tick.get();
        *tick = tick.read().wrapping_add(1);
        if *tick % 64 == 0 {
            segment::maybe_purge(heap);
        }
        // Usually the current page only needs its freed blocks collected.
        let direct = (*(*heap).direct.get())[class];
        if direct != empty_page() {
            page_collect(direct);
            if !(*direct).free.is_null() {
                return page_pop(direct);
            }
        }
        drain_delayed(heap);
        let q = ptr::addr_of_mut!((*(*heap).queues.get())[class]);
        let mut page = (*q).first;
        while !page.is_null() {
            let next = (*page).next;
            page_collect(page);
            if (*page).free.is_null() {
                page_extend(page);
            }
            if !(*page).free.is_null() {
                if (*q).first != page {
                    queue_remove(q, page);
                    queue_push_front(q, page);
                }
                (*(*heap).direct.get())[class] = page;
                return page_pop(page);
            }
            // Full: take it off the queue (see the module docs). The
            // owner's frees into it now take `free`'s out-of-line path,
            // which brings it back.
            queue_remove(q, page);
            (*page).local_owner = NOT_LOCAL;
            (*page).full.store(PAGE_FULL, Ordering::SeqCst);
            if !(*page).thread_free.load(Ordering::SeqCst).is_null()
                && (*page)
                    .full
                    .compare_exchange(PAGE_FULL, PAGE_NOT_FULL, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                (*page).local_owner = heap;
                queue_push_front(q, page);
                collect_thread_free(page);
                (*(*heap).direct.get())[class] = page;
                return page_pop(page);
            }
            page = next;
        }
        let page = {
            let _g = (*heap).lock.lock();
            release_retired(heap, class);
            segment::page_acquire(heap, class, false)
        };
        if page.is_null() {
            (*(*heap).direct.get())[class] = empty_page();
            return ptr::null_mut();
        }
        queue_push_front(q, page);
        page_extend(page);
        (*(*heap).direct.get())[class] = page;
        page_pop(page)
    }
}

/// Owner's slow free path, taken when a local free left the page empty or
/// the page was full: re-queue a full page, release an empty page that is
/// not the class's current page.
///
/// # Safety
/// The calling thread owns `heap` and the (non-shared) `page`.
#[cold]
#[inline(never)]
pub(crate) unsafe extern "C" fn free_slow(heap: *mut Heap, page: *mut Page) {
    // SAFETY: owner-only structures; page release under the heap lock.
    unsafe {
        if (*page).shared {
            let lf = (*page).local_free;
            if (*page).delayed_next.is_null() && !lf.is_null() && (*lf).next.is_null() {
                // The first block of a new `local_free` list: its tail,
                // for `flush_shared`'s splice. Then count a batch down.
                (*page).delayed_next = lf as *mut Page;
                (*page).used = SHARED_FLUSH_BATCH - 1;
                return;
            }
            // `used` counted the owner's frees down: hand them over.
            return flush_shared(page);
        }
        let class = (*page).class as usize;
        let q = ptr::addr_of_mut!((*(*heap).queues.get())[class]);
        let state = (*page).full.load(Ordering::SeqCst);
        if state == PAGE_DELAYED {
            return; // On `delayed`; the owner re-queues it later.
        }
        if state == PAGE_FULL {
            if (*page)
                .full
                .compare_exchange(PAGE_FULL, PAGE_NOT_FULL, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return; // A remote free just queued it on `delayed`.
            }
            (*page).local_owner = heap;
            // At the back, like in `drain_delayed`.
            queue_push_back(q, page);
        }
        if (*page).used == 0 {
            if (*(*heap).direct.get())[class] != page {
                queue_remove(q, page);
                // Blocks still sitting in thread_free would make used > 0, so
                // the page holds no live or pending block.
                let _g = (*heap).lock.lock();
                segment::page_release(page);
            } else {
                // Kept for the class's next allocations, released if the
                // heap needs a page for another class first.
                *(*heap).retired.get() |= 1 << class;
            }
        }
    }
}

/// Release the empty direct pages of the classes marked in
/// `heap.retired` (but `class`'s), so that the page `heap` is about to
/// take for `class` can be one of them instead of fresh memory.
///
/// Why: a class's direct page is not released when it becomes empty (a
/// program that frees its last block of a class and allocates another
/// would otherwise release and take a page each time). But a program whose
/// objects move on to other classes (buffers grown by `realloc`) left one
/// empty page per class behind, resident and unusable by the others. Now
/// such a page is released when another class needs a page: that is when
/// keeping it would cost memory.
///
/// # Safety
/// The calling thread owns `heap` and holds its lock.
unsafe fn release_retired(heap: *mut Heap, class: usize) {
    // SAFETY: owner-only direct table and queues; page release under the
    // heap lock (held by the caller).
    unsafe {
        let retired = (*heap).retired.get();
        let mut m = *retired & !(1u64 << class);
        if m == 0 {
            return;
        }
        *retired &= 1u64 << class;
        while m != 0 {
            let c = m.trailing_zeros() as usize;
            m &= m - 1;
            let page = (*(*heap).direct.get())[c];
            // Still empty, still the owner's in-use page (not emptied and
            // then reused since).
            if page == empty_page()
                || (*page).used != 0
                || (*page).shared
                || (*page).local_owner != heap
                || (*page).full.load(Ordering::SeqCst) != PAGE_NOT_FULL
            {
                continue;
            }
            (*(*heap).direct.get())[c] = empty_page();
            queue_remove(ptr::addr_of_mut!((*(*heap).queues.get())[c]), page);
            segment::page_release(page);
        }
    }
}

/// Slot of the claim cache for (`target`, `class`).
///
/// For one target the classes fall into distinct slots (`class <
/// CLAIM_SLOTS`), so a slot whose target matches holds that class.
#[inline(always)]
pub(crate) fn claim_slot(target: *mut Heap, class: usize) -> usize {
    // Heaps are a few KiB apart in the arena (about 3 slots apart here);
    // classes are consecutive.
    ((target as usize) >> 10).wrapping_add(class) % CLAIM_SLOTS
}

/// Pop a block from the page the calling thread has claimed in `slot`
/// (collecting the frees handed over to the page and carving fresh blocks
/// as needed); `None` if the page is exhausted.
///
/// # Safety
/// `slot` is a claim of the calling thread's heap.
#[inline(always)]
unsafe fn claimed_pop(slot: *mut Claim) -> Option<*mut u8> {
    // SAFETY: a claimed page's allocation side belongs to its claimer.
    unsafe {
        if (*slot).free.is_null() {
            let page = (*slot).page;
            let mut list = take_thread_free(page);
            if list.is_null() {
                list = carve(page, ptr::null_mut());
                if list.is_null() {
                    return None;
                }
            }
            (*slot).free = list;
        }
        let b = (*slot).free;
        let next = (*b).next;
        (*slot).free = next;
        prefetch_block(next);
        *(b as *mut usize).add(1) = 0;
        Some(b as *mut u8)
    }
}

/// Shared pages: when the free list is empty, the blocks freed into the
/// page (remotely, or by its owner in batches) become the free list: one
/// atomic swap, no walk; returns them (null if none). (Shared pages do not
/// count `used`: they are never released while their heap lives, so
/// nothing needs the count, and not walking the list saves a cache miss
/// per block that another core freed.)
///
/// # Safety
/// The caller owns the page's allocation side (claim or lock) and its free
/// list is empty.
#[inline]
unsafe fn take_thread_free(page: *mut Page) -> *mut Block {
    // SAFETY: after the swap, the list is ours alone.
    unsafe {
        if (*page).thread_free.load(Ordering::Relaxed).is_null() {
            return ptr::null_mut();
        }
        tf_ptr((*page).thread_free.swap(ptr::null_mut(), Ordering::Acquire))
    }
}

/// Allocate a block of `class` from `target`'s shared pages on behalf of
/// the calling thread (heap `me`, not `target`'s owner): for `alloc_for`
/// from another thread and for node heaps.
///
/// The calling thread *claims* one shared page of `target` per class (under
/// `target`'s lock) and then allocates from it with no lock and no atomic
/// until it is exhausted: the same pop as the owner's fast path, after a
/// lookup in `me`'s claim cache. Frees into the page (by the owner in
/// batches, by anyone else one by one) arrive on its `thread_free` list,
/// which the claimer collects.
///
/// Cost (hit): a hash of (target, class), two compares, the pop.
///
/// # Safety
/// `me` is the calling thread's heap, `target` a live heap other than `me`.
#[inline(always)]
pub(crate) unsafe fn malloc_claimed(me: *mut Heap, target: *mut Heap, class: usize) -> *mut u8 {
    // SAFETY: the claim cache is owner-only; claimed pages are ours.
    unsafe {
        let slot = ptr::addr_of_mut!((*(*me).claims.get())[claim_slot(target, class)]);
        if (*slot).target == target {
            if let Some(b) = claimed_pop(slot) {
                return b;
            }
        }
        claim_new(me, target, class, slot)
    }
}

/// Give up the claim in `slot` (if any).
///
/// # Safety
/// `slot` belongs to the calling thread's heap.
unsafe fn unclaim(slot: *mut Claim) {
    // SAFETY: the claimer releases its page under the target's lock.
    unsafe {
        if (*slot).target.is_null() {
            return;
        }
        let page = (*slot).page;
        let _g = (*(*slot).target).lock.lock();
        // The page's free list comes back from the slot.
        (*page).free = (*slot).free;
        (*page).claimed = ptr::null_mut();
        *slot = Claim::empty();
    }
}

/// Slow path of [`malloc_claimed`]: release the slot's old claim, claim a
/// shared page of `target` with a free block (or a new one) and allocate.
#[cold]
#[inline(never)]
unsafe fn claim_new(me: *mut Heap, target: *mut Heap, class: usize, slot: *mut Claim) -> *mut u8 {
    // SAFETY: shared pages change owner-of-allocation-side under the lock.
    unsafe {
        unclaim(slot);
        segment::maybe_purge(target);
        let (page, free) = {
            let _g = (*target).lock.lock();
            let q = ptr::addr_of_mut!((*(*target).shared.get())[class]);
            let mut page = (*q).first;
            while !page.is_null() {
                if (*page).claimed.is_null() {
                    if (*page).free.is_null() {
                        (*page).free = take_thread_free(page);
                    }
                    if !(*page).free.is_null()
                        || (*page).bump + (*page).block_size <= (*page).capacity
                    {
                        break;
                    }
                }
                page = (*page).next;
            }
            if page.is_null() {
                page = segment::page_acquire(target, class, true);
                if page.is_null() {
                    return ptr::null_mut();
                }
                // Memory nobody has touched yet (not a released page still
                // resident) of a thread heap whose owner's node is known:
                // bound there before the claimer carves it, so that what
                // is allocated *for* that thread lives on its node, not on
                // the claimer's (whose carving would place it by first
                // touch). Failure leaves first-touch placement.
                let home = (*target).home_node.load(Ordering::Relaxed);
                if home != usize::MAX
                    && (*target).node == usize::MAX
                    && !(*target).untouched
                    && (*page).dirty == 0
                {
                    crate::os::bind_to_node((*page).start, (*page).capacity, home);
                }
            } else {
                queue_remove(q, page);
            }
            // Claimed pages sit at the front; exhausted ones drift back.
            queue_push_front(q, page);
            (*page).claimed = me;
            // The free list moves to the claim (see `Claim`).
            let free = (*page).free;
            (*page).free = ptr::null_mut();
            (page, free)
        };
        *slot = Claim { target, page, free };
        claimed_pop(slot).unwrap_or(ptr::null_mut())
    }
}

/// Thread exit: give up every claim of heap `me`.
///
/// # Safety
/// The calling thread owns `me`.
pub(crate) unsafe fn release_claims(me: *mut Heap) {
    for i in 0..CLAIM_SLOTS {
        // SAFETY: owner-only claim cache.
        unsafe { unclaim(ptr::addr_of_mut!((*(*me).claims.get())[i])) };
    }
}

/// Owner: hand the blocks it freed into a shared page (kept on
/// `local_free`, counted down from `SHARED_FLUSH_BATCH`) to the page's
/// allocator, from where the claimer (or the next thread to claim the
/// page) collects them: one CAS from null when the claimer has taken
/// everything already, else a CAS splice at the list's tail, which
/// `free_slow` recorded when the list's first block was freed (no walk).
///
/// # Safety
/// The calling thread owns `page`'s heap; `page` is shared.
#[cold]
#[inline(never)]
pub(crate) unsafe fn flush_shared(page: *mut Page) {
    // SAFETY: local_free is owner-only; thread_free is a CAS stack.
    unsafe {
        let list = (*page).local_free;
        let tail = (*page).delayed_next as *mut Block;
        (*page).delayed_next = ptr::null_mut();
        // The next free starts a new list and records its tail.
        (*page).used = 1;
        if list.is_null() {
            return;
        }
        (*page).local_free = ptr::null_mut();
        if (*page)
            .thread_free
            .compare_exchange(ptr::null_mut(), list, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        let mut last = tail;
        if last.is_null() {
            last = list;
            while !(*last).next.is_null() {
                last = (*last).next;
            }
        }
        let mut head = (*page).thread_free.load(Ordering::Relaxed);
        loop {
            (*last).next = tf_ptr(head);
            match (*page).thread_free.compare_exchange_weak(
                head,
                tf_pack(list, tf_count(head)),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
    }
}

/// Allocate from the consumer pool `heap` without writing to a never-used
/// block: recycled blocks (freed by their consumers, hence placed already)
/// are popped from the free list as usual, but a fresh block is taken from
/// the page's bump area and returned untouched, so the first write to it is
/// the consumer's. (Only the page descriptor, in the segment header, is
/// written.)
///
/// # Safety
/// `heap` is the consumer pool. Takes its lock.
pub(crate) unsafe fn malloc_untouched(heap: *mut Heap, class: usize) -> *mut u8 {
    // SAFETY: the pool's pages are shared pages, guarded by its lock.
    unsafe {
        let _g = (*heap).lock.lock();
        let q = ptr::addr_of_mut!((*(*heap).shared.get())[class]);
        let mut page = (*q).first;
        while !page.is_null() {
            collect_thread_free(page);
            if !(*page).free.is_null() {
                return page_pop(page);
            }
            if let Some(b) = bump_untouched(page) {
                return b;
            }
            page = (*page).next;
        }
        let page = segment::page_acquire(heap, class, true);
        if page.is_null() {
            return ptr::null_mut();
        }
        queue_push_front(q, page);
        bump_untouched(page).unwrap_or(ptr::null_mut())
    }
}

/// Take the next never-used block of `page` without touching it.
///
/// # Safety
/// The caller holds the page's heap lock.
unsafe fn bump_untouched(page: *mut Page) -> Option<*mut u8> {
    // SAFETY: bump/used are lock-guarded for shared pages.
    unsafe {
        let bs = (*page).block_size;
        if (*page).bump + bs > (*page).capacity {
            return None;
        }
        let b = (*page).start.add((*page).bump);
        (*page).bump += bs;
        (*page).used += 1;
        Some(b)
    }
}
