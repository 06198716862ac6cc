//! The model's sufficient statistics accumulated batch by batch: per
//! (country, wave), the Σ w, Σ w² and count of every (stratum, pattern,
//! outcome) cell and the respondents per stratum. Rows are added in input
//! order and cells numbered in order of first appearance, strata renumbered
//! in sorted name order at the end: each cell sums the same terms in the
//! same order as [`Design::aggregate_keys`](crate::data::Design) over one
//! in-memory batch, so the statistics (and the output bytes) are the same.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use arrow_array::{Int32Array, RecordBatch, StringArray};
use swvr_core::groups::{Selection, StrataCoder};

use crate::ModelError;
use crate::data::{Acc, Design, RowShape, build_aggregate};
use crate::fit::Aggregate;
use crate::spec::ModelSpec;

/// Largest dense (pattern, outcome) table of one stratum, in slots.
const DENSE: u64 = 1 << 16;

struct GroupAcc {
    country: String,
    wave: i32,
    strata: StrataCoder,
    /// Dense cell ids per `(stratum · patterns + key) · 2 + y` (when small).
    dense: Vec<u32>,
    sparse: HashMap<(u32, u64, u8), u32>,
    keys: Vec<(u32, u64, u8)>,
    accs: Vec<Acc>,
}

/// The accumulator of every selected (country, wave).
pub(crate) struct Accumulator<'s> {
    spec: &'s ModelSpec,
    sel: Selection,
    path: PathBuf,
    groups: Vec<GroupAcc>,
    index: HashMap<(String, i32), usize>,
    seen: BTreeSet<(String, i32)>,
    /// Terms and row shape (from the first batch).
    terms: Option<(Vec<String>, RowShape)>,
}

impl<'s> Accumulator<'s> {
    pub(crate) fn new(spec: &'s ModelSpec, sel: &Selection, path: &Path) -> Self {
        Accumulator {
            spec,
            sel: sel.clone(),
            path: path.to_path_buf(),
            groups: Vec::new(),
            index: HashMap::new(),
            seen: BTreeSet::new(),
            terms: None,
        }
    }

    /// Adds `batch`, whose first row is input row `row0 + 1`.
    pub(crate) fn push(&mut self, row0: u64, batch: &RecordBatch) -> Result<(), ModelError> {
        let path = self.path.clone();
        let design = Design::new(batch, &path, self.spec)?.with_row_offset(row0);
        if self.terms.is_none() {
            self.terms = Some((design.terms.clone(), design.shape()));
        }
        let country = swvr_core::io::column::<StringArray>(batch, "country", &path)?;
        let wave = swvr_core::io::column::<Int32Array>(batch, "wave", &path)?;
        let stratum = swvr_core::io::column::<StringArray>(batch, "stratum", &path)?;
        let np = design.patterns_possible().filter(|&p| p.saturating_mul(2) <= DENSE);
        let mut last: Option<((&str, i32), usize)> = None;
        let mut last_stratum: Option<(usize, &str, u32)> = None;
        for r in 0..batch.num_rows() {
            let key = (country.value(r), wave.value(r));
            let g = match last {
                Some((k, g)) if k == key => g,
                _ => {
                    let g = match self.index.get(&(key.0.to_string(), key.1)) {
                        Some(&g) => g,
                        None => {
                            self.seen.insert((key.0.to_string(), key.1));
                            if self.sel.contains(key.0, key.1) {
                                self.index.insert((key.0.to_string(), key.1), self.groups.len());
                                self.groups.push(GroupAcc {
                                    country: key.0.to_string(),
                                    wave: key.1,
                                    strata: StrataCoder::default(),
                                    dense: Vec::new(),
                                    sparse: HashMap::new(),
                                    keys: Vec::new(),
                                    accs: Vec::new(),
                                });
                                self.groups.len() - 1
                            } else {
                                usize::MAX
                            }
                        }
                    };
                    last = Some((key, g));
                    g
                }
            };
            if g == usize::MAX {
                continue;
            }
            let ga = &mut self.groups[g];
            let name = stratum.value(r);
            let s = match last_stratum {
                Some((lg, ln, h)) if lg == g && ln == name => h,
                _ => {
                    let h = ga.strata.code(name);
                    last_stratum = Some((g, name, h));
                    h
                }
            };
            ga.strata.count(s);
            let Some((pkey, y, w)) = design.case(r)? else { continue };
            let i = match np {
                Some(np) => {
                    let at = ((u64::from(s) * np + pkey) * 2 + u64::from(y)) as usize;
                    if ga.dense.len() <= at {
                        ga.dense.resize((s as usize + 1) * np as usize * 2, u32::MAX);
                    }
                    if ga.dense[at] == u32::MAX {
                        ga.dense[at] = ga.accs.len() as u32;
                        ga.keys.push((s, pkey, y));
                        ga.accs.push(Acc::default());
                    }
                    ga.dense[at]
                }
                None => {
                    let next = ga.accs.len() as u32;
                    let i = *ga.sparse.entry((s, pkey, y)).or_insert(next);
                    if i == next {
                        ga.keys.push((s, pkey, y));
                        ga.accs.push(Acc::default());
                    }
                    i
                }
            };
            ga.accs[i as usize].add(w);
        }
        Ok(())
    }

    /// Terms (when a batch was pushed) and, per selected (country, wave) in
    /// sorted order, its statistics.
    #[allow(clippy::type_complexity)]
    pub(crate) fn finish(self) -> Result<(Option<Vec<String>>, Vec<(String, i32, Aggregate)>), ModelError> {
        if self.groups.is_empty() && !self.sel.is_all() {
            return Err(ModelError::Io(
                self.sel
                    .nothing_selected(&self.path, self.seen.iter().map(|(c, w)| (c.as_str(), *w)))
                    .into(),
            ));
        }
        let Some((terms, shape)) = self.terms else {
            return Ok((None, Vec::new()));
        };
        let mut groups = self.groups;
        groups.sort_by(|a, b| (a.country.as_str(), a.wave).cmp(&(b.country.as_str(), b.wave)));
        let out = groups
            .into_iter()
            .map(|ga| {
                let (_, stratum_n, remap) = ga.strata.sorted();
                let keys: Vec<(u32, u64, u8)> = ga.keys.iter().map(|&(s, k, y)| (remap[s as usize], k, y)).collect();
                let (agg, _, _) = build_aggregate(&shape, &keys, &ga.accs, stratum_n);
                (ga.country, ga.wave, agg)
            })
            .collect();
        Ok((Some(terms), out))
    }
}
