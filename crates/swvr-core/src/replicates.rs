//! Replicate weights (`[variance] method = "jackknife" | "bootstrap"`): the
//! hand-off between the weight stage, which writes
//! `weight/replicates.arrow`, and the stages that compute replicate
//! standard errors from it (tabulate, contrasts, model, export).
//!
//! # The file
//! `weight/replicates.arrow` ([`crate::stages::REPLICATES`]) has the columns
//! `country` (Utf8), `wave` (Int32), `respondent_id` (Utf8) and
//! `rep_1 … rep_R` (Float64, non-null), one row per row of
//! `weight/weighted.arrow`, **in the same order** (the keys are checked by
//! the readers here, as [`crate::handoff`] checks weighted.arrow against
//! respondents.arrow). `rep_r` is the final weight of replicate `r`: the
//! replicate factor times the base weight, sent again through the whole
//! weighting chain (imputation, raking or calibration, trimming) and, like
//! `weight`, summing to n within the (country, wave).
//!
//! Its schema metadata says how to turn replicate estimates into a variance
//! (R's `svrepdesign(type, scale, rscales, mse)`):
//!
//! | key | value |
//! |---|---|
//! | [`META_TYPE`] `swvr.replicates.type` | `JKn` or `bootstrap` ([`ReplicateKind::r_type`]) |
//! | [`META_SCALE`] `swvr.replicates.scale` | the overall scale (`1` for JKn, `1/(R−1)` for the bootstrap), shortest round-trip decimal |
//! | [`META_MSE`] `swvr.replicates.mse` | `true`: deviations from the full-sample estimate; `false` (swvr's choice, R's default): from the mean of the replicates with `rscale > 0` |
//! | [`META_COUNT`] `swvr.replicates.count` | `R`, the number of `rep_` columns |
//! | [`META_GROUPS`] `swvr.replicates.groups` | JSON object keyed `"BOL/2021"`: `{"replicates": R_g, "rscales": [R numbers]}` per (country, wave) |
//!
//! Country-waves may need fewer replicates than the file has columns (the
//! jackknife's count follows the strata): the columns after their own
//! `R_g` hold the full-sample weight and have `rscale` 0, so they add
//! nothing to any variance, and R's `svrVar` (which centres on the mean of
//! the replicates with `rscales > 0`) gives the same answer with or without
//! them. In R, for one country-wave:
//!
//! ```r
//! g  <- jsonlite::fromJSON(md[["swvr.replicates.groups"]])[["BOL/2021"]]
//! d  <- svrepdesign(data = bol, weights = ~weight, repweights = "rep_[0-9]+",
//!                   type = "JKn", scale = 1, rscales = g$rscales, mse = FALSE,
//!                   combined.weights = TRUE)
//! ```
//!
//! weighted.arrow records the method in its own schema metadata:
//! [`crate::calibration::META_VARIANCE`] = `jackknife` or `bootstrap`
//! ([`ReplicateKind::variance_name`]), so a later stage knows to look for
//! replicates.arrow ([`ReplicateKind::from_weighted_metadata`]).
//!
//! # Variance
//! [`ReplicateDesign::variance`] is R's `survey:::svrVar`:
//! `v = scale · Σ_r rscale_r (θ_r − c)²` with `c` the full-sample estimate
//! when `mse`, else the mean of the `θ_r` whose `rscale_r > 0`.
//!
//! # Reading
//! [`for_each_batch`] streams the file batch by batch (a 10⁷ × 100 matrix
//! is never in memory), each batch with its first row in weighted.arrow
//! and the replicate columns as slices; [`read_group`] reads the replicate
//! weights of one (country, wave) only, when a caller wants them all at once.
//!
//! ```
//! use swvr_core::replicates::{ReplicateDesign, ReplicateKind};
//! let d = ReplicateDesign { kind: ReplicateKind::Bootstrap, scale: 1.0 / 3.0, rscales: vec![1.0; 4], mse: false };
//! // mean of the θ_r is 2.5: ((1.5² + 0.5²)·2)/3
//! assert!((d.variance(&[1.0, 2.0, 3.0, 4.0], 2.4) - 5.0 / 3.0).abs() < 1e-15);
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use arrow_array::{Array, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Metadata, Schema};

use crate::io::{IoError, arrow_rows, arrow_schema, column};

/// Schema-metadata key of replicates.arrow: `JKn` or `bootstrap` (R's `type`).
pub const META_TYPE: &str = "swvr.replicates.type";
/// Schema-metadata key: the overall scale of the variance (R's `scale`).
pub const META_SCALE: &str = "swvr.replicates.scale";
/// Schema-metadata key: `true` or `false` (R's `mse`).
pub const META_MSE: &str = "swvr.replicates.mse";
/// Schema-metadata key: the number of `rep_` columns.
pub const META_COUNT: &str = "swvr.replicates.count";
/// Schema-metadata key: JSON object keyed `"COUNTRY/WAVE"`, each
/// `{"replicates": R_g, "rscales": [R numbers]}`.
pub const META_GROUPS: &str = "swvr.replicates.groups";
/// Prefix of the replicate weight columns (`rep_1`, `rep_2`, …).
pub const COLUMN_PREFIX: &str = "rep_";

/// The name of replicate column `r` (0-based): `rep_{r+1}`.
pub fn column_name(r: usize) -> String {
    format!("{COLUMN_PREFIX}{}", r + 1)
}

/// The key of a (country, wave) in [`META_GROUPS`]: `BOL/2021`.
pub fn group_key(country: &str, wave: i32) -> String {
    format!("{country}/{wave}")
}

/// The kind of replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicateKind {
    /// Stratified delete-one (or delete-a-group) jackknife, R's `JKn`.
    Jackknife,
    /// Rao–Wu rescaling bootstrap within strata, R's `subbootstrap`
    /// (`svrepdesign(type = "bootstrap")` with swvr's scale and rscales).
    Bootstrap,
}

impl ReplicateKind {
    /// The `type` of R's `svrepdesign` ([`META_TYPE`]): `JKn` or `bootstrap`.
    pub fn r_type(self) -> &'static str {
        match self {
            ReplicateKind::Jackknife => "JKn",
            ReplicateKind::Bootstrap => "bootstrap",
        }
    }

    /// The variance method's name in the scheme and in weighted.arrow's
    /// [`crate::calibration::META_VARIANCE`]: `jackknife` or `bootstrap`.
    pub fn variance_name(self) -> &'static str {
        match self {
            ReplicateKind::Jackknife => "jackknife",
            ReplicateKind::Bootstrap => "bootstrap",
        }
    }

    /// From [`ReplicateKind::r_type`]'s text.
    pub fn from_r_type(s: &str) -> Option<Self> {
        match s {
            "JKn" => Some(ReplicateKind::Jackknife),
            "bootstrap" => Some(ReplicateKind::Bootstrap),
            _ => None,
        }
    }

    /// The replicate kind recorded in weighted.arrow's schema metadata
    /// (`swvr.variance` = `jackknife` or `bootstrap`), if any: then the
    /// standard errors come from replicates.arrow.
    pub fn from_weighted_metadata(md: &Metadata) -> Option<Self> {
        match md.get(crate::calibration::META_VARIANCE).map(String::as_str) {
            Some("jackknife") => Some(ReplicateKind::Jackknife),
            Some("bootstrap") => Some(ReplicateKind::Bootstrap),
            _ => None,
        }
    }
}

/// How to turn the replicate estimates of one (country, wave) into a
/// variance: R's `svrepdesign(type, scale, rscales, mse)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicateDesign {
    /// Jackknife or bootstrap.
    pub kind: ReplicateKind,
    /// Overall scale.
    pub scale: f64,
    /// One per replicate column (0 for a padding column).
    pub rscales: Vec<f64>,
    /// Centre on the full-sample estimate (true) or on the mean of the
    /// replicates with `rscale > 0` (false).
    pub mse: bool,
}

impl ReplicateDesign {
    /// Number of replicate columns.
    pub fn replicates(&self) -> usize {
        self.rscales.len()
    }

    /// The centre of the deviations: `full` when `mse`, else the mean of the
    /// `thetas` whose rscale is positive (survey's `svrVar`).
    fn centre(&self, thetas: &[f64], full: f64) -> f64 {
        if self.mse {
            return full;
        }
        let mut s = crate::sum::Neumaier::new();
        let mut k = 0usize;
        for (&t, &r) in thetas.iter().zip(&self.rscales) {
            if r > 0.0 {
                s.add(t);
                k += 1;
            }
        }
        if k == 0 { full } else { s.total() / k as f64 }
    }

    /// Replicate variance of one statistic, R's `svrVar`:
    /// `scale · Σ_r rscale_r (θ_r − c)²`, `c` the full-sample estimate
    /// `full` when `mse`, else the mean of the `θ_r` with `rscale_r > 0`.
    /// `thetas` has one estimate per replicate column.
    pub fn variance(&self, thetas: &[f64], full: f64) -> f64 {
        self.covariance(thetas, full, thetas, full)
    }

    /// [`ReplicateDesign::variance`] with R's `na.action` in `svrVar`:
    /// replicates whose estimate is not finite (a replicate that gives a
    /// domain no weight, so its mean is 0/0) are dropped with their rscale
    /// before centring and summing; `None` when no replicate is left.
    ///
    /// ```
    /// use swvr_core::replicates::{ReplicateDesign, ReplicateKind};
    /// let d = ReplicateDesign { kind: ReplicateKind::Jackknife, scale: 1.0, rscales: vec![0.5; 3], mse: false };
    /// // R: svrVar(c(1, NA, 3), 1, rep(0.5, 3)) drops the NA: 0.5·(1 + 1)
    /// assert_eq!(d.variance_defined(&[1.0, f64::NAN, 3.0], 2.0), Some(1.0));
    /// assert_eq!(d.variance_defined(&[f64::NAN; 3], 2.0), None);
    /// ```
    pub fn variance_defined(&self, thetas: &[f64], full: f64) -> Option<f64> {
        if thetas.iter().all(|t| t.is_finite()) {
            return Some(self.variance(thetas, full));
        }
        let (t, r): (Vec<f64>, Vec<f64>) = thetas
            .iter()
            .zip(&self.rscales)
            .filter(|(t, _)| t.is_finite())
            .map(|(&t, &r)| (t, r))
            .unzip();
        if t.is_empty() {
            return None;
        }
        let kept = ReplicateDesign {
            rscales: r,
            ..self.clone()
        };
        Some(kept.variance(&t, full))
    }

    /// Replicate covariance of two statistics (the off-diagonal of R's
    /// `svrVar` on a two-column `thetas`):
    /// `scale · Σ_r rscale_r (a_r − c_a)(b_r − c_b)`.
    pub fn covariance(&self, a: &[f64], a_full: f64, b: &[f64], b_full: f64) -> f64 {
        let (ca, cb) = (self.centre(a, a_full), self.centre(b, b_full));
        let mut s = crate::sum::Neumaier::new();
        for ((&x, &y), &r) in a.iter().zip(b).zip(&self.rscales) {
            s.add(r * (x - ca) * (y - cb));
        }
        self.scale * s.total()
    }
}

/// Degrees of freedom of a domain of `n` respondents of a replicate design
/// with `columns` distinct replicate columns: R's `degf()` of the subset
/// design is the numerical rank of the domain's replicate weights minus one,
/// and for generic replicate weights (re-weighted per replicate, or a
/// bootstrap) that `n × columns` matrix has rank `min(n, columns)`.
///
/// ```
/// assert_eq!(swvr_core::replicates::degf_generic(500, 101), 100);
/// assert_eq!(swvr_core::replicates::degf_generic(20, 101), 19);
/// ```
pub fn degf_generic(n: u64, columns: usize) -> i64 {
    n.min(columns as u64) as i64 - 1
}

/// The replicates of one (country, wave) in [`META_GROUPS`].
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMeta {
    /// Replicates the country-wave has (the columns after them are padding).
    pub replicates: usize,
    /// One rscale per column of the file.
    pub rscales: Vec<f64>,
}

/// Everything replicates.arrow's schema metadata says.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicateMeta {
    /// Jackknife or bootstrap.
    pub kind: ReplicateKind,
    /// Overall scale.
    pub scale: f64,
    /// R's `mse`.
    pub mse: bool,
    /// Number of `rep_` columns.
    pub count: usize,
    /// Per (country, wave).
    pub groups: BTreeMap<(String, i32), GroupMeta>,
}

impl ReplicateMeta {
    /// The design of one (country, wave), if the file has it.
    pub fn design(&self, country: &str, wave: i32) -> Option<ReplicateDesign> {
        self.groups.get(&(country.to_string(), wave)).map(|g| ReplicateDesign {
            kind: self.kind,
            scale: self.scale,
            rscales: g.rscales.clone(),
            mse: self.mse,
        })
    }

    /// The design of one (country, wave) restricted to its own replicate
    /// columns (the first `replicates`; the padding columns after them hold
    /// the full-sample weight with rscale 0 and add nothing to a variance),
    /// with the number of distinct replicate columns R's `degf()` sees on
    /// the country-wave's rows: its own, plus one for the padding columns
    /// (all equal) when there are any.
    pub fn own_design(&self, country: &str, wave: i32) -> Option<(ReplicateDesign, usize)> {
        let g = self.groups.get(&(country.to_string(), wave))?;
        let own = g.replicates.min(g.rscales.len());
        let design = ReplicateDesign {
            kind: self.kind,
            scale: self.scale,
            rscales: g.rscales[..own].to_vec(),
            mse: self.mse,
        };
        Some((design, own + usize::from(own < self.count)))
    }

    /// The schema-metadata entries (keys [`META_TYPE`] … [`META_GROUPS`]).
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        let groups: serde_json::Map<String, serde_json::Value> = self
            .groups
            .iter()
            .map(|((c, w), g)| {
                (
                    group_key(c, *w),
                    serde_json::json!({ "replicates": g.replicates, "rscales": g.rscales }),
                )
            })
            .collect();
        vec![
            (META_TYPE.into(), self.kind.r_type().into()),
            (META_SCALE.into(), format!("{:?}", self.scale)),
            (META_MSE.into(), self.mse.to_string()),
            (META_COUNT.into(), self.count.to_string()),
            (META_GROUPS.into(), serde_json::Value::Object(groups).to_string()),
        ]
    }

    /// Parses the schema metadata of replicates.arrow at `path`.
    pub fn from_metadata(md: &Metadata, path: &Path) -> Result<Self, ReplicateError> {
        let bad = |key: &str, expected: &str| ReplicateError::Metadata {
            path: path.to_path_buf(),
            key: key.into(),
            expected: expected.into(),
        };
        let get = |key: &str, expected: &str| md.get(key).ok_or_else(|| bad(key, expected));
        let kind = ReplicateKind::from_r_type(get(META_TYPE, "`JKn` or `bootstrap`")?)
            .ok_or_else(|| bad(META_TYPE, "`JKn` or `bootstrap`"))?;
        let scale: f64 = get(META_SCALE, "a number > 0")?
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s > 0.0)
            .ok_or_else(|| bad(META_SCALE, "a number > 0"))?;
        let mse = match get(META_MSE, "`true` or `false`")?.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad(META_MSE, "`true` or `false`")),
        };
        let count: usize = get(META_COUNT, "a whole number ≥ 1")?
            .parse()
            .ok()
            .filter(|&c| c >= 1)
            .ok_or_else(|| bad(META_COUNT, "a whole number ≥ 1"))?;
        let expected_groups = format!(
            "a JSON object keyed \"COUNTRY/WAVE\", each {{\"replicates\": 1 to {count}, \"rscales\": [{count} numbers ≥ 0]}}"
        );
        let json: serde_json::Value = serde_json::from_str(get(META_GROUPS, &expected_groups)?)
            .map_err(|_| bad(META_GROUPS, &expected_groups))?;
        let obj = json.as_object().ok_or_else(|| bad(META_GROUPS, &expected_groups))?;
        let mut groups = BTreeMap::new();
        for (k, v) in obj {
            let key = k
                .rsplit_once('/')
                .and_then(|(c, w)| Some((c.to_string(), w.parse::<i32>().ok()?)))
                .ok_or_else(|| bad(META_GROUPS, &format!("{expected_groups} (key `{k}`)")))?;
            let reps = v
                .get("replicates")
                .and_then(serde_json::Value::as_u64)
                .map(|r| r as usize)
                .filter(|&r| (1..=count).contains(&r));
            let rscales: Option<Vec<f64>> = v.get("rscales").and_then(|r| r.as_array()).and_then(|a| {
                a.iter()
                    .map(|x| x.as_f64().filter(|x| x.is_finite() && *x >= 0.0))
                    .collect()
            });
            match (reps, rscales) {
                (Some(replicates), Some(rscales)) if rscales.len() == count => {
                    groups.insert(key, GroupMeta { replicates, rscales });
                }
                _ => return Err(bad(META_GROUPS, &format!("{expected_groups} (at `{k}`)"))),
            }
        }
        Ok(ReplicateMeta {
            kind,
            scale,
            mse,
            count,
            groups,
        })
    }

    /// The schema of replicates.arrow: keys, `rep_1 … rep_R`, this metadata
    /// and the swvr schema version.
    pub fn schema(&self) -> Schema {
        let mut fields = vec![
            Field::new("country", DataType::Utf8, false),
            Field::new("wave", DataType::Int32, false),
            Field::new("respondent_id", DataType::Utf8, false),
        ];
        fields.extend((0..self.count).map(|r| Field::new(column_name(r), DataType::Float64, false)));
        let md: Metadata = self.to_metadata().into_iter().collect();
        crate::io::with_version(Schema::new_with_metadata(fields, md))
    }
}

/// A replicates.arrow that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    /// Reading failed, or a column is missing or of the wrong type.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A metadata entry is missing or malformed.
    #[error("{path}: schema metadata `{key}`: expected {expected}; run `swvr weight` again")]
    Metadata {
        /// replicates.arrow.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What was expected.
        expected: String,
    },
    /// The two files do not have the same number of rows.
    #[error(
        "{replicates} has {found} rows but {weighted} has {expected}: replicates.arrow must have one row per row of weighted.arrow; run `swvr weight` again"
    )]
    RowCount {
        /// replicates.arrow.
        replicates: PathBuf,
        /// weighted.arrow.
        weighted: PathBuf,
        /// Rows of replicates.arrow.
        found: u64,
        /// Rows of weighted.arrow.
        expected: u64,
    },
    /// A row's keys differ from weighted.arrow's row.
    #[error(
        "{replicates}: row {row} is {key}, but row {row} of {weighted} is {found}: replicates.arrow must hold the rows of weighted.arrow in their order; run `swvr weight` again"
    )]
    Misaligned {
        /// replicates.arrow.
        replicates: PathBuf,
        /// weighted.arrow.
        weighted: PathBuf,
        /// Data row (1 = first).
        row: u64,
        /// Its (country, wave, respondent_id).
        key: String,
        /// weighted.arrow's key there.
        found: String,
    },
    /// A replicate weight that is not a finite number ≥ 0.
    #[error("{path}: row {row}, column `{column}`: {value} is not a weight (expected a finite number >= 0)")]
    BadWeight {
        /// replicates.arrow.
        path: PathBuf,
        /// Data row (1 = first).
        row: u64,
        /// The column.
        column: String,
        /// The value.
        value: f64,
    },
    /// The requested (country, wave) is not in the file.
    #[error("{path}: no replicate weights for {country} {wave} (the file has {have})")]
    NoGroup {
        /// replicates.arrow.
        path: PathBuf,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// The country-waves the file has.
        have: String,
    },
}

/// Reads the metadata of `out/weight/replicates.arrow`.
pub fn read_meta(out: &Path) -> Result<ReplicateMeta, ReplicateError> {
    let path = crate::stages::path(out, crate::stages::REPLICATES);
    let schema = arrow_schema(&path)?;
    ReplicateMeta::from_metadata(schema.metadata(), &path)
}

/// One batch of replicates.arrow, row-aligned with weighted.arrow.
#[derive(Debug)]
pub struct ReplicateBatch<'a> {
    /// Row of weighted.arrow (0-based) of the batch's first row.
    pub first_row: u64,
    /// `country` of each row.
    pub country: &'a StringArray,
    /// `wave` of each row.
    pub wave: &'a Int32Array,
    /// Per replicate column `rep_1 … rep_R` (or the columns asked for), its values in this batch.
    pub weights: Vec<&'a [f64]>,
}

impl ReplicateBatch<'_> {
    /// Rows in the batch.
    pub fn num_rows(&self) -> usize {
        self.country.len()
    }
}

fn key_text(c: &StringArray, w: &Int32Array, id: &StringArray, r: usize) -> String {
    format!("({}, {}, {})", c.value(r), w.value(r), id.value(r))
}

/// Streams `out/weight/replicates.arrow` batch by batch, checking that its
/// rows are weighted.arrow's (same count, same keys in the same order;
/// weighted.arrow's keys are read on another thread in step) and that every
/// weight is finite and ≥ 0, and calls `f` with each batch. `columns`
/// limits the replicate columns decoded (0-based; `None` = all). Returns
/// the file's metadata. Memory: one batch of each file at a time.
pub fn for_each_batch<E: From<ReplicateError> + From<IoError>>(
    out: &Path,
    columns: Option<&[usize]>,
    mut f: impl FnMut(&ReplicateBatch<'_>) -> Result<(), E>,
) -> Result<ReplicateMeta, E> {
    let rpath = crate::stages::path(out, crate::stages::REPLICATES);
    let wpath = crate::stages::path(out, crate::stages::WEIGHTED);
    let meta = ReplicateMeta::from_metadata(arrow_schema(&rpath).map_err(ReplicateError::from)?.metadata(), &rpath)?;
    let (found, expected) = (
        arrow_rows(&rpath).map_err(ReplicateError::from)?,
        arrow_rows(&wpath).map_err(ReplicateError::from)?,
    );
    if found != expected {
        return Err(ReplicateError::RowCount {
            replicates: rpath,
            weighted: wpath,
            found,
            expected,
        }
        .into());
    }
    let reps: Vec<usize> = match columns {
        Some(c) => c.to_vec(),
        None => (0..meta.count).collect(),
    };
    if let Some(&bad) = reps.iter().find(|&&r| r >= meta.count) {
        return Err(ReplicateError::from(IoError::Column {
            path: rpath,
            column: column_name(bad),
            expected: format!("a replicate column (the file has {} of them)", meta.count),
        })
        .into());
    }
    let names: Vec<String> = ["country", "wave", "respondent_id"]
        .iter()
        .map(|s| s.to_string())
        .chain(reps.iter().map(|&r| column_name(r)))
        .collect();
    let (tx, rx) = sync_channel::<Result<RecordBatch, IoError>>(2);
    std::thread::scope(|scope| -> Result<ReplicateMeta, E> {
        let wp = &wpath;
        let reader = scope.spawn(move || {
            let tx2 = tx.clone();
            let r = crate::io::for_each_batch(
                wp,
                Some(&["country", "wave", "respondent_id"]),
                |b: RecordBatch| -> Result<(), IoError> {
                    tx2.send(Ok(b)).map_err(|_| IoError::Io {
                        path: wp.clone(),
                        source: std::io::Error::other("reading stopped"),
                    })
                },
            );
            if let Err(e) = r {
                let _ = tx.send(Err(e));
            }
        });
        let mut current: Option<RecordBatch> = None;
        let mut at = 0usize;
        let mut row = 0u64;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let result = crate::io::for_each_batch(&rpath, Some(&refs), |b: RecordBatch| -> Result<(), E> {
            let c = column::<StringArray>(&b, "country", &rpath).map_err(ReplicateError::from)?;
            let w = column::<Int32Array>(&b, "wave", &rpath).map_err(ReplicateError::from)?;
            let id = column::<StringArray>(&b, "respondent_id", &rpath).map_err(ReplicateError::from)?;
            let mut weights = Vec::with_capacity(reps.len());
            for &r in &reps {
                let a = column::<Float64Array>(&b, &column_name(r), &rpath).map_err(ReplicateError::from)?;
                let v: &[f64] = a.values();
                if let Some(i) = v.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
                    return Err(ReplicateError::BadWeight {
                        path: rpath.clone(),
                        row: row + i as u64 + 1,
                        column: column_name(r),
                        value: v[i],
                    }
                    .into());
                }
                weights.push(v);
            }
            // Compare keys with weighted.arrow's rows, batch by batch.
            let mut i = 0usize;
            while i < b.num_rows() {
                let wb = match &current {
                    Some(wb) if at < wb.num_rows() => wb,
                    _ => {
                        let next = rx.recv().map_err(|_| ReplicateError::RowCount {
                            replicates: rpath.clone(),
                            weighted: wpath.clone(),
                            found,
                            expected: row + i as u64,
                        })?;
                        current = Some(next.map_err(ReplicateError::from)?);
                        at = 0;
                        continue;
                    }
                };
                let wc = column::<StringArray>(wb, "country", &wpath).map_err(ReplicateError::from)?;
                let ww = column::<Int32Array>(wb, "wave", &wpath).map_err(ReplicateError::from)?;
                let wid = column::<StringArray>(wb, "respondent_id", &wpath).map_err(ReplicateError::from)?;
                let take = (b.num_rows() - i).min(wb.num_rows() - at);
                for k in 0..take {
                    let (x, y) = (i + k, at + k);
                    if w.value(x) != ww.value(y) || id.value(x) != wid.value(y) || c.value(x) != wc.value(y) {
                        return Err(ReplicateError::Misaligned {
                            replicates: rpath.clone(),
                            weighted: wpath.clone(),
                            row: row + x as u64 + 1,
                            key: key_text(c, w, id, x),
                            found: key_text(wc, ww, wid, y),
                        }
                        .into());
                    }
                }
                i += take;
                at += take;
            }
            f(&ReplicateBatch {
                first_row: row,
                country: c,
                wave: w,
                weights,
            })?;
            row += b.num_rows() as u64;
            Ok(())
        });
        drop(rx);
        let _ = reader.join();
        result?;
        Ok(meta)
    })
}

/// The replicate design of one (country, wave) as the stages use it: R's
/// `svrepdesign` parameters ([`ReplicateDesign`]) restricted to the
/// country-wave's own replicate columns (padding columns, which hold the
/// full-sample weight with rscale 0, add nothing to a variance and are not
/// read), and the rank R's `degf()` sees.
#[derive(Debug, Clone, PartialEq)]
pub struct RepDesign {
    /// Kind, scale, mse, and the rscales of [`RepDesign::columns`].
    pub design: ReplicateDesign,
    /// The country-wave's replicate columns (0-based: `rep_1` is 0).
    pub columns: Vec<usize>,
    /// Distinct columns of the design's replicate weights on the
    /// country-wave's rows, for the rank in R's `degf()`: its replicates,
    /// plus one when padding columns (all equal to the full-sample weight) exist.
    pub rank_columns: usize,
}

impl RepDesign {
    /// The design of (`country`, `wave`) in replicates.arrow's metadata
    /// ([`ReplicateMeta::own_design`]).
    pub fn from_meta(meta: &ReplicateMeta, country: &str, wave: i32) -> Option<Self> {
        let (design, rank_columns) = meta.own_design(country, wave)?;
        Some(RepDesign {
            columns: (0..design.replicates()).collect(),
            design,
            rank_columns,
        })
    }

    /// `jackknife` or `bootstrap` (the `variance_method` column).
    pub fn method(&self) -> &'static str {
        self.design.kind.variance_name()
    }

    /// Replicates read.
    pub fn r(&self) -> usize {
        self.columns.len()
    }

    /// R's `svrVar(thetas, scale, rscales, mse, coef = full)`, replicates
    /// with an undefined estimate dropped (R's `na.action`); `None` when no
    /// replicate is left.
    pub fn variance(&self, thetas: &[f64], full: f64) -> Option<f64> {
        self.design.variance_defined(thetas, full)
    }

    /// Degrees of freedom of a domain of `n` respondents: R's `degf()` of
    /// the subset design for generic replicate weights, `min(n, R) − 1`
    /// ([`degf_generic`]).
    pub fn df(&self, n: u64) -> i64 {
        degf_generic(n, self.rank_columns)
    }
}

/// A visitor of replicate weights: `f(first_row, columns)`, `columns[j]`
/// replicate `j` (`rep_{j+1}`) of the block's rows; `E` is the calling
/// stage's error.
pub type BlockFn<'a, E> = dyn FnMut(usize, &[&[f64]]) -> Result<(), E> + 'a;

/// Replicate weights, streamed in row order: the source the stages that
/// compute replicate standard errors (tabulate, model) read, from
/// replicates.arrow ([`FileReplicates`]) or from memory
/// ([`InMemoryReplicates`]). `E` is the calling stage's error.
pub trait ReplicateWeights<E>: Sync {
    /// The design of a (country, wave), `None` when the source has none.
    fn design(&self, country: &str, wave: i32) -> Option<RepDesign>;
    /// Calls `f` for consecutive blocks of rows, in row order.
    fn for_each_block(&self, f: &mut BlockFn<'_, E>) -> Result<(), E>;
}

/// Rows per block of [`InMemoryReplicates`].
const MEMORY_BLOCK: usize = 8192;

/// Replicate weights held in memory (tests, library use).
#[derive(Debug, Clone, Default)]
pub struct InMemoryReplicates {
    /// `columns[j][row]`: replicate `j` of every row of the batch.
    pub columns: Vec<Vec<f64>>,
    /// Design of each (country, wave).
    pub designs: std::collections::HashMap<(String, i32), RepDesign>,
}

impl<E> ReplicateWeights<E> for InMemoryReplicates {
    fn design(&self, country: &str, wave: i32) -> Option<RepDesign> {
        self.designs.get(&(country.to_string(), wave)).cloned()
    }
    fn for_each_block(&self, f: &mut BlockFn<'_, E>) -> Result<(), E> {
        let n = self.columns.first().map_or(0, Vec::len);
        let mut lo = 0;
        while lo < n {
            let hi = (lo + MEMORY_BLOCK).min(n);
            let cols: Vec<&[f64]> = self.columns.iter().map(|c| &c[lo..hi]).collect();
            f(lo, &cols)?;
            lo = hi;
        }
        Ok(())
    }
}

/// `OUT/weight/replicates.arrow`, streamed through [`for_each_batch`]
/// (keys checked against weighted.arrow row by row); only the columns some
/// country-wave owns are read.
#[derive(Debug, Clone)]
pub struct FileReplicates {
    /// The run folder.
    pub out: PathBuf,
    /// The file's metadata.
    pub meta: ReplicateMeta,
}

impl FileReplicates {
    /// Opens the replicates of the run folder `out` (reads the metadata).
    pub fn open(out: &Path) -> Result<Self, ReplicateError> {
        Ok(FileReplicates {
            out: out.to_path_buf(),
            meta: read_meta(out)?,
        })
    }
}

impl<E: From<ReplicateError> + From<IoError>> ReplicateWeights<E> for FileReplicates {
    fn design(&self, country: &str, wave: i32) -> Option<RepDesign> {
        RepDesign::from_meta(&self.meta, country, wave)
    }
    fn for_each_block(&self, f: &mut BlockFn<'_, E>) -> Result<(), E> {
        let own = self.meta.groups.values().map(|g| g.replicates).max().unwrap_or(0);
        let cols: Vec<usize> = (0..own.min(self.meta.count)).collect();
        for_each_batch(&self.out, Some(&cols), |b: &ReplicateBatch<'_>| {
            f(b.first_row as usize, &b.weights)
        })?;
        Ok(())
    }
}

/// The replicate weights of one (country, wave), all in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReplicates {
    /// How to turn its replicate estimates into a variance.
    pub design: ReplicateDesign,
    /// Rows of weighted.arrow (0-based) of the group, ascending.
    pub rows: Vec<u64>,
    /// Per replicate column, the weights of `rows` in order.
    pub weights: Vec<Vec<f64>>,
}

/// Reads every replicate weight of (`country`, `wave`) from
/// `out/weight/replicates.arrow`, checked as in [`for_each_batch`]:
/// memory `n_group × R` numbers.
pub fn read_group(out: &Path, country: &str, wave: i32) -> Result<GroupReplicates, ReplicateError> {
    let rpath = crate::stages::path(out, crate::stages::REPLICATES);
    let meta = read_meta(out)?;
    let design = meta.design(country, wave).ok_or_else(|| ReplicateError::NoGroup {
        path: rpath.clone(),
        country: country.into(),
        wave,
        have: meta
            .groups
            .keys()
            .map(|(c, w)| format!("{c} {w}"))
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let mut rows = Vec::new();
    let mut weights: Vec<Vec<f64>> = vec![Vec::new(); meta.count];
    for_each_batch(out, None, |b: &ReplicateBatch<'_>| -> Result<(), ReplicateError> {
        for i in 0..b.num_rows() {
            if b.wave.value(i) == wave && b.country.value(i) == country {
                rows.push(b.first_row + i as u64);
                for (col, v) in weights.iter_mut().zip(&b.weights) {
                    col.push(v[i]);
                }
            }
        }
        Ok(())
    })?;
    Ok(GroupReplicates { design, rows, weights })
}

/// The replicates.arrow batch for rows with keys `country`, `wave`,
/// `respondent_id` and replicate columns `weights` (each as long as the
/// keys), with `meta`'s schema.
pub fn batch(
    meta_schema: &Arc<Schema>,
    keys: [Arc<dyn Array>; 3],
    weights: Vec<Vec<f64>>,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut cols: Vec<Arc<dyn Array>> = keys.to_vec();
    cols.extend(
        weights
            .into_iter()
            .map(|w| Arc::new(Float64Array::from(w)) as Arc<dyn Array>),
    );
    RecordBatch::try_new(meta_schema.clone(), cols)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn meta() -> ReplicateMeta {
        let mut groups = BTreeMap::new();
        groups.insert(
            ("BOL".to_string(), 2021),
            GroupMeta {
                replicates: 3,
                rscales: vec![2.0 / 3.0, 2.0 / 3.0, 0.5],
            },
        );
        groups.insert(
            ("KEN".to_string(), 2021),
            GroupMeta {
                replicates: 2,
                rscales: vec![0.5, 0.5, 0.0],
            },
        );
        ReplicateMeta {
            kind: ReplicateKind::Jackknife,
            scale: 1.0,
            mse: false,
            count: 3,
            groups,
        }
    }

    #[test]
    fn variance_is_svrvar() {
        // R: survey:::svrVar(c(1, 2, 4), scale = 0.5, rscales = c(1, 1, 2), mse = FALSE)
        //    = 0.5 * (1*(1-7/3)^2 + 1*(2-7/3)^2 + 2*(4-7/3)^2) = 3.722222 (67/18)
        let d = ReplicateDesign {
            kind: ReplicateKind::Jackknife,
            scale: 0.5,
            rscales: vec![1.0, 1.0, 2.0],
            mse: false,
        };
        assert!((d.variance(&[1.0, 2.0, 4.0], 0.0) - 67.0 / 18.0).abs() < 1e-14);
        // mse = TRUE, coef 2: 0.5 * (1 + 0 + 2*4) = 4.5
        let m = ReplicateDesign { mse: true, ..d.clone() };
        assert!((m.variance(&[1.0, 2.0, 4.0], 2.0) - 4.5).abs() < 1e-14);
        // A padding column (rscale 0) changes neither the mean nor the sum.
        let p = ReplicateDesign {
            rscales: vec![1.0, 1.0, 2.0, 0.0],
            ..d.clone()
        };
        assert_eq!(
            p.variance(&[1.0, 2.0, 4.0, 100.0], 0.0),
            d.variance(&[1.0, 2.0, 4.0], 0.0)
        );
        // Covariance: symmetric, and var(a) when b = a; var(a - b) = va + vb - 2 cov.
        let (a, b) = ([1.0, 2.0, 4.0], [3.0, 1.0, 2.0]);
        let cov = d.covariance(&a, 0.0, &b, 0.0);
        assert_eq!(cov, d.covariance(&b, 0.0, &a, 0.0));
        let diff: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let want = d.variance(&a, 0.0) + d.variance(&b, 0.0) - 2.0 * cov;
        assert!((d.variance(&diff, 0.0) - want).abs() < 1e-12);
    }

    #[test]
    fn metadata_round_trips_and_errors_name_the_key() {
        let m = meta();
        let md: Metadata = m.to_metadata().into_iter().collect();
        assert_eq!(md[META_TYPE], "JKn");
        assert_eq!(md[META_SCALE], "1.0");
        assert!(md[META_GROUPS].starts_with("{\"BOL/2021\":{\"replicates\":3,\"rscales\":[0.6666666666666666"));
        let p = Path::new("out/weight/replicates.arrow");
        let back = ReplicateMeta::from_metadata(&md, p).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.design("KEN", 2021).unwrap().rscales, vec![0.5, 0.5, 0.0]);
        assert!(back.design("KEN", 2022).is_none());
        let broken = |k: &str, v: &str| {
            let mut md = md.clone();
            md.insert(k, v);
            ReplicateMeta::from_metadata(&md, p).unwrap_err().to_string()
        };
        assert_eq!(
            broken(META_TYPE, "BRR"),
            "out/weight/replicates.arrow: schema metadata `swvr.replicates.type`: expected `JKn` or `bootstrap`; run `swvr weight` again"
        );
        assert!(broken(META_SCALE, "-1").contains("`swvr.replicates.scale`: expected a number > 0"));
        assert!(broken(META_MSE, "yes").contains("expected `true` or `false`"));
        assert!(broken(META_COUNT, "0").contains("expected a whole number ≥ 1"));
        let e = broken(META_GROUPS, "{\"BOL/2021\":{\"replicates\":3,\"rscales\":[1]}}");
        assert!(e.contains("(at `BOL/2021`)") && e.contains("[3 numbers ≥ 0]"), "{e}");
        let e = broken(META_GROUPS, "{\"BOL\":{\"replicates\":3,\"rscales\":[1,1,1]}}");
        assert!(e.contains("(key `BOL`)"), "{e}");
        let mut missing = md.clone();
        missing.remove(META_MSE);
        assert!(
            ReplicateMeta::from_metadata(&missing, p)
                .unwrap_err()
                .to_string()
                .contains("`swvr.replicates.mse`")
        );
    }

    #[test]
    fn kind_names() {
        assert_eq!(ReplicateKind::from_r_type("JKn"), Some(ReplicateKind::Jackknife));
        assert_eq!(ReplicateKind::Bootstrap.variance_name(), "bootstrap");
        let mut md = Metadata::default();
        assert_eq!(ReplicateKind::from_weighted_metadata(&md), None);
        md.insert(crate::calibration::META_VARIANCE, "jackknife");
        assert_eq!(
            ReplicateKind::from_weighted_metadata(&md),
            Some(ReplicateKind::Jackknife)
        );
        md.insert(crate::calibration::META_VARIANCE, "calibrated");
        assert_eq!(ReplicateKind::from_weighted_metadata(&md), None);
        assert_eq!(column_name(0), "rep_1");
        assert_eq!(group_key("SEN", 2021), "SEN/2021");
    }

    /// Writes a weighted.arrow (keys only) and a replicates.arrow under `out`.
    fn write_pair(out: &Path, wkeys: &[(&str, i32, &str)], rkeys: &[(&str, i32, &str)], reps: Vec<Vec<f64>>) {
        let keys = |k: &[(&str, i32, &str)]| -> [Arc<dyn Array>; 3] {
            [
                Arc::new(StringArray::from(k.iter().map(|x| x.0).collect::<Vec<_>>())),
                Arc::new(Int32Array::from(k.iter().map(|x| x.1).collect::<Vec<_>>())),
                Arc::new(StringArray::from(k.iter().map(|x| x.2).collect::<Vec<_>>())),
            ]
        };
        let wschema = crate::io::with_version(Schema::new(vec![
            Field::new("country", DataType::Utf8, false),
            Field::new("wave", DataType::Int32, false),
            Field::new("respondent_id", DataType::Utf8, false),
        ]));
        let wb = RecordBatch::try_new(Arc::new(wschema.clone()), keys(wkeys).to_vec()).unwrap();
        crate::io::write_arrow(&crate::stages::path(out, crate::stages::WEIGHTED), &wschema, &[wb]).unwrap();
        let schema = Arc::new(meta().schema());
        // Two batches, to check the alignment across batch boundaries.
        let half = rkeys.len() / 2;
        let mut batches = Vec::new();
        for part in [&rkeys[..half], &rkeys[half..]] {
            let lo = if part.as_ptr() == rkeys.as_ptr() { 0 } else { half };
            let w: Vec<Vec<f64>> = reps.iter().map(|c| c[lo..lo + part.len()].to_vec()).collect();
            batches.push(batch(&schema, keys(part), w).unwrap());
        }
        crate::io::write_arrow(&crate::stages::path(out, crate::stages::REPLICATES), &schema, &batches).unwrap();
    }

    #[test]
    fn reader_checks_alignment_and_reads_one_group() {
        let out = std::env::temp_dir().join(format!("swvr-replicates-{}", std::process::id()));
        let keys = [
            ("BOL", 2021, "b1"),
            ("KEN", 2021, "k1"),
            ("BOL", 2021, "b2"),
            ("KEN", 2021, "k2"),
            ("BOL", 2021, "b3"),
        ];
        let reps = vec![
            vec![0.0, 1.0, 1.5, 1.0, 1.5],
            vec![1.5, 0.0, 0.0, 2.0, 1.5],
            vec![1.5, 1.0, 1.5, 1.0, 0.0],
        ];
        write_pair(&out, &keys, &keys, reps.clone());
        let g = read_group(&out, "BOL", 2021).unwrap();
        assert_eq!(g.rows, vec![0, 2, 4]);
        assert_eq!(g.weights[1], vec![1.5, 0.0, 1.5]);
        assert_eq!(g.design.rscales.len(), 3);
        let mut seen = Vec::new();
        let m = for_each_batch(
            &out,
            Some(&[2]),
            |b: &ReplicateBatch<'_>| -> Result<(), ReplicateError> {
                seen.push((b.first_row, b.weights[0].to_vec()));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(m.count, 3);
        assert_eq!(seen, vec![(0, vec![1.5, 1.0]), (2, vec![1.5, 1.0, 0.0])]);
        let e = read_group(&out, "SEN", 2021).unwrap_err().to_string();
        assert!(
            e.ends_with("no replicate weights for SEN 2021 (the file has BOL 2021, KEN 2021)"),
            "{e}"
        );
        let e = for_each_batch(
            &out,
            Some(&[3]),
            |_: &ReplicateBatch<'_>| -> Result<(), ReplicateError> { Ok(()) },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("column `rep_4`: expected a replicate column (the file has 3 of them)"),
            "{e}"
        );

        // Another order than weighted.arrow's: the first differing row is named.
        let mut swapped = keys;
        swapped.swap(2, 3);
        write_pair(&out, &keys, &swapped, reps.clone());
        let e = read_group(&out, "BOL", 2021).unwrap_err().to_string();
        assert!(
            e.contains("replicates.arrow: row 3 is (KEN, 2021, k2), but row 3 of")
                && e.contains("weighted.arrow is (BOL, 2021, b2)"),
            "{e}"
        );
        // Fewer rows.
        write_pair(&out, &keys, &keys[..4], reps.iter().map(|c| c[..4].to_vec()).collect());
        let e = read_group(&out, "BOL", 2021).unwrap_err().to_string();
        assert!(
            e.contains("has 4 rows but") && e.contains("weighted.arrow has 5"),
            "{e}"
        );
        // A negative weight.
        let mut bad = reps;
        bad[1][3] = -1.0;
        write_pair(&out, &keys, &keys, bad);
        let e = read_group(&out, "KEN", 2021).unwrap_err().to_string();
        assert!(
            e.ends_with("row 4, column `rep_2`: -1 is not a weight (expected a finite number >= 0)"),
            "{e}"
        );
        std::fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn design_from_metadata_reads_own_columns_and_counts_padding() {
        let mut groups = std::collections::BTreeMap::new();
        groups.insert(
            ("KEN".to_string(), 2021),
            GroupMeta {
                replicates: 2,
                rscales: vec![0.5, 0.5, 0.0],
            },
        );
        groups.insert(
            ("BOL".to_string(), 2021),
            GroupMeta {
                replicates: 3,
                rscales: vec![1.0, 1.0, 1.0],
            },
        );
        let meta = ReplicateMeta {
            kind: ReplicateKind::Jackknife,
            scale: 1.0,
            mse: false,
            count: 3,
            groups,
        };
        let ken = RepDesign::from_meta(&meta, "KEN", 2021).unwrap();
        assert_eq!((ken.columns.clone(), ken.rank_columns), (vec![0, 1], 3));
        assert_eq!(ken.design.rscales, vec![0.5, 0.5]);
        assert_eq!(ken.method(), "jackknife");
        // df: generic rank min(n, columns) − 1.
        assert_eq!((ken.df(100), ken.df(2), ken.df(1)), (2, 1, 0));
        let bol = RepDesign::from_meta(&meta, "BOL", 2021).unwrap();
        assert_eq!(bol.rank_columns, 3);
        assert!(RepDesign::from_meta(&meta, "SEN", 2021).is_none());
        // Variance: an undefined replicate is dropped (R's na.action).
        let v = ken.variance(&[0.2, f64::NAN], 0.1).unwrap();
        assert_eq!(v, 0.0);
        assert!((ken.variance(&[0.2, 0.4], 0.0).unwrap() - 0.5 * 0.02).abs() < 1e-15);
    }
}
