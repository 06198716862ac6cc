//! weighted.arrow and diagnostics.json.
//!
//! weighted.arrow holds what the stage adds, not a copy of what it read:
//! the keys `country, wave, respondent_id` of every weighted row, in
//! respondents.arrow's order, then the computed columns ([`added_fields`]).
//! The keys are streamed from respondents.arrow (only those three columns
//! are read), batch by batch; the output has one record batch per input
//! batch that holds selected rows. Later stages read the answers from
//! respondents.arrow alongside (`swvr_core::handoff`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int8Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::groups::Group;

use rayon::prelude::*;

use crate::columns::Columns;
use crate::plan::{Kind, Plan};
use crate::replicates;
use crate::{GroupResult, WeightError};

fn arrow_err(path: &Path, source: arrow_schema::ArrowError) -> WeightError {
    WeightError::Io(swvr_core::io::IoError::Arrow {
        path: path.to_path_buf(),
        source,
    })
}

/// The fields weight appends to respondents.arrow, in order: each banded
/// numeric demographic `D_group` (Utf8, field metadata `swvr.levels` = the
/// bands), `base_weight`, `weight`, per raking component `C_imputed` and
/// `C_weighting`, per count `_imputed`.
pub(crate) fn added_fields(plan: &Plan) -> Vec<Field> {
    let mut f = Vec::new();
    for b in &plan.bands {
        let levels: Vec<&str> = b.set.bands.iter().map(|b| b.label.as_str()).collect();
        let mut md = HashMap::new();
        md.insert(swvr_core::LEVELS_KEY.to_string(), levels.join(","));
        f.push(Field::new(&b.variable, DataType::Utf8, true).with_metadata(md));
    }
    f.push(Field::new("base_weight", DataType::Float64, false));
    f.push(Field::new("weight", DataType::Float64, false));
    for c in &plan.components {
        f.push(Field::new(format!("{}_imputed", c.name), DataType::Boolean, false));
        let ty = match c.kind {
            Kind::Banded { .. } => DataType::Utf8,
            Kind::Coded { .. } => DataType::Int8,
        };
        f.push(Field::new(format!("{}_weighting", c.name), ty, false));
    }
    for c in swvr_core::schema::COUNT_COLUMNS {
        f.push(Field::new(format!("{c}_imputed"), DataType::Boolean, false));
    }
    f
}

/// Row of respondents.arrow not in any selected group.
const NONE: u32 = u32::MAX;

/// Everything needed to build the appended columns of a batch: each input
/// row's group, and per group a cursor to its next result (a group's rows
/// are ascending, so its results are read in order; nothing is scattered).
struct Appender<'a> {
    row_group: &'a [u32],
    results: &'a [GroupResult],
    cursor: Vec<usize>,
    plan: &'a Plan,
    cols: &'a Columns,
}

impl Appender<'_> {
    /// Appends the computed columns of input rows `rows` (ascending, all
    /// in selected groups) to `columns`.
    fn append(&mut self, columns: &mut Vec<ArrayRef>, rows: &[u32]) {
        let plan = self.plan;
        let m = rows.len();
        let nv = plan.components.len();
        let mut base = Vec::with_capacity(m);
        let mut weight = Vec::with_capacity(m);
        let mut codes: Vec<Vec<u8>> = vec![Vec::with_capacity(m); nv];
        let mut imputed: Vec<Vec<bool>> = vec![Vec::with_capacity(m); nv];
        let mut cimp: [Vec<bool>; 3] = [Vec::with_capacity(m), Vec::with_capacity(m), Vec::with_capacity(m)];
        for &r in rows {
            let g = self.row_group[r as usize] as usize;
            let i = self.cursor[g];
            self.cursor[g] += 1;
            let res = &self.results[g];
            base.push(res.base[i]);
            weight.push(res.weight[i]);
            for (dst, src) in codes.iter_mut().zip(&res.codes) {
                dst.push(src[i]);
            }
            for (dst, src) in imputed.iter_mut().zip(&res.imputed) {
                dst.push(src[i]);
            }
            for (dst, src) in cimp.iter_mut().zip(&res.counts_imputed) {
                dst.push(src[i]);
            }
        }
        // Band of each reported value; DK/refused codes (998, 999) lie
        // outside the questionnaire's range and give null.
        for (b, values) in plan.bands.iter().zip(&self.cols.numeric) {
            let a: StringArray = rows
                .iter()
                .map(|&r| b.band_of(values[r as usize]).map(|j| b.set.bands[j].label.as_str()))
                .collect();
            columns.push(Arc::new(a));
        }
        columns.push(Arc::new(Float64Array::from(base)));
        columns.push(Arc::new(Float64Array::from(weight)));
        for ((comp, codes), imputed) in plan.components.iter().zip(codes).zip(imputed) {
            columns.push(Arc::new(BooleanArray::from(imputed)));
            match &comp.kind {
                Kind::Banded { .. } => {
                    let a: StringArray = codes.iter().map(|&c| Some(comp.labels[c as usize].as_str())).collect();
                    columns.push(Arc::new(a));
                }
                Kind::Coded { codes: valid, .. } => {
                    // Built from options (with an all-valid null buffer), as before: same bytes.
                    let a: Int8Array = codes.iter().map(|&c| Some(valid[c as usize])).collect();
                    columns.push(Arc::new(a));
                }
            }
        }
        for c in cimp {
            columns.push(Arc::new(BooleanArray::from(c)));
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    out: &Path,
    resp_path: &Path,
    groups: &[Group],
    results: Vec<GroupResult>,
    diags: &[crate::Diagnostics],
    plan: &Plan,
    cols: &Columns,
    total_rows: usize,
    labels: (&swvr_core::questionnaire::Questionnaire, &swvr_core::labels::Provenance),
    extra_metadata: &[(String, String)],
) -> Result<(), WeightError> {
    let rep_path = swvr_core::stages::path(out, swvr_core::stages::REPLICATES);
    let rep_meta = replicate_meta(groups, &results);
    let arrow_path = swvr_core::stages::path(out, swvr_core::stages::WEIGHTED);
    let mut json = serde_json::to_string_pretty(&diags).map_err(|e| {
        WeightError::Io(swvr_core::io::IoError::Io {
            path: swvr_core::stages::path(out, swvr_core::stages::DIAGNOSTICS),
            source: std::io::Error::other(e),
        })
    })?;
    json.push('\n');

    // Each input row's group (NONE: not selected); output rows are the
    // selected rows in input order.
    let mut row_group = vec![NONE; total_rows];
    for (gi, g) in groups.iter().enumerate() {
        for &r in &g.rows {
            row_group[r as usize] = gi as u32;
        }
    }
    let mut app = Appender {
        row_group: &row_group,
        results: &results,
        cursor: vec![0; groups.len()],
        plan,
        cols,
    };

    // The keys of every row come from respondents.arrow, read again for
    // those three columns only (a few percent of the file).
    let input_schema = swvr_core::io::arrow_schema(resp_path)?;
    let mut fields: Vec<Field> = Vec::new();
    for k in swvr_core::handoff::KEY_COLUMNS {
        let f = input_schema.field_with_name(k).map_err(|e| arrow_err(resp_path, e))?;
        fields.push(f.clone());
    }
    fields.extend(added_fields(plan));
    let schema = swvr_core::io::with_version(Schema::new_with_metadata(fields, input_schema.metadata().clone()));
    let schema = swvr_core::labels::label_schema(schema, labels.0, labels.1);
    let schema = {
        let mut md = schema.metadata().clone();
        md.extend(extra_metadata.iter().cloned());
        schema.with_metadata(md)
    };
    let schema_ref = Arc::new(schema.clone());
    // replicates.arrow: the keys, rep_1 … rep_R, the replicate metadata
    // and weighted.arrow's provenance.
    let rep_schema = rep_meta.as_ref().map(|m| {
        let s = m.schema();
        let mut md = s.metadata().clone();
        for (k, v) in schema.metadata().iter() {
            if k.starts_with("swvr.") && k.as_str() != swvr_core::calibration::META_VARIANCE {
                md.insert(k.clone(), v.clone());
            }
        }
        Arc::new(s.with_metadata(md))
    });
    let mut rep_cursor = vec![0usize; groups.len()];
    // Per replicate column, per group: the replicate's factors (None past
    // the group's own replicates: padding with the full-sample weight).
    let mut rep_state: Vec<Vec<Option<replicates::Factors<'_>>>> = match &rep_meta {
        Some(m) => (0..m.count)
            .map(|r| {
                results
                    .iter()
                    .map(|res| {
                        res.replicates
                            .as_ref()
                            .filter(|g| r < g.programs.len())
                            .map(|g| replicates::Factors::replay(&g.design, &g.stratum, r, g.counts.get(r)))
                    })
                    .collect()
            })
            .collect(),
        None => Vec::new(),
    };
    let changed = || {
        arrow_err(
            resp_path,
            arrow_schema::ArrowError::InvalidArgumentError("the file changed while it was being read".into()),
        )
    };
    // Two threads: this one reads the keys and builds the output batches
    // (one per input batch that holds selected rows), the other encodes
    // and writes them (two batches in flight).
    let results_ref = &results;
    let mut build = |tx: &std::sync::mpsc::SyncSender<Result<RecordBatch, WeightError>>,
                     rtx: &std::sync::mpsc::SyncSender<Result<RecordBatch, WeightError>>|
     -> Result<(), WeightError> {
        let mut start = 0usize;
        let mut stopped = false;
        swvr_core::io::for_each_batch(
            resp_path,
            Some(&swvr_core::handoff::KEY_COLUMNS),
            |batch: RecordBatch| -> Result<(), WeightError> {
                let len = batch.num_rows();
                let end = start + len;
                if end > total_rows {
                    return Err(changed());
                }
                let sel: Vec<u32> = (start as u32..end as u32)
                    .filter(|&r| row_group[r as usize] != NONE)
                    .collect();
                if sel.is_empty() || stopped {
                    start = end;
                    return Ok(());
                }
                // Owned copies: the batch is a view into the reader's buffer.
                let idx = UInt32Array::from(sel.iter().map(|&r| r - start as u32).collect::<Vec<u32>>());
                let mut columns: Vec<ArrayRef> = batch
                    .columns()
                    .iter()
                    .map(|c| arrow_select::take::take(c.as_ref(), &idx, None))
                    .collect::<Result<_, _>>()
                    .map_err(|e| arrow_err(&arrow_path, e))?;
                if let Some(rs) = &rep_schema {
                    // (group, index in group) of each row, then one column per replicate.
                    let pos: Vec<(u32, u32)> = sel
                        .iter()
                        .map(|&r| {
                            let g = row_group[r as usize] as usize;
                            let i = rep_cursor[g];
                            rep_cursor[g] += 1;
                            (g as u32, i as u32)
                        })
                        .collect();
                    let reps: Vec<Vec<f64>> = rep_state
                        .par_iter_mut()
                        .enumerate()
                        .map(|(r, states)| {
                            pos.iter()
                                .map(|&(g, i)| {
                                    let res = &results_ref[g as usize];
                                    let i = i as usize;
                                    match (&mut states[g as usize], &res.replicates) {
                                        (Some(f), Some(reps)) => replicates::weight_of(reps, f, r, i, res.base[i]),
                                        _ => res.weight[i],
                                    }
                                })
                                .collect()
                        })
                        .collect();
                    let keys = [columns[0].clone(), columns[1].clone(), columns[2].clone()];
                    let rb = swvr_core::replicates::batch(rs, keys, reps).map_err(|e| arrow_err(&rep_path, e))?;
                    if rtx.send(Ok(rb)).is_err() {
                        stopped = true;
                    }
                }
                app.append(&mut columns, &sel);
                let out_batch =
                    RecordBatch::try_new(schema_ref.clone(), columns).map_err(|e| arrow_err(&arrow_path, e))?;
                // A closed channel: the writer stopped (and reports why).
                stopped = tx.send(Ok(out_batch)).is_err();
                start = end;
                Ok(())
            },
        )?;
        if start != total_rows {
            return Err(changed());
        }
        Ok(())
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<RecordBatch, WeightError>>(2);
    let (rtx, rrx) = std::sync::mpsc::sync_channel::<Result<RecordBatch, WeightError>>(2);
    let (path, schema) = (&arrow_path, &schema);
    let (rpath, rschema) = (&rep_path, rep_schema.clone());
    std::thread::scope(|scope| {
        let writing = scope.spawn(move || -> Result<(), WeightError> {
            let mut writer = swvr_core::io::ArrowFileWriter::create(path, schema)?;
            for batch in rx {
                writer.write(&batch?)?;
            }
            writer.finish()?;
            Ok(())
        });
        let rep_writing = scope.spawn(move || -> Result<(), WeightError> {
            let Some(rschema) = rschema else {
                return Ok(());
            };
            let mut writer = swvr_core::io::ArrowFileWriter::create(rpath, &rschema)?;
            for batch in rrx {
                writer.write(&batch?)?;
            }
            writer.finish()?;
            Ok(())
        });
        if let Err(e) = build(&tx, &rtx) {
            // Dropping the writers without finishing removes their temporary files.
            let _ = rtx.send(Err(WeightError::Io(swvr_core::io::IoError::Io {
                path: rpath.clone(),
                source: std::io::Error::other("not written: weighted.arrow failed"),
            })));
            let _ = tx.send(Err(e));
        }
        drop(tx);
        drop(rtx);
        let panicked = |p: &Path| {
            WeightError::Io(swvr_core::io::IoError::Io {
                path: p.to_path_buf(),
                source: std::io::Error::other("the writer thread panicked"),
            })
        };
        let w = writing.join().unwrap_or_else(|_| Err(panicked(path)));
        let r = rep_writing.join().unwrap_or_else(|_| Err(panicked(rpath)));
        w.and(r)
    })?;
    swvr_core::io::write_atomic(
        &swvr_core::stages::path(out, swvr_core::stages::DIAGNOSTICS),
        json.as_bytes(),
    )?;
    Ok(())
}

/// The metadata of replicates.arrow (None without replicate weights): R =
/// the most replicates of any (country, wave); a country-wave with fewer
/// has rscale 0 on the rest (padding columns hold its full-sample weight).
fn replicate_meta(groups: &[Group], results: &[GroupResult]) -> Option<swvr_core::replicates::ReplicateMeta> {
    use swvr_core::replicates::{GroupMeta, ReplicateKind, ReplicateMeta};
    let kind = results.iter().find_map(|r| r.replicates.as_ref().map(|g| g.kind))?;
    let count = results
        .iter()
        .filter_map(|r| r.replicates.as_ref().map(|g| g.programs.len()))
        .max()
        .unwrap_or(0)
        .max(1);
    let groups_meta = groups
        .iter()
        .zip(results)
        .filter_map(|(g, r)| {
            let reps = r.replicates.as_ref()?;
            let mut rscales = reps.rscales.clone();
            rscales.resize(count, 0.0);
            Some((
                (g.country.clone(), g.wave),
                GroupMeta {
                    replicates: reps.programs.len().max(1),
                    rscales,
                },
            ))
        })
        .collect();
    Some(ReplicateMeta {
        kind,
        // JKn: 1; bootstrap: 1/(R-1), R the bootstrap's replicates.
        scale: match kind {
            ReplicateKind::Jackknife => 1.0,
            ReplicateKind::Bootstrap => 1.0 / (count.max(2) - 1) as f64,
        },
        mse: false,
        count,
        groups: groups_meta,
    })
}
