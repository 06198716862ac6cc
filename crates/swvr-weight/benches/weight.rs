//! Raking at scale: base weights and raking (3 margins) of 1e6 and 1e7
//! respondents in one country, and a 1e-12 tolerance on 5e6 respondents.
//! In-memory inputs (no Arrow I/O). Run: `cargo bench -p swvr-weight`.

use std::time::Instant;

use std::sync::Arc;

use arrow_array::{ArrayRef, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_core::sys::peak_rss_mib;
use swvr_weight::base::{Counts, Frame, base_weight};
use swvr_weight::inputs::{Design, FrameDesign};
use swvr_weight::rake::{RakeProblem, RakeSettings, rake};
use swvr_weight::scheme::Scheme;

/// xorshift64* stream, fixed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Case {
    frames: Vec<Frame>,
    counts: Vec<Counts>,
    codes: Vec<Vec<u8>>,
}

fn build(n: usize, seed: u64) -> Case {
    let mut r = Rng(seed);
    let mut frames = Vec::with_capacity(n);
    let mut counts = Vec::with_capacity(n);
    let mut codes = vec![Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n)];
    for _ in 0..n {
        let landline = r.below(5) == 0;
        frames.push(if landline { Frame::Landline } else { Frame::Mobile });
        counts.push(Counts {
            n_adults: Some(1 + r.below(5) as i32),
            n_landlines: Some(if landline {
                1 + r.below(2) as i32
            } else {
                r.below(2) as i32
            }),
            n_mobiles: Some(if landline {
                r.below(3) as i32
            } else {
                1 + r.below(3) as i32
            }),
        });
        // Skewed sample: more women, more young, more educated than the targets.
        // Education depends on age and sex, so IPF needs several sweeps.
        let sex = u8::from(r.below(10) < 6);
        let age = [0u8, 0, 0, 1, 1, 2, 3][r.below(7) as usize];
        let edu = match (age, sex) {
            (0, _) => [1u8, 1, 2, 2, 2][r.below(5) as usize],
            (3, 1) => [0u8, 0, 0, 1][r.below(4) as usize],
            _ => [0u8, 1, 2][r.below(3) as usize],
        };
        codes[0].push(sex);
        codes[1].push(age);
        codes[2].push(edu);
    }
    Case { frames, counts, codes }
}

/// The margins' error measured with plain sequential f64 sums (what the
/// compensated sums protect against).
fn naive_error(w: &[f64], codes: &[Vec<u8>], targets: &[Vec<f64>]) -> f64 {
    let total: f64 = w.iter().sum();
    let mut worst = 0.0f64;
    for (col, t) in codes.iter().zip(targets) {
        let mut m = vec![0.0f64; t.len()];
        for (&x, &c) in w.iter().zip(col) {
            m[c as usize] += x;
        }
        let s: f64 = t.iter().sum();
        for (mj, tj) in m.iter().zip(t) {
            worst = worst.max((mj / total - tj / s).abs());
        }
    }
    worst
}

fn main() {
    let scheme = Scheme::default_scheme();
    let design = Design {
        landline: Some(FrameDesign {
            frame_size: 2.0e6,
            sample_size: 2.0e5,
            line: 2,
        }),
        mobile: Some(FrameDesign {
            frame_size: 2.0e7,
            sample_size: 1.0e6,
            line: 3,
        }),
    };
    let levels = [2usize, 4, 3];
    let margins = vec![vec![0], vec![1], vec![2]];
    let targets = vec![vec![0.49, 0.51], vec![0.35, 0.3, 0.2, 0.15], vec![0.3, 0.5, 0.2]];
    println!(
        "| respondents | tolerance | base weights (s) | raking (s) | sweeps | max margin error (Neumaier) | same, naive f64 sums | peak RSS (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, tol) in [(1_000_000usize, 1e-10), (10_000_000, 1e-10), (5_000_000, 1e-12)] {
        let case = build(n, 0x5eed_0000 + n as u64);
        let t0 = Instant::now();
        let base: Vec<f64> = case
            .frames
            .iter()
            .zip(&case.counts)
            .map(|(&f, &c)| base_weight(f, c, &design, scheme.base()).map_or(f64::NAN, |b| b.weight))
            .collect();
        let t_base = t0.elapsed().as_secs_f64();
        let p = RakeProblem {
            codes: &case.codes,
            levels: &levels,
            margins: &margins,
            targets: &targets,
        };
        let s = RakeSettings {
            tolerance: tol,
            max_iterations: 1000,
            trimming: None,
            calibration: swvr_weight::calibrate::Calibration::Raking,
        };
        let t1 = Instant::now();
        let out = rake(&base, &p, &s);
        let t_rake = t1.elapsed().as_secs_f64();
        assert!(out.converged, "n = {n}: max margin error {}", out.max_margin_error);
        println!(
            "| {n} | {tol:e} | {t_base:.3} | {t_rake:.3} | {} | {:.2e} | {:.2e} | {:.0} |",
            out.iterations,
            out.max_margin_error,
            naive_error(&out.weights, &case.codes, &targets),
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    end_to_end(&scheme, &targets);
}

/// The whole stage (Arrow read, 8 country-waves in parallel, Arrow write)
/// on 1e6 respondents, default scheme (trimming on).
fn end_to_end(scheme: &Scheme, targets: &[Vec<f64>]) {
    let n = 1_000_000usize;
    let countries = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH"];
    let case = build(n, 77);
    let dir = std::env::temp_dir().join(format!("swvr-weight-bench-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).ok();
    let mut design = String::from("country,wave,frame,frame_size,sample_size\n");
    let mut tcsv = String::from("country,wave,variable,category,share\n");
    let bands = ["15-29", "30-44", "45-59", "60+"];
    for c in countries {
        design.push_str(&format!("{c},2021,L,2000000,200000\n{c},2021,M,20000000,1000000\n"));
        for (v, labels) in [
            ("sex", vec!["1", "2"]),
            ("age_group", bands.to_vec()),
            ("education", vec!["1", "2", "3"]),
        ] {
            let k = match v {
                "sex" => 0,
                "age_group" => 1,
                _ => 2,
            };
            for (j, l) in labels.iter().enumerate() {
                tcsv.push_str(&format!("{c},2021,{v},{l},{}\n", targets[k][j]));
            }
        }
    }
    std::fs::write(data.join("design.csv"), design).ok();
    std::fs::write(data.join("targets.csv"), tcsv).ok();
    let country: Vec<&str> = (0..n).map(|i| countries[i % 8]).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("R{i:08}")).collect();
    let frame: Vec<&str> = case
        .frames
        .iter()
        .map(|f| if *f == Frame::Landline { "L" } else { "M" })
        .collect();
    let strata: Vec<String> = (0..n).map(|i| format!("S{}", i % 5)).collect();
    let ages = [20i16, 35, 50, 70];
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(country)),
        Arc::new(Int32Array::from(vec![2021; n])),
        Arc::new(StringArray::from(ids)),
        Arc::new(StringArray::from(frame)),
        Arc::new(StringArray::from(strata)),
        Arc::new(Int32Array::from(
            case.counts.iter().map(|c| c.n_adults).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            case.counts.iter().map(|c| c.n_landlines).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            case.counts.iter().map(|c| c.n_mobiles).collect::<Vec<_>>(),
        )),
        Arc::new(Int8Array::from(
            case.codes[0].iter().map(|&c| c as i8 + 1).collect::<Vec<_>>(),
        )),
        Arc::new(Int16Array::from(
            case.codes[1].iter().map(|&c| ages[c as usize]).collect::<Vec<_>>(),
        )),
        Arc::new(Int8Array::from(
            case.codes[2].iter().map(|&c| c as i8 + 1).collect::<Vec<_>>(),
        )),
    ];
    let schema = swvr_core::io::with_version(Schema::new(vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("respondent_id", DataType::Utf8, false),
        Field::new("frame", DataType::Utf8, false),
        Field::new("stratum", DataType::Utf8, false),
        Field::new("n_adults", DataType::Int32, true),
        Field::new("n_landlines", DataType::Int32, true),
        Field::new("n_mobiles", DataType::Int32, true),
        Field::new("sex", DataType::Int8, false),
        Field::new("age", DataType::Int16, false),
        Field::new("education", DataType::Int8, false),
    ]));
    let Ok(batch) = RecordBatch::try_new(Arc::new(schema.clone()), cols) else {
        println!("end-to-end: could not build the batch");
        return;
    };
    let out = dir.join("out");
    if swvr_core::io::write_arrow(&out.join("ingest/respondents.arrow"), &schema, &[batch]).is_err() {
        println!("end-to-end: could not write respondents.arrow");
        return;
    }
    let t = Instant::now();
    let res = swvr_weight::weight(
        &data,
        &out,
        scheme,
        &swvr_core::questionnaire::Questionnaire::default_2021(),
        &Selection::default(),
        &NoProgress,
    );
    let secs = t.elapsed().as_secs_f64();
    match res {
        Ok(d) => println!(
            "\nend-to-end `weight()` (Arrow read + 8 country-waves of 125000 in parallel + Arrow write, default scheme with trimming): {n} respondents in {secs:.3} s, {} converged, peak RSS {:.0} MiB",
            d.iter().filter(|d| d.converged).count(),
            peak_rss_mib().unwrap_or(f64::NAN)
        ),
        Err(e) => println!("end-to-end failed: {e}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}
