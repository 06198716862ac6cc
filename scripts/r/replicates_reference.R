#!/usr/bin/env Rscript
# Reference replicate weights for `[variance] method = "jackknife" |
# "bootstrap"` (issue 10), computed with R's survey package.
#
# Inputs (scripts/replicates_reference_inputs.py): fixtures/reference/
# replicates/inputs.csv and targets.csv (BOL, KEN, SEN; 250 respondents each; a
# one-respondent category, a lonely stratum, a stratum of 3, SEN's dual
# frame), the schemes scheme_<case>.toml (restated below) and swvr's
# replicate factors factors_<case>.csv.
#
# Per (country, wave):
# - base weights: the contract's multiplicity formula (base_weights of
#   scripts/r/common.R, written independently of the Rust code);
# - JKn: as.svrepdesign(svydesign(ids = ~psu, strata = ~stratum,
#   weights = ~base_weight), type = "JKn") with
#   options(survey.lonely.psu = "adjust"), psu = swvr's unit (the
#   respondent in strata of at most `groups`, else its random group). R's
#   factors must equal swvr's (checked here: each R column is matched to
#   the swvr replicate deleting the same units); R's rscales are written
#   to <case>_rscales.csv;
# - bootstrap: R cannot share swvr's PRNG: the replicate base weights are
#   swvr's factors times R's base weights;
# - every replicate then goes through the chain on its own: the units with
#   a positive replicate weight form a design (ids = ~1, weights = the
#   replicate base weights scaled to sum to n); a target category without
#   any of them gets target 0 and the margin's other targets are rescaled
#   (R's rake() would give NaN weights); survey::rake (maxit 1000,
#   epsilon 1e-13) or survey::calibrate(calfun = "logit", bounds,
#   maxit 200, epsilon 1e-14); trimming alternates clipping weight/mean
#   (mean over the replicate's units) to [lower, upper] with raking, as
#   weight_reference.R; finally the weights are scaled to sum to n (all
#   rows), deleted units 0.
# Writes <case>_ref.csv: country, respondent_id, rep_1 ... rep_R (%.17g;
# blank past a country's replicates). The Rust test
# crates/swvr-weight/tests/it/replicates.rs compares swvr's
# weight/replicates.arrow with these to 1e-8 relative.
#
# Usage: Rscript scripts/r/replicates_reference.R   (from the repository root)

source("scripts/r/common.R")

dir <- "fixtures/reference/replicates"
# Blank (not "NA") past a country's replicates.
fmt <- function(x) ifelse(is.na(x), "", sprintf("%.17g", x))
design <- read_design()
targets <- read_targets(file.path(dir, "targets.csv"))
d <- read.csv(file.path(dir, "inputs.csv"), stringsAsFactors = FALSE,
              colClasses = c(respondent_id = "character", stratum = "character",
                             age_group_weighting = "character"))
d$base_weight <- base_weights(d, design)

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

cases <- list(
  jk_trim = list(type = "JKn", adjust = "rake", trim = c(0.25, 4.0, 500)),
  jk_logit = list(type = "JKn", adjust = "logit", bounds = c(0.25, 4.0)),
  boot_trim = list(type = "bootstrap", adjust = "rake", trim = c(0.25, 4.0, 50))
)
vars <- c("sex", "age_group", "education")

# The chain after the base weights on starting weights w0 (0 = deleted).
chain <- function(x, w0, tg, cs) {
  n_all <- nrow(x)
  keep <- w0 > 0
  s <- x[keep, ]
  n <- nrow(s)
  forms <- list()
  pops <- list()
  for (v in vars) {
    t <- tg[tg$variable == v, ]
    present <- t$category %in% as.character(s[[paste0(v, "_weighting")]])
    t <- t[present, ]
    s[[v]] <- factor(as.character(s[[paste0(v, "_weighting")]]), levels = t$category)
    pops[[length(pops) + 1]] <- population_margin(t, v, n, v)
    forms[[length(forms) + 1]] <- as.formula(paste("~", v))
  }
  adjust <- function(start) {
    s$w0 <- start * n / sum(start)
    des <- svydesign(ids = ~1, weights = ~w0, data = s)
    r <- if (cs$adjust == "rake") {
      rake(des, sample.margins = forms, population.margins = pops,
           control = list(maxit = 1000, epsilon = 1e-13, verbose = FALSE))
    } else {
      calibrate(des, forms, pops, calfun = cs$adjust, bounds = cs$bounds,
                maxit = 200, epsilon = 1e-14)
    }
    w <- weights(r)
    w * n / sum(w)
  }
  w <- adjust(w0[keep])
  if (!is.null(cs$trim)) {
    slack <- 1e-6
    within <- function(w) {
      m <- mean(w)
      all(w >= cs$trim[1] * m * (1 - slack) & w <= cs$trim[2] * m * (1 + slack))
    }
    for (round in 1:cs$trim[3]) {
      if (within(w)) break
      w <- adjust(clip(w, cs$trim[1], cs$trim[2]))
    }
    # Bounds and margins cannot both hold (on_nonconvergence = "warn"):
    # as swvr, the last raked weights are trimmed, margins left off.
    if (!within(w)) {
      w <- clip(w, cs$trim[1], cs$trim[2])
      infeasible <<- infeasible + 1
    }
  }
  out <- numeric(n_all)
  out[keep] <- w * n_all / sum(w)
  out
}

for (name in names(cases)) {
  cs <- cases[[name]]
  infeasible <- 0
  f <- read.csv(file.path(dir, paste0("factors_", name, ".csv")), stringsAsFactors = FALSE,
                colClasses = c(respondent_id = "character"))
  fcols <- grep("^f_", names(f), value = TRUE)
  rows_out <- list()
  rscales_out <- list()
  worst_factor <- 0
  g_range <- c(Inf, -Inf)
  for (key in unique(paste(d$country, d$wave))) {
    rows <- which(paste(d$country, d$wave) == key)
    x <- d[rows, ]
    fx <- f[match(x$respondent_id, f$respondent_id), ]
    ours <- as.matrix(fx[, fcols])
    ours <- ours[, colSums(is.na(ours)) == 0, drop = FALSE]
    tg <- targets[paste(targets$country, targets$wave) == key, ]
    if (cs$type == "JKn") {
      x$psu <- paste(x$stratum, fx$psu)
      des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~base_weight, data = x)
      rd <- as.svrepdesign(des, type = "JKn")  # compressed: jknweights(compress = FALSE) misplaces the lonely-stratum column
      rf <- as.matrix(rd$repweights)  # expanded to one row per respondent
      if (ncol(rf) != ncol(ours)) stop(sprintf("%s %s: R has %d replicates, swvr %d", name, key, ncol(rf), ncol(ours)))
      # Match each swvr replicate with R's deleting the same units.
      zero <- function(m) apply(m == 0, 2, function(z) paste(which(z), collapse = ","))
      idx <- match(zero(ours), zero(rf))
      if (anyNA(idx)) stop(sprintf("%s %s: a swvr replicate deletes units no R replicate deletes", name, key))
      rf <- rf[, idx, drop = FALSE]
      worst_factor <- max(worst_factor, max(abs(rf - ours)))
      factors <- rf
      rscales_out[[key]] <- data.frame(country = x$country[1], replicate = seq_len(ncol(rf)),
                                       rscale = fmt(rd$rscales[idx]))
    } else {
      factors <- ours
    }
    reps <- sapply(seq_len(ncol(factors)), function(r) chain(x, x$base_weight * factors[, r], tg, cs))
    if (cs$adjust != "rake") {
      full <- chain(x, x$base_weight, tg, cs)
      g <- full / (x$base_weight * nrow(x) / sum(x$base_weight))
      g_range <- c(min(g_range[1], min(g)), max(g_range[2], max(g)))
    }
    rows_out[[key]] <- list(x = x, reps = reps)
  }
  nrep <- max(sapply(rows_out, function(r) ncol(r$reps)))
  lines <- c(paste(c("country", "respondent_id", paste0("rep_", seq_len(nrep))), collapse = ","))
  for (r in rows_out) {
    m <- matrix(NA_real_, nrow(r$reps), nrep)
    m[, seq_len(ncol(r$reps))] <- r$reps
    body <- apply(m, 1, function(v) paste(fmt(v), collapse = ","))
    lines <- c(lines, paste(r$x$country, r$x$respondent_id, body, sep = ","))
  }
  writeLines(lines, file.path(dir, paste0(name, "_ref.csv")))
  if (length(rscales_out)) {
    write.csv(do.call(rbind, rscales_out), file.path(dir, paste0(name, "_rscales.csv")),
              row.names = FALSE, quote = FALSE)
  }
  cat(sprintf("replicates reference: %s_ref.csv (%d rows, up to %d replicates; %d replicates where trimming and margins cannot both hold)%s%s\n", name,
              length(lines) - 1, nrep, infeasible,
              if (cs$type == "JKn") sprintf("; JKn factors: max |R - swvr| = %.3g", worst_factor) else "",
              if (cs$adjust != "rake") sprintf("; full-sample g in [%.4f, %.4f] (bounds %s)", g_range[1], g_range[2],
                                               paste(cs$bounds, collapse = ", ")) else ""))
}
