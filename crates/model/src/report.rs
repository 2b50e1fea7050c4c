//! herd7-compatible text output and the equivalent JSON.
//!
//! The text follows herd7 7.57's `pp_stats` line by line: `Test`,
//! `States`, one line per final state, `Ok`/`No`/`Undef`, `Witnesses`,
//! `Positive: p Negative: n` (swapped for `~exists`, as herd7 does),
//! `Flag` lines, `Condition`, `Observation`, `Time`, and `Hash=` when the
//! test file carries one (loci does not recompute herd's digest).

use crate::exec::Outcome;
use crate::ir::Value;
use crate::litmus::{LVal, Quantifier, Test};
use serde::Serialize;
use std::fmt::Write;

/// herd7's word for the quantifier.
pub fn kind_word(q: Quantifier) -> &'static str {
    match q {
        Quantifier::Exists => "Allowed",
        Quantifier::NotExists => "Forbidden",
        Quantifier::Forall => "Required",
    }
}

/// The condition as herd7 prints it (`exists (...)`).
pub fn condition_text(test: &Test) -> String {
    let q = match test.quantifier {
        Quantifier::Exists => "exists",
        Quantifier::NotExists => "~exists",
        Quantifier::Forall => "forall",
    };
    format!("{q} ({})", test.condition)
}

/// Final states with their bindings sorted as herd7 prints them
/// (registers by thread, then memory locations).
pub fn sorted_states(out: &Outcome) -> Vec<Vec<(LVal, Value)>> {
    let mut order: Vec<usize> = (0..out.observed.len()).collect();
    order.sort_by(|&a, &b| lval_key(&out.observed[a]).cmp(&lval_key(&out.observed[b])));
    let mut states: Vec<Vec<(LVal, Value)>> = out
        .states
        .keys()
        .map(|s| {
            order
                .iter()
                .map(|&i| (out.observed[i].clone(), s[i].clone()))
                .collect()
        })
        .collect();
    // Lines in the order of their values, read in printed order (herd7's).
    states.sort_by_key(|st| st.iter().map(|(_, v)| v.clone()).collect::<Vec<Value>>());
    states
}

/// herd7's order: registers by thread then register (letters, then the
/// number numerically: X8 before X11), then memory locations.
fn lval_key(l: &LVal) -> (u8, usize, String, u64, String) {
    match l {
        LVal::Reg { thread, reg } => {
            let split = reg.find(|c: char| c.is_ascii_digit()).unwrap_or(reg.len());
            let (head, tail) = reg.split_at(split);
            let n = tail.parse::<u64>().unwrap_or(0);
            (0, *thread, head.to_string(), n, tail.to_string())
        }
        LVal::Loc(x) => (1, 0, x.clone(), 0, String::new()),
    }
}

/// herd7's text for one test.
pub fn herd_text(test: &Test, out: &Outcome, secs: Option<f64>) -> String {
    let mut s = String::new();
    let name = &test.name;
    let _ = writeln!(s, "Test {name} {}", kind_word(test.quantifier));
    let states = sorted_states(out);
    let _ = writeln!(s, "States {}", states.len());
    for st in &states {
        for (l, v) in st {
            let _ = write!(s, "{}={v}; ", l.herd());
        }
        s.pop();
        s.push('\n');
    }
    let verdict = if out.undefined {
        "Undef"
    } else if out.ok(test.quantifier) {
        "Ok"
    } else {
        "No"
    };
    let _ = writeln!(s, "{}{verdict}", if out.cutoff { "Loop " } else { "" });
    let _ = writeln!(s, "Witnesses");
    let (p, n) = witnesses(test, out);
    let _ = writeln!(s, "Positive: {p} Negative: {n}");
    for f in &out.flags {
        let _ = writeln!(s, "Flag {f}");
    }
    let _ = writeln!(s, "Condition {}", condition_text(test));
    let _ = writeln!(
        s,
        "Observation {name} {} {} {}",
        out.observation().as_str(),
        out.positive,
        out.negative
    );
    if let Some(t) = secs {
        let _ = writeln!(s, "Time {name} {t:.2}");
    }
    for (k, v) in &test.info {
        if k == "Hash" {
            let _ = writeln!(s, "Hash={v}");
        }
    }
    s
}

/// `(positive, negative)` as printed on herd7's `Positive:` line.
pub fn witnesses(test: &Test, out: &Outcome) -> (u64, u64) {
    match test.quantifier {
        Quantifier::NotExists => (out.negative, out.positive),
        _ => (out.positive, out.negative),
    }
}

/// One test's result, as JSON.
#[derive(Serialize, Debug)]
pub struct JsonResult {
    /// File the test came from.
    pub file: String,
    /// Test name.
    pub name: String,
    /// Architecture (herd's name).
    pub arch: String,
    /// Model used.
    pub model: String,
    /// `Allowed`, `Forbidden` or `Required`.
    pub kind: String,
    /// Final states: each a map from lval to value.
    pub states: Vec<Vec<(String, String)>>,
    /// `Ok`, `No` or `Undef`.
    pub result: String,
    /// herd7's `Positive:` count.
    pub positive: u64,
    /// herd7's `Negative:` count.
    pub negative: u64,
    /// Raised flags.
    pub flags: Vec<String>,
    /// The condition.
    pub condition: String,
    /// `Never`, `Sometimes` or `Always`.
    pub observation: String,
    /// Candidate executions examined.
    pub candidates: u64,
    /// Whether paths were cut at the unrolling bound (herd7's `Loop`).
    pub loop_cutoff: bool,
    /// Seconds spent.
    pub time: f64,
}

impl JsonResult {
    /// Builds the JSON form of a result.
    pub fn new(file: &str, model: &str, test: &Test, out: &Outcome, secs: f64) -> Self {
        let (p, n) = witnesses(test, out);
        JsonResult {
            file: file.to_string(),
            name: test.name.clone(),
            arch: test.arch.herd_name().to_string(),
            model: model.to_string(),
            kind: kind_word(test.quantifier).to_string(),
            states: sorted_states(out)
                .into_iter()
                .map(|st| {
                    st.into_iter()
                        .map(|(l, v)| (l.to_string(), v.to_string()))
                        .collect()
                })
                .collect(),
            result: if out.undefined {
                "Undef"
            } else if out.ok(test.quantifier) {
                "Ok"
            } else {
                "No"
            }
            .to_string(),
            positive: p,
            negative: n,
            flags: out.flags.iter().cloned().collect(),
            condition: condition_text(test),
            observation: out.observation().as_str().to_string(),
            candidates: out.candidates,
            loop_cutoff: out.cutoff,
            time: secs,
        }
    }
}
