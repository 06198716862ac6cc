//! The small files of a wave bundle, `design.csv` and `targets.csv`, read
//! and validated whole in one place for the stages that use them (ingest
//! checks respondents against them, weight computes base weights and rakes
//! to them); and what every CSV file of a bundle shares: the header checks
//! ([`Header`]), the UTF-16 sniff ([`utf16`]) and the way a value is quoted
//! in a message ([`show`]).
//!
//! Errors name the file, the physical line (header = 1), the column, the
//! value found and what was expected ([`BundleError`]).
//!
//! ```no_run
//! let design = swvr_core::bundle::read_design("bundle/design.csv".as_ref())?;
//! assert!(design.rows.iter().all(|r| r.sample_size <= r.frame_size));
//! # Ok::<(), swvr_core::bundle::BundleError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use csv_core::ReadRecordResult;

use crate::limits::{MAX_COLUMNS, MAX_FIELD_BYTES, MAX_RECORD_BYTES, MAX_TABLE_BYTES, show_bytes};

/// A bundle file that cannot be used. Every variant names the file; those
/// about a place in it also name its physical line (header = 1) and column,
/// the value found and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file cannot be opened or read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// File.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is empty (no header row).
    #[error("{}: line 1: the file is empty; expected a header row naming the columns", file.display())]
    Empty {
        /// File.
        file: PathBuf,
    },
    /// A header and no data rows.
    #[error("{}: line {line}: header but no data rows; expected at least one record after the header", file.display())]
    NoRows {
        /// File.
        file: PathBuf,
        /// Line of the header.
        line: u64,
    },
    /// The file looks UTF-16 (a byte-order mark or a NUL byte every other byte).
    #[error("{}: the file looks {encoding}; expected UTF-8 text: save it again as CSV UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)", file.display())]
    Utf16 {
        /// File.
        file: PathBuf,
        /// What was recognised.
        encoding: &'static str,
    },
    /// The header looks delimited by something other than a comma.
    #[error("{}: line {line}: the header `{header}` looks delimited by {delimiter}; expected comma-separated values: export the file again with `,` as the delimiter", file.display())]
    Delimiter {
        /// File.
        file: PathBuf,
        /// Line of the header.
        line: u64,
        /// The delimiter recognised.
        delimiter: &'static str,
        /// The start of the header as read.
        header: String,
    },
    /// A required column is not in the header.
    #[error("{}: line {line}: missing required column `{column}`; expected a header with columns {expected}", file.display())]
    MissingColumn {
        /// File.
        file: PathBuf,
        /// Line of the header.
        line: u64,
        /// The missing column.
        column: String,
        /// The required columns.
        expected: String,
    },
    /// A column name appears twice in the header.
    #[error("{}: line {line}, column {position}: column `{column}` repeated (first at column {first}); expected each column once", file.display())]
    RepeatedColumn {
        /// File.
        file: PathBuf,
        /// Line of the header.
        line: u64,
        /// The repeated name.
        column: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the repeat.
        position: usize,
    },
    /// A value of design.csv or targets.csv (or a header cell) is wrong.
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
    /// Target shares of one (country, wave, variable) do not sum to 1.
    #[error("{}: line {line}, column `share`: shares of {country} {wave} `{variable}` sum to {sum:.9}; expected a sum of 1 within 1e-6", file.display())]
    TargetSum {
        /// File.
        file: PathBuf,
        /// Line of the group's first row.
        line: u64,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// Raking variable.
        variable: String,
        /// The sum found.
        sum: f64,
    },
    /// A file or record over one of swvr's input limits ([`crate::limits`]).
    #[error("{}: line {line}: {what}", file.display())]
    Limit {
        /// File.
        file: PathBuf,
        /// Physical line of the record (1 for the file as a whole).
        line: u64,
        /// What is over which limit.
        what: String,
    },
}

/// `Some(description)` when the first bytes of a file look UTF-16: a
/// byte-order mark, or NUL bytes at every other position (ASCII text
/// encoded in UTF-16 without a mark).
pub fn utf16(head: &[u8]) -> Option<&'static str> {
    match head {
        [0xFF, 0xFE, ..] => return Some("UTF-16 little-endian, with a byte-order mark"),
        [0xFE, 0xFF, ..] => return Some("UTF-16 big-endian, with a byte-order mark"),
        _ => {}
    }
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let nul_at = |parity: usize| {
        head.chunks_exact(2)
            .filter(|p| p[parity] == 0 && p[1 - parity] != 0)
            .count()
    };
    if nul_at(1) == pairs {
        Some("UTF-16 little-endian, without a byte-order mark")
    } else if nul_at(0) == pairs {
        Some("UTF-16 big-endian, without a byte-order mark")
    } else {
        None
    }
}

/// Strips ASCII spaces and tabs around a value.
fn trim(b: &[u8]) -> &[u8] {
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !blank(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !blank(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// Longest value quoted in a reason or message, in characters.
const MAX_VALUE_CHARS: usize = 40;

/// A value for a reason or an error message: invalid UTF-8 bytes, control
/// characters and `;` (the reason separator) as `\xNN`, shortened to 40
/// characters with a trailing `...`.
///
/// ```
/// assert_eq!(swvr_core::bundle::show(b"x;y\n"), "x\\x3By\\x0A");
/// ```
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    let mut chars = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if chars == MAX_VALUE_CHARS {
                s.push_str("...");
                return s;
            }
            if c.is_control() || c == ';' {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    s.push_str(&format!("\\x{b:02X}"));
                }
            } else {
                s.push(c);
            }
            chars += 1;
        }
        for b in chunk.invalid() {
            if chars == MAX_VALUE_CHARS {
                s.push_str("...");
                return s;
            }
            s.push_str(&format!("\\x{b:02X}"));
            chars += 1;
        }
    }
    s
}

/// The header of a CSV file: trimmed column names, each once, none empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Column names in file order.
    pub names: Vec<String>,
    /// Physical line of the header.
    pub line: u64,
}

impl Header {
    /// Checks the header record `fields` (on physical `line` of `path`).
    pub fn new<'a>(fields: impl IntoIterator<Item = &'a [u8]>, line: u64, path: &Path) -> Result<Self, BundleError> {
        let mut names: Vec<String> = Vec::new();
        for (i, field) in fields.into_iter().enumerate() {
            let raw = trim(field);
            let bad = |expected: &str| BundleError::Value {
                file: path.to_path_buf(),
                line,
                column: format!("#{}", i + 1),
                value: show(raw),
                expected: expected.to_string(),
            };
            let name = std::str::from_utf8(raw).map_err(|_| bad("a UTF-8 column name"))?;
            if name.is_empty() {
                return Err(bad("a non-empty column name"));
            }
            if let Some(first) = names.iter().position(|n| n == name) {
                return Err(BundleError::RepeatedColumn {
                    file: path.to_path_buf(),
                    line,
                    column: name.to_string(),
                    first: first + 1,
                    position: i + 1,
                });
            }
            names.push(name.to_string());
        }
        Ok(Self { names, line })
    }

    /// Positions of `required` columns, or the first missing one as an error.
    pub fn locate<S: AsRef<str>>(&self, required: &[S], path: &Path) -> Result<Vec<usize>, BundleError> {
        if let Some(delimiter) = self.other_delimiter(required) {
            return Err(BundleError::Delimiter {
                file: path.to_path_buf(),
                line: self.line,
                delimiter,
                header: self.names.join(",").replace('\t', "\\t").chars().take(60).collect(),
            });
        }
        required
            .iter()
            .map(|c| {
                self.names
                    .iter()
                    .position(|n| n == c.as_ref())
                    .ok_or_else(|| BundleError::MissingColumn {
                        file: path.to_path_buf(),
                        line: self.line,
                        column: c.as_ref().to_string(),
                        expected: required.iter().map(|r| r.as_ref()).collect::<Vec<_>>().join(","),
                    })
            })
            .collect()
    }

    /// The name of the delimiter the header seems to use instead of a comma:
    /// a required column is missing and a header cell holds `;` or a tab
    /// (a spreadsheet export in a locale whose list separator is `;`).
    fn other_delimiter<S: AsRef<str>>(&self, required: &[S]) -> Option<&'static str> {
        let missing = required.iter().any(|c| !self.names.iter().any(|n| n == c.as_ref()));
        let has = |c: char| self.names.iter().any(|n| n.contains(c));
        match missing {
            false => None,
            true if has(';') => Some("semicolons (`;`)"),
            true if has('\t') => Some("tabs"),
            true => None,
        }
    }
}

/// One row of design.csv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignRow {
    /// Country (ISO3).
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// `L` or `M`.
    pub frame: String,
    /// Numbers in the frame (N ≥ 1).
    pub frame_size: u64,
    /// Numbers drawn (1 ≤ n ≤ N).
    pub sample_size: u64,
    /// Physical line in design.csv.
    pub line: u64,
}

/// design.csv, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Design {
    /// Rows in file order.
    pub rows: Vec<DesignRow>,
}

impl Design {
    /// Frames defined for (country, wave): `[L, M]` presence.
    pub fn frames(&self) -> HashMap<(String, i32), [bool; 2]> {
        let mut m: HashMap<(String, i32), [bool; 2]> = HashMap::new();
        for r in &self.rows {
            let e = m.entry((r.country.clone(), r.wave)).or_default();
            e[usize::from(r.frame == "M")] = true;
        }
        m
    }
}

/// One row of targets.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    /// Country (ISO3).
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Raking variable (`sex`, `age_group`, …).
    pub variable: String,
    /// Category code or band label.
    pub category: String,
    /// Population share in [0, 1].
    pub share: f64,
    /// Physical line in targets.csv.
    pub line: u64,
}

/// targets.csv, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    /// Rows in file order.
    pub rows: Vec<TargetRow>,
}

/// One record of a small CSV file: its physical line and its fields (unquoted).
struct Record {
    line: u64,
    fields: Vec<Vec<u8>>,
}

/// Line breaks in `bytes`: `\n`, `\r\n` and a lone `\r` (old Mac files)
/// each end one physical line. A `\r` at the end of `bytes` counts: callers
/// pass bytes whose next byte is known not to be `\n`.
fn line_breaks(bytes: &[u8]) -> u64 {
    let mut n = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        n += u64::from(b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')));
    }
    n
}

/// Reads a small CSV file whole (at most [`MAX_TABLE_BYTES`]): a leading
/// UTF-8 byte-order mark skipped, blank lines skipped, every record with the
/// physical line of its first byte, the record limits of [`crate::limits`]
/// checked. A file that looks UTF-16 is an error saying so.
fn read_records(path: &Path) -> Result<Vec<Record>, BundleError> {
    let read_err = |source| BundleError::Read {
        file: path.to_path_buf(),
        source,
    };
    let limit = |line: u64, what: String| BundleError::Limit {
        file: path.to_path_buf(),
        line,
        what,
    };
    let f = crate::io::open_input(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    f.take(MAX_TABLE_BYTES + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_TABLE_BYTES {
        return Err(limit(
            1,
            format!(
                "the file is larger than {}; expected at most that much (swvr's limit on the size of design.csv and targets.csv)",
                show_bytes(MAX_TABLE_BYTES)
            ),
        ));
    }
    if let Some(encoding) = utf16(&bytes[..bytes.len().min(512)]) {
        return Err(BundleError::Utf16 {
            file: path.to_path_buf(),
            encoding,
        });
    }
    let mut start = if bytes.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let mut core = csv_core::Reader::new();
    let mut out = vec![0u8; 4096];
    let mut ends = vec![0usize; 64];
    let mut newlines = 0u64;
    let mut records = Vec::new();
    loop {
        core.reset();
        let (mut pos, mut nout, mut nends) = (start, 0, 0);
        loop {
            let (res, nin, no, ne) = core.read_record(&bytes[pos..], &mut out[nout..], &mut ends[nends..]);
            pos += nin;
            nout += no;
            nends += ne;
            match res {
                // The whole input is given: the next call sees its end.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
                ReadRecordResult::Record => break,
                ReadRecordResult::End => return Ok(records),
            }
        }
        let span = &bytes[start..pos];
        let lead = span.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
        let trail = span[lead..]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        let lead_nl = line_breaks(&span[..lead]);
        let line = newlines + lead_nl + 1;
        newlines += lead_nl + line_breaks(&span[lead..span.len() - trail]);
        // The terminator stays for the next record's leading line breaks.
        start = pos - trail;
        if span.len() - lead - trail > MAX_RECORD_BYTES {
            return Err(limit(
                line,
                format!(
                    "a record longer than {}; expected at most that much (swvr's limit on record length; is the file CSV with line breaks?)",
                    show_bytes(MAX_RECORD_BYTES as u64)
                ),
            ));
        }
        if nends > MAX_COLUMNS {
            return Err(limit(
                line,
                format!("{nends} fields; expected at most {MAX_COLUMNS} columns (swvr's limit on header width)"),
            ));
        }
        let mut fields = Vec::with_capacity(nends);
        let mut s = 0;
        for (i, &e) in ends[..nends].iter().enumerate() {
            if e - s > MAX_FIELD_BYTES {
                return Err(limit(
                    line,
                    format!(
                        "column {}: a field of {} bytes; expected at most {} (swvr's limit on field length)",
                        i + 1,
                        e - s,
                        show_bytes(MAX_FIELD_BYTES as u64)
                    ),
                ));
            }
            fields.push(out[s..e].to_vec());
            s = e;
        }
        records.push(Record { line, fields });
    }
}

/// Reading state shared by the two small files.
struct Rows<'a> {
    path: &'a Path,
    header: Header,
    cols: Vec<usize>,
    names: &'a [&'a str],
    records: std::vec::IntoIter<Record>,
    current: Record,
}

impl<'a> Rows<'a> {
    fn open(path: &'a Path, names: &'a [&'a str]) -> Result<Self, BundleError> {
        let mut records = read_records(path)?.into_iter();
        let first = records.next().ok_or_else(|| BundleError::Empty {
            file: path.to_path_buf(),
        })?;
        let header = Header::new(first.fields.iter().map(Vec::as_slice), first.line, path)?;
        let cols = header.locate(names, path)?;
        Ok(Self {
            path,
            header,
            cols,
            names,
            records,
            current: first,
        })
    }

    /// Next record, checking its field count.
    fn next(&mut self) -> Result<bool, BundleError> {
        let Some(record) = self.records.next() else {
            return Ok(false);
        };
        self.current = record;
        if self.current.fields.len() != self.header.names.len() {
            return Err(BundleError::Value {
                file: self.path.to_path_buf(),
                line: self.line(),
                column: "(record)".into(),
                value: format!("{} fields", self.current.fields.len()),
                expected: format!("{} fields as in the header", self.header.names.len()),
            });
        }
        Ok(true)
    }

    fn no_rows(&self) -> BundleError {
        BundleError::NoRows {
            file: self.path.to_path_buf(),
            line: self.header.line,
        }
    }

    /// Trimmed field of required column `k`.
    fn get(&self, k: usize) -> &[u8] {
        self.current.fields.get(self.cols[k]).map_or(&[], |f| trim(f))
    }

    fn err(&self, k: usize, expected: &str) -> BundleError {
        BundleError::Value {
            file: self.path.to_path_buf(),
            line: self.line(),
            column: self.names[k].to_string(),
            value: show(self.get(k)),
            expected: expected.to_string(),
        }
    }

    /// Field `k` as an integer: an optional sign and decimal digits.
    fn int(&self, k: usize) -> Option<i64> {
        std::str::from_utf8(self.get(k)).ok()?.parse().ok()
    }

    fn country(&self, k: usize) -> Result<String, BundleError> {
        let b = self.get(k);
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(String::from_utf8_lossy(b).into_owned())
        } else {
            Err(self.err(k, "an ISO 3166-1 alpha-3 code in upper case (e.g. KEN)"))
        }
    }

    fn wave(&self, k: usize) -> Result<i32, BundleError> {
        match self.int(k) {
            Some(v) if crate::schema::WAVES.contains(&v) => Ok(v as i32),
            _ => Err(self.err(k, "a wave year, an integer such as 2021")),
        }
    }

    fn text(&self, k: usize) -> Result<String, BundleError> {
        match std::str::from_utf8(self.get(k)) {
            Ok(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(self.err(k, "non-empty UTF-8 text")),
        }
    }

    fn line(&self) -> u64 {
        self.current.line
    }
}

const DESIGN_COLUMNS: [&str; 5] = ["country", "wave", "frame", "frame_size", "sample_size"];
const TARGET_COLUMNS: [&str; 5] = ["country", "wave", "variable", "category", "share"];

/// Reads and validates design.csv: every column present once, ISO3
/// countries, integer waves, frames `L`/`M`, sizes positive integers,
/// `sample_size ≤ frame_size`, each (country, wave, frame) once.
pub fn read_design(path: &Path) -> Result<Design, BundleError> {
    let mut r = Rows::open(path, &DESIGN_COLUMNS)?;
    let mut rows: Vec<DesignRow> = Vec::new();
    let mut seen: HashMap<(String, i32, String), u64> = HashMap::new();
    while r.next()? {
        let country = r.country(0)?;
        let wave = r.wave(1)?;
        let frame = match r.get(2) {
            b"L" => "L",
            b"M" => "M",
            _ => return Err(r.err(2, "`L` (landline) or `M` (mobile)")),
        };
        let size = |k: usize| match r.int(k) {
            Some(v) if (1..i64::MAX).contains(&v) => Ok(v as u64),
            _ => Err(r.err(k, "a positive integer")),
        };
        let frame_size = size(3)?;
        let sample_size = size(4)?;
        if sample_size > frame_size {
            return Err(r.err(4, &format!("a sample size no larger than frame_size ({frame_size})")));
        }
        if let Some(first) = seen.insert((country.clone(), wave, frame.to_string()), r.line()) {
            return Err(r.err(
                2,
                &format!("one row per (country, wave, frame); {country} {wave} {frame} is already on line {first}"),
            ));
        }
        rows.push(DesignRow {
            country,
            wave,
            frame: frame.to_string(),
            frame_size,
            sample_size,
            line: r.line(),
        });
    }
    if rows.is_empty() {
        return Err(r.no_rows());
    }
    Ok(Design { rows })
}

/// Reads and validates targets.csv: every column present once, ISO3
/// countries, integer waves, non-empty variable and category, shares numbers
/// in [0, 1], each (country, wave, variable, category) once, and the shares
/// of each (country, wave, variable) summing to 1 within 1e-6 (compensated sum).
pub fn read_targets(path: &Path) -> Result<Targets, BundleError> {
    let mut r = Rows::open(path, &TARGET_COLUMNS)?;
    let mut rows: Vec<TargetRow> = Vec::new();
    let mut seen: HashMap<(String, i32, String, String), u64> = HashMap::new();
    while r.next()? {
        let country = r.country(0)?;
        let wave = r.wave(1)?;
        let variable = r.text(2)?;
        let category = r.text(3)?;
        let share = std::str::from_utf8(r.get(4))
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_finite() && (0.0..=1.0).contains(v))
            .ok_or_else(|| r.err(4, "a number between 0 and 1"))?;
        let key = (country.clone(), wave, variable.clone(), category.clone());
        if let Some(first) = seen.insert(key, r.line()) {
            return Err(r.err(
                3,
                &format!("one row per (country, wave, variable, category); {country} {wave} {variable} {category} is already on line {first}"),
            ));
        }
        rows.push(TargetRow {
            country,
            wave,
            variable,
            category,
            share,
            line: r.line(),
        });
    }
    if rows.is_empty() {
        return Err(r.no_rows());
    }
    let mut groups: BTreeMap<(&str, i32, &str), (u64, Vec<f64>)> = BTreeMap::new();
    for t in &rows {
        groups
            .entry((&t.country, t.wave, &t.variable))
            .or_insert_with(|| (t.line, Vec::new()))
            .1
            .push(t.share);
    }
    let mut failures: Vec<_> = groups
        .into_iter()
        .filter_map(|((country, wave, variable), (line, shares))| {
            let sum = crate::sum::sum(&shares);
            ((sum - 1.0).abs() > 1e-6).then_some((line, country, wave, variable, sum))
        })
        .collect();
    failures.sort_by_key(|f| f.0);
    if let Some((line, country, wave, variable, sum)) = failures.into_iter().next() {
        return Err(BundleError::TargetSum {
            file: path.to_path_buf(),
            line,
            country: country.to_string(),
            wave,
            variable: variable.to_string(),
            sum,
        });
    }
    Ok(Targets { rows })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_shows() {
        assert_eq!(trim(b"  12 \t"), b"12");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b"x"), b"x");
        assert_eq!(trim(b"\tx"), b"x");
        assert_eq!(show(b"x;y\n"), "x\\x3By\\x0A");
        assert_eq!(show(&[b'a'; 50]).len(), 43);
        assert_eq!(show(b"a\xFFb"), "a\\xFFb");
    }

    #[test]
    fn sniffs_utf16() {
        assert_eq!(
            utf16(b"\xFF\xFEc\0"),
            Some("UTF-16 little-endian, with a byte-order mark")
        );
        assert_eq!(
            utf16(b"c\0o\0"),
            Some("UTF-16 little-endian, without a byte-order mark")
        );
        assert_eq!(utf16(b"\0c\0o"), Some("UTF-16 big-endian, without a byte-order mark"));
        assert_eq!(utf16(b"country"), None);
    }

    #[test]
    fn header_names_each_column_once() {
        let p = Path::new("t.csv");
        let h = Header::new([&b" a "[..], b"b"], 1, p).unwrap();
        assert_eq!(h.names, ["a", "b"]);
        assert_eq!(h.locate(&["b"], p).unwrap(), [1]);
        assert_eq!(
            h.locate(&["c"], p).unwrap_err().to_string(),
            "t.csv: line 1: missing required column `c`; expected a header with columns c"
        );
        assert_eq!(
            Header::new([&b"a"[..], b"a"], 2, p).unwrap_err().to_string(),
            "t.csv: line 2, column 2: column `a` repeated (first at column 1); expected each column once"
        );
        let semi = Header::new([&b"a;b"[..]], 1, p).unwrap();
        assert_eq!(
            semi.locate(&["a"], p).unwrap_err().to_string(),
            "t.csv: line 1: the header `a;b` looks delimited by semicolons (`;`); expected comma-separated values: export the file again with `,` as the delimiter"
        );
    }

    /// A folder under the system's temporary folder, removed on drop.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("swvr-core-bundle-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn records_keep_their_physical_lines() {
        let t = Temp::new("lines");
        // A byte-order mark, CRLF, a blank line, a lone CR and a quoted
        // field holding a line break.
        let p = t.file(
            "design.csv",
            b"\xEF\xBB\xBFcountry,wave,frame,frame_size,sample_size\r\n\r\nKEN,2021,\"M\",1000,10\rSEN,2021,L,\"50\n0\",5\nSEN,2021,M,9,10\n",
        );
        let e = read_design(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: line 4, column `frame_size`: found `50\\x0A0`, expected a positive integer",
                p.display()
            )
        );
        let p = t.file(
            "design.csv",
            b"country,wave,frame,frame_size,sample_size\r\n\r\nKEN,2021,\"M\",1000,10\rSEN,2021,L,500,5\n\nSEN,2021,M,9,10\n",
        );
        let e = read_design(&p).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "line 6, column `sample_size`: found `10`, expected a sample size no larger than frame_size (9)"
            ),
            "{e}"
        );
        let p = t.file(
            "design.csv",
            b"country,wave,frame,frame_size,sample_size\nKEN,2021,M,1000,10\n",
        );
        let d = read_design(&p).unwrap();
        assert_eq!(d.rows[0].line, 2);
        assert_eq!(d.frames()[&("KEN".to_string(), 2021)], [false, true]);
    }

    #[test]
    fn targets_sum_to_one_per_variable() {
        let t = Temp::new("targets");
        let p = t.file(
            "targets.csv",
            b"country,wave,variable,category,share\nKEN,2021,sex,1,0.5\nKEN,2021,sex,2,0.4\n",
        );
        assert_eq!(
            read_targets(&p).unwrap_err().to_string(),
            format!(
                "{}: line 2, column `share`: shares of KEN 2021 `sex` sum to 0.900000000; expected a sum of 1 within 1e-6",
                p.display()
            )
        );
        let p = t.file(
            "targets.csv",
            b"country,wave,variable,category,share\n KEN ,+2021,sex,1,1\n",
        );
        let r = read_targets(&p).unwrap();
        assert_eq!((r.rows[0].country.as_str(), r.rows[0].wave), ("KEN", 2021));
    }

    #[test]
    fn file_limits_and_encodings_are_errors() {
        let t = Temp::new("limits");
        let p = t.file("targets.csv", b"");
        assert_eq!(
            read_targets(&p).unwrap_err().to_string(),
            format!(
                "{}: line 1: the file is empty; expected a header row naming the columns",
                p.display()
            )
        );
        let p = t.file("targets.csv", b"\xFF\xFEc\0o\0");
        assert!(
            read_targets(&p)
                .unwrap_err()
                .to_string()
                .contains("looks UTF-16 little-endian")
        );
        let p = t.file("design.csv", b"");
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(MAX_TABLE_BYTES + 1)
            .unwrap();
        assert_eq!(
            read_design(&p).unwrap_err().to_string(),
            format!(
                "{}: line 1: the file is larger than 64 MiB; expected at most that much (swvr's limit on the size of design.csv and targets.csv)",
                p.display()
            )
        );
        let long = "y".repeat(MAX_FIELD_BYTES + 1);
        let p = t.file(
            "design.csv",
            format!("country,wave,frame,frame_size,sample_size\nKEN,2021,M,1,\"{long}\"\n").as_bytes(),
        );
        assert_eq!(
            read_design(&p).unwrap_err().to_string(),
            format!(
                "{}: line 2: column 5: a field of 1048577 bytes; expected at most 1 MiB (swvr's limit on field length)",
                p.display()
            )
        );
        let p = t.file("design.csv", format!("{}\n", "c,".repeat(MAX_COLUMNS)).as_bytes());
        assert_eq!(
            read_design(&p).unwrap_err().to_string(),
            format!(
                "{}: line 1: 10001 fields; expected at most 10000 columns (swvr's limit on header width)",
                p.display()
            )
        );
        let p = t.file(
            "design.csv",
            format!("country\n{}\n", "y".repeat(MAX_RECORD_BYTES + 1)).as_bytes(),
        );
        assert_eq!(
            read_design(&p).unwrap_err().to_string(),
            format!(
                "{}: line 2: a record longer than 16 MiB; expected at most that much (swvr's limit on record length; is the file CSV with line breaks?)",
                p.display()
            )
        );
    }
}
