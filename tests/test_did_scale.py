"""Thin CR2 path (nested fixed effects) equals the dense clubSandwich-style computation; resampling summaries.

The thin path is used only where it is exactly equivalent (fixed effects nested in the clusters, weights
constant within the levels of the largest fixed effect); everything else falls back to the dense path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did import estimate
from welfare_eval.did._absorb import Absorber
from welfare_eval.did._linear import LinearFit
from welfare_eval.did._testing import matched_pair_panel

TOL = 1e-10


@pytest.fixture(scope="module")
def panel():
    d = matched_pair_panel(pairs=6, households=8, seed=3, effect=0.4)
    d["pw"] = d["pair_id"].astype(str) + "x" + d["wave"].astype(str)
    d["Dm"] = (d["treated"] * (d["wave_no"] == 1)).astype(float)
    d["De"] = (d["treated"] * (d["wave_no"] == 2)).astype(float)
    d["hh_weight"] = d.groupby("hh_id")["weight"].transform("first")
    # unbalanced: drop some household-waves so units have 1, 2 or 3 rows
    drop = d.sample(frac=0.12, random_state=5).index
    return d.drop(index=drop).reset_index(drop=True)


def _fits(d, fes, weights, cluster="pair_id"):
    w = np.ones(len(d)) if weights is None else d[weights].to_numpy(float)
    ab = Absorber([pd.factorize(d[f])[0] for f in fes], w)
    X = ab.transform(d[["Dm", "De", "x1"]].to_numpy(float))
    y = ab.transform(d["y"].to_numpy(float))
    cl = pd.factorize(d[cluster])[0]
    return [LinearFit(X, y, ["Dm", "De", "x1"], ab, cl, cr2_path=path) for path in ("dense", "auto")]


@pytest.mark.parametrize(("fes", "weights"), [
    (["hh_id", "pw"], None),
    (["hh_id", "pw"], "hh_weight"),
    (["village_id", "pw"], None),
    (["hh_id"], "hh_weight"),
    ([], "weight"),  # no fixed effects: any weights
    ([], None),
])
def test_thin_cr2_equals_dense(panel, fes, weights):
    dense, auto = _fits(panel, fes, weights)
    assert auto.thin_cr2_applies()
    v0, v1 = dense.vcov_cr2(), auto.vcov_cr2()
    assert np.allclose(v1, v0, rtol=TOL, atol=0)
    c = np.eye(3)
    for j in range(3):
        assert auto.cr2_df(c[j]) == pytest.approx(dense.cr2_df(c[j]), rel=TOL)
    h0, h1 = dense.wald_htz(c[:2]), auto.wald_htz(c[:2])
    for key in ("F", "df_denom", "p_value"):
        assert h1[key] == pytest.approx(h0[key], rel=TOL)


@pytest.mark.parametrize(("fes", "weights"), [
    (["hh_id", "pw"], "weight"),  # weights vary within households: no low-rank structure
    (["village_id", "pw"], "hh_weight"),  # household weights vary within villages
    (["hh_id"], "weight"),
    (["hh_id", "pw"], None),  # the reduced path also holds where the thin one does
])
def test_reduced_cr2_equals_dense(panel, fes, weights):
    dense, _ = _fits(panel, fes, weights)
    red = LinearFit(dense.X, dense.y, dense.names, dense.absorber, dense.cluster, cr2_path="reduced")
    auto = LinearFit(dense.X, dense.y, dense.names, dense.absorber, dense.cluster)
    assert np.allclose(red.vcov_cr2(), dense.vcov_cr2(), rtol=TOL, atol=0)
    assert np.allclose(auto.vcov_cr2(), dense.vcov_cr2(), rtol=TOL, atol=0)
    c = np.eye(3)
    for j in range(3):
        assert red.cr2_df(c[j]) == pytest.approx(dense.cr2_df(c[j]), rel=TOL)
    h0, h1 = dense.wald_htz(c[:2]), red.wald_htz(c[:2])
    for key in ("F", "df_denom", "p_value"):
        assert h1[key] == pytest.approx(h0[key], rel=TOL)
    if weights == "weight":
        assert not auto.thin_cr2_applies()
        with pytest.raises(ValueError, match="thin"):
            LinearFit(dense.X, dense.y, dense.names, dense.absorber, dense.cluster, cr2_path="thin").vcov_cr2()


def test_not_nested_falls_back_to_dense(panel):
    dense, auto = _fits(panel, ["village_id", "wave"], None)  # wave FE not nested in pairs
    assert not auto.thin_cr2_applies()
    assert np.array_equal(auto.vcov_cr2(), dense.vcov_cr2())
    for path in ("thin", "reduced"):
        forced = LinearFit(auto.X, auto.y, auto.names, auto.absorber, auto.cluster, cr2_path=path)
        with pytest.raises(ValueError, match=path):
            forced.vcov_cr2()


def test_thin_path_through_estimate_matches_dense(panel):
    spec = dict(outcome="y", treated="treated", post="wave", unit="hh_id", pair="pair_id", weights="hh_weight",
                covariates=["x1"], inference=("cr2",))
    res = estimate(panel, **spec)
    assert res.fit.thin_cr2_applies()
    dense = LinearFit(res.fit.X, res.fit.y, res.fit.names, res.fit.absorber, res.fit.cluster, cr2_path="dense")
    se = np.sqrt(np.diag(dense.vcov_cr2()))
    tab = res.tidy().set_index("term")
    assert np.allclose(tab["std_error"].to_numpy(), se[:2], rtol=TOL, atol=0)
    assert np.allclose(tab["df"].to_numpy(), [dense.cr2_df(np.eye(3)[j]) for j in range(2)], rtol=TOL, atol=0)


def test_resampling_summaries_do_not_depend_on_households():
    # duplicating every household (same outcome, same weight) leaves the pair-level summaries' shapes
    # unchanged: G × G for the wild bootstrap, one entry per draw; p-values identical
    d = matched_pair_panel(pairs=6, households=3, seed=7, effect=0.3)
    twin = d.assign(hh_id=d["hh_id"] + "b")
    spec = dict(outcome="y", treated="treated", post="post", period="wave", unit="hh_id", pair="pair_id",
                weights="weight", inference=("wild", "ri"), confint=False)
    r1 = estimate(d, **spec)
    r2 = estimate(pd.concat([d, twin], ignore_index=True), **spec)
    for key in (("D", "wild"), ("D", "ri")):
        assert r1.draws[key].n0.shape == r2.draws[key].n0.shape == (2**5,)
    t1, t2 = r1.tidy().set_index("method"), r2.tidy().set_index("method")
    for method in ("wild", "ri", "ri_t"):
        assert t2.loc[method, "estimate"] == pytest.approx(t1.loc[method, "estimate"], rel=1e-10)
        assert t2.loc[method, "p_value"] == pytest.approx(t1.loc[method, "p_value"], abs=1e-12)
