//! `swvr weight`: dual-frame base weights, raking, trimming, diagnostics.

use std::path::Path;

use swvr_core::groups::Selection;
use swvr_core::progress::Progress;

/// A validated weighting scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {}

impl Scheme {
    /// The documented default scheme.
    pub fn default_scheme() -> Self {
        Scheme {}
    }
    /// Reads and validates a scheme file.
    pub fn from_path(_path: &Path) -> Result<Self, WeightError> {
        Err(WeightError::NotImplemented)
    }
    /// The effective scheme as canonical TOML (hashed into the manifest).
    pub fn to_toml(&self) -> String {
        String::new()
    }
}

/// Diagnostics of one (country, wave).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {}

impl std::fmt::Display for Diagnostics {
    /// One summary line: country, wave, n, Kish deff, MOE.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "")
    }
}

/// Weighting failures.
#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    /// Not implemented yet.
    #[error("weight is not implemented yet")]
    NotImplemented,
}

/// Reads `out/ingest/respondents.arrow` and `data/{design,targets}.csv`, writes `out/weight/`.
pub fn weight(
    _data: &Path,
    _out: &Path,
    _scheme: &Scheme,
    _sel: &Selection,
    _progress: &dyn Progress,
) -> Result<Vec<Diagnostics>, WeightError> {
    Err(WeightError::NotImplemented)
}
