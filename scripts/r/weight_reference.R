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

suppressMessages(library(survey))

dir <- "fixtures/reference/weight"
design <- read.csv("fixtures/design.csv", stringsAsFactors = FALSE)
targets <- read.csv("fixtures/targets.csv", stringsAsFactors = FALSE,
                    colClasses = c(category = "character"))

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

base_weights <- function(d, cs) {
  out <- numeric(nrow(d))
  for (key in unique(paste(d$country, d$wave))) {
    rows <- which(paste(d$country, d$wave) == key)
    x <- d[rows, ]
    des <- design[paste(design$country, design$wave) == key, ]
    fL <- if (any(des$frame == "L")) des$sample_size[des$frame == "L"] / des$frame_size[des$frame == "L"] else NA
    fM <- if (any(des$frame == "M")) des$sample_size[des$frame == "M"] / des$frame_size[des$frame == "M"] else NA
    fromL <- x$frame == "L"
    nl <- x$n_landlines
    nl[is.na(nl)] <- ifelse(fromL[is.na(nl)], 1, 0)
    nl[fromL & nl < 1] <- 1
    nm <- x$n_mobiles
    nm[is.na(nm)] <- ifelse(!fromL[is.na(nm)], 1, 0)
    nm[!fromL & nm < 1] <- 1
    na <- x$n_adults
    na[is.na(na) | na < 1] <- 1
    pL <- if (is.na(fL)) rep(0, nrow(x)) else
      ifelse(nl > 0, pmin(fL * pmin(nl, cs$cap_landlines) / pmin(na, cs$cap_adults), 1), 0)
    pM <- if (is.na(fM)) rep(0, nrow(x)) else
      ifelse(nm > 0, pmin(fM * pmin(nm, cs$cap_mobiles), 1), 0)
    w <- if (cs$method == "multiplicity") {
      1 / (pL + pM - pL * pM)
    } else {
      ifelse(pL > 0 & pM > 0,
             ifelse(fromL, cs$lambda / pL, (1 - cs$lambda) / pM),
             ifelse(pL > 0, 1 / pL, 1 / pM))
    }
    out[rows] <- w
  }
  out
}

for (name in names(cases)) {
  cs <- cases[[name]]
  d <- read.csv(file.path(dir, paste0("inputs_", name, ".csv")), stringsAsFactors = FALSE,
                colClasses = c(respondent_id = "character", stratum = "character"))
  d$base_weight <- base_weights(d, cs)
  d$weight <- NA_real_
  for (key in unique(paste(d$country, d$wave))) {
    rows <- which(paste(d$country, d$wave) == key)
    x <- d[rows, ]
    n <- nrow(x)
    tg <- targets[paste(targets$country, targets$wave) == key, ]
    sample_margins <- list()
    pop_margins <- list()
    for (v in cs$vars) {
      col <- paste0(v, "_weighting")
      t <- tg[tg$variable == v, ]
      x[[v]] <- factor(as.character(x[[col]]), levels = t$category)
      pm <- data.frame(factor(t$category, levels = t$category), t$share / sum(t$share) * n)
      names(pm) <- c(v, "Freq")
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
  write.csv(out, file.path(dir, paste0(name, "_ref.csv")), row.names = FALSE, quote = FALSE)
  cat(sprintf("weight reference: %s_ref.csv (%d rows)\n", name, nrow(out)))
}
