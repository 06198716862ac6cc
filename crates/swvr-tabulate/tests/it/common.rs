//! Builds weighted batches from the committed reference CSV inputs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::questionnaire::Questionnaire;

pub const BANDS: &str = "15-29,30-44,45-59,60+";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/reference/tabulate")
        .join(name)
}

/// Reads a simple CSV (no quoted fields) into header and rows.
pub fn read_csv(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    (header, rows)
}

/// The weighted batch of a reference input CSV (columns as weighted.arrow).
pub fn batch_from_csv(name: &str, q: &Questionnaire) -> RecordBatch {
    let (header, rows) = read_csv(name);
    let idx: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h.as_str(), i)).collect();
    let col = |c: &str| rows.iter().map(|r| r[idx[c]].clone()).collect::<Vec<String>>();
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for c in ["country", "respondent_id", "stratum"] {
        fields.push(Field::new(c, DataType::Utf8, false));
        cols.push(Arc::new(StringArray::from(col(c))));
    }
    fields.push(Field::new("wave", DataType::Int32, false));
    cols.push(Arc::new(Int32Array::from(
        col("wave")
            .iter()
            .map(|v| v.parse::<i32>().unwrap())
            .collect::<Vec<_>>(),
    )));
    for d in q.demographics() {
        if d.name == "age" {
            fields.push(Field::new("age", DataType::Int16, false));
            cols.push(Arc::new(Int16Array::from(
                col("age").iter().map(|v| v.parse::<i16>().unwrap()).collect::<Vec<_>>(),
            )));
        } else {
            fields.push(Field::new(&d.name, DataType::Int8, false));
            cols.push(Arc::new(Int8Array::from(
                col(&d.name)
                    .iter()
                    .map(|v| v.parse::<i8>().unwrap())
                    .collect::<Vec<_>>(),
            )));
        }
    }
    for item in q.items() {
        fields.push(Field::new(&item.id, DataType::Int8, true));
        cols.push(Arc::new(Int8Array::from(
            col(&item.id).iter().map(|v| v.parse::<i8>().ok()).collect::<Vec<_>>(),
        )));
    }
    let mut md = HashMap::new();
    md.insert(swvr_core::LEVELS_KEY.to_string(), BANDS.to_string());
    fields.push(Field::new("age_group", DataType::Utf8, true).with_metadata(md));
    cols.push(Arc::new(StringArray::from(
        col("age_group")
            .into_iter()
            .map(|v| (!v.is_empty()).then_some(v))
            .collect::<Vec<_>>(),
    )));
    fields.push(Field::new("weight", DataType::Float64, false));
    cols.push(Arc::new(Float64Array::from(
        col("weight")
            .iter()
            .map(|v| v.parse::<f64>().unwrap())
            .collect::<Vec<_>>(),
    )));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}
