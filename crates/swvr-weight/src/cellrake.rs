//! A replicate's raking (or calibration) and trimming on the cell table,
//! without a pass over the rows per step.
//!
//! # Method
//! [`crate::rake::rake_traced`] runs each rake–trim round as passes over
//! the rows: cell totals, factors applied, normalisation, and every step of
//! the trimming fixpoint (often tens of clips a round). A replicate needs
//! only its [`Program`] (the writer replays it row by row), and every step
//! of a program is a non-decreasing map of a weight within its cell
//! (positive factors and scales, clips). So within a cell the rows keep
//! the order of their starting weights `x`, and at any point a cell is
//! - a *bottom block* of rows clipped low, all with one value,
//! - the *free* rows, whose value is the program so far applied to `x`
//!   (no clip has bound them): their total is `P_c · Σ x`, `P_c` the
//!   product of the cell's factors and scales,
//! - a *top block* of rows clipped high, all with one value.
//!
//! A clip pins free rows from either end of the cell's sorted starting
//! weights. Only rows that might be pinned need sorting: one pass over the
//! rows puts a row in its cell's *explicit* list when its weight after the
//! first raking round is below `M × lower` or above `upper / M` times the
//! mean (`M = 2`), and summarises the others (the *bulk*: count, total,
//! smallest and largest `x`). If a clip would reach into the bulk (its
//! smallest or largest row, replayed, is out of bounds), the cells are
//! built again with `M = 8`, then with every row explicit. Each step then
//! costs O(cells + rows newly pinned), not O(rows).
//!
//! What is exact and what is reassociated: the first round's cell totals
//! and its factor total are the row-order compensated sums of the row path
//! (so a replicate that needs no trimming gets the row path's program bit
//! for bit); the smallest and largest weights (the bounds check) are the
//! program replayed on the extreme rows, exact. The later totals (cell
//! totals after a trim, the normalised total, each clip's new mean) are
//! compensated sums over the blocks and `P_c · Σ x` instead of over the
//! rows: the same quantities summed in another order, a few units in the
//! last place apart. The row path stays the reference (tests compare the
//! two) and the fallback when a factor is not positive and finite
//! (unbounded linear calibration).

use swvr_core::sum::Neumaier;

use crate::rake::{
    Op, Program, RakeSettings, Scan, apply_ops, cell_categories, clip, margin_error, margins, normalise_targets,
    push_clip, round_factors, within_bounds,
};

/// A replicate's raking problem on the cell table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CellProblem<'a> {
    /// Starting weight of each row (0 = a unit the replicate deletes).
    pub w: &'a [f64],
    /// Cell of each row (mixed radix, first component slowest).
    pub cell: &'a [u32],
    /// Number of cells.
    pub cells: usize,
    /// Categories per raking component.
    pub levels: &'a [usize],
    /// Per margin, its components.
    pub margins: &'a [Vec<usize>],
    /// Per margin, the target shares (normalised here).
    pub targets: &'a [Vec<f64>],
}

/// What the replicate chain needs of a rake.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CellOutcome {
    pub converged: bool,
    pub trimming_feasible: bool,
    pub trim_rounds: u32,
    pub max_margin_error: f64,
    /// Final weights ≤ 0 (only on the row path: unbounded linear calibration).
    pub nonpositive: usize,
    /// Smallest g-weight (row path; NaN on the cell path, which has no
    /// weight ≤ 0 to report).
    pub g_min: f64,
}

impl From<&crate::rake::RakeOutcome> for CellOutcome {
    fn from(o: &crate::rake::RakeOutcome) -> Self {
        CellOutcome {
            converged: o.converged,
            trimming_feasible: o.trimming_feasible,
            trim_rounds: o.trim_rounds,
            max_margin_error: o.max_margin_error,
            nonpositive: o.nonpositive,
            g_min: o.g_range.0,
        }
    }
}

/// Why the cell path gave up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    /// A clip reached the bulk: build the cells with more explicit rows.
    Bulk,
    /// A factor or weight the ordering argument does not cover (not
    /// positive and finite): the row path.
    Unsupported,
}

/// The rows of a cell not in its explicit list.
#[derive(Debug, Clone, Copy)]
struct Bulk {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// One cell's state.
#[derive(Debug, Clone)]
struct Cell {
    /// Explicit starting weights, ascending.
    e: Vec<f64>,
    /// `pre[k]` = Σ `e[..k]` (compensated running sums).
    pre: Vec<f64>,
    /// Explicit weights below the bulk (`e[..p]`).
    p: usize,
    bulk: Option<Bulk>,
    /// Free explicit rows: `e[i..j]` (with the bulk, `i ≤ p ≤ j`).
    i: usize,
    j: usize,
    /// Product of the cell's factors and scales so far.
    prod: f64,
    /// Rows clipped low and their common value.
    bottom: (u64, f64),
    /// Rows clipped high and their common value.
    top: (u64, f64),
}

impl Cell {
    fn new(mut e: Vec<f64>, below: f64, bulk: Option<Bulk>) -> Self {
        e.sort_unstable_by(f64::total_cmp);
        let p = e.partition_point(|&x| x < below);
        let mut pre = Vec::with_capacity(e.len() + 1);
        let mut acc = Neumaier::new();
        pre.push(0.0);
        for &x in &e {
            acc.add(x);
            pre.push(acc.total());
        }
        let j = e.len();
        Cell {
            e,
            pre,
            p,
            bulk,
            i: 0,
            j,
            prod: 1.0,
            bottom: (0, 0.0),
            top: (0, 0.0),
        }
    }

    /// Multiplies every row by `f`.
    fn scale(&mut self, f: f64) {
        self.prod *= f;
        self.bottom.1 *= f;
        self.top.1 *= f;
    }

    /// The cell's total.
    fn total(&self) -> f64 {
        let free = (self.pre[self.j] - self.pre[self.i]) + self.bulk.map_or(0.0, |b| b.sum);
        let mut s = Neumaier::new();
        if self.bottom.0 > 0 {
            s.add(self.bottom.0 as f64 * self.bottom.1);
        }
        s.add(self.prod * free);
        if self.top.0 > 0 {
            s.add(self.top.0 as f64 * self.top.1);
        }
        s.total()
    }

    /// Starting weights of the lowest and highest free rows.
    fn free_ends(&self) -> Option<(f64, f64)> {
        match self.bulk {
            Some(b) => Some((
                if self.i < self.p { self.e[self.i] } else { b.min },
                if self.j > self.p { self.e[self.j - 1] } else { b.max },
            )),
            None => (self.i < self.j).then(|| (self.e[self.i], self.e[self.j - 1])),
        }
    }

    /// Smallest and largest current value (None: no active row).
    fn extremes(&self, ops: &[Op], c: u32) -> Option<(f64, f64)> {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut any = false;
        let mut see = |v: f64| {
            lo = lo.min(v);
            hi = hi.max(v);
            any = true;
        };
        if self.bottom.0 > 0 {
            see(self.bottom.1);
        }
        if let Some((a, b)) = self.free_ends() {
            see(apply_ops(ops, a, c));
            see(apply_ops(ops, b, c));
        }
        if self.top.0 > 0 {
            see(self.top.1);
        }
        any.then_some((lo, hi))
    }

    /// One clip to `[lo, hi]` (`ops`: the steps before it); returns whether
    /// any row's value changed.
    fn clip(&mut self, lo: f64, hi: f64, ops: &[Op], c: u32) -> Result<bool, Stop> {
        let mut changed = false;
        for block in [&mut self.bottom, &mut self.top] {
            if block.0 > 0 {
                let v = clip(block.1, lo, hi);
                changed |= v != block.1;
                block.1 = v;
            }
        }
        // Free rows below `lo`, lowest first, join the bottom block.
        loop {
            let k = match self.bulk {
                Some(b) if self.i >= self.p => {
                    if apply_ops(ops, b.min, c) < lo {
                        return Err(Stop::Bulk);
                    }
                    break;
                }
                _ if self.i < self.j => self.i,
                _ => break,
            };
            if apply_ops(ops, self.e[k], c) < lo {
                self.bottom = (self.bottom.0 + 1, lo);
                self.i += 1;
                changed = true;
            } else {
                break;
            }
        }
        // Free rows above `hi`, highest first, join the top block.
        loop {
            let k = match self.bulk {
                Some(b) if self.j <= self.p => {
                    if apply_ops(ops, b.max, c) > hi {
                        return Err(Stop::Bulk);
                    }
                    break;
                }
                _ if self.j > self.i => self.j - 1,
                _ => break,
            };
            if apply_ops(ops, self.e[k], c) > hi {
                self.top = (self.top.0 + 1, hi);
                self.j -= 1;
                changed = true;
            } else {
                break;
            }
        }
        Ok(changed)
    }
}

/// Compensated total of every cell.
fn grand_total(cells: &[Cell]) -> f64 {
    let mut s = Neumaier::new();
    cells.iter().for_each(|c| s.add(c.total()));
    s.total()
}

/// Total, smallest and largest value of every cell (NaN: Unsupported).
fn scan(cells: &[Cell], ops: &[Op]) -> Result<Scan, Stop> {
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for (c, cell) in cells.iter().enumerate() {
        if let Some((a, b)) = cell.extremes(ops, c as u32) {
            if a.is_nan() || b.is_nan() {
                return Err(Stop::Unsupported);
            }
            min = min.min(a);
            max = max.max(b);
        }
    }
    let total = grand_total(cells);
    if total.is_nan() {
        return Err(Stop::Unsupported);
    }
    Ok(Scan {
        total,
        min,
        max,
        nan: false,
    })
}

/// The trimming fixpoint of [`crate::rake`] on the cells; returns the
/// total after it.
fn trim(
    cells: &mut [Cell],
    (lower, upper): (f64, f64),
    mut total: f64,
    active: usize,
    ops: &mut Vec<Op>,
) -> Result<f64, Stop> {
    let n = active as f64;
    for _ in 0..100 {
        let mean = total / n;
        let (lo, hi) = (lower * mean, upper * mean);
        let mut changed = false;
        for (c, cell) in cells.iter_mut().enumerate() {
            changed |= cell.clip(lo, hi, ops, c as u32)?;
        }
        push_clip(ops, lo, hi);
        total = grand_total(cells);
        if !changed {
            break;
        }
    }
    Ok(total)
}

/// True for a factor the ordering argument covers.
fn usable(f: &[f64]) -> bool {
    f.iter().all(|&x| x.is_finite() && x > 0.0)
}

/// Rakes (or calibrates) and trims a replicate on the cell table; None when
/// the row path ([`crate::rake::rake_traced`]) must do it (a starting
/// weight or factor not positive and finite).
pub(crate) fn rake_cells(p: &CellProblem<'_>, s: &RakeSettings) -> Option<(CellOutcome, Program)> {
    let n = p.w.len();
    let targets = normalise_targets(p.targets);
    let cat = cell_categories(p.levels, p.margins, p.cells);
    let mlevels: Vec<usize> = targets.iter().map(Vec::len).collect();
    // First round's cell totals: the row path's sums, in row order.
    let mut acc = vec![Neumaier::new(); p.cells];
    let mut active = 0usize;
    for (&x, &c) in p.w.iter().zip(p.cell) {
        if x != 0.0 {
            if !(x.is_finite() && x > 0.0) {
                return None;
            }
            active += 1;
            acc[c as usize].add(x);
        }
    }
    let tot: Vec<f64> = acc.iter().map(Neumaier::total).collect();
    let first = round_factors(&tot, &cat, &mlevels, &targets, n as f64, s);
    if !usable(&first.0) {
        return None;
    }
    let mut margin = match s.trimming {
        Some(_) => 2.0,
        None => f64::INFINITY,
    };
    loop {
        // Explicit rows: below `below[c]` or above `above[c]` (starting weights).
        let (below, above): (Vec<f64>, Vec<f64>) = match s.trimming {
            None => (vec![0.0; p.cells], vec![f64::INFINITY; p.cells]),
            Some((lower, upper, _)) => {
                let approx = swvr_core::sum::sum(&tot.iter().zip(&first.0).map(|(t, f)| t * f).collect::<Vec<_>>());
                let mean = n as f64 / active.max(1) as f64;
                let scale = if approx > 0.0 { n as f64 / approx } else { 1.0 };
                if margin.is_infinite() {
                    (vec![f64::INFINITY; p.cells], vec![f64::INFINITY; p.cells])
                } else {
                    first
                        .0
                        .iter()
                        .map(|&f| {
                            let v = f * scale;
                            (lower * mean * margin / v, upper * mean / margin / v)
                        })
                        .unzip()
                }
            }
        };
        match run(p, s, &first, (&below, &above), (active, &cat, &mlevels, &targets)) {
            Ok(r) => return Some(r),
            Err(Stop::Unsupported) => return None,
            Err(Stop::Bulk) if margin.is_infinite() => return None,
            Err(Stop::Bulk) => margin = if margin < 8.0 { 8.0 } else { f64::INFINITY },
        }
    }
}

/// Builds the cells with the given explicit thresholds and runs the chain.
#[allow(clippy::type_complexity)]
fn run(
    p: &CellProblem<'_>,
    s: &RakeSettings,
    first: &(Vec<f64>, u32, bool),
    (below, above): (&[f64], &[f64]),
    (active, cat, mlevels, targets): (usize, &[Vec<u32>], &[usize], &[Vec<f64>]),
) -> Result<(CellOutcome, Program), Stop> {
    let n = p.w.len();
    let mut explicit: Vec<Vec<f64>> = vec![Vec::new(); p.cells];
    let mut bulk: Vec<Option<Bulk>> = vec![None; p.cells];
    let mut bulk_sum = vec![Neumaier::new(); p.cells];
    // The first round's factor total, in row order as the row path.
    let mut applied = Neumaier::new();
    for (&x, &c) in p.w.iter().zip(p.cell) {
        if x == 0.0 {
            continue;
        }
        let c = c as usize;
        applied.add(x * first.0[c]);
        if x < below[c] || x > above[c] {
            explicit[c].push(x);
        } else {
            bulk_sum[c].add(x);
            let b = bulk[c].get_or_insert(Bulk {
                count: 0,
                sum: 0.0,
                min: x,
                max: x,
            });
            b.count += 1;
            b.min = b.min.min(x);
            b.max = b.max.max(x);
        }
    }
    let mut cells: Vec<Cell> = explicit
        .into_iter()
        .zip(bulk)
        .zip(&bulk_sum)
        .zip(below)
        .map(|(((e, b), sum), &below)| Cell::new(e, below, b.map(|b| Bulk { sum: sum.total(), ..b })))
        .collect();
    let mut ops: Vec<Op> = Vec::new();
    let mut rounds = 0u32;
    let mut feasible = true;
    let mut stalled;
    let mut round = 0usize;
    loop {
        let (factors, _, ok) = if round == 0 {
            first.clone()
        } else {
            let tot: Vec<f64> = cells.iter().map(Cell::total).collect();
            round_factors(&tot, cat, mlevels, targets, n as f64, s)
        };
        if !usable(&factors) {
            return Err(Stop::Unsupported);
        }
        stalled = !ok;
        for (cell, &f) in cells.iter_mut().zip(&factors) {
            cell.scale(f);
        }
        ops.push(Op::Factors(factors));
        let total = if round == 0 {
            applied.total()
        } else {
            grand_total(&cells)
        };
        let f = if total > 0.0 { n as f64 / total } else { 1.0 };
        if total > 0.0 {
            cells.iter_mut().for_each(|c| c.scale(f));
        }
        ops.push(Op::Scale(f));
        let scan = scan(&cells, &ops)?;
        round += 1;
        let Some((lower, upper, max_rounds)) = s.trimming else {
            break;
        };
        if stalled || within_bounds(&scan, active, lower, upper) {
            break;
        }
        if rounds >= max_rounds {
            let total = trim(&mut cells, (lower, upper), scan.total, active, &mut ops)?;
            let f = if total > 0.0 { n as f64 / total } else { 1.0 };
            if total > 0.0 {
                cells.iter_mut().for_each(|c| c.scale(f));
            }
            ops.push(Op::Scale(f));
            feasible = false;
            break;
        }
        rounds += 1;
        trim(&mut cells, (lower, upper), scan.total, active, &mut ops)?;
    }
    let tot: Vec<f64> = cells.iter().map(Cell::total).collect();
    let (err, _) = margin_error(&margins(&tot, cat, mlevels), targets);
    Ok((
        CellOutcome {
            converged: !stalled && feasible && err <= s.tolerance,
            trimming_feasible: feasible,
            trim_rounds: rounds,
            max_margin_error: err,
            nonpositive: 0,
            g_min: f64::NAN,
        },
        Program { ops },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::calibrate::Calibration;
    use crate::rake::{RakeProblem, cells_of, rake_traced};
    use swvr_core::rng::Rng;

    /// A skewed sample of `n` rows over sex (2) × age (4) × education (3),
    /// base weights spread over 1–12, and bootstrap-like factors (a third
    /// of the rows deleted, some counted twice or three times).
    fn sample(n: usize, seed: u64) -> (Vec<Vec<u8>>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let mut codes = vec![Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n)];
        let mut w = Vec::with_capacity(n);
        for _ in 0..n {
            let sex = u8::from(rng.uniform() < 0.6);
            let age = [0u8, 0, 0, 1, 1, 2, 3][rng.range(0, 6) as usize];
            let edu = if age == 0 {
                1 + rng.range(0, 1) as u8
            } else {
                rng.range(0, 2) as u8
            };
            codes[0].push(sex);
            codes[1].push(age);
            codes[2].push(edu);
            let base = 1.0 + 11.0 * rng.uniform() * rng.uniform();
            let k = [0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 3.0][rng.range(0, 6) as usize];
            w.push(base * k * 1.25);
        }
        (codes, w)
    }

    const LEVELS: [usize; 3] = [2, 4, 3];

    fn targets() -> Vec<Vec<f64>> {
        vec![vec![0.5, 0.5], vec![0.35, 0.3, 0.2, 0.15], vec![0.5, 0.3, 0.2]]
    }

    fn settings(trimming: Option<(f64, f64, u32)>, calibration: Calibration) -> RakeSettings {
        RakeSettings {
            tolerance: 1e-10,
            max_iterations: 1000,
            trimming,
            calibration,
        }
    }

    /// (cell path, row path, cell of each row, starting weights).
    type Both = ((CellOutcome, Program), (CellOutcome, Program), Vec<u32>, Vec<f64>);

    /// Both paths on one replicate: (cell outcome and program, row outcome and program).
    fn both(n: usize, seed: u64, s: &RakeSettings) -> Both {
        let (codes, w) = sample(n, seed);
        let margins = vec![vec![0], vec![1], vec![2]];
        let targets = targets();
        let rp = RakeProblem {
            codes: &codes,
            levels: &LEVELS,
            margins: &margins,
            targets: &targets,
        };
        let (cell, cells) = cells_of(&rp, n);
        let cp = CellProblem {
            w: &w,
            cell: &cell,
            cells,
            levels: &LEVELS,
            margins: &margins,
            targets: &targets,
        };
        let fast = rake_cells(&cp, s).unwrap();
        let (out, program) = rake_traced(&w, &rp, s);
        // The row path's program replays its own weights bit for bit.
        for (i, (&x, &c)) in w.iter().zip(&cell).enumerate() {
            assert_eq!(program.apply(x, c).to_bits(), out.weights[i].to_bits());
        }
        (fast, (CellOutcome::from(&out), program), cell, w)
    }

    /// Worst relative difference of the two programs' weights.
    fn worst(a: &Program, b: &Program, cell: &[u32], w: &[f64]) -> f64 {
        w.iter()
            .zip(cell)
            .map(|(&x, &c)| {
                let (p, q) = (a.apply(x, c), b.apply(x, c));
                if q == 0.0 { p.abs() } else { ((p - q) / q).abs() }
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn without_trimming_the_cell_path_is_the_row_path_bit_for_bit() {
        for cal in [Calibration::Raking, Calibration::Logit { bounds: (0.3, 3.0) }] {
            let ((fast, fp), (slow, sp), _, _) = both(4000, 7, &settings(None, cal));
            assert_eq!(fp, sp, "{cal:?}");
            assert_eq!(fast.converged, slow.converged);
            assert_eq!(fast.max_margin_error.to_bits(), slow.max_margin_error.to_bits());
        }
    }

    #[test]
    fn with_binding_trimming_the_cell_path_matches_the_row_path() {
        for (seed, bounds) in [(1, (0.3, 3.0)), (2, (0.5, 2.0)), (3, (0.2, 5.0)), (4, (0.4, 2.5))] {
            for cal in [Calibration::Raking, Calibration::Logit { bounds: (0.2, 5.0) }] {
                let s = settings(Some((bounds.0, bounds.1, 50)), cal);
                let ((fast, fp), (slow, sp), cell, w) = both(5000, seed, &s);
                assert!(slow.trim_rounds >= 1, "seed {seed}: trimming must bind");
                assert_eq!(
                    (fast.converged, fast.trimming_feasible, fast.trim_rounds),
                    (slow.converged, slow.trimming_feasible, slow.trim_rounds),
                    "seed {seed} {cal:?}"
                );
                let d = worst(&fp, &sp, &cell, &w);
                assert!(d < 1e-12, "seed {seed} {cal:?}: {d:e}");
                // The repeated clips of a trimming step are one step each.
                assert!(
                    fp.ops.len() <= 3 * (fast.trim_rounds as usize + 1) + 1,
                    "{}",
                    fp.ops.len()
                );
            }
        }
    }

    #[test]
    fn infeasible_trimming_stops_at_max_rounds_like_the_row_path() {
        let s = settings(Some((0.9, 1.1, 3)), Calibration::Raking);
        let ((fast, fp), (slow, sp), cell, w) = both(3000, 5, &s);
        assert!(!slow.trimming_feasible && !fast.trimming_feasible);
        assert_eq!((fast.trim_rounds, fast.converged), (slow.trim_rounds, slow.converged));
        assert!(worst(&fp, &sp, &cell, &w) < 1e-12);
    }

    #[test]
    fn a_clip_reaching_the_bulk_rebuilds_with_more_explicit_rows() {
        // Every row in the bulk: the first clip that binds stops the run.
        let (codes, w) = sample(2000, 9);
        let margins = vec![vec![0], vec![1], vec![2]];
        let targets = targets();
        let rp = RakeProblem {
            codes: &codes,
            levels: &LEVELS,
            margins: &margins,
            targets: &targets,
        };
        let (cell, cells) = cells_of(&rp, w.len());
        let p = CellProblem {
            w: &w,
            cell: &cell,
            cells,
            levels: &LEVELS,
            margins: &margins,
            targets: &targets,
        };
        let s = settings(Some((0.5, 2.0, 50)), Calibration::Raking);
        let t = normalise_targets(&targets);
        let cat = cell_categories(&LEVELS, &margins, cells);
        let ml: Vec<usize> = t.iter().map(Vec::len).collect();
        let active = w.iter().filter(|&&x| x != 0.0).count();
        let mut acc = vec![Neumaier::new(); cells];
        for (&x, &c) in w.iter().zip(&cell) {
            acc[c as usize].add(x);
        }
        let tot: Vec<f64> = acc.iter().map(Neumaier::total).collect();
        let first = round_factors(&tot, &cat, &ml, &t, w.len() as f64, &s);
        let none = (vec![0.0; cells], vec![f64::INFINITY; cells]);
        let r = run(&p, &s, &first, (&none.0, &none.1), (active, &cat, &ml, &t));
        assert_eq!(r.err(), Some(Stop::Bulk));
        // rake_cells recovers, and agrees with the row path.
        let (fast, fp) = rake_cells(&p, &s).unwrap();
        let (out, sp) = rake_traced(&w, &rp, &s);
        assert_eq!(fast.trim_rounds, out.trim_rounds);
        assert!(worst(&fp, &sp, &cell, &w) < 1e-12);
    }

    #[test]
    fn a_weight_or_factor_the_order_argument_does_not_cover_takes_the_row_path() {
        let w = [1.0, -2.0, 3.0];
        let cell = [0u32, 1, 0];
        let p = CellProblem {
            w: &w,
            cell: &cell,
            cells: 2,
            levels: &[2],
            margins: &[vec![0]],
            targets: &[vec![0.5, 0.5]],
        };
        assert!(rake_cells(&p, &settings(None, Calibration::Raking)).is_none());
    }

    #[test]
    fn merged_clips_give_the_bits_of_clips_in_sequence() {
        let mut rng = Rng::new(11);
        for _ in 0..2000 {
            let mut ops = Vec::new();
            let mut seq = Vec::new();
            for _ in 0..1 + rng.range(0, 5) {
                let a = 4.0 * rng.uniform();
                let b = a + 4.0 * rng.uniform();
                push_clip(&mut ops, a, b);
                seq.push((a, b));
            }
            assert_eq!(ops.len(), 1);
            for _ in 0..20 {
                let x = 10.0 * rng.uniform();
                let want = seq.iter().fold(x, |v, &(a, b)| clip(v, a, b));
                assert_eq!(apply_ops(&ops, x, 0).to_bits(), want.to_bits());
            }
        }
    }
}
