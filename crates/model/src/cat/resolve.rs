//! Name resolution: from [`ast`](super::ast) trees to the slot-based program
//! that [`eval`](super::eval) runs, with `include`s expanded.
//!
//! Every name is resolved once, here, to one of:
//!
//! - a *global slot*: one per top-level `let` binding (a name bound twice gets
//!   two slots; later uses see the later one), evaluated lazily and at most
//!   once per candidate execution;
//! - a *local*: a function or procedure parameter or a `let ... in` name,
//!   stored in the frame of the function being run;
//! - a *captured* value: a local of an enclosing function, copied into the
//!   closure when it is created (flat closures);
//! - a *builtin* function (`domain`, `range`, `ctrlcfence`);
//! - a *base name*: any other name, looked up in the candidate execution
//!   ([`Base`](super::Base)) when first used, an error if it is absent there.
//!
//! For each global slot the resolver records which base names and slots its
//! definition mentions; `finish` closes that over slots, which tells which
//! slots are constants and which ones a [`StaticCache`](super::StaticCache)
//! may keep across executions.
//!
//! Top-level `if variant` instructions may bind a name differently in their
//! two branches (herd's `cos.cat` includes one of two files that way). After
//! the `if`, such a name refers to a fresh slot whose definition is
//! `if cond then <then binding> else <else binding>`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::ast::{self, BinOp, CheckKind, CheckMode, Pos, UnOp};
use super::eval::{Builtin, Closure, ProcVal, Value};
use super::parser::{parse_file, SyntaxError};

/// Included files that are built in and empty: their content is either in
/// the prelude or supplied by the engine (`co`, `fr`).
const BUILTIN_EMPTY_INCLUDES: [&str; 2] = ["stdlib.cat", "cos.cat"];

/// Included files that are built in, with their display name and source.
const BUILTIN_INCLUDES: [(&str, &str, &str); 1] = [(
    "filters.cat",
    "filters.cat (built in)",
    include_str!("filters.cat"),
)];

/// Resolved expressions.
#[derive(Debug)]
pub(crate) enum Expr {
    Const(Value),
    Global(u32),
    Local(u32),
    Captured(u32),
    Base(u32, Pos),
    Bin(BinOp, Box<Expr>, Box<Expr>, Pos),
    Un(UnOp, Box<Expr>, Pos),
    App(Box<Expr>, Box<Expr>, Pos),
    Tuple(Vec<Expr>),
    /// A function with captures; capture-free ones are `Const` closures.
    Fun(Arc<FunDef>),
    Proc(Arc<ProcDef>),
    Let(Vec<(Option<u32>, Expr)>, Box<Expr>),
    LetRec(Vec<(u32, Expr)>, Box<Expr>, Pos),
    If(Cond, Box<Expr>, Box<Expr>),
    Try(Box<Expr>, Box<Expr>),
}

/// A condition on variants, by index in [`Program::variant_names`].
#[derive(Debug)]
pub(crate) enum Cond {
    Variant(u32),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

/// Where a parameter goes in the callee's frame (`None`: `_`).
#[derive(Debug)]
pub(crate) enum PatSlots {
    Var(Option<u32>),
    Tuple(Vec<Option<u32>>),
}

/// Where a captured value comes from in the creating frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capture {
    Local(u32),
    Captured(u32),
}

/// A function: its parameters, frame size, captures and body.
#[derive(Debug)]
pub(crate) struct FunDef {
    pub name: Arc<str>,
    pub pat: PatSlots,
    pub nlocals: u32,
    pub captures: Vec<Capture>,
    pub body: Expr,
}

/// A procedure: like a function, with instructions for a body.
#[derive(Debug)]
pub(crate) struct ProcDef {
    pub name: Arc<str>,
    pub pat: PatSlots,
    pub nlocals: u32,
    pub captures: Vec<Capture>,
    pub body: Vec<Instr>,
}

/// A check, with the label it is reported under.
#[derive(Debug)]
pub(crate) struct Check {
    pub mode: CheckMode,
    pub negated: bool,
    pub kind: CheckKind,
    pub expr: Expr,
    /// The `as` name, or a description such as `acyclic check at m.cat:3:1`.
    pub label: Arc<str>,
    /// Whether `label` is an `as` name.
    pub named: bool,
    pub pos: Pos,
}

/// Instructions that do something when run (top-level `let`s are lazy
/// global slots and do not appear here).
#[derive(Debug)]
pub(crate) enum Instr {
    Check(Check),
    Call {
        callee: Expr,
        arg: Expr,
        name: Option<Arc<str>>,
        pos: Pos,
    },
    If(Cond, Vec<Instr>, Vec<Instr>),
    /// Local bindings inside a procedure.
    Let(Vec<(Option<u32>, Expr)>),
    LetRec(Vec<(u32, Expr)>, Pos),
}

/// An expression evaluated in a fresh frame of `nlocals` locals.
#[derive(Debug)]
pub(crate) struct Code {
    pub nlocals: u32,
    pub expr: Expr,
}

/// How a global slot gets its value.
#[derive(Debug)]
pub(crate) enum GlobalDef {
    Code(Code),
    /// Member of the `let rec` group with this index.
    Rec(u32),
}

/// A top-level `let rec` group: its slots and their definitions, in order.
#[derive(Debug)]
pub(crate) struct RecGroup {
    pub slots: Vec<u32>,
    pub defs: Vec<Code>,
    pub pos: Pos,
}

/// A resolved model.
#[derive(Debug)]
pub(crate) struct Program {
    /// Display names of the files, indexed by `Pos::file`.
    pub files: Vec<String>,
    pub globals: Vec<GlobalDef>,
    pub groups: Vec<RecGroup>,
    /// Top-level instructions and the frame size they need.
    pub top: Vec<Instr>,
    pub top_nlocals: u32,
    /// Names looked up in the candidate execution.
    pub base_names: Vec<Arc<str>>,
    pub variant_names: Vec<String>,
    /// Per slot: the base names it depends on, transitively (sorted).
    pub slot_bases: Vec<Vec<u32>>,
    /// Per slot: whether it depends on a variant, transitively.
    pub slot_variants: Vec<bool>,
    /// The slot each top-level name finally refers to.
    #[cfg(test)]
    pub names: HashMap<String, u32>,
}

/// What a global definition mentions directly.
#[derive(Default, Debug, Clone)]
struct Deps {
    slots: Vec<u32>,
    bases: Vec<u32>,
    variants: bool,
}

#[derive(Default)]
struct Level {
    /// Innermost scope last; names later in a scope shadow earlier ones.
    scopes: Vec<Vec<(String, u32)>>,
    nlocals: u32,
    /// Captured (origin level, origin local) and how to fetch it from the
    /// enclosing frame.
    captures: Vec<((usize, u32), Capture)>,
}

impl Level {
    fn with_scope() -> Level {
        Level {
            scopes: vec![Vec::new()],
            ..Level::default()
        }
    }

    fn fresh(&mut self) -> u32 {
        self.nlocals += 1;
        self.nlocals - 1
    }

    fn lookup(&self, name: &str) -> Option<u32> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, i)| *i)
    }
}

/// Resolution error: a position and a message.
pub(crate) type RError = SyntaxError;
type RResult<T> = Result<T, RError>;

fn rerr<T>(pos: Pos, msg: impl Into<String>) -> RResult<T> {
    Err(SyntaxError {
        pos,
        msg: msg.into(),
    })
}

/// Include resolver: requested name → (display name, source).
pub(crate) type IncludeFn<'a> = &'a dyn Fn(&str) -> Option<(String, String)>;

pub(crate) struct Resolver<'a> {
    include: IncludeFn<'a>,
    files: Vec<String>,
    included: HashSet<String>,
    map: HashMap<String, u32>,
    globals: Vec<Option<GlobalDef>>,
    deps: Vec<Deps>,
    groups: Vec<RecGroup>,
    base_names: Vec<Arc<str>>,
    base_index: HashMap<String, u32>,
    variant_names: Vec<String>,
    variant_index: HashMap<String, u32>,
    levels: Vec<Level>,
    /// Dependencies of the global definition being resolved, if any.
    cur: Option<Deps>,
    top: Vec<Instr>,
    top_nlocals: u32,
}

impl<'a> Resolver<'a> {
    pub fn new(include: IncludeFn<'a>) -> Self {
        let mut included = HashSet::new();
        for f in BUILTIN_EMPTY_INCLUDES {
            included.insert(f.to_string());
        }
        Resolver {
            include,
            files: Vec::new(),
            included,
            map: HashMap::new(),
            globals: Vec::new(),
            deps: Vec::new(),
            groups: Vec::new(),
            base_names: Vec::new(),
            base_index: HashMap::new(),
            variant_names: Vec::new(),
            variant_index: HashMap::new(),
            levels: Vec::new(),
            cur: None,
            top: Vec::new(),
            top_nlocals: 0,
        }
    }

    /// Display name of file `i`.
    pub fn file_name(&self, i: u32) -> &str {
        &self.files[i as usize]
    }

    /// Parses and resolves a file at top level; returns its title.
    pub fn add_file(&mut self, name: &str, src: &str) -> RResult<Option<String>> {
        let id = self.files.len() as u32;
        self.files.push(name.to_string());
        let file = parse_file(id, src)?;
        let mut top = std::mem::take(&mut self.top);
        self.top_instrs(&file.instrs, &mut top)?;
        self.top = top;
        Ok(file.title)
    }

    // ----- names -----

    fn base(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.base_index.get(name) {
            return i;
        }
        let i = self.base_names.len() as u32;
        self.base_names.push(Arc::from(name));
        self.base_index.insert(name.to_string(), i);
        i
    }

    fn note_slot(&mut self, s: u32) {
        if let Some(d) = &mut self.cur {
            d.slots.push(s);
        }
    }

    fn note_base(&mut self, b: u32) {
        if let Some(d) = &mut self.cur {
            d.bases.push(b);
        }
    }

    /// Makes local `idx` of level `from` reachable in level `to` (> from).
    fn capture(&mut self, from: usize, idx: u32, to: usize) -> u32 {
        let key = (from, idx);
        if let Some(k) = self.levels[to]
            .captures
            .iter()
            .position(|(kk, _)| *kk == key)
        {
            return k as u32;
        }
        let src = if to == from + 1 {
            Capture::Local(idx)
        } else {
            Capture::Captured(self.capture(from, idx, to - 1))
        };
        let caps = &mut self.levels[to].captures;
        caps.push((key, src));
        (caps.len() - 1) as u32
    }

    /// A name that is not a local: global slot, builtin or base name.
    fn nonlocal(&mut self, map_slot: Option<u32>, name: &str, pos: Pos) -> Expr {
        if let Some(s) = map_slot {
            self.note_slot(s);
            return Expr::Global(s);
        }
        match name {
            "domain" => Expr::Const(Value::Builtin(Builtin::Domain)),
            "range" => Expr::Const(Value::Builtin(Builtin::Range)),
            "ctrlcfence" => {
                let po = self.base("po");
                let ctrl = self.base("ctrl");
                self.note_base(po);
                self.note_base(ctrl);
                Expr::Const(Value::Builtin(Builtin::CtrlCfence { po, ctrl }))
            }
            _ => {
                let b = self.base(name);
                self.note_base(b);
                Expr::Base(b, pos)
            }
        }
    }

    fn name(&mut self, name: &str, pos: Pos) -> Expr {
        for k in (0..self.levels.len()).rev() {
            if let Some(idx) = self.levels[k].lookup(name) {
                let cur = self.levels.len() - 1;
                return if k == cur {
                    Expr::Local(idx)
                } else {
                    Expr::Captured(self.capture(k, idx, cur))
                };
            }
        }
        let slot = self.map.get(name).copied();
        self.nonlocal(slot, name, pos)
    }

    fn variant(&mut self, v: &str) -> u32 {
        if let Some(d) = &mut self.cur {
            d.variants = true;
        }
        if let Some(&i) = self.variant_index.get(v) {
            return i;
        }
        let i = self.variant_names.len() as u32;
        self.variant_names.push(v.to_string());
        self.variant_index.insert(v.to_string(), i);
        i
    }

    fn cond(&mut self, c: &ast::Cond) -> Cond {
        match c {
            ast::Cond::Variant(v, _) => Cond::Variant(self.variant(v)),
            ast::Cond::Not(a) => Cond::Not(Box::new(self.cond(a))),
            ast::Cond::And(a, b) => Cond::And(Box::new(self.cond(a)), Box::new(self.cond(b))),
            ast::Cond::Or(a, b) => Cond::Or(Box::new(self.cond(a)), Box::new(self.cond(b))),
        }
    }

    fn cur_level(&mut self) -> &mut Level {
        self.levels.last_mut().expect("resolving outside a level")
    }

    fn bind_local(&mut self, name: &str) -> u32 {
        let l = self.cur_level();
        let i = l.fresh();
        l.scopes.last_mut().unwrap().push((name.to_string(), i));
        i
    }

    fn pat(&mut self, p: &ast::Pat) -> PatSlots {
        let one = |r: &mut Self, x: &Option<String>| x.as_ref().map(|x| r.bind_local(x));
        match p {
            ast::Pat::Var(x) => PatSlots::Var(one(self, x)),
            ast::Pat::Tuple(xs) => PatSlots::Tuple(xs.iter().map(|x| one(self, x)).collect()),
        }
    }

    // ----- expressions -----

    fn expr(&mut self, e: &ast::Expr) -> RResult<Expr> {
        Ok(match e {
            ast::Expr::Empty => Expr::Const(Value::Empty),
            ast::Expr::Universe => Expr::Const(Value::Universe),
            ast::Expr::Var(x, pos) => self.name(x, *pos),
            ast::Expr::Bin(op, a, b, pos) => {
                Expr::Bin(*op, Box::new(self.expr(a)?), Box::new(self.expr(b)?), *pos)
            }
            ast::Expr::Un(op, a, pos) => Expr::Un(*op, Box::new(self.expr(a)?), *pos),
            ast::Expr::App(f, a, pos) => {
                Expr::App(Box::new(self.expr(f)?), Box::new(self.expr(a)?), *pos)
            }
            ast::Expr::Tuple(es) => {
                Expr::Tuple(es.iter().map(|e| self.expr(e)).collect::<RResult<_>>()?)
            }
            ast::Expr::Fun(p, body) => self.fun("fun", p, body)?,
            ast::Expr::Let {
                rec: false,
                binds,
                body,
                ..
            } => {
                let vals = binds
                    .iter()
                    .map(|b| self.binding_expr(b))
                    .collect::<RResult<Vec<_>>>()?;
                self.cur_level().scopes.push(Vec::new());
                let slots: Vec<_> = binds
                    .iter()
                    .zip(vals)
                    .map(|(b, v)| (Some(self.bind_local(&b.name)), v))
                    .collect();
                let body = self.expr(body);
                self.cur_level().scopes.pop();
                Expr::Let(slots, Box::new(body?))
            }
            ast::Expr::Let {
                rec: true,
                binds,
                body,
                pos,
            } => {
                self.cur_level().scopes.push(Vec::new());
                let r = self.rec_locals(binds).and_then(|slots| {
                    let body = self.expr(body)?;
                    Ok(Expr::LetRec(slots, Box::new(body), *pos))
                });
                self.cur_level().scopes.pop();
                r?
            }
            ast::Expr::If(c, a, b) => {
                let c = self.cond(c);
                Expr::If(c, Box::new(self.expr(a)?), Box::new(self.expr(b)?))
            }
            ast::Expr::Try(a, b) => Expr::Try(Box::new(self.expr(a)?), Box::new(self.expr(b)?)),
        })
    }

    /// Binds the names of a local `let rec` in the current scope, then
    /// resolves their definitions.
    fn rec_locals(&mut self, binds: &[ast::Binding]) -> RResult<Vec<(u32, Expr)>> {
        let idx: Vec<u32> = binds.iter().map(|b| self.bind_local(&b.name)).collect();
        idx.into_iter()
            .zip(binds)
            .map(|(i, b)| Ok((i, self.binding_expr(b)?)))
            .collect()
    }

    fn fun(&mut self, name: &str, p: &ast::Pat, body: &ast::Expr) -> RResult<Expr> {
        self.levels.push(Level::with_scope());
        let pat = self.pat(p);
        let body = self.expr(body);
        let level = self.levels.pop().unwrap();
        let def = Arc::new(FunDef {
            name: Arc::from(name),
            pat,
            nlocals: level.nlocals,
            captures: level.captures.iter().map(|(_, c)| *c).collect(),
            body: body?,
        });
        Ok(if def.captures.is_empty() {
            Expr::Const(Value::Closure(Arc::new(Closure {
                def,
                captured: Vec::new(),
            })))
        } else {
            Expr::Fun(def)
        })
    }

    /// A binding's right-hand side, naming functions after the binding.
    fn binding_expr(&mut self, b: &ast::Binding) -> RResult<Expr> {
        match &b.expr {
            ast::Expr::Fun(p, body) => self.fun(&b.name, p, body),
            e => self.expr(e),
        }
    }

    // ----- top level -----

    /// Resolves a global definition in a fresh frame, collecting its deps.
    fn global_code(&mut self, b: &ast::Binding, deps: &mut Deps) -> RResult<Code> {
        let saved = self.cur.replace(std::mem::take(deps));
        self.levels.push(Level::with_scope());
        let e = self.binding_expr(b);
        let level = self.levels.pop().unwrap();
        *deps = std::mem::replace(&mut self.cur, saved).unwrap_or_default();
        Ok(Code {
            nlocals: level.nlocals,
            expr: e?,
        })
    }

    fn new_slot(&mut self, def: Option<GlobalDef>, deps: Deps) -> u32 {
        self.globals.push(def);
        self.deps.push(deps);
        (self.globals.len() - 1) as u32
    }

    /// Resolves an expression of a top-level instruction.
    fn top_expr(&mut self, e: &ast::Expr) -> RResult<Expr> {
        self.levels.push(Level::with_scope());
        let r = self.expr(e);
        let level = self.levels.pop().unwrap();
        self.top_nlocals = self.top_nlocals.max(level.nlocals);
        r
    }

    fn top_instrs(&mut self, instrs: &[ast::Instr], out: &mut Vec<Instr>) -> RResult<()> {
        for i in instrs {
            self.top_instr(i, out)?;
        }
        Ok(())
    }

    fn top_instr(&mut self, i: &ast::Instr, out: &mut Vec<Instr>) -> RResult<()> {
        match i {
            ast::Instr::Let { rec: false, binds } => {
                let mut defs = Vec::new();
                for b in binds {
                    let mut deps = Deps::default();
                    let code = self.global_code(b, &mut deps)?;
                    defs.push((b.name.clone(), code, deps));
                }
                for (name, code, deps) in defs {
                    let s = self.new_slot(Some(GlobalDef::Code(code)), deps);
                    self.map.insert(name, s);
                }
            }
            ast::Instr::Let { rec: true, binds } => {
                let g = self.groups.len() as u32;
                let slots: Vec<u32> = binds
                    .iter()
                    .map(|b| {
                        let s = self.new_slot(Some(GlobalDef::Rec(g)), Deps::default());
                        self.map.insert(b.name.clone(), s);
                        s
                    })
                    .collect();
                let mut deps = Deps::default();
                let mut defs = Vec::new();
                for b in binds {
                    defs.push(self.global_code(b, &mut deps)?);
                }
                for &s in &slots {
                    self.deps[s as usize] = deps.clone();
                }
                let pos = binds.first().map(|b| b.pos).unwrap_or_default();
                self.groups.push(RecGroup { slots, defs, pos });
            }
            ast::Instr::Check {
                mode,
                negated,
                kind,
                expr,
                name,
                pos,
            } => {
                let expr = self.top_expr(expr)?;
                out.push(Instr::Check(
                    self.check(*mode, *negated, *kind, expr, name, *pos),
                ));
            }
            ast::Instr::Procedure {
                name,
                rec,
                pat,
                body,
                pos: _,
            } => {
                let slot = self.new_slot(None, Deps::default());
                if *rec {
                    self.map.insert(name.clone(), slot);
                }
                let saved = self.cur.replace(Deps::default());
                let p = self.procedure(name, pat, body);
                let deps = std::mem::replace(&mut self.cur, saved).unwrap_or_default();
                let e = p?;
                self.globals[slot as usize] = Some(GlobalDef::Code(Code {
                    nlocals: 0,
                    expr: e,
                }));
                self.deps[slot as usize] = deps;
                self.map.insert(name.clone(), slot);
            }
            ast::Instr::Call {
                name,
                arg,
                as_name,
                pos,
            } => {
                let callee = self.callee(name, *pos)?;
                let arg = self.top_expr(arg)?;
                out.push(Instr::Call {
                    callee,
                    arg,
                    name: as_name.as_deref().map(Arc::from),
                    pos: *pos,
                });
            }
            ast::Instr::If { cond, then, els } => {
                let c = self.cond(cond);
                let before = self.map.clone();
                let mut then_out = Vec::new();
                self.top_instrs(then, &mut then_out)?;
                let then_map = std::mem::replace(&mut self.map, before.clone());
                let mut else_out = Vec::new();
                self.top_instrs(els, &mut else_out)?;
                let else_map = std::mem::replace(&mut self.map, before.clone());
                let mut changed: Vec<&String> = then_map
                    .iter()
                    .chain(else_map.iter())
                    .filter(|(k, v)| before.get(*k) != Some(v))
                    .map(|(k, _)| k)
                    .collect();
                changed.sort();
                changed.dedup();
                for name in changed {
                    let saved = self.cur.replace(Deps::default());
                    let c2 = self.cond(cond);
                    let pos = Pos::default();
                    let a = self.nonlocal(then_map.get(name).copied(), name, pos);
                    let b = self.nonlocal(else_map.get(name).copied(), name, pos);
                    let deps = std::mem::replace(&mut self.cur, saved).unwrap_or_default();
                    let code = Code {
                        nlocals: 0,
                        expr: Expr::If(c2, Box::new(a), Box::new(b)),
                    };
                    let s = self.new_slot(Some(GlobalDef::Code(code)), deps);
                    self.map.insert(name.clone(), s);
                }
                out.push(Instr::If(c, then_out, else_out));
            }
            ast::Instr::Include { file, pos } => {
                if !self.included.insert(file.clone()) {
                    return Ok(());
                }
                let builtin = BUILTIN_INCLUDES.iter().find(|(f, _, _)| f == file);
                let found = match builtin {
                    Some((_, display, src)) => Some((display.to_string(), src.to_string())),
                    None => (self.include)(file),
                };
                let Some((display, src)) = found else {
                    return rerr(*pos, format!("cannot find included file \"{file}\""));
                };
                let id = self.files.len() as u32;
                self.files.push(display);
                let parsed = parse_file(id, &src)?;
                self.top_instrs(&parsed.instrs, out)?;
            }
        }
        Ok(())
    }

    fn check(
        &mut self,
        mode: CheckMode,
        negated: bool,
        kind: CheckKind,
        expr: Expr,
        name: &Option<String>,
        pos: Pos,
    ) -> Check {
        let label: Arc<str> = match name {
            Some(n) => Arc::from(n.as_str()),
            None => {
                let k = match kind {
                    CheckKind::Acyclic => "acyclic",
                    CheckKind::Irreflexive => "irreflexive",
                    CheckKind::Empty => "empty",
                };
                let neg = if negated { "~" } else { "" };
                let f = self.file_name(pos.file);
                Arc::from(format!("{neg}{k} check at {f}:{}:{}", pos.line, pos.col))
            }
        };
        Check {
            mode,
            negated,
            kind,
            expr,
            label,
            named: name.is_some(),
            pos,
        }
    }

    fn callee(&mut self, name: &str, pos: Pos) -> RResult<Expr> {
        match self.name(name, pos) {
            Expr::Base(..) | Expr::Const(Value::Builtin(_)) => {
                rerr(pos, format!("procedure `{name}` is not defined"))
            }
            e => Ok(e),
        }
    }

    /// Resolves a procedure definition into an expression building it.
    fn procedure(&mut self, name: &str, pat: &ast::Pat, body: &[ast::Instr]) -> RResult<Expr> {
        self.levels.push(Level::with_scope());
        let pat = self.pat(pat);
        let mut out = Vec::new();
        let r = self.local_instrs(body, &mut out);
        let level = self.levels.pop().unwrap();
        r?;
        let def = Arc::new(ProcDef {
            name: Arc::from(name),
            pat,
            nlocals: level.nlocals,
            captures: level.captures.iter().map(|(_, c)| *c).collect(),
            body: out,
        });
        Ok(if def.captures.is_empty() {
            Expr::Const(Value::Proc(Arc::new(ProcVal {
                def,
                captured: Vec::new(),
            })))
        } else {
            Expr::Proc(def)
        })
    }

    /// Instructions of a procedure body (bindings are locals).
    fn local_instrs(&mut self, instrs: &[ast::Instr], out: &mut Vec<Instr>) -> RResult<()> {
        for i in instrs {
            match i {
                ast::Instr::Let { rec: false, binds } => {
                    let vals = binds
                        .iter()
                        .map(|b| self.binding_expr(b))
                        .collect::<RResult<Vec<_>>>()?;
                    let slots = binds
                        .iter()
                        .zip(vals)
                        .map(|(b, v)| (Some(self.bind_local(&b.name)), v))
                        .collect();
                    out.push(Instr::Let(slots));
                }
                ast::Instr::Let { rec: true, binds } => {
                    let pos = binds.first().map(|b| b.pos).unwrap_or_default();
                    let slots = self.rec_locals(binds)?;
                    out.push(Instr::LetRec(slots, pos));
                }
                ast::Instr::Check {
                    mode,
                    negated,
                    kind,
                    expr,
                    name,
                    pos,
                } => {
                    let expr = self.expr(expr)?;
                    out.push(Instr::Check(
                        self.check(*mode, *negated, *kind, expr, name, *pos),
                    ));
                }
                ast::Instr::Procedure {
                    name,
                    rec,
                    pat,
                    body,
                    pos,
                } => {
                    if *rec {
                        return rerr(*pos, unsupported_nested_rec());
                    }
                    let e = self.procedure(name, pat, body)?;
                    let l = self.bind_local(name);
                    out.push(Instr::Let(vec![(Some(l), e)]));
                }
                ast::Instr::Call {
                    name,
                    arg,
                    as_name,
                    pos,
                } => {
                    let callee = self.callee(name, *pos)?;
                    let arg = self.expr(arg)?;
                    out.push(Instr::Call {
                        callee,
                        arg,
                        name: as_name.as_deref().map(Arc::from),
                        pos: *pos,
                    });
                }
                ast::Instr::If { cond, then, els } => {
                    let c = self.cond(cond);
                    let branch = |r: &mut Self, body: &[ast::Instr]| {
                        r.cur_level().scopes.push(Vec::new());
                        let mut o = Vec::new();
                        let res = r.local_instrs(body, &mut o);
                        let scope = r.cur_level().scopes.pop().unwrap();
                        res.map(|_| (o, scope))
                    };
                    let (then_out, then_scope) = branch(self, then)?;
                    let (else_out, else_scope) = branch(self, els)?;
                    out.push(Instr::If(c, then_out, else_out));
                    let mut names: Vec<&String> = then_scope
                        .iter()
                        .chain(else_scope.iter())
                        .map(|(n, _)| n)
                        .collect();
                    names.sort();
                    names.dedup();
                    let find = |scope: &[(String, u32)], n: &str| {
                        scope.iter().rev().find(|(m, _)| m == n).map(|(_, i)| *i)
                    };
                    let mut merges = Vec::new();
                    for n in names {
                        let pick = |r: &mut Self, scope: &[(String, u32)]| match find(scope, n) {
                            Some(i) => Expr::Local(i),
                            None => r.name(n, Pos::default()),
                        };
                        let a = pick(self, &then_scope);
                        let b = pick(self, &else_scope);
                        let c2 = self.cond(cond);
                        merges.push((n.clone(), Expr::If(c2, Box::new(a), Box::new(b))));
                    }
                    if !merges.is_empty() {
                        let slots = merges
                            .into_iter()
                            .map(|(n, e)| (Some(self.bind_local(&n)), e))
                            .collect();
                        out.push(Instr::Let(slots));
                    }
                }
                ast::Instr::Include { pos, .. } => {
                    return rerr(*pos, "`include` is only allowed at top level");
                }
            }
        }
        Ok(())
    }

    /// Finishes resolution: closes dependencies over slots.
    pub fn finish(self) -> Program {
        let n = self.globals.len();
        let mut slot_bases: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut slot_variants = vec![false; n];
        let mut group_done = vec![false; self.groups.len()];
        let globals: Vec<GlobalDef> = self
            .globals
            .into_iter()
            .map(|g| g.expect("slot left undefined"))
            .collect();
        for (i, def) in globals.iter().enumerate() {
            let members: Vec<u32> = match def {
                GlobalDef::Rec(g) if group_done[*g as usize] => continue,
                GlobalDef::Rec(g) => {
                    group_done[*g as usize] = true;
                    self.groups[*g as usize].slots.clone()
                }
                GlobalDef::Code(_) => vec![i as u32],
            };
            let mut bases = Vec::new();
            let mut variants = false;
            for &m in &members {
                let d = &self.deps[m as usize];
                bases.extend_from_slice(&d.bases);
                variants |= d.variants;
                for &s in &d.slots {
                    if !members.contains(&s) {
                        bases.extend_from_slice(&slot_bases[s as usize]);
                        variants |= slot_variants[s as usize];
                    }
                }
            }
            bases.sort_unstable();
            bases.dedup();
            for &m in &members {
                slot_bases[m as usize] = bases.clone();
                slot_variants[m as usize] = variants;
            }
        }
        Program {
            files: self.files,
            globals,
            groups: self.groups,
            top: self.top,
            top_nlocals: self.top_nlocals,
            base_names: self.base_names,
            variant_names: self.variant_names,
            slot_bases,
            slot_variants,
            #[cfg(test)]
            names: self.map,
        }
    }
}

fn unsupported_nested_rec() -> String {
    "unsupported cat feature: `procedure rec` inside a procedure".to_string()
}
