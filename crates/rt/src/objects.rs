//! Per-object access counters that threads update without a lock.
//!
//! Every live heap object gets an id (its index in a slab, plus one) and a
//! [`Rec`] of [`ROWS`] rows, one per accessing thread in order of first
//! access: a thread claims a row once (under the id's shard lock, without
//! the table lock: [`Slab::claim`]), then
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
//! Concurrency contract: ids are handed out and released under the
//! runtime's table lock; a record's object (`base..end`, site) is set and
//! cleared, and its rows claimed and emptied, under the id's shard lock
//! too, so a thread that read an id from the shadow without the table
//! lock claims a row only in the live object holding the address it
//! accessed; counters are atomics (never torn). A count can be lost (or
//! land in the object that took the freed memory) only when a thread
//! accesses an object while another frees it — a use-after-free in the
//! program.

use crate::lock::{Lock, LockGuard};
use crate::shadow::Padded;
use crate::state::Counts;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

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

/// The rows of one object, and what the fast path needs to know of it
/// without the table lock.
#[derive(Default)]
#[repr(C)]
pub(crate) struct Rec {
    pub(crate) rows: [Row; ROWS],
    /// Rows for further threads (a leaked record, kept for the id's next
    /// object; null until needed).
    more: AtomicPtr<Rec>,
    /// The object's bytes, `base..end` (`end` 0: the id is free). Set
    /// and cleared under the id's shard lock (see [`Slab`]).
    base: AtomicUsize,
    end: AtomicUsize,
    /// The object's allocation site.
    site: AtomicU32,
}

// A row is one cache line (and the link and the object one more).
const _: () = assert!(core::mem::size_of::<Rec>() == ROWS * 64 + 64);

/// Row locks (by id).
const SHARDS: usize = 16;

/// The records of all ids: chunks of [`PER_CHUNK`] records, reachable
/// without the table lock, and the locks under which rows are claimed and
/// emptied (sharded by id), so that a thread can claim its row in an
/// object without the table lock ([`Slab::claim`]) while the table, under its
/// lock, hands out and releases ids.
pub(crate) struct Slab {
    chunks: [AtomicPtr<Rec>; MAX_CHUNKS],
    /// Each alone in its cache line (threads take different ones).
    locks: [Padded<Lock<()>>; SHARDS],
}

/// The process's records.
pub(crate) static SLAB: Slab = Slab::new();

impl Slab {
    /// No records.
    pub(crate) const fn new() -> Slab {
        Slab {
            chunks: [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CHUNKS],
            locks: [const { Padded(Lock::new(())) }; SHARDS],
        }
    }

    /// The record of `id`, if its chunk exists (any `id`: ids read from
    /// the shadow without the lock are checked here).
    #[inline]
    fn rec(&self, id: u32) -> Option<&'static Rec> {
        let i = (id as usize).wrapping_sub(1);
        let chunk = self.chunks.get(i / PER_CHUNK)?.load(Ordering::Acquire);
        // SAFETY: chunks are leaked, never moved, `PER_CHUNK` records
        // each.
        (!chunk.is_null()).then(|| unsafe { &*chunk.add(i % PER_CHUNK) })
    }

    /// The row of thread `tid` in live object `id`,
    /// claiming a free one, if the object holds `addr` (`id` was read from
    /// the shadow without the table lock: the object may have been freed
    /// since, its id even handed to another object). `None`: not live, not
    /// holding `addr`, or its rows are full (chaining more is left to the
    /// table). Takes the id's shard lock: the caller must be unable to
    /// reenter the runtime (see `fast::while_busy`). Cost: a lock and up to
    /// [`ROWS`] compares.
    pub(crate) fn claim(&self, id: u32, tid: u32, addr: usize) -> Option<Claimed> {
        let rec = self.rec(id)?;
        let _g = self.lock(id);
        let (start, end) = (
            rec.base.load(Ordering::Relaxed),
            rec.end.load(Ordering::Relaxed),
        );
        if !(start..end).contains(&addr) {
            return None;
        }
        let row = row_in(rec, tid, false)?;
        Some(Claimed {
            site: rec.site.load(Ordering::Relaxed),
            start,
            end,
            row,
        })
    }

    /// The lock of `id`'s rows.
    #[inline]
    fn lock(&self, id: u32) -> LockGuard<'_, ()> {
        self.locks[id as usize % SHARDS].0.lock()
    }

    /// Take every row lock (around `fork`, see [`crate::lock`]).
    pub(crate) fn lock_all(&self) {
        for l in &self.locks {
            l.0.raw_lock();
        }
    }

    /// Undo [`Slab::lock_all`].
    ///
    /// # Safety
    /// Only by the thread that called [`Slab::lock_all`] (or its forked
    /// child), once.
    pub(crate) unsafe fn unlock_all(&self) {
        for l in self.locks.iter().rev() {
            // SAFETY: the caller's contract.
            unsafe { l.0.raw_unlock() };
        }
    }
}

/// What [`Slab::claim`] found: the object's bytes and site, and the thread's row.
pub(crate) struct Claimed {
    pub(crate) site: u32,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) row: &'static Row,
}

/// The row of `tid` in `rec`'s chain, claiming the first free one; with
/// `chain`, records of [`ROWS`] more rows are chained when all are taken
/// (up to [`MAX_LINKS`] records). The caller holds the id's shard lock.
fn row_in(mut rec: &'static Rec, tid: u32, chain: bool) -> Option<&'static Row> {
    let want = tid + 1;
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
            if !chain {
                return None;
            }
            next = Box::into_raw(Box::new(Rec::default()));
            rec.more.store(next, Ordering::Release);
        }
        // SAFETY: chained records are leaked, never freed.
        rec = unsafe { &*next };
    }
    None
}

/// Ids: the free ones and the next never used, over a [`Slab`].
pub(crate) struct Objects {
    slab: &'static Slab,
    /// Chunks made so far.
    nchunks: usize,
    free: Vec<u32>,
    next: u32,
}

impl core::fmt::Debug for Objects {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Objects")
            .field("free", &self.free.len())
            .field("next", &self.next)
            .finish()
    }
}

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
    /// No objects, over the records of `slab` (the process's: [`SLAB`],
    /// which the fast path reads).
    pub(crate) const fn new(slab: &'static Slab) -> Objects {
        Objects {
            slab,
            nchunks: 0,
            free: Vec::new(),
            next: 0,
        }
    }

    /// A fresh id for the object of `size` bytes (0 counts as one) at
    /// `base`, allocated at `site`, its rows empty; `None` when the slab
    /// is full.
    pub(crate) fn alloc(&mut self, base: usize, size: usize, site: u32) -> Option<u32> {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let i = self.next as usize;
                if i / PER_CHUNK >= self.nchunks {
                    if self.nchunks >= MAX_CHUNKS {
                        return None;
                    }
                    // SAFETY: a record of all-zero bytes is a valid empty
                    // record (zero counters, free rows, no link, no
                    // object).
                    let p = unsafe { leak_zeroed::<Rec>(PER_CHUNK) };
                    if p.is_null() {
                        return None;
                    }
                    self.slab.chunks[self.nchunks].store(p, Ordering::Release);
                    self.nchunks += 1;
                }
                self.next += 1;
                i as u32 + 1
            }
        };
        let rec = self.rec(id);
        let _g = self.slab.lock(id);
        rec.base.store(base, Ordering::Relaxed);
        rec.end.store(base + size.max(1), Ordering::Relaxed);
        rec.site.store(site, Ordering::Relaxed);
        Some(id)
    }

    /// The base address of live object `id`.
    #[inline]
    pub(crate) fn base(&self, id: u32) -> Option<usize> {
        let rec = self.slab.rec(id)?;
        (rec.end.load(Ordering::Relaxed) != 0).then(|| rec.base.load(Ordering::Relaxed))
    }

    /// The record of `id` (non-zero, handed out by [`Objects::alloc`]).
    #[inline]
    fn rec(&self, id: u32) -> &'static Rec {
        self.slab.rec(id).expect("an id handed out has a record")
    }

    /// The row of `tid` in `id`, claiming a free one (chaining a record of
    /// [`ROWS`] more when all are taken, up to [`MAX_LINKS`] records);
    /// `None` beyond. Called under the runtime's lock.
    pub(crate) fn row(&self, id: u32, tid: u32) -> Option<&'static Row> {
        let rec = self.rec(id);
        let _g = self.slab.lock(id);
        row_in(rec, tid, true)
    }

    /// Take the counts of `id` out — `(thread, counts)` in row order,
    /// appended to `out` — and free the id.
    pub(crate) fn release(&mut self, id: u32, out: &mut Vec<(u32, Counts)>) {
        let mut rec = self.rec(id);
        let _g = self.slab.lock(id);
        rec.end.store(0, Ordering::Relaxed);
        rec.base.store(0, Ordering::Relaxed);
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
        let mut o = Objects::new(Box::leak(Box::new(Slab::new())));
        let a = o.alloc(0x10, 8, 0).unwrap();
        let b = o.alloc(0x20, 8, 0).unwrap();
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
        assert_eq!(o.base(a), None);
        assert_eq!(o.alloc(0x30, 8, 0), Some(a));
        assert_eq!(o.base(a), Some(0x30));
        assert!(o.peek(a).is_empty());
    }
}
