//! `swvr ingest`: validate a wave bundle against the questionnaire.
//!
//! Reads `DATA/respondents.csv` as a stream (cut into units of whole
//! records that worker threads validate and build in parallel; the calling
//! thread takes them back in file order for duplicate ids, rejects and
//! counts: `pipeline.rs`), checks every row against the questionnaire
//! definition (codes, ranges, routing both ways, keys, duplicate ids, frames
//! of design.csv) and writes, under `OUT/ingest/`:
//! - `respondents.arrow`: the accepted rows, typed
//!   ([`swvr_core::schema::respondent_schema`]), in batches of 65 536 rows;
//! - `rejects.csv`: `line,respondent_id,reasons,raw` for every rejected row;
//! - `validation.json`: counts that reconcile (see [`Report`]).
//!
//! design.csv and targets.csv are read whole and validated first
//! ([`swvr_core::bundle::read_design`], [`swvr_core::bundle::read_targets`]). Anything that makes the bundle
//! unusable is an [`IngestError`] naming file, line and column; no output
//! file of the stage is then put in place.
//!
//! ```no_run
//! use swvr_core::{groups::Selection, progress::NoProgress, questionnaire::Questionnaire};
//! let q = Questionnaire::default_2021();
//! let s = swvr_ingest::ingest("bundle".as_ref(), "out".as_ref(), &q, &Selection::default(), &NoProgress)?;
//! assert_eq!(s.rows_read, s.rows_accepted + s.rows_rejected);
//! # Ok::<(), swvr_ingest::IngestError>(())
//! ```

mod bundle;
mod columnar;
mod error;
mod exclude;
mod ids;
mod pipeline;
mod reader;
mod report;
mod source;
mod statinput;
mod text;
mod validate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use swvr_core::bundle::{read_design, read_targets};
use swvr_core::groups::Selection;
use swvr_core::io::{ArrowFileWriter, IoError};
use swvr_core::progress::Progress;
use swvr_core::questionnaire::Questionnaire;
use swvr_core::schema::{required_columns, respondent_schema};

pub use bundle::{RESPONDENTS_FILES, respondents_file};
pub use error::IngestError;
pub use exclude::{Removal, exclude};
pub use report::{CountryCounts, Report};

use bundle::Bundle;
use text::{Int, is_iso3, parse_int, trim};
use validate::Plan;

/// A valid (country, wave) key.
type CountryWave = ([u8; 3], i32);

/// Rows per Arrow record batch.
pub const BATCH_ROWS: usize = 1 << 16;

/// Row counts of an ingest run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Records read (inside the selection).
    pub rows_read: u64,
    /// Records accepted.
    pub rows_accepted: u64,
    /// Records rejected.
    pub rows_rejected: u64,
    /// (accepted, rejected) by country.
    pub by_country: BTreeMap<String, (u64, u64)>,
    /// Records skipped because their country or wave is outside `--country`/`--wave`.
    pub rows_outside_selection: u64,
    /// Reject reasons by kind and column (`out_of_range:Q3A`) and their
    /// occurrences, as `reasons_by_column` of validation.json.
    pub reasons: BTreeMap<String, u64>,
}

impl IngestSummary {
    /// The `n` most frequent reasons of [`IngestSummary::reasons`], most
    /// frequent first (ties in name order).
    pub fn top_reasons(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.reasons.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

/// Country bucket of rows whose country is not a valid code.
pub const INVALID_COUNTRY: &str = "(invalid)";

/// Reads `data/{respondents,design,targets}.csv`, writes `out/ingest/`.
pub fn ingest(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    ingest_tuned(data, out, q, sel, progress, pipeline::Tuning::default())
}

/// [`ingest`] with the input cut into units of about `unit_bytes` bytes
/// (at least one record each) validated by `workers` threads: for tests
/// that cut records everywhere. The outputs do not depend on either.
#[doc(hidden)]
pub fn ingest_with_units(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    sel: &Selection,
    unit_bytes: usize,
    workers: usize,
) -> Result<IngestSummary, IngestError> {
    let tuning = pipeline::Tuning {
        unit_bytes,
        unit_records: usize::MAX,
        workers,
        columnar: true,
    };
    ingest_tuned(data, out, q, sel, &swvr_core::progress::NoProgress, tuning)
}

/// [`ingest`] with the input cut into units of `unit_records` records
/// (at most 8 MiB) validated by `workers` threads: for tests that cut
/// units at every record count. The outputs do not depend on either.
#[doc(hidden)]
pub fn ingest_with_record_units(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    sel: &Selection,
    unit_records: usize,
    workers: usize,
) -> Result<IngestSummary, IngestError> {
    let tuning = pipeline::Tuning {
        unit_records,
        workers,
        ..pipeline::Tuning::default()
    };
    ingest_tuned(data, out, q, sel, &swvr_core::progress::NoProgress, tuning)
}

/// [`ingest`] with every record validated row by row (the one row-wise
/// check alone, no column-wise fast path), in units of about `unit_bytes`
/// bytes: what tests compare the fast path with.
#[doc(hidden)]
pub fn ingest_row_wise(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    sel: &Selection,
    unit_bytes: usize,
) -> Result<IngestSummary, IngestError> {
    let tuning = pipeline::Tuning {
        unit_bytes,
        unit_records: usize::MAX,
        workers: 1,
        columnar: false,
    };
    ingest_tuned(data, out, q, sel, &swvr_core::progress::NoProgress, tuning)
}

fn ingest_tuned(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    sel: &Selection,
    progress: &dyn Progress,
    tuning: pipeline::Tuning,
) -> Result<IngestSummary, IngestError> {
    let files = Bundle::find(data)?;
    let design = read_design(&files.design)?;
    let targets = read_targets(&files.targets)?;
    let design_frames: HashMap<([u8; 3], i32), [bool; 2]> = design
        .frames()
        .into_iter()
        .filter_map(|((c, w), f)| Some((c.as_bytes().try_into().ok()?, w)).map(|k| (k, f)))
        .collect();
    let target_keys: HashSet<([u8; 3], i32)> = targets
        .rows
        .iter()
        .filter_map(|t| Some((t.country.as_bytes().try_into().ok()?, t.wave)))
        .collect();

    let path = &files.respondents;
    let opened = source::open(path, Some(q))?;
    let required = required_columns(q);
    let cols = source::locate(&opened, &required, path)?;
    let extras: Vec<(usize, String)> = opened
        .names
        .iter()
        .enumerate()
        .filter(|(i, _)| !cols.contains(i))
        .map(|(i, n)| (i, n.clone()))
        .collect();
    let extra_names: Vec<String> = extras.iter().map(|(_, n)| n.clone()).collect();
    let schema = respondent_schema(q, &extra_names);
    let plan = Plan::new(q, &cols, extras, opened.names.len());
    let header_line = opened.header_line;
    let src = opened.source;

    let dir = out.join(swvr_core::stages::INGEST);
    let arrow = ArrowFileWriter::create(&swvr_core::stages::path(out, swvr_core::stages::RESPONDENTS), &schema)?;
    let rejects_path = swvr_core::stages::path(out, swvr_core::stages::REJECTS);
    let mut rejects = report::RejectsWriter::create(&rejects_path)?;
    let mut rep = Report::new(sel);
    rep.file = path
        .file_name()
        .map_or_else(|| "respondents.csv".into(), |n| n.to_string_lossy().into_owned());
    let ctx = pipeline::Ctx {
        plan: &plan,
        sel,
        schema: schema.clone(),
        design_frames: &design_frames,
        target_keys: &target_keys,
        path,
        design: &files.design,
        targets: &files.targets,
        csv: header_line.is_some(),
        dir: &dir,
        records_hint: src.records_hint(),
    };
    let file_len = std::fs::metadata(path).map(|m| m.len()).ok();
    progress.start("ingest", file_len, swvr_core::progress::Unit::Bytes);
    let (feed, newlines) = src.feed();
    let (outcome, arrow) = pipeline::run(
        &ctx,
        feed,
        newlines,
        tuning,
        arrow,
        &mut rejects,
        &mut rep,
        progress,
        file_len,
    )?;
    if outcome.records == 0 {
        return Err(match header_line {
            Some(line) => IngestError::NoRows {
                file: path.clone(),
                line,
            },
            None => IngestError::NoRecords { file: path.clone() },
        });
    }
    if rep.rows_read == 0 {
        let keys = outcome.outside.keys.iter().map(|(c, w)| (c.as_str(), *w));
        return Err(sel.nothing_selected(path, keys).into());
    }
    progress.finish();
    arrow.finish()?;
    rejects.finish()?;
    let mut json = serde_json::to_string_pretty(&rep).map_err(|e| IoError::Io {
        path: dir.join("validation.json"),
        source: e.into(),
    })?;
    json.push('\n');
    swvr_core::io::write_atomic(&dir.join("validation.json"), json.as_bytes())?;
    Ok(rep.summary())
}

/// The valid (country, wave)s of the rows outside the selection (named
/// when the selection matches nothing).
#[derive(Default)]
pub(crate) struct Outside {
    last: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) keys: std::collections::BTreeSet<(String, i32)>,
}

impl Outside {
    #[inline]
    pub(crate) fn note(&mut self, rdr: &impl reader::Fields, plan: &Plan) {
        let country = trim(rdr.field(plan.country_col()));
        let wave = trim(rdr.field(plan.wave_col()));
        if let Some((c, w)) = &self.last
            && c.as_slice() == country
            && w.as_slice() == wave
        {
            return;
        }
        self.last = Some((country.to_vec(), wave.to_vec()));
        if let (true, Int::Value(w)) = (is_iso3(country), parse_int(wave))
            && let (Ok(c), Ok(w)) = (std::str::from_utf8(country), i32::try_from(w))
        {
            self.keys.insert((c.to_string(), w));
        }
    }
}

/// The id for rejects.csv "when readable": UTF-8, at most 256 bytes, no
/// control characters (a misaligned record can put anything in that column).
pub(crate) fn readable_id(id: &[u8]) -> &str {
    match std::str::from_utf8(id) {
        Ok(s) if s.len() <= 256 && !s.chars().any(char::is_control) => s,
        _ => "",
    }
}

/// True when the record's country and wave text are inside the selection.
pub(crate) fn selected(sel: &Selection, rdr: &impl reader::Fields, plan: &Plan) -> bool {
    let country = trim(rdr.field(plan.country_col()));
    let c_ok = sel.countries().is_empty() || sel.countries().iter().any(|c| c.as_bytes() == country);
    let w_ok = sel.waves().is_empty()
        || matches!(parse_int(trim(rdr.field(plan.wave_col()))),
            Int::Value(v) if i32::try_from(v).is_ok_and(|v| sel.waves().contains(&v)));
    c_ok && w_ok
}

/// The error when the writer thread stopped without saying why.
pub(crate) fn writer_gone() -> IngestError {
    IngestError::Output(IoError::Io {
        path: PathBuf::from("respondents.arrow"),
        source: std::io::Error::other("the Arrow writer thread stopped"),
    })
}

pub(crate) fn arrow_err(dir: &Path, source: arrow_schema::ArrowError) -> IngestError {
    IngestError::Output(IoError::Arrow {
        path: dir.join("respondents.arrow"),
        source,
    })
}

/// The country bucket of a row in validation.json: its code when valid.
pub(crate) fn country_bucket(country: &[u8]) -> &str {
    if is_iso3(country) {
        std::str::from_utf8(country).unwrap_or(INVALID_COUNTRY)
    } else {
        INVALID_COUNTRY
    }
}
