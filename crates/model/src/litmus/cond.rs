//! Propositions of final conditions and filters:
//! `~`/`not`, `/\`, `\/`, `=>`, `true`, `false`, parentheses, and atoms
//! `lval = value`, `lval != value`, `lval = lval`, where an lval is
//! `N:REG`, `PN:REG`, `x` or `[x]` and a value an integer (decimal, hex,
//! negative) or a location name (its address).

use super::{Diag, LVal, Prop};
use crate::ir::{Pos, Value};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Implies,
    Eq,
    Ne,
    Word(String),
    True,
    False,
}

struct Lexer<'a> {
    chars: Vec<char>,
    i: usize,
    pos: Pos,
    _src: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str, pos: Pos) -> Self {
        Lexer {
            chars: src.chars().collect(),
            i: 0,
            pos,
            _src: src,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = *self.chars.get(self.i)?;
        self.i += 1;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn tokens(mut self) -> Result<Vec<(Tok, Pos)>, Diag> {
        let mut out = Vec::new();
        loop {
            while matches!(self.peek(0), Some(c) if c.is_whitespace()) {
                self.bump();
            }
            if self.peek(0) == Some('(') && self.peek(1) == Some('*') {
                self.skip_comment()?;
                continue;
            }
            let pos = self.pos;
            let Some(c) = self.peek(0) else { break };
            let two: String = [c, self.peek(1).unwrap_or(' ')].iter().collect();
            let tok = match two.as_str() {
                "/\\" => {
                    self.bump();
                    self.bump();
                    Tok::And
                }
                "\\/" => {
                    self.bump();
                    self.bump();
                    Tok::Or
                }
                "=>" => {
                    self.bump();
                    self.bump();
                    Tok::Implies
                }
                "!=" | "<>" => {
                    self.bump();
                    self.bump();
                    Tok::Ne
                }
                "==" => {
                    self.bump();
                    self.bump();
                    Tok::Eq
                }
                _ => match c {
                    '(' => {
                        self.bump();
                        Tok::LParen
                    }
                    ')' => {
                        self.bump();
                        Tok::RParen
                    }
                    '~' => {
                        self.bump();
                        Tok::Not
                    }
                    '=' => {
                        self.bump();
                        Tok::Eq
                    }
                    ';' => {
                        // A trailing `;` ends the condition.
                        self.bump();
                        continue;
                    }
                    c if is_word_char(c) || c == '[' || c == '-' => {
                        let mut w = String::new();
                        while let Some(c) = self.peek(0) {
                            if is_word_char(c) || c == '[' || c == ']' || c == ':' || c == '-' {
                                w.push(c);
                                self.bump();
                            } else {
                                break;
                            }
                        }
                        match w.as_str() {
                            "not" => Tok::Not,
                            "true" => Tok::True,
                            "false" => Tok::False,
                            _ => Tok::Word(w),
                        }
                    }
                    c => {
                        return Err(Diag::new(
                            pos,
                            format!("unexpected character '{c}' in condition"),
                        ))
                    }
                },
            };
            out.push((tok, pos));
        }
        Ok(out)
    }

    fn skip_comment(&mut self) -> Result<(), Diag> {
        let start = self.pos;
        let mut depth = 0;
        while let Some(c) = self.peek(0) {
            if c == '(' && self.peek(1) == Some('*') {
                depth += 1;
                self.bump();
                self.bump();
            } else if c == '*' && self.peek(1) == Some(')') {
                depth -= 1;
                self.bump();
                self.bump();
                if depth == 0 {
                    return Ok(());
                }
            } else {
                self.bump();
            }
        }
        Err(Diag::new(start, "unterminated comment"))
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '+' || c == '$' || c == '%'
}

/// Parses an lval: `N:REG`, `PN:REG`, `x`, `[x]`.
pub fn parse_lval(w: &str, pos: Pos) -> Result<LVal, Diag> {
    if let Some((t, r)) = w.split_once(':') {
        let t = t.strip_prefix('P').unwrap_or(t);
        let thread: usize = t
            .parse()
            .map_err(|_| Diag::new(pos, format!("bad thread number in '{w}'")))?;
        if r.is_empty() {
            return Err(Diag::new(pos, format!("missing register in '{w}'")));
        }
        return Ok(LVal::Reg {
            thread,
            reg: r.to_string(),
        });
    }
    let loc = w
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(w);
    if loc.is_empty()
        || !loc.chars().next().unwrap().is_ascii_alphabetic() && !loc.starts_with('_')
        || !loc
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(Diag::new(pos, format!("bad location '{w}'")));
    }
    Ok(LVal::Loc(loc.to_string()))
}

/// Parses a value: an integer (decimal, `0x` hex, optionally negative) or a
/// location name (its address).
pub fn parse_value(w: &str, pos: Pos) -> Result<Value, Diag> {
    let (neg, body) = match w.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, w.strip_prefix('$').unwrap_or(w)),
    };
    let parsed = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok().map(|v| v as i64)
    } else if body.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        body.parse::<i64>()
            .ok()
            .or_else(|| body.parse::<u64>().ok().map(|v| v as i64))
    } else {
        None
    };
    match parsed {
        Some(v) => Ok(Value::Int(if neg { v.wrapping_neg() } else { v })),
        None if !neg
            && body
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_') =>
        {
            let loc = body.strip_prefix('&').unwrap_or(body);
            Ok(Value::Addr(loc.to_string(), 0))
        }
        None => Err(Diag::new(pos, format!("bad value '{w}'"))),
    }
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
    end: Pos,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }
    fn pos(&self) -> Pos {
        self.toks.get(self.i).map(|t| t.1).unwrap_or(self.end)
    }
    fn next(&mut self) -> Option<(Tok, Pos)> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn implies(&mut self) -> Result<Prop, Diag> {
        let a = self.or()?;
        if self.peek() == Some(&Tok::Implies) {
            self.next();
            let b = self.implies()?;
            return Ok(Prop::Implies(Box::new(a), Box::new(b)));
        }
        Ok(a)
    }

    fn or(&mut self) -> Result<Prop, Diag> {
        let mut ps = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.next();
            ps.push(self.and()?);
        }
        Ok(if ps.len() == 1 {
            ps.pop().unwrap()
        } else {
            Prop::Or(ps)
        })
    }

    fn and(&mut self) -> Result<Prop, Diag> {
        let mut ps = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.next();
            ps.push(self.not()?);
        }
        Ok(if ps.len() == 1 {
            ps.pop().unwrap()
        } else {
            Prop::And(ps)
        })
    }

    fn not(&mut self) -> Result<Prop, Diag> {
        if self.peek() == Some(&Tok::Not) {
            self.next();
            return Ok(Prop::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Prop, Diag> {
        let pos = self.pos();
        match self.next() {
            Some((Tok::LParen, _)) => {
                let p = self.implies()?;
                match self.next() {
                    Some((Tok::RParen, _)) => Ok(p),
                    _ => Err(Diag::new(self.pos(), "expected ')' in condition")),
                }
            }
            Some((Tok::True, _)) => Ok(Prop::True),
            Some((Tok::False, _)) => Ok(Prop::False),
            Some((Tok::Word(w), wpos)) => {
                let lval = parse_lval(&w, wpos)?;
                let negate = match self.next() {
                    Some((Tok::Eq, _)) => false,
                    Some((Tok::Ne, _)) => true,
                    _ => return Err(Diag::new(self.pos(), format!("expected '=' after '{w}'"))),
                };
                let vpos = self.pos();
                let rhs = match self.next() {
                    Some((Tok::Word(v), _)) => v,
                    _ => return Err(Diag::new(vpos, "expected a value after '='")),
                };
                let atom = if rhs.contains(':') || rhs.starts_with('[') {
                    Prop::EqLVal(lval, parse_lval(&rhs, vpos)?)
                } else {
                    Prop::Eq(lval, parse_value(&rhs, vpos)?)
                };
                Ok(if negate {
                    Prop::Not(Box::new(atom))
                } else {
                    atom
                })
            }
            Some((t, _)) => Err(Diag::new(pos, format!("unexpected {t:?} in condition"))),
            None => Err(Diag::new(pos, "condition ends too early")),
        }
    }
}

/// Parses a proposition starting at `pos` of the file.
pub fn parse_prop(src: &str, pos: Pos) -> Result<Prop, Diag> {
    let toks = Lexer::new(src, pos).tokens()?;
    let end = toks.last().map(|t| t.1).unwrap_or(pos);
    if toks.is_empty() {
        return Err(Diag::new(pos, "empty condition"));
    }
    let mut p = Parser { toks, i: 0, end };
    let prop = p.implies()?;
    if p.i < p.toks.len() {
        return Err(Diag::new(p.pos(), "unexpected text after the condition"));
    }
    Ok(prop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prop {
        parse_prop(s, Pos { line: 1, col: 1 }).unwrap()
    }

    #[test]
    fn precedence() {
        let q = p("(0:X0=1 /\\ y=2 \\/ ~1:X2=0)");
        assert_eq!(q.to_string(), "0:X0=1 /\\ [y]=2 \\/ not (1:X2=0)");
        assert_eq!(p("P1:EAX = 0 /\\ [x]=-1").to_string(), "1:EAX=0 /\\ [x]=-1");
        assert_eq!(p("x=0x10").to_string(), "[x]=16");
        assert_eq!(p("0:X1=y").to_string(), "0:X1=y");
        assert_eq!(p("not (x=1 => y=2)").to_string(), "not ([x]=1 => [y]=2)");
        assert_eq!(
            p("(x=1 \\/ y=1) /\\ z=0").to_string(),
            "([x]=1 \\/ [y]=1) /\\ [z]=0"
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_prop("x=1 /\\ (y=2", Pos { line: 3, col: 8 }).unwrap_err();
        assert!(e.msg.contains("')'"), "{e:?}");
        let e = parse_prop("x=1 /\\ 0:=2", Pos { line: 3, col: 1 }).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (3, 8));
        assert!(parse_prop("x=1 y=2", Pos::default()).is_err());
        assert!(parse_prop("x=#", Pos::default()).is_err());
    }
}
