//! Errors of the weighting stage: each names the file (and line) or the
//! (country, wave), variable and category a user has to fix.

use swvr_core::io::IoError;

/// Weighting failures.
#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    /// Reading or writing a file failed (Arrow, I/O).
    #[error(transparent)]
    Io(#[from] IoError),
    /// design.csv or targets.csv is malformed ([`swvr_core::bundle`]).
    #[error(transparent)]
    Bundle(#[from] swvr_core::bundle::BundleError),
    /// A bundle file could not be opened.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// File.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The scheme file could not be read.
    #[error("{path}: cannot read weighting scheme: {source}")]
    SchemeRead {
        /// Scheme file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Malformed scheme TOML or an unknown key (the message has line and column).
    #[error(transparent)]
    SchemeToml(#[from] swvr_core::config::TomlError),
    /// An empty scheme file (no section at all).
    #[error(
        "{path}: the weighting scheme is empty; write the sections to change (`swvr defaults scheme` prints the built-in scheme), or leave out --scheme to use the built-in scheme"
    )]
    SchemeEmpty {
        /// Scheme file.
        path: String,
    },
    /// Values out of their domain, unknown keys, or a scheme that does not
    /// fit the questionnaire: every mistake, each with its line.
    #[error(transparent)]
    Scheme(Box<crate::scheme::SchemeMistakes>),
    /// A bad value in design.csv or targets.csv.
    #[error("{file}: line {line}, column `{column}`: found `{value}`, expected {expected}")]
    Csv {
        /// File.
        file: String,
        /// Physical line (header = 1).
        line: u64,
        /// Column.
        column: String,
        /// Value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A bad value in respondents.arrow.
    #[error("{file}: row {row}, column `{column}`: found `{value}`, expected {expected}")]
    Data {
        /// File.
        file: String,
        /// Data row (1-based).
        row: usize,
        /// Column.
        column: String,
        /// Value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// No respondents (in the selection).
    #[error("{file}: no respondents to weight (in the selected countries and waves)")]
    NoRows {
        /// File.
        file: String,
    },
    /// A (country, wave) of the data has no design rows.
    #[error("{file}: no design rows for {country} {wave}, which has respondents")]
    NoDesign {
        /// design.csv.
        file: String,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
    },
    /// Respondents drawn from a frame the design lacks.
    #[error("{file}: {country} {wave} has respondents drawn from frame {frame} but no design row for it")]
    FrameNotInDesign {
        /// design.csv.
        file: String,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// Frame code.
        frame: String,
    },
    /// A (country, wave) of the data has no targets (for a raking variable).
    #[error("{file}: no targets for {country} {wave}{}, which has respondents", variable.as_ref().map(|v| format!(" variable {v}")).unwrap_or_default())]
    NoTargets {
        /// targets.csv.
        file: String,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// Raking variable, or `None` when the (country, wave) has no rows at all.
        variable: Option<String>,
    },
    /// A target category problem: missing or zero target for a sample
    /// category, a target category no one is in, an unknown category.
    #[error(transparent)]
    Target(Box<TargetError>),
    /// Raking stopped at max_iterations above tolerance.
    #[error(
        "raking of {country} {wave} did not converge in {iterations} iterations: variable {variable}, category {category} is {error:.3e} from its target share (tolerance {tolerance:e}); raise [raking] max_iterations, or the targets may be impossible for this sample (set [raking] on_nonconvergence = \"warn\" to keep the weights anyway)"
    )]
    NotConverged {
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// Worst variable.
        variable: String,
        /// Worst category.
        category: String,
        /// Its |share − target|.
        error: f64,
        /// Scheme tolerance.
        tolerance: f64,
        /// Iteration limit.
        iterations: u32,
    },
    /// Trimming bounds and margins cannot both hold.
    #[error(
        "{adjustment} and trimming of {country} {wave} cannot both hold after {rounds} rounds: with the weights trimmed to the bounds, variable {variable}, category {category} is {error:.3e} from its target share (tolerance {tolerance:e}); widen [trimming] bounds or set [raking] on_nonconvergence = \"warn\""
    )]
    TrimInfeasible {
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// `raking`, or `linear calibration` / `logit calibration`.
        adjustment: String,
        /// Rounds run.
        rounds: u32,
        /// Worst variable.
        variable: String,
        /// Worst category.
        category: String,
        /// Final margin error.
        error: f64,
        /// Scheme tolerance.
        tolerance: f64,
    },
    /// Linear or logit calibration found no weights meeting the margins
    /// (within the bounds on the g-weights).
    #[error(
        "{method} calibration of {country} {wave}{bounds} cannot meet the margins (no convergence in {iterations} iterations): {margins}; widen [calibration] bounds, or choose another method (set [raking] on_nonconvergence = \"warn\" to keep the last weights anyway)"
    )]
    CalibrationFailed {
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// `linear` or `logit`.
        method: String,
        /// ` with bounds [L, U] on the g-weights`, or empty.
        bounds: String,
        /// Iteration limit.
        iterations: u32,
        /// The margins off their targets, each with its worst category.
        margins: String,
    },
    /// A replicate's chain failed where the full sample's did not.
    #[error(
        "{method} replicate {replicate} of {country} {wave}: {problem}; the full sample was weighted, but this replicate could not be (set [raking] on_nonconvergence = \"warn\" to keep its last weights and list it in diagnostics.json)"
    )]
    Replicate {
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// `jackknife` or `bootstrap`.
        method: String,
        /// Replicate number (1-based, as `rep_1`).
        replicate: usize,
        /// What went wrong.
        problem: String,
    },
    /// Calibration gave weights ≤ 0 (unbounded linear calibration).
    #[error(
        "{method} calibration of {country} {wave} gives {count} weights <= 0 (smallest g-weight {g_min:.4}); set [calibration] bounds = [L, U] with 0 < L < 1 < U, or use method = \"logit\" (bounded) or \"raking\""
    )]
    NonPositiveWeights {
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
        /// Calibration method.
        method: String,
        /// Weights ≤ 0.
        count: usize,
        /// Smallest g-weight.
        g_min: f64,
    },
}

/// A target category problem (boxed in [`WeightError::Target`]).
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {country} {wave}, variable {variable}, category {category} {problem}", line.map(|l| format!(": line {l}")).unwrap_or_default())]
pub struct TargetError {
    /// targets.csv.
    pub file: String,
    /// Physical line when the problem is on a line of the file.
    pub line: Option<u64>,
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Raking variable.
    pub variable: String,
    /// Category code or band label.
    pub category: String,
    /// What is wrong.
    pub problem: String,
}
