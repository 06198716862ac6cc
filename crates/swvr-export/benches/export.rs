//! Export throughput (issue 11): reads `OUT/weight/weighted.arrow` once and
//! times, on the same in-memory batch, writing it back as Arrow IPC (the
//! baseline: what the weight stage writes) and as each export format. The
//! inputs come from a `swvr run` at the size of interest:
//!
//! ```sh
//! swvr synth --out /tmp/b --respondents 1000000 && swvr run --data /tmp/b --out /tmp/b-out
//! SWVR_BENCH_OUT=/tmp/b-out cargo bench -p swvr-export
//! ```
//!
//! Without `SWVR_BENCH_OUT` it prints how to make one and exits.

use std::time::Instant;

use swvr_core::questionnaire::Questionnaire;
use swvr_export::{Format, write_weighted};

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

fn main() {
    let Some(out) = std::env::var_os("SWVR_BENCH_OUT").map(std::path::PathBuf::from) else {
        println!("SKIPPED: set SWVR_BENCH_OUT to the output folder of a `swvr run` (see the file's doc)");
        return;
    };
    let q = Questionnaire::default_2021();
    let src = out.join("weight/weighted.arrow");
    let t = Instant::now();
    let batch = match swvr_core::io::read_arrow(&src) {
        Ok(b) => b,
        Err(e) => {
            println!("cannot read {}: {e}", src.display());
            return;
        }
    };
    println!("rows: {}, columns: {}", batch.num_rows(), batch.num_columns());
    println!("| step | wall s | CPU s | wall ratio to Arrow | CPU ratio | MiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!("| read weighted.arrow | {:.2} | | | | |", t.elapsed().as_secs_f64());
    let dir = std::env::temp_dir().join(format!("swvr-export-bench-{}", std::process::id()));
    let arrow_path = dir.join("weighted.arrow");
    let (t, c) = (Instant::now(), cpu_seconds());
    if let Err(e) = swvr_core::io::write_arrow(&arrow_path, &batch.schema(), std::slice::from_ref(&batch)) {
        println!("cannot write: {e}");
        return;
    }
    let base = t.elapsed().as_secs_f64();
    let base_cpu = cpu_seconds() - c;
    let mib = |p: &std::path::Path| std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1048576.0);
    println!(
        "| write weighted.arrow (baseline) | {base:.2} | {base_cpu:.2} | 1.00 | 1.00 | {:.0} |",
        mib(&arrow_path)
    );
    for f in [Format::Parquet, Format::Csv, Format::Sav, Format::Dta] {
        let (t, c) = (Instant::now(), cpu_seconds());
        match write_weighted(&batch, &src, &q, f, &dir) {
            Ok(Some(p)) => {
                let s = t.elapsed().as_secs_f64();
                let cs = cpu_seconds() - c;
                println!(
                    "| write weighted.{f} | {s:.2} | {cs:.2} | {:.2} | {:.2} | {:.0} |",
                    s / base,
                    cs / base_cpu,
                    mib(&p)
                );
            }
            Ok(None) => {}
            Err(e) => println!("| write weighted.{f} | failed: {e} | | |"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
