//! Issue 9: the questionnaire drives weighting. Any coded demographic it
//! declares can be a margin (a `region` a later wave adds), any numeric one
//! can be banded, margins can be interactions (`sex*age_group`), and every
//! mismatch names the scheme key or the targets.csv line.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int8Array, Int16Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_core::questionnaire::{DEFAULT_2021_TOML, Questionnaire};
use swvr_weight::{Diagnostics, Scheme, WeightError};

use crate::harness::*;
use crate::raking::hand_ipf;

/// The 2021 questionnaire plus `region` (codes 1-4, 9 refused) and `hours`
/// (numeric 0-168, 998/999 DK/refused).
fn q_region() -> Questionnaire {
    let text = DEFAULT_2021_TOML.replacen(
        "\n[[demographics]]\n",
        "\n[answer_sets.region]\ncodes = [\n  { code = 1, category = \"north\" },\n  { code = 2, category = \"south\" },\n  { code = 3, category = \"east\" },\n  { code = 4, category = \"west\" },\n  { code = 9, category = \"refused\", missing = true },\n]\n\n[[demographics]]\nname = \"region\"\nkind = \"coded\"\nanswers = \"region\"\n\n[[demographics]]\nname = \"hours\"\nkind = \"numeric\"\nmin = 0\nmax = 168\nmissing_codes = [998, 999]\n\n[[demographics]]\n",
        1,
    );
    Questionnaire::from_toml_str(&text, "q2025.toml").unwrap()
}

/// Appends `region` (Int8) and `hours` (Int16) columns to the bundle's respondents.arrow.
fn add_columns(b: &Bundle, region: &[i8], hours: &[i16]) {
    let path = b.out.join("ingest/respondents.arrow");
    let batch = swvr_core::io::read_arrow(&path).unwrap();
    let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("region", DataType::Int8, false));
    fields.push(Field::new("hours", DataType::Int16, false));
    let schema = swvr_core::io::with_version(Schema::new(fields));
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(Int8Array::from(region.to_vec())));
    cols.push(Arc::new(Int16Array::from(hours.to_vec())));
    let out = RecordBatch::try_new(Arc::new(schema.clone()), cols).unwrap();
    swvr_core::io::write_arrow(&path, &schema, &[out]).unwrap();
}

fn run_q(b: &Bundle, s: &Scheme, q: &Questionnaire) -> Result<Vec<Diagnostics>, WeightError> {
    swvr_weight::weight(&b.data, &b.out, s, q, &Selection::default(), &NoProgress)
}

fn err_q(b: &Bundle, s: &Scheme, q: &Questionnaire) -> String {
    match run_q(b, s, q) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

const DESIGN: &str = "KEN,2021,M,20000000,1000\n";
const SEX_AGE_CELLS: &str = "sex*age_group,1*15-29,0.17\nsex*age_group,1*30-44,0.15\nsex*age_group,1*45-59,0.1\nsex*age_group,1*60+,0.07\nsex*age_group,2*15-29,0.18\nsex*age_group,2*30-44,0.15\nsex*age_group,2*45-59,0.1\nsex*age_group,2*60+,0.08\n";
const EDU: &str = "education,1,0.3\neducation,2,0.5\neducation,3,0.2\n";
const REGION: &str = "region,1,0.4\nregion,2,0.3\nregion,3,0.2\nregion,4,0.1\n";

fn region_of(i: usize) -> i8 {
    1 + (((i as u64).wrapping_mul(2_654_435_761) >> 9) % 4) as i8
}

/// `n` respondents with pseudo-random sex, age and education (every
/// combination present when n is a few hundred).
fn random_rows(n: usize) -> Vec<Resp> {
    let mut state: u64 = 2025;
    let mut next = |m: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % m
    };
    (0..n)
        .map(|i| {
            let sex = 1 + next(2) as i8;
            let age = 15 + next(70) as i16;
            let edu = 1 + next(3) as i8;
            Resp::mobile("KEN", i, sex, age, edu)
        })
        .collect()
}

fn region_bundle(n: usize, targets: &str) -> (Bundle, Vec<Resp>) {
    let rows = random_rows(n);
    let b = bundle(&rows, DESIGN, &targets_for("KEN", targets));
    let region: Vec<i8> = (0..n).map(region_of).collect();
    let hours: Vec<i16> = (0..n).map(|i| ((i * 7) % 60) as i16).collect();
    add_columns(&b, &region, &hours);
    (b, rows)
}

fn band(age: i16) -> usize {
    match age {
        15..=29 => 0,
        30..=44 => 1,
        45..=59 => 2,
        _ => 3,
    }
}

#[test]
fn interaction_margin_and_a_new_region_match_row_level_ipf() {
    let (b, rows) = region_bundle(300, &format!("{SEX_AGE_CELLS}{EDU}{REGION}"));
    let s = scheme("[raking]\nvariables = [\"sex*age_group\", \"education\", \"region\"]\ntolerance = 1e-13\n");
    let d = run_q(&b, &s, &q_region()).unwrap();
    assert!(d[0].converged, "{:?}", d[0]);
    let w = weighted(&b);
    let base = f64_col(&w, "base_weight");
    let vars = vec![
        rows.iter()
            .map(|r| (r.sex as usize - 1) * 4 + band(r.age))
            .collect::<Vec<_>>(),
        rows.iter().map(|r| r.education as usize - 1).collect(),
        (0..rows.len()).map(|i| region_of(i) as usize - 1).collect(),
    ];
    let targets = vec![
        vec![0.17, 0.15, 0.1, 0.07, 0.18, 0.15, 0.1, 0.08],
        vec![0.3, 0.5, 0.2],
        vec![0.4, 0.3, 0.2, 0.1],
    ];
    let mut want = hand_ipf(&base, &vars, &targets, 2000);
    let total: f64 = want.iter().sum();
    want.iter_mut().for_each(|x| *x *= rows.len() as f64 / total);
    for (a, b) in f64_col(&w, "weight").iter().zip(&want) {
        assert!((a - b).abs() <= 1e-9 * b, "{a} vs {b}");
    }
    // Components get the imputation columns; the interaction is not a column.
    for c in [
        "sex_weighting",
        "age_group_weighting",
        "education_weighting",
        "region_weighting",
        "region_imputed",
    ] {
        assert!(w.column_by_name(c).is_some(), "{c}");
    }
    assert!(w.column_by_name("sex*age_group_weighting").is_none());
    // Diagnostics: every margin, interaction cells included, at their targets.
    let m = &d[0].margins;
    let names: Vec<&str> = m.iter().map(|m| m.variable.as_str()).collect();
    assert_eq!(names, ["sex*age_group", "education", "region"]);
    let cells: Vec<&str> = m[0].categories.iter().map(|c| c.category.as_str()).collect();
    assert_eq!(
        cells,
        [
            "1*15-29", "1*30-44", "1*45-59", "1*60+", "2*15-29", "2*30-44", "2*45-59", "2*60+"
        ]
    );
    for (c, t) in m[0].categories.iter().zip(&targets[0]) {
        assert!((c.share - t).abs() < 1e-12 && (c.target - t).abs() < 1e-15, "{c:?}");
    }
    assert_eq!(m[0].categories.iter().map(|c| c.n).sum::<usize>(), rows.len());
    let json = serde_json::to_value(&d[0]).unwrap();
    assert_eq!(json["margins"][0]["categories"][0]["category"], "1*15-29");
    assert!(json["margins"][2]["categories"][3]["share"].is_number());
}

#[test]
fn refused_region_is_imputed_and_flagged() {
    let rows = sample("KEN", 80);
    let b = bundle(&rows, DESIGN, &targets_for("KEN", &format!("{TARGETS_3}{REGION}")));
    let mut region: Vec<i8> = (0..80).map(region_of).collect();
    region[3] = 9;
    region[40] = 9;
    add_columns(&b, &region, &[10; 80]);
    let s = scheme("[raking]\nvariables = [\"sex\", \"age_group\", \"education\", \"region\"]\n");
    let d = run_q(&b, &s, &q_region()).unwrap();
    assert_eq!(d[0].imputed.get("region"), Some(&2));
    let w = weighted(&b);
    let flags = bool_col(&w, "region_imputed");
    assert!(flags[3] && flags[40] && flags.iter().filter(|&&f| f).count() == 2);
    let rw = w
        .column_by_name("region_weighting")
        .unwrap()
        .as_any()
        .downcast_ref::<Int8Array>()
        .unwrap();
    assert!((1..=4).contains(&rw.value(3)) && (1..=4).contains(&rw.value(40)));
    // A code that is neither valid nor DK/refused is an error naming the column.
    region[5] = 7;
    let b2 = bundle(&rows, DESIGN, &targets_for("KEN", &format!("{TARGETS_3}{REGION}")));
    add_columns(&b2, &region, &[10; 80]);
    assert_contains(
        &err_q(&b2, &s, &q_region()),
        &[
            "respondents.arrow: row 6, column `region`: found `7`, expected one of the codes [1, 2, 3, 4] or DK/refused [9]",
        ],
    );
}

#[test]
fn any_numeric_demographic_can_be_banded() {
    let hours_t = "hours_group,0-9,0.2\nhours_group,10-39,0.5\nhours_group,40+,0.3\n";
    let (b, _) = region_bundle(300, &format!("{TARGETS_3}{hours_t}"));
    let s = scheme(
        "[bands.hours]\nbands = [\"0-9\", \"10-39\", \"40+\"]\n[raking]\nvariables = [\"sex\", \"age_group\", \"hours_group\"]\n",
    );
    let d = run_q(&b, &s, &q_region()).unwrap();
    assert!(d[0].converged);
    let w = weighted(&b);
    let f = w.schema().field_with_name("hours_group").unwrap().clone();
    assert_eq!(
        f.metadata().get("swvr.levels").map(String::as_str),
        Some("0-9,10-39,40+")
    );
    assert!(w.column_by_name("age_group").is_some());
    assert!(w.column_by_name("hours_group_weighting").is_some());
    assert_eq!(d[0].margins[2].variable, "hours_group");
    assert!((d[0].margins[2].categories[1].share - 0.5).abs() < 1e-9);
}

#[test]
fn scheme_that_does_not_fit_the_questionnaire_lists_every_mismatch() {
    let (b, _) = region_bundle(300, &format!("{TARGETS_3}{REGION}"));
    let s = Scheme::from_toml_str(
        "[age_groups]\nbands = [\"18-29\", \"30-64\"]\n[bands.income]\nbands = [\"0+\"]\n[raking]\nvariables = [\"sex\", \"age\", \"district\", \"region\"]\n",
        "s.toml",
    )
    .unwrap();
    let m = err_q(&b, &s, &q2021());
    assert_contains(
        &m,
        &[
            "s.toml (with questionnaire \"",
            "6 mistakes in the weighting scheme:",
            "line 2: weighting scheme key `age_groups.bands` = bands of `age`: expected the first band to start at 15, the smallest valid `age` of the questionnaire (found \"18-29\")",
            "line 2: weighting scheme key `age_groups.bands` = bands of `age`: expected the last band to reach 120, the largest valid `age` of the questionnaire (write it as \"a+\"; found \"30-64\")",
            "line 4: weighting scheme key `bands.income.bands` = bands of `income`: expected a numeric demographic of questionnaire",
            "line 6: weighting scheme key `raking.variables` = \"age\": expected `age` is numeric: rake on its bands, `age_group`, declared in [bands.age] (or [age_groups] for age)",
            "line 6: weighting scheme key `raking.variables` = \"district\": expected `district` is not a demographic: coded demographics of questionnaire",
            "(sex, education, employment, urbanicity) or banded numeric ones (age_group)",
            "\"region\": expected `region` is not a demographic",
        ],
    );
    assert!(!b.out.join("weight").exists());
    // The same scheme's region is fine with a questionnaire that has it.
    let ok = scheme("[raking]\nvariables = [\"sex\", \"region\"]\n");
    assert!(run_q(&b, &ok, &q_region()).is_ok());
    // A coded demographic cannot be banded.
    let s = scheme("[bands.sex]\nbands = [\"1+\"]\n");
    assert_contains(
        &err_q(&b, &s, &q2021()),
        &["`bands.sex.bands`", "`sex` is coded: rake on it directly"],
    );
}

fn interaction_err(targets: &str) -> String {
    let (b, _) = region_bundle(300, targets);
    let s = scheme("[raking]\nvariables = [\"sex*age_group\", \"education\"]\n");
    err_q(&b, &s, &q_region())
}

#[test]
fn interaction_cell_with_respondents_but_no_target() {
    let t = SEX_AGE_CELLS
        .replace("sex*age_group,2*60+,0.08\n", "")
        .replace("2*45-59,0.1", "2*45-59,0.18");
    let m = interaction_err(&format!("{t}{EDU}"));
    assert_contains(
        &m,
        &[
            "targets.csv: KEN 2021, variable sex*age_group, category 2*60+ has ",
            "respondents but no target row (the targets of sex*age_group are on lines 2-8)",
        ],
    );
}

#[test]
fn interaction_target_for_a_cell_that_does_not_exist() {
    for (bad, want) in [
        ("3*15-29", "3*15-29"),
        ("1*15-30", "1*15-30"),
        ("1", "1"),
        ("1*15-29*2", "1*15-29*2"),
    ] {
        let t = SEX_AGE_CELLS.replacen("1*15-29", bad, 1);
        let m = interaction_err(&format!("{t}{EDU}"));
        assert_contains(
            &m,
            &[
                "targets.csv: line 2: KEN 2021, variable sex*age_group, category ",
                want,
                "is not a category of sex*age_group (expected a cell `sex*age_group` written as its components joined by `*` in that order: sex one of 1, 2; age_group one of 15-29, 30-44, 45-59, 60+)",
            ],
        );
    }
}

#[test]
fn interaction_shares_must_sum_to_one() {
    let t = SEX_AGE_CELLS.replace("2*60+,0.08", "2*60+,0.18");
    let m = interaction_err(&format!("{t}{EDU}"));
    assert_contains(
        &m,
        &[
            "targets.csv: line 2",
            "KEN 2021 `sex*age_group`",
            "sum of 1 within 1e-6",
        ],
    );
}

#[test]
fn targets_for_unknown_variables_name_the_line() {
    let m = interaction_err(&format!("{SEX_AGE_CELLS}{EDU}regoin,1,1\n"));
    assert_contains(
        &m,
        &[
            "targets.csv: line 13, column `variable`: found `regoin`, expected a raking variable of the questionnaire (region, sex, education, employment, urbanicity, age_group) or an interaction of them such as `region*sex`",
        ],
    );
    // Targets of a demographic the scheme does not rake on are read and unused.
    let (b, _) = region_bundle(300, &format!("{SEX_AGE_CELLS}{EDU}{REGION}"));
    let s = scheme("[raking]\nvariables = [\"sex*age_group\", \"education\"]\n");
    assert!(run_q(&b, &s, &q_region()).is_ok());
}
