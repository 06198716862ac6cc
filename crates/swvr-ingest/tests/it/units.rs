//! The parallel pipeline cuts the input into units between records: the
//! outputs and errors must not depend on where it cuts nor on the number
//! of worker threads. Small inputs are cut at every record boundary and at
//! many alignments (crate::reader tests every unit size on the records alone).

use swvr_core::groups::Selection;
use swvr_core::questionnaire::Questionnaire;
use swvr_ingest::ingest_with_units;

use crate::{DESIGN, TARGETS, Temp, header, rejects, row, run, write_bundle};

/// The three outputs' bytes.
fn outputs(t: &Temp) -> [Vec<u8>; 3] {
    ["respondents.arrow", "rejects.csv", "validation.json"]
        .map(|f| std::fs::read(t.out().join("ingest").join(f)).unwrap())
}

/// Ingests `t`'s bundle into a fresh output folder with units of about
/// `unit` bytes and `workers` threads.
fn run_units(t: &Temp, unit: usize, workers: usize) -> Result<[Vec<u8>; 3], String> {
    let _ = std::fs::remove_dir_all(t.out());
    let q = Questionnaire::default_2021();
    ingest_with_units(&t.data(), &t.out(), &q, &Selection::default(), unit, workers)
        .map(|_| outputs(t))
        .map_err(|e| e.to_string())
}

/// A respondents.csv with a BOM, CRLF, LF and lone CR line ends, a blank
/// line, quoted fields spanning lines, doubled and mid-field quotes,
/// invalid UTF-8 (a character cut by a line break inside quotes),
/// duplicates of an accepted and of a rejected record, a short record and
/// no line break at the end.
fn tricky() -> Vec<u8> {
    let mut v = b"\xEF\xBB\xBF".to_vec();
    let mut add = |r: String, tail: &[u8]| {
        v.extend_from_slice(r.as_bytes());
        v.extend_from_slice(tail);
    };
    add(header(), b",note\r\n");
    add(row("a1", &[]), b",plain\r\n\r\n");
    add(row("a2", &[]), b",\"two\r\nlines\"\r\n");
    add(row("a1", &[]), b",dup of an accepted record\n");
    add(row("b1", &[("sex", "5")]), b",\"q\"\"uote\"\n");
    add(row("b1", &[]), b",dup of a rejected record\n");
    add(row("b2", &[("Q1", "7"), ("Q2", "1")]), b",mid\"quote\n");
    add(row("c1", &[]), b",\xC3\xA9 ok \xFF bad\r");
    add(row("c2", &[]), b",\"\xE2\x82\n\xAC\"\n");
    add("1,2,3".into(), b"\n");
    add(row("c3", &[("country", "SEN"), ("frame", "L")]), b",\"\"\n");
    add(row("c6", &[("frame", "L")]), b",x\n");
    add(row("c4", &[("Q3A", "")]), b",\n");
    add(row("c5", &[]), b",last");
    v
}

#[test]
fn outputs_do_not_depend_on_where_units_are_cut_nor_on_threads() {
    let t = Temp::new();
    let data = tricky();
    write_bundle(&t, &data, DESIGN, TARGETS);
    run(&t).unwrap();
    let want = outputs(&t);
    // The reference itself: lines of the rejects and their reasons.
    let got: Vec<(u64, String)> = rejects(&t.out()).into_iter().map(|r| (r.line, r.reasons)).collect();
    assert_eq!(
        got,
        [
            (6, "duplicate_id".to_string()),
            (7, "out_of_range:sex=5".into()),
            (8, "duplicate_id".into()),
            (9, "out_of_range:Q1=7".into()),
            (10, "invalid_utf8:note".into()),
            (11, "invalid_utf8:note".into()),
            (13, "field_count:expected=31,found=3".into()),
            (15, "frame_not_in_design".into()),
            (16, "routing:Q3A_blank_when_asked".into()),
        ]
    );
    // Units shorter than a record hold one record each (a cut at every
    // record boundary); longer ones cut at other alignments (each run
    // writes and syncs three files: sizes past 120 are sampled).
    let sizes = (1..=120).chain((121..=data.len() + 1).step_by(11));
    for unit in sizes {
        let workers = 1 + unit % 2;
        let got = run_units(&t, unit, workers).unwrap();
        for (i, name) in ["respondents.arrow", "rejects.csv", "validation.json"]
            .iter()
            .enumerate()
        {
            assert!(
                got[i] == want[i],
                "{name} differs with units of {unit} bytes, {workers} workers"
            );
        }
    }
}

#[test]
fn errors_name_the_same_line_wherever_units_are_cut() {
    let t = Temp::new();
    // A (country, wave) missing from design.csv, after lines spanning records.
    let mut data = tricky();
    data.extend_from_slice(b"\n");
    data.extend_from_slice(row("g1", &[("country", "GHA")]).as_bytes());
    data.extend_from_slice(b",x\n");
    data.extend_from_slice(row("g2", &[("country", "GHA")]).as_bytes());
    data.extend_from_slice(b",x\n");
    write_bundle(&t, &data, DESIGN, TARGETS);
    let want = run(&t).unwrap_err().to_string();
    assert!(want.contains("respondents.csv: line 18"), "{want}");
    for unit in (1..=data.len() + 1).step_by(13) {
        assert_eq!(run_units(&t, unit, 2).unwrap_err(), want, "units of {unit} bytes");
    }
    // A record over the header width limit.
    let mut data = tricky();
    data.extend_from_slice(b"\n\"x\ny\"");
    data.extend_from_slice(",".repeat(swvr_core::limits::MAX_COLUMNS).as_bytes());
    data.extend_from_slice(b"\n");
    write_bundle(&t, &data, DESIGN, TARGETS);
    let want = run(&t).unwrap_err().to_string();
    assert!(want.contains("respondents.csv: line 18: 10001 fields"), "{want}");
    for unit in (1..=data.len() + 1).step_by(997) {
        assert_eq!(run_units(&t, unit, 2).unwrap_err(), want, "units of {unit} bytes");
    }
}

#[test]
fn statistical_files_give_the_same_bytes_in_units_of_one_record() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    for (file, name) in [("bad.sav", "respondents.sav"), ("small_118.dta", "respondents.dta")] {
        let t = Temp::new();
        std::fs::create_dir_all(t.data()).unwrap();
        std::fs::copy(fixtures.join("statfile").join(file), t.data().join(name)).unwrap();
        for f in ["design.csv", "targets.csv"] {
            std::fs::copy(fixtures.join(f), t.data().join(f)).unwrap();
        }
        run(&t).unwrap();
        let want = outputs(&t);
        for workers in [1, 2, 3] {
            assert!(run_units(&t, 1, workers).unwrap() == want, "{file}, {workers} workers");
        }
    }
}
