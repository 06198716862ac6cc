//! Removal of accepted interviews after ingest (the fieldwork stage's
//! `exclude` option): the rows leave `respondents.arrow`, join `rejects.csv`
//! with their reasons and physical lines, and `validation.json` moves them
//! from accepted to rejected, so `rows_read = rows_accepted + rows_rejected`
//! still holds and every removed interview is accounted for.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{BooleanArray, Int32Array, RecordBatch, StringArray};
use swvr_core::io::{AtomicFile, IoError, column, read_arrow, write_arrow};
use swvr_core::questionnaire::Questionnaire;

use crate::bundle::Bundle;
use crate::reader::Fields;
use crate::report::Report;
use crate::text::{escape_raw, trim};
use crate::{BATCH_ROWS, IngestError};

/// An accepted interview to remove, with its reasons (`kind:detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Respondent id.
    pub respondent_id: String,
    /// Reasons as written in rejects.csv (`fieldwork_duplicate:of=BOL-000012`).
    pub reasons: Vec<String>,
}

/// Removes `removals` from the ingest outputs under `out/ingest/`, finding
/// each one's line (record number) and raw record in the bundle's
/// respondents file (read with questionnaire `q`, as ingest read it). Returns the
/// number of rows removed. Rows are appended to rejects.csv after ingest's
/// own rejects, in line order.
pub fn exclude(data: &Path, out: &Path, q: &Questionnaire, removals: &[Removal]) -> Result<u64, IngestError> {
    if removals.is_empty() {
        return Ok(0);
    }
    let dir = out.join("ingest");
    let arrow_path = dir.join("respondents.arrow");
    let rejects_path = dir.join("rejects.csv");
    let json_path = dir.join("validation.json");
    let wanted: HashMap<(&str, i32, &str), usize> = removals
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.country.as_str(), r.wave, r.respondent_id.as_str()), i))
        .collect();

    // Lines already rejected by ingest (a repeated id's accepted record is the one not rejected).
    let old_rejects = std::fs::read(&rejects_path).map_err(|source| IngestError::Read {
        file: rejects_path.clone(),
        source,
    })?;
    let mut rejected_lines: HashSet<u64> = HashSet::new();
    let mut rdr = csv::ReaderBuilder::new().from_reader(&old_rejects[..]);
    for rec in rdr.byte_records().flatten() {
        if let Some(line) = rec.get(0).and_then(|b| std::str::from_utf8(b).ok()?.parse().ok()) {
            rejected_lines.insert(line);
        }
    }

    // Line (record number) and raw record of each removal.
    let files = Bundle::find(data)?;
    let path = &files.respondents;
    let opened = crate::source::open(path, Some(q))?;
    let cols = crate::source::locate(&opened, &["country", "wave", "respondent_id"], path)?;
    let mut rdr = opened.source;
    let mut found: Vec<Option<(u64, String)>> = vec![None; removals.len()];
    let mut left = removals.len();
    while left > 0 && rdr.next()? {
        let line = rdr.line();
        if rejected_lines.contains(&line) {
            continue;
        }
        let c = std::str::from_utf8(trim(rdr.field(cols[0]))).unwrap_or("");
        let w = std::str::from_utf8(trim(rdr.field(cols[1])))
            .ok()
            .and_then(|w| w.parse::<i32>().ok());
        let id = std::str::from_utf8(trim(rdr.field(cols[2]))).unwrap_or("");
        if let Some(w) = w
            && let Some(&i) = wanted.get(&(c, w, id))
            && found[i].is_none()
        {
            let mut raw = String::new();
            escape_raw(&rdr.raw(), &mut raw);
            found[i] = Some((line, raw));
            left -= 1;
        }
    }
    let mut rows: Vec<(u64, String, &Removal)> = Vec::with_capacity(removals.len());
    for (r, f) in removals.iter().zip(found) {
        let Some((line, raw)) = f else {
            return Err(IngestError::Value {
                file: path.clone(),
                line: 0,
                column: "respondent_id".into(),
                value: format!("{} {} {}", r.country, r.wave, r.respondent_id),
                expected:
                    "the accepted record of an interview to exclude (was the respondents file changed after ingest?)"
                        .into(),
            });
        };
        rows.push((line, raw, r));
    }
    rows.sort_by_key(|r| r.0);

    // respondents.arrow without the removed rows.
    let batch = read_arrow(&arrow_path)?;
    let country = column::<StringArray>(&batch, "country", &arrow_path)?;
    let wave = column::<Int32Array>(&batch, "wave", &arrow_path)?;
    let ids = column::<StringArray>(&batch, "respondent_id", &arrow_path)?;
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|i| Some(!wanted.contains_key(&(country.value(i), wave.value(i), ids.value(i)))))
        .collect();
    let removed = keep.false_count();
    let arrow = |source| IoError::Arrow {
        path: arrow_path.clone(),
        source,
    };
    let kept = arrow_select::filter::filter_record_batch(&batch, &keep).map_err(arrow)?;
    drop(batch);
    let schema = kept.schema();
    let batches: Vec<RecordBatch> = (0..kept.num_rows())
        .step_by(BATCH_ROWS)
        .map(|s| kept.slice(s, BATCH_ROWS.min(kept.num_rows() - s)))
        .collect();
    if removed != removals.len() {
        return Err(IngestError::Value {
            file: arrow_path.clone(),
            line: 0,
            column: "respondent_id".into(),
            value: format!("{removed} rows"),
            expected: format!("{} accepted rows to exclude", removals.len()),
        });
    }

    // rejects.csv: ingest's rejects, then the removed rows.
    let mut file = AtomicFile::create(&rejects_path)?;
    let io = |source: std::io::Error| IoError::Io {
        path: rejects_path.clone(),
        source,
    };
    file.write_all(&old_rejects).map_err(io)?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(file);
    for (line, raw, r) in &rows {
        w.write_record([line.to_string().as_str(), &r.respondent_id, &r.reasons.join(";"), raw])
            .map_err(|e| io(std::io::Error::other(e)))?;
    }
    let file = w.into_inner().map_err(|e| io(std::io::Error::other(e.to_string())))?;

    // validation.json: from accepted to rejected, reasons counted.
    let text = std::fs::read_to_string(&json_path).map_err(|source| IngestError::Read {
        file: json_path.clone(),
        source,
    })?;
    let mut rep: Report = serde_json::from_str(&text).map_err(|e| IngestError::Value {
        file: json_path.clone(),
        line: e.line() as u64,
        column: "(json)".into(),
        value: e.to_string(),
        expected: "ingest's validation.json".into(),
    })?;
    for (_, _, r) in &rows {
        let n = 1;
        rep.rows_accepted -= n;
        rep.rows_rejected += n;
        let c = rep.by_country.entry(r.country.clone()).or_default();
        c.rows_accepted -= n;
        c.rows_rejected += n;
        let mut kinds: Vec<&str> = Vec::new();
        for reason in &r.reasons {
            let kind = reason.split(':').next().unwrap_or(reason);
            *rep.reasons.entry(kind.to_string()).or_default() += 1;
            *rep.reasons_by_column.entry(kind.to_string()).or_default() += 1;
            if !kinds.contains(&kind) {
                kinds.push(kind);
                *rep.rejected_rows_by_reason.entry(kind.to_string()).or_default() += 1;
            }
        }
    }
    let mut json = serde_json::to_string_pretty(&rep).map_err(|e| IoError::Io {
        path: json_path.clone(),
        source: e.into(),
    })?;
    json.push('\n');

    // Commit: the three files (each atomic).
    write_arrow(&arrow_path, &Arc::clone(&schema), &batches)?;
    file.commit()?;
    swvr_core::io::write_atomic(&json_path, json.as_bytes())?;
    Ok(removed as u64)
}
