#!/usr/bin/env Rscript
# Reference standard errors for `[variance] method = "calibrated"` (issue
# 10): R's svymean/svyby and svyglm on the designs returned by rake() and
# calibrate(), whose variance (svyrecvar) replaces each influence value by a
# residual on the calibration variables.
#
# Inputs: fixtures/reference/weight/inputs_multiplicity.csv (respondent key,
# counts, frame, stratum, the raking values after swvr's imputation), the
# items and reported demographics of fixtures/respondents.csv (joined on
# country, respondent_id), fixtures/design.csv, fixtures/targets.csv.
# Per (country, wave), svydesign(ids = ~1, strata = ~stratum, weights = ~w0)
# with w0 the multiplicity base weights (caps 4/3/3) scaled to sum to n,
# options(survey.lonely.psu = "adjust"), and three calibrated designs on the
# margins sex, age_group, education (targets normalised, times n):
# - raking: rake(..., control = list(maxit = 1000, epsilon = 1e-13));
# - linear: calibrate(..., calfun = "linear");
# - logit:  calibrate(..., calfun = "logit", bounds = c(0.2, 3.5),
#           maxit = 200, epsilon = 1e-14).
# (the weight stage's schemes fixtures/reference/variance/scheme_<design>.toml
# give the same weights: see fixtures/reference/calibration/).
#
# Tables: for Q1, Q4B, Q7 and the domains total, sex, age_group, education,
# urbanicity: svyby(~factor(item), ~domain, subset(design, asked & domain
# known), svymean, deff = "replace") — subset() of a calibrated design keeps
# every row (domain estimation), so the residuals are taken over the whole
# country-wave. Model: svyglm(Q7 yes ~ Q1 + Q3A + Q3B + Q3C + sex +
# age_group + education + urbanicity + employment, quasibinomial) on
# subset(design, complete), converged to 1e-14 and restarted at the solution
# (as scripts/r/model_reference.R).
#
# Level contrasts (contrasts.arrow, issue 10): for every pair of levels of
# each domain but total and every category k, on the same subset:
# svytotal(~ya + na + yb + nb) (ya = 1[y = k, level a], na = 1[level a], …)
# and svycontrast(quote(ya/na - yb/nb)): the difference of the two domain
# means with its linearised SE, the covariance of the levels estimated from
# the calibrated design's residuals. (svyby(..., covmat = TRUE) +
# svycontrast, the issue's recipe, is the same linearisation, but svyby
# fails on subsets of these calibrated designs in survey 4.1-1: "number of
# items to replace is not a multiple of replacement length".)
#
# Writes fixtures/reference/variance/{tables,svyglm,contrasts}_ref.csv with a
# `design` column (raking, linear, logit). The Rust test
# crates/swvr-cli/tests/cli/calibrated.rs runs swvr with those schemes and
# compares (estimates 1e-8, SEs 1e-6 relative), so CI never needs R.
#
# Usage: Rscript scripts/r/calibrated_variance_reference.R   (from the repository root)

source("scripts/r/common.R")

outdir <- "fixtures/reference/variance"

design <- read_design()
targets <- read_targets()
inp <- read_weight_inputs("multiplicity")
resp <- read_respondents()
keep <- c("country", "respondent_id", "sex", "age", "education", "employment", "urbanicity",
          "Q1", "Q3A", "Q3B", "Q3C", "Q4B", "Q7")
d <- merge(inp, resp[, keep], by = c("country", "respondent_id"), sort = FALSE)
d <- d[order(d$country, d$wave), ]
d$base_weight <- base_weights(d, design)
bands <- c("15-29", "30-44", "45-59", "60+")
d$age_group <- as.character(cut(d$age, c(14, 29, 44, 59, 120), labels = bands))
d$age_group[d$age > 120] <- NA

# Domains as tables.arrow labels them (DK/refused: NA, out of the breakdown).
d$dom_total <- "total"
d$dom_sex <- c("male", "female")[match(d$sex, 1:2)]
d$dom_age_group <- d$age_group
d$dom_education <- c("primary", "secondary", "tertiary")[match(d$education, 1:3)]
d$dom_urbanicity <- c("rural", "rural", "urban", "urban")[match(d$urbanicity, 1:4)]
domains <- c("total", "sex", "age_group", "education", "urbanicity")
items <- list(Q1 = list(codes = c(1, 2, 8, 9), cats = c("yes", "no", "dk", "refused")),
              Q4B = list(codes = c(1, 2, 3, 8, 9), cats = c("increased", "decreased", "same", "dk", "refused")),
              Q7 = list(codes = c(1, 2, 8, 9), cats = c("yes", "no", "dk", "refused")))
# Rows not asked stay in a subset of a calibrated design with weight 0, so
# their value must not be NA (it contributes nothing): the first code.
for (it in names(items)) {
  d[[paste0("f_", it)]] <- factor(ifelse(is.na(d[[it]]), items[[it]]$codes[1], d[[it]]),
                                  levels = items[[it]]$codes)
}

# Model variables (as scripts/r/model_reference.R).
d$Q7yes <- yn(d$Q7)
for (q in c("Q1", "Q3A", "Q3B", "Q3C")) d[[paste0("m_", q)]] <- yn(d[[q]])
d$`sex=female` <- as.numeric(d$sex == 2)
d$`age_group=30-44` <- as.numeric(d$age_group %in% "30-44")
d$`age_group=45-59` <- as.numeric(d$age_group %in% "45-59")
d$`age_group=60+` <- as.numeric(d$age_group %in% "60+")
d$`education=secondary` <- as.numeric(d$education == 2)
d$`education=tertiary` <- as.numeric(d$education == 3)
d$`urbanicity=urban` <- as.numeric(d$urbanicity %in% 3:4)
d$`employment=not_employed` <- as.numeric(d$employment == 2)
d$complete <- !is.na(d$Q7yes) & !is.na(d$m_Q1) & !is.na(d$m_Q3A) & !is.na(d$m_Q3B) &
  !is.na(d$m_Q3C) & d$sex %in% 1:2 & !is.na(d$age_group) & d$education %in% 1:3 &
  d$urbanicity %in% 1:4 & d$employment %in% 1:2
for (v in c("Q7yes", "m_Q1", "m_Q3A", "m_Q3B", "m_Q3C")) d[[v]][is.na(d[[v]])] <- 0
terms <- c("m_Q1", "m_Q3A", "m_Q3B", "m_Q3C", "sex=female", "age_group=30-44", "age_group=45-59",
           "age_group=60+", "education=secondary", "education=tertiary", "urbanicity=urban",
           "employment=not_employed")
fml <- as.formula(paste("Q7yes ~", paste0("`", terms, "`", collapse = " + ")))
term_name <- function(t) sub("^m_", "", gsub("`", "", t))

calibrated <- function(x, tg, kind) {
  n <- nrow(x)
  x$w0 <- x$base_weight * n / sum(x$base_weight)
  forms <- list()
  pops <- list()
  for (v in c("sex", "age_group", "education")) {
    col <- paste0(v, "_weighting")
    pm <- population_margin(tg, v, n, col)
    x[[col]] <- factor(as.character(x[[col]]), levels = levels(pm[[col]]))
    pops[[length(pops) + 1]] <- pm
    forms[[length(forms) + 1]] <- as.formula(paste("~", col))
  }
  des <- svydesign(ids = ~1, strata = ~stratum, weights = ~w0, data = x)
  switch(kind,
    raking = rake(des, forms, pops, control = list(maxit = 1000, epsilon = 1e-13, verbose = FALSE)),
    linear = calibrate(des, forms, pops, calfun = "linear"),
    logit = calibrate(des, forms, pops, calfun = "logit", bounds = c(0.2, 3.5),
                      maxit = 200, epsilon = 1e-14))
}

tables <- list()
contrasts <- list()
models <- list()
for (kind in c("raking", "linear", "logit")) {
  for (key in unique(group_key(d))) {
    x <- d[group_key(d) == key, ]
    des <- calibrated(x, targets[group_key(targets) == key, ], kind)
    for (it in names(items)) {
      asked <- subset(des, !is.na(x[[it]]))
      for (dn in domains) {
        dv <- paste0("dom_", dn)
        sub <- subset(asked, !is.na(asked$variables[[dv]]))
        by <- svyby(as.formula(paste0("~f_", it)), as.formula(paste0("~", dv)), sub, svymean,
                    deff = "replace", keep.var = TRUE)
        for (lev in as.character(by[[dv]])) {
          row <- as.numeric(by[by[[dv]] == lev, -1])
          ns <- length(row) / 3
          tables[[length(tables) + 1]] <- data.frame(
            design = kind, country = x$country[1], wave = x$wave[1], item = it, domain = dn,
            domain_level = lev, category = items[[it]]$cats, estimate = fmt17(row[1:ns]),
            se = fmt17(row[ns + 1:ns]), deff = fmt17(row[2 * ns + 1:ns]))
        }
        # Level contrasts: the joint covariance of the levels' means.
        present <- dom_levels[[dn]][dom_levels[[dn]] %in% as.character(by[[dv]])]
        if (dn == "total" || length(present) < 2) next
        for (i in 1:(length(present) - 1)) for (j in (i + 1):length(present)) {
          for (k in seq_along(items[[it]]$codes)) {
            yk <- as.numeric(sub$variables[[paste0("f_", it)]] == items[[it]]$codes[k])
            ia <- as.numeric(sub$variables[[dv]] %in% present[i])
            ib <- as.numeric(sub$variables[[dv]] %in% present[j])
            s2 <- update(sub, ya = yk * ia, na = ia, yb = yk * ib, nb = ib)
            tot <- svytotal(~ya + na + yb + nb, s2)
            ctr <- svycontrast(tot, quote(ya / na - yb / nb))
            contrasts[[length(contrasts) + 1]] <- data.frame(
              design = kind, country = x$country[1], wave = x$wave[1], item = it, domain = dn,
              level_a = present[i], level_b = present[j], category = items[[it]]$cats[k],
              difference = fmt17(coef(ctr)[[1]]), se = fmt17(sqrt(vcov(ctr)[1, 1])))
          }
        }
      }
    }
    fit0 <- svyglm(fml, design = subset(des, complete), family = quasibinomial,
                   control = glm.control(epsilon = 1e-14, maxit = 100))
    fit <- svyglm(fml, design = subset(des, complete), family = quasibinomial, start = coef(fit0),
                  control = glm.control(epsilon = 1e-14, maxit = 100))
    b <- coef(fit)
    models[[length(models) + 1]] <- data.frame(
      design = kind, country = x$country[1], wave = x$wave[1], term = term_name(names(b)),
      estimate = fmt17(b), se = fmt17(sqrt(diag(vcov(fit)))), df = fit$df.residual,
      n = sum(x$complete))
  }
  cat(sprintf("calibrated variance reference: %s done\n", kind))
}
tables <- do.call(rbind, tables)
models <- do.call(rbind, models)
write_reference(tables, file.path(outdir, "tables_ref.csv"))
write_reference(models, file.path(outdir, "svyglm_ref.csv"))
contrasts <- do.call(rbind, contrasts)
write_reference(contrasts, file.path(outdir, "contrasts_ref.csv"))
cat(sprintf("calibrated variance reference: contrasts_ref.csv (%d rows)\n", nrow(contrasts)))
cat(sprintf("calibrated variance reference: tables_ref.csv (%d rows), svyglm_ref.csv (%d rows)\n",
            nrow(tables), nrow(models)))
