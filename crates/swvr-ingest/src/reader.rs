//! A streaming CSV record reader that knows, for every record, its exact
//! physical first line and its raw bytes.
//!
//! `csv::Reader`'s positions are those of the parser *before* it skips the
//! previous line terminator and any blank lines, so its line numbers drift
//! after blank lines and CRLF. This reader drives `csv_core` over its own
//! buffer: a record is always parsed from a buffer that holds it whole (a
//! record cut by the end of the buffer is parsed again after a refill), so
//! the record's bytes are a slice of the buffer and its line is the number
//! of `\n` before its first byte, plus one.

use std::io::Read;

use csv_core::ReadRecordResult;
use swvr_core::limits::{MAX_COLUMNS, MAX_FIELD_BYTES, MAX_RECORD_BYTES, show_bytes};

/// A record beyond one of swvr's input limits ([`swvr_core::limits`]);
/// carried inside an `std::io::Error` of kind `InvalidData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitError {
    /// Physical line of the record's first byte.
    pub line: u64,
    /// What is over the limit, and the limit.
    pub what: String,
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for LimitError {}

fn limit(line: u64, what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, LimitError { line, what })
}

/// Initial buffer size; the buffer grows only for a record longer than this.
const BUF_SIZE: usize = 1 << 20;

/// Reads records one at a time into reused buffers.
pub(crate) struct RecordReader<R> {
    src: R,
    core: csv_core::Reader,
    buf: Vec<u8>,
    /// Start of the unparsed input in `buf`.
    start: usize,
    /// End of the filled part of `buf`.
    end: usize,
    eof: bool,
    started: bool,
    /// `\n` bytes before `buf[start]` in the whole input.
    newlines: u64,
    /// Bytes of the input before `buf[0]`.
    consumed: u64,
    out: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
    raw_start: usize,
    raw_end: usize,
    line: u64,
    /// The current record was split by the fast path: its fields are
    /// slices of `buf` from `fast_base`, separated by one comma.
    fast: bool,
    fast_base: usize,
    /// Fast path: position in `buf` of the end of each field.
    fends: Vec<usize>,
}

/// Byte classes of the fast path: 0 ordinary, 1 comma, 2 record end, 3 quote.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b',' as usize] = 1;
    t[b'\n' as usize] = 2;
    t[b'\r' as usize] = 2;
    t[b'"' as usize] = 3;
    t
};

/// 0x80 in each byte of `w` that is `,`, `\n`, `\r` or `"`, 0 elsewhere.
#[inline]
fn special(w: u64) -> u64 {
    const LO: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    #[inline]
    fn zeros(x: u64) -> u64 {
        !((((x & LO) + LO) | x) | LO)
    }
    const fn splat(b: u8) -> u64 {
        0x0101_0101_0101_0101 * b as u64
    }
    zeros(w ^ splat(b',')) | zeros(w ^ splat(b'\n')) | zeros(w ^ splat(b'\r')) | zeros(w ^ splat(b'"'))
}

/// Outcome of the fast path.
enum Fast {
    Record,
    End,
    /// A quote before the record's end: parse with `csv_core`.
    Quoted,
    /// The record is cut by the end of the buffer.
    Cut,
}

impl<R: Read> RecordReader<R> {
    /// A reader over `src` (a UTF-8 BOM at its start is skipped).
    pub(crate) fn new(src: R) -> Self {
        Self::with_buf(src, vec![0; BUF_SIZE], 0)
    }

    /// A reader over `src` whose buffer is `buf`, of which the first `end`
    /// bytes are already read.
    fn with_buf(src: R, buf: Vec<u8>, end: usize) -> Self {
        Self {
            src,
            core: csv_core::Reader::new(),
            buf,
            start: 0,
            end,
            eof: false,
            started: false,
            newlines: 0,
            consumed: 0,
            out: vec![0; 4096],
            ends: vec![0; 64],
            nfields: 0,
            raw_start: 0,
            raw_end: 0,
            line: 0,
            fast: false,
            fast_base: 0,
            fends: Vec::with_capacity(64),
        }
    }

    /// What is left after the records read so far (the header): the
    /// source, the bytes read from it but not parsed (starting with the
    /// last record's line terminator), the line breaks before those bytes
    /// and the bytes of the input before them.
    pub(crate) fn into_rest(self) -> (R, Vec<u8>, u64, u64) {
        let rest = self.buf[self.start..self.end].to_vec();
        (self.src, rest, self.newlines, self.consumed + self.start as u64)
    }

    /// Line breaks of the whole input, once [`RecordReader::next_record`]
    /// has returned `false`.
    pub(crate) fn line_breaks_total(&self) -> u64 {
        self.newlines + line_breaks(&self.buf[self.start..self.end])
    }

    /// Splits an unquoted record directly (what `csv_core` would do for a
    /// record with no `"` before its terminator: leading `\r`/`\n` skipped,
    /// fields split at `,`, the record ended by `\r` or `\n` or the end of
    /// the input).
    fn fast_record(&mut self) -> Fast {
        let buf = &self.buf[..self.end];
        let mut p = self.start;
        while p < buf.len() && (buf[p] == b'\n' || buf[p] == b'\r') {
            p += 1;
        }
        if p == buf.len() {
            if self.eof {
                return Fast::End;
            }
            // Only line breaks so far: count them and drop them from the
            // buffer, except a last `\r` whose `\n` may come with the refill.
            let keep = usize::from(p > self.start && buf[p - 1] == b'\r');
            self.newlines += line_breaks(&buf[self.start..p - keep]);
            self.start = p - keep;
            return Fast::Cut;
        }
        let lead_nl = line_breaks(&buf[self.start..p]);
        let base = p;
        let ends = &mut self.fends;
        ends.clear();
        let mut i = p;
        // Eight bytes at a time: a mask with 0x80 on each `,` `\n` `\r` `"`.
        'scan: {
            while i + 8 <= buf.len() {
                let mut w = [0u8; 8];
                w.copy_from_slice(&buf[i..i + 8]);
                let mut m = special(u64::from_le_bytes(w));
                while m != 0 {
                    let k = i + (m.trailing_zeros() / 8) as usize;
                    match buf[k] {
                        b',' => ends.push(k),
                        b'"' => return Fast::Quoted,
                        _ => {
                            i = k;
                            break 'scan;
                        }
                    }
                    m &= m - 1;
                }
                i += 8;
            }
            loop {
                if i == buf.len() {
                    if !self.eof {
                        return Fast::Cut;
                    }
                    break;
                }
                match CLASS[buf[i] as usize] {
                    0 => {}
                    1 => ends.push(i),
                    2 => break,
                    _ => return Fast::Quoted,
                }
                i += 1;
            }
        }
        ends.push(i);
        let n = ends.len() - 1;
        self.nfields = n + 1;
        self.fast = true;
        self.fast_base = base;
        self.line = self.newlines + lead_nl + 1;
        self.newlines += lead_nl;
        self.raw_start = base;
        self.raw_end = i;
        // The terminator stays: the next record counts it with its leading
        // line breaks (a `\r` is a line break unless a `\n` follows).
        self.start = i;
        Fast::Record
    }

    /// Reads the next record; `false` at the end of the input.
    pub(crate) fn next_record(&mut self) -> std::io::Result<bool> {
        if !self.started {
            self.started = true;
            while self.end < 3 && !self.eof {
                self.fill()?;
            }
            if self.buf[..self.end].starts_with(b"\xEF\xBB\xBF") {
                self.start = 3;
            }
        }
        loop {
            match self.fast_record() {
                Fast::Record => {
                    self.check_limits()?;
                    return Ok(true);
                }
                Fast::End => return Ok(false),
                Fast::Cut => {
                    self.fill()?;
                    continue;
                }
                Fast::Quoted => {}
            }
            self.core.reset();
            let mut pos = self.start;
            let mut nout = 0;
            let mut nends = 0;
            loop {
                if pos == self.end && !self.eof {
                    // An empty input means end of file to csv_core: read more first.
                    break;
                }
                let (res, nin, no, ne) =
                    self.core
                        .read_record(&self.buf[pos..self.end], &mut self.out[nout..], &mut self.ends[nends..]);
                pos += nin;
                nout += no;
                nends += ne;
                match res {
                    ReadRecordResult::InputEmpty => {
                        if !self.eof {
                            break;
                        }
                    }
                    ReadRecordResult::OutputFull => {
                        let n = self.out.len() * 2;
                        self.out.resize(n, 0);
                    }
                    ReadRecordResult::OutputEndsFull => {
                        let n = self.ends.len() * 2;
                        self.ends.resize(n, 0);
                    }
                    ReadRecordResult::Record => {
                        self.nfields = nends;
                        self.fast = false;
                        self.finish_record(pos);
                        self.check_limits()?;
                        return Ok(true);
                    }
                    ReadRecordResult::End => return Ok(false),
                }
            }
            // The record is cut by the end of the buffer: refill and parse it again.
            self.fill()?;
        }
    }

    /// An error when the current record has more fields than
    /// [`MAX_COLUMNS`] or a field longer than [`MAX_FIELD_BYTES`] (checked
    /// field by field only for a record longer than that).
    fn check_limits(&self) -> std::io::Result<()> {
        if self.raw_end - self.raw_start > MAX_RECORD_BYTES {
            return Err(limit(self.line, too_long()));
        }
        if self.nfields > MAX_COLUMNS {
            return Err(limit(
                self.line,
                format!(
                    "{} fields; expected at most {MAX_COLUMNS} columns (swvr's limit on header width)",
                    self.nfields
                ),
            ));
        }
        if self.raw_end - self.raw_start > MAX_FIELD_BYTES {
            for i in 0..self.nfields {
                let n = self.field(i).len();
                if n > MAX_FIELD_BYTES {
                    return Err(limit(
                        self.line,
                        format!(
                            "column {}: a field of {n} bytes; expected at most {} (swvr's limit on field length)",
                            i + 1,
                            show_bytes(MAX_FIELD_BYTES as u64)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn finish_record(&mut self, pos: usize) {
        let span = &self.buf[self.start..pos];
        let lead = span.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
        let trail = span[lead..]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        let lead_nl = line_breaks(&span[..lead]);
        self.line = self.newlines + lead_nl + 1;
        self.newlines += lead_nl + line_breaks(&span[lead..span.len() - trail]);
        self.raw_start = self.start + lead;
        self.raw_end = pos - trail;
        // The terminator stays for the next record's leading line breaks.
        self.start = pos - trail;
    }

    /// Moves the unparsed bytes to the front (growing the buffer if it is
    /// full) and reads more input.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.consumed += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // The buffer starts with the previous record's terminator and
            // any blank lines (`lead`), then the record being read, which
            // is cut by the buffer's end: it is over the limit once it
            // holds more than MAX_RECORD_BYTES bytes (the record's own
            // bytes, counted exactly; a record of at most that many is
            // read whole and checked by `check_limits`).
            let lead = self.buf[..self.end]
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            if self.end - lead > MAX_RECORD_BYTES {
                return Err(limit(self.newlines + line_breaks(&self.buf[..lead]) + 1, too_long()));
            }
            let n = (self.buf.len() * 2).min(lead + MAX_RECORD_BYTES + 2).max(self.end + 1);
            self.buf.resize(n, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Number of fields of the current record.
    pub(crate) fn len(&self) -> usize {
        self.nfields
    }

    /// Field `i` of the current record (unescaped), empty when out of range.
    #[inline(always)]
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        if i >= self.nfields {
            return &[];
        }
        if self.fast {
            let s = if i == 0 { self.fast_base } else { self.fends[i - 1] + 1 };
            &self.buf[s..self.fends[i]]
        } else {
            let s = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.out[s..self.ends[i]]
        }
    }

    /// Where [`RecordReader::raw`] is in the buffer (of a unit: in its bytes).
    pub(crate) fn raw_range(&self) -> (usize, usize) {
        (self.raw_start, self.raw_end)
    }

    /// The current record's bytes as in the file, without its line terminator.
    pub(crate) fn raw(&self) -> &[u8] {
        &self.buf[self.raw_start..self.raw_end]
    }

    /// Physical line of the current record's first byte (first line = 1).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }
}

impl RecordReader<std::io::Empty> {
    /// A reader over one unit of whole records cut by [`Units`] (no BOM is
    /// looked for: a unit never starts the file). Lines are counted from
    /// the unit's first byte (its first line is 1).
    pub(crate) fn unit(buf: Vec<u8>) -> Self {
        let end = buf.len();
        let mut r = Self::with_buf(std::io::empty(), buf, end);
        r.eof = true;
        r.started = true;
        r
    }

    /// The unit's bytes back (for reuse).
    pub(crate) fn into_buf(self) -> Vec<u8> {
        let mut b = self.buf;
        b.truncate(self.end);
        b
    }
}

/// The message of a record longer than [`MAX_RECORD_BYTES`].
pub(crate) fn too_long() -> String {
    format!(
        "a record longer than {}; expected at most that much (swvr's limit on record length; is the file CSV with line breaks?)",
        show_bytes(MAX_RECORD_BYTES as u64)
    )
}

/// Where the input can be cut between records: the largest `p` such that
/// `buf[..p]` is whole records (and blank lines) when `buf` starts at a
/// record's start. `p` follows a line break outside quotes: a `\n`, or a
/// `\r` whose next byte is known and is not `\n` (a `\r\n` is never cut,
/// so line breaks counted unit by unit add up). Outside quotes is decided
/// as `csv_core` parses (RFC 4180: a `"` opens a quoted field only at the
/// field's start, `""` inside one is a quote, a field ends at `,` or a line
/// break), which is how [`RecordReader`] reads records one after another.
pub(crate) fn last_boundary(buf: &[u8]) -> Option<usize> {
    if !buf.contains(&b'"') {
        // No quote: every line break ends a record (or a blank line).
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            return Some(i + 1);
        }
        let n = buf.len();
        return (n >= 2)
            .then(|| buf[..n - 1].iter().rposition(|&b| b == b'\r'))
            .flatten()
            .map(|i| i + 1);
    }
    // States: 0 record start (also after a `\r` terminator), 1 field start,
    // 2 in an unquoted field, 3 in a quoted field, 4 a quote in a quoted field.
    let mut state = 0u8;
    let mut last = None;
    for (i, &b) in buf.iter().enumerate() {
        state = match (state, b) {
            (3, b'"') => 4,
            (3, _) => 3,
            (0 | 1, b'"') | (4, b'"') => 3,
            (_, b',') => 1,
            (_, b'\n' | b'\r') => 0,
            _ => 2,
        };
        if state == 0 && (b == b'\n' || (b == b'\r' && buf.get(i + 1).is_some_and(|&n| n != b'\n'))) {
            last = Some(i + 1);
        }
    }
    last
}

/// Cuts a CSV input into units of whole records, to be parsed apart (each
/// by [`RecordReader::unit`]) and give the records, fields and lines that
/// one [`RecordReader`] over the whole input gives.
pub(crate) struct Units<R> {
    src: R,
    /// Bytes read after the last cut.
    carry: Vec<u8>,
    eof: bool,
    /// Bytes of the input before `carry`.
    consumed: u64,
    /// Bytes of the last unit cut by its record count.
    last_len: usize,
}

/// Outcome of [`Units::next`].
pub(crate) enum Cut {
    /// The buffer holds a unit.
    Unit,
    /// The input is exhausted.
    End,
    /// A record longer than [`MAX_RECORD_BYTES`]; the error names the line
    /// `lead + 1` counted from the unit's first byte.
    TooLong(LimitError),
}

impl<R: Read> Units<R> {
    /// Units of `src`, after `rest`, bytes already read that start at a
    /// record's start (or its leading line breaks), `consumed` bytes into the input.
    pub(crate) fn new(src: R, rest: Vec<u8>, consumed: u64) -> Self {
        Self {
            src,
            carry: rest,
            eof: false,
            consumed,
            last_len: 0,
        }
    }

    /// Bytes of the input handed out in units.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Fills `buf` with the next unit: whole records, ending after the
    /// `records`-th record or at the last record boundary in about `size`
    /// bytes, whichever comes first (more bytes when one record is longer;
    /// a record is read whole up to [`MAX_RECORD_BYTES`], beyond which
    /// it is [`Cut::TooLong`]).
    pub(crate) fn next(&mut self, buf: &mut Vec<u8>, size: usize, records: usize) -> std::io::Result<Cut> {
        buf.clear();
        buf.append(&mut self.carry);
        let size = size.max(1);
        // Counting records: read about as much as the last unit held
        // first, more when that is not enough.
        let mut want = if records < usize::MAX && self.last_len > 0 {
            (self.last_len + self.last_len / 16 + 4096).min(size)
        } else {
            size
        };
        // Bytes of `buf` scanned for records, and the records found there.
        let mut scan = Scan::default();
        loop {
            if buf.len() < want && !self.eof {
                let need = want - buf.len();
                buf.reserve(need);
                let got = (&mut self.src).take(need as u64).read_to_end(buf)?;
                if got < need {
                    self.eof = true;
                }
            }
            if records < usize::MAX
                && let Some(p) = scan.nth_record_end(buf, records)
            {
                self.carry.extend_from_slice(&buf[p..]);
                buf.truncate(p);
                self.consumed += p as u64;
                self.last_len = p;
                return Ok(Cut::Unit);
            }
            if self.eof {
                if buf.is_empty() {
                    return Ok(Cut::End);
                }
                self.consumed += buf.len() as u64;
                return Ok(Cut::Unit);
            }
            if buf.len() < want {
                continue;
            }
            if want < size {
                want = (want * 2).min(size);
                continue;
            }
            if let Some(p) = last_boundary(buf) {
                self.carry.extend_from_slice(&buf[p..]);
                buf.truncate(p);
                self.consumed += p as u64;
                return Ok(Cut::Unit);
            }
            // No record ends in `buf`: it starts with one record (and
            // blank lines before it, `lead`), at least `buf.len() - lead`
            // bytes long. With MAX_RECORD_BYTES + 2 of its bytes read, a
            // terminator at or before the limit (a `\r\n` included) would
            // have given a boundary.
            let lead = buf.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
            if buf.len() - lead >= MAX_RECORD_BYTES + 2 {
                return Ok(Cut::TooLong(LimitError {
                    line: line_breaks(&buf[..lead]) + 1,
                    what: too_long(),
                }));
            }
            want = (want * 2).min(lead + MAX_RECORD_BYTES + 2);
        }
    }
}

/// Records counted from a unit's start, resumable as the unit grows.
#[derive(Default)]
struct Scan {
    /// Bytes examined.
    pos: usize,
    /// Records ended so far.
    count: usize,
    /// Parser state at `pos` (as in [`last_boundary`]).
    state: u8,
}

impl Scan {
    /// Where `buf` can be cut just after the line break that ends its
    /// `n`-th record (a cut as [`last_boundary`] makes: never inside
    /// quotes nor between `\r` and `\n`); `None` when `buf` holds fewer
    /// records (or the break's next byte is still to be read).
    fn nth_record_end(&mut self, buf: &[u8], n: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let quoted = self.state >= 3 || memchr::memchr(b'"', &buf[self.pos..]).is_some();
        if !quoted {
            // No quote: a record is a run of bytes other than `\r`, `\n`.
            for i in memchr::memchr2_iter(b'\n', b'\r', &buf[self.pos..]) {
                let i = self.pos + i;
                if i > 0 && buf[i - 1] != b'\n' && buf[i - 1] != b'\r' {
                    self.count += 1;
                    if self.count == n {
                        return self.cut_after(buf, i);
                    }
                }
            }
            // The state a quote after `buf` would meet: it opens a quoted
            // field only at a field's start.
            self.state = match buf.last() {
                Some(b'\n' | b'\r') | None => 0,
                Some(b',') => 1,
                Some(_) => 2,
            };
            self.pos = buf.len();
        } else {
            for (i, &b) in buf.iter().enumerate().skip(self.pos) {
                let prev = self.state;
                self.state = match (prev, b) {
                    (3, b'"') => 4,
                    (3, _) => 3,
                    (0 | 1, b'"') | (4, b'"') => 3,
                    (_, b',') => 1,
                    (_, b'\n' | b'\r') => 0,
                    _ => 2,
                };
                if self.state == 0 && prev != 0 {
                    self.count += 1;
                    if self.count == n {
                        return self.cut_after(buf, i);
                    }
                }
            }
            self.pos = buf.len();
        }
        None
    }

    /// The cut after the record-ending line break at `i` (`\r\n` kept
    /// together); `None` when the byte after a `\r` is not read yet.
    fn cut_after(&mut self, buf: &[u8], i: usize) -> Option<usize> {
        let cut = match (buf[i], buf.get(i + 1)) {
            (b'\r', Some(b'\n')) => i + 2,
            (b'\r', None) => {
                // Undo: the record is counted again once the next byte is read.
                self.count -= 1;
                self.pos = i;
                self.state = 2;
                return None;
            }
            _ => i + 1,
        };
        Some(cut)
    }
}

/// Records copied out of the reader, to hand to another thread.
#[derive(Default)]
pub(crate) struct Chunk {
    data: Vec<u8>,
    spans: Vec<(usize, usize)>,
    recs: Vec<Rec>,
    /// Input bytes parsed when the last record was added.
    pub bytes_parsed: u64,
}

struct Rec {
    line: u64,
    /// The raw bytes in `data`; `None` for a record of a statistical file,
    /// whose raw form is rendered from its fields when needed.
    raw: Option<(usize, usize)>,
    first_span: usize,
    nfields: usize,
}

impl Chunk {
    /// An empty chunk with room for `records` records of `fields` fields
    /// (at most 64 reserved per record: a wider record grows the chunk as
    /// its fields arrive, so memory follows the data, not the header).
    pub(crate) fn with_capacity(records: usize, fields: usize) -> Self {
        Self {
            data: Vec::with_capacity(records * 96),
            spans: Vec::with_capacity(records * fields.min(64)),
            recs: Vec::with_capacity(records),
            bytes_parsed: 0,
        }
    }
    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.recs.len()
    }
    /// Empties the chunk (capacity kept).
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
        self.recs.clear();
        self.bytes_parsed = 0;
    }
    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.data.len()
    }
    /// Record `i`.
    pub(crate) fn record(&self, i: usize) -> ChunkRecord<'_> {
        ChunkRecord {
            chunk: self,
            rec: &self.recs[i],
        }
    }
    /// Appends a record given as its fields (`vals` concatenated, `ends`
    /// the end of each): a record of a statistical file.
    pub(crate) fn push_fields(&mut self, line: u64, vals: &[u8], ends: &[usize], bytes_parsed: u64) {
        let base = self.data.len();
        self.data.extend_from_slice(vals);
        let first_span = self.spans.len();
        let mut s = 0;
        for &e in ends {
            self.spans.push((base + s, base + e));
            s = e;
        }
        self.recs.push(Rec {
            line,
            raw: None,
            first_span,
            nfields: ends.len(),
        });
        self.bytes_parsed = bytes_parsed;
    }
}

/// One record of a [`Chunk`].
pub(crate) struct ChunkRecord<'a> {
    chunk: &'a Chunk,
    rec: &'a Rec,
}

impl ChunkRecord<'_> {
    /// The record's bytes as in the file, without its line terminator; for
    /// a statistical file, its values as a CSV line.
    pub(crate) fn raw(&self) -> std::borrow::Cow<'_, [u8]> {
        match self.rec.raw {
            Some((s, e)) => std::borrow::Cow::Borrowed(&self.chunk.data[s..e]),
            None => std::borrow::Cow::Owned(crate::statinput::render_csv(self)),
        }
    }
    /// Physical line of the record's first byte (record number in a statistical file).
    pub(crate) fn line(&self) -> u64 {
        self.rec.line
    }
}

impl Fields for ChunkRecord<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.rec.nfields
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        if i >= self.rec.nfields {
            return &[];
        }
        let (s, e) = self.chunk.spans[self.rec.first_span + i];
        &self.chunk.data[s..e]
    }
}

/// Access to the fields of one record.
pub(crate) trait Fields {
    /// Number of fields.
    fn len(&self) -> usize;
    /// Field `i` (unescaped), empty when out of range.
    fn field(&self, i: usize) -> &[u8];
}

impl<R: Read> Fields for RecordReader<R> {
    #[inline(always)]
    fn len(&self) -> usize {
        RecordReader::len(self)
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        RecordReader::field(self, i)
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn records(data: &[u8], buf: usize) -> Vec<(u64, Vec<String>, String)> {
        let mut r = RecordReader::new(data);
        r.buf = vec![0; buf];
        let mut v = Vec::new();
        while r.next_record().unwrap() {
            let fields = (0..r.len())
                .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                .collect();
            v.push((r.line(), fields, String::from_utf8_lossy(r.raw()).into_owned()));
        }
        v
    }

    #[test]
    fn lines_and_raw_with_bom_crlf_blank_lines_and_multiline_fields() {
        let data = b"\xEF\xBB\xBFa,b\r\n1,2\r\n\r\n3,\"x\r\ny\"\r\n\n5,6\n7,8";
        for buf in [1, 2, 3, 5, 8, 1024] {
            let got = records(data, buf);
            let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
            assert_eq!(lines, [1, 2, 4, 7, 8], "buf {buf}");
            assert_eq!(got[0].2, "a,b");
            assert_eq!(got[2].1, ["3", "x\r\ny"]);
            assert_eq!(got[2].2, "3,\"x\r\ny\"");
            assert_eq!(got[4].2, "7,8");
        }
    }

    #[test]
    fn fast_path_fields_agree_with_the_csv_crate() {
        // Random inputs over an alphabet rich in separators and quotes.
        let alphabet = b"ab1 ,,,\"\r\n\n";
        let mut x: u64 = 12345;
        for case in 0..3000 {
            let len = (case % 97) + 1;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    alphabet[((x >> 33) % alphabet.len() as u64) as usize]
                })
                .collect();
            let want: Vec<Vec<String>> = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&data[..])
                .byte_records()
                .map(|r| {
                    r.unwrap()
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect()
                })
                .collect();
            for buf in [3, 16, 1024] {
                let got: Vec<Vec<String>> = records(&data, buf).into_iter().map(|r| r.1).collect();
                assert_eq!(got, want, "case {case} buf {buf}: {:?}", String::from_utf8_lossy(&data));
            }
        }
    }

    /// Records (line, fields, raw) of `data` read as units of about `size`
    /// bytes, each parsed on its own, lines offset by the units before.
    fn records_by_units(data: &[u8], size: usize) -> Result<Vec<(u64, Vec<String>, String)>, String> {
        records_by_units_of(data, size, usize::MAX)
    }

    /// As [`records_by_units`], units also ending after `records` records.
    fn records_by_units_of(
        data: &[u8],
        size: usize,
        records: usize,
    ) -> Result<Vec<(u64, Vec<String>, String)>, String> {
        let mut units = Units::new(data, Vec::new(), 0);
        let mut buf = Vec::new();
        let mut base = 0;
        let mut v = Vec::new();
        loop {
            match units.next(&mut buf, size, records).unwrap() {
                Cut::Unit => {}
                Cut::End => return Ok(v),
                Cut::TooLong(l) => return Err(format!("line {}: {}", base + l.line, l.what)),
            }
            let mut r = RecordReader::unit(std::mem::take(&mut buf));
            loop {
                match r.next_record() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        let l = e.into_inner().unwrap().downcast::<LimitError>().unwrap();
                        return Err(format!("line {}: {}", base + l.line, l.what));
                    }
                }
                let fields = (0..r.len())
                    .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                    .collect();
                v.push((base + r.line(), fields, String::from_utf8_lossy(r.raw()).into_owned()));
            }
            base += r.line_breaks_total();
            buf = r.into_buf();
        }
    }

    #[test]
    fn units_cut_anywhere_give_the_records_and_lines_of_one_reader() {
        // Quotes (opening, doubled, closing, in mid-field), CRLF, lone CR,
        // blank lines, fields spanning lines, invalid UTF-8; every unit size.
        let fixed: [&[u8]; 6] = [
            b"a,b\r\n1,\"x\r\ny\"\r\n\r\n3,\"q\"\"\n\"\n\r5,6\r7,\"\"\n",
            b"a\"b,c\n\"d\"e,f\n\"g\"\"\",\"\n\"\n\n\n",
            b"x,\xC3\n\xA9,\xFF\"\r\n\"\xE2\x82\n\xAC\"\r",
            b"\"unterminated,\n1,2\n3,4",
            b"\r\r\n\n,\r\n",
            b"",
        ];
        let alphabet = b"ab1 ,,\"\"\r\n\n\xC3";
        let mut x: u64 = 99;
        let mut inputs: Vec<Vec<u8>> = fixed.iter().map(|d| d.to_vec()).collect();
        for case in 0..400 {
            let len = (case % 61) + 1;
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
            let want = records(data, 1024);
            for size in 1..=data.len() + 1 {
                let got = records_by_units(data, size).unwrap();
                assert_eq!(got, want, "size {size}: {:?}", String::from_utf8_lossy(data));
            }
        }
    }

    /// Inputs rich in quotes, separators and line ends of every kind.
    fn tricky_inputs() -> Vec<Vec<u8>> {
        let fixed: [&[u8]; 6] = [
            b"a,b\r\n1,\"x\r\ny\"\r\n\r\n3,\"q\"\"\n\"\n\r5,6\r7,\"\"\n",
            b"a\"b,c\n\"d\"e,f\n\"g\"\"\",\"\n\"\n\n\n",
            b"x,\xC3\n\xA9,\xFF\"\r\n\"\xE2\x82\n\xAC\"\r",
            b"\"unterminated,\n1,2\n3,4",
            b"\r\r\n\n,\r\n",
            b"",
        ];
        let alphabet = b"ab1 ,,\"\"\r\n\n\xC3";
        let mut x: u64 = 99;
        let mut inputs: Vec<Vec<u8>> = fixed.iter().map(|d| d.to_vec()).collect();
        for case in 0..300 {
            let len = (case % 61) + 1;
            // Every other input without quotes (the units' quick count).
            let quotes = case % 2 == 0;
            inputs.push(
                (0..len)
                    .map(|_| {
                        loop {
                            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            let b = alphabet[((x >> 33) % alphabet.len() as u64) as usize];
                            if quotes || b != b'"' {
                                break b;
                            }
                        }
                    })
                    .collect(),
            );
        }
        inputs
    }

    #[test]
    fn units_of_a_record_count_give_the_records_and_lines_of_one_reader() {
        for data in &tricky_inputs() {
            let want = records(data, 1024);
            for records in 1..=6 {
                for size in [1, 5, 16, 1 << 20] {
                    let got = records_by_units_of(data, size, records).unwrap();
                    assert_eq!(
                        got,
                        want,
                        "{records} records, size {size}: {:?}",
                        String::from_utf8_lossy(data)
                    );
                }
            }
        }
        // The count itself: units of exactly n records (blank lines and a
        // `\r\n` go with the record before them).
        let data = b"1\r\n\n2,\"x\ny\"\r3\n\n4";
        let mut units = Units::new(&data[..], Vec::new(), 0);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Cut::Unit = units.next(&mut buf, 1 << 20, 1).unwrap() {
            got.push(String::from_utf8_lossy(&buf).into_owned());
        }
        assert_eq!(got, ["1\r\n", "\n2,\"x\ny\"\r", "3\n", "\n4"]);
    }

    #[test]
    fn the_record_length_limit_counts_the_record_exactly() {
        // A record of exactly MAX_RECORD_BYTES (16 fields, none over the
        // field limit) is read; one more byte is an error at its line,
        // whatever the line breaks before and after it.
        let field = "y".repeat(MAX_FIELD_BYTES - 1);
        let at = vec![field; 16].join(",") + "y";
        assert_eq!(at.len(), MAX_RECORD_BYTES);
        let msg = "a record longer than 16 MiB; expected at most that much (swvr's limit on record length; is the file CSV with line breaks?)";
        // The same with a quoted first field (read by csv_core).
        let f = "y".repeat(MAX_FIELD_BYTES - 1);
        let quoted = format!(
            "\"{f}\",{},{}",
            vec![f.clone(); 14].join(","),
            "y".repeat(MAX_FIELD_BYTES - 2)
        );
        assert_eq!(quoted.len(), MAX_RECORD_BYTES);
        for (pre, term, line) in [("", "\n", 2), ("\n\n", "\r\n", 4), ("\r", "\r", 3), ("\r\n", "", 3)] {
            for (rec, over) in [
                (at.clone(), false),
                (at.clone() + "z", true),
                (quoted.clone(), false),
                (quoted.clone() + "z", true),
            ] {
                let data = format!("a,b\n{pre}{rec}{term}");
                let whole = {
                    let mut r = RecordReader::new(data.as_bytes());
                    let mut res = Ok(0);
                    loop {
                        match r.next_record() {
                            Ok(true) => res = Ok(r.raw().len()),
                            Ok(false) => break,
                            Err(e) => {
                                res = Err(e.into_inner().unwrap().downcast::<LimitError>().unwrap().to_string());
                                break;
                            }
                        }
                    }
                    res
                };
                let units = records_by_units(data.as_bytes(), 1 << 20).map(|v| v.last().unwrap().2.len());
                let counted = records_by_units_of(data.as_bytes(), 1 << 20, 1).map(|v| v.last().unwrap().2.len());
                let case = format!("{pre:?} {term:?} {} bytes", rec.len());
                if over {
                    let want = Err(format!("line {line}: {msg}"));
                    assert_eq!(whole, want, "{case}");
                    assert_eq!(units, want, "{case}");
                    assert_eq!(counted, want, "{case}");
                } else {
                    assert_eq!(whole, Ok(MAX_RECORD_BYTES), "{case}");
                    assert_eq!(units, Ok(MAX_RECORD_BYTES), "{case}");
                    assert_eq!(counted, Ok(MAX_RECORD_BYTES), "{case}");
                }
            }
        }
    }

    #[test]
    fn units_report_a_record_over_the_length_limit_at_its_line() {
        let mut data = b"a,b\n1,2\n\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        let err = records_by_units(&data, 1 << 20).unwrap_err();
        assert_eq!(
            err,
            "line 4: a record longer than 16 MiB; expected at most that much (swvr's limit on record length; is the file CSV with line breaks?)"
        );
        // Line breaks alone are no record.
        assert_eq!(
            records_by_units(&vec![b'\n'; MAX_RECORD_BYTES + 10], 1 << 20),
            Ok(Vec::new())
        );
        assert_eq!(
            records_by_units(&vec![b'\r'; MAX_RECORD_BYTES + 10], 1 << 20),
            Ok(Vec::new())
        );
    }

    #[test]
    fn cr_only_and_mixed_line_endings_give_physical_lines() {
        // Issue 14: a lone `\r` (old Mac files) ends a line like `\n` and `\r\n`.
        let data = b"a,b\r1,2\r\r3,\"x\ry\"\r5,6\r\n7,8\n\r9,9\r";
        for buf in [1, 2, 3, 5, 8, 1024] {
            let got = records(data, buf);
            let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
            assert_eq!(lines, [1, 2, 4, 6, 7, 9], "buf {buf}");
            assert_eq!(got[2].1, ["3", "x\ry"]);
            assert_eq!(got[3].2, "5,6");
        }
    }

    #[test]
    fn records_over_the_limits_are_errors_naming_the_line() {
        let limit_of = |data: &[u8]| {
            let mut r = RecordReader::new(data);
            loop {
                match r.next_record() {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => return Some(e.into_inner().unwrap().downcast::<LimitError>().unwrap().to_string()),
                }
            }
        };
        let wide = format!("a,b\n{}\n", ",".repeat(MAX_COLUMNS));
        assert_eq!(
            limit_of(wide.as_bytes()).unwrap(),
            format!(
                "line 2: {} fields; expected at most 10000 columns (swvr's limit on header width)",
                MAX_COLUMNS + 1
            )
        );
        let long = format!("a,b\n\n1,\"{}\"\n", "x".repeat(MAX_FIELD_BYTES + 1));
        assert_eq!(
            limit_of(long.as_bytes()).unwrap(),
            "line 3: column 2: a field of 1048577 bytes; expected at most 1 MiB (swvr's limit on field length)"
        );
        let endless = vec![b'x'; MAX_RECORD_BYTES + 10];
        assert_eq!(
            limit_of(&endless).unwrap(),
            "line 1: a record longer than 16 MiB; expected at most that much (swvr's limit on record length; is the file CSV with line breaks?)"
        );
        // At the limits: accepted.
        let at = format!("{}\n{}\n", ",".repeat(MAX_COLUMNS - 1), "y".repeat(MAX_FIELD_BYTES));
        assert_eq!(limit_of(at.as_bytes()), None);
        // Blank lines alone never make a record too long.
        assert_eq!(limit_of(&vec![b'\n'; MAX_RECORD_BYTES + 10]), None);
    }

    #[test]
    fn empty_and_blank_inputs_have_no_records() {
        assert!(records(b"", 16).is_empty());
        assert!(records(b"\xEF\xBB\xBF", 16).is_empty());
        assert!(records(b"\r\n\n", 16).is_empty());
    }
}
