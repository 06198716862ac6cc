//! Shared helpers: the R reference input as a RecordBatch, reference CSVs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/model")
}

/// Reads a simple CSV (no quoting) into a header and rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(str::to_string).collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
        .collect();
    (header, rows)
}

/// fixtures/reference/model/input.csv as weighted.arrow columns (age_group
/// carries the `swvr.levels` metadata, as the weight stage writes it).
pub fn input_batch() -> RecordBatch {
    batch_from(&reference_dir().join("input.csv"))
}

/// A reference input CSV (the columns of model/input.csv) as weighted.arrow columns.
pub fn batch_from(path: &Path) -> RecordBatch {
    let (header, rows) = read_csv(path);
    let idx: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h.as_str(), i)).collect();
    let text = |name: &str| -> ArrayRef {
        let i = idx[name];
        Arc::new(
            rows.iter()
                .map(|r| (!r[i].is_empty()).then(|| r[i].clone()))
                .collect::<StringArray>(),
        )
    };
    let int8 = |name: &str| -> ArrayRef {
        let i = idx[name];
        Arc::new(rows.iter().map(|r| r[i].parse::<i8>().ok()).collect::<Int8Array>())
    };
    let mut fields = vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("stratum", DataType::Utf8, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        text("country"),
        Arc::new(
            rows.iter()
                .map(|r| r[idx["wave"]].parse::<i32>().ok())
                .collect::<Int32Array>(),
        ),
        text("stratum"),
    ];
    for c in [
        "sex",
        "education",
        "employment",
        "urbanicity",
        "Q1",
        "Q3A",
        "Q3B",
        "Q3C",
        "Q7",
    ] {
        fields.push(Field::new(c, DataType::Int8, true));
        cols.push(int8(c));
    }
    fields.push(Field::new("age", DataType::Int16, false));
    cols.push(Arc::new(
        rows.iter()
            .map(|r| r[idx["age"]].parse::<i16>().ok())
            .collect::<Int16Array>(),
    ));
    let mut md = HashMap::new();
    md.insert(swvr_core::LEVELS_KEY.to_string(), "15-29,30-44,45-59,60+".to_string());
    fields.push(Field::new("age_group", DataType::Utf8, true).with_metadata(md));
    cols.push(text("age_group"));
    fields.push(Field::new("weight", DataType::Float64, false));
    cols.push(Arc::new(
        rows.iter()
            .map(|r| r[idx["weight"]].parse::<f64>().ok())
            .collect::<Float64Array>(),
    ));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

/// Reference rows keyed by (country, term): the columns of the R output.
pub fn reference(file: &str) -> HashMap<(String, String), HashMap<String, Option<f64>>> {
    reference_at(&reference_dir().join(file))
}

/// [`reference`] of a file anywhere.
pub fn reference_at(path: &Path) -> HashMap<(String, String), HashMap<String, Option<f64>>> {
    let (header, rows) = read_csv(path);
    rows.into_iter()
        .map(|r| {
            let vals = header
                .iter()
                .zip(&r)
                .skip(2)
                .map(|(h, v)| (h.clone(), v.parse::<f64>().ok()))
                .collect();
            ((r[0].clone(), r[1].clone()), vals)
        })
        .collect()
}

/// |a − b| ≤ tol · max(|b|, floor).
pub fn close(a: f64, b: f64, tol: f64, floor: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(floor)
}
