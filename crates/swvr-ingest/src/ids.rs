//! The set of (country, wave, respondent_id) keys seen so far, for
//! `duplicate_id`. Keys live in 1 MiB blocks (no allocation per row); the
//! table maps a 64-bit hash to the first key with that hash; a key whose
//! hash is taken by a different key goes to an overflow set, so the answer
//! is exact.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Passes a `u64` that is already a good hash through.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// 64-bit hash of a short byte string: 8 bytes at a time (FxHash step),
/// then the murmur3 finaliser so every bit depends on every input bit.
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Bytes per arena block (keys never straddle blocks, so no block is ever
/// reallocated: memory grows by whole blocks, without doubling peaks).
const BLOCK: usize = 1 << 20;

/// An exact set of byte-string keys, about 40 bytes per key plus the key.
#[derive(Default)]
pub(crate) struct KeySet {
    /// Hash → location of the first key with that hash (block 24 bits,
    /// offset 20 bits, length 20 bits; longer keys go to `long`).
    table: HashMap<u64, u64, BuildHasherDefault<Identity>>,
    /// Further keys whose hash is already in `table` (astronomically rare
    /// for distinct keys), and keys too long to pack.
    overflow: HashMap<Vec<u8>, ()>,
    blocks: Vec<Vec<u8>>,
}

impl KeySet {
    fn get(&self, loc: u64) -> &[u8] {
        let block = (loc >> 40) as usize;
        let off = ((loc >> 20) & 0xF_FFFF) as usize;
        let len = (loc & 0xF_FFFF) as usize;
        &self.blocks[block][off..off + len]
    }

    /// Inserts `key`; false when it was already present.
    pub(crate) fn insert(&mut self, key: &[u8]) -> bool {
        let h = hash(key);
        match self.table.get(&h) {
            Some(&loc) => {
                if self.get(loc) == key {
                    return false;
                }
                self.overflow.insert(key.to_vec(), ()).is_none()
            }
            None if key.len() >= BLOCK || self.blocks.len() >= 1 << 24 => {
                if self.overflow.contains_key(key) {
                    return false;
                }
                self.overflow.insert(key.to_vec(), ());
                true
            }
            None => {
                if self.blocks.last().is_none_or(|b| b.len() + key.len() > BLOCK) {
                    self.blocks.push(Vec::with_capacity(BLOCK));
                }
                let block = self.blocks.len() - 1;
                let b = &mut self.blocks[block];
                let loc = ((block as u64) << 40) | ((b.len() as u64) << 20) | key.len() as u64;
                b.extend_from_slice(key);
                self.table.insert(h, loc);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_membership() {
        let mut s = KeySet::default();
        for i in 0..10_000u32 {
            assert!(s.insert(format!("KEN{i}").as_bytes()));
        }
        for i in 0..10_000u32 {
            assert!(!s.insert(format!("KEN{i}").as_bytes()));
        }
        assert!(s.insert(b""));
        assert!(!s.insert(b""));
        assert_ne!(hash(b"ab"), hash(b"ab\0"));
    }
}
