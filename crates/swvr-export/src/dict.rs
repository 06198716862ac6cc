//! The data dictionary of the weighted microdata: each column of
//! weighted.arrow (plus replicate weights) with its type, variable label,
//! value labels and missing codes, as every labelled format needs them.

use arrow_array::{
    Array, BooleanArray, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::DataType;
use swvr_core::labels::{ColumnLabels, MissingKind, column_labels};
use swvr_core::questionnaire::Questionnaire;

use crate::ExportError;

/// A column's values, borrowed from the Arrow batch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Col<'a> {
    /// Integers of any width (codes, counts, the wave).
    Int(IntCol<'a>),
    /// Doubles (weights).
    Float(&'a Float64Array),
    /// Booleans, exported as 0/1.
    Bool(&'a BooleanArray),
    /// Text.
    Str(&'a StringArray),
}

/// An integer Arrow array of one of the widths swvr writes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IntCol<'a> {
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
}

impl IntCol<'_> {
    pub(crate) fn get(&self, i: usize) -> Option<i64> {
        macro_rules! g {
            ($a:expr) => {
                if $a.is_null(i) {
                    None
                } else {
                    Some(i64::from($a.value(i)))
                }
            };
        }
        match self {
            IntCol::I8(a) => g!(a),
            IntCol::I16(a) => g!(a),
            IntCol::I32(a) => g!(a),
            IntCol::I64(a) => g!(a),
        }
    }
}

impl Col<'_> {
    /// The value as a number (`None` = null; text has no number).
    pub(crate) fn num(&self, i: usize) -> Option<f64> {
        match self {
            Col::Int(a) => a.get(i).map(|v| v as f64),
            Col::Float(a) => (!a.is_null(i)).then(|| a.value(i)),
            Col::Bool(a) => (!a.is_null(i)).then(|| if a.value(i) { 1.0 } else { 0.0 }),
            Col::Str(_) => None,
        }
    }
    /// The value as an integer (integers and booleans).
    pub(crate) fn int(&self, i: usize) -> Option<i64> {
        match self {
            Col::Int(a) => a.get(i),
            Col::Bool(a) => (!a.is_null(i)).then(|| i64::from(a.value(i))),
            Col::Float(_) | Col::Str(_) => None,
        }
    }
    /// The text (empty for null).
    pub(crate) fn text(&self, i: usize) -> &str {
        match self {
            Col::Str(a) if !a.is_null(i) => a.value(i),
            _ => "",
        }
    }
    pub(crate) fn is_str(&self) -> bool {
        matches!(self, Col::Str(_))
    }
    /// Longest text in bytes (0 for non-text).
    pub(crate) fn max_len(&self) -> usize {
        match self {
            Col::Str(a) => (0..a.len())
                .map(|i| if a.is_null(i) { 0 } else { a.value(i).len() })
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }
    /// Smallest and largest integer (`None` when all null or not integer).
    pub(crate) fn int_range(&self, len: usize, skip: &[i64]) -> Option<(i64, i64)> {
        let mut r: Option<(i64, i64)> = None;
        for i in 0..len {
            if let Some(v) = self.int(i)
                && !skip.contains(&v)
            {
                r = Some(match r {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            }
        }
        r
    }
}

/// How SPSS should treat a variable in its measurement-level record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    Nominal,
    Scale,
}

/// One exported variable.
#[derive(Debug, Clone)]
pub(crate) struct Var<'a> {
    pub name: String,
    pub col: Col<'a>,
    pub label: String,
    /// Value labels in questionnaire order.
    pub values: Vec<(i64, String)>,
    /// DK/refused codes.
    pub missing: Vec<(i64, MissingKind)>,
    pub measure: Measure,
    /// True for integer-valued columns (codes, counts, booleans).
    pub integer: bool,
}

/// The dictionary: the variables in output order, the row count and the
/// index of the final weight.
#[derive(Debug)]
pub(crate) struct Dict<'a> {
    pub vars: Vec<Var<'a>>,
    pub rows: usize,
    pub weight: Option<usize>,
}

/// Labels of the columns that are not questionnaire variables.
fn fixed_label(name: &str) -> Option<String> {
    let s = match name {
        "country" => "Country (ISO 3166-1 alpha-3)",
        "wave" => "Wave (year of fieldwork)",
        "respondent_id" => "Respondent identifier (unique within country and wave)",
        "frame" => "Sampling frame the number was drawn from (L landline, M mobile)",
        "stratum" => "Sampling stratum",
        "n_adults" => "People aged 15+ in the household",
        "n_landlines" => "Landline numbers that ring in the household",
        "n_mobiles" => "Mobile numbers the respondent personally answers",
        "age_group" => "Age band of the weighting scheme (blank when age is DK/refused)",
        "age_group_weighting" => "Age band used for weighting (DK/refused imputed)",
        "base_weight" => "Base (design) weight from the dual-frame selection probabilities",
        "weight" => "Final weight (raked and trimmed; sums to n in each country-wave)",
        _ => {
            if let Some(d) = name.strip_suffix("_imputed") {
                return Some(format!("{d} imputed for weighting (1 = yes)"));
            }
            if let Some(r) = name.strip_prefix(swvr_core::replicates::COLUMN_PREFIX)
                && !r.is_empty()
                && r.bytes().all(|b| b.is_ascii_digit())
            {
                return Some(format!(
                    "Replicate weight {r}: final weight of replicate {r} (replicate variance: see svyset / svrepdesign)"
                ));
            }
            return None;
        }
    };
    Some(s.to_string())
}

pub(crate) fn col_of<'a>(batch: &'a RecordBatch, idx: usize) -> Result<Col<'a>, String> {
    let a = batch.column(idx).as_ref();
    let any = a.as_any();
    let c = match a.data_type() {
        DataType::Int8 => any.downcast_ref::<Int8Array>().map(|a| Col::Int(IntCol::I8(a))),
        DataType::Int16 => any.downcast_ref::<Int16Array>().map(|a| Col::Int(IntCol::I16(a))),
        DataType::Int32 => any.downcast_ref::<Int32Array>().map(|a| Col::Int(IntCol::I32(a))),
        DataType::Int64 => any.downcast_ref::<Int64Array>().map(|a| Col::Int(IntCol::I64(a))),
        DataType::Float64 => any.downcast_ref::<Float64Array>().map(Col::Float),
        DataType::Boolean => any.downcast_ref::<BooleanArray>().map(Col::Bool),
        DataType::Utf8 => any.downcast_ref::<StringArray>().map(Col::Str),
        _ => None,
    };
    c.ok_or_else(|| format!("type {} is not supported by the exporter", a.data_type()))
}

impl<'a> Dict<'a> {
    /// The dictionary of `batch` (weighted.arrow, replicate weights appended).
    pub(crate) fn new(
        batch: &'a RecordBatch,
        q: &Questionnaire,
        source: &std::path::Path,
    ) -> Result<Self, ExportError> {
        let mut vars = Vec::with_capacity(batch.num_columns());
        for (idx, f) in batch.schema().fields().iter().enumerate() {
            let col = col_of(batch, idx).map_err(|message| ExportError::Input {
                path: source.to_path_buf(),
                message: format!("column `{}`: {message}", f.name()),
            })?;
            let name = f.name().clone();
            let labels = column_labels(q, &name);
            let (label, values, missing) = match labels {
                Some(ColumnLabels { label, values, missing }) => (label, values, missing),
                None => {
                    let values = if matches!(col, Col::Bool(_)) {
                        vec![(0, "no".to_string()), (1, "yes".to_string())]
                    } else {
                        Vec::new()
                    };
                    let label = fixed_label(&name)
                        .or_else(|| f.metadata().get(swvr_core::labels::LABEL_KEY).cloned())
                        .unwrap_or_default();
                    (label, values, Vec::new())
                }
            };
            let integer = matches!(col, Col::Int(_) | Col::Bool(_));
            // Scale unless some value label names a valid (non-missing) code.
            let categorical = values.iter().any(|(c, _)| !missing.iter().any(|(m, _)| m == c));
            let measure = if !categorical && !col.is_str() && name != "wave" {
                Measure::Scale
            } else {
                Measure::Nominal
            };
            vars.push(Var {
                name,
                col,
                label,
                values,
                missing,
                measure,
                integer,
            });
        }
        let weight = vars
            .iter()
            .position(|v| v.name == "weight" && matches!(v.col, Col::Float(_)));
        Ok(Self {
            vars,
            rows: batch.num_rows(),
            weight,
        })
    }
}
