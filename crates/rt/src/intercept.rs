//! Interposed libc functions: the malloc family and `pthread_create` /
//! `pthread_join` (which also order the threads for the race detector).
//! Each forwards to the real function found with `dlsym(RTLD_NEXT, ..)`
//! (see `sys`).
//!
//! The allocation functions are tiny naked trampolines that pass their
//! return address (the allocation site) as one extra argument to the Rust
//! implementation: on x86-64 it is read from `[rsp]`, on AArch64 it is in
//! `x30`. Other architectures are not supported yet.
//!
//! Ordering rule: an object is removed from the table *before* its memory
//! goes back to the real allocator, and added *after* the real allocator
//! hands it out, so a concurrent reuse of the same address can never be
//! confused with the old object.

use crate::state::{self, AllocFn, Guard, FINISHED};
use crate::sys::{self, real, StartFn};
use crate::trace;
use core::ffi::{c_int, c_void};
use core::ptr::null_mut;
use loci_trace::Event;
use std::sync::atomic::Ordering;

trampoline!(
    /// Interposed `malloc`: records the block and its call site.
    malloc(size: usize) -> *mut c_void => malloc_impl, "rsi", "x1");
trampoline!(
    /// Interposed `calloc`.
    calloc(n: usize, size: usize) -> *mut c_void => calloc_impl, "rdx", "x2");
trampoline!(
    /// Interposed `realloc`: the old block is retired, the new one recorded
    /// at this call site.
    realloc(p: *mut c_void, size: usize) -> *mut c_void => realloc_impl, "rdx", "x2");
trampoline!(
    /// Interposed `reallocarray`.
    reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void => reallocarray_impl, "rcx", "x3");
trampoline!(
    /// Interposed `posix_memalign`.
    posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int => posix_memalign_impl, "rcx", "x3");
trampoline!(
    /// Interposed `aligned_alloc`.
    aligned_alloc(align: usize, size: usize) -> *mut c_void => aligned_alloc_impl, "rdx", "x2");
trampoline!(
    /// Interposed `memalign`.
    memalign(align: usize, size: usize) -> *mut c_void => memalign_impl, "rdx", "x2");
trampoline!(
    /// Interposed `valloc`.
    valloc(size: usize) -> *mut c_void => valloc_impl, "rsi", "x1");
trampoline!(
    /// Interposed `pvalloc`.
    pvalloc(size: usize) -> *mut c_void => pvalloc_impl, "rsi", "x1");

/// Record a block the real allocator just returned.
fn note_alloc(p: *mut c_void, size: usize, site: usize, func: AllocFn) {
    if p.is_null() || sys::is_boot(p) || FINISHED.load(Ordering::Relaxed) {
        return;
    }
    let Some(g) = Guard::enter() else { return };
    let tid = state::current_tid(&g);
    let caller = state::shadow_top();
    let mut t = state::table();
    let stack = state::stack_node();
    t.alloc(p as usize, size, tid, site, caller, stack, func);
}

/// Retire the record of a block about to be freed by a call at `pc`
/// (and report a race of the free with an earlier access, see
/// `Table::free`).
fn note_free(p: *mut c_void, pc: usize) {
    if p.is_null() || sys::is_boot(p) {
        return;
    }
    let Some(g) = Guard::enter() else { return };
    let tid = state::current_tid(&g);
    let stack = state::stack_node();
    let mut t = state::table();
    if let Some(r) = t.free(p as usize, tid, pc, stack) {
        crate::race_report::report(&t, &r);
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

unsafe extern "C" fn malloc_impl(size: usize, site: usize) -> *mut c_void {
    let p = match real::malloc() {
        // SAFETY: forwarding the caller's arguments to the real malloc.
        Some(f) => crate::fast::in_allocator(|| unsafe { f(size) }),
        None => sys::boot_alloc(size, 16),
    };
    note_alloc(p, size, site, AllocFn::Malloc);
    p
}

unsafe extern "C" fn calloc_impl(n: usize, size: usize, site: usize) -> *mut c_void {
    let p = match real::calloc() {
        // SAFETY: forwarding the caller's arguments to the real calloc.
        Some(f) => crate::fast::in_allocator(|| unsafe { f(n, size) }),
        None => match n.checked_mul(size) {
            Some(total) => sys::boot_alloc(total, 16),
            None => null_mut(),
        },
    };
    note_alloc(p, n.saturating_mul(size), site, AllocFn::Calloc);
    p
}

/// `realloc` of a bootstrap block: allocate anew and copy.
unsafe fn realloc_boot(p: *mut c_void, size: usize, site: usize) -> *mut c_void {
    // SAFETY: malloc_impl has no preconditions beyond malloc's.
    let q = unsafe { malloc_impl(size, site) };
    if !q.is_null() {
        let n = sys::boot_size(p).min(size);
        // SAFETY: `p` holds `boot_size(p)` bytes, `q` at least `size`; the
        // blocks are distinct.
        unsafe { core::ptr::copy_nonoverlapping(p as *const u8, q as *mut u8, n) };
    }
    q
}

unsafe extern "C" fn realloc_impl(p: *mut c_void, size: usize, site: usize) -> *mut c_void {
    if sys::is_boot(p) {
        // SAFETY: `p` is a live bootstrap block.
        return unsafe { realloc_boot(p, size, site) };
    }
    let Some(f) = real::realloc() else {
        return null_mut();
    };
    let old = if p.is_null() {
        None
    } else {
        Guard::enter().and_then(|_g| state::table().take(p as usize))
    };
    // SAFETY: forwarding the caller's arguments to the real realloc.
    let q = crate::fast::in_allocator(|| unsafe { f(p, size) });
    if let Some(obj) = old {
        if let Some(g) = Guard::enter() {
            let tid = state::current_tid(&g);
            let mut t = state::table();
            if q.is_null() && size != 0 {
                // Failed: the old block is still live.
                t.put_back(p as usize, obj);
            } else if q == p {
                // Resized in place: the new object replaces it.
                t.emit_free(tid, &obj);
                t.retire(obj);
            } else {
                // Moved (or freed by `realloc(p, 0)`): a free of the old
                // block, as for `free`.
                let stack = state::stack_node();
                if let Some(r) = t.free_taken(obj, tid, site, stack, crate::race_report::REALLOC) {
                    crate::race_report::report(&t, &r);
                }
            }
        }
    }
    note_alloc(q, size, site, AllocFn::Realloc);
    q
}

unsafe extern "C" fn reallocarray_impl(
    p: *mut c_void,
    n: usize,
    size: usize,
    site: usize,
) -> *mut c_void {
    match n.checked_mul(size) {
        // SAFETY: same contract as realloc.
        Some(total) => unsafe { realloc_impl(p, total, site) },
        None => {
            // SAFETY: __errno_location always returns this thread's errno.
            unsafe { *libc::__errno_location() = libc::ENOMEM };
            null_mut()
        }
    }
}

unsafe extern "C" fn posix_memalign_impl(
    out: *mut *mut c_void,
    align: usize,
    size: usize,
    site: usize,
) -> c_int {
    match real::posix_memalign() {
        Some(f) => {
            // SAFETY: forwarding the caller's arguments.
            let rc = crate::fast::in_allocator(|| unsafe { f(out, align, size) });
            if rc == 0 {
                // SAFETY: on success the real function stored the block in *out.
                note_alloc(unsafe { *out }, size, site, AllocFn::PosixMemalign);
            }
            rc
        }
        None => {
            let p = sys::boot_alloc(size, align);
            if p.is_null() {
                return libc::ENOMEM;
            }
            // SAFETY: the caller passes a valid out-pointer.
            unsafe { *out = p };
            0
        }
    }
}

unsafe extern "C" fn aligned_alloc_impl(align: usize, size: usize, site: usize) -> *mut c_void {
    let p = match real::aligned_alloc() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => crate::fast::in_allocator(|| unsafe { f(align, size) }),
        None => sys::boot_alloc(size, align),
    };
    note_alloc(p, size, site, AllocFn::AlignedAlloc);
    p
}

unsafe extern "C" fn memalign_impl(align: usize, size: usize, site: usize) -> *mut c_void {
    let p = match real::memalign() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => crate::fast::in_allocator(|| unsafe { f(align, size) }),
        None => sys::boot_alloc(size, align),
    };
    note_alloc(p, size, site, AllocFn::Memalign);
    p
}

unsafe extern "C" fn valloc_impl(size: usize, site: usize) -> *mut c_void {
    let p = match real::valloc() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => crate::fast::in_allocator(|| unsafe { f(size) }),
        None => sys::boot_alloc(size, page_size()),
    };
    note_alloc(p, size, site, AllocFn::Valloc);
    p
}

unsafe extern "C" fn pvalloc_impl(size: usize, site: usize) -> *mut c_void {
    let page = page_size();
    let rounded = size.div_ceil(page).max(1) * page;
    let p = match real::pvalloc() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => crate::fast::in_allocator(|| unsafe { f(size) }),
        None => sys::boot_alloc(rounded, page),
    };
    note_alloc(p, rounded, site, AllocFn::Pvalloc);
    p
}

trampoline!(
    /// Interposed `free`: retires the block's record (checking the free
    /// for races), then frees it.
    free(p: *mut c_void) => free_impl, "rsi", "x1");

unsafe extern "C" fn free_impl(p: *mut c_void, pc: usize) {
    if p.is_null() || sys::is_boot(p) {
        return;
    }
    note_free(p, pc);
    if let Some(f) = real::free() {
        // SAFETY: `p` came from the real allocator (bootstrap blocks were
        // filtered out above).
        crate::fast::in_allocator(|| unsafe { f(p) });
    }
}

/// Interposed `malloc_usable_size`: answers for bootstrap blocks too.
///
/// # Safety
/// As for libc's `malloc_usable_size`.
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    if sys::is_boot(p) {
        return sys::boot_size(p);
    }
    match real::malloc_usable_size() {
        // SAFETY: forwarding the caller's argument.
        Some(f) => crate::fast::in_allocator(|| unsafe { f(p) }),
        None => 0,
    }
}

/// What a new thread needs to start: boxed by `pthread_create`.
struct Start {
    routine: StartFn,
    arg: *mut c_void,
    tid: u32,
    /// The creator's signal mask, restored once the thread knows its id
    /// (it starts with all signals blocked, so that a signal handler
    /// cannot run in it before then and be attributed to no thread).
    mask: libc::sigset_t,
}

unsafe extern "C" fn thread_start(p: *mut c_void) -> *mut c_void {
    let (routine, arg) = {
        let _g = Guard::enter();
        // SAFETY: `p` is the `Box<Start>` leaked by our pthread_create, handed
        // to exactly this thread.
        let start = unsafe { Box::from_raw(p as *mut Start) };
        state::set_current_tid(start.tid);
        // SAFETY: pthread_self and gettid have no preconditions.
        let (me, os_tid) = unsafe { (libc::pthread_self(), libc::gettid()) };
        let stack = _g.as_ref().map_or((0, 0), state::own_stack);
        let mut t = state::table();
        let info = t.thread_mut(start.tid);
        info.pthread = Some(me);
        info.os_tid = os_tid as i64;
        info.stack = stack;
        let parent = info.parent;
        t.emit(Event::ThreadStart {
            thread: start.tid,
            parent,
        });
        t.emit(Event::Acquire {
            thread: start.tid,
            object: trace::CREATE_OBJ | start.tid as u64,
        });
        // SAFETY: restoring the creator's mask, a valid sigset_t.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &start.mask, core::ptr::null_mut()) };
        (start.routine, start.arg)
    };
    // SAFETY: calling the user's start routine with its argument, as the
    // real pthread_create would have.
    let ret = unsafe { routine(arg) };
    note_thread_exit();
    ret
}

/// The current thread ends (its start routine returned or it called
/// `pthread_exit`): mark it finished and trace its exit. Once per thread.
fn note_thread_exit() {
    let Some(g) = Guard::enter() else { return };
    let me = state::current_tid(&g);
    let mut t = state::table();
    let info = t.thread_mut(me);
    if info.finished {
        return;
    }
    info.finished = true;
    t.emit(Event::Release {
        thread: me,
        object: trace::EXIT_OBJ | me as u64,
    });
    t.emit(Event::ThreadExit { thread: me });
}

/// Interposed `pthread_exit`: the thread's end is recorded as when its
/// start routine returns, then the real `pthread_exit` runs.
///
/// # Safety
/// As for libc's `pthread_exit`.
#[no_mangle]
pub unsafe extern "C" fn pthread_exit(ret: *mut c_void) -> ! {
    let Some(f) = real::pthread_exit() else {
        sys::missing("pthread_exit")
    };
    note_thread_exit();
    // SAFETY: forwarding the caller's argument; it does not return.
    unsafe { f(ret) }
}

trampoline!(
    /// Interposed `pthread_create`: gives the new thread the next id,
    /// records its parent, start routine and creation site, and starts it
    /// with the parent's vector clock.
    pthread_create(
        thread: *mut libc::pthread_t,
        attr: *const libc::pthread_attr_t,
        routine: StartFn,
        arg: *mut c_void
    ) -> c_int => pthread_create_impl, "r8", "x4");

unsafe extern "C" fn pthread_create_impl(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    routine: StartFn,
    arg: *mut c_void,
    pc: usize,
) -> c_int {
    let Some(real_create) = real::pthread_create() else {
        sys::missing("pthread_create")
    };
    let Some(g) = Guard::enter() else {
        // SAFETY: forwarding (only reachable from inside the runtime).
        return unsafe { real_create(thread, attr, routine, arg) };
    };
    let tid = state::new_thread(&g, routine as usize, pc);
    // SAFETY: sigset_t is plain data; sigfillset and pthread_sigmask only
    // write the sets they are given.
    let (all, mut mask) = unsafe {
        let mut all: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut all);
        (all, core::mem::zeroed::<libc::sigset_t>())
    };
    // SAFETY: as above; blocks every signal in this thread until the new
    // thread inherited the blocked mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut mask) };
    let start = Box::into_raw(Box::new(Start {
        routine,
        arg,
        tid,
        mask,
    }));
    drop(g);
    // SAFETY: forwarding the caller's arguments, with our start routine and
    // the box it consumes.
    let rc = unsafe { real_create(thread, attr, thread_start, start as *mut c_void) };
    // SAFETY: restoring this thread's own mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &mask, core::ptr::null_mut()) };
    if rc != 0 {
        let _g = Guard::enter();
        // SAFETY: the thread was not created, so the box is still ours.
        drop(unsafe { Box::from_raw(start) });
    } else if let Some(_g) = Guard::enter() {
        // The handle now, so that a `pthread_detach` right after this
        // finds the thread even before it ran.
        let mut detach_state = libc::PTHREAD_CREATE_JOINABLE;
        // SAFETY: `attr`, when not null, is the caller's initialised
        // attribute object; `thread` was written by the real call.
        let detached = !attr.is_null()
            && unsafe { pthread_attr_getdetachstate(attr, &mut detach_state) } == 0
            && detach_state == libc::PTHREAD_CREATE_DETACHED;
        let mut t = state::table();
        let info = t.thread_mut(tid);
        // SAFETY: as above.
        info.pthread = Some(unsafe { *thread });
        info.detached |= detached;
    }
    rc
}

extern "C" {
    // POSIX, in glibc; the `libc` crate declares only the setter.
    fn pthread_attr_getdetachstate(attr: *const libc::pthread_attr_t, state: *mut c_int) -> c_int;
}

/// The most recent thread with handle `thread` that is neither joined nor
/// detached (handles are reused once a thread is gone).
fn by_handle(t: &state::Table, thread: libc::pthread_t) -> Option<usize> {
    t.threads
        .iter()
        .rposition(|i| i.pthread == Some(thread) && i.joined_by.is_none() && !i.detached)
}

/// After a successful join of `thread` (`pthread_join` and its `_np`
/// variants): record which thread joined which; the joiner acquires the
/// finished thread's clock.
fn note_joined(thread: libc::pthread_t) {
    let Some(g) = Guard::enter() else { return };
    let me = state::current_tid(&g);
    let mut t = state::table();
    if let Some(child) = by_handle(&t, thread) {
        let info = &mut t.threads[child];
        info.joined_by = Some(me);
        info.finished = true;
        t.hb.thread_joined(me, child as u32);
        t.emit(Event::Acquire {
            thread: me,
            object: trace::EXIT_OBJ | child as u64,
        });
    }
}

/// Interposed `pthread_detach`: the thread is not a leak when it ends
/// unjoined.
///
/// # Safety
/// As for libc's `pthread_detach`.
#[no_mangle]
pub unsafe extern "C" fn pthread_detach(thread: libc::pthread_t) -> c_int {
    let Some(real_detach) = real::pthread_detach() else {
        sys::missing("pthread_detach")
    };
    // SAFETY: forwarding the caller's argument.
    let rc = unsafe { real_detach(thread) };
    if rc == 0 {
        if let Some(_g) = Guard::enter() {
            let mut t = state::table();
            if let Some(i) = by_handle(&t, thread) {
                t.threads[i].detached = true;
            }
        }
    }
    rc
}

/// Interposed `pthread_tryjoin_np`: a join when it succeeds.
///
/// # Safety
/// As for glibc's `pthread_tryjoin_np`.
#[no_mangle]
pub unsafe extern "C" fn pthread_tryjoin_np(
    thread: libc::pthread_t,
    ret: *mut *mut c_void,
) -> c_int {
    let Some(real_join) = real::pthread_tryjoin_np() else {
        sys::missing("pthread_tryjoin_np")
    };
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { real_join(thread, ret) };
    if rc == 0 {
        note_joined(thread);
    }
    rc
}

/// Interposed `pthread_timedjoin_np`: a join when it succeeds.
///
/// # Safety
/// As for glibc's `pthread_timedjoin_np`.
#[no_mangle]
pub unsafe extern "C" fn pthread_timedjoin_np(
    thread: libc::pthread_t,
    ret: *mut *mut c_void,
    abstime: *const libc::timespec,
) -> c_int {
    let Some(real_join) = real::pthread_timedjoin_np() else {
        sys::missing("pthread_timedjoin_np")
    };
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { real_join(thread, ret, abstime) };
    if rc == 0 {
        note_joined(thread);
    }
    rc
}

/// Interposed `pthread_join`: records which thread joined which; the
/// joiner acquires the finished thread's clock.
///
/// # Safety
/// As for libc's `pthread_join`.
#[no_mangle]
pub unsafe extern "C" fn pthread_join(thread: libc::pthread_t, ret: *mut *mut c_void) -> c_int {
    let Some(real_join) = real::pthread_join() else {
        sys::missing("pthread_join")
    };
    // SAFETY: forwarding the caller's arguments.
    let rc = unsafe { real_join(thread, ret) };
    if rc == 0 {
        note_joined(thread);
    }
    rc
}
