//! The two coverage analyses, both *must* analyses over [`Bits`] (meet =
//! intersection, unknown code = nothing known):
//!
//! - **in** (forward): before instruction `i`, bit `(c, d)` is set when on
//!   every path reaching `i`, every access of `c`'s earlier kind is followed
//!   by a barrier that orders `c` at domain `d`. A barrier at `i` needing
//!   that bit is then redundant for that class: whatever it would order is
//!   already ordered by the barrier in between.
//! - **out** (backward): after `i`, the bit is set when on every path from
//!   `i`, a barrier ordering `c` at `d` comes before any access of `c`'s
//!   later kind.
//!
//! This is the per-pair argument of Vafeiadis & Zappa Nardelli ("Verifying
//! fence elimination optimisations", SAS 2011) for x86-TSO, generalised to
//! the four Armv8 ordering classes: in both models a barrier contributes
//! exactly the pairs `(a, b)` with `a` before and `b` after it (`bob` in
//! `aarch64.cat`), so a pair already ordered by another barrier between
//! them loses nothing when this one goes.
//!
//! Calls to analysed functions of the same file use their summaries; since
//! every transfer function sets or clears bits independently, a function's
//! effect is exactly `v ↦ (v & keep) | gen`.

use crate::effect::{class_bits, Barrier, Bits, Flow};
use crate::program::Function;

/// Every coverage bit.
pub const TOP: Bits = 0xFFFF;

/// A callee's effect on both analyses: `v ↦ (v & keep) | gen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// In-analysis bits that pass through the callee.
    pub in_keep: Bits,
    /// In-analysis bits the callee establishes on every returning path.
    pub in_gen: Bits,
    /// Out-analysis bits that pass through (from after the call back to
    /// before it).
    pub out_keep: Bits,
    /// Out-analysis bits the callee establishes before any access.
    pub out_gen: Bits,
}

/// The state an analysis runs over: the current barrier of each
/// instruction (after removals and rewrites) and the summary of each
/// call's callee (`None`: opaque).
pub struct State<'a> {
    /// The function.
    pub f: &'a Function,
    /// Current barrier per instruction.
    pub barriers: &'a [Option<Barrier>],
    /// Callee summary per instruction (calls only).
    pub calls: &'a [Option<Summary>],
}

impl State<'_> {
    /// The in-transfer of instruction `i`.
    pub fn step_in(&self, i: usize, mut v: Bits, entry_value: Bits) -> Bits {
        let insn = &self.f.insns[i];
        if insn.entry {
            v &= if i == 0 { entry_value } else { 0 };
        }
        let e = &insn.effect;
        if let Flow::Call(_) = e.flow {
            return match self.calls[i] {
                Some(s) => {
                    let v = v & !class_bits(e.kill_in);
                    (v & s.in_keep) | s.in_gen
                }
                None => 0,
            };
        }
        if e.unknown {
            return 0;
        }
        v &= !class_bits(e.kill_in);
        if let Some(b) = self.barriers[i] {
            v |= b.provides_bits();
        }
        v
    }

    /// The out-transfer of instruction `i` (from after it to before it).
    pub fn step_out(&self, i: usize, mut v: Bits) -> Bits {
        let e = &self.f.insns[i].effect;
        if let Flow::Call(_) = e.flow {
            return match self.calls[i] {
                Some(s) => ((v & s.out_keep) | s.out_gen) & !class_bits(e.kill_out),
                None => 0,
            };
        }
        if e.unknown {
            return 0;
        }
        v &= !class_bits(e.kill_out);
        if let Some(b) = self.barriers[i] {
            v |= b.provides_bits();
        }
        v
    }

    /// The in-analysis: the value before every instruction, and the meet
    /// of the values where the function returns (0 if it can leave other
    /// than by returning).
    pub fn forward(&self, entry_value: Bits) -> (Vec<Bits>, Bits) {
        let blocks = &self.f.blocks;
        let nb = blocks.len();
        let mut outb = vec![TOP; nb];
        let block_in = |outb: &[Bits], b: usize| -> Bits {
            blocks[b].preds.iter().fold(TOP, |acc, &p| acc & outb[p])
        };
        let mut changed = true;
        while changed {
            changed = false;
            for b in 0..nb {
                let mut v = block_in(&outb, b);
                for i in blocks[b].start..blocks[b].end {
                    v = self.step_in(i, v, entry_value);
                }
                if v != outb[b] {
                    outb[b] = v;
                    changed = true;
                }
            }
        }
        let mut before = vec![0; self.f.insns.len()];
        let mut ret = TOP;
        for (b, blk) in blocks.iter().enumerate() {
            let mut v = block_in(&outb, b);
            for (i, slot) in before.iter_mut().enumerate().take(blk.end).skip(blk.start) {
                let vin = if self.f.insns[i].entry {
                    v & if i == 0 { entry_value } else { 0 }
                } else {
                    v
                };
                *slot = vin;
                v = self.step_in(i, v, entry_value);
            }
            match blk.exit {
                Some(true) => ret &= v,
                Some(false) => ret = 0,
                None => {}
            }
        }
        (before, ret)
    }

    /// The out-analysis: the value after every instruction given
    /// `ret_value` where the function returns (other exits: 0), and the
    /// value at the function's start.
    pub fn backward(&self, ret_value: Bits) -> (Vec<Bits>, Bits) {
        let blocks = &self.f.blocks;
        let nb = blocks.len();
        let mut inb = vec![TOP; nb];
        let block_out = |inb: &[Bits], b: usize| -> Bits {
            let mut v = blocks[b].succs.iter().fold(TOP, |acc, &s| acc & inb[s]);
            match blocks[b].exit {
                Some(true) => v &= ret_value,
                Some(false) => v = 0,
                None => {}
            }
            v
        };
        let mut changed = true;
        while changed {
            changed = false;
            for b in (0..nb).rev() {
                let mut v = block_out(&inb, b);
                for i in (blocks[b].start..blocks[b].end).rev() {
                    v = self.step_out(i, v);
                }
                if v != inb[b] {
                    inb[b] = v;
                    changed = true;
                }
            }
        }
        let mut after = vec![0; self.f.insns.len()];
        for (b, blk) in blocks.iter().enumerate() {
            let mut v = block_out(&inb, b);
            for i in (blk.start..blk.end).rev() {
                after[i] = v;
                v = self.step_out(i, v);
            }
        }
        let start = if nb == 0 { 0 } else { inb[0] };
        (after, start)
    }

    /// The function's summary, or `None` when it never returns normally.
    pub fn summary(&self) -> Option<Summary> {
        if !self.f.blocks.iter().any(|b| b.exit == Some(true)) {
            return None;
        }
        let (_, in_keep) = self.forward(TOP);
        let (_, in_gen) = self.forward(0);
        let (_, out_keep) = self.backward(TOP);
        let (_, out_gen) = self.backward(0);
        Some(Summary {
            in_keep,
            in_gen,
            out_keep,
            out_gen,
        })
    }
}
