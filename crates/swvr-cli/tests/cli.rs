//! End-to-end tests of the `swvr` binary: the fixture run, per-country runs,
//! reproducibility, atomic failure and error messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::path::Path;
use std::process::Command;
use support::{TempDir, ok, root, run_on, stderr, stdout, swvr, tempdir};

use arrow_array::{Array, RecordBatch, StringArray};
use swvr_core::io::read_arrow;

#[path = "cli/calibrated.rs"]
mod calibrated;
#[path = "cli/reliability.rs"]
mod reliability;
#[path = "cli/replicate_e2e.rs"]
mod replicate_e2e;
#[path = "cli/report.rs"]
mod report;
#[path = "cli/wave2025.rs"]
mod wave2025;

/// A run of the fixtures into `DIR/out` (the guard removes `DIR` when dropped).
fn fixture_run(name: &str, extra: &[&str]) -> TempDir {
    let out = tempdir(name).into_sub("out");
    let mut args = vec!["run", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(&swvr(&args));
    out
}

/// Entries of OUT starting with `.` other than swvr's pointer and the
/// generation it points to (docs/out.md): staging, old generations, a lock.
fn leftovers(out: &Path) -> Vec<String> {
    let current = std::fs::read_link(out.join(".swvr-current")).unwrap();
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".swvr-current" && Path::new(n) != current)
        .collect()
}

fn rows_of_country(batch: &RecordBatch, country: &str) -> Vec<String> {
    let c = support::col::<StringArray>(batch, "country");
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
        "tabulate/contrasts.arrow",
        "tabulate/report.md",
        "model/report.md",
        "manifest.json",
    ]) {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let left = leftovers(&out);
    assert!(left.is_empty(), "staging left behind: {left:?}");
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
    for f in OUTPUTS.iter().chain(&[
        "manifest.json",
        "tabulate/tables.csv",
        "tabulate/contrasts.arrow",
        "weight/diagnostics.json",
    ]) {
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
    support::copy_files(
        &root().join("fixtures"),
        &["respondents.csv", "design.csv", "targets.csv"],
        dir,
    );
}

#[test]
fn a_failed_run_leaves_previous_outputs_untouched() {
    let out = fixture_run("atomic", &[]);
    let before = std::fs::read(out.join("tabulate/tables.arrow")).unwrap();
    let data = tempdir("atomic-data");
    copy_fixtures(&data);
    std::fs::write(data.join("targets.csv"), "country,wave,variable,category,share\n").unwrap();
    let res = run_on(&data, &out, &["--quiet"]);
    assert!(!res.status.success());
    let err = stderr(&res);
    assert!(err.contains("targets.csv"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one-line cause expected: {err}");
    assert_eq!(std::fs::read(out.join("tabulate/tables.arrow")).unwrap(), before);
    let left = leftovers(&out);
    assert!(left.is_empty(), "staging left behind: {left:?}");
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
    let err = stderr(&res);
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
    let err = stderr(&res);
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
    let want = std::fs::read_to_string(root().join("fixtures/expected_manifest.json")).unwrap();
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
    let err = stderr(&res);
    assert_eq!(
        err.trim_end(),
        "swvr: error: respondents.csv (embedded fixtures): no rows for country ZZZ; the file holds BOL 2021, \
         IND 2021, KEN 2021, LBN 2021, SEN 2021, THA 2021, TUR 2021, UZB 2021; expected --country/--wave to \
         name at least one of these"
    );
    assert!(!err.contains("staging"), "{err}");
}

/// Issue 9: two copies of a bundle run into two folders give byte-equal
/// manifests, which name no absolute path.
#[test]
fn manifests_of_equal_runs_in_two_folders_are_equal() {
    let dir = tempdir("two-folders");
    let (d1, d2) = (dir.join("a/bundle"), dir.join("elsewhere/deeper/copy"));
    for d in [&d1, &d2] {
        std::fs::create_dir_all(d).unwrap();
        copy_fixtures(d);
        std::fs::write(
            d.join("scheme.toml"),
            "[raking]\nvariables = [\"sex\", \"age_group\"]\n",
        )
        .unwrap();
    }
    let (o1, o2) = (dir.join("out1"), dir.join("x/out2"));
    ok(&run_on(&d1, &o1, &["--quiet", "--country", "SEN", "--country", "KEN"]));
    ok(&run_on(&d2, &o2, &["--quiet", "--country", "KEN", "--country", "SEN"]));
    let m1 = std::fs::read_to_string(o1.join("manifest.json")).unwrap();
    assert!(
        m1 == std::fs::read_to_string(o2.join("manifest.json")).unwrap(),
        "manifests differ"
    );
    assert!(
        !m1.contains(dir.to_str().unwrap()),
        "absolute path in the manifest: {m1}"
    );
    let m: serde_json::Value = serde_json::from_str(&m1).unwrap();
    assert_eq!(
        m["command"],
        serde_json::json!([
            "swvr",
            "run",
            "--data",
            "DATA",
            "--out",
            "OUT",
            "--country",
            "KEN",
            "--country",
            "SEN"
        ])
    );
    let scheme = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "scheme")
        .unwrap();
    assert_eq!(scheme["source"], "DATA/scheme.toml");
    assert_eq!(scheme["effective"], "weight/scheme.toml");
    assert_ne!(scheme["sha256"], scheme["effective_sha256"]);
}

/// The effective configurations are in the stage folders, hashed in the
/// manifest next to the user's file; re-running with them reproduces the run.
#[test]
fn stage_folders_hold_the_effective_configuration() {
    let dir = tempdir("effective");
    let data = dir.join("bundle");
    std::fs::create_dir_all(&data).unwrap();
    copy_fixtures(&data);
    let scheme = dir.join("partial.toml");
    std::fs::write(&scheme, "[trimming]\nlower = 0.3\nupper = 4.0\n").unwrap();
    let out = dir.join("out");
    ok(&run_on(
        &data,
        &out,
        &["--quiet", "--country", "LBN", "--scheme", scheme.to_str().unwrap()],
    ));
    let effective = std::fs::read_to_string(out.join("weight/scheme.toml")).unwrap();
    for key in ["method", "cap_adults", "bands", "variables", "tolerance", "lower = 0.3"] {
        assert!(
            effective.contains(key),
            "{key} missing from the effective scheme:\n{effective}"
        );
    }
    assert!(out.join("model/spec.toml").is_file() && out.join("ingest/questionnaire.toml").is_file());
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let input = |n: &str| {
        m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .unwrap()
            .clone()
    };
    let s = input("scheme");
    assert_eq!(s["source"], "partial.toml");
    let sha = |b: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    assert_eq!(s["sha256"], sha(&std::fs::read(&scheme).unwrap()));
    assert_eq!(s["effective_sha256"], sha(effective.as_bytes()));
    assert_eq!(input("spec")["source"], "built-in default");
    // The same run from the effective files gives the same outputs.
    let again = dir.join("again");
    ok(&run_on(
        &data,
        &again,
        &[
            "--quiet",
            "--country",
            "LBN",
            "--scheme",
            out.join("weight/scheme.toml").to_str().unwrap(),
            "--spec",
            out.join("model/spec.toml").to_str().unwrap(),
            "--questionnaire",
            out.join("ingest/questionnaire.toml").to_str().unwrap(),
        ],
    ));
    for f in OUTPUTS
        .iter()
        .chain(&["weight/scheme.toml", "model/spec.toml", "ingest/questionnaire.toml"])
    {
        assert!(
            std::fs::read(out.join(f)).unwrap() == std::fs::read(again.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn verify_passes_on_an_untouched_run_and_names_a_changed_file() {
    let out = fixture_run("verify", &["--country", "THA"]);
    let res = swvr(&["verify", out.to_str().unwrap()]);
    ok(&res);
    assert!(stdout(&res).contains("all 18 files match"), "{}", stdout(&res));
    // One byte of one output changes.
    let f = out.join("tabulate/tables.csv");
    let mut bytes = std::fs::read(&f).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&f, bytes).unwrap();
    std::fs::remove_file(out.join("model/report.md")).unwrap();
    std::fs::write(out.join("notes.txt"), "x").unwrap();
    let res = swvr(&["verify", out.to_str().unwrap()]);
    assert!(!res.status.success());
    assert_eq!(
        stdout(&res),
        "changed: tabulate/tables.csv\nmissing: model/report.md\nnot in the manifest: notes.txt\n"
    );
    let err = stderr(&res);
    assert!(
        err.contains("2 of 18 files do not match")
            && err
                .contains("tabulate/tables.csv (changed), model/report.md (missing), notes.txt (not in the manifest)"),
        "{err}"
    );
}

#[test]
fn verify_against_names_differing_options_inputs_and_outputs() {
    let a = fixture_run("against-a", &["--country", "THA"]);
    let b = fixture_run("against-b", &["--country", "THA"]);
    let res = swvr(&[
        "verify",
        a.to_str().unwrap(),
        "--against",
        b.join("manifest.json").to_str().unwrap(),
    ]);
    ok(&res);
    assert!(
        stdout(&res).contains("same version, options, inputs and outputs"),
        "{}",
        stdout(&res)
    );
    let dir = tempdir("against-spec");
    let spec = dir.join("firth.toml");
    let text = String::from_utf8(swvr(&["defaults", "spec"]).stdout).unwrap();
    std::fs::write(&spec, text.replace("method = \"logit\"", "method = \"firth\"")).unwrap();
    let c = fixture_run("against-c", &["--country", "THA", "--spec", spec.to_str().unwrap()]);
    let res = swvr(&[
        "verify",
        c.to_str().unwrap(),
        "--against",
        a.join("manifest.json").to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    let lines = stdout(&res);
    for want in [
        "option: command `swvr run --out OUT --spec firth.toml --country THA` vs `swvr run --out OUT --country THA`",
        "input spec: content differs (firth.toml vs built-in default)",
        "input spec: effective configuration differs",
        "output model/odds_ratios.arrow: content differs",
        "output model/spec.toml: content differs",
    ] {
        assert!(lines.contains(want), "{want}\n---\n{lines}");
    }
    assert!(!lines.contains("tabulate/tables.arrow"), "{lines}");
    assert!(stderr(&res).contains("differs from"), "{}", stderr(&res));
}

#[test]
fn verify_without_a_manifest_says_so() {
    let dir = tempdir("verify-none");
    let res = swvr(&["verify", dir.to_str().unwrap()]);
    assert!(!res.status.success());
    assert!(
        stderr(&res).contains("manifest.json: cannot read manifest"),
        "{}",
        stderr(&res)
    );
    std::fs::write(dir.join("manifest.json"), "{\"outputs\": 3}").unwrap();
    let res = swvr(&["verify", dir.to_str().unwrap()]);
    assert!(
        stderr(&res).contains("manifest.json: line 1, column"),
        "{}",
        stderr(&res)
    );
    assert!(stderr(&res).contains("not a swvr manifest"), "{}", stderr(&res));
}

#[test]
fn defaults_prints_the_built_in_files_byte_for_byte() {
    for (name, file) in [
        ("questionnaire", "questionnaire/unv_gallup_2021.toml"),
        ("spec", "questionnaire/model_appendix_e.toml"),
    ] {
        let res = swvr(&["defaults", name]);
        ok(&res);
        assert!(
            res.stdout == std::fs::read(root().join(file)).unwrap(),
            "{name} differs from {file}"
        );
    }
    let res = swvr(&["defaults", "scheme"]);
    ok(&res);
    assert_eq!(res.stdout, swvr_weight::scheme::DEFAULT_SCHEME_TOML.as_bytes());
    // A run with the printed files is the default run.
    let dir = tempdir("defaults-run");
    for (name, file) in [("scheme", "s.toml"), ("spec", "m.toml"), ("questionnaire", "q.toml")] {
        std::fs::write(dir.join(file), swvr(&["defaults", name]).stdout).unwrap();
    }
    let a = fixture_run("defaults-a", &["--country", "UZB"]);
    let b = dir.join("out");
    let arg = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let (s, m, q) = (arg("s.toml"), arg("m.toml"), arg("q.toml"));
    ok(&swvr(&[
        "run",
        "--quiet",
        "--out",
        b.to_str().unwrap(),
        "--country",
        "UZB",
        "--scheme",
        &s,
        "--spec",
        &m,
        "--questionnaire",
        &q,
    ]));
    for f in OUTPUTS
        .iter()
        .chain(&["weight/scheme.toml", "model/spec.toml", "ingest/questionnaire.toml"])
    {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let res = swvr(&["defaults", "colour"]);
    assert!(!res.status.success());
    assert!(stderr(&res).contains("invalid value 'colour'"), "{}", stderr(&res));
}

#[test]
fn every_help_taking_data_points_to_the_bundle_spec() {
    for cmd in ["run", "ingest", "weight"] {
        let res = swvr(&[cmd, "--help"]);
        ok(&res);
        assert!(
            stdout(&res).contains("docs/bundle.md"),
            "{cmd} --help:\n{}",
            stdout(&res)
        );
    }
}

/// A bundle whose respondents.csv has `wave` rewritten (as an SPSS export
/// writes `2021.0`) in the first `n` data rows of country `country`.
fn bundle_with_bad_waves(name: &str, country: &str, n: usize) -> TempDir {
    let data = tempdir(name);
    copy_fixtures(&data);
    let text = std::fs::read_to_string(data.join("respondents.csv")).unwrap();
    let mut done = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let prefix = format!("{country},2021,");
            if done < n && l.starts_with(&prefix) {
                done += 1;
                l.replacen(&prefix, &format!("{country},2021.0,"), 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(data.join("respondents.csv"), lines.join("\n") + "\n").unwrap();
    data
}

#[test]
fn rejected_rows_are_summarised_with_reasons_and_the_rejects_path() {
    let data = bundle_with_bad_waves("some-rejects", "KEN", 200);
    let out = data.join("out");
    let res = run_on(&data, &out, &["--country", "KEN"]);
    ok(&res);
    let err = stderr(&res);
    let rejects = out.join("ingest/rejects.csv");
    for want in [
        "swvr: ingest: 1000 rows read, 800 accepted, 200 rejected".to_string(),
        "  most frequent reject reasons: not_integer:wave (200)".to_string(),
        format!("  rejected rows and their reasons: {}", rejects.display()),
        "swvr: weight: 1 country-wave weighted".to_string(),
        "swvr: tabulate: ".to_string(),
        "swvr: model: ".to_string(),
    ] {
        assert!(err.contains(&want), "{want}\n---\n{err}");
    }
    // The ingest stage alone says the same; --quiet silences it.
    let res = swvr(&[
        "ingest",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--country",
        "KEN",
    ]);
    ok(&res);
    assert!(
        stderr(&res).contains("most frequent reject reasons: not_integer:wave (200)"),
        "{}",
        stderr(&res)
    );
    let res = swvr(&[
        "ingest",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--country",
        "KEN",
    ]);
    ok(&res);
    assert_eq!(stderr(&res), "");
}

#[test]
fn stage_commands_print_their_part_of_the_summary() {
    let dir = tempdir("stage-summary");
    let data = dir.join("bundle");
    std::fs::create_dir_all(&data).unwrap();
    copy_fixtures(&data);
    let out = dir.join("out");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    for (args, want) in [
        (
            vec!["ingest", "--data", d, "--out", o, "--country", "BOL"],
            "swvr: ingest: 1000 rows read, 1000 accepted, 0 rejected",
        ),
        (
            vec!["weight", "--data", d, "--out", o],
            "swvr: weight: 1 country-wave weighted",
        ),
        (vec!["tabulate", "--out", o], "swvr: tabulate: "),
        (vec!["model", "--out", o], "swvr: model: 13 rows for 1 country-wave"),
    ] {
        let res = swvr(&args);
        ok(&res);
        assert!(stderr(&res).contains(want), "{args:?}: {}", stderr(&res));
    }
    assert!(out.join("weight/scheme.toml").is_file() && out.join("model/spec.toml").is_file());
    assert!(out.join("ingest/questionnaire.toml").is_file());
}

#[test]
fn when_nothing_is_accepted_the_error_shows_reasons_and_keeps_the_rejects() {
    let data = bundle_with_bad_waves("all-rejected", "SEN", usize::MAX);
    let out = fixture_run("all-rejected-out", &["--country", "SEN"]);
    let before = std::fs::read(out.join("weight/weighted.arrow")).unwrap();
    let res = run_on(&data, &out, &["--quiet", "--country", "SEN"]);
    assert!(!res.status.success());
    let err = stderr(&res);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let kept = out.join("failed/ingest");
    for want in [
        format!(
            "{}: no respondent rows accepted: 1000 read, 1000 rejected",
            data.join("respondents.csv").display()
        ),
        "most frequent reasons: not_integer:wave (1000)".to_string(),
        "first rejected: line ".to_string(),
        "[not_integer:wave=2021.0] \"SEN,2021.0,".to_string(),
        format!(
            "the ingest outputs of this run are in {} (rejects.csv, validation.json)",
            kept.display()
        ),
    ] {
        assert!(err.contains(&want), "{want}\n---\n{err}");
    }
    assert!(kept.join("rejects.csv").is_file() && kept.join("validation.json").is_file());
    assert_eq!(std::fs::read(out.join("weight/weighted.arrow")).unwrap(), before);
    // The next successful run removes the failed run's folder.
    ok(&run_on(
        &bundle_with_bad_waves("all-rejected-fixed", "SEN", 0),
        &out,
        &["--quiet", "--country", "SEN"],
    ));
    assert!(!out.join("failed").exists());
    // The ingest stage alone keeps its outputs in OUT/ingest.
    let res = swvr(&[
        "ingest",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--country",
        "SEN",
    ]);
    assert!(!res.status.success());
    assert!(
        stderr(&res).contains(&format!("are in {} (rejects.csv", out.join("ingest").display())),
        "{}",
        stderr(&res)
    );
}

#[test]
fn a_selection_matching_nothing_gets_the_same_message_from_every_stage() {
    let dir = tempdir("stage-selection");
    let data = dir.join("bundle");
    std::fs::create_dir_all(&data).unwrap();
    copy_fixtures(&data);
    let out = dir.join("out");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    ok(&swvr(&[
        "ingest",
        "--quiet",
        "--data",
        d,
        "--out",
        o,
        "--country",
        "LBN",
    ]));
    ok(&swvr(&["weight", "--quiet", "--data", d, "--out", o]));
    let tail = "no rows for country ZZZ and wave 2021; the file holds LBN 2021; expected --country/--wave to name at least one of these";
    // Tabulate and model read weighted.arrow with respondents.arrow (the
    // hand-off): the message names both.
    let joined = format!(
        "{} + {}",
        out.join("ingest/respondents.arrow").display(),
        out.join("weight/weighted.arrow").display()
    );
    for (args, file) in [
        (
            vec!["weight", "--data", d, "--out", o],
            out.join("ingest/respondents.arrow").display().to_string(),
        ),
        (vec!["tabulate", "--out", o], joined.clone()),
        (vec!["model", "--out", o], joined.clone()),
    ] {
        let mut args = args.clone();
        args.extend(["--country", "ZZZ", "--wave", "2021"]);
        let res = swvr(&args);
        assert!(!res.status.success());
        assert_eq!(
            stderr(&res).trim_end(),
            format!("swvr: error: {file}: {tail}"),
            "{args:?}"
        );
    }
    let res = swvr(&["ingest", "--data", d, "--out", o, "--wave", "2020"]);
    assert!(
        stderr(&res).contains("respondents.csv: no rows for wave 2020; the file holds BOL 2021, IND 2021"),
        "{}",
        stderr(&res)
    );
    let res = swvr(&["tabulate", "--out", o, "--country", "Kenya"]);
    assert_eq!(
        stderr(&res).trim_end(),
        "swvr: error: --country `Kenya`: expected an ISO 3166-1 alpha-3 code in upper case, as in respondents.csv (e.g. KEN)"
    );
}

#[test]
fn a_respondents_file_in_another_delimiter_or_encoding_is_named_as_such() {
    let data = tempdir("encodings");
    copy_fixtures(&data);
    let text = std::fs::read_to_string(data.join("respondents.csv")).unwrap();
    let head: String = text.lines().take(3).collect::<Vec<_>>().join("\n") + "\n";
    let out = data.join("out");
    let ingest = || {
        swvr(&[
            "ingest",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let file = data.join("respondents.csv");
    std::fs::write(&file, head.replace(',', ";")).unwrap();
    let err = stderr(&ingest());
    assert!(
        err.contains(&format!(
            "{}: line 1: the header `country;wave;respondent_id;",
            file.display()
        )) && err.contains("looks delimited by semicolons (`;`); expected comma-separated values"),
        "{err}"
    );
    std::fs::write(&file, head.replace(',', "\t")).unwrap();
    let err = stderr(&ingest());
    assert!(
        err.contains("the header `country\\twave\\t") && err.contains("looks delimited by tabs"),
        "{err}"
    );
    let utf16 = |bom: bool, big: bool| -> Vec<u8> {
        let mut v: Vec<u8> = match (bom, big) {
            (true, false) => vec![0xFF, 0xFE],
            (true, true) => vec![0xFE, 0xFF],
            _ => vec![],
        };
        for u in head.encode_utf16() {
            v.extend(if big { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        v
    };
    for (bom, big, want) in [
        (true, false, "UTF-16 little-endian, with a byte-order mark"),
        (false, false, "UTF-16 little-endian, without a byte-order mark"),
        (true, true, "UTF-16 big-endian, with a byte-order mark"),
        (false, true, "UTF-16 big-endian, without a byte-order mark"),
    ] {
        std::fs::write(&file, utf16(bom, big)).unwrap();
        let err = stderr(&ingest());
        assert_eq!(
            err.trim_end(),
            format!(
                "swvr: error: {}: the file looks {want}; expected UTF-8 text: save it again as CSV UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)",
                file.display()
            )
        );
    }
}
