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
//! assert_eq!(s.raking.variables.len(), 3);
//! assert!(s.to_toml().contains("method = \"multiplicity\""));
//! ```

pub mod base;
mod columns;
mod error;
pub mod impute;
pub mod inputs;
mod output;
pub mod rake;
pub mod scheme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use swvr_core::groups::{Group, Selection};
use swvr_core::progress::Progress;
use swvr_core::questionnaire::{DemographicKind, Questionnaire};

pub use error::{TargetError, WeightError};
pub use scheme::{Method, OnNonConvergence, RakeVar, Scheme};

use base::{Counts, Frame};
use columns::{Columns, FRAME_L, FRAME_M};
use impute::MISSING;
use inputs::{Design, GroupTargets};
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

/// Per-row results of one group (in `Group::rows` order).
struct GroupResult {
    diagnostics: Diagnostics,
    base: Vec<f64>,
    weight: Vec<f64>,
    /// Per raking variable: category index used for raking.
    codes: Vec<Vec<u8>>,
    /// Per raking variable: imputed flag.
    imputed: Vec<Vec<bool>>,
    /// n_adults, n_landlines, n_mobiles substituted.
    counts_imputed: [Vec<bool>; 3],
}

/// A raking variable's categories: the codes (coded) or bands (age).
#[derive(Debug, Clone)]
struct VarSpec {
    var: RakeVar,
    /// Category labels as in targets.csv, in order.
    labels: Vec<String>,
    /// For coded variables: the valid codes (index = category).
    codes: Vec<i8>,
    /// DK/refused codes.
    missing: Vec<i16>,
}

fn var_specs(scheme: &Scheme, q: &Questionnaire) -> Vec<VarSpec> {
    scheme
        .raking
        .variables
        .iter()
        .map(|&var| {
            let d = q.demographic(var.source_column());
            match (var, d.map(|d| &d.kind)) {
                (RakeVar::AgeGroup, Some(DemographicKind::Numeric { missing_codes, .. })) => VarSpec {
                    var,
                    labels: scheme.bands.iter().map(|b| b.label.clone()).collect(),
                    codes: Vec::new(),
                    missing: missing_codes.clone(),
                },
                (_, _) => {
                    let set = d.and_then(|d| q.demographic_set(d));
                    let codes: Vec<i8> = set
                        .map(|s| s.codes.iter().filter(|c| !c.missing).map(|c| c.code).collect())
                        .unwrap_or_default();
                    let missing = set
                        .map(|s| {
                            s.codes
                                .iter()
                                .filter(|c| c.missing)
                                .map(|c| i16::from(c.code))
                                .collect()
                        })
                        .unwrap_or_default();
                    VarSpec {
                        var,
                        labels: codes.iter().map(|c| c.to_string()).collect(),
                        codes,
                        missing,
                    }
                }
            }
        })
        .collect()
}

/// Everything one group needs that is not per row.
struct Context<'a> {
    scheme: &'a Scheme,
    specs: &'a [VarSpec],
    cols: &'a Columns,
    resp_path: &'a Path,
    design_path: &'a Path,
    targets_path: &'a Path,
}

fn process_group(
    g: &Group,
    design: Option<&Design>,
    targets: Option<&GroupTargets>,
    ctx: &Context<'_>,
) -> Result<GroupResult, WeightError> {
    let (cols, scheme) = (ctx.cols, ctx.scheme);
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
    let n = g.n();

    // Base weights.
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
        let bw =
            base::base_weight(frame, counts, design, &scheme.base).ok_or_else(|| WeightError::FrameNotInDesign {
                file: ctx.design_path.display().to_string(),
                country: g.country.clone(),
                wave: g.wave,
                frame: match frame {
                    Frame::Landline => "L".into(),
                    Frame::Mobile => "M".into(),
                },
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

    // Raking codes, with DK/refused as MISSING.
    let mut codes: Vec<Vec<u8>> = Vec::with_capacity(ctx.specs.len());
    for spec in ctx.specs {
        let mut col = Vec::with_capacity(n);
        for &r in &g.rows {
            let r = r as usize;
            let (value, code) = match spec.var {
                RakeVar::AgeGroup => {
                    let age = cols.age[r];
                    let c = if spec.missing.contains(&age) {
                        Some(MISSING)
                    } else {
                        scheme.band_of(age).map(|b| b as u8)
                    };
                    (age, c)
                }
                v => {
                    let x = cols.coded.get(&v).map_or(0, |a| a[r]);
                    let c = if spec.missing.contains(&i16::from(x)) {
                        Some(MISSING)
                    } else {
                        spec.codes.iter().position(|&c| c == x).map(|p| p as u8)
                    };
                    (i16::from(x), c)
                }
            };
            let Some(code) = code else {
                return Err(WeightError::Data {
                    file: ctx.resp_path.display().to_string(),
                    row: r + 1,
                    column: spec.var.source_column().into(),
                    value: value.to_string(),
                    expected: match spec.var {
                        RakeVar::AgeGroup => format!("an age within the scheme's bands or one of {:?}", spec.missing),
                        _ => format!("one of the codes {:?} or DK/refused {:?}", spec.codes, spec.missing),
                    },
                });
            };
            col.push(code);
        }
        codes.push(col);
    }

    // Targets per variable and category (None = no row).
    let tfile = ctx.targets_path.display().to_string();
    let mut tshares: Vec<Vec<Option<(f64, u64)>>> = Vec::with_capacity(ctx.specs.len());
    for spec in ctx.specs {
        let list = targets.get(&spec.var).ok_or_else(|| WeightError::NoTargets {
            file: tfile.clone(),
            country: g.country.clone(),
            wave: g.wave,
            variable: Some(spec.var.name().to_string()),
        })?;
        let mut v = vec![None; spec.labels.len()];
        for t in list {
            let j = match spec.var {
                RakeVar::AgeGroup => spec.labels.iter().position(|l| *l == t.category),
                _ => t
                    .category
                    .parse::<i8>()
                    .ok()
                    .and_then(|c| spec.codes.iter().position(|&x| x == c)),
            };
            let Some(j) = j else {
                return Err(WeightError::Target(Box::new(error::TargetError {
                    file: tfile.clone(),
                    line: Some(t.line),
                    country: g.country.clone(),
                    wave: g.wave,
                    variable: spec.var.name().into(),
                    category: t.category.clone(),
                    problem: format!(
                        "is not a category of {} (expected one of {})",
                        spec.var.name(),
                        spec.labels.join(", ")
                    ),
                })));
            };
            v[j] = Some((t.share, t.line));
        }
        tshares.push(v);
    }
    let fallback: Vec<Vec<f64>> = tshares
        .iter()
        .map(|v| v.iter().map(|t| t.map_or(0.0, |x| x.0)).collect())
        .collect();
    let levels: Vec<usize> = ctx.specs.iter().map(|s| s.labels.len()).collect();

    // Impute DK/refused.
    let imputed = impute::impute(&mut codes, &levels, &base, &fallback, |row, k| {
        impute::hash_finish(cols.key(g.rows[row]), ctx.specs[k].var.name())
    });

    // Sample categories vs targets.
    for (k, spec) in ctx.specs.iter().enumerate() {
        let mut count = vec![0usize; levels[k]];
        codes[k].iter().for_each(|&c| count[c as usize] += 1);
        for j in 0..levels[k] {
            let err = |line, problem: String| {
                WeightError::Target(Box::new(error::TargetError {
                    file: tfile.clone(),
                    line,
                    country: g.country.clone(),
                    wave: g.wave,
                    variable: spec.var.name().into(),
                    category: spec.labels[j].clone(),
                    problem,
                }))
            };
            match (count[j], tshares[k][j]) {
                (c, None) if c > 0 => {
                    return Err(err(None, format!("has {c} respondents but no target row")));
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

    // Rake (and trim).
    let settings = RakeSettings {
        tolerance: scheme.raking.tolerance,
        max_iterations: scheme.raking.max_iterations,
        trimming: scheme.trimming.as_ref().map(|t| (t.lower, t.upper, t.max_rounds)),
    };
    let problem = RakeProblem {
        codes: &codes,
        levels: &levels,
        targets: &fallback,
    };
    let out = rake::rake(&base, &problem, &settings);
    let worst = WorstMargin {
        variable: ctx.specs[out.worst.0].var.name().to_string(),
        category: ctx.specs[out.worst.0].labels[out.worst.1].clone(),
    };
    if !out.converged && scheme.raking.on_nonconvergence == OnNonConvergence::Error {
        return Err(if out.trimming_feasible {
            WeightError::NotConverged {
                country: g.country.clone(),
                wave: g.wave,
                variable: worst.variable,
                category: worst.category,
                error: out.max_margin_error,
                tolerance: scheme.raking.tolerance,
                iterations: scheme.raking.max_iterations,
            }
        } else {
            WeightError::TrimInfeasible {
                country: g.country.clone(),
                wave: g.wave,
                rounds: out.trim_rounds,
                variable: worst.variable,
                category: worst.category,
                error: out.max_margin_error,
                tolerance: scheme.raking.tolerance,
            }
        });
    }

    let ws = WeightSummary::of(&out.weights);
    let kish = ws.kish_deff;
    let mut stratum_n = vec![0usize; g.strata.len()];
    g.stratum.iter().for_each(|&s| stratum_n[s as usize] += 1);
    let diagnostics = Diagnostics {
        country: g.country.clone(),
        wave: g.wave,
        n,
        converged: out.converged,
        iterations: out.iterations,
        max_margin_error: out.max_margin_error,
        worst_margin: worst,
        trimmed: out.trimmed,
        trim_rounds: out.trim_rounds,
        trimming_feasible: out.trimming_feasible,
        min_weight: ws.min,
        max_weight: ws.max,
        kish_deff: kish,
        effective_n: n as f64 / kish,
        moe95: 1.96 * (kish * 0.25 / n as f64).sqrt(),
        method: match scheme.base.method {
            Method::Multiplicity => "multiplicity".into(),
            Method::Hartley => "hartley".into(),
        },
        base_weight: WeightSummary::of(&base),
        frames,
        imputed: ctx
            .specs
            .iter()
            .zip(&imputed)
            .map(|(s, f)| (s.var.name().to_string(), f.iter().filter(|&&x| x).count()))
            .collect(),
        counts_imputed: CountsImputed {
            n_adults: counts_imputed[0].iter().filter(|&&x| x).count(),
            n_landlines: counts_imputed[1].iter().filter(|&&x| x).count(),
            n_mobiles: counts_imputed[2].iter().filter(|&&x| x).count(),
        },
        strata: g.strata.len(),
        lonely_strata: g
            .strata
            .iter()
            .zip(&stratum_n)
            .filter(|&(_, &c)| c == 1)
            .map(|(s, _)| s.clone())
            .collect(),
    };
    Ok(GroupResult {
        diagnostics,
        base,
        weight: out.weights,
        codes,
        imputed,
        counts_imputed,
    })
}

/// Reads `out/ingest/respondents.arrow` and `data/{design,targets}.csv`,
/// weights every selected (country, wave) and writes `out/weight/`.
/// Returns the diagnostics in (country, wave) order.
pub fn weight(
    data: &Path,
    out: &Path,
    scheme: &Scheme,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<Vec<Diagnostics>, WeightError> {
    let resp_path: PathBuf = out.join("ingest").join("respondents.arrow");
    let design_path = data.join("design.csv");
    let targets_path = data.join("targets.csv");
    let design = inputs::read_design(&design_path)?;
    let targets = inputs::read_targets(&targets_path)?;
    let q = Questionnaire::default_2021();
    let specs = var_specs(scheme, &q);
    // Only the columns the computation needs, batch by batch into compact
    // vectors; weighted.arrow is then streamed from the file (output.rs).
    let (groups, cols, total_rows) = columns::read(&resp_path, scheme, &specs, sel)?;
    let ctx = Context {
        scheme,
        specs: &specs,
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
        scheme,
        &specs,
        &cols,
        total_rows,
    )?;
    Ok(diagnostics)
}
