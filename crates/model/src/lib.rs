//! loci-model: litmus tests, candidate executions and memory models.
#![deny(missing_docs)]

pub mod ir;
pub mod rel;
