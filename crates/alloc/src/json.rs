//! A small JSON reader (RFC 8259) that remembers where each value starts,
//! so that placement-plan errors can name a line and column.
//!
//! Used only at start-up (reading `LOCI_PLACEMENT`) and by the
//! profile-to-plan conversion; it allocates with the ordinary allocator.
//! Nesting is limited to `MAX_DEPTH` levels so that hostile input cannot
//! overflow the stack.

use std::fmt;

/// Deepest nesting of arrays and objects accepted.
const MAX_DEPTH: usize = 64;

/// A position in the text: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, counted in characters.
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A JSON value and the position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub kind: Kind,
}

/// The kinds of JSON values. Numbers keep their source text so that
/// integers of any size are read exactly.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: keys (with their positions) and values, in source order.
    Object(Vec<(String, Pos, Value)>),
}

impl Kind {
    /// The JSON type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }
}

/// A syntax error: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the error was found.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// Parse a whole JSON document.
pub fn parse(text: &str) -> Result<Value, SyntaxError> {
    let mut p = Parser {
        chars: text.char_indices().peekable(),
        pos: Pos { line: 1, col: 1 },
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if let Some(c) = p.peek() {
        return Err(p.error(format!("unexpected {} after the JSON value", describe(c))));
    }
    Ok(v)
}

fn describe(c: char) -> String {
    if c.is_control() {
        format!("character U+{:04X}", c as u32)
    } else {
        format!("'{c}'")
    }
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    pos: Pos,
}

impl Parser<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            pos: self.pos,
            message,
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn expect(&mut self, want: char) -> Result<(), SyntaxError> {
        match self.peek() {
            Some(c) if c == want => {
                self.bump();
                Ok(())
            }
            Some(c) => Err(self.error(format!("expected '{want}', found {}", describe(c)))),
            None => Err(self.error(format!("expected '{want}', found the end of the file"))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        let pos = self.pos;
        let kind = match self.peek() {
            None => return Err(self.error("expected a value, found the end of the file".into())),
            Some('{') => self.object(depth)?,
            Some('[') => self.array(depth)?,
            Some('"') => Kind::String(self.string()?),
            Some('t') => self.word("true", Kind::Bool(true))?,
            Some('f') => self.word("false", Kind::Bool(false))?,
            Some('n') => self.word("null", Kind::Null)?,
            Some(c) if c == '-' || c.is_ascii_digit() => Kind::Number(self.number()?),
            Some(c) => return Err(self.error(format!("expected a value, found {}", describe(c)))),
        };
        Ok(Value { pos, kind })
    }

    fn word(&mut self, w: &str, kind: Kind) -> Result<Kind, SyntaxError> {
        let start = self.pos;
        for want in w.chars() {
            if self.peek() != Some(want) {
                return Err(SyntaxError {
                    pos: start,
                    message: format!("expected a value (did you mean `{w}`?)"),
                });
            }
            self.bump();
        }
        Ok(kind)
    }

    fn number(&mut self) -> Result<String, SyntaxError> {
        let mut s = String::new();
        if self.peek() == Some('-') {
            s.push('-');
            self.bump();
        }
        let digits = |p: &mut Self, s: &mut String| -> usize {
            let mut n = 0;
            while let Some(c) = p.peek().filter(|c| c.is_ascii_digit()) {
                s.push(c);
                p.bump();
                n += 1;
            }
            n
        };
        let first = self.peek();
        let n = digits(self, &mut s);
        if n == 0 {
            return Err(self.error("expected a digit".into()));
        }
        if first == Some('0') && n > 1 {
            return Err(self.error("a number must not have leading zeros".into()));
        }
        if self.peek() == Some('.') {
            s.push('.');
            self.bump();
            if digits(self, &mut s) == 0 {
                return Err(self.error("expected a digit after '.'".into()));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            s.push('e');
            self.bump();
            if let Some(c @ ('+' | '-')) = self.peek() {
                s.push(c);
                self.bump();
            }
            if digits(self, &mut s) == 0 {
                return Err(self.error("expected a digit in the exponent".into()));
            }
        }
        Ok(s)
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0;
        for _ in 0..4 {
            match self.peek().and_then(|c| c.to_digit(16)) {
                Some(d) => {
                    v = v * 16 + d;
                    self.bump();
                }
                None => return Err(self.error("expected 4 hexadecimal digits after \\u".into())),
            }
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.expect('"')?;
        let mut s = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => return Err(self.error("unterminated string".into())),
                Some('"') => return Ok(s),
                Some('\\') => {
                    let c = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if self.peek() != Some('\\') {
                                    return Err(self.error(
                                        "a high surrogate must be followed by \\u and a low surrogate".into(),
                                    ));
                                }
                                self.bump();
                                if self.peek() != Some('u') {
                                    return Err(self.error(
                                        "a high surrogate must be followed by \\u and a low surrogate".into(),
                                    ));
                                }
                                self.bump();
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.error("invalid low surrogate".into()));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(c) => c,
                                None => {
                                    return Err(SyntaxError {
                                        pos: at,
                                        message: "lone surrogate in \\u escape".into(),
                                    })
                                }
                            }
                        }
                        Some(c) => {
                            return Err(SyntaxError {
                                pos: at,
                                message: format!("invalid escape \\{c}"),
                            })
                        }
                        None => return Err(self.error("unterminated string".into())),
                    };
                    s.push(c);
                }
                Some(c) if (c as u32) < 0x20 => {
                    return Err(SyntaxError {
                        pos: at,
                        message: format!("{} inside a string (escape it)", describe(c)),
                    })
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.expect('[')?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.bump();
            return Ok(Kind::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {
                    self.bump();
                    return Ok(Kind::Array(items));
                }
                Some(c) => {
                    return Err(self.error(format!("expected ',' or ']', found {}", describe(c))))
                }
                None => {
                    return Err(self.error("expected ',' or ']', found the end of the file".into()))
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.expect('{')?;
        let mut members: Vec<(String, Pos, Value)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.bump();
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_ws();
            let kpos = self.pos;
            if self.peek() != Some('"') {
                return Err(match self.peek() {
                    Some(c) => self.error(format!("expected a key string, found {}", describe(c))),
                    None => self.error("expected a key string, found the end of the file".into()),
                });
            }
            let key = self.string()?;
            if members.iter().any(|(k, _, _)| *k == key) {
                return Err(SyntaxError {
                    pos: kpos,
                    message: format!("duplicate key \"{key}\""),
                });
            }
            self.skip_ws();
            self.expect(':')?;
            self.skip_ws();
            let v = self.value(depth + 1)?;
            members.push((key, kpos, v));
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {
                    self.bump();
                    return Ok(Kind::Object(members));
                }
                Some(c) => {
                    return Err(self.error(format!("expected ',' or '}}', found {}", describe(c))))
                }
                None => {
                    return Err(self.error("expected ',' or '}', found the end of the file".into()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, usize, String) {
        let e = parse(text).unwrap_err();
        (e.pos.line, e.pos.col, e.message)
    }

    #[test]
    fn parses_every_kind_with_positions() {
        let v = parse("{\n  \"a\": [1, -2.5e3, true, null],\n  \"b\": \"x\\u00e9\\n\"\n}").unwrap();
        let Kind::Object(m) = v.kind else { panic!() };
        assert_eq!(m[0].0, "a");
        assert_eq!(m[0].1, Pos { line: 2, col: 3 });
        let Kind::Array(items) = &m[0].2.kind else {
            panic!()
        };
        assert_eq!(items[1].kind, Kind::Number("-2.5e3".into()));
        assert_eq!(items[1].pos, Pos { line: 2, col: 12 });
        assert_eq!(items[2].kind, Kind::Bool(true));
        assert_eq!(items[3].kind, Kind::Null);
        assert_eq!(m[1].2.kind, Kind::String("xé\n".into()));
        assert_eq!(
            parse("\"\\ud83d\\ude00\"").unwrap().kind,
            Kind::String("😀".into())
        );
    }

    #[test]
    fn errors_name_line_column_and_problem() {
        assert_eq!(
            err("{\"a\": 1,}"),
            (1, 9, "expected a key string, found '}'".into())
        );
        assert_eq!(
            err("[1 2]"),
            (1, 4, "expected ',' or ']', found '2'".into())
        );
        assert_eq!(
            err("{\n \"a\": tru }"),
            (2, 7, "expected a value (did you mean `true`?)".into())
        );
        assert_eq!(
            err("{\"a\": 1, \"a\": 2}"),
            (1, 10, "duplicate key \"a\"".into())
        );
        assert_eq!(err("\"abc"), (1, 5, "unterminated string".into()));
        assert_eq!(
            err("01"),
            (1, 3, "a number must not have leading zeros".into())
        );
        assert_eq!(
            err("{} x"),
            (1, 4, "unexpected 'x' after the JSON value".into())
        );
        assert_eq!(
            err(""),
            (1, 1, "expected a value, found the end of the file".into())
        );
        assert_eq!(
            err("\"\\ud800\""),
            (
                1,
                8,
                "a high surrogate must be followed by \\u and a low surrogate".into()
            )
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        let (line, _, msg) = err(&deep);
        assert_eq!(line, 1);
        assert_eq!(msg, format!("nesting deeper than {MAX_DEPTH} levels"));
    }
}
