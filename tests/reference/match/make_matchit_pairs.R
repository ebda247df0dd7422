# Fixture: R MatchIt nearest-neighbour matching within exact region strata (one pilot per region,
# so MatchIt's processing order cannot matter) to check welfare_eval.match.match_villages.
# Run from this folder: Rscript make_matchit_pairs.R  -> matchit_frame.csv, matchit_pairs.csv
suppressPackageStartupMessages(library(MatchIt))
set.seed(20261125)
R <- 8; per <- 15
d <- expand.grid(k = seq_len(per), region = seq_len(R))
n <- nrow(d)
d$village_id <- sprintf("%02d%02d%02d%02d", 10 + d$region, 1 + (d$k %/% 10), 1 + d$k %% 10, d$k)
d$eligible <- as.integer(runif(n) < 0.85)
d$mean_income <- round(rnorm(n, 80000, 15000), 2)
d$share_farm <- round(rbeta(n, 5, 3), 4)
d$sg_age <- sample(1:30, n, replace = TRUE)
d$sg_savings <- round(rlnorm(n, 13, 1), 0)
score <- (d$mean_income - 80000) / 15000 + (d$sg_age - 15) / 8 + rnorm(n, 0, 0.7)
d$pilot <- 0L
for (r in seq_len(R)) {
  i <- which(d$region == r & d$eligible == 1)
  d$pilot[i[which.max(score[i])]] <- 1L
}
d$k <- NULL
write.csv(d, "matchit_frame.csv", row.names = FALSE)

pop <- d[d$pilot == 1 | d$eligible == 1, ]
pop <- pop[order(pop$village_id), ]
covs <- c("mean_income", "share_farm", "sg_age", "sg_savings")
X <- as.matrix(pop[covs])
S_frame <- cov(X)
f <- pilot ~ mean_income + share_farm + sg_age + sg_savings

pairs_of <- function(m, config, S) {
  mm <- m$match.matrix
  out <- NULL
  for (i in seq_len(nrow(mm))) {
    t_id <- pop$village_id[as.integer(rownames(mm)[i]) == as.integer(rownames(pop))]
    for (j in seq_len(ncol(mm))) {
      if (is.na(mm[i, j])) next
      c_id <- pop[mm[i, j], "village_id"]
      xt <- X[pop$village_id == t_id, ]
      xc <- X[pop$village_id == c_id, ]
      dist <- if (is.null(S)) NA_real_ else sqrt(mahalanobis(xt, xc, S))
      out <- rbind(out, data.frame(config = config, treated_id = t_id, control_id = c_id, distance = dist))
    }
  }
  out
}
rownames(pop) <- seq_len(nrow(pop))

# 1. Mahalanobis, covariance over the matching population, exact region, 1:1. MatchIt 4.5.1 ignores
#    distance.options$var for nearest-neighbour Mahalanobis matching, so the distance matrix
#    (treated rows x control columns) is computed with stats::mahalanobis and passed in.
D_frame <- outer(which(pop$pilot == 1), which(pop$pilot == 0),
                 Vectorize(function(i, j) sqrt(mahalanobis(X[i, ], X[j, ], S_frame))))
m1 <- matchit(f, data = pop, method = "nearest", distance = D_frame, exact = ~region, ratio = 1)
# 2. the same 1:2
m2 <- matchit(f, data = pop, method = "nearest", distance = D_frame, exact = ~region, ratio = 2)
# 3. MatchIt's default covariance (pooled within treatment groups)
m3 <- matchit(f, data = pop, method = "nearest", distance = "mahalanobis", exact = ~region, ratio = 1)
S_pooled <- MatchIt:::pooled_cov(X, pop$pilot)
# 4. propensity score (logit linear predictor) distance with a 0.5-SD caliper, exact region.
#    m4 fits the logit (its $distance is the linear predictor, exported as config "logit_ps").
#    With a numeric distance *vector* MatchIt 4.5.1 did not return the nearest control on these
#    data (region 1: pilot -3.977, chosen control -4.456 although -3.887 is admissible and nearer;
#    reproduced with a bare 8-village example), so the pairs come from m4m, which gets the
#    |difference in logit| as a treated x control matrix and the caliper in logit units.
m4 <- matchit(f, data = pop, method = "nearest", distance = "glm", link = "linear.logit",
              exact = ~region, caliper = 0.5, std.caliper = TRUE)
lp <- m4$distance
D_ps <- abs(outer(lp[pop$pilot == 1], lp[pop$pilot == 0], "-"))
m4m <- matchit(f, data = pop, method = "nearest", distance = D_ps, exact = ~region,
               caliper = 0.5 * sd(lp), std.caliper = FALSE)
# 5. Mahalanobis (pooled covariance) within a 0.5-SD caliper of the logit propensity score
m5 <- matchit(f, data = pop, method = "nearest", distance = "glm", link = "linear.logit",
              mahvars = ~ mean_income + share_farm + sg_age + sg_savings,
              exact = ~region, caliper = 0.5, std.caliper = TRUE)
ps <- data.frame(config = "logit_ps", treated_id = pop$village_id, control_id = "",
                 distance = m4$distance)
res <- rbind(pairs_of(m1, "maha_frame_1to1", S_frame), pairs_of(m2, "maha_frame_1to2", S_frame),
             pairs_of(m3, "maha_pooled_1to1", S_pooled), pairs_of(m4m, "ps_caliper_0.5", NULL),
             pairs_of(m5, "maha_pooled_ps_caliper_0.5", S_pooled), ps)
res$caliper_width <- NA_real_
res$caliper_width[res$config == "ps_caliper_0.5"] <- 0.5 * sd(m4$distance)
write.csv(res, "matchit_pairs.csv", row.names = FALSE)
cat("MatchIt", as.character(packageVersion("MatchIt")), "\n")
print(table(res$config))
