//! `swvr tabulate`: every item by every domain with design-based inference.

use std::path::Path;

use swvr_core::groups::Selection;
use swvr_core::progress::Progress;
use swvr_core::questionnaire::Questionnaire;

/// What tabulation produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TabulateSummary {
    /// Rows of tables.arrow.
    pub estimates: u64,
}

/// Tabulation failures.
#[derive(Debug, thiserror::Error)]
pub enum TabulateError {
    /// Not implemented yet.
    #[error("tabulate is not implemented yet")]
    NotImplemented,
}

/// Reads `out/weight/weighted.arrow`, writes `out/tabulate/`.
pub fn tabulate(
    _out: &Path,
    _q: &Questionnaire,
    _sel: &Selection,
    _progress: &dyn Progress,
) -> Result<TabulateSummary, TabulateError> {
    Err(TabulateError::NotImplemented)
}
