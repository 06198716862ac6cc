//! Integration tests of swvr-tabulate.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod contrasts;
mod direct;
mod outputs;
mod r_agreement;
mod replicate;
