//! Tabulation time on synthetic weighted batches of 1e6 and 1e7 respondents
//! (8 countries, 6 strata each, every item × every domain). Run with
//! `cargo bench -p swvr-tabulate --bench tabulate [-- SIZES...]`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::questionnaire::Questionnaire;
use swvr_core::sys::peak_rss_mib;
use swvr_synth::rng::Rng;

/// A survey answer: 3% don't know (8), 1% refused (9), otherwise yes (1)
/// with probability `p_yes`, else no (2).
fn code(rng: &mut Rng, p_yes: f64) -> i8 {
    let u = rng.uniform();
    if u < 0.03 {
        8
    } else if u < 0.04 {
        9
    } else if rng.bernoulli(p_yes) {
        1
    } else {
        2
    }
}

fn batch(n: usize, q: &Questionnaire) -> RecordBatch {
    let countries = ["BOL", "IND", "KEN", "LBN", "SEN", "THA", "TUR", "UZB"];
    let mut rng = Rng::new(2021);
    let mut country = Vec::with_capacity(n);
    let mut stratum = Vec::with_capacity(n);
    let mut demo: Vec<Vec<i8>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
    let mut age = Vec::with_capacity(n);
    let mut band: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut weight = Vec::with_capacity(n);
    let mut items: Vec<Vec<Option<i8>>> = (0..q.items().len()).map(|_| Vec::with_capacity(n)).collect();
    let strata: Vec<String> = (0..48).map(|i| format!("{}-S{}", countries[i / 6], i % 6)).collect();
    let idx: HashMap<&str, usize> = q
        .items()
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    for r in 0..n {
        let c = r * countries.len() / n;
        country.push(countries[c]);
        stratum.push(strata[c * 6 + rng.range(0, 5) as usize].as_str());
        demo[0].push(if rng.uniform() < 0.01 {
            9
        } else {
            1 + rng.range(0, 1) as i8
        });
        for (d, k) in [(1usize, 3u32), (2, 2), (3, 4)] {
            demo[d].push(if rng.uniform() < 0.02 {
                8
            } else {
                1 + rng.range(0, k - 1) as i8
            });
        }
        let a = rng.range(15, 84) as i16;
        age.push(a);
        band.push(Some(match a {
            15..=29 => "15-29",
            30..=44 => "30-44",
            45..=59 => "45-59",
            _ => "60+",
        }));
        weight.push(0.3 + 1.7 * rng.uniform());
        let mut codes: Vec<Option<i8>> = vec![None; q.items().len()];
        for (i, item) in q.items().iter().enumerate() {
            let asked = match &item.asked_if {
                None => true,
                Some(rule) => codes[idx[rule.item.as_str()]].is_some_and(|v| rule.codes.contains(&v)),
            };
            if asked {
                let set = q.answer_set(item);
                let k = set.codes.len();
                codes[i] = Some(if k == 4 {
                    code(&mut rng, 0.4)
                } else {
                    set.codes[rng.range(0, k as u32 - 1) as usize].code
                });
            }
        }
        for (col, v) in items.iter_mut().zip(codes) {
            col.push(v);
        }
    }
    let mut fields = vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("stratum", DataType::Utf8, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(country)),
        Arc::new(Int32Array::from(vec![2021; n])),
        Arc::new(StringArray::from(stratum)),
    ];
    for (name, v) in ["sex", "education", "employment", "urbanicity"].iter().zip(demo) {
        fields.push(Field::new(*name, DataType::Int8, false));
        cols.push(Arc::new(Int8Array::from(v)));
    }
    fields.push(Field::new("age", DataType::Int16, false));
    cols.push(Arc::new(Int16Array::from(age)));
    for (item, v) in q.items().iter().zip(items) {
        fields.push(Field::new(&item.id, DataType::Int8, true));
        cols.push(Arc::new(Int8Array::from(v)));
    }
    let md = HashMap::from([(swvr_core::LEVELS_KEY.to_string(), "15-29,30-44,45-59,60+".to_string())]);
    fields.push(Field::new("age_group", DataType::Utf8, true).with_metadata(md));
    cols.push(Arc::new(StringArray::from(band)));
    fields.push(Field::new("weight", DataType::Float64, false));
    cols.push(Arc::new(Float64Array::from(weight)));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

fn main() {
    let q = Questionnaire::default_2021();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<f64>().ok().map(|v| v as usize))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 10_000_000]
    } else {
        sizes
    };
    println!(
        "threads: {}\n| respondents | build batch (s) | tabulate (s) | estimates | rows/s | peak RSS (MB) |",
        rayon::current_num_threads()
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let t0 = Instant::now();
        let b = batch(n, &q);
        let build = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let est = swvr_tabulate::tabulate_batch(&b, &q, &Default::default()).unwrap();
        let tab = t1.elapsed().as_secs_f64();
        println!(
            "| {n} | {build:.2} | {tab:.3} | {} | {:.3e} | {:.0} |",
            est.len(),
            n as f64 / tab,
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
}
