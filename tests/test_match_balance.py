"""Balance diagnostics against plain-R fixtures (tests/reference/match/make_balance.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.match import (
    balance_table,
    balance_tests,
    joint_balance_test,
    permutation_balance_test,
)

COVS = ["income", "farm", "members"]


@pytest.fixture(scope="module")
def data(fixtures) -> pd.DataFrame:
    return pd.read_csv(fixtures / "match" / "balance_data.csv", dtype={"id": str})


@pytest.mark.parametrize("weighted", [False, True])
def test_balance_table_matches_r(data, fixtures, weighted) -> None:
    ref = pd.read_csv(fixtures / "match" / "balance_stats.csv")
    ref = ref[ref["weighted"] == weighted].set_index("covariate")
    got = balance_table(data, treat="treat", covariates=COVS, weights="w" if weighted else None)
    for col in ["mean_treated", "mean_control", "sd_treated", "sd_control", "smd", "variance_ratio", "ks"]:
        np.testing.assert_allclose(
            got.loc[COVS, col], ref.loc[COVS, col], rtol=1e-10, atol=1e-12, err_msg=col
        )
    assert got.loc["farm", "type"] == "binary" and got.loc["income", "type"] == "continuous"
    assert got.loc["members", "n_treated"] == int(data["treat"].sum())


def test_balance_table_hand_formula_and_scale_invariance(data) -> None:
    t = data[data["treat"] == 1]["income"].to_numpy()
    c = data[data["treat"] == 0]["income"].to_numpy()
    smd = (t.mean() - c.mean()) / np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2)
    got = balance_table(data, treat="treat", covariates=["income"])
    assert got.loc["income", "smd"] == pytest.approx(smd, rel=1e-12)
    assert got.loc["income", "sd_pooled"] == pytest.approx(
        np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2), rel=1e-12
    )
    # equal weights = unweighted; rescaled weights change nothing
    eq = balance_table(data, treat="treat", covariates=COVS, weights=np.full(len(data), 3.7))
    pd.testing.assert_frame_equal(eq, balance_table(data, treat="treat", covariates=COVS), rtol=1e-12)
    w1 = balance_table(data, treat="treat", covariates=COVS, weights="w")
    w2 = balance_table(data, treat="treat", covariates=COVS, weights=data["w"].to_numpy() * 100)
    pd.testing.assert_frame_equal(w1, w2, rtol=1e-12)
    # binary: KS = |p_t - p_c|
    b = balance_table(data, treat="treat", covariates=["farm"])
    assert b.loc["farm", "ks"] == pytest.approx(abs(b.loc["farm", "mean_diff"]), rel=1e-12)


def test_balance_flags_and_bad_input(data) -> None:
    got = balance_table(data, treat="treat", covariates=COVS)
    assert (got["smd_gt_0_1"] == (got["smd"].abs() > 0.1)).all()
    assert (got["smd_gt_0_25"] == (got["smd"].abs() > 0.25)).all()
    with pytest.raises(ValueError, match="not in the data"):
        balance_table(data, treat="treat", covariates=["nope"])
    with pytest.raises(ValueError, match="non-negative"):
        balance_table(data, treat="treat", covariates=COVS, weights=-data["w"])
    with pytest.raises(ValueError, match="both treated"):
        balance_table(data.assign(treat=1), treat="treat", covariates=COVS)
    d = data.copy()
    d.loc[d.index[:3], "income"] = np.nan
    nm = balance_table(d, treat="treat", covariates=["income"])
    assert nm.loc["income", "n_treated"] + nm.loc["income", "n_control"] == len(d) - 3


SPECS = {
    "ols": {},
    "hc1_weighted": {"weights": "w", "vce": "hc1"},
    "cluster_region": {"cluster": "region"},
    "cluster_region_fe_weighted": {"weights": "w", "cluster": "region", "fixed_effects": "region"},
    "ols_fe": {"fixed_effects": "region"},
}


@pytest.mark.parametrize("spec", list(SPECS))
def test_balance_tests_match_r(data, fixtures, spec) -> None:
    ref = pd.read_csv(fixtures / "match" / "balance_tests.csv")
    ref = ref[ref["spec"] == spec].set_index("covariate")
    res = balance_tests(data, treat="treat", covariates=COVS, **SPECS[spec])
    tab = res.table
    for col, rcol in [("estimate", "diff"), ("std_error", "se_diff"), ("df", "df"), ("p_value", "p_value")]:
        np.testing.assert_allclose(tab.loc[COVS, col], ref.loc[COVS, rcol], rtol=1e-8, err_msg=col)
    np.testing.assert_allclose(res.joint["F"], ref.loc[".joint", "diff"], rtol=1e-8)
    np.testing.assert_allclose(res.joint["df_denom"], ref.loc[".joint", "df"])
    np.testing.assert_allclose(res.joint["p_value"], ref.loc[".joint", "p_value"], rtol=1e-8)


def test_group_means_and_se(data) -> None:
    res = balance_tests(data, treat="treat", covariates=COVS)
    x = data.loc[data["treat"] == 0, "members"]
    assert res.table.loc["members", "mean_control"] == pytest.approx(x.mean(), rel=1e-12)
    assert res.table.loc["members", "se_control"] == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)), rel=1e-10)
    # without fixed effects the difference is the difference of (weighted) means
    bt = balance_table(data, treat="treat", covariates=COVS, weights="w")
    rw = balance_tests(data, treat="treat", covariates=COVS, weights="w")
    np.testing.assert_allclose(rw.table["estimate"], bt["mean_diff"], rtol=1e-10)


def test_exports(data, tmp_path) -> None:
    res = balance_tests(data, treat="treat", covariates=COVS, cluster="region")
    csv = pd.read_csv(res.to_csv(tmp_path / "b.csv"), index_col=0)
    assert list(csv.index[:3]) == COVS and csv.index[-1].startswith("F-test")
    xl = pd.read_excel(res.to_excel(tmp_path / "b.xlsx"), sheet_name="balance", index_col=0)
    np.testing.assert_allclose(xl.loc[COVS, "p_value"], res.table["p_value"])
    html = res.to_html(tmp_path / "b.html")
    assert "<table" in html and (tmp_path / "b.html").read_text(encoding="utf-8") == html
    assert "clustered by region" in res.summary()


def test_permutation_test(data) -> None:
    shuffled = data.sample(frac=1, random_state=2).reset_index(drop=True)
    r2 = permutation_balance_test(shuffled, treat="treat", covariates=COVS, n_perm=400, seed=1, id_col="id")
    r1 = permutation_balance_test(data, treat="treat", covariates=COVS, n_perm=400, seed=1, id_col="id")
    assert r1 == r2  # canonical order: row order does not matter
    assert 0 < r1["p_value"] <= 1
    # statistic is the Mahalanobis distance between group means (hand formula)
    x = data[COVS].to_numpy(float)
    d = x[data["treat"] == 1].mean(0) - x[data["treat"] == 0].mean(0)
    assert r1["statistic"] == pytest.approx(d @ np.linalg.solve(np.cov(x, rowvar=False), d), rel=1e-10)
    # under a randomised treatment the p-value is not systematically small
    rng = np.random.default_rng(0)
    ps = [
        permutation_balance_test(
            data.assign(treat=rng.permutation(data["treat"].to_numpy())),
            treat="treat",
            covariates=COVS,
            n_perm=99,
            strata="region",
            seed=s,
        )["p_value"]
        for s in range(20)
    ]
    assert np.mean(ps) > 0.25
    # the planted imbalance is detected: joint F and permutation agree in direction
    assert joint_balance_test(data, treat="treat", covariates=COVS)["p_value"] < 0.2


def test_permutation_within_pairs_agrees_with_full_enumeration() -> None:
    import itertools

    rng = np.random.default_rng(3)
    m = 8
    d = pd.DataFrame(
        {
            "village_id": [f"{i:08d}" for i in range(2 * m)],
            "pair_id": np.repeat(np.arange(m), 2),
            "treat": np.tile([1, 0], m),
            "a": rng.normal(size=2 * m),
            "b": rng.normal(size=2 * m),
        }
    )
    d.loc[d["treat"] == 1, "a"] += 0.6
    x = d[["a", "b"]].to_numpy()
    sinv = np.linalg.inv(np.cov(x, rowvar=False))

    def stat(t: np.ndarray) -> float:
        dd = x[t == 1].mean(0) - x[t == 0].mean(0)
        return float(dd @ sinv @ dd)

    obs = stat(d["treat"].to_numpy())
    allstats = []
    for flips in itertools.product([0, 1], repeat=m):
        t = np.array([v for f in flips for v in ((1, 0) if f == 0 else (0, 1))])
        allstats.append(stat(t))
    exact = np.mean(np.array(allstats) >= obs - 1e-12)
    got = permutation_balance_test(
        d, treat="treat", covariates=["a", "b"], strata="pair_id", n_perm=4000, seed=5
    )
    assert got["statistic"] == pytest.approx(obs, rel=1e-12)
    assert abs(got["p_value"] - exact) < 4 * np.sqrt(exact * (1 - exact) / 4000) + 1e-3
