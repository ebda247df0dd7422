# Makes cr2.json and its input cr2_data.csv for tests/test_factors_models.py.
# Run from this folder:  Rscript make_cr2.R        (clubSandwich, jsonlite)
# OLS y ~ x1 + x2 on 36 villages in 18 pairs; clubSandwich::coef_test with CR2 and Satterthwaite df,
# clustered on pair and (HC2 analogue) on village.
suppressMessages({library(clubSandwich); library(jsonlite)})
set.seed(11)
n <- 36
pair <- rep(1:18, each = 2)
u <- rnorm(18)[pair]
x1 <- rnorm(n) + 0.5 * u
x2 <- rexp(n)
y <- 1 + 0.4 * x1 - 0.3 * x2 + u + rnorm(n) * (1 + abs(x1))
d <- data.frame(village = 1:n, pair = pair, y = round(y, 6), x1 = round(x1, 6), x2 = round(x2, 6))
write.csv(d, "cr2_data.csv", row.names = FALSE)
fit <- lm(y ~ x1 + x2, data = d)
ct_pair <- coef_test(fit, vcov = "CR2", cluster = d$pair, test = "Satterthwaite")
ct_vill <- coef_test(fit, vcov = "CR2", cluster = d$village, test = "Satterthwaite")
fit1 <- lm(y ~ x1, data = d)
ct1 <- coef_test(fit1, vcov = "CR2", cluster = d$pair, test = "Satterthwaite")
out <- list(
  pair = list(beta = ct_pair$beta, se = ct_pair$SE, df = ct_pair$df_Satt, p = ct_pair$p_Satt),
  village = list(beta = ct_vill$beta, se = ct_vill$SE, df = ct_vill$df_Satt, p = ct_vill$p_Satt),
  bivariate_pair = list(beta = ct1$beta, se = ct1$SE, df = ct1$df_Satt, p = ct1$p_Satt),
  clubSandwich_version = as.character(packageVersion("clubSandwich"))
)
write(toJSON(out, digits = NA, pretty = TRUE), "cr2.json")
