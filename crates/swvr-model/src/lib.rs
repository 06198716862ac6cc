//! `swvr model`: design-based logistic regression of future volunteering.

use std::path::Path;

use swvr_core::groups::Selection;
use swvr_core::progress::Progress;

/// A validated model specification.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {}

impl ModelSpec {
    /// The contract's default specification (Appendix E).
    pub fn default_spec() -> Self {
        ModelSpec {}
    }
    /// Reads and validates a specification file.
    pub fn from_path(_path: &Path) -> Result<Self, ModelError> {
        Err(ModelError::NotImplemented)
    }
    /// The effective specification as canonical TOML (hashed into the manifest).
    pub fn to_toml(&self) -> String {
        String::new()
    }
}

/// What modelling produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSummary {
    /// Rows of odds_ratios.arrow.
    pub rows: u64,
}

/// Model failures.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not implemented yet.
    #[error("model is not implemented yet")]
    NotImplemented,
}

/// Reads `out/weight/weighted.arrow`, writes `out/model/`.
pub fn model(
    _out: &Path,
    _spec: &ModelSpec,
    _sel: &Selection,
    _progress: &dyn Progress,
) -> Result<ModelSummary, ModelError> {
    Err(ModelError::NotImplemented)
}
