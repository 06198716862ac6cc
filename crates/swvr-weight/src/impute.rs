//! Deterministic imputation of DK/refused raking demographics.
//!
//! # Method
//! A weighted hot-deck within the (country, wave). For a respondent whose
//! value of raking variable `D` is DK/refused, the donors are the
//! respondents with `D` observed who have the same *reported* values of the
//! other raking variables that the recipient reported (DK on another
//! variable does not restrict). The imputed category is drawn from the
//! donors' base-weighted distribution of `D` with a pseudo-random number
//! `u ∈ [0, 1)` that is a hash of (country, wave, respondent_id, variable):
//! the first category (in code/band order) whose cumulative share exceeds
//! `u`. When no donor matches, the last-listed matching variable is dropped
//! and so on, down to the whole (country, wave); when no one reported `D`
//! at all, `u` is drawn against the target shares. Matching uses reported
//! values only, so the result does not depend on the order variables are
//! imputed in, on the thread count, or on the other rows' imputations.

use swvr_core::sum::Neumaier;

/// Code of a DK/refused value before imputation.
pub const MISSING: u8 = u8::MAX;

/// A uniform number in `[0, 1)` from the key (FNV-1a, then the splitmix64 finaliser).
pub fn hash_unit(country: &str, wave: i32, respondent_id: &str, variable: &str) -> f64 {
    hash_finish(hash_prefix(country, wave, respondent_id), variable)
}

/// FNV-1a: eats `bytes`, then a 0xff separator.
#[inline]
fn fnv_eat(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= 0xff;
    h.wrapping_mul(0x0000_0100_0000_01b3)
}

/// The hash state of [`hash_unit`] after (country, wave, respondent_id),
/// so a row's key is hashed once whatever the variable.
pub fn hash_prefix(country: &str, wave: i32, respondent_id: &str) -> u64 {
    let h = fnv_eat(0xcbf2_9ce4_8422_2325, country.as_bytes());
    let h = fnv_eat(h, &wave.to_le_bytes());
    fnv_eat(h, respondent_id.as_bytes())
}

/// [`hash_unit`] from a [`hash_prefix`] state and the variable.
pub fn hash_finish(prefix: u64, variable: &str) -> f64 {
    let h = fnv_eat(prefix, variable.as_bytes());
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Picks the category whose cumulative share first exceeds `u`.
fn draw(totals: &[f64], u: f64) -> Option<u8> {
    let mut sum = Neumaier::new();
    totals.iter().for_each(|&t| sum.add(t));
    let total = sum.total();
    if total <= 0.0 {
        return None;
    }
    let mut cum = 0.0;
    let mut last = None;
    for (j, &t) in totals.iter().enumerate() {
        if t <= 0.0 {
            continue;
        }
        cum += t / total;
        last = Some(j as u8);
        if u < cum {
            return last;
        }
    }
    last
}

/// Imputes every [`MISSING`] code in `codes` (per variable, per row) in
/// place and returns the per-variable imputed flags.
///
/// `u(row, k)` is the row's uniform number for variable `k`; `fallback[k]`
/// the target shares used when no one reported variable `k`.
///
/// Donor totals are dense tables indexed by the mixed-radix code of the
/// matched variables' values (no hashing), built once per set of matched
/// variables in one pass over the rows, accumulating in row order.
pub fn impute(
    codes: &mut [Vec<u8>],
    levels: &[usize],
    base: &[f64],
    fallback: &[Vec<f64>],
    u: impl Fn(usize, usize) -> f64,
) -> Vec<Vec<bool>> {
    let nvars = codes.len();
    let n = base.len();
    let mut flags = Vec::with_capacity(nvars);
    // Imputed values, applied after every variable is done, so matching
    // always sees the reported values.
    let mut filled: Vec<Vec<(usize, u8)>> = Vec::with_capacity(nvars);
    let original: &[Vec<u8>] = codes;
    for k in 0..nvars {
        let col = &original[k];
        let recipients: Vec<usize> = (0..n).filter(|&r| col[r] == MISSING).collect();
        let mut f = vec![false; n];
        recipients.iter().for_each(|&r| f[r] = true);
        flags.push(f);
        let mut out = Vec::with_capacity(recipients.len());
        if recipients.is_empty() {
            filled.push(out);
            continue;
        }
        let others: Vec<usize> = (0..nvars).filter(|&o| o != k).collect();
        let lk = levels[k];
        // Donor totals per mask of matched variables: `lk` accumulators per
        // combination of their values (mixed radix, first-listed slowest).
        let mut tables: Vec<Option<Vec<Neumaier>>> = vec![None; 1usize << others.len()];
        let key_of = |r: usize, mask: u32| -> usize {
            let mut key = 0usize;
            for (bit, &o) in others.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    key = key * levels[o] + usize::from(original[o][r]);
                }
            }
            key
        };
        let mut totals = vec![0.0; lk];
        for &r in &recipients {
            let mut mask: u32 = 0;
            for (bit, &o) in others.iter().enumerate() {
                if original[o][r] != MISSING {
                    mask |= 1 << bit;
                }
            }
            let ur = u(r, k);
            let chosen = loop {
                let table = tables[mask as usize].get_or_insert_with(|| {
                    let matched: Vec<(&[u8], usize)> = others
                        .iter()
                        .enumerate()
                        .filter(|&(bit, _)| mask & (1 << bit) != 0)
                        .map(|(_, &o)| (original[o].as_slice(), levels[o]))
                        .collect();
                    let size: usize = matched.iter().map(|&(_, l)| l).product();
                    let mut t = vec![Neumaier::new(); size * lk];
                    'rows: for (d, (&v, &b)) in col.iter().zip(base).enumerate() {
                        if v == MISSING {
                            continue;
                        }
                        let mut key = 0usize;
                        for &(codes, l) in &matched {
                            let c = codes[d];
                            if c == MISSING {
                                continue 'rows;
                            }
                            key = key * l + usize::from(c);
                        }
                        t[key * lk + v as usize].add(b);
                    }
                    t
                });
                let key = key_of(r, mask);
                for (t, acc) in totals.iter_mut().zip(&table[key * lk..(key + 1) * lk]) {
                    *t = acc.total();
                }
                let chosen = draw(&totals, ur);
                if chosen.is_some() || mask == 0 {
                    break chosen;
                }
                // Drop the last-listed matching variable.
                mask &= !(1u32 << (31 - mask.leading_zeros()));
            };
            out.push((r, chosen.or_else(|| draw(&fallback[k], ur)).unwrap_or(0)));
        }
        filled.push(out);
    }
    for (col, out) in codes.iter_mut().zip(filled) {
        for (r, v) in out {
            col[r] = v;
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: u64 = 0x3fe5_75cf_4377_81fe;

    #[test]
    fn hash_is_pinned_and_uniform_enough() {
        // Pinned: imputations must not change between versions or platforms.
        let u = hash_unit("KEN", 2021, "KEN-000001", "sex");
        assert_eq!(u.to_bits(), PINNED);
        assert!((0.0..1.0).contains(&u));
        assert_ne!(u, hash_unit("KEN", 2021, "KEN-000001", "education"));
        assert_ne!(u, hash_unit("KEN", 2022, "KEN-000001", "sex"));
        let mean = (0..10_000)
            .map(|i| hash_unit("SEN", 2021, &format!("SEN-{i:06}"), "age_group"))
            .sum::<f64>()
            / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn draw_follows_cumulative_shares() {
        assert_eq!(draw(&[1.0, 3.0], 0.2), Some(0));
        assert_eq!(draw(&[1.0, 3.0], 0.3), Some(1));
        assert_eq!(draw(&[0.0, 0.0, 2.0], 0.0), Some(2));
        assert_eq!(draw(&[0.0, 0.0], 0.5), None);
    }
}
