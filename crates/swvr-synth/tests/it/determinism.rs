//! Same inputs, same bytes: seeds, threads, country lists, the fixtures.

use std::sync::atomic::Ordering;

use swvr_synth::{CHUNK_ROWS, SynthOptions, synth};

use crate::{Counter, TempDir, fixtures, generate, read_bundle, records};

fn opts(n: u64, countries: &[&str], seed: u64) -> SynthOptions {
    SynthOptions {
        respondents: n,
        countries: countries.iter().map(|s| s.to_string()).collect(),
        seed,
        wave: 2021,
    }
}

#[test]
fn fixtures_regenerate_byte_identically() {
    let (r, d, t) = generate(&SynthOptions::default());
    let (fr, fd, ft) = read_bundle(&fixtures());
    assert!(
        r == fr,
        "respondents.csv differs from fixtures/ (regenerate with `swvr synth --out fixtures`)"
    );
    assert_eq!(String::from_utf8(d).unwrap(), String::from_utf8(fd).unwrap());
    assert_eq!(String::from_utf8(t).unwrap(), String::from_utf8(ft).unwrap());
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let a = generate(&opts(3000, &["KEN", "SEN", "LBN"], 7));
    let b = generate(&opts(3000, &["KEN", "SEN", "LBN"], 7));
    let c = generate(&opts(3000, &["KEN", "SEN", "LBN"], 8));
    assert!(a == b);
    assert!(a.0 != c.0);
    // design and targets do not depend on the seed
    assert_eq!(a.1, c.1);
    assert_eq!(a.2, c.2);
}

#[test]
fn bytes_independent_of_thread_count() {
    // several chunks per country, so the parallel window matters
    let o = opts(3 * (2 * CHUNK_ROWS + 123), &["BOL", "SEN", "UZB"], 11);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let dir = TempDir::new("threads");
        let counter = Counter::default();
        pool.install(|| synth(&dir.0, &o, &counter)).unwrap();
        assert_eq!(counter.0.load(Ordering::Relaxed), o.respondents);
        assert_eq!(counter.1.load(Ordering::Relaxed), o.respondents);
        read_bundle(&dir.0)
    };
    let one = run(1);
    let two = run(2);
    let three = run(3);
    assert!(one == two && two == three);
}

#[test]
fn country_rows_independent_of_country_list() {
    let n = CHUNK_ROWS + 500;
    let (alone, _, _) = generate(&opts(n, &["KEN"], 2021));
    let (with, _, _) = generate(&opts(3 * n, &["BOL", "KEN", "THA"], 2021));
    let pick = |b: &[u8]| -> Vec<String> {
        String::from_utf8(b.to_vec())
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("KEN,"))
            .map(String::from)
            .collect()
    };
    let a = pick(&alone);
    assert_eq!(a.len() as u64, n);
    assert_eq!(a, pick(&with));
    // and the default fixtures' KEN rows are those of a KEN-only run of 1000
    let (k1000, _, _) = generate(&opts(1000, &["KEN"], 2021));
    let (fr, _, _) = read_bundle(&fixtures());
    assert_eq!(pick(&k1000), pick(&fr));
}

#[test]
fn split_gives_remainder_to_first() {
    assert_eq!(swvr_synth::split(10, 3), vec![4, 3, 3]);
    let (r, _, _) = generate(&opts(10, &["TUR", "BOL", "IND"], 1));
    let (_, rows) = records(&r);
    let countries: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(countries.iter().filter(|c| **c == "TUR").count(), 4);
    assert_eq!(countries[0], "TUR"); // the requested order
    assert_eq!(countries.iter().filter(|c| **c == "IND").count(), 3);
}
