//! `swvr run`: every stage in order into a new generation inside OUT, with
//! its manifest; it becomes OUT's outputs by one atomic switch only when all
//! stages succeeded (`crate::out`, docs/out.md).

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
    /// What the fieldwork stage computes.
    pub fieldwork: swvr_fieldwork::Mode,
    pub quiet: bool,
    pub bars: &'a Bars,
}

/// Where a run that accepted no row keeps its ingest outputs (inside OUT;
/// removed by the next successful run).
pub const FAILED: &str = crate::out::FAILED;

/// Writes an effective configuration file into a stage folder.
pub fn write_effective(dir: &Path, name: &str, text: &str) -> Result<()> {
    swvr_core::io::write_atomic(&dir.join(name), text.as_bytes())?;
    Ok(())
}

pub fn run(args: RunArgs<'_>) -> Result<()> {
    // Before any work: the lock, stage paths, leftovers of killed runs, files
    // swvr did not write (crate::out).
    let out = crate::out::Out::open(&args.out)?;
    let staging = out.fresh_staging()?;
    let r = stages(&args, &out, &staging);
    let done = r.map_err(|e| out.user_paths(&staging, e))?;
    out.commit(staging, Some(done.manifest.as_bytes()))?;
    let failed = args.out.join(FAILED);
    if failed.is_dir() {
        std::fs::remove_dir_all(&failed).with_context(|| format!("{}: cannot remove", failed.display()))?;
    }
    drop(out);
    let Done {
        ingest,
        fieldwork,
        excluded,
        diagnostics,
        tables,
        model,
        ..
    } = done;
    let mut lines = summary::ingest(&ingest, &args.out.join("ingest").join("rejects.csv"));
    lines.extend(crate::fieldwork::summary(&fieldwork, excluded, args.fieldwork));
    lines.extend(summary::weight(&diagnostics, &args.out.join("weight")));
    lines.extend(summary::tabulate(&tables, &args.out.join("tabulate")));
    lines.extend(summary::model(&model, &args.out.join("model")));
    lines.push(format!("swvr: outputs in {}", args.out.display()));
    summary::print(args.quiet, &lines);
    Ok(())
}

/// What the stages of a run returned, and its manifest.
struct Done {
    ingest: swvr_ingest::IngestSummary,
    fieldwork: swvr_fieldwork::FieldworkSummary,
    excluded: u64,
    diagnostics: Vec<swvr_weight::Diagnostics>,
    tables: swvr_tabulate::TabulateSummary,
    model: swvr_model::ModelSummary,
    manifest: String,
}

/// Every stage into `staging`, then the manifest text (not yet written).
fn stages(args: &RunArgs<'_>, out: &crate::out::Out, staging: &crate::out::Staging) -> Result<Done> {
    let work = staging.dir().to_path_buf();
    // The bundle: a folder, or the embedded fixtures unpacked into staging
    // (a `.` name: not an output, removed before the switch).
    let bundle = work.join(".bundle");
    let data = match &args.data {
        Some(d) => d.clone(),
        None => {
            std::fs::create_dir_all(&bundle)?;
            for (name, bytes) in FIXTURES {
                swvr_core::io::write_atomic(&bundle.join(name), bytes)?;
            }
            bundle.clone()
        }
    };

    // Configuration first: nothing runs on a bad scheme, spec or questionnaire.
    let q = config::questionnaire(args.questionnaire.as_deref())?;
    let s = config::scheme(args.scheme.as_deref(), &data)?;
    let m = config::spec(args.spec.as_deref())?;
    let fw = crate::fieldwork::options(args.scheme.as_deref(), &data)?;
    crate::fieldwork::check_mode(args.fieldwork, &fw, args.scheme.as_deref(), &data)?;

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
        // previous run's outputs untouched.
        let kept = out.root().join(FAILED);
        if kept.exists() {
            std::fs::remove_dir_all(&kept).with_context(|| format!("{}: cannot replace", kept.display()))?;
        }
        std::fs::create_dir_all(&kept).with_context(|| format!("{}: cannot create", kept.display()))?;
        let to = kept.join("ingest");
        std::fs::rename(work.join("ingest"), &to)
            .with_context(|| format!("{}: cannot move into place", to.display()))?;
        let file = match args.data {
            Some(_) => swvr_ingest::respondents_file(&data)?.display().to_string(),
            None => "respondents.csv (embedded fixtures)".to_string(),
        };
        return Err(summary::nothing_accepted(&file, &ingest, &to));
    }
    crate::out::step("ingest");
    // Fieldwork between ingest and weight: exclusions leave respondents.arrow first.
    let (fieldwork, excluded) =
        crate::fieldwork::stage_mode(&data, &work, &q.value, &fw, sel, args.bars, args.fieldwork)?;
    let diagnostics = swvr_weight::weight(&data, &work, &s.value, &q.value, sel, args.bars)?;
    write_effective(&work.join("weight"), SCHEME_FILE, &s.effective)?;
    crate::out::step("weight");
    // Tables and model read weighted.arrow and respondents.arrow once,
    // only the columns they use.
    // (With calibrated variance, also the calibration columns weighted.arrow names.)
    let calibration = swvr_core::calibration::columns_in_file(&work.join(swvr_core::handoff::WEIGHTED_FILE));
    let mut columns = swvr_tabulate::input_columns(&q.value);
    columns.extend(swvr_model::input_columns(&m.value));
    columns.extend(calibration.iter().map(String::as_str));
    columns.sort_unstable();
    columns.dedup();
    let (schema, source) = swvr_core::handoff::weighted_schema(&work, &columns)?;
    let (tables, model) = if swvr_tabulate::streams(&schema, &q.value) && swvr_model::streams(&schema, &m.value) {
        // Fixed-weight variance: one pass over the inputs feeds both stages
        // batch by batch; only their cell sums are kept.
        let mut tab = swvr_tabulate::Streaming::new(&q.value, sel, &source);
        let mut mdl = swvr_model::Streaming::new(&m.value, sel, &source);
        let mut row0 = 0u64;
        swvr_core::handoff::for_each_weighted(&work, &columns, |b| -> Result<()> {
            let (t, m) = rayon::join(|| tab.push(row0, &b), || mdl.push(row0, &b));
            t?;
            m?;
            row0 += b.num_rows() as u64;
            Ok(())
        })?;
        (tab.finish(&work, &schema)?, mdl.finish(&work, &schema, args.bars)?)
    } else {
        let joined = swvr_core::handoff::read_weighted(&work, &columns)?;
        let tables = swvr_tabulate::tabulate_into(&work, &joined.batch, &joined.source, &q.value, sel, args.bars)?;
        let model = swvr_model::model_into(&work, &joined.batch, &joined.source, &m.value, sel, args.bars)?;
        (tables, model)
    };
    write_effective(&work.join("model"), SPEC_FILE, &m.effective)?;
    if !args.export.is_empty() {
        swvr_export::export(&work, &q.value, &args.export)?;
    }
    crate::report::write(&work, &work)?;
    crate::out::step("report");

    let roots = Roots::new(args.data.as_deref(), &args.out);
    // Inputs and outputs are hashed at the same time; the outputs are
    // exactly the files of the new generation (the unpacked fixtures have a
    // `.` name and are not listed).
    let (inputs, outputs) = rayon::join(
        || -> Result<Vec<Input>> {
            // The respondents file is respondents.csv, .sav, .zsav or .dta.
            let respondents = swvr_ingest::respondents_file(&data)?;
            let respondents = respondents
                .file_name()
                .map_or_else(|| "respondents.csv".to_string(), |n| n.to_string_lossy().into_owned());
            [respondents.as_str(), "design.csv", "targets.csv"]
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
        || manifest::outputs(&work),
    );
    let (mut inputs, outputs) = (inputs?, outputs?);
    if bundle.exists() {
        std::fs::remove_dir_all(&bundle).with_context(|| format!("{}: cannot remove", bundle.display()))?;
    }
    inputs.push(config_input("questionnaire", &q, &roots, "ingest", QUESTIONNAIRE_FILE));
    inputs.push(config_input("scheme", &s, &roots, "weight", SCHEME_FILE));
    inputs.push(config_input("spec", &m, &roots, "model", SPEC_FILE));
    let manifest = Manifest {
        swvr_version: env!("CARGO_PKG_VERSION").to_string(),
        command: command(args, &roots),
        fieldwork: args.fieldwork.name().to_string(),
        countries: sel.countries().to_vec(),
        waves: sel.waves().to_vec(),
        inputs,
        outputs,
    };
    let mut json = serde_json::to_string_pretty(&manifest)?;
    json.push('\n');
    crate::out::step("manifest");
    Ok(Done {
        ingest,
        fieldwork,
        excluded,
        diagnostics,
        tables,
        model,
        manifest: json,
    })
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
    if args.fieldwork != swvr_fieldwork::Mode::Full {
        c.extend(["--fieldwork".into(), args.fieldwork.name().into()]);
    }
    for country in args.selection.countries() {
        c.extend(["--country".into(), country.clone()]);
    }
    for wave in args.selection.waves() {
        c.extend(["--wave".into(), wave.to_string()]);
    }
    c
}
