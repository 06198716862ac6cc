//! Contrasts (contrasts.arrow) against R's `svyby(..., covmat = TRUE)` +
//! `svycontrast()` (scripts/r/contrast_reference.R, outputs committed under
//! fixtures/reference/contrasts): differences to 1e-10, SEs to 1e-8
//! relative, df equal, on KEN (4 strata) and LBN (one stratum), a country
//! with a lonely stratum and estimates of 0 and 1, the eight fixture
//! countries (four variables), and two waves of KEN (wave contrasts).

use std::collections::{BTreeMap, BTreeSet};

use swvr_core::groups::Selection;
use swvr_core::questionnaire::Questionnaire;
use swvr_tabulate::contrasts::{self, ContrastKind};
use swvr_tabulate::{Contrast, tabulate_batch_with_contrasts};

use crate::common::{batch_from_csv, read_csv};

type Key = (String, i32, i32, String, String, String, String, String);

fn key(c: &Contrast) -> Key {
    (
        c.country.clone(),
        c.wave_a,
        c.wave_b,
        c.item.clone(),
        c.domain.clone(),
        c.level_a.clone(),
        c.level_b.clone(),
        c.category.clone(),
    )
}

/// Compares with R; returns (rows, worst |difference| deviation, worst SE
/// relative deviation).
fn check(input: &str, reference: &str, items: Option<&[&str]>) -> (usize, f64, f64) {
    let q = Questionnaire::default_2021();
    let batch = batch_from_csv(input, &q);
    let (_, rows) = tabulate_batch_with_contrasts(&batch, &q, &Selection::default()).unwrap();
    let ours: BTreeMap<Key, &Contrast> = rows
        .iter()
        .filter(|c| items.is_none_or(|it| it.contains(&c.item.as_str())))
        .map(|c| (key(c), c))
        .collect();
    let (header, refs) = read_csv(reference);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let f = |r: &Vec<String>, name: &str| r[at(name)].parse::<f64>().unwrap();
    assert_eq!(refs.len(), ours.len(), "{reference}: row count differs from R");
    let (mut worst_d, mut worst_se) = (0.0f64, 0.0f64);
    for r in &refs {
        let wa: i32 = r[at("wave_a")].parse().unwrap();
        let wb: i32 = r[at("wave_b")].parse().unwrap();
        let k: Key = (
            r[at("country")].clone(),
            wa,
            wb,
            r[at("item")].clone(),
            r[at("domain")].clone(),
            r[at("level_a")].clone(),
            r[at("level_b")].clone(),
            r[at("category")].clone(),
        );
        let c = ours.get(&k).unwrap_or_else(|| panic!("{k:?} missing"));
        assert_eq!(
            c.kind,
            if wa == wb {
                ContrastKind::Level
            } else {
                ContrastKind::Wave
            }
        );
        assert_eq!(c.df, r[at("df")].parse::<i64>().unwrap(), "df {k:?}");
        for (got, want) in [
            (c.estimate_a, f(r, "estimate_a")),
            (c.estimate_b, f(r, "estimate_b")),
            (c.difference, f(r, "difference")),
        ] {
            worst_d = worst_d.max((got - want).abs());
            assert!((got - want).abs() <= 1e-10, "{k:?}: {got} vs R {want}");
        }
        let se = f(r, "se");
        let dev = if se == 0.0 { c.se } else { (c.se - se).abs() / se };
        worst_se = worst_se.max(dev);
        assert!(dev <= 1e-8, "se {k:?}: {} vs R {se}", c.se);
        // Interval and test on the same se and df.
        if c.df > 0 {
            let t = swvr_tabulate::interval::t_quantile(c.df as f64).unwrap();
            assert_eq!(c.ci_low, Some(c.difference - t * c.se));
            assert_eq!(c.ci_high, Some(c.difference + t * c.se));
        } else {
            assert_eq!((c.ci_low, c.ci_high), (None, None));
        }
        match c.p_value {
            Some(p) => assert!(c.se > 0.0 && (0.0..=1.0).contains(&p), "{k:?}"),
            None => assert!(c.se == 0.0 || c.df <= 0, "{k:?}"),
        }
    }
    println!(
        "{reference}: {} contrasts, max |difference − R| {worst_d:.2e}, max SE rel. dev. {worst_se:.2e}",
        refs.len()
    );
    (refs.len(), worst_d, worst_se)
}

#[test]
fn level_contrasts_agree_with_r_on_two_countries() {
    let (n, _, _) = check("input.csv", "../contrasts/input_ref.csv", None);
    assert!(n > 1000);
}

#[test]
fn level_contrasts_agree_with_r_with_a_lonely_stratum() {
    check("lonely.csv", "../contrasts/lonely_ref.csv", None);
}

#[test]
fn level_contrasts_agree_with_r_on_the_fixture_countries() {
    check(
        "fixture.csv",
        "../contrasts/fixture_ref.csv",
        Some(&["Q1", "Q4B", "Q8C", "Q4B_net"]),
    );
}

#[test]
fn wave_contrasts_agree_with_r_on_two_waves() {
    let q = Questionnaire::default_2021();
    let (_, rows) =
        tabulate_batch_with_contrasts(&batch_from_csv("../contrasts/waves.csv", &q), &q, &Selection::default())
            .unwrap();
    let waves: BTreeSet<(i32, i32)> = rows
        .iter()
        .filter(|c| c.kind == ContrastKind::Wave)
        .map(|c| (c.wave_a, c.wave_b))
        .collect();
    assert_eq!(waves, BTreeSet::from([(2025, 2021)]));
    check("../contrasts/waves.csv", "../contrasts/waves_ref.csv", None);
}

#[test]
fn the_covariance_is_not_assumed_zero() {
    // In a multi-stratum country the SE of a level contrast differs from
    // the independent-samples sqrt(se_a² + se_b²).
    let q = Questionnaire::default_2021();
    let (est, rows) =
        tabulate_batch_with_contrasts(&batch_from_csv("input.csv", &q), &q, &Selection::default()).unwrap();
    let se = |level: &str| {
        est.iter()
            .find(|e| e.country == "KEN" && e.item == "Q1" && e.domain_level == level && e.category == "yes")
            .unwrap()
            .se
    };
    let c = rows
        .iter()
        .find(|c| c.country == "KEN" && c.item == "Q1" && c.domain == "sex" && c.category == "yes")
        .unwrap();
    assert_eq!((c.level_a.as_str(), c.level_b.as_str()), ("male", "female"));
    let independent = (se("male").powi(2) + se("female").powi(2)).sqrt();
    assert!(
        (c.se - independent).abs() > 1e-6 * independent,
        "{} {independent}",
        c.se
    );
}

#[test]
fn contrasts_are_identical_whatever_the_thread_count() {
    let q = Questionnaire::default_2021();
    let batch = batch_from_csv("../contrasts/waves.csv", &q);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let (_, rows) = tabulate_batch_with_contrasts(&batch, &q, &Selection::default()).unwrap();
            // Debug prints every float in shortest round-trip form (bits).
            assert_eq!(contrasts::to_batch(&rows).unwrap().num_rows(), rows.len());
            format!("{rows:?}")
        })
    };
    assert_eq!(run(1), run(3));
}
