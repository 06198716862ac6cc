//! Issue 14: property-based fuzzing (proptest) of the weighting-scheme
//! parser on mutations of the built-in scheme and of the 2025 wave's
//! scheme (bands, interaction margins, trimming): a scheme or an error
//! naming the file, never a panic; an accepted scheme's effective TOML
//! (what `weight/scheme.toml` holds) reads back to the same scheme.
//!
//! A short run is part of `cargo test`; a longer one (docs/fuzzing.md):
//! `SWVR_FUZZ_CASES=20000 cargo test --release -p swvr-weight --test it fuzz`.

use proptest::prelude::*;
use swvr_weight::Scheme;
use swvr_weight::scheme::DEFAULT_SCHEME_TOML;

use crate::mutate::{apply, config, edits};

const TOML_BYTES: &[u8] = b"[]=\"'#\n\r ,.-+*0123456789eEaxyzlowerupperbandsnan_{}\\";
const WAVE2025: &str = include_str!("../../../../fixtures/wave2025/scheme.toml");

fn check(base: &str, e: &[crate::mutate::Edit]) -> Result<(), TestCaseError> {
    let text = apply(base.as_bytes(), e);
    let text = String::from_utf8_lossy(&text);
    match Scheme::from_toml_str(&text, "s.toml") {
        Ok(s) => {
            let effective = s.to_toml();
            let again = Scheme::from_toml_str(&effective, "effective.toml");
            prop_assert!(again.is_ok(), "effective TOML refused: {:?}\n{effective}", again.err());
            if let Ok(again) = again {
                prop_assert_eq!(again.to_toml(), effective);
            }
        }
        Err(err) => {
            let msg = err.to_string();
            prop_assert!(msg.starts_with("s.toml"), "{msg}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn scheme_parser_never_panics(e in edits(TOML_BYTES, 6), which in any::<bool>()) {
        check(if which { DEFAULT_SCHEME_TOML } else { WAVE2025 }, &e)?;
    }
}
