//! Interposed libc bulk memory and string functions (`memcpy`, `memmove`,
//! `memset`, `memcmp`, `memchr`, `strlen`, `strnlen`, `strcpy`, `strncpy`,
//! `strcat`, `strncat`, `strcmp`, `strncmp`, `strchr`, `strrchr`) and
//! `mmap`/`munmap`.
//!
//! gcc's instrumentation does not see inside libc: a `memmove` or `strcpy`
//! called from instrumented code is an opaque call. Each hook records the
//! bytes the function reads and writes, as ThreadSanitizer's interceptors
//! do (one access per heap object overlapped, checked for races, with the
//! caller's pc as frame `#0`), then calls the real function. String
//! lengths are measured first with the real `strlen`/`strnlen`.
//!
//! The runtime's own calls (Rust's `Vec` copies compile to `memcpy`)
//! reach these symbols too: inside the runtime the hooks forward at once
//! (the thread's `state::Guard` is held), so nothing recurses and
//! nothing is recorded. Until `dlsym` has resolved the real functions,
//! byte-loop fallbacks (`sys::fallback`) stand in.
//!
//! `mmap` and `munmap` forget the race detector's shadow of the range (a
//! fresh mapping has no history) and are counted per thread.

use crate::abi::access_by;
use crate::state::{self, Kind};
use crate::sys::{self, fallback, real};
use core::ffi::{c_char, c_int, c_void};

/// Index of each hook's name in `race_report::INTERCEPTED`.
mod func {
    pub(super) const MEMCPY: u8 = 1;
    pub(super) const MEMMOVE: u8 = 2;
    pub(super) const MEMSET: u8 = 3;
    pub(super) const MEMCMP: u8 = 4;
    pub(super) const MEMCHR: u8 = 5;
    pub(super) const STRLEN: u8 = 6;
    pub(super) const STRNLEN: u8 = 7;
    pub(super) const STRCPY: u8 = 8;
    pub(super) const STRNCPY: u8 = 9;
    pub(super) const STRCAT: u8 = 10;
    pub(super) const STRNCAT: u8 = 11;
    pub(super) const STRCMP: u8 = 12;
    pub(super) const STRNCMP: u8 = 13;
    pub(super) const STRCHR: u8 = 14;
    pub(super) const STRRCHR: u8 = 15;
}

fn read(f: u8, addr: *const c_void, n: usize, pc: usize) {
    access_by(addr as usize, n, Kind::Read, pc, true, f)
}

fn write(f: u8, addr: *mut c_void, n: usize, pc: usize) {
    access_by(addr as usize, n, Kind::Write, pc, true, f)
}

/// `strnlen` through libc (or the fallback).
///
/// # Safety
/// `s` is a string readable up to its NUL or `max` bytes.
unsafe fn slen(s: *const c_char, max: usize) -> usize {
    if max == usize::MAX {
        if let Some(f) = real::strlen() {
            // SAFETY: `s` is a NUL-terminated string (caller).
            return unsafe { f(s) };
        }
    } else if let Some(f) = real::strnlen() {
        // SAFETY: as the caller guarantees.
        return unsafe { f(s, max) };
    }
    // SAFETY: as the caller guarantees.
    unsafe { fallback::strnlen(s.cast::<u8>(), max) }
}

/// Bytes `strncmp(a, b, n)` reads from each string: up to and including
/// the first difference or NUL.
///
/// # Safety
/// Both strings are readable up to that point.
unsafe fn compared(a: *const c_char, b: *const c_char, n: usize) -> usize {
    let (a, b) = (a.cast::<u8>(), b.cast::<u8>());
    let mut i = 0;
    while i < n {
        // SAFETY: within both strings up to their first difference/NUL.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        i += 1;
        if x != y || x == 0 {
            break;
        }
    }
    i
}

trampoline!(
    /// Interposed `memcpy`: reads `src`, writes `dst` (`n` bytes).
    memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void => memcpy_impl, "rcx", "x3");

unsafe extern "C" fn memcpy_impl(
    d: *mut c_void,
    s: *const c_void,
    n: usize,
    pc: usize,
) -> *mut c_void {
    if state::recording() {
        read(func::MEMCPY, s, n, pc);
        write(func::MEMCPY, d, n, pc);
    }
    // SAFETY: forwarding the caller's arguments.
    unsafe { sys::real_memcpy(d, s, n) }
}

trampoline!(
    /// Interposed `memmove`: reads `src`, writes `dst` (`n` bytes).
    memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void => memmove_impl, "rcx", "x3");

unsafe extern "C" fn memmove_impl(
    d: *mut c_void,
    s: *const c_void,
    n: usize,
    pc: usize,
) -> *mut c_void {
    if state::recording() {
        read(func::MEMMOVE, s, n, pc);
        write(func::MEMMOVE, d, n, pc);
    }
    // SAFETY: forwarding the caller's arguments.
    unsafe { sys::real_memmove(d, s, n) }
}

trampoline!(
    /// Interposed `memset`: writes `n` bytes.
    memset(dst: *mut c_void, c: c_int, n: usize) -> *mut c_void => memset_impl, "rcx", "x3");

unsafe extern "C" fn memset_impl(d: *mut c_void, c: c_int, n: usize, pc: usize) -> *mut c_void {
    if state::recording() {
        write(func::MEMSET, d, n, pc);
    }
    // SAFETY: forwarding the caller's arguments.
    unsafe { sys::real_memset(d, c, n) }
}

trampoline!(
    /// Interposed `memcmp`: reads `n` bytes of each block.
    memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int => memcmp_impl, "rcx", "x3");

unsafe extern "C" fn memcmp_impl(a: *const c_void, b: *const c_void, n: usize, pc: usize) -> c_int {
    if state::recording() {
        read(func::MEMCMP, a, n, pc);
        read(func::MEMCMP, b, n, pc);
    }
    match real::memcmp() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => unsafe { f(a, b, n) },
        // SAFETY: both blocks are readable for n bytes (caller).
        None => unsafe { fallback::compare(a as *const u8, b as *const u8, n, false) },
    }
}

trampoline!(
    /// Interposed `memchr`: reads up to the byte found (or `n` bytes).
    memchr(s: *const c_void, c: c_int, n: usize) -> *mut c_void => memchr_impl, "rcx", "x3");

unsafe extern "C" fn memchr_impl(s: *const c_void, c: c_int, n: usize, pc: usize) -> *mut c_void {
    let r = match real::memchr() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => unsafe { f(s, c, n) },
        // SAFETY: `s` is readable for n bytes (caller).
        None => match unsafe { fallback::find(s as *const u8, c as u8, n, false) } {
            Some(i) => (s as usize + i) as *mut c_void,
            None => core::ptr::null_mut(),
        },
    };
    if state::recording() {
        let len = if r.is_null() {
            n
        } else {
            r as usize - s as usize + 1
        };
        read(func::MEMCHR, s, len, pc);
    }
    r
}

trampoline!(
    /// Interposed `strlen`: reads the string and its NUL.
    strlen(s: *const c_char) -> usize => strlen_impl, "rsi", "x1");

unsafe extern "C" fn strlen_impl(s: *const c_char, pc: usize) -> usize {
    // SAFETY: `s` is a string (caller).
    let n = unsafe { slen(s, usize::MAX) };
    if state::recording() {
        read(func::STRLEN, s as *const c_void, n + 1, pc);
    }
    n
}

trampoline!(
    /// Interposed `strnlen`: reads up to the NUL or `max` bytes.
    strnlen(s: *const c_char, max: usize) -> usize => strnlen_impl, "rdx", "x2");

unsafe extern "C" fn strnlen_impl(s: *const c_char, max: usize, pc: usize) -> usize {
    // SAFETY: `s` is readable up to its NUL or max bytes (caller).
    let n = unsafe { slen(s, max) };
    if state::recording() {
        read(func::STRNLEN, s as *const c_void, (n + 1).min(max), pc);
    }
    n
}

trampoline!(
    /// Interposed `strcpy`: reads `src` with its NUL, writes as many bytes.
    strcpy(dst: *mut c_char, src: *const c_char) -> *mut c_char => strcpy_impl, "rdx", "x2");

unsafe extern "C" fn strcpy_impl(d: *mut c_char, s: *const c_char, pc: usize) -> *mut c_char {
    // SAFETY: `s` is a string (caller).
    let n = unsafe { slen(s, usize::MAX) } + 1;
    if state::recording() {
        read(func::STRCPY, s as *const c_void, n, pc);
        write(func::STRCPY, d as *mut c_void, n, pc);
    }
    // SAFETY: `d` has room for n bytes (caller); the blocks do not overlap.
    unsafe { sys::real_memcpy(d as *mut c_void, s as *const c_void, n) };
    d
}

trampoline!(
    /// Interposed `strncpy`: reads up to `n` bytes of `src`, writes `n`.
    strncpy(dst: *mut c_char, src: *const c_char, n: usize) -> *mut c_char => strncpy_impl, "rcx", "x3");

unsafe extern "C" fn strncpy_impl(
    d: *mut c_char,
    s: *const c_char,
    n: usize,
    pc: usize,
) -> *mut c_char {
    // SAFETY: `s` is readable up to its NUL or n bytes (caller).
    let len = unsafe { slen(s, n) };
    if state::recording() {
        read(func::STRNCPY, s as *const c_void, (len + 1).min(n), pc);
        write(func::STRNCPY, d as *mut c_void, n, pc);
    }
    match real::strncpy() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => unsafe { f(d, s, n) },
        None => {
            // SAFETY: `d` has room for n bytes, `s` has `len` (caller).
            unsafe {
                fallback::memmove(d as *mut c_void, s as *const c_void, len);
                fallback::memset(d.add(len) as *mut c_void, 0, n - len);
            }
            d
        }
    }
}

trampoline!(
    /// Interposed `strcat`: reads both strings, writes `src` (with its
    /// NUL) at the end of `dst`.
    strcat(dst: *mut c_char, src: *const c_char) -> *mut c_char => strcat_impl, "rdx", "x2");

unsafe extern "C" fn strcat_impl(d: *mut c_char, s: *const c_char, pc: usize) -> *mut c_char {
    // SAFETY: both are strings (caller).
    let (dl, sl) = unsafe { (slen(d, usize::MAX), slen(s, usize::MAX)) };
    if state::recording() {
        read(func::STRCAT, d as *const c_void, dl + 1, pc);
        read(func::STRCAT, s as *const c_void, sl + 1, pc);
        // SAFETY: `d` has room for the result (caller).
        write(
            func::STRCAT,
            unsafe { d.add(dl) } as *mut c_void,
            sl + 1,
            pc,
        );
    }
    // SAFETY: `d` has room for dl + sl + 1 bytes (caller).
    unsafe { sys::real_memcpy(d.add(dl) as *mut c_void, s as *const c_void, sl + 1) };
    d
}

trampoline!(
    /// Interposed `strncat`: as `strcat`, copying at most `n` bytes.
    strncat(dst: *mut c_char, src: *const c_char, n: usize) -> *mut c_char => strncat_impl, "rcx", "x3");

unsafe extern "C" fn strncat_impl(
    d: *mut c_char,
    s: *const c_char,
    n: usize,
    pc: usize,
) -> *mut c_char {
    // SAFETY: `d` is a string, `s` readable up to NUL or n bytes (caller).
    let (dl, sl) = unsafe { (slen(d, usize::MAX), slen(s, n)) };
    if state::recording() {
        read(func::STRNCAT, d as *const c_void, dl + 1, pc);
        read(func::STRNCAT, s as *const c_void, (sl + 1).min(n), pc);
        // SAFETY: `d` has room for the result (caller).
        write(
            func::STRNCAT,
            unsafe { d.add(dl) } as *mut c_void,
            sl + 1,
            pc,
        );
    }
    // SAFETY: `d` has room for dl + sl + 1 bytes (caller).
    unsafe {
        sys::real_memcpy(d.add(dl) as *mut c_void, s as *const c_void, sl);
        *d.add(dl + sl) = 0;
    }
    d
}

trampoline!(
    /// Interposed `strcmp`: reads both strings up to the first difference.
    strcmp(a: *const c_char, b: *const c_char) -> c_int => strcmp_impl, "rdx", "x2");

unsafe extern "C" fn strcmp_impl(a: *const c_char, b: *const c_char, pc: usize) -> c_int {
    if state::recording() {
        // SAFETY: both are strings (caller).
        let n = unsafe { compared(a, b, usize::MAX) };
        read(func::STRCMP, a as *const c_void, n, pc);
        read(func::STRCMP, b as *const c_void, n, pc);
    }
    match real::strcmp() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => unsafe { f(a, b) },
        // SAFETY: both are strings (caller).
        None => unsafe { fallback::compare(a.cast::<u8>(), b.cast::<u8>(), usize::MAX, true) },
    }
}

trampoline!(
    /// Interposed `strncmp`: as `strcmp`, at most `n` bytes.
    strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int => strncmp_impl, "rcx", "x3");

unsafe extern "C" fn strncmp_impl(
    a: *const c_char,
    b: *const c_char,
    n: usize,
    pc: usize,
) -> c_int {
    if state::recording() {
        // SAFETY: both readable up to their NUL/difference or n (caller).
        let k = unsafe { compared(a, b, n) };
        read(func::STRNCMP, a as *const c_void, k, pc);
        read(func::STRNCMP, b as *const c_void, k, pc);
    }
    match real::strncmp() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => unsafe { f(a, b, n) },
        // SAFETY: as above.
        None => unsafe { fallback::compare(a.cast::<u8>(), b.cast::<u8>(), n, true) },
    }
}

trampoline!(
    /// Interposed `strchr`: reads up to the character found or the NUL.
    strchr(s: *const c_char, c: c_int) -> *mut c_char => strchr_impl, "rdx", "x2");

unsafe extern "C" fn strchr_impl(s: *const c_char, c: c_int, pc: usize) -> *mut c_char {
    let r = match real::strchr() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => unsafe { f(s, c) },
        None => {
            // SAFETY: `s` is a string (caller); its NUL is included.
            let n = unsafe { slen(s, usize::MAX) } + 1;
            // SAFETY: `s` is readable for n bytes.
            match unsafe { fallback::find(s.cast::<u8>(), c as u8, n, false) } {
                Some(i) => (s as usize + i) as *mut c_char,
                None => core::ptr::null_mut(),
            }
        }
    };
    if state::recording() {
        let n = if r.is_null() {
            // SAFETY: `s` is a string (caller).
            (unsafe { slen(s, usize::MAX) }) + 1
        } else {
            r as usize - s as usize + 1
        };
        read(func::STRCHR, s as *const c_void, n, pc);
    }
    r
}

trampoline!(
    /// Interposed `strrchr`: reads the whole string.
    strrchr(s: *const c_char, c: c_int) -> *mut c_char => strrchr_impl, "rdx", "x2");

unsafe extern "C" fn strrchr_impl(s: *const c_char, c: c_int, pc: usize) -> *mut c_char {
    // SAFETY: `s` is a string (caller).
    let n = unsafe { slen(s, usize::MAX) } + 1;
    if state::recording() {
        read(func::STRRCHR, s as *const c_void, n, pc);
    }
    match real::strrchr() {
        // SAFETY: forwarding the caller's arguments.
        Some(f) => unsafe { f(s, c) },
        // SAFETY: `s` is readable for n bytes.
        None => match unsafe { fallback::find(s.cast::<u8>(), c as u8, n, true) } {
            Some(i) => (s as usize + i) as *mut c_char,
            None => core::ptr::null_mut(),
        },
    }
}

/// Interposed `mmap`: a new mapping has no access history (its range's
/// race-detector shadow is forgotten); counted per thread.
///
/// # Safety
/// As for libc's `mmap`.
#[no_mangle]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: libc::off_t,
) -> *mut c_void {
    let Some(f) = real::mmap() else {
        sys::missing("mmap")
    };
    // SAFETY: forwarding the caller's arguments.
    let p = unsafe { f(addr, len, prot, flags, fd, off) };
    if p != libc::MAP_FAILED {
        state::note_mapping(p as usize, len, true);
    }
    p
}

/// Interposed `munmap`: forgets the range's shadow; counted per thread.
///
/// # Safety
/// As for libc's `munmap`.
#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    let Some(f) = real::munmap() else {
        sys::missing("munmap")
    };
    state::note_mapping(addr as usize, len, false);
    // SAFETY: forwarding the caller's arguments.
    unsafe { f(addr, len) }
}
