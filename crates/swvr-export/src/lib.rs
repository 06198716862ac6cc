//! `swvr export`: the weighted microdata, the tables and the model in the
//! formats survey people open — SPSS `.sav`, Stata `.dta`, Parquet, CSV and
//! Excel — with the questionnaire's labels.
//!
//! [`export`] reads `OUT/ingest/respondents.arrow` joined row by row with
//! `OUT/weight/weighted.arrow` (the full weighted microdata; and, when present,
//! `OUT/weight/replicates.arrow`), `OUT/tabulate/tables.arrow` and
//! `OUT/model/odds_ratios.arrow`, and writes into `OUT/export/`:
//!
//! | format | files |
//! |---|---|
//! | `sav` | `weighted.sav` (SPSS: labels, DK/refused user-missing, `WEIGHT BY weight`) |
//! | `dta` | `weighted.dta` (Stata 118: labels, DK/refused as `.d`/`.r`) |
//! | `parquet` | `weighted.parquet`, `tables.parquet`, `odds_ratios.parquet` |
//! | `csv` | `weighted.csv`, `tables.csv`, `odds_ratios.csv` |
//! | `xlsx` | `tables.xlsx`, `odds_ratios.xlsx`, `topline.xlsx` |
//!
//! Every file is written atomically and its bytes depend only on the
//! inputs (no timestamps). The `.sav` and `.dta` writers are written by
//! hand in one module each ([`sav`](crate) and [`dta`](crate) internals),
//! after the formats' published descriptions.
//!
//! ```no_run
//! use swvr_export::{Format, export};
//! let q = swvr_core::questionnaire::Questionnaire::default_2021();
//! let files = export(std::path::Path::new("out"), &q, &[Format::Parquet, Format::Sav]).unwrap();
//! assert!(files.iter().any(|f| f.ends_with("weighted.sav")));
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use swvr_core::io::IoError;
use swvr_core::labels::{Provenance, label_schema};
use swvr_core::questionnaire::Questionnaire;

mod chunks;
mod dict;
mod dta;
mod sav;
mod tabular;
mod topline;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// SPSS system file.
    Sav,
    /// Stata 118 data file.
    Dta,
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values.
    Csv,
    /// Excel workbook (tables, odds ratios, topline).
    Xlsx,
}

impl Format {
    /// Every format, in the order files are written.
    pub const ALL: [Format; 5] = [Format::Sav, Format::Dta, Format::Parquet, Format::Csv, Format::Xlsx];

    /// The file extension and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Sav => "sav",
            Format::Dta => "dta",
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown export format `{s}`; expected one of sav, dta, parquet, csv, xlsx"))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading an input or writing an output failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// An input file of an earlier stage is missing.
    #[error("{}: not found; run `{make}` first (or `swvr run`)", path.display())]
    Missing {
        /// The missing file.
        path: PathBuf,
        /// The command that makes it.
        make: String,
    },
    /// An input file does not have the expected shape.
    #[error("{}: {message}", path.display())]
    Input {
        /// The input file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data cannot be written in the format.
    #[error("{}: {message}", path.display())]
    Format {
        /// The output file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

fn need(path: PathBuf, make: &str) -> Result<PathBuf, ExportError> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(ExportError::Missing {
            path,
            make: make.to_string(),
        })
    }
}

/// The weighted microdata (respondents.arrow joined row by row with
/// weighted.arrow, `swvr_core::handoff::read_microdata`) with the replicate
/// weights of replicates.arrow (when the file exists) appended: its Float64
/// columns that the microdata lacks, row for row.
fn microdata(out: &Path) -> Result<(RecordBatch, PathBuf), ExportError> {
    need(out.join("weight/weighted.arrow"), "swvr weight --data DIR --out OUT")?;
    let joined = swvr_core::handoff::read_microdata(out)?;
    let (batch, path) = (joined.batch, joined.source);
    let rep_path = out.join("weight/replicates.arrow");
    if !rep_path.is_file() {
        return Ok((batch, path));
    }
    let rep = swvr_core::io::read_arrow(&rep_path)?;
    if rep.num_rows() != batch.num_rows() {
        return Err(ExportError::Input {
            path: rep_path,
            message: format!(
                "{} rows, but weighted.arrow has {}; replicate weights must be row for row",
                rep.num_rows(),
                batch.num_rows()
            ),
        });
    }
    check_keys(&batch, &rep, &rep_path)?;
    // The replicate design (R's svrepdesign arguments) rides along in the
    // schema metadata: the .dta writer turns it into svyset commands.
    let rep_md: Vec<(String, String)> = rep
        .schema()
        .metadata()
        .iter()
        .filter(|(k, _)| k.starts_with("swvr.replicates."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if rep_md.iter().any(|(k, _)| k == swvr_core::replicates::META_TYPE) {
        swvr_core::replicates::ReplicateMeta::from_metadata(rep.schema().metadata(), &rep_path).map_err(|e| {
            ExportError::Input {
                path: rep_path.clone(),
                message: e.to_string(),
            }
        })?;
    }
    let schema = batch.schema();
    let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
    let mut cols = batch.columns().to_vec();
    for (f, c) in rep.schema().fields().iter().zip(rep.columns()) {
        if *f.data_type() == arrow_schema::DataType::Float64 && schema.index_of(f.name()).is_err() {
            fields.push(f.clone());
            cols.push(c.clone());
        }
    }
    let mut md = schema.metadata().clone();
    md.extend(rep_md);
    let merged = Schema::new_with_metadata(fields, md);
    let batch = RecordBatch::try_new(Arc::new(merged), cols).map_err(|e| ExportError::Input {
        path: rep_path,
        message: format!("cannot append replicate weights: {e}"),
    })?;
    Ok((batch, path))
}

/// Checks that replicates.arrow's keys (`country`, `wave`,
/// `respondent_id`, those it has) are weighted.arrow's, row for row.
fn check_keys(batch: &RecordBatch, rep: &RecordBatch, rep_path: &Path) -> Result<(), ExportError> {
    for name in ["country", "wave", "respondent_id"] {
        let (Ok(i), Ok(j)) = (batch.schema().index_of(name), rep.schema().index_of(name)) else {
            continue;
        };
        let (a, b) = (batch.column(i), rep.column(j));
        if a.as_ref() == b.as_ref() {
            continue;
        }
        let row = (0..a.len())
            .find(|&r| a.slice(r, 1).as_ref() != b.slice(r, 1).as_ref())
            .unwrap_or(0);
        return Err(ExportError::Input {
            path: rep_path.to_path_buf(),
            message: format!(
                "row {}: `{name}` differs from weighted.arrow's; replicate weights must be row for row (the same keys in the same order)",
                row + 1
            ),
        });
    }
    Ok(())
}

const SVYSET: &str = "svyset [pweight=weight], strata(stratum) vce(linearized) singleunit(centered)";

/// The `.dta` characteristics: `swvr_svyset` (the linearised design) and,
/// when the microdata carry replicate weights with their design, one
/// `swvr_svyset_COUNTRY_WAVE` per country-wave (the replicate design of that
/// country-wave: run it on that country-wave's rows).
fn dta_characteristics(batch: &RecordBatch) -> Vec<(String, String)> {
    let mut out = vec![("swvr_svyset".to_string(), SVYSET.to_string())];
    let schema = batch.schema();
    let md = schema.metadata();
    if !md.contains_key(swvr_core::replicates::META_TYPE) {
        return out;
    }
    let Ok(meta) = swvr_core::replicates::ReplicateMeta::from_metadata(md, Path::new("replicates.arrow")) else {
        return out;
    };
    for ((country, wave), g) in &meta.groups {
        out.push((
            format!("swvr_svyset_{country}_{wave}"),
            replicate_svyset(
                meta.kind,
                meta.scale,
                meta.mse,
                &g.rscales[..g.replicates.min(g.rscales.len())],
            ),
        ));
    }
    out
}

/// Stata's `svyset` for replicate weights `rep_1 … rep_R` with R's
/// `svrepdesign(type, scale, rscales, mse)`: jackknife multipliers
/// `scale × rscale_r` (runs of equal ones share a `jkrweight()`); the
/// bootstrap's `bsrweight()` (Stata's bootstrap formula has no scale of
/// its own: docs/export.md).
pub(crate) fn replicate_svyset(
    kind: swvr_core::replicates::ReplicateKind,
    scale: f64,
    mse: bool,
    rscales: &[f64],
) -> String {
    use swvr_core::replicates::{ReplicateKind, column_name};
    let range = |a: usize, b: usize| {
        if a == b {
            column_name(a)
        } else {
            format!("{}-{}", column_name(a), column_name(b))
        }
    };
    let mut s = String::from("svyset [pweight=weight],");
    match kind {
        ReplicateKind::Jackknife => {
            s.push_str(" vce(jackknife)");
            let mut start = 0;
            while start < rscales.len() {
                let m = scale * rscales[start];
                let mut end = start;
                while end + 1 < rscales.len() && scale * rscales[end + 1] == m {
                    end += 1;
                }
                s.push_str(&format!(" jkrweight({}, multiplier({m}))", range(start, end)));
                start = end + 1;
            }
        }
        ReplicateKind::Bootstrap => {
            s.push_str(" vce(bootstrap)");
            if !rscales.is_empty() {
                s.push_str(&format!(" bsrweight({})", range(0, rscales.len() - 1)));
            }
        }
    }
    if mse {
        s.push_str(" mse");
    }
    s
}

fn file_label(q: &Questionnaire) -> String {
    format!("swvr weighted microdata: {}", q.name())
}

/// Writes the weighted microdata `batch` (read from `source`, replicate
/// weights appended) as `dir/weighted.<format>` and returns the path; the
/// `xlsx` format has no microdata file (`None`). [`export`] calls this for
/// each format; benchmarks call it on one batch.
pub fn write_weighted(
    batch: &RecordBatch,
    source: &Path,
    q: &Questionnaire,
    format: Format,
    dir: &Path,
) -> Result<Option<PathBuf>, ExportError> {
    let path = dir.join(format!("weighted.{format}"));
    match format {
        Format::Sav => sav::write(&path, &dict::Dict::new(batch, q, source)?, &file_label(q))?,
        Format::Dta => {
            let data_label = format!("{}; weight: weight [pweight]", file_label(q));
            dta::write(
                &path,
                &dict::Dict::new(batch, q, source)?,
                &data_label,
                &dta_characteristics(batch),
            )?
        }
        Format::Parquet => {
            let labelled = tabular::relabel(
                batch,
                label_schema(batch.schema().as_ref().clone(), q, &Provenance::default()),
            )?;
            tabular::write_parquet(&path, &labelled)?
        }
        Format::Csv => tabular::write_csv(&path, batch)?,
        Format::Xlsx => return Ok(None),
    }
    Ok(Some(path))
}

/// Writes the files of `formats` into `OUT/export/` and returns their paths.
pub fn export(out: &Path, q: &Questionnaire, formats: &[Format]) -> Result<Vec<PathBuf>, ExportError> {
    let mut formats = formats.to_vec();
    formats.sort_unstable();
    formats.dedup();
    let dir = out.join("export");
    let mut written = Vec::new();
    let needs_micro = formats.iter().any(|f| *f != Format::Xlsx);
    let micro = if needs_micro { Some(microdata(out)?) } else { None };
    let tables_path = need(out.join("tabulate/tables.arrow"), "swvr tabulate --out OUT")?;
    let odds_path = need(out.join("model/odds_ratios.arrow"), "swvr model --out OUT")?;
    let prov = Provenance::default();
    let label = |b: &RecordBatch| tabular::relabel(b, label_schema(b.schema().as_ref().clone(), q, &prov));
    let tables = label(&swvr_core::io::read_arrow(&tables_path)?)?;
    let odds = label(&swvr_core::io::read_arrow(&odds_path)?)?;
    for f in formats {
        if let Some((batch, src)) = &micro
            && let Some(p) = write_weighted(batch, src, q, f, &dir)?
        {
            written.push(p);
        }
        let mut put = |name: &str| {
            let p = dir.join(name);
            written.push(p.clone());
            p
        };
        match f {
            Format::Sav | Format::Dta => {}
            Format::Parquet => {
                tabular::write_parquet(&put("tables.parquet"), &tables)?;
                tabular::write_parquet(&put("odds_ratios.parquet"), &odds)?;
            }
            Format::Csv => {
                tabular::write_csv(&put("tables.csv"), &tables)?;
                tabular::write_csv(&put("odds_ratios.csv"), &odds)?;
            }
            Format::Xlsx => {
                tabular::write_xlsx(&put("tables.xlsx"), &[("tables", &tables)])?;
                tabular::write_xlsx(&put("odds_ratios.xlsx"), &[("odds_ratios", &odds)])?;
                topline::write(&put("topline.xlsx"), &tables, &tables_path, q)?;
            }
        }
    }
    Ok(written)
}
