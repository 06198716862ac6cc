//! Integration tests of `swvr synth`.
#![allow(clippy::unwrap_used)]

mod bundle;
mod calibration;
mod determinism;
mod errors;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use swvr_core::progress::{NoProgress, Progress};
use swvr_synth::{SynthOptions, synth};

/// A fresh temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new unique folder path (not created).
    pub fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "swvr-synth-it-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Generates a bundle and returns (respondents, design, targets) bytes.
pub fn generate(opts: &SynthOptions) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dir = TempDir::new("gen");
    synth(&dir.0, opts, &NoProgress).unwrap();
    read_bundle(&dir.0)
}

/// Reads (respondents, design, targets) bytes of a bundle folder.
pub fn read_bundle(dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let r = |f: &str| std::fs::read(dir.join(f)).unwrap();
    (r("respondents.csv"), r("design.csv"), r("targets.csv"))
}

/// The committed fixture folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Counts rows reported through [`Progress`].
#[derive(Default)]
pub struct Counter(pub AtomicU64, pub AtomicU64);

impl Progress for Counter {
    fn start(&self, _phase: &str, total: Option<u64>, _unit: swvr_core::progress::Unit) {
        self.1.store(total.unwrap_or(0), Ordering::Relaxed);
    }
    fn advance(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

/// Parsed respondents.csv: header and records.
pub fn records(bytes: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut rdr = csv::Reader::from_reader(bytes);
    let h = rdr.headers().unwrap().clone();
    let rows = rdr.records().map(|r| r.unwrap()).collect();
    (h, rows)
}
