//! respondents.sav / .zsav / .dta: the file's variables become the columns
//! and each record becomes a row of text fields that the CSV validation
//! reads unchanged, so both inputs follow exactly the same rules.
//!
//! - A number is written as an integer when it is integral (`2021.0` →
//!   `2021`), else in shortest round-trip decimal (`33.5`), which the
//!   integer columns reject (`not_integer:age=33.5`).
//! - System-missing (SPSS sysmis, Stata `.`) is blank: "not asked" for
//!   items, a reject for keys and demographics, null for extras.
//! - Stata's extended missing values are the inverse of swvr's export:
//!   `.d` is the column's DK code, `.r` its refused code, `.a`, `.b`, …
//!   its other missing codes in questionnaire order; a value label on an
//!   extended missing value that names DK or refused decides instead. One
//!   that maps to nothing is kept as text (`.a`), which integer columns
//!   reject.
//! - SPSS user-missing values are codes like any other (8 stays 8); a
//!   user-missing code the questionnaire does not have, whose value label
//!   names DK or refused (`98 = "Don't know"`), is read as the
//!   questionnaire's DK or refused code of that column.
//! - Value labels of items and coded demographics must agree with the
//!   questionnaire ([`label_agrees`]); a disagreement is a file-level error
//!   naming the variable. Labels of codes the questionnaire lacks are not
//!   checked (a row holding such a code is rejected as out of range).

use std::borrow::Cow;
use std::path::Path;

use swvr_core::labels::{ColumnLabels, MissingKind, column_labels, stata_missing_letters};
use swvr_core::questionnaire::Questionnaire;
use swvr_statfile::{Kind, LabelKey, Reader, Record, Value, Variable};

use crate::IngestError;
use crate::reader::{Chunk, Fields};

/// How the values of one variable become text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conv {
    /// Numbers read as another code (user-missing codes labelled DK/refused).
    remap: Vec<(f64, i64)>,
    /// Code of each extended missing value `.a`–`.z`.
    ext: [Option<i64>; 26],
}

/// Lower case, every run of characters other than letters and digits
/// (spaces, punctuation, `_`, apostrophes) one space, trimmed.
pub(crate) fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

/// Normalised spellings of DK and refused labels (besides the category names).
const DK_WORDS: [&str; 5] = ["dk", "don t know", "dont know", "do not know", "doesn t know"];
const REFUSED_WORDS: [&str; 7] = [
    "refused",
    "refusal",
    "refuse",
    "rf",
    "declined",
    "prefer not to say",
    "prefer not to answer",
];

/// True when normalised `label` is `words` or starts with them as whole words.
fn starts_with_words(label: &str, words: &str) -> bool {
    label == words || (label.starts_with(words) && label.as_bytes().get(words.len()) == Some(&b' '))
}

/// The missing kind a label names (`Don't know` → DK), if any.
fn names_kind(label: &str) -> Option<MissingKind> {
    let l = normalise(label);
    if DK_WORDS.iter().any(|w| starts_with_words(&l, w)) {
        Some(MissingKind::Dk)
    } else if REFUSED_WORDS.iter().any(|w| starts_with_words(&l, w)) {
        Some(MissingKind::Refused)
    } else {
        None
    }
}

/// Does a file's value label agree with the questionnaire's category name?
/// Both are normalised (case, punctuation, `_` and spacing ignored); they
/// agree when the label is the category name or starts with its words
/// (`Yes, in the past 12 months` agrees with `yes`; `Not employed` with
/// `not_employed`; `No` does not agree with `yes`), and for DK and refused
/// also when it is a common spelling of them (`Don't know`, `Refusal`).
pub(crate) fn label_agrees(label: &str, category: &str, kind: Option<MissingKind>) -> bool {
    let (l, c) = (normalise(label), normalise(category));
    if starts_with_words(&l, &c) {
        return true;
    }
    matches!((kind, names_kind(label)), (Some(a), Some(b)) if a == b && a != MissingKind::Other)
}

/// The integral code of a number, when it is one.
fn code_of(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
}

/// Checks the value labels of a variable the questionnaire describes and
/// builds its conversion.
fn conv_for(file: &Path, v: &Variable, l: &ColumnLabels) -> Result<Conv, IngestError> {
    let mut conv = Conv::default();
    // Extended missing values: the inverse of swvr's export (.d dk, .r refused, .a, .b, … the others).
    for (code, letter) in stata_missing_letters(&l.missing) {
        conv.ext[usize::from(letter.clamp(1, 26) - 1)] = Some(code);
    }
    let code_of_kind = |k: MissingKind| l.missing.iter().find(|(_, m)| *m == k).map(|(c, _)| *c);
    let mismatch = |shown: String, label: &str, expected: String| IngestError::Variable {
        file: file.to_path_buf(),
        variable: v.name.clone(),
        what: format!(
            "{shown} is labelled `{label}` in the file; the questionnaire says {expected} (labels are compared ignoring case, punctuation and spacing, and may add words after the category's: docs/bundle.md)"
        ),
    };
    for (key, label) in &v.value_labels {
        match *key {
            LabelKey::Num(x) => {
                let Some(code) = code_of(x) else { continue };
                if let Some((_, category)) = l.values.iter().find(|(c, _)| *c == code) {
                    let kind = l.missing.iter().find(|(c, _)| *c == code).map(|(_, k)| *k);
                    if !label_agrees(label, category, kind) {
                        return Err(mismatch(
                            format!("code {code}"),
                            label,
                            format!("{code} = `{category}`"),
                        ));
                    }
                } else if v.missing.contains(x)
                    && let Some(kind) = names_kind(label)
                    && let Some(target) = code_of_kind(kind)
                {
                    conv.remap.push((x, target));
                }
            }
            LabelKey::Ext(c) => {
                let Some(kind) = names_kind(label) else { continue };
                let slot = usize::from(c - b'a');
                match (conv.ext[slot], code_of_kind(kind)) {
                    (Some(code), _) if l.missing.iter().any(|(m, k)| *m == code && *k != kind) => {
                        let expected = l
                            .values
                            .iter()
                            .find(|(m, _)| *m == code)
                            .map_or("", |(_, n)| n.as_str());
                        return Err(mismatch(
                            format!("extended missing value .{}", c as char),
                            label,
                            format!(
                                ".{} = {code} `{expected}` (swvr's export writes .d for DK and .r for refused)",
                                c as char
                            ),
                        ));
                    }
                    (_, Some(target)) => conv.ext[slot] = Some(target),
                    _ => {}
                }
            }
        }
    }
    Ok(conv)
}

/// The respondents file opened: its variable names, and the source of its records.
pub(crate) fn open(path: &Path, q: Option<&Questionnaire>) -> Result<(Vec<String>, StatSource), IngestError> {
    let reader = Reader::open(path)?;
    let vars = reader.variables();
    let mut names: Vec<String> = Vec::with_capacity(vars.len());
    let mut convs = Vec::with_capacity(vars.len());
    for v in vars {
        if names.iter().any(|n| n == &v.name) {
            return Err(IngestError::Variable {
                file: path.to_path_buf(),
                variable: v.name.clone(),
                what: "the name appears twice; expected each variable once".into(),
            });
        }
        names.push(v.name.clone());
        convs.push(match (v.kind, q.and_then(|q| column_labels(q, &v.name))) {
            (Kind::Numeric, Some(l)) => conv_for(path, v, &l)?,
            _ => Conv::default(),
        });
    }
    if names.len() > swvr_core::limits::MAX_COLUMNS {
        return Err(IngestError::Variable {
            file: path.to_path_buf(),
            variable: names[swvr_core::limits::MAX_COLUMNS].clone(),
            what: format!(
                "{} variables; expected at most {} (swvr's limit on header width)",
                names.len(),
                swvr_core::limits::MAX_COLUMNS
            ),
        });
    }
    let src = StatSource {
        reader,
        rec: Record::default(),
        convs,
        vals: Vec::new(),
        ends: Vec::new(),
    };
    Ok((names, src))
}

/// Records of a statistical file, rendered as text fields.
pub(crate) struct StatSource {
    reader: Reader,
    rec: Record,
    convs: Vec<Conv>,
    vals: Vec<u8>,
    ends: Vec<usize>,
}

/// The decimal digits of 0–999 (right-aligned) and their count.
static SMALL: [([u8; 3], u8); 1000] = {
    let mut t = [([0u8; 3], 0u8); 1000];
    let mut v = 0;
    while v < 1000 {
        let n = if v >= 100 {
            3
        } else if v >= 10 {
            2
        } else {
            1
        };
        t[v] = (
            [
                b'0' + (v / 100) as u8,
                b'0' + (v / 10 % 10) as u8,
                b'0' + (v % 10) as u8,
            ],
            n,
        );
        v += 1;
    }
    t
};

/// Appends `x` as an integer when integral, else in shortest round-trip decimal.
#[inline]
fn push_number(out: &mut Vec<u8>, x: f64) {
    // Integral when the conversion to an integer and back gives `x` (NaN
    // and the infinities do not; -0 gives 0); below 9e15 in magnitude.
    let v = x as i64;
    if v as f64 == x && (-9e15..9e15).contains(&x) {
        if (0..1000).contains(&v) {
            // Codes, ages and counts: digits from a table.
            let (d, n) = SMALL[v as usize];
            out.extend_from_slice(&d[3 - usize::from(n)..]);
            return;
        }
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut u = v.unsigned_abs();
        while u >= 10 {
            i -= 1;
            buf[i] = b'0' + (u % 10) as u8;
            u /= 10;
        }
        i -= 1;
        buf[i] = b'0' + u as u8;
        if v < 0 {
            out.push(b'-');
        }
        out.extend_from_slice(&buf[i..]);
    } else {
        use std::io::Write;
        let _ = write!(out, "{x}");
    }
}

impl StatSource {
    /// Reads and renders the next record; `false` at the end.
    pub(crate) fn next(&mut self) -> Result<bool, IngestError> {
        if !self.reader.next_record(&mut self.rec)? {
            return Ok(false);
        }
        self.vals.clear();
        self.ends.clear();
        for (i, conv) in self.convs.iter().enumerate() {
            match self.rec.get(i) {
                Value::Num(x) => match conv.remap.iter().find(|(v, _)| *v == x) {
                    Some((_, code)) => push_number(&mut self.vals, *code as f64),
                    None => push_number(&mut self.vals, x),
                },
                Value::Sys => {}
                Value::Ext(c) => match conv.ext[usize::from(c.saturating_sub(b'a')).min(25)] {
                    Some(code) => push_number(&mut self.vals, code as f64),
                    None => self.vals.extend_from_slice(&[b'.', c]),
                },
                Value::Text(t) => self.vals.extend_from_slice(t),
            }
            self.ends.push(self.vals.len());
        }
        Ok(true)
    }

    /// The record number (first = 1).
    pub(crate) fn line(&self) -> u64 {
        self.rec.number()
    }

    /// The records the file says it holds (capped by what its data can hold).
    pub(crate) fn records_hint(&self) -> Option<u64> {
        self.reader.records_hint()
    }

    /// Bytes of the file consumed.
    pub(crate) fn bytes_parsed(&self) -> u64 {
        self.reader.position()
    }

    /// The record as a CSV line of its rendered values.
    pub(crate) fn raw(&self) -> Cow<'_, [u8]> {
        Cow::Owned(render_csv(self))
    }

    /// Appends a copy of the current record to `chunk`.
    pub(crate) fn append_to(&self, chunk: &mut Chunk) {
        chunk.push_fields(self.line(), &self.vals, &self.ends, self.bytes_parsed());
    }
}

impl Fields for StatSource {
    #[inline]
    fn len(&self) -> usize {
        self.ends.len()
    }
    #[inline]
    fn field(&self, i: usize) -> &[u8] {
        match self.ends.get(i) {
            Some(&e) => &self.vals[if i == 0 { 0 } else { self.ends[i - 1] }..e],
            None => &[],
        }
    }
}

/// Fields joined as a CSV line (RFC 4180 quoting where needed): the `raw`
/// of a statistical file's record in rejects.csv.
pub(crate) fn render_csv(rec: &impl Fields) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..rec.len() {
        if i > 0 {
            out.push(b',');
        }
        let f = rec.field(i);
        if f.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            out.push(b'"');
            for &b in f {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_agree_ignoring_case_punctuation_and_added_words() {
        let check = |label: &str, cat: &str, kind: Option<MissingKind>, want: bool| {
            assert_eq!(label_agrees(label, cat, kind), want, "{label:?} vs {cat:?}");
        };
        check("Yes", "yes", None, true);
        check("  YES ", "yes", None, true);
        check("Yes, in the past 12 months", "yes", None, true);
        check("No", "yes", None, false);
        check("Yesterday", "yes", None, false);
        check("Not employed", "not_employed", None, true);
        check("Employed", "not_employed", None, false);
        check("Rural/village", "rural_village", None, true);
        check(
            "Did not volunteer in the past 12 months",
            "did_not_volunteer",
            None,
            true,
        );
        check("Unlikely", "likely", None, false);
        check("Not likely", "likely", None, false);
        check("Don't know", "dk", Some(MissingKind::Dk), true);
        check("DK", "dk", Some(MissingKind::Dk), true);
        check("Do not know / not sure", "dk", Some(MissingKind::Dk), true);
        check("Refused", "dk", Some(MissingKind::Dk), false);
        check("Refusal", "refused", Some(MissingKind::Refused), true);
        check("Don't know", "refused", Some(MissingKind::Refused), false);
        check("Don't know", "no", None, false);
    }

    #[test]
    fn numbers_render_as_integers_when_integral() {
        let r = |x: f64| {
            let mut v = Vec::new();
            push_number(&mut v, x);
            String::from_utf8(v).unwrap_or_default()
        };
        assert_eq!(r(2021.0), "2021");
        assert_eq!(r(7.0), "7");
        assert_eq!(r(-3.0), "-3");
        assert_eq!(r(0.0), "0");
        assert_eq!(r(-0.0), "0");
        assert_eq!(r(33.5), "33.5");
        assert_eq!(r(0.1), "0.1");
        assert_eq!(r(1e16), "10000000000000000");
        assert_eq!(r(-1e16), "-10000000000000000");
        assert_eq!(r(8999999999999999.0), "8999999999999999");
        assert_eq!(r(-10.0), "-10");
        for v in [1, 9, 10, 15, 99, 100, 998, 999, 1000, 2021] {
            assert_eq!(r(f64::from(v)), v.to_string());
        }
        assert_eq!(r(f64::NAN), "NaN");
        assert_eq!(r(f64::NEG_INFINITY), "-inf");
        assert_eq!(r(f64::INFINITY), "inf");
    }
}
