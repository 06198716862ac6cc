//! The `[fieldwork]` table of the weighting scheme file, validated once into
//! [`Options`]. Other tables of the file belong to the weight stage and are
//! not looked at here.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::FieldworkError;

/// How `e` (the share of unknown-eligibility numbers that are eligible) is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EMethod {
    /// Proportional allocation (the "CASRO" method): the eligible share among
    /// numbers whose eligibility was resolved, per country, wave and frame:
    /// `e = (I+P+R+NC+O) / (I+P+R+NC+O+NE)`.
    Proportional,
    /// A fixed value in `[0, 1]`.
    Fixed(f64),
}

/// The rule that flags a high maximum percent match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchRule {
    /// Flag interviews whose match p-value under independent draws from the
    /// country-wave's answer distributions is at most `tail_probability`.
    Auto,
    /// Flag interviews whose maximum percent match is at least this fraction.
    Fixed(f64),
}

impl MatchRule {
    /// Label written in quality.arrow (`auto(p<=0.01)`, `fixed(>=0.85)`).
    pub fn label(&self, tail: f64) -> String {
        match self {
            MatchRule::Auto => format!("auto(p<={tail})"),
            MatchRule::Fixed(f) => format!("fixed(>={f})"),
        }
    }
}

/// A flag that `exclude` can remove before weighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// An exact copy of an earlier interview (the earliest copy is kept).
    Duplicate,
    /// High maximum percent match (by the match rule).
    HighMatch,
    /// Duration below `speeder_fraction` of the country-wave median.
    Speeder,
    /// Straight-lined at least one declared battery.
    Straightline,
}

impl Flag {
    /// Name in the scheme and in reject reasons.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Duplicate => "duplicate",
            Flag::HighMatch => "high_match",
            Flag::Speeder => "speeder",
            Flag::Straightline => "straightline",
        }
    }
    const ALL: [Flag; 4] = [Flag::Duplicate, Flag::HighMatch, Flag::Speeder, Flag::Straightline];
}

/// What a reconciliation mismatch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMismatch {
    /// List in reconciliation.csv and the summary.
    Report,
    /// Fail the stage.
    Error,
}

/// Validated fieldwork options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Estimate of `e`.
    pub e: EMethod,
    /// Partial interviews (1.2) are in respondents.csv (reconciled like 1.1).
    pub partials_in_data: bool,
    /// Mismatches between calls.csv and the accepted respondents.
    pub reconciliation: OnMismatch,
    /// Rule flagging a high maximum percent match.
    pub match_threshold: MatchRule,
    /// Tail probability of the automatic match rule and of the interviewer
    /// cluster flag.
    pub tail_probability: f64,
    /// Looser per-interview level whose counts are compared between
    /// interviewers (an interview with match p-value at most this is a
    /// "high match" in interviewers.arrow).
    pub interviewer_screen: f64,
    /// Speeder: duration below this fraction of the country-wave median.
    pub speeder_fraction: f64,
    /// Flags whose interviews are removed before weighting (sorted, unique).
    pub exclude: Vec<Flag>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            e: EMethod::Proportional,
            partials_in_data: false,
            reconciliation: OnMismatch::Report,
            match_threshold: MatchRule::Auto,
            tail_probability: 0.01,
            interviewer_screen: 0.1,
            speeder_fraction: 0.5,
            exclude: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    fieldwork: Option<RawFieldwork>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldwork {
    e: Option<Spanned<toml::Value>>,
    partials_in_data: Option<bool>,
    reconciliation: Option<Spanned<String>>,
    match_threshold: Option<Spanned<toml::Value>>,
    tail_probability: Option<Spanned<f64>>,
    interviewer_screen: Option<Spanned<f64>>,
    speeder_fraction: Option<Spanned<f64>>,
    exclude: Option<Spanned<Vec<String>>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

impl Options {
    /// Reads the `[fieldwork]` table of a scheme file (defaults when absent).
    pub fn from_path(path: &Path) -> Result<Self, FieldworkError> {
        let text = std::fs::read_to_string(path).map_err(|source| FieldworkError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses the `[fieldwork]` table of scheme TOML; `path` names it in errors.
    pub fn from_toml_str(text: &str, path: &str) -> Result<Self, FieldworkError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| FieldworkError::Scheme {
            file: path.to_string(),
            line: e.span().map_or(0, |s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let mut o = Options::default();
        let Some(f) = raw.fieldwork else {
            return Ok(o);
        };
        let bad = |span: std::ops::Range<usize>, key: &str, found: String, expected: &str| FieldworkError::Scheme {
            file: path.to_string(),
            line: line_of(text, span.start),
            message: format!("fieldwork.{key} = {found}: expected {expected}"),
        };
        let unit = |v: &Spanned<f64>, key: &str, open_low: bool| -> Result<f64, FieldworkError> {
            let x = *v.get_ref();
            let ok = if open_low {
                x > 0.0 && x < 1.0
            } else {
                (0.0..=1.0).contains(&x)
            };
            if ok {
                Ok(x)
            } else {
                Err(bad(
                    v.span(),
                    key,
                    x.to_string(),
                    if open_low {
                        "a number strictly between 0 and 1"
                    } else {
                        "a number between 0 and 1"
                    },
                ))
            }
        };
        if let Some(e) = &f.e {
            o.e = match e.get_ref() {
                toml::Value::String(s) if s == "proportional" => EMethod::Proportional,
                toml::Value::Float(x) if (0.0..=1.0).contains(x) => EMethod::Fixed(*x),
                toml::Value::Integer(x) if *x == 0 || *x == 1 => EMethod::Fixed(*x as f64),
                v => {
                    return Err(bad(
                        e.span(),
                        "e",
                        v.to_string(),
                        "\"proportional\" or a number between 0 and 1",
                    ));
                }
            };
        }
        if let Some(p) = f.partials_in_data {
            o.partials_in_data = p;
        }
        if let Some(r) = &f.reconciliation {
            o.reconciliation = match r.get_ref().as_str() {
                "report" => OnMismatch::Report,
                "error" => OnMismatch::Error,
                v => {
                    return Err(bad(
                        r.span(),
                        "reconciliation",
                        format!("{v:?}"),
                        "\"report\" or \"error\"",
                    ));
                }
            };
        }
        if let Some(m) = &f.match_threshold {
            o.match_threshold = match m.get_ref() {
                toml::Value::String(s) if s == "auto" => MatchRule::Auto,
                toml::Value::Float(x) if *x > 0.0 && *x <= 1.0 => MatchRule::Fixed(*x),
                toml::Value::Integer(1) => MatchRule::Fixed(1.0),
                v => {
                    return Err(bad(
                        m.span(),
                        "match_threshold",
                        v.to_string(),
                        "\"auto\" or a fraction in (0, 1]",
                    ));
                }
            };
        }
        if let Some(v) = &f.tail_probability {
            o.tail_probability = unit(v, "tail_probability", true)?;
        }
        if let Some(v) = &f.interviewer_screen {
            o.interviewer_screen = unit(v, "interviewer_screen", true)?;
        }
        if let Some(v) = &f.speeder_fraction {
            o.speeder_fraction = unit(v, "speeder_fraction", true)?;
        }
        if let Some(x) = &f.exclude {
            let mut flags = Vec::new();
            for name in x.get_ref() {
                let Some(flag) = Flag::ALL.into_iter().find(|f| f.name() == name) else {
                    return Err(bad(
                        x.span(),
                        "exclude",
                        format!("[.. {name:?} ..]"),
                        "flags among \"duplicate\", \"high_match\", \"speeder\", \"straightline\"",
                    ));
                };
                flags.push(flag);
            }
            flags.sort_unstable();
            flags.dedup();
            o.exclude = flags;
        }
        Ok(o)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Options::from_toml_str(text, "s.toml").unwrap_err().to_string()
    }

    #[test]
    fn defaults_without_a_fieldwork_table() {
        let o = Options::from_toml_str("[base]\nmethod = \"hartley\"\n", "s.toml").unwrap();
        assert_eq!(o, Options::default());
    }

    #[test]
    fn every_key_is_read() {
        let o = Options::from_toml_str(
            "[raking]\nx = 1\n[fieldwork]\ne = 0.4\npartials_in_data = true\nreconciliation = \"error\"\n\
             match_threshold = 0.85\ntail_probability = 0.05\ninterviewer_screen = 0.2\n\
             speeder_fraction = 0.3\nexclude = [\"speeder\", \"duplicate\", \"speeder\"]\n",
            "s.toml",
        )
        .unwrap();
        assert_eq!(o.e, EMethod::Fixed(0.4));
        assert!(o.partials_in_data);
        assert_eq!(o.reconciliation, OnMismatch::Error);
        assert_eq!(o.match_threshold, MatchRule::Fixed(0.85));
        assert_eq!(
            (o.tail_probability, o.interviewer_screen, o.speeder_fraction),
            (0.05, 0.2, 0.3)
        );
        assert_eq!(o.exclude, [Flag::Duplicate, Flag::Speeder]);
        let o = Options::from_toml_str("[fieldwork]\ne = 1\nmatch_threshold = \"auto\"\n", "s").unwrap();
        assert_eq!((o.e, o.match_threshold), (EMethod::Fixed(1.0), MatchRule::Auto));
    }

    #[test]
    fn errors_name_file_line_and_expectation() {
        let e = err("[fieldwork]\n\nbogus = 1\n");
        assert!(e.contains("s.toml: line 3") && e.contains("bogus"), "{e}");
        let e = err("[fieldwork]\ne = \"casro\"\n");
        assert_eq!(
            e,
            "s.toml: line 2: fieldwork.e = \"casro\": expected \"proportional\" or a number between 0 and 1"
        );
        let e = err("[fieldwork]\nmatch_threshold = 1.5\n");
        assert_eq!(
            e,
            "s.toml: line 2: fieldwork.match_threshold = 1.5: expected \"auto\" or a fraction in (0, 1]"
        );
        let e = err("[fieldwork]\ntail_probability = 0\n");
        assert!(e.contains("line 2") && e.contains("strictly between 0 and 1"), "{e}");
        let e = err("[fieldwork]\nspeeder_fraction = 1.0\n");
        assert!(e.contains("fieldwork.speeder_fraction = 1"), "{e}");
        let e = err("[fieldwork]\nexclude = [\"dup\"]\n");
        assert!(
            e.contains("line 2") && e.contains("\"dup\"") && e.contains("\"duplicate\""),
            "{e}"
        );
        let e = err("[fieldwork]\nreconciliation = \"warn\"\n");
        assert!(e.contains("\"report\" or \"error\""), "{e}");
        let e = err("[fieldwork\n");
        assert!(e.starts_with("s.toml: line 1"), "{e}");
    }
}
