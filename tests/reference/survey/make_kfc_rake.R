# Kalton & Flores-Cervantes (2003, J. Official Statistics 19(2)) raking example: sample counts on a 4x3 grid,
# raked to the population margins with R survey::rake (converged). Run: Rscript make_kfc_rake.R -> kfc_rake.csv
suppressMessages(library(survey))
# The 12 counts in ../shared/reference/README.md fill the 4 x 3 table column by column (R's matrix()
# order); this is the reading that reproduces the published raking factors (printed row by row there).
nmat <- matrix(c(20, 50, 100, 30, 40, 140, 50, 100, 40, 310, 50, 70), nrow = 4)
Nmat <- matrix(c(80, 60, 170, 55, 40, 150, 60, 165, 55, 340, 200, 125), nrow = 4)
cells <- expand.grid(a = c("a1", "a2", "a3", "a4"), b = c("b1", "b2", "b3"))
cells$n <- as.vector(nmat)
cells$N <- as.vector(Nmat)
# one row per sampled unit, weight 1
units <- cells[rep(seq_len(nrow(cells)), cells$n), c("a", "b")]
units$id <- seq_len(nrow(units))
d <- svydesign(id = ~id, weights = ~rep(1, nrow(units)), data = units)
popa <- aggregate(N ~ a, cells, sum); names(popa)[2] <- "Freq"
popb <- aggregate(N ~ b, cells, sum); names(popb)[2] <- "Freq"
r <- rake(d, list(~a, ~b), list(popa, popb), control = list(maxit = 1000, epsilon = 1e-13))
units$w <- weights(r)
fac <- aggregate(w ~ a + b, units, function(x) x[1])
out <- merge(cells, fac)
names(out)[names(out) == "w"] <- "factor"
write.csv(out[order(out$a, out$b), ], "kfc_rake.csv", row.names = FALSE)
