//! Replicate weights through the whole weighting chain
//! (`[variance] method = "jackknife" | "bootstrap"`).
//!
//! # Method
//! PSU = respondent, strata = `stratum` (the design tabulate uses). A
//! replicate multiplies each respondent's **base weight** by a replicate
//! factor `a_ri` (as R's `as.svrepdesign` multiplies the design weights),
//! then re-runs the chain after the base weights exactly as the full
//! sample: imputation of DK/refused raking demographics (the hot-deck's
//! donor distributions are weighted, so they use the replicate's base
//! weights; the pseudo-random number of each recipient is the same),
//! raking or linear/logit calibration, trimming, normalisation to sum to n.
//!
//! - **JKn**: in stratum `h` with `n_h` respondents, deleting unit `j`
//!   gives factor 0 to `j` and `n_h/(n_h−1)` to the other units of `h`
//!   (1 elsewhere), `rscale = (n_h−1)/n_h`, `scale = 1`. A stratum with more
//!   than `groups` respondents is split into `G = groups` random groups
//!   (a Fisher–Yates permutation of its respondents in file order, seeded
//!   from the seed, country, wave and stratum; the `k`-th respondent of the
//!   permutation in group `k mod G`), deleted one group at a time: factors
//!   `G/(G−1)`, `rscale = (G−1)/G`. A stratum with one respondent
//!   (lonely) is R's `survey.lonely.psu = "adjust"` in `jknweights`: its
//!   replicate deletes it and multiplies every respondent of the *other*
//!   strata by `H/(H−1)` (`H` strata), `rscale = (H−1)/H`.
//! - **Bootstrap** (Rao–Wu rescaling, R's `subbootweights`): in each
//!   stratum, `m_h = n_h − 1` draws with replacement; factor
//!   `k_ri · n_h/(n_h−1)` for a respondent drawn `k_ri` times; `scale =
//!   1/(R−1)`, `rscales = 1`. The counts are a multinomial drawn as
//!   sequential binomials (respondent by respondent in file order,
//!   `k ~ Bin(draws left, 1/units left)`, by inversion with only `+ × ÷`),
//!   from xoshiro256** seeded per (seed, country, wave, stratum, replicate):
//!   the bytes do not depend on the platform's `exp`/`log` nor on the
//!   thread count. The chain draws them once and keeps them ([`Counts`],
//!   4 bits a row and replicate); the output replays them while it streams.
//!   A stratum with one respondent keeps factor 1 (R's `subbootweights`
//!   would give NaN there).
//!
//! Each replicate's final weight of a row is a function of its starting
//! weight `a_ri·b_i` and its cell: the [`Program`] the replicate's rake
//! recorded (cell factors, scales, clips). The weight stage keeps only the
//! programs (and the cells of imputed rows, which can differ by
//! replicate), never a replicate's weights, and the writer recomputes each
//! weight, bit for bit, while it streams `weight/replicates.arrow`.
//!
//! A target category with respondents in the full sample but none with a
//! positive replicate weight (a one-respondent category deleted by the
//! jackknife) cannot be met in that replicate (R's `rake` gives NaN
//! weights there): swvr sets its target to 0 and rescales the margin's
//! other targets to sum to 1, and counts such replicates in the diagnostics.

use rayon::prelude::*;
use swvr_core::groups::Group;
use swvr_core::replicates::ReplicateKind;
use swvr_core::rng::{Rng, mix};

use crate::rake::Program;

/// One jackknife replicate: the stratum and unit it deletes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct JkRep {
    stratum: u32,
    unit: u32,
    /// Lonely stratum: every other stratum is multiplied by `mult`.
    lonely: bool,
    mult: f64,
}

/// How the replicate factors of one (country, wave) are made.
#[derive(Debug, Clone)]
pub(crate) enum FactorDesign {
    /// Unit of each row within its stratum, and the replicates.
    Jackknife { unit: Vec<u32>, reps: Vec<JkRep> },
    /// Respondents per stratum and the seed of each (stratum, replicate).
    Bootstrap {
        n_h: Vec<u64>,
        seeds: Vec<Vec<u64>>,
        powers: Powers,
    },
}

impl FactorDesign {
    /// Jackknife: each row's unit within its stratum.
    pub(crate) fn units(&self) -> Option<&[u32]> {
        match self {
            FactorDesign::Jackknife { unit, .. } => Some(unit),
            FactorDesign::Bootstrap { .. } => None,
        }
    }
}

/// Per stratum state of a bootstrap replicate's sequential multinomial.
#[derive(Debug, Clone)]
struct BootState {
    rng: Rng,
    draws: u64,
    units: u64,
    mult: f64,
    /// One respondent in the stratum: factor 1.
    lonely: bool,
}

/// A bootstrap replicate's draw counts, row by row in the group's row
/// order, as the chain drew them: so that the writer replays them instead
/// of drawing again. Four bits a row (two rows a byte); a count of 15 or
/// more is stored as 15 and its value follows in `big` (rows in order).
/// Rows of a lonely stratum hold 0 (their factor is 1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    nibbles: Vec<u8>,
    big: Vec<u64>,
}

impl Counts {
    const ESCAPE: u64 = 15;

    fn with_rows(n: usize) -> Self {
        Counts {
            nibbles: vec![0; n.div_ceil(2)],
            big: Vec::new(),
        }
    }

    /// Stores count `k` of row `i` (rows in order).
    #[inline]
    fn set(&mut self, i: usize, k: u64) {
        let code = if k >= Self::ESCAPE {
            self.big.push(k);
            Self::ESCAPE
        } else {
            k
        };
        self.nibbles[i / 2] |= (code as u8) << (4 * (i & 1));
    }

    /// The count of row `i`; `cursor` is the next entry of `big` (rows in order).
    #[inline]
    fn get(&self, i: usize, cursor: &mut usize) -> u64 {
        let code = u64::from((self.nibbles[i / 2] >> (4 * (i & 1))) & 0xf);
        if code == Self::ESCAPE {
            let k = self.big[*cursor];
            *cursor += 1;
            k
        } else {
            code
        }
    }
}

/// Where a bootstrap replicate's counts come from.
#[derive(Debug, Clone)]
enum Source<'a> {
    /// Drawn (sequential binomials), not kept.
    Draw,
    /// Drawn and kept in `Counts` (the chain).
    Record(Counts),
    /// Replayed from the chain's counts (the writer); the cursor into `big`.
    Replay(&'a Counts, usize),
}

/// The factors of one replicate, row by row in the group's row order.
#[derive(Debug, Clone)]
pub(crate) struct Factors<'a> {
    design: &'a FactorDesign,
    stratum: &'a [u32],
    r: usize,
    boot: Vec<BootState>,
    source: Source<'a>,
}

impl<'a> Factors<'a> {
    pub(crate) fn new(design: &'a FactorDesign, stratum: &'a [u32], r: usize) -> Self {
        let boot = match design {
            FactorDesign::Jackknife { .. } => Vec::new(),
            FactorDesign::Bootstrap { n_h, seeds, .. } => n_h
                .iter()
                .zip(seeds)
                .map(|(&n, s)| BootState {
                    rng: Rng::new(s[r]),
                    draws: n.saturating_sub(1),
                    units: n,
                    mult: if n >= 2 { n as f64 / (n - 1) as f64 } else { 1.0 },
                    lonely: n < 2,
                })
                .collect(),
        };
        Factors {
            design,
            stratum,
            r,
            boot,
            source: Source::Draw,
        }
    }

    /// As [`Factors::new`], keeping the bootstrap's draw counts
    /// ([`Factors::into_counts`]).
    pub(crate) fn recording(design: &'a FactorDesign, stratum: &'a [u32], r: usize) -> Self {
        let mut f = Factors::new(design, stratum, r);
        if matches!(design, FactorDesign::Bootstrap { .. }) {
            f.source = Source::Record(Counts::with_rows(stratum.len()));
        }
        f
    }

    /// The factors of replicate `r` from the counts a [`Factors::recording`]
    /// kept (bootstrap; the jackknife's factors need no counts): the same
    /// values, without drawing.
    pub(crate) fn replay(design: &'a FactorDesign, stratum: &'a [u32], r: usize, counts: Option<&'a Counts>) -> Self {
        let mut f = Factors::new(design, stratum, r);
        if let (FactorDesign::Bootstrap { .. }, Some(c)) = (design, counts) {
            f.source = Source::Replay(c, 0);
        }
        f
    }

    /// The counts kept by [`Factors::recording`] (bootstrap), else None.
    pub(crate) fn into_counts(self) -> Option<Counts> {
        match self.source {
            Source::Record(c) => Some(c),
            _ => None,
        }
    }

    /// The factor of row `i`; rows must be asked for in order (bootstrap).
    #[inline]
    pub(crate) fn next(&mut self, i: usize) -> f64 {
        let h = self.stratum[i];
        match self.design {
            FactorDesign::Jackknife { unit, reps } => {
                let rep = &reps[self.r];
                if rep.lonely {
                    if h == rep.stratum { 0.0 } else { rep.mult }
                } else if h == rep.stratum {
                    if unit[i] == rep.unit { 0.0 } else { rep.mult }
                } else {
                    1.0
                }
            }
            FactorDesign::Bootstrap { powers, .. } => {
                let st = &mut self.boot[h as usize];
                if st.lonely {
                    return 1.0;
                }
                if let Source::Replay(c, cursor) = &mut self.source {
                    return c.get(i, cursor) as f64 * st.mult;
                }
                let k = powers.binomial_one_in(&mut st.rng, st.draws, st.units);
                st.draws -= k;
                st.units = st.units.saturating_sub(1);
                if let Source::Record(c) = &mut self.source {
                    c.set(i, k);
                }
                k as f64 * st.mult
            }
        }
    }
}

/// `x^n` by repeated squaring (only multiplications: the same bits everywhere).
#[cfg(test)]
fn pow_n(mut x: f64, mut n: u64) -> f64 {
    let mut acc = 1.0;
    while n > 0 {
        if n & 1 == 1 {
            acc *= x;
        }
        x *= x;
        n >>= 1;
    }
    acc
}

/// What every bootstrap draw of a (country, wave) shares: for each number
/// of units left `u` (up to the largest stratum), `q = 1 − 1/u` squared
/// again and again (`q^(2^j)`, the factors `pow_n` multiplies) and
/// `p/q`. Draws from a stratum with `u` units left, in every replicate,
/// then multiply table entries instead of squaring `q` each time: the same
/// operations on the same values, so the same bits.
#[derive(Debug, Clone)]
pub(crate) struct Powers {
    /// Entries per `u`: `bits` squares, then `p/q`.
    stride: usize,
    table: Vec<f64>,
}

impl Powers {
    /// The table for strata of up to `max_units` respondents.
    fn new(max_units: u64) -> Self {
        // Draws are fewer than the units: `bits` binary digits suffice.
        let bits = (64 - max_units.leading_zeros()) as usize;
        let stride = bits + 1;
        let mut table = vec![0.0; (max_units as usize + 1) * stride];
        for units in 2..=max_units {
            let row = &mut table[units as usize * stride..(units as usize + 1) * stride];
            let p = 1.0 / units as f64;
            let q = 1.0 - p;
            let mut x = q;
            for sq in &mut row[..bits] {
                *sq = x;
                x *= x;
            }
            row[bits] = p / q;
        }
        Powers { stride, table }
    }

    /// A draw of Bin(`n`, 1/`units`) by inversion (only `+ − × ÷`):
    /// `binomial_one_in` with `q^n` and `p/q` from the table.
    #[inline]
    fn binomial_one_in(&self, rng: &mut Rng, n: u64, units: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        if units <= 1 {
            return n;
        }
        let row = &self.table[units as usize * self.stride..(units as usize + 1) * self.stride];
        let (squares, ratio) = row.split_at(self.stride - 1);
        let ratio = ratio[0];
        // pow_n(q, n): the squares whose bit is set, lowest first (one
        // step per set bit: no branch on the bits' random pattern).
        let mut prob = 1.0;
        let mut m = n;
        while m != 0 {
            prob *= squares[m.trailing_zeros() as usize];
            m &= m - 1;
        }
        invert(rng, n, prob, ratio)
    }
}

/// The inversion of Bin(`n`, p) from `prob` = P(0) = q^n and `ratio` = p/q.
#[inline]
fn invert(rng: &mut Rng, n: u64, mut prob: f64, ratio: f64) -> u64 {
    let u = rng.uniform();
    let mut cum = prob;
    let mut k = 0u64;
    while u >= cum && k < n {
        prob *= (n - k) as f64 / (k + 1) as f64 * ratio;
        k += 1;
        cum += prob;
    }
    k
}

/// A draw of Bin(`n`, 1/`units`) by inversion (only `+ − × ÷`): the
/// definition [`Powers::binomial_one_in`] reproduces (tests).
#[cfg(test)]
fn binomial_one_in(rng: &mut Rng, n: u64, units: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    if units <= 1 {
        return n;
    }
    let p = 1.0 / units as f64;
    let q = 1.0 - p;
    let ratio = p / q;
    invert(rng, n, pow_n(q, n), ratio)
}

/// FNV-1a of a string (stable seed material).
fn fnv(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Seed material of a (country, wave, stratum).
fn stratum_seed(seed: u64, g: &Group, h: usize) -> u64 {
    mix(&[
        seed,
        fnv(g.country.as_bytes()),
        g.wave as u32 as u64,
        fnv(g.strata[h].as_bytes()),
    ])
}

/// The replicate design of a group: factors and rscales.
pub(crate) fn design(g: &Group, kind: crate::VarianceMethod) -> (FactorDesign, ReplicateKind, Vec<f64>) {
    let hn = g.strata.len();
    let mut n_h = vec![0u64; hn];
    g.stratum.iter().for_each(|&s| n_h[s as usize] += 1);
    match kind {
        crate::VarianceMethod::Bootstrap { replicates, seed } => {
            let seeds = (0..hn)
                .map(|h| {
                    let base = stratum_seed(seed, g, h);
                    (0..replicates as u64).map(|r| mix(&[base, r])).collect()
                })
                .collect();
            (
                FactorDesign::Bootstrap {
                    powers: Powers::new(n_h.iter().copied().max().unwrap_or(0)),
                    n_h,
                    seeds,
                },
                ReplicateKind::Bootstrap,
                vec![1.0; replicates as usize],
            )
        }
        crate::VarianceMethod::Jackknife { groups, seed } => {
            let gcount = u64::from(groups);
            // Rows of each stratum in file order.
            let mut members: Vec<Vec<u32>> = vec![Vec::new(); hn];
            for (i, &s) in g.stratum.iter().enumerate() {
                members[s as usize].push(i as u32);
            }
            let mut unit = vec![0u32; g.n()];
            let mut reps = Vec::new();
            let mut rscales = Vec::new();
            for (h, rows) in members.iter().enumerate() {
                let nh = rows.len() as u64;
                if nh == 1 {
                    if hn >= 2 {
                        reps.push(JkRep {
                            stratum: h as u32,
                            unit: 0,
                            lonely: true,
                            mult: hn as f64 / (hn - 1) as f64,
                        });
                        rscales.push((hn - 1) as f64 / hn as f64);
                    } else {
                        // One respondent in one stratum: nothing to delete.
                        reps.push(JkRep {
                            stratum: u32::MAX,
                            unit: 0,
                            lonely: false,
                            mult: 1.0,
                        });
                        rscales.push(0.0);
                    }
                    continue;
                }
                let units = if nh <= gcount {
                    for (j, &i) in rows.iter().enumerate() {
                        unit[i as usize] = j as u32;
                    }
                    nh
                } else {
                    let mut perm = rows.clone();
                    let mut rng = Rng::new(stratum_seed(seed, g, h));
                    for k in (1..perm.len()).rev() {
                        let j = rng.range(0, k as u32) as usize;
                        perm.swap(k, j);
                    }
                    for (k, &i) in perm.iter().enumerate() {
                        unit[i as usize] = (k as u64 % gcount) as u32;
                    }
                    gcount
                };
                for j in 0..units {
                    reps.push(JkRep {
                        stratum: h as u32,
                        unit: j as u32,
                        lonely: false,
                        mult: units as f64 / (units - 1) as f64,
                    });
                    rscales.push((units - 1) as f64 / units as f64);
                }
            }
            (
                FactorDesign::Jackknife { unit, reps },
                ReplicateKind::Jackknife,
                rscales,
            )
        }
        _ => (
            FactorDesign::Jackknife {
                unit: Vec::new(),
                reps: Vec::new(),
            },
            ReplicateKind::Jackknife,
            Vec::new(),
        ),
    }
}

/// The replicates of one (country, wave), as the writer needs them.
#[derive(Debug, Clone)]
pub(crate) struct GroupReplicates {
    pub kind: ReplicateKind,
    pub design: FactorDesign,
    /// One per replicate of the group.
    pub rscales: Vec<f64>,
    /// Per replicate, the chain after the base weights.
    pub programs: Vec<Program>,
    /// Full-sample cell of each row.
    pub cell: Vec<u32>,
    /// Per row: index into the recipients (rows with an imputed raking
    /// value), or `u32::MAX`.
    pub recipient: Vec<u32>,
    /// Per replicate, the cell of each recipient.
    pub recipient_cells: Vec<Vec<u32>>,
    /// Bootstrap: per replicate, the draw counts of the chain (the writer
    /// replays them); empty for the jackknife.
    pub counts: Vec<Counts>,
    /// Stratum code of each row.
    pub stratum: Vec<u32>,
    /// Replicates (1-based) that did not converge (`on_nonconvergence = "warn"`).
    pub not_converged: Vec<usize>,
    /// Replicates in which a target category had no weight.
    pub emptied: usize,
}

/// What one replicate's chain gives.
pub(crate) struct OneReplicate {
    pub program: Program,
    pub recipient_cells: Vec<u32>,
    pub counts: Option<Counts>,
    pub converged: bool,
    pub emptied: bool,
    pub error: Option<String>,
}

/// Imputes raking codes in place from starting weights (the hot-deck of `lib.rs`).
pub(crate) type Imputer<'a> = dyn Fn(&mut [Vec<u8>], &[f64]) + Sync + 'a;

/// The inputs of a group's replicate chains.
pub(crate) struct Chain<'a> {
    pub g: &'a Group,
    pub base: &'a [f64],
    /// Raking codes before imputation (DK/refused = `impute::MISSING`).
    pub original: &'a [Vec<u8>],
    /// Raking codes after the full sample's imputation.
    pub imputed: &'a [Vec<u8>],
    pub levels: &'a [usize],
    pub margins: &'a [Vec<usize>],
    pub targets: &'a [Vec<f64>],
    pub settings: crate::rake::RakeSettings,
    /// Imputes `codes` in place with starting weights `w`.
    pub impute: &'a Imputer<'a>,
}

/// Mixed-radix cell of row `i` from `codes`.
#[inline]
fn cell_of(codes: &[Vec<u8>], levels: &[usize], i: usize) -> u32 {
    codes
        .iter()
        .zip(levels)
        .fold(0u32, |acc, (c, &l)| acc * l as u32 + u32::from(c[i]))
}

/// Runs every replicate of a group (in parallel; results in replicate
/// order); also returns the first replicate (1-based) that failed and why.
pub(crate) fn run(c: &Chain<'_>, kind: crate::VarianceMethod) -> (GroupReplicates, Option<(usize, String)>) {
    let g = c.g;
    let n = g.n();
    let (design, rkind, rscales) = design(g, kind);
    let problem = crate::rake::RakeProblem {
        codes: c.imputed,
        levels: c.levels,
        margins: c.margins,
        targets: c.targets,
    };
    let (cell, cells) = crate::rake::cells_of(&problem, n);
    let recipients: Vec<u32> = (0..n as u32)
        .filter(|&i| c.original.iter().any(|col| col[i as usize] == crate::impute::MISSING))
        .collect();
    let mut recipient = Vec::new();
    if !recipients.is_empty() {
        recipient = vec![u32::MAX; n];
        for (k, &i) in recipients.iter().enumerate() {
            recipient[i as usize] = k as u32;
        }
    }
    let reps: Vec<OneReplicate> = (0..rscales.len())
        .into_par_iter()
        .map(|r| one(c, &design, r, (&recipients, &cell, cells)))
        .collect();
    let mut out = GroupReplicates {
        kind: rkind,
        design,
        rscales,
        programs: Vec::with_capacity(reps.len()),
        cell,
        recipient,
        recipient_cells: Vec::with_capacity(reps.len()),
        counts: Vec::new(),
        stratum: g.stratum.clone(),
        not_converged: Vec::new(),
        emptied: 0,
    };
    let mut first = None;
    for (r, one) in reps.into_iter().enumerate() {
        if !one.converged {
            out.not_converged.push(r + 1);
        }
        if first.is_none()
            && let Some(e) = one.error
        {
            first = Some((r + 1, e));
        }
        out.emptied += usize::from(one.emptied);
        out.programs.push(one.program);
        out.recipient_cells.push(one.recipient_cells);
        if let Some(c) = one.counts {
            out.counts.push(c);
        }
    }
    (out, first)
}

/// One replicate's chain: on the cell table ([`crate::cellrake`]), or row
/// by row ([`crate::rake::rake_traced`]) where the cell path does not apply.
fn one(
    c: &Chain<'_>,
    design: &FactorDesign,
    r: usize,
    (recipients, cell, cells): (&[u32], &[u32], usize),
) -> OneReplicate {
    let n = c.g.n();
    let mut f = Factors::recording(design, &c.g.stratum, r);
    let w: Vec<f64> = (0..n).map(|i| c.base[i] * f.next(i)).collect();
    let counts = f.into_counts();
    let mut own: Option<Vec<Vec<u8>>> = None;
    let mut own_cell: Option<Vec<u32>> = None;
    if !recipients.is_empty() {
        let mut codes = c.original.to_vec();
        (c.impute)(&mut codes, &w);
        // Only the recipients' cells can differ from the full sample's.
        let mut cl = cell.to_vec();
        for &i in recipients {
            cl[i as usize] = cell_of(&codes, c.levels, i as usize);
        }
        own = Some(codes);
        own_cell = Some(cl);
    }
    let codes: &[Vec<u8>] = own.as_deref().unwrap_or(c.imputed);
    let cell: &[u32] = own_cell.as_deref().unwrap_or(cell);
    // Categories left without weight: target 0, the margin's others rescaled.
    let mut with_weight = vec![false; cells];
    for (&x, &k) in w.iter().zip(cell) {
        if x > 0.0 {
            with_weight[k as usize] = true;
        }
    }
    let cat = crate::rake::cell_categories(c.levels, c.margins, cells);
    let mut targets = c.targets.to_vec();
    let mut emptied = false;
    for (tk, ck) in targets.iter_mut().zip(&cat) {
        let mut present = vec![false; tk.len()];
        for (&j, &has) in ck.iter().zip(&with_weight) {
            present[j as usize] |= has;
        }
        for (t, &p) in tk.iter_mut().zip(&present) {
            if !p && *t > 0.0 {
                *t = 0.0;
                emptied = true;
            }
        }
    }
    let cp = crate::cellrake::CellProblem {
        w: &w,
        cell,
        cells,
        levels: c.levels,
        margins: c.margins,
        targets: &targets,
    };
    let (out, program) = crate::cellrake::rake_cells(&cp, &c.settings).unwrap_or_else(|| {
        let problem = crate::rake::RakeProblem {
            codes,
            levels: c.levels,
            margins: c.margins,
            targets: &targets,
        };
        let (out, program) = crate::rake::rake_traced(&w, &problem, &c.settings);
        (crate::cellrake::CellOutcome::from(&out), program)
    });
    let recipient_cells = recipients.iter().map(|&i| cell[i as usize]).collect();
    let error = if out.nonpositive > 0 {
        Some(format!(
            "{} weights <= 0 (smallest g-weight {:.4})",
            out.nonpositive, out.g_min
        ))
    } else if !out.converged {
        Some(if !out.trimming_feasible {
            format!(
                "trimming bounds and margins cannot both hold after {} rounds (max margin error {:.3e})",
                out.trim_rounds, out.max_margin_error
            )
        } else {
            format!(
                "no convergence (max margin error {:.3e} above the tolerance)",
                out.max_margin_error
            )
        })
    } else {
        None
    };
    OneReplicate {
        program,
        recipient_cells,
        counts,
        converged: out.converged,
        emptied,
        error,
    }
}

/// Final weight of replicate `r` for row `i` of the group (with base
/// weight `base`), `f` the replicate's [`Factors`] (rows asked in order;
/// [`Factors::replay`] of the chain's counts):
/// bit for bit the weight the replicate's rake computed.
#[inline]
pub(crate) fn weight_of(reps: &GroupReplicates, f: &mut Factors<'_>, r: usize, i: usize, base: f64) -> f64 {
    let a = f.next(i);
    let cell = match reps.recipient.get(i) {
        Some(&k) if k != u32::MAX => reps.recipient_cells[r][k as usize],
        _ => reps.cell[i],
    };
    reps.programs[r].apply(base * a, cell)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn binomial_draws_have_the_right_mean_and_multinomial_sums() {
        let mut rng = Rng::new(5);
        let (n, units) = (99u64, 100u64);
        let mean = (0..20_000)
            .map(|_| binomial_one_in(&mut rng, n, units) as f64)
            .sum::<f64>()
            / 20_000.0;
        assert!((mean - 0.99).abs() < 0.03, "{mean}");
        // Sequential binomials draw exactly n - 1 units in a stratum.
        let g = Group {
            country: "KEN".into(),
            wave: 2021,
            rows: (0..7).collect(),
            stratum: vec![0, 1, 0, 0, 1, 0, 2],
            strata: vec!["a".into(), "b".into(), "c".into()],
        };
        let (d, kind, rs) = design(
            &g,
            crate::VarianceMethod::Bootstrap {
                replicates: 50,
                seed: 3,
            },
        );
        assert_eq!((kind, rs.len()), (ReplicateKind::Bootstrap, 50));
        for r in 0..50 {
            let mut f = Factors::new(&d, &g.stratum, r);
            let a: Vec<f64> = (0..7).map(|i| f.next(i)).collect();
            let sum_a: f64 = [0, 2, 3, 5].iter().map(|&i| a[i]).sum();
            assert!((sum_a - 4.0).abs() < 1e-12, "{a:?}"); // 3 draws × 4/3
            assert!((a[1] + a[4] - 2.0).abs() < 1e-12); // 1 draw × 2
            assert_eq!(a[6], 1.0); // lonely stratum: factor 1
        }
    }

    #[test]
    fn kept_counts_replay_the_draws_bit_for_bit() {
        // Strata of 2, 40 and 1 respondents (the last lonely: factor 1).
        let mut stratum: Vec<u32> = (0..43).map(|i| if i % 3 == 0 && i < 6 { 0 } else { 1 }).collect();
        stratum[42] = 2;
        let n1 = stratum.iter().filter(|&&h| h == 1).count();
        let g = Group {
            country: "BOL".into(),
            wave: 2021,
            rows: (0..43).collect(),
            stratum,
            strata: vec!["s".into(), "m".into(), "one".into()],
        };
        let (d, _, rs) = design(
            &g,
            crate::VarianceMethod::Bootstrap {
                replicates: 200,
                seed: 11,
            },
        );
        for r in 0..rs.len() {
            let drawn: Vec<f64> = {
                let mut f = Factors::new(&d, &g.stratum, r);
                (0..g.n()).map(|i| f.next(i)).collect()
            };
            let mut rec = Factors::recording(&d, &g.stratum, r);
            let recorded: Vec<f64> = (0..g.n()).map(|i| rec.next(i)).collect();
            let counts = rec.into_counts().unwrap();
            let mut f = Factors::replay(&d, &g.stratum, r, Some(&counts));
            let replayed: Vec<f64> = (0..g.n()).map(|i| f.next(i)).collect();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&recorded), bits(&drawn), "replicate {r}");
            assert_eq!(bits(&replayed), bits(&drawn), "replicate {r}");
        }
        assert_eq!(n1, 40);
        // Counts of 15 or more go through the escape (stored exactly).
        let mut c = Counts::with_rows(3);
        c.set(0, 3);
        c.set(1, 15);
        c.set(2, 300);
        let mut cursor = 0;
        let got: Vec<u64> = (0..3).map(|i| c.get(i, &mut cursor)).collect();
        assert_eq!((got, cursor), (vec![3, 15, 300], 2));
        // The jackknife keeps no counts.
        let (jk, _, _) = design(&g, crate::VarianceMethod::Jackknife { groups: 3, seed: 1 });
        assert!(Factors::recording(&jk, &g.stratum, 0).into_counts().is_none());
    }

    #[test]
    fn jackknife_units_groups_and_lonely_strata() {
        let g = Group {
            country: "SEN".into(),
            wave: 2021,
            rows: (0..9).collect(),
            stratum: vec![0, 0, 0, 1, 0, 0, 0, 2, 0],
            strata: vec!["big".into(), "pair".into(), "one".into()],
        };
        // Stratum 0 has 7 > 3 respondents: 3 groups; stratum 1 has 1: lonely; 2 too.
        let (d, _, rs) = design(&g, crate::VarianceMethod::Jackknife { groups: 3, seed: 9 });
        assert_eq!(rs.len(), 5);
        assert!((rs[0] - 2.0 / 3.0).abs() < 1e-15 && (rs[3] - 2.0 / 3.0).abs() < 1e-15);
        let FactorDesign::Jackknife { unit, reps } = &d else {
            panic!()
        };
        let mut sizes = [0; 3];
        for &i in &[0usize, 1, 2, 4, 5, 6, 8] {
            sizes[unit[i] as usize] += 1;
        }
        sizes.sort_unstable();
        assert_eq!(sizes, [2, 2, 3]);
        assert!(reps[3].lonely && reps[4].lonely);
        // Lonely replicate: its stratum 0, the others × H/(H-1) = 1.5.
        let mut f = Factors::new(&d, &g.stratum, 3);
        let a: Vec<f64> = (0..9).map(|i| f.next(i)).collect();
        assert_eq!(a, vec![1.5, 1.5, 1.5, 0.0, 1.5, 1.5, 1.5, 1.5, 1.5]);
        // Group replicate: one group of stratum 0 deleted, its others × 1.5.
        let mut f = Factors::new(&d, &g.stratum, 0);
        let a: Vec<f64> = (0..9).map(|i| f.next(i)).collect();
        for i in 0..9 {
            let want = match (g.stratum[i], unit[i]) {
                (0, 0) => 0.0,
                (0, _) => 1.5,
                _ => 1.0,
            };
            assert_eq!(a[i], want, "row {i}");
        }
    }

    #[test]
    fn table_draws_are_the_definition_bit_for_bit() {
        let powers = Powers::new(5000);
        let mut seeds = Rng::new(17);
        for units in (2..=5000u64).step_by(7).chain([2, 3, 4999, 5000]) {
            for n in [0, 1, units / 2, units - 1] {
                let seed = seeds.next_u64();
                let (mut a, mut b) = (Rng::new(seed), Rng::new(seed));
                for _ in 0..5 {
                    assert_eq!(
                        powers.binomial_one_in(&mut a, n, units),
                        binomial_one_in(&mut b, n, units),
                        "units {units} n {n}"
                    );
                }
            }
        }
        // The first factor: pow_n's bits.
        let row = &powers.table[977 * powers.stride..978 * powers.stride];
        let q = 1.0 - 1.0 / 977.0;
        let mut prob = 1.0;
        for (j, sq) in row[..powers.stride - 1].iter().enumerate() {
            if 976u64 & (1 << j) != 0 {
                prob *= sq;
            }
        }
        assert_eq!(prob.to_bits(), pow_n(q, 976).to_bits());
    }

    #[test]
    fn pow_by_squaring() {
        assert_eq!(pow_n(0.5, 10), 1.0 / 1024.0);
        assert_eq!(pow_n(3.0, 0), 1.0);
        assert!((pow_n(0.99, 100) - 0.99f64.powi(100)).abs() < 1e-15);
    }
}
