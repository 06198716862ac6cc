//! Exact maximum percent match and the whole quality check on bundles made
//! by `swvr synth` (the 2021 wave's shape) and validated by ingest:
//! one country of 1e6 interviews by default.
//!
//! `cargo bench -p swvr-fieldwork --bench fieldwork [-- N [COUNTRIES]]`
//! (e.g. `-- 10000000 BOL,IND,KEN,LBN,SEN,THA,TUR,UZB`). Bundles are cached
//! under `target/bench-fieldwork/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use swvr_core::groups::{Selection, group_by_country_wave};
use swvr_core::io::read_arrow_columns;
use swvr_core::progress::NoProgress;
use swvr_core::questionnaire::Questionnaire;
use swvr_core::sys::peak_rss_mib;
use swvr_fieldwork::quality::{check, input_columns, int_values};
use swvr_fieldwork::{Options, matching};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let countries: Vec<String> = args
        .get(1)
        .map_or(vec!["BOL".to_string()], |c| c.split(',').map(String::from).collect());
    let q = Questionnaire::default_2021();
    let target = std::env::var("CARGO_TARGET_DIR").map_or(PathBuf::from("target"), PathBuf::from);
    let dir = target.join(format!("bench-fieldwork/{n}-{}", countries.join("-")));
    let arrow = dir.join("out/ingest/respondents.arrow");
    if !arrow.is_file() {
        let t = Instant::now();
        let opts = swvr_synth::SynthOptions {
            respondents: n,
            countries: countries.clone(),
            ..swvr_synth::SynthOptions::default()
        };
        swvr_synth::synth(&dir.join("data"), &opts, &NoProgress).unwrap();
        swvr_ingest::ingest(
            &dir.join("data"),
            &dir.join("out"),
            &q,
            &Selection::default(),
            &NoProgress,
        )
        .unwrap();
        eprintln!("bundle: {n} respondents in {:.1}s", t.elapsed().as_secs_f64());
    }
    let cols = input_columns(&q);
    let names: Vec<&str> = cols.iter().map(String::as_str).collect();
    let t = Instant::now();
    let batch = read_arrow_columns(&arrow, &names).unwrap();
    let read = t.elapsed().as_secs_f64();

    // max_percent_match alone, per country-wave (codes built as the stage does).
    let groups = group_by_country_wave(&batch, &arrow, &Selection::default()).unwrap();
    let mut pos: Vec<&str> = q.demographics().iter().map(|d| d.name.as_str()).collect();
    pos.extend(q.items().iter().map(|i| i.id.as_str()));
    let k = pos.len();
    let values: Vec<Vec<Option<i32>>> = pos.iter().map(|c| int_values(&batch, c, &arrow).unwrap()).collect();
    for g in &groups {
        let n = g.n();
        let mut codes = vec![0u8; n * k];
        for (j, vals) in values.iter().enumerate() {
            let mut dict: HashMap<i32, u8> = HashMap::new();
            for (i, &r) in g.rows.iter().enumerate() {
                if let Some(v) = vals[r as usize] {
                    let next = dict.len() as u8 + 1;
                    codes[i * k + j] = *dict.entry(v).or_insert(next);
                }
            }
        }
        let t = Instant::now();
        let near = matching::nearest(&codes, n, k);
        let secs = t.elapsed().as_secs_f64();
        let dup = near.iter().filter(|x| x.is_some_and(|b| b.distance == 0)).count();
        let mut by_d = [0usize; 8];
        for b in near.iter().flatten() {
            by_d[(b.distance as usize).min(7)] += 1;
        }
        println!(
            "max_percent_match {} {}: {n} interviews, {k} positions: {secs:.2}s (distance 0..6,7+: {by_d:?}; {dup} exact copies)",
            g.country, g.wave
        );
    }

    // The whole quality check (match, p-values, speeders, straight-lining).
    let t = Instant::now();
    let res = check(&batch, &arrow, &q, &Options::default(), &Selection::default()).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let flagged: u64 = res.flags.iter().map(|f| f.high_match).sum();
    println!(
        "quality::check: {} interviews, {} country-waves: {secs:.2}s (read {read:.2}s), {flagged} high matches, peak RSS {:.0} MiB",
        batch.num_rows(),
        res.groups.len(),
        peak_rss_mib().unwrap_or(0.0)
    );
}
