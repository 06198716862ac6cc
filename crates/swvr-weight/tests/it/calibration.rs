//! Calibration functions (issue 10): `[calibration] method = "linear" |
//! "logit"`, agreement with R's `survey::calibrate` on the fixture bundle
//! (scripts/r/calibration_reference.R, outputs under
//! fixtures/reference/calibration/), infeasible bounds, scheme mistakes,
//! and how trimming combines with calibration.

use std::path::PathBuf;

use crate::harness::*;
use crate::raking::{DESIGN_KEN, skewed};
use crate::reference::{compare, reference_bundle, root};

fn dir() -> PathBuf {
    root().join("fixtures/reference/calibration")
}

fn inputs() -> PathBuf {
    root().join("fixtures/reference/weight/inputs_multiplicity.csv")
}

/// Weights the fixture inputs with `scheme_<case>.toml` and compares with
/// `<case>_ref.csv`: (worst base, worst weight, rows, diagnostics).
fn check(case: &str, targets: &PathBuf) -> (f64, f64, usize, Vec<swvr_weight::Diagnostics>) {
    let scheme = swvr_weight::Scheme::from_path(&dir().join(format!("scheme_{case}.toml"))).unwrap();
    let b = reference_bundle(&inputs(), targets);
    let diags = run(&b, &scheme).unwrap();
    assert!(
        diags.iter().all(|d| d.converged && d.max_margin_error <= 1e-12),
        "{diags:?}"
    );
    let (wb, ww, n) = compare(&b, &dir().join(format!("{case}_ref.csv")));
    (wb, ww, n, diags)
}

fn g_range(diags: &[swvr_weight::Diagnostics]) -> (f64, f64) {
    diags.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), d| {
        let c = d.calibration.as_ref().unwrap();
        (lo.min(c.g_min), hi.max(c.g_max))
    })
}

#[test]
fn linear_calibration_agrees_with_r_calibrate() {
    let (b, w, n, diags) = check("linear", &root().join("fixtures/targets.csv"));
    eprintln!("linear: {n} respondents, max rel. diff base {b:.2e}, weight {w:.2e}");
    assert!(b <= 1e-8 && w <= 1e-8, "base {b:e}, weight {w:e}");
    let c = diags[0].calibration.as_ref().unwrap();
    assert_eq!((c.method.as_str(), c.bounds), ("linear", None));
    // Unbounded linear calibration is one Newton step (the regression estimator).
    assert!(diags.iter().all(|d| d.calibration.as_ref().unwrap().iterations <= 2));
    // Its g-weights leave [0.2, 3.5]: the logit case's bounds bind.
    let (lo, hi) = g_range(&diags);
    assert!(lo < 0.2 && hi > 3.5, "linear g-weights {lo}..{hi}");
}

#[test]
fn logit_calibration_agrees_with_r_calibrate_with_binding_bounds() {
    let (b, w, n, diags) = check("logit", &root().join("fixtures/targets.csv"));
    eprintln!("logit [0.2, 3.5]: {n} respondents, max rel. diff base {b:.2e}, weight {w:.2e}");
    assert!(b <= 1e-8 && w <= 1e-8, "base {b:e}, weight {w:e}");
    let c = diags[0].calibration.as_ref().unwrap();
    assert_eq!((c.method.as_str(), c.bounds), ("logit", Some([0.2, 3.5])));
    assert!(c.warnings.is_empty());
    let (lo, hi) = g_range(&diags);
    assert!(lo > 0.2 && hi < 3.5, "logit g-weights {lo}..{hi}");
}

#[test]
fn logit_calibration_on_an_interaction_margin_agrees_with_r() {
    let (b, w, n, diags) = check("logit_interaction", &dir().join("targets_interaction.csv"));
    eprintln!("logit sex*age_group + education [0.1, 5]: {n} respondents, max rel. diff base {b:.2e}, weight {w:.2e}");
    assert!(b <= 1e-8 && w <= 1e-8, "base {b:e}, weight {w:e}");
    assert_eq!(diags[0].margins[0].variable, "sex*age_group");
    assert_eq!(diags[0].margins[0].categories.len(), 8);
    let (lo, hi) = g_range(&diags);
    assert!(lo > 0.1 && hi < 5.0, "logit g-weights {lo}..{hi}");
}

#[test]
fn infeasible_logit_bounds_name_the_country_and_the_margins() {
    // R's calibrate fails with these bounds too (calibration_reference.R).
    let b = reference_bundle(&inputs(), &root().join("fixtures/targets.csv"));
    let toml =
        "[raking]\ntolerance = 1e-12\nmax_iterations = 200\n[calibration]\nmethod = \"logit\"\nbounds = [0.2, 3.0]\n";
    let m = err(&b, &scheme(toml));
    eprintln!("{m}");
    assert_contains(
        &m,
        &[
            "logit calibration of KEN 2021 with bounds [0.2, 3] on the g-weights cannot meet the margins (no convergence in 200 iterations): ",
            "(category ",
            " from its target share)",
            "widen [calibration] bounds",
        ],
    );
    assert!(
        ["sex (", "age_group (", "education ("].iter().any(|v| m.contains(v)),
        "{m}"
    );
    assert!(!b.out.join("weight/weighted.arrow").exists());
    // With on_nonconvergence = "warn" the last weights are kept, within the bounds.
    let warn = scheme(&toml.replace("[raking]\n", "[raking]\non_nonconvergence = \"warn\"\n"));
    let d = run(&b, &warn).unwrap();
    let ken = d.iter().find(|d| d.country == "KEN").unwrap();
    assert!(!ken.converged && ken.max_margin_error > 1e-12, "{ken:?}");
    let c = ken.calibration.as_ref().unwrap();
    assert!(c.g_min > 0.2 - 1e-12 && c.g_max < 3.0 + 1e-12, "{c:?}");
}

#[test]
fn linear_calibration_with_weights_below_zero_is_an_error() {
    // Targets far from the sample: the regression estimator's g goes below 0.
    let (rows, _) = skewed();
    let t = targets_for(
        "KEN",
        "sex,1,0.95\nsex,2,0.05\nage_group,15-29,0.05\nage_group,30-44,0.05\nage_group,45-59,0.1\nage_group,60+,0.8\neducation,1,0.3\neducation,2,0.5\neducation,3,0.2\n",
    );
    let b = bundle(&rows, DESIGN_KEN, &t);
    let m = err(&b, &scheme("[calibration]\nmethod = \"linear\"\n"));
    eprintln!("{m}");
    assert_contains(
        &m,
        &[
            "linear calibration of KEN 2021 gives ",
            " weights <= 0 (smallest g-weight -",
            "set [calibration] bounds = [L, U]",
        ],
    );
    // Bounded, the same margins are met (or the bounds are reported).
    let d = run(
        &b,
        &scheme("[raking]\ntolerance = 1e-10\n[calibration]\nmethod = \"logit\"\nbounds = [0.01, 20]\n"),
    )
    .unwrap();
    assert!(d[0].converged && d[0].min_weight > 0.0, "{:?}", d[0]);
}

#[test]
fn trimming_alternates_with_logit_calibration_and_is_flagged() {
    let (rows, t) = skewed();
    let b = bundle(&rows, DESIGN_KEN, &t);
    let s = scheme(
        "[raking]\ntolerance = 1e-8\n[calibration]\nmethod = \"logit\"\nbounds = [0.05, 20]\n[trimming]\nlower = 0.3\nupper = 3.0\nmax_rounds = 500\n",
    );
    let d = run(&b, &s).unwrap();
    assert!(
        d[0].converged && d[0].trimming_feasible && d[0].trim_rounds > 0,
        "{:?}",
        d[0]
    );
    let w = f64_col(&weighted(&b), "weight");
    for x in &w {
        assert!(*x >= 0.3 * (1.0 - 1e-6) && *x <= 3.0 * (1.0 + 1e-6), "{x}");
    }
    let c = d[0].calibration.as_ref().unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert_contains(
        &c.warnings[0],
        &[
            "[trimming] (weight / mean in [0.3, 3]) alternates with logit calibration",
            "g-weight bounds [0.05, 20] apply to the trimmed weights",
        ],
    );
    let json = std::fs::read_to_string(b.out.join("weight/diagnostics.json")).unwrap();
    assert_contains(
        &json,
        &[
            "\"calibration\": {",
            "\"method\": \"logit\"",
            "\"g_min\": ",
            "\"g_max\": ",
        ],
    );
}

#[test]
fn raking_is_the_default_and_leaves_outputs_as_they_were() {
    let (rows, t) = skewed();
    let plain_run = {
        let b = bundle(&rows, DESIGN_KEN, &t);
        run(&b, &plain()).unwrap();
        (
            std::fs::read(b.out.join("weight/weighted.arrow")).unwrap(),
            std::fs::read_to_string(b.out.join("weight/diagnostics.json")).unwrap(),
        )
    };
    let explicit = {
        let b = bundle(&rows, DESIGN_KEN, &t);
        let s = scheme(
            "[raking]\nvariables = [\"sex\", \"age_group\", \"education\"]\ntolerance = 1e-12\n[calibration]\nmethod = \"raking\"\n",
        );
        assert_eq!(s, plain());
        run(&b, &s).unwrap();
        (
            std::fs::read(b.out.join("weight/weighted.arrow")).unwrap(),
            std::fs::read_to_string(b.out.join("weight/diagnostics.json")).unwrap(),
        )
    };
    assert!(
        plain_run == explicit,
        "method = \"raking\" must be today's raking, byte for byte"
    );
    assert!(!plain_run.1.contains("calibration"));
    assert!(!swvr_weight::Scheme::default_scheme().to_toml().contains("calibration"));
}

#[test]
fn calibration_scheme_round_trips_and_mistakes_are_reported() {
    let s = scheme("[calibration]\nmethod = \"logit\"\nbounds = [0.5, 2]\n");
    assert_eq!(
        s.calibration(),
        swvr_weight::calibrate::Calibration::Logit { bounds: (0.5, 2.0) }
    );
    assert!(
        s.to_toml()
            .contains("[calibration]\nmethod = \"logit\"\nbounds = [0.5, 2.0]")
    );
    assert_eq!(scheme(&s.to_toml()), s);
    let lin = scheme("[calibration]\nmethod = \"linear\"\n");
    assert_eq!(lin.to_toml().matches("bounds").count(), 0);
    assert_eq!(scheme(&lin.to_toml()), lin);

    let bad = |toml: &str| match swvr_weight::Scheme::from_toml_str(toml, "s.toml") {
        Ok(_) => panic!("expected a scheme error for {toml}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        bad("[calibration]\nmethod = \"logit\"\n"),
        "s.toml: line 1: weighting scheme key `calibration.bounds` = (missing): expected bounds [L, U] on the g-weights with 0 < L < 1 < U (required by method = \"logit\")"
    );
    assert_eq!(
        bad("[calibration]\nmethod = \"logit\"\nbounds = [1.2, 3]\n"),
        "s.toml: line 3: weighting scheme key `calibration.bounds` = [1.2, 3]: expected two numbers [L, U] bounding the g-weights (final weight / starting weight), with 0 < L < 1 < U, finite"
    );
    assert!(
        bad("[calibration]\nmethod = \"linear\"\nbounds = [0.5]\n")
            .contains("`calibration.bounds` = [0.5]: expected two numbers")
    );
    assert_eq!(
        bad("[calibration]\nmethod = \"raking\"\nbounds = [0.5, 2]\n"),
        "s.toml: line 3: weighting scheme key `calibration.bounds` = [0.5, 2]: expected no bounds with method = \"raking\" (bounds on g-weights apply to \"linear\" and \"logit\"; [trimming] bounds raked weights)"
    );
    assert_eq!(
        bad("[calibration]\nmethod = \"gregs\"\n"),
        "s.toml: line 2: weighting scheme key `calibration.method` = \"gregs\": expected \"raking\" or \"linear\" or \"logit\""
    );
    assert!(
        bad("[calibration]\nmethod = \"linear\"\nmaxit = 3\n")
            .contains("`calibration.maxit` = 3: expected one of the keys method, bounds")
    );
}
