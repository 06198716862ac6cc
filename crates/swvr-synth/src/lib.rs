//! `swvr synth`: deterministic synthetic wave bundles shaped like the 2021 wave.

use std::path::{Path, PathBuf};

use swvr_core::progress::Progress;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthOptions {
    /// Total respondents, split evenly over the countries.
    pub respondents: u64,
    /// ISO3 country codes (default: the eight 2021 countries).
    pub countries: Vec<String>,
    /// Seed of the generator.
    pub seed: u64,
    /// Wave (year).
    pub wave: i32,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            respondents: 8000,
            countries: ["BOL", "IND", "KEN", "LBN", "SEN", "THA", "TUR", "UZB"]
                .map(String::from)
                .to_vec(),
            seed: 2021,
            wave: 2021,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthSummary {
    /// Respondent rows written.
    pub respondents: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Synth failures.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Not implemented yet.
    #[error("synth is not implemented yet")]
    NotImplemented,
}

/// Writes respondents.csv, design.csv and targets.csv into `out`.
pub fn synth(_out: &Path, _opts: &SynthOptions, _progress: &dyn Progress) -> Result<SynthSummary, SynthError> {
    Err(SynthError::NotImplemented)
}
