//! Files written by PSPP (an independent writer of the SPSS format): a
//! very long string (300 bytes, two segments) in uncompressed,
//! bytecode-compressed and zlib-compressed files. Skips visibly without pspp.
#![allow(missing_docs, clippy::unwrap_used)]

use swvr_statfile::{Kind, Reader, Record, Value};

#[test]
fn very_long_strings_written_by_pspp() {
    if std::process::Command::new("pspp").arg("--version").output().is_err() {
        println!("SKIPPED: pspp not found");
        return;
    }
    let dir = std::env::temp_dir().join(format!("swvr-statfile-pspp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let syntax = "DATA LIST LIST /n (F8.0).\nBEGIN DATA.\n1\n2\nEND DATA.\n\
                  STRING s (A300).\nCOMPUTE s = RPAD(STRING(n, F1.0), 300, 'y').\n\
                  SAVE OUTFILE='long.sav' /UNCOMPRESSED.\nSAVE OUTFILE='longc.sav' /COMPRESSED.\n\
                  SAVE OUTFILE='long.zsav' /ZCOMPRESSED.\n";
    std::fs::write(dir.join("long.sps"), syntax).unwrap();
    let out = std::process::Command::new("pspp")
        .arg("long.sps")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    for f in ["long.sav", "longc.sav", "long.zsav"] {
        let mut r = Reader::open(&dir.join(f)).unwrap();
        let v = r.variables();
        assert_eq!(v.len(), 2, "{f}: the segments are one variable");
        assert_eq!((v[1].name.as_str(), v[1].kind), ("s", Kind::Text), "{f}");
        let mut rec = Record::default();
        for n in 1..=2 {
            assert!(r.next_record(&mut rec).unwrap(), "{f}");
            assert_eq!(rec.get(0), Value::Num(f64::from(n)), "{f}");
            let want = format!("{n}{}", "y".repeat(299));
            assert_eq!(rec.get(1), Value::Text(want.as_bytes()), "{f}");
        }
        assert!(!r.next_record(&mut rec).unwrap(), "{f}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
