//! Tests of the cat interpreter on hand-built executions.

use super::eval::Value;
use super::*;
use proptest::prelude::*;

fn model(src: &str) -> Model {
    Model::parse("test.cat", src, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(src: &str) -> String {
    Model::parse("test.cat", src, &|_| None)
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

fn rel(n: usize, pairs: &[(usize, usize)]) -> Relation {
    Relation::from_pairs(n, pairs.iter().copied())
}

fn set(n: usize, items: &[usize]) -> EventSet {
    EventSet::from_iter_n(n, items.iter().copied())
}

/// The value of a binding as a relation (the empty value as the empty one).
fn rel_of(m: &Model, name: &str, base: &Base) -> Relation {
    match m.eval_binding(name, base).unwrap_or_else(|e| panic!("{e}")) {
        Value::Rel(r) => (*r).clone(),
        Value::Empty => Relation::empty(base.n),
        v => panic!("{name} is not a relation: {v:?}"),
    }
}

fn set_of(m: &Model, name: &str, base: &Base) -> EventSet {
    match m.eval_binding(name, base).unwrap_or_else(|e| panic!("{e}")) {
        Value::Set(s) => (*s).clone(),
        Value::Empty => EventSet::empty(base.n),
        Value::Universe => EventSet::full(base.n),
        v => panic!("{name} is not a set: {v:?}"),
    }
}

/// Store buffering (`SB`): `x = 1; r0 = y || y = 1; r1 = x`.
///
/// Events: 0 and 1 the initial writes of `x` and `y`; thread 0 writes `x`
/// (2) then reads `y` (3); thread 1 writes `y` (4) then reads `x` (5). With
/// `fences`, an `MFENCE` sits between the two accesses of each thread
/// (events 6 and 7). `r0_init`: the read of `y` reads the initial value
/// (else thread 1's write); likewise `r1_init` for `x`.
fn sb(r0_init: bool, r1_init: bool, fences: bool) -> Base {
    let n = if fences { 8 } else { 6 };
    let mut b = Base::new(n);
    let (f0, f1) = (6, 7);
    let t0: Vec<usize> = if fences { vec![2, f0, 3] } else { vec![2, 3] };
    let t1: Vec<usize> = if fences { vec![4, f1, 5] } else { vec![4, 5] };
    let mut po = Vec::new();
    for t in [&t0, &t1] {
        for i in 0..t.len() {
            for j in i + 1..t.len() {
                po.push((t[i], t[j]));
            }
        }
    }
    let thread = |e: usize| {
        if t0.contains(&e) {
            Some(0)
        } else if t1.contains(&e) {
            Some(1)
        } else {
            None
        }
    };
    let loc_of = |e: usize| match e {
        0 | 2 | 5 => Some('x'),
        1 | 3 | 4 => Some('y'),
        _ => None,
    };
    let mut int = Vec::new();
    let mut ext = Vec::new();
    let mut loc = Vec::new();
    for a in 0..n {
        for c in 0..n {
            if thread(a).is_some() && thread(a) == thread(c) {
                int.push((a, c));
            } else if a != c {
                ext.push((a, c));
            }
            if loc_of(a).is_some() && loc_of(a) == loc_of(c) {
                loc.push((a, c));
            }
        }
    }
    let rf = rel(
        n,
        &[
            (if r0_init { 1 } else { 4 }, 3),
            (if r1_init { 0 } else { 2 }, 5),
        ],
    );
    let co = rel(n, &[(0, 2), (1, 4)]);
    let fr = rf.inverse().seq(&co);
    b.sets.insert("W".into(), set(n, &[0, 1, 2, 4]));
    b.sets.insert("R".into(), set(n, &[3, 5]));
    b.sets.insert("M".into(), set(n, &[0, 1, 2, 3, 4, 5]));
    b.sets.insert("IW".into(), set(n, &[0, 1]));
    let fs: &[usize] = if fences { &[6, 7] } else { &[] };
    b.sets.insert("F".into(), set(n, fs));
    b.sets.insert("MFENCE".into(), set(n, fs));
    b.rels.insert("po".into(), rel(n, &po));
    b.rels.insert("loc".into(), rel(n, &loc));
    b.rels.insert("int".into(), rel(n, &int));
    b.rels.insert("ext".into(), rel(n, &ext));
    b.rels.insert("rf".into(), rf);
    b.rels.insert("co".into(), co);
    b.rels.insert("fr".into(), fr);
    b.rels.insert("ctrl".into(), Relation::empty(n));
    b
}

const SC: &str = "\"SC\"\nacyclic po | rf | co | fr as sc\n";

/// A TSO-style model of ours: program order minus write-to-read pairs,
/// restored by fences.
const TSO: &str = "\
TSO-like
let ppo = (po & (M * M)) \\ (W * R)
acyclic po-loc | com as uniproc
acyclic ppo | rfe | co | fr | fencerel(MFENCE) as tso
";

#[test]
fn sc_forbids_sb_and_allows_an_interleaving() {
    let m = model(SC);
    assert_eq!(m.title(), Some("SC"));
    let v = m.check(&sb(true, true, false)).unwrap();
    assert!(!v.allowed);
    assert_eq!(v.failed.as_deref(), Some("sc"));
    let v = m.check(&sb(false, true, false)).unwrap();
    assert_eq!(
        v,
        Verdict {
            allowed: true,
            ..Verdict::default()
        }
    );
    assert!(m.check(&sb(true, false, false)).unwrap().allowed);
    assert!(m.check(&sb(false, false, false)).unwrap().allowed);
}

#[test]
fn tso_allows_sb_without_fences_and_forbids_it_with_mfence() {
    let m = model(TSO);
    assert_eq!(m.title(), Some("TSO-like"));
    assert!(m.check(&sb(true, true, false)).unwrap().allowed);
    let v = m.check(&sb(true, true, true)).unwrap();
    assert!(!v.allowed);
    assert_eq!(v.failed.as_deref(), Some("tso"));
    // With fences, the interleavings stay allowed.
    assert!(m.check(&sb(false, true, true)).unwrap().allowed);
    // And SC forbids the fenced SB too.
    assert!(!model(SC).check(&sb(true, true, true)).unwrap().allowed);
}

#[test]
fn fencerel_relates_accesses_around_a_fence() {
    let m = model(
        "let f = fencerel(MFENCE)\nlet c1 = ctrlcfence(MFENCE)\nlet c2 = ctrlcfence(po, MFENCE)",
    );
    let b = sb(true, true, true);
    assert_eq!(rel_of(&m, "f", &b), rel(8, &[(2, 3), (4, 5)]));
    assert_eq!(rel_of(&m, "c1", &b), Relation::empty(8));
    assert_eq!(rel_of(&m, "c2", &b), rel(8, &[(2, 3), (4, 5)]));
}

#[test]
fn unbound_names_are_errors_with_positions() {
    let m = model(TSO);
    let mut b = sb(true, true, false);
    b.sets.remove("MFENCE");
    let e = m.check(&b).unwrap_err();
    // The use inside the prelude's fencerel is reached through the
    // argument, whose position is in the model.
    assert_eq!(e.to_string(), "test.cat:4:40: unbound identifier `MFENCE`");
    // Unused bindings may mention missing names.
    let m = model("let unused = nothere | po\nacyclic po as ok");
    assert!(m.check(&b).unwrap().allowed);
    let m = model("let used = nothere | po\nacyclic used as ok");
    let e = m.check(&b).unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.col), ("test.cat", 1, 12));
    assert_eq!(e.message, "unbound identifier `nothere`");
}

#[test]
fn type_errors_have_positions() {
    let b = sb(true, true, false);
    let e = model("let x = W ; po\nacyclic x").check(&b).unwrap_err();
    assert_eq!((e.line, e.col), (1, 11));
    assert!(e.message.contains("left operand of `;` is a set"), "{e}");
    let e = model("\n  acyclic W").check(&b).unwrap_err();
    assert_eq!((e.line, e.col), (2, 3));
    assert!(
        e.message
            .contains("`acyclic` needs a relation, found a set"),
        "{e}"
    );
    let e = model("empty [po]").check(&b).unwrap_err();
    assert!(
        e.message.contains("`[...]` needs a set, found a relation"),
        "{e}"
    );
    let e = model("empty po | W").check(&b).unwrap_err();
    assert!(e.message.contains("a relation and a set"), "{e}");
    let e = model("empty po * W").check(&b).unwrap_err();
    assert!(
        e.message.contains("left operand of `*` is a relation"),
        "{e}"
    );
    let e = model("let f(a, b) = a | b\nempty f(po)")
        .check(&b)
        .unwrap_err();
    assert!(
        e.message
            .contains("`f` takes 2 arguments, given a relation"),
        "{e}"
    );
    let e = model("empty po(rf)").check(&b).unwrap_err();
    assert!(e.message.contains("not a function"), "{e}");
}

#[test]
fn parse_errors_name_the_file_and_position() {
    assert_eq!(
        parse_err("let a = po\nlet b = a |\n"),
        "test.cat:3:1: expected an expression, found end of file"
    );
    assert!(parse_err("let a = po\nwith x from a")
        .starts_with("test.cat:2:1: unsupported cat feature: `with ... from`"));
    assert!(parse_err("let a = match po with {} -> 0 end").contains("`match`"));
    assert!(parse_err("let a = {po, rf}").contains("explicit sets"));
    assert!(parse_err("enum x = 'a").contains("`enum`"));
    assert!(parse_err("let a = po ++ rf").contains("`++`"));
    assert_eq!(
        parse_err("call nowhere(po)"),
        "test.cat:1:1: procedure `nowhere` is not defined"
    );
    assert_eq!(
        parse_err("let a = (* oops"),
        "test.cat:1:9: unterminated comment"
    );
}

#[test]
fn includes_are_resolved_once_and_builtins_are_empty() {
    let files = |f: &str| match f {
        "defs.cat" => Some(("lib/defs.cat".to_string(), "let hb = po | rf\n".to_string())),
        "bad.cat" => Some(("lib/bad.cat".to_string(), "let x = | po".to_string())),
        _ => None,
    };
    let src = "M\ninclude \"stdlib.cat\"\ninclude \"cos.cat\"\ninclude \"filters.cat\"\n\
               include \"defs.cat\"\ninclude \"defs.cat\"\nacyclic hb | fr | co as m\n";
    let m = Model::parse("m.cat", src, &files).unwrap();
    assert!(!m.check(&sb(true, true, false)).unwrap().allowed);
    // The built-in filters.cat splits accesses into atomic (A or X) and
    // plain ones; without the include, A is the execution's own.
    let mut b = sb(true, true, false);
    b.sets.insert("X".into(), set(6, &[3]));
    let m = Model::parse(
        "m.cat",
        "include \"filters.cat\"\nlet y = MA(po) | PP(po)\nlet z = AM(po)",
        &files,
    )
    .unwrap();
    assert_eq!(rel_of(&m, "y", &b), rel(6, &[(2, 3), (4, 5)]));
    assert_eq!(rel_of(&m, "z", &b), Relation::empty(6));
    let e = model("let y = A").eval_binding("y", &b).unwrap_err();
    assert_eq!(e.message, "unbound identifier `A`");
    let e = Model::parse("m.cat", "include \"nope.cat\"", &files).unwrap_err();
    assert_eq!(
        e.to_string(),
        "m.cat:1:1: cannot find included file \"nope.cat\""
    );
    let e = Model::parse("m.cat", "\ninclude \"bad.cat\"", &files).unwrap_err();
    assert_eq!(
        e.to_string(),
        "lib/bad.cat:1:9: expected an expression, found `|`"
    );
}

#[test]
fn precedence_is_herds() {
    // r = {(0,1)}, s = {(1,2)}, t = {(2,3)}: `r | s ; t` is r ∪ (s;t).
    let mut b = Base::new(4);
    b.rels.insert("r".into(), rel(4, &[(0, 1)]));
    b.rels.insert("s".into(), rel(4, &[(1, 2)]));
    b.rels.insert("t".into(), rel(4, &[(2, 3)]));
    b.sets.insert("A".into(), set(4, &[0, 1]));
    b.sets.insert("B".into(), set(4, &[1, 2]));
    b.sets.insert("C".into(), set(4, &[1]));
    let m = model(
        "let x = r | s ; t\nlet y = (r | s) ; t\nlet z = r ; s | t\n\
         let d1 = A \\ B & C\nlet d2 = A & B \\ C\nlet p = A * B & r\n\
         let q = ~A * A\nlet i = r ; s ^-1\n",
    );
    assert_eq!(rel_of(&m, "x", &b), rel(4, &[(0, 1), (1, 3)]));
    assert_eq!(rel_of(&m, "y", &b), rel(4, &[(1, 3)]));
    assert_eq!(rel_of(&m, "z", &b), rel(4, &[(0, 2), (2, 3)]));
    // `\` is looser than `&`: A \ (B & C) = {0}; (A & B) \ C = {}.
    assert_eq!(set_of(&m, "d1", &b), set(4, &[0]));
    assert_eq!(set_of(&m, "d2", &b), set(4, &[]));
    assert_eq!(rel_of(&m, "p", &b), rel(4, &[(0, 1)]));
    assert_eq!(
        rel_of(&m, "q", &b),
        rel(4, &[(2, 0), (2, 1), (3, 0), (3, 1)])
    );
    assert_eq!(rel_of(&m, "i", &b), Relation::empty(4));
}

#[test]
fn let_rec_is_the_least_fixpoint() {
    let mut b = Base::new(5);
    b.rels
        .insert("r".into(), rel(5, &[(0, 1), (1, 2), (2, 3), (3, 1)]));
    let m = model(
        "let rec t = r | (t ; r)\nlet plus = r+\n\
         let rec even = 0 | (odd ; r) and odd = r | (even ; r)\n\
         let tc(x) = let rec c = x | (c ; c) in c\nlet viaf = tc(r)\n",
    );
    let plus = rel_of(&m, "plus", &b);
    assert_eq!(plus, b.rels["r"].plus());
    assert_eq!(rel_of(&m, "t", &b), plus);
    assert_eq!(rel_of(&m, "viaf", &b), plus);
    // Paths of odd and of even (>= 2) length, by brute force.
    let r = &b.rels["r"];
    let (mut odd, mut even) = (Relation::empty(5), Relation::empty(5));
    let mut power = r.clone();
    for k in 1..=12 {
        if k % 2 == 1 {
            odd.union_with(&power);
        } else {
            even.union_with(&power);
        }
        power = power.seq(r);
    }
    assert_eq!(rel_of(&m, "odd", &b), odd);
    assert_eq!(rel_of(&m, "even", &b), even);
    assert!(!even.contains(0, 1) || odd.contains(0, 1));
}

#[test]
fn try_with_falls_back_on_errors() {
    let b = sb(true, true, false);
    let m = model(
        "let a = try nothere with po\nlet b = try po with nothere\n\
         let c = try (W ; po) with rf\nlet d = try nothere with try other with 0\n",
    );
    assert_eq!(rel_of(&m, "a", &b), b.rels["po"]);
    assert_eq!(rel_of(&m, "b", &b), b.rels["po"]);
    assert_eq!(rel_of(&m, "c", &b), b.rels["rf"]);
    assert_eq!(rel_of(&m, "d", &b), Relation::empty(6));
}

#[test]
fn variants_select_expressions_and_instructions() {
    let src = "let r = if \"mixed\" then po else rf\n\
               let q = if not \"mixed\" && \"x\" || variant \"y\" then po else 0\n\
               if \"mixed\" let s = po else let s = rf let only = co end\n\
               if \"strict\" empty rf as norf end\n";
    let m = model(src);
    let mut b = sb(true, true, false);
    assert_eq!(rel_of(&m, "r", &b), b.rels["rf"]);
    assert_eq!(rel_of(&m, "s", &b), b.rels["rf"]);
    assert_eq!(rel_of(&m, "only", &b), b.rels["co"]);
    assert_eq!(rel_of(&m, "q", &b), Relation::empty(6));
    assert!(m.check(&b).unwrap().allowed);
    b.variants.insert("mixed".into());
    assert_eq!(rel_of(&m, "r", &b), b.rels["po"]);
    assert_eq!(rel_of(&m, "s", &b), b.rels["po"]);
    // `only` is unbound when the else branch does not run.
    let e = m.eval_binding("only", &b).unwrap_err();
    assert_eq!(e.message, "unbound identifier `only`");
    b.variants.insert("y".into());
    assert_eq!(rel_of(&m, "q", &b), b.rels["po"]);
    b.variants.insert("strict".into());
    let v = m.check(&b).unwrap();
    assert_eq!(v.failed.as_deref(), Some("norf"));
}

#[test]
fn procedures_run_their_checks() {
    let src = "procedure disjoint(a, b) = empty a & b as overlap end\n\
               procedure unnamed(a) = let x = a ; a\n  empty x end\n\
               call disjoint(po, co) as d1\ncall unnamed(co) as u\ncall disjoint(rf, rf | co) as d2\n";
    let m = model(src);
    let v = m.check(&sb(true, true, false)).unwrap();
    assert_eq!(v.failed.as_deref(), Some("overlap"));
    let m = model("procedure p(a) = empty a end\ncall p(co) as named-call");
    let v = m.check(&sb(true, true, false)).unwrap();
    assert_eq!(v.failed.as_deref(), Some("named-call"));
    let m = model("procedure p() = acyclic po end\ncall p()\nprocedure q(a) =\n  if \"v\" let y = a else let y = 0 end\n  empty y as qq\nend\ncall q(rf)");
    let mut b = sb(true, true, false);
    assert!(m.check(&b).unwrap().allowed);
    b.variants.insert("v".into());
    assert_eq!(m.check(&b).unwrap().failed.as_deref(), Some("qq"));
}

#[test]
fn flags_undefined_and_asserts() {
    let b = sb(true, true, false);
    let m = model(
        "flag ~empty rf as has-rf\nflag empty rf as no-rf\n\
         undefined_unless empty rf as race\nundefined_unless empty 0 as fine\n\
         acyclic po as ok\nflag ~empty co as late\n",
    );
    let v = m.check(&b).unwrap();
    assert_eq!(
        v,
        Verdict {
            allowed: true,
            failed: None,
            flags: vec!["has-rf".into(), "late".into()],
            undefined: vec!["race".into()],
        }
    );
    // Nothing after a failing check is evaluated.
    let m = model("flag ~empty rf as a\n~empty 0\nflag ~empty co as b");
    let v = m.check(&b).unwrap();
    assert!(!v.allowed);
    assert_eq!(v.failed.as_deref(), Some("~empty check at test.cat:2:1"));
    assert_eq!(v.flags, vec!["a".to_string()]);
    let e = model("assert empty po as ordered").check(&b).unwrap_err();
    assert_eq!(e.to_string(), "test.cat:1:1: assertion `ordered` failed");
    assert!(model("assert ~empty po").check(&b).unwrap().allowed);
}

#[test]
fn functions_closures_and_currying() {
    let b = sb(false, false, false);
    let m = model(
        "let compose = fun a -> fun b -> a ; b\nlet c1 = compose po rf\n\
         let mk(a) = fun x -> a ; x\nlet g = mk(po)\nlet c2 = g(rf)\n\
         let sym(a, b) = (a \\ b) | (b \\ a)\nlet c3 = sym(po, po | rf)\n\
         let k _ = co\nlet c4 = k rf\nlet c5 = let h = fun (x, _) -> x in h(rf, co)\n",
    );
    let po_rf = b.rels["po"].seq(&b.rels["rf"]);
    assert_eq!(rel_of(&m, "c1", &b), po_rf);
    assert_eq!(rel_of(&m, "c2", &b), po_rf);
    assert_eq!(rel_of(&m, "c3", &b), b.rels["rf"]);
    assert_eq!(rel_of(&m, "c4", &b), b.rels["co"]);
    assert_eq!(rel_of(&m, "c5", &b), b.rels["rf"]);
}

#[test]
fn universe_complement_and_sets() {
    let b = sb(true, true, false);
    let m = model(
        "let a = _ * W\nlet c = po & _\nlet d = ~W\nlet e = ~po & po\nlet f = [R] ; po^-1\n\
         let g = domain(rf)\nlet h = range(rf)\nlet i = emptyset | R\nlet j = _ \\ W\nlet k = W \\ _\n\
         let l = WR(po)\nlet m2 = imply(po, rf)\nlet n2 = singlestep(po)\nlet o = toid(R)\n",
    );
    assert_eq!(
        rel_of(&m, "a", &b),
        Relation::product(&EventSet::full(6), &b.sets["W"])
    );
    assert_eq!(rel_of(&m, "c", &b), b.rels["po"]);
    assert_eq!(set_of(&m, "d", &b), set(6, &[3, 5]));
    assert_eq!(rel_of(&m, "e", &b), Relation::empty(6));
    assert_eq!(rel_of(&m, "f", &b), rel(6, &[(3, 2), (5, 4)]));
    assert_eq!(set_of(&m, "g", &b), set(6, &[0, 1]));
    assert_eq!(set_of(&m, "h", &b), set(6, &[3, 5]));
    assert_eq!(set_of(&m, "i", &b), b.sets["R"]);
    assert_eq!(set_of(&m, "j", &b), set(6, &[3, 5]));
    assert_eq!(set_of(&m, "k", &b), set(6, &[]));
    assert_eq!(rel_of(&m, "l", &b), rel(6, &[(2, 3), (4, 5)]));
    assert_eq!(
        rel_of(&m, "m2", &b),
        b.rels["po"].complement().union(&b.rels["rf"])
    );
    assert_eq!(rel_of(&m, "n2", &b), b.rels["po"]);
    assert_eq!(rel_of(&m, "o", &b), Relation::id_on(&b.sets["R"]));
}

#[test]
fn static_cache_matches_plain_checks() {
    let m = model(TSO);
    let dynamic = ["rf", "co", "fr"];
    for fences in [false, true] {
        let mut cache = StaticCache::new();
        for (r0, r1) in [
            (true, true),
            (false, true),
            (true, false),
            (false, false),
            (true, true),
        ] {
            let b = sb(r0, r1, fences);
            let plain = m.check(&b).unwrap();
            let cached = m.check_with_cache(&b, &mut cache, &dynamic).unwrap();
            assert_eq!(plain, cached, "fences={fences} r0={r0} r1={r1}");
        }
        // ppo and po-loc are static and kept; com is dynamic.
        let slot = |name: &str| m.prog.names[name] as usize;
        assert!(cache.slots[slot("ppo")].is_some(), "{cache:?}");
        assert!(cache.slots[slot("po-loc")].is_some());
        assert!(!cache.static_slot[slot("com")]);
        assert!(cache.slots[slot("com")].is_none());
        assert!(
            cache.slots[slot("toid")].is_none(),
            "constants are not copied"
        );
        assert!(m.init[slot("toid")].is_some());
    }
    // A cache used with another n starts afresh.
    let mut cache = StaticCache::new();
    m.check_with_cache(&sb(true, true, false), &mut cache, &dynamic)
        .unwrap();
    let v = m
        .check_with_cache(&sb(true, true, true), &mut cache, &dynamic)
        .unwrap();
    assert!(!v.allowed);
}

#[test]
fn constants_are_folded_once() {
    let m = model("let f(x) = x | x\nlet g = f\nlet e = ~0\nlet s = [_]\n");
    let slot = |name: &str| m.prog.names[name] as usize;
    assert!(matches!(m.init[slot("f")], Some(Value::Closure(_))));
    assert!(matches!(m.init[slot("g")], Some(Value::Closure(_))));
    assert!(matches!(m.init[slot("e")], Some(Value::Universe)));
    assert!(m.init[slot("s")].is_none());
    assert!(m.init[slot("po-loc")].is_none());
}

#[test]
fn models_are_shareable() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Model>();
    send_sync::<StaticCache>();
}

#[test]
fn titles_and_comments() {
    assert_eq!(model("X86 TSO\nacyclic po").title(), Some("X86 TSO"));
    assert_eq!(model("(* c *)\nlet a = po").title(), None);
    assert_eq!(
        model("\"Generate it\"\n(* a (* nested *) comment *)\n// line\n# hash\nacyclic po").title(),
        Some("Generate it")
    );
    let m = model("catdep\nshow po, rf\nshow po \\ rf as x\nunshow po\nlet po-loc2 = po & loc in\nacyclic po-loc2");
    assert!(m.check(&sb(true, true, false)).unwrap().allowed);
}

fn arb_pairs(n: usize) -> impl Strategy<Value = Pairs> {
    proptest::collection::vec((0..n, 0..n), 0..(n * 2))
}

type Pairs = Vec<(usize, usize)>;

fn arb_two() -> impl Strategy<Value = (usize, Pairs, Pairs)> {
    (1usize..12).prop_flat_map(|n| (Just(n), arb_pairs(n), arb_pairs(n)))
}

proptest! {
    #[test]
    fn inverse_distributes_and_let_rec_is_closure((n, r, s) in arb_two()) {
        let m = model(
            "let a = (r | s)^-1\nlet b = r^-1 | s^-1\nlet c = r+\n\
             let rec d = r | (d ; r)\nlet rec e = r | (e ; e)\n\
             empty (a \\ b) | (b \\ a) as inv\nempty (c \\ d) | (d \\ c) as fix\n",
        );
        let mut b = Base::new(n);
        b.rels.insert("r".into(), rel(n, &r));
        b.rels.insert("s".into(), rel(n, &s));
        let (r, s) = (&b.rels["r"], &b.rels["s"]);
        prop_assert_eq!(rel_of(&m, "a", &b), r.union(s).inverse());
        prop_assert_eq!(rel_of(&m, "a", &b), rel_of(&m, "b", &b));
        prop_assert_eq!(rel_of(&m, "c", &b), r.plus());
        prop_assert_eq!(rel_of(&m, "d", &b), r.plus());
        prop_assert_eq!(rel_of(&m, "e", &b), r.plus());
        prop_assert!(m.check(&b).unwrap().allowed);
    }
}
