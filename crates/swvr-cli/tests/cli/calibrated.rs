//! Issue 10: `[variance] method = "calibrated"`, run end to end by the
//! `swvr` binary on the fixture bundle with raking, linear and logit
//! calibration (fixtures/reference/variance/scheme_<design>.toml) and
//! compared with R's svyby/svymean and svyglm on the designs `rake()` and
//! `calibrate()` return (scripts/r/calibrated_variance_reference.R; outputs
//! under fixtures/reference/variance/): estimates to 1e-8, standard errors
//! and design effects to 1e-6 relative; level contrasts (contrasts.arrow)
//! with R's `svyby(..., covmat = TRUE)` + `svycontrast` on the same designs
//! (differences 1e-8, SEs 1e-6 relative); and the same weights with
//! `method = "fixed"` give the same estimates with other standard errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, Float64Array, Int64Array, StringArray};

use crate::support::{TempDir, col, csv, ok, root, swvr, tempdir};

/// The run folder, inside a temporary folder removed when the guard drops.
fn run(scheme: &Path, tag: &str) -> (TempDir, PathBuf) {
    let dir = tempdir(&format!("calibrated-{tag}"));
    let out = dir.join("out");
    ok(&swvr(&[
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--scheme",
        scheme.to_str().unwrap(),
    ]));
    (dir, out)
}

/// Table rows by (country, item, domain, level, category): (estimate, se, deff, variance_method).
fn tables(out: &Path) -> HashMap<String, (f64, f64, Option<f64>, String)> {
    let t = swvr_core::io::read_arrow(&out.join("tabulate/tables.arrow")).unwrap();
    let s = |n| col::<StringArray>(&t, n);
    let (est, se, deff) = (
        col::<Float64Array>(&t, "estimate"),
        col::<Float64Array>(&t, "se"),
        col::<Float64Array>(&t, "deff"),
    );
    (0..t.num_rows())
        .map(|i| {
            let key = ["country", "item", "domain", "domain_level", "category"]
                .map(|c| s(c).value(i).to_string())
                .join("|");
            let d = (!deff.is_null(i)).then(|| deff.value(i));
            (
                key,
                (est.value(i), se.value(i), d, s("variance_method").value(i).to_string()),
            )
        })
        .collect()
}

/// Model rows by (country, term): (estimate, se, df, variance_method).
fn model(out: &Path) -> HashMap<(String, String), (f64, f64, i64, String)> {
    let m = swvr_core::io::read_arrow(&out.join("model/odds_ratios.arrow")).unwrap();
    let s = |n| col::<StringArray>(&m, n);
    let (est, se, df) = (
        col::<Float64Array>(&m, "estimate"),
        col::<Float64Array>(&m, "se"),
        col::<Int64Array>(&m, "df"),
    );
    (0..m.num_rows())
        .map(|i| {
            (
                (s("country").value(i).to_string(), s("term").value(i).to_string()),
                (
                    est.value(i),
                    se.value(i),
                    df.value(i),
                    s("variance_method").value(i).to_string(),
                ),
            )
        })
        .collect()
}

/// Level contrasts by (country, item, domain, level_a, level_b, category):
/// (difference, se, variance_method).
fn contrasts(out: &Path) -> HashMap<String, (f64, f64, String)> {
    let t = swvr_core::io::read_arrow(&out.join("tabulate/contrasts.arrow")).unwrap();
    let s = |n| col::<StringArray>(&t, n);
    let (diff, se) = (col::<Float64Array>(&t, "difference"), col::<Float64Array>(&t, "se"));
    (0..t.num_rows())
        .filter(|&i| s("contrast").value(i) == "level")
        .map(|i| {
            let key = ["country", "item", "domain", "level_a", "level_b", "category"]
                .map(|c| s(c).value(i).to_string())
                .join("|");
            (
                key,
                (diff.value(i), se.value(i), s("variance_method").value(i).to_string()),
            )
        })
        .collect()
}

#[test]
fn calibrated_standard_errors_agree_with_r_rake_and_calibrate() {
    let dir = root().join("fixtures/reference/variance");
    let tref = csv(&dir.join("tables_ref.csv"));
    let mref = csv(&dir.join("svyglm_ref.csv"));
    let cref = csv(&dir.join("contrasts_ref.csv"));
    for design in ["raking", "linear", "logit"] {
        let (guard, out) = run(&dir.join(format!("scheme_{design}.toml")), design);
        let mine = tables(&out);
        let (mut de, mut dse, mut dd, mut n) = (0.0f64, 0.0f64, 0.0f64, 0);
        for r in tref.iter().filter(|r| r["design"] == design) {
            let key = ["country", "item", "domain", "domain_level", "category"]
                .map(|c| r[c].clone())
                .join("|");
            let (e, se, deff, method) = mine.get(&key).unwrap_or_else(|| panic!("swvr has no table row {key}"));
            assert_eq!(method, "calibrated");
            let (re, rse): (f64, f64) = (r["estimate"].parse().unwrap(), r["se"].parse().unwrap());
            de = de.max((e - re).abs());
            if rse > 0.0 {
                dse = dse.max((se - rse).abs() / rse);
            }
            if let (Some(d), Ok(rd)) = (deff, r["deff"].parse::<f64>())
                && rd.is_finite()
            {
                dd = dd.max((d - rd).abs() / rd);
            }
            n += 1;
        }
        let fits = model(&out);
        let (mut dc, mut dcs, mut m) = (0.0f64, 0.0f64, 0);
        for r in mref.iter().filter(|r| r["design"] == design) {
            let k = (r["country"].clone(), r["term"].clone());
            let (e, se, df, method) = fits.get(&k).unwrap_or_else(|| panic!("swvr has no term {k:?}"));
            assert_eq!(method, "calibrated");
            assert_eq!(df.to_string(), r["df"], "{k:?}");
            let rse: f64 = r["se"].parse().unwrap();
            dc = dc.max((e - r["estimate"].parse::<f64>().unwrap()).abs());
            dcs = dcs.max((se - rse).abs() / rse);
            m += 1;
        }
        eprintln!(
            "calibrated variance, {design}: {n} table rows, estimates max abs {de:.2e}, SEs max rel {dse:.2e}, \
             deff max rel {dd:.2e}; {m} coefficients max abs {dc:.2e}, SEs max rel {dcs:.2e}"
        );
        assert!(n == 1248 && m == 104, "{n} table rows, {m} coefficients");
        // Level contrasts: svyby(covmat = TRUE) + svycontrast on the same designs.
        let cmine = contrasts(&out);
        let (mut cd, mut cse, mut c) = (0.0f64, 0.0f64, 0);
        for r in cref.iter().filter(|r| r["design"] == design) {
            let key = ["country", "item", "domain", "level_a", "level_b", "category"]
                .map(|c| r[c].clone())
                .join("|");
            let (d, se, method) = cmine.get(&key).unwrap_or_else(|| panic!("swvr has no contrast {key}"));
            assert_eq!(method, "calibrated");
            let rse: f64 = r["se"].parse().unwrap();
            cd = cd.max((d - r["difference"].parse::<f64>().unwrap()).abs());
            if rse > 1e-12 {
                cse = cse.max((se - rse).abs() / rse);
            } else {
                assert!(*se <= 1e-12, "{key}: se {se} vs R {rse}");
            }
            c += 1;
        }
        eprintln!(
            "calibrated level contrasts, {design}: {c} rows, differences max abs {cd:.2e}, SEs max rel {cse:.2e}"
        );
        assert!(c > 1000, "{c} contrasts");
        assert!(cd <= 1e-8 && cse <= 1e-6, "contrasts: differences {cd:e}, SEs {cse:e}");
        assert!(de <= 1e-8 && dc <= 1e-8, "estimates {de:e}, coefficients {dc:e}");
        assert!(
            dse <= 1e-6 && dd <= 1e-6 && dcs <= 1e-6,
            "SEs {dse:e}, deff {dd:e}, model SEs {dcs:e}"
        );
        if design == "raking" {
            // The same weights with fixed-weight variance: same estimates, other SEs.
            let text = std::fs::read_to_string(dir.join("scheme_raking.toml")).unwrap();
            let fixed_scheme = guard.join("fixed.toml");
            std::fs::write(
                &fixed_scheme,
                text.replace("method = \"calibrated\"", "method = \"fixed\""),
            )
            .unwrap();
            let (_fixed_dir, fixed) = run(&fixed_scheme, "fixed");
            let f = tables(&fixed);
            let mut differ = 0;
            for (k, (e, se, _, method)) in &f {
                assert_eq!(method, "fixed");
                let (ce, cse, _, _) = &mine[k];
                assert!((e - ce).abs() <= 1e-15 * e.abs().max(1.0), "{k}");
                differ += usize::from((se - cse).abs() > 1e-6 * se);
            }
            assert!(
                differ > f.len() / 2,
                "calibration changes most SEs ({differ} of {})",
                f.len()
            );
            assert!(model(&fixed).values().all(|r| r.3 == "fixed"));
        }
    }
}
