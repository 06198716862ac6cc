# Peer timing with R's survey package on a swvr wave bundle (optional; not a test).
#
# usage: Rscript scripts/peers/r_survey.R BUNDLE_DIR
# Prints one line: "rake_s tables_s model_s read_s" (elapsed seconds; data
# preparation excluded; read_s is read.csv of respondents.csv alone, the
# peer of `swvr ingest`, which also validates and writes Arrow). Run by
# scripts/bench_peers.sh.
#
# The three jobs, per country (the bundle has one wave):
#  (a) rake: svydesign(ids=~1, strata=~stratum, weights=~base_weight) then
#      survey::rake to the bundle's targets.csv on sex, age_group
#      (15-29, 30-44, 45-59, 60+) and education, epsilon 1e-10 (R's rule:
#      max change of the cross-table between sweeps < 1e-10 * sum of weights).
#  (b) tables: every item Q1 ... Q8E on the respondents asked it (a domain of
#      the whole country sample) by total, sex, age_group, urbanicity
#      (rural/urban), employment, education, each with
#      svymean/svyby(svymean, deff = "replace"). The design is rebuilt from
#      the raked weights taken as fixed (what swvr and the contract do),
#      not the raked design, whose variance would add the calibration step.
#  (c) svyglm(family = quasibinomial) of Q7 (yes vs no) on Q1, Q3A, Q3B, Q3C
#      (yes = 1, no = 0; DK/refused left out), sex, age_group, education,
#      urbanicity (urban vs rural), employment; complete cases, as a subset
#      of the fixed-weight design.
#
# Not timed (preparation): base weights by the contract's multiplicity
# formula with the default caps, and DK/refused sex, age and education
# replaced by the country's most frequent category (swvr does a weighted
# hot-deck, inside its timed weight stage).
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
args <- commandArgs(TRUE)
if (length(args) < 1) stop("usage: Rscript r_survey.R BUNDLE_DIR")
dir <- args[1]
t_read <- system.time(d <- read.csv(file.path(dir, "respondents.csv"), stringsAsFactors = FALSE))[["elapsed"]]
tg <- read.csv(file.path(dir, "targets.csv"), colClasses = c(category = "character"))
dz <- read.csv(file.path(dir, "design.csv"))

# ---- preparation (untimed) ----
d$age_group <- as.character(cut(d$age, c(14, 29, 44, 59, 120), labels = c("15-29", "30-44", "45-59", "60+")))
mode_fill <- function(x, ok, by) {
  for (c in unique(by)) {
    i <- by == c
    tab <- table(x[i & ok])
    x[i & !ok] <- names(tab)[which.max(tab)]
  }
  x
}
d$sex_w <- mode_fill(as.character(d$sex), d$sex %in% 1:2, d$country)
d$education_w <- mode_fill(as.character(d$education), d$education %in% 1:3, d$country)
d$age_group_w <- mode_fill(d$age_group, !is.na(d$age_group), d$country)
rate <- function(c, f) {
  r <- dz[dz$country == c & dz$frame == f, ]
  if (nrow(r) == 0) 0 else r$sample_size[1] / r$frame_size[1]
}
cnt <- function(x, drawn) ifelse(is.na(x), ifelse(drawn, 1, 0), x)
d$base_weight <- NA_real_
for (c in unique(d$country)) {
  i <- d$country == c
  s <- d[i, ]
  fl <- rate(c, "L"); fm <- rate(c, "M")
  nl <- pmin(cnt(s$n_landlines, s$frame == "L"), 3)
  na <- pmin(ifelse(is.na(s$n_adults), 1, s$n_adults), 4)
  nm <- pmin(cnt(s$n_mobiles, s$frame == "M"), 3)
  pl <- if (fl > 0) fl * nl / na else 0
  pm <- fm * nm
  d$base_weight[i] <- 1 / (pl + pm - pl * pm)
}
d$sex_d <- ifelse(d$sex %in% 1:2, as.character(d$sex), NA)
d$edu_d <- ifelse(d$education %in% 1:3, as.character(d$education), NA)
d$emp_d <- ifelse(d$employment %in% 1:2, as.character(d$employment), NA)
d$urb_d <- ifelse(d$urbanicity %in% 1:2, "rural", ifelse(d$urbanicity %in% 3:4, "urban", NA))
yes01 <- function(x) ifelse(x == 1, 1, ifelse(x == 2, 0, NA))
d$y7 <- yes01(d$Q7); d$x1 <- yes01(d$Q1); d$x3a <- yes01(d$Q3A); d$x3b <- yes01(d$Q3B); d$x3c <- yes01(d$Q3C)
countries <- sort(unique(d$country))
per_country <- lapply(countries, function(c) d[d$country == c, ])
names(per_country) <- countries
rm(d); invisible(gc())
margin <- function(c, v, total) {
  t <- tg[tg$country == c & tg$variable == v, ]
  df <- data.frame(t$category, t$share * total, stringsAsFactors = FALSE)
  names(df) <- c(paste0(v, "_w"), "Freq")
  df
}

# ---- (a) raking ----
wts <- list()
t_rake <- system.time(for (c in countries) {
  s <- per_country[[c]]
  x <- svydesign(ids = ~1, strata = ~stratum, weights = ~base_weight, data = s)
  tot <- sum(s$base_weight)
  pops <- lapply(c("sex", "age_group", "education"), function(v) margin(c, v, tot))
  r <- rake(x, list(~sex_w, ~age_group_w, ~education_w), pops,
            control = list(maxit = 1000, epsilon = 1e-10, verbose = FALSE))
  w <- weights(r)
  wts[[c]] <- w * length(w) / sum(w)
})[["elapsed"]]

# fixed-weight designs for (b) and (c) (untimed: cheap, and the same for both)
des <- lapply(countries, function(c) {
  s <- per_country[[c]]
  s$weight <- wts[[c]]
  svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = s)
})
names(des) <- countries

# ---- (b) all items x all domains ----
items <- c("Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q4B", "Q4B_1", "Q5A", "Q6", "Q6A", "Q7", "Q8A", "Q8B", "Q8C", "Q8D", "Q8E")
doms <- c("sex_d", "age_group", "urb_d", "emp_d", "edu_d")
n_est <- 0
t_tab <- system.time(for (c in countries) {
  x <- des[[c]]
  for (it in items) {
    sub <- subset(x, !is.na(x$variables[[it]]))
    f <- as.formula(paste0("~factor(", it, ")"))
    m <- svymean(f, sub, deff = "replace")
    n_est <- n_est + length(coef(m))
    for (dm in doms) {
      b <- svyby(f, as.formula(paste0("~", dm)), sub, svymean, deff = "replace")
      n_est <- n_est + length(coef(b))
    }
  }
})[["elapsed"]]

# ---- (c) design-based logistic model ----
t_mod <- system.time(for (c in countries) {
  x <- des[[c]]
  v <- x$variables
  ok <- !is.na(v$y7) & !is.na(v$x1) & !is.na(v$x3a) & !is.na(v$x3b) & !is.na(v$x3c) &
    !is.na(v$sex_d) & !is.na(v$age_group) & !is.na(v$edu_d) & !is.na(v$urb_d) & !is.na(v$emp_d)
  sub <- subset(x, ok)
  m <- svyglm(y7 ~ x1 + x3a + x3b + x3c + sex_d + age_group + edu_d + urb_d + emp_d,
              design = sub, family = quasibinomial())
  invisible(vcov(m))
})[["elapsed"]]
message(sprintf("r_survey: %d countries, %d table estimates", length(countries), n_est))
cat(sprintf("%.3f %.3f %.3f %.3f\n", t_rake, t_tab, t_mod, t_read))
