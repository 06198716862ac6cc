//! `swvr fieldwork`: AAPOR response rates from call outcomes, and interview
//! quality checks, between ingest and weighting.
//!
//! Reads `OUT/ingest/respondents.arrow` and, when present, `DATA/calls.csv`
//! (one row per sampled number with its AAPOR final disposition) and writes
//! under `OUT/fieldwork/`:
//! - `response_rates.arrow`: RR1–RR6, COOP1–COOP4, REF1–REF3, CON1–CON3,
//!   the counts I, P, R, NC, O, UH, UO, NE and `e`, per country, wave and
//!   frame (`L`, `M`, and `all` combined) — [`rates`], [`calls`];
//! - `reconciliation.csv` (interviews against accepted respondents) and
//!   `calls_rejects.csv` (rows of calls.csv that cannot be used);
//! - `quality.arrow`: per respondent, the exact maximum percent match with
//!   the closest other interview of the country-wave ([`matching`]), its
//!   p-value under independent answering ([`null`]), exact duplicates,
//!   speeders and straight-lining — [`quality`];
//! - `interviewers.arrow`: per interviewer, counts and the tail probability
//!   of their count of high matches;
//! - `summary.json`: flag counts, the match rule and what was skipped.
//!
//! Options come from the `[fieldwork]` table of the scheme file
//! ([`Options`]). Flags never drop rows by themselves; with
//! `exclude = [...]` the summary lists the interviews to remove
//! ([`FieldworkSummary::exclusions`]) and the caller removes them from the
//! ingest outputs so that ingest's counts still reconcile.
//!
//! ```no_run
//! use swvr_core::{groups::Selection, progress::NoProgress, questionnaire::Questionnaire};
//! use swvr_fieldwork::{Options, fieldwork};
//! let q = Questionnaire::default_2021();
//! let s = fieldwork("bundle".as_ref(), "out".as_ref(), &q, &Options::default(), &Selection::default(), &NoProgress)?;
//! println!("{} interviews flagged", s.flags.iter().map(|f| f.flagged).sum::<u64>());
//! # Ok::<(), swvr_fieldwork::FieldworkError>(())
//! ```

pub mod calls;
pub mod matching;
pub mod null;
pub mod options;
pub mod output;
pub mod quality;
pub mod rates;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{Int32Array, RecordBatch, StringArray};
use serde::Serialize;
use swvr_core::groups::Selection;
use swvr_core::io::{IoError, column, for_each_batch};
use swvr_core::progress::{Progress, Unit};
use swvr_core::questionnaire::Questionnaire;

pub use calls::{Mismatch, RateRow};
pub use options::{EMethod, Flag, MatchRule, OnMismatch, Options};
pub use quality::GroupFlags;
pub use quality::GroupQuality;

/// Errors of the fieldwork stage.
#[derive(Debug, thiserror::Error)]
pub enum FieldworkError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// File.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A file-level problem (missing column, empty file).
    #[error("{}: line {line}: {message}", file.display())]
    File {
        /// File.
        file: PathBuf,
        /// Physical line (header = 1).
        line: u64,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A bad `[fieldwork]` table.
    #[error("{file}: line {line}: {message}")]
    Scheme {
        /// Scheme file.
        file: String,
        /// Line of the key.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A column with more distinct values than percent match can code.
    #[error(
        "{}: column `{column}` has more than 254 distinct values in {country} {wave}: expected coded answers",
        file.display()
    )]
    TooManyCodes {
        /// File.
        file: PathBuf,
        /// Column.
        column: String,
        /// Country.
        country: String,
        /// Wave.
        wave: i32,
    },
    /// Mismatches between calls.csv and respondents with `reconciliation = "error"`.
    #[error(
        "{}: {count} interviews do not reconcile with the accepted respondents (first: {first}); listed in {}",
        calls.display(),
        listed.display()
    )]
    Reconciliation {
        /// calls.csv.
        calls: PathBuf,
        /// reconciliation.csv.
        listed: PathBuf,
        /// Number of mismatches.
        count: usize,
        /// The first mismatch.
        first: String,
    },
    /// Output or Arrow input failure.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// What the fieldwork stage computes (`swvr run --fieldwork`; docs/fieldwork.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Response rates (when calls.csv is present) and the interview-quality checks.
    #[default]
    Full,
    /// Response rates and reconciliation from calls.csv only: no quality checks
    /// (no quality.arrow, no interviewers.arrow, no exclusions).
    Rates,
    /// No fieldwork stage at all (no `fieldwork/` folder).
    Off,
}

impl Mode {
    /// The name on the command line and in manifest.json.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Rates => "rates",
            Mode::Off => "off",
        }
    }
}

/// An interview to remove before weighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Respondent id.
    pub respondent_id: String,
    /// Reasons (`fieldwork_duplicate:of=BOL-000012`, …).
    pub reasons: Vec<String>,
}

/// What the stage found, for the terminal summary and the caller.
#[derive(Debug, Clone, Default)]
pub struct FieldworkSummary {
    /// Whether calls.csv was present.
    pub has_calls: bool,
    /// Rows of calls.csv read (inside the selection).
    pub calls_read: u64,
    /// Rows of calls.csv rejected.
    pub calls_rejected: u64,
    /// Response rates (also in response_rates.arrow).
    pub rates: Vec<RateRow>,
    /// Reconciliation mismatches.
    pub mismatches: usize,
    /// Flag counts per country-wave.
    pub flags: Vec<GroupFlags>,
    /// The match rule (`auto(p<=0.01)`, `fixed(>=0.85)`).
    pub rule: String,
    /// Role columns of the questionnaire absent from the data.
    pub missing_roles: Vec<(String, String)>,
    /// Interviews to remove before weighting, in respondents.arrow order.
    pub exclusions: Vec<Exclusion>,
    /// Whether the interview-quality checks ran ([`Mode::Full`]).
    pub quality_checked: bool,
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    /// Present only when the quality checks did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    quality_checks: Option<&'a str>,
    match_rule: &'a str,
    tail_probability: f64,
    interviewer_screen: f64,
    speeder_fraction: f64,
    exclude: Vec<&'static str>,
    missing_roles: BTreeMap<&'a str, &'a str>,
    calls: Option<CallsJson>,
    country_waves: Vec<FlagsJson<'a>>,
}

#[derive(Serialize)]
struct CallsJson {
    rows_read: u64,
    rows_rejected: u64,
    reconciliation_mismatches: usize,
}

#[derive(Serialize)]
struct FlagsJson<'a> {
    country: &'a str,
    wave: i32,
    n: u64,
    duplicates: u64,
    high_match: u64,
    speeders: u64,
    straightliners: u64,
    flagged: u64,
    excluded: u64,
    interviewer_clusters: u64,
}

/// Runs the stage: reads `out/ingest/respondents.arrow` and `data/calls.csv`
/// (when present), writes `out/fieldwork/` ([`Mode::Full`]).
pub fn fieldwork(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    opts: &Options,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<FieldworkSummary, FieldworkError> {
    fieldwork_mode(data, out, q, opts, sel, progress, Mode::Full)
}

/// [`fieldwork`] computing what `mode` asks for: with [`Mode::Rates`] only
/// the response rates and reconciliation (quality.arrow and
/// interviewers.arrow are not written; summary.json says so); with
/// [`Mode::Off`] nothing (no file is written).
pub fn fieldwork_mode(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    opts: &Options,
    sel: &Selection,
    progress: &dyn Progress,
    mode: Mode,
) -> Result<FieldworkSummary, FieldworkError> {
    if mode == Mode::Off {
        return Ok(FieldworkSummary {
            rule: opts.match_threshold.label(opts.tail_probability),
            ..FieldworkSummary::default()
        });
    }
    let dir = out.join("fieldwork");
    let resp_path = out.join("ingest").join("respondents.arrow");
    let mut summary = FieldworkSummary {
        rule: opts.match_threshold.label(opts.tail_probability),
        ..FieldworkSummary::default()
    };

    // Call outcomes.
    let calls_path = data.join("calls.csv");
    let mut mismatches = Vec::new();
    if calls_path.is_file() {
        progress.start("fieldwork: response rates", None, Unit::Rows);
        let calls = calls::read_calls(&calls_path, sel, opts)?;
        let mut reconciliation = calls::Reconciliation::new(&calls);
        for_each_batch(
            &resp_path,
            Some(&["country", "wave", "respondent_id"]),
            |batch: RecordBatch| -> Result<(), FieldworkError> {
                let countries = column::<StringArray>(&batch, "country", &resp_path)?;
                let waves = column::<Int32Array>(&batch, "wave", &resp_path)?;
                let ids = column::<StringArray>(&batch, "respondent_id", &resp_path)?;
                for r in 0..batch.num_rows() {
                    let (c, w) = (countries.value(r), waves.value(r));
                    if sel.contains(c, w) {
                        reconciliation.respondent(c, w, ids.value(r));
                    }
                }
                Ok(())
            },
        )?;
        summary.rates = calls::rate_rows(&calls, opts);
        mismatches = reconciliation.finish();
        output::write_rates(&dir.join("response_rates.arrow"), &summary.rates)?;
        output::write_reconciliation(&dir.join("reconciliation.csv"), &mismatches)?;
        output::write_call_rejects(&dir.join("calls_rejects.csv"), &calls.rejects)?;
        summary.has_calls = true;
        summary.calls_read = calls.rows_read;
        summary.calls_rejected = calls.rejects.len() as u64;
        summary.mismatches = mismatches.len();
        progress.advance(calls.rows_read);
        progress.finish();
        if opts.reconciliation == OnMismatch::Error
            && let Some(m) = mismatches.first()
        {
            return Err(FieldworkError::Reconciliation {
                calls: calls_path,
                listed: dir.join("reconciliation.csv"),
                count: mismatches.len(),
                first: format!("{} {} {} {}: {}", m.country, m.wave, m.respondent_id, m.issue, m.detail),
            });
        }
    }

    // Interview quality, one country-wave at a time: checked, written, dropped.
    if mode == Mode::Full {
        let q_path = dir.join("quality.arrow");
        let batteries: Vec<String> = q.batteries().iter().map(|b| b.name.clone()).collect();
        let mut writer = output::QualityWriter::create(&q_path, &batteries, &summary.rule)?;
        let mut interviewers = Vec::new();
        let mut excl: Vec<(u32, Exclusion)> = Vec::new();
        let meta = quality::check_file(&resp_path, q, opts, sel, progress, |g| {
            writer.write(&g)?;
            for (i, r) in g.rows.iter().enumerate().filter(|(_, r)| !r.exclusion.is_empty()) {
                excl.push((
                    r.row,
                    Exclusion {
                        country: g.country.clone(),
                        wave: g.wave,
                        respondent_id: g.ids.value(i).to_string(),
                        reasons: r.exclusion.clone(),
                    },
                ));
            }
            interviewers.extend(g.interviewers);
            summary.flags.push(g.flags);
            Ok(())
        })?;
        writer.finish()?;
        output::write_interviewers(&dir.join("interviewers.arrow"), &interviewers)?;
        excl.sort_by_key(|(r, _)| *r);
        summary.exclusions = excl.into_iter().map(|(_, e)| e).collect();
        summary.missing_roles = meta.missing_roles;
        summary.quality_checked = true;
    }

    let json = SummaryJson {
        quality_checks: (!summary.quality_checked).then_some("not run (swvr run --fieldwork rates)"),
        match_rule: &summary.rule,
        tail_probability: opts.tail_probability,
        interviewer_screen: opts.interviewer_screen,
        speeder_fraction: opts.speeder_fraction,
        exclude: opts.exclude.iter().map(|f| f.name()).collect(),
        missing_roles: summary
            .missing_roles
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect(),
        calls: summary.has_calls.then_some(CallsJson {
            rows_read: summary.calls_read,
            rows_rejected: summary.calls_rejected,
            reconciliation_mismatches: mismatches.len(),
        }),
        country_waves: summary
            .flags
            .iter()
            .map(|f| FlagsJson {
                country: &f.country,
                wave: f.wave,
                n: f.n,
                duplicates: f.duplicates,
                high_match: f.high_match,
                speeders: f.speeders,
                straightliners: f.straightliners,
                flagged: f.flagged,
                excluded: f.excluded,
                interviewer_clusters: f.interviewer_clusters,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&json).map_err(|e| IoError::Io {
        path: dir.join("summary.json"),
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    output::write_text(&dir.join("summary.json"), &text)?;
    Ok(summary)
}
