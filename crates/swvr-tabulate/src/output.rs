//! tables.arrow and tables.csv: the contract's columns, in order, then the
//! extra columns `df`, `ci_method` and `variance_method` (`fixed` or
//! `calibrated`: how `se`, the interval and `deff` were obtained).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::io::{AtomicFile, IoError};

use crate::Estimate;

/// The schema of tables.arrow (schema version in its metadata).
pub fn schema() -> Schema {
    let text = |n: &str| Field::new(n, DataType::Utf8, false);
    let float = |n: &str, nullable| Field::new(n, DataType::Float64, nullable);
    swvr_core::io::with_version(Schema::new(vec![
        text("country"),
        Field::new("wave", DataType::Int32, false),
        text("item"),
        text("domain"),
        text("domain_level"),
        text("category"),
        Field::new("n", DataType::Int64, false),
        Field::new("n_category", DataType::Int64, false),
        float("estimate", false),
        float("se", false),
        float("ci_low", true),
        float("ci_high", true),
        float("deff", true),
        Field::new("df", DataType::Int64, false),
        text("ci_method"),
        text("variance_method"),
    ]))
}

/// The estimates as one record batch of [`schema`].
pub fn to_batch(est: &[Estimate]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let s = |f: fn(&Estimate) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(est.iter().map(f))) };
    let cols: Vec<ArrayRef> = vec![
        s(|e| &e.country),
        Arc::new(Int32Array::from_iter_values(est.iter().map(|e| e.wave))),
        s(|e| &e.item),
        s(|e| &e.domain),
        s(|e| &e.domain_level),
        s(|e| &e.category),
        Arc::new(Int64Array::from_iter_values(est.iter().map(|e| e.n as i64))),
        Arc::new(Int64Array::from_iter_values(est.iter().map(|e| e.n_category as i64))),
        Arc::new(Float64Array::from_iter_values(est.iter().map(|e| e.estimate))),
        Arc::new(Float64Array::from_iter_values(est.iter().map(|e| e.se))),
        Arc::new(Float64Array::from_iter(est.iter().map(|e| e.ci_low))),
        Arc::new(Float64Array::from_iter(est.iter().map(|e| e.ci_high))),
        Arc::new(Float64Array::from_iter(est.iter().map(|e| e.deff))),
        Arc::new(Int64Array::from_iter_values(est.iter().map(|e| e.df))),
        s(|e| e.ci_method.as_str()),
        s(|e| e.variance_method),
    ];
    RecordBatch::try_new(Arc::new(schema()), cols)
}

/// [`schema`] with labels: `item` carries the question texts as its value
/// labels (JSON item → text), and the schema the provenance (swvr version,
/// questionnaire, scheme hash) of `input`, the weighted data's schema.
pub fn labelled_schema(q: &swvr_core::questionnaire::Questionnaire, input: &Schema) -> Schema {
    use swvr_core::labels;
    let base = schema();
    let fields: Vec<Field> = base
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if f.name() == "item" {
                let md = [
                    (
                        labels::LABEL_KEY.to_string(),
                        "Questionnaire item or derived indicator".to_string(),
                    ),
                    (labels::VALUE_LABELS_KEY.to_string(), labels::item_texts_json(q)),
                ];
                f.with_metadata(md.into_iter().collect::<std::collections::HashMap<String, String>>())
            } else {
                f
            }
        })
        .collect();
    let s = Schema::new_with_metadata(fields, base.metadata().clone());
    labels::inherit(labels::label_schema(s, q, &labels::Provenance::default()), input)
}

/// Writes tables.arrow atomically, with [`labelled_schema`].
pub fn write_arrow(
    path: &Path,
    est: &[Estimate],
    q: &swvr_core::questionnaire::Questionnaire,
    input: &Schema,
) -> Result<(), IoError> {
    let err = |source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let schema = Arc::new(labelled_schema(q, input));
    let batch = to_batch(est).map_err(err)?;
    let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(err)?;
    swvr_core::io::write_arrow(path, &schema, &[batch])
}

fn field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The CSV text of tables.csv (same columns; empty = null; floats in
/// shortest round-trip notation).
pub fn csv_text(est: &[Estimate]) -> String {
    let mut s = String::with_capacity(est.len() * 160);
    let names: Vec<String> = schema().fields().iter().map(|f| f.name().clone()).collect();
    s.push_str(&names.join(","));
    s.push('\n');
    for e in est {
        let line = [
            field(&e.country).into_owned(),
            e.wave.to_string(),
            field(&e.item).into_owned(),
            field(&e.domain).into_owned(),
            field(&e.domain_level).into_owned(),
            field(&e.category).into_owned(),
            e.n.to_string(),
            e.n_category.to_string(),
            e.estimate.to_string(),
            e.se.to_string(),
            opt(e.ci_low),
            opt(e.ci_high),
            opt(e.deff),
            e.df.to_string(),
            e.ci_method.as_str().to_string(),
            e.variance_method.to_string(),
        ];
        s.push_str(&line.join(","));
        s.push('\n');
    }
    s
}

/// Writes tables.csv atomically.
pub fn write_csv(path: &Path, est: &[Estimate]) -> Result<(), IoError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(csv_text(est).as_bytes()).map_err(|source| IoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    f.commit()
}
