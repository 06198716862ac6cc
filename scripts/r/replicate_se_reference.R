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

suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
dir <- "fixtures/reference/replicate_se"

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
dom_levels <- list(total = "total", sex = c("male", "female"), age_group = c("15-29", "30-44", "45-59", "60+"),
                   urbanicity = c("rural", "urban"), employment = c("employed", "not_employed"),
                   education = c("primary", "secondary", "tertiary"))
add_domains <- function(d) {
  d$dom_total <- "total"
  d$dom_sex <- c("male", "female")[match(d$sex, 1:2)]
  d$dom_age_group <- ifelse(is.na(d$age_group) | d$age_group == "", NA, d$age_group)
  d$dom_urbanicity <- c("rural", "rural", "urban", "urban")[match(d$urbanicity, 1:4)]
  d$dom_employment <- c("employed", "not_employed")[match(d$employment, 1:2)]
  d$dom_education <- c("primary", "secondary", "tertiary")[match(d$education, 1:3)]
  d
}
fmt <- function(x) ifelse(is.na(x) | !is.finite(x), "NA", sprintf("%.17g", x))

inp <- read.csv(file.path(dir, "input.csv"), stringsAsFactors = FALSE, na.strings = "",
                colClasses = c(age_group = "character", stratum = "character"))
for (it in names(derived)) inp[[it]] <- any_yes(inp, derived[[it]])
inp <- add_domains(inp)
inp$net_Q4B <- ifelse(is.na(inp$Q4B), NA, (inp$Q4B == 1) - (inp$Q4B == 2))
for (it in names(sets)) inp[[paste0("f_", it)]] <- factor(inp[[it]], levels = sets[[it]]$codes)

# Model variables (as scripts/r/model_reference.R).
yn <- function(v) ifelse(v == 1, 1, ifelse(v == 2, 0, NA))
inp$Q7yes <- yn(inp$Q7)
for (q in c("Q1", "Q3A", "Q3B", "Q3C")) inp[[paste0("m_", q)]] <- yn(inp[[q]])
inp$`sex=female` <- as.numeric(inp$sex == 2)
inp$`age_group=30-44` <- as.numeric(inp$dom_age_group %in% "30-44")
inp$`age_group=45-59` <- as.numeric(inp$dom_age_group %in% "45-59")
inp$`age_group=60+` <- as.numeric(inp$dom_age_group %in% "60+")
inp$`education=secondary` <- as.numeric(inp$education == 2)
inp$`education=tertiary` <- as.numeric(inp$education == 3)
inp$`urbanicity=urban` <- as.numeric(inp$urbanicity %in% 3:4)
inp$`employment=not_employed` <- as.numeric(inp$employment == 2)
inp$complete <- !is.na(inp$Q7yes) & !is.na(inp$m_Q1) & !is.na(inp$m_Q3A) & !is.na(inp$m_Q3B) &
  !is.na(inp$m_Q3C) & inp$sex %in% 1:2 & !is.na(inp$dom_age_group) & inp$education %in% 1:3 &
  inp$urbanicity %in% 1:4 & inp$employment %in% 1:2
for (v in c("Q7yes", "m_Q1", "m_Q3A", "m_Q3B", "m_Q3C")) inp[[v]][is.na(inp[[v]])] <- 0
mterms <- c("m_Q1", "m_Q3A", "m_Q3B", "m_Q3C", "sex=female", "age_group=30-44", "age_group=45-59",
            "age_group=60+", "education=secondary", "education=tertiary", "urbanicity=urban",
            "employment=not_employed")
fml <- as.formula(paste("Q7yes ~", paste0("`", mterms, "`", collapse = " + ")))
out_terms <- c("(Intercept)", sub("^m_", "", mterms))

checked_ciprop <- 0
table_rows <- function(des, cc) {
  out <- list()
  d <- des$variables
  for (it in c(names(sets), "Q4B_net")) {
    src <- if (it == "Q4B_net") "Q4B" else it
    for (dn in names(dom_levels)) for (lev in dom_levels[[dn]]) {
      keep <- !is.na(d[[src]]) & !is.na(d[[paste0("dom_", dn)]]) & d[[paste0("dom_", dn)]] == lev
      if (!any(keep)) next
      sub <- des[keep, ]
      df <- degf(sub)
      tq <- if (df > 0) qt(0.975, df) else NA
      if (it == "Q4B_net") {
        m <- svymean(~net_Q4B, sub, deff = "replace")
        est <- coef(m)[[1]]; se <- sqrt(vcov(m)[1, 1])
        out[[length(out) + 1]] <- data.frame(country = cc, item = it, domain = dn, domain_level = lev,
          category = "net", n = nrow(sub), estimate = fmt(est), se = fmt(se),
          ci_low = fmt(est - tq * se), ci_high = fmt(est + tq * se), deff = fmt(deff(m)[[1]]), df = df)
        next
      }
      m <- svymean(as.formula(paste0("~f_", it)), sub, deff = "replace", return.replicates = TRUE)
      est <- as.vector(m$mean)
      v <- diag(as.matrix(attr(m$mean, "var")))
      dfs <- diag(as.matrix(attr(m, "deff")))
      reps <- as.matrix(m$replicates)
      for (k in seq_along(sets[[it]]$cats)) {
        p <- est[[k]]
        lo <- hi <- NA
        if (p > 0 && p < 1 && all(reps[, k] > 0 & reps[, k] < 1) && !is.na(tq)) {
          th <- qlogis(reps[, k])
          vl <- svrVar(th, des$scale, des$rscales, mse = des$mse, coef = qlogis(p))
          lo <- plogis(qlogis(p) - tq * sqrt(vl)); hi <- plogis(qlogis(p) + tq * sqrt(vl))
          if (checked_ciprop < 40 && runif(1) < 0.05) {
            sub$variables$yk <- as.numeric(d[[it]][keep] == sets[[it]]$codes[k])
            ci <- attr(svyciprop(~yk, sub, method = "logit"), "ci")
            stopifnot(abs(ci[[1]] - lo) < 1e-6 * lo, abs(ci[[2]] - hi) < 1e-6 * hi)
            checked_ciprop <<- checked_ciprop + 1
          }
        }
        out[[length(out) + 1]] <- data.frame(country = cc, item = it, domain = dn, domain_level = lev,
          category = sets[[it]]$cats[k], n = nrow(sub), estimate = fmt(p), se = fmt(sqrt(v[[k]])),
          ci_low = fmt(lo), ci_high = fmt(hi), deff = fmt(dfs[[k]]), df = df)
      }
    }
  }
  out
}

contrast_rows <- function(des, cc) {
  out <- list()
  d <- des$variables
  for (it in c(names(sets), "Q4B_net")) {
    src <- if (it == "Q4B_net") "Q4B" else it
    f <- if (it == "Q4B_net") ~net_Q4B else as.formula(paste0("~f_", it))
    cats <- if (it == "Q4B_net") "net" else sets[[it]]$cats
    for (dn in setdiff(names(dom_levels), "total")) {
      dv <- paste0("dom_", dn)
      keep <- !is.na(d[[src]]) & !is.na(d[[dv]])
      if (!any(keep)) next
      sub <- des[keep, ]
      present <- dom_levels[[dn]][dom_levels[[dn]] %in% sub$variables[[dv]]]
      if (length(present) < 2) next
      by <- svyby(f, as.formula(paste0("~", dv)), sub, svymean, covmat = TRUE)
      cf <- coef(by)
      for (i in 1:(length(present) - 1)) for (j in (i + 1):length(present)) {
        a <- present[i]; b <- present[j]
        pair <- sub[sub$variables[[dv]] %in% c(a, b), ]
        for (k in seq_along(cats)) {
          col <- if (it == "Q4B_net") NULL else paste0("f_", it, sets[[it]]$codes[k])
          na <- if (is.null(col)) a else paste0(a, ":", col)
          nb <- if (is.null(col)) b else paste0(b, ":", col)
          ctr <- svycontrast(by, setNames(c(1, -1), c(na, nb)))
          out[[length(out) + 1]] <- data.frame(country = cc, item = it, domain = dn, level_a = a,
            level_b = b, category = cats[k], difference = fmt(coef(ctr)[[1]]),
            se = fmt(sqrt(vcov(ctr)[1, 1])), df = degf(pair))
        }
      }
    }
  }
  out
}

model_rows <- function(des, cc) {
  fit <- svyglm(fml, design = subset(des, complete), family = quasibinomial,
                control = glm.control(epsilon = 1e-14, maxit = 100))
  b <- coef(fit)
  se <- sqrt(diag(vcov(fit)))
  ci <- confint(fit)
  co <- summary(fit)$coefficients
  lapply(seq_along(b), function(j) data.frame(country = cc, term = out_terms[j], estimate = fmt(b[[j]]),
    se = fmt(se[[j]]), ci_low = fmt(exp(ci[j, 1])), ci_high = fmt(exp(ci[j, 2])), p_value = fmt(co[j, 4]),
    df = fit$df.residual, n = sum(des$variables$complete)))
}

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
    tabs <- c(tabs, table_rows(des, cc))
    cons <- c(cons, contrast_rows(des, cc))
    if (cc != "ZZL") mods <- c(mods, model_rows(des, cc))
  }
  for (what in c("tables", "contrasts", "model")) {
    rows <- switch(what, tables = tabs, contrasts = cons, model = mods)
    ref <- do.call(rbind, rows)
    write.csv(ref, file.path(dir, paste0(set, "_", what, "_ref.csv")), row.names = FALSE, quote = FALSE)
    cat(set, what, ":", nrow(ref), "rows\n")
  }
}
cat("svyciprop checked on", checked_ciprop, "rows\n")
