//! Confidence intervals: Student t quantiles, the logit interval of R's
//! `svyciprop(method = "logit")`, and the Korn–Graubard interval used when an
//! estimated proportion is exactly 0 or 1.

use swvr_core::stats::expit;

/// Two-sided level of every interval (95%).
pub const LEVEL: f64 = 0.95;

/// The upper `1 − α/2` quantile of Student's t on `df` degrees of freedom
/// (`qt(0.975, df)` in R), or `None` when `df ≤ 0`
/// ([`swvr_core::stats::t_quantile`]). Remembered per thread by `df`: a
/// table asks for the same few thousand degrees of freedom many times, and
/// each quantile is an iterative inversion of the incomplete beta function.
pub fn t_quantile(df: f64) -> Option<f64> {
    thread_local! {
        static KNOWN: std::cell::RefCell<std::collections::HashMap<u64, Option<f64>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    KNOWN.with(|k| {
        *k.borrow_mut()
            .entry(df.to_bits())
            .or_insert_with(|| swvr_core::stats::t_quantile(1.0 - (1.0 - LEVEL) / 2.0, df))
    })
}

/// The 95% logit interval of R's `svyciprop(method = "logit")` for `0 < p < 1`.
///
/// # Formula
/// `expit(logit(p) ± t_df · se / (p(1−p)))`: the Wald interval of the
/// intercept of an intercept-only quasibinomial `svyglm`, whose standard
/// error is the delta-method `se(p)/(p(1−p))`.
pub fn logit_interval(p: f64, se: f64, df: f64) -> Option<(f64, f64)> {
    Some(logit_interval_t(p, se, t_quantile(df)?))
}

/// [`logit_interval`] with the t quantile given.
pub fn logit_interval_t(p: f64, se: f64, t: f64) -> (f64, f64) {
    let l = (p / (1.0 - p)).ln();
    let half = t * se / (p * (1.0 - p));
    (expit(l - half), expit(l + half))
}

/// The logit interval with the standard error of `logit(p)` given (R's
/// `svyciprop(method = "logit")` on a replicate design, whose intercept's
/// variance comes from the replicates of `logit(p)`):
/// `expit(logit(p) ± t · se_logit)`.
pub fn logit_interval_logit_se(p: f64, se_logit: f64, t: f64) -> (f64, f64) {
    let l = (p / (1.0 - p)).ln();
    (expit(l - t * se_logit), expit(l + t * se_logit))
}

/// The Korn–Graubard (Clopper–Pearson on the effective sample size) 95%
/// interval for an estimate of exactly 0 or 1, as the NCHS data presentation
/// standards (2017) prescribe.
///
/// # Formula
/// With `p ∈ {0, 1}` the design variance is 0, so the effective sample size
/// is taken as the domain's `n`, adjusted for the design degrees of freedom:
/// `n* = n · (t_{n−1} / t_df)²` (capped at `n`; no adjustment when `n − 1` or
/// `df` is not positive). Clopper–Pearson with `x = 0` gives
/// `[0, 1 − (α/2)^{1/n*}]`; with `x = n*` it gives `[(α/2)^{1/n*}, 1]`.
pub fn korn_graubard_degenerate(p: f64, n: u64, df: f64) -> (f64, f64) {
    let nf = n as f64;
    let n_star = match (t_quantile(nf - 1.0), t_quantile(df)) {
        (Some(a), Some(b)) => (nf * (a / b).powi(2)).min(nf),
        _ => nf,
    };
    let half_alpha = (1.0 - LEVEL) / 2.0;
    let bound = half_alpha.powf(1.0 / n_star);
    if p <= 0.0 { (0.0, 1.0 - bound) } else { (bound, 1.0) }
}

/// Symmetric `estimate ± t_df·se` interval (used for differences such as `net`).
pub fn wald_interval(estimate: f64, se: f64, df: f64) -> Option<(f64, f64)> {
    let t = t_quantile(df)?;
    Some((estimate - t * se, estimate + t * se))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::excessive_precision)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_r() {
        // R: sprintf("%.17g", qt(0.975, c(1, 2, 5, 30, 997)))
        let cases = [
            (1.0, 12.706204736174694),
            (2.0, 4.3026527297494619),
            (5.0, 2.5705818356363137),
            (30.0, 2.0422724563012378),
            (997.0, 1.9623462360894495),
        ];
        for (df, want) in cases {
            let got = t_quantile(df).unwrap();
            assert!(((got - want) / want).abs() < 1e-12, "df {df}: {got} vs {want}");
        }
        assert!(t_quantile(0.0).is_none());
    }

    #[test]
    fn korn_graubard_without_design_effect_is_clopper_pearson() {
        // df = n - 1 (one stratum): n* = n; upper bound 1 - 0.025^(1/n).
        let (lo, hi) = korn_graubard_degenerate(0.0, 10, 9.0);
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-15);
        let (lo, hi) = korn_graubard_degenerate(1.0, 10, 9.0);
        assert!((lo - 0.025f64.powf(0.1)).abs() < 1e-15 && hi == 1.0);
    }
}
