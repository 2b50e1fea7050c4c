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

/// Loads a model: a built-in name, or a `.cat` file whose `include`s are
/// looked up beside it.
pub fn load(spec: &str) -> Result<Model, LoadError> {
    if let Some(src) = builtin_source(spec) {
        if !spec.contains('/') && !Path::new(spec).exists() {
            return Model::parse(&format!("{spec}.cat"), src, &|_| None).map_err(LoadError::Cat);
        }
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
                "cannot read model '{p}': {e} (built-in models: {})",
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
