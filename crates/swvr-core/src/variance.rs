//! Taylor-linearised variance for a stratified single-stage design with
//! replacement, each respondent its own PSU, weights taken as fixed.
//!
//! # Formula
//! For linearisation scores `z_hi` (unit `i` of stratum `h`, zero for units
//! outside an estimation domain but still counted in `n_h`), the variance of
//! the estimated total `Σ z_hi` is
//!
//! `V = Σ_h n_h/(n_h − 1) · Σ_i (z_hi − z̄_h)²`
//!
//! (Wolter 2007, §1.2; R `survey::svyrecvar` with `ids = ~1`). A stratum with a
//! single unit follows R's `options(survey.lonely.psu = "adjust")`: it
//! contributes `z_h1²`, i.e. it is centred at the population mean of the
//! scores, 0, instead of its own stratum mean (R's `onestrat` leaves it
//! uncentred; checked against survey 4.1 with `svytotal`). For the scores of
//! a mean, a ratio or a GLM at its solution the sample mean of the scores
//! is 0 too, so "centred at the sample mean" gives the same number there.
//!
//! For a mean estimated over a domain `d`, `z_i = w_i·1[i∈d]·(y_i − ȳ_d)/Σ_{d} w`.

use crate::sum::Neumaier;

/// Variance of the total of `z` (one score per unit) in strata `stratum`
/// (codes `0..n_strata`), with R's "adjust" rule for single-unit strata.
pub fn stratified_total_variance(z: &[f64], stratum: &[u32], n_strata: usize) -> f64 {
    debug_assert_eq!(z.len(), stratum.len());
    let mut count = vec![0usize; n_strata];
    let mut sum = vec![Neumaier::new(); n_strata];
    for (&zi, &h) in z.iter().zip(stratum) {
        count[h as usize] += 1;
        sum[h as usize].add(zi);
    }
    // Lonely strata are centred at 0 (R's "adjust").
    let centre: Vec<f64> = (0..n_strata)
        .map(|h| {
            if count[h] > 1 {
                sum[h].total() / count[h] as f64
            } else {
                0.0
            }
        })
        .collect();
    let mut ss = vec![Neumaier::new(); n_strata];
    for (&zi, &h) in z.iter().zip(stratum) {
        let d = zi - centre[h as usize];
        ss[h as usize].add(d * d);
    }
    let mut v = Neumaier::new();
    for h in 0..n_strata {
        let n = count[h] as f64;
        let scale = if count[h] > 1 { n / (n - 1.0) } else { 1.0 };
        v.add(scale * ss[h].total());
    }
    v.total()
}

/// Covariance matrix (row-major `p × p`) of the totals of `p` score columns,
/// `z` row-major `n × p`, same design and rules as [`stratified_total_variance`].
pub fn stratified_total_covariance(z: &[f64], p: usize, stratum: &[u32], n_strata: usize) -> Vec<f64> {
    let n = stratum.len();
    debug_assert_eq!(z.len(), n * p);
    let mut count = vec![0usize; n_strata];
    let mut sum = vec![0.0f64; n_strata * p];
    for (i, &h) in stratum.iter().enumerate() {
        count[h as usize] += 1;
        for j in 0..p {
            sum[h as usize * p + j] += z[i * p + j];
        }
    }
    let mut centre = vec![0.0f64; n_strata * p];
    for h in 0..n_strata {
        for j in 0..p {
            centre[h * p + j] = if count[h] > 1 {
                sum[h * p + j] / count[h] as f64
            } else {
                0.0
            };
        }
    }
    let mut per_stratum = vec![0.0f64; n_strata * p * p];
    let mut d = vec![0.0f64; p];
    for (i, &h) in stratum.iter().enumerate() {
        let h = h as usize;
        for j in 0..p {
            d[j] = z[i * p + j] - centre[h * p + j];
        }
        let block = &mut per_stratum[h * p * p..(h + 1) * p * p];
        for a in 0..p {
            for b in 0..p {
                block[a * p + b] += d[a] * d[b];
            }
        }
    }
    let mut out = vec![0.0f64; p * p];
    for h in 0..n_strata {
        let nh = count[h] as f64;
        let scale = if count[h] > 1 { nh / (nh - 1.0) } else { 1.0 };
        for k in 0..p * p {
            out[k] += scale * per_stratum[h * p * p + k];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_strata_by_hand() {
        // Stratum 0: 1, 3 (mean 2, ss 2, scale 2) -> 4; stratum 1: 0, 0, 6 (mean 2, ss 24, scale 1.5) -> 36.
        let z = [1.0, 3.0, 0.0, 0.0, 6.0];
        let s = [0, 0, 1, 1, 1];
        assert!((stratified_total_variance(&z, &s, 2) - 40.0).abs() < 1e-12);
        let cov = stratified_total_covariance(&z, 1, &s, 2);
        assert!((cov[0] - 40.0).abs() < 1e-12);
    }

    #[test]
    fn lonely_unit_is_left_uncentred_as_in_r() {
        // R survey 4.1: options(survey.lonely.psu = "adjust"); strata 1,1,2,3; y = -1,1,4,-1; w = 1:
        // SE(svytotal(~y, svydesign(ids=~1, strata=~s, weights=~w)))^2 = 21 = 4 + 4^2 + (-1)^2.
        let z = [-1.0, 1.0, 4.0, -1.0];
        let s = [0, 0, 1, 2];
        assert!((stratified_total_variance(&z, &s, 3) - 21.0).abs() < 1e-12);
        assert!((stratified_total_covariance(&z, 1, &s, 3)[0] - 21.0).abs() < 1e-12);
    }
}
