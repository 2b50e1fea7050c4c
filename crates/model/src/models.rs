//! The built-in memory models: loci's own cat files, embedded in the
//! binary, and the defaults per architecture (as herd7's).

use crate::cat::{CatError, Model};
use crate::litmus::Arch;
use std::path::Path;

/// (name, source) of every built-in model.
pub const BUILTIN: &[(&str, &str)] = &[
    ("aarch64", include_str!("../models/aarch64.cat")),
    ("x86tso", include_str!("../models/x86tso.cat")),
    ("sc", include_str!("../models/sc.cat")),
    ("rc11", include_str!("../models/rc11.cat")),
];

/// The default model of an architecture: AArch64 → `aarch64`,
/// X86/X86_64 → `x86tso`, C → `rc11`.
pub fn default_for(arch: Arch) -> &'static str {
    match arch {
        Arch::AArch64 => "aarch64",
        Arch::X86 | Arch::X86_64 => "x86tso",
        Arch::C => "rc11",
    }
}

/// The source of built-in model `name` (with or without `.cat`).
pub fn builtin_source(name: &str) -> Option<&'static str> {
    let n = name.strip_suffix(".cat").unwrap_or(name);
    BUILTIN.iter().find(|(k, _)| *k == n).map(|(_, s)| *s)
}

/// Whether `spec` names a built-in model rather than a file: a bare name
/// (no `/`, no `.cat`) that is built in, or `NAME.cat` for a built-in NAME
/// when no such file exists.
pub fn is_builtin(spec: &str) -> bool {
    builtin_source(spec).is_some()
        && !spec.contains('/')
        && (!spec.ends_with(".cat") || !Path::new(spec).is_file())
}

/// Loads a model: a built-in name, or a `.cat` file whose `include`s are
/// looked up beside it.
pub fn load(spec: &str) -> Result<Model, LoadError> {
    if is_builtin(spec) {
        let name = spec.strip_suffix(".cat").unwrap_or(spec);
        let src = builtin_source(name).unwrap();
        return Model::parse(&format!("{name}.cat"), src, &|_| None).map_err(LoadError::Cat);
    }
    if !spec.contains('/') && !spec.ends_with(".cat") {
        return Err(LoadError::Io(
            spec.to_string(),
            "no such built-in model".into(),
        ));
    }
    let path = Path::new(spec);
    let src = std::fs::read_to_string(path)
        .map_err(|e| LoadError::Io(spec.to_string(), e.to_string()))?;
    let dir = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let resolve = move |f: &str| -> Option<(String, String)> {
        let p = dir.join(f);
        std::fs::read_to_string(&p)
            .ok()
            .map(|s| (p.display().to_string(), s))
    };
    Model::parse(&path.display().to_string(), &src, &resolve).map_err(LoadError::Cat)
}

/// Why a model could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io(String, String),
    /// The cat text is wrong.
    Cat(CatError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(p, e) => write!(
                f,
                "cannot read model '{p}': {e} (built-in models: {}; a file needs a '/' or a .cat suffix)",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            LoadError::Cat(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_never_touch_the_filesystem() {
        // A bare name is decided without looking at the filesystem, so a
        // directory `./aarch64` cannot shadow the built-in model.
        assert!(is_builtin("aarch64") && is_builtin("rc11"));
        assert!(!is_builtin("./aarch64.cat") && !is_builtin("nosuch"));
        assert!(load("aarch64").is_ok());
        assert!(load("x86tso.cat").is_ok());
        assert!(load("nosuchmodel")
            .unwrap_err()
            .to_string()
            .contains("built-in models"));
        assert!(load("./nosuch.cat").is_err());
    }
}
