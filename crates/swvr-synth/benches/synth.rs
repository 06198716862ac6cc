//! Benchmark of `swvr synth`: 1e6 and 1e7 respondents into a temporary
//! folder; prints seconds, MB/s of respondents.csv and peak memory (VmHWM).
//!
//! `cargo bench -p swvr-synth --bench synth` (set `SWVR_BENCH_MAX` to a
//! smaller row count for a quick run).

use std::time::Instant;

use swvr_core::progress::NoProgress;
use swvr_core::sys::peak_rss_mib;
use swvr_synth::{SynthOptions, synth};

fn main() {
    let max: u64 = std::env::var("SWVR_BENCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let dir = std::env::temp_dir().join(format!("swvr-synth-bench-{}", std::process::id()));
    println!("threads: {}", rayon::current_num_threads());
    println!("| respondents | seconds | rows/s | MB written | MB/s | peak RSS MiB |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [1_000_000u64, 10_000_000].into_iter().filter(|&n| n <= max) {
        let opts = SynthOptions {
            respondents: n,
            ..Default::default()
        };
        let t = Instant::now();
        let s = match synth(&dir, &opts, &NoProgress) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("synth failed: {e}");
                std::process::exit(1);
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let mb = s.respondents_bytes as f64 / 1e6;
        println!(
            "| {n} | {secs:.2} | {:.0} | {mb:.0} | {:.0} | {:.0} |",
            n as f64 / secs,
            mb / secs,
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
