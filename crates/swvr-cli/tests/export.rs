//! End-to-end tests of `swvr export` and `swvr run --export` (issue 11):
//! every exported file is read back by independent readers
//! (`scripts/check_export.py`: pyreadstat, pandas, PSPP, pyarrow, DuckDB,
//! openpyxl) and compared with the Arrow outputs. A separate test binary
//! from `cli.rs` so that the export tests can be run alone
//! (`cargo test -p swvr-cli --test export`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::process::Command;
use support::{copy_files, ok, root, run_on, stderr, stdout, swvr, tempdir};

const ALL: [&str; 10] = [
    "--export", "sav", "--export", "dta", "--export", "parquet", "--export", "csv", "--export", "xlsx",
];

const FILES: [&str; 11] = [
    "weighted.sav",
    "weighted.dta",
    "weighted.parquet",
    "tables.parquet",
    "odds_ratios.parquet",
    "weighted.csv",
    "tables.csv",
    "odds_ratios.csv",
    "tables.xlsx",
    "odds_ratios.xlsx",
    "topline.xlsx",
];

/// Python with the reader modules, or `None` (the caller prints SKIPPED).
fn python() -> Option<&'static str> {
    let probe = Command::new("python3")
        .args(["-c", "import pyreadstat, pandas, pyarrow, duckdb, openpyxl"])
        .output()
        .ok()?;
    probe.status.success().then_some("python3")
}

#[test]
fn run_export_writes_every_format_and_independent_readers_agree() {
    let dir = tempdir("all");
    let out = dir.join("out");
    let mut args = vec!["run", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(&ALL);
    ok(&swvr(&args));
    for f in FILES {
        assert!(out.join("export").join(f).is_file(), "{f} missing");
    }
    // The staging folder is gone and the export is listed in the manifest.
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("export/weighted.sav"), "{manifest}");
    let Some(py) = python() else {
        println!("SKIPPED: python3 with pyreadstat, pandas, pyarrow, duckdb, openpyxl not found");
        return;
    };
    let res = Command::new(py)
        .arg(root().join("scripts/check_export.py"))
        .arg(&out)
        .arg(root().join("questionnaire/unv_gallup_2021.toml"))
        .output()
        .unwrap();
    let stdout = stdout(&res);
    assert!(res.status.success(), "{stdout}\n{}", stderr(&res));
    if !stdout.contains("ok: sav: pspp reads the file") {
        println!("SKIPPED: pspp not found (the .sav was read by pyreadstat and pandas only)");
    }
    assert!(
        stdout.contains("export check:") && stdout.contains(", 0 failed"),
        "{stdout}"
    );
}

#[test]
fn export_command_gives_the_bytes_of_run_export_and_a_rerun_without_export_removes_them() {
    let dir = tempdir("cmd");
    let a = dir.join("a");
    let b = dir.join("b");
    let mut args = vec!["run", "--quiet", "--out", a.to_str().unwrap()];
    args.extend_from_slice(&ALL);
    ok(&swvr(&args));
    ok(&swvr(&["run", "--quiet", "--out", b.to_str().unwrap()]));
    assert!(!b.join("export").exists());
    let mut args = vec!["export", "--quiet", "--out", b.to_str().unwrap()];
    for f in ["xlsx", "csv", "parquet", "dta", "sav", "csv"] {
        args.extend_from_slice(&["--format", f]);
    }
    ok(&swvr(&args));
    for f in FILES {
        let x = std::fs::read(a.join("export").join(f)).unwrap();
        let y = std::fs::read(b.join("export").join(f)).unwrap();
        assert!(x == y, "{f}: bytes differ between run --export and export");
    }
    // A later run without --export removes the stale export.
    ok(&swvr(&["run", "--quiet", "--out", a.to_str().unwrap()]));
    assert!(!a.join("export").exists());
}

#[test]
fn export_before_the_stages_names_the_command_to_run() {
    let dir = tempdir("missing");
    let res = swvr(&["export", "--out", dir.to_str().unwrap(), "--format", "parquet"]);
    assert!(!res.status.success());
    let err = stderr(&res);
    assert!(
        err.contains("weight/weighted.arrow: not found; run `swvr weight --data DIR --out OUT` first"),
        "{err}"
    );
    let res = swvr(&["export", "--out", dir.to_str().unwrap(), "--format", "spss"]);
    let err = stderr(&res);
    assert!(
        !res.status.success()
            && err.contains("unknown export format `spss`; expected one of sav, dta, parquet, csv, xlsx"),
        "{err}"
    );
}

/// The README's combine example (DuckDB over runs/*/export/*.parquet) runs
/// as written on two runs.
#[test]
fn readme_parquet_combine_example_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- combine-example -->")
        .expect("README marks the combine example");
    let block = &readme[start..];
    let sql_start = block.find("```sql\n").unwrap() + 7;
    let sql = &block[sql_start..sql_start + block[sql_start..].find("```").unwrap()];
    let dir = tempdir("combine");
    for (name, country) in [("2021-ken", "KEN"), ("2021-sen", "SEN")] {
        let out = dir.join("runs").join(name);
        ok(&swvr(&[
            "run",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--country",
            country,
            "--export",
            "parquet",
        ]));
    }
    let Some(py) = python() else {
        println!("SKIPPED: python3 with duckdb not found");
        return;
    };
    let res = Command::new(py)
        .current_dir(&dir)
        .args([
            "-c",
            "import duckdb, sys; print(duckdb.sql(sys.argv[1]).fetchall())",
            sql,
        ])
        .output()
        .unwrap();
    let stdout = stdout(&res);
    assert!(res.status.success(), "{sql}\n{}", stderr(&res));
    assert!(stdout.contains("'SEN'") && stdout.contains("'KEN'"), "{stdout}");
}

/// Labelled Arrow (issue 11): every Arrow output carries the questionnaire
/// and the scheme hash in its schema metadata; respondents.arrow and
/// weighted.arrow carry question texts and value labels in field metadata;
/// the scheme hash is the manifest's hash of the effective scheme.
#[test]
fn arrow_outputs_carry_labels_and_provenance() {
    use swvr_core::labels::{LABEL_KEY, MISSING_KEY, QUESTIONNAIRE_KEY, SCHEME_HASH_KEY, VALUE_LABELS_KEY};
    let dir = tempdir("labels");
    let out = dir.join("out");
    ok(&swvr(&["run", "--quiet", "--out", out.to_str().unwrap()]));
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let scheme_hash = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "scheme")
        .unwrap()["effective_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    for f in [
        "ingest/respondents.arrow",
        "weight/weighted.arrow",
        "tabulate/tables.arrow",
        "model/odds_ratios.arrow",
    ] {
        let b = swvr_core::io::read_arrow(&out.join(f)).unwrap();
        let md = b.schema().metadata().clone();
        assert_eq!(
            md.get(QUESTIONNAIRE_KEY).map(String::as_str),
            Some("UNV-Gallup Volunteering in the Global South, 2021"),
            "{f}"
        );
        if f != "ingest/respondents.arrow" {
            assert_eq!(md.get(SCHEME_HASH_KEY), Some(&scheme_hash), "{f}");
        }
    }
    // Issue 15: the answers live in respondents.arrow only; weighted.arrow
    // holds the keys and what weighting adds (read together by
    // swvr_core::handoff, whose microdata keeps the labels).
    let micro = swvr_core::handoff::read_microdata(&out).unwrap().batch;
    for b in [
        swvr_core::io::read_arrow(&out.join("ingest/respondents.arrow")).unwrap(),
        micro,
    ] {
        let schema = b.schema();
        let q7 = schema.field_with_name("Q7").unwrap().metadata();
        assert_eq!(
            q7[LABEL_KEY],
            "In the next 12 months, do you plan to volunteer or give unpaid help in any way?"
        );
        assert_eq!(q7[VALUE_LABELS_KEY], r#"{"1":"yes","2":"no","8":"dk","9":"refused"}"#);
        assert_eq!(q7[MISSING_KEY], "[8,9]");
        assert_eq!(
            *schema.field_with_name("Q7").unwrap().data_type(),
            arrow_schema::DataType::Int8
        );
    }
    let t = swvr_core::io::read_arrow(&out.join("tabulate/tables.arrow")).unwrap();
    let item = t.schema().field_with_name("item").unwrap().metadata()[VALUE_LABELS_KEY].clone();
    assert!(
        item.contains(r#""Q4B_net":"Net change in civic participation"#),
        "{item}"
    );
}

/// Issue 11, input: an exported `weighted.sav` / `weighted.dta` put in a
/// bundle as the respondents file ingests back to the same respondents:
/// every column of the original respondents.arrow comes back with the same
/// type, values and nulls (DK/refused user-missing codes and Stata `.d`/`.r`
/// back to 8/9, 998/999; the export's weighting columns become extras).
#[test]
fn exported_sav_and_dta_ingest_back_to_the_same_respondents() {
    let dir = tempdir("roundtrip");
    let out = dir.join("out");
    ok(&swvr(&[
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--export",
        "sav",
        "--export",
        "dta",
    ]));
    let original = swvr_core::io::read_arrow(&out.join("ingest/respondents.arrow")).unwrap();
    for ext in ["sav", "dta"] {
        let data = dir.join(format!("bundle-{ext}"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(
            out.join(format!("export/weighted.{ext}")),
            data.join(format!("respondents.{ext}")),
        )
        .unwrap();
        copy_files(&root().join("fixtures"), &["design.csv", "targets.csv"], &data);
        let again = dir.join(format!("again-{ext}"));
        ok(&swvr(&[
            "ingest",
            "--quiet",
            "--data",
            data.to_str().unwrap(),
            "--out",
            again.to_str().unwrap(),
        ]));
        let back = swvr_core::io::read_arrow(&again.join("ingest/respondents.arrow")).unwrap();
        assert_eq!(back.num_rows(), original.num_rows(), "{ext}");
        for (i, f) in original.schema().fields().iter().enumerate() {
            let col = back
                .column_by_name(f.name())
                .unwrap_or_else(|| panic!("{ext}: {} missing", f.name()));
            assert_eq!(col.data_type(), f.data_type(), "{ext}: {}", f.name());
            assert_eq!(col.as_ref(), original.column(i).as_ref(), "{ext}: {} differs", f.name());
        }
        // The export's own columns come back as extras (text).
        assert!(back.column_by_name("weight").is_some(), "{ext}");
    }
}

/// `swvr run` on a bundle whose respondents are a .zsav gives the CSV
/// bundle's outputs (the manifest names and hashes the .zsav).
#[test]
fn run_on_a_zsav_bundle_gives_the_csv_bundle_s_outputs() {
    let dir = tempdir("zsav-run");
    let data = dir.join("bundle");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(
        root().join("fixtures/statfile/respondents.zsav"),
        data.join("respondents.zsav"),
    )
    .unwrap();
    copy_files(&root().join("fixtures"), &["design.csv", "targets.csv"], &data);
    let (a, b) = (dir.join("a"), dir.join("b"));
    ok(&run_on(&data, &a, &["--quiet"]));
    ok(&swvr(&["run", "--quiet", "--out", b.to_str().unwrap()]));
    for f in [
        "ingest/respondents.arrow",
        "weight/weighted.arrow",
        "tabulate/tables.arrow",
        "model/odds_ratios.arrow",
    ] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(a.join("manifest.json")).unwrap()).unwrap();
    let first = &m["inputs"][0];
    assert_eq!(first["name"], "respondents.zsav");
    assert_eq!(first["source"], "DATA/respondents.zsav");
}
