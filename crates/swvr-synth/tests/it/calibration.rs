//! Generated answer rates land near the published figures (BRIEF.md),
//! checked on a large unweighted sample (10 000 per country). The published
//! numbers are written out here again, independently of the calibration
//! table of the crate, so a typo there fails this test.

use std::collections::BTreeMap;

use swvr_synth::SynthOptions;

use crate::{generate, records};

/// Fig. 3.3: volunteer action rate, men / women.
const FIG33: [(&str, f64, f64); 8] = [
    ("BOL", 81., 75.),
    ("IND", 82., 81.),
    ("KEN", 95., 90.),
    ("LBN", 75., 75.),
    ("SEN", 99., 97.),
    ("THA", 77., 82.),
    ("TUR", 82., 79.),
    ("UZB", 96., 88.),
];
/// Table 3.1: Q4B increased / decreased among Q4A = yes.
const T31: [(&str, f64, f64); 8] = [
    ("TUR", 18., 47.),
    ("UZB", 29., 46.),
    ("BOL", 21., 37.),
    ("IND", 33., 46.),
    ("KEN", 36., 43.),
    ("SEN", 40., 44.),
    ("LBN", 20., 23.),
    ("THA", 25., 23.),
];
/// Table 3.2: likely, women / men, for Q8C, Q8D, Q8E.
const T32: [(&str, [(f64, f64); 3]); 8] = [
    ("BOL", [(48., 54.), (60., 59.), (65., 75.)]),
    ("IND", [(47., 47.), (39., 42.), (48., 48.)]),
    ("KEN", [(68., 77.), (61., 74.), (77., 87.)]),
    ("LBN", [(35., 42.), (56., 58.), (65., 68.)]),
    ("SEN", [(83., 82.), (66., 66.), (85., 83.)]),
    ("THA", [(45., 56.), (54., 56.), (64., 72.)]),
    ("TUR", [(41., 48.), (40., 49.), (59., 71.)]),
    ("UZB", [(42., 51.), (39., 40.), (52., 70.)]),
];
/// Table A2: odds ratios for Q1, Q3A, Q3B, Q3C (None = "n.s.").
#[allow(clippy::type_complexity)]
const TA2: [(&str, [Option<f64>; 4]); 8] = [
    ("BOL", [Some(3.94), Some(2.33), None, None]),
    ("IND", [Some(7.86), Some(2.93), None, None]),
    ("KEN", [None, Some(2.71), Some(2.19), None]),
    ("LBN", [None, Some(1.78), Some(2.46), Some(2.66)]),
    ("SEN", [None, None, Some(2.86), Some(2.47)]),
    ("THA", [None, None, Some(1.98), Some(2.06)]),
    ("TUR", [Some(2.46), None, Some(3.39), Some(2.41)]),
    ("UZB", [Some(6.05), None, Some(1.65), None]),
];

type Row = BTreeMap<String, i64>;

fn pct(rows: &[&Row], den: impl Fn(&Row) -> bool, num: impl Fn(&Row) -> bool) -> f64 {
    let d: Vec<_> = rows.iter().filter(|r| den(r)).collect();
    100.0 * d.iter().filter(|r| num(r)).count() as f64 / d.len() as f64
}

/// Unweighted logistic regression by Newton–Raphson (IRLS); returns the
/// coefficients. `x` rows include the intercept.
fn logistic(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let k = x[0].len();
    let mut b = vec![0.0; k];
    for _ in 0..30 {
        let mut h = vec![vec![0.0; k + 1]; k];
        for (xi, yi) in x.iter().zip(y) {
            let eta: f64 = xi.iter().zip(&b).map(|(a, c)| a * c).sum();
            let p = 1.0 / (1.0 + (-eta).exp());
            for r in 0..k {
                for c in 0..k {
                    h[r][c] += p * (1.0 - p) * xi[r] * xi[c];
                }
                h[r][k] += (yi - p) * xi[r];
            }
        }
        // Gauss–Jordan on the augmented system.
        for col in 0..k {
            let piv = (col..k)
                .max_by(|&a, &c| h[a][col].abs().total_cmp(&h[c][col].abs()))
                .unwrap();
            h.swap(col, piv);
            let d = h[col][col];
            for v in h[col].iter_mut() {
                *v /= d;
            }
            for r in 0..k {
                if r != col {
                    let f = h[r][col];
                    let src = h[col].clone();
                    for (v, s) in h[r].iter_mut().zip(&src) {
                        *v -= f * s;
                    }
                }
            }
        }
        for r in 0..k {
            b[r] += h[r][k];
        }
    }
    b
}

#[test]
fn rates_and_odds_ratios_near_published() {
    let opts = SynthOptions {
        respondents: 80_000,
        ..Default::default()
    };
    let (r, _, t) = generate(&opts);
    let (h, recs) = records(&r);
    let names: Vec<String> = h.iter().map(String::from).collect();
    let rows: Vec<(String, Row)> = recs
        .iter()
        .map(|rec| {
            let m = names
                .iter()
                .zip(rec.iter())
                .filter_map(|(n, v)| v.parse::<i64>().ok().map(|v| (n.clone(), v)))
                .collect();
            (rec[0].to_string(), m)
        })
        .collect();
    let of = |c: &str| -> Vec<&Row> { rows.iter().filter(|(x, _)| x == c).map(|(_, r)| r).collect() };
    let is = |r: &Row, k: &str, v: i64| r.get(k) == Some(&v);
    let action = |r: &Row| {
        ["Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q5A"]
            .iter()
            .any(|k| is(r, k, 1))
    };
    // The action rate has small age and education effects centred on the
    // targets (as weighting would see them), so compare a post-stratified
    // rate: within sex, cells age band × education weighted to the product
    // of the target shares.
    let (_, trecs) = records(&t);
    let target = |c: &str, var: &str, cat: &str| -> f64 {
        trecs
            .iter()
            .find(|r| &r[0] == c && &r[2] == var && &r[3] == cat)
            .map(|r| r[4].parse().unwrap())
            .unwrap()
    };
    let band = |r: &Row| match r["age"] {
        15..=29 => Some("15-29"),
        30..=44 => Some("30-44"),
        45..=59 => Some("45-59"),
        60..=120 => Some("60+"),
        _ => None,
    };
    let edu = |r: &Row| Some(r["education"]).filter(|e| (1..=3).contains(e));
    let mut report = String::new();
    for (c, m, f) in FIG33 {
        let g = of(c);
        let mut got = [0.0; 2];
        for (k, sex) in [1, 2].into_iter().enumerate() {
            let cell = |r: &Row| Some((band(r)?, edu(r)?));
            let in_sex: Vec<&&Row> = g.iter().filter(|r| is(r, "sex", sex) && cell(r).is_some()).collect();
            let mut counts: BTreeMap<(&str, i64), f64> = BTreeMap::new();
            for r in &in_sex {
                *counts.entry(cell(r).unwrap()).or_default() += 1.0;
            }
            let n = in_sex.len() as f64;
            let (mut num, mut den) = (0.0, 0.0);
            for r in &in_sex {
                let (b, e) = cell(r).unwrap();
                let w = target(c, "age_group", b) * target(c, "education", &e.to_string()) / (counts[&(b, e)] / n);
                den += w;
                if action(r) {
                    num += w;
                }
            }
            got[k] = 100.0 * num / den;
        }
        let [am, af] = got;
        report += &format!("{c} action men {am:.1}/{m} women {af:.1}/{f}\n");
        assert!((am - m).abs() < 2.5 && (af - f).abs() < 2.5, "{report}");
        let same = pct(&g, |_| true, |r| is(r, "Q6", 3));
        assert!(same < 50.0, "{c}: Q6 same {same}");
    }
    for (c, inc, dec) in T31 {
        let g = of(c);
        let (i, d) = (
            pct(&g, |r| is(r, "Q4A", 1), |r| is(r, "Q4B", 1)),
            pct(&g, |r| is(r, "Q4A", 1), |r| is(r, "Q4B", 2)),
        );
        assert!(
            (i - inc).abs() < 3.0 && (d - dec).abs() < 3.0,
            "{c}: Q4B {i:.1}/{inc} {d:.1}/{dec}"
        );
    }
    for (c, items) in T32 {
        let g = of(c);
        for (item, (w, m)) in ["Q8C", "Q8D", "Q8E"].iter().zip(items) {
            let lw = pct(&g, |r| is(r, "sex", 2), |r| is(r, item, 1));
            let lm = pct(&g, |r| is(r, "sex", 1), |r| is(r, item, 1));
            assert!(
                (lw - w).abs() < 3.0 && (lm - m).abs() < 3.0,
                "{c} {item}: {lw:.1}/{w} {lm:.1}/{m}"
            );
        }
    }
    for (c, ors) in TA2 {
        let g = of(c);
        let keys = ["Q1", "Q3A", "Q3B", "Q3C"];
        let cc: Vec<&&Row> = g
            .iter()
            .filter(|r| is(r, "Q7", 1) || is(r, "Q7", 2))
            .filter(|r| keys.iter().all(|k| is(r, k, 1) || is(r, k, 2)))
            .collect();
        let x: Vec<Vec<f64>> = cc
            .iter()
            .map(|r| {
                let mut v = vec![1.0];
                v.extend(keys.iter().map(|k| if is(r, k, 1) { 1.0 } else { 0.0 }));
                v
            })
            .collect();
        let y: Vec<f64> = cc.iter().map(|r| if is(r, "Q7", 1) { 1.0 } else { 0.0 }).collect();
        let b = logistic(&x, &y);
        report += &format!(
            "{c} OR {:?}\n",
            b[1..]
                .iter()
                .map(|v| (v.exp() * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
        for (k, or) in ors.iter().enumerate() {
            let got = b[k + 1].exp();
            match or {
                Some(or) => assert!((b[k + 1] - or.ln()).abs() < 0.3, "{c} {}: OR {got:.2} vs {or}", keys[k]),
                None => assert!((0.85..1.6).contains(&got), "{c} {}: n.s. OR {got:.2}", keys[k]),
            }
        }
    }
    eprintln!("{report}");
}
