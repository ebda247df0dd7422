"""Design parameters from data (welfare_eval.power.icc / design_parameters): R fixtures, recovery, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from welfare_eval import power as pw
from welfare_eval.power.analytic import build_design


@pytest.fixture(scope="module")
def icc_ref(fixtures) -> tuple[pd.DataFrame, dict]:
    d = pd.read_csv(fixtures / "power" / "icc_data.csv")
    return d, json.loads((fixtures / "power" / "icc.json").read_text())


@pytest.mark.parametrize("which", ["balanced", "unbalanced"])
def test_icc_matches_r(icc_ref, which):
    d, ref = icc_ref
    r = pw.icc(d[d["set"] == which], outcome="y", cluster="cluster")
    want = ref[which]
    assert r.estimate == pytest.approx(want["icc"], rel=1e-10)
    assert r.ci_low == pytest.approx(want["lower"], rel=1e-10)
    assert r.ci_high == pytest.approx(want["upper"], rel=1e-10)
    t = r.tidy()
    if which == "balanced":  # psych::ICC's F test of ICC1
        assert t.loc[0, "statistic"] == pytest.approx(want["F"], rel=1e-10)
        assert t.loc[0, "p_value"] == pytest.approx(want["p"], rel=1e-8)
        assert (t.loc[0, "df_num"], t.loc[0, "df_denom"]) == (want["df1"], want["df2"])
    else:
        assert r.anova["msb"] == pytest.approx(want["msb"], rel=1e-12)
        assert r.anova["msw"] == pytest.approx(want["msw"], rel=1e-12)
        assert r.anova["n0"] == pytest.approx(want["n0"], rel=1e-14)


def test_nested_pair_components_match_r(icc_ref):
    d, ref = icc_ref
    p = pw.design_parameters(d[d["set"] == "nested"], outcome="y", cluster="cluster", pair="pair", draws=0)
    for key in ("icc_pair", "pair_correlation"):
        assert p[key] == pytest.approx(ref["nested_anova"][key], rel=1e-10)  # balanced nested ANOVA
        assert p[key] == pytest.approx(ref["nested"][key], rel=1e-4)  # lme4 REML (optimizer tolerance)
    assert not ref["nested"]["singular"]


TRUTH = {"icc": 0.2, "icc_followup": 0.2, "icc_pair": 0.08, "pair_correlation": 0.4, "pair_correlation_change": 0.4,
         "autocorr_cluster": 0.6, "autocorr_individual": 0.5, "r2_individual": 0.25}
#: Monte Carlo SD of each estimator at 400 pairs × 2 villages × 20 households (30 replications, seeds 100–129).
SD = {"icc": 0.009, "icc_followup": 0.013, "icc_pair": 0.012, "pair_correlation": 0.058,
      "pair_correlation_change": 0.048, "autocorr_cluster": 0.031, "autocorr_individual": 0.0062,
      "r2_individual": 0.0063}
BIG = dict(design="matched_pair_did", clusters=400, per_cluster=20, icc=0.2, autocorr_cluster=0.6,
           autocorr_individual=0.5, pair_correlation=0.4, waves=2, attrition=0.2)


@pytest.fixture(scope="module")
def big_panel() -> pd.DataFrame:
    d = pw.simulate_design(build_design(**BIG), effect=0.0, rng=7)
    d["wave"] = np.where(d["wave"] == 0, "baseline", "endline")
    return d


def test_recovers_the_simulated_components(big_panel):
    p = pw.design_parameters(big_panel, outcome="y", cluster="cluster", pair="pair", unit="hh", wave="wave", draws=0)
    for k, v in TRUTH.items():
        assert abs(p[k] - v) < 4 * SD[k], (k, p[k])
    assert p["mean_cluster_size"] == 20 and p["cv_cluster_size"] == 0
    # without the household id the waves are treated as independent samples
    q = pw.design_parameters(big_panel, outcome="y", cluster="cluster", pair="pair", wave="wave", draws=0)
    assert "autocorr_individual" not in q.values
    assert q["autocorr_cluster"] > p["autocorr_cluster"]  # overlap covariance not removed


@pytest.mark.slow
def test_estimators_are_unbiased_by_simulation():
    """Mean over 30 simulated studies within 3.5 Monte Carlo standard errors of the planted values."""
    des = build_design(**BIG)
    rows = []
    for seed in range(30):
        d = pw.simulate_design(des, effect=0.0, rng=500 + seed)
        rows.append(pw.design_parameters(d, outcome="y", cluster="cluster", pair="pair", unit="hh", wave="wave",
                                         draws=0).values)
    t = pd.DataFrame(rows)
    for k, v in TRUTH.items():
        assert abs(t[k].mean() - v) < 3.5 * t[k].std() / np.sqrt(len(t)) + 1e-3, (k, t[k].mean())


def test_bootstrap_intervals(big_panel):
    sub = big_panel[big_panel["pair"] < 25]
    kw = dict(outcome="y", cluster="cluster", pair="pair", unit="hh", wave="wave", draws=150, seed=3)
    a = pw.design_parameters(sub, **kw).tidy()
    b = pw.design_parameters(sub, **kw).tidy()
    pd.testing.assert_frame_equal(a, b)
    boot = a[a["method"].str.contains("bootstrap")]
    assert set(boot["term"]) >= {"autocorr_cluster", "autocorr_individual", "pair_correlation", "icc_pair"}
    assert (boot["ci_low"] <= boot["estimate"]).all() and (boot["estimate"] <= boot["ci_high"]).all()
    icc_row = a[a["term"] == "icc"].iloc[0]
    assert icc_row["method"] == "anova (F interval)" and icc_row["ci_low"] < icc_row["estimate"] < icc_row["ci_high"]
    assert (a["n_clusters"] == 50).all()


def test_invariant_to_row_order_and_units(big_panel):
    sub = big_panel[big_panel["pair"] < 30]
    kw = dict(cluster="cluster", pair="pair", unit="hh", wave="wave", draws=0)
    a = pw.design_parameters(sub, outcome="y", **kw)
    shuffled = sub.sample(frac=1.0, random_state=1).assign(y=lambda d: 1000.0 + 250.0 * d["y"])
    b = pw.design_parameters(shuffled, outcome="y", **kw)
    for k, v in a.values.items():
        scale = 250.0**2 if k.startswith("sigma2") else 250.0 if k == "sd" else 1.0  # these carry the unit
        assert b[k] == pytest.approx(scale * v, rel=1e-9, abs=1e-12), k


def test_as_dict_feeds_mde(big_panel):
    sub = big_panel[big_panel["pair"] < 40].copy()
    sub["w"] = np.exp(np.random.default_rng(2).normal(0, 0.4, len(sub)))
    p = pw.design_parameters(sub, outcome="y", cluster="cluster", pair="pair", unit="hh", wave="wave",
                             weights="w", draws=0)
    d = p.as_dict("matched_pair_did")
    assert set(d) == {"icc", "autocorr_cluster", "autocorr_individual", "pair_correlation", "cv_cluster_size",
                      "deff_weights", "attrition"}
    assert d["attrition"] == pytest.approx(0.2, abs=0.03)  # simulated with attrition 0.2
    assert p["sd"] == pytest.approx(sub[sub["wave"] == "baseline"]["y"].std(), rel=0.05)
    base = sub[sub["wave"] == "baseline"]
    per = base.groupby("cluster")["w"].agg(lambda w: len(w) * np.sum(w**2) / np.sum(w) ** 2)
    size = base.groupby("cluster").size()
    assert d["deff_weights"] == pytest.approx(float((per * size).sum() / size.sum()))  # within villages
    tot = base.groupby("cluster")["w"].sum()
    assert d["cv_cluster_size"] == pytest.approx(tot.std(ddof=0) / tot.mean())  # summed weights
    r = pw.mde(design="matched_pair_did", clusters=18, per_cluster=30, waves=2, **d)
    assert 0 < r.estimate < 2
    c = p.as_dict("cluster_rct")
    assert set(c) == {"icc", "r2_cluster", "r2_individual", "cv_cluster_size", "deff_weights"}
    assert c["r2_individual"] == pytest.approx(p["autocorr_individual"] ** 2)
    pw.mde(design="cluster_rct", clusters=36, per_cluster=30, **c)
    rc = p.as_dict("repeated_cross_section")
    assert "autocorr_individual" not in rc and "pair_correlation" not in rc
    assert "pair_correlation" in p.as_dict("repeated_cross_section", paired=True)
    with pytest.raises(ValueError, match="design='x'"):
        p.as_dict("x")


def test_negative_icc_is_clipped_for_planning():
    rng = np.random.default_rng(4)
    d = pd.DataFrame({"c": np.repeat(np.arange(20), 5), "y": rng.normal(size=100)})
    d["y"] -= d.groupby("c")["y"].transform("mean") * 0.9  # shrink the cluster means: ICC < 0
    p = pw.design_parameters(d, outcome="y", cluster="c", draws=0)
    assert p["icc"] < 0
    assert p.as_dict("cluster_rct")["icc"] == 0.0
    assert any("negative ICC" in n for n in p.notes())


def test_single_wave_without_pairs():
    rng = np.random.default_rng(9)
    d = pd.DataFrame({"village": np.repeat([f"v{i}" for i in range(30)], rng.integers(5, 40, 30))})
    d["y"] = rng.normal(size=len(d)) + d["village"].map({f"v{i}": rng.normal(0, 0.5) for i in range(30)})
    p = pw.design_parameters(d, outcome="y", cluster="village", draws=50)
    assert set(p.tidy()["term"]) == {"icc", "sd", "mean_cluster_size", "cv_cluster_size"}
    sizes = d.groupby("village").size()
    assert p["cv_cluster_size"] == pytest.approx(sizes.std(ddof=0) / sizes.mean())
    assert p["icc"] == pytest.approx(pw.icc(d, outcome="y", cluster="village").estimate)


def test_bad_input(big_panel):
    d = big_panel[big_panel["pair"] < 5].copy()
    kw = dict(outcome="y", cluster="cluster", draws=0)
    with pytest.raises(ValueError, match=r"data has no column\(s\) \['nope'\]"):
        pw.design_parameters(d, outcome="nope", cluster="cluster")
    bad = d.copy()
    bad.loc[bad.index[0], "y"] = np.nan
    with pytest.raises(ValueError, match="1 row\\(s\\) have missing values"):
        pw.design_parameters(bad, **kw)
    assert any("dropped" in n for n in pw.design_parameters(bad, dropna=True, **kw).notes())
    txt = d.assign(y=d["y"].astype(str))
    txt.loc[txt.index[0], "y"] = "abc"
    with pytest.raises(ValueError, match="must be numeric and finite"):
        pw.design_parameters(txt, **kw)
    two = d.copy()
    two.loc[two.index[0], "pair"] = 99
    with pytest.raises(ValueError, match="appear in more than one 'pair'"):
        pw.design_parameters(two, pair="pair", **kw)
    with pytest.raises(ValueError, match="give wave= too"):
        pw.design_parameters(d, unit="hh", **kw)
    with pytest.raises(ValueError, match="need at least 2 clusters"):
        pw.icc(d[d["cluster"] == d["cluster"].iloc[0]], outcome="y", cluster="cluster")
    miss = d[~((d["wave"] == "endline") & (d["cluster"] == d["cluster"].iloc[0]))]
    with pytest.raises(ValueError, match="no rows at the follow-up wave"):
        pw.design_parameters(miss, wave="wave", **kw)
    with pytest.raises(ValueError, match="baseline='midline' is not a level"):
        pw.design_parameters(d, wave="wave", baseline="midline", **kw)
    with pytest.raises(ValueError, match=r"level=1\.5"):
        pw.icc(d, outcome="y", cluster="cluster", level=1.5)
    with pytest.raises(ValueError, match="draws=-1"):
        pw.design_parameters(d, outcome="y", cluster="cluster", draws=-1)
    dup = d[d["wave"] == "baseline"]
    dup = pd.concat([dup, dup.iloc[:1]]).assign(wave="baseline")
    dup = pd.concat([dup, d[d["wave"] == "endline"]])
    with pytest.raises(ValueError, match="appears twice in the baseline wave"):
        pw.design_parameters(dup, wave="wave", unit="hh", **kw)
