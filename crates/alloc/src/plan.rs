//! Placement plans: which allocation sites get which placement policy.
//!
//! A plan is a JSON file named by `LOCI_PLACEMENT`; the `LD_PRELOAD`
//! library reads it once at start-up (see `placement.rs`) and applies it to
//! `malloc` and `calloc` calls made from the listed sites. `loci profile`
//! writes one from a profile's *handoff* sites ([`plan_json_from_profile`]),
//! or it is written by hand.
//!
//! # Format
//!
//! ```json
//! {
//!   "version": 1,
//!   "sites": [
//!     { "function": "make_msg", "policy": "consumer" },
//!     { "function": "worker_loop", "offset": "0x4c", "policy": "node:1",
//!       "module": "libserver.so" },
//!     { "function": "fill", "file": "fill.c", "line": 12, "policy": "interleave" }
//!   ]
//! }
//! ```
//!
//! Top level: an object with `version` (the number 1) and `sites` (an
//! array). Each site is an object with:
//!
//! * `function` (string, required): the ELF symbol of the function whose
//!   calls to `malloc`/`calloc` the policy applies to, as it appears in the
//!   symbol table (`nm`): a C name, or a *mangled* C++/Rust name. Symbols
//!   come from `.symtab` (or `.dynsym` in stripped objects) of every object
//!   loaded at start-up.
//! * `offset` (integer, or a string `"0x…"`, optional): restrict the site to
//!   one call: the offset, from the function's start, of the call's
//!   *return address* (the instruction after the `call`; `loci profile`'s
//!   `pc` minus the function's address). Without it every call in the
//!   function is covered.
//! * `module` (string, optional): only look in loaded objects whose path
//!   ends with this (`"libserver.so"`, or `"prog"` for the executable).
//! * `policy` (string, required): `"consumer"`, `"node:N"` (N a NUMA node
//!   number) or `"interleave"`.
//! * `file`, `line` (string, positive integer; optional): the source
//!   location, kept for messages. A site given only by `file` and `line`
//!   is not supported: loci-alloc does not read DWARF line tables, so the
//!   plan must name the `function` (`loci profile` writes both).
//!
//! Anything else (unknown keys, a wrong type, an unknown policy, a missing
//! `function`) is an error naming the line and column.
//!
//! # Policies
//!
//! * `node:N`: the object comes from node N's heap (pages bound with
//!   `mbind`); nodes that do not exist fall back to node 0.
//! * `interleave`: successive objects of the site come from the node heaps
//!   in turn (object granularity).
//! * `consumer`: the object comes from a pool of pages that the allocating
//!   thread never writes: a never-used block is handed out without touching
//!   it (no free-list link is written into it), so the first thread to write
//!   it — the consumer, if the producer only passes the pointer on — places
//!   its OS pages on its own node by first touch.

use std::fmt;

use crate::json::{self, Kind, Pos, Value};

/// The placement policy of a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Pages the allocating thread does not touch; the consumer's first
    /// touch places them.
    Consumer,
    /// Memory bound to this NUMA node.
    Node(usize),
    /// Objects spread over the NUMA nodes in turn.
    Interleave,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Consumer => f.write_str("consumer"),
            Policy::Node(n) => write!(f, "node:{n}"),
            Policy::Interleave => f.write_str("interleave"),
        }
    }
}

/// One site of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// ELF symbol of the calling function.
    pub function: String,
    /// Offset of the call's return address from the function's start, if
    /// the site is one call rather than the whole function.
    pub offset: Option<u64>,
    /// Suffix of the path of the object to look in.
    pub module: Option<String>,
    /// Source file (informational).
    pub file: Option<String>,
    /// Source line (informational).
    pub line: Option<u32>,
    /// What to do with the site's allocations.
    pub policy: Policy,
    /// Where the site is written in the plan.
    pub pos: Pos,
}

impl fmt::Display for Site {
    /// `function+0xOFF (file:line)`, as used in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.function)?;
        if let Some(o) = self.offset {
            write!(f, "+{o:#x}")?;
        }
        if let Some(m) = &self.module {
            write!(f, " in {m}")?;
        }
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " ({file}:{line})"),
            (Some(file), None) => write!(f, " ({file})"),
            _ => Ok(()),
        }
    }
}

/// A parsed placement plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The sites, in file order.
    pub sites: Vec<Site>,
}

/// What is wrong with a plan (or a profile given to
/// [`plan_json_from_profile`]) and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// Line and column (1-based) of the offending text.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PlanError {
    /// `line:col: message`; callers prefix the file name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

impl std::error::Error for PlanError {}

fn err<T>(pos: Pos, message: impl Into<String>) -> Result<T, PlanError> {
    Err(PlanError {
        pos,
        message: message.into(),
    })
}

fn members<'a>(v: &'a Value, what: &str) -> Result<&'a [(String, Pos, Value)], PlanError> {
    match &v.kind {
        Kind::Object(m) => Ok(m),
        k => err(
            v.pos,
            format!("{what} must be an object, not {}", k.type_name()),
        ),
    }
}

fn string<'a>(v: &'a Value, key: &str) -> Result<&'a str, PlanError> {
    match &v.kind {
        Kind::String(s) => Ok(s),
        k => err(
            v.pos,
            format!("\"{key}\" must be a string, not {}", k.type_name()),
        ),
    }
}

fn integer(v: &Value, key: &str) -> Result<u64, PlanError> {
    let parsed = match &v.kind {
        Kind::Number(n) => n.parse::<u64>().ok(),
        Kind::String(s) => s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .and_then(|h| u64::from_str_radix(h, 16).ok()),
        _ => None,
    };
    match parsed {
        Some(n) => Ok(n),
        None => err(
            v.pos,
            format!("\"{key}\" must be a non-negative integer or a \"0x...\" string"),
        ),
    }
}

/// Parse a policy name: `consumer`, `node:N` or `interleave`.
pub fn parse_policy(s: &str) -> Option<Policy> {
    match s {
        "consumer" => Some(Policy::Consumer),
        "interleave" => Some(Policy::Interleave),
        _ => {
            let n = s.strip_prefix("node:")?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok().map(Policy::Node)
        }
    }
}

/// Parse a plan (the format is in the module documentation).
pub fn parse(text: &str) -> Result<Plan, PlanError> {
    let doc = json::parse(text).map_err(|e| PlanError {
        pos: e.pos,
        message: e.message,
    })?;
    let top = members(&doc, "the plan")?;
    let mut version = None;
    let mut sites_v = None;
    for (k, kpos, v) in top {
        match k.as_str() {
            "version" => version = Some(v),
            "sites" => sites_v = Some(v),
            _ => {
                return err(
                    *kpos,
                    format!("unknown key \"{k}\" (a plan has \"version\" and \"sites\")"),
                )
            }
        }
    }
    let Some(version) = version else {
        return err(doc.pos, "the plan has no \"version\" (it must be 1)");
    };
    if integer(version, "version").ok() != Some(1) {
        return err(
            version.pos,
            "unsupported plan version (this loci-alloc reads version 1)",
        );
    }
    let Some(sites_v) = sites_v else {
        return err(doc.pos, "the plan has no \"sites\" array");
    };
    let Kind::Array(items) = &sites_v.kind else {
        return err(
            sites_v.pos,
            format!(
                "\"sites\" must be an array, not {}",
                sites_v.kind.type_name()
            ),
        );
    };
    let mut sites = Vec::with_capacity(items.len());
    for item in items {
        sites.push(site(item)?);
    }
    Ok(Plan { sites })
}

fn site(item: &Value) -> Result<Site, PlanError> {
    let m = members(item, "a site")?;
    let mut s = Site {
        function: String::new(),
        offset: None,
        module: None,
        file: None,
        line: None,
        policy: Policy::Consumer,
        pos: item.pos,
    };
    let (mut have_function, mut have_policy) = (false, false);
    for (k, kpos, v) in m {
        match k.as_str() {
            "function" => {
                let f = string(v, k)?;
                if f.is_empty() {
                    return err(v.pos, "\"function\" must not be empty");
                }
                s.function = f.to_owned();
                have_function = true;
            }
            "offset" => s.offset = Some(integer(v, k)?),
            "module" => s.module = Some(string(v, k)?.to_owned()),
            "file" => s.file = Some(string(v, k)?.to_owned()),
            "line" => {
                let l = integer(v, k)?;
                match u32::try_from(l) {
                    Ok(l) if l > 0 => s.line = Some(l),
                    _ => return err(v.pos, "\"line\" must be a positive 32-bit integer"),
                }
            }
            "policy" => {
                let p = string(v, k)?;
                s.policy = match parse_policy(p) {
                    Some(p) => p,
                    None => {
                        return err(
                            v.pos,
                            format!(
                                "unknown policy \"{p}\" (expected \"consumer\", \"node:N\" or \"interleave\")"
                            ),
                        )
                    }
                };
                have_policy = true;
            }
            _ => {
                return err(
                    *kpos,
                    format!(
                        "unknown key \"{k}\" (a site has \"function\", \"offset\", \"module\", \"file\", \"line\", \"policy\")"
                    ),
                )
            }
        }
    }
    if !have_function {
        let hint = if s.file.is_some() || s.line.is_some() {
            " (file:line alone is not supported: loci-alloc reads symbols, not DWARF line tables)"
        } else {
            ""
        };
        return err(item.pos, format!("the site has no \"function\"{hint}"));
    }
    if !have_policy {
        return err(item.pos, "the site has no \"policy\"");
    }
    Ok(s)
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Plan {
    /// The plan as JSON in the format [`parse`] reads (one site per line).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\n  \"version\": 1,\n  \"sites\": [");
        for (i, s) in self.sites.iter().enumerate() {
            out.push_str(if i == 0 { "\n    {" } else { ",\n    {" });
            out.push_str("\"function\": ");
            json_string(&mut out, &s.function);
            if let Some(o) = s.offset {
                out.push_str(&format!(", \"offset\": \"{o:#x}\""));
            }
            if let Some(m) = &s.module {
                out.push_str(", \"module\": ");
                json_string(&mut out, m);
            }
            if let Some(f) = &s.file {
                out.push_str(", \"file\": ");
                json_string(&mut out, f);
            }
            if let Some(l) = s.line {
                out.push_str(&format!(", \"line\": {l}"));
            }
            out.push_str(", \"policy\": ");
            json_string(&mut out, &s.policy.to_string());
            out.push('}');
        }
        out.push_str(if self.sites.is_empty() {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        });
        out
    }
}

/// Turn a `loci profile --json` report into a plan: one `consumer` site
/// per function that holds an allocation site of class `handoff`
/// (allocated by one thread, used by another), in the profile's order
/// (most accessed first), with the first such site's file and line. Sites
/// whose function is unknown (no symbols) are left out, as are names that
/// look demangled C++/Rust (`::` or `(`), which are not ELF symbols; the
/// second element of the result lists each left-out site as a message.
///
/// Errors name the line and column of the profile that is malformed.
pub fn plan_from_profile(profile_json: &str) -> Result<(Plan, Vec<String>), PlanError> {
    let doc = json::parse(profile_json).map_err(|e| PlanError {
        pos: e.pos,
        message: e.message,
    })?;
    let top = members(&doc, "the profile")?;
    let Some((_, _, sites_v)) = top.iter().find(|(k, _, _)| k == "sites") else {
        return err(doc.pos, "the profile has no \"sites\" array");
    };
    let Kind::Array(items) = &sites_v.kind else {
        return err(sites_v.pos, "\"sites\" must be an array");
    };
    let mut plan = Plan::default();
    let mut skipped = Vec::new();
    for item in items {
        let m = members(item, "a profile site")?;
        let get = |key: &str| m.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v);
        let class = match get("class") {
            Some(v) => string(v, "class")?,
            None => return err(item.pos, "a profile site has no \"class\""),
        };
        if class != "handoff" {
            continue;
        }
        let opt_string = |key: &str| -> Result<Option<String>, PlanError> {
            match get(key) {
                None => Ok(None),
                Some(v) if v.kind == Kind::Null => Ok(None),
                Some(v) => string(v, key).map(|s| Some(s.to_owned())),
            }
        };
        let file = opt_string("file")?;
        let line = match get("line") {
            None => None,
            Some(v) if v.kind == Kind::Null => None,
            Some(v) => u32::try_from(integer(v, "line")?).ok().filter(|&l| l > 0),
        };
        let pc = opt_string("pc")?.unwrap_or_else(|| "?".into());
        let Some(function) = opt_string("function")? else {
            skipped.push(format!(
                "handoff site at pc {pc} has no function name (build with symbols); left out"
            ));
            continue;
        };
        if function.contains("::") || function.contains('(') {
            skipped.push(format!(
                "handoff site in {function} (pc {pc}): a demangled name, not an ELF symbol; left out"
            ));
            continue;
        }
        if plan.sites.iter().any(|s| s.function == function) {
            continue;
        }
        plan.sites.push(Site {
            function,
            offset: None,
            module: None,
            file,
            line,
            policy: Policy::Consumer,
            pos: item.pos,
        });
    }
    Ok((plan, skipped))
}

/// [`plan_from_profile`], rendered as plan JSON (what `loci profile --plan
/// FILE` writes), and the messages about left-out sites.
pub fn plan_json_from_profile(profile_json: &str) -> Result<(String, Vec<String>), PlanError> {
    plan_from_profile(profile_json).map(|(p, skipped)| (p.to_json(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_documented_example() {
        let text = r#"{
  "version": 1,
  "sites": [
    { "function": "make_msg", "policy": "consumer" },
    { "function": "worker_loop", "offset": "0x4c", "policy": "node:1",
      "module": "libserver.so" },
    { "function": "fill", "file": "fill.c", "line": 12, "policy": "interleave" }
  ]
}"#;
        let p = parse(text).unwrap();
        assert_eq!(p.sites.len(), 3);
        assert_eq!(p.sites[0].function, "make_msg");
        assert_eq!(p.sites[0].policy, Policy::Consumer);
        assert_eq!(p.sites[0].pos, Pos { line: 4, col: 5 });
        assert_eq!(p.sites[1].offset, Some(0x4c));
        assert_eq!(p.sites[1].policy, Policy::Node(1));
        assert_eq!(p.sites[1].module.as_deref(), Some("libserver.so"));
        assert_eq!(p.sites[2].policy, Policy::Interleave);
        assert_eq!(p.sites[2].to_string(), "fill (fill.c:12)");
        assert_eq!(p.sites[1].to_string(), "worker_loop+0x4c in libserver.so");
        // Round trip through to_json (positions differ, the rest is equal).
        let again = parse(&p.to_json()).unwrap();
        let strip = |p: Plan| -> Vec<Site> {
            p.sites
                .into_iter()
                .map(|mut s| {
                    s.pos = Pos { line: 0, col: 0 };
                    s
                })
                .collect()
        };
        assert_eq!(strip(again), strip(p));
    }

    #[test]
    fn errors_say_where_and_what() {
        assert_eq!(e("[]"), "1:1: the plan must be an object, not an array");
        assert_eq!(
            e("{\"sites\": []}"),
            "1:1: the plan has no \"version\" (it must be 1)"
        );
        assert_eq!(
            e("{\"version\": 2, \"sites\": []}"),
            "1:13: unsupported plan version (this loci-alloc reads version 1)"
        );
        assert_eq!(
            e("{\"version\": 1, \"sites\": [\n  {\"function\": \"f\", \"policy\": \"node:x\"}]}"),
            "2:31: unknown policy \"node:x\" (expected \"consumer\", \"node:N\" or \"interleave\")"
        );
        assert_eq!(
            e("{\"version\": 1, \"sites\": [{\"file\": \"a.c\", \"line\": 3, \"policy\": \"consumer\"}]}"),
            "1:26: the site has no \"function\" (file:line alone is not supported: loci-alloc reads symbols, not DWARF line tables)"
        );
        assert_eq!(
            e("{\"version\": 1, \"sites\": [{\"function\": \"f\", \"polcy\": \"consumer\"}]}"),
            "1:44: unknown key \"polcy\" (a site has \"function\", \"offset\", \"module\", \"file\", \"line\", \"policy\")"
        );
        assert_eq!(
            e("{\"version\": 1, \"sites\": [{\"function\": \"f\", \"offset\": -4, \"policy\": \"consumer\"}]}"),
            "1:54: \"offset\" must be a non-negative integer or a \"0x...\" string"
        );
        assert_eq!(
            e("{\"version\": 1, \"sites\": [{\"function\": 7, \"policy\": \"consumer\"}]}"),
            "1:39: \"function\" must be a string, not a number"
        );
        assert_eq!(
            e("{\"version\": 1,\n \"sites\": [}"),
            "2:12: expected a value, found '}'"
        );
    }

    #[test]
    fn policies_parse_strictly() {
        assert_eq!(parse_policy("node:0"), Some(Policy::Node(0)));
        assert_eq!(parse_policy("node:17"), Some(Policy::Node(17)));
        assert_eq!(parse_policy("node:"), None);
        assert_eq!(parse_policy("node:+1"), None);
        assert_eq!(parse_policy("node:99999999999999999999999"), None);
        assert_eq!(parse_policy("Consumer"), None);
    }

    #[test]
    fn profile_handoff_sites_become_consumer_sites() {
        let profile = r#"{
  "version": 1,
  "sites": [
    {"function": "make_job", "file": "demo.c", "line": 21, "pc": "0x5555555551c9", "caller": {"function": "main", "file": "demo.c", "line": 40}, "objects": 8, "bytes": 800, "alloc_threads": [0], "class": "handoff", "reads": 0, "writes": 8, "atomics": 0, "threads": []},
    {"function": "main", "file": "demo.c", "line": 50, "pc": "0x1", "class": "private"},
    {"function": "make_job", "file": "demo.c", "line": 25, "pc": "0x2", "class": "handoff"},
    {"function": null, "file": null, "line": null, "pc": "0x3", "class": "handoff"},
    {"function": "ns::make(int)", "file": "x.cc", "line": 3, "pc": "0x4", "class": "handoff"},
    {"function": "other", "file": null, "line": null, "pc": "0x5", "class": "handoff"}
  ],
  "threads": []
}"#;
        let (json, skipped) = plan_json_from_profile(profile).unwrap();
        assert_eq!(
            json,
            "{\n  \"version\": 1,\n  \"sites\": [\n    {\"function\": \"make_job\", \"file\": \"demo.c\", \"line\": 21, \"policy\": \"consumer\"},\n    {\"function\": \"other\", \"policy\": \"consumer\"}\n  ]\n}\n"
        );
        assert_eq!(
            skipped,
            vec![
                "handoff site at pc 0x3 has no function name (build with symbols); left out".to_string(),
                "handoff site in ns::make(int) (pc 0x4): a demangled name, not an ELF symbol; left out".to_string(),
            ]
        );
        let plan = parse(&json).unwrap();
        assert_eq!(plan.sites.len(), 2);
        assert_eq!(
            plan_json_from_profile("{\"sites\": 3}")
                .unwrap_err()
                .to_string(),
            "1:11: \"sites\" must be an array"
        );
        let empty = plan_json_from_profile("{\"sites\": []}").unwrap().0;
        assert_eq!(empty, "{\n  \"version\": 1,\n  \"sites\": []\n}\n");
        assert_eq!(parse(&empty).unwrap(), Plan::default());
    }
}
