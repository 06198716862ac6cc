//! Bounds-checked reading: every read names what it reads, and running out
//! of bytes is an error at the offset where it happened.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::StatError;

/// Anything a reader reads from: a file, or bytes in memory.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// The boxed source of a reader.
pub type Input = Box<dyn ReadSeek>;

/// Opens `path` as an [`Input`].
pub(crate) fn open(path: &Path) -> Result<Input, StatError> {
    let f = std::fs::File::open(path).map_err(|source| StatError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    Ok(Box::new(f))
}

/// Longest piece of text or table read from a dictionary in one go; a
/// length beyond it is damage, not data (Stata's strL can be longer: those
/// are read with [`Src::bytes_up_to`] and a larger bound).
pub(crate) const MAX_CHUNK: usize = 1 << 24;

/// A byte source with its offset, its byte order and its file name.
pub(crate) struct Src<R> {
    pub r: R,
    pub pos: u64,
    pub big: bool,
    pub file: PathBuf,
}

impl<R> Src<R> {
    pub(crate) fn new(r: R, file: &Path) -> Self {
        Self {
            r,
            pos: 0,
            big: false,
            file: file.to_path_buf(),
        }
    }

    /// A format error at byte `at`.
    pub(crate) fn err_at(&self, at: u64, what: impl Into<String>) -> StatError {
        StatError::Format {
            file: self.file.clone(),
            where_: format!("byte {at}"),
            what: what.into(),
        }
    }

    /// A format error at the current offset.
    pub(crate) fn err(&self, what: impl Into<String>) -> StatError {
        self.err_at(self.pos, what)
    }

    pub(crate) fn io(&self, source: std::io::Error) -> StatError {
        match source.get_ref().and_then(|e| e.downcast_ref::<DataError>()) {
            Some(d) => self.err_at(d.at, d.what.clone()),
            None => StatError::Io {
                file: self.file.clone(),
                source,
            },
        }
    }
}

impl<R: Read> Src<R> {
    /// Fills `buf`; the end of the file before it is full is an error
    /// saying what was being read.
    #[inline]
    pub(crate) fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), StatError> {
        match self.r.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.err(format!(
                "the file ends inside {what} ({} bytes expected); it is truncated or damaged",
                buf.len()
            ))),
            Err(e) => Err(self.io(e)),
        }
    }

    /// `n` bytes (at most [`MAX_CHUNK`]).
    pub(crate) fn bytes(&mut self, n: usize, what: &str) -> Result<Vec<u8>, StatError> {
        self.bytes_up_to(n, MAX_CHUNK, what)
    }

    /// `n` bytes, `n` at most `max`; memory grows only with the bytes
    /// actually present.
    pub(crate) fn bytes_up_to(&mut self, n: usize, max: usize, what: &str) -> Result<Vec<u8>, StatError> {
        if n > max {
            return Err(self.err(format!(
                "{what} of {n} bytes; expected at most {max} (the file is damaged)"
            )));
        }
        let mut v = Vec::with_capacity(n.min(1 << 16));
        let got = (&mut self.r)
            .take(n as u64)
            .read_to_end(&mut v)
            .map_err(|e| self.io(e))?;
        if got < n {
            self.pos += got as u64;
            return Err(self.err(format!(
                "the file ends inside {what} ({n} bytes expected, {got} found); it is truncated or damaged"
            )));
        }
        self.pos += n as u64;
        Ok(v)
    }

    pub(crate) fn skip(&mut self, n: u64, what: &str) -> Result<(), StatError> {
        let got = std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink()).map_err(|e| self.io(e))?;
        self.pos += got;
        if got < n {
            return Err(self.err(format!(
                "the file ends inside {what} ({n} bytes expected, {got} found); it is truncated or damaged"
            )));
        }
        Ok(())
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], StatError> {
        let mut b = [0u8; N];
        self.exact(&mut b, what)?;
        Ok(b)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, StatError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, StatError> {
        let b = self.array::<2>(what)?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    pub(crate) fn i32(&mut self, what: &str) -> Result<i32, StatError> {
        let b = self.array::<4>(what)?;
        Ok(if self.big {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        })
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, StatError> {
        let b = self.array::<4>(what)?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    pub(crate) fn i64(&mut self, what: &str) -> Result<i64, StatError> {
        let b = self.array::<8>(what)?;
        Ok(if self.big {
            i64::from_be_bytes(b)
        } else {
            i64::from_le_bytes(b)
        })
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, StatError> {
        let b = self.array::<8>(what)?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    pub(crate) fn f64(&mut self, what: &str) -> Result<f64, StatError> {
        let b = self.array::<8>(what)?;
        Ok(if self.big {
            f64::from_be_bytes(b)
        } else {
            f64::from_le_bytes(b)
        })
    }

    /// Reads `tag` and errors when the bytes differ.
    pub(crate) fn expect(&mut self, tag: &[u8]) -> Result<(), StatError> {
        let at = self.pos;
        let mut b = vec![0u8; tag.len()];
        let what = format!("the tag `{}`", String::from_utf8_lossy(tag));
        self.exact(&mut b, &what)?;
        if b != tag {
            return Err(self.err_at(at, format!("found {}; expected {what}", show(&b))));
        }
        Ok(())
    }
}

/// A format error raised inside a `Read` implementation (the zsav
/// decompressor), carried in an `std::io::Error` to [`Src::io`].
#[derive(Debug)]
pub(crate) struct DataError {
    pub at: u64,
    pub what: String,
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "byte {}: {}", self.at, self.what)
    }
}

impl std::error::Error for DataError {}

/// Bytes shown in a message: printable ASCII as text, the rest as `\xNN`,
/// at most 24 bytes.
pub(crate) fn show(b: &[u8]) -> String {
    let mut s = String::from("`");
    for &c in b.iter().take(24) {
        if (0x20..0x7f).contains(&c) && c != b'`' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02X}"));
        }
    }
    if b.len() > 24 {
        s.push_str("...");
    }
    s.push('`');
    if b.is_empty() {
        return "nothing (an empty file)".into();
    }
    s
}
