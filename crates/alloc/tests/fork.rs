//! `fork` while other threads are inside the allocator: the child must be
//! able to allocate from every kind of heap (its own, another thread's
//! through `alloc_for`, a node heap, the region cache) without finding a
//! lock held by a thread that does not exist in it. Without the allocator's
//! `pthread_atfork` handlers this test hangs in a child (and fails by
//! timeout) within a few dozen forks.

use std::alloc::Layout;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loci_alloc::{alloc_for, alloc_on_node, allocate, dealloc, Heap, HeapHandle};

#[global_allocator]
static GLOBAL: loci_alloc::LociAlloc = loci_alloc::LociAlloc;

/// Allocate and free a little of everything, as the child does after fork.
fn churn(target: HeapHandle, rounds: usize) {
    for i in 0..rounds {
        let small = Layout::from_size_align(16 + (i % 50) * 16, 16).unwrap();
        let a = alloc_for(target, small).unwrap();
        let b = alloc_on_node(0, small).unwrap();
        let c = allocate(Layout::from_size_align(300_000, 16).unwrap()).unwrap();
        let d = allocate(Layout::from_size_align(40_000, 16).unwrap()).unwrap();
        // SAFETY: all four are live blocks of this allocator, freed once.
        unsafe {
            a.as_ptr().write(1);
            c.as_ptr().write(2);
            dealloc(a.as_ptr());
            dealloc(b.as_ptr());
            dealloc(c.as_ptr());
            dealloc(d.as_ptr());
        }
    }
}

#[test]
fn fork_while_other_threads_allocate() {
    let stop = Arc::new(AtomicBool::new(false));
    // A heap that the workers allocate into from outside (its lock is hot).
    let (tx, rx) = std::sync::mpsc::channel();
    let owner = std::thread::spawn({
        let stop = stop.clone();
        move || {
            tx.send(Heap::of_current_thread()).unwrap();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let shared = rx.recv().unwrap();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    churn(shared, 50);
                }
            })
        })
        .collect();

    let forks = 200;
    for n in 0..forks {
        // SAFETY: the child only uses the allocator and _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            churn(shared, 20);
            // SAFETY: leave the child without running destructors or atexit.
            unsafe { libc::_exit(0) };
        }
        let start = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                // SAFETY: killing and reaping our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                stop.store(true, Ordering::Relaxed);
                panic!("child {n} of {forks} hung after fork: an allocator lock stayed held");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child {n} failed: status {status:#x}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    owner.join().unwrap();
}
