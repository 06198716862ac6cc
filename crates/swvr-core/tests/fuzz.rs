//! Property-based fuzzing (proptest) of the questionnaire parser, the
//! Arrow readers and the readers of design.csv and targets.csv: mutated
//! inputs give a value or an error, never a panic, and what is accepted
//! keeps its invariants.
//!
//! A short run is part of `cargo test`; a longer one (docs/fuzzing.md):
//! `SWVR_FUZZ_CASES=20000 cargo test --release -p swvr-core --test fuzz`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int8Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;
use swvr_core::bundle::{read_design, read_targets};
use swvr_core::io::{arrow_rows, read_arrow, read_arrow_columns, with_version, write_arrow};
use swvr_core::questionnaire::{DEFAULT_2021_TOML, Questionnaire};

mod mutate;
use mutate::{apply, config, edits};

const TOML_BYTES: &[u8] = b"[]=\"'#\n\r ,.-+0123456789eEaxyzQtrufls_{}\\";

proptest! {
    #![proptest_config(config(256))]

    /// The questionnaire parser on mutations of the real definition.
    #[test]
    fn questionnaire_parser_never_panics(e in edits(TOML_BYTES, 6)) {
        let text = apply(DEFAULT_2021_TOML.as_bytes(), &e);
        let text = String::from_utf8_lossy(&text);
        match Questionnaire::from_toml_str(&text, "q.toml") {
            Ok(q) => {
                // Accepted definitions are usable: the schema builds, and the
                // definition passes its own checks when parsed again.
                let schema = swvr_core::schema::respondent_schema(&q, &[]);
                prop_assert!(schema.fields().len() >= 8);
            }
            Err(err) => {
                let msg = err.to_string();
                prop_assert!(msg.starts_with("q.toml: "), "{msg}");
            }
        }
    }
}

/// A folder under the system's temporary folder, removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("swvr-core-fuzz-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small Arrow file with the column kinds the stages exchange: text with
/// nulls, codes, weights; two batches.
fn arrow_file(name: &str, rows: usize) -> (Temp, Vec<u8>) {
    let dir = Temp::new(name);
    let path = dir.join("base.arrow");
    let schema = with_version(Schema::new(vec![
        Field::new("country", DataType::Utf8, false),
        Field::new("Q1", DataType::Int8, true),
        Field::new("weight", DataType::Float64, false),
        Field::new("language", DataType::Utf8, true),
    ]));
    let batch = |n: usize, shift: usize| {
        RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| ["KEN", "SEN", "BOL"][(i + shift) % 3]),
                )),
                Arc::new(Int8Array::from_iter(
                    (0..n).map(|i| (i % 4 != 0).then_some((i % 3) as i8 + 1)),
                )),
                Arc::new(Float64Array::from_iter_values((0..n).map(|i| 0.5 + i as f64 / 7.0))),
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then(|| "swahili".repeat(i % 3))),
                )),
            ],
        )
        .unwrap()
    };
    write_arrow(&path, &schema, &[batch(rows, 0), batch(rows / 2, 1)]).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (dir, bytes)
}

fn check_read(path: &std::path::Path) -> Result<(), TestCaseError> {
    let show = path.display().to_string();
    for result in [read_arrow(path), read_arrow_columns(path, &["weight", "language"])] {
        match result {
            Ok(batch) => {
                for col in batch.columns() {
                    // Whatever is accepted is valid Arrow.
                    prop_assert!(col.to_data().validate_full().is_ok());
                }
            }
            Err(err) => {
                let msg = err.to_string();
                prop_assert!(msg.starts_with(&show), "{msg}");
                prop_assert!(!msg.contains('\n'), "{msg}");
            }
        }
    }
    if let Err(err) = arrow_rows(path) {
        prop_assert!(err.to_string().starts_with(&show));
    }
    Ok(())
}

const ARROW_BYTES: &[u8] = b"\x00\x01\x02\x04\x08\x10\x7f\x80\xff\xfe";

proptest! {
    #![proptest_config(config(128))]

    /// The Arrow readers on damaged files: bytes changed, inserted, removed,
    /// sections repeated, the file cut short.
    #[test]
    fn arrow_readers_never_panic(e in edits(ARROW_BYTES, 4), id in any::<u64>()) {
        let (dir, base) = arrow_file("prop", 37);
        let path = dir.join(&format!("damaged-{id}.arrow"));
        std::fs::write(&path, apply(&base, &e)).unwrap();
        let res = check_read(&path);
        let _ = std::fs::remove_file(&path);
        res?;
    }
}

#[test]
fn every_single_byte_change_of_a_small_file_is_read_or_refused() {
    // Deterministic sweep: each byte of the file set to 0x00 and 0xFF
    // (without the checks in swvr_core::io, arrow panics on some of them).
    let (dir, base) = arrow_file("sweep", 6);
    let path = dir.join("sweep.arrow");
    for i in 0..base.len() {
        for v in [0x00, 0xff] {
            let mut b = base.clone();
            b[i] = v;
            std::fs::write(&path, &b).unwrap();
            check_read(&path).unwrap_or_else(|e| panic!("byte {i} = {v:#x}: {e}"));
        }
    }
}

/// What CSV is made of, and what breaks it.
const CSV_BYTES: &[u8] = b",,\"\"\r\n\n 0123456789KENSLM.;=-x\t";

const DESIGN: &str = "country,wave,frame,frame_size,sample_size\n\
KEN,2021,M,1000000,1000\n\
SEN,2021,L,500000,300\n\
SEN,2021,M,900000,700\n";

const TARGETS: &str = "country,wave,variable,category,share\n\
KEN,2021,sex,1,0.5\n\
KEN,2021,sex,2,0.5\n\
SEN,2021,sex,1,0.49\n\
SEN,2021,sex,2,0.51\n";

proptest! {
    #![proptest_config(config(128))]

    /// design.csv and targets.csv mutated: read, or one error naming the file.
    #[test]
    fn design_and_targets_mutations_are_read_or_named(e in edits(CSV_BYTES, 6), design in any::<bool>()) {
        let t = Temp::new("bundle");
        let (name, base) = if design { ("design.csv", DESIGN) } else { ("targets.csv", TARGETS) };
        let path = t.join(name);
        std::fs::write(&path, apply(base.as_bytes(), &e)).unwrap();
        let res = if design {
            read_design(&path).map(|_| ())
        } else {
            read_targets(&path).map(|_| ())
        };
        if let Err(err) = res {
            let msg = err.to_string();
            prop_assert!(msg.starts_with(&path.display().to_string()), "{msg}");
            prop_assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
