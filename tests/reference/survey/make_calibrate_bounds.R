# Fixtures for bounded calibration in welfare_eval.survey.calibrate (issue 15 §8): calfun "raking" with
# bounds (R truncates g = clip(exp(x'eta), L, U) inside grake's Newton iteration), bounds.const = TRUE
# (bounds on the final weights), trim = (g trimmed after calibration, the excess spread over the other
# units), the rescaling grake does when the weights are far below the population totals, and designs on
# which R's bounded calibration fails ("Calibration failed").
# Run from this folder after make_api.R (R 4.2, survey 4.1.1):
#   Rscript make_calibrate_bounds.R -> calibration_bounds.csv, calibration_bounds_weights.csv
suppressMessages(library(survey))
data(api)
options(survey.lonely.psu = "fail")
ts <- read.csv("twostage.csv")
pop <- apipop[!is.na(apipop$dnum), ]
apiclus1$one <- 1

dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
uclus1 <- svydesign(id = ~dnum, weights = ~one, fpc = ~fpc, data = apiclus1)
dts <- svydesign(id = ~dnum + snum, strata = ~stratum, fpc = ~fpc1 + fpc2, weights = ~pw, data = ts)

N <- nrow(apipop)
pop_sa <- c(N, 755, 1018, sum(apipop$api99))                                          # ~ stype + api99
pop_swa <- c(N, 755, 1018, sum(apipop$sch.wide == "Yes"), sum(apipop$api99))          # ~ stype + sch.wide + api99
pop_ts <- c(nrow(pop), sum(pop$stype == "H"), sum(pop$stype == "M"), sum(pop$sch.wide == "Yes"), sum(pop$api99))

rows <- list()
wts <- list()
emit <- function(case, stat, term, domain, est, se) {
  rows[[length(rows) + 1]] <<- data.frame(case = case, stat = stat, term = term, domain = domain,
    estimate = as.numeric(est), se = as.numeric(se))
}
stats <- function(case, d, base, has_enroll) {
  m <- svymean(~api00, d); emit(case, "mean", "api00", "", coef(m), SE(m))
  t <- svytotal(~api00, d); emit(case, "total", "api00", "", coef(t), SE(t))
  if (has_enroll) { t <- svytotal(~enroll, d); emit(case, "total", "enroll", "", coef(t), SE(t)) }
  b <- svyby(~api00, ~sch.wide, d, svymean)
  for (k in seq_len(nrow(b))) emit(case, "mean_by", "api00", as.character(b$sch.wide[k]), b$api00[k], SE(b)[k])
  r <- svyratio(~api00, ~api99, d); emit(case, "ratio", "api00/api99", "", coef(r), SE(r))
  wd <- if (inherits(d, "svyrep.design")) weights(d, "sampling") else weights(d)
  wb <- if (inherits(base, "svyrep.design")) weights(base, "sampling") else weights(base)
  g <- wd / wb
  emit(case, "g_min", "", "", min(g), NA); emit(case, "g_max", "", "", max(g), NA)
  wts[[length(wts) + 1]] <<- data.frame(case = case, row = seq_along(g), weight = wd)
}
run <- function(case, base, formula, population, has_enroll, ...) {
  msgs <- character(0)
  d <- withCallingHandlers(
    tryCatch(calibrate(base, formula, population, epsilon = 1e-12, maxit = 200, ...), error = function(e) e),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") })
  if (length(msgs)) emit(case, "message", paste(trimws(msgs), collapse = " | "), "", NA, NA)
  if (inherits(d, "error")) { emit(case, "error", conditionMessage(d), "", NA, NA); return(invisible()) }
  stats(case, d, base, has_enroll)
}

# raking with bounds: binding at the upper bound only, at both bounds, on a two-stage design
run("clus1_raking_b05_18", dclus1, ~stype + api99, pop_sa, TRUE, calfun = "raking", bounds = c(0.5, 1.8))
run("clus1_raking_b06_20", dclus1, ~stype + api99, pop_sa, TRUE, calfun = "raking", bounds = c(0.6, 2.0))
run("clus1_raking3_b06_22", dclus1, ~stype + sch.wide + api99, pop_swa, TRUE, calfun = "raking", bounds = c(0.6, 2.2))
run("ts_raking_b05_20", dts, ~stype + sch.wide + api99, pop_ts, FALSE, calfun = "raking", bounds = c(0.5, 2.0))
# bounds.const: bounds on the final weights (g bounds L / w_i, U / w_i)
run("ts_raking_const_30_200", dts, ~stype + sch.wide + api99, pop_ts, FALSE, calfun = "raking", bounds = c(30, 200),
    bounds.const = TRUE)
run("ts_raking_const_40_150", dts, ~stype + sch.wide + api99, pop_ts, FALSE, calfun = "raking", bounds = c(40, 150),
    bounds.const = TRUE)
# trim = after an unbounded raking and after a bounded logit calibration
run("clus1_raking_trim_08_16", dclus1, ~stype + api99, pop_sa, TRUE, calfun = "raking", trim = c(0.8, 1.6))
run("clus1_logit_b04_19_trim_06_17", dclus1, ~stype + api99, pop_sa, TRUE, calfun = "logit", bounds = c(0.4, 1.9),
    trim = c(0.6, 1.7))
# (R ignores trim= for linear calibration without bounds, which it does by regcalibrate, not grake; bounds
# far outside the range of g take the grake path, whose solution is the same GREG)
run("clus1_linear_trim_06_17", dclus1, ~stype + api99, pop_sa, TRUE, calfun = "linear", bounds = c(-1e6, 1e6),
    trim = c(0.6, 1.7))
# weights far below the totals (all 1): grake rescales them by the mean ratio before applying the bounds
run("one_raking_b06_18", uclus1, ~stype + api99, pop_sa, TRUE, calfun = "raking", bounds = c(0.6, 1.8))
run("one_logit_b05_19", uclus1, ~stype + api99, pop_sa, TRUE, calfun = "logit", bounds = c(0.5, 1.9))
run("one_raking", uclus1, ~stype + api99, pop_sa, TRUE, calfun = "raking")
# bounds that cannot be met: R stops with "Calibration failed"
run("clus1_raking_b09_11", dclus1, ~stype + api99, pop_sa, TRUE, calfun = "raking", bounds = c(0.9, 1.1))
run("ts_raking_b07_16", dts, ~stype + sch.wide + api99, pop_ts, FALSE, calfun = "raking", bounds = c(0.7, 1.6))
# ... unless force = TRUE (the last iterate is kept, with a warning) or trim = is given (the last iterate is trimmed)
run("ts_raking_b07_16_force", dts, ~stype + sch.wide + api99, pop_ts, FALSE, calfun = "raking", bounds = c(0.7, 1.6),
    force = TRUE)
run("ts_raking_b07_16_trim", dts, ~stype + sch.wide + api99, pop_ts, FALSE, calfun = "raking", bounds = c(0.7, 1.6),
    trim = c(0.8, 1.5))
# with trim = equal to the bounds nothing is trimmed and the failure stands
run("ts_raking_b07_16_trim_same", dts, ~stype + sch.wide + api99, pop_ts, FALSE, calfun = "raking",
    bounds = c(0.7, 1.6), trim = c(0.7, 1.6))

# a JK1 replicate design calibrated replicate by replicate with bounds
jk1 <- as.svrepdesign(dclus1, type = "JK1")
run("clus1_jk1_raking_b05_18", jk1, ~stype + api99, pop_sa, TRUE, calfun = "raking", bounds = c(0.5, 1.8))

# the population totals, named as the model-matrix columns of formulaic (sch.wide is sch_wide in Python)
py_names <- c("Intercept", "stype[T.H]", "stype[T.M]", "sch_wide[T.Yes]", "api99")
for (p in list(list("pop_sa", pop_sa, py_names[c(1:3, 5)]), list("pop_swa", pop_swa, py_names),
               list("pop_ts", pop_ts, py_names))) {
  for (k in seq_along(p[[2]])) emit("population", p[[1]], p[[3]][k], "", p[[2]][k], NA)
}

write.csv(do.call(rbind, rows), "calibration_bounds.csv", row.names = FALSE)
write.csv(do.call(rbind, wts), "calibration_bounds_weights.csv", row.names = FALSE)
