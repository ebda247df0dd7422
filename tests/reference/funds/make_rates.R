# Survey rates of the funds step by R's survey package: for each arm x head's-age band x welfare type, the
# weighted share of households that received the type, svymean on a domain (subset) of the design with
# villages as PSUs (with replacement) and weights w. Bands: lower bounds 20, 40, 50, 60, 70 (the last open;
# ages below 20 join the first band), as in the packaged analysis plan.
# Usage: Rscript tests/reference/funds/make_rates.R   (reads rates_sample.csv, writes rates.csv)
suppressPackageStartupMessages(library(survey))
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
d <- read.csv(file.path(here, "rates_sample.csv"), colClasses = c(village_id = "character"))
d <- d[!is.na(d$head_age), ]
bands <- c(20, 40, 50, 60, 70)
idx <- findInterval(d$head_age, bands)
d$band <- bands[pmax(idx, 1)]
types <- c("childbirth", "illness", "elderly", "death", "disadvantaged", "occupation", "education", "disaster", "other")
des <- svydesign(ids = ~village_id, weights = ~w, data = d)
rows <- list()
for (a in sort(unique(d$arm))) for (b in bands) for (k in types) {
  sub <- subset(des, arm == a & band == b)
  f <- as.formula(paste0("~received_", k))
  m <- svymean(f, sub, na.rm = TRUE)
  rows[[length(rows) + 1]] <- data.frame(arm = a, welfare_type = k, age = b, rate = unname(coef(m)),
                                         std_error = unname(SE(m)))
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "rates.csv"), row.names = FALSE)
