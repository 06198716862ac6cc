//! File output that is atomic (temp file in the same folder, then rename) and
//! Arrow IPC file reading and writing.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::io::{Read, Seek, SeekFrom};

use arrow_array::{
    Array, ArrayRef, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch, RecordBatchOptions, make_array,
};
use arrow_buffer::Buffer;
use arrow_data::transform::MutableArrayData;
use arrow_ipc::convert::try_fb_to_schema;
use arrow_ipc::reader::{FileDecoder, read_footer_length};
use arrow_ipc::writer::FileWriter;
use arrow_ipc::{root_as_footer, root_as_message};
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};

use crate::{SCHEMA_VERSION, SCHEMA_VERSION_KEY};

/// An I/O failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// Operating-system error.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Arrow encoding or decoding error (its text on one line).
    #[error("{path}: Arrow: {}", one_line(&source.to_string()))]
    Arrow {
        /// File.
        path: PathBuf,
        /// Cause.
        source: ArrowError,
    },
    /// A column is missing or has the wrong type.
    #[error("{path}: column `{column}`: expected {expected}")]
    Column {
        /// File.
        path: PathBuf,
        /// Column name.
        column: String,
        /// What was expected.
        expected: String,
    },
    /// The file holds none of the country-waves of `--country`/`--wave`.
    #[error(transparent)]
    NothingSelected(#[from] crate::groups::NothingSelected),
    /// weighted.arrow does not hold the rows of respondents.arrow in order.
    #[error(
        "{weighted}: row {row} is {key}, but the matching row of {respondents} is {found}: weighted.arrow must hold the rows of respondents.arrow in their order; run `swvr weight` again on this respondents.arrow"
    )]
    Misaligned {
        /// weighted.arrow.
        weighted: PathBuf,
        /// respondents.arrow.
        respondents: PathBuf,
        /// Row of weighted.arrow (1 = first data row).
        row: u64,
        /// Its (country, wave, respondent_id).
        key: String,
        /// What respondents.arrow has there (or that it has no more rows).
        found: String,
    },
}

/// `text` on one line: runs of whitespace (flatbuffers' verifier errors
/// span several lines) become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// A file being written under a temporary name; [`AtomicFile::commit`]
/// flushes, syncs and renames it into place. Dropped without commit, the
/// temporary file is removed and the target is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `path` (its parent folder is created if missing).
    pub fn create(path: &Path) -> Result<Self, IoError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let temp = temp_path(path);
        let file = File::create(&temp).map_err(io_err(&temp))?;
        Ok(Self {
            target: path.to_path_buf(),
            temp,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The buffered writer.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        #[allow(clippy::expect_used)]
        self.writer.as_mut().expect("writer present until commit")
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), IoError> {
        if let Some(w) = self.writer.take() {
            let file = w.into_inner().map_err(|e| IoError::Io {
                path: self.temp.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(io_err(&self.temp))?;
        }
        std::fs::rename(&self.temp, &self.target).map_err(io_err(&self.target))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Opens an input file for reading. Anything but a regular file (a FIFO, a
/// socket, a device such as `/dev/zero`, a folder) is refused with an error
/// that says what it is, before it is opened, so that reading never hangs on
/// a pipe with no writer nor runs on without end. Symbolic links are
/// followed (a link to a regular file is fine). On Unix the file is opened
/// non-blocking and checked again through the open handle, so a file
/// swapped between the check and the open is caught too.
pub fn open_input(path: &Path) -> std::io::Result<File> {
    check_regular(&std::fs::metadata(path)?)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Regular files ignore O_NONBLOCK; a FIFO opened this way does not block.
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    check_regular(&file.metadata()?)?;
    Ok(file)
}

/// An error unless `meta` is that of a regular file.
fn check_regular(meta: &std::fs::Metadata) -> std::io::Result<()> {
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    let what = if ft.is_dir() { "a folder" } else { special_kind(&ft) };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("is {what}, not a regular file; expected a regular file"),
    ))
}

/// What a file that is neither a regular file nor a folder is, in words
/// (`a FIFO (named pipe)`, `a socket`, `a character device`, …).
#[cfg(unix)]
pub fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "a special file"
    }
}

/// What a file that is neither a regular file nor a folder is, in words.
#[cfg(not(unix))]
pub fn special_kind(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

/// Reads a configuration file (questionnaire, scheme, model specification)
/// as UTF-8 text: a regular file ([`open_input`]) of at most
/// [`MAX_CONFIG_BYTES`](crate::limits::MAX_CONFIG_BYTES).
pub fn read_config(path: &Path) -> std::io::Result<String> {
    use crate::limits::{MAX_CONFIG_BYTES, show_bytes};
    let file = open_input(path)?;
    let too_big = |n: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "is {n} bytes; expected a configuration file of at most {} (swvr's limit)",
                show_bytes(MAX_CONFIG_BYTES)
            ),
        )
    };
    let len = file.metadata()?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "byte {} is not UTF-8; expected UTF-8 text",
                e.utf8_error().valid_up_to() + 1
            ),
        )
    })
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.commit()
}

/// Adds the swvr schema version to a schema's metadata.
pub fn with_version(schema: Schema) -> Schema {
    let mut md = schema.metadata().clone();
    md.insert(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string());
    schema.with_metadata(md)
}

/// An Arrow IPC file written batch by batch, renamed into place on finish.
pub struct ArrowFileWriter {
    path: PathBuf,
    inner: FileWriter<AtomicFile>,
}

impl std::fmt::Debug for ArrowFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowFileWriter").field("path", &self.path).finish()
    }
}

impl ArrowFileWriter {
    /// Starts an Arrow IPC file with `schema` at `path`.
    pub fn create(path: &Path, schema: &Schema) -> Result<Self, IoError> {
        let file = AtomicFile::create(path)?;
        let inner = FileWriter::try_new(file, schema).map_err(|source| IoError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            inner,
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        self.inner.write(batch).map_err(|source| IoError::Arrow {
            path: self.path.clone(),
            source,
        })
    }

    /// A second handle on the file being written. Calling
    /// [`File::sync_data`] on it from another thread while batches are
    /// still being written gets the bytes written so far onto the disk
    /// early, so that the sync of [`ArrowFileWriter::finish`] has little
    /// left to wait for (the kernel otherwise starts writing a large file
    /// only when it is synced).
    pub fn file_handle(&mut self) -> Result<File, IoError> {
        let path = self.path.clone();
        self.inner
            .get_mut()
            .writer()
            .get_ref()
            .try_clone()
            .map_err(|source| IoError::Io { path, source })
    }

    /// Writes the footer and renames the file into place.
    pub fn finish(mut self) -> Result<(), IoError> {
        self.inner.finish().map_err(|source| IoError::Arrow {
            path: self.path.clone(),
            source,
        })?;
        let file = self.inner.into_inner().map_err(|source| IoError::Arrow {
            path: self.path.clone(),
            source,
        })?;
        file.commit()
    }
}

/// Writes one Arrow IPC file atomically from `batches` (all of `schema`).
pub fn write_arrow(path: &Path, schema: &Schema, batches: &[RecordBatch]) -> Result<(), IoError> {
    let mut w = ArrowFileWriter::create(path, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()
}

/// Reads an Arrow IPC file into one batch (batches concatenated).
pub fn read_arrow(path: &Path) -> Result<RecordBatch, IoError> {
    read_ipc(path, None)
}

/// Reads only `columns` of an Arrow IPC file (in that order) into one batch:
/// the other columns are never decoded, which saves time and memory when a
/// stage needs a few columns of a wide file. Columns absent from the file
/// are skipped; look them up with [`column()`] for a message naming the file.
pub fn read_arrow_columns(path: &Path, columns: &[&str]) -> Result<RecordBatch, IoError> {
    read_ipc(path, Some(columns))
}

/// Reads the wanted columns of every record batch and keeps owned copies
/// of them, so memory scales with the projected columns (about twice: the
/// copies and their concatenation), not with the file (arrow's
/// `FileReader` keeps every batch body alive while a projected column
/// refers to it).
fn read_ipc(path: &Path, columns: Option<&[&str]>) -> Result<RecordBatch, IoError> {
    let arrow = |source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let mut parts: Vec<Vec<ArrayRef>> = Vec::new();
    let mut rows = 0usize;
    let out_schema = for_each_batch(path, columns, |batch: RecordBatch| -> Result<(), IoError> {
        rows += batch.num_rows();
        parts.resize(batch.num_columns(), Vec::new());
        for (part, col) in parts.iter_mut().zip(batch.columns()) {
            part.push(owned_copy(col).map_err(arrow)?);
        }
        Ok(())
    })?;
    parts.resize(out_schema.fields().len(), Vec::new());
    let mut cols = Vec::with_capacity(parts.len());
    for (part, field) in parts.into_iter().zip(out_schema.fields()) {
        cols.push(match part.len() {
            0 => arrow_array::new_empty_array(field.data_type()),
            1 => part
                .into_iter()
                .next()
                .unwrap_or_else(|| arrow_array::new_empty_array(field.data_type())),
            // Concatenate column by column, freeing each column's parts as soon as it is done.
            _ => arrow_select::concat::concat(&part.iter().map(|a| a.as_ref()).collect::<Vec<_>>()).map_err(arrow)?,
        });
    }
    RecordBatch::try_new_with_options(out_schema, cols, &RecordBatchOptions::new().with_row_count(Some(rows)))
        .map_err(arrow)
}

/// The schema of an Arrow IPC file, from its footer alone.
pub fn arrow_schema(path: &Path) -> Result<SchemaRef, IoError> {
    let parse = |what: &str| IoError::Arrow {
        path: path.to_path_buf(),
        source: ArrowError::ParseError(what.to_string()),
    };
    let (_, _, footer_bytes) = open_footer(path)?;
    let footer = root_as_footer(&footer_bytes).map_err(|e| parse(&format!("bad Arrow IPC footer: {e}")))?;
    let fb_schema = footer
        .schema()
        .ok_or_else(|| parse("Arrow IPC footer without a schema"))?;
    Ok(Arc::new(try_fb_to_schema(fb_schema).map_err(|source| {
        IoError::Arrow {
            path: path.to_path_buf(),
            source,
        }
    })?))
}

/// Calls `f` with every record batch of the Arrow IPC file `path`, in
/// file order, decoded for `columns` only (in that order; columns absent
/// from the file are skipped; `None` = all), and returns the projected
/// schema. The footer, every block and every buffer a message names are
/// checked before arrow decodes anything (a damaged file is an error, not
/// a panic). Only the bytes of the wanted columns are read from the file,
/// into one buffer that is reused when `f` keeps no view into it: reading
/// 5 columns of a 40-column file reads about an eighth of it.
pub fn for_each_batch<E: From<IoError>>(
    path: &Path,
    columns: Option<&[&str]>,
    mut f: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<SchemaRef, E> {
    for_each_batch_of(path, columns, |_| true, |_, b| f(b))
}

/// [`for_each_batch`] for the record batches whose index (0, 1, … in file
/// order) `keep` accepts: the others are not read at all (not even their
/// headers). `f` gets each kept batch with its index. A stage that works
/// on one country-wave at a time reads only the batches holding its rows.
pub fn for_each_batch_of<E: From<IoError>>(
    path: &Path,
    columns: Option<&[&str]>,
    mut keep: impl FnMut(usize) -> bool,
    mut f: impl FnMut(usize, RecordBatch) -> Result<(), E>,
) -> Result<SchemaRef, E> {
    let arrow = |source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let parse = |what: &str| IoError::Arrow {
        path: path.to_path_buf(),
        source: ArrowError::ParseError(what.to_string()),
    };
    let (mut file, len, footer_bytes) = open_footer(path)?;
    let footer = root_as_footer(&footer_bytes).map_err(|e| parse(&format!("bad Arrow IPC footer: {e}")))?;
    check_blocks(&footer, len - 10 - footer_bytes.len() as u64).map_err(|what| parse(&what))?;
    let fb_schema = footer
        .schema()
        .ok_or_else(|| parse("Arrow IPC footer without a schema"))?;
    let schema = Arc::new(try_fb_to_schema(fb_schema).map_err(arrow)?);
    check_version(&schema).map_err(|what| parse(&what))?;
    let layouts = buffer_layouts(&schema).map_err(|what| parse(&what))?;
    if footer.dictionaries().is_some_and(|d| !d.is_empty()) {
        return Err(parse("Arrow IPC dictionary blocks in a file without dictionary columns").into());
    }
    let projection: Vec<usize> = match columns {
        Some(cols) => cols.iter().filter_map(|c| schema.index_of(c).ok()).collect(),
        None => (0..schema.fields().len()).collect(),
    };
    let out_schema = Arc::new(schema.project(&projection).map_err(arrow)?);
    // Buffer index ranges of the wanted fields (ascending), when not all are wanted.
    let wanted: Option<Vec<std::ops::Range<usize>>> = columns.map(|_| {
        let mut next = 0usize;
        let spans: Vec<std::ops::Range<usize>> = layouts
            .iter()
            .map(|l| {
                let span = next..next + l.len();
                next = span.end;
                span
            })
            .collect();
        let mut sorted = projection.clone();
        sorted.sort_unstable();
        sorted.iter().map(|&i| spans[i].clone()).collect()
    });
    let decoder = FileDecoder::new(schema, footer.version()).with_projection(projection.clone());
    let mut scratch: Vec<u8> = Vec::new();
    for (index, block) in footer.recordBatches().iter().flatten().enumerate() {
        if !keep(index) {
            continue;
        }
        // check_blocks made these non-negative and inside the file.
        let meta = usize::try_from(block.metaDataLength()).map_err(|_| parse("negative Arrow IPC metadata length"))?;
        let n = usize::try_from(block.metaDataLength() as i64 + block.bodyLength())
            .map_err(|_| parse("negative Arrow IPC block length"))?;
        let offset = u64::try_from(block.offset()).map_err(|_| parse("negative Arrow IPC block offset"))?;
        scratch.resize(n, 0);
        read_at(&mut file, offset, &mut scratch[..meta]).map_err(io_err(path))?;
        check_buffers(&scratch[..meta], (n - meta) as u64, &layouts).map_err(|what| parse(&what))?;
        match &wanted {
            Some(spans) => {
                // Only the wanted buffers' bytes; the rest of the body is
                // never decoded (projection). check_buffers put every
                // buffer inside the body.
                let body = if scratch[..4] == [0xff; 4] {
                    &scratch[8..meta]
                } else {
                    &scratch[4..meta]
                };
                let message = root_as_message(body).map_err(|e| parse(&format!("bad Arrow IPC message: {e}")))?;
                let buffers = message
                    .header_as_record_batch()
                    .and_then(|b| b.buffers())
                    .ok_or_else(|| parse("Arrow IPC block is not a record batch"))?;
                let mut ranges: Vec<(usize, usize)> = Vec::new();
                for i in spans.iter().flat_map(|s| s.clone()) {
                    let b = buffers.get(i);
                    // Non-negative and inside the body (check_buffers).
                    let (o, l) = (b.offset() as usize, b.length() as usize);
                    if l > 0 {
                        ranges.push((meta + o, meta + o + l));
                    }
                }
                // Nearby buffers are read in one call.
                let mut i = 0;
                while i < ranges.len() {
                    let (lo, mut hi) = ranges[i];
                    while i + 1 < ranges.len() && ranges[i + 1].0 <= hi + 64 && ranges[i + 1].0 >= lo {
                        hi = hi.max(ranges[i + 1].1);
                        i += 1;
                    }
                    read_at(&mut file, offset + lo as u64, &mut scratch[lo..hi]).map_err(io_err(path))?;
                    i += 1;
                }
            }
            None => read_at(&mut file, offset + meta as u64, &mut scratch[meta..]).map_err(io_err(path))?,
        }
        let buf = Buffer::from_vec(std::mem::take(&mut scratch));
        if let Some(batch) = decoder.read_record_batch(block, &buf).map_err(arrow)? {
            f(index, batch)?;
        }
        // When `f` kept no view into `buf`, take the allocation back for the next block.
        scratch = buf.into_vec().unwrap_or_default();
    }
    Ok(out_schema)
}

/// Checks the blocks a footer lists (dictionaries and record batches): each
/// inside the file between the leading magic and the footer, none
/// overlapping another. Reading then touches every byte of the file at most
/// once, so a damaged footer cannot make the reader allocate or decode more
/// than the file holds.
fn check_blocks(footer: &arrow_ipc::Footer<'_>, footer_start: u64) -> Result<(), String> {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for block in footer
        .dictionaries()
        .iter()
        .flatten()
        .chain(footer.recordBatches().iter().flatten())
    {
        let start = u64::try_from(block.offset()).map_err(|_| "negative Arrow IPC block offset".to_string())?;
        let meta =
            u64::try_from(block.metaDataLength()).map_err(|_| "negative Arrow IPC metadata length".to_string())?;
        let body = u64::try_from(block.bodyLength()).map_err(|_| "negative Arrow IPC body length".to_string())?;
        let end = start
            .checked_add(meta)
            .and_then(|e| e.checked_add(body))
            .ok_or_else(|| "Arrow IPC block beyond the end of the file".to_string())?;
        if start < 8 || end > footer_start || meta < 8 {
            return Err("Arrow IPC block beyond the end of the file".into());
        }
        spans.push((start, end));
    }
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err("Arrow IPC blocks overlap (the footer is damaged)".into());
    }
    Ok(())
}

/// Checks that every buffer a record batch or dictionary message names lies
/// inside the message's body (arrow-ipc slices the body without checking
/// and panics on a damaged offset); array lengths, offsets and UTF-8 are
/// then checked by arrow's own validation when the batch is decoded.
fn check_buffers(meta: &[u8], body_len: u64, layouts: &[Vec<Option<usize>>]) -> Result<(), String> {
    let fb = if meta.len() >= 8 && meta[..4] == [0xff; 4] {
        &meta[8..]
    } else {
        meta.get(4..).unwrap_or_default()
    };
    let message = root_as_message(fb).map_err(|e| format!("bad Arrow IPC message: {e}"))?;
    let batch = match message.header_type() {
        arrow_ipc::MessageHeader::RecordBatch => message.header_as_record_batch(),
        _ => None,
    }
    .ok_or_else(|| "Arrow IPC block is not a record batch".to_string())?;
    let buffers: Vec<_> = batch.buffers().iter().flatten().collect();
    let mut next = buffers.iter();
    for (i, layout) in layouts.iter().enumerate() {
        for width in layout {
            let b = next
                .next()
                .ok_or_else(|| format!("Arrow IPC record batch with too few buffers for column {}", i + 1))?;
            // arrow views such a buffer as a slice of values and panics on a remainder.
            if let Some(w) = width
                && b.length() % (*w as i64) != 0
            {
                return Err(format!(
                    "column {}: a buffer of {} bytes is not a whole number of {w}-byte values",
                    i + 1,
                    b.length()
                ));
            }
        }
    }
    for b in &buffers {
        let end = u64::try_from(b.offset())
            .ok()
            .zip(u64::try_from(b.length()).ok())
            .and_then(|(o, l)| o.checked_add(l));
        if end.is_none_or(|e| e > body_len) {
            return Err(format!(
                "Arrow IPC buffer at offset {} of length {} beyond its block's body of {body_len} bytes",
                b.offset(),
                b.length()
            ));
        }
    }
    Ok(())
}

/// The buffers of each column in a record batch message, with the value
/// width of those arrow reads as a slice of fixed-width values. swvr reads
/// flat columns only (text, binary, numbers, booleans, dates and times);
/// any other type (nested, dictionary, view, union) is an error naming the
/// column, before anything is decoded.
fn buffer_layouts(schema: &Schema) -> Result<Vec<Vec<Option<usize>>>, String> {
    use arrow_schema::DataType as T;
    schema
        .fields()
        .iter()
        .map(|f| {
            Ok(match f.data_type() {
                T::Null => vec![],
                T::Boolean | T::FixedSizeBinary(_) => vec![None, None],
                T::Utf8 | T::Binary => vec![None, Some(4), None],
                T::LargeUtf8 | T::LargeBinary => vec![None, Some(8), None],
                t => match t.primitive_width() {
                    Some(w) => vec![None, Some(w)],
                    None => {
                        return Err(format!(
                            "column `{}` of type {t}; expected flat columns (text, numbers, booleans): swvr reads no other",
                            f.name().escape_debug()
                        ));
                    }
                },
            })
        })
        .collect()
}

/// An error when the schema carries a swvr schema version other than this
/// build's (a file written by another version of swvr). A file without the
/// key (written by another program) is read; its columns are then checked
/// by name and type where they are used.
fn check_version(schema: &Schema) -> Result<(), String> {
    match schema.metadata().get(SCHEMA_VERSION_KEY) {
        Some(v) if v != SCHEMA_VERSION => Err(format!(
            "swvr schema version `{}`; expected `{SCHEMA_VERSION}` (written by another swvr version: run the stage that makes it again)",
            v.escape_debug()
        )),
        _ => Ok(()),
    }
}

/// Opens an Arrow IPC file and reads its footer bytes: (file, length, footer).
fn open_footer(path: &Path) -> Result<(File, u64, Vec<u8>), IoError> {
    let parse = |what: &str| IoError::Arrow {
        path: path.to_path_buf(),
        source: ArrowError::ParseError(what.to_string()),
    };
    let mut file = open_input(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len < 16 {
        return Err(parse("not an Arrow IPC file (too short)"));
    }
    let mut magic = [0u8; 6];
    read_at(&mut file, 0, &mut magic).map_err(io_err(path))?;
    if &magic != b"ARROW1" {
        return Err(parse("not an Arrow IPC file (no ARROW1 magic at the start)"));
    }
    let mut trailer = [0u8; 10];
    read_at(&mut file, len - 10, &mut trailer).map_err(io_err(path))?;
    let footer_len = read_footer_length(trailer).map_err(|source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    })? as u64;
    if footer_len + 10 > len {
        return Err(parse("Arrow IPC footer longer than the file"));
    }
    let mut footer = vec![0u8; footer_len as usize];
    read_at(&mut file, len - 10 - footer_len, &mut footer).map_err(io_err(path))?;
    Ok((file, len, footer))
}

/// Number of rows of an Arrow IPC file, from its footer and the record
/// batch headers alone (no column data is read).
pub fn arrow_rows(path: &Path) -> Result<u64, IoError> {
    let parse = |what: &str| IoError::Arrow {
        path: path.to_path_buf(),
        source: ArrowError::ParseError(what.to_string()),
    };
    let (mut file, len, footer_bytes) = open_footer(path)?;
    let footer = root_as_footer(&footer_bytes).map_err(|e| parse(&format!("bad Arrow IPC footer: {e}")))?;
    check_blocks(&footer, len - 10 - footer_bytes.len() as u64).map_err(|what| parse(&what))?;
    let mut rows = 0u64;
    let mut meta = Vec::new();
    for block in footer.recordBatches().iter().flatten() {
        let n = usize::try_from(block.metaDataLength()).map_err(|_| parse("negative Arrow IPC metadata length"))?;
        let offset = u64::try_from(block.offset()).map_err(|_| parse("negative Arrow IPC block offset"))?;
        if n < 8 || offset + n as u64 > len {
            return Err(parse("Arrow IPC block beyond the end of the file"));
        }
        meta.resize(n, 0);
        read_at(&mut file, offset, &mut meta).map_err(io_err(path))?;
        // Encapsulated message: 0xFFFFFFFF continuation, i32 length, flatbuffer.
        let body = if meta[..4] == [0xff; 4] { &meta[8..] } else { &meta[4..] };
        let message = root_as_message(body).map_err(|e| parse(&format!("bad Arrow IPC message: {e}")))?;
        let batch = message
            .header_as_record_batch()
            .ok_or_else(|| parse("Arrow IPC block is not a record batch"))?;
        rows += u64::try_from(batch.length()).map_err(|_| parse("negative Arrow IPC row count"))?;
    }
    Ok(rows)
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// A copy of `array` that owns its buffers (no view into a read buffer).
pub(crate) fn owned_copy(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let data = array.to_data();
    let mut copy = MutableArrayData::new(vec![&data], false, data.len());
    copy.try_extend(0, 0, data.len())?;
    Ok(make_array(copy.freeze()))
}

/// The column `name` of `batch` downcast to `A`, or an error naming the file.
pub fn column<'a, A: Array + 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a A, IoError> {
    let col = batch.column_by_name(name).ok_or_else(|| IoError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: "a column of this name".into(),
    })?;
    col.as_any().downcast_ref::<A>().ok_or_else(|| IoError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: format!(
            "type {}, found {}",
            std::any::type_name::<A>().rsplit("::").next().unwrap_or("?"),
            col.data_type()
        ),
    })
}

/// An integer column of any signed width: the codes of a coded variable
/// whatever width a file stores them in (respondents.arrow uses Int8;
/// Int16/32/64 come from other writers).
#[derive(Debug, Clone, Copy)]
pub enum IntColumn<'a> {
    /// Int8 codes.
    I8(&'a Int8Array),
    /// Int16 codes.
    I16(&'a Int16Array),
    /// Int32 codes.
    I32(&'a Int32Array),
    /// Int64 codes.
    I64(&'a Int64Array),
}

impl<'a> IntColumn<'a> {
    /// `array` as an integer column; `None` when it holds another type.
    pub fn of(array: &'a dyn Array) -> Option<Self> {
        let any = array.as_any();
        match array.data_type() {
            DataType::Int8 => any.downcast_ref().map(IntColumn::I8),
            DataType::Int16 => any.downcast_ref().map(IntColumn::I16),
            DataType::Int32 => any.downcast_ref().map(IntColumn::I32),
            DataType::Int64 => any.downcast_ref().map(IntColumn::I64),
            _ => None,
        }
    }

    /// The value of row `r`; `None` when it is null.
    #[inline]
    pub fn get(&self, r: usize) -> Option<i64> {
        match self {
            IntColumn::I8(a) => a.is_valid(r).then(|| i64::from(a.value(r))),
            IntColumn::I16(a) => a.is_valid(r).then(|| i64::from(a.value(r))),
            IntColumn::I32(a) => a.is_valid(r).then(|| i64::from(a.value(r))),
            IntColumn::I64(a) => a.is_valid(r).then(|| a.value(r)),
        }
    }

    /// Every value in row order, `None` for nulls.
    pub fn values(&self) -> Vec<Option<i64>> {
        let len = match self {
            IntColumn::I8(a) => a.len(),
            IntColumn::I16(a) => a.len(),
            IntColumn::I32(a) => a.len(),
            IntColumn::I64(a) => a.len(),
        };
        (0..len).map(|r| self.get(r)).collect()
    }
}

/// A schema shared by reference.
pub fn shared(schema: Schema) -> SchemaRef {
    Arc::new(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int32Array;
    use arrow_schema::{DataType, Field};

    #[test]
    fn int_column_reads_every_integer_width_and_nothing_else() {
        let arrays: [ArrayRef; 4] = [
            Arc::new(Int8Array::from(vec![Some(-1), None, Some(9)])),
            Arc::new(Int16Array::from(vec![Some(-1), None, Some(9)])),
            Arc::new(Int32Array::from(vec![Some(-1), None, Some(9)])),
            Arc::new(Int64Array::from(vec![Some(-1), None, Some(9)])),
        ];
        for a in &arrays {
            let c = IntColumn::of(a.as_ref()).unwrap();
            assert_eq!(c.values(), vec![Some(-1), None, Some(9)], "{}", a.data_type());
            assert_eq!(c.get(2), Some(9));
        }
        let text = arrow_array::StringArray::from(vec!["1"]);
        assert!(IntColumn::of(&text).is_none());
        let unsigned = arrow_array::UInt8Array::from(vec![1u8]);
        assert!(IntColumn::of(&unsigned).is_none());
    }

    #[test]
    fn arrow_round_trip_and_no_temp_left() {
        let dir = std::env::temp_dir().join(format!("swvr-io-{}", std::process::id()));
        let path = dir.join("sub/x.arrow");
        let schema = with_version(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![Arc::new(Int32Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        write_arrow(&path, &schema, &[batch.clone(), batch]).unwrap();
        let back = read_arrow(&path).unwrap();
        assert_eq!(back.num_rows(), 6);
        assert_eq!(arrow_rows(&path).unwrap(), 6);
        assert_eq!(
            back.schema().metadata().get(SCHEMA_VERSION_KEY).map(String::as_str),
            Some(SCHEMA_VERSION)
        );
        let a = column::<Int32Array>(&back, "a", &path).unwrap();
        assert_eq!(a.value(5), 3);
        let err = column::<Int32Array>(&back, "b", &path).unwrap_err().to_string();
        let proj = read_arrow_columns(&path, &["a", "zz"]).unwrap();
        assert_eq!((proj.num_columns(), proj.num_rows()), (1, 6));
        assert_eq!(
            proj.schema().metadata().get(SCHEMA_VERSION_KEY).map(String::as_str),
            Some(SCHEMA_VERSION)
        );
        assert!(err.contains("x.arrow") && err.contains("`b`"), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn for_each_batch_of_reads_only_the_kept_batches() {
        let dir = std::env::temp_dir().join(format!("swvr-io-of-{}", std::process::id()));
        let path = dir.join("z.arrow");
        let schema = with_version(Schema::new(vec![
            Field::new("a", DataType::Int32, false),
            Field::new("b", DataType::Int32, false),
        ]));
        let batch = |v: i32| {
            RecordBatch::try_new(
                Arc::new(schema.clone()),
                vec![
                    Arc::new(Int32Array::from(vec![v, v + 1])),
                    Arc::new(Int32Array::from(vec![-v, -v - 1])),
                ],
            )
            .unwrap()
        };
        write_arrow(&path, &schema, &[batch(0), batch(10), batch(20), batch(30)]).unwrap();
        let mut asked = Vec::new();
        let mut seen = Vec::new();
        for_each_batch_of(
            &path,
            Some(&["b"]),
            |i| {
                asked.push(i);
                i % 2 == 1
            },
            |i, b: RecordBatch| -> Result<(), IoError> {
                let col = column::<Int32Array>(&b, "b", &path)?;
                seen.push((i, b.num_columns(), col.value(0)));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(asked, [0, 1, 2, 3]);
        assert_eq!(seen, [(1, 1, -10), (3, 1, -30)]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dropped_atomic_file_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("swvr-io-drop-{}", std::process::id()));
        let path = dir.join("y.csv");
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
