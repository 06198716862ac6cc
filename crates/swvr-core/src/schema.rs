//! The columns of `ingest/respondents.arrow`, declared once.
//!
//! Order: the key columns, the phone counts, the demographics and the items in
//! questionnaire order, then any extra input columns (verbatim text).
//! Codes are `Int8`, numeric demographics (age) `Int16`, counts and the wave
//! `Int32`; a null item means "not asked", a null count "not asked".

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};

use crate::questionnaire::{DemographicKind, Questionnaire};

/// Key columns, in output order: all required, non-null text except `wave`.
pub const KEY_COLUMNS: [&str; 5] = ["country", "wave", "respondent_id", "frame", "stratum"];

/// The waves (survey years) a bundle may hold: four-digit years. Ingest
/// rejects rows and refuses design/targets rows outside them, and `swvr
/// synth` refuses to generate one, so every bundle synth writes is one
/// `swvr run` accepts.
pub const WAVES: std::ops::RangeInclusive<i64> = 1000..=9999;

/// Phone and household counts (nullable `Int32`).
pub const COUNT_COLUMNS: [&str; 3] = ["n_adults", "n_landlines", "n_mobiles"];

/// Every column respondents.csv must have, in output order.
pub fn required_columns(q: &Questionnaire) -> Vec<String> {
    let mut cols: Vec<String> = KEY_COLUMNS
        .iter()
        .chain(COUNT_COLUMNS.iter())
        .map(|s| s.to_string())
        .collect();
    cols.extend(q.demographics().iter().map(|d| d.name.clone()));
    cols.extend(q.items().iter().map(|i| i.id.clone()));
    cols
}

/// The Arrow fields of respondents.arrow (required columns, then `extras` as Utf8).
pub fn respondent_fields(q: &Questionnaire, extras: &[String]) -> Vec<Field> {
    let mut fields = vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("respondent_id", DataType::Utf8, false),
        Field::new("frame", DataType::Utf8, false),
        Field::new("stratum", DataType::Utf8, false),
    ];
    fields.extend(COUNT_COLUMNS.iter().map(|c| Field::new(*c, DataType::Int32, true)));
    for d in q.demographics() {
        let ty = match d.kind {
            DemographicKind::Coded { .. } => DataType::Int8,
            DemographicKind::Numeric { .. } => DataType::Int16,
        };
        fields.push(Field::new(&d.name, ty, false));
    }
    fields.extend(q.items().iter().map(|i| Field::new(&i.id, DataType::Int8, true)));
    fields.extend(extras.iter().map(|e| Field::new(e, DataType::Utf8, true)));
    fields
}

/// The schema of respondents.arrow, with the swvr schema version and the
/// questionnaire's labels in its metadata ([`crate::labels::label_schema`]).
pub fn respondent_schema(q: &Questionnaire, extras: &[String]) -> Arc<Schema> {
    let labelled = crate::labels::label_schema(
        Schema::new(respondent_fields(q, extras)),
        q,
        &crate::labels::Provenance::default(),
    );
    Arc::new(crate::io::with_version(labelled))
}
