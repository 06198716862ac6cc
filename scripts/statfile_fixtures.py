#!/usr/bin/env python3
"""Writes the SPSS and Stata versions of the fixture bundle's respondents
with pyreadstat (ReadStat, the engine of R haven), for swvr-ingest's tests:

  fixtures/statfile/respondents.zsav  all 8000 rows, zlib-compressed
  fixtures/statfile/bol.sav           the 1000 BOL rows, bytecode-compressed, UTF-8
  fixtures/statfile/bol.dta           the 1000 BOL rows, Stata 14 (format 118)
  fixtures/statfile/small.{sav,zsav}  the first 20 rows (small.sav uncompressed)
  fixtures/statfile/small_117.dta, small_118.dta, small_119.dta
  fixtures/statfile/bad.sav, bad.dta  rows with defects, for rejects.csv
  fixtures/statfile/mislabelled.sav   Q1 labelled 1 = "No"
  fixtures/statfile/remap.sav         small.sav with Q1's DK as 98 = "Don't know", user-missing
  fixtures/statfile/unknown.sav       a record of XXX 2021 (not in design.csv)
  fixtures/statfile/no_q1.sav         small.sav without Q1
  fixtures/statfile/empty.sav         the variables and no record

Usage: python3 scripts/statfile_fixtures.py [FIXTURES_DIR [OUT_DIR [--full]]]

With --full (used by a test when pyreadstat is installed) it writes only
respondents.sav and respondents.dta of all 8000 rows into OUT_DIR (2.9 MB
together: too large to commit).

Numeric columns (wave, counts, demographics, items, duration_s) become
numbers (blank = system-missing); country, respondent_id, frame, stratum
and language stay text. Labels are what a CATI vendor writes: question
texts, value labels such as "Yes", "Don't know", "Refused" (capitalised,
not swvr's category names), and DK/refused declared missing: SPSS
user-missing values (the codes stay 8/9, 998/999); Stata extended missing
values `.d` (DK) and `.r` (refused), as swvr's own export writes them.
"""
import os
import sys
import tomllib

import numpy as np
import pandas as pd
import pyreadstat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fixtures")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(FIX, "statfile")
FULL = "--full" in sys.argv[3:]
os.makedirs(OUT, exist_ok=True)

q = tomllib.load(open(os.path.join(ROOT, "questionnaire", "unv_gallup_2021.toml"), "rb"))
sets = q["answer_sets"]
VENDOR = {"yes": "Yes", "no": "No", "dk": "Don't know", "refused": "Refused"}


def vendor(cat):
    return VENDOR.get(cat, cat.replace("_", " ").capitalize())


coded = {}  # column -> answer set codes
texts = {}
for d in q["demographics"]:
    texts[d["name"]] = d.get("text", "")
    if d["kind"] == "coded":
        coded[d["name"]] = sets[d["answers"]]["codes"]
numeric_missing = {d["name"]: d.get("missing_codes", []) for d in q["demographics"] if d["kind"] == "numeric"}
for it in q["items"]:
    texts[it["id"]] = it.get("text", "")
    coded[it["id"]] = sets[it["answers"]]["codes"]

TEXT = {"country", "respondent_id", "frame", "stratum", "language"}

raw = pd.read_csv(os.path.join(FIX, "respondents.csv"), dtype=str, keep_default_na=False)
df = raw.copy()
for c in df.columns:
    if c not in TEXT:
        df[c] = pd.to_numeric(df[c].replace("", np.nan)).astype(float)

labels = {c: {int(k["code"]): vendor(k["category"]) for k in codes} for c, codes in coded.items()}
for c, ms in numeric_missing.items():
    labels[c] = {m: ("Don't know" if m % 10 == 8 else "Refused") for m in ms}
missing = {c: [int(k["code"]) for k in codes if k.get("missing")] for c, codes in coded.items()}
missing.update({c: list(ms) for c, ms in numeric_missing.items()})
missing = {c: v for c, v in missing.items() if v}
col_labels = {c: texts.get(c) or None for c in df.columns}


def sav(frame, name, **kw):
    pyreadstat.write_sav(frame, os.path.join(OUT, name), column_labels=col_labels,
                         variable_value_labels=labels, missing_ranges=missing, **kw)


def stata_frame(frame):
    """DK/refused codes as Stata's extended missing `.d` / `.r`."""
    f = frame.copy()
    for c, ms in missing.items():
        kinds = {}
        for m in ms:
            cat = next((k["category"] for k in coded.get(c, []) if k["code"] == m), None)
            kinds[m] = "d" if (cat == "dk" or (cat is None and m % 10 == 8)) else "r"
        f[c] = pd.Series([kinds.get(v, v) if isinstance(v, float) and not np.isnan(v) else v for v in frame[c]],
                         index=frame.index, dtype=object)
    return f


def dta_labels():
    out = {}
    for c, lab in labels.items():
        out[c] = {k: v for k, v in lab.items() if k not in missing.get(c, [])}
    return out


def dta(frame, name, version):
    f = stata_frame(frame)
    users = {c: ["d", "r"] for c in missing}
    short = {c: (t[:80] if t else t) for c, t in col_labels.items()}  # Stata's limit
    pyreadstat.write_dta(f, os.path.join(OUT, name), version=version, column_labels=short,
                         variable_value_labels=dta_labels(), missing_user_values=users)


if FULL:
    sav(df, "respondents.sav", row_compress=True)
    dta(df, "respondents.dta", 14)
    sys.exit(0)
sav(df, "respondents.zsav", compress=True)
bol = df[df["country"] == "BOL"]
sav(bol, "bol.sav", row_compress=True)
dta(bol, "bol.dta", 14)
small = df.head(20)
sav(small, "small.sav")
sav(small, "small.zsav", compress=True)
for v, rel in ((13, 117), (14, 118), (15, 119)):
    dta(small, f"small_{rel}.dta", v)

# Defects, one per row after the first (record numbers in rejects.csv).
bad = df.head(6).copy()
bad.loc[1, "Q3A"] = 7          # out of range
bad.loc[2, "age"] = 33.5       # not an integer
bad.loc[3, "respondent_id"] = bad.loc[0, "respondent_id"]  # duplicate id
bad.loc[4, "wave"] = 2021.0    # integral double: fine
bad.loc[5, "sex"] = np.nan     # blank demographic
sav(bad, "bad.sav", row_compress=True)
dta(bad, "bad.dta", 14)

wrong = dict(labels)
wrong["Q1"] = {1: "No", 2: "Yes", 8: "Don't know", 9: "Refused"}
pyreadstat.write_sav(small, os.path.join(OUT, "mislabelled.sav"), variable_value_labels=wrong,
                     missing_ranges=missing)
remap = small.copy()
remap["Q1"] = remap["Q1"].replace(8.0, 98.0)
relabel = dict(labels)
relabel["Q1"] = {1: "Yes", 2: "No", 98: "Don't know", 9: "Refused"}
rmiss = dict(missing)
rmiss["Q1"] = [98, 9]
pyreadstat.write_sav(remap, os.path.join(OUT, "remap.sav"), variable_value_labels=relabel, missing_ranges=rmiss)
unknown = small.copy()
unknown.loc[3, "country"] = "XXX"
sav(unknown, "unknown.sav")
sav(small.drop(columns=["Q1"]), "no_q1.sav")
sav(small.head(0), "empty.sav")
print("wrote", sorted(os.listdir(OUT)))
