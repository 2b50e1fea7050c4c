//! Tokens of the cat language.
//!
//! The lexical rules follow the "Model definitions" chapter of the herd7
//! manual (herdtools7 `doc/herd.tex`): comments are OCaml's `(* ... *)`,
//! which nest, plus line comments starting with `//` or `#`; identifiers
//! start with a letter (optionally after one `_`) and go on with letters,
//! digits, `_`, `.` and `-`, so `po-loc` and `DMB.ISH` are single names and
//! the language has no binary minus. `0` is the empty relation, `_` the
//! universe, `'name` a tag, and `"..."` a string (no escapes).
//!
//! One deliberate difference: a `-` directly followed by `>` ends an
//! identifier, so `fun x->e` lexes as `fun`, `x`, `->`, `e`.

use std::fmt;

/// One token kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Tag(String),
    // Keywords.
    Let,
    Rec,
    And,
    When,
    Acyclic,
    Irreflexive,
    Show,
    Unshow,
    Empty,
    Subset,
    As,
    Fun,
    In,
    UndefinedUnless,
    Flag,
    Assert,
    Include,
    Variant,
    Begin,
    End,
    Procedure,
    Call,
    Enum,
    Debug,
    Match,
    With,
    Forall,
    From,
    Do,
    Try,
    If,
    Then,
    Else,
    Catdep,
    Instructions,
    Default,
    Not,
    // Punctuation and operators.
    LPar,
    RPar,
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Underscore,
    Zero,
    Bar,
    BarBar,
    Amp,
    AmpAmp,
    Star,
    Tilde,
    Plus,
    PlusPlus,
    Hat,
    MinusOne,
    Backslash,
    Question,
    Equal,
    Semi,
    Comma,
    Arrow,
    Eof,
}

impl Tok {
    fn keyword(s: &str) -> Option<Tok> {
        Some(match s {
            "let" => Tok::Let,
            "rec" => Tok::Rec,
            "and" => Tok::And,
            "when" => Tok::When,
            "acyclic" => Tok::Acyclic,
            "irreflexive" => Tok::Irreflexive,
            "show" => Tok::Show,
            "unshow" => Tok::Unshow,
            "empty" => Tok::Empty,
            "subset" => Tok::Subset,
            "as" => Tok::As,
            "fun" => Tok::Fun,
            "in" => Tok::In,
            "undefined_unless" => Tok::UndefinedUnless,
            "flag" => Tok::Flag,
            "assert" => Tok::Assert,
            "include" => Tok::Include,
            "variant" => Tok::Variant,
            "begin" => Tok::Begin,
            "end" => Tok::End,
            "procedure" => Tok::Procedure,
            "call" => Tok::Call,
            "enum" => Tok::Enum,
            "debug" => Tok::Debug,
            "match" => Tok::Match,
            "with" => Tok::With,
            "forall" => Tok::Forall,
            "from" => Tok::From,
            "do" => Tok::Do,
            "try" => Tok::Try,
            "if" => Tok::If,
            "then" => Tok::Then,
            "else" => Tok::Else,
            "catdep" => Tok::Catdep,
            "instructions" => Tok::Instructions,
            "default" => Tok::Default,
            "not" => Tok::Not,
            _ => return None,
        })
    }
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Tok::Ident(s) => return write!(f, "identifier `{s}`"),
            Tok::Str(s) => return write!(f, "string \"{s}\""),
            Tok::Tag(s) => return write!(f, "tag `'{s}`"),
            Tok::Eof => return f.write_str("end of file"),
            Tok::Let => "let",
            Tok::Rec => "rec",
            Tok::And => "and",
            Tok::When => "when",
            Tok::Acyclic => "acyclic",
            Tok::Irreflexive => "irreflexive",
            Tok::Show => "show",
            Tok::Unshow => "unshow",
            Tok::Empty => "empty",
            Tok::Subset => "subset",
            Tok::As => "as",
            Tok::Fun => "fun",
            Tok::In => "in",
            Tok::UndefinedUnless => "undefined_unless",
            Tok::Flag => "flag",
            Tok::Assert => "assert",
            Tok::Include => "include",
            Tok::Variant => "variant",
            Tok::Begin => "begin",
            Tok::End => "end",
            Tok::Procedure => "procedure",
            Tok::Call => "call",
            Tok::Enum => "enum",
            Tok::Debug => "debug",
            Tok::Match => "match",
            Tok::With => "with",
            Tok::Forall => "forall",
            Tok::From => "from",
            Tok::Do => "do",
            Tok::Try => "try",
            Tok::If => "if",
            Tok::Then => "then",
            Tok::Else => "else",
            Tok::Catdep => "catdep",
            Tok::Instructions => "instructions",
            Tok::Default => "default",
            Tok::Not => "not",
            Tok::LPar => "(",
            Tok::RPar => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBrack => "[",
            Tok::RBrack => "]",
            Tok::Underscore => "_",
            Tok::Zero => "0",
            Tok::Bar => "|",
            Tok::BarBar => "||",
            Tok::Amp => "&",
            Tok::AmpAmp => "&&",
            Tok::Star => "*",
            Tok::Tilde => "~",
            Tok::Plus => "+",
            Tok::PlusPlus => "++",
            Tok::Hat => "^",
            Tok::MinusOne => "-1",
            Tok::Backslash => "\\",
            Tok::Question => "?",
            Tok::Equal => "=",
            Tok::Semi => ";",
            Tok::Comma => ",",
            Tok::Arrow => "->",
        };
        write!(f, "`{s}`")
    }
}

/// A token with the position (1-based line and column, in characters) of
/// its first character.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
}

/// A lexical error at a 1-based line and column.
#[derive(Debug)]
pub(crate) struct LexError {
    pub line: u32,
    pub col: u32,
    pub msg: String,
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    line: u32,
    col: u32,
}

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn err(&self, line: u32, col: u32, msg: impl Into<String>) -> LexError {
        LexError {
            line,
            col,
            msg: msg.into(),
        }
    }

    /// Skips blanks and comments.
    fn skip_trivia(&mut self) -> Result<(), LexError> {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) | (Some('#'), _) => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some('('), Some('*')) => {
                    let (line, col) = (self.line, self.col);
                    self.bump();
                    self.bump();
                    let mut depth = 1;
                    while depth > 0 {
                        match (self.peek(0), self.peek(1)) {
                            (None, _) => return Err(self.err(line, col, "unterminated comment")),
                            (Some('('), Some('*')) => {
                                self.bump();
                                self.bump();
                                depth += 1;
                            }
                            (Some('*'), Some(')')) => {
                                self.bump();
                                self.bump();
                                depth -= 1;
                            }
                            _ => {
                                self.bump();
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn ident_continues(&self) -> bool {
        match self.peek(0) {
            Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.' => true,
            Some('-') => self.peek(1) != Some('>'),
            _ => false,
        }
    }

    /// Reads a name whose first letter is at the current position.
    fn name(&mut self) -> String {
        let mut s = String::new();
        while self.ident_continues() {
            s.push(self.bump().unwrap());
        }
        if self.peek(0) == Some('\'') {
            s.push(self.bump().unwrap());
        }
        s
    }

    fn token(&mut self) -> Result<Token, LexError> {
        self.skip_trivia()?;
        let (line, col) = (self.line, self.col);
        let mk = |tok| Ok(Token { tok, line, col });
        let Some(c) = self.peek(0) else {
            return mk(Tok::Eof);
        };
        let next = self.peek(1);
        let two = |lx: &mut Lexer, t| {
            lx.bump();
            lx.bump();
            t
        };
        let one = |lx: &mut Lexer, t| {
            lx.bump();
            t
        };
        let tok = match c {
            '(' => one(self, Tok::LPar),
            ')' => one(self, Tok::RPar),
            '{' => one(self, Tok::LBrace),
            '}' => one(self, Tok::RBrace),
            '[' => one(self, Tok::LBrack),
            ']' => one(self, Tok::RBrack),
            '|' if next == Some('|') => two(self, Tok::BarBar),
            '|' => one(self, Tok::Bar),
            '&' if next == Some('&') => two(self, Tok::AmpAmp),
            '&' => one(self, Tok::Amp),
            '*' => one(self, Tok::Star),
            '~' => one(self, Tok::Tilde),
            '+' if next == Some('+') => two(self, Tok::PlusPlus),
            '+' => one(self, Tok::Plus),
            '^' => one(self, Tok::Hat),
            '-' if next == Some('1') => two(self, Tok::MinusOne),
            '-' if next == Some('>') => two(self, Tok::Arrow),
            '\\' => one(self, Tok::Backslash),
            '?' => one(self, Tok::Question),
            '=' => one(self, Tok::Equal),
            ';' => one(self, Tok::Semi),
            ',' => one(self, Tok::Comma),
            '0' if !next.is_some_and(|d| d.is_ascii_alphanumeric()) => one(self, Tok::Zero),
            '"' => {
                self.bump();
                let mut s = String::new();
                loop {
                    match self.bump() {
                        None => return Err(self.err(line, col, "unterminated string")),
                        Some('"') => break,
                        Some(ch) => s.push(ch),
                    }
                }
                Tok::Str(s)
            }
            '\'' if next.is_some_and(|d| d.is_ascii_alphabetic() || d == '_') => {
                self.bump();
                Tok::Tag(self.name())
            }
            '_' if next.is_some_and(|d| d.is_ascii_alphabetic()) => {
                let s = self.name();
                Tok::Ident(s)
            }
            '_' => one(self, Tok::Underscore),
            c if c.is_ascii_alphabetic() => {
                let s = self.name();
                Tok::keyword(&s).unwrap_or(Tok::Ident(s))
            }
            c => return Err(self.err(line, col, format!("unexpected character `{c}`"))),
        };
        mk(tok)
    }
}

/// Splits `src` into tokens; the last one is always [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        chars: src.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        let t = lx.token()?;
        let eof = t.tok == Tok::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn id(s: &str) -> Tok {
        Tok::Ident(s.to_string())
    }

    #[test]
    fn identifiers_with_dots_and_dashes() {
        assert_eq!(
            toks("po-loc DMB.ISH dmb.full co0 _x a-b x'"),
            vec![
                id("po-loc"),
                id("DMB.ISH"),
                id("dmb.full"),
                id("co0"),
                id("_x"),
                id("a-b"),
                id("x'"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("r^-1 | s || t & u && ~v \\ w ; x* y+ z? ++ = , -> _ 0 [ ] { }"),
            vec![
                id("r"),
                Tok::Hat,
                Tok::MinusOne,
                Tok::Bar,
                id("s"),
                Tok::BarBar,
                id("t"),
                Tok::Amp,
                id("u"),
                Tok::AmpAmp,
                Tok::Tilde,
                id("v"),
                Tok::Backslash,
                id("w"),
                Tok::Semi,
                id("x"),
                Tok::Star,
                id("y"),
                Tok::Plus,
                id("z"),
                Tok::Question,
                Tok::PlusPlus,
                Tok::Equal,
                Tok::Comma,
                Tok::Arrow,
                Tok::Underscore,
                Tok::Zero,
                Tok::LBrack,
                Tok::RBrack,
                Tok::LBrace,
                Tok::RBrace,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn keywords_strings_tags_and_arrows() {
        assert_eq!(
            toks("let rec f = fun x->x in \"a b\" 'tag"),
            vec![
                Tok::Let,
                Tok::Rec,
                id("f"),
                Tok::Equal,
                Tok::Fun,
                id("x"),
                Tok::Arrow,
                id("x"),
                Tok::In,
                Tok::Str("a b".into()),
                Tok::Tag("tag".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn nested_comments_and_line_comments() {
        let ts = lex("(* a (* nested *) still *) x // y\n# z\n  w").unwrap();
        let v: Vec<_> = ts.iter().map(|t| (t.tok.clone(), t.line, t.col)).collect();
        assert_eq!(v, vec![(id("x"), 1, 28), (id("w"), 3, 3), (Tok::Eof, 3, 4)]);
    }

    #[test]
    fn error_positions() {
        let e = lex("let x =\n  (* never closed").unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        assert!(e.msg.contains("unterminated comment"));
        let e = lex("a\n b $").unwrap_err();
        assert_eq!(
            (e.line, e.col, e.msg.as_str()),
            (2, 4, "unexpected character `$`")
        );
        let e = lex("x = \"abc").unwrap_err();
        assert_eq!((e.line, e.col), (1, 5));
    }
}
