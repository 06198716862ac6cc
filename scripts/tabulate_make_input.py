#!/usr/bin/env python3
"""Deterministic weighted input for the tabulate agreement test.

Writes fixtures/reference/tabulate/input.csv (the columns of
weight/weighted.arrow that tabulation reads) and lonely.csv (a small case
with a lonely stratum and estimates of exactly 0 and 1). The R script
scripts/r/tabulate_reference.R computes the reference estimates from them,
and crates/swvr-tabulate/tests compare against those.

Data: a synthetic sample with the questionnaire's routing (Q2 if Q1 != 1,
Q4B if Q4A = 1, Q4B_1 if Q4A != 1, Q6A if Q6 = 4), DK/refused on items and
demographics, answers that depend on the demographics.
 - KEN: 600 respondents in 4 strata of unequal size (multi-stratum);
 - LBN: 400 respondents in one stratum (single-stratum, as in the fixtures);
Weights: w = 0.3 + 1.7 * u^2 (u uniform from Python's Mersenne Twister,
seed 20211), normalised to sum to n within each country.

Usage: python3 scripts/tabulate_make_input.py
"""
import csv
import random
from pathlib import Path

ITEMS = ["Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q4B", "Q4B_1", "Q5A", "Q6", "Q6A",
         "Q7", "Q8A", "Q8B", "Q8C", "Q8D", "Q8E"]
DEMO = ["sex", "age", "education", "employment", "urbanicity"]
COLS = ["country", "wave", "respondent_id", "stratum"] + DEMO + ITEMS + ["age_group", "weight"]
OUT = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "tabulate"


def band(age):
    if age >= 998:
        return ""
    return "15-29" if age < 30 else "30-44" if age < 45 else "45-59" if age < 60 else "60+"


def pick(rng, p_yes, yes=1, no=2, p_dk=0.03, p_ref=0.01):
    u = rng.random()
    if u < p_dk:
        return 8
    if u < p_dk + p_ref:
        return 9
    return yes if rng.random() < p_yes else no


def respondent(rng, country, i, stratum):
    sex = 9 if rng.random() < 0.01 else rng.choice([1, 2])
    age = 998 if rng.random() < 0.02 else 999 if rng.random() < 0.01 else rng.randint(15, 85)
    edu = rng.choices([1, 2, 3, 8, 9], [30, 45, 21, 2, 2])[0]
    emp = rng.choices([1, 2, 8, 9], [55, 42, 2, 1])[0]
    urb = rng.choices([1, 2, 3, 4, 8, 9], [30, 25, 30, 12, 2, 1])[0]
    lift = 0.1 * (sex == 1) + 0.05 * (edu == 3) - 0.05 * (urb in (3, 4))
    r = {"country": country, "wave": 2021, "respondent_id": f"{country}{i:05d}",
         "stratum": stratum, "sex": sex, "age": age, "education": edu,
         "employment": emp, "urbanicity": urb}
    r["Q1"] = pick(rng, 0.45 + lift)
    r["Q2"] = pick(rng, 0.3 + lift) if r["Q1"] != 1 else ""
    for q, p in (("Q3A", 0.15), ("Q3B", 0.25), ("Q3C", 0.55)):
        r[q] = pick(rng, p + lift)
    r["Q4A"] = pick(rng, 0.3 + lift, p_dk=0.01, p_ref=0.005)
    if r["Q4A"] == 1:
        u = rng.random()
        r["Q4B"] = 8 if u < 0.03 else 9 if u < 0.04 else rng.choices([1, 2, 3], [25, 40, 35])[0]
        r["Q4B_1"] = ""
    else:
        r["Q4B"] = ""
        r["Q4B_1"] = pick(rng, 0.2)
    r["Q5A"] = pick(rng, 0.35 + lift)
    u = rng.random()
    r["Q6"] = 8 if u < 0.03 else 9 if u < 0.04 else rng.choices([1, 2, 3, 4], [20, 30, 30, 20])[0]
    r["Q6A"] = pick(rng, 0.3) if r["Q6"] == 4 else ""
    r["Q7"] = pick(rng, 0.6 + lift)
    for q, p in (("Q8A", 0.7), ("Q8B", 0.5), ("Q8C", 0.45), ("Q8D", 0.5), ("Q8E", 0.6)):
        r[q] = pick(rng, p + lift)
    r["age_group"] = band(age)
    r["weight"] = 0.3 + 1.7 * rng.random() ** 2
    return r


def normalise(rows):
    by = {}
    for r in rows:
        by.setdefault(r["country"], []).append(r)
    for rs in by.values():
        s = sum(r["weight"] for r in rs)
        for r in rs:
            r["weight"] = r["weight"] * len(rs) / s


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            r = dict(r)
            r["weight"] = repr(float(r["weight"]))
            w.writerow(r)


def main():
    rng = random.Random(20211)
    rows = []
    sizes = [("KEN-M-NAIROBI", 220), ("KEN-M-COAST", 90), ("KEN-M-RIFT", 250), ("KEN-M-WEST", 40)]
    i = 0
    for s, n in sizes:
        for _ in range(n):
            i += 1
            rows.append(respondent(rng, "KEN", i, s))
    for i in range(1, 401):
        rows.append(respondent(rng, "LBN", i, "LBN-M"))
    normalise(rows)
    write(OUT / "input.csv", rows)

    # Lonely case: stratum A holds one respondent; every tertiary-educated
    # respondent answers Q1 = no (estimate 0 for yes, 1 for no in that level).
    rng = random.Random(7)
    lonely = []
    for i, s in enumerate(["A"] + ["B"] * 24 + ["C"] * 15, start=1):
        r = respondent(rng, "ZZL", i, s)
        if r["education"] == 3:
            r["Q1"] = 2
            r["Q2"] = pick(rng, 0.4)
        if r["education"] in (8, 9):
            r["education"] = 2
        lonely.append(r)
    normalise(lonely)
    write(OUT / "lonely.csv", lonely)


if __name__ == "__main__":
    main()
