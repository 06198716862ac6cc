//! The set of (country, wave, respondent_id) keys seen so far, for
//! `duplicate_id`, in about 25 bytes per key.
//!
//! Keys are hashed where records are validated ([`Batch::push`], any
//! thread) with their (country, wave) as a code; the set, filled in file
//! order by one thread, replaces the code by a small group number. Each key is stored
//! once in an arena of 1 MiB blocks as `varint(group) varint(len) id`
//! (about 12 bytes for a 10-byte id; no allocation per key, and blocks are
//! never reallocated). An open-addressing table of `u64` slots holds, for
//! each key, 24 bits of its hash and the key's 40-bit arena position; a
//! lookup compares the full key bytes whenever the 24 bits match, so the
//! answer is exact. The table is kept at most 3/4 full and rebuilt at
//! double size by reading the arena in order.

/// Bytes per arena block (a key never straddles blocks; a longer key gets a
/// block of its own).
const BLOCK: usize = 1 << 20;

/// Bits of a slot holding the arena position (block index × `BLOCK` + offset).
const POS_BITS: u32 = 40;
const POS_MASK: u64 = (1 << POS_BITS) - 1;

/// 64-bit hash of (group, id): 8 bytes at a time (FxHash step), then the
/// murmur3 finaliser so every bit depends on every input bit.
fn hash(code: u64, id: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = (code.rotate_left(32) ^ id.len() as u64).wrapping_mul(K);
    let mut chunks = id.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Byte by byte: no copy through memory (a store-forwarding stall).
        let w = rest.iter().rev().fold(0u64, |w, &b| (w << 8) | u64::from(b));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*p`, advancing `p`.
fn get_varint(b: &[u8], p: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let x = b[*p];
        *p += 1;
        v |= u64::from(x & 0x7F) << shift;
        if x < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Keys waiting to be inserted together: (hash, (country, wave) code,
/// start, end in `bytes`).
#[derive(Default)]
pub(crate) struct Batch {
    keys: Vec<(u64, u64, usize, usize)>,
    bytes: Vec<u8>,
}

impl Batch {
    /// Adds the key (`code` of its (country, wave), trimmed id).
    pub(crate) fn push(&mut self, code: u64, id: &[u8]) {
        let s = self.bytes.len();
        self.bytes.extend_from_slice(id);
        self.keys.push((hash(code, id), code, s, self.bytes.len()));
    }
    /// The (country, wave) code of key `i`.
    pub(crate) fn code(&self, i: usize) -> u64 {
        self.keys[i].1
    }
    /// The id of key `i`.
    pub(crate) fn id(&self, i: usize) -> &[u8] {
        let (_, _, s, e) = self.keys[i];
        &self.bytes[s..e]
    }
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.bytes.clear();
    }
}

/// An exact set of (group, id) keys.
#[derive(Default)]
pub(crate) struct KeySet {
    /// 0 = empty; else `tag << 40 | (pos + 1)` with `tag` the top 24 bits of the hash.
    table: Vec<u64>,
    len: usize,
    /// Arena blocks; position `b * BLOCK + o` is offset `o` of block `b`
    /// (a key longer than a block is alone in its block, at offset 0).
    blocks: Vec<Vec<u8>>,
    /// The (country, wave) code of each group number, and the reverse.
    codes: Vec<u64>,
    groups: std::collections::HashMap<u64, u32>,
    last: Option<(u64, u32)>,
}

impl KeySet {
    /// The (group, id) stored at arena position `pos`.
    fn key_at(&self, pos: u64) -> (u32, &[u8]) {
        let block = &self.blocks[(pos / BLOCK as u64) as usize];
        let mut p = (pos % BLOCK as u64) as usize;
        let group = get_varint(block, &mut p) as u32;
        let len = get_varint(block, &mut p) as usize;
        (group, &block[p..p + len])
    }

    fn tag(h: u64) -> u64 {
        h >> POS_BITS
    }

    /// Inserts (code, id); false when it was already present.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, code: u32, id: &[u8]) -> bool {
        let g = self.group(u64::from(code));
        self.insert_hashed(hash(u64::from(code), id), g, id)
    }

    /// The group number of a (country, wave) code (numbered in order of
    /// first appearance).
    #[inline]
    fn group(&mut self, code: u64) -> u32 {
        match self.last {
            Some((c, g)) if c == code => g,
            _ => {
                let n = self.codes.len() as u32;
                let g = *self.groups.entry(code).or_insert(n);
                if g == n {
                    self.codes.push(code);
                }
                self.last = Some((code, g));
                g
            }
        }
    }

    /// Inserts a batch of keys in order; `out[i]` is false when key `i` was
    /// already present (earlier in the set or in the batch). The table slots
    /// of the whole batch are read first, so their cache misses overlap.
    pub(crate) fn insert_batch(&mut self, batch: &Batch, out: &mut Vec<bool>) {
        out.clear();
        if (self.len + batch.keys.len()) * 4 > self.table.len() * 3 {
            let mut n = self.table.len().max(16);
            while (self.len + batch.keys.len()) * 4 > n * 3 {
                n *= 2;
            }
            self.rebuild(n);
        }
        let mask = self.table.len() - 1;
        // Groups of 256: their slots stay in the cache and the TLB between
        // the two passes.
        for group in batch.keys.chunks(256) {
            let mut touch = 0u64;
            for &(h, _, _, _) in group {
                touch ^= self.table[(h as usize) & mask];
            }
            std::hint::black_box(touch);
            for &(h, code, s, e) in group {
                let g = self.group(code);
                let fresh = self.insert_hashed(h, g, &batch.bytes[s..e]);
                out.push(fresh);
            }
        }
    }

    /// Sizes the table for `n` keys in all (no shrinking).
    pub(crate) fn reserve(&mut self, n: usize) {
        let mut size = self.table.len().max(16);
        while n.saturating_mul(4) > size.saturating_mul(3) && size < 1 << 40 {
            size *= 2;
        }
        if size > self.table.len() {
            self.rebuild(size);
        }
    }

    fn insert_hashed(&mut self, h: u64, group: u32, id: &[u8]) -> bool {
        if (self.len + 1) * 4 > self.table.len() * 3 {
            let n = (self.table.len() * 2).max(16);
            self.rebuild(n);
        }
        let tag = Self::tag(h);
        let mask = self.table.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let s = self.table[i];
            if s == 0 {
                break;
            }
            if s >> POS_BITS == tag {
                let (g, k) = self.key_at((s & POS_MASK) - 1);
                if g == group && k == id {
                    return false;
                }
            }
            i = (i + 1) & mask;
        }
        let pos = self.append(group, id);
        self.table[i] = (tag << POS_BITS) | (pos + 1);
        self.len += 1;
        true
    }

    /// Stores the key in the arena; returns its position.
    fn append(&mut self, group: u32, id: &[u8]) -> u64 {
        let need = varint_len(u64::from(group)) + varint_len(id.len() as u64) + id.len();
        if self.blocks.last().is_none_or(|b| b.len() + need > BLOCK) {
            self.blocks.push(Vec::with_capacity(need.max(BLOCK)));
        }
        let nb = self.blocks.len() - 1;
        let b = &mut self.blocks[nb];
        let pos = (nb * BLOCK + b.len()) as u64;
        put_varint(b, u64::from(group));
        put_varint(b, id.len() as u64);
        b.extend_from_slice(id);
        pos
    }

    /// Rebuilds the table with `n` slots (a power of two), re-inserting
    /// every key in arena order.
    fn rebuild(&mut self, n: usize) {
        self.table = Vec::new();
        self.table = vec![0; n];
        let mask = n - 1;
        for (bi, block) in self.blocks.iter().enumerate() {
            let mut p = 0;
            while p < block.len() {
                let start = p;
                let group = get_varint(block, &mut p) as u32;
                let len = get_varint(block, &mut p) as usize;
                let h = hash(self.codes[group as usize], &block[p..p + len]);
                p += len;
                let mut i = (h as usize) & mask;
                while self.table[i] != 0 {
                    i = (i + 1) & mask;
                }
                self.table[i] = (Self::tag(h) << POS_BITS) | ((bi * BLOCK + start) as u64 + 1);
            }
        }
    }

    /// Bytes held (table and arena).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.table.len() * 8 + self.blocks.iter().map(Vec::capacity).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_membership() {
        let mut s = KeySet::default();
        for i in 0..10_000u32 {
            assert!(s.insert(i % 3, format!("KEN{i}").as_bytes()));
        }
        for i in 0..10_000u32 {
            assert!(!s.insert(i % 3, format!("KEN{i}").as_bytes()));
            assert!(s.insert(i % 3 + 1, format!("KEN{i}").as_bytes()));
            assert!(!s.insert(i % 3 + 1, format!("KEN{i}").as_bytes()));
        }
        assert!(s.insert(0, b""));
        assert!(!s.insert(0, b""));
        assert!(s.insert(300, b""));
        assert_ne!(hash(0, b"ab"), hash(0, b"ab\0"));
    }

    #[test]
    fn long_keys_and_many_blocks() {
        let mut s = KeySet::default();
        let long = vec![b'x'; 3 * BLOCK + 5];
        assert!(s.insert(1, &long));
        for i in 0..200_000u32 {
            assert!(s.insert(7, format!("SEN-{i:08}").as_bytes()));
        }
        assert!(!s.insert(1, &long));
        let mut longer = long.clone();
        longer.push(b'y');
        assert!(s.insert(1, &longer));
        assert!(!s.insert(1, &longer));
        assert!(!s.insert(7, b"SEN-00000000"));
        assert!(!s.insert(7, b"SEN-00199999"));
        assert!(s.insert(7, b"SEN-00200000"));
        assert!(s.bytes() < 200_000 * 40 + 9 * BLOCK, "{}", s.bytes());
    }

    #[test]
    fn a_colliding_tag_is_resolved_by_the_key_bytes() {
        // Keys whose table slots and tags coincide still differ exactly.
        let mut s = KeySet::default();
        for i in 0..5_000u32 {
            let k = i.to_le_bytes();
            assert!(s.insert(0, &k));
            assert!(!s.insert(0, &k));
        }
        assert_eq!(s.len, 5_000);
    }

    #[test]
    fn batches_agree_with_single_inserts() {
        let mut one = KeySet::default();
        let mut many = KeySet::default();
        let mut b = Batch::default();
        let mut out = Vec::new();
        let mut got = Vec::new();
        let mut want = Vec::new();
        for i in 0..50_000u32 {
            let id = format!("X{}", (i * 7919) % 10_007);
            want.push(one.insert(i % 2, id.as_bytes()));
            b.push(u64::from(i % 2), id.as_bytes());
            if b.len() == 333 {
                many.insert_batch(&b, &mut out);
                got.extend_from_slice(&out);
                b.clear();
            }
        }
        many.insert_batch(&b, &mut out);
        got.extend_from_slice(&out);
        assert_eq!(got, want);
        many.reserve(1_000_000);
        assert!(many.table.len() >= 1_333_333);
        assert!(!many.insert(0, b"X0"));
        assert!(want.iter().any(|&f| !f));
    }
}
