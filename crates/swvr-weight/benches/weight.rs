//! Raking at scale: base weights and raking (3 margins) of 1e6 and 1e7
//! respondents in one country, and a 1e-12 tolerance on 5e6 respondents.
//! In-memory inputs (no Arrow I/O). Run: `cargo bench -p swvr-weight`.

use std::time::Instant;

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

fn vm_hwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
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
        codes[0].push(u8::from(r.below(10) < 6));
        codes[1].push([0u8, 0, 0, 1, 1, 2, 3][r.below(7) as usize]);
        codes[2].push([0u8, 1, 1, 2, 2][r.below(5) as usize]);
    }
    Case { frames, counts, codes }
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
    let targets = vec![vec![0.49, 0.51], vec![0.35, 0.3, 0.2, 0.15], vec![0.3, 0.5, 0.2]];
    println!(
        "| respondents | tolerance | base weights (s) | raking (s) | sweeps | max margin error | peak RSS (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (n, tol) in [(1_000_000usize, 1e-10), (10_000_000, 1e-10), (5_000_000, 1e-12)] {
        let case = build(n, 0x5eed_0000 + n as u64);
        let t0 = Instant::now();
        let base: Vec<f64> = case
            .frames
            .iter()
            .zip(&case.counts)
            .map(|(&f, &c)| base_weight(f, c, &design, &scheme.base).map_or(f64::NAN, |b| b.weight))
            .collect();
        let t_base = t0.elapsed().as_secs_f64();
        let p = RakeProblem {
            codes: &case.codes,
            levels: &levels,
            targets: &targets,
        };
        let s = RakeSettings {
            tolerance: tol,
            max_iterations: 1000,
            trimming: None,
        };
        let t1 = Instant::now();
        let out = rake(&base, &p, &s);
        let t_rake = t1.elapsed().as_secs_f64();
        assert!(out.converged, "n = {n}: max margin error {}", out.max_margin_error);
        println!(
            "| {n} | {tol:e} | {t_base:.3} | {t_rake:.3} | {} | {:.2e} | {:.0} |",
            out.iterations,
            out.max_margin_error,
            vm_hwm_mib()
        );
    }
}
