#!/usr/bin/env Rscript
# Replicate weights for the replicate-variance agreement tests of tabulate and
# model (fixtures/reference/replicate_se/), made once with R's survey package
# and committed, so that scripts/r/replicate_se_reference.R and the Rust
# tests read the same numbers.
#
# Respondents: KEN (600, 4 strata) and LBN (400, one stratum) of
# fixtures/reference/tabulate/input.csv, ZZL (40, a one-respondent stratum)
# of lonely.csv, and SEN (1,000, dual-frame: L and M strata) of fixture.csv.
# Per country: svydesign(ids = ~psu, strata = ~stratum, weights = ~weight)
# with PSUs = random groups of about 10 (SEN: 20) respondents within each
# stratum (a grouped jackknife keeps the files small; a one-respondent
# stratum is its own PSU), then
# - jkn:  as.svrepdesign(type = "JKn") (delete one group within its stratum),
# - boot: as.svrepdesign(type = "bootstrap", replicates = 30) (Rao-Wu),
# each replicate then raked (rake() on the replicate design) to the full
# sample's weighted totals of sex and age group, as the weight stage
# re-weights every replicate: the full-sample weights stay, the replicates
# move. Written: {jkn,boot}.csv (country, wave, respondent_id, weight,
# rep_1 ... rep_K; a country's own replicates first, blank after), and
# {jkn,boot}_design.csv (country, wave, type, scale, mse, rscales
# space-separated): jkn with mse = FALSE, boot with mse = TRUE.
#
# Usage (from the repository root): Rscript scripts/r/replicate_weights_make.R

suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
set.seed(20261130)
tdir <- "fixtures/reference/tabulate"
dir <- "fixtures/reference/replicate_se"

rd <- function(f) {
  d <- read.csv(file.path(tdir, f), stringsAsFactors = FALSE, na.strings = "",
                colClasses = c(age_group = "character", stratum = "character"))
  d
}
inp <- rd("input.csv")
lon <- rd("lonely.csv")
fix <- rd("fixture.csv")
d <- rbind(inp, lon[, names(inp)], fix[fix$country == "SEN", names(inp)])
write.csv(d, file.path(dir, "input.csv"), row.names = FALSE, na = "", quote = FALSE)

fmt <- function(x) sprintf("%.10g", x)
make <- function(type) {
  rows <- list()
  des_rows <- list()
  for (cc in unique(d$country)) {
    dc <- d[d$country == cc, ]
    size <- if (cc == "SEN") 20 else 10
    dc$psu <- NA
    for (h in unique(dc$stratum)) {
      idx <- which(dc$stratum == h)
      g <- ceiling(length(idx) / size)
      dc$psu[idx] <- paste(h, sample(rep(seq_len(g), length.out = length(idx))))
    }
    dc$sexf <- factor(ifelse(dc$sex == 2, "2", "1"))  # refused raked with men
    # Age DK/refused raked with the largest band (as the weight stage imputes).
    dc$agef <- factor(ifelse(is.na(dc$age_group), "30-44", dc$age_group))
    des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = dc)
    rep <- if (type == "jkn") as.svrepdesign(des, type = "JKn")
           else as.svrepdesign(des, type = "bootstrap", replicates = 30, compress = FALSE)
    pm <- list(svytotal(~sexf, des), svytotal(~agef, des))
    pop <- list(data.frame(sexf = levels(dc$sexf), Freq = as.vector(coef(pm[[1]]))),
                data.frame(agef = levels(dc$agef), Freq = as.vector(coef(pm[[2]]))))
    raked <- try(rake(rep, list(~sexf, ~agef), pop, control = list(maxit = 100, epsilon = 1e-12)), silent = TRUE)
    if (inherits(raked, "try-error") || anyNA(weights(raked, "analysis"))) {
      # A replicate without some age band (small countries): rake on sex only.
      cat(cc, type, ": raked on sex only\n")
      raked <- rake(rep, list(~sexf), pop[1], control = list(maxit = 100, epsilon = 1e-12))
    }
    w <- weights(raked, "sampling")
    rw <- as.matrix(weights(raked, "analysis"))
    out <- data.frame(country = dc$country, wave = dc$wave, respondent_id = dc$respondent_id,
                      weight = fmt(w))
    for (j in seq_len(ncol(rw))) out[[paste0("rep_", j)]] <- fmt(rw[, j])
    rows[[cc]] <- out
    des_rows[[cc]] <- data.frame(country = cc, wave = dc$wave[1], type = if (type == "jkn") "JKn" else "bootstrap",
                                 scale = sprintf("%.17g", raked$scale),
                                 mse = if (type == "jkn") "FALSE" else "TRUE",
                                 rscales = paste(sprintf("%.17g", raked$rscales), collapse = " "))
  }
  k <- max(sapply(rows, ncol)) - 4
  rows <- lapply(rows, function(r) {
    for (j in seq_len(k)) if (is.null(r[[paste0("rep_", j)]])) r[[paste0("rep_", j)]] <- ""
    r
  })
  all <- do.call(rbind, rows)
  write.csv(all, file.path(dir, paste0(type, ".csv")), row.names = FALSE, quote = FALSE)
  write.csv(do.call(rbind, des_rows), file.path(dir, paste0(type, "_design.csv")), row.names = FALSE, quote = FALSE)
  cat(type, ":", nrow(all), "rows,", k, "replicate columns at most\n")
}
make("jkn")
make("boot")
