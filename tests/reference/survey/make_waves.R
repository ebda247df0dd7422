# Fixture for welfare_eval.survey.change: change in a mean between two waves observed in the same PSUs
# (villages), with the covariance between waves. Seeded synthetic panel; run: Rscript make_waves.R
# -> waves_data.csv, waves.csv
suppressMessages(library(survey))
set.seed(515)
H <- 6; per <- 4; m <- 5
v <- data.frame(region = rep(1:H, each = per), village = 1:(H * per))
v$u <- rnorm(nrow(v), 0, 3)
v$N_h <- 20
hh <- v[rep(seq_len(nrow(v)), each = m), ]
hh$hh <- seq_len(nrow(hh))
hh$e <- rnorm(nrow(hh), 0, 2)
hh$M_i <- 40
mk <- function(w, shift) {
  d <- hh
  d$wave <- w
  d$y <- 50 + d$u + d$e + shift + rnorm(nrow(d), 0, 1)
  d$arm <- ifelse(d$village %% 2 == 0, "pilot", "comparison")
  d$wt <- (d$N_h / per) * (d$M_i / m) * runif(nrow(d), 0.8, 1.25)
  d
}
dat <- rbind(mk("baseline", 0), mk("endline", 2))
dat <- dat[, c("region", "village", "hh", "wave", "arm", "y", "wt", "N_h", "M_i")]
write.csv(dat, "waves_data.csv", row.names = FALSE)
d <- svydesign(id = ~village, strata = ~region, weights = ~wt, fpc = ~N_h, data = dat)
rows <- list()
b <- svyby(~y, ~wave, d, svymean, covmat = TRUE)
ch <- svycontrast(b, c(-1, 1))
rows[[1]] <- data.frame(domain = "all", estimate = as.numeric(coef(ch)), se = as.numeric(SE(ch)), cov = vcov(b)[1, 2])
b2 <- svyby(~y, ~wave + arm, d, svymean, covmat = TRUE)
for (a in c("comparison", "pilot")) {
  cc <- as.numeric(b2$arm == a) * ifelse(b2$wave == "endline", 1, -1)
  ch <- svycontrast(b2, cc)
  i <- which(b2$arm == a & b2$wave == "baseline"); j <- which(b2$arm == a & b2$wave == "endline")
  rows[[length(rows) + 1]] <- data.frame(domain = a, estimate = as.numeric(coef(ch)), se = as.numeric(SE(ch)), cov = vcov(b2)[i, j])
}
# difference in differences of the means (pilot change minus comparison change)
cc <- ifelse(b2$arm == "pilot", 1, -1) * ifelse(b2$wave == "endline", 1, -1)
ch <- svycontrast(b2, cc)
rows[[length(rows) + 1]] <- data.frame(domain = "did", estimate = as.numeric(coef(ch)), se = as.numeric(SE(ch)), cov = NA)
write.csv(do.call(rbind, rows), "waves.csv", row.names = FALSE)
