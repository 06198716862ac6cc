//! calls.csv: rejects with reasons, rates per frame and combined, e options,
//! reconciliation with and without partials.

use swvr_core::groups::Selection;
use swvr_fieldwork::calls::{Reconciliation, rate_rows, read_calls};
use swvr_fieldwork::options::{EMethod, Options};
use swvr_test_support::TempDir;

/// A file in its own temporary folder, removed when the test ends (also
/// when it fails: the guard drops while the panic unwinds).
fn file(name: &str, text: &str) -> TempDir {
    let p = TempDir::new("fw-calls", name).into_sub(name);
    std::fs::write(&p, text).unwrap();
    p
}

const HEADER: &str = "country,wave,frame,number_id,disposition,respondent_id\n";

#[test]
fn bad_rows_are_rejects_with_reasons() {
    let p = file(
        "rejects.csv",
        &format!(
            "{HEADER}KEN,2021,M,1,1.1,KEN-1\nKEN,2021,M,2,3.13,\nKEN,2021,X,3,3.13,\nkEN,2021,M,4,2.11,\n\
             KEN,2021,M,5,9.9,\nKEN,2021,M,2,4.31,\nKEN,2021,M,6,2.11,KEN-7\nKEN,20x1,M,7,1.1,\nKEN,2021,M,8,1.2,KEN-8\n"
        ),
    );
    let c = read_calls(&p, &Selection::default(), &Options::default()).unwrap();
    let got: Vec<(u64, &str)> = c.rejects.iter().map(|r| (r.line, r.reasons.as_str())).collect();
    assert_eq!(
        got,
        [
            (4, "invalid:frame=X"),
            (5, "invalid:country=kEN"),
            (6, "unknown_disposition:disposition=9.9"),
            (7, "duplicate_number_id"),
            (8, "respondent_id_without_interview"),
            (9, "invalid:wave=20x1"),
        ]
    );
    assert_eq!(c.rejects[2].raw, "KEN,2021,M,5,9.9,");
    assert_eq!(c.rows_read, 9);
    let k = &c.counts[&("KEN".to_string(), 2021, "M".to_string())];
    assert_eq!((k.i, k.p, k.uh), (1.0, 1.0, 1.0));
}

#[test]
fn file_level_errors_name_the_file_and_line() {
    let p = file("empty.csv", "");
    let e = read_calls(&p, &Selection::default(), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("empty.csv: line 1: empty file: expected a header row"),
        "{e}"
    );
    let p = file("header.csv", HEADER);
    let e = read_calls(&p, &Selection::default(), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("header.csv: line 1: header row and no data rows"), "{e}");
    let p = file(
        "twice.csv",
        "country,wave,frame,number_id,disposition,respondent_id,frame\n",
    );
    let e = read_calls(&p, &Selection::default(), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("column `frame` appears more than once"), "{e}");
}

fn value(rows: &[swvr_fieldwork::RateRow], frame: &str, measure: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.frame == frame && r.measure == measure)
        .and_then(|r| r.value)
}

#[test]
fn fixed_e_proportional_e_and_a_frame_without_unknowns() {
    // L: I=2, R=1, NE=1, no unknowns. M: I=1, NC=1, UH=2, NE=2.
    let p = file(
        "frames.csv",
        &format!(
            "{HEADER}SEN,2021,L,1,1.1,a\nSEN,2021,L,2,1.1,b\nSEN,2021,L,3,2.111,\nSEN,2021,L,4,4.20,\n\
             SEN,2021,M,1,1.1,c\nSEN,2021,M,2,2.21,\nSEN,2021,M,3,3.13,\nSEN,2021,M,4,3.11,\nSEN,2021,M,5,4.31,\nSEN,2021,M,6,4.51,\n"
        ),
    );
    let sel = Selection::default();
    let c = read_calls(&p, &sel, &Options::default()).unwrap();
    let r = rate_rows(&c, &Options::default());
    // L: e = 3/4 reported, but no unknowns: RR3 = RR5 = 2/3.
    assert_eq!(value(&r, "L", "e"), Some(0.75));
    assert_eq!(value(&r, "L", "RR3"), Some(2.0 / 3.0));
    assert_eq!(value(&r, "L", "RR1"), Some(2.0 / 3.0));
    // M: e = 2/4, RR3 = 1/(2 + 1).
    assert_eq!(value(&r, "M", "e"), Some(0.5));
    assert_eq!(value(&r, "M", "RR3"), Some(1.0 / 3.0));
    // all: 3/(5 + 1) with eU = 0 + 1; effective e = 1/2.
    assert_eq!(value(&r, "all", "RR3"), Some(0.5));
    assert_eq!(value(&r, "all", "e"), Some(0.5));
    for e in [0.0, 1.0] {
        let o = Options {
            e: EMethod::Fixed(e),
            ..Options::default()
        };
        let r = rate_rows(&c, &o);
        assert_eq!(value(&r, "M", "e"), Some(e));
        assert_eq!(value(&r, "M", "RR3"), Some(1.0 / (2.0 + 2.0 * e)));
        assert_eq!(value(&r, "M", "REF2"), Some(0.0));
        assert_eq!(value(&r, "all", "RR3"), Some(3.0 / (5.0 + 2.0 * e)));
    }
}

#[test]
fn an_unresolved_frame_has_no_proportional_e() {
    let p = file(
        "unresolved.csv",
        &format!("{HEADER}UZB,2021,M,1,3.13,\nUZB,2021,M,2,3.12,\n"),
    );
    let c = read_calls(&p, &Selection::default(), &Options::default()).unwrap();
    let r = rate_rows(&c, &Options::default());
    assert_eq!(value(&r, "M", "e"), None);
    assert_eq!(value(&r, "M", "RR3"), None);
    assert_eq!(value(&r, "M", "RR1"), Some(0.0));
}

#[test]
fn reconciliation_with_and_without_partials() {
    let p = file(
        "recon.csv",
        &format!("{HEADER}BOL,2021,M,1,1.1,a\nBOL,2021,M,2,1.2,b\nBOL,2021,M,3,1.1,\nBOL,2021,M,4,1.1,a\n"),
    );
    // Respondents in any order: a country-wave's rows need not be adjacent.
    let resp = [("BOL", "a"), ("IND", "x"), ("BOL", "c")];
    let issues = |o: &Options| -> Vec<(String, String, String)> {
        let c = read_calls(&p, &Selection::default(), o).unwrap();
        let mut r = Reconciliation::new(&c);
        for (country, id) in resp {
            r.respondent(country, 2021, id);
        }
        r.finish()
            .into_iter()
            .map(|m| (m.respondent_id, m.issue, m.detail))
            .collect()
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        issues(&Options::default()),
        [
            s("", "interview_without_respondent_id", "calls.csv line 4"),
            s("a", "interview_listed_twice", "calls.csv line 5"),
            s(
                "c",
                "respondent_not_in_calls",
                "accepted respondent without an interview disposition"
            ),
            s("", "no_calls_for_country_wave", "1 accepted respondents"),
        ]
    );
    let with = Options {
        partials_in_data: true,
        ..Options::default()
    };
    assert!(issues(&with).contains(&s(
        "b",
        "interview_not_in_respondents",
        "calls.csv line 3, disposition 1.2"
    )));
}
