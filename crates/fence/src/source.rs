//! Splitting assembly text into statements: labels, directives and
//! instructions, each with its line and byte range so a rewrite can replace
//! exactly one statement and keep every other byte of the file.
//!
//! GNU as syntax: `;` separates statements on one line; comments are
//! `/* ... */` (may span lines) and a line comment — `//` on AArch64 (and
//! `#` at the start of a line), `#` on x86-64. Quoted strings are skipped.

use crate::arch::Arch;

/// What a statement is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind<'a> {
    /// `name:`
    Label(&'a str),
    /// `.name args`
    Directive(&'a str, &'a str),
    /// `mnemonic operands`
    Insn(&'a str, &'a str),
}

/// One statement of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt<'a> {
    /// 0-based line index.
    pub line: u32,
    /// Byte range of the statement's text within its line.
    pub start: u32,
    /// End of that range (exclusive).
    pub end: u32,
    /// What it is.
    pub kind: StmtKind<'a>,
    /// Its address, in `objdump -d` input (for labels: the function's).
    pub addr: Option<u64>,
}

/// A parsed file: its lines and statements.
#[derive(Debug)]
pub struct Source<'a> {
    /// The lines, without their terminators.
    pub lines: Vec<&'a str>,
    /// The statements, in order.
    pub stmts: Vec<Stmt<'a>>,
    /// Whether the text ended with a newline.
    pub trailing_newline: bool,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'.' || b == b'$'
}

impl<'a> Source<'a> {
    /// The text of statement `i`, as written.
    pub fn text(&self, i: usize) -> &'a str {
        let s = &self.stmts[i];
        &self.lines[s.line as usize][s.start as usize..s.end as usize]
    }
}

/// Whether `b` may appear inside a symbol name.
pub fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$' || b == b'@'
}

/// The lines of `text` (without `\n` or `\r\n`), and whether it ended
/// with a newline.
fn lines_of(text: &str) -> (Vec<&str>, bool) {
    let trailing_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines = if text.is_empty() {
        Vec::new()
    } else {
        body.split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect()
    };
    (lines, trailing_newline)
}

/// Splits `text` into statements under `arch`'s comment syntax.
pub fn split(text: &str, arch: Arch) -> Source<'_> {
    let (lines, trailing_newline) = lines_of(text);
    let mut stmts = Vec::with_capacity(lines.len());
    let mut in_block_comment = false;
    for (li, line) in lines.iter().enumerate() {
        split_line(li as u32, line, arch, &mut in_block_comment, &mut stmts);
    }
    Source {
        lines,
        stmts,
        trailing_newline,
    }
}

fn split_line<'a>(
    li: u32,
    line: &'a str,
    arch: Arch,
    in_block: &mut bool,
    out: &mut Vec<Stmt<'a>>,
) {
    let b = line.as_bytes();
    let mut i = 0;
    let mut seg_start = 0;
    let mut in_str = false;
    // Byte ranges of code (outside comments), split at `;`.
    let flush = |from: usize, to: usize, out: &mut Vec<Stmt<'a>>| {
        parse_stmt(li, line, from, to, out);
    };
    if !*in_block {
        let t = line.trim_start();
        // A line starting with `#` is a comment (preprocessor line marker)
        // for both assemblers.
        if t.starts_with('#') {
            return;
        }
    }
    while i < b.len() {
        if *in_block {
            if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                *in_block = false;
                i += 2;
                seg_start = i;
            } else {
                i += 1;
            }
            continue;
        }
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                flush(seg_start, i, out);
                *in_block = true;
                i += 2;
            }
            b'/' if b.get(i + 1) == Some(&b'/') && arch == Arch::Aarch64 => {
                flush(seg_start, i, out);
                return;
            }
            b'#' if arch == Arch::X86_64 => {
                flush(seg_start, i, out);
                return;
            }
            b';' => {
                flush(seg_start, i, out);
                i += 1;
                seg_start = i;
            }
            _ => i += 1,
        }
    }
    if !*in_block {
        flush(seg_start, b.len(), out);
    }
}

fn parse_stmt<'a>(li: u32, line: &'a str, from: usize, to: usize, out: &mut Vec<Stmt<'a>>) {
    let mut s = from;
    let b = line.as_bytes();
    loop {
        while s < to && b[s].is_ascii_whitespace() {
            s += 1;
        }
        if s >= to {
            return;
        }
        // Labels: `ident:` or `123:`.
        let mut j = s;
        if is_ident_start(b[j]) || b[j].is_ascii_digit() {
            while j < to && is_ident_char(b[j]) {
                j += 1;
            }
            if j < to && b[j] == b':' && (j + 1 >= to || b[j + 1] != b':') {
                out.push(Stmt {
                    line: li,
                    start: s as u32,
                    end: (j + 1) as u32,
                    kind: StmtKind::Label(&line[s..j]),
                    addr: None,
                });
                s = j + 1;
                continue;
            }
        }
        break;
    }
    let mut e = to;
    while e > s && b[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    let text = &line[s..e];
    let (word, rest) = match text.find(|c: char| c.is_ascii_whitespace()) {
        Some(k) => (&text[..k], text[k..].trim()),
        None => (text, ""),
    };
    let kind = if word.starts_with('.') {
        StmtKind::Directive(word, rest)
    } else {
        StmtKind::Insn(word, rest)
    };
    out.push(Stmt {
        line: li,
        start: s as u32,
        end: e as u32,
        kind,
        addr: None,
    });
}

/// Whether `text` looks like `objdump -d` output.
pub fn is_objdump(text: &str) -> bool {
    text.lines()
        .take(50)
        .any(|l| l.contains("file format ") || l.starts_with("Disassembly of section"))
}

/// Splits `objdump -d` output: `ADDR <sym>:` headers become labels, each
/// `  ADDR:\tBYTES \tmnemonic\toperands` line an instruction with its
/// address. Relocation lines, byte-only continuation lines and `...` are
/// skipped.
pub fn split_objdump(text: &str, arch: Arch) -> Source<'_> {
    let (lines, trailing_newline) = lines_of(text);
    let mut stmts = Vec::with_capacity(lines.len());
    for (li, line) in lines.iter().enumerate() {
        let li = li as u32;
        let t = line.trim_start();
        let off = line.len() - t.len();
        // `0000000000000754 <main>:`
        if let Some((addr, rest)) = t.split_once(' ') {
            if let (Ok(a), Some(name)) = (
                u64::from_str_radix(addr, 16),
                rest.strip_prefix('<').and_then(|r| r.strip_suffix(">:")),
            ) {
                let start = off + addr.len() + 2;
                stmts.push(Stmt {
                    line: li,
                    start: start as u32,
                    end: (start + name.len()) as u32,
                    kind: StmtKind::Label(name),
                    addr: Some(a),
                });
                continue;
            }
        }
        let Some((addr, rest)) = t.split_once(':') else {
            continue;
        };
        let Ok(a) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        let mut parts = rest.split('\t').filter(|p| !p.trim().is_empty());
        let Some(bytes) = parts.next() else { continue };
        if bytes.trim_start().starts_with("R_") {
            continue;
        }
        let Some(first) = parts.next() else { continue };
        // The instruction text runs from `first` to the end of the line.
        let istart = first.as_ptr() as usize - line.as_ptr() as usize;
        let mut insn = &line[istart..];
        let cut = match arch {
            Arch::Aarch64 => insn.find("//"),
            Arch::X86_64 => insn.find('#'),
        };
        if let Some(c) = cut {
            insn = &insn[..c];
        }
        let insn = insn.trim_end();
        let (m, ops) = match insn.find(|c: char| c.is_ascii_whitespace()) {
            Some(k) => (&insn[..k], insn[k..].trim()),
            None => (insn, ""),
        };
        if m.is_empty() || m == "(bad)" {
            stmts.push(Stmt {
                line: li,
                start: istart as u32,
                end: (istart + insn.len()) as u32,
                kind: StmtKind::Insn("(bad)", ""),
                addr: Some(a),
            });
            continue;
        }
        stmts.push(Stmt {
            line: li,
            start: istart as u32,
            end: (istart + insn.len()) as u32,
            kind: StmtKind::Insn(m, ops),
            addr: Some(a),
        });
    }
    Source {
        lines,
        stmts,
        trailing_newline,
    }
}

/// Splits an operand list at top-level commas (not inside `[]`, `{}`, `()`).
pub fn operands(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'[' | b'{' | b'(' => depth += 1,
            b']' | b'}' | b')' => depth -= 1,
            b',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s[start..].trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, arch: Arch) -> Vec<StmtKind<'_>> {
        split(text, arch)
            .stmts
            .into_iter()
            .map(|s| s.kind)
            .collect()
    }

    #[test]
    fn labels_directives_instructions_and_comments() {
        let k = kinds(
            "foo:\n\t.type foo, %function\n.L2: dmb ish // why\n\tstr w0, [x1] ; ldr w2, [x3]\n/* a\n dmb ish */ nop\n# 1 \"x.c\"\n",
            Arch::Aarch64,
        );
        assert_eq!(
            k,
            vec![
                StmtKind::Label("foo"),
                StmtKind::Directive(".type", "foo, %function"),
                StmtKind::Label(".L2"),
                StmtKind::Insn("dmb", "ish"),
                StmtKind::Insn("str", "w0, [x1]"),
                StmtKind::Insn("ldr", "w2, [x3]"),
                StmtKind::Insn("nop", ""),
            ]
        );
    }

    #[test]
    fn x86_hash_comments_and_strings() {
        let k = kinds(
            "\tmfence # fence\n\t.string \"a;b#c\"\n1:\tlock; addl $0, (%rsp)\n",
            Arch::X86_64,
        );
        assert_eq!(
            k,
            vec![
                StmtKind::Insn("mfence", ""),
                StmtKind::Directive(".string", "\"a;b#c\""),
                StmtKind::Label("1"),
                StmtKind::Insn("lock", ""),
                StmtKind::Insn("addl", "$0, (%rsp)"),
            ]
        );
    }

    #[test]
    fn operand_split_respects_brackets() {
        assert_eq!(operands("w0, [x1, #8]!"), vec!["w0", "[x1, #8]!"]);
        assert_eq!(
            operands("{v0.16b, v1.16b}, [x0]"),
            vec!["{v0.16b, v1.16b}", "[x0]"]
        );
        assert_eq!(
            operands("(%rax,%rbx,4), %ecx"),
            vec!["(%rax,%rbx,4)", "%ecx"]
        );
        assert!(operands("").is_empty());
    }

    #[test]
    fn objdump_lines() {
        let text = "a.out:     file format elf64-littleaarch64\n\nDisassembly of section .text:\n\n0000000000000754 <main>:\n 754:\td5033bbf \tdmb\tish\n 758:\tb4000040 \tcbz\tx0, 764 <main+0x10>\n 75c:\td2800000 \tmov\tx0, #0x0                   \t// #0\n";
        assert!(is_objdump(text));
        let src = split_objdump(text, Arch::Aarch64);
        let k: Vec<_> = src.stmts.iter().map(|s| (s.kind.clone(), s.addr)).collect();
        assert_eq!(
            k,
            vec![
                (StmtKind::Label("main"), Some(0x754)),
                (StmtKind::Insn("dmb", "ish"), Some(0x754)),
                (StmtKind::Insn("cbz", "x0, 764 <main+0x10>"), Some(0x758)),
                (StmtKind::Insn("mov", "x0, #0x0"), Some(0x75c)),
            ]
        );
        let x = "f.o:     file format elf64-x86-64\n0000000000401126 <f>:\n  401126:\t0f ae f0             \tmfence\n  401129:\tf0 48 0f b1 11       \tlock cmpxchg %rdx,(%rcx)\n  40112e:\t48 8d 3d cf 0e 00 00 \tlea    0xecf(%rip),%rdi        # 402004 <x>\n";
        let src = split_objdump(x, Arch::X86_64);
        let k: Vec<_> = src.stmts.iter().map(|s| s.kind.clone()).collect();
        assert_eq!(
            k,
            vec![
                StmtKind::Label("f"),
                StmtKind::Insn("mfence", ""),
                StmtKind::Insn("lock", "cmpxchg %rdx,(%rcx)"),
                StmtKind::Insn("lea", "0xecf(%rip),%rdi"),
            ]
        );
    }

    #[test]
    fn byte_ranges_point_at_the_statement() {
        let src = split("  dmb ish ; dmb ishst\n", Arch::Aarch64);
        let l = src.lines[0];
        let r: Vec<&str> = src
            .stmts
            .iter()
            .map(|s| &l[s.start as usize..s.end as usize])
            .collect();
        assert_eq!(r, vec!["dmb ish", "dmb ishst"]);
    }
}
