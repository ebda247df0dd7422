# Makes efa.json and its input efa_items.csv for tests/test_factors_efa.py.
# Run from this folder:  Rscript make_efa.R        (psych 2.2.9, GPArotation, jsonlite)
# Two correlated factors (r = 0.3), 5 items each, n = 300 continuous-ish Likert sums.
#   * psych::KMO(R)            -> overall MSA and item MSAi
#   * psych::cortest.bartlett  -> chi-square, df, p
#   * psych::fa(nfactors = 2, fm = "minres", rotate = "oblimin") -> loadings, Phi, communalities
suppressMessages({library(psych); library(GPArotation); library(jsonlite)})
set.seed(7)
n <- 300
f <- MASS::mvrnorm(n, c(0, 0), matrix(c(1, 0.3, 0.3, 1), 2))
lam <- c(0.8, 0.7, 0.7, 0.6, 0.5)
items <- cbind(sapply(lam, function(l) l * f[, 1] + sqrt(1 - l^2) * rnorm(n)),
               sapply(rev(lam), function(l) l * f[, 2] + sqrt(1 - l^2) * rnorm(n)))
items <- round(items, 3)
colnames(items) <- c(paste0("a", 1:5), paste0("b", 1:5))
write.csv(items, "efa_items.csv", row.names = FALSE)
R <- cor(items)
k <- psych::KMO(R)
b <- psych::cortest.bartlett(R, n = n)
fa2 <- psych::fa(items, nfactors = 2, fm = "minres", rotate = "oblimin")
L <- unclass(fa2$loadings)
out <- list(kmo = k$MSA, kmo_items = as.numeric(k$MSAi), bartlett_chisq = b$chisq, bartlett_df = b$df,
            bartlett_p = b$p.value, loadings = L, phi = fa2$Phi, communality = as.numeric(fa2$communality),
            eigen = eigen(R)$values, psych_version = as.character(packageVersion("psych")))
write(toJSON(out, digits = NA, pretty = TRUE), "efa.json")
