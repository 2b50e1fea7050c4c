//! Multi-threaded replay with per-thread simulated clocks that respect the
//! recorded synchronisation.
//!
//! Synchronisation edges come from the trace: an `Acquire` of object `O`
//! matches the last `Release` of `O` before it in the trace, and a
//! `ThreadStart` with a parent follows the parent's events recorded before
//! it. Taking an edge moves the waiting thread's clock up to the clock of
//! the other thread just after the edge's source event (the difference is
//! the thread's `sync_wait_ns`).
//!
//! Two schedules:
//!
//! - [`InOrder`] replays events in trace order (streaming) and only moves
//!   clocks along the edges.
//! - [`replay_timed`] replays in simulated-time order: at each step it runs
//!   the next event of the thread with the earliest clock (ties: the lowest
//!   thread id) among the threads whose next event's edge source has been
//!   simulated. A thread therefore never passes an `Acquire` of `O` before
//!   the matching `Release` has been simulated, while unsynchronised
//!   events of different threads interleave by their simulated times, so
//!   the coherence state sees them in that order. Every edge points to an
//!   earlier trace event, so the thread holding the earliest unreplayed
//!   trace event can always run: the replay cannot deadlock.

use crate::coherence::LineTable;
use crate::ordering::OrderingSim;
use crate::{Error, ErrorKind};
use loci_trace::Event;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Trace-order replay that moves clocks along synchronisation edges.
#[derive(Debug, Default)]
pub struct InOrder {
    /// Sync object -> the clock of the thread that last released it
    /// (object ids come from the trace, so the cheap line hash is fine);
    /// the object `u64::MAX`, which the table cannot hold, beside it.
    released: LineTable<f64>,
    released_max: Option<f64>,
}

impl InOrder {
    /// Replays `event` on `sim`.
    #[inline]
    pub fn on_event(&mut self, sim: &mut OrderingSim, event: &Event) -> Result<(), Error> {
        match *event {
            // Accesses, most events, move no clock along an edge.
            Event::Access { .. } => return sim.on_event(event),
            Event::Acquire { thread, object } => {
                let t = if object == u64::MAX {
                    self.released_max
                } else {
                    self.released.get(object).copied()
                };
                if let Some(t) = t {
                    sim.sync_to(thread, t)?;
                }
            }
            Event::ThreadStart {
                thread,
                parent: Some(p),
            } => sim.sync_to(thread, sim.clock(p))?,
            _ => {}
        }
        sim.on_event(event)?;
        if let Event::Release { thread, object } = *event {
            let t = sim.clock(thread);
            if object == u64::MAX {
                self.released_max = Some(t);
            } else {
                self.released.insert(object, t);
            }
        }
        Ok(())
    }

    /// Replays `events` on `sim`, in order (a block of a trace, say): the
    /// loop of [`InOrder::on_event`] calls, with the per-event path inlined.
    pub fn on_events(&mut self, sim: &mut OrderingSim, events: &[Event]) -> Result<(), Error> {
        for event in events {
            // Accesses, most events, first (they move no clock along an
            // edge).
            if let Event::Access { .. } = event {
                sim.on_event(event)?;
            } else {
                self.on_event(sim, event)?;
            }
        }
        Ok(())
    }
}

/// An edge source: thread `.0` after its first `.1` events.
type Point = (u32, usize);

/// Replays `events` on `sim` in simulated-time order (see the module
/// docs); returns the indices of the events in the order they ran.
pub fn replay_timed(sim: &mut OrderingSim, events: &[Event]) -> Result<Vec<usize>, Error> {
    replay_timed_progress(sim, events, &mut |_| {})
}

/// Like [`replay_timed`], calling `progress(n)` after every 65,536 events
/// replayed (and once at the end) with the number replayed so far.
pub fn replay_timed_progress(
    sim: &mut OrderingSim,
    events: &[Event],
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<usize>, Error> {
    let mut queues: BTreeMap<u32, Vec<(usize, Option<Point>)>> = BTreeMap::new();
    let mut last_release: HashMap<u64, Point> = HashMap::new();
    let mut needed: HashSet<Point> = HashSet::new();
    for (i, e) in events.iter().enumerate() {
        let t = e.thread();
        let edge = match *e {
            Event::Acquire { object, .. } => last_release.get(&object).copied(),
            Event::ThreadStart {
                parent: Some(p), ..
            } if p != t => Some((p, queues.get(&p).map_or(0, Vec::len))),
            _ => None,
        };
        if let Some(pt) = edge {
            needed.insert(pt);
        }
        let q = queues.entry(t).or_default();
        q.push((i, edge));
        if let Event::Release { object, .. } = *e {
            last_release.insert(object, (t, q.len()));
        }
    }
    let threads: Vec<u32> = queues.keys().copied().collect();
    let mut pos: HashMap<u32, usize> = threads.iter().map(|&t| (t, 0)).collect();
    let mut at: HashMap<Point, f64> = HashMap::new();
    let mut order = Vec::with_capacity(events.len());
    let ready = |pos: &HashMap<u32, usize>, edge: Option<Point>| match edge {
        Some((q, n)) => pos.get(&q).copied().unwrap_or(0) >= n,
        None => true,
    };
    while order.len() < events.len() {
        let mut best: Option<(f64, u32)> = None;
        for &t in &threads {
            let p = pos[&t];
            let Some(&(_, edge)) = queues[&t].get(p) else {
                continue;
            };
            if !ready(&pos, edge) {
                continue;
            }
            let c = sim.clock(t);
            if best.map_or(true, |(bc, _)| c < bc) {
                best = Some((c, t));
            }
        }
        let Some((_, t)) = best else {
            return Err(Error::new(ErrorKind::Invalid(
                "timed replay found no runnable thread (a synchronisation cycle)".into(),
            )));
        };
        let p = pos[&t];
        let (i, edge) = queues[&t][p];
        if let Some(pt) = edge {
            let when = if pt.1 == 0 {
                0.0
            } else {
                at.get(&pt).copied().unwrap_or(0.0)
            };
            sim.sync_to(t, when)?;
        }
        sim.on_event(&events[i])?;
        pos.insert(t, p + 1);
        if needed.contains(&(t, p + 1)) {
            at.insert((t, p + 1), sim.clock(t));
        }
        order.push(i);
        if order.len() % (1 << 16) == 0 {
            progress(order.len());
        }
    }
    progress(order.len());
    Ok(order)
}
