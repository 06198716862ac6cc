//! Integration tests of swvr-ingest: every rejection reason and routing rule
//! (rows.rs), every file-level error (files.rs), real-export formats
//! (formats.rs), the invariants (invariants.rs), and SPSS/Stata input
//! (statfiles.rs). Bundles are built in temporary folders; only
//! statfiles.rs reads fixtures/ (the pyreadstat-written files and the CSV
//! they were made from).
#![allow(missing_docs, clippy::unwrap_used)]

mod columnar;
mod files;
mod formats;
mod fuzz;
mod hostile;
mod invariants;
#[path = "../../../swvr-core/tests/mutate/mod.rs"]
mod mutate;
mod rows;
mod statfiles;
mod units;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_core::questionnaire::Questionnaire;
use swvr_ingest::{IngestError, IngestSummary, ingest};

/// A temporary folder, removed on drop.
pub struct Temp(pub PathBuf);

impl Temp {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "swvr-ingest-it-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub fn data(&self) -> PathBuf {
        self.0.join("data")
    }
    pub fn out(&self) -> PathBuf {
        self.0.join("out")
    }
}

impl Default for Temp {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub const DESIGN: &str = "country,wave,frame,frame_size,sample_size\n\
KEN,2021,M,1000000,1000\n\
SEN,2021,L,500000,300\n\
SEN,2021,M,900000,700\n";

pub const TARGETS: &str = "country,wave,variable,category,share\n\
KEN,2021,sex,1,0.5\n\
KEN,2021,sex,2,0.5\n\
SEN,2021,sex,1,0.49\n\
SEN,2021,sex,2,0.51\n";

/// The required columns of the 2021 questionnaire, in order.
pub fn columns() -> Vec<String> {
    swvr_core::schema::required_columns(&Questionnaire::default_2021())
}

pub fn header() -> String {
    columns().join(",")
}

/// A valid row, with `over` replacing some columns' values.
pub fn row(id: &str, over: &[(&str, &str)]) -> String {
    let defaults: &[(&str, &str)] = &[
        ("country", "KEN"),
        ("wave", "2021"),
        ("respondent_id", id),
        ("frame", "M"),
        ("stratum", "S1"),
        ("n_adults", "2"),
        ("n_landlines", ""),
        ("n_mobiles", "1"),
        ("sex", "1"),
        ("age", "30"),
        ("education", "2"),
        ("employment", "1"),
        ("urbanicity", "3"),
        ("Q1", "1"),
        ("Q2", ""),
        ("Q3A", "2"),
        ("Q3B", "2"),
        ("Q3C", "1"),
        ("Q4A", "1"),
        ("Q4B", "3"),
        ("Q4B_1", ""),
        ("Q5A", "2"),
        ("Q6", "3"),
        ("Q6A", ""),
        ("Q7", "1"),
        ("Q8A", "1"),
        ("Q8B", "2"),
        ("Q8C", "8"),
        ("Q8D", "9"),
        ("Q8E", "1"),
    ];
    columns()
        .iter()
        .map(|c| {
            over.iter()
                .find(|(k, _)| k == c)
                .or_else(|| defaults.iter().find(|(k, _)| k == c))
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| panic!("no default for {c}"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes a bundle (respondents text given whole) into `t`.
pub fn write_bundle(t: &Temp, respondents: &[u8], design: &str, targets: &str) {
    let d = t.data();
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("respondents.csv"), respondents).unwrap();
    std::fs::write(d.join("design.csv"), design).unwrap();
    std::fs::write(d.join("targets.csv"), targets).unwrap();
}

pub fn run(t: &Temp) -> Result<IngestSummary, IngestError> {
    run_sel(t, &Selection::default())
}

pub fn run_sel(t: &Temp, sel: &Selection) -> Result<IngestSummary, IngestError> {
    ingest(&t.data(), &t.out(), &Questionnaire::default_2021(), sel, &NoProgress)
}

/// One line of rejects.csv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub line: u64,
    pub id: String,
    pub reasons: String,
    pub raw: String,
}

pub fn rejects(out: &Path) -> Vec<Reject> {
    let mut r = csv::Reader::from_path(out.join("ingest/rejects.csv")).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["line", "respondent_id", "reasons", "raw"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Reject {
                line: rec[0].parse().unwrap(),
                id: rec[1].to_string(),
                reasons: rec[2].to_string(),
                raw: rec[3].to_string(),
            }
        })
        .collect()
}

pub fn validation(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("ingest/validation.json")).unwrap()).unwrap()
}

/// Ingests a bundle whose respondents.csv is the header, one valid row and
/// `text` (one or more rows), and returns the reasons of the rejected rows
/// (`""` for none), checking the counts reconcile.
pub fn check_text(text: &str, expected: &[&str]) {
    let t = Temp::new();
    let csv = format!("{}\n{}\n{}\n", header(), row("ok", &[]), text);
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    let s = run(&t).unwrap_or_else(|e| panic!("{text}: {e}"));
    let got: Vec<String> = rejects(&t.out()).into_iter().map(|r| r.reasons).collect();
    assert_eq!(got, expected, "input row: {text}");
    assert_eq!(s.rows_read, s.rows_accepted + s.rows_rejected);
    assert_eq!(s.rows_rejected as usize, expected.len());
}

/// One row differing from a valid one in `over`; `expected` its reasons
/// (`""` = accepted).
pub fn check(over: &[(&str, &str)], expected: &str) {
    let text = row("r2", over);
    if expected.is_empty() {
        check_text(&text, &[]);
    } else {
        check_text(&text, &[expected]);
    }
}
