//! Numbers as CSV text, fast and with exactly the bytes of Rust's `{}`:
//! a float is its shortest round-trip decimal digits written without an
//! exponent (`1e16` → `10000000000000000`, `1e-7` → `0.0000001`, `2.0` →
//! `2`, `-0.0` → `-0`, `NaN`, `inf`, `-inf`); an integer its decimal digits.
//!
//! The shortest digits come from `zmij` (Schubfach), which writes large and
//! small numbers with an exponent (`1e16`); [`NumFmt::push_f64`] takes its
//! digits and exponent and lays them out as `{}` does. Shortest round-trip
//! digits are the closest shortest decimal, so both algorithms find the same
//! ones, except at an exact tie: a double whose exact value lies halfway
//! between the two closest shortest decimals (`-2174330650677487.25`, whose
//! 17-digit neighbours `…487.2` and `…487.3` both read back to it: `{}`
//! writes `…487.3`, zmij `…487.2`). A tie needs an exact decimal expansion
//! of at most 18 significant digits, which [`short_exact`] recognises from
//! the bits; those doubles (`0.5`, `1.25`, …) go through `{}` itself. The
//! property tests below check every path against `format!("{}")` on random
//! bit patterns, random values of every magnitude, short dyadic fractions
//! and edge cases.

/// Formatting buffers, one per thread of work.
#[derive(Default)]
pub(crate) struct NumFmt {
    float: zmij::Buffer,
    int: itoa::Buffer,
}

impl NumFmt {
    /// Appends `v` as `format!("{v}")` would.
    #[inline]
    pub(crate) fn push_i64(&mut self, buf: &mut Vec<u8>, v: i64) {
        buf.extend_from_slice(self.int.format(v).as_bytes());
    }

    /// Appends `v` as `format!("{v}")` would.
    pub(crate) fn push_f64(&mut self, buf: &mut Vec<u8>, v: f64) {
        if !v.is_finite() {
            buf.extend_from_slice(if v.is_nan() {
                b"NaN"
            } else if v > 0.0 {
                b"inf"
            } else {
                b"-inf"
            });
            return;
        }
        if short_exact(v) {
            use std::io::Write;
            let _ = write!(buf, "{v}");
            return;
        }
        let s = self.float.format_finite(v).as_bytes();
        let (neg, s) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, s),
        };
        let (mant, exp) = match s.iter().position(|&c| c == b'e' || c == b'E') {
            Some(p) => (&s[..p], parse_exp(&s[p + 1..])),
            None => (s, 0),
        };
        let (int_part, frac_part) = match mant.iter().position(|&c| c == b'.') {
            Some(p) => (&mant[..p], &mant[p + 1..]),
            None => (mant, &[][..]),
        };
        if neg {
            buf.push(b'-');
        }
        // Fast path: plain notation from zmij (no exponent).
        if exp == 0 {
            let frac = trim_zeros(frac_part);
            buf.extend_from_slice(if int_part.is_empty() { b"0" } else { int_part });
            if !frac.is_empty() {
                buf.push(b'.');
                buf.extend_from_slice(frac);
            }
            return;
        }
        // digits × 10^(point − len): the decimal point sits after `point` digits.
        let mut digits: [u8; 40] = [0; 40];
        let mut n = 0usize;
        let mut point = int_part.len() as i64 + exp;
        for &c in int_part.iter().chain(frac_part) {
            if n == 0 && c == b'0' {
                point -= 1;
                continue;
            }
            if n < digits.len() {
                digits[n] = c;
                n += 1;
            }
        }
        while n > 0 && digits[n - 1] == b'0' {
            n -= 1;
        }
        let d = &digits[..n];
        if d.is_empty() {
            buf.push(b'0');
        } else if point <= 0 {
            buf.extend_from_slice(b"0.");
            buf.resize(buf.len() + (-point) as usize, b'0');
            buf.extend_from_slice(d);
        } else if point as usize >= n {
            buf.extend_from_slice(d);
            buf.resize(buf.len() + point as usize - n, b'0');
        } else {
            let p = point as usize;
            buf.extend_from_slice(&d[..p]);
            buf.push(b'.');
            buf.extend_from_slice(&d[p..]);
        }
    }
}

/// True when the exact value of the finite `v` has a fractional part and at
/// most 18 significant decimal digits: the only doubles whose shortest
/// round-trip digits can be an exact tie between two decimals. (An integer
/// cannot tie: below 2^53 it is its own shortest form; above, a tie at
/// `c·10^k + 5·10^(k−1)` would need a power of two of at most 2^(k−1) that is
/// also at least 10^k.)
fn short_exact(v: f64) -> bool {
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    };
    if m == 0 {
        return false;
    }
    let tz = m.trailing_zeros();
    let (m, e) = (m >> tz, e + tz as i32);
    if e >= 0 {
        return false;
    }
    // v = m / 2^f, so v·10^f = m·5^f: its digits are v's significant digits.
    let f = e.unsigned_abs();
    if f > 26 {
        return false;
    }
    u128::from(m) * 5u128.pow(f) < 10u128.pow(18)
}

/// `frac` without its trailing zeros (`"0"` of `1.0` → empty).
fn trim_zeros(frac: &[u8]) -> &[u8] {
    let mut end = frac.len();
    while end > 0 && frac[end - 1] == b'0' {
        end -= 1;
    }
    &frac[..end]
}

/// The exponent after `e`: an optional sign and decimal digits.
fn parse_exp(s: &[u8]) -> i64 {
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let v = s
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |a, &c| a * 10 + i64::from(c - b'0'));
    if neg { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(v: f64) -> String {
        let mut buf = Vec::new();
        NumFmt::default().push_f64(&mut buf, v);
        String::from_utf8(buf).unwrap_or_default()
    }

    fn check(v: f64) {
        assert_eq!(fast(v), format!("{v}"), "bits {:#018x}", v.to_bits());
    }

    #[test]
    fn edge_cases_are_written_as_display_writes_them() {
        let edge = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            2.0,
            0.1,
            0.5,
            1.5,
            100.0,
            1e15,
            1e16,
            1e17,
            1.2345e16,
            1e21,
            1e22,
            1e23,
            1e100,
            1e300,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 2.0,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::from_bits(0x000f_ffff_ffff_ffff),
            1e-5,
            1e-6,
            1e-7,
            1.5e-7,
            1e-300,
            f64::EPSILON,
            9007199254740992.0,
            9007199254740993.0,
            123456789012345680.0,
            0.30000000000000004,
            1.0 / 3.0,
            2.0 / 3.0,
            1234.5678,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for v in edge {
            check(v);
        }
        for k in -330..=310 {
            let p: f64 = format!("1e{k}").parse().unwrap_or(0.0);
            check(p);
            check(-p);
            check(p * 1.2345678901234567);
            check(p * 9.999999999999999);
        }
        for i in -100_000i64..=100_000 {
            check(i as f64);
            check(i as f64 / 1000.0);
        }
    }

    #[test]
    fn random_doubles_are_written_as_display_writes_them() {
        // SWVR_NUMFMT_SAMPLES=50000000 runs a longer check by hand.
        let samples: u64 = std::env::var("SWVR_NUMFMT_SAMPLES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        let mut rng = swvr_core::rng::Rng::new(11);
        for _ in 0..samples {
            // Every bit pattern: all exponents, subnormals, NaNs.
            check(f64::from_bits(rng.next_u64()));
            // Weights and shares: uniform values of every magnitude.
            let u = rng.uniform();
            let e = (rng.next_u64() % 40) as i32 - 20;
            check(u * 10f64.powi(e));
        }
    }

    #[test]
    fn exact_ties_and_short_fractions_are_written_as_display_writes_them() {
        // The tie zmij breaks the other way.
        check(f64::from_bits(0xc31e_e62b_383b_43bd));
        let mut rng = swvr_core::rng::Rng::new(7);
        for _ in 0..300_000 {
            // Large magnitudes with a few fractional bits: exact ties live here.
            let big = (rng.next_u64() >> 11) as f64;
            let j = (rng.next_u64() % 4) as i32;
            check(big / 2f64.powi(j));
            check(-big / 2f64.powi(j));
            // Short dyadic fractions of every size (0.5, 1.25, 3.375, …).
            let k = (rng.next_u64() % (1 << 40)) as f64;
            let d = (rng.next_u64() % 30) as i32;
            check(k / 2f64.powi(d));
        }
        for k in 0..=4096 {
            check(f64::from(k) / 1024.0);
            check(f64::from(k) / 1024.0 + 1e15);
        }
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut f = NumFmt::default();
        for v in [0, 1, -1, 9, 10, 99, 100, 2021, i64::MAX, i64::MIN, -1234567890123] {
            let mut buf = Vec::new();
            f.push_i64(&mut buf, v);
            assert_eq!(buf, v.to_string().as_bytes());
        }
    }
}
