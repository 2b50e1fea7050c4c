//! End-to-end soundness on random programs: generate a thread fragment of
//! loads, stores, acquire/release accesses, swaps, barriers and branches;
//! let the real analysis rewrite it (with and without `--merge`); embed
//! original and rewrite in every litmus shape and require, under the
//! memory model, that the rewrite has no final state the original lacks.

use loci_fence::arch::Arch;
use loci_fence::rules::{apply, evidence, Fragment, Ins, Loc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::sync::atomic::{AtomicUsize, Ordering};

fn loc() -> impl Strategy<Value = Loc> {
    prop_oneof![3 => Just(Loc::Inner), 1 => Just(Loc::X), 1 => Just(Loc::Y)]
}

fn a64_ins() -> impl Strategy<Value = Ins> {
    let bar = prop_oneof![
        Just("dmb ish"),
        Just("dmb ishst"),
        Just("dmb ishld"),
        Just("dmb sy"),
        Just("dmb st"),
        Just("dmb ld"),
        Just("dmb nsh"),
        Just("dsb ish"),
    ];
    prop_oneof![
        3 => loc().prop_map(|l| Ins::Load(l, 0)),
        1 => (loc(), 1u8..3).prop_map(|(l, k)| Ins::Load(l, k)),
        3 => loc().prop_map(|l| Ins::Store(l, false)),
        1 => loc().prop_map(|l| Ins::Store(l, true)),
        1 => (loc(), any::<bool>()).prop_map(|(l, b)| Ins::Swap(l, b, b)),
        6 => bar.prop_map(|b| Ins::Barrier(b.to_string())),
    ]
}

fn x86_ins() -> impl Strategy<Value = Ins> {
    prop_oneof![
        3 => loc().prop_map(|l| Ins::Load(l, 0)),
        3 => loc().prop_map(|l| Ins::Store(l, false)),
        1 => loc().prop_map(|l| Ins::Swap(l, true, true)),
        4 => Just(Ins::Barrier("mfence".into())),
    ]
}

/// A body, optionally with one forward branch skipping part of it, or a
/// diamond.
fn shape(body: Vec<Ins>, branch: u8, a: usize, b: usize) -> Vec<Ins> {
    let n = body.len();
    let (a, b) = (a % (n + 1), b % (n + 1));
    let (a, b) = (a.min(b), a.max(b));
    match branch {
        1 => {
            let mut v = body[..a].to_vec();
            v.push(Ins::BranchIfZero(1));
            v.extend_from_slice(&body[a..b]);
            v.push(Ins::Label(1));
            v.extend_from_slice(&body[b..]);
            v
        }
        2 => {
            let mut v = body[..a].to_vec();
            v.push(Ins::BranchIfZero(1));
            v.extend_from_slice(&body[a..b]);
            v.push(Ins::Jump(2));
            v.push(Ins::Label(1));
            v.extend(body[a..b].iter().rev().cloned());
            v.push(Ins::Label(2));
            v.extend_from_slice(&body[b..]);
            v
        }
        _ => body,
    }
}

static CHANGED: AtomicUsize = AtomicUsize::new(0);

fn check(frag: Fragment, merge: bool) -> Result<(), TestCaseError> {
    let (new, findings) = apply(&frag, merge);
    if new != frag {
        CHANGED.fetch_add(1, Ordering::Relaxed);
    }
    let checks = evidence(&frag, &new).map_err(TestCaseError::fail)?;
    for c in checks {
        prop_assert!(
            c.new_states.is_empty(),
            "unsound rewrite\n  original: {}\n  rewritten: {}\n  findings: {:?}\n  shape {} inner={} r9={} new states {:?}\n{}",
            frag.compact(),
            new.compact(),
            findings.iter().map(|f| (f.line, &f.rule, &f.justification)).collect::<Vec<_>>(),
            c.shape,
            c.inner,
            c.r9,
            c.new_states,
            c.test
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn aarch64_rewrites_add_no_outcome(
        body in prop::collection::vec(a64_ins(), 1..7),
        branch in 0u8..3, a in 0usize..8, b in 0usize..8, merge in any::<bool>(),
    ) {
        check(Fragment { arch: Arch::Aarch64, ins: shape(body, branch, a, b) }, merge)?;
    }

    #[test]
    fn x86_rewrites_add_no_outcome(body in prop::collection::vec(x86_ins(), 1..7)) {
        check(Fragment { arch: Arch::X86_64, ins: body }, false)?;
    }
}

/// The random programs do exercise rewrites (the property is not vacuous).
#[test]
fn random_programs_get_rewritten() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut changed = 0;
    for _ in 0..200 {
        let body = prop::collection::vec(a64_ins(), 1..7)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let frag = Fragment {
            arch: Arch::Aarch64,
            ins: body,
        };
        let (new, _) = apply(&frag, true);
        if new != frag {
            changed += 1;
        }
    }
    assert!(
        changed >= 40,
        "only {changed} of 200 random programs were rewritten"
    );
}
