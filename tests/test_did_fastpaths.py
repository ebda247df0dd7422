"""The fast CR2 paths (low-rank, resolvent) equal the dense clubSandwich-style oracle on every layout.

Layouts: household FE, village FE on household rows, pair × period FE only, no fixed effects; weights none,
constant within household, varying over waves; with and without a covariate; 2 or 3 waves; unbalanced
households; 1:k matched sets. The dense path (``cr2_path="dense"``, itself equal to clubSandwich in
tests/test_did_cr2.py) stays in the code as the oracle. Also: the quadrature behind the resolvent path,
the per-component absorber against a dense dummy projection, and cluster order by string label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import welfare_eval.did._linear as linear
from welfare_eval.did import estimate
from welfare_eval.did._absorb import Absorber
from welfare_eval.did._linear import LinearFit, inv_sqrt_nodes
from welfare_eval.did._testing import layout_panel

TOL = 1e-10


def _panel(waves: int, comparisons: int, seed: int = 4) -> pd.DataFrame:
    d = layout_panel(households=10 * 4 * (1 + comparisons), pairs=4, waves=waves, comparisons=comparisons,
                     unbalanced=0.15, seed=seed)
    d["pw"] = d["pair_id"].astype(str) + "x" + d["wave"].astype(str)
    for k in range(1, waves):
        d[f"D{k}"] = (d["treated"] * (d["wave_no"] == k)).astype(float)
    return d


@pytest.fixture(scope="module")
def panels() -> dict[tuple[int, int], pd.DataFrame]:
    return {(w, k): _panel(w, k) for w in (2, 3) for k in (1, 2)}


def _fit(d: pd.DataFrame, fes: list[str], weights: str | None, covariate: bool, path: str) -> LinearFit:
    w = np.ones(len(d)) if weights is None else d[weights].to_numpy(float)
    cols = [c for c in d.columns if c.startswith("D")] + (["x1"] if covariate else [])
    if not fes:
        cols = ["treated", "post", *cols]
    ab = Absorber([pd.factorize(d[f])[0] for f in fes], w)
    raw = d[cols].to_numpy(float)
    if not fes:
        raw = np.column_stack([np.ones(len(d)), raw])
        cols = ["(Intercept)", *cols]
    x = ab.transform(raw)
    y = ab.transform(d["y"].to_numpy(float))
    return LinearFit(x, y, cols, ab, pd.factorize(d["pair_id"])[0].astype(np.intp), cr2_path=path)


def _compare(fast: LinearFit, dense: LinearFit) -> None:
    v0, v1 = dense.vcov_cr2(), fast.vcov_cr2()
    assert np.allclose(v1, v0, rtol=TOL, atol=TOL * np.abs(v0).max())
    eye = np.eye(fast.p)
    for j in range(fast.p):
        assert fast.cr2_df(eye[j]) == pytest.approx(dense.cr2_df(eye[j]), rel=TOL)
    q = min(2, fast.p)
    h0, h1 = dense.wald_htz(eye[:q]), fast.wald_htz(eye[:q])
    for key in ("F", "df_denom", "p_value"):
        assert h1[key] == pytest.approx(h0[key], rel=TOL)
    contrast = np.ones((1, fast.p))
    om0, om1 = dense.cr2_p_gram(contrast), fast.cr2_p_gram(contrast)
    assert np.allclose(om1, om0, rtol=TOL, atol=TOL * np.abs(om0).max())


LAYOUTS = [["hh_id", "pw"], ["village_id", "pw"], ["pw"], []]


@pytest.mark.parametrize("fes", LAYOUTS, ids=["household_fe", "village_fe", "pair_period_fe", "no_fe"])
@pytest.mark.parametrize("weights", [None, "hh_weight", "weight"])
@pytest.mark.parametrize(("waves", "comparisons", "covariate"), [(3, 1, True), (2, 2, False)])
def test_fast_cr2_equals_dense(panels, fes, weights, waves, comparisons, covariate):
    d = panels[(waves, comparisons)]
    dense = _fit(d, fes, weights, covariate, "dense")
    auto = _fit(d, fes, weights, covariate, "auto")
    _compare(auto, dense)
    assert set(auto.__dict__["_adj_cache"]["cr2_paths"]) <= {"lowrank", "resolvent"}
    if fes and weights is not None:
        # the resolvent (quadrature) path, forced on every cluster
        _compare(_fit(d, fes, weights, covariate, "resolvent"), dense)


def test_thin_and_reduced_agree_with_lowrank(panels):
    d = panels[(3, 1)]
    dense = _fit(d, ["hh_id", "pw"], "weight", True, "dense")
    for path in ("reduced", "lowrank"):
        _compare(_fit(d, ["hh_id", "pw"], "weight", True, path), dense)
    _compare(_fit(d, ["hh_id", "pw"], "hh_weight", True, "thin"), _fit(d, ["hh_id", "pw"], "hh_weight", True, "dense"))


def test_fast_paths_refuse_non_nested(panels):
    d = panels[(3, 1)]
    fit = _fit(d, ["village_id", "wave"], None, False, "lowrank")  # wave FE not nested in pairs
    with pytest.raises(ValueError, match="nested"):
        fit.vcov_cr2()
    auto = _fit(d, ["village_id", "wave"], None, False, "auto")
    dense = _fit(d, ["village_id", "wave"], None, False, "dense")
    assert np.array_equal(auto.vcov_cr2(), dense.vcov_cr2())
    with pytest.raises(ValueError, match="cr2_path"):
        _fit(d, ["hh_id", "pw"], None, False, "fast").vcov_cr2()


@pytest.mark.parametrize("unit", ["hh_id", "village_id"])
@pytest.mark.parametrize("weights", [None, "hh_weight", "weight"])
def test_estimate_takes_fast_path_and_matches_dense(panels, monkeypatch, unit, weights):
    d = panels[(3, 2)]
    monkeypatch.setattr(linear, "LOWRANK_MAX_UNITS", 0)  # the resolvent path wherever weights vary in units
    res = estimate(d, outcome="y", treated="treated", post="wave", unit=unit, pair="pair_id", weights=weights,
                   covariates=["x1"], inference=("cr1", "cr2", "cr3"))
    paths = set(res.fit.__dict__["_adj_cache"]["cr2_paths"])
    assert paths == ({"resolvent"} if weights == "weight" or (weights and unit == "village_id") else {"lowrank"})
    dense = LinearFit(res.fit.X, res.fit.y, res.fit.names, res.fit.absorber, res.fit.cluster, cr2_path="dense")
    tab = res.tidy(all_terms=True).set_index(["term", "method"])
    se = np.sqrt(np.diag(dense.vcov_cr2()))
    eye = np.eye(res.fit.p)
    for j, name in enumerate(res.fit.names):
        assert tab.loc[(name, "cr2"), "std_error"] == pytest.approx(se[j], rel=TOL)
        assert tab.loc[(name, "cr2"), "df"] == pytest.approx(dense.cr2_df(eye[j]), rel=TOL)
    h0, h1 = dense.wald_htz(eye[:2]), res.joint_test(method="cr2")
    assert h1["p_value"] == pytest.approx(h0["p_value"], rel=TOL)


def test_two_by_two_clustered_fast_path(panels):
    d = panels[(2, 1)]
    res = estimate(d, outcome="y", treated="treated", post="post", cluster="pair_id", weights="weight",
                   inference=("cr2",))
    dense = LinearFit(res.fit.X, res.fit.y, res.fit.names, res.fit.absorber, res.fit.cluster, cr2_path="dense")
    assert np.allclose(res.vcov("cr2").to_numpy(), dense.vcov_cr2(), rtol=TOL, atol=0)


@pytest.mark.parametrize("kappa", [1.0, 3.0, 1e2, 1e4, 1e6, 1e8, 1e10])
def test_inverse_square_root_quadrature(kappa):
    t2, om = inv_sqrt_nodes(2.0, 2.0 * kappa)
    x = np.geomspace(2.0, 2.0 * kappa, 4001)
    approx = (om[None, :] / (x[:, None] + t2[None, :])).sum(axis=1)
    assert np.max(np.abs(approx * np.sqrt(x) - 1.0)) < 1e-12


def test_absorber_components_equal_dense_projection(panels):
    d = panels[(3, 2)]
    w = d["weight"].to_numpy(float)
    fes = [pd.factorize(d[c])[0] for c in ("hh_id", "pw", "wave")]  # wave links every pair: one component
    for use in (fes[:2], fes):
        ab = Absorber(list(use), w)
        dummies = np.hstack([np.eye(int(f.max()) + 1)[f] for f in use]) * np.sqrt(w)[:, None]
        z = np.random.default_rng(0).normal(size=(len(d), 3))
        ref = z - dummies @ np.linalg.lstsq(dummies, z, rcond=None)[0]
        assert np.allclose(ab.project(z), ref, atol=1e-11)
        assert ab.rank == np.linalg.matrix_rank(dummies)


def test_cluster_order_follows_string_labels():
    # pair ids 1..12 as integers and as strings: clusters sorted as strings ("1", "10", "11", "12", "2", ...)
    d = layout_panel(households=12 * 2 * 4, pairs=12, waves=2, seed=5)
    spec = dict(outcome="y", treated="treated", post="post", unit="hh_id", inference=("wild",), draws=999, seed=3)
    r_int = estimate(d, pair="pair_id", **spec)
    r_str = estimate(d.assign(pair_s=d["pair_id"].astype(str)), pair="pair_s", **spec)
    assert list(r_int.design.cluster_labels) == sorted(str(p) for p in range(1, 13))
    assert r_int.tidy()["p_value"].iloc[0] == r_str.tidy()["p_value"].iloc[0]


@pytest.mark.parametrize("draws", [2**10, 2**12])
def test_certified_bisection_gives_the_plain_bisection_bounds(monkeypatch, draws):
    # the confidence bounds with certified draws skipped equal those of the plain bisection (every draw
    # evaluated at every step), exactly: the p-value at each step is the same count
    from welfare_eval.did._resample import DrawSet

    d = layout_panel(households=10 * 2 * 10, pairs=10, seed=8, effect=0.2)
    spec = dict(outcome="y", treated="treated", post="post", period="wave", unit="hh_id", pair="pair_id",
                weights="weight", covariates=["x1"], inference=("wild", "ri"), draws=draws)
    fast = estimate(d, **spec).tidy()
    monkeypatch.setattr(DrawSet, "_certify", lambda self, lo, hi, studentized, sub: (0, 0, sub))
    plain = estimate(d, **spec).tidy()
    assert np.array_equal(fast[["ci_low", "ci_high"]].to_numpy(), plain[["ci_low", "ci_high"]].to_numpy())
    assert np.isfinite(fast[["ci_low", "ci_high"]].to_numpy()).all()


def test_ri_of_several_terms_shares_one_refit_and_equals_one_term_at_a_time() -> None:
    """randomization_terms (all effects in one pass over the assignments) equals randomization per term, to the
    last bits, under full enumeration (the estimate's default for 18 pairs at 2^18 draws)."""
    from welfare_eval.did import estimate
    from welfare_eval.did._resample import randomization, randomization_terms
    from welfare_eval.did._testing import layout_panel

    data = layout_panel(households=600, comparisons=2, unbalanced=0.1)
    res = estimate(data, outcome="y", treated="treated", post="wave", unit="village_id", pair="pair_id",
                   weights="weight", covariates=["x1"], inference=("cr1",))  # one effect per follow-up wave
    fit, design = res.fit, res.design
    flip = list(design.treat_terms)
    both = randomization_terms(fit, flip, flip, draws=2**18, rng=np.random.default_rng(1))
    assert len(both) == 2 and all(d.enumerated for d in both)
    for j, ds in zip(flip, both, strict=True):
        one = randomization(fit, j, flip, draws=2**18, rng=np.random.default_rng(1))
        for k in ("n0", "n1", "q00", "q01", "q11"):
            np.testing.assert_array_equal(getattr(ds, k), getattr(one, k))
