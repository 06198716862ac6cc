//! weighted.arrow and diagnostics.json.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int8Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use swvr_core::groups::Group;

use crate::{Columns, GroupResult, RakeVar, Scheme, VarSpec, WeightError};

fn arrow_err(path: &Path, source: arrow_schema::ArrowError) -> WeightError {
    WeightError::Io(swvr_core::io::IoError::Arrow {
        path: path.to_path_buf(),
        source,
    })
}

/// The fields weight appends to respondents.arrow, in order.
pub(crate) fn added_fields(scheme: &Scheme) -> Vec<Field> {
    let levels: Vec<&str> = scheme.bands.iter().map(|b| b.label.as_str()).collect();
    let mut md = HashMap::new();
    md.insert(swvr_core::LEVELS_KEY.to_string(), levels.join(","));
    let mut f = vec![
        Field::new("age_group", DataType::Utf8, true).with_metadata(md),
        Field::new("base_weight", DataType::Float64, false),
        Field::new("weight", DataType::Float64, false),
    ];
    for v in &scheme.raking.variables {
        f.push(Field::new(format!("{}_imputed", v.name()), DataType::Boolean, false));
        let ty = if *v == RakeVar::AgeGroup {
            DataType::Utf8
        } else {
            DataType::Int8
        };
        f.push(Field::new(format!("{}_weighting", v.name()), ty, false));
    }
    for c in swvr_core::schema::COUNT_COLUMNS {
        f.push(Field::new(format!("{c}_imputed"), DataType::Boolean, false));
    }
    f
}

pub(crate) fn write(
    out: &Path,
    batch: &RecordBatch,
    groups: &[Group],
    results: &[GroupResult],
    scheme: &Scheme,
    specs: &[VarSpec],
    cols: &Columns<'_>,
) -> Result<(), WeightError> {
    let dir = out.join("weight");
    let arrow_path = dir.join("weighted.arrow");
    // Output rows: the selected groups' rows in input order.
    let mut rows: Vec<u32> = groups.iter().flat_map(|g| g.rows.iter().copied()).collect();
    rows.sort_unstable();
    let all = rows.len() == batch.num_rows();
    let mut pos = vec![u32::MAX; batch.num_rows()];
    for (p, &r) in rows.iter().enumerate() {
        pos[r as usize] = p as u32;
    }
    let m = rows.len();
    let mut base = vec![0.0; m];
    let mut weight = vec![0.0; m];
    let nv = specs.len();
    let mut codes = vec![vec![0u8; m]; nv];
    let mut imputed = vec![vec![false; m]; nv];
    let mut cimp = [vec![false; m], vec![false; m], vec![false; m]];
    for (g, res) in groups.iter().zip(results) {
        for (i, &r) in g.rows.iter().enumerate() {
            let p = pos[r as usize] as usize;
            base[p] = res.base[i];
            weight[p] = res.weight[i];
            for k in 0..nv {
                codes[k][p] = res.codes[k][i];
                imputed[k][p] = res.imputed[k][i];
            }
            for (dst, src) in cimp.iter_mut().zip(&res.counts_imputed) {
                dst[p] = src[i];
            }
        }
    }
    // Band of the reported age; DK/refused codes (998, 999) lie outside
    // the questionnaire's age range and give null.
    let age_group: StringArray = rows
        .iter()
        .map(|&r| {
            let age = cols.age.value(r as usize);
            (crate::scheme::AGE_MIN..=crate::scheme::AGE_MAX)
                .contains(&age)
                .then(|| scheme.band_of(age).map(|b| scheme.bands[b].label.as_str()))
                .flatten()
        })
        .collect();

    let base_cols: Vec<ArrayRef> = if all {
        batch.columns().to_vec()
    } else {
        let idx = UInt32Array::from(rows.clone());
        batch
            .columns()
            .iter()
            .map(|c| arrow_select::take::take(c.as_ref(), &idx, None))
            .collect::<Result<_, _>>()
            .map_err(|e| arrow_err(&arrow_path, e))?
    };
    let mut columns = base_cols;
    columns.push(Arc::new(age_group));
    columns.push(Arc::new(Float64Array::from(base)));
    columns.push(Arc::new(Float64Array::from(weight)));
    for (k, spec) in specs.iter().enumerate() {
        columns.push(Arc::new(BooleanArray::from(std::mem::take(&mut imputed[k]))));
        if spec.var == RakeVar::AgeGroup {
            let a: StringArray = codes[k]
                .iter()
                .map(|&c| Some(spec.labels[c as usize].as_str()))
                .collect();
            columns.push(Arc::new(a));
        } else {
            let a: Int8Array = codes[k].iter().map(|&c| Some(spec.codes[c as usize])).collect();
            columns.push(Arc::new(a));
        }
    }
    for c in cimp {
        columns.push(Arc::new(BooleanArray::from(c)));
    }
    let input_schema = batch.schema();
    let mut fields: Vec<Field> = input_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(added_fields(scheme));
    let schema = swvr_core::io::with_version(Schema::new_with_metadata(fields, input_schema.metadata().clone()));
    let out_batch = RecordBatch::try_new(Arc::new(schema.clone()), columns).map_err(|e| arrow_err(&arrow_path, e))?;

    let diags: Vec<&crate::Diagnostics> = results.iter().map(|r| &r.diagnostics).collect();
    let mut json = serde_json::to_string_pretty(&diags).map_err(|e| {
        WeightError::Io(swvr_core::io::IoError::Io {
            path: dir.join("diagnostics.json"),
            source: std::io::Error::other(e),
        })
    })?;
    json.push('\n');
    swvr_core::io::write_arrow(&arrow_path, &schema, &[out_batch])?;
    swvr_core::io::write_atomic(&dir.join("diagnostics.json"), json.as_bytes())?;
    Ok(())
}
