//! Raking (iterative proportional fitting) on the cell table, and trimming.
//!
//! # Method
//! The raking adjustment is a product of one factor per margin and
//! category (Deming & Stephan 1940), hence constant within each cell of the
//! cross-classification of the raking components (the variables the
//! margins are made of). An interaction margin such as `sex*age_group` is
//! one margin whose categories are the (sex, age group) combinations: each
//! of its categories is a union of cells like any other margin's. So each round
//! 1. sums the current weights per cell in one pass over compact `u32` cell
//!    codes (Neumaier-compensated, in row order),
//! 2. runs IPF on the small cell table: sweep the variables in scheme order,
//!    multiplying the cells of category `j` of variable `k` by
//!    `target_kj · n / margin_kj`, margins in scheme order; a sweep costs
//!    O(cells × margins), not O(rows),
//! 3. applies each cell's final factor to its rows in one pass.
//!
//! Convergence: after a sweep, `max |weighted share − target share|` over
//! every variable and category is at most the tolerance, shares computed
//! with compensated sums. Targets are normalised to sum to exactly 1 per
//! variable first (targets.csv only promises 1e-6).
//!
//! Trimming (when configured) clips `weight / mean` to `[lower, upper]`
//! and rakes again, alternating until the raked weights are within the
//! bounds (relative slack [`BOUND_SLACK`]) or `max_rounds` is reached; then
//! the weights are left trimmed (bounds hold) and the margins' remaining
//! error is reported.
//!
//! With `[calibration] method = "linear" | "logit"` the IPF step of each
//! round is replaced by calibration on the same cell table
//! ([`crate::calibrate`]); trimming alternates with it the same way.

use swvr_core::sum::Neumaier;

use crate::calibrate::{Calibration, Newton, calibrate_cells};

/// Relative slack on trimming bounds when checking that they hold.
pub const BOUND_SLACK: f64 = 1e-6;

/// A raking problem over the rows of one (country, wave).
#[derive(Debug, Clone)]
pub struct RakeProblem<'a> {
    /// Per component, per row: category index (`0..levels[c]`).
    pub codes: &'a [Vec<u8>],
    /// Number of categories per component.
    pub levels: &'a [usize],
    /// Per margin, its components (indices into `codes`), first slowest:
    /// category of a row = mixed-radix number of its components' categories.
    pub margins: &'a [Vec<usize>],
    /// Per margin, target share of each category (sums to 1 up to 1e-6).
    pub targets: &'a [Vec<f64>],
}

/// Raking and trimming settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RakeSettings {
    /// Convergence tolerance on shares.
    pub tolerance: f64,
    /// IPF sweep limit per round.
    pub max_iterations: u32,
    /// `(lower, upper, max_rounds)` bounds on weight / mean, if trimming.
    pub trimming: Option<(f64, f64, u32)>,
    /// Raking (IPF) or a calibration function.
    pub calibration: Calibration,
}

/// Result of raking one (country, wave).
#[derive(Debug, Clone, PartialEq)]
pub struct RakeOutcome {
    /// Final weights, summing to n (row order of the input).
    pub weights: Vec<f64>,
    /// Margins within tolerance (and trimming bounds hold, when trimming).
    pub converged: bool,
    /// IPF sweeps, summed over all rake–trim rounds.
    pub iterations: u32,
    /// max |weighted share − target share| of the final weights.
    pub max_margin_error: f64,
    /// (margin index, category index) of that maximum.
    pub worst: (usize, usize),
    /// Rake–trim rounds run (0 without trimming).
    pub trim_rounds: u32,
    /// Respondents at a trimming bound in the last trimming step.
    pub trimmed: usize,
    /// False when raking and trimming bounds could not both hold.
    pub trimming_feasible: bool,
    /// The last IPF round reached `max_iterations` above tolerance.
    pub ipf_stalled: bool,
    /// Smallest and largest g-weight: final weight over the base weight
    /// scaled to sum to n.
    pub g_range: (f64, f64),
    /// Final weights ≤ 0 (possible only with unbounded linear calibration).
    pub nonpositive: usize,
}

/// Cell codes of the cross-classification (mixed radix, first variable slowest).
fn cell_codes(p: &RakeProblem<'_>, n: usize) -> (Vec<u32>, usize) {
    let cells: usize = p.levels.iter().product::<usize>().max(1);
    let mut code = vec![0u32; n];
    for (k, col) in p.codes.iter().enumerate() {
        let radix = p.levels[k] as u32;
        for (c, &v) in code.iter_mut().zip(col.iter()) {
            *c = *c * radix + u32::from(v);
        }
    }
    (code, cells)
}

/// Category of margin `k` in each cell.
pub(crate) fn cell_categories(levels: &[usize], margins: &[Vec<usize>], cells: usize) -> Vec<Vec<u32>> {
    let mut comp = vec![0usize; levels.len()];
    let mut out = vec![vec![0u32; cells]; margins.len()];
    for c in 0..cells {
        let mut rest = c;
        for (v, &l) in comp.iter_mut().zip(levels).rev() {
            *v = rest % l;
            rest /= l;
        }
        for (col, m) in out.iter_mut().zip(margins) {
            col[c] = m.iter().fold(0usize, |acc, &k| acc * levels[k] + comp[k]) as u32;
        }
    }
    out
}

/// Compensated per-cell totals of `w`.
fn cell_totals(w: &[f64], cell: &[u32], cells: usize) -> Vec<f64> {
    let mut acc = vec![Neumaier::new(); cells];
    for (&x, &c) in w.iter().zip(cell) {
        acc[c as usize].add(x);
    }
    acc.iter().map(Neumaier::total).collect()
}

/// Totals of every margin's categories from cell values.
pub(crate) fn margins(vals: &[f64], cat: &[Vec<u32>], levels: &[usize]) -> Vec<Vec<f64>> {
    cat.iter()
        .zip(levels)
        .map(|(cats, &l)| {
            let mut acc = vec![Neumaier::new(); l];
            for (&v, &j) in vals.iter().zip(cats) {
                acc[j as usize].add(v);
            }
            acc.iter().map(Neumaier::total).collect()
        })
        .collect()
}

/// max |share − target| of cell values `vals` over every margin and category.
pub(crate) fn margin_error_of(vals: &[f64], cat: &[Vec<u32>], levels: &[usize], targets: &[Vec<f64>]) -> f64 {
    margin_error(&margins(vals, cat, levels), targets).0
}

/// max |share − target| and where.
pub(crate) fn margin_error(m: &[Vec<f64>], targets: &[Vec<f64>]) -> (f64, (usize, usize)) {
    let mut worst = (0.0f64, (0, 0));
    for (k, (mk, tk)) in m.iter().zip(targets).enumerate() {
        let mut tot = Neumaier::new();
        mk.iter().for_each(|&x| tot.add(x));
        let total = tot.total();
        for (j, (&x, &t)) in mk.iter().zip(tk).enumerate() {
            let e = if total > 0.0 { (x / total - t).abs() } else { t.abs() };
            if e > worst.0 || e.is_nan() {
                worst = (if e.is_nan() { f64::INFINITY } else { e }, (k, j));
            }
        }
    }
    worst
}

/// Normalises each variable's targets to sum to exactly 1 (compensated).
pub fn normalise_targets(targets: &[Vec<f64>]) -> Vec<Vec<f64>> {
    targets
        .iter()
        .map(|t| {
            let s = swvr_core::sum::sum(t);
            t.iter().map(|x| x / s).collect()
        })
        .collect()
}

/// IPF on cell totals `tot`; returns (cell factors, sweeps, converged).
fn ipf(
    tot: &[f64],
    cat: &[Vec<u32>],
    levels: &[usize],
    targets: &[Vec<f64>],
    n: f64,
    s: &RakeSettings,
) -> (Vec<f64>, u32, bool) {
    let cells = tot.len();
    let mut cur: Vec<f64> = tot.to_vec();
    let mut sweeps = 0;
    // Already calibrated (e.g. the second round of a trimmed raking)?
    if margin_error(&margins(&cur, cat, levels), targets).0 <= s.tolerance {
        return (vec![1.0; cells], 0, true);
    }
    let mut converged = false;
    while sweeps < s.max_iterations {
        sweeps += 1;
        for (k, cats) in cat.iter().enumerate() {
            let mut acc = vec![Neumaier::new(); levels[k]];
            for (&v, &j) in cur.iter().zip(cats) {
                acc[j as usize].add(v);
            }
            let adj: Vec<f64> = acc
                .iter()
                .zip(&targets[k])
                .map(|(m, &t)| {
                    let m = m.total();
                    if m > 0.0 { t * n / m } else { 1.0 }
                })
                .collect();
            for (v, &j) in cur.iter_mut().zip(cats) {
                *v *= adj[j as usize];
            }
        }
        if margin_error(&margins(&cur, cat, levels), targets).0 <= s.tolerance {
            converged = true;
            break;
        }
    }
    let factors = cur
        .iter()
        .zip(tot)
        .map(|(&c, &t)| if t > 0.0 { c / t } else { 1.0 })
        .collect();
    (factors, sweeps, converged)
}

/// One raking or calibration step on cell totals `tot`: (cell factors,
/// sweeps or Newton iterations, converged).
pub(crate) fn round_factors(
    tot: &[f64],
    cat: &[Vec<u32>],
    mlevels: &[usize],
    targets: &[Vec<f64>],
    n: f64,
    s: &RakeSettings,
) -> (Vec<f64>, u32, bool) {
    match s.calibration {
        Calibration::Raking => ipf(tot, cat, mlevels, targets, n, s),
        cal => {
            // Start from the current weights scaled to sum to n: g is
            // relative to them, and the bounds are on g.
            let total = swvr_core::sum::sum(tot);
            let scale = if total > 0.0 { n / total } else { 1.0 };
            let scaled: Vec<f64> = tot.iter().map(|t| t * scale).collect();
            let r = calibrate_cells(
                &scaled,
                cat,
                mlevels,
                targets,
                n,
                Newton {
                    cal,
                    tolerance: s.tolerance,
                    max_iterations: s.max_iterations,
                },
            );
            let factors = r.g.iter().map(|g| g * scale).collect();
            (factors, r.iterations, r.converged)
        }
    }
}

/// `w[i] *= factors[cell[i]]`, returning the compensated total of the new
/// weights (one fused pass).
fn apply_factors(w: &mut [f64], cell: &[u32], factors: &[f64]) -> f64 {
    let mut s = Neumaier::new();
    for (x, &c) in w.iter_mut().zip(cell) {
        *x *= factors[c as usize];
        s.add(*x);
    }
    s.total()
}

/// The weights' total, min and max (a NaN makes the bounds check fail).
pub(crate) struct Scan {
    pub total: f64,
    pub min: f64,
    pub max: f64,
    pub nan: bool,
}

/// Scales `w` (whose compensated total is `total`) to sum to `n`, and
/// returns the total, min and max of the scaled weights (one fused pass);
/// with `sparse` (a replicate with deleted units), weights of 0 are left
/// out of the min. Returns the scale applied (1 when the total is not positive).
fn normalise(w: &mut [f64], total: f64, sparse: bool) -> (Scan, f64) {
    let n = w.len() as f64;
    let mut s = Neumaier::new();
    let (mut min, mut max, mut nan) = (f64::INFINITY, f64::NEG_INFINITY, false);
    let f = if total > 0.0 { n / total } else { 1.0 };
    let scale = total > 0.0;
    for x in w.iter_mut() {
        if scale {
            *x *= f;
        }
        s.add(*x);
        if !(sparse && *x == 0.0) {
            min = min.min(*x);
        }
        max = max.max(*x);
        nan |= x.is_nan();
    }
    (
        Scan {
            total: s.total(),
            min,
            max,
            nan,
        },
        if scale { f } else { 1.0 },
    )
}

/// `x` clipped to `[lo, hi]`: the one clipping rule of the chain (a value
/// equal to a bound is left as it is).
#[inline]
pub(crate) fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// Appends the step `Clip(lo, hi)` to `ops`, merged into the last step
/// when that is a clip too: clipping to `[a1, b1]` then to `[a2, b2]`
/// (each `a ≤ b`) is clipping to `[clip(a1, a2, b2), clip(b1, a2, b2)]`
/// (below `a1` a value ends at `clip(a1)`, above `b1` at `clip(b1)`,
/// between at `clip(x)`), and a clip returns one of its inputs, so the
/// merged step gives the same bits. The trimming fixpoint's repeated clips
/// then cost the replay one step per round.
pub(crate) fn push_clip(ops: &mut Vec<Op>, lo: f64, hi: f64) {
    let ordered = |a: f64, b: f64| a.is_finite() && b.is_finite() && a <= b;
    if let Some(Op::Clip(a1, b1)) = ops.last_mut()
        && ordered(*a1, *b1)
        && ordered(lo, hi)
    {
        (*a1, *b1) = (clip(*a1, lo, hi), clip(*b1, lo, hi));
        return;
    }
    ops.push(Op::Clip(lo, hi));
}

/// Clips `w / mean` to `[lower, upper]`, repeating until the mean settles;
/// `total` is the compensated total of `w`, `active` the number of units
/// in the sample (with `sparse`, weights of 0 are deleted units: left at 0
/// and out of the mean). Each repetition is one pass that clips, counts the
/// weights at a bound and sums the result (the next mean); each clip
/// `(lo, hi)` is appended to `clips`. Returns (weights at a bound, total of
/// the trimmed weights).
fn trim(
    w: &mut [f64],
    (lower, upper): (f64, f64),
    mut total: f64,
    (active, sparse): (usize, bool),
    clips: &mut Vec<Op>,
) -> (usize, f64) {
    let n = active as f64;
    let mut at_bound = 0;
    for _ in 0..100 {
        let mean = total / n;
        let (lo, hi) = (lower * mean, upper * mean);
        push_clip(clips, lo, hi);
        let mut changed = false;
        let mut s = Neumaier::new();
        at_bound = 0;
        for x in w.iter_mut() {
            if sparse && *x == 0.0 {
                continue;
            }
            if *x < lo {
                *x = lo;
                changed = true;
            } else if *x > hi {
                *x = hi;
                changed = true;
            }
            if *x <= lo || *x >= hi {
                at_bound += 1;
            }
            s.add(*x);
        }
        total = s.total();
        if !changed {
            break;
        }
    }
    (at_bound, total)
}

/// True when every weight / mean is within the bounds (relative slack);
/// `n` the units in the sample.
pub(crate) fn within_bounds(scan: &Scan, n: usize, lower: f64, upper: f64) -> bool {
    let mean = scan.total / n as f64;
    let (lo, hi) = (lower * mean * (1.0 - BOUND_SLACK), upper * mean * (1.0 + BOUND_SLACK));
    n == 0 || (!scan.nan && scan.min >= lo && scan.max <= hi)
}

/// One step of the weighting chain applied to a weight: what a replicate's
/// final weight is, row by row, without keeping the replicate's weights
/// ([`Program`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `w *= factors[cell]` (a raking or calibration round).
    Factors(Vec<f64>),
    /// `w *= f` (normalisation to sum to n).
    Scale(f64),
    /// Clip to `[lo, hi]` (a trimming step; weights of 0 stay 0).
    Clip(f64, f64),
}

/// The steps that turn a starting weight into the final weight, in order:
/// applied to the starting weight of a row in its cell, [`Program::apply`]
/// gives exactly (bit for bit) the weight [`rake_traced`] computed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    /// The steps.
    pub ops: Vec<Op>,
}

impl Program {
    /// The final weight of a row with starting weight `x` in cell `cell`
    /// (the same floating-point operations, in the same order, as the rake).
    #[inline]
    pub fn apply(&self, x: f64, cell: u32) -> f64 {
        if x == 0.0 {
            return 0.0;
        }
        apply_ops(&self.ops, x, cell)
    }
}

/// The steps `ops` applied in order to a weight `x` of cell `cell`.
#[inline]
pub(crate) fn apply_ops(ops: &[Op], mut x: f64, cell: u32) -> f64 {
    for op in ops {
        match op {
            Op::Factors(f) => x *= f[cell as usize],
            Op::Scale(f) => x *= f,
            Op::Clip(lo, hi) => x = clip(x, *lo, *hi),
        }
    }
    x
}

/// Rakes `base` to the targets (and trims), returning weights summing to n.
///
/// Each rake–trim round is one pass of cell totals, IPF on the cell table,
/// one pass applying the factors (and summing), one pass normalising (and
/// summing, with min and max for the bounds check), and one pass per
/// clipping step; the sums are the same compensated row-order sums as
/// separate passes would give, so the weights are bit-for-bit the same.
pub fn rake(base: &[f64], p: &RakeProblem<'_>, s: &RakeSettings) -> RakeOutcome {
    rake_traced(base, p, s).0
}

/// The cell code of each row (mixed radix of the components' categories,
/// first slowest) and the number of cells.
pub fn cells_of(p: &RakeProblem<'_>, n: usize) -> (Vec<u32>, usize) {
    cell_codes(p, n)
}

/// [`rake`], also returning the [`Program`] that maps each row's base
/// weight to its final weight. Base weights of 0 (units a replicate
/// deletes) stay 0 and are out of the trimming mean and bounds.
pub fn rake_traced(base: &[f64], p: &RakeProblem<'_>, s: &RakeSettings) -> (RakeOutcome, Program) {
    let n = base.len();
    let active = base.iter().filter(|&&b| b != 0.0).count();
    let sparse = active < n;
    let mut ops = Vec::new();
    let targets = normalise_targets(p.targets);
    let (cell, cells) = cell_codes(p, n);
    let cat = cell_categories(p.levels, p.margins, cells);
    let mlevels: Vec<usize> = targets.iter().map(Vec::len).collect();
    let mut w = base.to_vec();
    let mut iterations = 0u32;
    let mut rounds = 0u32;
    let mut trimmed = 0usize;
    let mut feasible = true;
    let mut stalled;
    loop {
        let tot = cell_totals(&w, &cell, cells);
        let (factors, sweeps, ok) = round_factors(&tot, &cat, &mlevels, &targets, n as f64, s);
        iterations += sweeps;
        stalled = !ok;
        let total = apply_factors(&mut w, &cell, &factors);
        ops.push(Op::Factors(factors));
        let (scan, f) = normalise(&mut w, total, sparse);
        ops.push(Op::Scale(f));
        let Some((lower, upper, max_rounds)) = s.trimming else {
            break;
        };
        if stalled || within_bounds(&scan, active, lower, upper) {
            break;
        }
        if rounds >= max_rounds {
            let (at, total) = trim(&mut w, (lower, upper), scan.total, (active, sparse), &mut ops);
            trimmed = at;
            let (_, f) = normalise(&mut w, total, sparse);
            ops.push(Op::Scale(f));
            feasible = false;
            break;
        }
        rounds += 1;
        trimmed = trim(&mut w, (lower, upper), scan.total, (active, sparse), &mut ops).0;
    }
    let tot = cell_totals(&w, &cell, cells);
    let (err, worst) = margin_error(&margins(&tot, &cat, &mlevels), &targets);
    let base_total = swvr_core::sum::sum(base);
    let start = if base_total > 0.0 { n as f64 / base_total } else { 1.0 };
    let (mut gmin, mut gmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut nonpositive = 0usize;
    for (&x, &b) in w.iter().zip(base) {
        if sparse && b == 0.0 {
            continue;
        }
        let g = x / (b * start);
        gmin = gmin.min(g);
        gmax = gmax.max(g);
        nonpositive += usize::from(x <= 0.0 || x.is_nan());
    }
    let outcome = RakeOutcome {
        weights: w,
        converged: !stalled && feasible && err <= s.tolerance,
        iterations,
        max_margin_error: err,
        worst,
        trim_rounds: rounds,
        trimmed,
        trimming_feasible: feasible,
        ipf_stalled: stalled,
        g_range: (gmin, gmax),
        nonpositive,
    };
    (outcome, Program { ops })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two_matches_closed_form() {
        // 4 rows, one per cell; base weights 1; targets sex 0.5/0.5, age 0.3/0.7.
        let codes = vec![vec![0, 0, 1, 1], vec![0, 1, 0, 1]];
        let levels = [2, 2];
        let targets = vec![vec![0.5, 0.5], vec![0.3, 0.7]];
        let p = RakeProblem {
            codes: &codes,
            levels: &levels,
            margins: &[vec![0], vec![1]],
            targets: &targets,
        };
        let s = RakeSettings {
            tolerance: 1e-14,
            max_iterations: 100,
            trimming: None,
            calibration: Calibration::Raking,
        };
        let out = rake(&[1.0; 4], &p, &s);
        assert!(out.converged);
        // Independent margins from equal cells: w = 4 * 0.5 * share_age.
        let want = [0.6, 1.4, 0.6, 1.4];
        for (a, b) in out.weights.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}
