"""Influence functions against numerical derivatives, the multiplier bootstrap, and band coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did import att_gt
from welfare_eval.did.staggered.bootstrap import iqr_se, multiplier_draws, quantile_type1, sup_t_critical


def small_panel(seed: int = 1, units: int = 48) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(1, 6)
    g = rng.choice([0, 3, 4, 5], size=units)
    x = rng.normal(size=units)
    rows = []
    for i in range(units):
        for t in years:
            eff = 1.0 + 0.5 * (t - g[i]) if g[i] and t >= g[i] else 0.0
            rows.append({"id": i, "t": t, "g": g[i], "x": x[i] + 0.1 * t, "cl": i % 12,
                         "y": 0.3 * t + x[i] * (1 + 0.2 * t) + eff + rng.normal(), "w": 1.0})
    return pd.DataFrame(rows)


def _numerical_contributions(data: pd.DataFrame, kw: dict, what: str, eps: float = 1e-6) -> np.ndarray:
    """d θ / d ε for weights w·(1 + ε 1[cluster c]): the cluster's influence-function contribution."""
    out = []
    for c in sorted(data["cl"].unique()):
        vals = []
        for s in (eps, -eps):
            d = data.assign(w=data["w"] * np.where(data["cl"] == c, 1 + s, 1.0))
            r = att_gt(d, weights="w", cluster="cl", **kw)
            vals.append(_target(r, what))
        out.append((vals[0] - vals[1]) / (2 * eps))
    return np.array(out)


def _target(res: object, what: str) -> np.ndarray:
    if what == "att":
        return res.estimates  # type: ignore[attr-defined]
    agg = res.aggregate(what)  # type: ignore[attr-defined]
    return np.r_[agg.agg.estimate, agg.agg.overall]


@pytest.mark.parametrize(
    ("kw", "what"),
    [
        ({"method": "dr", "control": "not_yet", "covariates": ["x"], "unit": "id"}, "att"),
        ({"method": "ipw", "control": "never", "covariates": ["x"], "unit": "id", "base_period": "universal"},
         "dynamic"),
        ({"method": "reg", "control": "not_yet", "covariates": ["x"], "unit": None, "panel": False}, "group"),
        ({"method": "dr", "control": "never", "covariates": ["x"], "unit": "id", "panel": False}, "calendar"),
        ({"method": "reg", "control": "never", "unit": "id", "anticipation": 1}, "simple"),
    ],
)
def test_influence_function_equals_numerical_derivative(kw: dict, what: str) -> None:
    data = small_panel()
    base = {"outcome": "y", "time": "t", "cohort": "g", "draws": 9, **kw}
    res = att_gt(data, weights="w", cluster="cl", **base)
    numeric = _numerical_contributions(data, base, what)
    if what == "att":
        analytic = res.contrib
    else:
        agg = res.aggregate(what).agg
        analytic = np.column_stack([agg.contrib, agg.overall_contrib])
    ok = np.abs(analytic).sum(axis=0) > 0  # universal-base reference cells are 0 by construction
    np.testing.assert_allclose(analytic[:, ok], numeric[:, ok], rtol=1e-5, atol=1e-8)


def test_bootstrap_kernels() -> None:
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    # R: quantile(c(5,1,4,2,3), c(.25,.5,.75,.8), type = 1) = 2 3 4 4
    assert [quantile_type1(x, p) for p in (0.25, 0.5, 0.75, 0.8)] == [2.0, 3.0, 4.0, 4.0]
    rng = np.random.default_rng(0)
    s = rng.normal(size=(400, 3))
    for kind in ("rademacher", "mammen"):
        b = multiplier_draws(s, draws=4000, seed=1, kind=kind)
        # the bootstrap covariance matches the analytic S'S
        np.testing.assert_allclose(np.cov(b.T, ddof=0), s.T @ s, rtol=0.08, atol=0.08 * np.trace(s.T @ s) / 3)
        se = iqr_se(b)
        np.testing.assert_allclose(se, np.sqrt((s**2).sum(axis=0)), rtol=0.06)
    b = multiplier_draws(s, draws=2000, seed=2)
    # same seed, same draws; blocks do not change the result
    np.testing.assert_array_equal(b, multiplier_draws(s, draws=2000, seed=2))
    se = np.sqrt((s**2).sum(axis=0))
    crit = sup_t_critical(b, se, 0.95)
    assert 1.96 < crit < 2.6
    with pytest.raises(ValueError, match="multiplier"):
        multiplier_draws(s, draws=10, seed=0, kind="normal")


def test_bootstrap_standard_errors_option() -> None:
    data = small_panel(3)
    kw = {"outcome": "y", "unit": "id", "time": "t", "cohort": "g", "method": "reg", "draws": 2000}
    a = att_gt(data, **kw).tidy()
    b = att_gt(data, std_errors="bootstrap", **kw).tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"])
    np.testing.assert_allclose(b["std_error"], a["std_error"], rtol=0.12)
    assert (a["band_high"] - a["estimate"] > 1.959 * a["std_error"]).all()
    assert (a["ci_high"] - a["estimate"]).to_numpy() == pytest.approx(1.959964 * a["std_error"].to_numpy())


def _simulate_cells(rng: np.random.Generator, villages: int = 250, per: int = 4) -> tuple[pd.DataFrame, dict]:
    """Households within village-years; planted effects by cohort × event time (0 before adoption)."""
    years = np.arange(2025, 2031)
    cohorts = rng.choice([0, 2027, 2028, 2029], size=villages, p=[0.4, 0.2, 0.2, 0.2])
    tau = {(g, e): 0.3 + 0.15 * e + 0.1 * (g - 2027) for g in (2027, 2028, 2029) for e in range(0, 4)}
    v = np.repeat(np.arange(villages), years.size * per)
    t = np.tile(np.repeat(years, per), villages)
    g = cohorts[v]
    alpha = rng.normal(size=villages)[v]
    shock = rng.normal(scale=0.5, size=(villages, years.size))[v, t - years[0]]  # village × year shocks
    e = t - g
    eff = np.where((g > 0) & (e >= 0), 0.3 + 0.15 * e + 0.1 * (g - 2027), 0.0)  # = tau[(g, e)]
    y = alpha + 0.2 * (t - 2025) + shock + eff + rng.normal(size=v.size)
    w = rng.uniform(0.5, 1.5, size=v.size)
    key = v * years.size + (t - years[0])  # cells sorted by village, year (reduce_cells' layout, built directly)
    m = villages * years.size
    cells = pd.DataFrame({"village": np.repeat(np.arange(villages), years.size), "year": np.tile(years, villages),
                          "cohort": np.repeat(cohorts, years.size), "n_rows": np.full(m, per),
                          "sum_w": np.bincount(key, weights=w, minlength=m),
                          "sum_w__y": np.bincount(key, weights=w * y, minlength=m)})
    return cells, tau


def test_simulated_cells_match_reduce_cells() -> None:
    cells, _ = _simulate_cells(np.random.default_rng(5), villages=6, per=3)
    assert list(cells.columns) == ["village", "year", "cohort", "n_rows", "sum_w", "sum_w__y"]
    assert (cells["n_rows"] == 3).all() and len(cells) == 36


@pytest.mark.slow
def test_uniform_bands_cover_planted_effects_monte_carlo() -> None:
    """95% sup-t bands over all ATT(g,t) (pre-period truths 0) cover every planted effect ≈ 95% of the time.

    250 villages (~50 per adoption cohort) with village × year shocks, households within village-years,
    weights; clustered by village. (With ~16 villages per cohort the influence-function SEs run ~10% small
    and joint coverage falls to ~0.8: the asymptotics need enough clusters per cohort.)
    """
    rng = np.random.default_rng(2568)
    reps, hits, hits_dyn = 120, 0, 0
    for _ in range(reps):
        cells, tau = _simulate_cells(rng)
        res = att_gt(cells, outcome="y", unit="village", time="year", cohort="cohort", cells=True, method="reg",
                     draws=299, seed=int(rng.integers(1 << 30)))
        tab = res.tidy()
        truth = np.array([tau.get((g, t - g), 0.0) if t >= g else 0.0 for g, t in zip(tab["cohort"], tab["time"],
                                                                                       strict=True)])
        hits += bool(((tab["band_low"] <= truth) & (truth <= tab["band_high"])).all())
        dyn = res.aggregate("dynamic", min_e=0, max_e=0).tidy().iloc[0]
        # population estimand: the three cohorts are equally likely, so their shares are equal
        true_e0 = float(np.mean([tau[(g, 0)] for g in (2027, 2028, 2029)]))
        hits_dyn += bool(dyn["ci_low"] <= true_e0 <= dyn["ci_high"])
    assert 0.89 <= hits / reps <= 0.995
    assert 0.88 <= hits_dyn / reps <= 0.995


def test_bootstrap_through_basis_equals_direct_draws() -> None:
    """Aggregations' draws via the shared basis [S_att, A, N] equal the multipliers applied directly."""
    data = small_panel(6)
    res = att_gt(data, outcome="y", unit="id", time="t", cohort="g", method="dr", covariates=["x"], draws=300,
                 multiplier="mammen", seed=11)
    for typ in ("simple", "dynamic", "group", "calendar"):
        agg = res.aggregate(typ).agg
        c = np.column_stack([agg.contrib, agg.overall_contrib])
        np.testing.assert_allclose(res._draws(c), res.boot(c), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res._draws(res.contrib), res.boot(res.contrib), rtol=1e-9, atol=1e-12)
