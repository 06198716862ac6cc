//! Integration tests of swvr-weight.
#![allow(clippy::unwrap_used, missing_docs)]

mod base;
mod calibration;
mod errors;
mod fuzz;
mod harness;
mod margins;
#[path = "../../../swvr-core/tests/mutate/mod.rs"]
mod mutate;
mod raking;
mod reference;
mod replicates;
mod scheme;
