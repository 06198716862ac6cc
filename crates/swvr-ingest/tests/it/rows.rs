//! One failing input per rejection reason and per routing rule, both ways.

use crate::{check, check_text, row};

#[test]
fn the_valid_row_is_accepted() {
    check(&[], "");
    check(&[("n_adults", ""), ("n_mobiles", ""), ("n_landlines", "0")], "");
    check(&[("age", "998"), ("sex", "9"), ("education", "8")], "");
}

#[test]
fn keys() {
    check(&[("country", "ke")], "invalid:country=ke");
    check(&[("country", "KENY")], "invalid:country=KENY");
    check(&[("country", "")], "blank:country");
    check(&[("wave", "")], "blank:wave");
    check(&[("wave", "twenty")], "not_integer:wave=twenty");
    check(&[("wave", "21")], "out_of_range:wave=21");
    check(&[("respondent_id", "")], "blank:respondent_id");
    check(&[("respondent_id", "  ")], "blank:respondent_id");
    check(&[("frame", "X")], "invalid:frame=X");
    check(&[("frame", "")], "blank:frame");
    check(&[("stratum", "")], "blank:stratum");
    check(&[("stratum", "\"\"")], "blank:stratum");
}

#[test]
fn counts() {
    check(&[("n_adults", "0")], "out_of_range:n_adults=0");
    check(&[("n_adults", "two")], "not_integer:n_adults=two");
    check(&[("n_landlines", "-1")], "out_of_range:n_landlines=-1");
    check(&[("n_mobiles", "1.5")], "not_integer:n_mobiles=1.5");
    check(&[("n_mobiles", "99999999999")], "out_of_range:n_mobiles=99999999999");
}

#[test]
fn demographics() {
    check(&[("sex", "")], "blank:sex");
    check(&[("sex", "3")], "out_of_range:sex=3");
    check(&[("sex", "8")], "out_of_range:sex=8");
    check(&[("age", "abc")], "not_integer:age=abc");
    check(&[("age", "12")], "out_of_range:age=12");
    check(&[("age", "121")], "out_of_range:age=121");
    check(&[("age", "")], "blank:age");
    check(&[("education", "4")], "out_of_range:education=4");
    check(&[("employment", "")], "blank:employment");
    check(&[("urbanicity", "5")], "out_of_range:urbanicity=5");
}

#[test]
fn item_codes() {
    check(&[("Q3A", "7")], "out_of_range:Q3A=7");
    check(&[("Q6", "5")], "out_of_range:Q6=5");
    check(&[("Q8E", "x")], "not_integer:Q8E=x");
    check(&[("Q7", "-1")], "out_of_range:Q7=-1");
    check(&[("Q7", "1.0")], "not_integer:Q7=1.0");
    check(&[("Q6", "4"), ("Q6A", "1")], "");
}

#[test]
fn items_asked_of_everyone_must_not_be_blank() {
    for q in [
        "Q1", "Q3A", "Q3B", "Q3C", "Q4A", "Q5A", "Q6", "Q7", "Q8A", "Q8B", "Q8C", "Q8D", "Q8E",
    ] {
        let mut over = vec![(q, "")];
        if q == "Q1" {
            // Q1 blank: Q2's routing is unknown and not checked.
            over.push(("Q2", ""));
        }
        if q == "Q4A" {
            over.push(("Q4B", ""));
        }
        check(&over, &format!("routing:{q}_blank_when_asked"));
    }
}

/// Every `asked_if` rule of the questionnaire, in both directions.
#[test]
fn routing_q2_on_q1() {
    check(&[("Q1", "1"), ("Q2", "2")], "routing:Q2_asked_when_Q1=1");
    for q1 in ["2", "8", "9"] {
        check(&[("Q1", q1), ("Q2", "")], "routing:Q2_blank_when_asked");
        check(&[("Q1", q1), ("Q2", "1")], "");
    }
}

#[test]
fn routing_q4b_on_q4a() {
    check(
        &[("Q4A", "2"), ("Q4B", "1"), ("Q4B_1", "2")],
        "routing:Q4B_asked_when_Q4A=2",
    );
    check(&[("Q4A", "1"), ("Q4B", "")], "routing:Q4B_blank_when_asked");
}

#[test]
fn routing_q4b_1_on_q4a() {
    check(&[("Q4A", "1"), ("Q4B_1", "1")], "routing:Q4B_1_asked_when_Q4A=1");
    for q4a in ["2", "8", "9"] {
        check(
            &[("Q4A", q4a), ("Q4B", ""), ("Q4B_1", "")],
            "routing:Q4B_1_blank_when_asked",
        );
        check(&[("Q4A", q4a), ("Q4B", ""), ("Q4B_1", "9")], "");
    }
}

#[test]
fn routing_q6a_on_q6() {
    check(&[("Q6", "1"), ("Q6A", "1")], "routing:Q6A_asked_when_Q6=1");
    check(&[("Q6", "4"), ("Q6A", "")], "routing:Q6A_blank_when_asked");
}

#[test]
fn routing_is_not_checked_when_the_controlling_answer_is_invalid() {
    check(&[("Q1", "7"), ("Q2", "1")], "out_of_range:Q1=7");
    check(&[("Q1", "7"), ("Q2", "")], "out_of_range:Q1=7");
    // An invalid answer that is also not asked gets both reasons.
    check(
        &[("Q1", "1"), ("Q2", "5")],
        "out_of_range:Q2=5;routing:Q2_asked_when_Q1=1",
    );
}

#[test]
fn a_row_lists_all_its_defects_in_column_order() {
    check(
        &[("country", "ke"), ("sex", ""), ("Q3A", "7"), ("Q6", "1"), ("Q6A", "2")],
        "invalid:country=ke;blank:sex;out_of_range:Q3A=7;routing:Q6A_asked_when_Q6=1",
    );
}

#[test]
fn field_count() {
    let short = row("r2", &[]);
    let short = &short[..short.rfind(',').unwrap()];
    check_text(short, &["field_count:expected=30,found=29"]);
    check_text(&format!("{},x", row("r2", &[])), &["field_count:expected=30,found=31"]);
}

#[test]
fn duplicate_ids_keep_the_first() {
    check_text(&row("ok", &[]), &["duplicate_id"]);
    // Same id in another country or with surrounding spaces.
    check_text(&row("ok", &[("country", "SEN")]), &[]);
    check_text(&row(" ok ", &[]), &["duplicate_id"]);
    // A rejected first row still claims its id.
    check_text(
        &format!("{}\n{}", row("r2", &[("sex", "")]), row("r2", &[])),
        &["blank:sex", "duplicate_id"],
    );
}

#[test]
fn frame_not_in_design() {
    check(&[("frame", "L")], "frame_not_in_design");
    check(&[("country", "SEN"), ("frame", "L")], "");
}

#[test]
fn values_are_trimmed_and_quoted_blank_is_blank() {
    check(&[("sex", " 2 "), ("country", " KEN"), ("Q2", "\"\"")], "");
    check(&[("Q7", "\" 1 \"")], "");
    check(&[("Q7", "\"\"")], "routing:Q7_blank_when_asked");
}

#[test]
fn separators_in_values_are_escaped_in_reasons() {
    check(&[("age", "\"3;4\"")], "not_integer:age=3\\x3B4");
}
