//! Interview quality checks per country-wave: exact maximum percent match
//! and its null p-value, exact duplicates, speeders, straight-lining, and
//! the per-interviewer table.
//!
//! The checks of one country-wave need only that country-wave's rows, so
//! [`check_file`] works one country-wave at a time: it gathers the group's
//! rows from the record batches that hold them (the other batches are not
//! read), checks them, hands the result to the caller (who writes it) and
//! drops it before the next group. Memory is bounded by the largest
//! country-wave, not by the file. [`check`] runs the same per-group code on
//! a batch already in memory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use rayon::prelude::*;
use swvr_core::groups::{Selection, group_by_country_wave};
use swvr_core::io::{IoError, arrow_schema, column, for_each_batch_of};
use swvr_core::progress::{NoProgress, Progress, Unit};
use swvr_core::questionnaire::Questionnaire;

use crate::FieldworkError;
use crate::matching::{MAX_CODE, nearest};
use crate::null::{binomial_tail, p_values};
use crate::options::{Flag, MatchRule, Options};

/// Quality results of one respondent.
#[derive(Debug, Clone, PartialEq)]
pub struct RowQuality {
    /// Row of respondents.arrow.
    pub row: u32,
    /// Interviewer (when the role column exists and is not blank): index
    /// into [`GroupQuality::interviewer_names`].
    pub interviewer: Option<u32>,
    /// Positions compared (items and demographics).
    pub positions: u32,
    /// Positions equal in the closest other interview.
    pub max_matching: Option<u32>,
    /// Row (of respondents.arrow) of the earliest closest other interview.
    pub closest: Option<u32>,
    /// The same interview as an index into its group's rows.
    pub closest_index: Option<u32>,
    /// Other interviews at that match.
    pub n_closest: Option<u32>,
    /// Null p-value of (max_matching, n_closest).
    pub match_p: Option<f64>,
    /// Duration (seconds) when readable.
    pub duration: Option<f64>,
    /// Straight-lined, per declared battery (None: a battery item not asked).
    pub straightline: Vec<Option<bool>>,
    /// Has an exact copy.
    pub duplicate: bool,
    /// Flagged by the match rule.
    pub high_match: bool,
    /// Speeder (None: no duration).
    pub speeder: Option<bool>,
    /// Items asked (non-blank).
    pub items_asked: u32,
    /// Items answered DK/refused (codes marked `missing` in the questionnaire).
    pub items_missing: u32,
    /// Reasons it is excluded before weighting (empty: kept).
    pub exclusion: Vec<String>,
}

/// One row of interviewers.arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct InterviewerRow {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Interviewer id (None: blank in the data).
    pub interviewer: Option<String>,
    /// Interviews.
    pub interviews: u32,
    /// Interviews with any flag.
    pub flagged: u32,
    /// Interviews with an exact copy.
    pub duplicates: u32,
    /// Interviews with match p-value ≤ `interviewer_screen`.
    pub high_matches: u32,
    /// P(Bin(interviews, rate of the country's other interviewers) ≥ high_matches).
    pub high_match_p: Option<f64>,
    /// `high_match_p ≤ tail_probability`.
    pub cluster: bool,
    /// DK/refused answers over items asked.
    pub item_nonresponse: Option<f64>,
    /// Median duration.
    pub median_duration: Option<f64>,
    /// Earliest interview date (text, as in the data).
    pub first_date: Option<String>,
    /// Latest interview date.
    pub last_date: Option<String>,
}

/// Counts of one country-wave for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFlags {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Respondents.
    pub n: u64,
    /// With an exact copy.
    pub duplicates: u64,
    /// Flagged by the match rule.
    pub high_match: u64,
    /// Speeders.
    pub speeders: u64,
    /// Straight-lined a battery.
    pub straightliners: u64,
    /// Any flag.
    pub flagged: u64,
    /// Removed before weighting.
    pub excluded: u64,
    /// Interviewers whose high-match count is in the tail.
    pub interviewer_clusters: u64,
}

/// The results of one country-wave.
#[derive(Debug, Clone)]
pub struct GroupQuality {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Per respondent, in respondents.arrow order (`row` ascending).
    pub rows: Vec<RowQuality>,
    /// `respondent_id` of each of `rows`.
    pub ids: StringArray,
    /// Interviewer ids the rows refer to.
    pub interviewer_names: Vec<String>,
    /// Per interviewer (empty without an interviewer column).
    pub interviewers: Vec<InterviewerRow>,
    /// Summary counts.
    pub flags: GroupFlags,
}

impl GroupQuality {
    /// `respondent_id` of a row of respondents.arrow in this group.
    pub fn id_of(&self, row: u32) -> Option<&str> {
        let i = self.rows.binary_search_by_key(&row, |r| r.row).ok()?;
        Some(self.ids.value(i))
    }

    /// Interviewer id of a respondent.
    pub fn interviewer(&self, r: &RowQuality) -> Option<&str> {
        r.interviewer.map(|i| self.interviewer_names[i as usize].as_str())
    }
}

/// What the checks found out about the file (besides the groups).
#[derive(Debug, Clone, Default)]
pub struct QualityMeta {
    /// Battery names (column order).
    pub batteries: Vec<String>,
    /// Role columns not found in respondents.arrow (role, column).
    pub missing_roles: Vec<(String, String)>,
    /// Whether an interviewer column was found.
    pub has_interviewer: bool,
}

/// Everything the quality checks produce (all groups in memory: [`check`]).
#[derive(Debug, Clone, Default)]
pub struct Quality {
    /// Per country-wave, sorted.
    pub groups: Vec<GroupQuality>,
    /// Per interviewer, every group.
    pub interviewers: Vec<InterviewerRow>,
    /// Summary counts.
    pub flags: Vec<GroupFlags>,
    /// Battery names (column order).
    pub batteries: Vec<String>,
    /// Role columns not found in respondents.arrow (role, column).
    pub missing_roles: Vec<(String, String)>,
    /// Whether an interviewer column was found.
    pub has_interviewer: bool,
}

/// Columns of respondents.arrow the checks read.
pub fn input_columns(q: &Questionnaire) -> Vec<String> {
    let mut cols: Vec<String> = ["country", "wave", "respondent_id", "stratum"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cols.extend(q.demographics().iter().map(|d| d.name.clone()));
    cols.extend(q.items().iter().map(|i| i.id.clone()));
    let r = q.roles();
    cols.extend([&r.interviewer, &r.duration, &r.date].into_iter().flatten().cloned());
    cols
}

/// Integer codes of a coded column (Int8/Int16/Int32), null = not asked.
pub fn int_values(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<Option<i32>>, IoError> {
    let col = IntCol::of(batch, name, path)?;
    Ok((0..batch.num_rows()).map(|r| col.get(r)).collect())
}

/// A coded column of one batch.
#[derive(Clone, Copy)]
enum IntCol<'a> {
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
}

impl<'a> IntCol<'a> {
    fn of(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<Self, IoError> {
        let col = batch.column_by_name(name).ok_or_else(|| IoError::Column {
            path: path.to_path_buf(),
            column: name.to_string(),
            expected: "a column of this name".into(),
        })?;
        let get = |a: &'a ArrayRef| -> Option<IntCol<'a>> {
            if let Some(x) = a.as_any().downcast_ref::<Int8Array>() {
                return Some(IntCol::I8(x));
            }
            if let Some(x) = a.as_any().downcast_ref::<Int16Array>() {
                return Some(IntCol::I16(x));
            }
            a.as_any().downcast_ref::<Int32Array>().map(IntCol::I32)
        };
        get(col).ok_or_else(|| IoError::Column {
            path: path.to_path_buf(),
            column: name.to_string(),
            expected: format!("an integer type, found {}", col.data_type()),
        })
    }

    #[inline]
    fn get(&self, r: usize) -> Option<i32> {
        match self {
            IntCol::I8(a) => a.is_valid(r).then(|| i32::from(a.value(r))),
            IntCol::I16(a) => a.is_valid(r).then(|| i32::from(a.value(r))),
            IntCol::I32(a) => a.is_valid(r).then(|| a.value(r)),
        }
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// What the checks need of the questionnaire, prepared once.
struct Plan {
    /// Positions: demographics, then items, in questionnaire order.
    names: Vec<String>,
    /// Number of demographics (items start there).
    nd: usize,
    /// Routing group of each position: demographics alone, items with their root.
    group_of: Vec<usize>,
    /// Missing (DK/refused) codes per item, for item non-response.
    missing: Vec<Vec<i32>>,
    /// Declared batteries: name and positions.
    batteries: Vec<(String, Vec<usize>)>,
    /// Role columns present in the file: interviewer, duration, date.
    interviewer: Option<String>,
    duration: Option<String>,
    date: Option<String>,
    missing_roles: Vec<(String, String)>,
}

impl Plan {
    /// `has(column)`: whether the file has the column.
    fn new(q: &Questionnaire, has: impl Fn(&str) -> bool) -> Self {
        let mut names: Vec<String> = q.demographics().iter().map(|d| d.name.clone()).collect();
        names.extend(q.items().iter().map(|i| i.id.clone()));
        let nd = q.demographics().len();
        let mut group_of: Vec<usize> = (0..nd).collect();
        for item in q.items() {
            let mut root = item;
            while let Some(r) = &root.asked_if {
                match q.item(&r.item) {
                    Some(p) => root = p,
                    None => break,
                }
            }
            group_of.push(nd + q.item_index(&root.id).unwrap_or(0));
        }
        let missing: Vec<Vec<i32>> = q
            .items()
            .iter()
            .map(|i| {
                q.answer_set(i)
                    .codes
                    .iter()
                    .filter(|c| c.missing)
                    .map(|c| i32::from(c.code))
                    .collect()
            })
            .collect();
        let batteries: Vec<(String, Vec<usize>)> = q
            .batteries()
            .iter()
            .map(|b| {
                (
                    b.name.clone(),
                    b.items.iter().filter_map(|i| q.item_index(i)).map(|i| nd + i).collect(),
                )
            })
            .collect();
        let roles = q.roles();
        let mut missing_roles = Vec::new();
        let mut role = |name: &str, col: &Option<String>| -> Option<String> {
            let c = col.as_ref()?;
            if has(c) {
                Some(c.clone())
            } else {
                missing_roles.push((name.to_string(), c.clone()));
                None
            }
        };
        let interviewer = role("interviewer", &roles.interviewer);
        let duration = role("duration", &roles.duration);
        let date = role("date", &roles.date);
        Plan {
            names,
            nd,
            group_of,
            missing,
            batteries,
            interviewer,
            duration,
            date,
            missing_roles,
        }
    }

    fn k(&self) -> usize {
        self.names.len()
    }

    /// Columns read per group.
    fn group_columns(&self) -> Vec<&str> {
        let mut c = vec!["respondent_id"];
        c.extend(self.names.iter().map(String::as_str));
        c.extend(
            [&self.interviewer, &self.duration, &self.date]
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
        c
    }

    fn meta(&self) -> QualityMeta {
        QualityMeta {
            batteries: self.batteries.iter().map(|b| b.0.clone()).collect(),
            missing_roles: self.missing_roles.clone(),
            has_interviewer: self.interviewer.is_some(),
        }
    }
}

/// Codes of one position: a dictionary in order of first appearance.
struct Dict {
    /// Code of each value in the `i16` range (0: not seen).
    small: Vec<u8>,
    /// Codes of other values.
    other: HashMap<i32, u8>,
    len: usize,
}

impl Dict {
    fn new() -> Self {
        Dict {
            small: vec![0; 1 << 16],
            other: HashMap::new(),
            len: 0,
        }
    }

    /// The code of `v`, or `None` when it would be the 255th distinct value.
    #[inline]
    fn code(&mut self, v: i32) -> Option<u8> {
        let slot = match i16::try_from(v) {
            Ok(s) => &mut self.small[usize::from(s as u16)],
            Err(_) => self.other.entry(v).or_insert(0),
        };
        if *slot == 0 {
            if self.len == usize::from(MAX_CODE) {
                return None;
            }
            self.len += 1;
            *slot = self.len as u8;
        }
        Some(*slot)
    }
}

/// Interned text values of a column.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn get(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// The inputs of one country-wave, gathered row by row from record batches.
struct GroupInput {
    country: String,
    wave: i32,
    /// Rows of respondents.arrow, ascending.
    rows: Vec<u32>,
    /// Row-major `n × k` position codes (0 = not asked).
    codes: Vec<u8>,
    dicts: Vec<Dict>,
    ids: StringBuilder,
    interviewer: Vec<Option<u32>>,
    interviewers: Interner,
    durations: Vec<Option<f64>>,
    date: Vec<Option<u32>>,
    dates: Interner,
    /// Row-major `n × batteries`.
    straightline: Vec<Option<bool>>,
    items_asked: Vec<u32>,
    items_missing: Vec<u32>,
}

/// The columns of one batch that a group needs.
struct Cols<'a> {
    ids: &'a StringArray,
    pos: Vec<IntCol<'a>>,
    interviewer: Option<&'a StringArray>,
    duration: Option<&'a StringArray>,
    date: Option<&'a StringArray>,
}

impl<'a> Cols<'a> {
    fn of(batch: &'a RecordBatch, plan: &Plan, path: &Path) -> Result<Self, IoError> {
        let text = |c: &Option<String>| -> Result<Option<&'a StringArray>, IoError> {
            c.as_ref().map(|c| column::<StringArray>(batch, c, path)).transpose()
        };
        Ok(Cols {
            ids: column::<StringArray>(batch, "respondent_id", path)?,
            pos: plan
                .names
                .iter()
                .map(|n| IntCol::of(batch, n, path))
                .collect::<Result<_, _>>()?,
            interviewer: text(&plan.interviewer)?,
            duration: text(&plan.duration)?,
            date: text(&plan.date)?,
        })
    }
}

impl GroupInput {
    fn new(plan: &Plan, country: &str, wave: i32, rows: Vec<u32>) -> Self {
        let n = rows.len();
        GroupInput {
            country: country.to_string(),
            wave,
            codes: Vec::with_capacity(n * plan.k()),
            dicts: (0..plan.k()).map(|_| Dict::new()).collect(),
            ids: StringBuilder::with_capacity(n, n * 12),
            interviewer: Vec::with_capacity(if plan.interviewer.is_some() { n } else { 0 }),
            interviewers: Interner::default(),
            durations: Vec::with_capacity(n),
            date: Vec::with_capacity(if plan.date.is_some() { n } else { 0 }),
            dates: Interner::default(),
            straightline: Vec::with_capacity(n * plan.batteries.len()),
            items_asked: Vec::with_capacity(n),
            items_missing: Vec::with_capacity(n),
            rows,
        }
    }

    /// Appends rows `local` (ascending) of a batch.
    fn push(
        &mut self,
        plan: &Plan,
        cols: &Cols<'_>,
        local: impl Iterator<Item = usize>,
        path: &Path,
    ) -> Result<(), FieldworkError> {
        let k = plan.k();
        let mut raw: Vec<Option<i32>> = vec![None; k];
        for r in local {
            self.ids.append_value(cols.ids.value(r));
            for (j, c) in cols.pos.iter().enumerate() {
                let v = c.get(r);
                raw[j] = v;
                let code = match v {
                    None => 0,
                    Some(v) => self.dicts[j].code(v).ok_or_else(|| FieldworkError::TooManyCodes {
                        file: path.to_path_buf(),
                        column: plan.names[j].clone(),
                        country: self.country.clone(),
                        wave: self.wave,
                    })?,
                };
                self.codes.push(code);
            }
            for (_, pos) in &plan.batteries {
                // Raw answers (position codes are per-position dictionaries).
                let s = (|| {
                    let first = raw[pos[0]]?;
                    let mut same = true;
                    for &p in pos {
                        same &= raw[p]? == first;
                    }
                    Some(same)
                })();
                self.straightline.push(s);
            }
            let (mut asked, mut miss) = (0u32, 0u32);
            for (m, v) in plan.missing.iter().zip(&raw[plan.nd..]) {
                if let Some(v) = v {
                    asked += 1;
                    miss += u32::from(m.contains(v));
                }
            }
            self.items_asked.push(asked);
            self.items_missing.push(miss);
            if let Some(c) = cols.interviewer {
                let v = Some(c)
                    .filter(|c| !c.is_null(r))
                    .map(|c| c.value(r).trim())
                    .filter(|s| !s.is_empty());
                self.interviewer.push(v.map(|s| self.interviewers.get(s)));
            }
            self.durations.push(cols.duration.and_then(|d| {
                if d.is_null(r) {
                    return None;
                }
                d.value(r)
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
            }));
            if let Some(d) = cols.date {
                let v = Some(d)
                    .filter(|d| !d.is_null(r))
                    .map(|d| d.value(r).trim())
                    .filter(|s| !s.is_empty());
                self.date.push(v.map(|s| self.dates.get(s)));
            }
        }
        Ok(())
    }
}

/// Runs the checks on `batch` (read from `path` with [`input_columns`]),
/// every country-wave in memory.
pub fn check(
    batch: &RecordBatch,
    path: &Path,
    q: &Questionnaire,
    opts: &Options,
    sel: &Selection,
) -> Result<Quality, FieldworkError> {
    let plan = Plan::new(q, |c| batch.column_by_name(c).is_some());
    let groups = group_by_country_wave(batch, path, sel)?;
    let cols = Cols::of(batch, &plan, path)?;
    let meta = plan.meta();
    let mut out = Quality {
        batteries: meta.batteries,
        missing_roles: meta.missing_roles,
        has_interviewer: meta.has_interviewer,
        ..Quality::default()
    };
    let work = groups.into_iter().map(|g| ((g.country, g.wave), g.rows, ()));
    let fill =
        |input: &mut GroupInput, rows: &[u32], ()| input.push(&plan, &cols, rows.iter().map(|&r| r as usize), path);
    check_groups(&plan, opts, work, fill, &NoProgress, |mut r| {
        out.interviewers.append(&mut r.interviewers);
        out.flags.push(r.flags.clone());
        out.groups.push(r);
        Ok(())
    })?;
    Ok(out)
}

/// Country-waves checked side by side (memory: about this many groups' rows).
const GROUPS_AT_ONCE: usize = 2;

/// The loop [`check`] and [`check_file`] share: each country-wave of `groups`
/// (sorted; its key, rows of respondents.arrow ascending and what `fill`
/// needs to find them) is gathered by `fill`, checked and handed to `each`.
/// `GROUPS_AT_ONCE` groups run side by side (the match leaves a core idle in
/// its sequential parts) and are handed on in their order, so the output
/// does not depend on the thread count.
fn check_groups<W: Send>(
    plan: &Plan,
    opts: &Options,
    groups: impl Iterator<Item = ((String, i32), Vec<u32>, W)>,
    fill: impl Fn(&mut GroupInput, &[u32], W) -> Result<(), FieldworkError> + Sync,
    progress: &dyn Progress,
    mut each: impl FnMut(GroupQuality) -> Result<(), FieldworkError>,
) -> Result<(), FieldworkError> {
    let load = |((country, wave), rows, with): ((String, i32), Vec<u32>, W)| {
        let mut input = GroupInput::new(plan, &country, wave, Vec::new());
        fill(&mut input, &rows, with)?;
        input.rows = rows;
        Ok(check_group(plan, opts, input))
    };
    let mut groups = groups.fuse();
    let at_once = rayon::current_num_threads().clamp(1, GROUPS_AT_ONCE);
    loop {
        let chunk: Vec<_> = groups.by_ref().take(at_once).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        let done: Vec<Result<GroupQuality, FieldworkError>> = chunk.into_par_iter().map(load).collect();
        for r in done {
            each(r?)?;
            progress.advance(1);
        }
    }
}

/// Runs the checks on the Arrow file `path` one country-wave at a time
/// (sorted by country, then wave; only `sel`), calling `each` with every
/// group's results before the next group is read.
pub fn check_file(
    path: &Path,
    q: &Questionnaire,
    opts: &Options,
    sel: &Selection,
    progress: &dyn Progress,
    each: impl FnMut(GroupQuality) -> Result<(), FieldworkError>,
) -> Result<QualityMeta, FieldworkError> {
    let schema = arrow_schema(path)?;
    let plan = Plan::new(q, |c| schema.index_of(c).is_ok());
    // Pass 1: the rows of each (country, wave) and the batches holding them.
    let mut starts: Vec<u32> = Vec::new();
    let mut index: HashMap<(String, i32), usize> = HashMap::new();
    let mut keys: Vec<(String, i32)> = Vec::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut total = 0u32;
    for_each_batch_of(
        path,
        Some(&["country", "wave"]),
        |_| true,
        |b, batch: RecordBatch| -> Result<(), FieldworkError> {
            let country = column::<StringArray>(&batch, "country", path)?;
            let wave = column::<Int32Array>(&batch, "wave", path)?;
            starts.resize(b + 1, total);
            starts[b] = total;
            let mut last: Option<(&str, i32, usize)> = None;
            for r in 0..batch.num_rows() {
                let (c, w) = (country.value(r), wave.value(r));
                let g = match last {
                    Some((lc, lw, g)) if lc == c && lw == w => g,
                    _ => {
                        let g = match index.get(&(c.to_string(), w)) {
                            Some(&g) => g,
                            None => {
                                keys.push((c.to_string(), w));
                                rows.push(Vec::new());
                                blocks.push(Vec::new());
                                index.insert((c.to_string(), w), keys.len() - 1);
                                keys.len() - 1
                            }
                        };
                        if blocks[g].last() != Some(&b) {
                            blocks[g].push(b);
                        }
                        last = Some((c, w, g));
                        g
                    }
                };
                rows[g].push(total + r as u32);
            }
            total += batch.num_rows() as u32;
            Ok(())
        },
    )?;
    let mut order: Vec<usize> = (0..keys.len())
        .filter(|&g| sel.contains(&keys[g].0, keys[g].1))
        .collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let cols = plan.group_columns();
    progress.start("fieldwork: interview quality", Some(order.len() as u64), Unit::Groups);
    // A group's rows are read from the batches that hold them (`wanted`), the
    // other batches are not decoded.
    let fill = |input: &mut GroupInput, group_rows: &[u32], wanted: Vec<usize>| {
        let mut at = 0usize;
        for_each_batch_of(
            path,
            Some(&cols),
            |b| wanted.binary_search(&b).is_ok(),
            |b, batch: RecordBatch| -> Result<(), FieldworkError> {
                let start = starts[b];
                let end = start + batch.num_rows() as u32;
                let from = at + group_rows[at..].partition_point(|&r| r < start);
                let to = from + group_rows[from..].partition_point(|&r| r < end);
                at = to;
                let c = Cols::of(&batch, &plan, path)?;
                input.push(
                    &plan,
                    &c,
                    group_rows[from..to].iter().map(|&r| (r - start) as usize),
                    path,
                )
            },
        )?;
        Ok(())
    };
    let work: Vec<_> = order
        .into_iter()
        .map(|g| {
            (
                keys[g].clone(),
                std::mem::take(&mut rows[g]),
                std::mem::take(&mut blocks[g]),
            )
        })
        .collect();
    check_groups(&plan, opts, work.into_iter(), fill, progress, each)?;
    progress.finish();
    Ok(plan.meta())
}

/// The checks of one country-wave.
fn check_group(plan: &Plan, opts: &Options, mut input: GroupInput) -> GroupQuality {
    let n = input.rows.len();
    let k = plan.k();
    let rule_p = opts.tail_probability;
    let near = nearest(&input.codes, n, k);
    let nm: Vec<Option<(u32, u32)>> = near
        .iter()
        .map(|x| x.map(|b| (k as u32 - b.distance, b.count)))
        .collect();
    let pv = p_values(&input.codes, n, k, &plan.group_of, &nm);
    drop(nm);
    input.codes = Vec::new();
    input.dicts = Vec::new();
    let ids = input.ids.finish();
    let med = median(&mut input.durations.iter().flatten().copied().collect::<Vec<_>>());
    let nb = plan.batteries.len();
    let g = &input;
    let rows: Vec<RowQuality> = (0..n)
        .into_par_iter()
        .map(|i| {
            let r = g.rows[i];
            let b = near[i];
            let duplicate = b.is_some_and(|b| b.distance == 0);
            let matching = b.map(|b| k as u32 - b.distance);
            let high_match = match opts.match_threshold {
                MatchRule::Auto => pv[i].is_some_and(|p| p <= rule_p),
                MatchRule::Fixed(f) => matching.is_some_and(|m| f64::from(m) / k as f64 >= f - 1e-12),
            };
            let duration = g.durations[i];
            let speeder = match (duration, med) {
                (Some(d), Some(m)) => Some(d < opts.speeder_fraction * m),
                _ => None,
            };
            let straightline: Vec<Option<bool>> = g.straightline[i * nb..(i + 1) * nb].to_vec();
            let closest_id = |b: &crate::matching::Nearest| ids.value(b.closest as usize);
            let mut exclusion = Vec::new();
            for f in &opts.exclude {
                match f {
                    // The earliest copy is kept.
                    Flag::Duplicate => {
                        if let Some(b) = b.filter(|b| b.distance == 0 && b.closest < i as u32) {
                            exclusion.push(format!("fieldwork_duplicate:of={}", closest_id(&b)));
                        }
                    }
                    Flag::HighMatch => {
                        if high_match && let Some(b) = b {
                            exclusion.push(format!("fieldwork_high_match:closest={}", closest_id(&b)));
                        }
                    }
                    Flag::Speeder => {
                        if speeder == Some(true) {
                            exclusion.push(format!(
                                "fieldwork_speeder:duration={}",
                                duration.map_or(String::new(), |d| d.to_string())
                            ));
                        }
                    }
                    Flag::Straightline => {
                        if let Some(k) = straightline.iter().position(|s| *s == Some(true)) {
                            exclusion.push(format!("fieldwork_straightline:battery={}", plan.batteries[k].0));
                        }
                    }
                }
            }
            RowQuality {
                row: r,
                interviewer: g.interviewer.get(i).copied().flatten(),
                positions: k as u32,
                max_matching: matching,
                closest: b.map(|b| g.rows[b.closest as usize]),
                closest_index: b.map(|b| b.closest),
                n_closest: b.map(|b| b.count),
                match_p: pv[i],
                duration,
                straightline,
                duplicate,
                high_match,
                speeder,
                items_asked: g.items_asked[i],
                items_missing: g.items_missing[i],
                exclusion,
            }
        })
        .collect();
    let mut flags = GroupFlags {
        country: input.country.clone(),
        wave: input.wave,
        n: n as u64,
        ..GroupFlags::default()
    };
    for r in &rows {
        let sl = r.straightline.contains(&Some(true));
        flags.duplicates += u64::from(r.duplicate);
        flags.high_match += u64::from(r.high_match);
        flags.speeders += u64::from(r.speeder == Some(true));
        flags.straightliners += u64::from(sl);
        flags.flagged += u64::from(r.duplicate || r.high_match || r.speeder == Some(true) || sl);
        flags.excluded += u64::from(!r.exclusion.is_empty());
    }
    let names = std::mem::take(&mut input.interviewers.names);
    let ivs = if plan.interviewer.is_some() {
        let dates = plan
            .date
            .as_ref()
            .map(|_| (input.date.as_slice(), input.dates.names.as_slice()));
        interviewer_rows(&input.country, input.wave, &rows, &names, dates, opts)
    } else {
        Vec::new()
    };
    flags.interviewer_clusters = ivs.iter().filter(|r| r.cluster).count() as u64;
    GroupQuality {
        country: input.country,
        wave: input.wave,
        rows,
        ids,
        interviewer_names: names,
        interviewers: ivs,
        flags,
    }
}

/// `dates`: per row the interned interview date, and the date texts.
fn interviewer_rows(
    country: &str,
    wave: i32,
    rows: &[RowQuality],
    names: &[String],
    dates: Option<(&[Option<u32>], &[String])>,
    opts: &Options,
) -> Vec<InterviewerRow> {
    struct Acc {
        idx: Vec<usize>,
    }
    let mut by: BTreeMap<Option<&str>, Acc> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by.entry(r.interviewer.map(|v| names[v as usize].as_str()))
            .or_insert(Acc { idx: Vec::new() })
            .idx
            .push(i);
    }
    let screen = |r: &RowQuality| r.match_p.is_some_and(|p| p <= opts.interviewer_screen);
    let total_high: u32 = rows.iter().filter(|r| screen(r)).count() as u32;
    let n = rows.len() as u32;
    by.into_iter()
        .map(|(name, acc)| {
            let m = acc.idx.len() as u32;
            let high = acc.idx.iter().filter(|&&i| screen(&rows[i])).count() as u32;
            let flagged = acc
                .idx
                .iter()
                .filter(|&&i| {
                    let r = &rows[i];
                    r.duplicate || r.high_match || r.speeder == Some(true) || r.straightline.contains(&Some(true))
                })
                .count() as u32;
            let duplicates = acc.idx.iter().filter(|&&i| rows[i].duplicate).count() as u32;
            let others = n - m;
            let high_match_p = (others > 0).then(|| {
                let pi = f64::from(total_high - high) / f64::from(others);
                binomial_tail(f64::from(m), pi, f64::from(high))
            });
            let mut durs: Vec<f64> = acc.idx.iter().filter_map(|&i| rows[i].duration).collect();
            let dates: Vec<&str> = match dates {
                Some((d, text)) => acc
                    .idx
                    .iter()
                    .filter_map(|&i| d[i])
                    .map(|v| text[v as usize].as_str())
                    .collect(),
                None => Vec::new(),
            };
            InterviewerRow {
                country: country.to_string(),
                wave,
                interviewer: name.map(str::to_string),
                interviews: m,
                flagged,
                duplicates,
                high_matches: high,
                high_match_p,
                cluster: high_match_p.is_some_and(|p| p <= opts.tail_probability),
                item_nonresponse: {
                    let asked: u64 = acc.idx.iter().map(|&i| u64::from(rows[i].items_asked)).sum();
                    let miss: u64 = acc.idx.iter().map(|&i| u64::from(rows[i].items_missing)).sum();
                    (asked > 0).then(|| miss as f64 / asked as f64)
                },
                median_duration: median(&mut durs),
                first_date: dates.iter().min().map(|s| s.to_string()),
                last_date: dates.iter().max().map(|s| s.to_string()),
            }
        })
        .collect()
}
