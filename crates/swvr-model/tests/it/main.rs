//! Integration tests of `swvr model`: agreement with R's survey package,
//! hard cases (separation, singular designs), the spec file, the outputs.

#![allow(clippy::unwrap_used)] // tests unwrap

mod common;
mod files;
mod fuzz;
mod hard_cases;
#[path = "../../../swvr-core/tests/mutate/mod.rs"]
mod mutate;
mod r_agreement;
mod replicate;
mod spec;
