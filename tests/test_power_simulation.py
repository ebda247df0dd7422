"""Simulation power with did.estimate (welfare_eval.power.simulate_power): agreement and its limits.

Sized to stay fast: a few hundred small simulated studies, CR1 where the point is the variance.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from welfare_eval import power as pw
from welfare_eval.power.analytic import build_design
from welfare_eval.survey import kish_deff

AGREE = dict(design="matched_pair_did", clusters=10, per_cluster=8, icc=0.15, autocorr_cluster=0.5,
             autocorr_individual=0.5, pair_correlation=0.3, attrition=0.1, waves=2)


def test_analytic_and_simulated_power_agree_where_assumptions_hold():
    """Equal cluster sizes, normal components, the paired t with pairs − 1 df: simulated CR1 power = analytic."""
    effect = pw.mde(power=0.6, **AGREE).estimate
    r = pw.simulate_power(effect=effect, inference=("cr1",), n_sims=200, seed=11, **AGREE)
    row = r.tidy().iloc[0]
    assert row["analytic_power"] == pytest.approx(0.6, abs=1e-9)
    assert row["n_sims"] == 200 and row["method"] == "cr1"
    assert row["mc_std_error"] == pytest.approx(math.sqrt(row["power"] * (1 - row["power"]) / 200))
    assert abs(row["power"] - row["analytic_power"]) < 3 * math.sqrt(0.6 * 0.4 / 200)
    # the estimator is unbiased and its spread is the analytic standard error
    assert abs(row["mean_estimate"] - effect) < 3 * row["analytic_std_error"] / math.sqrt(200)
    assert row["empirical_std_error"] / row["analytic_std_error"] == pytest.approx(1.0, abs=3 / math.sqrt(2 * 199))


def test_few_pairs_wild_and_ri_cannot_reject():
    """4 pairs: 2^4 = 16 sign flips / swaps, so the smallest wild p is 1/16 and RI's 2/16 > 0.05.

    The analytic t (3 df) promises 70 % power; CR1 rejects, the resampling methods never do.
    """
    kw = dict(design="matched_pair_did", clusters=4, per_cluster=6, icc=0.1)
    effect = pw.mde(power=0.7, **kw).estimate
    r = pw.simulate_power(effect=effect, inference=("cr1", "wild", "ri"), n_sims=40, seed=1, **kw)
    t = r.tidy().set_index("method")
    assert list(t.index) == ["cr1", "wild", "ri", "ri_t"]
    assert np.allclose(t["analytic_power"], 0.7)
    assert t.loc["cr1", "rejections"] > 10
    assert (t.loc[["wild", "ri", "ri_t"], "rejections"] == 0).all()
    assert r.estimates["p_ri"].min() >= 2 / 16 - 1e-12
    assert r.estimates["p_wild"].min() >= 1 / 16 - 1e-12


def test_unequal_cluster_sizes_inflate_the_variance():
    """CV of cluster sizes 1: the equal-size formula understates the standard error (and overstates power);
    the paired size correction (gamma sizes) matches the simulated spread of the estimates."""
    kw = dict(design="matched_pair_did", clusters=12, per_cluster=10, icc=0.4, waves=2, cv_cluster_size=1.0)
    equal = pw.power(effect=1.0, **{**kw, "cv_cluster_size": 0.0})
    corrected = pw.power(effect=1.0, **kw)
    r = pw.simulate_power(effect=1.0, inference=("cr1",), n_sims=150, seed=5, **kw)
    row = r.tidy().iloc[0]
    rel_se = 1 / math.sqrt(2 * (150 - 1))  # sampling error of a standard deviation
    assert row["empirical_std_error"] > equal.std_error * (1 + 3 * rel_se)
    assert row["empirical_std_error"] / corrected.std_error == pytest.approx(1.0, abs=3 * rel_se)
    assert corrected.estimate < equal.estimate


def test_simulated_design_shape():
    des = build_design(design="matched_pair_did", clusters=30, per_cluster=40, icc=0.1, waves=3, attrition=0.25,
                       comparisons_per_pair=2, deff_weights=1.5)
    d = pw.simulate_design(des, effect=0.0, rng=3)
    assert set(d.columns) == {"pair", "cluster", "treated", "hh", "wave", "post", "y", "weight"}
    assert d["cluster"].nunique() == 90 and d.drop_duplicates("cluster").groupby("pair")["treated"].sum().eq(1).all()
    assert (d.groupby(["cluster", "wave"]).size() == 40).all()
    w0 = set(d.loc[d["wave"] == 0, "hh"])
    w1 = set(d.loc[d["wave"] == 1, "hh"])
    w2 = set(d.loc[d["wave"] == 2, "hh"])
    assert len(w0 & w1) / len(w0) == pytest.approx(0.75, abs=0.03)
    assert len(w0 & w2) / len(w0) == pytest.approx(0.75**2, abs=0.03)
    hw = d.drop_duplicates("hh")["weight"].to_numpy()
    assert kish_deff(hw)[0] == pytest.approx(1.5, abs=0.06)
    assert d.loc[d["wave"] == 0, "y"].var() == pytest.approx(1.0, abs=0.06)
    shrink = pw.simulate_design(des.with_(replace=False), rng=3)
    assert shrink.groupby("wave").size().iloc[-1] / shrink.groupby("wave").size().iloc[0] == pytest.approx(
        0.75**2, abs=0.03)


def test_reproducible_and_unpaired():
    kw = dict(design="repeated_cross_section", clusters=8, per_cluster=5, icc=0.2, autocorr_cluster=0.5,
              deff_weights=1.3)
    a = pw.simulate_power(effect=[0.0, 0.5], inference=("cr1", "wild"), n_sims=4, draws=99, seed=2, **kw)
    b = pw.simulate_power(effect=[0.0, 0.5], inference=("cr1", "wild"), n_sims=4, draws=99, seed=2, **kw)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    assert list(a.tidy()["effect"]) == [0.0, 0.0, 0.5, 0.5]
    assert a.tidy()["analytic_power"].iloc[0] == pytest.approx(0.05)
    assert any("clusters − 2" in n for n in a.notes())


def test_one_sided_t_methods():
    kw = dict(design="matched_pair_did", clusters=6, per_cluster=4, icc=0.1)
    r = pw.simulate_power(effect=0.4, inference=("cr1", "cr2"), two_sided=False, n_sims=5, seed=1, **kw)
    assert set(r.tidy()["method"]) == {"cr1", "cr2"}
    assert r.tidy()["analytic_power"].iloc[0] == pytest.approx(pw.power(effect=0.4, two_sided=False, **kw).estimate)


@pytest.mark.parametrize("kw,match", [
    (dict(design="cluster_rct"), "simulation covers 'matched_pair_did' and 'repeated_cross_section'"),
    (dict(design="repeated_cross_section", inference=("ri",)), "the unpaired design has no pairs"),
    (dict(two_sided=False, inference=("cr1", "wild")), "one-sided tests are available for the t-based methods"),
    (dict(inference=("bogus",)), r"unknown method\(s\) \['bogus'\]"),
    (dict(n_sims=0), "n_sims=0"),
    (dict(effect=[0.1, np.nan]), "give finite effect size"),
    (dict(icc=1.2), r"icc=1.2: must be in \[0, 1\)"),
    (dict(autocorr_cluster=-0.2), "negative correlations over waves cannot be simulated"),
])
def test_bad_input(kw, match):
    base = dict(design="matched_pair_did", clusters=4, per_cluster=3, icc=0.1, effect=0.2, n_sims=1)
    with pytest.raises(ValueError, match=match):
        pw.simulate_power(**{**base, **kw})
