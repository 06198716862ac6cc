//! Issue 9: a hypothetical 2025 wave (questionnaire/example_2025.toml: a new
//! item Q9, a `region` demographic, five-level education) weighted by a
//! scheme raking on `sex*age_group`, `education` and `region`
//! (fixtures/wave2025/scheme.toml, picked up from the bundle folder), run end
//! to end by the `swvr` binary and compared with R's survey package
//! (scripts/r/wave2025_reference.R; outputs committed under
//! fixtures/reference/wave2025/): final weights, every table estimate and
//! SE of the items by total, sex, age group, education and region, and the
//! model's coefficients and SEs, each to 1e-8.

use std::collections::HashMap;
use std::path::PathBuf;

use arrow_array::{Float64Array, StringArray};

use crate::support::{TempDir, col, csv, ok, root, swvr, tempdir};

fn num(v: &str) -> f64 {
    v.parse().unwrap_or(f64::NAN)
}

/// Largest absolute and relative difference over pairs (both finite).
#[derive(Default, Debug)]
struct Diff {
    abs: f64,
    rel: f64,
    n: usize,
}

impl Diff {
    fn add(&mut self, mine: f64, r: f64) {
        assert_eq!(mine.is_finite(), r.is_finite(), "{mine} vs R {r}");
        if !r.is_finite() {
            return;
        }
        let a = (mine - r).abs();
        self.abs = self.abs.max(a);
        self.rel = self.rel.max(if r == 0.0 { a } else { a / r.abs() });
        self.n += 1;
    }
}

/// The run folder, inside a temporary folder removed when the guard drops.
fn run() -> (TempDir, PathBuf) {
    let dir = tempdir("wave2025");
    let out = dir.join("out");
    let path = |p: &str| root().join(p).to_str().unwrap().to_string();
    ok(&swvr(&[
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--data",
        &path("fixtures/wave2025"),
        "--questionnaire",
        &path("questionnaire/example_2025.toml"),
        "--spec",
        &path("fixtures/wave2025/spec.toml"),
    ]));
    (dir, out)
}

#[test]
fn wave2025_with_interaction_margin_agrees_with_r_survey() {
    let (_dir, out) = run();
    let reference = root().join("fixtures/reference/wave2025");

    // Weights.
    let w = swvr_core::io::read_arrow(&out.join("weight/weighted.arrow")).unwrap();
    let (id, base, weight) = (
        col::<StringArray>(&w, "respondent_id"),
        col::<Float64Array>(&w, "base_weight"),
        col::<Float64Array>(&w, "weight"),
    );
    let mine: HashMap<&str, (f64, f64)> = (0..w.num_rows())
        .map(|i| (id.value(i), (base.value(i), weight.value(i))))
        .collect();
    let r = csv(&reference.join("weights_ref.csv"));
    assert_eq!(r.len(), mine.len());
    let (mut db, mut dw) = (Diff::default(), Diff::default());
    for row in &r {
        let (b, w) = mine[row["respondent_id"].as_str()];
        db.add(b, num(&row["base_weight"]));
        dw.add(w, num(&row["weight"]));
    }
    // Nothing imputed: the bundle's raking demographics are all reported.
    assert!(w.column_by_name("region_imputed").is_some());
    let diag: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("weight/diagnostics.json")).unwrap()).unwrap();
    assert_eq!(diag[0]["margins"][0]["variable"], "sex*age_group");
    assert_eq!(diag[0]["margins"][0]["categories"].as_array().unwrap().len(), 8);
    assert_eq!(diag[0]["imputed"]["region"], 0);

    // Tables: every (item, domain, level, category) R computed.
    let t = csv(&out.join("tabulate/tables.csv"));
    let key = |m: &HashMap<String, String>| {
        ["country", "item", "domain", "domain_level", "category"]
            .map(|c| m[c].clone())
            .join("|")
    };
    let mine: HashMap<String, (f64, f64)> = t
        .iter()
        .map(|m| (key(m), (num(&m["estimate"]), num(&m["se"]))))
        .collect();
    let r = csv(&reference.join("tables_ref.csv"));
    let (mut de, mut ds) = (Diff::default(), Diff::default());
    let mut q9 = 0;
    for row in &r {
        let k = key(row);
        let (e, s) = *mine.get(&k).unwrap_or_else(|| panic!("swvr has no table row {k}"));
        de.add(e, num(&row["estimate"]));
        ds.add(s, num(&row["se"]));
        q9 += usize::from(row["item"] == "Q9" && row["domain"] == "region");
    }
    assert!(q9 > 0 && r.len() == 2400, "the new item by the new domain is compared");

    // Model.
    let m = swvr_core::io::read_arrow(&out.join("model/odds_ratios.arrow")).unwrap();
    let (country, term, est, se) = (
        col::<StringArray>(&m, "country"),
        col::<StringArray>(&m, "term"),
        col::<Float64Array>(&m, "estimate"),
        col::<Float64Array>(&m, "se"),
    );
    let mine: HashMap<(String, String), (f64, f64)> = (0..m.num_rows())
        .map(|i| {
            (
                (country.value(i).into(), term.value(i).into()),
                (est.value(i), se.value(i)),
            )
        })
        .collect();
    let r = csv(&reference.join("svyglm_ref.csv"));
    let (mut dc, mut dse) = (Diff::default(), Diff::default());
    for row in &r {
        let k = (row["country"].clone(), row["term"].clone());
        let (e, s) = *mine.get(&k).unwrap_or_else(|| panic!("swvr has no term {k:?}"));
        dc.add(e, num(&row["estimate"]));
        dse.add(s, num(&row["se"]));
    }
    assert!(mine.contains_key(&("KEN".into(), "education=tertiary".into())));
    assert!(mine.contains_key(&("SEN".into(), "region=east_west".into())));

    eprintln!(
        "wave2025 vs R: base weights {} max abs {:.2e} rel {:.2e}; weights {} abs {:.2e} rel {:.2e}; \
         table estimates {} abs {:.2e} rel {:.2e}; table SEs abs {:.2e} rel {:.2e}; \
         coefficients {} abs {:.2e} rel {:.2e}; coefficient SEs abs {:.2e} rel {:.2e}",
        db.n,
        db.abs,
        db.rel,
        dw.n,
        dw.abs,
        dw.rel,
        de.n,
        de.abs,
        de.rel,
        ds.abs,
        ds.rel,
        dc.n,
        dc.abs,
        dc.rel,
        dse.abs,
        dse.rel
    );
    for (what, d) in [
        ("base weights", &db),
        ("weights", &dw),
        ("table estimates", &de),
        ("table SEs", &ds),
        ("coefficients", &dc),
        ("coefficient SEs", &dse),
    ] {
        assert!(d.rel <= 1e-8, "{what}: {d:?}");
    }
}
