//! Writing the rewritten file: every byte of the input is kept except the
//! statements a finding changes; each change carries a `/* loci: … */`
//! comment (valid in both GNU as dialects).

use crate::analyse::{Edit, Finding};
use crate::program::Program;
use std::collections::BTreeMap;

/// The input with every applied finding's edits made.
pub fn rewrite(p: &Program<'_>, findings: &[Finding]) -> Result<String, String> {
    if p.objdump {
        return Err(
            "cannot rewrite `objdump -d` output: analyse the assembly (`gcc -S`) to get a fixable file"
                .into(),
        );
    }
    // line → edits (by statement start, right to left).
    let mut by_line: BTreeMap<u32, Vec<&Edit>> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.applied) {
        for e in &f.edits {
            let s = &p.source.stmts[e.stmt];
            by_line.entry(s.line).or_default().push(e);
        }
    }
    let mut out = String::with_capacity(p.source.lines.iter().map(|l| l.len() + 1).sum());
    for (li, line) in p.source.lines.iter().enumerate() {
        match by_line.get(&(li as u32)) {
            None => out.push_str(line),
            Some(edits) => {
                let mut edits = edits.clone();
                edits.sort_by_key(|e| std::cmp::Reverse(p.source.stmts[e.stmt].start));
                let mut l = line.to_string();
                for e in edits {
                    let s = &p.source.stmts[e.stmt];
                    let comment = e.comment.replace("*/", "* /");
                    let new = match (&e.text, comment.is_empty()) {
                        (Some(t), false) => format!("{t}\t/* {comment} */"),
                        (Some(t), true) => t.clone(),
                        (None, false) => format!("/* {comment} */"),
                        (None, true) => String::new(),
                    };
                    let (a, b) = (s.start as usize, s.end as usize);
                    // A deleted statement takes a following `;` with it.
                    let mut b2 = b;
                    if e.text.is_none() {
                        let rest = &l[b..];
                        let t = rest.trim_start();
                        if let Some(r) = t.strip_prefix(';') {
                            b2 = l.len() - r.len();
                        }
                    }
                    l.replace_range(a..b2, &new);
                }
                out.push_str(&l);
            }
        }
        if li + 1 < p.source.lines.len() || p.source.trailing_newline {
            out.push('\n');
        }
    }
    Ok(out)
}
