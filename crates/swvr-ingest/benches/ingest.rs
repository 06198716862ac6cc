//! Ingest throughput on synthetic bundles of 250 000 and 1 000 000
//! respondents (swvr-synth, seed 2021), one ingest run each after the bundle
//! is generated. Prints MB/s of respondents.csv, rows/s and the peak
//! resident memory of the ingest run (VmHWM, reset through
//! /proc/self/clear_refs before it when the kernel allows). Wall time
//! includes the fsync of the outputs; CPU time is user + system.
//! Run: `cargo bench -p swvr-ingest` (set SWVR_BENCH_ROWS=N to pick one size).

use std::time::Instant;

use swvr_core::groups::Selection;
use swvr_core::progress::NoProgress;
use swvr_core::questionnaire::Questionnaire;
use swvr_core::sys::peak_rss_mib;
use swvr_synth::{SynthOptions, synth};

/// User + system CPU seconds of this process (/proc/self/stat, 100 ticks/s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit(')').next()?.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn main() {
    let sizes: Vec<u64> = match std::env::var("SWVR_BENCH_ROWS").ok().and_then(|s| s.parse().ok()) {
        Some(n) => vec![n],
        None => vec![250_000, 1_000_000],
    };
    let q = Questionnaire::default_2021();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "swvr ingest benchmark ({threads} hardware threads; ingest uses a reader, a validating and a writer thread)"
    );
    println!(
        "| rows | CSV MB | wall s | MB/s (wall) | rows/s (wall) | CPU s | MB/s (CPU) | accepted | rejected | peak MiB (ingest) | peak reset |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for n in sizes {
        let dir = std::env::temp_dir().join(format!("swvr-ingest-bench-{}-{n}", std::process::id()));
        let data = dir.join("data");
        let out = dir.join("out");
        let opts = SynthOptions {
            respondents: n,
            ..SynthOptions::default()
        };
        if let Err(e) = synth(&data, &opts, &NoProgress) {
            eprintln!("synth failed: {e}");
            std::process::exit(1);
        }
        let bytes = std::fs::metadata(data.join("respondents.csv")).map_or(0, |m| m.len());
        let reset = reset_hwm();
        let cpu0 = cpu_seconds();
        let t = Instant::now();
        let s = match swvr_ingest::ingest(&data, &out, &q, &Selection::default(), &NoProgress) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ingest failed: {e}");
                std::process::exit(1);
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let peak = peak_rss_mib().unwrap_or(f64::NAN);
        println!(
            "| {} | {:.1} | {:.3} | {:.0} | {:.0} | {:.2} | {:.0} | {} | {} | {:.0} | {} |",
            s.rows_read,
            bytes as f64 / 1e6,
            secs,
            bytes as f64 / 1e6 / secs,
            s.rows_read as f64 / secs,
            cpu,
            bytes as f64 / 1e6 / cpu,
            s.rows_accepted,
            s.rows_rejected,
            peak,
            if reset { "yes" } else { "no (includes synth)" }
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
