//! design.csv and targets.csv of a wave bundle (contract section 2), read
//! with their physical line numbers so errors can point at them.

use std::collections::BTreeMap;
use std::path::Path;

use swvr_core::questionnaire::{DemographicKind, Questionnaire};

use crate::WeightError;
use crate::plan::Plan;

/// One design row: frame size N and sample size n.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameDesign {
    /// Numbers in the frame (N).
    pub frame_size: f64,
    /// Numbers drawn (n).
    pub sample_size: f64,
    /// Physical line in design.csv.
    pub line: u64,
}

impl FrameDesign {
    /// Sampling fraction n/N.
    pub fn fraction(&self) -> f64 {
        self.sample_size / self.frame_size
    }
}

/// The design of one (country, wave): its landline and mobile frames.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Design {
    /// `L` frame, if the country has one.
    pub landline: Option<FrameDesign>,
    /// `M` frame, if the country has one.
    pub mobile: Option<FrameDesign>,
}

/// One target row.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Category code, band label or interaction cell (`1*15-29`), as written.
    pub category: String,
    /// Population share.
    pub share: f64,
    /// Physical line in targets.csv.
    pub line: u64,
}

/// Targets of one (country, wave): per variable (margin name), its categories.
pub type GroupTargets = BTreeMap<String, Vec<Target>>;

/// Key of a (country, wave).
pub type Key = (String, i32);

fn csv_err(file: &Path, line: u64, column: &str, value: &str, expected: &str) -> WeightError {
    WeightError::Csv {
        file: file.display().to_string(),
        line,
        column: column.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Reads design.csv (validated by [`swvr_core::bundle::read_design`]): one design
/// per (country, wave).
pub fn read_design(path: &Path) -> Result<BTreeMap<Key, Design>, WeightError> {
    let mut out: BTreeMap<Key, Design> = BTreeMap::new();
    for row in swvr_core::bundle::read_design(path)?.rows {
        let fd = FrameDesign {
            frame_size: row.frame_size as f64,
            sample_size: row.sample_size as f64,
            line: row.line,
        };
        let d = out.entry((row.country, row.wave)).or_default();
        // The reader accepts only `L` and `M`, each once per (country, wave).
        if row.frame == "L" {
            d.landline = Some(fd);
        } else {
            d.mobile = Some(fd);
        }
    }
    Ok(out)
}

/// Reads targets.csv (validated by [`swvr_core::bundle::read_targets`]: shares in
/// [0, 1], categories not repeated, each (country, wave, variable) summing to
/// 1 within 1e-6). Every `variable` must be a variable the scheme could rake
/// on with questionnaire `q` (a coded demographic, a banded numeric one, or
/// an interaction `a*b` of those); rows of variables the scheme does not
/// rake on are read and left unused.
pub(crate) fn read_targets(
    path: &Path,
    plan: &Plan,
    q: &Questionnaire,
) -> Result<BTreeMap<Key, GroupTargets>, WeightError> {
    let mut known: Vec<&str> = q
        .demographics()
        .iter()
        .filter(|d| matches!(d.kind, DemographicKind::Coded { .. }))
        .map(|d| d.name.as_str())
        .collect();
    known.extend(plan.bands.iter().map(|b| b.variable.as_str()));
    let mut out: BTreeMap<Key, GroupTargets> = BTreeMap::new();
    for row in swvr_core::bundle::read_targets(path)?.rows {
        if !row.variable.split('*').all(|c| known.contains(&c.trim())) {
            return Err(csv_err(
                path,
                row.line,
                "variable",
                &row.variable,
                &format!(
                    "a raking variable of the questionnaire ({}) or an interaction of them such as `{}`",
                    known.join(", "),
                    known.iter().take(2).copied().collect::<Vec<_>>().join("*")
                ),
            ));
        }
        let variable = row.variable.split('*').map(str::trim).collect::<Vec<_>>().join("*");
        let target = Target {
            category: row.category,
            share: row.share,
            line: row.line,
        };
        out.entry((row.country, row.wave))
            .or_default()
            .entry(variable)
            .or_default()
            .push(target);
    }
    Ok(out)
}
