//! report.md: the report's published views laid out from the computed
//! estimates, each beside its published figure, with the margin of error.
//!
//! The views and published numbers are data (`questionnaire/report_2021.toml`),
//! not Rust. The margin of error is `1.96·se` in percentage points; a computed
//! figure is "within" when `|computed − published| ≤ 2·MoE`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use swvr_core::published::{Column, ReportDef, View};

use crate::{Estimate, TabulateError};

/// The report definition embedded at build time.
pub const DEFAULT_2021_TOML: &str = swvr_core::published::REPORT_2021_TOML;

impl From<swvr_core::published::PublishedError> for TabulateError {
    fn from(e: swvr_core::published::PublishedError) -> Self {
        TabulateError::Report {
            path: e.path,
            message: e.message,
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// Renders the report; returns the Markdown and (within two MoE, compared).
pub fn render(def: &ReportDef, est: &[Estimate]) -> (String, (u64, u64)) {
    let mut index: BTreeMap<(&str, i32, &str, &str, &str, &str), &Estimate> = BTreeMap::new();
    for e in est {
        index.insert(
            (&e.country, e.wave, &e.item, &e.domain, &e.domain_level, &e.category),
            e,
        );
    }
    let groups: Vec<(&str, i32)> = {
        let mut g: Vec<(&str, i32)> = est.iter().map(|e| (e.country.as_str(), e.wave)).collect();
        g.dedup();
        g
    };
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", def.title);
    let _ = writeln!(
        md,
        "Computed from OUT/tabulate/tables.arrow. Each cell: computed % ± margin of error \
         (1.96·se, percentage points), then the published figure in brackets; `*` marks a \
         computed figure more than two margins of error from the published one.\n"
    );
    let (mut within, mut compared, mut within_one) = (0u64, 0u64, 0u64);
    let mut outside: Vec<String> = Vec::new();
    for v in &def.views {
        let _ = writeln!(md, "## {}\n", v.title);
        if !v.note.is_empty() {
            let _ = writeln!(md, "{}\n", v.note);
        }
        let _ = write!(md, "| country | wave |");
        for c in &v.columns {
            let _ = write!(md, " {} |", c.label);
        }
        let _ = write!(md, "\n|---|---|");
        for _ in &v.columns {
            let _ = write!(md, "---:|");
        }
        md.push('\n');
        for &(country, wave) in &groups {
            let _ = write!(md, "| {country} | {wave} |");
            let published = (wave == def.wave).then(|| v.published.get(country)).flatten();
            for (i, c) in v.columns.iter().enumerate() {
                let key = (
                    country,
                    wave,
                    c.item.as_str(),
                    c.domain.as_str(),
                    c.level.as_str(),
                    c.category.as_str(),
                );
                let Some(e) = index.get(&key) else {
                    let _ = write!(md, " — |");
                    continue;
                };
                let moe = 1.96 * e.se;
                let _ = write!(md, " {} ± {}", pct(e.estimate), pct(moe));
                if let Some(p) = published.and_then(|p| p.get(i)) {
                    compared += 1;
                    let gap = (100.0 * e.estimate - p).abs();
                    let ok = gap <= 2.0 * 100.0 * moe;
                    within_one += u64::from(gap <= 100.0 * moe);
                    if ok {
                        within += 1;
                    } else {
                        outside.push(format!("{} {country} {}", v.id, c.label));
                    }
                    let _ = write!(md, " ({p}){}", if ok { "" } else { " *" });
                }
                md.push_str(" |");
            }
            md.push('\n');
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "## Agreement\n\n{within} of {compared} published figures lie within two margins of error of the \
         computed ones ({within_one} within one)."
    );
    if !outside.is_empty() {
        let _ = writeln!(md, "\nOutside: {}.", outside.join("; "));
    }
    (md, (within, compared))
}
