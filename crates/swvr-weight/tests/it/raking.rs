//! Raking, imputation, trimming, outputs and determinism.

use arrow_array::{Array, Int8Array, StringArray};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;

use crate::harness::*;

pub const DESIGN_KEN: &str = "KEN,2021,M,20000000,1000\n";

fn codes_i8(b: &arrow_array::RecordBatch, name: &str) -> Vec<i8> {
    let a = b
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Int8Array>()
        .unwrap();
    a.values().to_vec()
}

fn strings(b: &arrow_array::RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = b
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

/// Row-level IPF written independently of the library (no cells).
pub fn hand_ipf(base: &[f64], vars: &[Vec<usize>], targets: &[Vec<f64>], sweeps: usize) -> Vec<f64> {
    let n = base.len() as f64;
    let mut w = base.to_vec();
    for _ in 0..sweeps {
        for (k, v) in vars.iter().enumerate() {
            let mut m = vec![0.0; targets[k].len()];
            for (i, &c) in v.iter().enumerate() {
                m[c] += w[i];
            }
            for (i, &c) in v.iter().enumerate() {
                w[i] *= targets[k][c] * n / m[c];
            }
        }
    }
    w
}

#[test]
fn raking_matches_hand_ipf_and_sums_to_n() {
    let rows = sample("KEN", 60);
    let b = bundle(&rows, DESIGN_KEN, &targets_for("KEN", TARGETS_3));
    let d = run(&b, &plain()).unwrap();
    assert_eq!(d.len(), 1);
    assert!(d[0].converged, "{:?}", d[0]);
    assert!(d[0].max_margin_error <= 1e-12);
    let w = weighted(&b);
    let base = f64_col(&w, "base_weight");
    let weight = f64_col(&w, "weight");
    // Base weights: 1/(0.00005 * m) with m = 1 or 2.
    for (i, &x) in base.iter().enumerate() {
        let m = 1.0 + (i % 2) as f64;
        assert!((x - 1.0 / (0.00005 * m)).abs() < 1e-9 * x);
    }
    let sex: Vec<usize> = codes_i8(&w, "sex_weighting").iter().map(|&c| c as usize - 1).collect();
    let edu: Vec<usize> = codes_i8(&w, "education_weighting")
        .iter()
        .map(|&c| c as usize - 1)
        .collect();
    let bands = ["15-29", "30-44", "45-59", "60+"];
    let age: Vec<usize> = strings(&w, "age_group_weighting")
        .iter()
        .map(|s| bands.iter().position(|b| Some(b.to_string()) == *s).unwrap())
        .collect();
    let targets = vec![vec![0.49, 0.51], vec![0.35, 0.3, 0.2, 0.15], vec![0.3, 0.5, 0.2]];
    let want = hand_ipf(&base, &[sex, age, edu], &targets, 500);
    for (a, b) in weight.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-9 * b, "{a} vs {b}");
    }
    let total: f64 = weight.iter().sum();
    assert!((total - 60.0).abs() < 1e-9);
    // age_group carries the band levels in field metadata.
    let schema = w.schema();
    let f = schema.field_with_name("age_group").unwrap();
    assert_eq!(
        f.metadata().get(swvr_core::LEVELS_KEY).map(String::as_str),
        Some("15-29,30-44,45-59,60+")
    );
    // Diagnostics formulas.
    let sw2: f64 = weight.iter().map(|x| x * x).sum();
    let deff = 60.0 * sw2 / (total * total);
    assert!((d[0].kish_deff - deff).abs() < 1e-12);
    assert!((d[0].effective_n - 60.0 / deff).abs() < 1e-9);
    assert!((d[0].moe95 - 1.96 * (deff * 0.25 / 60.0).sqrt()).abs() < 1e-12);
    let line = d[0].to_string();
    assert_contains(&line, &["KEN 2021", "n=60", "converged"]);
    // diagnostics.json has the contract keys.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.out.join("weight/diagnostics.json")).unwrap()).unwrap();
    for k in [
        "country",
        "wave",
        "n",
        "converged",
        "iterations",
        "max_margin_error",
        "trimmed",
        "min_weight",
        "max_weight",
        "kish_deff",
        "effective_n",
        "moe95",
        "lonely_strata",
    ] {
        assert!(json[0].get(k).is_some(), "diagnostics lacks {k}");
    }
}

#[test]
fn dk_refused_are_imputed_deterministically_and_flagged() {
    let mut rows = sample("KEN", 80);
    rows[3].sex = 9;
    rows[10].age = 998;
    rows[11].age = 999;
    rows[20].education = 8;
    rows[21].education = 9;
    rows[21].sex = 9;
    let b = bundle(&rows, DESIGN_KEN, &targets_for("KEN", TARGETS_3));
    let d = run(&b, &plain()).unwrap();
    assert_eq!(d[0].imputed.get("sex"), Some(&2));
    assert_eq!(d[0].imputed.get("age_group"), Some(&2));
    assert_eq!(d[0].imputed.get("education"), Some(&2));
    let w = weighted(&b);
    let flags = bool_col(&w, "sex_imputed");
    assert_eq!(
        flags
            .iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .map(|(i, _)| i)
            .collect::<Vec<_>>(),
        vec![3, 21]
    );
    assert!(bool_col(&w, "age_group_imputed")[10] && bool_col(&w, "age_group_imputed")[11]);
    assert!(bool_col(&w, "education_imputed")[20]);
    // Imputed values are real categories; the reported codes are untouched.
    let sexw = codes_i8(&w, "sex_weighting");
    assert!([1, 2].contains(&sexw[3]) && [1, 2].contains(&sexw[21]));
    let resp = swvr_core::io::read_arrow(&b.out.join("ingest/respondents.arrow")).unwrap();
    assert_eq!(codes_i8(&resp, "sex")[3], 9);
    // Issue 15: weighted.arrow holds the keys and what weighting adds, not
    // a copy of respondents.arrow; its keys are respondents.arrow's, row by row.
    let schema = w.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "country",
            "wave",
            "respondent_id",
            "age_group",
            "base_weight",
            "weight",
            "sex_imputed",
            "sex_weighting",
            "age_group_imputed",
            "age_group_weighting",
            "education_imputed",
            "education_weighting",
            "n_adults_imputed",
            "n_landlines_imputed",
            "n_mobiles_imputed"
        ]
    );
    assert_eq!(strings(&w, "respondent_id"), strings(&resp, "respondent_id"));
    // age_group is null for DK/refused age, the weighting band is not.
    let ag = strings(&w, "age_group");
    assert_eq!(ag[10], None);
    assert_eq!(ag[0].as_deref(), Some("15-29"));
    assert!(strings(&w, "age_group_weighting")[10].is_some());
    // Same inputs, same bytes.
    let first = std::fs::read(b.out.join("weight/weighted.arrow")).unwrap();
    let diag1 = std::fs::read(b.out.join("weight/diagnostics.json")).unwrap();
    run(&b, &plain()).unwrap();
    assert_eq!(first, std::fs::read(b.out.join("weight/weighted.arrow")).unwrap());
    assert_eq!(diag1, std::fs::read(b.out.join("weight/diagnostics.json")).unwrap());
}

#[test]
fn imputation_uses_matching_donors() {
    // Everyone with education 3 is female; a DK-sex respondent with education 3
    // can only get sex = female from matching donors.
    let mut rows = sample("KEN", 90);
    for r in rows.iter_mut() {
        if r.education == 3 {
            r.sex = 2;
        }
    }
    let i = rows.iter().position(|r| r.education == 3).unwrap();
    rows[i].sex = 9;
    let b = bundle(&rows, DESIGN_KEN, &targets_for("KEN", TARGETS_3));
    run(&b, &plain()).unwrap();
    assert_eq!(codes_i8(&weighted(&b), "sex_weighting")[i], 2);
}

#[test]
fn blank_counts_are_flagged_in_output() {
    let mut rows = sample("KEN", 40);
    rows[5].n_mobiles = None;
    let b = bundle(&rows, DESIGN_KEN, &targets_for("KEN", TARGETS_3));
    let d = run(&b, &plain()).unwrap();
    let w = weighted(&b);
    assert!(bool_col(&w, "n_mobiles_imputed")[5]);
    assert!(!bool_col(&w, "n_mobiles_imputed")[4]);
    assert_eq!(d[0].counts_imputed.n_mobiles, 1);
    // Landlines are blank for everyone, but the country is mobile-only: not used, not flagged.
    assert_eq!(d[0].counts_imputed.n_landlines, 0);
    assert!((f64_col(&w, "base_weight")[5] - 20000.0).abs() < 1e-9);
}

pub fn skewed() -> (Vec<Resp>, String) {
    // Base weights vary 1:2; targets far from the sample make weights spread.
    // Independent pseudo-random demographics (an LCG), so every cell can be reached.
    let mut state: u64 = 12345;
    let mut next = |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let rows: Vec<Resp> = (0..100)
        .map(|i| {
            let sex = 1 + next(2) as i8;
            let age = [20i16, 35, 50, 70][next(4) as usize];
            let edu = 1 + next(3) as i8;
            Resp::mobile("KEN", i, sex, age, edu)
        })
        .collect();
    let t = "sex,1,0.7\nsex,2,0.3\nage_group,15-29,0.15\nage_group,30-44,0.15\nage_group,45-59,0.2\nage_group,60+,0.5\neducation,1,0.3\neducation,2,0.5\neducation,3,0.2\n";
    (rows, targets_for("KEN", t))
}

#[test]
fn trimming_bounds_hold_with_margins() {
    let (rows, t) = skewed();
    let b = bundle(&rows, DESIGN_KEN, &t);
    let s = scheme("[raking]\ntolerance = 1e-8\n[trimming]\nlower = 0.3\nupper = 3.0\nmax_rounds = 500\n");
    let d = run(&b, &s).unwrap();
    assert!(d[0].converged && d[0].trimming_feasible, "{:?}", d[0]);
    assert!(d[0].trim_rounds > 0, "the case should need trimming: {:?}", d[0]);
    let w = f64_col(&weighted(&b), "weight");
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    assert!((mean - 1.0).abs() < 1e-12);
    for x in &w {
        assert!(*x >= 0.3 * (1.0 - 1e-6) && *x <= 3.0 * (1.0 + 1e-6), "{x}");
    }
    assert!(d[0].max_margin_error <= 1e-8);
}

#[test]
fn infeasible_trimming_is_reported() {
    let (rows, t) = skewed();
    let b = bundle(&rows, DESIGN_KEN, &t);
    let toml = "[raking]\ntolerance = 1e-8\n[trimming]\nlower = 0.9\nupper = 1.1\nmax_rounds = 20\n";
    let m = err(&b, &scheme(toml));
    assert_contains(
        &m,
        &[
            "KEN 2021",
            "cannot both hold",
            "20 rounds",
            "category",
            "from its target share",
        ],
    );
    assert!(!b.out.join("weight/weighted.arrow").exists());
    let warn = scheme(&toml.replace("[raking]\n", "[raking]\non_nonconvergence = \"warn\"\n"));
    let d = run(&b, &warn).unwrap();
    assert!(!d[0].converged && !d[0].trimming_feasible);
    assert!(d[0].max_margin_error > 1e-8);
    assert!(d[0].trimmed > 0);
    let w = f64_col(&weighted(&b), "weight");
    for x in &w {
        assert!(*x >= 0.9 * (1.0 - 1e-9) && *x <= 1.1 * (1.0 + 1e-9), "{x}");
    }
    assert!(d[0].to_string().contains("NOT converged"));
}

#[test]
fn same_bytes_whatever_the_thread_count() {
    let mut rows = sample("KEN", 120);
    rows.extend(sample("UZB", 90));
    rows.extend(sample("BOL", 70));
    rows[7].sex = 9;
    rows[150].age = 999;
    let mut t = targets_for("KEN", TARGETS_3);
    t.push_str(&targets_for("UZB", TARGETS_3));
    t.push_str(&targets_for("BOL", TARGETS_3));
    let design = "KEN,2021,M,20000000,1000\nUZB,2021,M,9000000,1000\nBOL,2021,M,5000000,1000\n";
    let b = bundle(&rows, design, &t);
    let mut outputs = Vec::new();
    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let d = pool.install(|| run(&b, &plain())).unwrap();
        assert_eq!(
            d.iter().map(|d| d.country.as_str()).collect::<Vec<_>>(),
            ["BOL", "KEN", "UZB"]
        );
        outputs.push((
            std::fs::read(b.out.join("weight/weighted.arrow")).unwrap(),
            std::fs::read(b.out.join("weight/diagnostics.json")).unwrap(),
        ));
    }
    assert_eq!(outputs[0], outputs[1]);
    // Weights sum to n per country.
    let w = weighted(&b);
    let c = w
        .column_by_name("country")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let weight = f64_col(&w, "weight");
    for (country, n) in [("KEN", 120.0), ("UZB", 90.0), ("BOL", 70.0)] {
        let s: f64 = (0..w.num_rows())
            .filter(|&i| c.value(i) == country)
            .map(|i| weight[i])
            .sum();
        assert!((s - n).abs() < 1e-9, "{country}: {s}");
    }
    // A selection writes only the selected rows.
    let sel = Selection::new(vec!["UZB".into()], vec![]).unwrap();
    let d = swvr_weight::weight(&b.data, &b.out, &plain(), &q2021(), &sel, &NoProgress).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(weighted(&b).num_rows(), 90);
}

#[test]
fn lonely_strata_are_listed() {
    let mut rows = sample("KEN", 30);
    rows[4].stratum = "solo".into();
    let b = bundle(&rows, DESIGN_KEN, &targets_for("KEN", TARGETS_3));
    let d = run(&b, &plain()).unwrap();
    assert_eq!(d[0].lonely_strata, vec!["solo".to_string()]);
    assert_eq!(d[0].strata, 4);
}

#[test]
fn added_columns_follow_the_convention() {
    let rows = sample("KEN", 30);
    let b = bundle(&rows, DESIGN_KEN, &targets_for("KEN", TARGETS_3));
    run(&b, &plain()).unwrap();
    let w = weighted(&b);
    let names: Vec<String> = w.schema().fields().iter().map(|f| f.name().clone()).collect();
    let input = swvr_core::io::read_arrow(&b.out.join("ingest/respondents.arrow")).unwrap();
    // Issue 15: the keys of respondents.arrow first (same values, same
    // order), then only what weighting adds.
    let n_in = 3;
    for (i, name) in names.iter().enumerate().take(n_in) {
        assert_eq!(name, ["country", "wave", "respondent_id"][i]);
        assert_eq!(
            w.column(i).as_ref(),
            input.column_by_name(name).unwrap().as_ref(),
            "column {name}"
        );
    }
    assert_eq!(
        names[n_in..],
        [
            "age_group",
            "base_weight",
            "weight",
            "sex_imputed",
            "sex_weighting",
            "age_group_imputed",
            "age_group_weighting",
            "education_imputed",
            "education_weighting",
            "n_adults_imputed",
            "n_landlines_imputed",
            "n_mobiles_imputed",
        ]
    );
    assert_eq!(
        w.schema()
            .metadata()
            .get(swvr_core::SCHEMA_VERSION_KEY)
            .map(String::as_str),
        Some(swvr_core::SCHEMA_VERSION)
    );
}

#[test]
fn hartley_and_multiplicity_differ_only_for_dual_users() {
    // SEN-like dual frame: landline draws (dual users) and mobile-only users.
    let mut rows = sample("SEN", 60);
    for (i, r) in rows.iter_mut().enumerate() {
        if i % 3 == 0 {
            r.frame = "L".into();
            r.n_landlines = Some(1);
            r.n_mobiles = Some(if i % 2 == 0 { 1 } else { 0 });
        }
    }
    let design = "SEN,2021,L,330000,1800\nSEN,2021,M,19000000,6300\n";
    let b = bundle(&rows, design, &targets_for("SEN", TARGETS_3));
    let m = run(&b, &plain()).unwrap();
    let base_m = f64_col(&weighted(&b), "base_weight");
    let h = scheme("[base]\nmethod = \"hartley\"\nlambda = 0.5\n[raking]\ntolerance = 1e-12\n");
    let d = run(&b, &h).unwrap();
    let base_h = f64_col(&weighted(&b), "base_weight");
    assert!(m[0].frames.dual_users > 0 && d[0].method == "hartley");
    let (fl, fm) = (1800.0 / 330000.0, 6300.0 / 19000000.0);
    for (i, r) in rows.iter().enumerate() {
        let a = f64::from(r.n_adults.unwrap().min(4));
        let pl = if r.n_landlines.unwrap_or(0) > 0 { fl / a } else { 0.0 };
        let pm = fm * f64::from(r.n_mobiles.unwrap_or(0).min(3));
        let want_m = 1.0 / (pl + pm - pl * pm);
        assert!((base_m[i] - want_m).abs() < 1e-9 * want_m);
        let want_h = if pl > 0.0 && pm > 0.0 {
            if r.frame == "L" { 0.5 / pl } else { 0.5 / pm }
        } else if pl > 0.0 {
            1.0 / pl
        } else {
            1.0 / pm
        };
        assert!((base_h[i] - want_h).abs() < 1e-9 * want_h, "row {i}");
    }
}

#[test]
fn tolerance_1e12_is_reached_on_many_rows() {
    // 400k rows, 3 margins with associated variables (the benchmark does 5e6).
    use swvr_weight::rake::{RakeProblem, RakeSettings, rake};
    let n = 400_000usize;
    let mut state: u64 = 99;
    let mut next = |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let mut codes = vec![Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n)];
    let mut base = Vec::with_capacity(n);
    for _ in 0..n {
        let sex = next(2) as u8;
        let age = [0u8, 0, 1, 1, 2, 3][next(6) as usize];
        let edu = if age == 0 { 1 + next(2) as u8 } else { next(3) as u8 };
        codes[0].push(sex);
        codes[1].push(age);
        codes[2].push(edu);
        base.push(1000.0 + 3000.0 * next(1000) as f64 / 1000.0);
    }
    let levels = [2usize, 4, 3];
    let margins = vec![vec![0], vec![1], vec![2]];
    let targets = vec![vec![0.49, 0.51], vec![0.35, 0.3, 0.2, 0.15], vec![0.3, 0.5, 0.2]];
    let p = RakeProblem {
        codes: &codes,
        levels: &levels,
        margins: &margins,
        targets: &targets,
    };
    let s = RakeSettings {
        tolerance: 1e-12,
        max_iterations: 1000,
        trimming: None,
        calibration: swvr_weight::calibrate::Calibration::Raking,
    };
    let out = rake(&base, &p, &s);
    assert!(
        out.converged && out.max_margin_error <= 1e-12,
        "{}",
        out.max_margin_error
    );
    assert!(out.iterations > 3);
    let total = swvr_core::sum::sum(&out.weights);
    assert!((total - n as f64).abs() < 1e-6);
}

#[test]
fn input_in_many_batches_gives_the_same_table() {
    // Two countries interleaved row by row, DK/refused values, and
    // respondents.arrow in batches of 7 rows (groups and strata span batches).
    let mut rows = Vec::new();
    for (a, b) in sample("KEN", 60).into_iter().zip(sample("SEN", 60)) {
        rows.push(a);
        rows.push(b);
    }
    rows[5].sex = 9;
    rows[40].age = 998;
    rows[77].education = 8;
    rows[78].education = 9;
    let design = format!("{DESIGN_KEN}{}", DESIGN_KEN.replace("KEN", "SEN"));
    let targets = format!("{}{}", targets_for("KEN", TARGETS_3), targets_for("SEN", TARGETS_3));
    let one = bundle(&rows, &design, &targets);
    let many = bundle(&rows, &design, &targets);
    rebatch_respondents(&many.out.join("ingest/respondents.arrow"), 7);
    let d1 = run(&one, &plain()).unwrap();
    assert_eq!(d1, run(&many, &plain()).unwrap());
    assert_eq!(d1.len(), 2);
    assert_eq!(d1.iter().map(|d| d.imputed.values().sum::<usize>()).sum::<usize>(), 4);
    let w = weighted(&many);
    assert_eq!(weighted(&one), w);
    assert_eq!(w.num_rows(), 120);
    let json = |b: &Bundle| std::fs::read(b.out.join("weight/diagnostics.json")).unwrap();
    assert_eq!(json(&one), json(&many));
    // A selection spanning every batch: only SEN's rows, in input order.
    let sel = Selection::new(vec!["SEN".into()], vec![]).unwrap();
    swvr_weight::weight(&one.data, &one.out, &plain(), &q2021(), &sel, &NoProgress).unwrap();
    swvr_weight::weight(&many.data, &many.out, &plain(), &q2021(), &sel, &NoProgress).unwrap();
    let w = weighted(&many);
    assert_eq!(weighted(&one), w);
    assert_eq!(w.num_rows(), 60);
    let ids = strings(&w, "respondent_id");
    assert_eq!(ids[0].as_deref(), Some("SEN00000"));
    assert_eq!(ids[59].as_deref(), Some("SEN00059"));
}
