//! The scheme bound to the run's questionnaire: which columns are raked,
//! their categories (codes or bands), their DK/refused codes and valid
//! ranges, and the raking margins as products of those components.
//!
//! Everything here comes from the questionnaire's `[[demographics]]` and the
//! scheme; nothing names a demographic. Every mismatch between the two is
//! reported at once, before any data is read.

use swvr_core::questionnaire::{DemographicKind, Questionnaire};

use crate::WeightError;
use crate::scheme::{BandSet, Scheme, SchemeMistake, SchemeMistakes};

/// Most cells the cross-classification of the raking components may have.
pub const MAX_CELLS: usize = 1 << 20;

/// How a component's category is found from its column.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A coded demographic (Int8 column): category = position in `codes`.
    Coded {
        /// Valid codes in questionnaire order (index = category).
        codes: Vec<i8>,
        /// DK/refused codes.
        missing: Vec<i8>,
    },
    /// A banded numeric demographic (Int16 column): category = band.
    Banded {
        /// Index into [`Plan::bands`].
        set: usize,
    },
}

/// A raking component: one demographic variable (imputed on its own).
#[derive(Debug, Clone)]
pub(crate) struct Component {
    /// Variable name (`sex`, `age_group`): targets.csv and output prefixes.
    pub name: String,
    /// Column of respondents.arrow it is read from (`sex`, `age`).
    pub column: String,
    /// Coding.
    pub kind: Kind,
    /// Category labels as written in targets.csv, in order.
    pub labels: Vec<String>,
}

/// A raking margin: its components and its categories (the cells of the
/// components' cross-classification, first component slowest).
#[derive(Debug, Clone)]
pub(crate) struct MarginPlan {
    /// Name as in targets.csv (`sex*age_group`).
    pub name: String,
    /// Indices into [`Plan::components`], in the margin's order.
    pub comps: Vec<usize>,
    /// Category labels (`1*15-29`), in mixed-radix order.
    pub labels: Vec<String>,
}

impl MarginPlan {
    /// Number of categories.
    pub fn levels(&self) -> usize {
        self.labels.len()
    }
}

/// A banded numeric demographic written to weighted.arrow as `D_group`.
#[derive(Debug, Clone)]
pub(crate) struct Bands {
    /// Output column (`age_group`).
    pub variable: String,
    /// Numeric column banded (`age`).
    pub column: String,
    /// The bands.
    pub set: BandSet,
    /// Valid range of the questionnaire.
    pub min: i16,
    /// Valid range of the questionnaire.
    pub max: i16,
    /// DK/refused codes of the questionnaire.
    pub missing: Vec<i16>,
}

impl Bands {
    /// Band of a valid value; `None` for a DK/refused code or a value
    /// outside the questionnaire's range.
    pub fn band_of(&self, v: i16) -> Option<usize> {
        (self.min..=self.max)
            .contains(&v)
            .then(|| self.set.band_of(v))
            .flatten()
    }
}

/// The scheme bound to a questionnaire.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Banded numeric demographics (all written to weighted.arrow).
    pub bands: Vec<Bands>,
    /// Raking components in order of first appearance in the margins.
    pub components: Vec<Component>,
    /// Raking margins in scheme order.
    pub margins: Vec<MarginPlan>,
}

impl Plan {
    /// Binds `scheme` to `q`, reporting every mismatch at once.
    pub fn new(scheme: &Scheme, q: &Questionnaire) -> Result<Self, WeightError> {
        let mut mistakes: Vec<SchemeMistake> = Vec::new();
        let mut bands: Vec<Bands> = Vec::new();
        for (i, set) in scheme.band_sets().iter().enumerate() {
            let mut bad = |expected: String| {
                mistakes.push(SchemeMistake {
                    line: scheme.band_line(i),
                    key: set.key(),
                    value: format!("bands of `{}`", set.demographic),
                    expected,
                })
            };
            let Some(d) = q.demographic(&set.demographic) else {
                if !set.default {
                    bad(format!(
                        "a numeric demographic of questionnaire \"{}\" ({})",
                        q.name(),
                        names(q, true)
                    ));
                }
                continue;
            };
            let DemographicKind::Numeric {
                min,
                max,
                missing_codes,
            } = &d.kind
            else {
                bad(format!(
                    "a numeric demographic; `{}` is coded: rake on it directly",
                    set.demographic
                ));
                continue;
            };
            let (first, last) = match (set.bands.first(), set.bands.last()) {
                (Some(f), Some(l)) => (f, l),
                _ => continue,
            };
            if first.lo != *min {
                bad(format!(
                    "the first band to start at {min}, the smallest valid `{}` of the questionnaire (found \"{}\")",
                    set.demographic, first.label
                ));
            }
            if last.hi.is_some_and(|h| h < *max) {
                bad(format!(
                    "the last band to reach {max}, the largest valid `{}` of the questionnaire (write it as \"a+\"; found \"{}\")",
                    set.demographic, last.label
                ));
            }
            bands.push(Bands {
                variable: set.variable(),
                column: set.demographic.clone(),
                set: set.clone(),
                min: *min,
                max: *max,
                missing: missing_codes.clone(),
            });
        }

        let mut components: Vec<Component> = Vec::new();
        let mut margins: Vec<MarginPlan> = Vec::new();
        for (i, m) in scheme.raking().variables.iter().enumerate() {
            let mut comps = Vec::with_capacity(m.components.len());
            for name in &m.components {
                if let Some(k) = components.iter().position(|c| &c.name == name) {
                    comps.push(k);
                    continue;
                }
                match component(name, &bands, q) {
                    Ok(c) => {
                        comps.push(components.len());
                        components.push(c);
                    }
                    Err(expected) => mistakes.push(SchemeMistake {
                        line: scheme.margin_line(i),
                        key: "raking.variables".into(),
                        value: format!("\"{}\"", m.name()),
                        expected,
                    }),
                }
            }
            if comps.len() == m.components.len() {
                let labels = cells(&comps, &components);
                margins.push(MarginPlan {
                    name: m.name(),
                    comps,
                    labels,
                });
            }
        }
        let cells = components
            .iter()
            .try_fold(1usize, |acc, c| acc.checked_mul(c.labels.len()));
        if cells.is_none_or(|c| c > MAX_CELLS) {
            mistakes.push(SchemeMistake {
                line: scheme.margin_line(0),
                key: "raking.variables".into(),
                value: components.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
                expected: format!(
                    "at most {MAX_CELLS} cells in the cross-classification of the raking variables (the product of their numbers of categories)"
                ),
            });
        }
        if !mistakes.is_empty() {
            mistakes.sort_by_key(|m| m.line.unwrap_or(usize::MAX));
            return Err(WeightError::Scheme(Box::new(SchemeMistakes {
                path: format!("{} (with questionnaire \"{}\")", scheme.source(), q.name()),
                mistakes,
            })));
        }
        Ok(Plan {
            bands,
            components,
            margins,
        })
    }
}

/// The raking component called `name`, or what was expected.
fn component(name: &str, bands: &[Bands], q: &Questionnaire) -> Result<Component, String> {
    if let Some((set, b)) = bands.iter().enumerate().find(|(_, b)| b.variable == name) {
        return Ok(Component {
            name: name.to_string(),
            column: b.column.clone(),
            kind: Kind::Banded { set },
            labels: b.set.bands.iter().map(|x| x.label.clone()).collect(),
        });
    }
    let expected = || {
        format!(
            "coded demographics of questionnaire \"{}\" ({}) or banded numeric ones ({})",
            q.name(),
            names(q, false),
            if bands.is_empty() {
                "none declared".to_string()
            } else {
                bands.iter().map(|b| b.variable.as_str()).collect::<Vec<_>>().join(", ")
            }
        )
    };
    let Some(d) = q.demographic(name) else {
        return Err(format!("`{name}` is not a demographic: {}", expected()));
    };
    match (&d.kind, q.demographic_set(d)) {
        (DemographicKind::Coded { .. }, Some(set)) => {
            let codes: Vec<i8> = set.codes.iter().filter(|c| !c.missing).map(|c| c.code).collect();
            let missing: Vec<i8> = set.codes.iter().filter(|c| c.missing).map(|c| c.code).collect();
            Ok(Component {
                name: name.to_string(),
                column: name.to_string(),
                labels: codes.iter().map(|c| c.to_string()).collect(),
                kind: Kind::Coded { codes, missing },
            })
        }
        _ => Err(format!(
            "`{name}` is numeric: rake on its bands, `{name}_group`, declared in [bands.{name}] (or [age_groups] for age)"
        )),
    }
}

/// The demographics of `q` of one kind, comma-separated.
fn names(q: &Questionnaire, numeric: bool) -> String {
    let v: Vec<&str> = q
        .demographics()
        .iter()
        .filter(|d| matches!(d.kind, DemographicKind::Numeric { .. }) == numeric)
        .map(|d| d.name.as_str())
        .collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// Labels of the cells of `comps` (first slowest), components joined by `*`.
fn cells(comps: &[usize], components: &[Component]) -> Vec<String> {
    let mut out = vec![String::new()];
    for (j, &k) in comps.iter().enumerate() {
        let mut next = Vec::with_capacity(out.len() * components[k].labels.len());
        for prefix in &out {
            for l in &components[k].labels {
                next.push(if j == 0 { l.clone() } else { format!("{prefix}*{l}") });
            }
        }
        out = next;
    }
    out
}
