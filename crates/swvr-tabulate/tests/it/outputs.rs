//! Output layout, completeness, determinism, files and errors.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, Int8Array, RecordBatch, StringArray};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_core::questionnaire::Questionnaire;
use swvr_tabulate::{TabulateError, output, report, tabulate, tabulate_batch};

use crate::common::batch_from_csv;

fn estimates() -> (Questionnaire, Vec<swvr_tabulate::Estimate>) {
    let q = Questionnaire::default_2021();
    let est = tabulate_batch(&batch_from_csv("input.csv", &q), &q, &Selection::default()).unwrap();
    (q, est)
}

#[test]
fn every_item_domain_level_and_category_in_definition_order() {
    let (q, est) = estimates();
    let mut items: Vec<String> = q.items().iter().map(|i| i.id.clone()).collect();
    items.extend(q.derived().iter().map(|d| d.id().to_string()));
    let mut seen: Vec<String> = Vec::new();
    for e in est.iter().filter(|e| e.country == "KEN") {
        if seen.last() != Some(&e.item) {
            seen.push(e.item.clone());
        }
    }
    assert_eq!(seen, items);
    // Each (item, level) has all categories, in answer-set order, even empty ones.
    let mut cells: Vec<(String, String, String, String)> = Vec::new();
    let mut cats: HashMap<(String, String, String, String), Vec<String>> = HashMap::new();
    for e in &est {
        let k = (
            e.country.clone(),
            e.item.clone(),
            e.domain.clone(),
            e.domain_level.clone(),
        );
        if !cats.contains_key(&k) {
            cells.push(k.clone());
        }
        cats.entry(k).or_default().push(e.category.clone());
    }
    for k in &cells {
        let want: Vec<String> = match q.item(&k.1) {
            Some(item) => q.answer_set(item).codes.iter().map(|c| c.category.clone()).collect(),
            None if k.1 == "Q4B_net" => vec!["net".into()],
            None => ["yes", "no", "dk", "refused"].map(String::from).to_vec(),
        };
        assert_eq!(cats[k], want, "{k:?}");
    }
    // Domains and levels in definition order, total first.
    let levels: Vec<(String, String)> = cells
        .iter()
        .filter(|k| k.0 == "KEN" && k.1 == "Q1")
        .map(|k| (k.2.clone(), k.3.clone()))
        .collect();
    let want = [
        ("total", "total"),
        ("sex", "male"),
        ("sex", "female"),
        ("age_group", "15-29"),
        ("age_group", "30-44"),
        ("age_group", "45-59"),
        ("age_group", "60+"),
        ("urbanicity", "rural"),
        ("urbanicity", "urban"),
        ("employment", "employed"),
        ("employment", "not_employed"),
        ("education", "primary"),
        ("education", "secondary"),
        ("education", "tertiary"),
    ];
    assert_eq!(levels, want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec());
    // An empty category has estimate 0 and still a row.
    assert!(est.iter().any(|e| e.n_category == 0 && e.estimate == 0.0));
}

#[test]
fn output_is_identical_whatever_the_thread_count() {
    let q = Questionnaire::default_2021();
    let batch = batch_from_csv("input.csv", &q);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| output::csv_text(&tabulate_batch(&batch, &q, &Selection::default()).unwrap()))
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn selection_keeps_only_the_chosen_countries() {
    let q = Questionnaire::default_2021();
    let sel = Selection::new(vec!["LBN".into()], vec![]).unwrap();
    let est = tabulate_batch(&batch_from_csv("input.csv", &q), &q, &sel).unwrap();
    assert!(!est.is_empty() && est.iter().all(|e| e.country == "LBN"));
}

#[test]
fn tabulate_writes_the_three_files() {
    let q = Questionnaire::default_2021();
    let batch = batch_from_csv("input.csv", &q);
    let out = swvr_test_support::TempDir::new("tabulate", "files");
    swvr_core::io::write_arrow(
        &out.join("weight/weighted.arrow"),
        &batch.schema(),
        std::slice::from_ref(&batch),
    )
    .unwrap();
    let summary = tabulate(&out, &q, &Selection::default(), &NoProgress).unwrap();
    let tables = swvr_core::io::read_arrow(&out.join("tabulate/tables.arrow")).unwrap();
    assert_eq!(tables.num_rows() as u64, summary.estimates);
    let names: Vec<String> = tables.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(
        names[..13],
        [
            "country",
            "wave",
            "item",
            "domain",
            "domain_level",
            "category",
            "n",
            "n_category",
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            "deff"
        ]
    );
    let contrasts = swvr_core::io::read_arrow(&out.join("tabulate/contrasts.arrow")).unwrap();
    let names: Vec<String> = contrasts.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(
        names,
        swvr_tabulate::contrasts::schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        names[..9],
        [
            "country", "contrast", "wave_a", "wave_b", "item", "domain", "level_a", "level_b", "category"
        ]
    );
    assert!(contrasts.num_rows() > 1000);
    let csv = std::fs::read_to_string(out.join("tabulate/tables.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64, summary.estimates + 1);
    let md = std::fs::read_to_string(out.join("tabulate/report.md")).unwrap();
    assert!(md.contains("Fig. 3.3") && md.contains("Table 3.1") && md.contains("Table 3.2") && md.contains("Fig. 3.4"));
    assert!(md.contains("| KEN | 2021 |") && md.contains("(95)"), "{md}");
    assert_eq!(summary.published_within.1, 2 * (2 + 3 + 6));
}

#[test]
fn a_code_outside_the_answer_set_names_file_row_and_column() {
    let q = Questionnaire::default_2021();
    let batch = batch_from_csv("input.csv", &q);
    let i = batch.schema().index_of("Q3B").unwrap();
    let mut codes: Vec<Option<i8>> = batch
        .column(i)
        .as_any()
        .downcast_ref::<Int8Array>()
        .unwrap()
        .iter()
        .collect();
    codes[6] = Some(7);
    let mut cols = batch.columns().to_vec();
    cols[i] = Arc::new(Int8Array::from(codes));
    let bad = RecordBatch::try_new(batch.schema(), cols).unwrap();
    let err = tabulate_batch(&bad, &q, &Selection::default()).unwrap_err();
    assert!(matches!(err, TabulateError::Value { row: 7, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("<batch>") && msg.contains("Q3B") && msg.contains("value 7"),
        "{msg}"
    );
}

#[test]
fn a_missing_weight_column_is_an_error_naming_it() {
    let q = Questionnaire::default_2021();
    let batch = batch_from_csv("input.csv", &q);
    let i = batch.schema().index_of("weight").unwrap();
    let mut b = batch.clone();
    b.remove_column(i);
    let msg = tabulate_batch(&b, &q, &Selection::default()).unwrap_err().to_string();
    assert!(msg.contains("`weight`") && msg.contains("Float64"), "{msg}");
    // An unknown age band is a row error too.
    let j = batch.schema().index_of("age_group").unwrap();
    let mut groups: Vec<Option<String>> = batch
        .column(j)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect();
    groups[0] = Some("90+".into());
    let mut cols = batch.columns().to_vec();
    cols[j] = Arc::new(StringArray::from(groups));
    let bad = RecordBatch::try_new(batch.schema(), cols).unwrap();
    let msg = tabulate_batch(&bad, &q, &Selection::default()).unwrap_err().to_string();
    assert!(
        msg.contains("row 1") && msg.contains("90+") && msg.contains("15-29"),
        "{msg}"
    );
}

#[test]
fn report_definition_is_checked() {
    assert!(report::ReportDef::default_2021().is_ok());
    let bad = report::DEFAULT_2021_TOML.replace("BOL = [81, 75]", "BOL = [81]");
    let msg = report::ReportDef::from_toml_str(&bad, "r.toml")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("r.toml") && msg.contains("BOL"), "{msg}");
}

#[test]
fn a_weight_that_is_not_positive_names_its_row() {
    let q = Questionnaire::default_2021();
    let batch = batch_from_csv("input.csv", &q);
    let i = batch.schema().index_of("weight").unwrap();
    let mut w: Vec<f64> = batch
        .column(i)
        .as_any()
        .downcast_ref::<arrow_array::Float64Array>()
        .unwrap()
        .values()
        .to_vec();
    w[3] = 0.0;
    let mut cols = batch.columns().to_vec();
    cols[i] = Arc::new(arrow_array::Float64Array::from(w));
    let bad = RecordBatch::try_new(batch.schema(), cols).unwrap();
    let msg = tabulate_batch(&bad, &q, &Selection::default()).unwrap_err().to_string();
    assert!(
        msg.contains("row 4") && msg.contains("`weight`") && msg.contains("> 0"),
        "{msg}"
    );
}
