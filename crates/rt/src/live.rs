//! The live heap objects by base address: an ordered index of small
//! entries (base → slot) over an arena of [`Object`]s.
//!
//! The index is a `BTreeMap`, for the "last object at or below this
//! address" and "objects overlapping this range" questions. Its values are
//! 4-byte slots rather than the objects themselves: a B-tree node shifts
//! its entries on every insert and removal, and a program that frees its
//! oldest objects first (a queue of messages) removes from the front of a
//! node each time. With objects as values (64 bytes each) the shifting
//! was about 330 instructions per `malloc` and 420 per `free` in
//! `benches/profile/prodcons.c`, all of it under the table lock.

use crate::state::Object;
use std::collections::BTreeMap;

/// Live objects by base address.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Base address → slot in `arena`.
    index: BTreeMap<usize, u32>,
    /// The objects (`None`: a free slot, listed in `free`).
    arena: Vec<Option<Object>>,
    free: Vec<u32>,
}

impl Live {
    /// No objects.
    pub(crate) const fn new() -> Live {
        Live {
            index: BTreeMap::new(),
            arena: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The object in slot `i` (a slot the index names).
    fn slot(&self, i: u32) -> &Object {
        self.arena[i as usize]
            .as_ref()
            .expect("the index names only taken slots")
    }

    /// Is there an object with base `base`?
    pub(crate) fn contains(&self, base: usize) -> bool {
        self.index.contains_key(&base)
    }

    /// The object with base `base`.
    pub(crate) fn get_mut(&mut self, base: usize) -> Option<&mut Object> {
        let i = *self.index.get(&base)?;
        self.arena[i as usize].as_mut()
    }

    /// The object with the highest base at or below `addr` (it holds
    /// `addr` only if `addr` lies before its end).
    pub(crate) fn at_or_below(&self, addr: usize) -> Option<(usize, &Object)> {
        let (&b, &i) = self.index.range(..=addr).next_back()?;
        Some((b, self.slot(i)))
    }

    /// Add `obj` at `base`, returning the object it replaces (there
    /// should be none).
    pub(crate) fn insert(&mut self, base: usize, obj: Object) -> Option<Object> {
        let i = match self.free.pop() {
            Some(i) => {
                self.arena[i as usize] = Some(obj);
                i
            }
            None => {
                self.arena.push(Some(obj));
                (self.arena.len() - 1) as u32
            }
        };
        let old = self.index.insert(base, i)?;
        self.free.push(old);
        self.arena[old as usize].take()
    }

    /// Take the object with base `base` out.
    pub(crate) fn remove(&mut self, base: usize) -> Option<Object> {
        let i = self.index.remove(&base)?;
        self.free.push(i);
        self.arena[i as usize].take()
    }

    /// Call `f` on every object overlapping `[addr, end)`, highest base
    /// first.
    pub(crate) fn each_overlapping(
        &mut self,
        addr: usize,
        end: usize,
        mut f: impl FnMut(usize, &mut Object),
    ) {
        for (&base, &i) in self.index.range(..end).rev() {
            let Some(obj) = self.arena[i as usize].as_mut() else {
                continue;
            };
            if base + obj.size.max(1) <= addr {
                break;
            }
            f(base, obj);
        }
    }

    /// Take every object out, in order of base address.
    pub(crate) fn take_all(&mut self) -> Vec<Object> {
        let index = std::mem::take(&mut self.index);
        let mut arena = std::mem::take(&mut self.arena);
        self.free.clear();
        index
            .into_values()
            .filter_map(|i| arena[i as usize].take())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AllocFn;

    fn obj(base: usize, size: usize) -> Object {
        Object {
            base,
            size,
            stack: 0,
            func: AllocFn::Malloc,
            site: 0,
            alloc_tid: 0,
            id: 0,
            per_thread: Vec::new(),
        }
    }

    #[test]
    fn objects_are_found_by_base_and_by_address_and_slots_are_reused() {
        let mut l = Live::new();
        assert!(l.insert(0x100, obj(0x100, 16)).is_none());
        assert!(l.insert(0x200, obj(0x200, 32)).is_none());
        assert!(l.insert(0x300, obj(0x300, 0)).is_none());
        assert!(l.contains(0x200));
        assert_eq!(
            l.at_or_below(0x21f).map(|(b, o)| (b, o.size)),
            Some((0x200, 32))
        );
        assert_eq!(l.at_or_below(0xff).map(|(b, _)| b), None);
        assert_eq!(l.remove(0x200).map(|o| o.size), Some(32));
        assert!(l.remove(0x200).is_none());
        assert_eq!(l.at_or_below(0x21f).map(|(b, _)| b), Some(0x100));
        // The freed slot is reused, and replacing returns the old object.
        assert!(l.insert(0x280, obj(0x280, 8)).is_none());
        assert_eq!(l.arena.len(), 3);
        assert_eq!(l.insert(0x280, obj(0x280, 9)).map(|o| o.size), Some(8));
        l.get_mut(0x280).unwrap().size = 10;
        let mut seen = Vec::new();
        l.each_overlapping(0x10f, 0x301, |b, o| seen.push((b, o.size)));
        assert_eq!(seen, vec![(0x300, 0), (0x280, 10), (0x100, 16)]);
        let mut bases = Vec::new();
        l.each_overlapping(0x110, 0x300, |b, _| bases.push(b));
        assert_eq!(bases, vec![0x280]);
        let all: Vec<usize> = l.take_all().iter().map(|o| o.base).collect();
        assert_eq!(all, vec![0x100, 0x280, 0x300]);
        assert!(l.at_or_below(usize::MAX).is_none());
    }
}
