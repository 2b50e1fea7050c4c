/*!
`loci-rt`: a ThreadSanitizer-ABI runtime that attributes every instrumented
memory access to its heap object, allocation site and thread.

Programs compiled with `gcc -fsanitize=thread` (or clang's) call `__tsan_read4`,
`__tsan_atomic32_fetch_add`, ... on every memory access. Linked against this
library instead of `libtsan` (see `loci cc`), those calls count, for every
heap object, how many reads, writes and atomic operations each thread made;
at exit a JSON profile is written (see `loci profile`).

The same calls, with the interposed thread and synchronisation functions
(mutexes, rwlocks, spinlocks, condition variables, barriers, once,
semaphores), drive a happens-before data-race detector (module `race`):
races are reported on stderr in ThreadSanitizer's format and the process
then exits with status 66, as under ThreadSanitizer.

# Glossary

- *object*: one block returned by the malloc family, `[base, base+size)`.
- *site*: the return address of the allocating call (plus the caller of the
  allocating function, from the shadow stack); symbolised to function,
  file and line in the report.
- *thread id*: 0 for the main thread, then 1, 2, ... in `pthread_create`
  order.
- *unattributed*: an access to memory that is not a live heap object
  (globals, stack, memory of other allocators).
- *class* of an object: `private` (the allocating thread made ≥99% of the
  accesses), `handoff` (another single thread made ≥90%), `shared-write`
  (two or more threads write or use atomics), `shared-read` (otherwise),
  `unaccessed`.
- *falsely shared line*: a 64-byte cache line of heap memory that two or
  more threads write, none of them touching bytes another writer wrote
  (module `lines`).

# Environment

- `LOCI_PROFILE_OUT`: where the JSON profile is written
  (default `loci-profile.json` in the working directory).
- `LOCI_RACES=0`: no race detection (profiling only).
- `LOCI_TRACE_OUT`: also stream every event (accesses, allocations,
  frees, atomics, fences, synchronisation, thread start/exit) to this file
  in the loci-trace format, for `loci sim` (module `trace`).

# Limitations

- The report is written by an `atexit` handler, by the interposed
  `_exit`/`_Exit`, and (best effort) by handlers for `SIGSEGV`, `SIGBUS`,
  `SIGFPE`, `SIGILL` and `SIGABRT` (`abort`) installed where the
  disposition is the default; a program that installs its own handler
  for one of them replaces ours (module `fatal`). Other signals that kill
  the process (`SIGKILL`, `SIGTERM` ...) write none.
- After a race was reported, the `atexit` handler ends the process with
  `_exit(66)` once stdio is flushed, as ThreadSanitizer does: exit
  handlers registered before the runtime started and ELF destructors
  (`__attribute__((destructor))`) then do not run.
- Concurrency: plain accesses, atomics and lock/unlock/wait/post effects
  are recorded without the runtime's global lock once the thread has run
  its first access through it (module `fast`: a direct-mapped shadow,
  per-object rows of counters, cells updated by compare-and-swap, a sharded map of
  sync objects; a thread's first access to an object or a cache line
  claims its row or slot under a shard lock). Allocation, `free`, thread
  creation/join, fences and everything while a trace is written take one
  global lock, so allocation-heavy multi-threaded code scales with it.
  The shadow reserves 1 GiB of address space plus about
  12.6 MiB per MiB of memory touched (`MAP_NORESERVE`, resident only where
  used): under a tight `ulimit -v` race detection stops where the
  shadow cannot be mapped (said once on stderr), and the program itself
  has less address space left.
- x86-64 and AArch64 Linux (glibc) only; 16-byte atomics on x86-64 only
  (module `wide`; on AArch64 their entries abort with a message naming
  them). The race
  detector's model and limits are documented in its module
  (`src/race.rs`); the false-sharing analysis's definition and memory
  bounds in `src/lines.rs`.
- A forked child records nothing and writes no profile; the profile is
  the parent's.
- C++ `operator new` is attributed to its `malloc` call inside libstdc++.

# Example

```
// The crate is a runtime; Rust code rarely calls it. Its ABI entry points
// are ordinary functions, though:
loci_rt::abi::__tsan_func_entry(core::ptr::null_mut());
loci_rt::abi::__tsan_func_exit();
```
*/
#![deny(missing_docs)]

/// A naked trampoline `$name` that passes its return address (the call
/// site in instrumented code) as one extra argument to `$imp`: on x86-64 it
/// is read from `[rsp]`, on AArch64 it is in `x30`. `$x86reg`/`$a64reg`
/// name the register of that extra argument (the next integer argument
/// register after the function's own).
macro_rules! trampoline {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? => $imp:path, $x86reg:literal, $a64reg:literal) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As for the C function of the same name (pointers valid for the
        /// access).
        #[no_mangle]
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            core::arch::naked_asm!(
                concat!("mov ", $x86reg, ", qword ptr [rsp]"),
                "jmp {imp}",
                imp = sym $imp,
            );
            #[cfg(target_arch = "aarch64")]
            core::arch::naked_asm!(
                concat!("mov ", $a64reg, ", x30"),
                "b {imp}",
                imp = sym $imp,
            );
        }
    };
}

pub mod abi;
#[cfg(not(test))]
pub mod bulk;
#[cfg_attr(test, allow(dead_code))]
mod fast;
#[cfg(not(test))]
pub mod fatal;
#[cfg(not(test))]
pub mod intercept;
mod lines;
mod live;
mod lock;
mod objects;
mod race;
mod race_report;
mod report;
mod shadow;
#[cfg_attr(test, allow(dead_code))]
mod state;
#[cfg(not(test))]
pub mod sync;
#[cfg_attr(test, allow(dead_code))]
mod sys;
#[cfg_attr(test, allow(dead_code))]
mod trace;
#[cfg(target_arch = "x86_64")]
mod wide;
