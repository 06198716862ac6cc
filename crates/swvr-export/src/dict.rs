//! The data dictionary of the weighted microdata: each column of
//! weighted.arrow (plus replicate weights) with its type, variable label,
//! value labels and missing codes, as every labelled format needs them,
//! built from the schema; the statistics a header needs (longest text,
//! range of the valid codes) come from one pass over the batches
//! ([`Dict::scan`]), before the records are written batch by batch.

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
    #[inline]
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
    #[inline]
    pub(crate) fn num(&self, i: usize) -> Option<f64> {
        match self {
            Col::Int(a) => a.get(i).map(|v| v as f64),
            Col::Float(a) => (!a.is_null(i)).then(|| a.value(i)),
            Col::Bool(a) => (!a.is_null(i)).then(|| if a.value(i) { 1.0 } else { 0.0 }),
            Col::Str(_) => None,
        }
    }
    /// The value as an integer (integers and booleans).
    #[inline]
    pub(crate) fn int(&self, i: usize) -> Option<i64> {
        match self {
            Col::Int(a) => a.get(i),
            Col::Bool(a) => (!a.is_null(i)).then(|| i64::from(a.value(i))),
            Col::Float(_) | Col::Str(_) => None,
        }
    }
    /// The text (empty for null).
    #[inline]
    pub(crate) fn text(&self, i: usize) -> &str {
        match self {
            Col::Str(a) if !a.is_null(i) => a.value(i),
            _ => "",
        }
    }
}

/// How SPSS should treat a variable in its measurement-level record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    Nominal,
    Scale,
}

/// The kind of values a column holds (its Arrow type, as the exporter
/// groups them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Float,
    Bool,
    Str,
}

/// One exported variable.
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub name: String,
    pub kind: Kind,
    pub label: String,
    /// Value labels in questionnaire order.
    pub values: Vec<(i64, String)>,
    /// DK/refused codes.
    pub missing: Vec<(i64, MissingKind)>,
    pub measure: Measure,
    /// True for integer-valued columns (codes, counts, booleans).
    pub integer: bool,
    /// Longest text in bytes (0 for non-text; after [`Dict::scan`]).
    pub max_len: usize,
    /// Smallest and largest integer that is not a missing code (`None`
    /// when there is none, or before [`Dict::scan`] with ranges).
    pub range: Option<(i64, i64)>,
}

impl Var {
    pub(crate) fn is_str(&self) -> bool {
        self.kind == Kind::Str
    }
}

/// The dictionary: the variables in output order, the row count and the
/// index of the final weight.
#[derive(Debug)]
pub(crate) struct Dict {
    pub vars: Vec<Var>,
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

/// The kind of an Arrow type, or why the exporter cannot write it.
pub(crate) fn kind_of(t: &DataType) -> Result<Kind, String> {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Ok(Kind::Int),
        DataType::Float64 => Ok(Kind::Float),
        DataType::Boolean => Ok(Kind::Bool),
        DataType::Utf8 => Ok(Kind::Str),
        _ => Err(format!("type {t} is not supported by the exporter")),
    }
}

/// The columns of `batch` (whose types [`kind_of`] accepted).
pub(crate) fn cols_of<'a>(batch: &'a RecordBatch, path: &std::path::Path) -> Result<Vec<Col<'a>>, ExportError> {
    (0..batch.num_columns())
        .map(|i| {
            col_of(batch, i).map_err(|message| ExportError::Input {
                path: path.to_path_buf(),
                message: format!("column `{}`: {message}", batch.schema().field(i).name()),
            })
        })
        .collect()
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

impl Dict {
    /// The dictionary of the microdata's `schema` (weighted.arrow's columns,
    /// replicate weights appended); `rows` = its row count.
    pub(crate) fn new(
        schema: &arrow_schema::Schema,
        rows: usize,
        q: &Questionnaire,
        source: &std::path::Path,
    ) -> Result<Self, ExportError> {
        let mut vars = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let kind = kind_of(f.data_type()).map_err(|message| ExportError::Input {
                path: source.to_path_buf(),
                message: format!("column `{}`: {message}", f.name()),
            })?;
            let name = f.name().clone();
            let labels = column_labels(q, &name);
            let (label, values, missing) = match labels {
                Some(ColumnLabels { label, values, missing }) => (label, values, missing),
                None => {
                    let values = if kind == Kind::Bool {
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
            let integer = matches!(kind, Kind::Int | Kind::Bool);
            // Scale unless some value label names a valid (non-missing) code.
            let categorical = values.iter().any(|(c, _)| !missing.iter().any(|(m, _)| m == c));
            let measure = if !categorical && kind != Kind::Str && name != "wave" {
                Measure::Scale
            } else {
                Measure::Nominal
            };
            vars.push(Var {
                name,
                kind,
                label,
                values,
                missing,
                measure,
                integer,
                max_len: 0,
                range: None,
            });
        }
        let weight = vars.iter().position(|v| v.name == "weight" && v.kind == Kind::Float);
        Ok(Self { vars, rows, weight })
    }

    /// The names of the columns [`Dict::scan`] reads: text columns, and
    /// with `ranges` integer columns too.
    pub(crate) fn scan_columns(&self, ranges: bool) -> Vec<&str> {
        self.vars
            .iter()
            .filter(|v| v.kind == Kind::Str || (ranges && v.kind == Kind::Int))
            .map(|v| v.name.as_str())
            .collect()
    }

    /// Adds one batch (holding at least the [`Dict::scan_columns`], found
    /// by name) to the statistics: longest text and, with `ranges`, the
    /// range of the integers that are not missing codes (`skip(var)`).
    pub(crate) fn scan(&mut self, batch: &RecordBatch, ranges: bool, skip: impl Fn(&Var) -> Vec<i64>) {
        let schema = batch.schema();
        for v in &mut self.vars {
            if !(v.kind == Kind::Str || (ranges && v.kind == Kind::Int)) {
                continue;
            }
            let Ok(idx) = schema.index_of(&v.name) else { continue };
            match col_of(batch, idx) {
                Ok(Col::Str(a)) => v.max_len = v.max_len.max(longest(a)),
                Ok(Col::Int(a)) => {
                    let skip = skip(v);
                    let r = match a {
                        IntCol::I8(a) => int_range(a, &skip),
                        IntCol::I16(a) => int_range(a, &skip),
                        IntCol::I32(a) => int_range(a, &skip),
                        IntCol::I64(a) => int_range(a, &skip),
                    };
                    v.range = match (v.range, r) {
                        (Some((lo, hi)), Some((l, h))) => Some((lo.min(l), hi.max(h))),
                        (a, b) => a.or(b),
                    };
                }
                _ => {}
            }
        }
    }
}

/// Longest value of `a` in bytes (nulls are empty).
fn longest(a: &StringArray) -> usize {
    let o = a.value_offsets();
    if a.null_count() == 0 {
        o.windows(2).map(|w| (w[1] - w[0]) as usize).max().unwrap_or(0)
    } else {
        (0..a.len())
            .filter(|&i| a.is_valid(i))
            .map(|i| (o[i + 1] - o[i]) as usize)
            .max()
            .unwrap_or(0)
    }
}

/// Smallest and largest valid value of `a` not in `skip` (branch-free
/// over the values, so the compiler can vectorise it).
fn int_range<T>(a: &arrow_array::PrimitiveArray<T>, skip: &[i64]) -> Option<(i64, i64)>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    let mut add = |x: i64| {
        let skipped = skip.contains(&x);
        lo = lo.min(if skipped { i64::MAX } else { x });
        hi = hi.max(if skipped { i64::MIN } else { x });
    };
    match a.nulls().filter(|n| n.null_count() > 0) {
        None => a.values().iter().for_each(|&x| add(x.into())),
        Some(n) => a
            .values()
            .iter()
            .zip(n.iter())
            .filter(|(_, valid)| *valid)
            .for_each(|(&x, _)| add(x.into())),
    }
    (lo <= hi).then_some((lo, hi))
}
