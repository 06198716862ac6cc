//! Progress reporting from library code without touching the terminal:
//! stages call a [`Progress`]; only the CLI draws bars.

/// What a phase counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of input read.
    Bytes,
    /// Respondent rows.
    Rows,
    /// (country, wave) groups.
    Groups,
    /// Other units of work (e.g. item × country-wave tasks).
    Tasks,
}

impl Unit {
    /// Plural name for display.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Rows => "rows",
            Unit::Groups => "country-waves",
            Unit::Tasks => "tasks",
        }
    }
}

/// Receives progress from a stage. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A stage (or phase) starts; `total` units when known.
    fn start(&self, _phase: &str, _total: Option<u64>, _unit: Unit) {}
    /// `n` more units done.
    fn advance(&self, _n: u64) {}
    /// The phase is finished.
    fn finish(&self) {}
}

/// Discards progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
