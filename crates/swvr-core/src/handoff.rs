//! The hand-off between the weight stage and the stages after it.
//!
//! Each stage writes what it adds: `weight/weighted.arrow` holds the keys
//! (`country`, `wave`, `respondent_id`), the weighting columns (`age_group`,
//! `base_weight`, `weight`, imputation flags and weighting values) and one
//! row per weighted respondent, in `ingest/respondents.arrow`'s order; the
//! answers stay in respondents.arrow. [`read_weighted`] reads the columns a
//! stage needs from both files as one batch, row-aligned with weighted.arrow,
//! and checks that the two files really are aligned: the keys of every row
//! must be equal (compared in bulk, a few milliseconds per million rows).
//!
//! When weighted.arrow covers only some (country, wave)s of respondents.arrow
//! (`swvr weight --country KEN` on a full ingest), the rows of the other
//! (country, wave)s are skipped. A weighted.arrow that has every requested
//! column itself (an older, wide file, or one made by another program) is
//! read alone.
//!
//! ```no_run
//! let joined = swvr_core::handoff::read_weighted(std::path::Path::new("out"), &["country", "wave", "weight", "Q1"])?;
//! assert_eq!(joined.batch.num_columns(), 4);
//! # Ok::<(), swvr_core::io::IoError>(())
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use arrow_array::{Array, ArrayRef, BooleanArray, Int32Array, RecordBatch, RecordBatchOptions, StringArray};
use arrow_schema::{Field, Schema, SchemaRef};

use crate::io::{IoError, arrow_rows, arrow_schema, column, for_each_batch, owned_copy};

/// ingest's output under OUT.
pub const RESPONDENTS_FILE: &str = "ingest/respondents.arrow";
/// weight's output under OUT.
pub const WEIGHTED_FILE: &str = "weight/weighted.arrow";
/// The columns that identify a row in both files.
pub const KEY_COLUMNS: [&str; 3] = ["country", "wave", "respondent_id"];

/// The columns a stage reads, row-aligned with weighted.arrow.
#[derive(Debug)]
pub struct Joined {
    /// The requested columns present in either file, in the requested
    /// order (weighted.arrow's when both have one); schema metadata of
    /// weighted.arrow.
    pub batch: RecordBatch,
    /// What to name in messages about the batch's rows and columns:
    /// weighted.arrow when it held every column, else
    /// `OUT/ingest/respondents.arrow + OUT/weight/weighted.arrow`. Row `r`
    /// of the batch is data row `r` of weighted.arrow.
    pub source: PathBuf,
}

/// Reads `columns` of `out/weight/weighted.arrow`, and those it lacks from
/// `out/ingest/respondents.arrow`, into one batch aligned with
/// weighted.arrow's rows (see the module documentation).
pub fn read_weighted(out: &Path, columns: &[&str]) -> Result<Joined, IoError> {
    let mut parts: Vec<Vec<ArrayRef>> = Vec::new();
    let mut n_rows = 0usize;
    let wpath = out.join(WEIGHTED_FILE);
    let arrow = |source| IoError::Arrow {
        path: wpath.clone(),
        source,
    };
    let (schema, source) = for_each_weighted(out, columns, |b: RecordBatch| -> Result<(), IoError> {
        parts.resize(b.num_columns(), Vec::new());
        n_rows += b.num_rows();
        for (part, col) in parts.iter_mut().zip(b.columns()) {
            part.push(owned_copy(col).map_err(arrow)?);
        }
        Ok(())
    })?;
    parts.resize(schema.fields().len(), Vec::new());
    let mut cols = Vec::with_capacity(parts.len());
    for (part, field) in parts.into_iter().zip(schema.fields()) {
        cols.push(match part.len() {
            0 => arrow_array::new_empty_array(field.data_type()),
            1 => part
                .into_iter()
                .next()
                .unwrap_or_else(|| arrow_array::new_empty_array(field.data_type())),
            // Column by column, freeing each column's parts as soon as it is done.
            _ => arrow_select::concat::concat(&part.iter().map(|a| a.as_ref()).collect::<Vec<_>>()).map_err(arrow)?,
        });
    }
    let batch =
        RecordBatch::try_new_with_options(schema, cols, &RecordBatchOptions::new().with_row_count(Some(n_rows)))
            .map_err(arrow)?;
    Ok(Joined { batch, source })
}

/// The schema [`for_each_weighted`] gives its batches, and the source it
/// names, without reading any rows (an error when columns must come from
/// respondents.arrow and weighted.arrow lacks a key column to align them).
pub fn weighted_schema(out: &Path, columns: &[&str]) -> Result<(SchemaRef, PathBuf), IoError> {
    let wpath = out.join(WEIGHTED_FILE);
    let rpath = out.join(RESPONDENTS_FILE);
    let wschema = arrow_schema(&wpath)?;
    if columns.iter().all(|c| wschema.index_of(c).is_ok()) {
        let fields: Vec<Field> = columns
            .iter()
            .filter_map(|c| wschema.field_with_name(c).ok().cloned())
            .collect();
        return Ok((
            Arc::new(Schema::new_with_metadata(fields, wschema.metadata().clone())),
            wpath,
        ));
    }
    for k in KEY_COLUMNS {
        if wschema.index_of(k).is_err() {
            return Err(IoError::Column {
                path: wpath,
                column: k.into(),
                expected: "a key column (country, wave, respondent_id) to align the rows with respondents.arrow".into(),
            });
        }
    }
    let rschema = arrow_schema(&rpath)?;
    let fields: Vec<Field> = columns
        .iter()
        .filter_map(|c| {
            wschema
                .field_with_name(c)
                .or_else(|_| rschema.field_with_name(c))
                .ok()
                .cloned()
        })
        .collect();
    let source = PathBuf::from(format!("{} + {}", rpath.display(), wpath.display()));
    Ok((
        Arc::new(Schema::new_with_metadata(fields, wschema.metadata().clone())),
        source,
    ))
}

/// [`read_weighted`] batch by batch: calls `f` with consecutive row ranges
/// of the joined columns, in weighted.arrow's row order (each a view into
/// one record batch of each file: no copy), and returns the joined schema
/// (schema metadata of weighted.arrow) and the source to name in messages
/// (see [`Joined::source`]). Memory: about one record batch of each file.
/// The keys are checked as in [`read_weighted`]; an error stops the walk
/// (`f` may have been called for the rows before it).
pub fn for_each_weighted<E: From<IoError>>(
    out: &Path,
    columns: &[&str],
    mut f: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<(SchemaRef, PathBuf), E> {
    let wpath = out.join(WEIGHTED_FILE);
    let rpath = out.join(RESPONDENTS_FILE);
    let wschema = arrow_schema(&wpath)?;
    let from_resp: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| wschema.index_of(c).is_err())
        .collect();
    if from_resp.is_empty() {
        let schema = for_each_batch(&wpath, Some(columns), &mut f)?;
        return Ok((schema, wpath));
    }
    for k in KEY_COLUMNS {
        if wschema.index_of(k).is_err() {
            return Err(IoError::Column {
                path: wpath,
                column: k.into(),
                expected: "a key column (country, wave, respondent_id) to align the rows with respondents.arrow".into(),
            }
            .into());
        }
    }
    let rschema = arrow_schema(&rpath)?;
    let from_w: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| wschema.index_of(c).is_ok())
        .collect();
    let from_resp: Vec<&str> = from_resp.into_iter().filter(|c| rschema.index_of(c).is_ok()).collect();

    // The joined schema, known before any row is read: each column from
    // the file it comes from, in the requested order.
    let mut fields = Vec::with_capacity(columns.len());
    let mut picks: Vec<(bool, &str)> = Vec::with_capacity(columns.len());
    for c in columns {
        let (schema, path, from_weighted) = if from_w.contains(c) {
            (&wschema, &wpath, true)
        } else if from_resp.contains(c) {
            (&rschema, &rpath, false)
        } else {
            continue;
        };
        let field = schema.field_with_name(c).map_err(|source| IoError::Arrow {
            path: path.clone(),
            source,
        })?;
        fields.push(field.clone());
        picks.push((from_weighted, c));
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, wschema.metadata().clone()));

    // weighted.arrow covers a subset of the (country, wave)s: keep only those.
    let subset: Option<HashSet<(String, i32)>> = if arrow_rows(&wpath)? != arrow_rows(&rpath)? {
        let mut set = HashSet::new();
        for_each_batch(
            &wpath,
            Some(&["country", "wave"]),
            |b: RecordBatch| -> Result<(), IoError> {
                let c = column::<StringArray>(&b, "country", &wpath)?;
                let w = column::<Int32Array>(&b, "wave", &wpath)?;
                let mut last: Option<(&str, i32)> = None;
                for r in 0..b.num_rows() {
                    let key = (c.value(r), w.value(r));
                    if last != Some(key) {
                        set.insert((key.0.to_string(), key.1));
                        last = Some(key);
                    }
                }
                Ok(())
            },
        )?;
        Some(set)
    } else {
        None
    };

    let with_keys = |cols: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
        for k in KEY_COLUMNS {
            if !cols.contains(&k) {
                v.push(k.to_string());
            }
        }
        v
    };
    let w_read = with_keys(&from_w);
    let r_read = with_keys(&from_resp);
    let r_refs: Vec<&str> = r_read.iter().map(String::as_str).collect();

    let (tx, rx) = sync_channel::<Result<RecordBatch, IoError>>(2);
    std::thread::scope(|scope| -> Result<(), E> {
        let wp = &wpath;
        let reader = scope.spawn(move || {
            let refs: Vec<&str> = w_read.iter().map(String::as_str).collect();
            let tx2 = tx.clone();
            let r = for_each_batch(wp, Some(&refs), |b: RecordBatch| -> Result<(), IoError> {
                // A closed channel means the aligner stopped (and says why).
                tx2.send(Ok(b)).map_err(|_| IoError::Io {
                    path: wp.clone(),
                    source: std::io::Error::other("reading stopped"),
                })
            });
            match r {
                Ok(_) => Ok(()),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    Err(())
                }
            }
        });
        let mut aligner = Aligner {
            rx,
            current: None,
            at: 0,
            w_row: 0,
            r_row: 0,
            wpath: &wpath,
            rpath: &rpath,
        };
        let walked = for_each_batch(&rpath, Some(&r_refs), |b: RecordBatch| -> Result<(), E> {
            let len = b.num_rows();
            let (b, rows) = match &subset {
                None => (b, None),
                Some(set) => keep_groups(b, set, &rpath)?,
            };
            aligner.zip(&b, rows.as_deref(), |wb, j, rb, i, k| -> Result<(), E> {
                let mut cols = Vec::with_capacity(picks.len());
                for (from_weighted, name) in &picks {
                    let col = if *from_weighted {
                        column_any(wb, name, &wpath)?.slice(j, k)
                    } else {
                        column_any(rb, name, &rpath)?.slice(i, k)
                    };
                    cols.push(col);
                }
                let batch = RecordBatch::try_new_with_options(
                    schema.clone(),
                    cols,
                    &RecordBatchOptions::new().with_row_count(Some(k)),
                )
                .map_err(|source| IoError::Arrow {
                    path: wpath.clone(),
                    source,
                })?;
                f(batch)
            })?;
            aligner.r_row += len as u64;
            Ok(())
        });
        if let Err(e) = walked {
            drop(aligner);
            let _ = reader.join();
            return Err(e);
        }
        aligner.finish()?;
        drop(aligner);
        match reader.join() {
            Ok(Ok(())) => Ok(()),
            // The error was sent through the channel and reported by the aligner.
            _ => Err(IoError::Io {
                path: wpath.clone(),
                source: std::io::Error::other("the reader thread stopped"),
            }
            .into()),
        }
    })?;
    let source = PathBuf::from(format!("{} + {}", rpath.display(), wpath.display()));
    Ok((schema, source))
}

/// The full weighted microdata (what `swvr export` writes): every column
/// of respondents.arrow, then the columns of weighted.arrow that
/// respondents.arrow lacks, one row per weighted respondent, aligned as in
/// [`read_weighted`]. Without respondents.arrow, weighted.arrow alone.
pub fn read_microdata(out: &Path) -> Result<Joined, IoError> {
    let wpath = out.join(WEIGHTED_FILE);
    if !out.join(RESPONDENTS_FILE).is_file() {
        return Ok(Joined {
            batch: crate::io::read_arrow(&wpath)?,
            source: wpath,
        });
    }
    read_weighted(
        out,
        &microdata_columns(out)?.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

/// [`read_microdata`] batch by batch, as [`for_each_weighted`] reads: memory
/// about one record batch of each file, whatever the number of rows.
pub fn for_each_microdata<E: From<IoError>>(
    out: &Path,
    f: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<(SchemaRef, PathBuf), E> {
    let wpath = out.join(WEIGHTED_FILE);
    if !out.join(RESPONDENTS_FILE).is_file() {
        let schema = for_each_batch(&wpath, None, f)?;
        return Ok((schema, wpath));
    }
    let names = microdata_columns(out)?;
    for_each_weighted(out, &names.iter().map(String::as_str).collect::<Vec<_>>(), f)
}

/// The schema of the batches [`for_each_microdata`] calls with (and of
/// [`read_microdata`]'s batch), from the files' footers alone.
pub fn microdata_schema(out: &Path) -> Result<SchemaRef, IoError> {
    let wpath = out.join(WEIGHTED_FILE);
    let wschema = arrow_schema(&wpath)?;
    let rpath = out.join(RESPONDENTS_FILE);
    if !rpath.is_file() {
        return Ok(wschema);
    }
    let rschema = arrow_schema(&rpath)?;
    let mut fields = Vec::new();
    for name in microdata_columns(out)? {
        let field = match wschema.field_with_name(&name) {
            Ok(f) => f,
            Err(_) => rschema.field_with_name(&name).map_err(|source| IoError::Arrow {
                path: rpath.clone(),
                source,
            })?,
        };
        fields.push(field.clone());
    }
    Ok(Arc::new(Schema::new_with_metadata(fields, wschema.metadata().clone())))
}

/// Every column of respondents.arrow, then those of weighted.arrow it lacks.
fn microdata_columns(out: &Path) -> Result<Vec<String>, IoError> {
    let wschema = arrow_schema(&out.join(WEIGHTED_FILE))?;
    let rschema = arrow_schema(&out.join(RESPONDENTS_FILE))?;
    let mut names: Vec<String> = rschema.fields().iter().map(|f| f.name().clone()).collect();
    for f in wschema.fields() {
        if rschema.index_of(f.name()).is_err() {
            names.push(f.name().clone());
        }
    }
    Ok(names)
}

/// The rows of `b` in `set`'s (country, wave)s, with their row numbers in `b`.
fn keep_groups(
    b: RecordBatch,
    set: &HashSet<(String, i32)>,
    path: &Path,
) -> Result<(RecordBatch, Option<Vec<u32>>), IoError> {
    let c = column::<StringArray>(&b, "country", path)?;
    let w = column::<Int32Array>(&b, "wave", path)?;
    let mut last: Option<((&str, i32), bool)> = None;
    let mut keep = Vec::with_capacity(b.num_rows());
    for r in 0..b.num_rows() {
        let key = (c.value(r), w.value(r));
        let k = match last {
            Some((k, v)) if k == key => v,
            _ => {
                let v = set.contains(&(key.0.to_string(), key.1));
                last = Some((key, v));
                v
            }
        };
        keep.push(k);
    }
    let rows: Vec<u32> = keep
        .iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .map(|(r, _)| r as u32)
        .collect();
    let mask = BooleanArray::from(keep);
    let filtered = arrow_select::filter::filter_record_batch(&b, &mask).map_err(|source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((filtered, Some(rows)))
}

/// Walks weighted.arrow's batches (from the reader thread) alongside
/// respondents.arrow's, checking keys and collecting columns.
struct Aligner<'a> {
    rx: Receiver<Result<RecordBatch, IoError>>,
    current: Option<RecordBatch>,
    /// Next row of `current`.
    at: usize,
    /// Rows of weighted.arrow before `current`.
    w_row: u64,
    /// Rows of respondents.arrow before the batch being zipped.
    r_row: u64,
    wpath: &'a Path,
    rpath: &'a Path,
}

impl Aligner<'_> {
    /// The current weighted batch with rows left, pulling the next one as needed.
    fn next_batch(&mut self) -> Result<Option<()>, IoError> {
        loop {
            if let Some(b) = &self.current {
                if self.at < b.num_rows() {
                    return Ok(Some(()));
                }
                self.w_row += b.num_rows() as u64;
                self.current = None;
                self.at = 0;
            }
            match self.rx.recv() {
                Ok(Ok(b)) => self.current = Some(b),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(None),
            }
        }
    }

    fn key_of(b: &RecordBatch, r: usize, path: &Path) -> Result<String, IoError> {
        let c = column::<StringArray>(b, "country", path)?;
        let w = column::<Int32Array>(b, "wave", path)?;
        let id = column::<StringArray>(b, "respondent_id", path)?;
        let s = |a: &StringArray| {
            if a.is_null(r) {
                "null".to_string()
            } else {
                a.value(r).to_string()
            }
        };
        let wave = if w.is_null(r) {
            "null".to_string()
        } else {
            w.value(r).to_string()
        };
        Ok(format!("{} {} `{}`", s(c), wave, s(id)))
    }

    /// Walks `rb` (respondents rows; `rows` = their row numbers in the
    /// file's batch when some were skipped) alongside weighted.arrow's
    /// batches, checks the keys and calls `emit(wb, j, rb, i, k)` for each
    /// run of `k` aligned rows (`wb[j..j + k]` with `rb[i..i + k]`).
    fn zip<E: From<IoError>>(
        &mut self,
        rb: &RecordBatch,
        rows: Option<&[u32]>,
        mut emit: impl FnMut(&RecordBatch, usize, &RecordBatch, usize, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let n = rb.num_rows();
        let mut i = 0usize;
        while i < n {
            if self.next_batch()?.is_none() {
                let r_row = self.r_row + rows.map_or(i, |v| v[i] as usize) as u64;
                return Err(IoError::Misaligned {
                    weighted: self.wpath.to_path_buf(),
                    respondents: self.rpath.to_path_buf(),
                    row: self.w_row + 1,
                    key: "past its last row".into(),
                    found: format!("row {} ({})", r_row + 1, Self::key_of(rb, i, self.rpath)?),
                }
                .into());
            }
            let Some(wb) = &self.current else { break };
            let j = self.at;
            let k = (n - i).min(wb.num_rows() - j);
            if let Some(m) = first_mismatch(rb, i, wb, j, k, self.rpath, self.wpath)? {
                let r_row = self.r_row + rows.map_or(i + m, |v| v[i + m] as usize) as u64;
                return Err(IoError::Misaligned {
                    weighted: self.wpath.to_path_buf(),
                    respondents: self.rpath.to_path_buf(),
                    row: self.w_row + (j + m) as u64 + 1,
                    key: Self::key_of(wb, j + m, self.wpath)?,
                    found: format!("row {} ({})", r_row + 1, Self::key_of(rb, i + m, self.rpath)?),
                }
                .into());
            }
            emit(wb, j, rb, i, k)?;
            self.at += k;
            i += k;
        }
        Ok(())
    }

    /// Every weighted row was matched.
    fn finish(&mut self) -> Result<(), IoError> {
        let more = self.next_batch()?.is_some();
        match (more, &self.current) {
            (true, Some(wb)) => Err(IoError::Misaligned {
                weighted: self.wpath.to_path_buf(),
                respondents: self.rpath.to_path_buf(),
                row: self.w_row + self.at as u64 + 1,
                key: Self::key_of(wb, self.at, self.wpath)?,
                found: "past its last row".into(),
            }),
            _ => Ok(()),
        }
    }
}

fn column_any(b: &RecordBatch, name: &str, path: &Path) -> Result<ArrayRef, IoError> {
    b.column_by_name(name).cloned().ok_or_else(|| IoError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: "a column of this name".into(),
    })
}

/// First `m < k` where the keys of `a[i + m]` and `b[j + m]` differ.
fn first_mismatch(
    a: &RecordBatch,
    i: usize,
    b: &RecordBatch,
    j: usize,
    k: usize,
    apath: &Path,
    bpath: &Path,
) -> Result<Option<usize>, IoError> {
    let wa = column::<Int32Array>(a, "wave", apath)?;
    let wb = column::<Int32Array>(b, "wave", bpath)?;
    let mut first: Option<usize> = None;
    let mut note = |m: Option<usize>| {
        if let Some(m) = m {
            first = Some(first.map_or(m, |f| f.min(m)));
        }
    };
    let (sa, sb) = (wa.slice(i, k), wb.slice(j, k));
    if sa != sb {
        note((0..k).find(|&m| sa.is_valid(m) != sb.is_valid(m) || sa.value(m) != sb.value(m)));
    }
    for name in ["country", "respondent_id"] {
        let ca = column::<StringArray>(a, name, apath)?;
        let cb = column::<StringArray>(b, name, bpath)?;
        note(strings_mismatch(ca, i, cb, j, k));
    }
    Ok(first)
}

/// First `m < k` where `a[i + m] != b[j + m]`: offsets and bytes compared
/// in bulk, row by row only to find where they differ.
fn strings_mismatch(a: &StringArray, i: usize, b: &StringArray, j: usize, k: usize) -> Option<usize> {
    let (oa, ob) = (&a.value_offsets()[i..=i + k], &b.value_offsets()[j..=j + k]);
    let same_nulls = a.null_count() == 0 && b.null_count() == 0;
    if same_nulls {
        let (ba, bb) = (oa[0], ob[0]);
        let lengths_equal = oa.iter().zip(ob).all(|(x, y)| x - ba == y - bb);
        if lengths_equal {
            let va = &a.value_data()[oa[0] as usize..oa[k] as usize];
            let vb = &b.value_data()[ob[0] as usize..ob[k] as usize];
            if va == vb {
                return None;
            }
        }
    }
    (0..k).find(|&m| a.is_valid(i + m) != b.is_valid(j + m) || (a.is_valid(i + m) && a.value(i + m) != b.value(j + m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int8Array};
    use arrow_schema::{DataType, Field};

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("swvr-handoff-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        Dir(d)
    }

    fn keys(rows: &[(&str, i32, &str)]) -> Vec<ArrayRef> {
        vec![
            Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(Int32Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        ]
    }

    fn key_fields() -> Vec<Field> {
        vec![
            Field::new("country", DataType::Utf8, false),
            Field::new("wave", DataType::Int32, false),
            Field::new("respondent_id", DataType::Utf8, false),
        ]
    }

    /// respondents.arrow with `Q1` = row number, written in batches of `chunk` rows.
    fn respondents(out: &Path, rows: &[(&str, i32, &str)], chunk: usize) {
        let mut fields = key_fields();
        fields.push(Field::new("Q1", DataType::Int8, true));
        let schema = Schema::new(fields);
        let batches: Vec<RecordBatch> = rows
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let mut cols = keys(part);
                cols.push(Arc::new(Int8Array::from(
                    (0..part.len()).map(|i| (c * chunk + i) as i8).collect::<Vec<_>>(),
                )));
                RecordBatch::try_new(Arc::new(schema.clone()), cols).unwrap()
            })
            .collect();
        crate::io::write_arrow(&out.join(RESPONDENTS_FILE), &schema, &batches).unwrap();
    }

    /// weighted.arrow with `weight` = 10 + position, in batches of `chunk` rows.
    fn weighted(out: &Path, rows: &[(&str, i32, &str)], chunk: usize) {
        let mut fields = key_fields();
        fields.push(Field::new("weight", DataType::Float64, false));
        let schema = Schema::new(fields);
        let batches: Vec<RecordBatch> = rows
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let mut cols = keys(part);
                cols.push(Arc::new(Float64Array::from(
                    (0..part.len())
                        .map(|i| 10.0 + (c * chunk + i) as f64)
                        .collect::<Vec<_>>(),
                )));
                RecordBatch::try_new(Arc::new(schema.clone()), cols).unwrap()
            })
            .collect();
        crate::io::write_arrow(&out.join(WEIGHTED_FILE), &schema, &batches).unwrap();
    }

    const ROWS: [(&str, i32, &str); 5] = [
        ("KEN", 2021, "a"),
        ("SEN", 2021, "b"),
        ("KEN", 2021, "c"),
        ("SEN", 2021, "a"),
        ("KEN", 2021, "d"),
    ];

    fn q1(b: &RecordBatch) -> Vec<i8> {
        b.column_by_name("Q1")
            .unwrap()
            .as_any()
            .downcast_ref::<Int8Array>()
            .unwrap()
            .values()
            .to_vec()
    }

    fn weights(b: &RecordBatch) -> Vec<f64> {
        b.column_by_name("weight")
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .values()
            .to_vec()
    }

    #[test]
    fn aligned_files_zip_across_different_batch_boundaries() {
        let d = dir("aligned");
        respondents(&d.0, &ROWS, 2);
        weighted(&d.0, &ROWS, 3);
        let j = read_weighted(&d.0, &["Q1", "weight", "country", "nope"]).unwrap();
        let schema = j.batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["Q1", "weight", "country"]);
        assert_eq!(q1(&j.batch), [0, 1, 2, 3, 4]);
        assert_eq!(weights(&j.batch), [10.0, 11.0, 12.0, 13.0, 14.0]);
        let s = j.source.display().to_string();
        assert!(s.contains("respondents.arrow") && s.contains("weighted.arrow"), "{s}");
    }

    #[test]
    fn streamed_batches_are_views_of_one_batch_of_each_file_and_add_up_to_the_read() {
        let d = dir("stream");
        respondents(&d.0, &ROWS, 2);
        weighted(&d.0, &ROWS, 3);
        let mut sizes = Vec::new();
        let mut q = Vec::new();
        let mut w = Vec::new();
        let (schema, source) = for_each_weighted(&d.0, &["Q1", "weight"], |b: RecordBatch| -> Result<(), IoError> {
            sizes.push(b.num_rows());
            q.extend(q1(&b));
            w.extend(weights(&b));
            Ok(())
        })
        .unwrap();
        // Cut where either file's batch ends: rows 0-1 | 2 | 3 | 4.
        assert_eq!(sizes, [2, 1, 1, 1]);
        assert_eq!(q, [0, 1, 2, 3, 4]);
        assert_eq!(w, [10.0, 11.0, 12.0, 13.0, 14.0]);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["Q1", "weight"]);
        assert!(source.display().to_string().contains(" + "), "{}", source.display());
        // The microdata's schema from the footers is the one of its batches.
        let mut seen = None;
        for_each_microdata(&d.0, |b: RecordBatch| -> Result<(), IoError> {
            seen.get_or_insert(b.schema());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.unwrap(), microdata_schema(&d.0).unwrap());
        assert_eq!(
            read_microdata(&d.0).unwrap().batch.schema(),
            microdata_schema(&d.0).unwrap()
        );
    }

    #[test]
    fn a_callback_error_stops_the_walk() {
        let d = dir("stop");
        respondents(&d.0, &ROWS, 1);
        weighted(&d.0, &ROWS, 1);
        let mut calls = 0;
        let e = for_each_weighted(&d.0, &["Q1", "weight"], |_b: RecordBatch| -> Result<(), IoError> {
            calls += 1;
            Err(IoError::Io {
                path: PathBuf::from("sink"),
                source: std::io::Error::other("full"),
            })
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert!(e.to_string().contains("full"), "{e}");
    }

    #[test]
    fn weighted_of_some_countries_skips_the_others() {
        let d = dir("subset");
        respondents(&d.0, &ROWS, 2);
        let sen: Vec<_> = ROWS.iter().copied().filter(|r| r.0 == "SEN").collect();
        weighted(&d.0, &sen, 1);
        let j = read_weighted(&d.0, &["Q1", "weight"]).unwrap();
        assert_eq!(q1(&j.batch), [1, 3]);
        assert_eq!(weights(&j.batch), [10.0, 11.0]);
    }

    #[test]
    fn misaligned_rows_are_an_error_naming_both_files_and_the_row() {
        let d = dir("misaligned");
        respondents(&d.0, &ROWS, 2);
        let mut other = ROWS;
        other.swap(2, 4);
        weighted(&d.0, &other, 5);
        let e = read_weighted(&d.0, &["Q1", "weight"]).unwrap_err().to_string();
        for part in [
            "weighted.arrow: row 3 is KEN 2021 `d`",
            "respondents.arrow is row 3 (KEN 2021 `c`)",
            "run `swvr weight` again",
        ] {
            assert!(e.contains(part), "{part:?} not in {e}");
        }
        // Fewer weighted rows of the same countries: the first missing row is named.
        weighted(&d.0, &ROWS[..4], 5);
        let e = read_weighted(&d.0, &["Q1", "weight"]).unwrap_err().to_string();
        assert!(
            e.contains("row 5 is past its last row") && e.contains("row 5 (KEN 2021 `d`)"),
            "{e}"
        );
    }

    #[test]
    fn microdata_is_every_respondents_column_then_what_weighting_added() {
        let d = dir("micro");
        respondents(&d.0, &ROWS, 2);
        weighted(&d.0, &ROWS, 3);
        let j = read_microdata(&d.0).unwrap();
        let schema = j.batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["country", "wave", "respondent_id", "Q1", "weight"]);
        assert_eq!(q1(&j.batch), [0, 1, 2, 3, 4]);
        assert_eq!(weights(&j.batch), [10.0, 11.0, 12.0, 13.0, 14.0]);
    }

    #[test]
    fn a_weighted_file_with_every_column_is_read_alone() {
        let d = dir("wide");
        weighted(&d.0, &ROWS, 5);
        let j = read_weighted(&d.0, &["weight", "country"]).unwrap();
        assert_eq!(j.source, d.0.join(WEIGHTED_FILE));
        assert_eq!(j.batch.num_rows(), 5);
    }

    #[test]
    fn weighted_without_keys_is_an_error_naming_the_column() {
        let d = dir("nokeys");
        let schema = Schema::new(vec![Field::new("weight", DataType::Float64, false)]);
        let b = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(Float64Array::from(vec![1.0]))]).unwrap();
        crate::io::write_arrow(&d.0.join(WEIGHTED_FILE), &schema, &[b]).unwrap();
        let e = read_weighted(&d.0, &["weight", "Q1"]).unwrap_err().to_string();
        assert!(
            e.contains("weighted.arrow") && e.contains("`country`") && e.contains("key column"),
            "{e}"
        );
    }
}
