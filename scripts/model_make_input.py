#!/usr/bin/env python3
"""Writes fixtures/reference/model/input.csv: the weighted input of the R
agreement test for `swvr model` (scripts/r/model_reference.R).

Deterministic (own linear congruential generator, no library RNG), so the
file never changes unless this script does. Columns are those of
weight/weighted.arrow and ingest/respondents.arrow that the model reads: country, wave, stratum, the coded
demographics, age, age_group (default bands 15-29/30-44/45-59/60+, blank
when age is DK/refused), Q1, Q3A, Q3B, Q3C, Q7 and weight.

Countries (synthetic, so every hard case is present on purpose):
- AAA, BBB, CCC: ordinary countries (BBB has a single-respondent stratum,
  to exercise the lonely-PSU "adjust" rule).
- SNG: nobody has tertiary education (singular design: R returns NA for
  that coefficient and fits the rest).
- SEP: everyone with Q1 = yes plans to volunteer (Q7 = yes): quasi-complete
  separation; the ordinary MLE does not exist, Firth's does.

Weights: w = 0.35 + 2.3 * u where u is the generator's next uniform draw
(deterministic, non-trivial: ratio max/min about 7), then divided by their
mean within the country (they sum to n, as the weight stage's do).

Fixture countries: with `--weighted OUT/weight/weighted.arrow` (the output
of `swvr run --out OUT` on the committed fixture bundle, fixtures/*.csv), the
eight countries of the fixture bundle are written first, with the weight
stage's final weights and age groups (needs pyarrow). The committed file was
made that way, so R and Rust are compared on the fixtures as well as on the
hard cases.

Usage (from the repository root):
  cargo run --release -p swvr-cli -- run --out /tmp/swvr-out
  python3 scripts/model_make_input.py --weighted /tmp/swvr-out/weight/weighted.arrow
"""
import csv
import math
import os

OUT = os.path.join("fixtures", "reference", "model", "input.csv")


class Lcg:
    """Knuth's MMIX LCG; 53-bit uniforms from the high bits."""

    def __init__(self, seed):
        self.s = seed & (2**64 - 1)

    def u(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        return (self.s >> 11) / float(2**53)

    def pick(self, probs):
        x, acc = self.u(), 0.0
        for i, p in enumerate(probs):
            acc += p
            if x < acc:
                return i
        return len(probs) - 1


def band(age):
    if age >= 998:
        return ""
    if age < 30:
        return "15-29"
    if age < 45:
        return "30-44"
    if age < 60:
        return "45-59"
    return "60+"


def yn(rng, p, dk=0.02, ref=0.01):
    x = rng.u()
    if x < dk:
        return 8
    if x < dk + ref:
        return 9
    return 1 if rng.u() < p else 2


def country(code, n, strata, seed, beta, no_tertiary=False, separate=False):
    rng = Lcg(seed)
    rows = []
    for i in range(n):
        st = strata[rng.pick([s[1] for s in strata])][0]
        sex = 9 if rng.u() < 0.01 else 1 + (rng.u() < 0.52)
        age = 998 if rng.u() < 0.015 else (999 if rng.u() < 0.01 else 15 + int(rng.u() ** 1.3 * 70))
        edu = [1, 2, 3, 8, 9][rng.pick([0.35, 0.4, 0.2, 0.03, 0.02])]
        if no_tertiary and edu == 3:
            edu = 2
        emp = [1, 2, 8, 9][rng.pick([0.55, 0.42, 0.02, 0.01])]
        urb = [1, 2, 3, 4, 8, 9][rng.pick([0.3, 0.2, 0.3, 0.17, 0.02, 0.01])]
        q1 = yn(rng, 0.35)
        q3 = [yn(rng, p) for p in (0.2, 0.25, 0.5)]
        x = {
            "Q1": q1 == 1, "Q3A": q3[0] == 1, "Q3B": q3[1] == 1, "Q3C": q3[2] == 1,
            "sex": sex == 2, "a30": band(age) == "30-44", "a45": band(age) == "45-59",
            "a60": band(age) == "60+", "sec": edu == 2, "ter": edu == 3,
            "urb": urb in (3, 4), "nemp": emp == 2,
        }
        eta = beta["_"] + sum(beta[k] * v for k, v in x.items())
        q7 = yn(rng, 1 / (1 + math.exp(-eta)), dk=0.03, ref=0.01)
        if separate and q1 == 1 and q7 == 2:
            q7 = 1
        w = 0.35 + 2.3 * rng.u()
        rows.append([code, 2021, st, sex, age, edu, emp, urb, q1, q3[0], q3[1], q3[2], q7, band(age), w])
    mean = sum(r[-1] for r in rows) / len(rows)
    for r in rows:
        r[-1] = repr(r[-1] / mean)
    return rows


BETA = {"_": -0.4, "Q1": 1.2, "Q3A": 0.8, "Q3B": 0.6, "Q3C": 0.4, "sex": 0.1, "a30": -0.1,
        "a45": -0.3, "a60": -0.5, "sec": 0.2, "ter": 0.35, "urb": 0.05, "nemp": -0.15}


COLUMNS = ["country", "wave", "stratum", "sex", "age", "education", "employment", "urbanicity",
           "Q1", "Q3A", "Q3B", "Q3C", "Q7", "age_group", "weight"]


def fixture_rows(path):
    import os

    from swvr_arrow import read_weighted

    # PATH is OUT/weight/weighted.arrow; the answers are in OUT/ingest/respondents.arrow.
    t = read_weighted(os.path.dirname(os.path.dirname(os.path.abspath(path))))
    cols = {c: t.column(c).to_pylist() for c in COLUMNS}
    out = []
    for i in range(t.num_rows):
        r = []
        for c in COLUMNS:
            v = cols[c][i]
            r.append("" if v is None else (repr(v) if c == "weight" else v))
        out.append(r)
    return out


def main():
    import sys

    rows = []
    if "--weighted" in sys.argv:
        rows += fixture_rows(sys.argv[sys.argv.index("--weighted") + 1])
    rows += country("AAA", 900, [("A1", 0.3), ("A2", 0.5), ("A3", 0.2)], 11, BETA)
    b = dict(BETA, Q1=0.5, Q3B=1.1)
    bbb = country("BBB", 700, [("B1", 0.6), ("B2", 0.4)], 22, b)
    bbb[0][2] = "B9"  # a single-respondent stratum
    rows += bbb
    rows += country("CCC", 500, [("C1", 0.25), ("C2", 0.25), ("C3", 0.25), ("C4", 0.25)], 33, dict(BETA, Q3C=0.9))
    rows += country("SNG", 600, [("S1", 0.5), ("S2", 0.5)], 44, BETA, no_tertiary=True)
    rows += country("SEP", 400, [("P1", 0.5), ("P2", 0.5)], 55, BETA, separate=True)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    print(f"wrote {OUT}: {len(rows)} rows")


if __name__ == "__main__":
    main()
