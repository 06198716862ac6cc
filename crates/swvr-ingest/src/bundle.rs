//! Headers of the three bundle files, and design.csv / targets.csv read and
//! validated whole (they are small).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::IngestError;
use crate::reader::RecordReader;
use crate::text::{Int, is_iso3, parse_int, show, trim};

/// Opens `path` for record reading; a file that looks UTF-16 is an error
/// saying so (its header would otherwise read as garbled column names).
pub(crate) fn open(path: &Path) -> Result<RecordReader<File>, IngestError> {
    use std::io::{Read, Seek};
    let read_err = |source| IngestError::read(path, source);
    let mut f = swvr_core::io::open_input(path).map_err(read_err)?;
    let mut head = Vec::with_capacity(512);
    (&mut f).take(512).read_to_end(&mut head).map_err(read_err)?;
    if let Some(encoding) = utf16(&head) {
        return Err(IngestError::Utf16 {
            file: path.to_path_buf(),
            encoding,
        });
    }
    f.rewind().map_err(read_err)?;
    Ok(RecordReader::new(f))
}

/// `Some(description)` when the first bytes of a file look UTF-16: a
/// byte-order mark, or NUL bytes at every other position (ASCII text
/// encoded in UTF-16 without a mark).
fn utf16(head: &[u8]) -> Option<&'static str> {
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

/// Reads the next record, mapping I/O errors to [`IngestError::Read`].
pub(crate) fn next(rdr: &mut RecordReader<File>, path: &Path) -> Result<bool, IngestError> {
    rdr.next_record().map_err(|source| IngestError::read(path, source))
}

/// The header: trimmed column names, each once, none empty.
pub(crate) struct Header {
    /// Column names in file order.
    pub names: Vec<String>,
    /// Physical line of the header.
    pub line: u64,
}

impl Header {
    /// Reads and checks the header row.
    pub(crate) fn read(rdr: &mut RecordReader<File>, path: &Path) -> Result<Self, IngestError> {
        if !next(rdr, path)? {
            return Err(IngestError::Empty {
                file: path.to_path_buf(),
            });
        }
        let line = rdr.line();
        let mut names: Vec<String> = Vec::with_capacity(rdr.len());
        for i in 0..rdr.len() {
            let raw = trim(rdr.field(i));
            let bad = |expected: &str| IngestError::Value {
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
                return Err(IngestError::RepeatedColumn {
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
    pub(crate) fn locate<S: AsRef<str>>(&self, required: &[S], path: &Path) -> Result<Vec<usize>, IngestError> {
        if let Some(delimiter) = self.other_delimiter(required) {
            return Err(IngestError::Delimiter {
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
                    .ok_or_else(|| IngestError::MissingColumn {
                        file: path.to_path_buf(),
                        line: self.line,
                        column: c.as_ref().to_string(),
                        expected: required.iter().map(|r| r.as_ref()).collect::<Vec<_>>().join(","),
                    })
            })
            .collect()
    }
}

impl Header {
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
    pub(crate) fn frames(&self) -> HashMap<(String, i32), [bool; 2]> {
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

/// Reading state shared by the two small files.
struct Rows<'a> {
    path: &'a Path,
    rdr: RecordReader<File>,
    header: Header,
    cols: Vec<usize>,
    names: &'a [&'a str],
}

impl<'a> Rows<'a> {
    fn open(path: &'a Path, names: &'a [&'a str]) -> Result<Self, IngestError> {
        let mut rdr = open(path)?;
        let header = Header::read(&mut rdr, path)?;
        let cols = header.locate(names, path)?;
        Ok(Self {
            path,
            rdr,
            header,
            cols,
            names,
        })
    }

    /// Next record, checking its field count.
    fn next(&mut self) -> Result<bool, IngestError> {
        if !next(&mut self.rdr, self.path)? {
            return Ok(false);
        }
        if self.rdr.len() != self.header.names.len() {
            return Err(IngestError::Value {
                file: self.path.to_path_buf(),
                line: self.rdr.line(),
                column: "(record)".into(),
                value: format!("{} fields", self.rdr.len()),
                expected: format!("{} fields as in the header", self.header.names.len()),
            });
        }
        Ok(true)
    }

    fn no_rows(&self) -> IngestError {
        IngestError::NoRows {
            file: self.path.to_path_buf(),
            line: self.header.line,
        }
    }

    /// Trimmed field of required column `k`.
    fn get(&self, k: usize) -> &[u8] {
        trim(self.rdr.field(self.cols[k]))
    }

    fn err(&self, k: usize, expected: &str) -> IngestError {
        IngestError::Value {
            file: self.path.to_path_buf(),
            line: self.rdr.line(),
            column: self.names[k].to_string(),
            value: show(self.get(k)),
            expected: expected.to_string(),
        }
    }

    fn country(&self, k: usize) -> Result<String, IngestError> {
        let b = self.get(k);
        if is_iso3(b) {
            Ok(String::from_utf8_lossy(b).into_owned())
        } else {
            Err(self.err(k, "an ISO 3166-1 alpha-3 code in upper case (e.g. KEN)"))
        }
    }

    fn wave(&self, k: usize) -> Result<i32, IngestError> {
        match parse_int(self.get(k)) {
            Int::Value(v) if swvr_core::schema::WAVES.contains(&v) => Ok(v as i32),
            _ => Err(self.err(k, "a wave year, an integer such as 2021")),
        }
    }

    fn text(&self, k: usize) -> Result<String, IngestError> {
        match std::str::from_utf8(self.get(k)) {
            Ok(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(self.err(k, "non-empty UTF-8 text")),
        }
    }

    fn line(&self) -> u64 {
        self.rdr.line()
    }
}

const DESIGN_COLUMNS: [&str; 5] = ["country", "wave", "frame", "frame_size", "sample_size"];
const TARGET_COLUMNS: [&str; 5] = ["country", "wave", "variable", "category", "share"];

/// Reads and validates design.csv: every column present once, ISO3
/// countries, integer waves, frames `L`/`M`, sizes positive integers,
/// `sample_size ≤ frame_size`, each (country, wave, frame) once.
pub fn read_design(path: &Path) -> Result<Design, IngestError> {
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
        let size = |k: usize| match parse_int(r.get(k)) {
            Int::Value(v) if (1..i64::MAX).contains(&v) => Ok(v as u64),
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
pub fn read_targets(path: &Path) -> Result<Targets, IngestError> {
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
            let sum = swvr_core::sum::sum(&shares);
            ((sum - 1.0).abs() > 1e-6).then_some((line, country, wave, variable, sum))
        })
        .collect();
    failures.sort_by_key(|f| f.0);
    if let Some((line, country, wave, variable, sum)) = failures.into_iter().next() {
        return Err(IngestError::TargetSum {
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

/// The three bundle file paths.
pub(crate) struct Bundle {
    pub respondents: PathBuf,
    pub design: PathBuf,
    pub targets: PathBuf,
}

/// The names a respondents file may have; a bundle holds exactly one.
pub const RESPONDENTS_FILES: [&str; 4] = [
    "respondents.csv",
    "respondents.sav",
    "respondents.zsav",
    "respondents.dta",
];

/// The respondents file of the bundle in `data`: the one of
/// [`RESPONDENTS_FILES`] that exists (`respondents.csv` when none does, so
/// that reading it says it is missing); two or more are an error naming them.
pub fn respondents_file(data: &Path) -> Result<PathBuf, IngestError> {
    let found: Vec<&str> = RESPONDENTS_FILES
        .into_iter()
        .filter(|n| data.join(n).exists())
        .collect();
    match found.as_slice() {
        [] => Ok(data.join(RESPONDENTS_FILES[0])),
        [one] => Ok(data.join(one)),
        _ => Err(IngestError::ManyRespondents {
            dir: data.to_path_buf(),
            files: found.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

impl Bundle {
    /// The bundle's files; an error when it holds more than one respondents file.
    pub(crate) fn find(data: &Path) -> Result<Self, IngestError> {
        Ok(Self {
            respondents: respondents_file(data)?,
            design: data.join("design.csv"),
            targets: data.join("targets.csv"),
        })
    }
}
