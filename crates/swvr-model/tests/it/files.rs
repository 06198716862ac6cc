//! The file entry: weighted.arrow in, odds_ratios.arrow and report.md out;
//! byte-identical across thread counts; input errors name the file.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, Float64Array, RecordBatch, StringArray};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_model::{ModelSpec, model};
use swvr_test_support::TempDir;

use crate::common::input_batch;

/// The run folder of a test, removed when the test ends (also when it fails).
fn out_dir(tag: &str) -> TempDir {
    TempDir::new("model", tag)
}

fn write_input(out: &Path, batch: &RecordBatch) {
    let schema = swvr_core::io::with_version(batch.schema().as_ref().clone());
    swvr_core::io::write_arrow(&out.join("weight/weighted.arrow"), &schema, std::slice::from_ref(batch)).unwrap();
}

fn run_with_threads(out: &Path, threads: usize) -> (Vec<u8>, String) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let summary = pool
        .install(|| model(out, &ModelSpec::default_spec(), &Selection::default(), &NoProgress))
        .unwrap();
    assert_eq!(summary.rows, 13 * 13);
    assert_eq!(summary.groups, 13);
    assert_eq!(summary.noted, 2);
    (
        std::fs::read(out.join("model/odds_ratios.arrow")).unwrap(),
        std::fs::read_to_string(out.join("model/report.md")).unwrap(),
    )
}

#[test]
fn writes_contract_columns_and_is_deterministic() {
    let out = out_dir("files");
    write_input(&out, &input_batch());
    let (a, report) = run_with_threads(&out, 1);
    let (b, report2) = run_with_threads(&out, 3);
    assert_eq!(a, b, "odds_ratios.arrow differs between 1 and 3 threads");
    assert_eq!(report, report2);
    let back = swvr_core::io::read_arrow(&out.join("model/odds_ratios.arrow")).unwrap();
    let names: Vec<String> = back.schema().fields().iter().map(|f| f.name().clone()).collect();
    let contract = [
        "country",
        "wave",
        "outcome",
        "term",
        "estimate",
        "se",
        "odds_ratio",
        "ci_low",
        "ci_high",
        "p_value",
        "significant",
        "n",
    ];
    assert_eq!(&names[..12], &contract);
    assert!(names.contains(&"note".to_string()));
    let term = back
        .column_by_name("term")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let first: Vec<&str> = (0..13).map(|i| term.value(i)).collect();
    assert_eq!(
        first,
        [
            "(Intercept)",
            "Q1",
            "Q3A",
            "Q3B",
            "Q3C",
            "sex=female",
            "age_group=30-44",
            "age_group=45-59",
            "age_group=60+",
            "education=secondary",
            "education=tertiary",
            "urbanicity=urban",
            "employment=not_employed"
        ]
    );
    let sig = back
        .column_by_name("significant")
        .unwrap()
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap();
    let or = back
        .column_by_name("odds_ratio")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let est = back
        .column_by_name("estimate")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    for i in 0..back.num_rows() {
        assert_eq!(or.is_null(i), est.is_null(i));
        if !est.is_null(i) {
            assert_eq!(or.value(i), est.value(i).exp());
        }
        assert!(sig.is_null(i) || est.is_valid(i));
    }
    // Report: Table A2 layout with n.s. cells and the published column where the country matches.
    assert!(
        report.contains("| country | wave | n | Q1 | Q3A | Q3B | Q3C | note |"),
        "{report}"
    );
    assert!(report.contains("n.s."));
    assert!(report.contains("## Demographic terms"));
    assert!(report.contains("separation"));
}

#[test]
fn missing_column_and_bad_weight_name_the_file() {
    let out = out_dir("bad");
    let batch = input_batch();
    let idx = batch.schema().index_of("Q3A").unwrap();
    let mut without = batch.clone();
    without.remove_column(idx);
    write_input(&out, &without);
    let err = model(&out, &ModelSpec::default_spec(), &Selection::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    // Issue 15: Q3A is then looked for in respondents.arrow, which needs
    // weighted.arrow's keys to align the rows: the error names the file and
    // the key column it lacks.
    assert!(
        err.contains("weighted.arrow") && err.contains("`respondent_id`") && err.contains("key column"),
        "{err}"
    );

    let widx = batch.schema().index_of("weight").unwrap();
    let mut w: Vec<Option<f64>> = batch
        .column(widx)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .collect();
    w[4] = Some(-1.0);
    let mut cols = batch.columns().to_vec();
    cols[widx] = Arc::new(Float64Array::from(w));
    write_input(&out, &RecordBatch::try_new(batch.schema(), cols).unwrap());
    let err = model(&out, &ModelSpec::default_spec(), &Selection::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("weighted.arrow") && err.contains("row 5") && err.contains("-1"),
        "{err}"
    );
}

#[test]
fn published_table_is_shown_beside_estimates() {
    let p = swvr_model::report::Published::builtin();
    assert_eq!(p.cells.len(), 8);
    assert_eq!(p.cells["IND"]["Q1"], "7.86");
    assert_eq!(p.cells["SEN"]["Q1"], "n.s.");
}
