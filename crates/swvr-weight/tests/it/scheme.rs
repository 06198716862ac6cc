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
        ("[age_groups]\nbands = [\"18-29\", \"30+\"]\n", "age_groups.bands"),
        ("[age_groups]\nbands = [\"15-29\", \"31+\"]\n", "age_groups.bands"),
        ("[age_groups]\nbands = [\"15-29\", \"30-64\"]\n", "age_groups.bands"),
        ("[age_groups]\nbands = [\"15-29\", \"thirty+\"]\n", "age_groups.bands"),
        ("[raking]\nvariables = [\"sex\", \"income\"]\n", "raking.variables"),
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
    assert_eq!(s.raking, d.raking);
    assert_eq!(s.bands, d.bands);
    assert!(s.trimming.is_none());
    assert!(d.trimming.is_some());
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
