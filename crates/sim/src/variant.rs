//! Barrier variants: replay a trace with some of its barriers dropped or
//! merged, to predict what removing them would gain.
//!
//! A variant is a list of rules joined by `+`; a barrier (a trace `Fence`
//! event) is dropped when any rule selects it. Only `Fence` events are
//! affected: `Acquire`/`Release` carry the synchronisation the replay
//! follows and are kept. The rules, by their command-line syntax:
//!
//! | rule | drops |
//! | --- | --- |
//! | `as-traced` | nothing |
//! | `drop:KIND` | every barrier of that kind |
//! | `drop-after-alloc:KIND` | a barrier of that kind that is the first barrier of its thread after an allocation by that thread (the publication barrier a runtime emits after `malloc`); `drop-ishst-after-alloc` is `drop-after-alloc:dmb-ishst` |
//! | `merge:KIND` | a barrier of that kind whose thread's previous barrier had the same kind, with no memory access by the thread in between (two adjacent barriers act as one) |
//! | `drop-after-site:S/S/...` | a barrier whose thread's last memory access before it carried one of these program sites (trace fences carry no site of their own; the access before a barrier is where the compiler put it) |
//!
//! `KIND` is one of `dmb-ish`, `dmb-ishst`, `dmb-ishld`, `dmb-sy`, `dsb`,
//! `mfence`, `sfence`, `lfence`, `locked-rmw`.
//!
//! Dropping a barrier is a *what-if*: whether the program stays correct
//! without it is `loci fences`' question, not the simulator's.

use crate::{Error, ErrorKind};
use loci_trace::{Event, FenceKind};

/// The command-line names of the fence kinds, in [`FenceKind::ALL`] order.
pub const KIND_NAMES: [&str; 9] = [
    "dmb-ish",
    "dmb-ishst",
    "dmb-ishld",
    "dmb-sy",
    "dsb",
    "mfence",
    "sfence",
    "lfence",
    "locked-rmw",
];

/// The command-line name of a fence kind.
pub fn kind_name(kind: FenceKind) -> &'static str {
    KIND_NAMES[kind.code() as usize]
}

fn parse_kind(s: &str) -> Result<FenceKind, Error> {
    KIND_NAMES
        .iter()
        .position(|n| *n == s)
        .and_then(|i| FenceKind::from_code(i as u8))
        .ok_or_else(|| {
            Error::new(ErrorKind::Parse(format!(
                "unknown barrier kind {s:?}: expected one of {}",
                KIND_NAMES.join(", ")
            )))
        })
}

/// One rule of a [`BarrierVariant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Drop every barrier of this kind.
    Drop(FenceKind),
    /// Drop a barrier of this kind that is its thread's first barrier
    /// after an allocation by the thread.
    DropAfterAlloc(FenceKind),
    /// Drop a barrier of this kind that directly follows another of the
    /// same kind in its thread (no memory access in between).
    Merge(FenceKind),
    /// Drop a barrier whose thread's last access carried one of these sites.
    DropAfterSite(Vec<u32>),
}

/// A set of barrier-dropping rules, with the name it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarrierVariant {
    name: String,
    rules: Vec<Rule>,
}

impl Default for BarrierVariant {
    fn default() -> Self {
        BarrierVariant {
            name: "as-traced".into(),
            rules: Vec::new(),
        }
    }
}

impl BarrierVariant {
    /// The variant's name as given (`as-traced` for the trace's barriers).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rules; empty for `as-traced`.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether this variant keeps every barrier.
    pub fn is_as_traced(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether `s` looks like a variant rather than something else in a
    /// `--compare` list (it starts with a rule keyword).
    pub fn looks_like(s: &str) -> bool {
        s == "as-traced" || s.starts_with("drop") || s.starts_with("merge")
    }
}

impl std::str::FromStr for BarrierVariant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |m: String| Error::new(ErrorKind::Parse(m));
        let mut rules = Vec::new();
        for part in s.split('+').map(str::trim) {
            let (head, arg) = match part.split_once(':') {
                Some((h, a)) => (h, Some(a)),
                None => (part, None),
            };
            let need = |what: &str| {
                arg.ok_or_else(|| bad(format!("barrier variant {part:?}: {head} needs :{what}")))
            };
            match head {
                "as-traced" if arg.is_none() => {}
                "drop-ishst-after-alloc" if arg.is_none() => {
                    rules.push(Rule::DropAfterAlloc(FenceKind::DmbIshSt))
                }
                "drop" => rules.push(Rule::Drop(parse_kind(need("KIND")?)?)),
                "drop-after-alloc" => {
                    rules.push(Rule::DropAfterAlloc(parse_kind(need("KIND")?)?))
                }
                "merge" => rules.push(Rule::Merge(parse_kind(need("KIND")?)?)),
                "drop-after-site" => {
                    let sites = need("SITE/SITE/...")?
                        .split('/')
                        .map(|x| x.trim().parse::<u32>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| {
                            bad(format!(
                                "barrier variant {part:?}: sites must be numbers like 40/41"
                            ))
                        })?;
                    rules.push(Rule::DropAfterSite(sites));
                }
                _ => {
                    return Err(bad(format!(
                        "unknown barrier variant {part:?}: expected as-traced, drop-ishst-after-alloc, \
                         drop:KIND, drop-after-alloc:KIND, merge:KIND or drop-after-site:S/S (joined by +)"
                    )))
                }
            }
        }
        Ok(BarrierVariant {
            name: s.to_string(),
            rules,
        })
    }
}

impl std::fmt::Display for BarrierVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a filter remembers about one thread.
#[derive(Debug, Clone, Copy, Default)]
struct ThreadState {
    /// The thread allocated since its last barrier.
    alloc_pending: bool,
    /// The thread's last barrier (kept or dropped), if no access since.
    adjacent_barrier: Option<FenceKind>,
    /// The site of the thread's last access, if it had one.
    last_site: Option<u32>,
}

/// Applies a [`BarrierVariant`] to a stream of events, thread by thread.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    variant: BarrierVariant,
    threads: Vec<ThreadState>,
}

impl Filter {
    /// A filter applying `variant`.
    pub fn new(variant: BarrierVariant) -> Self {
        Filter {
            variant,
            threads: Vec::new(),
        }
    }

    /// The variant applied.
    pub fn variant(&self) -> &BarrierVariant {
        &self.variant
    }

    /// Observes `event` and says whether the replay should keep it: false
    /// only for a barrier the variant drops. Events must come in each
    /// thread's program order.
    #[inline]
    pub fn keep(&mut self, event: &Event) -> bool {
        if self.variant.rules.is_empty() {
            return true;
        }
        let t = event.thread() as usize;
        if t >= self.threads.len() {
            self.threads.resize(t + 1, ThreadState::default());
        }
        let st = &mut self.threads[t];
        match *event {
            Event::Access { site, .. } => {
                st.adjacent_barrier = None;
                st.last_site = site;
                true
            }
            Event::Alloc { .. } => {
                st.alloc_pending = true;
                true
            }
            Event::Fence { kind, .. } => {
                let drop = self.variant.rules.iter().any(|r| match r {
                    Rule::Drop(k) => *k == kind,
                    Rule::DropAfterAlloc(k) => *k == kind && st.alloc_pending,
                    Rule::Merge(k) => *k == kind && st.adjacent_barrier == Some(kind),
                    Rule::DropAfterSite(sites) => st.last_site.is_some_and(|s| sites.contains(&s)),
                });
                st.alloc_pending = false;
                st.adjacent_barrier = Some(kind);
                !drop
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(thread: u32, kind: FenceKind) -> Event {
        Event::Fence { thread, kind }
    }
    fn acc(thread: u32, site: u32) -> Event {
        Event::Access {
            thread,
            addr: 0x100,
            size: 8,
            write: true,
            atomic: false,
            site: Some(site),
        }
    }
    fn alloc(thread: u32) -> Event {
        Event::Alloc {
            thread,
            addr: 0x1000,
            size: 64,
            site: 1,
        }
    }
    fn kept(variant: &str, events: &[Event]) -> Vec<bool> {
        let mut f = Filter::new(variant.parse().unwrap());
        events.iter().map(|e| f.keep(e)).collect()
    }

    #[test]
    fn parse_names_and_errors() {
        let v: BarrierVariant = "drop-ishst-after-alloc".parse().unwrap();
        assert_eq!(v.rules(), &[Rule::DropAfterAlloc(FenceKind::DmbIshSt)]);
        assert_eq!(v.name(), "drop-ishst-after-alloc");
        let v: BarrierVariant = "drop:dmb-ish+merge:mfence+drop-after-site:4/5"
            .parse()
            .unwrap();
        assert_eq!(
            v.rules(),
            &[
                Rule::Drop(FenceKind::DmbIsh),
                Rule::Merge(FenceKind::Mfence),
                Rule::DropAfterSite(vec![4, 5])
            ]
        );
        assert!("as-traced"
            .parse::<BarrierVariant>()
            .unwrap()
            .is_as_traced());
        for bad in ["drop", "drop:dmb-foo", "merge", "drop-after-site:x", "keep"] {
            assert!(bad.parse::<BarrierVariant>().is_err(), "{bad}");
        }
        for (i, k) in FenceKind::ALL.iter().enumerate() {
            assert_eq!(parse_kind(KIND_NAMES[i]).unwrap(), *k);
            assert_eq!(kind_name(*k), KIND_NAMES[i]);
        }
    }

    #[test]
    fn after_alloc_drops_only_the_first_barrier_after_an_allocation() {
        let ev = [
            alloc(0),
            acc(0, 1),
            fence(0, FenceKind::DmbIshSt), // first after the alloc: dropped
            fence(0, FenceKind::DmbIshSt), // second: kept
            fence(1, FenceKind::DmbIshSt), // thread 1 did not allocate: kept
            alloc(0),
            fence(0, FenceKind::DmbIsh), // first after alloc, other kind: kept
            fence(0, FenceKind::DmbIshSt), // not first any more: kept
        ];
        assert_eq!(
            kept("drop-ishst-after-alloc", &ev),
            [true, true, false, true, true, true, true, true]
        );
        assert_eq!(kept("as-traced", &ev), [true; 8]);
        assert_eq!(
            kept("drop:dmb-ishst", &ev),
            [true, true, false, false, false, true, true, false]
        );
    }

    #[test]
    fn merge_drops_adjacent_same_kind_barriers() {
        let ev = [
            fence(0, FenceKind::DmbIsh),
            fence(0, FenceKind::DmbIsh), // adjacent: dropped
            fence(1, FenceKind::DmbIsh), // other thread: kept
            fence(0, FenceKind::DmbIsh), // still adjacent: dropped
            acc(0, 3),
            fence(0, FenceKind::DmbIsh),   // an access in between: kept
            fence(0, FenceKind::DmbIshSt), // other kind: kept
            fence(0, FenceKind::DmbIsh),   // previous barrier was ISHST: kept
        ];
        assert_eq!(
            kept("merge:dmb-ish", &ev),
            [true, false, true, false, true, true, true, true]
        );
    }

    #[test]
    fn after_site_uses_the_last_access_of_the_thread() {
        let ev = [
            acc(0, 40),
            acc(1, 7),
            fence(0, FenceKind::DmbIshSt), // after site 40: dropped
            fence(1, FenceKind::DmbIshSt), // after site 7: kept
            acc(0, 41),
            fence(0, FenceKind::DmbIsh), // after 41: dropped
        ];
        assert_eq!(
            kept("drop-after-site:40/41", &ev),
            [true, true, false, true, true, false]
        );
    }
}
