//! The profile when the program does not end through `exit`: interposed
//! `_exit`/`_Exit`, and handlers for the fatal signals (`SIGSEGV`,
//! `SIGBUS`, `SIGFPE`, `SIGILL`, `SIGABRT`, the last one also from
//! `abort()`).
//!
//! `_exit(n)` writes the profile, then ends the process with `n`. When
//! races were reported it first prints `ThreadSanitizer: reported N
//! warnings`, and keeps status `n`, as ThreadSanitizer does at `_exit`
//! (status 66 is for `exit`). In a forked or
//! `vfork`ed child it only ends the process (the profile is the parent's).
//!
//! Signals: at `__tsan_init`, a handler is installed for each fatal signal
//! **whose disposition is still the default** (a program that ignores one,
//! or a handler installed before us, is left alone). `signal`/`sigaction`
//! are not interposed: a program that installs its own handler later
//! replaces ours, and then its own handler decides what happens (no
//! profile is written by us for that signal; if the handler ends with
//! `exit`, the `atexit` profile is written as usual). Our handler writes
//! the profile once, restores the default disposition and re-raises the
//! signal (blocked while the handler runs, so it is delivered when the
//! handler returns; a faulting instruction also faults again): the process
//! dies of the same signal, with the same status (128+N in a shell) and
//! the same core dump as without the runtime. Visible difference: a
//! program that queries the disposition of one of these signals
//! (`sigaction(sig, NULL, &old)`) sees our handler instead of `SIG_DFL`.
//! A forked child inherits the handler but writes nothing (the profile is
//! the parent's); `exec` resets it to the default.
//!
//! Best effort: writing the profile symbolises and renders JSON, which
//! allocates from the real allocator (never recorded: the runtime's guard
//! is held) and does file I/O; none of that is async-signal-safe. It is
//! skipped when the crashing thread was inside the runtime (it may hold
//! the runtime's lock); it can still deadlock or crash when the signal
//! interrupted libc's allocator holding its lock, in which case the
//! process dies without a profile. The handler runs on the thread's own
//! stack: a stack overflow is killed by the kernel without a profile.

use crate::report;
use core::ffi::c_int;
use core::sync::atomic::{AtomicI32, Ordering};

/// The process that installed the handlers. A `vfork` child shares the
/// parent's memory (and the handlers) but has its own pid: it must not
/// write the parent's profile nor mark it written.
static OWNER: AtomicI32 = AtomicI32::new(0);

/// Is this the process whose profile the runtime keeps?
fn is_owner() -> bool {
    // SAFETY: getpid has no preconditions and is async-signal-safe.
    OWNER.load(Ordering::Relaxed) == unsafe { libc::getpid() }
}

/// The signals after which a profile is written.
const FATAL: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Write the profile, then end the process with `status` — also after
/// races, as ThreadSanitizer (gcc 12's libtsan) does at `_exit`.
fn exit_with_profile(status: c_int) -> ! {
    if !is_owner() {
        report::exit_now(status);
    }
    let races = report::write_profile();
    if races > 0 {
        crate::sys::say(&format!("ThreadSanitizer: reported {races} warnings\n"));
    }
    report::exit_now(status)
}

/// Interposed `_exit`: writes the profile, then ends the process.
#[no_mangle]
pub extern "C" fn _exit(status: c_int) -> ! {
    exit_with_profile(status)
}

/// Interposed `_Exit`: as `_exit`.
#[no_mangle]
pub extern "C" fn _Exit(status: c_int) -> ! {
    exit_with_profile(status)
}

extern "C" fn on_fatal(sig: c_int) {
    // SAFETY: resetting the disposition of `sig` to the default; `signal`
    // is async-signal-safe.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
    // Skipped (returns 0) when this thread is inside the runtime.
    if is_owner() {
        report::write_profile();
    }
    // SAFETY: raise is async-signal-safe; `sig` is blocked while this
    // handler runs, so it stays pending and kills the process (default
    // disposition) as soon as the handler returns.
    unsafe { libc::raise(sig) };
}

/// Install [`on_fatal`] for every fatal signal whose disposition is the
/// default. Idempotent (a second call finds our handler, not the default).
pub(crate) fn install() {
    // SAFETY: getpid has no preconditions.
    OWNER.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    for sig in FATAL {
        // SAFETY: sigaction is plain data; querying the current action with
        // a null new action changes nothing.
        let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::sigaction(sig, core::ptr::null(), &mut old) } != 0
            || old.sa_sigaction != libc::SIG_DFL
        {
            continue;
        }
        // SAFETY: a zeroed sigaction with an empty mask and our handler,
        // which lives for the whole program.
        unsafe {
            let mut act: libc::sigaction = core::mem::zeroed();
            libc::sigemptyset(&mut act.sa_mask);
            act.sa_sigaction = on_fatal as extern "C" fn(c_int) as usize;
            act.sa_flags = 0;
            libc::sigaction(sig, &act, core::ptr::null_mut());
        }
    }
}
