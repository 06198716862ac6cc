//! Shared foundation of the swvr survey pipeline.
//!
//! - [`questionnaire`]: the machine-readable questionnaire definition that
//!   drives validation and tabulation (`questionnaire/*.toml`).
//! - [`bundle`]: design.csv and targets.csv of a wave bundle, read and
//!   validated once for every stage; the header checks every bundle CSV shares.
//! - [`config`]: what every configuration file shares (located TOML errors,
//!   the policy for built-in defaults).
//! - [`schema`]: the typed columns of `ingest/respondents.arrow`, declared once.
//! - [`io`]: atomic file writes, Arrow IPC file read/write (validated), input files
//!   checked to be regular files.
//! - [`limits`]: the documented limits on header width, field and record length
//!   and configuration-file size.
//! - [`labels`]: variable and value labels from the questionnaire (Arrow metadata, exports).
//! - [`handoff`]: reading weighted.arrow together with respondents.arrow, row-aligned.
//! - [`groups`]: rows grouped by (country, wave), with stratum codes.
//! - [`variance`]: Taylor-linearised variance for a stratified with-replacement design.
//! - [`calibration`]: residuals of scores on the calibration variables
//!   (calibration-aware variance, as R's `rake()`/`calibrate()` designs).
//! - [`replicates`]: replicate weights (`weight/replicates.arrow`): metadata, R's `svrVar`, row-aligned reading.
//! - [`rng`]: swvr's own PRNG (SplitMix64, xoshiro256**): bytes never change with a dependency upgrade.
//! - [`progress`]: the progress callback stages report to.
//! - [`published`]: the published figures outputs are compared with (report views, Table A2).
//! - [`sum`]: compensated (Neumaier) summation.
//! - [`sys`]: peak memory of the process, for benchmarks and diagnostics.
//!
//! ```
//! let q = swvr_core::questionnaire::Questionnaire::default_2021();
//! assert_eq!(q.items()[0].id, "Q1");
//! ```

pub mod bundle;
pub mod calibration;
pub mod config;
pub mod groups;
pub mod handoff;
pub mod io;
pub mod labels;
pub mod limits;
pub mod progress;
pub mod published;
pub mod questionnaire;
pub mod replicates;
pub mod rng;
pub mod schema;
pub mod stages;
pub mod stats;
pub mod sum;
pub mod sys;
pub mod variance;

/// Version of the swvr Arrow schemas, stored in every file's metadata under
/// [`SCHEMA_VERSION_KEY`].
pub const SCHEMA_VERSION: &str = "1";
/// Metadata key holding [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "swvr.schema_version";

/// Field-metadata key on `age_group` in weighted.arrow: the band labels in
/// scheme order, joined by `,` (tabulation and modelling read level order from it).
pub const LEVELS_KEY: &str = "swvr.levels";
