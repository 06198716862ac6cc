//! Rows grouped by (country, wave), the unit every stage works in, with
//! each row's stratum as a compact code.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Int32Array, RecordBatch, StringArray};
use rayon::prelude::*;

use crate::io::{IoError, column};

/// Which (country, wave)s a command works on (`--country`, `--wave`).
/// Empty lists select everything. Built only by [`Selection::new`] (which
/// checks the codes) or [`Selection::all`]; lists are sorted and
/// deduplicated, so the order of the options does not matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    countries: Vec<String>,
    waves: Vec<i32>,
}

/// A `--country` or `--wave` value that can never match a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// Not three upper-case letters.
    #[error("--country `{0}`: expected an ISO 3166-1 alpha-3 code in upper case, as in respondents.csv (e.g. KEN)")]
    Country(String),
    /// Not a four-digit year.
    #[error("--wave `{0}`: expected a year from 1000 to 9999, as in respondents.csv (e.g. 2021)")]
    Wave(i32),
}

/// A selection that matches no (country, wave) of a stage's input: the one
/// message every stage gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: no rows for {selection}; the file holds {}; expected --country/--wave to name at least one of these", file.display(), if available.is_empty() { "no country-wave".to_string() } else { available.join(", ") })]
pub struct NothingSelected {
    /// The stage's input file.
    pub file: std::path::PathBuf,
    /// The selection, described ([`Selection::describe`]).
    pub selection: String,
    /// The (country, wave)s the file holds (`KEN 2021`), sorted.
    pub available: Vec<String>,
}

impl Selection {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Validates `--country` codes (three upper-case letters) and `--wave`
    /// years (1000–9999, the range ingest accepts).
    pub fn new(countries: Vec<String>, waves: Vec<i32>) -> Result<Self, SelectionError> {
        if let Some(bad) = countries
            .iter()
            .find(|c| !(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())))
        {
            return Err(SelectionError::Country(bad.clone()));
        }
        if let Some(bad) = waves.iter().find(|w| !(1000..=9999).contains(*w)) {
            return Err(SelectionError::Wave(*bad));
        }
        let (mut countries, mut waves) = (countries, waves);
        countries.sort();
        countries.dedup();
        waves.sort_unstable();
        waves.dedup();
        Ok(Self { countries, waves })
    }

    /// Selected countries, sorted (empty = all).
    pub fn countries(&self) -> &[String] {
        &self.countries
    }

    /// Selected waves, sorted (empty = all).
    pub fn waves(&self) -> &[i32] {
        &self.waves
    }

    /// True when (country, wave) is selected.
    pub fn contains(&self, country: &str, wave: i32) -> bool {
        (self.countries.is_empty() || self.countries.iter().any(|c| c == country))
            && (self.waves.is_empty() || self.waves.contains(&wave))
    }

    /// True when everything is selected.
    pub fn is_all(&self) -> bool {
        self.countries.is_empty() && self.waves.is_empty()
    }

    /// The selection in words: `country KEN, SEN and wave 2021`,
    /// `every country-wave` when everything is selected.
    pub fn describe(&self) -> String {
        let countries = match self.countries.len() {
            0 => None,
            _ => Some(format!("country {}", self.countries.join(", "))),
        };
        let waves = match self.waves.len() {
            0 => None,
            _ => Some(format!(
                "wave {}",
                self.waves.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
            )),
        };
        match (countries, waves) {
            (Some(c), Some(w)) => format!("{c} and {w}"),
            (Some(c), None) => c,
            (None, Some(w)) => w,
            (None, None) => "every country-wave".into(),
        }
    }

    /// The error for a selection that matched nothing in `file`, which
    /// holds the (country, wave)s `available`.
    pub fn nothing_selected<'a>(
        &self,
        file: &Path,
        available: impl IntoIterator<Item = (&'a str, i32)>,
    ) -> NothingSelected {
        let mut keys: Vec<(&str, i32)> = available.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        NothingSelected {
            file: file.to_path_buf(),
            selection: self.describe(),
            available: keys.iter().map(|(c, w)| format!("{c} {w}")).collect(),
        }
    }
}

/// [`IoError::NothingSelected`] when `groups` (the selected groups of the
/// Arrow file `path`) is empty although the selection restricts it: the one
/// message every stage gives, naming the country-waves the file holds (read
/// from its `country` and `wave` columns, in this error case only).
pub fn require_selected(groups: &[Group], path: &Path, selection: &Selection) -> Result<(), IoError> {
    if !groups.is_empty() || selection.is_all() {
        return Ok(());
    }
    let batch = crate::io::read_arrow_columns(path, &["country", "wave"])?;
    require_selected_in(groups, &batch, path, selection)
}

/// [`require_selected`] when the rows are in memory (`batch`, read from `path`).
pub fn require_selected_in(
    groups: &[Group],
    batch: &RecordBatch,
    path: &Path,
    selection: &Selection,
) -> Result<(), IoError> {
    if !groups.is_empty() || selection.is_all() {
        return Ok(());
    }
    let country = column::<StringArray>(batch, "country", path)?;
    let wave = column::<Int32Array>(batch, "wave", path)?;
    let mut keys: std::collections::BTreeSet<(&str, i32)> = std::collections::BTreeSet::new();
    let mut last: Option<(&str, i32)> = None;
    for r in 0..batch.num_rows() {
        let k = (country.value(r), wave.value(r));
        if last != Some(k) {
            keys.insert(k);
            last = Some(k);
        }
    }
    Err(selection.nothing_selected(path, keys).into())
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
/// (country, wave), sorted by country then wave, keeping only `selection`
/// (stages then call [`require_selected`] on the whole file's groups).
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
        let sel = Selection::new(vec!["KEN".into()], vec![2022]).unwrap();
        let g = group_by_country_wave(&batch, p, &sel).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].rows, [3]);
        let none = Selection::new(vec!["ZZZ".into(), "BOL".into()], vec![2020]).unwrap();
        let err = none.nothing_selected(p, [("KEN", 2022), ("BOL", 2021), ("KEN", 2021), ("BOL", 2021)]);
        assert_eq!(
            err.to_string(),
            "x.arrow: no rows for country BOL, ZZZ and wave 2020; the file holds BOL 2021, KEN 2021, KEN 2022; \
             expected --country/--wave to name at least one of these"
        );
    }

    #[test]
    fn selection_options_are_checked_and_sorted() {
        assert_eq!(
            Selection::new(vec!["ken".into()], vec![]).unwrap_err().to_string(),
            "--country `ken`: expected an ISO 3166-1 alpha-3 code in upper case, as in respondents.csv (e.g. KEN)"
        );
        assert_eq!(
            Selection::new(vec![], vec![21]).unwrap_err().to_string(),
            "--wave `21`: expected a year from 1000 to 9999, as in respondents.csv (e.g. 2021)"
        );
        let s = Selection::new(vec!["SEN".into(), "KEN".into(), "SEN".into()], vec![2021]).unwrap();
        assert_eq!(s.countries(), ["KEN", "SEN"]);
        assert_eq!(s.describe(), "country KEN, SEN and wave 2021");
        assert_eq!(Selection::all().describe(), "every country-wave");
    }
}

/// Stratum names of one (country, wave) seen while streaming: coded in
/// order of first appearance, with a count of rows per stratum, and
/// renumbered in sorted name order at the end ([`StrataCoder::sorted`]),
/// the codes [`group_by_country_wave`] gives.
#[derive(Debug, Default)]
pub struct StrataCoder {
    names: Vec<String>,
    index: HashMap<String, u32>,
    n: Vec<u64>,
}

impl StrataCoder {
    /// The provisional code of `name` (a new one on first sight). Does not
    /// count the row: see [`StrataCoder::count`].
    pub fn code(&mut self, name: &str) -> u32 {
        if let Some(&h) = self.index.get(name) {
            return h;
        }
        let h = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), h);
        self.n.push(0);
        h
    }

    /// Counts one row in provisional stratum `h` (from [`StrataCoder::code`]).
    #[inline]
    pub fn count(&mut self, h: u32) {
        self.n[h as usize] += 1;
    }

    /// The names and row counts in sorted name order, and the map from
    /// provisional to sorted code.
    pub fn sorted(self) -> (Vec<String>, Vec<u64>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut remap = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let n = order.iter().map(|&o| self.n[o as usize]).collect();
        let names = order.iter().map(|&o| self.names[o as usize].clone()).collect();
        (names, n, remap)
    }
}

#[cfg(test)]
mod strata_coder_tests {
    use super::StrataCoder;

    #[test]
    fn codes_by_first_sight_and_sorts_at_the_end() {
        let mut c = StrataCoder::default();
        for name in ["mobile", "landline", "mobile", "dual"] {
            let h = c.code(name);
            c.count(h);
        }
        assert_eq!(c.code("landline"), 1);
        let (names, n, remap) = c.sorted();
        assert_eq!(names, ["dual", "landline", "mobile"]);
        assert_eq!(n, [1, 1, 2]);
        assert_eq!(remap, [2, 1, 0]);
    }
}
