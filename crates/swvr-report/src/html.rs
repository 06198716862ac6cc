//! `report/index.html`: one self-contained page (inline CSS and SVG, one
//! inline script that only opens collapsed sections for printing).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;
use swvr_core::published::{ReportDef, TableA2};

use crate::load::{Estimate, ExtraTable, Run, Term, cell_text};
use crate::svg::{self, Bar, MarginRow, Point, esc};

/// Estimates on fewer respondents than this are marked (†) as small bases.
pub const SMALL_BASE: i64 = 50;

/// Content-Security-Policy of the page: nothing may be fetched.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const CSS: &str = r#"
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1a1a1a;background:#fff;margin:0}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 14px}
h1{font-size:1.5em;margin:.8em 0 .3em}
h2{font-size:1.3em;margin:1.6em 0 .4em;border-bottom:2px solid #1a1a1a;padding-bottom:.15em}
h3{font-size:1.1em;margin:1.3em 0 .4em}
h4{font-size:1em;margin:1em 0 .3em}
p,li,dd,dt,summary,figcaption{overflow-wrap:anywhere}
nav ul{list-style:none;padding:0;margin:.4em 0;display:flex;flex-wrap:wrap;gap:.3em .8em}
nav a{color:#0050a0}
a{color:#0050a0}
figure{margin:.6em 0 1.2em}
figure>svg{width:100%;height:auto;display:block;max-width:760px}
.legend svg{width:12px;height:12px;display:inline-block;vertical-align:middle;margin-right:.3em}
figcaption{font-size:.9em;color:#333;margin:.2em 0}
.tablewrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px;margin:.3em 0}
th,td{padding:2px 7px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
thead th{border-bottom:2px solid #1a1a1a}
tr.outside td{background:#fde8d8}
details{margin:.3em 0}
details.item>summary{cursor:pointer;padding:.25em 0}
details.item{border-top:1px solid #ddd}
summary b{margin-right:.4em}
.note{font-size:.9em;color:#333}
.legend{display:flex;flex-wrap:wrap;gap:.2em 1em;font-size:.85em;margin:.2em 0;padding:0;list-style:none}
.sw{display:inline-block;width:1em;height:.8em;vertical-align:middle;margin-right:.3em;border:1px solid #555}
dl.kv{display:grid;grid-template-columns:minmax(8em,max-content) 1fr;gap:.1em 1em;font-size:.95em}
dl.kv dt{font-weight:600}
dl.kv dd{margin:0}
.grid{stroke:#ddd;stroke-width:1}
.zero{stroke:#1a1a1a;stroke-width:1}
.axis{stroke:#1a1a1a;stroke-width:1}
.whisker,.ci{stroke:#1a1a1a;stroke-width:1.3;fill:none}
.published{fill:#fff;stroke:#000;stroke-width:1.6}
.target{stroke:#000;stroke-width:2.5}
text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1a1a1a}
.tick{font-size:11px;fill:#444}
.glabel{font-size:11px}
.vlabel{font-size:10px}
@media (max-width:600px){body{font-size:14px}dl.kv{grid-template-columns:1fr}}
@media print{nav{display:none}details.item{break-inside:avoid}}
"#;

/// The page style, shared with the comparison page.
pub fn css() -> &'static str {
    CSS
}

/// Opens every `<details>` before printing, so a PDF holds every section.
const PRINT_SCRIPT: &str = "addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true})});";

/// Percent with one decimal, as every estimate is printed.
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", 100.0 * x)
    } else {
        "–".into()
    }
}

fn num(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "–".into(),
    }
}

fn p_text(p: Option<f64>) -> String {
    match p {
        None => "–".into(),
        Some(p) if p < 0.0001 => "&lt;0.0001".into(),
        Some(p) => format!("{p:.4}"),
    }
}

/// The key of an estimate row, as written in `data-key`.
pub fn key(e: &Estimate) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}",
        e.country, e.wave, e.item, e.domain, e.level, e.category
    )
}

fn anchor(country: &str, wave: i32) -> String {
    format!("cw-{country}-{wave}")
}

/// Is this category a non-answer (DK, refused) in the questionnaire, and
/// its colour index among the substantive ones.
struct Categories {
    series: HashMap<(String, String), Option<usize>>,
}

impl Categories {
    fn new(run: &Run) -> Self {
        let q = &run.questionnaire;
        let mut series = HashMap::new();
        for item in q.items() {
            let set = q.answer_set(item);
            let mut i = 0;
            for c in &set.codes {
                let s = if c.missing {
                    None
                } else {
                    i += 1;
                    Some(i - 1)
                };
                series.insert((item.id.clone(), c.category.clone()), s);
            }
        }
        Self { series }
    }

    fn of(&self, item: &str, category: &str, fallback: usize) -> Option<usize> {
        match self.series.get(&(item.to_string(), category.to_string())) {
            Some(s) => *s,
            None if matches!(category, "dk" | "refused") => None,
            None => Some(fallback),
        }
    }
}

/// Items in questionnaire order, then derived indicators, then anything else
/// found in the tables; with their text.
fn item_order(run: &Run) -> Vec<(String, String)> {
    let q = &run.questionnaire;
    let mut out: Vec<(String, String)> = q.items().iter().map(|i| (i.id.clone(), i.text.clone())).collect();
    for d in q.derived() {
        let text = match d {
            swvr_core::questionnaire::Derived::AnyYes { text, .. }
            | swvr_core::questionnaire::Derived::Net { text, .. } => text.clone(),
        };
        out.push((d.id().to_string(), text));
    }
    for e in &run.tables {
        if !out.iter().any(|(id, _)| id == &e.item) {
            out.push((e.item.clone(), String::new()));
        }
    }
    out
}

/// Counts shown in the summary of [`render`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Agreement {
    /// Published figures compared.
    pub compared: u64,
    /// Of them, outside the computed 95% interval (widened by the published rounding).
    pub outside: u64,
}

/// Renders the whole page.
pub fn render(run: &Run, def: &ReportDef, a2: &TableA2) -> (String, Agreement) {
    let groups = run.groups();
    let cats = Categories::new(run);
    let mut index: HashMap<(&str, i32), Vec<&Estimate>> = HashMap::new();
    for e in &run.tables {
        index.entry((e.country.as_str(), e.wave)).or_default().push(e);
    }
    let mut h = String::with_capacity(400 * run.tables.len() + 100_000);
    let title = "Survey report";
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <title>{} — {}</title><style>{CSS}</style></head><body>",
        esc(title),
        esc(run.questionnaire.name())
    );
    h.push_str(&svg::defs());
    let _ = write!(
        h,
        "<header><h1>{}</h1><p class=\"note\">{} country-wave{}. Every estimate is a weighted share in percent \
         with its 95% interval (logit; Korn–Graubard at 0 or 100%; Wald for net figures, in points). \
         † marks an estimate on fewer than {SMALL_BASE} respondents (a small base). \
         Open an item to see its chart and table.</p><nav aria-label=\"Country-waves\"><ul>\
         <li><a href=\"#views\">The report's views</a></li><li><a href=\"#model-a2\">Model (Table A2)</a></li>\
         <li><a href=\"#fieldwork\">Fieldwork</a></li>",
        esc(run.questionnaire.name()),
        groups.len(),
        if groups.len() == 1 { "" } else { "s" },
    );
    for (c, w) in &groups {
        let _ = write!(h, "<li><a href=\"#{}\">{c} {w}</a></li>", anchor(c, *w));
    }
    h.push_str("</ul></nav></header><main>");

    let agreement = views(&mut h, def, &index, &groups);
    model_overview(&mut h, run, a2, &groups);
    overall_fieldwork(&mut h, run);
    let order = item_order(run);
    for (c, w) in &groups {
        let est = index.get(&(c.as_str(), *w)).map_or(&[][..], Vec::as_slice);
        let _ = write!(h, "<section id=\"{}\"><h2>{c} {w}</h2>", anchor(c, *w));
        fieldwork(&mut h, run, c, *w);
        weighting(&mut h, run, c, *w);
        items(&mut h, &order, &cats, est, c, *w);
        model(&mut h, run, a2, c, *w);
        h.push_str("</section>");
    }
    let _ = writeln!(
        h,
        "</main><footer><p class=\"note\">Written by swvr {} from the outputs in this run folder \
         (tabulate/tables.arrow, weight/, model/, ingest/). Self-contained: no script, font or image is fetched.</p>\
         </footer><script>{PRINT_SCRIPT}</script></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    (h, agreement)
}

fn table_open(h: &mut String, headers: &[(&str, bool)]) {
    h.push_str("<div class=\"tablewrap\"><table><thead><tr>");
    for (t, numeric) in headers {
        let _ = write!(h, "<th{}>{}</th>", if *numeric { " class=\"num\"" } else { "" }, t);
    }
    h.push_str("</tr></thead><tbody>");
}

fn table_close(h: &mut String) {
    h.push_str("</tbody></table></div>");
}

fn legend(h: &mut String, entries: &[(String, Option<usize>)], published: bool) {
    h.push_str("<ul class=\"legend\">");
    for (label, s) in entries {
        let colour = s.map_or(svg::GREY, |i| svg::PALETTE[i % svg::PALETTE.len()]);
        let _ = write!(
            h,
            "<li><span class=\"sw\" style=\"background:{colour}\"></span>{}</li>",
            esc(label)
        );
    }
    if published {
        h.push_str(
            "<li><svg width=\"12\" height=\"12\" viewBox=\"0 0 12 12\" aria-hidden=\"true\">\
             <path d=\"M6 1l4 5l-4 5l-4 -5z\" class=\"published\"/></svg> published figure</li>",
        );
    }
    h.push_str("<li>— 95% interval</li></ul>");
}

fn views(
    h: &mut String,
    def: &ReportDef,
    index: &HashMap<(&str, i32), Vec<&Estimate>>,
    groups: &[(String, i32)],
) -> Agreement {
    let mut agreement = Agreement::default();
    let covered = groups
        .iter()
        .any(|(c, w)| def.views.iter().any(|v| def.published(v, c, *w).is_some()));
    if covered {
        let _ = write!(
            h,
            "<section id=\"views\"><h2>The report's views</h2><p class=\"note\">{}. The report's views, computed \
             from this run, with the published figure (diamond) where the report published one for that \
             country and wave ({}). A published figure is <em>outside</em> when it lies outside the computed \
             95% interval widened by 0.5 points on each side (the report prints whole numbers).</p>",
            esc(&def.title),
            def.wave
        );
    } else {
        h.push_str(
            "<section id=\"views\"><h2>The report's views</h2><p class=\"note\">The report's views, computed from this run.</p>",
        );
    }
    for v in &def.views {
        let mut bars = Vec::new();
        let mut rows = String::new();
        let mut outside: Vec<String> = Vec::new();
        let mut compared = 0u64;
        let mut any_published = false;
        for (c, w) in groups {
            let est = index.get(&(c.as_str(), *w)).map_or(&[][..], Vec::as_slice);
            let published = def.published(v, c, *w);
            for (i, col) in v.columns.iter().enumerate() {
                let Some(e) = est.iter().find(|e| {
                    e.item == col.item && e.domain == col.domain && e.level == col.level && e.category == col.category
                }) else {
                    continue;
                };
                let p = published.and_then(|p| p.get(i)).copied();
                any_published |= p.is_some();
                let interval = e.ci_low.zip(e.ci_high).map(|(l, u)| (100.0 * l, 100.0 * u));
                let is_out = match (p, interval) {
                    (Some(p), Some((l, u))) => p < l - 0.5 || p > u + 0.5,
                    _ => false,
                };
                if p.is_some() {
                    compared += 1;
                }
                if is_out {
                    outside.push(format!(
                        "{c} {w} {}: published {} vs computed {} ({}–{})",
                        col.label,
                        fmt_pub(p.unwrap_or(f64::NAN)),
                        pct(e.estimate),
                        pct(e.ci_low.unwrap_or(f64::NAN)),
                        pct(e.ci_high.unwrap_or(f64::NAN)),
                    ));
                }
                bars.push(Bar {
                    group: format!("{c} {w}"),
                    label: col.label.clone(),
                    series: Some(i),
                    value: 100.0 * e.estimate,
                    interval,
                    published: p,
                    flagged: e.n < SMALL_BASE,
                });
                let _ = write!(
                    rows,
                    "<tr data-key=\"{}\"{}><td>{c} {w}</td><td>{}</td><td class=\"num c-n\">{}</td>\
                     <td class=\"num c-est\">{}{}</td><td class=\"num c-ci\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(&key(e)),
                    if is_out { " class=\"outside\"" } else { "" },
                    esc(&col.label),
                    e.n,
                    pct(e.estimate),
                    if e.n < SMALL_BASE { " †" } else { "" },
                    ci_text(e),
                    p.map_or_else(String::new, fmt_pub),
                    match p {
                        Some(_) if is_out => "outside",
                        Some(_) => "within",
                        None => "",
                    }
                );
            }
        }
        agreement.compared += compared;
        agreement.outside += outside.len() as u64;
        let _ = write!(h, "<h3 id=\"view-{}\">{}</h3>", esc(&v.id), esc(&v.title));
        if !v.note.is_empty() {
            let _ = write!(h, "<p class=\"note\">{}</p>", esc(&v.note));
        }
        let entries: Vec<(String, Option<usize>)> = v
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.label.clone(), Some(i)))
            .collect();
        let unit = if v.columns.iter().any(|c| c.category == "net") {
            ""
        } else {
            "%"
        };
        let _ = write!(h, "<figure class=\"chart\" data-chart=\"view-{}\">", esc(&v.id));
        legend(h, &entries, any_published);
        h.push_str(&svg::bar_chart(&v.title, &bars, unit));
        let _ = write!(h, "<details><summary>Table of this chart</summary>");
        table_open(
            h,
            &[
                ("country-wave", false),
                ("column", false),
                ("n", true),
                ("computed", true),
                ("95% interval", true),
                ("published", true),
                ("", false),
            ],
        );
        h.push_str(&rows);
        table_close(h);
        h.push_str("</details></figure>");
        if compared > 0 {
            if outside.is_empty() {
                let _ = write!(
                    h,
                    "<p class=\"note\">All {compared} published figures of this view lie within the computed intervals.</p>"
                );
            } else {
                let _ = write!(
                    h,
                    "<p class=\"note outside-note\">{} of {compared} published figures lie outside the computed interval: {}.</p>",
                    outside.len(),
                    esc(&outside.join("; "))
                );
            }
        }
    }
    if agreement.compared > 0 {
        let _ = write!(
            h,
            "<p class=\"note\" id=\"agreement\">Altogether {} of {} published figures lie outside the computed intervals.</p>",
            agreement.outside, agreement.compared
        );
    }
    h.push_str("</section>");
    agreement
}

fn fmt_pub(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p}")
    }
}

fn ci_text(e: &Estimate) -> String {
    match (e.ci_low, e.ci_high) {
        (Some(l), Some(u)) => format!("{} – {}", pct(l), pct(u)),
        _ => "–".into(),
    }
}

fn a2_cell(t: &Term) -> String {
    match (t.significant, t.odds_ratio) {
        (Some(true), Some(or)) => format!("{or:.2}"),
        (Some(false), _) => "n.s.".into(),
        _ => "–".into(),
    }
}

fn model_overview(h: &mut String, run: &Run, a2: &TableA2, groups: &[(String, i32)]) {
    h.push_str("<section id=\"model-a2\"><h2>Model: Table A2 layout</h2>");
    if run.terms.is_empty() {
        h.push_str("<p class=\"note\">No model/odds_ratios.arrow in this run.</p></section>");
        return;
    }
    let outcome = run.terms.first().map(|t| t.outcome.clone()).unwrap_or_default();
    let mut predictors: Vec<String> = Vec::new();
    for cells in a2.cells.values() {
        for t in cells.keys() {
            if !predictors.contains(t) {
                predictors.push(t.clone());
            }
        }
    }
    predictors.retain(|p| run.terms.iter().any(|t| &t.term == p));
    let covered = groups
        .iter()
        .any(|(c, w)| predictors.iter().any(|p| a2.cell(c, *w, p).is_some()));
    let _ = write!(
        h,
        "<p class=\"note\">Odds ratios of {} = yes (weighted logistic regression per country, design-based \
         standard errors): the odds ratio when significant at 5%, “n.s.” otherwise{}. Forest plots are in each \
         country's section.</p>",
        esc(&outcome),
        if covered {
            "; in brackets the published Table A2 value (SWVR 2022, Appendix E)"
        } else {
            ""
        }
    );
    let mut headers: Vec<(&str, bool)> = vec![("country-wave", false), ("n", true)];
    headers.extend(predictors.iter().map(|p| (p.as_str(), true)));
    headers.push(("note", false));
    table_open(h, &headers);
    let (mut same, mut compared) = (0u64, 0u64);
    for (c, w) in groups {
        let terms: Vec<&Term> = run.terms.iter().filter(|t| &t.country == c && t.wave == *w).collect();
        if terms.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<tr><td><a href=\"#{}-model\">{c} {w}</a></td><td class=\"num\">{}</td>",
            anchor(c, *w),
            terms[0].n
        );
        for p in &predictors {
            let mine = terms
                .iter()
                .find(|t| &t.term == p)
                .map_or_else(|| "–".into(), |t| a2_cell(t));
            match a2.cell(c, *w, p) {
                Some(pubd) => {
                    compared += 1;
                    same += u64::from((pubd == "n.s.") == (mine == "n.s."));
                    let _ = write!(h, "<td class=\"num\">{mine} [{}]</td>", esc(pubd));
                }
                None => {
                    let _ = write!(h, "<td class=\"num\">{mine}</td>");
                }
            }
        }
        let notes: Vec<&str> = terms.iter().filter_map(|t| t.note.as_deref()).collect();
        let _ = write!(h, "<td>{}</td></tr>", esc(&dedup(notes).join("; ")));
    }
    table_close(h);
    if compared > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">Significance agrees with the published table in {same} of {compared} cells.</p>"
        );
    }
    h.push_str("</section>");
}

fn dedup(v: Vec<&str>) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn overall_fieldwork(h: &mut String, run: &Run) {
    h.push_str("<section id=\"fieldwork\"><h2>Fieldwork</h2>");
    if let Some(v) = &run.validation {
        let g = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let _ = write!(
            h,
            "<p>{} rows read, {} accepted, {} rejected{}.</p>",
            g("rows_read"),
            g("rows_accepted"),
            g("rows_rejected"),
            match g("rows_outside_selection") {
                0 => String::new(),
                n => format!(", {n} outside the selection"),
            }
        );
        if let Some(Value::Object(reasons)) = v.get("reasons") {
            let mut r: Vec<(&String, u64)> = reasons.iter().map(|(k, v)| (k, v.as_u64().unwrap_or(0))).collect();
            r.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            if !r.is_empty() {
                h.push_str("<h3>Top reasons for rejection</h3>");
                table_open(h, &[("reason", false), ("rows", true)]);
                for (k, n) in r.iter().take(10) {
                    let _ = write!(h, "<tr><td>{}</td><td class=\"num\">{n}</td></tr>", esc(k));
                }
                table_close(h);
            }
        }
    } else {
        h.push_str("<p class=\"note\">No ingest/validation.json in this run.</p>");
    }
    for t in &run.fieldwork {
        if t.batch.column_by_name("country").is_none() {
            extra_table(h, t, None);
        }
    }
    h.push_str("</section>");
}

fn extra_table(h: &mut String, t: &ExtraTable, only: Option<(&str, i32)>) {
    let b = &t.batch;
    let rows: Vec<usize> = (0..b.num_rows())
        .filter(|&r| match only {
            None => true,
            Some((c, w)) => {
                let country_ok = b
                    .column_by_name("country")
                    .is_none_or(|col| cell_text(col, r).as_deref() == Some(c));
                let wave_ok = b
                    .column_by_name("wave")
                    .is_none_or(|col| cell_text(col, r).as_deref() == Some(w.to_string().as_str()));
                country_ok && wave_ok
            }
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = write!(h, "<h4>{}</h4>", esc(&t.name));
    let schema = b.schema();
    let shown: Vec<usize> = (0..b.num_columns())
        .filter(|&i| only.is_none() || !matches!(schema.field(i).name().as_str(), "country" | "wave"))
        .collect();
    let headers: Vec<(String, bool)> = shown
        .iter()
        .map(|&i| (esc(schema.field(i).name()), schema.field(i).data_type().is_numeric()))
        .collect();
    let hdr: Vec<(&str, bool)> = headers.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    table_open(h, &hdr);
    for r in rows.into_iter().take(crate::load::EXTRA_ROWS_SHOWN) {
        h.push_str("<tr>");
        for &i in &shown {
            let numeric = schema.field(i).data_type().is_numeric();
            let _ = write!(
                h,
                "<td{}>{}</td>",
                if numeric { " class=\"num\"" } else { "" },
                esc(&cell_text(b.column(i), r).unwrap_or_else(|| "–".into()))
            );
        }
        h.push_str("</tr>");
    }
    table_close(h);
}

fn fieldwork(h: &mut String, run: &Run, c: &str, w: i32) {
    let _ = write!(h, "<h3 id=\"{}-fieldwork\">Fieldwork</h3>", anchor(c, w));
    if let Some(v) = run
        .validation
        .as_ref()
        .and_then(|v| v.get("by_country"))
        .and_then(|b| b.get(c))
    {
        let g = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let _ = write!(
            h,
            "<p>{} rows read, {} accepted, {} rejected (all waves of {c}).</p>",
            g("rows_read"),
            g("rows_accepted"),
            g("rows_rejected")
        );
    }
    if let Some(wg) = run.weights.iter().find(|g| g.country == c && g.wave == w) {
        h.push_str("<div class=\"tablewrap\"><table><thead><tr><th>frame</th><th class=\"num\">respondents</th></tr></thead><tbody>");
        for (f, n) in &wg.frames {
            let name = match f.as_str() {
                "L" => "L (landline)",
                "M" => "M (mobile)",
                other => other,
            };
            let _ = write!(h, "<tr><td>{}</td><td class=\"num\">{n}</td></tr>", esc(name));
        }
        h.push_str("</tbody></table></div>");
        table_open(h, &[("stratum", false), ("respondents", true)]);
        for (s, n) in &wg.strata {
            let _ = write!(h, "<tr><td>{}</td><td class=\"num\">{n}</td></tr>", esc(s));
        }
        table_close(h);
    }
    for t in &run.fieldwork {
        if t.batch.column_by_name("country").is_some() {
            extra_table(h, t, Some((c, w)));
        }
    }
}

/// A diagnostics value as text: numbers to 4 significant decimals, objects as `k v, …`.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f != 0.0 && f.abs() < 1e-3 => format!("{f:.2e}"),
            (None, Some(f)) => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k} {}", value_text(v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn weighting(h: &mut String, run: &Run, c: &str, w: i32) {
    let _ = write!(h, "<h3 id=\"{}-weighting\">Weighting</h3>", anchor(c, w));
    if let Some(d) = run.diagnostics_of(c, w) {
        let g = |k: &str| d.get(k).and_then(Value::as_f64);
        let _ = write!(
            h,
            "<p><strong>Kish deff {}, effective n {}, margin of error ±{} points</strong> (95%, at 50%).</p>",
            num(g("kish_deff"), 3),
            num(g("effective_n"), 1),
            num(g("moe95").map(|m| 100.0 * m), 1)
        );
        h.push_str("<dl class=\"kv\">");
        if let Value::Object(o) = d {
            for (k, v) in o {
                if matches!(k.as_str(), "country" | "wave" | "margins") {
                    continue;
                }
                let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&value_text(v)));
            }
        }
        h.push_str("</dl>");
    } else {
        h.push_str("<p class=\"note\">No diagnostics for this country-wave in weight/diagnostics.json.</p>");
    }
    if let Some(wg) = run.weights.iter().find(|g| g.country == c && g.wave == w) {
        histogram(h, c, w, "base", "Base weights", &wg.base, svg::PALETTE[1]);
        let title = "Final weights (normalised to mean 1)";
        histogram(h, c, w, "final", title, &wg.weight, svg::PALETTE[0]);
    }
    if let Some(d) = run.diagnostics_of(c, w) {
        margins(h, c, w, d);
    }
}

fn histogram(h: &mut String, c: &str, w: i32, id: &str, title: &str, hist: &crate::load::Histogram, colour: &str) {
    let full = format!("{title}, {c} {w}");
    let _ = write!(
        h,
        "<figure class=\"chart\" data-chart=\"{}-hist-{id}\"><figcaption>{} (respondents per bin, {} bins from {} to {})</figcaption>",
        anchor(c, w),
        esc(&full),
        hist.counts.len(),
        svg::fmt_edge(hist.lo),
        svg::fmt_edge(hist.hi)
    );
    h.push_str(&svg::histogram(&full, hist.lo, hist.hi, &hist.counts, colour));
    h.push_str("<details><summary>Table of this chart</summary>");
    table_open(h, &[("from", true), ("to", true), ("respondents", true)]);
    for (i, n) in hist.counts.iter().enumerate() {
        let (a, b) = hist.edges(i);
        let _ = write!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{n}</td></tr>",
            svg::fmt_edge(a),
            svg::fmt_edge(b)
        );
    }
    table_close(h);
    h.push_str("</details></figure>");
}

/// The raking margins of a diagnostics object (`margins`: variable,
/// categories with `n`, `target`, `share`), as chart rows.
fn margins(h: &mut String, c: &str, w: i32, d: &Value) {
    let Some(Value::Array(vars)) = d.get("margins") else {
        return;
    };
    let n_total = d.get("n").and_then(Value::as_f64).unwrap_or(f64::NAN);
    let mut rows: Vec<(String, String, Option<f64>, MarginRow)> = Vec::new();
    for v in vars {
        let var = v.get("variable").and_then(Value::as_str).unwrap_or("?");
        for cat in v.get("categories").and_then(Value::as_array).into_iter().flatten() {
            let category = match cat.get("category") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "?".into(),
            };
            let n = cat.get("n").and_then(Value::as_f64);
            let share = cat.get("share").and_then(Value::as_f64).unwrap_or(f64::NAN);
            rows.push((
                var.to_string(),
                category.clone(),
                n,
                MarginRow {
                    label: format!("{var} = {category}"),
                    sample: n.map_or(f64::NAN, |n| 100.0 * n / n_total),
                    target: cat.get("target").and_then(Value::as_f64).map(|t| 100.0 * t),
                    weighted: 100.0 * share,
                },
            ));
        }
    }
    if rows.is_empty() {
        return;
    }
    let title = format!("Raking margins, {c} {w}: sample, target and weighted share (%)");
    let _ = write!(
        h,
        "<figure class=\"chart\" data-chart=\"{}-margins\"><figcaption>{}</figcaption>\
         <ul class=\"legend\"><li><svg width=\"12\" height=\"12\" viewBox=\"0 0 12 12\" aria-hidden=\"true\"><circle cx=\"6\" cy=\"6\" r=\"4\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/></svg> sample (unweighted)</li>\
         <li><svg width=\"12\" height=\"12\" viewBox=\"0 0 12 12\" aria-hidden=\"true\"><line x1=\"6\" x2=\"6\" y1=\"0\" y2=\"12\" class=\"target\"/></svg> target</li>\
         <li><svg width=\"12\" height=\"12\" viewBox=\"0 0 12 12\" aria-hidden=\"true\"><path d=\"M6 2l4 7h-8z\" fill=\"{}\"/></svg> weighted (final weights)</li></ul>",
        anchor(c, w),
        esc(&title),
        svg::PALETTE[1],
        svg::PALETTE[0]
    );
    let chart_rows: Vec<MarginRow> = rows.iter().map(|r| r.3.clone()).collect();
    h.push_str(&svg::margins(&title, &chart_rows));
    h.push_str("<details><summary>Table of this chart</summary>");
    table_open(
        h,
        &[
            ("margin", false),
            ("category", false),
            ("n", true),
            ("sample %", true),
            ("target %", true),
            ("weighted %", true),
        ],
    );
    for (var, cat, n, m) in &rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td></tr>",
            esc(var),
            esc(cat),
            n.map_or_else(|| "–".into(), |n| format!("{n:.0}")),
            m.sample,
            m.target.map_or_else(|| "–".into(), |t| format!("{t:.1}")),
            m.weighted
        );
    }
    table_close(h);
    h.push_str("</details></figure>");
}

fn items(h: &mut String, order: &[(String, String)], cats: &Categories, est: &[&Estimate], c: &str, w: i32) {
    let _ = write!(
        h,
        "<h3 id=\"{}-items\">Items and indicators</h3><p class=\"note\">Each item by every domain: \
         bars are weighted shares, whiskers the 95% interval; the table beneath gives n (respondents asked \
         in the domain level), the share, the interval and the design effect. Grey bars are DK and refused.</p>",
        anchor(c, w)
    );
    let mut by_item: BTreeMap<&str, Vec<&Estimate>> = BTreeMap::new();
    for e in est {
        by_item.entry(e.item.as_str()).or_default().push(e);
    }
    for (id, text) in order {
        let Some(rows) = by_item.get(id.as_str()) else {
            continue;
        };
        let net = rows.iter().all(|e| e.category == "net");
        let unit = if net { "" } else { "%" };
        let mut legend_entries: Vec<(String, Option<usize>)> = Vec::new();
        let mut bars = Vec::with_capacity(rows.len());
        for e in rows {
            let fallback = legend_entries.iter().filter(|(_, s)| s.is_some()).count();
            let series = cats.of(id, &e.category, fallback);
            if !legend_entries.iter().any(|(l, _)| l == &e.category) {
                legend_entries.push((e.category.clone(), series));
            }
            bars.push(Bar {
                group: if e.domain == "total" {
                    "total".into()
                } else {
                    format!("{}: {}", e.domain, e.level)
                },
                label: e.category.clone(),
                series,
                value: 100.0 * e.estimate,
                interval: e.ci_low.zip(e.ci_high).map(|(l, u)| (100.0 * l, 100.0 * u)),
                published: None,
                flagged: e.n < SMALL_BASE,
            });
        }
        let small = rows.iter().filter(|e| e.n < SMALL_BASE).count();
        let _ = write!(
            h,
            "<details class=\"item\" id=\"{}-{}\"><summary><b>{}</b>{}</summary>",
            anchor(c, w),
            esc(id),
            esc(id),
            esc(text)
        );
        if small > 0 {
            let _ = write!(
                h,
                "<p class=\"note\">† {small} estimate{} on fewer than {SMALL_BASE} respondents.</p>",
                if small == 1 { "" } else { "s" }
            );
        }
        let _ = write!(
            h,
            "<figure class=\"chart\" data-chart=\"{}-{}\">",
            anchor(c, w),
            esc(id)
        );
        legend(h, &legend_entries, false);
        h.push_str(&svg::bar_chart(&format!("{id} {text}, {c} {w}"), &bars, unit));
        table_open(
            h,
            &[
                ("domain", false),
                ("level", false),
                ("category", false),
                ("n", true),
                (if net { "points" } else { "%" }, true),
                ("95% interval", true),
                ("deff", true),
            ],
        );
        for e in rows {
            let _ = write!(
                h,
                "<tr data-key=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"num c-n\">{}</td>\
                 <td class=\"num c-est\">{}{}</td><td class=\"num c-ci\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&key(e)),
                esc(&e.domain),
                esc(&e.level),
                esc(&e.category),
                e.n,
                pct(e.estimate),
                if e.n < SMALL_BASE { " †" } else { "" },
                ci_text(e),
                num(e.deff, 2)
            );
        }
        table_close(h);
        h.push_str("</figure></details>");
    }
}

fn model(h: &mut String, run: &Run, a2: &TableA2, c: &str, w: i32) {
    let _ = write!(h, "<h3 id=\"{}-model\">Model</h3>", anchor(c, w));
    let terms: Vec<&Term> = run.terms.iter().filter(|t| t.country == c && t.wave == w).collect();
    if terms.is_empty() {
        h.push_str("<p class=\"note\">No model estimates for this country-wave.</p>");
        return;
    }
    let shown: Vec<&&Term> = terms
        .iter()
        .filter(|t| t.term != "(Intercept)" && t.odds_ratio.is_some() && t.ci_low.is_some() && t.ci_high.is_some())
        .collect();
    let missing: Vec<&&Term> = terms
        .iter()
        .filter(|t| t.term != "(Intercept)" && !(t.odds_ratio.is_some() && t.ci_low.is_some() && t.ci_high.is_some()))
        .collect();
    let notes = dedup(terms.iter().filter_map(|t| t.note.as_deref()).collect());
    let covered = terms.iter().any(|t| a2.cell(c, w, &t.term).is_some());
    let _ = write!(
        h,
        "<p class=\"note\">Odds ratios of {} = yes with 95% intervals (log scale; filled: significant at 5%), \
         n = {} complete cases.{}</p>",
        esc(&terms[0].outcome),
        terms[0].n,
        if covered {
            " Diamonds: the published Table A2 odds ratios (the report prints only significant ones)."
        } else {
            ""
        }
    );
    if !notes.is_empty() {
        let _ = write!(
            h,
            "<p class=\"note separation\"><strong>Notes:</strong> {}</p>",
            esc(&notes.join("; "))
        );
    }
    let points: Vec<Point> = shown
        .iter()
        .map(|t| Point {
            label: t.term.clone(),
            value: t.odds_ratio.unwrap_or(f64::NAN),
            interval: (t.ci_low.unwrap_or(f64::NAN), t.ci_high.unwrap_or(f64::NAN)),
            published: a2.cell(c, w, &t.term).and_then(|s| s.parse().ok()),
            filled: t.significant == Some(true),
        })
        .collect();
    let title = format!("Odds ratios, {c} {w}");
    let _ = write!(h, "<figure class=\"chart\" data-chart=\"{}-forest\">", anchor(c, w));
    h.push_str(&svg::forest(&title, &points));
    h.push_str("<details><summary>Table of this chart</summary>");
    let mut headers = vec![
        ("term", false),
        ("odds ratio", true),
        ("95% interval", true),
        ("p", true),
    ];
    if covered {
        headers.push(("published (A2)", true));
    }
    table_open(h, &headers);
    for t in &shown {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} – {}</td><td class=\"num\">{}</td>",
            esc(&t.term),
            num(t.odds_ratio, 2),
            num(t.ci_low, 2),
            num(t.ci_high, 2),
            p_text(t.p_value),
        );
        if covered {
            let _ = write!(
                h,
                "<td class=\"num\">{}</td>",
                a2.cell(c, w, &t.term).map_or_else(String::new, esc)
            );
        }
        h.push_str("</tr>");
    }
    table_close(h);
    h.push_str("</details></figure>");
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|t| match &t.note {
                Some(n) => format!("{} ({n})", t.term),
                None => t.term.clone(),
            })
            .collect();
        let _ = write!(h, "<p class=\"note\">Not estimated: {}.</p>", esc(&list.join("; ")));
    }
}
