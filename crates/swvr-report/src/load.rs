//! Reading a run folder: the Arrow and JSON outputs of the stages, each
//! optional except `tabulate/tables.arrow`, read by column name so that
//! extra columns and files written by later versions are tolerated.

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use rayon::prelude::*;
use serde_json::Value;
use swvr_core::questionnaire::Questionnaire;

use crate::ReportError;

/// One row of `tabulate/tables.arrow`.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Country code.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Item or derived indicator.
    pub item: String,
    /// Domain.
    pub domain: String,
    /// Domain level.
    pub level: String,
    /// Answer category.
    pub category: String,
    /// Unweighted base.
    pub n: i64,
    /// Unweighted count in the category.
    pub n_category: i64,
    /// Weighted share (0–1), or net share for `Q4B_net`.
    pub estimate: f64,
    /// Standard error.
    pub se: f64,
    /// Lower 95% bound.
    pub ci_low: Option<f64>,
    /// Upper 95% bound.
    pub ci_high: Option<f64>,
    /// Design effect.
    pub deff: Option<f64>,
}

/// One row of `model/odds_ratios.arrow`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// Country code.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Outcome item.
    pub outcome: String,
    /// Term name.
    pub term: String,
    /// Log odds ratio.
    pub estimate: Option<f64>,
    /// Its standard error.
    pub se: Option<f64>,
    /// Odds ratio.
    pub odds_ratio: Option<f64>,
    /// Lower 95% bound of the odds ratio.
    pub ci_low: Option<f64>,
    /// Upper 95% bound.
    pub ci_high: Option<f64>,
    /// p value.
    pub p_value: Option<f64>,
    /// p < 0.05.
    pub significant: Option<bool>,
    /// Complete cases.
    pub n: i64,
    /// Why a term or country could not be estimated.
    pub note: Option<String>,
}

/// Counts of a histogram with equal-width bins on `[lo, hi]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub lo: f64,
    /// Right edge of the last bin.
    pub hi: f64,
    /// Respondents per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Bins `values` into `bins` equal-width bins between their minimum and
    /// maximum (the maximum falls in the last bin). One pass for the range,
    /// one for the counts; order-independent, so deterministic.
    pub fn of(values: impl Iterator<Item = f64> + Clone, bins: usize) -> Self {
        let bins = bins.max(1);
        let range = values.clone().fold(EMPTY_RANGE, widen);
        let mut counts = vec![0u64; bins];
        for v in values {
            if let Some(i) = Self::bin(range, bins, v) {
                counts[i] += 1;
            }
        }
        Self::from_counts(range, counts)
    }

    /// The bin of `v` among `bins` equal-width bins on `(lo, hi)` (the
    /// maximum falls in the last bin); `None` for a non-finite value.
    fn bin((lo, hi): (f64, f64), bins: usize, v: f64) -> Option<usize> {
        if !v.is_finite() {
            return None;
        }
        let width = (hi - lo) / bins as f64;
        Some(if width > 0.0 {
            (((v - lo) / width) as usize).min(bins - 1)
        } else {
            0
        })
    }

    /// A histogram of `counts` on `range` (from [`widen`]); an empty range
    /// (no finite value) becomes `[0, 0]`.
    fn from_counts((lo, hi): (f64, f64), counts: Vec<u64>) -> Self {
        if lo > hi {
            Self {
                lo: 0.0,
                hi: 0.0,
                counts,
            }
        } else {
            Self { lo, hi, counts }
        }
    }

    /// Edges of bin `i`.
    pub fn edges(&self, i: usize) -> (f64, f64) {
        let w = (self.hi - self.lo) / self.counts.len() as f64;
        (self.lo + w * i as f64, self.lo + w * (i + 1) as f64)
    }
}

/// The range of no value: [`widen`] starts from it.
const EMPTY_RANGE: (f64, f64) = (f64::INFINITY, f64::NEG_INFINITY);

/// `(lo, hi)` widened to cover `v` when `v` is finite.
fn widen((lo, hi): (f64, f64), v: f64) -> (f64, f64) {
    if v.is_finite() {
        (lo.min(v), hi.max(v))
    } else {
        (lo, hi)
    }
}

/// What weighted.arrow tells about one (country, wave).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightGroup {
    /// Country code.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Respondents.
    pub n: usize,
    /// Base weights.
    pub base: Histogram,
    /// Final weights.
    pub weight: Histogram,
    /// Respondents by frame drawn from.
    pub frames: Vec<(String, u64)>,
    /// Respondents by stratum.
    pub strata: Vec<(String, u64)>,
}

/// An extra Arrow table of the run shown as it is (e.g. `fieldwork/*.arrow`).
#[derive(Debug, Clone)]
pub struct ExtraTable {
    /// Path relative to the run folder.
    pub name: String,
    /// Its rows.
    pub batch: RecordBatch,
}

/// Everything the report reads from a run folder.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run folder.
    pub dir: PathBuf,
    /// tables.arrow, in file order.
    pub tables: Vec<Estimate>,
    /// weight/diagnostics.json entries.
    pub diagnostics: Vec<Value>,
    /// ingest/validation.json.
    pub validation: Option<Value>,
    /// model/odds_ratios.arrow.
    pub terms: Vec<Term>,
    /// weight/weighted.arrow, summarised per (country, wave).
    pub weights: Vec<WeightGroup>,
    /// fieldwork/*.arrow, when present.
    pub fieldwork: Vec<ExtraTable>,
    /// manifest.json, when present.
    pub manifest: Option<Value>,
    /// The questionnaire (from the run folder when it holds one, else the built-in one).
    pub questionnaire: Questionnaire,
}

/// Options of [`Run::load`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Questionnaire; default: a `*.toml` questionnaire under `OUT/ingest/`, else the built-in one.
    pub questionnaire: Option<Questionnaire>,
    /// Histogram bins (default 30).
    pub bins: usize,
    /// Do not read weight/weighted.arrow (the comparison needs only diagnostics).
    pub skip_weights: bool,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn read_json(path: &Path) -> Result<Option<Value>, ReportError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io_err(path, format!("not valid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// Text of column `name`, row by row, whatever the string encoding
/// (Utf8, LargeUtf8, Utf8View, dictionary) or number type.
pub fn text_column(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<Option<String>>, ReportError> {
    let col = batch.column_by_name(name).ok_or_else(|| ReportError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: "a column of this name".into(),
    })?;
    Ok((0..col.len()).map(|i| cell_text(col, i)).collect())
}

/// Numbers of column `name` as f64 (any integer or float type).
pub fn num_column(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<Option<f64>>, ReportError> {
    let col = batch.column_by_name(name).ok_or_else(|| ReportError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: "a column of this name".into(),
    })?;
    let bad = || ReportError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: format!("a numeric column, found {}", col.data_type()),
    };
    macro_rules! prim {
        ($t:ty) => {{
            let a = col.as_primitive::<$t>();
            (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i) as f64)).collect()
        }};
    }
    Ok(match col.data_type() {
        DataType::Float64 => prim!(Float64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        _ => return Err(bad()),
    })
}

fn bool_column(batch: &RecordBatch, name: &str) -> Vec<Option<bool>> {
    match batch.column_by_name(name) {
        Some(c) if c.data_type() == &DataType::Boolean => {
            let a = c.as_boolean();
            (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect()
        }
        _ => vec![None; batch.num_rows()],
    }
}

/// The text of one cell, for display (floats to 4 significant decimals).
pub fn cell_text(col: &ArrayRef, i: usize) -> Option<String> {
    if col.is_null(i) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => col.as_string_view().value(i).to_string(),
        DataType::Boolean => col.as_boolean().value(i).to_string(),
        DataType::Int8 => col.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::Int16 => col.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(i).to_string(),
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(i).to_string(),
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(i).to_string(),
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(i).to_string(),
        DataType::Float64 => fmt_float(col.as_primitive::<Float64Type>().value(i)),
        DataType::Float32 => fmt_float(f64::from(col.as_primitive::<Float32Type>().value(i))),
        DataType::Dictionary(_, _) => {
            let d = col.as_any_dictionary();
            let key = d.normalized_keys().get(i).copied()?;
            return cell_text(d.values(), key);
        }
        other => format!("({other})"),
    })
}

/// Whether rows `a` and `b` of `col` hold the same value (two nulls are the
/// same), compared in the array: text and integer columns without rendering
/// them, other types through [`cell_text`].
fn same_value(col: &ArrayRef, a: usize, b: usize) -> bool {
    match (col.is_valid(a), col.is_valid(b)) {
        (true, true) => {}
        (va, vb) => return va == vb,
    }
    match col.data_type() {
        DataType::Utf8 => {
            let s = col.as_string::<i32>();
            s.value(a) == s.value(b)
        }
        DataType::LargeUtf8 => {
            let s = col.as_string::<i64>();
            s.value(a) == s.value(b)
        }
        DataType::Utf8View => {
            let s = col.as_string_view();
            s.value(a) == s.value(b)
        }
        _ => match swvr_core::io::IntColumn::of(col.as_ref()) {
            Some(c) => c.get(a) == c.get(b),
            None => cell_text(col, a) == cell_text(col, b),
        },
    }
}

fn fmt_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

impl Run {
    /// Reads the run folder `dir`. Only `tabulate/tables.arrow` is required.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, ReportError> {
        let tables_path = dir.join("tabulate").join("tables.arrow");
        if !tables_path.is_file() {
            return Err(ReportError::Missing {
                path: tables_path,
                make: "swvr run (or swvr tabulate)".into(),
            });
        }
        let tables = read_tables(&tables_path)?;
        let diagnostics = match read_json(&dir.join("weight").join("diagnostics.json"))? {
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(io_err(
                    &dir.join("weight").join("diagnostics.json"),
                    "expected a JSON array of (country, wave) objects",
                ));
            }
            None => Vec::new(),
        };
        let validation = read_json(&dir.join("ingest").join("validation.json"))?;
        let manifest = read_json(&dir.join("manifest.json"))?;
        let odds = dir.join("model").join("odds_ratios.arrow");
        let terms = if odds.is_file() { read_terms(&odds)? } else { Vec::new() };
        let questionnaire = match &opts.questionnaire {
            Some(q) => q.clone(),
            None => find_questionnaire(&dir.join("ingest")).unwrap_or_else(Questionnaire::default_2021),
        };
        let weighted = dir.join("weight").join("weighted.arrow");
        let weights = if weighted.is_file() && !opts.skip_weights {
            read_weights(&weighted, if opts.bins == 0 { 30 } else { opts.bins })?
        } else {
            Vec::new()
        };
        let fieldwork = read_extra(&dir.join("fieldwork"), "fieldwork")?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tables,
            diagnostics,
            validation,
            terms,
            weights,
            fieldwork,
            manifest,
            questionnaire,
        })
    }

    /// The (country, wave)s of the run, sorted.
    pub fn groups(&self) -> Vec<(String, i32)> {
        let mut g: Vec<(String, i32)> = self.tables.iter().map(|e| (e.country.clone(), e.wave)).collect();
        g.sort();
        g.dedup();
        g
    }

    /// The diagnostics object of (country, wave).
    pub fn diagnostics_of(&self, country: &str, wave: i32) -> Option<&Value> {
        self.diagnostics.iter().find(|d| {
            d.get("country").and_then(Value::as_str) == Some(country)
                && d.get("wave").and_then(Value::as_i64) == Some(i64::from(wave))
        })
    }
}

/// A questionnaire definition written into the run folder (by `swvr run`
/// recording its effective configuration), if one parses.
fn find_questionnaire(dir: &Path) -> Option<Questionnaire> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files.iter().find_map(|p| Questionnaire::from_path(p).ok())
}

fn read_tables(path: &Path) -> Result<Vec<Estimate>, ReportError> {
    let b = swvr_core::io::read_arrow(path)?;
    let text = |c| text_column(&b, c, path);
    let num = |c| num_column(&b, c, path);
    let (country, wave, item, domain, level, category) = (
        text("country")?,
        num("wave")?,
        text("item")?,
        text("domain")?,
        text("domain_level")?,
        text("category")?,
    );
    let (n, nc, est, se, lo, hi, deff) = (
        num("n")?,
        num("n_category")?,
        num("estimate")?,
        num("se")?,
        num("ci_low")?,
        num("ci_high")?,
        num("deff")?,
    );
    let mut out = Vec::with_capacity(b.num_rows());
    for r in 0..b.num_rows() {
        let s = |v: &Vec<Option<String>>| v[r].clone().unwrap_or_default();
        out.push(Estimate {
            country: s(&country),
            wave: wave[r].unwrap_or(0.0) as i32,
            item: s(&item),
            domain: s(&domain),
            level: s(&level),
            category: s(&category),
            n: n[r].unwrap_or(0.0) as i64,
            n_category: nc[r].unwrap_or(0.0) as i64,
            estimate: est[r].unwrap_or(f64::NAN),
            se: se[r].unwrap_or(f64::NAN),
            ci_low: lo[r],
            ci_high: hi[r],
            deff: deff[r],
        });
    }
    Ok(out)
}

fn read_terms(path: &Path) -> Result<Vec<Term>, ReportError> {
    let b = swvr_core::io::read_arrow(path)?;
    let text = |c| text_column(&b, c, path);
    let num = |c| num_column(&b, c, path);
    let (country, wave, outcome, term) = (text("country")?, num("wave")?, text("outcome")?, text("term")?);
    let (est, se, or, lo, hi, p, n) = (
        num("estimate")?,
        num("se")?,
        num("odds_ratio")?,
        num("ci_low")?,
        num("ci_high")?,
        num("p_value")?,
        num("n")?,
    );
    let sig = bool_column(&b, "significant");
    let note = if b.column_by_name("note").is_some() {
        text("note")?
    } else {
        vec![None; b.num_rows()]
    };
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    Ok((0..b.num_rows())
        .map(|r| Term {
            country: country[r].clone().unwrap_or_default(),
            wave: wave[r].unwrap_or(0.0) as i32,
            outcome: outcome[r].clone().unwrap_or_default(),
            term: term[r].clone().unwrap_or_default(),
            estimate: finite(est[r]),
            se: finite(se[r]),
            odds_ratio: finite(or[r]),
            ci_low: finite(lo[r]),
            ci_high: finite(hi[r]),
            p_value: finite(p[r]),
            significant: sig[r],
            n: n[r].unwrap_or(0.0) as i64,
            note: note[r].clone().filter(|s| !s.is_empty()),
        })
        .collect())
}

fn read_weights(path: &Path, bins: usize) -> Result<Vec<WeightGroup>, ReportError> {
    // `path` is OUT/weight/weighted.arrow; stratum and frame are read from
    // OUT/ingest/respondents.arrow, row-aligned (swvr_core::handoff).
    let out = path.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    let joined =
        swvr_core::handoff::read_weighted(out, &["country", "wave", "stratum", "frame", "base_weight", "weight"])?;
    let (b, path) = (&joined.batch, joined.source.as_path());
    let country = swvr_core::io::column::<arrow_array::StringArray>(b, "country", path)?;
    let wave = swvr_core::io::column::<arrow_array::Int32Array>(b, "wave", path)?;
    let stratum = swvr_core::io::column::<arrow_array::StringArray>(b, "stratum", path)?;
    let base = weight_values(b, "base_weight", path)?;
    let weight = weight_values(b, "weight", path)?;
    let (frame, frame_labels) = coded_column(b, "frame", path)?;
    let n = b.num_rows();

    // Pass 1, in parallel over chunks of rows: each chunk codes its
    // (country, wave) keys and strata locally (consecutive rows usually
    // share them, so most rows cost a comparison) and keeps per key its
    // row count, weight ranges, and frame and stratum counts.
    #[derive(Default)]
    struct Part<'a> {
        keys: Vec<(&'a str, i32)>,
        gid: Vec<u16>,
        acc: Vec<Acc<'a>>,
    }
    #[derive(Default, Clone)]
    struct Acc<'a> {
        n: u64,
        base: (f64, f64),
        weight: (f64, f64),
        frames: Vec<u64>,
        strata: Vec<(&'a str, u64)>,
    }
    impl Acc<'_> {
        fn new(frames: usize) -> Self {
            Acc {
                base: EMPTY_RANGE,
                weight: EMPTY_RANGE,
                frames: vec![0; frames],
                ..Acc::default()
            }
        }
    }
    const CHUNK: usize = 1 << 16;
    let parts: Vec<Part<'_>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut p = Part::default();
            let rows = c * CHUNK..((c + 1) * CHUNK).min(n);
            p.gid.reserve(rows.len());
            let mut last: Option<((&str, i32), usize)> = None;
            let mut last_stratum: Option<(usize, &str, usize)> = None;
            for r in rows {
                let key = (country.value(r), wave.value(r));
                let g = match last {
                    Some((k, g)) if k == key => g,
                    _ => {
                        let g = p.keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                            p.keys.push(key);
                            p.acc.push(Acc::new(frame_labels.len()));
                            p.keys.len() - 1
                        });
                        last = Some((key, g));
                        g
                    }
                };
                p.gid.push(g as u16);
                let a = &mut p.acc[g];
                a.n += 1;
                a.base = widen(a.base, base[r]);
                a.weight = widen(a.weight, weight[r]);
                a.frames[frame[r] as usize] += 1;
                let name = stratum.value(r);
                let s = match last_stratum {
                    Some((lg, ln, s)) if lg == g && ln == name => s,
                    _ => {
                        let s = a.strata.iter().position(|(x, _)| *x == name).unwrap_or_else(|| {
                            a.strata.push((name, 0));
                            a.strata.len() - 1
                        });
                        last_stratum = Some((g, name, s));
                        s
                    }
                };
                a.strata[s].1 += 1;
            }
            p
        })
        .collect();
    // Merge: every key of the file, sorted; each chunk's codes mapped to it.
    let mut keys: Vec<(&str, i32)> = parts.iter().flat_map(|p| p.keys.iter().copied()).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > usize::from(u16::MAX) {
        return Err(ReportError::Column {
            path: path.to_path_buf(),
            column: "country".into(),
            expected: format!("at most {} country-waves, found {}", u16::MAX, keys.len()),
        });
    }
    let mut total: Vec<Acc<'_>> = vec![Acc::new(frame_labels.len()); keys.len()];
    let remaps: Vec<Vec<u16>> = parts
        .iter()
        .map(|p| {
            p.keys
                .iter()
                .map(|k| keys.binary_search(k).unwrap_or_default() as u16)
                .collect()
        })
        .collect();
    for (p, remap) in parts.iter().zip(&remaps) {
        for (a, &g) in p.acc.iter().zip(remap) {
            let t = &mut total[g as usize];
            t.n += a.n;
            t.base = widen(widen(t.base, a.base.0), a.base.1);
            t.weight = widen(widen(t.weight, a.weight.0), a.weight.1);
            for (x, y) in t.frames.iter_mut().zip(&a.frames) {
                *x += y;
            }
            for &(name, count) in &a.strata {
                match t.strata.iter_mut().find(|(x, _)| *x == name) {
                    Some(e) => e.1 += count,
                    None => t.strata.push((name, count)),
                }
            }
        }
    }
    // Pass 2, in parallel over the same chunks: histogram counts on each
    // key's range (integer counts, so the merge is exact and the result
    // does not depend on the chunking or the thread count).
    let bins = bins.max(1);
    let edges: Vec<((f64, f64), (f64, f64))> = total.iter().map(|t| (t.base, t.weight)).collect();
    let counts: Vec<Vec<u64>> = parts
        .par_iter()
        .zip(remaps.par_iter())
        .enumerate()
        .map(|(c, (p, remap))| {
            let mut counts = vec![0u64; keys.len() * 2 * bins];
            for (i, &g) in p.gid.iter().enumerate() {
                let r = c * CHUNK + i;
                let g = remap[g as usize] as usize;
                let (eb, ew) = edges[g];
                if let Some(k) = Histogram::bin(eb, bins, base[r]) {
                    counts[(2 * g) * bins + k] += 1;
                }
                if let Some(k) = Histogram::bin(ew, bins, weight[r]) {
                    counts[(2 * g + 1) * bins + k] += 1;
                }
            }
            counts
        })
        .collect();
    let mut hist = vec![0u64; keys.len() * 2 * bins];
    for c in &counts {
        for (h, x) in hist.iter_mut().zip(c) {
            *h += x;
        }
    }
    Ok(keys
        .iter()
        .zip(total)
        .enumerate()
        .map(|(g, (&(country, wave), t))| {
            let mut frames: Vec<(String, u64)> = frame_labels
                .iter()
                .cloned()
                .zip(t.frames)
                .filter(|(_, c)| *c > 0)
                .collect();
            frames.sort();
            let mut strata: Vec<(String, u64)> = t.strata.iter().map(|&(s, c)| (s.to_string(), c)).collect();
            strata.sort();
            WeightGroup {
                country: country.to_string(),
                wave,
                n: t.n as usize,
                base: Histogram::from_counts(t.base, hist[2 * g * bins..(2 * g + 1) * bins].to_vec()),
                weight: Histogram::from_counts(t.weight, hist[(2 * g + 1) * bins..(2 * g + 2) * bins].to_vec()),
                frames,
                strata,
            }
        })
        .collect())
}

/// A column as a code per row and the label of each code (nulls get the
/// label `(missing)`): one pass, no string per row.
fn coded_column(b: &RecordBatch, name: &str, path: &Path) -> Result<(Vec<u32>, Vec<String>), ReportError> {
    let col = b.column_by_name(name).ok_or_else(|| ReportError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: "a column of this name".into(),
    })?;
    let mut labels: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut codes = Vec::with_capacity(col.len());
    // Few distinct values: a linear scan of the labels beats hashing, and
    // nothing is allocated per row.
    let mut code_of = |text: &str, labels: &mut Vec<String>| -> u32 {
        if labels.len() <= 16
            && let Some(c) = labels.iter().position(|l| l == text)
        {
            return c as u32;
        }
        *index.entry(text.to_string()).or_insert_with(|| {
            labels.push(text.to_string());
            (labels.len() - 1) as u32
        })
    };
    match col.data_type() {
        DataType::Utf8 => {
            let a = col.as_string::<i32>();
            for i in 0..a.len() {
                codes.push(code_of(
                    if a.is_valid(i) { a.value(i) } else { "(missing)" },
                    &mut labels,
                ));
            }
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let mut small: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
            let nums = num_column(b, name, path)?;
            for v in nums {
                let c = match v {
                    Some(x) => *small
                        .entry(x as i64)
                        .or_insert_with(|| code_of(&format!("{}", x as i64), &mut labels)),
                    None => code_of("(missing)", &mut labels),
                };
                codes.push(c);
            }
        }
        _ => {
            for i in 0..col.len() {
                let t = cell_text(col, i).unwrap_or_else(|| "(missing)".into());
                codes.push(code_of(&t, &mut labels));
            }
        }
    }
    Ok((codes, labels))
}

/// Column `name` as f64 values (null = NaN, which the histograms skip);
/// a Float64 column without nulls is borrowed, not copied.
fn weight_values<'a>(b: &'a RecordBatch, name: &str, path: &Path) -> Result<std::borrow::Cow<'a, [f64]>, ReportError> {
    if let Some(c) = b.column_by_name(name)
        && c.data_type() == &DataType::Float64
        && c.null_count() == 0
    {
        return Ok(std::borrow::Cow::Borrowed(c.as_primitive::<Float64Type>().values()));
    }
    Ok(std::borrow::Cow::Owned(
        num_column(b, name, path)?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect(),
    ))
}

/// Rows of an extra table the page shows per (country, wave), or in all
/// for a table without those columns (`html::extra_table`).
pub const EXTRA_ROWS_SHOWN: usize = 200;

/// Every `*.arrow` directly under `dir`, sorted by name; none when `dir` is
/// absent. Only what the page can show is kept: the first
/// [`EXTRA_ROWS_SHOWN`] rows of each (country, wave) in file order (a
/// superset of the first rows of any one country-wave and of the table),
/// read batch by batch, so a 10⁷-row quality.arrow is never held whole.
fn read_extra(dir: &Path, prefix: &str) -> Result<Vec<ExtraTable>, ReportError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "arrow"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = format!(
                "{prefix}/{}",
                p.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            Ok(ExtraTable {
                batch: read_shown_rows(&p)?,
                name,
            })
        })
        .collect()
}

/// The first [`EXTRA_ROWS_SHOWN`] rows of each (country, wave) of `path`.
fn read_shown_rows(path: &Path) -> Result<RecordBatch, ReportError> {
    let arrow = |e: arrow_schema::ArrowError| ReportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut seen: std::collections::HashMap<(Option<String>, Option<String>), usize> = std::collections::HashMap::new();
    let mut kept: Vec<RecordBatch> = Vec::new();
    let schema = swvr_core::io::for_each_batch(path, None, |b: RecordBatch| -> Result<(), ReportError> {
        let keys: Vec<&ArrayRef> = ["country", "wave"].iter().filter_map(|c| b.column_by_name(c)).collect();
        let (country, wave) = (b.column_by_name("country"), b.column_by_name("wave"));
        let mut rows: Vec<u32> = Vec::new();
        // The count of the current run of rows of one (country, wave): looked
        // up by the key's text only where the key changes.
        let mut count: Option<&mut usize> = None;
        for r in 0..b.num_rows() {
            if r == 0 || !keys.iter().all(|c| same_value(c, r - 1, r)) {
                let key = (
                    country.and_then(|c| cell_text(c, r)),
                    wave.and_then(|c| cell_text(c, r)),
                );
                count = Some(seen.entry(key).or_insert(0));
            }
            if let Some(n) = count.as_deref_mut()
                && *n < EXTRA_ROWS_SHOWN
            {
                *n += 1;
                rows.push(r as u32);
            }
        }
        if rows.len() == b.num_rows() {
            kept.push(b);
        } else if !rows.is_empty() {
            let idx = arrow_array::UInt32Array::from(rows);
            kept.push(arrow_select::take::take_record_batch(&b, &idx).map_err(arrow)?);
        }
        Ok(())
    })?;
    arrow_select::concat::concat_batches(&schema, &kept).map_err(arrow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_compares_cells_as_their_text_does() {
        use arrow_array::types::Int8Type as K;
        use arrow_array::{DictionaryArray, Float64Array, Int32Array, LargeStringArray, StringArray};
        use std::sync::Arc;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![
                Some("BOL"),
                Some("BOL"),
                Some("IND"),
                None,
                None,
            ])),
            Arc::new(LargeStringArray::from(vec![
                Some("BOL"),
                Some("BOL"),
                Some("IND"),
                None,
                None,
            ])),
            Arc::new(Int32Array::from(vec![Some(2021), Some(2021), Some(2025), None, None])),
            Arc::new(Float64Array::from(vec![Some(1.0), Some(1.0), Some(2.5), None, None])),
            Arc::new(
                vec![Some("BOL"), Some("BOL"), Some("IND"), None, None]
                    .into_iter()
                    .collect::<DictionaryArray<K>>(),
            ),
        ];
        for c in &cols {
            for (a, b) in [(0, 1), (1, 2), (2, 3), (3, 4)] {
                let want = cell_text(c, a) == cell_text(c, b);
                assert_eq!(same_value(c, a, b), want, "{} rows {a}, {b}", c.data_type());
            }
            assert!(same_value(c, 0, 1) && !same_value(c, 1, 2) && !same_value(c, 2, 3) && same_value(c, 3, 4));
        }
    }

    #[test]
    fn extra_tables_keep_the_rows_the_page_shows_per_country_wave() {
        use arrow_array::{Int32Array, StringArray};
        use arrow_schema::{Field, Schema};
        use std::sync::Arc;
        let dir = std::env::temp_dir().join(format!("swvr-report-extra-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let schema = Schema::new(vec![
            Field::new("country", DataType::Utf8, false),
            Field::new("wave", DataType::Int32, false),
            Field::new("row", DataType::Int32, false),
        ]);
        // Two batches: AAA has 300 rows, BBB 150, interleaved.
        let batch = |from: i32, to: i32| {
            let rows: Vec<i32> = (from..to).collect();
            let c: Vec<&str> = rows.iter().map(|r| if r % 3 == 0 { "BBB" } else { "AAA" }).collect();
            RecordBatch::try_new(
                Arc::new(schema.clone()),
                vec![
                    Arc::new(StringArray::from(c)),
                    Arc::new(Int32Array::from(vec![2021; rows.len()])),
                    Arc::new(Int32Array::from(rows)),
                ],
            )
            .unwrap()
        };
        let path = dir.join("quality.arrow");
        swvr_core::io::write_arrow(&path, &schema, &[batch(0, 250), batch(250, 450)]).unwrap();
        let b = read_shown_rows(&path).unwrap();
        let rows = b.column(2).as_primitive::<arrow_array::types::Int32Type>();
        let country = b.column(0).as_string::<i32>();
        let count = |c: &str| (0..b.num_rows()).filter(|&i| country.value(i) == c).count();
        assert_eq!((count("AAA"), count("BBB")), (EXTRA_ROWS_SHOWN, 150));
        // File order kept; AAA's first 200 rows end at row 299.
        assert!(rows.values().windows(2).all(|w| w[0] < w[1]));
        let last_a = (0..b.num_rows())
            .filter(|&i| country.value(i) == "AAA")
            .map(|i| rows.value(i))
            .max();
        assert_eq!(last_a, Some(299));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn histogram_bins_cover_min_to_max() {
        let v = [0.2, 0.5, 1.0, 1.0, 5.0];
        let h = Histogram::of(v.iter().copied(), 4);
        assert_eq!((h.lo, h.hi), (0.2, 5.0));
        assert_eq!(h.counts, vec![4, 0, 0, 1]);
        assert_eq!(h.counts.iter().sum::<u64>(), 5);
        assert_eq!(h.edges(3), (3.8, 5.0));
        let flat = Histogram::of([2.0, 2.0, f64::NAN].into_iter(), 3);
        assert_eq!(flat.counts, vec![2, 0, 0]);
        assert_eq!(Histogram::of(std::iter::empty(), 2).counts, vec![0, 0]);
    }

    /// The chunked, parallel weight summary equals the plain per-group
    /// computation, on rows whose keys and strata interleave across chunks.
    #[test]
    fn weight_groups_over_many_chunks_equal_the_plain_computation() {
        use arrow_array::{Float64Array, Int32Array, StringArray};
        use std::sync::Arc;
        let n = 150_000;
        let mut x: u64 = 7;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 33
        };
        let (mut c, mut w, mut s, mut f, mut b, mut wt) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        for r in 0..n {
            // Runs of one key, then interleaved keys; a NaN and a null-free column.
            let k = if r < 70_000 { r / 30_000 } else { (next() % 5) as usize };
            c.push(["KEN", "BOL", "TUR", "KEN", "BOL"][k]);
            w.push([2021, 2021, 2021, 2022, 2022][k]);
            s.push(["a", "b", "c"][(next() % 3) as usize]);
            f.push(if next() % 4 == 0 { "L" } else { "M" });
            b.push(if r == 99_999 {
                f64::NAN
            } else {
                100.0 + (next() % 1000) as f64
            });
            wt.push(0.1 + (next() % 10_000) as f64 / 1000.0);
        }
        let batch = RecordBatch::try_from_iter(vec![
            ("country", Arc::new(StringArray::from(c.clone())) as ArrayRef),
            ("wave", Arc::new(Int32Array::from(w.clone())) as ArrayRef),
            ("stratum", Arc::new(StringArray::from(s.clone())) as ArrayRef),
            ("frame", Arc::new(StringArray::from(f.clone())) as ArrayRef),
            ("base_weight", Arc::new(Float64Array::from(b.clone())) as ArrayRef),
            ("weight", Arc::new(Float64Array::from(wt.clone())) as ArrayRef),
        ])
        .unwrap();
        let dir = std::env::temp_dir().join(format!("swvr-report-weights-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("weight")).unwrap();
        let path = dir.join("weight/weighted.arrow");
        swvr_core::io::write_arrow(&path, &batch.schema(), &[batch]).unwrap();
        let got = read_weights(&path, 25).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut keys: Vec<(&str, i32)> = c.iter().copied().zip(w.iter().copied()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(got.len(), keys.len());
        for (g, (country, wave)) in got.iter().zip(keys) {
            let rows: Vec<usize> = (0..n).filter(|&r| c[r] == country && w[r] == wave).collect();
            assert_eq!((g.country.as_str(), g.wave, g.n), (country, wave, rows.len()));
            assert_eq!(g.base, Histogram::of(rows.iter().map(|&r| b[r]), 25));
            assert_eq!(g.weight, Histogram::of(rows.iter().map(|&r| wt[r]), 25));
            let count = |v: &[&str], x: &str| rows.iter().filter(|&&r| v[r] == x).count() as u64;
            let frames: Vec<(String, u64)> = ["L", "M"].iter().map(|x| (x.to_string(), count(&f, x))).collect();
            assert_eq!(g.frames, frames);
            let strata: Vec<(String, u64)> = ["a", "b", "c"].iter().map(|x| (x.to_string(), count(&s, x))).collect();
            assert_eq!(g.strata, strata);
        }
    }
}
