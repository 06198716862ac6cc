//! Contrasts (`tabulate/contrasts.arrow`): for every item category, the
//! difference between every pair of levels of each domain (a − b, `a`
//! before `b` in the domain's order: for a two-level domain one contrast,
//! e.g. male − female), and, when a bundle holds several waves of a country,
//! each wave minus the previous wave in every level; with a design-based
//! standard error, a t interval and a two-sided p-value.
//!
//! # Formula (levels of one domain, same country-wave)
//! Both estimates are means of the same outcome `y` in two disjoint
//! domains `a`, `b` of the country-wave sample, with linearisation scores
//! `z_a`, `z_b` ([`crate::engine`]). Their covariance in the stratified
//! with-replacement design is
//! `cov = Σ_h n_h/(n_h − 1) [Σ_h z_a z_b − (Σ_h z_a)(Σ_h z_b)/n_h]`;
//! the domains are disjoint, so `z_a z_b = 0` for every respondent and
//! `cov = −Σ_h (Σ_h z_a)(Σ_h z_b)/(n_h − 1)`. A lonely stratum
//! (`n_h = 1`, R's `survey.lonely.psu = "adjust"`, uncentred) contributes
//! `z_a z_b = 0`. `Var(a − b) = V_a + V_b − 2 cov` — exactly R's
//! `svycontrast()` on `svyby(..., svymean, covmat = TRUE)`.
//!
//! Degrees of freedom: the rule of tables.arrow applied to the pair,
//! `df = n_a + n_b − H_ab` with `H_ab` the strata holding at least one
//! respondent of `a` or `b` asked the item (`degf()` of the design
//! restricted to the two levels).
//!
//! # Waves
//! Two waves are independent samples (their strata are disjoint), so the
//! covariance is 0: `Var = V_a + V_b`, and `df = df_a + df_b` (the same
//! rule on the pooled design: `n_a + n_b − H_a − H_b`).
//!
//! # Interval and p-value
//! `difference ± t_{0.975, df} · se`, `p = 2·P(T_df > |difference|/se)`.
//! No interval when `df ≤ 0`; no p-value when also `se = 0` (both
//! estimates 0 or 1 with no design variance).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use swvr_core::groups::Group;
use swvr_core::io::IoError;
use swvr_core::questionnaire::{Derived, Questionnaire};
use swvr_core::sum::Neumaier;

use crate::Estimate;
use crate::engine::{DomainRows, LevelStats, Prepared};
use crate::interval;
use crate::replicate::{RepDesign, RepStats};

/// The replicate design and per-variable totals of each group (replicate variance).
pub(crate) type RepView<'a> = (&'a RepDesign, &'a [RepStats]);

/// What a contrast compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContrastKind {
    /// Two levels of one domain, same country and wave.
    Level,
    /// Two waves of one country, same domain level.
    Wave,
}

impl ContrastKind {
    /// Name written in the `contrast` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ContrastKind::Level => "level",
            ContrastKind::Wave => "wave",
        }
    }
}

/// One row of contrasts.arrow: `estimate_a − estimate_b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contrast {
    /// Country code.
    pub country: String,
    /// Level or wave contrast.
    pub kind: ContrastKind,
    /// Wave of `a` (for a level contrast, the wave of both).
    pub wave_a: i32,
    /// Wave of `b` (the previous wave for a wave contrast).
    pub wave_b: i32,
    /// Item or derived indicator.
    pub item: String,
    /// Domain.
    pub domain: String,
    /// Level of `a` (for a wave contrast, the level of both).
    pub level_a: String,
    /// Level of `b`.
    pub level_b: String,
    /// Answer category (or `net`).
    pub category: String,
    /// Respondents of `a` asked the item.
    pub n_a: u64,
    /// Respondents of `b` asked the item.
    pub n_b: u64,
    /// Estimate of `a` (as in tables.arrow).
    pub estimate_a: f64,
    /// Estimate of `b`.
    pub estimate_b: f64,
    /// `estimate_a − estimate_b`.
    pub difference: f64,
    /// Standard error of the difference (covariance included).
    pub se: f64,
    /// Lower 95% limit.
    pub ci_low: Option<f64>,
    /// Upper 95% limit.
    pub ci_high: Option<f64>,
    /// Degrees of freedom of the interval and the test.
    pub df: i64,
    /// Two-sided p-value of `difference = 0`.
    pub p_value: Option<f64>,
    /// How the variances were obtained: `fixed` (final weights taken as
    /// fixed) or, for a wave contrast, the tables' method.
    pub variance_method: &'static str,
}

/// One level's estimate of an outcome with its per-stratum score sums.
struct Side {
    n: u64,
    estimate: f64,
    variance: f64,
    /// `Σ_h z` for each stratum.
    score: Vec<f64>,
    /// Respondents per stratum.
    n_h: Vec<u64>,
}

/// Which level contrast: a country-wave, a domain (`off`: the flat index
/// of its first level in [`LevelStats`]), two of its levels and one item
/// category with its outcome values.
#[derive(Clone, Copy)]
struct Which<'a> {
    group: &'a Group,
    domain: &'a DomainRows,
    off: usize,
    a: usize,
    b: usize,
    item: &'a str,
    category: &'a str,
    y: &'a [f64],
}

impl Which<'_> {
    /// The contrast `a − b` from each level's (respondents, estimate), its
    /// SE not yet set ([`finish`]); `df` is the two levels' respondents
    /// minus `strata`, the strata holding either.
    fn contrast(
        &self,
        (n_a, estimate_a): (u64, f64),
        (n_b, estimate_b): (u64, f64),
        strata: i64,
        variance_method: &'static str,
    ) -> Contrast {
        Contrast {
            country: self.group.country.clone(),
            kind: ContrastKind::Level,
            wave_a: self.group.wave,
            wave_b: self.group.wave,
            item: self.item.to_string(),
            domain: self.domain.name.clone(),
            level_a: self.domain.labels[self.a].clone(),
            level_b: self.domain.labels[self.b].clone(),
            category: self.category.to_string(),
            n_a,
            n_b,
            estimate_a,
            estimate_b,
            difference: estimate_a - estimate_b,
            se: 0.0,
            ci_low: None,
            ci_high: None,
            df: (n_a + n_b) as i64 - strata,
            p_value: None,
            variance_method,
        }
    }
}

fn side(stats: &LevelStats, level: usize, y: &[f64], n_h: &[u64]) -> Side {
    let inf = stats.infer(level, y, n_h);
    let (hh, kk) = (stats.h, stats.k);
    let at = |h: usize, k: usize| (level * hh + h) * kk + k;
    let mut w = Neumaier::new();
    for h in 0..hh {
        for k in 0..kk {
            w.add(stats.s[at(h, k)]);
        }
    }
    let w = w.total();
    let m = inf.estimate;
    let score = (0..hh)
        .map(|h| {
            let mut sz = Neumaier::new();
            for (k, &yk) in y.iter().enumerate() {
                sz.add((yk - m) * stats.s[at(h, k)]);
            }
            if w > 0.0 { sz.total() / w } else { 0.0 }
        })
        .collect();
    let n_h = (0..hh).map(|h| (0..kk).map(|k| stats.n[at(h, k)]).sum()).collect();
    Side {
        n: inf.n,
        estimate: m,
        variance: inf.variance,
        score,
        n_h,
    }
}

/// Interval and p-value of a difference.
fn finish(mut c: Contrast, variance: f64) -> Contrast {
    c.se = variance.max(0.0).sqrt();
    let ci = interval::t_quantile(c.df as f64).map(|t| (c.difference - t * c.se, c.difference + t * c.se));
    c.ci_low = ci.map(|v| v.0);
    c.ci_high = ci.map(|v| v.1);
    c.p_value = if c.se > 0.0 {
        swvr_core::stats::t_two_sided_p(c.difference / c.se, c.df as f64)
    } else {
        None
    };
    c
}

/// A tabulated variable for contrasts: its name and, per output category,
/// the category name and outcome values.
type Outcomes = (String, Vec<(String, Vec<f64>)>);

/// The outcomes of tables.arrow in its order: every item's categories, then
/// the derived indicators (`any_yes` categories, `net`), each with the index
/// of the accumulated variable it reads.
fn outcomes(q: &Questionnaire, cats: &[Vec<String>]) -> Vec<(usize, Outcomes)> {
    let indicator = |c: &[String]| -> Vec<(String, Vec<f64>)> {
        (0..c.len())
            .map(|k| {
                let mut y = vec![0.0; c.len()];
                y[k] = 1.0;
                (c[k].clone(), y)
            })
            .collect()
    };
    let mut out = Vec::new();
    for (v, item) in q.items().iter().enumerate() {
        out.push((v, (item.id.clone(), indicator(&cats[v]))));
    }
    let mut next_any = q.items().len();
    for d in q.derived() {
        match d {
            Derived::AnyYes { id, .. } => {
                out.push((next_any, (id.clone(), indicator(&cats[next_any]))));
                next_any += 1;
            }
            Derived::Net {
                id, item, plus, minus, ..
            } => {
                // A missing item is reported by tabulation itself.
                if let Some(v) = q.item_index(item) {
                    let y = crate::net_outcome(&cats[v], plus, minus);
                    out.push((v, (id.clone(), vec![("net".to_string(), y)])));
                }
            }
        }
    }
    out
}

/// Level contrasts of every country-wave: `stats[g · cats.len() + v]` are the
/// statistics of variable `v` in group `g`; `cats` the categories of each
/// accumulated variable (items, then `any_yes` indicators).
pub(crate) fn level_contrasts(
    prepared: &[Prepared<'_>],
    stats: &[LevelStats],
    cats: &[Vec<String>],
    q: &Questionnaire,
    domains: &[DomainRows],
    offsets: &[usize],
    rep: Option<&[RepView<'_>]>,
) -> Vec<Contrast> {
    let outcomes = outcomes(q, cats);
    let mut out = Vec::new();
    for (g, p) in prepared.iter().enumerate() {
        for (v, (name, cs)) in &outcomes {
            let st = &stats[g * cats.len() + v];
            let rv = rep.map(|r| (r[g].0, &r[g].1[*v]));
            for (d, &off) in domains.iter().zip(offsets) {
                let present: Vec<usize> = (0..d.labels.len()).filter(|&i| st.n(off + i) > 0).collect();
                // R's svyby(covmat = TRUE) drops a replicate from every
                // contrast of the domain when any level's estimate is
                // undefined in it (svrVar's na.omit on the joint replicates).
                let dropped: Vec<bool> = match rv {
                    Some((_, rs)) => {
                        let mut m = vec![false; rs.r];
                        for &l in &present {
                            for (x, u) in m.iter_mut().zip(rs.undefined(off + l)) {
                                *x |= u;
                            }
                        }
                        m
                    }
                    None => Vec::new(),
                };
                let rv = rv.map(|(d, rs)| (d, rs, dropped.as_slice()));
                for (ia, &a) in present.iter().enumerate() {
                    for &b in &present[ia + 1..] {
                        for (cat, y) in cs {
                            let which = Which {
                                group: p.group,
                                domain: d,
                                off,
                                a,
                                b,
                                item: name,
                                category: cat,
                                y,
                            };
                            out.push(match (rv, &p.cal) {
                                (None, Some(cal)) => calibrated_pair(which, &p.n_h, st, cal),
                                _ => pair(which, &p.n_h, st, rv),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

fn pair(which: Which<'_>, n_h: &[u64], st: &LevelStats, rep: Option<(&RepDesign, &RepStats, &[bool])>) -> Contrast {
    let (la, lb, y) = (which.off + which.a, which.off + which.b, which.y);
    let sa = side(st, la, y, n_h);
    let sb = side(st, lb, y, n_h);
    let mut cov = Neumaier::new();
    let mut strata = 0i64;
    for (h, &size) in n_h.iter().enumerate() {
        if size > 1 {
            cov.add(-sa.score[h] * sb.score[h] / (size as f64 - 1.0));
        }
        strata += i64::from(sa.n_h[h] + sb.n_h[h] > 0);
    }
    let c = which.contrast((sa.n, sa.estimate), (sb.n, sb.estimate), strata, "fixed");
    if let Some((design, rs, dropped)) = rep {
        // Replicate variance of the difference: the difference per replicate.
        let ta = rs.thetas(la, y);
        let tb = rs.thetas(lb, y);
        let diff: Vec<f64> = ta
            .iter()
            .zip(&tb)
            .zip(dropped)
            .map(|((x, z), &drop)| if drop { f64::NAN } else { x - z })
            .collect();
        let v = design.variance(&diff, c.difference).unwrap_or(f64::NAN);
        let c = Contrast {
            df: design.df(sa.n + sb.n),
            variance_method: design.method(),
            ..c
        };
        return finish(c, v);
    }
    finish(c, sa.variance + sb.variance - 2.0 * cov.total())
}

/// A level contrast with calibrated variance (`[variance] method =
/// "calibrated"`): the covariance of the two estimates from their residual
/// scores on the calibration variables, `z̃ = z − w h_c` over every row of
/// the country-wave (R's `svycontrast` on `svyby(..., covmat = TRUE)` of a
/// `rake()` / `calibrate()` design). The levels are disjoint, so
/// `Σ_{h,c} z̃_a z̃_b = −h_b,c Σ z_a w − h_a,c Σ z_b w + h_a,c h_b,c Σ w²`;
/// per stratum `cov_h = n_h/(n_h−1) [Σ_h z̃_a z̃_b − (Σ_h z̃_a)(Σ_h z̃_b)/n_h]`,
/// a lonely stratum uncentred.
fn calibrated_pair(which: Which<'_>, n_h: &[u64], st: &LevelStats, cal: &crate::engine::PreparedCal) -> Contrast {
    let (la, lb, y) = (which.off + which.a, which.off + which.b, which.y);
    let ia = st.infer_calibrated(la, y, n_h, cal);
    let ib = st.infer_calibrated(lb, y, n_h, cal);
    let sa = st.calibrated_scores(la, y, ia.estimate, cal);
    let sb = st.calibrated_scores(lb, y, ib.estimate, cal);
    let cc = st.c;
    let mut cov = Neumaier::new();
    let mut strata = 0i64;
    for (h, &size) in n_h.iter().enumerate() {
        let mut x = Neumaier::new();
        for c in 0..cc {
            let at = h * cc + c;
            x.add(-sb.h[c] * sa.zw[at]);
            x.add(-sa.h[c] * sb.zw[at]);
            x.add(sa.h[c] * sb.h[c] * cal.qt[at]);
        }
        let x = x.total();
        if size > 1 {
            let nf = size as f64;
            cov.add(nf / (nf - 1.0) * (x - sa.sz[h] * sb.sz[h] / nf));
        } else if size == 1 {
            cov.add(x);
        }
        let present = |l: usize| (0..cc * st.k).any(|i| st.n[((l * st.h + h) * cc) * st.k + i] > 0);
        strata += i64::from(present(la) || present(lb));
    }
    let c = which.contrast((ia.n, ia.estimate), (ib.n, ib.estimate), strata, "calibrated");
    finish(c, ia.variance + ib.variance - 2.0 * cov.total())
}

/// Wave contrasts: for every country with several waves, each wave minus
/// the previous one, for every row of tables.arrow present in both (in the
/// later wave's row order); countries in order of first appearance.
pub fn wave_contrasts(est: &[Estimate]) -> Vec<Contrast> {
    let mut waves: Vec<(&str, Vec<i32>)> = Vec::new();
    for e in est {
        match waves.iter_mut().find(|(c, _)| *c == e.country) {
            Some((_, ws)) => {
                if !ws.contains(&e.wave) {
                    ws.push(e.wave);
                }
            }
            None => waves.push((&e.country, vec![e.wave])),
        }
    }
    type Key<'a> = (&'a str, i32, &'a str, &'a str, &'a str, &'a str);
    let index: HashMap<Key<'_>, &Estimate> = est
        .iter()
        .map(|e| {
            (
                (
                    e.country.as_str(),
                    e.wave,
                    e.item.as_str(),
                    e.domain.as_str(),
                    e.domain_level.as_str(),
                    e.category.as_str(),
                ),
                e,
            )
        })
        .collect();
    let mut out = Vec::new();
    for (country, mut ws) in waves {
        ws.sort_unstable();
        for pair in ws.windows(2) {
            let (prev, wave) = (pair[0], pair[1]);
            for a in est.iter().filter(|e| e.country == country && e.wave == wave) {
                let key = (
                    country,
                    prev,
                    a.item.as_str(),
                    a.domain.as_str(),
                    a.domain_level.as_str(),
                    a.category.as_str(),
                );
                let Some(b) = index.get(&key) else { continue };
                let c = Contrast {
                    country: country.to_string(),
                    kind: ContrastKind::Wave,
                    wave_a: wave,
                    wave_b: prev,
                    item: a.item.clone(),
                    domain: a.domain.clone(),
                    level_a: a.domain_level.clone(),
                    level_b: b.domain_level.clone(),
                    category: a.category.clone(),
                    n_a: a.n,
                    n_b: b.n,
                    estimate_a: a.estimate,
                    estimate_b: b.estimate,
                    difference: a.estimate - b.estimate,
                    se: 0.0,
                    ci_low: None,
                    ci_high: None,
                    df: a.df + b.df,
                    p_value: None,
                    variance_method: if a.variance_method == b.variance_method {
                        a.variance_method
                    } else {
                        "mixed"
                    },
                };
                out.push(finish(c, a.se * a.se + b.se * b.se));
            }
        }
    }
    out
}

/// The schema of contrasts.arrow (schema version in its metadata).
pub fn schema() -> Schema {
    let text = |n: &str| Field::new(n, DataType::Utf8, false);
    let float = |n: &str, nullable| Field::new(n, DataType::Float64, nullable);
    swvr_core::io::with_version(Schema::new(vec![
        text("country"),
        text("contrast"),
        Field::new("wave_a", DataType::Int32, false),
        Field::new("wave_b", DataType::Int32, false),
        text("item"),
        text("domain"),
        text("level_a"),
        text("level_b"),
        text("category"),
        Field::new("n_a", DataType::Int64, false),
        Field::new("n_b", DataType::Int64, false),
        float("estimate_a", false),
        float("estimate_b", false),
        float("difference", false),
        float("se", false),
        float("ci_low", true),
        float("ci_high", true),
        Field::new("df", DataType::Int64, false),
        float("p_value", true),
        text("variance_method"),
    ]))
}

/// The contrasts as one record batch of [`schema`].
pub fn to_batch(rows: &[Contrast]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let s = |f: fn(&Contrast) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(rows.iter().map(f))) };
    let i32s = |f: fn(&Contrast) -> i32| -> ArrayRef { Arc::new(Int32Array::from_iter_values(rows.iter().map(f))) };
    let i64s = |f: fn(&Contrast) -> i64| -> ArrayRef { Arc::new(Int64Array::from_iter_values(rows.iter().map(f))) };
    let f64s = |f: fn(&Contrast) -> f64| -> ArrayRef { Arc::new(Float64Array::from_iter_values(rows.iter().map(f))) };
    let opts = |f: fn(&Contrast) -> Option<f64>| -> ArrayRef { Arc::new(Float64Array::from_iter(rows.iter().map(f))) };
    let cols: Vec<ArrayRef> = vec![
        s(|c| &c.country),
        s(|c| c.kind.as_str()),
        i32s(|c| c.wave_a),
        i32s(|c| c.wave_b),
        s(|c| &c.item),
        s(|c| &c.domain),
        s(|c| &c.level_a),
        s(|c| &c.level_b),
        s(|c| &c.category),
        i64s(|c| c.n_a as i64),
        i64s(|c| c.n_b as i64),
        f64s(|c| c.estimate_a),
        f64s(|c| c.estimate_b),
        f64s(|c| c.difference),
        f64s(|c| c.se),
        opts(|c| c.ci_low),
        opts(|c| c.ci_high),
        i64s(|c| c.df),
        opts(|c| c.p_value),
        s(|c| c.variance_method),
    ];
    RecordBatch::try_new(Arc::new(schema()), cols)
}

/// Writes contrasts.arrow atomically: [`schema`] with the questionnaire's
/// labels and the provenance of `input` (the weighted data's schema).
pub fn write_arrow(path: &Path, rows: &[Contrast], q: &Questionnaire, input: &Schema) -> Result<(), IoError> {
    use swvr_core::labels;
    let err = |source| IoError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let schema = Arc::new(labels::inherit(
        labels::label_schema(schema(), q, &labels::Provenance::default()),
        input,
    ));
    let batch = to_batch(rows).map_err(err)?;
    let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(err)?;
    swvr_core::io::write_arrow(path, &schema, &[batch])
}
