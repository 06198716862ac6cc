#!/usr/bin/env Rscript
# Reference results for the hypothetical 2025 wave (issue 9): a questionnaire
# with a new coded demographic `region`, five-level education and a new item
# Q9 (questionnaire/example_2025.toml), weighted by a scheme that rakes on an
# interaction margin (fixtures/wave2025/scheme.toml: sex*age_group,
# education, region), computed with R's survey package from the bundle's
# CSV files alone (fixtures/wave2025/, made by scripts/wave2025_bundle.py;
# its raking demographics have no DK/refused codes, so nothing is imputed).
#
# 1. Base weights: the multiplicity formula of docs/weighting.md with caps
#    4/3/3 and the blank-count rule, written here independently of the Rust.
# 2. survey::rake per (country, wave) on ~sexage (the sex x age-band cells as
#    one factor, categories "1*15-29" ...), ~education, ~region to the target
#    shares times n, control = list(maxit = 1000, epsilon = 1e-13), starting
#    from base weights scaled to sum to n; the result scaled to sum to n.
# 3. Tables: per (country, wave), svydesign(ids = ~1, strata = ~stratum,
#    weights = ~weight) with survey.lonely.psu = "adjust"; for every item
#    (Q9 included) and the domains total, sex, age_group, education (five
#    levels) and region: svyby(~factor(item), ~domain, subset(design, asked
#    & domain known), svymean): estimate and SE of every answer category.
# 4. Model (fixtures/wave2025/spec.toml): svyglm(Q7 yes ~ Q1 + Q3A + Q3C +
#    Q9 + sex + age_group + education (ref none) + region (ref capital),
#    family = quasibinomial) on subset(design, complete), converged to 1e-14
#    and restarted at the solution (as scripts/r/model_reference.R).
#
# Writes fixtures/reference/wave2025/{weights,tables,svyglm}_ref.csv. The
# Rust test crates/swvr-cli/tests/wave2025.rs runs swvr on the bundle and
# compares with these files at 1e-8, so CI never needs R.
#
# Usage: Rscript scripts/r/wave2025_reference.R   (from the repository root)

source("scripts/r/common.R")

bundle <- "fixtures/wave2025"
outdir <- "fixtures/reference/wave2025"
d <- read_respondents(bundle)
design <- read_design(bundle)
targets <- read_targets(file.path(bundle, "targets.csv"))

bands <- c("15-29", "30-44", "45-59", "60+")
d$age_group <- as.character(cut(d$age, c(14, 29, 44, 59, Inf), labels = bands))
d$sexage <- paste(d$sex, d$age_group, sep = "*")

# 1. Base weights.
d$base_weight <- base_weights(d, design)

# 2. Raking with an interaction margin.
d$weight <- NA_real_
for (key in unique(group_key(d))) {
  rows <- which(group_key(d) == key)
  x <- d[rows, ]
  n <- nrow(x)
  tg <- targets[group_key(targets) == key, ]
  margin <- function(var, col) {
    pm <- population_margin(tg, var, n, col)
    x[[col]] <<- factor(as.character(x[[col]]), levels = levels(pm[[col]]))
    pm
  }
  pop <- list(margin("sex*age_group", "sexage"), margin("education", "education"), margin("region", "region"))
  x$w0 <- x$base_weight * n / sum(x$base_weight)
  des <- svydesign(ids = ~1, strata = ~stratum, weights = ~w0, data = x)
  r <- rake(des, sample.margins = list(~sexage, ~education, ~region), population.margins = pop,
            control = list(maxit = 1000, epsilon = 1e-13, verbose = FALSE))
  w <- weights(r)
  d$weight[rows] <- w * n / sum(w)
}
write_reference(data.frame(country = d$country, wave = d$wave, respondent_id = d$respondent_id,
                           base_weight = fmt17(d$base_weight), weight = fmt17(d$weight)),
                file.path(outdir, "weights_ref.csv"))
cat(sprintf("wave2025 reference: weights_ref.csv (%d rows)\n", nrow(d)))

# 3. Tables.
# The 2021 answer sets (common.R) and the new item Q9.
sets <- c(sets[1:17], list(Q9 = yes_no))
edu_levels <- c("none", "primary", "lower_secondary", "upper_secondary", "tertiary")
region_levels <- c("capital", "north", "south", "east_west")
doms <- list(
  total = list(v = rep("total", nrow(d)), levels = "total"),
  sex = list(v = c("male", "female")[match(d$sex, 1:2)], levels = c("male", "female")),
  age_group = list(v = d$age_group, levels = bands),
  education = list(v = edu_levels[match(d$education, 1:5)], levels = edu_levels),
  region = list(v = region_levels[match(d$region, 1:4)], levels = region_levels))
for (dn in names(doms)) d[[paste0("dom_", dn)]] <- doms[[dn]]$v
for (it in names(sets)) d[[paste0("f_", it)]] <- factor(d[[it]], levels = sets[[it]]$codes)
out <- list()
for (key in unique(group_key(d))) {
  dc <- d[group_key(d) == key, ]
  des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = dc)
  for (it in names(sets)) {
    asked <- subset(des, !is.na(dc[[it]]))
    for (dn in names(doms)) {
      dv <- paste0("dom_", dn)
      sub <- subset(asked, !is.na(asked$variables[[dv]]))
      by <- svyby(as.formula(paste0("~f_", it)), as.formula(paste0("~", dv)), sub, svymean,
                  keep.var = TRUE)
      for (lev in doms[[dn]]$levels) {
        if (!(lev %in% rownames(by))) next
        row <- as.numeric(by[by[[dv]] == lev, -1])
        ns <- length(row) / 2
        for (k in seq_along(sets[[it]]$codes)) {
          out[[length(out) + 1]] <- data.frame(
            country = dc$country[1], wave = dc$wave[1], item = it, domain = dn, domain_level = lev,
            category = sets[[it]]$cats[k], estimate = fmt17(row[k]), se = fmt17(row[ns + k]))
        }
      }
    }
  }
}
tab <- do.call(rbind, out)
write_reference(tab, file.path(outdir, "tables_ref.csv"))
cat(sprintf("wave2025 reference: tables_ref.csv (%d rows)\n", nrow(tab)))

# 4. Model.
d$Q7yes <- yn(d$Q7)
preds <- c("Q1", "Q3A", "Q3C", "Q9")
for (q in preds) d[[paste0("p_", q)]] <- yn(d[[q]])
dummies <- list(
  "sex=female" = d$sex == 2,
  "age_group=30-44" = d$age_group == "30-44", "age_group=45-59" = d$age_group == "45-59",
  "age_group=60+" = d$age_group == "60+",
  "education=primary" = d$education == 2, "education=lower_secondary" = d$education == 3,
  "education=upper_secondary" = d$education == 4, "education=tertiary" = d$education == 5,
  "region=north" = d$region == 2, "region=south" = d$region == 3, "region=east_west" = d$region == 4)
for (t in names(dummies)) d[[t]] <- as.numeric(dummies[[t]])
d$complete <- !is.na(d$Q7yes) & rowSums(is.na(d[, paste0("p_", preds)])) == 0
for (v in c("Q7yes", paste0("p_", preds))) d[[v]][is.na(d[[v]])] <- 0
for (q in preds) d[[q]] <- d[[paste0("p_", q)]]
terms <- c(preds, names(dummies))
fml <- as.formula(paste("Q7yes ~", paste0("`", terms, "`", collapse = " + ")))
rows <- list()
for (cc in sort(unique(d$country))) {
  dd <- d[d$country == cc, ]
  des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = dd)
  fit0 <- svyglm(fml, design = subset(des, complete), family = quasibinomial,
                 control = glm.control(epsilon = 1e-14, maxit = 100))
  fit <- svyglm(fml, design = subset(des, complete), family = quasibinomial, start = coef(fit0),
                control = glm.control(epsilon = 1e-14, maxit = 100))
  b <- coef(fit)
  names(b) <- gsub("`", "", names(b))
  se <- sqrt(diag(vcov(fit)))
  for (i in seq_along(b)) {
    rows[[length(rows) + 1]] <- data.frame(country = cc, term = names(b)[i], estimate = fmt17(b[[i]]),
                                           se = fmt17(se[[i]]), df = fit$df.residual, n = sum(dd$complete))
  }
}
res <- do.call(rbind, rows)
write_reference(res, file.path(outdir, "svyglm_ref.csv"))
cat(sprintf("wave2025 reference: svyglm_ref.csv (%d rows)\n", nrow(res)))
