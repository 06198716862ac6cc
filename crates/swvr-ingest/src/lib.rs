//! `swvr ingest`: validate a wave bundle against the questionnaire.
//!
//! Reads `DATA/respondents.csv` as a stream (a reader thread splits records
//! and finds duplicate ids, the calling thread validates values from bytes
//! and builds the output), checks every row against the questionnaire
//! definition (codes, ranges, routing both ways, keys, duplicate ids, frames
//! of design.csv) and writes, under `OUT/ingest/`:
//! - `respondents.arrow`: the accepted rows, typed
//!   ([`swvr_core::schema::respondent_schema`]), in batches of 65 536 rows;
//! - `rejects.csv`: `line,respondent_id,reasons,raw` for every rejected row;
//! - `validation.json`: counts that reconcile (see [`Report`]).
//!
//! design.csv and targets.csv are read whole and validated first
//! ([`swvr_core::bundle::read_design`], [`swvr_core::bundle::read_targets`]). Anything that makes the bundle
//! unusable is an [`IngestError`] naming file, line and column; no output
//! file of the stage is then put in place.
//!
//! ```no_run
//! use swvr_core::{groups::Selection, progress::NoProgress, questionnaire::Questionnaire};
//! let q = Questionnaire::default_2021();
//! let s = swvr_ingest::ingest("bundle".as_ref(), "out".as_ref(), &q, &Selection::default(), &NoProgress)?;
//! assert_eq!(s.rows_read, s.rows_accepted + s.rows_rejected);
//! # Ok::<(), swvr_ingest::IngestError>(())
//! ```

mod bundle;
mod error;
mod exclude;
mod ids;
mod reader;
mod report;
mod source;
mod statinput;
mod text;
mod validate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use swvr_core::bundle::{read_design, read_targets};
use swvr_core::groups::Selection;
use swvr_core::io::{ArrowFileWriter, IoError};
use swvr_core::progress::Progress;
use swvr_core::questionnaire::Questionnaire;
use swvr_core::schema::{required_columns, respondent_schema};

pub use bundle::{RESPONDENTS_FILES, respondents_file};
pub use error::IngestError;
pub use exclude::{Removal, exclude};
pub use report::{CountryCounts, Report};

use bundle::Bundle;
use reader::Fields;
use source::Source;
use text::{Int, is_iso3, parse_int, trim};
use validate::{Builders, Plan, Reason};

/// A valid (country, wave) key.
type CountryWave = ([u8; 3], i32);

/// Rows per Arrow record batch.
pub const BATCH_ROWS: usize = 1 << 16;

/// Row counts of an ingest run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Records read (inside the selection).
    pub rows_read: u64,
    /// Records accepted.
    pub rows_accepted: u64,
    /// Records rejected.
    pub rows_rejected: u64,
    /// (accepted, rejected) by country.
    pub by_country: BTreeMap<String, (u64, u64)>,
    /// Records skipped because their country or wave is outside `--country`/`--wave`.
    pub rows_outside_selection: u64,
    /// Reject reasons by kind and column (`out_of_range:Q3A`) and their
    /// occurrences, as `reasons_by_column` of validation.json.
    pub reasons: BTreeMap<String, u64>,
}

impl IngestSummary {
    /// The `n` most frequent reasons of [`IngestSummary::reasons`], most
    /// frequent first (ties in name order).
    pub fn top_reasons(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.reasons.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

/// Country bucket of rows whose country is not a valid code.
pub const INVALID_COUNTRY: &str = "(invalid)";

/// Reads `data/{respondents,design,targets}.csv`, writes `out/ingest/`.
pub fn ingest(
    data: &Path,
    out: &Path,
    q: &Questionnaire,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    let files = Bundle::find(data)?;
    let design = read_design(&files.design)?;
    let targets = read_targets(&files.targets)?;
    let design_frames: HashMap<([u8; 3], i32), [bool; 2]> = design
        .frames()
        .into_iter()
        .filter_map(|((c, w), f)| Some((c.as_bytes().try_into().ok()?, w)).map(|k| (k, f)))
        .collect();
    let target_keys: HashSet<([u8; 3], i32)> = targets
        .rows
        .iter()
        .filter_map(|t| Some((t.country.as_bytes().try_into().ok()?, t.wave)))
        .collect();

    let path = &files.respondents;
    let opened = source::open(path, Some(q))?;
    let required = required_columns(q);
    let cols = source::locate(&opened, &required, path)?;
    let extras: Vec<(usize, String)> = opened
        .names
        .iter()
        .enumerate()
        .filter(|(i, _)| !cols.contains(i))
        .map(|(i, n)| (i, n.clone()))
        .collect();
    let extra_names: Vec<String> = extras.iter().map(|(_, n)| n.clone()).collect();
    let schema = respondent_schema(q, &extra_names);
    let plan = Plan::new(q, &cols, extras, opened.names.len());
    let header_line = opened.header_line;
    let src = opened.source;

    let dir = out.join(swvr_core::stages::INGEST);
    let mut arrow = ArrowFileWriter::create(&swvr_core::stages::path(out, swvr_core::stages::RESPONDENTS), &schema)?;
    let rejects_path = swvr_core::stages::path(out, swvr_core::stages::REJECTS);
    let mut rejects = report::RejectsWriter::create(&rejects_path)?;
    let mut rep = Report::new(sel);
    rep.file = path
        .file_name()
        .map_or_else(|| "respondents.csv".into(), |n| n.to_string_lossy().into_owned());
    // Two threads in a pipeline: a reader thread re-opens the file, splits
    // records, flags duplicate ids (they depend only on each record's key,
    // in file order) and sends chunks of copied records; this thread
    // validates, builds and writes them in the order received. The work
    // and its order are the same whatever the number of cores.
    let (tx, rx) = std::sync::mpsc::sync_channel(DUP_QUEUE);
    // Used chunks go back to the reader thread for reuse (no allocation and
    // no cross-thread free per chunk).
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<reader::Chunk>(DUP_QUEUE + 2);
    let plan_ref = &plan;
    let dir_ref = &dir;
    std::thread::scope(|s| {
        s.spawn(move || read_records(src, plan_ref, sel, &tx, &back_rx));
        // A third thread turns full batches into Arrow and writes them.
        let (btx, brx) = std::sync::mpsc::sync_channel::<arrow_array::RecordBatch>(2);
        let writer = s.spawn(move || {
            for batch in brx {
                arrow.write(&batch)?;
            }
            Ok::<_, IngestError>(arrow)
        });
        let mut builders = Builders::new(&plan, schema.clone());
        let mut row = plan.new_row();
        let mut last_key: Option<(CountryWave, [bool; 2])> = None;
        let mut tally = Tally::default();
        let mut records: u64 = 0;
        let file_len = std::fs::metadata(path).map(|m| m.len()).ok();
        progress.start("ingest", file_len, swvr_core::progress::Unit::Bytes);
        let mut reported: u64 = 0;
        let mut outside = Outside::default();

        while let Some(chunk) = next_chunk(&rx)? {
            progress.advance(chunk.bytes_parsed.saturating_sub(reported));
            reported = chunk.bytes_parsed;
            for i in 0..chunk.len() {
                let rdr = chunk.record(i);
                records += 1;
                let dup = rdr.dup();
                if !sel.is_all() && !selected(sel, &rdr, &plan) {
                    rep.rows_outside_selection += 1;
                    outside.note(&rdr, &plan);
                    continue;
                }
                plan.check(&rdr, &mut row);
                if let Some(key) = row.key {
                    let frames = match last_key {
                        Some((k, f)) if k == key => f,
                        _ => {
                            let unknown = |missing_in: &Path| {
                                let (file, country, wave) =
                                    (path.clone(), String::from_utf8_lossy(&key.0).into_owned(), key.1);
                                let missing_in = missing_in.to_path_buf();
                                match header_line {
                                    Some(_) => IngestError::UnknownCountryWave {
                                        file,
                                        line: rdr.line(),
                                        country,
                                        wave,
                                        missing_in,
                                    },
                                    None => IngestError::UnknownCountryWaveRecord {
                                        file,
                                        record: rdr.line(),
                                        country,
                                        wave,
                                        missing_in,
                                    },
                                }
                            };
                            let f = *design_frames.get(&key).ok_or_else(|| unknown(&files.design))?;
                            if !target_keys.contains(&key) {
                                return Err(unknown(&files.targets));
                            }
                            last_key = Some((key, f));
                            f
                        }
                    };
                    if let Some(fr) = row.frame
                        && !frames[fr]
                    {
                        row.reasons.push(Reason::bare("frame_not_in_design"));
                    }
                    if row.id_ok && dup {
                        row.reasons.push(Reason::bare("duplicate_id"));
                    }
                }
                let country = trim(rdr.field(plan.country_col()));
                let accepted = row.reasons.is_empty();
                tally.count(&mut rep, country, accepted);
                if accepted {
                    builders
                        .push(&plan, &rdr, &row)
                        .map_err(|source| arrow_err(&dir, source))?;
                    if builders.len() == BATCH_ROWS
                        && btx
                            .send(builders.finish().map_err(|source| arrow_err(dir_ref, source))?)
                            .is_err()
                    {
                        drop(btx);
                        return Err(join_writer(writer).err().unwrap_or_else(writer_gone));
                    }
                } else {
                    rep.count_reasons(&row.reasons);
                    let id = readable_id(trim(rdr.field(plan.id_col())));
                    rejects.write(rdr.line(), id, &row.reasons, &rdr.raw())?;
                }
            }
            let mut chunk = chunk;
            chunk.clear();
            let _ = back_tx.try_send(chunk);
        }
        tally.flush(&mut rep);
        if records == 0 {
            return Err(match header_line {
                Some(line) => IngestError::NoRows {
                    file: path.clone(),
                    line,
                },
                None => IngestError::NoRecords { file: path.clone() },
            });
        }
        if rep.rows_read == 0 {
            let keys = outside.keys.iter().map(|(c, w)| (c.as_str(), *w));
            return Err(sel.nothing_selected(path, keys).into());
        }
        if builders.len() > 0
            && btx
                .send(builders.finish().map_err(|source| arrow_err(dir_ref, source))?)
                .is_err()
        {
            drop(btx);
            return Err(join_writer(writer).err().unwrap_or_else(writer_gone));
        }
        drop(btx);
        let arrow = join_writer(writer)?;
        progress.advance(file_len.unwrap_or(reported).saturating_sub(reported));
        progress.finish();
        arrow.finish()?;
        rejects.finish()?;
        Ok::<(), IngestError>(())
    })?;
    let mut json = serde_json::to_string_pretty(&rep).map_err(|e| IoError::Io {
        path: dir.join("validation.json"),
        source: e.into(),
    })?;
    json.push('\n');
    swvr_core::io::write_atomic(&dir.join("validation.json"), json.as_bytes())?;
    Ok(rep.summary())
}

/// The valid (country, wave)s of the rows outside the selection (named
/// when the selection matches nothing).
#[derive(Default)]
struct Outside {
    last: Option<(Vec<u8>, Vec<u8>)>,
    keys: std::collections::BTreeSet<(String, i32)>,
}

impl Outside {
    #[inline]
    fn note(&mut self, rdr: &impl reader::Fields, plan: &Plan) {
        let country = trim(rdr.field(plan.country_col()));
        let wave = trim(rdr.field(plan.wave_col()));
        if let Some((c, w)) = &self.last
            && c.as_slice() == country
            && w.as_slice() == wave
        {
            return;
        }
        self.last = Some((country.to_vec(), wave.to_vec()));
        if let (true, Int::Value(w)) = (is_iso3(country), parse_int(wave))
            && let (Ok(c), Ok(w)) = (std::str::from_utf8(country), i32::try_from(w))
        {
            self.keys.insert((c.to_string(), w));
        }
    }
}

/// Row counts of a run of rows with the same country text, added to the
/// report when the country changes (rows usually come grouped by country).
#[derive(Default)]
struct Tally {
    country: Vec<u8>,
    accepted: u64,
    rejected: u64,
}

impl Tally {
    #[inline]
    fn count(&mut self, rep: &mut Report, country: &[u8], accepted: bool) {
        if country != self.country.as_slice() {
            self.flush(rep);
            self.country.clear();
            self.country.extend_from_slice(country);
        }
        if accepted {
            self.accepted += 1;
        } else {
            self.rejected += 1;
        }
    }

    fn flush(&mut self, rep: &mut Report) {
        if self.accepted + self.rejected > 0 {
            rep.count_rows(country_bucket(&self.country), self.accepted, self.rejected);
        }
        self.accepted = 0;
        self.rejected = 0;
    }
}

/// Records per message of the reader thread.
const DUP_CHUNK: usize = 1 << 12;
/// Bytes per message of the reader thread (at least one record).
const DUP_CHUNK_BYTES: usize = 1 << 19;
/// Messages in flight from the reader thread.
const DUP_QUEUE: usize = 4;

type DupMessage = Result<reader::Chunk, IngestError>;

/// Reads the respondents file on its own and sends its records after the header,
/// in file order, in chunks; each record is flagged when it repeats the
/// readable (country, wave, respondent_id) key of an earlier record inside
/// the selection. Stops when the receiver is gone.
fn read_records(
    mut rdr: Source,
    plan: &Plan,
    sel: &Selection,
    tx: &std::sync::mpsc::SyncSender<DupMessage>,
    back: &std::sync::mpsc::Receiver<reader::Chunk>,
) {
    let mut seen = ids::KeySet::default();
    let mut groups: HashMap<CountryWave, u32> = HashMap::new();
    let mut last: Option<(CountryWave, u32)> = None;
    let new_chunk = || {
        back.try_recv()
            .unwrap_or_else(|_| reader::Chunk::with_capacity(DUP_CHUNK, plan.ncols()))
    };
    let mut chunk = new_chunk();
    let mut batch = ids::Batch::default();
    let mut slots: Vec<usize> = Vec::new();
    let mut fresh: Vec<bool> = Vec::new();
    let mut first_chunk = true;
    let file_len = std::fs::metadata(rdr.path()).map_or(0, |m| m.len());
    loop {
        match rdr.next() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
        // Records with a readable key wait for the chunk's batch of index
        // inserts (`slots` maps batch position to record position).
        if let Some((key, id)) = (sel.is_all() || selected(sel, &rdr, plan))
            .then(|| plan.dup_key(&rdr))
            .flatten()
        {
            let g = match last {
                Some((k, g)) if k == key => g,
                _ => {
                    let n = groups.len() as u32;
                    let g = *groups.entry(key).or_insert(n);
                    last = Some((key, g));
                    g
                }
            };
            batch.push(g, id);
            slots.push(chunk.len());
        }
        rdr.append_to(&mut chunk);
        if chunk.len() == DUP_CHUNK || chunk.bytes() >= DUP_CHUNK_BYTES {
            if first_chunk {
                // Size the index once for the whole file: rows so far scaled
                // by bytes, at most one key per (columns + 8) bytes (the
                // least a record with a readable key takes).
                first_chunk = false;
                let done = rdr.bytes_parsed().max(1);
                let by_rate = file_len.saturating_mul(chunk.len() as u64) / done;
                let by_size = file_len / (plan.ncols() as u64 + 8);
                seen.reserve(usize::try_from(by_rate.min(by_size)).unwrap_or(0) + DUP_CHUNK);
            }
            resolve(&mut seen, &mut batch, &mut slots, &mut fresh, &mut chunk);
            if tx.send(Ok(std::mem::replace(&mut chunk, new_chunk()))).is_err() {
                return;
            }
        }
    }
    resolve(&mut seen, &mut batch, &mut slots, &mut fresh, &mut chunk);
    if chunk.len() > 0 {
        let _ = tx.send(Ok(chunk));
    }
}

/// Inserts the batched keys and sets the chunk of those already seen.
fn resolve(
    seen: &mut ids::KeySet,
    batch: &mut ids::Batch,
    slots: &mut Vec<usize>,
    fresh: &mut Vec<bool>,
    chunk: &mut reader::Chunk,
) {
    seen.insert_batch(batch, fresh);
    for (&slot, &f) in slots.iter().zip(fresh.iter()) {
        chunk.set_dup(slot, !f);
    }
    batch.clear();
    slots.clear();
}

/// The next chunk of records from [`read_records`]; `None` at the end.
fn next_chunk(rx: &std::sync::mpsc::Receiver<DupMessage>) -> Result<Option<reader::Chunk>, IngestError> {
    match rx.recv() {
        Ok(Ok(c)) => Ok(Some(c)),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// The id for rejects.csv "when readable": UTF-8, at most 256 bytes, no
/// control characters (a misaligned record can put anything in that column).
fn readable_id(id: &[u8]) -> &str {
    match std::str::from_utf8(id) {
        Ok(s) if s.len() <= 256 && !s.chars().any(char::is_control) => s,
        _ => "",
    }
}

/// True when the record's country and wave text are inside the selection.
fn selected(sel: &Selection, rdr: &impl reader::Fields, plan: &Plan) -> bool {
    let country = trim(rdr.field(plan.country_col()));
    let c_ok = sel.countries().is_empty() || sel.countries().iter().any(|c| c.as_bytes() == country);
    let w_ok = sel.waves().is_empty()
        || matches!(parse_int(trim(rdr.field(plan.wave_col()))),
            Int::Value(v) if i32::try_from(v).is_ok_and(|v| sel.waves().contains(&v)));
    c_ok && w_ok
}

/// The writer thread's result (its file, still to be put in place).
fn join_writer(
    h: std::thread::ScopedJoinHandle<'_, Result<ArrowFileWriter, IngestError>>,
) -> Result<ArrowFileWriter, IngestError> {
    h.join().unwrap_or_else(|_| Err(writer_gone()))
}

/// The error when the writer thread stopped without saying why.
fn writer_gone() -> IngestError {
    IngestError::Output(IoError::Io {
        path: PathBuf::from("respondents.arrow"),
        source: std::io::Error::other("the Arrow writer thread stopped"),
    })
}

fn arrow_err(dir: &Path, source: arrow_schema::ArrowError) -> IngestError {
    IngestError::Output(IoError::Arrow {
        path: dir.join("respondents.arrow"),
        source,
    })
}

/// The country bucket of a row in validation.json: its code when valid.
pub(crate) fn country_bucket(country: &[u8]) -> &str {
    if is_iso3(country) {
        std::str::from_utf8(country).unwrap_or(INVALID_COUNTRY)
    } else {
        INVALID_COUNTRY
    }
}
