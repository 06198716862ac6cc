//! Rows grouped by (country, wave), the unit every stage works in, with
//! each row's stratum as a compact code.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Int32Array, RecordBatch, StringArray};
use rayon::prelude::*;

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
/// Consecutive rows of one key skip hashing (exports are usually sorted by
/// country), and strata are coded per group in parallel.
pub fn group_by_country_wave(batch: &RecordBatch, path: &Path, selection: &Selection) -> Result<Vec<Group>, IoError> {
    let country = column::<StringArray>(batch, "country", path)?;
    let wave = column::<Int32Array>(batch, "wave", path)?;
    let stratum = column::<StringArray>(batch, "stratum", path)?;
    let mut index: HashMap<(&str, i32), usize> = HashMap::new();
    let mut keys: Vec<(&str, i32)> = Vec::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    // Exports are usually sorted by country: remember the last key to skip most hashing.
    let mut last: Option<((&str, i32), usize)> = None;
    for r in 0..batch.num_rows() {
        let key = (country.value(r), wave.value(r));
        let g = match last {
            Some((k, g)) if k == key => g,
            _ => {
                let g = *index.entry(key).or_insert_with(|| {
                    keys.push(key);
                    rows.push(Vec::new());
                    keys.len() - 1
                });
                last = Some((key, g));
                g
            }
        };
        rows[g].push(r as u32);
    }
    let mut order: Vec<usize> = (0..keys.len())
        .filter(|&g| selection.contains(keys[g].0, keys[g].1))
        .collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let picked: Vec<(usize, Vec<u32>)> = order.into_iter().map(|g| (g, std::mem::take(&mut rows[g]))).collect();
    // Stratum coding per group in parallel; collect keeps the sorted order.
    Ok(picked
        .into_par_iter()
        .map(|(g, rows)| {
            // Codes in order of first appearance, then renumbered in sorted name order.
            let mut first: HashMap<&str, u32> = HashMap::new();
            let mut names: Vec<&str> = Vec::new();
            let mut codes: Vec<u32> = Vec::with_capacity(rows.len());
            let mut last: Option<(&str, u32)> = None;
            for &r in &rows {
                let name = stratum.value(r as usize);
                let code = match last {
                    Some((n, c)) if n == name => c,
                    _ => {
                        let c = *first.entry(name).or_insert_with(|| {
                            names.push(name);
                            (names.len() - 1) as u32
                        });
                        last = Some((name, c));
                        c
                    }
                };
                codes.push(code);
            }
            let mut sorted: Vec<u32> = (0..names.len() as u32).collect();
            sorted.sort_by_key(|&c| names[c as usize]);
            let mut remap = vec![0u32; names.len()];
            for (new, &old) in sorted.iter().enumerate() {
                remap[old as usize] = new as u32;
            }
            for c in &mut codes {
                *c = remap[*c as usize];
            }
            Group {
                country: keys[g].0.to_string(),
                wave: keys[g].1,
                rows,
                stratum: codes,
                strata: sorted.iter().map(|&c| names[c as usize].to_string()).collect(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int32Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn groups_sorted_with_sorted_stratum_codes() {
        let c: ArrayRef = Arc::new(StringArray::from(vec!["KEN", "BOL", "KEN", "KEN", "BOL"]));
        let w: ArrayRef = Arc::new(Int32Array::from(vec![2021, 2021, 2021, 2022, 2021]));
        let s: ArrayRef = Arc::new(StringArray::from(vec!["z", "b", "a", "z", "b"]));
        let batch = RecordBatch::try_from_iter(vec![("country", c), ("wave", w), ("stratum", s)]).unwrap();
        let p = Path::new("x.arrow");
        let g = group_by_country_wave(&batch, p, &Selection::default()).unwrap();
        let keys: Vec<_> = g.iter().map(|g| (g.country.as_str(), g.wave)).collect();
        assert_eq!(keys, [("BOL", 2021), ("KEN", 2021), ("KEN", 2022)]);
        assert_eq!(g[0].rows, [1, 4]);
        assert_eq!(g[1].rows, [0, 2]);
        assert_eq!(g[1].strata, ["a", "z"]);
        assert_eq!(g[1].stratum, [1, 0]);
        let sel = Selection {
            countries: vec!["KEN".into()],
            waves: vec![2022],
        };
        let g = group_by_country_wave(&batch, p, &sel).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].rows, [3]);
    }
}
