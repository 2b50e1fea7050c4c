//! Fast paths: allocate, free, realloc, usable size.
//!
//! Concurrency contract: the allocation fast path touches only the calling
//! thread's heap and the page it points to (no atomics, no locks). The free
//! fast path is plain stores when the block belongs to a page of the calling
//! thread's heap, and one CAS otherwise.

use core::ptr;
use core::sync::atomic::Ordering;

use crate::heap;
use crate::os;
use crate::page;
use crate::segment;
use crate::types::*;

/// Where an allocation should come from.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// The calling thread's heap.
    Current,
    /// A given heap (possibly another thread's).
    Heap(*mut Heap),
    /// The heap of a NUMA node.
    Node(usize),
}

/// Allocate from the owner's heap `heap` (which the calling thread owns).
///
/// Cost (hit): 6 instructions: load the direct page (never null: an empty
/// class points at `EMPTY_PAGE`), load its free head, test it, load the
/// next link, store it, bump `used`, clear the free mark. When `free` is
/// empty, `page::malloc_refill` takes the owner's own frees over (a swap)
/// or runs the generic path.
///
/// # Safety
/// The calling thread owns `heap`; `class < NUM_CLASSES`.
#[inline(always)]
unsafe fn heap_malloc_small(heap: *mut Heap, class: usize) -> *mut u8 {
    // SAFETY: owner-only access to the heap's direct table and its page.
    unsafe {
        let page = (*(*heap).direct.get())[class];
        let b = (*page).free;
        if !b.is_null() {
            (*page).free = (*b).next;
            (*page).used += 1;
            *(b as *mut usize).add(1) = 0;
            return b as *mut u8;
        }
        page::malloc_refill(heap, page, class)
    }
}

/// Allocate `size` bytes aligned to `align` (a power of two) from `target`.
/// Null if out of memory or the size is absurd.
#[inline]
pub(crate) fn malloc_in(target: Target, size: usize, align: usize) -> *mut u8 {
    let Some(class) = class_for_layout(size, align) else {
        let node = match target {
            Target::Node(n) => Some(if n < heap::node_count() { n } else { 0 }),
            Target::Heap(h) => {
                // SAFETY: heaps are never freed.
                let n = unsafe { (*h).node };
                (n != usize::MAX).then_some(n)
            }
            Target::Current => None,
        };
        return segment::large_alloc(size, align, node, false, false);
    };
    match target {
        Target::Current => {
            let h = heap::current();
            if h.is_null() {
                return ptr::null_mut();
            }
            // SAFETY: `current()` is owned by the calling thread.
            unsafe { heap_malloc_small(h, class) }
        }
        Target::Heap(h) => {
            let me = heap::current();
            if h == me {
                // SAFETY: as above.
                unsafe { heap_malloc_small(h, class) }
            } else if me.is_null() {
                ptr::null_mut()
            } else {
                // SAFETY: heaps are never freed; `me` is ours.
                unsafe { page::malloc_claimed(me, h, class) }
            }
        }
        Target::Node(n) => {
            let h = heap::node_heap(n);
            let me = heap::current();
            if h.is_null() || me.is_null() {
                return ptr::null_mut();
            }
            // SAFETY: node heaps are never owned by a thread; `me` is ours.
            unsafe { page::malloc_claimed(me, h, class) }
        }
    }
}

/// `malloc(size)` from heap `h`, from any thread (what `loci_malloc_for`
/// and `alloc_for` with a small alignment do): the owner's fast path when
/// `h` is the calling thread's heap, else a claimed page of `h`.
///
/// Cost (claimed page hit): the size class, one TLS load, the claim-cache
/// lookup (a hash and two compares) and the pop.
#[inline(always)]
pub(crate) fn malloc_for(h: *mut Heap, size: usize) -> *mut u8 {
    if size > MAX_PAGED {
        return malloc_in(Target::Heap(h), size, MIN_ALIGN);
    }
    let class = class_of(size);
    let me = heap::current();
    if me == h {
        // SAFETY: `me` is the calling thread's heap.
        unsafe { heap_malloc_small(me, class) }
    } else if me.is_null() {
        ptr::null_mut()
    } else {
        // SAFETY: heaps are never freed; `me` is ours.
        unsafe { page::malloc_claimed(me, h, class) }
    }
}

/// The fast path of [`malloc_for`] (inlined into `loci_malloc_for`): a
/// request of up to 1 KiB by a thread that has a heap, served from the
/// class's direct page when `h` is its own heap, else from the page of
/// `h` it has claimed for the class. `None` when that does not apply (then
/// call [`malloc_for`]).
///
/// Cost (claimed page hit): the class table, one TLS load, the claim-cache
/// slot (a hash), the target compare and the pop: about 20 instructions.
#[cfg(feature = "c-abi")]
#[inline(always)]
pub(crate) fn malloc_for_hit(h: *mut Heap, size: usize) -> Option<*mut u8> {
    if size > SMALL_LOOKUP_MAX {
        return None;
    }
    // (A thread without a heap finds the no-heap: no claim, no block.)
    let me = heap::current_or_none();
    let class = small_class_of(size);
    // SAFETY: `me` is the calling thread's heap: its direct table, its
    // claim cache and the pages it claimed are its own to use.
    unsafe {
        let b = if me == h {
            let page = *(*(*h).direct.get()).get_unchecked(class);
            let b = (*page).free;
            if b.is_null() {
                return None;
            }
            (*page).free = (*b).next;
            (*page).used += 1;
            b
        } else {
            // The claimed page's free list is in the claim (see `Claim`):
            // nothing of the page descriptor is touched.
            let slot = (*(*me).claims.get()).get_unchecked_mut(page::claim_slot(h, class));
            if slot.target != h {
                return None;
            }
            let b = slot.free;
            if b.is_null() {
                return None;
            }
            let next = (*b).next;
            slot.free = next;
            // (Blocks of a claimed page come back from the consumer.)
            page::prefetch_block(next);
            b
        };
        *(b as *mut usize).add(1) = 0;
        Some(b as *mut u8)
    }
}

/// Allocate `size` bytes aligned to `align` without touching them: from
/// the consumer pool (never-used blocks are not written), or a fresh
/// mapping for large objects. Null if out of memory.
pub(crate) fn malloc_untouched(size: usize, align: usize) -> *mut u8 {
    match class_for_layout(size, align) {
        None => segment::large_alloc(size, align, None, false, true),
        Some(class) => {
            let h = heap::consumer_pool();
            if h.is_null() {
                return ptr::null_mut();
            }
            // SAFETY: `h` is the consumer pool.
            unsafe { page::malloc_untouched(h, class) }
        }
    }
}

/// Allocate `size` bytes (16-aligned) as placement `policy` says (see
/// `plan.rs`); zeroed with `zero`. Null if out of memory.
#[cfg(feature = "c-abi")]
#[cold]
#[inline(never)]
pub(crate) fn malloc_placed(policy: crate::plan::Policy, size: usize, zero: bool) -> *mut u8 {
    use crate::plan::Policy;
    let p = match policy {
        Policy::Node(n) => malloc_in(Target::Node(n), size, MIN_ALIGN),
        Policy::Interleave => {
            let n = crate::placement::interleave_node(heap::node_count());
            malloc_in(Target::Node(n), size, MIN_ALIGN)
        }
        Policy::Consumer => {
            if class_for_layout(size, MIN_ALIGN).is_none() {
                return segment::large_alloc(size, MIN_ALIGN, None, zero, true);
            }
            malloc_untouched(size, MIN_ALIGN)
        }
    };
    if zero && !p.is_null() {
        // SAFETY: p holds at least `size` bytes. (This touches it: calloc
        // from a `consumer` site gives up first-touch placement.)
        unsafe { ptr::write_bytes(p, 0, size) };
    }
    p
}

/// Allocate `size` zeroed bytes aligned to `align` from the calling
/// thread's heap. Large objects are only cleared where a reused region
/// was dirty: fresh mappings are zero, and not touching them keeps a big,
/// sparsely used `calloc` out of the resident set.
pub(crate) fn malloc_zeroed(size: usize, align: usize) -> *mut u8 {
    if class_for_layout(size, align).is_none() {
        return segment::large_alloc(size, align, None, true, false);
    }
    let p = malloc_in(Target::Current, size, align);
    if !p.is_null() {
        // SAFETY: p holds at least `size` bytes.
        unsafe { ptr::write_bytes(p, 0, size) };
    }
    p
}

/// `malloc(size)` from the calling thread's heap.
#[inline(always)]
pub(crate) fn malloc(size: usize) -> *mut u8 {
    match malloc_hit(size) {
        Some(p) => p,
        None => malloc_miss(size),
    }
}

/// The allocation fast path, inlined into `malloc` and the C ABI's: a
/// request of up to 1 KiB by a thread that has a heap, served from the
/// class's direct page. `None` when that does not apply (then call
/// [`malloc_miss`]).
///
/// Cost: about 14 instructions (TLS load, size test, class table, the
/// pop of `heap_malloc_small`).
#[inline(always)]
pub(crate) fn malloc_hit(size: usize) -> Option<*mut u8> {
    if size > SMALL_LOOKUP_MAX {
        return None;
    }
    // (A thread without a heap finds the no-heap, whose pages are empty.)
    let h = heap::current_or_none();
    // SAFETY: the calling thread owns `h` (or it is the no-heap, which is
    // only read here); the class is below NUM_CLASSES.
    unsafe {
        let page = *(*(*h).direct.get()).get_unchecked(small_class_of(size));
        let b = (*page).free;
        if b.is_null() {
            return None;
        }
        (*page).free = (*b).next;
        (*page).used += 1;
        *(b as *mut usize).add(1) = 0;
        Some(b as *mut u8)
    }
}

/// Everything `malloc_hit` does not serve: the owner's frees taken over,
/// the generic path, the thread's first allocation (it gets a heap),
/// classes above 1 KiB and large objects. Null if out of memory.
#[inline(never)]
pub(crate) fn malloc_miss(size: usize) -> *mut u8 {
    if size <= MAX_PAGED {
        let h = heap::current();
        if h.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `current()` is owned by the calling thread.
        return unsafe { heap_malloc_small(h, class_of(size)) };
    }
    segment::large_alloc(size, MIN_ALIGN, None, false, false)
}

/// Validate `p` and find its small page, or handle it as a large object.
/// Aborts with a message on pointers that are not ours.
///
/// Cost: the segment map entry (~5 instructions), the page index, one
/// multiplication for the interior-pointer check.
#[inline(always)]
unsafe fn lookup(p: *mut u8) -> Result<*mut Page, *mut Segment> {
    let entry = segment::map_entry(p);
    let seg = segment::segment_of(p);
    if entry == segment::MAP_NONE {
        os::fatal(
            "free/realloc of a pointer not allocated by loci-alloc:",
            p as usize,
        );
    }
    if entry < segment::MAP_PAGED {
        return Err(segment::large_header(p, entry));
    }
    // SAFETY: the map says `seg` is a live small or medium segment header.
    unsafe {
        let page = page_at(seg, p, entry);
        // Page 0 of a small segment (the header) is never in use.
        if !(*page).in_use {
            os::fatal("free/realloc of a pointer into an unused page:", p as usize);
        }
        if !is_block_start(p as usize - (*page).start as usize, (*page).block_magic) {
            os::fatal("free/realloc of an interior pointer:", p as usize);
        }
        Ok(page)
    }
}

/// The descriptor of the page of `seg` that holds `p`, whose segment map
/// entry (the page shift) is `shift`.
///
/// # Safety
/// `seg` is a live small or medium segment containing `p`.
#[inline(always)]
unsafe fn page_at(seg: *mut Segment, p: *mut u8, shift: u8) -> *mut Page {
    // `p - seg` is in 1..=4 MiB (see `segment::segment_of`) and the shift
    // at least 16, so the index is at most PAGES_PER_SEGMENT: in bounds.
    let idx = (p as usize - seg as usize) >> shift;
    // SAFETY: per the contract and the bound above.
    unsafe { ptr::addr_of_mut!((*seg).pages).cast::<Page>().add(idx) }
}

/// Confirm a suspected double free by scanning the page's owner-visible
/// free lists; abort if the block is on one.
#[cold]
#[inline(never)]
unsafe fn check_double_free(page: *mut Page, b: *mut Block) {
    // SAFETY: owner-visible lists are consistent for the owner; `free` of a
    // shared page is lock-guarded, so only `local_free` is scanned there.
    unsafe {
        let lists = if (*page).shared {
            [(*page).local_free, ptr::null_mut()]
        } else {
            [(*page).local_free, (*page).free]
        };
        for mut cur in lists {
            let mut steps = 0;
            while !cur.is_null() && steps <= MEDIUM_PAGE_SIZE / MIN_ALIGN {
                if cur == b {
                    os::fatal("double free of", b as usize);
                }
                cur = (*cur).next;
                steps += 1;
            }
        }
    }
}

/// Free `p`.
///
/// Cost, local free of a small block (the inlined part): the segment map
/// entry (~7 instructions: ours? paged? page shift), the page index (~5),
/// one TLS load and the owner compare (which also says "in use, not full,
/// not shared"), the interior-pointer check (~4), the double-free mark
/// check (~4), two stores to link the block, a decrement and its test:
/// about 35 instructions. Large objects, remote frees, shared pages, full
/// pages and pages that become empty go to out-of-line functions.
///
/// # Safety
/// `p` is null or was returned by this allocator and not freed since
/// (violations that are cheap to detect abort with a message).
#[inline(always)]
pub(crate) unsafe fn free(p: *mut u8) {
    // (Null has no map entry: `free_not_paged` returns for it.)
    // SAFETY: the map says whether `p` is in a segment of ours; page fields
    // are accessed per the page contract (owner-only fields only when we
    // own the page).
    unsafe {
        let entry = segment::map_entry(p);
        if entry < segment::MAP_PAGED {
            return free_not_paged(p);
        }
        let page = page_at(segment::segment_of(p), p, entry);
        // `local_owner` is the calling thread's heap only for an in-use,
        // non-full page of it (`NOT_LOCAL` otherwise; a thread without a
        // heap compares the no-heap, which owns no page).
        let me = heap::current_or_none();
        if (*page).local_owner != me {
            return free_other(page, p, me);
        }
        if !is_block_start(p as usize - (*page).start as usize, (*page).block_magic) {
            bad_free(p);
        }
        let b = p as *mut Block;
        let mark = (b as *mut usize).add(1);
        if *mark == FREED_MARK {
            // (A call in tail position, like every call here: the fast
            // path then needs no stack frame.)
            return free_suspect(page, b, me);
        }
        *mark = FREED_MARK;
        (*b).next = (*page).local_free;
        (*page).local_free = b;
        (*page).used -= 1;
        if (*page).used == 0 {
            page::free_slow(me, page);
        }
    }
}

/// `free` of a block whose double-free mark is set: confirm (abort) or
/// dismiss (the mark was stale data) by scanning, then free it.
///
/// # Safety
/// `me` owns the in-use `page` (which may be full or shared); `b` is a
/// block of it.
#[cold]
#[inline(never)]
unsafe extern "C" fn free_suspect(page: *mut Page, b: *mut Block, me: *mut Heap) {
    // SAFETY: per the contract.
    unsafe {
        check_double_free(page, b);
        free_owner_slow(page, b, me)
    }
}

/// The owner's free of `b` into its `page`, once `b` is known not to be
/// free already, when the page may be full or become empty (or, shared,
/// due for a hand-over).
///
/// # Safety
/// `me` owns the in-use `page`; `b` is a live block of it.
unsafe extern "C" fn free_owner_slow(page: *mut Page, b: *mut Block, me: *mut Heap) {
    // SAFETY: owner-only page fields.
    unsafe {
        *(b as *mut usize).add(1) = FREED_MARK;
        (*b).next = (*page).local_free;
        (*page).local_free = b;
        (*page).used -= 1;
        if (*page).used == 0 || (*page).full.load(Ordering::Relaxed) != PAGE_NOT_FULL {
            page::free_slow(me, page);
        }
    }
}

/// `free` of a pointer that is not in a small or medium page: null, a
/// large object, or not ours at all (abort).
#[cold]
#[inline(never)]
unsafe extern "C" fn free_not_paged(p: *mut u8) {
    if p.is_null() {
        return;
    }
    let entry = segment::map_entry(p);
    if entry == segment::MAP_NONE {
        os::fatal(
            "free/realloc of a pointer not allocated by loci-alloc:",
            p as usize,
        );
    }
    // SAFETY: the map says `p`'s chunk holds a live large segment.
    unsafe { segment::large_free(segment::large_header(p, entry), p) }
}

/// Abort on a pointer into an unused page or into the middle of a block.
#[cold]
#[inline(never)]
extern "C" fn bad_free(p: *mut u8) -> ! {
    let seg = segment::segment_of(p);
    // SAFETY: the caller found `seg` in the segment map as a paged segment.
    let page = unsafe { page_at(seg, p, segment::map_entry(p)) };
    // SAFETY: as above.
    if unsafe { !(*page).in_use } {
        os::fatal("free/realloc of a pointer into an unused page:", p as usize);
    }
    os::fatal("free/realloc of an interior pointer:", p as usize)
}

/// `free` of a block of a page whose `local_owner` is not the calling
/// thread's heap: a remote free, an owner's free into its own full page,
/// or an invalid free (a page not in use).
///
/// # Safety
/// `page` is the descriptor of a paged segment that `p` points into; `me`
/// is the calling thread's heap (or null).
#[inline(never)]
unsafe extern "C" fn free_other(page: *mut Page, p: *mut u8, me: *mut Heap) {
    // SAFETY: per the page contract: local_free of a shared page is
    // owner-only, everything else here is atomic.
    unsafe {
        if !(*page).in_use
            || !is_block_start(p as usize - (*page).start as usize, (*page).block_magic)
        {
            bad_free(p);
        }
        let b = p as *mut Block;
        let mark = (b as *mut usize).add(1);
        if (*page).heap == me {
            // The owner's own page, marked full.
            if *mark == FREED_MARK {
                check_double_free(page, b);
            }
            return free_owner_slow(page, b, me);
        }
        *mark = FREED_MARK;
        free_remote(page, b);
    }
}

/// Push `b` on the page's thread-free list; revive the page if its owner
/// marked it full (see the full protocol in `page.rs`).
unsafe fn free_remote(page: *mut Page, b: *mut Block) {
    // SAFETY: thread_free/full are atomics; the heap is never freed; the
    // page cannot be released while `b` is outstanding (used > 0).
    unsafe {
        let mut head = (*page).thread_free.load(Ordering::Relaxed);
        loop {
            // (The word also counts the list's blocks, see `Page::thread_free`.)
            (*b).next = tf_ptr(head);
            match (*page).thread_free.compare_exchange_weak(
                head,
                tf_pack(b, tf_count(head) + 1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
        if !(*page).shared
            && (*page).full.load(Ordering::SeqCst) == PAGE_FULL
            && (*page)
                .full
                .compare_exchange(PAGE_FULL, PAGE_DELAYED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            let heap = (*page).heap;
            let mut top = (*heap).delayed.load(Ordering::Relaxed);
            loop {
                (*page).delayed_next = top;
                match (*heap).delayed.compare_exchange_weak(
                    top,
                    page,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(t) => top = t,
                }
            }
        }
    }
}

/// The heap owning the live block `p` (non-null); null for large objects.
///
/// # Safety
/// As for [`free`].
#[cfg(feature = "c-abi")]
pub(crate) unsafe fn heap_of(p: *mut u8) -> *mut Heap {
    // SAFETY: see lookup.
    unsafe {
        match lookup(p) {
            Ok(page) => (*page).heap,
            Err(_) => ptr::null_mut(),
        }
    }
}

/// Usable size of the live block `p` (non-null).
///
/// # Safety
/// As for [`free`].
pub(crate) unsafe fn usable_size(p: *mut u8) -> usize {
    // SAFETY: see lookup.
    unsafe {
        match lookup(p) {
            Ok(page) => (*page).block_size,
            Err(seg) => {
                if (*seg).large_obj != p {
                    os::fatal("usable_size of an interior pointer:", p as usize);
                }
                (*seg).large_usable
            }
        }
    }
}

/// Resize `p` to `new_size` keeping alignment `align`. In place when the
/// block still fits and is not more than twice as big as needed (a page
/// object: while `new_size` is above `MAX_MULTI`), or when it
/// is a large object whose capacity holds `new_size` (see
/// `segment::large_alloc`); otherwise allocate (from the calling thread's
/// heap), copy and free. Null (and `p` untouched) on failure.
///
/// # Safety
/// `p` is null or a live block of this allocator.
pub(crate) unsafe fn realloc(p: *mut u8, new_size: usize, align: usize) -> *mut u8 {
    if p.is_null() {
        return malloc_in(Target::Current, new_size, align);
    }
    // SAFETY: p is live per the contract.
    unsafe {
        let usable = usable_size(p);
        // A page object (see `MAX_PAGED`) stays in place while the size
        // stays above the multi-block classes: a growing buffer is copied
        // once into its page, not at every quarter power of two.
        let low = if usable == MAX_PAGED {
            MAX_MULTI
        } else {
            usable / 2
        };
        if new_size <= usable && (new_size > low || usable <= MIN_ALIGN) {
            return p;
        }
        if new_size > MAX_PAGED {
            if let Err(seg) = lookup(p) {
                if (p as usize) % align == 0 && segment::large_resize(seg, p, new_size) {
                    return p;
                }
            }
        }
        let q = malloc_in(Target::Current, new_size, align);
        if !q.is_null() {
            ptr::copy_nonoverlapping(p, q, usable.min(new_size));
            free(p);
        }
        q
    }
}
