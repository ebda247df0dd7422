# Reference intra-cluster correlations and nested variance components for tests/test_power_parameters.py.
# Writes the data it uses (icc_data.csv) and the results (icc.json).
# Run: Rscript tests/reference/power/make_icc.R   (from the repository root)
#
# 1. balanced one-way data (12 clusters x 6): psych::ICC's ICC1 (one-way random effects, single rater) with its
#    F-based interval is the ANOVA ICC (MSB - MSW) / (MSB + (k - 1) MSW);
# 2. unbalanced one-way data (15 clusters of 2..11): the ANOVA table from lm() and the unbalanced formulas
#    sigma2_B = (MSB - MSW) / n0, n0 = (N - sum(n_j^2) / N) / (J - 1), F interval (Searle 1971), computed in R;
# 3. balanced nested data (10 pairs x 2 villages x 6 households): lme4::lmer REML variance components of
#    (1 | pair / village), equal to the nested ANOVA estimates when all are positive (to the optimizer's
#    tolerance, ~1e-5), and the nested ANOVA itself from the sequential sums of squares of
#    lm(y ~ pair + village): sigma2_pair = (MS_pair - MS_village) / (2 H), sigma2_village = (MS_village - MS_e) / H.
suppressPackageStartupMessages({library(psych); library(lme4); library(jsonlite)})
set.seed(20250601)
# 1. balanced one-way
J <- 12; k <- 6
u <- rnorm(J, 0, 0.6)
b <- data.frame(cluster = rep(sprintf("c%02d", 1:J), each = k))
b$y <- 10 + rep(u, each = k) + rnorm(J * k, 0, 1)
wide <- matrix(b$y, nrow = J, byrow = TRUE)
ic <- psych::ICC(wide, alpha = 0.05, lmer = FALSE)$results
icc1 <- ic[ic$type == "ICC1", ]
# 2. unbalanced one-way
sizes <- c(2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9, 9, 10, 11, 11)
J2 <- length(sizes)
u2 <- rnorm(J2, 0, 0.5)
ub <- data.frame(cluster = rep(sprintf("u%02d", 1:J2), times = sizes))
ub$y <- 50 + rep(u2, times = sizes) + rnorm(sum(sizes), 0, 1.3)
tab <- anova(lm(y ~ factor(cluster), data = ub))
msb <- tab[1, "Mean Sq"]; msw <- tab[2, "Mean Sq"]; dfb <- tab[1, "Df"]; dfw <- tab[2, "Df"]
N <- sum(sizes)
n0 <- (N - sum(sizes^2) / N) / (J2 - 1)
sb <- (msb - msw) / n0
F <- msb / msw
FL <- F / qf(0.975, dfb, dfw); FU <- F * qf(0.975, dfw, dfb)
# 3. balanced nested: pairs / villages / households
P <- 10; H <- 6
pe <- rnorm(P, 0, 0.7)
nd <- expand.grid(h = 1:H, arm = 0:1, pair = 1:P)
nd$village <- paste0(nd$pair, "_", nd$arm)
ve <- rnorm(P * 2, 0, 0.5); names(ve) <- unique(nd$village)
nd$y <- pe[nd$pair] + ve[nd$village] + rnorm(nrow(nd), 0, 1)
fit <- lmer(y ~ 1 + (1 | pair / village), data = nd, REML = TRUE)
vc <- as.data.frame(VarCorr(fit))
s_v <- vc$vcov[vc$grp == "village:pair"]; s_p <- vc$vcov[vc$grp == "pair"]; s_e <- vc$vcov[vc$grp == "Residual"]
aov_n <- anova(lm(y ~ factor(pair) + factor(village), data = nd))
ms <- aov_n[, "Mean Sq"]
a_p <- (ms[1] - ms[2]) / (2 * H); a_v <- (ms[2] - ms[3]) / H; a_e <- ms[3]
data <- rbind(data.frame(set = "balanced", cluster = b$cluster, pair = NA, y = b$y),
              data.frame(set = "unbalanced", cluster = ub$cluster, pair = NA, y = ub$y),
              data.frame(set = "nested", cluster = nd$village, pair = nd$pair, y = nd$y))
write.csv(data, "tests/reference/power/icc_data.csv", row.names = FALSE)
res <- list(
  R = R.version.string, psych = as.character(packageVersion("psych")), lme4 = as.character(packageVersion("lme4")),
  balanced = list(icc = icc1$ICC, lower = icc1$`lower bound`, upper = icc1$`upper bound`, F = icc1$F,
                  df1 = icc1$df1, df2 = icc1$df2, p = icc1$p),
  unbalanced = list(msb = msb, msw = msw, dfb = dfb, dfw = dfw, n0 = n0, sigma2_between = sb,
                    icc = sb / (sb + msw), lower = (FL - 1) / (FL + n0 - 1), upper = (FU - 1) / (FU + n0 - 1)),
  nested = list(sigma2_pair = s_p, sigma2_village = s_v, sigma2_within = s_e,
                icc_pair = s_p / (s_p + s_v + s_e), pair_correlation = s_p / (s_p + s_v),
                singular = isSingular(fit)),
  nested_anova = list(sigma2_pair = a_p, sigma2_village = a_v, sigma2_within = a_e,
                      icc_pair = a_p / (a_p + a_v + a_e), pair_correlation = a_p / (a_p + a_v))
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/power/icc.json")
cat("ok\n")
