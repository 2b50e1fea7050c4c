//! A minimal lock around the runtime's table that, unlike
//! `std::sync::Mutex`, can be held across `fork`: `pthread_atfork`
//! handlers take it before the fork and release it in both parent and
//! child, so a child never inherits it locked by a thread that no longer
//! exists.
//!
//! Cost: an uncontended lock/unlock is one compare-exchange and one store;
//! under contention it spins briefly, then yields the CPU (`sched_yield`).

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A spin-then-yield lock protecting a `T`.
pub(crate) struct Lock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `LockGuard`, which exists only
// while `held` is true for it alone (acquire/release on `held`), so access
// is exclusive; `T: Send` lets it be used from any thread.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A new, unlocked lock.
    pub(crate) const fn new(value: T) -> Lock<T> {
        Lock {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Acquire without producing a guard (for `pthread_atfork`'s prepare).
    pub(crate) fn raw_lock(&self) {
        self.acquire(None);
    }

    /// Try to take the lock: 64 spins, then yields (at most `max_yields`;
    /// `None`: until it is taken). `false`: not taken.
    fn acquire(&self, max_yields: Option<u32>) -> bool {
        let mut tries = 0u32;
        while self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            if tries < 64 {
                core::hint::spin_loop();
            } else if max_yields.is_none_or(|m| tries - 64 < m) {
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            } else {
                return false;
            }
            tries = tries.saturating_add(1);
        }
        true
    }

    /// Release a lock taken with [`Lock::raw_lock`].
    ///
    /// # Safety
    /// The caller must hold the lock through `raw_lock` (not a guard).
    pub(crate) unsafe fn raw_unlock(&self) {
        self.held.store(false, Ordering::Release);
    }

    /// Acquire within a bounded wait (64 spins, then `yields` yields), or
    /// `None`: for a caller that may run in a signal handler which
    /// interrupted the holder's wait for something the handler holds
    /// (libc's malloc lock), where waiting forever would deadlock.
    pub(crate) fn lock_bounded(&self, yields: u32) -> Option<LockGuard<'_, T>> {
        self.acquire(Some(yields))
            .then_some(LockGuard { lock: self })
    }

    /// Acquire and return a guard that releases on drop.
    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        self.raw_lock();
        LockGuard { lock: self }
    }
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
        self.lock.held.store(false, Ordering::Release);
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
}
