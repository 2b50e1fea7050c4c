//! Tokens of the C subset used by litmus tests, with file positions.

use crate::ir::Pos;
use crate::litmus::Diag;

/// A token kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    /// An identifier or keyword.
    Ident(String),
    /// An integer literal (suffixes such as `u`/`L` are accepted and dropped).
    Int(i64),
    /// An operator or punctuation mark.
    Punct(&'static str),
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is shown in messages.
    pub(super) fn show(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Int(v) => format!("'{v}'"),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: Pos,
}

/// Longest first, so that `<<=` wins over `<<` and `<`.
const PUNCTS: [&str; 46] = [
    "<<=", ">>=", "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "+=", "-=", "*=", "/=", "%=",
    "|=", "&=", "^=", "++", "--", "->", "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", "<", ">",
    "=", "(", ")", "{", "}", "[", "]", ",", ";", "?", ":", ".", "#",
];

/// Splits `src` (whose first line is line `first_line` of the file) into
/// tokens, skipping blanks and `//` / `/* */` comments. The last token is
/// [`Tok::Eof`].
pub(super) fn lex(src: &str, first_line: u32) -> Result<Vec<Token>, Diag> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut line = first_line;
    let mut col = 1u32;
    // Advances over `n` characters, keeping line and column.
    let advance = |i: &mut usize, line: &mut u32, col: &mut u32, n: usize| {
        for _ in 0..n {
            if *i >= chars.len() {
                return;
            }
            if chars[*i] == '\n' {
                *line = line.saturating_add(1);
                *col = 1;
            } else {
                *col = col.saturating_add(1);
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col };
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, 1);
            continue;
        }
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, &mut line, &mut col, 1);
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            advance(&mut i, &mut line, &mut col, 2);
            loop {
                if i >= chars.len() {
                    return Err(Diag::new(pos, "unterminated comment '/*'"));
                }
                if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    advance(&mut i, &mut line, &mut col, 2);
                    break;
                }
                advance(&mut i, &mut line, &mut col, 1);
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                advance(&mut i, &mut line, &mut col, 1);
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                pos,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                advance(&mut i, &mut line, &mut col, 1);
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Token {
                tok: Tok::Int(
                    parse_int(&text)
                        .ok_or_else(|| Diag::new(pos, format!("bad integer literal '{text}'")))?,
                ),
                pos,
            });
            continue;
        }
        let rest = &chars[i..];
        let p = PUNCTS.iter().find(|p| {
            let n = p.chars().count();
            rest.len() >= n && p.chars().zip(rest.iter()).all(|(a, b)| a == *b)
        });
        match p {
            Some(p) => {
                out.push(Token {
                    tok: Tok::Punct(p),
                    pos,
                });
                advance(&mut i, &mut line, &mut col, p.chars().count());
            }
            None => {
                return Err(Diag::new(
                    pos,
                    format!("unexpected character '{}'", c.escape_default()),
                ))
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: Pos { line, col },
    });
    Ok(out)
}

/// Decimal, hexadecimal (`0x`) or octal (leading `0`) literal with optional
/// `u`/`l` suffixes; `None` when malformed or out of the `i64` range.
fn parse_int(text: &str) -> Option<i64> {
    let body = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (h, 16)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    if digits.is_empty() || digits.contains('_') {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()?;
    i64::try_from(v).ok()
}
