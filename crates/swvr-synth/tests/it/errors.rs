//! Bad options are errors naming the option and what was expected.

use swvr_core::progress::NoProgress;
use swvr_synth::{SynthError, SynthOptions, synth};

use crate::TempDir;

fn err(countries: &[&str], n: u64) -> String {
    let dir = TempDir::new("err");
    let o = SynthOptions {
        respondents: n,
        countries: countries.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let e: SynthError = synth(&dir.0, &o, &NoProgress).unwrap_err();
    assert!(!dir.0.join("respondents.csv").exists());
    e.to_string()
}

#[test]
fn bad_options() {
    let cases: [(&[&str], u64, &str); 5] = [
        (
            &["ke"],
            10,
            "`ke` is not a country code: expected three upper-case letters",
        ),
        (&["KENY"], 10, "`KENY`"),
        (&["KEN", "BOL", "KEN"], 10, "`KEN` is listed twice"),
        (&[], 10, "at least one country"),
        (&["KEN", "BOL"], 1, "--respondents: 1 is too few for 2 countries"),
    ];
    for (countries, n, want) in cases {
        let got = err(countries, n);
        assert!(got.contains(want), "{countries:?}: {got}");
    }
}

#[test]
fn unknown_country_gets_generic_mobile_only_profile() {
    let dir = TempDir::new("generic");
    let o = SynthOptions {
        respondents: 400,
        countries: vec!["ZZZ".into()],
        ..Default::default()
    };
    synth(&dir.0, &o, &NoProgress).unwrap();
    let design = std::fs::read_to_string(dir.0.join("design.csv")).unwrap();
    assert_eq!(design.lines().count(), 2, "{design}");
    assert!(design.contains("ZZZ,2021,M,"));
    let resp = std::fs::read_to_string(dir.0.join("respondents.csv")).unwrap();
    assert!(
        resp.lines()
            .nth(1)
            .unwrap()
            .starts_with("ZZZ,2021,ZZZ-000001,M,ZZZ-Region")
    );
}

#[test]
fn unwritable_output_names_the_file() {
    let dir = TempDir::new("unwritable");
    std::fs::create_dir_all(&dir.0).unwrap();
    let blocker = dir.0.join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let o = SynthOptions {
        respondents: 16,
        ..Default::default()
    };
    let e = synth(&blocker.join("out"), &o, &NoProgress).unwrap_err().to_string();
    assert!(e.contains("not-a-dir"), "{e}");
}
