//! The tabulation engine: one pass per (country-wave, variable) that
//! accumulates per-stratum sufficient statistics for every domain level and
//! category at once, then the estimates and their design-based inference.
//!
//! # Formula
//! For category `c` of variable `Y` in domain level `d` (respondents asked
//! `Y`), with `a_i = 1[i ∈ d, asked]`, `W = Σ w_i a_i` and an outcome `y_i`
//! that is a function of the answer category (`1[Y_i = c]` for a share,
//! `1[plus] − 1[minus]` for a net figure), the estimate is
//! `m = Σ w_i a_i y_i / W` and its linearisation score `z_i = w_i a_i (y_i − m) / W`
//! (zero outside the domain, but counted in the stratum sizes `n_h` of the
//! whole country-wave sample). Per stratum `h`, with `S_hk = Σ w a 1[k]`,
//! `Q_hk = Σ w² a 1[k]` over categories `k`:
//!
//! - `Σ_h z = Σ_k (y_k − m) S_hk / W`, `Σ_h z² = Σ_k (y_k − m)² Q_hk / W²`,
//! - `V = Σ_h n_h/(n_h − 1) (Σ_h z² − (Σ_h z)²/n_h)` (Wolter 2007 §1.2),
//!   and for a stratum with a single respondent in the whole sample
//!   `Σ_h z²` (R's `survey.lonely.psu = "adjust"`: `survey` 4.1's `onestrat`
//!   leaves a lonely PSU uncentred, which for the scores of a mean, whose
//!   sample total is 0, is centring at the grand mean).
//!
//! `deff = V / V_srswr` with `V_srswr = [Σ_k (y_k − m)² S_k / W] · n/(n−1) / n`,
//! exactly R's `svymean(..., deff = "replace")` (`svyvar(x)/nobs`).
//!
//! # Calibrated variance
//! With `[variance] method = "calibrated"` each score is replaced by its
//! residual on the calibration variables, `z_i − w_i h_c(i)` with `h` one
//! value per calibration cell `c` (`swvr_core::calibration`: survey's
//! `svyrecvar` on a `rake()` or `calibrate()` design). The statistics are
//! then kept per (level, stratum, cell, category), with `E = Σ e_i a 1[k]`
//! (`e_i` the calibrator's row factor), and per (stratum, cell) over every
//! row of the country-wave `T = Σ w`, `QT = Σ w²`: `h` comes from the cell
//! sums `Σ_k (y_k − m) E_ck / W`, and per stratum
//! `Σ_h z = Σ_c [Σ_k (y_k − m) S_hck / W − h_c T_hc]`,
//! `Σ_h z² = Σ_c [Σ_k (y_k − m)² Q_hck / W² − 2 h_c Σ_k (y_k − m) Q_hck / W + h_c² QT_hc]`
//! (rows outside the level have `z_i = 0` but a residual `−w_i h_c`: the
//! residuals are taken over the whole calibration domain, as R's subset of
//! a calibrated design keeps every row). The SRS variance of `deff` is
//! unchanged (R's `svyvar` is a point estimate).

use std::collections::HashMap;

use arrow_array::{Array, Int8Array};
use swvr_core::calibration::Calibrator;
use swvr_core::groups::Group;
use swvr_core::sum::Neumaier;

use crate::TabulateError;

/// Marker: not asked / not in a level.
pub(crate) const NONE: u8 = u8::MAX;
/// Marker: a code outside the answer set.
pub(crate) const INVALID: u8 = u8::MAX - 1;

/// Where a tabulated variable's category comes from, row by row.
pub(crate) enum Source<'a> {
    /// An item column: code → category index through `lut`.
    Item {
        /// Column name (for errors).
        column: String,
        /// The codes.
        col: &'a Int8Array,
        /// Category index of each code (indexed by the code as `u8`).
        lut: Box<[u8; 256]>,
    },
    /// `any_yes`: categories yes(0), no(1), dk(2), refused(3); each part maps
    /// its codes to those classes.
    AnyYes {
        /// (column, codes, class of each code).
        parts: Vec<(String, &'a Int8Array, Box<[u8; 256]>)>,
    },
}

/// A variable to accumulate.
pub(crate) struct Var<'a> {
    /// Number of categories.
    pub k: usize,
    /// Its source.
    pub source: Source<'a>,
}

/// One domain: output labels and each batch row's level (or [`NONE`]).
pub(crate) struct DomainRows {
    /// Domain name.
    pub name: String,
    /// Level labels in output order.
    pub labels: Vec<String>,
    /// Level of each batch row.
    pub level: Vec<u8>,
}

/// A (country, wave) ready for accumulation: its rows ordered by
/// combination (stratum × the level of every domain), ascending within one,
/// so that a pass accumulates one combination at a time in registers.
pub(crate) struct Prepared<'g> {
    /// The group.
    pub group: &'g Group,
    /// Batch row of each position, grouped by combination.
    pub rows: Vec<u32>,
    /// Weight of each position.
    pub weight: Vec<f64>,
    /// Positions of combination `c`: `start[c]..start[c + 1]`.
    pub start: Vec<u32>,
    /// For each combination: its stratum and the flat level indices it
    /// belongs to (`total` = 0 included).
    pub combos: Vec<(u32, Vec<u8>)>,
    /// Respondents per stratum in the whole group.
    pub n_h: Vec<u64>,
    /// The calibration, with calibrated variance.
    pub cal: Option<PreparedCal>,
}

/// Calibration inputs of one group, per batch row.
pub(crate) struct CalInput<'a> {
    /// Calibration cell of each batch row.
    pub cell: &'a [u32],
    /// Row factor `e_i` of each batch row (`Calibrator::row_factor`).
    pub factor: &'a [f64],
    /// The group's calibrator.
    pub calibrator: Calibrator,
}

/// The calibration of a prepared group.
pub(crate) struct PreparedCal {
    /// The calibrator.
    pub calibrator: Calibrator,
    /// Number of cells.
    pub cells: usize,
    /// Calibration cell of each combination.
    pub combo_cell: Vec<u32>,
    /// Row factor of each position.
    pub factor: Vec<f64>,
    /// Σ w per (stratum, cell) over every row of the group.
    pub t: Vec<f64>,
    /// Σ w² per (stratum, cell) over every row of the group.
    pub qt: Vec<f64>,
}

/// Flat level indexing: `total` is 0, then each domain's levels in order.
pub(crate) fn level_offsets(domains: &[DomainRows]) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(domains.len());
    let mut next = 1;
    for d in domains {
        offsets.push(next);
        next += d.labels.len();
    }
    (offsets, next)
}

/// Orders a group's rows by combination: the stratum and the level of
/// every domain, encoded in mixed radix; combination ids are given in order
/// of first appearance and rows stay ascending within one (deterministic).
pub(crate) fn prepare<'g>(
    group: &'g Group,
    weight: &[f64],
    domains: &[DomainRows],
    cal: Option<CalInput<'_>>,
) -> Prepared<'g> {
    let (offsets, _) = level_offsets(domains);
    let n_cells = cal.as_ref().map_or(1, |c| c.calibrator.n_cells().max(1));
    let mut n_h = vec![0u64; group.strata.len()];
    for &h in &group.stratum {
        n_h[h as usize] += 1;
    }
    let radix: Vec<u64> = domains.iter().map(|d| d.labels.len() as u64 + 1).collect();
    let per_stratum: u64 = radix.iter().product::<u64>().saturating_mul(n_cells as u64);
    let space = per_stratum.saturating_mul(group.strata.len() as u64);
    let dense = space <= 1 << 24;
    let mut table: Vec<u32> = if dense {
        vec![u32::MAX; space as usize]
    } else {
        Vec::new()
    };
    let mut sparse: HashMap<u64, u32> = HashMap::new();
    let mut combos: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut combo_cell: Vec<u32> = Vec::new();
    let mut combo = Vec::with_capacity(group.rows.len());
    let mut count: Vec<u32> = Vec::new();
    for (pos, &r) in group.rows.iter().enumerate() {
        let r = r as usize;
        let h = group.stratum[pos];
        let mut key = u64::from(h);
        for (d, &rad) in domains.iter().zip(&radix) {
            let l = d.level[r];
            key = key * rad + if l == NONE { rad - 1 } else { u64::from(l) };
        }
        let cell = cal.as_ref().map_or(0, |c| c.cell[r]);
        if cal.is_some() {
            key = key * n_cells as u64 + u64::from(cell);
        }
        let slot = if dense {
            table[key as usize]
        } else {
            sparse.get(&key).copied().unwrap_or(u32::MAX)
        };
        let id = if slot != u32::MAX {
            slot
        } else {
            let id = combos.len() as u32;
            let mut levels = Vec::with_capacity(domains.len() + 1);
            levels.push(0u8);
            for (d, off) in domains.iter().zip(&offsets) {
                let l = d.level[r];
                if l != NONE {
                    levels.push((off + l as usize) as u8);
                }
            }
            combos.push((h, levels));
            combo_cell.push(cell);
            count.push(0);
            if dense {
                table[key as usize] = id;
            } else {
                sparse.insert(key, id);
            }
            id
        };
        count[id as usize] += 1;
        combo.push(id);
    }
    // Counting sort of positions by combination (stable).
    let mut start = Vec::with_capacity(count.len() + 1);
    let mut acc = 0u32;
    start.push(0);
    for c in &count {
        acc += c;
        start.push(acc);
    }
    let mut next: Vec<u32> = start[..count.len()].to_vec();
    let mut rows = vec![0u32; group.rows.len()];
    let mut w = vec![0.0f64; group.rows.len()];
    for (pos, &id) in combo.iter().enumerate() {
        let at = next[id as usize] as usize;
        next[id as usize] += 1;
        rows[at] = group.rows[pos];
        w[at] = weight[group.rows[pos] as usize];
    }
    let cal = cal.map(|c| {
        let hh = group.strata.len();
        let mut t = vec![Neumaier::new(); hh * n_cells];
        let mut qt = vec![Neumaier::new(); hh * n_cells];
        for (pos, &r) in group.rows.iter().enumerate() {
            let at = group.stratum[pos] as usize * n_cells + c.cell[r as usize] as usize;
            let wi = weight[r as usize];
            t[at].add(wi);
            qt[at].add(wi * wi);
        }
        PreparedCal {
            cells: n_cells,
            combo_cell,
            factor: rows.iter().map(|&r| c.factor[r as usize]).collect(),
            t: t.iter().map(Neumaier::total).collect(),
            qt: qt.iter().map(Neumaier::total).collect(),
            calibrator: c.calibrator,
        }
    });
    Prepared {
        group,
        rows,
        weight: w,
        start,
        combos,
        n_h,
        cal,
    }
}

/// Rows summed plainly before a cell's partial sums are folded into its
/// compensated totals.
const FOLD: u32 = 64;

/// Accumulator of one (combination, category): count, Σw, Σw². Values are
/// summed plainly in short runs of at most [`FOLD`] terms, and each run is
/// folded into a Neumaier accumulator: the rounding error is that of a
/// 64-term sum (≤ 64·ε relative) however many rows there are, at a fraction
/// of the cost of compensating every addition.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cell {
    n: u64,
    run: u32,
    s_run: f64,
    q_run: f64,
    s: Neumaier,
    q: Neumaier,
}

impl Cell {
    #[inline]
    pub(crate) fn add(&mut self, w: f64) {
        self.s_run += w;
        self.q_run += w * w;
        self.run += 1;
        if self.run == FOLD {
            self.fold();
        }
    }
    #[inline]
    fn fold(&mut self) {
        self.n += u64::from(self.run);
        self.s.add(self.s_run);
        self.q.add(self.q_run);
        self.run = 0;
        self.s_run = 0.0;
        self.q_run = 0.0;
    }
    fn merge(&mut self, o: &Cell) {
        let mut o = *o;
        o.fold();
        self.fold();
        self.n += o.n;
        self.s.merge(o.s);
        self.q.merge(o.q);
    }
}

/// Per-stratum sufficient statistics of one variable for every level:
/// index `((level · H + h) · C + c) · K + k` (`C` calibration cells, 1
/// without calibrated variance).
pub(crate) struct LevelStats {
    /// Strata.
    pub h: usize,
    /// Calibration cells (1 with fixed weights).
    pub c: usize,
    /// Categories.
    pub k: usize,
    /// Respondents.
    pub n: Vec<u64>,
    /// Σ w.
    pub s: Vec<f64>,
    /// Σ w².
    pub q: Vec<f64>,
    /// Σ e (calibrated variance only; empty otherwise).
    pub e: Vec<f64>,
}

/// The category of row `r` of a net ("any yes") item over `parts`: 0 when
/// any part is yes, 1 when every answered part is no, 2 when none is yes
/// and some part is DK, 3 otherwise; `None` when no part was asked.
#[inline]
pub(crate) fn any_yes_class(
    parts: &[(String, &Int8Array, Box<[u8; 256]>)],
    r: usize,
) -> Result<Option<usize>, TabulateError> {
    let (mut asked, mut yes, mut all_no, mut dk) = (false, false, true, false);
    for (column, col, lut) in parts {
        if col.is_null(r) {
            continue;
        }
        let code = col.value(r);
        let class = lut[code as u8 as usize];
        if class == INVALID {
            return Err(invalid(column, r, code));
        }
        asked = true;
        yes |= class == 0;
        all_no &= class == 1;
        dk |= class == 2;
    }
    if !asked {
        return Ok(None);
    }
    Ok(Some(if yes {
        0
    } else if all_no {
        1
    } else if dk {
        2
    } else {
        3
    }))
}

/// The row-level error of a code outside the answer set.
pub(crate) fn invalid(column: &str, row: usize, value: i8) -> TabulateError {
    TabulateError::Value {
        path: String::new(),
        row: row + 1,
        column: column.to_string(),
        value: value.to_string(),
        expected: "a code of the item's answer set".into(),
    }
}

/// One pass over a group for one variable; returns its [`LevelStats`].
pub(crate) fn accumulate(p: &Prepared<'_>, var: &Var<'_>, n_levels: usize) -> Result<LevelStats, TabulateError> {
    match &p.cal {
        None => accumulate_with::<false>(p, var, n_levels),
        Some(_) => accumulate_with::<true>(p, var, n_levels),
    }
}

/// [`accumulate`]; `CAL`: also Σ e per cell (the fixed-weight pass is
/// compiled without it).
fn accumulate_with<const CAL: bool>(
    p: &Prepared<'_>,
    var: &Var<'_>,
    n_levels: usize,
) -> Result<LevelStats, TabulateError> {
    let k = var.k;
    let mut cells = vec![Cell::default(); p.combos.len() * k];
    let mut ecells = vec![Neumaier::new(); if CAL { p.combos.len() * k } else { 0 }];
    let factor: &[f64] = p.cal.as_ref().map_or(&[], |c| &c.factor);
    for (id, run) in p.start.windows(2).enumerate() {
        let (lo, hi) = (run[0] as usize, run[1] as usize);
        let local = &mut cells[id * k..(id + 1) * k];
        let elocal: &mut [Neumaier] = if CAL {
            &mut ecells[id * k..(id + 1) * k]
        } else {
            &mut []
        };
        let rows = &p.rows[lo..hi];
        let weight = &p.weight[lo..hi];
        let efac: &[f64] = if CAL { &factor[lo..hi] } else { &[] };
        match &var.source {
            Source::Item { column, col, lut } => {
                let values = col.values();
                let nulls = col.nulls();
                for (j, (&r, &w)) in rows.iter().zip(weight).enumerate() {
                    let r = r as usize;
                    if nulls.is_some_and(|nb| nb.is_null(r)) {
                        continue;
                    }
                    let code = values[r];
                    let c = lut[code as u8 as usize];
                    if c == INVALID {
                        return Err(invalid(column, r, code));
                    }
                    local[c as usize].add(w);
                    if CAL {
                        elocal[c as usize].add(efac[j]);
                    }
                }
            }
            Source::AnyYes { parts } => {
                for (j, (&r, &w)) in rows.iter().zip(weight).enumerate() {
                    let r = r as usize;
                    let Some(c) = any_yes_class(parts, r)? else { continue };
                    local[c].add(w);
                    if CAL {
                        elocal[c].add(efac[j]);
                    }
                }
            }
        }
    }
    if CAL {
        return Ok(reduce_cal(p, &cells, &ecells, k, n_levels));
    }
    Ok(reduce(&p.combos, &cells, p.n_h.len(), k, n_levels))
}

/// The fixed-weight [`LevelStats`] of one variable from its per-combination
/// cells (`cells[combo · k + category]`), reduced to (level, stratum,
/// category) in combination order.
pub(crate) fn reduce(combos: &[(u32, Vec<u8>)], cells: &[Cell], h: usize, k: usize, n_levels: usize) -> LevelStats {
    let mut acc = vec![Cell::default(); n_levels * h * k];
    for (id, (stratum, levels)) in combos.iter().enumerate() {
        let from = &cells[id * k..(id + 1) * k];
        for &l in levels {
            let base = (l as usize * h + *stratum as usize) * k;
            for (a, c) in acc[base..base + k].iter_mut().zip(from) {
                a.merge(c);
            }
        }
    }
    for c in &mut acc {
        c.fold();
    }
    LevelStats {
        h,
        c: 1,
        k,
        n: acc.iter().map(|c| c.n).collect(),
        s: acc.iter().map(|c| c.s.total()).collect(),
        q: acc.iter().map(|c| c.q.total()).collect(),
        e: Vec::new(),
    }
}

/// [`reduce`] with calibration cells and Σ e.
fn reduce_cal(p: &Prepared<'_>, cells: &[Cell], ecells: &[Neumaier], k: usize, n_levels: usize) -> LevelStats {
    // Reduce combinations to (level, stratum, cell, category), in combination order.
    let h = p.n_h.len();
    let cc = p.cal.as_ref().map_or(1, |c| c.cells);
    let mut acc = vec![Cell::default(); n_levels * h * cc * k];
    let mut eacc = vec![Neumaier::new(); n_levels * h * cc * k];
    for (id, (stratum, levels)) in p.combos.iter().enumerate() {
        let from = &cells[id * k..(id + 1) * k];
        let cell = p.cal.as_ref().map_or(0, |c| c.combo_cell[id] as usize);
        for &l in levels {
            let base = ((l as usize * h + *stratum as usize) * cc + cell) * k;
            for (a, c) in acc[base..base + k].iter_mut().zip(from) {
                a.merge(c);
            }
            for (a, e) in eacc[base..base + k].iter_mut().zip(&ecells[id * k..(id + 1) * k]) {
                a.merge(*e);
            }
        }
    }
    for c in &mut acc {
        c.fold();
    }
    LevelStats {
        h,
        c: cc,
        k,
        n: acc.iter().map(|c| c.n).collect(),
        s: acc.iter().map(|c| c.s.total()).collect(),
        q: acc.iter().map(|c| c.q.total()).collect(),
        e: eacc.iter().map(Neumaier::total).collect(),
    }
}

/// Calibrated residual scores of one estimate, for covariances
/// ([`LevelStats::calibrated_scores`]).
pub(crate) struct CalScores {
    /// `Σ_h z̃` per stratum.
    pub sz: Vec<f64>,
    /// `Σ z w` per (stratum, cell) over the level's rows.
    pub zw: Vec<f64>,
    /// `h` per calibration cell.
    pub h: Vec<f64>,
}

/// The estimate of an outcome in one level, with what inference needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Inference {
    /// Respondents in the level asked the variable.
    pub n: u64,
    /// Strata with at least one of them.
    pub strata: u64,
    /// Weighted mean of the outcome.
    pub estimate: f64,
    /// Design variance of the estimate.
    pub variance: f64,
    /// Variance under SRS with replacement of size n (R's deff = "replace"),
    /// `None` when n < 2.
    pub v_srs: Option<f64>,
}

impl LevelStats {
    /// Respondents of `level` asked the variable.
    pub fn n(&self, level: usize) -> u64 {
        let stride = self.h * self.c * self.k;
        self.n[level * stride..(level + 1) * stride].iter().sum()
    }

    /// Respondents of `level` in category `k`.
    pub fn n_category(&self, level: usize, k: usize) -> u64 {
        (0..self.h * self.c)
            .map(|hc| self.n[(level * self.h * self.c + hc) * self.k + k])
            .sum()
    }

    /// The statistics of `level` summed over calibration cells, as
    /// [`LevelStats`] with one cell (the fixed-weight layout).
    fn without_cells(&self, level: usize) -> LevelStats {
        let (hh, cc, kk) = (self.h, self.c, self.k);
        let mut n = vec![0u64; hh * kk];
        let mut s = vec![Neumaier::new(); hh * kk];
        let mut q = vec![Neumaier::new(); hh * kk];
        for h in 0..hh {
            for c in 0..cc {
                for k in 0..kk {
                    let at = ((level * hh + h) * cc + c) * kk + k;
                    n[h * kk + k] += self.n[at];
                    s[h * kk + k].add(self.s[at]);
                    q[h * kk + k].add(self.q[at]);
                }
            }
        }
        LevelStats {
            h: hh,
            c: 1,
            k: kk,
            n,
            s: s.iter().map(Neumaier::total).collect(),
            q: q.iter().map(Neumaier::total).collect(),
            e: Vec::new(),
        }
    }

    /// [`LevelStats::infer`] with calibrated variance: the estimate and the
    /// SRS variance as with fixed weights, the variance from the residuals
    /// on the calibration variables (module docs).
    pub fn infer_calibrated(&self, level: usize, y: &[f64], n_h: &[u64], cal: &PreparedCal) -> Inference {
        let fixed = self.without_cells(level).infer(0, y, n_h);
        let (hh, cc, kk) = (self.h, self.c, self.k);
        let at = |h: usize, c: usize, k: usize| ((level * hh + h) * cc + c) * kk + k;
        let mut wsum = Neumaier::new();
        for h in 0..hh {
            for c in 0..cc {
                for k in 0..kk {
                    wsum.add(self.s[at(h, c, k)]);
                }
            }
        }
        let w = wsum.total();
        if w <= 0.0 {
            return fixed;
        }
        let m = fixed.estimate;
        // Cell sums Σ_{i∈c} z_i e_i / w_i = Σ_k (y_k − m) E_ck / W.
        let mut sums = vec![0.0; cc];
        for (c, slot) in sums.iter_mut().enumerate() {
            let mut acc = Neumaier::new();
            for h in 0..hh {
                for (k, &yk) in y.iter().enumerate() {
                    acc.add((yk - m) * self.e[at(h, c, k)]);
                }
            }
            *slot = acc.total() / w;
        }
        let adj = cal.calibrator.adjust(&sums, 1);
        let mut v = Neumaier::new();
        for (h, &size) in n_h.iter().enumerate() {
            let mut sz = Neumaier::new();
            let mut szz = Neumaier::new();
            for (c, &hc) in adj.iter().enumerate() {
                let mut zs = Neumaier::new();
                let mut zq = Neumaier::new();
                let mut zqq = Neumaier::new();
                for (k, &yk) in y.iter().enumerate() {
                    let d = yk - m;
                    zs.add(d * self.s[at(h, c, k)]);
                    zq.add(d * self.q[at(h, c, k)]);
                    zqq.add(d * d * self.q[at(h, c, k)]);
                }
                let (t, qt) = (cal.t[h * cc + c], cal.qt[h * cc + c]);
                sz.add(zs.total() / w);
                sz.add(-hc * t);
                szz.add(zqq.total() / (w * w));
                szz.add(-2.0 * hc * zq.total() / w);
                szz.add(hc * hc * qt);
            }
            let (sz, szz) = (sz.total(), szz.total());
            if size > 1 {
                let nf = size as f64;
                v.add(nf / (nf - 1.0) * (szz - sz * sz / nf));
            } else if size == 1 {
                // R's onestrat with lonely.psu = "adjust": uncentred.
                v.add(szz);
            }
        }
        Inference {
            variance: v.total().max(0.0),
            ..fixed
        }
    }

    /// The calibrated residual scores `z̃_i = z_i − w_i h_c(i)` of the mean
    /// `m` of `y` in `level`, summarised for covariances: per stratum
    /// `Σ_h z̃`, per (stratum, cell) `Σ z w = Σ_k (y_k − m) Q_hck / W`
    /// (over the level's rows), and `h` per cell (module docs).
    pub fn calibrated_scores(&self, level: usize, y: &[f64], m: f64, cal: &PreparedCal) -> CalScores {
        let (hh, cc, kk) = (self.h, self.c, self.k);
        let at = |h: usize, c: usize, k: usize| ((level * hh + h) * cc + c) * kk + k;
        let mut wsum = Neumaier::new();
        for i in 0..hh * cc * kk {
            wsum.add(self.s[level * hh * cc * kk + i]);
        }
        let w = wsum.total();
        if w <= 0.0 {
            return CalScores {
                sz: vec![0.0; hh],
                zw: vec![0.0; hh * cc],
                h: vec![0.0; cc],
            };
        }
        let mut sums = vec![0.0; cc];
        for (c, slot) in sums.iter_mut().enumerate() {
            let mut acc = Neumaier::new();
            for h in 0..hh {
                for (k, &yk) in y.iter().enumerate() {
                    acc.add((yk - m) * self.e[at(h, c, k)]);
                }
            }
            *slot = acc.total() / w;
        }
        let adj = cal.calibrator.adjust(&sums, 1);
        let mut sz = vec![0.0; hh];
        let mut zw = vec![0.0; hh * cc];
        for h in 0..hh {
            let mut t = Neumaier::new();
            for (c, &hc) in adj.iter().enumerate() {
                let mut zs = Neumaier::new();
                let mut zq = Neumaier::new();
                for (k, &yk) in y.iter().enumerate() {
                    zs.add((yk - m) * self.s[at(h, c, k)]);
                    zq.add((yk - m) * self.q[at(h, c, k)]);
                }
                t.add(zs.total() / w);
                t.add(-hc * cal.t[h * cc + c]);
                zw[h * cc + c] = zq.total() / w;
            }
            sz[h] = t.total();
        }
        CalScores { sz, zw, h: adj }
    }

    /// The mean of the outcome `y` (one value per category) in `level`;
    /// `n_h` are the stratum sizes of the whole group.
    pub fn infer(&self, level: usize, y: &[f64], n_h: &[u64]) -> Inference {
        debug_assert_eq!(self.c, 1, "fixed-weight statistics have one cell");
        let (hh, kk) = (self.h, self.k);
        let at = |h: usize, k: usize| (level * hh + h) * kk + k;
        let mut s_k = vec![Neumaier::new(); kk];
        let mut n = 0u64;
        let mut strata = 0u64;
        for h in 0..hh {
            let mut nh = 0;
            for (k, acc) in s_k.iter_mut().enumerate() {
                acc.add(self.s[at(h, k)]);
                nh += self.n[at(h, k)];
            }
            n += nh;
            strata += u64::from(nh > 0);
        }
        let s_k: Vec<f64> = s_k.iter().map(Neumaier::total).collect();
        let mut wsum = Neumaier::new();
        let mut ysum = Neumaier::new();
        for (k, &s) in s_k.iter().enumerate() {
            wsum.add(s);
            if y[k] != 0.0 {
                ysum.add(y[k] * s);
            }
        }
        let w = wsum.total();
        let m = if w > 0.0 { ysum.total() / w } else { 0.0 };
        let mut v = Neumaier::new();
        for (h, &size) in n_h.iter().enumerate() {
            let mut sz = Neumaier::new();
            let mut szz = Neumaier::new();
            for (k, &yk) in y.iter().enumerate() {
                let d = yk - m;
                sz.add(d * self.s[at(h, k)]);
                szz.add(d * d * self.q[at(h, k)]);
            }
            let sz = sz.total() / w;
            let szz = szz.total() / (w * w);
            if size > 1 {
                let nf = size as f64;
                v.add(nf / (nf - 1.0) * (szz - sz * sz / nf));
            } else if size == 1 {
                v.add(szz);
            }
        }
        let variance = if w > 0.0 { v.total().max(0.0) } else { 0.0 };
        let v_srs = (n >= 2 && w > 0.0).then(|| {
            let mut pop = Neumaier::new();
            for (k, &s) in s_k.iter().enumerate() {
                pop.add((y[k] - m) * (y[k] - m) * s);
            }
            let nf = n as f64;
            pop.total() / w * nf / (nf - 1.0) / nf
        });
        Inference {
            n,
            strata,
            estimate: m,
            variance,
            v_srs,
        }
    }
}
