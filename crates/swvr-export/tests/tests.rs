//! swvr-export on small hand-made stage outputs: replicate weights, the
//! errors a user can meet, and the bytes that declare labels and the weight.
//! The full readers' check runs end to end in swvr-cli's `tests/export.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use swvr_core::questionnaire::Questionnaire;
use swvr_export::{ExportError, Format, export};

/// A temporary folder, removed when the test ends (also when it fails:
/// the guard drops while the panic unwinds).
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(name: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("swvr-export-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

fn write(path: &Path, cols: Vec<(&str, ArrayRef)>) {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Schema::new(fields);
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    swvr_core::io::write_arrow(path, &schema, &[batch]).unwrap();
}

/// A minimal OUT: two respondents, one table row, one model row.
fn stage_outputs(dir: &Path, stratum: &str) {
    write(
        &dir.join("weight/weighted.arrow"),
        vec![
            ("country", Arc::new(StringArray::from(vec!["KEN", "KEN"]))),
            ("wave", Arc::new(Int32Array::from(vec![2021, 2021]))),
            ("stratum", Arc::new(StringArray::from(vec![stratum, "b"]))),
            ("Q1", Arc::new(Int8Array::from(vec![Some(1), Some(8)]))),
            ("weight", Arc::new(Float64Array::from(vec![0.5, 1.5]))),
        ],
    );
    write(
        &dir.join("tabulate/tables.arrow"),
        vec![
            ("country", Arc::new(StringArray::from(vec!["KEN"]))),
            ("wave", Arc::new(Int32Array::from(vec![2021]))),
            ("item", Arc::new(StringArray::from(vec!["Q1"]))),
            ("domain", Arc::new(StringArray::from(vec!["total"]))),
            ("domain_level", Arc::new(StringArray::from(vec!["total"]))),
            ("category", Arc::new(StringArray::from(vec!["yes"]))),
            ("n", Arc::new(Int64Array::from(vec![2]))),
            ("estimate", Arc::new(Float64Array::from(vec![0.25]))),
            ("ci_low", Arc::new(Float64Array::from(vec![Some(0.1)]))),
            ("ci_high", Arc::new(Float64Array::from(vec![Some(0.5)]))),
        ],
    );
    write(
        &dir.join("model/odds_ratios.arrow"),
        vec![
            ("country", Arc::new(StringArray::from(vec!["KEN"]))),
            ("term", Arc::new(StringArray::from(vec!["Q1"]))),
            ("odds_ratio", Arc::new(Float64Array::from(vec![None::<f64>]))),
        ],
    );
}

#[test]
fn formats_parse_and_print_by_their_extension() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
    }
    assert_eq!(
        "SAV".parse::<Format>().unwrap_err(),
        "unknown export format `SAV`; expected one of sav, dta, parquet, csv, xlsx"
    );
}

#[test]
fn sav_header_declares_the_weight_and_compression_and_is_deterministic() {
    let dir = tempdir("sav");
    stage_outputs(&dir, "a");
    let q = Questionnaire::default_2021();
    let files = export(&dir, &q, &[Format::Sav, Format::Dta]).unwrap();
    assert_eq!(
        files,
        [dir.join("export/weighted.sav"), dir.join("export/weighted.dta")]
    );
    let b = std::fs::read(dir.join("export/weighted.sav")).unwrap();
    assert_eq!(&b[..4], b"$FL2");
    let i32_at = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    // nominal case size: country, wave, stratum, Q1, weight = 5 slots.
    assert_eq!(i32_at(68), 5);
    assert_eq!(i32_at(72), 1, "bytecode compression");
    assert_eq!(i32_at(76), 5, "weight index = 5th slot");
    assert_eq!(i32_at(80), 2, "case count");
    assert_eq!(&b[92..109], b"01 Jan 7000:00:00");
    export(&dir, &q, &[Format::Sav]).unwrap();
    assert_eq!(std::fs::read(dir.join("export/weighted.sav")).unwrap(), b);
    let d = std::fs::read(dir.join("export/weighted.dta")).unwrap();
    assert!(d.starts_with(b"<stata_dta><header><release>118</release><byteorder>LSF</byteorder>"));
    assert!(d.ends_with(b"</value_labels></stata_dta>"));
}

#[test]
fn replicate_weights_are_appended_row_for_row() {
    let dir = tempdir("rep");
    stage_outputs(&dir, "a");
    write(
        &dir.join("weight/replicates.arrow"),
        vec![
            ("weight", Arc::new(Float64Array::from(vec![9.0, 9.0]))),
            ("rep_1", Arc::new(Float64Array::from(vec![0.25, 1.75]))),
            ("rep_2", Arc::new(Float64Array::from(vec![0.75, 1.25]))),
        ],
    );
    let q = Questionnaire::default_2021();
    export(&dir, &q, &[Format::Csv]).unwrap();
    let csv = std::fs::read_to_string(dir.join("export/weighted.csv")).unwrap();
    assert_eq!(
        csv,
        "country,wave,stratum,Q1,weight,rep_1,rep_2\nKEN,2021,a,1,0.5,0.25,0.75\nKEN,2021,b,8,1.5,1.75,1.25\n"
    );
    write(
        &dir.join("weight/replicates.arrow"),
        vec![("rep_1", Arc::new(Float64Array::from(vec![0.25])))],
    );
    let err = export(&dir, &q, &[Format::Csv]).unwrap_err().to_string();
    assert!(
        err.contains("replicates.arrow: 1 rows, but weighted.arrow has 2; replicate weights must be row for row"),
        "{err}"
    );
}

#[test]
fn text_too_long_for_spss_is_an_error_naming_the_column() {
    let dir = tempdir("long");
    let long = "x".repeat(300);
    stage_outputs(&dir, &long);
    let q = Questionnaire::default_2021();
    let err = export(&dir, &q, &[Format::Sav]).unwrap_err();
    assert!(matches!(err, ExportError::Format { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("weighted.sav: column `stratum` holds a text of 300 bytes; the .sav writer supports up to 255"),
        "{msg}"
    );
    assert!(!dir.join("export/weighted.sav").exists(), "no half-written file");
    // Stata's strN holds it.
    export(&dir, &q, &[Format::Dta]).unwrap();
}

#[test]
fn a_column_name_stata_cannot_hold_is_an_error() {
    let dir = tempdir("stata-name");
    stage_outputs(&dir, "a");
    write(
        &dir.join("weight/weighted.arrow"),
        vec![("interview date", Arc::new(StringArray::from(vec!["x"])) as ArrayRef)],
    );
    let q = Questionnaire::default_2021();
    let msg = export(&dir, &q, &[Format::Dta]).unwrap_err().to_string();
    assert!(
        msg.contains("weighted.dta: column `interview date` is not a valid Stata variable name"),
        "{msg}"
    );
}

#[test]
fn unsupported_column_types_are_named() {
    let dir = tempdir("types");
    stage_outputs(&dir, "a");
    write(
        &dir.join("weight/weighted.arrow"),
        vec![("x", Arc::new(arrow_array::UInt8Array::from(vec![1u8])) as ArrayRef)],
    );
    let q = Questionnaire::default_2021();
    let msg = export(&dir, &q, &[Format::Sav]).unwrap_err().to_string();
    assert!(
        msg.contains("weighted.arrow: column `x`: type UInt8 is not supported by the exporter"),
        "{msg}"
    );
}
