//! File-level errors: the bundle cannot be ingested at all.

use std::path::PathBuf;

use swvr_core::io::IoError;

/// A file-level error. Every variant names the file; those about a place in
/// a file also name its physical line (header = 1) and column, the value
/// found and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file cannot be opened or read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// File.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A header and no data rows.
    #[error("{}: line {line}: header but no data rows; expected at least one record after the header", file.display())]
    NoRows {
        /// File.
        file: PathBuf,
        /// Line of the header.
        line: u64,
    },
    /// A value of a file swvr reads back (rejects.csv, validation.json) is wrong.
    #[error("{}: line {line}, column `{column}`: found `{value}`, expected {expected}", file.display())]
    Value {
        /// File.
        file: PathBuf,
        /// Physical line.
        line: u64,
        /// Column name.
        column: String,
        /// The value found (escaped, shortened).
        value: String,
        /// What was expected.
        expected: String,
    },
    /// design.csv or targets.csv is unusable, or the respondents file's
    /// header is (empty, UTF-16, a column missing or repeated).
    #[error(transparent)]
    Bundle(#[from] swvr_core::bundle::BundleError),
    /// A (country, wave) of respondents.csv has no rows in design.csv or targets.csv.
    #[error("{}: line {line}, columns `country`,`wave`: {country} {wave} has no rows in {}; expected every (country, wave) of the respondents to be defined there", file.display(), missing_in.display())]
    UnknownCountryWave {
        /// respondents.csv.
        file: PathBuf,
        /// First line with this (country, wave).
        line: u64,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// design.csv or targets.csv.
        missing_in: PathBuf,
    },
    /// A (country, wave) of an SPSS or Stata respondents file has no rows
    /// in design.csv or targets.csv.
    #[error("{}: record {record}, variables `country`,`wave`: {country} {wave} has no rows in {}; expected every (country, wave) of the respondents to be defined there", file.display(), missing_in.display())]
    UnknownCountryWaveRecord {
        /// respondents.sav, .zsav or .dta.
        file: PathBuf,
        /// First record with this (country, wave) (first record = 1).
        record: u64,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// design.csv or targets.csv.
        missing_in: PathBuf,
    },
    /// More than one respondents file in the bundle.
    #[error("{}: {} respondents files ({}); expected exactly one of respondents.csv, respondents.sav, respondents.zsav, respondents.dta", dir.display(), files.len(), files.join(", "))]
    ManyRespondents {
        /// The bundle folder.
        dir: PathBuf,
        /// The respondents files found.
        files: Vec<String>,
    },
    /// An SPSS or Stata respondents file lacks a required variable.
    #[error("{}: missing required variable `{column}`; expected variables {expected}", file.display())]
    MissingVariable {
        /// File.
        file: PathBuf,
        /// The missing variable.
        column: String,
        /// The required variables.
        expected: String,
    },
    /// A variable of an SPSS or Stata respondents file is not usable
    /// (a value label that disagrees with the questionnaire, a repeated name).
    #[error("{}: variable `{variable}`: {what}", file.display())]
    Variable {
        /// File.
        file: PathBuf,
        /// Variable name.
        variable: String,
        /// What is wrong and what was expected.
        what: String,
    },
    /// An SPSS or Stata respondents file without records.
    #[error("{}: the file has no records; expected at least one respondent", file.display())]
    NoRecords {
        /// File.
        file: PathBuf,
    },
    /// An SPSS or Stata file cannot be read (damaged, truncated, another format).
    #[error(transparent)]
    Stat(#[from] swvr_statfile::StatError),
    /// `--country`/`--wave` match no row of respondents.csv.
    #[error(transparent)]
    NothingSelected(#[from] swvr_core::groups::NothingSelected),
    /// A record over one of swvr's input limits (header width, field or
    /// record length: [`swvr_core::limits`]).
    #[error("{}: line {line}: {what}", file.display())]
    Limit {
        /// File.
        file: PathBuf,
        /// Physical line of the record.
        line: u64,
        /// What is over which limit.
        what: String,
    },
    /// Writing an output failed.
    #[error(transparent)]
    Output(#[from] IoError),
}

impl IngestError {
    /// A read error of `file`: a record over a limit becomes [`IngestError::Limit`].
    pub(crate) fn read(file: &std::path::Path, source: std::io::Error) -> Self {
        match source
            .get_ref()
            .and_then(|e| e.downcast_ref::<crate::reader::LimitError>())
        {
            Some(l) => IngestError::Limit {
                file: file.to_path_buf(),
                line: l.line,
                what: l.what.clone(),
            },
            None => IngestError::Read {
                file: file.to_path_buf(),
                source,
            },
        }
    }
}
