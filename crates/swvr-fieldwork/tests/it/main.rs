//! Integration tests of swvr-fieldwork.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calls;
mod common;
mod quality;
