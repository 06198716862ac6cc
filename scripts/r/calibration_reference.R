#!/usr/bin/env Rscript
# Reference weights for `[calibration] method = "linear" | "logit"` (issue
# 10): the Deville-Sarndal calibration functions of R's survey::calibrate,
# on the same margins as raking.
#
# Cases (each writes fixtures/reference/calibration/<case>_ref.csv with
# country, wave, respondent_id, base_weight, weight, g at 17 significant
# digits):
# - linear:   the 2021 fixture bundle, multiplicity base weights (caps
#             4/3/3), margins sex, age_group, education (the raking values
#             after swvr's imputation: fixtures/reference/weight/
#             inputs_multiplicity.csv), calfun = "linear" without bounds
#             (survey's closed-form regression estimator, regcalibrate);
# - logit:    the same with calfun = "logit", bounds = c(0.2, 3.5), which
#             bind (the linear g-weights go outside them: 0.05 to 4.0);
# - logit_interaction: the same fixture respondents with the interaction
#             margin sex*age_group (the 8 cells as one factor; targets in
#             targets_interaction.csv, made below) and education,
#             calfun = "logit", bounds = c(0.1, 5).
# Per (country, wave) the design is svydesign(ids = ~1, strata = ~stratum,
# weights = ~w0) with w0 the base weights scaled to sum to n (so g is the
# ratio of the final weight to that starting weight, and the bounds are on
# it); population totals are the target shares (normalised to sum to 1)
# times n; calibrate(..., maxit = 200, epsilon = 1e-14). The calibrated
# weights sum to n (the intercept is in every margin's span); they are
# written rescaled to sum to n exactly, as swvr does.
#
# Also checks that bounds c(0.2, 3.0) cannot be met on the 2021 fixture
# (calibrate stops: "Calibration failed", or a NaN misfit once the logit
# saturates): the Rust test of that error uses the same bounds.
#
# The Rust test crates/swvr-weight/tests/it/calibration.rs compares with these files to 1e-8,
# so CI never needs R.
#
# Usage: Rscript scripts/r/calibration_reference.R   (from the repository root)

source("scripts/r/common.R")

outdir <- "fixtures/reference/calibration"

# Calibrates one (country, wave): `vars` are columns of x holding each
# margin's category (as text), `tg` its targets.
calibrate_group <- function(x, tg, vars, calfun, bounds) {
  n <- nrow(x)
  x$w0 <- x$base_weight * n / sum(x$base_weight)
  pops <- list()
  forms <- list()
  for (v in names(vars)) {
    pm <- population_margin(tg, vars[[v]], n, v)
    x[[v]] <- factor(as.character(x[[v]]), levels = levels(pm[[v]]))
    pops[[length(pops) + 1]] <- pm
    forms[[length(forms) + 1]] <- as.formula(paste("~", v))
  }
  des <- svydesign(ids = ~1, strata = ~stratum, weights = ~w0, data = x)
  cal <- calibrate(des, forms, pops, calfun = calfun, bounds = bounds,
                   maxit = 200, epsilon = 1e-14)
  w <- weights(cal)
  w <- w * n / sum(w)
  list(weight = w, g = w / x$w0)
}

run_case <- function(d, targets, vars, calfun, bounds) {
  d$weight <- NA_real_
  d$g <- NA_real_
  for (key in unique(group_key(d))) {
    rows <- which(group_key(d) == key)
    tg <- targets[group_key(targets) == key, ]
    r <- calibrate_group(d[rows, ], tg, vars, calfun, bounds)
    d$weight[rows] <- r$weight
    d$g[rows] <- r$g
    cat(sprintf("  %s: g in [%.6f, %.6f]\n", key, min(r$g), max(r$g)))
  }
  d
}

write_case <- function(d, name) {
  out <- data.frame(country = d$country, wave = d$wave, respondent_id = d$respondent_id,
                    base_weight = fmt17(d$base_weight), weight = fmt17(d$weight), g = fmt17(d$g))
  write_reference(out, file.path(outdir, paste0(name, "_ref.csv")))
  cat(sprintf("calibration reference: %s_ref.csv (%d rows)\n", name, nrow(out)))
}

# 2021 fixture bundle.
design <- read_design()
targets <- read_targets()
d <- read_weight_inputs("multiplicity")
d$base_weight <- base_weights(d, design)
vars <- c(sex_weighting = "sex", age_group_weighting = "age_group",
          education_weighting = "education")
write_case(run_case(d, targets, vars, "linear", c(-Inf, Inf)), "linear")
write_case(run_case(d, targets, vars, "logit", c(0.2, 3.5)), "logit")

infeasible <- tryCatch({
  suppressWarnings(run_case(d, targets, vars, "logit", c(0.2, 3.0)))
  FALSE
}, error = function(e) TRUE)
if (!infeasible) stop("bounds c(0.2, 3.0) were expected to be infeasible")
cat("calibration reference: bounds c(0.2, 3.0) cannot be met, as expected\n")

# Interaction margin: targets by sex x age band (the product of the two
# margins' shares tilted by +/-12% on a gradient across the bands, so that
# sex and age are associated; written to targets_interaction.csv, which is
# targets.csv plus these rows) and education.
bands <- c("15-29", "30-44", "45-59", "60+")
tilt <- c(-0.12, -0.04, 0.04, 0.12)
rows <- list()
for (key in unique(group_key(targets))) {
  tg <- targets[group_key(targets) == key, ]
  sx <- tg[tg$variable == "sex", ]
  ag <- tg[tg$variable == "age_group", ]
  cells <- expand.grid(a = seq_along(bands), s = 1:2)
  share <- sx$share[match(as.character(cells$s), sx$category)] *
    ag$share[match(bands[cells$a], ag$category)] *
    (1 + ifelse(cells$s == 2, 1, -1) * tilt[cells$a])
  share <- share / sum(share)
  rows[[key]] <- data.frame(country = tg$country[1], wave = tg$wave[1], variable = "sex*age_group",
                            category = paste(cells$s, bands[cells$a], sep = "*"),
                            share = sprintf("%.12f", share))
}
inter <- do.call(rbind, rows)
all <- rbind(transform(targets, share = sprintf("%.6f", share)), inter)
all <- all[order(all$country, all$wave), ]
write_reference(all, file.path(outdir, "targets_interaction.csv"))
targets <- read_targets(file.path(outdir, "targets_interaction.csv"))
d$sexage <- paste(d$sex_weighting, d$age_group_weighting, sep = "*")
vars <- c(sexage = "sex*age_group", education_weighting = "education")
write_case(run_case(d, targets, vars, "logit", c(0.1, 5)), "logit_interaction")
