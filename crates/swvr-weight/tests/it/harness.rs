//! Small in-test wave bundles: respondents.arrow written directly, design
//! and targets as CSV text.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::{ArrayRef, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_weight::{Diagnostics, Scheme, WeightError};

#[derive(Debug, Clone)]
pub struct Resp {
    pub country: String,
    pub id: String,
    pub frame: String,
    pub stratum: String,
    pub n_adults: Option<i32>,
    pub n_landlines: Option<i32>,
    pub n_mobiles: Option<i32>,
    pub sex: i8,
    pub age: i16,
    pub education: i8,
    pub employment: i8,
    pub urbanicity: i8,
}

impl Resp {
    /// A mobile-frame respondent with one mobile.
    pub fn mobile(country: &str, i: usize, sex: i8, age: i16, education: i8) -> Self {
        Resp {
            country: country.to_string(),
            id: format!("{country}{i:05}"),
            frame: "M".into(),
            stratum: format!("S{}", i % 3),
            n_adults: Some(1 + (i % 3) as i32),
            n_landlines: None,
            n_mobiles: Some(1 + (i % 2) as i32),
            sex,
            age,
            education,
            employment: 1 + (i % 2) as i8,
            urbanicity: 1 + (i % 4) as i8,
        }
    }
}

/// A deterministic sample of `n` mobile respondents with all categories present.
pub fn sample(country: &str, n: usize) -> Vec<Resp> {
    (0..n)
        .map(|i| {
            let sex = if (i * 7) % 10 < 4 { 1 } else { 2 };
            let age = [20i16, 35, 50, 70][(i * 13) % 4] + (i % 5) as i16;
            let edu = [1i8, 2, 2, 3, 2][(i * 3) % 5];
            Resp::mobile(country, i, sex, age, edu)
        })
        .collect()
}

pub const TARGETS_3: &str = "sex,1,0.49\nsex,2,0.51\nage_group,15-29,0.35\nage_group,30-44,0.3\nage_group,45-59,0.2\nage_group,60+,0.15\neducation,1,0.3\neducation,2,0.5\neducation,3,0.2\n";

/// targets.csv rows for `country` 2021 from `body` lines `variable,category,share`.
pub fn targets_for(country: &str, body: &str) -> String {
    body.lines()
        .filter(|l| !l.is_empty())
        .map(|l| format!("{country},2021,{l}\n"))
        .collect()
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Bundle {
    pub data: PathBuf,
    pub out: PathBuf,
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if let Some(p) = self.data.parent() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

pub fn write_respondents(path: &Path, rows: &[Resp]) {
    let s = |f: &dyn Fn(&Resp) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let i32c = |f: &dyn Fn(&Resp) -> Option<i32>| -> ArrayRef {
        Arc::new(Int32Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let i8c =
        |f: &dyn Fn(&Resp) -> i8| -> ArrayRef { Arc::new(Int8Array::from(rows.iter().map(f).collect::<Vec<_>>())) };
    let schema = swvr_core::io::with_version(Schema::new(vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("respondent_id", DataType::Utf8, false),
        Field::new("frame", DataType::Utf8, false),
        Field::new("stratum", DataType::Utf8, false),
        Field::new("n_adults", DataType::Int32, true),
        Field::new("n_landlines", DataType::Int32, true),
        Field::new("n_mobiles", DataType::Int32, true),
        Field::new("sex", DataType::Int8, false),
        Field::new("age", DataType::Int16, false),
        Field::new("education", DataType::Int8, false),
        Field::new("employment", DataType::Int8, false),
        Field::new("urbanicity", DataType::Int8, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        s(&|r| r.country.to_string()),
        Arc::new(Int32Array::from(vec![2021; rows.len()])),
        s(&|r| r.id.clone()),
        s(&|r| r.frame.to_string()),
        s(&|r| r.stratum.clone()),
        i32c(&|r| r.n_adults),
        i32c(&|r| r.n_landlines),
        i32c(&|r| r.n_mobiles),
        i8c(&|r| r.sex),
        Arc::new(Int16Array::from(rows.iter().map(|r| r.age).collect::<Vec<_>>())),
        i8c(&|r| r.education),
        i8c(&|r| r.employment),
        i8c(&|r| r.urbanicity),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), cols).unwrap();
    swvr_core::io::write_arrow(path, &schema, &[batch]).unwrap();
}

/// Rewrites respondents.arrow at `path` as record batches of `size` rows.
pub fn rebatch_respondents(path: &Path, size: usize) {
    let all = swvr_core::io::read_arrow(path).unwrap();
    let schema = all.schema();
    let batches: Vec<RecordBatch> = (0..all.num_rows())
        .step_by(size)
        .map(|s| all.slice(s, size.min(all.num_rows() - s)))
        .collect();
    swvr_core::io::write_arrow(path, &schema, &batches).unwrap();
}

pub fn bundle(rows: &[Resp], design: &str, targets: &str) -> Bundle {
    bundle_raw(
        rows,
        &format!("country,wave,frame,frame_size,sample_size\n{design}"),
        &format!("country,wave,variable,category,share\n{targets}"),
    )
}

/// A bundle from complete design.csv and targets.csv texts (with headers).
pub fn bundle_raw(rows: &[Resp], design: &str, targets: &str) -> Bundle {
    let root = std::env::temp_dir().join(format!(
        "swvr-weight-it-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let data = root.join("data");
    let out = root.join("out");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("design.csv"), design).unwrap();
    std::fs::write(data.join("targets.csv"), targets).unwrap();
    write_respondents(&out.join("ingest/respondents.arrow"), rows);
    Bundle { data, out }
}

pub fn run(b: &Bundle, scheme: &Scheme) -> Result<Vec<Diagnostics>, WeightError> {
    swvr_weight::weight(&b.data, &b.out, scheme, &q2021(), &Selection::default(), &NoProgress)
}

pub fn scheme(toml: &str) -> Scheme {
    Scheme::from_toml_str(toml, "test.toml").unwrap()
}

/// A scheme without trimming, raking sex, age_group, education at 1e-12.
pub fn plain() -> Scheme {
    scheme("[raking]\nvariables = [\"sex\", \"age_group\", \"education\"]\ntolerance = 1e-12\n")
}

pub fn weighted(b: &Bundle) -> RecordBatch {
    swvr_core::io::read_arrow(&b.out.join("weight/weighted.arrow")).unwrap()
}

pub fn f64_col(batch: &RecordBatch, name: &str) -> Vec<f64> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Float64Array>()
        .unwrap()
        .values()
        .to_vec()
}

pub fn bool_col(batch: &RecordBatch, name: &str) -> Vec<bool> {
    let a = batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::BooleanArray>()
        .unwrap();
    (0..a.len()).map(|i| a.value(i)).collect()
}

/// Runs and returns the error message.
pub fn err(b: &Bundle, scheme: &Scheme) -> String {
    match run(b, scheme) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

pub fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message lacks {p:?}: {msg}");
    }
}

/// The built-in 2021 questionnaire.
pub fn q2021() -> swvr_core::questionnaire::Questionnaire {
    swvr_core::questionnaire::Questionnaire::default_2021()
}
