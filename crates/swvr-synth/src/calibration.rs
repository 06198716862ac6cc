//! The calibration table: one entry per 2021 country, with the published
//! figures the generated answers are tuned to, the census-like targets,
//! strata, frames and interview languages.
//!
//! Sources (SWVR 2022, Chapter 3 and Appendix E; see `shared/seed/BRIEF.md`):
//! - `action`: Fig. 3.3, volunteer action rate 2020, men / women.
//! - `q4b`: Table 3.1, civic participation change among Q4A = yes,
//!   increased / decreased.
//! - `q8c`, `q8d`, `q8e`: Table 3.2, share "likely", **women / men**
//!   (the order of the published table).
//! - `or_q7`: Appendix E, Table A2, odds ratios of planning to volunteer
//!   (Q7) for yes to Q1, Q3A, Q3B, Q3C. Where the report prints "n.s." we
//!   use a small odds ratio (1.1–1.3), so a weighted logistic regression of
//!   the generated data recovers the direction and size of the table.
//!
//! Not published (plausible values, ours): the targets (census-like shares
//! of the population 15+), frame sizes, strata, languages, Q7 intercept.

/// Everything the generator knows about one country.
#[derive(Debug, Clone, Copy)]
pub struct Country {
    /// ISO3 code.
    pub code: &'static str,
    /// Strata (region names) with their relative sizes. For a dual-frame
    /// country the strata are frame × region: `L` regions then `M` regions.
    pub strata_m: &'static [(&'static str, f64)],
    /// Landline-frame strata (empty for a mobile-only country).
    pub strata_l: &'static [(&'static str, f64)],
    /// Mobile numbers in the frame.
    pub frame_m: u64,
    /// Landline numbers in the frame (0: no landline frame).
    pub frame_l: u64,
    /// Share of completes from the landline frame (0 when no `L` frame).
    pub share_l: f64,
    /// Target shares: sex (male, female).
    pub t_sex: [f64; 2],
    /// Target shares: age bands 15-29, 30-44, 45-59, 60+.
    pub t_age: [f64; 4],
    /// Target shares: education primary, secondary, tertiary.
    pub t_edu: [f64; 3],
    /// Target shares: employed, not employed.
    pub t_emp: [f64; 2],
    /// Target shares: rural/village, small town, large city, suburb.
    pub t_urb: [f64; 4],
    /// Fig. 3.3: volunteer action rate, men / women.
    pub action: [f64; 2],
    /// Table 3.1: Q4B increased / decreased among Q4A = yes.
    pub q4b: [f64; 2],
    /// Table 3.2: Q8C likely, women / men.
    pub q8c: [f64; 2],
    /// Table 3.2: Q8D likely, women / men.
    pub q8d: [f64; 2],
    /// Table 3.2: Q8E likely, women / men.
    pub q8e: [f64; 2],
    /// Table A2: odds ratios of Q7 = yes for yes to Q1, Q3A, Q3B, Q3C.
    pub or_q7: [f64; 4],
    /// Log-odds of Q7 = yes for a reference respondent (no to Q1, Q3A–C).
    pub q7_intercept: f64,
    /// Interview languages with their shares.
    pub languages: &'static [(&'static str, f64)],
}

/// The eight 2021 countries (sorted by code).
pub const COUNTRIES: [Country; 8] = [
    Country {
        code: "BOL",
        strata_m: &[("BOL-Altiplano", 0.38), ("BOL-Valles", 0.29), ("BOL-Llanos", 0.33)],
        strata_l: &[],
        frame_m: 12_400_000,
        frame_l: 0,
        share_l: 0.0,
        t_sex: [0.495, 0.505],
        t_age: [0.38, 0.28, 0.19, 0.15],
        t_edu: [0.40, 0.42, 0.18],
        t_emp: [0.62, 0.38],
        t_urb: [0.30, 0.15, 0.40, 0.15],
        action: [0.81, 0.75],
        q4b: [0.21, 0.37],
        q8c: [0.48, 0.54],
        q8d: [0.60, 0.59],
        q8e: [0.65, 0.75],
        or_q7: [3.94, 2.33, 1.2, 1.15],
        q7_intercept: -0.6,
        languages: &[("es", 0.90), ("qu", 0.06), ("ay", 0.04)],
    },
    Country {
        code: "IND",
        strata_m: &[
            ("IND-North", 0.27),
            ("IND-East", 0.24),
            ("IND-West", 0.17),
            ("IND-South", 0.21),
            ("IND-Central", 0.07),
            ("IND-Northeast", 0.04),
        ],
        strata_l: &[],
        frame_m: 1_150_000_000,
        frame_l: 0,
        share_l: 0.0,
        t_sex: [0.515, 0.485],
        t_age: [0.37, 0.29, 0.20, 0.14],
        t_edu: [0.45, 0.40, 0.15],
        t_emp: [0.47, 0.53],
        t_urb: [0.55, 0.15, 0.20, 0.10],
        action: [0.82, 0.81],
        q4b: [0.33, 0.46],
        q8c: [0.47, 0.47],
        q8d: [0.39, 0.42],
        q8e: [0.48, 0.48],
        or_q7: [7.86, 2.93, 1.2, 1.1],
        q7_intercept: -1.0,
        languages: &[
            ("hi", 0.52),
            ("en", 0.12),
            ("bn", 0.10),
            ("te", 0.09),
            ("mr", 0.09),
            ("ta", 0.08),
        ],
    },
    Country {
        code: "KEN",
        strata_m: &[
            ("KEN-Nairobi", 0.16),
            ("KEN-Coast", 0.12),
            ("KEN-RiftValley", 0.30),
            ("KEN-Western", 0.20),
            ("KEN-CentralEastern", 0.22),
        ],
        strata_l: &[],
        frame_m: 61_000_000,
        frame_l: 0,
        share_l: 0.0,
        t_sex: [0.495, 0.505],
        t_age: [0.45, 0.29, 0.16, 0.10],
        t_edu: [0.50, 0.38, 0.12],
        t_emp: [0.65, 0.35],
        t_urb: [0.60, 0.12, 0.18, 0.10],
        action: [0.95, 0.90],
        q4b: [0.36, 0.43],
        q8c: [0.68, 0.77],
        q8d: [0.61, 0.74],
        q8e: [0.77, 0.87],
        or_q7: [1.2, 2.71, 2.19, 1.15],
        q7_intercept: -0.2,
        languages: &[("en", 0.45), ("sw", 0.55)],
    },
    Country {
        code: "LBN",
        strata_m: &[("LBN-National", 1.0)],
        strata_l: &[],
        frame_m: 4_600_000,
        frame_l: 0,
        share_l: 0.0,
        t_sex: [0.49, 0.51],
        t_age: [0.32, 0.28, 0.22, 0.18],
        t_edu: [0.30, 0.45, 0.25],
        t_emp: [0.45, 0.55],
        t_urb: [0.12, 0.20, 0.45, 0.23],
        action: [0.75, 0.75],
        q4b: [0.20, 0.23],
        q8c: [0.35, 0.42],
        q8d: [0.56, 0.58],
        q8e: [0.65, 0.68],
        or_q7: [1.2, 1.78, 2.46, 2.66],
        q7_intercept: -0.8,
        languages: &[("ar", 0.82), ("en", 0.10), ("fr", 0.08)],
    },
    Country {
        code: "SEN",
        strata_m: &[
            ("SEN-M-Dakar", 0.30),
            ("SEN-M-Thies", 0.15),
            ("SEN-M-Centre", 0.25),
            ("SEN-M-NordEst", 0.16),
            ("SEN-M-Sud", 0.14),
        ],
        strata_l: &[("SEN-L-Dakar", 0.52), ("SEN-L-Thies", 0.20), ("SEN-L-Autres", 0.28)],
        frame_m: 19_000_000,
        frame_l: 330_000,
        share_l: 0.30,
        t_sex: [0.49, 0.51],
        t_age: [0.46, 0.28, 0.16, 0.10],
        t_edu: [0.62, 0.28, 0.10],
        t_emp: [0.50, 0.50],
        t_urb: [0.52, 0.13, 0.25, 0.10],
        action: [0.99, 0.97],
        q4b: [0.40, 0.44],
        q8c: [0.83, 0.82],
        q8d: [0.66, 0.66],
        q8e: [0.85, 0.83],
        or_q7: [1.2, 1.25, 2.86, 2.47],
        q7_intercept: -0.4,
        languages: &[("fr", 0.45), ("wo", 0.55)],
    },
    Country {
        code: "THA",
        strata_m: &[
            ("THA-Bangkok", 0.17),
            ("THA-Central", 0.25),
            ("THA-North", 0.17),
            ("THA-Northeast", 0.28),
            ("THA-South", 0.13),
        ],
        strata_l: &[],
        frame_m: 96_000_000,
        frame_l: 0,
        share_l: 0.0,
        t_sex: [0.485, 0.515],
        t_age: [0.25, 0.27, 0.27, 0.21],
        t_edu: [0.45, 0.37, 0.18],
        t_emp: [0.67, 0.33],
        t_urb: [0.45, 0.15, 0.28, 0.12],
        action: [0.77, 0.82],
        q4b: [0.25, 0.23],
        q8c: [0.45, 0.56],
        q8d: [0.54, 0.56],
        q8e: [0.64, 0.72],
        or_q7: [1.25, 1.2, 1.98, 2.06],
        q7_intercept: -0.7,
        languages: &[("th", 1.0)],
    },
    Country {
        code: "TUR",
        strata_m: &[
            ("TUR-Istanbul", 0.19),
            ("TUR-Marmara", 0.13),
            ("TUR-AegeanMediterranean", 0.24),
            ("TUR-CentralAnatolia", 0.16),
            ("TUR-BlackSea", 0.10),
            ("TUR-EastSoutheast", 0.18),
        ],
        strata_l: &[],
        frame_m: 83_000_000,
        frame_l: 0,
        share_l: 0.0,
        t_sex: [0.50, 0.50],
        t_age: [0.30, 0.30, 0.23, 0.17],
        t_edu: [0.45, 0.35, 0.20],
        t_emp: [0.48, 0.52],
        t_urb: [0.07, 0.18, 0.55, 0.20],
        action: [0.82, 0.79],
        q4b: [0.18, 0.47],
        q8c: [0.41, 0.48],
        q8d: [0.40, 0.49],
        q8e: [0.59, 0.71],
        or_q7: [2.46, 1.2, 3.39, 2.41],
        q7_intercept: -0.9,
        languages: &[("tr", 0.93), ("ku", 0.07)],
    },
    Country {
        code: "UZB",
        strata_m: &[
            ("UZB-Tashkent", 0.22),
            ("UZB-Fergana", 0.30),
            ("UZB-Central", 0.28),
            ("UZB-West", 0.20),
        ],
        strata_l: &[],
        frame_m: 30_000_000,
        frame_l: 0,
        share_l: 0.0,
        t_sex: [0.495, 0.505],
        t_age: [0.38, 0.30, 0.20, 0.12],
        t_edu: [0.10, 0.70, 0.20],
        t_emp: [0.55, 0.45],
        t_urb: [0.49, 0.16, 0.25, 0.10],
        action: [0.96, 0.88],
        q4b: [0.29, 0.46],
        q8c: [0.42, 0.51],
        q8d: [0.39, 0.40],
        q8e: [0.52, 0.70],
        or_q7: [6.05, 1.2, 1.65, 1.15],
        q7_intercept: -1.1,
        languages: &[("uz", 0.78), ("ru", 0.22)],
    },
];

/// Strata of a country not in [`COUNTRIES`] (a generic mobile-only profile).
const GENERIC_STRATA: [&str; 4] = ["Region1", "Region2", "Region3", "Region4"];

/// How a phone sample differs from the population: the sample share of a
/// category is proportional to target share × this factor (more men, younger,
/// more educated, more urban, more often employed), so weighting moves the
/// estimates.
pub mod bias {
    /// Male, female.
    pub const SEX: [f64; 2] = [1.15, 0.87];
    /// 15-29, 30-44, 45-59, 60+.
    pub const AGE: [f64; 4] = [1.4, 1.15, 0.8, 0.45];
    /// Primary, secondary, tertiary.
    pub const EDU: [f64; 3] = [0.6, 1.1, 1.9];
    /// Employed, not employed.
    pub const EMP: [f64; 2] = [1.1, 0.88];
    /// Rural, small town, large city, suburb.
    pub const URB: [f64; 4] = [0.7, 0.95, 1.3, 1.2];
}

/// Numbers drawn from a frame per completed interview (RDD response and
/// eligibility rates), used for design.csv's `sample_size`.
pub const DRAWN_PER_COMPLETE_M: u64 = 9;
/// As [`DRAWN_PER_COMPLETE_M`], landline frame.
pub const DRAWN_PER_COMPLETE_L: u64 = 6;

/// The profile of `code`: the calibrated entry, or a generic mobile-only
/// profile (the averages of the table, four regions) for any other code.
pub fn profile(code: &str) -> Profile {
    match COUNTRIES.iter().find(|c| c.code == code) {
        Some(c) => Profile {
            c: *c,
            strata_m: c.strata_m.iter().map(|&(n, w)| (n.to_string(), w)).collect(),
            strata_l: c.strata_l.iter().map(|&(n, w)| (n.to_string(), w)).collect(),
        },
        None => {
            let mut c = COUNTRIES[0];
            let avg2 = |f: fn(&Country) -> [f64; 2]| {
                let mut a = [0.0; 2];
                for k in &COUNTRIES {
                    let v = f(k);
                    a[0] += v[0] / 8.0;
                    a[1] += v[1] / 8.0;
                }
                a
            };
            c.action = avg2(|k| k.action);
            c.q4b = avg2(|k| k.q4b);
            c.q8c = avg2(|k| k.q8c);
            c.q8d = avg2(|k| k.q8d);
            c.q8e = avg2(|k| k.q8e);
            c.or_q7 = [2.5, 1.8, 2.0, 1.8];
            c.q7_intercept = -0.8;
            c.frame_m = 20_000_000;
            c.languages = &[("en", 1.0)];
            Profile {
                c,
                strata_m: GENERIC_STRATA
                    .iter()
                    .zip([0.3, 0.3, 0.2, 0.2])
                    .map(|(n, w)| (format!("{code}-{n}"), w))
                    .collect(),
                strata_l: Vec::new(),
            }
        }
    }
}

/// A country's parameters with owned stratum names.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The parameters (`code` is that of the template for generic countries).
    pub c: Country,
    /// Mobile-frame strata.
    pub strata_m: Vec<(String, f64)>,
    /// Landline-frame strata.
    pub strata_l: Vec<(String, f64)>,
}
