//! Integration tests of swvr-weight.
#![allow(clippy::unwrap_used, missing_docs)]

mod base;
mod calibration;
mod errors;
mod harness;
mod margins;
mod raking;
mod reference;
mod scheme;
