"""Reliability, factor scores and village aggregation vs psych fixtures (tests/reference/factors)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from welfare_eval.factors import scales
from welfare_eval.reference import success_factor_items


@pytest.fixture(scope="module")
def ref(fixtures):
    return json.loads((fixtures / "factors" / "reliability.json").read_text())


@pytest.fixture(scope="module")
def items(fixtures):
    return pd.read_csv(fixtures / "factors" / "reliability_items.csv")


def test_alpha_and_feldt_match_psych(ref, items):
    r = scales.reliability(items)
    assert r.alpha == pytest.approx(ref["alpha"], rel=1e-10)
    assert r.std_alpha == pytest.approx(ref["std_alpha"], rel=1e-10)
    assert r.alpha_ci[0] == pytest.approx(ref["feldt_lower"], rel=1e-10)
    assert r.alpha_ci[1] == pytest.approx(ref["feldt_upper"], rel=1e-10)
    it = r.tidy()
    np.testing.assert_allclose(it["r_item_rest"], ref["item_r_drop"], rtol=1e-10)
    np.testing.assert_allclose(it["r_item_total"], ref["item_raw_r"], rtol=1e-10)
    np.testing.assert_allclose(it["alpha_if_dropped"], ref["alpha_if_dropped"], rtol=1e-10)
    np.testing.assert_allclose(it["mean"], ref["item_mean"], rtol=1e-12)
    np.testing.assert_allclose(it["sd"], ref["item_sd"], rtol=1e-12)


def test_omega_matches_psych_omega_tot(ref, items):
    """omega = psych::omega(x, nfactors = 1)$omega.tot; psych's minres optimiser stops ~1e-7 short."""
    r = scales.reliability(items)
    assert r.omega == pytest.approx(ref["omega_tot"], abs=1e-6)
    assert r.omega_model == pytest.approx(ref["omega_model"], abs=1e-6)
    np.testing.assert_allclose(r.tidy()["loading"], ref["minres_loadings"], atol=1e-5)
    # our minres optimum is at least as good as psych's (ULS objective over off-diagonal residuals)
    rr = items.corr().to_numpy()
    iu = np.triu_indices(len(rr), 1)

    def obj(lam):
        return float(((rr - np.outer(lam, lam))[iu] ** 2).sum())

    assert obj(r.tidy()["loading"].to_numpy()) <= obj(np.array(ref["minres_loadings"])) + 1e-15
    # omega by its formula from the psych loadings
    lam = np.array(ref["minres_loadings"])
    assert 1 - (1 - lam**2).sum() / ref["sum_R"] == pytest.approx(ref["omega_tot"], rel=1e-10)


def test_feldt_ci_hand():
    from scipy import stats

    lo, hi = scales.feldt_ci(0.8, 101, 5, conf_level=0.9)
    assert lo == pytest.approx(1 - 0.2 * stats.f.ppf(0.95, 100, 400))
    assert hi == pytest.approx(1 - 0.2 * stats.f.ppf(0.05, 100, 400))
    assert lo < 0.8 < hi


def test_alpha_hand_formula_and_missing_counted():
    x = pd.DataFrame({"a": [1, 2, 3, 4, 5, 3], "b": [2, 2, 3, 5, 4, 3], "c": [1, 3, 3, 4, 5, np.nan]})
    r = scales.reliability(x)
    cc = x.dropna()
    k = 3
    alpha = k / (k - 1) * (1 - cc.var().sum() / cc.sum(axis=1).var())
    assert r.alpha == pytest.approx(alpha, rel=1e-12)
    assert r.n == 5 and r.n_dropped == 1
    assert "missing item" in r.summary()


def test_reliability_rejects_bad_input():
    with pytest.raises(ValueError, match="non-numeric"):
        scales.reliability(pd.DataFrame({"a": ["x", "y", "z"], "b": [1, 2, 3], "c": [2, 3, 1]}))
    with pytest.raises(ValueError, match="no variance"):
        scales.reliability(pd.DataFrame({"a": [1, 1, 1, 1], "b": [1, 2, 3, 4], "c": [2, 3, 1, 4]}))


def test_icc_matches_psych_and_anova(fixtures, ref):
    g = pd.read_csv(fixtures / "factors" / "icc_groups.csv")
    b = scales.icc(g[g["design"] == "balanced"], group="village", value="score")
    assert b.icc1 == pytest.approx(ref["icc_balanced_ICC1"], rel=1e-10)
    assert b.icc2 == pytest.approx(ref["icc_balanced_ICC1k"], rel=1e-10)
    u = scales.icc(g[g["design"] == "unbalanced"], group="village", value="score")
    assert u.msb == pytest.approx(ref["unbalanced_msb"], rel=1e-10)
    assert u.msw == pytest.approx(ref["unbalanced_msw"], rel=1e-10)
    assert u.k0 == pytest.approx(ref["unbalanced_k0"], rel=1e-12)
    assert u.icc1 == pytest.approx(ref["unbalanced_icc1"], rel=1e-10)
    assert u.icc2 == pytest.approx(ref["unbalanced_icc2"], rel=1e-10)
    # row order does not matter
    shuffled = g[g["design"] == "unbalanced"].sample(frac=1.0, random_state=3)
    assert scales.icc(shuffled, group="village", value="score").icc1 == pytest.approx(u.icc1, rel=1e-12)


def test_rwg_hand():
    # two items, three raters: variances 1 and 0.333..; mean 2/3; sigma_E^2 = 2 on 5 points
    x = np.array([[3, 4], [4, 4], [5, 5]])
    s2 = (1.0 + 1 / 3) / 2
    ratio = s2 / 2.0
    assert scales.rwg_j(x) == pytest.approx(2 * (1 - ratio) / (2 * (1 - ratio) + ratio))
    assert scales.rwg_j(np.array([[1], [5], [1], [5]])) == 0.0  # more spread than uniform -> truncated
    assert np.isnan(scales.rwg_j(np.array([[3, 3]])))
    assert scales.rwg_j(np.array([[4, 4], [4, 4]])) == 1.0


def _committee(seed=1, n_vill=12):
    rng = np.random.default_rng(seed)
    imap = success_factor_items()
    rows = []
    for v in range(n_vill):
        level = rng.normal(0, 0.7, size=12)
        for m in range(int(rng.integers(3, 7))):
            row = {"village_id": f"1001010{v:01d}" if v < 10 else f"100101{v}", "member": m}
            for _, it in imap.iterrows():
                f = int(imap["factor"].drop_duplicates().tolist().index(it["factor"]))
                z = 3 + level[f] + rng.normal(0, 0.6)
                row[it["item"]] = int(np.clip(np.rint(z), 1, 5))
            rows.append(row)
    return pd.DataFrame(rows)


def test_factor_scores_and_aggregation():
    d = _committee()
    d.loc[0, "fund_1"] = np.nan
    d.loc[1, ["fund_1", "fund_2"]] = np.nan
    s = scales.factor_scores(d, keep=["village_id"])
    assert s.loc[0, "fund"] == pytest.approx(d.loc[0, ["fund_2", "fund_3"]].mean())
    assert np.isnan(s.loc[1, "fund"])  # only 1 of 3 items answered
    agg = scales.aggregate_villages(d)
    v = agg.villages.set_index("village_id")
    vid = d["village_id"].iloc[5]
    assert v.loc[vid, "committee"] == pytest.approx(s.loc[s["village_id"] == vid, "committee"].mean())
    assert v.loc[vid, "n_raters"] == (d["village_id"] == vid).sum()
    t = agg.tidy().set_index("factor")
    assert len(t) == 12
    ic = scales.icc(s, group="village_id", value="policy")
    assert t.loc["policy", "icc1"] == pytest.approx(ic.icc1)
    # planted between-village variance -> clearly positive ICC(1)
    assert (t["icc1"] > 0.2).all()
    assert agg.rwg.shape == (12, 13)


def test_scale_reliability_table_has_bands():
    d = _committee(seed=2, n_vill=15)
    res = scales.scale_reliability(d)
    t = res.tidy()
    assert list(t["factor"]) == list(success_factor_items()["factor"].drop_duplicates())
    assert set(t["group"]) == {"internal", "external"}
    assert t["band"].str.len().gt(0).all()
    assert res.by_factor["fund"].alpha == pytest.approx(t.set_index("factor").loc["fund", "alpha"])


def test_missing_item_columns_named():
    with pytest.raises(ValueError, match="committee_1"):
        scales.factor_scores(pd.DataFrame({"x": [1]}))


def test_reverse_keyed_items(items):
    flipped = items.copy()
    flipped["q2"] = 6 - flipped["q2"]
    r0 = scales.reliability(items)
    r1 = scales.reliability(flipped, reverse=["q2"])
    assert r1.alpha == pytest.approx(r0.alpha, rel=1e-12)
    assert scales.reliability(flipped).alpha < r0.alpha
    with pytest.raises(ValueError, match="reverse-keyed"):
        scales.reliability(items, reverse=["nope"])
