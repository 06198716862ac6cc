//! Calibration-aware linearisation (`[variance] method = "calibrated"`):
//! the influence values of an estimate replaced by their residuals on the
//! calibration variables, as R's `survey::svyrecvar` does for the designs
//! `rake()` and `calibrate()` return.
//!
//! The weight stage records in weighted.arrow's schema metadata how the
//! weights were calibrated ([`META_VARIANCE`], [`META_CALIBRATION`],
//! [`META_MARGINS`]); tabulate and model read it and residualise their
//! scores with a [`Calibrator`] per (country, wave), the calibration domain.
//!
//! # Formula
//! For scores `z_i` (the influence values of a total, `w_i` the final
//! weights), the calibration variables `x_i` (the dummies of the margins'
//! categories; interaction margins give the dummies of their cells) are
//! constant within a *cell* of the cross-classification of the raking
//! components, so every residual has the form `z_i − w_i·h_c(i)`:
//!
//! - **`calibrate()` designs** (`linear`, `logit`; survey's
//!   `greg_calibration`, `qr.resid(qr(X·√d), z/(g√d))·g√d`):
//!   `h_c = x_c'β`, `β = (Σ_i d_i x_i x_i')⁻¹ Σ_i x_i z_i/g_i` — the
//!   regression of `z/w` on `x` weighted by the pre-calibration weights
//!   `d_i`, `g_i = w_i/d_i` ([`Residualise::Regression`]);
//! - **`rake()` designs** (survey's `raking` post-strata): ten sweeps over
//!   the margins in order of `u ← u − ave(u, margin)` with `u = z/w`, the
//!   *unweighted* mean within each category: `h_c` accumulates the
//!   subtracted means ([`Residualise::Backfit`]). Ten sweeps is survey's
//!   fixed number (not a converged projection), reproduced exactly.
//!
//! Both need only cell sums of the scores: `Σ_{i∈c} z_i/w_i` (backfit) or
//! `Σ_{i∈c} z_i d_i/w_i` (regression), i.e. `Σ_{i∈c} z_i e_i/w_i` with the
//! per-row factor `e_i` of [`Calibrator::row_factor`] (1 or `d_i`).

/// Schema-metadata key of weighted.arrow: `calibrated` when the scheme asks
/// for calibration-aware standard errors (absent: weights taken as fixed).
pub const META_VARIANCE: &str = "swvr.variance";
/// Schema-metadata key: the calibration function (`raking`, `linear`, `logit`).
pub const META_CALIBRATION: &str = "swvr.calibration";
/// Schema-metadata key: the margins, `,`-joined, interactions as `a*b`;
/// each component `D` has its value used for weighting in column `D_weighting`.
pub const META_MARGINS: &str = "swvr.calibration_margins";

/// The calibration recorded in a weighted batch, per batch row.
#[derive(Debug, Clone)]
pub struct BatchCalibration {
    /// Residualisation method.
    pub method: Residualise,
    /// The calibration function's name (`raking`, `linear`, `logit`).
    pub function: String,
    /// Calibration cell of each row.
    pub cell: Vec<u32>,
    /// Number of cells.
    pub n_cells: usize,
    /// Per margin, the category of each cell.
    pub cat: Vec<Vec<u32>>,
    /// Per margin, its number of categories.
    pub mlevels: Vec<usize>,
    /// Pre-calibration weight of each row (`base_weight`).
    pub start: Vec<f64>,
}

/// A problem with the calibration columns of a weighted batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationColumnError {
    /// Column.
    pub column: String,
    /// What was expected.
    pub expected: String,
}

impl BatchCalibration {
    /// The calibration recorded in `batch` (schema metadata
    /// [`META_VARIANCE`] = `calibrated`), or `None` for fixed weights.
    /// Reads [`META_CALIBRATION`], [`META_MARGINS`], the columns
    /// `D_weighting` of every margin component `D` (Int8 codes or Utf8
    /// bands; categories numbered in sorted order of the values present)
    /// and `base_weight`.
    pub fn from_batch(batch: &arrow_array::RecordBatch) -> Result<Option<Self>, CalibrationColumnError> {
        use arrow_array::{Array, Float64Array, Int8Array, StringArray};
        let schema = batch.schema();
        let md = schema.metadata();
        if md.get(META_VARIANCE).map(String::as_str) != Some("calibrated") {
            return Ok(None);
        }
        let bad = |column: &str, expected: &str| CalibrationColumnError {
            column: column.to_string(),
            expected: expected.to_string(),
        };
        let function = md.get(META_CALIBRATION).cloned().unwrap_or_default();
        let method = Residualise::for_method(&function).ok_or_else(|| {
            bad(
                META_CALIBRATION,
                "schema metadata `raking`, `linear` or `logit` (calibrated variance needs the calibration function)",
            )
        })?;
        let margins_text = md.get(META_MARGINS).cloned().unwrap_or_default();
        let margin_names: Vec<Vec<String>> = margins_text
            .split(',')
            .filter(|m| !m.is_empty())
            .map(|m| m.split('*').map(str::to_string).collect())
            .collect();
        if margin_names.is_empty() {
            return Err(bad(META_MARGINS, "schema metadata listing the calibration margins"));
        }
        let mut components: Vec<String> = Vec::new();
        for m in &margin_names {
            for c in m {
                if !components.contains(c) {
                    components.push(c.clone());
                }
            }
        }
        let n = batch.num_rows();
        let mut codes: Vec<Vec<u8>> = Vec::with_capacity(components.len());
        let mut levels: Vec<usize> = Vec::with_capacity(components.len());
        for comp in &components {
            let name = format!("{comp}_weighting");
            let expected = "the value used for weighting of every row (Int8 code or Utf8 band, no nulls)";
            let col = batch.column_by_name(&name).ok_or_else(|| bad(&name, expected))?;
            if col.null_count() > 0 {
                return Err(bad(&name, expected));
            }
            let keys: Vec<String> = if let Some(a) = col.as_any().downcast_ref::<Int8Array>() {
                a.values().iter().map(|v| format!("{v:04}")).collect()
            } else if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                (0..n).map(|i| a.value(i).to_string()).collect()
            } else {
                return Err(bad(&name, expected));
            };
            let mut distinct: Vec<&String> = keys.iter().collect();
            distinct.sort();
            distinct.dedup();
            if distinct.len() > 255 {
                return Err(bad(&name, "at most 255 distinct values"));
            }
            codes.push(
                keys.iter()
                    .map(|k| distinct.binary_search(&k).map_or(0, |i| i as u8))
                    .collect(),
            );
            levels.push(distinct.len().max(1));
        }
        let margins: Vec<Vec<usize>> = margin_names
            .iter()
            .map(|m| {
                m.iter()
                    .filter_map(|c| components.iter().position(|x| x == c))
                    .collect()
            })
            .collect();
        if levels
            .iter()
            .try_fold(1usize, |acc, &l| acc.checked_mul(l))
            .is_none_or(|c| c > 1 << 20)
        {
            return Err(bad(
                META_MARGINS,
                "at most 2^20 cells in the cross-classification of the margins",
            ));
        }
        let (cell, n_cells, cat, mlevels) = cells(&codes, &levels, &margins);
        let bw = batch
            .column_by_name("base_weight")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
            .ok_or_else(|| {
                bad(
                    "base_weight",
                    "the base weights (Float64), needed by calibrated variance",
                )
            })?;
        let start: Vec<f64> = (0..n).map(|i| if bw.is_null(i) { 0.0 } else { bw.value(i) }).collect();
        Ok(Some(BatchCalibration {
            method,
            function,
            cell,
            n_cells,
            cat,
            mlevels,
            start,
        }))
    }

    /// The calibrator of the group made of batch rows `rows`.
    pub fn calibrator(&self, rows: &[u32]) -> Calibrator {
        let cell: Vec<u32> = rows.iter().map(|&r| self.cell[r as usize]).collect();
        let start: Vec<f64> = rows.iter().map(|&r| self.start[r as usize]).collect();
        Calibrator::new(
            self.method,
            &cell,
            self.n_cells,
            self.cat.clone(),
            self.mlevels.clone(),
            &start,
        )
    }
}

/// The calibration columns (`base_weight` and every margin component's
/// `D_weighting`) a weighted Arrow file at `path` records in its schema
/// metadata when its variance method is `calibrated`; empty otherwise (or
/// when the file cannot be read: the stage's own read reports that).
pub fn columns_in_file(path: &std::path::Path) -> Vec<String> {
    let Ok(schema) = crate::io::arrow_schema(path) else {
        return Vec::new();
    };
    let md = schema.metadata();
    if md.get(META_VARIANCE).map(String::as_str) != Some("calibrated") {
        return Vec::new();
    }
    let mut out = vec!["base_weight".to_string()];
    for m in md.get(META_MARGINS).map(String::as_str).unwrap_or("").split(',') {
        for c in m.split('*').filter(|c| !c.is_empty()) {
            let col = format!("{c}_weighting");
            if !out.contains(&col) {
                out.push(col);
            }
        }
    }
    out
}

/// Number of backfitting sweeps survey's `svyrecvar` runs for `rake()` designs.
pub const BACKFIT_SWEEPS: usize = 10;

/// How scores are residualised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residualise {
    /// `rake()`: ten sweeps of unweighted category means.
    Backfit,
    /// `calibrate()`: regression weighted by the pre-calibration weights.
    Regression,
}

impl Residualise {
    /// From the calibration function's name: `raking` → backfit, `linear`
    /// and `logit` → regression.
    pub fn for_method(method: &str) -> Option<Self> {
        match method {
            "raking" => Some(Residualise::Backfit),
            "linear" | "logit" => Some(Residualise::Regression),
            _ => None,
        }
    }
}

/// The calibration of one (country, wave): cells, margins and the fixed
/// parts of the residualisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrator {
    method: Residualise,
    /// Per margin: the category of each cell.
    cat: Vec<Vec<u32>>,
    /// Per margin: number of categories.
    mlevels: Vec<usize>,
    /// Rows per cell.
    count: Vec<f64>,
    /// Regression: the columns of each cell's design vector.
    xcols: Vec<Vec<usize>>,
    /// Regression: number of columns.
    p: usize,
    /// Regression: Moore–Penrose inverse of `Σ d x x'` (row-major `p × p`).
    minv: Vec<f64>,
}

impl Calibrator {
    /// `cell[i]`: the calibration cell of row `i` (`0..n_cells`);
    /// `cat[k][c]`: the category of margin `k` in cell `c` (`0..mlevels[k]`);
    /// `start[i]`: the pre-calibration weight `d_i` (any scale; only used by
    /// [`Residualise::Regression`]).
    pub fn new(
        method: Residualise,
        cell: &[u32],
        n_cells: usize,
        cat: Vec<Vec<u32>>,
        mlevels: Vec<usize>,
        start: &[f64],
    ) -> Self {
        let mut count = vec![0.0; n_cells];
        let mut dsum = vec![crate::sum::Neumaier::new(); n_cells];
        for (&c, &d) in cell.iter().zip(start) {
            count[c as usize] += 1.0;
            dsum[c as usize].add(d);
        }
        let dsum: Vec<f64> = dsum.iter().map(crate::sum::Neumaier::total).collect();
        let mut out = Calibrator {
            method,
            cat,
            mlevels,
            count,
            xcols: Vec::new(),
            p: 0,
            minv: Vec::new(),
        };
        if method == Residualise::Regression {
            // Intercept, then per margin every category but the first with
            // rows (the span of all the margins' dummies, as model.matrix).
            let mut col_of: Vec<Vec<Option<usize>>> = Vec::with_capacity(out.mlevels.len());
            let mut p = 1;
            for (k, &l) in out.mlevels.iter().enumerate() {
                let mut present = vec![false; l];
                for (c, &j) in out.cat[k].iter().enumerate() {
                    present[j as usize] |= out.count[c] > 0.0;
                }
                let mut v = vec![None; l];
                let mut first = true;
                for (j, slot) in v.iter_mut().enumerate() {
                    if present[j] {
                        if first {
                            first = false;
                        } else {
                            *slot = Some(p);
                            p += 1;
                        }
                    }
                }
                col_of.push(v);
            }
            out.xcols = (0..n_cells)
                .map(|c| {
                    let mut v = vec![0];
                    for (k, cols) in col_of.iter().enumerate() {
                        if let Some(j) = cols[out.cat[k][c] as usize] {
                            v.push(j);
                        }
                    }
                    v
                })
                .collect();
            let mut m = vec![0.0; p * p];
            for (x, &d) in out.xcols.iter().zip(&dsum) {
                for &a in x {
                    for &b in x {
                        m[a * p + b] += d;
                    }
                }
            }
            out.minv = pinv(&m, p);
            out.p = p;
        }
        out
    }

    /// The residualisation method.
    pub fn method(&self) -> Residualise {
        self.method
    }

    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.count.len()
    }

    /// The factor `e_i` of row `i` in the cell sums [`Calibrator::adjust`]
    /// takes: `Σ_{i∈c} z_i e_i / w_i` with `e_i = 1` (backfit) or the
    /// pre-calibration weight `d_i` (regression).
    pub fn row_factor(&self, start: f64) -> f64 {
        match self.method {
            Residualise::Backfit => 1.0,
            Residualise::Regression => start,
        }
    }

    /// From per-cell sums `s[c·q + j] = Σ_{i∈c} z_ij e_i / w_i` of `q` score
    /// columns, the per-cell adjustments `h[c·q + j]`: the residual of row
    /// `i` is `z_ij − w_i · h[c(i)·q + j]`.
    pub fn adjust(&self, s: &[f64], q: usize) -> Vec<f64> {
        let cells = self.count.len();
        debug_assert_eq!(s.len(), cells * q);
        match self.method {
            Residualise::Backfit => {
                // u_i = z_i/w_i; per sweep and margin, u ← u − mean of u in
                // the row's category; h accumulates the subtracted means.
                let mut h = vec![0.0; cells * q];
                for _ in 0..BACKFIT_SWEEPS {
                    for (cats, &l) in self.cat.iter().zip(&self.mlevels) {
                        let mut tot = vec![0.0; l * q];
                        let mut n = vec![0.0; l];
                        for c in 0..cells {
                            let j = cats[c] as usize;
                            n[j] += self.count[c];
                            for a in 0..q {
                                tot[j * q + a] += s[c * q + a] - self.count[c] * h[c * q + a];
                            }
                        }
                        for c in 0..cells {
                            let j = cats[c] as usize;
                            if n[j] > 0.0 {
                                for a in 0..q {
                                    h[c * q + a] += tot[j * q + a] / n[j];
                                }
                            }
                        }
                    }
                }
                h
            }
            Residualise::Regression => {
                let p = self.p;
                let mut h = vec![0.0; cells * q];
                for a in 0..q {
                    let mut rhs = vec![0.0; p];
                    for (c, x) in self.xcols.iter().enumerate() {
                        for &j in x {
                            rhs[j] += s[c * q + a];
                        }
                    }
                    let beta: Vec<f64> = (0..p)
                        .map(|r| (0..p).map(|k| self.minv[r * p + k] * rhs[k]).sum())
                        .collect();
                    for (c, x) in self.xcols.iter().enumerate() {
                        h[c * q + a] = x.iter().map(|&j| beta[j]).sum();
                    }
                }
                h
            }
        }
    }

    /// Residualises row-level scores in place: `z` is `n × q` row-major,
    /// `cell`, `w` (final weights) and `start` (pre-calibration weights)
    /// per row. Rows with `w = 0` keep their scores.
    pub fn residualise(&self, z: &mut [f64], q: usize, cell: &[u32], w: &[f64], start: &[f64]) {
        let cells = self.count.len();
        let mut s = vec![0.0; cells * q];
        for (i, (&c, (&wi, &di))) in cell.iter().zip(w.iter().zip(start)).enumerate() {
            if wi == 0.0 {
                continue;
            }
            let e = self.row_factor(di) / wi;
            for a in 0..q {
                s[c as usize * q + a] += z[i * q + a] * e;
            }
        }
        let h = self.adjust(&s, q);
        for (i, (&c, &wi)) in cell.iter().zip(w).enumerate() {
            for a in 0..q {
                z[i * q + a] -= wi * h[c as usize * q + a];
            }
        }
    }
}

/// Cells of rows from their components' categories (mixed radix, first
/// component slowest), and each margin's category per cell. `codes[k][i]`
/// is the category of component `k` for row `i`, `levels[k]` its number of
/// categories, `margins[m]` the components of margin `m`. Returns
/// `(cell per row, number of cells, category per margin and cell, categories per margin)`.
pub fn cells(
    codes: &[Vec<u8>],
    levels: &[usize],
    margins: &[Vec<usize>],
) -> (Vec<u32>, usize, Vec<Vec<u32>>, Vec<usize>) {
    let n = codes.first().map_or(0, Vec::len);
    let n_cells: usize = levels.iter().product::<usize>().max(1);
    let mut cell = vec![0u32; n];
    for (k, col) in codes.iter().enumerate() {
        let radix = levels[k] as u32;
        for (c, &v) in cell.iter_mut().zip(col) {
            *c = *c * radix + u32::from(v);
        }
    }
    let mut comp = vec![0usize; levels.len()];
    let mut cat = vec![vec![0u32; n_cells]; margins.len()];
    for c in 0..n_cells {
        let mut rest = c;
        for (v, &l) in comp.iter_mut().zip(levels).rev() {
            *v = rest % l;
            rest /= l;
        }
        for (col, m) in cat.iter_mut().zip(margins) {
            col[c] = m.iter().fold(0usize, |acc, &k| acc * levels[k] + comp[k]) as u32;
        }
    }
    let mlevels = margins.iter().map(|m| m.iter().map(|&k| levels[k]).product()).collect();
    (cell, n_cells, cat, mlevels)
}

/// Moore–Penrose inverse of the symmetric `p × p` matrix `a` (row-major),
/// as `MASS::ginv`: eigenvalues of magnitude at most `256·ε` times the
/// largest are dropped. Eigenvectors by cyclic Jacobi rotations (Golub &
/// Van Loan, *Matrix Computations*, 4th ed., §8.5).
pub fn pinv(a: &[f64], p: usize) -> Vec<f64> {
    let (lambda, v) = jacobi_eigen(a, p);
    let top = lambda.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
    let tol = 256.0 * f64::EPSILON * top;
    let mut out = vec![0.0; p * p];
    for (k, &l) in lambda.iter().enumerate() {
        if l.abs() <= tol || l == 0.0 {
            continue;
        }
        for i in 0..p {
            let vi = v[i * p + k] / l;
            for j in 0..p {
                out[i * p + j] += vi * v[j * p + k];
            }
        }
    }
    out
}

/// Solves `A x = b` with the Moore–Penrose inverse of the symmetric `A`
/// (`MASS::ginv(A) %*% b`).
pub fn pinv_solve(a: &[f64], p: usize, b: &[f64]) -> Vec<f64> {
    let (lambda, v) = jacobi_eigen(a, p);
    let top = lambda.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
    let tol = 256.0 * f64::EPSILON * top;
    let mut x = vec![0.0; p];
    for (k, &l) in lambda.iter().enumerate() {
        if l.abs() <= tol || l == 0.0 {
            continue;
        }
        let proj: f64 = (0..p).map(|i| v[i * p + k] * b[i]).sum::<f64>() / l;
        for (i, xi) in x.iter_mut().enumerate() {
            *xi += v[i * p + k] * proj;
        }
    }
    x
}

/// Eigenvalues and eigenvectors (columns of the row-major `p × p` result)
/// of a symmetric matrix by cyclic Jacobi rotations, to full precision.
fn jacobi_eigen(a: &[f64], p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; p * p];
    for i in 0..p {
        v[i * p + i] = 1.0;
    }
    for _sweep in 0..100 {
        let mut off = 0.0;
        let mut diag = 0.0;
        for i in 0..p {
            for j in 0..p {
                let x = m[i * p + j] * m[i * p + j];
                if i == j {
                    diag += x;
                } else {
                    off += x;
                }
            }
        }
        if off == 0.0 || off <= f64::EPSILON * f64::EPSILON * diag {
            break;
        }
        for i in 0..p {
            for j in i + 1..p {
                let aij = m[i * p + j];
                if aij == 0.0 {
                    continue;
                }
                let (aii, ajj) = (m[i * p + i], m[j * p + j]);
                let theta = (ajj - aii) / (2.0 * aij);
                let t = if theta == 0.0 {
                    1.0
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..p {
                    let (mki, mkj) = (m[k * p + i], m[k * p + j]);
                    m[k * p + i] = c * mki - s * mkj;
                    m[k * p + j] = s * mki + c * mkj;
                }
                for k in 0..p {
                    let (mik, mjk) = (m[i * p + k], m[j * p + k]);
                    m[i * p + k] = c * mik - s * mjk;
                    m[j * p + k] = s * mik + c * mjk;
                }
                for k in 0..p {
                    let (vki, vkj) = (v[k * p + i], v[k * p + j]);
                    v[k * p + i] = c * vki - s * vkj;
                    v[k * p + j] = s * vki + c * vkj;
                }
            }
        }
    }
    ((0..p).map(|i| m[i * p + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinv_solves_regular_and_singular_systems() {
        let x = pinv_solve(&[4.0, 1.0, 1.0, 3.0], 2, &[1.0, 2.0]);
        assert!(
            (x[0] - 1.0 / 11.0).abs() < 1e-15 && (x[1] - 7.0 / 11.0).abs() < 1e-15,
            "{x:?}"
        );
        let x = pinv_solve(&[1.0, 1.0, 1.0, 1.0], 2, &[2.0, 2.0]);
        assert!((x[0] - 1.0).abs() < 1e-15 && (x[1] - 1.0).abs() < 1e-15, "{x:?}");
        let inv = pinv(&[4.0, 1.0, 1.0, 3.0], 2);
        let want = [3.0 / 11.0, -1.0 / 11.0, -1.0 / 11.0, 4.0 / 11.0];
        for (a, b) in inv.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    /// Two margins (2 × 3 cells), 12 rows.
    fn example() -> (Vec<Vec<u8>>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let a: Vec<u8> = vec![0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0];
        let b: Vec<u8> = vec![0, 1, 2, 0, 1, 2, 1, 2, 0, 1, 0, 2];
        let w: Vec<f64> = (0..12).map(|i| 0.5 + f64::from(i % 5) * 0.3).collect();
        let d: Vec<f64> = (0..12).map(|i| 1.0 + f64::from(i % 3) * 0.2).collect();
        let z: Vec<f64> = (0..12).map(|i| (f64::from(i) * 0.7).sin()).collect();
        (vec![a, b], w, d, z)
    }

    #[test]
    fn regression_residuals_are_orthogonal_to_the_margins() {
        // Σ_i x_i (z_i − w_i h_i)/g_i = Σ x (z d/w) − Σ d x h = 0 for every dummy.
        let (codes, w, d, z) = example();
        let (cell, n_cells, cat, ml) = cells(&codes, &[2, 3], &[vec![0], vec![1]]);
        let cal = Calibrator::new(Residualise::Regression, &cell, n_cells, cat, ml, &d);
        let mut r = z.clone();
        cal.residualise(&mut r, 1, &cell, &w, &d);
        for k in 0..2 {
            for j in 0..[2, 3][k] {
                let s: f64 = (0..12)
                    .filter(|&i| codes[k][i] as usize == j)
                    .map(|i| r[i] * d[i] / w[i])
                    .sum();
                assert!(s.abs() < 1e-14, "margin {k} category {j}: {s}");
            }
        }
    }

    #[test]
    fn backfit_is_ten_sweeps_of_category_means_as_survey_does() {
        // The row-level loop of svyrecvar's raking branch, written out.
        let (codes, w, d, z) = example();
        let mut x = z.clone();
        for _ in 0..10 {
            for col in &codes {
                let mut tot = [0.0; 3];
                let mut n = [0.0; 3];
                for i in 0..12 {
                    tot[col[i] as usize] += x[i] / w[i];
                    n[col[i] as usize] += 1.0;
                }
                for i in 0..12 {
                    x[i] -= w[i] * tot[col[i] as usize] / n[col[i] as usize];
                }
            }
        }
        let (cell, n_cells, cat, ml) = cells(&codes, &[2, 3], &[vec![0], vec![1]]);
        let cal = Calibrator::new(Residualise::Backfit, &cell, n_cells, cat, ml, &d);
        let mut r = z.clone();
        cal.residualise(&mut r, 1, &cell, &w, &d);
        for (a, b) in r.iter().zip(&x) {
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
    }

    #[test]
    fn interaction_margin_cells_follow_the_components() {
        let codes = vec![vec![0u8, 1, 1], vec![2u8, 0, 1]];
        let (cell, n, cat, ml) = cells(&codes, &[2, 3], &[vec![0, 1]]);
        assert_eq!((cell, n, ml), (vec![2, 3, 4], 6, vec![6]));
        assert_eq!(cat[0], vec![0, 1, 2, 3, 4, 5]);
    }
}
