//! Per-row validation of respondents.csv, compiled from the questionnaire.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, SchemaRef};
use swvr_core::questionnaire::{DemographicKind, Questionnaire};
use swvr_core::schema::{COUNT_COLUMNS, KEY_COLUMNS};

use crate::reader::Fields;
use crate::text::{Int, is_iso3, is_utf8, parse_int, show, trim};

/// Membership table of the codes 0..=127 an answer set allows.
pub(crate) type CodeSet = [bool; 128];

fn code_set(codes: impl IntoIterator<Item = i8>) -> CodeSet {
    let mut s = [false; 128];
    for c in codes {
        if let Ok(i) = usize::try_from(c) {
            s[i] = true;
        }
    }
    s
}

#[inline]
fn in_set(set: &CodeSet, v: i64) -> Option<i8> {
    let i = usize::try_from(v).ok()?;
    (*set.get(i)?).then_some(v as i8)
}

/// One machine-readable rejection reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reason {
    /// The part before `:` (`out_of_range`, `routing`, …).
    pub kind: &'static str,
    /// The column it names (empty for `duplicate_id`, `field_count`, …).
    pub column: String,
    /// The full reason as written in rejects.csv.
    pub text: String,
}

impl Reason {
    fn new(kind: &'static str, column: &str, text: String) -> Self {
        Self {
            kind,
            column: column.to_string(),
            text,
        }
    }
    fn blank(column: &str) -> Self {
        Self::new("blank", column, format!("blank:{column}"))
    }
    fn valued(kind: &'static str, column: &str, value: &[u8]) -> Self {
        Self::new(kind, column, format!("{kind}:{column}={}", show(value)))
    }
    pub(crate) fn bare(kind: &'static str) -> Self {
        Self::new(kind, "", kind.to_string())
    }
}

pub(crate) struct CountCol {
    pub src: usize,
    name: &'static str,
    pub min: i64,
}

pub(crate) enum DemoKind {
    Coded(CodeSet),
    Numeric { min: i64, max: i64, missing: Vec<i64> },
}

pub(crate) struct DemoCol {
    pub src: usize,
    name: String,
    pub kind: DemoKind,
}

impl DemoCol {
    /// True when the integer `x` is a value the demographic allows.
    #[inline]
    pub(crate) fn allows(&self, x: i64) -> bool {
        match &self.kind {
            DemoKind::Coded(set) => in_set(set, x).is_some(),
            DemoKind::Numeric { min, max, missing } => (*min..=*max).contains(&x) || missing.contains(&x),
        }
    }
}

pub(crate) struct ItemCol {
    pub src: usize,
    name: String,
    pub valid: CodeSet,
    /// (controlling item index, codes that route here).
    pub routing: Option<(usize, CodeSet)>,
}

/// An item's value in the current row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Blank,
    Valid(i8),
    Invalid,
}

/// The validation plan: where each required column is, and its rule.
pub(crate) struct Plan {
    pub ncols: usize,
    /// Positions of country, wave, respondent_id, frame, stratum.
    pub key: [usize; 5],
    pub counts: Vec<CountCol>,
    pub demos: Vec<DemoCol>,
    pub items: Vec<ItemCol>,
    pub extras: Vec<(usize, String)>,
}

/// The values of a row that passed, and the reasons of one that did not.
pub(crate) struct Row {
    pub reasons: Vec<Reason>,
    /// Valid country and wave (for design lookups and duplicate keys).
    pub key: Option<([u8; 3], i32)>,
    /// 0 = `L`, 1 = `M`, when valid.
    pub frame: Option<usize>,
    /// The respondent id is non-blank UTF-8.
    pub id_ok: bool,
    pub wave: i32,
    pub counts: Vec<Option<i32>>,
    pub demos: Vec<i16>,
    pub items: Vec<Status>,
    asked: Vec<Option<bool>>,
}

impl Plan {
    /// Compiles the plan; `cols[k]` is the file position of required column `k`
    /// (in `swvr_core::schema::required_columns` order), `extras` the
    /// positions of the other columns, `ncols` the header width.
    pub(crate) fn new(q: &Questionnaire, cols: &[usize], extras: Vec<(usize, String)>, ncols: usize) -> Self {
        let nk = KEY_COLUMNS.len();
        let nc = COUNT_COLUMNS.len();
        let nd = q.demographics().len();
        let key = [cols[0], cols[1], cols[2], cols[3], cols[4]];
        let counts = COUNT_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, &name)| CountCol {
                src: cols[nk + i],
                name,
                min: if name == "n_adults" { 1 } else { 0 },
            })
            .collect();
        let demos = q
            .demographics()
            .iter()
            .enumerate()
            .map(|(i, d)| DemoCol {
                src: cols[nk + nc + i],
                name: d.name.clone(),
                kind: match &d.kind {
                    DemographicKind::Coded { .. } => DemoKind::Coded(code_set(
                        q.demographic_set(d)
                            .into_iter()
                            .flat_map(|s| s.codes.iter().map(|c| c.code)),
                    )),
                    DemographicKind::Numeric {
                        min,
                        max,
                        missing_codes,
                    } => DemoKind::Numeric {
                        min: i64::from(*min),
                        max: i64::from(*max),
                        missing: missing_codes.iter().map(|&m| i64::from(m)).collect(),
                    },
                },
            })
            .collect();
        let items = q
            .items()
            .iter()
            .enumerate()
            .map(|(i, it)| ItemCol {
                src: cols[nk + nc + nd + i],
                name: it.id.clone(),
                valid: code_set(q.answer_set(it).codes.iter().map(|c| c.code)),
                routing: it.asked_if.as_ref().and_then(|r| {
                    q.item_index(&r.item)
                        .map(|ctrl| (ctrl, code_set(r.codes.iter().copied())))
                }),
            })
            .collect();
        Self {
            ncols,
            key,
            counts,
            demos,
            items,
            extras,
        }
    }

    /// Columns of the header.
    pub(crate) fn ncols(&self) -> usize {
        self.ncols
    }

    /// File position of the `country`, `wave`, `respondent_id` columns.
    pub(crate) fn country_col(&self) -> usize {
        self.key[0]
    }
    pub(crate) fn wave_col(&self) -> usize {
        self.key[1]
    }
    pub(crate) fn id_col(&self) -> usize {
        self.key[2]
    }

    pub(crate) fn new_row(&self) -> Row {
        Row {
            reasons: Vec::new(),
            key: None,
            frame: None,
            id_ok: false,
            wave: 0,
            counts: vec![None; self.counts.len()],
            demos: vec![0; self.demos.len()],
            items: vec![Status::Blank; self.items.len()],
            asked: vec![None; self.items.len()],
        }
    }

    /// Validates the current record into `row` (reasons in column order:
    /// keys, counts, demographics, items with their routing, extras).
    pub(crate) fn check(&self, rec: &impl Fields, row: &mut Row) {
        row.reasons.clear();
        row.key = None;
        row.frame = None;
        row.id_ok = false;
        if rec.len() != self.ncols {
            row.reasons.push(Reason::new(
                "field_count",
                "",
                format!("field_count:expected={},found={}", self.ncols, rec.len()),
            ));
            return;
        }
        let f = |i: usize| trim(rec.field(i));
        // Keys.
        let country = f(self.key[0]);
        let country_ok = if country.is_empty() {
            row.reasons.push(Reason::blank("country"));
            false
        } else if !is_iso3(country) {
            row.reasons.push(Reason::valued("invalid", "country", country));
            false
        } else {
            true
        };
        let wave = f(self.key[1]);
        let wave_ok = match parse_int(wave) {
            Int::Blank => {
                row.reasons.push(Reason::blank("wave"));
                false
            }
            Int::Invalid => {
                row.reasons.push(Reason::valued("not_integer", "wave", wave));
                false
            }
            Int::Value(v) if !swvr_core::schema::WAVES.contains(&v) => {
                row.reasons.push(Reason::valued("out_of_range", "wave", wave));
                false
            }
            Int::Value(v) => {
                row.wave = v as i32;
                true
            }
        };
        if country_ok && wave_ok {
            row.key = Some(([country[0], country[1], country[2]], row.wave));
        }
        row.id_ok = self.text(rec, self.key[2], "respondent_id", row);
        let frame = f(self.key[3]);
        match frame {
            b"" => row.reasons.push(Reason::blank("frame")),
            b"L" => row.frame = Some(0),
            b"M" => row.frame = Some(1),
            _ => row.reasons.push(Reason::valued("invalid", "frame", frame)),
        }
        self.text(rec, self.key[4], "stratum", row);
        // Counts: blank = not asked.
        for (k, c) in self.counts.iter().enumerate() {
            let v = f(c.src);
            row.counts[k] = match parse_int(v) {
                Int::Blank => None,
                Int::Invalid => {
                    row.reasons.push(Reason::valued("not_integer", c.name, v));
                    None
                }
                Int::Value(x) if x < c.min || x > i64::from(i32::MAX) => {
                    row.reasons.push(Reason::valued("out_of_range", c.name, v));
                    None
                }
                Int::Value(x) => Some(x as i32),
            };
        }
        // Demographics: asked of everyone.
        for (k, d) in self.demos.iter().enumerate() {
            let v = f(d.src);
            match parse_int(v) {
                Int::Blank => row.reasons.push(Reason::blank(&d.name)),
                Int::Invalid => row.reasons.push(Reason::valued("not_integer", &d.name, v)),
                Int::Value(x) => {
                    if d.allows(x) {
                        row.demos[k] = x as i16;
                    } else {
                        row.reasons.push(Reason::valued("out_of_range", &d.name, v));
                    }
                }
            }
        }
        // Items and routing, in interview order (a routing item is earlier).
        for (k, it) in self.items.iter().enumerate() {
            let v = f(it.src);
            let status = match parse_int(v) {
                Int::Blank => Status::Blank,
                Int::Invalid => {
                    row.reasons.push(Reason::valued("not_integer", &it.name, v));
                    Status::Invalid
                }
                Int::Value(x) => match in_set(&it.valid, x) {
                    Some(c) => Status::Valid(c),
                    None => {
                        row.reasons.push(Reason::valued("out_of_range", &it.name, v));
                        Status::Invalid
                    }
                },
            };
            row.items[k] = status;
            // Asked? Unknown when the controlling answer is itself invalid
            // (that row is rejected for the invalid answer anyway).
            let asked = match &it.routing {
                None => Some(true),
                Some((ctrl, codes)) => match row.items[*ctrl] {
                    Status::Valid(c) => Some(codes[c as usize]),
                    Status::Blank => match row.asked[*ctrl] {
                        Some(false) => Some(false),
                        _ => None,
                    },
                    Status::Invalid => None,
                },
            };
            row.asked[k] = asked;
            match (asked, status) {
                (Some(true), Status::Blank) => row.reasons.push(Reason::new(
                    "routing",
                    &it.name,
                    format!("routing:{}_blank_when_asked", it.name),
                )),
                (Some(false), Status::Valid(_) | Status::Invalid) => {
                    if let Some((ctrl, _)) = &it.routing {
                        let ctrl_name = &self.items[*ctrl].name;
                        let cv = f(self.items[*ctrl].src);
                        let shown = if cv.is_empty() { "blank".to_string() } else { show(cv) };
                        row.reasons.push(Reason::new(
                            "routing",
                            &it.name,
                            format!("routing:{}_asked_when_{}={}", it.name, ctrl_name, shown),
                        ));
                    }
                }
                _ => {}
            }
        }
        // Extras: carried verbatim, so they must be UTF-8.
        for (e, name) in &self.extras {
            if !is_utf8(rec.field(*e)) {
                row.reasons
                    .push(Reason::new("invalid_utf8", name, format!("invalid_utf8:{name}")));
            }
        }
    }

    /// Checks a required text column: non-blank, UTF-8.
    fn text(&self, rec: &impl Fields, src: usize, name: &str, row: &mut Row) -> bool {
        let v = trim(rec.field(src));
        if v.is_empty() {
            row.reasons.push(Reason::blank(name));
            false
        } else if !is_utf8(v) {
            row.reasons
                .push(Reason::new("invalid_utf8", name, format!("invalid_utf8:{name}")));
            false
        } else {
            true
        }
    }
}

/// A nullable primitive column under construction whose valid values are
/// never negative (codes, counts): a null is stored as -1 and turned into
/// a 0 value plus a null bit per batch; the null buffer exists only when
/// there is a null (as Arrow's builders do).
struct Prim<T> {
    values: Vec<T>,
}

impl<T: Copy + Default + PartialOrd + From<i8> + arrow_buffer::ArrowNativeType> Prim<T> {
    fn new(cap: usize) -> Self {
        Self {
            values: Vec::with_capacity(cap),
        }
    }
    /// Appends `v` (≥ 0) or a null (-1).
    #[inline(always)]
    fn push(&mut self, v: T) {
        self.values.push(v);
    }
    /// Values and validity so far; the column is emptied, with room for
    /// as many values as it just held.
    fn take(&mut self) -> (ScalarBuffer<T>, Option<NullBuffer>) {
        let cap = self.values.len();
        let mut values = std::mem::replace(&mut self.values, Vec::with_capacity(cap));
        let zero = T::default();
        let nulls = values.iter().any(|v| *v < zero).then(|| {
            let valid = BooleanBuffer::collect_bool(values.len(), |i| values[i] >= zero);
            for v in &mut values {
                if *v < zero {
                    *v = zero;
                }
            }
            NullBuffer::new(valid)
        });
        (values.into(), nulls)
    }
}

/// A nullable text column under construction: bytes already validated as
/// UTF-8 per value by [`Plan::check`], checked again in bulk per batch.
struct Text {
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    valid: Vec<bool>,
    nulls: usize,
}

impl Text {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            bytes: Vec::with_capacity(bytes),
            valid: Vec::with_capacity(rows),
            nulls: 0,
        }
    }
    #[inline]
    fn push(&mut self, v: &[u8]) -> Result<(), ArrowError> {
        self.bytes.extend_from_slice(v);
        let end = i32::try_from(self.bytes.len())
            .map_err(|_| ArrowError::ComputeError("text column over 2 GiB in one batch".into()))?;
        self.offsets.push(end);
        self.valid.push(true);
        Ok(())
    }
    #[inline]
    fn push_null(&mut self) {
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
        self.valid.push(false);
        self.nulls += 1;
    }
    /// The column so far; the builder is emptied, with room for as many
    /// rows and bytes as it just held (memory follows the data).
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let next = Self::with_capacity(self.valid.len(), self.bytes.len());
        let Self {
            offsets,
            bytes,
            valid,
            nulls,
        } = std::mem::replace(self, next);
        let nulls = (nulls > 0).then(|| NullBuffer::from(valid.as_slice()));
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        Ok(Arc::new(StringArray::try_new(offsets, Buffer::from_vec(bytes), nulls)?))
    }
}

/// Column builders of one output batch.
pub(crate) struct Builders {
    schema: SchemaRef,
    keys: [Text; 4],
    wave: Vec<i32>,
    counts: Vec<Prim<i32>>,
    demos: Vec<DemoBuilder>,
    items: Vec<Prim<i8>>,
    extras: Vec<Text>,
    rows: usize,
}

enum DemoBuilder {
    I8(Vec<i8>),
    I16(Vec<i16>),
}

impl Builders {
    /// Empty builders. Every column starts empty and grows with the data
    /// (a wide header costs memory in proportion to the rows read, not a
    /// constant per column); after each batch a column keeps room for as
    /// many values as that batch held.
    pub(crate) fn new(plan: &Plan, schema: SchemaRef) -> Self {
        Self {
            schema,
            keys: std::array::from_fn(|_| Text::with_capacity(0, 0)),
            wave: Vec::new(),
            counts: plan.counts.iter().map(|_| Prim::new(0)).collect(),
            demos: plan
                .demos
                .iter()
                .map(|d| match d.kind {
                    DemoKind::Coded(_) => DemoBuilder::I8(Vec::new()),
                    DemoKind::Numeric { .. } => DemoBuilder::I16(Vec::new()),
                })
                .collect(),
            items: plan.items.iter().map(|_| Prim::new(0)).collect(),
            extras: plan.extras.iter().map(|_| Text::with_capacity(0, 0)).collect(),
            rows: 0,
        }
    }

    /// Rows buffered.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Appends an accepted row (validated by [`Plan::check`]).
    pub(crate) fn push(&mut self, plan: &Plan, rec: &impl Fields, row: &Row) -> Result<(), ArrowError> {
        let text = |i: usize| trim(rec.field(i));
        self.keys[0].push(text(plan.key[0]))?;
        self.wave.push(row.wave);
        self.keys[1].push(text(plan.key[2]))?;
        self.keys[2].push(text(plan.key[3]))?;
        self.keys[3].push(text(plan.key[4]))?;
        for (b, v) in self.counts.iter_mut().zip(&row.counts) {
            b.push(v.unwrap_or(-1));
        }
        for (b, v) in self.demos.iter_mut().zip(&row.demos) {
            match b {
                DemoBuilder::I8(b) => b.push(*v as i8),
                DemoBuilder::I16(b) => b.push(*v),
            }
        }
        for (b, s) in self.items.iter_mut().zip(&row.items) {
            b.push(match s {
                Status::Valid(c) => *c,
                Status::Blank | Status::Invalid => -1,
            });
        }
        for (b, (e, _)) in self.extras.iter_mut().zip(&plan.extras) {
            let v = rec.field(*e);
            if v.is_empty() {
                b.push_null();
            } else {
                b.push(v)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Appends the text columns (keys and extras) of an accepted row; its
    /// other columns come from [`Builders::extend_columns`].
    #[inline]
    pub(crate) fn push_text(&mut self, plan: &Plan, rec: &impl Fields) -> Result<(), ArrowError> {
        let text = |i: usize| trim(rec.field(i));
        self.keys[0].push(text(plan.key[0]))?;
        self.keys[1].push(text(plan.key[2]))?;
        self.keys[2].push(text(plan.key[3]))?;
        self.keys[3].push(text(plan.key[4]))?;
        for (b, (e, _)) in self.extras.iter_mut().zip(&plan.extras) {
            let v = rec.field(*e);
            if v.is_empty() {
                b.push_null();
            } else {
                b.push(v)?;
            }
        }
        Ok(())
    }

    /// Appends the wave, counts, demographics and items of the records
    /// of `cols` whose `keep` is true (`kept` of them; their text columns
    /// were pushed by [`Builders::push_text`]).
    #[inline(never)]
    pub(crate) fn extend_columns(&mut self, cols: &crate::columnar::Scratch, keep: &[bool], kept: usize) {
        let all = kept == keep.len();
        fn ext<T: Copy>(dst: &mut Vec<T>, src: &[T], keep: &[bool], all: bool) {
            if all {
                dst.extend_from_slice(src);
            } else {
                dst.extend(src.iter().zip(keep).filter(|p| *p.1).map(|p| *p.0));
            }
        }
        ext(&mut self.wave, &cols.wave, keep, all);
        for (b, c) in self.counts.iter_mut().zip(&cols.counts) {
            ext(&mut b.values, c, keep, all);
        }
        for (b, c) in self.demos.iter_mut().zip(&cols.demos) {
            match b {
                DemoBuilder::I8(v) => {
                    v.extend(c.iter().zip(keep).filter(|p| all || *p.1).map(|p| *p.0 as i8));
                }
                DemoBuilder::I16(v) => ext(v, c, keep, all),
            }
        }
        for (b, c) in self.items.iter_mut().zip(&cols.items) {
            ext(&mut b.values, c, keep, all);
        }
        self.rows += kept;
    }

    /// The buffered rows as a batch; the builders are emptied.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let cap = self.wave.len();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        let [country, id, frame, stratum] = &mut self.keys;
        cols.push(country.finish()?);
        cols.push(Arc::new(Int32Array::new(
            std::mem::replace(&mut self.wave, Vec::with_capacity(cap)).into(),
            None,
        )));
        cols.push(id.finish()?);
        cols.push(frame.finish()?);
        cols.push(stratum.finish()?);
        for b in &mut self.counts {
            let (v, n) = b.take();
            cols.push(Arc::new(Int32Array::new(v, n)));
        }
        for b in &mut self.demos {
            cols.push(match b {
                DemoBuilder::I8(v) => Arc::new(Int8Array::new(
                    std::mem::replace(v, Vec::with_capacity(cap)).into(),
                    None,
                )),
                DemoBuilder::I16(v) => Arc::new(Int16Array::new(
                    std::mem::replace(v, Vec::with_capacity(cap)).into(),
                    None,
                )),
            });
        }
        for b in &mut self.items {
            let (v, n) = b.take();
            cols.push(Arc::new(Int8Array::new(v, n)));
        }
        for b in &mut self.extras {
            cols.push(b.finish()?);
        }
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), cols)
    }
}
