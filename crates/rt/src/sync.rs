//! Interposed synchronisation functions: pthread mutexes, rwlocks,
//! spinlocks, condition variables, barriers, `pthread_once` and POSIX
//! semaphores. Each forwards to the real libc function (resolved with
//! `dlsym(RTLD_NEXT, ..)`, see `sys`) and records its
//! happens-before effect on the race detector (`race`):
//!
//! | call | effect |
//! | --- | --- |
//! | `pthread_mutex_lock`/`trylock`/`timedlock`/`clocklock` (success) | acquire the mutex |
//! | `pthread_mutex_unlock` | release the mutex, then unlock |
//! | `pthread_spin_lock`/`trylock` (success), `pthread_spin_unlock` | as for mutexes |
//! | `pthread_rwlock_rdlock`/`tryrdlock`/`timedrdlock`/`clockrdlock` | acquire the write-unlocks |
//! | `pthread_rwlock_wrlock`/`trywrlock`/`timedwrlock`/`clockwrlock` | acquire write- and read-unlocks |
//! | `pthread_rwlock_unlock` | release (as writer or as reader), then unlock |
//! | `pthread_cond_wait`/`timedwait`/`clockwait` | release the mutex, wait, acquire the mutex |
//! | `pthread_barrier_wait` | release the barrier, wait, acquire it |
//! | `pthread_once` | the initialiser's end releases, every return acquires |
//! | `sem_post` | release the semaphore, then post |
//! | `sem_wait`/`trywait`/`timedwait`/`clockwait` (success) | acquire the semaphore |
//! | `*_destroy`, `pthread_mutex_init` | forget the object's clock |
//!
//! A release is always recorded *before* the real call that lets another
//! thread proceed, and an acquire *after* the real call that waited, so a
//! woken thread always finds the clock it must acquire. A missing real
//! function aborts with a message naming it.
//!
//! `pthread_cond_signal`/`broadcast` are not interposed: as in
//! ThreadSanitizer, a condition variable orders threads through its mutex.

use crate::state;
use crate::sys::{self, cond, real};
use core::ffi::c_int;
use std::cell::Cell;

/// Apply synchronisation effect `op` on object `addr` for the current
/// thread: without the table lock when possible (`fast::sync`).
fn effect(addr: usize, op: SyncOp) {
    if !crate::fast::sync(addr, op) {
        state::with_hb(|t, tid| t.sync_op(tid, addr, op));
    }
}

/// Acquire sync object `addr` for the current thread.
fn acquire(addr: usize) {
    effect(addr, SyncOp::Acquire);
}

/// Release sync object `addr` from the current thread.
fn release(addr: usize) {
    effect(addr, SyncOp::Release);
}

/// Forget the clock of the sync object at `addr` (`size` bytes).
fn forget(addr: usize, size: usize) {
    state::with_hb(|t, _| t.hb.forget_sync(addr, size));
}

/// Did a lock operation that returned `rc` take the lock? (A robust
/// mutex whose owner died is taken too.)
fn taken(rc: c_int) -> bool {
    rc == 0 || rc == libc::EOWNERDEAD
}

macro_rules! real_or_abort {
    ($name:ident) => {
        match real::$name() {
            Some(f) => f,
            None => sys::missing(stringify!($name)),
        }
    };
}

macro_rules! lock_fn {
    ($(#[$doc:meta])* $name:ident($p:ident: $ty:ty $(, $a:ident: $aty:ty)*) => $effect:path) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As for the libc function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $name($p: *mut $ty $(, $a: $aty)*) -> c_int {
            let f = real_or_abort!($name);
            // SAFETY: forwarding the caller's arguments.
            let rc = unsafe { f($p $(, $a)*) };
            if taken(rc) {
                effect($p as usize, $effect);
            }
            rc
        }
    };
}

macro_rules! unlock_fn {
    ($(#[$doc:meta])* $name:ident($p:ident: $ty:ty) => $effect:path) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As for the libc function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $name($p: *mut $ty) -> c_int {
            let f = real_or_abort!($name);
            effect($p as usize, $effect);
            // SAFETY: forwarding the caller's argument.
            unsafe { f($p) }
        }
    };
}

macro_rules! destroy_fn {
    ($(#[$doc:meta])* $name:ident($p:ident: $ty:ty)) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As for the libc function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $name($p: *mut $ty) -> c_int {
            let f = real_or_abort!($name);
            forget($p as usize, core::mem::size_of::<$ty>());
            // SAFETY: forwarding the caller's argument.
            unsafe { f($p) }
        }
    };
}

use crate::race::SyncOp;

lock_fn!(
    /// Interposed `pthread_mutex_lock`: acquires the mutex's clock.
    pthread_mutex_lock(m: libc::pthread_mutex_t) => SyncOp::Acquire);
lock_fn!(
    /// Interposed `pthread_mutex_trylock`: acquires on success.
    pthread_mutex_trylock(m: libc::pthread_mutex_t) => SyncOp::Acquire);
lock_fn!(
    /// Interposed `pthread_mutex_timedlock`: acquires on success.
    pthread_mutex_timedlock(m: libc::pthread_mutex_t, ts: *const libc::timespec) => SyncOp::Acquire);
lock_fn!(
    /// Interposed `pthread_mutex_clocklock` (glibc 2.30): acquires on success.
    pthread_mutex_clocklock(m: libc::pthread_mutex_t, clock: libc::clockid_t, ts: *const libc::timespec) => SyncOp::Acquire);
unlock_fn!(
    /// Interposed `pthread_mutex_unlock`: releases into the mutex's clock.
    pthread_mutex_unlock(m: libc::pthread_mutex_t) => SyncOp::Release);
destroy_fn!(
    /// Interposed `pthread_mutex_destroy`: forgets the mutex's clock.
    pthread_mutex_destroy(m: libc::pthread_mutex_t));

/// Interposed `pthread_mutex_init`: a (re)initialised mutex starts
/// without a clock.
///
/// # Safety
/// As for libc's `pthread_mutex_init`.
#[no_mangle]
pub unsafe extern "C" fn pthread_mutex_init(
    m: *mut libc::pthread_mutex_t,
    attr: *const libc::pthread_mutexattr_t,
) -> c_int {
    let f = real_or_abort!(pthread_mutex_init);
    forget(m as usize, core::mem::size_of::<libc::pthread_mutex_t>());
    // SAFETY: forwarding the caller's arguments.
    unsafe { f(m, attr) }
}

lock_fn!(
    /// Interposed `pthread_spin_lock`: acquires the lock's clock.
    pthread_spin_lock(s: libc::pthread_spinlock_t) => SyncOp::Acquire);
lock_fn!(
    /// Interposed `pthread_spin_trylock`: acquires on success.
    pthread_spin_trylock(s: libc::pthread_spinlock_t) => SyncOp::Acquire);
unlock_fn!(
    /// Interposed `pthread_spin_unlock`: releases into the lock's clock.
    pthread_spin_unlock(s: libc::pthread_spinlock_t) => SyncOp::Release);
destroy_fn!(
    /// Interposed `pthread_spin_destroy`: forgets the lock's clock.
    pthread_spin_destroy(s: libc::pthread_spinlock_t));

lock_fn!(
    /// Interposed `pthread_rwlock_rdlock`: acquires the write-unlocks.
    pthread_rwlock_rdlock(l: libc::pthread_rwlock_t) => SyncOp::ReadLocked);
lock_fn!(
    /// Interposed `pthread_rwlock_tryrdlock`: as `rdlock` on success.
    pthread_rwlock_tryrdlock(l: libc::pthread_rwlock_t) => SyncOp::ReadLocked);
lock_fn!(
    /// Interposed `pthread_rwlock_timedrdlock`: as `rdlock` on success.
    pthread_rwlock_timedrdlock(l: libc::pthread_rwlock_t, ts: *const libc::timespec) => SyncOp::ReadLocked);
lock_fn!(
    /// Interposed `pthread_rwlock_wrlock`: acquires write- and read-unlocks.
    pthread_rwlock_wrlock(l: libc::pthread_rwlock_t) => SyncOp::WriteLocked);
lock_fn!(
    /// Interposed `pthread_rwlock_trywrlock`: as `wrlock` on success.
    pthread_rwlock_trywrlock(l: libc::pthread_rwlock_t) => SyncOp::WriteLocked);
lock_fn!(
    /// Interposed `pthread_rwlock_timedwrlock`: as `wrlock` on success.
    pthread_rwlock_timedwrlock(l: libc::pthread_rwlock_t, ts: *const libc::timespec) => SyncOp::WriteLocked);
lock_fn!(
    /// Interposed `pthread_rwlock_clockrdlock` (glibc 2.30): as `rdlock` on success.
    pthread_rwlock_clockrdlock(l: libc::pthread_rwlock_t, clock: libc::clockid_t, ts: *const libc::timespec) => SyncOp::ReadLocked);
lock_fn!(
    /// Interposed `pthread_rwlock_clockwrlock` (glibc 2.30): as `wrlock` on success.
    pthread_rwlock_clockwrlock(l: libc::pthread_rwlock_t, clock: libc::clockid_t, ts: *const libc::timespec) => SyncOp::WriteLocked);
unlock_fn!(
    /// Interposed `pthread_rwlock_unlock`: releases as writer or reader.
    pthread_rwlock_unlock(l: libc::pthread_rwlock_t) => SyncOp::RwUnlock);
destroy_fn!(
    /// Interposed `pthread_rwlock_destroy`: forgets the lock's clocks.
    pthread_rwlock_destroy(l: libc::pthread_rwlock_t));

/// Interposed `pthread_cond_wait`: the wait releases the mutex and
/// re-acquires it when it returns.
///
/// # Safety
/// As for libc's `pthread_cond_wait`.
#[no_mangle]
pub unsafe extern "C" fn pthread_cond_wait(
    c: *mut libc::pthread_cond_t,
    m: *mut libc::pthread_mutex_t,
) -> c_int {
    let Some(f) = cond::wait() else {
        sys::missing("pthread_cond_wait")
    };
    release(m as usize);
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { f(c, m) };
    acquire(m as usize);
    rc
}

/// Interposed `pthread_cond_timedwait`: as `pthread_cond_wait` (the mutex
/// is re-acquired on timeout too).
///
/// # Safety
/// As for libc's `pthread_cond_timedwait`.
#[no_mangle]
pub unsafe extern "C" fn pthread_cond_timedwait(
    c: *mut libc::pthread_cond_t,
    m: *mut libc::pthread_mutex_t,
    ts: *const libc::timespec,
) -> c_int {
    let Some(f) = cond::timedwait() else {
        sys::missing("pthread_cond_timedwait")
    };
    release(m as usize);
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { f(c, m, ts) };
    acquire(m as usize);
    rc
}

/// Interposed `pthread_cond_clockwait` (glibc 2.30; libstdc++ uses it for
/// `wait_until` on the steady clock): as `pthread_cond_wait`.
///
/// # Safety
/// As for glibc's `pthread_cond_clockwait`.
#[no_mangle]
pub unsafe extern "C" fn pthread_cond_clockwait(
    c: *mut libc::pthread_cond_t,
    m: *mut libc::pthread_mutex_t,
    clock: libc::clockid_t,
    ts: *const libc::timespec,
) -> c_int {
    let f = real_or_abort!(pthread_cond_clockwait);
    release(m as usize);
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { f(c, m, clock, ts) };
    acquire(m as usize);
    rc
}

/// Interposed `pthread_barrier_wait`: every waiter releases into the
/// barrier's clock before waiting and acquires it after.
///
/// # Safety
/// As for libc's `pthread_barrier_wait`.
#[no_mangle]
pub unsafe extern "C" fn pthread_barrier_wait(b: *mut libc::pthread_barrier_t) -> c_int {
    let f = real_or_abort!(pthread_barrier_wait);
    release(b as usize);
    // SAFETY: forwarding the caller's argument.
    let rc = unsafe { f(b) };
    if rc == 0 || rc == libc::PTHREAD_BARRIER_SERIAL_THREAD {
        acquire(b as usize);
    }
    rc
}

destroy_fn!(
    /// Interposed `pthread_barrier_destroy`: forgets the barrier's clock.
    pthread_barrier_destroy(b: libc::pthread_barrier_t));

/// `(control, initialiser)` of the `pthread_once` calls in progress on
/// this thread, innermost last (an initialiser may call `pthread_once`).
const ONCE_DEPTH: usize = 16;

thread_local! {
    static ONCE: [Cell<(usize, usize)>; ONCE_DEPTH] = const { [const { Cell::new((0, 0)) }; ONCE_DEPTH] };
    static ONCE_N: Cell<usize> = const { Cell::new(0) };
}

/// The initialiser we hand to the real `pthread_once`: runs the user's
/// (the innermost pending one of this thread), then releases the control
/// before glibc wakes the other callers.
unsafe extern "C" fn once_trampoline() {
    let n = ONCE_N.with(|n| n.get());
    let (control, init) = ONCE.with(|o| o[n - 1].get());
    // SAFETY: `init` is the `unsafe extern "C" fn()` the user passed to
    // pthread_once, stored by our pthread_once just before this call.
    let init: unsafe extern "C" fn() = unsafe { core::mem::transmute::<usize, _>(init) };
    // SAFETY: calling the user's initialiser, as the real pthread_once would.
    unsafe { init() };
    release(control);
}

/// Interposed `pthread_once`: the initialiser's completion
/// happens-before every return from `pthread_once` on the same control.
///
/// # Safety
/// As for libc's `pthread_once`.
#[no_mangle]
pub unsafe extern "C" fn pthread_once(
    control: *mut libc::pthread_once_t,
    init: unsafe extern "C" fn(),
) -> c_int {
    let f = real_or_abort!(pthread_once);
    let n = ONCE_N.with(|n| n.get());
    if n >= ONCE_DEPTH {
        // Deeper nesting than we track: forward without recording.
        // SAFETY: forwarding the caller's arguments.
        return unsafe { f(control, init) };
    }
    ONCE.with(|o| o[n].set((control as usize, init as usize)));
    ONCE_N.with(|c| c.set(n + 1));
    // SAFETY: forwarding, with our initialiser wrapping the caller's.
    let rc = unsafe { f(control, once_trampoline) };
    ONCE_N.with(|c| c.set(n));
    if rc == 0 {
        acquire(control as usize);
    }
    rc
}

/// Interposed `sem_post`: releases into the semaphore's clock, then posts.
///
/// # Safety
/// As for libc's `sem_post`.
#[no_mangle]
pub unsafe extern "C" fn sem_post(s: *mut libc::sem_t) -> c_int {
    let f = real_or_abort!(sem_post);
    release(s as usize);
    // SAFETY: forwarding the caller's argument.
    unsafe { f(s) }
}

/// Interposed `sem_wait`: acquires the semaphore's clock on success.
///
/// # Safety
/// As for libc's `sem_wait`.
#[no_mangle]
pub unsafe extern "C" fn sem_wait(s: *mut libc::sem_t) -> c_int {
    let f = real_or_abort!(sem_wait);
    // SAFETY: forwarding the caller's argument.
    let rc = unsafe { f(s) };
    if rc == 0 {
        acquire(s as usize);
    }
    rc
}

/// Interposed `sem_trywait`: acquires on success.
///
/// # Safety
/// As for libc's `sem_trywait`.
#[no_mangle]
pub unsafe extern "C" fn sem_trywait(s: *mut libc::sem_t) -> c_int {
    let f = real_or_abort!(sem_trywait);
    // SAFETY: forwarding the caller's argument.
    let rc = unsafe { f(s) };
    if rc == 0 {
        acquire(s as usize);
    }
    rc
}

/// Interposed `sem_timedwait`: acquires on success.
///
/// # Safety
/// As for libc's `sem_timedwait`.
#[no_mangle]
pub unsafe extern "C" fn sem_timedwait(s: *mut libc::sem_t, ts: *const libc::timespec) -> c_int {
    let f = real_or_abort!(sem_timedwait);
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { f(s, ts) };
    if rc == 0 {
        acquire(s as usize);
    }
    rc
}

/// Interposed `sem_clockwait` (glibc 2.30): acquires on success.
///
/// # Safety
/// As for glibc's `sem_clockwait`.
#[no_mangle]
pub unsafe extern "C" fn sem_clockwait(
    s: *mut libc::sem_t,
    clock: libc::clockid_t,
    ts: *const libc::timespec,
) -> c_int {
    let f = real_or_abort!(sem_clockwait);
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { f(s, clock, ts) };
    if rc == 0 {
        acquire(s as usize);
    }
    rc
}

destroy_fn!(
    /// Interposed `sem_destroy`: forgets the semaphore's clock.
    sem_destroy(s: libc::sem_t));
