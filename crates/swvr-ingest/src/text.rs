//! Byte-level helpers: trimming, integer parsing, escaping for messages.

/// Strips ASCII spaces and tabs around a value.
#[inline(always)]
pub(crate) fn trim(mut b: &[u8]) -> &[u8] {
    match b {
        [] => return b,
        [f, .., l] | [f @ l] if !matches!(f, b' ' | b'\t') && !matches!(l, b' ' | b'\t') => return b,
        _ => {}
    }
    while let [first, rest @ ..] = b {
        if *first == b' ' || *first == b'\t' {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if *last == b' ' || *last == b'\t' {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// A trimmed value read as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Int {
    /// Empty after trimming.
    Blank,
    /// An integer (saturated beyond ±10^18).
    Value(i64),
    /// Not an integer.
    Invalid,
}

/// Parses an optionally signed decimal integer (no decimal point, no exponent).
#[inline(always)]
pub(crate) fn parse_int(b: &[u8]) -> Int {
    match *b {
        [d] if d.is_ascii_digit() => return Int::Value(i64::from(d - b'0')),
        [d, e] if d.is_ascii_digit() && e.is_ascii_digit() => {
            return Int::Value(i64::from(d - b'0') * 10 + i64::from(e - b'0'));
        }
        _ => {}
    }
    parse_int_slow(b)
}

fn parse_int_slow(b: &[u8]) -> Int {
    let (neg, digits) = match b {
        [] => return Int::Blank,
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, b),
    };
    if digits.is_empty() {
        return Int::Invalid;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Int::Invalid;
        }
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    Int::Value(if neg { -v } else { v })
}

/// True when `b` is UTF-8 (ASCII checked first, the common case).
#[inline(always)]
pub(crate) fn is_utf8(b: &[u8]) -> bool {
    b.is_ascii() || std::str::from_utf8(b).is_ok()
}

/// True for three upper-case ASCII letters.
#[inline]
pub(crate) fn is_iso3(b: &[u8]) -> bool {
    b.len() == 3 && b.iter().all(u8::is_ascii_uppercase)
}

/// Writes `bytes` as text: valid UTF-8 as is, each invalid byte as `\xNN`.
pub(crate) fn escape_raw(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
}

/// A value for a reason or an error message (one rule for every file of a bundle).
pub(crate) use swvr_core::bundle::show;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_parses() {
        assert_eq!(trim(b"  12 \t"), b"12");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(parse_int(b""), Int::Blank);
        assert_eq!(parse_int(b"-3"), Int::Value(-3));
        assert_eq!(parse_int(b"+7"), Int::Value(7));
        assert_eq!(parse_int(b"1.0"), Int::Invalid);
        assert_eq!(parse_int(b"-"), Int::Invalid);
        assert_eq!(parse_int(b"7"), Int::Value(7));
        assert_eq!(parse_int(b"42"), Int::Value(42));
        assert_eq!(parse_int(b"4a"), Int::Invalid);
        assert_eq!(parse_int(b"-12"), Int::Value(-12));
        assert_eq!(trim(b"x"), b"x");
        assert_eq!(trim(b" "), b"");
        assert_eq!(trim(b"\tx"), b"x");
        assert!(is_utf8("é".as_bytes()) && !is_utf8(b"\xFF"));
        assert_eq!(parse_int(b"99999999999999999999999"), Int::Value(i64::MAX));
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        escape_raw(b"a\xFFb\xC3\xA9", &mut s);
        assert_eq!(s, "a\\xFFbé");
    }
}
