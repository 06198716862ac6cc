//! Progress reporting from library code without touching the terminal:
//! stages call a [`Progress`]; only the CLI draws bars.

/// Receives progress from a stage. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A stage (or phase) starts; `total` rows when known.
    fn start(&self, _phase: &str, _total: Option<u64>) {}
    /// `n` more rows (or units) done.
    fn advance(&self, _n: u64) {}
    /// The phase is finished.
    fn finish(&self) {}
}

/// Discards progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
