//! Stata `.dta` writer, format 118 (Stata 14–19), written by hand from
//! Stata's published description of the format (`help dta`): the Rust
//! crates that write `.dta` were not trusted without a way to check them
//! against Stata, and the format is small.
//!
//! - Integer columns take the smallest Stata type that holds their valid
//!   values (`byte`, `int`, `long`, else `double`); doubles are `double`;
//!   booleans `byte` 0/1; text `strN` (N up to 2045 bytes, else an error).
//! - DK/refused codes become Stata's extended missing values: `dk` → `.d`,
//!   `refused` → `.r`, any other missing code → `.a`, `.b`, … (skipping d
//!   and r); the value label carries their names. A blank (not asked) is `.`.
//! - Variable labels are cut to Stata's 80 characters; value labels hold
//!   the category names, one label set per variable, named like it.
//! - Stata has no weight declaration in the file: the data label names the
//!   weight (`[pweight=weight]`), and so does the characteristic
//!   `_dta[swvr_svyset]`, which holds the `svyset` command for the design.
//! - Deterministic: no timestamp.

use std::io::Write;
use std::path::Path;

use swvr_core::io::AtomicFile;

use crate::ExportError;
use crate::Micro;
use crate::dict::{Col, Dict, Var, cols_of};

/// Stata type codes of format 118.
const T_DOUBLE: u16 = 65526;
const T_LONG: u16 = 65528;
const T_INT: u16 = 65529;
const T_BYTE: u16 = 65530;

/// `.` of each integer type; `.a` … `.z` follow it.
const MISS_BYTE: i64 = 101;
const MISS_INT: i64 = 32741;
const MISS_LONG: i64 = 2_147_483_621;
const MISS_DOUBLE: u64 = 0x7fe0_0000_0000_0000;
const MISS_DOUBLE_STEP: u64 = 0x0000_0100_0000_0000;

/// Extended-missing letter index (1 = `.a` … 26 = `.z`) for each missing code.
fn missing_letters(v: &Var) -> Vec<(i64, u8)> {
    swvr_core::labels::stata_missing_letters(&v.missing)
}

struct Plan {
    ty: u16,
    /// Bytes per value.
    size: usize,
    /// Code → extended-missing letter index.
    letters: Vec<(i64, u8)>,
}

fn plan(v: &Var) -> Result<Plan, String> {
    let letters = missing_letters(v);
    if v.is_str() {
        let w = v.max_len.max(1);
        if w > 2045 {
            return Err(format!(
                "column `{}` holds a text of {w} bytes; .dta strN holds up to 2045",
                v.name
            ));
        }
        return Ok(Plan {
            ty: w as u16,
            size: w,
            letters,
        });
    }
    if !v.integer {
        return Ok(Plan {
            ty: T_DOUBLE,
            size: 8,
            letters,
        });
    }
    // The range of the valid codes (missing codes excluded: Micro::scan).
    let (lo, hi) = v.range.unwrap_or((0, 0));
    let (ty, size) = if lo >= -127 && hi <= 100 {
        (T_BYTE, 1)
    } else if lo >= -32767 && hi <= 32740 {
        (T_INT, 2)
    } else if lo >= -2_147_483_647 && hi <= 2_147_483_620 {
        (T_LONG, 4)
    } else {
        (T_DOUBLE, 8)
    };
    Ok(Plan { ty, size, letters })
}

fn fixed(s: &str, width: usize) -> Vec<u8> {
    let s = crate::sav::cut(s, width - 1);
    let mut b = s.as_bytes().to_vec();
    b.resize(width, 0);
    b
}

/// Cuts `s` to at most `n` characters.
fn chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn tag(h: &mut Vec<u8>, t: &str) {
    h.extend_from_slice(t.as_bytes());
}

/// Writes `dict` as a Stata 118 file at `path` (atomically).
/// `chars_`: dataset characteristics `_dta[name]` = value, in order.
pub(crate) fn write(
    path: &Path,
    dict: &Dict,
    data_label: &str,
    chars_: &[(String, String)],
    m: &Micro<'_>,
) -> Result<(), ExportError> {
    let fmt_err = |message: String| ExportError::Format {
        path: path.to_path_buf(),
        message,
    };
    let k = u16::try_from(dict.vars.len()).map_err(|_| fmt_err("more than 65535 variables".into()))?;
    let mut plans = Vec::with_capacity(dict.vars.len());
    for v in &dict.vars {
        let valid = !v.name.is_empty()
            && v.name.len() <= 32
            && v.name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && v.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(fmt_err(format!(
                "column `{}` is not a valid Stata variable name",
                v.name
            )));
        }
        plans.push(plan(v).map_err(fmt_err)?);
    }
    let row_width: usize = plans.iter().map(|p| p.size).sum();

    let mut h: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut map = [0u64; 14];
    tag(
        &mut h,
        "<stata_dta><header><release>118</release><byteorder>LSF</byteorder><K>",
    );
    h.extend_from_slice(&k.to_le_bytes());
    tag(&mut h, "</K><N>");
    h.extend_from_slice(&(dict.rows as u64).to_le_bytes());
    tag(&mut h, "</N><label>");
    let label = crate::sav::cut(data_label, 320);
    h.extend_from_slice(&(label.len() as u16).to_le_bytes());
    h.extend_from_slice(label.as_bytes());
    tag(&mut h, "</label><timestamp>");
    h.push(0);
    tag(&mut h, "</timestamp></header>");
    map[1] = h.len() as u64;
    tag(&mut h, "<map>");
    let map_at = h.len();
    h.resize(h.len() + 14 * 8, 0);
    tag(&mut h, "</map>");
    map[2] = h.len() as u64;
    tag(&mut h, "<variable_types>");
    for p in &plans {
        h.extend_from_slice(&p.ty.to_le_bytes());
    }
    tag(&mut h, "</variable_types>");
    map[3] = h.len() as u64;
    tag(&mut h, "<varnames>");
    for v in &dict.vars {
        h.extend_from_slice(&fixed(&v.name, 129));
    }
    tag(&mut h, "</varnames>");
    map[4] = h.len() as u64;
    tag(&mut h, "<sortlist>");
    h.resize(h.len() + 2 * (usize::from(k) + 1), 0);
    tag(&mut h, "</sortlist>");
    map[5] = h.len() as u64;
    tag(&mut h, "<formats>");
    for (v, p) in dict.vars.iter().zip(&plans) {
        let f = match p.ty {
            T_BYTE | T_INT => "%8.0g".to_string(),
            T_LONG => "%12.0g".to_string(),
            T_DOUBLE if v.integer => "%12.0g".to_string(),
            T_DOUBLE => "%10.0g".to_string(),
            w => format!("%-{w}s"),
        };
        h.extend_from_slice(&fixed(&f, 57));
    }
    tag(&mut h, "</formats>");
    map[6] = h.len() as u64;
    tag(&mut h, "<value_label_names>");
    for v in &dict.vars {
        let name = if v.values.is_empty() || v.is_str() {
            ""
        } else {
            v.name.as_str()
        };
        h.extend_from_slice(&fixed(name, 129));
    }
    tag(&mut h, "</value_label_names>");
    map[7] = h.len() as u64;
    tag(&mut h, "<variable_labels>");
    for v in &dict.vars {
        h.extend_from_slice(&fixed(chars(&v.label, 80).trim_end(), 321));
    }
    tag(&mut h, "</variable_labels>");
    map[8] = h.len() as u64;
    tag(&mut h, "<characteristics>");
    for (name, value) in chars_ {
        tag(&mut h, "<ch>");
        let body_len = 129 + 129 + value.len() + 1;
        h.extend_from_slice(&(body_len as u32).to_le_bytes());
        h.extend_from_slice(&fixed("_dta", 129));
        h.extend_from_slice(&fixed(name, 129));
        h.extend_from_slice(value.as_bytes());
        h.push(0);
        tag(&mut h, "</ch>");
    }
    tag(&mut h, "</characteristics>");
    map[9] = h.len() as u64;
    tag(&mut h, "<data>");
    let data_end = h.len() as u64 + (row_width as u64) * (dict.rows as u64);

    // The tail: strls (none) and the value labels.
    let mut t: Vec<u8> = Vec::new();
    tag(&mut t, "</data>");
    let strls_at = t.len();
    tag(&mut t, "<strls></strls>");
    let vl_at = t.len();
    tag(&mut t, "<value_labels>");
    for (v, p) in dict.vars.iter().zip(&plans) {
        if v.values.is_empty() || v.is_str() {
            continue;
        }
        let mut entries: Vec<(i32, &str)> = Vec::with_capacity(v.values.len());
        for (code, text) in &v.values {
            let val = match p.letters.iter().find(|(c, _)| c == code) {
                Some((_, letter)) => (MISS_LONG + i64::from(*letter)) as i32,
                None => i32::try_from(*code).map_err(|_| {
                    fmt_err(format!(
                        "column `{}`: code {code} too large for a Stata value label",
                        v.name
                    ))
                })?,
            };
            entries.push((val, crate::sav::cut(text, 32000)));
        }
        entries.sort_by_key(|e| e.0);
        let mut txt: Vec<u8> = Vec::new();
        let mut offs: Vec<i32> = Vec::new();
        for (_, s) in &entries {
            offs.push(txt.len() as i32);
            txt.extend_from_slice(s.as_bytes());
            txt.push(0);
        }
        let n = entries.len();
        let len = 8 + 8 * n + txt.len();
        tag(&mut t, "<lbl>");
        t.extend_from_slice(&(len as i32).to_le_bytes());
        t.extend_from_slice(&fixed(&v.name, 129));
        t.extend_from_slice(&[0u8; 3]);
        t.extend_from_slice(&(n as i32).to_le_bytes());
        t.extend_from_slice(&(txt.len() as i32).to_le_bytes());
        for o in &offs {
            t.extend_from_slice(&o.to_le_bytes());
        }
        for (val, _) in &entries {
            t.extend_from_slice(&val.to_le_bytes());
        }
        t.extend_from_slice(&txt);
        tag(&mut t, "</lbl>");
    }
    tag(&mut t, "</value_labels>");
    let end_at = t.len();
    tag(&mut t, "</stata_dta>");
    map[10] = data_end + strls_at as u64;
    map[11] = data_end + vl_at as u64;
    map[12] = data_end + end_at as u64;
    map[13] = data_end + t.len() as u64;
    for (i, m) in map.iter().enumerate() {
        h[map_at + 8 * i..map_at + 8 * i + 8].copy_from_slice(&m.to_le_bytes());
    }

    let mut file = AtomicFile::create(path)?;
    let io = |source| {
        ExportError::Io(swvr_core::io::IoError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    file.write_all(&h).map_err(io)?;
    // Rows, fixed width, encoded in parallel chunks (column by column).
    let mut offsets = Vec::with_capacity(plans.len());
    let mut at = 0usize;
    for p in &plans {
        offsets.push(at);
        at += p.size;
    }
    let encode = |cols: &[Col<'_>], s: usize, e: usize| -> Vec<u8> {
        let n = e - s;
        let mut buf = vec![0u8; n * row_width];
        for ((col, p), &off) in cols.iter().zip(&plans).zip(&offsets) {
            let cells = (0..n).map(|k| (k * row_width + off, s + k));
            match col {
                Col::Str(_) => {
                    for (at, row) in cells {
                        let b = col.text(row).as_bytes();
                        buf[at..at + b.len()].copy_from_slice(b);
                    }
                }
                Col::Float(_) => {
                    for (at, row) in cells {
                        let bits = match col.num(row) {
                            Some(x) if x.is_finite() => x.to_bits(),
                            _ => MISS_DOUBLE,
                        };
                        buf[at..at + 8].copy_from_slice(&bits.to_le_bytes());
                    }
                }
                Col::Int(_) | Col::Bool(_) => {
                    let missing = match p.ty {
                        T_BYTE => MISS_BYTE,
                        T_INT => MISS_INT,
                        _ => MISS_LONG,
                    };
                    // A cell's value: the code, its extended missing value, or `.`.
                    let letter = |value: Option<i64>| {
                        value.and_then(|x| p.letters.iter().find(|(c, _)| *c == x).map(|(_, l)| i64::from(*l)))
                    };
                    let stata = |row: usize| -> i64 {
                        let value = col.int(row);
                        match (letter(value), value) {
                            (Some(l), _) => missing + l,
                            (None, Some(x)) => x,
                            (None, None) => missing,
                        }
                    };
                    // Little-endian truncation = the two's complement of i8/i16/i32.
                    match (p.ty, p.size) {
                        (T_DOUBLE, _) => {
                            for (at, row) in cells {
                                let value = col.int(row);
                                let bits = match (letter(value), value) {
                                    (Some(l), _) => MISS_DOUBLE + MISS_DOUBLE_STEP * l as u64,
                                    (None, Some(x)) => (x as f64).to_bits(),
                                    (None, None) => MISS_DOUBLE,
                                };
                                buf[at..at + 8].copy_from_slice(&bits.to_le_bytes());
                            }
                        }
                        (_, 1) => {
                            for (at, row) in cells {
                                buf[at] = stata(row) as u8;
                            }
                        }
                        (_, 2) => {
                            for (at, row) in cells {
                                buf[at..at + 2].copy_from_slice(&(stata(row) as i16).to_le_bytes());
                            }
                        }
                        _ => {
                            for (at, row) in cells {
                                buf[at..at + 4].copy_from_slice(&(stata(row) as i32).to_le_bytes());
                            }
                        }
                    }
                }
            }
        }
        buf
    };
    m.walk(|batch| {
        let cols = cols_of(&batch, m.source())?;
        crate::chunks::for_each_chunk(
            batch.num_rows(),
            |s, e| encode(&cols, s, e),
            |buf| file.write_all(&buf).map_err(io),
        )
    })?;
    file.write_all(&t).map_err(io)?;
    file.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chars_cuts_on_characters_not_bytes() {
        assert_eq!(chars("añb", 2), "añ");
        assert_eq!(chars("ab", 5), "ab");
        assert_eq!(fixed("ab", 4), b"ab\0\0");
    }
}
