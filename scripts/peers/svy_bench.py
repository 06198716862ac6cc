#!/usr/bin/env python3
"""Peer timing with the Python `svy` package on a swvr wave bundle (optional; not a test).

usage: python3 scripts/peers/svy_bench.py BUNDLE_DIR [JOBS]
JOBS: comma-separated subset of rake,tables,model (default all); a skipped
job prints "NA".
Prints one line: "rake_s tables_s model_s read_s" (wall seconds; data
preparation excluded; read_s is polars' read_csv of respondents.csv alone, the
peer of `swvr ingest`, which also validates and writes Arrow). Run by
scripts/bench_peers.sh.

The same three jobs as scripts/peers/r_survey.R, per country:
 (a) rake: Sample(Design(stratum="stratum", wgt="base_weight", wr=True)), then
     sample.weighting.rake(shares=targets of sex, age_group, education,
     tol=1e-10, max_iter=1000). svy's tol is the largest *relative* misfit
     |achieved - target| / target, which at 1e-10 is at least as strict as
     swvr's absolute 1e-10 on shares.
 (b) tables: estimation.prop(all 17 items, by=domain, deff="wr",
     drop_nulls=True) for the total and each of the five domains. drop_nulls
     makes "asked the item" and "known domain level" domains of the whole
     country sample (rows stay in the design), as R's subset() and swvr do.
     The sample is rebuilt with the raked weights as a plain weight column
     (fixed weights, as swvr and the R script do).
 (c) glm.fit(y="y7", x=[Q1, Q3A, Q3B, Q3C as 0/1, Cat(sex), Cat(age_group),
     Cat(education), Cat(urbanicity), Cat(employment)], family="binomial");
     nulls (DK/refused, not asked) dropped from the fit but kept in the design.

Not timed (preparation, same as the R script): base weights by the contract's
multiplicity formula with the default caps; DK/refused sex, age and education
replaced by the country's most frequent category for raking.
"""

import sys
import time
import warnings

import polars as pl
import svy

ITEMS = ["Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q4B", "Q4B_1", "Q5A", "Q6",
         "Q6A", "Q7", "Q8A", "Q8B", "Q8C", "Q8D", "Q8E"]
DOMAINS = ["sex_d", "age_group", "urb_d", "emp_d", "edu_d"]
BANDS = [(15, 29, "15-29"), (30, 44, "30-44"), (45, 59, "45-59"), (60, 120, "60+")]


T_READ = float("nan")


def prepare(bundle):
    """Reads the bundle and returns {country: polars frame} with base weights etc."""
    cols = {c: pl.Int64 for c in ["n_adults", "n_landlines", "n_mobiles", "sex", "age",
                                  "education", "employment", "urbanicity"] + ITEMS}
    global T_READ
    t0 = time.perf_counter()
    d = pl.read_csv(f"{bundle}/respondents.csv", schema_overrides=cols)
    T_READ = time.perf_counter() - t0
    targets = pl.read_csv(f"{bundle}/targets.csv", schema_overrides={"category": pl.Utf8})
    design = pl.read_csv(f"{bundle}/design.csv")
    age_group = pl.lit(None, dtype=pl.Utf8)
    for lo, hi, lab in reversed(BANDS):
        age_group = pl.when(pl.col("age").is_between(lo, hi)).then(pl.lit(lab)).otherwise(age_group)

    def coded(col, codes):
        return pl.when(pl.col(col).is_in(codes)).then(pl.col(col).cast(pl.Utf8)).otherwise(None)

    def yes01(col):
        return pl.when(pl.col(col) == 1).then(1.0).when(pl.col(col) == 2).then(0.0).otherwise(None)

    d = d.with_columns(
        age_group=age_group,
        sex_d=coded("sex", [1, 2]),
        edu_d=coded("education", [1, 2, 3]),
        emp_d=coded("employment", [1, 2]),
        urb_d=pl.when(pl.col("urbanicity").is_in([1, 2])).then(pl.lit("rural"))
        .when(pl.col("urbanicity").is_in([3, 4])).then(pl.lit("urban")).otherwise(None),
        y7=yes01("Q7"), x1=yes01("Q1"), x3a=yes01("Q3A"), x3b=yes01("Q3B"), x3c=yes01("Q3C"),
    )
    out = {}
    for country in sorted(d["country"].unique().to_list()):
        s = d.filter(pl.col("country") == country)
        rates = {r["frame"]: r["sample_size"] / r["frame_size"]
                 for r in design.filter(pl.col("country") == country).iter_rows(named=True)}
        fl, fm = rates.get("L", 0.0), rates.get("M", 0.0)

        def cnt(col, frame):
            drawn = pl.col("frame") == frame
            return pl.when(pl.col(col).is_null()).then(pl.when(drawn).then(1).otherwise(0)).otherwise(pl.col(col))

        pl_ = fl * pl.min_horizontal(cnt("n_landlines", "L"), 3) / pl.min_horizontal(pl.col("n_adults").fill_null(1), 4)
        pm_ = fm * pl.min_horizontal(cnt("n_mobiles", "M"), 3)
        s = s.with_columns(base_weight=1.0 / (pl_ + pm_ - pl_ * pm_))
        fills = {}
        for col, src in [("sex_w", "sex_d"), ("education_w", "edu_d"), ("age_group_w", "age_group")]:
            mode = s[src].drop_nulls().mode().sort()[0]
            fills[col] = pl.col(src).fill_null(mode)
        s = s.with_columns(**fills)
        shares = {}
        for var in ["sex", "age_group", "education"]:
            t = targets.filter((pl.col("country") == country) & (pl.col("variable") == var))
            shares[f"{var}_w"] = dict(zip(t["category"].to_list(), t["share"].to_list()))
        out[country] = (s, shares)
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: svy_bench.py BUNDLE_DIR [rake,tables,model]")
    jobs = set((sys.argv[2] if len(sys.argv) == 3 else "rake,tables,model").split(","))
    warnings.simplefilter("ignore")
    data = prepare(sys.argv[1])

    # (a) raking
    raked = {}
    t0 = time.perf_counter()
    for country, (s, shares) in data.items():
        sample = svy.Sample(s, svy.Design(stratum="stratum", wgt="base_weight", wr=True))
        sample = sample.weighting.rake(shares=shares, tol=1e-10, max_iter=1000, wgt_name="rk_wgt")
        raked[country] = sample
    t_rake = time.perf_counter() - t0

    # fixed-weight samples for (b) and (c) (untimed)
    fixed = {}
    for country, sample in raked.items():
        frame = sample.data
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        w = frame["rk_wgt"]
        frame = frame.with_columns(weight=w * (len(w) / w.sum()))
        fixed[country] = svy.Sample(frame, svy.Design(stratum="stratum", wgt="weight", wr=True))

    # (b) all items x all domains
    n_est = 0
    t0 = time.perf_counter()
    for country, sample in (fixed.items() if "tables" in jobs else []):
        for by in [None] + DOMAINS:
            res = sample.estimation.prop(ITEMS, by=by, deff="wr", drop_nulls=True)
            n_est += sum(r.to_polars().height for r in res)
    t_tab = time.perf_counter() - t0

    # (c) design-based logistic model
    t0 = time.perf_counter()
    for country, sample in (fixed.items() if "model" in jobs else []):
        model = sample.glm.fit(
            y="y7",
            x=["x1", "x3a", "x3b", "x3c", svy.Cat("sex_d"), svy.Cat("age_group"),
               svy.Cat("edu_d"), svy.Cat("urb_d"), svy.Cat("emp_d")],
            family="binomial",
        )
        model.to_polars()
    t_mod = time.perf_counter() - t0
    print(f"svy_bench: {len(fixed)} countries, {n_est} table estimates", file=sys.stderr)
    fmt = {"rake": f"{t_rake:.3f}", "tables": f"{t_tab:.3f}", "model": f"{t_mod:.3f}"}
    print(" ".join([fmt[j] if j in jobs else "NA" for j in ["rake", "tables", "model"]] + [f"{T_READ:.3f}"]))


if __name__ == "__main__":
    main()
