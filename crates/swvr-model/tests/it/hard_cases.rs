//! Separation and singular designs: reported per country, never nonsense
//! (regression tests for issue items 3 and 5).

use std::path::Path;

use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_model::fit::{Aggregate, Cell, FitOptions, Pattern, fit};
use swvr_model::{Method, ModelSpec, fit_batch};

use crate::common::{close, input_batch, reference};

fn only(country: &str) -> Selection {
    Selection::new(vec![country.into()], vec![]).unwrap()
}

#[test]
fn separated_country_is_flagged_not_estimated() {
    // In SEP everyone with Q1 = yes plans to volunteer: R's svyglm reports
    // Q1 = 32.6 (SE 0.21, p < 2e-16) there (fixtures/reference/model/separated_glm.txt).
    let spec = ModelSpec::default_spec();
    let out = fit_batch(&input_batch(), Path::new("input.csv"), &spec, &only("SEP"), &NoProgress).unwrap();
    assert_eq!(out.groups.len(), 1);
    let g = &out.groups[0];
    let note = g.fit.note.as_deref().unwrap();
    assert!(note.contains("separation") && note.contains("Q1"), "{note}");
    assert!(note.contains("firth"), "{note}");
    assert_eq!(g.rows.len(), 13);
    assert!(
        g.rows
            .iter()
            .all(|r| r.estimate.is_none() && r.p_value.is_none() && r.significant.is_none())
    );
    assert_eq!(g.fit.n, 290);
}

#[test]
fn firth_on_separated_country_matches_independent_r_computation() {
    let spec = ModelSpec::default_spec().with_method(Method::Firth);
    let out = fit_batch(&input_batch(), Path::new("input.csv"), &spec, &only("SEP"), &NoProgress).unwrap();
    let g = &out.groups[0];
    assert!(g.fit.converged);
    let note = g.fit.note.as_deref().unwrap();
    assert!(note.contains("separation") && note.contains("Firth"), "{note}");
    let reference = reference("firth.csv");
    assert_eq!(reference.len(), 13);
    let mut worst = [0.0f64; 2];
    for ((_, term), want) in &reference {
        let row = g.rows.iter().find(|r| &r.term == term).unwrap();
        let (b, se) = (row.estimate.unwrap(), row.se.unwrap());
        assert!(
            close(b, want["estimate"].unwrap(), 1e-8, 1.0),
            "{term}: {b} vs {want:?}"
        );
        assert!(close(se, want["se"].unwrap(), 1e-6, 0.0), "{term} se: {se} vs {want:?}");
        worst[0] = worst[0].max((b - want["estimate"].unwrap()).abs() / want["estimate"].unwrap().abs().max(1.0));
        worst[1] = worst[1].max((se / want["se"].unwrap() - 1.0).abs());
        for name in ["ci_low", "ci_high", "p_value"] {
            let got = match name {
                "ci_low" => row.ci_low,
                "ci_high" => row.ci_high,
                _ => row.p_value,
            }
            .unwrap();
            assert!(
                close(got, want[name].unwrap(), 1e-6, 0.0),
                "{term} {name}: {got} vs {want:?}"
            );
        }
        assert_eq!(g.fit.df as f64, want["df"].unwrap());
    }
    eprintln!(
        "Firth vs R: largest deviation estimate {:.1e}, se (relative) {:.1e}",
        worst[0], worst[1]
    );
    // Finite and moderate where ML diverges.
    let q1 = g.rows.iter().find(|r| r.term == "Q1").unwrap().estimate.unwrap();
    assert!(q1 > 3.0 && q1 < 10.0, "{q1}");
}

#[test]
fn firth_on_ordinary_data_is_close_to_ml() {
    let spec = ModelSpec::default_spec();
    let ml = fit_batch(&input_batch(), Path::new("x"), &spec, &only("AAA"), &NoProgress).unwrap();
    let spec = spec.with_method(Method::Firth);
    let firth = fit_batch(&input_batch(), Path::new("x"), &spec, &only("AAA"), &NoProgress).unwrap();
    assert_eq!(firth.groups[0].fit.note, None);
    for (a, b) in ml.groups[0].rows.iter().zip(&firth.groups[0].rows) {
        let (a, b) = (a.estimate.unwrap(), b.estimate.unwrap());
        // Firth shrinks towards 0 by O(1/n).
        assert!((a - b).abs() < 0.05 && a != b, "{a} {b}");
    }
}

#[test]
fn category_nobody_has_is_dropped_with_a_reason() {
    let spec = ModelSpec::default_spec();
    let out = fit_batch(&input_batch(), Path::new("x"), &spec, &only("SNG"), &NoProgress).unwrap();
    let g = &out.groups[0];
    let note = g.fit.note.as_deref().unwrap();
    assert!(note.contains("no complete case has education=tertiary"), "{note}");
    let tert = g.rows.iter().find(|r| r.term == "education=tertiary").unwrap();
    assert!(tert.estimate.is_none() && tert.se.is_none());
    assert_eq!(g.rows.iter().filter(|r| r.estimate.is_some()).count(), 12);
}

/// Hand-built aggregate: `rows` of (x without intercept, y, weight), one stratum.
fn aggregate(rows: &[(Vec<f64>, u8, f64)]) -> Aggregate {
    let k = rows[0].0.len() + 1;
    let mut patterns: Vec<Pattern> = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    for (x, y, w) in rows {
        let mut full = vec![1.0];
        full.extend(x);
        let p = match patterns.iter().position(|p| p.x == full) {
            Some(p) => p,
            None => {
                patterns.push(Pattern {
                    x: full,
                    sw1: 0.0,
                    sw0: 0.0,
                    n1: 0,
                    n0: 0,
                });
                patterns.len() - 1
            }
        };
        let pat = &mut patterns[p];
        if *y == 1 {
            pat.sw1 += w;
            pat.n1 += 1;
        } else {
            pat.sw0 += w;
            pat.n0 += 1;
        }
        cells.push(Cell {
            stratum: 0,
            pattern: p as u32,
            y: *y,
            sw: *w,
            sw2: w * w,
        });
    }
    Aggregate {
        k,
        patterns,
        cells,
        stratum_n: vec![rows.len() as u64],
        cal: None,
    }
}

fn opts(method: Method) -> FitOptions {
    FitOptions {
        method,
        tolerance: 1e-10,
        max_iterations: 100,
    }
}

fn terms(k: usize) -> Vec<String> {
    std::iter::once("(Intercept)".to_string())
        .chain((1..k).map(|j| format!("x{j}")))
        .collect()
}

#[test]
fn separation_by_a_difference_is_detected_and_firth_fits() {
    // x1 − x2 = 1 → y = 1, x1 − x2 = −1 → y = 0, 0 → mixed: quasi-complete
    // separation along x1 − x2, while neither dummy alone has a one-outcome side.
    let mut rows = Vec::new();
    for _ in 0..5 {
        rows.push((vec![1.0, 0.0], 1, 1.0)); // x1 − x2 = 1  → 1
        rows.push((vec![0.0, 1.0], 0, 1.0)); // −1 → 0
        rows.push((vec![0.0, 0.0], 1, 1.0)); // 0 → mixed
        rows.push((vec![0.0, 0.0], 0, 1.0));
        rows.push((vec![1.0, 1.0], 1, 1.0)); // 0 → mixed
        rows.push((vec![1.0, 1.0], 0, 1.0));
    }
    let agg = aggregate(&rows);
    let f = fit(&agg, &terms(3), &opts(Method::Logit));
    let note = f.note.unwrap();
    assert!(note.contains("separation"), "{note}");
    assert!(f.coef.iter().all(Option::is_none));
    let f = fit(&agg, &terms(3), &opts(Method::Firth));
    assert!(f.converged && f.coef.iter().all(|c| c.is_some_and(f64::is_finite)));
}

#[test]
fn separation_without_a_single_separating_term_is_detected() {
    // Only the combination x1 + x2 separates: cases with x1 = x2 = 1 all y = 1,
    // x1 = x2 = 0 all y = 0, mixed otherwise; no dummy alone has a one-outcome side.
    let mut rows = Vec::new();
    for _ in 0..4 {
        rows.push((vec![1.0, 1.0], 1, 1.0));
        rows.push((vec![0.0, 0.0], 0, 1.5));
        rows.push((vec![1.0, 0.0], 1, 1.0));
        rows.push((vec![1.0, 0.0], 0, 0.7));
        rows.push((vec![0.0, 1.0], 1, 1.2));
        rows.push((vec![0.0, 1.0], 0, 1.0));
    }
    let agg = aggregate(&rows);
    let f = fit(&agg, &terms(3), &opts(Method::Logit));
    let note = f.note.unwrap();
    assert!(note.contains("separation"), "{note}");
    assert!(f.coef.iter().all(Option::is_none));
}

#[test]
fn constant_predictor_and_too_few_cases() {
    let rows: Vec<_> = (0..10).map(|i| (vec![1.0], (i % 2) as u8, 1.0)).collect();
    let f = fit(&aggregate(&rows), &terms(2), &opts(Method::Logit));
    assert!(f.note.unwrap().contains("every complete case has x1"));
    assert!(f.coef[1].is_none() && f.coef[0].is_some());
    let rows = vec![(vec![1.0], 1, 1.0), (vec![0.0], 0, 1.0)];
    let f = fit(&aggregate(&rows), &terms(2), &opts(Method::Logit));
    assert!(f.note.unwrap().contains("too few complete cases"));
}
