//! Unit tests of the allocator core through the crate's own API.

use super::*;
use crate::types::*;
use std::sync::mpsc;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

fn page_of(p: *mut u8) -> *mut Page {
    let seg = segment::segment_of(p);
    assert!(segment::is_segment(seg));
    // SAFETY: seg is live per the map.
    unsafe {
        assert!((*seg).kind == SegmentKind::Small);
        core::ptr::addr_of_mut!((*seg).pages[(p as usize - seg as usize) / PAGE_SIZE])
    }
}

#[test]
fn every_small_size_is_usable_and_aligned() {
    let mut ptrs = Vec::new();
    for size in (0..=MAX_SMALL).step_by(7) {
        let p = allocate(layout(size, 1)).unwrap().as_ptr();
        assert_eq!(p as usize % MIN_ALIGN, 0);
        // SAFETY: live block of at least `size` bytes.
        unsafe {
            assert!(usable_size(p) >= size);
            core::ptr::write_bytes(p, 0xab, size);
        }
        ptrs.push(p);
    }
    for p in ptrs {
        // SAFETY: live blocks.
        unsafe { dealloc(p) };
    }
}

#[test]
fn big_alignments_are_honoured() {
    for shift in 4..=24 {
        let align = 1usize << shift;
        for size in [1, align / 2 + 1, align, 3 * align + 5, 100_000] {
            let p = allocate(layout(size, align)).unwrap().as_ptr();
            assert_eq!(p as usize % align, 0, "size {size} align {align}");
            // SAFETY: live block.
            unsafe {
                assert!(usable_size(p) >= size);
                *p = 1;
                *p.add(size - 1) = 2;
                dealloc(p);
            }
        }
    }
}

#[test]
fn freed_blocks_are_reused_by_the_owner() {
    let p = allocate(layout(48, 8)).unwrap().as_ptr();
    // SAFETY: live block, freed once.
    unsafe { dealloc(p) };
    // The local free list is collected before the page is extended further
    // only once the free list is empty, so allocate until we get p back.
    let mut got = Vec::new();
    let mut found = false;
    for _ in 0..(PAGE_SIZE / 48 + 1) {
        let q = allocate(layout(48, 8)).unwrap().as_ptr();
        got.push(q);
        if q == p {
            found = true;
            break;
        }
    }
    assert!(found, "a freed block must be handed out again");
    for q in got {
        // SAFETY: live blocks.
        unsafe { dealloc(q) };
    }
}

#[test]
fn realloc_in_place_within_class_and_moves_beyond() {
    let p = allocate(layout(100, 16)).unwrap().as_ptr();
    // SAFETY: live blocks throughout.
    unsafe {
        for i in 0..100 {
            *p.add(i) = i as u8;
        }
        assert_eq!(usable_size(p), 112);
        let q = reallocate(p, 110, 16).unwrap().as_ptr();
        assert_eq!(q, p, "110 bytes still fit the 112-byte class");
        let r = reallocate(q, 5000, 16).unwrap().as_ptr();
        assert_ne!(r, q);
        for i in 0..100 {
            assert_eq!(*r.add(i), i as u8);
        }
        let big = reallocate(r, 1 << 20, 16).unwrap().as_ptr();
        for i in 0..100 {
            assert_eq!(*big.add(i), i as u8);
        }
        let small = reallocate(big, 10, 16).unwrap().as_ptr();
        assert_eq!(*small.add(9), 9);
        dealloc(small);
    }
}

#[test]
fn objects_above_the_multi_block_classes_get_a_medium_page_and_grow_in_place() {
    let p = allocate(layout(MAX_MULTI + 1, 16)).unwrap().as_ptr();
    let seg = segment::segment_of(p);
    // SAFETY: live blocks throughout; `seg` is live while `p` is.
    unsafe {
        assert!((*seg).kind == SegmentKind::Medium, "a page object");
        assert_eq!(usable_size(p), MAX_PAGED);
        assert_eq!((p as usize - seg as usize) % PAGE_SIZE, 0);
        for i in 0..1000 {
            *p.add(i) = i as u8;
        }
        let q = reallocate(p, 256 << 10, 16).unwrap().as_ptr();
        assert_eq!(q, p, "grows in place inside its page");
        let r = reallocate(q, MAX_PAGED, 16).unwrap().as_ptr();
        assert_eq!(r, p);
        core::ptr::write_bytes(r.add(1000), 0xcd, MAX_PAGED - 1000);
        // Back into the multi-block classes: moved, contents kept.
        let s = reallocate(r, 1000, 16).unwrap().as_ptr();
        assert_ne!(s, r);
        for i in 0..1000 {
            assert_eq!(*s.add(i), i as u8);
        }
        // Beyond the page: a large object, contents kept.
        let t = allocate(layout(300 << 10, 16)).unwrap().as_ptr();
        *t.add((300 << 10) - 1) = 7;
        let u = reallocate(t, MAX_PAGED + 1, 16).unwrap().as_ptr();
        assert_eq!(*u.add((300 << 10) - 1), 7);
        assert!(segment::map_entry(u) < segment::MAP_PAGED, "a large object");
        dealloc(s);
        dealloc(u);
    }
}

#[test]
fn a_large_object_in_a_reused_region_leaves_no_old_bytes_behind() {
    // A large object written all over, freed (its region goes to the
    // cache dirty), then a small large object in that region, freed, then
    // a zeroed one: it must be zero even where the first one wrote (the
    // second one's free must not pass the region on as clean past its own
    // extent). Other tests may take the region in between; that only
    // makes this one pass without checking.
    for _ in 0..4 {
        let a = segment::large_alloc(3 << 20, 16, None, false, false);
        assert!(!a.is_null());
        // SAFETY: `a` holds 3 MiB; each object is freed once.
        unsafe {
            core::ptr::write_bytes(a, 0xab, 3 << 20);
            dealloc(a);
            let b = segment::large_alloc(600 << 10, 16, None, false, false);
            assert!(!b.is_null());
            dealloc(b);
            let c = segment::large_alloc(3 << 20, 16, None, true, false);
            assert!(!c.is_null());
            let bytes = core::slice::from_raw_parts(c, 3 << 20);
            if let Some(i) = bytes.iter().position(|&x| x != 0) {
                panic!("zeroed large object has {:#x} at offset {i}", bytes[i]);
            }
            dealloc(c);
        }
    }
}

/// The page descriptor of the medium block `p`.
fn medium_page_of(p: *mut u8) -> *mut Page {
    let seg = segment::segment_of(p);
    assert!(segment::is_segment(seg));
    // SAFETY: seg is live per the map.
    unsafe {
        assert!((*seg).kind == SegmentKind::Medium);
        core::ptr::addr_of_mut!((*seg).pages[(p as usize - seg as usize) >> MEDIUM_PAGE_SHIFT])
    }
}

#[test]
fn an_empty_direct_page_is_released_when_another_class_needs_a_page() {
    // (A thread of its own: a heap that, unless it adopted an exited
    // thread's, has no pages of these classes.)
    std::thread::spawn(|| {
        let a = allocate(layout(70_000, 16)).unwrap().as_ptr();
        let pa = medium_page_of(a);
        let class_a = class_of(70_000);
        // SAFETY: `a` and `b` are live until freed, each freed once; page
        // descriptors stay readable while their segment is mapped.
        unsafe {
            dealloc(a);
            if !(*pa).in_use || (*pa).used != 0 {
                return; // Not this heap's only block of the class.
            }
            assert_eq!((*pa).class as usize, class_a, "kept as the class's page");
            let b = allocate(layout(45_000, 16)).unwrap().as_ptr();
            let seg = segment::segment_of(a);
            assert!(segment::is_segment(seg));
            assert!(
                !(*pa).in_use || (*pa).class as usize == class_of(45_000),
                "the empty page of class {class_a} is still held for it"
            );
            dealloc(b);
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_segment_whose_pages_are_released_keeps_them_for_the_heap() {
    std::thread::spawn(|| {
        // More page objects than one medium segment has pages.
        let objs: Vec<*mut u8> = (0..SEGMENT_SIZE / MEDIUM_PAGE_SIZE + 1)
            .map(|_| {
                let p = allocate(layout(200_000, 16)).unwrap().as_ptr();
                // SAFETY: live block of 200,000 bytes.
                unsafe { core::ptr::write_bytes(p, 1, 200_000) };
                p
            })
            .collect();
        let segs: Vec<_> = objs.iter().map(|&p| segment::segment_of(p)).collect();
        for &p in &objs {
            // SAFETY: each object is freed once.
            unsafe { dealloc(p) };
        }
        // Their pages are resident: the segments stay the heap's (until
        // a purge), for its next pages of any medium class.
        for seg in segs {
            assert!(segment::is_segment(seg), "segment {seg:p} was given up");
        }
    })
    .join()
    .unwrap();
}

#[test]
fn large_objects_are_unmapped_on_free() {
    let p = allocate(layout(1 << 20, 16)).unwrap().as_ptr();
    let seg = segment::segment_of(p);
    assert!(segment::is_segment(seg));
    // SAFETY: live large object, freed once.
    unsafe {
        assert!(usable_size(p) >= 1 << 20);
        dealloc(p);
    }
    assert!(!segment::is_segment(seg), "the map bit must be cleared");
}

#[test]
fn absurd_sizes_fail_cleanly() {
    assert!(allocate(layout(isize::MAX as usize - 4095, 16)).is_none());
    assert!(alloc::malloc(usize::MAX).is_null());
    assert!(alloc::malloc(1 << 60).is_null());
}

#[test]
fn cross_thread_frees_reach_the_owner() {
    let (tx, rx) = mpsc::channel::<usize>();
    let n = 5000;
    let ptrs: Vec<usize> = (0..n)
        .map(|i| {
            let p = allocate(layout(64, 8)).unwrap().as_ptr();
            // SAFETY: live 64-byte block.
            unsafe { *(p as *mut usize).add(2) = i };
            p as usize
        })
        .collect();
    let page = page_of(ptrs[0] as *mut u8);
    let freer = std::thread::spawn(move || {
        for p in rx {
            // SAFETY: each block is sent once, and freed once here.
            unsafe { dealloc(p as *mut u8) };
        }
    });
    for (i, &p) in ptrs.iter().enumerate() {
        // SAFETY: live block.
        assert_eq!(unsafe { *(p as *const usize).add(2) }, i);
        tx.send(p).unwrap();
    }
    drop(tx);
    freer.join().unwrap();
    // The blocks sit in thread_free lists until the owner collects them.
    // SAFETY: reading an atomic of a live page.
    let pending = unsafe {
        !(*page)
            .thread_free
            .load(core::sync::atomic::Ordering::Acquire)
            .is_null()
    } || unsafe { !(*page).in_use };
    assert!(pending, "remote frees must go to the thread-free list");
    // Allocating again collects them: the memory is reused.
    let again: Vec<usize> = (0..n)
        .map(|_| allocate(layout(64, 8)).unwrap().as_ptr() as usize)
        .collect();
    let old: std::collections::HashSet<usize> = ptrs.into_iter().collect();
    let reused = again.iter().filter(|p| old.contains(p)).count();
    assert!(reused > n / 2, "only {reused} of {n} blocks reused");
    for p in again {
        // SAFETY: live blocks.
        unsafe { dealloc(p as *mut u8) };
    }
}

#[test]
fn alloc_for_gives_blocks_of_the_target_heap() {
    let (htx, hrx) = mpsc::channel();
    let (ptx, prx) = mpsc::channel::<usize>();
    let (dtx, drx) = mpsc::channel::<bool>();
    let consumer = std::thread::spawn(move || {
        let me = Heap::of_current_thread();
        htx.send(me).unwrap();
        let mut all_local = true;
        for p in prx {
            let page = page_of(p as *mut u8);
            // SAFETY: the page is live while p is.
            all_local &= unsafe { (*page).heap } == me.as_ptr();
            // SAFETY: p was sent to us once.
            unsafe {
                assert_eq!(*(p as *const u64), p as u64);
                dealloc(p as *mut u8);
            }
        }
        dtx.send(all_local).unwrap();
    });
    let handle = hrx.recv().unwrap();
    assert_ne!(handle, Heap::of_current_thread());
    for _ in 0..3000 {
        let p = alloc_for(handle, layout(40, 8)).unwrap().as_ptr();
        let page = page_of(p);
        // SAFETY: live block of a live page.
        unsafe {
            assert_eq!((*page).heap, handle.as_ptr());
            assert!((*page).shared);
            *(p as *mut u64) = p as u64;
        }
        ptx.send(p as usize).unwrap();
    }
    drop(ptx);
    assert!(drx.recv().unwrap());
    consumer.join().unwrap();
    // The consumer exited: its heap is abandoned but alloc_for still works.
    let p = alloc_for(handle, layout(40, 8)).unwrap().as_ptr();
    // SAFETY: live block.
    unsafe { dealloc(p) };
}

#[test]
fn alloc_for_own_heap_is_the_fast_path() {
    let me = Heap::of_current_thread();
    let p = alloc_for(me, layout(24, 8)).unwrap().as_ptr();
    // SAFETY: live block of a live page.
    unsafe {
        assert!(!(*page_of(p)).shared);
        dealloc(p);
    }
}

#[test]
fn blocks_outlive_their_thread_and_heaps_are_adopted() {
    let ptrs: Vec<usize> = std::thread::spawn(|| {
        (0..2000)
            .map(|i| {
                let p = allocate(layout(32 + i % 200, 8)).unwrap().as_ptr();
                // SAFETY: live block of >= 32 bytes.
                unsafe { *(p as *mut usize) = i };
                p as usize
            })
            .collect()
    })
    .join()
    .unwrap();
    for (i, &p) in ptrs.iter().enumerate() {
        // SAFETY: the blocks are still live after their thread exited.
        assert_eq!(unsafe { *(p as *const usize) }, i);
    }
    let heaps: Vec<HeapHandle> = ptrs
        .iter()
        .map(|&p| {
            // SAFETY: live page.
            HeapHandle(NonNull::new(unsafe { (*page_of(p as *mut u8)).heap }).unwrap())
        })
        .collect();
    for p in ptrs {
        // SAFETY: live blocks, freed once (remote frees to an abandoned heap).
        unsafe { dealloc(p as *mut u8) };
    }
    // Sequential short-lived threads reuse abandoned heaps instead of
    // creating new ones.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let h = std::thread::spawn(|| {
            let h = Heap::of_current_thread();
            let p = allocate(layout(8, 8)).unwrap().as_ptr();
            // SAFETY: live block.
            unsafe { dealloc(p) };
            h
        })
        .join()
        .unwrap();
        seen.insert(h);
    }
    assert!(seen.len() < 20, "heaps of exited threads must be adopted");
    drop(heaps);
}

#[cfg(feature = "c-abi")]
#[test]
fn empty_pages_are_released_then_purged() {
    // On a fresh thread (a heap of its own): fill several pages of one
    // class and free everything. The non-current pages are released to
    // their segments at once, their memory stays resident (dirty, reusable
    // by any class) and is returned to the OS by the first purge after
    // PURGE_DELAY_MS.
    std::thread::spawn(|| {
        // A block of another class keeps the segment in use (a segment
        // whose pages are all released goes to the region cache instead).
        let guard = allocate(layout(48, 8)).unwrap().as_ptr();
        let n = 8 * PAGE_SIZE / 1024;
        let ptrs: Vec<usize> = (0..n)
            .map(|_| allocate(layout(1024, 8)).unwrap().as_ptr() as usize)
            .collect();
        let pages: std::collections::HashSet<usize> = ptrs
            .iter()
            .map(|&p| page_of(p as *mut u8) as usize)
            .collect();
        assert!(pages.len() >= 8);
        for p in &ptrs {
            // SAFETY: live blocks.
            unsafe { dealloc(*p as *mut u8) };
        }
        // SAFETY (both closures): page descriptors live in segment headers;
        // segments that were unmapped have their map bit cleared, checked
        // first.
        let live = |pg: usize| {
            let seg = segment::segment_of((pg + 1) as *const u8);
            segment::is_segment(seg)
        };
        let in_use = pages
            .iter()
            .filter(|&&pg| live(pg) && unsafe { (*(pg as *mut Page)).in_use })
            .count();
        assert!(in_use <= 1, "{in_use} pages still in use");
        let resident = |pg: usize| unsafe { os::is_resident((*(pg as *mut Page)).start) };
        let dirty: Vec<usize> = pages
            .iter()
            .copied()
            .filter(|&pg| live(pg) && unsafe { !(*(pg as *mut Page)).in_use })
            .collect();
        // Pages in another segment than the guard's may have left with
        // their segment; the ones still there are released and resident.
        assert!(!dirty.is_empty(), "no released page left to check");
        assert!(dirty.iter().all(|&pg| resident(pg) == Some(true)));
        std::thread::sleep(std::time::Duration::from_millis(PURGE_DELAY_MS + 20));
        // SAFETY: this thread owns its heap, and holds no lock.
        unsafe { segment::maybe_purge(heap::current()) };
        for pg in dirty {
            if live(pg) && unsafe { !(*(pg as *mut Page)).in_use } {
                assert_eq!(resident(pg), Some(false), "page {pg:#x} not purged");
            }
        }
        // SAFETY: a live block.
        unsafe { dealloc(guard) };
    })
    .join()
    .unwrap();
}

#[test]
fn alloc_on_node_zero_is_node_zero_memory() {
    assert!(numa_node_count() >= 1);
    for size in [64, 5000, 1 << 20] {
        let p = alloc_on_node(0, layout(size, 16)).unwrap().as_ptr();
        // SAFETY: live block.
        unsafe {
            core::ptr::write_bytes(p, 1, size);
            match node_of(p) {
                Some(node) => assert_eq!(node, 0),
                None => eprintln!("notice: get_mempolicy unavailable; node not checked"),
            }
            dealloc(p);
        }
    }
    // A node that does not exist degrades to node 0.
    let p = alloc_on_node(1000, layout(64, 16)).unwrap().as_ptr();
    // SAFETY: live block.
    unsafe {
        *p = 1;
        if let Some(node) = node_of(p) {
            assert_eq!(node, 0);
        }
        // Node-heap blocks are freed from any thread.
        let q = p as usize;
        std::thread::spawn(move || dealloc(q as *mut u8))
            .join()
            .unwrap();
    }
}

/// Number of small segments of `heap`.
fn segment_count(heap: HeapHandle) -> usize {
    let h = heap.as_ptr();
    // SAFETY: the heap is live; its segment list is read under its lock.
    unsafe {
        let _g = (*h).lock.lock();
        let mut n = 0;
        let mut s = *(*h).segments.get();
        while !s.is_null() {
            n += 1;
            s = (*s).next;
        }
        n
    }
}

#[test]
fn remote_frees_revive_full_pages() {
    // The owner fills ~20 pages, hands every block to another thread that
    // frees them all (the pages are full, off the owner's queue, so only the
    // delayed list can bring them back), and repeats. Memory must be reused:
    // without revival this would map a new segment every few rounds.
    let (tx, rx) = mpsc::channel::<Vec<usize>>();
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let consumer = std::thread::spawn(move || {
        for batch in rx {
            for p in batch {
                // SAFETY: each block is received once and freed once.
                unsafe { dealloc(p as *mut u8) };
            }
            ack_tx.send(()).unwrap();
        }
    });
    let segments = std::thread::spawn(move || {
        let me = Heap::of_current_thread();
        for round in 0..20usize {
            let batch: Vec<usize> = (0..20_000)
                .map(|i| {
                    let p = allocate(layout(64, 8)).unwrap().as_ptr();
                    // SAFETY: live block of 64 bytes.
                    unsafe { *(p as *mut usize) = round ^ i };
                    p as usize
                })
                .collect();
            tx.send(batch).unwrap();
            ack_rx.recv().unwrap();
        }
        segment_count(me)
    })
    .join()
    .unwrap();
    consumer.join().unwrap();
    // 20 rounds x 20,000 x 64 B = 400 pages (7 segments) without reuse.
    assert!(
        segments <= 2,
        "{segments} segments for ~20 pages of live blocks"
    );
}

#[test]
fn zeroed_allocations_are_zero_even_when_recycled() {
    let a = LociAlloc;
    for size in [24, 1000, 16 << 10, 100_000] {
        let l = layout(size, 16);
        // SAFETY: GlobalAlloc calls with a non-zero layout; blocks freed once.
        unsafe {
            let p = a.alloc(l);
            core::ptr::write_bytes(p, 0xee, size);
            a.dealloc(p, l);
            let q = a.alloc_zeroed(l);
            assert!((0..size).all(|i| *q.add(i) == 0), "size {size}");
            a.dealloc(q, l);
        }
    }
}

#[cfg(feature = "c-abi")]
#[test]
fn untouched_blocks_are_not_resident_until_written() {
    // 4 KiB blocks are OS-page aligned in their 64 KiB pages, so a fresh
    // one is a whole untouched OS page.
    let mut ptrs = Vec::new();
    for _ in 0..8 {
        let p = alloc_untouched(layout(4096, 16)).unwrap().as_ptr();
        assert_eq!(os::is_resident(p), Some(false), "block {p:?} was touched");
        ptrs.push(p);
    }
    for &p in &ptrs {
        // SAFETY: a live 4096-byte block.
        unsafe { *p = 1 };
        assert_eq!(os::is_resident(p), Some(true));
        // SAFETY: the block belongs to the pool (not to this thread's heap).
        assert_eq!(unsafe { alloc::heap_of(p) }, heap::consumer_pool());
    }
    // Freed (a remote free into the pool) and reallocated: the recycled
    // block is handed out again, and it is resident: it was placed already.
    // SAFETY: live block.
    unsafe { dealloc(ptrs[0]) };
    let again = alloc_untouched(layout(4096, 16)).unwrap().as_ptr();
    assert_eq!(again, ptrs[0]);
    // Large objects: a fresh mapping, untouched.
    let big = alloc_untouched(layout(1 << 20, 16)).unwrap().as_ptr();
    assert_eq!(os::is_resident(big), Some(false));
    for p in ptrs.into_iter().skip(1).chain([again, big]) {
        // SAFETY: live blocks.
        unsafe { dealloc(p) };
    }
}

#[test]
fn alloc_for_recycles_what_the_owner_frees() {
    // Rounds of: this thread allocates 500 blocks for the consumer, the
    // consumer frees them all (owner frees into shared pages, handed back in
    // batches through thread_free). The claimed pages must be refilled from
    // those frees: the number of distinct addresses stays near one round's
    // worth instead of growing with every round.
    const N: usize = 500;
    const ROUNDS: usize = 20;
    let (htx, hrx) = mpsc::channel();
    let (ptx, prx) = mpsc::channel::<Vec<usize>>();
    let (dtx, drx) = mpsc::channel::<()>();
    let consumer = std::thread::spawn(move || {
        htx.send(Heap::of_current_thread()).unwrap();
        for batch in prx {
            for p in batch {
                // SAFETY: each block was sent once and is live.
                unsafe { dealloc(p as *mut u8) };
            }
            dtx.send(()).unwrap();
        }
    });
    let handle = hrx.recv().unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..ROUNDS {
        let batch: Vec<usize> = (0..N)
            .map(|_| alloc_for(handle, layout(64, 16)).unwrap().as_ptr() as usize)
            .collect();
        seen.extend(batch.iter().copied());
        ptx.send(batch).unwrap();
        drx.recv().unwrap();
    }
    drop(ptx);
    consumer.join().unwrap();
    // One round needs N blocks; at most SHARED_FLUSH_BATCH - 1 frees per
    // page wait in the owner's local list, and a fresh page may be carved.
    assert!(
        seen.len() <= 2 * N + PAGE_SIZE / 64,
        "{} distinct blocks for {ROUNDS} rounds of {N}",
        seen.len()
    );
}

#[test]
fn a_claimed_page_keeps_its_free_list_in_the_claim() {
    // A producer thread allocates for this thread's heap: while it holds
    // the claim, the page descriptor's `free` stays empty (the list is in
    // the producer's claim, so its allocations write nothing the owner's
    // frees write); when the producer exits, the rest of the list goes
    // back to the page, and the next claimer continues from it.
    let me = Heap::of_current_thread();
    let (tx, rx) = mpsc::channel::<Vec<usize>>();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let producer = std::thread::spawn(move || {
        let v: Vec<usize> = (0..10)
            .map(|_| alloc_for(me, layout(48, 16)).unwrap().as_ptr() as usize)
            .collect();
        tx.send(v).unwrap();
        stop_rx.recv().unwrap();
    });
    let blocks = rx.recv().unwrap();
    let page = page_of(blocks[0] as *mut u8);
    // SAFETY: the page is a live shared page of this heap; `free` and
    // `claimed` are only read here (the producer is waiting).
    unsafe {
        assert!((*page).shared);
        assert!(!(*page).claimed.is_null());
        assert!(
            (*page).free.is_null(),
            "the claimed page's list is in the claim"
        );
    }
    stop_tx.send(()).unwrap();
    producer.join().unwrap();
    // SAFETY: as above; the claim was released at the producer's exit.
    unsafe {
        assert!((*page).claimed.is_null());
        assert!(
            !(*page).free.is_null(),
            "the claim's list went back to the page"
        );
    }
    // Another thread claims the page again and continues with that list:
    // its block is not one of those still live.
    let next = std::thread::spawn(move || alloc_for(me, layout(48, 16)).unwrap().as_ptr() as usize)
        .join()
        .unwrap();
    assert!(!blocks.contains(&next));
    for p in blocks.into_iter().chain([next]) {
        // SAFETY: live blocks of this thread's heap.
        unsafe { dealloc(p as *mut u8) };
    }
}

#[test]
fn pages_claimed_for_a_heap_with_a_home_node_are_bound_there() {
    // On a machine with several nodes a thread heap records its owner's
    // node; this one has one node, so set it by hand (node 0) and let
    // another thread allocate for this heap from a class nothing here has
    // used: the fresh shared page is bound (MPOL_PREFERRED) before it is
    // carved. A heap without a home node gets no policy.
    assert_eq!(os::current_node().map(|n| n < 64), Some(true));
    let me = Heap::of_current_thread();
    // This thread may have adopted a heap with released pages still
    // resident, which a claim would take first (and never binds): let
    // them age past the purge delay and purge them.
    std::thread::sleep(std::time::Duration::from_millis(60));
    // SAFETY: heaps are never freed; purging takes the heap lock.
    unsafe {
        segment::maybe_purge(me.as_ptr());
        assert_eq!(
            (*me.as_ptr())
                .dirty_pages
                .load(core::sync::atomic::Ordering::Relaxed),
            0
        );
    }
    let alloc_elsewhere = move |size: usize| {
        std::thread::spawn(move || alloc_for(me, layout(size, 16)).unwrap().as_ptr() as usize)
            .join()
            .unwrap() as *mut u8
    };
    let unbound = alloc_elsewhere(7000);
    // SAFETY: heaps are never freed; only this test's thread owns `me`.
    unsafe {
        (*me.as_ptr())
            .home_node
            .store(0, core::sync::atomic::Ordering::Relaxed)
    };
    let bound = alloc_elsewhere(9000);
    // SAFETY: as above.
    unsafe {
        (*me.as_ptr())
            .home_node
            .store(usize::MAX, core::sync::atomic::Ordering::Relaxed)
    };
    match (os::policy_of(unbound), os::policy_of(bound)) {
        (Some(u), Some(b)) => {
            assert_eq!(u, 0, "no home node: default policy");
            assert_eq!(b, 1, "home node: MPOL_PREFERRED");
        }
        other => eprintln!("notice: get_mempolicy unavailable ({other:?}); binding not checked"),
    }
    for p in [unbound, bound] {
        // SAFETY: live blocks of this thread's heap.
        unsafe { dealloc(p) };
    }
}

#[test]
fn the_clock_comes_from_the_vdso_and_agrees_with_libc() {
    // Linux maps a vDSO with clock_gettime on x86-64 and AArch64: the
    // allocator must find it there rather than call libc's interposable
    // clock_gettime under its locks (see `os::now_ms`).
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert!(
            os::vdso_clock_gettime().is_some(),
            "no clock_gettime in the vDSO"
        );
    }
    let libc_ms = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
    };
    let before = libc_ms();
    let ours = os::now_ms();
    let after = libc_ms();
    assert!(
        before <= ours && ours <= after,
        "{before} <= {ours} <= {after}"
    );
    std::thread::sleep(std::time::Duration::from_millis(30));
    let later = os::now_ms();
    assert!(
        later >= ours + 20 && later <= libc_ms(),
        "{ours} -> {later}"
    );
}

#[test]
fn signals_blocked_guard_blocks_and_restores() {
    let before = os::SignalsBlocked::current_mask();
    {
        let _g = os::SignalsBlocked::new();
        let during = os::SignalsBlocked::current_mask();
        // SIGALRM (14) and SIGUSR1 (10) blocked; glibc's 32 and 33 not.
        assert_ne!(during & (1 << (14 - 1)), 0);
        assert_ne!(during & (1 << (10 - 1)), 0);
        assert_eq!(during & (1 << (32 - 1)), before & (1 << (32 - 1)));
        assert_eq!(during & (1 << (33 - 1)), before & (1 << (33 - 1)));
    }
    assert_eq!(os::SignalsBlocked::current_mask(), before);
}
