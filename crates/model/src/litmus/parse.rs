//! The file-level litmus parser: header, metadata, init block, thread
//! table, `locations`, `filter` and the final condition.

use super::cond::{parse_lval, parse_prop, parse_value};
use super::{Arch, Diag, InitItem, LVal, LitmusError, Quantifier, SrcLine, Test};
use crate::front;
use crate::ir::{Pos, Thread};
use std::path::Path;

/// Reads and parses the litmus file at `path`.
pub fn parse_file(path: &Path) -> Result<Test, LitmusError> {
    let name = path.display().to_string();
    let src = std::fs::read(path).map_err(|e| LitmusError {
        file: name.clone(),
        line: 0,
        col: 0,
        msg: format!("cannot read file: {e}"),
    })?;
    let src = String::from_utf8_lossy(&src);
    parse(&name, &src)
}

/// Parses the text of a litmus file; `file` names it in errors.
pub fn parse(file: &str, src: &str) -> Result<Test, LitmusError> {
    parse_inner(src).map_err(|d| LitmusError::from_diag(file, d))
}

/// A cursor over the source that tracks line and column.
struct Cur<'a> {
    src: &'a str,
    i: usize,
    pos: Pos,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.i..].chars().next()
    }
    fn rest(&self) -> &'a str {
        &self.src[self.i..]
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }
    fn advance(&mut self, bytes: usize) {
        let end = self.i + bytes;
        while self.i < end {
            self.bump();
        }
    }
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.bump();
        }
    }
    /// Skips an OCaml-style comment `(* ... *)` (nested) at the cursor.
    fn skip_comment(&mut self) -> Result<(), Diag> {
        let start = self.pos;
        let mut depth = 0usize;
        loop {
            let r = self.rest();
            if r.starts_with("(*") {
                depth += 1;
                self.advance(2);
            } else if r.starts_with("*)") {
                depth -= 1;
                self.advance(2);
                if depth == 0 {
                    return Ok(());
                }
            } else if self.bump().is_none() {
                return Err(Diag::new(start, "unterminated comment '(*'"));
            }
        }
    }
    /// Takes text up to (not including) the end of the line.
    fn line(&mut self) -> &'a str {
        let r = self.rest();
        let n = r.find('\n').unwrap_or(r.len());
        self.advance(n);
        &r[..n]
    }
}

fn parse_inner(src: &str) -> Result<Test, Diag> {
    let mut c = Cur {
        src,
        i: 0,
        pos: Pos { line: 1, col: 1 },
    };
    // Header: ARCH NAME [(texname)] ["doc"]
    c.skip_blanks();
    let head_pos = c.pos;
    let head = c.line();
    let mut words = head.split_whitespace();
    let arch_word = words.next().ok_or_else(|| {
        Diag::new(
            head_pos,
            "empty file: expected 'ARCH NAME' on the first line",
        )
    })?;
    let arch = match arch_word {
        "AArch64" | "AARCH64" | "ARM64" => Arch::AArch64,
        "X86" | "x86" => Arch::X86,
        "X86_64" | "x86_64" => Arch::X86_64,
        "C" => Arch::C,
        other => {
            return Err(Diag::new(
                head_pos,
                format!(
                "unsupported architecture '{other}' (loci reads AArch64, X86, X86_64 and C tests)"
            ),
            ))
        }
    };
    let name = words
        .next()
        .ok_or_else(|| Diag::new(head_pos, "missing test name after the architecture"))?
        .to_string();
    let mut doc = head.find('"').and_then(|s| {
        let t = &head[s + 1..];
        t.find('"').map(|e| t[..e].to_string())
    });

    // Metadata and doc string up to the init block.
    let mut info = Vec::new();
    loop {
        c.skip_blanks();
        let r = c.rest();
        if r.is_empty() {
            return Err(Diag::new(c.pos, "missing init block '{ ... }'"));
        }
        if r.starts_with("(*") {
            c.skip_comment()?;
        } else if r.starts_with('{') {
            c.bump();
            break;
        } else if r.starts_with('"') {
            let l = c.line();
            let t = &l[1..];
            if doc.is_none() {
                doc = Some(t[..t.find('"').unwrap_or(t.len())].to_string());
            }
        } else {
            let l = c.line();
            if let Some((k, v)) = l.split_once('=') {
                let k = k.trim();
                if !k.is_empty()
                    && k.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "_-./".contains(ch))
                {
                    info.push((k.to_string(), v.trim().to_string()));
                }
            }
        }
    }

    // Init block.
    let init_pos = c.pos;
    let init_start = c.i;
    let mut depth = 0;
    loop {
        match c.peek() {
            None => return Err(Diag::new(init_pos, "unterminated init block: missing '}'")),
            Some('{') => depth += 1,
            Some('}') if depth == 0 => break,
            Some('}') => depth -= 1,
            _ => {}
        }
        c.bump();
    }
    let init_text = &src[init_start..c.i];
    c.bump();
    let init = parse_init(arch, init_text, init_pos)?;

    // Program: up to the first keyword that starts the tail.
    let prog_pos = c.pos;
    let prog_start = c.i;
    let prog_end;
    loop {
        let r = c.rest();
        if r.is_empty() || (r.starts_with("<<") && c.pos.col == 1) {
            // No condition (herd7 then checks `forall (true)`).
            prog_end = c.i;
            break;
        }
        let at_word_start = c.i == 0 || {
            let prev = src[..c.i].chars().next_back().unwrap();
            !(prev.is_ascii_alphanumeric() || prev == '_')
        };
        if at_word_start && starts_tail(r) {
            prog_end = c.i;
            break;
        }
        if arch != Arch::C && r.starts_with("(*") {
            c.skip_comment()?;
            continue;
        }
        c.bump();
    }
    let prog_blanked;
    let prog = if arch == Arch::C {
        &src[prog_start..prog_end]
    } else {
        prog_blanked = blank_comments(&src[prog_start..prog_end]);
        prog_blanked.as_str()
    };
    let threads = if arch == Arch::C {
        let trimmed = prog.trim_start_matches(|ch: char| ch == ';' || ch.is_whitespace());
        let skipped = &prog[..prog.len() - trimmed.len()];
        let first_line = prog_pos.line + skipped.matches('\n').count() as u32;
        let lead = &prog[..prog.len() - trimmed.len()];
        let _ = lead;
        // Give the C front end whole lines so its columns match the file.
        let line_start = src[..prog_start + skipped.len()]
            .rfind('\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        front::c::lower_threads(&src[line_start..prog_end], first_line)?
    } else {
        parse_asm_threads(arch, prog, prog_pos)?
    };

    // Tail: locations, filter, condition.
    let mut locations = Vec::new();
    let mut filter = None;
    loop {
        c.skip_blanks();
        let r = c.rest();
        if r.starts_with("(*") {
            c.skip_comment()?;
        } else if r.starts_with("locations") {
            c.advance("locations".len());
            c.skip_blanks();
            let lpos = c.pos;
            if c.peek() != Some('[') {
                return Err(Diag::new(lpos, "expected '[' after 'locations'"));
            }
            let r = c.rest();
            let end = r
                .find(']')
                .ok_or_else(|| Diag::new(lpos, "unterminated 'locations [': missing ']'"))?;
            let body = &r[1..end];
            let mut p = lpos;
            p.col += 1;
            for item in body.split(';') {
                let t = item.trim();
                if !t.is_empty() {
                    locations.push(parse_lval(t, p)?);
                }
            }
            c.advance(end + 1);
        } else if r.starts_with("filter") {
            c.advance("filter".len());
            let (text, pos) = take_prop_text(&mut c);
            filter = Some(parse_prop(text, pos)?);
        } else {
            break;
        }
    }
    let condition_pos = c.pos;
    let r = c.rest();
    let (quantifier, kw_len) = if r.starts_with("exists") {
        (Quantifier::Exists, "exists".len())
    } else if r.starts_with("forall") {
        (Quantifier::Forall, "forall".len())
    } else if r.starts_with('~') {
        let after = r.strip_prefix('~').unwrap_or(r).trim_start();
        if !after.starts_with("exists") {
            return Err(Diag::new(c.pos, "expected 'exists' after '~'"));
        }
        (
            Quantifier::NotExists,
            r.len() - after.len() + "exists".len(),
        )
    } else if r.starts_with("final") {
        // herd7's older `final P; with kind: quantifier; ...` form: herd7
        // reads it as `exists P` (the `with` table is ignored).
        (Quantifier::Exists, "final".len())
    } else if r.trim_start().is_empty() || r.starts_with("<<") {
        // No condition: herd7 reads it as `forall (true)`.
        (Quantifier::Forall, 0)
    } else if r.starts_with("cases") || r.starts_with("observed") {
        return Err(Diag::new(
            c.pos,
            "unsupported condition keyword (loci reads 'exists', '~exists', 'forall' and 'final')",
        ));
    } else {
        return Err(Diag::new(
            c.pos,
            "missing final condition ('exists', '~exists' or 'forall')",
        ));
    };
    let condition = if kw_len == 0 {
        super::Prop::True
    } else {
        c.advance(kw_len);
        let (text, pos) = take_prop_text(&mut c);
        parse_prop(text, pos)?
    };

    check_threads_and_lvals(
        arch,
        &threads,
        &init,
        &locations,
        &condition,
        filter.as_ref(),
        condition_pos,
    )?;

    Ok(Test {
        arch,
        name,
        doc,
        info,
        init,
        threads,
        locations,
        filter,
        quantifier,
        condition,
        condition_pos,
    })
}

/// Replaces `(* ... *)` comments (nested) by spaces, keeping newlines so
/// that positions stay right.
fn blank_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with("(*") {
            depth += 1;
            out.push_str("  ");
            i += 2;
        } else if depth > 0 && s[i..].starts_with("*)") {
            depth -= 1;
            out.push_str("  ");
            i += 2;
        } else {
            let ch = s[i..].chars().next().unwrap();
            if depth > 0 && ch != '\n' {
                out.push(' ');
            } else {
                out.push(ch);
            }
            i += ch.len_utf8();
        }
        let _ = b;
    }
    out
}

fn starts_tail(r: &str) -> bool {
    let kw = |k: &str| {
        r.starts_with(k)
            && !r[k.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    kw("exists")
        || kw("forall")
        || kw("locations")
        || kw("filter")
        || kw("final")
        || kw("cases")
        || kw("observed")
        || (r.starts_with('~') && {
            let a = r[1..].trim_start();
            a.starts_with("exists")
        })
}

/// The text of a proposition: up to the next tail keyword or a `<<` block.
fn take_prop_text<'a>(c: &mut Cur<'a>) -> (&'a str, Pos) {
    c.skip_blanks();
    let pos = c.pos;
    let r = c.rest();
    let mut end = r.len();
    // herd7 reads nothing after the condition's `;` (comments, `<< >>`).
    for stop in [
        ";",
        "<<",
        "\nwith",
        "\nexists",
        "\n~exists",
        "\nforall",
        "\nlocations",
        "\nfilter",
    ] {
        if let Some(i) = r.find(stop) {
            end = end.min(i);
        }
    }
    // `filter` is followed by the condition on a later line: stop there.
    c.advance(end);
    (&r[..end], pos)
}

/// Splits the thread table into columns and lowers each.
fn parse_asm_threads(arch: Arch, prog: &str, start: Pos) -> Result<Vec<Thread>, Diag> {
    // Rows end with ';'. Each row is a list of cells separated by '|'.
    let mut rows: Vec<Vec<SrcLine>> = Vec::new();
    let mut pos = start;
    let mut row: Vec<SrcLine> = Vec::new();
    let mut cell = String::new();
    let mut cell_pos: Option<Pos> = None;
    let chars = prog.chars();
    let flush = |cell: &mut String, cell_pos: &mut Option<Pos>, row: &mut Vec<SrcLine>, at: Pos| {
        let text = cell.trim().to_string();
        let p = cell_pos.unwrap_or(at);
        row.push(SrcLine { text, pos: p });
        cell.clear();
        *cell_pos = None;
    };
    for ch in chars {
        let here = pos;
        if ch == '\n' {
            pos.line += 1;
            pos.col = 1;
        } else {
            pos.col += 1;
        }
        match ch {
            '|' => flush(&mut cell, &mut cell_pos, &mut row, here),
            ';' => {
                flush(&mut cell, &mut cell_pos, &mut row, here);
                rows.push(std::mem::take(&mut row));
            }
            _ => {
                if !ch.is_whitespace() && cell_pos.is_none() {
                    cell_pos = Some(here);
                }
                cell.push(ch);
            }
        }
    }
    if !cell.trim().is_empty() {
        return Err(Diag::new(
            cell_pos.unwrap_or(pos),
            "thread table row does not end with ';'",
        ));
    }
    // Empty rows (a stray `;` after the init block) carry nothing.
    let mut rows = rows
        .into_iter()
        .filter(|r| r.iter().any(|c| !c.text.is_empty()));
    let header = rows
        .next()
        .ok_or_else(|| Diag::new(start, "missing thread table (expected 'P0 | P1 ... ;')"))?;
    let mut names = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let expect = format!("P{i}");
        if h.text != expect {
            return Err(Diag::new(
                h.pos,
                format!(
                    "expected thread name '{expect}' in the table header, found '{}'",
                    h.text
                ),
            ));
        }
        names.push(h.text.clone());
    }
    let mut cols: Vec<Vec<SrcLine>> = vec![Vec::new(); names.len()];
    for row in rows {
        if row.len() > names.len() {
            return Err(Diag::new(
                row[names.len()].pos,
                format!(
                    "row has {} cells but the table has {} threads",
                    row.len(),
                    names.len()
                ),
            ));
        }
        for (i, cell) in row.into_iter().enumerate() {
            if !cell.text.is_empty() {
                cols[i].push(cell);
            }
        }
    }
    names
        .iter()
        .enumerate()
        .map(|(i, n)| front::lower_asm_thread(arch, i, n, &cols[i]))
        .collect()
}

/// Parses the init block: items separated by `;` (or newlines), each
/// `[TYPE] LVAL [= VALUE]`.
fn parse_init(arch: Arch, text: &str, start: Pos) -> Result<Vec<InitItem>, Diag> {
    let mut out: Vec<InitItem> = Vec::new();
    let mut pos = start;
    let mut item = String::new();
    let mut item_pos = None;
    let mut items = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        let here = pos;
        if ch == '\n' {
            pos.line += 1;
            pos.col = 1;
        } else {
            pos.col += 1;
        }
        if ch == '(' && chars.peek() == Some(&'*') {
            // comment
            let mut depth = 1;
            chars.next();
            pos.col += 1;
            let mut prev = ' ';
            for ch2 in chars.by_ref() {
                if ch2 == '\n' {
                    pos.line += 1;
                    pos.col = 1;
                } else {
                    pos.col += 1;
                }
                if prev == '*' && ch2 == ')' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                if prev == '(' && ch2 == '*' {
                    depth += 1;
                }
                prev = ch2;
            }
            continue;
        }
        if ch == ';' || ch == '\n' {
            if !item.trim().is_empty() {
                items.push((item.trim().to_string(), item_pos.unwrap_or(here)));
            }
            item.clear();
            item_pos = None;
        } else {
            if !ch.is_whitespace() && item_pos.is_none() {
                item_pos = Some(here);
            }
            item.push(ch);
        }
    }
    if !item.trim().is_empty() {
        items.push((item.trim().to_string(), item_pos.unwrap_or(pos)));
    }
    for (text, p) in items {
        let (lhs, rhs) = match text.split_once('=') {
            Some((l, r)) => (l.trim(), Some(r.trim())),
            None => (text.as_str(), None),
        };
        // The lval is the last word of the left side; what precedes is a type.
        let (ty, lv) = match lhs
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_whitespace() || c == '*')
        {
            // Split after that character (which may be several bytes long).
            Some((i, c)) => {
                let (t, l) = lhs.split_at(i + c.len_utf8());
                (Some(t.trim().to_string()), l.trim())
            }
            None => (None, lhs),
        };
        if lv.is_empty() {
            return Err(Diag::new(p, format!("bad init item '{text}'")));
        }
        // `TYPE x[N]` declares an array location.
        let (lv, array) = match lv.find('[') {
            Some(i) if lv.ends_with(']') && i > 0 && !lv.starts_with('[') => {
                (&lv[..i], Some(&lv[i..]))
            }
            _ => (lv, None),
        };
        let ty = match (ty, array) {
            (Some(t), Some(a)) => Some(format!("{t}{a}")),
            (None, Some(a)) => return Err(Diag::new(p, format!("array '{lv}{a}' needs a type"))),
            (t, None) => t,
        };
        let rhs = match rhs {
            Some(r) if r.starts_with('{') => {
                let inner = r.trim_start_matches('{').trim_end_matches('}');
                if inner.split(',').all(|x| matches!(x.trim(), "0" | "")) {
                    None
                } else {
                    return Err(Diag::new(
                        p,
                        format!("array initialiser '{r}' with non-zero elements is not supported"),
                    ));
                }
            }
            r => r,
        };
        let lval = match parse_lval(lv, p)? {
            LVal::Reg { thread, reg } => {
                let canon = front::canonical_reg(arch, &reg).ok_or_else(|| {
                    Diag::new(p, format!("'{reg}' is not a {} register", arch.herd_name()))
                })?;
                LVal::Reg { thread, reg: canon }
            }
            l => l,
        };
        let value = match rhs {
            Some(v) if !v.is_empty() => Some(parse_value(v, p)?),
            Some(_) => return Err(Diag::new(p, format!("missing value in init item '{text}'"))),
            None => None,
        };
        if value.is_none() && ty.is_none() && rhs.is_some() {
            return Err(Diag::new(p, format!("missing value in init item '{text}'")));
        }
        if value.is_none() && ty.is_none() {
            return Err(Diag::new(
                p,
                format!("init item '{text}' has neither a type nor a value"),
            ));
        }
        // A later item for the same lval (e.g. a type then a value) merges.
        if let Some(prev) = out.iter_mut().find(|i| i.lval == lval) {
            if value.is_some() {
                prev.value = value;
            }
            if ty.is_some() {
                prev.ty = ty;
            }
            continue;
        }
        out.push(InitItem {
            lval,
            ty: ty.filter(|t| !t.is_empty()),
            value,
            pos: p,
        });
    }
    Ok(out)
}

/// Checks that every register and thread named in the init block, the
/// observed locations and the condition exists.
fn check_threads_and_lvals(
    arch: Arch,
    threads: &[Thread],
    init: &[InitItem],
    locations: &[LVal],
    condition: &super::Prop,
    filter: Option<&super::Prop>,
    cond_pos: Pos,
) -> Result<(), Diag> {
    let check = |l: &LVal, p: Pos| -> Result<(), Diag> {
        if let LVal::Reg { thread, reg } = l {
            if *thread >= threads.len() {
                return Err(Diag::new(
                    p,
                    format!(
                        "'{l}' names thread {thread}, but the test has {} threads",
                        threads.len()
                    ),
                ));
            }
            if front::canonical_reg(arch, reg).is_none() {
                return Err(Diag::new(
                    p,
                    format!("'{reg}' is not a {} register", arch.herd_name()),
                ));
            }
        }
        Ok(())
    };
    for i in init {
        check(&i.lval, i.pos)?;
    }
    let mut ls = locations.to_vec();
    condition.lvals(&mut ls);
    if let Some(f) = filter {
        f.lvals(&mut ls);
    }
    for l in &ls {
        check(l, cond_pos)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// Found by the `litmus_parse` fuzz target: a multi-byte whitespace
    /// character (U+0085) in an init item split a string inside a char.
    #[test]
    fn regression_multibyte_whitespace_in_init() {
        let src = "AArch64 T\n{ 1:X\u{85}7=1; }\n P0 | P1 ;\n NOP | NOP ;\nexists (x=1)\n";
        assert!(parse("t.litmus", src).is_err());
        let src = "AArch64 T\n{ int\u{85}x=1; }\n P0 ;\n NOP ;\nexists (x=1)\n";
        let t = parse("t.litmus", src).unwrap();
        assert_eq!(t.init[0].ty.as_deref(), Some("int"));
    }
}
