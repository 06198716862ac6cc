//! Issue 14: property-based fuzzing (proptest) of the model-specification
//! parser on mutations of the built-in specification and of the 2025
//! wave's: a specification or an error naming the file, never a panic; an
//! accepted specification's effective TOML (`model/spec.toml`) reads back
//! to an equal specification.
//!
//! A short run is part of `cargo test`; a longer one (docs/fuzzing.md):
//! `SWVR_FUZZ_CASES=20000 cargo test --release -p swvr-model --test it fuzz`.

use std::path::Path;

use proptest::prelude::*;
use swvr_model::{DEFAULT_SPEC_TOML, ModelSpec};

use crate::mutate::{apply, config, edits};

const TOML_BYTES: &[u8] = b"[]=\"'#\n\r ,.-+0123456789eEaxyzlogitfirthQ_{}\\";
const WAVE2025: &str = include_str!("../../../../fixtures/wave2025/spec.toml");

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn spec_parser_never_panics(e in edits(TOML_BYTES, 6), which in any::<bool>()) {
        let base = if which { DEFAULT_SPEC_TOML } else { WAVE2025 };
        let text = apply(base.as_bytes(), &e);
        let text = String::from_utf8_lossy(&text);
        match ModelSpec::from_toml(&text, Path::new("m.toml")) {
            Ok(m) => {
                let again = ModelSpec::from_toml(&m.to_toml(), Path::new("effective.toml"));
                prop_assert!(again.is_ok(), "effective TOML refused: {:?}\n{}", again.err(), m.to_toml());
                if let Ok(again) = again {
                    prop_assert_eq!(again, m);
                }
            }
            Err(err) => {
                let msg = err.to_string();
                prop_assert!(msg.starts_with("m.toml"), "{msg}");
            }
        }
    }
}
