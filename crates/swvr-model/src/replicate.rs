//! Replicate-weight variance of the model (`[variance] method = "jackknife"
//! | "bootstrap"`), as R's `svyglm` on a `svrepdesign`: the model is fitted
//! again with each replicate's weights (`glm.fit(..., start = coef(full))`),
//! and the variance of each coefficient is R's `svrVar` of its replicates.
//!
//! # Computation
//! The data of a replicate reduce, like the full sample's, to the weight
//! totals per (pattern, outcome) cell of the complete cases (`Σ w_r` with
//! `y = 1` and `y = 0` per design-matrix pattern). One streaming pass over
//! the replicate weights accumulates them for every replicate at once; each
//! replicate is then refitted from its few thousand cells by Newton's method
//! started at the full-sample coefficients (a handful of steps), in parallel
//! over replicates and collected in replicate order (deterministic).
//!
//! # Degrees of freedom
//! R: `df.residual = degf(design) + 1 − k` with `degf` of the complete-case
//! subset the numerical rank of its replicate weights minus one; swvr takes
//! the generic rank, `min(n, R)` ([`swvr_core::replicates::degf_generic`]).
//!
//! # Failed replicate fits
//! A replicate whose fit fails (singular information, no convergence — a
//! replicate that separates the data) has no coefficients; it is left out
//! of the variance with its rscale (R's `na.action` on `NA` replicate
//! coefficients) and the `note` column says how many.

use std::path::PathBuf;

pub use swvr_core::replicates::{FileReplicates, InMemoryReplicates, RepDesign};

use crate::ModelError;
use crate::fit::{Aggregate, Fit, FitOptions};

/// Replicate weights as the model reads them
/// ([`swvr_core::replicates::ReplicateWeights`] with the model's error).
pub trait ReplicateWeights: swvr_core::replicates::ReplicateWeights<ModelError> {}

impl<T: swvr_core::replicates::ReplicateWeights<ModelError>> ReplicateWeights for T {}

/// One group's inputs to the replicate pass: its design, its complete cases'
/// `(batch row, cell)` and its number of patterns.
pub(crate) struct GroupCells {
    pub design: RepDesign,
    pub cells: Vec<(u32, u32)>,
    pub n_patterns: usize,
}

/// Per group, the replicate totals `Σ w_r` per cell: index `cell · R + r`.
pub(crate) fn accumulate(
    groups: &[GroupCells],
    n_rows: usize,
    weights: &dyn ReplicateWeights,
) -> Result<Vec<Vec<f64>>, ModelError> {
    // Batch row → (group, cell).
    let mut of_row: Vec<(u32, u32)> = vec![(u32::MAX, 0); n_rows];
    for (g, gc) in groups.iter().enumerate() {
        for &(row, cell) in &gc.cells {
            if let Some(slot) = of_row.get_mut(row as usize) {
                *slot = (g as u32, cell);
            }
        }
    }
    let mut acc: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| vec![0.0; g.n_patterns * 2 * g.design.r()])
        .collect();
    weights.for_each_block(&mut |first, cols| {
        let len = cols.first().map_or(0, |c| c.len());
        let rows = of_row.get(first..first + len).ok_or_else(|| ModelError::Column {
            path: PathBuf::from(swvr_core::stages::REPLICATES),
            column: "rep_1".into(),
            expected: format!("replicate weights for {n_rows} rows, found more"),
        })?;
        for (i, &(g, cell)) in rows.iter().enumerate() {
            if g == u32::MAX {
                continue;
            }
            let columns = &groups[g as usize].design.columns;
            let r = columns.len();
            let dst = &mut acc[g as usize][cell as usize * r..(cell as usize + 1) * r];
            for (d, &j) in dst.iter_mut().zip(columns) {
                let col = cols.get(j).ok_or_else(|| ModelError::Column {
                    path: PathBuf::from(swvr_core::stages::REPLICATES),
                    column: format!("rep_{}", j + 1),
                    expected: "a replicate column of the country-wave's design".into(),
                })?;
                *d += col[i];
            }
        }
        Ok(())
    })?;
    Ok(acc)
}

/// Replaces `fit`'s standard errors and degrees of freedom by the replicate
/// ones: refits per replicate from the totals `sums` (index `cell · R + r`),
/// in parallel over replicates, collected in order.
pub(crate) fn apply(fit: &mut Fit, agg: &Aggregate, gc: &GroupCells, sums: &[f64], opts: &FitOptions) {
    use rayon::prelude::*;
    let kept: Vec<usize> = (0..fit.coef.len()).filter(|&j| fit.coef[j].is_some()).collect();
    fit.df = gc.design.df(fit.n) + 1 - kept.len() as i64;
    if kept.is_empty() {
        return;
    }
    let start: Vec<f64> = kept.iter().filter_map(|&j| fit.coef[j]).collect();
    let r = gc.design.r();
    let betas: Vec<Option<Vec<f64>>> = (0..r)
        .into_par_iter()
        .map(|rep| {
            let mut a = Aggregate {
                k: agg.k,
                patterns: agg.patterns.clone(),
                cells: Vec::new(),
                stratum_n: Vec::new(),
                cal: None,
            };
            for (p, pat) in a.patterns.iter_mut().enumerate() {
                pat.sw0 = sums[(2 * p) * r + rep];
                pat.sw1 = sums[(2 * p + 1) * r + rep];
            }
            crate::fit::refit(&a, &kept, &start, opts)
        })
        .collect();
    let failed = betas.iter().filter(|b| b.is_none()).count();
    for (jj, &j) in kept.iter().enumerate() {
        let thetas: Vec<f64> = betas.iter().map(|b| b.as_ref().map_or(f64::NAN, |b| b[jj])).collect();
        fit.se[j] = gc.design.variance(&thetas, start[jj]).map(|v| v.max(0.0).sqrt());
    }
    if failed > 0 {
        let note = format!(
            "{failed} of {r} replicate fits failed (separation or no convergence in the replicate) and are left out of the variance"
        );
        fit.note = Some(match fit.note.take() {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
}
