//! Agreement with R's survey package (scripts/r/weight_reference.R) on the
//! fixture bundle: base weights and raked weights to 1e-8 relative.
//!
//! The inputs R used (fixtures/reference/weight/inputs_<case>.csv: counts,
//! frame, stratum, raking categories after swvr's imputation) are turned
//! back into a respondents.arrow here, weighted with the case's scheme and
//! the fixture design.csv and targets.csv, and compared by respondent_id.

use std::collections::HashMap;
use std::path::PathBuf;

use arrow_array::StringArray;

use crate::harness::*;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_csv(path: &PathBuf) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn count(v: &str) -> Option<i32> {
    (!v.is_empty()).then(|| v.parse().unwrap())
}

/// The bundle R's inputs stand for: `inputs` (respondent key, counts,
/// frame, stratum, raking values after imputation) with the fixture
/// design.csv and the given targets file.
pub fn reference_bundle(inputs: &PathBuf, targets: &PathBuf) -> Bundle {
    let inputs = read_csv(inputs);
    let code = |row: &HashMap<String, String>, col: &str| -> i8 { row.get(col).map_or(1, |v| v.parse().unwrap()) };
    let rows: Vec<Resp> = inputs
        .iter()
        .map(|r| Resp {
            country: r["country"].clone(),
            id: r["respondent_id"].clone(),
            frame: r["frame"].clone(),
            stratum: r["stratum"].clone(),
            n_adults: count(&r["n_adults"]),
            n_landlines: count(&r["n_landlines"]),
            n_mobiles: count(&r["n_mobiles"]),
            sex: code(r, "sex_weighting"),
            // The band's youngest age stands for the band.
            age: r.get("age_group_weighting").map_or(30, |b| {
                b.trim_end_matches('+').split('-').next().unwrap().parse().unwrap()
            }),
            education: code(r, "education_weighting"),
            employment: code(r, "employment_weighting"),
            urbanicity: code(r, "urbanicity_weighting"),
        })
        .collect();
    let design = std::fs::read_to_string(root().join("fixtures/design.csv")).unwrap();
    let targets = std::fs::read_to_string(targets).unwrap();
    bundle_raw(&rows, &design, &targets)
}

/// Worst relative differences of base weights and weights between the
/// weighted bundle `b` and R's `reference` file, and its rows.
pub fn compare(b: &Bundle, reference: &PathBuf) -> (f64, f64, usize) {
    let w = weighted(b);
    let ids = w
        .column_by_name("respondent_id")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let country = w
        .column_by_name("country")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let (base, weight) = (f64_col(&w, "base_weight"), f64_col(&w, "weight"));
    let mine: HashMap<(String, String), (f64, f64)> = (0..w.num_rows())
        .map(|i| {
            (
                (country.value(i).to_string(), ids.value(i).to_string()),
                (base[i], weight[i]),
            )
        })
        .collect();
    let reference = read_csv(reference);
    assert_eq!(reference.len(), mine.len());
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    let (mut worst_base, mut worst_weight) = (0.0f64, 0.0f64);
    for r in &reference {
        let (b0, w0) = mine[&(r["country"].clone(), r["respondent_id"].clone())];
        worst_base = worst_base.max(rel(b0, r["base_weight"].parse().unwrap()));
        worst_weight = worst_weight.max(rel(w0, r["weight"].parse().unwrap()));
    }
    (worst_base, worst_weight, reference.len())
}

/// Worst relative difference of base weights and weights between swvr and R.
fn check(case: &str) -> (f64, f64, usize) {
    let dir = root().join("fixtures/reference/weight");
    let scheme = swvr_weight::Scheme::from_path(&dir.join(format!("scheme_{case}.toml"))).unwrap();
    let b = reference_bundle(
        &dir.join(format!("inputs_{case}.csv")),
        &root().join("fixtures/targets.csv"),
    );
    let diags = run(&b, &scheme).unwrap();
    assert!(diags.iter().all(|d| d.converged && d.max_margin_error <= 1e-12));
    if case == "trimming" {
        assert!(diags.iter().all(|d| d.trim_rounds > 0), "the bounds should bind");
    }
    if case == "multiplicity" {
        let sen = diags.iter().find(|d| d.country == "SEN").unwrap();
        assert!(
            sen.frames.landline > 0 && sen.frames.dual_users > 0,
            "SEN is dual frame: {sen:?}"
        );
    }
    compare(&b, &dir.join(format!("{case}_ref.csv")))
}

#[test]
fn multiplicity_agrees_with_r_survey() {
    let (b, w, n) = check("multiplicity");
    eprintln!("multiplicity: {n} respondents, max rel. diff base {b:.2e}, weight {w:.2e}");
    assert!(b <= 1e-8 && w <= 1e-8, "base {b:e}, weight {w:e}");
}

#[test]
fn hartley_agrees_with_r_survey() {
    let (b, w, n) = check("hartley");
    eprintln!("hartley: {n} respondents, max rel. diff base {b:.2e}, weight {w:.2e}");
    assert!(b <= 1e-8 && w <= 1e-8, "base {b:e}, weight {w:e}");
}

#[test]
fn trimming_agrees_with_r_survey() {
    let (b, w, n) = check("trimming");
    eprintln!("trimming: {n} respondents, max rel. diff base {b:.2e}, weight {w:.2e}");
    assert!(b <= 1e-8 && w <= 1e-8, "base {b:e}, weight {w:e}");
}
