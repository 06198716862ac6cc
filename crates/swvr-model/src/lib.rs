//! `swvr model`: design-based logistic regression of future volunteering
//! (the report's Appendix E, Table A2), per (country, wave).
//!
//! - [`spec`]: the model specification (TOML), validated once; the default is
//!   the contract's Appendix E model.
//! - [`fit`]: IRLS / Firth on the exact sufficient statistics of the design,
//!   sandwich variance for the stratified design, singular-design and
//!   separation checks.
//! - [`fit_batch`]: the pure entry over an in-memory batch of the columns it
//!   uses; [`model`] reads `OUT/weight/weighted.arrow` (weights, age groups)
//!   with `OUT/ingest/respondents.arrow` (answers) and writes `OUT/model/`.
//!
//! ```no_run
//! use std::path::Path;
//! use swvr_model::{ModelSpec, model};
//! let spec = ModelSpec::default_spec();
//! let summary = model(Path::new("out"), &spec, &Default::default(), &swvr_core::progress::NoProgress)?;
//! println!("{} rows", summary.rows);
//! # Ok::<(), swvr_model::ModelError>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;
use swvr_core::groups::{Selection, group_by_country_wave};
use swvr_core::io::IoError;
use swvr_core::progress::Progress;

mod data;
pub mod fit;
pub mod replicate;
pub mod report;
pub mod spec;
mod stream;

pub use fit::Fit;
pub use spec::{Control, Convergence, DEFAULT_SPEC_TOML, Level, Levels, Method, ModelSpec, Outcome, Predictor};

/// What modelling produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSummary {
    /// Rows of odds_ratios.arrow.
    pub rows: u64,
    /// (country, wave)s modelled.
    pub groups: u64,
    /// (country, wave)s whose rows carry a note (separation, singular design, …).
    pub noted: u64,
}

/// Model failures (bad specification or input; data problems of a country
/// are not errors but notes in the output).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The spec file cannot be read.
    #[error("{path}: cannot read the model specification: {source}")]
    SpecRead {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Malformed TOML or an unknown / mistyped key (located by line and column).
    #[error(transparent)]
    SpecParse(#[from] swvr_core::config::TomlError),
    /// A well-formed spec that breaks a rule.
    #[error("{path}: model specification: expected {expected}")]
    SpecInvalid {
        /// File.
        path: PathBuf,
        /// What was expected.
        expected: String,
    },
    /// A column of the input is missing or unusable.
    #[error("{path}: column `{column}`: expected {expected}")]
    Column {
        /// File.
        path: PathBuf,
        /// Column.
        column: String,
        /// What was expected.
        expected: String,
    },
    /// A weight that is null, negative or not finite.
    #[error("{path}: row {row}, column `weight`: expected a finite weight ≥ 0, found {value}")]
    Weight {
        /// File.
        path: PathBuf,
        /// Data row (1-based).
        row: u64,
        /// The value found.
        value: String,
    },
    /// File input/output.
    #[error(transparent)]
    Io(#[from] IoError),
    /// replicates.arrow cannot be used.
    #[error(transparent)]
    Replicates(#[from] swvr_core::replicates::ReplicateError),
}

/// One output row: a term of one (country, wave).
#[derive(Debug, Clone, PartialEq)]
pub struct TermRow {
    /// Term name (`(Intercept)`, `Q1`, `sex=female`, …).
    pub term: String,
    /// Log-odds coefficient.
    pub estimate: Option<f64>,
    /// Design-based standard error.
    pub se: Option<f64>,
    /// `exp(estimate)`.
    pub odds_ratio: Option<f64>,
    /// `exp(estimate − t·se)`.
    pub ci_low: Option<f64>,
    /// `exp(estimate + t·se)`.
    pub ci_high: Option<f64>,
    /// Two-sided p-value from t on `df` degrees of freedom.
    pub p_value: Option<f64>,
    /// `p_value < 0.05`.
    pub significant: Option<bool>,
}

/// The model of one (country, wave).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResult {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// The fit (coefficients, SEs, df, note).
    pub fit: Fit,
    /// One row per term, in term order.
    pub rows: Vec<TermRow>,
}

/// Every (country, wave)'s model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    /// The outcome item.
    pub outcome: String,
    /// The method.
    pub method: Method,
    /// Term names, `(Intercept)` first.
    pub terms: Vec<String>,
    /// Names of the predictor terms (the Table A2 columns).
    pub predictors: Vec<String>,
    /// Per (country, wave), sorted.
    pub groups: Vec<GroupResult>,
    /// How `se` was obtained: `fixed` or `calibrated`.
    pub variance_method: &'static str,
}

/// Fits the model to every selected (country, wave) of `batch` (the columns of
/// weighted.arrow; `source` names it in errors). Countries run in parallel;
/// results come back in (country, wave) order.
pub fn fit_batch(
    batch: &RecordBatch,
    source: &Path,
    spec: &ModelSpec,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<ModelOutput, ModelError> {
    fit_batch_from(batch, source, spec, sel, progress, None)
}

/// [`fit_batch`] with replicate-weight variance: standard errors, `df`,
/// intervals and p-values from refits with the replicate weights `reps`
/// (rows aligned with `batch`; [`replicate`]).
pub fn fit_batch_with_replicates(
    batch: &RecordBatch,
    source: &Path,
    spec: &ModelSpec,
    sel: &Selection,
    progress: &dyn Progress,
    reps: &dyn replicate::ReplicateWeights,
) -> Result<ModelOutput, ModelError> {
    fit_batch_from(batch, source, spec, sel, progress, Some(reps))
}

/// Whether the weighted data's metadata asks for the fixed-weight variance
/// (neither calibrated nor replicate variance): the model's statistics are
/// then cell sums accumulated batch by batch.
fn fixed_variance(md: &arrow_schema::Metadata) -> bool {
    swvr_core::replicates::ReplicateKind::from_weighted_metadata(md).is_none()
        && md.get(swvr_core::calibration::META_VARIANCE).map(String::as_str) != Some("calibrated")
}

fn fit_batch_from(
    batch: &RecordBatch,
    source: &Path,
    spec: &ModelSpec,
    sel: &Selection,
    progress: &dyn Progress,
    reps: Option<&dyn replicate::ReplicateWeights>,
) -> Result<ModelOutput, ModelError> {
    if reps.is_none() && fixed_variance(batch.schema().metadata()) {
        let mut acc = stream::Accumulator::new(spec, sel, source);
        acc.push(0, batch)?;
        return fit_streamed(acc, spec, progress);
    }
    let design = data::Design::new(batch, source, spec)?;
    let groups = group_by_country_wave(batch, source, sel)?;
    swvr_core::groups::require_selected_in(&groups, batch, source, sel)?;
    let opts = fit::FitOptions {
        method: spec.method,
        tolerance: spec.convergence.tolerance,
        max_iterations: spec.convergence.max_iterations,
    };
    progress.start("model", Some(groups.len() as u64), swvr_core::progress::Unit::Groups);
    type Fitted = (Fit, fit::Aggregate, Vec<u64>);
    let fitted: Vec<Result<Fitted, ModelError>> = groups
        .par_iter()
        .map(|g| {
            let (agg, keys) = design.aggregate_keys(g)?;
            let f = fit::fit(&agg, &design.terms, &opts);
            progress.advance(1);
            Ok((f, agg, keys))
        })
        .collect();
    progress.finish();
    let mut fitted: Vec<Fitted> = fitted.into_iter().collect::<Result<_, _>>()?;
    let mut variance_method = if design.calib.is_some() { "calibrated" } else { "fixed" };
    if let Some(reps) = reps {
        let cells: Vec<replicate::GroupCells> = groups
            .iter()
            .zip(&fitted)
            .map(|(g, (_, agg, keys))| {
                let d = reps.design(&g.country, g.wave).ok_or_else(|| ModelError::Column {
                    path: source.to_path_buf(),
                    column: "rep_1".into(),
                    expected: format!("a replicate design for {} {} (replicate variance)", g.country, g.wave),
                })?;
                Ok(replicate::GroupCells {
                    design: d,
                    cells: design.row_cells(g, keys),
                    n_patterns: agg.patterns.len(),
                })
            })
            .collect::<Result<_, ModelError>>()?;
        let sums = replicate::accumulate(&cells, batch.num_rows(), reps)?;
        for (((f, agg, _), gc), s) in fitted.iter_mut().zip(&cells).zip(&sums) {
            replicate::apply(f, agg, gc, s, &opts);
        }
        if let Some(gc) = cells.first() {
            variance_method = gc.design.method();
        }
    }
    let results: Vec<GroupResult> = groups
        .iter()
        .zip(fitted)
        .map(|(g, (f, _, _))| GroupResult {
            country: g.country.clone(),
            wave: g.wave,
            rows: term_rows(&design.terms, &f),
            fit: f,
        })
        .collect();
    Ok(ModelOutput {
        outcome: spec.outcome.item.clone(),
        method: spec.method,
        predictors: spec.predictors.iter().map(|p| p.term_name().to_string()).collect(),
        terms: design.terms.clone(),
        groups: results,
        variance_method,
    })
}

/// Fits every (country, wave) of a finished accumulator (fixed weights).
fn fit_streamed(
    acc: stream::Accumulator<'_>,
    spec: &ModelSpec,
    progress: &dyn Progress,
) -> Result<ModelOutput, ModelError> {
    let (terms, groups) = acc.finish()?;
    let terms = terms.unwrap_or_default();
    let opts = fit::FitOptions {
        method: spec.method,
        tolerance: spec.convergence.tolerance,
        max_iterations: spec.convergence.max_iterations,
    };
    progress.start("model", Some(groups.len() as u64), swvr_core::progress::Unit::Groups);
    let results: Vec<GroupResult> = groups
        .par_iter()
        .map(|(country, wave, agg)| {
            let f = fit::fit(agg, &terms, &opts);
            progress.advance(1);
            GroupResult {
                country: country.clone(),
                wave: *wave,
                rows: term_rows(&terms, &f),
                fit: f,
            }
        })
        .collect();
    progress.finish();
    Ok(ModelOutput {
        outcome: spec.outcome.item.clone(),
        method: spec.method,
        predictors: spec.predictors.iter().map(|p| p.term_name().to_string()).collect(),
        terms,
        groups: results,
        variance_method: "fixed",
    })
}

pub use swvr_core::stats::t_quantile;

fn term_rows(terms: &[String], f: &Fit) -> Vec<TermRow> {
    let df = f.df as f64;
    let tcrit = (f.df > 0).then(|| t_quantile(0.975, df)).flatten();
    terms
        .iter()
        .enumerate()
        .map(|(j, term)| {
            let (b, se) = (f.coef[j], f.se[j]);
            let mut row = TermRow {
                term: term.clone(),
                estimate: b,
                se,
                odds_ratio: b.map(f64::exp),
                ci_low: None,
                ci_high: None,
                p_value: None,
                significant: None,
            };
            if let (Some(b), Some(se), Some(tc)) = (b, se, tcrit)
                && se > 0.0
            {
                row.ci_low = Some((b - tc * se).exp());
                row.ci_high = Some((b + tc * se).exp());
                // R's summary.svyglm: 2·pt(−|t|, df) (the one t function of swvr_core).
                if let Some(p) = swvr_core::stats::t_two_sided_p(b / se, df) {
                    row.p_value = Some(p);
                    row.significant = Some(p < 0.05);
                }
            }
            row
        })
        .collect()
}

/// The schema of odds_ratios.arrow: the contract's columns, then `df`,
/// `method`, `converged`, `iterations`, `note` and `variance_method` (`fixed` or `calibrated`).
pub fn output_schema() -> SchemaRef {
    let f = |n: &str, t: DataType, null: bool| Field::new(n, t, null);
    Arc::new(swvr_core::io::with_version(Schema::new(vec![
        f("country", DataType::Utf8, false),
        f("wave", DataType::Int32, false),
        f("outcome", DataType::Utf8, false),
        f("term", DataType::Utf8, false),
        f("estimate", DataType::Float64, true),
        f("se", DataType::Float64, true),
        f("odds_ratio", DataType::Float64, true),
        f("ci_low", DataType::Float64, true),
        f("ci_high", DataType::Float64, true),
        f("p_value", DataType::Float64, true),
        f("significant", DataType::Boolean, true),
        f("n", DataType::Int64, false),
        f("df", DataType::Int64, false),
        f("method", DataType::Utf8, false),
        f("converged", DataType::Boolean, false),
        f("iterations", DataType::Int32, false),
        f("note", DataType::Utf8, true),
        f("variance_method", DataType::Utf8, false),
    ])))
}

/// odds_ratios.arrow as one batch.
pub fn to_record_batch(out: &ModelOutput) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let rows: Vec<(&GroupResult, &TermRow)> = out
        .groups
        .iter()
        .flat_map(|g| g.rows.iter().map(move |r| (g, r)))
        .collect();
    let s = |f: &dyn Fn(&GroupResult, &TermRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(|(g, r)| f(g, r)).collect::<StringArray>())
    };
    let x = |f: &dyn Fn(&TermRow) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(|(_, r)| f(r)).collect::<Float64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        s(&|g, _| Some(g.country.clone())),
        Arc::new(rows.iter().map(|(g, _)| Some(g.wave)).collect::<Int32Array>()),
        s(&|_, _| Some(out.outcome.clone())),
        s(&|_, r| Some(r.term.clone())),
        x(&|r| r.estimate),
        x(&|r| r.se),
        x(&|r| r.odds_ratio),
        x(&|r| r.ci_low),
        x(&|r| r.ci_high),
        x(&|r| r.p_value),
        Arc::new(rows.iter().map(|(_, r)| r.significant).collect::<BooleanArray>()),
        Arc::new(rows.iter().map(|(g, _)| Some(g.fit.n as i64)).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|(g, _)| Some(g.fit.df)).collect::<Int64Array>()),
        s(&|_, _| Some(out.method.as_str().to_string())),
        Arc::new(
            rows.iter()
                .map(|(g, _)| Some(g.fit.converged))
                .collect::<BooleanArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|(g, _)| Some(g.fit.iterations as i32))
                .collect::<Int32Array>(),
        ),
        s(&|g, _| g.fit.note.clone()),
        s(&|_, _| Some(out.variance_method.to_string())),
    ];
    RecordBatch::try_new(output_schema(), columns)
}

/// The columns the model reads (from weighted.arrow and respondents.arrow).
pub fn input_columns(spec: &ModelSpec) -> Vec<&str> {
    let mut columns: Vec<&str> = vec!["country", "wave", "stratum", &spec.weight, &spec.outcome.item];
    columns.extend(spec.predictors.iter().map(|p| p.item.as_str()));
    columns.extend(spec.controls.iter().map(|c| c.variable.as_str()));
    columns
}

/// Reads `out/weight/weighted.arrow` with `out/ingest/respondents.arrow`
/// (batch by batch with [`swvr_core::handoff::for_each_weighted`] for the
/// fixed-weight variance, whole with [`swvr_core::handoff::read_weighted`]
/// for calibrated and replicate variance), writes
/// `out/model/odds_ratios.arrow` and `out/model/report.md`.
pub fn model(
    out: &Path,
    spec: &ModelSpec,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<ModelSummary, ModelError> {
    // Only the columns the model uses are read: the weights and age groups
    // from weighted.arrow, the answers from respondents.arrow, row-aligned
    // (and, for calibrated variance, the calibration columns the file names).
    let extra = swvr_core::calibration::columns_in_file(&out.join(swvr_core::handoff::WEIGHTED_FILE));
    let mut columns = input_columns(spec);
    columns.extend(extra.iter().map(String::as_str));
    let (schema, source) = swvr_core::handoff::weighted_schema(out, &columns)?;
    if streams(&schema, spec) {
        let mut s = Streaming::new(spec, sel, &source);
        let mut row0 = 0u64;
        swvr_core::handoff::for_each_weighted(out, &columns, |b| -> Result<(), ModelError> {
            s.push(row0, &b)?;
            row0 += b.num_rows() as u64;
            Ok(())
        })?;
        return s.finish(out, &schema, progress);
    }
    let joined = swvr_core::handoff::read_weighted(out, &columns)?;
    model_into(out, &joined.batch, &joined.source, spec, sel, progress)
}

/// Whether data of `schema` (the columns [`input_columns`] names) can be
/// modelled batch by batch with [`Streaming`]: fixed-weight variance (no
/// calibrated or replicate variance, which need row-level inputs) and the
/// levels of every banded control listed in its field metadata.
pub fn streams(schema: &Schema, spec: &ModelSpec) -> bool {
    fixed_variance(schema.metadata())
        && spec.controls.iter().all(|c| match c.levels {
            Levels::Named(_) => schema
                .field_with_name(&c.variable)
                .ok()
                .and_then(|f| f.metadata().get(swvr_core::LEVELS_KEY))
                .is_some_and(|s| s.split(',').any(|l| !l.trim().is_empty())),
            Levels::Listed(_) => true,
        })
}

/// The model fed batch by batch (fixed-weight variance; see [`streams`]):
/// only the (stratum, pattern, outcome) cell sums are kept. `swvr run`
/// feeds it and tabulation from one read of the inputs.
pub struct Streaming<'s> {
    acc: stream::Accumulator<'s>,
    spec: &'s ModelSpec,
    pushed: bool,
}

impl<'s> Streaming<'s> {
    /// A model of the rows of `sel`, read from `source` (named in errors).
    pub fn new(spec: &'s ModelSpec, sel: &Selection, source: &Path) -> Self {
        Streaming {
            acc: stream::Accumulator::new(spec, sel, source),
            spec,
            pushed: false,
        }
    }

    /// Adds `batch` (at least the columns of [`input_columns`]), whose first
    /// row is data row `first_row + 1` of the input.
    pub fn push(&mut self, first_row: u64, batch: &RecordBatch) -> Result<(), ModelError> {
        self.pushed = true;
        self.acc.push(first_row, batch)
    }

    /// Fits the model to the rows pushed and writes `out/model/`; `input`
    /// is the schema of the batches (the weighted data's provenance).
    pub fn finish(mut self, out: &Path, input: &Schema, progress: &dyn Progress) -> Result<ModelSummary, ModelError> {
        if !self.pushed {
            // No rows: the terms still come from the columns' definitions.
            self.acc.push(0, &RecordBatch::new_empty(Arc::new(input.clone())))?;
        }
        let result = fit_streamed(self.acc, self.spec, progress)?;
        write_outputs(out, &result, self.spec, input)
    }
}

/// Fits the model on `batch` (read from `input`, with at least
/// [`input_columns`]) and writes `out/model/`.
pub fn model_into(
    out: &Path,
    batch: &RecordBatch,
    input: &Path,
    spec: &ModelSpec,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<ModelSummary, ModelError> {
    // Replicate variance: weighted.arrow's metadata names the method, the
    // replicate weights are streamed from out/weight/replicates.arrow.
    let result = match swvr_core::replicates::ReplicateKind::from_weighted_metadata(batch.schema().metadata()) {
        Some(_) => {
            let reps = replicate::FileReplicates::open(out)?;
            fit_batch_with_replicates(batch, input, spec, sel, progress, &reps)?
        }
        None => fit_batch(batch, input, spec, sel, progress)?,
    };
    write_outputs(out, &result, spec, &batch.schema())
}

/// Writes odds_ratios.arrow and report.md; `input` is the weighted data's
/// schema (provenance).
fn write_outputs(
    out: &Path,
    result: &ModelOutput,
    spec: &ModelSpec,
    input: &Schema,
) -> Result<ModelSummary, ModelError> {
    let dir = out.join(swvr_core::stages::MODEL);
    let arrow_path = swvr_core::stages::path(out, swvr_core::stages::ODDS_RATIOS);
    let rb = to_record_batch(result).map_err(|source| IoError::Arrow {
        path: arrow_path.clone(),
        source,
    })?;
    // The provenance (questionnaire, scheme hash) of the weighted data.
    let schema = Arc::new(swvr_core::labels::inherit(output_schema().as_ref().clone(), input));
    let rb = RecordBatch::try_new(schema.clone(), rb.columns().to_vec()).map_err(|source| IoError::Arrow {
        path: arrow_path.clone(),
        source,
    })?;
    swvr_core::io::write_arrow(&arrow_path, &schema, &[rb])?;
    let published = report::Published::builtin();
    let md = report::markdown(result, spec, &published);
    swvr_core::io::write_atomic(&dir.join("report.md"), md.as_bytes())?;
    Ok(ModelSummary {
        rows: result.groups.iter().map(|g| g.rows.len() as u64).sum(),
        groups: result.groups.len() as u64,
        noted: result.groups.iter().filter(|g| g.fit.note.is_some()).count() as u64,
    })
}
