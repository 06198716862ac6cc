//! The fast path of a CSV unit without any `"`: its records split in one
//! pass ([`Split`]) and the common case of every check done column by
//! column over blocks of records ([`Scratch::check`]).
//!
//! The fast path only ever *accepts*: a record it is not sure of (a field
//! count other than the header's, a value that needs trimming or is not
//! one of the plain forms below, any defect) is marked for the one
//! row-wise validation, [`Plan::check`], which gives the reasons. So a
//! record accepted here is one that [`Plan::check`] accepts with the same
//! values, and every reason and message stays that of [`Plan::check`].

use swvr_core::limits::{MAX_COLUMNS, MAX_FIELD_BYTES, MAX_RECORD_BYTES, show_bytes};

use crate::reader::{Fields, LimitError, too_long};
use crate::text::{Int, is_iso3, is_utf8, parse_int, trim};
use crate::validate::{DemoKind, Plan, Row, Status};

/// One record of a [`Split`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SRec {
    /// Its bytes in the unit (without the line terminator).
    pub start: u32,
    pub end: u32,
    /// Index in [`Split::ends`] of its first field's end.
    pub first: u32,
    pub nfields: u32,
    /// Physical line of its first byte, counted from the unit's first byte.
    pub line: u64,
}

/// The records of a unit without quotes, split as `csv_core` splits them
/// (leading `\r`/`\n` skipped as blank lines, fields at `,`, a record
/// ended by `\r`, `\n` or the end of the unit).
#[derive(Default)]
pub(crate) struct Split {
    /// End of every field of every record, in order.
    pub ends: Vec<u32>,
    pub recs: Vec<SRec>,
    /// Line breaks of the whole unit (when no record is over a limit).
    pub line_breaks: u64,
    /// The first record over one of swvr's limits (after `recs`).
    pub fail: Option<LimitError>,
}

/// 0x80 in each byte of `w` that is zero, 0 elsewhere (exact).
#[inline(always)]
fn zeros(x: u64) -> u64 {
    const LO: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    !((((x & LO) + LO) | x) | LO)
}

const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// One bit per byte of `w` (bit `i` for byte `i`) that is `,` or `\n`, or
/// `\r` when `CR`.
#[inline(always)]
fn mask8<const CR: bool>(w: u64) -> u64 {
    let mut m = zeros(w ^ splat(b',')) | zeros(w ^ splat(b'\n'));
    if CR {
        m |= zeros(w ^ splat(b'\r'));
    }
    // Gather the 0x80 bits (bit 8k + 7) into bits 56..64, then down.
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The separator mask of 64 bytes.
#[inline(always)]
fn mask64<const CR: bool>(b: &[u8]) -> u64 {
    let mut m = 0u64;
    for (k, c) in b.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        m |= mask8::<CR>(u64::from_le_bytes(w)) << (8 * k);
    }
    m
}

/// The splitter's state between separators.
struct State<'a> {
    buf: &'a [u8],
    /// Where the next record can start (after the last line break).
    rs: usize,
    in_rec: bool,
    first: usize,
    line: u64,
    breaks: u64,
}

impl Split {
    /// Splits `buf` (a unit: whole records, no `"`).
    #[inline(never)]
    pub(crate) fn split(&mut self, buf: &[u8]) {
        self.ends.clear();
        self.recs.clear();
        self.fail = None;
        self.line_breaks = 0;
        if memchr::memchr(b'\r', buf).is_some() {
            self.split_with::<true>(buf);
        } else {
            self.split_with::<false>(buf);
        }
    }

    fn split_with<const CR: bool>(&mut self, buf: &[u8]) {
        let mut st = State {
            buf,
            rs: 0,
            in_rec: false,
            first: 0,
            line: 0,
            breaks: 0,
        };
        let blocks = buf.len() / 64;
        for blk in 0..blocks {
            let base = blk * 64;
            let mut m = mask64::<CR>(&buf[base..base + 64]);
            while m != 0 {
                let p = base + m.trailing_zeros() as usize;
                m &= m - 1;
                if !self.sep(&mut st, p) {
                    return;
                }
            }
        }
        for (p, &c) in buf.iter().enumerate().skip(blocks * 64) {
            if (c == b',' || c == b'\n' || (CR && c == b'\r')) && !self.sep(&mut st, p) {
                return;
            }
        }
        if st.in_rec || buf.len() > st.rs {
            if !st.in_rec {
                st.first = self.ends.len();
                st.line = st.breaks + 1;
            }
            self.ends.push(buf.len() as u32);
            if !self.record(&st, buf.len()) {
                return;
            }
        }
        self.line_breaks = st.breaks;
    }

    /// A separator at `p`; `false` when a record is over a limit.
    #[inline(always)]
    fn sep(&mut self, st: &mut State, p: usize) -> bool {
        let c = st.buf[p];
        if c == b',' {
            if !st.in_rec {
                st.in_rec = true;
                st.first = self.ends.len();
                st.line = st.breaks + 1;
            }
            self.ends.push(p as u32);
            return true;
        }
        if st.in_rec || p > st.rs {
            if !st.in_rec {
                st.first = self.ends.len();
                st.line = st.breaks + 1;
            }
            self.ends.push(p as u32);
            if !self.record(st, p) {
                return false;
            }
            st.in_rec = false;
        }
        st.breaks += u64::from(c == b'\n' || st.buf.get(p + 1) != Some(&b'\n'));
        st.rs = p + 1;
        true
    }

    /// Records the record that ends at `end`; `false` (and [`Split::fail`])
    /// when it is over a limit, checked as the record reader checks.
    #[inline(always)]
    fn record(&mut self, st: &State, end: usize) -> bool {
        let nfields = self.ends.len() - st.first;
        let len = end - st.rs;
        if len > MAX_FIELD_BYTES || nfields > MAX_COLUMNS {
            let what = if len > MAX_RECORD_BYTES {
                Some(too_long())
            } else if nfields > MAX_COLUMNS {
                Some(format!(
                    "{nfields} fields; expected at most {MAX_COLUMNS} columns (swvr's limit on header width)"
                ))
            } else {
                (0..nfields).find_map(|i| {
                    let s = if i == 0 {
                        st.rs
                    } else {
                        self.ends[st.first + i - 1] as usize + 1
                    };
                    let n = self.ends[st.first + i] as usize - s;
                    (n > MAX_FIELD_BYTES).then(|| {
                        format!(
                            "column {}: a field of {n} bytes; expected at most {} (swvr's limit on field length)",
                            i + 1,
                            show_bytes(MAX_FIELD_BYTES as u64)
                        )
                    })
                })
            };
            if let Some(what) = what {
                self.ends.truncate(st.first);
                self.fail = Some(LimitError { line: st.line, what });
                return false;
            }
        }
        self.recs.push(SRec {
            start: st.rs as u32,
            end: end as u32,
            first: st.first as u32,
            nfields: nfields as u32,
            line: st.line,
        });
        true
    }

    /// Record `r` of the unit `buf`, as fields.
    pub(crate) fn rec<'a>(&'a self, buf: &'a [u8], r: usize) -> SplitRec<'a> {
        SplitRec {
            buf,
            ends: &self.ends,
            rec: self.recs[r],
        }
    }
}

/// One record of a [`Split`].
pub(crate) struct SplitRec<'a> {
    buf: &'a [u8],
    ends: &'a [u32],
    rec: SRec,
}

impl SplitRec<'_> {
    /// The record's bytes as in the file, without its terminator.
    pub(crate) fn raw_range(&self) -> (usize, usize) {
        (self.rec.start as usize, self.rec.end as usize)
    }
    pub(crate) fn line(&self) -> u64 {
        self.rec.line
    }
}

impl Fields for SplitRec<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.rec.nfields as usize
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        if i >= self.rec.nfields as usize {
            return &[];
        }
        let f = self.rec.first as usize;
        let s = if i == 0 {
            self.rec.start as usize
        } else {
            self.ends[f + i - 1] as usize + 1
        };
        &self.buf[s..self.ends[f + i] as usize]
    }
}

/// Records per block of the column pass: the block's field ends and bytes
/// stay in the core's cache while each column is checked.
const BLOCK: usize = 512;

/// A code table: the code of a one-byte value (`-1` blank, `-2` any
/// other value, which the row-wise check decides).
type Lut = [i8; 256];

fn lut(valid: &[bool; 128], blank: i8) -> Lut {
    let mut t = [-2i8; 256];
    for d in 0..10u8 {
        if valid[usize::from(d)] {
            t[usize::from(b'0' + d)] = d as i8;
        }
    }
    t[usize::from(b' ')] = blank;
    t[usize::from(b'\t')] = blank;
    t
}

/// Column values of one unit's records, checked column by column.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The record passed every check here (else [`Plan::check`] decides).
    pub ok: Vec<bool>,
    pub wave: Vec<i32>,
    /// 0 = `L`, 1 = `M`.
    pub frame: Vec<u8>,
    /// -1 = null (not asked).
    pub counts: Vec<Vec<i32>>,
    pub demos: Vec<Vec<i16>>,
    /// -1 = null (blank).
    pub items: Vec<Vec<i8>>,
    asked: Vec<Vec<bool>>,
    item_luts: Vec<Lut>,
    demo_luts: Vec<Lut>,
}

impl Scratch {
    /// Checks every record of `split` column by column.
    #[inline(never)]
    pub(crate) fn check(&mut self, plan: &Plan, split: &Split, buf: &[u8]) {
        let n = split.recs.len();
        if self.item_luts.len() != plan.items.len() {
            self.item_luts = plan.items.iter().map(|it| lut(&it.valid, -1)).collect();
            self.demo_luts = plan
                .demos
                .iter()
                .map(|d| match &d.kind {
                    DemoKind::Coded(set) => lut(set, -2),
                    DemoKind::Numeric { .. } => [-2; 256],
                })
                .collect();
        }
        let ncols = plan.ncols;
        self.ok.clear();
        self.ok.extend(split.recs.iter().map(|r| r.nfields as usize == ncols));
        resize(&mut self.wave, n, 0);
        resize(&mut self.frame, n, 0);
        resize_cols(&mut self.counts, plan.counts.len(), n, -1);
        resize_cols(&mut self.demos, plan.demos.len(), n, 0);
        resize_cols(&mut self.items, plan.items.len(), n, -1);
        resize_cols(&mut self.asked, plan.items.len(), n, false);
        // Text columns need no UTF-8 check when the whole unit is ASCII.
        let ascii = buf.is_ascii();
        let recs = &split.recs;
        let ends = &split.ends;
        // Field `k` of record `r` (a record with the header's field count).
        let field = |r: usize, k: usize| -> &[u8] {
            let rec = &recs[r];
            let f = rec.first as usize;
            let s = if k == 0 {
                rec.start as usize
            } else {
                ends[f + k - 1] as usize + 1
            };
            &buf[s..ends[f + k] as usize]
        };
        // Where field `k` of record `r` is in `buf`.
        let span = |r: usize, k: usize| -> (usize, usize) {
            let rec = &recs[r];
            let f = rec.first as usize;
            let s = if k == 0 {
                rec.start as usize
            } else {
                ends[f + k - 1] as usize + 1
            };
            (s, ends[f + k] as usize)
        };
        let mut lo = 0;
        while lo < n {
            let hi = (lo + BLOCK).min(n);
            let ok = &mut self.ok[lo..hi];
            // Keys.
            for (o, r) in ok.iter_mut().zip(lo..hi) {
                *o = *o && is_iso3(trim(field(r, plan.key[0])));
            }
            for (o, r) in ok.iter_mut().zip(lo..hi) {
                if *o {
                    match parse_int(trim(field(r, plan.key[1]))) {
                        Int::Value(v) if swvr_core::schema::WAVES.contains(&v) => self.wave[r] = v as i32,
                        _ => *o = false,
                    }
                }
            }
            for k in [plan.key[2], plan.key[4]] {
                for (o, r) in ok.iter_mut().zip(lo..hi) {
                    if *o {
                        let v = trim(field(r, k));
                        *o = !v.is_empty() && (ascii || is_utf8(v));
                    }
                }
            }
            for (o, r) in ok.iter_mut().zip(lo..hi) {
                if *o {
                    match trim(field(r, plan.key[3])) {
                        b"L" => self.frame[r] = 0,
                        b"M" => self.frame[r] = 1,
                        _ => *o = false,
                    }
                }
            }
            // Counts: blank = not asked.
            for (c, col) in plan.counts.iter().zip(&mut self.counts) {
                for (o, r) in ok.iter_mut().zip(lo..hi) {
                    if *o {
                        col[r] = match parse_int(trim(field(r, c.src))) {
                            Int::Blank => -1,
                            Int::Value(x) if x >= c.min && x <= i64::from(i32::MAX) => x as i32,
                            _ => {
                                *o = false;
                                -1
                            }
                        };
                    }
                }
            }
            // Demographics: asked of everyone.
            for ((d, col), t) in plan.demos.iter().zip(&mut self.demos).zip(&self.demo_luts) {
                for (o, r) in ok.iter_mut().zip(lo..hi) {
                    if !*o {
                        continue;
                    }
                    let (s, e) = span(r, d.src);
                    if e == s + 1 {
                        let c = t[usize::from(buf[s])];
                        if c >= 0 {
                            col[r] = i16::from(c);
                            continue;
                        }
                    }
                    match parse_int(trim(&buf[s..e])) {
                        Int::Value(x) if d.allows(x) => col[r] = x as i16,
                        _ => *o = false,
                    }
                }
            }
            // Items, then their routing, in interview order.
            for (k, it) in plan.items.iter().enumerate() {
                let t = &self.item_luts[k];
                let (before, rest) = self.items.split_at_mut(k);
                let col = &mut rest[0];
                for (o, r) in ok.iter_mut().zip(lo..hi) {
                    if !*o {
                        continue;
                    }
                    let (s, e) = span(r, it.src);
                    let one = if e == s + 1 { t[usize::from(buf[s])] } else { -2 };
                    col[r] = match e - s {
                        0 => -1,
                        _ if one != -2 => one,
                        _ => match parse_int(trim(&buf[s..e])) {
                            Int::Blank => -1,
                            Int::Value(x) => match usize::try_from(x).ok().filter(|&i| i < 128 && it.valid[i]) {
                                Some(i) => i as i8,
                                None => {
                                    *o = false;
                                    -1
                                }
                            },
                            Int::Invalid => {
                                *o = false;
                                -1
                            }
                        },
                    };
                }
                let (asked_before, asked_rest) = self.asked.split_at_mut(k);
                let asked = &mut asked_rest[0];
                match &it.routing {
                    None => {
                        for (o, r) in ok.iter_mut().zip(lo..hi) {
                            asked[r] = true;
                            *o &= col[r] >= 0;
                        }
                    }
                    Some((ctrl, _)) if *ctrl >= k => {
                        // Not an earlier item: the row-wise check decides.
                        ok.fill(false);
                    }
                    Some((ctrl, codes)) => {
                        // Only an earlier item routes (interview order).
                        let (cv, ca) = (&before[*ctrl], &asked_before[*ctrl]);
                        for (o, r) in ok.iter_mut().zip(lo..hi) {
                            let c = cv[r];
                            let a = if c >= 0 { codes[c as usize] } else { ca[r] };
                            asked[r] = a;
                            *o &= a == (col[r] >= 0);
                        }
                    }
                }
            }
            // Extras: carried verbatim, so they must be UTF-8.
            if !ascii {
                for (e, _) in &plan.extras {
                    for (o, r) in ok.iter_mut().zip(lo..hi) {
                        *o = *o && is_utf8(field(r, *e));
                    }
                }
            }
            lo = hi;
        }
    }

    /// Puts the values of record `r`, accepted by [`Plan::check`], in place.
    pub(crate) fn set_row(&mut self, r: usize, row: &Row) {
        self.wave[r] = row.wave;
        for (col, v) in self.counts.iter_mut().zip(&row.counts) {
            col[r] = v.unwrap_or(-1);
        }
        for (col, v) in self.demos.iter_mut().zip(&row.demos) {
            col[r] = *v;
        }
        for (col, s) in self.items.iter_mut().zip(&row.items) {
            col[r] = match s {
                Status::Valid(c) => *c,
                Status::Blank | Status::Invalid => -1,
            };
        }
    }
}

fn resize<T: Copy>(v: &mut Vec<T>, n: usize, x: T) {
    v.clear();
    v.resize(n, x);
}

fn resize_cols<T: Copy>(cols: &mut Vec<Vec<T>>, k: usize, n: usize, x: T) {
    cols.resize_with(k, Vec::new);
    for c in cols {
        resize(c, n, x);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::reader::RecordReader;

    /// (line, fields, raw) of every record, and the unit's line breaks, or
    /// the limit error: by the split, and by the record reader.
    type Parsed = (Vec<(u64, Vec<Vec<u8>>, Vec<u8>)>, u64, Option<String>);

    fn by_split(data: &[u8]) -> Parsed {
        let mut s = Split::default();
        s.split(data);
        let recs = (0..s.recs.len())
            .map(|r| {
                let rec = s.rec(data, r);
                let (a, b) = rec.raw_range();
                let fields = (0..rec.len()).map(|i| rec.field(i).to_vec()).collect();
                (rec.line(), fields, data[a..b].to_vec())
            })
            .collect();
        let fail = s.fail.as_ref().map(ToString::to_string);
        (recs, if fail.is_some() { 0 } else { s.line_breaks }, fail)
    }

    fn by_reader(data: &[u8]) -> Parsed {
        let mut r = RecordReader::unit(data.to_vec());
        let mut recs = Vec::new();
        loop {
            match r.next_record() {
                Ok(true) => {
                    let fields = (0..r.len()).map(|i| r.field(i).to_vec()).collect();
                    recs.push((r.line(), fields, r.raw().to_vec()));
                }
                Ok(false) => return (recs, r.line_breaks_total(), None),
                Err(e) => {
                    let l = e.into_inner().unwrap().downcast::<LimitError>().unwrap();
                    return (recs, 0, Some(l.to_string()));
                }
            }
        }
    }

    #[test]
    fn the_split_gives_the_records_lines_and_limits_of_the_record_reader() {
        let alphabet = b"ab1 ,,,\r\n\n\xC3\t";
        let mut x: u64 = 5;
        let mut inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n\r\n\r".to_vec(),
            b"a,b\r\n\r\n1,2\r3,4\n\n5,".to_vec(),
            b",\n,\r\n,".to_vec(),
            format!("a\n{}\nb,c\n", ",".repeat(MAX_COLUMNS)).into_bytes(),
            format!("a\n\n1,{}\nb\n", "x".repeat(MAX_FIELD_BYTES + 1)).into_bytes(),
            format!("a\r\n{}\r\n", "x,".repeat(MAX_RECORD_BYTES / 2 + 1)).into_bytes(),
        ];
        for case in 0..3000 {
            // Lengths across the 64-byte blocks of the split.
            let len = (case % 200) + 1;
            inputs.push(
                (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        alphabet[((x >> 33) % alphabet.len() as u64) as usize]
                    })
                    .collect(),
            );
        }
        for data in &inputs {
            let want = by_reader(data);
            assert_eq!(
                by_split(data),
                want,
                "{:?}",
                String::from_utf8_lossy(&data[..data.len().min(80)])
            );
        }
    }

    #[test]
    fn masks_mark_separators() {
        let mut x: u64 = 7;
        for _ in 0..2000 {
            let mut b = [0u8; 64];
            for c in &mut b {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *c = b",\n\ra1\x80\xff\x2c"[((x >> 33) % 8) as usize];
            }
            let want_cr = (0..64).fold(0u64, |m, i| m | (u64::from(matches!(b[i], b',' | b'\n' | b'\r')) << i));
            let want = (0..64).fold(0u64, |m, i| m | (u64::from(matches!(b[i], b',' | b'\n')) << i));
            assert_eq!(mask64::<true>(&b), want_cr);
            assert_eq!(mask64::<false>(&b), want);
        }
    }
}
