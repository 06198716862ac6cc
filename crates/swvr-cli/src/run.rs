//! `swvr run`: every stage in order into a staging folder inside OUT, moved
//! into place only when all stages succeeded, then the manifest.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use swvr_core::groups::Selection;

use crate::cli::{FIXTURES, questionnaire, scheme, spec};
use crate::manifest::{self, Input, Manifest};
use crate::progress::Bars;

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

/// Removes the staging folder on every exit path.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(args: RunArgs<'_>) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output folder", args.out.display()))?;
    let staging = Staging(args.out.join(format!(".swvr-staging-{}", std::process::id())));
    std::fs::create_dir_all(&staging.0).with_context(|| format!("{}: cannot create", staging.0.display()))?;

    // The bundle: a folder, or the embedded fixtures unpacked into staging.
    let (data, data_source) = match &args.data {
        Some(d) => (d.clone(), d.display().to_string()),
        None => {
            let dir = staging.0.join("bundle");
            std::fs::create_dir_all(&dir)?;
            for (name, bytes) in FIXTURES {
                swvr_core::io::write_atomic(&dir.join(name), bytes)?;
            }
            (dir, "fixtures (embedded)".to_string())
        }
    };

    // Configuration first: nothing runs on a bad scheme, spec or questionnaire.
    let q = questionnaire(args.questionnaire.as_deref())?;
    let s = scheme(args.scheme.as_deref(), &data)?;
    let m = spec(args.spec.as_deref())?;
    let fw = crate::fieldwork::options(args.scheme.as_deref(), &data)?;

    let work = staging.0.join("out");
    let sel = &args.selection;
    let ingest = swvr_ingest::ingest(&data, &work, &q, sel, args.bars)?;
    if ingest.rows_accepted == 0 {
        let scope = if sel.is_all() {
            String::new()
        } else {
            let countries = sel.countries.join(", ");
            let waves: Vec<String> = sel.waves.iter().map(i32::to_string).collect();
            format!(" for country [{countries}] and wave [{}]", waves.join(", "))
        };
        let file = match args.data {
            Some(_) => data.join("respondents.csv").display().to_string(),
            None => "respondents.csv (embedded fixtures)".to_string(),
        };
        anyhow::bail!(
            "{file}: no respondent rows accepted{scope}: {} read, {} rejected, {} outside the selection; nothing to weight",
            ingest.rows_read,
            ingest.rows_rejected,
            ingest.rows_outside_selection
        );
    }
    // Fieldwork between ingest and weight: exclusions leave respondents.arrow first.
    let (fieldwork, excluded) = crate::fieldwork::stage(&data, &work, &q, &fw, sel, args.bars)?;
    let diagnostics = swvr_weight::weight(&data, &work, &s, &q, sel, args.bars)?;
    // Tables and model read weighted.arrow once, only the columns they use.
    let weighted = work.join("weight").join("weighted.arrow");
    let mut columns = swvr_tabulate::input_columns(&q);
    columns.extend(swvr_model::input_columns(&m));
    columns.sort_unstable();
    columns.dedup();
    let batch = swvr_core::io::read_arrow_columns(&weighted, &columns)?;
    swvr_tabulate::tabulate_into(&work, &batch, &weighted, &q, sel, args.bars)?;
    swvr_model::model_into(&work, &batch, &weighted, &m, sel, args.bars)?;
    drop(batch);
    if !args.export.is_empty() {
        swvr_export::export(&work, &q, &args.export)?;
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
                        source: source_of(&data_source, &p, args.data.is_some()),
                        sha256: manifest::sha256_file(&p)?,
                    })
                })
                .collect()
        },
        || manifest::outputs(&args.out),
    );
    let (mut inputs, outputs) = (inputs?, outputs?);
    drop(staging);
    let qtext = match &args.questionnaire {
        Some(p) => std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?,
        None => swvr_core::questionnaire::DEFAULT_2021_TOML.as_bytes().to_vec(),
    };
    inputs.push(Input {
        name: "questionnaire".into(),
        source: args
            .questionnaire
            .as_ref()
            .map_or("built-in 2021 definition".into(), |p| p.display().to_string()),
        sha256: manifest::sha256_hex(&qtext),
    });
    inputs.push(Input {
        name: "scheme (effective)".into(),
        source: args
            .scheme
            .as_ref()
            .map_or("default or DATA/scheme.toml".into(), |p| p.display().to_string()),
        sha256: manifest::sha256_hex(s.to_toml().as_bytes()),
    });
    inputs.push(Input {
        name: "spec (effective)".into(),
        source: args
            .spec
            .as_ref()
            .map_or("built-in Appendix E model".into(), |p| p.display().to_string()),
        sha256: manifest::sha256_hex(m.to_toml().as_bytes()),
    });
    let manifest = Manifest {
        swvr_version: env!("CARGO_PKG_VERSION").to_string(),
        countries: sel.countries.clone(),
        waves: sel.waves.clone(),
        inputs,
        outputs,
    };
    let mut json = serde_json::to_string_pretty(&manifest)?;
    json.push('\n');
    swvr_core::io::write_atomic(&args.out.join("manifest.json"), json.as_bytes())?;

    if !args.quiet {
        summary(&args.out, &ingest, &diagnostics);
        crate::fieldwork::summary(&fieldwork, excluded);
    }
    Ok(())
}

fn source_of(data_source: &str, p: &Path, is_dir: bool) -> String {
    if is_dir {
        p.display().to_string()
    } else {
        data_source.to_string()
    }
}

fn summary(out: &Path, ingest: &swvr_ingest::IngestSummary, diagnostics: &[swvr_weight::Diagnostics]) {
    eprintln!(
        "swvr: {} rows read, {} accepted, {} rejected",
        ingest.rows_read, ingest.rows_accepted, ingest.rows_rejected
    );
    for (country, (acc, rej)) in &ingest.by_country {
        eprintln!("  {country}: {acc} accepted, {rej} rejected");
    }
    for d in diagnostics {
        eprintln!("  {d}");
    }
    eprintln!("swvr: outputs in {}", out.display());
}
