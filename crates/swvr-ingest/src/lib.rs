//! `swvr ingest`: validate a wave bundle against the questionnaire.

use std::collections::BTreeMap;
use std::path::Path;

use swvr_core::groups::Selection;
use swvr_core::progress::Progress;
use swvr_core::questionnaire::Questionnaire;

/// Row counts of an ingest run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Records read.
    pub rows_read: u64,
    /// Records accepted.
    pub rows_accepted: u64,
    /// Records rejected.
    pub rows_rejected: u64,
    /// (accepted, rejected) by country.
    pub by_country: BTreeMap<String, (u64, u64)>,
}

/// Ingest failures (file-level errors).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not implemented yet.
    #[error("ingest is not implemented yet")]
    NotImplemented,
}

/// Reads `data/{respondents,design,targets}.csv`, writes `out/ingest/`.
pub fn ingest(
    _data: &Path,
    _out: &Path,
    _q: &Questionnaire,
    _sel: &Selection,
    _progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    Err(IngestError::NotImplemented)
}
