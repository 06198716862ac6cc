//! The fieldwork stage as the CLI runs it (`swvr fieldwork` and inside
//! `swvr run`, between ingest and weight): options from the scheme file's
//! `[fieldwork]` table, the stage, then the removal of excluded interviews
//! from the ingest outputs, and the terminal summary.

use std::path::Path;

use anyhow::Result;
use swvr_core::groups::Selection;
use swvr_core::progress::Progress;
use swvr_core::questionnaire::Questionnaire;
use swvr_fieldwork::{FieldworkSummary, Mode, Options};

/// `[fieldwork]` of `--scheme`, else of `DATA/scheme.toml` when present, else defaults.
pub(crate) fn options(scheme: Option<&Path>, data: &Path) -> Result<Options> {
    let local = data.join("scheme.toml");
    Ok(match scheme {
        Some(p) => Options::from_path(p)?,
        None if local.is_file() => Options::from_path(&local)?,
        None => Options::default(),
    })
}

/// Refuses a `swvr run --fieldwork` mode that cannot do what the bundle and
/// scheme ask, before any work: `rates` without `DATA/calls.csv`, and
/// `rates` or `off` with a scheme whose `[fieldwork] exclude` needs the
/// quality checks (skipping them would silently keep interviews the scheme
/// removes).
pub(crate) fn check_mode(mode: Mode, opts: &Options, scheme: Option<&Path>, data: &Path) -> Result<()> {
    if mode != Mode::Full && !opts.exclude.is_empty() {
        let file = match scheme {
            Some(p) => p.to_path_buf(),
            None => data.join("scheme.toml"),
        };
        let flags: Vec<String> = opts.exclude.iter().map(|f| format!("\"{}\"", f.name())).collect();
        anyhow::bail!(
            "{}: [fieldwork] exclude = [{}] removes flagged interviews before weighting, which needs the interview-quality checks; `--fieldwork {}` skips them: run with `--fieldwork full`, or remove `exclude` from the scheme",
            file.display(),
            flags.join(", "),
            mode.name()
        );
    }
    let calls = data.join("calls.csv");
    if mode == Mode::Rates && !calls.is_file() {
        anyhow::bail!(
            "{}: not found; `--fieldwork rates` computes the response rates from it (use `--fieldwork off` to skip the fieldwork stage)",
            calls.display()
        );
    }
    Ok(())
}

/// Runs the stage on `out` (which holds ingest/) and removes excluded
/// interviews from ingest's outputs. Returns the summary and the number removed.
pub(crate) fn stage(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    opts: &Options,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<(FieldworkSummary, u64)> {
    stage_mode(data, out, q, opts, sel, progress, Mode::Full)
}

/// [`stage`] computing what `mode` asks for (nothing for [`Mode::Off`]).
pub(crate) fn stage_mode(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    opts: &Options,
    sel: &Selection,
    progress: &dyn Progress,
    mode: Mode,
) -> Result<(FieldworkSummary, u64)> {
    if mode == Mode::Off {
        return Ok((FieldworkSummary::default(), 0));
    }
    // Exclusions change ingest's outputs: a second pass would check the reduced data.
    let validation = out.join("ingest").join("validation.json");
    if std::fs::read_to_string(&validation).is_ok_and(|t| t.contains("\"fieldwork_")) {
        anyhow::bail!(
            "{}: fieldwork exclusions were already applied to these ingest outputs; run `swvr ingest` again first",
            validation.display()
        );
    }
    let s = swvr_fieldwork::fieldwork_mode(data, out, q, opts, sel, progress, mode)?;
    let removals: Vec<swvr_ingest::Removal> = s
        .exclusions
        .iter()
        .map(|e| swvr_ingest::Removal {
            country: e.country.clone(),
            wave: e.wave,
            respondent_id: e.respondent_id.clone(),
            reasons: e.reasons.clone(),
        })
        .collect();
    let removed = swvr_ingest::exclude(data, out, q, &removals)?;
    Ok((s, removed))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{:.1}%", 100.0 * x))
}

/// Response rates per frame and flag counts: the lines of the run summary.
pub(crate) fn summary(s: &FieldworkSummary, removed: u64, mode: Mode) -> Vec<String> {
    let mut lines = Vec::new();
    if mode == Mode::Off {
        lines.push("swvr: fieldwork: not run (--fieldwork off): no response rates, no interview-quality checks".into());
        return lines;
    }
    if s.has_calls {
        lines.push(format!(
            "swvr: fieldwork: {} numbers in calls.csv, {} rejected, {} reconciliation mismatches",
            s.calls_read, s.calls_rejected, s.mismatches
        ));
        let mut keys: Vec<(&str, i32, &str)> = s
            .rates
            .iter()
            .map(|r| (r.country.as_str(), r.wave, r.frame.as_str()))
            .collect();
        keys.dedup();
        for (c, w, f) in keys {
            let get = |m: &str| {
                s.rates
                    .iter()
                    .find(|r| r.country == c && r.wave == w && r.frame == f && r.measure == m)
                    .and_then(|r| r.value)
            };
            lines.push(format!(
                "  {c} {w} {f:>3}: RR3 {} RR1 {} COOP1 {} REF2 {} CON2 {} (e = {})",
                pct(get("RR3")),
                pct(get("RR1")),
                pct(get("COOP1")),
                pct(get("REF2")),
                pct(get("CON2")),
                get("e").map_or("-".into(), |e| format!("{e:.3}"))
            ));
        }
    }
    if !s.quality_checked {
        lines.push("swvr: fieldwork quality: not run (--fieldwork rates)".into());
        return lines;
    }
    lines.push(format!(
        "swvr: fieldwork quality (match rule {}): flagged / duplicates / high match / speeders / straight-lined / interviewer clusters",
        s.rule
    ));
    for f in &s.flags {
        lines.push(format!(
            "  {} {}: {} of {} / {} / {} / {} / {} / {}",
            f.country,
            f.wave,
            f.flagged,
            f.n,
            f.duplicates,
            f.high_match,
            f.speeders,
            f.straightliners,
            f.interviewer_clusters
        ));
    }
    for (role, col) in &s.missing_roles {
        lines.push(format!("  ({role} column `{col}` not in the data: its checks skipped)"));
    }
    if removed > 0 {
        lines.push(format!(
            "swvr: fieldwork: {removed} interviews excluded before weighting (in ingest/rejects.csv)"
        ));
    }
    lines
}
