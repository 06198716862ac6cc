#!/usr/bin/env Rscript
# Reference tables, contrasts and odds ratios with replicate-weight variance
# (svrepdesign), for the agreement tests of `swvr tabulate` and `swvr model`
# with `[variance] method = "jackknife" | "bootstrap"`.
#
# Input (committed, made by scripts/r/replicate_weights_make.R):
# fixtures/reference/replicate_se/input.csv (KEN, LBN, ZZL with a lonely
# stratum, SEN dual-frame), {jkn,boot}.csv (full-sample and replicate
# weights) and {jkn,boot}_design.csv (type, scale, mse, rscales per country).
#
# Per set and country: des <- svrepdesign(repweights = the country's
# replicate columns, weights = ~weight, type = "JKn" | "bootstrap",
# scale =, rscales =, mse =, combined.weights = TRUE, data = its rows); then
# (replicate_table_rows, replicate_contrast_rows, replicate_model_rows of
# scripts/r/common.R)
# - tables: for every item, derived indicator, domain level (subset of the
#   respondents asked the item, as svyby(~I(y == k), ~domain, design, ...)
#   does: `svyby` evaluates FUN on design[byfactor %in% level, ]):
#   svymean(~factor(item), sub, deff = "replace", return.replicates = TRUE):
#   estimate, se, deff; df = degf(sub) (the numerical rank of the subset's
#   replicate weights minus 1); the logit interval of
#   svyciprop(method = "logit"), which on a replicate design fits
#   svyglm(I(y == k) ~ 1) per replicate: the intercept of replicate r is
#   logit(p_r), its variance svrVar(logit(p_r), scale, rscales, mse,
#   coef = logit(p)), the interval expit(logit(p) +- qt(0.975, df) * sqrt(v)).
#   It is computed here from the replicate means directly (NA when a
#   replicate share is 0 or 1: there svyglm's replicate fit does not
#   converge and returns an arbitrary large value); the script checks that
#   svyciprop itself gives the same limits on a sample of rows.
#   Q4B_net: svymean(~net), interval estimate +- t * se.
# - contrasts: svyby(~factor(item), ~domain, asked, svymean, covmat = TRUE) +
#   svycontrast(c(a = 1, b = -1)) for every pair of levels; df = degf() of
#   the two levels' subset.
# - model (not ZZL, too small): svyglm(Q7yes ~ ..., subset(des, complete),
#   family = quasibinomial, control = glm.control(epsilon = 1e-14, maxit = 100)):
#   coefficients, SEs (replicate refits), confint(), summary p-values,
#   df.residual.
# Writes fixtures/reference/replicate_se/{jkn,boot}_{tables,contrasts,model}_ref.csv.
#
# Usage (from the repository root): Rscript scripts/r/replicate_se_reference.R

source("scripts/r/common.R")
dir <- "fixtures/reference/replicate_se"

inp <- add_model_variables(prepare_tabulation(read_tabulation_input(file.path(dir, "input.csv")))$d)

set.seed(1)
for (set in c("jkn", "boot")) {
  w <- read.csv(file.path(dir, paste0(set, ".csv")), stringsAsFactors = FALSE)
  ds <- read.csv(file.path(dir, paste0(set, "_design.csv")), stringsAsFactors = FALSE)
  stopifnot(identical(w$respondent_id, inp$respondent_id))
  tabs <- list(); cons <- list(); mods <- list()
  for (i in seq_len(nrow(ds))) {
    cc <- ds$country[i]
    rows <- inp$country == cc
    rs <- as.numeric(strsplit(ds$rscales[i], " ")[[1]])
    rw <- as.matrix(w[rows, paste0("rep_", seq_along(rs))])
    dc <- inp[rows, ]
    dc$weight <- w$weight[rows]
    des <- svrepdesign(data = dc, repweights = rw, weights = ~weight, type = ds$type[i],
                       scale = ds$scale[i], rscales = rs, mse = as.logical(ds$mse[i]), combined.weights = TRUE)
    tabs <- c(tabs, replicate_table_rows(des, cc))
    cons <- c(cons, replicate_contrast_rows(des, cc))
    if (cc != "ZZL") mods <- c(mods, replicate_model_rows(des, cc))
  }
  for (what in c("tables", "contrasts", "model")) {
    rows <- switch(what, tables = tabs, contrasts = cons, model = mods)
    ref <- do.call(rbind, rows)
    write.csv(ref, file.path(dir, paste0(set, "_", what, "_ref.csv")), row.names = FALSE, quote = FALSE)
    cat(set, what, ":", nrow(ref), "rows\n")
  }
}
cat("svyciprop checked on", checked_ciprop, "rows\n")
