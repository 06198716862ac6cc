//! calls.csv: one row per sampled number with its final disposition; the
//! response rates per (country, wave, frame) and the reconciliation of
//! interviews with the accepted respondents.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use swvr_core::groups::Selection;

use crate::FieldworkError;
use crate::options::{EMethod, Options};
use crate::rates::{Class, Counts, class_of};

/// Columns calls.csv must have.
pub const CALL_COLUMNS: [&str; 6] = ["country", "wave", "frame", "number_id", "disposition", "respondent_id"];

/// A rejected row of calls.csv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReject {
    /// Physical line (header = 1).
    pub line: u64,
    /// The number id when readable.
    pub number_id: String,
    /// `;`-joined reasons (`unknown_disposition:disposition=5.5`).
    pub reasons: String,
    /// The raw record.
    pub raw: String,
}

/// Interviews listed in calls.csv for one country-wave.
#[derive(Debug, Clone, Default)]
pub struct Interviews {
    /// respondent_id → (line, disposition) of interviews reconciled with respondents.
    pub ids: BTreeMap<String, (u64, String)>,
    /// Lines of reconciled interviews with a blank respondent_id.
    pub blank: Vec<u64>,
    /// Ids listed twice: (id, line of the repeat).
    pub repeated: Vec<(String, u64)>,
}

/// calls.csv, read and classified.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    /// Counts per (country, wave, frame).
    pub counts: BTreeMap<(String, i32, String), Counts>,
    /// Interviews per (country, wave).
    pub interviews: BTreeMap<(String, i32), Interviews>,
    /// Rejected rows.
    pub rejects: Vec<CallReject>,
    /// Rows read inside the selection.
    pub rows_read: u64,
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02X}"));
        }
    }
    s
}

/// Reads and classifies `path` (calls.csv).
pub fn read_calls(path: &Path, sel: &Selection, opts: &Options) -> Result<Calls, FieldworkError> {
    let bytes = std::fs::read(path).map_err(|source| FieldworkError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let file_err = |line: u64, message: String| FieldworkError::File {
        file: path.to_path_buf(),
        line,
        message,
    };
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rec = csv::ByteRecord::new();
    let read = |rdr: &mut csv::Reader<&[u8]>, rec: &mut csv::ByteRecord| -> Result<bool, FieldworkError> {
        rdr.read_byte_record(rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            file_err(line, format!("unreadable CSV: {e}"))
        })
    };
    if !read(&mut rdr, &mut rec)? {
        return Err(file_err(1, "empty file: expected a header row".into()));
    }
    let names: Vec<String> = rec
        .iter()
        .map(|f| String::from_utf8_lossy(trim(f)).into_owned())
        .collect();
    let mut col = [0usize; 6];
    for (k, want) in CALL_COLUMNS.iter().enumerate() {
        let found: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| n == want)
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [i] => col[k] = *i,
            [] => return Err(file_err(1, format!("missing required column `{want}`"))),
            _ => return Err(file_err(1, format!("column `{want}` appears more than once"))),
        }
    }
    let mut calls = Calls::default();
    let mut seen: HashSet<(String, i32, String, String)> = HashSet::new();
    let mut any = false;
    loop {
        let start = rdr.position().byte() as usize;
        if !read(&mut rdr, &mut rec)? {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line());
        let end = rdr.position().byte() as usize;
        any = true;
        let f = |k: usize| trim(rec.get(col[k]).unwrap_or(b""));
        let text = |k: usize| std::str::from_utf8(f(k)).ok();
        let mut reasons: Vec<String> = Vec::new();
        if rec.len() != names.len() {
            reasons.push(format!("field_count:expected={},found={}", names.len(), rec.len()));
        }
        let country = text(0).filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()));
        if country.is_none() {
            reasons.push(format!("invalid:country={}", escape(f(0))));
        }
        let wave = text(1).and_then(|w| w.parse::<i32>().ok());
        if wave.is_none() {
            reasons.push(format!("invalid:wave={}", escape(f(1))));
        }
        if let (Some(c), Some(w)) = (country, wave)
            && !sel.contains(c, w)
        {
            continue;
        }
        calls.rows_read += 1;
        let frame = text(2).filter(|x| *x == "L" || *x == "M");
        if frame.is_none() {
            reasons.push(format!("invalid:frame={}", escape(f(2))));
        }
        let number = text(3).filter(|x| !x.is_empty());
        if number.is_none() {
            reasons.push(format!("blank_or_invalid:number_id={}", escape(f(3))));
        }
        let disposition = text(4).unwrap_or("");
        let class = class_of(disposition);
        if class.is_none() {
            reasons.push(format!("unknown_disposition:disposition={}", escape(f(4))));
        }
        let rid = text(5);
        if rid.is_none() {
            reasons.push(format!("invalid:respondent_id={}", escape(f(5))));
        }
        let rid = rid.unwrap_or("");
        let interview = matches!(class, Some(Class::I)) || (opts.partials_in_data && matches!(class, Some(Class::P)));
        if !rid.is_empty() && class.is_some() && !matches!(class, Some(Class::I | Class::P)) {
            reasons.push("respondent_id_without_interview".to_string());
        }
        if reasons.is_empty()
            && let (Some(c), Some(w), Some(fr), Some(num)) = (country, wave, frame, number)
            && !seen.insert((c.to_string(), w, fr.to_string(), num.to_string()))
        {
            reasons.push("duplicate_number_id".to_string());
        }
        let raw_end = end.max(start).min(body.len());
        let raw = escape(body[start..raw_end].trim_ascii_end());
        match (reasons.is_empty(), country, wave, frame, class) {
            (true, Some(c), Some(w), Some(fr), Some(k)) => {
                calls
                    .counts
                    .entry((c.to_string(), w, fr.to_string()))
                    .or_default()
                    .add(k);
                if interview {
                    let iv = calls.interviews.entry((c.to_string(), w)).or_default();
                    if rid.is_empty() {
                        iv.blank.push(line);
                    } else if iv.ids.contains_key(rid) {
                        iv.repeated.push((rid.to_string(), line));
                    } else {
                        iv.ids.insert(rid.to_string(), (line, disposition.to_string()));
                    }
                }
            }
            _ => calls.rejects.push(CallReject {
                line,
                number_id: number.unwrap_or("").to_string(),
                reasons: reasons.join(";"),
                raw,
            }),
        }
    }
    if !any {
        return Err(file_err(1, "header row and no data rows".into()));
    }
    Ok(calls)
}

/// One row of response_rates.arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// `L`, `M` or `all`.
    pub frame: String,
    /// Measure name (`RR3`, `I`, `e`, …).
    pub measure: String,
    /// Value; `None` when its denominator is 0 (or `e` cannot be estimated).
    pub value: Option<f64>,
}

/// Response rates per (country, wave, frame) and the combined `all` rows.
///
/// The combined rate of a country-wave pools the frames' dispositions, with
/// each frame's own `e` applied to its own unknown-eligibility numbers
/// (`eU = Σ_f e_f (UH_f + UO_f)`). Each combined rate is therefore the
/// average of the frame rates weighted by the frames' denominators of that
/// rate: for RR3/RR4 the estimated eligible numbers of each frame.
pub fn rate_rows(calls: &Calls, opts: &Options) -> Vec<RateRow> {
    let mut out = Vec::new();
    let mut by_cw: BTreeMap<(String, i32), Vec<(&String, &Counts)>> = BTreeMap::new();
    for ((c, w, f), counts) in &calls.counts {
        by_cw.entry((c.clone(), *w)).or_default().push((f, counts));
    }
    for ((country, wave), frames) in by_cw {
        let mut total = Counts::default();
        let mut eu_total = 0.0;
        let mut e_known = true;
        let mut push = |frame: &str, counts: &Counts, e: Option<f64>, eu: Option<f64>| {
            let rates = crate::rates::rates(counts, eu.unwrap_or(f64::NAN));
            for (name, v) in crate::rates::RATE_NAMES.iter().zip(rates) {
                out.push(RateRow {
                    country: country.clone(),
                    wave,
                    frame: frame.to_string(),
                    measure: (*name).to_string(),
                    value: v.filter(|x| x.is_finite()),
                });
            }
            for (name, v) in [
                ("I", counts.i),
                ("P", counts.p),
                ("R", counts.r),
                ("NC", counts.nc),
                ("O", counts.o),
                ("UH", counts.uh),
                ("UO", counts.uo),
                ("NE", counts.ne),
            ] {
                out.push(RateRow {
                    country: country.clone(),
                    wave,
                    frame: frame.to_string(),
                    measure: name.to_string(),
                    value: Some(v),
                });
            }
            out.push(RateRow {
                country: country.clone(),
                wave,
                frame: frame.to_string(),
                measure: "e".to_string(),
                value: e,
            });
        };
        for (frame, counts) in &frames {
            let e = match opts.e {
                EMethod::Fixed(x) => Some(x),
                EMethod::Proportional => counts.proportional_e(),
            };
            // Without unknown-eligibility numbers e does not enter any rate.
            let eu = if counts.unknown() == 0.0 {
                Some(0.0)
            } else {
                e.map(|e| e * counts.unknown())
            };
            match eu {
                Some(x) => eu_total += x,
                None => e_known = false,
            }
            total = total.plus(counts);
            push(frame, counts, e, eu);
        }
        let eu = e_known.then_some(eu_total);
        // The effective e of the pooled frames.
        let e = eu.and_then(|x| (total.unknown() > 0.0).then(|| x / total.unknown()));
        let e = e.or(match opts.e {
            EMethod::Fixed(x) => Some(x),
            EMethod::Proportional => total.proportional_e(),
        });
        push("all", &total, e, eu);
    }
    out
}

/// One line of reconciliation.csv.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mismatch {
    /// Country.
    pub country: String,
    /// Wave.
    pub wave: i32,
    /// Respondent id (empty when the call row had none).
    pub respondent_id: String,
    /// `interview_not_in_respondents`, `respondent_not_in_calls`,
    /// `interview_without_respondent_id`, `interview_listed_twice`,
    /// `no_calls_for_country_wave`.
    pub issue: String,
    /// Where: `calls.csv line N` or a count.
    pub detail: String,
}

/// Interviews of calls.csv against the accepted respondents, fed one
/// respondent at a time in any order ([`Reconciliation::respondent`]): it
/// holds calls.csv's interviews, each marked when its respondent comes, and
/// a count per country-wave — not the respondents' ids (respondents.arrow
/// from ingest holds each id once per country-wave).
#[derive(Debug)]
pub struct Reconciliation<'a> {
    calls: &'a Calls,
    /// Per country-wave with interviews: the ids matched by a respondent.
    matched: BTreeMap<(String, i32), HashSet<&'a str>>,
    /// Accepted respondents per country-wave.
    accepted: BTreeMap<(String, i32), u64>,
    /// Respondents of a country-wave with calls but no interview of their id.
    not_in_calls: Vec<Mismatch>,
    /// The country-wave of the previous respondent, and whether it has calls.
    last: Option<((String, i32), bool)>,
}

impl<'a> Reconciliation<'a> {
    /// A reconciliation of `calls` with no respondent yet.
    pub fn new(calls: &'a Calls) -> Self {
        Reconciliation {
            calls,
            matched: BTreeMap::new(),
            accepted: BTreeMap::new(),
            not_in_calls: Vec::new(),
            last: None,
        }
    }

    /// An accepted respondent.
    pub fn respondent(&mut self, country: &str, wave: i32, id: &str) {
        let calls: &'a Calls = self.calls;
        if !matches!(&self.last, Some(((c, w), _)) if c == country && *w == wave) {
            let has = calls.counts.keys().any(|(c, w, _)| c == country && *w == wave);
            self.last = Some(((country.to_string(), wave), has));
        }
        let Some((cw, has_calls)) = &self.last else { return };
        *self.accepted.entry(cw.clone()).or_default() += 1;
        if !has_calls {
            return;
        }
        match calls.interviews.get(cw).and_then(|iv| iv.ids.get_key_value(id)) {
            Some((listed, _)) => {
                self.matched.entry(cw.clone()).or_default().insert(listed.as_str());
            }
            None => self.not_in_calls.push(Mismatch {
                country: country.to_string(),
                wave,
                respondent_id: id.to_string(),
                issue: "respondent_not_in_calls".into(),
                detail: "accepted respondent without an interview disposition".into(),
            }),
        }
    }

    /// The mismatches, sorted.
    pub fn finish(self) -> Vec<Mismatch> {
        let calls = self.calls;
        let mut out = self.not_in_calls;
        let mut cws: BTreeSet<(String, i32)> = calls.counts.keys().map(|(c, w, _)| (c.clone(), *w)).collect();
        cws.extend(self.accepted.keys().cloned());
        let none = HashSet::new();
        for cw in &cws {
            let (country, wave) = (cw.0.clone(), cw.1);
            let has_calls = calls.counts.keys().any(|(c, w, _)| c == &country && *w == wave);
            if !has_calls {
                out.push(Mismatch {
                    country,
                    wave,
                    respondent_id: String::new(),
                    issue: "no_calls_for_country_wave".into(),
                    detail: format!("{} accepted respondents", self.accepted.get(cw).copied().unwrap_or(0)),
                });
                continue;
            }
            let Some(iv) = calls.interviews.get(cw) else { continue };
            let matched = self.matched.get(cw).unwrap_or(&none);
            for (id, (line, disp)) in &iv.ids {
                if !matched.contains(id.as_str()) {
                    out.push(Mismatch {
                        country: country.clone(),
                        wave,
                        respondent_id: id.clone(),
                        issue: "interview_not_in_respondents".into(),
                        detail: format!("calls.csv line {line}, disposition {disp}"),
                    });
                }
            }
            for line in &iv.blank {
                out.push(Mismatch {
                    country: country.clone(),
                    wave,
                    respondent_id: String::new(),
                    issue: "interview_without_respondent_id".into(),
                    detail: format!("calls.csv line {line}"),
                });
            }
            for (id, line) in &iv.repeated {
                out.push(Mismatch {
                    country: country.clone(),
                    wave,
                    respondent_id: id.clone(),
                    issue: "interview_listed_twice".into(),
                    detail: format!("calls.csv line {line}"),
                });
            }
        }
        out.sort();
        out
    }
}
