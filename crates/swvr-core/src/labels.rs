//! Variable and value labels from the questionnaire, for every labelled
//! output: Arrow field metadata and the SPSS, Stata, Parquet and Excel
//! exports all read them from here.
//!
//! A column is labelled when it is a questionnaire item, a demographic, or a
//! column derived from one (`D_weighting` takes the labels of demographic
//! `D`). Its *variable label* is the question text, its *value labels* map
//! each code to the answer set's category name, in questionnaire order, and
//! its *missing codes* are the codes marked `missing = true` (DK/refused).
//! Numeric demographics (age) have no answer set: their `missing_codes`
//! follow the CATI convention that a code ending in 8 is "don't know" and
//! one ending in 9 is "refused" (998, 999).
//!
//! In Arrow files the labels live in field metadata under [`LABEL_KEY`] (the
//! question text) and [`VALUE_LABELS_KEY`] (a JSON object `{"1": "yes", …}`
//! whose keys are the codes as decimal strings, in questionnaire order), and
//! [`MISSING_KEY`] (a JSON array of the DK/refused codes). Codes stay integers.
//!
//! ```
//! let q = swvr_core::questionnaire::Questionnaire::default_2021();
//! let l = swvr_core::labels::column_labels(&q, "Q7").unwrap();
//! assert!(l.label.starts_with("In the next 12 months"));
//! assert_eq!(l.values[0], (1, "yes".to_string()));
//! assert_eq!(l.missing, vec![(8, swvr_core::labels::MissingKind::Dk), (9, swvr_core::labels::MissingKind::Refused)]);
//! ```

use std::collections::HashMap;

use arrow_schema::{Field, Schema};

use crate::questionnaire::{AnswerSet, DemographicKind, Questionnaire};

/// Field-metadata key: the variable label (question text).
pub const LABEL_KEY: &str = "swvr.label";
/// Field-metadata key: value labels as a JSON object, code (decimal string) → category name.
pub const VALUE_LABELS_KEY: &str = "swvr.value_labels";
/// Field-metadata key: the DK/refused codes as a JSON array of integers.
pub const MISSING_KEY: &str = "swvr.missing";
/// Schema-metadata key: the swvr version that wrote the file.
pub const SWVR_VERSION_KEY: &str = "swvr.version";
/// Schema-metadata key: the questionnaire's name.
pub const QUESTIONNAIRE_KEY: &str = "swvr.questionnaire";
/// Schema-metadata key: the wave the questionnaire was written for.
pub const QUESTIONNAIRE_WAVE_KEY: &str = "swvr.questionnaire_wave";
/// Schema-metadata key: SHA-256 of the effective weighting scheme (TOML).
pub const SCHEME_HASH_KEY: &str = "swvr.scheme_sha256";

/// What kind of missing answer a code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKind {
    /// Don't know (category `dk`, or a numeric code ending in 8).
    Dk,
    /// Refused (category `refused`, or a numeric code ending in 9).
    Refused,
    /// Any other code marked missing.
    Other,
}

/// The labels of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnLabels {
    /// Variable label: the question text.
    pub label: String,
    /// Value labels, code → category name, in questionnaire order.
    pub values: Vec<(i64, String)>,
    /// DK/refused-type codes, in questionnaire order.
    pub missing: Vec<(i64, MissingKind)>,
}

fn from_set(label: &str, set: &AnswerSet) -> ColumnLabels {
    ColumnLabels {
        label: label.to_string(),
        values: set
            .codes
            .iter()
            .map(|c| (i64::from(c.code), c.category.clone()))
            .collect(),
        missing: set
            .codes
            .iter()
            .filter(|c| c.missing)
            .map(|c| {
                let kind = match c.category.as_str() {
                    "dk" => MissingKind::Dk,
                    "refused" => MissingKind::Refused,
                    _ => MissingKind::Other,
                };
                (i64::from(c.code), kind)
            })
            .collect(),
    }
}

/// The labels of column `name` (an item, a demographic, or `D_weighting`
/// of a demographic `D`); `None` for columns the questionnaire does not
/// describe.
pub fn column_labels(q: &Questionnaire, name: &str) -> Option<ColumnLabels> {
    if let Some(item) = q.item(name) {
        return Some(from_set(&item.text, q.answer_set(item)));
    }
    let (demo, weighting) = match q.demographic(name) {
        Some(d) => (d, false),
        None => (q.demographic(name.strip_suffix("_weighting")?)?, true),
    };
    let text = if weighting {
        format!("{} (value used for weighting, DK/refused imputed)", demo.text)
    } else {
        demo.text.clone()
    };
    match &demo.kind {
        DemographicKind::Coded { .. } => {
            let mut l = from_set(&text, q.demographic_set(demo)?);
            if weighting {
                l.missing.clear();
            }
            Some(l)
        }
        DemographicKind::Numeric { missing_codes, .. } => Some(ColumnLabels {
            label: text,
            values: missing_codes
                .iter()
                .map(|&m| (i64::from(m), numeric_missing_kind(m).name().to_string()))
                .collect(),
            missing: missing_codes
                .iter()
                .map(|&m| (i64::from(m), numeric_missing_kind(m)))
                .collect(),
        }),
    }
}

impl MissingKind {
    /// Category name used as the value label (`dk`, `refused`, `missing`).
    pub fn name(self) -> &'static str {
        match self {
            MissingKind::Dk => "dk",
            MissingKind::Refused => "refused",
            MissingKind::Other => "missing",
        }
    }
}

/// The Stata extended missing value of each missing code, as a letter
/// index (1 = `.a` … 26 = `.z`): DK → `.d`, refused → `.r`, any other
/// missing code → `.a`, `.b`, … in questionnaire order (skipping d and r).
/// swvr's `.dta` export writes these; ingest reads them back to the codes.
pub fn stata_missing_letters(missing: &[(i64, MissingKind)]) -> Vec<(i64, u8)> {
    let mut next_other = 1u8;
    missing
        .iter()
        .map(|(code, kind)| {
            let k = match kind {
                MissingKind::Dk => 4,
                MissingKind::Refused => 18,
                MissingKind::Other => {
                    while next_other == 4 || next_other == 18 {
                        next_other += 1;
                    }
                    let k = next_other.min(26);
                    next_other += 1;
                    k
                }
            };
            (*code, k)
        })
        .collect()
}

fn numeric_missing_kind(code: i16) -> MissingKind {
    match code.rem_euclid(10) {
        8 => MissingKind::Dk,
        9 => MissingKind::Refused,
        _ => MissingKind::Other,
    }
}

/// JSON string literal of `s` (quotes and escapes included).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Field metadata for column `name`: [`LABEL_KEY`], [`VALUE_LABELS_KEY`]
/// and [`MISSING_KEY`]; empty for columns the questionnaire does not describe.
pub fn field_metadata(q: &Questionnaire, name: &str) -> HashMap<String, String> {
    let mut md = HashMap::new();
    if let Some(l) = column_labels(q, name) {
        md.insert(LABEL_KEY.to_string(), l.label.clone());
        let pairs: Vec<String> = l
            .values
            .iter()
            .map(|(c, v)| format!("{}:{}", json_string(&c.to_string()), json_string(v)))
            .collect();
        md.insert(VALUE_LABELS_KEY.to_string(), format!("{{{}}}", pairs.join(",")));
        let miss: Vec<String> = l.missing.iter().map(|(c, _)| c.to_string()).collect();
        md.insert(MISSING_KEY.to_string(), format!("[{}]", miss.join(",")));
    }
    md
}

/// Provenance for [`label_schema`]: what wrote the file.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// SHA-256 (hex) of the effective weighting scheme, for files written
    /// by the weight stage or later.
    pub scheme_sha256: Option<String>,
}

impl Provenance {
    /// The provenance of outputs computed with the weighting scheme whose
    /// effective TOML is `scheme_toml` (its SHA-256 is recorded).
    pub fn for_scheme(scheme_toml: &str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(scheme_toml.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            scheme_sha256: Some(hex),
        }
    }
}

/// The provenance keys of [`label_schema`] (swvr version, questionnaire
/// name and wave, scheme hash).
pub const PROVENANCE_KEYS: [&str; 4] = [
    SWVR_VERSION_KEY,
    QUESTIONNAIRE_KEY,
    QUESTIONNAIRE_WAVE_KEY,
    SCHEME_HASH_KEY,
];

/// `schema` with the provenance keys of `input` (the schema of the file
/// a stage read) copied into its metadata: the tables and the model carry
/// the questionnaire and scheme of the weighted data they came from.
pub fn inherit(schema: Schema, input: &Schema) -> Schema {
    let mut md = schema.metadata().clone();
    for k in PROVENANCE_KEYS {
        if let Some(v) = input.metadata().get(k) {
            md.insert(k.to_string(), v.clone());
        }
    }
    schema.with_metadata(md)
}

/// JSON object item → question text (items, then derived indicators with
/// their descriptions): the value labels of a column holding item names,
/// like `item` in tables.arrow.
pub fn item_texts_json(q: &Questionnaire) -> String {
    let mut pairs: Vec<String> = q
        .items()
        .iter()
        .map(|i| format!("{}:{}", json_string(&i.id), json_string(&i.text)))
        .collect();
    for d in q.derived() {
        let text = match d {
            crate::questionnaire::Derived::AnyYes { text, .. } | crate::questionnaire::Derived::Net { text, .. } => {
                text
            }
        };
        pairs.push(format!("{}:{}", json_string(d.id()), json_string(text)));
    }
    format!("{{{}}}", pairs.join(","))
}

/// `schema` with the questionnaire's labels in the metadata of every field
/// it describes (existing field metadata is kept) and, in the schema
/// metadata, the swvr version, the questionnaire name and wave and, when
/// known, the scheme hash.
pub fn label_schema(schema: Schema, q: &Questionnaire, prov: &Provenance) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let extra = field_metadata(q, f.name());
            if extra.is_empty() {
                f.as_ref().clone()
            } else {
                let mut md = f.metadata().clone();
                md.extend(extra);
                f.as_ref().clone().with_metadata(md)
            }
        })
        .collect();
    let mut md = schema.metadata().clone();
    md.insert(SWVR_VERSION_KEY.to_string(), env!("CARGO_PKG_VERSION").to_string());
    md.insert(QUESTIONNAIRE_KEY.to_string(), q.name().to_string());
    if let Some(w) = q.wave() {
        md.insert(QUESTIONNAIRE_WAVE_KEY.to_string(), w.to_string());
    }
    if let Some(h) = &prov.scheme_sha256 {
        md.insert(SCHEME_HASH_KEY.to_string(), h.clone());
    }
    Schema::new_with_metadata(fields, md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::DataType;

    #[test]
    fn items_demographics_and_weighting_columns_are_labelled() {
        let q = Questionnaire::default_2021();
        let sex = column_labels(&q, "sex").unwrap();
        assert_eq!(sex.missing, vec![(9, MissingKind::Refused)]);
        let w = column_labels(&q, "education_weighting").unwrap();
        assert!(w.missing.is_empty() && w.values.len() == 5, "{w:?}");
        let age = column_labels(&q, "age").unwrap();
        assert_eq!(age.missing, vec![(998, MissingKind::Dk), (999, MissingKind::Refused)]);
        assert!(column_labels(&q, "weight").is_none());
        assert!(column_labels(&q, "bogus_weighting").is_none());
    }

    #[test]
    fn stata_letters_put_dk_on_d_refused_on_r_and_others_in_order() {
        use MissingKind::*;
        assert_eq!(stata_missing_letters(&[(8, Dk), (9, Refused)]), vec![(8, 4), (9, 18)]);
        assert_eq!(
            stata_missing_letters(&[(7, Other), (8, Dk), (5, Other), (6, Other), (9, Refused)]),
            vec![(7, 1), (8, 4), (5, 2), (6, 3), (9, 18)]
        );
        let many: Vec<(i64, MissingKind)> = (0..5).map(|c| (c, Other)).collect();
        assert_eq!(stata_missing_letters(&many)[3], (3, 5), "d is skipped");
    }

    #[test]
    fn metadata_is_json_and_keeps_existing_keys() {
        let q = Questionnaire::default_2021();
        let md = field_metadata(&q, "Q6");
        assert_eq!(
            md[VALUE_LABELS_KEY],
            r#"{"1":"increased","2":"decreased","3":"same","4":"did_not_volunteer","8":"dk","9":"refused"}"#
        );
        assert_eq!(md[MISSING_KEY], "[8,9]");
        assert_eq!(json_string("a\"b\\\n"), r#""a\"b\\\n""#);
        let f =
            Field::new("Q1", DataType::Int8, true).with_metadata(HashMap::from([("k".to_string(), "v".to_string())]));
        let s = label_schema(
            Schema::new(vec![f, Field::new("weight", DataType::Float64, false)]),
            &q,
            &Provenance {
                scheme_sha256: Some("ab".into()),
            },
        );
        assert_eq!(s.field(0).metadata()["k"], "v");
        assert!(s.field(0).metadata()[LABEL_KEY].starts_with("Volunteering means"));
        assert!(s.field(1).metadata().is_empty());
        assert_eq!(s.metadata()[SCHEME_HASH_KEY], "ab");
        assert_eq!(s.metadata()[QUESTIONNAIRE_WAVE_KEY], "2021");
    }
}
