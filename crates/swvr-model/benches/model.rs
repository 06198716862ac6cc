//! `swvr model` on synthetic in-memory weighted data: 8 countries, 1e6 and
//! 1e7 respondents (`cargo bench -p swvr-model --bench model [-- N...]`).
//! Times `fit_batch` (grouping, one aggregation pass, IRLS, sandwich) and
//! prints a table with the peak resident memory (VmHWM).

#![allow(clippy::unwrap_used)] // benchmark on generated data: a failure is a bug to see

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_core::sys::peak_rss_mib;
use swvr_model::{ModelSpec, fit_batch};
use swvr_synth::rng::Rng;

const COUNTRIES: [&str; 8] = ["BOL", "IND", "KEN", "LBN", "SEN", "THA", "TUR", "UZB"];
const BANDS: [&str; 4] = ["15-29", "30-44", "45-59", "60+"];

/// A survey answer: 2% don't know (8), 1% refused (9), otherwise yes (1)
/// with probability `p_yes`, else no (2).
fn code(rng: &mut Rng, p_yes: f64) -> i8 {
    let x = rng.uniform();
    if x < 0.02 {
        8
    } else if x < 0.03 {
        9
    } else if rng.bernoulli(p_yes) {
        1
    } else {
        2
    }
}

fn synth(n: usize) -> RecordBatch {
    let mut rng = Rng::new(42);
    let mut country = Vec::with_capacity(n);
    let mut stratum = Vec::with_capacity(n);
    let mut age = Vec::with_capacity(n);
    let mut cols: HashMap<&str, Vec<i8>> = HashMap::new();
    let names = [
        "sex",
        "education",
        "employment",
        "urbanicity",
        "Q1",
        "Q3A",
        "Q3B",
        "Q3C",
        "Q7",
    ];
    for c in names {
        cols.insert(c, Vec::with_capacity(n));
    }
    let mut weight = Vec::with_capacity(n);
    for i in 0..n {
        let c = i * COUNTRIES.len() / n;
        country.push(COUNTRIES[c]);
        stratum.push(["S1", "S2", "S3", "S4", "S5", "S6"][rng.range(0, 5) as usize]);
        let band = rng.range(0, 4) as usize;
        age.push(BANDS.get(band).copied());
        cols.get_mut("sex").unwrap().push(1 + rng.range(0, 1) as i8);
        cols.get_mut("education")
            .unwrap()
            .push([1, 2, 3, 8][rng.range(0, 3) as usize]);
        cols.get_mut("employment").unwrap().push(1 + rng.range(0, 1) as i8);
        cols.get_mut("urbanicity").unwrap().push(1 + rng.range(0, 3) as i8);
        let q: Vec<i8> = [0.35, 0.2, 0.25, 0.5].iter().map(|&p| code(&mut rng, p)).collect();
        let eta = -0.4 + 1.2 * f64::from(q[0] == 1) + 0.8 * f64::from(q[1] == 1) + 0.6 * f64::from(q[2] == 1);
        let q7 = code(&mut rng, 1.0 / (1.0 + (-eta).exp()));
        for (name, v) in ["Q1", "Q3A", "Q3B", "Q3C"].iter().zip(q) {
            cols.get_mut(name).unwrap().push(v);
        }
        cols.get_mut("Q7").unwrap().push(q7);
        weight.push(0.3 + 2.4 * rng.uniform());
    }
    let mut md = HashMap::new();
    md.insert(swvr_core::LEVELS_KEY.to_string(), BANDS.join(","));
    let mut fields = vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("stratum", DataType::Utf8, false),
        Field::new("age_group", DataType::Utf8, true).with_metadata(md),
        Field::new("weight", DataType::Float64, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(country)),
        Arc::new(Int32Array::from(vec![2021; n])),
        Arc::new(StringArray::from(stratum)),
        Arc::new(StringArray::from(age)),
        Arc::new(Float64Array::from(weight)),
    ];
    for c in names {
        fields.push(Field::new(c, DataType::Int8, true));
        arrays.push(Arc::new(Int8Array::from(cols.remove(c).unwrap())));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<f64>().ok())
        .map(|x| x as usize)
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 10_000_000]
    } else {
        sizes
    };
    let spec = ModelSpec::default_spec();
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "| respondents | countries | build data (s) | model (s), best of 3 | of which grouping (s) | rows/s | peak RSS (MB) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for n in sizes {
        let t0 = Instant::now();
        let batch = synth(n);
        let build = t0.elapsed().as_secs_f64();
        let t = Instant::now();
        let groups =
            swvr_core::groups::group_by_country_wave(&batch, Path::new("bench"), &Selection::default()).unwrap();
        let grouping = t.elapsed().as_secs_f64();
        drop(groups);
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            let out = fit_batch(&batch, Path::new("bench"), &spec, &Selection::default(), &NoProgress).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(out.groups.len(), 8);
            assert!(out.groups.iter().all(|g| g.fit.note.is_none()));
        }
        println!(
            "| {n} | 8 | {build:.2} | {best:.3} | {grouping:.3} | {:.2e} | {:.0} |",
            n as f64 / best,
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
}
