//! An interpreter of herd7's "cat" language for memory models.
//!
//! cat is the language in which herd7 (herdtools7) states axiomatic memory
//! models: a model is a list of bindings of sets and relations over the
//! events of a candidate execution, and of checks (`acyclic`, `irreflexive`,
//! `empty`) that an execution must pass to be allowed. This module
//! implements the language as described in the "Model definitions" chapter
//! of the herd7 manual (herdtools7 `doc/herd.tex`); where the prose and
//! herd's own grammar differ, the grammar is followed (see
//! [`parser`](self) docs for the precedence table). It is written from that
//! description; no herd code or model file is copied.
//!
//! ```
//! use loci_model::cat::{Base, Model};
//! use loci_model::rel::{EventSet, Relation};
//!
//! let sc = Model::parse("sc.cat", "\"SC\"\nacyclic po | rf | co | fr as sc", &|_| None).unwrap();
//! assert_eq!(sc.title(), Some("SC"));
//! let mut base = Base::new(2);
//! base.rels.insert("po".into(), Relation::from_pairs(2, [(0, 1)]));
//! base.rels.insert("rf".into(), Relation::from_pairs(2, [(1, 0)]));
//! base.rels.insert("co".into(), Relation::empty(2));
//! base.rels.insert("fr".into(), Relation::empty(2));
//! let v = sc.check(&base).unwrap();
//! assert!(!v.allowed);
//! assert_eq!(v.failed.as_deref(), Some("sc"));
//! ```
//!
//! # What is supported
//!
//! - Comments `(* ... *)` (nested), `// ...` and `# ...`; identifiers with
//!   `.` and `-` (`po-loc`, `DMB.ISH`); an optional title (a string, or
//!   the names on the first line).
//! - Instructions: `let`, `let ... and ...`, `let rec ... and ...` (least
//!   fixpoint), function bindings `let f(a, b) = e` and `let f a = e`;
//!   checks `acyclic`/`irreflexive`/`empty`, negated with `~`, prefixed
//!   with `flag`, `undefined_unless` or `assert`, named with `as`;
//!   `procedure p(args) = ... end` and `call p(args) [as name]`;
//!   `include "file"` (each file once); `if "variant" ... [else ...] end`
//!   with `not`, `&&`, `||`; `show`/`unshow`/`debug`/`catdep` are accepted
//!   and ignored.
//! - Expressions: names, `0`, `{}`, `_`, `|`, `&`, `\`, `;`, `*`
//!   (product), `~`, `[S]`, postfix `*`, `+`, `?`, `^-1`; application
//!   `f x` and `f(x, y)`; `fun x -> e`, `fun (a, b) -> e`; `let [rec] ...
//!   in e`; `if "variant" then e else e`; `try e with e` (the second when
//!   the first fails, for any evaluation error); tuples `(a, b)`; the
//!   builtins `domain`, `range` and `ctrlcfence` (which takes either a set
//!   `S`, meaning `(ctrl & (_ * S)); po`, or herd's `(r, S)`).
//! - A prelude (`prelude.cat`, ours) is loaded before every model: the
//!   communication relations (`po-loc`, `rfe`, `rfi`, `coe`, `coi`, `fre`,
//!   `fri`, `com`, `ca`), `emptyset`, `fencerel`, `toid`, `imply`,
//!   `nodetour`, `singlestep`, and the filters by access kind (`WW(r)`,
//!   `RM(r)`, ..., `MM(r)`, `noid(r)`). `include "stdlib.cat"` and
//!   `include "cos.cat"` are built in and empty (the engine supplies `co`
//!   and `fr`); `include "filters.cat"` loads our own `filters.cat`, which
//!   defines the atomic/plain split `A` (the execution's `A` and `X`) and
//!   `P`, and the filters `AA(r)`, `AP(r)`, `PA(r)`, `PP(r)`, `AM(r)`,
//!   `MA(r)`. These three names are never passed to the include resolver.
//!
//! # What is not (each is a parse error naming it)
//!
//! `with x from e` (execution extension), `match`, `forall`, `enum` and
//! tags (`'t`), explicit sets `{a, b}`, set addition `++`, conditions other
//! than variant tests (`=`, `subset`, `in`), tuple patterns in `let`
//! (`let (a, b) = e`), `let rec ... when`, bell declarations
//! (`instructions`, `default`), and the herd primitives other than
//! `domain`/`range`/`ctrlcfence` (`classes-loc`, `fromto`, `tag2events`...:
//! as unknown names, they are unbound at check time). Recursive *local*
//! functions do not see themselves (closures copy captured values), and
//! calls nest at most 200 deep.
//!
//! # Semantics worth knowing
//!
//! - A name the model does not bind is looked up in the [`Base`]: first
//!   among the sets, then among the relations; `id` defaults to the
//!   identity. An absent name is an error (with its position) only when it
//!   is used: top-level bindings are evaluated lazily, so a definition no
//!   check needs costs nothing and cannot fail.
//! - `0` and `{}` are one polymorphic empty value, and `_` a polymorphic
//!   universe: all events next to a set, all pairs next to a relation.
//! - Checks run in order. The first failing plain check ends the judgement
//!   ([`Verdict::allowed`] is false, [`Verdict::failed`] names it); flags
//!   and `undefined_unless` checks after it are not evaluated. A flag is
//!   reported when its condition *holds* (`flag ~empty race as r` reports
//!   `r` when `race` is not empty); an `undefined_unless` check is reported
//!   when it fails; a failed `assert` is an error. An unnamed check is
//!   reported as e.g. `acyclic check at m.cat:3:1`, or under the `as` name
//!   of the `call` that ran it.

mod ast;
mod eval;
mod lexer;
mod parser;
mod resolve;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rel::{EventSet, Relation};

use eval::Value;
use parser::SyntaxError;
use resolve::{Program, Resolver};

/// Our standard library, loaded before every model.
const PRELUDE: &str = include_str!("prelude.cat");

static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(1);

/// An error in a cat model, at a position in one of its files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct CatError {
    /// Display name of the file (the model's, an included file's, or
    /// `prelude.cat`).
    pub file: String,
    /// 1-based line (0 when no position applies).
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// What went wrong.
    pub message: String,
}

/// The primitive event sets and relations of one candidate execution.
#[derive(Debug, Clone, Default)]
pub struct Base {
    /// Number of events; every set and relation is over `0..n`.
    pub n: usize,
    /// Event sets by name, e.g. `R`, `W`, `M`, `F`, `IW`, `FW`, `DMB.ISH`.
    pub sets: HashMap<String, EventSet>,
    /// Relations by name, e.g. `po`, `rf`, `co`, `fr`, `loc`, `ext`, `int`,
    /// `addr`, `data`, `ctrl`, `rmw` (`id` defaults to the identity).
    pub rels: HashMap<String, Relation>,
    /// Selected variants, e.g. `mixed`, tested by `if "mixed"`.
    pub variants: HashSet<String>,
}

impl Base {
    /// An execution of `n` events with no named sets or relations yet.
    pub fn new(n: usize) -> Self {
        Base {
            n,
            ..Base::default()
        }
    }
}

/// The judgement of a model on one candidate execution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Whether every plain (non-flag) check passed.
    pub allowed: bool,
    /// The name (or a description) of the first failing check.
    pub failed: Option<String>,
    /// Names of the flags raised, in order.
    pub flags: Vec<String>,
    /// Names of the failed `undefined_unless` checks, in order.
    pub undefined: Vec<String>,
}

/// Values of the bindings that do not change between calls of
/// [`Model::check_with_cache`]; see there.
#[derive(Default)]
pub struct StaticCache {
    model_id: u64,
    n: usize,
    variants: Vec<bool>,
    dynamic: Vec<String>,
    static_base: Vec<bool>,
    static_slot: Vec<bool>,
    slots: Vec<Option<Value>>,
    bases: Vec<Option<Value>>,
}

impl StaticCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for StaticCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCache")
            .field("dynamic", &self.dynamic)
            .field(
                "cached_bindings",
                &self.slots.iter().filter(|s| s.is_some()).count(),
            )
            .finish()
    }
}

/// A parsed and resolved cat model, ready to judge candidate executions.
///
/// A model is immutable and `Send + Sync`: share one between threads.
pub struct Model {
    id: u64,
    title: Option<String>,
    prog: Program,
    init: Vec<Option<Value>>,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("title", &self.title)
            .field("files", &self.prog.files)
            .field("bindings", &self.prog.globals.len())
            .finish()
    }
}

impl Model {
    /// Parses `src` (named `name`, for errors), after the prelude.
    ///
    /// `include "f"` is resolved by `resolve(f)`, which returns the included
    /// file's display name and source, or `None` (an error "cannot find
    /// included file"); `stdlib.cat`, `cos.cat` and `filters.cat` are built
    /// in and never asked for (see the module docs).
    pub fn parse(
        name: &str,
        src: &str,
        resolve: &dyn Fn(&str) -> Option<(String, String)>,
    ) -> Result<Model, CatError> {
        let mut r = Resolver::new(resolve);
        let err = |r: &Resolver, e: SyntaxError| CatError {
            file: r.file_name(e.pos.file).to_string(),
            line: e.pos.line,
            col: e.pos.col,
            message: e.msg,
        };
        if let Err(e) = r.add_file("prelude.cat", PRELUDE) {
            return Err(err(&r, e));
        }
        let title = match r.add_file(name, src) {
            Ok(t) => t,
            Err(e) => return Err(err(&r, e)),
        };
        let prog = r.finish();
        let init = eval::fold_constants(&prog);
        Ok(Model {
            id: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
            title,
            prog,
            init,
        })
    }

    /// The title of the model (its first line), if any.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Judges one candidate execution described by `base`.
    ///
    /// Errors are evaluation errors of the model (a type error, an unbound
    /// name, a failed `assert`), with their position.
    pub fn check(&self, base: &Base) -> Result<Verdict, CatError> {
        eval::run(&self.prog, &self.init, self.id, base, None).map_err(|e| self.error(e))
    }

    /// Like [`check`](Self::check), keeping in `cache` the bindings that
    /// depend only on the static part of the execution.
    ///
    /// `dynamic` names the primitives of `base` that vary between calls
    /// (e.g. `["rf", "co", "fr"]` when enumerating the candidate executions
    /// of one litmus test, whose events, `po`, `loc`, dependencies and fence
    /// sets stay the same). Every top-level binding whose value does not
    /// depend, transitively, on a dynamic name is computed at most once and
    /// kept in `cache`; so are the static primitives themselves.
    ///
    /// The caller promises that all primitives not in `dynamic`, and the
    /// variants, are the same in every call that shares `cache`; make a new
    /// `StaticCache` (or keep one per test) when they change. As a safety
    /// net the cache resets itself when used with another model, another
    /// `n`, other variants or another `dynamic` list.
    pub fn check_with_cache(
        &self,
        base: &Base,
        cache: &mut StaticCache,
        dynamic: &[&str],
    ) -> Result<Verdict, CatError> {
        eval::run(
            &self.prog,
            &self.init,
            self.id,
            base,
            Some((cache, dynamic)),
        )
        .map_err(|e| self.error(e))
    }

    fn error(&self, e: eval::EvalError) -> CatError {
        CatError {
            file: self
                .prog
                .files
                .get(e.pos.file as usize)
                .cloned()
                .unwrap_or_default(),
            line: e.pos.line,
            col: e.pos.col,
            message: e.msg.to_string(),
        }
    }

    /// The value of top-level binding `name` on `base` (tests only).
    #[cfg(test)]
    fn eval_binding(&self, name: &str, base: &Base) -> Result<Value, CatError> {
        let slot = *self
            .prog
            .names
            .get(name)
            .unwrap_or_else(|| panic!("no binding {name}"));
        eval::eval_slot(&self.prog, &self.init, base, slot).map_err(|e| self.error(e))
    }
}
