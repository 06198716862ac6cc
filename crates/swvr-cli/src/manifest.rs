//! `OUT/manifest.json`: what went in and what came out, by SHA-256.
//! No timestamps: the same inputs give the same manifest.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// One input of the run.
#[derive(Debug, Serialize)]
pub struct Input {
    /// What it is (`respondents.csv`, `scheme`, …).
    pub name: String,
    /// Where it came from (`fixtures (embedded)`, a path, `built-in default`).
    pub source: String,
    /// SHA-256 of its bytes (for the scheme and spec: of the effective TOML).
    pub sha256: String,
}

/// One output file.
#[derive(Debug, Serialize)]
pub struct Output {
    /// Path relative to OUT, `/`-separated.
    pub path: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Data rows: Arrow rows, CSV records after the header, JSON array length; null otherwise.
    pub rows: Option<u64>,
}

/// The manifest.
#[derive(Debug, Serialize)]
pub struct Manifest {
    /// swvr version.
    pub swvr_version: String,
    /// Selected countries (empty = all).
    pub countries: Vec<String>,
    /// Selected waves (empty = all).
    pub waves: Vec<i32>,
    /// Inputs.
    pub inputs: Vec<Input>,
    /// Outputs, sorted by path.
    pub outputs: Vec<Output>,
}

/// Row count of an output file, by kind.
pub fn rows_of(path: &Path) -> Result<Option<u64>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Ok(match ext {
        "arrow" => Some(swvr_core::io::arrow_rows(path)?),
        "csv" => {
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
            let mut n = 0u64;
            let mut rec = csv::ByteRecord::new();
            while rdr.read_byte_record(&mut rec)? {
                n += 1;
            }
            Some(n)
        }
        "json" => {
            let v: serde_json::Value = serde_json::from_reader(File::open(path)?)?;
            v.as_array().map(|a| a.len() as u64)
        }
        _ => None,
    })
}

/// Lists every file under `out` (except the manifest itself), sorted.
pub fn outputs(out: &Path) -> Result<Vec<Output>> {
    let mut files = Vec::new();
    walk(out, out, &mut files)?;
    files.sort();
    // Hash in parallel (the big Arrow files dominate); collect keeps the order.
    files
        .into_par_iter()
        .filter(|rel| rel != "manifest.json")
        .map(|rel| {
            let p = out.join(&rel);
            Ok(Output {
                sha256: sha256_file(&p)?,
                rows: rows_of(&p)?,
                path: rel,
            })
        })
        .collect()
}

fn walk(root: &Path, dir: &Path, acc: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(root, &path, acc)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            acc.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}
