//! Calibration with the Deville–Särndal functions `linear` and `logit`
//! (`[calibration] method`), as R's `survey::calibrate(calfun = ...)`.
//!
//! # Method
//! Calibration (Deville & Särndal 1992) looks for final weights
//! `w_i = d_i · g_i` with `g_i = 1 + F(x_i'λ)` such that `Σ w_i x_i = T`,
//! where `x_i` are the dummies of the raking margins' categories (an
//! interaction margin's categories are the cells of its components),
//! `T` the population totals (target share × n) and `d_i` the starting
//! weights scaled to sum to n (so `g` is the ratio of the final weight to
//! the starting one, and bounds are on it). The calibration functions are
//! survey's `cal.linear` (`F(u) = clamp(1 + u, L, U) − 1`, no bounds
//! by default: the regression estimator) and `cal.logit`
//! (`g = (L(U−1) + U(1−L)e^{Au}) / (U − 1 + (1−L)e^{Au})`,
//! `A = (U−L)/((U−1)(1−L))`, which keeps `L < g < U`).
//!
//! `λ` is found by Newton's method on the calibration equations exactly as
//! survey's `grake` (calibrate.R): from `λ = 0`, each step solves
//! `(Σ d_i F'(x_i'λ) x_i x_i') Δ = T − Σ d_i x_i − Σ d_i x_i F(x_i'λ)` with
//! the Moore–Penrose inverse (`MASS::ginv`, singular values below
//! `256·ε` of the largest dropped: `swvr_core::calibration::pinv_solve`), and halves a step whose `g` is not
//! finite. Newton's method is affine-invariant, so the iterates do not
//! depend on how the margins are parametrised: here an intercept plus the
//! dummies of every category but the first with respondents, margin by
//! margin (R's `model.matrix(~a + b*c)` spans the same space).
//!
//! Like raking, `g` is a function of the cell of the cross-classification
//! of the raking components, so the whole computation runs on the cell
//! table: cell totals of the starting weights, one design vector per cell.
//! The convergence test is raking's: `max |weighted share − target share|`
//! over every margin and category at most the tolerance.

/// The calibration function (`[calibration] method`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// Raking by iterative proportional fitting (the default; `crate::rake`).
    Raking,
    /// Linear calibration (survey's `calfun = "linear"`), optionally
    /// truncated to bounds `(L, U)` on g.
    Linear {
        /// `(L, U)` bounds on g, if any.
        bounds: Option<(f64, f64)>,
    },
    /// Logit calibration (survey's `calfun = "logit"`) with bounds `(L, U)` on g.
    Logit {
        /// `(L, U)`: `0 < L < 1 < U`.
        bounds: (f64, f64),
    },
}

impl Calibration {
    /// The method's name as in the scheme (`raking`, `linear`, `logit`).
    pub fn name(&self) -> &'static str {
        match self {
            Calibration::Raking => "raking",
            Calibration::Linear { .. } => "linear",
            Calibration::Logit { .. } => "logit",
        }
    }

    /// Bounds on g, when set.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match *self {
            Calibration::Raking => None,
            Calibration::Linear { bounds } => bounds,
            Calibration::Logit { bounds } => Some(bounds),
        }
    }

    /// `F(u) = g − 1` (survey's `Fm1`).
    fn fm1(&self, u: f64) -> f64 {
        match *self {
            Calibration::Raking => u.exp() - 1.0,
            Calibration::Linear { bounds: None } => u,
            Calibration::Linear { bounds: Some((l, h)) } => (u + 1.0).max(l).min(h) - 1.0,
            Calibration::Logit { bounds: (l, h) } => {
                let a = (h - l) / ((h - 1.0) * (1.0 - l));
                let e = (a * u).exp();
                (l * (h - 1.0) + h * (1.0 - l) * e) / (h - 1.0 + (1.0 - l) * e) - 1.0
            }
        }
    }

    /// `F'(u)` (survey's `dF`).
    fn df(&self, u: f64) -> f64 {
        match *self {
            Calibration::Raking => u.exp(),
            Calibration::Linear { bounds: None } => 1.0,
            Calibration::Linear { bounds: Some((l, h)) } => f64::from(u8::from(u < h - 1.0 && u > l - 1.0)),
            Calibration::Logit { bounds: (l, h) } => {
                let a = (h - l) / ((h - 1.0) * (1.0 - l));
                let e = (a * u).exp();
                let den = h - 1.0 + (1.0 - l) * e;
                h * (1.0 - l) * e * a / den - ((l * (h - 1.0) + h * (1.0 - l) * e) * ((1.0 - l) * e * a)) / (den * den)
            }
        }
    }
}

/// The result of calibrating a cell table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CellCalibration {
    /// Per cell: g (1 for cells without weight).
    pub g: Vec<f64>,
    /// Newton iterations (step halvings included, as survey counts them).
    pub iterations: u32,
    /// Margins within tolerance.
    pub converged: bool,
}

/// The calibration function and when to stop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Newton {
    /// Linear or logit.
    pub cal: Calibration,
    /// max |weighted share − target share| at convergence.
    pub tolerance: f64,
    /// Iteration limit (step halvings count, as in survey).
    pub max_iterations: u32,
}

/// Calibrates cell totals `tot` (of the starting weights, which must sum
/// to `n`) to `targets` (normalised shares per margin) times `n`.
/// `cat[k][c]` is the category of margin `k` in cell `c`, `mlevels[k]` the
/// number of categories of margin `k`.
pub(crate) fn calibrate_cells(
    tot: &[f64],
    cat: &[Vec<u32>],
    mlevels: &[usize],
    targets: &[Vec<f64>],
    n: f64,
    newton: Newton,
) -> CellCalibration {
    let Newton {
        cal,
        tolerance,
        max_iterations,
    } = newton;
    let cells = tot.len();
    // Columns: intercept, then per margin every category but the first
    // with weight, dropping categories with no weight (and, by the target
    // checks, no target: survey drops such all-zero columns too).
    let mut margin_total = Vec::with_capacity(mlevels.len());
    for (k, &l) in mlevels.iter().enumerate() {
        let mut acc = vec![swvr_core::sum::Neumaier::new(); l];
        for (&t, &j) in tot.iter().zip(&cat[k]) {
            acc[j as usize].add(t);
        }
        margin_total.push(acc.iter().map(swvr_core::sum::Neumaier::total).collect::<Vec<f64>>());
    }
    // col_of[k][j]: column of category j of margin k, if it has one.
    let mut col_of: Vec<Vec<Option<usize>>> = Vec::with_capacity(mlevels.len());
    let mut pop = vec![n];
    for (k, &l) in mlevels.iter().enumerate() {
        let mut v = vec![None; l];
        let mut first = true;
        for (j, slot) in v.iter_mut().enumerate() {
            if margin_total[k][j] > 0.0 {
                if first {
                    first = false;
                } else {
                    *slot = Some(pop.len());
                    pop.push(targets[k][j] * n);
                }
            }
        }
        col_of.push(v);
    }
    let p = pop.len();
    // Per present cell: its columns (the intercept always, one per margin at most).
    let present: Vec<usize> = (0..cells).filter(|&c| tot[c] > 0.0).collect();
    let xcols: Vec<Vec<usize>> = present
        .iter()
        .map(|&c| {
            let mut v = vec![0];
            for (k, cols) in col_of.iter().enumerate() {
                if let Some(j) = cols[cat[k][c] as usize] {
                    v.push(j);
                }
            }
            v
        })
        .collect();
    let d: Vec<f64> = present.iter().map(|&c| tot[c]).collect();
    let mut sample_total = vec![swvr_core::sum::Neumaier::new(); p];
    for (x, &dc) in xcols.iter().zip(&d) {
        for &j in x {
            sample_total[j].add(dc);
        }
    }
    let sample_total: Vec<f64> = sample_total.iter().map(swvr_core::sum::Neumaier::total).collect();

    let mut eta = vec![0.0; p];
    let xeta = |eta: &[f64]| -> Vec<f64> { xcols.iter().map(|x| x.iter().map(|&j| eta[j]).sum()).collect() };
    let gs = |xe: &[f64]| -> Vec<f64> { xe.iter().map(|&u| 1.0 + cal.fm1(u)).collect() };
    let mut xe = xeta(&eta);
    let mut g = gs(&xe);
    let error = |g: &[f64]| -> f64 {
        if g.iter().any(|x| !x.is_finite()) {
            return f64::INFINITY;
        }
        let mut vals = vec![0.0; cells];
        for ((&c, &dc), &gc) in present.iter().zip(&d).zip(g) {
            vals[c] = dc * gc;
        }
        crate::rake::margin_error_of(&vals, cat, mlevels, targets)
    };
    if error(&g) <= tolerance {
        return CellCalibration {
            g: vec![1.0; cells],
            iterations: 0,
            converged: true,
        };
    }
    let mut iter: u32 = 1;
    let mut converged = false;
    // The last iterate with finite g (what the weights are when Newton fails).
    let mut best = g.clone();
    loop {
        // Tmat = Σ d F'(xη) x x'; misfit = T − Σ d x − Σ d x F(xη).
        let mut tmat = vec![0.0; p * p];
        let mut fsum = vec![swvr_core::sum::Neumaier::new(); p];
        for ((x, &dc), &u) in xcols.iter().zip(&d).zip(&xe) {
            let w = dc * cal.df(u);
            let f = dc * cal.fm1(u);
            for &a in x {
                fsum[a].add(f);
                for &b in x {
                    tmat[a * p + b] += w;
                }
            }
        }
        let misfit: Vec<f64> = (0..p).map(|j| pop[j] - sample_total[j] - fsum[j].total()).collect();
        let mut deta = swvr_core::calibration::pinv_solve(&tmat, p, &misfit);
        for (e, de) in eta.iter_mut().zip(&deta) {
            *e += de;
        }
        xe = xeta(&eta);
        g = gs(&xe);
        let finite =
            |g: &[f64], xe: &[f64]| g.iter().all(|x| x.is_finite()) && xe.iter().all(|&u| cal.df(u).is_finite());
        while iter < max_iterations && !finite(&g, &xe) {
            iter += 1;
            deta.iter_mut().for_each(|x| *x /= 2.0);
            for (e, de) in eta.iter_mut().zip(&deta) {
                *e -= de;
            }
            xe = xeta(&eta);
            g = gs(&xe);
        }
        if g.iter().all(|x| x.is_finite()) {
            best.clone_from(&g);
        }
        if error(&g) <= tolerance {
            converged = true;
            break;
        }
        iter += 1;
        if iter > max_iterations {
            break;
        }
    }
    let mut out = vec![1.0; cells];
    for (&c, &gc) in present.iter().zip(&best) {
        out[c] = gc;
    }
    CellCalibration {
        g: out,
        iterations: iter.min(max_iterations),
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_function_stays_within_its_bounds() {
        let cal = Calibration::Logit { bounds: (0.5, 2.0) };
        assert!((cal.fm1(0.0)).abs() < 1e-15, "g(0) = 1");
        assert!((cal.df(0.0) - 1.0).abs() < 1e-12, "g'(0) = 1");
        let (lo, hi) = (1.0 + cal.fm1(-5.0), 1.0 + cal.fm1(5.0));
        assert!(lo > 0.5 && lo < 0.5 + 1e-5 && hi < 2.0 && hi > 2.0 - 1e-5, "{lo} {hi}");
        let lin = Calibration::Linear {
            bounds: Some((0.5, 2.0)),
        };
        assert_eq!(1.0 + lin.fm1(3.0), 2.0);
        assert_eq!(lin.df(3.0), 0.0);
        assert_eq!(lin.df(0.2), 1.0);
    }
}
