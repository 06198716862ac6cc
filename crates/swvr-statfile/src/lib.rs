//! Readers of the data files survey people exchange: SPSS system files
//! (`.sav`, uncompressed or bytecode-compressed, and `.zsav`) and Stata
//! files (`.dta`, formats 117, 118 and 119: Stata 13 to 19).
//!
//! A reader gives the file's dictionary ([`Variable`]s: names, labels,
//! value labels, SPSS user-missing values) and then its records one at a
//! time ([`Record`]: a number, system-missing, a Stata extended missing
//! value `.a`–`.z`, or text in UTF-8). Records are streamed: memory
//! does not grow with the number of records.
//!
//! Every read is bounds-checked: a damaged or truncated file is a
//! [`StatError`] naming the file and the byte offset (and, in the data,
//! the record number), never a panic. Nothing here knows about surveys;
//! `swvr-ingest` turns the records into validated rows.
//!
//! The formats are written by hand, one module each ([`sav`], [`dta`]),
//! from PSPP's description of the SPSS system file and Stata's `help dta`.
//!
//! ```no_run
//! let mut r = swvr_statfile::Reader::open("respondents.sav".as_ref())?;
//! let names: Vec<String> = r.variables().iter().map(|v| v.name.clone()).collect();
//! let mut rec = swvr_statfile::Record::default();
//! while r.next_record(&mut rec)? {
//!     if let swvr_statfile::Value::Num(x) = rec.get(0) {
//!         println!("{} = {x}", names[0]);
//!     }
//! }
//! # Ok::<(), swvr_statfile::StatError>(())
//! ```

pub mod dta;
mod input;
pub use input::{Input, ReadSeek};
pub mod sav;
mod text;

use std::path::{Path, PathBuf};

/// What went wrong reading a file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum StatError {
    /// The file cannot be opened or read (an operating-system error).
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// File.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is damaged, truncated or not of the expected format.
    #[error("{}: {where_}: {what}", file.display())]
    Format {
        /// File.
        file: PathBuf,
        /// Where: `byte 1234`, `record 17 (byte 5678)`, …
        where_: String,
        /// What was found and what was expected.
        what: String,
    },
}

/// The file formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SPSS system file, uncompressed or bytecode-compressed.
    Sav,
    /// SPSS system file, zlib-compressed (`.zsav`).
    Zsav,
    /// Stata `.dta`, with its format number (117, 118 or 119).
    Dta(u16),
}

/// Storage of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Numbers (SPSS numeric; Stata byte, int, long, float, double).
    Numeric,
    /// Text (SPSS string; Stata strN or strL).
    Text,
}

/// The value a value label is attached to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelKey {
    /// A number.
    Num(f64),
    /// A Stata extended missing value: `b'a'` for `.a` … `b'z'` for `.z`.
    Ext(u8),
}

/// SPSS user-missing values of a numeric variable (Stata has none: its
/// missing values are the extended missing values of [`Value::Ext`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserMissing {
    /// Up to three discrete values.
    pub values: Vec<f64>,
    /// A range `low..=high`.
    pub range: Option<(f64, f64)>,
}

impl UserMissing {
    /// True when `v` is declared missing.
    pub fn contains(&self, v: f64) -> bool {
        self.values.contains(&v) || self.range.is_some_and(|(lo, hi)| lo <= v && v <= hi)
    }
    /// True when nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.range.is_none()
    }
}

/// One variable of the file's dictionary.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Name (SPSS long name when the file has one).
    pub name: String,
    /// Variable label (empty when none).
    pub label: String,
    /// Numeric or text.
    pub kind: Kind,
    /// Value labels of a numeric variable, in file order.
    pub value_labels: Vec<(LabelKey, String)>,
    /// SPSS user-missing values (numeric variables).
    pub missing: UserMissing,
}

/// One value of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A number.
    Num(f64),
    /// System-missing (SPSS sysmis, Stata `.`).
    Sys,
    /// A Stata extended missing value: `b'a'` … `b'z'`.
    Ext(u8),
    /// Text, UTF-8 unless the file's text is not (SPSS trailing spaces and
    /// Stata NUL padding removed).
    Text(&'a [u8]),
}

#[derive(Debug, Clone, Copy)]
enum Cell {
    Num(f64),
    Sys,
    Ext(u8),
    Text(usize, usize),
}

/// A record, reused from one [`Reader::next_record`] call to the next.
#[derive(Debug, Default, Clone)]
pub struct Record {
    cells: Vec<Cell>,
    text: Vec<u8>,
    number: u64,
}

impl Record {
    /// Values in the record (one per variable).
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    /// True when the record holds no value.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    /// The record's number in the file, the first being 1.
    pub fn number(&self) -> u64 {
        self.number
    }
    /// Value of variable `i` (system-missing when out of range).
    #[inline]
    pub fn get(&self, i: usize) -> Value<'_> {
        match self.cells.get(i) {
            Some(Cell::Num(x)) => Value::Num(*x),
            Some(Cell::Sys) | None => Value::Sys,
            Some(Cell::Ext(c)) => Value::Ext(*c),
            Some(Cell::Text(s, e)) => Value::Text(&self.text[*s..*e]),
        }
    }
    fn clear(&mut self) {
        self.cells.clear();
        self.text.clear();
    }
    #[inline]
    fn push_num(&mut self, x: f64) {
        self.cells.push(Cell::Num(x));
    }
    #[inline]
    fn push(&mut self, c: Cell) {
        self.cells.push(c);
    }
    /// Appends text (already trimmed) as the next value.
    #[inline]
    fn push_text(&mut self, t: &[u8]) {
        let s = self.text.len();
        self.text.extend_from_slice(t);
        self.cells.push(Cell::Text(s, self.text.len()));
    }
    /// Appends text to be transcoded from `enc`.
    #[inline]
    fn push_text_in(&mut self, t: &[u8], enc: text::Encoding) {
        let s = self.text.len();
        enc.decode_into(t, &mut self.text);
        self.cells.push(Cell::Text(s, self.text.len()));
    }
}

/// A reader of either format, chosen by the file's first bytes.
pub enum Reader {
    /// An SPSS file.
    Sav(Box<sav::SavReader>),
    /// A Stata file.
    Dta(Box<dta::DtaReader>),
}

impl Reader {
    /// Opens `path` and reads its dictionary: an SPSS file starts with
    /// `$FL2` or `$FL3`, a Stata file with `<stata_dta>`; anything else is
    /// an error saying what the file starts with.
    pub fn open(path: &Path) -> Result<Self, StatError> {
        Self::from_input(input::open(path)?, path)
    }

    /// Reads the dictionary of `bytes` (named `name` in messages): a file
    /// in memory.
    pub fn from_bytes(bytes: Vec<u8>, name: &Path) -> Result<Self, StatError> {
        Self::from_input(Box::new(std::io::Cursor::new(bytes)), name)
    }

    /// Reads the dictionary of `input`, named `path` in messages.
    pub fn from_input(mut input: Input, path: &Path) -> Result<Self, StatError> {
        use std::io::{Read, Seek};
        let io = |source| StatError::Io {
            file: path.to_path_buf(),
            source,
        };
        let mut head = Vec::with_capacity(11);
        (&mut input).take(11).read_to_end(&mut head).map_err(io)?;
        input.rewind().map_err(io)?;
        if head.starts_with(b"$FL2") || head.starts_with(b"$FL3") {
            Ok(Reader::Sav(Box::new(sav::SavReader::from_input(input, path)?)))
        } else if head.starts_with(b"<stata_dta>") {
            Ok(Reader::Dta(Box::new(dta::DtaReader::from_input(input, path)?)))
        } else {
            Err(StatError::Format {
                file: path.to_path_buf(),
                where_: "byte 0".into(),
                what: format!(
                    "the file starts with {}; expected an SPSS system file (`$FL2`, `$FL3`) or a Stata 13-19 file (`<stata_dta>`; older .dta formats are not read: save it again with Stata 13 or later)",
                    input::show(&head)
                ),
            })
        }
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        match self {
            Reader::Sav(r) => r.format(),
            Reader::Dta(r) => r.format(),
        }
    }

    /// The variables, in file order.
    pub fn variables(&self) -> &[Variable] {
        match self {
            Reader::Sav(r) => r.variables(),
            Reader::Dta(r) => r.variables(),
        }
    }

    /// Records the file says it holds, when it says.
    pub fn records(&self) -> Option<u64> {
        match self {
            Reader::Sav(r) => r.records(),
            Reader::Dta(r) => Some(r.records()),
        }
    }

    /// The number of records to expect, for sizing memory: the count the
    /// file gives, capped by what its data can hold (the least bytes a
    /// record takes), so a damaged header cannot ask for more memory than
    /// the file's size justifies; `None` when the file gives no count.
    pub fn records_hint(&self) -> Option<u64> {
        match self {
            Reader::Sav(r) => r.records_hint(),
            Reader::Dta(r) => Some(r.records_hint()),
        }
    }

    /// Reads the next record into `rec`; `false` after the last one.
    pub fn next_record(&mut self, rec: &mut Record) -> Result<bool, StatError> {
        match self {
            Reader::Sav(r) => r.next_record(rec),
            Reader::Dta(r) => r.next_record(rec),
        }
    }

    /// Bytes of the file consumed so far (for progress).
    pub fn position(&self) -> u64 {
        match self {
            Reader::Sav(r) => r.position(),
            Reader::Dta(r) => r.position(),
        }
    }
}
