//! Parser from tokens to [`ast`](super::ast) trees, by recursive descent.
//!
//! # Operator precedence
//!
//! From loosest to tightest binding:
//!
//! | level | operators                         | associativity |
//! | ----- | --------------------------------- | ------------- |
//! | 1     | `e \| e` (union)                  | right         |
//! | 2     | `e ++ e` (set addition; rejected) | right         |
//! | 3     | `e ; e` (sequence)                | right         |
//! | 4     | `e \ e` (difference)              | left          |
//! | 5     | `e & e` (intersection)            | right         |
//! | 6     | `e * e` (cartesian product)       | none          |
//! | 7     | prefix `~e` (complement)          |               |
//! | 8     | postfix `e*` `e+` `e?` `e^-1` (also `e^+`, `e^*`) | |
//! | 9     | application `f x`, `f(x, y)` (head is a name)     | left |
//! | 10    | `0`, `_`, `{}`, names, `(e)`, `(e, ...)`, `[e]`, `begin e end` | |
//!
//! The order of the infix operators and their associativity are those of
//! the `%right UNION` / `%right PLUSPLUS` / `%right SEMI` / `%left DIFF` /
//! `%right INTER` / `%nonassoc STAR` declarations of herd7's model grammar
//! (herdtools7 `lib/modelParser.mly`); the herd manual (`doc/herd.tex`,
//! "Operator expressions") says the same of associativity and that unary
//! operators bind tighter than infix ones, though its prose lists `&` before
//! `\`. The grammar wins: `a & b \ c` is `(a & b) \ c` and `a \ b & c` is
//! `a \ (b & c)`. As in that grammar, application binds tighter than the
//! postfix operators (`f x+` is `(f x)+`), its head must be a name, and the
//! expression forms `let ... in`, `fun`, `try ... with` and `if ... then ...
//! else` extend as far to the right as possible.
//!
//! A `*` is the product when the next token can start an operand (a name,
//! `0`, `_`, `{`, `(`, `[`, `~`, `begin`), and the postfix closure
//! otherwise; so `r* | s` is a closure and `_ * W` a product.

use super::ast::{BinOp, Binding, CheckKind, CheckMode, Cond, Expr, File, Instr, Pat, Pos, UnOp};
use super::lexer::{lex, Tok, Token};

/// A syntax error at a position.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub msg: String,
}

type PResult<T> = Result<T, SyntaxError>;

struct Parser {
    toks: Vec<Token>,
    i: usize,
    file: u32,
}

fn unsupported(what: &str) -> String {
    format!("unsupported cat feature: {what}")
}

impl Parser {
    fn tok(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn peek(&self, k: usize) -> &Tok {
        let j = (self.i + k).min(self.toks.len() - 1);
        &self.toks[j].tok
    }

    fn pos(&self) -> Pos {
        let t = &self.toks[self.i];
        Pos {
            file: self.file,
            line: t.line,
            col: t.col,
        }
    }

    fn advance(&mut self) {
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.tok() == t {
            self.advance();
            true
        } else {
            false
        }
    }

    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(SyntaxError {
            pos: self.pos(),
            msg: msg.into(),
        })
    }

    fn expect(&mut self, t: Tok) -> PResult<()> {
        if self.eat(&t) {
            Ok(())
        } else {
            self.err(format!("expected {t}, found {}", self.tok()))
        }
    }

    fn ident(&mut self) -> PResult<String> {
        if let Tok::Ident(s) = self.tok() {
            let s = s.clone();
            self.advance();
            Ok(s)
        } else {
            self.err(format!("expected a name, found {}", self.tok()))
        }
    }

    // ----- files and instructions -----

    fn file(&mut self) -> PResult<File> {
        let title = self.title();
        let instrs = self.instrs()?;
        if *self.tok() != Tok::Eof {
            return self.err(format!("expected an instruction, found {}", self.tok()));
        }
        Ok(File { title, instrs })
    }

    /// The optional title: a string, or names (and strings) on the line of
    /// the first token when that token is a name.
    fn title(&mut self) -> Option<String> {
        match self.tok().clone() {
            Tok::Str(s) => {
                self.advance();
                Some(s)
            }
            Tok::Ident(first) => {
                let line = self.toks[self.i].line;
                let mut words = vec![first];
                self.advance();
                while self.toks[self.i].line == line {
                    match self.tok() {
                        Tok::Ident(s) | Tok::Str(s) => words.push(s.clone()),
                        _ => break,
                    }
                    self.advance();
                }
                Some(words.join(" "))
            }
            _ => None,
        }
    }

    /// Instructions up to `end`, `else` or the end of the file.
    fn instrs(&mut self) -> PResult<Vec<Instr>> {
        let mut out = Vec::new();
        while !matches!(self.tok(), Tok::End | Tok::Else | Tok::Eof) {
            if let Some(i) = self.instr()? {
                out.push(i);
            }
        }
        Ok(out)
    }

    fn instr(&mut self) -> PResult<Option<Instr>> {
        let pos = self.pos();
        let ins = match self.tok() {
            Tok::Let => {
                self.advance();
                let rec = self.eat(&Tok::Rec);
                let binds = self.bindings()?;
                if *self.tok() == Tok::When {
                    return self.err(unsupported("`let rec ... when`"));
                }
                self.eat(&Tok::In);
                Instr::Let { rec, binds }
            }
            Tok::Acyclic | Tok::Irreflexive | Tok::Empty | Tok::Tilde => {
                self.check(CheckMode::Require, pos)?
            }
            Tok::Flag | Tok::UndefinedUnless | Tok::Assert => {
                let mode = match self.tok() {
                    Tok::Flag => CheckMode::Flag,
                    Tok::UndefinedUnless => CheckMode::UndefinedUnless,
                    _ => CheckMode::Assert,
                };
                self.advance();
                self.check(mode, pos)?
            }
            Tok::Show => {
                self.advance();
                self.expr()?;
                if self.eat(&Tok::As) {
                    self.ident()?;
                } else {
                    while self.eat(&Tok::Comma) {
                        self.ident()?;
                    }
                }
                return Ok(None);
            }
            Tok::Unshow => {
                self.advance();
                self.ident()?;
                while self.eat(&Tok::Comma) {
                    self.ident()?;
                }
                return Ok(None);
            }
            Tok::Catdep => {
                self.advance();
                return Ok(None);
            }
            Tok::Debug => {
                self.advance();
                self.expr()?;
                return Ok(None);
            }
            Tok::Include => {
                self.advance();
                match self.tok().clone() {
                    Tok::Str(file) => {
                        self.advance();
                        Instr::Include { file, pos }
                    }
                    t => return self.err(format!("expected a file name string, found {t}")),
                }
            }
            Tok::Procedure => {
                self.advance();
                let rec = self.eat(&Tok::Rec);
                let name = self.ident()?;
                let pat = if *self.tok() == Tok::LPar {
                    self.formals()?
                } else {
                    Pat::Var(self.pat0()?)
                };
                self.expect(Tok::Equal)?;
                let body = self.instrs()?;
                self.expect(Tok::End)?;
                Instr::Procedure {
                    name,
                    rec,
                    pat,
                    body,
                    pos,
                }
            }
            Tok::Call => {
                self.advance();
                let name = self.ident()?;
                let arg = self.simple()?;
                let as_name = if self.eat(&Tok::As) {
                    Some(self.ident()?)
                } else {
                    None
                };
                Instr::Call {
                    name,
                    arg,
                    as_name,
                    pos,
                }
            }
            Tok::If => {
                self.advance();
                let cond = self.cond()?;
                let then = self.instrs()?;
                let els = if self.eat(&Tok::Else) {
                    self.instrs()?
                } else {
                    Vec::new()
                };
                self.expect(Tok::End)?;
                Instr::If { cond, then, els }
            }
            Tok::With => return self.err(unsupported("`with ... from` (execution extension)")),
            Tok::Match => return self.err(unsupported("`match`")),
            Tok::Forall => return self.err(unsupported("`forall`")),
            Tok::Enum => return self.err(unsupported("`enum`")),
            Tok::Instructions | Tok::Default => {
                return self.err(unsupported("bell declarations (`instructions`, `default`)"))
            }
            t => return self.err(format!("expected an instruction, found {t}")),
        };
        Ok(Some(ins))
    }

    fn check(&mut self, mode: CheckMode, pos: Pos) -> PResult<Instr> {
        let negated = self.eat(&Tok::Tilde);
        let kind = match self.tok() {
            Tok::Acyclic => CheckKind::Acyclic,
            Tok::Irreflexive => CheckKind::Irreflexive,
            Tok::Empty => CheckKind::Empty,
            t => {
                return self.err(format!(
                    "expected `acyclic`, `irreflexive` or `empty`, found {t}"
                ))
            }
        };
        self.advance();
        let expr = self.expr()?;
        let name = if self.eat(&Tok::As) {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(Instr::Check {
            mode,
            negated,
            kind,
            expr,
            name,
            pos,
        })
    }

    /// `_` or a name.
    fn pat0(&mut self) -> PResult<Option<String>> {
        if self.eat(&Tok::Underscore) {
            Ok(None)
        } else {
            self.ident().map(Some)
        }
    }

    /// `( pat0, ... )`: one name is a plain parameter, others a tuple.
    fn formals(&mut self) -> PResult<Pat> {
        self.expect(Tok::LPar)?;
        let mut ps = Vec::new();
        if *self.tok() != Tok::RPar {
            ps.push(self.pat0()?);
            while self.eat(&Tok::Comma) {
                ps.push(self.pat0()?);
            }
        }
        self.expect(Tok::RPar)?;
        Ok(if ps.len() == 1 {
            Pat::Var(ps.pop().unwrap())
        } else {
            Pat::Tuple(ps)
        })
    }

    fn bindings(&mut self) -> PResult<Vec<Binding>> {
        let mut out = vec![self.binding()?];
        while self.eat(&Tok::And) {
            out.push(self.binding()?);
        }
        Ok(out)
    }

    fn binding(&mut self) -> PResult<Binding> {
        let pos = self.pos();
        let name = match self.tok() {
            Tok::Underscore => {
                self.advance();
                "_".to_string()
            }
            Tok::Ident(_) => self.ident()?,
            Tok::LPar => return self.err(unsupported("tuple patterns in `let`")),
            t => return self.err(format!("expected a name to bind, found {t}")),
        };
        let pat = match self.tok() {
            Tok::Equal => None,
            Tok::LPar => Some(self.formals()?),
            Tok::Ident(_) | Tok::Underscore => Some(Pat::Var(self.pat0()?)),
            Tok::Comma => return self.err(unsupported("tuple patterns in `let`")),
            t => return self.err(format!("expected `=`, found {t}")),
        };
        self.expect(Tok::Equal)?;
        let body = self.expr()?;
        let expr = match pat {
            None => body,
            Some(p) => Expr::Fun(p, Box::new(body)),
        };
        Ok(Binding { name, pos, expr })
    }

    // ----- conditions -----

    fn cond(&mut self) -> PResult<Cond> {
        let mut c = self.cond_and()?;
        while self.eat(&Tok::BarBar) {
            let d = self.cond_and()?;
            c = Cond::Or(Box::new(c), Box::new(d));
        }
        Ok(c)
    }

    fn cond_and(&mut self) -> PResult<Cond> {
        let mut c = self.cond_not()?;
        while self.eat(&Tok::AmpAmp) {
            let d = self.cond_not()?;
            c = Cond::And(Box::new(c), Box::new(d));
        }
        Ok(c)
    }

    fn cond_not(&mut self) -> PResult<Cond> {
        let pos = self.pos();
        match self.tok().clone() {
            Tok::Not => {
                self.advance();
                Ok(Cond::Not(Box::new(self.cond_not()?)))
            }
            Tok::LPar => {
                self.advance();
                let c = self.cond()?;
                self.expect(Tok::RPar)?;
                Ok(c)
            }
            Tok::Variant => {
                self.advance();
                match self.tok().clone() {
                    Tok::Str(s) => {
                        self.advance();
                        Ok(Cond::Variant(s, pos))
                    }
                    t => self.err(format!("expected a variant name string, found {t}")),
                }
            }
            Tok::Str(s) => {
                self.advance();
                Ok(Cond::Variant(s, pos))
            }
            _ => self.err(unsupported(
                "conditions other than variant tests (`=`, `subset`, `in`)",
            )),
        }
    }

    // ----- expressions -----

    fn expr(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        match self.tok() {
            Tok::Let => {
                self.advance();
                let rec = self.eat(&Tok::Rec);
                let binds = self.bindings()?;
                self.expect(Tok::In)?;
                let body = self.expr()?;
                Ok(Expr::Let {
                    rec,
                    binds,
                    body: Box::new(body),
                    pos,
                })
            }
            Tok::Fun => {
                self.advance();
                let pat = if *self.tok() == Tok::LPar {
                    self.formals()?
                } else {
                    Pat::Var(self.pat0()?)
                };
                self.expect(Tok::Arrow)?;
                let body = self.expr()?;
                Ok(Expr::Fun(pat, Box::new(body)))
            }
            Tok::Try => {
                self.advance();
                let a = self.expr()?;
                self.expect(Tok::With)?;
                let b = self.expr()?;
                Ok(Expr::Try(Box::new(a), Box::new(b)))
            }
            Tok::If => {
                self.advance();
                let c = self.cond()?;
                self.expect(Tok::Then)?;
                let a = self.expr()?;
                self.expect(Tok::Else)?;
                let b = self.expr()?;
                Ok(Expr::If(c, Box::new(a), Box::new(b)))
            }
            Tok::Match => self.err(unsupported("`match`")),
            _ => self.union(),
        }
    }

    fn bin(op: BinOp, a: Expr, b: Expr, pos: Pos) -> Expr {
        Expr::Bin(op, Box::new(a), Box::new(b), pos)
    }

    fn union(&mut self) -> PResult<Expr> {
        let a = self.seq()?;
        let pos = self.pos();
        match self.tok() {
            Tok::Bar => {
                self.advance();
                let b = self.union()?;
                Ok(Self::bin(BinOp::Union, a, b, pos))
            }
            Tok::PlusPlus => self.err(unsupported("set addition `++`")),
            _ => Ok(a),
        }
    }

    fn seq(&mut self) -> PResult<Expr> {
        let a = self.diff()?;
        let pos = self.pos();
        if self.eat(&Tok::Semi) {
            let b = self.seq()?;
            return Ok(Self::bin(BinOp::Seq, a, b, pos));
        }
        Ok(a)
    }

    fn diff(&mut self) -> PResult<Expr> {
        let mut a = self.inter()?;
        loop {
            let pos = self.pos();
            if !self.eat(&Tok::Backslash) {
                return Ok(a);
            }
            let b = self.inter()?;
            a = Self::bin(BinOp::Diff, a, b, pos);
        }
    }

    fn inter(&mut self) -> PResult<Expr> {
        let a = self.product()?;
        let pos = self.pos();
        if self.eat(&Tok::Amp) {
            let b = self.inter()?;
            return Ok(Self::bin(BinOp::Inter, a, b, pos));
        }
        Ok(a)
    }

    fn product(&mut self) -> PResult<Expr> {
        let a = self.prefix()?;
        let pos = self.pos();
        if !self.eat(&Tok::Star) {
            return Ok(a);
        }
        let b = self.prefix()?;
        if *self.tok() == Tok::Star {
            return self.err("the cartesian product `*` is not associative: add parentheses");
        }
        Ok(Self::bin(BinOp::Product, a, b, pos))
    }

    fn prefix(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        if self.eat(&Tok::Tilde) {
            let e = self.prefix()?;
            return Ok(Expr::Un(UnOp::Comp, Box::new(e), pos));
        }
        self.postfix()
    }

    fn starts_arg(t: &Tok) -> bool {
        matches!(
            t,
            Tok::Ident(_)
                | Tok::Zero
                | Tok::Underscore
                | Tok::LBrace
                | Tok::LPar
                | Tok::LBrack
                | Tok::Begin
                | Tok::Tag(_)
        )
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.app()?;
        loop {
            let pos = self.pos();
            let op = match self.tok() {
                Tok::Plus => UnOp::Plus,
                Tok::Question => UnOp::Opt,
                Tok::Star => {
                    let next = self.peek(1);
                    if Self::starts_arg(next) || *next == Tok::Tilde {
                        return Ok(e); // infix product
                    }
                    UnOp::Star
                }
                Tok::Hat => {
                    self.advance();
                    match self.tok() {
                        Tok::MinusOne => UnOp::Inv,
                        Tok::Plus => UnOp::Plus,
                        Tok::Star => UnOp::Star,
                        t => {
                            return self
                                .err(format!("expected `-1`, `+` or `*` after `^`, found {t}"))
                        }
                    }
                }
                _ => return Ok(e),
            };
            self.advance();
            e = Expr::Un(op, Box::new(e), pos);
        }
    }

    fn app(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let Tok::Ident(name) = self.tok().clone() else {
            return self.simple();
        };
        self.advance();
        let mut e = Expr::Var(name, pos);
        while Self::starts_arg(self.tok()) {
            let apos = self.pos();
            let arg = match self.tok().clone() {
                Tok::Ident(x) => {
                    self.advance();
                    Expr::Var(x, apos)
                }
                _ => self.simple()?,
            };
            e = Expr::App(Box::new(e), Box::new(arg), pos);
        }
        Ok(e)
    }

    fn simple(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        match self.tok().clone() {
            Tok::Ident(x) => {
                self.advance();
                Ok(Expr::Var(x, pos))
            }
            Tok::Zero => {
                self.advance();
                Ok(Expr::Empty)
            }
            Tok::Underscore => {
                self.advance();
                Ok(Expr::Universe)
            }
            Tok::LBrace => {
                self.advance();
                if self.eat(&Tok::RBrace) {
                    Ok(Expr::Empty)
                } else {
                    self.err(unsupported("explicit sets `{e, ...}`"))
                }
            }
            Tok::LPar => {
                self.advance();
                if self.eat(&Tok::RPar) {
                    return Ok(Expr::Tuple(Vec::new()));
                }
                let e = self.expr()?;
                if *self.tok() != Tok::Comma {
                    self.expect(Tok::RPar)?;
                    return Ok(e);
                }
                let mut es = vec![e];
                while self.eat(&Tok::Comma) {
                    es.push(self.expr()?);
                }
                self.expect(Tok::RPar)?;
                Ok(Expr::Tuple(es))
            }
            Tok::Begin => {
                self.advance();
                let e = self.expr()?;
                self.expect(Tok::End)?;
                Ok(e)
            }
            Tok::LBrack => {
                self.advance();
                let e = self.expr()?;
                self.expect(Tok::RBrack)?;
                Ok(Expr::Un(UnOp::ToId, Box::new(e), pos))
            }
            Tok::Tag(_) => self.err(unsupported("tags `'t`")),
            t => self.err(format!("expected an expression, found {t}")),
        }
    }
}

/// Parses one cat file; `file` is its index in the model's file table.
pub(crate) fn parse_file(file: u32, src: &str) -> Result<File, SyntaxError> {
    let toks = lex(src).map_err(|e| SyntaxError {
        pos: Pos {
            file,
            line: e.line,
            col: e.col,
        },
        msg: e.msg,
    })?;
    Parser { toks, i: 0, file }.file()
}

/// Parses a lone expression (tests only).
#[cfg(test)]
pub(crate) fn parse_expr(src: &str) -> Result<Expr, SyntaxError> {
    let toks = lex(src).map_err(|e| SyntaxError {
        pos: Pos {
            file: 0,
            line: e.line,
            col: e.col,
        },
        msg: e.msg,
    })?;
    let mut p = Parser {
        toks,
        i: 0,
        file: 0,
    };
    let e = p.expr()?;
    if *p.tok() != Tok::Eof {
        return p.err(format!("unexpected {}", p.tok()));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> String {
        parse_expr(src).unwrap().to_string()
    }

    #[test]
    fn precedence_of_infix_operators() {
        assert_eq!(p("a | b ; c"), "(a | (b ; c))");
        assert_eq!(p("a ; b | c"), "((a ; b) | c)");
        assert_eq!(p("a ; b \\ c"), "(a ; (b \\ c))");
        assert_eq!(p("a \\ b ; c"), "((a \\ b) ; c)");
        assert_eq!(p("a & b \\ c"), "((a & b) \\ c)");
        assert_eq!(p("a \\ b & c"), "(a \\ (b & c))");
        assert_eq!(p("a & b * c"), "(a & (b * c))");
        assert_eq!(p("a * b & c"), "((a * b) & c)");
        assert_eq!(p("a | b & c ; d"), "(a | ((b & c) ; d))");
    }

    #[test]
    fn associativity() {
        assert_eq!(p("a | b | c"), "(a | (b | c))");
        assert_eq!(p("a ; b ; c"), "(a ; (b ; c))");
        assert_eq!(p("a \\ b \\ c"), "((a \\ b) \\ c)");
        assert_eq!(p("a & b & c"), "(a & (b & c))");
        let e = parse_expr("a * b * c").unwrap_err();
        assert!(e.msg.contains("not associative"), "{}", e.msg);
    }

    #[test]
    fn unary_operators() {
        assert_eq!(p("~a | b"), "(~a | b)");
        assert_eq!(p("~r^-1"), "~r^-1");
        assert_eq!(p("(~r)^-1"), "~r^-1");
        assert_eq!(p("r* | s"), "(r* | s)");
        assert_eq!(p("r+;s?"), "(r+ ; s?)");
        assert_eq!(p("_ * W"), "(_ * W)");
        assert_eq!(p("r^+ | r^*"), "(r+ | r*)");
        assert_eq!(p("[R];po;[W]"), "([R] ; (po ; [W]))");
        assert_eq!(p("r ^-1 ^-1"), "r^-1^-1");
    }

    #[test]
    fn application() {
        assert_eq!(p("f x | g(y, z)"), "(f(x) | g(<y, z>))");
        assert_eq!(p("f x y+"), "f(x)(y)+");
        assert_eq!(p("fencerel(MFENCE) ; po"), "(fencerel(MFENCE) ; po)");
        assert_eq!(p("f()"), "f(<>)");
    }

    #[test]
    fn expression_forms() {
        assert_eq!(p("let x = a in x | b"), "(let x = a in (x | b))");
        assert_eq!(p("try a with b | c"), "(try a with (b | c))");
        assert_eq!(p("fun x -> x;x"), "(fun Var(Some(\"x\")) -> (x ; x))");
        assert_eq!(
            p("if \"mixed\" then a else b"),
            "(if Variant(\"mixed\", Pos { file: 0, line: 1, col: 4 }) then a else b)"
        );
        assert_eq!(p("{} | 0 | begin a end"), "(0 | (0 | a))");
    }

    #[test]
    fn syntax_error_positions() {
        let e = parse_file(0, "let x = a |\n\nlet y = b").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (3, 1));
        assert!(
            e.msg.contains("expected an expression, found `let`"),
            "{}",
            e.msg
        );
        let e = parse_file(0, "\"t\"\nacyclic po as\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (3, 1));
        let e = parse_file(0, "let x = a\n  with y from x").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 3));
        assert!(e.msg.contains("with ... from"), "{}", e.msg);
        let e = parse_file(0, "let x = match y with\n").unwrap_err();
        assert!(e.msg.contains("match"), "{}", e.msg);
    }

    #[test]
    fn titles() {
        let t = |s: &str| parse_file(0, s).unwrap().title;
        assert_eq!(t("X86 TSO\ninclude \"x.cat\"").as_deref(), Some("X86 TSO"));
        assert_eq!(t("\"My model\"\nacyclic po").as_deref(), Some("My model"));
        assert_eq!(
            t("(* c *) AArch64Fences\nlet a = b").as_deref(),
            Some("AArch64Fences")
        );
        assert_eq!(t("let a = b"), None);
    }

    #[test]
    fn instructions() {
        let f = parse_file(
            0,
            "stdlib\ncatdep\nlet a = b and f(x, y) = x | y and g z = z\n\
             let rec t = r | (t ; r)\n\
             flag ~empty a as fl\nundefined_unless empty a as u\nassert acyclic a\n\
             show a, b\nshow a \\ b as c\nunshow a\n\
             procedure p(x) = acyclic x as px end\ncall p(a) as pa\n\
             if \"mixed\" && not \"x\" || variant \"y\" let q = a else let q = b end\n",
        )
        .unwrap();
        assert_eq!(f.title.as_deref(), Some("stdlib"));
        assert_eq!(f.instrs.len(), 8);
        match &f.instrs[0] {
            Instr::Let { rec: false, binds } => {
                assert_eq!(binds.len(), 3);
                assert!(matches!(&binds[1].expr, Expr::Fun(Pat::Tuple(v), _) if v.len() == 2));
                assert!(matches!(&binds[2].expr, Expr::Fun(Pat::Var(Some(z)), _) if z == "z"));
            }
            i => panic!("{i:?}"),
        }
        assert!(matches!(
            &f.instrs[2],
            Instr::Check { mode: CheckMode::Flag, negated: true, kind: CheckKind::Empty, name: Some(n), .. } if n == "fl"
        ));
        assert!(matches!(
            &f.instrs[7],
            Instr::If {
                cond: Cond::Or(..),
                ..
            }
        ));
    }
}
