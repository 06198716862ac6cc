//! The automatic match threshold: how surprising an interview's maximum
//! percent match is when every interview of its country-wave is an
//! independent draw from that country-wave's own answer distributions.
//!
//! # Model
//! Positions fall into *routing groups*: each demographic alone, and each
//! item together with the items routed from it (Q1 with Q2; Q4A with Q4B
//! and Q4B_1; Q6 with Q6A; every other item alone). Under the null model an
//! interview draws each routing group's answers independently from the
//! group's empirical joint distribution in the country-wave (so routing,
//! and the blanks it implies, are kept exactly) and the groups
//! independently of each other.
//!
//! # Formula
//! For interview `x` with `m` matching positions in its closest other
//! interview and `c` other interviews at that match, let
//! `q_j(x) = P(Y agrees with x on ≥ j positions)` for a null draw `Y`
//! (computed exactly: per group, the agreement-count distribution over the
//! group's support, then convolution over groups). The `N = n − 1` other
//! interviews are independent draws, so the number agreeing on ≥ `j`
//! positions is Binomial(`N`, `q_j`), and the p-value of the observed
//! (`m`, `c`) — ordered by `m`, then `c` — is
//!
//! `P(T ≥ t) = 1 − (1 − q_{m+1})^N + (1 − q_{m+1})^N · P(Bin(N, π) ≥ c)`,
//! `π = (q_m − q_{m+1}) / (1 − q_{m+1})`:
//! some other interview matches better than `m`, or none does and at least
//! `c` match exactly `m` times. The statistic is discrete, so the reported
//! p-value is the mid-p value (Lancaster 1961), `P(T > t) + ½·P(T = t)`,
//! with `P(T = t) = (1 − q_{m+1})^N · P(Bin(N, π) = c)`: the plain tail
//! flags about half the nominal share under the null on this
//! questionnaire, the mid-p close to it. No simulation is needed; the
//! result is exact under the model and deterministic.

use std::collections::HashMap;

use rayon::prelude::*;

/// Exact null p-values for every row of one group (see the module docs).
///
/// `codes` is row-major `n × k`; `group_of[j]` is the routing group of
/// position `j`; `matches[r]` and `count[r]` are row `r`'s matching
/// positions with its closest other row and how many rows match that well
/// (`None` for a group of one).
pub fn p_values(
    codes: &[u8],
    n: usize,
    k: usize,
    group_of: &[usize],
    nearest: &[Option<(u32, u32)>],
) -> Vec<Option<f64>> {
    if n < 2 {
        return vec![None; n];
    }
    let ngroups = group_of.iter().copied().max().map_or(0, |g| g + 1);
    let positions: Vec<Vec<usize>> = (0..ngroups)
        .map(|g| (0..k).filter(|&j| group_of[j] == g).collect())
        .collect();
    // Per group: support (sub-vectors) with probabilities, for each support
    // element its agreement-count distribution against a null draw, and
    // each row's support element.
    struct Support {
        agree: Vec<Vec<f64>>,
        of_row: Vec<u32>,
    }
    let supports: Vec<Support> = positions
        .par_iter()
        .map(|pos| {
            let mut keys: Vec<Vec<u8>> = Vec::new();
            let mut counts: Vec<f64> = Vec::new();
            let mut of_row: Vec<u32> = Vec::with_capacity(if pos.is_empty() { 0 } else { n });
            if pos.is_empty() {
                keys.push(Vec::new());
                counts.push(n as f64);
            } else {
                // Support elements numbered in order of first appearance,
                // found through a dense table of the answer combinations
                // when it is small, else a hash map.
                let radix: Vec<usize> = pos
                    .iter()
                    .map(|&j| (0..n).map(|r| usize::from(codes[r * k + j])).max().unwrap_or(0) + 1)
                    .collect();
                let cells = radix
                    .iter()
                    .try_fold(1usize, |a, &b| a.checked_mul(b).filter(|&c| c <= 1 << 20));
                let mut dense: Vec<u32> = vec![u32::MAX; cells.unwrap_or(0)];
                let mut index: HashMap<Vec<u8>, u32> = HashMap::new();
                let mut buf = Vec::with_capacity(pos.len());
                for r in 0..n {
                    buf.clear();
                    buf.extend(pos.iter().map(|&j| codes[r * k + j]));
                    let slot = match cells {
                        Some(_) => {
                            let cell = buf
                                .iter()
                                .zip(&radix)
                                .fold(0usize, |a, (&c, &m)| a * m + usize::from(c));
                            &mut dense[cell]
                        }
                        None => index.entry(buf.clone()).or_insert(u32::MAX),
                    };
                    if *slot == u32::MAX {
                        *slot = keys.len() as u32;
                        keys.push(buf.clone());
                        counts.push(0.0);
                    }
                    let i = *slot;
                    counts[i as usize] += 1.0;
                    of_row.push(i);
                }
            }
            let total = n as f64;
            let agree = keys
                .iter()
                .map(|s| {
                    let mut a = vec![0.0; pos.len() + 1];
                    for (t, c) in keys.iter().zip(&counts) {
                        let same = s.iter().zip(t).filter(|(x, y)| x == y).count();
                        a[same] += c / total;
                    }
                    a
                })
                .collect();
            Support { agree, of_row }
        })
        .collect();
    // Positions in the groups after each group.
    let mut after = vec![0usize; positions.len()];
    for g in (0..positions.len().saturating_sub(1)).rev() {
        after[g] = after[g + 1] + positions[g + 1].len();
    }
    let others = (n - 1) as f64;
    (0..n)
        .into_par_iter()
        .map(|r| {
            let (m, c) = nearest[r]?;
            let m = m as usize;
            // The agreement distribution, convolved group by group. Only
            // q_m and q_{m+1} are needed, so only the entries that can still
            // reach m are kept: `dist[t - lo]` is entry `t`. Every kept entry
            // is the same sum of the same products, in the same order, as in
            // the full convolution (the dropped entries never enter it).
            let mut dist = vec![1.0f64];
            let mut lo = 0usize;
            let mut next = Vec::new();
            for (g, s) in supports.iter().enumerate() {
                let a = &s.agree[s.of_row.get(r).map_or(0, |&i| i as usize)];
                let len = lo + dist.len() + a.len() - 1;
                let new_lo = m.saturating_sub(after[g]).max(lo).min(len);
                next.clear();
                next.resize(len - new_lo, 0.0);
                for (i, x) in dist.iter().enumerate() {
                    let t0 = lo + i;
                    for (j, y) in a.iter().enumerate() {
                        if t0 + j >= new_lo {
                            next[t0 + j - new_lo] += x * y;
                        }
                    }
                }
                std::mem::swap(&mut dist, &mut next);
                lo = new_lo;
            }
            // q_j = P(agreement ≥ j), summed from the top (small terms first).
            let ge = |j: usize| -> f64 { dist.iter().skip(j.saturating_sub(lo)).rev().sum::<f64>().min(1.0) };
            let q1 = ge(m + 1);
            let q0 = ge(m);
            Some(p_value(others, q0, q1, f64::from(c)))
        })
        .collect()
}

/// Mid-p value: `1 − (1 − q1)^N + (1 − q1)^N · (P(B ≥ c) − ½·P(B = c))`,
/// `B ~ Bin(N, (q0 − q1)/(1 − q1))`.
pub fn p_value(others: f64, q0: f64, q1: f64, c: f64) -> f64 {
    if q1 >= 1.0 {
        return 1.0;
    }
    let log_none = others * (-q1).ln_1p();
    let some_better = -log_none.exp_m1();
    let none = log_none.exp();
    let pi = ((q0 - q1) / (1.0 - q1)).clamp(0.0, 1.0);
    let tail = binomial_tail(others, pi, c);
    let at = tail - binomial_tail(others, pi, c + 1.0);
    (some_better + none * (tail - 0.5 * at)).clamp(0.0, 1.0)
}

/// `P(Bin(n, p) ≥ c)` = `I_p(c, n − c + 1)` (regularized incomplete beta).
pub fn binomial_tail(n: f64, p: f64, c: f64) -> f64 {
    if c <= 0.0 {
        return 1.0;
    }
    if c > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    statrs::function::beta::beta_reg(c, n - c + 1.0, p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_direct_sums() {
        // P(Bin(10, 0.3) >= 3) = 1 - P(0) - P(1) - P(2).
        let p0 = 0.7f64.powi(10);
        let p1 = 10.0 * 0.3 * 0.7f64.powi(9);
        let p2 = 45.0 * 0.09 * 0.7f64.powi(8);
        assert!((binomial_tail(10.0, 0.3, 3.0) - (1.0 - p0 - p1 - p2)).abs() < 1e-12);
        assert_eq!(binomial_tail(10.0, 0.3, 0.0), 1.0);
        assert_eq!(binomial_tail(10.0, 0.0, 1.0), 0.0);
    }

    #[test]
    fn p_value_by_hand() {
        // Two positions, each with two equally likely codes, independent:
        // agreement 0/1/2 with prob 1/4, 1/2, 1/4. Three interviews.
        let codes = [1u8, 1, 1, 2, 2, 2];
        let p = p_values(&codes, 3, 2, &[0, 1], &[Some((1, 2)), Some((1, 1)), Some((1, 1))]);
        // Row 0 = (1,1): empirical marginals: pos0 P(1)=2/3, pos1 P(1)=1/3.
        // Agreement with (1,1): P(a=2) = 2/9, P(a=1) = 2/3·2/3 + 1/3·1/3 = 5/9, P(a=0) = 2/9.
        // m = 1, c = 2, N = 2: q1 = 2/9, q0 = 7/9, π = (5/9)/(7/9) = 5/7.
        let q1: f64 = 2.0 / 9.0;
        let none = (1.0 - q1).powi(2);
        // Mid-p: P(B >= 2) - P(B = 2)/2 with B ~ Bin(2, 5/7).
        let want = 1.0 - none + none * 0.5 * (5.0f64 / 7.0).powi(2);
        assert!((p[0].unwrap() - want).abs() < 1e-12, "{:?} {want}", p[0]);
    }

    /// The full convolution over every routing group, as first written:
    /// the truncated one must give the same bits.
    fn full_convolution(
        codes: &[u8],
        n: usize,
        k: usize,
        group_of: &[usize],
        near: &[Option<(u32, u32)>],
    ) -> Vec<Option<f64>> {
        let ngroups = group_of.iter().copied().max().map_or(0, |g| g + 1);
        let positions: Vec<Vec<usize>> = (0..ngroups)
            .map(|g| (0..k).filter(|&j| group_of[j] == g).collect())
            .collect();
        type Support = (HashMap<Vec<u8>, usize>, Vec<Vec<f64>>);
        let supports: Vec<Support> = positions
            .iter()
            .map(|pos| {
                let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
                let mut keys: Vec<Vec<u8>> = Vec::new();
                let mut counts: Vec<f64> = Vec::new();
                for r in 0..n {
                    let buf: Vec<u8> = pos.iter().map(|&j| codes[r * k + j]).collect();
                    match index.get(&buf) {
                        Some(&i) => counts[i] += 1.0,
                        None => {
                            index.insert(buf.clone(), keys.len());
                            keys.push(buf);
                            counts.push(1.0);
                        }
                    }
                }
                let agree = keys
                    .iter()
                    .map(|s| {
                        let mut a = vec![0.0; pos.len() + 1];
                        for (t, c) in keys.iter().zip(&counts) {
                            a[s.iter().zip(t).filter(|(x, y)| x == y).count()] += c / n as f64;
                        }
                        a
                    })
                    .collect();
                (index, agree)
            })
            .collect();
        (0..n)
            .map(|r| {
                let (m, c) = near[r]?;
                let mut dist = vec![1.0f64];
                for (g, pos) in positions.iter().enumerate() {
                    let buf: Vec<u8> = pos.iter().map(|&j| codes[r * k + j]).collect();
                    let a = &supports[g].1[supports[g].0[&buf]];
                    let mut next = vec![0.0; dist.len() + a.len() - 1];
                    for (i, x) in dist.iter().enumerate() {
                        for (j, y) in a.iter().enumerate() {
                            next[i + j] += x * y;
                        }
                    }
                    dist = next;
                }
                let ge = |j: usize| -> f64 { dist.iter().skip(j).rev().sum::<f64>().min(1.0) };
                let m = m as usize;
                Some(p_value((n - 1) as f64, ge(m), ge(m + 1), f64::from(c)))
            })
            .collect()
    }

    #[test]
    fn truncated_convolution_gives_the_same_bits_as_the_full_one() {
        let mut x = 5u64;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 33
        };
        // 9 positions: a wide one, routing groups of 1–3 positions, an empty group id.
        let (n, k) = (400, 9);
        let group_of = [0, 1, 3, 3, 4, 4, 4, 5, 6];
        let codes: Vec<u8> = (0..n * k)
            .map(|i| {
                let j = i % k;
                let v = if j == 0 { next() % 40 } else { next() % 3 };
                v as u8
            })
            .collect();
        let near: Vec<Option<(u32, u32)>> = (0..n)
            .map(|r| (r % 17 != 0).then(|| ((next() % (k as u64 + 1)) as u32, 1 + (next() % 4) as u32)))
            .collect();
        let got = p_values(&codes, n, k, &group_of, &near);
        let want = full_convolution(&codes, n, k, &group_of, &near);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.map(f64::to_bits), w.map(f64::to_bits));
        }
        assert!(got.iter().flatten().any(|&p| p > 0.0 && p < 1.0));
    }

    #[test]
    fn routing_groups_keep_joint_answers() {
        // Positions 0 and 1 in one group that always moves together: (1,0) or (2,5).
        let codes = [1u8, 0, 2, 5, 1, 0, 2, 5];
        let p = p_values(&codes, 4, 2, &[0, 0], &[Some((2, 1)); 4]);
        // Agreement with (1,0): 2 w.p. 1/2, 0 w.p. 1/2; q3 = 0, q2 = 1/2, N = 3, c = 1:
        // Mid-p = P(B >= 1) - P(B = 1)/2 = 7/8 - 3/16 with B ~ Bin(3, 1/2).
        assert!((p[0].unwrap() - (0.875 - 0.1875)).abs() < 1e-12);
    }
}
