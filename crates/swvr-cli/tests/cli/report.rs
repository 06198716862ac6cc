//! Issue 12: the HTML report (content, determinism, a real browser) and
//! `swvr compare`.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};

use swvr_core::io::read_arrow;
use swvr_core::questionnaire::Questionnaire;

use super::fixture_run;
use crate::support::{col, ok, run_on, stderr, stdout, swvr, tempdir};

const CHROMIUM: &str = "/usr/bin/chromium";

fn page(out: &Path) -> String {
    std::fs::read_to_string(out.join("report/index.html")).unwrap()
}

#[test]
fn run_writes_the_report_and_report_rewrites_the_same_bytes() {
    let out = fixture_run("report-bytes", &[]);
    let first = std::fs::read(out.join("report/index.html")).unwrap();
    let res = swvr(&["report", "--out", out.to_str().unwrap()]);
    ok(&res);
    let err = stderr(&res);
    assert!(
        err.contains("report/index.html") && err.contains("8 country-waves") && err.contains("published figures"),
        "{err}"
    );
    assert!(first == std::fs::read(out.join("report/index.html")).unwrap());
}

#[test]
fn the_report_holds_every_item_with_its_text_and_every_country_wave() {
    let out = fixture_run("report-content", &[]);
    let html = page(&out);
    let q = Questionnaire::default_2021();
    for item in q.items() {
        let text = item.text.replace('\'', "&#39;");
        assert!(html.contains(&text), "{}: question text missing", item.id);
    }
    for d in ["volunteer_action", "formal", "informal", "Q4B_net"] {
        assert!(html.contains(&format!("<b>{d}</b>")), "{d} missing");
    }
    for c in ["BOL", "IND", "KEN", "LBN", "SEN", "THA", "TUR", "UZB"] {
        for part in ["", "-fieldwork", "-weighting", "-items", "-model"] {
            assert!(html.contains(&format!("id=\"cw-{c}-2021{part}\"")), "{c}{part}");
        }
        assert!(html.contains(&format!("data-chart=\"cw-{c}-2021-hist-base\"")));
        assert!(html.contains(&format!("data-chart=\"cw-{c}-2021-forest\"")));
    }
    // The views: 8 countries × (2 + 3 + 6) published figures, a diamond each.
    // and the 18 numeric cells of Table A2 in the forest plots; 3 legends.
    assert_eq!(html.matches("class=\"published\"").count() - 3, 88 + 18, "diamonds");
    assert!(html.contains("Altogether 2 of 88 published figures lie outside"));
    assert!(html.contains("TUR 2021 net: published -29"));
    // Every raking margin with its target (from weight/diagnostics.json).
    assert!(html.contains("data-chart=\"cw-SEN-2021-margins\""));
    assert!(html.contains("<tr><td>age_group</td><td>60+</td>"));
    // Self-contained: nothing to fetch.
    for bad in ["http://", "https://", "<link", "src=", "@import", "url(http"] {
        let n = html.matches(bad).count();
        let allowed = if bad == "http://" {
            html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        } else {
            0
        };
        assert_eq!(n, allowed, "{bad}");
    }
}

#[test]
fn a_country_the_report_did_not_publish_gets_no_published_figures() {
    let dir = tempdir("report-fra");
    let data = dir.join("bundle");
    ok(&swvr(&[
        "synth",
        "--quiet",
        "--out",
        data.to_str().unwrap(),
        "--respondents",
        "400",
        "--countries",
        "FRA",
    ]));
    let out = dir.join("out");
    ok(&run_on(&data, &out, &["--quiet"]));
    let html = page(&out);
    assert!(html.contains("id=\"cw-FRA-2021\""));
    assert!(
        !html.contains("published figure"),
        "legend or note about published figures"
    );
    assert!(!html.contains("0 of 0"));
    assert!(!html.contains("class=\"published\""));
    // Small bases (n < 50) are marked.
    assert!(html.contains(" †</td>"));
}

#[test]
fn report_without_a_run_names_the_missing_file() {
    let dir = tempdir("report-none");
    let res = swvr(&["report", "--out", dir.to_str().unwrap()]);
    assert!(!res.status.success());
    let err = stderr(&res);
    assert!(
        err.contains("tabulate/tables.arrow: not found; run `swvr run (or swvr tabulate)` first"),
        "{err}"
    );
}

/// Runs headless Chromium on `harness` (a page in the report folder that
/// loads the report in frames) and returns the JSON it wrote and the
/// console lines of every frame.
fn chromium(harness: &Path, profile: &Path) -> (serde_json::Value, Vec<String>) {
    let url = format!("file://{}", harness.display());
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1800,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = stdout(&out);
    let start = dom.find("<pre id=\"result\">").expect("result element") + "<pre id=\"result\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let value: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("harness result not JSON ({e}): {json:.300}"));
    let console = stderr(&out)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    (value, console)
}

fn harness_for(dir: &Path, page: &str) -> PathBuf {
    let text = include_str!("harness.html").replace("PAGE", page);
    let p = dir.join("harness.html");
    std::fs::write(&p, text).unwrap();
    p
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// The key the pages give each table row: `country|wave|item|domain|domain_level|category`.
fn row_keys(b: &RecordBatch) -> Vec<String> {
    let text = |name| col::<StringArray>(b, name);
    let (country, item, domain, level, category) = (
        text("country"),
        text("item"),
        text("domain"),
        text("domain_level"),
        text("category"),
    );
    let wave = col::<Int32Array>(b, "wave");
    (0..b.num_rows())
        .map(|r| {
            format!(
                "{}|{}|{}|{}|{}|{}",
                country.value(r),
                wave.value(r),
                item.value(r),
                domain.value(r),
                level.value(r),
                category.value(r)
            )
        })
        .collect()
}

/// What the harness saw of a page: no error, no console message, nothing
/// fetched but the page's own file, no horizontal overflow at 1280 and 390 px.
fn assert_clean_page(v: &serde_json::Value, console: &[String]) {
    assert!(v.get("error").is_none(), "{}", v["error"]);
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.as_str().is_some_and(|r| r.starts_with("file:"))),
        "{}",
        v["resources"]
    );
    for id in ["w1280", "w390"] {
        let w = &v["widths"][id];
        let (scroll, client) = (w["scroll"].as_u64().unwrap(), w["client"].as_u64().unwrap());
        assert!(
            scroll <= client,
            "{id}: page {scroll} px wide in a {client} px viewport"
        );
    }
}

#[test]
fn the_report_in_a_real_browser() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} not found (browser checks of the report)");
        return;
    }
    let out = fixture_run("report-browser", &[]);
    let dir = out.join("report");
    let profile = tempdir("report-browser-profile");

    // The checks can fail: a page wider than the phone frame, with a console error.
    std::fs::write(
        dir.join("wide.html"),
        "<!DOCTYPE html><html><body><div style=\"width:600px\">wide</div><figure class=\"chart\"><svg><g class=\"mark\"></g></svg>\
         <table><tbody></tbody></table></figure><script>console.error('planted')</script></body></html>",
    )
    .unwrap();
    let (v, console) = chromium(&harness_for(&dir, "wide.html"), &profile);
    let w = &v["widths"]["w390"];
    assert!(w["scroll"].as_u64().unwrap() > w["client"].as_u64().unwrap(), "{v}");
    assert!(console.iter().any(|l| l.contains("planted")), "{console:?}");
    assert_eq!(v["charts"][0][1], 1);
    assert_eq!(v["charts"][0][2], 0);

    // The report.
    let (v, console) = chromium(&harness_for(&dir, "index.html"), &profile);
    assert_clean_page(&v, &console);
    assert!(v["links"].as_array().unwrap().is_empty(), "{}", v["links"]);
    // Every chart has as many marks as its table has rows.
    let charts = v["charts"].as_array().unwrap();
    // 4 views; per country-wave 21 items and indicators, 2 histograms, margins, forest plot.
    assert_eq!(charts.len(), 4 + 8 * (21 + 4), "charts");
    for c in charts {
        assert!(c[1] == c[2], "chart {}: {} marks, {} table rows", c[0], c[1], c[2]);
    }
    // The numbers shown equal tables.arrow at the printed precision, and every estimate is shown.
    let b = read_arrow(&out.join("tabulate/tables.arrow")).unwrap();
    let shown: std::collections::HashMap<String, (String, String, String)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |c: &str| r[1][c].as_str().unwrap_or("").to_string();
            (
                r[0].as_str().unwrap_or("").to_string(),
                (s("c-n"), s("c-est"), s("c-ci")),
            )
        })
        .collect();
    let n = col::<Int64Array>(&b, "n");
    let (est, lo, hi) = (
        col::<Float64Array>(&b, "estimate"),
        col::<Float64Array>(&b, "ci_low"),
        col::<Float64Array>(&b, "ci_high"),
    );
    for (r, key) in row_keys(&b).into_iter().enumerate() {
        let (sn, se, sci) = shown.get(&key).unwrap_or_else(|| panic!("{key} not shown"));
        assert_eq!(sn, &n.value(r).to_string(), "{key} n");
        let dagger = if n.value(r) < 50 { " †" } else { "" };
        assert_eq!(se, &format!("{}{dagger}", pct(est.value(r))), "{key} estimate");
        let want = if lo.is_valid(r) && hi.is_valid(r) {
            format!("{} – {}", pct(lo.value(r)), pct(hi.value(r)))
        } else {
            "–".to_string()
        };
        assert_eq!(sci, &want, "{key} interval");
    }
}

fn hartley_scheme(dir: &Path) -> PathBuf {
    let p = dir.join("hartley.toml");
    std::fs::write(
        &p,
        "[base]\nmethod = \"hartley\"\nlambda = 0.5\n\n[trimming]\nlower = 0.2\nupper = 5.0\n",
    )
    .unwrap();
    p
}

#[test]
fn compare_two_schemes_on_the_same_sample() {
    let a = fixture_run("cmp-a", &[]);
    let dir = tempdir("cmp-b");
    let scheme = hartley_scheme(&dir);
    let b = fixture_run("cmp-b2", &["--scheme", scheme.to_str().unwrap()]);
    let dest = dir.join("cmp");
    let res = swvr(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        dest.to_str().unwrap(),
    ]);
    ok(&res);
    let stdout = stdout(&res);
    assert!(
        stdout.contains("same sample: shifts in standard errors of A"),
        "{stdout}"
    );
    assert!(stdout.contains("9408 in both, 0 only in A, 0 only in B"), "{stdout}");
    assert!(stdout.contains("largest shifts (B − A):"), "{stdout}");
    assert!(stdout.contains("scheme"), "scheme difference not reported: {stdout}");
    assert!(stdout.lines().count() <= 30, "more than one screen:\n{stdout}");
    let html = std::fs::read_to_string(dest.join("comparison.html")).unwrap();
    assert!(html.contains("Inputs and options that differ") && html.contains("Weight diagnostics"));

    let t = read_arrow(&dest.join("comparison.arrow")).unwrap();
    assert_eq!(t.num_rows(), 9408);
    let num = |name| col::<Float64Array>(&t, name);
    let (shift, se_diff, in_se) = (num("shift_points"), num("se_diff_points"), num("shift_se"));
    let (ea, eb, sa) = (num("estimate_a"), num("estimate_b"), num("se_a"));
    let basis = col::<StringArray>(&t, "se_basis");
    assert!(shift.value(0).abs() > 0.5, "hartley moved nothing? {}", shift.value(0));
    for r in 0..t.num_rows() {
        if r > 0 {
            assert!(shift.value(r - 1).abs() >= shift.value(r).abs(), "row {r} not sorted");
        }
        assert!((shift.value(r) - 100.0 * (eb.value(r) - ea.value(r))).abs() < 1e-9);
        assert!((se_diff.value(r) - 100.0 * sa.value(r)).abs() < 1e-9);
        if se_diff.value(r) > 0.0 {
            assert!((in_se.value(r) - shift.value(r) / se_diff.value(r)).abs() < 1e-9);
        }
        assert_eq!(basis.value(r), "same_sample_se_a");
    }

    comparison_in_a_real_browser(&dest, &t);

    // --fail-above: non-zero when a shift exceeds it, 0 otherwise.
    let largest = shift.value(0).abs();
    let fail = swvr(&[
        "compare",
        "--quiet",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        dest.to_str().unwrap(),
        "--fail-above",
        &format!("{}", largest / 2.0),
    ]);
    assert!(!fail.status.success());
    let err = stderr(&fail);
    assert!(
        err.contains(&format!("largest shift {largest:.2} points exceeds --fail-above")),
        "{err}"
    );
    ok(&swvr(&[
        "compare",
        "--quiet",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        dest.to_str().unwrap(),
        "--fail-above",
        &format!("{}", largest + 1.0),
    ]));
}

#[test]
fn compare_independent_samples_uses_the_se_of_the_difference() {
    let dir = tempdir("cmp-ind");
    let mut outs = Vec::new();
    for seed in ["1", "2"] {
        let data = dir.join(format!("bundle{seed}"));
        ok(&swvr(&[
            "synth",
            "--quiet",
            "--out",
            data.to_str().unwrap(),
            "--respondents",
            "1000",
            "--countries",
            "KEN,SEN",
            "--seed",
            seed,
        ]));
        let out = dir.join(format!("out{seed}"));
        ok(&run_on(&data, &out, &["--quiet"]));
        outs.push(out);
    }
    let dest = dir.join("cmp");
    let res = swvr(&[
        "compare",
        outs[0].to_str().unwrap(),
        outs[1].to_str().unwrap(),
        "--out",
        dest.to_str().unwrap(),
    ]);
    ok(&res);
    let stdout = stdout(&res);
    assert!(stdout.contains("independent samples"), "{stdout}");
    assert!(
        stdout.contains("respondents.csv"),
        "differing input not reported: {stdout}"
    );
    let t = read_arrow(&dest.join("comparison.arrow")).unwrap();
    let g = |c| col::<Float64Array>(&t, c);
    let (sa, sb, sd) = (g("se_a"), g("se_b"), g("se_diff_points"));
    for r in 0..t.num_rows() {
        if sa.is_valid(r) && sb.is_valid(r) {
            let want = 100.0 * (sa.value(r).powi(2) + sb.value(r).powi(2)).sqrt();
            assert!((sd.value(r) - want).abs() < 1e-9, "row {r}");
        }
    }
    assert_eq!(col::<StringArray>(&t, "se_basis").value(0), "independent");
}

#[test]
fn compare_of_a_folder_without_a_run_names_the_file() {
    let a = fixture_run("cmp-err", &[]);
    let dir = tempdir("cmp-err-none");
    let res = swvr(&[
        "compare",
        a.to_str().unwrap(),
        dir.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    let err = stderr(&res);
    assert!(err.contains("tabulate/tables.arrow: not found"), "{err}");
}

/// The comparison page in headless Chromium: no console message, nothing
/// fetched, no horizontal overflow at 1280 and 390 px, the chart's marks
/// match its table, and every row shown equals comparison.arrow at the
/// printed precision.
fn comparison_in_a_real_browser(dest: &Path, t: &RecordBatch) {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} not found (browser checks of comparison.html)");
        return;
    }
    let profile = tempdir("cmp-browser-profile");
    let (v, console) = chromium(&harness_for(dest, "comparison.html"), &profile);
    assert_clean_page(&v, &console);
    let charts = v["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 1, "{charts:?}");
    assert!(
        charts[0][1] == charts[0][2] && charts[0][1].as_u64().unwrap() > 0,
        "{charts:?}"
    );
    let num = |name| col::<Float64Array>(t, name);
    let (ea, eb, shift, z) = (
        num("estimate_a"),
        num("estimate_b"),
        num("shift_points"),
        num("shift_se"),
    );
    let shown: std::collections::HashMap<String, serde_json::Value> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].clone()))
        .collect();
    assert_eq!(shown.len(), t.num_rows(), "rows shown");
    let fmt = |a: &Float64Array, r: usize, f: &dyn Fn(f64) -> String| {
        if a.is_valid(r) {
            f(a.value(r))
        } else {
            "–".to_string()
        }
    };
    for (r, key) in row_keys(t).into_iter().enumerate() {
        let row = shown.get(&key).unwrap_or_else(|| panic!("{key} not shown"));
        let cell = |c: &str| row[c].as_str().unwrap_or("").to_string();
        assert_eq!(cell("c-a"), fmt(ea, r, &pct), "{key} A");
        assert_eq!(cell("c-b"), fmt(eb, r, &pct), "{key} B");
        assert_eq!(cell("c-shift"), fmt(shift, r, &|p| format!("{p:+.1}")), "{key} shift");
        assert_eq!(cell("c-z"), fmt(z, r, &|x| format!("{x:+.2}")), "{key} shift in SEs");
    }
}
