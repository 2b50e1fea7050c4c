//! Direct-mapped shadow memory: for every 8-byte granule of the address
//! space, the heap object it belongs to and the race detector's cells.
//!
//! # Layout
//!
//! Two levels, as a radix tree over 47-bit user addresses: a first-level
//! table of `2^27` chunk pointers (1 GiB of address space reserved with
//! `MAP_NORESERVE`; a page of it is only backed once touched), indexed by
//! `addr >> 20`, and one [`Chunk`] per touched MiB of application memory,
//! mapped on first use (also `MAP_NORESERVE`: only the shadow of granules
//! actually touched becomes resident). A chunk holds, per granule:
//!
//! - the id of the heap object covering it (0: none), and per 4 KiB page
//!   one id for pages wholly inside one object (so that a large `malloc`
//!   costs one store per page, not per granule);
//! - [`CELLS`] race-detector cells of 8 bytes each, packed so that the
//!   identity of an access (thread, epoch, bytes, kind) is read and written
//!   as one atomic word — the lock-free fast path reads them without a
//!   lock, as ThreadSanitizer reads its shadow;
//! - per cell, its report-only side data (pc, call stack, libc function),
//!   16 bytes, read only under the runtime's lock.
//!
//! - per 64-byte line, a pointer to its false-sharing record (`lines`).
//!
//! That is 4 + 32 + 64 + 1 = 101 bytes of virtual shadow per 8 bytes of
//! memory; resident only where touched (ThreadSanitizer: 16 + 8).
//!
//! Chunks are never unmapped (their addresses are handed to the lock-free
//! fast path); forgetting a range zeroes its shadow (`madvise(DONTNEED)`
//! for whole pages).
//!
//! Concurrency contract: chunks are created and cells stored only under
//! the runtime's table lock; every word is an atomic, so the fast path's
//! relaxed reads are never torn.

use crate::race::{Cell, CELLS};
#[cfg(test)]
use crate::race::{EMPTY, EMPTY_TID};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// log2 of the application bytes one chunk covers.
pub(crate) const CHUNK_SHIFT: usize = 20;
/// Granules (8 bytes) per chunk.
pub(crate) const GRANULES: usize = 1 << (CHUNK_SHIFT - 3);
/// Granules per 4 KiB page.
pub(crate) const PAGE_GRANULES: usize = 512;
/// Pages per chunk.
const PAGES: usize = GRANULES / PAGE_GRANULES;
/// First-level entries: user addresses below 2^47.
const L1: usize = 1 << (47 - CHUNK_SHIFT);

/// The report-only half of a cell.
#[repr(C)]
pub(crate) struct Side {
    pc: AtomicU64,
    /// `stack | func << 32`, and a tag (see [`Side::store`]).
    info: AtomicU64,
}

impl Side {
    /// Store the side data `pc`, `info` (see [`side_info`]) of the cell
    /// packed as `w` just stored in this side's slot, tagged with `w` so
    /// that a reader can tell it from its predecessor's (see
    /// [`Shadow::cell_as`]). Cost: two stores.
    #[inline(always)]
    pub(crate) fn store(&self, w: u64, pc: usize, info: u64) {
        self.pc.store(pc as u64, Ordering::Release);
        self.info.store(info | side_tag(w), Ordering::Release);
    }
}

/// A value alone in its cache line (for per-thread words that threads
/// write often: side by side, two threads' words would share a line).
#[repr(align(64))]
pub(crate) struct Padded<T>(pub(crate) T);

/// The side data of one granule's cells (see [`Chunk::side`]).
#[derive(Clone, Copy)]
pub(crate) struct Sides<'a>(&'a [[Side; GRANULES]; CELLS], usize);

impl<'a> Sides<'a> {
    /// The side data of cell slot `k`.
    #[inline(always)]
    pub(crate) fn at(self, k: usize) -> &'a Side {
        &self.0[k][self.1]
    }
}

/// The shadow of one MiB of application memory (see the module docs).
#[repr(C)]
pub(crate) struct Chunk {
    pub(crate) ids: [AtomicU32; GRANULES],
    pub(crate) page_ids: [AtomicU32; PAGES],
    /// Per 64-byte line, its false-sharing record (`lines`), if any.
    pub(crate) line_recs: [AtomicPtr<crate::lines::LineRec>; GRANULES / 8],
    pub(crate) cells: [[AtomicU64; CELLS]; GRANULES],
    /// The side data of cell slot `k` of granule `i` at `side[k][i]`:
    /// slot-major, so that threads storing their own slots of the same
    /// granule dirty different cache lines (a thread tends to keep its
    /// slot: `race::check_store` takes its own cell first). Granule-major,
    /// the four slots' side data shared one line that every reader of a
    /// read-shared granule wrote in each new epoch: 30-40 % of
    /// `benches/profile/readmostly.c`'s CPU time on two cores.
    side: [[Side; GRANULES]; CELLS],
}

/// Map `len` bytes of zeroed, lazily backed memory (not through the
/// interposed `mmap`), or null.
pub(crate) fn map(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing touches no existing memory.
    let p = unsafe {
        libc::syscall(
            libc::SYS_mmap,
            0usize,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1i32,
            0usize,
        )
    };
    if p < 0 || p as usize as *mut libc::c_void == libc::MAP_FAILED {
        core::ptr::null_mut()
    } else {
        p as usize as *mut u8
    }
}

/// Zero `[p, p+len)`: whole pages are given back (`MADV_DONTNEED` reads
/// back as zero), the edges are cleared with stores.
///
/// # Safety
/// `[p, p+len)` must lie inside one mapping made by [`map`] that no one
/// holds a non-atomic reference into.
unsafe fn zero(p: *mut u8, len: usize) {
    const PG: usize = 4096;
    let start = p as usize;
    let end = start + len;
    let lo = start.next_multiple_of(PG);
    let hi = end & !(PG - 1);
    if hi > lo && hi - lo >= 4 * PG {
        // SAFETY: inside the mapping (caller); the edges are in it too.
        unsafe {
            core::ptr::write_bytes(p, 0, lo - start);
            libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED);
            core::ptr::write_bytes(hi as *mut u8, 0, end - hi);
        }
    } else {
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(p, 0, len) };
    }
}

/// Pack the identity of a cell: bits 0–7 the byte mask, 8 write, 9
/// atomic, 10–31 thread + 1 (0: empty), 32–63 epoch.
#[inline]
pub(crate) fn pack(tid: u32, epoch: u32, mask: u8, write: bool, atomic: bool) -> u64 {
    mask as u64
        | (write as u64) << 8
        | (atomic as u64) << 9
        | ((tid as u64 + 1) & TID_MASK) << 10
        | (epoch as u64) << 32
}

/// The thread of a non-empty packed cell.
#[inline]
pub(crate) fn tid_of(w: u64) -> u32 {
    ((w >> 10) & TID_MASK) as u32 - 1
}

/// Mask of the thread field (22 bits).
const TID_MASK: u64 = (1 << 22) - 1;
/// The largest thread id a cell can hold.
pub(crate) const MAX_TID: u32 = (TID_MASK - 1) as u32;

/// The packed identity bits that name thread `tid` at `epoch` (what the
/// fast path compares, with [`ID_BITS`]).
#[inline]
pub(crate) fn owner(tid: u32, epoch: u32) -> u64 {
    ((tid as u64 + 1) & TID_MASK) << 10 | (epoch as u64) << 32
}

/// The bits of a packed cell that [`owner`] sets.
pub(crate) const ID_BITS: u64 = !0x3ff;

/// The chunk covering `addr` and the granule's index in it, in the shadow
/// whose first level is `l1` (null: nothing mapped). Lock-free. Cost: two
/// dependent loads.
#[inline]
pub(crate) fn lookup(l1: *mut AtomicPtr<Chunk>, addr: usize) -> Option<(&'static Chunk, usize)> {
    let i = addr >> CHUNK_SHIFT;
    if l1.is_null() || i >= L1 {
        return None;
    }
    // SAFETY: a non-null `l1` is a mapping of `L1` entries (made by
    // `Shadow::make`), never unmapped, and `i < L1`.
    let c = unsafe { &*l1.add(i) }.load(Ordering::Acquire);
    if c.is_null() {
        None
    } else {
        // SAFETY: chunks are mapped once and never unmapped.
        Some((unsafe { &*c }, (addr >> 3) & (GRANULES - 1)))
    }
}

/// [`lookup`] for a first level known to be mapped (the fast path's: a
/// thread has a context only once `fast::learn` published it). Cost: two
/// dependent loads and one compare.
#[inline(always)]
pub(crate) fn lookup_mapped(
    l1: *mut AtomicPtr<Chunk>,
    addr: usize,
) -> Option<(&'static Chunk, usize)> {
    let i = addr >> CHUNK_SHIFT;
    if i >= L1 {
        return None;
    }
    // SAFETY: `l1` is a mapping of `L1` entries (caller), never unmapped,
    // and `i < L1`.
    let c = unsafe { &*l1.add(i) }.load(Ordering::Acquire);
    // SAFETY: chunks are mapped once and never unmapped.
    (!c.is_null()).then(|| (unsafe { &*c }, (addr >> 3) & (GRANULES - 1)))
}

/// The shadow: a lazily mapped first-level table of chunks.
pub(crate) struct Shadow {
    l1: AtomicPtr<AtomicPtr<Chunk>>,
    /// Set once a mapping failed (reported once by the caller).
    pub(crate) failed: bool,
}

impl core::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shadow")
            .field("failed", &self.failed)
            .finish()
    }
}

impl Default for Shadow {
    fn default() -> Shadow {
        Shadow::new()
    }
}

impl Shadow {
    /// An empty shadow (nothing mapped yet; usable in a `static`).
    pub(crate) const fn new() -> Shadow {
        Shadow {
            l1: AtomicPtr::new(core::ptr::null_mut()),
            failed: false,
        }
    }

    /// The chunk covering `addr` and the granule's index in it, if mapped.
    /// Lock-free. Cost: two dependent loads.
    #[inline]
    pub(crate) fn get(&self, addr: usize) -> Option<(&'static Chunk, usize)> {
        lookup(self.l1.load(Ordering::Acquire), addr)
    }

    /// The first-level table (null until something was mapped), for
    /// [`lookup`] without the lock.
    pub(crate) fn first_level(&self) -> *mut AtomicPtr<Chunk> {
        self.l1.load(Ordering::Acquire)
    }

    /// As [`Shadow::get`], mapping the chunk (and the first level) if
    /// needed; `None` for addresses beyond 2^47 or when mapping fails.
    /// Called under the runtime's lock only.
    pub(crate) fn make(&mut self, addr: usize) -> Option<(&'static Chunk, usize)> {
        let i = addr >> CHUNK_SHIFT;
        if i >= L1 || self.failed {
            return self.get(addr);
        }
        let mut l1 = self.l1.load(Ordering::Acquire);
        if l1.is_null() {
            l1 = map(L1 * 8) as *mut AtomicPtr<Chunk>;
            if l1.is_null() {
                self.failed = true;
                return None;
            }
            self.l1.store(l1, Ordering::Release);
        }
        // SAFETY: as in `get`.
        let slot = unsafe { &*l1.add(i) };
        if slot.load(Ordering::Acquire).is_null() {
            let c = map(core::mem::size_of::<Chunk>()) as *mut Chunk;
            if c.is_null() {
                self.failed = true;
                return None;
            }
            slot.store(c, Ordering::Release);
        }
        self.get(addr)
    }

    /// Call `f(chunk, first granule, end granule)` for each mapped chunk
    /// overlapping the granules `[first, last]`.
    fn for_chunks(&self, first: usize, last: usize, mut f: impl FnMut(&Chunk, usize, usize)) {
        let mut g = first;
        while g <= last {
            let chunk_end = (g | (GRANULES - 1)) + 1;
            let end = chunk_end.min(last + 1);
            if let Some((c, i)) = self.get(g << 3) {
                f(c, i, i + (end - g));
            }
            g = chunk_end;
        }
    }

    /// Call `f(chunk, granule index in chunk, granule)` for each mapped
    /// granule of `[first, last]` (one lookup per chunk).
    pub(crate) fn for_granules(
        &self,
        first: usize,
        last: usize,
        mut f: impl FnMut(&'static Chunk, usize, usize),
    ) {
        let mut g = first;
        while g <= last {
            let end = ((g | (GRANULES - 1)) + 1).min(last + 1);
            if let Some((c, i)) = self.get(g << 3) {
                for k in 0..end - g {
                    f(c, i + k, g + k);
                }
            }
            g = end;
        }
    }

    /// Make the packed cell `w`, with side data `pc` and `info`, the only
    /// cell of granule `i` of chunk `c` (a block's mark at its allocation
    /// or free).
    #[inline]
    pub(crate) fn set_only(c: &Chunk, i: usize, w: u64, pc: usize, info: u64) {
        let cells = &c.cells[i];
        cells[0].store(w, Ordering::Release);
        Shadow::sides(c, i).at(0).store(w, pc, info);
        for cell in &cells[1..] {
            cell.store(0, Ordering::Release);
        }
    }

    /// Empty the race cells of `[addr, addr+size)`.
    pub(crate) fn forget(&self, addr: usize, size: usize) {
        if size == 0 {
            return;
        }
        let first = addr >> 3;
        let last = (addr + size - 1) >> 3;
        self.for_chunks(first, last, |c, i, j| {
            // SAFETY: both ranges lie inside the chunk's mapping; the
            // shadow is only ever accessed through atomics.
            unsafe {
                zero(c.cells[i..j].as_ptr() as *mut u8, (j - i) * CELLS * 8);
                for side in &c.side {
                    zero(side[i..j].as_ptr() as *mut u8, (j - i) * 16);
                }
            }
        });
    }

    /// Empty the race cells of `[addr, addr+size)`, leaving their side
    /// data (which a cell's tag ties to it, see [`side_tag`]).
    pub(crate) fn forget_cells(&self, addr: usize, size: usize) {
        if size == 0 {
            return;
        }
        self.for_chunks(addr >> 3, (addr + size - 1) >> 3, |c, i, j| {
            if j - i <= 32 {
                // A small block (the common case): stores, no call.
                c.cells[i..j]
                    .iter()
                    .flatten()
                    .for_each(|w| w.store(0, Ordering::Relaxed));
            } else {
                // SAFETY: the range lies inside the chunk's mapping; the
                // shadow is only ever accessed through atomics.
                unsafe { zero(c.cells[i..j].as_ptr() as *mut u8, (j - i) * CELLS * 8) };
            }
        });
    }

    /// The cells of the granule at `addr`, unpacked (for tests and
    /// reports).
    #[inline]
    #[cfg(test)]
    pub(crate) fn cell(c: &Chunk, i: usize, k: usize) -> Cell {
        let w = c.cells[i][k].load(Ordering::Relaxed);
        unpack(w, Shadow::sides(c, i).at(k))
    }

    /// Store `cell` as cell `k` of granule `i`.
    #[cfg(test)]
    pub(crate) fn store(c: &Chunk, i: usize, k: usize, cell: &Cell) {
        Shadow::store_packed(
            c,
            i,
            k,
            pack(cell.tid, cell.epoch, cell.mask, cell.write, cell.atomic),
            (cell.pc, side_info(cell.stack, cell.func)),
        );
    }

    /// Store the cell packed as `w` (see [`pack`]) with side data `(pc,
    /// info)` (see [`side_info`]) as cell `k` of granule `i`.
    #[cfg(test)]
    pub(crate) fn store_packed(c: &Chunk, i: usize, k: usize, w: u64, side: (usize, u64)) {
        c.cells[i][k].store(w, Ordering::Relaxed);
        Shadow::sides(c, i).at(k).store(w, side.0, side.1);
    }

    /// The side data of the cells of granule `i`.
    #[inline(always)]
    pub(crate) fn sides(c: &Chunk, i: usize) -> Sides<'_> {
        Sides(&c.side, i)
    }

    /// Cell `k` of granule `i`, read as the packed `w` it held a moment
    /// ago: its side data if the slot still holds `w` and its side data
    /// has been stored (the writer stores it just after the cell, without
    /// a lock, so this waits a little for it), else none (pc and stack 0:
    /// the report says the stack could not be restored).
    pub(crate) fn cell_as(c: &Chunk, i: usize, k: usize, w: u64) -> Cell {
        let s = Shadow::sides(c, i).at(k);
        for round in 0..256 {
            let info = s.info.load(Ordering::Acquire);
            let pc = s.pc.load(Ordering::Acquire);
            if c.cells[i][k].load(Ordering::Acquire) != w {
                // Replaced since: its side data is gone.
                break;
            }
            if info & TAG_BITS == side_tag(w) {
                return unpack_parts(w, pc as usize, info & !TAG_BITS);
            }
            if round % 16 == 15 {
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            } else {
                core::hint::spin_loop();
            }
        }
        unpack_parts(w, 0, 0)
    }

    /// Mark the granules of `[addr, addr+size)` as object `id` (0: none):
    /// whole pages through the page ids. `only_if`: change only granules
    /// (and pages) currently marked with this id (to clear an object's
    /// marks without clearing a newer object's). Mapping failures leave
    /// granules unmarked (their accesses then count as unattributed).
    pub(crate) fn mark(&mut self, addr: usize, size: usize, id: u32, only_if: Option<u32>) {
        let size = size.max(1);
        let first = addr >> 3;
        let last = (addr + size - 1) >> 3;
        let first_page = first.next_multiple_of(PAGE_GRANULES);
        let end_page = (last + 1) & !(PAGE_GRANULES - 1);
        let set = |a: &AtomicU32| match only_if {
            None => a.store(id, Ordering::Relaxed),
            Some(old) => {
                if a.load(Ordering::Relaxed) == old {
                    a.store(id, Ordering::Relaxed)
                }
            }
        };
        if only_if.is_none() {
            // Make the chunks first (marks need them).
            let mut g = first;
            while g <= last {
                if self.make(g << 3).is_none() {
                    break;
                }
                g = (g | (GRANULES - 1)) + 1;
            }
        }
        let whole = end_page > first_page;
        let (lo_end, hi_start) = if whole {
            (first_page, end_page)
        } else {
            (last + 1, last + 1)
        };
        // Granule marks at the edges, page marks in between.
        self.for_chunks(first, lo_end.max(first) - 1, |c, i, j| {
            c.ids[i..j].iter().for_each(set);
        });
        if whole {
            self.for_chunks(first_page, end_page - 1, |c, i, j| {
                c.page_ids[i / PAGE_GRANULES..j.div_ceil(PAGE_GRANULES)]
                    .iter()
                    .for_each(set);
            });
            if hi_start <= last {
                self.for_chunks(hi_start, last, |c, i, j| {
                    c.ids[i..j].iter().for_each(set);
                });
            }
        }
    }

    /// The object id of the granule `i` of chunk `c` (0: none).
    #[inline]
    pub(crate) fn id(c: &Chunk, i: usize) -> u32 {
        let id = c.ids[i].load(Ordering::Relaxed);
        if id != 0 {
            id
        } else {
            c.page_ids[i / PAGE_GRANULES].load(Ordering::Relaxed)
        }
    }
}

/// The side data word of a cell: call stack `stack`, libc function `func`
/// (bits 0–39; bits 40–63 hold the tag [`Shadow::store_side`] adds).
#[inline]
pub(crate) fn side_info(stack: u32, func: u8) -> u64 {
    stack as u64 | (func as u64) << 32
}

/// The bits of a side data word that tag it with its cell.
const TAG_BITS: u64 = !0 << 40;

/// The tag of the side data of the cell packed as `w`: its low 24 bits
/// (bytes, kind, the low 14 bits of the thread) xor the low 24 bits of
/// its epoch. A stale side word is taken for `w`'s only if its cell
/// agrees in all of these, and then only names the wrong pc in a report.
#[inline]
fn side_tag(w: u64) -> u64 {
    (w ^ w >> 32) << 40
}

/// Unpack a cell.
#[cfg(test)]
fn unpack(w: u64, s: &Side) -> Cell {
    if w == 0 {
        return EMPTY;
    }
    unpack_parts(
        w,
        s.pc.load(Ordering::Relaxed) as usize,
        s.info.load(Ordering::Relaxed) & !TAG_BITS,
    )
}

/// Unpack the non-empty cell packed as `w` with side data `pc`, `info`.
pub(crate) fn unpack_parts(w: u64, pc: usize, info: u64) -> Cell {
    Cell {
        pc,
        tid: ((w >> 10) & TID_MASK) as u32 - 1,
        epoch: (w >> 32) as u32,
        stack: info as u32,
        mask: w as u8,
        write: w >> 8 & 1 != 0,
        atomic: w >> 9 & 1 != 0,
        func: (info >> 32) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        let mut sh = Shadow::new();
        let (c, i) = sh.make(0x7000_1234_5678).unwrap();
        let cell = Cell {
            pc: 0x55_0000_1234,
            tid: 77,
            epoch: 0xdead_beef,
            stack: 42,
            mask: 0xf0,
            write: true,
            atomic: false,
            func: 3,
        };
        Shadow::store(c, i, 2, &cell);
        assert_eq!(Shadow::cell(c, i, 2), cell);
        assert_eq!(Shadow::cell(c, i, 1).tid, EMPTY_TID);
        let w = c.cells[i][2].load(Ordering::Relaxed);
        assert_eq!(w & ID_BITS, owner(77, 0xdead_beef));
        sh.forget(0x7000_1234_5678, 1);
        assert_eq!(Shadow::cell(c, i, 2).tid, EMPTY_TID);
    }

    #[test]
    fn marks_cover_granules_and_pages() {
        let mut sh = Shadow::new();
        let base = 0x6000_0000_0ff0usize; // straddles a chunk boundary
        let size = 3 * 4096 + 40;
        sh.mark(base, size, 9, None);
        for a in [base, base + 8, base + 4096, base + size - 1] {
            let (c, i) = sh.get(a).unwrap();
            assert_eq!(Shadow::id(c, i), 9, "{a:#x}");
        }
        for a in [base - 1, base + size.next_multiple_of(8)] {
            let (c, i) = sh.get(a).unwrap();
            assert_eq!(Shadow::id(c, i), 0, "{a:#x}");
        }
        // Clearing only what is still ours.
        sh.mark(base, 16, 10, None);
        sh.mark(base, size, 0, Some(9));
        let (c, i) = sh.get(base).unwrap();
        assert_eq!(Shadow::id(c, i), 10);
        let (c, i) = sh.get(base + 4096).unwrap();
        assert_eq!(Shadow::id(c, i), 0);
    }
}
