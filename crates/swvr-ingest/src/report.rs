//! rejects.csv and validation.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use swvr_core::groups::Selection;
use swvr_core::io::{AtomicFile, IoError};

use crate::IngestSummary;
use crate::text::escape_raw;
use crate::validate::Reason;

/// Streams rejects.csv (`line,respondent_id,reasons,raw`, RFC 4180 quoting).
pub(crate) struct RejectsWriter {
    path: PathBuf,
    csv: csv::Writer<AtomicFile>,
    reasons: String,
    raw: String,
}

impl RejectsWriter {
    pub(crate) fn create(path: &Path) -> Result<Self, IoError> {
        let file = AtomicFile::create(path)?;
        let mut w = Self {
            path: path.to_path_buf(),
            csv: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(file),
            reasons: String::new(),
            raw: String::new(),
        };
        w.record(&["line", "respondent_id", "reasons", "raw"])?;
        Ok(w)
    }

    fn record(&mut self, fields: &[&str]) -> Result<(), IoError> {
        self.csv.write_record(fields).map_err(|e| IoError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })
    }

    /// Writes one rejected record.
    pub(crate) fn write(&mut self, line: u64, id: &str, reasons: &[Reason], raw: &[u8]) -> Result<(), IoError> {
        self.reasons.clear();
        for (i, r) in reasons.iter().enumerate() {
            if i > 0 {
                self.reasons.push(';');
            }
            self.reasons.push_str(&r.text);
        }
        self.raw.clear();
        if starts_formula(raw) {
            self.raw.push('\'');
        }
        escape_raw(raw, &mut self.raw);
        let line = line.to_string();
        let id = neutralised(id);
        let (reasons, raw) = (std::mem::take(&mut self.reasons), std::mem::take(&mut self.raw));
        let res = self.record(&[&line, &id, &reasons, &raw]);
        self.reasons = reasons;
        self.raw = raw;
        res
    }

    /// Flushes and renames the file into place.
    pub(crate) fn finish(self) -> Result<(), IoError> {
        let path = self.path;
        let file = self.csv.into_inner().map_err(|e| IoError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        file.commit()
    }
}

/// True when a spreadsheet would read a cell starting with these bytes as a
/// formula (`=`, `+`, `-`, `@`, and tab or carriage return, which some
/// spreadsheets skip before one), or it starts with `'`, the mark that
/// [`neutralised`] adds (so that removing one leading `'` always recovers
/// the original).
fn starts_formula(cell: &[u8]) -> bool {
    matches!(cell.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\''))
}

/// A text cell of rejects.csv made inert for spreadsheets (OWASP's advice on
/// CSV injection): `'` is put before a cell that [`starts_formula`]. Reading
/// back, a cell that starts with `'` had one added: drop it.
pub(crate) fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    if starts_formula(cell.as_bytes()) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Rows of one country in validation.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryCounts {
    /// Records read.
    pub rows_read: u64,
    /// Records accepted.
    pub rows_accepted: u64,
    /// Records rejected.
    pub rows_rejected: u64,
}

/// The `--country`/`--wave` selection in effect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionReport {
    /// Selected countries (empty = all).
    pub countries: Vec<String>,
    /// Selected waves (empty = all).
    pub waves: Vec<i32>,
}

/// validation.json. Keys are written in this order; maps are sorted.
/// Always `rows_read = rows_accepted + rows_rejected`, and the same holds in
/// every `by_country` entry, whose sums are the totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Input file name.
    pub file: String,
    /// Records read inside the selection.
    pub rows_read: u64,
    /// Records accepted (rows of respondents.arrow).
    pub rows_accepted: u64,
    /// Records rejected (rows of rejects.csv).
    pub rows_rejected: u64,
    /// Records skipped by `--country`/`--wave` (not in `rows_read`).
    pub rows_outside_selection: u64,
    /// The selection.
    pub selection: SelectionReport,
    /// Occurrences of each reason kind (the part of a reason before `:`).
    pub reasons: BTreeMap<String, u64>,
    /// Occurrences by kind and column (`out_of_range:Q3A`); kinds naming no
    /// column (`duplicate_id`, `field_count`, `frame_not_in_design`) appear as the kind.
    pub reasons_by_column: BTreeMap<String, u64>,
    /// Rejected records having at least one reason of each kind.
    pub rejected_rows_by_reason: BTreeMap<String, u64>,
    /// Counts by country code (`(invalid)` for rows whose country is not a valid code).
    pub by_country: BTreeMap<String, CountryCounts>,
}

impl Report {
    pub(crate) fn new(sel: &Selection) -> Self {
        Self {
            file: "respondents.csv".into(),
            selection: SelectionReport {
                countries: sel.countries().to_vec(),
                waves: sel.waves().to_vec(),
            },
            ..Self::default()
        }
    }

    /// Adds `accepted` and `rejected` rows of country bucket `bucket`.
    pub(crate) fn count_rows(&mut self, bucket: &str, accepted: u64, rejected: u64) {
        let c = match self.by_country.get_mut(bucket) {
            Some(c) => c,
            None => self.by_country.entry(bucket.to_string()).or_default(),
        };
        c.rows_read += accepted + rejected;
        c.rows_accepted += accepted;
        c.rows_rejected += rejected;
        self.rows_read += accepted + rejected;
        self.rows_accepted += accepted;
        self.rows_rejected += rejected;
    }

    pub(crate) fn count_reasons(&mut self, reasons: &[Reason]) {
        for (i, r) in reasons.iter().enumerate() {
            *self.reasons.entry(r.kind.to_string()).or_default() += 1;
            let key = if r.column.is_empty() {
                r.kind.to_string()
            } else {
                format!("{}:{}", r.kind, r.column)
            };
            *self.reasons_by_column.entry(key).or_default() += 1;
            if !reasons[..i].iter().any(|p| p.kind == r.kind) {
                *self.rejected_rows_by_reason.entry(r.kind.to_string()).or_default() += 1;
            }
        }
    }

    pub(crate) fn summary(&self) -> IngestSummary {
        IngestSummary {
            rows_read: self.rows_read,
            rows_accepted: self.rows_accepted,
            rows_rejected: self.rows_rejected,
            by_country: self
                .by_country
                .iter()
                .map(|(k, c)| (k.clone(), (c.rows_accepted, c.rows_rejected)))
                .collect(),
            rows_outside_selection: self.rows_outside_selection,
            reasons: self.reasons_by_column.clone(),
        }
    }
}
