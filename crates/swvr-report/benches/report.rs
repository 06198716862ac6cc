//! Time of `swvr_report::report` on a synthetic run folder: a tables.arrow
//! of the fixture's shape (8 countries, every item × every domain level ×
//! category of the 2021 questionnaire) and a weight/weighted.arrow of N
//! respondents (the histogram and margin input). Run with
//! `cargo bench -p swvr-report --bench report [-- SIZES...]` (default 1e6).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::questionnaire::{Levels, Questionnaire};

const COUNTRIES: [&str; 8] = ["BOL", "IND", "KEN", "LBN", "SEN", "THA", "TUR", "UZB"];
const BANDS: [&str; 4] = ["15-29", "30-44", "45-59", "60+"];

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn tables(q: &Questionnaire, dir: &Path) -> usize {
    let mut rng = Rng(12);
    let mut levels: Vec<(String, String)> = vec![("total".into(), "total".into())];
    for d in q.domains() {
        match &d.levels {
            Levels::Bands(_) => levels.extend(BANDS.iter().map(|b| (d.name.clone(), b.to_string()))),
            Levels::Codes(ls) => levels.extend(ls.iter().map(|l| (d.name.clone(), l.label.clone()))),
        }
    }
    let mut cols: [Vec<String>; 5] = Default::default();
    let (mut wave, mut n, mut nc, mut est, mut se, mut lo, mut hi, mut deff) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for c in COUNTRIES {
        for item in q.items() {
            for (d, l) in &levels {
                for code in &q.answer_set(item).codes {
                    let p = 0.05 + 0.9 * rng.uniform();
                    let s = 0.02 + 0.02 * rng.uniform();
                    for (col, v) in cols.iter_mut().zip([c, &item.id, d, l, &code.category]) {
                        col.push(v.to_string());
                    }
                    wave.push(2021);
                    n.push(300i64);
                    nc.push((300.0 * p) as i64);
                    est.push(p);
                    se.push(s);
                    lo.push((p - 2.0 * s).max(0.0));
                    hi.push((p + 2.0 * s).min(1.0));
                    deff.push(1.5);
                }
            }
        }
    }
    let rows = wave.len();
    let [country, item, domain, level, category] = cols;
    let s = |v: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let f = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let schema = Arc::new(Schema::new(vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("item", DataType::Utf8, false),
        Field::new("domain", DataType::Utf8, false),
        Field::new("domain_level", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
        Field::new("n_category", DataType::Int64, false),
        Field::new("estimate", DataType::Float64, false),
        Field::new("se", DataType::Float64, false),
        Field::new("ci_low", DataType::Float64, true),
        Field::new("ci_high", DataType::Float64, true),
        Field::new("deff", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            s(country),
            Arc::new(Int32Array::from(wave)),
            s(item),
            s(domain),
            s(level),
            s(category),
            Arc::new(Int64Array::from(n)),
            Arc::new(Int64Array::from(nc)),
            f(est),
            f(se),
            f(lo),
            f(hi),
            f(deff),
        ],
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("tabulate")).unwrap();
    swvr_core::io::write_arrow(&dir.join("tabulate/tables.arrow"), &schema, &[batch]).unwrap();
    rows
}

fn weighted(n: usize, dir: &Path) {
    let mut rng = Rng(7);
    let per = n / COUNTRIES.len();
    let total = per * COUNTRIES.len();
    let mut country = Vec::with_capacity(total);
    let mut stratum = Vec::with_capacity(total);
    let mut frame = Vec::with_capacity(total);
    let (mut base, mut weight) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let (mut sex, mut edu) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let mut band = Vec::with_capacity(total);
    for c in COUNTRIES {
        for _ in 0..per {
            country.push(c);
            let u = rng.uniform();
            stratum.push(["north", "centre", "south"][(u * 3.0) as usize % 3]);
            frame.push(if u < 0.3 { "L" } else { "M" });
            base.push(400.0 + 1000.0 * rng.uniform());
            weight.push(0.2 + 4.8 * rng.uniform() * rng.uniform());
            sex.push(1 + (rng.next() % 2) as i8);
            edu.push(1 + (rng.next() % 3) as i8);
            band.push(BANDS[(rng.next() % 4) as usize]);
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("stratum", DataType::Utf8, false),
        Field::new("frame", DataType::Utf8, false),
        Field::new("base_weight", DataType::Float64, false),
        Field::new("weight", DataType::Float64, false),
        Field::new("sex_weighting", DataType::Int8, false),
        Field::new("age_group_weighting", DataType::Utf8, false),
        Field::new("education_weighting", DataType::Int8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(country)),
            Arc::new(Int32Array::from(vec![2021; total])),
            Arc::new(StringArray::from(stratum)),
            Arc::new(StringArray::from(frame)),
            Arc::new(Float64Array::from(base)),
            Arc::new(Float64Array::from(weight)),
            Arc::new(Int8Array::from(sex)),
            Arc::new(StringArray::from(band)),
            Arc::new(Int8Array::from(edu)),
        ],
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("weight")).unwrap();
    swvr_core::io::write_arrow(&dir.join("weight/weighted.arrow"), &schema, &[batch]).unwrap();
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<f64>().ok().map(|x| x as usize))
        .collect();
    let sizes = if sizes.is_empty() { vec![1_000_000] } else { sizes };
    let q = Questionnaire::default_2021();
    for n in sizes {
        let dir = std::env::temp_dir().join(format!("swvr-report-bench-{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rows = tables(&q, &dir);
        weighted(n, &dir);
        let t = Instant::now();
        let s = swvr_report::report(&dir, &swvr_report::ReportOptions::default()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "report: {n} respondents, {rows} estimates, {} country-waves: {secs:.3} s, page {:.1} MiB, peak RSS {} MiB",
            s.groups,
            s.bytes as f64 / 1048576.0,
            swvr_core::sys::peak_rss_mib().map_or_else(|| "?".into(), |m| format!("{m:.0}"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
