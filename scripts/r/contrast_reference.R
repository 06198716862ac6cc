#!/usr/bin/env Rscript
# Reference contrasts for `swvr tabulate` (tabulate/contrasts.arrow),
# computed with R's survey package: svyby(..., svymean, covmat = TRUE) and
# svycontrast().
#
# Cases (inputs are the tabulation fixtures, see tabulate_reference.R):
# - input:   fixtures/reference/tabulate/input.csv (KEN, 4 strata; LBN, one stratum)
# - lonely:  fixtures/reference/tabulate/lonely.csv (a one-respondent stratum,
#            estimates of exactly 0 and 1)
# - fixture: fixtures/reference/tabulate/fixture.csv (8 countries, weights of
#            `swvr run`), items Q1, Q4B, Q8C and Q4B_net only
# - waves:   KEN of input.csv as wave 2021 and KEN of fixture.csv as wave
#            2025 (written to fixtures/reference/contrasts/waves.csv): level
#            contrasts within each wave and the wave contrast 2025 − 2021 of
#            every level, from one design over both waves (strata within
#            waves: independent samples).
# Writes fixtures/reference/contrasts/{input,lonely,fixture,waves}_ref.csv:
# one row per contrast: country, wave_a, wave_b, item, domain, level_a,
# level_b, category, estimate_a, estimate_b, difference, se, df
# (df = degf() of the design restricted to the two levels / waves, asked
# the item). crates/swvr-tabulate/tests/it/contrasts.rs compares against
# these files, so CI never needs R.
#
# Usage: Rscript scripts/r/contrast_reference.R   (from the repository root)

source("scripts/r/common.R")

tdir <- "fixtures/reference/tabulate"
dir <- "fixtures/reference/contrasts"

# The coefficient of category k (column `col`) in row `lev` of a svyby.
coef_name <- function(cf, lev, col) {
  nm <- if (is.null(col)) lev else paste0(lev, ":", col)
  if (!(nm %in% names(cf))) stop("no coefficient ", nm, " in ", paste(names(cf), collapse = " "))
  nm
}

# Contrasts a − b between every pair (a before b) of the groups `by_var`
# (a domain, or the wave) of `des`, for variable `it`: svyby(covmat = TRUE),
# svycontrast.
contrast_rows <- function(des, it, by_var, levels, label, wave_of) {
  out <- list()
  src <- if (it == "Q4B_net") "Q4B" else it
  asked <- subset(des, !is.na(des$variables[[src]]))
  sub <- subset(asked, !is.na(asked$variables[[by_var]]))
  if (nrow(sub) == 0) return(out)
  f <- if (it == "Q4B_net") ~net_Q4B else as.formula(paste0("~f_", it))
  by <- svyby(f, as.formula(paste0("~", by_var)), sub, svymean, covmat = TRUE)
  cf <- coef(by)
  present <- levels[levels %in% as.character(by[[by_var]])]
  cats <- if (it == "Q4B_net") "net" else sets[[it]]$cats
  cols <- if (it == "Q4B_net") list(NULL) else as.list(paste0("f_", it, sets[[it]]$codes))
  if (length(present) < 2) return(out)
  for (i in 1:(length(present) - 1)) for (j in (i + 1):length(present)) {
    a <- present[i]
    b <- present[j]
    pair <- subset(sub, sub$variables[[by_var]] %in% c(a, b))
    for (k in seq_along(cats)) {
      na <- coef_name(cf, a, cols[[k]])
      nb <- coef_name(cf, b, cols[[k]])
      ctr <- svycontrast(by, setNames(c(1, -1), c(na, nb)))
      out[[length(out) + 1]] <- data.frame(
        country = des$variables$country[1], wave_a = wave_of(a), wave_b = wave_of(b), item = it,
        domain = label$domain, level_a = label$level(a), level_b = label$level(b),
        category = cats[k], estimate_a = fmt17(cf[[na]]), estimate_b = fmt17(cf[[nb]]),
        difference = fmt17(coef(ctr)[[1]]), se = fmt17(sqrt(vcov(ctr)[1, 1])), df = degf(pair))
    }
  }
  out
}

level_contrasts <- function(d, doms, vars) {
  out <- list()
  for (key in unique(group_key(d))) {
    dc <- d[group_key(d) == key, ]
    des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = dc)
    w <- dc$wave[1]
    for (it in vars) for (dn in setdiff(names(doms), "total")) {
      lab <- list(domain = dn, level = function(l) l)
      out <- c(out, contrast_rows(des, it, paste0("dom_", dn), doms[[dn]]$levels, lab, function(l) w))
    }
  }
  out
}

all_vars <- c(names(sets)[1:17], names(derived), "Q4B_net")
write_ref <- function(rows, case) {
  ref <- do.call(rbind, rows)
  write_reference(ref, file.path(dir, paste0(case, "_ref.csv")))
  cat(case, ":", nrow(ref), "reference contrasts\n")
}

dir.create(dir, showWarnings = FALSE, recursive = TRUE)
for (case in c("input", "lonely", "fixture")) {
  p <- prepare_tabulation(read_tabulation_input(file.path(tdir, paste0(case, ".csv"))))
  vars <- if (case == "fixture") c("Q1", "Q4B", "Q8C", "Q4B_net") else all_vars
  write_ref(level_contrasts(p$d, p$doms, vars), case)
}

# Two waves of KEN: level contrasts within each wave, then 2025 − 2021 for
# every level of every domain, from one design whose strata are the
# (wave, stratum) pairs.
w1 <- read_tabulation_input(file.path(tdir, "input.csv"))
w2 <- read_tabulation_input(file.path(tdir, "fixture.csv"))
w1 <- w1[w1$country == "KEN", ]
w2 <- w2[w2$country == "KEN", ]
w2$wave <- 2025L
w2$stratum <- paste0(w2$stratum, "-2025")
waves <- rbind(w1, w2[, names(w1)])
out_csv <- waves
write.csv(out_csv, file.path(dir, "waves.csv"), row.names = FALSE, na = "", quote = FALSE)
p <- prepare_tabulation(read_tabulation_input(file.path(dir, "waves.csv")))
rows <- level_contrasts(p$d, p$doms, all_vars)
dw <- p$d
dw$wave_f <- as.character(dw$wave)
des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = dw)
for (it in all_vars) for (dn in names(p$doms)) for (lev in p$doms[[dn]]$levels) {
  sub <- subset(des, !is.na(dw[[paste0("dom_", dn)]]) & dw[[paste0("dom_", dn)]] == lev)
  lab <- list(domain = dn, level = function(w) lev)
  rows <- c(rows, contrast_rows(sub, it, "wave_f", c("2025", "2021"), lab, function(w) as.integer(w)))
}
write_ref(rows, "waves")
