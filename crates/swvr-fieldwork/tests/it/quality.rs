//! Quality checks: exact match against brute force, the automatic
//! threshold's false-flag rate, planted clusters, speeders, straight-lining
//! and exclusion reasons.

use std::path::Path;

use swvr_core::groups::Selection;
use swvr_core::questionnaire::Questionnaire;
use swvr_fieldwork::options::{Flag, MatchRule, Options};
use swvr_fieldwork::quality::{Quality, check};

use crate::common::{Rng, Row, batch, interview, near_copy};

fn run(rows: &[Row], interviewers: &[String], durations: &[String], opts: &Options) -> Quality {
    let q = Questionnaire::default_2021();
    let b = batch(&q, "BOL", rows, interviewers, durations);
    check(&b, Path::new("respondents.arrow"), &q, opts, &Selection::default()).unwrap()
}

fn plain(n: usize, seed: u64) -> (Vec<Row>, Vec<String>, Vec<String>) {
    let q = Questionnaire::default_2021();
    let mut rng = Rng(seed);
    let rows: Vec<Row> = (0..n).map(|_| interview(&q, &mut rng)).collect();
    let iv: Vec<String> = (0..n).map(|i| format!("I{:02}", i % 20)).collect();
    let du: Vec<String> = (0..n).map(|_| (200 + rng.below(200)).to_string()).collect();
    (rows, iv, du)
}

#[test]
fn max_percent_match_and_closest_equal_brute_force_with_planted_copies() {
    let q = Questionnaire::default_2021();
    let (mut rows, iv, du) = plain(400, 11);
    let mut rng = Rng(99);
    // Exact copies and near copies (1–3 changes).
    for c in 0..40usize {
        let src = rng.below(400) as usize;
        let dst = rng.below(400) as usize;
        if src != dst {
            rows[dst] = near_copy(&q, &rows[src], c % 4, &mut rng);
        }
    }
    let res = run(&rows, &iv, &du, &Options::default());
    let k = rows[0].len();
    let got = &res.groups[0].rows;
    for (i, r) in got.iter().enumerate() {
        let (mut best, mut closest, mut count) = (0usize, usize::MAX, 0u32);
        for j in 0..rows.len() {
            if j == i {
                continue;
            }
            let m = (0..k).filter(|&p| rows[i][p] == rows[j][p]).count();
            if m > best || closest == usize::MAX {
                (best, closest, count) = (m, j, 1);
            } else if m == best {
                count += 1;
            }
        }
        assert_eq!(r.max_matching, Some(best as u32), "row {i}");
        assert_eq!(r.closest, Some(closest as u32), "row {i}");
        assert_eq!(r.n_closest, Some(count), "row {i}");
        assert_eq!(r.duplicate, best == k, "row {i}");
        assert_eq!(r.positions as usize, k);
    }
    assert!(got.iter().filter(|r| r.duplicate).count() >= 10);
}

#[test]
fn automatic_threshold_flags_about_its_tail_probability_without_copies() {
    for (seed, tail) in [(1u64, 0.05), (2, 0.05), (3, 0.1)] {
        let (rows, iv, du) = plain(3000, seed);
        let opts = Options {
            tail_probability: tail,
            ..Options::default()
        };
        let res = run(&rows, &iv, &du, &opts);
        let rows = &res.groups[0].rows;
        let flagged = rows.iter().filter(|r| r.high_match).count() as f64 / rows.len() as f64;
        eprintln!("seed {seed} tail {tail}: flagged {flagged:.4}");
        assert!(
            flagged <= tail * 1.3 && flagged >= tail * 0.6,
            "tail {tail}: flagged {flagged}"
        );
    }
}

#[test]
fn the_fixed_rule_flags_exactly_the_interviews_at_or_above_its_cut() {
    let (rows, iv, du) = plain(1000, 5);
    let opts = Options {
        match_threshold: MatchRule::Fixed(0.85),
        ..Options::default()
    };
    let res = run(&rows, &iv, &du, &opts);
    let rows = &res.groups[0].rows;
    for r in rows {
        let pm = f64::from(r.max_matching.unwrap()) / f64::from(r.positions);
        assert_eq!(r.high_match, pm >= 0.85, "{r:?}");
    }
    assert!(rows.iter().any(|r| r.high_match) && rows.iter().any(|r| !r.high_match));
}

#[test]
fn a_planted_cluster_of_near_copies_is_found_and_its_interviewer_stands_out() {
    let q = Questionnaire::default_2021();
    let (mut rows, mut iv, du) = plain(2000, 21);
    let mut rng = Rng(7);
    // Interviewer I99 fabricates 30 interviews from two templates, 2–4 items changed each.
    let templates = [rows[5].clone(), rows[17].clone()];
    let planted: Vec<usize> = (0..30).map(|i| 100 + i * 37).collect();
    for (c, &p) in planted.iter().enumerate() {
        rows[p] = near_copy(&q, &templates[c % 2], 2 + c % 3, &mut rng);
        iv[p] = "I99".into();
    }
    let res = run(&rows, &iv, &du, &Options::default());
    let got = &res.groups[0].rows;
    let found = planted.iter().filter(|&&p| got[p].high_match).count();
    assert!(found >= 24, "found {found} of 30");
    let others = (0..2000).filter(|p| !planted.contains(p) && got[*p].high_match).count();
    assert!(others <= 60, "{others} genuine interviews flagged");
    let i99 = res
        .interviewers
        .iter()
        .find(|r| r.interviewer.as_deref() == Some("I99"))
        .unwrap();
    assert!(i99.cluster && i99.high_match_p.unwrap() < 1e-6, "{i99:?}");
    let clusters = res.interviewers.iter().filter(|r| r.cluster).count();
    assert_eq!(
        clusters,
        1,
        "{:?}",
        res.interviewers.iter().filter(|r| r.cluster).collect::<Vec<_>>()
    );
    assert_eq!(i99.interviews, 30);
}

#[test]
fn speeders_straightlining_interviewers_and_exclusion_reasons() {
    let q = Questionnaire::default_2021();
    let (mut rows, iv, mut du) = plain(200, 31);
    du[3] = "60".into();
    du[4] = "".into();
    let nd = q.demographics().len();
    for id in ["Q8A", "Q8B", "Q8C", "Q8D", "Q8E"] {
        rows[7][nd + q.item_index(id).unwrap()] = Some(2);
    }
    rows[9] = rows[8].clone();
    let opts = Options {
        exclude: vec![Flag::Duplicate, Flag::Speeder, Flag::Straightline],
        ..Options::default()
    };
    let res = run(&rows, &iv, &du, &opts);
    let got = &res.groups[0].rows;
    assert_eq!(got[3].speeder, Some(true));
    assert_eq!(got[3].exclusion, ["fieldwork_speeder:duration=60"]);
    assert_eq!(got[4].speeder, None);
    assert_eq!(got[7].straightline, [Some(true)]);
    assert!(
        got[7]
            .exclusion
            .contains(&"fieldwork_straightline:battery=Q8".to_string())
    );
    // Of two exact copies the earlier is kept.
    assert!(got[8].duplicate && got[9].duplicate);
    assert!(!got[8].exclusion.iter().any(|e| e.starts_with("fieldwork_duplicate")));
    assert!(
        got[9]
            .exclusion
            .contains(&"fieldwork_duplicate:of=BOL-000009".to_string())
    );
    let f = &res.flags[0];
    assert_eq!((f.n, f.speeders), (200, 1));
    assert!(f.duplicates >= 2 && f.straightliners >= 1);
    // Interviewers: 20 of them, 10 interviews each, median duration from their rows.
    assert_eq!(res.interviewers.len(), 20);
    assert!(res.interviewers.iter().all(|r| r.interviews == 10));
    let i03 = &res.interviewers[3];
    assert_eq!(i03.interviewer.as_deref(), Some("I03"));
    let mut d: Vec<f64> = (0..200)
        .filter(|i| i % 20 == 3)
        .filter_map(|i| du[i].parse().ok())
        .collect();
    d.sort_by(f64::total_cmp);
    assert_eq!(i03.median_duration, Some((d[4] + d[5]) / 2.0));
    let asked: u32 = got
        .iter()
        .filter(|r| res.groups[0].interviewer(r) == Some("I03"))
        .map(|r| r.items_asked)
        .sum();
    let miss: u32 = got
        .iter()
        .filter(|r| res.groups[0].interviewer(r) == Some("I03"))
        .map(|r| r.items_missing)
        .sum();
    assert_eq!(i03.item_nonresponse, Some(f64::from(miss) / f64::from(asked)));
}

#[test]
fn roles_absent_from_the_data_are_reported_not_errors() {
    let q = Questionnaire::default_2021();
    let (rows, iv, du) = plain(50, 3);
    let b = batch(&q, "KEN", &rows, &iv, &du);
    let b = b.project(&(0..b.num_columns() - 2).collect::<Vec<_>>()).unwrap();
    let res = check(&b, Path::new("r.arrow"), &q, &Options::default(), &Selection::default()).unwrap();
    assert!(!res.has_interviewer && res.interviewers.is_empty());
    assert_eq!(
        res.missing_roles,
        [
            ("interviewer".to_string(), "interviewer_id".to_string()),
            ("duration".to_string(), "duration_s".to_string()),
            ("date".to_string(), "interview_date".to_string())
        ]
    );
    assert!(res.groups[0].rows.iter().all(|r| r.speeder.is_none()));
}
