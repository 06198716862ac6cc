//! The records of respondents.csv, .sav, .zsav or .dta, one at a time,
//! as text fields: the one interface the validation reads.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use swvr_core::questionnaire::Questionnaire;

use crate::IngestError;
use swvr_core::bundle::Header;

use crate::bundle;
use crate::reader::{Chunk, Fields, RecordReader};
use crate::statinput::{self, StatSource};

/// A respondents file, past its header.
pub(crate) enum Source {
    /// CSV records.
    Csv {
        rdr: Box<RecordReader<File>>,
        path: PathBuf,
    },
    /// Records of an SPSS or Stata file.
    Stat(Box<StatSource>),
}

/// The respondents file opened: its column names, the header's line (CSV
/// only) and its records.
pub(crate) struct Opened {
    pub names: Vec<String>,
    pub header_line: Option<u64>,
    pub source: Source,
}

/// True when `path` names an SPSS or Stata file (by its extension).
pub(crate) fn is_stat(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("sav" | "zsav" | "dta")
    )
}

/// Opens the respondents file and reads its header or dictionary (an SPSS
/// or Stata file's value labels are checked against `q` when given).
pub(crate) fn open(path: &Path, q: Option<&Questionnaire>) -> Result<Opened, IngestError> {
    if is_stat(path) {
        let (names, src) = statinput::open(path, q)?;
        return Ok(Opened {
            names,
            header_line: None,
            source: Source::Stat(Box::new(src)),
        });
    }
    let mut rdr = bundle::open(path)?;
    let header = bundle::read_header(&mut rdr, path)?;
    Ok(Opened {
        names: header.names,
        header_line: Some(header.line),
        source: Source::Csv {
            rdr: Box::new(rdr),
            path: path.to_path_buf(),
        },
    })
}

/// Positions of the `required` columns among `names`: for a CSV file the
/// header's checks (delimiter, line numbers), for a statistical file the
/// variables.
pub(crate) fn locate<S: AsRef<str>>(opened: &Opened, required: &[S], path: &Path) -> Result<Vec<usize>, IngestError> {
    match opened.header_line {
        Some(line) => Ok(Header {
            names: opened.names.clone(),
            line,
        }
        .locate(required, path)?),
        None => required
            .iter()
            .map(|c| {
                opened
                    .names
                    .iter()
                    .position(|n| n == c.as_ref())
                    .ok_or_else(|| IngestError::MissingVariable {
                        file: path.to_path_buf(),
                        column: c.as_ref().to_string(),
                        expected: required.iter().map(|r| r.as_ref()).collect::<Vec<_>>().join(","),
                    })
            })
            .collect(),
    }
}

impl Source {
    /// Reads the next record; `false` at the end.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<bool, IngestError> {
        match self {
            Source::Csv { rdr, path } => bundle::next(rdr, path),
            Source::Stat(s) => s.next(),
        }
    }

    /// Physical line of the record (CSV), or its record number.
    pub(crate) fn line(&self) -> u64 {
        match self {
            Source::Csv { rdr, .. } => rdr.line(),
            Source::Stat(s) => s.line(),
        }
    }

    /// Bytes of the file consumed.
    pub(crate) fn bytes_parsed(&self) -> u64 {
        match self {
            Source::Csv { rdr, .. } => rdr.bytes_parsed(),
            Source::Stat(s) => s.bytes_parsed(),
        }
    }

    /// The record as in the file (CSV), or its values as a CSV line.
    pub(crate) fn raw(&self) -> Cow<'_, [u8]> {
        match self {
            Source::Csv { rdr, .. } => Cow::Borrowed(rdr.raw()),
            Source::Stat(s) => s.raw(),
        }
    }

    /// Appends a copy of the current record to `chunk`.
    #[inline]
    pub(crate) fn append_to(&self, chunk: &mut Chunk) {
        match self {
            Source::Csv { rdr, .. } => rdr.append_to(chunk, false),
            Source::Stat(s) => s.append_to(chunk),
        }
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Source::Csv { path, .. } => path,
            Source::Stat(s) => s.path(),
        }
    }
}

impl Fields for Source {
    #[inline(always)]
    fn len(&self) -> usize {
        match self {
            Source::Csv { rdr, .. } => rdr.len(),
            Source::Stat(s) => s.len(),
        }
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        match self {
            Source::Csv { rdr, .. } => rdr.field(i),
            Source::Stat(s) => s.field(i),
        }
    }
}
