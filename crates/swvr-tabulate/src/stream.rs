//! Streaming accumulation of the fixed-weight sufficient statistics: the
//! joined columns arrive batch by batch (`swvr_core::handoff::for_each_weighted`)
//! and each row is added to the cells of its (country-wave, combination,
//! category), where a combination is the stratum and the level of every
//! domain ([`engine`](crate::engine) documents the formulas). Nothing of
//! length n is kept: after the last batch only the cell tables remain (a few
//! thousand numbers per variable and country-wave).
//!
//! Bytes do not depend on batch boundaries or threads: each (country-wave,
//! variable) table receives its rows in file order from one thread
//! (variables run in parallel, each over the batch's rows in order), so every
//! cell sums exactly the terms, in exactly the order, of the in-memory pass
//! over rows sorted by combination; combinations are numbered in order of
//! first appearance and strata renumbered in sorted name order at the end,
//! as `swvr_core::groups` codes them.

use std::collections::{BTreeSet, HashMap};

use arrow_array::{Array, Float64Array, Int32Array, RecordBatch, StringArray};
use rayon::prelude::*;
use swvr_core::groups::{Group, Selection, StrataCoder};
use swvr_core::questionnaire::Questionnaire;

use crate::engine::{self, Cell, DomainRows, LevelStats, NONE, Source, Var};
use crate::{TabulateError, column_err};

/// Largest dense combination table of one stratum (slots).
const DENSE: u64 = 1 << 16;

/// One selected (country, wave) being accumulated.
struct GroupAcc {
    country: String,
    wave: i32,
    /// Strata in order of first appearance (provisional codes), with counts.
    strata: StrataCoder,
    /// Dense combination ids: `h · per_stratum + levels key` (when small).
    dense: Vec<u32>,
    /// Sparse combination ids (when the dense table would be large).
    sparse: HashMap<u64, u32>,
    /// Per combination: provisional stratum and flat level indices.
    combos: Vec<(u32, Vec<u8>)>,
}

/// The streaming accumulator of every selected (country, wave) and variable.
pub(crate) struct Accumulator<'q> {
    q: &'q Questionnaire,
    sel: Selection,
    path: String,
    /// Domain names and labels (from the first batch; every batch must agree).
    domains: Option<Vec<DomainRows>>,
    n_levels: usize,
    /// Mixed radix of the domains' levels (labels + 1 for "none").
    radix: Vec<u64>,
    per_stratum: u64,
    /// Output names and categories of the variables.
    vars: Option<Vec<(String, Vec<String>)>>,
    groups: Vec<GroupAcc>,
    index: HashMap<(String, i32), usize>,
    /// Every (country, wave) seen, selected or not (for the "nothing selected" error).
    seen: BTreeSet<(String, i32)>,
    /// `cells[v][g][combo · k + category]`.
    cells: Vec<Vec<Vec<Cell>>>,
    rows: u64,
}

impl<'q> Accumulator<'q> {
    pub(crate) fn new(q: &'q Questionnaire, sel: &Selection, path: &str) -> Self {
        Accumulator {
            q,
            sel: sel.clone(),
            path: path.to_string(),
            domains: None,
            n_levels: 0,
            radix: Vec::new(),
            per_stratum: 0,
            vars: None,
            groups: Vec::new(),
            index: HashMap::new(),
            seen: BTreeSet::new(),
            cells: Vec::new(),
            rows: 0,
        }
    }

    /// Adds `batch`, whose first row is data row `row0 + 1` of the input.
    pub(crate) fn push(&mut self, row0: u64, batch: &RecordBatch) -> Result<(), TabulateError> {
        let path = self.path.clone();
        let n = batch.num_rows();
        let country = swvr_core::io::column::<StringArray>(batch, "country", std::path::Path::new(&path))?;
        let wave = swvr_core::io::column::<Int32Array>(batch, "wave", std::path::Path::new(&path))?;
        let stratum = swvr_core::io::column::<StringArray>(batch, "stratum", std::path::Path::new(&path))?;
        let wcol = batch
            .column_by_name("weight")
            .ok_or_else(|| column_err(&path, "weight", "a column of final weights (Float64)"))?;
        let weights = wcol
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| column_err(&path, "weight", &format!("type Float64, found {}", wcol.data_type())))?;
        let at = |r: usize| (row0 + r as u64) as usize;

        // The group of each row (u32::MAX: not selected), weights checked.
        let mut gid = vec![u32::MAX; n];
        let mut last: Option<((&str, i32), u32)> = None;
        for (r, slot) in gid.iter_mut().enumerate() {
            let key = (country.value(r), wave.value(r));
            let g = match last {
                Some((k, g)) if k == key => g,
                _ => {
                    let g = match self.index.get(&(key.0.to_string(), key.1)) {
                        Some(&g) => g as u32,
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
                                    combos: Vec::new(),
                                });
                                for v in &mut self.cells {
                                    v.push(Vec::new());
                                }
                                (self.groups.len() - 1) as u32
                            } else {
                                u32::MAX
                            }
                        }
                    };
                    last = Some((key, g));
                    g
                }
            };
            if g == u32::MAX {
                continue;
            }
            let w = if weights.is_null(r) { f64::NAN } else { weights.value(r) };
            if !(w.is_finite() && w > 0.0) {
                return Err(TabulateError::Value {
                    path: path.clone(),
                    row: at(r) + 1,
                    column: "weight".into(),
                    value: if weights.is_null(r) {
                        "null".into()
                    } else {
                        w.to_string()
                    },
                    expected: "a finite weight > 0 (R drops zero-weight rows from n and df)".into(),
                });
            }
            *slot = g;
        }
        self.rows += n as u64;
        if gid.iter().all(|&g| g == u32::MAX) {
            return Ok(());
        }

        // Domain levels of the batch's rows; labels fixed by the first batch.
        let domains = crate::domain_rows(batch, self.q, &path).map_err(|e| shift(e, row0))?;
        match &self.domains {
            None => {
                let (_, n_levels) = engine::level_offsets(&domains);
                self.n_levels = n_levels;
                self.radix = domains.iter().map(|d| d.labels.len() as u64 + 1).collect();
                self.per_stratum = self.radix.iter().product::<u64>();
                self.domains = Some(
                    domains
                        .iter()
                        .map(|d| DomainRows {
                            name: d.name.clone(),
                            labels: d.labels.clone(),
                            level: Vec::new(),
                        })
                        .collect(),
                );
            }
            Some(known) => {
                for (d, k) in domains.iter().zip(known) {
                    if d.labels != k.labels {
                        return Err(column_err(
                            &path,
                            &d.name,
                            &format!("the same levels in every record batch ({})", k.labels.join(",")),
                        ));
                    }
                }
            }
        }
        let (offsets, _) = engine::level_offsets(&domains);

        // The combination of each selected row.
        let mut combo = vec![0u32; n];
        let mut last_stratum: Option<(u32, &str, u32)> = None;
        for r in 0..n {
            let g = gid[r];
            if g == u32::MAX {
                continue;
            }
            let ga = &mut self.groups[g as usize];
            let name = stratum.value(r);
            let h = match last_stratum {
                Some((lg, ln, h)) if lg == g && ln == name => h,
                _ => {
                    let h = ga.strata.code(name);
                    last_stratum = Some((g, name, h));
                    h
                }
            };
            ga.strata.count(h);
            let mut key = 0u64;
            for (d, &rad) in domains.iter().zip(&self.radix) {
                let l = d.level[r];
                key = key * rad + if l == NONE { rad - 1 } else { u64::from(l) };
            }
            let slot = if self.per_stratum <= DENSE {
                let i = (u64::from(h) * self.per_stratum + key) as usize;
                if ga.dense.len() <= i {
                    ga.dense.resize((h as usize + 1) * self.per_stratum as usize, u32::MAX);
                }
                &mut ga.dense[i]
            } else {
                ga.sparse
                    .entry(u64::from(h) * self.per_stratum + key)
                    .or_insert(u32::MAX)
            };
            if *slot == u32::MAX {
                *slot = ga.combos.len() as u32;
                let mut levels = Vec::with_capacity(domains.len() + 1);
                levels.push(0u8);
                for (d, off) in domains.iter().zip(&offsets) {
                    let l = d.level[r];
                    if l != NONE {
                        levels.push((off + l as usize) as u8);
                    }
                }
                ga.combos.push((h, levels));
            }
            combo[r] = *slot;
        }

        // Every variable over the batch's rows in order, variables in parallel.
        let vars = crate::variables(batch, self.q, &path)?;
        if self.vars.is_none() {
            self.vars = Some(vars.iter().map(|(n, c, _)| (n.clone(), c.clone())).collect());
            self.cells = vars.iter().map(|_| vec![Vec::new(); self.groups.len()]).collect();
        }
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.combos.len()).collect();
        let wvals = weights.values();
        let results: Vec<Result<(), TabulateError>> = self
            .cells
            .par_iter_mut()
            .zip(vars.par_iter())
            .map(|(cells, (_, _, var))| {
                for (g, c) in cells.iter_mut().enumerate() {
                    c.resize(sizes[g] * var.k, Cell::default());
                }
                add_rows(cells, var, &gid, &combo, wvals).map_err(|e| shift(e, row0))
            })
            .collect();
        for r in results {
            r.map_err(|e| e.with_path(&path))?;
        }
        Ok(())
    }

    /// Rows pushed.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The groups (sorted by country, wave, strata coded in sorted name
    /// order), their statistics (`stats[g · vars + v]`), the domains (names
    /// and labels) and the variables' names and categories.
    #[allow(clippy::type_complexity)]
    pub(crate) fn finish(
        self,
    ) -> Result<
        (
            Vec<(Group, Vec<(u32, Vec<u8>)>, Vec<u64>)>,
            Vec<LevelStats>,
            Vec<DomainRows>,
            Vec<(String, Vec<String>)>,
        ),
        TabulateError,
    > {
        if self.groups.is_empty() && !self.sel.is_all() {
            return Err(TabulateError::Io {
                source: self
                    .sel
                    .nothing_selected(
                        std::path::Path::new(&self.path),
                        self.seen.iter().map(|(c, w)| (c.as_str(), *w)),
                    )
                    .into(),
            });
        }
        // No row selected: no variables, no statistics.
        let vars = self.vars.unwrap_or_default();
        let domains = self.domains.unwrap_or_default();
        if self.n_levels >= usize::from(engine::INVALID) {
            return Err(column_err(&self.path, "domains", "fewer than 254 domain levels in all"));
        }
        let mut order: Vec<usize> = (0..self.groups.len()).collect();
        order.sort_by(|&a, &b| {
            (self.groups[a].country.as_str(), self.groups[a].wave)
                .cmp(&(self.groups[b].country.as_str(), self.groups[b].wave))
        });
        let mut cells = self.cells;
        let mut groups: Vec<Option<GroupAcc>> = self.groups.into_iter().map(Some).collect();
        let n_levels = self.n_levels;
        let ks: Vec<usize> = vars.iter().map(|(_, c)| c.len()).collect();
        let mut out_groups = Vec::with_capacity(order.len());
        let mut tables: Vec<(usize, Vec<Vec<Cell>>)> = Vec::with_capacity(order.len());
        for &g in &order {
            let Some(ga) = groups[g].take() else { continue };
            let (names, n_h, remap) = ga.strata.sorted();
            let combos: Vec<(u32, Vec<u8>)> = ga.combos.into_iter().map(|(h, l)| (remap[h as usize], l)).collect();
            out_groups.push((
                Group {
                    country: ga.country,
                    wave: ga.wave,
                    rows: Vec::new(),
                    stratum: Vec::new(),
                    strata: names,
                },
                combos,
                n_h,
            ));
            tables.push((g, cells.iter_mut().map(|v| std::mem::take(&mut v[g])).collect()));
        }
        let tasks: Vec<(usize, usize)> = (0..out_groups.len())
            .flat_map(|g| (0..vars.len()).map(move |v| (g, v)))
            .collect();
        let stats: Vec<LevelStats> = tasks
            .par_iter()
            .map(|&(g, v)| {
                let (_, combos, n_h) = &out_groups[g];
                engine::reduce(combos, &tables[g].1[v], n_h.len(), ks[v], n_levels)
            })
            .collect();
        Ok((out_groups, stats, domains, vars))
    }
}

/// Adds every selected row of a batch to one variable's cells.
fn add_rows(
    cells: &mut [Vec<Cell>],
    var: &Var<'_>,
    gid: &[u32],
    combo: &[u32],
    w: &[f64],
) -> Result<(), TabulateError> {
    let k = var.k;
    match &var.source {
        Source::Item { column, col, lut } => {
            let values = col.values();
            let nulls = col.nulls();
            for r in 0..gid.len() {
                let g = gid[r];
                if g == u32::MAX || nulls.is_some_and(|nb| nb.is_null(r)) {
                    continue;
                }
                let code = values[r];
                let c = lut[code as u8 as usize];
                if c == engine::INVALID {
                    return Err(engine::invalid(column, r, code));
                }
                cells[g as usize][combo[r] as usize * k + c as usize].add(w[r]);
            }
        }
        Source::AnyYes { parts } => {
            for r in 0..gid.len() {
                let g = gid[r];
                if g == u32::MAX {
                    continue;
                }
                let Some(c) = engine::any_yes_class(parts, r)? else {
                    continue;
                };
                cells[g as usize][combo[r] as usize * k + c].add(w[r]);
            }
        }
    }
    Ok(())
}

/// A row error of a batch whose first row is input row `row0 + 1`.
fn shift(e: TabulateError, row0: u64) -> TabulateError {
    match e {
        TabulateError::Value {
            path,
            row,
            column,
            value,
            expected,
        } => TabulateError::Value {
            path,
            row: row + row0 as usize,
            column,
            value,
            expected,
        },
        other => other,
    }
}
