//! swvr-statfile against files written by pyreadstat (ReadStat) from the
//! fixture bundle's respondents.csv (`scripts/statfile_fixtures.py`): the
//! values read equal the CSV's, in every format; truncated and damaged
//! files give errors naming the file and offset, never a panic.
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use swvr_statfile::{Format, Kind, LabelKey, Reader, Record, StatError, Value};
use swvr_test_support::TempDir;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn statfile(name: &str) -> PathBuf {
    fixtures().join("statfile").join(name)
}

/// Every record as text, numbers as integers when integral (the CSV's form).
fn read_all(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), StatError> {
    records(Reader::open(path)?)
}

fn records(mut r: Reader) -> Result<(Vec<String>, Vec<Vec<String>>), StatError> {
    let names = r.variables().iter().map(|v| v.name.clone()).collect();
    let mut rec = Record::default();
    let mut rows = Vec::new();
    while r.next_record(&mut rec)? {
        assert_eq!(rec.number(), rows.len() as u64 + 1);
        rows.push(
            (0..rec.len())
                .map(|i| match rec.get(i) {
                    Value::Num(x) if x.fract() == 0.0 => format!("{}", x as i64),
                    Value::Num(x) => format!("{x}"),
                    Value::Sys => String::new(),
                    Value::Ext(c) => format!(".{}", c as char),
                    Value::Text(t) => String::from_utf8_lossy(t).into_owned(),
                })
                .collect(),
        );
    }
    Ok((names, rows))
}

fn csv_rows(n: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(fixtures().join("respondents.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(str::to_string).collect();
    let rows = lines
        .take(n)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// The CSV's rows with DK/refused as Stata writes them (`.d`, `.r`).
fn as_stata(names: &[String], rows: &[Vec<String>]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(names)
                .map(|(v, n)| {
                    let coded =
                        n.starts_with('Q') || ["sex", "education", "employment", "urbanicity"].contains(&n.as_str());
                    match v.as_str() {
                        "8" if coded => ".d".into(),
                        "9" if coded => ".r".into(),
                        "998" if n == "age" => ".d".into(),
                        "999" if n == "age" => ".r".into(),
                        _ => v.clone(),
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_format_reads_the_values_pyreadstat_wrote() {
    let (names, rows) = csv_rows(20);
    for (file, format) in [
        ("small.sav", Format::Sav),
        ("small.zsav", Format::Zsav),
        ("small_117.dta", Format::Dta(117)),
        ("small_118.dta", Format::Dta(118)),
        ("small_119.dta", Format::Dta(119)),
    ] {
        let r = Reader::open(&statfile(file)).unwrap();
        assert_eq!(r.format(), format, "{file}");
        assert_eq!(r.records(), Some(20), "{file}");
        let (got_names, got) = read_all(&statfile(file)).unwrap();
        assert_eq!(got_names, names, "{file}");
        let want = if file.ends_with(".dta") {
            as_stata(&names, &rows)
        } else {
            rows.clone()
        };
        assert_eq!(got, want, "{file}");
    }
    // The whole fixture (8000 rows) in the zlib format, over many blocks.
    let (_, all) = csv_rows(usize::MAX);
    assert_eq!(read_all(&statfile("respondents.zsav")).unwrap().1, all);
}

#[test]
fn dictionaries_carry_labels_and_missing_values() {
    let r = Reader::open(&statfile("small.sav")).unwrap();
    let q1 = r.variables().iter().find(|v| v.name == "Q1").unwrap();
    assert_eq!(q1.kind, Kind::Numeric);
    assert!(q1.label.starts_with("Volunteering means"), "{}", q1.label);
    assert_eq!(q1.value_labels[0], (LabelKey::Num(1.0), "Yes".to_string()));
    assert_eq!(q1.value_labels[2], (LabelKey::Num(8.0), "Don't know".to_string()));
    assert_eq!(q1.missing.values, vec![8.0, 9.0]);
    assert!(q1.missing.contains(9.0) && !q1.missing.contains(1.0));
    let country = &r.variables()[0];
    assert_eq!((country.name.as_str(), country.kind), ("country", Kind::Text));

    let d = Reader::open(&statfile("small_118.dta")).unwrap();
    let q1 = d.variables().iter().find(|v| v.name == "Q1").unwrap();
    assert_eq!(
        q1.value_labels,
        vec![(LabelKey::Num(1.0), "Yes".into()), (LabelKey::Num(2.0), "No".into())]
    );
    // Stata 117 labels are cut to 80 characters, like 118's.
    let d = Reader::open(&statfile("small_117.dta")).unwrap();
    assert_eq!(d.variables()[9].name, "age");
    assert_eq!(d.variables()[9].label, "Age in completed years.");
}

/// Reads `bytes` whole (named `scratch` in messages).
fn read_bytes(scratch: &Path, bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>), StatError> {
    records(Reader::from_bytes(bytes.to_vec(), scratch)?)
}

/// A file path inside a temporary folder that is removed when the test
/// ends (also when it fails).
fn scratch(name: &str) -> TempDir {
    TempDir::new("statfile", name).into_sub(name)
}

#[test]
fn truncation_at_every_offset_is_an_error_naming_file_and_offset() {
    for file in [
        "small.sav",
        "small.zsav",
        "small_117.dta",
        "small_118.dta",
        "small_119.dta",
        "bad.sav",
    ] {
        let full = std::fs::read(statfile(file)).unwrap();
        let whole = read_all(&statfile(file)).unwrap();
        let path = scratch(file);
        let mut errors = 0;
        for cut in 0..full.len() {
            match read_bytes(&path, &full[..cut]) {
                Err(StatError::Format { file: f, where_, what }) => {
                    assert_eq!(f, *path);
                    assert!(
                        where_.starts_with("byte ") || where_.starts_with("record "),
                        "{file} cut at {cut}: {where_}"
                    );
                    assert!(!what.is_empty());
                    errors += 1;
                }
                Err(e) => panic!("{file} cut at {cut}: {e}"),
                // A cut that loses nothing the reader needs (padding after the data) reads the same.
                Ok(got) => assert_eq!(got, whole, "{file} cut at {cut} read without error but differs"),
            }
        }
        assert!(
            errors + 16 >= full.len(),
            "{file}: only {errors} of {} truncations are errors",
            full.len()
        );
    }
}

#[test]
fn damaged_bytes_at_every_offset_never_panic() {
    for file in ["small.sav", "small.zsav", "small_118.dta", "small_119.dta"] {
        let full = std::fs::read(statfile(file)).unwrap();
        let path = scratch(&format!("damaged-{file}"));
        for at in 0..full.len() {
            let mut b = full.clone();
            b[at] ^= 0xFF;
            // An error or a (changed) read; what matters is no panic.
            let _ = read_bytes(&path, &b);
        }
    }
}

#[test]
fn other_files_are_refused_with_what_they_start_with() {
    let path = scratch("notstat.sav");
    std::fs::write(&path, b"country,wave\nKEN,2021\n").unwrap();
    let e = Reader::open(&path).err().unwrap().to_string();
    assert_eq!(
        e,
        format!(
            "{}: byte 0: the file starts with `country,wav`; expected an SPSS system file (`$FL2`, `$FL3`) or a Stata 13-19 file (`<stata_dta>`; older .dta formats are not read: save it again with Stata 13 or later)",
            path.display()
        )
    );
    std::fs::write(&path, b"").unwrap();
    assert!(
        Reader::open(&path)
            .err()
            .unwrap()
            .to_string()
            .contains("the file starts with nothing (an empty file)")
    );
    std::fs::write(&path, b"<stata_dta><header><release>116</release>").unwrap();
    assert_eq!(
        Reader::open(&path).err().unwrap().to_string(),
        format!(
            "{}: byte 28: release `116`; expected 117, 118 or 119 (Stata 13-19): save the file again with `saveold, version(13)` or later",
            path.display()
        )
    );
    let mut sav = std::fs::read(statfile("small.sav")).unwrap();
    sav.truncate(300);
    std::fs::write(&path, &sav).unwrap();
    let e = read_all(&path).err().unwrap().to_string();
    assert!(
        e.starts_with(&format!("{}: byte ", path.display())) && e.contains("it is truncated or damaged"),
        "{e}"
    );
}

#[test]
fn a_short_data_section_names_the_record() {
    // The header says 20 cases; the data stop after 19 (at a case boundary).
    let full = std::fs::read(statfile("small.sav")).unwrap();
    let path = scratch("short.sav");
    // Uncompressed: the last case is the file's last 8 × slots bytes (32
    // variables; respondent_id and stratum take two 8-byte slots each).
    let slots = 34;
    std::fs::write(&path, &full[..full.len() - 8 * slots]).unwrap();
    let e = read_all(&path).err().unwrap().to_string();
    assert_eq!(
        e,
        format!(
            "{}: record 20 (byte {}): the data end after 19 records; the file header says 20: the file is truncated or damaged",
            path.display(),
            full.len() - 8 * slots
        )
    );
}
