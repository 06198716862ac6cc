//! swvr-export on small hand-made stage outputs: replicate weights, the
//! errors a user can meet, and the bytes that declare labels and the weight.
//! The full readers' check runs end to end in swvr-cli's `tests/export.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use swvr_core::questionnaire::Questionnaire;
use swvr_export::{ExportError, Format, export};
use swvr_test_support::TempDir;

/// A temporary folder, removed when the test ends (also when it fails).
fn tempdir(name: &str) -> TempDir {
    TempDir::new("export-it", name)
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

/// replicates.arrow with its design metadata (R's svrepdesign arguments).
fn write_replicates(dir: &Path, countries: [&str; 2], kind: swvr_core::replicates::ReplicateKind, rscales: Vec<f64>) {
    use swvr_core::replicates::{GroupMeta, ReplicateMeta};
    let meta = ReplicateMeta {
        kind,
        scale: if kind == swvr_core::replicates::ReplicateKind::Jackknife {
            1.0
        } else {
            1.0 / 2.0
        },
        mse: false,
        count: 3,
        groups: [(("KEN".to_string(), 2021), GroupMeta { replicates: 2, rscales })].into(),
    };
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("country", Arc::new(StringArray::from(countries.to_vec()))),
        ("wave", Arc::new(Int32Array::from(vec![2021, 2021]))),
        ("rep_1", Arc::new(Float64Array::from(vec![0.25, 1.75]))),
        ("rep_2", Arc::new(Float64Array::from(vec![0.75, 1.25]))),
        ("rep_3", Arc::new(Float64Array::from(vec![0.5, 1.5]))),
    ];
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
        .collect();
    let schema = Schema::new_with_metadata(
        fields,
        meta.to_metadata().into_iter().collect::<arrow_schema::Metadata>(),
    );
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    swvr_core::io::write_arrow(&dir.join("weight/replicates.arrow"), &schema, &[batch]).unwrap();
}

/// Issue 11: the replicate weights reach every microdata format with
/// labels, and the .dta holds the svyset of each country-wave's replicate
/// design; independent readers (pyreadstat, pyarrow) see the same values.
#[test]
fn replicate_weights_carry_labels_and_the_stata_replicate_design() {
    use swvr_core::replicates::ReplicateKind;
    let dir = tempdir("rep-design");
    stage_outputs(&dir, "a");
    let q = Questionnaire::default_2021();
    write_replicates(&dir, ["KEN", "KEN"], ReplicateKind::Jackknife, vec![0.5, 0.5, 0.0]);
    export(&dir, &q, &[Format::Sav, Format::Dta, Format::Parquet, Format::Csv]).unwrap();
    let csv = std::fs::read_to_string(dir.join("export/weighted.csv")).unwrap();
    assert_eq!(
        csv,
        "country,wave,stratum,Q1,weight,rep_1,rep_2,rep_3\nKEN,2021,a,1,0.5,0.25,0.75,0.5\nKEN,2021,b,8,1.5,1.75,1.25,1.5\n"
    );
    let dta = std::fs::read(dir.join("export/weighted.dta")).unwrap();
    let text = String::from_utf8_lossy(&dta);
    assert!(text.contains("swvr_svyset_KEN_2021"), "per country-wave characteristic");
    // Only the country-wave's own replicates (rep_3 is padding, rscale 0).
    assert!(
        text.contains("svyset [pweight=weight], vce(jackknife) jkrweight(rep_1-rep_2, multiplier(0.5))\0"),
        "jackknife svyset"
    );
    assert!(text.contains("svyset [pweight=weight], strata(stratum) vce(linearized) singleunit(centered)"));
    assert!(text.contains("Replicate weight 2: final weight of replicate 2"));
    let sav = std::fs::read(dir.join("export/weighted.sav")).unwrap();
    assert!(String::from_utf8_lossy(&sav).contains("Replicate weight 3: final weight of replicate 3"));

    write_replicates(&dir, ["KEN", "KEN"], ReplicateKind::Bootstrap, vec![1.0, 1.0, 0.0]);
    export(&dir, &q, &[Format::Dta]).unwrap();
    let dta = std::fs::read(dir.join("export/weighted.dta")).unwrap();
    assert!(
        String::from_utf8_lossy(&dta).contains("svyset [pweight=weight], vce(bootstrap) bsrweight(rep_1-rep_2)\0"),
        "bootstrap svyset"
    );
    export(&dir, &q, &[Format::Sav, Format::Dta, Format::Parquet, Format::Csv]).unwrap();

    // Independent readers.
    let probe = std::process::Command::new("python3")
        .args(["-c", "import pyreadstat, pyarrow"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("SKIPPED: python3 with pyreadstat and pyarrow not found");
    } else {
        let script = r#"
import sys, pyreadstat, pyarrow.parquet as pq
d = sys.argv[1]
want = {"rep_1": [0.25, 1.75], "rep_2": [0.75, 1.25], "rep_3": [0.5, 1.5]}
for f, read in (("weighted.sav", pyreadstat.read_sav), ("weighted.dta", pyreadstat.read_dta)):
    df, meta = read(f"{d}/{f}")
    for c, v in want.items():
        assert list(df[c]) == v, (f, c, list(df[c]))
        assert meta.column_names_to_labels[c].startswith(f"Replicate weight {c[4:]}"), (f, c)
t = pq.read_table(f"{d}/weighted.parquet")
for c, v in want.items():
    assert t.column(c).to_pylist() == v, ("parquet", c)
assert t.schema.metadata[b"swvr.replicates.type"] == b"bootstrap"
print("ok")
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(dir.join("export"))
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Keys must match weighted.arrow's row for row.
    write_replicates(&dir, ["KEN", "SEN"], ReplicateKind::Jackknife, vec![0.5, 0.5, 0.0]);
    let err = export(&dir, &q, &[Format::Csv]).unwrap_err().to_string();
    assert!(
        err.contains(
            "replicates.arrow: row 2: `country` differs from weighted.arrow's; replicate weights must be row for row"
        ),
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
