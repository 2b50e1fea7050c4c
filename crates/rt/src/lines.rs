//! False sharing: per 64-byte cache line of heap memory, which threads
//! wrote and read which bytes, and how many writes each made.
//!
//! # Definition
//!
//! Intel describes false sharing as "threads on different processors
//! modify variables that reside on the same cache line" (*Avoiding and
//! Identifying False Sharing Among Threads*, Intel Developer Zone); `perf
//! c2c` finds candidates as cache lines with HITMs (a load hitting a line
//! modified in another core's cache) and shows, per line, the offsets each
//! thread accessed, so that *different threads accessing different data
//! in the same line, at least one of them writing* can be told apart from
//! threads contending for the same data. loci observes every instrumented
//! access instead of sampling, and classifies each line from its byte
//! masks:
//!
//! - `W(t)`: the bytes of the line thread `t` wrote (plain writes and
//!   atomic operations that store: stores, RMWs, successful
//!   compare-exchanges); `R(t)`: the bytes it read; a *writer* is a thread
//!   with `W(t)` non-empty.
//! - The line is **falsely shared** when it has at least two writers and
//!   no writer's bytes are touched by another writer: for every two
//!   writers `t != u`, `W(t) ∩ (W(u) ∪ R(u)) = ∅`. The writers then only
//!   share the line, not data, and every write by one invalidates the
//!   others' copies for nothing; padding or separating the data removes
//!   the cost.
//! - It is **truly shared** when it has at least two writers and some
//!   writer's bytes are read or written by another writer (a shared
//!   counter, a lock word, a queue index): separating the data would not
//!   help.
//! - Lines with fewer than two writers are not classified. Threads that
//!   only *read* the line (for example `main` reading per-thread results
//!   after `pthread_join`) neither make nor unmake false sharing (they are
//!   listed as readers): the analysis sees no time, so without this rule
//!   any result collected after the threads end would turn false sharing
//!   into true sharing. The same lack of time means that a thread that
//!   *writes* the writers' bytes in another phase (main initialising the
//!   array with plain stores before starting the threads) makes the line
//!   truly shared; `calloc` or initialisation by the owning thread avoid
//!   that.
//!
//! The cost of a falsely shared line is the number of writes its writers
//! made to it; the report ranks lines by it.
//!
//! # Concurrency
//!
//! Records live in [`SHARDS`] shards by line index, each behind its own
//! lock: a thread's first access to a line makes the record and claims
//! its slot under that lock only (not the runtime's table lock), and the
//! free of an object drops the records of its lines under the same locks.
//! The shadow points to each line's record (set and cleared under the
//! shard's lock), which spares the shard's hash index on the way in.
//! Once a thread owns a slot it updates it with no lock at all.
//!
//! # Bounds (memory never grows without limit)
//!
//! - Only heap objects' lines are tracked (accesses the table attributes
//!   to a live object, clipped to it). A line's record is dropped, after
//!   being classified, when an object overlapping it is freed (its history
//!   then restarts: objects that share a line with a freed one lose the
//!   accesses made before the free), and at exit.
//! - At most [`MAX_LINES`] lines (16 MiB of heap) have a record at a time
//!   (384 bytes each — one cache line per thread slot — so at most 96 MiB
//!   plus the index): accesses to
//!   further lines are not tracked, only counted (`untracked` in the
//!   profile), until records are freed again. While all records are
//!   taken ([`FULL`]), threads count such accesses in the object without
//!   the runtime's lock (a 58 MiB buffer of zstd's made every access
//!   past the first 16 MiB take it).
//!   The flag is read without the lock: a thread that reads it stale
//!   can count an access as untracked just after a record was freed.
//! - Objects of [`LINELESS_MIN`] bytes or more have no line records at
//!   all: their accesses are counted in the object only, and false
//!   sharing inside them is not looked for. (A compressor's multi-MiB
//!   hash tables, read and written at random, made each thread's first
//!   access to each line take the runtime's lock to claim a slot.)
//! - A record keeps [`SLOTS`] threads exactly (the first to touch the
//!   line); one more slot holds the union of all further threads (thread
//!   [`OTHERS`], shown as `others`), whose overlaps among themselves are
//!   therefore not seen.
//! - A record keeps the first [`LINE_SITES`] allocation sites of the
//!   objects accessed in the line.
//! - At most [`MAX_RESULTS`] distinct falsely shared lines (by address,
//!   sites and writers) are kept; further ones are counted (`dropped`).

use crate::lock::{Lock, LockGuard};
use crate::race::AddrHasher;
use crate::shadow::Padded;
use crate::shadow::Shadow;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

/// Cache-line size in bytes.
pub(crate) const LINE: usize = 64;
/// Threads kept exactly per line.
pub(crate) const SLOTS: usize = 4;
/// Allocation sites kept per line.
pub(crate) const LINE_SITES: usize = 4;
/// Lines with a record at a time.
pub(crate) const MAX_LINES: usize = 1 << 18;
/// Objects at least this large have no line records (see the module
/// docs).
pub(crate) const LINELESS_MIN: usize = 1 << 20;
/// Are all [`MAX_LINES`] records taken? Then a line without a record
/// gets none: the fast path counts its accesses without the lock.
pub(crate) static FULL: AtomicBool = AtomicBool::new(false);
/// Distinct falsely shared lines kept for the report.
pub(crate) const MAX_RESULTS: usize = 4096;
/// The thread id of the merged slot for threads beyond [`SLOTS`].
pub(crate) const OTHERS: u32 = u32::MAX;

/// What one thread did to one line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The thread ([`OTHERS`] for the merged slot).
    pub(crate) tid: u32,
    /// Bytes written (bit `i`: byte `i` of the line).
    pub(crate) written: u64,
    /// Bytes read.
    pub(crate) read: u64,
    /// Number of writes to the line.
    pub(crate) writes: u64,
}

/// What one thread did to one line, updated in place by that thread
/// without the lock (it is the slot's only writer once it owns it); alone
/// in its cache line, so that threads writing their own slots of one
/// record do not falsely share the record.
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct SharedSlot {
    /// The thread + 1 (0: free; [`OTHERS`]: the merged slot).
    tid1: AtomicU32,
    written: AtomicU64,
    read: AtomicU64,
    writes: AtomicU64,
    /// The claim that gave the slot its thread, or made it the merged slot
    /// (see [`crate::objects::next_claim`]; 0: free).
    claim: AtomicU64,
}

impl SharedSlot {
    /// A slot that is no line's: it never changes hands (its claim is
    /// none [`crate::objects::next_claim`] hands out), and what is noted
    /// in it is never read. A thread's fast path counts accesses to lines
    /// without a record through its own (see `fast::Ctx::sink`).
    pub(crate) const fn sink() -> SharedSlot {
        SharedSlot {
            tid1: AtomicU32::new(0),
            written: AtomicU64::new(0),
            read: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            claim: AtomicU64::new(u64::MAX),
        }
    }

    /// Record a write (or a read) of the bytes `m`.
    #[inline]
    pub(crate) fn note(&self, m: u64, write: bool) {
        if write {
            self.written
                .store(self.written.load(Ordering::Relaxed) | m, Ordering::Relaxed);
            self.writes
                .store(self.writes.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        } else {
            self.read
                .store(self.read.load(Ordering::Relaxed) | m, Ordering::Relaxed);
        }
    }

    /// Record a write (or a read) of the bytes `m` in a slot other threads
    /// may update at the same time (the merged slot): atomic
    /// read-modify-writes, skipped for bytes already marked.
    #[inline]
    pub(crate) fn note_shared(&self, m: u64, write: bool) {
        let bytes = if write { &self.written } else { &self.read };
        if bytes.load(Ordering::Relaxed) & m != m {
            bytes.fetch_or(m, Ordering::Relaxed);
        }
        if write {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Is this the merged slot of the threads beyond [`SLOTS`]?
    #[inline]
    pub(crate) fn is_merged(&self) -> bool {
        self.tid1.load(Ordering::Relaxed) == OTHERS
    }

    /// Does the slot belong to thread `tid` (not the merged slot)?
    #[inline]
    pub(crate) fn owned_by(&self, tid: u32) -> bool {
        self.tid1.load(Ordering::Relaxed) == tid.wrapping_add(1)
    }

    /// The slot's claim (0: free).
    #[inline]
    pub(crate) fn claim(&self) -> u64 {
        self.claim.load(Ordering::Relaxed)
    }

    fn take(&self) -> Slot {
        self.claim.store(0, Ordering::Relaxed);
        let t = self.tid1.swap(0, Ordering::Relaxed);
        Slot {
            tid: if t == OTHERS {
                OTHERS
            } else {
                t.wrapping_sub(1)
            },
            written: self.written.swap(0, Ordering::Relaxed),
            read: self.read.swap(0, Ordering::Relaxed),
            writes: self.writes.swap(0, Ordering::Relaxed),
        }
    }
}

/// The record of one line (in a slab that never moves, so the fast path
/// may keep a pointer to its slot; see [`LineMemo`]).
#[derive(Default)]
pub(crate) struct LineRec {
    /// The line's index (address / [`LINE`]) + 1; 0 when free.
    line1: AtomicUsize,
    /// `SLOTS` threads exactly, then the merged slot of all further ones.
    slots: [SharedSlot; SLOTS + 1],
    /// Slots in use (`SLOTS + 1` once the merged slot is); under the lock.
    n: AtomicU32,
    sites: [AtomicU32; LINE_SITES],
    nsites: AtomicU32,
}

impl LineRec {
    /// Is this the record of line `line`?
    #[inline]
    pub(crate) fn is_line(&self, line: usize) -> bool {
        self.line1.load(Ordering::Relaxed) == line.wrapping_add(1)
    }

    /// The slot of thread `tid` — its own, or the merged one when all
    /// [`SLOTS`] belong to other threads — if the record has seen `site`:
    /// what the fast path needs to note an access without the lock (the
    /// merged slot with [`SharedSlot::note_shared`]). Cost: up to 10 loads
    /// and compares.
    #[inline]
    pub(crate) fn slot_for(&self, tid: u32, site: u32) -> Option<&SharedSlot> {
        let slot = match self.slots[..SLOTS].iter().find(|s| s.owned_by(tid)) {
            Some(s) => s,
            None if self.slots[SLOTS].is_merged() => &self.slots[SLOTS],
            None => return None,
        };
        let n = self.nsites.load(Ordering::Relaxed) as usize;
        self.sites[..n.min(LINE_SITES)]
            .iter()
            .any(|s| s.load(Ordering::Relaxed) == site)
            .then_some(slot)
    }

    /// The sites seen (the first `n` of the array).
    fn sites(&self) -> ([u32; LINE_SITES], usize) {
        let n = (self.nsites.load(Ordering::Relaxed) as usize).min(LINE_SITES);
        let mut out = [0; LINE_SITES];
        for (o, s) in out.iter_mut().zip(&self.sites[..n]) {
            *o = s.load(Ordering::Relaxed);
        }
        (out, n)
    }
}

/// What a thread may remember after noting an access inside one line: its
/// own slot in the line's record. Valid while the record is still that
/// line's ([`LineRec::is_line`]) and the slot still the thread's
/// ([`SharedSlot::owned_by`]), for accesses to objects of `site`.
#[derive(Clone, Copy)]
pub(crate) struct LineMemo {
    /// The line index.
    pub(crate) line: usize,
    /// The allocation site the record has seen.
    pub(crate) site: u32,
    /// The record.
    pub(crate) rec: &'static LineRec,
    /// The thread's slot in it.
    pub(crate) slot: &'static SharedSlot,
}

/// Records per slab chunk.
const RECS_PER_CHUNK: usize = 4096;

/// How a line is shared, see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// Fewer than two writers.
    Unclassified,
    /// Two or more writers, none touching another writer's bytes.
    False,
    /// Two or more writers sharing bytes.
    True,
}

/// Classify a line from the slots of the threads that touched it.
pub(crate) fn classify(slots: &[Slot]) -> Sharing {
    let writers = slots.iter().filter(|s| s.written != 0).count();
    if writers < 2 {
        return Sharing::Unclassified;
    }
    for (i, t) in slots.iter().enumerate() {
        for (j, u) in slots.iter().enumerate() {
            if i != j && u.written != 0 && t.written & (u.written | u.read) != 0 {
                return Sharing::True;
            }
        }
    }
    Sharing::False
}

/// The bytes `[lo, hi)` of a line as a mask (`lo < hi <= 64`).
#[inline]
fn mask(lo: usize, hi: usize) -> u64 {
    let n = hi - lo;
    if n >= 64 {
        !0
    } else {
        ((1u64 << n) - 1) << lo
    }
}

/// A byte mask as ranges: `0-7,16`.
pub(crate) fn ranges(m: u64) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < 64 {
        if m >> i & 1 == 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i < 64 && m >> i & 1 == 1 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if i - 1 == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{}", i - 1));
        }
    }
    out
}

/// One falsely shared line, as reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FalseLine {
    /// The line's address (a multiple of [`LINE`]).
    pub(crate) addr: usize,
    /// The writers, by thread id.
    pub(crate) writers: Vec<Slot>,
    /// The threads that only read the line, by id.
    pub(crate) readers: Vec<u32>,
    /// Allocation sites (indexes into the table's sites), ascending.
    pub(crate) sites: Vec<u32>,
    /// Writes made to the line by its writers.
    pub(crate) writes: u64,
}

/// Record shards (by line index).
const SHARDS: usize = 16;

/// The false-sharing state: line records, in shards by line index each
/// behind its own lock (so that a thread can make a line's record and
/// claim its slot in it without the table lock, see `fast`), and the
/// results. Lock order: the table, then a shard, then the results.
pub(crate) struct Lines {
    shards: [Padded<Lock<Shard>>; SHARDS],
    /// Records in use over all shards (at most [`MAX_LINES`]).
    used: AtomicUsize,
    /// Accesses to lines not tracked because [`MAX_LINES`] were.
    untracked: AtomicU64,
    results: Lock<Results>,
}

impl core::fmt::Debug for Lines {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lines")
            .field("used", &self.used)
            .field("untracked", &self.untracked)
            .finish()
    }
}

/// The process's line records (the table's, and the fast path's).
pub(crate) static LINES: Lines = Lines::new();

/// One shard's records.
struct Shard {
    /// The record slab: chunks of [`RECS_PER_CHUNK`] records, leaked and
    /// never moved (free ones have line 0 and are in `free`).
    chunks: Vec<*mut LineRec>,
    /// Records handed out so far.
    nrecs: usize,
    free: Vec<u32>,
    /// Line index to record.
    index: HashMap<usize, u32, BuildHasherDefault<AddrHasher>>,
}

// SAFETY: the records behind the raw pointers are leaked, never freed,
// and only reached through atomics.
unsafe impl Send for Shard {}

/// What classified records found.
struct Results {
    /// Falsely shared lines, keyed by (address, sites, writer ids).
    lines: BTreeMap<(usize, Vec<u32>, Vec<u32>), FalseLine>,
    /// Lines found truly shared (each time a record was classified).
    true_shared: u64,
    /// Falsely shared lines not kept because [`MAX_RESULTS`] were.
    dropped: u64,
}

/// Where the shadow keeps a line's record (`None`: the line has no
/// shadow; then its record is found through the shard's index only).
pub(crate) type RecSlot<'a> = Option<&'a AtomicPtr<LineRec>>;

/// The shadow's pointer to `line`'s record.
fn rec_slot(shadow: &Shadow, line: usize) -> RecSlot<'_> {
    shadow.get(line * LINE).map(|(c, i)| &c.line_recs[i / 8])
}

impl Shard {
    /// Record `i` (handed out before).
    #[inline]
    fn rec(&self, i: usize) -> &'static LineRec {
        // SAFETY: `i < nrecs`, so its chunk exists; chunks are leaked.
        unsafe { &*self.chunks[i / RECS_PER_CHUNK].add(i % RECS_PER_CHUNK) }
    }

    /// A free record for `line` (pointed to from `slot`), or `None` when
    /// memory for one cannot be had.
    fn new_rec(&mut self, slot: RecSlot, line: usize) -> Option<usize> {
        let i = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                if self.nrecs / RECS_PER_CHUNK >= self.chunks.len() {
                    // SAFETY: all-zero bytes are a free record (no line,
                    // free slots, no sites).
                    let p = unsafe { crate::objects::leak_zeroed::<LineRec>(RECS_PER_CHUNK) };
                    if p.is_null() {
                        return None;
                    }
                    self.chunks.push(p);
                }
                self.nrecs += 1;
                self.nrecs - 1
            }
        };
        let rec = self.rec(i);
        rec.line1.store(line + 1, Ordering::Relaxed);
        if let Some(p) = slot {
            p.store(rec as *const LineRec as *mut LineRec, Ordering::Relaxed);
        }
        Some(i)
    }
}

impl Lines {
    /// No lines.
    pub(crate) const fn new() -> Lines {
        Lines {
            shards: [const {
                Padded(Lock::new(Shard {
                    chunks: Vec::new(),
                    nrecs: 0,
                    free: Vec::new(),
                    index: HashMap::with_hasher(BuildHasherDefault::new()),
                }))
            }; SHARDS],
            used: AtomicUsize::new(0),
            untracked: AtomicU64::new(0),
            results: Lock::new(Results {
                lines: BTreeMap::new(),
                true_shared: 0,
                dropped: 0,
            }),
        }
    }

    /// The shard of `line`, locked.
    #[inline]
    fn shard(&self, line: usize) -> LockGuard<'_, Shard> {
        self.shards[line % SHARDS].0.lock()
    }

    /// Thread `tid` read or wrote (`write`) `[addr, addr+size)`, which lies
    /// in an object allocated at `site`. Returns the thread's slot when
    /// the access lies in one line (see [`LineMemo`]).
    #[inline]
    pub(crate) fn note(
        &self,
        shadow: &Shadow,
        addr: usize,
        size: usize,
        tid: u32,
        write: bool,
        site: u32,
    ) -> Option<LineMemo> {
        let lo = addr % LINE;
        if size > 0 && size < LINE && lo + size <= LINE {
            // The common case: within one line.
            let m = ((1u64 << size) - 1) << lo;
            let line = addr / LINE;
            return self.note_line(rec_slot(shadow, line), line, m, tid, write, site);
        }
        self.note_lines(shadow, addr, size, tid, write, site);
        None
    }

    /// [`Lines::note`] for accesses that may span lines.
    fn note_lines(
        &self,
        shadow: &Shadow,
        addr: usize,
        size: usize,
        tid: u32,
        write: bool,
        site: u32,
    ) {
        let end = addr.saturating_add(size.max(1));
        let mut line = addr / LINE;
        loop {
            let base = line * LINE;
            let lo = addr.max(base) - base;
            let hi = end.min(base + LINE) - base;
            self.note_line(rec_slot(shadow, line), line, mask(lo, hi), tid, write, site);
            line += 1;
            if line * LINE >= end {
                break;
            }
        }
    }

    /// Find or make the record of `line` (which the shadow points to from
    /// `slot`) and the thread's slot, and note the access to the bytes
    /// `m` in it. Takes the line's shard lock only: the fast path calls
    /// it without the table lock (unable to reenter the runtime).
    pub(crate) fn note_line(
        &self,
        slot: RecSlot,
        line: usize,
        m: u64,
        tid: u32,
        write: bool,
        site: u32,
    ) -> Option<LineMemo> {
        let mut shard = self.shard(line);
        // The shadow's pointer, set and cleared under this lock, spares
        // the hash lookup.
        let known = slot
            .map(|p| p.load(Ordering::Relaxed))
            .filter(|r| !r.is_null())
            // SAFETY: records live in leaked slab chunks.
            .map(|r| unsafe { &*r })
            .filter(|r| r.is_line(line));
        let rec = match known {
            Some(r) => r,
            None => {
                let i = match shard.index.get(&line) {
                    Some(&i) => i as usize,
                    None => {
                        if self.used.fetch_add(1, Ordering::Relaxed) >= MAX_LINES {
                            self.used.fetch_sub(1, Ordering::Relaxed);
                            FULL.store(true, Ordering::Relaxed);
                            self.untracked.fetch_add(1, Ordering::Relaxed);
                            return None;
                        }
                        let Some(i) = shard.new_rec(slot, line) else {
                            self.used.fetch_sub(1, Ordering::Relaxed);
                            self.untracked.fetch_add(1, Ordering::Relaxed);
                            return None;
                        };
                        shard.index.insert(line, i as u32);
                        i
                    }
                };
                shard.rec(i)
            }
        };
        let n = rec.n.load(Ordering::Relaxed) as usize;
        let i = match rec.slots[..n].iter().position(|s| s.owned_by(tid)) {
            Some(i) => i,
            None if n < SLOTS => {
                rec.slots[n].tid1.store(tid + 1, Ordering::Relaxed);
                let claim = crate::objects::next_claim();
                rec.slots[n].claim.store(claim, Ordering::Relaxed);
                rec.n.store(n as u32 + 1, Ordering::Relaxed);
                n
            }
            None => {
                if n == SLOTS {
                    rec.slots[SLOTS].tid1.store(OTHERS, Ordering::Relaxed);
                    let claim = crate::objects::next_claim();
                    rec.slots[SLOTS].claim.store(claim, Ordering::Relaxed);
                    rec.n.store(n as u32 + 1, Ordering::Relaxed);
                }
                SLOTS
            }
        };
        let slot = &rec.slots[i];
        if i == SLOTS {
            // The merged slot: other threads update it without the lock.
            slot.note_shared(m, write);
        } else {
            slot.note(m, write);
        }
        let ns = rec.nsites.load(Ordering::Relaxed) as usize;
        let known = rec.sites[..ns]
            .iter()
            .any(|s| s.load(Ordering::Relaxed) == site);
        if !known && ns < LINE_SITES {
            rec.sites[ns].store(site, Ordering::Relaxed);
            rec.nsites.store(ns as u32 + 1, Ordering::Relaxed);
        }
        // The memo may be taken only for the thread's own slot (not the
        // merged one) of a record that has seen this site.
        (i < SLOTS && (known || ns < LINE_SITES)).then_some(LineMemo {
            line,
            site,
            rec,
            slot,
        })
    }

    /// Count `n` accesses to lines that could get no record.
    pub(crate) fn add_untracked(&self, n: u64) {
        self.untracked.fetch_add(n, Ordering::Relaxed);
    }

    /// Accesses to lines that could get no record.
    pub(crate) fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    /// Lines with a record now.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Classify and drop the records of the lines overlapping
    /// `[addr, addr+size)` (an object being freed).
    pub(crate) fn flush_range(&self, shadow: &Shadow, addr: usize, size: usize) {
        if self.used.load(Ordering::Relaxed) == 0 {
            return;
        }
        let first = addr / LINE;
        let last = (addr.saturating_add(size.max(1)) - 1) / LINE;
        let n = last - first + 1;
        if n <= SHARDS {
            for line in first..=last {
                let mut shard = self.shard(line);
                self.remove_and_finish(&mut shard, shadow, line);
            }
            return;
        }
        for (s, lock) in self.shards.iter().enumerate() {
            let mut shard = lock.0.lock();
            if n / SHARDS > shard.index.len() {
                let keys: Vec<usize> = shard
                    .index
                    .keys()
                    .filter(|&&k| (first..=last).contains(&k))
                    .copied()
                    .collect();
                for k in keys {
                    self.remove_and_finish(&mut shard, shadow, k);
                }
            } else {
                let start = first + (s + SHARDS - first % SHARDS) % SHARDS;
                for line in (start..=last).step_by(SHARDS) {
                    self.remove_and_finish(&mut shard, shadow, line);
                }
            }
        }
    }

    /// Classify and drop every record (at exit).
    pub(crate) fn flush_all(&self, shadow: &Shadow) {
        for lock in &self.shards {
            let mut shard = lock.0.lock();
            let keys: Vec<usize> = shard.index.keys().copied().collect();
            for k in keys {
                self.remove_and_finish(&mut shard, shadow, k);
            }
        }
    }

    /// Take the record of line `line` out of `shard` (its, locked; the
    /// record becomes free) and classify it.
    fn remove_and_finish(&self, shard: &mut Shard, shadow: &Shadow, line: usize) {
        let Some(i) = shard.index.remove(&line) else {
            return;
        };
        self.used.fetch_sub(1, Ordering::Relaxed);
        FULL.store(false, Ordering::Relaxed);
        if let Some(p) = rec_slot(shadow, line) {
            p.store(core::ptr::null_mut(), Ordering::Relaxed);
        }
        let rec = shard.rec(i as usize);
        rec.line1.store(0, Ordering::Relaxed);
        let n = (rec.n.swap(0, Ordering::Relaxed) as usize).min(SLOTS + 1);
        let mut slots = [Slot::default(); SLOTS + 1];
        for (o, s) in slots.iter_mut().zip(&rec.slots[..n]) {
            *o = s.take();
        }
        let (sites, ns) = rec.sites();
        rec.nsites.store(0, Ordering::Relaxed);
        shard.free.push(i);
        // Only lines with two writers or more need the classification
        // (and its allocations).
        if slots[..n].iter().filter(|s| s.written != 0).count() >= 2 {
            self.finish(line, &slots[..n], sites[..ns].to_vec());
        }
    }

    fn finish(&self, line: usize, slots: &[Slot], mut sites: Vec<u32>) {
        let mut results = self.results.lock();
        match classify(slots) {
            Sharing::Unclassified => {}
            Sharing::True => results.true_shared += 1,
            Sharing::False => {
                let mut writers: Vec<Slot> =
                    slots.iter().filter(|s| s.written != 0).copied().collect();
                writers.sort_by_key(|s| s.tid);
                let mut readers: Vec<u32> = slots
                    .iter()
                    .filter(|s| s.written == 0)
                    .map(|s| s.tid)
                    .collect();
                readers.sort_unstable();
                sites.sort_unstable();
                let ids: Vec<u32> = writers.iter().map(|s| s.tid).collect();
                let key = (line * LINE, sites, ids);
                let writes = writers.iter().map(|s| s.writes).sum();
                if let Some(have) = results.lines.get_mut(&key) {
                    for (h, w) in have.writers.iter_mut().zip(&writers) {
                        h.written |= w.written;
                        h.read |= w.read;
                        h.writes += w.writes;
                    }
                    have.writes += writes;
                    for t in readers {
                        if !have.readers.contains(&t) {
                            have.readers.push(t);
                        }
                    }
                    have.readers.sort_unstable();
                } else if results.lines.len() >= MAX_RESULTS {
                    results.dropped += 1;
                } else {
                    let fl = FalseLine {
                        addr: line * LINE,
                        writers,
                        readers,
                        sites: key.1.clone(),
                        writes,
                    };
                    results.lines.insert(key, fl);
                }
            }
        }
    }

    /// The falsely shared lines found so far, most written first (then by
    /// address).
    pub(crate) fn falsely_shared(&self) -> Vec<FalseLine> {
        let mut v: Vec<FalseLine> = self.results.lock().lines.values().cloned().collect();
        v.sort_by_key(|l| (std::cmp::Reverse(l.writes), l.addr));
        v
    }

    /// Lines found truly shared (each time a record was classified).
    pub(crate) fn true_shared(&self) -> u64 {
        self.results.lock().true_shared
    }

    /// Falsely shared lines not kept because [`MAX_RESULTS`] were.
    pub(crate) fn dropped(&self) -> u64 {
        self.results.lock().dropped
    }

    /// Take every lock of the records (around `fork`, see
    /// [`crate::lock`]).
    pub(crate) fn lock_all(&self) {
        for s in &self.shards {
            s.0.raw_lock();
        }
        self.results.raw_lock();
    }

    /// Undo [`Lines::lock_all`].
    ///
    /// # Safety
    /// Only by the thread that called [`Lines::lock_all`] (or its forked
    /// child), once.
    pub(crate) unsafe fn unlock_all(&self) {
        // SAFETY: the caller's contract.
        unsafe {
            self.results.raw_unlock();
            for s in self.shards.iter().rev() {
                s.0.raw_unlock();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(thread, bytes written, writes)` of each writer of `f`.
    fn writers(f: &FalseLine) -> Vec<(u32, String, u64)> {
        f.writers
            .iter()
            .map(|s| (s.tid, ranges(s.written), s.writes))
            .collect()
    }

    fn slot(tid: u32, written: u64, read: u64) -> Slot {
        Slot {
            tid,
            written,
            read,
            writes: written.count_ones() as u64,
        }
    }

    #[test]
    fn classification() {
        let a = 0xff; // bytes 0-7
        let b = 0xff00; // bytes 8-15
                        // Per-thread counters side by side (each reads its own too).
        assert_eq!(classify(&[slot(1, a, a), slot(2, b, b)]), Sharing::False);
        // ... with main reading both after the join: still false.
        assert_eq!(
            classify(&[slot(1, a, a), slot(2, b, b), slot(0, 0, a | b)]),
            Sharing::False
        );
        // One shared counter.
        assert_eq!(classify(&[slot(1, a, a), slot(2, a, a)]), Sharing::True);
        // A writer reading another writer's bytes.
        assert_eq!(classify(&[slot(1, a, b), slot(2, b, 0)]), Sharing::True);
        // Overlap by a single byte.
        assert_eq!(classify(&[slot(1, a, 0), slot(2, 0x180, 0)]), Sharing::True);
        // One writer and readers of other bytes: not classified.
        assert_eq!(
            classify(&[slot(1, a, 0), slot(2, 0, b)]),
            Sharing::Unclassified
        );
        assert_eq!(classify(&[slot(1, a, a)]), Sharing::Unclassified);
        assert_eq!(classify(&[]), Sharing::Unclassified);
    }

    #[test]
    fn masks_and_ranges() {
        assert_eq!(mask(0, 8), 0xff);
        assert_eq!(mask(0, 64), !0);
        assert_eq!(mask(63, 64), 1 << 63);
        assert_eq!(ranges(0xff), "0-7");
        assert_eq!(ranges(0xff | 1 << 16 | 3 << 62), "0-7,16,62-63");
        assert_eq!(ranges(0), "");
    }

    #[test]
    fn lines_are_recorded_flushed_and_merged() {
        let l = Lines::new();
        let sh = Shadow::new();
        // Two threads, one 8-byte counter each, in line 2 (0x80..0xc0).
        for _ in 0..3 {
            l.note(&sh, 0x80, 8, 1, false, 7);
            l.note(&sh, 0x80, 8, 1, true, 7);
            l.note(&sh, 0x88, 8, 2, true, 7);
        }
        // An access straddling lines 2 and 3 by thread 3 (reads only).
        l.note(&sh, 0xbc, 8, 3, false, 7);
        assert_eq!(l.in_use(), 2);
        // Freeing an object in line 3 drops only that line.
        l.flush_range(&sh, 0xc0, 4);
        assert_eq!(l.in_use(), 1);
        l.flush_all(&sh);
        assert_eq!(l.in_use(), 0);
        let fs = l.falsely_shared();
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].addr, 0x80);
        assert_eq!(fs[0].writes, 6);
        assert_eq!(fs[0].readers, vec![3]);
        assert_eq!(fs[0].sites, vec![7]);
        let w = writers(&fs[0]);
        assert_eq!(w, vec![(1, "0-7".into(), 3), (2, "8-15".into(), 3)]);
        // The same line again (a new object at the same address): merged.
        l.note(&sh, 0x80, 8, 1, true, 7);
        l.note(&sh, 0x88, 8, 2, true, 7);
        l.flush_range(&sh, 0x80, 64);
        assert_eq!(l.falsely_shared()[0].writes, 8);
        // A shared counter: true sharing.
        l.note(&sh, 0x100, 8, 1, true, 7);
        l.note(&sh, 0x100, 8, 2, true, 7);
        l.flush_all(&sh);
        assert_eq!(l.true_shared(), 1);
        assert_eq!(l.falsely_shared().len(), 1);
    }

    #[test]
    fn the_memo_never_outlives_its_record() {
        let l = Lines::new();
        let sh = Shadow::new();
        l.note(&sh, 0x40, 8, 1, true, 3); // memo: line 1, thread 1
        l.flush_range(&sh, 0x40, 8); // record freed
        l.note(&sh, 0x80, 8, 2, true, 3); // reuses the record for line 2
        l.note(&sh, 0x48, 8, 1, true, 3); // line 1 again: a new record
        l.note(&sh, 0x48, 8, 1, true, 3); // memo hit
        l.note(&sh, 0x88, 8, 1, true, 3); // line 2: false sharing with thread 2
        l.flush_all(&sh);
        let fs = l.falsely_shared();
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].addr, 0x80);
        let w = writers(&fs[0]);
        assert_eq!(w, vec![(1, "8-15".into(), 1), (2, "0-7".into(), 1)]);
        // A different site in the same line is recorded, not skipped by
        // the memo.
        l.note(&sh, 0xc0, 8, 1, true, 3);
        l.note(&sh, 0xc0, 8, 1, true, 4);
        l.note(&sh, 0xc8, 8, 2, true, 4);
        l.flush_all(&sh);
        let fs = l.falsely_shared();
        let line3 = fs.iter().find(|f| f.addr == 0xc0).unwrap();
        assert_eq!(line3.sites, vec![3, 4]);
        assert_eq!(line3.writes, 3);
    }

    #[test]
    fn threads_beyond_the_slots_are_merged() {
        let l = Lines::new();
        let sh = Shadow::new();
        for t in 0..6u32 {
            l.note(&sh, t as usize * 8, 8, t, false, 0);
            l.note(&sh, t as usize * 8, 8, t, true, 0);
        }
        l.flush_all(&sh);
        let fs = l.falsely_shared();
        assert_eq!(fs.len(), 1);
        let ids: Vec<u32> = fs[0].writers.iter().map(|s| s.tid).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, OTHERS]);
        assert_eq!(ranges(fs[0].writers[4].written), "32-47");
        assert_eq!(fs[0].writes, 6);
        // Four writers, then a fifth thread reading everything (main after
        // the joins): a reader, not merged into a writer's slot.
        for t in 1..5u32 {
            l.note(&sh, 0x1000 + t as usize * 8, 8, t, false, 1);
            l.note(&sh, 0x1000 + t as usize * 8, 8, t, true, 1);
        }
        l.note(&sh, 0x1000, 64, 0, false, 1);
        l.flush_all(&sh);
        let fs = l.falsely_shared();
        assert_eq!(fs.len(), 2);
        let ids: Vec<u32> = fs[1].writers.iter().map(|s| s.tid).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        assert_eq!(fs[1].readers, vec![OTHERS]);
    }
}

#[cfg(test)]
mod layout {
    #[test]
    fn records_are_a_cache_line_per_slot() {
        assert_eq!(core::mem::size_of::<super::SharedSlot>(), 64);
        assert!(core::mem::size_of::<super::LineRec>() <= 384);
    }
}
