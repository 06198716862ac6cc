//! `swvr compare`: two run folders side by side.
//!
//! Every estimate of `tabulate/tables.arrow` is joined on (country, wave,
//! item, domain, level, category). The shift is `B − A` in percentage
//! points; it is also expressed in standard errors of the difference:
//!
//! - **independent samples** (two waves, two bundles): `se_diff = √(se_A² + se_B²)`;
//! - **the same sample** (`ingest/respondents.arrow` byte-identical, or the
//!   manifests give the respondents file — `respondents.csv`, `.sav`,
//!   `.zsav` or `.dta` — the same SHA-256): the two estimates
//!   share their respondents, so the independent formula would overstate the
//!   noise, and the exact SE of the difference needs the respondent-level
//!   linearisation under both weightings, which the outputs do not hold.
//!   The shift is then given in standard errors of run A (`se_diff = se_A`):
//!   "the estimate moved by this many of its own standard errors".
//!
//! Rows are written largest absolute shift first (ties by key); rows present
//! in one run only come last.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use crate::ReportError;
use crate::html::pct;
use crate::load::{Estimate, LoadOptions, Run, Term};
use crate::svg::{self, Bar, esc};

/// Options of [`compare`].
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Rows in the terminal summary's list of largest shifts.
    pub top: usize,
}

/// One estimate in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    /// Key: country, wave, item, domain, level, category.
    pub key: (String, i32, String, String, String, String),
    /// Run A's estimate.
    pub a: Option<Estimate>,
    /// Run B's estimate.
    pub b: Option<Estimate>,
    /// `100·(B − A)`, points.
    pub points: Option<f64>,
    /// SE of the difference, points (see the module docs for the basis).
    pub se_diff: Option<f64>,
    /// `points / se_diff`.
    pub in_se: Option<f64>,
}

/// Weight diagnostics of one (country, wave) in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightPair {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Diagnostics object of A.
    pub a: Option<Value>,
    /// Of B.
    pub b: Option<Value>,
}

/// A model term whose significance differs between the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip {
    /// Run A's row.
    pub a: Term,
    /// Run B's row.
    pub b: Term,
}

/// The result of [`compare`].
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Run A folder.
    pub a: PathBuf,
    /// Run B folder.
    pub b: PathBuf,
    /// True when both runs used the same respondents.
    pub same_sample: bool,
    /// Every estimate, largest shift first.
    pub shifts: Vec<Shift>,
    /// Weight diagnostics side by side.
    pub weights: Vec<WeightPair>,
    /// Terms whose significance flips.
    pub flips: Vec<Flip>,
    /// Inputs and options that differ: (what, A, B).
    pub differences: Vec<(String, String, String)>,
    /// Files written.
    pub written: Vec<PathBuf>,
}

impl Comparison {
    /// The largest absolute shift in points (0 when nothing is joined).
    pub fn max_shift(&self) -> f64 {
        self.shifts
            .iter()
            .filter_map(|s| s.points)
            .map(f64::abs)
            .fold(0.0, f64::max)
    }

    /// Estimates in both runs, in A only, in B only.
    pub fn counts(&self) -> (usize, usize, usize) {
        let both = self.shifts.iter().filter(|s| s.a.is_some() && s.b.is_some()).count();
        let a = self.shifts.iter().filter(|s| s.b.is_none()).count();
        let b = self.shifts.iter().filter(|s| s.a.is_none()).count();
        (both, a, b)
    }

    /// The one-screen summary for the terminal (about 25 lines).
    pub fn summary(&self, top: usize) -> String {
        let mut s = String::new();
        let (both, only_a, only_b) = self.counts();
        let _ = writeln!(s, "swvr compare: A = {}, B = {}", self.a.display(), self.b.display());
        let _ = writeln!(
            s,
            "  {}",
            if self.same_sample {
                "same sample: shifts in standard errors of A"
            } else {
                "independent samples: shifts in standard errors of the difference"
            }
        );
        let over1 = self
            .shifts
            .iter()
            .filter(|x| x.points.is_some_and(|p| p.abs() > 1.0))
            .count();
        let over2se = self
            .shifts
            .iter()
            .filter(|x| x.in_se.is_some_and(|z| z.abs() > 2.0))
            .count();
        let _ = writeln!(
            s,
            "estimates: {both} in both, {only_a} only in A, {only_b} only in B; {over1} move more than 1 point, {over2se} more than 2 SE; largest {:.1} points",
            self.max_shift()
        );
        let _ = writeln!(s, "largest shifts (B − A):");
        for x in self.shifts.iter().filter(|x| x.points.is_some()).take(top) {
            let (c, w, item, d, l, cat) = &x.key;
            let (Some(a), Some(b)) = (&x.a, &x.b) else { continue };
            let _ = writeln!(
                s,
                "  {c} {w} {item} {} {cat}: {} → {} ({:+.1} points, {} SE)",
                if d == "total" {
                    "total".to_string()
                } else {
                    format!("{d}={l}")
                },
                pct(a.estimate),
                pct(b.estimate),
                x.points.unwrap_or(0.0),
                x.in_se.map_or_else(|| "–".into(), |z| format!("{z:+.1}"))
            );
        }
        let _ = writeln!(s, "weights (Kish deff, effective n, MOE95):");
        for wp in self.weights.iter().take(10) {
            let g = |v: &Option<Value>, k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(Value::as_f64);
            let _ = writeln!(
                s,
                "  {} {}: deff {} → {}, eff. n {} → {}, MOE ±{} → ±{}",
                wp.country,
                wp.wave,
                opt(g(&wp.a, "kish_deff"), 3),
                opt(g(&wp.b, "kish_deff"), 3),
                opt(g(&wp.a, "effective_n"), 0),
                opt(g(&wp.b, "effective_n"), 0),
                opt(g(&wp.a, "moe95").map(|m| 100.0 * m), 1),
                opt(g(&wp.b, "moe95").map(|m| 100.0 * m), 1)
            );
        }
        if self.weights.len() > 10 {
            let _ = writeln!(s, "  … {} more in comparison.html", self.weights.len() - 10);
        }
        if self.flips.is_empty() {
            let _ = writeln!(s, "model: no term changes significance");
        } else {
            let list: Vec<String> = self
                .flips
                .iter()
                .map(|f| {
                    format!(
                        "{} {} {} ({})",
                        f.a.country,
                        f.a.wave,
                        f.a.term,
                        if f.b.significant == Some(true) {
                            "now significant"
                        } else {
                            "now n.s."
                        }
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "model: {} term(s) flip significance: {}",
                self.flips.len(),
                list.join(", ")
            );
        }
        if self.differences.is_empty() {
            let _ = writeln!(s, "inputs and options: no difference recorded");
        } else {
            let names: Vec<&str> = self.differences.iter().map(|d| d.0.as_str()).collect();
            let _ = writeln!(
                s,
                "inputs and options that differ ({}): {}",
                names.len(),
                truncate(&names.join(", "), 300)
            );
        }
        for p in &self.written {
            let _ = writeln!(s, "wrote {}", p.display());
        }
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n).collect();
        format!("{t}…")
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.digits$}"))
}

type Key = (String, i32, String, String, String, String);

fn key_of(e: &Estimate) -> Key {
    (
        e.country.clone(),
        e.wave,
        e.item.clone(),
        e.domain.clone(),
        e.level.clone(),
        e.category.clone(),
    )
}

/// Were both runs made from the same respondents?
fn same_sample(a: &Run, b: &Run) -> bool {
    let ra = a.dir.join("ingest").join("respondents.arrow");
    let rb = b.dir.join("ingest").join("respondents.arrow");
    if let (Ok(x), Ok(y)) = (std::fs::metadata(&ra), std::fs::metadata(&rb)) {
        return x.len() == y.len() && same_bytes(&ra, &rb).unwrap_or(false);
    }
    matches!(
        (respondents_sha256(a.manifest.as_ref()), respondents_sha256(b.manifest.as_ref())),
        (Some(x), Some(y)) if x == y
    )
}

/// The bundle's respondents files a manifest may list: `respondents.csv`,
/// or the SPSS / Stata file a bundle may hold instead (docs/bundle.md).
const RESPONDENTS_FILES: [&str; 4] = [
    "respondents.csv",
    "respondents.sav",
    "respondents.zsav",
    "respondents.dta",
];

/// True when `name` (a file name, or a path ending in one) is a
/// respondents file of a bundle, whatever its format.
fn is_respondents_file(name: &str) -> bool {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    RESPONDENTS_FILES.iter().any(|r| file.eq_ignore_ascii_case(r))
}

/// SHA-256 of the respondents file among the manifest's inputs (by its
/// `name`, else the file its `source` or `path` names).
fn respondents_sha256(manifest: Option<&Value>) -> Option<String> {
    manifest?
        .get("inputs")?
        .as_array()?
        .iter()
        .find(|i| {
            ["name", "source", "path"]
                .iter()
                .any(|k| i.get(*k).and_then(Value::as_str).is_some_and(is_respondents_file))
        })?
        .get("sha256")?
        .as_str()
        .map(str::to_string)
}

/// Byte equality of two files, read in 1 MiB chunks.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(fb.read(&mut bb[..1])? == 0);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// Joins the runs in `a` and `b`, writes `dest/comparison.arrow` and
/// `dest/comparison.html`.
pub fn compare(a: &Path, b: &Path, dest: &Path, opts: &CompareOptions) -> Result<Comparison, ReportError> {
    let load = LoadOptions {
        skip_weights: true,
        ..LoadOptions::default()
    };
    let ra = Run::load(a, &load)?;
    let rb = Run::load(b, &load)?;
    let same = same_sample(&ra, &rb);
    let mut joined: BTreeMap<Key, (Option<Estimate>, Option<Estimate>)> = BTreeMap::new();
    for e in &ra.tables {
        joined.entry(key_of(e)).or_default().0 = Some(e.clone());
    }
    for e in &rb.tables {
        joined.entry(key_of(e)).or_default().1 = Some(e.clone());
    }
    let mut shifts: Vec<Shift> = joined
        .into_iter()
        .map(|(key, (ea, eb))| {
            let (points, se_diff) = match (&ea, &eb) {
                (Some(x), Some(y)) => {
                    let d = 100.0 * (y.estimate - x.estimate);
                    let se = if same {
                        100.0 * x.se
                    } else {
                        100.0 * (x.se * x.se + y.se * y.se).sqrt()
                    };
                    (Some(d), Some(se))
                }
                _ => (None, None),
            };
            let in_se = match (points, se_diff) {
                (Some(p), Some(s)) if s > 0.0 => Some(p / s),
                _ => None,
            };
            Shift {
                key,
                a: ea,
                b: eb,
                points,
                se_diff,
                in_se,
            }
        })
        .collect();
    shifts.sort_by(|x, y| {
        let ax = x.points.map(f64::abs);
        let ay = y.points.map(f64::abs);
        match (ax, ay) {
            (Some(p), Some(q)) => q.total_cmp(&p).then_with(|| x.key.cmp(&y.key)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => x.key.cmp(&y.key),
        }
    });

    let mut cw: BTreeSet<(String, i32)> = ra.groups().into_iter().collect();
    cw.extend(rb.groups());
    let weights: Vec<WeightPair> = cw
        .into_iter()
        .map(|(c, w)| WeightPair {
            a: ra.diagnostics_of(&c, w).cloned(),
            b: rb.diagnostics_of(&c, w).cloned(),
            country: c,
            wave: w,
        })
        .collect();

    let tb: HashMap<(&str, i32, &str), &Term> = rb
        .terms
        .iter()
        .map(|t| ((t.country.as_str(), t.wave, t.term.as_str()), t))
        .collect();
    let flips: Vec<Flip> = ra
        .terms
        .iter()
        .filter_map(|t| {
            let u = tb.get(&(t.country.as_str(), t.wave, t.term.as_str()))?;
            (t.significant.is_some() && u.significant.is_some() && t.significant != u.significant).then(|| Flip {
                a: t.clone(),
                b: (*u).clone(),
            })
        })
        .collect();

    let differences = differences(&ra, &rb);
    let mut cmp = Comparison {
        a: a.to_path_buf(),
        b: b.to_path_buf(),
        same_sample: same,
        shifts,
        weights,
        flips,
        differences,
        written: Vec::new(),
    };
    std::fs::create_dir_all(dest).map_err(|e| ReportError::Read {
        path: dest.to_path_buf(),
        message: format!("cannot create folder: {e}"),
    })?;
    let arrow = dest.join("comparison.arrow");
    write_arrow(&arrow, &cmp)?;
    let html = dest.join("comparison.html");
    swvr_core::io::write_atomic(&html, render(&cmp, opts).as_bytes())?;
    cmp.written = vec![arrow, html];
    Ok(cmp)
}

/// Inputs and options that differ: the manifests flattened to `path = value`
/// (arrays of objects keyed by their `name` or `path`; `outputs` left out),
/// and the effective configuration files a run keeps in its stage folders.
fn differences(a: &Run, b: &Run) -> Vec<(String, String, String)> {
    let mut fa = BTreeMap::new();
    let mut fb = BTreeMap::new();
    if let Some(m) = &a.manifest {
        flatten("", m, &mut fa);
    }
    if let Some(m) = &b.manifest {
        flatten("", m, &mut fb);
    }
    for rel in config_files(&a.dir).union(&config_files(&b.dir)) {
        let read = |d: &Path| std::fs::read_to_string(d.join(rel)).ok();
        if let Some(t) = read(&a.dir) {
            toml_lines(rel, &t, &mut fa);
        }
        if let Some(t) = read(&b.dir) {
            toml_lines(rel, &t, &mut fb);
        }
    }
    let keys: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    keys.into_iter()
        .filter(|k| !k.starts_with("outputs") && fa.get(*k) != fb.get(*k))
        .map(|k| {
            (
                k.clone(),
                fa.get(k).cloned().unwrap_or_else(|| "(absent)".into()),
                fb.get(k).cloned().unwrap_or_else(|| "(absent)".into()),
            )
        })
        .collect()
}

/// `*.toml` files in the stage folders of a run (its effective configuration).
fn config_files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for stage in ["ingest", "weight", "tabulate", "model", "fieldwork"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(stage)) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml")
                    && let Some(name) = p.file_name()
                {
                    out.insert(format!("{stage}/{}", name.to_string_lossy()));
                }
            }
        }
    }
    out
}

/// `file: [section] key = value` per non-comment line of a TOML file.
fn toml_lines(file: &str, text: &str, out: &mut BTreeMap<String, String>) {
    let mut section = String::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') {
            let n = seen.entry(t.to_string()).or_default();
            *n += 1;
            section = if *n > 1 { format!("{t}#{n}") } else { t.to_string() };
            continue;
        }
        let (k, v) = t.split_once('=').unwrap_or((t, ""));
        out.insert(format!("{file}: {section} {}", k.trim()), v.trim().to_string());
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        Value::Array(a) if a.iter().all(|x| x.get("name").or_else(|| x.get("path")).is_some()) && !a.is_empty() => {
            for x in a {
                let id = x
                    .get("name")
                    .or_else(|| x.get("path"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                flatten(&format!("{prefix}[{id}]"), x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn write_arrow(path: &Path, cmp: &Comparison) -> Result<(), ReportError> {
    let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
    let schema = swvr_core::io::with_version(Schema::new(vec![
        f("country", DataType::Utf8, false),
        f("wave", DataType::Int32, false),
        f("item", DataType::Utf8, false),
        f("domain", DataType::Utf8, false),
        f("domain_level", DataType::Utf8, false),
        f("category", DataType::Utf8, false),
        f("n_a", DataType::Int64, true),
        f("n_b", DataType::Int64, true),
        f("estimate_a", DataType::Float64, true),
        f("estimate_b", DataType::Float64, true),
        f("se_a", DataType::Float64, true),
        f("se_b", DataType::Float64, true),
        f("shift_points", DataType::Float64, true),
        f("se_diff_points", DataType::Float64, true),
        f("shift_se", DataType::Float64, true),
        f("se_ratio", DataType::Float64, true),
        f("deff_a", DataType::Float64, true),
        f("deff_b", DataType::Float64, true),
        f("deff_ratio", DataType::Float64, true),
        f("se_basis", DataType::Utf8, false),
    ]));
    let s = &cmp.shifts;
    let text = |g: &dyn Fn(&Shift) -> String| -> ArrayRef { Arc::new(StringArray::from_iter_values(s.iter().map(g))) };
    let fl = |g: &dyn Fn(&Shift) -> Option<f64>| -> ArrayRef { Arc::new(s.iter().map(g).collect::<Float64Array>()) };
    let int = |g: &dyn Fn(&Shift) -> Option<i64>| -> ArrayRef { Arc::new(s.iter().map(g).collect::<Int64Array>()) };
    let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) if x > 0.0 => Some(y / x),
        _ => None,
    };
    let basis = if cmp.same_sample {
        "same_sample_se_a"
    } else {
        "independent"
    };
    let cols: Vec<ArrayRef> = vec![
        text(&|x| x.key.0.clone()),
        Arc::new(s.iter().map(|x| x.key.1).collect::<Int32Array>()),
        text(&|x| x.key.2.clone()),
        text(&|x| x.key.3.clone()),
        text(&|x| x.key.4.clone()),
        text(&|x| x.key.5.clone()),
        int(&|x| x.a.as_ref().map(|e| e.n)),
        int(&|x| x.b.as_ref().map(|e| e.n)),
        fl(&|x| x.a.as_ref().map(|e| e.estimate)),
        fl(&|x| x.b.as_ref().map(|e| e.estimate)),
        fl(&|x| x.a.as_ref().map(|e| e.se)),
        fl(&|x| x.b.as_ref().map(|e| e.se)),
        fl(&|x| x.points),
        fl(&|x| x.se_diff),
        fl(&|x| x.in_se),
        fl(&|x| ratio(x.a.as_ref().map(|e| e.se), x.b.as_ref().map(|e| e.se))),
        fl(&|x| x.a.as_ref().and_then(|e| e.deff)),
        fl(&|x| x.b.as_ref().and_then(|e| e.deff)),
        fl(&|x| ratio(x.a.as_ref().and_then(|e| e.deff), x.b.as_ref().and_then(|e| e.deff))),
        text(&|_| basis.to_string()),
    ];
    let schema = Arc::new(schema);
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| ReportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    swvr_core::io::write_arrow(path, &schema, &[batch])?;
    Ok(())
}

fn render(cmp: &Comparison, opts: &CompareOptions) -> String {
    let top = if opts.top == 0 { 30 } else { opts.top };
    let mut h = String::with_capacity(300 * cmp.shifts.len() + 20_000);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
         <title>swvr comparison</title><style>{}</style></head><body>{}<header><h1>Comparison of two runs</h1>\
         <dl class=\"kv\"><dt>A</dt><dd>{}</dd><dt>B</dt><dd>{}</dd><dt>shift in SEs</dt><dd>{}</dd></dl>\
         <nav><ul><li><a href=\"#differ\">Inputs and options</a></li><li><a href=\"#shifts\">Estimates</a></li>\
         <li><a href=\"#weights\">Weights</a></li><li><a href=\"#model\">Model</a></li></ul></nav></header><main>",
        crate::html::CSP,
        crate::html::css(),
        svg::defs(),
        esc(&cmp.a.display().to_string()),
        esc(&cmp.b.display().to_string()),
        if cmp.same_sample {
            "same sample (identical respondents): shift / se of A — the independent-samples SE would overstate the noise"
        } else {
            "independent samples: shift / √(se_A² + se_B²)"
        }
    );
    h.push_str("<section id=\"differ\"><h2>Inputs and options that differ</h2>");
    if cmp.differences.is_empty() {
        h.push_str("<p>No difference recorded in the manifests or the runs' configuration files.</p>");
    } else {
        h.push_str("<div class=\"tablewrap\"><table><thead><tr><th>what</th><th>A</th><th>B</th></tr></thead><tbody>");
        for (k, a, b) in &cmp.differences {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(k), esc(a), esc(b));
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>");

    let (both, only_a, only_b) = cmp.counts();
    let _ = write!(
        h,
        "<section id=\"shifts\"><h2>Estimates</h2><p>{both} estimates in both runs, {only_a} only in A, {only_b} only in B; \
         largest shift {:.1} points.</p>",
        cmp.max_shift()
    );
    let bars: Vec<Bar> = cmp
        .shifts
        .iter()
        .filter(|s| s.points.is_some())
        .take(top)
        .map(|s| {
            let (c, w, item, d, l, cat) = &s.key;
            let p = s.points.unwrap_or(0.0);
            let se = s.se_diff.unwrap_or(0.0);
            Bar {
                group: format!(
                    "{c} {w} {item} {}",
                    if d == "total" {
                        "total".into()
                    } else {
                        format!("{d}={l}")
                    }
                ),
                label: cat.clone(),
                series: Some(usize::from(p < 0.0)),
                value: p,
                interval: Some((p - 1.96 * se, p + 1.96 * se)),
                published: None,
                flagged: false,
            }
        })
        .collect();
    let _ = write!(
        h,
        "<figure class=\"chart\" data-chart=\"shifts\"><figcaption>The {} largest shifts, B − A in points, \
         with ±1.96 SE of the difference</figcaption>",
        bars.len()
    );
    h.push_str(&svg::bar_chart("Largest shifts, B minus A, points", &bars, ""));
    h.push_str("<details><summary>Table of this chart</summary>");
    shift_table(&mut h, cmp.shifts.iter().filter(|s| s.points.is_some()).take(top));
    h.push_str("</details></figure><details><summary>Every estimate (largest shift first)</summary>");
    shift_table(&mut h, cmp.shifts.iter());
    h.push_str("</details></section>");

    h.push_str("<section id=\"weights\"><h2>Weight diagnostics</h2><div class=\"tablewrap\"><table><thead><tr><th>country-wave</th>");
    let fields = [
        ("n", 0),
        ("kish_deff", 3),
        ("effective_n", 1),
        ("moe95", 4),
        ("min_weight", 3),
        ("max_weight", 3),
        ("trimmed", 0),
        ("iterations", 0),
    ];
    for (f, _) in fields {
        let _ = write!(h, "<th class=\"num\">{f} A</th><th class=\"num\">{f} B</th>");
    }
    h.push_str("<th>converged A / B</th></tr></thead><tbody>");
    for wp in &cmp.weights {
        let _ = write!(h, "<tr><td>{} {}</td>", esc(&wp.country), wp.wave);
        for (f, d) in fields {
            for v in [&wp.a, &wp.b] {
                let x = v.as_ref().and_then(|v| v.get(f)).and_then(Value::as_f64);
                let _ = write!(h, "<td class=\"num\">{}</td>", opt(x, d));
            }
        }
        let conv = |v: &Option<Value>| {
            v.as_ref()
                .and_then(|v| v.get("converged"))
                .and_then(Value::as_bool)
                .map_or("–", |b| if b { "yes" } else { "no" })
        };
        let _ = write!(h, "<td>{} / {}</td></tr>", conv(&wp.a), conv(&wp.b));
    }
    h.push_str("</tbody></table></div></section><section id=\"model\"><h2>Model terms whose significance flips</h2>");
    if cmp.flips.is_empty() {
        h.push_str("<p>No term changes significance at 5%.</p>");
    } else {
        h.push_str(
            "<div class=\"tablewrap\"><table><thead><tr><th>country-wave</th><th>term</th><th class=\"num\">OR A</th>\
             <th class=\"num\">p A</th><th class=\"num\">OR B</th><th class=\"num\">p B</th></tr></thead><tbody>",
        );
        for f in &cmp.flips {
            let _ = write!(
                h,
                "<tr><td>{} {}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&f.a.country),
                f.a.wave,
                esc(&f.a.term),
                opt(f.a.odds_ratio, 2),
                opt(f.a.p_value, 4),
                opt(f.b.odds_ratio, 2),
                opt(f.b.p_value, 4)
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section></main></body></html>\n");
    h
}

fn shift_table<'a>(h: &mut String, rows: impl Iterator<Item = &'a Shift>) {
    h.push_str(
        "<div class=\"tablewrap\"><table><thead><tr><th>country-wave</th><th>item</th><th>domain</th><th>level</th>\
         <th>category</th><th class=\"num\">% A</th><th class=\"num\">% B</th><th class=\"num\">shift (points)</th>\
         <th class=\"num\">shift (SE)</th><th class=\"num\">SE ratio</th><th class=\"num\">deff ratio</th></tr></thead><tbody>",
    );
    for s in rows {
        let (c, w, item, d, l, cat) = &s.key;
        let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) if x > 0.0 => format!("{:.2}", y / x),
            _ => "–".into(),
        };
        let _ = write!(
            h,
            "<tr data-key=\"{}|{w}|{}|{}|{}|{}\"><td>{} {w}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num c-a\">{}</td><td class=\"num c-b\">{}</td><td class=\"num c-shift\">{}</td>\
             <td class=\"num c-z\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(c),
            esc(item),
            esc(d),
            esc(l),
            esc(cat),
            esc(c),
            esc(item),
            esc(d),
            esc(l),
            esc(cat),
            s.a.as_ref().map_or_else(|| "–".into(), |e| pct(e.estimate)),
            s.b.as_ref().map_or_else(|| "–".into(), |e| pct(e.estimate)),
            s.points.map_or_else(|| "–".into(), |p| format!("{p:+.1}")),
            s.in_se.map_or_else(|| "–".into(), |z| format!("{z:+.2}")),
            ratio(s.a.as_ref().map(|e| e.se), s.b.as_ref().map(|e| e.se)),
            ratio(s.a.as_ref().and_then(|e| e.deff), s.b.as_ref().and_then(|e| e.deff)),
        );
    }
    h.push_str("</tbody></table></div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_respondents_hash_is_found_whatever_the_format() {
        let m = |name: &str, source: &str, sha: &str| {
            serde_json::json!({
                "inputs": [
                    {"name": "design.csv", "source": "DATA/design.csv", "sha256": "d0"},
                    {"name": name, "source": source, "sha256": sha},
                    {"name": "scheme", "source": "built-in default", "sha256": "s0"}
                ]
            })
        };
        for f in [
            "respondents.csv",
            "respondents.sav",
            "respondents.zsav",
            "respondents.dta",
            "Respondents.SAV",
        ] {
            let src = format!("DATA/{f}");
            assert_eq!(
                respondents_sha256(Some(&m(f, &src, "ab"))).as_deref(),
                Some("ab"),
                "{f}"
            );
        }
        // Named by its source or path only.
        let by_source =
            serde_json::json!({"inputs": [{"name": "data", "source": "DATA/sub/respondents.zsav", "sha256": "cd"}]});
        assert_eq!(respondents_sha256(Some(&by_source)).as_deref(), Some("cd"));
        let by_path = serde_json::json!({"inputs": [{"path": "bundle\\respondents.dta", "sha256": "ef"}]});
        assert_eq!(respondents_sha256(Some(&by_path)).as_deref(), Some("ef"));
        // Not a respondents file: no hash, so not the same sample.
        for f in [
            "respondents.xlsx",
            "design.csv",
            "old_respondents.sav",
            "respondents.sav.bak",
        ] {
            let src = format!("DATA/{f}");
            assert_eq!(respondents_sha256(Some(&m(f, &src, "ab"))), None, "{f}");
        }
        assert_eq!(respondents_sha256(None), None);
    }

    #[test]
    fn manifests_flatten_by_name_and_tomls_by_section() {
        let m: Value = serde_json::json!({
            "swvr_version": "0.1.0",
            "inputs": [{"name": "respondents.csv", "sha256": "ab"}, {"name": "scheme", "sha256": "cd"}],
            "outputs": [{"path": "a.arrow", "sha256": "ef"}]
        });
        let mut f = BTreeMap::new();
        flatten("", &m, &mut f);
        assert_eq!(f["inputs[respondents.csv].sha256"], "\"ab\"");
        assert_eq!(f["outputs[a.arrow].sha256"], "\"ef\"");
        let mut t = BTreeMap::new();
        toml_lines(
            "weight/scheme.toml",
            "# c\n[base]\nmethod = \"hartley\"\n[[x]]\na = 1\n[[x]]\na = 2\n",
            &mut t,
        );
        assert_eq!(t["weight/scheme.toml: [base] method"], "\"hartley\"");
        assert_eq!(t["weight/scheme.toml: [[x]] a"], "1");
        assert_eq!(t["weight/scheme.toml: [[x]]#2 a"], "2");
    }
}
