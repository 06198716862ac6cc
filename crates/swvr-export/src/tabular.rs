//! Parquet, CSV and Excel copies of an Arrow batch (weighted microdata,
//! tables, odds ratios), column for column.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet};
use swvr_core::io::AtomicFile;

use crate::ExportError;
use crate::Micro;
use crate::dict::{Col, cols_of};
use crate::numfmt::NumFmt;

/// Rows per Parquet row group.
const ROW_GROUP: usize = 256 * 1024;

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |source| {
        ExportError::Io(swvr_core::io::IoError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes the rows of `m` as Parquet (Snappy, the Arrow `schema` with its
/// metadata stored in the file so pyarrow and polars restore labels and
/// types), one row group of [`ROW_GROUP`] rows at a time: the batches are
/// gathered into a row group's rows first, so the bytes do not depend on
/// how the input was cut into batches.
pub(crate) fn write_parquet(path: &Path, schema: SchemaRef, m: &Micro<'_>) -> Result<(), ExportError> {
    let perr = |e: parquet::errors::ParquetError| ExportError::Format {
        path: path.to_path_buf(),
        message: format!("Parquet: {e}"),
    };
    let aerr = |e: arrow_schema::ArrowError| ExportError::Format {
        path: path.to_path_buf(),
        message: format!("Arrow: {e}"),
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_created_by(format!("swvr {}", env!("CARGO_PKG_VERSION")))
        .build();
    let file = AtomicFile::create(path)?;
    // ArrowWriter sets up the file (schema, properties, the Arrow schema in
    // the metadata); its column writers then encode each row group's
    // columns in parallel, appended in column order: the bytes ArrowWriter
    // itself writes, column for column.
    let (mut writer, factory) = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .and_then(|w| w.into_serialized_writer())
        .map_err(perr)?;
    let mut groups = 0usize;
    let mut flush = |pending: &mut Vec<RecordBatch>| -> Result<(), ExportError> {
        if pending.is_empty() {
            return Ok(());
        }
        let group = arrow_select::concat::concat_batches(&schema, pending.iter()).map_err(aerr)?;
        pending.clear();
        let columns = factory.create_column_writers(groups).map_err(perr)?;
        let mut leaves = Vec::with_capacity(columns.len());
        for (field, col) in schema.fields().iter().zip(group.columns()) {
            leaves.extend(compute_leaves(field, col).map_err(perr)?);
        }
        let chunks: Vec<Result<ArrowColumnChunk, parquet::errors::ParquetError>> = columns
            .into_par_iter()
            .zip(leaves.into_par_iter())
            .map(|(mut w, leaf)| {
                w.write(&leaf)?;
                w.close()
            })
            .collect();
        let mut rg = writer.next_row_group().map_err(perr)?;
        for chunk in chunks {
            chunk.map_err(perr)?.append_to_row_group(&mut rg).map_err(perr)?;
        }
        rg.close().map_err(perr)?;
        groups += 1;
        Ok(())
    };
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0usize;
    m.walk(|b| {
        let mut b = RecordBatch::try_new(schema.clone(), b.columns().to_vec()).map_err(aerr)?;
        while b.num_rows() > 0 {
            let take = (ROW_GROUP - pending_rows).min(b.num_rows());
            pending.push(b.slice(0, take));
            pending_rows += take;
            b = b.slice(take, b.num_rows() - take);
            if pending_rows == ROW_GROUP {
                flush(&mut pending)?;
                pending_rows = 0;
            }
        }
        Ok(())
    })?;
    flush(&mut pending)?;
    let file = writer.into_inner().map_err(perr)?;
    file.commit()?;
    Ok(())
}

/// Writes the rows of `m` as CSV: a header row, RFC 4180 quoting (a field
/// with a comma, quote or line break is quoted, quotes doubled), empty =
/// null, floats in shortest round-trip notation, booleans `true`/`false`.
/// Chunks of rows are formatted in parallel, column by column, and written
/// in order.
pub(crate) fn write_csv(path: &Path, m: &Micro<'_>) -> Result<(), ExportError> {
    let schema = m.schema().clone();
    for f in schema.fields() {
        crate::dict::kind_of(f.data_type()).map_err(|message| ExportError::Input {
            path: path.to_path_buf(),
            message: format!("column `{}`: {message}", f.name()),
        })?;
    }
    let mut file = AtomicFile::create(path)?;
    let mut head = Vec::new();
    for (j, f) in schema.fields().iter().enumerate() {
        if j > 0 {
            head.push(b',');
        }
        csv_field(&mut head, f.name());
    }
    head.push(b'\n');
    file.write_all(&head).map_err(io_err(path))?;
    m.walk(|batch| {
        let cols = cols_of(&batch, path)?;
        let encode = |s: usize, e: usize| -> Vec<u8> { csv_rows(&cols, s, e) };
        crate::chunks::for_each_chunk(batch.num_rows(), encode, |buf| {
            file.write_all(&buf).map_err(io_err(path))
        })
    })?;
    file.commit()?;
    Ok(())
}

/// Rows `s..e` of `cols` as CSV lines, written row by row straight into
/// the chunk's buffer.
fn csv_rows(cols: &[Col<'_>], s: usize, e: usize) -> Vec<u8> {
    let mut nf = NumFmt::default();
    let mut out: Vec<u8> = Vec::with_capacity((e - s) * (cols.len() * 4 + 64));
    for row in s..e {
        for (j, c) in cols.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            match c {
                Col::Str(_) => csv_field(&mut out, c.text(row)),
                Col::Bool(_) => {
                    if let Some(v) = c.int(row) {
                        out.extend_from_slice(if v == 1 { b"true" } else { b"false" });
                    }
                }
                Col::Int(a) => {
                    if let Some(v) = a.get(row) {
                        nf.push_i64(&mut out, v);
                    }
                }
                Col::Float(a) => {
                    if a.is_valid(row) {
                        nf.push_f64(&mut out, a.value(row));
                    }
                }
            }
        }
        out.push(b'\n');
    }
    out
}

#[inline]
fn csv_field(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// A workbook whose bytes do not depend on the clock.
pub(crate) fn workbook() -> Result<Workbook, rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let date = ExcelDateTime::from_ymd(2000, 1, 1)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&date).set_author("swvr"));
    Ok(wb)
}

pub(crate) fn xerr(path: &Path) -> impl Fn(rust_xlsxwriter::XlsxError) -> ExportError + '_ {
    move |e| ExportError::Format {
        path: path.to_path_buf(),
        message: format!("Excel: {e}"),
    }
}

/// Excel number format of a column by name: shares and their errors with
/// four decimals, design effects two, counts as integers.
fn num_format(name: &str, col: &Col<'_>) -> &'static str {
    match (name, col) {
        (_, Col::Int(_)) => "0",
        ("deff", _) => "0.00",
        ("p_value", _) => "0.0000",
        _ => "0.0000",
    }
}

/// Writes one sheet per batch: a bold, frozen header row; numbers as
/// numbers with a number format; null as an empty cell. No formulas.
pub(crate) fn write_xlsx(path: &Path, sheets: &[(&str, &RecordBatch)]) -> Result<(), ExportError> {
    let mut wb = workbook().map_err(xerr(path))?;
    let bold = Format::new().set_bold();
    for (name, batch) in sheets {
        if batch.num_rows() >= 1_048_576 {
            return Err(ExportError::Format {
                path: path.to_path_buf(),
                message: format!("{} rows do not fit in one Excel sheet", batch.num_rows()),
            });
        }
        let cols = cols_of(batch, path)?;
        let ws: &mut Worksheet = wb.add_worksheet();
        ws.set_name(*name).map_err(xerr(path))?;
        let schema = batch.schema();
        let formats: Vec<Format> = schema
            .fields()
            .iter()
            .zip(&cols)
            .map(|(f, c)| Format::new().set_num_format(num_format(f.name(), c)))
            .collect();
        for (j, f) in schema.fields().iter().enumerate() {
            ws.write_string_with_format(0, j as u16, f.name(), &bold)
                .map_err(xerr(path))?;
            ws.set_column_width(j as u16, (f.name().len() as f64 + 2.0).max(10.0))
                .map_err(xerr(path))?;
        }
        ws.set_freeze_panes(1, 0).map_err(xerr(path))?;
        for row in 0..batch.num_rows() {
            let r = row as u32 + 1;
            for (j, c) in cols.iter().enumerate() {
                let j = j as u16;
                match c {
                    Col::Str(_) => {
                        ws.write_string(r, j, c.text(row)).map_err(xerr(path))?;
                    }
                    Col::Bool(_) => {
                        if let Some(v) = c.int(row) {
                            ws.write_boolean(r, j, v == 1).map_err(xerr(path))?;
                        }
                    }
                    Col::Int(_) | Col::Float(_) => {
                        if let Some(v) = c.num(row).filter(|v| v.is_finite()) {
                            ws.write_number_with_format(r, j, v, &formats[j as usize])
                                .map_err(xerr(path))?;
                        }
                    }
                }
            }
        }
    }
    save(path, &mut wb)
}

pub(crate) fn save(path: &Path, wb: &mut Workbook) -> Result<(), ExportError> {
    let bytes = wb.save_to_buffer().map_err(xerr(path))?;
    let mut f = AtomicFile::create(path)?;
    f.write_all(&bytes).map_err(io_err(path))?;
    f.commit()?;
    Ok(())
}

/// `batch` with a labelled schema (same columns).
pub(crate) fn relabel(batch: &RecordBatch, schema: arrow_schema::Schema) -> Result<RecordBatch, ExportError> {
    RecordBatch::try_new(Arc::new(schema), batch.columns().to_vec()).map_err(|e| ExportError::Format {
        path: std::path::PathBuf::new(),
        message: format!("Arrow: {e}"),
    })
}
