//! Replicate-weight variance against R's `svrepdesign` (issue 10;
//! scripts/r/replicate_se_reference.R on the committed replicate weights of
//! fixtures/reference/replicate_se/): a grouped jackknife (JKn, mse = FALSE)
//! and a Rao–Wu bootstrap (mse = TRUE), both raked per replicate, on KEN
//! (4 strata), LBN (one stratum), ZZL (a one-respondent stratum, estimates
//! of 0 and 1, one-respondent categories) and SEN (dual frame).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use swvr_core::questionnaire::Questionnaire;
use swvr_core::replicates::{ReplicateDesign, ReplicateKind};
use swvr_tabulate::replicate::{InMemoryReplicates, RepDesign};
use swvr_tabulate::{CiMethod, tabulate_batch_with_replicates};

use crate::common::{batch_from_csv, read_csv};

fn num(s: &str) -> Option<f64> {
    (s != "NA" && !s.is_empty()).then(|| s.parse().unwrap())
}

/// The fixture batch with the set's full-sample weights, and its replicates.
pub fn replicate_input(set: &str, q: &Questionnaire) -> (RecordBatch, InMemoryReplicates) {
    let batch = batch_from_csv("../replicate_se/input.csv", q);
    let (header, rows) = read_csv(&format!("../replicate_se/{set}.csv"));
    let (dh, drows) = read_csv(&format!("../replicate_se/{set}_design.csv"));
    let at = |h: &[String], n: &str| h.iter().position(|x| x == n).unwrap();
    let weight: Vec<f64> = rows.iter().map(|r| r[at(&header, "weight")].parse().unwrap()).collect();
    let k = header.iter().filter(|h| h.starts_with("rep_")).count();
    let first = at(&header, "rep_1");
    let columns: Vec<Vec<f64>> = (0..k)
        .map(|j| rows.iter().map(|r| num(&r[first + j]).unwrap_or(0.0)).collect())
        .collect();
    let mut designs = HashMap::new();
    for d in &drows {
        let rscales: Vec<f64> = d[at(&dh, "rscales")].split(' ').map(|v| v.parse().unwrap()).collect();
        let design = RepDesign {
            columns: (0..rscales.len()).collect(),
            rank_columns: rscales.len(),
            design: ReplicateDesign {
                kind: ReplicateKind::from_r_type(&d[at(&dh, "type")]).unwrap(),
                scale: d[at(&dh, "scale")].parse().unwrap(),
                rscales,
                mse: d[at(&dh, "mse")] == "TRUE",
            },
        };
        designs.insert(
            (d[at(&dh, "country")].clone(), d[at(&dh, "wave")].parse().unwrap()),
            design,
        );
    }
    let schema = batch.schema();
    let wi = schema.index_of("weight").unwrap();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols[wi] = Arc::new(Float64Array::from(weight));
    let batch = RecordBatch::try_new(schema, cols).unwrap();
    (batch, InMemoryReplicates { columns, designs })
}

#[derive(Default, Debug)]
struct Worst {
    estimate: f64,
    se: f64,
    ci: f64,
    deff: f64,
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1e-300)
}

type Key = (String, String, String, String, String);

fn check_tables(set: &str) {
    let q = Questionnaire::default_2021();
    let (batch, reps) = replicate_input(set, &q);
    let (est, _) = tabulate_batch_with_replicates(&batch, &q, &Default::default(), &reps).unwrap();
    let ours: BTreeMap<Key, _> = est
        .iter()
        .map(|e| {
            let key = (
                e.country.clone(),
                e.item.clone(),
                e.domain.clone(),
                e.domain_level.clone(),
                e.category.clone(),
            );
            (key, e)
        })
        .collect();
    let (h, rows) = read_csv(&format!("../replicate_se/{set}_tables_ref.csv"));
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    assert_eq!(rows.len(), est.len(), "{set}: row count differs from R");
    let mut w = Worst::default();
    let (mut df_same, mut ci_checked, mut degenerate) = (0, 0, 0);
    let want_method = if set == "jkn" { "jackknife" } else { "bootstrap" };
    for r in &rows {
        let key: Key = (
            r[at("country")].clone(),
            r[at("item")].clone(),
            r[at("domain")].clone(),
            r[at("domain_level")].clone(),
            r[at("category")].clone(),
        );
        let e = ours.get(&key).unwrap_or_else(|| panic!("{key:?} missing"));
        assert_eq!(e.variance_method, want_method);
        assert_eq!(e.n, r[at("n")].parse::<u64>().unwrap(), "n {key:?}");
        let p = num(&r[at("estimate")]).unwrap();
        w.estimate = w.estimate.max((e.estimate - p).abs());
        assert!((e.estimate - p).abs() <= 1e-10, "estimate {key:?}");
        let se = num(&r[at("se")]).unwrap();
        if se < 1e-9 {
            // Rounding noise of a share that is (nearly) constant across replicates.
            assert!((e.se - se).abs() < 1e-12, "se {key:?}: {} vs {se}", e.se);
        } else {
            w.se = w.se.max(rel(e.se, se));
            assert!(rel(e.se, se) <= 1e-8, "se {key:?}: {} vs {se}", e.se);
        }
        match num(&r[at("deff")]) {
            Some(d) => {
                let got = e.deff.unwrap();
                w.deff = w.deff.max(rel(got, d));
                assert!(
                    rel(got, d) <= 1e-8 || (got - d).abs() < 1e-12,
                    "deff {key:?}: {got} vs {d}"
                );
            }
            None => assert_eq!(e.deff, None, "deff {key:?}"),
        }
        let df: i64 = r[at("df")].parse().unwrap();
        // R's df is the numerical rank of the level's replicate weights − 1;
        // swvr's the generic rank min(n, R) − 1, never below R's.
        assert!(e.df >= df, "df {key:?}: {} vs R {df}", e.df);
        if e.df != df {
            continue;
        }
        df_same += 1;
        match (num(&r[at("ci_low")]), num(&r[at("ci_high")])) {
            (Some(lo), Some(hi)) => {
                ci_checked += 1;
                w.ci = w.ci.max(rel(e.ci_low.unwrap(), lo)).max(rel(e.ci_high.unwrap(), hi));
                assert!(rel(e.ci_low.unwrap(), lo) <= 1e-8, "ci_low {key:?}");
                assert!(rel(e.ci_high.unwrap(), hi) <= 1e-8, "ci_high {key:?}");
            }
            _ if e.category == "net" => assert_eq!((e.ci_method, e.df), (CiMethod::None, 0), "{key:?}"),
            _ if p == 0.0 || p == 1.0 => assert_eq!(e.ci_method, CiMethod::KornGraubard, "{key:?}"),
            _ => {
                // A replicate share of 0 or 1: R's per-replicate glm does
                // not converge; swvr uses the delta-method logit interval.
                degenerate += 1;
                assert_eq!(e.ci_method, CiMethod::Logit, "{key:?}");
            }
        }
    }
    println!(
        "{set}: {} rows; df equal to R's on {df_same}, intervals compared on {ci_checked}, \
         {degenerate} with a replicate share of 0 or 1; worst {w:?}",
        rows.len()
    );
    assert!(ci_checked > 1000 && df_same * 2 > rows.len(), "{ci_checked} {df_same}");
}

#[test]
fn jackknife_tables_agree_with_r_svrepdesign() {
    check_tables("jkn");
}

#[test]
fn bootstrap_tables_agree_with_r_svrepdesign() {
    check_tables("boot");
}

fn check_contrasts(set: &str) {
    let q = Questionnaire::default_2021();
    let (batch, reps) = replicate_input(set, &q);
    let (_, con) = tabulate_batch_with_replicates(&batch, &q, &Default::default(), &reps).unwrap();
    let ours: BTreeMap<(String, String, String, String, String, String), _> = con
        .iter()
        .map(|c| {
            let key = (
                c.country.clone(),
                c.item.clone(),
                c.domain.clone(),
                c.level_a.clone(),
                c.level_b.clone(),
                c.category.clone(),
            );
            (key, c)
        })
        .collect();
    let (h, rows) = read_csv(&format!("../replicate_se/{set}_contrasts_ref.csv"));
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    assert_eq!(rows.len(), con.len(), "{set}: contrast count differs from R");
    let (mut worst_d, mut worst_se) = (0.0f64, 0.0f64);
    for r in &rows {
        let key = (
            r[at("country")].clone(),
            r[at("item")].clone(),
            r[at("domain")].clone(),
            r[at("level_a")].clone(),
            r[at("level_b")].clone(),
            r[at("category")].clone(),
        );
        let c = ours.get(&key).unwrap_or_else(|| panic!("{key:?} missing"));
        let d = num(&r[at("difference")]).unwrap();
        worst_d = worst_d.max((c.difference - d).abs());
        assert!((c.difference - d).abs() <= 1e-10, "difference {key:?}");
        let se = num(&r[at("se")]).unwrap();
        if se < 1e-9 {
            assert!((c.se - se).abs() < 1e-12, "se {key:?}: {} vs {se}", c.se);
        } else {
            worst_se = worst_se.max(rel(c.se, se));
            assert!(rel(c.se, se) <= 1e-8, "se {key:?}: {} vs {se}", c.se);
        }
        assert!(c.df >= r[at("df")].parse::<i64>().unwrap(), "df {key:?}");
    }
    println!(
        "{set}: {} contrasts; worst |difference| {worst_d:e}, rel. se {worst_se:e}",
        rows.len()
    );
}

#[test]
fn jackknife_contrasts_agree_with_r_svycontrast() {
    check_contrasts("jkn");
}

#[test]
fn bootstrap_contrasts_agree_with_r_svycontrast() {
    check_contrasts("boot");
}
