//! What a command says on stderr when it succeeds (unless `--quiet`): the
//! same lines whether a stage runs alone or inside `swvr run`.

use std::path::Path;

use swvr_ingest::IngestSummary;

/// `1 country-wave`, `2 country-waves`.
fn country_waves(n: impl Into<u64>) -> String {
    match n.into() {
        1 => "1 country-wave".into(),
        n => format!("{n} country-waves"),
    }
}

/// Reject reasons named in summaries and errors.
const TOP_REASONS: usize = 3;
/// Rejected lines quoted when nothing was accepted.
const FIRST_LINES: usize = 3;

/// `a (n), b (m)`: the most frequent reject reasons.
fn reasons(s: &IngestSummary) -> String {
    s.top_reasons(TOP_REASONS)
        .iter()
        .map(|(r, n)| format!("{r} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ingest part: counts, and when rows were rejected the most frequent
/// reasons and where rejects.csv is.
pub fn ingest(s: &IngestSummary, rejects: &Path) -> Vec<String> {
    let mut lines = vec![format!(
        "swvr: ingest: {} rows read, {} accepted, {} rejected",
        s.rows_read, s.rows_accepted, s.rows_rejected
    )];
    if s.rows_outside_selection > 0 {
        lines.push(format!(
            "  {} rows outside the selection skipped",
            s.rows_outside_selection
        ));
    }
    for (country, (acc, rej)) in &s.by_country {
        lines.push(format!("  {country}: {acc} accepted, {rej} rejected"));
    }
    if s.rows_rejected > 0 {
        lines.push(format!("  most frequent reject reasons: {}", reasons(s)));
        lines.push(format!("  rejected rows and their reasons: {}", rejects.display()));
    }
    lines
}

/// The weight part: one line per (country, wave).
pub fn weight(d: &[swvr_weight::Diagnostics], dir: &Path) -> Vec<String> {
    let mut lines = vec![format!(
        "swvr: weight: {} weighted (diagnostics: {})",
        country_waves(d.len() as u64),
        dir.join("diagnostics.json").display()
    )];
    lines.extend(d.iter().map(|d| format!("  {d}")));
    lines
}

/// The tabulate part.
pub fn tabulate(s: &swvr_tabulate::TabulateSummary, dir: &Path) -> Vec<String> {
    let (within, compared) = s.published_within;
    let mut line = format!(
        "swvr: tabulate: {} estimates for {} ({})",
        s.estimates,
        country_waves(s.groups),
        dir.join("report.md").display()
    );
    if compared > 0 {
        line.push_str(&format!(
            "; {within} of {compared} published figures within two margins of error"
        ));
    }
    vec![line]
}

/// The model part.
pub fn model(s: &swvr_model::ModelSummary, dir: &Path) -> Vec<String> {
    let mut line = format!(
        "swvr: model: {} rows for {} ({})",
        s.rows,
        country_waves(s.groups),
        dir.join("report.md").display()
    );
    if s.noted > 0 {
        line.push_str(&format!("; {} with a note (see the `note` column)", s.noted));
    }
    vec![line]
}

/// Prints `lines` on stderr unless quiet.
pub fn print(quiet: bool, lines: &[String]) {
    if !quiet {
        for l in lines {
            eprintln!("{l}");
        }
    }
}

/// The error when no row was accepted: how many, the most frequent reasons,
/// the first rejected lines, and where the ingest outputs are (`kept`).
pub fn nothing_accepted(file: &str, s: &IngestSummary, kept: &Path) -> anyhow::Error {
    let rejects = kept.join("rejects.csv");
    let first = first_rejects(&rejects);
    anyhow::anyhow!(
        "{file}: no respondent rows accepted: {} read, {} rejected; most frequent reasons: {}; first rejected: {}; \
         the ingest outputs of this run are in {} (rejects.csv, validation.json)",
        s.rows_read,
        s.rows_rejected,
        reasons(s),
        first,
        kept.display()
    )
}

/// `line 2 [reasons] "raw…"` for the first rejects of rejects.csv.
fn first_rejects(path: &Path) -> String {
    let Ok(mut rdr) = csv::Reader::from_path(path) else {
        return "(rejects.csv unreadable)".into();
    };
    let mut out = Vec::new();
    for rec in rdr.records().take(FIRST_LINES).flatten() {
        let raw: String = rec.get(3).unwrap_or("").chars().take(60).collect();
        let more = if rec.get(3).is_some_and(|r| r.chars().count() > 60) {
            "…"
        } else {
            ""
        };
        out.push(format!(
            "line {} [{}] \"{raw}{more}\"",
            rec.get(0).unwrap_or("?"),
            rec.get(2).unwrap_or("")
        ));
    }
    out.join(", ")
}
