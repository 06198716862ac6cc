//! `swvr run`: every stage in order into a staging folder inside OUT, moved
//! into place only when all stages succeeded, then the manifest.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use swvr_core::groups::Selection;

use crate::cli::FIXTURES;
use crate::config::{self, Loaded, Origin};
use crate::manifest::{self, Input, Manifest, Roots};
use crate::progress::Bars;
use crate::{QUESTIONNAIRE_FILE, SCHEME_FILE, SPEC_FILE, summary};

/// Options of `swvr run`.
pub struct RunArgs<'a> {
    pub data: Option<PathBuf>,
    pub out: PathBuf,
    pub scheme: Option<PathBuf>,
    pub spec: Option<PathBuf>,
    pub questionnaire: Option<PathBuf>,
    pub selection: Selection,
    /// Export formats written into OUT/export/ as part of the run.
    pub export: Vec<swvr_export::Format>,
    pub quiet: bool,
    pub bars: &'a Bars,
}

/// Stage folders under OUT, in pipeline order.
const STAGES: [&str; 6] = ["ingest", "fieldwork", "weight", "tabulate", "model", "report"];

/// Where a run that accepted no row keeps its ingest outputs (inside OUT;
/// removed by the next successful run).
pub const FAILED: &str = "failed";

/// Removes the staging folder on every exit path.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes an effective configuration file into a stage folder.
pub fn write_effective(dir: &Path, name: &str, text: &str) -> Result<()> {
    swvr_core::io::write_atomic(&dir.join(name), text.as_bytes())?;
    Ok(())
}

pub fn run(args: RunArgs<'_>) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output folder", args.out.display()))?;
    let staging = Staging(args.out.join(format!(".swvr-staging-{}", std::process::id())));
    std::fs::create_dir_all(&staging.0).with_context(|| format!("{}: cannot create", staging.0.display()))?;

    // The bundle: a folder, or the embedded fixtures unpacked into staging.
    let data = match &args.data {
        Some(d) => d.clone(),
        None => {
            let dir = staging.0.join("bundle");
            std::fs::create_dir_all(&dir)?;
            for (name, bytes) in FIXTURES {
                swvr_core::io::write_atomic(&dir.join(name), bytes)?;
            }
            dir
        }
    };

    // Configuration first: nothing runs on a bad scheme, spec or questionnaire.
    let q = config::questionnaire(args.questionnaire.as_deref())?;
    let s = config::scheme(args.scheme.as_deref(), &data)?;
    let m = config::spec(args.spec.as_deref())?;
    let fw = crate::fieldwork::options(args.scheme.as_deref(), &data)?;

    let work = staging.0.join("out");
    let sel = &args.selection;
    let ingest = match swvr_ingest::ingest(&data, &work, &q.value, sel, args.bars) {
        Err(swvr_ingest::IngestError::NothingSelected(mut e)) if args.data.is_none() => {
            e.file = PathBuf::from("respondents.csv (embedded fixtures)");
            return Err(e.into());
        }
        r => r?,
    };
    write_effective(&work.join("ingest"), QUESTIONNAIRE_FILE, &q.effective)?;
    if ingest.rows_accepted == 0 {
        // Keep what ingest wrote where the message says, leaving the
        // previous run's stage folders untouched.
        let kept = args.out.join(FAILED);
        if kept.exists() {
            std::fs::remove_dir_all(&kept).with_context(|| format!("{}: cannot replace", kept.display()))?;
        }
        std::fs::create_dir_all(&kept).with_context(|| format!("{}: cannot create", kept.display()))?;
        let to = kept.join("ingest");
        std::fs::rename(work.join("ingest"), &to)
            .with_context(|| format!("{}: cannot move into place", to.display()))?;
        let file = match args.data {
            Some(_) => data.join("respondents.csv").display().to_string(),
            None => "respondents.csv (embedded fixtures)".to_string(),
        };
        return Err(summary::nothing_accepted(&file, &ingest, &to));
    }
    // Fieldwork between ingest and weight: exclusions leave respondents.arrow first.
    let (fieldwork, excluded) = crate::fieldwork::stage(&data, &work, &q.value, &fw, sel, args.bars)?;
    let diagnostics = swvr_weight::weight(&data, &work, &s.value, &q.value, sel, args.bars)?;
    write_effective(&work.join("weight"), SCHEME_FILE, &s.effective)?;
    // Tables and model read weighted.arrow once, only the columns they use.
    let weighted = work.join("weight").join("weighted.arrow");
    let mut columns = swvr_tabulate::input_columns(&q.value);
    columns.extend(swvr_model::input_columns(&m.value));
    columns.sort_unstable();
    columns.dedup();
    let batch = swvr_core::io::read_arrow_columns(&weighted, &columns)?;
    let tables = swvr_tabulate::tabulate_into(&work, &batch, &weighted, &q.value, sel, args.bars)?;
    let model = swvr_model::model_into(&work, &batch, &weighted, &m.value, sel, args.bars)?;
    drop(batch);
    write_effective(&work.join("model"), SPEC_FILE, &m.effective)?;
    if !args.export.is_empty() {
        swvr_export::export(&work, &q.value, &args.export)?;
    }
    crate::report::write(&work, &work)?;

    // All stages succeeded: move their folders into place.
    // A run without --export removes an earlier export: it would describe other outputs.
    let exported = if args.export.is_empty() {
        let old = args.out.join("export");
        if old.exists() {
            std::fs::remove_dir_all(&old).with_context(|| format!("{}: cannot remove stale export", old.display()))?;
        }
        None
    } else {
        Some("export")
    };
    for stage in STAGES.into_iter().chain(exported) {
        let from = work.join(stage);
        let to = args.out.join(stage);
        if to.exists() {
            std::fs::remove_dir_all(&to).with_context(|| format!("{}: cannot replace", to.display()))?;
        }
        std::fs::rename(&from, &to).with_context(|| format!("{}: cannot move into place", to.display()))?;
    }
    let failed = args.out.join(FAILED);
    if failed.is_dir() {
        std::fs::remove_dir_all(&failed).with_context(|| format!("{}: cannot remove", failed.display()))?;
    }

    let roots = Roots::new(args.data.as_deref(), &args.out);
    // Inputs and outputs are hashed at the same time (the staging folder,
    // which may hold the unpacked fixtures, is hidden from the output walk).
    let (inputs, outputs) = rayon::join(
        || -> Result<Vec<Input>> {
            ["respondents.csv", "design.csv", "targets.csv"]
                .into_iter()
                .map(|name| {
                    let p = data.join(name);
                    Ok(Input {
                        name: name.to_string(),
                        source: match args.data {
                            Some(_) => format!("DATA/{name}"),
                            None => format!("embedded fixtures/{name}"),
                        },
                        sha256: manifest::sha256_file(&p)?,
                        effective: None,
                        effective_sha256: None,
                    })
                })
                .collect()
        },
        || manifest::outputs(&args.out),
    );
    let (mut inputs, outputs) = (inputs?, outputs?);
    drop(staging);
    inputs.push(config_input("questionnaire", &q, &roots, "ingest", QUESTIONNAIRE_FILE));
    inputs.push(config_input("scheme", &s, &roots, "weight", SCHEME_FILE));
    inputs.push(config_input("spec", &m, &roots, "model", SPEC_FILE));
    let manifest = Manifest {
        swvr_version: env!("CARGO_PKG_VERSION").to_string(),
        command: command(&args, &roots),
        countries: sel.countries().to_vec(),
        waves: sel.waves().to_vec(),
        inputs,
        outputs,
    };
    let mut json = serde_json::to_string_pretty(&manifest)?;
    json.push('\n');
    swvr_core::io::write_atomic(&args.out.join("manifest.json"), json.as_bytes())?;

    let mut lines = summary::ingest(&ingest, &args.out.join("ingest").join("rejects.csv"));
    lines.extend(summary::weight(&diagnostics, &args.out.join("weight")));
    lines.extend(summary::tabulate(&tables, &args.out.join("tabulate")));
    lines.extend(summary::model(&model, &args.out.join("model")));
    lines.push(format!("swvr: outputs in {}", args.out.display()));
    summary::print(args.quiet, &lines);
    if !args.quiet {
        crate::fieldwork::summary(&fieldwork, excluded);
    }
    Ok(())
}

/// The manifest entry of a configuration: its source and the effective file.
fn config_input<T>(name: &str, c: &Loaded<T>, roots: &Roots, stage: &str, file: &str) -> Input {
    Input {
        name: name.to_string(),
        source: match &c.origin {
            Origin::BuiltIn => "built-in default".to_string(),
            Origin::File(p) => roots.label(p),
        },
        sha256: c.source_sha256.clone(),
        effective: Some(format!("{stage}/{file}")),
        effective_sha256: Some(manifest::sha256_hex(c.effective.as_bytes())),
    }
}

/// The command in canonical form (see [`Manifest::command`]).
fn command(args: &RunArgs<'_>, roots: &Roots) -> Vec<String> {
    let mut c: Vec<String> = vec!["swvr".into(), "run".into()];
    if args.data.is_some() {
        c.extend(["--data".into(), "DATA".into()]);
    }
    c.extend(["--out".into(), "OUT".into()]);
    for (flag, path) in [
        ("--questionnaire", &args.questionnaire),
        ("--scheme", &args.scheme),
        ("--spec", &args.spec),
    ] {
        if let Some(p) = path {
            c.extend([flag.to_string(), roots.label(p)]);
        }
    }
    for country in args.selection.countries() {
        c.extend(["--country".into(), country.clone()]);
    }
    for wave in args.selection.waves() {
        c.extend(["--wave".into(), wave.to_string()]);
    }
    c
}
