"""CR2 (Bell–McCaffrey) with Satterthwaite df and CR3 against R clubSandwich 0.5.8 (fixture cr2.json)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did import estimate
from welfare_eval.did._absorb import Absorber
from welfare_eval.did._linear import LinearFit

REL = 1e-8


@pytest.fixture(scope="module")
def panel(fixtures):
    return pd.read_csv(fixtures / "did" / "cr2_panel.csv")


@pytest.fixture(scope="module")
def ref(fixtures):
    return json.loads((fixtures / "did" / "cr2.json").read_text())


def _check(res, r):
    tab = res.tidy().set_index("method")
    assert tab.loc["cr2", "estimate"] == pytest.approx(r["estimate"], rel=REL)
    assert tab.loc["cr2", "std_error"] == pytest.approx(r["se_cr2"], rel=REL)
    assert tab.loc["cr2", "df"] == pytest.approx(r["df_cr2"], rel=REL)
    assert tab.loc["cr2", "p_value"] == pytest.approx(r["p_cr2"], rel=REL)
    if r["se_cr3"] is not None:
        assert tab.loc["cr3", "std_error"] == pytest.approx(r["se_cr3"], rel=REL)


PAIRS = dict(outcome="y", treated="treated", post="post", period="wave", pair="pair_id", covariates=["x1"],
             inference=("cr2", "cr3"))


def test_pairs_village_unweighted(panel, ref):
    _check(estimate(panel, unit="village_id", **PAIRS), ref["pairs_village"])


def test_pairs_village_weighted(panel, ref):
    _check(estimate(panel, unit="village_id", weights="weight", **PAIRS), ref["pairs_village_weighted"])


def test_pairs_household_weighted(panel, ref):
    _check(estimate(panel, unit="hh_id", weights="weight", **PAIRS), ref["pairs_household_weighted"])


def test_two_by_two(panel, ref):
    _check(estimate(panel, outcome="y", treated="treated", post="post", cluster="pair_id",
                    inference=("cr2", "cr3")), ref["twobytwo"])
    _check(estimate(panel, outcome="y", treated="treated", post="post", cluster="pair_id", weights="weight",
                    covariates=["x1"], inference=("cr2", "cr3")), ref["twobytwo_weighted"])


def test_fixed_effects_not_nested_in_clusters(panel, ref):
    r = ref["twfe_not_nested_weighted"]
    w = panel["weight"].to_numpy()
    ab = Absorber([pd.factorize(panel["village_id"])[0], pd.factorize(panel["wave"])[0]], w)
    X = ab.transform(np.column_stack([panel["D"], panel["x1"]]))
    fit = LinearFit(X, ab.transform(panel["y"].to_numpy()), ["D", "x1"], ab,
                    pd.factorize(panel["pair_id"])[0])
    assert not fit.fe_nested
    assert fit.beta[0] == pytest.approx(r["estimate"], rel=REL)
    assert np.sqrt(fit.vcov_cr2()[0, 0]) == pytest.approx(r["se_cr2"], rel=REL)
    assert fit.cr2_df(np.array([1.0, 0.0])) == pytest.approx(r["df_cr2"], rel=REL)


def test_cr2_equals_cr1_scale_in_balanced_unweighted_2x2_limit(panel):
    # sanity: CR2 and CR1 agree to first order; CR2 df never exceed G - 1
    res = estimate(panel, unit="village_id", **{**PAIRS, "inference": ("cr1", "cr2")})
    tab = res.tidy().set_index("method")
    assert tab.loc["cr2", "df"] <= 7 + 1e-9
    assert tab.loc["cr2", "std_error"] == pytest.approx(tab.loc["cr1", "std_error"], rel=0.25)


@pytest.mark.parametrize(("name", "fes", "weighted", "k"), [
    ("htz_pairs_weighted", ["village_id", "pw"], True, 2),
    ("htz3_pairs_weighted", ["village_id", "pw"], True, 3),
    ("htz_not_nested", ["village_id", "wave"], False, 2),
])
def test_htz_wald_against_clubsandwich(panel, ref, name, fes, weighted, k):
    d = panel.assign(pw=panel["pair_id"].astype(str) + "x" + panel["wave"],
                     Dmid=panel["treated"] * (panel["wave"] == "midline"),
                     Dend=panel["treated"] * (panel["wave"] == "endline"))
    w = d["weight"].to_numpy() if weighted else np.ones(len(d))
    ab = Absorber([pd.factorize(d[f])[0] for f in fes], w)
    X = ab.transform(d[["Dmid", "Dend", "x1"]].to_numpy(float))
    fit = LinearFit(X, ab.transform(d["y"].to_numpy()), ["Dmid", "Dend", "x1"], ab,
                    pd.factorize(d["pair_id"])[0])
    r = ref[name]
    out = fit.wald_htz(np.eye(3)[:k])
    assert out["F"] == pytest.approx(r["Fstat"], rel=REL)
    assert out["df_denom"] == pytest.approx(r["df_denom"], rel=REL)
    assert out["p_value"] == pytest.approx(r["p_val"], rel=REL)
    se = np.sqrt(np.diag(fit.vcov_cr2()))[:k]
    assert np.allclose(se, r["se_cr2"], rtol=REL)
    assert np.allclose([fit.cr2_df(np.eye(3)[j]) for j in range(k)], r["df_cr2"], rtol=REL)


def test_joint_test_of_by_wave_effects(panel, ref):
    res = estimate(panel, outcome="y", treated="treated", post="wave", unit="village_id", pair="pair_id",
                   weights="weight", covariates=["x1"], inference=("cr1", "cr2"))
    out = res.joint_test(method="cr2")
    r = ref["htz_pairs_weighted"]
    assert out["F"] == pytest.approx(r["Fstat"], rel=REL)
    assert out["p_value"] == pytest.approx(r["p_val"], rel=REL)
    cr1 = res.joint_test(method="cr1")
    assert cr1["df_denom"] == 7 and cr1["df_num"] == 2
