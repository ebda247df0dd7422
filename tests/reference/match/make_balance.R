# Fixture: balance statistics computed in plain R (base + sandwich) for welfare_eval.match.
# Run from this folder: Rscript make_balance.R -> balance_data.csv, balance_stats.csv, balance_tests.csv
suppressPackageStartupMessages(library(sandwich))
set.seed(4242)
n <- 90
d <- data.frame(id = sprintf("%08d", 11010100 + seq_len(n)), region = sample(1:9, n, replace = TRUE))
d$treat <- rbinom(n, 1, 0.4)
d$income <- round(rnorm(n, 80 + 6 * d$treat, 15), 3)
d$farm <- rbinom(n, 1, 0.5 + 0.15 * d$treat)
d$members <- rpois(n, 40 + 5 * d$treat)         # ties -> KS on a discrete support
d$w <- round(runif(n, 0.5, 3), 3)
write.csv(d, "balance_data.csv", row.names = FALSE)
covs <- c("income", "farm", "members")

# --- descriptive balance, unweighted with base R functions, weighted with explicit formulas ------
wmean <- function(x, w) sum(w * x) / sum(w)
wvar <- function(x, w) { v <- w / sum(w); m <- sum(v * x); sum(v * (x - m)^2) / (1 - sum(v^2)) }
wecdf <- function(x, w, a) sum(w[x <= a]) / sum(w)
wks <- function(xt, wt, xc, wc) {
  a <- sort(unique(c(xt, xc)))
  max(abs(sapply(a, wecdf, x = xt, w = wt) - sapply(a, wecdf, x = xc, w = wc)))
}
rows <- NULL
for (weighted in c(FALSE, TRUE)) for (v in covs) {
  xt <- d[[v]][d$treat == 1]; xc <- d[[v]][d$treat == 0]
  if (!weighted) {
    mt <- mean(xt); mc <- mean(xc); vt <- var(xt); vc <- var(xc)
    ks <- unname(suppressWarnings(ks.test(xt, xc)$statistic))
  } else {
    wt <- d$w[d$treat == 1]; wc <- d$w[d$treat == 0]
    mt <- wmean(xt, wt); mc <- wmean(xc, wc); vt <- wvar(xt, wt); vc <- wvar(xc, wc)
    ks <- wks(xt, wt, xc, wc)
  }
  rows <- rbind(rows, data.frame(weighted = weighted, covariate = v, mean_treated = mt, mean_control = mc,
                                 sd_treated = sqrt(vt), sd_control = sqrt(vc),
                                 smd = (mt - mc) / sqrt((vt + vc) / 2), variance_ratio = vt / vc, ks = ks))
}
write.csv(rows, "balance_stats.csv", row.names = FALSE)

# --- iebaltab-style regressions ------------------------------------------------------------------
out <- NULL
specs <- list(
  list(name = "ols", w = NULL, fe = FALSE, vce = "ols"),
  list(name = "hc1_weighted", w = "w", fe = FALSE, vce = "hc1"),
  list(name = "cluster_region", w = NULL, fe = FALSE, vce = "cluster"),
  list(name = "cluster_region_fe_weighted", w = "w", fe = TRUE, vce = "cluster"),
  list(name = "ols_fe", w = NULL, fe = TRUE, vce = "ols")
)
vc_of <- function(fit, vce) switch(vce, ols = vcov(fit), hc1 = vcovHC(fit, type = "HC1"),
                                   cluster = vcovCL(fit, cluster = ~region, type = "HC1"))
G <- length(unique(d$region))
for (s in specs) {
  wts <- if (is.null(s$w)) rep(1, n) else d[[s$w]]
  for (v in c(covs, ".joint")) {
    if (v == ".joint") {
      f <- if (s$fe) treat ~ income + farm + members + factor(region) else treat ~ income + farm + members
      fit <- lm(f, data = d, weights = wts)
      b <- coef(fit)[covs]; V <- vc_of(fit, s$vce)[covs, covs]
      Fst <- drop(t(b) %*% solve(V, b)) / length(covs)
      df2 <- if (s$vce == "cluster") G - 1 else fit$df.residual
      out <- rbind(out, data.frame(spec = s$name, covariate = v, diff = Fst, se_diff = NA, df = df2,
                                   p_value = pf(Fst, length(covs), df2, lower.tail = FALSE)))
      if (s$vce == "ols") stopifnot(abs(Fst - summary(lm(treat ~ income + farm + members, data = d, weights = wts))$fstatistic[1]) < 1e-8 || s$fe)
    } else {
      f <- as.formula(paste(v, if (s$fe) "~ treat + factor(region)" else "~ treat"))
      fit <- lm(f, data = d, weights = wts)
      se <- sqrt(vc_of(fit, s$vce)["treat", "treat"])
      df <- if (s$vce == "cluster") G - 1 else fit$df.residual
      tt <- coef(fit)["treat"] / se
      out <- rbind(out, data.frame(spec = s$name, covariate = v, diff = unname(coef(fit)["treat"]), se_diff = se,
                                   df = df, p_value = unname(2 * pt(abs(tt), df, lower.tail = FALSE))))
    }
  }
}
write.csv(out, "balance_tests.csv", row.names = FALSE)
cat("sandwich", as.character(packageVersion("sandwich")), "\n")
