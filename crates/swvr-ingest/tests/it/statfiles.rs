//! Issue 11: respondents.sav / .zsav / .dta in place of respondents.csv.
//! The binary files were written by pyreadstat from the fixture bundle's
//! respondents.csv (`scripts/statfile_fixtures.py`, committed under
//! `fixtures/statfile/`); ingesting one gives the bytes of ingesting the
//! same rows as CSV.

use std::path::{Path, PathBuf};

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A bundle with the fixture design and targets and `file` of
/// fixtures/statfile as `name`.
fn stat_bundle(t: &Temp, file: &str, name: &str) {
    let d = t.data();
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(fixtures().join("statfile").join(file), d.join(name)).unwrap();
    for f in ["design.csv", "targets.csv"] {
        std::fs::copy(fixtures().join(f), d.join(f)).unwrap();
    }
}

/// A CSV bundle of the fixture respondents whose lines pass `keep`
/// (the header always kept).
fn csv_bundle(t: &Temp, keep: impl Fn(usize, &str) -> bool) {
    let text = std::fs::read_to_string(fixtures().join("respondents.csv")).unwrap();
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        if i == 0 || keep(i, l) {
            out.push_str(l);
            out.push('\n');
        }
    }
    let d = t.data();
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("respondents.csv"), out).unwrap();
    for f in ["design.csv", "targets.csv"] {
        std::fs::copy(fixtures().join(f), d.join(f)).unwrap();
    }
}

/// The ingest outputs of two bundles are the same bytes (validation.json
/// apart from the file name it reports).
fn assert_same_outputs(a: &Temp, b: &Temp, what: &str) {
    let read = |t: &Temp, f: &str| std::fs::read(t.out().join("ingest").join(f)).unwrap();
    assert!(
        read(a, "respondents.arrow") == read(b, "respondents.arrow"),
        "{what}: respondents.arrow differs"
    );
    assert_eq!(
        read(a, "rejects.csv"),
        read(b, "rejects.csv"),
        "{what}: rejects.csv differs"
    );
    let mut va = validation(&a.out());
    let mut vb = validation(&b.out());
    va["file"] = "".into();
    vb["file"] = "".into();
    assert_eq!(va, vb, "{what}: validation.json differs");
}

fn byte_identity(file: &str, keep: impl Fn(usize, &str) -> bool) {
    let (s, c) = (Temp::new(), Temp::new());
    let ext = file.rsplit('.').next().unwrap();
    stat_bundle(&s, file, &format!("respondents.{ext}"));
    csv_bundle(&c, keep);
    let got = run(&s).unwrap_or_else(|e| panic!("{file}: {e}"));
    let want = run(&c).unwrap();
    assert_eq!(got, want, "{file}");
    assert!(got.rows_accepted > 0);
    assert_same_outputs(&s, &c, file);
    assert_eq!(validation(&s.out())["file"], format!("respondents.{ext}"));
}

#[test]
fn zsav_of_the_whole_fixture_gives_the_csv_bundle_s_bytes() {
    byte_identity("respondents.zsav", |_, _| true);
}

#[test]
fn sav_and_dta_give_the_csv_bundle_s_bytes() {
    byte_identity("bol.sav", |_, l| l.starts_with("BOL,"));
    byte_identity("bol.dta", |_, l| l.starts_with("BOL,"));
    for file in [
        "small.sav",
        "small.zsav",
        "small_117.dta",
        "small_118.dta",
        "small_119.dta",
    ] {
        byte_identity(file, |i, _| i <= 20);
    }
}

/// With pyreadstat at hand, the whole fixture as .sav and .dta (too large
/// to commit) is written and ingested too.
#[test]
fn whole_fixture_as_sav_and_dta_when_pyreadstat_is_installed() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import pyreadstat, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: python3 with pyreadstat and pandas not found");
        return;
    }
    let t = Temp::new();
    let script = fixtures().join("../scripts/statfile_fixtures.py");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(fixtures())
        .arg(&t.0)
        .arg("--full")
        .status()
        .unwrap();
    assert!(status.success());
    let c = Temp::new();
    csv_bundle(&c, |_, _| true);
    run(&c).unwrap();
    for ext in ["sav", "dta"] {
        let s = Temp::new();
        std::fs::create_dir_all(s.data()).unwrap();
        std::fs::copy(
            t.0.join(format!("respondents.{ext}")),
            s.data().join(format!("respondents.{ext}")),
        )
        .unwrap();
        for f in ["design.csv", "targets.csv"] {
            std::fs::copy(fixtures().join(f), s.data().join(f)).unwrap();
        }
        let got = run(&s).unwrap();
        assert_eq!(got.rows_accepted, 8000);
        assert_same_outputs(&s, &c, ext);
    }
}

#[test]
fn rejects_name_record_numbers_and_raw_values() {
    for file in ["bad.sav", "bad.dta"] {
        let t = Temp::new();
        let ext = file.rsplit('.').next().unwrap();
        stat_bundle(&t, file, &format!("respondents.{ext}"));
        let s = run(&t).unwrap();
        // Record 5 holds wave 2021.0 (an integral double): accepted.
        assert_eq!((s.rows_read, s.rows_accepted, s.rows_rejected), (6, 2, 4), "{file}");
        let got = rejects(&t.out());
        let want = [
            (
                2,
                "BOL-000002",
                "out_of_range:Q3A=7",
                "BOL,2021,BOL-000002,M,BOL-Llanos,,,1,2,29,1,2,2,1,,7,1,1,2,,1,2,1,,1,1,1,1,2,1,es,311",
            ),
            (
                3,
                "BOL-000003",
                "not_integer:age=33.5",
                "BOL,2021,BOL-000003,M,BOL-Llanos,,,1,1,33.5,1,1,1,1,,2,2,1,2,,2,2,3,,1,1,1,1,2,1,es,306",
            ),
            (
                4,
                "BOL-000001",
                "duplicate_id",
                "BOL,2021,BOL-000001,M,BOL-Valles,,,1,1,25,2,1,1,2,2,1,2,2,2,,2,2,1,,1,1,1,1,2,2,es,261",
            ),
            (
                6,
                "BOL-000006",
                "blank:sex",
                "BOL,2021,BOL-000006,M,BOL-Llanos,,,1,,15,3,1,3,2,2,1,2,2,2,,1,2,3,,1,1,1,1,1,1,es,294",
            ),
        ];
        assert_eq!(got.len(), want.len(), "{file}");
        for (g, (line, id, reasons, raw)) in got.iter().zip(want) {
            assert_eq!(
                (g.line, g.id.as_str(), g.reasons.as_str(), g.raw.as_str()),
                (line, id, reasons, raw),
                "{file}"
            );
        }
        assert_eq!(validation(&t.out())["file"], format!("respondents.{ext}"));
    }
}

#[test]
fn a_value_label_that_disagrees_with_the_questionnaire_is_a_file_error() {
    let t = Temp::new();
    stat_bundle(&t, "mislabelled.sav", "respondents.sav");
    let e = run(&t).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: variable `Q1`: code 1 is labelled `No` in the file; the questionnaire says 1 = `yes` (labels are compared ignoring case, punctuation and spacing, and may add words after the category's: docs/bundle.md)",
            t.data().join("respondents.sav").display()
        )
    );
    assert!(!t.out().join("ingest/respondents.arrow").exists());
}

#[test]
fn a_user_missing_code_labelled_dk_is_read_as_the_questionnaire_s_dk_code() {
    // remap.sav is small.sav with Q1's DK written 98 = "Don't know", declared missing.
    byte_identity("remap.sav", |i, _| i <= 20);
}

#[test]
fn exactly_one_respondents_file() {
    let t = Temp::new();
    stat_bundle(&t, "small.sav", "respondents.sav");
    std::fs::copy(fixtures().join("respondents.csv"), t.data().join("respondents.csv")).unwrap();
    let e = run(&t).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: 2 respondents files (respondents.csv, respondents.sav); expected exactly one of respondents.csv, respondents.sav, respondents.zsav, respondents.dta",
            t.data().display()
        )
    );
    std::fs::copy(
        fixtures().join("statfile/small_118.dta"),
        t.data().join("respondents.dta"),
    )
    .unwrap();
    assert!(
        run(&t).unwrap_err().to_string().contains(
            ": 3 respondents files (respondents.csv, respondents.sav, respondents.dta); expected exactly one"
        )
    );
    assert_eq!(
        swvr_ingest::respondents_file(&t.0).unwrap(),
        t.0.join("respondents.csv"),
        "no respondents file: respondents.csv, whose absence reading reports"
    );
}

#[test]
fn file_errors_of_statistical_files_name_the_file_and_the_place() {
    let t = Temp::new();
    stat_bundle(&t, "unknown.sav", "respondents.sav");
    let file = t.data().join("respondents.sav");
    assert_eq!(
        run(&t).unwrap_err().to_string(),
        format!(
            "{}: record 4, variables `country`,`wave`: XXX 2021 has no rows in {}; expected every (country, wave) of the respondents to be defined there",
            file.display(),
            t.data().join("design.csv").display()
        )
    );

    let t = Temp::new();
    stat_bundle(&t, "no_q1.sav", "respondents.sav");
    let e = run(&t).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}: missing required variable `Q1`; expected variables country,wave,respondent_id,",
            t.data().join("respondents.sav").display()
        )),
        "{e}"
    );

    let t = Temp::new();
    stat_bundle(&t, "empty.sav", "respondents.sav");
    assert_eq!(
        run(&t).unwrap_err().to_string(),
        format!(
            "{}: the file has no records; expected at least one respondent",
            t.data().join("respondents.sav").display()
        )
    );

    // Truncated inside the data: the record and the byte offset.
    let t = Temp::new();
    stat_bundle(&t, "small.sav", "respondents.sav");
    let path = t.data().join("respondents.sav");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let e = run(&t).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: record 20 (byte {}): the data end inside a record (172 of 272 bytes); the file is truncated or damaged",
            path.display(),
            bytes.len() - 100
        )
    );
    assert!(!t.out().join("ingest/respondents.arrow").exists());

    // A CSV saved under the .sav name.
    let t = Temp::new();
    csv_bundle(&t, |i, _| i < 3);
    std::fs::rename(t.data().join("respondents.csv"), t.data().join("respondents.sav")).unwrap();
    assert!(
        run(&t)
            .unwrap_err()
            .to_string()
            .contains("respondents.sav: byte 0: the file starts with `country,wav`; expected an SPSS system file")
    );
}

#[test]
fn fieldwork_exclusions_name_the_record_of_a_statistical_file() {
    let t = Temp::new();
    stat_bundle(&t, "small_118.dta", "respondents.dta");
    run(&t).unwrap();
    let removed = swvr_ingest::exclude(
        &t.data(),
        &t.out(),
        &Questionnaire::default_2021(),
        &[swvr_ingest::Removal {
            country: "BOL".into(),
            wave: 2021,
            respondent_id: "BOL-000007".into(),
            reasons: vec!["fieldwork_speeder:duration_s=12".into()],
        }],
    )
    .unwrap();
    assert_eq!(removed, 1);
    let r = rejects(&t.out());
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].line, r[0].id.as_str()), (7, "BOL-000007"));
    // The raw record as ingest renders it: Stata's .d back to the DK code 8.
    let csv = std::fs::read_to_string(fixtures().join("respondents.csv")).unwrap();
    assert_eq!(r[0].raw, csv.lines().nth(7).unwrap());
    assert!(r[0].raw.contains(",8,"), "{}", r[0].raw);
}

/// SPSS files written by PSPP (another writer than pyreadstat: short names
/// with long-name records, its own compression) give the CSV's bytes.
#[test]
fn sav_and_zsav_written_by_pspp_give_the_csv_bundle_s_bytes() {
    if std::process::Command::new("pspp").arg("--version").output().is_err() {
        println!("SKIPPED: pspp not found");
        return;
    }
    let c = Temp::new();
    csv_bundle(&c, |i, _| i <= 20);
    run(&c).unwrap();
    let text = std::fs::read_to_string(c.data().join("respondents.csv")).unwrap();
    let vars: Vec<String> = text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(|n| {
            let f = match n {
                "country" => "A3",
                "respondent_id" => "A10",
                "frame" => "A1",
                "stratum" => "A20",
                "language" => "A2",
                _ => "F8.0",
            };
            format!("{n} {f}")
        })
        .collect();
    let work = Temp::new();
    std::fs::copy(c.data().join("respondents.csv"), work.0.join("small.csv")).unwrap();
    let syntax = format!(
        "GET DATA /TYPE=TXT /FILE='small.csv' /ARRANGEMENT=DELIMITED /DELCASE=LINE /FIRSTCASE=2 /DELIMITERS=\",\" /QUALIFIER='\"'\n /VARIABLES={}.\n\
         VALUE LABELS Q1 Q3A 1 'Yes' 2 'No' 8 \"Don't know\" 9 'Refused'.\n\
         MISSING VALUES Q1 Q3A (8, 9) age (998, 999).\n\
         SAVE OUTFILE='p.sav' /COMPRESSED.\nSAVE OUTFILE='p.zsav' /ZCOMPRESSED.\nSAVE OUTFILE='pu.sav' /UNCOMPRESSED.\n",
        vars.join(" ")
    );
    std::fs::write(work.0.join("t.sps"), syntax).unwrap();
    let out = std::process::Command::new("pspp")
        .arg("t.sps")
        .current_dir(&work.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    for (file, name) in [
        ("p.sav", "respondents.sav"),
        ("p.zsav", "respondents.zsav"),
        ("pu.sav", "respondents.sav"),
    ] {
        let s = Temp::new();
        std::fs::create_dir_all(s.data()).unwrap();
        std::fs::copy(work.0.join(file), s.data().join(name)).unwrap();
        for f in ["design.csv", "targets.csv"] {
            std::fs::copy(fixtures().join(f), s.data().join(f)).unwrap();
        }
        run(&s).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_same_outputs(&s, &c, file);
    }
}
