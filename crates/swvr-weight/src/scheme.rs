//! The weighting scheme (contract section 3): read from TOML, validated once
//! into [`Scheme`]; code past [`Scheme::from_path`] trusts it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::WeightError;

/// Youngest age of the questionnaire's age range (the bands must start here).
pub const AGE_MIN: i16 = 15;
/// Oldest valid age of the questionnaire (the bands must reach it).
pub const AGE_MAX: i16 = 120;

/// Base-weight estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Single-frame (multiplicity) estimator: `1 / (pL + pM - pL*pM)`.
    Multiplicity,
    /// Hartley's composite: dual users get `lambda/pL` (from L) or `(1-lambda)/pM` (from M).
    Hartley,
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

/// A raking dimension (a column of targets.csv `variable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RakeVar {
    /// `sex` (1 male, 2 female).
    Sex,
    /// `age_group`: the band of `age` (scheme bands).
    AgeGroup,
    /// `education` (1–3).
    Education,
    /// `employment` (1–2).
    Employment,
    /// `urbanicity` (1–4).
    Urbanicity,
}

impl RakeVar {
    /// Every raking dimension the contract allows.
    pub const ALL: [RakeVar; 5] = [
        RakeVar::Sex,
        RakeVar::AgeGroup,
        RakeVar::Education,
        RakeVar::Employment,
        RakeVar::Urbanicity,
    ];

    /// Name as in targets.csv and in output column prefixes.
    pub fn name(self) -> &'static str {
        match self {
            RakeVar::Sex => "sex",
            RakeVar::AgeGroup => "age_group",
            RakeVar::Education => "education",
            RakeVar::Employment => "employment",
            RakeVar::Urbanicity => "urbanicity",
        }
    }

    /// The variable called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Column of respondents.arrow the variable is derived from.
    pub fn source_column(self) -> &'static str {
        match self {
            RakeVar::AgeGroup => "age",
            v => v.name(),
        }
    }
}

/// An age band: `lo-hi` or `lo+` (hi = None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Label as written in the scheme and in targets.csv (`15-29`, `60+`).
    pub label: String,
    /// Youngest age in the band.
    pub lo: i16,
    /// Oldest age in the band; `None` for an open band.
    pub hi: Option<i16>,
}

impl Band {
    /// True when `age` falls in the band.
    pub fn contains(&self, age: i16) -> bool {
        age >= self.lo && self.hi.is_none_or(|h| age <= h)
    }
}

/// Base-weight settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseScheme {
    /// Estimator.
    pub method: Method,
    /// Hartley's landline-frame share for dual users (0 < λ < 1).
    pub lambda: f64,
    /// Cap on `n_adults` (≥ 1).
    pub cap_adults: u32,
    /// Cap on `n_landlines` (≥ 1).
    pub cap_landlines: u32,
    /// Cap on `n_mobiles` (≥ 1).
    pub cap_mobiles: u32,
}

/// Raking settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RakingScheme {
    /// Variables raked to, in scheme order (no repeats).
    pub variables: Vec<RakeVar>,
    /// Convergence: max |weighted share − target share| ≤ tolerance.
    pub tolerance: f64,
    /// Iteration limit (sweeps over all variables).
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

/// A validated weighting scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    /// `[base]`.
    pub base: BaseScheme,
    /// `[age_groups] bands`, in order.
    pub bands: Vec<Band>,
    /// `[raking]`.
    pub raking: RakingScheme,
    /// `[trimming]`; `None` = no trimming.
    pub trimming: Option<TrimmingScheme>,
}

// ---- raw TOML form -------------------------------------------------------

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawScheme {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<RawBase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    age_groups: Option<RawAgeGroups>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raking: Option<RawRaking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trimming: Option<RawTrimming>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawBase {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lambda: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cap_adults: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cap_landlines: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cap_mobiles: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAgeGroups {
    bands: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRaking {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variables: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tolerance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_iterations: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_nonconvergence: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawTrimming {
    lower: f64,
    upper: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_rounds: Option<i64>,
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

fn invalid(path: &str, key: &str, value: impl std::fmt::Display, expected: &str) -> WeightError {
    WeightError::SchemeValue {
        path: path.to_string(),
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

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
        Scheme {
            base: BaseScheme {
                method: Method::Multiplicity,
                lambda: 0.5,
                cap_adults: 4,
                cap_landlines: 3,
                cap_mobiles: 3,
            },
            bands: vec![
                band("15-29", 15, Some(29)),
                band("30-44", 30, Some(44)),
                band("45-59", 45, Some(59)),
                band("60+", 60, None),
            ],
            raking: RakingScheme {
                variables: vec![RakeVar::Sex, RakeVar::AgeGroup, RakeVar::Education],
                tolerance: 1e-10,
                max_iterations: 1000,
                on_nonconvergence: OnNonConvergence::Error,
            },
            trimming: Some(TrimmingScheme {
                lower: 0.2,
                upper: 5.0,
                max_rounds: 50,
            }),
        }
    }

    /// Reads and validates a scheme file. Keys left out take the default
    /// scheme's value, except `[trimming]`: no section means no trimming.
    pub fn from_path(path: &Path) -> Result<Self, WeightError> {
        let text = std::fs::read_to_string(path).map_err(|source| WeightError::SchemeRead {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates scheme TOML; `path` names the source in errors.
    pub fn from_toml_str(text: &str, path: &str) -> Result<Self, WeightError> {
        let raw: RawScheme = toml::from_str(text).map_err(|e| WeightError::SchemeToml {
            path: path.to_string(),
            message: match e.span() {
                Some(span) => {
                    let before = text.get(..span.start).unwrap_or(text);
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {column}: {}", e.message())
                }
                None => e.message().to_string(),
            },
        })?;
        let d = Self::fallback();
        let b = raw.base.unwrap_or_default();
        let method = match b.method.as_deref() {
            None => d.base.method,
            Some("multiplicity") => Method::Multiplicity,
            Some("hartley") => Method::Hartley,
            Some(other) => return Err(invalid(path, "base.method", other, "\"multiplicity\" or \"hartley\"")),
        };
        let lambda = b.lambda.unwrap_or(d.base.lambda);
        if !(lambda > 0.0 && lambda < 1.0) {
            return Err(invalid(
                path,
                "base.lambda",
                lambda,
                "a number strictly between 0 and 1",
            ));
        }
        let cap = |key: &str, v: Option<i64>, dflt: u32| -> Result<u32, WeightError> {
            match v {
                None => Ok(dflt),
                Some(c) if (1..=i64::from(u16::MAX)).contains(&c) => Ok(c as u32),
                Some(c) => Err(invalid(path, key, c, "an integer >= 1")),
            }
        };
        let base = BaseScheme {
            method,
            lambda,
            cap_adults: cap("base.cap_adults", b.cap_adults, d.base.cap_adults)?,
            cap_landlines: cap("base.cap_landlines", b.cap_landlines, d.base.cap_landlines)?,
            cap_mobiles: cap("base.cap_mobiles", b.cap_mobiles, d.base.cap_mobiles)?,
        };

        let bands = match raw.age_groups {
            None => d.bands,
            Some(ag) => validate_bands(&ag.bands, path)?,
        };

        let r = raw.raking.unwrap_or_default();
        let variables = match r.variables {
            None => d.raking.variables,
            Some(vs) => {
                if vs.is_empty() {
                    return Err(invalid(path, "raking.variables", "[]", "at least one raking variable"));
                }
                let mut out: Vec<RakeVar> = Vec::new();
                for v in &vs {
                    let var = RakeVar::from_name(v).ok_or_else(|| {
                        invalid(
                            path,
                            "raking.variables",
                            v,
                            "one of sex, age_group, education, employment, urbanicity",
                        )
                    })?;
                    if out.contains(&var) {
                        return Err(invalid(path, "raking.variables", v, "each variable listed once"));
                    }
                    out.push(var);
                }
                out
            }
        };
        let tolerance = r.tolerance.unwrap_or(d.raking.tolerance);
        if !(tolerance > 0.0 && tolerance < 1.0) {
            return Err(invalid(path, "raking.tolerance", tolerance, "a number > 0 (and < 1)"));
        }
        let max_iterations = match r.max_iterations {
            None => d.raking.max_iterations,
            Some(m) if (1..=1_000_000).contains(&m) => m as u32,
            Some(m) => {
                return Err(invalid(
                    path,
                    "raking.max_iterations",
                    m,
                    "an integer from 1 to 1000000",
                ));
            }
        };
        let on_nonconvergence = match r.on_nonconvergence.as_deref() {
            None => d.raking.on_nonconvergence,
            Some("error") => OnNonConvergence::Error,
            Some("warn") => OnNonConvergence::Warn,
            Some(o) => return Err(invalid(path, "raking.on_nonconvergence", o, "\"error\" or \"warn\"")),
        };
        let raking = RakingScheme {
            variables,
            tolerance,
            max_iterations,
            on_nonconvergence,
        };

        let trimming = match raw.trimming {
            None => None,
            Some(t) => {
                if !(t.lower > 0.0 && t.lower < 1.0) {
                    return Err(invalid(
                        path,
                        "trimming.lower",
                        t.lower,
                        "a number strictly between 0 and 1",
                    ));
                }
                if !(t.upper > 1.0 && t.upper.is_finite()) {
                    return Err(invalid(path, "trimming.upper", t.upper, "a finite number > 1"));
                }
                let max_rounds = match t.max_rounds {
                    None => 50,
                    Some(m) if (1..=10_000).contains(&m) => m as u32,
                    Some(m) => return Err(invalid(path, "trimming.max_rounds", m, "an integer from 1 to 10000")),
                };
                Some(TrimmingScheme {
                    lower: t.lower,
                    upper: t.upper,
                    max_rounds,
                })
            }
        };
        Ok(Scheme {
            base,
            bands,
            raking,
            trimming,
        })
    }

    /// The effective scheme as canonical TOML (every key written; hashed into the manifest).
    pub fn to_toml(&self) -> String {
        let raw = RawScheme {
            base: Some(RawBase {
                method: Some(
                    match self.base.method {
                        Method::Multiplicity => "multiplicity",
                        Method::Hartley => "hartley",
                    }
                    .into(),
                ),
                lambda: Some(self.base.lambda),
                cap_adults: Some(i64::from(self.base.cap_adults)),
                cap_landlines: Some(i64::from(self.base.cap_landlines)),
                cap_mobiles: Some(i64::from(self.base.cap_mobiles)),
            }),
            age_groups: Some(RawAgeGroups {
                bands: self.bands.iter().map(|b| b.label.clone()).collect(),
            }),
            raking: Some(RawRaking {
                variables: Some(self.raking.variables.iter().map(|v| v.name().to_string()).collect()),
                tolerance: Some(self.raking.tolerance),
                max_iterations: Some(i64::from(self.raking.max_iterations)),
                on_nonconvergence: Some(
                    match self.raking.on_nonconvergence {
                        OnNonConvergence::Error => "error",
                        OnNonConvergence::Warn => "warn",
                    }
                    .into(),
                ),
            }),
            trimming: self.trimming.as_ref().map(|t| RawTrimming {
                lower: t.lower,
                upper: t.upper,
                max_rounds: Some(i64::from(t.max_rounds)),
            }),
        };
        toml::to_string(&raw).unwrap_or_default()
    }

    /// Index of the band holding `age`, if any.
    pub fn band_of(&self, age: i16) -> Option<usize> {
        self.bands.iter().position(|b| b.contains(age))
    }
}

fn validate_bands(labels: &[String], path: &str) -> Result<Vec<Band>, WeightError> {
    let key = "age_groups.bands";
    if labels.is_empty() {
        return Err(invalid(path, key, "[]", "at least one band"));
    }
    let mut bands: Vec<Band> = Vec::with_capacity(labels.len());
    for l in labels {
        let b = parse_band(l).ok_or_else(|| invalid(path, key, l, "a band \"a-b\" (a <= b) or \"a+\""))?;
        match bands.last() {
            None if b.lo != AGE_MIN => {
                return Err(invalid(
                    path,
                    key,
                    l,
                    &format!("the first band to start at {AGE_MIN}, the youngest age"),
                ));
            }
            Some(prev) => match prev.hi {
                None => return Err(invalid(path, key, l, "no band after an open band \"a+\"")),
                Some(h) if b.lo != h + 1 => {
                    return Err(invalid(
                        path,
                        key,
                        l,
                        &format!("contiguous bands: this band to start at {}", h + 1),
                    ));
                }
                _ => {}
            },
            _ => {}
        }
        bands.push(b);
    }
    let last = bands.last().filter(|b| b.hi.is_some_and(|h| h < AGE_MAX));
    if let Some(b) = last {
        return Err(invalid(
            path,
            key,
            &b.label,
            &format!("the last band to reach {AGE_MAX} (write it as \"a+\")"),
        ));
    }
    Ok(bands)
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
