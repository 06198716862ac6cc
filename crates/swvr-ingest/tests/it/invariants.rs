//! Reconciliation, selection, determinism.

use swvr_core::groups::Selection;

use crate::{DESIGN, TARGETS, Temp, header, rejects, row, run, run_sel, validation, write_bundle};

fn mixed() -> String {
    let mut s = format!("{}\n", header());
    for i in 0..300 {
        let id = format!("r{i}");
        let over: Vec<(&str, &str)> = match i % 7 {
            0 => vec![("sex", "5")],
            1 => vec![("country", "SEN")],
            2 => vec![("country", "SEN"), ("frame", "L"), ("Q1", "2")],
            3 => vec![("country", "sen"), ("Q3A", "")],
            4 => vec![("Q6", "4")],
            _ => vec![],
        };
        let line = if i % 50 == 49 {
            row("r0", &over)
        } else {
            row(&id, &over)
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

#[test]
fn counts_reconcile() {
    let t = Temp::new();
    write_bundle(&t, mixed().as_bytes(), DESIGN, TARGETS);
    let s = run(&t).unwrap();
    let v = validation(&t.out());
    let n = |k: &str| v[k].as_u64().unwrap();
    assert_eq!(n("rows_read"), 300);
    assert_eq!(n("rows_read"), n("rows_accepted") + n("rows_rejected"));
    assert_eq!(n("rows_rejected") as usize, rejects(&t.out()).len());
    let b = swvr_core::io::read_arrow(&t.out().join("ingest/respondents.arrow")).unwrap();
    assert_eq!(b.num_rows() as u64, n("rows_accepted"));
    let by = v["by_country"].as_object().unwrap();
    let total = |k: &str| by.values().map(|c| c[k].as_u64().unwrap()).sum::<u64>();
    for k in ["rows_read", "rows_accepted", "rows_rejected"] {
        assert_eq!(total(k), n(k), "{k}");
    }
    for c in by.values() {
        assert_eq!(
            c["rows_read"],
            c["rows_accepted"].as_u64().unwrap() + c["rows_rejected"].as_u64().unwrap()
        );
    }
    assert!(by.contains_key("(invalid)"));
    let rows_by = v["rejected_rows_by_reason"].as_object().unwrap();
    assert!(rows_by.values().all(|c| c.as_u64().unwrap() <= n("rows_rejected")));
    // r0 repeated: twice more in KEN, once in SEN (the first SEN r0 is kept).
    assert_eq!(v["reasons"]["duplicate_id"], 4);
    assert_eq!(v["reasons_by_column"]["out_of_range:sex"], 43);
    assert_eq!(s.rows_accepted, n("rows_accepted"));
    assert_eq!(s.by_country["KEN"].0, by["KEN"]["rows_accepted"].as_u64().unwrap());
}

#[test]
fn output_is_deterministic() {
    let a = Temp::new();
    let b = Temp::new();
    for t in [&a, &b] {
        write_bundle(t, mixed().as_bytes(), DESIGN, TARGETS);
        run(t).unwrap();
    }
    for f in ["respondents.arrow", "rejects.csv", "validation.json"] {
        let x = std::fs::read(a.out().join("ingest").join(f)).unwrap();
        let y = std::fs::read(b.out().join("ingest").join(f)).unwrap();
        assert!(x == y, "{f} differs");
    }
    // A second run into the same OUT replaces the files and leaves no temp files.
    run(&a).unwrap();
    let names: Vec<_> = std::fs::read_dir(a.out().join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn selection_skips_rows_and_counts_them_apart() {
    let t = Temp::new();
    write_bundle(&t, mixed().as_bytes(), DESIGN, TARGETS);
    let sel = Selection::new(vec!["SEN".into()], vec![]).unwrap();
    let s = run_sel(&t, &sel).unwrap();
    let v = validation(&t.out());
    assert_eq!(s.rows_read + s.rows_outside_selection, 300);
    assert_eq!(v["rows_outside_selection"].as_u64().unwrap(), s.rows_outside_selection);
    assert_eq!(s.by_country.keys().collect::<Vec<_>>(), ["SEN"]);
    assert_eq!(v["selection"]["countries"][0], "SEN");
    // Rows outside the selection are not checked against design.csv.
    let r = format!("{}\n{}\n{}\n", header(), row("a", &[]), row("b", &[("country", "UGA")]));
    write_bundle(&t, r.as_bytes(), DESIGN, TARGETS);
    let sel = Selection::new(vec![], vec![2021]).unwrap();
    assert!(run_sel(&t, &sel).is_err());
    let sel = Selection::new(vec!["KEN".into()], vec![2021]).unwrap();
    let s = run_sel(&t, &sel).unwrap();
    assert_eq!((s.rows_read, s.rows_outside_selection), (1, 1));
}

#[test]
fn rows_are_written_in_input_order_across_batches() {
    let t = Temp::new();
    let n = swvr_ingest::BATCH_ROWS + 10;
    let mut s = format!("{}\n", header());
    for i in 0..n {
        s.push_str(&row(&format!("{i}"), &[]));
        s.push('\n');
    }
    write_bundle(&t, s.as_bytes(), DESIGN, TARGETS);
    assert_eq!(run(&t).unwrap().rows_accepted as usize, n);
    let b = swvr_core::io::read_arrow(&t.out().join("ingest/respondents.arrow")).unwrap();
    let id = swvr_core::io::column::<arrow_array::StringArray>(&b, "respondent_id", "x".as_ref()).unwrap();
    assert!((0..n).all(|i| id.value(i) == i.to_string()));
}

/// Duplicates far apart (across the reader thread's chunks), quoted and
/// multi-line records among plain ones, blank and CRLF lines: every
/// duplicate found, every line right, rows in order.
#[test]
fn duplicates_and_lines_across_many_chunks() {
    let t = Temp::new();
    let n = 20_000;
    let mut s = format!("{}\n", header());
    let mut line = 2;
    let mut dup_lines = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..n {
        let id = format!("R{}", (i * 7) % 13_001);
        let quoted = i % 997 == 0;
        let text = if quoted {
            // A quoted stratum spanning two lines.
            row(&id, &[("stratum", "\"S\n1\"")])
        } else {
            row(&id, &[])
        };
        if !seen.insert(id) {
            dup_lines.push(line);
        }
        s.push_str(&text);
        line += 1 + usize::from(quoted);
        if i % 1_501 == 0 {
            // CRLF, then a blank line.
            s.push_str("\r\n\n");
            line += 1;
        } else {
            s.push('\n');
        }
    }
    write_bundle(&t, s.as_bytes(), DESIGN, TARGETS);
    let sum = run(&t).unwrap();
    assert_eq!(sum.rows_rejected as usize, dup_lines.len());
    assert!(dup_lines.len() > 5_000);
    let rej = rejects(&t.out());
    let got: Vec<usize> = rej.iter().map(|r| r.line as usize).collect();
    assert_eq!(got, dup_lines);
    assert!(rej.iter().all(|r| r.reasons == "duplicate_id"));
}
