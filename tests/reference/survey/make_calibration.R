# Fixtures for welfare_eval.survey weighting: postStratify, rake, calibrate (linear, raking, logit,
# truncated linear), trimWeights, and their variance, on apiclus1 and the two-stage sample of make_api.R.
# Run from this folder after make_api.R: Rscript make_calibration.R -> calibration.csv, calibration_weights.csv,
# calibration_population.csv
suppressMessages(library(survey))
data(api)
options(survey.lonely.psu = "fail")
ts <- read.csv("twostage.csv")
pop <- apipop[!is.na(apipop$dnum), ]
ctl <- list(maxit = 1000, epsilon = 1e-13)

rows <- list()
weights_out <- list()
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
}
popstype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
popsw <- data.frame(sch.wide = c("No", "Yes"), Freq = as.vector(table(apipop$sch.wide)))
popsw2 <- data.frame(sch.wide = c("No", "Yes"), Freq = as.vector(table(pop$sch.wide)))
popst2 <- data.frame(stype = c("E", "H", "M"), Freq = as.vector(table(pop$stype)))
write.csv(rbind(data.frame(population = "apipop", margin = "stype", level = popstype$stype, count = popstype$Freq),
                data.frame(population = "apipop", margin = "sch.wide", level = popsw$sch.wide, count = popsw$Freq),
                data.frame(population = "apipop_dnum", margin = "stype", level = popst2$stype, count = popst2$Freq),
                data.frame(population = "apipop_dnum", margin = "sch.wide", level = popsw2$sch.wide, count = popsw2$Freq),
                data.frame(population = "apipop", margin = "api99", level = "total", count = sum(apipop$api99))),
          "calibration_population.csv", row.names = FALSE)

dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
dts <- svydesign(id = ~dnum + snum, strata = ~stratum, fpc = ~fpc1 + fpc2, weights = ~pw, data = ts)

ps <- postStratify(dclus1, ~stype, popstype)
stats("clus1_ps", ps); weights_out$clus1_ps <- weights(ps)
rk <- rake(dclus1, list(~stype, ~sch.wide), list(popstype, popsw), control = ctl)
stats("clus1_rake_ipf", rk); weights_out$clus1_rake <- weights(rk)
N <- sum(popstype$Freq)
calpop <- c(N, popstype$Freq[2:3], popsw$Freq[2])
ck <- calibrate(dclus1, ~stype + sch.wide, calpop, calfun = "raking", epsilon = 1e-12, maxit = 200)
stats("clus1_cal_raking", ck); weights_out$clus1_cal_raking <- weights(ck)
pop4 <- c(N, 755, 1018, sum(apipop$api99))
cl <- calibrate(dclus1, ~stype + api99, pop4)
stats("clus1_cal_linear", cl); weights_out$clus1_cal_linear <- weights(cl)
cg <- calibrate(dclus1, ~stype + api99, pop4, calfun = "logit", bounds = c(0.4, 1.9), epsilon = 1e-12, maxit = 200)
stats("clus1_cal_logit", cg); weights_out$clus1_cal_logit <- weights(cg)
ct <- calibrate(dclus1, ~stype + api99, pop4, calfun = "linear", bounds = c(0.45, 1.8), epsilon = 1e-12, maxit = 200)
stats("clus1_cal_truncated", ct); weights_out$clus1_cal_truncated <- weights(ct)
# post-stratification then calibration (chained steps)
pc <- calibrate(ps, ~api99, c(N, sum(apipop$api99)), calfun = "linear")
stats("clus1_ps_then_cal", pc); weights_out$clus1_ps_then_cal <- weights(pc)
# the same with the linearisation steps taken last-to-first (the chain rule; welfare_eval's default)
pc_rev <- pc
pc_rev$postStrata <- rev(pc$postStrata)
stats("clus1_ps_then_cal_rev", pc_rev)

# two-stage design with fpc at both stages
rk2 <- rake(dts, list(~stype, ~sch.wide), list(popst2, popsw2), control = ctl)
stats("ts_rake_ipf", rk2, FALSE)
N2 <- nrow(pop)
ck2 <- calibrate(dts, ~stype + sch.wide, c(N2, popst2$Freq[2:3], popsw2$Freq[2]), calfun = "raking", epsilon = 1e-12, maxit = 200)
stats("ts_cal_raking", ck2, FALSE)
cg2 <- calibrate(dts, ~stype + sch.wide, c(N2, popst2$Freq[2:3], popsw2$Freq[2]), calfun = "logit", bounds = c(0.5, 2.5),
  epsilon = 1e-12, maxit = 200)
stats("ts_cal_logit", cg2, FALSE)
tw <- trimWeights(dts, upper = 150, lower = 50)
stats("ts_trim", tw, FALSE)
tws <- trimWeights(dts, upper = 150, lower = 50, strict = TRUE)
stats("ts_trim_strict", tws, FALSE)
write.csv(do.call(rbind, rows), "calibration.csv", row.names = FALSE)
write.csv(as.data.frame(weights_out), "calibration_weights.csv", row.names = FALSE)
write.csv(data.frame(rake = weights(rk2), cal_logit = weights(cg2), trim = weights(tw), trim_strict = weights(tws)),
  "calibration_weights_ts.csv", row.names = FALSE)
