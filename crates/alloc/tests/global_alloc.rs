//! `LociAlloc` as the `#[global_allocator]` under a multi-threaded workload:
//! collections grown and shrunk, objects handed between threads and freed
//! there, threads exiting while their objects live on.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::thread;

#[global_allocator]
static GLOBAL: loci_alloc::LociAlloc = loci_alloc::LociAlloc;

fn work(seed: u64) -> (u64, Vec<Box<[u64]>>) {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut map: HashMap<u64, String> = HashMap::new();
    let mut tree: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut keep = Vec::new();
    for i in 0..20_000u64 {
        let r = next();
        map.insert(r % 5000, format!("{i}-{r}"));
        tree.insert(r % 3000, vec![(r & 0xff) as u8; (r % 300) as usize]);
        if r % 97 == 0 {
            keep.push(vec![i; (r % 5000) as usize].into_boxed_slice());
        }
        if r % 13 == 0 {
            map.remove(&(next() % 5000));
        }
    }
    let sum = map.values().map(|s| s.len() as u64).sum::<u64>()
        + tree
            .values()
            .map(|v| v.iter().map(|&b| b as u64).sum::<u64>())
            .sum::<u64>();
    (sum, keep)
}

#[test]
fn multithreaded_workload_matches_single_threaded_results() {
    // Reference results computed on this thread.
    let expected: Vec<u64> = (1..=4).map(|s| work(s * 7919).0).collect();
    let (tx, rx) = mpsc::channel::<Vec<Box<[u64]>>>();
    let handles: Vec<_> = (1..=4u64)
        .map(|s| {
            let tx = tx.clone();
            thread::spawn(move || {
                let (sum, keep) = work(s * 7919);
                // Objects outlive this thread and are freed by the receiver.
                tx.send(keep).unwrap();
                sum
            })
        })
        .collect();
    drop(tx);
    let got: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, expected);
    let mut boxes = 0;
    for keep in rx {
        for b in keep {
            let first = b.first().copied();
            assert!(b.iter().all(|&v| Some(v) == first));
            boxes += 1;
        }
    }
    assert!(boxes > 100);
}

#[test]
fn producer_consumer_strings() {
    let (tx, rx) = mpsc::sync_channel::<String>(64);
    let consumer = thread::spawn(move || rx.into_iter().map(|s| s.len()).sum::<usize>());
    let mut expected = 0;
    for i in 0..100_000usize {
        let s = "x".repeat(i % 700);
        expected += s.len();
        tx.send(s).unwrap();
    }
    drop(tx);
    assert_eq!(consumer.join().unwrap(), expected);
}
