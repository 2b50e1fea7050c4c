//! loci-fence: find redundant, mergeable and over-strong memory barriers in
//! AArch64 and x86-64 assembly, and remove them soundly.
//!
//! Pipeline: [`source`] splits GNU-as or `objdump -d` text into statements;
//! [`aarch64`] and [`x86`] map instructions to abstract [`effect`]s;
//! [`program`] builds functions and control-flow graphs; [`dataflow`]
//! computes, at every barrier, which orderings other barriers already
//! provide on every path; [`analyse`] turns that into findings and
//! [`rewrite`] into a new file. [`rules`] holds the rewrite rules with the
//! litmus tests (run by loci-model) that show each is sound.
#![deny(missing_docs)]

pub mod aarch64;
pub mod analyse;
pub mod arch;
pub mod dataflow;
pub mod effect;
pub mod program;
pub mod rewrite;
pub mod rules;
pub mod source;
pub mod x86;
