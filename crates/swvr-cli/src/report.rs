//! `swvr report` and `swvr compare`, and the report step of `swvr run`
//! (the work is in `swvr-report`; here only arguments and terminal output).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `dest/report/index.html` from the run folder `out`.
pub fn write(out: &Path, dest: &Path) -> Result<swvr_report::ReportSummary> {
    let opts = swvr_report::ReportOptions::default();
    let run = swvr_report::Run::load(out, &opts.load)?;
    Ok(swvr_report::report_into_dir(&run, dest, &opts)?)
}

/// `swvr report --out OUT`.
pub fn report(out: &Path, quiet: bool) -> Result<()> {
    // Read from OUT as it is, written into a new generation of OUT.
    let s = crate::cli::in_generation(out, &["report"], |dest| {
        write(out, dest).with_context(|| format!("report of {}", out.display()))
    })?;
    if !quiet {
        let path = out.join("report").join(s.path.file_name().unwrap_or_default());
        eprintln!(
            "swvr: wrote {} ({:.1} MiB, {} country-waves; {} of {} published figures outside the computed intervals)",
            path.display(),
            s.bytes as f64 / (1024.0 * 1024.0),
            s.groups,
            s.agreement.outside,
            s.agreement.compared
        );
    }
    Ok(())
}

/// `swvr compare A B [--out DIR] [--fail-above POINTS]`: the summary goes to
/// stdout (it is the command's result); exit non-zero only with
/// `--fail-above` when a shift exceeds it.
pub fn compare(a: &Path, b: &Path, out: Option<PathBuf>, fail_above: Option<f64>, quiet: bool) -> Result<()> {
    let dest = out.unwrap_or_else(|| PathBuf::from("."));
    let opts = swvr_report::CompareOptions { top: 10 };
    let cmp = swvr_report::compare(a, b, &dest, &opts)?;
    if !quiet {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(cmp.summary(opts.top).as_bytes())?;
        stdout.flush()?;
    }
    if let Some(limit) = fail_above {
        let max = cmp.max_shift();
        if max > limit {
            anyhow::bail!(
                "largest shift {max:.2} points exceeds --fail-above {limit} (comparison written to {})",
                dest.display()
            );
        }
    }
    Ok(())
}
