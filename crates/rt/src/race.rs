//! Happens-before data-race detection on the runtime's shadow state.
//!
//! # Model
//!
//! The detector is a vector-clock happens-before detector in the style of
//! FastTrack (C. Flanagan and S. N. Freund, *FastTrack: Efficient and
//! Precise Dynamic Race Detection*, PLDI 2009) with the shadow-cell layout
//! of ThreadSanitizer v2 (K. Serebryany and T. Iskhodzhanov, *ThreadSanitizer
//! – data race detection in practice*, WBIA 2009; compiler-rt's `tsan`):
//!
//! - Every thread `t` has a vector clock `C_t`; its own entry `C_t[t]` is
//!   its current *epoch*. Every thread starts at epoch 1; the epoch
//!   advances after each release, so accesses made after a release are not
//!   covered by it.
//! - Memory is shadowed in 8-byte *granules*. A granule keeps up to
//!   [`CELLS`] *cells*, each an access `(thread, epoch, byte mask, read or
//!   write, atomic or plain, pc, stack)`. An access by `u` races with a
//!   cell of another thread `t` when their byte masks overlap, at least one
//!   is a write, not both are atomic, and the cell's epoch `e` is not
//!   covered: `e > C_u[t]`.
//! - After the check the access is stored, and every cell it makes
//!   redundant is dropped: a cell that happens before the access, whose
//!   bytes the access covers, and that is a read or the access is a write
//!   (and a plain cell is only dropped by a plain access). This is
//!   FastTrack's epoch rule generalised to byte masks: a later access
//!   racing with a dropped cell necessarily races with the access that
//!   dropped it, so no race goes unreported, though the *previous* access
//!   named in the report may be the newer one.
//! - A fast path skips the work for repeated accesses (FastTrack's "same
//!   epoch" case): an access is not checked or stored when its thread
//!   already has a cell at least as strong (write ≥ read, same atomicity)
//!   covering its bytes in the current epoch ([`same_epoch`]). Cells are
//!   packed into one atomic word each in a direct-mapped shadow
//!   ([`crate::shadow`]), so the test runs without the runtime's lock
//!   (module `fast`); checks and stores are lock-free too
//!   ([`check_store`]: compare-and-swap, then a second read of the
//!   cells, so that of two accesses checked at the same moment at least
//!   one sees the other).
//! - Sync objects (mutexes, rwlocks, spinlocks, barriers, once controls,
//!   semaphores, atomic variables) have a clock `S`. *Release* joins the
//!   thread's clock into it (`S := S ⊔ C_t`, then `C_t[t] += 1`),
//!   *release-store* assigns it (`S := C_t`; plain release stores, as in
//!   TSan, so that a later relaxed-to-release store does not forward an
//!   older release), *acquire* joins it into the thread (`C_t := C_t ⊔ S`).
//! - Sources of happens-before: `pthread_create` (the child starts with
//!   the parent's clock), `pthread_join` (the joiner acquires the child's
//!   final clock), mutex and spinlock unlock → lock, rwlock write-unlock →
//!   any lock and read-unlock → write-lock (two clocks per rwlock, so two
//!   readers do not synchronise with each other), condition variables
//!   through their mutex (wait releases and re-acquires it), barriers (each
//!   waiter releases before and acquires after), `pthread_once` (the
//!   initialiser's end releases, every return acquires), `sem_post` →
//!   successful `sem_wait`/`sem_trywait`/`sem_timedwait`, and atomics:
//!   acquire (or stronger) loads and RMWs acquire from the variable,
//!   release (or stronger) stores release-store and RMWs release (joining,
//!   which keeps release sequences of RMWs intact).
//! - Fences, conservatively (never a race where C11 has none): a release
//!   fence remembers the thread's clock, which relaxed stores and RMWs
//!   then release; relaxed loads and RMWs collect the clocks of the
//!   variables they read, which an acquire fence acquires (the C11 fence
//!   rules, as Miri implements them). `seq_cst` fences are also totally
//!   ordered among themselves (each acquires and releases one global
//!   clock), which over-approximates the SC-fence axioms.
//!
//! # Limits
//!
//! - Like TSan, only races that *happen* in the observed execution are
//!   found (and only between instrumented accesses and the intercepted
//!   libc functions); schedules not taken are not explored.
//! - A granule holds at most [`CELLS`] cells; when all are needed the
//!   oldest-looking one is evicted, so a race with the evicted access can
//!   be missed (TSan has the same bound of 4 cells).
//! - Barriers synchronise as in TSan: a fast thread's release for the next
//!   round can reach a slow thread still leaving the current round (fewer
//!   races, never more).
//! - `free`, as in TSan, is a write of the block's first 1 KiB
//!   ([`Detector::free`]): checked against the accesses recorded there
//!   (a race reported with `free` as the current access), and left in
//!   their cells as the block's mark, so that a later access by a thread
//!   not ordered after the free is reported as TSan's
//!   "heap-use-after-free". Bytes beyond the first KiB, blocks of 128 KiB
//!   or more (which glibc may unmap, see `state::FREED_MARK_MAX_SIZE`)
//!   carry no mark (a `realloc` that moves a block marks the old one, as
//!   `realloc`), and an access
//!   racing with the free at the very moment of its plain stores can go
//!   unseen. A use after free that *is* ordered after the free (by the
//!   freeing thread itself, say) is not a race and is not reported (TSan
//!   neither; AddressSanitizer's job).
//! - An allocation is a write of the new block by the allocating thread
//!   (`Detector::imitate_write`; TSan's `OnUserAlloc` calls
//!   `MemoryRangeImitateWrite`), so an access by a thread not ordered
//!   after the allocation is reported as racing with it (`#0 malloc`).
//!   Unlike TSan, blocks of 128 KiB or more only have their cells emptied
//!   (`state::IMITATED_MAX_SIZE`): a race with the allocation itself is
//!   not reported for them.
//! - Memory reused as another thread's stack keeps its shadow; stacks of
//!   detached threads reused without synchronisation could in principle
//!   produce a spurious report.
//! - Vector clocks have one entry per thread ever created (TSan reuses
//!   slots of finished threads): a joined thread's clocks are freed, but
//!   live threads' and sync objects' clocks grow with the number of
//!   threads created, and creating a thread copies its parent's clock.
//! - An atomic operation that cannot release a clock into its variable
//!   (a load; a relaxed or acquire store or RMW by a thread with no
//!   release fence) runs without the variable's shard lock when
//!   [`may_have_sync`] shows the variable has no clock. If another thread
//!   gives the variable its first clock between the operation and that
//!   test, the operation acquires (or collects) the clock as it is at the
//!   test — possibly a release made after the value it read: fewer races
//!   reported, never more, in that window only.
//!
//! Concurrency contract: the detector's state is plain data inside the
//! runtime's [`crate::state::Table`], behind its lock; each thread's own
//! clock is changed only by that thread (module `fast`, without the
//! lock); sync objects live in the sharded [`SyncMap`], each shard behind
//! its own lock; a granule's cells are changed only by compare-and-swap
//! ([`check_store`]) and read without a lock.

use crate::lock::{Lock, LockGuard};
use crate::shadow::{self, Chunk, Shadow, MAX_TID};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// FastTrack's "same epoch" test on a granule's packed cells: has thread
/// `t` already made, in `epoch`, an access covering the bytes `mask` that
/// is at least as strong (a write covers a read) with the same atomicity?
/// Lock-free (relaxed loads of whole cells). Cost: four loads and
/// compares.
#[inline]
pub(crate) fn same_epoch(
    cells: &[AtomicU64; CELLS],
    t: u32,
    epoch: u32,
    mask: u8,
    write: bool,
    atomic: bool,
) -> bool {
    same_epoch_owner(cells, shadow::owner(t, epoch), mask, write, atomic)
}

/// [`same_epoch`] for the thread and epoch packed as [`shadow::owner`]
/// (the fast path's epoch mirror holds that word).
#[inline]
pub(crate) fn same_epoch_owner(
    cells: &[AtomicU64; CELLS],
    owner: u64,
    mask: u8,
    write: bool,
    atomic: bool,
) -> bool {
    let want = owner | (atomic as u64) << 9;
    cells.iter().any(|c| {
        let w = c.load(Ordering::Relaxed);
        w & (shadow::ID_BITS | 1 << 9) == want
            && (w as u8) & mask == mask
            && (w >> 8 & 1 != 0 || !write)
    })
}

/// Cells per 8-byte granule (as in TSan).
pub(crate) const CELLS: usize = 4;

/// A multiply-xorshift hasher for addresses (the keys are already well
/// spread; SipHash would cost more than the lookup). One multiply per word.
#[derive(Default, Clone, Copy)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
}

type Build = BuildHasherDefault<AddrHasher>;

/// A vector clock: entry `t` is the latest epoch of thread `t` known.
/// Missing entries are 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Vc(Vec<u32>);

impl Vc {
    /// Entry `t`.
    #[inline]
    pub(crate) fn get(&self, t: u32) -> u32 {
        self.0.get(t as usize).copied().unwrap_or(0)
    }

    /// Set entry `t`.
    pub(crate) fn set(&mut self, t: u32, v: u32) {
        let i = t as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] = v;
    }

    /// `self := self ⊔ o`.
    pub(crate) fn join(&mut self, o: &Vc) {
        if self.0.len() < o.0.len() {
            self.0.resize(o.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a = (*a).max(*b);
        }
    }

    /// Is every entry of `self` at most that of `o`?
    #[cfg(test)]
    pub(crate) fn le(&self, o: &Vc) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(i, &v)| v <= o.get(i as u32))
    }
}

/// Happens-before state of one thread.
#[derive(Clone, Debug, Default)]
pub(crate) struct ThreadClock {
    /// The thread's vector clock.
    pub(crate) vc: Vc,
    /// The clock at the last release fence (released by relaxed stores).
    fence_rel: Vc,
    /// Clocks read by relaxed loads (acquired by the next acquire fence).
    fence_acq: Vc,
    /// Acquire operations performed (locks, waits, acquire atomics).
    pub(crate) acquires: u64,
    /// Release operations performed.
    pub(crate) releases: u64,
}

/// Clock(s) of one sync object.
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncVar {
    /// Released by unlocks, posts, release stores, ...
    vc: Vc,
    /// rwlocks only: released by read-unlocks, acquired by write-locks.
    read_vc: Vc,
    /// rwlocks only: the thread holding it for writing.
    writer: Option<u32>,
}

/// One remembered access in a granule: 24 bytes (a granule of 4 cells
/// is 96 bytes of shadow per 8 bytes of memory). The address and size
/// of a remembered access are those of its bytes in the granule (as in
/// TSan's reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cell {
    /// The instruction making the access (a return address into it).
    pub(crate) pc: usize,
    /// Accessing thread ([`EMPTY_TID`]: a free cell).
    pub(crate) tid: u32,
    /// Its epoch at the access.
    pub(crate) epoch: u32,
    /// The call stack at the access (a [`Stacks`] node).
    pub(crate) stack: u32,
    /// Bytes of the granule accessed (bit i = byte i).
    pub(crate) mask: u8,
    /// A write (or an atomic store/RMW)?
    pub(crate) write: bool,
    /// An atomic access?
    pub(crate) atomic: bool,
    /// The intercepted libc function that made the access (an index into
    /// [`crate::race_report::INTERCEPTED`]; 0: the program itself).
    pub(crate) func: u8,
}

/// The thread id of a free cell.
#[cfg(test)]
pub(crate) const EMPTY_TID: u32 = u32::MAX;

/// A free cell, unpacked.
#[cfg(test)]
pub(crate) const EMPTY: Cell = Cell {
    pc: 0,
    tid: EMPTY_TID,
    epoch: 0,
    stack: 0,
    mask: 0,
    write: false,
    atomic: false,
    func: 0,
};

/// An access to check and record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Access {
    /// First byte.
    pub(crate) addr: usize,
    /// Size in bytes (at least 1).
    pub(crate) size: usize,
    /// A write?
    pub(crate) write: bool,
    /// Atomic?
    pub(crate) atomic: bool,
    /// The accessing instruction (return address of the hook).
    pub(crate) pc: usize,
    /// The call stack (node of [`Stacks`]).
    pub(crate) stack: u32,
    /// The intercepted libc function making it (0: none), as in [`Cell`].
    pub(crate) func: u8,
}

/// A detected race: the current access and the earlier conflicting one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Race {
    /// The access being made.
    pub(crate) cur: Cell,
    /// The earlier access it races with.
    pub(crate) prev: Cell,
    /// The granule (address / 8) where they met.
    pub(crate) granule: usize,
}

impl Race {
    /// `(first byte, size)` of access `c` (the current or the earlier one)
    /// within the granule where the race was found, as TSan reports them.
    pub(crate) fn span(&self, c: &Cell) -> (usize, usize) {
        (
            self.granule * 8 + c.mask.trailing_zeros() as usize,
            c.mask.count_ones() as usize,
        )
    }
}

/// Call stacks as a trie: node 0 is the empty stack; node `n` is
/// `(parent, pc)`, the stack of its parent with one more (inner) frame.
#[derive(Debug, Default)]
pub(crate) struct Stacks {
    nodes: Vec<(u32, usize)>,
    index: HashMap<(u32, usize), u32, Build>,
}

impl Stacks {
    /// No stacks (usable in a `static`).
    pub(crate) const fn new() -> Stacks {
        Stacks {
            nodes: Vec::new(),
            index: HashMap::with_hasher(BuildHasherDefault::new()),
        }
    }

    /// The node for `parent` extended by the inner frame `pc`.
    pub(crate) fn push(&mut self, parent: u32, pc: usize) -> u32 {
        if self.nodes.is_empty() {
            self.nodes.push((0, 0));
        }
        let next = self.nodes.len() as u32;
        let id = *self.index.entry((parent, pc)).or_insert(next);
        if id == next {
            self.nodes.push((parent, pc));
        }
        id
    }

    /// The frames of `node`, innermost first.
    pub(crate) fn frames(&self, mut node: u32) -> Vec<usize> {
        let mut out = Vec::new();
        while node != 0 {
            let Some(&(parent, pc)) = self.nodes.get(node as usize) else {
                break;
            };
            out.push(pc);
            node = parent;
        }
        out
    }
}

/// `(acquires, releases)` for a C11 memory order as the instrumentation
/// passes it (high flag bits masked; out of range is `seq_cst`).
fn split(mo: i32) -> (bool, bool) {
    match mo & 0x7fff {
        0 => (false, false),
        1 | 2 => (true, false),
        3 => (false, true),
        _ => (true, true),
    }
}

/// Shards of the sync-object map.
const SYNC_SHARDS: usize = 64;
const _: () = assert!(SYNC_SHARDS == 1 << 6); // shard_of's shift

/// The clocks of sync objects, sharded by a hash of their cache line, each
/// shard behind its own lock: threads synchronising on different objects
/// seldom wait for each other, and never for the runtime's table lock.
/// Forgetting the range of a freed block visits the shards of its lines
/// (all of them for blocks of 64 lines or more).
pub(crate) struct SyncMap {
    shards: [Lock<BTreeMap<usize, SyncVar>>; SYNC_SHARDS],
}

impl core::fmt::Debug for SyncMap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SyncMap")
    }
}

impl SyncMap {
    const fn new() -> SyncMap {
        SyncMap {
            shards: [const { Lock::new(BTreeMap::new()) }; SYNC_SHARDS],
        }
    }

    /// The shard holding `addr`, locked.
    #[inline]
    pub(crate) fn lock(&self, addr: usize) -> LockGuard<'_, BTreeMap<usize, SyncVar>> {
        self.shards[shard_of(addr)].lock()
    }

    /// Run `f` on the shard holding `addr`, locked.
    #[inline]
    fn with<R>(&self, addr: usize, f: impl FnOnce(&mut BTreeMap<usize, SyncVar>) -> R) -> R {
        f(&mut self.shards[shard_of(addr)].lock())
    }

    /// Forget the objects in `[addr, end)`.
    fn forget(&self, addr: usize, end: usize) {
        let remove = |m: &mut BTreeMap<usize, SyncVar>| {
            if m.range(addr..end).next().is_some() {
                let keys: Vec<usize> = m.range(addr..end).map(|(k, _)| *k).collect();
                for k in keys {
                    m.remove(&k);
                }
            }
        };
        let lines = (end - 1) / 64 - addr / 64 + 1;
        if lines >= SYNC_SHARDS {
            for sh in &self.shards {
                remove(&mut sh.lock());
            }
        } else {
            // One visit per shard: lines of the range may share one.
            let mut seen = 0u64;
            for l in 0..lines {
                let i = shard_of(addr + l * 64);
                if seen & (1 << i) == 0 {
                    seen |= 1 << i;
                    remove(&mut self.shards[i].lock());
                }
            }
        }
    }
}

/// Addresses that may have a sync object, as a bitmap of a hash of the
/// address: a bit is set before a sync object is created at an address
/// (and before a release through it can be observed), and never cleared,
/// so a clear bit proves that the address has no clock — what lets a
/// relaxed or acquire atomic operation skip the sync map (`fast`).
static SYNC_MAYBE: [AtomicU64; SYNC_BITS / 64] = [const { AtomicU64::new(0) }; SYNC_BITS / 64];
/// Bits of [`SYNC_MAYBE`] (32 KiB).
const SYNC_BITS: usize = 1 << 18;

/// `addr`'s word and bit in [`SYNC_MAYBE`].
#[inline]
fn sync_bit(addr: usize) -> (&'static AtomicU64, u64) {
    let h = (addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 18);
    (&SYNC_MAYBE[(h / 64) as usize], 1 << (h % 64))
}
const _: () = assert!(SYNC_BITS == 1 << 18); // sync_bit's shift

/// Note that `addr` may have a sync object from now on, ordered before
/// every later store of this thread (a release fence): a thread that
/// reads such a store and then finds the bit clear would otherwise miss
/// the clock released with it.
#[inline]
pub(crate) fn mark_sync(addr: usize) {
    let (w, b) = sync_bit(addr);
    if w.load(Ordering::Relaxed) & b == 0 {
        w.fetch_or(b, Ordering::Relaxed);
    }
    core::sync::atomic::fence(Ordering::Release);
}

/// May `addr` have a sync object? Call after the atomic operation on it:
/// an acquire fence orders the operation's read before the bit's (see
/// [`mark_sync`]). `false` proves it has none.
#[inline]
pub(crate) fn may_have_sync(addr: usize) -> bool {
    core::sync::atomic::fence(Ordering::Acquire);
    let (w, b) = sync_bit(addr);
    w.load(Ordering::Relaxed) & b != 0
}

/// The sync object at `addr` in its locked shard `m`, created if needed
/// (marked in [`SYNC_MAYBE`] first).
#[inline]
fn var(m: &mut BTreeMap<usize, SyncVar>, addr: usize) -> &mut SyncVar {
    mark_sync(addr);
    m.entry(addr).or_default()
}

/// What an atomic operation may do, known before it runs (from its kind
/// and requested order): whether it may store (stores, RMWs,
/// compare-exchanges) and whether its order releases if it does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AtomicReq {
    /// A store, RMW or compare-exchange.
    pub(crate) may_write: bool,
    /// Its order is release, acq_rel or seq_cst.
    pub(crate) rel: bool,
}

impl AtomicReq {
    /// The request of an operation that may store (`may_write`) with
    /// order `mo` (as the instrumentation passes it).
    pub(crate) fn new(may_write: bool, mo: i32) -> AtomicReq {
        AtomicReq {
            may_write,
            rel: split(mo).1,
        }
    }

    /// Could the operation, by thread state `th`, release a clock into
    /// the variable (so that it must run under the variable's shard
    /// lock)? A store with a releasing order, or any store after a
    /// release fence.
    #[inline]
    pub(crate) fn may_release(&self, th: &ThreadClock) -> bool {
        self.may_write && (self.rel || th.fence_rel != Vc::default())
    }
}

/// The shard of the sync object at `addr`: a hash of its cache line, so
/// that objects in different lines (atomics padded apart, one mutex per
/// struct ...) seldom share a lock. Fibonacci hashing.
#[inline]
fn shard_of(addr: usize) -> usize {
    ((addr >> 6) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize >> (64 - 6)
}

/// The process's sync objects (the runtime's detector uses these; tests
/// make their own, see `Detector::isolated`).
static SYNC: SyncMap = SyncMap::new();

/// The read half of an atomic operation by a thread with clock state `th`
/// on `addr` with order `mo` (after the value was read; `m` is the
/// variable's locked shard): acquire orders acquire from the variable,
/// weaker ones collect its clock for a later acquire fence.
pub(crate) fn atomic_read_effect(
    th: &mut ThreadClock,
    m: &mut BTreeMap<usize, SyncVar>,
    addr: usize,
    mo: i32,
) {
    let (acq, _) = split(mo);
    if let Some(s) = m.get(&addr) {
        if acq {
            th.vc.join(&s.vc);
            th.acquires += 1;
        } else {
            th.fence_acq.join(&s.vc);
        }
    }
}

/// The write half of an atomic operation by thread `t` (before the value
/// is visible to any other thread's read half): a release store assigns
/// the variable's clock, a release RMW joins it (release sequences); a
/// relaxed store or RMW releases the clock of the last release fence.
/// Returns whether `t`'s epoch advanced.
pub(crate) fn atomic_write_effect(
    th: &mut ThreadClock,
    t: u32,
    m: &mut BTreeMap<usize, SyncVar>,
    addr: usize,
    mo: i32,
    rmw: bool,
) -> bool {
    let (_, rel) = split(mo);
    if rel {
        let s = var(m, addr);
        if rmw {
            s.vc.join(&th.vc);
        } else {
            s.vc.clone_from(&th.vc);
        }
        let e = th.vc.get(t);
        th.vc.set(t, e + 1);
        th.releases += 1;
        true
    } else {
        if th.fence_rel != Vc::default() {
            var(m, addr).vc.join(&th.fence_rel);
        }
        false
    }
}

/// What [`atomic`] did: the operation's result and memory order, whether
/// it read and wrote, the race found (not yet de-duplicated), and whether
/// the thread's epoch advanced (its mirror must follow).
pub(crate) struct AtomicOutcome<R> {
    pub(crate) result: R,
    pub(crate) mo: i32,
    pub(crate) reads: bool,
    pub(crate) writes: bool,
    pub(crate) race: Option<Race>,
    pub(crate) ticked: bool,
}

/// Perform atomic operation `op` by thread `t` (clock state `th`) on the
/// `size` bytes at `addr`, with the variable's shard of `sync` locked so
/// that operations on one variable and their clock effects are seen in
/// one order: `op` returns its result, the memory order that applied, and
/// whether it read and wrote (`req`: what it may do). With `races`, its
/// read half, its race check
/// (shadow `l1`, as instruction `pc` with call stack `stack`) and its write
/// half follow, in that order. Needs no table lock (`th` is the caller's
/// own, or the caller holds the lock).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn atomic<R>(
    sync: &SyncMap,
    th: &mut ThreadClock,
    t: u32,
    l1: *mut AtomicPtr<Chunk>,
    (addr, size, pc, stack): (usize, usize, usize, u32),
    races: bool,
    req: AtomicReq,
    op: impl FnOnce() -> (R, i32, bool, bool),
) -> AtomicOutcome<R> {
    let mut shard = sync.lock(addr);
    if races && req.may_release(th) {
        // Before the store can be seen (see `mark_sync`).
        mark_sync(addr);
    }
    let (result, mo, reads, writes) = op();
    let mut race = None;
    let mut ticked = false;
    if races {
        if reads {
            atomic_read_effect(th, &mut shard, addr, mo);
        }
        check_atomic(l1, t, &th.vc, (addr, size, pc, stack), writes, &mut race);
        ticked = writes && atomic_write_effect(th, t, &mut shard, addr, mo, reads);
    }
    AtomicOutcome {
        result,
        mo,
        reads,
        writes,
        race,
        ticked,
    }
}

/// The race check of an atomic access by thread `t` (vector clock `vc`)
/// to the `size` bytes at `addr` (`writes`: it stored; instruction `pc`,
/// call stack `stack`), in the shadow with first level `l1`: one
/// granule's check when it lies in one, else [`check`] (unshadowed
/// granules skipped). The first race found is left in `found`.
#[inline]
pub(crate) fn check_atomic(
    l1: *mut AtomicPtr<Chunk>,
    t: u32,
    vc: &Vc,
    (addr, size, pc, stack): (usize, usize, usize, u32),
    writes: bool,
    found: &mut Option<Race>,
) {
    let a = Access {
        addr,
        size,
        write: writes,
        atomic: true,
        pc,
        stack,
        func: 0,
    };
    let off = addr & 7;
    match shadow::lookup(l1, addr) {
        Some((chunk, gi)) if off + size <= 8 => {
            let mask = (((1u16 << size) - 1) << off) as u8;
            check_granule(chunk, gi, addr >> 3, t, vc.get(t), vc, &a, mask, found);
        }
        _ => {
            let _ = check(l1, t, vc, &a, true, found);
        }
    }
}

/// The process's sync objects.
pub(crate) fn sync_map() -> &'static SyncMap {
    &SYNC
}

/// A synchronisation effect of an intercepted call, applied by
/// [`Detector::sync_op`] under the table lock or by the fast path
/// (`fast::sync`) without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyncOp {
    /// Lock taken, wait ended: acquire the object.
    Acquire,
    /// About to unlock or post: release the object (joining).
    Release,
    /// rwlock taken for reading.
    ReadLocked,
    /// rwlock taken for writing.
    WriteLocked,
    /// About to unlock an rwlock.
    RwUnlock,
}

/// Apply `op` on sync object `addr` of `sync` to thread `t`'s clock state
/// `th`. Returns whether `t`'s epoch advanced (a release). Needs no table
/// lock: `th` is changed only by its own thread.
pub(crate) fn apply(th: &mut ThreadClock, t: u32, sync: &SyncMap, addr: usize, op: SyncOp) -> bool {
    match op {
        SyncOp::Acquire | SyncOp::ReadLocked => {
            th.acquires += 1;
            sync.with(addr, |m| {
                if let Some(s) = m.get(&addr) {
                    th.vc.join(&s.vc);
                }
            });
            false
        }
        SyncOp::WriteLocked => {
            th.acquires += 1;
            sync.with(addr, |m| {
                let s = var(m, addr);
                s.writer = Some(t);
                th.vc.join(&s.vc);
                th.vc.join(&s.read_vc);
            });
            false
        }
        SyncOp::Release | SyncOp::RwUnlock => {
            sync.with(addr, |m| {
                let s = var(m, addr);
                if op == SyncOp::RwUnlock && s.writer != Some(t) {
                    s.read_vc.join(&th.vc);
                } else {
                    if op == SyncOp::RwUnlock {
                        s.writer = None;
                    }
                    s.vc.join(&th.vc);
                }
            });
            let e = th.vc.get(t);
            th.vc.set(t, e + 1);
            th.releases += 1;
            true
        }
    }
}

/// The detector: threads' clocks, sync objects, shadow memory.
#[derive(Debug)]
pub(crate) struct Detector {
    /// Per-thread clocks, indexed by thread id.
    pub(crate) threads: Clocks,
    sync: &'static SyncMap,
    /// Shadow memory: the cells (and the object ids of `state`).
    pub(crate) shadow: Shadow,
    /// The clock that orders `seq_cst` fences.
    sc_fence: Vc,
    /// Pairs of pcs already reported (each race is reported once).
    reported: HashSet<(usize, usize), Build>,
    /// Races reported so far.
    pub(crate) races: u64,
    /// Set when shadow state could not grow (then checking stops).
    pub(crate) degraded: bool,
    /// Per thread, its own epoch (`C_t[t]`) where the thread's lock-free
    /// fast path can read it, packed with the thread as
    /// [`shadow::owner`] (what the "same epoch" test compares): leaked,
    /// never moved.
    epochs: Vec<&'static AtomicU64>,
}

impl Detector {
    /// An empty detector (usable in a `static`).
    pub(crate) const fn new() -> Detector {
        Detector {
            threads: Clocks::new(),
            sync: &SYNC,
            shadow: Shadow::new(),
            sc_fence: Vc(Vec::new()),
            reported: HashSet::with_hasher(BuildHasherDefault::new()),
            races: 0,
            degraded: false,
            epochs: Vec::new(),
        }
    }

    /// A detector with its own sync objects (tests run several at once).
    #[cfg(test)]
    pub(crate) fn isolated() -> Detector {
        Detector {
            sync: Box::leak(Box::new(SyncMap::new())),
            ..Detector::new()
        }
    }

    /// Apply synchronisation effect `op` of thread `t` on object `addr`.
    pub(crate) fn sync_op(&mut self, t: u32, addr: usize, op: SyncOp) {
        self.thread(t);
        let sync = self.sync;
        if apply(&mut self.threads[t as usize], t, sync, addr, op) {
            self.mirror(t);
        }
    }

    /// Where thread `t`'s own epoch is mirrored for its fast path.
    pub(crate) fn epoch_cell(&mut self, t: u32) -> &'static AtomicU64 {
        self.thread(t);
        self.epochs[t as usize]
    }

    /// Copy thread `t`'s epoch to its mirror.
    fn mirror(&mut self, t: u32) {
        let i = t as usize;
        while self.epochs.len() <= i {
            // Alone in its cache line: its thread stores it at every
            // synchronisation and reads it at every access.
            self.epochs
                .push(&Box::leak(Box::new(crate::shadow::Padded(AtomicU64::new(0)))).0);
        }
        let e = self.threads[i].vc.get(t);
        self.epochs[i].store(shadow::owner(t, e), Ordering::Relaxed);
    }

    /// The clock state of thread `t`, creating it (at epoch 1) if new.
    pub(crate) fn thread(&mut self, t: u32) -> &mut ThreadClock {
        let i = t as usize;
        if self.threads.len() <= i {
            self.threads.grow(i + 1);
        }
        if self.threads[i].vc.get(t) == 0 || self.epochs.len() <= i {
            if self.threads[i].vc.get(t) == 0 {
                self.threads[i].vc.set(t, 1);
            }
            self.mirror(t);
        }
        &mut self.threads[i]
    }

    fn tick(&mut self, t: u32) {
        let th = self.thread(t);
        let e = th.vc.get(t);
        th.vc.set(t, e + 1);
        th.releases += 1;
        self.mirror(t);
    }

    /// `parent` creates `child`: the child starts with the parent's clock.
    pub(crate) fn thread_created(&mut self, parent: u32, child: u32) {
        let mut vc = self.thread(parent).vc.clone();
        vc.set(child, 1);
        self.thread(child).vc = vc;
        self.mirror(child);
        self.tick(parent);
    }

    /// `joiner` joined `child`, which has finished: acquire its clock.
    /// The child's clocks are then dropped (nothing reads them again), so
    /// memory does not grow with the number of joined threads squared.
    pub(crate) fn thread_joined(&mut self, joiner: u32, child: u32) {
        let c = self.thread(child);
        let vc = std::mem::take(&mut c.vc);
        c.fence_rel = Vc::default();
        c.fence_acq = Vc::default();
        let th = self.thread(joiner);
        th.vc.join(&vc);
        th.acquires += 1;
    }

    /// `t` acquires sync object `addr`.
    #[cfg(test)]
    pub(crate) fn acquire(&mut self, t: u32, addr: usize) {
        self.sync_op(t, addr, SyncOp::Acquire);
    }

    /// `t` releases sync object `addr` (joining).
    #[cfg(test)]
    pub(crate) fn release(&mut self, t: u32, addr: usize) {
        self.sync_op(t, addr, SyncOp::Release);
    }

    /// `t` took rwlock `addr` for reading.
    #[cfg(test)]
    pub(crate) fn rwlock_read_locked(&mut self, t: u32, addr: usize) {
        self.sync_op(t, addr, SyncOp::ReadLocked);
    }

    /// `t` took rwlock `addr` for writing: acquires the write-unlocks and
    /// the read-unlocks.
    #[cfg(test)]
    pub(crate) fn rwlock_write_locked(&mut self, t: u32, addr: usize) {
        self.sync_op(t, addr, SyncOp::WriteLocked);
    }

    /// `t` is about to unlock rwlock `addr` (as writer if it holds it so).
    #[cfg(test)]
    pub(crate) fn rwlock_unlock(&mut self, t: u32, addr: usize) {
        self.sync_op(t, addr, SyncOp::RwUnlock);
    }

    /// Forget the sync objects in `[addr, addr+size)` (destroyed or freed).
    pub(crate) fn forget_sync(&mut self, addr: usize, size: usize) {
        self.sync.forget(addr, addr.saturating_add(size.max(1)));
    }

    /// An atomic operation by `t` on `addr` with C11 order `mo` (0 relaxed,
    /// 1 consume, 2 acquire, 3 release, 4 acq_rel, 5 seq_cst), reading
    /// and/or writing: [`Detector::atomic_read_side`] then
    /// [`Detector::atomic_write_side`].
    #[cfg(test)]
    pub(crate) fn atomic(&mut self, t: u32, addr: usize, mo: i32, reads: bool, writes: bool) {
        if reads {
            self.atomic_read_side(t, addr, mo);
        }
        if writes {
            self.atomic_write_side(t, addr, mo, reads);
        }
    }

    /// The read half of an atomic operation (after the value was read),
    /// see [`atomic_read_effect`].
    #[cfg(test)]
    pub(crate) fn atomic_read_side(&mut self, t: u32, addr: usize, mo: i32) {
        self.thread(t);
        let th = &mut self.threads[t as usize];
        self.sync
            .with(addr, |m| atomic_read_effect(th, m, addr, mo));
    }

    /// The write half of an atomic operation, see [`atomic_write_effect`].
    #[cfg(test)]
    pub(crate) fn atomic_write_side(&mut self, t: u32, addr: usize, mo: i32, rmw: bool) {
        self.thread(t);
        let sync = self.sync;
        let th = &mut self.threads[t as usize];
        if sync.with(addr, |m| atomic_write_effect(th, t, m, addr, mo, rmw)) {
            self.mirror(t);
        }
    }

    /// Thread `t`'s clock state, with the shadow of `[addr, addr+size)`
    /// mapped (for [`check`]) and the sync objects: what an atomic
    /// operation under the table lock needs.
    pub(crate) fn for_atomic(
        &mut self,
        t: u32,
        addr: usize,
        size: usize,
    ) -> (&mut ThreadClock, &'static SyncMap, *mut AtomicPtr<Chunk>) {
        self.thread(t);
        let mut g = addr / 8;
        while g <= (addr + size.max(1) - 1) / 8 {
            let _ = self.shadow.make(g * 8);
            g += 1;
        }
        let l1 = self.shadow.first_level();
        (&mut self.threads[t as usize], self.sync, l1)
    }

    /// Copy thread `t`'s epoch to its mirror (after its clock changed
    /// outside the detector's methods).
    pub(crate) fn sync_epoch(&mut self, t: u32) {
        self.mirror(t);
    }

    /// `atomic_thread_fence(mo)` by `t`.
    pub(crate) fn fence(&mut self, t: u32, mo: i32) {
        let m = mo & 0x7fff;
        let (acq, rel) = split(mo);
        let th = self.thread(t);
        if acq {
            let fa = th.fence_acq.clone();
            th.vc.join(&fa);
            th.acquires += 1;
        }
        if m >= 5 {
            let sc = self.sc_fence.clone();
            let th = &mut self.threads[t as usize];
            th.vc.join(&sc);
            self.sc_fence.join(&th.vc.clone());
        }
        if rel {
            let th = &mut self.threads[t as usize];
            th.fence_rel = th.vc.clone();
            self.tick(t);
        }
    }

    /// Forget the shadow of `[addr, addr+size)` (freed or unmapped memory).
    pub(crate) fn forget_range(&mut self, addr: usize, size: usize) {
        if size == 0 {
            return;
        }
        self.shadow.forget(addr, size);
        self.forget_sync(addr, size);
    }

    /// Thread `t` frees a heap block whose first `len` bytes are at `addr`
    /// (see `Table::free`): checked as a write of each of their granules
    /// against the cells there (the first race found is returned, unless
    /// reported before), then each granule's cells replaced by the mark of
    /// the free, a write of the whole granule by `t` in its current epoch
    /// with side data `pc`, `stack` and `func` (`free`, or `realloc` for a
    /// block it moved: [`crate::race_report::FREE`], `REALLOC`), so
    /// that an access by a thread not ordered after the free races with
    /// it. One load per cell, no compare-and-swap: the stores are plain,
    /// so an access made to the block at the very moment it is freed, by
    /// a thread not ordered with the free, can go unseen (as under
    /// ThreadSanitizer, whose shadow stores are all plain).
    pub(crate) fn free(
        &mut self,
        t: u32,
        (addr, len): (usize, usize),
        pc: usize,
        stack: u32,
        func: u8,
    ) -> Option<Race> {
        if len == 0 || t > MAX_TID {
            return None;
        }
        if (t as usize) >= self.threads.len() {
            self.thread(t);
        }
        let clock: &[u32] = &self.threads[t as usize].vc.0;
        let epoch = clock.get(t as usize).copied().unwrap_or(0);
        let mark = shadow::pack(t, epoch, 0xff, true, false);
        let info = shadow::side_info(stack, func);
        let mut found = None;
        let (first, last) = (addr / 8, (addr + len - 1) / 8);
        self.shadow.for_granules(first, last, |chunk, gi, g| {
            let cells = &chunk.cells[gi];
            if found.is_none() {
                // Every access conflicts with a write of the whole
                // granule (the free is not atomic): only order matters.
                found = cells.iter().enumerate().find_map(|(j, cell)| {
                    let w = cell.load(Ordering::Acquire);
                    let unordered = w != 0
                        && w & TID_FIELD != mark & TID_FIELD
                        && (w >> 32) as u32
                            > clock.get(shadow::tid_of(w) as usize).copied().unwrap_or(0);
                    unordered.then(|| race_at(chunk, gi, g, j, w, mark, (pc, info)))
                });
            }
            Shadow::set_only(chunk, gi, mark, pc, info);
        });
        self.dedupe(found?)
    }

    /// Thread `t` allocated the heap block `[addr, addr+len)`: as
    /// ThreadSanitizer does (`MemoryRangeImitateWrite` in its allocator
    /// hook), each granule's cells become one write of the block's bytes
    /// in it by `t` in its current epoch, with side data `pc`, `stack`
    /// and `func` (the allocating function, see
    /// [`crate::race_report::INTERCEPTED`]). An access by a thread not
    /// ordered after the allocation then races with it, as under TSan;
    /// and the allocating thread's own first accesses, in the same epoch,
    /// take the fast path's "same epoch" test instead of the full check.
    /// Plain stores (the block is not yet known to any other thread).
    /// Only granules already shadowed are written (`Table::alloc` marks
    /// the block's ids first, which maps its chunks).
    pub(crate) fn imitate_write(
        &mut self,
        t: u32,
        (addr, len): (usize, usize),
        pc: usize,
        stack: u32,
        func: u8,
    ) {
        if len == 0 || t > MAX_TID {
            return;
        }
        if (t as usize) >= self.threads.len() {
            self.thread(t);
        }
        let epoch = self.threads[t as usize].vc.get(t);
        let info = shadow::side_info(stack, func);
        let end = addr + len;
        self.shadow
            .for_granules(addr / 8, (end - 1) / 8, |chunk, gi, g| {
                let at = g * 8;
                let lo = addr.max(at) - at;
                let hi = end.min(at + 8) - at;
                let mask = (((1u16 << (hi - lo)) - 1) << lo) as u8;
                // In slot 0, where the allocating thread's "same epoch" tests
                // look first (in the last slot, a thread scanning its own
                // buffer ran 14 % more instructions in
                // `benches/profile/private.c`; but in slot 0 a worker writing
                // 4 of the 8 bytes of the object main allocated for it has its
                // cell in slot 1: 8 % more in `cache_scratch.c`).
                let w = shadow::pack(t, epoch, mask, true, false);
                Shadow::set_only(chunk, gi, w, pc, info);
            });
    }

    /// Check access `a` by thread `t` against the shadow and record it.
    /// Returns the first race found that was not reported before (the
    /// caller reports it).
    pub(crate) fn access(&mut self, t: u32, a: &Access) -> Option<Race> {
        if a.size == 0 {
            return None;
        }
        if (t as usize) >= self.threads.len() {
            self.thread(t);
        }
        if t > MAX_TID {
            return None;
        }
        let first = a.addr / 8;
        let last = (a.addr + a.size - 1) / 8;
        // One `make` per chunk the range touches.
        let mut g = first;
        while g <= last {
            let made = self.shadow.make(g * 8).is_some();
            g = (g | (shadow::GRANULES - 1)) + 1;
            if !made && !self.degraded {
                self.degraded = true;
                crate::sys::say(
                    "loci-rt: shadow memory could not be mapped; race detection continues only on memory already shadowed\n",
                );
            }
        }
        let l1 = self.shadow.first_level();
        let vc = &self.threads[t as usize].vc;
        let mut found = None;
        let _ = check(l1, t, vc, a, true, &mut found);
        self.dedupe(found?)
    }

    /// `race` unless a race between the same two pcs was reported before
    /// (then `None`); counts it.
    pub(crate) fn dedupe(&mut self, race: Race) -> Option<Race> {
        let key = if race.cur.pc <= race.prev.pc {
            (race.cur.pc, race.prev.pc)
        } else {
            (race.prev.pc, race.cur.pc)
        };
        if self.reported.insert(key) {
            self.races += 1;
            Some(race)
        } else {
            None
        }
    }

    /// Thread `t`'s clock state where its own thread can read it without
    /// the lock (see [`Clocks`]).
    pub(crate) fn clock_ptr(&mut self, t: u32) -> *const ThreadClock {
        self.thread(t);
        self.threads.ptr(t as usize)
    }
}

/// Check access `a` by thread `t`, whose vector clock is `vc`, against the
/// cells of the shadow with first level `l1`, and store it; the first
/// race found (not yet de-duplicated) is left in `found` (an out
/// parameter: the common path copies no race). `Err(())` when a granule is
/// not shadowed and `skip_unmapped` is false (then nothing was checked or
/// stored; the caller retries under the table lock, which maps it).
///
/// Needs no table lock: the caller is thread `t` itself (only it changes
/// `vc`) or holds the lock; each granule is updated lock-free.
#[inline]
pub(crate) fn check(
    l1: *mut AtomicPtr<Chunk>,
    t: u32,
    vc: &Vc,
    a: &Access,
    skip_unmapped: bool,
    found: &mut Option<Race>,
) -> Result<(), ()> {
    let epoch = vc.get(t);
    let first = a.addr / 8;
    let last = (a.addr + a.size - 1) / 8;
    // The granules `[g, end)` of each chunk in turn: one lookup per chunk.
    let chunks = || {
        let mut g = first;
        core::iter::from_fn(move || {
            (g <= last).then(|| {
                let end = ((g | (shadow::GRANULES - 1)) + 1).min(last + 1);
                let span = (g, end);
                g = end;
                span
            })
        })
    };
    if !skip_unmapped && last > first && chunks().any(|(g, _)| shadow::lookup(l1, g * 8).is_none())
    {
        return Err(());
    }
    for (g0, end) in chunks() {
        let Some((chunk, gi0)) = shadow::lookup(l1, g0 * 8) else {
            if skip_unmapped {
                continue;
            }
            return Err(());
        };
        for g in g0..end {
            let lo = if g == first { a.addr % 8 } else { 0 };
            let hi = if g == last {
                (a.addr + a.size - 1) % 8
            } else {
                7
            };
            let mask = ((0xffu16 << lo) & (0xffu16 >> (7 - hi))) as u8;
            check_granule(chunk, gi0 + (g - g0), g, t, epoch, vc, a, mask, found);
        }
    }
    Ok(())
}

/// Check access `a` by thread `t` (epoch `epoch`, vector clock `vc`) to
/// the bytes `mask` of granule `g` (granule `gi` of `chunk`) against the
/// granule's cells and store it; the first race found is left in `found`
/// (see [`check`]). Nothing to do when FastTrack's "same epoch" test shows
/// that nothing can be new, else [`check_store`].
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn check_granule(
    chunk: &Chunk,
    gi: usize,
    g: usize,
    t: u32,
    epoch: u32,
    vc: &Vc,
    a: &Access,
    mask: u8,
    found: &mut Option<Race>,
) {
    // Fast path (FastTrack's "same epoch"): this thread already made
    // an access at least as strong to these bytes in this epoch.
    // Every other cell was checked against that access, or checked it
    // when it was added, so nothing can be new. Cost: one pass over 4
    // cells, no writes.
    if same_epoch(&chunk.cells[gi], t, epoch, mask, a.write, a.atomic) {
        return;
    }
    let cur = shadow::pack(t, epoch, mask, a.write, a.atomic);
    let info = shadow::side_info(a.stack, a.func);
    let (j, w) = check_store(
        &chunk.cells[gi],
        Shadow::sides(chunk, gi),
        vc,
        cur,
        a.pc,
        info,
    );
    if j < CELLS && found.is_none() {
        *found = Some(race_at(chunk, gi, g, j, w, cur, (a.pc, info)));
    }
}

/// The storing half of [`check_granule`], without a lock: check the
/// access packed as `cur` (see [`shadow::pack`]; `pc` and `info`: its side
/// data, see [`shadow::side_info`]) by a thread whose vector clock is `vc`
/// against the granule's cells `cells` (side data `sides`), drop the cells
/// it makes redundant and store it. Returns the first racing cell's
/// index and word ([`CELLS`]: no race; see [`race_at`] for the report).
/// Works on the packed words only.
///
/// Lock-free, and no race is lost to concurrency (unlike TSan, whose
/// shadow stores are plain and may miss a race between two accesses
/// checked at the same moment):
/// - the access is stored by compare-and-swap against the cell value it
///   was checked against (else everything is read and checked again), so
///   no cell appears or changes unseen in the slot it takes;
/// - after storing, the cells are read again and any that changed since
///   the first read is checked too ([`recheck`]). The store and these
///   loads are sequentially consistent, so of two accesses checked at the
///   same moment at least one sees the other's cell (Dekker's argument);
/// - a cell can only disappear through a compare-and-swap whose author
///   read (and checked) it: dropping keeps FastTrack's argument (a later
///   access racing with the dropped cell races with its dropper, which
///   is concurrent with anything still being checked), and eviction is
///   the documented bound on cells.
///
/// Cost: four loads and compares (eight with vector-clock lookups), one
/// compare-and-swap, two stores of side data, four loads and compares
/// again. Inlined into its two callers (the call alone, with its
/// register saves, cost 50 instructions of the 400 per access of
/// `benches/profile/readmostly.c`).
#[inline(always)]
pub(crate) fn check_store(
    cells: &[AtomicU64; CELLS],
    sides: shadow::Sides<'_>,
    vc: &Vc,
    cur: u64,
    pc: usize,
    info: u64,
) -> (usize, u64) {
    let clock: &[u32] = &vc.0;
    loop {
        let snap: [u64; CELLS] = core::array::from_fn(|i| cells[i].load(Ordering::Relaxed));
        let scan = Scan::of(&snap, cur, clock);
        let i = scan.target(cur);
        if cells[i]
            .compare_exchange(snap[i], cur, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            // Changed since it was read: check everything again.
            core::hint::spin_loop();
            continue;
        }
        sides.at(i).store(cur, pc, info);
        // The cells expected to differ from `snap` now: the one taken and
        // those dropped.
        let mut expected = 1u32 << i;
        let drop = scan.drop & !(1 << i);
        if drop != 0 {
            for (j, cell) in cells.iter().enumerate() {
                // Failing is fine: then someone else replaced it (and the
                // second read below sees the change).
                if drop & (1 << j) != 0
                    && cell
                        .compare_exchange(snap[j], 0, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
                {
                    expected |= 1 << j;
                }
            }
        }
        // The second read (see above): in the common case nothing else
        // changed.
        let now: [u64; CELLS] = core::array::from_fn(|j| cells[j].load(Ordering::SeqCst));
        let mut changed = 0u32;
        for j in 0..CELLS {
            changed |= ((now[j] != snap[j]) as u32) << j;
        }
        if scan.race < CELLS {
            return (scan.race, snap[scan.race]);
        }
        if changed & !expected != 0 {
            return recheck(cells, clock, cur, &snap, i);
        }
        return (CELLS, 0);
    }
}

/// The race [`check_store`] found between the access packed as `cur`
/// (side data `side`) and the cell packed as `w` in slot `j` of granule
/// `g` (granule `gi` of `chunk`), unpacked for the report.
#[cold]
#[inline(never)]
pub(crate) fn race_at(
    chunk: &Chunk,
    gi: usize,
    g: usize,
    j: usize,
    w: u64,
    cur: u64,
    side: (usize, u64),
) -> Race {
    Race {
        cur: shadow::unpack_parts(cur, side.0, side.1),
        prev: Shadow::cell_as(chunk, gi, j, w),
        granule: g,
    }
}

/// What one pass of [`check_store`] over a granule's cells found.
struct Scan {
    /// The first free cell, or one this access makes redundant
    /// ([`CELLS`]: none).
    free: usize,
    /// The first cell of the accessing thread ([`CELLS`]: none).
    mine: usize,
    /// The cells this access makes redundant (a bit each).
    drop: u32,
    /// The first cell racing with the access ([`CELLS`]: none).
    race: usize,
}

impl Scan {
    /// Classify the cells `snap` for the access packed as `cur` by a
    /// thread whose clock entries are `clock`: free; ordered before the
    /// access (its own, or an epoch the thread knows), and then dropped
    /// if the access covers it (its bytes, a write covering a read, a
    /// plain cell only by a plain access); else racing if they conflict
    /// (shared bytes, a write, not both atomic).
    ///
    /// A cell of another thread that cannot conflict (two reads, or two
    /// atomics) is only looked at again, to be dropped, when the access
    /// would otherwise evict a cell: dropping exists to keep cells from
    /// being evicted, and skipping it saves the vector-clock lookup on
    /// the most common slow path (threads reading the same data in new
    /// epochs), as TSan skips such cells. Cost: about 8 instructions per
    /// cell, 15 with the vector-clock lookup.
    #[inline(always)]
    fn of(snap: &[u64; CELLS], cur: u64, clock: &[u32]) -> Scan {
        let me = cur & TID_FIELD;
        let mut s = Scan {
            free: CELLS,
            mine: CELLS,
            drop: 0,
            race: CELLS,
        };
        let ordered = |w: u64| {
            (w >> 32) as u32 <= clock.get(shadow::tid_of(w) as usize).copied().unwrap_or(0)
        };
        let mut later = 0u32;
        for (i, &w) in snap.iter().enumerate() {
            if w == 0 {
                if s.free == CELLS {
                    s.free = i;
                }
            } else if w & TID_FIELD == me {
                if s.mine == CELLS {
                    s.mine = i;
                }
                if covers(cur, w) {
                    s.drop |= 1 << i;
                    if s.free == CELLS {
                        s.free = i;
                    }
                }
            } else if (w | cur) & 0x100 == 0 || w & cur & 0x200 != 0 {
                later |= 1 << i;
            } else if ordered(w) {
                if covers(cur, w) {
                    s.drop |= 1 << i;
                    if s.free == CELLS {
                        s.free = i;
                    }
                }
            } else if s.race == CELLS && w & cur & 0xff != 0 {
                s.race = i;
            }
        }
        if s.free == CELLS && s.mine == CELLS && later != 0 {
            // Full: drop cells of other threads that cannot conflict
            // rather than evict one.
            for (i, &w) in snap.iter().enumerate() {
                if later & (1 << i) != 0 && covers(cur, w) && ordered(w) {
                    s.drop |= 1 << i;
                    if s.free == CELLS {
                        s.free = i;
                    }
                }
            }
        }
        s
    }

    /// The cell the access takes: a free one, else one of its own thread,
    /// else one chosen by the epoch (cheap pseudo-randomness, as TSan's).
    #[inline(always)]
    fn target(&self, cur: u64) -> usize {
        if self.free < CELLS {
            self.free
        } else if self.mine < CELLS {
            self.mine
        } else {
            (cur >> 32) as usize % CELLS
        }
    }
}

/// The thread field of a packed cell.
const TID_FIELD: u64 = 0x3fff_fc00;

/// Does the access packed as `cur` cover the cell `w` ordered before it:
/// all of `w`'s bytes, a write if `w` is one, atomic only if `w` is?
#[inline(always)]
fn covers(cur: u64, w: u64) -> bool {
    ((w & !cur) & 0x1ff) | ((cur & !w) & 0x200) == 0
}

/// Do the access packed as `cur` and the cell `w` of another thread
/// conflict: shared bytes, at least one write, not both atomic?
#[inline(always)]
fn conflicts(cur: u64, w: u64) -> bool {
    w & cur & 0xff != 0 && (w | cur) & 0x100 != 0 && w & cur & 0x200 == 0
}

/// The uncommon end of [`check_store`]: the access packed as `cur` was
/// stored in cell `i` of `cells`, which read `snap` before, by a thread
/// whose clock entries are `clock`, and other cells changed since. Checks
/// the cells stored by other threads since `snap` was read (the second
/// read of [`check_store`]); returns the first race as `check_store`
/// does.
#[cold]
#[inline(never)]
fn recheck(
    cells: &[AtomicU64; CELLS],
    clock: &[u32],
    cur: u64,
    snap: &[u64; CELLS],
    i: usize,
) -> (usize, u64) {
    for (j, cell) in cells.iter().enumerate() {
        let w = cell.load(Ordering::SeqCst);
        if j != i
            && w != snap[j]
            && w != 0
            && w & TID_FIELD != cur & TID_FIELD
            && (w >> 32) as u32 > clock.get(shadow::tid_of(w) as usize).copied().unwrap_or(0)
            && conflicts(cur, w)
        {
            return (j, w);
        }
    }
    (CELLS, 0)
}

/// Per-thread clock states at addresses that never change: a thread reads
/// its own without the table lock (`fast`), while other threads, holding
/// the lock, may add entries for new threads.
#[derive(Debug, Default)]
pub(crate) struct Clocks(Vec<*mut ThreadClock>);

// SAFETY: the pointers are to leaked boxes; each state is changed only by
// its own thread or, before it starts and after it ends, under the lock.
unsafe impl Send for Clocks {}

impl Clocks {
    const fn new() -> Clocks {
        Clocks(Vec::new())
    }

    /// Entries.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Grow to `n` entries (new ones default).
    fn grow(&mut self, n: usize) {
        while self.0.len() < n {
            self.0.push(Box::into_raw(Box::new(ThreadClock::default())));
        }
    }

    /// Entry `i`, if any.
    pub(crate) fn get(&self, i: usize) -> Option<&ThreadClock> {
        // SAFETY: entries are leaked boxes, never freed.
        self.0.get(i).map(|p| unsafe { &**p })
    }

    fn ptr(&self, i: usize) -> *const ThreadClock {
        self.0[i]
    }
}

impl core::ops::Index<usize> for Clocks {
    type Output = ThreadClock;
    fn index(&self, i: usize) -> &ThreadClock {
        // SAFETY: entries are leaked boxes, never freed.
        unsafe { &*self.0[i] }
    }
}

impl core::ops::IndexMut<usize> for Clocks {
    fn index_mut(&mut self, i: usize) -> &mut ThreadClock {
        // SAFETY: as for `index`; the table lock (held by whoever has
        // `&mut Clocks`) and the ownership rule above make it exclusive.
        unsafe { &mut *self.0[i] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(addr: usize, size: usize, write: bool, atomic: bool, pc: usize) -> Access {
        Access {
            addr,
            size,
            write,
            atomic,
            pc,
            stack: 0,
            func: 0,
        }
    }

    #[test]
    fn vector_clock_join_and_order() {
        let mut a = Vc::default();
        a.set(0, 3);
        let mut b = Vc::default();
        b.set(2, 5);
        assert!(!a.le(&b));
        b.join(&a);
        assert_eq!(b, Vc(vec![3, 0, 5]));
        assert!(a.le(&b));
        assert_eq!(b.get(7), 0);
    }

    #[test]
    fn unordered_write_read_races_once_per_pc_pair() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        assert!(d.access(1, &acc(0x1000, 4, true, false, 10)).is_none());
        let r = d.access(0, &acc(0x1000, 4, false, false, 20)).unwrap();
        assert_eq!(
            (r.cur.tid, r.prev.tid, r.prev.pc, r.prev.write),
            (0, 1, 10, true)
        );
        // Same pair again: not reported twice.
        assert!(d.access(0, &acc(0x1000, 4, false, false, 20)).is_none());
        assert_eq!(d.races, 1);
    }

    #[test]
    fn create_join_and_mutex_order_accesses() {
        let mut d = Detector::isolated();
        d.thread(0);
        assert!(d.access(0, &acc(0x100, 8, true, false, 1)).is_none());
        d.thread_created(0, 1);
        // Child sees the parent's write before create.
        assert!(d.access(1, &acc(0x100, 8, true, false, 2)).is_none());
        // Mutex: thread 1 unlocks, thread 2 (created before) locks.
        d.thread_created(0, 2);
        d.release(1, 0xaaa);
        d.acquire(2, 0xaaa);
        assert!(d.access(2, &acc(0x100, 4, false, false, 3)).is_none());
        // Join orders thread 2's read before main's write.
        d.thread_joined(0, 2);
        d.thread_joined(0, 1);
        assert!(d.access(0, &acc(0x104, 4, true, false, 4)).is_none());
        assert!(d.access(0, &acc(0x100, 4, true, false, 5)).is_none());
        assert_eq!(d.races, 0);
    }

    #[test]
    fn an_allocation_is_a_write_by_the_allocating_thread() {
        let malloc = crate::race_report::ALLOCATED;
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        d.thread_created(0, 2);
        // Thread 1 allocates 20 bytes at 0xc00 (call at pc 9).
        d.shadow.make(0xc00);
        d.imitate_write(1, (0xc00, 20), 9, 0, malloc);
        let (chunk, gi) = d.shadow.get(0xc00).unwrap();
        let epoch = d.threads[1].vc.get(1);
        // Its own accesses in the same epoch need no check.
        let owner = shadow::owner(1, epoch);
        assert!(same_epoch_owner(&chunk.cells[gi], owner, 0xff, true, false));
        // The last granule holds the block's 4 bytes only.
        let (c2, g2) = d.shadow.get(0xc10).unwrap();
        let last = &c2.cells[g2];
        assert!(same_epoch_owner(last, owner, 0x0f, true, false));
        assert!(!same_epoch_owner(last, owner, 0x10, false, false));
        // Thread 2, not ordered after the allocation, races with it.
        let r = d.access(2, &acc(0xc08, 4, false, false, 3)).unwrap();
        assert_eq!((r.prev.tid, r.prev.func, r.prev.pc), (1, malloc, 9));
        assert!(r.prev.write);
        // Past the block: nothing.
        assert!(d.access(2, &acc(0xc18, 8, false, false, 4)).is_none());
        // Ordered after it (thread 1 released, main acquired): no race.
        d.release(1, 0xaaa);
        d.acquire(0, 0xaaa);
        assert!(d.access(0, &acc(0xc00, 8, true, false, 5)).is_none());
    }

    #[test]
    fn a_free_races_with_unordered_accesses_before_and_after_it() {
        use crate::race_report::FREE;
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        d.thread_created(0, 2);
        // Thread 1 writes the block, main frees it unordered: the free is
        // the current access of the race, a write of the whole granule.
        assert!(d.access(1, &acc(0x800, 4, true, false, 1)).is_none());
        let r = d.free(0, (0x800, 64), 2, 0, FREE).unwrap();
        assert_eq!((r.cur.tid, r.cur.func, r.cur.mask), (0, FREE, 0xff));
        assert!(r.cur.write && !r.cur.atomic);
        assert_eq!((r.prev.tid, r.prev.pc, r.granule), (1, 1, 0x100));
        // Thread 2, not ordered after the free, reads the block: it races
        // with the free (use after free), not with thread 1's write.
        let r = d.access(2, &acc(0x800, 4, false, false, 3)).unwrap();
        assert_eq!((r.prev.tid, r.prev.func, r.prev.pc), (0, FREE, 2));
        let r = d.access(2, &acc(0x838, 8, false, false, 4)).unwrap();
        assert_eq!((r.prev.tid, r.prev.func), (0, FREE));
        // Past the block's marked bytes: nothing.
        assert!(d.access(2, &acc(0x840, 8, false, false, 5)).is_none());
        // Ordered after the free (main released, thread 1 acquired), or the
        // freeing thread itself: no race.
        d.release(0, 0xbbb);
        d.acquire(1, 0xbbb);
        assert!(d.access(1, &acc(0x810, 8, true, false, 6)).is_none());
        assert!(d.access(0, &acc(0x820, 8, true, false, 7)).is_none());
        // Forgetting the cells (a new allocation there) clears the marks.
        d.shadow.forget_cells(0x800, 64);
        assert!(d.access(2, &acc(0x828, 8, true, false, 8)).is_none());
        assert_eq!(d.races, 3);
    }

    #[test]
    fn disjoint_bytes_and_two_reads_do_not_race() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        assert!(d.access(1, &acc(0x200, 4, true, false, 1)).is_none());
        assert!(d.access(0, &acc(0x204, 4, true, false, 2)).is_none());
        assert!(d.access(0, &acc(0x300, 2, false, false, 3)).is_none());
        assert!(d.access(1, &acc(0x300, 2, false, false, 4)).is_none());
        // A 16-byte access spanning granules overlaps the 4-byte write.
        assert!(d.access(0, &acc(0x1f8, 16, false, false, 5)).is_some());
    }

    #[test]
    fn atomics_race_only_with_plain_accesses() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        d.atomic(1, 0x400, 0, false, true);
        assert!(d.access(1, &acc(0x400, 4, true, true, 1)).is_none());
        assert!(d.access(0, &acc(0x400, 4, false, true, 2)).is_none());
        assert!(d.access(0, &acc(0x400, 4, false, false, 3)).is_some());
    }

    #[test]
    fn release_acquire_atomics_publish() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        // t1: data = 1; flag.store(1, release)
        assert!(d.access(1, &acc(0x500, 4, true, false, 1)).is_none());
        d.atomic(1, 0x600, 3, false, true);
        // t0: flag.load(acquire) == 1; read data
        d.atomic(0, 0x600, 2, true, false);
        assert!(d.access(0, &acc(0x500, 4, false, false, 2)).is_none());
        // With relaxed orders the same shape races.
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        assert!(d.access(1, &acc(0x500, 4, true, false, 1)).is_none());
        d.atomic(1, 0x600, 0, false, true);
        d.atomic(0, 0x600, 0, true, false);
        assert!(d.access(0, &acc(0x500, 4, false, false, 2)).is_some());
    }

    #[test]
    fn fences_pair_with_relaxed_atomics() {
        for acquire_fence in [false, true] {
            let mut d = Detector::isolated();
            d.thread(0);
            d.thread_created(0, 1);
            // t1: data = 1; fence(release); flag.store(1, relaxed)
            assert!(d.access(1, &acc(0x500, 4, true, false, 1)).is_none());
            d.fence(1, 3);
            d.atomic(1, 0x600, 0, false, true);
            // t0: flag.load(relaxed); [fence(acquire)]; read data
            d.atomic(0, 0x600, 0, true, false);
            if acquire_fence {
                d.fence(0, 2);
            }
            let race = d.access(0, &acc(0x500, 4, false, false, 2));
            assert_eq!(race.is_some(), !acquire_fence);
        }
    }

    #[test]
    fn seq_cst_fences_are_ordered() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        assert!(d.access(1, &acc(0x500, 4, true, false, 1)).is_none());
        d.fence(1, 5);
        d.fence(0, 5);
        assert!(d.access(0, &acc(0x500, 4, false, false, 2)).is_none());
    }

    #[test]
    fn rwlock_readers_do_not_order_each_other() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        d.thread_created(0, 2);
        d.rwlock_read_locked(1, 0x700);
        assert!(d.access(1, &acc(0x800, 4, true, false, 1)).is_none());
        d.rwlock_unlock(1, 0x700);
        d.rwlock_read_locked(2, 0x700);
        assert!(d.access(2, &acc(0x800, 4, true, false, 2)).is_some());
        d.rwlock_unlock(2, 0x700);
        // A writer is ordered after both readers.
        d.rwlock_write_locked(0, 0x700);
        assert!(d.access(0, &acc(0x800, 4, true, false, 3)).is_none());
        d.rwlock_unlock(0, 0x700);
        d.rwlock_read_locked(1, 0x700);
        assert!(d.access(1, &acc(0x800, 4, false, false, 4)).is_none());
    }

    #[test]
    fn sync_objects_are_marked_before_they_exist() {
        // Addresses no other test uses (the bitmap is process-wide).
        let (released, stored) = (0x6a5a_0000_1040, 0x6a5a_0000_2080);
        let mut d = Detector::isolated();
        d.sync_op(0, released, SyncOp::Release);
        assert!(may_have_sync(released), "a release creates the clock");
        // A relaxed store releases nothing until the thread has a release
        // fence; then it must take the locked path, which marks first.
        let th = d.thread(1);
        assert!(!AtomicReq::new(true, 0).may_release(th));
        assert!(
            !AtomicReq::new(false, 5).may_release(th),
            "a load never releases"
        );
        assert!(AtomicReq::new(true, 3).may_release(th));
        d.fence(1, 3);
        assert!(AtomicReq::new(true, 0).may_release(d.thread(1)));
        d.atomic_write_side(1, stored, 0, false);
        assert!(
            may_have_sync(stored),
            "the fenced relaxed store created a clock"
        );
    }

    #[test]
    fn freed_memory_is_forgotten() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        assert!(d.access(1, &acc(0x900, 8, true, false, 1)).is_none());
        d.forget_range(0x900, 64);
        assert!(d.access(0, &acc(0x900, 8, true, false, 2)).is_none());
    }

    #[test]
    fn same_epoch_fast_path_keeps_the_stronger_access() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        // t1 reads, then writes the same bytes in the same epoch: the
        // write is not covered by the read and must be recorded.
        assert!(d.access(1, &acc(0xa00, 4, false, false, 1)).is_none());
        assert!(d.access(1, &acc(0xa00, 4, false, false, 1)).is_none());
        assert!(d.access(1, &acc(0xa00, 4, true, false, 2)).is_none());
        assert!(d.access(1, &acc(0xa00, 2, false, false, 3)).is_none());
        // Another thread's read races with that write.
        let r = d.access(0, &acc(0xa00, 4, false, false, 4)).unwrap();
        assert_eq!((r.prev.tid, r.prev.write, r.prev.pc), (1, true, 2));
    }

    #[test]
    fn same_epoch_path_is_invalidated_by_pruned_cells() {
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        // t1 writes twice (the second from its cache).
        assert!(d.access(1, &acc(0xb00, 8, true, false, 1)).is_none());
        assert!(d.access(1, &acc(0xb00, 8, true, false, 1)).is_none());
        // t0, ordered after t1 by a lock, overwrites: t1's cell is pruned.
        d.release(1, 0xccc);
        d.acquire(0, 0xccc);
        assert!(d.access(0, &acc(0xb00, 8, true, false, 2)).is_none());
        // t1 reads again in a later epoch: races with t0's write.
        assert!(d.access(1, &acc(0xb00, 8, false, false, 3)).is_some());
        // Same epoch case: t1 writes, t0 (ordered) writes, t1 writes again
        // in the same epoch: t1's cache must not hide the race.
        let mut d = Detector::isolated();
        d.thread(0);
        d.thread_created(0, 1);
        assert!(d.access(1, &acc(0xd00, 4, true, false, 1)).is_none());
        let e = d.threads[1].vc.get(1);
        // Make t0 know t1's epoch without t1 releasing (as if t0 had
        // acquired a clock that includes it).
        d.threads[0].vc.set(1, e);
        assert!(d.access(0, &acc(0xd00, 4, true, false, 2)).is_none());
        assert_eq!(d.threads[1].vc.get(1), e);
        assert!(d.access(1, &acc(0xd00, 4, true, false, 1)).is_some());
    }

    #[test]
    fn simultaneous_conflicting_accesses_always_race() {
        // Two unordered threads store a write and a read to a granule at
        // the same moment, many times: the lock-free check must find the
        // race every time. Two layouts: an empty granule (both take the
        // same cell: the compare-and-swap makes one of them check again)
        // and one where each replaces its own older cell (different
        // cells: only the second read finds the race). Plain stores, as
        // TSan's, miss a share of them on two cores.
        use std::sync::atomic::AtomicUsize;
        const ROUNDS: usize = 20_000;
        let mut sh = Shadow::new();
        let (chunk, gi0) = sh.make(0x7100_0000_0000).unwrap();
        let (mut v0, mut v1) = (Vc::default(), Vc::default());
        v0.set(0, 2);
        v0.set(1, 1);
        v1.set(0, 1);
        v1.set(1, 2);
        let cur0 = shadow::pack(0, 2, 0x0f, true, false);
        let cur1 = shadow::pack(1, 2, 0x0f, false, false);
        let older = [
            shadow::pack(0, 1, 0x0f, false, false),
            shadow::pack(1, 1, 0x0f, false, false),
            shadow::pack(2, 1, 0xf0, false, false),
            shadow::pack(3, 1, 0xf0, false, false),
        ];
        for prefill in [false, true] {
            let base = gi0 + if prefill { ROUNDS } else { 0 };
            if prefill {
                for r in 0..ROUNDS {
                    for (cell, w) in chunk.cells[base + r].iter().zip(older) {
                        cell.store(w, Ordering::Relaxed);
                    }
                }
            }
            let go = AtomicUsize::new(0);
            // Per round, bit t: thread t saw the race.
            let seen: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
            let run = |t: usize, vc: &Vc, cur: u64| {
                for (r, seen) in seen.iter().enumerate() {
                    // A spinning two-thread barrier per round.
                    go.fetch_add(1, Ordering::SeqCst);
                    while go.load(Ordering::SeqCst) < 2 * (r + 1) {
                        std::hint::spin_loop();
                    }
                    let gi = base + r;
                    let sides = Shadow::sides(chunk, gi);
                    let (j, _) = check_store(&chunk.cells[gi], sides, vc, cur, t, 0);
                    if j < CELLS {
                        seen.fetch_or(1 << t, Ordering::Relaxed);
                    }
                }
            };
            std::thread::scope(|s| {
                s.spawn(|| run(0, &v0, cur0));
                s.spawn(|| run(1, &v1, cur1));
            });
            let missed = seen
                .iter()
                .filter(|s| s.load(Ordering::Relaxed) == 0)
                .count();
            assert_eq!(
                missed, 0,
                "prefilled {prefill}: {missed} of {ROUNDS} simultaneous races missed"
            );
            // Both accesses are in the granule afterwards.
            for r in 0..ROUNDS {
                let cells = &chunk.cells[base + r];
                let has = |w| cells.iter().any(|c| c.load(Ordering::Relaxed) == w);
                assert!(has(cur0) && has(cur1), "prefilled {prefill}, round {r}");
            }
        }
    }

    #[test]
    fn shadow_is_compact() {
        // 4 bytes of object id, 4 packed 8-byte cells and their 16-byte
        // side data per granule, plus a page id per 512 granules.
        assert_eq!(
            std::mem::size_of::<crate::shadow::Chunk>(),
            crate::shadow::GRANULES * 101 + crate::shadow::GRANULES / 512 * 4
        );
    }

    #[test]
    fn stacks_are_interned() {
        let mut s = Stacks::default();
        let a = s.push(0, 0x10);
        let b = s.push(a, 0x20);
        assert_eq!(s.push(0, 0x10), a);
        assert_eq!(s.frames(b), vec![0x20, 0x10]);
        assert_eq!(s.frames(0), Vec::<usize>::new());
    }
}
