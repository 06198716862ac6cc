//! AAPOR final disposition codes for telephone surveys and the outcome rates
//! of the Standard Definitions (AAPOR, *Standard Definitions: Final
//! Dispositions of Case Codes and Outcome Rates for Surveys*, 9th edition,
//! 2016, Table 1 and "Calculating rates from response distributions").

/// The outcome class of a final disposition code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Complete interview (1.1).
    I,
    /// Partial interview (1.2).
    P,
    /// Refusal and break-off (2.10).
    R,
    /// Non-contact (2.20).
    NC,
    /// Other eligible non-interview (2.30).
    O,
    /// Unknown if household / working residential number (3.10).
    UH,
    /// Unknown eligibility, other (3.20, 3.90).
    UO,
    /// Not eligible (4.x).
    NE,
}

/// Final disposition codes for telephone surveys (Table 1 of the Standard
/// Definitions, with the group codes themselves), and their class.
pub const CODES: &[(&str, Class)] = &[
    ("1.1", Class::I),
    ("1.2", Class::P),
    ("2.10", Class::R),
    ("2.11", Class::R),
    ("2.111", Class::R),
    ("2.112", Class::R),
    ("2.12", Class::R),
    ("2.20", Class::NC),
    ("2.21", Class::NC),
    ("2.22", Class::NC),
    ("2.221", Class::NC),
    ("2.222", Class::NC),
    ("2.30", Class::O),
    ("2.31", Class::O),
    ("2.32", Class::O),
    ("2.33", Class::O),
    ("2.331", Class::O),
    ("2.332", Class::O),
    ("2.333", Class::O),
    ("2.34", Class::O),
    ("2.35", Class::O),
    ("2.36", Class::O),
    ("3.10", Class::UH),
    ("3.11", Class::UH),
    ("3.12", Class::UH),
    ("3.13", Class::UH),
    ("3.14", Class::UH),
    ("3.15", Class::UH),
    ("3.16", Class::UH),
    ("3.161", Class::UH),
    ("3.20", Class::UO),
    ("3.21", Class::UO),
    ("3.90", Class::UO),
    ("4.10", Class::NE),
    ("4.20", Class::NE),
    ("4.30", Class::NE),
    ("4.31", Class::NE),
    ("4.32", Class::NE),
    ("4.33", Class::NE),
    ("4.40", Class::NE),
    ("4.41", Class::NE),
    ("4.42", Class::NE),
    ("4.43", Class::NE),
    ("4.44", Class::NE),
    ("4.45", Class::NE),
    ("4.50", Class::NE),
    ("4.51", Class::NE),
    ("4.52", Class::NE),
    ("4.53", Class::NE),
    ("4.54", Class::NE),
    ("4.70", Class::NE),
    ("4.80", Class::NE),
    ("4.90", Class::NE),
];

/// The class of a disposition code as printed (`"3.13"`), `None` if unknown.
pub fn class_of(code: &str) -> Option<Class> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, k)| *k)
}

/// Numbers by outcome class.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Complete interviews.
    pub i: f64,
    /// Partial interviews.
    pub p: f64,
    /// Refusals and break-offs.
    pub r: f64,
    /// Non-contacts.
    pub nc: f64,
    /// Other eligible non-interviews.
    pub o: f64,
    /// Unknown if household.
    pub uh: f64,
    /// Unknown eligibility, other.
    pub uo: f64,
    /// Not eligible.
    pub ne: f64,
}

impl Counts {
    /// Adds one number of class `c`.
    pub fn add(&mut self, c: Class) {
        *match c {
            Class::I => &mut self.i,
            Class::P => &mut self.p,
            Class::R => &mut self.r,
            Class::NC => &mut self.nc,
            Class::O => &mut self.o,
            Class::UH => &mut self.uh,
            Class::UO => &mut self.uo,
            Class::NE => &mut self.ne,
        } += 1.0;
    }

    /// Sum of two count sets.
    pub fn plus(&self, o: &Counts) -> Counts {
        Counts {
            i: self.i + o.i,
            p: self.p + o.p,
            r: self.r + o.r,
            nc: self.nc + o.nc,
            o: self.o + o.o,
            uh: self.uh + o.uh,
            uo: self.uo + o.uo,
            ne: self.ne + o.ne,
        }
    }

    /// Known eligible: `I+P+R+NC+O`.
    pub fn eligible(&self) -> f64 {
        self.i + self.p + self.r + self.nc + self.o
    }

    /// Unknown eligibility: `UH+UO`.
    pub fn unknown(&self) -> f64 {
        self.uh + self.uo
    }

    /// Proportional allocation of eligibility among resolved numbers:
    /// `e = (I+P+R+NC+O) / (I+P+R+NC+O+NE)`; `None` when nothing was resolved.
    pub fn proportional_e(&self) -> Option<f64> {
        let resolved = self.eligible() + self.ne;
        (resolved > 0.0).then(|| self.eligible() / resolved)
    }
}

/// Names of the rates, in output order.
pub const RATE_NAMES: [&str; 16] = [
    "RR1", "RR2", "RR3", "RR4", "RR5", "RR6", "COOP1", "COOP2", "COOP3", "COOP4", "REF1", "REF2", "REF3", "CON1",
    "CON2", "CON3",
];

/// The sixteen rates of the Standard Definitions, in [`RATE_NAMES`] order.
/// `eu` is `e·(UH+UO)`, the estimated eligible among unknown-eligibility
/// numbers (for a combined dual-frame rate, `Σ_f e_f (UH_f+UO_f)`).
/// A rate whose denominator is 0 is `None`.
///
/// # Formula
/// With `IP = I+P`, `ROC = R+NC+O`, `U = UH+UO`:
/// - `RR1 = I/(IP+ROC+U)`, `RR2 = IP/(IP+ROC+U)`, `RR3 = I/(IP+ROC+eU)`,
///   `RR4 = IP/(IP+ROC+eU)`, `RR5 = I/(IP+ROC)`, `RR6 = IP/(IP+ROC)`;
/// - `COOP1 = I/(IP+R+O)`, `COOP2 = IP/(IP+R+O)`, `COOP3 = I/(IP+R)`, `COOP4 = IP/(IP+R)`;
/// - `REF1 = R/(IP+ROC+U)`, `REF2 = R/(IP+ROC+eU)`, `REF3 = R/(IP+ROC)`;
/// - `CON1 = (IP+R+O)/(IP+ROC+U)`, `CON2 = (IP+R+O)/(IP+ROC+eU)`, `CON3 = (IP+R+O)/(IP+ROC)`.
pub fn rates(c: &Counts, eu: f64) -> [Option<f64>; 16] {
    let ip = c.i + c.p;
    let roc = c.r + c.nc + c.o;
    let u = c.unknown();
    let all = ip + roc + u;
    let est = ip + roc + eu;
    let known = ip + roc;
    let contacted = ip + c.r + c.o;
    let div = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    [
        div(c.i, all),
        div(ip, all),
        div(c.i, est),
        div(ip, est),
        div(c.i, known),
        div(ip, known),
        div(c.i, contacted),
        div(ip, contacted),
        div(c.i, ip + c.r),
        div(ip, ip + c.r),
        div(c.r, all),
        div(c.r, est),
        div(c.r, known),
        div(contacted, all),
        div(contacted, est),
        div(contacted, known),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-worked case: I=400, P=50, R=300, NC=150, O=100, UH=800, UO=200, NE=1000.
    /// IP = 450, ROC = 550, U = 1000, eligible = 1000, e = 1000/2000 = 0.5, eU = 500.
    fn case() -> Counts {
        Counts {
            i: 400.0,
            p: 50.0,
            r: 300.0,
            nc: 150.0,
            o: 100.0,
            uh: 800.0,
            uo: 200.0,
            ne: 1000.0,
        }
    }

    fn rate(c: &Counts, e: f64, name: &str) -> Option<f64> {
        let k = RATE_NAMES.iter().position(|n| *n == name).unwrap_or(usize::MAX);
        rates(c, e * c.unknown())[k]
    }

    fn close(got: Option<f64>, want: f64) {
        let g = got.unwrap_or(f64::NAN);
        assert!((g - want).abs() < 1e-12, "got {g}, want {want}");
    }

    #[test]
    fn proportional_e() {
        close(case().proportional_e(), 0.5);
        assert_eq!(Counts::default().proportional_e(), None);
    }

    #[test]
    fn rr1() {
        close(rate(&case(), 0.5, "RR1"), 400.0 / 2000.0);
    }
    #[test]
    fn rr2() {
        close(rate(&case(), 0.5, "RR2"), 450.0 / 2000.0);
    }
    #[test]
    fn rr3() {
        close(rate(&case(), 0.5, "RR3"), 400.0 / 1500.0);
        // e = 0 gives RR5, e = 1 gives RR1.
        close(rate(&case(), 0.0, "RR3"), 400.0 / 1000.0);
        close(rate(&case(), 1.0, "RR3"), 400.0 / 2000.0);
    }
    #[test]
    fn rr4() {
        close(rate(&case(), 0.5, "RR4"), 450.0 / 1500.0);
        close(rate(&case(), 0.0, "RR4"), 450.0 / 1000.0);
        close(rate(&case(), 1.0, "RR4"), 450.0 / 2000.0);
    }
    #[test]
    fn rr5() {
        close(rate(&case(), 0.5, "RR5"), 400.0 / 1000.0);
    }
    #[test]
    fn rr6() {
        close(rate(&case(), 0.5, "RR6"), 450.0 / 1000.0);
    }
    #[test]
    fn coop1() {
        close(rate(&case(), 0.5, "COOP1"), 400.0 / 850.0);
    }
    #[test]
    fn coop2() {
        close(rate(&case(), 0.5, "COOP2"), 450.0 / 850.0);
    }
    #[test]
    fn coop3() {
        close(rate(&case(), 0.5, "COOP3"), 400.0 / 750.0);
    }
    #[test]
    fn coop4() {
        close(rate(&case(), 0.5, "COOP4"), 450.0 / 750.0);
    }
    #[test]
    fn ref1() {
        close(rate(&case(), 0.5, "REF1"), 300.0 / 2000.0);
    }
    #[test]
    fn ref2() {
        close(rate(&case(), 0.5, "REF2"), 300.0 / 1500.0);
        close(rate(&case(), 0.0, "REF2"), 300.0 / 1000.0);
        close(rate(&case(), 1.0, "REF2"), 300.0 / 2000.0);
    }
    #[test]
    fn ref3() {
        close(rate(&case(), 0.5, "REF3"), 300.0 / 1000.0);
    }
    #[test]
    fn con1() {
        close(rate(&case(), 0.5, "CON1"), 850.0 / 2000.0);
    }
    #[test]
    fn con2() {
        close(rate(&case(), 0.5, "CON2"), 850.0 / 1500.0);
        close(rate(&case(), 0.0, "CON2"), 850.0 / 1000.0);
        close(rate(&case(), 1.0, "CON2"), 850.0 / 2000.0);
    }
    #[test]
    fn con3() {
        close(rate(&case(), 0.5, "CON3"), 850.0 / 1000.0);
    }

    #[test]
    fn a_frame_with_no_unknown_eligibility_has_rr1_eq_rr3_eq_rr5() {
        let c = Counts {
            uh: 0.0,
            uo: 0.0,
            ..case()
        };
        for e in [0.0, 0.3, 1.0] {
            for (a, b) in [
                ("RR1", "RR3"),
                ("RR3", "RR5"),
                ("RR2", "RR6"),
                ("REF1", "REF3"),
                ("CON1", "CON2"),
            ] {
                assert_eq!(rate(&c, e, a), rate(&c, e, b), "{a} {b} e={e}");
            }
        }
        close(rate(&c, 0.5, "RR1"), 0.4);
        close(c.proportional_e(), 0.5);
    }

    #[test]
    fn empty_denominators_are_none() {
        let c = Counts {
            ne: 10.0,
            ..Counts::default()
        };
        assert!(rates(&c, 0.0).iter().all(Option::is_none));
    }

    #[test]
    fn codes_at_every_depth_and_unknown_codes() {
        assert_eq!(class_of("1.1"), Some(Class::I));
        assert_eq!(class_of("2.112"), Some(Class::R));
        assert_eq!(class_of("2.221"), Some(Class::NC));
        assert_eq!(class_of("2.333"), Some(Class::O));
        assert_eq!(class_of("3.13"), Some(Class::UH));
        assert_eq!(class_of("3.21"), Some(Class::UO));
        assert_eq!(class_of("4.31"), Some(Class::NE));
        for bad in ["5.1", "1.3", "2.1", "", "3.13 ", "4.60"] {
            assert_eq!(class_of(bad), None, "{bad}");
        }
    }
}
