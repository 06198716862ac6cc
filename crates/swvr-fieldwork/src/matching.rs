//! Exact maximum percent match: for every interview of a group, the
//! smallest number of positions (items and demographics) in which it differs
//! from any other interview, the earliest such interview, and how many there
//! are. Not quadratic; see [`nearest`].

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

/// Largest code a position may take (`0` is "not asked").
pub const MAX_CODE: u8 = 0xFE;

/// Tuning of the search; the result does not depend on it.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// Groups of at most this many patterns compare their members pairwise.
    small: usize,
    /// Groups with at most this many open patterns compare them with every
    /// member directly.
    direct: usize,
    /// Groups of at least this many patterns search their sub-groups in parallel.
    par_min: usize,
    /// A direct scan of the open patterns replaces the next level once it
    /// costs at most this many times the previous level's work.
    scan_factor: u64,
}

const TUNING: Tuning = Tuning {
    small: 16,
    direct: 6,
    par_min: 1 << 13,
    scan_factor: 4,
};

/// Widest packed pattern handled by the partition search, in 64-bit words
/// (at least 500 positions); wider questionnaires use a direct comparison
/// of the distinct patterns.
const MAX_WORDS: usize = 64;

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

/// For each of `n` rows of `k` codes (row-major in `codes`, each ≤
/// [`MAX_CODE`]), the nearest other row by Hamming distance. Exact.
///
/// # Algorithm
/// 1. Every row is packed into a few 64-bit words: each position's code in
///    as many bits as its largest code needs, positions in decreasing order
///    of entropy, the row number in the low bits. Sorting the packed rows
///    collapses them into distinct answer patterns; a pattern held by two
///    or more rows gives those rows distance 0 (exact copies).
/// 2. Patterns held by one row are resolved level by level, `d = 1, 2, …`.
///    At level `d` every pattern still *open* has no other pattern within
///    `d − 1`, so a pattern that agrees with it everywhere outside a set `S`
///    of `d` positions differs from it in exactly the positions of `S`.
///    Instead of grouping every pattern once per set `S` (`C(k, d)` passes
///    over all patterns), one recursive partition enumerates the sets and
///    the groups together: at position `j` a group either splits by its
///    code at `j` (a counting sort of the packed patterns) or keeps `j` as a
///    skipped position of `S`; a path that has skipped `d` positions groups
///    the patterns that agree outside them. Pruned: groups without an open
///    pattern, groups of one, skips of a position on which the whole group
///    agrees, and groups in which some skipped position has a single code
///    (a pair found below must differ at every skipped position). After a
///    handful of splits almost every group is pruned.
/// 3. Small groups, and groups holding only a few open patterns, compare
///    each open pattern with every member directly (a popcount over the
///    packed words), keeping a pair only when it differs in exactly the
///    positions the path skipped; so every pair at distance `d` is counted
///    once, under its own set of differing positions, and the count of rows
///    at the closest distance and the earliest of them are exact.
/// 4. Once a direct scan of the patterns still open (one comparison with
///    every pattern) costs less than a few times the previous level's work,
///    the scan resolves the rest (exact at any distance).
///
/// Ties at the minimal distance go to the earliest row. The result does
/// not depend on the number of threads or on the tuning (minima and sums
/// only).
pub fn nearest(codes: &[u8], n: usize, k: usize) -> Vec<Option<Nearest>> {
    nearest_tuned(codes, n, k, TUNING)
}

fn nearest_tuned(codes: &[u8], n: usize, k: usize, tuning: Tuning) -> Vec<Option<Nearest>> {
    if n < 2 || k == 0 {
        return vec![None; n];
    }
    let layout = Layout::new(codes, n, k);
    match layout.words {
        0..=1 => search::<1>(codes, n, &layout, tuning),
        2 => search::<2>(codes, n, &layout, tuning),
        3 => search::<3>(codes, n, &layout, tuning),
        4 => search::<4>(codes, n, &layout, tuning),
        5..=8 => search::<8>(codes, n, &layout, tuning),
        9..=16 => search::<16>(codes, n, &layout, tuning),
        17..=MAX_WORDS => search::<MAX_WORDS>(codes, n, &layout, tuning),
        _ => quadratic(codes, n, k),
    }
}

/// Where each position's code lives in a packed pattern.
struct Layout {
    k: usize,
    /// Questionnaire position of each search position.
    order: Vec<usize>,
    /// Per search position: word, shift and width of its field.
    word: Vec<usize>,
    shift: Vec<u32>,
    bits: Vec<u32>,
    /// Words needed (the codes and 33 low bits for the id and open flag).
    words: usize,
}

/// Low 32 bits of the last word: the pattern (or row) number.
const ID_BITS: u64 = 0xFFFF_FFFF;
/// Bit 32 of the last word: the pattern is open.
const OPEN_BIT: u64 = 1 << 32;

impl Layout {
    /// Positions in decreasing order of entropy (ties: questionnaire order),
    /// each in the bits its largest code needs, fields not crossing words.
    fn new(codes: &[u8], n: usize, k: usize) -> Layout {
        let stats: Vec<(f64, u8)> = (0..k)
            .into_par_iter()
            .map(|j| {
                let mut hist = [0u64; 256];
                for r in 0..n {
                    hist[usize::from(codes[r * k + j])] += 1;
                }
                let total = n as f64;
                let entropy: f64 = hist
                    .iter()
                    .filter(|&&c| c > 0)
                    .map(|&c| {
                        let p = c as f64 / total;
                        -p * p.ln()
                    })
                    .sum();
                let max = hist.iter().rposition(|&c| c > 0).unwrap_or(0) as u8;
                (entropy, max)
            })
            .collect();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| stats[b].0.total_cmp(&stats[a].0).then(a.cmp(&b)));
        let (mut word, mut shift, mut bits) = (Vec::new(), Vec::new(), Vec::new());
        let (mut w, mut free) = (0usize, 64u32);
        for &j in &order {
            let b = (8 - stats[j].1.leading_zeros()).max(1);
            if b > free {
                w += 1;
                free = 64;
            }
            free -= b;
            word.push(w);
            shift.push(free);
            bits.push(b);
        }
        let words = if free >= 33 { w + 1 } else { w + 2 };
        Layout {
            k,
            order,
            word,
            shift,
            bits,
            words,
        }
    }
}

/// Masks over packed patterns of `W` words.
struct Masks<const W: usize> {
    /// Every bit of each field except its top bit.
    lo: [u64; W],
    /// The top bit of each field of the positions `j..`, per `j` in `0..=k`.
    hi_from: Vec<[u64; W]>,
    /// Every bit of the field of position `j`.
    field: Vec<[u64; W]>,
    /// Word, shift and width of the field of position `j`.
    word: Vec<usize>,
    shift: Vec<u32>,
    bits: Vec<u32>,
}

impl<const W: usize> Masks<W> {
    fn new(l: &Layout) -> Self {
        let mut lo = [0u64; W];
        let mut field = vec![[0u64; W]; l.k];
        let mut hi_from = vec![[0u64; W]; l.k + 1];
        for j in (0..l.k).rev() {
            let (w, s, b) = (l.word[j], l.shift[j], l.bits[j]);
            let all = ((1u128 << b) - 1) as u64;
            field[j][w] = all << s;
            lo[w] |= (all >> 1) << s;
            hi_from[j] = hi_from[j + 1];
            hi_from[j][w] |= 1 << (s + b - 1);
        }
        Masks {
            lo,
            hi_from,
            field,
            word: l.word.clone(),
            shift: l.shift.clone(),
            bits: l.bits.clone(),
        }
    }

    /// Top bit of each field of `a ^ b` that differs, per word.
    #[inline]
    fn differing(&self, a: &[u64; W], b: &[u64; W]) -> [u64; W] {
        let mut t = [0u64; W];
        for i in 0..W {
            let v = a[i] ^ b[i];
            t[i] = (((v & self.lo[i]) + self.lo[i]) | v) & self.hi_from[0][i];
        }
        t
    }

    /// Number of positions in which two patterns differ, when at most
    /// `limit` (set bits cleared one at a time: no hardware popcount on the
    /// baseline target).
    #[inline]
    fn distance_within(&self, a: &[u64; W], b: &[u64; W], limit: u32) -> Option<u32> {
        let t = self.differing(a, b);
        let mut d = 0;
        for mut v in t {
            while v != 0 {
                if d == limit {
                    return None;
                }
                d += 1;
                v &= v - 1;
            }
        }
        Some(d)
    }
}

/// Whether `b` differs from `a` at every field whose top bit is in
/// `skip_hi` and in at most `need` of the fields whose top bits are in
/// `from` (`lo`, `all`: see [`Masks`]). Set bits are cleared one at a time,
/// at most `need + 1` of them: no hardware popcount on the baseline x86-64
/// target.
#[inline]
fn pair_on_path<const W: usize>(
    a: &[u64; W],
    b: &[u64; W],
    lo: &[u64; W],
    all: &[u64; W],
    skip_hi: &[u64; W],
    from: &[u64; W],
    need: u32,
) -> bool {
    let mut left = need;
    for i in 0..W {
        let v = a[i] ^ b[i];
        let t = (((v & lo[i]) + lo[i]) | v) & all[i];
        if t & skip_hi[i] != skip_hi[i] {
            return false;
        }
        let mut v = t & from[i];
        while v != 0 {
            if left == 0 {
                return false;
            }
            left -= 1;
            v &= v - 1;
        }
    }
    true
}

#[inline]
fn id<const W: usize>(p: &[u64; W]) -> u32 {
    (p[W - 1] & ID_BITS) as u32
}

#[inline]
fn is_open<const W: usize>(p: &[u64; W]) -> bool {
    p[W - 1] & OPEN_BIT != 0
}

/// Distinct patterns: packed (id = pattern number), first two rows, rows.
struct Patterns<const W: usize> {
    packed: Vec<[u64; W]>,
    first: Vec<u32>,
    second: Vec<u32>,
    count: Vec<u32>,
}

fn search<const W: usize>(codes: &[u8], n: usize, l: &Layout, tuning: Tuning) -> Vec<Option<Nearest>> {
    let k = l.k;
    let mut rows: Vec<[u64; W]> = (0..n)
        .into_par_iter()
        .map(|r| {
            let mut p = [0u64; W];
            for (j, &pos) in l.order.iter().enumerate() {
                p[l.word[j]] |= u64::from(codes[r * k + pos]) << l.shift[j];
            }
            p[W - 1] |= r as u64;
            p
        })
        .collect();
    // Sorted by codes, then row.
    rows.par_sort_unstable();
    let same =
        |a: &[u64; W], b: &[u64; W]| a[..W - 1] == b[..W - 1] && (a[W - 1] ^ b[W - 1]) & !(ID_BITS | OPEN_BIT) == 0;
    let mut pats = Patterns {
        packed: Vec::new(),
        first: Vec::new(),
        second: Vec::new(),
        count: Vec::new(),
    };
    let mut row_pattern = vec![0u32; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && same(&rows[i], &rows[j]) {
            j += 1;
        }
        let p = pats.first.len() as u32;
        let mut key = rows[i];
        key[W - 1] = (key[W - 1] & !ID_BITS) | u64::from(p);
        pats.packed.push(key);
        pats.first.push(id(&rows[i]));
        pats.second.push(if j - i >= 2 { id(&rows[i + 1]) } else { u32::MAX });
        pats.count.push((j - i) as u32);
        for r in &rows[i..j] {
            row_pattern[id(r) as usize] = p;
        }
        i = j;
    }
    drop(rows);
    let masks = Masks::<W>::new(l);
    let np = pats.first.len();
    // Per distinct pattern: (distance, closest row, count) once resolved.
    let mut best: Vec<Option<Nearest>> = (0..np)
        .map(|p| {
            (pats.count[p] >= 2).then_some(Nearest {
                distance: 0,
                closest: pats.first[p],
                count: pats.count[p] - 1,
            })
        })
        .collect();
    let mut open: Vec<u32> = (0..np as u32).filter(|&p| best[p as usize].is_none()).collect();
    let mut level = 0usize;
    let mut last_work = 0u64;
    while !open.is_empty() && np > 1 {
        level += 1;
        let scan_cost = open.len() as u64 * np as u64;
        if level > k || (level > 1 && scan_cost <= tuning.scan_factor.saturating_mul(last_work)) {
            scan(&pats, &masks, &open, &mut best);
            break;
        }
        last_work = level_pass(&pats, &masks, k, level, tuning, &mut open, &mut best);
    }
    // Rows: exact copies point at the earliest other copy.
    row_pattern
        .iter()
        .enumerate()
        .map(|(r, &p)| {
            let p = p as usize;
            best[p].map(|b| {
                if b.distance == 0 {
                    let closest = if pats.first[p] == r as u32 {
                        pats.second[p]
                    } else {
                        pats.first[p]
                    };
                    Nearest { closest, ..b }
                } else {
                    b
                }
            })
        })
        .collect()
}

/// Direct scans: each open pattern against every other pattern.
fn scan<const W: usize>(pats: &Patterns<W>, masks: &Masks<W>, open: &[u32], best: &mut [Option<Nearest>]) {
    let found: Vec<Nearest> = open
        .par_iter()
        .map(|&p| {
            let a = &pats.packed[p as usize];
            let mut b = Nearest {
                distance: u32::MAX,
                closest: u32::MAX,
                count: 0,
            };
            for (q, y) in pats.packed.iter().enumerate() {
                if q == p as usize {
                    continue;
                }
                let Some(dist) = masks.distance_within(a, y, b.distance) else {
                    continue;
                };
                if dist < b.distance {
                    b = Nearest {
                        distance: dist,
                        closest: pats.first[q],
                        count: pats.count[q],
                    };
                } else if dist == b.distance {
                    b.closest = b.closest.min(pats.first[q]);
                    b.count += pats.count[q];
                }
            }
            b
        })
        .collect();
    for (&p, b) in open.iter().zip(found) {
        best[p as usize] = Some(b);
    }
}

/// One level of the search (see [`nearest`]); returns its work (patterns
/// partitioned plus pairs compared).
fn level_pass<const W: usize>(
    pats: &Patterns<W>,
    masks: &Masks<W>,
    k: usize,
    level: usize,
    tuning: Tuning,
    open: &mut Vec<u32>,
    best: &mut [Option<Nearest>],
) -> u64 {
    let np = pats.first.len();
    let mut group: Vec<[u64; W]> = pats.packed.clone();
    for &p in open.iter() {
        group[p as usize][W - 1] |= OPEN_BIT;
    }
    let search = Search {
        pats,
        masks,
        k,
        level,
        tuning,
        closest: (0..np).map(|_| AtomicU32::new(u32::MAX)).collect(),
        rows: (0..np).map(|_| AtomicU32::new(0)).collect(),
    };
    let mut scratch = vec![[0u64; W]; np];
    let work = search.node(&mut group, &mut scratch, 0, &[0; W], 0, open.len());
    let mut still = Vec::new();
    for &p in open.iter() {
        let count = search.rows[p as usize].load(Ordering::Relaxed);
        if count > 0 {
            best[p as usize] = Some(Nearest {
                distance: level as u32,
                closest: search.closest[p as usize].load(Ordering::Relaxed),
                count,
            });
        } else {
            still.push(p);
        }
    }
    *open = still;
    work
}

/// The recursive partition of one level.
struct Search<'a, const W: usize> {
    pats: &'a Patterns<W>,
    masks: &'a Masks<W>,
    k: usize,
    level: usize,
    tuning: Tuning,
    /// Per open pattern: earliest row and number of rows found at `level`.
    closest: Vec<AtomicU32>,
    rows: Vec<AtomicU32>,
}

impl<const W: usize> Search<'_, W> {
    fn record(&self, p: u32, closest: u32, rows: u32) {
        self.closest[p as usize].fetch_min(closest, Ordering::Relaxed);
        self.rows[p as usize].fetch_add(rows, Ordering::Relaxed);
    }

    /// `group` (at least two patterns, `opens` ≥ 1 of them open) agrees on
    /// every position before `j` except the `skipped` ones, whose fields
    /// are set in `skip`.
    fn node(
        &self,
        group: &mut [[u64; W]],
        scratch: &mut [[u64; W]],
        j: usize,
        skip: &[u64; W],
        skipped: usize,
        opens: usize,
    ) -> u64 {
        let need = self.level - skipped;
        if self.k - j == need {
            return self.leaf(group);
        }
        if group.len() <= self.tuning.small || opens <= self.tuning.direct {
            return self.pairs(group, j, skip, skipped);
        }
        if self.masks.bits[j] <= 3 {
            self.split::<8>(group, scratch, j, skip, skipped)
        } else {
            self.split::<256>(group, scratch, j, skip, skipped)
        }
    }

    /// [`Search::node`] for a group too large to compare pairwise; `N` ≥
    /// the number of codes of position `j`.
    #[inline(never)]
    fn split<const N: usize>(
        &self,
        group: &mut [[u64; W]],
        scratch: &mut [[u64; W]],
        j: usize,
        skip: &[u64; W],
        skipped: usize,
    ) -> u64 {
        let need = self.level - skipped;
        let (w, s) = (self.masks.word[j], self.masks.shift[j]);
        let fmask = self.masks.field[j][w] >> s;
        let code = |p: &[u64; W]| ((p[w] >> s) & fmask) as usize;
        let mut count = [0u32; N];
        let mut opens = [0u32; N];
        // Skipped positions on which some member differs from the first.
        let mut differ = [0u64; W];
        let first = group[0];
        for p in group.iter() {
            let c = code(p);
            count[c] += 1;
            opens[c] += u32::from(is_open(p));
            for i in 0..W {
                differ[i] |= (p[i] ^ first[i]) & skip[i];
            }
        }
        let mut work = group.len() as u64;
        // A pair found below differs at every skipped position: the group
        // must hold two codes at each.
        let t = self.masks.differing(&differ, &[0; W]);
        if (0..W).any(|i| t[i] & skip[i] != self.masks.hi_from[0][i] & skip[i]) {
            return work;
        }
        let codes = count.iter().filter(|&&c| c > 0).count();
        let total_opens: usize = opens.iter().map(|&c| c as usize).sum();
        // Skip j: only pairs differing at j can be found below.
        if need > 0 && codes >= 2 {
            let mut with_j = *skip;
            for (m, f) in with_j.iter_mut().zip(&self.masks.field[j]) {
                *m |= f;
            }
            work += self.node(group, scratch, j + 1, &with_j, skipped + 1, total_opens);
        }
        // Split by the code at j (when enough positions remain to skip).
        if self.k - j > need {
            if codes == 1 {
                return work + self.node(group, scratch, j + 1, skip, skipped, total_opens);
            }
            let mut at = [0usize; N];
            let mut sum = 0;
            for c in 0..N {
                at[c] = sum;
                sum += count[c] as usize;
            }
            for p in group.iter() {
                let c = code(p);
                scratch[at[c]] = *p;
                at[c] += 1;
            }
            group.copy_from_slice(scratch);
            let parallel = group.len() >= self.tuning.par_min;
            let mut parts = Vec::new();
            let (mut g, mut s) = (group, scratch);
            for c in 0..N {
                let (a, rest) = g.split_at_mut(count[c] as usize);
                let (b, rest_s) = s.split_at_mut(count[c] as usize);
                if count[c] >= 2 && opens[c] > 0 {
                    if parallel {
                        parts.push((a, b, opens[c] as usize));
                    } else {
                        work += self.node(a, b, j + 1, skip, skipped, opens[c] as usize);
                    }
                }
                (g, s) = (rest, rest_s);
            }
            work += parts
                .into_par_iter()
                .map(|(a, b, o)| self.node(a, b, j + 1, skip, skipped, o))
                .sum::<u64>();
        }
        work
    }

    /// Every remaining position is skipped: the group agrees outside the
    /// `level` skipped positions, so every open member is at distance
    /// `level` from every other member.
    fn leaf(&self, group: &[[u64; W]]) -> u64 {
        let (mut rows, mut m1, mut m2) = (0u32, u32::MAX, u32::MAX);
        for p in group {
            let p = id(p) as usize;
            rows += self.pats.count[p];
            let f = self.pats.first[p];
            if f < m1 {
                m2 = m1;
                m1 = f;
            } else if f < m2 {
                m2 = f;
            }
        }
        for p in group {
            if is_open(p) {
                let p = id(p);
                let other = if self.pats.first[p as usize] == m1 { m2 } else { m1 };
                self.record(p, other, rows - 1);
            }
        }
        group.len() as u64
    }

    /// Each open member against every member: the pairs whose differing
    /// positions before `j` are exactly the skipped ones (so the pair
    /// belongs to this path of the partition and to no other) and that
    /// differ in at most `level − skipped` positions from `j` on. As an
    /// open member has no other pattern within `level − 1`, such a pair is
    /// at distance exactly `level`.
    #[inline(never)]
    fn pairs(&self, group: &[[u64; W]], j: usize, skip: &[u64; W], skipped: usize) -> u64 {
        let need = (self.level - skipped) as u32;
        let mut work = group.len() as u64;
        let m = self.masks;
        let (lo, all, from) = (m.lo, m.hi_from[0], m.hi_from[j]);
        let mut skip_hi = *skip;
        for (s, a) in skip_hi.iter_mut().zip(&all) {
            *s &= a;
        }
        for x in group.iter().filter(|x| is_open(x)) {
            let (mut closest, mut rows) = (u32::MAX, 0u32);
            for y in group {
                if id(y) != id(x) && pair_on_path(x, y, &lo, &all, &skip_hi, &from, need) {
                    let q = id(y) as usize;
                    closest = closest.min(self.pats.first[q]);
                    rows += self.pats.count[q];
                }
            }
            if rows > 0 {
                self.record(id(x), closest, rows);
            }
            work += group.len() as u64;
        }
        work
    }
}

/// All pairs of distinct patterns, for questionnaires too wide to pack.
fn quadratic(codes: &[u8], n: usize, k: usize) -> Vec<Option<Nearest>> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let a = &codes[i * k..(i + 1) * k];
            let mut b: Option<Nearest> = None;
            for j in 0..n {
                if j == i {
                    continue;
                }
                let d = a.iter().zip(&codes[j * k..(j + 1) * k]).filter(|(x, y)| x != y).count() as u32;
                b = Some(match b {
                    Some(x) if x.distance < d => x,
                    Some(x) if x.distance == d => Nearest {
                        count: x.count + 1,
                        ..x
                    },
                    _ => Nearest {
                        distance: d,
                        closest: j as u32,
                        count: 1,
                    },
                });
            }
            b
        })
        .collect()
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

    /// Random rows with skewed code frequencies (position `p` uses
    /// `codes_per` codes, first ones most likely), planted exact copies and
    /// near copies (1–4 positions changed), and some copies of copies.
    fn planted(x: &mut u64, n: usize, k: usize, codes_per: u64) -> Vec<u8> {
        let mut codes: Vec<u8> = (0..n * k)
            .map(|_| {
                let a = lcg(x) % codes_per;
                let b = lcg(x) % codes_per;
                a.min(b) as u8
            })
            .collect();
        for c in 0..n / 8 {
            let src = (lcg(x) as usize) % n;
            let dst = (lcg(x) as usize) % n;
            if src == dst {
                continue;
            }
            let row: Vec<u8> = codes[src * k..(src + 1) * k].to_vec();
            codes[dst * k..(dst + 1) * k].copy_from_slice(&row);
            for _ in 0..(c % 5) {
                let p = (lcg(x) as usize) % k;
                codes[dst * k + p] = (lcg(x) % codes_per) as u8;
            }
        }
        codes
    }

    #[test]
    fn fields_count_differing_positions_of_any_width() {
        // Widths 1, 3, 8 and 2 bits (largest codes 1, 5, 200, 3).
        let codes = [1u8, 5, 200, 3, 0, 4, 200, 3, 1, 5, 17, 0];
        let l = Layout::new(&codes, 3, 4);
        let m = Masks::<1>::new(&l);
        let pack = |r: usize| {
            let mut p = [0u64; 1];
            for (j, &pos) in l.order.iter().enumerate() {
                p[l.word[j]] |= u64::from(codes[r * 4 + pos]) << l.shift[j];
            }
            p
        };
        assert_eq!(l.words, 1);
        let d = |a, b| m.distance_within(&pack(a), &pack(b), u32::MAX);
        assert_eq!(d(0, 1), Some(2));
        assert_eq!(d(0, 2), Some(2));
        assert_eq!(d(1, 2), Some(4));
        assert_eq!(d(1, 1), Some(0));
        assert_eq!(m.distance_within(&pack(1), &pack(2), 3), None);
        assert_eq!(m.distance_within(&pack(1), &pack(2), 4), Some(4));
        // Positions 2.. (search order) of rows 1 and 2, none skipped.
        let on = |need| pair_on_path(&pack(1), &pack(2), &m.lo, &m.hi_from[0], &[0], &m.hi_from[2], need);
        assert!(!on(1));
        assert!(on(2));
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
            (700, 22, 3),
            (300, 40, 200),
            (250, 70, 3),
        ]
        .iter()
        .enumerate()
        {
            let codes = planted(&mut x, n, k, codes_per);
            let want = brute(&codes, n, k);
            assert_eq!(nearest(&codes, n, k), want, "case {case}");
            // Every code path (pairwise groups, partition to the leaves,
            // parallel splits, early and late scans) gives the same answer.
            for tuning in [
                Tuning {
                    small: 1,
                    direct: 0,
                    par_min: 4,
                    scan_factor: 1,
                },
                Tuning {
                    small: 2,
                    direct: 1,
                    par_min: 1 << 20,
                    scan_factor: 1,
                },
                Tuning {
                    small: 1 << 20,
                    direct: 0,
                    par_min: 1 << 20,
                    scan_factor: 1,
                },
                Tuning {
                    small: 8,
                    direct: 3,
                    par_min: 16,
                    scan_factor: u64::MAX,
                },
            ] {
                assert_eq!(nearest_tuned(&codes, n, k, tuning), want, "case {case} {tuning:?}");
            }
        }
    }

    #[test]
    fn larger_skewed_data_with_planted_near_copies_agrees_with_brute_force() {
        // Survey-like: 22 positions, mostly 2–4 codes, a few wider ones.
        let (n, k) = (3000, 22);
        let mut x = 11u64;
        let mut codes = planted(&mut x, n, k, 3);
        for r in 0..n {
            codes[r * k] = (lcg(&mut x) % 60) as u8;
            codes[r * k + 1] = (lcg(&mut x) % 7) as u8;
        }
        let want = brute(&codes, n, k);
        let got = nearest(&codes, n, k);
        assert_eq!(got, want);
        let at = |d| want.iter().filter(|b| b.is_some_and(|b| b.distance == d)).count();
        assert!(
            at(0) > 0 && at(1) > 0 && at(2) > 0 && at(3) > 0,
            "{:?}",
            (at(0), at(1), at(2), at(3))
        );
    }

    #[test]
    fn too_wide_to_pack_uses_all_pairs() {
        let (n, k) = (40, 700);
        let mut x = 3u64;
        let codes = planted(&mut x, n, k, 250);
        assert!(Layout::new(&codes, n, k).words > MAX_WORDS);
        assert_eq!(nearest(&codes, n, k), brute(&codes, n, k));
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
