//! The stage's files under `OUT/fieldwork/`, their schemas declared here.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int32Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use swvr_core::io::{ArrowFileWriter, AtomicFile, IoError, with_version, write_arrow};

use crate::calls::{CallReject, Mismatch, RateRow};
use crate::quality::{GroupQuality, InterviewerRow};

fn arrow_err(path: &Path) -> impl Fn(arrow_schema::ArrowError) -> IoError + '_ {
    move |source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    }
}

/// Schema of response_rates.arrow.
pub fn rates_schema() -> Schema {
    with_version(Schema::new(vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("frame", DataType::Utf8, false),
        Field::new("measure", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
    ]))
}

/// Writes response_rates.arrow.
pub fn write_rates(path: &Path, rows: &[RateRow]) -> Result<(), IoError> {
    let schema = rates_schema();
    let mut c = StringBuilder::new();
    let mut w = Int32Builder::new();
    let mut f = StringBuilder::new();
    let mut m = StringBuilder::new();
    let mut v = Float64Builder::new();
    for r in rows {
        c.append_value(&r.country);
        w.append_value(r.wave);
        f.append_value(&r.frame);
        m.append_value(&r.measure);
        v.append_option(r.value);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(c.finish()),
        Arc::new(w.finish()),
        Arc::new(f.finish()),
        Arc::new(m.finish()),
        Arc::new(v.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), cols).map_err(arrow_err(path))?;
    write_arrow(path, &schema, &[batch])
}

fn csv_file(path: &Path, header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<(), IoError> {
    let file = AtomicFile::create(path)?;
    let io = |e: csv::Error| IoError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(file);
    w.write_record(header).map_err(io)?;
    for r in rows {
        w.write_record(&r).map_err(io)?;
    }
    let file = w.into_inner().map_err(|e| IoError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    file.commit()
}

/// Writes reconciliation.csv.
pub fn write_reconciliation(path: &Path, rows: &[Mismatch]) -> Result<(), IoError> {
    csv_file(
        path,
        &["country", "wave", "respondent_id", "issue", "detail"],
        rows.iter().map(|m| {
            vec![
                m.country.clone(),
                m.wave.to_string(),
                m.respondent_id.clone(),
                m.issue.clone(),
                m.detail.clone(),
            ]
        }),
    )
}

/// Writes calls_rejects.csv.
pub fn write_call_rejects(path: &Path, rows: &[CallReject]) -> Result<(), IoError> {
    csv_file(
        path,
        &["line", "number_id", "reasons", "raw"],
        rows.iter().map(|r| {
            vec![
                r.line.to_string(),
                r.number_id.clone(),
                r.reasons.clone(),
                r.raw.clone(),
            ]
        }),
    )
}

/// Schema of quality.arrow for the given battery names.
pub fn quality_schema(batteries: &[String]) -> Schema {
    let mut f = vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("respondent_id", DataType::Utf8, false),
        Field::new("interviewer", DataType::Utf8, true),
        Field::new("positions", DataType::Int32, false),
        Field::new("max_matching", DataType::Int32, true),
        Field::new("max_percent_match", DataType::Float64, true),
        Field::new("closest_respondent_id", DataType::Utf8, true),
        Field::new("n_closest", DataType::Int32, true),
        Field::new("match_p", DataType::Float64, true),
        Field::new("duration", DataType::Float64, true),
        Field::new("item_nonresponse", DataType::Float64, true),
    ];
    f.extend(
        batteries
            .iter()
            .map(|b| Field::new(format!("straightline_{b}"), DataType::Boolean, true)),
    );
    f.extend([
        Field::new("flag_duplicate", DataType::Boolean, false),
        Field::new("flag_high_match", DataType::Boolean, false),
        Field::new("flag_speeder", DataType::Boolean, true),
        Field::new("flag_straightline", DataType::Boolean, false),
        Field::new("match_rule", DataType::Utf8, false),
        Field::new("flags", DataType::Utf8, false),
        Field::new("excluded", DataType::Boolean, false),
        Field::new("exclusion_reason", DataType::Utf8, true),
    ]);
    with_version(Schema::new(f))
}

/// quality.arrow written one batch per country-wave, as the groups are
/// checked (renamed into place by [`QualityWriter::finish`]).
#[derive(Debug)]
pub struct QualityWriter {
    path: std::path::PathBuf,
    schema: SchemaRef,
    rule: String,
    inner: ArrowFileWriter,
}

impl QualityWriter {
    /// Starts quality.arrow for the given battery names and match rule label.
    pub fn create(path: &Path, batteries: &[String], rule: &str) -> Result<Self, IoError> {
        let schema = quality_schema(batteries);
        let inner = ArrowFileWriter::create(path, &schema)?;
        Ok(QualityWriter {
            path: path.to_path_buf(),
            schema: Arc::new(schema),
            rule: rule.to_string(),
            inner,
        })
    }

    /// Appends one country-wave.
    pub fn write(&mut self, g: &GroupQuality) -> Result<(), IoError> {
        let batch = quality_batch(&self.path, &self.schema, g, &self.rule)?;
        self.inner.write(&batch)
    }

    /// Writes the footer and renames the file into place.
    pub fn finish(self) -> Result<(), IoError> {
        self.inner.finish()
    }
}

/// The batch of quality.arrow of one country-wave.
fn quality_batch(path: &Path, sref: &SchemaRef, g: &GroupQuality, rule: &str) -> Result<RecordBatch, IoError> {
    let rows = &g.rows;
    let nb = sref.fields().len() - 20;
    let n = rows.len();
    let mut country = StringBuilder::with_capacity(n, n * 3);
    let mut wave = Int32Builder::with_capacity(n);
    let mut id = StringBuilder::new();
    let mut iv = StringBuilder::new();
    let mut pos = Int32Builder::with_capacity(n);
    let mut mm = Int32Builder::with_capacity(n);
    let mut pm = Float64Builder::with_capacity(n);
    let mut cid = StringBuilder::new();
    let mut nc = Int32Builder::with_capacity(n);
    let mut mp = Float64Builder::with_capacity(n);
    let mut du = Float64Builder::with_capacity(n);
    let mut inr = Float64Builder::with_capacity(n);
    let mut sl: Vec<BooleanBuilder> = (0..nb).map(|_| BooleanBuilder::new()).collect();
    let mut fd = BooleanBuilder::with_capacity(n);
    let mut fh = BooleanBuilder::with_capacity(n);
    let mut fs = BooleanBuilder::with_capacity(n);
    let mut fl = BooleanBuilder::with_capacity(n);
    let mut mr = StringBuilder::new();
    let mut fl_text = StringBuilder::new();
    let mut ex = BooleanBuilder::with_capacity(n);
    let mut er = StringBuilder::new();
    let mut names = Vec::with_capacity(4);
    for (i, r) in rows.iter().enumerate() {
        country.append_value(&g.country);
        wave.append_value(g.wave);
        id.append_value(g.ids.value(i));
        iv.append_option(g.interviewer(r));
        pos.append_value(r.positions as i32);
        mm.append_option(r.max_matching.map(|m| m as i32));
        pm.append_option(r.max_matching.map(|m| f64::from(m) / f64::from(r.positions)));
        cid.append_option(r.closest_index.map(|c| g.ids.value(c as usize)));
        nc.append_option(r.n_closest.map(|c| c as i32));
        mp.append_option(r.match_p);
        du.append_option(r.duration);
        inr.append_option((r.items_asked > 0).then(|| f64::from(r.items_missing) / f64::from(r.items_asked)));
        for (b, v) in sl.iter_mut().zip(&r.straightline) {
            b.append_option(*v);
        }
        let straight = r.straightline.contains(&Some(true));
        fd.append_value(r.duplicate);
        fh.append_value(r.high_match);
        fs.append_option(r.speeder);
        fl.append_value(straight);
        mr.append_value(rule);
        names.clear();
        for (on, name) in [
            (r.duplicate, "duplicate"),
            (r.high_match, "high_match"),
            (r.speeder == Some(true), "speeder"),
            (straight, "straightline"),
        ] {
            if on {
                names.push(name);
            }
        }
        fl_text.append_value(names.join(";"));
        ex.append_value(!r.exclusion.is_empty());
        er.append_option((!r.exclusion.is_empty()).then(|| r.exclusion.join(";")));
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(country.finish()),
        Arc::new(wave.finish()),
        Arc::new(id.finish()),
        Arc::new(iv.finish()),
        Arc::new(pos.finish()),
        Arc::new(mm.finish()),
        Arc::new(pm.finish()),
        Arc::new(cid.finish()),
        Arc::new(nc.finish()),
        Arc::new(mp.finish()),
        Arc::new(du.finish()),
        Arc::new(inr.finish()),
    ];
    cols.extend(sl.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend([
        Arc::new(fd.finish()) as ArrayRef,
        Arc::new(fh.finish()),
        Arc::new(fs.finish()),
        Arc::new(fl.finish()),
        Arc::new(mr.finish()),
        Arc::new(fl_text.finish()),
        Arc::new(ex.finish()),
        Arc::new(er.finish()),
    ]);
    RecordBatch::try_new(sref.clone(), cols).map_err(arrow_err(path))
}

/// Schema of interviewers.arrow.
pub fn interviewers_schema() -> Schema {
    with_version(Schema::new(vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("wave", DataType::Int32, false),
        Field::new("interviewer", DataType::Utf8, true),
        Field::new("interviews", DataType::Int32, false),
        Field::new("flagged", DataType::Int32, false),
        Field::new("share_flagged", DataType::Float64, false),
        Field::new("duplicates", DataType::Int32, false),
        Field::new("high_matches", DataType::Int32, false),
        Field::new("high_match_p", DataType::Float64, true),
        Field::new("flag_cluster", DataType::Boolean, false),
        Field::new("item_nonresponse", DataType::Float64, true),
        Field::new("median_duration", DataType::Float64, true),
        Field::new("first_date", DataType::Utf8, true),
        Field::new("last_date", DataType::Utf8, true),
    ]))
}

/// Writes interviewers.arrow.
pub fn write_interviewers(path: &Path, rows: &[InterviewerRow]) -> Result<(), IoError> {
    let schema = interviewers_schema();
    let mut c = StringBuilder::new();
    let mut w = Int32Builder::new();
    let mut iv = StringBuilder::new();
    let mut n = Int32Builder::new();
    let mut fl = Int32Builder::new();
    let mut sh = Float64Builder::new();
    let mut du = Int32Builder::new();
    let mut hm = Int32Builder::new();
    let mut hp = Float64Builder::new();
    let mut cl = BooleanBuilder::new();
    let mut inr = Float64Builder::new();
    let mut md = Float64Builder::new();
    let mut fd = StringBuilder::new();
    let mut ld = StringBuilder::new();
    for r in rows {
        c.append_value(&r.country);
        w.append_value(r.wave);
        iv.append_option(r.interviewer.as_deref());
        n.append_value(r.interviews as i32);
        fl.append_value(r.flagged as i32);
        sh.append_value(f64::from(r.flagged) / f64::from(r.interviews.max(1)));
        du.append_value(r.duplicates as i32);
        hm.append_value(r.high_matches as i32);
        hp.append_option(r.high_match_p);
        cl.append_value(r.cluster);
        inr.append_option(r.item_nonresponse);
        md.append_option(r.median_duration);
        fd.append_option(r.first_date.as_deref());
        ld.append_option(r.last_date.as_deref());
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(c.finish()),
        Arc::new(w.finish()),
        Arc::new(iv.finish()),
        Arc::new(n.finish()),
        Arc::new(fl.finish()),
        Arc::new(sh.finish()),
        Arc::new(du.finish()),
        Arc::new(hm.finish()),
        Arc::new(hp.finish()),
        Arc::new(cl.finish()),
        Arc::new(inr.finish()),
        Arc::new(md.finish()),
        Arc::new(fd.finish()),
        Arc::new(ld.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), cols).map_err(arrow_err(path))?;
    write_arrow(path, &schema, &[batch])
}

/// Writes `text` to `path` atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), IoError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(text.as_bytes()).map_err(|source| IoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    f.commit()
}
