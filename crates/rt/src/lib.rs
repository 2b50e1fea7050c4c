/*!
`loci-rt`: a ThreadSanitizer-ABI runtime that attributes every instrumented
memory access to its heap object, allocation site and thread.

Programs compiled with `gcc -fsanitize=thread` call `__tsan_read4`,
`__tsan_atomic32_fetch_add`, ... on every memory access. Linked against this
library instead of `libtsan` (see `loci cc`), those calls count, for every
heap object, how many reads, writes and atomic operations each thread made;
at exit a JSON profile is written (see `loci profile`).

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

# Environment

- `LOCI_PROFILE_OUT`: where the JSON profile is written
  (default `loci-profile.json` in the working directory).

# Limitations

- The report is written by an `atexit` handler: a program that ends with
  `_exit`, `abort` or a signal writes none.
- One global lock per access (correctness first): expect large slowdowns
  on access-heavy multi-threaded code.
- x86-64 and AArch64 Linux (glibc) only; no 16-byte atomics; no race
  detection, no false-sharing analysis, no interception of mutexes,
  `mmap` or libc's bulk memory functions yet.
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

pub mod abi;
#[cfg(not(test))]
pub mod intercept;
mod lock;
mod report;
#[cfg_attr(test, allow(dead_code))]
mod state;
#[cfg_attr(test, allow(dead_code))]
mod sys;
