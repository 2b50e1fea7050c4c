//! Sets of events and binary relations over events, as dense bit matrices.
//!
//! Every candidate execution of a litmus test has few events (tens, rarely
//! more than a few hundred), so a relation is an `n × n` bit matrix stored
//! row by row in `u64` words. All the operators of the cat language
//! (union, intersection, difference, sequence, inverse, closures, cartesian
//! product, domain, range) and its checks (acyclic, irreflexive, empty) are
//! here, each in `O(n² / 64)` or `O(n³ / 64)` word operations.

use std::fmt;

/// Number of `u64` words needed for `n` bits.
#[inline]
fn words(n: usize) -> usize {
    n.div_ceil(64)
}

/// A set of events `0..n`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventSet {
    n: usize,
    bits: Vec<u64>,
}

impl EventSet {
    /// The empty set over a universe of `n` events.
    pub fn empty(n: usize) -> Self {
        EventSet {
            n,
            bits: vec![0; words(n)],
        }
    }

    /// The set of all `n` events.
    pub fn full(n: usize) -> Self {
        let mut s = Self::empty(n);
        for i in 0..n {
            s.insert(i);
        }
        s
    }

    /// The set holding the events yielded by `it`.
    pub fn from_iter_n(n: usize, it: impl IntoIterator<Item = usize>) -> Self {
        let mut s = Self::empty(n);
        for i in it {
            s.insert(i);
        }
        s
    }

    /// Size of the universe.
    pub fn universe(&self) -> usize {
        self.n
    }

    /// Adds event `i`.
    #[inline]
    pub fn insert(&mut self, i: usize) {
        debug_assert!(i < self.n);
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// Removes event `i`.
    #[inline]
    pub fn remove(&mut self, i: usize) {
        self.bits[i / 64] &= !(1 << (i % 64));
    }

    /// Whether event `i` is in the set.
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        i < self.n && self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// Number of events in the set.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The events of the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    None
                } else {
                    let b = w.trailing_zeros() as usize;
                    w &= w - 1;
                    Some(wi * 64 + b)
                }
            })
        })
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a | b)
    }

    /// `self ∩ other`.
    pub fn inter(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a & b)
    }

    /// `self \ other`.
    pub fn diff(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a & !b)
    }

    /// The complement within the universe.
    pub fn complement(&self) -> Self {
        Self::full(self.n).diff(self)
    }

    /// Whether `self ⊆ other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.bits.iter().zip(&other.bits).all(|(a, b)| a & !b == 0)
    }

    fn zip(&self, other: &Self, f: impl Fn(u64, u64) -> u64) -> Self {
        debug_assert_eq!(self.n, other.n);
        EventSet {
            n: self.n,
            bits: self
                .bits
                .iter()
                .zip(&other.bits)
                .map(|(a, b)| f(*a, *b))
                .collect(),
        }
    }

    /// Raw words (bit `i` of the set is bit `i % 64` of word `i / 64`).
    pub fn words(&self) -> &[u64] {
        &self.bits
    }
}

impl fmt::Debug for EventSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A binary relation over events `0..n`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    n: usize,
    w: usize,
    bits: Vec<u64>,
}

impl Relation {
    /// The empty relation over `n` events.
    pub fn empty(n: usize) -> Self {
        let w = words(n);
        Relation {
            n,
            w,
            bits: vec![0; n * w],
        }
    }

    /// The identity relation over `n` events.
    pub fn identity(n: usize) -> Self {
        let mut r = Self::empty(n);
        for i in 0..n {
            r.insert(i, i);
        }
        r
    }

    /// The identity restricted to `s` (cat's `[s]`).
    pub fn id_on(s: &EventSet) -> Self {
        let mut r = Self::empty(s.n);
        for i in s.iter() {
            r.insert(i, i);
        }
        r
    }

    /// The cartesian product `a × b`.
    pub fn product(a: &EventSet, b: &EventSet) -> Self {
        let mut r = Self::empty(a.n);
        for i in a.iter() {
            r.row_mut(i).copy_from_slice(&b.bits);
        }
        r
    }

    /// The relation holding the pairs yielded by `it`.
    pub fn from_pairs(n: usize, it: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut r = Self::empty(n);
        for (a, b) in it {
            r.insert(a, b);
        }
        r
    }

    /// Size of the universe.
    pub fn universe(&self) -> usize {
        self.n
    }

    #[inline]
    fn row(&self, i: usize) -> &[u64] {
        &self.bits[i * self.w..(i + 1) * self.w]
    }

    #[inline]
    fn row_mut(&mut self, i: usize) -> &mut [u64] {
        &mut self.bits[i * self.w..(i + 1) * self.w]
    }

    /// Adds the pair `(a, b)`.
    #[inline]
    pub fn insert(&mut self, a: usize, b: usize) {
        debug_assert!(a < self.n && b < self.n);
        self.bits[a * self.w + b / 64] |= 1 << (b % 64);
    }

    /// Removes the pair `(a, b)`.
    #[inline]
    pub fn remove(&mut self, a: usize, b: usize) {
        self.bits[a * self.w + b / 64] &= !(1 << (b % 64));
    }

    /// Whether `(a, b)` is in the relation.
    #[inline]
    pub fn contains(&self, a: usize, b: usize) -> bool {
        self.bits[a * self.w + b / 64] & (1 << (b % 64)) != 0
    }

    /// Whether the relation is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The successors of `a`.
    pub fn successors(&self, a: usize) -> EventSet {
        EventSet {
            n: self.n,
            bits: self.row(a).to_vec(),
        }
    }

    /// All pairs, in row-major order.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.n).flat_map(move |a| {
            let row = self.row(a);
            row.iter().enumerate().flat_map(move |(wi, &w)| {
                let mut w = w;
                std::iter::from_fn(move || {
                    if w == 0 {
                        None
                    } else {
                        let b = w.trailing_zeros() as usize;
                        w &= w - 1;
                        Some((a, wi * 64 + b))
                    }
                })
            })
        })
    }

    fn zip(&self, other: &Self, f: impl Fn(u64, u64) -> u64) -> Self {
        debug_assert_eq!(self.n, other.n);
        Relation {
            n: self.n,
            w: self.w,
            bits: self
                .bits
                .iter()
                .zip(&other.bits)
                .map(|(a, b)| f(*a, *b))
                .collect(),
        }
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a | b)
    }

    /// In-place `self ∪= other`.
    pub fn union_with(&mut self, other: &Self) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= *b;
        }
    }

    /// `self ∩ other`.
    pub fn inter(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a & b)
    }

    /// `self \ other`.
    pub fn diff(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a & !b)
    }

    /// The complement within `n × n`.
    pub fn complement(&self) -> Self {
        let full = Self::product(&EventSet::full(self.n), &EventSet::full(self.n));
        full.diff(self)
    }

    /// Whether `self ⊆ other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.bits.iter().zip(&other.bits).all(|(a, b)| a & !b == 0)
    }

    /// Relational composition `self ; other` (cat's sequence).
    pub fn seq(&self, other: &Self) -> Self {
        let mut r = Self::empty(self.n);
        for a in 0..self.n {
            let (src, dst_off) = (a * self.w, a * self.w);
            for wi in 0..self.w {
                let mut word = self.bits[src + wi];
                while word != 0 {
                    let b = wi * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    let orow = other.row(b);
                    for (x, y) in r.bits[dst_off..dst_off + self.w].iter_mut().zip(orow) {
                        *x |= *y;
                    }
                }
            }
        }
        r
    }

    /// The inverse relation (cat's `r^-1`).
    pub fn inverse(&self) -> Self {
        let mut r = Self::empty(self.n);
        for (a, b) in self.pairs() {
            r.insert(b, a);
        }
        r
    }

    /// Transitive closure (cat's `r+`), by Warshall's algorithm on rows.
    pub fn plus(&self) -> Self {
        let mut r = self.clone();
        let w = self.w;
        for k in 0..self.n {
            let krow: Vec<u64> = r.row(k).to_vec();
            let (kw, kb) = (k / 64, 1u64 << (k % 64));
            for i in 0..self.n {
                if r.bits[i * w + kw] & kb != 0 {
                    for (x, y) in r.bits[i * w..(i + 1) * w].iter_mut().zip(&krow) {
                        *x |= *y;
                    }
                }
            }
        }
        r
    }

    /// Reflexive-transitive closure (cat's `r*`).
    pub fn star(&self) -> Self {
        self.plus().union(&Self::identity(self.n))
    }

    /// Reflexive closure (cat's `r?`).
    pub fn opt(&self) -> Self {
        self.union(&Self::identity(self.n))
    }

    /// The events with a successor.
    pub fn domain(&self) -> EventSet {
        let mut s = EventSet::empty(self.n);
        for a in 0..self.n {
            if self.row(a).iter().any(|w| *w != 0) {
                s.insert(a);
            }
        }
        s
    }

    /// The events with a predecessor.
    pub fn range(&self) -> EventSet {
        let mut s = EventSet::empty(self.n);
        for a in 0..self.n {
            for (x, y) in s.bits.iter_mut().zip(self.row(a)) {
                *x |= *y;
            }
        }
        s
    }

    /// Restricts to pairs whose source is in `dom` and target in `ran`.
    pub fn restrict(&self, dom: &EventSet, ran: &EventSet) -> Self {
        let mut r = Self::empty(self.n);
        for a in dom.iter() {
            let src = self.row(a).to_vec();
            for ((x, y), z) in r.row_mut(a).iter_mut().zip(&src).zip(&ran.bits) {
                *x = *y & *z;
            }
        }
        r
    }

    /// Whether no event is related to itself.
    pub fn is_irreflexive(&self) -> bool {
        (0..self.n).all(|i| !self.contains(i, i))
    }

    /// Whether the relation has no cycle.
    ///
    /// Kahn's algorithm on in-degrees: `O(n² / 64 + pairs)`, cheaper than a
    /// closure for the common case of a check that passes.
    pub fn is_acyclic(&self) -> bool {
        let n = self.n;
        let mut indeg = vec![0u32; n];
        for (_, b) in self.pairs() {
            indeg[b] += 1;
        }
        let mut stack: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut seen = 0;
        while let Some(a) = stack.pop() {
            seen += 1;
            let row = self.row(a);
            for (wi, &w) in row.iter().enumerate() {
                let mut w = w;
                while w != 0 {
                    let b = wi * 64 + w.trailing_zeros() as usize;
                    w &= w - 1;
                    indeg[b] -= 1;
                    if indeg[b] == 0 {
                        stack.push(b);
                    }
                }
            }
        }
        seen == n
    }
}

impl fmt::Debug for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.pairs()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rel(n: usize, pairs: &[(usize, usize)]) -> Relation {
        Relation::from_pairs(n, pairs.iter().copied())
    }

    #[test]
    fn seq_and_inverse() {
        let r = rel(4, &[(0, 1), (1, 2)]);
        let s = rel(4, &[(1, 3), (2, 0)]);
        assert_eq!(r.seq(&s), rel(4, &[(0, 3), (1, 0)]));
        assert_eq!(r.inverse(), rel(4, &[(1, 0), (2, 1)]));
    }

    #[test]
    fn closure_and_cycles() {
        let r = rel(70, &[(0, 1), (1, 65), (65, 3)]);
        let p = r.plus();
        assert!(p.contains(0, 3) && p.contains(1, 3) && !p.contains(3, 0));
        assert!(r.is_acyclic());
        let c = r.union(&rel(70, &[(3, 0)]));
        assert!(!c.is_acyclic());
        assert!(!c.plus().is_irreflexive());
    }

    #[test]
    fn domain_range_product() {
        let a = EventSet::from_iter_n(5, [0, 2]);
        let b = EventSet::from_iter_n(5, [1, 4]);
        let p = Relation::product(&a, &b);
        assert_eq!(p.len(), 4);
        assert_eq!(p.domain(), a);
        assert_eq!(p.range(), b);
        assert_eq!(Relation::id_on(&a).len(), 2);
    }

    fn arb_rel() -> impl Strategy<Value = Relation> {
        (1usize..80).prop_flat_map(|n| {
            proptest::collection::vec((0..n, 0..n), 0..(n * 2))
                .prop_map(move |ps| Relation::from_pairs(n, ps))
        })
    }

    proptest! {
        #[test]
        fn acyclic_iff_closure_irreflexive(r in arb_rel()) {
            prop_assert_eq!(r.is_acyclic(), r.plus().is_irreflexive());
        }

        #[test]
        fn plus_is_transitive_and_contains(r in arb_rel()) {
            let p = r.plus();
            prop_assert!(r.is_subset(&p));
            prop_assert!(p.seq(&p).is_subset(&p));
            prop_assert_eq!(p.clone(), r.union(&r.seq(&p)));
        }

        #[test]
        fn inverse_of_seq(r in arb_rel(), seed in 0u64..1000) {
            let n = r.universe();
            let s = Relation::from_pairs(n, (0..n).map(|i| (i, (i * 7 + seed as usize) % n)));
            prop_assert_eq!(r.seq(&s).inverse(), s.inverse().seq(&r.inverse()));
        }
    }
}
