//! Dual-frame base weights (contract section 3).
//!
//! # Formula
//! With sampling fractions `fL = n_L/N_L`, `fM = n_M/N_M` (design.csv) and
//! capped counts `a = min(n_adults, cap_adults)`, `l = min(n_landlines,
//! cap_landlines)`, `m = min(n_mobiles, cap_mobiles)`:
//! - `pL = fL · l / a` when the country has an `L` frame and `l > 0`, else 0;
//! - `pM = fM · m` when the country has an `M` frame and `m > 0`, else 0;
//! - multiplicity (single-frame estimator, Bankier 1986; Kalton & Anderson
//!   1986): `1 / (pL + pM − pL·pM)`;
//! - Hartley (1962, 1974) composite: single-frame users `1/pL` or `1/pM`;
//!   dual users `λ/pL` when drawn from `L`, `(1−λ)/pM` when drawn from `M`.
//!
//! Blank counts: the count of the frame the respondent was drawn from is
//! taken as 1, `n_adults` as 1 where `pL` needs it, a blank count of the
//! other frame as 0 (not reachable there). A count of 0 for the frame the
//! respondent was drawn from contradicts the draw and is also taken as 1.
//! Every substitution is flagged (a count of a frame the country does not
//! have is never used, so its blank is not a substitution). Selection
//! probabilities are capped at 1.

use crate::inputs::Design;
use crate::scheme::{BaseScheme, Method};

/// The frame a respondent's number was drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Landline frame (`L`).
    Landline,
    /// Mobile frame (`M`).
    Mobile,
}

/// Reported household and phone counts (`None` = blank / not asked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// People aged 15+ in the household.
    pub n_adults: Option<i32>,
    /// Landline numbers ringing in the household.
    pub n_landlines: Option<i32>,
    /// Mobile numbers the respondent personally answers.
    pub n_mobiles: Option<i32>,
}

/// A base weight and the substitutions made to compute it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseWeight {
    /// The base weight (inverse selection probability, or Hartley's composite).
    pub weight: f64,
    /// Landline selection probability used.
    pub p_landline: f64,
    /// Mobile selection probability used.
    pub p_mobile: f64,
    /// `n_adults` was substituted.
    pub adults_imputed: bool,
    /// `n_landlines` was substituted.
    pub landlines_imputed: bool,
    /// `n_mobiles` was substituted.
    pub mobiles_imputed: bool,
}

impl BaseWeight {
    /// Reachable from both frames.
    pub fn dual(&self) -> bool {
        self.p_landline > 0.0 && self.p_mobile > 0.0
    }
}

/// The count of a phone frame after the blank-count rule: `(value, substituted)`.
fn frame_count(count: Option<i32>, drawn_here: bool) -> (i64, bool) {
    match (count, drawn_here) {
        (None, true) => (1, true),
        (None, false) => (0, true),
        (Some(c), true) if c < 1 => (1, true),
        (Some(c), _) => (i64::from(c.max(0)), false),
    }
}

/// Base weight of one respondent drawn from `frame`, or `None` when the
/// design has no row for `frame` (the caller reports it).
pub fn base_weight(frame: Frame, counts: Counts, design: &Design, scheme: &BaseScheme) -> Option<BaseWeight> {
    match frame {
        Frame::Landline if design.landline.is_none() => return None,
        Frame::Mobile if design.mobile.is_none() => return None,
        _ => {}
    }
    let (landlines, mut landlines_imputed) = frame_count(counts.n_landlines, frame == Frame::Landline);
    let (mobiles, mut mobiles_imputed) = frame_count(counts.n_mobiles, frame == Frame::Mobile);
    // A count of a frame the country does not have is never used: no substitution.
    landlines_imputed &= design.landline.is_some();
    mobiles_imputed &= design.mobile.is_some();
    let mut adults_imputed = false;
    let p_landline = match design.landline {
        Some(fd) if landlines > 0 => {
            let adults = match counts.n_adults {
                Some(a) if a >= 1 => i64::from(a),
                _ => {
                    adults_imputed = true;
                    1
                }
            };
            let l = landlines.min(i64::from(scheme.cap_landlines)) as f64;
            let a = adults.min(i64::from(scheme.cap_adults)) as f64;
            (fd.fraction() * l / a).min(1.0)
        }
        _ => 0.0,
    };
    let p_mobile = match design.mobile {
        Some(fd) if mobiles > 0 => (fd.fraction() * mobiles.min(i64::from(scheme.cap_mobiles)) as f64).min(1.0),
        _ => 0.0,
    };
    let weight = match scheme.method {
        Method::Multiplicity => 1.0 / (p_landline + p_mobile - p_landline * p_mobile),
        Method::Hartley => {
            if p_landline > 0.0 && p_mobile > 0.0 {
                match frame {
                    Frame::Landline => scheme.lambda / p_landline,
                    Frame::Mobile => (1.0 - scheme.lambda) / p_mobile,
                }
            } else if p_landline > 0.0 {
                1.0 / p_landline
            } else {
                1.0 / p_mobile
            }
        }
    };
    Some(BaseWeight {
        weight,
        p_landline,
        p_mobile,
        adults_imputed,
        landlines_imputed,
        mobiles_imputed,
    })
}
