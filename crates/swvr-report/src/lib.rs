//! The human outputs of a swvr run, read from the run folder's Arrow and
//! JSON files (this crate depends on no other stage):
//!
//! - [`report`]: `OUT/report/index.html`, one self-contained page (inline
//!   CSS and SVG) with every item by every domain, the report's views beside
//!   the published figures, the weighting diagnostics and the model.
//! - [`compare()`]: two run folders side by side, `DIR/comparison.arrow` and
//!   `DIR/comparison.html`.
//!
//! Charts come from one module, [`svg`].
//!
//! ```no_run
//! use std::path::Path;
//! let summary = swvr_report::report(Path::new("out"), &swvr_report::ReportOptions::default()).unwrap();
//! println!("{} bytes, {} published figures compared", summary.bytes, summary.agreement.compared);
//! ```

pub mod compare;
pub mod html;
pub mod load;
pub mod svg;

use std::path::{Path, PathBuf};

pub use compare::{CompareOptions, Comparison, compare};
pub use load::{LoadOptions, Run};
use swvr_core::published::{PublishedError, ReportDef, TableA2};

/// Errors of the report and comparison.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A required output of an earlier stage is absent.
    #[error("{}: not found; run `{make}` first", path.display())]
    Missing {
        /// Expected file.
        path: PathBuf,
        /// Command that writes it.
        make: String,
    },
    /// A file could not be read or parsed.
    #[error("{}: {message}", path.display())]
    Read {
        /// File.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A column is missing or of an unexpected type.
    #[error("{}: column {column}: expected {expected}", path.display())]
    Column {
        /// File.
        path: PathBuf,
        /// Column name.
        column: String,
        /// What was expected.
        expected: String,
    },
    /// Arrow or file I/O.
    #[error(transparent)]
    Io(#[from] swvr_core::io::IoError),
    /// The definition of published figures.
    #[error(transparent)]
    Published(#[from] PublishedError),
}

/// Options of [`report`].
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// What to read besides the run folder.
    pub load: LoadOptions,
    /// Report views and published figures; default: the built-in 2021 definition.
    pub views: Option<ReportDef>,
}

/// What [`report`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSummary {
    /// The page.
    pub path: PathBuf,
    /// Its size.
    pub bytes: usize,
    /// Country-waves in it.
    pub groups: usize,
    /// Published figures compared and outside the intervals.
    pub agreement: html::Agreement,
}

/// Writes `out/report/index.html` from the run folder `out`.
pub fn report(out: &Path, opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    let run = Run::load(out, &opts.load)?;
    report_into_dir(&run, out, opts)
}

/// Writes `dest/report/index.html` for an already loaded run.
pub fn report_into_dir(run: &Run, dest: &Path, opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    let def = match &opts.views {
        Some(d) => d.clone(),
        None => ReportDef::default_2021()?,
    };
    let (page, agreement) = html::render(run, &def, &TableA2::builtin());
    let dir = dest.join("report");
    std::fs::create_dir_all(&dir).map_err(|e| ReportError::Read {
        path: dir.clone(),
        message: format!("cannot create folder: {e}"),
    })?;
    let path = dir.join("index.html");
    swvr_core::io::write_atomic(&path, page.as_bytes())?;
    Ok(ReportSummary {
        path,
        bytes: page.len(),
        groups: run.groups().len(),
        agreement,
    })
}
