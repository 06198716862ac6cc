//! Small numeric functions every estimating stage shares: Student's t
//! quantiles and the logistic function.

use statrs::distribution::{Continuous, ContinuousCDF, StudentsT};

/// The `p` quantile of Student's t on `df` degrees of freedom (`qt(p, df)`
/// in R), or `None` when `df ≤ 0`, `df` is NaN or `p` is outside (0, 1).
///
/// # Formula
/// statrs' inverse (regularised incomplete beta, ~1e-10) refined by Newton
/// steps on the CDF until a step is below 1e-15 relative (at most four), so
/// the quantile is as accurate as the CDF itself (~1e-15).
///
/// ```
/// let t = swvr_core::stats::t_quantile(0.975, 10.0).unwrap();
/// assert!((t - 2.228138851986273).abs() < 1e-13);
/// ```
pub fn t_quantile(p: f64, df: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || !(p > 0.0 && p < 1.0) {
        return None;
    }
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let mut x = dist.inverse_cdf(p);
    if !x.is_finite() {
        return None;
    }
    for _ in 0..4 {
        let f = dist.cdf(x) - p;
        let d = dist.pdf(x);
        if d <= 0.0 || !d.is_finite() {
            break;
        }
        let step = f / d;
        x -= step;
        if step.abs() <= 1e-15 * x.abs() {
            break;
        }
    }
    Some(x)
}

/// The two-sided p-value of a t statistic on `df` degrees of freedom,
/// `2·pt(−|t|, df)` in R, or `None` when `df ≤ 0` or `t` is not finite.
///
/// # Formula
/// `I_{df/(df+t²)}(df/2, 1/2)` (regularised incomplete beta), computed
/// directly rather than as `1 − CDF`, so small p-values keep their relative
/// accuracy.
///
/// ```
/// let p = swvr_core::stats::t_two_sided_p(2.5, 10.0).unwrap();
/// assert!((p - 0.031446844236608776).abs() < 1e-14);
/// ```
pub fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || !t.is_finite() {
        return None;
    }
    let x = df / (df + t * t);
    statrs::function::beta::checked_beta_reg(df / 2.0, 0.5, x).ok()
}

/// The logistic function `1 / (1 + e^(−x))`, computed without overflow for
/// large |x| (`e^x / (1 + e^x)` for negative x).
///
/// ```
/// assert_eq!(swvr_core::stats::expit(0.0), 0.5);
/// assert!(swvr_core::stats::expit(-800.0) >= 0.0);
/// ```
pub fn expit(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::excessive_precision)] // R's 17 digits, as printed
    fn t_quantiles_match_r() {
        // qt(0.975, df) in R, printed with 17 digits.
        for (df, want) in [
            (1.0, 12.706204736174694),
            (2.0, 4.3026527297494619),
            (29.0, 2.0452296421327034),
            (997.0, 1.9623462360894495),
        ] {
            let got = t_quantile(0.975, df).unwrap_or(f64::NAN);
            assert!((got - want).abs() <= 1e-13 * want, "df {df}: {got} vs {want}");
        }
        assert!(t_quantile(0.975, 0.0).is_none());
        assert!(t_quantile(1.0, 5.0).is_none());
    }

    #[test]
    #[allow(clippy::excessive_precision)] // R's 17 digits, as printed
    fn two_sided_p_values_match_r() {
        // 2 * pt(-abs(t), df) in R, printed with 17 digits.
        for (t, df, want) in [
            (2.5, 10.0, 0.031446844236608776),
            (-0.3, 1.0, 0.81445284184451539),
            (8.0, 997.0, 3.4367008817663947e-15),
            (0.0, 5.0, 1.0),
            (40.0, 30.0, 1.3726045194406362e-27),
        ] {
            let got = t_two_sided_p(t, df).unwrap_or(f64::NAN);
            assert!((got - want).abs() <= 1e-12 * want, "t {t} df {df}: {got} vs {want}");
        }
        assert!(t_two_sided_p(1.0, 0.0).is_none());
        assert!(t_two_sided_p(f64::INFINITY, 3.0).is_none());
    }

    #[test]
    fn expit_is_symmetric_and_bounded() {
        for x in [-30.0, -1.5, 0.3, 12.0] {
            assert!((expit(x) + expit(-x) - 1.0).abs() < 1e-15);
        }
        assert_eq!(expit(1000.0), 1.0);
        assert_eq!(expit(-1000.0), 0.0);
    }
}
