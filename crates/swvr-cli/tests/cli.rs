//! End-to-end tests of the `swvr` binary: the fixture run, per-country runs,
//! reproducibility, atomic failure and error messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::{Array, RecordBatch, StringArray};

#[path = "cli/wave2025.rs"]
mod wave2025;
use swvr_core::io::read_arrow;

#[path = "cli/report.rs"]
mod report;

fn swvr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swvr"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("swvr runs")
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("swvr-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "swvr failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fixture_run(name: &str, extra: &[&str]) -> PathBuf {
    let dir = tempdir(name);
    let out = dir.join("out");
    let mut args = vec!["run", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(&swvr(&args));
    out
}

fn rows_of_country(batch: &RecordBatch, country: &str) -> Vec<String> {
    let c = batch
        .column_by_name("country")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let keep: Vec<u32> = (0..batch.num_rows())
        .filter(|&i| c.value(i) == country)
        .map(|i| i as u32)
        .collect();
    let idx = arrow_array::UInt32Array::from(keep);
    let cols: Vec<_> = batch
        .columns()
        .iter()
        .map(|a| arrow_select::take::take(a, &idx, None).unwrap())
        .collect();
    let sub = RecordBatch::try_new(batch.schema(), cols).unwrap();
    (0..sub.num_rows())
        .map(|r| {
            sub.columns()
                .iter()
                .map(|a| {
                    if a.is_null(r) {
                        "null".to_string()
                    } else {
                        format!("{:?}", a.slice(r, 1))
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

const OUTPUTS: [&str; 4] = [
    "ingest/respondents.arrow",
    "weight/weighted.arrow",
    "tabulate/tables.arrow",
    "model/odds_ratios.arrow",
];

#[test]
fn fixture_run_writes_every_output_and_a_manifest() {
    let out = fixture_run("full", &[]);
    for f in OUTPUTS.iter().chain(&[
        "ingest/rejects.csv",
        "ingest/validation.json",
        "weight/diagnostics.json",
        "tabulate/tables.csv",
        "tabulate/report.md",
        "model/report.md",
        "manifest.json",
    ]) {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let outputs = manifest["outputs"].as_array().unwrap();
    let tables = outputs.iter().find(|o| o["path"] == "tabulate/tables.arrow").unwrap();
    let n = read_arrow(&out.join("tabulate/tables.arrow")).unwrap().num_rows() as u64;
    assert_eq!(tables["rows"].as_u64(), Some(n));
    assert_eq!(tables["sha256"].as_str().unwrap().len(), 64);
    assert!(manifest["inputs"].as_array().unwrap().len() >= 6);
}

#[test]
fn same_inputs_give_the_same_bytes_whatever_the_threads() {
    let a = fixture_run("det-a", &[]);
    let dir = tempdir("det-b");
    let b = dir.join("out");
    let st = Command::new(env!("CARGO_BIN_EXE_swvr"))
        .args(["run", "--quiet", "--out", b.to_str().unwrap()])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    ok(&st);
    for f in OUTPUTS
        .iter()
        .chain(&["manifest.json", "tabulate/tables.csv", "weight/diagnostics.json"])
    {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn a_country_run_reproduces_that_country_of_the_full_run() {
    let full = fixture_run("sel-full", &[]);
    let one = fixture_run("sel-one", &["--country", "SEN"]);
    for f in OUTPUTS {
        let a = rows_of_country(&read_arrow(&full.join(f)).unwrap(), "SEN");
        let b_batch = read_arrow(&one.join(f)).unwrap();
        let b = rows_of_country(&b_batch, "SEN");
        assert!(!a.is_empty(), "{f}: no SEN rows");
        assert_eq!(a.len(), b_batch.num_rows(), "{f}: the SEN run has other countries");
        assert!(a == b, "{f}: SEN rows differ between the full and the SEN-only run");
    }
}

fn copy_fixtures(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    for f in ["respondents.csv", "design.csv", "targets.csv"] {
        std::fs::copy(root.join(f), dir.join(f)).unwrap();
    }
}

#[test]
fn a_failed_run_leaves_previous_outputs_untouched() {
    let out = fixture_run("atomic", &[]);
    let before = std::fs::read(out.join("tabulate/tables.arrow")).unwrap();
    let data = tempdir("atomic-data");
    copy_fixtures(&data);
    std::fs::write(data.join("targets.csv"), "country,wave,variable,category,share\n").unwrap();
    let res = swvr(&[
        "run",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("targets.csv"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one-line cause expected: {err}");
    assert_eq!(std::fs::read(out.join("tabulate/tables.arrow")).unwrap(), before);
    assert!(
        std::fs::read_dir(&out)
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.'))
    );
}

#[test]
fn bad_scheme_is_named_with_its_file() {
    let dir = tempdir("scheme");
    let scheme = dir.join("bad.toml");
    std::fs::write(&scheme, "[raking]\nvariables = [\"sex\"]\ncolour = 3\n").unwrap();
    let res = swvr(&[
        "run",
        "--quiet",
        "--out",
        dir.join("out").to_str().unwrap(),
        "--scheme",
        scheme.to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("bad.toml") && err.contains("colour"), "{err}");
}

#[test]
fn missing_bundle_file_is_an_error_naming_it() {
    let dir = tempdir("missing");
    let res = swvr(&[
        "ingest",
        "--data",
        dir.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains(".csv") && err.contains("No such file"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "cause repeated: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The committed expected manifest (what `make audit` compares with) is the
/// fixture run's: an intended output change must refresh it (`make expected`).
#[test]
fn fixture_run_matches_the_committed_expected_manifest() {
    let out = fixture_run("expected", &[]);
    let got = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/expected_manifest.json");
    let want = std::fs::read_to_string(root).unwrap();
    assert!(
        got == want,
        "manifest differs from fixtures/expected_manifest.json; run `make expected` and review"
    );
}

#[test]
fn a_selection_with_no_rows_is_a_clear_error() {
    let dir = tempdir("empty-selection");
    let res = swvr(&[
        "run",
        "--quiet",
        "--out",
        dir.join("out").to_str().unwrap(),
        "--country",
        "ZZZ",
    ]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("respondents.csv") && err.contains("ZZZ") && err.contains("8000 outside the selection"),
        "{err}"
    );
    assert!(!err.contains("staging"), "{err}");
}
