#!/usr/bin/env Rscript
# Reference estimates for `swvr tabulate`, computed with R's survey package.
#
# Reads fixtures/reference/tabulate/{input,lonely}.csv (made by
# scripts/tabulate_make_input.py: the columns (weighted.arrow with respondents.arrow) that
# tabulation needs) and fixture.csv (the 8-country fixture bundle with the
# weights of `swvr run`, exported by scripts/tabulate_export.py), and writes
# fixtures/reference/tabulate/{input,lonely,fixture}_ref.csv:
# one row per country, item, domain, level and category with n, estimate,
# se, ci_low, ci_high, deff, df. The Rust test
# crates/swvr-tabulate/tests/it/r_agreement.rs compares against these files,
# so CI never needs R.
#
# Design: svydesign(ids = ~1, strata = ~stratum, weights = ~weight) per
# (country, wave), options(survey.lonely.psu = "adjust"). Each item is
# estimated on subset(design, asked); domains with svyby(~factor, ~domain,
# ..., svymean, deff = "replace"), intervals with svyciprop(method = "logit")
# on subset(design, asked & level) (df = degf of that subset). Derived
# indicators are computed here independently of the Rust code.
#
# Usage: Rscript scripts/r/tabulate_reference.R   (from the repository root)

source("scripts/r/common.R")

dir <- "fixtures/reference/tabulate"

# svyciprop(method = "logit") computed as svyciprop does (intercept-only
# quasibinomial svyglm, Wald interval on degf(design) degrees of freedom,
# back-transformed), with two numerical differences: the glm is converged to
# 1e-15 instead of glm.control()'s 1e-8 (which leaves ~1e-8 relative error in
# the limits of rare categories), and the t quantile is used directly instead
# of confint.svyglm's qnorm(pnorm(qt(...))) round trip (which overflows to an
# infinite limit when df = 1). The script checks that svyciprop agrees to
# 1e-6 wherever its limits are finite.
logit_ci <- function(s) {
  m <- svyglm(.y ~ 1, s, family = quasibinomial, control = glm.control(epsilon = 1e-15, maxit = 100))
  t <- qt(0.975, degf(s))
  as.numeric(plogis(coef(m)[1] + c(-1, 1) * t * sqrt(vcov(m)[1, 1])))
}

reference <- function(d) {
  out <- list()
  p <- prepare_tabulation(d)
  d <- p$d
  doms <- p$doms
  for (key in unique(group_key(d))) {
    dc <- d[group_key(d) == key, ]
    des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = dc)
    emit <- function(item, dn, lev, cat, s, est, se, lo, hi, deff) {
      out[[length(out) + 1]] <<- data.frame(
        country = dc$country[1], wave = dc$wave[1], item = item, domain = dn, domain_level = lev,
        category = cat, n = sum(weights(s) != 0), estimate = fmt17(est), se = fmt17(se),
        ci_low = fmt17(lo), ci_high = fmt17(hi), deff = fmt17(deff), df = degf(s))
    }
    vars <- c(names(sets)[1:17], names(derived), "Q4B_net")
    for (it in vars) {
      src <- if (it == "Q4B_net") "Q4B" else it
      asked <- subset(des, !is.na(dc[[src]]))
      for (dn in names(doms)) {
        dv <- paste0("dom_", dn)
        sub <- subset(asked, !is.na(asked$variables[[dv]]))
        if (nrow(sub) == 0) next
        f <- if (it == "Q4B_net") ~net_Q4B else as.formula(paste0("~f_", it))
        by <- svyby(f, as.formula(paste0("~", dv)), sub, svymean, deff = "replace", keep.var = TRUE)
        for (lev in doms[[dn]]$levels) {
          if (!(lev %in% rownames(by))) next
          s <- subset(sub, sub$variables[[dv]] == lev)
          # Columns of svyby: the level, the estimates, their SEs, the DEffs
          # (deff.svyby() fails when deff is "replace", so read them directly).
          row <- as.numeric(by[by[[dv]] == lev, -1])
          ns <- length(row) / 3
          cf <- row[1:ns]
          vv <- row[ns + 1:ns]
          dd <- row[2 * ns + 1:ns]
          if (it == "Q4B_net") {
            t <- qt(0.975, degf(s))
            emit(it, dn, lev, "net", s, cf[1], vv[1], cf[1] - t * vv[1], cf[1] + t * vv[1], dd[1])
            next
          }
          for (k in seq_along(sets[[it]]$codes)) {
            code <- sets[[it]]$codes[k]
            p <- cf[k]
            ci <- c(NA, NA)
            if (p > 0 && p < 1 && degf(s) > 0) {
              s$variables$.y <- as.numeric(s$variables[[it]] == code)
              ci <- logit_ci(s)
              r <- suppressWarnings(svyciprop(~.y, s, method = "logit"))
              cr <- attr(r, "ci")
              if (all(is.finite(cr)) && max(abs(cr - ci) / ci) > 1e-6) {
                stop("svyciprop and its tightly converged replica differ: ", it, " ", lev)
              }
            }
            emit(it, dn, lev, sets[[it]]$cats[k], s, p, vv[k], ci[1], ci[2], dd[k])
          }
        }
      }
    }
  }
  do.call(rbind, out)
}

cases <- c("input", "lonely")
if (file.exists(file.path(dir, "fixture.csv"))) cases <- c(cases, "fixture")
for (case in cases) {
  ref <- reference(read_tabulation_input(file.path(dir, paste0(case, ".csv"))))
  write_reference(ref, file.path(dir, paste0(case, "_ref.csv")))
  cat(case, ":", nrow(ref), "reference rows\n")
}
