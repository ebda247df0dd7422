"""The fast resampling kernels equal brute force (welfare_eval.did._resample).

* randomization inference of one or several effects: every per-assignment summary (coefficient at r = 0,
  its derivative in r, the three sums of squared / cross-multiplied CR1 scores) equals an explicit refit
  of the sign-swapped design, row by row of the enumeration, and the p-values equal those of dummy-variable
  regressions on the raw data with the pilot label swapped;
* several terms at once equal one term at a time (enumerated and sampled assignments);
* the batched Cholesky solve, the meet-in-the-middle wild enumeration, and the per-draw bound that lets
  p-values and CI bisection skip draws (counts and bounds identical with and without it).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did import _resample as rs
from welfare_eval.did import estimate
from welfare_eval.did._testing import layout_panel, matched_pair_panel

TOL = 1e-10


def _enumeration(g: int) -> np.ndarray:
    """Rows b = 0..2^(g-1)-1: v_1 = +1, v_{k+1} = 1 - 2 × bit k of b (the documented order)."""
    b = np.arange(2 ** (g - 1))[:, None]
    v = np.ones((b.size, g))
    v[:, 1:] = 1 - 2 * ((b >> np.arange(g - 1)[None, :]) & 1)
    return v


def _refit_summaries(fit, terms, flip, signs):
    """(n0, n1, q00, q01, q11) per term and assignment by an explicit refit of the swapped design."""
    x, y, clu = fit.X, fit.y, fit.cluster
    d = x[:, flip].sum(axis=1)
    out = np.empty((len(terms), 5, signs.shape[0]))
    for b, s in enumerate(signs):
        xs = x.copy()
        xs[:, flip] *= s[clu][:, None]
        ainv = np.linalg.inv(xs.T @ xs)
        b0, b1 = ainv @ (xs.T @ y), ainv @ (xs.T @ d)
        sc0 = np.zeros((fit.n_clusters, fit.p))
        sc1 = np.zeros((fit.n_clusters, fit.p))
        np.add.at(sc0, clu, xs * (y - xs @ b0)[:, None])
        np.add.at(sc1, clu, xs * (d - xs @ b1)[:, None])
        for t, j in enumerate(terms):
            z0, z1 = sc0 @ ainv[j], sc1 @ ainv[j]
            out[t, :, b] = (b0[j], b1[j], z0 @ z0, z0 @ z1, z1 @ z1)
    return out


def _assert_drawsets(drawsets, ref):
    for t, ds in enumerate(drawsets):
        for k, name in enumerate(("n0", "n1", "q00", "q01", "q11")):
            got, want = getattr(ds, name), ref[t, k]
            np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL * np.abs(want).max(), err_msg=name)
            assert getattr(ds, "obs_" + name) == pytest.approx(want[0], rel=TOL, abs=TOL * np.abs(want).max())


SPECS = {
    # name: (data options, estimate options)
    "village FE, 1:2 sets, covariate, effects by wave": (
        dict(comparisons=2, unbalanced=0.1),
        dict(post="wave", unit="village_id", weights="weight", covariates=["x1"])),
    "household FE, covariate, one effect": (
        dict(unbalanced=0.1),
        dict(post="post", period="wave", unit="hh_id", weights="hh_weight", covariates=["x1"])),
    "village FE, no covariate, effects by wave (X'X the same for every assignment)": (
        dict(),
        dict(post="wave", unit="village_id", weights="weight")),
    "household FE, two covariates, effects by wave": (
        dict(comparisons=2),
        dict(post="wave", unit="hh_id", weights="weight", covariates=["x1", "x2"])),
}


def _fit(spec: str, pairs: int = 6, seed: int = 2):
    opts, est = SPECS[spec]
    d = layout_panel(households=pairs * 2 * 12, pairs=pairs, seed=seed, **opts)
    d["x2"] = np.random.default_rng(seed).normal(size=len(d)) + 0.3 * d["treated"] * d["wave_no"]
    res = estimate(d, outcome="y", treated="treated", pair="pair_id", inference=("cr1",), **est)
    return res.fit, list(res.design.treat_terms)


@pytest.mark.parametrize("spec", list(SPECS))
def test_ri_summaries_equal_explicit_refits_under_enumeration(spec):
    fit, terms = _fit(spec)
    drawsets = rs.randomization_terms(fit, terms, terms, draws=2**10, rng=np.random.default_rng(0))
    assert all(ds.enumerated and ds.n0.size == 2**5 for ds in drawsets)
    _assert_drawsets(drawsets, _refit_summaries(fit, terms, terms, _enumeration(fit.n_clusters)))


def test_ri_summaries_with_the_lapack_solve_equal_explicit_refits(monkeypatch):
    # many coefficients: the per-assignment systems go to LAPACK instead of the vectorised Cholesky
    monkeypatch.setattr(rs, "SPD_LOOP_MAX", 2)
    fit, terms = _fit(list(SPECS)[3])
    assert fit.p > rs.SPD_LOOP_MAX
    drawsets = rs.randomization_terms(fit, terms, terms, draws=2**10, rng=np.random.default_rng(0))
    _assert_drawsets(drawsets, _refit_summaries(fit, terms, terms, _enumeration(fit.n_clusters)))


@pytest.mark.parametrize("spec", list(SPECS)[:2])
def test_ri_summaries_equal_explicit_refits_with_sampled_assignments(spec):
    fit, terms = _fit(spec, pairs=12, seed=3)
    draws = 300
    drawsets = rs.randomization_terms(fit, terms, terms, draws=draws, rng=np.random.default_rng(7))
    assert not drawsets[0].enumerated and drawsets[0].n0.size == draws + 1
    signs = np.vstack([np.ones((1, fit.n_clusters)),
                       np.random.default_rng(7).choice(np.array([-1.0, 1.0]), size=(draws, fit.n_clusters))])
    _assert_drawsets(drawsets, _refit_summaries(fit, terms, terms, signs))


@pytest.mark.parametrize("draws", [2**18, 500])
def test_ri_several_terms_equal_one_term_at_a_time(draws):
    # one pass over the assignments for all effects = each effect alone, to the last bit (same assignments)
    fit, terms = _fit(next(iter(SPECS)), pairs=18 if draws > 2**17 else 20)
    both = rs.randomization_terms(fit, terms, terms, draws=draws, rng=np.random.default_rng(1))
    assert len(both) == 2 and both[0].enumerated == (draws > 2**17)
    for j, ds in zip(terms, both, strict=True):
        one = rs.randomization(fit, j, terms, draws=draws, rng=np.random.default_rng(1))
        for k in ("n0", "n1", "q00", "q01", "q11"):
            np.testing.assert_array_equal(getattr(ds, k), getattr(one, k))


# --------------------------------------------------------------------------------------------------
# p-values of several effects against dummy-variable regressions on the raw data (pilot label swapped)
# --------------------------------------------------------------------------------------------------
def _dummy_fit(d):
    waves = list(d["wave"].cat.categories)
    dcols = [(d["treated"] * (d["wave"] == w)).to_numpy(float) for w in waves[1:]]
    unit = pd.get_dummies(d["village_id"], dtype=float).to_numpy()
    pw = pd.get_dummies(d["pair_id"].astype(str) + "x" + d["wave"].astype(str), dtype=float).to_numpy()
    x = np.column_stack([*dcols, d["x1"].to_numpy(float), unit, pw])
    _q, r = np.linalg.qr(x)
    x = x[:, np.abs(np.diag(r)) > 1e-9]  # a full-rank set of dummies (the effects and x1 come first)
    return x, len(dcols)


def test_ri_p_values_of_effects_by_wave_equal_dummy_regressions():
    d = matched_pair_panel(pairs=6, households=4, effect=0.3, seed=11)
    null = 0.1
    res = estimate(d, outcome="y", treated="treated", post="wave", unit="village_id", pair="pair_id",
                   weights="weight", covariates=["x1"], inference=("ri",), null=null)
    pair = pd.factorize(d["pair_id"], sort=True)[0]
    y, sw = d["y"].to_numpy(), np.sqrt(d["weight"].to_numpy())
    x_obs, m = _dummy_fit(d)
    y0 = y - null * x_obs[:, :m].sum(axis=1)  # sharp null: every wave's effect equals `null`

    def coef_t(x):
        xs, ys = x * sw[:, None], y0 * sw
        a = np.linalg.inv(xs.T @ xs)
        b = a @ xs.T @ ys
        sc = np.zeros((pair.max() + 1, x.shape[1]))
        np.add.at(sc, pair, xs * (ys - xs @ b)[:, None])
        v = a @ sc.T @ sc @ a  # the small-sample factor is common to all assignments: left out
        return b[:m], b[:m] / np.sqrt(np.diag(v)[:m])

    b_obs, t_obs = coef_t(x_obs)
    stats_ = []
    for swap in itertools.product([0, 1], repeat=6):
        dd = d.copy()
        flip = np.asarray(swap)[pair] == 1
        dd.loc[flip, "treated"] = 1 - dd.loc[flip, "treated"]
        stats_.append(coef_t(_dummy_fit(dd)[0]))
    b_all = np.abs(np.array([s[0] for s in stats_]))
    t_all = np.abs(np.array([s[1] for s in stats_]))
    tab = res.tidy()
    for k, term in enumerate(res.design.names[:m]):
        row = tab[tab["term"] == term].set_index("method")
        assert row.loc["ri", "p_value"] == pytest.approx(np.mean(b_all[:, k] >= abs(b_obs[k]) * (1 - 1e-9)), abs=1e-12)
        assert row.loc["ri_t", "p_value"] == pytest.approx(np.mean(t_all[:, k] >= abs(t_obs[k]) * (1 - 1e-9)),
                                                          abs=1e-12)
        assert row.loc["ri", "draws"] == 64


# --------------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [1, 3, rs.SPD_LOOP_MAX, rs.SPD_LOOP_MAX + 2])
def test_batched_spd_solve_equals_lapack(p):
    rng = np.random.default_rng(p)
    n, m = 50, 4
    z = rng.normal(size=(n, 3 * p, p))
    a = np.einsum("nik,nil->kln", z, z)  # p × p × n, positive definite
    rhs = rng.normal(size=(p, m, n))
    got = rs._spd_solve_batched(a, rhs)
    want = np.linalg.solve(a.transpose(2, 0, 1), rhs.transpose(2, 0, 1)).transpose(1, 2, 0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    single = np.ones((p, p, 2)) if p > 1 else np.zeros((p, p, 2))  # rank one (or zero): singular
    with pytest.raises(ValueError, match="singular"):
        rs._spd_solve_batched(single, rhs[:, :, :2])


@pytest.mark.parametrize("g", [4, 5, 8, 13])
def test_wild_enumeration_by_meeting_in_the_middle_equals_direct_products(g):
    rng = np.random.default_rng(g)
    a0, a1 = rng.normal(size=g), rng.normal(size=g)
    c0, c1 = rng.normal(size=(g, g)), rng.normal(size=(g, g))
    got = rs._five_enumerated(g, a0, a1, c0, c1)
    want = rs._five(_enumeration(g), a0, a1, c0, c1)
    for x, y in zip(got, want, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12 * np.abs(y).max())


class _Plain(rs.DrawSet):
    """Every draw evaluated at every step (the skipping bound disabled)."""

    def _above(self, ao):
        return None


def _plain(ds: rs.DrawSet) -> rs.DrawSet:
    fields = ("n0", "n1", "q00", "q01", "q11", "factor", "obs_n0", "obs_n1", "obs_q00", "obs_q01", "obs_q11",
              "enumerated", "rule")
    return _Plain(**{k: getattr(ds, k) for k in fields})


def _adversarial() -> rs.DrawSet:
    """Draws with exact ties, zero and near-singular variance forms, huge and tiny statistics."""
    rng = np.random.default_rng(5)
    b = 4000
    z0, z1 = rng.normal(size=(b, 6)), 0.3 * rng.normal(size=(b, 6))
    n0, n1 = rng.normal(size=b) * 3, 0.2 * rng.normal(size=b)
    n0[0], n1[0] = 8.0, 1.0  # the observed draw: a clear effect, finite confidence bounds
    z1[0] *= 0.1
    z1[1:80] = 2.0 * z0[1:80]  # q01² = q00 q11: the bound is not used
    z1[80:160] = 2.0 * z0[80:160] + 1e-7 * z1[80:160]  # nearly so
    z0[160:200] = 0.0  # zero variance at r = 0
    n0[200:230] *= 1e6
    n0[230:270], n1[230:270] = n0[0], n1[0]  # exact ties with the observed draw
    z0[230:270], z1[230:270] = z0[0], z1[0]
    q00, q01, q11 = (z0 * z0).sum(1), (z0 * z1).sum(1), (z1 * z1).sum(1)
    return rs.DrawSet(n0=n0, n1=n1, q00=q00, q01=q01, q11=q11, factor=1.3, obs_n0=float(n0[0]),
                      obs_n1=float(n1[0]), obs_q00=float(q00[0]), obs_q01=float(q01[0]), obs_q11=float(q11[0]),
                      enumerated=False, rule="ri")


def test_skipping_hopeless_draws_changes_no_count_and_no_bound():
    fit, terms = _fit(list(SPECS)[1], pairs=14, seed=4)
    j = terms[0]
    sets = [rs.wild_bootstrap(fit, j, draws=2**13, rng=np.random.default_rng(0)),
            rs.randomization(fit, j, terms, draws=2**13, rng=np.random.default_rng(0)), _adversarial()]
    se = float(np.sqrt(fit.vcov_cr1()[j, j]))
    for ds in sets:
        plain = _plain(ds)
        est = float(ds.obs_n0 / ds.obs_n1)
        for level in (0.95, 0.9, 0.8):
            ci = ds.confint(est, se, level, studentized=True)
            assert np.isfinite(ci).all() and ci == plain.confint(est, se, level, studentized=True)
        assert any(v is not None for v in ds._levels.values()) and not plain._levels  # the bound was used
        for r in est + se * np.linspace(-6, 6, 61):
            assert ds._counts(r, True) == plain._counts(r, True)
            assert ds.pvalue(r, studentized=True) == plain.pvalue(r, studentized=True)
