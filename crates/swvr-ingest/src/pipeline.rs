//! The parallel pipeline of [`crate::ingest`].
//!
//! - A reader thread cuts the respondents file into *units* of whole
//!   records ([`UNIT_RECORDS`] records, or the last boundary within
//!   [`UNIT_BYTES`]; cut after a line break outside quotes; or 4 096
//!   rendered records of a statistical file) and numbers them.
//! - Worker threads (as many as rayon's thread count, `RAYON_NUM_THREADS`)
//!   each take a unit, split its records, validate every record (a unit
//!   without quotes column by column, [`crate::columnar`], leaving every
//!   record it does not accept to [`Plan::check`], the one row-wise
//!   validation; other units row by row), build the Arrow columns of the
//!   accepted rows and hash the duplicate keys. Lines are counted from the
//!   unit's first byte.
//! - The calling thread takes the units back **in file order**: it adds the
//!   unit's line offset to every line, finds duplicate ids (an exact set
//!   filled in file order, so the first record of a key claims it), turns
//!   accepted duplicates into rejects, writes rejects.csv and counts the
//!   report.
//! - A writer thread writes the accepted rows in batches of exactly
//!   [`BATCH_ROWS`] rows (a unit without rejects is one; other rows are
//!   regrouped).
//!
//! Every decision that depends on earlier records is taken in file order by
//! one thread, and the batches are cut by row count, so the outputs are the
//! same bytes whatever the number of threads and wherever units are cut
//! (tested by cutting small inputs at every byte).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use arrow_array::{BooleanArray, RecordBatch, make_array};
use arrow_data::transform::MutableArrayData;
use arrow_schema::{ArrowError, SchemaRef};
use swvr_core::groups::Selection;
use swvr_core::io::ArrowFileWriter;
use swvr_core::progress::Progress;

use crate::columnar::{Scratch, Split};
use crate::reader::{Fields, LimitError, RecordReader};
use crate::report::{RejectsWriter, Report};
use crate::source::{Feed, FeedError, Input};
use crate::text::trim;
use crate::validate::{Builders, Plan, Reason, Row};
use crate::{BATCH_ROWS, CountryWave, IngestError, Outside, arrow_err, country_bucket, ids, readable_id, selected};

/// Bytes of CSV per unit at most (a unit ends earlier after
/// [`UNIT_RECORDS`] records).
pub(crate) const UNIT_BYTES: usize = 8 << 20;

/// Records per unit: a unit without rejects is one whole Arrow batch of
/// [`BATCH_ROWS`] rows, written as the worker built it (no regrouping copy).
pub(crate) const UNIT_RECORDS: usize = BATCH_ROWS;

/// How the input is cut and how many workers validate it (tests cut tiny
/// units to split records everywhere; the outputs never depend on either).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// Target bytes per unit.
    pub unit_bytes: usize,
    /// Records per unit (`usize::MAX`: cut by bytes only).
    pub unit_records: usize,
    /// Units without quotes take the column-wise fast path (tests turn it
    /// off to compare it with the row-wise validation alone).
    pub columnar: bool,
    /// Worker threads.
    pub workers: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            unit_bytes: UNIT_BYTES,
            unit_records: UNIT_RECORDS,
            columnar: true,
            workers: rayon::current_num_threads().max(1),
        }
    }
}

/// What the workers share.
pub(crate) struct Ctx<'a> {
    pub plan: &'a Plan,
    pub sel: &'a Selection,
    pub schema: SchemaRef,
    pub design_frames: &'a HashMap<CountryWave, [bool; 2]>,
    pub target_keys: &'a HashSet<CountryWave>,
    /// The respondents file, design.csv, targets.csv.
    pub path: &'a Path,
    pub design: &'a Path,
    pub targets: &'a Path,
    /// CSV (lines) rather than a statistical file (record numbers).
    pub csv: bool,
    /// The output folder (for messages).
    pub dir: &'a Path,
    /// The records an SPSS or Stata file says it holds (sizes the
    /// duplicate index; a .zsav's compressed size says little about it).
    pub records_hint: Option<u64>,
}

/// Why a unit failed; lines count from the unit's first byte.
enum Fail {
    File(IngestError),
    Limit(LimitError),
    Unknown {
        line: u64,
        key: CountryWave,
        missing_in_targets: bool,
    },
    Arrow(ArrowError),
}

/// Where a record's raw bytes are.
#[derive(Clone, Copy)]
enum RawRef {
    /// A byte range of the CSV unit.
    Bytes(usize, usize),
    /// Record `i` of a statistical file's unit (rendered when needed).
    Record(usize),
}

/// A rejected record of a unit.
struct Rejected {
    rec: usize,
    line: u64,
    id: String,
    reasons: Vec<Reason>,
    raw: Vec<u8>,
}

/// A record with a readable key, in the order of the unit's key batch.
struct Keyed {
    rec: usize,
    line: u64,
    raw: RawRef,
    /// Its row in the unit's batch when accepted, else its index in `rejects`.
    accepted: bool,
    index: usize,
}

/// What a worker made of a unit.
#[derive(Default)]
struct UnitOut {
    records: u64,
    outside: u64,
    outside_keys: Outside,
    /// Runs of records with the same country text: (country, accepted, rejected).
    tally: Vec<(Vec<u8>, u64, u64)>,
    rejects: Vec<Rejected>,
    ids: ids::Batch,
    keyed: Vec<Keyed>,
    batch: Option<RecordBatch>,
    line_breaks: u64,
}

impl UnitOut {
    /// Empties the unit's results (their memory is kept for the next unit).
    fn clear(&mut self) {
        self.records = 0;
        self.outside = 0;
        self.outside_keys = Outside::default();
        self.tally.clear();
        self.rejects.clear();
        self.ids.clear();
        self.keyed.clear();
        self.batch = None;
        self.line_breaks = 0;
    }
}

/// A unit's input and its results: allocated a few times, then recycled
/// (reader → worker → calling thread → reader), so that memory neither
/// grows nor is touched afresh for each unit.
struct Slot {
    input: Input,
    out: UnitOut,
}

/// A unit back from a worker (or the reader's failure in its place).
struct Done {
    seq: u64,
    bytes_parsed: u64,
    res: Result<(), Fail>,
    slot: Option<Slot>,
}

/// Records read and the valid keys of records outside the selection.
pub(crate) struct Outcome {
    pub records: u64,
    pub outside: Outside,
}

/// Runs the pipeline over `feed` (whose first unit starts after `newlines`
/// line breaks); returns the Arrow writer with every batch written.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    ctx: &Ctx,
    feed: Feed,
    newlines: u64,
    tuning: Tuning,
    arrow: ArrowFileWriter,
    rejects: &mut RejectsWriter,
    rep: &mut Report,
    progress: &dyn Progress,
    file_len: Option<u64>,
) -> Result<(Outcome, ArrowFileWriter), IngestError> {
    let workers = tuning.workers.max(1);
    let columnar = tuning.columnar;
    let max_units = 2 * workers + 2;
    std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<(u64, u64, Slot)>(workers);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<Done>(max_units);
        let (pool_tx, pool_rx) = sync_channel::<Slot>(max_units);
        {
            let done_tx = done_tx.clone();
            s.spawn(move || {
                read_units(
                    feed,
                    tuning.unit_bytes,
                    tuning.unit_records,
                    max_units,
                    ctx.path,
                    &work_tx,
                    &done_tx,
                    &pool_rx,
                )
            });
        }
        for _ in 0..workers {
            let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
            s.spawn(move || work(ctx, columnar, &work_rx, &done_tx));
        }
        drop(done_tx);
        let (btx, brx) = sync_channel::<RecordBatch>(2);
        let schema = ctx.schema.clone();
        let writer = s.spawn(move || write_batches(brx, arrow, &schema));

        let mut merge = Merge {
            ctx,
            seen: ids::KeySet::default(),
            fresh: Vec::new(),
            base: newlines,
            records: 0,
            outside: Outside::default(),
            reserved: false,
            file_len: file_len.unwrap_or(0),
        };
        let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next = 0u64;
        let mut reported = 0u64;
        loop {
            let done = match waiting.remove(&next) {
                Some(d) => d,
                None => match done_rx.recv() {
                    Ok(d) if d.seq == next => d,
                    Ok(d) => {
                        waiting.insert(d.seq, d);
                        continue;
                    }
                    Err(_) => break,
                },
            };
            next += 1;
            progress.advance(done.bytes_parsed.saturating_sub(reported));
            reported = reported.max(done.bytes_parsed);
            done.res.map_err(|f| merge.error(f))?;
            let Some(mut slot) = done.slot else {
                continue;
            };
            if let Some(batch) = merge.unit(&mut slot.out, &slot.input, rejects, rep)?
                && btx.send(batch).is_err()
            {
                drop(btx);
                return Err(join_writer(writer).err().unwrap_or_else(crate::writer_gone));
            }
            slot.out.clear();
            let _ = pool_tx.try_send(slot);
        }
        drop(btx);
        let arrow = join_writer(writer)?;
        progress.advance(file_len.unwrap_or(reported).saturating_sub(reported));
        Ok((
            Outcome {
                records: merge.records,
                outside: merge.outside,
            },
            arrow,
        ))
    })
}

/// The reader thread: numbered units to the workers, or its failure in
/// the unit's place. At most `max_units` buffers exist at once (they come
/// back through `pool`), so memory does not follow the file.
#[allow(clippy::too_many_arguments)]
fn read_units(
    mut feed: Feed,
    unit_bytes: usize,
    unit_records: usize,
    max_units: usize,
    path: &Path,
    work: &SyncSender<(u64, u64, Slot)>,
    done: &SyncSender<Done>,
    pool: &Receiver<Slot>,
) {
    let mut made = 0;
    for seq in 0u64.. {
        let mut slot = match pool.try_recv() {
            Ok(s) => s,
            Err(_) if made < max_units => {
                made += 1;
                Slot {
                    input: Input::Csv(Vec::new()),
                    out: UnitOut::default(),
                }
            }
            Err(_) => match pool.recv() {
                Ok(s) => s,
                Err(_) => return,
            },
        };
        match feed.next(&mut slot.input, unit_bytes, unit_records, path) {
            Ok(Some(bytes_parsed)) => {
                if work.send((seq, bytes_parsed, slot)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let fail = match e {
                    FeedError::File(e) => Fail::File(e),
                    FeedError::Limit(l) => Fail::Limit(l),
                };
                let _ = done.send(Done {
                    seq,
                    bytes_parsed: 0,
                    res: Err(fail),
                    slot: None,
                });
                return;
            }
        }
    }
}

/// A worker thread: units in, validated units out.
fn work(ctx: &Ctx, columnar: bool, units: &Mutex<Receiver<(u64, u64, Slot)>>, done: &SyncSender<Done>) {
    let mut w = Worker {
        ctx,
        builders: Builders::new(ctx.plan, ctx.schema.clone()),
        row: ctx.plan.new_row(),
        last: None,
        columnar,
        split: Split::default(),
        scratch: Scratch::default(),
        keep: Vec::new(),
    };
    loop {
        let next = match units.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((seq, bytes_parsed, mut slot)) = next else {
            return;
        };
        let res = w.unit(&mut slot);
        let msg = Done {
            seq,
            bytes_parsed,
            res,
            slot: Some(slot),
        };
        if done.send(msg).is_err() {
            return;
        }
    }
}

/// A worker's state, kept from unit to unit.
struct Worker<'a> {
    ctx: &'a Ctx<'a>,
    builders: Builders,
    row: Row,
    /// The last (country, wave) looked up in design.csv, and its frames.
    last: Option<(CountryWave, [bool; 2])>,
    /// Units without quotes go through [`Worker::fast_unit`].
    columnar: bool,
    /// The fast path's split records, column values and accepted records.
    split: Split,
    scratch: Scratch,
    keep: Vec<bool>,
}

impl Worker<'_> {
    /// Validates every record of a unit into `slot.out`.
    fn unit(&mut self, slot: &mut Slot) -> Result<(), Fail> {
        let out = &mut slot.out;
        match &mut slot.input {
            Input::Csv(buf) if self.columnar && self.ctx.sel.is_all() && memchr::memchr(b'"', buf).is_none() => {
                self.fast_unit(out, buf)?;
            }
            Input::Csv(buf) => {
                let mut rdr = RecordReader::unit(std::mem::take(buf));
                let mut i = 0;
                let res = loop {
                    match rdr.next_record() {
                        Ok(true) => {}
                        Ok(false) => break Ok(()),
                        Err(e) => {
                            break Err(match e.get_ref().and_then(|x| x.downcast_ref::<LimitError>()) {
                                Some(l) => Fail::Limit(l.clone()),
                                None => Fail::File(IngestError::read(self.ctx.path, e)),
                            });
                        }
                    }
                    let (s, e) = rdr.raw_range();
                    if let Err(f) = self.record(out, &rdr, i, rdr.line(), RawRef::Bytes(s, e), || rdr.raw().to_vec()) {
                        break Err(f);
                    }
                    i += 1;
                };
                out.line_breaks = rdr.line_breaks_total();
                *buf = rdr.into_buf();
                res?;
            }
            Input::Stat(chunk) => {
                for i in 0..chunk.len() {
                    let r = chunk.record(i);
                    self.record(out, &r, i, r.line(), RawRef::Record(i), || r.raw().into_owned())?;
                }
            }
        }
        if self.builders.len() > 0 {
            out.batch = Some(self.builders.finish().map_err(Fail::Arrow)?);
        }
        Ok(())
    }

    /// The fast path of a unit without quotes (and no `--country` or
    /// `--wave`): records split in one pass, checked column by column; a
    /// record the columns do not accept goes through [`Plan::check`].
    fn fast_unit(&mut self, out: &mut UnitOut, buf: &[u8]) -> Result<(), Fail> {
        let Worker {
            ctx,
            builders,
            row,
            last,
            split,
            scratch,
            keep,
            ..
        } = self;
        let plan = ctx.plan;
        split.split(buf);
        scratch.check(plan, split, buf);
        let n = split.recs.len();
        keep.clear();
        keep.resize(n, false);
        let mut kept = 0;
        for (r, k) in keep.iter_mut().enumerate() {
            let rec = split.rec(buf, r);
            out.records += 1;
            if scratch.ok[r] {
                row.reasons.clear();
                let c = trim(rec.field(plan.country_col()));
                row.key = Some(([c[0], c[1], c[2]], scratch.wave[r]));
                row.frame = Some(usize::from(scratch.frame[r]));
                row.id_ok = true;
            } else {
                plan.check(&rec, row);
            }
            let (s, e) = rec.raw_range();
            let raw = RawRef::Bytes(s, e);
            if settle(
                ctx,
                last,
                out,
                &rec,
                r,
                rec.line(),
                raw,
                || buf[s..e].to_vec(),
                row,
                kept,
            )? {
                if !scratch.ok[r] {
                    scratch.set_row(r, row);
                }
                builders.push_text(plan, &rec).map_err(Fail::Arrow)?;
                *k = true;
                kept += 1;
            }
        }
        builders.extend_columns(scratch, keep, kept);
        if let Some(l) = split.fail.take() {
            return Err(Fail::Limit(l));
        }
        out.line_breaks = split.line_breaks;
        Ok(())
    }

    /// Validates one record (record `i` of its unit).
    #[inline]
    fn record<F: Fields>(
        &mut self,
        out: &mut UnitOut,
        rec: &F,
        i: usize,
        line: u64,
        raw: RawRef,
        raw_bytes: impl FnOnce() -> Vec<u8>,
    ) -> Result<(), Fail> {
        let ctx = self.ctx;
        let plan = ctx.plan;
        out.records += 1;
        if !ctx.sel.is_all() && !selected(ctx.sel, rec, plan) {
            out.outside += 1;
            out.outside_keys.note(rec, plan);
            return Ok(());
        }
        plan.check(rec, &mut self.row);
        let index = self.builders.len();
        if settle(
            ctx,
            &mut self.last,
            out,
            rec,
            i,
            line,
            raw,
            raw_bytes,
            &mut self.row,
            index,
        )? {
            self.builders.push(plan, rec, &self.row).map_err(Fail::Arrow)?;
        }
        Ok(())
    }
}

/// What follows the checks of a record (`row`, from [`Plan::check`]):
/// its (country, wave) looked up in design.csv and targets.csv, its frame
/// in design.csv, the country tally, the reject or the accepted row's
/// `index` in the unit's batch, its duplicate key. True when accepted.
#[allow(clippy::too_many_arguments)]
#[inline]
fn settle<F: Fields>(
    ctx: &Ctx,
    last: &mut Option<(CountryWave, [bool; 2])>,
    out: &mut UnitOut,
    rec: &F,
    i: usize,
    line: u64,
    raw: RawRef,
    raw_bytes: impl FnOnce() -> Vec<u8>,
    row: &mut Row,
    index: usize,
) -> Result<bool, Fail> {
    let plan = ctx.plan;
    let mut keyed = None;
    if let Some(key) = row.key {
        let frames = match *last {
            Some((k, f)) if k == key => f,
            _ => {
                let Some(&f) = ctx.design_frames.get(&key) else {
                    return Err(Fail::Unknown {
                        line,
                        key,
                        missing_in_targets: false,
                    });
                };
                if !ctx.target_keys.contains(&key) {
                    return Err(Fail::Unknown {
                        line,
                        key,
                        missing_in_targets: true,
                    });
                }
                *last = Some((key, f));
                f
            }
        };
        if let Some(fr) = row.frame
            && !frames[fr]
        {
            row.reasons.push(Reason::bare("frame_not_in_design"));
        }
        if row.id_ok {
            keyed = Some(key);
        }
    }
    let country = trim(rec.field(plan.country_col()));
    let accepted = row.reasons.is_empty();
    match out.tally.last_mut() {
        Some((c, a, r)) if c.as_slice() == country => {
            *a += u64::from(accepted);
            *r += u64::from(!accepted);
        }
        _ => out
            .tally
            .push((country.to_vec(), u64::from(accepted), u64::from(!accepted))),
    }
    let index = if accepted {
        index
    } else {
        out.rejects.push(Rejected {
            rec: i,
            line,
            id: readable_id(trim(rec.field(plan.id_col()))).to_string(),
            reasons: std::mem::take(&mut row.reasons),
            raw: raw_bytes(),
        });
        out.rejects.len() - 1
    };
    if let Some(key) = keyed {
        out.ids.push(key_code(key), trim(rec.field(plan.id_col())));
        out.keyed.push(Keyed {
            rec: i,
            line,
            raw,
            accepted,
            index,
        });
    }
    Ok(accepted)
}

/// A (country, wave) as one number (the duplicate set's group).
fn key_code((c, w): CountryWave) -> u64 {
    (u64::from(c[0]) << 56) | (u64::from(c[1]) << 48) | (u64::from(c[2]) << 40) | u64::from(w as u32)
}

/// The country of a [`key_code`].
fn code_country(code: u64) -> [u8; 3] {
    [(code >> 56) as u8, (code >> 48) as u8, (code >> 40) as u8]
}

/// The calling thread's state: units in file order.
struct Merge<'a> {
    ctx: &'a Ctx<'a>,
    seen: ids::KeySet,
    fresh: Vec<bool>,
    /// Line breaks before the next unit.
    base: u64,
    records: u64,
    outside: Outside,
    reserved: bool,
    file_len: u64,
}

impl Merge<'_> {
    /// A unit's failure as the error of the file.
    fn error(&self, f: Fail) -> IngestError {
        let ctx = self.ctx;
        match f {
            Fail::File(e) => e,
            Fail::Limit(l) => IngestError::Limit {
                file: ctx.path.to_path_buf(),
                line: self.base + l.line,
                what: l.what,
            },
            Fail::Unknown {
                line,
                key,
                missing_in_targets,
            } => {
                let file = ctx.path.to_path_buf();
                let country = String::from_utf8_lossy(&key.0).into_owned();
                let wave = key.1;
                let missing_in = if missing_in_targets { ctx.targets } else { ctx.design }.to_path_buf();
                if ctx.csv {
                    IngestError::UnknownCountryWave {
                        file,
                        line: self.base + line,
                        country,
                        wave,
                        missing_in,
                    }
                } else {
                    IngestError::UnknownCountryWaveRecord {
                        file,
                        record: line,
                        country,
                        wave,
                        missing_in,
                    }
                }
            }
            Fail::Arrow(e) => arrow_err(ctx.dir, e),
        }
    }

    /// Takes a unit in file order: duplicates, rejects, counts; returns its
    /// accepted rows.
    fn unit(
        &mut self,
        u: &mut UnitOut,
        input: &Input,
        rejects: &mut RejectsWriter,
        rep: &mut Report,
    ) -> Result<Option<RecordBatch>, IngestError> {
        let base = self.base;
        self.base += u.line_breaks;
        self.records += u.records;
        rep.rows_outside_selection += u.outside;
        self.outside.keys.append(&mut u.outside_keys.keys);
        if !self.reserved && !u.keyed.is_empty() {
            // Size the index once for the whole file: keys of this unit
            // scaled by bytes, at most one key per (columns + 8) bytes.
            self.reserved = true;
            let bytes = match input {
                Input::Csv(b) => b.len() as u64,
                _ => 0,
            };
            let by_rate = match bytes {
                0 => 0,
                b => self.file_len.saturating_mul(u.keyed.len() as u64) / b,
            };
            let by_size = self.file_len / (self.ctx.plan.ncols() as u64 + 8);
            let expected = self.ctx.records_hint.unwrap_or(by_rate.min(by_size));
            self.seen
                .reserve(usize::try_from(expected).unwrap_or(0) + u.keyed.len());
        }
        self.seen.insert_batch(&u.ids, &mut self.fresh);
        let mut dropped: Vec<usize> = Vec::new();
        for (k, key) in u.keyed.iter().enumerate() {
            if self.fresh[k] {
                continue;
            }
            if !key.accepted {
                u.rejects[key.index].reasons.push(Reason::bare("duplicate_id"));
                continue;
            }
            // An accepted record whose key an earlier record claimed.
            dropped.push(key.index);
            let raw = match (key.raw, input) {
                (RawRef::Bytes(s, e), Input::Csv(b)) => b[s..e].to_vec(),
                (RawRef::Record(i), Input::Stat(c)) => c.record(i).raw().into_owned(),
                _ => Vec::new(),
            };
            u.rejects.push(Rejected {
                rec: key.rec,
                line: key.line,
                id: readable_id(u.ids.id(k)).to_string(),
                reasons: vec![Reason::bare("duplicate_id")],
                raw,
            });
            let country = code_country(u.ids.code(k));
            if let Some(t) = u.tally.iter_mut().find(|t| t.0 == country && t.1 > 0) {
                t.1 -= 1;
                t.2 += 1;
            }
        }
        if !dropped.is_empty() {
            u.rejects.sort_by_key(|r| r.rec);
        }
        let line_of = |l: u64| if self.ctx.csv { base + l } else { l };
        for r in &u.rejects {
            rep.count_reasons(&r.reasons);
            rejects.write(line_of(r.line), &r.id, &r.reasons, &r.raw)?;
        }
        for (c, a, r) in &u.tally {
            rep.count_rows(country_bucket(c), *a, *r);
        }
        let Some(batch) = u.batch.take() else {
            return Ok(None);
        };
        if dropped.is_empty() {
            return Ok(Some(batch));
        }
        let mut keep = vec![true; batch.num_rows()];
        for d in dropped {
            keep[d] = false;
        }
        let kept = arrow_select::filter::filter_record_batch(&batch, &BooleanArray::from(keep))
            .map_err(|e| arrow_err(self.ctx.dir, e))?;
        Ok((kept.num_rows() > 0).then_some(kept))
    }
}

/// The writer thread: the accepted rows regrouped into batches of exactly
/// [`BATCH_ROWS`] rows (the last one shorter), written in order.
fn write_batches(
    rx: Receiver<RecordBatch>,
    mut arrow: ArrowFileWriter,
    schema: &SchemaRef,
) -> Result<ArrowFileWriter, IngestError> {
    // Every SYNC_BATCHES batches, a syncer thread starts writing the file
    // to disk (a sync of a handle on it), while this thread writes on.
    let handle = arrow.file_handle()?;
    let (sync_tx, sync_rx) = sync_channel::<()>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            for () in sync_rx {
                if handle.sync_data().is_err() {
                    // The final sync reports the error.
                    return;
                }
            }
        });
        // Owned here, so that the syncer stops when this closure returns.
        let sync_tx = sync_tx;
        let mut pending = Pending::default();
        let mut written = 0usize;
        let mut write = |batch: &RecordBatch| -> Result<(), IngestError> {
            arrow.write(batch)?;
            written += 1;
            if written.is_multiple_of(SYNC_BATCHES) {
                // Skipped while the previous sync still runs.
                let _ = sync_tx.try_send(());
            }
            Ok(())
        };
        for b in rx {
            if b.num_rows() == 0 {
                continue;
            }
            pending.rows += b.num_rows();
            pending.batches.push_back(b);
            while pending.rows >= BATCH_ROWS {
                write(&pending.take(schema, BATCH_ROWS)?)?;
            }
        }
        if pending.rows > 0 {
            let n = pending.rows;
            write(&pending.take(schema, n)?)?;
        }
        Ok::<(), IngestError>(())
    })?;
    Ok(arrow)
}

/// Batches (of [`BATCH_ROWS`] rows, about 6 MB) between two early syncs
/// of respondents.arrow (about 100 MB).
const SYNC_BATCHES: usize = 16;

/// Batches not yet written.
#[derive(Default)]
struct Pending {
    batches: VecDeque<RecordBatch>,
    /// Rows of the first batch already written.
    skip: usize,
    /// Rows not yet written.
    rows: usize,
}

impl Pending {
    /// The next `n` rows (at most [`Pending::rows`]) as one batch: a
    /// batch as the worker made it when it is exactly that, else a copy.
    fn take(&mut self, schema: &SchemaRef, n: usize) -> Result<RecordBatch, IngestError> {
        self.rows -= n;
        if self.skip == 0
            && self.batches.front().is_some_and(|b| b.num_rows() == n)
            && let Some(b) = self.batches.pop_front()
        {
            return Ok(b);
        }
        let mut parts: Vec<(&RecordBatch, usize, usize)> = Vec::new();
        let (mut need, mut start) = (n, self.skip);
        for b in &self.batches {
            if need == 0 {
                break;
            }
            let len = (b.num_rows() - start).min(need);
            parts.push((b, start, len));
            need -= len;
            start = 0;
        }
        let out = copy_rows(schema, &parts).map_err(|source| {
            IngestError::Output(swvr_core::io::IoError::Arrow {
                path: "respondents.arrow".into(),
                source,
            })
        })?;
        let mut left = n;
        while let Some(b) = self.batches.front() {
            let avail = b.num_rows() - self.skip;
            if avail > left {
                self.skip += left;
                break;
            }
            left -= avail;
            self.skip = 0;
            self.batches.pop_front();
            if left == 0 {
                break;
            }
        }
        Ok(out)
    }
}

/// A new batch of the rows `start..start + len` of each part, in order
/// (fresh buffers, as the builders make them: no null buffer without nulls).
fn copy_rows(schema: &SchemaRef, parts: &[(&RecordBatch, usize, usize)]) -> Result<RecordBatch, ArrowError> {
    let n: usize = parts.iter().map(|p| p.2).sum();
    let cols = (0..schema.fields().len())
        .map(|c| {
            let data: Vec<_> = parts.iter().map(|(b, _, _)| b.column(c).to_data()).collect();
            let mut m = MutableArrayData::new(data.iter().collect(), false, n);
            for (i, (_, s, len)) in parts.iter().enumerate() {
                m.try_extend(i, *s, s + len)?;
            }
            Ok(make_array(m.freeze()))
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    RecordBatch::try_new(schema.clone(), cols)
}

/// The writer thread's result (its file, still to be put in place).
fn join_writer(
    h: std::thread::ScopedJoinHandle<'_, Result<ArrowFileWriter, IngestError>>,
) -> Result<ArrowFileWriter, IngestError> {
    h.join().unwrap_or_else(|_| Err(crate::writer_gone()))
}
