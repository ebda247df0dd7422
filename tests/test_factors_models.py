"""Success measures, bivariate CR2 associations (vs clubSandwich) and all-subsets regression."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from welfare_eval.factors.models import all_subsets, associations, cr2_test, success_measures


@pytest.fixture(scope="module")
def cr2(fixtures):
    ref = json.loads((fixtures / "factors" / "cr2.json").read_text())
    data = pd.read_csv(fixtures / "factors" / "cr2_data.csv")
    return ref, data


def test_cr2_satterthwaite_matches_clubsandwich(cr2):
    ref, d = cr2
    x = np.column_stack([np.ones(len(d)), d["x1"], d["x2"]])
    for j in range(3):
        b, se, df = cr2_test(x, d["y"].to_numpy(), d["pair"].to_numpy(), j)
        assert b == pytest.approx(ref["pair"]["beta"][j], rel=1e-10)
        assert se == pytest.approx(ref["pair"]["se"][j], rel=1e-10)
        assert df == pytest.approx(ref["pair"]["df"][j], rel=1e-10)
        b, se, df = cr2_test(x, d["y"].to_numpy(), None, j)
        assert se == pytest.approx(ref["village"]["se"][j], rel=1e-10)
        assert df == pytest.approx(ref["village"]["df"][j], rel=1e-10)


def test_associations_standardised_slope_and_p(cr2):
    ref, d = cr2
    res = associations(d, outcome="y", predictors=["x1", "x2"], cluster="pair")
    t = res.tidy().set_index("predictor")
    assert t.loc["x1", "estimate"] == pytest.approx(np.corrcoef(d["x1"], d["y"])[0, 1], rel=1e-12)
    # t, df and p do not change with standardisation: compare with clubSandwich on the raw scale
    assert t.loc["x1", "df"] == pytest.approx(ref["bivariate_pair"]["df"][1], rel=1e-10)
    assert t.loc["x1", "p_value"] == pytest.approx(ref["bivariate_pair"]["p"][1], rel=1e-8)
    p = t["p_value"].to_numpy()
    assert t["p_holm"].to_numpy() == pytest.approx(np.minimum(1, np.maximum.accumulate(np.sort(p) * [2, 1]))[
        np.argsort(np.argsort(p))])
    assert (t["p_bh"] <= t["p_holm"] + 1e-15).all()
    assert "CR2 clustered on pair" in res.summary()


def test_all_subsets_brute_force():
    rng = np.random.default_rng(5)
    n = 36
    d = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "e"])
    d["y"] = 0.8 * d["a"] + 0.4 * d["b"] + rng.normal(size=n)
    res = all_subsets(d, outcome="y", predictors=["a", "b", "c", "e"], max_size=2)
    assert len(res.models) == 1 + 4 + 6
    z = (d - d.mean()) / d.std()
    crit = {}
    for k in range(3):
        for s in combinations(["a", "b", "c", "e"], k):
            f = sm.OLS(z["y"], np.ones(n) if k == 0 else sm.add_constant(z[list(s)])).fit()
            kk = k + 2
            crit["+".join(s)] = -2 * f.llf + 2 * kk + 2 * kk * (kk + 1) / (n - kk - 1)
    m = res.models.set_index("predictors")
    for key, v in crit.items():
        assert m.loc[key, "aicc"] == pytest.approx(v, rel=1e-10)
    w = np.exp(-(pd.Series(crit) - min(crit.values())) / 2)
    w = w / w.sum()
    for key in crit:
        assert m.loc[key, "weight"] == pytest.approx(w[key], rel=1e-10)
    t = res.tidy().set_index("predictor")
    assert t.loc["a", "inclusion"] == pytest.approx(w[[k for k in w.index if "a" in k.split("+")]].sum())
    assert set(t.index[:2]) == {"a", "b"} and t.loc["a", "inclusion"] > 0.95
    assert res.models.iloc[0]["predictors"] == "a+b"
    assert "confidence set" in res.summary()


def test_all_subsets_default_size_is_honest():
    rng = np.random.default_rng(1)
    d = pd.DataFrame(rng.normal(size=(18, 6)), columns=list("abcdef"))
    res = all_subsets(d, outcome="a", predictors=list("bcdef"))
    assert res.max_size == 1 and len(res.models) == 6


def _toy_tables():
    villages = pd.DataFrame(
        {"village_id": ["01", "02", "03", "04"], "arm": ["pilot", "comparison", "pilot", "comparison"],
         "pair_id": [1, 1, 2, 2]}
    )
    rows = []
    # (village, wave, member, weight)
    spec = {
        ("01", "baseline"): [(1, 1.0), (0, 1.0)], ("01", "endline"): [(1, 1.0), (1, 3.0)],
        ("02", "baseline"): [(0, 2.0), (1, 2.0)], ("02", "endline"): [(1, 1.0), (0, 1.0)],
        ("03", "baseline"): [(0, 1.0), (0, 1.0)], ("03", "endline"): [(1, 1.0), (0, 3.0)],
        ("04", "baseline"): [(0, 1.0), (1, 1.0)], ("04", "endline"): [(0, 1.0), (1, 1.0)],
    }
    for (v, wv), hh in spec.items():
        for m, w in hh:
            rows.append({"village_id": v, "wave": wv, "member_welfare_fund": m, "design_weight": w, "interviewed": 1})
    rows.append({"village_id": "01", "wave": "endline", "member_welfare_fund": 0, "design_weight": 9.0,
                 "interviewed": 0})
    hh = pd.DataFrame(rows)
    benefits = pd.DataFrame(
        {"village_id": ["01", "01", "01", "02", "03", "04"], "wave": ["endline"] * 6,
         "welfare_type": ["illness", "death", "illness", "illness", "elderly", "elderly"],
         "received": [1, 1, 1, 0, 1, 0]}
    )
    admin = pd.DataFrame(
        {"village_id": ["01", "01", "02", "03", "04"], "year": [2024, 2025, 2025, 2025, 2025],
         "members": [100, 200, 50, 10, 20], "alloc_welfare": [1000.0, 3000.0, 500.0, 0.0, 100.0]}
    )
    return villages, hh, benefits, admin


def test_success_measures_by_hand():
    villages, hh, benefits, admin = _toy_tables()
    s = success_measures(hh, villages=villages, benefits=benefits, admin=admin).set_index("village_id")
    assert s.loc["01", "coverage_baseline"] == 0.5
    assert s.loc["01", "coverage_endline"] == 1.0  # the non-interviewed row is not used
    assert s.loc["03", "coverage_endline"] == 0.25
    assert s.loc["01", "coverage_change"] == 0.5
    # DiD: pilot 01 change 0.5 minus comparison 02 change (0.5 - 0.5 = 0) = 0.5; pilot 03: 0.25 - 0
    assert s.loc["01", "did_effect"] == 0.5
    assert s.loc["03", "did_effect"] == 0.25
    assert np.isnan(s.loc["02", "did_effect"])
    assert s.loc["01", "n_welfare_types"] == 2 and s.loc["02", "n_welfare_types"] == 0
    assert s.loc["01", "welfare_fund_per_member"] == 15.0  # latest year 2025: 3000 / 200
    with pytest.raises(ValueError, match="member_welfare_fund"):
        success_measures(hh.drop(columns="member_welfare_fund"), villages=villages)


def test_moderation_equals_pair_fe_interaction():
    """The slope of the pilots' own DiD effect on a factor equals the treated×post×factor coefficient of
    y ~ unit FE + pair×period FE + D + D×f on village means (1:1 pairs, two periods)."""
    from welfare_eval.factors.models import moderation

    rng = np.random.default_rng(8)
    rows = []
    f = rng.normal(size=18)
    for j in range(18):
        for arm in ("pilot", "comparison"):
            base = rng.normal()
            for post in (0, 1):
                d = int(arm == "pilot" and post == 1)
                y = base + 0.3 * post + d * (0.5 + 0.2 * f[j]) + rng.normal(scale=0.3)
                rows.append({"village_id": f"{j:02d}{arm[0]}", "pair_id": j + 1, "arm": arm, "post": post,
                             "y": y, "f": f[j]})
    panel = pd.DataFrame(rows)
    w = panel.pivot_table(index=["village_id", "pair_id", "arm", "f"], columns="post", values="y").reset_index()
    w["change"] = w[1] - w[0]
    comp = w[w["arm"] == "comparison"].set_index("pair_id")["change"]
    w["did_effect"] = np.where(w["arm"] == "pilot", w["change"] - w["pair_id"].map(comp), np.nan)
    mod = moderation(w, predictors=["f"]).tidy().iloc[0]
    panel["D"] = ((panel["arm"] == "pilot") & (panel["post"] == 1)).astype(float)
    panel["Df"] = panel["D"] * (panel["f"] - f.mean())
    X = pd.concat(
        [panel[["D", "Df"]], pd.get_dummies(panel["village_id"], dtype=float),
         pd.get_dummies(panel["pair_id"], dtype=float).mul(panel["post"], axis=0).add_prefix("post_pair")],
        axis=1,
    )
    assert np.linalg.matrix_rank(X.to_numpy()) == X.shape[1]  # unit FE + pair x period FE, full rank
    fit = sm.OLS(panel["y"], X).fit()
    assert mod["estimate"] == pytest.approx(fit.params["Df"], rel=1e-9)
    assert mod["n"] == 18


def test_all_subsets_plot():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(2)
    d = pd.DataFrame(rng.normal(size=(30, 4)), columns=list("yabc"))
    ax = all_subsets(d, outcome="y", predictors=list("abc")).plot()
    assert len(ax.patches) == 3


def test_permutation_p_value():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"x": rng.normal(size=20)})
    d["y"] = 0.9 * d["x"] + rng.normal(scale=0.5, size=20)
    d["z"] = rng.normal(size=20)
    t = associations(d, outcome="y", predictors=["x", "z"], n_perm=499).tidy().set_index("predictor")
    assert t.loc["x", "p_perm"] == pytest.approx(1 / 500)
    assert 0.02 < t.loc["z", "p_perm"] <= 1
    # exact enumeration on 5 rows: the permutation p-value of |r| counts permutations with |r*| >= |r|
    from itertools import permutations

    small = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [1.2, 1.9, 3.4, 3.9, 5.5]})
    r0 = abs(np.corrcoef(small["x"], small["y"])[0, 1])
    exact = np.mean([abs(np.corrcoef(p, small["y"])[0, 1]) >= r0 - 1e-12 for p in permutations(small["x"])])
    est = associations(small, outcome="y", predictors=["x"], n_perm=4000, seed=1).tidy()["p_perm"].iloc[0]
    assert est == pytest.approx(exact, abs=0.01)


def test_moderation_did_agrees_with_pair_level_moderation():
    """Two independent routes: welfare_eval.did.estimate (FE absorption, CR2 on pairs) and the pair-level
    regression of the pilots' own DiD effect (HC2 on 18 pilots) give the same estimate, SE and df."""
    pytest.importorskip("welfare_eval.did")
    from welfare_eval.factors.models import moderation, moderation_did

    rng = np.random.default_rng(8)
    rows = []
    f = rng.normal(size=18)
    g = rng.normal(size=18)
    for j in range(18):
        for arm in ("pilot", "comparison"):
            base = rng.normal()
            for post in (0, 1):
                d = int(arm == "pilot" and post == 1)
                y = base + 0.3 * post + d * (0.5 + 0.2 * f[j]) + rng.normal(scale=0.3)
                rows.append({"village_id": f"{j:02d}{arm[0]}", "pair_id": j + 1, "treated": int(arm == "pilot"),
                             "post": post, "y": y})
    panel = pd.DataFrame(rows)
    scores = pd.DataFrame({"village_id": [f"{j:02d}{a}" for j in range(18) for a in "pc"],
                           "f": np.repeat(f, 2), "g": np.repeat(g, 2)})
    md = moderation_did(panel, scores=scores, predictors=["f", "g"], outcome="y").tidy().set_index("predictor")
    w = panel.pivot_table(index=["village_id", "pair_id", "treated"], columns="post", values="y").reset_index()
    w["change"] = w[1] - w[0]
    comp = w[w["treated"] == 0].set_index("pair_id")["change"]
    w["did_effect"] = np.where(w["treated"] == 1, w["change"] - w["pair_id"].map(comp), np.nan)
    w = w.merge(scores, on="village_id")
    mv = moderation(w, predictors=["f", "g"]).tidy().set_index("predictor")
    for col in ("estimate", "std_error", "df"):
        np.testing.assert_allclose(md[col], mv[col], rtol=1e-8)
