//! Issue 14: property-based fuzzing (proptest) of the CSV reading of a
//! bundle: respondents.csv through the whole ingest stage (design.csv and
//! targets.csv through their readers: swvr-core's fuzz tests). Mutated files (bytes inserted,
//! removed, overwritten, sections repeated, the file cut short; quotes,
//! separators and line ends of every kind) give outputs whose counts
//! reconcile, or one error naming the file: never a panic.
//!
//! A short run is part of `cargo test`; a longer one (docs/fuzzing.md):
//! `SWVR_FUZZ_CASES=20000 cargo test --release -p swvr-ingest --test it fuzz`.

use proptest::prelude::*;

use crate::mutate::{apply, config, edits};
use crate::{DESIGN, TARGETS, Temp, header, rejects, row, run, validation, write_bundle};

/// What CSV is made of, and what breaks it.
const CSV_BYTES: &[u8] = b",,\"\"\r\n\n 0123456789KENSLM.;=-x\t";

/// Twelve valid rows of two countries, with an extra quoted column holding
/// a separator and escaped quotes.
fn base_respondents() -> Vec<u8> {
    let mut s = format!("{},language\n", header());
    for i in 0..12 {
        let country = if i % 3 == 0 { "SEN" } else { "KEN" };
        let sex = if i % 2 == 0 { "1" } else { "2" };
        s.push_str(&row(&format!("r{i}"), &[("country", country), ("sex", sex)]));
        s.push_str(&format!(",\"fr, \"\"{i}\"\"\"\n"));
    }
    s.into_bytes()
}

/// Physical lines of a file (LF, CRLF and lone CR each end one).
fn physical_lines(b: &[u8]) -> u64 {
    let mut n = 1;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || (b[i] == b'\r' && b.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
        i += 1;
    }
    n
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn respondents_csv_mutations_reconcile_or_are_named(e in edits(CSV_BYTES, 6)) {
        let base = base_respondents();
        let text = apply(&base, &e);
        let t = Temp::new();
        write_bundle(&t, &text, DESIGN, TARGETS);
        let path = t.data().join("respondents.csv");
        match run(&t) {
            Ok(s) => {
                prop_assert_eq!(s.rows_read, s.rows_accepted + s.rows_rejected);
                let rej = rejects(&t.out());
                prop_assert_eq!(rej.len() as u64, s.rows_rejected);
                let lines = physical_lines(&text);
                for r in &rej {
                    prop_assert!(r.line >= 2 && r.line <= lines, "line {} of {}", r.line, lines);
                }
                prop_assert_eq!(validation(&t.out())["rows_read"].as_u64(), Some(s.rows_read));
                let arrow = t.out().join("ingest/respondents.arrow");
                if arrow.exists() {
                    prop_assert_eq!(swvr_core::io::arrow_rows(&arrow).unwrap(), s.rows_accepted);
                } else {
                    prop_assert_eq!(s.rows_accepted, 0);
                }
            }
            Err(err) => {
                let msg = err.to_string();
                prop_assert!(msg.starts_with(&path.display().to_string()), "{msg}");
            }
        }
    }
}
