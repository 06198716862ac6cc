//! Weighted logistic regression on aggregated data, its design-based
//! (sandwich) variance, and the checks for singular designs and separation.
//!
//! Every covariate of the model is a 0/1 dummy, so a respondent's row of the
//! design matrix is one of a few thousand *patterns*. The data of one
//! (country, wave) reduce exactly, in one pass, to
//! - per pattern `p`: its row `x_p`, the weight totals `S1_p = Σ w·y` and
//!   `S_p = Σ w` (complete cases), and counts;
//! - per (stratum, pattern, y) cell: `Σ w` and `Σ w²`;
//! - per stratum: the number of respondents (complete or not).
//!
//! # Formula
//! Fit (IRLS = Newton for the canonical link): `A(β) = Σ_p S_p μ_p(1−μ_p) x_p x_p'`,
//! `U(β) = Σ_p (S1_p − S_p μ_p) x_p`, `β ← β + A⁻¹U`, from `β = 0`.
//!
//! Firth (Firth 1993; Heinze & Schemper 2002, as R's `logistf` with weights):
//! maximise `ℓ(β) + ½ log|A(β)|`; modified score
//! `U*(β) = Σ_i x_i [w_i (y_i − μ_i) + h_i (½ − μ_i)]`, `h_i = w_i μ_i(1−μ_i) x_i'A⁻¹x_i`
//! (the hat values), steps `A⁻¹U*` halved until the penalised likelihood increases.
//!
//! Variance (Binder 1983; R `survey::svy.varcoef`): `V = A⁻¹ B A⁻¹`, `B` the
//! stratified with-replacement covariance of the score totals
//! `z_i = x_i w_i r_i` (`r_i = y_i − μ_i`, plus `(h_i/w_i)(½ − μ_i)` for Firth),
//! `B = Σ_h n_h/(n_h−1) Σ_i (z_i − z̄_h)(z_i − z̄_h)'` over *all* respondents of
//! stratum `h` (non-complete cases have `z_i = 0`: domain estimation, as
//! `svyglm` on `subset(design, …)`), single-respondent strata centred at the
//! overall mean (`survey.lonely.psu = "adjust"`).

use ndarray::{Array1, Array2};
use swvr_core::stats::expit;

use crate::spec::Method;

/// One distinct row of the design matrix among the complete cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The row (intercept first), 0/1 values.
    pub x: Vec<f64>,
    /// Σ w over complete cases with y = 1.
    pub sw1: f64,
    /// Σ w over complete cases with y = 0.
    pub sw0: f64,
    /// Complete cases with y = 1.
    pub n1: u64,
    /// Complete cases with y = 0.
    pub n0: u64,
}

/// Σ w and Σ w² of the complete cases of one (stratum, pattern, outcome).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Stratum code.
    pub stratum: u32,
    /// Index into [`Aggregate::patterns`].
    pub pattern: u32,
    /// Outcome 0/1.
    pub y: u8,
    /// Σ w.
    pub sw: f64,
    /// Σ w².
    pub sw2: f64,
}

/// Σ w, Σ w² and Σ e of the complete cases of one (stratum, pattern,
/// outcome, calibration cell), for calibrated variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalCell {
    /// Stratum code.
    pub stratum: u32,
    /// Index into [`Aggregate::patterns`].
    pub pattern: u32,
    /// Outcome 0/1.
    pub y: u8,
    /// Calibration cell.
    pub cell: u32,
    /// Σ w.
    pub sw: f64,
    /// Σ w².
    pub sw2: f64,
    /// Σ e (the calibrator's row factor: 1, or the pre-calibration weight).
    pub se: f64,
}

/// What calibrated variance needs beyond [`Aggregate`]'s cells.
#[derive(Debug, Clone, PartialEq)]
pub struct CalAggregate {
    /// The (country, wave)'s calibrator.
    pub calibrator: swvr_core::calibration::Calibrator,
    /// Complete cases by (stratum, pattern, outcome, calibration cell), sorted.
    pub cells: Vec<CalCell>,
    /// Σ w per (stratum, calibration cell) over every row of the group.
    pub t: Vec<f64>,
    /// Σ w² per (stratum, calibration cell) over every row of the group.
    pub qt: Vec<f64>,
}

/// The sufficient statistics of one (country, wave) for the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Aggregate {
    /// Number of coefficients (columns of x, intercept included).
    pub k: usize,
    /// Distinct patterns, in a fixed order.
    pub patterns: Vec<Pattern>,
    /// Cells sorted by (stratum, pattern, y).
    pub cells: Vec<Cell>,
    /// Respondents per stratum (all, complete or not).
    pub stratum_n: Vec<u64>,
    /// Calibrated variance: the calibration statistics (`None`: weights fixed).
    pub cal: Option<CalAggregate>,
}

impl Aggregate {
    /// Complete cases.
    pub fn n_complete(&self) -> u64 {
        self.patterns.iter().map(|p| p.n1 + p.n0).sum()
    }
    /// Strata holding at least one complete case.
    pub fn strata_complete(&self) -> usize {
        let mut last = None;
        let mut h = 0;
        for c in &self.cells {
            if last != Some(c.stratum) {
                h += 1;
                last = Some(c.stratum);
            }
        }
        h
    }
}

/// Estimation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Method.
    pub method: Method,
    /// Relative step tolerance.
    pub tolerance: f64,
    /// Iteration limit.
    pub max_iterations: u32,
}

/// The result for one (country, wave).
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Coefficient per term (`None`: dropped or not estimable).
    pub coef: Vec<Option<f64>>,
    /// Design-based standard error per term.
    pub se: Vec<Option<f64>>,
    /// Degrees of freedom `n − H − k + 1` (`k` estimated coefficients).
    pub df: i64,
    /// Complete cases.
    pub n: u64,
    /// Iterations used.
    pub iterations: u32,
    /// Converged within the limit.
    pub converged: bool,
    /// Why estimates are missing or need care (singular design, separation…).
    pub note: Option<String>,
}

/// Relative pivot below which a column counts as linearly dependent on the
/// earlier ones (R's `qr` tolerance in `glm.fit`).
const ALIAS_TOL: f64 = 1e-7;
/// A fitted probability this close to 0 or 1 signals separation (R's `glm.fit`
/// warns at `10 · .Machine$double.eps`; divergent fits pass far below).
const EXTREME_MU: f64 = 1e-10;

/// Fits the model to `agg` (`terms` name its columns, for notes).
///
/// Firth's penalty is not invariant to the scale of the weights; they are
/// rescaled to mean 1 over the complete cases first, so that the penalty
/// weighs as in an unweighted sample of the same size. (Maximum likelihood
/// and the sandwich do not depend on the scale.)
pub fn fit(agg: &Aggregate, terms: &[String], opts: &FitOptions) -> Fit {
    if opts.method == Method::Firth {
        let total: f64 = agg.patterns.iter().map(|p| p.sw1 + p.sw0).sum();
        let n = agg.n_complete();
        if total > 0.0 && n > 0 {
            let c = n as f64 / total;
            let mut scaled = agg.clone();
            for p in &mut scaled.patterns {
                p.sw1 *= c;
                p.sw0 *= c;
            }
            for cell in &mut scaled.cells {
                cell.sw *= c;
                cell.sw2 *= c * c;
            }
            if let Some(cal) = &mut scaled.cal {
                // z/w, hence Σ z e/w, does not change with the scale.
                for cell in &mut cal.cells {
                    cell.sw *= c;
                    cell.sw2 *= c * c;
                }
                cal.t.iter_mut().for_each(|t| *t *= c);
                cal.qt.iter_mut().for_each(|q| *q *= c * c);
            }
            return fit_scaled(&scaled, terms, opts);
        }
    }
    fit_scaled(agg, terms, opts)
}

fn fit_scaled(agg: &Aggregate, terms: &[String], opts: &FitOptions) -> Fit {
    let k = agg.k;
    let n = agg.n_complete();
    let mut out = Fit {
        coef: vec![None; k],
        se: vec![None; k],
        df: 0,
        n,
        iterations: 0,
        converged: false,
        note: None,
    };
    if n == 0 {
        out.note = Some("no complete cases".into());
        return out;
    }
    // Singular design: columns aliased with earlier ones, in order (as R's pivoting QR).
    let (kept, alias_notes) = keep_columns(agg, terms);
    let mut notes: Vec<String> = alias_notes;
    let kk = kept.len();
    let h = agg.strata_complete();
    out.df = n as i64 - h as i64 - kk as i64 + 1;
    if n <= kk as u64 {
        notes.push(format!("too few complete cases (n = {n} for {kk} coefficients)"));
        out.note = Some(notes.join("; "));
        return out;
    }
    let xs: Vec<Array1<f64>> = agg
        .patterns
        .iter()
        .map(|p| kept.iter().map(|&j| p.x[j]).collect())
        .collect();
    // Separation visible in one term: a dummy (or the intercept) whose cases all share one outcome.
    let separated = univariate_separation(agg, &kept, terms);
    if opts.method == Method::Logit && !separated.is_empty() {
        notes.extend(separated);
        notes.push("estimates withheld (method = \"firth\" gives finite estimates)".into());
        out.note = Some(notes.join("; "));
        return out;
    }
    let solved = match opts.method {
        Method::Logit => newton(agg, &xs, kk, opts, false, None),
        Method::Firth => newton(agg, &xs, kk, opts, true, None),
    };
    let Some(s) = solved else {
        notes.push("information matrix singular during the fit (separation or collinearity)".into());
        out.note = Some(notes.join("; "));
        return out;
    };
    out.iterations = s.iterations;
    out.converged = s.converged;
    if opts.method == Method::Logit {
        let extreme: Vec<usize> = (0..agg.patterns.len())
            .filter(|&p| s.mu[p] < EXTREME_MU || s.mu[p] > 1.0 - EXTREME_MU)
            .collect();
        if !extreme.is_empty() || !s.converged {
            let mut diverging: Vec<&str> = (0..kk)
                .filter(|&j| s.beta[j].abs() > 15.0)
                .map(|j| terms[kept[j]].as_str())
                .collect();
            if diverging.is_empty() {
                diverging.push("none identified");
            }
            if extreme.is_empty() {
                notes.push(format!(
                    "no convergence in {} iterations (terms with |estimate| > 15: {})",
                    s.iterations,
                    diverging.join(", ")
                ));
            } else {
                notes.push(format!(
                    "quasi-complete separation: fitted probabilities 0 or 1 (diverging terms: {})",
                    diverging.join(", ")
                ));
            }
            notes.push("estimates withheld (method = \"firth\" gives finite estimates)".into());
            out.note = Some(notes.join("; "));
            return out;
        }
    } else {
        if !separated.is_empty() {
            notes.extend(separated);
            notes.push("Firth penalised estimates".into());
        }
        if !s.converged {
            notes.push(format!("Firth: no convergence in {} iterations", s.iterations));
        }
    }
    let v = sandwich(agg, &xs, kk, &s);
    for (jj, &j) in kept.iter().enumerate() {
        out.coef[j] = Some(s.beta[jj]);
        let var = v[[jj, jj]];
        out.se[j] = Some(if var > 0.0 { var.sqrt() } else { 0.0 });
    }
    if !notes.is_empty() {
        out.note = Some(notes.join("; "));
    }
    out
}

/// Refits the model to the pattern totals of one replicate (`agg`'s
/// `sw1`, `sw0`; its cells are not used), on the columns `kept` of the
/// full-sample fit, by Newton's method started at the full-sample
/// coefficients `start` (R's `svyglm` on a replicate design: `glm.fit(...,
/// start = coef(full))` per replicate). Firth's penalty rescales the
/// replicate's weights to mean 1 over the complete cases, as [`fit`] does.
/// `None` when the replicate's fit fails (singular information or no
/// convergence: a replicate that separates the data).
pub fn refit(agg: &Aggregate, kept: &[usize], start: &[f64], opts: &FitOptions) -> Option<Vec<f64>> {
    let firth = opts.method == Method::Firth;
    let scaled;
    let agg = if firth {
        let total: f64 = agg.patterns.iter().map(|p| p.sw1 + p.sw0).sum();
        let n = agg.n_complete();
        if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || n == 0 {
            return None;
        }
        let c = n as f64 / total;
        let mut a = agg.clone();
        for p in &mut a.patterns {
            p.sw1 *= c;
            p.sw0 *= c;
        }
        scaled = a;
        &scaled
    } else {
        agg
    };
    let xs: Vec<Array1<f64>> = agg
        .patterns
        .iter()
        .map(|p| kept.iter().map(|&j| p.x[j]).collect())
        .collect();
    let s = newton(agg, &xs, kept.len(), opts, firth, Some(start))?;
    (s.converged && s.beta.iter().all(|b| b.is_finite())).then(|| s.beta.to_vec())
}

/// Columns kept (in order) and a note per dropped column.
fn keep_columns(agg: &Aggregate, terms: &[String]) -> (Vec<usize>, Vec<String>) {
    let k = agg.k;
    // Unweighted cross-products Σ n_p x_p x_p' (aliasing is a property of the rows present).
    let mut m = Array2::<f64>::zeros((k, k));
    for p in &agg.patterns {
        let c = (p.n1 + p.n0) as f64;
        for a in 0..k {
            if p.x[a] == 0.0 {
                continue;
            }
            for b in 0..k {
                m[[a, b]] += c * p.x[a] * p.x[b];
            }
        }
    }
    let n = m[[0, 0]];
    let mut kept: Vec<usize> = Vec::new();
    let mut notes = Vec::new();
    // Incremental Cholesky: L L' = M[kept, kept].
    let mut l: Vec<Vec<f64>> = Vec::new();
    for j in 0..k {
        let mut row: Vec<f64> = Vec::with_capacity(kept.len() + 1);
        for (a, &ka) in kept.iter().enumerate() {
            let mut s = m[[j, ka]];
            for (b, lb) in row.iter().enumerate() {
                s -= lb * l[a][b];
            }
            row.push(s / l[a][a]);
        }
        let d = m[[j, j]] - row.iter().map(|r| r * r).sum::<f64>();
        if m[[j, j]] > 0.0 && d > ALIAS_TOL * m[[j, j]] {
            row.push(d.sqrt());
            l.push(row);
            kept.push(j);
        } else {
            let t = &terms[j];
            notes.push(if m[[j, j]] == 0.0 {
                format!("singular design: no complete case has {t} (term dropped)")
            } else if j > 0 && m[[j, j]] == n && m[[0, j]] == n {
                format!("singular design: every complete case has {t} (term dropped)")
            } else {
                format!("singular design: {t} is a linear combination of earlier terms (term dropped)")
            });
        }
    }
    (kept, notes)
}

/// Terms whose complete cases with value 1, or with value 0, all have the same outcome.
fn univariate_separation(agg: &Aggregate, kept: &[usize], terms: &[String]) -> Vec<String> {
    let mut notes = Vec::new();
    let (t1, t0) = agg.patterns.iter().fold((0u64, 0u64), |(a, b), p| (a + p.n1, b + p.n0));
    if t1 == 0 || t0 == 0 {
        notes.push(format!(
            "complete separation: the outcome is {} for every complete case",
            if t1 == 0 { "0 (no)" } else { "1 (yes)" }
        ));
        return notes;
    }
    for &j in kept.iter().filter(|&&j| j > 0) {
        let (mut on1, mut on0) = (0u64, 0u64);
        for p in agg.patterns.iter().filter(|p| p.x[j] != 0.0) {
            on1 += p.n1;
            on0 += p.n0;
        }
        let (off1, off0) = (t1 - on1, t0 - on0);
        let t = &terms[j];
        if on0 == 0 {
            notes.push(format!(
                "quasi-complete separation: every complete case with {t} has outcome 1"
            ));
        } else if on1 == 0 {
            notes.push(format!(
                "quasi-complete separation: every complete case with {t} has outcome 0"
            ));
        } else if off0 == 0 {
            notes.push(format!(
                "quasi-complete separation: every complete case without {t} has outcome 1"
            ));
        } else if off1 == 0 {
            notes.push(format!(
                "quasi-complete separation: every complete case without {t} has outcome 0"
            ));
        }
    }
    notes
}

struct Solution {
    beta: Array1<f64>,
    /// Fitted probability per pattern.
    mu: Vec<f64>,
    /// Firth: `c_p = μ(1−μ) x_p'A⁻¹x_p` (hat value per unit weight); 0 for logit.
    hat: Vec<f64>,
    /// A⁻¹ at the solution.
    a_inv: Array2<f64>,
    iterations: u32,
    converged: bool,
}

/// log(1 + e^x) without overflow.
fn log1pexp(x: f64) -> f64 {
    if x > 35.0 { x } else { x.exp().ln_1p() }
}

/// State at β: fitted μ, A, its Cholesky factor, score and (penalised) log-likelihood.
struct Eval {
    mu: Vec<f64>,
    chol: Array2<f64>,
    score: Array1<f64>,
    loglik: f64,
    hat: Vec<f64>,
}

fn evaluate(agg: &Aggregate, xs: &[Array1<f64>], k: usize, beta: &Array1<f64>, firth: bool) -> Option<Eval> {
    let np = xs.len();
    let mut mu = Vec::with_capacity(np);
    let mut a = Array2::<f64>::zeros((k, k));
    let mut loglik = 0.0;
    for (p, x) in xs.iter().enumerate() {
        let pat = &agg.patterns[p];
        let eta = x.dot(beta);
        let m = expit(eta);
        mu.push(m);
        // log μ = −log(1+e^−η), log(1−μ) = −log(1+e^η)
        loglik -= pat.sw1 * log1pexp(-eta) + pat.sw0 * log1pexp(eta);
        let wv = (pat.sw1 + pat.sw0) * m * (1.0 - m);
        for r in 0..k {
            if x[r] == 0.0 {
                continue;
            }
            for c in 0..=r {
                a[[r, c]] += wv * x[r] * x[c];
            }
        }
    }
    for r in 0..k {
        for c in 0..r {
            a[[c, r]] = a[[r, c]];
        }
    }
    let chol = cholesky(&a)?;
    let mut hat = vec![0.0; np];
    let mut score = Array1::<f64>::zeros(k);
    if firth {
        loglik += (0..k).map(|i| chol[[i, i]].ln()).sum::<f64>();
    }
    for (p, x) in xs.iter().enumerate() {
        let pat = &agg.patterns[p];
        let m = mu[p];
        let sw = pat.sw1 + pat.sw0;
        let mut r = pat.sw1 - sw * m;
        if firth {
            // x'A⁻¹x = |L⁻¹x|²
            let q = forward(&chol, x);
            let c = m * (1.0 - m) * q.dot(&q);
            hat[p] = c;
            r += sw * c * (0.5 - m);
        }
        score.scaled_add(r, x);
    }
    Some(Eval {
        mu,
        chol,
        score,
        loglik,
        hat,
    })
}

fn newton(
    agg: &Aggregate,
    xs: &[Array1<f64>],
    k: usize,
    opts: &FitOptions,
    firth: bool,
    start: Option<&[f64]>,
) -> Option<Solution> {
    let mut beta = match start {
        Some(b) => Array1::from(b.to_vec()),
        None => Array1::<f64>::zeros(k),
    };
    let mut ev = evaluate(agg, xs, k, &beta, firth)?;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < opts.max_iterations {
        iterations += 1;
        let mut step = chol_solve(&ev.chol, &ev.score);
        if firth {
            // logistf's maxstep = 5, then halve until the penalised likelihood does not drop.
            let big = step.iter().fold(0.0f64, |a, s| a.max(s.abs()));
            if big > 5.0 {
                step *= 5.0 / big;
            }
        }
        let mut next = &beta + &step;
        let mut next_ev = evaluate(agg, xs, k, &next, firth);
        if firth {
            let mut halvings = 0;
            while halvings < 30
                && next_ev
                    .as_ref()
                    .is_none_or(|e| e.loglik < ev.loglik - 1e-12 * ev.loglik.abs())
            {
                step *= 0.5;
                next = &beta + &step;
                next_ev = evaluate(agg, xs, k, &next, firth);
                halvings += 1;
            }
        }
        let Some(e) = next_ev else {
            // Information matrix numerically singular: fitted probabilities reached 0 or 1.
            return Some(Solution {
                mu: ev.mu,
                hat: ev.hat,
                a_inv: chol_inverse(&ev.chol),
                beta: next,
                iterations,
                converged: false,
            });
        };
        let small = step
            .iter()
            .zip(next.iter())
            .all(|(s, b)| s.abs() <= opts.tolerance * (1.0 + b.abs()));
        beta = next;
        ev = e;
        if small {
            converged = true;
            break;
        }
    }
    Some(Solution {
        a_inv: chol_inverse(&ev.chol),
        mu: ev.mu,
        hat: ev.hat,
        beta,
        iterations,
        converged,
    })
}

/// `V = A⁻¹ B A⁻¹` with `B` from the residuals of the scores on the
/// calibration variables (`swvr_core::calibration`): `z_i − w_i h_c(i)`,
/// over every row of the (country, wave) (non-complete cases: `−w_i h_c`),
/// as `svyglm` on a subset of a `rake()` / `calibrate()` design. A
/// single-respondent stratum contributes its residual uncentred (R's
/// `onestrat` with `survey.lonely.psu = "adjust"`).
fn sandwich_calibrated(
    cal: &CalAggregate,
    nstrata_n: &[u64],
    xs: &[Array1<f64>],
    k: usize,
    s: &Solution,
) -> Array2<f64> {
    let resid = |p: usize, y: u8| -> f64 {
        let m = s.mu[p];
        (f64::from(y) - m) + s.hat[p] * (0.5 - m)
    };
    let ncells = cal.calibrator.n_cells();
    // Cell sums Σ_{i∈c} z_i e_i / w_i = Σ x_p r e.
    let mut sums = vec![0.0; ncells * k];
    for c in &cal.cells {
        let r = resid(c.pattern as usize, c.y);
        let x = &xs[c.pattern as usize];
        for a in 0..k {
            sums[c.cell as usize * k + a] += x[a] * r * c.se;
        }
    }
    let h = cal.calibrator.adjust(&sums, k);
    let nstrata = nstrata_n.len();
    let mut totals = vec![Array1::<f64>::zeros(k); nstrata];
    let mut squares = vec![Array2::<f64>::zeros((k, k)); nstrata];
    let mut u = Array1::<f64>::zeros(k);
    for c in &cal.cells {
        let r = resid(c.pattern as usize, c.y);
        let x = &xs[c.pattern as usize];
        let hc = &h[c.cell as usize * k..(c.cell as usize + 1) * k];
        let st = c.stratum as usize;
        // Σ z = Σ x r w; Σ z z' − (cross terms with h) per cell.
        for a in 0..k {
            u[a] = x[a] * r;
        }
        for a in 0..k {
            totals[st][a] += u[a] * c.sw;
        }
        let sq = &mut squares[st];
        for a in 0..k {
            for b in 0..=a {
                sq[[a, b]] += c.sw2 * (u[a] * u[b] - u[a] * hc[b] - hc[a] * u[b]);
            }
        }
    }
    for st in 0..nstrata {
        for cell in 0..ncells {
            let (t, qt) = (cal.t[st * ncells + cell], cal.qt[st * ncells + cell]);
            if t == 0.0 && qt == 0.0 {
                continue;
            }
            let hc = &h[cell * k..(cell + 1) * k];
            for a in 0..k {
                totals[st][a] -= hc[a] * t;
                for b in 0..=a {
                    squares[st][[a, b]] += hc[a] * hc[b] * qt;
                }
            }
        }
    }
    let mut b = Array2::<f64>::zeros((k, k));
    for st in 0..nstrata {
        let nh = nstrata_n[st];
        if nh == 0 {
            continue;
        }
        let t = &totals[st];
        let sq = &squares[st];
        let (scale, centre) = if nh > 1 {
            let nf = nh as f64;
            (nf / (nf - 1.0), 1.0 / nf)
        } else {
            (1.0, 0.0)
        };
        for a in 0..k {
            for c in 0..=a {
                b[[a, c]] += scale * (sq[[a, c]] - centre * t[a] * t[c]);
            }
        }
    }
    for a in 0..k {
        for c in 0..a {
            b[[c, a]] = b[[a, c]];
        }
    }
    s.a_inv.dot(&b).dot(&s.a_inv)
}

/// `V = A⁻¹ B A⁻¹` from the per-stratum cell sums (see module docs).
fn sandwich(agg: &Aggregate, xs: &[Array1<f64>], k: usize, s: &Solution) -> Array2<f64> {
    if let Some(cal) = &agg.cal {
        return sandwich_calibrated(cal, &agg.stratum_n, xs, k, s);
    }
    // Residual factor r per (pattern, y): z_i = x_p w_i r.
    let resid = |p: usize, y: u8| -> f64 {
        let m = s.mu[p];
        let base = f64::from(y) - m;
        base + s.hat[p] * (0.5 - m)
    };
    let nstrata = agg.stratum_n.len();
    let mut totals = vec![Array1::<f64>::zeros(k); nstrata];
    let mut squares = vec![Array2::<f64>::zeros((k, k)); nstrata];
    for c in &agg.cells {
        let p = c.pattern as usize;
        let x = &xs[p];
        let r = resid(p, c.y);
        let h = c.stratum as usize;
        totals[h].scaled_add(r * c.sw, x);
        let q = r * r * c.sw2;
        let sq = &mut squares[h];
        for a in 0..k {
            if x[a] == 0.0 {
                continue;
            }
            for b in 0..=a {
                sq[[a, b]] += q * x[a] * x[b];
            }
        }
    }
    let n_all: u64 = agg.stratum_n.iter().sum();
    let mut grand = Array1::<f64>::zeros(k);
    for t in &totals {
        grand += t;
    }
    if n_all > 0 {
        grand /= n_all as f64;
    }
    let mut b = Array2::<f64>::zeros((k, k));
    for h in 0..nstrata {
        let nh = agg.stratum_n[h];
        if nh == 0 {
            continue;
        }
        let t = &totals[h];
        let sq = &squares[h];
        if nh > 1 {
            let nf = nh as f64;
            let scale = nf / (nf - 1.0);
            for a in 0..k {
                for c in 0..=a {
                    b[[a, c]] += scale * (sq[[a, c]] - t[a] * t[c] / nf);
                }
            }
        } else {
            // Lonely unit: (z − z̄)(z − z̄)' with z̄ the overall mean ("adjust").
            for a in 0..k {
                for c in 0..=a {
                    b[[a, c]] += (t[a] - grand[a]) * (t[c] - grand[c]);
                }
            }
        }
    }
    for a in 0..k {
        for c in 0..a {
            b[[c, a]] = b[[a, c]];
        }
    }
    s.a_inv.dot(&b).dot(&s.a_inv)
}

/// Lower Cholesky factor, `None` unless positive definite (relative pivot check).
fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let k = a.nrows();
    let mut l = Array2::<f64>::zeros((k, k));
    for j in 0..k {
        let mut d = a[[j, j]];
        for c in 0..j {
            d -= l[[j, c]] * l[[j, c]];
        }
        if d.is_nan() || d <= 1e-13 * a[[j, j]].abs() || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        l[[j, j]] = d;
        for r in j + 1..k {
            let mut s = a[[r, j]];
            for c in 0..j {
                s -= l[[r, c]] * l[[j, c]];
            }
            l[[r, j]] = s / d;
        }
    }
    Some(l)
}

/// Solves `L q = x`.
fn forward(l: &Array2<f64>, x: &Array1<f64>) -> Array1<f64> {
    let k = l.nrows();
    let mut q = Array1::<f64>::zeros(k);
    for r in 0..k {
        let mut s = x[r];
        for c in 0..r {
            s -= l[[r, c]] * q[c];
        }
        q[r] = s / l[[r, r]];
    }
    q
}

/// Solves `L L' β = u`.
fn chol_solve(l: &Array2<f64>, u: &Array1<f64>) -> Array1<f64> {
    let k = l.nrows();
    let q = forward(l, u);
    let mut b = Array1::<f64>::zeros(k);
    for r in (0..k).rev() {
        let mut s = q[r];
        for c in r + 1..k {
            s -= l[[c, r]] * b[c];
        }
        b[r] = s / l[[r, r]];
    }
    b
}

fn chol_inverse(l: &Array2<f64>) -> Array2<f64> {
    let k = l.nrows();
    let mut inv = Array2::<f64>::zeros((k, k));
    for j in 0..k {
        let mut e = Array1::<f64>::zeros(k);
        e[j] = 1.0;
        let col = chol_solve(l, &e);
        inv.column_mut(j).assign(&col);
    }
    // Symmetrise (exactly symmetric output).
    for a in 0..k {
        for b in 0..a {
            let m = 0.5 * (inv[[a, b]] + inv[[b, a]]);
            inv[[a, b]] = m;
            inv[[b, a]] = m;
        }
    }
    inv
}
