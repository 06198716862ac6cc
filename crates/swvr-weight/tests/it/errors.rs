//! Every data-dependent error names the file, (country, wave), variable and category.

use crate::harness::*;

const DESIGN: &str = "KEN,2021,M,20000000,1000\n";

fn with_targets(rows: &[Resp], body: &str) -> Bundle {
    bundle(rows, DESIGN, &targets_for("KEN", body))
}

const SEX_AGE: &str =
    "sex,1,0.49\nsex,2,0.51\nage_group,15-29,0.35\nage_group,30-44,0.3\nage_group,45-59,0.2\nage_group,60+,0.15\n";

#[test]
fn missing_target_for_sample_category() {
    let b = with_targets(
        &sample("KEN", 40),
        &format!("{SEX_AGE}education,1,0.4\neducation,2,0.6\n"),
    );
    let m = err(&b, &plain());
    assert_contains(
        &m,
        &[
            "targets.csv",
            "KEN 2021",
            "variable education",
            "category 3",
            "no target row",
        ],
    );
    assert!(!b.out.join("weight").exists(), "nothing written on error");
}

#[test]
fn zero_target_for_sample_category() {
    let b = with_targets(
        &sample("KEN", 40),
        &format!("{SEX_AGE}education,1,0.4\neducation,2,0.6\neducation,3,0\n"),
    );
    let m = err(&b, &plain());
    // Header = line 1; SEX_AGE has 6 rows, so education 3 is on line 10.
    assert_contains(
        &m,
        &[
            "targets.csv: line 10",
            "KEN 2021",
            "variable education",
            "category 3",
            "zero target",
        ],
    );
}

#[test]
fn target_category_without_respondents() {
    let mut rows = sample("KEN", 40);
    rows.iter_mut()
        .filter(|r| r.education == 3)
        .for_each(|r| r.education = 2);
    let b = with_targets(
        &rows,
        &format!("{SEX_AGE}education,1,0.3\neducation,2,0.5\neducation,3,0.2\n"),
    );
    let m = err(&b, &plain());
    assert_contains(
        &m,
        &[
            "targets.csv: line 10",
            "KEN 2021",
            "variable education",
            "category 3",
            "no respondents",
        ],
    );
}

#[test]
fn dk_only_category_needs_no_target() {
    // Education 8 (DK) has no target: it is imputed, not an error.
    let mut rows = sample("KEN", 40);
    rows[0].education = 8;
    let b = with_targets(&rows, TARGETS_3);
    assert!(run(&b, &plain()).is_ok());
}

#[test]
fn unknown_target_category() {
    let b = with_targets(
        &sample("KEN", 40),
        &TARGETS_3.replace("age_group,60+", "age_group,60-120"),
    );
    let m = err(&b, &plain());
    assert_contains(
        &m,
        &[
            "targets.csv: line 7",
            "variable age_group",
            "category 60-120",
            "not a category",
        ],
    );
}

#[test]
fn raking_variable_without_targets() {
    let b = with_targets(&sample("KEN", 40), TARGETS_3);
    let s = scheme("[raking]\nvariables = [\"sex\", \"age_group\", \"employment\"]\n");
    let m = err(&b, &s);
    assert_contains(&m, &["targets.csv", "no targets for KEN 2021 variable employment"]);
}

#[test]
fn country_without_targets_or_design() {
    let b = bundle(&sample("KEN", 40), DESIGN, &targets_for("UZB", TARGETS_3));
    assert_contains(&err(&b, &plain()), &["targets.csv", "no targets for KEN 2021"]);
    let b = bundle(
        &sample("KEN", 40),
        "UZB,2021,M,100,10\n",
        &targets_for("KEN", TARGETS_3),
    );
    assert_contains(&err(&b, &plain()), &["design.csv", "no design rows for KEN 2021"]);
    let mut rows = sample("KEN", 40);
    rows[0].frame = "L".into();
    let b = bundle(&rows, DESIGN, &targets_for("KEN", TARGETS_3));
    assert_contains(&err(&b, &plain()), &["design.csv", "KEN 2021", "frame L"]);
}

#[test]
fn impossible_raking_does_not_converge() {
    // Sex and age perfectly confounded: men are all 15-29, women all older.
    // Targets: 50% men but only 10% aged 15-29: no weights satisfy both.
    let rows: Vec<Resp> = (0..40)
        .map(|i| {
            let male = i % 2 == 0;
            Resp::mobile(
                "KEN",
                i,
                if male { 1 } else { 2 },
                if male { 20 } else { 40 + (i % 30) as i16 },
                2,
            )
        })
        .collect();
    let t = "sex,1,0.5\nsex,2,0.5\nage_group,15-29,0.1\nage_group,30-44,0.4\nage_group,45-59,0.3\nage_group,60+,0.2\n";
    let b = with_targets(&rows, t);
    let s = scheme("[raking]\nvariables = [\"sex\", \"age_group\"]\nmax_iterations = 50\n");
    let m = err(&b, &s);
    assert_contains(
        &m,
        &[
            "raking of KEN 2021 did not converge in 50 iterations",
            "variable",
            "category",
            "tolerance",
        ],
    );
    assert!(!b.out.join("weight/weighted.arrow").exists());
    let warn =
        scheme("[raking]\nvariables = [\"sex\", \"age_group\"]\nmax_iterations = 50\non_nonconvergence = \"warn\"\n");
    let d = run(&b, &warn).unwrap();
    assert!(!d[0].converged);
    assert!(d[0].max_margin_error > 0.1);
}

#[test]
fn target_shares_must_sum_to_one() {
    let b = with_targets(&sample("KEN", 40), &TARGETS_3.replace("sex,2,0.51", "sex,2,0.41"));
    assert_contains(
        &err(&b, &plain()),
        &["targets.csv: line 2", "share", "KEN 2021 `sex`", "sum of 1 within 1e-6"],
    );
}

#[test]
fn bad_design_values() {
    let b = bundle(
        &sample("KEN", 40),
        "KEN,2021,M,100,1000\n",
        &targets_for("KEN", TARGETS_3),
    );
    assert_contains(
        &err(&b, &plain()),
        &["design.csv: line 2", "sample_size", "no larger than frame_size"],
    );
    let b = bundle(&sample("KEN", 40), "KEN,2021,M,-5,10\n", &targets_for("KEN", TARGETS_3));
    assert_contains(&err(&b, &plain()), &["design.csv: line 2", "frame_size", "positive"]);
    let b = bundle(&sample("KEN", 40), "", &targets_for("KEN", TARGETS_3));
    assert_contains(&err(&b, &plain()), &["design.csv", "no data rows"]);
}

#[test]
fn bom_and_spaces_in_bundle_csv_are_accepted() {
    let b = bundle_raw(
        &sample("KEN", 40),
        "\u{feff}country,wave,frame,frame_size,sample_size\n KEN , 2021 , M , 20000000 , 1000 \n",
        &format!(
            "\u{feff}country,wave,variable,category,share\n{}",
            targets_for("KEN", TARGETS_3)
        ),
    );
    assert!(run(&b, &plain()).is_ok());
}
