# Makes reliability.json (and its input reliability_items.csv, icc_groups.csv) for tests/test_factors_scales.py.
# Run from this folder:  Rscript make_reliability.R        (psych 2.2.9, jsonlite)
# Independent reference for welfare_eval.factors.reliability / icc:
#   * psych::alpha            -> raw_alpha, std.alpha, Feldt CI (psych::alpha.ci), item.stats r.drop/raw.r/mean/sd,
#                                alpha.drop raw_alpha
#   * psych::fa(nfactors=1, fm="minres") loadings, and psych::omega(nfactors=1)$omega.tot
#     (= 1 - sum(u2) / sum(R), R the item correlation matrix, u2 the one-factor minres uniquenesses)
#   * psych::ICC on a balanced village x member matrix -> ICC1 (one-way, single) and ICC1k (one-way, average),
#     and one-way ANOVA mean squares (stats::aov) on an unbalanced design.
suppressMessages({library(psych); library(jsonlite)})
set.seed(20261125)
n <- 150; k <- 6
lambda <- c(0.8, 0.75, 0.7, 0.6, 0.5, 0.4)
eta <- rnorm(n)
cuts <- c(-1.6, -0.7, 0.2, 1.1)
items <- sapply(seq_len(k), function(j) {
  z <- lambda[j] * eta + sqrt(1 - lambda[j]^2) * rnorm(n)
  findInterval(z, cuts) + 1
})
colnames(items) <- paste0("q", seq_len(k))
items <- as.data.frame(items)
write.csv(items, "reliability_items.csv", row.names = FALSE)

a <- psych::alpha(items, check.keys = FALSE)
f <- psych::fa(items, nfactors = 1, fm = "minres")
o <- suppressWarnings(psych::omega(items, nfactors = 1, plot = FALSE))
L <- as.numeric(f$loadings[, 1]); R <- cor(items)

# ICC: balanced (24 villages x 5 members) and unbalanced designs
J <- 24; m <- 5
u <- rnorm(J, sd = 0.6)
bal <- t(sapply(seq_len(J), function(j) round(3.2 + u[j] + rnorm(m, sd = 0.8), 1)))
icc <- psych::ICC(bal, lmer = FALSE)
sizes <- c(3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 4, 5, 5, 6, 3, 8)
grp <- rep(seq_along(sizes), sizes)
v <- rnorm(length(sizes), sd = 0.5)[grp] + 3 + rnorm(length(grp), sd = 0.9)
unb <- data.frame(village = sprintf("v%02d", grp), member = sequence(sizes), score = round(v, 2))
long_bal <- data.frame(village = sprintf("b%02d", rep(seq_len(J), each = m)), member = rep(seq_len(m), J),
                       score = as.vector(t(bal)))
write.csv(rbind(cbind(design = "balanced", long_bal), cbind(design = "unbalanced", unb)),
          "icc_groups.csv", row.names = FALSE)
fit <- summary(aov(score ~ factor(village), data = unb))[[1]]
N <- nrow(unb); k0 <- (N - sum(sizes^2) / N) / (length(sizes) - 1)
msb <- fit[1, "Mean Sq"]; msw <- fit[2, "Mean Sq"]

out <- list(
  alpha = a$total$raw_alpha, std_alpha = a$total$std.alpha,
  feldt_lower = a$feldt$lower.ci[[1]], feldt_upper = a$feldt$upper.ci[[1]],
  item_r_drop = a$item.stats$r.drop, item_raw_r = a$item.stats$raw.r,
  item_mean = a$item.stats$mean, item_sd = a$item.stats$sd,
  alpha_if_dropped = a$alpha.drop$raw_alpha,
  minres_loadings = L, omega_tot = o$omega.tot,
  omega_model = sum(L)^2 / (sum(L)^2 + sum(1 - L^2)), sum_R = sum(R),
  icc_balanced_ICC1 = icc$results["Single_raters_absolute", "ICC"],
  icc_balanced_ICC1k = icc$results["Average_raters_absolute", "ICC"],
  icc_balanced_type = as.character(icc$results[c("Single_raters_absolute", "Average_raters_absolute"), "type"]),
  unbalanced_msb = msb, unbalanced_msw = msw, unbalanced_k0 = k0,
  unbalanced_icc1 = (msb - msw) / (msb + (k0 - 1) * msw), unbalanced_icc2 = (msb - msw) / msb,
  psych_version = as.character(packageVersion("psych"))
)
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reliability.json")
