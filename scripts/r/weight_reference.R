#!/usr/bin/env Rscript
# Reference base weights and raked weights for `swvr weight`, computed with
# R's survey package.
#
# Reads fixtures/design.csv, fixtures/targets.csv and, per case,
# fixtures/reference/weight/inputs_<case>.csv (made by
# scripts/weight_reference_inputs.py: respondent key, frame, stratum, raw
# phone counts, and the raking categories after swvr's documented
# imputation of DK/refused) plus the case's scheme_<case>.toml settings
# (restated below). Writes fixtures/reference/weight/<case>_ref.csv:
# country, wave, respondent_id, base_weight, weight (17 significant digits).
# The Rust test crates/swvr-weight/tests/it/reference.rs compares against
# these files to 1e-8 relative, so CI never needs R.
#
# Base weights: the contract's formulas (section 3), written here
# independently of the Rust code, with the blank-count rule (the drawn-from
# frame's count and n_adults where pL needs it taken as 1; a blank count of
# the other frame taken as 0). Raking: survey::rake per (country, wave) to
# the target shares (normalised to sum to 1) times n, with
# control = list(maxit = 1000, epsilon = 1e-13); the weights are then
# scaled to sum to n. The trimming case alternates clipping weight/mean to
# [lower, upper] with raking until the raked weights are within the bounds.
#
# Usage: Rscript scripts/r/weight_reference.R   (from the repository root)

source("scripts/r/common.R")

dir <- "fixtures/reference/weight"
design <- read_design()
targets <- read_targets()

cases <- list(
  multiplicity = list(method = "multiplicity", lambda = 0.5, cap_adults = 4,
                      cap_landlines = 3, cap_mobiles = 3,
                      vars = c("sex", "age_group", "education")),
  hartley = list(method = "hartley", lambda = 0.4, cap_adults = 4,
                 cap_landlines = 2, cap_mobiles = 3,
                 vars = c("sex", "age_group", "education", "employment", "urbanicity")),
  trimming = list(method = "multiplicity", lambda = 0.5, cap_adults = 4,
                  cap_landlines = 3, cap_mobiles = 3,
                  vars = c("sex", "age_group", "education"),
                  trim = c(lower = 0.3, upper = 4.0, max_rounds = 500))
)

# Trimming as docs/weighting.md states it: clip weight/mean to the bounds,
# repeating until the mean settles.
clip <- function(w, lower, upper) {
  for (i in 1:100) {
    m <- mean(w)
    lo <- lower * m
    hi <- upper * m
    changed <- any(w < lo | w > hi)
    w <- pmin(pmax(w, lo), hi)
    if (!changed) break
  }
  w
}

for (name in names(cases)) {
  cs <- cases[[name]]
  d <- read_weight_inputs(name)
  d$base_weight <- base_weights(d, design, cs$method, cs$lambda,
                                c(adults = cs$cap_adults, landlines = cs$cap_landlines,
                                  mobiles = cs$cap_mobiles))
  d$weight <- NA_real_
  for (key in unique(group_key(d))) {
    rows <- which(group_key(d) == key)
    x <- d[rows, ]
    n <- nrow(x)
    tg <- targets[group_key(targets) == key, ]
    sample_margins <- list()
    pop_margins <- list()
    for (v in cs$vars) {
      pm <- population_margin(tg, v, n, v)
      x[[v]] <- factor(as.character(x[[paste0(v, "_weighting")]]), levels = levels(pm[[v]]))
      sample_margins[[length(sample_margins) + 1]] <- as.formula(paste("~", v))
      pop_margins[[length(pop_margins) + 1]] <- pm
    }
    rake_from <- function(w0) {
      # rake's epsilon is relative to the sum of the starting weights, so
      # start from weights summing to n (IPF is scale-invariant): the
      # criterion is then 1e-13 of n on every cross-table count.
      x$w0 <- w0 * n / sum(w0)
      des <- svydesign(ids = ~1, strata = ~stratum, weights = ~w0, data = x)
      r <- rake(des, sample.margins = sample_margins, population.margins = pop_margins,
                control = list(maxit = 1000, epsilon = 1e-13, verbose = FALSE))
      w <- weights(r)
      w * n / sum(w)
    }
    w <- rake_from(x$base_weight)
    if (!is.null(cs$trim)) {
      # Alternate: while a raked weight is outside the bounds (relative
      # slack 1e-6), clip and rake again.
      slack <- 1e-6
      for (round in 1:cs$trim[["max_rounds"]]) {
        m <- mean(w)
        if (all(w >= cs$trim[["lower"]] * m * (1 - slack) & w <= cs$trim[["upper"]] * m * (1 + slack))) break
        w <- rake_from(clip(w, cs$trim[["lower"]], cs$trim[["upper"]]))
      }
    }
    d$weight[rows] <- w
  }
  out <- data.frame(country = d$country, wave = d$wave, respondent_id = d$respondent_id,
                    base_weight = format(d$base_weight, digits = 17, trim = TRUE),
                    weight = format(d$weight, digits = 17, trim = TRUE))
  write_reference(out, file.path(dir, paste0(name, "_ref.csv")))
  cat(sprintf("weight reference: %s_ref.csv (%d rows)\n", name, nrow(out)))
}
