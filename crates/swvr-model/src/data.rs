//! From the columns of weighted.arrow to the sufficient statistics
//! ([`Aggregate`]) of one (country, wave): complete cases, their design-matrix
//! pattern, outcome, weight and stratum, in one pass over the rows.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Array, Float64Array, RecordBatch, StringArray};
use swvr_core::groups::Group;
use swvr_core::io::IntColumn;
use swvr_core::sum::Neumaier;

use crate::ModelError;
use crate::fit::{Aggregate, CalAggregate, CalCell, Cell, Pattern};
use crate::spec::{Levels, ModelSpec};

/// An integer-coded column of any integer width, or a text column.
#[derive(Debug, Clone, Copy)]
enum Col<'a> {
    Int(IntColumn<'a>),
    Str(&'a StringArray),
}

impl<'a> Col<'a> {
    fn get(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<Self, ModelError> {
        let col = batch.column_by_name(name).ok_or_else(|| ModelError::Column {
            path: path.to_path_buf(),
            column: name.to_string(),
            expected: "a column of this name (named in the model specification)".into(),
        })?;
        if let Some(c) = IntColumn::of(col.as_ref()) {
            return Ok(Col::Int(c));
        }
        if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
            return Ok(Col::Str(a));
        }
        Err(ModelError::Column {
            path: path.to_path_buf(),
            column: name.to_string(),
            expected: format!("integer codes or Utf8 text, found {}", col.data_type()),
        })
    }

    #[inline]
    fn code(&self, r: usize) -> Option<i64> {
        match self {
            Col::Int(c) => c.get(r),
            Col::Str(_) => None,
        }
    }
}

/// Marks a code outside every level in a [`Lut`].
const NONE: u8 = u8::MAX;

/// For `Int8` columns, the value of every possible code (a 256-entry table
/// instead of searching code lists on every row).
type Lut = Option<Box<[u8; 256]>>;

fn lut(col: Col<'_>, value: impl Fn(i64) -> Option<u8>) -> Lut {
    let Col::Int(IntColumn::I8(_)) = col else { return None };
    let mut t = Box::new([NONE; 256]);
    for c in i8::MIN..=i8::MAX {
        if let Some(v) = value(i64::from(c)) {
            t[c as u8 as usize] = v;
        }
    }
    Some(t)
}

/// A 0/1 coding of an integer column: `yes` codes → 1, `no` codes → 0, else missing.
#[derive(Debug, Clone)]
struct Binary<'a> {
    col: Col<'a>,
    yes: Vec<i64>,
    no: Vec<i64>,
    lut: Lut,
}

impl<'a> Binary<'a> {
    fn new(col: Col<'a>, yes: &[i64], no: &[i64]) -> Self {
        let mut b = Binary {
            col,
            yes: yes.to_vec(),
            no: no.to_vec(),
            lut: None,
        };
        b.lut = lut(col, |c| b.slow(c));
        b
    }

    fn slow(&self, c: i64) -> Option<u8> {
        if self.yes.contains(&c) {
            Some(1)
        } else if self.no.contains(&c) {
            Some(0)
        } else {
            None
        }
    }

    #[inline]
    fn value(&self, r: usize) -> Option<u8> {
        if let (Some(t), Col::Int(IntColumn::I8(a))) = (&self.lut, self.col) {
            if a.is_null(r) {
                return None;
            }
            let v = t[a.value(r) as u8 as usize];
            return (v != NONE).then_some(v);
        }
        self.slow(self.col.code(r)?)
    }
}

/// A categorical control: row → level index (levels in term order, reference first).
#[derive(Debug, Clone)]
struct Categorical<'a> {
    col: Col<'a>,
    /// Per level (reference first): codes (integer column) or the label (text column).
    codes: Vec<Vec<i64>>,
    labels: Vec<String>,
    lut: Lut,
}

impl<'a> Categorical<'a> {
    fn new(col: Col<'a>, codes: Vec<Vec<i64>>, labels: Vec<String>) -> Self {
        let lut = lut(col, |c| codes.iter().position(|cs| cs.contains(&c)).map(|i| i as u8));
        Categorical {
            col,
            codes,
            labels,
            lut,
        }
    }

    #[inline]
    fn level(&self, r: usize) -> Option<u64> {
        match self.col {
            Col::Str(a) => {
                if a.is_null(r) {
                    return None;
                }
                let v = a.value(r);
                self.labels.iter().position(|l| l == v).map(|i| i as u64)
            }
            Col::Int(IntColumn::I8(a)) if self.lut.is_some() => {
                if a.is_null(r) {
                    return None;
                }
                let v = self.lut.as_ref().map_or(NONE, |t| t[a.value(r) as u8 as usize]);
                (v != NONE).then_some(u64::from(v))
            }
            _ => {
                let c = self.col.code(r)?;
                self.codes.iter().position(|cs| cs.contains(&c)).map(|i| i as u64)
            }
        }
    }
}

/// Largest dense (stratum, pattern, outcome) table, in slots (4 MB).
const DENSE_CELLS: u64 = 1 << 20;

/// The model's view of a batch: typed columns and the term list.
#[derive(Debug)]
pub(crate) struct Design<'a> {
    outcome: Binary<'a>,
    predictors: Vec<Binary<'a>>,
    controls: Vec<Categorical<'a>>,
    weight: &'a Float64Array,
    /// Term names, `(Intercept)` first.
    pub terms: Vec<String>,
    path: &'a Path,
    /// The calibration, with calibrated variance.
    pub calib: Option<swvr_core::calibration::BatchCalibration>,
    /// Input row of the batch's first row, less one (for messages).
    row_offset: u64,
}

/// Σ w, Σ w² and the count of one (stratum, pattern, outcome) cell.
#[derive(Clone, Copy, Default)]
pub(crate) struct Acc {
    pub sw: Neumaier,
    pub sw2: Neumaier,
    pub n: u64,
}

impl Acc {
    #[inline]
    pub(crate) fn add(&mut self, w: f64) {
        self.sw.add(w);
        self.sw2.add(w * w);
        self.n += 1;
    }
}

/// The shape of a design-matrix row: predictors, then the levels of each
/// control (reference first); [`RowShape::row`] decodes a pattern key.
#[derive(Debug, Clone)]
pub(crate) struct RowShape {
    predictors: usize,
    controls: Vec<usize>,
    k: usize,
}

impl RowShape {
    /// The design-matrix row of a pattern key.
    pub(crate) fn row(&self, mut key: u64) -> Vec<f64> {
        let mut x = vec![0.0; self.k];
        x[0] = 1.0;
        // Decode from the last factor backwards.
        let mut col = self.k;
        for &n in self.controls.iter().rev() {
            let n = n as u64;
            let level = (key % n) as usize;
            key /= n;
            col -= n as usize - 1;
            if level > 0 {
                x[col + level - 1] = 1.0;
            }
        }
        for _ in 0..self.predictors {
            col -= 1;
            x[col] = (key % 2) as f64;
            key /= 2;
        }
        x
    }
}

/// The [`Aggregate`] of the cells `keys[i]` = (stratum, pattern key, y)
/// with sums `accs[i]` (any order), the pattern keys ascending, and each
/// key's pattern index.
pub(crate) fn build_aggregate(
    shape: &RowShape,
    keys: &[(u32, u64, u8)],
    accs: &[Acc],
    stratum_n: Vec<u64>,
) -> (Aggregate, Vec<u64>, HashMap<u64, u32>) {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by_key(|&i| keys[i]);
    let mut pattern_keys: Vec<u64> = keys.iter().map(|k| k.1).collect();
    pattern_keys.sort_unstable();
    pattern_keys.dedup();
    let pattern_index: HashMap<u64, u32> = pattern_keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
    let mut patterns: Vec<Pattern> = pattern_keys
        .iter()
        .map(|&k| Pattern {
            x: shape.row(k),
            sw1: 0.0,
            sw0: 0.0,
            n1: 0,
            n0: 0,
        })
        .collect();
    let mut pattern_sums = vec![(Neumaier::new(), Neumaier::new()); patterns.len()];
    let mut cells = Vec::with_capacity(keys.len());
    for i in order {
        let (s, key, y) = keys[i];
        let p = pattern_index[&key];
        let a = &accs[i];
        let pat = &mut patterns[p as usize];
        if y == 1 {
            pattern_sums[p as usize].0.merge(a.sw);
            pat.n1 += a.n;
        } else {
            pattern_sums[p as usize].1.merge(a.sw);
            pat.n0 += a.n;
        }
        cells.push(Cell {
            stratum: s,
            pattern: p,
            y,
            sw: a.sw.total(),
            sw2: a.sw2.total(),
        });
    }
    for (pat, (s1, s0)) in patterns.iter_mut().zip(pattern_sums) {
        pat.sw1 = s1.total();
        pat.sw0 = s0.total();
    }
    (
        Aggregate {
            k: shape.k,
            patterns,
            cells,
            stratum_n,
            cal: None,
        },
        pattern_keys,
        pattern_index,
    )
}

impl<'a> Design<'a> {
    /// Resolves the spec against the batch's columns (and the `swvr.levels` metadata).
    pub(crate) fn new(batch: &'a RecordBatch, path: &'a Path, spec: &ModelSpec) -> Result<Self, ModelError> {
        let binary = |item: &str, yes: &[i64], no: &[i64]| -> Result<Binary<'a>, ModelError> {
            let col = Col::get(batch, item, path)?;
            if matches!(col, Col::Str(_)) {
                return Err(ModelError::Column {
                    path: path.to_path_buf(),
                    column: item.to_string(),
                    expected: "integer answer codes".into(),
                });
            }
            Ok(Binary::new(col, yes, no))
        };
        let outcome = binary(&spec.outcome.item, &spec.outcome.yes, &spec.outcome.no)?;
        let mut terms = vec!["(Intercept)".to_string()];
        let mut predictors = Vec::new();
        for p in &spec.predictors {
            predictors.push(binary(&p.item, &p.yes, &p.no)?);
            terms.push(p.term_name().to_string());
        }
        let mut controls = Vec::new();
        for c in &spec.controls {
            let col = Col::get(batch, &c.variable, path)?;
            let (mut labels, mut codes): (Vec<String>, Vec<Vec<i64>>) = match &c.levels {
                Levels::Named(_) => {
                    let Col::Str(a) = col else {
                        return Err(ModelError::Column {
                            path: path.to_path_buf(),
                            column: c.variable.clone(),
                            expected: "Utf8 band labels (levels = \"bands\")".into(),
                        });
                    };
                    let labels = band_levels(batch, &c.variable, a);
                    let n = labels.len();
                    (labels, vec![Vec::new(); n])
                }
                Levels::Listed(levels) => {
                    let text = matches!(col, Col::Str(_));
                    if text == levels.iter().any(|l| !l.codes.is_empty()) {
                        return Err(ModelError::Column {
                            path: path.to_path_buf(),
                            column: c.variable.clone(),
                            expected: if text {
                                "integer codes (the spec gives `codes` for its levels)".into()
                            } else {
                                "Utf8 text (the spec gives its levels without `codes`); give `codes` for an integer column".into()
                            },
                        });
                    }
                    (
                        levels.iter().map(|l| l.label.clone()).collect(),
                        levels.iter().map(|l| l.codes.clone()).collect(),
                    )
                }
            };
            if labels.len() < 2 || labels.len() > 250 {
                return Err(ModelError::Column {
                    path: path.to_path_buf(),
                    column: c.variable.clone(),
                    expected: format!("between 2 and 250 levels, found {}", labels.len()),
                });
            }
            let reference = match &c.reference {
                Some(r) => labels.iter().position(|l| l == r).ok_or_else(|| ModelError::Column {
                    path: path.to_path_buf(),
                    column: c.variable.clone(),
                    expected: format!("a level `{r}` (the spec's reference); levels are {labels:?}"),
                })?,
                None => 0,
            };
            let l = labels.remove(reference);
            labels.insert(0, l);
            let cs = codes.remove(reference);
            codes.insert(0, cs);
            for l in &labels[1..] {
                terms.push(format!("{}={}", c.variable, l));
            }
            controls.push(Categorical::new(col, codes, labels));
        }
        let weight = swvr_core::io::column::<Float64Array>(batch, &spec.weight, path)?;
        let calib = swvr_core::calibration::BatchCalibration::from_batch(batch).map_err(|e| ModelError::Column {
            path: path.to_path_buf(),
            column: e.column,
            expected: e.expected,
        })?;
        Ok(Design {
            outcome,
            predictors,
            controls,
            weight,
            terms,
            path,
            calib,
            row_offset: 0,
        })
    }

    /// The same design for a batch whose first row is input row `offset + 1`.
    pub(crate) fn with_row_offset(mut self, offset: u64) -> Self {
        self.row_offset = offset;
        self
    }

    /// The shape of the design-matrix rows.
    pub(crate) fn shape(&self) -> RowShape {
        RowShape {
            predictors: self.predictors.len(),
            controls: self.controls.iter().map(|c| c.labels.len()).collect(),
            k: self.k(),
        }
    }

    /// The pattern key and outcome of row `r` with its weight, when it is
    /// a complete case with a positive weight (`Ok(None)` otherwise; an
    /// error for a bad weight of a complete case).
    #[inline]
    pub(crate) fn case(&self, r: usize) -> Result<Option<(u64, u8, f64)>, ModelError> {
        let Some(y) = self.outcome.value(r) else {
            return Ok(None);
        };
        let Some(key) = self.key(r) else { return Ok(None) };
        if self.weight.is_null(r) {
            return Err(self.bad_weight(r, "null".into()));
        }
        let w = self.weight.value(r);
        if !(w.is_finite() && w >= 0.0) {
            return Err(self.bad_weight(r, w.to_string()));
        }
        if w == 0.0 {
            return Ok(None);
        }
        Ok(Some((key, y, w)))
    }

    /// Number of possible pattern keys (None when it overflows).
    pub(crate) fn patterns_possible(&self) -> Option<u64> {
        self.pattern_space()
    }

    /// Number of coefficients.
    pub(crate) fn k(&self) -> usize {
        self.terms.len()
    }

    /// Number of possible pattern keys (None when it overflows).
    fn pattern_space(&self) -> Option<u64> {
        let mut n = 1u64 << self.predictors.len().min(63);
        for c in &self.controls {
            n = n.checked_mul(c.labels.len() as u64)?;
        }
        Some(n)
    }

    /// Mixed-radix pattern key of row `r` (None: not a complete case).
    #[inline]
    fn key(&self, r: usize) -> Option<u64> {
        let mut key = 0u64;
        for p in &self.predictors {
            key = key * 2 + u64::from(p.value(r)?);
        }
        for c in &self.controls {
            key = key * c.labels.len() as u64 + c.level(r)?;
        }
        Some(key)
    }

    /// The (pattern, outcome) cell `2·pattern + y` of every complete case of
    /// `group` with a positive weight, as `(batch row, cell)` in row order;
    /// `keys` are the pattern keys of [`Design::aggregate_keys`].
    pub(crate) fn row_cells(&self, group: &Group, keys: &[u64]) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for &row in &group.rows {
            let r = row as usize;
            let (Some(y), Some(key)) = (self.outcome.value(r), self.key(r)) else {
                continue;
            };
            if self.weight.is_null(r) || self.weight.value(r).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
            if let Ok(p) = keys.binary_search(&key) {
                out.push((row, p as u32 * 2 + u32::from(y)));
            }
        }
        out
    }

    /// Sufficient statistics of `group` (one pass over its rows, in row
    /// order), and the key of each pattern (ascending, the patterns' order).
    pub(crate) fn aggregate_keys(&self, group: &Group) -> Result<(Aggregate, Vec<u64>), ModelError> {
        let nstrata = group.strata.len();
        let mut stratum_n = vec![0u64; nstrata];
        // Cell slots: a dense table over (stratum, pattern, y) when small, else a hash map.
        let patterns_possible = self.pattern_space();
        let dense_len = patterns_possible
            .and_then(|p| p.checked_mul(2 * nstrata as u64))
            .filter(|&l| l <= DENSE_CELLS);
        let mut dense: Vec<u32> = vec![u32::MAX; dense_len.unwrap_or(0) as usize];
        let mut index: HashMap<(u32, u64, u8), u32> = HashMap::new();
        let mut keys: Vec<(u32, u64, u8)> = Vec::new();
        let mut accs: Vec<Acc> = Vec::new();
        for (&row, &s) in group.rows.iter().zip(&group.stratum) {
            let r = row as usize;
            stratum_n[s as usize] += 1;
            let Some(y) = self.outcome.value(r) else { continue };
            let Some(key) = self.key(r) else { continue };
            if self.weight.is_null(r) {
                return Err(self.bad_weight(r, "null".into()));
            }
            let w = self.weight.value(r);
            if !(w.is_finite() && w >= 0.0) {
                return Err(self.bad_weight(r, w.to_string()));
            }
            if w == 0.0 {
                continue; // outside the estimation domain, as svyglm's zero-weight rows
            }
            let mut fresh = || {
                keys.push((s, key, y));
                accs.push(Acc::default());
                (accs.len() - 1) as u32
            };
            let i = match (dense_len, patterns_possible) {
                (Some(_), Some(np)) => {
                    let slot = &mut dense[((u64::from(s) * np + key) * 2 + u64::from(y)) as usize];
                    if *slot == u32::MAX {
                        *slot = fresh();
                    }
                    *slot
                }
                _ => *index.entry((s, key, y)).or_insert_with(fresh),
            };
            let a = &mut accs[i as usize];
            a.sw.add(w);
            a.sw2.add(w * w);
            a.n += 1;
        }
        let (mut agg, pattern_keys, pattern_index) = build_aggregate(&self.shape(), &keys, &accs, stratum_n);
        let cal = match &self.calib {
            Some(c) => Some(self.cal_aggregate(group, c, &pattern_index)?),
            None => None,
        };
        agg.cal = cal;
        Ok((agg, pattern_keys))
    }

    /// The calibration statistics of `group` (a second pass over its rows):
    /// complete cases by (stratum, pattern, outcome, cell), and Σ w, Σ w²
    /// per (stratum, cell) over every row.
    fn cal_aggregate(
        &self,
        group: &Group,
        calib: &swvr_core::calibration::BatchCalibration,
        pattern_index: &HashMap<u64, u32>,
    ) -> Result<CalAggregate, ModelError> {
        let calibrator = calib.calibrator(&group.rows);
        let ncells = calibrator.n_cells();
        let nstrata = group.strata.len();
        let mut t = vec![Neumaier::new(); nstrata * ncells];
        let mut qt = vec![Neumaier::new(); nstrata * ncells];
        /// (stratum, pattern, outcome, cell).
        type Key = (u32, u32, u8, u32);
        let mut acc: HashMap<Key, [Neumaier; 3]> = HashMap::new();
        for (&row, &s) in group.rows.iter().zip(&group.stratum) {
            let r = row as usize;
            if self.weight.is_null(r) {
                return Err(self.bad_weight(r, "null".into()));
            }
            let w = self.weight.value(r);
            if !(w.is_finite() && w >= 0.0) {
                return Err(self.bad_weight(r, w.to_string()));
            }
            let cell = calib.cell[r];
            let at = s as usize * ncells + cell as usize;
            t[at].add(w);
            qt[at].add(w * w);
            let Some(y) = self.outcome.value(r) else { continue };
            let Some(key) = self.key(r) else { continue };
            if w == 0.0 {
                continue;
            }
            let p = pattern_index[&key];
            let e = calibrator.row_factor(calib.start[r]);
            let a = acc.entry((s, p, y, cell)).or_default();
            a[0].add(w);
            a[1].add(w * w);
            a[2].add(e);
        }
        let mut cells: Vec<CalCell> = acc
            .into_iter()
            .map(|((stratum, pattern, y, cell), [sw, sw2, se])| CalCell {
                stratum,
                pattern,
                y,
                cell,
                sw: sw.total(),
                sw2: sw2.total(),
                se: se.total(),
            })
            .collect();
        cells.sort_unstable_by_key(|c| (c.stratum, c.pattern, c.y, c.cell));
        Ok(CalAggregate {
            calibrator,
            cells,
            t: t.iter().map(Neumaier::total).collect(),
            qt: qt.iter().map(Neumaier::total).collect(),
        })
    }

    fn bad_weight(&self, r: usize, value: String) -> ModelError {
        ModelError::Weight {
            path: self.path.to_path_buf(),
            row: self.row_offset + r as u64 + 1,
            value,
        }
    }
}

/// Band labels of a text control: the field's `swvr.levels` metadata, else
/// the distinct values in sorted order.
fn band_levels(batch: &RecordBatch, name: &str, col: &StringArray) -> Vec<String> {
    let schema = batch.schema();
    if let Ok(field) = schema.field_with_name(name)
        && let Some(levels) = field.metadata().get(swvr_core::LEVELS_KEY)
    {
        return levels
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    let values: std::collections::BTreeSet<&str> = col.iter().flatten().collect();
    values.into_iter().map(str::to_string).collect()
}
