//! One test per file-level error: the message names the file, the physical
//! line and the column, and nothing is put in place under OUT/ingest.

use crate::{DESIGN, TARGETS, Temp, header, row, run, write_bundle};

fn fail(respondents: &str, design: &str, targets: &str) -> String {
    let t = Temp::new();
    write_bundle(&t, respondents.as_bytes(), design, targets);
    let e = run(&t).expect_err("a file-level error").to_string();
    let ingest = t.out().join("ingest");
    let left: Vec<_> = std::fs::read_dir(&ingest)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left after an error: {left:?}");
    e
}

fn ok_respondents() -> String {
    format!("{}\n{}\n", header(), row("a", &[]))
}

fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "`{p}` not in: {msg}");
    }
}

#[test]
fn missing_file() {
    for name in ["respondents.csv", "design.csv", "targets.csv"] {
        let t = Temp::new();
        write_bundle(&t, ok_respondents().as_bytes(), DESIGN, TARGETS);
        std::fs::remove_file(t.data().join(name)).unwrap();
        let e = run(&t).unwrap_err().to_string();
        has(&e, &[name, "cannot read"]);
    }
}

#[test]
fn empty_file() {
    has(
        &fail("", DESIGN, TARGETS),
        &["respondents.csv", "line 1", "empty", "header"],
    );
    has(
        &fail("\u{feff}\r\n", DESIGN, TARGETS),
        &["respondents.csv", "line 1", "empty"],
    );
    has(
        &fail(&ok_respondents(), "", TARGETS),
        &["design.csv", "line 1", "empty"],
    );
    has(
        &fail(&ok_respondents(), DESIGN, ""),
        &["targets.csv", "line 1", "empty"],
    );
}

#[test]
fn header_without_rows() {
    has(
        &fail(&format!("{}\n\n", header()), DESIGN, TARGETS),
        &["respondents.csv", "line 1", "no data rows"],
    );
    has(
        &fail(
            &ok_respondents(),
            "country,wave,frame,frame_size,sample_size\n",
            TARGETS,
        ),
        &["design.csv", "line 1", "no data rows"],
    );
    has(
        &fail(&ok_respondents(), DESIGN, "country,wave,variable,category,share\n"),
        &["targets.csv", "line 1", "no data rows"],
    );
}

#[test]
fn missing_required_column() {
    let h = header().replace(",Q4B_1,", ",Q4B_x,");
    has(
        &fail(&format!("{h}\n{}\n", row("a", &[])), DESIGN, TARGETS),
        &["respondents.csv", "line 1", "`Q4B_1`", "missing required column"],
    );
    has(
        &fail(&ok_respondents(), &DESIGN.replace("sample_size", "n"), TARGETS),
        &["design.csv", "line 1", "`sample_size`"],
    );
    has(
        &fail(&ok_respondents(), DESIGN, &TARGETS.replace("share", "p")),
        &["targets.csv", "line 1", "`share`"],
    );
}

#[test]
fn repeated_column() {
    has(
        &fail(&format!("{},sex\n{},1\n", header(), row("a", &[])), DESIGN, TARGETS),
        &[
            "respondents.csv",
            "line 1",
            "column 31",
            "`sex` repeated",
            "first at column 9",
        ],
    );
    has(
        &fail(
            &format!("{},note,note\n{},x,y\n", header(), row("a", &[])),
            DESIGN,
            TARGETS,
        ),
        &["respondents.csv", "line 1", "`note` repeated"],
    );
    has(
        &fail(
            &ok_respondents(),
            &DESIGN.replacen("sample_size", "sample_size,wave", 1),
            TARGETS,
        ),
        &["design.csv", "line 1", "column 6", "`wave` repeated"],
    );
    has(
        &fail(
            &ok_respondents(),
            DESIGN,
            &TARGETS.replacen("share", "share,country", 1),
        ),
        &["targets.csv", "line 1", "`country` repeated"],
    );
}

#[test]
fn country_wave_absent_from_design_or_targets() {
    let r = format!("{}\n{}\n{}\n", header(), row("a", &[]), row("b", &[("country", "UGA")]));
    has(
        &fail(&r, DESIGN, TARGETS),
        &["respondents.csv", "line 3", "`country`", "UGA 2021", "design.csv"],
    );
    let design = format!("{DESIGN}UGA,2021,M,10,5\n");
    has(
        &fail(&r, &design, TARGETS),
        &["respondents.csv", "line 3", "UGA 2021", "targets.csv"],
    );
    let r = format!("{}\n{}\n", header(), row("a", &[("wave", "2022")]));
    has(&fail(&r, DESIGN, TARGETS), &["line 2", "KEN 2022", "design.csv"]);
}

#[test]
fn design_sizes() {
    let d = |row: &str| format!("country,wave,frame,frame_size,sample_size\nKEN,2021,M,1000,10\n{row}\n");
    let cases = [
        ("SEN,2021,M,0,0", "`frame_size`", "`0`", "positive integer"),
        ("SEN,2021,M,100,-3", "`sample_size`", "`-3`", "positive integer"),
        ("SEN,2021,M,1e6,3", "`frame_size`", "`1e6`", "positive integer"),
        ("SEN,2021,M,abc,3", "`frame_size`", "`abc`", "positive integer"),
        (
            "SEN,2021,M,100,300",
            "`sample_size`",
            "`300`",
            "no larger than frame_size (100)",
        ),
        ("SEN,2021,X,100,3", "`frame`", "`X`", "`L`"),
        ("sen,2021,M,100,3", "`country`", "`sen`", "ISO 3166-1"),
        ("SEN,21.0,M,100,3", "`wave`", "`21.0`", "integer"),
        ("KEN,2021,M,100,3", "`frame`", "`M`", "already on line 2"),
        ("SEN,2021,M,100", "`(record)`", "4 fields", "5 fields"),
    ];
    for (bad, col, val, exp) in cases {
        has(
            &fail(&ok_respondents(), &d(bad), TARGETS),
            &["design.csv", "line 3", col, val, exp],
        );
    }
}

#[test]
fn target_shares() {
    let t = |rows: &str| format!("country,wave,variable,category,share\nKEN,2021,sex,1,0.5\n{rows}\n");
    let cases = [
        ("KEN,2021,sex,2,half", "`half`"),
        ("KEN,2021,sex,2,1.5", "`1.5`"),
        ("KEN,2021,sex,2,-0.5", "`-0.5`"),
        ("KEN,2021,sex,2,NaN", "`NaN`"),
        ("KEN,2021,sex,2,", "``"),
    ];
    for (bad, val) in cases {
        has(
            &fail(&ok_respondents(), DESIGN, &t(bad)),
            &["targets.csv", "line 3", "`share`", val, "between 0 and 1"],
        );
    }
    has(
        &fail(&ok_respondents(), DESIGN, &t("KEN,2021,sex,1,0.5")),
        &["targets.csv", "line 3", "`category`", "already on line 2"],
    );
    has(
        &fail(&ok_respondents(), DESIGN, &t("KEN,2021,,2,0.5")),
        &["targets.csv", "line 3", "`variable`", "non-empty"],
    );
}

#[test]
fn target_shares_must_sum_to_one() {
    let t = "country,wave,variable,category,share\n\
KEN,2021,sex,1,0.5\nKEN,2021,sex,2,0.5\n\
KEN,2021,education,1,0.3\nKEN,2021,education,2,0.3\nKEN,2021,education,3,0.3\n";
    has(
        &fail(&ok_respondents(), DESIGN, t),
        &[
            "targets.csv",
            "line 4",
            "`share`",
            "KEN 2021 `education`",
            "sum to 0.900000000",
            "within 1e-6",
        ],
    );
    // Within tolerance passes.
    let ok = t.replace("education,3,0.3", "education,3,0.4000005");
    let tmp = Temp::new();
    write_bundle(&tmp, ok_respondents().as_bytes(), DESIGN, &ok);
    run(&tmp).unwrap();
}

#[test]
fn header_cells_must_be_named() {
    has(
        &fail(&format!("{},\n{},x\n", header(), row("a", &[])), DESIGN, TARGETS),
        &["respondents.csv", "line 1", "column `#31`", "non-empty column name"],
    );
}
