//! Scheme validation: unknown keys, bad values, malformed TOML.

use swvr_weight::{Scheme, WeightError};

use crate::harness::assert_contains;

fn bad(toml: &str) -> String {
    match Scheme::from_toml_str(toml, "my_scheme.toml") {
        Ok(s) => panic!("accepted {toml:?}: {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_key_is_rejected() {
    let m = bad("[base]\nmethod = \"multiplicity\"\ncap_adult = 4\n");
    assert_contains(&m, &["my_scheme.toml", "cap_adult", "line 3"]);
    let m = bad("[weights]\nx = 1\n");
    assert_contains(&m, &["my_scheme.toml", "weights"]);
}

#[test]
fn malformed_toml_names_line_and_column() {
    let m = bad("[raking]\ntolerance = = 1e-10\n");
    assert_contains(&m, &["my_scheme.toml", "malformed", "line 2", "column"]);
}

#[test]
fn bad_values_are_named() {
    let cases = [
        ("[base]\nmethod = \"raking\"\n", "base.method"),
        ("[base]\nlambda = 1.0\n", "base.lambda"),
        ("[base]\nlambda = 0\n", "base.lambda"),
        ("[base]\ncap_adults = 0\n", "base.cap_adults"),
        ("[age_groups]\nbands = [\"15-29\", \"31+\"]\n", "age_groups.bands"),
        ("[age_groups]\nbands = [\"15-29\", \"thirty+\"]\n", "age_groups.bands"),
        ("[raking]\nvariables = [\"sex\", \"in come\"]\n", "raking.variables"),
        ("[raking]\nvariables = [\"sex\", \"sex\"]\n", "raking.variables"),
        ("[raking]\ntolerance = 0.0\n", "raking.tolerance"),
        ("[raking]\non_nonconvergence = \"ignore\"\n", "raking.on_nonconvergence"),
        ("[trimming]\nlower = 0\nupper = 5\n", "trimming.lower"),
        ("[trimming]\nlower = 0.3\nupper = 0.9\n", "trimming.upper"),
    ];
    for (toml, key) in cases {
        let m = bad(toml);
        assert_contains(&m, &["my_scheme.toml", key, "expected"]);
    }
}

#[test]
fn partial_scheme_takes_defaults_and_no_trimming() {
    let s = Scheme::from_toml_str("[base]\nmethod = \"hartley\"\nlambda = 0.4\n", "x").unwrap();
    let d = Scheme::default_scheme();
    assert_eq!(s.raking(), d.raking());
    assert_eq!(s.band_set("age").unwrap().bands, d.band_set("age").unwrap().bands);
    assert!(s.trimming().is_none());
    assert!(d.trimming().is_some());
    // to_toml is canonical: parsing it back gives the same scheme.
    assert_eq!(Scheme::from_toml_str(&s.to_toml(), "y").unwrap(), s);
    assert!(s.to_toml().contains("lambda = 0.4"));
}

#[test]
fn missing_file_is_named() {
    let e = Scheme::from_path(std::path::Path::new("/nonexistent/scheme.toml")).unwrap_err();
    assert!(matches!(e, WeightError::SchemeRead { .. }));
    assert_contains(&e.to_string(), &["/nonexistent/scheme.toml"]);
}

#[test]
fn every_mistake_is_reported_with_its_line() {
    let text = "[base]\nmethod = \"raking\"\ncap_adults = 65536\n\n[raking]\nvariables = [\"sex\", \"sex\"]\ntolerance = 0.0\nbogus = 1\n\n[trimming]\nlower = 0.3\n";
    let m = bad(text);
    assert_contains(
        &m,
        &[
            "my_scheme.toml: 6 mistakes in the weighting scheme:",
            "\n  line 2: weighting scheme key `base.method` = \"raking\": expected \"multiplicity\" or \"hartley\"",
            "\n  line 3: weighting scheme key `base.cap_adults` = 65536: expected an integer from 1 to 65535",
            "\n  line 6: weighting scheme key `raking.variables` = \"sex\": expected each margin listed once (same as \"sex\")",
            "\n  line 7: weighting scheme key `raking.tolerance` = 0.0: expected a number > 0 and < 1",
            "\n  line 8: weighting scheme key `raking.bogus` = 1: expected one of the keys variables, tolerance, max_iterations, on_nonconvergence",
            "\n  line 10: weighting scheme key `trimming.upper` = (missing): expected a finite number > 1 (required in [trimming])",
        ],
    );
}

#[test]
fn cap_range_states_the_real_limits() {
    for v in ["0", "65536", "-1", "2.5"] {
        let m = bad(&format!("[base]\ncap_landlines = {v}\n"));
        assert_contains(
            &m,
            &[
                "my_scheme.toml: line 2: weighting scheme key `base.cap_landlines`",
                "expected an integer from 1 to 65535",
            ],
        );
    }
    let s = Scheme::from_toml_str("[base]\ncap_adults = 65535\n", "x").unwrap();
    assert_eq!(s.base().cap_adults, 65535);
}

#[test]
fn empty_scheme_is_an_error() {
    for text in ["", "\n# only a comment\n"] {
        let m = bad(text);
        assert_eq!(
            m,
            "my_scheme.toml: the weighting scheme is empty; write the sections to change (`swvr defaults scheme` prints the built-in scheme), or leave out --scheme to use the built-in scheme"
        );
    }
}

#[test]
fn fieldwork_table_is_kept_unvalidated() {
    let s = Scheme::from_toml_str("[fieldwork]\nanything = 1\n[fieldwork.calls]\nmax = \"x\"\n", "x").unwrap();
    let f = s.fieldwork().unwrap();
    assert_eq!(f.get("anything").and_then(|v| v.as_integer()), Some(1));
    assert!(s.to_toml().contains("[fieldwork]"));
    assert_eq!(Scheme::from_toml_str(&s.to_toml(), "y").unwrap(), s);
    assert_contains(&bad("fieldwork = 3\n"), &["`fieldwork` = 3", "expected a table"]);
}

#[test]
fn interaction_margins_and_bands_parse() {
    let s = Scheme::from_toml_str(
        "[bands.income]\nbands = [\"0-999\", \"1000-4999\", \"5000+\"]\n[raking]\nvariables = [\"sex*age_group\", \"region\", \"income_group\"]\n",
        "x",
    )
    .unwrap();
    let names: Vec<String> = s.raking().variables.iter().map(|m| m.name()).collect();
    assert_eq!(names, ["sex*age_group", "region", "income_group"]);
    let inc = s.band_set("income").unwrap();
    assert_eq!(inc.variable(), "income_group");
    assert_eq!(inc.bands.len(), 3);
    // The default age bands stay available.
    assert!(s.band_set("age").is_some());
    assert!(s.to_toml().contains("[bands.income]"));
    assert_eq!(Scheme::from_toml_str(&s.to_toml(), "y").unwrap(), s);
}

#[test]
fn bad_margins_and_bands_are_named() {
    let cases = [
        (
            "[raking]\nvariables = [\"sex*sex\"]\n",
            "each component once (`sex` is repeated)",
        ),
        (
            "[raking]\nvariables = [\"sex*age_group\", \"age_group * sex\"]\n",
            "each margin listed once (same as \"sex*age_group\")",
        ),
        ("[raking]\nvariables = [\"sex*\"]\n", "`(empty)` is not one"),
        ("[raking]\nvariables = []\n", "at least one raking variable"),
        ("[raking]\nvariables = [3]\n", "a variable name (a string)"),
        (
            "[bands.income]\nbands = [\"0-9\", \"20+\"]\n",
            "contiguous bands: this band to start at 10",
        ),
        (
            "[bands.income]\nbands = [\"0+\", \"20+\"]\n",
            "no band after an open band",
        ),
        ("[bands.income]\nlabels = [\"0+\"]\n", "one of the keys bands"),
        (
            "[age_groups]\nbands = [\"15+\"]\n[bands.age]\nbands = [\"15+\"]\n",
            "bands of age in one place",
        ),
        ("bands = 1\n", "a table of tables [bands.D]"),
    ];
    for (toml, want) in cases {
        let m = bad(toml);
        assert_contains(&m, &["my_scheme.toml", "line ", want]);
    }
}
