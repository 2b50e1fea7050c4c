//! A minimal lock around the runtime's table that, unlike
//! `std::sync::Mutex`, can be held across `fork`: `pthread_atfork`
//! handlers take it before the fork and release it in both parent and
//! child, so a child never inherits it locked by a thread that no longer
//! exists.
//!
//! The lock is the three-state futex mutex of U. Drepper, *Futexes Are
//! Tricky* (2011), "mutex3": 0 unlocked, 1 locked, 2 locked and a thread
//! may be asleep on it. A waiter spins briefly, then sleeps in the kernel
//! (`FUTEX_WAIT`) until the holder's unlock wakes it. (It used to yield
//! with `sched_yield` instead: with a thread per core, a yield returns at
//! once, and two threads of `benches/profile/prodcons.c` burnt a quarter
//! of their CPU time spinning on each other's `malloc` and `free`.)
//!
//! Cost: an uncontended lock/unlock is one compare-exchange and one
//! exchange; a contended unlock adds a `FUTEX_WAKE` system call.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

/// Unlocked.
const FREE: u32 = 0;
/// Locked, no thread asleep on it.
const HELD: u32 = 1;
/// Locked, and a thread may be asleep on it (unlock must wake one).
const CONTENDED: u32 = 2;
/// Spins before sleeping: a few hundred nanoseconds, about the length of
/// the runtime's short critical sections.
const SPINS: u32 = 100;
/// How long one bounded wait sleeps at most ([`Lock::lock_bounded`]).
const BOUNDED_WAIT_NS: libc::c_long = 100_000;

/// A spin-then-sleep lock protecting a `T`.
pub(crate) struct Lock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `LockGuard`, which exists only
// while `state` is not FREE for it alone (acquire/release on `state`), so
// access is exclusive; `T: Send` lets it be used from any thread.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A new, unlocked lock.
    pub(crate) const fn new(value: T) -> Lock<T> {
        Lock {
            state: AtomicU32::new(FREE),
            value: UnsafeCell::new(value),
        }
    }

    /// Acquire without producing a guard (for `pthread_atfork`'s prepare).
    pub(crate) fn raw_lock(&self) {
        self.acquire(None);
    }

    /// Take the lock: spin [`SPINS`] times, then sleep until woken (at
    /// most `max_waits` sleeps of [`BOUNDED_WAIT_NS`]; `None`: until it
    /// is taken). `false`: not taken.
    fn acquire(&self, max_waits: Option<u32>) -> bool {
        if self
            .state
            .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        for _ in 0..SPINS {
            core::hint::spin_loop();
            if self.state.load(Ordering::Relaxed) == FREE
                && self
                    .state
                    .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return true;
            }
        }
        let mut waits = 0u32;
        // Taken as CONTENDED: this thread cannot know whether others sleep.
        while self.state.swap(CONTENDED, Ordering::Acquire) != FREE {
            if max_waits.is_some_and(|m| waits >= m) {
                return false;
            }
            waits += 1;
            futex_wait(&self.state, max_waits.map(|_| BOUNDED_WAIT_NS));
        }
        true
    }

    /// Release: wake one sleeper if there may be one.
    fn release(&self) {
        if self.state.swap(FREE, Ordering::Release) == CONTENDED {
            futex_wake(&self.state);
        }
    }

    /// Release a lock taken with [`Lock::raw_lock`].
    ///
    /// # Safety
    /// The caller must hold the lock through `raw_lock` (not a guard).
    pub(crate) unsafe fn raw_unlock(&self) {
        self.release();
    }

    /// Acquire within a bounded wait (spins, then at most `waits` sleeps
    /// of 100 µs), or `None`: for a caller that may run in a signal handler
    /// which interrupted the holder's wait for something the handler holds
    /// (libc's malloc lock), where waiting forever would deadlock.
    pub(crate) fn lock_bounded(&self, waits: u32) -> Option<LockGuard<'_, T>> {
        self.acquire(Some(waits))
            .then_some(LockGuard { lock: self })
    }

    /// Acquire and return a guard that releases on drop.
    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        self.raw_lock();
        LockGuard { lock: self }
    }
}

/// Sleep while `state` is [`CONTENDED`] (or until `timeout_ns` passed, or
/// a wake-up or signal comes: the caller tests the state again).
fn futex_wait(state: &AtomicU32, timeout_ns: Option<libc::c_long>) {
    let ts = timeout_ns.map(|ns| libc::timespec {
        tv_sec: 0,
        tv_nsec: ns,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the aligned u32 at `state` (alive for the
    // call) and the optional timespec; no memory is written. Errors
    // (EAGAIN: the state changed, EINTR, ETIMEDOUT) all mean "look again".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            state.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            CONTENDED,
            ts_ptr,
        )
    };
}

/// Wake one thread asleep on `state`.
fn futex_wake(state: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            state.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        )
    };
}

/// Exclusive access to a [`Lock`]'s value.
pub(crate) struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes it unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_excludes() {
        let l = std::sync::Arc::new(Lock::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let mut g = l.lock();
                        let v = *g;
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*l.lock(), 40_000);
    }

    #[test]
    fn a_bounded_wait_gives_up_and_a_sleeper_is_woken() {
        let l = std::sync::Arc::new(Lock::new(0u64));
        let g = l.lock();
        // Held: spins, two 100 µs sleeps, then gives up.
        assert!(l.lock_bounded(2).is_none());
        // A thread asleep on the lock takes it once it is released.
        let l2 = l.clone();
        let h = std::thread::spawn(move || *l2.lock() += 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(g);
        h.join().unwrap();
        assert_eq!(*l.lock(), 1);
        assert!(l.lock_bounded(0).is_some());
    }
}
