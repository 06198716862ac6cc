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
mod micro;
mod numfmt;
mod sav;
mod tabular;
mod topline;

pub(crate) use micro::Micro;

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

const SVYSET: &str = "svyset [pweight=weight], strata(stratum) vce(linearized) singleunit(centered)";

/// The `.dta` characteristics: `swvr_svyset` (the linearised design) and,
/// when the microdata carry replicate weights with their design, one
/// `swvr_svyset_COUNTRY_WAVE` per country-wave (the replicate design of that
/// country-wave: run it on that country-wave's rows).
fn dta_characteristics(schema: &Schema) -> Vec<(String, String)> {
    let mut out = vec![("swvr_svyset".to_string(), SVYSET.to_string())];
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
/// bootstrap's `bsrweight()` without `bsn()` (plain, not mean, bootstrap
/// weights); `mse` when R's `mse` is true: Stata then centres on the
/// full-sample estimate, else on the mean of the replicates, as R does.
/// Stata's constant in front of the sum is not verified (docs/export.md).
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
/// `xlsx` format has no microdata file (`None`). [`export`] writes the same
/// bytes from the stage files, batch by batch; benchmarks call this on one
/// batch.
pub fn write_weighted(
    batch: &RecordBatch,
    source: &Path,
    q: &Questionnaire,
    format: Format,
    dir: &Path,
) -> Result<Option<PathBuf>, ExportError> {
    write_micro(&Micro::batch(batch, source), q, format, dir)
}

/// Writes the microdata `m` as `dir/weighted.<format>` (see [`write_weighted`]).
/// `.sav` and `.dta` read it twice: once for the statistics their header
/// needs (longest texts; for `.dta` the range of the codes), reading only
/// those columns, then for the records.
fn write_micro(m: &Micro<'_>, q: &Questionnaire, format: Format, dir: &Path) -> Result<Option<PathBuf>, ExportError> {
    let path = dir.join(format!("weighted.{format}"));
    match format {
        Format::Sav => {
            let mut dict = dict::Dict::new(m.schema(), m.rows(), q, m.source())?;
            m.scan(&mut dict, false)?;
            sav::write(&path, &dict, &file_label(q), m)?
        }
        Format::Dta => {
            let mut dict = dict::Dict::new(m.schema(), m.rows(), q, m.source())?;
            m.scan(&mut dict, true)?;
            let data_label = format!("{}; weight: weight [pweight]", file_label(q));
            dta::write(&path, &dict, &data_label, &dta_characteristics(m.schema()), m)?
        }
        Format::Parquet => {
            let labelled = label_schema(m.schema().as_ref().clone(), q, &Provenance::default());
            tabular::write_parquet(&path, Arc::new(labelled), m)?
        }
        Format::Csv => tabular::write_csv(&path, m)?,
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
    let micro = if needs_micro {
        need(out.join("weight/weighted.arrow"), "swvr weight --data DIR --out OUT")?;
        Some(Micro::open(out)?)
    } else {
        None
    };
    let tables_path = need(out.join("tabulate/tables.arrow"), "swvr tabulate --out OUT")?;
    let odds_path = need(out.join("model/odds_ratios.arrow"), "swvr model --out OUT")?;
    let prov = Provenance::default();
    let label = |b: &RecordBatch| tabular::relabel(b, label_schema(b.schema().as_ref().clone(), q, &prov));
    let tables = label(&swvr_core::io::read_arrow(&tables_path)?)?;
    let odds = label(&swvr_core::io::read_arrow(&odds_path)?)?;
    for f in formats {
        if let Some(m) = &micro
            && let Some(p) = write_micro(m, q, f, &dir)?
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
                for (name, b) in [("tables.parquet", &tables), ("odds_ratios.parquet", &odds)] {
                    let p = put(name);
                    tabular::write_parquet(&p, b.schema(), &Micro::batch(b, &p))?;
                }
            }
            Format::Csv => {
                for (name, b) in [("tables.csv", &tables), ("odds_ratios.csv", &odds)] {
                    let p = put(name);
                    tabular::write_csv(&p, &Micro::batch(b, &p))?;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use swvr_core::replicates::ReplicateKind;

    #[test]
    fn bootstrap_svyset_centres_as_r_does_and_has_no_mean_weight_adjustment() {
        let r = vec![1.0; 200];
        assert_eq!(
            replicate_svyset(ReplicateKind::Bootstrap, 1.0 / 199.0, false, &r),
            "svyset [pweight=weight], vce(bootstrap) bsrweight(rep_1-rep_200)"
        );
        assert_eq!(
            replicate_svyset(ReplicateKind::Bootstrap, 1.0 / 199.0, true, &r),
            "svyset [pweight=weight], vce(bootstrap) bsrweight(rep_1-rep_200) mse"
        );
    }
}
