//! `swvr tabulate`: every questionnaire item and derived indicator by every
//! domain, with design-based inference (contract section 4, `tabulate/`).
//!
//! [`tabulate`] reads `OUT/weight/weighted.arrow` (weights, age groups)
//! with `OUT/ingest/respondents.arrow` (answers, strata) and writes
//! `OUT/tabulate/tables.arrow`, `tables.csv`, `contrasts.arrow` and `report.md`;
//! [`tabulate_batch`] is the same computation over an in-memory batch.
//!
//! - Estimates: weighted shares among those asked, DK/refused in the base.
//! - Standard errors: Taylor linearisation for a stratified with-replacement
//!   design, each domain a domain of the whole (country, wave) sample
//!   ([`engine`] documents the formulas), as R's
//!   `svyby(..., svymean, deff = "replace")` on `svydesign(ids=~1, strata=~stratum, weights=~weight)`.
//! - Intervals: R's `svyciprop(method = "logit")`; Korn–Graubard when the
//!   estimate is 0 or 1; `estimate ± t·se` for net figures ([`interval`]).
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Float64Array, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray, ArrayRef};
//! use arrow_schema::{DataType, Field, Schema};
//! use swvr_core::questionnaire::Questionnaire;
//!
//! let q = Questionnaire::default_2021();
//! let n = 4;
//! let mut fields = vec![
//!     Field::new("country", DataType::Utf8, false),
//!     Field::new("wave", DataType::Int32, false),
//!     Field::new("stratum", DataType::Utf8, false),
//!     Field::new("weight", DataType::Float64, false),
//!     Field::new("age_group", DataType::Utf8, true),
//! ];
//! let mut cols: Vec<ArrayRef> = vec![
//!     Arc::new(StringArray::from(vec!["KEN"; n])),
//!     Arc::new(Int32Array::from(vec![2021; n])),
//!     Arc::new(StringArray::from(vec!["a", "a", "b", "b"])),
//!     Arc::new(Float64Array::from(vec![0.5, 1.5, 1.0, 1.0])),
//!     Arc::new(StringArray::from(vec![Some("15-29"), Some("30-44"), None, Some("60+")])),
//! ];
//! for d in ["sex", "education", "employment", "urbanicity"] {
//!     fields.push(Field::new(d, DataType::Int8, false));
//!     cols.push(Arc::new(Int8Array::from(vec![1, 2, 1, 2])));
//! }
//! for item in q.items() {
//!     fields.push(Field::new(&item.id, DataType::Int8, true));
//!     let asked = item.asked_if.is_none();
//!     cols.push(Arc::new(Int8Array::from(vec![asked.then_some(1), asked.then_some(2), asked.then_some(2), asked.then_some(8)])));
//! }
//! let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
//! let est = swvr_tabulate::tabulate_batch(&batch, &q, &Default::default()).unwrap();
//! let q1_yes = est.iter().find(|e| e.item == "Q1" && e.domain == "total" && e.category == "yes").unwrap();
//! assert_eq!((q1_yes.n, q1_yes.n_category), (4, 1));
//! assert!((q1_yes.estimate - 0.125).abs() < 1e-15);
//! ```

pub mod contrasts;
pub mod engine;
pub mod interval;
pub mod output;
pub mod replicate;
pub mod report;
mod stream;

use std::collections::BTreeSet;
use std::path::Path;

use arrow_array::{Array, Float64Array, Int8Array, RecordBatch, StringArray};
use rayon::prelude::*;
use swvr_core::groups::{Group, Selection};
use swvr_core::io::IoError;
use swvr_core::progress::Progress;
use swvr_core::questionnaire::{Derived, Levels, Questionnaire};

pub use contrasts::Contrast;
use engine::{DomainRows, INVALID, LevelStats, NONE, Source, Var};

/// What tabulation produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TabulateSummary {
    /// Rows of tables.arrow.
    pub estimates: u64,
    /// (country, wave) groups tabulated.
    pub groups: u64,
    /// Estimates within two margins of error of a published figure / compared.
    pub published_within: (u64, u64),
}

/// Tabulation failures. Each names the file and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum TabulateError {
    /// Reading or writing a file.
    #[error(transparent)]
    Io {
        /// Cause.
        #[from]
        source: IoError,
    },
    /// A column missing or of the wrong type.
    #[error("{path}: column `{column}`: expected {expected}")]
    Column {
        /// File.
        path: String,
        /// Column.
        column: String,
        /// What was expected.
        expected: String,
    },
    /// A bad value in a row.
    #[error("{path}: row {row}, column `{column}`: value {value}: expected {expected}")]
    Value {
        /// File.
        path: String,
        /// Row (1 = first data row of the file).
        row: usize,
        /// Column.
        column: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// replicates.arrow cannot be used.
    #[error(transparent)]
    Replicates {
        /// Cause.
        #[from]
        source: swvr_core::replicates::ReplicateError,
    },
    /// The report definition file is malformed.
    #[error("{path}: report definition: {message}")]
    Report {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl TabulateError {
    fn with_path(self, p: &str) -> Self {
        match self {
            TabulateError::Value {
                path,
                row,
                column,
                value,
                expected,
            } if path.is_empty() => TabulateError::Value {
                path: p.to_string(),
                row,
                column,
                value,
                expected,
            },
            other => other,
        }
    }
}

/// How an interval was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiMethod {
    /// R's `svyciprop(method = "logit")`.
    Logit,
    /// Korn–Graubard (estimate exactly 0 or 1).
    KornGraubard,
    /// `estimate ± t·se` (net figures).
    Wald,
    /// No interval (no degrees of freedom).
    None,
}

impl CiMethod {
    /// Name written in the `ci_method` column.
    pub fn as_str(self) -> &'static str {
        match self {
            CiMethod::Logit => "logit",
            CiMethod::KornGraubard => "korn_graubard",
            CiMethod::Wald => "wald",
            CiMethod::None => "none",
        }
    }
}

/// One row of tables.arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Country code.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Item or derived indicator.
    pub item: String,
    /// Domain (`total`, `sex`, …).
    pub domain: String,
    /// Level of the domain.
    pub domain_level: String,
    /// Answer category (or `net`).
    pub category: String,
    /// Respondents in the level asked the item.
    pub n: u64,
    /// Those of them in the category (for `net`: in the plus or minus category).
    pub n_category: u64,
    /// Weighted share (or net difference).
    pub estimate: f64,
    /// Linearised standard error.
    pub se: f64,
    /// Lower 95% limit.
    pub ci_low: Option<f64>,
    /// Upper 95% limit.
    pub ci_high: Option<f64>,
    /// Design effect (SRS with replacement); `None` when undefined (n < 2 or
    /// no variance under SRS, i.e. an estimate of 0 or 1).
    pub deff: Option<f64>,
    /// Degrees of freedom of the interval: n − strata present in the level.
    pub df: i64,
    /// How the interval was obtained.
    pub ci_method: CiMethod,
    /// How `se` was obtained: `fixed` (weights taken as fixed) or
    /// `calibrated` (linearisation of the calibration estimator).
    pub variance_method: &'static str,
}

fn column_err(path: &str, column: &str, expected: &str) -> TabulateError {
    TabulateError::Column {
        path: path.to_string(),
        column: column.to_string(),
        expected: expected.to_string(),
    }
}

fn int8<'a>(batch: &'a RecordBatch, name: &str, path: &str) -> Result<&'a Int8Array, TabulateError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| column_err(path, name, "a column of this name (Int8 codes)"))?;
    col.as_any()
        .downcast_ref::<Int8Array>()
        .ok_or_else(|| column_err(path, name, &format!("type Int8, found {}", col.data_type())))
}

/// Integer values of a coded column (Int8/16/32/64), `None` for nulls.
fn int_values(batch: &RecordBatch, name: &str, path: &str) -> Result<Vec<Option<i64>>, TabulateError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| column_err(path, name, "a domain column of this name"))?;
    swvr_core::io::IntColumn::of(col.as_ref())
        .map(|c| c.values())
        .ok_or_else(|| column_err(path, name, &format!("integer codes, found {}", col.data_type())))
}

/// Per-row levels of every domain of the questionnaire (domains in parallel).
fn domain_rows(batch: &RecordBatch, q: &Questionnaire, path: &str) -> Result<Vec<DomainRows>, TabulateError> {
    let out: Vec<DomainRows> = q
        .domains()
        .par_iter()
        .map(|d| domain_row(batch, d, path))
        .collect::<Result<_, _>>()?;
    let (_, n_levels) = engine::level_offsets(&out);
    if n_levels >= usize::from(INVALID) {
        return Err(column_err(path, "domains", "fewer than 254 domain levels in all"));
    }
    Ok(out)
}

fn domain_row(
    batch: &RecordBatch,
    d: &swvr_core::questionnaire::Domain,
    path: &str,
) -> Result<DomainRows, TabulateError> {
    let (labels, level) = match &d.levels {
        Levels::Codes(levels) => {
            let labels = levels.iter().map(|l| l.label.clone()).collect::<Vec<_>>();
            let of = |v: i64| {
                levels
                    .iter()
                    .position(|l| l.codes.iter().any(|&c| i64::from(c) == v))
                    .map_or(NONE, |i| i as u8)
            };
            let col = batch.column_by_name(&d.variable);
            let level = match col.and_then(|c| c.as_any().downcast_ref::<Int8Array>()) {
                Some(a) => {
                    // Int8 codes (the convention): a 256-entry lookup.
                    let mut lut = [NONE; 256];
                    for (code, slot) in lut.iter_mut().enumerate() {
                        *slot = of(i64::from(code as u8 as i8));
                    }
                    let values = a.values();
                    (0..a.len())
                        .map(|r| {
                            if a.is_null(r) {
                                NONE
                            } else {
                                lut[values[r] as u8 as usize]
                            }
                        })
                        .collect()
                }
                None => int_values(batch, &d.variable, path)?
                    .iter()
                    .map(|v| v.map_or(NONE, of))
                    .collect(),
            };
            (labels, level)
        }
        Levels::Bands(_) => {
            let col = batch
                .column_by_name(&d.variable)
                .ok_or_else(|| column_err(path, &d.variable, "a column of age-band labels"))?;
            let arr = col
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| column_err(path, &d.variable, &format!("type Utf8, found {}", col.data_type())))?;
            let field = batch
                .schema()
                .field_with_name(&d.variable)
                .map(|f| f.metadata().clone());
            let listed = field
                .ok()
                .and_then(|m| m.get(swvr_core::LEVELS_KEY).cloned())
                .filter(|s| !s.is_empty());
            let labels: Vec<String> = match listed {
                Some(s) => s.split(',').map(str::to_string).collect(),
                // Without the metadata: the labels present, in sorted order.
                None => arr
                    .iter()
                    .flatten()
                    .collect::<BTreeSet<&str>>()
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            };
            let mut level = Vec::with_capacity(arr.len());
            for (r, v) in arr.iter().enumerate() {
                level.push(match v {
                    None => NONE,
                    Some(v) => match labels.iter().position(|l| l == v) {
                        Some(i) => i as u8,
                        None => {
                            return Err(TabulateError::Value {
                                path: path.to_string(),
                                row: r + 1,
                                column: d.variable.clone(),
                                value: v.to_string(),
                                expected: format!("one of the bands {}", labels.join(",")),
                            });
                        }
                    },
                });
            }
            (labels, level)
        }
    };
    Ok(DomainRows {
        name: d.name.clone(),
        labels,
        level,
    })
}

/// The category-index lookup of an answer set: code (as u8) → position.
fn item_lut(q: &Questionnaire, item: &swvr_core::questionnaire::Item) -> Box<[u8; 256]> {
    let mut lut = Box::new([INVALID; 256]);
    for (i, c) in q.answer_set(item).codes.iter().enumerate() {
        lut[c.code as u8 as usize] = i as u8;
    }
    lut
}

/// Categories of an `any_yes` indicator.
const ANY_YES_CATEGORIES: [&str; 4] = ["yes", "no", "dk", "refused"];

/// The variables accumulated: every item, then every `any_yes` indicator.
/// Returns them with their output names and categories.
fn variables<'a>(
    batch: &'a RecordBatch,
    q: &Questionnaire,
    path: &str,
) -> Result<Vec<(String, Vec<String>, Var<'a>)>, TabulateError> {
    let mut vars = Vec::new();
    for item in q.items() {
        let col = int8(batch, &item.id, path)?;
        let cats: Vec<String> = q.answer_set(item).codes.iter().map(|c| c.category.clone()).collect();
        vars.push((
            item.id.clone(),
            cats.clone(),
            Var {
                k: cats.len(),
                source: Source::Item {
                    column: item.id.clone(),
                    col,
                    lut: item_lut(q, item),
                },
            },
        ));
    }
    for d in q.derived() {
        if let Derived::AnyYes { id, items, .. } = d {
            let mut parts = Vec::new();
            for it in items {
                let Some(item) = q.item(it) else {
                    return Err(column_err(path, it, "an item of the questionnaire"));
                };
                let mut lut = Box::new([INVALID; 256]);
                for c in &q.answer_set(item).codes {
                    lut[c.code as u8 as usize] = match c.category.as_str() {
                        "yes" => 0,
                        "no" => 1,
                        "dk" => 2,
                        _ => 3,
                    };
                }
                parts.push((it.clone(), int8(batch, it, path)?, lut));
            }
            vars.push((
                id.clone(),
                ANY_YES_CATEGORIES.iter().map(|s| s.to_string()).collect(),
                Var {
                    k: ANY_YES_CATEGORIES.len(),
                    source: Source::AnyYes { parts },
                },
            ));
        }
    }
    Ok(vars)
}

/// Tabulates an in-memory weighted batch (the columns of weighted.arrow).
pub fn tabulate_batch(batch: &RecordBatch, q: &Questionnaire, sel: &Selection) -> Result<Vec<Estimate>, TabulateError> {
    Ok(tabulate_batch_from(
        batch,
        q,
        sel,
        Path::new("<batch>"),
        &swvr_core::progress::NoProgress,
        None,
    )?
    .0)
}

/// [`tabulate_batch`] with the contrasts of contrasts.arrow ([`contrasts`]).
pub fn tabulate_batch_with_contrasts(
    batch: &RecordBatch,
    q: &Questionnaire,
    sel: &Selection,
) -> Result<(Vec<Estimate>, Vec<Contrast>), TabulateError> {
    tabulate_batch_from(
        batch,
        q,
        sel,
        Path::new("<batch>"),
        &swvr_core::progress::NoProgress,
        None,
    )
}

/// [`tabulate_batch_with_contrasts`] with replicate-weight variance: `se`,
/// intervals, `df` and `deff` of tables and contrasts from the replicate
/// weights `reps` (rows aligned with `batch`; [`replicate`]).
pub fn tabulate_batch_with_replicates(
    batch: &RecordBatch,
    q: &Questionnaire,
    sel: &Selection,
    reps: &dyn replicate::ReplicateWeights,
) -> Result<(Vec<Estimate>, Vec<Contrast>), TabulateError> {
    tabulate_batch_from(
        batch,
        q,
        sel,
        Path::new("<batch>"),
        &swvr_core::progress::NoProgress,
        Some(reps),
    )
}

/// Whether the weighted data's metadata asks for the fixed-weight variance
/// (neither calibrated nor replicate variance): the statistics are then
/// sums over cells and can be accumulated batch by batch ([`stream`]).
fn fixed_variance(md: &arrow_schema::Metadata) -> bool {
    swvr_core::replicates::ReplicateKind::from_weighted_metadata(md).is_none()
        && md.get(swvr_core::calibration::META_VARIANCE).map(String::as_str) != Some("calibrated")
}

fn tabulate_batch_from(
    batch: &RecordBatch,
    q: &Questionnaire,
    sel: &Selection,
    file: &Path,
    progress: &dyn Progress,
    reps: Option<&dyn replicate::ReplicateWeights>,
) -> Result<(Vec<Estimate>, Vec<Contrast>), TabulateError> {
    if reps.is_none() && fixed_variance(batch.schema().metadata()) {
        let path = file.display().to_string();
        let mut acc = stream::Accumulator::new(q, sel, &path);
        acc.push(0, batch)?;
        return emit_streamed(acc, q, &path);
    }
    tabulate_rows(batch, q, sel, file, progress, reps)
}

/// The estimates and contrasts of a finished [`stream::Accumulator`].
fn emit_streamed(
    acc: stream::Accumulator<'_>,
    q: &Questionnaire,
    path: &str,
) -> Result<(Vec<Estimate>, Vec<Contrast>), TabulateError> {
    let (groups, stats, domains, vars) = acc.finish()?;
    let (offsets, _) = engine::level_offsets(&domains);
    let prepared: Vec<engine::Prepared<'_>> = groups
        .iter()
        .map(|(g, combos, n_h)| engine::Prepared {
            group: g,
            rows: Vec::new(),
            weight: Vec::new(),
            start: Vec::new(),
            combos: combos.clone(),
            n_h: n_h.clone(),
            cal: None,
        })
        .collect();
    emit(&prepared, &stats, &vars, &domains, &offsets, q, None, path)
}

/// Tabulation over the rows of one in-memory batch (calibrated and
/// replicate variance, which need row-level inputs).
fn tabulate_rows(
    batch: &RecordBatch,
    q: &Questionnaire,
    sel: &Selection,
    file: &Path,
    progress: &dyn Progress,
    reps: Option<&dyn replicate::ReplicateWeights>,
) -> Result<(Vec<Estimate>, Vec<Contrast>), TabulateError> {
    let path = file.display().to_string();
    let groups = swvr_core::groups::group_by_country_wave(batch, file, sel)?;
    swvr_core::groups::require_selected_in(&groups, batch, file, sel)?;
    let wcol = batch
        .column_by_name("weight")
        .ok_or_else(|| column_err(&path, "weight", "a column of final weights (Float64)"))?;
    let weights = wcol
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| column_err(&path, "weight", &format!("type Float64, found {}", wcol.data_type())))?;
    for g in &groups {
        for &r in &g.rows {
            let r = r as usize;
            let w = if weights.is_null(r) { f64::NAN } else { weights.value(r) };
            if !(w.is_finite() && w > 0.0) {
                return Err(TabulateError::Value {
                    path: path.clone(),
                    row: r + 1,
                    column: "weight".into(),
                    value: if weights.is_null(r) {
                        "null".into()
                    } else {
                        w.to_string()
                    },
                    expected: "a finite weight > 0 (R drops zero-weight rows from n and df)".into(),
                });
            }
        }
    }
    let domains = domain_rows(batch, q, &path)?;
    let (offsets, n_levels) = engine::level_offsets(&domains);
    let vars = variables(batch, q, &path)?;
    let wvals = weights.values();
    let calib = swvr_core::calibration::BatchCalibration::from_batch(batch)
        .map_err(|e| column_err(&path, &e.column, &e.expected))?;
    let factor: Vec<f64> = match &calib {
        Some(c) if c.method == swvr_core::calibration::Residualise::Regression => c.start.clone(),
        Some(c) => vec![1.0; c.start.len()],
        None => Vec::new(),
    };
    let prepared: Vec<engine::Prepared<'_>> = groups
        .par_iter()
        .map(|g| {
            let cal = calib.as_ref().map(|c| engine::CalInput {
                cell: &c.cell,
                factor: &factor,
                calibrator: c.calibrator(&g.rows),
            });
            engine::prepare(g, wvals, &domains, cal)
        })
        .collect();
    let tasks: Vec<(usize, usize)> = (0..prepared.len())
        .flat_map(|g| (0..vars.len()).map(move |v| (g, v)))
        .collect();
    progress.start("tabulate", Some(tasks.len() as u64), swvr_core::progress::Unit::Tasks);
    let stats: Vec<LevelStats> = tasks
        .par_iter()
        .map(|&(g, v)| {
            let s = engine::accumulate(&prepared[g], &vars[v].2, n_levels).map_err(|e| e.with_path(&path));
            progress.advance(1);
            s
        })
        .collect::<Result<_, _>>()?;
    progress.finish();
    let rep = match reps {
        Some(reps) => {
            let designs: Vec<replicate::RepDesign> = prepared
                .iter()
                .map(|p| {
                    reps.design(&p.group.country, p.group.wave).ok_or_else(|| {
                        column_err(
                            &path,
                            "rep_1",
                            &format!(
                                "a replicate design for {} {} (replicate variance)",
                                p.group.country, p.group.wave
                            ),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            let groups: Vec<&Group> = prepared.iter().map(|p| p.group).collect();
            let var_refs: Vec<&Var<'_>> = vars.iter().map(|v| &v.2).collect();
            let sums = replicate::accumulate(&groups, &designs, &var_refs, &domains, n_levels, batch.num_rows(), reps)
                .map_err(|e| e.with_path(&path))?;
            Some((designs, sums))
        }
        None => None,
    };
    let meta: Vec<(String, Vec<String>)> = vars.iter().map(|v| (v.0.clone(), v.1.clone())).collect();
    emit(&prepared, &stats, &meta, &domains, &offsets, q, rep.as_ref(), &path)
}

/// Replicate designs and per-variable replicate statistics of each group.
type RepSums = (Vec<replicate::RepDesign>, Vec<Vec<replicate::RepStats>>);

/// tables.arrow's rows and the contrasts from the statistics of every
/// (group, variable): `stats[g · vars.len() + v]`.
#[allow(clippy::too_many_arguments)]
fn emit(
    prepared: &[engine::Prepared<'_>],
    stats: &[LevelStats],
    vars: &[(String, Vec<String>)],
    domains: &[DomainRows],
    offsets: &[usize],
    q: &Questionnaire,
    rep: Option<&RepSums>,
    path: &str,
) -> Result<(Vec<Estimate>, Vec<Contrast>), TabulateError> {
    let mut out = Vec::new();
    for (gi, p) in prepared.iter().enumerate() {
        let stat = |v: usize| &stats[gi * vars.len() + v];
        let ctx = Ctx {
            group: p.group,
            n_h: &p.n_h,
            domains,
            offsets,
            cal: p.cal.as_ref(),
            rep: rep.map(|(d, s)| (&d[gi], s[gi].as_slice())),
        };
        for (v, (name, cats)) in vars.iter().enumerate().take(q.items().len()) {
            ctx.emit_shares(name, cats, stat(v), v, &mut out);
        }
        let mut next_any = q.items().len();
        for d in q.derived() {
            match d {
                Derived::AnyYes { id, .. } => {
                    ctx.emit_shares(id, &vars[next_any].1, stat(next_any), next_any, &mut out);
                    next_any += 1;
                }
                Derived::Net {
                    id, item, plus, minus, ..
                } => {
                    let Some(v) = q.item_index(item) else {
                        return Err(column_err(path, item, "an item of the questionnaire"));
                    };
                    ctx.emit_net(id, &net_outcome(&vars[v].1, plus, minus), stat(v), v, &mut out);
                }
            }
        }
    }
    let cats: Vec<Vec<String>> = vars.iter().map(|v| v.1.clone()).collect();
    let rep_view: Option<Vec<(&replicate::RepDesign, &[replicate::RepStats])>> =
        rep.map(|(d, s)| d.iter().zip(s).map(|(d, s)| (d, s.as_slice())).collect());
    let mut contrasts = contrasts::level_contrasts(prepared, stats, &cats, q, domains, offsets, rep_view.as_deref());
    contrasts.extend(contrasts::wave_contrasts(&out));
    Ok((out, contrasts))
}

struct Ctx<'a> {
    group: &'a Group,
    n_h: &'a [u64],
    domains: &'a [DomainRows],
    offsets: &'a [usize],
    cal: Option<&'a engine::PreparedCal>,
    /// Replicate variance: the group's design and per-variable totals.
    rep: Option<(&'a replicate::RepDesign, &'a [replicate::RepStats])>,
}

/// The replicate part of one estimate: variance, df and, for a share, the
/// variance of its logit.
pub(crate) struct RepInference {
    /// Replicate variance of the estimate (NaN when no replicate defines it).
    pub variance: f64,
    /// Degrees of freedom.
    pub df: i64,
    /// Replicate variance of logit(estimate), when every defined replicate
    /// share lies strictly between 0 and 1.
    pub logit_variance: Option<f64>,
}

/// Replicate inference of the mean of `y` in `level` (estimate `m`, `n` respondents).
pub(crate) fn rep_infer(
    design: &replicate::RepDesign,
    stats: &replicate::RepStats,
    level: usize,
    y: &[f64],
    m: f64,
    n: u64,
) -> RepInference {
    let thetas = stats.thetas(level, y);
    let variance = design.variance(&thetas, m).unwrap_or(f64::NAN);
    let logit_variance = if m > 0.0 && m < 1.0 && thetas.iter().all(|t| !t.is_finite() || (*t > 0.0 && *t < 1.0)) {
        let logits: Vec<f64> = thetas.iter().map(|t| (t / (1.0 - t)).ln()).collect();
        design.variance(&logits, (m / (1.0 - m)).ln())
    } else {
        None
    };
    RepInference {
        variance,
        df: design.df(n),
        logit_variance,
    }
}

impl Ctx<'_> {
    /// The estimate of outcome `y` in `level`, with the variance method's inference.
    fn infer(&self, stats: &LevelStats, level: usize, y: &[f64]) -> engine::Inference {
        match self.cal {
            Some(cal) => stats.infer_calibrated(level, y, self.n_h, cal),
            None => stats.infer(level, y, self.n_h),
        }
    }

    fn variance_method(&self) -> &'static str {
        match (self.rep, self.cal) {
            (Some((d, _)), _) => d.method(),
            (None, Some(_)) => "calibrated",
            (None, None) => "fixed",
        }
    }

    /// (domain, level label, flat level index) in output order.
    fn levels(&self) -> Vec<(&str, &str, usize)> {
        let mut v = vec![("total", "total", 0)];
        for (d, off) in self.domains.iter().zip(self.offsets) {
            for (i, l) in d.labels.iter().enumerate() {
                v.push((d.name.as_str(), l.as_str(), off + i));
            }
        }
        v
    }

    fn row(&self, item: &str, domain: &str, level: &str, category: &str) -> Estimate {
        Estimate {
            country: self.group.country.clone(),
            wave: self.group.wave,
            item: item.to_string(),
            domain: domain.to_string(),
            domain_level: level.to_string(),
            category: category.to_string(),
            n: 0,
            n_category: 0,
            estimate: 0.0,
            se: 0.0,
            ci_low: None,
            ci_high: None,
            deff: None,
            df: 0,
            ci_method: CiMethod::None,
            variance_method: self.variance_method(),
        }
    }

    fn emit_shares(&self, item: &str, cats: &[String], stats: &LevelStats, v: usize, out: &mut Vec<Estimate>) {
        for (domain, level, l) in self.levels() {
            if stats.n(l) == 0 {
                continue;
            }
            // One t quantile per level: n and the strata present are the
            // same for every category.
            let mut t: Option<Option<f64>> = None;
            for (k, cat) in cats.iter().enumerate() {
                let mut y = vec![0.0; cats.len()];
                y[k] = 1.0;
                let mut inf = self.infer(stats, l, &y);
                let mut df = inf.n as i64 - inf.strata as i64;
                let mut logit_se = None;
                if let Some((design, rs)) = self.rep {
                    let r = rep_infer(design, &rs[v], l, &y, inf.estimate, inf.n);
                    inf.variance = r.variance;
                    df = r.df;
                    logit_se = r.logit_variance.map(f64::sqrt);
                }
                let se = inf.variance.sqrt();
                let p = inf.estimate;
                let (ci, method) = if p <= 0.0 || p >= 1.0 {
                    (
                        Some(interval::korn_graubard_degenerate(p, inf.n, df as f64)),
                        CiMethod::KornGraubard,
                    )
                } else {
                    let t = *t.get_or_insert_with(|| interval::t_quantile(df as f64));
                    let ci = t.map(|t| match logit_se {
                        // svyciprop on a replicate design: the replicates of logit(p).
                        Some(ls) => interval::logit_interval_logit_se(p, ls, t),
                        None => interval::logit_interval_t(p, se, t),
                    });
                    match ci {
                        Some(ci) => (Some(ci), CiMethod::Logit),
                        None => (None, CiMethod::None),
                    }
                };
                let mut e = self.row(item, domain, level, cat);
                e.n = inf.n;
                e.n_category = stats.n_category(l, k);
                e.estimate = p;
                e.se = se;
                e.ci_low = ci.map(|c| c.0);
                e.ci_high = ci.map(|c| c.1);
                e.deff = deff(&inf);
                e.df = df;
                e.ci_method = method;
                out.push(e);
            }
        }
    }

    fn emit_net(&self, id: &str, y: &[f64], stats: &LevelStats, v: usize, out: &mut Vec<Estimate>) {
        for (domain, level, l) in self.levels() {
            if stats.n(l) == 0 {
                continue;
            }
            let mut inf = self.infer(stats, l, y);
            let mut df = inf.n as i64 - inf.strata as i64;
            if let Some((design, rs)) = self.rep {
                let r = rep_infer(design, &rs[v], l, y, inf.estimate, inf.n);
                inf.variance = r.variance;
                df = r.df;
            }
            let se = inf.variance.sqrt();
            let ci = interval::wald_interval(inf.estimate, se, df as f64);
            let mut e = self.row(id, domain, level, "net");
            e.n = inf.n;
            e.n_category = y
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(k, _)| stats.n_category(l, k))
                .sum();
            e.estimate = inf.estimate;
            e.se = se;
            e.ci_low = ci.map(|c| c.0);
            e.ci_high = ci.map(|c| c.1);
            e.deff = deff(&inf);
            e.df = df;
            e.ci_method = if ci.is_some() { CiMethod::Wald } else { CiMethod::None };
            out.push(e);
        }
    }
}

/// The outcome of a net indicator on its item's categories: 1 for `plus`,
/// −1 for `minus`, 0 for every other category (tables and contrasts).
pub(crate) fn net_outcome(cats: &[String], plus: &str, minus: &str) -> Vec<f64> {
    cats.iter()
        .map(|c| {
            if c == plus {
                1.0
            } else if c == minus {
                -1.0
            } else {
                0.0
            }
        })
        .collect()
}

fn deff(inf: &engine::Inference) -> Option<f64> {
    inf.v_srs.filter(|v| *v > 0.0).map(|v| inf.variance / v)
}

/// The columns tabulation reads (from weighted.arrow and respondents.arrow;
/// with calibrated variance also those of
/// `swvr_core::calibration::columns_in_file`).
pub fn input_columns(q: &Questionnaire) -> Vec<&str> {
    let mut columns: Vec<&str> = vec!["country", "wave", "stratum", "weight"];
    columns.extend(q.domains().iter().map(|d| d.variable.as_str()));
    columns.extend(q.items().iter().map(|i| i.id.as_str()));
    columns
}

/// Reads `out/weight/weighted.arrow` with `out/ingest/respondents.arrow`
/// ([`swvr_core::handoff::for_each_weighted`], batch by batch for the
/// fixed-weight variance; [`swvr_core::handoff::read_weighted`] for
/// calibrated and replicate variance), writes `out/tabulate/`
/// (tables.arrow, tables.csv, contrasts.arrow, report.md).
pub fn tabulate(
    out: &Path,
    q: &Questionnaire,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<TabulateSummary, TabulateError> {
    // Only the columns tables use are read: the weights and age groups from
    // weighted.arrow, the answers from respondents.arrow, row-aligned (and,
    // for calibrated variance, the calibration columns the file names).
    let extra = swvr_core::calibration::columns_in_file(&out.join(swvr_core::handoff::WEIGHTED_FILE));
    let mut columns = input_columns(q);
    columns.extend(extra.iter().map(String::as_str));
    let (schema, source) = swvr_core::handoff::weighted_schema(out, &columns)?;
    if streams(&schema, q) {
        let total = swvr_core::io::arrow_rows(&out.join(swvr_core::handoff::WEIGHTED_FILE))?;
        progress.start("tabulate", Some(total), swvr_core::progress::Unit::Rows);
        let mut s = Streaming::new(q, sel, &source);
        swvr_core::handoff::for_each_weighted(out, &columns, |b| -> Result<(), TabulateError> {
            s.push(s.rows(), &b)?;
            progress.advance(b.num_rows() as u64);
            Ok(())
        })?;
        progress.finish();
        return s.finish(out, &schema);
    }
    let joined = swvr_core::handoff::read_weighted(out, &columns)?;
    tabulate_into(out, &joined.batch, &joined.source, q, sel, progress)
}

/// Whether data of `schema` (the columns [`input_columns`] names) can be
/// tabulated batch by batch with [`Streaming`]: fixed-weight variance (no
/// calibrated or replicate variance, which need row-level inputs) and the
/// levels of every banded domain listed in its field metadata.
pub fn streams(schema: &arrow_schema::Schema, q: &Questionnaire) -> bool {
    fixed_variance(schema.metadata())
        && q.domains().iter().all(|d| match d.levels {
            Levels::Codes(_) => true,
            Levels::Bands(_) => schema
                .field_with_name(&d.variable)
                .ok()
                .and_then(|f| f.metadata().get(swvr_core::LEVELS_KEY))
                .is_some_and(|s| !s.is_empty()),
        })
}

/// Tabulation fed batch by batch (fixed-weight variance; see [`streams`]):
/// only the per-cell sums are kept, so memory does not grow with the rows.
/// `swvr run` feeds it and the model from one read of the inputs.
pub struct Streaming<'q> {
    acc: stream::Accumulator<'q>,
    q: &'q Questionnaire,
    path: String,
}

impl<'q> Streaming<'q> {
    /// A tabulation of the rows of `sel`, read from `source` (named in errors).
    pub fn new(q: &'q Questionnaire, sel: &Selection, source: &Path) -> Self {
        let path = source.display().to_string();
        Streaming {
            acc: stream::Accumulator::new(q, sel, &path),
            q,
            path,
        }
    }

    /// Adds `batch` (at least the columns of [`input_columns`]), whose first
    /// row is data row `first_row + 1` of the input.
    pub fn push(&mut self, first_row: u64, batch: &RecordBatch) -> Result<(), TabulateError> {
        self.acc.push(first_row, batch)
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.acc.rows()
    }

    /// The estimates and contrasts of the rows pushed.
    pub fn estimates(self) -> Result<(Vec<Estimate>, Vec<Contrast>), TabulateError> {
        emit_streamed(self.acc, self.q, &self.path)
    }

    /// Writes `out/tabulate/` from the rows pushed; `input` is the schema
    /// of the batches (its metadata is the weighted data's provenance).
    pub fn finish(self, out: &Path, input: &arrow_schema::Schema) -> Result<TabulateSummary, TabulateError> {
        let q = self.q;
        let (estimates, contrasts) = self.estimates()?;
        write_outputs(out, &estimates, &contrasts, q, input)
    }
}

/// Tabulates `batch` (read from `input`, with at least [`input_columns`]) and
/// writes `out/tabulate/`.
pub fn tabulate_into(
    out: &Path,
    batch: &RecordBatch,
    input: &Path,
    q: &Questionnaire,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<TabulateSummary, TabulateError> {
    // Replicate variance: weighted.arrow's metadata names the method, the
    // replicate weights are streamed from out/weight/replicates.arrow.
    let file_reps = match swvr_core::replicates::ReplicateKind::from_weighted_metadata(batch.schema().metadata()) {
        Some(_) => Some(replicate::FileReplicates::open(out)?),
        None => None,
    };
    let reps = file_reps.as_ref().map(|r| r as &dyn replicate::ReplicateWeights);
    let (estimates, contrasts) = tabulate_batch_from(batch, q, sel, input, progress, reps)?;
    write_outputs(out, &estimates, &contrasts, q, &batch.schema())
}

/// Writes `out/tabulate/` (tables.arrow, tables.csv, contrasts.arrow,
/// report.md); `input` is the weighted data's schema (provenance).
fn write_outputs(
    out: &Path,
    estimates: &[Estimate],
    contrasts: &[Contrast],
    q: &Questionnaire,
    input: &arrow_schema::Schema,
) -> Result<TabulateSummary, TabulateError> {
    let def = report::ReportDef::default_2021()?;
    let dir = out.join(swvr_core::stages::TABULATE);
    output::write_arrow(
        &swvr_core::stages::path(out, swvr_core::stages::TABLES),
        estimates,
        q,
        input,
    )?;
    output::write_csv(&swvr_core::stages::path(out, swvr_core::stages::TABLES_CSV), estimates)?;
    contrasts::write_arrow(
        &swvr_core::stages::path(out, swvr_core::stages::CONTRASTS),
        contrasts,
        q,
        input,
    )?;
    let (md, within) = report::render(&def, estimates);
    swvr_core::io::write_atomic(&dir.join("report.md"), md.as_bytes())?;
    let groups: BTreeSet<(&str, i32)> = estimates.iter().map(|e| (e.country.as_str(), e.wave)).collect();
    Ok(TabulateSummary {
        estimates: estimates.len() as u64,
        groups: groups.len() as u64,
        published_within: within,
    })
}
