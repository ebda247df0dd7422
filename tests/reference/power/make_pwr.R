# Reference power / sample size / effect size of the two-sample t test from R pwr, for
# tests/test_power_analytic.py. Output: pwr.csv (one row per case).
# Run: Rscript tests/reference/power/make_pwr.R   (from the repository root)
#
# pwr.t.test / pwr.t2n.test compute power with the noncentral t (nu = n1 + n2 - 2, ncp = d / sqrt(1/n1 + 1/n2)).
# pwr solves for n and d with uniroot at its default tolerance (~1.2e-4), too coarse for a 1e-6 comparison, so
# the solved n and d are also recomputed here with pwr's own power function inside uniroot(tol = 1e-13)
# (columns n_tight, d_tight); pwr's own answers are kept in n_pwr, d_pwr.
suppressPackageStartupMessages(library(pwr))
out <- list()
add <- function(...) out[[length(out) + 1]] <<- data.frame(..., stringsAsFactors = FALSE)
alts <- c("two.sided", "greater")
# 1. power for given n (per group), d, alpha
for (alt in alts) for (a in c(0.05, 0.01)) for (n in c(5, 10, 20, 64, 200)) for (d in c(0.2, 0.5, 0.8)) {
  p <- pwr.t.test(n = n, d = d, sig.level = a, type = "two.sample", alternative = alt)$power
  add(case = "power", alternative = alt, alpha = a, n1 = n, n2 = n, d = d, power = p,
      n_pwr = NA, n_tight = NA, d_pwr = NA, d_tight = NA)
}
# 2. power with unequal groups
for (alt in alts) for (nn in list(c(10, 30), c(50, 25), c(7, 3))) for (d in c(0.3, 0.9)) {
  p <- pwr.t2n.test(n1 = nn[1], n2 = nn[2], d = d, sig.level = 0.05, alternative = alt)$power
  add(case = "power_t2n", alternative = alt, alpha = 0.05, n1 = nn[1], n2 = nn[2], d = d, power = p,
      n_pwr = NA, n_tight = NA, d_pwr = NA, d_tight = NA)
}
# 3. n per group for given d and power
for (alt in alts) for (d in c(0.3, 0.5, 0.8)) for (pw in c(0.8, 0.9)) {
  n_pwr <- pwr.t.test(d = d, power = pw, sig.level = 0.05, alternative = alt)$n
  n_tight <- uniroot(function(n) pwr.t.test(n = n, d = d, sig.level = 0.05, alternative = alt)$power - pw,
                     c(2 + 1e-10, 1e9), tol = 1e-13)$root
  add(case = "n", alternative = alt, alpha = 0.05, n1 = NA, n2 = NA, d = d, power = pw,
      n_pwr = n_pwr, n_tight = n_tight, d_pwr = NA, d_tight = NA)
}
# 4. d for given n per group and power
for (alt in alts) for (n in c(12, 30, 100)) for (pw in c(0.8, 0.9)) {
  d_pwr <- pwr.t.test(n = n, power = pw, sig.level = 0.05, alternative = alt)$d
  d_tight <- uniroot(function(d) pwr.t.test(n = n, d = d, sig.level = 0.05, alternative = alt)$power - pw,
                     c(1e-7, 10), tol = 1e-13)$root
  add(case = "d", alternative = alt, alpha = 0.05, n1 = n, n2 = n, d = NA, power = pw,
      n_pwr = NA, n_tight = NA, d_pwr = d_pwr, d_tight = d_tight)
}
res <- do.call(rbind, out)
res$pwr_version <- as.character(packageVersion("pwr"))
write.csv(res, "tests/reference/power/pwr.csv", row.names = FALSE)
cat("wrote", nrow(res), "cases\n")
