//! Issue 14: OUT as swvr owns it (the lock, leftovers of killed runs,
//! files swvr did not write, stage paths, special files), the one atomic
//! switch under kills at every step, and the conversion of an older layout;
//! end to end through the binary (docs/out.md).

use std::path::Path;
use std::process::{Command, Output};

use super::{copy_fixtures, fixture_run, leftovers};
use crate::support::{ok, stderr, stdout, swvr, tempdir};

/// The one-line error of a failed command (no panic).
fn err_of(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let e = stderr(out);
    assert_ne!(out.status.code(), Some(101), "panic: {e}");
    assert_eq!(e.trim_end().lines().count(), 1, "one line expected: {e}");
    e.trim_end().to_string()
}

fn run_into(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    swvr(&args)
}

/// The PID of a process that has ended.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

#[test]
fn files_swvr_did_not_write_stop_the_run_and_are_kept() {
    let out = fixture_run("foreign", &["--country", "THA"]);
    let mine = out.join("tabulate/edited_report.md");
    std::fs::write(&mine, "my notes").unwrap();
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let e = err_of(&run_into(&out, &["--country", "THA"]));
    assert_eq!(
        e,
        format!(
            "swvr: error: {}: not written by swvr; swvr replaces its stage folders whole and deletes only files it wrote: move it out of {} and run again",
            mine.display(),
            out.display()
        )
    );
    // Stage commands refuse too (they replace the generation that holds it).
    let e = err_of(&swvr(&["tabulate", "--quiet", "--out", out.to_str().unwrap()]));
    assert!(e.contains("edited_report.md: not written by swvr"), "{e}");
    assert_eq!(std::fs::read(&mine).unwrap(), b"my notes");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    // Moved out of the stage folder into OUT: left alone and not hashed.
    std::fs::rename(&mine, out.join("notes.md")).unwrap();
    ok(&run_into(&out, &["--country", "THA"]));
    assert_eq!(std::fs::read(out.join("notes.md")).unwrap(), b"my notes");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(!manifest.contains("notes.md"), "{manifest}");
    assert!(manifest.contains("\"tabulate/report.md\""));
}

/// The manifest lists exactly what the run wrote: nothing else in OUT, and
/// a special file in OUT is never opened (no hang); in a stage folder it is
/// refused by name.
#[cfg(unix)]
#[test]
fn special_and_foreign_files_in_out_are_never_hashed_nor_a_hang() {
    let dir = tempdir("special");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    mkfifo(&out.join("pipe.json"));
    std::fs::write(out.join("mine.arrow"), "not arrow").unwrap();
    std::os::unix::fs::symlink("/nonexistent", out.join("broken.csv")).unwrap();
    ok(&run_into(&out, &["--country", "THA"]));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let paths: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 18, "{paths:?}");
    assert!(paths.iter().all(|p| p.contains('/')), "{paths:?}");
    // verify names them without opening them.
    let res = swvr(&["verify", out.to_str().unwrap()]);
    assert_eq!(
        stdout(&res),
        "not in the manifest: broken.csv\nnot in the manifest: mine.arrow\nnot in the manifest: pipe.json\n"
    );
    // In a stage folder: the run refuses before any work, naming it.
    let fifo = out.join("weight/cache.arrow");
    mkfifo(&fifo);
    let e = err_of(&run_into(&out, &["--country", "THA"]));
    assert!(e.contains(&format!("{}: not written by swvr", fifo.display())), "{e}");
}

#[test]
fn a_stage_path_that_is_a_file_is_an_error_before_any_work() {
    let dir = tempdir("stagefile");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("weight"), "not a folder").unwrap();
    let e = err_of(&run_into(&out, &[]));
    assert_eq!(
        e,
        format!(
            "swvr: error: {}: is a file, not a folder; swvr keeps its weight outputs under this name: move it away",
            out.join("weight").display()
        )
    );
    assert!(!out.join("ingest").exists(), "no stage ran");
    assert_eq!(std::fs::read(out.join("weight")).unwrap(), b"not a folder");
    std::fs::remove_file(out.join("weight")).unwrap();
    // A FIFO at a stage path or as the manifest: named, no hang.
    #[cfg(unix)]
    {
        mkfifo(&out.join("manifest.json"));
        let e = err_of(&run_into(&out, &[]));
        assert_eq!(
            e,
            format!(
                "swvr: error: {}: is a FIFO (named pipe), not a file; swvr keeps its manifest under this name: move it away",
                out.join("manifest.json").display()
            )
        );
    }
}

#[cfg(unix)]
#[test]
fn a_stage_folder_linked_outside_out_is_refused() {
    let out = fixture_run("symlink", &["--country", "THA"]);
    let outside = tempdir("symlink-outside");
    std::fs::remove_file(out.join("weight")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("weight")).unwrap();
    let data = tempdir("symlink-data");
    copy_fixtures(&data);
    let res = swvr(&[
        "weight",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let e = err_of(&res);
    assert_eq!(
        e,
        format!(
            "swvr: error: {}: a symbolic link to {}, outside {}; swvr writes only inside its output folder: remove the link",
            out.join("weight").display(),
            outside.canonicalize().unwrap().display(),
            out.display()
        )
    );
    assert!(!run_into(&out, &[]).status.success());
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside OUT"
    );
    // A link inside OUT that swvr did not make is refused too.
    std::fs::remove_file(out.join("weight")).unwrap();
    std::fs::create_dir(out.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("elsewhere", out.join("weight")).unwrap();
    let e = err_of(&run_into(&out, &[]));
    assert!(
        e.ends_with("weight: a symbolic link to elsewhere that swvr did not make; swvr keeps its weight outputs there: remove the link"),
        "{e}"
    );
    // The lock is never followed out of OUT either.
    std::fs::remove_file(out.join("weight")).unwrap();
    std::os::unix::fs::symlink(outside.join("lock"), out.join(".swvr-lock")).unwrap();
    let e = err_of(&run_into(&out, &[]));
    assert!(
        e.contains(".swvr-lock: cannot open the lock (it is a symbolic link"),
        "{e}"
    );
    assert!(!outside.join("lock").exists());
}

#[test]
fn a_second_command_into_the_same_out_fails_at_once_naming_the_first() {
    let dir = tempdir("lock");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // This test process holds the lock, as a running swvr would.
    let lock = out.join(".swvr-lock");
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    let held = std::fs::File::open(&lock).unwrap();
    held.try_lock().unwrap();
    for args in [vec!["run", "--quiet"], vec!["report", "--quiet"]] {
        let mut args = args.clone();
        args.extend(["--out", out.to_str().unwrap()]);
        let t = std::time::Instant::now();
        let e = err_of(&swvr(&args));
        assert!(t.elapsed().as_secs() < 5);
        assert_eq!(
            e,
            format!(
                "swvr: error: {}: another swvr command (process {}) is writing into this folder; wait for it to end, or use another --out",
                out.display(),
                std::process::id()
            )
        );
    }
    drop(held);
    // A lock file whose holder is gone (killed) is taken over, and removed at the end.
    std::fs::write(&lock, dead_pid().to_string()).unwrap();
    ok(&run_into(&out, &["--country", "THA"]));
    assert!(!lock.exists());

    // Two real runs: the second fails naming the first's PID.
    for _ in 0..3 {
        let mut first = Command::new(env!("CARGO_BIN_EXE_swvr"))
            .args(["run", "--quiet", "--out", out.to_str().unwrap()])
            .spawn()
            .unwrap();
        // Holding the lock: its PID is in the file.
        let pid = first.id().to_string();
        let holds = || std::fs::read_to_string(&lock).is_ok_and(|t| t.trim() == pid);
        while !holds() && first.try_wait().unwrap().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let second = run_into(&out, &[]);
        let status = first.wait().unwrap();
        assert!(status.success());
        if !second.status.success() {
            let e = err_of(&second);
            assert!(e.contains(&format!("(process {}) is writing", first.id())), "{e}");
            return;
        }
    }
    panic!("the second run never overlapped the first");
}

#[test]
fn leftovers_of_killed_runs_are_removed_by_the_next_run() {
    let out = fixture_run("stale", &["--country", "THA"]);
    let stale = out.join(format!(".swvr-staging-{}", dead_pid()));
    std::fs::create_dir_all(stale.join("ingest")).unwrap();
    std::fs::write(stale.join("ingest/respondents.arrow"), "half").unwrap();
    // A generation that never became current (killed before the switch).
    std::fs::create_dir_all(out.join(".swvr-gen-7/weight")).unwrap();
    // A staging folder of a live process is not touched.
    let live = out.join(format!(".swvr-staging-{}", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    ok(&run_into(&out, &["--country", "THA"]));
    assert!(!stale.exists());
    assert!(!out.join(".swvr-gen-7").exists());
    assert!(live.exists());
    std::fs::remove_dir_all(&live).unwrap();
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

/// A stage command replaces its stage folder whole (nothing of the
/// previous one stays) and the manifest, which no longer describes OUT.
#[test]
fn a_stage_command_replaces_its_folder_whole_and_drops_the_manifest() {
    let dir = tempdir("stagecmd");
    let out = dir.join("out");
    ok(&swvr(&[
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--country",
        "THA",
        "--export",
        "csv",
        "--export",
        "parquet",
    ]));
    let tables = std::fs::read(out.join("tabulate/tables.arrow")).unwrap();
    ok(&swvr(&[
        "export",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "csv",
    ]));
    assert!(out.join("export/weighted.csv").is_file());
    assert!(!out.join("export/weighted.parquet").exists());
    assert!(!out.join("manifest.json").exists());
    assert_eq!(std::fs::read(out.join("tabulate/tables.arrow")).unwrap(), tables);
    let e = err_of(&swvr(&["verify", out.to_str().unwrap()]));
    assert_eq!(
        e,
        format!(
            "swvr: error: {}: cannot read manifest: there is none, because a stage command (`swvr tabulate`, `swvr export`, …) replaced outputs after the last `swvr run`; run `swvr run` for a manifest",
            out.join("manifest.json").display()
        )
    );
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn damaged_weighted_arrow_is_an_error_not_a_panic() {
    let out = fixture_run("damaged", &["--country", "THA"]);
    let path = out.join("weight/weighted.arrow");
    let good = std::fs::read(&path).unwrap();
    let n = good.len();
    for (k, o) in [16, 200, 700, n / 3, n / 2, n - 200, n - 40, n - 12]
        .into_iter()
        .enumerate()
    {
        let mut bad = good.clone();
        bad[o] ^= 0xff;
        bad[(o + 1 + k % 7).min(n - 1)] ^= 0x5a;
        // Replaced, not written into: the generation's file is a hard link.
        let tmp = out.join("bad.arrow");
        std::fs::write(&tmp, &bad).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        for cmd in ["tabulate", "model"] {
            let res = swvr(&[cmd, "--quiet", "--out", out.to_str().unwrap()]);
            if !res.status.success() {
                let e = err_of(&res);
                assert!(e.contains("weighted.arrow"), "{cmd}, byte {o}: {e}");
                assert!(!e.contains(".swvr-staging"), "{cmd}, byte {o}: {e}");
            }
        }
    }
}

/// Kills at every step of `swvr run` and of a stage command, and at
/// increasing delays: each time OUT is the whole previous run or the whole
/// new one (its manifest and every file it lists; `swvr verify`), and the
/// next run removes what the killed one left.
#[cfg(unix)]
#[test]
fn a_kill_at_any_instant_leaves_the_old_run_or_the_new_one() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempdir("kill");
    let out = dir.join("out");
    let a = ["--country", "THA"];
    let b = ["--country", "SEN"];
    ok(&run_into(&out, &a));
    let manifest_a = std::fs::read(out.join("manifest.json")).unwrap();
    let other = dir.join("b");
    ok(&run_into(&other, &b));
    let manifest_b = std::fs::read(other.join("manifest.json")).unwrap();
    assert_ne!(manifest_a, manifest_b);

    // The run to start next: the one OUT does not hold.
    let next = |out: &Path| -> [&str; 2] {
        let now = std::fs::read(out.join("manifest.json")).unwrap();
        if now == manifest_a { b } else { a }
    };
    let check = |out: &Path, what: &str| {
        let now = std::fs::read(out.join("manifest.json")).unwrap_or_default();
        assert!(
            now == manifest_a || now == manifest_b,
            "{what}: OUT/manifest.json is neither run's"
        );
        let res = swvr(&["verify", out.to_str().unwrap()]);
        assert!(res.status.success(), "{what}: {}{}", stdout(&res), stderr(&res));
    };
    let command = |args: &[&str], kill_at: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_swvr"));
        c.args(["run", "--quiet", "--out", out.to_str().unwrap()]).args(args);
        if let Some(s) = kill_at {
            c.env("SWVR_TEST_KILL_AT", s);
        }
        c
    };
    let steps = [
        "locked",
        "opened",
        "staged",
        "ingest",
        "weight",
        "report",
        "manifest",
        "sealed",
        "linked",
        "pointer-ready",
        "switched",
        "unlinked",
        "pruned",
    ];
    for s in steps {
        let args = next(&out);
        let status = command(&args, Some(s)).status().unwrap();
        assert_eq!(status.signal(), Some(9), "step {s}: not killed there");
        check(&out, &format!("killed at {s}"));
    }
    // At increasing delays, wherever the run happens to be.
    for k in 0..12u64 {
        let args = next(&out);
        let mut child = command(&args, None).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(k * k * 8));
        let _ = child.kill();
        let _ = child.wait();
        check(&out, &format!("killed after {} ms", k * k * 8));
    }
    // A stage command killed at its steps: the whole previous run (with its
    // manifest) or the new generation without one.
    for s in ["staged", "sealed", "linked", "switched", "pruned"] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_swvr"));
        c.args(["tabulate", "--quiet", "--out", out.to_str().unwrap()])
            .env("SWVR_TEST_KILL_AT", s);
        let status = c.status().unwrap();
        assert_eq!(status.signal(), Some(9), "tabulate, step {s}: not killed there");
        if out.join("manifest.json").exists() {
            check(&out, &format!("tabulate killed at {s}"));
        } else {
            assert!(out.join("tabulate/tables.arrow").is_file() && out.join("weight/weighted.arrow").is_file());
            ok(&run_into(&out, &a));
        }
    }
    // The next run removes every leftover and the lock.
    ok(&run_into(&out, &a));
    check(&out, "after a clean run");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest_a);
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

/// An OUT written by an older swvr (real stage folders, a real manifest) is
/// verified as it is and converted by the next command; a file of the user's
/// in one of its folders is refused first; a kill inside the conversion is
/// completed by the next command.
#[cfg(unix)]
#[test]
fn an_older_layout_is_converted() {
    use std::os::unix::process::ExitStatusExt;
    let new = fixture_run("legacy-src", &["--country", "THA"]);
    let dir = tempdir("legacy");
    let out = dir.join("out");
    let copy = |out: &Path| {
        let _ = std::fs::remove_dir_all(out);
        for stage in ["ingest", "fieldwork", "weight", "tabulate", "model", "report"] {
            std::fs::create_dir_all(out.join(stage)).unwrap();
            for e in std::fs::read_dir(new.join(stage)).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), out.join(stage).join(e.file_name())).unwrap();
            }
        }
        std::fs::copy(new.join("manifest.json"), out.join("manifest.json")).unwrap();
    };
    copy(&out);
    ok(&swvr(&["verify", out.to_str().unwrap()]));
    std::fs::write(out.join("model/mine.txt"), "x").unwrap();
    let e = err_of(&run_into(&out, &["--country", "THA"]));
    assert!(e.contains("model/mine.txt: not written by swvr"), "{e}");
    std::fs::remove_file(out.join("model/mine.txt")).unwrap();
    // Killed between the two renames that replace a folder by a link.
    let status = Command::new(env!("CARGO_BIN_EXE_swvr"))
        .args(["run", "--quiet", "--country", "SEN", "--out", out.to_str().unwrap()])
        .env("SWVR_TEST_KILL_AT", "legacy-moved")
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(9));
    // The previous run is whole behind the pointer; one folder's link is
    // not yet made (the documented window), and the next command makes it.
    assert_eq!(
        std::fs::read(out.join(".swvr-current/manifest.json")).unwrap(),
        std::fs::read(new.join("manifest.json")).unwrap()
    );
    ok(&swvr(&["tabulate", "--quiet", "--out", out.to_str().unwrap()]));
    assert!(out.join("weight/weighted.arrow").is_file());
    ok(&run_into(&out, &["--country", "THA"]));
    for stage in ["ingest", "weight", "report"] {
        assert!(
            std::fs::symlink_metadata(out.join(stage))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    assert_eq!(
        std::fs::read(out.join("manifest.json")).unwrap(),
        std::fs::read(new.join("manifest.json")).unwrap()
    );
    ok(&swvr(&["verify", out.to_str().unwrap()]));
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}
