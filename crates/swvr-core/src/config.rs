//! What every configuration file (questionnaire, weighting scheme, model
//! specification) shares: one way to report a TOML syntax or type error,
//! located by file, line and column.
//!
//! Policy for built-in defaults: each default is a commented TOML file
//! committed in the repository (`questionnaire/*.toml`), embedded with
//! `include_str!` by the crate that owns its type and exposed there as a
//! `DEFAULT_…_TOML` constant; the default value is *parsed from that text*
//! by the same validating parser as a user's file, so `swvr defaults NAME`
//! prints exactly what a run without the option applies.
//!
//! ```
//! let text = "[raking]\nvariables = 3\n";
//! let err = toml::from_str::<toml::Table>("a = ").unwrap_err();
//! let e = swvr_core::config::TomlError::new("scheme.toml", "weighting scheme", "a = ", &err);
//! assert!(e.to_string().starts_with("scheme.toml: line 1, column 5: malformed weighting scheme: "));
//! # let _ = text;
//! ```

/// A configuration file that is not well-formed TOML or whose keys or value
/// types do not fit (an unknown key, a string where a number belongs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {}malformed {what}: {message}", location(*line, *column))]
pub struct TomlError {
    /// The file (as the user named it).
    pub path: String,
    /// What the file is (`questionnaire`, `weighting scheme`, `model specification`).
    pub what: String,
    /// 1-based line of the error, when the parser located it.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the error, when located.
    pub column: Option<usize>,
    /// The parser's explanation (what it found and expected).
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

impl TomlError {
    /// Locates `err`, raised while parsing `text` (the contents of `path`).
    pub fn new(path: impl Into<String>, what: impl Into<String>, text: &str, err: &toml::de::Error) -> Self {
        let (line, column) = match err.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        Self {
            path: path.into(),
            what: what.into(),
            line,
            column,
            message: err.message().trim_end().replace('\n', " "),
        }
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    line_col(text, at).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, want: &str) {
        let err = toml::from_str::<toml::Table>(text).unwrap_err();
        assert_eq!(TomlError::new("f.toml", "questionnaire", text, &err).to_string(), want);
    }

    #[test]
    fn locates_line_and_column() {
        check(
            "a = 1\nb = = 2\n",
            "f.toml: line 2, column 5: malformed questionnaire: extra `=`, expected nothing",
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_col("é = x", 4), (1, 4));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("a", 99), (1, 2));
    }

    #[test]
    fn unknown_key_of_a_typed_file_is_located() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: i64,
        }
        let text = "a = 1\ncolour = 3\n";
        let err = toml::from_str::<S>(text).unwrap_err();
        let e = TomlError::new("s.toml", "weighting scheme", text, &err);
        assert_eq!((e.line, e.column), (Some(2), Some(1)));
        assert!(
            e.to_string()
                .starts_with("s.toml: line 2, column 1: malformed weighting scheme: unknown field `colour`"),
            "{e}"
        );
    }
}
