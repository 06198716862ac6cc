//! The weighted microdata as the writers read it: batch by batch, never
//! whole. From a run folder it is respondents.arrow joined row by row with
//! weighted.arrow (`swvr_core::handoff::for_each_microdata`), with the
//! replicate weights of replicates.arrow (when the file exists) appended:
//! its Float64 columns that the microdata lacks, row for row, keys checked.
//! Memory: about one record batch of each file, whatever the row count.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Schema, SchemaRef};
use swvr_core::io::IoError;

use crate::ExportError;
use crate::dict::{Dict, Var};

/// Rows per batch when the microdata is one batch in memory.
const SLICE: usize = 64 * 1024;

/// Where the microdata comes from.
#[derive(Debug)]
enum Origin<'a> {
    /// A run folder.
    Out {
        out: PathBuf,
        replicates: Option<Replicates>,
    },
    /// One batch in memory.
    Batch(&'a RecordBatch),
}

/// replicates.arrow: the keys both files have and the columns appended.
#[derive(Debug)]
struct Replicates {
    path: PathBuf,
    keys: Vec<String>,
    columns: Vec<String>,
}

/// The weighted microdata: its schema (replicate columns appended, the
/// replicate design in the schema metadata), row count and where it is read.
#[derive(Debug)]
pub(crate) struct Micro<'a> {
    from: Origin<'a>,
    schema: SchemaRef,
    rows: usize,
    source: PathBuf,
}

impl<'a> Micro<'a> {
    /// One batch in memory, `source` named in messages.
    pub(crate) fn batch(batch: &'a RecordBatch, source: &Path) -> Self {
        Self {
            from: Origin::Batch(batch),
            schema: batch.schema(),
            rows: batch.num_rows(),
            source: source.to_path_buf(),
        }
    }

    /// The microdata of the run folder `out`, checked from the files'
    /// footers before any row is read: replicates.arrow must have
    /// weighted.arrow's row count and a valid replicate design.
    pub(crate) fn open(out: &Path) -> Result<Micro<'static>, ExportError> {
        let wpath = out.join(swvr_core::handoff::WEIGHTED_FILE);
        let schema = swvr_core::handoff::microdata_schema(out)?;
        let rows = swvr_core::io::arrow_rows(&wpath)? as usize;
        let wschema = swvr_core::io::arrow_schema(&wpath)?;
        let source = if out.join(swvr_core::handoff::RESPONDENTS_FILE).is_file()
            && schema.fields().iter().any(|f| wschema.index_of(f.name()).is_err())
        {
            PathBuf::from(format!(
                "{} + {}",
                out.join(swvr_core::handoff::RESPONDENTS_FILE).display(),
                wpath.display()
            ))
        } else {
            wpath.clone()
        };
        let rep_path = out.join("weight/replicates.arrow");
        if !rep_path.is_file() {
            return Ok(Micro {
                from: Origin::Out {
                    out: out.to_path_buf(),
                    replicates: None,
                },
                schema,
                rows,
                source,
            });
        }
        let rep_rows = swvr_core::io::arrow_rows(&rep_path)? as usize;
        if rep_rows != rows {
            return Err(ExportError::Input {
                path: rep_path,
                message: format!(
                    "{rep_rows} rows, but weighted.arrow has {rows}; replicate weights must be row for row"
                ),
            });
        }
        let rep_schema = swvr_core::io::arrow_schema(&rep_path)?;
        // The replicate design (R's svrepdesign arguments) rides along in the
        // schema metadata: the .dta writer turns it into svyset commands.
        let rep_md: Vec<(String, String)> = rep_schema
            .metadata()
            .iter()
            .filter(|(k, _)| k.starts_with("swvr.replicates."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if rep_md.iter().any(|(k, _)| k == swvr_core::replicates::META_TYPE) {
            swvr_core::replicates::ReplicateMeta::from_metadata(rep_schema.metadata(), &rep_path).map_err(|e| {
                ExportError::Input {
                    path: rep_path.clone(),
                    message: e.to_string(),
                }
            })?;
        }
        let keys: Vec<String> = swvr_core::handoff::KEY_COLUMNS
            .iter()
            .filter(|k| schema.index_of(k).is_ok() && rep_schema.index_of(k).is_ok())
            .map(|k| k.to_string())
            .collect();
        let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
        let mut columns = Vec::new();
        for f in rep_schema.fields() {
            if *f.data_type() == DataType::Float64 && schema.index_of(f.name()).is_err() {
                fields.push(f.clone());
                columns.push(f.name().clone());
            }
        }
        let mut md = schema.metadata().clone();
        md.extend(rep_md);
        Ok(Micro {
            from: Origin::Out {
                out: out.to_path_buf(),
                replicates: Some(Replicates {
                    path: rep_path,
                    keys,
                    columns,
                }),
            },
            schema: Arc::new(Schema::new_with_metadata(fields, md)),
            rows,
            source,
        })
    }

    /// The schema of the batches [`Micro::walk`] gives.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows in all.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// What to name in messages about the microdata's columns.
    pub(crate) fn source(&self) -> &Path {
        &self.source
    }

    /// Calls `f` with the rows, batch by batch in row order, each batch
    /// with [`Micro::schema`].
    pub(crate) fn walk(&self, mut f: impl FnMut(RecordBatch) -> Result<(), ExportError>) -> Result<(), ExportError> {
        match &self.from {
            Origin::Batch(b) => {
                for s in (0..b.num_rows()).step_by(SLICE) {
                    f(b.slice(s, SLICE.min(b.num_rows() - s)))?;
                }
                Ok(())
            }
            Origin::Out { out, replicates: None } => {
                swvr_core::handoff::for_each_microdata(out, |b: RecordBatch| {
                    f(self.with_schema(b.columns().to_vec(), b.num_rows())?)
                })?;
                Ok(())
            }
            Origin::Out {
                out,
                replicates: Some(rep),
            } => self.walk_with_replicates(out, rep, f),
        }
    }

    fn with_schema(&self, cols: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch, ExportError> {
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| ExportError::Input {
            path: self.source.clone(),
            message: format!("cannot assemble the microdata: {e}"),
        })
    }

    /// The joined batches with the replicate columns appended: replicates.arrow
    /// is read on another thread, in step; each joined batch is cut where a
    /// replicates batch ends.
    fn walk_with_replicates(
        &self,
        out: &Path,
        rep: &Replicates,
        mut f: impl FnMut(RecordBatch) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let mut names: Vec<&str> = rep.keys.iter().map(String::as_str).collect();
        names.extend(rep.columns.iter().map(String::as_str));
        let (tx, rx) = sync_channel::<Result<RecordBatch, IoError>>(2);
        std::thread::scope(|scope| -> Result<(), ExportError> {
            let path = &rep.path;
            let names = &names;
            let reader = scope.spawn(move || {
                let tx2 = tx.clone();
                let r = swvr_core::io::for_each_batch(path, Some(names), |b: RecordBatch| -> Result<(), IoError> {
                    tx2.send(Ok(b)).map_err(|_| IoError::Io {
                        path: path.clone(),
                        source: std::io::Error::other("reading stopped"),
                    })
                });
                if let Err(e) = r {
                    let _ = tx.send(Err(e));
                }
            });
            let mut current: Option<RecordBatch> = None;
            let mut at = 0usize;
            let mut row = 0usize;
            let walked = swvr_core::handoff::for_each_microdata(out, |b: RecordBatch| -> Result<(), ExportError> {
                let mut i = 0usize;
                while i < b.num_rows() {
                    let rb = match &current {
                        Some(rb) if at < rb.num_rows() => rb,
                        _ => {
                            let next = rx.recv().map_err(|_| ExportError::Input {
                                path: rep.path.clone(),
                                message: format!(
                                    "{row} rows, but weighted.arrow has {}; replicate weights must be row for row",
                                    self.rows
                                ),
                            })?;
                            current = Some(next?);
                            at = 0;
                            continue;
                        }
                    };
                    let k = (b.num_rows() - i).min(rb.num_rows() - at);
                    for name in &rep.keys {
                        let (Some(x), Some(y)) = (b.column_by_name(name), rb.column_by_name(name)) else {
                            continue;
                        };
                        let (x, y) = (x.slice(i, k), y.slice(at, k));
                        if x.as_ref() != y.as_ref() {
                            let m = (0..k)
                                .find(|&r| x.slice(r, 1).as_ref() != y.slice(r, 1).as_ref())
                                .unwrap_or(0);
                            return Err(ExportError::Input {
                                path: rep.path.clone(),
                                message: format!(
                                    "row {}: `{name}` differs from weighted.arrow's; replicate weights must be row for row (the same keys in the same order)",
                                    row + m + 1
                                ),
                            });
                        }
                    }
                    let mut cols: Vec<ArrayRef> = b.columns().iter().map(|c| c.slice(i, k)).collect();
                    for name in &rep.columns {
                        let c = rb.column_by_name(name).ok_or_else(|| ExportError::Input {
                            path: rep.path.clone(),
                            message: format!("column `{name}` missing from a record batch"),
                        })?;
                        cols.push(c.slice(at, k));
                    }
                    f(self.with_schema(cols, k)?)?;
                    i += k;
                    at += k;
                    row += k;
                }
                Ok(())
            });
            drop(rx);
            let _ = reader.join();
            walked.map(|_| ())
        })
    }

    /// Fills `dict`'s statistics (longest texts; with `ranges` the range of
    /// the integer codes that are not Stata missing values), reading only
    /// the columns they need.
    pub(crate) fn scan(&self, dict: &mut Dict, ranges: bool) -> Result<(), ExportError> {
        let skip = |v: &Var| -> Vec<i64> {
            swvr_core::labels::stata_missing_letters(&v.missing)
                .iter()
                .map(|(c, _)| *c)
                .collect()
        };
        let names: Vec<String> = dict.scan_columns(ranges).into_iter().map(String::from).collect();
        if names.is_empty() {
            return Ok(());
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match &self.from {
            Origin::Batch(b) => {
                dict.scan(b, ranges, skip);
                Ok(())
            }
            Origin::Out { out, .. } => {
                let mut add = |b: RecordBatch| -> Result<(), ExportError> {
                    dict.scan(&b, ranges, skip);
                    Ok(())
                };
                if out.join(swvr_core::handoff::RESPONDENTS_FILE).is_file() {
                    swvr_core::handoff::for_each_weighted(out, &refs, &mut add)?;
                } else {
                    swvr_core::io::for_each_batch(&out.join(swvr_core::handoff::WEIGHTED_FILE), Some(&refs), &mut add)?;
                }
                Ok(())
            }
        }
    }
}
