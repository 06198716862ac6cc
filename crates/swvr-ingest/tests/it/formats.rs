//! What real exports contain: BOM, CRLF, quoting, column order, extra
//! columns, multi-line fields, invalid UTF-8.

use arrow_array::{Array, Int8Array, Int16Array, Int32Array, StringArray};
use swvr_core::io::{column, read_arrow};

use crate::{DESIGN, TARGETS, Temp, check_text, columns, header, rejects, row, run, validation, write_bundle};

#[test]
fn bom_crlf_and_blank_lines_give_physical_lines() {
    let t = Temp::new();
    let csv = format!(
        "\u{feff}{}\r\n{}\r\n\r\n{}\r\n\r\n\r\n{}\r\n",
        header(),
        row("a", &[]),
        row("b", &[("sex", "7")]),
        row("c", &[("Q7", "")])
    );
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    let s = run(&t).unwrap();
    assert_eq!((s.rows_read, s.rows_accepted, s.rows_rejected), (3, 1, 2));
    let r = rejects(&t.out());
    assert_eq!(r[0].line, 4);
    assert_eq!(r[0].id, "b");
    assert_eq!(r[0].raw, row("b", &[("sex", "7")]));
    assert_eq!(r[1].line, 7);
    assert_eq!(r[1].reasons, "routing:Q7_blank_when_asked");
}

#[test]
fn multi_line_quoted_fields_and_quotes_in_raw() {
    let t = Temp::new();
    let h = format!("{},note", header());
    let bad = format!("{},\"two\r\nlines, \"\"quoted\"\"\"", row("b", &[("Q3A", "7")]));
    let csv = format!(
        "{h}\n{},\"a\nb\nc\"\n{bad}\n{},x\n",
        row("a", &[]),
        row("c", &[("Q3B", "")])
    );
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    run(&t).unwrap();
    let r = rejects(&t.out());
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].line, r[0].raw.as_str()), (5, bad.as_str()));
    assert_eq!(r[1].line, 7);
    let b = read_arrow(&t.out().join("ingest/respondents.arrow")).unwrap();
    let note = column::<StringArray>(&b, "note", "x".as_ref()).unwrap();
    assert_eq!(note.value(0), "a\nb\nc");
}

#[test]
fn any_column_order_and_extras_carried_after_required_columns() {
    let t = Temp::new();
    let mut cols = columns();
    cols.reverse();
    let mut names = vec!["interview_date".to_string()];
    names.extend(cols.iter().cloned());
    names.insert(10, "language".into());
    let values = |r: &str, date: &str, lang: &str| {
        let vals: Vec<String> = row(r, &[("age", "45"), ("Q8E", "2")])
            .split(',')
            .map(String::from)
            .collect();
        let mut out = vec![date.to_string()];
        let mut rev: Vec<String> = vals.into_iter().rev().collect();
        out.append(&mut rev);
        out.insert(10, lang.into());
        out.join(",")
    };
    let csv = format!(
        "{}\n{}\n{}\n",
        names.join(","),
        values("a", "2021-03-04", " en "),
        values("b", "", "fr")
    );
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    let s = run(&t).unwrap();
    assert_eq!(s.rows_accepted, 2);
    let b = read_arrow(&t.out().join("ingest/respondents.arrow")).unwrap();
    let schema = b.schema();
    let got: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut want: Vec<String> = columns();
    want.push("interview_date".into());
    want.push("language".into());
    assert_eq!(got, want);
    let p = std::path::Path::new("respondents.arrow");
    assert_eq!(column::<Int16Array>(&b, "age", p).unwrap().value(0), 45);
    assert_eq!(column::<Int8Array>(&b, "Q8E", p).unwrap().value(1), 2);
    assert_eq!(column::<Int32Array>(&b, "wave", p).unwrap().value(1), 2021);
    let lang = column::<StringArray>(&b, "language", p).unwrap();
    assert_eq!(lang.value(0), " en ", "extras are verbatim");
    let date = column::<StringArray>(&b, "interview_date", p).unwrap();
    assert!(date.is_null(1), "an empty extra is null");
    let q2 = column::<Int8Array>(&b, "Q2", p).unwrap();
    assert!(q2.is_null(0), "not asked is null");
    let nl = column::<Int32Array>(&b, "n_landlines", p).unwrap();
    assert!(nl.is_null(0));
}

#[test]
fn invalid_utf8_is_escaped_in_raw_and_rejected_in_text_columns() {
    let t = Temp::new();
    let mut csv = format!("{},note\n{},ok\n", header(), row("a", &[])).into_bytes();
    csv.extend_from_slice(row("b", &[("stratum", "S\u{1}")]).replace('\u{1}', "\u{0}").as_bytes());
    csv.extend_from_slice(b",caf\xE9\n");
    let id_bad = row("c", &[]).replacen(",c,", ",c\u{1},", 1);
    let mut id_bad = id_bad.into_bytes();
    for b in id_bad.iter_mut() {
        if *b == 1 {
            *b = 0xFF;
        }
    }
    csv.extend_from_slice(&id_bad);
    csv.extend_from_slice(b",x\n");
    write_bundle(&t, &csv, DESIGN, TARGETS);
    run(&t).unwrap();
    let r = rejects(&t.out());
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].reasons, "invalid_utf8:note");
    assert!(r[0].raw.ends_with(",caf\\xE9"), "{}", r[0].raw);
    assert_eq!(r[1].reasons, "invalid_utf8:respondent_id");
    assert_eq!(r[1].id, "");
    assert!(r[1].raw.contains(",c\\xFF,"), "{}", r[1].raw);
}

#[test]
fn rejects_csv_quotes_raw_lines() {
    check_text(
        &format!("{},", row("r,2", &[("sex", "\"7\"")]).replacen("r,2", "\"r,2\"", 1))[..],
        &["field_count:expected=30,found=31"],
    );
    let t = Temp::new();
    let bad = row("\"x\"\"y\"", &[("sex", "7")]);
    let csv = format!("{}\n{}\n{}\n", header(), row("a", &[]), bad);
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    run(&t).unwrap();
    let r = rejects(&t.out());
    assert_eq!(r[0].id, "x\"y");
    assert_eq!(r[0].raw, bad);
    let v = validation(&t.out());
    assert_eq!(v["reasons"]["out_of_range"], 1);
}

#[test]
fn unterminated_quote_swallows_the_rest_into_one_reject() {
    let t = Temp::new();
    let csv = format!(
        "{}
{}
KEN,2021,\"open,M\nmore\n{}\n",
        header(),
        row("a", &[]),
        row("b", &[])
    );
    write_bundle(&t, csv.as_bytes(), DESIGN, TARGETS);
    let s = run(&t).unwrap();
    assert_eq!((s.rows_read, s.rows_rejected), (2, 1));
    let r = rejects(&t.out());
    assert_eq!(r[0].line, 3);
    assert_eq!(r[0].reasons, "field_count:expected=30,found=3");
    assert_eq!(r[0].id, "", "a multi-line misaligned value is not an id");
}
