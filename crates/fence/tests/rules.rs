//! Every rewrite rule is checked against the memory model: the analysis
//! applies it to its example, the litmus evidence shows no new final
//! state, the near miss is left alone and the wrong rewrite of the near
//! miss does show a new state (so the evidence can fail).

use loci_fence::rules::{check_rule, RULES};

#[test]
fn every_rule_is_sound_and_its_near_miss_is_caught() {
    let mut failures = Vec::new();
    for rule in &RULES {
        let ev = check_rule(rule).unwrap_or_else(|e| panic!("{}: {e}", rule.id));
        if !ev.holds() {
            let bad: Vec<_> = ev
                .example_checks
                .iter()
                .filter(|c| !c.new_states.is_empty())
                .map(|c| {
                    format!(
                        "{} inner={} r9={}: {:?}\n{}",
                        c.shape, c.inner, c.r9, c.new_states, c.test
                    )
                })
                .collect();
            failures.push(format!(
                "rule {} ({}): example `{}` → `{}` used={} near_miss_untouched={} wrong caught={} findings={:?}\nunsound checks: {bad:#?}",
                rule.id,
                rule.arch,
                rule.example,
                ev.rewritten.compact(),
                ev.used,
                ev.near_miss_untouched,
                ev.wrong_checks.iter().any(|c| !c.new_states.is_empty()),
                ev.findings.iter().map(|f| (&f.rule, f.kind, &f.justification)).collect::<Vec<_>>(),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
