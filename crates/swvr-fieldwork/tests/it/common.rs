//! Synthetic respondents drawn independently from fixed answer
//! distributions (routing obeyed), with helpers to plant copies.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use swvr_core::questionnaire::{DemographicKind, Questionnaire};

/// Deterministic generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One interview: demographic values then item values (None = not asked).
pub type Row = Vec<Option<i32>>;

/// Draws a code from `codes` with skewed weights (first code most likely).
fn draw(rng: &mut Rng, codes: &[i32]) -> i32 {
    // Weights 8, 4, 2, 1, 1 … : realistic skew, DK/refused rare when listed last.
    let w: Vec<f64> = (0..codes.len())
        .map(|i| if i < 3 { 8.0 / 2f64.powi(i as i32) } else { 0.5 })
        .collect();
    let total: f64 = w.iter().sum();
    let mut u = rng.unit() * total;
    for (c, x) in codes.iter().zip(&w) {
        if u < *x {
            return *c;
        }
        u -= x;
    }
    *codes.last().unwrap()
}

/// An independent interview (demographics, then items in order with routing).
pub fn interview(q: &Questionnaire, rng: &mut Rng) -> Row {
    let mut row: Row = Vec::new();
    for d in q.demographics() {
        row.push(Some(match &d.kind {
            DemographicKind::Numeric { .. } => 15 + rng.below(66) as i32,
            DemographicKind::Coded { .. } => {
                let codes: Vec<i32> = q
                    .demographic_set(d)
                    .unwrap()
                    .codes
                    .iter()
                    .map(|c| i32::from(c.code))
                    .collect();
                draw(rng, &codes)
            }
        }));
    }
    let nd = q.demographics().len();
    for item in q.items() {
        let asked = match &item.asked_if {
            None => true,
            Some(r) => {
                let parent = q.item_index(&r.item).unwrap();
                row[nd + parent].is_some_and(|v| r.codes.iter().any(|c| i32::from(*c) == v))
            }
        };
        let codes: Vec<i32> = q.answer_set(item).codes.iter().map(|c| i32::from(c.code)).collect();
        row.push(asked.then(|| draw(rng, &codes)));
    }
    row
}

/// A copy of `row` with `changes` item positions redrawn to another answer
/// (routing of the changed items is kept by only touching unrouted items
/// that nothing routes from).
pub fn near_copy(q: &Questionnaire, row: &Row, changes: usize, rng: &mut Rng) -> Row {
    let nd = q.demographics().len();
    let free: Vec<usize> = q
        .items()
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            i.asked_if.is_none()
                && !q
                    .items()
                    .iter()
                    .any(|o| o.asked_if.as_ref().is_some_and(|r| r.item == i.id))
        })
        .map(|(k, _)| nd + k)
        .collect();
    let mut out = row.clone();
    let mut done = Vec::new();
    while done.len() < changes {
        let p = free[rng.below(free.len() as u64) as usize];
        if done.contains(&p) {
            continue;
        }
        let item = &q.items()[p - nd];
        let codes: Vec<i32> = q.answer_set(item).codes.iter().map(|c| i32::from(c.code)).collect();
        let cur = out[p].unwrap();
        let others: Vec<i32> = codes.into_iter().filter(|c| *c != cur).collect();
        out[p] = Some(others[rng.below(others.len() as u64) as usize]);
        done.push(p);
    }
    out
}

/// A respondents.arrow-shaped batch: keys, demographics, items, then
/// `interviewer_id` and `duration_s` (text, as extra columns are).
pub fn batch(
    q: &Questionnaire,
    country: &str,
    rows: &[Row],
    interviewer: &[String],
    duration: &[String],
) -> RecordBatch {
    let n = rows.len();
    let mut cols: Vec<(String, ArrayRef)> = vec![
        ("country".into(), Arc::new(StringArray::from(vec![country; n]))),
        ("wave".into(), Arc::new(Int32Array::from(vec![2021; n]))),
        (
            "respondent_id".into(),
            Arc::new(StringArray::from(
                (0..n).map(|i| format!("{country}-{:06}", i + 1)).collect::<Vec<_>>(),
            )),
        ),
        ("stratum".into(), Arc::new(StringArray::from(vec!["S"; n]))),
    ];
    for (j, d) in q.demographics().iter().enumerate() {
        let a: ArrayRef = match d.kind {
            DemographicKind::Numeric { .. } => Arc::new(Int16Array::from(
                rows.iter().map(|r| r[j].map(|v| v as i16)).collect::<Vec<_>>(),
            )),
            DemographicKind::Coded { .. } => Arc::new(Int8Array::from(
                rows.iter().map(|r| r[j].map(|v| v as i8)).collect::<Vec<_>>(),
            )),
        };
        cols.push((d.name.clone(), a));
    }
    let nd = q.demographics().len();
    for (k, item) in q.items().iter().enumerate() {
        cols.push((
            item.id.clone(),
            Arc::new(Int8Array::from(
                rows.iter().map(|r| r[nd + k].map(|v| v as i8)).collect::<Vec<_>>(),
            )),
        ));
    }
    cols.push((
        "interviewer_id".into(),
        Arc::new(StringArray::from(interviewer.to_vec())),
    ));
    cols.push(("duration_s".into(), Arc::new(StringArray::from(duration.to_vec()))));
    RecordBatch::try_from_iter(cols).unwrap()
}
