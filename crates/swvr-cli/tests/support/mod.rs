//! What the test binaries of swvr-cli (`cli`, `export`, `fieldwork`) share:
//! running the binary, the repository's files, reading the CSV and Arrow
//! files a run writes, and temporary folders that remove themselves
//! ([`TempDir`]).

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::{Array, RecordBatch};

pub use swvr_test_support::TempDir;

/// Runs the `swvr` binary (colours off) and returns what it printed.
pub fn swvr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swvr"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("swvr runs")
}

/// Fails the test, with swvr's stderr, unless the command succeeded.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "swvr failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `swvr run --data DATA --out OUT` with the options `extra`.
pub fn run_on(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    swvr(&args)
}

/// What the command printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the command printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A temporary folder for the test `name` of this test binary
/// (`$TMPDIR/swvr-{binary}-{name}-{pid}`), removed when the guard drops.
pub fn tempdir(name: &str) -> TempDir {
    TempDir::new(env!("CARGO_CRATE_NAME"), name)
}

/// The repository's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Copies the files `names` of the folder `from` into `to`.
pub fn copy_files(from: &Path, names: &[&str], to: &Path) {
    for f in names {
        std::fs::copy(from.join(f), to.join(f)).unwrap_or_else(|e| panic!("{}: {e}", from.join(f).display()));
    }
}

/// Rows of a plain CSV file (no quoted fields) as maps from the header.
pub fn csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The column `name` of `b` as an array of type `A`.
pub fn col<'a, A: Array + 'static>(b: &'a RecordBatch, name: &str) -> &'a A {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<A>()
        .unwrap_or_else(|| panic!("column {name} is not {}", std::any::type_name::<A>()))
}
