//! The specification file: defaults, canonical TOML, validation messages.

use std::path::Path;

use swvr_model::{Method, ModelError, ModelSpec};

fn parse(text: &str) -> Result<ModelSpec, ModelError> {
    ModelSpec::from_toml(text, Path::new("my_spec.toml"))
}

#[test]
fn default_round_trips_through_its_toml() {
    let spec = ModelSpec::default_spec();
    let text = spec.to_toml();
    assert!(text.contains("method = \"logit\""), "{text}");
    assert_eq!(parse(&text).unwrap(), spec);
}

#[test]
fn minimal_spec_takes_defaults() {
    let spec = parse(
        r#"
method = "firth"
outcome = { item = "Q7", yes = [1], no = [2] }
predictors = [{ item = "Q1", yes = [1], no = [2] }]
[[controls]]
variable = "sex"
levels = [{ label = "male", codes = [1] }, { label = "female", codes = [2] }]
reference = "female"
"#,
    )
    .unwrap();
    assert_eq!(spec.method(), Method::Firth);
    assert_eq!(spec.weight(), "weight");
    assert_eq!(spec.convergence().max_iterations, 100);
}

#[test]
fn unknown_key_is_rejected_with_file_and_line() {
    let err = parse("methd = \"logit\"\n").unwrap_err().to_string();
    assert!(
        err.starts_with("my_spec.toml: line 1, column 1: malformed model specification: unknown field `methd`"),
        "{err}"
    );
    let err = parse(
        &ModelSpec::default_spec()
            .to_toml()
            .replace("[convergence]", "[convergence]\nepsilon = 1"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("my_spec.toml") && err.contains("epsilon"), "{err}");
}

#[test]
fn invalid_specs_say_what_was_expected() {
    let base = ModelSpec::default_spec().to_toml();
    let cases = [
        (base.replace("method = \"logit\"", "method = \"probit\""), "probit"),
        (
            base.replace("tolerance = 0.0000000001", "tolerance = -1.0"),
            "tolerance",
        ),
        (
            base.replacen("yes = [1]\nno = [2]", "yes = [1]\nno = [1]", 1),
            "disjoint",
        ),
        (
            format!(
                "{base}\n[[controls]]\nvariable = \"sex\"\nlevels = [{{ label = \"male\", codes = [1] }}, {{ label = \"female\", codes = [2] }}]\n"
            ),
            "repeated",
        ),
        (
            format!(
                "{base}\n[[controls]]\nvariable = \"frame\"\nlevels = [{{ label = \"L\" }}, {{ label = \"M\" }}]\nreference = \"X\"\n"
            ),
            "reference `X`",
        ),
    ];
    for (text, needle) in cases {
        let err = parse(&text)
            .err()
            .unwrap_or_else(|| panic!("accepted ({needle})"))
            .to_string();
        assert!(err.contains("my_spec.toml") && err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn default_file_parses_to_its_effective_toml_and_back() {
    let spec = parse(swvr_model::DEFAULT_SPEC_TOML).unwrap();
    assert_eq!(spec, ModelSpec::default_spec());
    let effective = spec.to_toml();
    assert_eq!(parse(&effective).unwrap(), spec);
    assert_eq!(parse(&effective).unwrap().to_toml(), effective);
}

#[test]
fn missing_file_names_it() {
    let err = ModelSpec::from_path(Path::new("/nonexistent/spec.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/spec.toml"), "{err}");
}
