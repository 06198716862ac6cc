//! The model specification (`--spec FILE`, TOML): outcome, predictors,
//! controls with their reference levels, estimation method and convergence.
//!
//! Parsed once at the edge into a [`ModelSpec`] that the estimator trusts
//! (private fields: a spec exists only once validated). The default is the
//! report's Appendix E model, the commented file
//! `questionnaire/model_appendix_e.toml` embedded as [`DEFAULT_SPEC_TOML`]
//! and parsed like a user's file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use swvr_core::config::TomlError;

use crate::ModelError;

/// The built-in specification (Appendix E), byte for byte as committed;
/// `swvr defaults spec` prints it.
pub const DEFAULT_SPEC_TOML: &str = include_str!("../../../questionnaire/model_appendix_e.toml");

/// Estimation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Maximum (weighted) likelihood, as R's `svyglm(family = quasibinomial)`.
    Logit,
    /// Firth's penalised likelihood (Jeffreys prior): finite estimates under separation.
    Firth,
}

impl Method {
    /// The name used in the spec and in the output's `method` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Logit => "logit",
            Method::Firth => "firth",
        }
    }
}

/// The binary outcome: which codes count as 1 and which as 0; any other
/// code (DK, refused) or null leaves the respondent out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Column (questionnaire item).
    pub item: String,
    /// Codes coded 1.
    pub yes: Vec<i64>,
    /// Codes coded 0.
    pub no: Vec<i64>,
}

/// A 0/1 predictor built from an item, one term named `term` (default: the item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predictor {
    /// Column (questionnaire item).
    pub item: String,
    /// Term name in the output (default: `item`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// Codes coded 1.
    pub yes: Vec<i64>,
    /// Codes coded 0.
    pub no: Vec<i64>,
}

impl Predictor {
    /// The output term name.
    pub fn term_name(&self) -> &str {
        self.term.as_deref().unwrap_or(&self.item)
    }
}

/// One level of a categorical control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Label (the term is `variable=label`). For a text column (e.g.
    /// `age_group`) without `codes`, the value that selects the level.
    pub label: String,
    /// Integer codes of the level (integer columns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<i64>,
}

/// The levels of a control: listed, or `"bands"` = the values listed in the
/// column's `swvr.levels` field metadata (the age bands of the weighting scheme).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Levels {
    /// `levels = "bands"`.
    Named(String),
    /// `levels = [{ label = "male", codes = [1] }, …]`.
    Listed(Vec<Level>),
}

/// A categorical control: one dummy term `variable=label` per non-reference level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Column of weighted.arrow.
    pub variable: String,
    /// The levels, first = reference unless `reference` is given.
    pub levels: Levels,
    /// The reference level's label (default: the first level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// IRLS / Newton convergence settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Convergence {
    /// Converged when every `|Δβ_j| / (1 + |β_j|)` of an iteration is below this.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Iteration limit; reaching it is reported in the `note` column.
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u32,
}

fn default_tolerance() -> f64 {
    1e-10
}
fn default_max_iterations() -> u32 {
    100
}

impl Default for Convergence {
    fn default() -> Self {
        Self {
            tolerance: default_tolerance(),
            max_iterations: default_max_iterations(),
        }
    }
}

fn default_method() -> Method {
    Method::Logit
}

/// A validated model specification: built only by [`ModelSpec::from_toml`],
/// [`ModelSpec::from_path`] or [`ModelSpec::default_spec`], which check it;
/// read through the accessor methods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    pub(crate) method: Method,
    pub(crate) weight: String,
    pub(crate) outcome: Outcome,
    pub(crate) predictors: Vec<Predictor>,
    pub(crate) controls: Vec<Control>,
    pub(crate) convergence: Convergence,
}

/// The file as written; becomes a [`ModelSpec`] once validated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default = "default_method")]
    method: Method,
    #[serde(default = "default_weight")]
    weight: String,
    outcome: Outcome,
    predictors: Vec<Predictor>,
    #[serde(default)]
    controls: Vec<Control>,
    #[serde(default)]
    convergence: Convergence,
}

fn default_weight() -> String {
    "weight".into()
}

impl ModelSpec {
    /// The built-in specification ([`DEFAULT_SPEC_TOML`], the report's
    /// Appendix E model): Q7 yes vs no on Q1, Q3A, Q3B, Q3C with sex, age
    /// group, education, urbanicity and employment as controls, ordinary
    /// (svyglm-equivalent) estimation.
    pub fn default_spec() -> Self {
        #[allow(clippy::expect_used)]
        Self::from_toml(DEFAULT_SPEC_TOML, Path::new("questionnaire/model_appendix_e.toml"))
            .expect("the embedded specification is valid (tested)")
    }

    /// The estimation method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The same specification estimated with `method`.
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Column holding the final weights.
    pub fn weight(&self) -> &str {
        &self.weight
    }

    /// The outcome.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// The 0/1 predictors.
    pub fn predictors(&self) -> &[Predictor] {
        &self.predictors
    }

    /// The categorical controls.
    pub fn controls(&self) -> &[Control] {
        &self.controls
    }

    /// Convergence settings.
    pub fn convergence(&self) -> &Convergence {
        &self.convergence
    }

    /// Reads and validates a specification file.
    pub fn from_path(path: &Path) -> Result<Self, ModelError> {
        let text = swvr_core::io::read_config(path).map_err(|source| ModelError::SpecRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates specification text (`path` names it in errors).
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ModelError> {
        let raw: RawSpec = toml::from_str(text)
            .map_err(|e| TomlError::new(path.display().to_string(), "model specification", text, &e))?;
        let spec = ModelSpec {
            method: raw.method,
            weight: raw.weight,
            outcome: raw.outcome,
            predictors: raw.predictors,
            controls: raw.controls,
            convergence: raw.convergence,
        };
        spec.validate(path)?;
        Ok(spec)
    }

    /// The effective specification as TOML: every key written out, defaults
    /// filled in (`model/spec.toml` of a run). Reading it back gives an equal
    /// specification (tested).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks the invariants the estimator relies on.
    fn validate(&self, path: &Path) -> Result<(), ModelError> {
        let bad = |expected: String| ModelError::SpecInvalid {
            path: path.to_path_buf(),
            expected,
        };
        check_codes(&self.outcome.yes, &self.outcome.no, "outcome").map_err(bad)?;
        if self.predictors.is_empty() && self.controls.is_empty() {
            return Err(bad("at least one predictor or control".into()));
        }
        let mut terms: Vec<String> = vec!["(Intercept)".into()];
        for p in &self.predictors {
            check_codes(&p.yes, &p.no, &format!("predictor `{}`", p.item)).map_err(bad)?;
            terms.push(p.term_name().to_string());
        }
        for c in &self.controls {
            match &c.levels {
                Levels::Named(n) if n == "bands" => {}
                Levels::Named(n) => {
                    return Err(bad(format!(
                        "control `{}`: levels = \"bands\" or a list of {{ label, codes }}, found \"{n}\"",
                        c.variable
                    )));
                }
                Levels::Listed(levels) => {
                    if levels.len() < 2 {
                        return Err(bad(format!("control `{}`: at least two levels", c.variable)));
                    }
                    let mut seen_codes: Vec<i64> = Vec::new();
                    for (i, l) in levels.iter().enumerate() {
                        if levels[..i].iter().any(|m| m.label == l.label) {
                            return Err(bad(format!(
                                "control `{}`: distinct level labels (`{}` repeated)",
                                c.variable, l.label
                            )));
                        }
                        for code in &l.codes {
                            if seen_codes.contains(code) {
                                return Err(bad(format!(
                                    "control `{}`: each code in one level only (code {code} repeated)",
                                    c.variable
                                )));
                            }
                            seen_codes.push(*code);
                        }
                    }
                    let with_codes = levels.iter().filter(|l| !l.codes.is_empty()).count();
                    if with_codes != 0 && with_codes != levels.len() {
                        return Err(bad(format!(
                            "control `{}`: codes on every level or on none (text column)",
                            c.variable
                        )));
                    }
                    if let Some(r) = &c.reference
                        && !levels.iter().any(|l| &l.label == r)
                    {
                        return Err(bad(format!(
                            "control `{}`: reference `{r}` to be one of its levels",
                            c.variable
                        )));
                    }
                    let reference = c.reference.as_deref().unwrap_or(&levels[0].label);
                    for l in levels.iter().filter(|l| l.label != reference) {
                        terms.push(format!("{}={}", c.variable, l.label));
                    }
                }
            }
        }
        let mut sorted = terms.clone();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("distinct term names (`{}` repeated)", w[0])));
        }
        let c = &self.convergence;
        if !(c.tolerance.is_finite() && c.tolerance > 0.0 && c.tolerance < 1.0) {
            return Err(bad(format!("convergence.tolerance in (0, 1), found {}", c.tolerance)));
        }
        if c.max_iterations == 0 {
            return Err(bad("convergence.max_iterations ≥ 1".into()));
        }
        Ok(())
    }
}

fn check_codes(yes: &[i64], no: &[i64], what: &str) -> Result<(), String> {
    if yes.is_empty() || no.is_empty() {
        return Err(format!("{what}: non-empty `yes` and `no` code lists"));
    }
    if let Some(c) = yes.iter().find(|c| no.contains(c)) {
        return Err(format!("{what}: disjoint `yes` and `no` codes (code {c} in both)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes_no(item: &str) -> Predictor {
        Predictor {
            item: item.into(),
            term: None,
            yes: vec![1],
            no: vec![2],
        }
    }

    fn listed(variable: &str, levels: &[(&str, &[i64])]) -> Control {
        Control {
            variable: variable.into(),
            levels: Levels::Listed(
                levels
                    .iter()
                    .map(|(l, c)| Level {
                        label: (*l).into(),
                        codes: c.to_vec(),
                    })
                    .collect(),
            ),
            reference: None,
        }
    }

    /// The contract's Appendix E model, written out in Rust.
    fn appendix_e() -> ModelSpec {
        ModelSpec {
            method: Method::Logit,
            weight: "weight".into(),
            outcome: Outcome {
                item: "Q7".into(),
                yes: vec![1],
                no: vec![2],
            },
            predictors: ["Q1", "Q3A", "Q3B", "Q3C"].into_iter().map(yes_no).collect(),
            controls: vec![
                listed("sex", &[("male", &[1]), ("female", &[2])]),
                Control {
                    variable: "age_group".into(),
                    levels: Levels::Named("bands".into()),
                    reference: None,
                },
                listed(
                    "education",
                    &[("primary", &[1]), ("secondary", &[2]), ("tertiary", &[3])],
                ),
                listed("urbanicity", &[("rural", &[1, 2]), ("urban", &[3, 4])]),
                listed("employment", &[("employed", &[1]), ("not_employed", &[2])]),
            ],
            convergence: Convergence::default(),
        }
    }

    #[test]
    fn the_embedded_default_is_the_contract_model() {
        assert_eq!(ModelSpec::default_spec(), appendix_e());
    }
}
