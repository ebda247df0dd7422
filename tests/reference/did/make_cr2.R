# Reference CR2 / CR3 results from R clubSandwich for tests/test_did_cr2.py.
# Input: cr2_panel.csv (written by welfare_eval.did._testing.matched_pair_panel(pairs=8, households=3,
# effect=0.4, seed=21) with D = treated * post). Output: cr2.json.
# Run: Rscript tests/reference/did/make_cr2.R   (from the repository root)
suppressPackageStartupMessages({library(clubSandwich); library(jsonlite)})
d <- read.csv("tests/reference/did/cr2_panel.csv", stringsAsFactors = FALSE)
d$pw <- paste(d$pair_id, d$wave, sep = "x")
out <- list(R = R.version.string, clubSandwich = as.character(packageVersion("clubSandwich")))
one <- function(fit, cl, name) {
  ct <- coef_test(fit, vcov = "CR2", cluster = cl, test = "Satterthwaite", coefs = "D")
  c3 <- tryCatch(coef_test(fit, vcov = "CR3", cluster = cl, test = "naive-t", coefs = "D"),
                 error = function(e) list(SE = NA))  # singular I - H_gg with nested dummies
  out[[name]] <<- list(estimate = unname(coef(fit)["D"]), se_cr2 = ct$SE, df_cr2 = ct$df_Satt,
                       p_cr2 = ct$p_Satt, se_cr3 = c3$SE)
}
# matched pairs, unit (village) + pair x wave dummies, unweighted and weighted
f1 <- lm(y ~ D + x1 + factor(village_id) + factor(pw), data = d)
one(f1, d$pair_id, "pairs_village")
f2 <- lm(y ~ D + x1 + factor(village_id) + factor(pw), data = d, weights = weight)
one(f2, d$pair_id, "pairs_village_weighted")
# household fixed effects
f3 <- lm(y ~ D + x1 + factor(hh_id) + factor(pw), data = d, weights = weight)
one(f3, d$pair_id, "pairs_household_weighted")
# fixed effects not nested in the clusters: village + wave dummies, clustered by pair
f4 <- lm(y ~ D + x1 + factor(village_id) + factor(wave), data = d, weights = weight)
one(f4, d$pair_id, "twfe_not_nested_weighted")
# classic 2x2 without fixed effects, clustered by pair
f5 <- lm(y ~ treated + post + D + x1, data = d, weights = weight)
one(f5, d$pair_id, "twobytwo_weighted")
f6 <- lm(y ~ treated + post + D, data = d)
one(f6, d$pair_id, "twobytwo")
# joint tests (HTZ Wald) of the two by-wave effects, and x1 added (3 constraints)
d$Dmid <- d$treated * (d$wave == "midline")
d$Dend <- d$treated * (d$wave == "endline")
htz <- function(fit, cl, coefs, name) {
  wt <- Wald_test(fit, constraints = constrain_zero(coefs), vcov = "CR2", cluster = cl, test = "HTZ")
  ct <- coef_test(fit, vcov = "CR2", cluster = cl, test = "Satterthwaite", coefs = coefs)
  out[[name]] <<- list(coefs = coefs, estimate = unname(coef(fit)[coefs]), se_cr2 = ct$SE,
                       df_cr2 = ct$df_Satt, Fstat = wt$Fstat, df_num = wt$df_num, df_denom = wt$df_denom,
                       p_val = wt$p_val)
}
g1 <- lm(y ~ Dmid + Dend + x1 + factor(village_id) + factor(pw), data = d, weights = weight)
htz(g1, d$pair_id, c("Dmid", "Dend"), "htz_pairs_weighted")
htz(g1, d$pair_id, c("Dmid", "Dend", "x1"), "htz3_pairs_weighted")
g2 <- lm(y ~ Dmid + Dend + x1 + factor(village_id) + factor(wave), data = d)
htz(g2, d$pair_id, c("Dmid", "Dend"), "htz_not_nested")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/did/cr2.json")
