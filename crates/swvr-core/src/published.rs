//! The published figures the pipeline's outputs are compared with: the
//! report's views (`questionnaire/report_2021.toml`) and the published
//! Table A2 of the model (`questionnaire/published_table_a2.toml`).
//!
//! Both are data, read by more than one stage (tabulate and model write
//! Markdown from them, the HTML report charts them), so they are parsed here.
//!
//! ```
//! let def = swvr_core::published::ReportDef::default_2021().unwrap();
//! assert_eq!(def.views[0].id, "fig_3_3");
//! let a2 = swvr_core::published::TableA2::builtin();
//! assert_eq!(a2.cells["IND"]["Q1"], "7.86");
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// The report definition embedded at build time.
pub const REPORT_2021_TOML: &str = include_str!("../../../questionnaire/report_2021.toml");
/// The published Table A2 embedded at build time.
pub const TABLE_A2_TOML: &str = include_str!("../../../questionnaire/published_table_a2.toml");

/// A malformed definition of published figures.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{path}: report definition: {message}")]
pub struct PublishedError {
    /// File (or the name of the embedded definition).
    pub path: String,
    /// What is wrong (the TOML parser's message includes line and column).
    pub message: String,
}

/// One column of a view: an estimate picked by item, category, domain, level.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Header.
    pub label: String,
    /// Item or derived indicator.
    pub item: String,
    /// Category.
    pub category: String,
    /// Domain (default `total`).
    #[serde(default = "total")]
    pub domain: String,
    /// Level (default `total`).
    #[serde(default = "total")]
    pub level: String,
}

fn total() -> String {
    "total".into()
}

/// A published table or figure.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// Identifier.
    pub id: String,
    /// Title.
    pub title: String,
    /// Explanation.
    #[serde(default)]
    pub note: String,
    /// Columns.
    pub columns: Vec<Column>,
    /// Published figures (percent; net figures in points) per country, in column order.
    #[serde(default)]
    pub published: BTreeMap<String, Vec<f64>>,
}

/// The report definition: its views and the wave their published figures belong to.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportDef {
    /// Title.
    pub title: String,
    /// Wave of the published figures.
    pub wave: i32,
    /// Views.
    pub views: Vec<View>,
}

impl ReportDef {
    /// Parses and checks a definition; `source` names it in errors.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self, PublishedError> {
        let err = |message: String| PublishedError {
            path: source.to_string(),
            message,
        };
        let def: ReportDef = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for v in &def.views {
            for (country, values) in &v.published {
                if values.len() != v.columns.len() {
                    return Err(err(format!(
                        "view {}: {country} has {} published values, expected one per column ({})",
                        v.id,
                        values.len(),
                        v.columns.len()
                    )));
                }
            }
        }
        Ok(def)
    }

    /// The embedded 2021 definition.
    pub fn default_2021() -> Result<Self, PublishedError> {
        Self::from_toml_str(REPORT_2021_TOML, "questionnaire/report_2021.toml")
    }

    /// The published figures of `view` for (country, wave): `None` for a
    /// country or wave the report did not publish.
    pub fn published<'a>(&self, view: &'a View, country: &str, wave: i32) -> Option<&'a [f64]> {
        if wave != self.wave {
            return None;
        }
        view.published.get(country).map(Vec::as_slice)
    }
}

/// The published Table A2 (`questionnaire/published_table_a2.toml`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableA2 {
    /// Country → term → cell text ("3.94" or "n.s.").
    pub cells: BTreeMap<String, BTreeMap<String, String>>,
    /// The wave the table refers to.
    pub wave: Option<i32>,
}

impl TableA2 {
    /// The table committed with the project (embedded at build time).
    pub fn builtin() -> Self {
        Self::parse(TABLE_A2_TOML).unwrap_or_default()
    }

    /// Parses the TOML layout of `published_table_a2.toml`: `wave` and
    /// `[countries.XXX]` tables of term = odds ratio or `"n.s."`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut cells = BTreeMap::new();
        if let Some(countries) = table.get("countries").and_then(|c| c.as_table()) {
            for (country, terms) in countries {
                let mut row = BTreeMap::new();
                for (term, v) in terms.as_table().into_iter().flatten() {
                    let text = match v {
                        toml::Value::Float(f) => format!("{f:.2}"),
                        toml::Value::Integer(i) => format!("{i:.2}"),
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    row.insert(term.clone(), text);
                }
                cells.insert(country.clone(), row);
            }
        }
        let wave = table
            .get("wave")
            .and_then(|w| w.as_integer())
            .and_then(|w| i32::try_from(w).ok());
        Ok(Self { cells, wave })
    }

    /// The published cell of (country, wave, term), if the table has one.
    pub fn cell(&self, country: &str, wave: i32, term: &str) -> Option<&str> {
        if self.wave.is_some_and(|w| w != wave) {
            return None;
        }
        self.cells.get(country)?.get(term).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_country_with_too_few_values_is_named() {
        let bad = REPORT_2021_TOML.replace("BOL = [81, 75]", "BOL = [81]");
        let msg = ReportDef::from_toml_str(&bad, "r.toml").unwrap_err().to_string();
        assert_eq!(
            msg,
            "r.toml: report definition: view fig_3_3: BOL has 1 published values, expected one per column (2)"
        );
    }

    #[test]
    fn published_figures_only_for_their_wave_and_countries() {
        let def = ReportDef::default_2021().unwrap();
        let v = &def.views[0];
        assert_eq!(def.published(v, "BOL", 2021), Some(&[81.0, 75.0][..]));
        assert_eq!(def.published(v, "BOL", 2022), None);
        assert_eq!(def.published(v, "FRA", 2021), None);
        let a2 = TableA2::builtin();
        assert_eq!(a2.cell("SEN", 2021, "Q1"), Some("n.s."));
        assert_eq!(a2.cell("SEN", 2020, "Q1"), None);
    }
}
