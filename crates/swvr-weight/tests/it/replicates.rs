//! Replicate weights (issue 10): agreement with R's survey package
//! (scripts/r/replicates_reference.R) on the hard-case inputs of
//! fixtures/reference/replicates/ (a one-respondent category, a lonely
//! stratum, a stratum of 3, SEN's dual frame; trimming that binds, logit
//! bounds that bind), the file's alignment and metadata, and determinism
//! across thread counts.

use std::collections::HashMap;
use std::path::PathBuf;

use swvr_core::replicates::{ReplicateKind, read_group, read_meta};

use crate::harness::*;
use crate::reference::{reference_bundle, root};

fn dir() -> PathBuf {
    root().join("fixtures/reference/replicates")
}

fn case_bundle(case: &str) -> (Bundle, swvr_weight::Scheme, Vec<swvr_weight::Diagnostics>) {
    let scheme = swvr_weight::Scheme::from_path(&dir().join(format!("scheme_{case}.toml"))).unwrap();
    let b = reference_bundle(&dir().join("inputs.csv"), &dir().join("targets.csv"));
    let diags = run(&b, &scheme).unwrap();
    (b, scheme, diags)
}

/// R's replicate weights: (country, id) → weights (None past its replicates).
fn reference(case: &str) -> HashMap<(String, String), Vec<Option<f64>>> {
    let mut rdr = csv::Reader::from_path(dir().join(format!("{case}_ref.csv"))).unwrap();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            let w = r
                .iter()
                .skip(2)
                .map(|v| (!v.is_empty()).then(|| v.parse().unwrap()))
                .collect();
            ((r[0].to_string(), r[1].to_string()), w)
        })
        .collect()
}

/// Worst relative difference between swvr's replicates.arrow and R's, and
/// the number of replicate weights compared.
fn check(case: &str) -> (f64, usize) {
    let (b, _, diags) = case_bundle(case);
    let meta = read_meta(&b.out).unwrap();
    let want = reference(case);
    let w = weighted(&b);
    let ids = w
        .column_by_name("respondent_id")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    let (mut worst, mut compared) = (0.0f64, 0usize);
    for d in &diags {
        let g = read_group(&b.out, &d.country, d.wave).unwrap();
        let reps = d.replicates.as_ref().unwrap().replicates;
        assert_eq!(meta.groups[&(d.country.clone(), d.wave)].replicates, reps);
        for (k, &row) in g.rows.iter().enumerate() {
            let key = (d.country.clone(), ids.value(row as usize).to_string());
            let r_w = &want[&key];
            for (r, col) in g.weights.iter().enumerate() {
                let ours = col[k];
                match r_w.get(r).copied().flatten() {
                    Some(x) if r < reps => {
                        if x == 0.0 {
                            assert_eq!(ours, 0.0, "{key:?} rep_{}", r + 1);
                        } else {
                            worst = worst.max((ours - x).abs() / x.abs());
                        }
                        compared += 1;
                    }
                    _ => {
                        // Padding: the full-sample weight, rscale 0.
                        assert!(r >= reps, "{key:?} rep_{} missing in R", r + 1);
                        assert_eq!(g.design.rscales[r], 0.0);
                    }
                }
            }
        }
    }
    (worst, compared)
}

#[test]
fn jackknife_with_trimming_agrees_with_r_survey() {
    let (worst, n) = check("jk_trim");
    eprintln!("jk_trim: {n} replicate weights, max rel. diff {worst:.2e}");
    assert!(n > 20_000 && worst <= 1e-8, "{worst:e} over {n}");
}

#[test]
fn jackknife_with_logit_calibration_agrees_with_r_survey() {
    let (worst, n) = check("jk_logit");
    eprintln!("jk_logit: {n} replicate weights, max rel. diff {worst:.2e}");
    assert!(n > 20_000 && worst <= 1e-8, "{worst:e} over {n}");
}

#[test]
fn bootstrap_with_trimming_agrees_with_r_survey() {
    let (worst, n) = check("boot_trim");
    eprintln!("boot_trim: {n} replicate weights, max rel. diff {worst:.2e}");
    assert!(n == 750 * 20 && worst <= 1e-8, "{worst:e} over {n}");
}

#[test]
fn jackknife_metadata_and_hard_cases() {
    let (b, _, diags) = case_bundle("jk_trim");
    let meta = read_meta(&b.out).unwrap();
    assert_eq!(
        (meta.kind, meta.scale, meta.mse),
        (ReplicateKind::Jackknife, 1.0, false)
    );
    // R's rscales (as.svrepdesign, lonely.psu = "adjust"), per country.
    let mut rdr = csv::Reader::from_path(dir().join("jk_trim_rscales.csv")).unwrap();
    let mut r_rscales: HashMap<String, Vec<f64>> = HashMap::new();
    for r in rdr.records() {
        let r = r.unwrap();
        r_rscales
            .entry(r[0].to_string())
            .or_default()
            .push(r[2].parse().unwrap());
    }
    for d in &diags {
        let g = &meta.groups[&(d.country.clone(), d.wave)];
        let want = &r_rscales[&d.country];
        assert_eq!(g.replicates, want.len(), "{}", d.country);
        for (a, b) in g.rscales.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{}: {a} vs {b}", d.country);
        }
        assert!(
            g.rscales[want.len()..].iter().all(|&x| x == 0.0),
            "padding has rscale 0"
        );
    }
    let by = |c: &str| diags.iter().find(|d| d.country == c).unwrap();
    // KEN: 5 strata grouped into 5 + a lonely one: 26 replicates.
    let ken = by("KEN");
    assert_eq!(ken.lonely_strata, ["KEN-Lonely"]);
    let kr = ken.replicates.as_ref().unwrap();
    assert_eq!((kr.replicates, kr.grouped_strata), (26, Some(5)));
    // SEN: 8 strata > 5 grouped, SEN-Small (3) delete-one: 43 replicates.
    assert_eq!(by("SEN").replicates.as_ref().unwrap().replicates, 43);
    // BOL: the one tertiary respondent's group replicate has no tertiary weight.
    let bol = by("BOL").replicates.as_ref().unwrap();
    assert_eq!(bol.categories_emptied, 1);
    assert!(bol.not_converged.is_empty());
    // weighted.arrow says where the standard errors come from.
    let w = weighted(&b);
    let md = w.schema().metadata().clone();
    assert_eq!(
        ReplicateKind::from_weighted_metadata(&md),
        Some(ReplicateKind::Jackknife)
    );
    // Every replicate meets the margins: replicate weights sum to n per country.
    for d in &diags {
        let g = read_group(&b.out, &d.country, d.wave).unwrap();
        for col in &g.weights {
            let s: f64 = col.iter().sum();
            assert!((s - d.n as f64).abs() < 1e-9, "{} sums to {s}", d.country);
        }
    }
}

#[test]
fn replicates_do_not_depend_on_the_thread_count() {
    let scheme = swvr_weight::Scheme::from_path(&dir().join("scheme_boot_trim.toml")).unwrap();
    let bytes = |threads: usize| {
        let b = reference_bundle(&dir().join("inputs.csv"), &dir().join("targets.csv"));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| run(&b, &scheme)).unwrap();
        std::fs::read(swvr_core::stages::path(&b.out, swvr_core::stages::REPLICATES)).unwrap()
    };
    let one = bytes(1);
    assert!(one.len() > 100_000);
    assert_eq!(one, bytes(3));
}

#[test]
fn fixed_and_calibrated_write_no_replicates() {
    for s in [plain(), scheme("[variance]\nmethod = \"calibrated\"\n")] {
        let b = reference_bundle(&dir().join("inputs.csv"), &dir().join("targets.csv"));
        let diags = run(&b, &s).unwrap();
        assert!(diags.iter().all(|d| d.replicates.is_none()));
        assert!(!swvr_core::stages::path(&b.out, swvr_core::stages::REPLICATES).exists());
    }
}

#[test]
fn imputed_rows_are_imputed_again_in_each_replicate() {
    // DK education for some respondents: each replicate imputes them from
    // its own base-weighted donors, and its weights still meet the margins.
    let mut rows = sample("KEN", 400);
    for r in rows.iter_mut().step_by(9) {
        r.education = 8;
    }
    let targets = targets_for(
        "KEN",
        "sex,1,0.5\nsex,2,0.5\nage_group,15-29,0.3\nage_group,30-44,0.3\nage_group,45-59,0.2\nage_group,60+,0.2\neducation,1,0.3\neducation,2,0.5\neducation,3,0.2\n",
    );
    let b = bundle(&rows, "KEN,2021,M,1000000,400\n", &targets);
    let s = scheme("[raking]\ntolerance = 1e-12\n[variance]\nmethod = \"bootstrap\"\nreplicates = 30\nseed = 4\n");
    let diags = run(&b, &s).unwrap();
    assert_eq!(diags[0].imputed["education"], 45);
    let g = read_group(&b.out, "KEN", 2021).unwrap();
    assert_eq!(g.weights.len(), 30);
    for col in &g.weights {
        let s: f64 = col.iter().sum();
        assert!((s - 400.0).abs() < 1e-9);
    }
}

#[test]
fn variance_scheme_keys_round_trip_and_mistakes_are_reported() {
    use swvr_weight::VarianceMethod;
    let s = scheme("[variance]\nmethod = \"bootstrap\"\nreplicates = 50\nseed = 9\n");
    assert_eq!(
        s.variance(),
        VarianceMethod::Bootstrap {
            replicates: 50,
            seed: 9
        }
    );
    assert!(
        s.to_toml()
            .contains("[variance]\nmethod = \"bootstrap\"\nreplicates = 50\nseed = 9\n")
    );
    assert_eq!(scheme(&s.to_toml()), s);
    let jk = scheme("[variance]\nmethod = \"jackknife\"\n");
    assert_eq!(jk.variance(), VarianceMethod::Jackknife { groups: 20, seed: 1 });
    assert_eq!(scheme(&jk.to_toml()), jk);
    assert_eq!(
        scheme("[variance]\nmethod = \"bootstrap\"\n").variance(),
        VarianceMethod::Bootstrap {
            replicates: 100,
            seed: 1
        }
    );
    // "fixed" writes no [variance] section (default hashes unchanged).
    assert!(
        !scheme("[variance]\nmethod = \"fixed\"\n")
            .to_toml()
            .contains("variance")
    );

    let bad = |toml: &str| match swvr_weight::Scheme::from_toml_str(toml, "s.toml") {
        Ok(_) => panic!("expected a scheme error for {toml}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        bad("[variance]\nmethod = \"brr\"\n"),
        "s.toml: line 2: weighting scheme key `variance.method` = \"brr\": expected \"fixed\" or \"calibrated\" or \"jackknife\" or \"bootstrap\""
    );
    assert_eq!(
        bad("[variance]\nmethod = \"bootstrap\"\nreplicates = 1\n"),
        "s.toml: line 3: weighting scheme key `variance.replicates` = 1: expected an integer from 2 to 10000"
    );
    assert_eq!(
        bad("[variance]\nmethod = \"jackknife\"\ngroups = 100000\n"),
        "s.toml: line 3: weighting scheme key `variance.groups` = 100000: expected an integer from 2 to 10000"
    );
    assert_eq!(
        bad("[variance]\nmethod = \"bootstrap\"\nseed = -1\n"),
        "s.toml: line 3: weighting scheme key `variance.seed` = -1: expected an integer from 0 to 9223372036854775807"
    );
    assert_eq!(
        bad("[variance]\nmethod = \"bootstrap\"\ngroups = 10\n"),
        "s.toml: line 3: weighting scheme key `variance.groups` = 10: expected no `groups` with method = \"bootstrap\" (`groups` is a key of method = \"jackknife\")"
    );
    assert_eq!(
        bad("[variance]\nmethod = \"jackknife\"\nreplicates = 10\n"),
        "s.toml: line 3: weighting scheme key `variance.replicates` = 10: expected no `replicates` with method = \"jackknife\" (`replicates` is a key of method = \"bootstrap\")"
    );
    assert_eq!(
        bad("[variance]\nseed = 3\n"),
        "s.toml: line 2: weighting scheme key `variance.seed` = 3: expected no `seed` with method = \"fixed\" (`seed` is a key of method = \"jackknife\" or \"bootstrap\")"
    );
    assert_eq!(
        bad("[variance]\nmethod = \"jackknife\"\nrounds = 3\n"),
        "s.toml: line 3: weighting scheme key `variance.rounds` = 3: expected one of the keys method, replicates, groups, seed"
    );
    // Several at once, in file order.
    let e = bad("[variance]\nmethod = \"calibrated\"\ngroups = 0\nseed = \"x\"\n");
    assert!(e.starts_with("s.toml: 2 mistakes in the weighting scheme:"), "{e}");
}

#[test]
fn a_replicate_that_cannot_be_weighted_is_an_error_naming_it() {
    // Trimming bounds so tight that some bootstrap replicate cannot meet
    // them together with the margins (max_rounds 1), while the full sample can.
    let rows = sample("KEN", 300);
    let b = bundle(&rows, "KEN,2021,M,1000000,300\n", &targets_for("KEN", TARGETS_3));
    let toml = "[raking]\ntolerance = 1e-12\n[trimming]\nlower = 0.9\nupper = 1.1\nmax_rounds = 1\n";
    let full = run(&b, &scheme(toml));
    let s = scheme(&format!(
        "{toml}[variance]\nmethod = \"bootstrap\"\nreplicates = 5\nseed = 2\n"
    ));
    match (full, run(&b, &s)) {
        (Ok(_), Err(e)) => assert_contains(
            &e.to_string(),
            &[
                "bootstrap replicate ",
                " of KEN 2021: ",
                "the full sample was weighted, but this replicate could not be (set [raking] on_nonconvergence = \"warn\"",
            ],
        ),
        (Err(full), _) => {
            // The bounds fail the full sample too: then the error is the full sample's.
            let e = run(&b, &s).unwrap_err().to_string();
            assert_eq!(e, full.to_string());
        }
        (Ok(_), Ok(d)) => panic!("expected a replicate failure: {:?}", d[0].replicates),
    }
}
