//! The weighting scheme (docs/weighting.md): read from TOML and validated
//! once into [`Scheme`], whose fields are private so that no unvalidated
//! scheme exists; code past [`Scheme::from_path`] trusts it.
//!
//! A scheme file is checked on its own here (types, ranges, band syntax,
//! margin syntax), every mistake of the file reported at once with its
//! line. What depends on the questionnaire (that a raking variable is a
//! demographic of it, that bands cover its valid range) is checked when the
//! weight stage binds the scheme to the run's questionnaire, before any data
//! is read (`crate::plan`).
//!
//! No demographic is named here except in the defaults: the default scheme
//! rakes on `sex`, `age_group` and `education`, and `[age_groups]` is the
//! traditional spelling of `[bands.age]`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::WeightError;
use crate::calibrate::Calibration;

/// Base-weight estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Single-frame (multiplicity) estimator: `1 / (pL + pM - pL*pM)`.
    Multiplicity,
    /// Hartley's composite: dual users get `lambda/pL` (from L) or `(1-lambda)/pM` (from M).
    Hartley,
}

impl Method {
    /// The name used in the scheme and in diagnostics.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Multiplicity => "multiplicity",
            Method::Hartley => "hartley",
        }
    }
}

/// What a raking that stops at `max_iterations` above tolerance does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnNonConvergence {
    /// Fail the stage with an error naming the (country, wave), variable and category.
    Error,
    /// Write the weights; diagnostics say `converged: false`.
    Warn,
}

/// How tabulate and model compute standard errors (`[variance] method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarianceMethod {
    /// Final weights taken as fixed (R: `svydesign(weights = ~weight)`).
    Fixed,
    /// Taylor linearisation of the calibration estimator (R: the design
    /// returned by `rake()` / `calibrate()`).
    Calibrated,
    /// Stratified jackknife (JKn), each replicate weighted through the whole
    /// chain; `weight/replicates.arrow` (`crate::replicates`).
    Jackknife {
        /// Strata with more respondents than this are split into this many
        /// random groups (deleted one at a time); the others delete one
        /// respondent at a time.
        groups: u32,
        /// Seed of the random groups.
        seed: u64,
    },
    /// Rao–Wu rescaling bootstrap within strata, each replicate weighted
    /// through the whole chain; `weight/replicates.arrow`.
    Bootstrap {
        /// Number of replicates.
        replicates: u32,
        /// Seed of the resampling.
        seed: u64,
    },
}

/// Default `[variance] groups` (jackknife): see docs/weighting.md.
pub const DEFAULT_JK_GROUPS: u32 = 20;
/// Default `[variance] replicates` (bootstrap).
pub const DEFAULT_BOOT_REPLICATES: u32 = 100;
/// Default `[variance] seed`.
pub const DEFAULT_SEED: u64 = 1;
/// Largest `[variance] groups` and `replicates`.
pub const MAX_REPLICATES: i64 = 10_000;

impl VarianceMethod {
    /// The name used in the scheme and in the outputs' `variance_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            VarianceMethod::Fixed => "fixed",
            VarianceMethod::Calibrated => "calibrated",
            VarianceMethod::Jackknife { .. } => "jackknife",
            VarianceMethod::Bootstrap { .. } => "bootstrap",
        }
    }

    /// True for the replicate methods (jackknife, bootstrap).
    pub fn is_replicate(self) -> bool {
        matches!(
            self,
            VarianceMethod::Jackknife { .. } | VarianceMethod::Bootstrap { .. }
        )
    }
}

/// A band of a numeric demographic: `lo-hi` or `lo+` (hi = None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Label as written in the scheme and in targets.csv (`15-29`, `60+`).
    pub label: String,
    /// Smallest value in the band.
    pub lo: i16,
    /// Largest value in the band; `None` for an open band.
    pub hi: Option<i16>,
}

impl Band {
    /// True when `value` falls in the band.
    pub fn contains(&self, value: i16) -> bool {
        value >= self.lo && self.hi.is_none_or(|h| value <= h)
    }
}

/// The bands of one numeric demographic (`[bands.D]`, or `[age_groups]`
/// for `age`): the banded variable is called `D_group`.
#[derive(Debug, Clone, Eq)]
pub struct BandSet {
    /// The numeric demographic banded (a column of respondents.csv).
    pub demographic: String,
    /// Contiguous bands in order.
    pub bands: Vec<Band>,
    /// True when the set was not written in the file (the default age bands).
    pub(crate) default: bool,
}

impl PartialEq for BandSet {
    /// Same demographic and bands (whether they were written or defaulted is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.demographic == other.demographic && self.bands == other.bands
    }
}

impl BandSet {
    /// The banded variable's name: `D_group` (`age_group`).
    pub fn variable(&self) -> String {
        format!("{}_group", self.demographic)
    }

    /// The scheme key the set was declared under.
    pub fn key(&self) -> String {
        if self.demographic == "age" {
            "age_groups.bands".into()
        } else {
            format!("bands.{}.bands", self.demographic)
        }
    }

    /// Index of the band holding `value`, if any.
    pub fn band_of(&self, value: i16) -> Option<usize> {
        self.bands.iter().position(|b| b.contains(value))
    }
}

/// A raking margin: one variable (`education`) or an interaction of
/// several (`sex*age_group`), whose categories are the cells of the
/// components' cross-classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Margin {
    /// Component variables in the order written.
    pub components: Vec<String>,
}

impl Margin {
    /// The margin's name as in targets.csv `variable`: components joined by `*`.
    pub fn name(&self) -> String {
        self.components.join("*")
    }
}

/// Base-weight settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseScheme {
    /// Estimator.
    pub method: Method,
    /// Hartley's landline-frame share for dual users (0 < λ < 1).
    pub lambda: f64,
    /// Cap on `n_adults` (1 to 65535).
    pub cap_adults: u32,
    /// Cap on `n_landlines` (1 to 65535).
    pub cap_landlines: u32,
    /// Cap on `n_mobiles` (1 to 65535).
    pub cap_mobiles: u32,
}

/// Raking settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RakingScheme {
    /// Margins raked to, in scheme order (no repeats).
    pub variables: Vec<Margin>,
    /// Convergence: max |weighted share − target share| ≤ tolerance.
    pub tolerance: f64,
    /// Iteration limit (sweeps over all margins).
    pub max_iterations: u32,
    /// Error or warning when the limit is reached above tolerance.
    pub on_nonconvergence: OnNonConvergence,
}

/// Trimming settings: bounds on weight / mean weight.
#[derive(Debug, Clone, PartialEq)]
pub struct TrimmingScheme {
    /// Lower bound (0 < lower < 1).
    pub lower: f64,
    /// Upper bound (> 1).
    pub upper: f64,
    /// Maximum rake–trim rounds before giving up.
    pub max_rounds: u32,
}

/// A validated weighting scheme (built only by parsing; read through accessors).
#[derive(Debug, Clone)]
pub struct Scheme {
    base: BaseScheme,
    bands: Vec<BandSet>,
    raking: RakingScheme,
    calibration: Calibration,
    trimming: Option<TrimmingScheme>,
    variance: VarianceMethod,
    fieldwork: Option<toml::Table>,
    source: String,
    /// Line of each raking margin in the file (for errors found later).
    margin_lines: Vec<Option<usize>>,
    /// Line of each band set in the file.
    band_lines: Vec<Option<usize>>,
}

impl PartialEq for Scheme {
    /// Equal settings (the source name is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.base == other.base
            && self.bands == other.bands
            && self.raking == other.raking
            && self.calibration == other.calibration
            && self.trimming == other.trimming
            && self.variance == other.variance
            && self.fieldwork == other.fieldwork
    }
}

/// One mistake in a scheme file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeMistake {
    /// Line of the file (1-based), when the mistake is at a place in it.
    pub line: Option<usize>,
    /// Dotted key (`raking.tolerance`).
    pub key: String,
    /// Value found (`(missing)` for a required key left out).
    pub value: String,
    /// What is allowed.
    pub expected: String,
}

impl std::fmt::Display for SchemeMistake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = self.line {
            write!(f, "line {l}: ")?;
        }
        write!(
            f,
            "weighting scheme key `{}` = {}: expected {}",
            self.key, self.value, self.expected
        )
    }
}

/// Every mistake of a scheme file (or of the scheme against the questionnaire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeMistakes {
    /// The scheme file (or `default scheme`).
    pub path: String,
    /// The mistakes in file order.
    pub mistakes: Vec<SchemeMistake>,
}

impl std::fmt::Display for SchemeMistakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.mistakes.as_slice() {
            [one] => write!(f, "{}: {one}", self.path),
            many => {
                write!(f, "{}: {} mistakes in the weighting scheme:", self.path, many.len())?;
                for m in many {
                    write!(f, "\n  {m}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SchemeMistakes {}

// ---- canonical TOML form (written by `to_toml`) -------------------------

#[derive(Debug, Default, Serialize)]
struct RawScheme {
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<RawBase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_groups: Option<RawBands>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bands: Option<BTreeMap<String, RawBands>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raking: Option<RawRaking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calibration: Option<RawCalibration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trimming: Option<RawTrimming>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variance: Option<RawVariance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fieldwork: Option<toml::Table>,
}

#[derive(Debug, Default, Serialize)]
struct RawVariance {
    method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replicates: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
struct RawCalibration {
    method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bounds: Option<[f64; 2]>,
}

#[derive(Debug, Default, Serialize)]
struct RawBase {
    method: String,
    lambda: f64,
    cap_adults: i64,
    cap_landlines: i64,
    cap_mobiles: i64,
}

#[derive(Debug, Default, Serialize)]
struct RawBands {
    bands: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
struct RawRaking {
    variables: Vec<String>,
    tolerance: f64,
    max_iterations: i64,
    on_nonconvergence: String,
}

#[derive(Debug, Default, Serialize)]
struct RawTrimming {
    lower: f64,
    upper: f64,
    max_rounds: i64,
}

/// The documented default scheme, as TOML (see docs/weighting.md for the reasoning).
pub const DEFAULT_SCHEME_TOML: &str = r#"[base]
method = "multiplicity"
lambda = 0.5
cap_adults = 4
cap_landlines = 3
cap_mobiles = 3

[age_groups]
bands = ["15-29", "30-44", "45-59", "60+"]

[raking]
variables = ["sex", "age_group", "education"]
tolerance = 1e-10
max_iterations = 1000
on_nonconvergence = "error"

[trimming]
lower = 0.2
upper = 5.0
max_rounds = 50
"#;

/// Largest count cap (`cap_*`): counts are stored as 16-bit numbers.
pub const CAP_MAX: i64 = u16::MAX as i64;

/// Parses a band label `a-b` or `a+`.
fn parse_band(label: &str) -> Option<Band> {
    let t = label.trim();
    if let Some(lo) = t.strip_suffix('+') {
        let lo: i16 = lo.trim().parse().ok()?;
        return Some(Band {
            label: t.to_string(),
            lo,
            hi: None,
        });
    }
    let (a, b) = t.split_once('-')?;
    let lo: i16 = a.trim().parse().ok()?;
    let hi: i16 = b.trim().parse().ok()?;
    (lo <= hi).then(|| Band {
        label: t.to_string(),
        lo,
        hi: Some(hi),
    })
}

/// A variable name: a letter or `_`, then letters, digits, `_`.
fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Line numbers of keys and array elements, from the spanned parse.
struct Lines<'a> {
    text: &'a str,
    root: Option<toml::de::DeTable<'a>>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            root: toml::de::DeTable::parse(text).ok().map(|t| t.into_inner()),
        }
    }

    fn line_at(&self, offset: usize) -> usize {
        self.text.get(..offset).unwrap_or(self.text).matches('\n').count() + 1
    }

    fn value(&self, path: &[&str]) -> Option<&toml::Spanned<toml::de::DeValue<'a>>> {
        let mut table = self.root.as_ref()?;
        let (last, parents) = path.split_last()?;
        for p in parents {
            table = table.get(*p)?.get_ref().as_table()?;
        }
        table.get(*last)
    }

    /// Line of the value at `path` (or of its table header).
    fn of(&self, path: &[&str]) -> Option<usize> {
        self.value(path).map(|v| self.line_at(v.span().start))
    }

    /// Line of element `i` of the array at `path`.
    fn of_item(&self, path: &[&str], i: usize) -> Option<usize> {
        let v = self.value(path)?;
        match v.get_ref().as_array().and_then(|a| a.get(i)) {
            Some(e) => Some(self.line_at(e.span().start)),
            None => Some(self.line_at(v.span().start)),
        }
    }
}

/// Collects the mistakes of one file.
struct Check<'a> {
    lines: Lines<'a>,
    mistakes: Vec<SchemeMistake>,
}

impl Check<'_> {
    fn push(&mut self, line: Option<usize>, key: &str, value: impl std::fmt::Display, expected: &str) {
        self.mistakes.push(SchemeMistake {
            line,
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        });
    }

    fn bad(&mut self, path: &[&str], value: impl std::fmt::Display, expected: &str) {
        // The key's line, else (a required key left out) its table's.
        let line = (1..=path.len()).rev().find_map(|k| self.lines.of(&path[..k]));
        self.push(line, &path.join("."), value, expected);
    }

    /// The table at `key` of `t` with only `allowed` keys; unknown keys are mistakes.
    fn table<'t>(&mut self, t: &'t toml::Table, path: &[&str], allowed: &[&str]) -> Option<&'t toml::Table> {
        let (last, _) = path.split_last()?;
        let v = t.get(*last)?;
        let Some(table) = v.as_table() else {
            self.bad(path, show(v), "a table");
            return None;
        };
        for k in table.keys() {
            if !allowed.contains(&k.as_str()) {
                let mut p: Vec<&str> = path.to_vec();
                p.push(k);
                self.bad(&p, show(&table[k]), &format!("one of the keys {}", allowed.join(", ")));
            }
        }
        Some(table)
    }

    fn int(&mut self, t: Option<&toml::Table>, path: &[&str], range: (i64, i64), dflt: i64) -> i64 {
        let Some(v) = t.and_then(|t| path.last().and_then(|k| t.get(*k))) else {
            return dflt;
        };
        let expected = format!("an integer from {} to {}", range.0, range.1);
        match v.as_integer() {
            Some(x) if (range.0..=range.1).contains(&x) => x,
            _ => {
                self.bad(path, show(v), &expected);
                dflt
            }
        }
    }

    fn float(&mut self, t: Option<&toml::Table>, path: &[&str], ok: fn(f64) -> bool, expected: &str) -> Option<f64> {
        let v = t.and_then(|t| path.last().and_then(|k| t.get(*k)))?;
        let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        match x {
            Some(x) if ok(x) => Some(x),
            _ => {
                self.bad(path, show(v), expected);
                None
            }
        }
    }

    fn choice(&mut self, t: Option<&toml::Table>, path: &[&str], choices: &[&str]) -> Option<String> {
        let v = t.and_then(|t| path.last().and_then(|k| t.get(*k)))?;
        match v.as_str() {
            Some(s) if choices.contains(&s) => Some(s.to_string()),
            _ => {
                let expected = choices
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(" or ");
                self.bad(path, show(v), &expected);
                None
            }
        }
    }

    /// Bands at `path` (an array of labels), checked for syntax and contiguity.
    fn bands(&mut self, v: &toml::Value, path: &[&str]) -> Option<Vec<Band>> {
        let key = path.join(".");
        let Some(items) = v.as_array() else {
            self.bad(path, show(v), "an array of band labels such as [\"15-29\", \"30+\"]");
            return None;
        };
        if items.is_empty() {
            self.bad(path, "[]", "at least one band");
            return None;
        }
        let mut bands: Vec<Band> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let line = self.lines.of_item(path, i);
            let Some(b) = item.as_str().and_then(parse_band) else {
                self.push(line, &key, show(item), "a band \"a-b\" (a <= b) or \"a+\"");
                ok = false;
                continue;
            };
            if let Some(prev) = bands.last() {
                match prev.hi {
                    None => {
                        self.push(line, &key, &b.label, "no band after an open band \"a+\"");
                        ok = false;
                    }
                    Some(h) if i32::from(b.lo) != i32::from(h) + 1 => {
                        let want = format!("contiguous bands: this band to start at {}", i32::from(h) + 1);
                        self.push(line, &key, &b.label, &want);
                        ok = false;
                    }
                    _ => {}
                }
            }
            bands.push(b);
        }
        if bands.len() > 250 {
            self.bad(path, bands.len(), "at most 250 bands");
            ok = false;
        }
        ok.then_some(bands)
    }
}

/// A value as it would be written in TOML (strings quoted).
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("\"{s}\""),
        toml::Value::Table(_) => "a table".into(),
        other => other.to_string(),
    }
}

impl Scheme {
    /// The documented default scheme (docs/weighting.md).
    pub fn default_scheme() -> Self {
        match Self::from_toml_str(DEFAULT_SCHEME_TOML, "default scheme") {
            Ok(s) => s,
            // The embedded text is covered by a unit test; this arm is unreachable.
            Err(_) => Self::fallback(),
        }
    }

    fn fallback() -> Self {
        let band = |label: &str, lo, hi| Band {
            label: label.into(),
            lo,
            hi,
        };
        let margin = |name: &str| Margin {
            components: vec![name.to_string()],
        };
        Scheme {
            base: BaseScheme {
                method: Method::Multiplicity,
                lambda: 0.5,
                cap_adults: 4,
                cap_landlines: 3,
                cap_mobiles: 3,
            },
            bands: vec![BandSet {
                demographic: "age".into(),
                bands: vec![
                    band("15-29", 15, Some(29)),
                    band("30-44", 30, Some(44)),
                    band("45-59", 45, Some(59)),
                    band("60+", 60, None),
                ],
                default: true,
            }],
            raking: RakingScheme {
                variables: vec![margin("sex"), margin("age_group"), margin("education")],
                tolerance: 1e-10,
                max_iterations: 1000,
                on_nonconvergence: OnNonConvergence::Error,
            },
            calibration: Calibration::Raking,
            trimming: Some(TrimmingScheme {
                lower: 0.2,
                upper: 5.0,
                max_rounds: 50,
            }),
            variance: VarianceMethod::Fixed,
            fieldwork: None,
            source: "default scheme".into(),
            margin_lines: vec![None; 3],
            band_lines: vec![None],
        }
    }

    /// Reads and validates a scheme file. Keys left out take the default
    /// scheme's value, except `[trimming]`: no section means no trimming.
    pub fn from_path(path: &Path) -> Result<Self, WeightError> {
        let text = swvr_core::io::read_config(path).map_err(|source| WeightError::SchemeRead {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates scheme TOML; `path` names the source in errors.
    /// Every mistake of the text is reported in one error.
    pub fn from_toml_str(text: &str, path: &str) -> Result<Self, WeightError> {
        let root: toml::Table =
            toml::from_str(text).map_err(|e| swvr_core::config::TomlError::new(path, "weighting scheme", text, &e))?;
        if root.is_empty() {
            return Err(WeightError::SchemeEmpty { path: path.to_string() });
        }
        let mut c = Check {
            lines: Lines::new(text),
            mistakes: Vec::new(),
        };
        const SECTIONS: [&str; 8] = [
            "base",
            "age_groups",
            "bands",
            "raking",
            "calibration",
            "trimming",
            "variance",
            "fieldwork",
        ];
        for k in root.keys() {
            if !SECTIONS.contains(&k.as_str()) {
                c.bad(
                    &[k],
                    show(&root[k]),
                    &format!("one of the sections [{}]", SECTIONS.join("], [")),
                );
            }
        }
        let d = Self::fallback();

        // [base]
        let b = c.table(
            &root,
            &["base"],
            &["method", "lambda", "cap_adults", "cap_landlines", "cap_mobiles"],
        );
        let method = match c
            .choice(b, &["base", "method"], &["multiplicity", "hartley"])
            .as_deref()
        {
            Some("hartley") => Method::Hartley,
            Some(_) => Method::Multiplicity,
            None => d.base.method,
        };
        let lambda = c
            .float(
                b,
                &["base", "lambda"],
                |x| x > 0.0 && x < 1.0,
                "a number strictly between 0 and 1",
            )
            .unwrap_or(d.base.lambda);
        let mut cap = |key: &str, dflt: u32| c.int(b, &["base", key], (1, CAP_MAX), i64::from(dflt)) as u32;
        let base = BaseScheme {
            method,
            lambda,
            cap_adults: cap("cap_adults", d.base.cap_adults),
            cap_landlines: cap("cap_landlines", d.base.cap_landlines),
            cap_mobiles: cap("cap_mobiles", d.base.cap_mobiles),
        };

        // [age_groups] and [bands.D]
        let mut bands: Vec<BandSet> = Vec::new();
        let age_written = root.contains_key("age_groups");
        if let Some(ag) = c.table(&root, &["age_groups"], &["bands"]) {
            match ag.get("bands") {
                Some(v) => {
                    if let Some(bs) = c.bands(v, &["age_groups", "bands"]) {
                        bands.push(BandSet {
                            demographic: "age".into(),
                            bands: bs,
                            default: false,
                        });
                    }
                }
                None => c.bad(&["age_groups"], "a table without `bands`", "a `bands` array"),
            }
        }
        let all = match root.get("bands") {
            None => None,
            Some(toml::Value::Table(t)) => Some(t),
            Some(v) => {
                c.bad(
                    &["bands"],
                    show(v),
                    "a table of tables [bands.D] with a `bands` array each",
                );
                None
            }
        };
        if let Some(all) = all {
            for dem in all.keys() {
                let p = ["bands", dem.as_str()];
                if !is_name(dem) {
                    c.bad(
                        &p,
                        format!("[bands.{dem}]"),
                        "a demographic name (letters, digits, `_`)",
                    );
                    continue;
                }
                if dem == "age" && age_written {
                    c.bad(
                        &p,
                        "[bands.age]",
                        "bands of age in one place: [age_groups] or [bands.age], not both",
                    );
                    continue;
                }
                let Some(t) = c.table(all, &p, &["bands"]) else {
                    continue;
                };
                match t.get("bands") {
                    Some(v) => {
                        if let Some(bs) = c.bands(v, &["bands", dem, "bands"]) {
                            bands.push(BandSet {
                                demographic: dem.clone(),
                                bands: bs,
                                default: false,
                            });
                        }
                    }
                    None => c.bad(&p, "a table without `bands`", "a `bands` array"),
                }
            }
        }
        let age_declared = age_written || bands.iter().any(|s| s.demographic == "age");
        if !age_declared && !c.mistakes.iter().any(|m| m.key.starts_with("age_groups")) {
            // The default age bands (used only when the questionnaire has `age`).
            bands.insert(0, d.bands[0].clone());
        }

        // [raking]
        let r = c.table(
            &root,
            &["raking"],
            &["variables", "tolerance", "max_iterations", "on_nonconvergence"],
        );
        let variables = match r.and_then(|r| r.get("variables")) {
            None => d.raking.variables.clone(),
            Some(v) => c.margins(v),
        };
        let tolerance = c
            .float(
                r,
                &["raking", "tolerance"],
                |x| x > 0.0 && x < 1.0,
                "a number > 0 and < 1",
            )
            .unwrap_or(d.raking.tolerance);
        let max_iterations = c.int(r, &["raking", "max_iterations"], (1, 1_000_000), 1000) as u32;
        let on_nonconvergence = match c
            .choice(r, &["raking", "on_nonconvergence"], &["error", "warn"])
            .as_deref()
        {
            Some("warn") => OnNonConvergence::Warn,
            Some(_) => OnNonConvergence::Error,
            None => d.raking.on_nonconvergence,
        };
        let raking = RakingScheme {
            variables,
            tolerance,
            max_iterations,
            on_nonconvergence,
        };

        // [calibration]
        let cal = c.table(&root, &["calibration"], &["method", "bounds"]);
        let method = c.choice(cal, &["calibration", "method"], &["raking", "linear", "logit"]);
        let bounds = match cal.and_then(|t| t.get("bounds")) {
            None => None,
            Some(v) => c.bounds(v),
        };
        let calibration = match (method.as_deref(), bounds) {
            (Some("linear"), b) => Calibration::Linear { bounds: b },
            (Some("logit"), Some(b)) => Calibration::Logit { bounds: b },
            (Some("logit"), None) => {
                if cal.and_then(|t| t.get("bounds")).is_none() {
                    c.bad(
                        &["calibration", "bounds"],
                        "(missing)",
                        "bounds [L, U] on the g-weights with 0 < L < 1 < U (required by method = \"logit\")",
                    );
                }
                Calibration::Raking
            }
            (m, _) => {
                if m.is_some() && cal.and_then(|t| t.get("bounds")).is_some() {
                    c.bad(
                        &["calibration", "bounds"],
                        show(&cal.and_then(|t| t.get("bounds")).cloned().unwrap_or(toml::Value::Boolean(false))),
                        "no bounds with method = \"raking\" (bounds on g-weights apply to \"linear\" and \"logit\"; [trimming] bounds raked weights)",
                    );
                }
                Calibration::Raking
            }
        };

        // [trimming]
        let t = c.table(&root, &["trimming"], &["lower", "upper", "max_rounds"]);
        let trimming = t.map(|_| {
            let mut required = |key: &str, ok: fn(f64) -> bool, expected: &str| {
                if t.and_then(|t| t.get(key)).is_none() {
                    c.bad(
                        &["trimming", key],
                        "(missing)",
                        &format!("{expected} (required in [trimming])"),
                    );
                    return None;
                }
                c.float(t, &["trimming", key], ok, expected)
            };
            let lower = required("lower", |x| x > 0.0 && x < 1.0, "a number strictly between 0 and 1");
            let upper = required("upper", |x| x > 1.0 && x.is_finite(), "a finite number > 1");
            let max_rounds = c.int(t, &["trimming", "max_rounds"], (1, 10_000), 50) as u32;
            TrimmingScheme {
                lower: lower.unwrap_or(0.2),
                upper: upper.unwrap_or(5.0),
                max_rounds,
            }
        });

        // [variance]
        let v = c.table(&root, &["variance"], &["method", "replicates", "groups", "seed"]);
        let vmethod = c.choice(
            v,
            &["variance", "method"],
            &["fixed", "calibrated", "jackknife", "bootstrap"],
        );
        let method_bad = vmethod.is_none() && v.is_some_and(|t| t.contains_key("method"));
        let name = vmethod.as_deref().unwrap_or("fixed");
        // Keys of one replicate method given with another method.
        for (key, owners) in [
            ("replicates", &["bootstrap"][..]),
            ("groups", &["jackknife"][..]),
            ("seed", &["jackknife", "bootstrap"][..]),
        ] {
            if let Some(x) = v.and_then(|t| t.get(key))
                && !method_bad
                && !owners.contains(&name)
            {
                let of: Vec<String> = owners.iter().map(|o| format!("\"{o}\"")).collect();
                c.bad(
                    &["variance", key],
                    show(x),
                    &format!(
                        "no `{key}` with method = \"{name}\" (`{key}` is a key of method = {})",
                        of.join(" or ")
                    ),
                );
            }
        }
        let count = |c: &mut Check<'_>, key: &str, dflt: u32| {
            c.int(v, &["variance", key], (2, MAX_REPLICATES), i64::from(dflt)) as u32
        };
        let seed = |c: &mut Check<'_>| c.int(v, &["variance", "seed"], (0, i64::MAX), DEFAULT_SEED as i64) as u64;
        let variance = match name {
            "calibrated" => VarianceMethod::Calibrated,
            "jackknife" => VarianceMethod::Jackknife {
                groups: count(&mut c, "groups", DEFAULT_JK_GROUPS),
                seed: seed(&mut c),
            },
            "bootstrap" => VarianceMethod::Bootstrap {
                replicates: count(&mut c, "replicates", DEFAULT_BOOT_REPLICATES),
                seed: seed(&mut c),
            },
            _ => VarianceMethod::Fixed,
        };

        // [fieldwork]: validated by the fieldwork stage; kept verbatim.
        let fieldwork = match root.get("fieldwork") {
            None => None,
            Some(toml::Value::Table(t)) => Some(t.clone()),
            Some(v) => {
                c.bad(&["fieldwork"], show(v), "a table");
                None
            }
        };

        if !c.mistakes.is_empty() {
            let mut mistakes = c.mistakes;
            mistakes.sort_by_key(|m| m.line.unwrap_or(usize::MAX));
            return Err(WeightError::Scheme(Box::new(SchemeMistakes {
                path: path.to_string(),
                mistakes,
            })));
        }
        let margin_lines = match r.and_then(|r| r.get("variables")) {
            None => vec![None; raking.variables.len()],
            Some(_) => {
                let written: Vec<String> = r
                    .and_then(|r| r.get("variables"))
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect())
                    .unwrap_or_default();
                raking
                    .variables
                    .iter()
                    .map(|m| {
                        let i = written
                            .iter()
                            .position(|w| w.split('*').map(str::trim).collect::<Vec<_>>() == m.components);
                        i.and_then(|i| c.lines.of_item(&["raking", "variables"], i))
                    })
                    .collect()
            }
        };
        let band_lines = bands
            .iter()
            .map(|b| {
                if b.default {
                    None
                } else if b.demographic == "age" && age_written {
                    c.lines.of(&["age_groups", "bands"])
                } else {
                    c.lines.of(&["bands", &b.demographic, "bands"])
                }
            })
            .collect();
        Ok(Scheme {
            base,
            bands,
            raking,
            calibration,
            trimming,
            variance,
            fieldwork,
            source: path.to_string(),
            margin_lines,
            band_lines,
        })
    }

    /// `[base]`.
    pub fn base(&self) -> &BaseScheme {
        &self.base
    }

    /// Band sets of numeric demographics (`[age_groups]`, `[bands.D]`), in
    /// file order; the default age bands first when the file declares none.
    pub fn band_sets(&self) -> &[BandSet] {
        &self.bands
    }

    /// The band set of numeric demographic `demographic`.
    pub fn band_set(&self, demographic: &str) -> Option<&BandSet> {
        self.bands.iter().find(|b| b.demographic == demographic)
    }

    /// `[raking]`.
    pub fn raking(&self) -> &RakingScheme {
        &self.raking
    }

    /// `[calibration]`: raking (the default) or a calibration function.
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// `[variance] method`: how tabulate and model compute standard errors.
    pub fn variance(&self) -> VarianceMethod {
        self.variance
    }

    /// `[trimming]`; `None` = no trimming.
    pub fn trimming(&self) -> Option<&TrimmingScheme> {
        self.trimming.as_ref()
    }

    /// `[fieldwork]` verbatim: the weight stage does not read it (the
    /// fieldwork stage validates its keys).
    pub fn fieldwork(&self) -> Option<&toml::Table> {
        self.fieldwork.as_ref()
    }

    /// Line of raking margin `i` in the file, if written there.
    pub(crate) fn margin_line(&self, i: usize) -> Option<usize> {
        self.margin_lines.get(i).copied().flatten()
    }

    /// Line of band set `i` in the file, if written there.
    pub(crate) fn band_line(&self, i: usize) -> Option<usize> {
        self.band_lines.get(i).copied().flatten()
    }

    /// The file the scheme was read from (or `default scheme`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The effective scheme as canonical TOML (every key written; hashed into the manifest).
    pub fn to_toml(&self) -> String {
        let raw_bands = |s: &BandSet| RawBands {
            bands: s.bands.iter().map(|b| b.label.clone()).collect(),
        };
        let others: BTreeMap<String, RawBands> = self
            .bands
            .iter()
            .filter(|s| s.demographic != "age")
            .map(|s| (s.demographic.clone(), raw_bands(s)))
            .collect();
        let raw = RawScheme {
            base: Some(RawBase {
                method: self.base.method.as_str().into(),
                lambda: self.base.lambda,
                cap_adults: i64::from(self.base.cap_adults),
                cap_landlines: i64::from(self.base.cap_landlines),
                cap_mobiles: i64::from(self.base.cap_mobiles),
            }),
            age_groups: self.band_set("age").map(raw_bands),
            bands: (!others.is_empty()).then_some(others),
            raking: Some(RawRaking {
                variables: self.raking.variables.iter().map(Margin::name).collect(),
                tolerance: self.raking.tolerance,
                max_iterations: i64::from(self.raking.max_iterations),
                on_nonconvergence: match self.raking.on_nonconvergence {
                    OnNonConvergence::Error => "error",
                    OnNonConvergence::Warn => "warn",
                }
                .into(),
            }),
            // Raking (the default) is not written, so that the default
            // scheme's effective TOML, and its hash, stay as they were.
            calibration: match self.calibration {
                Calibration::Raking => None,
                cal => Some(RawCalibration {
                    method: cal.name().into(),
                    bounds: cal.bounds().map(|(l, u)| [l, u]),
                }),
            },
            trimming: self.trimming.as_ref().map(|t| RawTrimming {
                lower: t.lower,
                upper: t.upper,
                max_rounds: i64::from(t.max_rounds),
            }),
            // "fixed" (the default) is not written: default hashes unchanged.
            variance: (self.variance != VarianceMethod::Fixed).then(|| {
                let (replicates, groups, seed) = match self.variance {
                    VarianceMethod::Jackknife { groups, seed } => (None, Some(i64::from(groups)), Some(seed as i64)),
                    VarianceMethod::Bootstrap { replicates, seed } => {
                        (Some(i64::from(replicates)), None, Some(seed as i64))
                    }
                    _ => (None, None, None),
                };
                RawVariance {
                    method: self.variance.as_str().into(),
                    replicates,
                    groups,
                    seed,
                }
            }),
            fieldwork: self.fieldwork.clone(),
        };
        toml::to_string(&raw).unwrap_or_default()
    }
}

impl Check<'_> {
    /// `calibration.bounds`: `[L, U]`, finite, `0 < L < 1 < U`.
    fn bounds(&mut self, v: &toml::Value) -> Option<(f64, f64)> {
        let num = |x: &toml::Value| x.as_float().or_else(|| x.as_integer().map(|i| i as f64));
        let pair = v
            .as_array()
            .filter(|a| a.len() == 2)
            .and_then(|a| Some((num(&a[0])?, num(&a[1])?)));
        match pair {
            Some((l, u)) if l > 0.0 && l < 1.0 && u > 1.0 && u.is_finite() => Some((l, u)),
            _ => {
                self.bad(
                    &["calibration", "bounds"],
                    show(v),
                    "two numbers [L, U] bounding the g-weights (final weight / starting weight), with 0 < L < 1 < U, finite",
                );
                None
            }
        }
    }

    /// `raking.variables`: margins `a` or `a*b*…`, each listed once.
    fn margins(&mut self, v: &toml::Value) -> Vec<Margin> {
        let path = ["raking", "variables"];
        let key = "raking.variables";
        let Some(items) = v.as_array() else {
            self.bad(
                &path,
                show(v),
                "an array of variable names such as [\"sex\", \"age_group\"]",
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.bad(&path, "[]", "at least one raking variable");
        }
        let mut out: Vec<Margin> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let line = self.lines.of_item(&path, i);
            let Some(s) = item.as_str() else {
                self.push(line, key, show(item), "a variable name (a string)");
                continue;
            };
            let components: Vec<String> = s.split('*').map(|c| c.trim().to_string()).collect();
            if let Some(bad) = components.iter().find(|c| !is_name(c)) {
                let what = if bad.is_empty() { "(empty)" } else { bad };
                self.push(
                    line,
                    key,
                    show(item),
                    &format!("a demographic name or an interaction `a*b` of names (letters, digits, `_`); `{what}` is not one"),
                );
                continue;
            }
            if let Some(rep) = components
                .iter()
                .enumerate()
                .find(|(j, c)| components[..*j].contains(c))
            {
                self.push(
                    line,
                    key,
                    show(item),
                    &format!("each component once (`{}` is repeated)", rep.1),
                );
                continue;
            }
            let mut sorted = components.clone();
            sorted.sort();
            let same = out.iter().find(|m| {
                let mut o = m.components.clone();
                o.sort();
                o == sorted
            });
            if let Some(m) = same {
                self.push(
                    line,
                    key,
                    show(item),
                    &format!("each margin listed once (same as \"{}\")", m.name()),
                );
                continue;
            }
            out.push(Margin { components });
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_text_parses_to_fallback() {
        let s = Scheme::from_toml_str(DEFAULT_SCHEME_TOML, "default").unwrap();
        assert_eq!(s, Scheme::fallback());
        let again = Scheme::from_toml_str(&s.to_toml(), "x").unwrap();
        assert_eq!(again, s);
    }
}
