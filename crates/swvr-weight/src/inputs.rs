//! design.csv and targets.csv of a wave bundle (contract section 2), read
//! with their physical line numbers so errors can point at them.

use std::collections::BTreeMap;
use std::path::Path;

use crate::WeightError;
use crate::scheme::RakeVar;

/// One design row: frame size N and sample size n.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameDesign {
    /// Numbers in the frame (N).
    pub frame_size: f64,
    /// Numbers drawn (n).
    pub sample_size: f64,
    /// Physical line in design.csv.
    pub line: u64,
}

impl FrameDesign {
    /// Sampling fraction n/N.
    pub fn fraction(&self) -> f64 {
        self.sample_size / self.frame_size
    }
}

/// The design of one (country, wave): its landline and mobile frames.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Design {
    /// `L` frame, if the country has one.
    pub landline: Option<FrameDesign>,
    /// `M` frame, if the country has one.
    pub mobile: Option<FrameDesign>,
}

/// One target row.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Category code or band label, as written.
    pub category: String,
    /// Population share.
    pub share: f64,
    /// Physical line in targets.csv.
    pub line: u64,
}

/// Targets of one (country, wave): per variable, its categories.
pub type GroupTargets = BTreeMap<RakeVar, Vec<Target>>;

/// Key of a (country, wave).
pub type Key = (String, i32);

fn csv_err(file: &Path, line: u64, column: &str, value: &str, expected: &str) -> WeightError {
    WeightError::Csv {
        file: file.display().to_string(),
        line,
        column: column.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Opens a CSV file and maps the required columns to their positions.
fn open(path: &Path, required: &[&str]) -> Result<(csv::Reader<std::fs::File>, Vec<usize>), WeightError> {
    let file = std::fs::File::open(path).map_err(|source| WeightError::Read {
        file: path.display().to_string(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(file);
    let headers = rdr
        .headers()
        .map_err(|e| csv_err(path, 1, "", &e.to_string(), "a CSV header row"))?
        .clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(csv_err(
            path,
            1,
            "",
            "",
            &format!("a header row: {}", required.join(",")),
        ));
    }
    let mut idx = Vec::with_capacity(required.len());
    for col in required {
        let hits: Vec<usize> = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h == col)
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [i] => idx.push(*i),
            [] => return Err(csv_err(path, 1, col, "", "this required column in the header")),
            _ => return Err(csv_err(path, 1, col, "", "this column exactly once in the header")),
        }
    }
    Ok((rdr, idx))
}

fn parse_wave(path: &Path, line: u64, v: &str) -> Result<i32, WeightError> {
    v.parse::<i32>()
        .map_err(|_| csv_err(path, line, "wave", v, "an integer year"))
}

fn parse_country(path: &Path, line: u64, v: &str) -> Result<String, WeightError> {
    if v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(v.to_string())
    } else {
        Err(csv_err(
            path,
            line,
            "country",
            v,
            "an ISO 3166-1 alpha-3 code in upper case",
        ))
    }
}

/// Reads design.csv: one design per (country, wave).
pub fn read_design(path: &Path) -> Result<BTreeMap<Key, Design>, WeightError> {
    let (mut rdr, ix) = open(path, &["country", "wave", "frame", "frame_size", "sample_size"])?;
    let mut out: BTreeMap<Key, Design> = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    let mut rows = 0usize;
    loop {
        let more = rdr.read_record(&mut rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            csv_err(path, line, "", &e.to_string(), "a well-formed CSV record")
        })?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line());
        rows += 1;
        let country = parse_country(path, line, &rec[ix[0]])?;
        let wave = parse_wave(path, line, &rec[ix[1]])?;
        let num = |i: usize, col: &str| -> Result<f64, WeightError> {
            let v = &rec[ix[i]];
            match v.parse::<f64>() {
                Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
                _ => Err(csv_err(path, line, col, v, "a positive number")),
            }
        };
        let fd = FrameDesign {
            frame_size: num(3, "frame_size")?,
            sample_size: num(4, "sample_size")?,
            line,
        };
        if fd.sample_size > fd.frame_size {
            return Err(csv_err(
                path,
                line,
                "sample_size",
                &rec[ix[4]],
                &format!("a sample no larger than its frame ({})", &rec[ix[3]]),
            ));
        }
        let d = out.entry((country, wave)).or_default();
        let slot = match &rec[ix[2]] {
            "L" => &mut d.landline,
            "M" => &mut d.mobile,
            other => return Err(csv_err(path, line, "frame", other, "`L` or `M`")),
        };
        if let Some(prev) = slot {
            return Err(csv_err(
                path,
                line,
                "frame",
                &rec[ix[2]],
                &format!("one row per country, wave and frame (already on line {})", prev.line),
            ));
        }
        *slot = Some(fd);
    }
    if rows == 0 {
        return Err(csv_err(path, 2, "", "", "at least one data row after the header"));
    }
    Ok(out)
}

/// Reads targets.csv, checking that shares are in [0, 1], categories are
/// not repeated and each (country, wave, variable) sums to 1 within 1e-6.
pub fn read_targets(path: &Path) -> Result<BTreeMap<Key, GroupTargets>, WeightError> {
    let (mut rdr, ix) = open(path, &["country", "wave", "variable", "category", "share"])?;
    let mut out: BTreeMap<Key, GroupTargets> = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    let mut rows = 0usize;
    loop {
        let more = rdr.read_record(&mut rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            csv_err(path, line, "", &e.to_string(), "a well-formed CSV record")
        })?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line());
        rows += 1;
        let country = parse_country(path, line, &rec[ix[0]])?;
        let wave = parse_wave(path, line, &rec[ix[1]])?;
        let var = RakeVar::from_name(&rec[ix[2]]).ok_or_else(|| {
            csv_err(
                path,
                line,
                "variable",
                &rec[ix[2]],
                "one of sex, age_group, education, employment, urbanicity",
            )
        })?;
        let category = rec[ix[3]].to_string();
        if category.is_empty() {
            return Err(csv_err(path, line, "category", "", "a category code or band label"));
        }
        let share = match rec[ix[4]].parse::<f64>() {
            Ok(s) if (0.0..=1.0).contains(&s) => s,
            _ => return Err(csv_err(path, line, "share", &rec[ix[4]], "a share between 0 and 1")),
        };
        let list = out.entry((country, wave)).or_default().entry(var).or_default();
        if let Some(prev) = list.iter().find(|t| t.category == category) {
            return Err(csv_err(
                path,
                line,
                "category",
                &category,
                &format!(
                    "each category once per country, wave and variable (already on line {})",
                    prev.line
                ),
            ));
        }
        list.push(Target { category, share, line });
    }
    if rows == 0 {
        return Err(csv_err(path, 2, "", "", "at least one data row after the header"));
    }
    for ((country, wave), vars) in &out {
        for (var, list) in vars {
            let total = swvr_core::sum::sum(&list.iter().map(|t| t.share).collect::<Vec<_>>());
            if (total - 1.0).abs() > 1e-6 {
                let line = list.first().map_or(0, |t| t.line);
                return Err(csv_err(
                    path,
                    line,
                    "share",
                    &format!("{total}"),
                    &format!("shares of {country} {wave} {} summing to 1 (within 1e-6)", var.name()),
                ));
            }
        }
    }
    Ok(out)
}
