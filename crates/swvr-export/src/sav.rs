//! SPSS system file (`.sav`) writer, written by hand from PSPP's
//! description of the format ("System File Format" in the PSPP developer
//! guide): no maintained Rust crate writes `.sav`.
//!
//! What is written, in order:
//! - the file header (`$FL2`, bytecode compression with bias 100, the case
//!   count, and the **weight index**: the dictionary position of `weight`,
//!   so SPSS and PSPP open the file with `WEIGHT BY weight` in force);
//! - one variable record per variable (plus continuation records for text
//!   wider than 8 bytes), with the variable label and up to three discrete
//!   user-missing values (the questionnaire's DK/refused codes);
//! - one value-label record pair per labelled variable;
//! - extension records: machine integer and float info, display parameters
//!   (measurement level), long variable names, and the UTF-8 encoding;
//! - the compressed cases.
//!
//! Deterministic: the creation date and time fields hold the fixed
//! `01 Jan 70` / `00:00:00` (same inputs, same bytes). Limits: text values
//! up to 255 bytes (longer is an error naming the column), variable labels
//! up to 255 bytes and value labels up to 120 bytes (longer ones are cut at
//! a character boundary).

use std::io::Write;
use std::path::Path;

use arrow_array::Array;
use swvr_core::io::AtomicFile;

use crate::ExportError;
use crate::Micro;
use crate::dict::{Col, Dict, Measure, cols_of};

const BIAS: f64 = 100.0;

/// Cuts `s` to at most `max` bytes at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn padded(s: &str, width: usize) -> Vec<u8> {
    let mut b = s.as_bytes()[..s.len().min(width)].to_vec();
    b.resize(width, b' ');
    b
}

/// Short (8-byte) names: upper-cased, characters SPSS does not allow
/// replaced by `_`, cut to 8 bytes and made unique with a numeric suffix.
fn short_names(names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        let mut base: String = n
            .chars()
            .map(|c| {
                let c = c.to_ascii_uppercase();
                if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }
            })
            .collect();
        if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
            base.insert(0, 'V');
        }
        let mut cand: String = base.chars().take(8).collect();
        let mut k = 1;
        while out.contains(&cand) {
            let suffix = k.to_string();
            cand = format!("{}{suffix}", &base[..base.len().min(8 - suffix.len())]);
            k += 1;
        }
        out.push(cand);
    }
    out
}

struct Layout {
    /// Bytes of text per variable (0 = numeric).
    width: usize,
    /// 8-byte slots the variable takes.
    slots: usize,
    /// 1-based dictionary index of its first slot.
    index: usize,
}

fn format_spec(v: &crate::dict::Var, width: usize) -> i32 {
    // (type << 16) | (width << 8) | decimals; type 5 = F, 1 = A.
    if width > 0 {
        (1 << 16) | ((width.min(255) as i32) << 8)
    } else if v.integer {
        (5 << 16) | (11 << 8)
    } else {
        (5 << 16) | (18 << 8) | 10
    }
}

fn i32le(buf: &mut Vec<u8>, v: i32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Writes `dict` as an SPSS system file at `path` (atomically).
pub(crate) fn write(path: &Path, dict: &Dict, file_label: &str, m: &Micro<'_>) -> Result<(), ExportError> {
    let fmt_err = |message: String| ExportError::Format {
        path: path.to_path_buf(),
        message,
    };
    // Layout.
    let mut layouts = Vec::with_capacity(dict.vars.len());
    let mut next = 1usize;
    for v in &dict.vars {
        let width = if v.is_str() {
            let w = v.max_len.max(1);
            if w > 255 {
                return Err(fmt_err(format!(
                    "column `{}` holds a text of {w} bytes; the .sav writer supports up to 255",
                    v.name
                )));
            }
            w
        } else {
            0
        };
        let slots = if width == 0 { 1 } else { width.div_ceil(8) };
        layouts.push(Layout {
            width,
            slots,
            index: next,
        });
        next += slots;
    }
    let case_size = next - 1;
    let ncases = i32::try_from(dict.rows).map_err(|_| fmt_err(format!("{} cases exceed the .sav limit", dict.rows)))?;
    let names: Vec<&str> = dict.vars.iter().map(|v| v.name.as_str()).collect();
    let shorts = short_names(&names);

    let mut h: Vec<u8> = Vec::with_capacity(64 * 1024);
    // File header record.
    h.extend_from_slice(b"$FL2");
    h.extend_from_slice(&padded(
        &format!("@(#) SPSS DATA FILE swvr {}", env!("CARGO_PKG_VERSION")),
        60,
    ));
    i32le(&mut h, 2); // layout code
    i32le(&mut h, case_size as i32);
    i32le(&mut h, 1); // bytecode compression
    let weight_index = dict.weight.map_or(0, |w| layouts[w].index as i32);
    i32le(&mut h, weight_index);
    i32le(&mut h, ncases);
    h.extend_from_slice(&BIAS.to_le_bytes());
    h.extend_from_slice(b"01 Jan 70");
    h.extend_from_slice(b"00:00:00");
    h.extend_from_slice(&padded(file_label, 64));
    h.extend_from_slice(&[0u8; 3]);

    // Variable records.
    for ((v, l), short) in dict.vars.iter().zip(&layouts).zip(&shorts) {
        i32le(&mut h, 2);
        i32le(&mut h, l.width as i32);
        let label = cut(&v.label, 255);
        i32le(&mut h, i32::from(!label.is_empty()));
        let missing: Vec<f64> = if l.width == 0 {
            v.missing.iter().map(|(c, _)| *c as f64).collect()
        } else {
            Vec::new()
        };
        let n_missing = match missing.len() {
            0..=3 => missing.len() as i32,
            _ => -2, // a range: low, high
        };
        i32le(&mut h, n_missing);
        let f = format_spec(v, l.width);
        i32le(&mut h, f);
        i32le(&mut h, f);
        h.extend_from_slice(&padded(short, 8));
        if !label.is_empty() {
            i32le(&mut h, label.len() as i32);
            h.extend_from_slice(label.as_bytes());
            h.resize(h.len() + (4 - label.len() % 4) % 4, b' ');
        }
        if n_missing == -2 {
            let lo = missing.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = missing.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let inside = v.values.iter().any(|(c, _)| {
                let c = *c as f64;
                c >= lo && c <= hi && !missing.contains(&c)
            });
            if inside {
                return Err(fmt_err(format!(
                    "column `{}`: more than three missing codes that are not a range",
                    v.name
                )));
            }
            h.extend_from_slice(&lo.to_le_bytes());
            h.extend_from_slice(&hi.to_le_bytes());
        } else {
            for m in &missing {
                h.extend_from_slice(&m.to_le_bytes());
            }
        }
        for _ in 1..l.slots {
            i32le(&mut h, 2);
            i32le(&mut h, -1);
            i32le(&mut h, 0);
            i32le(&mut h, 0);
            i32le(&mut h, 0);
            i32le(&mut h, 0);
            h.extend_from_slice(&[b' '; 8]);
        }
    }

    // Value labels (numeric variables).
    for (v, l) in dict.vars.iter().zip(&layouts) {
        if v.values.is_empty() || l.width > 0 {
            continue;
        }
        i32le(&mut h, 3);
        i32le(&mut h, v.values.len() as i32);
        for (code, text) in &v.values {
            h.extend_from_slice(&(*code as f64).to_le_bytes());
            let t = cut(text, 120);
            h.push(t.len() as u8);
            h.extend_from_slice(t.as_bytes());
            let used = 1 + t.len();
            h.resize(h.len() + (8 - used % 8) % 8, b' ');
        }
        i32le(&mut h, 4);
        i32le(&mut h, 1);
        i32le(&mut h, l.index as i32);
    }

    // Extension records.
    let ext = |h: &mut Vec<u8>, subtype: i32, size: i32, count: i32| {
        i32le(h, 7);
        i32le(h, subtype);
        i32le(h, size);
        i32le(h, count);
    };
    ext(&mut h, 3, 4, 8);
    for x in [1, 0, 0, -1, 1, 1, 2, 65001] {
        i32le(&mut h, x);
    }
    ext(&mut h, 4, 8, 3);
    h.extend_from_slice(&(-f64::MAX).to_le_bytes());
    h.extend_from_slice(&f64::MAX.to_le_bytes());
    h.extend_from_slice(&f64::from_bits(0xffef_ffff_ffff_fffe).to_le_bytes());
    ext(&mut h, 11, 4, 3 * dict.vars.len() as i32);
    for (v, l) in dict.vars.iter().zip(&layouts) {
        let (measure, width, align) = match (v.measure, l.width) {
            (_, w) if w > 0 => (1, w.clamp(1, 40) as i32, 0),
            (Measure::Nominal, _) => (1, 8, 1),
            (Measure::Scale, _) => (3, 12, 1),
        };
        for x in [measure, width, align] {
            i32le(&mut h, x);
        }
    }
    let long: Vec<String> = shorts.iter().zip(&names).map(|(s, n)| format!("{s}={n}")).collect();
    let long = long.join("\t");
    ext(&mut h, 13, 1, long.len() as i32);
    h.extend_from_slice(long.as_bytes());
    ext(&mut h, 20, 1, 5);
    h.extend_from_slice(b"UTF-8");
    i32le(&mut h, 999);
    i32le(&mut h, 0);

    let mut file = AtomicFile::create(path)?;
    let io = |source| {
        ExportError::Io(swvr_core::io::IoError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    file.write_all(&h).map_err(io)?;

    // Cases, bytecode-compressed: blocks of 8 command bytes, each followed
    // by the 8-byte raw values its 253 codes announce. Chunks of rows are
    // coded in parallel (column by column, a code per slot) and packed into
    // blocks in parallel too: a chunk starting at case g starts at code
    // g × case_size, so where it falls in a block is known in advance. The
    // few codes that complete the block the previous chunk left open, and
    // those of its own last open block, are merged in row order.
    let mut slot_of: Vec<(usize, usize)> = Vec::with_capacity(case_size);
    for (j, l) in layouts.iter().enumerate() {
        for sub in 0..l.slots {
            slot_of.push((j, sub));
        }
    }
    let firsts: Vec<usize> = layouts.iter().map(|l| l.index - 1).collect();
    let slots: Vec<usize> = layouts.iter().map(|l| l.slots).collect();
    let mut blocks = Blocks::default();
    let mut row = 0usize;
    m.walk(|batch| {
        let cols = cols_of(&batch, m.source())?;
        let shape = Shape {
            cols: &cols,
            firsts: &firsts,
            slots: &slots,
            slot_of: &slot_of,
            case_size,
        };
        let base = row;
        crate::chunks::for_each_chunk(
            batch.num_rows(),
            |s, e| shape.pack(s, e, ((base + s) * case_size) % 8),
            |p| {
                blocks.add(&p);
                if blocks.out.len() >= 1 << 20 {
                    file.write_all(&blocks.out).map_err(io)?;
                    blocks.out.clear();
                }
                Ok::<(), ExportError>(())
            },
        )?;
        row += batch.num_rows();
        Ok(())
    })?;
    blocks.finish();
    file.write_all(&blocks.out).map_err(io)?;
    file.commit()?;
    Ok(())
}

/// Where each variable's codes go in a case.
struct Shape<'a, 'b> {
    cols: &'a [Col<'b>],
    /// First slot (0-based) of each variable.
    firsts: &'a [usize],
    /// Slots of each variable.
    slots: &'a [usize],
    /// Slot → (variable, slot within the variable).
    slot_of: &'a [(usize, usize)],
    case_size: usize,
}

/// A chunk's cases as compressed blocks: `head` = the codes (and raw
/// values) that complete the block open before it, `body` = whole blocks,
/// `tail` = the codes of its last, open block.
struct Packed {
    head: (Vec<u8>, Vec<u8>),
    body: Vec<u8>,
    tail: (Vec<u8>, Vec<u8>),
}

/// Text bytes `8·sub .. 8·sub + 8` of `b`, padded with spaces.
#[inline]
fn text_slot(b: &[u8], sub: usize) -> [u8; 8] {
    let mut chunk = [b' '; 8];
    let from = (sub * 8).min(b.len());
    let to = (sub * 8 + 8).min(b.len());
    chunk[..to - from].copy_from_slice(&b[from..to]);
    chunk
}

/// The compression code of a number (253 = raw value follows).
#[inline]
fn num_code(x: f64) -> u8 {
    if x.fract() == 0.0 && (-99.0..=151.0).contains(&x) {
        (x + BIAS) as u8
    } else {
        253
    }
}

/// The compression code of an integer (253 = raw value follows).
#[inline]
fn int_code(x: i64) -> u8 {
    if (-99..=151).contains(&x) { (x + 100) as u8 } else { 253 }
}

impl Shape<'_, '_> {
    /// The codes of cases `s..e`, case by case, slot by slot; column by column.
    fn codes(&self, s: usize, e: usize) -> Vec<u8> {
        let n = e - s;
        let cs = self.case_size;
        let mut codes = vec![0u8; n * cs];
        for ((col, &first), &slots) in self.cols.iter().zip(self.firsts).zip(self.slots) {
            if let Col::Str(_) = col {
                for k in 0..n {
                    let b = col.text(s + k).as_bytes();
                    for sub in 0..slots {
                        codes[k * cs + first + sub] = if text_slot(b, sub) == [b' '; 8] { 254 } else { 253 };
                    }
                }
                continue;
            }
            let cells = codes[first..].iter_mut().step_by(cs).take(n);
            match col {
                Col::Str(_) => {}
                Col::Float(a) => {
                    let v = &a.values()[s..e];
                    for ((k, c), &x) in cells.enumerate().zip(v) {
                        *c = if a.is_null(s + k) { 255 } else { num_code(x) };
                    }
                }
                Col::Int(a) => {
                    for (k, c) in cells.enumerate() {
                        *c = match a.get(s + k) {
                            None => 255,
                            Some(x) => int_code(x),
                        };
                    }
                }
                Col::Bool(_) => {
                    for (k, c) in cells.enumerate() {
                        *c = match col.int(s + k) {
                            None => 255,
                            Some(x) => int_code(x),
                        };
                    }
                }
            }
        }
        codes
    }

    /// The raw 8 bytes of code `at` (a 253) of the chunk starting at case `s`.
    #[inline]
    fn raw(&self, s: usize, at: usize) -> [u8; 8] {
        let (k, slot) = (at / self.case_size, at % self.case_size);
        let (j, sub) = self.slot_of[slot];
        let col = &self.cols[j];
        match col {
            Col::Str(_) => text_slot(col.text(s + k).as_bytes(), sub),
            _ => col.num(s + k).unwrap_or(f64::NAN).to_le_bytes(),
        }
    }

    /// Cases `s..e` coded and packed; `phase` = codes already in the open block.
    fn pack(&self, s: usize, e: usize, phase: usize) -> Packed {
        let codes = self.codes(s, e);
        let total = codes.len();
        let head_len = if phase == 0 { 0 } else { (8 - phase).min(total) };
        let body_len = (total - head_len) / 8 * 8;
        let loose = |from: usize, to: usize| -> (Vec<u8>, Vec<u8>) {
            let mut data = Vec::new();
            for (at, &c) in codes.iter().enumerate().take(to).skip(from) {
                if c == 253 {
                    data.extend_from_slice(&self.raw(s, at));
                }
            }
            (codes[from..to].to_vec(), data)
        };
        let head = loose(0, head_len);
        let mut body = Vec::with_capacity(body_len * 3);
        for (g, block) in codes[head_len..head_len + body_len].chunks_exact(8).enumerate() {
            body.extend_from_slice(block);
            for (i, &c) in block.iter().enumerate() {
                if c == 253 {
                    body.extend_from_slice(&self.raw(s, head_len + g * 8 + i));
                }
            }
        }
        let tail = loose(head_len + body_len, total);
        Packed { head, body, tail }
    }
}

/// The compressed cases in file order, with the block still open.
#[derive(Default)]
struct Blocks {
    out: Vec<u8>,
    cmds: [u8; 8],
    ncmd: usize,
    pending: Vec<u8>,
}

impl Blocks {
    /// Appends loose codes (`data`: the raw values of their 253s, in order).
    fn push(&mut self, codes: &[u8], data: &[u8]) {
        let mut data = data.chunks_exact(8);
        for &c in codes {
            self.cmds[self.ncmd] = c;
            if c == 253
                && let Some(d) = data.next()
            {
                self.pending.extend_from_slice(d);
            }
            self.ncmd += 1;
            if self.ncmd == 8 {
                self.out.extend_from_slice(&self.cmds);
                self.out.extend_from_slice(&self.pending);
                self.pending.clear();
                self.cmds = [0u8; 8];
                self.ncmd = 0;
            }
        }
    }

    fn add(&mut self, p: &Packed) {
        self.push(&p.head.0, &p.head.1);
        // `pack` made the head complete the open block whenever a body follows.
        self.out.extend_from_slice(&p.body);
        self.push(&p.tail.0, &p.tail.1);
    }

    /// Closes the last block (unused command bytes are 0).
    fn finish(&mut self) {
        if self.ncmd > 0 {
            self.out.extend_from_slice(&self.cmds);
            self.out.extend_from_slice(&self.pending);
            self.ncmd = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_unique_upper_case_and_at_most_eight_bytes() {
        let s = short_names(&["n_landlines", "n_landlines_imputed", "Q1", "1x", "a-b"]);
        assert_eq!(s, ["N_LANDLI", "N_LANDL1", "Q1", "V1X", "A_B"]);
    }

    #[test]
    fn cut_respects_character_boundaries() {
        assert_eq!(cut("ab€", 3), "ab");
        assert_eq!(cut("abc", 5), "abc");
    }
}
