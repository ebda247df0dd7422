"""Doubly robust DiD against the drdid package (fixture drdid.json) and closed forms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did import dr_did


@pytest.fixture(scope="module")
def panel(fixtures):
    return pd.read_csv(fixtures / "did" / "drdid_panel.csv")


@pytest.mark.parametrize(("name", "weights"), [("unweighted", None), ("weighted", "weight")])
def test_against_drdid_package(panel, fixtures, name, weights):
    ref = json.loads((fixtures / "did" / "drdid.json").read_text())[name]
    res = dr_did(panel, outcome="y", treated="treated", post="post", unit="hh_id", covariates=["x1", "z"],
                 pair="pair_id", weights=weights)
    row = res.tidy().set_index("method").loc["if"]
    assert row["estimate"] == pytest.approx(ref["att"], rel=1e-8)
    assert row["std_error"] == pytest.approx(ref["se"], rel=1e-8)


def test_without_covariates_is_the_difference_in_mean_changes(panel):
    res = dr_did(panel, outcome="y", treated="treated", post="post", unit="hh_id", pair="pair_id",
                 weights="weight")
    wide = panel.pivot_table(index="hh_id", columns="post", values="y")
    info = panel[panel["post"] == 0].set_index("hh_id").loc[wide.index]
    dy = wide[1] - wide[0]
    t = info["treated"] == 1
    expected = np.average(dy[t], weights=info["weight"][t]) - np.average(dy[~t], weights=info["weight"][~t])
    tab = res.tidy().set_index("method")
    assert tab.loc["if", "estimate"] == pytest.approx(expected, rel=1e-10)
    assert tab.loc["cr1", "df"] == 17
    # cluster-robust SE from the influence function: explicit cluster sums
    inf = res.influence_function
    codes = pd.factorize(info["pair_id"], sort=True)[0]
    sums = np.bincount(codes, weights=inf)
    assert tab.loc["cr1", "std_error"] == pytest.approx(np.sqrt(18 / 17 * np.sum(sums**2)) / len(inf))


def test_unbalanced_panel_is_an_error(panel):
    with pytest.raises(ValueError, match="exactly once"):
        dr_did(panel.iloc[1:], outcome="y", treated="treated", post="post", unit="hh_id")


@pytest.mark.parametrize(("name", "weights"), [("rc_unweighted", None), ("rc_weighted", "weight")])
def test_repeated_cross_sections_against_drdid_package(panel, fixtures, name, weights):
    ref = json.loads((fixtures / "did" / "drdid.json").read_text())[name]
    res = dr_did(panel, outcome="y", treated="treated", post="post", covariates=["x1", "z"], pair="pair_id",
                 weights=weights)
    row = res.tidy().set_index("method").loc["if"]
    assert row["estimate"] == pytest.approx(ref["att"], rel=1e-8)
    assert row["std_error"] == pytest.approx(ref["se"], rel=1e-8)


def test_repeated_cross_sections_without_covariates_is_the_2x2(panel):
    from welfare_eval.did import estimate

    res = dr_did(panel, outcome="y", treated="treated", post="post", weights="weight")
    ols = estimate(panel, outcome="y", treated="treated", post="post", weights="weight", inference=("iid",))
    assert res.tidy().loc[0, "estimate"] == pytest.approx(ols.tidy().loc[0, "estimate"], rel=1e-10)
