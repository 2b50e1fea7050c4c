//! A set-associative cache with true LRU replacement.
//!
//! Each set keeps its resident tags in recency order, most recent first, in
//! a flat array (`assoc` slots per set): a hit moves the tag to the front, a
//! miss shifts the set down by one, dropping the least recently used tag,
//! and inserts the new tag at the front. This is the organisation of
//! Valgrind's cachegrind (`cg_sim.c`), so both evict the same lines. The tag
//! stored is the whole line number (`addr >> log2(line)`), and the set is
//! `line number mod sets`.

use crate::{Error, ErrorKind};

/// Size, associativity and line size of one cache, in bytes and ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Geometry {
    /// Total capacity in bytes.
    pub size: u64,
    /// Number of ways per set.
    pub assoc: u32,
    /// Line size in bytes (a power of two).
    pub line: u32,
}

impl Geometry {
    /// Checks that the geometry describes a buildable cache: non-zero
    /// fields, a power-of-two line, and `size` a multiple of `assoc * line`.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::new(ErrorKind::Invalid(m)));
        if self.size == 0 || self.assoc == 0 || self.line == 0 {
            return bad(format!(
                "cache {self}: size, assoc and line must be non-zero"
            ));
        }
        if !self.line.is_power_of_two() {
            return bad(format!(
                "cache {self}: line size {} is not a power of two",
                self.line
            ));
        }
        let way_bytes = self.assoc as u64 * self.line as u64;
        if self.size % way_bytes != 0 {
            return bad(format!(
                "cache {self}: size {} is not a multiple of assoc x line = {way_bytes}",
                self.size
            ));
        }
        Ok(())
    }

    /// Number of sets.
    pub fn sets(&self) -> u64 {
        self.size / (self.assoc as u64 * self.line as u64)
    }

    /// Parses cachegrind's `size,assoc,line_size` syntax (as in `--D1=...`)
    /// and applies cachegrind's own checks: a power-of-two number of sets
    /// and a line of at least 16 bytes.
    pub fn parse_cachegrind(s: &str) -> Result<Geometry, Error> {
        let bad = || {
            Error::new(ErrorKind::Invalid(format!(
                "cache spec `{s}`: expected size,assoc,line_size (e.g. 32768,8,64)"
            )))
        };
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [size, assoc, line] = parts[..] else {
            return Err(bad());
        };
        let g = Geometry {
            size: size.parse().map_err(|_| bad())?,
            assoc: assoc.parse().map_err(|_| bad())?,
            line: line.parse().map_err(|_| bad())?,
        };
        g.validate()?;
        if !g.sets().is_power_of_two() {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "cache {g}: {} sets is not a power of two (cachegrind requires it)",
                g.sets()
            ))));
        }
        if g.line < 16 {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "cache {g}: line size below 16 bytes (cachegrind requires at least 16)"
            ))));
        }
        Ok(g)
    }
}

impl std::fmt::Display for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{}", self.size, self.assoc, self.line)
    }
}

/// Calls `$f::<N>` on `$ways` as a `[u64; N]` when its length is one of
/// the common associativities (a fixed length lets the compiler move the
/// whole set with a few vector loads and stores instead of calling
/// `memmove`), else `$slow` on the slice.
macro_rules! by_assoc {
    ($ways:expr, $f:ident, $slow:ident $(, $arg:expr)*) => {{
        let ways: &mut [u64] = $ways;
        match ways.len() {
            4 => $f::<4>(fixed(ways), $($arg),*),
            8 => $f::<8>(fixed(ways), $($arg),*),
            11 => $f::<11>(fixed(ways), $($arg),*),
            12 => $f::<12>(fixed(ways), $($arg),*),
            16 => $f::<16>(fixed(ways), $($arg),*),
            _ => $slow(ways, $($arg),*),
        }
    }};
}

/// `ways` as an array of its (known) length.
#[inline(always)]
fn fixed<const N: usize>(ways: &mut [u64]) -> &mut [u64; N] {
    ways.try_into().expect("a set of N ways")
}

/// Moves way `i` of a set to the front (most recently used), shifting the
/// more recent ones down by one: a hit. A hit on the MRU way (the common
/// case) moves nothing.
#[inline]
fn promote(ways: &mut [u64], i: usize) {
    if i == 0 {
        return;
    }
    let tag = ways[i];
    ways.copy_within(0..i, 1);
    ways[0] = tag;
}

/// Shifts the set down by one way, dropping the last (least recently
/// used) tag, and puts `tag` in front; returns the dropped tag ([`EMPTY`]
/// if the set was not full). A set holding at most one line (common in a
/// cache that holds few lines, such as the private caches of a core that
/// ping-pongs a line) takes two moves instead of a whole shift.
#[inline]
fn shift_in(ways: &mut [u64], tag: u64) -> u64 {
    if let [first, second, ..] = ways {
        if *second == EMPTY {
            // Ways from the second on are empty: so is the last.
            *second = std::mem::replace(first, tag);
            return EMPTY;
        }
    }
    by_assoc!(ways, shift_in_n, shift_in_slice, tag)
}

#[inline]
fn shift_in_slice(ways: &mut [u64], tag: u64) -> u64 {
    let last = ways.len() - 1;
    let victim = ways[last];
    ways.copy_within(0..last, 1);
    ways[0] = tag;
    victim
}

#[inline]
fn shift_in_n<const N: usize>(ways: &mut [u64; N], tag: u64) -> u64 {
    let victim = ways[N - 1];
    ways.copy_within(0..N - 1, 1);
    ways[0] = tag;
    victim
}

/// The way of `ways` holding `block`, if any. Empty ways are all at the
/// least recently used end of a set, so the search of a set that is not
/// full stops at the first (sets of a cache that holds few lines are
/// scanned only as far as they are filled).
#[inline(always)]
fn find(ways: &[u64], block: u64) -> Option<usize> {
    if ways.last() != Some(&EMPTY) {
        // A full set: one comparison per way.
        return ways.iter().position(|&t| t == block);
    }
    for (i, &t) in ways.iter().enumerate() {
        if t == block {
            return Some(i);
        }
        if t == EMPTY {
            return None;
        }
    }
    None
}

/// Tag value of an empty way; no line number reaches it.
const EMPTY: u64 = u64::MAX;

/// One set-associative LRU cache (tags only, no data).
#[derive(Debug, Clone)]
pub struct Cache {
    geometry: Geometry,
    sets: u64,
    /// `sets - 1` when `sets` is a power of two (a mask instead of a
    /// division on the hot path), else 0.
    set_mask: u64,
    /// Whether `sets` is a power of two (1 included).
    pow2: bool,
    assoc: usize,
    line_bits: u32,
    tags: Vec<u64>,
}

impl Cache {
    /// An empty cache of the given geometry.
    pub fn new(geometry: Geometry) -> Result<Cache, Error> {
        geometry.validate()?;
        let sets = geometry.sets();
        // At most 2^28 lines (16 GiB of 64-byte lines): a larger figure is a
        // typo, and allocating its tags would exhaust memory.
        let slots = usize::try_from(sets * geometry.assoc as u64)
            .ok()
            .filter(|&n| n <= 1 << 28)
            .ok_or_else(|| {
                Error::new(ErrorKind::Invalid(format!(
                    "cache {geometry}: more than 2^28 lines"
                )))
            })?;
        Ok(Cache {
            geometry,
            sets,
            set_mask: if sets.is_power_of_two() { sets - 1 } else { 0 },
            pow2: sets.is_power_of_two(),
            assoc: geometry.assoc as usize,
            line_bits: geometry.line.trailing_zeros(),
            tags: vec![EMPTY; slots],
        })
    }

    /// The set of line number `block`: `block mod sets`.
    #[inline(always)]
    fn set_of(&self, block: u64) -> usize {
        if self.pow2 {
            (block & self.set_mask) as usize
        } else {
            (block % self.sets) as usize
        }
    }

    /// The ways of the set of line number `block`.
    #[inline(always)]
    fn set_mut(&mut self, block: u64) -> &mut [u64] {
        let first = self.set_of(block) * self.assoc;
        &mut self.tags[first..first + self.assoc]
    }

    /// This cache's geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Looks up line number `block` (an address shifted right by the line
    /// bits), making it most recently used; returns true on a miss.
    pub fn access_line(&mut self, block: u64) -> bool {
        self.access_line_evict(block).0
    }

    /// Makes line number `block` most recently used if it is resident;
    /// returns whether it was (a miss changes nothing).
    #[inline(always)]
    pub fn hit_line(&mut self, block: u64) -> bool {
        // The most recently used way first (the common hit, which changes
        // nothing), read alone: no set slice to bound-check.
        let first = self.set_of(block) * self.assoc;
        if self.tags.get(first) == Some(&block) {
            return true;
        }
        self.hit_line_rest(first, block)
    }

    /// [`Cache::hit_line`] past the set's first way, which starts the set
    /// at `first` in `tags`.
    #[inline(never)]
    fn hit_line_rest(&mut self, first: usize, block: u64) -> bool {
        let Some(ways) = self.tags.get_mut(first..first + self.assoc) else {
            return false;
        };
        match find(ways, block) {
            Some(i) => {
                promote(ways, i);
                true
            }
            None => false,
        }
    }

    /// Like [`Cache::access_line`], also returning the line evicted to
    /// make room, if any: `(miss, evicted)`.
    #[inline]
    pub fn access_line_evict(&mut self, block: u64) -> (bool, Option<u64>) {
        let ways = self.set_mut(block);
        match find(ways, block) {
            Some(i) => {
                promote(ways, i);
                (false, None)
            }
            None => {
                let victim = shift_in(ways, block);
                (true, (victim != EMPTY).then_some(victim))
            }
        }
    }

    /// Installs line number `block`, which the caller knows is not
    /// resident, as the most recently used line of its set; returns the
    /// line evicted to make room, if any. The same as
    /// [`Cache::access_line_evict`] on a miss, without looking for the line.
    #[inline]
    pub fn insert_absent(&mut self, block: u64) -> Option<u64> {
        debug_assert!(!self.contains_line(block));
        let ways = self.set_mut(block);
        let victim = shift_in(ways, block);
        (victim != EMPTY).then_some(victim)
    }

    /// Removes line number `block`; returns whether it was resident. Empty
    /// ways stay at the least recently used end of the set.
    #[inline]
    pub fn invalidate_line(&mut self, block: u64) -> bool {
        let ways = self.set_mut(block);
        match find(ways, block) {
            Some(i) => {
                // Move the less recent ways up by one, up to the first
                // empty one (those after it are empty too).
                let mut j = i;
                while j + 1 < ways.len() {
                    let next = ways[j + 1];
                    ways[j] = next;
                    if next == EMPTY {
                        return true;
                    }
                    j += 1;
                }
                ways[j] = EMPTY;
                true
            }
            None => false,
        }
    }

    /// Accesses bytes `addr .. addr + size` (a size of 0 counts as 1): every
    /// line touched is looked up, and the access misses if any line misses
    /// (cachegrind's rule for accesses that straddle two lines).
    pub fn access(&mut self, addr: u64, size: u64) -> bool {
        let first = addr >> self.line_bits;
        let last = addr.saturating_add(size.max(1) - 1) >> self.line_bits;
        let mut miss = false;
        for block in first..=last {
            miss |= self.access_line(block);
        }
        miss
    }

    /// The resident line numbers, set by set, most recent first.
    pub fn lines(&self) -> impl Iterator<Item = u64> + '_ {
        self.tags.iter().copied().filter(|&t| t != EMPTY)
    }

    /// Whether line number `block` is resident (does not change recency).
    pub fn contains_line(&self, block: u64) -> bool {
        let set = self.set_of(block);
        find(&self.tags[set * self.assoc..(set + 1) * self.assoc], block).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(size: u64, assoc: u32, line: u32) -> Geometry {
        Geometry { size, assoc, line }
    }

    #[test]
    fn lru_evicts_least_recent() {
        // One set of two ways.
        let mut c = Cache::new(g(128, 2, 64)).unwrap();
        assert!(c.access_line(1));
        assert!(c.access_line(2));
        assert!(!c.access_line(1)); // 1 is now MRU, 2 is LRU
        assert!(c.access_line(3)); // evicts 2
        assert!(c.contains_line(1) && c.contains_line(3) && !c.contains_line(2));
        assert!(c.access_line(2)); // evicts 1
        assert!(!c.contains_line(1));
    }

    #[test]
    fn eviction_and_invalidation() {
        let mut c = Cache::new(g(128, 2, 64)).unwrap();
        assert_eq!(c.access_line_evict(1), (true, None));
        assert_eq!(c.access_line_evict(2), (true, None));
        assert_eq!(c.access_line_evict(2), (false, None));
        assert_eq!(c.access_line_evict(3), (true, Some(1)));
        assert!(c.invalidate_line(3));
        assert!(!c.invalidate_line(3));
        // The freed way is used before anything is evicted.
        assert_eq!(c.access_line_evict(4), (true, None));
        assert_eq!(c.access_line_evict(5), (true, Some(2)));
    }

    #[test]
    fn insert_absent_is_a_miss_without_the_lookup() {
        let mut a = Cache::new(g(256, 2, 64)).unwrap();
        let mut b = a.clone();
        for line in [1u64, 3, 5, 2, 7, 9, 4] {
            let (miss, evicted) = a.access_line_evict(line);
            assert!(miss);
            assert_eq!(b.insert_absent(line), evicted);
        }
        assert!(a.invalidate_line(9) && b.invalidate_line(9));
        assert_eq!(a.access_line_evict(11), (true, None));
        assert_eq!(b.insert_absent(11), None);
        assert_eq!(a.lines().collect::<Vec<_>>(), b.lines().collect::<Vec<_>>());
    }

    /// Random accesses, inserts and invalidations agree with a plain
    /// recency list per set (most recent first), for associativities with
    /// and without a fixed-length path, in sets full and not.
    #[test]
    fn matches_a_recency_list_model() {
        for assoc in [1u32, 2, 3, 4, 8, 11, 16] {
            let sets = 4u64;
            let mut c = Cache::new(g(sets * assoc as u64 * 64, assoc, 64)).unwrap();
            let mut model: Vec<Vec<u64>> = vec![Vec::new(); sets as usize];
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ assoc as u64;
            for _ in 0..5000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let line = x % (sets * (assoc as u64 + 3));
                let set = &mut model[(line % sets) as usize];
                let pos = set.iter().position(|&t| t == line);
                match x >> 61 {
                    0 | 1 => {
                        assert_eq!(c.invalidate_line(line), pos.is_some());
                        if let Some(i) = pos {
                            set.remove(i);
                        }
                    }
                    2 => {
                        assert_eq!(c.hit_line(line), pos.is_some());
                        if let Some(i) = pos {
                            let t = set.remove(i);
                            set.insert(0, t);
                        }
                    }
                    3 if pos.is_none() => {
                        set.insert(0, line);
                        let evicted = (set.len() > assoc as usize).then(|| set.pop()).flatten();
                        assert_eq!(c.insert_absent(line), evicted);
                    }
                    _ => {
                        let miss = pos.is_none();
                        if let Some(i) = pos {
                            set.remove(i);
                        }
                        set.insert(0, line);
                        let evicted = (set.len() > assoc as usize).then(|| set.pop()).flatten();
                        assert_eq!(c.access_line_evict(line), (miss, evicted));
                    }
                }
                assert_eq!(
                    c.contains_line(line),
                    model[(line % sets) as usize].contains(&line)
                );
            }
            let lines: Vec<u64> = model.concat();
            assert_eq!(c.lines().collect::<Vec<_>>(), lines, "assoc {assoc}");
        }
    }

    #[test]
    fn straddling_access_misses_once_if_either_line_misses() {
        let mut c = Cache::new(g(1024, 2, 64)).unwrap();
        assert!(!c.access(0, 0) || c.contains_line(0));
        assert!(c.access(60, 8)); // line 1 missing
        assert!(c.contains_line(1));
        assert!(!c.access(60, 8));
        assert!(!c.access(64, 64));
        assert!(c.access(120, 16)); // lines 1 (hit) and 2 (miss)
    }

    #[test]
    fn impossible_geometries_are_errors() {
        assert!(Cache::new(g(1000, 8, 64)).is_err());
        assert!(Cache::new(g(1024, 8, 48)).is_err());
        assert!(Cache::new(g(0, 8, 64)).is_err());
        assert!(Cache::new(g(1 << 62, 1, 64)).is_err());
        assert!(Geometry::parse_cachegrind("32768,8,64").is_ok());
        assert!(Geometry::parse_cachegrind("24576,8,64").is_err()); // 48 sets
        assert!(Geometry::parse_cachegrind("32768,8").is_err());
        assert!(Geometry::parse_cachegrind("a,8,64").is_err());
        assert!(Geometry::parse_cachegrind("256,2,8").is_err());
    }
}
