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
