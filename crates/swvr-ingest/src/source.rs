//! The records of respondents.csv, .sav, .zsav or .dta, one at a time,
//! as text fields: the one interface the validation reads.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use swvr_core::questionnaire::Questionnaire;

use crate::IngestError;
use swvr_core::bundle::Header;

use crate::bundle;
use crate::reader::{Chunk, Cut, Fields, LimitError, RecordReader, Units};
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

    /// The records to expect, when the file says (an SPSS or Stata file;
    /// capped by what its data can hold): for sizing the duplicate index.
    pub(crate) fn records_hint(&self) -> Option<u64> {
        match self {
            Source::Csv { .. } => None,
            Source::Stat(s) => s.records_hint(),
        }
    }

    /// The record as in the file (CSV), or its values as a CSV line.
    pub(crate) fn raw(&self) -> Cow<'_, [u8]> {
        match self {
            Source::Csv { rdr, .. } => Cow::Borrowed(rdr.raw()),
            Source::Stat(s) => s.raw(),
        }
    }
}

/// The records after the header, cut into units for parallel validation.
pub(crate) enum Feed {
    /// CSV bytes, cut between records.
    Csv(Units<File>),
    /// Records of a statistical file, rendered as text fields.
    Stat(Box<StatSource>),
}

/// One unit of input: whole CSV records as bytes, or rendered records.
pub(crate) enum Input {
    /// CSV bytes (parsed by [`RecordReader::unit`]).
    Csv(Vec<u8>),
    /// Records of a statistical file.
    Stat(Chunk),
}

/// Records of a statistical file per unit.
const STAT_RECORDS: usize = 1 << 12;
/// Bytes of rendered values per unit of a statistical file.
const STAT_BYTES: usize = 1 << 19;

/// Why no unit could be read.
pub(crate) enum FeedError {
    /// A file-level error, complete.
    File(IngestError),
    /// A record over a limit; its line counts from the unit's first byte.
    Limit(LimitError),
}

impl Source {
    /// The records left, as units, and the line breaks before them.
    pub(crate) fn feed(self) -> (Feed, u64) {
        match self {
            Source::Csv { rdr, .. } => {
                let (file, rest, newlines, consumed) = rdr.into_rest();
                (Feed::Csv(Units::new(file, rest, consumed)), newlines)
            }
            Source::Stat(s) => (Feed::Stat(s), 0),
        }
    }
}

impl Feed {
    /// Fills `input` with the next unit of about `size` bytes (CSV: at most
    /// `records` records); `false` at the end. Returns the bytes of the file consumed so far.
    pub(crate) fn next(
        &mut self,
        input: &mut Input,
        size: usize,
        records: usize,
        path: &Path,
    ) -> Result<Option<u64>, FeedError> {
        match self {
            Feed::Csv(units) => {
                if !matches!(input, Input::Csv(_)) {
                    *input = Input::Csv(Vec::new());
                }
                let Input::Csv(buf) = input else {
                    return Ok(None);
                };
                match units.next(buf, size, records) {
                    Ok(Cut::Unit) => Ok(Some(units.consumed())),
                    Ok(Cut::End) => Ok(None),
                    Ok(Cut::TooLong(l)) => Err(FeedError::Limit(l)),
                    Err(e) => Err(FeedError::File(IngestError::read(path, e))),
                }
            }
            Feed::Stat(src) => {
                if !matches!(input, Input::Stat(_)) {
                    *input = Input::Stat(Chunk::with_capacity(STAT_RECORDS, 64));
                }
                let Input::Stat(chunk) = input else {
                    return Ok(None);
                };
                chunk.clear();
                while chunk.len() < STAT_RECORDS && chunk.bytes() < STAT_BYTES.min(size.max(1)) {
                    if !src.next().map_err(FeedError::File)? {
                        break;
                    }
                    src.append_to(chunk);
                }
                Ok((chunk.len() > 0).then(|| src.bytes_parsed()))
            }
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
