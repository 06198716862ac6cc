//! Mutation of byte strings for the property-based fuzz tests of every
//! crate (included by path: `#[path = "…/swvr-core/tests/mutate/mod.rs"]`),
//! and the number of cases: `SWVR_FUZZ_CASES`, else each test's default
//! (docs/fuzzing.md).

#![allow(dead_code)]

use proptest::prelude::*;

/// Cases per property: `SWVR_FUZZ_CASES`, else `default`.
pub fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("SWVR_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One edit of a byte string: where, what, and the bytes it brings.
#[derive(Debug, Clone)]
pub struct Edit {
    pub op: u8,
    pub pos: usize,
    pub bytes: Vec<u8>,
}

pub fn edits(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<Edit>> {
    let byte = prop_oneof![4 => proptest::sample::select(alphabet), 1 => any::<u8>()];
    proptest::collection::vec(
        (0u8..5, any::<usize>(), proptest::collection::vec(byte, 1..8)).prop_map(|(op, pos, bytes)| Edit {
            op,
            pos,
            bytes,
        }),
        1..max,
    )
}

/// `base` with the edits applied: insert, delete, overwrite, copy a slice
/// elsewhere (duplicated lines and sections), truncate.
pub fn apply(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in edits {
        let pos = e.pos % (v.len() + 1);
        match e.op {
            0 => {
                v.splice(pos..pos, e.bytes.iter().copied());
            }
            1 => {
                let end = (pos + e.bytes.len() * 7).min(v.len());
                v.drain(pos..end);
            }
            2 => {
                for (i, b) in e.bytes.iter().enumerate() {
                    if let Some(x) = v.get_mut(pos + i) {
                        *x = *b;
                    }
                }
            }
            3 => {
                let len = (e.bytes[0] as usize * 3).min(v.len() - pos);
                let piece: Vec<u8> = v[pos..pos + len].to_vec();
                let at = (e.pos / 7) % (v.len() + 1);
                v.splice(at..at, piece);
            }
            _ => v.truncate(pos.max(v.len().saturating_sub(e.bytes.len() * 40))),
        }
    }
    v
}
