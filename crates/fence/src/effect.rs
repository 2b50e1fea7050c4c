//! What one instruction does to memory ordering: the abstract effect every
//! front end maps instructions to, and the bit sets the dataflow runs on.
//!
//! A barrier orders pairs `(a, b)` of accesses with `a` before it and `b`
//! after it in program order. We split those pairs into four *classes* by
//! the kinds of `a` and `b` — R→R, R→W, W→R, W→W — and, because a barrier
//! only orders for observers inside its shareability domain, into four
//! *domains* (NSH < ISH < OSH < SY). A coverage set is the 16 bits
//! `class × domain`; a barrier of domain `d` provides its classes at every
//! domain `≤ d`.
//!
//! Accesses *kill* coverage: a plain store `a` is a new W that no earlier
//! barrier orders before later accesses, so it clears W→R and W→W on the
//! way in. Accesses that are ordered by themselves kill less: an AArch64
//! load-acquire (LDAR/LDAPR) is ordered before everything after it (Arm ARM
//! B2.3, `[A|Q]; po; [M]` in `bob`), a store-release after everything
//! before it (`[M]; po; [L]`); on x86-TSO every pair but W→R is ordered by
//! the machine.

/// An ordering class: the kinds of the earlier and the later access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// load → load
    RR = 0,
    /// load → store
    RW = 1,
    /// store → load
    WR = 2,
    /// store → store
    WW = 3,
}

impl Class {
    /// All four classes, in bit order.
    pub const ALL: [Class; 4] = [Class::RR, Class::RW, Class::WR, Class::WW];

    /// `R→W` style name.
    pub fn arrow(self) -> &'static str {
        match self {
            Class::RR => "R→R",
            Class::RW => "R→W",
            Class::WR => "W→R",
            Class::WW => "W→W",
        }
    }

    /// The earlier access's kind, as a word.
    pub fn before_word(self) -> &'static str {
        match self {
            Class::RR | Class::RW => "load",
            _ => "store",
        }
    }

    /// The later access's kind, as a word.
    pub fn after_word(self) -> &'static str {
        match self {
            Class::RR | Class::WR => "load",
            _ => "store",
        }
    }
}

/// A set of classes, one bit per [`Class`].
pub type Classes = u8;
/// Every class.
pub const ALL_CLASSES: Classes = 0b1111;
/// Classes whose earlier access is a load.
pub const FROM_LOAD: Classes = 1 << Class::RR as u8 | 1 << Class::RW as u8;
/// Classes whose earlier access is a store.
pub const FROM_STORE: Classes = 1 << Class::WR as u8 | 1 << Class::WW as u8;
/// Classes whose later access is a load.
pub const TO_LOAD: Classes = 1 << Class::RR as u8 | 1 << Class::WR as u8;
/// Classes whose later access is a store.
pub const TO_STORE: Classes = 1 << Class::RW as u8 | 1 << Class::WW as u8;

/// The classes in a set, in order.
pub fn classes_in(set: Classes) -> impl Iterator<Item = Class> {
    Class::ALL
        .into_iter()
        .filter(move |c| set & (1 << *c as u8) != 0)
}

/// Shareability domain of a barrier, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Domain {
    /// Non-shareable: this PE only.
    Nsh = 0,
    /// Inner shareable.
    Ish = 1,
    /// Outer shareable.
    Osh = 2,
    /// Full system.
    Sy = 3,
}

/// Coverage bits: bit `4 * class + domain`.
pub type Bits = u16;

/// Coverage bits a barrier of `classes` at `domain` provides: each class at
/// every domain up to and including `domain`.
pub fn provides_bits(classes: Classes, domain: Domain) -> Bits {
    let per_class: Bits = (1 << (domain as u16 + 1)) - 1;
    classes_in(classes).fold(0, |acc, c| acc | per_class << (4 * c as u16))
}

/// Coverage bits a barrier of `classes` at `domain` needs from others to be
/// redundant: each class at exactly `domain`.
pub fn needs_bits(classes: Classes, domain: Domain) -> Bits {
    classes_in(classes).fold(0, |acc, c| acc | 1 << (4 * c as u16 + domain as u16))
}

/// Every coverage bit of the classes in `classes` (what an access kills).
pub fn class_bits(classes: Classes) -> Bits {
    classes_in(classes).fold(0, |acc, c| acc | 0xF << (4 * c as u16))
}

/// The classes present in a set of coverage bits.
pub fn classes_of_bits(bits: Bits) -> Classes {
    Class::ALL.iter().fold(0, |acc, c| {
        if bits & (0xF << (4 * *c as u16)) != 0 {
            acc | 1 << *c as u8
        } else {
            acc
        }
    })
}

/// Which instruction a barrier is, for printing and rewriting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarrierOp {
    /// AArch64 `DMB`.
    Dmb,
    /// AArch64 `DSB` (never removed or weakened: it also waits for
    /// completion of non-memory effects; it still orders memory like a DMB).
    Dsb,
    /// x86 `MFENCE`.
    Mfence,
    /// x86 locked read-modify-write (or `XCHG` with memory), a full barrier.
    Locked,
    /// x86 `lock or/add $0, (%rsp)`: a locked no-op on the stack, used as a
    /// cheaper MFENCE; removable like one.
    LockedFence,
}

/// The ordering a barrier provides and the ordering it is responsible for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Barrier {
    /// Which instruction.
    pub op: BarrierOp,
    /// Classes it orders.
    pub provides: Classes,
    /// Classes that only it can order (on x86, only W→R: TSO orders the
    /// rest already).
    pub needs: Classes,
    /// Shareability domain (x86: `Sy`).
    pub domain: Domain,
}

impl Barrier {
    /// Whether loci may remove, weaken or merge this barrier.
    pub fn is_candidate(&self) -> bool {
        matches!(
            self.op,
            BarrierOp::Dmb | BarrierOp::Mfence | BarrierOp::LockedFence
        )
    }

    /// Coverage bits it provides.
    pub fn provides_bits(&self) -> Bits {
        provides_bits(self.provides, self.domain)
    }

    /// Coverage bits it needs from others to be removable.
    pub fn needs_bits(&self) -> Bits {
        needs_bits(self.needs, self.domain)
    }
}

/// How control leaves an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Falls through to the next instruction.
    Next,
    /// Always jumps to a label.
    Jump(String),
    /// Jumps to a label or falls through.
    CondJump(String),
    /// Calls a function (by name if direct) and returns after it.
    Call(Option<String>),
    /// Returns to the caller.
    Return,
    /// Jumps to a computed address (jump tables, tail calls through a
    /// register): leaves the analysed code.
    IndirectJump,
    /// Traps or never continues (`brk`, `udf`, `hlt`, `ud2`).
    Stop,
}

/// The abstract effect of one instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effect {
    /// Coverage classes this instruction's accesses kill on the way *in*
    /// (earlier-access side: a new access not yet ordered before later ones).
    pub kill_in: Classes,
    /// Coverage classes it kills on the way *out* (later-access side: an
    /// access not ordered after earlier ones by itself).
    pub kill_out: Classes,
    /// Whether it reads memory (for reports).
    pub loads: bool,
    /// Whether it writes memory (for reports).
    pub stores: bool,
    /// The ordering it provides as a barrier, if any.
    pub barrier: Option<Barrier>,
    /// Not understood: may access memory, may be a barrier. Kills all
    /// coverage in both directions and provides none; never rewritten.
    pub unknown: bool,
    /// Control flow.
    pub flow: Flow,
}

impl Effect {
    /// An instruction with no memory or ordering effect.
    pub fn none() -> Self {
        Effect {
            kill_in: 0,
            kill_out: 0,
            loads: false,
            stores: false,
            barrier: None,
            unknown: false,
            flow: Flow::Next,
        }
    }

    /// An instruction loci does not understand.
    pub fn unknown() -> Self {
        Effect {
            kill_in: ALL_CLASSES,
            kill_out: ALL_CLASSES,
            loads: true,
            stores: true,
            unknown: true,
            ..Effect::none()
        }
    }

    /// A barrier.
    pub fn barrier(b: Barrier) -> Self {
        Effect {
            barrier: Some(b),
            ..Effect::none()
        }
    }

    /// With the given control flow.
    pub fn with_flow(mut self, flow: Flow) -> Self {
        self.flow = flow;
        self
    }

    /// Whether it accesses memory (or may).
    pub fn accesses(&self) -> bool {
        self.loads || self.stores || self.unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provides_and_needs_bits() {
        // DMB ISHST provides W→W at NSH and ISH.
        assert_eq!(
            provides_bits(1 << Class::WW as u8, Domain::Ish),
            0b0011 << 12
        );
        assert_eq!(needs_bits(1 << Class::WW as u8, Domain::Ish), 0b0010 << 12);
        // A full SY barrier provides every bit.
        assert_eq!(provides_bits(ALL_CLASSES, Domain::Sy), 0xFFFF);
        // An ISH barrier does not cover an SY one.
        let ish = provides_bits(ALL_CLASSES, Domain::Ish);
        assert_ne!(
            ish & needs_bits(ALL_CLASSES, Domain::Sy),
            needs_bits(ALL_CLASSES, Domain::Sy)
        );
        assert_eq!(classes_of_bits(class_bits(FROM_STORE)), FROM_STORE);
    }
}
