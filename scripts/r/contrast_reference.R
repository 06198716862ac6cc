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

suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")

tdir <- "fixtures/reference/tabulate"
dir <- "fixtures/reference/contrasts"
yes_no <- list(codes = c(1, 2, 8, 9), cats = c("yes", "no", "dk", "refused"))
change <- list(codes = c(1, 2, 3, 8, 9), cats = c("increased", "decreased", "same", "dk", "refused"))
change4 <- list(codes = c(1, 2, 3, 4, 8, 9),
                cats = c("increased", "decreased", "same", "did_not_volunteer", "dk", "refused"))
likely <- list(codes = c(1, 2, 8, 9), cats = c("likely", "unlikely", "dk", "refused"))
sets <- list(Q1 = yes_no, Q2 = yes_no, Q3A = yes_no, Q3B = yes_no, Q3C = yes_no, Q4A = yes_no,
             Q4B = change, Q4B_1 = yes_no, Q5A = yes_no, Q6 = change4, Q6A = yes_no, Q7 = yes_no,
             Q8A = likely, Q8B = likely, Q8C = likely, Q8D = likely, Q8E = likely,
             volunteer_action = yes_no, formal = yes_no, informal = yes_no)
derived <- list(volunteer_action = c("Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q5A"),
                formal = c("Q3A", "Q3B"), informal = c("Q3C"))

any_yes <- function(d, cols) {
  m <- as.matrix(d[, cols, drop = FALSE])
  asked <- rowSums(!is.na(m)) > 0
  yes <- rowSums(m == 1, na.rm = TRUE) > 0
  all_no <- rowSums(m != 2, na.rm = TRUE) == 0
  dk <- rowSums(m == 8, na.rm = TRUE) > 0
  ifelse(!asked, NA, ifelse(yes, 1, ifelse(all_no, 2, ifelse(dk, 8, 9))))
}

domains <- function(d) {
  list(
    total = list(v = rep("total", nrow(d)), levels = "total"),
    sex = list(v = c("male", "female")[match(d$sex, 1:2)], levels = c("male", "female")),
    age_group = list(v = ifelse(d$age_group == "", NA, d$age_group),
                     levels = c("15-29", "30-44", "45-59", "60+")),
    urbanicity = list(v = c("rural", "rural", "urban", "urban")[match(d$urbanicity, 1:4)],
                      levels = c("rural", "urban")),
    employment = list(v = c("employed", "not_employed")[match(d$employment, 1:2)],
                      levels = c("employed", "not_employed")),
    education = list(v = c("primary", "secondary", "tertiary")[match(d$education, 1:3)],
                     levels = c("primary", "secondary", "tertiary"))
  )
}

fmt <- function(x) ifelse(is.na(x) | !is.finite(x), "NA", sprintf("%.17g", x))

prepare <- function(d) {
  for (it in names(derived)) d[[it]] <- any_yes(d, derived[[it]])
  doms <- domains(d)
  for (dn in names(doms)) d[[paste0("dom_", dn)]] <- doms[[dn]]$v
  d$net_Q4B <- ifelse(is.na(d$Q4B), NA, (d$Q4B == 1) - (d$Q4B == 2))
  for (it in names(sets)) d[[paste0("f_", it)]] <- factor(d[[it]], levels = sets[[it]]$codes)
  list(d = d, doms = doms)
}

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
        category = cats[k], estimate_a = fmt(cf[[na]]), estimate_b = fmt(cf[[nb]]),
        difference = fmt(coef(ctr)[[1]]), se = fmt(sqrt(vcov(ctr)[1, 1])), df = degf(pair))
    }
  }
  out
}

level_contrasts <- function(d, doms, vars) {
  out <- list()
  for (key in unique(paste(d$country, d$wave))) {
    dc <- d[paste(d$country, d$wave) == key, ]
    des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = dc)
    w <- dc$wave[1]
    for (it in vars) for (dn in setdiff(names(doms), "total")) {
      lab <- list(domain = dn, level = function(l) l)
      out <- c(out, contrast_rows(des, it, paste0("dom_", dn), doms[[dn]]$levels, lab, function(l) w))
    }
  }
  out
}

read_case <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE, na.strings = "",
                colClasses = c(age_group = "character", stratum = "character"))
  d$age_group[is.na(d$age_group)] <- ""
  d
}

all_vars <- c(names(sets)[1:17], names(derived), "Q4B_net")
write_ref <- function(rows, case) {
  ref <- do.call(rbind, rows)
  write.csv(ref, file.path(dir, paste0(case, "_ref.csv")), row.names = FALSE, quote = FALSE)
  cat(case, ":", nrow(ref), "reference contrasts\n")
}

dir.create(dir, showWarnings = FALSE, recursive = TRUE)
for (case in c("input", "lonely", "fixture")) {
  p <- prepare(read_case(file.path(tdir, paste0(case, ".csv"))))
  vars <- if (case == "fixture") c("Q1", "Q4B", "Q8C", "Q4B_net") else all_vars
  write_ref(level_contrasts(p$d, p$doms, vars), case)
}

# Two waves of KEN: level contrasts within each wave, then 2025 − 2021 for
# every level of every domain, from one design whose strata are the
# (wave, stratum) pairs.
w1 <- read_case(file.path(tdir, "input.csv"))
w2 <- read_case(file.path(tdir, "fixture.csv"))
w1 <- w1[w1$country == "KEN", ]
w2 <- w2[w2$country == "KEN", ]
w2$wave <- 2025L
w2$stratum <- paste0(w2$stratum, "-2025")
waves <- rbind(w1, w2[, names(w1)])
out_csv <- waves
write.csv(out_csv, file.path(dir, "waves.csv"), row.names = FALSE, na = "", quote = FALSE)
p <- prepare(read_case(file.path(dir, "waves.csv")))
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
