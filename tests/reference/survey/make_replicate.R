# Fixtures for welfare_eval.survey replicate designs (JK1, JKn, BRR, Fay, bootstrap) and adjustments
# re-applied on each replicate. Run from this folder after make_api.R:
# Rscript make_replicate.R -> replicate.csv, replicate_boot_weights.csv, twostage_pairs.csv
suppressMessages(library(survey))
data(api)
options(survey.lonely.psu = "fail")
ts <- read.csv("twostage.csv")
pop <- apipop[!is.na(apipop$dnum), ]
rows <- list()
emit <- function(design, stat, term, domain, est, se) {
  rows[[length(rows) + 1]] <<- data.frame(design = design, stat = stat, term = term, domain = domain,
    estimate = as.numeric(est), se = as.numeric(se))
}
stats <- function(name, d, has_enroll = TRUE) {
  m <- svymean(~api00, d); emit(name, "mean", "api00", "", coef(m), SE(m))
  t <- svytotal(~api00, d); emit(name, "total", "api00", "", coef(t), SE(t))
  if (has_enroll) { t <- svytotal(~enroll, d); emit(name, "total", "enroll", "", coef(t), SE(t)) }
  b <- svyby(~api00, ~sch.wide, d, svymean)
  for (k in seq_len(nrow(b))) emit(name, "mean_by", "api00", as.character(b$sch.wide[k]), b$api00[k], SE(b)[k])
  r <- svyratio(~api00, ~api99, d); emit(name, "ratio", "api00/api99", "", coef(r), SE(r))
  g <- svyglm(api00 ~ ell + meals, d)
  for (k in seq_along(coef(g))) emit(name, "glm_gaussian", names(coef(g))[k], "", coef(g)[k], SE(g)[k])
}
ctl <- list(maxit = 1000, epsilon = 1e-13)
popstype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
popsw <- data.frame(sch.wide = c("No", "Yes"), Freq = as.vector(table(apipop$sch.wide)))
popst2 <- data.frame(stype = c("E", "H", "M"), Freq = as.vector(table(pop$stype)))
popsw2 <- data.frame(sch.wide = c("No", "Yes"), Freq = as.vector(table(pop$sch.wide)))

dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
dts <- svydesign(id = ~dnum + snum, strata = ~stratum, fpc = ~fpc1 + fpc2, weights = ~pw, data = ts)
for (mse in c(FALSE, TRUE)) {
  sfx <- if (mse) "_mse" else ""
  stats(paste0("clus1_jk1", sfx), as.svrepdesign(dclus1, type = "JK1", mse = mse))
  stats(paste0("strat_jkn", sfx), as.svrepdesign(dstrat, type = "JKn", mse = mse))
  stats(paste0("ts_jkn", sfx), suppressWarnings(as.svrepdesign(dts, type = "JKn", mse = mse)), FALSE)
}
# Woodruff quantiles on a replicate design (CDF variance from the replicates) and R's replicate df
jkq <- as.svrepdesign(dclus1, type = "JK1")
q <- svyquantile(~api00, jkq, c(0.25, 0.5))$api00
for (k in seq_len(nrow(q))) {
  emit("clus1_jk1", "quantile", paste0("q", rownames(q)[k]), "", q[k, 1], q[k, 4])
  emit("clus1_jk1", "quantile_ci_low", paste0("q", rownames(q)[k]), "", q[k, 2], NA)
  emit("clus1_jk1", "quantile_ci_high", paste0("q", rownames(q)[k]), "", q[k, 3], NA)
}
emit("clus1_jk1", "degf", "", "", degf(jkq), NA)
emit("clus1_jk1", "deff_mean", "api00", "", deff(svymean(~api00, jkq, deff = TRUE)), NA)
emit("clus1_jk1", "deff_total", "enroll", "", deff(svytotal(~enroll, jkq, deff = TRUE)), NA)
emit("strat_jkn", "degf", "", "", degf(as.svrepdesign(dstrat, type = "JKn")), NA)
# adjustments re-done on every replicate (R does this for svyrep designs)
jk1 <- as.svrepdesign(dclus1, type = "JK1")
stats("clus1_jk1_ps", postStratify(jk1, ~stype, popstype))
stats("clus1_jk1_rake", rake(jk1, list(~stype, ~sch.wide), list(popstype, popsw), control = ctl))
pop4 <- c(sum(popstype$Freq), 755, 1018, sum(apipop$api99))
stats("clus1_jk1_logit", calibrate(jk1, ~stype + api99, pop4, calfun = "logit", bounds = c(0.2, 3), epsilon = 1e-12, maxit = 200))
jkts <- suppressWarnings(as.svrepdesign(dts, type = "JKn"))
stats("ts_jkn_rake", rake(jkts, list(~stype, ~sch.wide), list(popst2, popsw2), control = ctl), FALSE)

# certainty PSUs in a JKn design: their households are the units of a stratum of their own, fpc = M_i
ts$psu_r <- ifelse(ts$cert, paste(ts$dnum, ts$snum), as.character(ts$dnum))
ts$fpc_r <- ifelse(ts$cert, ts$fpc2, ts$fpc1_r)
dcert <- svydesign(id = ~psu_r, strata = ~stratum_r, fpc = ~fpc_r, weights = ~pw, data = ts)
stats("ts_cert_jkn", as.svrepdesign(dcert, type = "JKn"), FALSE)

# pairs of PSUs for BRR / Fay
ts$pair <- paste(ts$stratum, (match(ts$dnum, unique(ts$dnum)) - 1) %/% 2)
write.csv(ts, "twostage_pairs.csv", row.names = FALSE)
dpairs <- svydesign(id = ~dnum, strata = ~pair, weights = ~pw, data = ts)
stats("pairs_taylor", dpairs, FALSE)
stats("pairs_brr", as.svrepdesign(dpairs, type = "BRR"), FALSE)
stats("pairs_fay", as.svrepdesign(dpairs, type = "Fay", fay.rho = 0.5), FALSE)

# bootstrap: R's random replicate weights are exported so that the variance formula can be checked
set.seed(7)
bs <- as.svrepdesign(dclus1, type = "subbootstrap", replicates = 50)
stats("clus1_subboot", bs)
stats("clus1_subboot_rake", rake(bs, list(~stype, ~sch.wide), list(popstype, popsw), control = ctl))
write.csv(weights(bs, "analysis"), "replicate_boot_weights.csv", row.names = FALSE)
write.csv(data.frame(scale = bs$scale), "replicate_boot_scale.csv", row.names = FALSE)
write.csv(do.call(rbind, rows), "replicate.csv", row.names = FALSE)
