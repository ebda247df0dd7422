"""welfare_eval.did.estimate: textbook, boottest and brute-force checks, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from welfare_eval.did import estimate
from welfare_eval.did._testing import matched_pair_panel

KIELMC_CONTROLS = ["age", "agesq", "intst", "land", "area", "rooms", "baths"]


# --------------------------------------------------------------------------------------------------
# textbook: Wooldridge Example 13.3
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kielmc(fixtures):
    return pd.read_csv(fixtures / "did" / "kielmc.csv")


def _row(res, method, term="D"):
    tab = res.tidy(all_terms=True)
    return tab[(tab["term"] == term) & (tab["method"] == method)].iloc[0]


def test_kielmc_example_13_3(kielmc):
    res = estimate(kielmc, outcome="rprice", treated="nearinc", post="y81", inference=("iid", "hc1"))
    row = _row(res, "iid")
    assert row["estimate"] == pytest.approx(-11863.9, abs=0.05)
    assert row["std_error"] == pytest.approx(7456.65, abs=0.005)
    assert res.r2 == pytest.approx(0.174, abs=5e-4)
    assert row["df"] == 321 - 4
    # the classic 2×2 regression is the dummy regression y ~ nearinc + y81 + y81nrinc
    assert res.coef["nearinc"] == pytest.approx(-18824.37, abs=0.01)
    assert res.coef["y81"] == pytest.approx(18790.29, abs=0.01)


def test_kielmc_with_controls(kielmc):
    res = estimate(kielmc, outcome="rprice", treated="nearinc", post="y81", covariates=KIELMC_CONTROLS,
                   inference=("iid",))
    row = _row(res, "iid")
    assert row["estimate"] == pytest.approx(-14177.93, abs=0.005)
    assert row["std_error"] == pytest.approx(4987.27, abs=0.005)


def test_hc1_matches_explicit_formula(kielmc):
    res = estimate(kielmc, outcome="rprice", treated="nearinc", post="y81", inference=("hc1",))
    X = np.column_stack([np.ones(len(kielmc)), kielmc["nearinc"], kielmc["y81"], kielmc["y81nrinc"]])
    y = kielmc["rprice"].to_numpy()
    xtx_inv = np.linalg.inv(X.T @ X)
    e = y - X @ (xtx_inv @ X.T @ y)
    n, k = X.shape
    v = n / (n - k) * xtx_inv @ (X.T * e**2) @ X @ xtx_inv
    assert _row(res, "hc1")["std_error"] == pytest.approx(np.sqrt(v[3, 3]), rel=1e-10)


def test_default_inference_without_clusters_is_iid_and_hc1(kielmc):
    res = estimate(kielmc, outcome="rprice", treated="nearinc", post="y81")
    assert set(res.tidy()["method"]) == {"iid", "hc1"}
    with pytest.raises(ValueError, match="need cluster"):
        estimate(kielmc, outcome="rprice", treated="nearinc", post="y81", inference=("cr1",))


# --------------------------------------------------------------------------------------------------
# boottest's published example (Roodman et al.)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def collapsed(shared_reference):
    data = pd.read_stata(shared_reference / "boottest" / "collapsed.dta")
    return data.dropna(subset=["hasinsurance"]).reset_index(drop=True)


def test_boottest_collapsed_example(collapsed):
    res = estimate(collapsed, outcome="hasinsurance", treated="selfemployed", post="post", cluster="year",
                   inference=("cr1", "wild"), null=0.04)
    wild = _row(res, "wild")
    assert wild["statistic"] == pytest.approx(2.0194, abs=5e-5)
    assert wild["draws"] == 256
    assert wild["p_value"] == pytest.approx(19 / 256, abs=1e-15)  # 0.0742: 18 exceed, 2 tie
    ds = res.draws[("D", "wild")]
    t_star, t_obs = ds.stats(0.04, studentized=True)
    a = np.abs(np.concatenate([t_star, -t_star]))
    assert np.sum(a > abs(t_obs) * (1 + 1e-9)) == 18
    assert np.sum(np.isclose(a, abs(t_obs), rtol=1e-9)) == 2
    # boottest reports [0.03874, 0.07098]; our bounds are the exact crossing points of p(r) = 0.05
    # (p is a step function; boottest's bounds lie on the neighbouring plateau, p = 15/256)
    assert wild["ci_low"] == pytest.approx(0.03874, abs=1e-3)
    assert wild["ci_high"] == pytest.approx(0.07098, abs=1e-3)
    cr1 = _row(res, "cr1")
    assert cr1["statistic"] == pytest.approx(2.0194, abs=5e-5)
    assert cr1["df"] == 7


def test_wild_ci_bounds_are_crossings(collapsed):
    res = estimate(collapsed, outcome="hasinsurance", treated="selfemployed", post="post", cluster="year",
                   inference=("wild",))
    row = _row(res, "wild")
    ds = res.draws[("D", "wild")]
    eps = 1e-8
    for bound in (row["ci_low"], row["ci_high"]):
        inside = bound + eps if bound == row["ci_low"] else bound - eps
        outside = bound - eps if bound == row["ci_low"] else bound + eps
        assert ds.pvalue(inside, studentized=True) > 0.05
        assert ds.pvalue(outside, studentized=True) <= 0.05


# --------------------------------------------------------------------------------------------------
# brute force on a small matched-pair design (dummy-variable WLS, explicit enumeration)
# --------------------------------------------------------------------------------------------------
def _small_panel(seed=3, pairs=6, covariate=True, effect=0.4):
    d = matched_pair_panel(pairs=pairs, households=4, effect=effect, seed=seed)
    if not covariate:
        d = d.drop(columns="x1")
    return d


def _dummy_design(d, treated_col="treated", covariates=("x1",)):
    unit = pd.get_dummies(d["village_id"], dtype=float)
    pp = pd.get_dummies(d["pair_id"].astype(str) + "x" + d["wave"].astype(str), dtype=float)
    D = (d[treated_col] * d["post"]).to_numpy(dtype=float)
    cov = [d[c].to_numpy(dtype=float) for c in covariates]
    X = np.column_stack([D, *cov, unit.to_numpy(), pp.to_numpy()[:, 1:]])
    # drop exactly collinear dummy columns (one per pair beyond the first): keep a full-rank set
    _q, r = np.linalg.qr(X)
    keep = np.abs(np.diag(r)) > 1e-9
    return X[:, keep]


def _wls_cr1_t(X, y, w, cluster, k_ssc, null=0.0):
    sw = np.sqrt(w)
    Xs, ys = X * sw[:, None], y * sw
    A = np.linalg.inv(Xs.T @ Xs)
    b = A @ Xs.T @ ys
    e = ys - Xs @ b
    G = cluster.max() + 1
    s = np.zeros((G, X.shape[1]))
    np.add.at(s, cluster, Xs * e[:, None])
    n = len(y)
    v = G / (G - 1) * (n - 1) / (n - k_ssc) * A @ s.T @ s @ A
    return b[0], (b[0] - null) / np.sqrt(v[0, 0])


def test_ri_matches_explicit_enumeration():
    d = _small_panel()
    res = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                   pair="pair_id", weights="weight", covariates=["x1"], inference=("ri",), null=0.1)
    pair_codes = pd.factorize(d["pair_id"], sort=True)[0]
    y, w = d["y"].to_numpy(), d["weight"].to_numpy()
    k_ssc = 2 + 1
    beta_obs, t_obs = _wls_cr1_t(_dummy_design(d), y - 0.1 * (d["treated"] * d["post"]).to_numpy(), w,
                                 pair_codes, k_ssc)
    betas, ts = [], []
    D_obs = (d["treated"] * d["post"]).to_numpy(dtype=float)
    for signs in itertools.product([0, 1], repeat=6):
        dd = d.copy()
        swap = np.asarray(signs)[pair_codes] == 1
        dd.loc[swap, "treated"] = 1 - dd.loc[swap, "treated"]
        b, t = _wls_cr1_t(_dummy_design(dd), y - 0.1 * D_obs, w, pair_codes, k_ssc)
        betas.append(b)
        ts.append(t)
    betas, ts = np.abs(betas), np.abs(ts)
    p_coef = np.mean(betas >= abs(beta_obs) * (1 - 1e-9))
    p_t = np.mean(ts >= abs(t_obs) * (1 - 1e-9))
    assert _row(res, "ri")["p_value"] == pytest.approx(p_coef, abs=1e-12)
    assert _row(res, "ri_t")["p_value"] == pytest.approx(p_t, abs=1e-12)
    assert _row(res, "ri")["draws"] == 64


def test_wild_matches_explicit_enumeration():
    d = _small_panel(seed=5)
    null = 0.2
    res = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                   pair="pair_id", weights="weight", covariates=["x1"], inference=("wild",), null=null)
    pair_codes = pd.factorize(d["pair_id"], sort=True)[0]
    y, w = d["y"].to_numpy(), d["weight"].to_numpy()
    X = _dummy_design(d)
    sw = np.sqrt(w)
    # restricted fit (β_D = null) by WLS with dummies
    Xr, yr = X[:, 1:] * sw[:, None], (y - null * X[:, 0]) * sw
    gam = np.linalg.lstsq(Xr, yr, rcond=None)[0]
    u = y - null * X[:, 0] - X[:, 1:] @ gam  # raw-scale restricted residuals
    fitted = y - u
    _, t_obs = _wls_cr1_t(X, y, w, pair_codes, 3, null=null)
    tstar = []
    for signs in itertools.product([-1.0, 1.0], repeat=6):
        v = np.asarray(signs)[pair_codes]
        _, t = _wls_cr1_t(X, fitted + u * v, w, pair_codes, 3, null=null)
        tstar.append(t)
    a = np.abs(tstar)
    tol = 1e-9 * abs(t_obs)
    p = (np.sum(a > abs(t_obs) + tol) + 0.5 * np.sum(np.abs(a - abs(t_obs)) <= tol)) / a.size
    row = _row(res, "wild")
    assert row["statistic"] == pytest.approx(t_obs, rel=1e-9)
    assert row["p_value"] == pytest.approx(p, abs=1e-12)


def test_ri_ci_by_inversion_matches_brute_force():
    d = _small_panel(seed=7, covariate=False)
    res = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                   pair="pair_id", inference=("ri",))
    row = _row(res, "ri")
    ds = res.draws[("D", "ri")]
    # brute force p(r) at points just inside / outside each bound
    pair_codes = pd.factorize(d["pair_id"], sort=True)[0]
    y = d["y"].to_numpy()
    D_obs = (d["treated"] * d["post"]).to_numpy(dtype=float)
    designs = []
    for signs in itertools.product([0, 1], repeat=6):
        dd = d.copy()
        swap = np.asarray(signs)[pair_codes] == 1
        dd.loc[swap, "treated"] = 1 - dd.loc[swap, "treated"]
        designs.append(_dummy_design(dd, covariates=()))

    def brute_p(r):
        yr = y - r * D_obs
        b = np.array([np.linalg.lstsq(X, yr, rcond=None)[0][0] for X in designs])
        obs = np.linalg.lstsq(_dummy_design(d, covariates=()), yr, rcond=None)[0][0]
        return np.mean(np.abs(b) >= abs(obs) * (1 - 1e-9))

    span = row["ci_high"] - row["ci_low"]
    for bound, sign in ((row["ci_low"], 1), (row["ci_high"], -1)):
        assert brute_p(bound + sign * 1e-6 * span) > 0.05
        assert brute_p(bound - sign * 1e-6 * span) <= 0.05
        assert ds.pvalue(bound + sign * 1e-6 * span, studentized=False) == pytest.approx(
            brute_p(bound + sign * 1e-6 * span))


# --------------------------------------------------------------------------------------------------
# matched-pair specification: absorption equals dummies; CR1 equals fixest's convention
# --------------------------------------------------------------------------------------------------
def test_matched_pair_equals_dummy_regression_and_cr1():
    d = _small_panel(seed=11, pairs=7)
    res = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="hh_id",
                   pair="pair_id", weights="weight", covariates=["x1"], inference=("cr1",))
    pair_codes = pd.factorize(d["pair_id"], sort=True)[0]
    hh = pd.get_dummies(d["hh_id"], dtype=float).to_numpy()
    pp = pd.get_dummies(d["pair_id"].astype(str) + "x" + d["wave"].astype(str), dtype=float).to_numpy()
    D = (d["treated"] * d["post"]).to_numpy(dtype=float)
    X = np.column_stack([D, d["x1"], hh, pp])
    _q, r = np.linalg.qr(X)
    X = X[:, np.abs(np.diag(r)) > 1e-9]
    # fixest nested convention: all FE nested in pairs -> K = 2 coefficients + 1
    b, t = _wls_cr1_t(X, d["y"].to_numpy(), d["weight"].to_numpy(), pair_codes, 3)
    row = _row(res, "cr1")
    assert row["estimate"] == pytest.approx(b, rel=1e-10)
    assert row["statistic"] == pytest.approx(t, rel=1e-10)
    assert row["df"] == 6
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), 6), rel=1e-10)


def test_pooled_three_waves_by_wave_and_two_waves_agree_on_two_wave_data():
    d = matched_pair_panel(pairs=8, households=5, seed=2, effect=0.5)
    two = d[d["wave"].isin(["baseline", "endline"])].copy()
    two["wave"] = two["wave"].cat.remove_unused_categories()
    a = estimate(two, outcome="y", treated="treated", post="post", unit="village_id", pair="pair_id",
                 inference=("cr1",))
    b = estimate(two, outcome="y", treated="treated", post="wave", unit="village_id", pair="pair_id",
                 inference=("cr1",))
    assert b.terms == ["D[endline]"]
    assert _row(a, "cr1")["estimate"] == pytest.approx(_row(b, "cr1", "D[endline]")["estimate"], rel=1e-12)
    three = estimate(d, outcome="y", treated="treated", post="wave", unit="village_id", pair="pair_id",
                     inference=("cr1", "ri"), draws=2**8)
    assert three.terms == ["D[midline]", "D[endline]"]
    assert three.tidy().shape[0] == 2 * 3


def test_result_object_api():
    d = matched_pair_panel(pairs=6, households=3, seed=4, effect=0.5)
    res = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                   pair="pair_id", weights="weight", inference=("cr1", "cr2", "cr3", "wild", "ri"))
    tab = res.tidy()
    for col in ("term", "estimate", "std_error", "method", "df", "statistic", "p_value", "ci_low", "ci_high",
                "n_obs", "n_clusters"):
        assert col in tab.columns
    assert list(tab["method"]) == ["cr1", "cr2", "cr3", "wild", "ri", "ri_t"]
    assert (tab["ci_low"] < tab["estimate"]).all() and (tab["ci_high"] > tab["estimate"]).all()
    assert "matched pairs" in res.summary()
    assert "<table" in res._repr_html_()
    v = res.vcov("cr1")
    assert v.loc["D", "D"] == pytest.approx(tab.loc[0, "std_error"] ** 2)
    infl = res.influence()
    assert len(infl) == 6
    # CR3 is the sum of squared leave-one-pair-out changes
    assert np.sqrt((infl["change"] ** 2).sum()) == pytest.approx(tab.loc[2, "std_error"], rel=1e-10)
    ax = res.plot()
    assert ax is not None


def test_results_do_not_depend_on_row_order():
    d = matched_pair_panel(pairs=6, households=3, seed=8, effect=0.5)
    a = estimate(d, outcome="y", treated="treated", post="post", unit="village_id", pair="pair_id",
                 period="wave", weights="weight", inference=("cr1", "cr2", "wild", "ri")).tidy()
    b = estimate(d.sample(frac=1, random_state=1), outcome="y", treated="treated", post="post",
                 unit="village_id", pair="pair_id", period="wave", weights="weight",
                 inference=("cr1", "cr2", "wild", "ri")).tidy()
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)


# --------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def panel():
    return matched_pair_panel(pairs=5, households=2, seed=9)


def _fit(d, **kw):
    args = dict(outcome="y", treated="treated", post="post", period="wave", unit="village_id", pair="pair_id",
                inference=("cr1",))
    args.update(kw)
    return estimate(d, **args)


def test_missing_village_in_a_pair_is_an_error(panel):
    d = panel[~((panel["pair_id"] == 3) & (panel["treated"] == 0))]
    with pytest.raises(ValueError, match="pair 3: no comparison"):
        _fit(d)


def test_missing_wave_in_a_pair_is_an_error(panel):
    d = panel[~((panel["pair_id"] == 2) & (panel["treated"] == 1) & (panel["wave"] == "endline"))]
    with pytest.raises(ValueError, match=r"pair 2: no pilot observations in period\(s\) \['endline'\]"):
        _fit(d)


def test_no_variation_in_d(panel):
    d = panel.assign(post=0)
    with pytest.raises(ValueError, match="no variation"):
        _fit(d)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_bad_weights(panel, bad):
    d = panel.copy()
    d.loc[3, "weight"] = bad
    with pytest.raises(ValueError, match="weight"):
        _fit(d, weights="weight")


def test_missing_outcome_needs_dropna(panel):
    d = panel.copy()
    d.loc[0, "y"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        _fit(d)
    res = _fit(d, dropna=True)
    assert res.nobs == len(d) - 1
    assert any("dropped" in n for n in res.notes())


def test_time_invariant_covariate_is_singular(panel):
    d = panel.assign(z=panel["pair_id"] * 1.0)
    with pytest.raises(ValueError, match="singular"):
        _fit(d, covariates=["z"])


def test_collinear_covariates_are_singular(panel):
    d = panel.assign(z=panel["x1"] * 2.0)
    with pytest.raises(ValueError, match="singular"):
        _fit(d, covariates=["x1", "z"])


def test_fewer_than_two_clusters(panel):
    d = panel[panel["pair_id"] == 1]
    with pytest.raises(ValueError, match="fewer than 2 clusters"):
        _fit(d)


def test_treated_varying_within_unit(panel):
    d = panel.copy()
    d.loc[d.index[0], "treated"] = 1 - d.loc[d.index[0], "treated"]
    with pytest.raises(ValueError, match="varies within unit"):
        _fit(d)


def test_unit_or_pair_alone_is_an_error(panel):
    with pytest.raises(ValueError, match="both unit"):
        estimate(panel, outcome="y", treated="treated", post="post", unit="village_id")


def test_ri_needs_pairs(kielmc):
    kielmc = kielmc.assign(c=np.arange(len(kielmc)) % 10)
    with pytest.raises(ValueError, match="'ri' needs"):
        estimate(kielmc, outcome="rprice", treated="nearinc", post="y81", cluster="c", inference=("ri",))


def test_unknown_method(panel):
    with pytest.raises(ValueError, match="unknown method"):
        _fit(panel, inference=("cr9",))


def test_jackknife_and_webb_weights():
    d = matched_pair_panel(pairs=7, households=3, seed=14, effect=0.5)
    res = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                   pair="pair_id", inference=("cr3", "jackknife"))
    loo = res.influence()["estimate_without"].to_numpy()
    jk = np.sqrt(6 / 7 * np.sum((loo - loo.mean()) ** 2))
    tab = res.tidy().set_index("method")
    assert tab.loc["jackknife", "std_error"] == pytest.approx(jk, rel=1e-12)
    assert tab.loc["jackknife", "std_error"] <= tab.loc["cr3", "std_error"] + 1e-15
    # Webb six-point weights: random draws (2^7 enumeration is only for Rademacher), reproducible by seed
    a = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                 pair="pair_id", inference=("wild",), wild_weights="webb", draws=999, seed=3).tidy()
    b = estimate(d, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                 pair="pair_id", inference=("wild",), wild_weights="webb", draws=999, seed=3).tidy()
    assert a.loc[0, "draws"] == 999
    assert a.loc[0, "p_value"] == b.loc[0, "p_value"]
    assert 0 < a.loc[0, "p_value"] < 1


def test_string_waves_are_in_survey_order():
    d = matched_pair_panel(pairs=5, households=2, seed=1, effect=0.5)
    d["wave"] = d["wave"].astype(str).astype("string")
    d["village_id"] = d["village_id"].astype("string")
    res = estimate(d, outcome="y", treated="treated", post="wave", unit="village_id", pair="pair_id",
                   inference=("cr1",))
    assert res.terms == ["D[midline]", "D[endline]"]
