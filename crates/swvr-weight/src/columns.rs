//! The columns of respondents.arrow the stage needs, read batch by batch
//! into compact per-row vectors (about 25 bytes a respondent with the
//! default scheme), and the rows grouped by (country, wave).
//!
//! Only the needed columns are decoded, one record batch at a time, so the
//! whole file is never in memory. Grouping is swvr_core's
//! `group_by_country_wave` run on each batch and merged: rows ascending,
//! strata coded in sorted name order, groups sorted by (country, wave) —
//! the same groups as on the whole file.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use arrow_array::{Array, Int8Array, Int16Array, Int32Array, RecordBatch, StringArray};
use arrow_ipc::reader::FileReader;
use swvr_core::groups::{Group, Selection, group_by_country_wave};
use swvr_core::io::{IoError, column};

use crate::WeightError;
use crate::impute::hash_prefix;
use crate::plan::{Kind, Plan};

/// `frame` code of `L`.
pub(crate) const FRAME_L: u8 = 0;
/// `frame` code of `M`.
pub(crate) const FRAME_M: u8 = 1;
/// `frame` code of any other value (kept in `bad_frames`).
pub(crate) const FRAME_OTHER: u8 = 2;
/// A blank count. Negative counts are stored as 0, which the base-weight
/// rules treat exactly like any negative count, so this value is free.
const NULL_COUNT: i32 = i32::MIN;

/// Per-row values of the needed columns (index = row of respondents.arrow).
pub(crate) struct Columns {
    /// [`FRAME_L`], [`FRAME_M`] or [`FRAME_OTHER`].
    pub frame: Vec<u8>,
    /// The values of rows with [`FRAME_OTHER`].
    pub bad_frames: HashMap<u32, String>,
    /// n_adults, n_landlines, n_mobiles ([`NULL_COUNT`] when blank).
    counts: [Vec<i32>; 3],
    /// Values of each banded numeric demographic (index = `Plan::bands`).
    pub numeric: Vec<Vec<i16>>,
    /// Codes of each coded raking component (index = `Plan::components`;
    /// empty for banded ones).
    pub coded: Vec<Vec<i8>>,
    /// `hash_prefix(country, wave, respondent_id)` of the rows with a
    /// DK/refused raking value (the only ones imputation draws for), by row.
    keys: Vec<(u32, u64)>,
}

impl Columns {
    /// Count `k` (0 n_adults, 1 n_landlines, 2 n_mobiles) of row `r`.
    #[inline]
    pub fn count(&self, k: usize, r: usize) -> Option<i32> {
        let v = self.counts[k][r];
        (v != NULL_COUNT).then_some(v)
    }

    /// The imputation hash prefix of row `r` (a row with a DK/refused raking value).
    pub fn key(&self, r: u32) -> u64 {
        match self.keys.binary_search_by_key(&r, |&(row, _)| row) {
            Ok(i) => self.keys[i].1,
            Err(_) => {
                debug_assert!(false, "hash prefix of row {r} not kept");
                0
            }
        }
    }
}

fn arrow_err(path: &Path) -> impl Fn(arrow_schema::ArrowError) -> WeightError + '_ {
    move |source| {
        WeightError::Io(IoError::Arrow {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Checks the types of the non-grouping columns (in the order errors were
/// always reported: coded raking variables, respondent_id, frame, counts,
/// banded numeric demographics).
fn check_columns(batch: &RecordBatch, path: &Path, plan: &Plan) -> Result<(), IoError> {
    for c in &plan.components {
        if let Kind::Coded { .. } = c.kind {
            column::<Int8Array>(batch, &c.column, path)?;
        }
    }
    column::<StringArray>(batch, "respondent_id", path)?;
    column::<StringArray>(batch, "frame", path)?;
    for c in swvr_core::schema::COUNT_COLUMNS {
        column::<Int32Array>(batch, c, path)?;
    }
    for b in &plan.bands {
        column::<Int16Array>(batch, &b.column, path)?;
    }
    Ok(())
}

/// Groups (sorted by country, wave) being merged from batches.
#[derive(Default)]
struct Merge {
    index: HashMap<(String, i32), usize>,
    keys: Vec<(String, i32)>,
    rows: Vec<Vec<u32>>,
    codes: Vec<Vec<u32>>,
    names: Vec<Vec<String>>,
    name_index: Vec<HashMap<String, u32>>,
}

impl Merge {
    fn add(&mut self, local: Vec<Group>, start: u32) {
        for lg in local {
            let key = (lg.country, lg.wave);
            let g = match self.index.get(&key) {
                Some(&g) => g,
                None => {
                    let g = self.keys.len();
                    self.index.insert(key.clone(), g);
                    self.keys.push(key);
                    self.rows.push(Vec::new());
                    self.codes.push(Vec::new());
                    self.names.push(Vec::new());
                    self.name_index.push(HashMap::new());
                    g
                }
            };
            let (names, name_index) = (&mut self.names[g], &mut self.name_index[g]);
            let remap: Vec<u32> = lg
                .strata
                .into_iter()
                .map(|name| {
                    *name_index.entry(name).or_insert_with_key(|name| {
                        names.push(name.clone());
                        (names.len() - 1) as u32
                    })
                })
                .collect();
            self.rows[g].extend(lg.rows.iter().map(|&r| r + start));
            self.codes[g].extend(lg.stratum.iter().map(|&c| remap[c as usize]));
        }
    }

    fn finish(self) -> Vec<Group> {
        let mut groups: Vec<Group> = self
            .keys
            .into_iter()
            .zip(self.rows)
            .zip(self.codes)
            .zip(self.names)
            .map(|((((country, wave), rows), mut codes), names)| {
                let mut sorted: Vec<u32> = (0..names.len() as u32).collect();
                sorted.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
                let mut remap = vec![0u32; names.len()];
                for (new, &old) in sorted.iter().enumerate() {
                    remap[old as usize] = new as u32;
                }
                codes.iter_mut().for_each(|c| *c = remap[*c as usize]);
                Group {
                    country,
                    wave,
                    rows,
                    stratum: codes,
                    strata: sorted.iter().map(|&c| names[c as usize].clone()).collect(),
                }
            })
            .collect();
        groups.sort_by(|a, b| (&a.country, a.wave).cmp(&(&b.country, b.wave)));
        groups
    }
}

/// Reads the needed columns of `path` and groups the selected rows.
/// Returns the groups, the columns and the file's row count.
pub(crate) fn read(path: &Path, plan: &Plan, sel: &Selection) -> Result<(Vec<Group>, Columns, usize), WeightError> {
    let open = || {
        File::open(path).map(BufReader::new).map_err(|source| {
            WeightError::Io(IoError::Io {
                path: path.to_path_buf(),
                source,
            })
        })
    };
    let file_schema = FileReader::try_new(open()?, None).map_err(arrow_err(path))?.schema();
    let mut needed: Vec<&str> = vec![
        "country",
        "wave",
        "stratum",
        "respondent_id",
        "frame",
        "n_adults",
        "n_landlines",
        "n_mobiles",
    ];
    for c in plan
        .bands
        .iter()
        .map(|b| &b.column)
        .chain(plan.components.iter().map(|c| &c.column))
    {
        if !needed.contains(&c.as_str()) {
            needed.push(c);
        }
    }
    let projection: Vec<usize> = needed.iter().filter_map(|c| file_schema.index_of(c).ok()).collect();
    let reader = FileReader::try_new(open()?, Some(projection)).map_err(arrow_err(path))?;
    let batches = reader.num_batches();
    // Column errors in the order they were always reported: grouping
    // columns first, then (after "no rows") the others.
    let empty = RecordBatch::new_empty(reader.schema());
    group_by_country_wave(&empty, path, sel)?;
    let column_error = check_columns(&empty, path, plan).err();

    // DK/refused tests per raking component: the numeric codes of a banded
    // one (raked), or a table over i8 of a coded one.
    let numeric_missing: Vec<(usize, &[i16])> = plan
        .components
        .iter()
        .filter_map(|c| match c.kind {
            Kind::Banded { set } => Some((set, plan.bands[set].missing.as_slice())),
            Kind::Coded { .. } => None,
        })
        .collect();
    let coded_missing: Vec<(usize, [bool; 256])> = plan
        .components
        .iter()
        .enumerate()
        .filter_map(|(k, c)| match &c.kind {
            Kind::Coded { missing, .. } => {
                let mut t = [false; 256];
                for &m in missing {
                    t[m as u8 as usize] = true;
                }
                Some((k, t))
            }
            Kind::Banded { .. } => None,
        })
        .collect();

    let mut cols = Columns {
        frame: Vec::new(),
        bad_frames: HashMap::new(),
        counts: [Vec::new(), Vec::new(), Vec::new()],
        numeric: vec![Vec::new(); plan.bands.len()],
        coded: vec![Vec::new(); plan.components.len()],
        keys: Vec::new(),
    };
    let mut merge = Merge::default();
    let mut start = 0usize;
    let mut missing = Vec::new();
    let mut process = |batch: RecordBatch| -> Result<(), WeightError> {
        let len = batch.num_rows();
        if start + len > u32::MAX as usize {
            return Err(WeightError::Io(IoError::Column {
                path: path.to_path_buf(),
                column: "respondent_id".into(),
                expected: format!("at most {} rows", u32::MAX),
            }));
        }
        merge.add(group_by_country_wave(&batch, path, sel)?, start as u32);
        if column_error.is_none() {
            if start == 0 {
                // Batches are of similar size: reserve once instead of growing.
                let rows = len.saturating_mul(batches);
                cols.frame.reserve(rows);
                cols.counts.iter_mut().for_each(|c| c.reserve(rows));
                cols.numeric.iter_mut().for_each(|c| c.reserve(rows));
                for (k, _) in &coded_missing {
                    cols.coded[*k].reserve(rows);
                }
            }
            let country = column::<StringArray>(&batch, "country", path)?;
            let wave = column::<Int32Array>(&batch, "wave", path)?;
            let id = column::<StringArray>(&batch, "respondent_id", path)?;
            let frame = column::<StringArray>(&batch, "frame", path)?;
            for r in 0..len {
                let f = frame.value(r);
                cols.frame.push(match f {
                    "L" => FRAME_L,
                    "M" => FRAME_M,
                    _ => {
                        cols.bad_frames.insert((start + r) as u32, f.to_string());
                        FRAME_OTHER
                    }
                });
            }
            for (k, name) in ["n_adults", "n_landlines", "n_mobiles"].into_iter().enumerate() {
                let a = column::<Int32Array>(&batch, name, path)?;
                let dst = &mut cols.counts[k];
                if a.null_count() == 0 {
                    dst.extend(a.values().iter().map(|&v| v.max(0)));
                } else {
                    dst.extend(a.iter().map(|v| v.map_or(NULL_COUNT, |v| v.max(0))));
                }
            }
            for (b, dst) in plan.bands.iter().zip(cols.numeric.iter_mut()) {
                dst.extend_from_slice(column::<Int16Array>(&batch, &b.column, path)?.values());
            }
            missing.clear();
            missing.resize(len, false);
            for &(set, codes) in &numeric_missing {
                let a = &cols.numeric[set][start..];
                for (m, x) in missing.iter_mut().zip(a) {
                    *m |= codes.contains(x);
                }
            }
            for (k, table) in &coded_missing {
                let a = column::<Int8Array>(&batch, &plan.components[*k].column, path)?;
                for (m, &x) in missing.iter_mut().zip(a.values().iter()) {
                    *m |= table[x as u8 as usize];
                }
                cols.coded[*k].extend_from_slice(a.values());
            }
            for (r, _) in missing.iter().enumerate().filter(|&(_, &m)| m) {
                let key = hash_prefix(country.value(r), wave.value(r), id.value(r));
                cols.keys.push(((start + r) as u32, key));
            }
        }
        start += len;
        Ok(())
    };
    // The file is decoded on another thread, two batches ahead.
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for batch in reader {
                if tx.send(batch).is_err() {
                    break;
                }
            }
        });
        for batch in rx {
            process(batch.map_err(arrow_err(path))?)?;
        }
        Ok::<(), WeightError>(())
    })?;
    let groups = merge.finish();
    swvr_core::groups::require_selected(&groups, path, sel)?;
    if groups.is_empty() {
        return Err(WeightError::NoRows {
            file: path.display().to_string(),
        });
    }
    if let Some(e) = column_error {
        return Err(e.into());
    }
    Ok((groups, cols, start))
}
