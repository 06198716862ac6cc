//! Base weights by hand (contract section 3).

use swvr_weight::base::{BaseWeight, Counts, Frame, base_weight};
use swvr_weight::inputs::{Design, FrameDesign};
use swvr_weight::scheme::{BaseScheme, Method};

fn fd(n: f64, big_n: f64) -> Option<FrameDesign> {
    Some(FrameDesign {
        frame_size: big_n,
        sample_size: n,
        line: 2,
    })
}

fn scheme(method: Method) -> BaseScheme {
    BaseScheme {
        method,
        lambda: 0.3,
        cap_adults: 4,
        cap_landlines: 3,
        cap_mobiles: 3,
    }
}

fn counts(a: Option<i32>, l: Option<i32>, m: Option<i32>) -> Counts {
    Counts {
        n_adults: a,
        n_landlines: l,
        n_mobiles: m,
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
}

fn bw(frame: Frame, c: Counts, d: &Design, m: Method) -> BaseWeight {
    base_weight(frame, c, d, &scheme(m)).unwrap()
}

const MOBILE_ONLY: Design = Design {
    landline: None,
    mobile: Some(FrameDesign {
        frame_size: 1_000_000.0,
        sample_size: 1000.0,
        line: 2,
    }),
};

#[test]
fn mobile_only_country() {
    // pM = 0.001 * 2 ; landline count ignored without an L frame.
    let w = bw(
        Frame::Mobile,
        counts(Some(3), Some(1), Some(2)),
        &MOBILE_ONLY,
        Method::Multiplicity,
    );
    close(w.weight, 500.0);
    assert_eq!(w.p_landline, 0.0);
    assert!(!w.adults_imputed && !w.landlines_imputed && !w.mobiles_imputed);
    // Cap on mobiles: 5 -> 3.
    let w = bw(
        Frame::Mobile,
        counts(Some(1), None, Some(5)),
        &MOBILE_ONLY,
        Method::Multiplicity,
    );
    close(w.weight, 1000.0 / 3.0);
    // Blank landlines in a mobile-only country: not used, so not a substitution.
    assert!(!w.landlines_imputed);
}

#[test]
fn landline_single_frame_user_with_caps() {
    let d = Design {
        landline: fd(500.0, 50_000.0),
        mobile: fd(500.0, 1_000_000.0),
    };
    // pL = 0.01 * 1 / 3, no mobile.
    let w = bw(
        Frame::Landline,
        counts(Some(3), Some(1), Some(0)),
        &d,
        Method::Multiplicity,
    );
    close(w.weight, 300.0);
    close(w.p_landline, 0.01 / 3.0);
    assert!(!w.dual());
    // Caps: adults 10 -> 4, landlines 7 -> 3: pL = 0.01 * 3 / 4.
    let w = bw(
        Frame::Landline,
        counts(Some(10), Some(7), Some(0)),
        &d,
        Method::Multiplicity,
    );
    close(w.weight, 400.0 / 3.0);
    // Hartley gives the same to a single-frame user.
    let h = bw(Frame::Landline, counts(Some(10), Some(7), Some(0)), &d, Method::Hartley);
    close(h.weight, 400.0 / 3.0);
}

#[test]
fn dual_users_multiplicity_and_hartley() {
    let d = Design {
        landline: fd(500.0, 50_000.0),
        mobile: fd(500.0, 1_000_000.0),
    };
    let c = counts(Some(2), Some(1), Some(2));
    let pl = 0.01 * 1.0 / 2.0;
    let pm = 0.0005 * 2.0;
    let w = bw(Frame::Landline, c, &d, Method::Multiplicity);
    assert!(w.dual());
    close(w.weight, 1.0 / (pl + pm - pl * pm));
    // Drawn from M: the multiplicity weight does not depend on the frame.
    close(bw(Frame::Mobile, c, &d, Method::Multiplicity).weight, w.weight);
    // Hartley, lambda = 0.3.
    close(bw(Frame::Landline, c, &d, Method::Hartley).weight, 0.3 / pl);
    close(bw(Frame::Mobile, c, &d, Method::Hartley).weight, 0.7 / pm);
}

#[test]
fn blank_count_substitution_is_flagged() {
    let d = Design {
        landline: fd(500.0, 50_000.0),
        mobile: fd(500.0, 1_000_000.0),
    };
    // Drawn from L, landlines and adults blank: both taken as 1; mobiles blank: 0.
    let w = bw(Frame::Landline, counts(None, None, None), &d, Method::Multiplicity);
    close(w.weight, 100.0);
    assert!(w.adults_imputed && w.landlines_imputed && w.mobiles_imputed);
    assert!(!w.dual());
    // Drawn from M with blank mobiles: 1; blank landlines: 0 (so n_adults not needed).
    let w = bw(Frame::Mobile, counts(None, None, None), &d, Method::Multiplicity);
    close(w.weight, 2000.0);
    assert!(w.mobiles_imputed && w.landlines_imputed && !w.adults_imputed);
    // Drawn from M with a landline but blank adults: n_adults taken as 1.
    let w = bw(Frame::Mobile, counts(None, Some(1), Some(1)), &d, Method::Multiplicity);
    assert!(w.adults_imputed && !w.landlines_imputed && !w.mobiles_imputed);
    let (pl, pm) = (0.01, 0.0005);
    close(w.weight, 1.0 / (pl + pm - pl * pm));
}

#[test]
fn frame_without_design_row_is_none() {
    assert!(
        base_weight(
            Frame::Landline,
            counts(Some(1), Some(1), None),
            &MOBILE_ONLY,
            &scheme(Method::Multiplicity)
        )
        .is_none()
    );
}
