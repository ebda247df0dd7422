"""EFA: KMO, Bartlett and minres + oblimin loadings vs psych (tests/reference/factors/efa.json)."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.factors.efa import efa, minres, parallel_analysis
from welfare_eval.reference import success_factor_items


@pytest.fixture(scope="module")
def ref(fixtures):
    return json.loads((fixtures / "factors" / "efa.json").read_text())


@pytest.fixture(scope="module")
def items(fixtures):
    return pd.read_csv(fixtures / "factors" / "efa_items.csv")


def _match(a, b):
    """Permute and re-sign the columns of a to best match b."""
    best = None
    for perm in permutations(range(a.shape[1])):
        aa = a[:, perm]
        aa = aa * np.sign((aa * b).sum(axis=0))
        err = np.abs(aa - b).max()
        if best is None or err < best[0]:
            best = (err, aa)
    return best[1]


def test_kmo_bartlett_match_psych(ref, items):
    res = efa(items, items=list(items.columns), n_factors=2, n_iter=50)
    assert res.kmo == pytest.approx(ref["kmo"][0], rel=1e-10)
    np.testing.assert_allclose(res.kmo_items.to_numpy(), ref["kmo_items"], rtol=1e-10)
    assert res.bartlett["chisq"] == pytest.approx(ref["bartlett_chisq"][0], rel=1e-10)
    assert res.bartlett["df"] == ref["bartlett_df"][0]
    assert res.bartlett["p_value"] == pytest.approx(ref["bartlett_p"][0], rel=1e-6)


def test_minres_oblimin_loadings_match_psych(ref, items):
    """psych::fa(fm = "minres", rotate = "oblimin"); psych's optimisers (optim, GPArotation eps 1e-5) stop
    ~1e-5 short of the optimum, hence the 1e-4 tolerance."""
    res = efa(items, items=list(items.columns), n_factors=2, n_iter=50)
    lo = _match(res.loadings.to_numpy(), np.array(ref["loadings"]))
    np.testing.assert_allclose(lo, np.array(ref["loadings"]), atol=1e-4)
    np.testing.assert_allclose(res.communality.to_numpy(), ref["communality"], atol=1e-4)
    assert abs(res.phi.iloc[0, 1]) == pytest.approx(abs(ref["phi"][0][1]), abs=1e-4)
    # the two planted groups load on separate factors
    g = {c: ("A" if c.startswith("a") else "B") for c in items.columns}
    res2 = efa(items, items=list(items.columns), groups=g, n_factors=2, n_iter=50)
    assert res2.split["agreement"].iloc[0] == 1.0


def test_minres_fit_is_the_uls_optimum(items):
    r = items.corr().to_numpy()
    lo = minres(r, 2)
    iu = np.triu_indices(len(r), 1)
    base = ((r - lo @ lo.T)[iu] ** 2).sum()
    rng = np.random.default_rng(0)
    for _ in range(20):  # no nearby perturbation does better
        lp = lo + rng.normal(scale=1e-4, size=lo.shape)
        assert ((r - lp @ lp.T)[iu] ** 2).sum() >= base


def test_parallel_analysis_finds_planted_factors():
    rng = np.random.default_rng(4)
    n = 400
    f = rng.normal(size=(n, 3))
    cols = {}
    for j in range(3):
        for i in range(4):
            cols[f"x{j}{i}"] = 0.7 * f[:, j] + np.sqrt(1 - 0.49) * rng.normal(size=n)
    pa = parallel_analysis(pd.DataFrame(cols), n_iter=100, seed=1)
    assert pa.n_factors == 3
    noise = pd.DataFrame(rng.normal(size=(n, 8)))
    assert parallel_analysis(noise, n_iter=100, seed=1).n_factors == 0


def test_efa_on_success_factor_items_default_groups():
    rng = np.random.default_rng(9)
    imap = success_factor_items()
    n = 300
    internal, external = rng.normal(size=n), rng.normal(size=n)
    groups = {
        "committee": "internal", "fund": "internal", "activities": "internal", "equipment": "internal",
        "understanding": "internal", "cooperation": "internal",
    }
    data = {}
    for _, it in imap.iterrows():
        base = internal if groups.get(it["factor"]) == "internal" else external
        data[it["item"]] = np.clip(np.rint(3 + 0.9 * base + 0.8 * rng.normal(size=n)), 1, 5)
    res = efa(pd.DataFrame(data), n_iter=30)
    assert res.n_factors == 2
    assert res.split is not None and res.split["agreement"].iloc[0] == 1.0
    t = res.tidy()
    assert set(t["group"]) == {"internal", "external"}
    assert "internal/external split" in res.summary()


def test_efa_accepts_nullable_integer_items() -> None:
    """The processed committee table stores Likert items as nullable Int64; EFA must accept them."""
    import numpy as np
    import pandas as pd

    from welfare_eval.factors import efa

    rng = np.random.default_rng(5)
    f = rng.normal(size=(300, 2))
    cols = {}
    for j, item in enumerate(["committee_1", "committee_2", "committee_3", "policy_1", "policy_2", "policy_3"]):
        raw = f[:, j // 3] + rng.normal(scale=0.7, size=300)
        cols[item] = pd.array(np.clip(np.round(3 + raw), 1, 5).astype(int), dtype="Int64")
    x = pd.DataFrame(cols)
    res_int = efa(x, n_factors=2, seed=0)
    res_float = efa(x.astype(float), n_factors=2, seed=0)
    pd.testing.assert_frame_equal(res_int.loadings, res_float.loadings)


def test_oblimin_solution_is_a_local_minimum_of_the_criterion(items):
    """The rotated loadings minimise the (quartimin) oblimin criterion Q = ¼ Σ_i Σ_{j≠k} λ_ij² λ_ik² over oblique
    rotations: Λ = A (T')⁻¹ with unit-length columns of T, so Φ = T'T. A further rotation Λ (M')⁻¹ keeps that
    constraint when the columns of M have unit length in the metric Φ (diag(M'ΦM) = 1). No small such rotation
    lowers Q by more than rounding; a rotation stopped early (a loose tolerance) leaves a descent direction."""
    res = efa(items, items=list(items.columns), n_factors=2, n_iter=20)
    lo, phi = res.loadings.to_numpy(), res.phi.to_numpy()

    def q(lam):
        sq = lam**2
        return 0.25 * ((sq.sum(axis=1) ** 2) - (sq**2).sum(axis=1)).sum()

    base = q(lo)
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(200):
        m = np.eye(2) + 1e-4 * rng.normal(size=(2, 2))
        m /= np.sqrt(np.diag(m.T @ phi @ m))
        worst = min(worst, q(lo @ np.linalg.inv(m).T) - base)
    assert worst >= -1e-10
