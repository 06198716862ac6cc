//! Issue 14: hostile and odd inputs. Special files are refused before they
//! are read (never a hang), limits are errors naming file and line, CR-only
//! files get physical line numbers, and rejects.csv cells cannot become
//! spreadsheet formulas.

use std::time::Duration;

use crate::{DESIGN, TARGETS, Temp, header, rejects, row, run, write_bundle};

/// `run` on another thread: an error message, or a failure after 20 s
/// (the hang this guards against).
fn error_within_time(t: &Temp) -> String {
    let (data, out) = (t.data(), t.out());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let q = swvr_core::questionnaire::Questionnaire::default_2021();
        let r = swvr_ingest::ingest(&data, &out, &q, &Default::default(), &swvr_core::progress::NoProgress);
        let _ = tx.send(r.map(|_| ()).map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(r) => r.expect_err("an error"),
        Err(_) => panic!("ingest hangs on a special file"),
    }
}

fn ok_bundle(t: &Temp) {
    write_bundle(
        t,
        format!("{}\n{}\n", header(), row("a", &[])).as_bytes(),
        DESIGN,
        TARGETS,
    );
}

#[cfg(unix)]
#[test]
fn special_files_are_refused_not_read() {
    // A FIFO with no writer would block an open for reading forever.
    let t = Temp::new();
    ok_bundle(&t);
    let fifo = t.data().join("respondents.csv");
    std::fs::remove_file(&fifo).unwrap();
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    if status.map(|s| s.success()).unwrap_or(false) {
        let e = error_within_time(&t);
        assert_eq!(
            e,
            format!(
                "{}: cannot read: is a FIFO (named pipe), not a regular file; expected a regular file",
                fifo.display()
            )
        );
    } else {
        println!("SKIPPED: mkfifo not found");
    }
    // /dev/zero would be read without end.
    let t = Temp::new();
    ok_bundle(&t);
    let design = t.data().join("design.csv");
    std::fs::remove_file(&design).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &design).unwrap();
    assert_eq!(
        error_within_time(&t),
        format!(
            "{}: cannot read: is a character device, not a regular file; expected a regular file",
            design.display()
        )
    );
    // A folder.
    let t = Temp::new();
    ok_bundle(&t);
    let targets = t.data().join("targets.csv");
    std::fs::remove_file(&targets).unwrap();
    std::fs::create_dir(&targets).unwrap();
    assert_eq!(
        error_within_time(&t),
        format!(
            "{}: cannot read: is a folder, not a regular file; expected a regular file",
            targets.display()
        )
    );
}

#[test]
fn header_width_and_field_length_limits_are_errors() {
    let t = Temp::new();
    let extras: Vec<String> = (0..10_000).map(|i| format!("x{i}")).collect();
    let csv = format!("{},{}\n{}\n", header(), extras.join(","), row("a", &[]));
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    let e = run(&t).unwrap_err().to_string();
    let file = t.data().join("respondents.csv");
    assert_eq!(
        e,
        format!(
            "{}: line 1: 10030 fields; expected at most 10000 columns (swvr's limit on header width)",
            file.display()
        )
    );
    assert!(!t.out().join("ingest/respondents.arrow").exists());

    let t = Temp::new();
    let long = "y".repeat(swvr_core::limits::MAX_FIELD_BYTES + 1);
    let csv = format!("{},note\n{},\n{},\"{long}\"\n", header(), row("a", &[]), row("b", &[]));
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    assert_eq!(
        run(&t).unwrap_err().to_string(),
        format!(
            "{}: line 3: column 31: a field of 1048577 bytes; expected at most 1 MiB (swvr's limit on field length)",
            t.data().join("respondents.csv").display()
        )
    );
}

#[test]
fn a_wide_header_costs_memory_by_rows_not_by_column() {
    // 2,000 extra columns and 3 rows: the builders used to reserve room for
    // 65,536 rows per column (about 1.8 MB each, 3.6 GB here).
    let t = Temp::new();
    let extras: Vec<String> = (0..2000).map(|i| format!("x{i}")).collect();
    let vals = vec!["v"; 2000].join(",");
    let mut csv = format!("{},{}\n", header(), extras.join(","));
    for id in ["a", "b", "c"] {
        csv.push_str(&format!("{},{vals}\n", row(id, &[])));
    }
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    let before = swvr_core::sys::peak_rss_mib();
    let s = run(&t).unwrap();
    assert_eq!(s.rows_accepted, 3);
    if let (Some(a), Some(b)) = (before, swvr_core::sys::peak_rss_mib()) {
        // Other tests run alongside: allow them their share.
        assert!(b - a < 1000.0, "peak memory grew by {:.0} MiB", b - a);
    }
}

#[test]
fn cr_only_line_ends_give_physical_lines_in_rejects() {
    let t = Temp::new();
    let csv = format!(
        "{}\r{}\r{}\r\r{}\r",
        header(),
        row("a", &[]),
        row("b", &[("Q1", "7")]),
        row("c", &[("sex", "5")])
    );
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    let s = run(&t).unwrap();
    assert_eq!((s.rows_read, s.rows_rejected), (3, 2));
    let lines: Vec<u64> = rejects(&t.out()).iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 5]);
}

#[test]
fn rejects_cells_that_look_like_formulas_are_neutralised() {
    let t = Temp::new();
    let csv = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        header(),
        row("ok", &[]),
        row("=HYPERLINK(\"x\")", &[("Q1", "7")]).replacen("KEN", "=1+1", 1),
        row("+a", &[("Q1", "7")]),
        row("'quoted", &[("Q1", "7")])
    );
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    run(&t).unwrap();
    let r = rejects(&t.out());
    // The raw line starts with `=`: `'` in front; the id too.
    assert!(r[0].raw.starts_with("'=1+1,2021,"), "{}", r[0].raw);
    assert_eq!(r[1].id, "'+a");
    assert!(r[1].raw.starts_with("KEN,"));
    // A cell that starts with `'` gets one more, so dropping one always recovers it.
    assert_eq!(r[2].id, "''quoted");
    for (rej, line) in r.iter().zip(csv.lines().skip(2)) {
        let raw = rej.raw.strip_prefix('\'').unwrap_or(&rej.raw);
        assert_eq!(raw, line);
    }
}
