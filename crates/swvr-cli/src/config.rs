//! Configuration files at the edge: each is read once into its validated
//! type ([`Questionnaire`], [`Scheme`], [`ModelSpec`]), with what the
//! manifest needs to record where it came from.
//!
//! "Effective" configuration: the validated value written back as TOML with
//! every key explicit and defaults filled in (`to_toml` of each type). That
//! is the file a stage folder holds (`ingest/questionnaire.toml`,
//! `weight/scheme.toml`, `model/spec.toml`): passing it back with the same
//! option reproduces the run, whatever the defaults of a later version. The
//! manifest hashes both that file and the source it came from (the user's
//! file, or the embedded default that `swvr defaults` prints).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use swvr_core::questionnaire::{DEFAULT_2021_TOML, Questionnaire};
use swvr_model::{DEFAULT_SPEC_TOML, ModelSpec};
use swvr_weight::Scheme;
use swvr_weight::scheme::DEFAULT_SCHEME_TOML;

use crate::manifest::sha256_hex;

/// Where a configuration came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// The built-in default (the embedded text).
    BuiltIn,
    /// A file (the user's `--option FILE`, or `DATA/scheme.toml`).
    File(PathBuf),
}

/// A loaded, validated configuration with its origin.
pub struct Loaded<T> {
    /// The validated value.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
    /// SHA-256 of the source bytes (the file, or the embedded default).
    pub source_sha256: String,
    /// The effective configuration (see the module documentation).
    pub effective: String,
}

fn read(path: &Path, what: &str) -> Result<(Vec<u8>, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read {what}", path.display()))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| anyhow::anyhow!("{}: {what} is not UTF-8 text; expected a TOML file", path.display()))?;
    Ok((bytes, text))
}

/// A configuration file when given (its bytes hashed, parsed by `parse`),
/// else the built-in default (`default`, whose file is `default_toml`); the
/// effective file is the validated value written back by `to_toml`.
fn load<T>(
    path: Option<&Path>,
    what: &str,
    default_toml: &str,
    parse: impl FnOnce(&str, &Path) -> Result<T>,
    default: impl FnOnce() -> T,
    to_toml: impl FnOnce(&T) -> String,
) -> Result<Loaded<T>> {
    let (value, origin, source_sha256) = match path {
        Some(p) => {
            let (bytes, text) = read(p, what)?;
            (parse(&text, p)?, Origin::File(p.to_path_buf()), sha256_hex(&bytes))
        }
        None => (default(), Origin::BuiltIn, sha256_hex(default_toml.as_bytes())),
    };
    let effective = to_toml(&value);
    Ok(Loaded {
        value,
        origin,
        source_sha256,
        effective,
    })
}

/// `--questionnaire FILE`, else the built-in definition.
pub fn questionnaire(path: Option<&Path>) -> Result<Loaded<Questionnaire>> {
    load(
        path,
        "questionnaire",
        DEFAULT_2021_TOML,
        |text, p| Ok(Questionnaire::from_toml_str(text, &p.display().to_string())?),
        Questionnaire::default_2021,
        Questionnaire::to_toml,
    )
}

/// The questionnaire of a stage run on its own after ingest: `--questionnaire
/// FILE`, else the effective one ingest used (`OUT/ingest/questionnaire.toml`),
/// else the built-in definition. Every stage of one OUT folder so agrees.
pub fn stage_questionnaire(path: Option<&Path>, out: &Path) -> Result<Loaded<Questionnaire>> {
    let used = out.join("ingest").join(crate::QUESTIONNAIRE_FILE);
    match path {
        Some(p) => questionnaire(Some(p)),
        None if used.is_file() => questionnaire(Some(&used)),
        None => questionnaire(None),
    }
}

/// `--scheme FILE`, else `DATA/scheme.toml` when present, else the default.
pub fn scheme(path: Option<&Path>, data: &Path) -> Result<Loaded<Scheme>> {
    let local = data.join("scheme.toml");
    let file = match path {
        Some(p) => Some(p),
        None if local.is_file() => Some(local.as_path()),
        None => None,
    };
    load(
        file,
        "weighting scheme",
        DEFAULT_SCHEME_TOML,
        |text, p| Ok(Scheme::from_toml_str(text, &p.display().to_string())?),
        Scheme::default_scheme,
        Scheme::to_toml,
    )
}

/// `--spec FILE`, else the built-in Appendix E model.
pub fn spec(path: Option<&Path>) -> Result<Loaded<ModelSpec>> {
    load(
        path,
        "model specification",
        DEFAULT_SPEC_TOML,
        |text, p| Ok(ModelSpec::from_toml(text, p)?),
        ModelSpec::default_spec,
        ModelSpec::to_toml,
    )
}

/// The built-in files `swvr defaults NAME` prints, byte for byte.
pub fn default_text(name: crate::cli::DefaultName) -> &'static str {
    use crate::cli::DefaultName;
    match name {
        DefaultName::Scheme => DEFAULT_SCHEME_TOML,
        DefaultName::Spec => DEFAULT_SPEC_TOML,
        DefaultName::Questionnaire => DEFAULT_2021_TOML,
    }
}
