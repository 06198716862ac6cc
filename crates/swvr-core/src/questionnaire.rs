//! The questionnaire definition: items, answer codes, routing, derived
//! indicators and tabulation domains, read from a TOML file
//! (`questionnaire/unv_gallup_2021.toml` is the 2021 wave and the default).
//!
//! Everything downstream (ingest validation, tabulation) iterates over this
//! definition; nothing about Q1–Q8 is hard-coded in Rust.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::TomlError;

/// The definition of the 2021 wave, embedded at build time.
pub const DEFAULT_2021_TOML: &str = include_str!("../../../questionnaire/unv_gallup_2021.toml");

/// Errors in a questionnaire definition file.
#[derive(Debug, thiserror::Error)]
pub enum QuestionnaireError {
    /// The file could not be read.
    #[error("{path}: cannot read questionnaire: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Malformed TOML or wrong field types (located by line and column).
    #[error(transparent)]
    Toml(#[from] TomlError),
    /// Well-formed TOML that breaks a rule of the definition.
    #[error("{path}: invalid questionnaire: {message}")]
    Invalid {
        /// File path.
        path: String,
        /// What is wrong, naming the item or set.
        message: String,
    },
}

/// One answer code and its contract category name.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// The code as exported by CATI (e.g. 1, 2, 8, 9).
    pub code: i8,
    /// Category name used in outputs (`yes`, `dk`, …).
    pub category: String,
    /// True for DK/refused-type codes.
    #[serde(default)]
    pub missing: bool,
}

/// A named set of answer codes shared by several items.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AnswerSet {
    /// Codes in output order.
    pub codes: Vec<Code>,
}

impl AnswerSet {
    /// The entry for `code`, if valid.
    pub fn get(&self, code: i8) -> Option<&Code> {
        self.codes.iter().find(|c| c.code == code)
    }
    /// Position of `code` in [`AnswerSet::codes`].
    pub fn position(&self, code: i8) -> Option<usize> {
        self.codes.iter().position(|c| c.code == code)
    }
    /// The code whose category is `category`.
    pub fn code_of(&self, category: &str) -> Option<i8> {
        self.codes.iter().find(|c| c.category == category).map(|c| c.code)
    }
}

/// How a demographic variable is coded.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DemographicKind {
    /// Codes from an answer set.
    Coded {
        /// Name of the answer set.
        answers: String,
    },
    /// A number in `min..=max`, or one of `missing_codes`.
    Numeric {
        /// Smallest valid value.
        min: i16,
        /// Largest valid value.
        max: i16,
        /// DK/refused codes (e.g. 998, 999).
        #[serde(default)]
        missing_codes: Vec<i16>,
    },
}

/// A demographic variable, asked of everyone.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Demographic {
    /// Column name in respondents.csv.
    pub name: String,
    /// Question text.
    #[serde(default)]
    pub text: String,
    /// Coding.
    #[serde(flatten)]
    pub kind: DemographicKind,
}

/// A routing rule: asked when `item` was answered with one of `codes`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// An earlier item.
    pub item: String,
    /// Answers of that item that route here.
    #[serde(rename = "in")]
    pub codes: Vec<i8>,
}

/// A questionnaire item.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Column name in respondents.csv and item name in tables (`Q1`).
    pub id: String,
    /// Question text (English).
    pub text: String,
    /// Name of the answer set.
    pub answers: String,
    /// Routing; `None` = asked of everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_if: Option<Routing>,
}

/// A derived indicator.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Derived {
    /// `yes` when any listed item is `yes`; else `no` when every asked
    /// listed item is `no`; else `dk` when any is DK; else `refused`.
    /// Base: respondents asked at least one listed item.
    AnyYes {
        /// Indicator name.
        id: String,
        /// Description.
        #[serde(default)]
        text: String,
        /// Items combined.
        items: Vec<String>,
    },
    /// Share of `plus` minus share of `minus` among those asked `item`.
    Net {
        /// Indicator name.
        id: String,
        /// Description.
        #[serde(default)]
        text: String,
        /// The item.
        item: String,
        /// Category counted positive.
        plus: String,
        /// Category counted negative.
        minus: String,
    },
}

impl Derived {
    /// The indicator's name.
    pub fn id(&self) -> &str {
        match self {
            Derived::AnyYes { id, .. } | Derived::Net { id, .. } => id,
        }
    }
}

/// One level of a domain: a label and the codes that fall in it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Output label (`male`, `rural`, …).
    pub label: String,
    /// Codes of the domain variable in this level.
    pub codes: Vec<i8>,
}

/// The levels of a domain.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Levels {
    /// The literal string `"bands"`: the weighting scheme's age bands.
    Bands(BandsMarker),
    /// Explicit code groups.
    Codes(Vec<Level>),
}

/// The marker string `"bands"`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BandsMarker {
    /// `"bands"`.
    Bands,
}

/// A tabulation domain (subgroup breakdown).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// Domain name in tables (`sex`).
    pub name: String,
    /// Column of weighted.arrow it is read from.
    pub variable: String,
    /// Its levels.
    pub levels: Levels,
}

/// Columns with a fieldwork role (`[roles]`): extra columns of
/// respondents.csv that fieldwork quality checks read. Each is optional; a
/// role whose column is absent from the data is skipped (and reported).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// Interviewer identifier column (per-interviewer checks).
    #[serde(default)]
    pub interviewer: Option<String>,
    /// Interview duration in seconds (speeder check).
    #[serde(default)]
    pub duration: Option<String>,
    /// Interview date (per-interviewer date range).
    #[serde(default)]
    pub date: Option<String>,
}

/// A battery: items asked in a row with the same answer scale, checked for
/// straight-lining (every item given the same answer).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Battery {
    /// Battery name (output column `straightline_<name>`).
    pub name: String,
    /// Its items (two or more, each an item of the questionnaire).
    pub items: Vec<String>,
}

/// A validated questionnaire definition. It can only be built by
/// [`Questionnaire::from_toml_str`] (or [`Questionnaire::from_path`],
/// [`Questionnaire::default_2021`]), which check every rule below, so code
/// holding one trusts it; its parts are read through the accessor methods.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Questionnaire {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    wave: Option<i32>,
    answer_sets: BTreeMap<String, AnswerSet>,
    demographics: Vec<Demographic>,
    items: Vec<Item>,
    derived: Vec<Derived>,
    domains: Vec<Domain>,
    roles: Roles,
    batteries: Vec<Battery>,
}

/// The file as written; becomes a [`Questionnaire`] once validated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestionnaire {
    name: String,
    #[serde(default)]
    wave: Option<i32>,
    answer_sets: BTreeMap<String, AnswerSet>,
    demographics: Vec<Demographic>,
    items: Vec<Item>,
    #[serde(default)]
    derived: Vec<Derived>,
    #[serde(default)]
    domains: Vec<Domain>,
    #[serde(default)]
    roles: Roles,
    #[serde(default)]
    batteries: Vec<Battery>,
}

impl Questionnaire {
    /// The embedded 2021 definition.
    pub fn default_2021() -> Self {
        #[allow(clippy::expect_used)]
        Self::from_toml_str(DEFAULT_2021_TOML, "questionnaire/unv_gallup_2021.toml")
            .expect("embedded questionnaire is valid (tested)")
    }

    /// Reads and validates a definition file.
    pub fn from_path(path: &Path) -> Result<Self, QuestionnaireError> {
        let p = path.display().to_string();
        let text = crate::io::read_config(path).map_err(|source| QuestionnaireError::Io {
            path: p.clone(),
            source,
        })?;
        Self::from_toml_str(&text, &p)
    }

    /// Parses and validates a definition; `source` names it in errors.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self, QuestionnaireError> {
        let raw: RawQuestionnaire =
            toml::from_str(text).map_err(|e| TomlError::new(source, "questionnaire", text, &e))?;
        let q = Questionnaire {
            name: raw.name,
            wave: raw.wave,
            answer_sets: raw.answer_sets,
            demographics: raw.demographics,
            items: raw.items,
            derived: raw.derived,
            domains: raw.domains,
            roles: raw.roles,
            batteries: raw.batteries,
        };
        q.validate().map_err(|message| QuestionnaireError::Invalid {
            path: source.to_string(),
            message,
        })?;
        Ok(q)
    }

    fn validate(&self) -> Result<(), String> {
        for (name, set) in &self.answer_sets {
            if set.codes.is_empty() {
                return Err(format!("answer set {name} has no codes"));
            }
            for (i, c) in set.codes.iter().enumerate() {
                if c.code < 0 {
                    return Err(format!("answer set {name}: code {} is negative", c.code));
                }
                if set.codes[..i]
                    .iter()
                    .any(|d| d.code == c.code || d.category == c.category)
                {
                    return Err(format!(
                        "answer set {name}: code {} or category {} repeated",
                        c.code, c.category
                    ));
                }
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for d in &self.demographics {
            if seen.contains(&d.name.as_str()) {
                return Err(format!("column {} defined twice", d.name));
            }
            seen.push(&d.name);
            match &d.kind {
                DemographicKind::Coded { answers } => {
                    if !self.answer_sets.contains_key(answers) {
                        return Err(format!("demographic {}: unknown answer set {answers}", d.name));
                    }
                }
                DemographicKind::Numeric {
                    min,
                    max,
                    missing_codes,
                } => {
                    if min > max {
                        return Err(format!("demographic {}: min {min} > max {max}", d.name));
                    }
                    if missing_codes.iter().any(|m| (min..=max).contains(&m)) {
                        return Err(format!(
                            "demographic {}: a missing code lies in the valid range",
                            d.name
                        ));
                    }
                }
            }
        }
        for (i, item) in self.items.iter().enumerate() {
            if seen.contains(&item.id.as_str()) {
                return Err(format!("column {} defined twice", item.id));
            }
            seen.push(&item.id);
            if !self.answer_sets.contains_key(&item.answers) {
                return Err(format!("item {}: unknown answer set {}", item.id, item.answers));
            }
            if let Some(r) = &item.asked_if {
                let Some(earlier) = self.items[..i].iter().find(|e| e.id == r.item) else {
                    return Err(format!(
                        "item {}: routing refers to {}, which is not an earlier item",
                        item.id, r.item
                    ));
                };
                let set = &self.answer_sets[&earlier.answers];
                if let Some(bad) = r.codes.iter().find(|c| set.get(**c).is_none()) {
                    return Err(format!(
                        "item {}: routing code {bad} is not an answer of {}",
                        item.id, r.item
                    ));
                }
            }
        }
        for d in &self.derived {
            if seen.contains(&d.id()) {
                return Err(format!("derived indicator {} clashes with a column", d.id()));
            }
            seen.push(d.id());
            match d {
                Derived::AnyYes { id, items, .. } => {
                    if items.is_empty() {
                        return Err(format!("derived {id}: no items"));
                    }
                    for it in items {
                        let Some(item) = self.item(it) else {
                            return Err(format!("derived {id}: unknown item {it}"));
                        };
                        if self.answer_set(item).code_of("yes").is_none() {
                            return Err(format!("derived {id}: item {it} has no `yes` answer"));
                        }
                    }
                }
                Derived::Net {
                    id, item, plus, minus, ..
                } => {
                    let Some(it) = self.item(item) else {
                        return Err(format!("derived {id}: unknown item {item}"));
                    };
                    let set = self.answer_set(it);
                    for cat in [plus, minus] {
                        if set.code_of(cat).is_none() {
                            return Err(format!("derived {id}: {item} has no category {cat}"));
                        }
                    }
                }
            }
        }
        for d in &self.domains {
            if d.name == "total" {
                return Err("domain `total` is implicit and cannot be defined".into());
            }
            if let Levels::Codes(levels) = &d.levels
                && levels.is_empty()
            {
                return Err(format!("domain {}: no levels", d.name));
            }
        }
        let columns = seen;
        for (role, col) in [
            ("interviewer", &self.roles.interviewer),
            ("duration", &self.roles.duration),
            ("date", &self.roles.date),
        ] {
            if let Some(c) = col
                && (c.is_empty() || columns.contains(&c.as_str()))
            {
                return Err(format!(
                    "roles.{role} = {c:?}: expected an extra column name (not empty, not an item or demographic)"
                ));
            }
        }
        for (i, b) in self.batteries.iter().enumerate() {
            if self.batteries[..i].iter().any(|o| o.name == b.name) {
                return Err(format!("battery {} defined twice", b.name));
            }
            if b.items.len() < 2 {
                return Err(format!("battery {}: expected two or more items", b.name));
            }
            for it in &b.items {
                if self.item(it).is_none() {
                    return Err(format!("battery {}: unknown item {it}", b.name));
                }
            }
        }
        Ok(())
    }

    /// Columns with a fieldwork role.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// Batteries checked for straight-lining.
    pub fn batteries(&self) -> &[Battery] {
        &self.batteries
    }

    /// Survey name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wave the definition was written for (informative).
    pub fn wave(&self) -> Option<i32> {
        self.wave
    }

    /// Named answer sets.
    pub fn answer_sets(&self) -> &BTreeMap<String, AnswerSet> {
        &self.answer_sets
    }

    /// Demographics (asked of everyone), in file order.
    pub fn demographics(&self) -> &[Demographic] {
        &self.demographics
    }

    /// Items in interview order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Derived indicators.
    pub fn derived(&self) -> &[Derived] {
        &self.derived
    }

    /// Tabulation domains (besides the implicit `total`).
    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    /// The effective definition as TOML: every key written out, defaults
    /// filled in. Reading it back gives an equal questionnaire (tested).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The item named `id`.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Index of item `id` in [`Questionnaire::items`].
    pub fn item_index(&self, id: &str) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }

    /// The answer set of an item (validated to exist).
    pub fn answer_set(&self, item: &Item) -> &AnswerSet {
        &self.answer_sets[&item.answers]
    }

    /// The answer set of a coded demographic, `None` for numeric ones.
    pub fn demographic_set(&self, d: &Demographic) -> Option<&AnswerSet> {
        match &d.kind {
            DemographicKind::Coded { answers } => self.answer_sets.get(answers),
            DemographicKind::Numeric { .. } => None,
        }
    }

    /// The demographic named `name`.
    pub fn demographic(&self, name: &str) -> Option<&Demographic> {
        self.demographics.iter().find(|d| d.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_definition_is_valid_and_complete() {
        let q = Questionnaire::default_2021();
        let ids: Vec<&str> = q.items().iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q4B", "Q4B_1", "Q5A", "Q6", "Q6A", "Q7", "Q8A", "Q8B", "Q8C",
                "Q8D", "Q8E"
            ]
        );
        let q4b1 = q.item("Q4B_1").and_then(|i| i.asked_if.clone());
        assert_eq!(
            q4b1,
            Some(Routing {
                item: "Q4A".into(),
                codes: vec![2, 8, 9]
            })
        );
        assert_eq!(q.derived().len(), 4);
        assert_eq!(q.domains().len(), 5);
    }

    #[test]
    fn routing_must_refer_to_an_earlier_item() {
        let text = DEFAULT_2021_TOML.replace(
            "asked_if = { item = \"Q1\", in = [2, 8, 9] }",
            "asked_if = { item = \"Q7\", in = [2] }",
        );
        let err = Questionnaire::from_toml_str(&text, "q.toml").unwrap_err().to_string();
        assert!(
            err.contains("q.toml") && err.contains("Q2") && err.contains("not an earlier item"),
            "{err}"
        );
    }

    #[test]
    fn roles_and_batteries_are_declared_and_checked() {
        let q = Questionnaire::default_2021();
        assert_eq!(q.roles().interviewer.as_deref(), Some("interviewer_id"));
        assert_eq!(q.roles().duration.as_deref(), Some("duration_s"));
        assert_eq!(q.roles().date.as_deref(), Some("interview_date"));
        assert_eq!(q.batteries().len(), 1);
        assert_eq!(q.batteries()[0].items, ["Q8A", "Q8B", "Q8C", "Q8D", "Q8E"]);
        let bad = DEFAULT_2021_TOML.replace("items = [\"Q8A\", \"Q8B\"", "items = [\"Q8Z\", \"Q8B\"");
        let err = Questionnaire::from_toml_str(&bad, "q.toml").unwrap_err().to_string();
        assert!(
            err.contains("q.toml") && err.contains("battery Q8: unknown item Q8Z"),
            "{err}"
        );
        let bad = DEFAULT_2021_TOML.replace("duration = \"duration_s\"", "duration = \"Q1\"");
        let err = Questionnaire::from_toml_str(&bad, "q.toml").unwrap_err().to_string();
        assert!(
            err.contains("roles.duration = \"Q1\": expected an extra column name"),
            "{err}"
        );
        let bad = DEFAULT_2021_TOML.replace("\"Q8C\", \"Q8D\", \"Q8E\"]", "]");
        let bad = bad.replace("items = [\"Q8A\", \"Q8B\", ]", "items = [\"Q8A\"]");
        let err = Questionnaire::from_toml_str(&bad, "q.toml").unwrap_err().to_string();
        assert!(err.contains("battery Q8: expected two or more items"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let text = format!("{DEFAULT_2021_TOML}\nbogus = 1\n");
        let line = text.lines().count();
        let err = Questionnaire::from_toml_str(&text, "q.toml").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "q.toml: line {line}, column 1: malformed questionnaire: unknown field `bogus`"
            )),
            "{err}"
        );
    }

    #[test]
    fn effective_toml_reads_back_equal() {
        let q = Questionnaire::default_2021();
        let text = q.to_toml();
        let again = Questionnaire::from_toml_str(&text, "effective").unwrap();
        assert_eq!(again, q);
        assert_eq!(again.to_toml(), text);
    }
}
