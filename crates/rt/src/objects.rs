//! Per-object access counters that threads update without a lock.
//!
//! Every live heap object gets an id (its index in a slab, plus one) and a
//! [`Rec`] of [`ROWS`] rows, one per accessing thread in order of first
//! access: a thread claims a row once (under the runtime's lock), then
//! counts its reads, writes and atomics in it with plain relaxed loads and
//! stores (it is the row's only writer). Further threads get rows in
//! records chained to the first (up to `ROWS * MAX_LINKS` threads; beyond
//! that, in the object's list under the lock).
//!
//! The slab grows in chunks of [`PER_CHUNK`] records that are never freed
//! or moved, so a thread may keep a pointer to its row: when the object is
//! freed its rows are emptied, and a cached row is only used while it
//! still names the thread (see `fast`).
//!
//! Concurrency contract: ids are handed out, rows claimed and records
//! emptied under the runtime's lock; counters are atomics (never torn).
//! A count can be lost only when a thread accesses an object while another
//! frees it — a use-after-free in the program.

use crate::state::Counts;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// Threads counted per object without the lock.
pub(crate) const ROWS: usize = 4;
/// Records per slab chunk (4 MiB).
const PER_CHUNK: usize = 1 << 14;
/// Chunks at most (`2^26` live objects); beyond, objects get no id and
/// are counted under the lock only.
const MAX_CHUNKS: usize = 1 << 12;

/// One thread's counters in an object, alone in its cache line: rows of
/// different threads must not share one, or the runtime would add false
/// sharing of its own to every shared object.
#[derive(Default)]
#[repr(C, align(64))]
pub(crate) struct Row {
    /// The thread + 1 (0: free).
    pub(crate) tid1: AtomicU32,
    /// Reads, writes, atomics.
    pub(crate) counts: [AtomicU64; 3],
    /// The claim that gave the row its thread ([`next_claim`]; 0: free):
    /// the same claim means the same object and thread (`fast`).
    pub(crate) claim: AtomicU64,
}

/// Claims handed out so far (see [`next_claim`]).
static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// A number never handed out before (not 0), naming one claim of a row or
/// of a line record's slot by a thread: a thread that remembers the claim
/// of a row or slot knows it is still its own, for the same object or
/// line, while the claim is unchanged — whatever was freed and reused
/// meanwhile. One relaxed RMW, under the runtime's lock.
pub(crate) fn next_claim() -> u64 {
    CLAIMS.fetch_add(1, Ordering::Relaxed) + 1
}

impl Row {
    /// Is this the row of thread `tid`?
    #[inline]
    pub(crate) fn owned_by(&self, tid: u32) -> bool {
        self.tid1.load(Ordering::Relaxed) == tid.wrapping_add(1)
    }

    /// Add one access of kind `k` (the caller owns the row).
    #[inline]
    pub(crate) fn bump(&self, k: usize) {
        let c = &self.counts[k];
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// The rows of one object.
#[derive(Default)]
#[repr(C)]
pub(crate) struct Rec {
    pub(crate) rows: [Row; ROWS],
    /// Rows for further threads (a leaked record, kept for the id's next
    /// object; null until needed).
    more: AtomicPtr<Rec>,
}

/// The slab of records, with its free ids.
#[derive(Debug)]
pub(crate) struct Objects {
    chunks: Vec<*mut Rec>,
    /// The base address of each live id's object (index: id - 1).
    bases: Vec<usize>,
    free: Vec<u32>,
    next: u32,
}

// SAFETY: the records are only reached through atomics; the raw pointers
// are to leaked, never-freed allocations.
unsafe impl Send for Objects {}

// A row is one cache line (and the link one more).
const _: () = assert!(core::mem::size_of::<Rec>() == ROWS * 64 + 64);

/// Records chained per object at most: `ROWS * MAX_LINKS` threads get a
/// lock-free row; further ones are counted in the object's list under the
/// lock.
const MAX_LINKS: usize = 16;

/// `n` zeroed `T`s in fresh mapped memory (resident only once touched),
/// never freed; null if the mapping fails.
///
/// # Safety
/// All-zero bytes must be a valid `T`, and `T`'s alignment at most a page.
pub(crate) unsafe fn leak_zeroed<T>(n: usize) -> *mut T {
    match core::mem::size_of::<T>().checked_mul(n) {
        Some(len) if len > 0 => crate::shadow::map(len) as *mut T,
        _ => core::ptr::null_mut(),
    }
}

impl Objects {
    /// No objects.
    pub(crate) const fn new() -> Objects {
        Objects {
            chunks: Vec::new(),
            bases: Vec::new(),
            free: Vec::new(),
            next: 0,
        }
    }

    /// A fresh id for the object at `base` (its rows empty), or `None`
    /// when the slab is full.
    pub(crate) fn alloc(&mut self, base: usize) -> Option<u32> {
        if let Some(id) = self.free.pop() {
            self.bases[id as usize - 1] = base;
            return Some(id);
        }
        let i = self.next as usize;
        if i / PER_CHUNK >= self.chunks.len() {
            if self.chunks.len() >= MAX_CHUNKS {
                return None;
            }
            // SAFETY: a record of all-zero bytes is a valid empty record
            // (zero counters, free rows, no link).
            let p = unsafe { leak_zeroed::<Rec>(PER_CHUNK) };
            if p.is_null() {
                return None;
            }
            self.chunks.push(p);
        }
        self.next += 1;
        self.bases.push(base);
        Some(i as u32 + 1)
    }

    /// The base address of live object `id`.
    #[inline]
    pub(crate) fn base(&self, id: u32) -> Option<usize> {
        self.bases.get((id as usize).wrapping_sub(1)).copied()
    }

    /// The record of `id` (non-zero, handed out by [`Objects::alloc`]).
    #[inline]
    pub(crate) fn rec(&self, id: u32) -> &'static Rec {
        let i = id as usize - 1;
        // SAFETY: `id` came from `alloc`, so its chunk exists; chunks are
        // leaked and never move.
        unsafe { &*self.chunks[i / PER_CHUNK].add(i % PER_CHUNK) }
    }

    /// The row of `tid` in `id`, claiming a free one (chaining a record of
    /// [`ROWS`] more when all are taken, up to [`MAX_LINKS`] records);
    /// `None` beyond. Called under the runtime's lock.
    pub(crate) fn row(&self, id: u32, tid: u32) -> Option<&'static Row> {
        let want = tid + 1;
        let mut rec = self.rec(id);
        for _ in 0..MAX_LINKS {
            for r in &rec.rows {
                match r.tid1.load(Ordering::Relaxed) {
                    0 => {
                        r.tid1.store(want, Ordering::Relaxed);
                        r.claim.store(next_claim(), Ordering::Relaxed);
                        return Some(r);
                    }
                    t if t == want => return Some(r),
                    _ => {}
                }
            }
            let mut next = rec.more.load(Ordering::Acquire);
            if next.is_null() {
                next = Box::into_raw(Box::new(Rec::default()));
                rec.more.store(next, Ordering::Release);
            }
            // SAFETY: chained records are leaked, never freed.
            rec = unsafe { &*next };
        }
        None
    }

    /// Take the counts of `id` out — `(thread, counts)` in row order,
    /// appended to `out` — and free the id.
    pub(crate) fn release(&mut self, id: u32, out: &mut Vec<(u32, Counts)>) {
        let mut rec = self.rec(id);
        'chain: loop {
            for r in &rec.rows {
                let t = r.tid1.swap(0, Ordering::Relaxed);
                if t == 0 {
                    break 'chain;
                }
                r.claim.store(0, Ordering::Relaxed);
                let c = [0, 1, 2].map(|k| r.counts[k].swap(0, Ordering::Relaxed));
                out.push((t - 1, c));
            }
            let next = rec.more.load(Ordering::Acquire);
            if next.is_null() {
                break;
            }
            // SAFETY: chained records are leaked, never freed.
            rec = unsafe { &*next };
        }
        self.free.push(id);
    }

    /// The counts of `id` so far, without releasing it.
    #[cfg(test)]
    pub(crate) fn peek(&self, id: u32) -> Vec<(u32, Counts)> {
        self.rec(id)
            .rows
            .iter()
            .map_while(|r| {
                let t = r.tid1.load(Ordering::Relaxed);
                (t != 0).then(|| {
                    (
                        t - 1,
                        [0, 1, 2].map(|k| r.counts[k].load(Ordering::Relaxed)),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_claimed_counted_and_released() {
        let mut o = Objects::new();
        let a = o.alloc(0x10).unwrap();
        let b = o.alloc(0x20).unwrap();
        assert_eq!(o.base(b), Some(0x20));
        assert_ne!(a, b);
        o.row(a, 3).unwrap().bump(1);
        o.row(a, 0).unwrap().bump(0);
        o.row(a, 3).unwrap().bump(1);
        for t in 10..12 {
            o.row(a, t).unwrap();
        }
        // A fifth thread gets a row in a chained record.
        o.row(a, 99).unwrap().bump(2);
        assert_eq!(o.row(a, 99).unwrap().counts[2].load(Ordering::Relaxed), 1);
        assert_eq!(o.peek(a)[0], (3, [0, 2, 0]));
        let mut got = Vec::new();
        o.release(a, &mut got);
        assert_eq!(
            got,
            vec![
                (3, [0, 2, 0]),
                (0, [1, 0, 0]),
                (10, [0; 3]),
                (11, [0; 3]),
                (99, [0, 0, 1])
            ]
        );
        // The id is reused, empty.
        assert_eq!(o.alloc(0x30), Some(a));
        assert_eq!(o.base(a), Some(0x30));
        assert!(o.peek(a).is_empty());
    }
}
