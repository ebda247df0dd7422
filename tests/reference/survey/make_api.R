# Fixtures for welfare_eval.survey: Taylor-linearisation estimates of R survey on the api data.
# Run from this folder: Rscript make_api.R  (R survey 4.1.1) -> api_taylor.csv, apiclus2.csv, twostage.csv
suppressMessages(library(survey))
data(api)
options(survey.lonely.psu = "fail")
write.csv(apiclus2, "apiclus2.csv", row.names = FALSE)

# a stratified two-stage sample from apipop: districts stratified by size, SRS of districts, SRS of schools
set.seed(20261125)
pop <- apipop[!is.na(apipop$dnum), ]
dsize <- table(pop$dnum)
dist <- data.frame(dnum = as.integer(names(dsize)), M = as.vector(dsize))
dist$stratum <- cut(dist$M, c(0, 2, 8, Inf), labels = c("small", "medium", "large"))
out <- list()
for (h in levels(dist$stratum)) {
  dh <- dist[dist$stratum == h, ]
  pick <- dh[sample(nrow(dh), 6), ]
  for (i in seq_len(nrow(pick))) {
    sch <- pop[pop$dnum == pick$dnum[i], ]
    m <- min(4, nrow(sch))
    s <- sch[sample(nrow(sch), m), c("dnum", "snum", "stype", "api00", "api99", "meals", "ell", "mobility", "sch.wide")]
    s$stratum <- h
    s$fpc1 <- nrow(dh)
    s$fpc2 <- pick$M[i]
    s$pw <- (nrow(dh) / 6) * (pick$M[i] / m)
    out[[length(out) + 1]] <- s
  }
}
ts <- do.call(rbind, out)
ts$sch.wide <- as.character(ts$sch.wide)
# two PSUs of stratum "large" flagged as certainty PSUs, with the R-equivalent coding beside them
cert_d <- unique(ts$dnum[ts$stratum == "large"])[1:2]
ts$cert <- ts$dnum %in% cert_d
ts$stratum_r <- ifelse(ts$cert, paste0("cert", ts$dnum), ts$stratum)
ts$fpc1_r <- ifelse(ts$cert, 1, ifelse(ts$stratum == "large", ts$fpc1 - 2, ts$fpc1))
write.csv(ts, "twostage.csv", row.names = FALSE)

rows <- list()
emit <- function(design, stat, term, domain, est, se, deff, df) {
  rows[[length(rows) + 1]] <<- data.frame(design = design, stat = stat, term = term, domain = domain,
    estimate = as.numeric(est), se = as.numeric(se), deff = as.numeric(deff), df = as.numeric(df))
}
basic <- function(name, d) {
  df <- degf(d)
  m <- svymean(~api00, d, deff = TRUE)
  emit(name, "mean", "api00", "", coef(m), SE(m), deff(m), df)
  if ("enroll" %in% names(d$variables)) {
    t <- svytotal(~enroll, d, deff = TRUE)
    emit(name, "total", "enroll", "", coef(t), SE(t), deff(t), df)
  }
  t2 <- svytotal(~api00, d, deff = TRUE)
  emit(name, "total", "api00", "", coef(t2), SE(t2), deff(t2), df)
  p <- svymean(~stype, d, deff = TRUE)
  for (k in seq_along(coef(p))) emit(name, "mean", names(coef(p))[k], "", coef(p)[k], SE(p)[k], deff(p)[k], df)
  r <- svyratio(~api00, ~api99, d, deff = TRUE)
  emit(name, "ratio", "api00/api99", "", coef(r), SE(r), deff(r), df)
  b <- svyby(~api00, ~sch.wide, d, svymean, deff = TRUE)
  for (k in seq_len(nrow(b))) emit(name, "mean_by", "api00", as.character(b$sch.wide[k]), b$api00[k], SE(b)[k], deff(b)[k], df)
  bt <- svyby(~api00, ~sch.wide, d, svytotal, deff = TRUE)
  for (k in seq_len(nrow(bt))) emit(name, "total_by", "api00", as.character(bt$sch.wide[k]), bt$api00[k], SE(bt)[k], deff(bt)[k], df)
  q <- svyquantile(~api00, d, c(0.25, 0.5, 0.9))
  qq <- q$api00
  for (k in seq_len(nrow(qq))) {
    emit(name, "quantile", paste0("q", rownames(qq)[k]), "", qq[k, 1], qq[k, 4], NA, df)
    emit(name, "quantile_ci_low", paste0("q", rownames(qq)[k]), "", qq[k, 2], NA, NA, df)
    emit(name, "quantile_ci_high", paste0("q", rownames(qq)[k]), "", qq[k, 3], NA, NA, df)
  }
  g <- svyglm(api00 ~ ell + meals + mobility, d, deff = TRUE)
  for (k in seq_along(coef(g))) emit(name, "glm_gaussian", names(coef(g))[k], "", coef(g)[k], SE(g)[k],
    diag(attr(g, "deff"))[k], g$df.residual)
  d2 <- update(d, sw = as.numeric(sch.wide == "Yes"))
  gl <- svyglm(sw ~ ell + meals, d2, family = quasibinomial(), deff = TRUE, control = glm.control(epsilon = 1e-14, maxit = 100))
  for (k in seq_along(coef(gl))) emit(name, "glm_logistic", names(coef(gl))[k], "", coef(gl)[k], SE(gl)[k],
    diag(attr(gl, "deff"))[k], gl$df.residual)
}

dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
dclus1_nofpc <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
dts <- svydesign(id = ~dnum + snum, strata = ~stratum, fpc = ~fpc1 + fpc2, weights = ~pw, data = ts)
dts_nofpc <- svydesign(id = ~dnum, strata = ~stratum, weights = ~pw, data = ts)
dts_frac <- svydesign(id = ~dnum + snum, strata = ~stratum, fpc = ~I(6 / fpc1) + I(ave(snum, dnum, FUN = length) / fpc2),
  weights = ~pw, data = ts)
dts_cert <- svydesign(id = ~dnum + snum, strata = ~stratum_r, fpc = ~fpc1_r + fpc2, weights = ~pw, data = ts)
basic("dstrat", dstrat)
basic("dclus1", dclus1)
basic("dclus1_nofpc", dclus1_nofpc)
basic("dclus2", dclus2)
basic("twostage", dts)
basic("twostage_nofpc", dts_nofpc)
basic("twostage_frac", dts_frac)
basic("twostage_cert", dts_cert)

# lonely PSUs: keep a single district in stratum "small"
one <- ts[ts$stratum != "small" | ts$dnum == unique(ts$dnum[ts$stratum == "small"])[1], ]
write.csv(one, "twostage_lonely.csv", row.names = FALSE)
for (opt in c("adjust", "average", "certainty", "remove")) {
  options(survey.lonely.psu = opt)
  for (fp in c("fpc", "nofpc")) {
    d <- if (fp == "fpc") svydesign(id = ~dnum + snum, strata = ~stratum, fpc = ~fpc1 + fpc2, weights = ~pw, data = one)
         else svydesign(id = ~dnum, strata = ~stratum, weights = ~pw, data = one)
    nm <- paste0("lonely_", opt, "_", fp)
    m <- svymean(~api00, d); emit(nm, "mean", "api00", "", coef(m), SE(m), NA, degf(d))
    t <- svytotal(~api00, d); emit(nm, "total", "api00", "", coef(t), SE(t), NA, degf(d))
  }
}
options(survey.lonely.psu = "fail")
# svyglm on a domain (subset keeps the design; df counts the PSUs with domain members)
for (nm in c("dclus1", "twostage")) {
  d <- if (nm == "dclus1") dclus1 else dts
  g <- svyglm(api00 ~ ell + meals, d, subset = sch.wide == "Yes", deff = TRUE)
  for (k in seq_along(coef(g))) emit(nm, "glm_subset", names(coef(g))[k], "Yes", coef(g)[k], SE(g)[k],
    diag(attr(g, "deff"))[k], g$df.residual)
}
# svyciprop(method = "logit") with its default df = degf(design)
for (nm in c("dclus1", "twostage")) {
  d <- if (nm == "dclus1") dclus1 else dts
  cp <- svyciprop(~I(sch.wide == "Yes"), d, method = "logit")
  ci <- attr(cp, "ci")
  emit(nm, "ciprop_logit", "sch.wide", "", coef(cp), SE(cp), NA, degf(d))
  emit(nm, "ciprop_logit_low", "sch.wide", "", ci[1], NA, NA, degf(d))
  emit(nm, "ciprop_logit_high", "sch.wide", "", ci[2], NA, NA, degf(d))
}
write.csv(do.call(rbind, rows), "api_taylor.csv", row.names = FALSE)
