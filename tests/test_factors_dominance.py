"""Dominance analysis vs an all-subsets brute force (statsmodels OLS) and the Shapley formula."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from welfare_eval.factors import dominance


def _data(seed=3, n=36, p=6, beta=(1.0, 0.7, 0.45, 0.25, 0.0, 0.0)):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, p))
    x = z + 0.4 * z[:, [0]]  # correlated predictors
    y = x @ np.asarray(beta[:p]) + rng.normal(size=n)
    d = pd.DataFrame(x, columns=[f"f{i}" for i in range(p)])
    d["y"] = y
    return d


def _brute(d, preds):
    """R² of every subset by statsmodels OLS, keyed by frozenset of names."""
    out = {frozenset(): 0.0}
    for k in range(1, len(preds) + 1):
        for s in combinations(preds, k):
            out[frozenset(s)] = sm.OLS(d["y"], sm.add_constant(d[list(s)])).fit().rsquared
    return out


def test_general_dominance_matches_brute_force_and_shapley():
    d = _data()
    preds = [f"f{i}" for i in range(6)]
    res = dominance(d, outcome="y", predictors=preds)
    r2 = _brute(d, preds)
    p = len(preds)
    # Shapley value with permutation weights (a different route from the by-size averages)
    shap = {}
    for i in preds:
        others = [q for q in preds if q != i]
        v = 0.0
        for k in range(p):
            w = factorial(k) * factorial(p - k - 1) / factorial(p)
            for s in combinations(others, k):
                v += w * (r2[frozenset(s) | {i}] - r2[frozenset(s)])
        shap[i] = v
    t = res.tidy().set_index("predictor")
    for i in preds:
        assert t.loc[i, "general"] == pytest.approx(shap[i], abs=1e-10)
    assert t["general"].sum() == pytest.approx(r2[frozenset(preds)], abs=1e-10)
    assert res.r2_full == pytest.approx(r2[frozenset(preds)], abs=1e-10)
    # conditional dominance by hand for one predictor and size
    others = [q for q in preds if q != "f2"]
    c3 = np.mean([r2[frozenset(s) | {"f2"}] - r2[frozenset(s)] for s in combinations(others, 2)])
    assert t.loc["f2", "cond_3"] == pytest.approx(c3, abs=1e-10)
    assert t.loc["f2", "cond_1"] == pytest.approx(r2[frozenset({"f2"})], abs=1e-10)
    # every subset's R²
    for s, v in r2.items():
        mask = sum(1 << preds.index(q) for q in s)
        assert res.subsets_r2[mask] == pytest.approx(v, abs=1e-10)


def test_complete_dominance_by_hand():
    d = _data(seed=5, p=4, beta=(1.0, 0.6, 0.3, 0.0))
    preds = ["f0", "f1", "f2", "f3"]
    res = dominance(d, outcome="y", predictors=preds)
    r2 = _brute(d, preds)
    for i, j in combinations(preds, 2):
        rest = [q for q in preds if q not in (i, j)]
        diffs = [
            r2[frozenset(s) | {i}] - r2[frozenset(s) | {j}]
            for k in range(len(rest) + 1)
            for s in combinations(rest, k)
        ]
        expect = 1 if min(diffs) > 0 else (-1 if max(diffs) < 0 else 0)
        assert res.complete.loc[i, j] == expect
        assert res.complete.loc[j, i] == -expect


def test_planted_ordering_recovered_with_bootstrap():
    d = _data(seed=11, n=200, p=6, beta=(1.2, 0.8, 0.5, 0.0, 0.0, 0.0))
    preds = [f"f{i}" for i in range(6)]
    res = dominance(d, outcome="y", predictors=preds, n_boot=200, seed=1)
    t = res.tidy()
    assert list(t["predictor"][:3]) == ["f0", "f1", "f2"]
    assert (t["general_lower"] <= t["general"]).all() and (t["general"] <= t["general_upper"]).all()
    assert res.reproducibility.loc["f0", "f5"] > 0.9
    assert t["share"].sum() == pytest.approx(1.0)
    # same seed, shuffled rows: the point estimates do not depend on row order
    res2 = dominance(d.sample(frac=1, random_state=2), outcome="y", predictors=preds)
    np.testing.assert_allclose(res2.general, res.general, atol=1e-12)


def test_cluster_bootstrap_and_missing_rows_reported():
    d = _data(seed=2, n=36, p=3, beta=(1.0, 0.5, 0.0))
    d["pair_id"] = np.repeat(np.arange(18), 2)
    d.loc[4, "f1"] = np.nan
    res = dominance(d, outcome="y", predictors=["f0", "f1", "f2"], n_boot=50, cluster="pair_id")
    assert res.n == 35 and res.n_dropped == 1
    assert len(res.boot) == 50
    assert "pair_id" in res.summary() and "left out" in res.summary()


def test_dominance_plot_and_errors():
    import matplotlib

    matplotlib.use("Agg")
    d = _data(p=3, beta=(1.0, 0.5, 0.0))
    res = dominance(d, outcome="y", predictors=["f0", "f1", "f2"], n_boot=20)
    ax = res.plot()
    assert len(ax.patches) == 3
    with pytest.raises(ValueError, match="not found"):
        dominance(d, outcome="y", predictors=["f0", "nope"])
    with pytest.raises(ValueError, match="at least 2"):
        dominance(d, outcome="y", predictors=["f0"])
