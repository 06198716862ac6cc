//! The committed fixture bundle has the shape the contract and the task ask
//! for: routing, ranges, frames, strata, counts, design and targets.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use swvr_core::questionnaire::{DemographicKind, Questionnaire};

use crate::{fixtures, read_bundle, records};

fn val(s: &str) -> Option<i64> {
    if s.is_empty() { None } else { Some(s.parse().unwrap()) }
}

#[test]
fn header_in_contract_order_with_extras() {
    let (r, _, _) = read_bundle(&fixtures());
    let (h, _) = records(&r);
    let cols: Vec<&str> = h.iter().collect();
    let q = Questionnaire::default_2021();
    let mut want = vec![
        "country",
        "wave",
        "respondent_id",
        "frame",
        "stratum",
        "n_adults",
        "n_landlines",
        "n_mobiles",
    ];
    want.extend(q.demographics().iter().map(|d| d.name.as_str()));
    want.extend(q.items().iter().map(|i| i.id.as_str()));
    want.extend(["language", "duration_s"]);
    assert_eq!(cols, want);
}

#[test]
fn every_row_obeys_routing_and_answer_codes() {
    let (fixture, _, _) = read_bundle(&fixtures());
    check_routing(&fixture);
    // and a larger bundle with another seed and several chunks per country
    let opts = swvr_synth::SynthOptions {
        respondents: 30_000,
        countries: vec!["SEN".into(), "LBN".into(), "THA".into()],
        seed: 99,
        wave: 2022,
    };
    check_routing(&crate::generate(&opts).0);
}

fn check_routing(r: &[u8]) {
    let q = Questionnaire::default_2021();
    let (h, rows) = records(r);
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let mut asked_blank_children = 0;
    for (line, row) in rows.iter().enumerate() {
        for d in q.demographics() {
            let v = val(&row[col(&d.name)]).unwrap_or_else(|| panic!("line {}: {} blank", line + 2, d.name));
            match &d.kind {
                DemographicKind::Coded { answers } => {
                    assert!(q.answer_sets()[answers].get(v as i8).is_some(), "{}={v}", d.name)
                }
                DemographicKind::Numeric {
                    min,
                    max,
                    missing_codes,
                } => assert!(
                    (i64::from(*min)..=i64::from(*max)).contains(&v) || missing_codes.contains(&(v as i16)),
                    "{}={v}",
                    d.name
                ),
            }
        }
        for item in q.items() {
            let v = val(&row[col(&item.id)]);
            let asked = match &item.asked_if {
                None => true,
                Some(rule) => val(&row[col(&rule.item)]).is_some_and(|p| rule.codes.contains(&(p as i8))),
            };
            if asked {
                let v = v.unwrap_or_else(|| panic!("line {}: {} blank when asked", line + 2, item.id));
                assert!(
                    q.answer_sets()[&item.answers].get(v as i8).is_some(),
                    "line {}: {}={v}",
                    line + 2,
                    item.id
                );
                if item.asked_if.is_some() {
                    asked_blank_children += 1;
                }
            } else {
                assert!(v.is_none(), "line {}: {} answered when not asked", line + 2, item.id);
            }
        }
    }
    assert!(asked_blank_children > 1000);
}

#[test]
fn dk_and_refused_present_at_plausible_rates() {
    let q = Questionnaire::default_2021();
    let (r, _, _) = read_bundle(&fixtures());
    let (h, rows) = records(&r);
    for item in q.items().iter().filter(|i| i.asked_if.is_none()) {
        let c = h.iter().position(|x| x == item.id).unwrap();
        let n = rows.len() as f64;
        let dk = rows.iter().filter(|r| &r[c] == "8").count() as f64 / n;
        let rf = rows.iter().filter(|r| &r[c] == "9").count() as f64 / n;
        assert!((0.008..0.04).contains(&dk), "{} DK {dk}", item.id);
        assert!((0.002..0.015).contains(&rf), "{} refused {rf}", item.id);
    }
}

#[test]
fn frames_strata_counts_and_ids() {
    let (r, _, _) = read_bundle(&fixtures());
    let (h, rows) = records(&r);
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (ca, cl, cm) = (col("n_adults"), col("n_landlines"), col("n_mobiles"));
    let mut per_country: BTreeMap<String, u64> = BTreeMap::new();
    let mut strata: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut frames: BTreeSet<(String, String)> = BTreeSet::new();
    let mut ids = HashSet::new();
    let (mut asked, mut blank_asked) = (0u64, 0u64);
    for row in &rows {
        let country = row[0].to_string();
        assert_eq!(&row[1], "2021");
        assert!(
            ids.insert((country.clone(), row[2].to_string())),
            "duplicate id {}",
            &row[2]
        );
        assert!(row[2].starts_with(&format!("{country}-")));
        *per_country.entry(country.clone()).or_default() += 1;
        *strata.entry((country.clone(), row[4].to_string())).or_default() += 1;
        frames.insert((country.clone(), row[3].to_string()));
        let (a, l, m) = (val(&row[ca]), val(&row[cl]), val(&row[cm]));
        let mut count = |v: Option<i64>, lo: i64, hi: i64| {
            asked += 1;
            match v {
                None => blank_asked += 1,
                Some(v) => assert!((lo..=hi).contains(&v), "{country} count {v}"),
            }
        };
        match (country.as_str(), &row[3]) {
            ("SEN", "L") => {
                assert!(row[4].starts_with("SEN-L-"));
                count(a, 1, 8);
                count(l, 1, 2);
                count(m, 0, 3);
            }
            ("SEN", "M") => {
                assert!(row[4].starts_with("SEN-M-"));
                count(m, 1, 3);
                count(l, 0, 2);
                if let Some(a) = a {
                    assert!((1..=8).contains(&a));
                }
                if l == Some(0) {
                    assert_eq!(a, None, "n_adults asked without a landline");
                }
            }
            (_, "M") => {
                assert_eq!((a, l), (None, None), "{country}: only n_mobiles is asked");
                count(m, 1, 3);
            }
            (c, f) => panic!("{c}: unexpected frame {f}"),
        }
    }
    assert!(per_country.values().all(|&n| n == 1000), "{per_country:?}");
    assert_eq!(per_country.len(), 8);
    let share = blank_asked as f64 / asked as f64;
    assert!((0.002..0.012).contains(&share), "blank counts {share}");
    for ((c, s), n) in &strata {
        assert!(*n >= 20, "{c} {s}: {n}");
    }
    for c in per_country.keys() {
        let k = strata.keys().filter(|(x, _)| x == c).count();
        match c.as_str() {
            "LBN" => assert_eq!(k, 1),
            "SEN" => assert!(k >= 6, "SEN strata {k}"),
            _ => assert!((3..=6).contains(&k), "{c} strata {k}"),
        }
        let fs: Vec<&str> = frames.iter().filter(|(x, _)| x == c).map(|(_, f)| f.as_str()).collect();
        assert_eq!(fs, if c == "SEN" { vec!["L", "M"] } else { vec!["M"] }, "{c}");
    }
    // dual users in SEN: most landline respondents also have a mobile, some mobile ones a landline
    let sen = |f: &str, c: usize, pred: fn(i64) -> bool| {
        rows.iter()
            .filter(|r| &r[0] == "SEN" && &r[3] == f && val(&r[c]).is_some_and(pred))
            .count()
    };
    assert!(sen("L", cm, |m| m >= 1) > 150);
    assert!(sen("M", cl, |l| l >= 1) > 50);
}

#[test]
fn design_is_consistent() {
    let (r, d, _) = read_bundle(&fixtures());
    let (_, rows) = records(&r);
    let (h, design) = records(&d);
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        ["country", "wave", "frame", "frame_size", "sample_size"]
    );
    assert_eq!(design.len(), 9);
    for row in &design {
        let (n_frame, n_sample): (u64, u64) = (row[3].parse().unwrap(), row[4].parse().unwrap());
        let completes = rows.iter().filter(|r| r[0] == row[0] && r[3] == row[2]).count() as u64;
        assert!(completes > 0 && n_sample > completes && n_sample <= n_frame, "{row:?}");
        if &row[2] == "M" {
            assert!(n_frame >= 1_000_000, "{row:?}");
        } else {
            assert!((100_000..1_000_000).contains(&n_frame), "{row:?}");
        }
    }
}

#[test]
fn targets_sum_to_one_and_cover_the_sample() {
    let (r, _, t) = read_bundle(&fixtures());
    let (h, rows) = records(&r);
    let (_, targets) = records(&t);
    let mut sums: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut share: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for row in &targets {
        let (int, frac) = row[4].split_once('.').unwrap();
        let micro: u64 = int.parse::<u64>().unwrap() * 1_000_000 + frac.parse::<u64>().unwrap();
        assert_eq!(frac.len(), 6);
        assert!(micro > 0, "{row:?}");
        *sums.entry((row[0].to_string(), row[2].to_string())).or_default() += micro;
        share.insert(
            (row[0].to_string(), row[2].to_string(), row[3].to_string()),
            row[4].parse().unwrap(),
        );
    }
    assert_eq!(sums.len(), 8 * 5);
    assert!(sums.values().all(|&s| s == 1_000_000), "{sums:?}");
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let band = |a: i64| match a {
        15..=29 => "15-29",
        30..=44 => "30-44",
        45..=59 => "45-59",
        _ => "60+",
    };
    // every sample category has a positive target; the sample is a phone sample
    let mut sample: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for row in &rows {
        for var in ["sex", "education", "employment", "urbanicity", "age"] {
            let v: i64 = row[col(var)].parse().unwrap();
            let (name, cat) = match var {
                "age" if v < 998 => ("age_group", band(v).to_string()),
                "age" => continue,
                _ if v == 8 || v == 9 => continue,
                _ => (var, v.to_string()),
            };
            let key = (row[0].to_string(), name.to_string(), cat);
            assert!(share.get(&key).is_some_and(|s| *s > 0.0), "{key:?} has no target");
            *sample.entry(key).or_default() += 1;
        }
    }
    for c in ["BOL", "IND", "KEN", "LBN", "SEN", "THA", "TUR", "UZB"] {
        let s = |var: &str, cat: &str| {
            let n: u64 = sample
                .iter()
                .filter(|(k, _)| k.0 == c && k.1 == var)
                .map(|(_, n)| n)
                .sum();
            sample.get(&(c.into(), var.into(), cat.into())).copied().unwrap_or(0) as f64 / n as f64
        };
        let t = |var: &str, cat: &str| share[&(c.to_string(), var.to_string(), cat.to_string())];
        assert!(s("sex", "1") > t("sex", "1"), "{c}: more men");
        assert!(s("age_group", "15-29") > t("age_group", "15-29"), "{c}: younger");
        assert!(s("age_group", "60+") < t("age_group", "60+"), "{c}: fewer old");
        assert!(s("education", "3") > t("education", "3"), "{c}: more educated");
        assert!(s("urbanicity", "3") > t("urbanicity", "3"), "{c}: more urban");
    }
}
