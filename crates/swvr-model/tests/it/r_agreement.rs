//! Agreement with R's `svyglm(family = quasibinomial)` on a subset design
//! (scripts/r/model_reference.R → fixtures/reference/model/svyglm.csv):
//! coefficients to 1e-8, SEs, CIs and p-values to 1e-6 relative.

use std::path::Path;

use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_model::{ModelOutput, ModelSpec, fit_batch};

use crate::common::{close, input_batch, reference};

fn fitted(spec: &ModelSpec) -> ModelOutput {
    fit_batch(
        &input_batch(),
        Path::new("input.csv"),
        spec,
        &Selection::default(),
        &NoProgress,
    )
    .unwrap()
}

#[test]
fn default_model_matches_svyglm() {
    let out = fitted(&ModelSpec::default_spec());
    let reference = reference("svyglm.csv");
    assert_eq!(
        reference.len(),
        12 * 13,
        "reference rows: 8 fixture + 4 synthetic countries"
    );
    let mut compared = 0;
    let mut worst: std::collections::BTreeMap<&str, f64> = Default::default();
    for ((country, term), want) in &reference {
        let g = out.groups.iter().find(|g| &g.country == country).unwrap();
        let row = g
            .rows
            .iter()
            .find(|r| &r.term == term)
            .unwrap_or_else(|| panic!("{country} {term}"));
        assert_eq!(g.fit.n as f64, want["n"].unwrap(), "{country} n");
        assert_eq!(g.fit.df as f64, want["df"].unwrap(), "{country} df");
        let pairs = [
            ("estimate", row.estimate, 1e-8, 1.0),
            ("se", row.se, 1e-6, 0.0),
            ("ci_low", row.ci_low, 1e-6, 0.0),
            ("ci_high", row.ci_high, 1e-6, 0.0),
            ("p_value", row.p_value, 1e-6, 0.0),
        ];
        for (name, got, tol, floor) in pairs {
            match (got, want[name]) {
                (Some(a), Some(b)) => {
                    assert!(close(a, b, tol, floor), "{country} {term} {name}: {a} vs R {b}");
                    let rel = (a - b).abs() / b.abs().max(floor);
                    let w = worst.entry(name).or_default();
                    *w = w.max(rel);
                    compared += 1;
                }
                (None, None) => {}
                (a, b) => panic!("{country} {term} {name}: {a:?} vs R {b:?}"),
            }
        }
        assert_eq!(row.odds_ratio, row.estimate.map(f64::exp));
        assert_eq!(row.significant, row.p_value.map(|p| p < 0.05));
    }
    assert_eq!(compared, (12 * 13 - 1) * 5);
    eprintln!("largest relative deviation from R: {worst:?}");
}

#[test]
fn ordinary_countries_have_no_note() {
    let out = fitted(&ModelSpec::default_spec());
    for g in out
        .groups
        .iter()
        .filter(|g| !["SEP", "SNG"].contains(&g.country.as_str()))
    {
        assert_eq!(g.fit.note, None, "{}", g.country);
        assert!(g.fit.converged);
        assert!(
            g.fit.iterations < 15,
            "{} took {} iterations",
            g.country,
            g.fit.iterations
        );
    }
}

#[test]
fn t_quantile_matches_r_qt() {
    // R: qt(0.975, c(1, 5, 30, 668)), printed with 17 digits.
    let cases = [
        (1.0, 12.706204736174694),
        (5.0, 2.5705818356363137),
        (30.0, 2.0422724563012378),
        (668.0, 1.9635216226548617),
    ];
    for (df, want) in cases {
        let got = swvr_model::t_quantile(0.975, df).unwrap();
        assert!(close(got, want, 1e-12, 0.0), "df {df}: {got} vs {want}");
    }
}
