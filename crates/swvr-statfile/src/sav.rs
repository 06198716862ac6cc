//! SPSS system files: `.sav` (uncompressed or bytecode-compressed) and
//! `.zsav` (bytecode in zlib blocks), read by hand from PSPP's description
//! of the format (*PSPP Developers Guide*, "System File Format").
//!
//! What is read: the file header (byte order from the layout code, case
//! size, compression, bias, case count), variable records (numeric and
//! string, long strings over several 8-byte slots, variable labels,
//! user-missing values: up to three discrete values or a range plus one),
//! value labels of numeric variables, long variable names (record 7.13),
//! very long strings over several segments (7.14), the encoding (7.20, or
//! the code page of 7.3), the system-missing value (7.4). Other records are
//! skipped. Text is returned in UTF-8 (UTF-8, Windows-1252 and ISO-8859-1
//! files; another encoding is an error naming it).
//!
//! Every length and count of the file is checked before it is used; the
//! end of the file inside a record, or a case count that the data do not
//! reach, is an error naming the byte offset or the record.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::input::{DataError, Input, MAX_CHUNK, Src, show};
use crate::text::Encoding;
use crate::{Cell, Format, Kind, LabelKey, Record, StatError, UserMissing, Variable};

/// The data after the dictionary: the file itself, or zlib blocks.
enum Data {
    Plain(BufReader<Input>),
    /// Inflated a block at a time by a helper thread.
    Z(Box<ZBlocks>),
}

impl Read for Data {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Data::Plain(r) => r.read(buf),
            Data::Z(z) => z.read(buf),
        }
    }
}

impl BufRead for Data {
    #[inline]
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        match self {
            Data::Plain(r) => r.fill_buf(),
            Data::Z(z) => z.fill_buf(),
        }
    }
    #[inline]
    fn consume(&mut self, n: usize) {
        match self {
            Data::Plain(r) => r.consume(n),
            Data::Z(z) => z.consume(n),
        }
    }
}

/// One block of a `.zsav` file's trailer.
#[derive(Debug, Clone, Copy)]
struct Block {
    compressed_ofs: u64,
    uncompressed_size: u64,
    compressed_size: u64,
}

/// Inflated blocks in flight between the helper thread and the reader
/// (the thread inflates the next blocks while the records of the current
/// one are decoded).
const Z_QUEUE: usize = 2;

/// The zlib blocks of a `.zsav` as one bytecode stream: a helper thread
/// reads each block whole and inflates it (the trailer gives its sizes),
/// in file order; the reader takes the blocks from a channel. The bytes
/// are the same whatever the scheduling; a damaged block is an error at
/// the point of the stream where its bytes would start.
struct ZBlocks {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    /// Used buffers go back to the thread.
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    at: usize,
    /// End (compressed offset) of each block.
    ends: Vec<u64>,
    /// Blocks received so far.
    taken: usize,
    /// Compressed bytes of the file consumed by finished blocks.
    done_ofs: u64,
}

impl ZBlocks {
    fn data_err(at: u64, what: String) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, DataError { at, what })
    }

    /// Starts the helper thread on `file`, positioned at the first block.
    fn start(file: BufReader<Input>, blocks: Vec<Block>, blocks_start: u64) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel(Z_QUEUE);
        let (back, back_rx) = std::sync::mpsc::sync_channel(Z_QUEUE + 2);
        let ends = blocks.iter().map(|b| b.compressed_ofs + b.compressed_size).collect();
        std::thread::Builder::new()
            .name("zsav-inflate".into())
            .spawn(move || inflate_blocks(file, &blocks, &tx, &back_rx))?;
        Ok(Self {
            rx,
            back,
            cur: Vec::new(),
            at: 0,
            ends,
            taken: 0,
            done_ofs: blocks_start,
        })
    }
}

/// The helper thread: inflates `blocks` of `file` one after the other and
/// sends them (or the first error) to `tx`; stops when the reader is gone.
fn inflate_blocks(
    mut file: BufReader<Input>,
    blocks: &[Block],
    tx: &std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    back: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut comp = Vec::new();
    let mut dec = flate2::Decompress::new(true);
    for (k, b) in blocks.iter().enumerate() {
        let out = back.try_recv().unwrap_or_default();
        let res = inflate_block(&mut file, &mut dec, &mut comp, out, k, blocks.len(), b);
        let failed = res.is_err();
        if tx.send(res).is_err() || failed {
            return;
        }
    }
}

/// Inflates block `k` (of `n`) into `out`; the blocks are contiguous in
/// the file (checked when the trailer is read), so `file` is at its start.
fn inflate_block(
    file: &mut BufReader<Input>,
    dec: &mut flate2::Decompress,
    comp: &mut Vec<u8>,
    mut out: Vec<u8>,
    k: usize,
    n: usize,
    b: &Block,
) -> std::io::Result<Vec<u8>> {
    comp.clear();
    let got = file.by_ref().take(b.compressed_size).read_to_end(comp)?;
    if (got as u64) < b.compressed_size {
        return Err(ZBlocks::data_err(
            b.compressed_ofs + got as u64,
            format!(
                "the file ends inside zlib block {} of {n} ({got} of its {} bytes); it is truncated or damaged",
                k + 1,
                b.compressed_size
            ),
        ));
    }
    let want = usize::try_from(b.uncompressed_size).unwrap_or(usize::MAX);
    out.clear();
    // Room for one byte more than the trailer gives, to notice a block
    // that inflates to more; memory grows with the bytes actually produced.
    out.reserve(want.saturating_add(1).min(1 << 24));
    dec.reset(true);
    loop {
        let (in0, out0) = (dec.total_in(), out.len());
        let input = comp.get(in0 as usize..).unwrap_or(&[]);
        let status = dec
            .decompress_vec(input, &mut out, flate2::FlushDecompress::Finish)
            .map_err(|e| {
                ZBlocks::data_err(
                    b.compressed_ofs,
                    format!(
                        "zlib block {} of {n} cannot be decompressed ({e}); the file is damaged",
                        k + 1
                    ),
                )
            })?;
        if out.len() > want {
            return Err(ZBlocks::data_err(
                b.compressed_ofs,
                format!(
                    "zlib block {} decompresses to more than the {want} bytes the trailer gives; the file is damaged",
                    k + 1
                ),
            ));
        }
        if status == flate2::Status::StreamEnd {
            break;
        }
        if out.len() == out.capacity() {
            out.reserve((want + 1 - out.len()).min(1 << 24));
            continue;
        }
        if dec.total_in() == in0 && out.len() == out0 {
            // No progress with room to spare: the stream stops short.
            return Err(ZBlocks::data_err(
                b.compressed_ofs,
                format!(
                    "zlib block {} of {n} cannot be decompressed (the zlib stream is incomplete); the file is damaged",
                    k + 1
                ),
            ));
        }
    }
    // A block may end before its compressed size: the rest is skipped.
    if out.len() != want {
        return Err(ZBlocks::data_err(
            b.compressed_ofs,
            format!(
                "zlib block {} decompresses to {} bytes; the trailer gives {want}; the file is damaged",
                k + 1,
                out.len()
            ),
        ));
    }
    Ok(out)
}

impl Read for ZBlocks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ZBlocks {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.at >= self.cur.len() {
            if self.taken > 0 {
                self.done_ofs = self.ends[self.taken - 1];
            }
            if self.taken == self.ends.len() {
                return Ok(&[]);
            }
            match self.rx.recv() {
                Ok(Ok(block)) => {
                    let used = std::mem::replace(&mut self.cur, block);
                    let _ = self.back.try_send(used);
                    self.at = 0;
                    self.taken += 1;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(Self::data_err(
                        self.done_ofs,
                        "the zlib decompression stopped before the last block".into(),
                    ));
                }
            }
        }
        Ok(&self.cur[self.at..])
    }
    #[inline]
    fn consume(&mut self, n: usize) {
        self.at = (self.at + n).min(self.cur.len());
    }
}

/// Where a variable's bytes are in a case: `(first 8-byte slot, bytes)` per segment.
#[derive(Debug, Clone)]
struct Layout {
    kind: Kind,
    /// String width in bytes (0 for numbers).
    width: usize,
    segments: Vec<(usize, usize)>,
}

/// Value labels (raw value, raw text) and the dictionary indexes they apply to.
type LabelSet = (Vec<([u8; 8], Vec<u8>)>, Vec<usize>);

/// One variable record of the dictionary, as read.
struct Entry {
    typ: i32,
    name: [u8; 8],
    label: Vec<u8>,
    missing_n: i32,
    missing: Vec<f64>,
}

/// Command codes of bytecode compression.
const CODE_PAD: u8 = 0;
const CODE_END: u8 = 252;
const CODE_RAW: u8 = 253;
const CODE_SPACES: u8 = 254;
const CODE_SYSMIS: u8 = 255;

/// A reader of an SPSS system file.
pub struct SavReader {
    src: Src<Data>,
    format: Format,
    vars: Vec<Variable>,
    layout: Vec<Layout>,
    /// True for each 8-byte slot of a case that holds a number.
    slot_numeric: Vec<bool>,
    compression: i32,
    bias: f64,
    sysmis: f64,
    ncases: Option<u64>,
    /// The most records the data can hold.
    max_records: u64,
    enc: Encoding,
    cmds: [u8; 8],
    cmd_i: usize,
    case: Vec<u8>,
    scratch: Vec<u8>,
    number: u64,
    done: bool,
}

fn trim_name(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != b' ' && c != 0).map_or(0, |p| p + 1);
    &b[..end]
}

impl SavReader {
    /// Opens `path` and reads its dictionary.
    pub fn open(path: &Path) -> Result<Self, StatError> {
        Self::from_input(crate::input::open(path)?, path)
    }

    /// Reads the dictionary of `input`, a file named `path` in messages.
    pub fn from_input(input: Input, path: &Path) -> Result<Self, StatError> {
        let mut src = Src::new(BufReader::with_capacity(1 << 17, input), path);
        let magic = src.array::<4>("the file header")?;
        let zsav = match &magic {
            b"$FL2" => false,
            b"$FL3" => true,
            _ => {
                return Err(src.err_at(
                    0,
                    format!(
                        "found {}; expected `$FL2` or `$FL3` (an SPSS system file)",
                        show(&magic)
                    ),
                ));
            }
        };
        src.skip(60, "the file header")?;
        let layout = src.array::<4>("the file header's layout code")?;
        src.big = match (i32::from_le_bytes(layout), i32::from_be_bytes(layout)) {
            (2 | 3, _) => false,
            (_, 2 | 3) => true,
            _ => {
                return Err(src.err_at(
                    64,
                    format!(
                        "layout code {}; expected 2 or 3 (the file is damaged or not an SPSS system file)",
                        show(&layout)
                    ),
                ));
            }
        };
        let _nominal = src.i32("the file header")?;
        let at = src.pos;
        let compression = src.i32("the file header")?;
        match (zsav, compression) {
            (false, 0 | 1) | (true, 2) => {}
            _ => {
                return Err(src.err_at(
                    at,
                    format!(
                        "compression code {compression} in a `{}` file; expected {}",
                        if zsav { "$FL3" } else { "$FL2" },
                        if zsav { "2 (zlib)" } else { "0 (none) or 1 (bytecode)" }
                    ),
                ));
            }
        }
        let _weight = src.i32("the file header")?;
        let at = src.pos;
        let ncases = match src.i32("the file header")? {
            -1 => None,
            n if n >= 0 => Some(n as u64),
            n => return Err(src.err_at(at, format!("case count {n}; expected -1 (unknown) or a count ≥ 0"))),
        };
        let bias = src.f64("the file header")?;
        src.skip(84, "the file header")?;

        let mut entries: Vec<Entry> = Vec::new();
        // (value, label) lists and the dictionary indexes they apply to.
        let mut label_sets: Vec<LabelSet> = Vec::new();
        let mut long_names: Vec<u8> = Vec::new();
        let mut very_long: Vec<u8> = Vec::new();
        let mut encoding_name: Option<Vec<u8>> = None;
        let mut codepage: Option<i32> = None;
        let mut sysmis = -f64::MAX;
        loop {
            let at = src.pos;
            let rec_type = src.i32("a dictionary record type")?;
            match rec_type {
                2 => entries.push(Self::variable_record(&mut src)?),
                3 => {
                    let at3 = src.pos - 4;
                    let count = src.i32("a value label record")?;
                    if count < 0 {
                        return Err(src.err_at(
                            at3,
                            format!("value label record with {count} labels; expected a count ≥ 0"),
                        ));
                    }
                    let mut labels = Vec::new();
                    for _ in 0..count {
                        let value = src.array::<8>("a value label")?;
                        let len = usize::from(src.u8("a value label")?);
                        let text = src.bytes(len, "a value label")?;
                        let pad = (len + 1).div_ceil(8) * 8 - len - 1;
                        src.skip(pad as u64, "a value label")?;
                        labels.push((value, text));
                    }
                    let at4 = src.pos;
                    let t = src.i32("the variable index record after value labels")?;
                    if t != 4 {
                        return Err(src.err_at(at4, format!(
                            "record type {t}; expected 4 (the variable index record that must follow a value label record)"
                        )));
                    }
                    let n = src.i32("a variable index record")?;
                    if n < 0 || n as usize > entries.len() {
                        return Err(src.err_at(
                            at4,
                            format!(
                                "variable index record for {n} variables; expected 0 to {} (the variables so far)",
                                entries.len()
                            ),
                        ));
                    }
                    let mut idx = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        let at = src.pos;
                        let i = src.i32("a variable index record")?;
                        if i < 1 || i as usize > entries.len() || entries[i as usize - 1].typ < 0 {
                            return Err(src.err_at(
                                at,
                                format!(
                                    "value labels for dictionary index {i}; expected the index of a variable (1 to {})",
                                    entries.len()
                                ),
                            ));
                        }
                        idx.push(i as usize - 1);
                    }
                    label_sets.push((labels, idx));
                }
                6 => {
                    let n = src.i32("a document record")?;
                    if n < 0 {
                        return Err(src.err_at(at, format!("document record with {n} lines; expected a count ≥ 0")));
                    }
                    src.skip(n as u64 * 80, "a document record")?;
                }
                7 => {
                    let subtype = src.i32("an extension record")?;
                    let size = src.i32("an extension record")?;
                    let count = src.i32("an extension record")?;
                    let total = i64::from(size) * i64::from(count);
                    if size < 0 || count < 0 || total > MAX_CHUNK as i64 {
                        return Err(src.err_at(at, format!(
                            "extension record {subtype} of {count} × {size} bytes; expected positive sizes up to {MAX_CHUNK} bytes"
                        )));
                    }
                    let data = src.bytes(total as usize, "an extension record")?;
                    let word = |i: usize| -> Option<i32> {
                        let b: [u8; 4] = data.get(i * 4..i * 4 + 4)?.try_into().ok()?;
                        Some(if src.big {
                            i32::from_be_bytes(b)
                        } else {
                            i32::from_le_bytes(b)
                        })
                    };
                    match subtype {
                        3 if size == 4 && count >= 8 => codepage = word(7),
                        4 if size == 8 && count >= 1 => {
                            let b: [u8; 8] = data[..8].try_into().map_err(|_| src.err_at(at, "float info"))?;
                            sysmis = if src.big {
                                f64::from_be_bytes(b)
                            } else {
                                f64::from_le_bytes(b)
                            };
                        }
                        13 => long_names = data,
                        14 => very_long = data,
                        20 => encoding_name = Some(data),
                        _ => {}
                    }
                }
                999 => {
                    src.i32("the dictionary termination record")?;
                    break;
                }
                t => {
                    return Err(src.err_at(
                        at,
                        format!(
                            "record type {t}; expected a dictionary record (2, 3, 6, 7 or 999): the file is damaged"
                        ),
                    ));
                }
            }
        }
        let data_start = src.pos;

        let enc = match (&encoding_name, codepage) {
            (Some(name), _) => {
                let name = String::from_utf8_lossy(name).into_owned();
                Encoding::from_name(&name).ok_or_else(|| {
                    src.err_at(data_start, format!(
                        "the file's text is encoded in `{}`; expected UTF-8, Windows-1252 or ISO-8859-1: save it again from SPSS in Unicode mode",
                        name.trim_end_matches('\0')
                    ))
                })?
            }
            (None, Some(cp)) => Encoding::from_codepage(cp).ok_or_else(|| {
                src.err_at(data_start, format!(
                    "the file's text is in code page {cp}; expected UTF-8 (65001), Windows-1252 (1252) or ISO-8859-1 (28591): save it again from SPSS in Unicode mode"
                ))
            })?,
            // Files without either record predate Unicode SPSS: Windows-1252 is what they used.
            (None, None) => Encoding::Windows1252,
        };

        // Variables from the entries: long strings span several entries.
        let mut vars: Vec<Variable> = Vec::new();
        let mut layout: Vec<Layout> = Vec::new();
        let mut short_names: Vec<Vec<u8>> = Vec::new();
        let mut var_of_entry: Vec<Option<usize>> = vec![None; entries.len()];
        let mut slot_numeric = vec![false; entries.len()];
        let mut i = 0;
        while i < entries.len() {
            let e = &entries[i];
            let (kind, width, nslots) = match e.typ {
                0 => (Kind::Numeric, 0, 1),
                w @ 1..=255 => (Kind::Text, w as usize, (w as usize).div_ceil(8)),
                t => {
                    return Err(src.err_at(data_start, format!(
                        "dictionary index {}: variable type {t} where a variable starts; expected 0 (numeric) or a string width 1-255 (a continuation record without its string)",
                        i + 1
                    )));
                }
            };
            for k in 1..nslots {
                if entries.get(i + k).is_none_or(|c| c.typ != -1) {
                    return Err(src.err_at(data_start, format!(
                        "dictionary index {}: string variable `{}` of width {width} needs {nslots} variable records; record {} is not a continuation",
                        i + 1,
                        enc.decode(trim_name(&e.name)),
                        i + k + 1
                    )));
                }
            }
            var_of_entry[i] = Some(vars.len());
            slot_numeric[i] = kind == Kind::Numeric;
            let mut missing = UserMissing::default();
            if kind == Kind::Numeric {
                match e.missing_n {
                    0..=3 => missing.values = e.missing.clone(),
                    -2 | -3 => {
                        missing.range = Some((e.missing[0], e.missing[1]));
                        missing.values = e.missing[2..].to_vec();
                    }
                    _ => {}
                }
            }
            vars.push(Variable {
                name: String::new(),
                label: enc.decode(&e.label),
                kind,
                value_labels: Vec::new(),
                missing,
            });
            layout.push(Layout {
                kind,
                width,
                segments: vec![(i, width)],
            });
            short_names.push(trim_name(&e.name).to_vec());
            i += nslots;
        }

        // Value labels of numeric variables.
        for (labels, idx) in &label_sets {
            for &ei in idx {
                let Some(v) = var_of_entry[ei] else { continue };
                if vars[v].kind != Kind::Numeric {
                    continue;
                }
                for (value, text) in labels {
                    let x = if src.big {
                        f64::from_be_bytes(*value)
                    } else {
                        f64::from_le_bytes(*value)
                    };
                    let text = enc.decode(text);
                    let text = text.trim_end().to_string();
                    vars[v].value_labels.retain(|(k, _)| *k != LabelKey::Num(x));
                    vars[v].value_labels.push((LabelKey::Num(x), text));
                }
            }
        }

        // Very long strings: the segments after the first are merged into it.
        let mut drop_var = vec![false; vars.len()];
        for item in very_long.split(|&b| b == b'\t') {
            let item = trim_name(item);
            if item.is_empty() {
                continue;
            }
            let bad = |what: String| src.err_at(data_start, format!("very long string record: {what}"));
            let eq = item
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| bad(format!("entry {}; expected NAME=WIDTH", show(item))))?;
            let (name, width) = (&item[..eq], &item[eq + 1..]);
            let width: usize = std::str::from_utf8(width)
                .ok()
                .and_then(|w| w.trim_matches(|c: char| c == '\0' || c == ' ').parse().ok())
                .filter(|w| (256..=32767).contains(w))
                .ok_or_else(|| bad(format!("width {}; expected 256 to 32767", show(width))))?;
            let v = short_names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| bad(format!("variable {} is not in the dictionary", show(name))))?;
            let nseg = width.div_ceil(252);
            if v + nseg > vars.len() || (v..v + nseg).any(|k| layout[k].kind != Kind::Text || drop_var[k]) {
                return Err(bad(format!(
                    "`{}` of width {width} needs {nseg} string segments; the dictionary does not have them",
                    enc.decode(name)
                )));
            }
            let mut segments = Vec::with_capacity(nseg);
            for k in v..v + nseg {
                segments.push((layout[k].segments[0].0, layout[k].width.min(255)));
                if k > v {
                    drop_var[k] = true;
                }
            }
            layout[v].segments = segments;
            layout[v].width = width;
        }
        let mut kept_vars = Vec::with_capacity(vars.len());
        let mut kept_layout = Vec::with_capacity(vars.len());
        let mut kept_short = Vec::with_capacity(vars.len());
        for (k, ((v, l), s)) in vars.into_iter().zip(layout).zip(short_names).enumerate() {
            if !drop_var[k] {
                kept_vars.push(v);
                kept_layout.push(l);
                kept_short.push(s);
            }
        }
        let (mut vars, layout, short_names) = (kept_vars, kept_layout, kept_short);

        // Names: the long name when record 7.13 gives one, else the short name.
        for (v, s) in vars.iter_mut().zip(&short_names) {
            v.name = enc.decode(s);
        }
        for item in long_names.split(|&b| b == b'\t') {
            if let Some(eq) = item.iter().position(|&b| b == b'=') {
                let (short, long) = (trim_name(&item[..eq]), trim_name(&item[eq + 1..]));
                if let Some(k) = short_names.iter().position(|n| n.eq_ignore_ascii_case(short)) {
                    vars[k].name = enc.decode(long);
                }
            }
        }

        // The dictionary's reader (and its buffer) goes on with the data.
        let big = src.big;
        let io_err = |source| StatError::Io {
            file: path.to_path_buf(),
            source,
        };
        let file_end = src.r.seek(SeekFrom::End(0)).map_err(io_err)?;
        src.r.seek(SeekFrom::Start(data_start)).map_err(io_err)?;
        // Bytes of record data (uncompressed, for a .zsav: set below).
        let mut data_bytes = file_end.saturating_sub(data_start);
        let mut data_src = Src::new(Data::Plain(src.r), path);
        data_src.big = big;
        data_src.pos = data_start;
        if zsav {
            let mut zheader = data_src;
            let at = zheader.pos;
            let zheader_ofs = zheader.i64("the zlib data header")?;
            let ztrailer_ofs = zheader.i64("the zlib data header")?;
            let ztrailer_len = zheader.i64("the zlib data header")?;
            if zheader_ofs != at as i64 {
                return Err(zheader.err_at(
                    at,
                    format!(
                        "the zlib data header gives its own offset as {zheader_ofs}; expected {at}: the file is damaged"
                    ),
                ));
            }
            let Data::Plain(mut file) = zheader.r else {
                return Err(zheader.err_at(at, "zlib header"));
            };
            let end = file.seek(SeekFrom::End(0)).map_err(|source| StatError::Io {
                file: path.to_path_buf(),
                source,
            })?;
            let blocks_start = at + 24;
            if ztrailer_ofs < blocks_start as i64
                || ztrailer_len < 24
                || (ztrailer_len - 24) % 24 != 0
                || ztrailer_ofs.checked_add(ztrailer_len).is_none_or(|e| e as u64 > end)
            {
                return Err(Src::new((), path).err_at(at, format!(
                    "the zlib data header puts the trailer at byte {ztrailer_ofs} ({ztrailer_len} bytes) in a file of {end} bytes; the file is truncated or damaged"
                )));
            }
            file.seek(SeekFrom::Start(ztrailer_ofs as u64))
                .map_err(|source| StatError::Io {
                    file: path.to_path_buf(),
                    source,
                })?;
            let mut t = Src::new(file, path);
            t.big = big;
            t.pos = ztrailer_ofs as u64;
            let _bias = t.i64("the zlib trailer")?;
            let _zero = t.i64("the zlib trailer")?;
            let _block_size = t.i32("the zlib trailer")?;
            let at_n = t.pos;
            let n = t.i32("the zlib trailer")?;
            if n < 0 || i64::from(n) * 24 + 24 != ztrailer_len {
                return Err(t.err_at(
                    at_n,
                    format!(
                        "the zlib trailer lists {n} blocks in {ztrailer_len} bytes; expected {} blocks",
                        (ztrailer_len - 24) / 24
                    ),
                ));
            }
            let mut blocks = Vec::with_capacity(n as usize);
            let mut expect_c = blocks_start;
            let mut expect_u = at;
            for k in 0..n {
                let at = t.pos;
                let u_ofs = t.i64("the zlib trailer")?;
                let c_ofs = t.i64("the zlib trailer")?;
                let u_size = t.i32("the zlib trailer")?;
                let c_size = t.i32("the zlib trailer")?;
                if u_ofs != expect_u as i64 || c_ofs != expect_c as i64 || u_size < 0 || c_size < 0 {
                    return Err(t.err_at(at, format!(
                        "zlib block {} is listed at compressed byte {c_ofs} (uncompressed {u_ofs}), sizes {c_size}/{u_size}; expected compressed byte {expect_c} (uncompressed {expect_u}) and sizes ≥ 0: the file is damaged",
                        k + 1
                    )));
                }
                expect_c += c_size as u64;
                expect_u += u_size as u64;
                blocks.push(Block {
                    compressed_ofs: c_ofs as u64,
                    uncompressed_size: u_size as u64,
                    compressed_size: c_size as u64,
                });
            }
            if expect_c != ztrailer_ofs as u64 {
                return Err(t.err_at(ztrailer_ofs as u64, format!(
                    "the zlib blocks end at byte {expect_c}; expected them to end where the trailer starts ({ztrailer_ofs}): the file is damaged"
                )));
            }
            data_bytes = expect_u - at;
            let mut file = t.r;
            file.seek(SeekFrom::Start(blocks_start))
                .map_err(|source| StatError::Io {
                    file: path.to_path_buf(),
                    source,
                })?;
            let z = ZBlocks::start(file, blocks, blocks_start).map_err(|source| StatError::Io {
                file: path.to_path_buf(),
                source,
            })?;
            data_src = Src::new(Data::Z(Box::new(z)), path);
            data_src.big = big;
            data_src.pos = at;
        }
        let nslots = entries.len();
        // The least bytes a record takes: every slot raw, or one command
        // byte per slot under bytecode.
        let min_record = if compression == 0 { nslots * 8 } else { nslots }.max(1) as u64;
        Ok(Self {
            max_records: data_bytes / min_record,
            src: data_src,
            format: if zsav { Format::Zsav } else { Format::Sav },
            vars,
            layout,
            slot_numeric,
            compression,
            bias,
            sysmis,
            ncases,
            enc,
            cmds: [0; 8],
            cmd_i: 8,
            case: vec![0; nslots * 8],
            scratch: Vec::new(),
            number: 0,
            done: false,
        })
    }

    fn variable_record(src: &mut Src<BufReader<Input>>) -> Result<Entry, StatError> {
        let at = src.pos - 4;
        let typ = src.i32("a variable record")?;
        let has_label = src.i32("a variable record")?;
        let missing_n = src.i32("a variable record")?;
        src.skip(8, "a variable record")?;
        let name = src.array::<8>("a variable record")?;
        if !(-1..=255).contains(&typ) {
            return Err(src.err_at(
                at,
                format!(
                    "variable {}: type {typ}; expected 0 (numeric), 1-255 (string width) or -1 (continuation)",
                    show(trim_name(&name))
                ),
            ));
        }
        let label = match has_label {
            0 => Vec::new(),
            1 => {
                let n = src.i32("a variable label")?;
                if n < 0 {
                    return Err(src.err_at(at, format!("variable label of {n} bytes; expected a length ≥ 0")));
                }
                let n = n as usize;
                let b = src.bytes(n, "a variable label")?;
                src.skip((n.div_ceil(4) * 4 - n) as u64, "a variable label")?;
                b
            }
            x => {
                return Err(src.err_at(
                    at,
                    format!(
                        "variable {}: has_var_label {x}; expected 0 or 1",
                        show(trim_name(&name))
                    ),
                ));
            }
        };
        let count = match missing_n {
            0..=3 => missing_n as usize,
            -2 => 2,
            -3 => 3,
            x => {
                return Err(src.err_at(
                    at,
                    format!(
                        "variable {}: missing-value code {x}; expected 0 to 3, -2 or -3",
                        show(trim_name(&name))
                    ),
                ));
            }
        };
        let mut missing = Vec::with_capacity(count);
        for _ in 0..count {
            missing.push(src.f64("a missing value")?);
        }
        Ok(Entry {
            typ,
            name,
            label,
            missing_n,
            missing,
        })
    }

    /// `Sav` or `Zsav`.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The variables, in file order.
    pub fn variables(&self) -> &[Variable] {
        &self.vars
    }

    /// The case count of the file header, when given.
    pub fn records(&self) -> Option<u64> {
        self.ncases
    }

    /// The case count of the file header capped by the most records the
    /// data can hold; `None` when the header gives no count.
    pub fn records_hint(&self) -> Option<u64> {
        self.ncases.map(|n| n.min(self.max_records))
    }

    /// Bytes of the file consumed (for progress).
    pub fn position(&self) -> u64 {
        match &self.src.r {
            Data::Plain(_) => self.src.pos,
            Data::Z(z) => z.done_ofs,
        }
    }

    fn data_err(&self, what: String) -> StatError {
        let where_ = match &self.src.r {
            Data::Plain(_) => format!("record {} (byte {})", self.number + 1, self.src.pos),
            Data::Z(_) => format!(
                "record {} (byte {} of the decompressed data)",
                self.number + 1,
                self.src.pos
            ),
        };
        StatError::Format {
            file: self.src.file.clone(),
            where_,
            what,
        }
    }

    /// Reads `len` bytes into `case[start..]` (into the command block when
    /// `start` is `usize::MAX`): `Ok(false)` when the data end before the
    /// first byte, an error when they end inside.
    #[inline]
    fn fill(&mut self, start: usize, len: usize, what: &str) -> Result<bool, StatError> {
        // The common case: the bytes are in the buffer.
        match self.src.r.fill_buf() {
            Ok(avail) if avail.len() >= len => {
                let dest = if start == usize::MAX {
                    &mut self.cmds[..len]
                } else {
                    &mut self.case[start..start + len]
                };
                dest.copy_from_slice(&avail[..len]);
                self.src.r.consume(len);
                self.src.pos += len as u64;
                return Ok(true);
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(self.src.io(e)),
        }
        self.fill_slow(start, len, what)
    }

    /// [`Self::fill`] across buffer refills.
    #[cold]
    fn fill_slow(&mut self, start: usize, len: usize, what: &str) -> Result<bool, StatError> {
        let mut got = 0;
        while got < len {
            let buf = if start == usize::MAX {
                &mut self.cmds[got..len]
            } else {
                &mut self.case[start + got..start + len]
            };
            let n = match self.src.r.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.src.io(e)),
            };
            if n == 0 {
                if got == 0 {
                    return Ok(false);
                }
                return Err(self.data_err(format!(
                    "the data end inside {what} ({got} of {len} bytes); the file is truncated or damaged"
                )));
            }
            got += n;
            self.src.pos += n as u64;
        }
        Ok(true)
    }

    /// Reads the next case into `rec`; `false` after the last one.
    pub fn next_record(&mut self, rec: &mut Record) -> Result<bool, StatError> {
        rec.clear();
        if self.done || self.ncases.is_some_and(|n| self.number >= n) {
            self.done = true;
            return Ok(false);
        }
        let more = match self.compression {
            0 => {
                let n = self.case.len();
                let more = self.fill(0, n, "a record")?;
                if more && self.src.big {
                    for (k, _) in self.slot_numeric.iter().enumerate().filter(|(_, n)| **n) {
                        self.case[k * 8..k * 8 + 8].reverse();
                    }
                }
                more
            }
            _ => self.decompress_case()?,
        };
        if !more {
            self.done = true;
            if let Some(n) = self.ncases
                && self.number != n
            {
                return Err(self.data_err(format!(
                    "the data end after {} records; the file header says {n}: the file is truncated or damaged",
                    self.number
                )));
            }
            return Ok(false);
        }
        self.number += 1;
        rec.number = self.number;
        for l in &self.layout {
            match l.kind {
                Kind::Numeric => {
                    let s = l.segments[0].0 * 8;
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&self.case[s..s + 8]);
                    let x = f64::from_le_bytes(b);
                    if x == self.sysmis || x.is_nan() {
                        rec.push(Cell::Sys);
                    } else {
                        rec.push_num(x);
                    }
                }
                Kind::Text => {
                    let bytes: &[u8] = if l.segments.len() == 1 {
                        let (slot, w) = l.segments[0];
                        &self.case[slot * 8..slot * 8 + w]
                    } else {
                        self.scratch.clear();
                        for &(slot, w) in &l.segments {
                            self.scratch.extend_from_slice(&self.case[slot * 8..slot * 8 + w]);
                        }
                        self.scratch.truncate(l.width);
                        &self.scratch
                    };
                    let end = bytes.iter().rposition(|&c| c != b' ' && c != 0).map_or(0, |p| p + 1);
                    rec.push_text_in(&bytes[..end], self.enc);
                }
            }
        }
        Ok(true)
    }

    /// Decodes one case of bytecode into `case` (numbers as little-endian
    /// doubles); `false` at the end of the data.
    #[inline]
    fn decompress_case(&mut self) -> Result<bool, StatError> {
        // The common case: the whole record is in the buffer and holds
        // values only; anything else (a record across buffers, the end of
        // the data, a damaged code) is decoded byte by byte below, from
        // the same state, which reports it.
        if let Ok(buf) = self.src.r.fill_buf()
            && let Some(used) = decode_buffered(
                buf,
                &mut self.cmds,
                &mut self.cmd_i,
                &mut self.case,
                &self.slot_numeric,
                self.bias,
                self.sysmis,
                self.src.big,
            )
        {
            self.src.r.consume(used);
            self.src.pos += used as u64;
            return Ok(true);
        }
        self.decompress_case_slow()
    }

    /// [`Self::decompress_case`] byte by byte.
    #[cold]
    fn decompress_case_slow(&mut self) -> Result<bool, StatError> {
        let nslots = self.slot_numeric.len();
        let mut slot = 0;
        while slot < nslots {
            if self.cmd_i == 8 {
                if !self.fill(usize::MAX, 8, "a block of compression codes")? {
                    if slot == 0 {
                        return Ok(false);
                    }
                    return Err(self.data_err(format!(
                        "the data end after {slot} of the record's {nslots} values; the file is truncated or damaged"
                    )));
                }
                self.cmd_i = 0;
            }
            let code = self.cmds[self.cmd_i];
            self.cmd_i += 1;
            let s = slot * 8;
            let numeric = self.slot_numeric[slot];
            match code {
                CODE_PAD => continue,
                CODE_END => {
                    if slot == 0 {
                        return Ok(false);
                    }
                    return Err(self.data_err(format!(
                        "end-of-data code after {slot} of the record's {nslots} values; the file is damaged"
                    )));
                }
                CODE_RAW => {
                    if !self.fill(s, 8, "a value")? {
                        return Err(self.data_err(format!(
                            "the data end after {slot} of the record's {nslots} values; the file is truncated or damaged"
                        )));
                    }
                    if numeric && self.src.big {
                        self.case[s..s + 8].reverse();
                    }
                }
                CODE_SPACES => {
                    if numeric {
                        return Err(self.data_err(format!(
                            "compression code 254 (eight spaces) for numeric value {} of the record; the file is damaged",
                            slot + 1
                        )));
                    }
                    self.case[s..s + 8].copy_from_slice(b"        ");
                }
                CODE_SYSMIS => {
                    if numeric {
                        self.case[s..s + 8].copy_from_slice(&self.sysmis.to_le_bytes());
                    } else {
                        self.case[s..s + 8].copy_from_slice(b"        ");
                    }
                }
                k => {
                    if !numeric {
                        return Err(self.data_err(format!(
                            "compression code {k} (a number) for text value {} of the record; the file is damaged",
                            slot + 1
                        )));
                    }
                    let x = f64::from(k) - self.bias;
                    self.case[s..s + 8].copy_from_slice(&x.to_le_bytes());
                }
            }
            slot += 1;
        }
        Ok(true)
    }
}

/// Decodes one bytecode record from `buf` into `case`, carrying the
/// command block `cmds` (next code at `cmd_i`) from record to record:
/// the bytes used, or `None` (nothing changed) when `buf` ends first or
/// the record holds an end-of-data code or a code its slot cannot hold.
#[inline]
#[allow(clippy::too_many_arguments)]
fn decode_buffered(
    buf: &[u8],
    cmds: &mut [u8; 8],
    cmd_i: &mut usize,
    case: &mut [u8],
    slot_numeric: &[bool],
    bias: f64,
    sysmis: f64,
    big: bool,
) -> Option<usize> {
    let (mut c, mut ci) = (*cmds, *cmd_i);
    let mut p = 0;
    let mut slot = 0;
    let spaces = *b"        ";
    while slot < slot_numeric.len() {
        if ci >= 8 {
            c = buf.get(p..p + 8)?.try_into().ok()?;
            p += 8;
            ci = 0;
        }
        let code = c[ci];
        ci += 1;
        let numeric = slot_numeric[slot];
        let dst: &mut [u8; 8] = case.get_mut(slot * 8..slot * 8 + 8)?.try_into().ok()?;
        match code {
            CODE_PAD => continue,
            CODE_RAW => {
                let raw: [u8; 8] = buf.get(p..p + 8)?.try_into().ok()?;
                p += 8;
                *dst = if numeric && big {
                    u64::from_be_bytes(raw).to_le_bytes()
                } else {
                    raw
                };
            }
            CODE_SPACES if !numeric => *dst = spaces,
            CODE_SYSMIS => *dst = if numeric { sysmis.to_le_bytes() } else { spaces },
            1..=251 if numeric => *dst = (f64::from(code) - bias).to_le_bytes(),
            _ => return None,
        }
        slot += 1;
    }
    *cmds = c;
    *cmd_i = ci;
    Some(p)
}

#[cfg(test)]
mod tests {
    #[test]
    fn trim_name_drops_padding() {
        assert_eq!(super::trim_name(b"Q1      "), b"Q1");
        assert_eq!(super::trim_name(b"        "), b"");
    }
}
