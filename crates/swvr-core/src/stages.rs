//! The folders and files of a run folder (`OUT/`), named once: each stage
//! writes its folder and reads the files of the stages before it by these
//! names.
//!
//! ```
//! use std::path::Path;
//! use swvr_core::stages;
//! let p = stages::path(Path::new("out"), stages::WEIGHTED);
//! assert_eq!(p, Path::new("out").join("weight").join("weighted.arrow"));
//! ```

use std::path::{Path, PathBuf};

/// The ingest stage's folder.
pub const INGEST: &str = "ingest";
/// The weight stage's folder.
pub const WEIGHT: &str = "weight";
/// The tabulate stage's folder.
pub const TABULATE: &str = "tabulate";
/// The model stage's folder.
pub const MODEL: &str = "model";

/// Typed respondents (written by ingest).
pub const RESPONDENTS: &str = "ingest/respondents.arrow";
/// Rejected rows with reasons (ingest).
pub const REJECTS: &str = "ingest/rejects.csv";
/// Validation summary (ingest).
pub const VALIDATION: &str = "ingest/validation.json";
/// Respondents with weights (written by weight).
pub const WEIGHTED: &str = "weight/weighted.arrow";
/// Replicate weights, row-aligned with [`WEIGHTED`] (weight, with
/// `[variance] method = "jackknife" | "bootstrap"`; `crate::replicates`).
pub const REPLICATES: &str = "weight/replicates.arrow";
/// Weighting diagnostics (weight).
pub const DIAGNOSTICS: &str = "weight/diagnostics.json";
/// Estimates (tabulate).
pub const TABLES: &str = "tabulate/tables.arrow";
/// Estimates as CSV (tabulate).
pub const TABLES_CSV: &str = "tabulate/tables.csv";
/// Contrasts between domain levels and waves (tabulate).
pub const CONTRASTS: &str = "tabulate/contrasts.arrow";
/// Odds ratios (model).
pub const ODDS_RATIOS: &str = "model/odds_ratios.arrow";

/// `out` joined with a stage-relative name such as [`WEIGHTED`] (one path
/// component per `/`, so the result uses the platform's separator).
pub fn path(out: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(out.to_path_buf(), |p, c| p.join(c))
}
