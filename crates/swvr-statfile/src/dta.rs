//! Stata `.dta` files of formats 117 (Stata 13), 118 (Stata 14–19) and 119
//! (Stata 15–19, more than 32,767 variables), read by hand from Stata's
//! description of the format (`help dta`).
//!
//! The file is a sequence of tagged sections. The dictionary (types, names,
//! value-label names, variable labels) is read in order; then the reader
//! seeks past the data to the long strings (`<strls>`) and the value labels,
//! which Stata writes after the data, and checks that the file closes with
//! `</stata_dta>` (so a truncated file is an error before any record is
//! read); then it comes back and streams the records.
//!
//! Values: `byte`, `int`, `long` above their largest valid value, `float`
//! and `double` at or above 2^127 and 2^1023, are `.` (system-missing) and
//! the extended missing values `.a`–`.z`; value labels may be attached to
//! those. Text is UTF-8 in 118 and 119; 117 text is read as Windows-1252.

use std::collections::HashMap;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;

use crate::input::{Input, Src, show};
use crate::text::Encoding;
use crate::{Cell, Format, Kind, LabelKey, Record, StatError, UserMissing, Variable};

/// Storage types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    Str(usize),
    StrL,
    Double,
    Float,
    Long,
    Int,
    Byte,
}

impl DType {
    fn size(self) -> usize {
        match self {
            DType::Str(w) => w,
            DType::StrL | DType::Double => 8,
            DType::Float | DType::Long => 4,
            DType::Int => 2,
            DType::Byte => 1,
        }
    }
}

/// `.` of `long`; `.a` … `.z` follow it (also the value-label keys of
/// extended missing values).
const MISS_LONG: i32 = 2_147_483_621;
const MISS_DOUBLE: u64 = 0x7fe0_0000_0000_0000;
const MISS_FLOAT: u32 = 0x7f00_0000;

/// Largest strL read (bytes).
const MAX_STRL: usize = 1 << 31;

/// A missing value from its index: 0 = `.`, 1 = `.a` … 26 = `.z`.
#[inline]
fn missing(idx: u64) -> Cell {
    match idx {
        1..=26 => Cell::Ext(b'a' + (idx - 1) as u8),
        _ => Cell::Sys,
    }
}

/// A reader of a Stata `.dta` file (117, 118, 119).
pub struct DtaReader {
    src: Src<BufReader<Input>>,
    release: u16,
    vars: Vec<Variable>,
    types: Vec<DType>,
    row: Vec<u8>,
    nobs: u64,
    strls: HashMap<(u32, u64), (usize, usize)>,
    strl_bytes: Vec<u8>,
    enc: Encoding,
    number: u64,
    data_end: u64,
}

fn cstr(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

impl DtaReader {
    /// Opens `path`, reads the dictionary, the long strings and the value
    /// labels, and positions the reader at the first record.
    pub fn open(path: &Path) -> Result<Self, StatError> {
        Self::from_input(crate::input::open(path)?, path)
    }

    /// Reads `input`, a file named `path` in messages, up to its first record.
    pub fn from_input(input: Input, path: &Path) -> Result<Self, StatError> {
        let mut src = Src::new(BufReader::with_capacity(1 << 17, input), path);
        src.expect(b"<stata_dta><header><release>")?;
        let at = src.pos;
        let rel = src.array::<3>("the release")?;
        let release: u16 = match &rel {
            b"117" => 117,
            b"118" => 118,
            b"119" => 119,
            _ => {
                return Err(src.err_at(at, format!(
                    "release {}; expected 117, 118 or 119 (Stata 13-19): save the file again with `saveold, version(13)` or later",
                    show(&rel)
                )));
            }
        };
        src.expect(b"</release><byteorder>")?;
        let at = src.pos;
        src.big = match &src.array::<3>("the byte order")? {
            b"MSF" => true,
            b"LSF" => false,
            o => return Err(src.err_at(at, format!("byte order {}; expected `MSF` or `LSF`", show(o)))),
        };
        src.expect(b"</byteorder><K>")?;
        let k = if release == 119 {
            src.u32("the variable count")? as usize
        } else {
            usize::from(src.u16("the variable count")?)
        };
        src.expect(b"</K><N>")?;
        let nobs = if release == 117 {
            u64::from(src.u32("the observation count")?)
        } else {
            src.u64("the observation count")?
        };
        src.expect(b"</N><label>")?;
        let label_len = if release == 117 {
            usize::from(src.u8("the data label")?)
        } else {
            usize::from(src.u16("the data label")?)
        };
        src.skip(label_len as u64, "the data label")?;
        src.expect(b"</label><timestamp>")?;
        let ts = src.u8("the timestamp")?;
        src.skip(u64::from(ts), "the timestamp")?;
        src.expect(b"</timestamp></header><map>")?;
        src.skip(14 * 8, "the map")?;
        src.expect(b"</map><variable_types>")?;
        let mut types = Vec::new();
        for _ in 0..k {
            let at = src.pos;
            let t = src.u16("the variable types")?;
            types.push(match t {
                1..=2045 => DType::Str(usize::from(t)),
                32768 => DType::StrL,
                65526 => DType::Double,
                65527 => DType::Float,
                65528 => DType::Long,
                65529 => DType::Int,
                65530 => DType::Byte,
                _ => {
                    return Err(src.err_at(
                        at,
                        format!(
                            "variable {}: storage type code {t}; expected a Stata type (1-2045, 32768, 65526-65530)",
                            types.len() + 1
                        ),
                    ));
                }
            });
        }
        let enc = if release == 117 {
            Encoding::Windows1252
        } else {
            Encoding::Utf8
        };
        let (name_len, fmt_len, vlab_len) = if release == 117 { (33, 49, 81) } else { (129, 57, 321) };
        src.expect(b"</variable_types><varnames>")?;
        let mut names = Vec::with_capacity(k.min(1 << 16));
        for _ in 0..k {
            let b = src.bytes(name_len, "the variable names")?;
            names.push(enc.decode(cstr(&b)));
        }
        src.expect(b"</varnames><sortlist>")?;
        let sort_entry = if release == 119 { 4 } else { 2 };
        src.skip((k as u64 + 1) * sort_entry, "the sort list")?;
        src.expect(b"</sortlist><formats>")?;
        src.skip(k as u64 * fmt_len, "the display formats")?;
        src.expect(b"</formats><value_label_names>")?;
        let mut lbl_names = Vec::with_capacity(k.min(1 << 16));
        for _ in 0..k {
            let b = src.bytes(name_len, "the value label names")?;
            lbl_names.push(cstr(&b).to_vec());
        }
        src.expect(b"</value_label_names><variable_labels>")?;
        let mut labels = Vec::with_capacity(k.min(1 << 16));
        for _ in 0..k {
            let b = src.bytes(vlab_len, "the variable labels")?;
            labels.push(enc.decode(cstr(&b)));
        }
        src.expect(b"</variable_labels><characteristics>")?;
        loop {
            let at = src.pos;
            let t = src.array::<4>("the characteristics")?;
            match &t {
                b"<ch>" => {
                    let len = src.u32("a characteristic")?;
                    src.skip(u64::from(len), "a characteristic")?;
                    src.expect(b"</ch>")?;
                }
                b"</ch" => {
                    src.expect(b"aracteristics>")?;
                    break;
                }
                _ => {
                    return Err(src.err_at(
                        at,
                        format!("found {}; expected `<ch>` or `</characteristics>`", show(&t)),
                    ));
                }
            }
        }
        src.expect(b"<data>")?;
        let data_start = src.pos;
        let row_len: usize = types.iter().map(|t| t.size()).sum();
        let data_end = (row_len as u64)
            .checked_mul(nobs)
            .and_then(|n| n.checked_add(data_start))
            .ok_or_else(|| {
                src.err_at(
                    data_start,
                    format!("{nobs} observations of {row_len} bytes overflow; the file is damaged"),
                )
            })?;

        // After the data: long strings, value labels, the closing tag.
        src.r.seek(SeekFrom::Start(data_end)).map_err(|e| src.io(e))?;
        src.pos = data_end;
        src.expect(b"</data><strls>")?;
        let mut strls: HashMap<(u32, u64), (usize, usize)> = HashMap::new();
        let mut strl_bytes = Vec::new();
        loop {
            let at = src.pos;
            let t = src.array::<3>("the long strings")?;
            match &t {
                b"GSO" => {
                    let v = src.u32("a long string")?;
                    let o = if release == 117 {
                        u64::from(src.u32("a long string")?)
                    } else {
                        src.u64("a long string")?
                    };
                    let ty = src.u8("a long string")?;
                    let len = src.u32("a long string")? as usize;
                    let mut b = src.bytes_up_to(len, MAX_STRL, "a long string")?;
                    match ty {
                        129 => {}
                        130 => {
                            if b.last() == Some(&0) {
                                b.pop();
                            }
                        }
                        _ => {
                            return Err(src.err_at(
                                at,
                                format!("long string of type {ty}; expected 129 (binary) or 130 (text)"),
                            ));
                        }
                    }
                    let s = strl_bytes.len();
                    enc.decode_into(&b, &mut strl_bytes);
                    strls.insert((v, o), (s, strl_bytes.len()));
                }
                b"</s" => {
                    src.expect(b"trls>")?;
                    break;
                }
                _ => {
                    return Err(src.err_at(at, format!("found {}; expected `GSO` or `</strls>`", show(&t))));
                }
            }
        }
        src.expect(b"<value_labels>")?;
        let mut tables: HashMap<Vec<u8>, Vec<(LabelKey, String)>> = HashMap::new();
        loop {
            let at = src.pos;
            let t = src.array::<5>("the value labels")?;
            match &t {
                b"<lbl>" => {
                    let len = src.i32("a value label table")?;
                    let name = src.bytes(name_len, "a value label table")?;
                    src.skip(3, "a value label table")?;
                    let at_t = src.pos;
                    if len < 8 {
                        return Err(src.err_at(at, format!("value label table of {len} bytes; expected at least 8")));
                    }
                    let table = src.bytes(len as usize, "a value label table")?;
                    let entries = parse_table(&table, src.big, enc)
                        .map_err(|what| src.err_at(at_t, format!("value label table {}: {what}", show(cstr(&name)))))?;
                    src.expect(b"</lbl>")?;
                    tables.insert(cstr(&name).to_vec(), entries);
                }
                b"</val" => {
                    src.expect(b"ue_labels>")?;
                    break;
                }
                _ => {
                    return Err(src.err_at(at, format!("found {}; expected `<lbl>` or `</value_labels>`", show(&t))));
                }
            }
        }
        src.expect(b"</stata_dta>")?;

        let vars = names
            .into_iter()
            .zip(labels)
            .zip(&types)
            .zip(&lbl_names)
            .map(|(((name, label), t), l)| {
                let kind = match t {
                    DType::Str(_) | DType::StrL => Kind::Text,
                    _ => Kind::Numeric,
                };
                Variable {
                    name,
                    label,
                    kind,
                    value_labels: if kind == Kind::Numeric && !l.is_empty() {
                        tables.get(l).cloned().unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                    missing: UserMissing::default(),
                }
            })
            .collect();
        src.r.seek(SeekFrom::Start(data_start)).map_err(|e| src.io(e))?;
        src.pos = data_start;
        Ok(Self {
            src,
            release,
            vars,
            types,
            row: vec![0; row_len],
            nobs,
            strls,
            strl_bytes,
            enc,
            number: 0,
            data_end,
        })
    }

    /// `Dta(117)`, `Dta(118)` or `Dta(119)`.
    pub fn format(&self) -> Format {
        Format::Dta(self.release)
    }

    /// The variables, in file order.
    pub fn variables(&self) -> &[Variable] {
        &self.vars
    }

    /// The observation count of the header.
    pub fn records(&self) -> u64 {
        self.nobs
    }

    /// The observation count when the records have bytes (their data were
    /// found in the file); 0 for a file without variables.
    pub fn records_hint(&self) -> u64 {
        if self.row.is_empty() { 0 } else { self.nobs }
    }

    /// Bytes of the file consumed (for progress).
    pub fn position(&self) -> u64 {
        self.src.pos
    }

    /// Reads the next observation into `rec`; `false` after the last one.
    pub fn next_record(&mut self, rec: &mut Record) -> Result<bool, StatError> {
        rec.clear();
        if self.number >= self.nobs {
            return Ok(false);
        }
        let at = self.src.pos;
        if let Err(e) = self.src.exact(&mut self.row, "an observation") {
            return Err(match e {
                StatError::Format { file, what, .. } => StatError::Format {
                    file,
                    where_: format!("record {} (byte {at})", self.number + 1),
                    what,
                },
                e => e,
            });
        }
        debug_assert!(self.src.pos <= self.data_end);
        self.number += 1;
        rec.number = self.number;
        let big = self.src.big;
        let mut p = 0;
        for t in &self.types {
            let n = t.size();
            let b = &self.row[p..p + n];
            p += n;
            match *t {
                DType::Byte => {
                    let v = b[0] as i8;
                    rec.push(if v <= 100 {
                        Cell::Num(f64::from(v))
                    } else {
                        missing((v - 101) as u64)
                    });
                }
                DType::Int => {
                    let a = [b[0], b[1]];
                    let v = if big {
                        i16::from_be_bytes(a)
                    } else {
                        i16::from_le_bytes(a)
                    };
                    rec.push(if v <= 32740 {
                        Cell::Num(f64::from(v))
                    } else {
                        missing((v - 32741) as u64)
                    });
                }
                DType::Long => {
                    let a = [b[0], b[1], b[2], b[3]];
                    let v = if big {
                        i32::from_be_bytes(a)
                    } else {
                        i32::from_le_bytes(a)
                    };
                    rec.push(if v < MISS_LONG {
                        Cell::Num(f64::from(v))
                    } else {
                        missing((v - MISS_LONG) as u64)
                    });
                }
                DType::Float => {
                    let a = [b[0], b[1], b[2], b[3]];
                    let bits = if big {
                        u32::from_be_bytes(a)
                    } else {
                        u32::from_le_bytes(a)
                    };
                    let x = f32::from_bits(bits);
                    rec.push(if (MISS_FLOAT..0x8000_0000).contains(&bits) {
                        missing(u64::from((bits - MISS_FLOAT) >> 11))
                    } else if x.is_nan() {
                        Cell::Sys
                    } else {
                        Cell::Num(f64::from(x))
                    });
                }
                DType::Double => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    let bits = if big {
                        u64::from_be_bytes(a)
                    } else {
                        u64::from_le_bytes(a)
                    };
                    let x = f64::from_bits(bits);
                    rec.push(if (MISS_DOUBLE..0x8000_0000_0000_0000).contains(&bits) {
                        missing((bits - MISS_DOUBLE) >> 40)
                    } else if x.is_nan() {
                        Cell::Sys
                    } else {
                        Cell::Num(x)
                    });
                }
                DType::Str(_) => rec.push_text_in(cstr(b), self.enc),
                DType::StrL => {
                    let (v, o) = strl_ref(b, self.release, big);
                    if (v, o) == (0, 0) {
                        rec.push_text(b"");
                    } else {
                        let Some(&(s, e)) = self.strls.get(&(v, o)) else {
                            return Err(StatError::Format {
                                file: self.src.file.clone(),
                                where_: format!("record {} (byte {at})", self.number),
                                what: format!(
                                    "long string reference (variable {v}, observation {o}) is not in the file's <strls>; the file is damaged"
                                ),
                            });
                        };
                        rec.push_text(&self.strl_bytes[s..e]);
                    }
                }
            }
        }
        Ok(true)
    }
}

/// The (variable, observation) of a strL reference.
fn strl_ref(b: &[u8], release: u16, big: bool) -> (u32, u64) {
    let vlen = match release {
        117 => 4,
        118 => 2,
        _ => 3,
    };
    let num = |s: &[u8]| -> u64 {
        let it: Box<dyn Iterator<Item = &u8>> = if big {
            Box::new(s.iter())
        } else {
            Box::new(s.iter().rev())
        };
        it.fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    };
    (num(&b[..vlen]) as u32, num(&b[vlen..8]))
}

/// Entries of a value label table: `n`, `txtlen`, `off[n]`, `val[n]`, `txt`.
fn parse_table(t: &[u8], big: bool, enc: Encoding) -> Result<Vec<(LabelKey, String)>, String> {
    let word = |i: usize| -> Option<i32> {
        let b: [u8; 4] = t.get(i..i + 4)?.try_into().ok()?;
        Some(if big {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        })
    };
    let n = word(0).ok_or("too short")?;
    let txtlen = word(4).ok_or("too short")?;
    if n < 0 || txtlen < 0 {
        return Err(format!("{n} entries, {txtlen} bytes of text; expected counts ≥ 0"));
    }
    let (n, txtlen) = (n as usize, txtlen as usize);
    let want = n.checked_mul(8).and_then(|x| x.checked_add(8 + txtlen));
    if want != Some(t.len()) {
        return Err(format!(
            "{n} entries and {txtlen} bytes of text do not fill its {} bytes; the file is damaged",
            t.len()
        ));
    }
    let txt = &t[8 + 8 * n..];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let off = word(8 + 4 * i).ok_or("too short")?;
        let val = word(8 + 4 * n + 4 * i).ok_or("too short")?;
        if off < 0 || off as usize >= txtlen.max(1) || off as usize > txt.len() {
            return Err(format!(
                "label {} starts at text byte {off}; expected 0 to {}",
                i + 1,
                txtlen.saturating_sub(1)
            ));
        }
        let text = enc.decode(cstr(&txt[off as usize..]));
        let key = match val {
            MISS_LONG => continue,
            v if v > MISS_LONG => LabelKey::Ext(b'a' + (v - MISS_LONG - 1) as u8),
            v => LabelKey::Num(f64::from(v)),
        };
        out.push((key, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strl_references_by_release() {
        let b = [2, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(strl_ref(&b, 118, false), (2, 1));
        assert_eq!(strl_ref(&[2, 0, 0, 1, 0, 0, 0, 0], 119, false), (2, 1));
        assert_eq!(strl_ref(&[2, 0, 0, 0, 1, 0, 0, 0], 117, false), (2, 1));
        assert_eq!(strl_ref(&[0, 2, 0, 0, 0, 0, 0, 1], 118, true), (2, 1));
    }

    #[test]
    fn missing_codes_of_each_type() {
        assert!(matches!(missing(0), Cell::Sys));
        assert!(matches!(missing(4), Cell::Ext(b'd')));
        assert!(matches!(missing(26), Cell::Ext(b'z')));
        assert!(matches!(missing(27), Cell::Sys));
    }
}
