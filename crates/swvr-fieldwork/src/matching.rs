//! Exact maximum percent match: for every interview of a group, the
//! smallest number of positions (items and demographics) in which it differs
//! from any other interview, the earliest such interview, and how many there
//! are. Not quadratic; see [`nearest`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

/// Largest code a position may take: `0` is "not asked" and `0xFF` is the
/// mask sentinel of the search.
pub const MAX_CODE: u8 = 0xFE;

/// Open patterns per position set below which direct scans replace a masked level.
const SCAN_FACTOR: u64 = 8;

/// The nearest other interview of one interview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nearest {
    /// Positions that differ (0 = an exact copy).
    pub distance: u32,
    /// Row (index into the input rows) of the earliest interview at that distance.
    pub closest: u32,
    /// Number of other interviews at that distance.
    pub count: u32,
}

/// FNV-style multiplicative hasher for u64 keys (keys are already mixed).
#[derive(Default)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<MixHasher>>;

fn mix(words: &[u64]) -> u64 {
    let mut h: u64 = 0x243F_6A88_85A3_08D3;
    for &w in words {
        h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 31;
    }
    h
}

/// Number of bytes that differ between two packed patterns.
#[inline]
fn distance(a: &[u64], b: &[u64]) -> u32 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let mut d = 0;
    for (x, y) in a.iter().zip(b) {
        let v = x ^ y;
        // High bit of each byte set when that byte of v is non-zero.
        let t = ((v & LOW7) + LOW7) | v;
        d += (t & !LOW7).count_ones();
    }
    d
}

/// Distinct patterns with the first two rows having each.
struct Distinct {
    words: Vec<u64>,
    first: Vec<u32>,
    second: Vec<u32>,
    count: Vec<u32>,
}

/// For each of `n` rows of `k` codes (row-major in `codes`, each ≤
/// [`MAX_CODE`]), the nearest other row by Hamming distance. Exact.
///
/// # Algorithm
/// 1. Rows collapse into distinct answer patterns (a hash map); a pattern
///    held by two or more rows gives those rows distance 0 (exact copies).
/// 2. Patterns held by one row are resolved level by level, `d = 1, 2, …`.
///    At level `d` every pattern still unresolved has no other pattern
///    within `d − 1`. For each set `S` of `d` positions, the patterns are
///    keyed by their codes with `S` masked out; an unresolved pattern that
///    shares its key with another pattern differs from it in at most the
///    `d` positions of `S`, hence in exactly `d`. Each such partner is found
///    under exactly one `S` (its set of differing positions), so the count
///    of rows at distance `d` is exact. Only the unresolved patterns'
///    keys are stored; every pattern is looked up once per `S`.
/// 3. A level costs `C(k, d)` hashed passes over the distinct patterns; a
///    direct scan costs one (cheaper, word-parallel) distance pass per
///    unresolved pattern. As soon as fewer than `8·C(k, d)` patterns remain
///    unresolved, the rest are resolved by direct scans (exact at any
///    distance).
///
/// Ties at the minimal distance go to the earliest row. The result does
/// not depend on the number of threads (minima and sums only).
pub fn nearest(codes: &[u8], n: usize, k: usize) -> Vec<Option<Nearest>> {
    if n < 2 || k == 0 {
        return vec![None; n];
    }
    let w = k.div_ceil(8);
    let d = dedup(codes, n, k, w);
    let np = d.first.len();
    // Per distinct pattern: (distance, closest row, count) once resolved.
    let mut best: Vec<Option<Nearest>> = (0..np)
        .map(|p| {
            (d.count[p] >= 2).then_some(Nearest {
                distance: 0,
                closest: d.first[p],
                count: d.count[p] - 1,
            })
        })
        .collect();
    let mut open: Vec<u32> = (0..np as u32).filter(|&p| best[p as usize].is_none()).collect();
    let mut level = 1usize;
    while !open.is_empty() && np > 1 {
        // A masked level costs C(k, level) hash passes over the patterns; a
        // direct scan one cheap distance pass per open pattern (~8× cheaper
        // per pattern than a hash lookup).
        let sets = binomial(k, level);
        if open.len() as u64 <= SCAN_FACTOR.saturating_mul(sets) || level > k {
            scan(&d, w, &open, &mut best);
            break;
        }
        level_pass(&d, w, k, level, &mut open, &mut best);
        level += 1;
    }
    // Rows: exact copies point at the earliest other copy.
    let mut row_pattern = vec![0u32; n];
    let mut out = vec![None; n];
    for_each_row_pattern(codes, n, k, w, &d, &mut row_pattern);
    for r in 0..n {
        let p = row_pattern[r] as usize;
        out[r] = best[p].map(|b| {
            if b.distance == 0 {
                let closest = if d.first[p] == r as u32 {
                    d.second[p]
                } else {
                    d.first[p]
                };
                Nearest { closest, ..b }
            } else {
                b
            }
        });
    }
    out
}

fn pack(row: &[u8], w: usize, out: &mut [u64]) {
    for (i, word) in out.iter_mut().enumerate().take(w) {
        let mut x = 0u64;
        for (j, &b) in row.iter().skip(i * 8).take(8).enumerate() {
            x |= u64::from(b) << (8 * j);
        }
        *word = x;
    }
}

fn dedup(codes: &[u8], n: usize, k: usize, w: usize) -> Distinct {
    let mut index: Map<u64, Vec<u32>> = Map::default();
    let mut d = Distinct {
        words: Vec::new(),
        first: Vec::new(),
        second: Vec::new(),
        count: Vec::new(),
    };
    let mut buf = vec![0u64; w];
    for r in 0..n {
        pack(&codes[r * k..(r + 1) * k], w, &mut buf);
        let h = mix(&buf);
        let bucket = index.entry(h).or_default();
        let found = bucket
            .iter()
            .copied()
            .find(|&p| d.words[p as usize * w..(p as usize + 1) * w] == buf[..]);
        match found {
            Some(p) => {
                let p = p as usize;
                if d.count[p] == 1 {
                    d.second[p] = r as u32;
                }
                d.count[p] += 1;
            }
            None => {
                bucket.push(d.first.len() as u32);
                d.words.extend_from_slice(&buf);
                d.first.push(r as u32);
                d.second.push(u32::MAX);
                d.count.push(1);
            }
        }
    }
    d
}

fn for_each_row_pattern(codes: &[u8], n: usize, k: usize, w: usize, d: &Distinct, out: &mut [u32]) {
    let mut index: Map<u64, Vec<u32>> = Map::default();
    for p in 0..d.first.len() {
        index
            .entry(mix(&d.words[p * w..(p + 1) * w]))
            .or_default()
            .push(p as u32);
    }
    let mut buf = vec![0u64; w];
    for (r, slot) in out.iter_mut().enumerate().take(n) {
        pack(&codes[r * k..(r + 1) * k], w, &mut buf);
        if let Some(bucket) = index.get(&mix(&buf)) {
            for &p in bucket {
                if d.words[p as usize * w..(p as usize + 1) * w] == buf[..] {
                    *slot = p;
                    break;
                }
            }
        }
    }
}

fn binomial(n: usize, k: usize) -> u64 {
    if k > n {
        return 0;
    }
    let mut c: u64 = 1;
    for i in 0..k as u64 {
        c = c.saturating_mul(n as u64 - i) / (i + 1);
    }
    c
}

/// Direct scans: each open pattern against every other pattern.
fn scan(d: &Distinct, w: usize, open: &[u32], best: &mut [Option<Nearest>]) {
    let np = d.first.len();
    let found: Vec<Nearest> = open
        .par_iter()
        .map(|&p| {
            let p = p as usize;
            let a = &d.words[p * w..(p + 1) * w];
            let mut b = Nearest {
                distance: u32::MAX,
                closest: u32::MAX,
                count: 0,
            };
            for q in 0..np {
                if q == p {
                    continue;
                }
                let dist = distance(a, &d.words[q * w..(q + 1) * w]);
                if dist < b.distance {
                    b = Nearest {
                        distance: dist,
                        closest: d.first[q],
                        count: d.count[q],
                    };
                } else if dist == b.distance {
                    b.closest = b.closest.min(d.first[q]);
                    b.count += d.count[q];
                }
            }
            b
        })
        .collect();
    for (&p, b) in open.iter().zip(found) {
        best[p as usize] = Some(b);
    }
}

/// Masks of every position set of size `level` out of `k` positions, as
/// word masks with 0xFF in the masked bytes.
fn masks(k: usize, level: usize, w: usize) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..level).collect();
    loop {
        let mut m = vec![0u64; w];
        for &i in &idx {
            m[i / 8] |= 0xFFu64 << (8 * (i % 8));
        }
        out.push(m);
        // Next combination in lexicographic order.
        let mut i = level;
        loop {
            if i == 0 {
                return out;
            }
            i -= 1;
            if idx[i] < k - level + i {
                idx[i] += 1;
                for j in i + 1..level {
                    idx[j] = idx[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// One level of the masked-key search (see [`nearest`]).
fn level_pass(d: &Distinct, w: usize, k: usize, level: usize, open: &mut Vec<u32>, best: &mut [Option<Nearest>]) {
    let np = d.first.len();
    let all_masks = masks(k, level, w);
    // For every mask: the hits (open index, closest row, rows) it finds.
    let hits: Vec<Vec<(u32, u32, u32)>> = all_masks
        .par_iter()
        .map(|m| {
            let key = |p: usize, buf: &mut [u64]| {
                for j in 0..w {
                    buf[j] = d.words[p * w + j] | m[j];
                }
            };
            let mut buf = vec![0u64; w];
            // Group of the open patterns' keys: (key words, best two (row, pattern), rows).
            struct Group {
                key: Vec<u64>,
                b1: (u32, u32),
                b2: (u32, u32),
                rows: u32,
            }
            let mut groups: Vec<Group> = Vec::new();
            let mut index: Map<u64, Vec<u32>> = Map::default();
            let mut member: Vec<u32> = Vec::with_capacity(open.len());
            for &p in open.iter() {
                key(p as usize, &mut buf);
                let bucket = index.entry(mix(&buf)).or_default();
                let g = match bucket.iter().copied().find(|&g| groups[g as usize].key == buf) {
                    Some(g) => g,
                    None => {
                        bucket.push(groups.len() as u32);
                        groups.push(Group {
                            key: buf.clone(),
                            b1: (u32::MAX, u32::MAX),
                            b2: (u32::MAX, u32::MAX),
                            rows: 0,
                        });
                        (groups.len() - 1) as u32
                    }
                };
                member.push(g);
            }
            for q in 0..np {
                key(q, &mut buf);
                let Some(bucket) = index.get(&mix(&buf)) else {
                    continue;
                };
                let Some(g) = bucket.iter().copied().find(|&g| groups[g as usize].key == buf) else {
                    continue;
                };
                let g = &mut groups[g as usize];
                let cand = (d.first[q], q as u32);
                if cand < g.b1 {
                    g.b2 = g.b1;
                    g.b1 = cand;
                } else if cand < g.b2 {
                    g.b2 = cand;
                }
                g.rows += d.count[q];
            }
            let mut out = Vec::new();
            for (i, &p) in open.iter().enumerate() {
                let g = &groups[member[i] as usize];
                // The open pattern itself is one row of its group.
                if g.rows > 1 {
                    let other = if g.b1.1 == p { g.b2 } else { g.b1 };
                    out.push((i as u32, other.0, g.rows - 1));
                }
            }
            out
        })
        .collect();
    let mut found: Vec<Option<Nearest>> = vec![None; open.len()];
    for list in hits {
        for (i, row, rows) in list {
            let f = &mut found[i as usize];
            *f = Some(match *f {
                None => Nearest {
                    distance: level as u32,
                    closest: row,
                    count: rows,
                },
                Some(b) => Nearest {
                    distance: level as u32,
                    closest: b.closest.min(row),
                    count: b.count + rows,
                },
            });
        }
    }
    let mut still = Vec::new();
    for (i, &p) in open.iter().enumerate() {
        match found[i] {
            Some(b) => best[p as usize] = Some(b),
            None => still.push(p),
        }
    }
    *open = still;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Brute force over all pairs.
    pub(crate) fn brute(codes: &[u8], n: usize, k: usize) -> Vec<Option<Nearest>> {
        (0..n)
            .map(|i| {
                let mut b: Option<Nearest> = None;
                for j in 0..n {
                    if i == j {
                        continue;
                    }
                    let dist = (0..k).filter(|&p| codes[i * k + p] != codes[j * k + p]).count() as u32;
                    b = Some(match b {
                        Some(x) if x.distance < dist => x,
                        Some(x) if x.distance == dist => Nearest {
                            count: x.count + 1,
                            ..x
                        },
                        _ => Nearest {
                            distance: dist,
                            closest: j as u32,
                            count: 1,
                        },
                    });
                }
                b
            })
            .collect()
    }

    fn lcg(x: &mut u64) -> u64 {
        *x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *x >> 33
    }

    #[test]
    fn distance_counts_differing_bytes() {
        let a = [0x0102_0304_0506_0708u64, 0xFF];
        let b = [0x0102_0304_0506_0700u64, 0x00];
        assert_eq!(distance(&a, &b), 2);
        assert_eq!(distance(&a, &a), 0);
        assert_eq!(distance(&[0x8000_0000_0000_0080], &[0]), 2);
    }

    #[test]
    fn masks_enumerate_every_combination() {
        assert_eq!(masks(5, 2, 1).len(), 10);
        assert_eq!(masks(22, 3, 3).len(), 1540);
        assert_eq!(binomial(22, 3), 1540);
    }

    #[test]
    fn agrees_with_brute_force_on_random_data_with_planted_copies() {
        let mut x = 7u64;
        for (case, &(n, k, codes_per)) in [
            (300, 22, 4),
            (200, 9, 2),
            (500, 17, 3),
            (60, 30, 9),
            (2, 5, 3),
            (400, 12, 6),
        ]
        .iter()
        .enumerate()
        {
            let mut codes: Vec<u8> = (0..n * k).map(|_| (lcg(&mut x) % codes_per) as u8).collect();
            // Planted exact copies and near copies (1–3 positions changed).
            for c in 0..n / 10 {
                let src = (lcg(&mut x) as usize) % n;
                let dst = (lcg(&mut x) as usize) % n;
                if src == dst {
                    continue;
                }
                let row: Vec<u8> = codes[src * k..(src + 1) * k].to_vec();
                codes[dst * k..(dst + 1) * k].copy_from_slice(&row);
                for _ in 0..(c % 4) {
                    let p = (lcg(&mut x) as usize) % k;
                    codes[dst * k + p] = (lcg(&mut x) % codes_per) as u8;
                }
            }
            let got = nearest(&codes, n, k);
            let want = brute(&codes, n, k);
            assert_eq!(got, want, "case {case}");
        }
    }

    #[test]
    fn far_apart_patterns_resolve_by_scan_at_any_distance() {
        // 3 rows, all 10 positions different between each pair except row 2 ~ row 0 in 2 places.
        let k = 10;
        let mut codes = vec![1u8; k];
        codes.extend(vec![2u8; k]);
        let mut r2 = vec![3u8; k];
        r2[0] = 1;
        r2[5] = 1;
        codes.extend(r2);
        let got = nearest(&codes, 3, k);
        assert_eq!(got, brute(&codes, 3, k));
        assert_eq!(got[0].unwrap().distance, 8);
        assert_eq!(got[1].unwrap().distance, 10);
        assert_eq!(got[1].unwrap().count, 2);
    }

    #[test]
    fn single_row_has_no_nearest() {
        assert_eq!(nearest(&[1, 2, 3], 1, 3), vec![None]);
    }
}
