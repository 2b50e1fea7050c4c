//! OS layer: the only place that talks to the kernel (Linux).
//!
//! Concurrency contract: every function here is thread-safe and never
//! allocates through `malloc` (the allocator may *be* `malloc`). Errors are
//! reported as null pointers / `false`, never by panicking.
//!
//! `mmap`, `munmap`, `madvise` and the file calls of `numa_node_count`
//! (`openat`, `read`, `close`) are made as raw system calls, not through
//! libc's functions: those symbols may be interposed (a sanitizer runtime
//! such as loci's own, `loci cc`, records mappings in an interposed `mmap`
//! and may call `malloc` there; gcc's ThreadSanitizer runtime intercepts
//! `open`), and the allocator calls them while it holds its locks or
//! initialises, so an interposer that allocates would re-enter it and wait
//! for itself forever. For the same reason the clock is read through the
//! vDSO's `clock_gettime`, not libc's (`now_ms`).

use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Size of an OS page assumed for rounding (the kernel may use larger pages;
/// only `madvise` ranges depend on it and they are always 64 KiB multiples).
pub(crate) const OS_PAGE: usize = 4096;

/// Map `size` bytes of fresh, zeroed, read-write memory whose start is a
/// multiple of `align` (a power of two >= `OS_PAGE`). Returns null on failure.
///
/// Cost: one `mmap` plus up to two `munmap` calls to trim the over-mapping.
pub(crate) fn map_aligned(size: usize, align: usize) -> *mut u8 {
    let Some(over) = size.checked_add(align) else {
        return ptr::null_mut();
    };
    // SAFETY: anonymous private mapping with no address hint; the kernel
    // picks the range, so no existing mapping is affected.
    let raw = unsafe {
        libc::syscall(
            libc::SYS_mmap,
            0 as libc::c_long,
            over as libc::c_long,
            (libc::PROT_READ | libc::PROT_WRITE) as libc::c_long,
            (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE) as libc::c_long,
            -1 as libc::c_long,
            0 as libc::c_long,
        )
    } as *mut libc::c_void;
    if raw == libc::MAP_FAILED {
        return ptr::null_mut();
    }
    let start = raw as usize;
    let aligned = (start + align - 1) & !(align - 1);
    let head = aligned - start;
    let tail = over - head - size;
    // SAFETY: both trimmed ranges lie inside the mapping we just created and
    // are disjoint from [aligned, aligned + size).
    unsafe {
        if head > 0 {
            sys_munmap(start, head);
        }
        if tail > 0 {
            sys_munmap(aligned + size, tail);
        }
    }
    aligned as *mut u8
}

/// Return a whole mapping to the OS.
///
/// # Safety
/// `[p, p + size)` must be a range obtained from [`map_aligned`] that nothing
/// references any more.
pub(crate) unsafe fn unmap(p: *mut u8, size: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe { sys_munmap(p as usize, size) }
}

/// `munmap` as a raw system call (see the module docs).
///
/// # Safety
/// As for `munmap`: nothing may use the range afterwards.
unsafe fn sys_munmap(p: usize, size: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        libc::syscall(libc::SYS_munmap, p as libc::c_long, size as libc::c_long);
    }
}

/// Give the physical memory of `[p, p + size)` back to the OS but keep the
/// address range; the next touch reads zeros (`MADV_DONTNEED` on private
/// anonymous memory).
///
/// # Safety
/// The range must be inside a live mapping from [`map_aligned`] and hold no
/// live objects.
pub(crate) unsafe fn reset(p: *mut u8, size: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        libc::syscall(
            libc::SYS_madvise,
            p as libc::c_long,
            size as libc::c_long,
            libc::MADV_DONTNEED as libc::c_long,
        );
    }
}

/// Zero `[p, p + size)` (`p` 8-aligned, `size` a multiple of 8) with
/// plain stores, never through `memset`, which may be interposed (see the
/// module docs): for the allocator's own structures, written under its
/// locks. (Volatile stores, so that the compiler cannot turn the loop back
/// into a `memset` call.)
///
/// # Safety
/// The range is writable and holds nothing anyone else uses.
pub(crate) unsafe fn zero(p: *mut u8, size: usize) {
    debug_assert!(p as usize % 8 == 0 && size % 8 == 0);
    let w = p as *mut u64;
    for i in 0..size / 8 {
        // SAFETY: inside the range, per the contract.
        unsafe { w.add(i).write_volatile(0) };
    }
}

const MPOL_PREFERRED: libc::c_long = 1;
const MPOL_F_NODE: libc::c_long = 1;
const MPOL_F_ADDR: libc::c_long = 2;

/// Ask the kernel to place the pages of `[p, p + size)` on `node`
/// (`MPOL_PREFERRED`, so allocation still succeeds if the node is full).
/// Returns false if the kernel refused (no NUMA support, seccomp, ...).
///
/// # Safety
/// The range must be inside a live mapping from [`map_aligned`].
pub(crate) unsafe fn bind_to_node(p: *mut u8, size: usize, node: usize) -> bool {
    if node >= 64 {
        return false;
    }
    let mask: libc::c_ulong = 1 << node;
    // SAFETY: mbind reads `mask` (one word, maxnode = 64 bits) and changes
    // only the policy of the caller's own range.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mbind,
            p as libc::c_long,
            size as libc::c_long,
            MPOL_PREFERRED,
            &mask as *const libc::c_ulong as libc::c_long,
            65 as libc::c_long,
            0 as libc::c_long,
        )
    };
    r == 0
}

/// The NUMA node of the CPU the calling thread runs on (`getcpu`), or
/// `None` if the kernel does not say.
pub(crate) fn current_node() -> Option<usize> {
    let (mut cpu, mut node): (libc::c_uint, libc::c_uint) = (0, 0);
    // SAFETY: getcpu writes the two integers; the third argument is unused
    // since Linux 2.6.24 and may be null.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getcpu,
            &mut cpu as *mut libc::c_uint as libc::c_long,
            &mut node as *mut libc::c_uint as libc::c_long,
            0 as libc::c_long,
        )
    };
    (r == 0).then_some(node as usize)
}

/// `get_mempolicy(&out, NULL, 0, p, flags)`: the one int the kernel says
/// of the mapping at `p` under `flags` (`MPOL_F_ADDR`, with `MPOL_F_NODE`
/// for the node backing it), or `None` if it cannot tell.
fn mempolicy_at(p: *const u8, flags: libc::c_long) -> Option<i32> {
    let mut out: libc::c_int = -1;
    // SAFETY: get_mempolicy writes one int to `out`; no node mask is asked
    // for; with MPOL_F_ADDR it only looks the address up.
    let r = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut out as *mut libc::c_int as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
            p as libc::c_long,
            flags,
        )
    };
    (r == 0).then_some(out)
}

/// The NUMA policy mode (`MPOL_DEFAULT` 0, `MPOL_PREFERRED` 1, ...) of the
/// mapping at `p`, or `None` if the kernel cannot tell.
#[cfg(test)]
pub(crate) fn policy_of(p: *const u8) -> Option<i32> {
    mempolicy_at(p, MPOL_F_ADDR)
}

/// The NUMA node that currently backs the byte at `p` (which must already be
/// touched), or `None` if the kernel cannot tell.
///
/// # Safety
/// `p` must point into a live mapping.
pub(crate) unsafe fn node_of_address(p: *const u8) -> Option<usize> {
    mempolicy_at(p, MPOL_F_NODE | MPOL_F_ADDR)
        .filter(|&n| n >= 0)
        .map(|n| n as usize)
}

/// Number of NUMA nodes, from `/sys/devices/system/node/online` (e.g. `0`
/// or `0-3`); 1 when the file is absent. Reads into a stack buffer: no
/// allocation.
///
/// `openat`, `read` and `close` are raw system calls, like `mmap` (see the
/// module's documentation): this runs inside the one-time initialisation,
/// which a nested `malloc` would wait for forever, and file functions are
/// commonly interposed by runtimes that allocate (gcc's ThreadSanitizer
/// runtime, I/O tracers).
pub(crate) fn numa_node_count() -> usize {
    let path = b"/sys/devices/system/node/online\0";
    // SAFETY: path is NUL-terminated; flags are read-only.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as libc::c_long,
            path.as_ptr() as libc::c_long,
            (libc::O_RDONLY | libc::O_CLOEXEC) as libc::c_long,
        )
    };
    if fd < 0 {
        return 1;
    }
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its full length; fd is ours and closed once.
    let n = unsafe {
        let n = libc::syscall(
            libc::SYS_read,
            fd,
            buf.as_mut_ptr() as libc::c_long,
            buf.len() as libc::c_long,
        );
        libc::syscall(libc::SYS_close, fd);
        n
    };
    if n <= 0 {
        return 1;
    }
    parse_highest_node(&buf[..n as usize]).map_or(1, |h| h + 1)
}

/// Highest node number in a sysfs cpulist-style string such as `0-3,5`.
pub(crate) fn parse_highest_node(s: &[u8]) -> Option<usize> {
    let mut highest: Option<usize> = None;
    let mut cur: Option<usize> = None;
    for &c in s {
        if c.is_ascii_digit() {
            cur = Some(
                cur.unwrap_or(0)
                    .saturating_mul(10)
                    .saturating_add((c - b'0') as usize),
            );
        } else {
            if let Some(v) = cur {
                highest = Some(highest.map_or(v, |h: usize| h.max(v)));
            }
            cur = None;
        }
    }
    if let Some(v) = cur {
        highest = Some(highest.map_or(v, |h: usize| h.max(v)));
    }
    highest
}

/// A monotonic clock in milliseconds, cheap (`CLOCK_MONOTONIC_COARSE`,
/// answered by the vDSO without a system call).
///
/// The vDSO's function is called directly, not libc's `clock_gettime`:
/// this runs under the heap lock (a page's release time), and
/// `clock_gettime` is interposed by runtimes that may allocate (gcc's
/// ThreadSanitizer runtime, libfaketime); a `malloc` there waited for the
/// lock forever. Without a vDSO it is a raw system call.
pub(crate) fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match vdso_clock_gettime() {
        // SAFETY: the vDSO's clock_gettime has libc's signature and writes
        // one timespec.
        Some(f) => unsafe {
            f(libc::CLOCK_MONOTONIC_COARSE, &mut ts);
        },
        // SAFETY: clock_gettime writes one timespec.
        None => unsafe {
            libc::syscall(
                libc::SYS_clock_gettime,
                libc::CLOCK_MONOTONIC_COARSE as libc::c_long,
                &mut ts as *mut libc::timespec as libc::c_long,
            );
        },
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// The vDSO's `clock_gettime`.
type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int;

/// [`vdso_clock_gettime`]'s answer: 0 before the first look-up, 1 when the
/// vDSO has no such function, else its address.
static VDSO_CLOCK_GETTIME: AtomicUsize = AtomicUsize::new(0);

/// The vDSO's `clock_gettime`, looked up once (racing threads find the
/// same address).
pub(crate) fn vdso_clock_gettime() -> Option<ClockGettime> {
    let mut f = VDSO_CLOCK_GETTIME.load(Ordering::Relaxed);
    if f == 0 {
        #[cfg(target_arch = "aarch64")]
        const NAME: &[u8] = b"__kernel_clock_gettime";
        #[cfg(not(target_arch = "aarch64"))]
        const NAME: &[u8] = b"__vdso_clock_gettime";
        f = vdso_function(NAME).unwrap_or(1);
        VDSO_CLOCK_GETTIME.store(f, Ordering::Relaxed);
    }
    // SAFETY: f is the address of the vDSO's clock_gettime, which has this
    // signature.
    (f != 1).then(|| unsafe { core::mem::transmute::<usize, ClockGettime>(f) })
}

/// The address of the vDSO's function `name` (its dynamic symbol table,
/// through the image's section headers, which the kernel maps with it).
/// No allocation and no libc call but `getauxval`.
fn vdso_function(name: &[u8]) -> Option<usize> {
    // SAFETY: getauxval has no preconditions.
    let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    if base == 0 {
        return None;
    }
    // SAFETY: the kernel maps the vDSO's ELF image at `base`: its 64-byte
    // header is readable.
    let head = unsafe { core::slice::from_raw_parts(base as *const u8, 64) };
    if head[0..4] != *b"\x7fELF" || head[4] != 2 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| Some(u16::from_ne_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |b: &[u8], o: usize| Some(u32::from_ne_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at =
        |b: &[u8], o: usize| Some(u64::from_ne_bytes(b.get(o..o + 8)?.try_into().ok()?) as usize);
    let (phoff, shoff) = (u64_at(head, 0x20)?, u64_at(head, 0x28)?);
    let (phnum, shentsize, shnum) = (
        u16_at(head, 0x38)? as usize,
        u16_at(head, 0x3a)? as usize,
        u16_at(head, 0x3c)? as usize,
    );
    // The image (a few pages): headers and tables lie within it.
    let len = shoff.checked_add(shnum.checked_mul(shentsize)?)?;
    if len > 1 << 20 || shentsize < 64 || phoff.checked_add(phnum * 56)? > len {
        return None;
    }
    // SAFETY: the image is mapped in full and its section headers are its
    // last bytes, so `len` bytes from `base` are readable.
    let b = unsafe { core::slice::from_raw_parts(base as *const u8, len) };
    // Load bias: the first PT_LOAD segment maps file offset p_offset at
    // p_vaddr.
    let bias = (0..phnum).find_map(|i| {
        let ph = phoff + i * 56;
        (u32_at(b, ph)? == libc::PT_LOAD).then(|| {
            Some(
                base.wrapping_add(u64_at(b, ph + 8)?)
                    .wrapping_sub(u64_at(b, ph + 0x10)?),
            )
        })?
    })?;
    let section = |i: usize| {
        let h = shoff + i * shentsize;
        // (type, offset, size, link, entsize)
        Some((
            u32_at(b, h + 4)?,
            u64_at(b, h + 0x18)?,
            u64_at(b, h + 0x20)?,
            u32_at(b, h + 0x28)? as usize,
            u64_at(b, h + 0x38)?,
        ))
    };
    for i in 0..shnum {
        let (kind, off, size, link, entsize) = section(i)?;
        if kind != 11 || entsize < 24 {
            continue; // not SHT_DYNSYM
        }
        let (_, stroff, strsize, _, _) = section(link)?;
        let strtab = b.get(stroff..stroff.checked_add(strsize)?)?;
        for e in (off..off.checked_add(size)?).step_by(entsize) {
            let (name_off, value) = (u32_at(b, e)? as usize, u64_at(b, e + 8)?);
            let rest = strtab.get(name_off..)?;
            if value != 0 && rest.starts_with(name) && rest.get(name.len()) == Some(&0) {
                return Some(bias.wrapping_add(value));
            }
        }
    }
    None
}

/// Signals blocked in the calling thread until this guard drops, when the
/// previous mask comes back. For the allocator's own work that no caller
/// can shield: the thread-exit destructor runs from libc, not through an
/// interposed `malloc`, so a runtime that defers signals around `malloc`
/// (ThreadSanitizer) or instruments a signal handler and allocates there
/// (loci's) cannot know the thread is inside the allocator, and a handler
/// that allocates would wait for the heap lock its own thread holds.
///
/// A raw `rt_sigprocmask` (libc's `pthread_sigmask` is interposed by such
/// runtimes) that leaves glibc's internal signals 32 and 33 (thread
/// cancellation, `setuid` broadcast) unblocked, as `pthread_sigmask` does.
pub(crate) struct SignalsBlocked {
    old: u64,
}

impl SignalsBlocked {
    pub(crate) fn new() -> Self {
        let block: u64 = !((1 << (32 - 1)) | (1 << (33 - 1)));
        let mut old: u64 = 0;
        // SAFETY: the kernel reads one 8-byte set and writes one.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_BLOCK as libc::c_long,
                &block as *const u64 as libc::c_long,
                &mut old as *mut u64 as libc::c_long,
                8 as libc::c_long,
            );
        }
        SignalsBlocked { old }
    }

    /// The calling thread's current signal mask (for tests).
    #[cfg(test)]
    pub(crate) fn current_mask() -> u64 {
        let mut cur: u64 = 0;
        // SAFETY: with a null new set the kernel only writes the old one.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_BLOCK as libc::c_long,
                0 as libc::c_long,
                &mut cur as *mut u64 as libc::c_long,
                8 as libc::c_long,
            );
        }
        cur
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: the kernel reads one 8-byte set.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK as libc::c_long,
                &self.old as *const u64 as libc::c_long,
                0 as libc::c_long,
                8 as libc::c_long,
            );
        }
    }
}

/// Yield the CPU (used by the spin lock after spinning a while).
pub(crate) fn yield_now() {
    // SAFETY: sched_yield has no preconditions.
    unsafe {
        libc::sched_yield();
    }
}

/// Write raw bytes to standard error (fd 2), ignoring errors.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: the slice is valid for reads of its remaining length.
        let n = unsafe {
            libc::write(
                2,
                bytes[off..].as_ptr() as *const libc::c_void,
                bytes.len() - off,
            )
        };
        if n <= 0 {
            return;
        }
        off += n as usize;
    }
}

/// Print `loci-alloc: <msg> 0x<addr>` to stderr and abort the process.
/// Never allocates.
#[cold]
pub(crate) fn fatal(msg: &str, addr: usize) -> ! {
    let mut buf = [0u8; 160];
    let mut len = 0;
    let mut push = |b: &[u8], len: &mut usize| {
        for &c in b {
            if *len < buf.len() {
                buf[*len] = c;
                *len += 1;
            }
        }
    };
    push(b"loci-alloc: ", &mut len);
    push(msg.as_bytes(), &mut len);
    push(b" 0x", &mut len);
    let mut hex = [0u8; 16];
    for (i, h) in hex.iter_mut().enumerate() {
        let nib = (addr >> (60 - 4 * i)) & 0xf;
        *h = b"0123456789abcdef"[nib];
    }
    push(&hex, &mut len);
    push(b"\n", &mut len);
    write_stderr(&buf[..len]);
    // SAFETY: abort has no preconditions and does not return.
    unsafe { libc::abort() }
}

#[cfg(feature = "c-abi")]
/// Set `errno` to `ENOMEM`.
pub(crate) fn set_enomem() {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe {
        *libc::__errno_location() = libc::ENOMEM;
    }
}

#[cfg(feature = "c-abi")]
/// A loaded ELF object: its path (the executable's is read from
/// `/proc/self/exe`) and load bias (what to add to its symbol values).
#[derive(Clone, Debug)]
pub(crate) struct LoadedObject {
    pub(crate) path: String,
    pub(crate) bias: usize,
}

#[cfg(feature = "c-abi")]
unsafe extern "C" fn collect_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: dl_iterate_phdr passes a valid `info` for the duration of
    // the call and `data` is the Vec we passed in `loaded_objects`.
    unsafe {
        let out = &mut *(data as *mut Vec<LoadedObject>);
        let name = (*info).dlpi_name;
        let path = if name.is_null() || *name == 0 {
            if out.is_empty() {
                // The first object with an empty name is the executable.
                std::fs::read_link("/proc/self/exe")
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                String::new() // the vDSO
            }
        } else {
            core::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        };
        if !path.is_empty() {
            out.push(LoadedObject {
                path,
                bias: (*info).dlpi_addr as usize,
            });
        }
    }
    0
}

#[cfg(feature = "c-abi")]
/// The ELF objects loaded now, the executable first (`dl_iterate_phdr`).
/// Allocates (through `malloc`): call it only where that is allowed.
pub(crate) fn loaded_objects() -> Vec<LoadedObject> {
    let mut out: Vec<LoadedObject> = Vec::new();
    // SAFETY: the callback only reads what it is given and pushes to `out`.
    unsafe {
        libc::dl_iterate_phdr(
            Some(collect_object),
            &mut out as *mut Vec<LoadedObject> as *mut libc::c_void,
        );
    }
    out
}

#[cfg(feature = "c-abi")]
/// Whether the OS page holding `p` is resident (`mincore`); `None` if the
/// kernel cannot tell (e.g. `p` is not mapped).
pub(crate) fn is_resident(p: *const u8) -> Option<bool> {
    let page = (p as usize) & !(OS_PAGE - 1);
    let mut vec = 0u8;
    // SAFETY: mincore writes one byte per page of the one-page range into
    // `vec`; an unmapped range is reported as ENOMEM, not a fault.
    let r = unsafe { libc::mincore(page as *mut libc::c_void, OS_PAGE, &mut vec) };
    (r == 0).then_some(vec & 1 != 0)
}

/// Register `fork` handlers (`pthread_atfork`): `prepare` runs in the
/// parent before the fork, `parent` and `child` after it. Returns false if
/// registration failed (then a fork while another thread holds an
/// allocator lock can leave it held in the child).
pub(crate) fn register_atfork(
    prepare: extern "C" fn(),
    parent: extern "C" fn(),
    child: extern "C" fn(),
) -> bool {
    // SAFETY: the handlers are plain functions that live for the whole
    // program.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) == 0 }
}

/// A pthread key whose destructor runs `dtor(value)` at thread exit.
/// Returns `None` if the key could not be created.
pub(crate) fn create_thread_key(
    dtor: unsafe extern "C" fn(*mut libc::c_void),
) -> Option<libc::pthread_key_t> {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: key is a valid out-pointer; dtor has the required signature.
    let r = unsafe { libc::pthread_key_create(&mut key, Some(dtor)) };
    (r == 0).then_some(key)
}

/// Associate `value` with `key` for the calling thread, so that the key's
/// destructor sees it at thread exit.
pub(crate) fn set_thread_value(key: libc::pthread_key_t, value: *mut u8) {
    // SAFETY: key was created by create_thread_key. glibc needs no allocation
    // for the first 32 keys; ours is created during allocator init, early.
    unsafe {
        libc::pthread_setspecific(key, value as *const libc::c_void);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sysfs_node_lists() {
        assert_eq!(parse_highest_node(b"0\n"), Some(0));
        assert_eq!(parse_highest_node(b"0-3\n"), Some(3));
        assert_eq!(parse_highest_node(b"0-1,4,6-7"), Some(7));
        assert_eq!(parse_highest_node(b"\n"), None);
    }

    #[test]
    fn mapping_is_aligned_and_zeroed() {
        let p = map_aligned(1 << 20, 4 << 20);
        assert!(!p.is_null());
        assert_eq!(p as usize % (4 << 20), 0);
        // SAFETY: p is a fresh 1 MiB mapping.
        unsafe {
            assert_eq!(*p.add(12345), 0);
            *p.add(12345) = 7;
            reset(p, 1 << 20);
            assert_eq!(*p.add(12345), 0, "MADV_DONTNEED must zero the range");
            unmap(p, 1 << 20);
        }
    }
}
