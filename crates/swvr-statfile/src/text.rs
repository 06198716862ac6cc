//! The character encodings of text in the files: UTF-8 (SPSS Unicode mode,
//! Stata 14+), and the single-byte Windows-1252 and ISO-8859-1 of older
//! SPSS files and Stata 13, transcoded to UTF-8.

/// A file's text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// UTF-8 (and ASCII): bytes kept as they are.
    Utf8,
    /// ISO-8859-1: each byte is the code point.
    Latin1,
    /// Windows-1252: ISO-8859-1 except 0x80–0x9F.
    Windows1252,
}

/// Windows-1252 code points of bytes 0x80–0x9F (undefined ones kept as the
/// C1 control of the same value, as WHATWG's decoder does).
const CP1252: [u16; 32] = [
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D,
    0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
    0x0153, 0x009D, 0x017E, 0x0178,
];

impl Encoding {
    /// The encoding of an IANA or SPSS name (case-insensitive); `None` for
    /// one not read here.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        let n: String = name
            .trim()
            .trim_end_matches('\0')
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        match n.as_str() {
            "utf8" | "usascii" | "ascii" | "ansix341968" => Some(Encoding::Utf8),
            "iso88591" | "latin1" | "l1" | "iso885911987" => Some(Encoding::Latin1),
            "windows1252" | "cp1252" | "ibm1252" => Some(Encoding::Windows1252),
            _ => None,
        }
    }

    /// The encoding of a Windows code page number (SPSS machine integer
    /// info record); `None` for one not read here.
    pub(crate) fn from_codepage(cp: i32) -> Option<Self> {
        match cp {
            65001 | 20127 => Some(Encoding::Utf8),
            28591 => Some(Encoding::Latin1),
            1252 => Some(Encoding::Windows1252),
            _ => None,
        }
    }

    /// Appends `b` decoded into UTF-8 to `out`.
    #[inline]
    pub(crate) fn decode_into(self, b: &[u8], out: &mut Vec<u8>) {
        if self == Encoding::Utf8 || b.is_ascii() {
            out.extend_from_slice(b);
            return;
        }
        let mut buf = [0u8; 4];
        for &c in b {
            let cp = match (self, c) {
                (_, 0..=0x7F) => {
                    out.push(c);
                    continue;
                }
                (Encoding::Windows1252, 0x80..=0x9F) => u32::from(CP1252[usize::from(c - 0x80)]),
                _ => u32::from(c),
            };
            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }

    /// `b` decoded into a `String` (invalid UTF-8 replaced: for names and labels).
    pub(crate) fn decode(self, b: &[u8]) -> String {
        let mut v = Vec::with_capacity(b.len());
        self.decode_into(b, &mut v);
        String::from_utf8_lossy(&v).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_byte_encodings_become_utf8() {
        assert_eq!(Encoding::Windows1252.decode(b"caf\xE9 \x80"), "café €");
        assert_eq!(Encoding::Latin1.decode(b"caf\xE9"), "café");
        assert_eq!(Encoding::Utf8.decode("café".as_bytes()), "café");
        assert_eq!(Encoding::from_name("UTF-8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::from_name("windows-1252"), Some(Encoding::Windows1252));
        assert_eq!(Encoding::from_name("Shift_JIS"), None);
        assert_eq!(Encoding::from_codepage(65001), Some(Encoding::Utf8));
    }
}
