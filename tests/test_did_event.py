"""Event study: against lm + clubSandwich (fixture event.json), sup-t, pre-test power, sensitivity, wild."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from welfare_eval.did import event_study
from welfare_eval.did._testing import savings_group_panel

REL = 1e-8
TERMS = ["k=-3", "k=-2", "k=0", "k=1", "k=2"]


@pytest.fixture(scope="module")
def panel(fixtures):
    return pd.read_csv(fixtures / "did" / "event_panel.csv")


@pytest.fixture(scope="module")
def ref(fixtures):
    return json.loads((fixtures / "did" / "event.json").read_text())


def _fit(panel, pair):
    return event_study(panel, outcome="savings", unit="group_id", time="year", start="start",
                       pair="pair_id" if pair else None, cluster="pair_id", leads=3, lags=2,
                       inference=("cr1", "cr2"))


@pytest.mark.parametrize(("name", "pair"), [("pair_year", True), ("year", False)])
def test_event_study_against_clubsandwich(panel, ref, name, pair):
    res = _fit(panel, pair)
    r = ref[name]
    tab = res.tidy()
    cr2 = tab[tab["method"] == "cr2"].set_index("term").loc[TERMS]
    assert np.allclose(cr2["estimate"], r["estimate"], rtol=REL)
    assert np.allclose(cr2["std_error"], r["se_cr2"], rtol=REL)
    assert np.allclose(cr2["df"], r["df_cr2"], rtol=REL)
    pre = res.pretrend_test()
    assert pre["F"] == pytest.approx(r["pre_F"], rel=REL)
    assert pre["df_denom"] == pytest.approx(r["pre_df_denom"], rel=REL)
    assert pre["p_value"] == pytest.approx(r["pre_p"], rel=REL)
    # CR1: clubSandwich "CR1S" uses (N-1)/(N-p) with p = all lm columns; ours counts only the fixed
    # effects not nested in the clusters (fixest convention)
    fit = res.fit
    p_lm = fit.p + fit.absorber.rank
    cr1 = tab[tab["method"] == "cr1"].set_index("term").loc[TERMS]
    scale = np.sqrt((fit.n - p_lm) / (fit.n - fit.k_ssc))
    assert np.allclose(cr1["std_error"], np.asarray(r["se_cr1s"]) * scale, rtol=REL)
    assert fit.fe_nested == pair


def test_sup_t_band_has_simultaneous_coverage(panel):
    res = _fit(panel, True)
    crit = res.sup_t_critical()
    v = res.fit.vcov_cr1()[:5, :5]
    sd = np.sqrt(np.diag(v))
    corr = v / np.outer(sd, sd)
    g = res.fit.n_clusters
    cover = stats.multivariate_t(loc=np.zeros(5), shape=corr, df=g - 1, seed=1).cdf(
        np.full(5, crit), lower_limit=np.full(5, -crit))
    assert cover == pytest.approx(0.95, abs=3e-3)
    # wider than pointwise, narrower than Bonferroni
    assert stats.t.ppf(0.975, g - 1) < crit < stats.t.ppf(1 - 0.025 / 5, g - 1)
    band = res.tidy().query("method == 'sup_t'").set_index("term").loc[TERMS]
    assert np.allclose(band["ci_high"] - band["estimate"], crit * band["std_error"])


def test_pretrend_power_single_lead_matches_closed_form():
    d = savings_group_panel(pairs=10, years=(2017, 2023), start=2020, seed=4)
    res = event_study(d, outcome="savings", unit="group_id", time="year", start="start", pair="pair_id",
                      leads=2, lags=2, inference=("cr1",))
    assert res.pre_terms == ["k=-2"]
    out = res.pretrend_power((0.5, 0.8), draws=200_000)
    j = res.names.index("k=-2")
    se = np.sqrt(res.fit.vcov_cr1()[j, j])
    crit = stats.t.ppf(0.975, res.fit.n_clusters - 1)
    for target, slope in zip(out["power"], out["slope"], strict=True):
        mu = slope * 1 / se  # k - ref = -2 - (-1) = -1, |.| = 1
        power = stats.norm.sf(crit - mu) + stats.norm.cdf(-crit - mu)
        assert power == pytest.approx(target, abs=4e-3)
    assert out.loc[0, "bias k=2"] == pytest.approx(3 * out.loc[0, "slope"])


def test_sensitivity_bounds(panel):
    res = _fit(panel, True)
    sens = res.sensitivity(mbar=(0.0, 1.0, 2.0))
    at0 = sens[sens["mbar"] == 0].set_index("term")
    band = res.tidy().query("method == 'sup_t'").set_index("term")
    assert np.allclose(at0["id_low"], at0["id_high"])
    assert np.allclose(at0["ci_low"], band.loc[at0.index, "ci_low"])
    for _term, grp in sens.groupby("term"):
        assert (np.diff(grp["ci_high"].to_numpy()) > 0).all()
        assert (grp["ci_low"] <= grp["id_low"]).all() and (grp["ci_high"] >= grp["id_high"]).all()
    # identified set width: 2 (k+1) M Δ with Δ the largest consecutive pre-period change (δ_ref = 0)
    b = res.fit.beta
    delta = max(abs(b[0] - b[1]), abs(b[1] - 0.0))
    row = sens[(sens["term"] == "k=1") & (sens["mbar"] == 1.0)].iloc[0]
    assert row["id_high"] - row["id_low"] == pytest.approx(2 * 2 * delta)


def test_wild_with_fixed_effects_not_nested_matches_brute_force():
    d = savings_group_panel(pairs=6, groups=1, years=(2018, 2022), start=2020, effect=0.3, seed=9)
    d = d.sample(frac=0.9, random_state=2).reset_index(drop=True)  # unbalanced
    res = event_study(d, outcome="savings", unit="group_id", time="year", start="start", cluster="pair_id",
                      leads=2, lags=1, inference=("cr1", "wild"), null=0.1)
    assert not res.fit.fe_nested
    rel = np.clip(d["year"] - d["start"], -2, 1)
    D = np.column_stack([np.nan_to_num((rel == k).astype(float)) for k in (-2, 0, 1)])
    fe = np.column_stack([pd.get_dummies(d["group_id"], dtype=float), pd.get_dummies(d["year"], dtype=float)])
    X = np.column_stack([D, fe])
    _q, r = np.linalg.qr(X)
    X = X[:, np.abs(np.diag(r)) > 1e-9]
    y = d["savings"].to_numpy()
    cl = pd.factorize(d["pair_id"], sort=True)[0]
    j = 1  # k=0
    k_ssc = res.fit.k_ssc

    def t_stat(yy):
        A = np.linalg.inv(X.T @ X)
        b = A @ X.T @ yy
        e = yy - X @ b
        s = np.zeros((6, X.shape[1]))
        np.add.at(s, cl, X * e[:, None])
        v = 6 / 5 * (len(yy) - 1) / (len(yy) - k_ssc) * A @ s.T @ s @ A
        return (b[j] - 0.1) / np.sqrt(v[j, j])

    others = [c for c in range(X.shape[1]) if c != j]
    yr = y - 0.1 * X[:, j]
    u = yr - X[:, others] @ np.linalg.lstsq(X[:, others], yr, rcond=None)[0]
    fitted = y - u
    t_obs = t_stat(y)
    ts = np.array([t_stat(fitted + u * np.asarray(v)[cl]) for v in itertools.product([-1.0, 1.0], repeat=6)])
    tol = 1e-9 * abs(t_obs)
    p = (np.sum(np.abs(ts) > abs(t_obs) + tol) + 0.5 * np.sum(np.abs(np.abs(ts) - abs(t_obs)) <= tol)) / 64
    row = res.tidy().query("method == 'wild' and term == 'k=0'").iloc[0]
    assert row["statistic"] == pytest.approx(t_obs, rel=1e-9)
    assert row["p_value"] == pytest.approx(p, abs=1e-12)


def test_event_study_bad_input():
    d = savings_group_panel(pairs=4, years=(2018, 2022), start=2020, seed=1)
    with pytest.raises(ValueError, match="no treated observation at relative time"):
        event_study(d, outcome="savings", unit="group_id", time="year", start="start", leads=5, lags=1)
    with pytest.raises(ValueError, match="outside the window"):
        event_study(d, outcome="savings", unit="group_id", time="year", start="start", leads=1, lags=1,
                    bin_endpoints=False)
    with pytest.raises(ValueError, match="no treated unit"):
        event_study(d.assign(start=np.nan), outcome="savings", unit="group_id", time="year", start="start")
    res = event_study(d, outcome="savings", unit="group_id", time="year", start="start", pair="pair_id",
                      leads=2, lags=2, inference=("cr2",))
    assert "pre-trend test" in res.summary()
    assert res.plot() is not None


def test_flci_against_honestdid_and_exact_optimum(fixtures):
    from welfare_eval.did._honest import _second_difference_inverse, flci_smoothness, folded_normal_quantile

    ref = json.loads((fixtures / "did" / "honestdid_flci.json").read_text())
    b, S = np.array(ref["beta"]), np.array(ref["sigma"])
    assert folded_normal_quantile(0.95, 0.0) == pytest.approx(stats.norm.ppf(0.975), rel=1e-12)
    prev = {}
    for case in ref["cases"]:
        out = flci_smoothness(b, S, 3, 2, case["M"], np.array(case["l"]))
        # honestdid simulates the folded-normal quantile and optimises on a grid: ~1e-3 relative
        assert out["half_length"] == pytest.approx(case["half"], rel=2e-3)
        # never worse than honestdid's weights evaluated exactly
        w = np.array(case["vec"])
        P, t = _second_difference_inverse(3, 2)
        sd = np.sqrt(w @ S @ w)
        theirs = sd * folded_normal_quantile(0.95, case["M"] * np.abs(P.T @ w).sum() / sd)
        assert out["half_length"] <= theirs * (1 + 1e-9)
        assert abs(out["weights"][:3] @ t[:3] + out["weights"][3:] @ t[3:]) < 1e-10
        key = tuple(case["l"])
        assert out["half_length"] >= prev.get(key, 0.0) - 1e-12  # wider as M grows
        prev[key] = out["half_length"]
    # M = 0: the minimum-variance linear-trend-extrapolation estimator, in closed form
    t_pre, t_post = np.array([-3.0, -2.0, -1.0]), np.array([1.0, 2.0])
    lv = np.array([1.0, 0.0])
    C = np.r_[t_pre, np.zeros(2)][None, :]
    # minimise w'Sw s.t. w_post = l and w_pre't_pre = -l't_post (KKT system)
    E = np.zeros((3, 5))
    E[0, 3] = 1.0
    E[1, 4] = 1.0
    E[2] = C
    rhs = np.r_[lv, -lv @ t_post]
    K = np.block([[2 * S, E.T], [E, np.zeros((3, 3))]])
    w_star = np.linalg.solve(K, np.r_[np.zeros(5), rhs])[:5]
    out = flci_smoothness(b, S, 3, 2, 0.0, lv)
    assert np.allclose(out["weights"], w_star, atol=1e-6)
    assert out["half_length"] == pytest.approx(stats.norm.ppf(0.975) * np.sqrt(w_star @ S @ w_star), rel=1e-8)


def test_event_study_flci_method(panel):
    res = _fit(panel, True)
    tab = res.flci(m=(0.0, 0.05))
    assert list(tab["M"]) == [0.0, 0.05]
    assert (tab["ci_high"] - tab["ci_low"]).is_monotonic_increasing
