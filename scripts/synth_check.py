#!/usr/bin/env python3
"""Achieved vs published figures of a synthetic wave bundle (swvr synth).

Usage: python3 scripts/synth_check.py [BUNDLE_DIR]   (default: fixtures)

Prints, per country, the volunteer action rate by sex (Fig. 3.3), Q4B
increased/decreased among Q4A = yes (Table 3.1), Q8C/Q8D/Q8E "likely" by sex
(Table 3.2), the share "about the same" on Q6 (Fig. 3.6), and the odds ratios
of Q7 on Q1, Q3A, Q3B, Q3C (Table A2). Two estimates: unweighted, and
raked (sex x age_group x education to targets.csv, base weights ignored), a
quick independent check, not the pipeline's weights.
"""
import sys
import numpy as np
import pandas as pd

FIG33 = {"BOL": (81, 75), "IND": (82, 81), "KEN": (95, 90), "LBN": (75, 75),
         "SEN": (99, 97), "THA": (77, 82), "TUR": (82, 79), "UZB": (96, 88)}  # men, women
T31 = {"TUR": (18, 47), "UZB": (29, 46), "BOL": (21, 37), "IND": (33, 46),
       "KEN": (36, 43), "SEN": (40, 44), "LBN": (20, 23), "THA": (25, 23)}
T32 = {  # women, men
    "Q8C": {"BOL": (48, 54), "IND": (47, 47), "KEN": (68, 77), "LBN": (35, 42),
            "SEN": (83, 82), "THA": (45, 56), "TUR": (41, 48), "UZB": (42, 51)},
    "Q8D": {"BOL": (60, 59), "IND": (39, 42), "KEN": (61, 74), "LBN": (56, 58),
            "SEN": (66, 66), "THA": (54, 56), "TUR": (40, 49), "UZB": (39, 40)},
    "Q8E": {"BOL": (65, 75), "IND": (48, 48), "KEN": (77, 87), "LBN": (65, 68),
            "SEN": (85, 83), "THA": (64, 72), "TUR": (59, 71), "UZB": (52, 70)},
}
TA2 = {"BOL": (3.94, 2.33, None, None), "IND": (7.86, 2.93, None, None),
       "KEN": (None, 2.71, 2.19, None), "LBN": (None, 1.78, 2.46, 2.66),
       "SEN": (None, None, 2.86, 2.47), "THA": (None, None, 1.98, 2.06),
       "TUR": (2.46, None, 3.39, 2.41), "UZB": (6.05, None, 1.65, None)}
BANDS = [(15, 29, "15-29"), (30, 44, "30-44"), (45, 59, "45-59"), (60, 120, "60+")]


def age_group(a):
    for lo, hi, lab in BANDS:
        if lo <= a <= hi:
            return lab
    return None


def rake(df, targets, variables=("sex", "age_group", "education"), iters=200):
    w = np.ones(len(df))
    for _ in range(iters):
        for v in variables:
            t = targets[targets.variable == v].set_index("category").share
            col = df[v].astype(str)
            ok = col.isin(t.index)
            tot = w[ok.values].sum()
            for cat, share in t.items():
                m = (col == cat).values
                s = w[m].sum()
                if s > 0:
                    w[m] *= share * tot / s
    return w / w.mean()


def share(mask_num, mask_den, w):
    d = w[mask_den].sum()
    return 100 * w[mask_num & mask_den].sum() / d if d else float("nan")


def logit_or(df, w):
    d = df[df.Q7.isin([1, 2]) & df.Q1.isin([1, 2]) & df.Q3A.isin([1, 2])
           & df.Q3B.isin([1, 2]) & df.Q3C.isin([1, 2])
           & df.sex.isin([1, 2]) & df.age_group.notna()
           & df.education.isin([1, 2, 3]) & df.urbanicity.isin([1, 2, 3, 4])
           & df.employment.isin([1, 2])]
    ww = w[d.index.values]
    X = np.column_stack([
        np.ones(len(d)), (d.Q1 == 1), (d.Q3A == 1), (d.Q3B == 1), (d.Q3C == 1),
        (d.sex == 2), (d.age_group == "30-44"), (d.age_group == "45-59"), (d.age_group == "60+"),
        (d.education == 2), (d.education == 3), d.urbanicity.isin([3, 4]), (d.employment == 2),
    ]).astype(float)
    y = (d.Q7 == 1).values.astype(float)
    b = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ b))
        W = ww * p * (1 - p)
        step = np.linalg.solve(X.T @ (X * W[:, None]), X.T @ (ww * (y - p)))
        b += step
        if np.abs(step).max() < 1e-10:
            break
    return np.exp(b[1:5])


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    r = pd.read_csv(f"{d}/respondents.csv", dtype={"age_group": str})
    t = pd.read_csv(f"{d}/targets.csv", dtype={"category": str})
    r["age_group"] = r.age.map(age_group)
    items = ["Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q5A"]
    r["action"] = (r[items] == 1).any(axis=1)
    rows = []
    for c, g in r.groupby("country", sort=True):
        g = g.reset_index(drop=True)
        weights = {"unw": np.ones(len(g)), "raked": rake(g, t[t.country == c])}
        for kind, w in weights.items():
            male, female = (g.sex == 1).values, (g.sex == 2).values
            row = {"country": c, "est": kind}
            pub = FIG33.get(c, (np.nan, np.nan))
            row["act_m"] = f"{share(g.action.values, male, w):.0f}/{pub[0]}"
            row["act_f"] = f"{share(g.action.values, female, w):.0f}/{pub[1]}"
            a = (g.Q4A == 1).values
            pub = T31.get(c, (np.nan, np.nan))
            row["Q4B_inc"] = f"{share((g.Q4B == 1).values, a, w):.0f}/{pub[0]}"
            row["Q4B_dec"] = f"{share((g.Q4B == 2).values, a, w):.0f}/{pub[1]}"
            for q in ("Q8C", "Q8D", "Q8E"):
                pub = T32[q].get(c, (np.nan, np.nan))
                lik = (g[q] == 1).values
                row[f"{q}_f"] = f"{share(lik, female, w):.0f}/{pub[0]}"
                row[f"{q}_m"] = f"{share(lik, male, w):.0f}/{pub[1]}"
            row["Q6_same"] = f"{share((g.Q6 == 3).values, np.ones(len(g), bool), w):.0f}"
            ors = logit_or(g, w)
            pub = TA2.get(c, (None,) * 4)
            row["OR Q1,Q3A,Q3B,Q3C (pub)"] = " ".join(
                f"{o:.2f}({p if p else 'ns'})" for o, p in zip(ors, pub))
            rows.append(row)
    out = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    print(f"bundle {d}: {len(r)} respondents; cells are achieved/published percent")
    print(out.to_string(index=False))


if __name__ == "__main__":
    main()
