//! `swvr verify OUT [--against OTHER/manifest.json]`: the run folder against
//! its manifest, and optionally two runs against each other. The findings
//! go to stdout (they are the command's data); the exit status is 0 only
//! when everything matches.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::manifest;

pub fn verify(out: &Path, against: Option<&Path>) -> Result<()> {
    let own_path = out.join("manifest.json");
    if !own_path.exists() && out.join(".swvr-current").is_dir() {
        // A stage command after `swvr run` removes the manifest (docs/out.md).
        anyhow::bail!(
            "{}: cannot read manifest: there is none, because a stage command (`swvr tabulate`, `swvr export`, …) replaced outputs after the last `swvr run`; run `swvr run` for a manifest",
            own_path.display()
        );
    }
    let own = manifest::read(&own_path)?;
    let check = manifest::check_folder(out, &own)?;
    let mut stdout = std::io::stdout().lock();
    let mut problems: Vec<String> = Vec::new();
    for f in &check.changed {
        writeln!(stdout, "changed: {f}")?;
    }
    for f in &check.missing {
        writeln!(stdout, "missing: {f}")?;
    }
    for f in &check.unexpected {
        writeln!(stdout, "not in the manifest: {f}")?;
    }
    if check.ok() {
        writeln!(
            stdout,
            "{}: all {} files match {}",
            out.display(),
            check.checked,
            own_path.display()
        )?;
    } else {
        let mut named: Vec<String> = check.changed.iter().map(|f| format!("{f} (changed)")).collect();
        named.extend(check.missing.iter().map(|f| format!("{f} (missing)")));
        named.extend(check.unexpected.iter().map(|f| format!("{f} (not in the manifest)")));
        problems.push(format!(
            "{}: {} of {} files do not match {}: {}",
            out.display(),
            check.changed.len() + check.missing.len(),
            check.checked,
            own_path.display(),
            named.join(", ")
        ));
    }
    if let Some(other_path) = against {
        let other = manifest::read(other_path)?;
        let diff = manifest::compare(&own, &other);
        for d in &diff {
            writeln!(stdout, "{d}")?;
        }
        if diff.is_empty() {
            writeln!(
                stdout,
                "{}: same version, options, inputs and outputs as {}",
                own_path.display(),
                other_path.display()
            )?;
        } else {
            problems.push(format!(
                "{} differs from {} in {} respects: {}",
                own_path.display(),
                other_path.display(),
                diff.len(),
                diff.join("; ")
            ));
        }
    }
    stdout.flush()?;
    match problems.is_empty() {
        true => Ok(()),
        false => Err(anyhow::anyhow!(problems.join("; "))),
    }
}
