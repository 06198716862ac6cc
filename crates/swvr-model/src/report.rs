//! `report.md`: the Table A2 layout (odds ratio when significant at 95%,
//! "n.s." otherwise) with the published value beside each cell, the
//! demographic terms beneath, and every estimate in full per country.

use std::fmt::Write as _;

use crate::{ModelOutput, ModelSpec, TermRow};

/// The published Table A2 (`questionnaire/published_table_a2.toml`), parsed in `swvr-core`.
pub use swvr_core::published::TableA2 as Published;

/// Table A2 cell: the odds ratio (2 decimals) when significant, "n.s." when
/// not, "–" when not estimated.
pub fn a2_cell(row: &TermRow) -> String {
    match (row.significant, row.odds_ratio) {
        (Some(true), Some(or)) => format!("{or:.2}"),
        (Some(false), _) => "n.s.".into(),
        _ => "–".into(),
    }
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

fn p_text(p: Option<f64>) -> String {
    match p {
        None => "–".into(),
        Some(p) if p < 0.0001 => "<0.0001".into(),
        Some(p) => format!("{p:.4}"),
    }
}

/// The whole report.
pub fn markdown(out: &ModelOutput, spec: &ModelSpec, published: &Published) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Odds ratios of planning to volunteer ({}), Table A2 layout\n",
        out.outcome
    );
    let _ = writeln!(
        s,
        "Weighted logistic regression per country (method `{}`), design-based \
         (stratified sandwich) standard errors, t-based tests on n − H − k + 1 df. \
         Outcome {} codes {:?} vs {:?}; complete cases only.\n",
        out.method.as_str(),
        spec.outcome.item,
        spec.outcome.yes,
        spec.outcome.no
    );
    let _ = writeln!(
        s,
        "Each cell: the odds ratio when significant at 95% (p < 0.05), \"n.s.\" otherwise; \
         in brackets the published Table A2 value (SWVR 2022, Appendix E).\n"
    );
    let preds = &out.predictors;
    let _ = write!(s, "| country | wave | n |");
    for p in preds {
        let _ = write!(s, " {p} |");
    }
    let _ = writeln!(s, " note |");
    let _ = writeln!(s, "|---|---|---|{}---|", "---|".repeat(preds.len()));
    for g in &out.groups {
        let _ = write!(s, "| {} | {} | {} |", g.country, g.wave, g.fit.n);
        for p in preds {
            let mine = g.rows.iter().find(|r| &r.term == p).map_or_else(|| "–".into(), a2_cell);
            match published.cell(&g.country, g.wave, p) {
                Some(pubd) => {
                    let _ = write!(s, " {mine} [{pubd}] |");
                }
                None => {
                    let _ = write!(s, " {mine} |");
                }
            }
        }
        let _ = writeln!(s, " {} |", g.fit.note.as_deref().unwrap_or(""));
    }
    // Demographic (control) terms beneath: one row per term, one column per country.
    let controls: Vec<&String> = out.terms.iter().skip(1).filter(|t| !preds.contains(t)).collect();
    if !controls.is_empty() && !out.groups.is_empty() {
        let _ = writeln!(s, "\n## Demographic terms (odds ratio when significant, else n.s.)\n");
        let _ = write!(s, "| term |");
        for g in &out.groups {
            let _ = write!(s, " {} {} |", g.country, g.wave);
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "|---|{}", "---|".repeat(out.groups.len()));
        for t in controls {
            let _ = write!(s, "| {t} |");
            for g in &out.groups {
                let cell = g.rows.iter().find(|r| &r.term == t).map_or_else(|| "–".into(), a2_cell);
                let _ = write!(s, " {cell} |");
            }
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(s, "\n## All estimates\n");
    for g in &out.groups {
        let _ = writeln!(
            s,
            "### {} {} (n = {}, df = {}, {} iterations{})\n",
            g.country,
            g.wave,
            g.fit.n,
            g.fit.df,
            g.fit.iterations,
            if g.fit.converged { "" } else { ", not converged" }
        );
        if let Some(note) = &g.fit.note {
            let _ = writeln!(s, "Note: {note}\n");
        }
        let _ = writeln!(s, "| term | estimate | se | odds ratio | 95% CI | p |");
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for r in &g.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} – {} | {} |",
                r.term,
                num(r.estimate, 4),
                num(r.se, 4),
                num(r.odds_ratio, 2),
                num(r.ci_low, 2),
                num(r.ci_high, 2),
                p_text(r.p_value)
            );
        }
        let _ = writeln!(s);
    }
    s
}
