#!/usr/bin/env python3
"""Reads every file of OUT/export/ with independent readers and compares it
with the weighted microdata (OUT/ingest/respondents.arrow joined row by row
with OUT/weight/weighted.arrow), OUT/tabulate/tables.arrow and
OUT/model/odds_ratios.arrow and with the questionnaire's labels.

Usage: check_export.py OUT QUESTIONNAIRE.toml

Readers: pyreadstat and pandas (.sav, .dta), PSPP (.sav, when `pspp` is on
PATH), pyarrow and DuckDB (Parquet), pandas (CSV), openpyxl (xlsx).
Prints one line per check and `export check: N passed` at the end; exits 1
on the first disagreement (with what differs), 2 when a Python module is
missing (the caller reports it as skipped).
"""

import math
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import tomllib
    import duckdb
    import numpy as np
    import openpyxl
    import pandas as pd
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq
    import pyreadstat
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: python module not found: {e.name}")
    sys.exit(2)

OUT, QPATH = sys.argv[1], sys.argv[2]
EXP = os.path.join(OUT, "export")
PASSED = 0


def ok(what):
    global PASSED
    PASSED += 1
    print(f"ok: {what}")


def fail(what):
    print(f"FAIL: {what}")
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)
    ok(what)


def arrow(rel):
    with open(os.path.join(OUT, rel), "rb") as f:
        return ipc.open_file(f).read_all()


q = tomllib.load(open(QPATH, "rb"))
sets = q["answer_sets"]


def labels_of(name):
    """(label, {code: name}, [(code, kind)]) as swvr_core::labels defines them."""
    for it in q["items"]:
        if it["id"] == name:
            s = sets[it["answers"]]["codes"]
            return it["text"], {c["code"]: c["category"] for c in s}, [
                (c["code"], c["category"]) for c in s if c.get("missing")
            ]
    base, weighting = name, False
    if name.endswith("_weighting"):
        base, weighting = name[: -len("_weighting")], True
    for d in q["demographics"]:
        if d["name"] == base:
            text = d.get("text", "")
            if weighting:
                text += " (value used for weighting, DK/refused imputed)"
            if d["kind"] == "coded":
                s = sets[d["answers"]]["codes"]
                miss = [] if weighting else [(c["code"], c["category"]) for c in s if c.get("missing")]
                return text, {c["code"]: c["category"] for c in s}, miss
            kinds = {8: "dk", 9: "refused"}
            ms = [(m, kinds.get(m % 10, "missing")) for m in d.get("missing_codes", [])]
            return text, {m: k for m, k in ms}, ms
    return None


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from swvr_arrow import read_microdata  # noqa: E402

# The microdata: respondents.arrow joined row by row with weighted.arrow.
w = read_microdata(OUT)
tables = arrow("tabulate/tables.arrow")
odds = arrow("model/odds_ratios.arrow")
wdf = w.to_pandas()
names = w.column_names


def same_column(name, got, expected_arrow_col, missing_map=None):
    """Compares a read-back column with the Arrow column (nulls as NaN/'')."""
    exp = expected_arrow_col.to_pylist()
    got = list(got)
    if len(got) != len(exp):
        fail(f"{name}: {len(got)} rows, expected {len(exp)}")
    for i, (g, e) in enumerate(zip(got, exp)):
        if isinstance(e, str) or (e is None and pa.types.is_string(expected_arrow_col.type)):
            e = e or ""
            g = "" if g is None or (isinstance(g, float) and math.isnan(g)) else g
            if g != e:
                fail(f"{name} row {i}: {g!r} != {e!r}")
            continue
        if isinstance(e, bool):
            e = int(e)
        if missing_map is not None and e in missing_map:
            e = missing_map[e]
        if e is None:
            if not (g is None or (isinstance(g, float) and math.isnan(g))):
                fail(f"{name} row {i}: {g!r}, expected missing")
            continue
        if isinstance(e, str):
            if g != e:
                fail(f"{name} row {i}: {g!r} != {e!r}")
            continue
        if g is None or float(g) != float(e):
            fail(f"{name} row {i}: {g!r} != {e!r}")


# ---- SPSS .sav: pyreadstat --------------------------------------------
sav = os.path.join(EXP, "weighted.sav")
if os.path.exists(sav):
    df, meta = pyreadstat.read_sav(sav, user_missing=True)
    check(list(df.columns) == names, "sav: pyreadstat column names and order")
    for n in names:
        same_column(n, df[n], w.column(n))
    ok(f"sav: pyreadstat every value of {len(names)} columns x {w.num_rows} rows equals weighted.arrow")
    for n in names:
        lab = labels_of(n)
        if lab is None:
            continue
        text, values, miss = lab
        check(meta.column_names_to_labels[n] == text[:255], f"sav: variable label of {n}")
        got = {int(k): v for k, v in meta.variable_value_labels.get(n, {}).items()}
        check(got == values, f"sav: value labels of {n}")
        rng = meta.missing_ranges.get(n, [])
        check(
            [(r["lo"], r["hi"]) for r in rng] == [(float(c), float(c)) for c, _ in miss],
            f"sav: user-missing values of {n} = {[c for c, _ in miss]}",
        )
    # pandas reads through pyreadstat with user-missing as NaN.
    pdf = pd.read_spss(sav, convert_categoricals=False)
    for n in ("Q1", "sex", "age"):
        miss = {c for c, _ in labels_of(n)[2]}
        exp = [None if v in miss else v for v in w.column(n).to_pylist()]
        same_column(n, pdf[n], pa.array(exp, pa.float64()))
    ok("sav: pandas.read_spss reads DK/refused as missing")

    if shutil.which("pspp"):
        with tempfile.TemporaryDirectory() as tmp:
            csvp = os.path.join(tmp, "sav.csv")
            sps = os.path.join(tmp, "c.sps")
            with open(sps, "w") as f:
                f.write(
                    f"SYSFILE INFO FILE='{sav}'.\nGET FILE='{sav}'.\nSHOW WEIGHT.\n"
                    f"SAVE TRANSLATE /OUTFILE='{csvp}' /TYPE=CSV /FIELDNAMES /REPLACE /UNSELECTED=RETAIN /MAP.\n"
                )
            r = subprocess.run(["pspp", "-O", "format=csv", sps], capture_output=True, text=True)
            if r.returncode != 0 or "error" in r.stdout.lower():
                fail(f"sav: pspp cannot read the file: {r.stdout[-2000:]} {r.stderr[-2000:]}")
            ok("sav: pspp reads the file")
            info = r.stdout
            wline = [l for l in info.splitlines() if l.startswith("Weight,")]
            check(wline and wline[0].startswith("Weight,Final weight"), f"sav: pspp sees the weight variable ({wline})")
            check("Encoding,UTF-8" in info, "sav: pspp sees UTF-8 encoding")
            for n in names:
                lab = labels_of(n)
                if lab and lab[2]:
                    codes = "; ".join(str(c) for c, _ in lab[2])
                    row = [l for l in info.splitlines() if l.startswith(n + ",")]
                    check(row and row[0].endswith("," + codes), f"sav: pspp missing values of {n} = {codes}")
            pc = pd.read_csv(csvp, dtype=str, keep_default_na=False)
            check(list(pc.columns) == names, "sav: pspp column names")
            for n in names:
                col = w.column(n)
                got = pc[n].str.strip().tolist()
                if pa.types.is_string(col.type):
                    same_column(n, got, col)
                else:
                    conv = [None if g == "" else float(g) for g in got]
                    if pa.types.is_floating(col.type):
                        # PSPP prints F18.10: compare to the printed precision.
                        exp = col.to_pylist()
                        for i, (g, e) in enumerate(zip(conv, exp)):
                            if abs(g - e) > 1e-9:
                                fail(f"sav: pspp {n} row {i}: {g} != {e}")
                    else:
                        same_column(n, conv, col)
            ok(f"sav: pspp every value of {len(names)} columns equals weighted.arrow")
    else:
        print("SKIPPED: pspp not found (sav checks with PSPP)")

# ---- Stata .dta: pyreadstat and pandas -------------------------------
dta = os.path.join(EXP, "weighted.dta")
if os.path.exists(dta):
    df, meta = pyreadstat.read_dta(dta, user_missing=True)
    check(list(df.columns) == names, "dta: pyreadstat column names and order")
    letters = {"dk": "d", "refused": "r"}
    for n in names:
        lab = labels_of(n)
        mm = {c: letters.get(k, "a") for c, k in lab[2]} if lab else None
        same_column(n, df[n], w.column(n), mm)
    ok(f"dta: pyreadstat every value (DK/refused as .d/.r) equals weighted.arrow")
    for n in names:
        lab = labels_of(n)
        if lab is None:
            continue
        text, values, miss = lab
        check(meta.column_names_to_labels[n] == text[:80].rstrip(), f"dta: variable label of {n} (80 characters)")
        exp = {}
        mcodes = {c: letters.get(k, "a") for c, k in miss}
        for c, v in values.items():
            exp[mcodes.get(c, c)] = v
        got = {(k if isinstance(k, str) else int(k)): v for k, v in meta.variable_value_labels.get(n, {}).items()}
        check(got == exp, f"dta: value labels of {n} (with .d/.r)")
        check(sorted(meta.missing_user_values.get(n, [])) == sorted(mcodes.values()), f"dta: extended missing of {n}")
    check("[pweight]" in meta.file_label and "weight" in meta.file_label, "dta: data label declares the weight")
    pdf = pd.read_stata(dta, convert_categoricals=False, convert_missing=False)
    for n in names:
        lab = labels_of(n)
        col = w.column(n)
        if lab and lab[2] and n not in ("age",):
            miss = {c for c, _ in lab[2]}
            col = pa.array([None if v in miss else v for v in col.to_pylist()], pa.float64())
        elif lab and n == "age":
            miss = {c for c, _ in lab[2]}
            col = pa.array([None if v in miss else v for v in col.to_pylist()], pa.float64())
        same_column(n, pdf[n], col)
    ok("dta: pandas.read_stata every value equals weighted.arrow (DK/refused missing)")
    with pd.io.stata.StataReader(dta) as r:
        vl = r.value_labels()
        check(vl["Q1"].get(1) == "yes" and vl["Q1"].get(2147483625) == "dk", "dta: pandas value labels incl. .d")

# ---- Parquet: pyarrow and DuckDB --------------------------------------
for stem, ref in (("weighted", w), ("tables", tables), ("odds_ratios", odds)):
    p = os.path.join(EXP, f"{stem}.parquet")
    if not os.path.exists(p):
        continue
    t = pq.read_table(p)
    check(t.cast(ref.schema).equals(ref) and t.schema.remove_metadata().equals(ref.schema.remove_metadata()),
          f"parquet: {stem} equals the Arrow file (pyarrow)")
    md = t.schema.metadata or {}
    check(b"swvr.questionnaire" in md and b"swvr.version" in md, f"parquet: {stem} schema metadata")
    if stem == "weighted":
        f = t.schema.field("Q1")
        check(f.metadata[b"swvr.label"].decode().startswith("Volunteering means"), "parquet: Q1 label in field metadata")
        check(f.metadata[b"swvr.missing"] == b"[8,9]", "parquet: Q1 missing codes in field metadata")
        con = duckdb.connect()
        got = con.execute(
            f"select country, count(*), sum(weight) from read_parquet('{p}') group by 1 order by 1"
        ).fetchall()
        exp = wdf.groupby("country").agg(n=("weight", "size"), s=("weight", "sum")).reset_index()
        check(
            [(c, n) for c, n, _ in got] == list(zip(exp.country, exp.n))
            and all(abs(a[2] - b) < 1e-9 for a, b in zip(got, exp.s)),
            "parquet: DuckDB counts and weight sums per country",
        )
    if stem == "tables":
        con = duckdb.connect()
        n = con.execute(f"select count(*), sum(estimate) from read_parquet('{p}')").fetchone()
        check(n[0] == ref.num_rows and abs(n[1] - sum(ref.column("estimate").to_pylist())) < 1e-9,
              "parquet: DuckDB reads tables")

# ---- CSV ---------------------------------------------------------------
for stem, ref in (("weighted", w), ("tables", tables), ("odds_ratios", odds)):
    p = os.path.join(EXP, f"{stem}.csv")
    if not os.path.exists(p):
        continue
    c = pd.read_csv(p, dtype=str, keep_default_na=False)
    check(list(c.columns) == ref.column_names, f"csv: {stem} header")
    for n in ref.column_names:
        col = ref.column(n)
        if pa.types.is_string(col.type):
            same_column(n, c[n], col)
        elif pa.types.is_boolean(col.type):
            same_column(n, [None if v == "" else int(v == "true") for v in c[n]], col)
        else:
            same_column(n, [None if v == "" else float(v) for v in c[n]], col)
    ok(f"csv: {stem} every value equals the Arrow file")

# ---- Excel -------------------------------------------------------------
for stem, ref in (("tables", tables), ("odds_ratios", odds)):
    p = os.path.join(EXP, f"{stem}.xlsx")
    if not os.path.exists(p):
        continue
    wb = openpyxl.load_workbook(p)
    ws = wb[stem]
    check(ws.freeze_panes == "A2", f"xlsx: {stem} header frozen")
    rows = list(ws.iter_rows(values_only=True))
    check(list(rows[0]) == ref.column_names, f"xlsx: {stem} header")
    cols = {n: ref.column(n).to_pylist() for n in ref.column_names}
    for i, r in enumerate(rows[1:]):
        for j, n in enumerate(ref.column_names):
            e, g = cols[n][i], r[j]
            if isinstance(e, float) and not math.isfinite(e):
                e = None
            if isinstance(e, str) and e == "":
                e = None
            if g != e and not (isinstance(e, (int, float)) and g is not None and float(g) == float(e)):
                fail(f"xlsx: {stem} row {i + 2} {n}: {g!r} != {e!r}")
    check(not any(isinstance(v, str) and v.startswith("=") for r in rows for v in r), f"xlsx: {stem} has no formulas")
    ok(f"xlsx: {stem} every cell equals the Arrow file")

p = os.path.join(EXP, "topline.xlsx")
if os.path.exists(p):
    wb = openpyxl.load_workbook(p)
    t = tables.to_pandas()
    groups = list(dict.fromkeys(zip(t.country, t.wave)))
    check(wb.sheetnames == [f"{c} {w_}" for c, w_ in groups], "topline: one sheet per country-wave")
    order = [i["id"] for i in q["items"]] + [d["id"] for d in q.get("derived", [])]
    texts = {i["id"]: i["text"] for i in q["items"]}
    texts.update({d["id"]: d.get("text", "") for d in q.get("derived", [])})
    nchecked = 0
    for (c, wv) in groups:
        ws = wb[f"{c} {wv}"]
        check(ws.freeze_panes == "C4", f"topline {c} {wv}: headers frozen")
        sub = t[(t.country == c) & (t.wave == wv)]
        levels = list(dict.fromkeys(zip(sub.domain, sub.domain_level)))
        head = [ws.cell(2, 3 + 2 * k).value for k in range(len(levels))]
        check(head == ["Total" if d == "total" else f"{d}: {l}" for d, l in levels], f"topline {c} {wv}: domain levels")
        cells = {(r.item, r.domain, r.domain_level, r.category): r for r in sub.itertuples()}
        r = 4
        seen = []
        while r <= ws.max_row:
            item = ws.cell(r, 1).value
            if item is None:
                r += 1
                continue
            seen.append(item)
            check(ws.cell(r, 2).value == texts[item], f"topline {c} {wv}: question text of {item}")
            r += 1
            cats = []
            while ws.cell(r, 2).value != "n (unweighted)":
                cat = ws.cell(r, 2).value
                cats.append(cat)
                for k, (d, l) in enumerate(levels):
                    e = cells.get((item, d, l, cat))
                    pc, mc = ws.cell(r, 3 + 2 * k), ws.cell(r, 4 + 2 * k)
                    if e is None:
                        if pc.value is not None:
                            fail(f"topline {c} {wv} {item} {cat} {d}:{l}: unexpected value")
                        continue
                    if pc.value != e.estimate or pc.number_format != "0.0%":
                        fail(f"topline {c} {wv} {item} {cat} {d}:{l}: {pc.value} != {e.estimate}")
                    moe = None if pd.isna(e.ci_low) or pd.isna(e.ci_high) else (e.ci_high - e.ci_low) / 2
                    if mc.value != moe:
                        fail(f"topline {c} {wv} {item} {cat} {d}:{l}: moe {mc.value} != {moe}")
                    nchecked += 1
                r += 1
            # Categories in questionnaire order.
            it = next((i for i in q["items"] if i["id"] == item), None)
            if it:
                qorder = [x["category"] for x in sets[it["answers"]]["codes"]]
                if cats != [x for x in qorder if x in cats]:
                    fail(f"topline {c} {wv} {item}: categories {cats} not in questionnaire order")
            if set(cats) != set(sub[sub.item == item].category):
                fail(f"topline {c} {wv} {item}: categories {cats}")
            for k, (d, l) in enumerate(levels):
                ns = set(sub[(sub.item == item) & (sub.domain == d) & (sub.domain_level == l)].n)
                g = ws.cell(r, 3 + 2 * k).value
                if (g,) != tuple(ns) and not (g is None and not ns):
                    fail(f"topline {c} {wv} {item} {d}:{l}: n {g} != {ns}")
            r += 1
        check(seen == [i for i in order if i in set(sub.item)], f"topline {c} {wv}: items in questionnaire order")
        for row in ws.iter_rows(values_only=True):
            for v in row:
                if isinstance(v, str) and v.startswith("="):
                    fail(f"topline {c} {wv}: formula {v}")
    check(nchecked == len(t), f"topline: all {len(t)} estimates of tables.arrow with their margins of error")

print(f"export check: {PASSED} passed, 0 failed")
