#!/usr/bin/env Rscript
# Reference outputs for `swvr model` (crates/swvr-model/tests): R's survey
# package on fixtures/reference/model/input.csv (made by
# scripts/model_make_input.py).
#
# Per country: svydesign(ids = ~1, strata = ~stratum, weights = ~weight) on
# all its respondents; the model is fitted on subset(design, complete), i.e.
# the complete cases as a domain of the whole sample (non-complete rows keep
# their place in the strata with zero scores), with
# svyglm(family = quasibinomial, control = glm.control(epsilon = 1e-14,
# maxit = 100)) so that the SEs are those of the converged fit (with the
# default epsilon svyglm's SEs come from the second-to-last IRLS step).
# Coefficients, SEs, confint(fit) (t on df.residual = degf - k + 1 of the
# subset design), summary p-values.
#
# Firth (country SEP, separated): R's logistf is not installed; an
# independent computation instead: the Firth estimate is the fixed point of
# an ordinary weighted glm on pseudo-data (each case twice: y with weight
# w + h/2 and 1 - y with weight h/2, h the hat values of the weighted fit;
# Kosmidis & Firth 2010), iterated to 1e-13. Weights rescaled to mean 1 over
# the complete cases. SEs: survey's svyrecvar on the modified scores
# x_i [w_i (y_i - mu_i) + h_i (1/2 - mu_i)] times A^-1 (A = X'WX).
#
# Usage (from the repository root): Rscript scripts/r/model_reference.R
# Writes fixtures/reference/model/{svyglm.csv,firth.csv,separated_glm.txt}.

source("scripts/r/common.R")

inp <- read.csv("fixtures/reference/model/input.csv", stringsAsFactors = FALSE,
                colClasses = c(stratum = "character", age_group = "character"))
outdir <- "fixtures/reference/model"

prep <- function(d) {
  d$Q7yes <- yn(d$Q7)
  for (q in c("Q1", "Q3A", "Q3B", "Q3C")) d[[q]] <- yn(d[[q]])
  d$sex_ok <- d$sex %in% c(1, 2)
  d$`sex=female` <- as.numeric(d$sex == 2)
  d$age_ok <- d$age_group %in% c("15-29", "30-44", "45-59", "60+")
  d$`age_group=30-44` <- as.numeric(d$age_group == "30-44")
  d$`age_group=45-59` <- as.numeric(d$age_group == "45-59")
  d$`age_group=60+` <- as.numeric(d$age_group == "60+")
  d$edu_ok <- d$education %in% 1:3
  d$`education=secondary` <- as.numeric(d$education == 2)
  d$`education=tertiary` <- as.numeric(d$education == 3)
  d$urb_ok <- d$urbanicity %in% 1:4
  d$`urbanicity=urban` <- as.numeric(d$urbanicity %in% 3:4)
  d$emp_ok <- d$employment %in% 1:2
  d$`employment=not_employed` <- as.numeric(d$employment == 2)
  d$complete <- !is.na(d$Q7yes) & !is.na(d$Q1) & !is.na(d$Q3A) & !is.na(d$Q3B) &
    !is.na(d$Q3C) & d$sex_ok & d$age_ok & d$edu_ok & d$urb_ok & d$emp_ok
  # Values of non-complete rows are irrelevant (zero weight in the fit) but must not be NA.
  for (v in c("Q7yes", "Q1", "Q3A", "Q3B", "Q3C")) d[[v]][is.na(d[[v]])] <- 0
  d
}

terms <- c("Q1", "Q3A", "Q3B", "Q3C", "sex=female", "age_group=30-44", "age_group=45-59",
           "age_group=60+", "education=secondary", "education=tertiary", "urbanicity=urban",
           "employment=not_employed")
fml <- as.formula(paste("Q7yes ~", paste0("`", terms, "`", collapse = " + ")))
all_terms <- c("(Intercept)", terms)
fmt <- function(x) ifelse(is.na(x), "", trimws(formatC(x, digits = 17, format = "g")))

rows <- list()
for (cc in sort(unique(inp$country))) {
  if (cc == "SEP") next
  d <- prep(inp[inp$country == cc, ])
  des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = d)
  fit0 <- svyglm(fml, design = subset(des, complete), family = quasibinomial,
                 control = glm.control(epsilon = 1e-14, maxit = 100))
  # glm.fit's last QR (hence cov.unscaled and the sandwich's A^-1) uses the
  # working weights of the second-to-last iterate; a deviance change of 1e-14
  # still leaves that iterate ~1e-7 from the optimum. One more fit started at
  # the solution puts A at the converged coefficients.
  b0 <- coef(fit0)
  b0 <- b0[!is.na(b0)]
  cn <- colnames(model.matrix(fml, d))
  st <- setNames(rep(0, length(cn)), cn)
  st[names(b0)] <- b0
  fit <- svyglm(fml, design = subset(des, complete), family = quasibinomial, start = st,
                control = glm.control(epsilon = 1e-14, maxit = 100))
  message(cc, ": max |coef change| in the restarted fit ", max(abs(coef(fit) - coef(fit0)), na.rm = TRUE),
          ", iterations ", fit$iter)
  b <- coef(fit)
  names(b) <- gsub("`", "", names(b))
  ok <- !is.na(b)
  se <- rep(NA_real_, length(b)); names(se) <- names(b)
  se[ok] <- sqrt(diag(vcov(fit)))
  ci <- matrix(NA_real_, length(b), 2, dimnames = list(names(b), NULL))
  ci[ok, ] <- confint(fit)
  co <- summary(fit)$coefficients
  p <- rep(NA_real_, length(b)); names(p) <- names(b)
  p[ok] <- co[, 4]
  # A term nobody has is absent from (or NA in) R's coefficients: NA in the reference.
  get <- function(v, t) if (t %in% names(v)) v[[t]] else NA_real_
  for (t in all_terms) {
    cl <- if (t %in% rownames(ci)) ci[t, 1] else NA_real_
    ch <- if (t %in% rownames(ci)) ci[t, 2] else NA_real_
    rows[[length(rows) + 1]] <- data.frame(
      country = cc, term = t, estimate = fmt(get(b, t)), se = fmt(get(se, t)),
      ci_low = fmt(exp(cl)), ci_high = fmt(exp(ch)), p_value = fmt(get(p, t)),
      df = fit$df.residual, n = sum(d$complete), stringsAsFactors = FALSE)
  }
}
res <- do.call(rbind, rows)
write_reference(res, file.path(outdir, "svyglm.csv"))

# Separated country: what svyglm does (for the record) and Firth.
d <- prep(inp[inp$country == "SEP", ])
des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = d)
sep <- withCallingHandlers(
  svyglm(fml, design = subset(des, complete), family = quasibinomial,
         control = glm.control(epsilon = 1e-14, maxit = 100)),
  warning = function(w) { message("svyglm on SEP warns: ", conditionMessage(w)); invokeRestart("muffleWarning") })
capture.output(print(summary(sep)), file = file.path(outdir, "separated_glm.txt"))

dc <- d[d$complete, ]
dc$w <- dc$weight / mean(dc$weight)
X <- model.matrix(fml, dc)
y <- dc$Q7yes
beta <- rep(0, ncol(X))
for (it in 1:500) {
  mu <- plogis(drop(X %*% beta))
  W <- dc$w * mu * (1 - mu)
  A <- crossprod(X, W * X)
  h <- W * rowSums((X %*% solve(A)) * X)
  pseudo <- data.frame(y = c(y, 1 - y), wt = c(dc$w + h / 2, h / 2))
  Xp <- rbind(X, X)
  g <- suppressWarnings(glm.fit(Xp, pseudo$y, weights = pseudo$wt, family = quasibinomial(),
                                start = beta, control = glm.control(epsilon = 1e-15, maxit = 100)))
  delta <- max(abs(g$coefficients - beta))
  beta <- g$coefficients
  if (delta < 1e-13) break
}
message("Firth fixed point after ", it, " iterations (last change ", delta, ")")
mu <- plogis(drop(X %*% beta))
W <- dc$w * mu * (1 - mu)
A <- crossprod(X, W * X)
Ainv <- solve(A)
h <- W * rowSums((X %*% Ainv) * X)
score <- X * (dc$w * (y - mu) + h * (0.5 - mu))
message("Firth modified score at the solution: ", max(abs(colSums(score))))
# subset() of an uncalibrated design keeps the complete rows and the full
# stratum sizes (fpc$sampsize): the domain variance, as in svy.varcoef.
dsub <- subset(des, complete)
V <- svyrecvar(score %*% Ainv, dsub$cluster, dsub$strata, dsub$fpc, postStrata = dsub$postStrata)
dfr <- degf(dsub) + 1 - ncol(X)
se <- sqrt(diag(V))
tq <- qt(0.975, dfr)
firth <- data.frame(country = "SEP", term = all_terms, estimate = fmt(beta), se = fmt(se),
                    ci_low = fmt(exp(beta - tq * se)), ci_high = fmt(exp(beta + tq * se)),
                    p_value = fmt(2 * pt(abs(beta / se), dfr, lower.tail = FALSE)),
                    df = dfr, n = nrow(dc), stringsAsFactors = FALSE)
write_reference(firth, file.path(outdir, "firth.csv"))
message("wrote ", outdir, "/{svyglm.csv,firth.csv,separated_glm.txt}")
