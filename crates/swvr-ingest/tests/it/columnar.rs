//! The column-wise fast path of units without quotes (src/columnar.rs)
//! against the row-wise validation alone (`ingest_row_wise`): the same
//! bytes in the three outputs and the same errors, for every kind of
//! defect, blank lines, CRLF, lone CR, a BOM, a last line without a line
//! break, a record over a limit, units of every record count, and
//! random mutations of a quote-free file.

use proptest::prelude::*;
use swvr_core::groups::Selection;
use swvr_core::limits::{MAX_FIELD_BYTES, MAX_RECORD_BYTES};
use swvr_core::questionnaire::Questionnaire;
use swvr_ingest::{ingest_row_wise, ingest_with_record_units};

use crate::mutate::{apply, config, edits};
use crate::{DESIGN, TARGETS, Temp, header, rejects, row, write_bundle};

/// The three outputs' bytes.
fn outputs(t: &Temp) -> [Vec<u8>; 3] {
    ["respondents.arrow", "rejects.csv", "validation.json"]
        .map(|f| std::fs::read(t.out().join("ingest").join(f)).unwrap_or_default())
}

fn row_wise(t: &Temp) -> Result<[Vec<u8>; 3], String> {
    let _ = std::fs::remove_dir_all(t.out());
    let q = Questionnaire::default_2021();
    ingest_row_wise(&t.data(), &t.out(), &q, &Selection::default(), 1 << 20)
        .map(|_| outputs(t))
        .map_err(|e| e.to_string())
}

fn columnar(t: &Temp, records: usize, workers: usize) -> Result<[Vec<u8>; 3], String> {
    let _ = std::fs::remove_dir_all(t.out());
    let q = Questionnaire::default_2021();
    ingest_with_record_units(&t.data(), &t.out(), &q, &Selection::default(), records, workers)
        .map(|_| outputs(t))
        .map_err(|e| e.to_string())
}

/// A quote-free respondents.csv (with a BOM, an extra column) holding
/// every kind of defect the checks know, values the fast path leaves to
/// the row-wise check (spaces, tabs, signs, leading zeros), blank lines,
/// CRLF and lone CR line ends, invalid UTF-8, duplicates, records with too
/// few and too many fields, and a last line without a line break.
fn defects() -> Vec<u8> {
    let mut v = b"\xEF\xBB\xBF".to_vec();
    v.extend_from_slice(header().as_bytes());
    v.extend_from_slice(b",note\r\n");
    let overs: &[&[(&str, &str)]] = &[
        &[],
        &[("sex", "5")],
        &[("sex", "")],
        &[("sex", "x")],
        &[("sex", " 2")],
        &[("sex", "2\t")],
        &[("age", "14")],
        &[("age", "998")],
        &[("age", " 30 ")],
        &[("age", "030")],
        &[("age", "+30")],
        &[("age", "121")],
        &[("age", "-5")],
        &[("Q1", "7")],
        &[("Q1", "01")],
        &[("Q1", " ")],
        &[("Q1", "2"), ("Q2", "1")],
        &[("Q1", "1"), ("Q2", "1")],
        &[("Q1", "2"), ("Q2", "")],
        &[("Q3A", "")],
        &[("Q3A", "1.0")],
        &[("Q4A", "2"), ("Q4B_1", "1")],
        &[("Q4A", "2"), ("Q4B_1", "")],
        &[("Q4A", "1"), ("Q4B_1", "2")],
        &[("Q4A", ""), ("Q4B", "1")],
        &[("Q6", "4"), ("Q6A", "1")],
        &[("Q6", "1"), ("Q6A", "1")],
        &[("Q8E", "99")],
        &[("country", "ken")],
        &[("country", "")],
        &[("country", " KEN ")],
        &[("wave", "21")],
        &[("wave", "2021.0")],
        &[("wave", " 2021")],
        &[("wave", "")],
        &[("frame", "X")],
        &[("frame", "L")],
        &[("frame", "")],
        &[("respondent_id", "")],
        &[("respondent_id", " ")],
        &[("stratum", "")],
        &[("n_adults", "0")],
        &[("n_adults", "-1")],
        &[("n_adults", "1 ")],
        &[("n_landlines", "99999999999")],
        &[("n_mobiles", "2147483647")],
        &[("n_mobiles", "x")],
        &[("country", "SEN"), ("frame", "L")],
        &[("country", "SEN"), ("frame", "M"), ("sex", "9")],
    ];
    for (i, over) in overs.iter().enumerate() {
        v.extend_from_slice(row(&format!("r{i}"), over).as_bytes());
        v.extend_from_slice(match i % 5 {
            0 => b",a\r\n".as_slice(),
            1 => b",\n\n",
            2 => b",b c\r",
            3 => b",\xC3\xA9\n",
            _ => b",\xFF\n",
        });
    }
    // An id that is not UTF-8; a stratum that is not UTF-8.
    v.extend_from_slice(
        row("\u{1}", &[("stratum", "S\u{2}")])
            .replace('\u{1}', "\u{0}")
            .as_bytes(),
    );
    v.extend_from_slice(b",x\n");
    let bad_id = row("BADID", &[]).replace("BADID", "id\u{3}");
    v.extend_from_slice(
        &bad_id
            .as_bytes()
            .iter()
            .map(|&b| if b == 3 { 0xFE } else { b })
            .collect::<Vec<_>>(),
    );
    v.extend_from_slice(b",x\n");
    // Duplicates of an accepted and of a rejected record.
    v.extend_from_slice(row("r0", &[]).as_bytes());
    v.extend_from_slice(b",dup\n");
    v.extend_from_slice(row("r1", &[]).as_bytes());
    v.extend_from_slice(b",dup\n\r\n");
    // Too few and too many fields.
    v.extend_from_slice(b"1,2,3\n");
    v.extend_from_slice(row("long", &[]).as_bytes());
    v.extend_from_slice(b",x,y,z\n,,,\n");
    // The last line without a line break.
    v.extend_from_slice(row("last", &[]).as_bytes());
    v.extend_from_slice(b",end");
    v
}

#[test]
fn the_fast_path_gives_the_bytes_of_the_row_wise_check_in_units_of_every_record_count() {
    let t = Temp::new();
    let data = defects();
    assert!(!data.contains(&b'"'));
    write_bundle(&t, &data, DESIGN, TARGETS);
    let want = row_wise(&t).unwrap();
    // The reference has rejects of every kind and accepted rows.
    let rej = rejects(&t.out());
    assert!(rej.len() > 40, "{}", rej.len());
    for kind in [
        "field_count",
        "blank:",
        "invalid:",
        "not_integer",
        "out_of_range",
        "routing:",
        "invalid_utf8",
        "frame_not_in_design",
        "duplicate_id",
    ] {
        assert!(rej.iter().any(|r| r.reasons.contains(kind)), "no {kind}");
    }
    let records = data
        .split(|&b| b == b'\n' || b == b'\r')
        .filter(|l| !l.is_empty())
        .count();
    for n in 1..=records + 1 {
        let workers = 1 + n % 2;
        let got = columnar(&t, n, workers).unwrap();
        for (i, name) in ["respondents.arrow", "rejects.csv", "validation.json"]
            .iter()
            .enumerate()
        {
            assert!(
                got[i] == want[i],
                "{name} differs in units of {n} records, {workers} workers"
            );
        }
    }
    // The default units (one unit here).
    assert!(columnar(&t, 1 << 16, 2).unwrap() == want);
}

#[test]
fn units_with_quotes_fall_back_to_the_row_wise_path_with_the_same_bytes() {
    // Quotes in some records only: units of a few records take both paths.
    let t = Temp::new();
    let mut data = defects();
    data.extend_from_slice(b"\n");
    for i in 0..6 {
        data.extend_from_slice(row(&format!("q{i}"), &[]).as_bytes());
        data.extend_from_slice(if i % 2 == 0 {
            b",\"a,\"\"b\"\"\r\nc\"\n".as_slice()
        } else {
            b",plain\n"
        });
    }
    write_bundle(&t, &data, DESIGN, TARGETS);
    let want = row_wise(&t).unwrap();
    for n in [1, 2, 3, 5, 8, 13, 1 << 16] {
        assert!(columnar(&t, n, 2).unwrap() == want, "units of {n} records");
    }
}

#[test]
fn errors_are_the_row_wise_errors_at_the_same_line() {
    let t = Temp::new();
    // A (country, wave) missing from design.csv after defects.
    let mut data = defects();
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(row("g1", &[("country", "GHA")]).as_bytes());
    data.extend_from_slice(b",x\n");
    write_bundle(&t, &data, DESIGN, TARGETS);
    let want = row_wise(&t).unwrap_err();
    assert!(want.contains("GHA"), "{want}");
    for n in [1, 7, 1 << 16] {
        assert_eq!(columnar(&t, n, 2).unwrap_err(), want, "units of {n} records");
    }
    // A record one byte over the record-length limit, after a record of
    // exactly the limit (both quote-free; the first is read and rejected
    // for its field count, the second is the error).
    let mut data = defects();
    data.extend_from_slice(b"\n");
    let field = "y".repeat(MAX_FIELD_BYTES - 1);
    let at = vec![field; 16].join(",") + "y";
    assert_eq!(at.len(), MAX_RECORD_BYTES);
    data.extend_from_slice(at.as_bytes());
    data.extend_from_slice(b"\r\n\n");
    data.extend_from_slice(at.as_bytes());
    data.extend_from_slice(b"z\n");
    write_bundle(&t, &data, DESIGN, TARGETS);
    let want = row_wise(&t).unwrap_err();
    let lines = data.iter().filter(|&&b| b == b'\n').count() + data.iter().filter(|&&b| b == b'\r').count()
        - data.windows(2).filter(|w| w == b"\r\n").count();
    assert!(
        want.ends_with(&format!(
            "respondents.csv: line {}: a record longer than 16 MiB; expected at most that much (swvr's limit on record length; is the file CSV with line breaks?)",
            lines
        )),
        "{want}"
    );
    for n in [1, 1 << 16] {
        assert_eq!(columnar(&t, n, 2).unwrap_err(), want, "units of {n} records");
    }
}

/// Twelve valid rows of two countries with an extra column, no quotes.
fn base() -> Vec<u8> {
    let mut s = format!("{},language\n", header());
    for i in 0..12 {
        let country = if i % 3 == 0 { "SEN" } else { "KEN" };
        let sex = if i % 2 == 0 { "1" } else { "2" };
        s.push_str(&row(&format!("r{i}"), &[("country", country), ("sex", sex)]));
        s.push_str(if i % 4 == 0 { ",fr\r\n" } else { ",en\n" });
    }
    s.into_bytes()
}

/// What quote-free CSV is made of, and what breaks it.
const BYTES: &[u8] = b",,\r\n\n 0123456789KENSLM.;=-x\t\xC3";

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn mutated_quote_free_files_give_the_row_wise_outputs(e in edits(BYTES, 8)) {
        let text = apply(&base(), &e);
        let t = Temp::new();
        write_bundle(&t, &text, DESIGN, TARGETS);
        let want = row_wise(&t);
        for n in [1, 5, 1 << 16] {
            let got = columnar(&t, n, 2);
            prop_assert!(got == want, "units of {} records: {:?} vs {:?}", n, got.as_ref().err(), want.as_ref().err());
        }
    }
}
