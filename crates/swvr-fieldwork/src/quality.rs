//! Interview quality checks per country-wave: exact maximum percent match
//! and its null p-value, exact duplicates, speeders, straight-lining, and
//! the per-interviewer table.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow_array::{Array, ArrayRef, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use rayon::prelude::*;
use swvr_core::groups::{Group, Selection, group_by_country_wave};
use swvr_core::io::{IoError, column};
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
    /// Interviewer (when the role column exists).
    pub interviewer: Option<String>,
    /// Positions compared (items and demographics).
    pub positions: u32,
    /// Positions equal in the closest other interview.
    pub max_matching: Option<u32>,
    /// Row of the earliest closest other interview.
    pub closest: Option<u32>,
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

/// Everything the quality checks produce.
#[derive(Debug, Clone, Default)]
pub struct Quality {
    /// Per country-wave, sorted: its key and rows.
    pub groups: Vec<(Group, Vec<RowQuality>)>,
    /// Per interviewer.
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

/// One country-wave's results: its rows, its interviewers, its counts.
type GroupResult = (Group, Vec<RowQuality>, Vec<InterviewerRow>, GroupFlags);

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
    let col = batch.column_by_name(name).ok_or_else(|| IoError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: "a column of this name".into(),
    })?;
    let get = |a: &ArrayRef| -> Option<Vec<Option<i32>>> {
        if let Some(x) = a.as_any().downcast_ref::<Int8Array>() {
            return Some(x.iter().map(|v| v.map(i32::from)).collect());
        }
        if let Some(x) = a.as_any().downcast_ref::<Int16Array>() {
            return Some(x.iter().map(|v| v.map(i32::from)).collect());
        }
        a.as_any().downcast_ref::<Int32Array>().map(|x| x.iter().collect())
    };
    get(col).ok_or_else(|| IoError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: format!("an integer type, found {}", col.data_type()),
    })
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

/// Runs the checks on `batch` (read from `path` with [`input_columns`]).
pub fn check(
    batch: &RecordBatch,
    path: &Path,
    q: &Questionnaire,
    opts: &Options,
    sel: &Selection,
) -> Result<Quality, FieldworkError> {
    let ids = column::<StringArray>(batch, "respondent_id", path)?;
    let groups = group_by_country_wave(batch, path, sel)?;
    // Positions: demographics, then items, in questionnaire order.
    let mut names: Vec<&str> = q.demographics().iter().map(|d| d.name.as_str()).collect();
    names.extend(q.items().iter().map(|i| i.id.as_str()));
    let k = names.len();
    let values: Vec<Vec<Option<i32>>> = names
        .par_iter()
        .map(|n| int_values(batch, n, path))
        .collect::<Result<_, _>>()?;
    // Routing group of each position: demographics alone, items with their root.
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
    // Missing (DK/refused) codes per item, for item non-response.
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
    let roles = q.roles();
    let mut missing_roles = Vec::new();
    let mut text_col = |role: &str, col: &Option<String>| -> Result<Option<&StringArray>, FieldworkError> {
        let Some(c) = col else { return Ok(None) };
        if batch.column_by_name(c).is_none() {
            missing_roles.push((role.to_string(), c.clone()));
            return Ok(None);
        }
        Ok(Some(column::<StringArray>(batch, c, path)?))
    };
    let interviewer = text_col("interviewer", &roles.interviewer)?;
    let duration = text_col("duration", &roles.duration)?;
    let date = text_col("date", &roles.date)?;
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
    let rule_p = opts.tail_probability;

    let results: Vec<Result<GroupResult, FieldworkError>> = groups
        .into_par_iter()
        .map(|g| {
            let n = g.n();
            // Codes: per position, a dictionary in order of first appearance.
            let mut codes = vec![0u8; n * k];
            for (j, vals) in values.iter().enumerate() {
                let mut dict: HashMap<i32, u8> = HashMap::new();
                for (i, &r) in g.rows.iter().enumerate() {
                    let Some(v) = vals[r as usize] else { continue };
                    let next = dict.len() + 1;
                    let code = *dict.entry(v).or_insert(next.min(usize::from(MAX_CODE) + 1) as u8);
                    if dict.len() > usize::from(MAX_CODE) {
                        return Err(FieldworkError::TooManyCodes {
                            file: path.to_path_buf(),
                            column: names[j].to_string(),
                            country: g.country.clone(),
                            wave: g.wave,
                        });
                    }
                    codes[i * k + j] = code;
                }
            }
            let near = nearest(&codes, n, k);
            let nm: Vec<Option<(u32, u32)>> = near
                .iter()
                .map(|x| x.map(|b| (k as u32 - b.distance, b.count)))
                .collect();
            let pv = p_values(&codes, n, k, &group_of, &nm);
            let durations: Vec<Option<f64>> = g
                .rows
                .iter()
                .map(|&r| {
                    let d = duration?;
                    if d.is_null(r as usize) {
                        return None;
                    }
                    d.value(r as usize)
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x >= 0.0)
                })
                .collect();
            let med = median(&mut durations.iter().flatten().copied().collect::<Vec<_>>());
            let mut rows = Vec::with_capacity(n);
            let mut flags = GroupFlags {
                country: g.country.clone(),
                wave: g.wave,
                n: n as u64,
                ..GroupFlags::default()
            };
            for i in 0..n {
                let r = g.rows[i];
                let b = near[i];
                let duplicate = b.is_some_and(|b| b.distance == 0);
                let matching = b.map(|b| k as u32 - b.distance);
                let high_match = match opts.match_threshold {
                    MatchRule::Auto => pv[i].is_some_and(|p| p <= rule_p),
                    MatchRule::Fixed(f) => matching.is_some_and(|m| f64::from(m) / k as f64 >= f - 1e-12),
                };
                let speeder = match (durations[i], med) {
                    (Some(d), Some(m)) => Some(d < opts.speeder_fraction * m),
                    _ => None,
                };
                let straightline: Vec<Option<bool>> = batteries
                    .iter()
                    .map(|(_, pos)| {
                        // Raw answers (position codes are per-position dictionaries).
                        let first = values[pos[0]][r as usize]?;
                        let mut same = true;
                        for &p in pos {
                            same &= values[p][r as usize]? == first;
                        }
                        Some(same)
                    })
                    .collect();
                let closest_id = |b: &crate::matching::Nearest| ids.value(g.rows[b.closest as usize] as usize);
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
                                    durations[i].map_or(String::new(), |d| d.to_string())
                                ));
                            }
                        }
                        Flag::Straightline => {
                            if let Some(k) = straightline.iter().position(|s| *s == Some(true)) {
                                exclusion.push(format!("fieldwork_straightline:battery={}", batteries[k].0));
                            }
                        }
                    }
                }
                let (mut items_asked, mut items_missing) = (0u32, 0u32);
                for (m, vals) in missing.iter().zip(&values[nd..]) {
                    if let Some(v) = vals[r as usize] {
                        items_asked += 1;
                        items_missing += u32::from(m.contains(&v));
                    }
                }
                let sl = straightline.contains(&Some(true));
                flags.duplicates += u64::from(duplicate);
                flags.high_match += u64::from(high_match);
                flags.speeders += u64::from(speeder == Some(true));
                flags.straightliners += u64::from(sl);
                flags.flagged += u64::from(duplicate || high_match || speeder == Some(true) || sl);
                flags.excluded += u64::from(!exclusion.is_empty());
                rows.push(RowQuality {
                    row: r,
                    interviewer: interviewer
                        .filter(|c| !c.is_null(r as usize))
                        .map(|c| c.value(r as usize).trim().to_string())
                        .filter(|s| !s.is_empty()),
                    positions: k as u32,
                    max_matching: matching,
                    closest: b.map(|b| g.rows[b.closest as usize]),
                    n_closest: b.map(|b| b.count),
                    match_p: pv[i],
                    duration: durations[i],
                    straightline,
                    duplicate,
                    high_match,
                    speeder,
                    items_asked,
                    items_missing,
                    exclusion,
                });
            }
            let ivs = if interviewer.is_some() {
                interviewer_rows(&g, &rows, opts, date)
            } else {
                Vec::new()
            };
            flags.interviewer_clusters = ivs.iter().filter(|r| r.cluster).count() as u64;
            Ok((g, rows, ivs, flags))
        })
        .collect();
    let mut out = Quality {
        batteries: batteries.iter().map(|b| b.0.clone()).collect(),
        missing_roles,
        has_interviewer: interviewer.is_some(),
        ..Quality::default()
    };
    for r in results {
        let (g, rows, ivs, flags) = r?;
        out.groups.push((g, rows));
        out.interviewers.extend(ivs);
        out.flags.push(flags);
    }
    Ok(out)
}

fn interviewer_rows(g: &Group, rows: &[RowQuality], opts: &Options, date: Option<&StringArray>) -> Vec<InterviewerRow> {
    struct Acc {
        idx: Vec<usize>,
    }
    let mut by: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by.entry(r.interviewer.clone())
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
            let dates: Vec<&str> = match date {
                Some(d) => acc
                    .idx
                    .iter()
                    .map(|&i| rows[i].row as usize)
                    .filter(|&r| !d.is_null(r))
                    .map(|r| d.value(r).trim())
                    .filter(|s| !s.is_empty())
                    .collect(),
                None => Vec::new(),
            };
            InterviewerRow {
                country: g.country.clone(),
                wave: g.wave,
                interviewer: name,
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
