//! Replicate-weight variance of the model against R's `svyglm` on a
//! `svrepdesign` (issue 10; scripts/r/replicate_se_reference.R on the
//! committed replicate weights of fixtures/reference/replicate_se/: a
//! grouped jackknife and a bootstrap, raked per replicate; KEN, LBN with
//! one stratum, SEN dual frame): coefficients to 1e-8, SEs, intervals and
//! p-values to 1e-6 relative, df as R's `df.residual` where R's numerical
//! rank is the generic one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_core::replicates::{ReplicateDesign, ReplicateKind};
use swvr_model::replicate::{InMemoryReplicates, RepDesign};
use swvr_model::{ModelSpec, fit_batch, fit_batch_with_replicates};

use crate::common::{batch_from, close, read_csv, reference_at};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/replicate_se")
}

fn input(set: &str) -> (RecordBatch, InMemoryReplicates) {
    let batch = batch_from(&dir().join("input.csv"));
    let (header, rows) = read_csv(&dir().join(format!("{set}.csv")));
    let (dh, drows) = read_csv(&dir().join(format!("{set}_design.csv")));
    let at = |h: &[String], n: &str| h.iter().position(|x| x == n).unwrap();
    let first = at(&header, "rep_1");
    let k = header.len() - first;
    let columns: Vec<Vec<f64>> = (0..k)
        .map(|j| rows.iter().map(|r| r[first + j].parse().unwrap_or(0.0)).collect())
        .collect();
    let mut designs = HashMap::new();
    for d in &drows {
        let rscales: Vec<f64> = d[at(&dh, "rscales")].split(' ').map(|v| v.parse().unwrap()).collect();
        let n = rscales.len();
        let design = ReplicateDesign {
            kind: ReplicateKind::from_r_type(&d[at(&dh, "type")]).unwrap(),
            scale: d[at(&dh, "scale")].parse().unwrap(),
            rscales,
            mse: d[at(&dh, "mse")] == "TRUE",
        };
        designs.insert(
            (d[at(&dh, "country")].clone(), d[at(&dh, "wave")].parse().unwrap()),
            RepDesign {
                design,
                columns: (0..n).collect(),
                rank_columns: n,
            },
        );
    }
    let weight: Vec<f64> = rows.iter().map(|r| r[at(&header, "weight")].parse().unwrap()).collect();
    let schema = batch.schema();
    let wi = schema.index_of("weight").unwrap();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols[wi] = Arc::new(Float64Array::from(weight));
    (
        RecordBatch::try_new(schema, cols).unwrap(),
        InMemoryReplicates { columns, designs },
    )
}

fn check(set: &str) {
    let (batch, reps) = input(set);
    let sel = Selection::default();
    let spec = ModelSpec::default_spec();
    let out = fit_batch_with_replicates(&batch, Path::new("input.csv"), &spec, &sel, &NoProgress, &reps).unwrap();
    let kind = if set == "jkn" { "jackknife" } else { "bootstrap" };
    assert_eq!(out.variance_method, kind);
    let reference = reference_at(&dir().join(format!("{set}_model_ref.csv")));
    assert_eq!(reference.len(), 3 * 13);
    let fixed = fit_batch(&batch, Path::new("input.csv"), &spec, &sel, &NoProgress).unwrap();
    let mut worst: std::collections::BTreeMap<&str, f64> = Default::default();
    let mut df_equal = 0;
    for ((country, term), want) in &reference {
        let term = term.replace("m_", "");
        let g = out.groups.iter().find(|g| &g.country == country).unwrap();
        let row = g.rows.iter().find(|r| r.term == term).unwrap();
        assert_eq!(g.fit.n as f64, want["n"].unwrap(), "{country} n");
        let df = want["df"].unwrap() as i64;
        assert!(g.fit.df >= df, "{country} df {} vs R {df}", g.fit.df);
        // The coefficients are the full-sample fit's.
        let f = fixed.groups.iter().find(|f| &f.country == country).unwrap();
        assert_eq!(f.rows.iter().find(|r| r.term == term).unwrap().estimate, row.estimate);
        let mut pairs = vec![("estimate", row.estimate, 1e-8, 1.0), ("se", row.se, 1e-6, 0.0)];
        if g.fit.df == df {
            df_equal += 1;
            pairs.extend([
                ("ci_low", row.ci_low, 1e-6, 0.0),
                ("ci_high", row.ci_high, 1e-6, 0.0),
                ("p_value", row.p_value, 1e-6, 0.0),
            ]);
        }
        for (what, got, tol, floor) in pairs {
            let (got, want) = (got.unwrap(), want[what].unwrap());
            let dev = (got - want).abs() / want.abs().max(floor).max(1e-300);
            let w = worst.entry(what).or_default();
            *w = w.max(dev);
            assert!(
                close(got, want, tol, floor),
                "{set} {country} {term} {what}: {got} vs R {want}"
            );
        }
    }
    println!(
        "{set}: {} coefficients, df equal to R's for {df_equal}; worst relative deviations {worst:?}",
        reference.len()
    );
}

#[test]
fn jackknife_model_agrees_with_r_svyglm_on_svrepdesign() {
    check("jkn");
}

#[test]
fn bootstrap_model_agrees_with_r_svyglm_on_svrepdesign() {
    check("boot");
}
