# What the R reference scripts share (scripts/r/*.R source this file first,
# from the repository root: source("scripts/r/common.R")): the survey
# package and its options, the fixture bundle, the questionnaire's answer
# sets and domains as the tabulation labels them, the contract's base
# weights, raking margins, and how reference files are written. Everything
# here is written from the contract and docs/, independently of the Rust code.

suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")

# A number at 17 significant digits (it reads back exactly); NA and
# non-finite values as "NA".
fmt17 <- function(x) ifelse(is.na(x) | !is.finite(x), "NA", sprintf("%.17g", x))

# A reference file: CSV without row names or quotes.
write_reference <- function(df, path) {
  write.csv(df, path, row.names = FALSE, quote = FALSE)
}

# ---- The fixture bundle -------------------------------------------------

read_design <- function(bundle = "fixtures") {
  read.csv(file.path(bundle, "design.csv"), stringsAsFactors = FALSE)
}

# targets.csv (or a file of its columns); categories stay text ("1", "15-29").
read_targets <- function(path = "fixtures/targets.csv") {
  read.csv(path, stringsAsFactors = FALSE, colClasses = c(category = "character"))
}

read_respondents <- function(bundle = "fixtures") {
  read.csv(file.path(bundle, "respondents.csv"), stringsAsFactors = FALSE,
           colClasses = c(respondent_id = "character", stratum = "character"))
}

# fixtures/reference/weight/inputs_<case>.csv (scripts/weight_reference_inputs.py):
# keys, frame, stratum, phone counts and the raking values after imputation.
read_weight_inputs <- function(case) {
  read.csv(file.path("fixtures/reference/weight", paste0("inputs_", case, ".csv")),
           stringsAsFactors = FALSE,
           colClasses = c(respondent_id = "character", stratum = "character"))
}

# The (country, wave) of every row, as one key.
group_key <- function(d) paste(d$country, d$wave)

# ---- Weighting ----------------------------------------------------------

# Base weights (contract section 3) per (country, wave), with the
# blank-count rule: the drawn-from frame's count, and n_adults where pL
# needs it, taken as 1 when blank or below 1; a blank count of the other
# frame taken as 0. method "multiplicity": 1 / (pL + pM - pL pM);
# "hartley": lambda / pL (landline draws) or (1 - lambda) / pM (mobile) for
# dual users, 1 / p of the one frame otherwise.
base_weights <- function(d, design, method = "multiplicity", lambda = 0.5,
                         caps = c(adults = 4, landlines = 3, mobiles = 3)) {
  out <- numeric(nrow(d))
  for (key in unique(group_key(d))) {
    rows <- which(group_key(d) == key)
    x <- d[rows, ]
    des <- design[group_key(design) == key, ]
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
      ifelse(nl > 0, pmin(fL * pmin(nl, caps[["landlines"]]) / pmin(na, caps[["adults"]]), 1), 0)
    pM <- if (is.na(fM)) rep(0, nrow(x)) else
      ifelse(nm > 0, pmin(fM * pmin(nm, caps[["mobiles"]]), 1), 0)
    out[rows] <- if (method == "multiplicity") {
      1 / (pL + pM - pL * pM)
    } else {
      ifelse(pL > 0 & pM > 0,
             ifelse(fromL, lambda / pL, (1 - lambda) / pM),
             ifelse(pL > 0, 1 / pL, 1 / pM))
    }
  }
  out
}

# The population margin of `variable` in the targets `tg` of one (country,
# wave) for rake()/calibrate(): its categories (in targets order) as a
# factor column named `column`, and Freq = share (normalised to sum to 1) x n.
population_margin <- function(tg, variable, n, column) {
  t <- tg[tg$variable == variable, ]
  pm <- data.frame(factor(t$category, levels = t$category), t$share / sum(t$share) * n)
  names(pm) <- c(column, "Freq")
  pm
}

# ---- The 2021 questionnaire as tabulated -----------------------------------

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

# 1 (yes) / 0 (no) / NA of a yes-no item, for models.
yn <- function(v) ifelse(v == 1, 1, ifelse(v == 2, 0, NA))

# any_yes: yes if any listed item is yes; no if every asked one is no; else
# dk if any is DK; else refused. NA when none was asked.
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

# A tabulation input (fixtures/reference/tabulate/*.csv): blank age group as "".
read_tabulation_input <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE, na.strings = "",
                colClasses = c(age_group = "character", stratum = "character"))
  d$age_group[is.na(d$age_group)] <- ""
  d
}

# The derived indicators, the domain columns dom_<domain>, net_Q4B and the
# factors f_<item>; returns the data and the domains.
prepare_tabulation <- function(d) {
  for (it in names(derived)) d[[it]] <- any_yes(d, derived[[it]])
  doms <- domains(d)
  for (dn in names(doms)) d[[paste0("dom_", dn)]] <- doms[[dn]]$v
  d$net_Q4B <- ifelse(is.na(d$Q4B), NA, (d$Q4B == 1) - (d$Q4B == 2))
  for (it in names(sets)) d[[paste0("f_", it)]] <- factor(d[[it]], levels = sets[[it]]$codes)
  list(d = d, doms = doms)
}

# The domain levels of every domain, in the tabulation's order.
dom_levels <- list(total = "total", sex = c("male", "female"), age_group = c("15-29", "30-44", "45-59", "60+"),
                   urbanicity = c("rural", "urban"), employment = c("employed", "not_employed"),
                   education = c("primary", "secondary", "tertiary"))

# ---- The default model (the report's Appendix E) -------------------------

# Adds the model's variables to a prepared tabulation input (dom_age_group
# set): Q7yes, m_<term> (1/0, NA set to 0 outside the complete cases),
# the controls as 0/1 columns named like swvr's terms, and `complete`.
add_model_variables <- function(inp) {
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
  inp
}
model_terms <- c("m_Q1", "m_Q3A", "m_Q3B", "m_Q3C", "sex=female", "age_group=30-44", "age_group=45-59",
                 "age_group=60+", "education=secondary", "education=tertiary", "urbanicity=urban",
                 "employment=not_employed")
model_formula <- as.formula(paste("Q7yes ~", paste0("`", model_terms, "`", collapse = " + ")))
model_out_terms <- c("(Intercept)", sub("^m_", "", model_terms))

# ---- References on a replicate design (svrepdesign) ----------------------
# Used by replicate_se_reference.R and replicate_e2e_reference.R; `des` is
# one country-wave's svrepdesign over a prepared input (prepare_tabulation,
# add_model_variables), `cc` its country.
#
# Tables: for every item, derived indicator, domain level (subset of the
# respondents asked the item, as svyby(~I(y == k), ~domain, design, ...)
# does: `svyby` evaluates FUN on design[byfactor %in% level, ]):
# svymean(~factor(item), sub, deff = "replace", return.replicates = TRUE):
# estimate, se, deff; df = degf(sub) (the numerical rank of the subset's
# replicate weights minus 1); the logit interval of
# svyciprop(method = "logit"), which on a replicate design fits
# svyglm(I(y == k) ~ 1) per replicate: the intercept of replicate r is
# logit(p_r), its variance svrVar(logit(p_r), scale, rscales, mse,
# coef = logit(p)), the interval expit(logit(p) +- qt(0.975, df) * sqrt(v)).
# It is computed here from the replicate means directly (NA when a
# replicate share is 0 or 1: there svyglm's replicate fit does not
# converge and returns an arbitrary large value); svyciprop itself is
# checked to give the same limits on a random sample of rows
# (`checked_ciprop` counts them; draws from R's RNG).
# Q4B_net: svymean(~net), interval estimate +- t * se.
checked_ciprop <- 0
replicate_table_rows <- function(des, cc) {
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
          category = "net", n = nrow(sub), estimate = fmt17(est), se = fmt17(se),
          ci_low = fmt17(est - tq * se), ci_high = fmt17(est + tq * se), deff = fmt17(deff(m)[[1]]), df = df)
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
          category = sets[[it]]$cats[k], n = nrow(sub), estimate = fmt17(p), se = fmt17(sqrt(v[[k]])),
          ci_low = fmt17(lo), ci_high = fmt17(hi), deff = fmt17(dfs[[k]]), df = df)
      }
    }
  }
  out
}

# Contrasts: svyby(~factor(item), ~domain, asked, svymean, covmat = TRUE) +
# svycontrast(c(a = 1, b = -1)) for every pair of levels; df = degf() of
# the two levels' subset.
replicate_contrast_rows <- function(des, cc) {
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
      for (i in 1:(length(present) - 1)) for (j in (i + 1):length(present)) {
        a <- present[i]; b <- present[j]
        pair <- sub[sub$variables[[dv]] %in% c(a, b), ]
        for (k in seq_along(cats)) {
          col <- if (it == "Q4B_net") NULL else paste0("f_", it, sets[[it]]$codes[k])
          na <- if (is.null(col)) a else paste0(a, ":", col)
          nb <- if (is.null(col)) b else paste0(b, ":", col)
          ctr <- svycontrast(by, setNames(c(1, -1), c(na, nb)))
          out[[length(out) + 1]] <- data.frame(country = cc, item = it, domain = dn, level_a = a,
            level_b = b, category = cats[k], difference = fmt17(coef(ctr)[[1]]),
            se = fmt17(sqrt(vcov(ctr)[1, 1])), df = degf(pair))
        }
      }
    }
  }
  out
}

# Model: svyglm(Q7yes ~ ..., subset(des, complete), family = quasibinomial,
# control = glm.control(epsilon = 1e-14, maxit = 100)): coefficients, SEs
# (replicate refits), confint(), summary p-values, df.residual.
replicate_model_rows <- function(des, cc) {
  fit <- svyglm(model_formula, design = subset(des, complete), family = quasibinomial,
                control = glm.control(epsilon = 1e-14, maxit = 100))
  b <- coef(fit)
  se <- sqrt(diag(vcov(fit)))
  ci <- confint(fit)
  co <- summary(fit)$coefficients
  lapply(seq_along(b), function(j) data.frame(country = cc, term = model_out_terms[j], estimate = fmt17(b[[j]]),
    se = fmt17(se[[j]]), ci_low = fmt17(exp(ci[j, 1])), ci_high = fmt17(exp(ci[j, 2])), p_value = fmt17(co[j, 4]),
    df = fit$df.residual, n = sum(des$variables$complete)))
}
