//! Limits on input sizes that swvr enforces, so that memory is bounded by
//! the data a stage holds and never grows without bound on a hostile or
//! mistaken input (a file with no line breaks, a header of a million
//! columns, `/dev/zero` given as a file). Each limit, when exceeded, is a
//! one-line error naming the file, the line and the limit
//! (docs/ingest.md, *Limits*).
//!
//! ```
//! assert!(swvr_core::limits::MAX_FIELD_BYTES < swvr_core::limits::MAX_RECORD_BYTES);
//! ```

/// Columns in a CSV header (respondents.csv has 30 required columns; the
/// rest are extra columns carried through as text).
pub const MAX_COLUMNS: usize = 10_000;

/// Bytes of one CSV field after unquoting (1 MiB: far above any interview
/// answer or identifier; an open-ended verbatim of a book's length is not
/// survey microdata).
pub const MAX_FIELD_BYTES: usize = 1 << 20;

/// Bytes of one CSV record as in the file (16 MiB), which bounds the
/// reader's buffer: a file without line breaks stops here instead of
/// being read into memory whole.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Bytes of design.csv or targets.csv, which are read whole (64 MiB: a
/// row per country, wave and frame or target category is some thousand
/// times less).
pub const MAX_TABLE_BYTES: u64 = 64 << 20;

/// Bytes of a configuration file (questionnaire, weighting scheme, model
/// specification): 1 MiB, some hundred times the largest real one.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A size in words for messages: `1 MiB`, `16 MiB`, `10000`.
pub fn show_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}
