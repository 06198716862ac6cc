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

/// `--questionnaire FILE`, else the built-in definition.
pub fn questionnaire(path: Option<&Path>) -> Result<Loaded<Questionnaire>> {
    let (value, origin, hash) = match path {
        Some(p) => {
            let (bytes, text) = read(p, "questionnaire")?;
            let q = Questionnaire::from_toml_str(&text, &p.display().to_string())?;
            (q, Origin::File(p.to_path_buf()), sha256_hex(&bytes))
        }
        None => (
            Questionnaire::default_2021(),
            Origin::BuiltIn,
            sha256_hex(DEFAULT_2021_TOML.as_bytes()),
        ),
    };
    let effective = value.to_toml();
    Ok(Loaded {
        value,
        origin,
        source_sha256: hash,
        effective,
    })
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
        Some(p) => Some(p.to_path_buf()),
        None if local.is_file() => Some(local),
        None => None,
    };
    let (value, origin, hash) = match file {
        Some(p) => {
            let (bytes, text) = read(&p, "weighting scheme")?;
            let s = Scheme::from_toml_str(&text, &p.display().to_string())?;
            (s, Origin::File(p), sha256_hex(&bytes))
        }
        None => (
            Scheme::default_scheme(),
            Origin::BuiltIn,
            sha256_hex(DEFAULT_SCHEME_TOML.as_bytes()),
        ),
    };
    let effective = value.to_toml();
    Ok(Loaded {
        value,
        origin,
        source_sha256: hash,
        effective,
    })
}

/// `--spec FILE`, else the built-in Appendix E model.
pub fn spec(path: Option<&Path>) -> Result<Loaded<ModelSpec>> {
    let (value, origin, hash) = match path {
        Some(p) => {
            let (bytes, text) = read(p, "model specification")?;
            let s = ModelSpec::from_toml(&text, p)?;
            (s, Origin::File(p.to_path_buf()), sha256_hex(&bytes))
        }
        None => (
            ModelSpec::default_spec(),
            Origin::BuiltIn,
            sha256_hex(DEFAULT_SPEC_TOML.as_bytes()),
        ),
    };
    let effective = value.to_toml();
    Ok(Loaded {
        value,
        origin,
        source_sha256: hash,
        effective,
    })
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
