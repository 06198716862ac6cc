//! Argument parsing and the commands.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use swvr_core::groups::Selection;

use crate::progress::Bars;
use crate::run::write_effective;
use crate::{QUESTIONNAIRE_FILE, SCHEME_FILE, SPEC_FILE, config, summary};

/// The fixture bundle committed under `fixtures/`, embedded in the binary so
/// that `swvr run` works from any folder.
pub const FIXTURES: [(&str, &[u8]); 3] = [
    ("respondents.csv", include_bytes!("../../../fixtures/respondents.csv")),
    ("design.csv", include_bytes!("../../../fixtures/design.csv")),
    ("targets.csv", include_bytes!("../../../fixtures/targets.csv")),
];

#[derive(Debug, Parser)]
#[command(
    name = "swvr",
    version,
    about = "UNV-Gallup volunteering survey pipeline: ingest, weight, tabulate, model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress bars and no summary on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
}

/// Restrict a command to some country-waves.
#[derive(Debug, Args, Clone)]
struct Select {
    /// Only this country (ISO3); repeatable.
    #[arg(long = "country", value_name = "CODE")]
    countries: Vec<String>,
    /// Only this wave (year); repeatable.
    #[arg(long = "wave", value_name = "YEAR")]
    waves: Vec<i32>,
}

impl Select {
    fn selection(&self) -> Result<Selection> {
        Ok(Selection::new(self.countries.clone(), self.waves.clone())?)
    }
}

/// What `swvr run` does in the fieldwork stage (docs/fieldwork.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FieldworkMode {
    /// Response rates (with calls.csv) and the interview-quality checks (the default).
    Full,
    /// Response rates and reconciliation from DATA/calls.csv only; no quality checks.
    Rates,
    /// No fieldwork stage (a re-run of a bundle whose fieldwork was signed off).
    Off,
}

impl From<FieldworkMode> for swvr_fieldwork::Mode {
    fn from(m: FieldworkMode) -> Self {
        match m {
            FieldworkMode::Full => swvr_fieldwork::Mode::Full,
            FieldworkMode::Rates => swvr_fieldwork::Mode::Rates,
            FieldworkMode::Off => swvr_fieldwork::Mode::Off,
        }
    }
}

/// A built-in configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DefaultName {
    /// The weighting scheme (`--scheme`).
    Scheme,
    /// The model specification (`--spec`).
    Spec,
    /// The 2021 questionnaire definition (`--questionnaire`).
    Questionnaire,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every stage in order (ingest, weight, tabulate, model) and a manifest.
    Run {
        /// Wave bundle folder (respondents.csv or .sav/.zsav/.dta, design.csv, targets.csv,
        /// optional scheme.toml; format: docs/bundle.md in the swvr repository); default: the
        /// bundle committed under fixtures/.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Weighting scheme (TOML); default DATA/scheme.toml, else the built-in scheme.
        #[arg(long)]
        scheme: Option<PathBuf>,
        /// Model specification (TOML); default: the report's Appendix E model.
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Questionnaire definition (TOML); default: the built-in 2021 definition.
        #[arg(long)]
        questionnaire: Option<PathBuf>,
        /// Also export in this format into OUT/export/ (sav, dta, parquet, csv, xlsx); repeatable.
        #[arg(long = "export", value_name = "FORMAT")]
        export: Vec<swvr_export::Format>,
        /// Fieldwork stage: `full` (response rates and interview-quality checks), `rates`
        /// (response rates from calls.csv only) or `off`; recorded in manifest.json.
        #[arg(long, value_enum, value_name = "MODE", default_value_t = FieldworkMode::Full)]
        fieldwork: FieldworkMode,
        #[command(flatten)]
        select: Select,
    },
    /// Validate a wave bundle: OUT/ingest/{respondents.arrow, rejects.csv, validation.json}.
    Ingest {
        /// Wave bundle folder (respondents.csv or .sav/.zsav/.dta, design.csv,
        /// targets.csv; format: docs/bundle.md in the swvr repository).
        #[arg(long)]
        data: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Questionnaire definition (TOML); default: the built-in 2021 definition.
        #[arg(long)]
        questionnaire: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// Response rates from DATA/calls.csv and interview quality checks: OUT/fieldwork/ (docs/fieldwork.md).
    Fieldwork {
        /// Wave bundle folder (calls.csv when present).
        #[arg(long)]
        data: PathBuf,
        /// Output folder holding ingest/.
        #[arg(long)]
        out: PathBuf,
        /// Scheme file whose `[fieldwork]` table sets the options; default DATA/scheme.toml.
        #[arg(long)]
        scheme: Option<PathBuf>,
        /// Questionnaire definition (TOML).
        #[arg(long)]
        questionnaire: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// Base weights, raking and trimming: OUT/weight/{weighted.arrow, diagnostics.json}.
    Weight {
        /// Wave bundle folder (design.csv, targets.csv, optional scheme.toml;
        /// format: docs/bundle.md in the swvr repository).
        #[arg(long)]
        data: PathBuf,
        /// Output folder holding ingest/.
        #[arg(long)]
        out: PathBuf,
        /// Weighting scheme (TOML); default DATA/scheme.toml, else the built-in scheme.
        #[arg(long)]
        scheme: Option<PathBuf>,
        /// Questionnaire definition (TOML): the demographics raked on, their codes and ranges.
        #[arg(long)]
        questionnaire: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// Tables of every item by every domain: OUT/tabulate/.
    Tabulate {
        /// Output folder holding weight/.
        #[arg(long)]
        out: PathBuf,
        /// Questionnaire definition (TOML); default: the one ingest used
        /// (OUT/ingest/questionnaire.toml), else the built-in 2021 definition.
        #[arg(long)]
        questionnaire: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// The odds-ratio model of future volunteering: OUT/model/.
    Model {
        /// Output folder holding weight/.
        #[arg(long)]
        out: PathBuf,
        /// Model specification (TOML); default: the report's Appendix E model.
        #[arg(long)]
        spec: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// Labelled exports into OUT/export/: weighted.{sav,dta,parquet,csv}, tables and odds ratios, topline.xlsx.
    Export {
        /// Output folder holding weight/, tabulate/ and model/.
        #[arg(long)]
        out: PathBuf,
        /// Format: sav, dta, parquet, csv or xlsx; repeatable.
        #[arg(long = "format", value_name = "FORMAT", required = true)]
        formats: Vec<swvr_export::Format>,
        /// Questionnaire definition (TOML) the labels come from.
        #[arg(long)]
        questionnaire: Option<PathBuf>,
    },
    /// The HTML report of a run: OUT/report/index.html (also written by `swvr run`).
    Report {
        /// Run folder (holding tabulate/, weight/, model/).
        #[arg(long)]
        out: PathBuf,
    },
    /// Two run folders side by side: DIR/comparison.arrow and DIR/comparison.html, a summary on stdout.
    Compare {
        /// Run folder A (the reference).
        a: PathBuf,
        /// Run folder B.
        b: PathBuf,
        /// Folder for comparison.arrow and comparison.html (default: the current folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit non-zero when any estimate moves by more than this many percentage points.
        #[arg(long, value_name = "POINTS")]
        fail_above: Option<f64>,
    },
    /// Re-hash every file of a run folder against its manifest.json (exit 0
    /// only when all match); with --against, also say which inputs, options
    /// and outputs differ from another run's manifest.
    Verify {
        /// The run folder (holding manifest.json).
        out: PathBuf,
        /// Another run's manifest.json to compare with.
        #[arg(long, value_name = "MANIFEST")]
        against: Option<PathBuf>,
    },
    /// Print a built-in configuration file (to start a new one from it).
    Defaults {
        /// Which file.
        #[arg(value_enum)]
        name: DefaultName,
    },
    /// Write a deterministic synthetic wave bundle.
    Synth {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Total respondents, split evenly over the countries.
        #[arg(long, default_value_t = 8000)]
        respondents: u64,
        /// Comma-separated ISO3 codes (default: the eight 2021 countries).
        #[arg(long, value_delimiter = ',')]
        countries: Vec<String>,
        /// Generator seed.
        #[arg(long, default_value_t = 2021)]
        seed: u64,
        /// Wave (year).
        #[arg(long, default_value_t = 2021)]
        wave: i32,
    },
}

/// A stage's input from an earlier stage, with the command that makes it.
fn need(out: &Path, rel: &str, make: &str) -> Result<()> {
    let p = out.join(rel);
    if p.is_file() {
        Ok(())
    } else {
        anyhow::bail!("{}: not found; run `{make}` first (or `swvr run`)", p.display())
    }
}

/// A stage command: `replaced` (its stage folders) written by `f` into a
/// new generation of OUT that holds the other stage folders of the current
/// one, then committed by one atomic switch (docs/out.md). `f` gets the
/// folder that stands for OUT.
pub(crate) fn in_generation<T>(out: &Path, replaced: &[&str], f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let o = crate::out::Out::open(out)?;
    let staging = o.staging(replaced)?;
    let v = f(staging.dir()).map_err(|e| o.user_paths(&staging, e))?;
    o.commit(staging, None)?;
    Ok(v)
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    let bars = Bars::new(cli.quiet);
    match cli.command {
        Command::Run {
            data,
            out,
            scheme: scheme_path,
            spec: spec_path,
            questionnaire: qpath,
            export,
            fieldwork,
            select,
        } => crate::run::run(crate::run::RunArgs {
            data,
            out,
            scheme: scheme_path,
            spec: spec_path,
            questionnaire: qpath,
            selection: select.selection()?,
            export,
            fieldwork: fieldwork.into(),
            quiet: cli.quiet,
            bars: &bars,
        }),
        Command::Ingest {
            data,
            out,
            questionnaire: qpath,
            select,
        } => {
            let sel = select.selection()?;
            let q = config::questionnaire(qpath.as_deref())?;
            let s = in_generation(&out, &["ingest"], |o| {
                let s = swvr_ingest::ingest(&data, o, &q.value, &sel, &bars)?;
                write_effective(&o.join("ingest"), QUESTIONNAIRE_FILE, &q.effective)?;
                Ok(s)
            })?;
            let dir = out.join("ingest");
            if s.rows_accepted == 0 {
                let file = swvr_ingest::respondents_file(&data)?.display().to_string();
                return Err(summary::nothing_accepted(&file, &s, &dir));
            }
            summary::print(cli.quiet, &summary::ingest(&s, &dir.join("rejects.csv")));
            Ok(())
        }
        Command::Fieldwork {
            data,
            out,
            scheme: scheme_path,
            questionnaire: qpath,
            select,
        } => {
            let sel = select.selection()?;
            let q = config::stage_questionnaire(qpath.as_deref(), &out)?;
            let opts = crate::fieldwork::options(scheme_path.as_deref(), &data)?;
            need(&out, "ingest/respondents.arrow", "swvr ingest --data DIR --out OUT")?;
            let (s, removed) = in_generation(&out, &["fieldwork"], |o| {
                crate::fieldwork::stage(&data, o, &q.value, &opts, &sel, &bars)
            })?;
            crate::summary::print(
                cli.quiet,
                &crate::fieldwork::summary(&s, removed, swvr_fieldwork::Mode::Full),
            );
            Ok(())
        }
        Command::Weight {
            data,
            out,
            scheme: scheme_path,
            questionnaire: qpath,
            select,
        } => {
            let sel = select.selection()?;
            let q = config::stage_questionnaire(qpath.as_deref(), &out)?;
            let s = config::scheme(scheme_path.as_deref(), &data)?;
            need(&out, "ingest/respondents.arrow", "swvr ingest --data DIR --out OUT")?;
            let d = in_generation(&out, &["weight"], |o| {
                let d = swvr_weight::weight(&data, o, &s.value, &q.value, &sel, &bars)?;
                write_effective(&o.join("weight"), SCHEME_FILE, &s.effective)?;
                Ok(d)
            })?;
            let dir = out.join("weight");
            summary::print(cli.quiet, &summary::weight(&d, &dir));
            Ok(())
        }
        Command::Tabulate {
            out,
            questionnaire: qpath,
            select,
        } => {
            let sel = select.selection()?;
            let q = config::stage_questionnaire(qpath.as_deref(), &out)?;
            need(&out, "weight/weighted.arrow", "swvr weight --data DIR --out OUT")?;
            let t = in_generation(&out, &["tabulate"], |o| {
                Ok(swvr_tabulate::tabulate(o, &q.value, &sel, &bars)?)
            })?;
            summary::print(cli.quiet, &summary::tabulate(&t, &out.join("tabulate")));
            Ok(())
        }
        Command::Model {
            out,
            spec: spec_path,
            select,
        } => {
            let sel = select.selection()?;
            let s = config::spec(spec_path.as_deref())?;
            need(&out, "weight/weighted.arrow", "swvr weight --data DIR --out OUT")?;
            let m = in_generation(&out, &["model"], |o| {
                let m = swvr_model::model(o, &s.value, &sel, &bars)?;
                write_effective(&o.join("model"), SPEC_FILE, &s.effective)?;
                Ok(m)
            })?;
            let dir = out.join("model");
            summary::print(cli.quiet, &summary::model(&m, &dir));
            Ok(())
        }
        Command::Verify { out, against } => crate::verify::verify(&out, against.as_deref()),
        Command::Defaults { name } => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(config::default_text(name).as_bytes())?;
            stdout.flush()?;
            Ok(())
        }
        Command::Export {
            out,
            formats,
            questionnaire: qpath,
        } => {
            let q = config::stage_questionnaire(qpath.as_deref(), &out)?;
            let files = in_generation(&out, &["export"], |o| Ok(swvr_export::export(o, &q.value, &formats)?))?;
            if !cli.quiet {
                eprintln!("swvr: wrote {} files to {}", files.len(), out.join("export").display());
            }
            Ok(())
        }
        Command::Report { out } => crate::report::report(&out, cli.quiet),
        Command::Compare { a, b, out, fail_above } => crate::report::compare(&a, &b, out, fail_above, cli.quiet),
        Command::Synth {
            out,
            respondents,
            countries,
            seed,
            wave,
        } => {
            let defaults = swvr_synth::SynthOptions::default();
            let opts = swvr_synth::SynthOptions {
                respondents,
                seed,
                wave,
                countries: if countries.is_empty() {
                    defaults.countries
                } else {
                    countries
                },
            };
            let summary =
                swvr_synth::synth(&out, &opts, &bars).with_context(|| format!("synth into {}", out.display()))?;
            if !cli.quiet {
                eprintln!("swvr: wrote {} respondents to {}", summary.respondents, out.display());
            }
            Ok(())
        }
    }
}
