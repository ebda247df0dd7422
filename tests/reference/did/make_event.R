# Reference event-study results (lm with dummies + clubSandwich 0.5.8) for tests/test_did_event.py.
# Input: event_panel.csv = welfare_eval.did._testing.savings_group_panel(pairs=8, groups=2,
# years=(2016, 2023), start=2020, effect=0.4, pretrend=0.05, seed=5) with 15% of rows dropped at random
# (numpy default_rng(6), rows kept where uniform > 0.15: an unbalanced panel). Output: event.json.
# Event window [-3, 2], reference -1, end points binned; never-treated groups have all dummies 0.
# Run: Rscript tests/reference/did/make_event.R   (from the repository root)
suppressPackageStartupMessages({library(clubSandwich); library(jsonlite)})
d <- read.csv("tests/reference/did/event_panel.csv", stringsAsFactors = FALSE)
rel <- pmin(pmax(d$year - d$start, -3), 2)
ks <- c(-3, -2, 0, 1, 2)
nm <- c("km3", "km2", "k0", "k1", "k2")
for (i in seq_along(ks)) d[[nm[i]]] <- ifelse(is.na(rel), 0, as.numeric(rel == ks[i]))
d$py <- paste(d$pair_id, d$year)
res <- list(R = R.version.string, clubSandwich = as.character(packageVersion("clubSandwich")))
one <- function(fit, name) {
  ct <- coef_test(fit, vcov = "CR2", cluster = d$pair_id, test = "Satterthwaite", coefs = nm)
  c1 <- coef_test(fit, vcov = "CR1S", cluster = d$pair_id, test = "naive-t", coefs = nm)
  wt <- Wald_test(fit, constraints = constrain_zero(c("km3", "km2")), vcov = "CR2", cluster = d$pair_id,
                  test = "HTZ")
  res[[name]] <<- list(estimate = unname(coef(fit)[nm]), se_cr2 = ct$SE, df_cr2 = ct$df_Satt,
                       se_cr1s = c1$SE, pre_F = wt$Fstat, pre_df_denom = wt$df_denom, pre_p = wt$p_val)
}
one(lm(savings ~ km3 + km2 + k0 + k1 + k2 + factor(group_id) + factor(py), data = d), "pair_year")
one(lm(savings ~ km3 + km2 + k0 + k1 + k2 + factor(group_id) + factor(year), data = d), "year")
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/did/event.json")
