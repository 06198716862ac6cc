#!/usr/bin/env Rscript
# End-to-end reference for replicate-weight variance (issue 10): R's
# svrepdesign on the file `swvr export` writes, against swvr's own tables,
# contrasts and odds ratios of the same run.
#
# The runs (from the repository root; the test
# `replicate_export_reproduces_swvr_errors_in_r` of crates/swvr-cli runs the
# same commands and compares its outputs with the files written here):
#
#   for set in jkn boot; do
#     swvr run --data fixtures --country KEN --country SEN --fieldwork off \
#       --scheme fixtures/reference/replicate_e2e/scheme_$set.toml \
#       --out /tmp/e2e_$set --export csv
#   done
#   Rscript scripts/r/replicate_e2e_reference.R /tmp/e2e_jkn /tmp/e2e_boot
#
# Input per set: OUT/export/weighted.csv only (the respondents' columns,
# age_group, weight, rep_1 ... rep_R). The replicate design is NOT read
# from swvr's metadata: it is rebuilt here from the documented rules
# (docs/weighting.md, "Replicate weights"), so that the Rust test can check
# swvr's replicates.arrow metadata against it:
# - JKn: scale 1, mse FALSE; a replicate column with zero weights deletes
#   those respondents, all of one stratum h; G_h = the number of columns
#   deleting in h (its respondents or random groups); rscale (G_h - 1)/G_h;
#   a column without zeros is a padding column (the full-sample weight of
#   a country with fewer replicates than the file): rscale 0 (checked to
#   equal the weight).
# - bootstrap: scale 1/(R - 1), rscales 1, mse FALSE, R the columns.
# Per country: des <- svrepdesign(data, repweights = rep_1 ... rep_R (all
# columns, padding included), weights = ~weight, type, scale, rscales, mse,
# combined.weights = TRUE), then replicate_table_rows,
# replicate_contrast_rows and replicate_model_rows of scripts/r/common.R.
# Writes fixtures/reference/replicate_e2e/{jkn,boot}_{design,tables,
# contrasts,model}_ref.csv.

source("scripts/r/common.R")
dir <- "fixtures/reference/replicate_e2e"
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: Rscript scripts/r/replicate_e2e_reference.R OUT_JKN OUT_BOOT")
outs <- c(jkn = args[1], boot = args[2])

# The design of one country's rows, from the replicate weights alone.
rebuild_design <- function(x, rw, type) {
  R <- ncol(rw)
  if (type == "bootstrap") {
    return(list(scale = 1 / (R - 1), rscales = rep(1, R), replicates = R))
  }
  zero_stratum <- sapply(seq_len(R), function(r) {
    h <- unique(x$stratum[rw[, r] == 0])
    if (length(h) > 1) stop(sprintf("replicate %d deletes respondents of %d strata", r, length(h)))
    if (length(h) == 0) {
      if (max(abs(rw[, r] - x$weight)) > 1e-12 * max(x$weight)) stop(sprintf("replicate %d: no zero and not the weight", r))
      return(NA_character_)
    }
    h
  })
  g <- table(zero_stratum)
  rscales <- ifelse(is.na(zero_stratum), 0, (g[zero_stratum] - 1) / g[zero_stratum])
  list(scale = 1, rscales = as.numeric(rscales), replicates = sum(!is.na(zero_stratum)))
}

set.seed(1)
for (set in names(outs)) {
  type <- if (set == "jkn") "JKn" else "bootstrap"
  raw <- read_tabulation_input(file.path(outs[[set]], "export", "weighted.csv"))
  inp <- add_model_variables(prepare_tabulation(raw)$d)
  rep_cols <- grep("^rep_[0-9]+$", names(inp), value = TRUE)
  rep_cols <- rep_cols[order(as.integer(sub("rep_", "", rep_cols)))]
  designs <- list(); tabs <- list(); cons <- list(); mods <- list()
  for (cc in unique(inp$country)) {
    x <- inp[inp$country == cc, ]
    rw <- as.matrix(x[, rep_cols])
    ds <- rebuild_design(x, rw, type)
    designs[[cc]] <- data.frame(country = cc, wave = x$wave[1], type = type, scale = fmt17(ds$scale),
                                mse = "FALSE", replicates = ds$replicates,
                                rscales = paste(fmt17(ds$rscales), collapse = " "))
    des <- svrepdesign(data = x, repweights = rw, weights = ~weight, type = type, scale = ds$scale,
                       rscales = ds$rscales, mse = FALSE, combined.weights = TRUE)
    tabs <- c(tabs, replicate_table_rows(des, cc))
    cons <- c(cons, replicate_contrast_rows(des, cc))
    mods <- c(mods, replicate_model_rows(des, cc))
  }
  for (what in c("design", "tables", "contrasts", "model")) {
    rows <- switch(what, design = designs, tables = tabs, contrasts = cons, model = mods)
    ref <- do.call(rbind, rows)
    write_reference(ref, file.path(dir, paste0(set, "_", what, "_ref.csv")))
    cat(set, what, ":", nrow(ref), "rows\n")
  }
}
cat("svyciprop checked on", checked_ciprop, "rows\n")
