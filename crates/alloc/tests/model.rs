//! Property test: random alloc/free/realloc sequences on 2-4 threads,
//! including `alloc_for` another thread's heap and frees of objects handed
//! to another thread, checked against a model: every block is aligned, no
//! two live blocks overlap, and contents survive until free and across
//! realloc (up to the smaller size).

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex};

use loci_alloc::{alloc_for, allocate, dealloc, reallocate, Heap, HeapHandle};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Alloc { size: usize, align_shift: u32 },
    AllocFor { target: usize, size: usize },
    Free(usize),
    Realloc(usize, usize),
    Give(usize),
}

#[derive(Clone, Copy, Debug)]
struct Obj {
    addr: usize,
    size: usize,
    seed: u8,
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..300,
        4 => 300usize..17_000,
        1 => 17_000usize..300_000,
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (size_strategy(), prop_oneof![4 => Just(0u32), 1 => 0u32..14, 1 => Just(22u32)])
            .prop_map(|(size, align_shift)| Op::Alloc { size, align_shift }),
        2 => (0usize..4, size_strategy()).prop_map(|(target, size)| Op::AllocFor { target, size }),
        4 => any::<usize>().prop_map(Op::Free),
        3 => (any::<usize>(), size_strategy()).prop_map(|(i, s)| Op::Realloc(i, s)),
        2 => any::<usize>().prop_map(Op::Give),
    ]
}

/// Live ranges of all threads: start -> end.
type Ranges = Mutex<BTreeMap<usize, usize>>;

fn register(ranges: &Ranges, o: Obj) {
    let mut r = ranges.lock().unwrap();
    let end = o.addr + o.size.max(1);
    if let Some((&s, &e)) = r.range(..end).next_back() {
        assert!(
            e <= o.addr || s >= end,
            "block {:#x}+{} overlaps {:#x}..{:#x}",
            o.addr,
            o.size,
            s,
            e
        );
    }
    r.insert(o.addr, end);
}

fn unregister(ranges: &Ranges, o: Obj) {
    assert!(ranges.lock().unwrap().remove(&o.addr).is_some());
}

fn fill(o: Obj) {
    let p = o.addr as *mut u8;
    for i in 0..o.size {
        // SAFETY: the block is live and holds o.size bytes.
        unsafe { *p.add(i) = o.seed.wrapping_add(i as u8) };
    }
}

fn check(o: Obj, upto: usize) {
    let p = o.addr as *const u8;
    for i in 0..upto.min(o.size) {
        // SAFETY: as in fill.
        let v = unsafe { *p.add(i) };
        assert_eq!(
            v,
            o.seed.wrapping_add(i as u8),
            "byte {i} of {:#x} changed",
            o.addr
        );
    }
}

fn new_obj(p: *mut u8, size: usize, align: usize, seed: u8) -> Obj {
    assert_eq!(
        p as usize % align,
        0,
        "misaligned {:p} for align {align}",
        p
    );
    Obj {
        addr: p as usize,
        size,
        seed,
    }
}

fn run(threads: Vec<Vec<Op>>) {
    let n = threads.len();
    let ranges: Arc<Ranges> = Arc::default();
    let inboxes: Arc<Vec<Mutex<Vec<Obj>>>> = Arc::new((0..n).map(|_| Mutex::default()).collect());
    let handles: Arc<Mutex<Vec<Option<HeapHandle>>>> = Arc::new(Mutex::new(vec![None; n]));
    let barrier = Arc::new(Barrier::new(n));
    let joins: Vec<_> = threads
        .into_iter()
        .enumerate()
        .map(|(t, ops)| {
            let (ranges, inboxes, handles, barrier) = (
                ranges.clone(),
                inboxes.clone(),
                handles.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                handles.lock().unwrap()[t] = Some(Heap::of_current_thread());
                barrier.wait();
                let hs: Vec<HeapHandle> =
                    handles.lock().unwrap().iter().map(|h| h.unwrap()).collect();
                let mut live: Vec<Obj> = Vec::new();
                let mut seed = t as u8 * 61;
                for op in ops {
                    live.append(&mut inboxes[t].lock().unwrap());
                    seed = seed.wrapping_add(17);
                    match op {
                        Op::Alloc { size, align_shift } => {
                            let align = 1usize << align_shift;
                            let p =
                                allocate(Layout::from_size_align(size, align).unwrap()).unwrap();
                            let o = new_obj(p.as_ptr(), size, align, seed);
                            register(&ranges, o);
                            fill(o);
                            live.push(o);
                        }
                        Op::AllocFor { target, size } => {
                            let p = alloc_for(
                                hs[target % n],
                                Layout::from_size_align(size, 16).unwrap(),
                            )
                            .unwrap();
                            let o = new_obj(p.as_ptr(), size, 16, seed);
                            register(&ranges, o);
                            fill(o);
                            // The object goes to the thread it was allocated for.
                            inboxes[target % n].lock().unwrap().push(o);
                        }
                        Op::Free(i) if !live.is_empty() => {
                            let o = live.swap_remove(i % live.len());
                            check(o, o.size);
                            unregister(&ranges, o);
                            // SAFETY: live block, freed once.
                            unsafe { dealloc(o.addr as *mut u8) };
                        }
                        Op::Realloc(i, size) if !live.is_empty() => {
                            let k = i % live.len();
                            let o = live[k];
                            check(o, o.size);
                            unregister(&ranges, o);
                            // SAFETY: live block allocated with alignment 16 or
                            // more; we keep alignment 16 (the model only asks 16).
                            let p = unsafe { reallocate(o.addr as *mut u8, size, 16) }.unwrap();
                            let moved = new_obj(p.as_ptr(), size, 16, o.seed);
                            check(moved, o.size.min(size));
                            let fresh = Obj { seed, ..moved };
                            register(&ranges, fresh);
                            fill(fresh);
                            live[k] = fresh;
                        }
                        Op::Give(i) if !live.is_empty() => {
                            let o = live.swap_remove(i % live.len());
                            inboxes[(t + 1) % n].lock().unwrap().push(o);
                        }
                        _ => {}
                    }
                }
                // Free half here; leave the rest to outlive this thread.
                let rest = live.split_off(live.len() / 2);
                for o in live {
                    check(o, o.size);
                    unregister(&ranges, o);
                    // SAFETY: live block, freed once.
                    unsafe { dealloc(o.addr as *mut u8) };
                }
                rest
            })
        })
        .collect();
    let mut leftovers: Vec<Obj> = Vec::new();
    for j in joins {
        leftovers.extend(j.join().unwrap());
    }
    for inbox in inboxes.iter() {
        leftovers.append(&mut inbox.lock().unwrap());
    }
    for o in leftovers {
        check(o, o.size);
        unregister(&ranges, o);
        // SAFETY: live block, freed once (often after its thread exited).
        unsafe { dealloc(o.addr as *mut u8) };
    }
    assert!(ranges.lock().unwrap().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_multithreaded_sequences_match_the_model(
        threads in proptest::collection::vec(proptest::collection::vec(op_strategy(), 0..250), 2..=4)
    ) {
        run(threads);
    }
}
