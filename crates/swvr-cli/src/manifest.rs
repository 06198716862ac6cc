//! `OUT/manifest.json`: what went in and what came out, by SHA-256.
//! No timestamps and no absolute paths: inputs are named relative to
//! `--data` (`DATA/…`), outputs relative to `--out`, so the same run in two
//! folders or on two machines gives the same manifest.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, streamed (a regular file only: a FIFO or a device is
/// an error, never a hang).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = swvr_core::io::open_input(path).with_context(|| format!("{}: cannot open", path.display()))?;
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// What it is (`respondents.csv`, `questionnaire`, `scheme`, `spec`).
    pub name: String,
    /// Where it came from: `DATA/<path>` (under `--data`), `OUT/<path>`,
    /// `embedded fixtures/<file>`, `built-in default`, or the file name of a
    /// file elsewhere (its hash identifies it).
    pub source: String,
    /// SHA-256 of the source bytes (for a built-in default: of the embedded
    /// text `swvr defaults` prints).
    pub sha256: String,
    /// The effective configuration the run applied, relative to OUT
    /// (configuration inputs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    /// SHA-256 of the effective file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_sha256: Option<String>,
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Path relative to OUT, `/`-separated.
    pub path: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Data rows: Arrow rows, CSV records after the header, JSON array length; null otherwise.
    pub rows: Option<u64>,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// swvr version.
    pub swvr_version: String,
    /// The command, in canonical form: `swvr run`, then the options that
    /// shape the outputs, with `DATA` and `OUT` for the folders and paths
    /// named as in [`Input::source`] (`--quiet` is left out).
    pub command: Vec<String>,
    /// What the fieldwork stage ran: `full` (response rates and the
    /// interview-quality checks), `rates` (response rates only) or `off`
    /// (`swvr run --fieldwork`; `full` for manifests written before the option).
    #[serde(default = "full")]
    pub fieldwork: String,
    /// Selected countries (empty = all).
    pub countries: Vec<String>,
    /// Selected waves (empty = all).
    pub waves: Vec<i32>,
    /// Inputs.
    pub inputs: Vec<Input>,
    /// Outputs, sorted by path.
    pub outputs: Vec<Output>,
}

fn full() -> String {
    "full".to_string()
}

/// Names paths the way the manifest does: relative to the data and output
/// folders when inside them, else by file name.
pub struct Roots {
    data: Option<PathBuf>,
    out: PathBuf,
}

impl Roots {
    /// `data` is `None` for the embedded fixtures.
    pub fn new(data: Option<&Path>, out: &Path) -> Self {
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        Self {
            data: data.map(canon),
            out: canon(out),
        }
    }

    /// `DATA/rel`, `OUT/rel`, or the file name.
    pub fn label(&self, path: &Path) -> String {
        let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let rel = |root: &Path| p.strip_prefix(root).ok().map(slash);
        if let Some(r) = self.data.as_deref().and_then(rel) {
            return format!("DATA/{r}");
        }
        if let Some(r) = rel(&self.out) {
            return format!("OUT/{r}");
        }
        path.file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
    }
}

/// A relative path with `/` separators.
fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Row count of an output file, by kind.
pub fn rows_of(path: &Path) -> Result<Option<u64>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Ok(match ext {
        "arrow" => Some(swvr_core::io::arrow_rows(path)?),
        "csv" => {
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(swvr_core::io::open_input(path)?);
            let mut n = 0u64;
            let mut rec = csv::ByteRecord::new();
            while rdr.read_byte_record(&mut rec)? {
                n += 1;
            }
            Some(n)
        }
        "json" => json_rows(swvr_core::io::open_input(path)?)?,
        _ => None,
    })
}

/// Entries of a top-level JSON array read from `r` (None for any other
/// value). Buffered: serde_json reads a bare `File` one byte per system call.
fn json_rows(r: impl std::io::Read) -> Result<Option<u64>> {
    let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::with_capacity(1 << 16, r))?;
    Ok(v.as_array().map(|a| a.len() as u64))
}

/// Lists every file under `out` (except the manifest itself and names
/// starting with `.`), sorted: `out` is the generation a run built, which
/// holds only what the run wrote.
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
        let ft = entry.file_type()?;
        // swvr's links (OUT/ingest -> .swvr-current/ingest) are followed;
        // other links are listed, not followed; a dangling link of swvr's
        // (a folder the current generation does not have) is nothing.
        let ours = ft.is_symlink() && std::fs::read_link(&path).is_ok_and(|t| t.starts_with(".swvr-current"));
        let is_dir = if ours {
            match std::fs::metadata(&path) {
                Ok(m) => m.is_dir(),
                Err(_) => continue,
            }
        } else {
            ft.is_dir()
        };
        if is_dir {
            walk(root, &path, acc)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            acc.push(slash(rel));
        }
    }
    Ok(())
}

/// Reads a manifest.
pub fn read(path: &Path) -> Result<Manifest> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read manifest", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: line {}, column {}: not a swvr manifest: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// How the files of a run folder differ from its manifest.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FolderCheck {
    /// Files checked (listed in the manifest).
    pub checked: usize,
    /// Listed files whose bytes changed.
    pub changed: Vec<String>,
    /// Listed files that are gone.
    pub missing: Vec<String>,
    /// Files in the folder the manifest does not list.
    pub unexpected: Vec<String>,
}

impl FolderCheck {
    /// True when every file matches.
    pub fn ok(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.unexpected.is_empty()
    }
}

/// Re-hashes every file of `out` against `manifest`.
pub fn check_folder(out: &Path, manifest: &Manifest) -> Result<FolderCheck> {
    let mut files = Vec::new();
    walk(out, out, &mut files)?;
    files.retain(|f| f != "manifest.json");
    let listed: std::collections::BTreeSet<&str> = manifest.outputs.iter().map(|o| o.path.as_str()).collect();
    let mut check = FolderCheck {
        checked: manifest.outputs.len(),
        unexpected: files.iter().filter(|f| !listed.contains(f.as_str())).cloned().collect(),
        ..FolderCheck::default()
    };
    check.unexpected.sort();
    let hashes: Vec<(String, Option<String>)> = manifest
        .outputs
        .par_iter()
        .map(|o| {
            let p = out.join(&o.path);
            // Not a regular file any more (gone, a FIFO put in its place): missing.
            let h = if p.is_file() { Some(sha256_file(&p)?) } else { None };
            Ok((o.path.clone(), h))
        })
        .collect::<Result<_>>()?;
    for (o, (path, h)) in manifest.outputs.iter().zip(hashes) {
        match h {
            None => check.missing.push(path),
            Some(h) if h != o.sha256 => check.changed.push(path),
            Some(_) => {}
        }
    }
    Ok(check)
}

/// What differs between two manifests, as readable lines (empty = equal).
pub fn compare(a: &Manifest, b: &Manifest) -> Vec<String> {
    let mut d = Vec::new();
    if a.swvr_version != b.swvr_version {
        d.push(format!("swvr version: {} vs {}", a.swvr_version, b.swvr_version));
    }
    if a.command != b.command {
        d.push(format!(
            "option: command `{}` vs `{}`",
            a.command.join(" "),
            b.command.join(" ")
        ));
    }
    if a.fieldwork != b.fieldwork {
        d.push(format!("option: fieldwork {} vs {}", a.fieldwork, b.fieldwork));
    }
    if a.countries != b.countries {
        d.push(format!("option: countries {:?} vs {:?}", a.countries, b.countries));
    }
    if a.waves != b.waves {
        d.push(format!("option: waves {:?} vs {:?}", a.waves, b.waves));
    }
    for x in &a.inputs {
        match b.inputs.iter().find(|y| y.name == x.name) {
            None => d.push(format!("input {}: only in this run", x.name)),
            Some(y) => {
                if x.sha256 != y.sha256 {
                    d.push(format!(
                        "input {}: content differs ({} vs {})",
                        x.name, x.source, y.source
                    ));
                } else if x.source != y.source {
                    d.push(format!(
                        "input {}: same content from {} vs {}",
                        x.name, x.source, y.source
                    ));
                }
                if x.effective_sha256 != y.effective_sha256 {
                    d.push(format!("input {}: effective configuration differs", x.name));
                }
            }
        }
    }
    for y in b.inputs.iter().filter(|y| !a.inputs.iter().any(|x| x.name == y.name)) {
        d.push(format!("input {}: only in the other run", y.name));
    }
    for x in &a.outputs {
        match b.outputs.iter().find(|y| y.path == x.path) {
            None => d.push(format!("output {}: only in this run", x.path)),
            Some(y) if x.sha256 != y.sha256 => {
                let rows = match (x.rows, y.rows) {
                    (Some(r), Some(s)) if r != s => format!(" ({r} vs {s} rows)"),
                    _ => String::new(),
                };
                d.push(format!("output {}: content differs{rows}", x.path));
            }
            Some(_) => {}
        }
    }
    for y in b.outputs.iter().filter(|y| !a.outputs.iter().any(|x| x.path == y.path)) {
        d.push(format!("output {}: only in the other run", y.path));
    }
    d
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_rows_are_read_buffered() {
        // Issue 14: serde_json on a bare File reads one byte per system
        // call; a 10 MB field made the manifest step take seconds. Counted,
        // not timed: the reader underneath must see few, large reads.
        struct Counting<'a>(&'a [u8], usize);
        impl std::io::Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.1 += 1;
                self.0.read(buf)
            }
        }
        let text = format!("[\"{}\", 2]", "x".repeat(10 << 20));
        let mut r = Counting(text.as_bytes(), 0);
        assert_eq!(json_rows(&mut r).unwrap(), Some(2));
        assert!(r.1 < 1000, "{} reads for {} bytes", r.1, text.len());
        assert_eq!(json_rows(&b"{\"a\": 1}"[..]).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_an_error_not_a_hang() {
        let dir = std::env::temp_dir().join(format!("swvr-manifest-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("x.json");
        let _ = std::fs::remove_file(&fifo);
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = format!("{:#}", sha256_file(&fifo).unwrap_err());
        assert!(e.contains("is a FIFO (named pipe), not a regular file"), "{e}");
        assert!(rows_of(&fifo).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
