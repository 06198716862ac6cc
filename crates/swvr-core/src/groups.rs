//! Rows grouped by (country, wave), the unit every stage works in, with
//! each row's stratum as a compact code.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Int32Array, RecordBatch, StringArray};

use crate::io::{IoError, column};

/// Which (country, wave)s a command works on (`--country`, `--wave`).
/// Empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Country codes to keep.
    pub countries: Vec<String>,
    /// Waves to keep.
    pub waves: Vec<i32>,
}

impl Selection {
    /// True when (country, wave) is selected.
    pub fn contains(&self, country: &str, wave: i32) -> bool {
        (self.countries.is_empty() || self.countries.iter().any(|c| c == country))
            && (self.waves.is_empty() || self.waves.contains(&wave))
    }

    /// True when everything is selected.
    pub fn is_all(&self) -> bool {
        self.countries.is_empty() && self.waves.is_empty()
    }
}

/// The rows of one (country, wave).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Country code.
    pub country: String,
    /// Wave (year).
    pub wave: i32,
    /// Row indices into the batch, ascending.
    pub rows: Vec<u32>,
    /// Stratum code of each row of `rows` (index into `strata`).
    pub stratum: Vec<u32>,
    /// Stratum names, sorted; codes index this list.
    pub strata: Vec<String>,
}

impl Group {
    /// Number of respondents.
    pub fn n(&self) -> usize {
        self.rows.len()
    }
}

/// Groups the rows of `batch` (which has `country`, `wave`, `stratum`) by
/// (country, wave), sorted by country then wave, keeping only `selection`.
pub fn group_by_country_wave(batch: &RecordBatch, path: &Path, selection: &Selection) -> Result<Vec<Group>, IoError> {
    let country = column::<StringArray>(batch, "country", path)?;
    let wave = column::<Int32Array>(batch, "wave", path)?;
    let stratum = column::<StringArray>(batch, "stratum", path)?;
    let mut index: HashMap<(&str, i32), usize> = HashMap::new();
    let mut keys: Vec<(&str, i32)> = Vec::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    for r in 0..batch.num_rows() {
        let key = (country.value(r), wave.value(r));
        let g = *index.entry(key).or_insert_with(|| {
            keys.push(key);
            rows.push(Vec::new());
            keys.len() - 1
        });
        rows[g].push(r as u32);
    }
    let mut order: Vec<usize> = (0..keys.len())
        .filter(|&g| selection.contains(keys[g].0, keys[g].1))
        .collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    Ok(order
        .into_iter()
        .map(|g| {
            let rows = std::mem::take(&mut rows[g]);
            let mut names: Vec<&str> = rows.iter().map(|&r| stratum.value(r as usize)).collect();
            names.sort_unstable();
            names.dedup();
            let codes: HashMap<&str, u32> = names.iter().enumerate().map(|(i, s)| (*s, i as u32)).collect();
            let stratum_codes = rows.iter().map(|&r| codes[stratum.value(r as usize)]).collect();
            Group {
                country: keys[g].0.to_string(),
                wave: keys[g].1,
                rows,
                stratum: stratum_codes,
                strata: names.into_iter().map(str::to_string).collect(),
            }
        })
        .collect())
}
