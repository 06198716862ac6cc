//! One respondent row: frame, stratum, phone counts, demographics, answers,
//! formatted straight into a byte buffer (no allocation per row).

use swvr_core::questionnaire::Questionnaire;

use crate::calibration::{Profile, bias};
use crate::rng::Rng;

/// The items the generator answers, in the column order of respondents.csv.
pub const ITEMS: [&str; 17] = [
    "Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q4B", "Q4B_1", "Q5A", "Q6", "Q6A", "Q7", "Q8A", "Q8B", "Q8C", "Q8D", "Q8E",
];

/// Extra columns that real exports carry and ingest must pass through.
pub const EXTRA_COLUMNS: [&str; 2] = ["language", "duration_s"];

/// The header line of respondents.csv (with the trailing newline): the
/// required columns of the 2021 questionnaire in schema order
/// ([`swvr_core::schema::required_columns`]), then [`EXTRA_COLUMNS`].
pub fn header() -> String {
    let q = swvr_core::questionnaire::Questionnaire::default_2021();
    let mut cols = swvr_core::schema::required_columns(&q);
    cols.extend(EXTRA_COLUMNS.iter().map(|c| c.to_string()));
    let mut s = cols.join(",");
    s.push('\n');
    s
}

const Q1: usize = 0;
const Q2: usize = 1;
const Q3A: usize = 2;
const Q3B: usize = 3;
const Q3C: usize = 4;
const Q4A: usize = 5;
const Q4B: usize = 6;
const Q4B_1: usize = 7;
const Q5A: usize = 8;
const Q6: usize = 9;
const Q6A: usize = 10;
const Q7: usize = 11;
const Q8A: usize = 12;

/// The items of the volunteer action indicator (Fig. 3.3).
const ACTION_ITEMS: [usize; 7] = [Q1, Q2, Q3A, Q3B, Q3C, Q4A, Q5A];
/// P(yes) of each action item for a respondent who took part in at least
/// one form of volunteering (before conditioning on "at least one yes").
const ACTION_P_YES: [f64; 7] = [0.45, 0.35, 0.20, 0.30, 0.60, 0.35, 0.45];

/// DK and refused rates of yes/no items.
const DK: f64 = 0.015;
const REFUSED: f64 = 0.006;

/// Q6 for volunteers: increased, decreased, same, did not volunteer, DK, refused.
const Q6_ACTIVE: [(i8, f64); 6] = [(1, 0.28), (2, 0.34), (3, 0.33), (4, 0.02), (8, 0.02), (9, 0.01)];
/// Q6 for non-volunteers.
const Q6_INACTIVE: [(i8, f64); 6] = [(1, 0.02), (2, 0.06), (3, 0.08), (4, 0.80), (8, 0.03), (9, 0.01)];

/// Small effects on the volunteer action rate, centred on the targets so
/// that the weighted rate by sex stays at Fig. 3.3 (scaled by min(p, 1-p)).
const ACTION_EFF_AGE: [f64; 4] = [0.15, 0.05, -0.05, -0.2];
const ACTION_EFF_EDU: [f64; 3] = [-0.2, 0.0, 0.3];

/// Demographic log-odds effects on Q7 (Table A2: "typically no significant
/// effect"): female, age bands 2–4, secondary, tertiary, urban, not employed.
const Q7_FEMALE: f64 = -0.05;
const Q7_AGE: [f64; 4] = [0.0, 0.05, -0.05, -0.15];
const Q7_EDU: [f64; 3] = [0.0, 0.1, 0.15];
const Q7_URBAN: f64 = 0.05;
const Q7_NOT_EMPLOYED: f64 = -0.05;

/// Routing read from the questionnaire: for each item of [`ITEMS`], the
/// index of the item it depends on and the codes that route to it (a bit
/// set over codes 0–127).
#[derive(Debug, Clone)]
pub struct Routing {
    rules: Vec<(usize, usize, u128)>,
}

impl Routing {
    /// The routing of `q` for [`ITEMS`] (items of `q` not in [`ITEMS`] are ignored).
    pub fn from_questionnaire(q: &Questionnaire) -> Self {
        let rules = ITEMS
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                let r = q.item(id)?.asked_if.as_ref()?;
                let parent = ITEMS.iter().position(|p| *p == r.item)?;
                let mask = r
                    .codes
                    .iter()
                    .filter(|c| **c >= 0)
                    .fold(0u128, |m, c| m | (1u128 << (*c as u32)));
                Some((i, parent, mask))
            })
            .collect();
        Self { rules }
    }

    /// Blanks (0) every item whose rule is false, in interview order, so a
    /// blank parent blanks its children.
    #[inline]
    pub fn apply(&self, vals: &mut [i8; 17]) {
        for &(i, parent, mask) in &self.rules {
            let v = vals[parent];
            if v <= 0 || mask & (1u128 << (v as u32)) == 0 {
                vals[i] = 0;
            }
        }
    }
}

fn cumulative(w: &[f64]) -> Vec<f64> {
    let total: f64 = w.iter().sum();
    let mut acc = 0.0;
    let mut out: Vec<f64> = w
        .iter()
        .map(|x| {
            acc += x / total;
            acc
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
    out
}

fn biased(target: &[f64], factor: &[f64]) -> Vec<f64> {
    cumulative(&target.iter().zip(factor).map(|(t, f)| t * f).collect::<Vec<_>>())
}

fn centred(eff: &[f64], target: &[f64]) -> Vec<f64> {
    let mean: f64 = eff.iter().zip(target).map(|(e, t)| e * t).sum();
    eff.iter().map(|e| e - mean).collect()
}

/// A country prepared for generation: cumulative distributions and the
/// number of landline-frame completes.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The profile.
    pub profile: Profile,
    /// Output code of the country.
    pub code: String,
    /// Respondents of this country.
    pub n: u64,
    /// Rows `0..n_l` come from the landline frame, the rest from mobile.
    pub n_l: u64,
    cum_strata_m: Vec<f64>,
    cum_strata_l: Vec<f64>,
    cum_sex: Vec<f64>,
    cum_age: Vec<f64>,
    cum_edu: Vec<f64>,
    cum_emp: Vec<f64>,
    cum_urb: Vec<f64>,
    cum_lang: Vec<f64>,
    eff_age: Vec<f64>,
    eff_edu: Vec<f64>,
    ln_or: [f64; 4],
    id_width: usize,
}

impl Prepared {
    /// Prepares `code` with `n` respondents.
    pub fn new(code: &str, profile: Profile, n: u64) -> Self {
        let c = &profile.c;
        let n_l = if c.frame_l > 0 {
            (n as f64 * c.share_l).round() as u64
        } else {
            0
        };
        let w = |s: &[(String, f64)]| s.iter().map(|x| x.1).collect::<Vec<_>>();
        let digits = n.max(1).to_string().len();
        Self {
            cum_strata_m: cumulative(&w(&profile.strata_m)),
            cum_strata_l: cumulative(&w(&profile.strata_l)),
            cum_sex: biased(&c.t_sex, &bias::SEX),
            cum_age: biased(&c.t_age, &bias::AGE),
            cum_edu: biased(&c.t_edu, &bias::EDU),
            cum_emp: biased(&c.t_emp, &bias::EMP),
            cum_urb: biased(&c.t_urb, &bias::URB),
            cum_lang: cumulative(&c.languages.iter().map(|x| x.1).collect::<Vec<_>>()),
            eff_age: centred(&ACTION_EFF_AGE, &c.t_age),
            eff_edu: centred(&ACTION_EFF_EDU, &c.t_edu),
            ln_or: c.or_q7.map(f64::ln),
            id_width: digits.max(6),
            code: code.to_string(),
            n,
            n_l,
            profile,
        }
    }
}

#[inline]
fn yes_no(rng: &mut Rng, p_yes: f64) -> i8 {
    let u = rng.uniform();
    if u < DK {
        8
    } else if u < DK + REFUSED {
        9
    } else if rng.bernoulli(p_yes) {
        1
    } else {
        2
    }
}

#[inline]
fn categorical(rng: &mut Rng, dist: &[(i8, f64)]) -> i8 {
    let u = rng.uniform();
    let mut acc = 0.0;
    for &(code, p) in dist {
        acc += p;
        if u < acc {
            return code;
        }
    }
    dist.last().map_or(0, |x| x.0)
}

#[inline]
fn likely(rng: &mut Rng, p: f64) -> i8 {
    let u = rng.uniform();
    if u < p {
        1
    } else if u < p + 0.02 {
        8
    } else if u < p + 0.02 + REFUSED {
        9
    } else {
        2
    }
}

/// A coded demographic: `dk` then `refused` probabilities, else a draw from `cum` (codes 1..).
#[inline]
fn coded(rng: &mut Rng, dk: f64, refused: f64, cum: &[f64]) -> (i8, Option<usize>) {
    let u = rng.uniform();
    if u < dk {
        (8, None)
    } else if u < dk + refused {
        (9, None)
    } else {
        let k = rng.pick(cum);
        (k as i8 + 1, Some(k))
    }
}

/// A phone count, blank (None) with probability 0.5% although asked.
#[inline]
fn count(rng: &mut Rng, dist: &[f64], first: u32) -> (Option<u32>, u32) {
    let v = first + rng.pick(dist) as u32;
    if rng.bernoulli(0.005) { (None, v) } else { (Some(v), v) }
}

const CUM_MOBILES: [f64; 3] = [0.75, 0.95, 1.0];
const CUM_ADULTS: [f64; 8] = [0.12, 0.34, 0.54, 0.70, 0.82, 0.90, 0.96, 1.0];
const CUM_LANDLINES_L: [f64; 2] = [0.85, 1.0];
const CUM_MOBILES_L: [f64; 4] = [0.22, 0.77, 0.95, 1.0];
const CUM_LANDLINES_M: [f64; 3] = [0.78, 0.97, 1.0];

fn push_uint(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn push_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_uint(buf, v.unsigned_abs(), 0);
}

fn push_opt(buf: &mut Vec<u8>, v: Option<u32>) {
    buf.push(b',');
    if let Some(v) = v {
        push_uint(buf, u64::from(v), 0);
    }
}

/// Appends the row of respondent `idx` (0-based within its country) to `buf`.
pub fn row(rng: &mut Rng, p: &Prepared, routing: &Routing, wave: i32, idx: u64, buf: &mut Vec<u8>) {
    let c = &p.profile.c;
    let landline_frame = idx < p.n_l;

    // Design.
    let (stratum, frame) = if landline_frame {
        (&p.profile.strata_l[rng.pick(&p.cum_strata_l)].0, b'L')
    } else {
        (&p.profile.strata_m[rng.pick(&p.cum_strata_m)].0, b'M')
    };
    let (n_adults, n_landlines, n_mobiles) = if c.frame_l == 0 {
        (None, None, count(rng, &CUM_MOBILES, 1).0)
    } else if landline_frame {
        let a = count(rng, &CUM_ADULTS, 1).0;
        let l = count(rng, &CUM_LANDLINES_L, 1).0;
        let m = count(rng, &CUM_MOBILES_L, 0).0;
        (a, l, m)
    } else {
        let m = count(rng, &CUM_MOBILES, 1).0;
        let (l, l_true) = count(rng, &CUM_LANDLINES_M, 0);
        let a = if l_true > 0 { count(rng, &CUM_ADULTS, 1).0 } else { None };
        (a, l, m)
    };

    // Demographics (phone-sample distributions: see calibration::bias).
    let sex: i8 = if rng.bernoulli(0.002) {
        9
    } else {
        rng.pick(&p.cum_sex) as i8 + 1
    };
    let u = rng.uniform();
    let (age, band): (u32, Option<usize>) = if u < 0.0025 {
        (998, None)
    } else if u < 0.005 {
        (999, None)
    } else {
        let b = rng.pick(&p.cum_age);
        let a = match b {
            0 => rng.range(15, 29),
            1 => rng.range(30, 44),
            2 => rng.range(45, 59),
            _ => 60 + (36.0 * rng.uniform().powf(1.8)) as u32,
        };
        (a, Some(b))
    };
    let (education, edu) = coded(rng, 0.006, 0.004, &p.cum_edu);
    let (employment, emp) = coded(rng, 0.006, 0.004, &p.cum_emp);
    let (urbanicity, urb) = coded(rng, 0.003, 0.002, &p.cum_urb);

    // Volunteer action (Fig. 3.3): P(active) by sex, small centred effects.
    let by_sex = |v: [f64; 2], male_first: bool| -> f64 {
        let (m, f) = if male_first { (v[0], v[1]) } else { (v[1], v[0]) };
        match sex {
            1 => m,
            2 => f,
            _ => 0.5 * (m + f),
        }
    };
    let p_sex = by_sex(c.action, true);
    let s = p_sex.min(1.0 - p_sex);
    let eff = band.map_or(0.0, |b| p.eff_age[b]) + edu.map_or(0.0, |e| p.eff_edu[e]);
    let active = rng.bernoulli(p_sex + s * eff);

    let mut v = [0i8; 17];
    if active {
        // Conditional on at least one yes (rejection; bounded).
        let mut ok = false;
        for _ in 0..64 {
            for (k, &i) in ACTION_ITEMS.iter().enumerate() {
                v[i] = yes_no(rng, ACTION_P_YES[k]);
            }
            routing.apply(&mut v);
            if ACTION_ITEMS.iter().any(|&i| v[i] == 1) {
                ok = true;
                break;
            }
        }
        if !ok {
            v[Q3C] = 1;
        }
    } else {
        for &i in &ACTION_ITEMS {
            v[i] = yes_no(rng, 0.0);
        }
    }

    // Table 3.1: Q4B among Q4A = yes.
    let u = rng.uniform();
    let (inc, dec) = (c.q4b[0], c.q4b[1]);
    v[Q4B] = if u < inc {
        1
    } else if u < inc + dec {
        2
    } else if u < inc + dec + 0.02 {
        8
    } else if u < inc + dec + 0.025 {
        9
    } else {
        3
    };
    v[Q4B_1] = yes_no(rng, 0.2);
    v[Q6] = categorical(rng, if active { &Q6_ACTIVE } else { &Q6_INACTIVE });
    v[Q6A] = yes_no(rng, 0.4);

    // Table A2: Q7 from a logistic model in Q1, Q3A, Q3B, Q3C and demographics.
    let u = rng.uniform();
    v[Q7] = if u < 0.02 {
        8
    } else if u < 0.02 + REFUSED {
        9
    } else {
        let mut eta = c.q7_intercept;
        for (k, &i) in [Q1, Q3A, Q3B, Q3C].iter().enumerate() {
            if v[i] == 1 {
                eta += p.ln_or[k];
            }
        }
        if sex == 2 {
            eta += Q7_FEMALE;
        }
        eta += band.map_or(0.0, |b| Q7_AGE[b]);
        eta += edu.map_or(0.0, |e| Q7_EDU[e]);
        if matches!(urb, Some(2 | 3)) {
            eta += Q7_URBAN;
        }
        if emp == Some(1) {
            eta += Q7_NOT_EMPLOYED;
        }
        if rng.bernoulli(1.0 / (1.0 + (-eta).exp())) {
            1
        } else {
            2
        }
    };

    // Table 3.2 (women / men): Q8C–E; Q8A, Q8B plausible neighbours.
    let q8e = by_sex(c.q8e, false);
    let q8d = by_sex(c.q8d, false);
    let q8c = by_sex(c.q8c, false);
    for (k, pl) in [(q8e + 0.05).min(0.92), (q8d - 0.03).max(0.1), q8c, q8d, q8e]
        .into_iter()
        .enumerate()
    {
        v[Q8A + k] = likely(rng, pl);
    }
    routing.apply(&mut v);

    let lang = c.languages[rng.pick(&p.cum_lang)].0;
    let mut duration = 150 + rng.range(0, 60) + rng.range(0, 60) + rng.range(0, 60) + rng.range(0, 60);
    if rng.bernoulli(0.05) {
        duration += rng.range(0, 600);
    }

    // Format.
    buf.extend_from_slice(p.code.as_bytes());
    buf.push(b',');
    push_int(buf, i64::from(wave));
    buf.push(b',');
    buf.extend_from_slice(p.code.as_bytes());
    buf.push(b'-');
    push_uint(buf, idx + 1, p.id_width);
    buf.push(b',');
    buf.push(frame);
    buf.push(b',');
    buf.extend_from_slice(stratum.as_bytes());
    push_opt(buf, n_adults);
    push_opt(buf, n_landlines);
    push_opt(buf, n_mobiles);
    for d in [
        i64::from(sex),
        i64::from(age),
        i64::from(education),
        i64::from(employment),
        i64::from(urbanicity),
    ] {
        buf.push(b',');
        push_int(buf, d);
    }
    for x in v {
        buf.push(b',');
        if x != 0 {
            buf.push(b'0' + x as u8);
        }
    }
    buf.push(b',');
    buf.extend_from_slice(lang.as_bytes());
    buf.push(b',');
    push_uint(buf, u64::from(duration), 0);
    buf.push(b'\n');
}
