//! `swvr weight`: dual-frame base weights, imputation of DK/refused
//! raking demographics, raking (IPF) within each (country, wave), trimming,
//! and diagnostics.
//!
//! Reads `OUT/ingest/respondents.arrow`, `DATA/design.csv`,
//! `DATA/targets.csv`; writes `OUT/weight/weighted.arrow` and
//! `OUT/weight/diagnostics.json` (contract sections 3–5). Every check runs
//! before any file is written. The methods are documented in
//! `docs/weighting.md`.
//!
//! ```
//! use swvr_weight::Scheme;
//! let s = Scheme::default_scheme();
//! assert_eq!(s.raking().variables.len(), 3);
//! let s = Scheme::from_toml_str("[raking]\nvariables = [\"sex*age_group\", \"region\"]\n", "x.toml").unwrap();
//! assert_eq!(s.raking().variables[0].components, ["sex", "age_group"]);
//! assert!(s.to_toml().contains("method = \"multiplicity\""));
//! ```

pub mod base;
pub mod calibrate;
mod cellrake;
mod columns;
mod error;
pub mod impute;
pub mod inputs;
mod output;
mod plan;
pub mod rake;
mod replicates;
pub mod scheme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use swvr_core::groups::{Group, Selection};
use swvr_core::progress::Progress;
use swvr_core::questionnaire::Questionnaire;

pub use error::{TargetError, WeightError};
pub use scheme::{Margin, Method, OnNonConvergence, Scheme, SchemeMistake, SchemeMistakes, VarianceMethod};

use base::{Counts, Frame};
use columns::{Columns, FRAME_L, FRAME_M};
use impute::MISSING;
use inputs::{Design, GroupTargets};
use plan::{Kind, MarginPlan, Plan};
use rake::{RakeProblem, RakeSettings};

/// Min, max, mean and Kish design effect of a set of weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightSummary {
    /// Smallest weight.
    pub min: f64,
    /// Largest weight.
    pub max: f64,
    /// Mean weight.
    pub mean: f64,
    /// `n·Σw²/(Σw)²`.
    pub kish_deff: f64,
}

impl WeightSummary {
    fn of(w: &[f64]) -> Self {
        let n = w.len() as f64;
        let mut s = swvr_core::sum::Neumaier::new();
        let mut s2 = swvr_core::sum::Neumaier::new();
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &x in w {
            s.add(x);
            s2.add(x * x);
            min = min.min(x);
            max = max.max(x);
        }
        let total = s.total();
        WeightSummary {
            min,
            max,
            mean: total / n,
            kish_deff: n * s2.total() / (total * total),
        }
    }
}

/// The variable and category with the largest margin error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstMargin {
    /// Raking variable.
    pub variable: String,
    /// Category code or band label.
    pub category: String,
}

/// Respondents per frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameCounts {
    /// Drawn from the landline frame.
    pub landline: usize,
    /// Drawn from the mobile frame.
    pub mobile: usize,
    /// Reachable from both frames.
    pub dual_users: usize,
}

/// Counts substituted by the blank-count rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountsImputed {
    /// `n_adults` taken as 1.
    pub n_adults: usize,
    /// `n_landlines` substituted.
    pub n_landlines: usize,
    /// `n_mobiles` substituted.
    pub n_mobiles: usize,
}

/// Diagnostics of one (country, wave) (`diagnostics.json`, contract section 4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostics {
    /// Country code.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Respondents.
    pub n: usize,
    /// Margins within tolerance (and trimming bounds hold).
    pub converged: bool,
    /// IPF sweeps (all rake–trim rounds).
    pub iterations: u32,
    /// max |weighted share − target share| of the final weights.
    pub max_margin_error: f64,
    /// Where that maximum is.
    pub worst_margin: WorstMargin,
    /// Respondents at a trimming bound after the last trimming step.
    pub trimmed: usize,
    /// Rake–trim rounds.
    pub trim_rounds: u32,
    /// False when raking and trimming bounds could not both hold.
    pub trimming_feasible: bool,
    /// The calibration function and the g-weights' range; absent with
    /// raking (the default), so that default outputs are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationDiagnostics>,
    /// Smallest final weight.
    pub min_weight: f64,
    /// Largest final weight.
    pub max_weight: f64,
    /// Kish design effect `n·Σw²/(Σw)²`.
    pub kish_deff: f64,
    /// `n / kish_deff`.
    pub effective_n: f64,
    /// `1.96·sqrt(kish_deff·0.25/n)`.
    pub moe95: f64,
    /// Base-weight estimator.
    pub method: String,
    /// Base weights before raking.
    pub base_weight: WeightSummary,
    /// Respondents per frame.
    pub frames: FrameCounts,
    /// Respondents whose raking value was imputed, per raking variable.
    pub imputed: BTreeMap<String, usize>,
    /// Blank-count substitutions.
    pub counts_imputed: CountsImputed,
    /// Number of strata.
    pub strata: usize,
    /// Strata with a single respondent (variance uses R's lonely.psu = "adjust").
    pub lonely_strata: Vec<String>,
    /// Every raking margin with its categories (interaction cells included):
    /// respondents, target share and weighted share.
    pub margins: Vec<MarginDiagnostics>,
    /// Replicate weights (`[variance] method = "jackknife" | "bootstrap"`);
    /// absent otherwise, so that default outputs are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicates: Option<ReplicateDiagnostics>,
}

/// The replicate weights of one (country, wave) in the diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicateDiagnostics {
    /// `jackknife` or `bootstrap`.
    pub method: String,
    /// R's `svrepdesign` type: `JKn` or `bootstrap`.
    #[serde(rename = "type")]
    pub r_type: String,
    /// Replicates of this (country, wave) (`rep_1 …`; the file's later
    /// columns, if any, are padding with rscale 0).
    pub replicates: usize,
    /// Jackknife: strata split into random groups (more respondents than
    /// `[variance] groups`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouped_strata: Option<usize>,
    /// Replicates in which a target category had no weight (its target set
    /// to 0 in that replicate).
    pub categories_emptied: usize,
    /// Replicates (1-based) whose chain did not converge (kept with
    /// `on_nonconvergence = "warn"`).
    pub not_converged: Vec<usize>,
}

impl std::fmt::Display for Diagnostics {
    /// One summary line: country, wave, n, convergence, Kish deff, effective n, MOE.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: n={}, {} (max margin error {:.1e}), Kish deff {:.3}, effective n {:.1}, MOE95 ±{:.1}%",
            self.country,
            self.wave,
            self.n,
            if self.converged { "converged" } else { "NOT converged" },
            self.max_margin_error,
            self.kish_deff,
            self.effective_n,
            100.0 * self.moe95
        )
    }
}

/// The calibration of one (country, wave) (`[calibration]` other than raking).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationDiagnostics {
    /// `linear` or `logit`.
    pub method: String,
    /// `[L, U]` bounds on the g-weights, when set.
    pub bounds: Option<[f64; 2]>,
    /// Smallest g-weight: final weight over the base weight scaled to sum to n.
    pub g_min: f64,
    /// Largest g-weight.
    pub g_max: f64,
    /// Newton iterations, summed over calibrate–trim rounds.
    pub iterations: u32,
    /// Warnings: trimming configured together with calibration bounds.
    pub warnings: Vec<String>,
}

/// One category of a margin in the diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryDiagnostics {
    /// Category as in targets.csv (`2`, `60+`, `1*15-29`).
    pub category: String,
    /// Respondents in the category (after imputation).
    pub n: usize,
    /// Target share (normalised to sum to 1 over the margin).
    pub target: f64,
    /// Share of the final weights.
    pub share: f64,
}

/// One raking margin in the diagnostics: every category, interaction cells included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarginDiagnostics {
    /// Margin as in targets.csv `variable` (`education`, `sex*age_group`).
    pub variable: String,
    /// Its categories in order (first component slowest).
    pub categories: Vec<CategoryDiagnostics>,
}

/// Per-row results of one group (in `Group::rows` order).
struct GroupResult {
    diagnostics: Diagnostics,
    base: Vec<f64>,
    weight: Vec<f64>,
    /// Per raking component: category index used for raking.
    codes: Vec<Vec<u8>>,
    /// Per raking component: imputed flag.
    imputed: Vec<Vec<bool>>,
    /// n_adults, n_landlines, n_mobiles substituted.
    counts_imputed: [Vec<bool>; 3],
    /// Replicate weights, with a replicate variance method.
    replicates: Option<replicates::GroupReplicates>,
}

/// Everything one group needs that is not per row.
struct Context<'a> {
    scheme: &'a Scheme,
    plan: &'a Plan,
    cols: &'a Columns,
    resp_path: &'a Path,
    design_path: &'a Path,
    targets_path: &'a Path,
}

impl Context<'_> {
    fn target_error(
        &self,
        g: &Group,
        line: Option<u64>,
        variable: &str,
        category: &str,
        problem: String,
    ) -> WeightError {
        WeightError::Target(Box::new(error::TargetError {
            file: self.targets_path.display().to_string(),
            line,
            country: g.country.clone(),
            wave: g.wave,
            variable: variable.into(),
            category: category.into(),
            problem,
        }))
    }
}

/// Phase 1: base weights, with the blank-count substitutions and frame counts.
struct BaseWeights {
    base: Vec<f64>,
    counts_imputed: [Vec<bool>; 3],
    frames: FrameCounts,
}

fn base_weights(g: &Group, design: &Design, ctx: &Context<'_>) -> Result<BaseWeights, WeightError> {
    let (cols, n) = (ctx.cols, g.n());
    let mut base = Vec::with_capacity(n);
    let mut counts_imputed = [vec![false; n], vec![false; n], vec![false; n]];
    let mut frames = FrameCounts {
        landline: 0,
        mobile: 0,
        dual_users: 0,
    };
    for (i, &r) in g.rows.iter().enumerate() {
        let r = r as usize;
        let frame = match cols.frame[r] {
            FRAME_L => Frame::Landline,
            FRAME_M => Frame::Mobile,
            _ => {
                return Err(WeightError::Data {
                    file: ctx.resp_path.display().to_string(),
                    row: r + 1,
                    column: "frame".into(),
                    value: cols.bad_frames.get(&(r as u32)).cloned().unwrap_or_default(),
                    expected: "`L` or `M`".into(),
                });
            }
        };
        let counts = Counts {
            n_adults: cols.count(0, r),
            n_landlines: cols.count(1, r),
            n_mobiles: cols.count(2, r),
        };
        let bw = base::base_weight(frame, counts, design, ctx.scheme.base()).ok_or_else(|| {
            WeightError::FrameNotInDesign {
                file: ctx.design_path.display().to_string(),
                country: g.country.clone(),
                wave: g.wave,
                frame: match frame {
                    Frame::Landline => "L".into(),
                    Frame::Mobile => "M".into(),
                },
            }
        })?;
        match frame {
            Frame::Landline => frames.landline += 1,
            Frame::Mobile => frames.mobile += 1,
        }
        frames.dual_users += usize::from(bw.dual());
        counts_imputed[0][i] = bw.adults_imputed;
        counts_imputed[1][i] = bw.landlines_imputed;
        counts_imputed[2][i] = bw.mobiles_imputed;
        base.push(bw.weight);
    }
    Ok(BaseWeights {
        base,
        counts_imputed,
        frames,
    })
}

/// Phase 2: each raking component's category per row, DK/refused as
/// [`MISSING`]; a value that is neither valid nor DK/refused is an error.
fn categories(g: &Group, ctx: &Context<'_>) -> Result<Vec<Vec<u8>>, WeightError> {
    let mut codes: Vec<Vec<u8>> = Vec::with_capacity(ctx.plan.components.len());
    for (k, comp) in ctx.plan.components.iter().enumerate() {
        let mut col = Vec::with_capacity(g.n());
        for &r in &g.rows {
            let r = r as usize;
            let (value, code) = match &comp.kind {
                Kind::Banded { set } => {
                    let b = &ctx.plan.bands[*set];
                    let v = ctx.cols.numeric[*set][r];
                    let c = if b.missing.contains(&v) {
                        Some(MISSING)
                    } else {
                        b.band_of(v).map(|x| x as u8)
                    };
                    (v, c)
                }
                Kind::Coded { codes, missing } => {
                    let x = ctx.cols.coded[k][r];
                    let c = if missing.contains(&x) {
                        Some(MISSING)
                    } else {
                        codes.iter().position(|&c| c == x).map(|p| p as u8)
                    };
                    (i16::from(x), c)
                }
            };
            let Some(code) = code else {
                return Err(WeightError::Data {
                    file: ctx.resp_path.display().to_string(),
                    row: r + 1,
                    column: comp.column.clone(),
                    value: value.to_string(),
                    expected: match &comp.kind {
                        Kind::Banded { set } => {
                            let b = &ctx.plan.bands[*set];
                            format!("a value from {} to {} or DK/refused {:?}", b.min, b.max, b.missing)
                        }
                        Kind::Coded { codes, missing } => {
                            format!("one of the codes {codes:?} or DK/refused {missing:?}")
                        }
                    },
                });
            };
            col.push(code);
        }
        codes.push(col);
    }
    Ok(codes)
}

/// A margin's target per category: (share, line), `None` = no row.
type MarginTargets = Vec<Option<(f64, u64)>>;

/// Phase 3: the targets of every margin, each row's category parsed
/// component by component (`1*15-29`: each part written as it is alone).
fn margin_targets(g: &Group, targets: &GroupTargets, ctx: &Context<'_>) -> Result<Vec<MarginTargets>, WeightError> {
    let plan = ctx.plan;
    let mut out = Vec::with_capacity(plan.margins.len());
    for m in &plan.margins {
        let list = targets.get(&m.name).ok_or_else(|| WeightError::NoTargets {
            file: ctx.targets_path.display().to_string(),
            country: g.country.clone(),
            wave: g.wave,
            variable: Some(m.name.clone()),
        })?;
        let mut v: MarginTargets = vec![None; m.levels()];
        for t in list {
            let parts: Vec<&str> = t.category.split('*').map(str::trim).collect();
            let cell = (parts.len() == m.comps.len())
                .then(|| {
                    m.comps.iter().zip(&parts).try_fold(0usize, |acc, (&k, part)| {
                        let comp = &plan.components[k];
                        let j = match &comp.kind {
                            Kind::Banded { .. } => comp.labels.iter().position(|l| l == part),
                            Kind::Coded { codes, .. } => {
                                part.parse::<i8>().ok().and_then(|c| codes.iter().position(|&x| x == c))
                            }
                        }?;
                        Some(acc * comp.labels.len() + j)
                    })
                })
                .flatten();
            let Some(j) = cell else {
                let expected = if m.comps.len() == 1 {
                    format!("expected one of {}", m.labels.join(", "))
                } else {
                    let each: Vec<String> = m
                        .comps
                        .iter()
                        .map(|&k| {
                            let c = &plan.components[k];
                            format!("{} one of {}", c.name, c.labels.join(", "))
                        })
                        .collect();
                    format!(
                        "expected a cell `{}` written as its components joined by `*` in that order: {}",
                        m.name,
                        each.join("; ")
                    )
                };
                return Err(ctx.target_error(
                    g,
                    Some(t.line),
                    &m.name,
                    &t.category,
                    format!("is not a category of {} ({expected})", m.name),
                ));
            };
            v[j] = Some((t.share, t.line));
        }
        out.push(v);
    }
    Ok(out)
}

/// Target shares with 0 for categories without a row.
fn shares(t: &[MarginTargets]) -> Vec<Vec<f64>> {
    t.iter()
        .map(|v| v.iter().map(|t| t.map_or(0.0, |x| x.0)).collect())
        .collect()
}

/// Phase 4: imputes DK/refused components in place; returns the flags.
/// When no one in the (country, wave) reported a component, its category
/// is drawn from the target shares of the first margin it is part of,
/// summed over the margin's other components.
fn impute_missing(
    g: &Group,
    codes: &mut [Vec<u8>],
    base: &[f64],
    targets: &[Vec<f64>],
    ctx: &Context<'_>,
) -> Vec<Vec<bool>> {
    let plan = ctx.plan;
    let levels: Vec<usize> = plan.components.iter().map(|c| c.labels.len()).collect();
    let fallback: Vec<Vec<f64>> = (0..levels.len())
        .map(|k| {
            let mut f = vec![0.0; levels[k]];
            if let Some((m, mt)) = plan.margins.iter().zip(targets).find(|(m, _)| m.comps.contains(&k)) {
                if m.comps.len() == 1 {
                    f.copy_from_slice(mt);
                } else {
                    let pos = m.comps.iter().position(|&c| c == k).unwrap_or(0);
                    let inner: usize = m.comps[pos + 1..].iter().map(|&c| levels[c]).product();
                    for (cell, &t) in mt.iter().enumerate() {
                        f[(cell / inner) % levels[k]] += t;
                    }
                }
            }
            f
        })
        .collect();
    impute::impute(codes, &levels, base, &fallback, |row, k| {
        impute::hash_finish(ctx.cols.key(g.rows[row]), &plan.components[k].name)
    })
}

/// Respondents per category of every margin.
fn margin_counts(codes: &[Vec<u8>], plan: &Plan) -> Vec<Vec<usize>> {
    plan.margins
        .iter()
        .map(|m| {
            let mut count = vec![0usize; m.levels()];
            let n = codes.first().map_or(0, Vec::len);
            for i in 0..n {
                count[margin_code(codes, m, plan, i)] += 1;
            }
            count
        })
        .collect()
}

/// Category of row `i` in margin `m` (mixed radix of its components).
#[inline]
fn margin_code(codes: &[Vec<u8>], m: &MarginPlan, plan: &Plan, i: usize) -> usize {
    m.comps.iter().fold(0usize, |acc, &k| {
        acc * plan.components[k].labels.len() + usize::from(codes[k][i])
    })
}

/// Phase 5: every category with respondents has a positive target, and
/// every positive target has respondents.
fn check_targets(
    g: &Group,
    counts: &[Vec<usize>],
    targets: &[MarginTargets],
    ctx: &Context<'_>,
) -> Result<(), WeightError> {
    for (k, m) in ctx.plan.margins.iter().enumerate() {
        for j in 0..m.levels() {
            let err = |line, problem: String| ctx.target_error(g, line, &m.name, &m.labels[j], problem);
            match (counts[k][j], targets[k][j]) {
                (c, None) if c > 0 => {
                    let lines: Vec<u64> = targets[k].iter().flatten().map(|t| t.1).collect();
                    let (lo, hi) = (lines.iter().min(), lines.iter().max());
                    let where_ = match (lo, hi) {
                        (Some(lo), Some(hi)) if lo == hi => format!(" (the targets of {} are on line {lo})", m.name),
                        (Some(lo), Some(hi)) => format!(" (the targets of {} are on lines {lo}-{hi})", m.name),
                        _ => String::new(),
                    };
                    return Err(err(None, format!("has {c} respondents but no target row{where_}")));
                }
                (c, Some((s, line))) if c > 0 && s <= 0.0 => {
                    return Err(err(Some(line), format!("has {c} respondents but a zero target share")));
                }
                (0, Some((s, line))) if s > 0.0 => {
                    return Err(err(
                        Some(line),
                        format!("has target share {s} but no respondents: raking cannot reach it"),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Phase 6: rakes (and trims); an unconverged raking is an error unless
/// the scheme says `warn`.
fn rake_and_trim(
    g: &Group,
    base: &[f64],
    codes: &[Vec<u8>],
    targets: &[Vec<f64>],
    ctx: &Context<'_>,
) -> Result<(rake::RakeOutcome, WorstMargin), WeightError> {
    let (scheme, plan) = (ctx.scheme, ctx.plan);
    let settings = RakeSettings {
        tolerance: scheme.raking().tolerance,
        max_iterations: scheme.raking().max_iterations,
        trimming: scheme.trimming().map(|t| (t.lower, t.upper, t.max_rounds)),
        calibration: scheme.calibration(),
    };
    let levels: Vec<usize> = plan.components.iter().map(|c| c.labels.len()).collect();
    let margins: Vec<Vec<usize>> = plan.margins.iter().map(|m| m.comps.clone()).collect();
    let problem = RakeProblem {
        codes,
        levels: &levels,
        margins: &margins,
        targets,
    };
    let out = rake::rake(base, &problem, &settings);
    let worst = WorstMargin {
        variable: plan.margins[out.worst.0].name.clone(),
        category: plan.margins[out.worst.0].labels[out.worst.1].clone(),
    };
    let cal = scheme.calibration();
    if out.nonpositive > 0 {
        return Err(WeightError::NonPositiveWeights {
            country: g.country.clone(),
            wave: g.wave,
            method: cal.name().into(),
            count: out.nonpositive,
            g_min: out.g_range.0,
        });
    }
    if !out.converged && scheme.raking().on_nonconvergence == OnNonConvergence::Error {
        return Err(if !out.trimming_feasible {
            WeightError::TrimInfeasible {
                country: g.country.clone(),
                wave: g.wave,
                adjustment: match cal {
                    calibrate::Calibration::Raking => "raking".into(),
                    c => format!("{} calibration", c.name()),
                },
                rounds: out.trim_rounds,
                variable: worst.variable,
                category: worst.category,
                error: out.max_margin_error,
                tolerance: scheme.raking().tolerance,
            }
        } else if cal == calibrate::Calibration::Raking {
            WeightError::NotConverged {
                country: g.country.clone(),
                wave: g.wave,
                variable: worst.variable,
                category: worst.category,
                error: out.max_margin_error,
                tolerance: scheme.raking().tolerance,
                iterations: scheme.raking().max_iterations,
            }
        } else {
            WeightError::CalibrationFailed {
                country: g.country.clone(),
                wave: g.wave,
                method: cal.name().into(),
                bounds: cal
                    .bounds()
                    .map(|(l, u)| format!(" with bounds [{l}, {u}] on the g-weights"))
                    .unwrap_or_default(),
                iterations: scheme.raking().max_iterations,
                margins: unmet_margins(&out.weights, codes, targets, scheme.raking().tolerance, plan),
            }
        });
    }
    Ok((out, worst))
}

/// The margins whose weighted shares are off their targets by more than
/// `tolerance`, each with its worst category: `education (category 3 is
/// 1.2e-2 from its target share)`, joined by `; `.
fn unmet_margins(w: &[f64], codes: &[Vec<u8>], targets: &[Vec<f64>], tolerance: f64, plan: &Plan) -> String {
    let mut out = Vec::new();
    for (k, m) in plan.margins.iter().enumerate() {
        let mut acc = vec![swvr_core::sum::Neumaier::new(); m.levels()];
        let mut total = swvr_core::sum::Neumaier::new();
        for (i, &x) in w.iter().enumerate() {
            acc[margin_code(codes, m, plan, i)].add(x);
            total.add(x);
        }
        let (total, tsum) = (total.total(), swvr_core::sum::sum(&targets[k]));
        let worst = (0..m.levels())
            .map(|j| (j, (acc[j].total() / total - targets[k][j] / tsum).abs()))
            .fold(None, |best: Option<(usize, f64)>, (j, e)| match best {
                Some((_, b)) if b >= e || e.is_nan() => best,
                _ => Some((j, e)),
            });
        if let Some((j, e)) = worst.filter(|&(_, e)| e > tolerance) {
            out.push(format!(
                "{} (category {} is {e:.3e} from its target share)",
                m.name, m.labels[j]
            ));
        }
    }
    if out.is_empty() {
        "(none above tolerance after the last step, but the iterations did not settle)".into()
    } else {
        out.join("; ")
    }
}

/// Phase 7: the diagnostics of one (country, wave).
struct Phases<'a> {
    bw: &'a BaseWeights,
    out: &'a rake::RakeOutcome,
    worst: WorstMargin,
    imputed: &'a [Vec<bool>],
    codes: &'a [Vec<u8>],
    counts: &'a [Vec<usize>],
    targets: &'a [Vec<f64>],
}

fn diagnostics(g: &Group, p: Phases<'_>, ctx: &Context<'_>) -> Diagnostics {
    let (scheme, plan, n) = (ctx.scheme, ctx.plan, g.n());
    let ws = WeightSummary::of(&p.out.weights);
    let kish = ws.kish_deff;
    let mut stratum_n = vec![0usize; g.strata.len()];
    g.stratum.iter().for_each(|&s| stratum_n[s as usize] += 1);
    let margins = plan
        .margins
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let mut acc = vec![swvr_core::sum::Neumaier::new(); m.levels()];
            let mut total = swvr_core::sum::Neumaier::new();
            for (i, &w) in p.out.weights.iter().enumerate() {
                acc[margin_code(p.codes, m, plan, i)].add(w);
                total.add(w);
            }
            let total = total.total();
            let tsum = swvr_core::sum::sum(&p.targets[k]);
            MarginDiagnostics {
                variable: m.name.clone(),
                categories: m
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(j, l)| CategoryDiagnostics {
                        category: l.clone(),
                        n: p.counts[k][j],
                        target: p.targets[k][j] / tsum,
                        share: acc[j].total() / total,
                    })
                    .collect(),
            }
        })
        .collect();
    let count = |f: &[bool]| f.iter().filter(|&&x| x).count();
    Diagnostics {
        country: g.country.clone(),
        wave: g.wave,
        n,
        converged: p.out.converged,
        iterations: p.out.iterations,
        max_margin_error: p.out.max_margin_error,
        worst_margin: p.worst,
        trimmed: p.out.trimmed,
        trim_rounds: p.out.trim_rounds,
        trimming_feasible: p.out.trimming_feasible,
        calibration: match scheme.calibration() {
            calibrate::Calibration::Raking => None,
            cal => Some(CalibrationDiagnostics {
                method: cal.name().into(),
                bounds: cal.bounds().map(|(l, u)| [l, u]),
                g_min: p.out.g_range.0,
                g_max: p.out.g_range.1,
                iterations: p.out.iterations,
                warnings: match (scheme.trimming(), cal.bounds()) {
                    (Some(t), Some((l, u))) => vec![format!(
                        "[trimming] (weight / mean in [{}, {}]) alternates with {} calibration: after a trimming round the g-weight bounds [{l}, {u}] apply to the trimmed weights, so the final g-weights (here {:.4} to {:.4}) need not stay within them",
                        t.lower,
                        t.upper,
                        cal.name(),
                        p.out.g_range.0,
                        p.out.g_range.1
                    )],
                    (Some(t), None) => vec![format!(
                        "[trimming] (weight / mean in [{}, {}]) alternates with {} calibration",
                        t.lower,
                        t.upper,
                        cal.name()
                    )],
                    _ => Vec::new(),
                },
            }),
        },
        min_weight: ws.min,
        max_weight: ws.max,
        kish_deff: kish,
        effective_n: n as f64 / kish,
        moe95: 1.96 * (kish * 0.25 / n as f64).sqrt(),
        method: scheme.base().method.as_str().into(),
        base_weight: WeightSummary::of(&p.bw.base),
        frames: p.bw.frames.clone(),
        imputed: plan
            .components
            .iter()
            .zip(p.imputed)
            .map(|(c, f)| (c.name.clone(), count(f)))
            .collect(),
        counts_imputed: CountsImputed {
            n_adults: count(&p.bw.counts_imputed[0]),
            n_landlines: count(&p.bw.counts_imputed[1]),
            n_mobiles: count(&p.bw.counts_imputed[2]),
        },
        strata: g.strata.len(),
        lonely_strata: g
            .strata
            .iter()
            .zip(&stratum_n)
            .filter(|&(_, &c)| c == 1)
            .map(|(s, _)| s.clone())
            .collect(),
        margins,
        replicates: None,
    }
}

/// Weights one (country, wave): the phases in order.
fn process_group(
    g: &Group,
    design: Option<&Design>,
    targets: Option<&GroupTargets>,
    ctx: &Context<'_>,
) -> Result<GroupResult, WeightError> {
    let design = design.ok_or_else(|| WeightError::NoDesign {
        file: ctx.design_path.display().to_string(),
        country: g.country.clone(),
        wave: g.wave,
    })?;
    let targets = targets.ok_or_else(|| WeightError::NoTargets {
        file: ctx.targets_path.display().to_string(),
        country: g.country.clone(),
        wave: g.wave,
        variable: None,
    })?;
    let bw = base_weights(g, design, ctx)?;
    let mut codes = categories(g, ctx)?;
    let tlines = margin_targets(g, targets, ctx)?;
    let tshares = shares(&tlines);
    let original = ctx.scheme.variance().is_replicate().then(|| codes.clone());
    let imputed = impute_missing(g, &mut codes, &bw.base, &tshares, ctx);
    let counts = margin_counts(&codes, ctx.plan);
    check_targets(g, &counts, &tlines, ctx)?;
    let (out, worst) = rake_and_trim(g, &bw.base, &codes, &tshares, ctx)?;
    let reps = match &original {
        Some(original) => Some(replicate_weights(g, &bw.base, original, &codes, &tshares, ctx)?),
        None => None,
    };
    let mut diagnostics = diagnostics(
        g,
        Phases {
            bw: &bw,
            out: &out,
            worst,
            imputed: &imputed,
            codes: &codes,
            counts: &counts,
            targets: &tshares,
        },
        ctx,
    );
    if let Some(r) = &reps {
        diagnostics.replicates = Some(ReplicateDiagnostics {
            method: ctx.scheme.variance().as_str().into(),
            r_type: r.kind.r_type().into(),
            replicates: r.programs.len(),
            grouped_strata: match ctx.scheme.variance() {
                VarianceMethod::Jackknife { groups, .. } => {
                    let mut n_h = vec![0usize; g.strata.len()];
                    g.stratum.iter().for_each(|&s| n_h[s as usize] += 1);
                    Some(n_h.iter().filter(|&&n| n > groups as usize).count())
                }
                _ => None,
            },
            categories_emptied: r.emptied,
            not_converged: r.not_converged.clone(),
        });
    }
    Ok(GroupResult {
        diagnostics,
        base: bw.base,
        weight: out.weights,
        codes,
        imputed,
        counts_imputed: bw.counts_imputed,
        replicates: reps,
    })
}

/// Phase 8 (replicate variance methods): every replicate through the
/// chain after the base weights (`replicates.rs`).
fn replicate_weights(
    g: &Group,
    base: &[f64],
    original: &[Vec<u8>],
    imputed: &[Vec<u8>],
    targets: &[Vec<f64>],
    ctx: &Context<'_>,
) -> Result<replicates::GroupReplicates, WeightError> {
    let (scheme, plan) = (ctx.scheme, ctx.plan);
    let levels: Vec<usize> = plan.components.iter().map(|c| c.labels.len()).collect();
    let margins: Vec<Vec<usize>> = plan.margins.iter().map(|m| m.comps.clone()).collect();
    let impute = |codes: &mut [Vec<u8>], w: &[f64]| {
        impute_missing(g, codes, w, targets, ctx);
    };
    let chain = replicates::Chain {
        g,
        base,
        original,
        imputed,
        levels: &levels,
        margins: &margins,
        targets,
        settings: RakeSettings {
            tolerance: scheme.raking().tolerance,
            max_iterations: scheme.raking().max_iterations,
            trimming: scheme.trimming().map(|t| (t.lower, t.upper, t.max_rounds)),
            calibration: scheme.calibration(),
        },
        impute: &impute,
    };
    let (reps, failed) = replicates::run(&chain, scheme.variance());
    if let Some((replicate, problem)) = failed
        && scheme.raking().on_nonconvergence == OnNonConvergence::Error
    {
        return Err(WeightError::Replicate {
            country: g.country.clone(),
            wave: g.wave,
            method: scheme.variance().as_str().into(),
            replicate,
            problem,
        });
    }
    Ok(reps)
}

/// The replicate factors of one (country, wave) (PSU = respondent, strata
/// of `g`), before the chain: what multiplies each base weight
/// (docs/weighting.md, "Replicate weights"). For the R reference and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicateFactors {
    /// Per replicate, per row of `g`: the factor.
    pub factors: Vec<Vec<f64>>,
    /// Per replicate: R's rscale.
    pub rscales: Vec<f64>,
    /// Jackknife: each row's unit within its stratum (the respondent's
    /// position in the stratum, or its random group).
    pub units: Option<Vec<u32>>,
}

/// [`ReplicateFactors`] of `g` for a jackknife or bootstrap `variance`
/// (empty for the other methods).
pub fn replicate_factors(g: &Group, variance: VarianceMethod) -> ReplicateFactors {
    let (design, _, rscales) = replicates::design(g, variance);
    let factors = (0..rscales.len())
        .map(|r| {
            let mut f = replicates::Factors::new(&design, &g.stratum, r);
            (0..g.n()).map(|i| f.next(i)).collect()
        })
        .collect();
    ReplicateFactors {
        factors,
        rscales,
        units: design.units().map(<[u32]>::to_vec),
    }
}

/// Schema metadata of weighted.arrow telling tabulate and model to compute
/// calibrated standard errors (`swvr_core::calibration`): the variance
/// method, the calibration function and the margins (whose components'
/// `D_weighting` columns hold the calibration variables). None with
/// `[variance] method = "fixed"`, so that default outputs are unchanged.
fn variance_metadata(scheme: &Scheme) -> Vec<(String, String)> {
    use swvr_core::calibration::{META_CALIBRATION, META_MARGINS, META_VARIANCE};
    if scheme.variance().is_replicate() {
        // Standard errors from weight/replicates.arrow (swvr_core::replicates).
        return vec![(META_VARIANCE.into(), scheme.variance().as_str().into())];
    }
    if scheme.variance() != VarianceMethod::Calibrated {
        return Vec::new();
    }
    vec![
        (META_VARIANCE.into(), "calibrated".into()),
        (META_CALIBRATION.into(), scheme.calibration().name().into()),
        (
            META_MARGINS.into(),
            scheme
                .raking()
                .variables
                .iter()
                .map(Margin::name)
                .collect::<Vec<_>>()
                .join(","),
        ),
    ]
}

/// Reads `out/ingest/respondents.arrow` and `data/{design,targets}.csv`,
/// weights every selected (country, wave) with `scheme` bound to the run's
/// questionnaire `q`, and writes `out/weight/`. Returns the diagnostics in
/// (country, wave) order.
pub fn weight(
    data: &Path,
    out: &Path,
    scheme: &Scheme,
    q: &Questionnaire,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<Vec<Diagnostics>, WeightError> {
    let plan = Plan::new(scheme, q)?;
    let resp_path: PathBuf = swvr_core::stages::path(out, swvr_core::stages::RESPONDENTS);
    let design_path = data.join("design.csv");
    let targets_path = data.join("targets.csv");
    let design = inputs::read_design(&design_path)?;
    let targets = inputs::read_targets(&targets_path, &plan, q)?;
    // Only the columns the computation needs, batch by batch into compact
    // vectors; weighted.arrow is then streamed from the file (output.rs).
    let (groups, cols, total_rows) = columns::read(&resp_path, &plan, sel)?;
    let ctx = Context {
        scheme,
        plan: &plan,
        cols: &cols,
        resp_path: &resp_path,
        design_path: &design_path,
        targets_path: &targets_path,
    };
    progress.start("weight", Some(groups.len() as u64), swvr_core::progress::Unit::Groups);
    let results: Vec<Result<GroupResult, WeightError>> = groups
        .par_iter()
        .map(|g| {
            let key = (g.country.clone(), g.wave);
            let r = process_group(g, design.get(&key), targets.get(&key), &ctx);
            progress.advance(1);
            r
        })
        .collect();
    progress.finish();
    let results: Vec<GroupResult> = results.into_iter().collect::<Result<_, _>>()?;
    let diagnostics: Vec<Diagnostics> = results.iter().map(|r| r.diagnostics.clone()).collect();
    output::write(
        out,
        &resp_path,
        &groups,
        results,
        &diagnostics,
        &plan,
        &cols,
        total_rows,
        (q, &swvr_core::labels::Provenance::for_scheme(&scheme.to_toml())),
        &variance_metadata(scheme),
    )?;
    Ok(diagnostics)
}
