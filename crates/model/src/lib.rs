//! loci-model: litmus tests, candidate executions and memory models.
//!
//! The pipeline: [`litmus::parse`] reads a herd7-syntax test and lowers its
//! threads to IR through the [`front`] ends; [`exec::run`] enumerates its
//! candidate executions and judges each with a memory model written in
//! herd7's cat language ([`cat`], built-in models in [`models`]);
//! [`report`] prints the result in herd7's format.
//!
//! ```
//! let src = "AArch64 SB\n{ 0:X1=x; 0:X3=y; 1:X1=y; 1:X3=x; }\n\
//!  P0          | P1          ;\n\
//!  MOV W0,#1   | MOV W0,#1   ;\n\
//!  STR W0,[X1] | STR W0,[X1] ;\n\
//!  LDR W2,[X3] | LDR W2,[X3] ;\n\
//! exists (0:X2=0 /\\ 1:X2=0)\n";
//! let test = loci_model::litmus::parse("SB.litmus", src).unwrap();
//! let model = loci_model::models::load("aarch64").unwrap();
//! let out = loci_model::exec::run(&test, &model, &Default::default()).unwrap();
//! assert_eq!(out.observation().as_str(), "Sometimes");
//! assert_eq!(out.states.len(), 4);
//! ```
#![deny(missing_docs)]

pub mod cat;
pub mod exec;
pub mod front;
pub mod ir;
pub mod litmus;
pub mod models;
pub mod rel;
pub mod report;
