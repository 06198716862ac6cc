//! End-to-end tests of the fieldwork stage (issue 13) on the bundle under
//! fixtures/fieldwork (made by scripts/fieldwork_fixture.py): response rates
//! recomputed here from calls.csv, reconciliation, exclusions that keep
//! ingest's counts reconciled, and error messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{TempDir, col, root, run_on, stderr, stdout, swvr, tempdir};

use arrow_array::{BooleanArray, Float64Array, StringArray};
use swvr_core::io::read_arrow;

fn bundle() -> PathBuf {
    root().join("fixtures/fieldwork")
}

fn copy_bundle(dir: &Path) {
    let files = [
        "respondents.csv",
        "design.csv",
        "targets.csv",
        "calls.csv",
        "scheme.toml",
    ];
    support::copy_files(&bundle(), &files, dir);
}

fn run_bundle(name: &str, data: &Path) -> (TempDir, Output) {
    let out = tempdir(name).into_sub("out");
    let res = run_on(data, &out, &[]);
    assert!(res.status.success(), "{}", stderr(&res));
    (out, res)
}

/// Counts by AAPOR class of one (country, frame) of calls.csv, classified
/// here by the code's leading digits (independently of the crate's table).
fn counts(country: &str, frame: &str) -> BTreeMap<&'static str, f64> {
    let text = std::fs::read_to_string(bundle().join("calls.csv")).unwrap();
    let mut c: BTreeMap<&'static str, f64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[0] != country || (frame != "all" && f[2] != frame) {
            continue;
        }
        let class = match f[4] {
            "1.1" => "I",
            "1.2" => "P",
            d if d.starts_with("2.1") => "R",
            d if d.starts_with("2.2") => "NC",
            d if d.starts_with("2.3") => "O",
            d if d.starts_with("3.1") => "UH",
            d if d.starts_with("3.2") || d.starts_with("3.9") => "UO",
            d if d.starts_with("4.") => "NE",
            _ => continue,
        };
        *c.entry(class).or_default() += 1.0;
    }
    c
}

#[test]
fn response_rates_per_frame_and_combined_agree_with_a_hand_computation() {
    let (out, res) = run_bundle("rates", &bundle());
    let b = read_arrow(&out.join("fieldwork/response_rates.arrow")).unwrap();
    let (c, f, m) = (
        col::<StringArray>(&b, "country"),
        col::<StringArray>(&b, "frame"),
        col::<StringArray>(&b, "measure"),
    );
    let v = col::<Float64Array>(&b, "value");
    let get = |country: &str, frame: &str, measure: &str| -> f64 {
        (0..b.num_rows())
            .find(|&i| c.value(i) == country && f.value(i) == frame && m.value(i) == measure)
            .map(|i| v.value(i))
            .unwrap_or_else(|| panic!("{country} {frame} {measure} missing"))
    };
    let mut eu_all = 0.0;
    for frame in ["L", "M"] {
        let k = counts("SEN", frame);
        let g = |x: &str| k.get(x).copied().unwrap_or(0.0);
        let elig = g("I") + g("P") + g("R") + g("NC") + g("O");
        let e = elig / (elig + g("NE"));
        let u = g("UH") + g("UO");
        eu_all += e * u;
        assert!((get("SEN", frame, "e") - e).abs() < 1e-12);
        assert!((get("SEN", frame, "RR3") - g("I") / (elig + e * u)).abs() < 1e-12);
        assert!((get("SEN", frame, "RR1") - g("I") / (elig + u)).abs() < 1e-12);
        assert!((get("SEN", frame, "COOP1") - g("I") / (g("I") + g("P") + g("R") + g("O"))).abs() < 1e-12);
        assert_eq!(get("SEN", frame, "NE"), g("NE"));
    }
    // Combined: pooled dispositions, each frame's e on its own unknowns.
    let k = counts("SEN", "all");
    let g = |x: &str| k.get(x).copied().unwrap_or(0.0);
    let elig = g("I") + g("P") + g("R") + g("NC") + g("O");
    assert!((get("SEN", "all", "RR3") - g("I") / (elig + eu_all)).abs() < 1e-12);
    assert!((get("SEN", "all", "e") - eu_all / (g("UH") + g("UO"))).abs() < 1e-12);
    // Mobile-only BOL: `all` equals `M`.
    assert_eq!(get("BOL", "all", "RR4"), get("BOL", "M", "RR4"));
    // 16 rates + 8 counts + e per (country, frame): SEN L, M, all; BOL M, all.
    assert_eq!(b.num_rows(), 25 * 5);
    let err = stderr(&res);
    assert!(err.contains("SEN 2021   L: RR3 "), "{err}");
    assert!(
        err.contains("swvr: fieldwork: 5 interviews excluded before weighting"),
        "{err}"
    );
    // The fieldwork block sits between ingest and weighting; the run's last
    // line is where the outputs are.
    let lines: Vec<&str> = err.lines().collect();
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap_or(usize::MAX);
    assert!(at("swvr: fieldwork quality") < at("swvr: weight"), "{err}");
    assert!(at("swvr: ingest") < at("swvr: fieldwork: "), "{err}");
    assert!(
        lines.last().is_some_and(|l| l.starts_with("swvr: outputs in ")),
        "{err}"
    );
}

#[test]
fn reconciliation_rejects_and_exclusions_reconcile() {
    let (out, _) = run_bundle("reconcile", &bundle());
    assert_eq!(
        std::fs::read_to_string(out.join("fieldwork/reconciliation.csv")).unwrap(),
        "country,wave,respondent_id,issue,detail\n\
         BOL,2021,BOL-000300,respondent_not_in_calls,accepted respondent without an interview disposition\n\
         SEN,2021,SEN-009999,interview_not_in_respondents,\"calls.csv line 7834, disposition 1.1\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("fieldwork/calls_rejects.csv")).unwrap(),
        "line,number_id,reasons,raw\n7833,SEN-M-9999998,unknown_disposition:disposition=5.1,\"SEN,2021,M,SEN-M-9999998,5.1,\"\n"
    );
    // Excluded interviews are ingest rejects with their reasons.
    let rejects = std::fs::read_to_string(out.join("ingest/rejects.csv")).unwrap();
    let reasons: Vec<&str> = rejects.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    assert_eq!(
        reasons,
        [
            "fieldwork_speeder:duration=60",
            "fieldwork_duplicate:of=BOL-000200",
            "fieldwork_duplicate:of=SEN-000400",
            "fieldwork_speeder:duration=60",
            "fieldwork_speeder:duration=60"
        ]
    );
    assert!(rejects.contains("\n251,BOL-000250,"), "{rejects}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ingest/validation.json")).unwrap()).unwrap();
    assert_eq!(
        (
            v["rows_read"].as_u64(),
            v["rows_accepted"].as_u64(),
            v["rows_rejected"].as_u64()
        ),
        (Some(1300), Some(1295), Some(5))
    );
    assert_eq!(v["by_country"]["SEN"]["rows_rejected"], 3);
    assert_eq!(v["reasons"]["fieldwork_duplicate"], 2);
    // Not weighted; still in quality.arrow, marked excluded.
    assert_eq!(
        read_arrow(&out.join("ingest/respondents.arrow")).unwrap().num_rows(),
        1295
    );
    let w = read_arrow(&out.join("weight/weighted.arrow")).unwrap();
    assert_eq!(w.num_rows(), 1295);
    assert!(
        !col::<StringArray>(&w, "respondent_id")
            .iter()
            .any(|x| x == Some("SEN-000500"))
    );
    let q = read_arrow(&out.join("fieldwork/quality.arrow")).unwrap();
    assert_eq!(q.num_rows(), 1300);
    let ex = col::<BooleanArray>(&q, "excluded");
    assert_eq!(ex.true_count(), 5);
    // The fabricating interviewer stands out.
    let iv = read_arrow(&out.join("fieldwork/interviewers.arrow")).unwrap();
    let names = col::<StringArray>(&iv, "interviewer");
    let cl = col::<BooleanArray>(&iv, "flag_cluster");
    let flagged: Vec<&str> = (0..iv.num_rows())
        .filter(|&i| cl.value(i))
        .map(|i| names.value(i))
        .collect();
    assert_eq!(flagged, ["SEN-I10"]);
}

#[test]
fn reconciliation_as_an_error() {
    let data = tempdir("recon-error");
    copy_bundle(&data);
    std::fs::write(data.join("scheme.toml"), "[fieldwork]\nreconciliation = \"error\"\n").unwrap();
    let out = data.join("out");
    let res = run_on(&data, &out, &["--quiet"]);
    assert!(!res.status.success());
    let err = stderr(&res);
    assert!(
        err.contains("calls.csv: 2 interviews do not reconcile with the accepted respondents (first: BOL 2021 BOL-000300 respondent_not_in_calls"),
        "{err}"
    );
    assert!(!out.join("weight").exists());
}

#[test]
fn fieldwork_command_and_its_errors() {
    let data = tempdir("cmd");
    copy_bundle(&data);
    let out = data.join("out");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let res = swvr(&["fieldwork", "--data", d, "--out", o]);
    assert!(!res.status.success());
    let err = stderr(&res);
    assert!(
        err.contains("ingest/respondents.arrow: not found; run `swvr ingest"),
        "{err}"
    );
    assert!(swvr(&["ingest", "--quiet", "--data", d, "--out", o]).status.success());
    std::fs::write(
        data.join("s.toml"),
        "[fieldwork]\nexclude = [\"duplicate\"]\nspeeders = 0.5\n",
    )
    .unwrap();
    let s = data.join("s.toml");
    let res = swvr(&["fieldwork", "--data", d, "--out", o, "--scheme", s.to_str().unwrap()]);
    let err = stderr(&res);
    assert!(
        !res.status.success() && err.contains("s.toml: line 3") && err.contains("speeders"),
        "{err}"
    );
    // A calls.csv without its disposition column.
    let calls = std::fs::read_to_string(data.join("calls.csv"))
        .unwrap()
        .replacen("disposition", "outcome", 1);
    std::fs::write(data.join("calls.csv"), calls).unwrap();
    let res = swvr(&["fieldwork", "--data", d, "--out", o]);
    let err = stderr(&res);
    assert!(
        err.contains("calls.csv: line 1: missing required column `disposition`"),
        "{err}"
    );
    // Without calls.csv: quality only; exclusions applied once.
    std::fs::remove_file(data.join("calls.csv")).unwrap();
    let res = swvr(&["fieldwork", "--data", d, "--out", o]);
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(!out.join("fieldwork/response_rates.arrow").exists());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ingest/validation.json")).unwrap()).unwrap();
    assert_eq!(v["rows_rejected"], 5);
    let res = swvr(&["fieldwork", "--data", d, "--out", o]);
    let err = stderr(&res);
    assert!(
        !res.status.success() && err.contains("validation.json: fieldwork exclusions were already applied"),
        "{err}"
    );
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

fn output_sha(m: &serde_json::Value, path: &str) -> String {
    m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == path)
        .map(|o| o["sha256"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{path} not in the manifest"))
}

#[test]
fn run_fieldwork_modes_are_recorded_and_refused_when_they_cannot_apply() {
    let data = tempdir("modes");
    copy_bundle(&data);
    let d = data.to_str().unwrap();
    let out = |name: &str| data.join(name);
    let run = |o: &Path, extra: &[&str]| {
        let mut a = vec!["run", "--data", d, "--out", o.to_str().unwrap()];
        a.extend_from_slice(extra);
        swvr(&a)
    };

    // The fixture scheme excludes duplicates and speeders: skipping the checks is refused.
    for mode in ["off", "rates"] {
        let o = out(&format!("refused-{mode}"));
        let res = run(&o, &["--fieldwork", mode]);
        let err = stderr(&res);
        assert!(!res.status.success(), "{err}");
        assert!(
            err.contains(&format!(
                "scheme.toml: [fieldwork] exclude = [\"duplicate\", \"speeder\"] removes flagged interviews before weighting, which needs the interview-quality checks; `--fieldwork {mode}` skips them: run with `--fieldwork full`, or remove `exclude` from the scheme"
            )),
            "{err}"
        );
        assert!(!o.join("manifest.json").exists() && !o.join("ingest").exists());
    }
    let res = run(&out("bad"), &["--fieldwork", "sometimes"]);
    let err = stderr(&res);
    assert!(
        !res.status.success()
            && err.contains("invalid value 'sometimes' for '--fieldwork <MODE>'")
            && err.contains("[possible values: full, rates, off]"),
        "{err}"
    );

    // Without exclusions every mode runs; the default is `full`.
    std::fs::remove_file(data.join("scheme.toml")).unwrap();
    let full = out("full");
    let res = run(&full, &[]);
    assert!(res.status.success(), "{}", stderr(&res));
    let mf = manifest(&full);
    assert_eq!(mf["fieldwork"], "full");
    assert!(!mf["command"].as_array().unwrap().iter().any(|c| c == "--fieldwork"));
    assert!(full.join("fieldwork/quality.arrow").is_file());

    let rates = out("rates");
    let res = run(&rates, &["--fieldwork", "rates"]);
    let err = stderr(&res);
    assert!(res.status.success(), "{err}");
    assert!(
        err.contains("swvr: fieldwork quality: not run (--fieldwork rates)"),
        "{err}"
    );
    assert!(err.contains("numbers in calls.csv"), "{err}");
    let mr = manifest(&rates);
    assert_eq!(mr["fieldwork"], "rates");
    let cmd: Vec<&str> = mr["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(cmd.windows(2).any(|w| w == ["--fieldwork", "rates"]), "{cmd:?}");
    assert!(!rates.join("fieldwork/quality.arrow").exists());
    assert!(!rates.join("fieldwork/interviewers.arrow").exists());
    for f in [
        "fieldwork/response_rates.arrow",
        "fieldwork/reconciliation.csv",
        "tabulate/tables.arrow",
    ] {
        assert_eq!(output_sha(&mr, f), output_sha(&mf, f), "{f}");
    }
    let summary = std::fs::read_to_string(rates.join("fieldwork/summary.json")).unwrap();
    assert!(
        summary.contains("\"quality_checks\": \"not run (swvr run --fieldwork rates)\""),
        "{summary}"
    );
    assert!(
        !std::fs::read_to_string(full.join("fieldwork/summary.json"))
            .unwrap()
            .contains("quality_checks")
    );

    // `off` into the folder of a full run: no fieldwork/ left, the same tables.
    let res = run(&full, &["--fieldwork", "off"]);
    let err = stderr(&res);
    assert!(res.status.success(), "{err}");
    assert!(
        err.contains("swvr: fieldwork: not run (--fieldwork off): no response rates, no interview-quality checks"),
        "{err}"
    );
    assert!(!full.join("fieldwork").exists());
    let mo = manifest(&full);
    assert_eq!(mo["fieldwork"], "off");
    assert_eq!(
        output_sha(&mo, "tabulate/tables.arrow"),
        output_sha(&mf, "tabulate/tables.arrow")
    );
    assert!(
        !mo["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["path"].as_str().unwrap().starts_with("fieldwork/"))
    );
    let res = swvr(&["verify", full.to_str().unwrap()]);
    assert!(res.status.success(), "{}", stderr(&res));
    let res = swvr(&[
        "verify",
        full.to_str().unwrap(),
        "--against",
        rates.join("manifest.json").to_str().unwrap(),
    ]);
    let text = format!("{}{}", stdout(&res), stderr(&res));
    assert!(text.contains("option: fieldwork off vs rates"), "{text}");

    // `rates` needs calls.csv.
    std::fs::remove_file(data.join("calls.csv")).unwrap();
    let res = run(&out("nocalls"), &["--fieldwork", "rates"]);
    let err = stderr(&res);
    assert!(
        !res.status.success()
            && err.contains("calls.csv: not found; `--fieldwork rates` computes the response rates from it (use `--fieldwork off` to skip the fieldwork stage)"),
        "{err}"
    );
}
