//! Recursive-descent parser for the C subset of litmus tests: thread
//! functions `P<n>(params) { statements }`.

use super::lexer::{Tok, Token};
use crate::ir::Pos;
use crate::litmus::Diag;

/// How deeply expressions and statements may nest (a guard against stack
/// exhaustion on hostile input).
const MAX_DEPTH: u32 = 200;

/// A C type, as far as the front end cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ty {
    /// Width in bytes of the scalar at the end of the pointer chain.
    pub(super) width: u8,
    /// Number of `*`.
    pub(super) ptr: u8,
    /// Whether the scalar is signed.
    pub(super) signed: bool,
    /// Whether the scalar is declared atomic (informative: herd7's
    /// annotations come from the access, not from the type).
    pub(super) atomic: bool,
    /// `void` scalar.
    pub(super) void: bool,
}

impl Ty {
    /// Plain `int`.
    pub(super) const INT: Ty = Ty {
        width: 4,
        ptr: 0,
        signed: true,
        atomic: false,
        void: false,
    };

    /// The type `*p` has when `p` has this type (`None` if not a pointer).
    pub(super) fn pointee(self) -> Option<Ty> {
        (self.ptr > 0).then(|| Ty {
            ptr: self.ptr - 1,
            ..self
        })
    }

    /// Width in bytes of a value of this type.
    pub(super) fn size(self) -> u8 {
        if self.ptr > 0 {
            8
        } else {
            self.width
        }
    }
}

/// A thread function.
#[derive(Clone, Debug)]
pub(super) struct Func {
    /// Thread number (`P3` → 3).
    pub(super) num: u32,
    /// Position of the name.
    pub(super) pos: Pos,
    /// Parameters.
    pub(super) params: Vec<Param>,
    /// Body statements.
    pub(super) body: Vec<Stmt>,
}

/// A parameter: a pointer to the shared location of the same name.
#[derive(Clone, Debug)]
pub(super) struct Param {
    pub(super) name: String,
    pub(super) ty: Ty,
    pub(super) pos: Pos,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bin {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Xor,
    Or,
    LAnd,
    LOr,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Un {
    Neg,
    Plus,
    Not,
    LNot,
    Deref,
    AddrOf,
}

/// An expression.
#[derive(Clone, Debug)]
pub(super) enum CExpr {
    Int(i64, Pos),
    Var(String, Pos),
    Unary(Un, Box<CExpr>, Pos),
    Binary(Bin, Box<CExpr>, Box<CExpr>, Pos),
    /// `f(args)`: name, its position, arguments.
    Call(String, Pos, Vec<CExpr>),
    Cast(Ty, Box<CExpr>, Pos),
    /// `a[i]`.
    Index(Box<CExpr>, Box<CExpr>, Pos),
}

impl CExpr {
    /// Where the expression starts.
    pub(super) fn pos(&self) -> Pos {
        match self {
            CExpr::Int(_, p)
            | CExpr::Var(_, p)
            | CExpr::Unary(_, _, p)
            | CExpr::Call(_, p, _)
            | CExpr::Cast(_, _, p)
            | CExpr::Index(_, _, p) => *p,
            CExpr::Binary(_, a, _, _) => a.pos(),
        }
    }

    /// No memory access or call inside.
    pub(super) fn is_pure(&self) -> bool {
        match self {
            CExpr::Int(..) | CExpr::Var(..) => true,
            CExpr::Unary(Un::Deref, ..) | CExpr::Call(..) | CExpr::Index(..) => false,
            CExpr::Unary(_, a, _) | CExpr::Cast(_, a, _) => a.is_pure(),
            CExpr::Binary(_, a, b, _) => a.is_pure() && b.is_pure(),
        }
    }
}

/// A statement.
#[derive(Clone, Debug)]
pub(super) enum Stmt {
    /// `T a = e, b;`
    Decl {
        ty: Ty,
        vars: Vec<(String, Pos, Option<CExpr>)>,
        pos: Pos,
    },
    /// `r = e;` or `r op= e;` (the target is a plain name).
    Assign {
        name: String,
        name_pos: Pos,
        op: Option<Bin>,
        value: CExpr,
        pos: Pos,
    },
    /// `*p = e;`, `p[i] = e;` (`target` is the dereference expression).
    Store {
        target: CExpr,
        op: Option<Bin>,
        value: CExpr,
        pos: Pos,
    },
    /// `e;`
    Expr(CExpr, Pos),
    If {
        cond: CExpr,
        then: Box<Stmt>,
        els: Option<Box<Stmt>>,
        pos: Pos,
    },
    While {
        cond: CExpr,
        body: Box<Stmt>,
        pos: Pos,
    },
    Block(Vec<Stmt>),
    Empty,
}

/// Parses thread functions until the end of input.
pub(super) fn parse_program(toks: &[Token]) -> Result<Vec<Func>, Diag> {
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    let mut funcs = Vec::new();
    loop {
        while p.eat(";") {}
        if p.peek() == &Tok::Eof {
            break;
        }
        funcs.push(p.func()?);
    }
    if funcs.is_empty() {
        return Err(Diag::new(
            p.pos(),
            "expected thread functions 'P0(...) { ... }'",
        ));
    }
    Ok(funcs)
}

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    depth: u32,
}

/// Width, signedness and atomicity of a named scalar type.
fn type_word(s: &str) -> Option<(u8, bool, bool)> {
    Some(match s {
        "char" | "_Bool" | "bool" | "int8_t" => (1, true, false),
        "uint8_t" => (1, false, false),
        "short" | "int16_t" => (2, true, false),
        "uint16_t" => (2, false, false),
        "int" | "int32_t" => (4, true, false),
        "uint32_t" => (4, false, false),
        "long" | "int64_t" | "intptr_t" | "ptrdiff_t" => (8, true, false),
        "uint64_t" | "uintptr_t" | "size_t" => (8, false, false),
        "atomic_bool" | "atomic_char" | "atomic_schar" => (1, true, true),
        "atomic_uchar" => (1, false, true),
        "atomic_short" => (2, true, true),
        "atomic_ushort" => (2, false, true),
        "atomic_int" | "atomic_t" | "atomic_int32_t" => (4, true, true),
        "atomic_uint" | "atomic_uint32_t" => (4, false, true),
        "atomic_long" | "atomic_llong" | "atomic_intptr_t" | "atomic_int64_t"
        | "atomic_ptrdiff_t" => (8, true, true),
        "atomic_ulong" | "atomic_ullong" | "atomic_uintptr_t" | "atomic_size_t"
        | "atomic_uint64_t" => (8, false, true),
        _ => return None,
    })
}

/// Words that may start or continue a type.
pub(super) fn is_type_start(s: &str) -> bool {
    matches!(
        s,
        "void" | "volatile" | "const" | "_Atomic" | "signed" | "unsigned" | "register"
    ) || type_word(s).is_some()
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.tok_at(self.i).tok
    }

    fn tok_at(&self, i: usize) -> &Token {
        // The token list always ends with Eof; clamp to it.
        let last = self.toks.len().saturating_sub(1);
        &self.toks[i.min(last)]
    }

    fn pos(&self) -> Pos {
        self.tok_at(self.i).pos
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Ident(q) if q == s)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<Pos, Diag> {
        let pos = self.pos();
        if self.eat(p) {
            Ok(pos)
        } else {
            Err(self.unexpected(&format!("'{p}'")))
        }
    }

    fn unexpected(&self, what: &str) -> Diag {
        Diag::new(
            self.pos(),
            format!("expected {what}, found {}", self.peek().show()),
        )
    }

    fn ident(&mut self, what: &str) -> Result<(String, Pos), Diag> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                let pos = self.pos();
                self.i += 1;
                Ok((s, pos))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn enter(&mut self) -> Result<(), Diag> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diag::new(self.pos(), "nesting too deep"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `[void [*]] P<n> ( params ) { body }`
    fn func(&mut self) -> Result<Func, Diag> {
        if self.is_ident("void") {
            self.i += 1;
            self.eat("*");
        }
        let (name, pos) = self.ident("a thread function 'P0(...) { ... }'")?;
        let num = name
            .strip_prefix('P')
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or_else(|| {
                Diag::new(
                    pos,
                    format!("expected a thread function 'P<n>(...)', found '{name}'"),
                )
            })?;
        self.expect("(")?;
        let mut params = Vec::new();
        if self.is_ident("void") && matches!(self.tok_at(self.i + 1).tok, Tok::Punct(")")) {
            self.i += 1;
        }
        if !self.is(")") {
            loop {
                params.push(self.param()?);
                if !self.eat(",") {
                    break;
                }
            }
        }
        self.expect(")")?;
        self.expect("{")?;
        let mut body = Vec::new();
        while !self.is("}") {
            if self.peek() == &Tok::Eof {
                return Err(self.unexpected("'}' closing the thread function"));
            }
            body.push(self.stmt()?);
        }
        self.i += 1;
        Ok(Func {
            num,
            pos,
            params,
            body,
        })
    }

    fn param(&mut self) -> Result<Param, Diag> {
        let tpos = self.pos();
        let ty = self.ty()?;
        let (name, pos) = self.ident("a parameter name")?;
        if ty.ptr == 0 {
            return Err(Diag::new(
                tpos,
                format!("parameter '{name}' must be a pointer to a shared location"),
            ));
        }
        Ok(Param { name, ty, pos })
    }

    /// A type: qualifiers and scalar words, `_Atomic(T)`, then `*`s (with
    /// optional qualifiers after each).
    fn ty(&mut self) -> Result<Ty, Diag> {
        let start = self.pos();
        let mut width: Option<u8> = None;
        let mut signed = true;
        let mut atomic = false;
        let mut void = false;
        let mut any = false;
        while let Tok::Ident(w) = self.peek().clone() {
            match w.as_str() {
                "volatile" | "const" | "register" | "signed" => {}
                "unsigned" => signed = false,
                "void" => void = true,
                "_Atomic" => {
                    atomic = true;
                    if matches!(self.tok_at(self.i + 1).tok, Tok::Punct("(")) {
                        self.i += 2;
                        let inner = self.ty()?;
                        self.expect(")")?;
                        width = Some(inner.width);
                        signed = inner.signed;
                        any = true;
                        continue;
                    }
                }
                "long" => width = Some(8),
                _ => match type_word(&w) {
                    Some((wd, sg, at)) => {
                        // `short int`, `long int`: the first word decides.
                        if !(w == "int" && width.is_some()) {
                            width = Some(wd);
                        }
                        signed = signed && sg;
                        atomic |= at;
                    }
                    None => break,
                },
            }
            any = true;
            self.i += 1;
        }
        if !any {
            return Err(Diag::new(
                start,
                format!("expected a type, found {}", self.peek().show()),
            ));
        }
        let mut ptr: u8 = 0;
        while self.eat("*") {
            ptr = ptr.saturating_add(1);
            while self.is_ident("volatile") || self.is_ident("const") || self.is_ident("restrict") {
                self.i += 1;
            }
        }
        if void && ptr == 0 && width.is_none() {
            return Ok(Ty {
                width: 0,
                ptr: 0,
                signed: false,
                atomic,
                void: true,
            });
        }
        Ok(Ty {
            width: width.unwrap_or(4),
            ptr,
            signed,
            atomic,
            void: void && width.is_none(),
        })
    }

    fn block_body(&mut self) -> Result<Vec<Stmt>, Diag> {
        let mut body = Vec::new();
        while !self.is("}") {
            if self.peek() == &Tok::Eof {
                return Err(self.unexpected("'}'"));
            }
            body.push(self.stmt()?);
        }
        self.i += 1;
        Ok(body)
    }

    fn stmt(&mut self) -> Result<Stmt, Diag> {
        self.enter()?;
        let r = self.stmt_inner();
        self.leave();
        r
    }

    fn stmt_inner(&mut self) -> Result<Stmt, Diag> {
        let pos = self.pos();
        if self.eat(";") {
            return Ok(Stmt::Empty);
        }
        if self.eat("{") {
            return Ok(Stmt::Block(self.block_body()?));
        }
        if let Tok::Ident(w) = self.peek().clone() {
            match w.as_str() {
                "if" => {
                    self.i += 1;
                    self.expect("(")?;
                    let cond = self.expr()?;
                    self.expect(")")?;
                    let then = Box::new(self.stmt()?);
                    let els = if self.is_ident("else") {
                        self.i += 1;
                        Some(Box::new(self.stmt()?))
                    } else {
                        None
                    };
                    return Ok(Stmt::If {
                        cond,
                        then,
                        els,
                        pos,
                    });
                }
                "while" => {
                    self.i += 1;
                    self.expect("(")?;
                    let cond = self.expr()?;
                    self.expect(")")?;
                    let body = Box::new(self.stmt()?);
                    return Ok(Stmt::While { cond, body, pos });
                }
                "else" => return Err(Diag::new(pos, "'else' without 'if'")),
                "for" | "do" | "switch" | "return" | "goto" | "break" | "continue" | "case"
                | "default" => {
                    return Err(Diag::new(
                        pos,
                        format!("unsupported statement '{w}' in a litmus thread"),
                    ))
                }
                _ if is_type_start(&w) => return self.decl(),
                _ => {}
            }
        }
        // `(void) e;`
        if self.is("(")
            && self.tok_at(self.i + 1).tok == Tok::Ident("void".into())
            && self.tok_at(self.i + 2).tok == Tok::Punct(")")
        {
            self.i += 3;
            let e = self.expr()?;
            self.expect(";")?;
            return Ok(Stmt::Expr(e, pos));
        }
        let lhs = self.expr()?;
        let op = match self.peek() {
            Tok::Punct("=") => Some(None),
            Tok::Punct(p) => compound_op(p).map(Some),
            _ => None,
        };
        if let Some(op) = op {
            let op_pos = self.pos();
            self.i += 1;
            let value = self.expr()?;
            self.expect(";")?;
            return match lhs {
                CExpr::Var(name, name_pos) => Ok(Stmt::Assign {
                    name,
                    name_pos,
                    op,
                    value,
                    pos,
                }),
                t @ (CExpr::Unary(Un::Deref, ..) | CExpr::Index(..)) => Ok(Stmt::Store {
                    target: t,
                    op,
                    value,
                    pos,
                }),
                _ => Err(Diag::new(
                    op_pos,
                    "the left side of '=' must be a variable or '*p'",
                )),
            };
        }
        if self.is("++") || self.is("--") {
            return Err(Diag::new(
                self.pos(),
                "'++'/'--' are not supported (write 'r = r + 1;')",
            ));
        }
        self.expect(";")?;
        Ok(Stmt::Expr(lhs, pos))
    }

    /// `T a [= e] {, b [= e]} ;`
    fn decl(&mut self) -> Result<Stmt, Diag> {
        let pos = self.pos();
        let ty = self.ty()?;
        let mut vars = Vec::new();
        loop {
            // Pointer stars bind to each declarator in C; accept them here
            // too (`int *a, *b`).
            let mut t = ty;
            while self.eat("*") {
                t.ptr = t.ptr.saturating_add(1);
            }
            let (name, pos) = self.ident("a variable name")?;
            if t != ty {
                return Err(Diag::new(
                    pos,
                    "declare pointer locals one per declaration ('int* p = ...;')",
                ));
            }
            if self.is("[") {
                return Err(Diag::new(self.pos(), "local arrays are not supported"));
            }
            let init = if self.eat("=") {
                Some(self.expr()?)
            } else {
                None
            };
            vars.push((name, pos, init));
            if !self.eat(",") {
                break;
            }
        }
        self.expect(";")?;
        Ok(Stmt::Decl { ty, vars, pos })
    }

    pub(super) fn expr(&mut self) -> Result<CExpr, Diag> {
        self.binary(0)
    }

    /// Precedence climbing over C's binary operators.
    fn binary(&mut self, min_prec: u8) -> Result<CExpr, Diag> {
        self.enter()?;
        let mut lhs = self.unary()?;
        while let Tok::Punct(p) = self.peek() {
            let Some((op, prec)) = binop(p) else { break };
            if prec < min_prec {
                break;
            }
            let pos = self.pos();
            self.i += 1;
            let rhs = self.binary(prec + 1)?;
            lhs = CExpr::Binary(op, Box::new(lhs), Box::new(rhs), pos);
        }
        self.leave();
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<CExpr, Diag> {
        self.enter()?;
        let r = self.unary_inner();
        self.leave();
        r
    }

    fn unary_inner(&mut self) -> Result<CExpr, Diag> {
        let pos = self.pos();
        let op = match self.peek() {
            Tok::Punct("-") => Some(Un::Neg),
            Tok::Punct("+") => Some(Un::Plus),
            Tok::Punct("~") => Some(Un::Not),
            Tok::Punct("!") => Some(Un::LNot),
            Tok::Punct("*") => Some(Un::Deref),
            Tok::Punct("&") => Some(Un::AddrOf),
            _ => None,
        };
        if let Some(op) = op {
            self.i += 1;
            let a = self.unary()?;
            // Fold `-5` into a literal.
            if let (Un::Neg, CExpr::Int(v, _)) = (op, &a) {
                return Ok(CExpr::Int(v.wrapping_neg(), pos));
            }
            return Ok(CExpr::Unary(op, Box::new(a), pos));
        }
        if self.is("++") || self.is("--") {
            return Err(Diag::new(
                pos,
                "'++'/'--' are not supported (write 'r = r + 1;')",
            ));
        }
        // Cast `(T) e`.
        if self.is("(") {
            if let Tok::Ident(w) = &self.tok_at(self.i + 1).tok {
                if is_type_start(w) {
                    self.i += 1;
                    let ty = self.ty()?;
                    self.expect(")")?;
                    let a = self.unary()?;
                    return Ok(CExpr::Cast(ty, Box::new(a), pos));
                }
            }
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<CExpr, Diag> {
        let mut e = self.primary()?;
        loop {
            if self.is("[") {
                let pos = self.pos();
                self.i += 1;
                let idx = self.expr()?;
                self.expect("]")?;
                e = CExpr::Index(Box::new(e), Box::new(idx), pos);
            } else if self.is("(") {
                let pos = self.pos();
                let CExpr::Var(name, npos) = e else {
                    return Err(Diag::new(pos, "only named functions can be called"));
                };
                self.i += 1;
                let mut args = Vec::new();
                if !self.is(")") {
                    loop {
                        args.push(self.expr()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                }
                self.expect(")")?;
                e = CExpr::Call(name, npos, args);
            } else if self.is("++") || self.is("--") {
                return Err(Diag::new(
                    self.pos(),
                    "'++'/'--' are not supported (write 'r = r + 1;')",
                ));
            } else if self.is(".") || self.is("->") {
                return Err(Diag::new(self.pos(), "structures are not supported"));
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<CExpr, Diag> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Int(v) => {
                self.i += 1;
                Ok(CExpr::Int(v, pos))
            }
            Tok::Ident(s) => {
                self.i += 1;
                Ok(CExpr::Var(s, pos))
            }
            Tok::Punct("(") => {
                self.i += 1;
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            _ => Err(self.unexpected("an expression")),
        }
    }
}

/// Binary operator and precedence (higher binds tighter).
fn binop(p: &str) -> Option<(Bin, u8)> {
    Some(match p {
        "||" => (Bin::LOr, 1),
        "&&" => (Bin::LAnd, 2),
        "|" => (Bin::Or, 3),
        "^" => (Bin::Xor, 4),
        "&" => (Bin::And, 5),
        "==" => (Bin::Eq, 6),
        "!=" => (Bin::Ne, 6),
        "<" => (Bin::Lt, 7),
        "<=" => (Bin::Le, 7),
        ">" => (Bin::Gt, 7),
        ">=" => (Bin::Ge, 7),
        "<<" => (Bin::Shl, 8),
        ">>" => (Bin::Shr, 8),
        "+" => (Bin::Add, 9),
        "-" => (Bin::Sub, 9),
        "*" => (Bin::Mul, 10),
        "/" => (Bin::Div, 10),
        "%" => (Bin::Rem, 10),
        _ => return None,
    })
}

/// `+=` → `+`, ...
fn compound_op(p: &str) -> Option<Bin> {
    Some(match p {
        "+=" => Bin::Add,
        "-=" => Bin::Sub,
        "*=" => Bin::Mul,
        "/=" => Bin::Div,
        "%=" => Bin::Rem,
        "|=" => Bin::Or,
        "&=" => Bin::And,
        "^=" => Bin::Xor,
        "<<=" => Bin::Shl,
        ">>=" => Bin::Shr,
        _ => return None,
    })
}
