"""Coverage of design-based confidence intervals over repeated two-stage samples (brute force)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import Design


def _population(rng: np.random.Generator) -> pd.DataFrame:
    H, N_h = 8, 30
    rows = []
    for h in range(H):
        for v in range(N_h):
            M = int(rng.integers(30, 90))
            u = rng.normal(0, 4) + 2 * h
            y = 100 + u + rng.gamma(2.0, 5.0, size=M) + 0.05 * M
            rows.append(pd.DataFrame({"stratum": h, "village": h * 1000 + v, "M": M, "y": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.slow
def test_two_stage_ci_coverage() -> None:
    rng = np.random.default_rng(20261125)
    pop = _population(rng)
    truth = pop["y"].mean()
    villages = pop.groupby(["stratum", "village"])["M"].first().reset_index()
    N_h = villages.groupby("stratum").size()
    n_h, m = 4, 6
    by_village = {k: g["y"].to_numpy() for k, g in pop.groupby("village")}
    hits, ests, vars_ = 0, [], []
    reps = 300
    for _ in range(reps):
        parts = []
        for h, vs in villages.groupby("stratum"):
            pick = vs.iloc[rng.choice(len(vs), n_h, replace=False)]
            for vid, M in zip(pick["village"], pick["M"], strict=True):
                y = by_village[vid][rng.choice(M, m, replace=False)]
                w = N_h[h] / n_h * M / m
                parts.append(
                    pd.DataFrame({"stratum": h, "village": vid, "y": y, "w": w, "N": N_h[h], "M": M})
                )
        s = pd.concat(parts, ignore_index=True)
        d = Design(s, weights="w", strata="stratum", psu="village", fpc="N", fpc_ssu="M")
        r = d.mean("y").tidy().iloc[0]
        hits += int(r["ci_low"] <= truth <= r["ci_high"])
        ests.append(r["estimate"])
        vars_.append(r["std_error"] ** 2)
        assert r["df"] == 8 * n_h - 8
    coverage = hits / reps
    # binomial SE of the coverage at 95% with 300 draws is 0.0126
    assert 0.91 <= coverage <= 0.985, coverage
    # the variance estimator is (nearly) unbiased for the sampling variance of the estimator
    ratio = np.mean(vars_) / np.var(ests, ddof=1)
    assert 0.8 < ratio < 1.25, ratio
