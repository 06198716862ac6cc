//! Replicate-weight variance (`[variance] method = "jackknife" | "bootstrap"`):
//! per-replicate sums accumulated in one streaming pass over the replicate
//! columns, then every replicate estimate as arithmetic on those sums.
//!
//! # Formula
//! For an estimate `θ` (a share or mean of `y` in a domain level) and its
//! replicates `θ_r = Σ w_r a y / Σ w_r a` (`w_r` the replicate weights, `a`
//! the level's indicator of respondents asked the item), the variance is
//! R's `svrVar`: `v = scale · Σ_r rscale_r (θ_r − c)²`, `c = θ` with
//! `mse = TRUE`, else the mean of the `θ_r` with `rscale_r > 0`. A replicate
//! whose domain has no weight (`Σ w_r a = 0`, so `θ_r` is undefined) is left
//! out with its `rscale`, as `svrVar` drops `NA` replicates.
//!
//! Per (level, category) only the replicate totals `S_rk = Σ w_r a 1[k]` are
//! needed: `θ_r = Σ_k y_k S_rk / Σ_k S_rk`. They are accumulated per
//! *combination* of domain levels (a respondent's level in every domain;
//! a few hundred per country-wave), then summed into levels — so each row
//! adds its `R` replicate weights once per variable, and nothing is a pass
//! per replicate.
//!
//! # Degrees of freedom
//! R's `degf()` of a replicate design is the numerical rank of its replicate
//! weights minus one, and `svyby` evaluates `svyciprop` on the subset design
//! of each level, so R's `df` is the rank of the `n_d × R` matrix of the
//! level's replicate weights minus one. For replicate weights that are
//! re-weighted (raked or calibrated) per replicate, and for bootstrap
//! weights, that matrix is generic: its rank is `min(n_d, R)`, and swvr uses
//! `df = min(n_d, R) − 1` (`R` the country-wave's replicates) without forming
//! the matrix (docs/tabulation.md discusses the structured exceptions).

use std::collections::HashMap;

use arrow_array::Array;
pub use swvr_core::replicates::{FileReplicates, InMemoryReplicates, RepDesign};

use crate::TabulateError;
use crate::engine::{DomainRows, NONE, Source, Var};

/// Replicate weights as tabulate reads them
/// ([`swvr_core::replicates::ReplicateWeights`] with tabulate's error).
pub trait ReplicateWeights: swvr_core::replicates::ReplicateWeights<TabulateError> {}

impl<T: swvr_core::replicates::ReplicateWeights<TabulateError>> ReplicateWeights for T {}

/// The category of row `r` for a variable (or [`NONE`]: not asked; codes
/// outside the answer set were reported by the fixed-weight pass).
fn category(var: &Var<'_>, r: usize) -> u8 {
    match &var.source {
        Source::Item { col, lut, .. } => {
            if col.is_null(r) {
                return NONE;
            }
            let c = lut[col.values()[r] as u8 as usize];
            if c >= crate::engine::INVALID { NONE } else { c }
        }
        Source::AnyYes { parts } => {
            let (mut asked, mut yes, mut all_no, mut dk) = (false, false, true, false);
            for (_, col, lut) in parts {
                if col.is_null(r) {
                    continue;
                }
                let class = lut[col.value(r) as u8 as usize];
                if class >= crate::engine::INVALID {
                    return NONE;
                }
                asked = true;
                yes |= class == 0;
                all_no &= class == 1;
                dk |= class == 2;
            }
            if !asked {
                NONE
            } else if yes {
                0
            } else if all_no {
                1
            } else if dk {
                2
            } else {
                3
            }
        }
    }
}

/// Replicate totals of one variable in one (country, wave): `S_rk` per
/// (level, category), index `(level · K + k) · R + r`.
#[derive(Debug, Clone)]
pub(crate) struct RepStats {
    /// Categories.
    pub k: usize,
    /// Replicates.
    pub r: usize,
    /// The totals.
    pub s: Vec<f64>,
}

impl RepStats {
    /// Replicates that give `level` no weight (its estimates undefined there).
    pub fn undefined(&self, level: usize) -> Vec<bool> {
        (0..self.r)
            .map(|r| {
                (0..self.k)
                    .map(|k| self.s[(level * self.k + k) * self.r + r])
                    .sum::<f64>()
                    <= 0.0
            })
            .collect()
    }

    /// Replicate estimates of the mean of `y` (one value per category) in
    /// `level`: NaN where the replicate gives the level no weight.
    pub fn thetas(&self, level: usize, y: &[f64]) -> Vec<f64> {
        (0..self.r)
            .map(|r| {
                let (mut w, mut t) = (0.0, 0.0);
                for (k, &yk) in y.iter().enumerate() {
                    let s = self.s[(level * self.k + k) * self.r + r];
                    w += s;
                    t += yk * s;
                }
                if w > 0.0 { t / w } else { f64::NAN }
            })
            .collect()
    }
}

/// Accumulates the replicate totals of every (group, variable): `out[g][v]`.
/// One streaming pass over the replicate weights; per block the variables
/// are processed in parallel (each owns its totals, rows in order, so the
/// sums do not depend on the thread count).
pub(crate) fn accumulate(
    groups: &[&swvr_core::groups::Group],
    designs: &[RepDesign],
    vars: &[&Var<'_>],
    domains: &[DomainRows],
    n_levels: usize,
    n_rows: usize,
    weights: &dyn ReplicateWeights,
) -> Result<Vec<Vec<RepStats>>, TabulateError> {
    use rayon::prelude::*;
    let (offsets, _) = crate::engine::level_offsets(domains);
    let nv = vars.len();
    // Per batch row: group (u32::MAX: none), combination within the group.
    let mut row_group = vec![u32::MAX; n_rows];
    let mut row_combo = vec![0u32; n_rows];
    let mut combos: Vec<Vec<Vec<u8>>> = Vec::with_capacity(groups.len());
    for (gi, g) in groups.iter().enumerate() {
        let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut list: Vec<Vec<u8>> = Vec::new();
        for &r in &g.rows {
            let r = r as usize;
            let key: Vec<u8> = domains.iter().map(|d| d.level[r]).collect();
            let id = *ids.entry(key.clone()).or_insert_with(|| {
                list.push(key);
                (list.len() - 1) as u32
            });
            row_group[r] = gi as u32;
            row_combo[r] = id;
        }
        // Flat level indices of each combination (`total` = 0 first).
        combos.push(
            list.iter()
                .map(|key| {
                    let mut levels = vec![0u8];
                    for ((d, &l), off) in domains.iter().zip(key).zip(&offsets) {
                        let _ = d;
                        if l != NONE {
                            levels.push((off + l as usize) as u8);
                        }
                    }
                    levels
                })
                .collect(),
        );
    }
    // Category of every (row, variable).
    let cats: Vec<Vec<u8>> = vars
        .par_iter()
        .map(|v| {
            (0..n_rows)
                .map(|r| if row_group[r] == u32::MAX { NONE } else { category(v, r) })
                .collect()
        })
        .collect();
    // Totals per (variable, group): (combination · K + k) · R + r.
    let mut acc: Vec<Vec<Vec<f64>>> = vars
        .iter()
        .map(|v| {
            groups
                .iter()
                .enumerate()
                .map(|(gi, _)| vec![0.0; combos[gi].len() * v.k * designs[gi].r()])
                .collect()
        })
        .collect();
    let rmax = designs.iter().map(RepDesign::r).max().unwrap_or(0);
    let mut block: Vec<f64> = Vec::new();
    weights.for_each_block(&mut |first, cols| {
        let len = cols.first().map_or(0, |c| c.len());
        if first + len > n_rows {
            return Err(TabulateError::Column {
                path: String::new(),
                column: "rep_1".into(),
                expected: format!("replicate weights for {n_rows} rows, found more"),
            });
        }
        // Row-major copy of the block: row i's replicates of its group.
        block.clear();
        block.resize(len * rmax, 0.0);
        let mut i = 0;
        while i < len {
            let g = row_group[first + i];
            let mut j = i + 1;
            while j < len && row_group[first + j] == g {
                j += 1;
            }
            if g != u32::MAX {
                for (c, &col) in designs[g as usize].columns.iter().enumerate() {
                    let src = cols.get(col).ok_or_else(|| TabulateError::Column {
                        path: String::new(),
                        column: format!("rep_{}", col + 1),
                        expected: "a replicate column named in the replicate design".into(),
                    })?;
                    for (ii, &w) in src[i..j].iter().enumerate() {
                        block[(i + ii) * rmax + c] = w;
                    }
                }
            }
            i = j;
        }
        let block = &block;
        acc.par_iter_mut().enumerate().for_each(|(v, per_group)| {
            let k = vars[v].k;
            let cat = &cats[v];
            for i in 0..len {
                let row = first + i;
                let g = row_group[row];
                if g == u32::MAX {
                    continue;
                }
                let c = cat[row];
                if c == NONE {
                    continue;
                }
                let r = designs[g as usize].r();
                let at = (row_combo[row] as usize * k + c as usize) * r;
                let dst = &mut per_group[g as usize][at..at + r];
                for (d, &w) in dst.iter_mut().zip(&block[i * rmax..i * rmax + r]) {
                    *d += w;
                }
            }
        });
        Ok(())
    })?;
    // Combinations → levels.
    let mut out: Vec<Vec<RepStats>> = (0..groups.len()).map(|_| Vec::with_capacity(nv)).collect();
    for (v, per_group) in acc.into_iter().enumerate() {
        let k = vars[v].k;
        for (gi, sums) in per_group.into_iter().enumerate() {
            let r = designs[gi].r();
            let mut s = vec![0.0; n_levels * k * r];
            for (id, levels) in combos[gi].iter().enumerate() {
                let from = &sums[id * k * r..(id + 1) * k * r];
                for &l in levels {
                    let to = &mut s[l as usize * k * r..(l as usize + 1) * k * r];
                    for (a, b) in to.iter_mut().zip(from) {
                        *a += b;
                    }
                }
            }
            out[gi].push(RepStats { k, r, s });
        }
    }
    Ok(out)
}
