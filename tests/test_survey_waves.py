"""Change between waves with its covariance (R fixture tests/reference/survey/make_waves.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import Design, DesignError, adjust_attrition, change

FIX = Path(__file__).resolve().parent / "reference" / "survey"


@pytest.fixture(scope="module")
def design() -> Design:
    dat = pd.read_csv(FIX / "waves_data.csv")
    return Design(dat, weights="wt", strata="region", psu="village", fpc="N_h")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(FIX / "waves.csv").set_index("domain")


def test_change_overall(design: Design, ref: pd.DataFrame) -> None:
    res = change(design, "y", wave="wave", start="baseline", end="endline").tidy().iloc[0]
    np.testing.assert_allclose(res["estimate"], ref.loc["all", "estimate"], rtol=1e-6)
    np.testing.assert_allclose(res["std_error"], ref.loc["all", "se"], rtol=1e-6)
    np.testing.assert_allclose(res["cov_between_waves"], ref.loc["all", "cov"], rtol=1e-6)
    # the shared villages give a positive covariance: the change is more precise than if independent
    means = design.mean("y", by="wave")
    assert res["std_error"] < np.sqrt(np.sum(means.std_error**2))


def test_change_by_arm_and_did(design: Design, ref: pd.DataFrame) -> None:
    res = change(design, "y", wave="wave", start="baseline", end="endline", by="arm").tidy().set_index("arm")
    for arm in ("comparison", "pilot"):
        np.testing.assert_allclose(res.loc[arm, "estimate"], ref.loc[arm, "estimate"], rtol=1e-6)
        np.testing.assert_allclose(res.loc[arm, "std_error"], ref.loc[arm, "se"], rtol=1e-6)
        np.testing.assert_allclose(res.loc[arm, "cov_between_waves"], ref.loc[arm, "cov"], rtol=1e-6)
    by = design.mean("y", by=["wave", "arm"])
    tab = by.tidy()
    c = np.where(tab["arm"] == "pilot", 1.0, -1.0) * np.where(tab["wave"] == "endline", 1.0, -1.0)
    est, se = by.contrast(c)
    np.testing.assert_allclose(est, ref.loc["did", "estimate"], rtol=1e-6)
    np.testing.assert_allclose(se, ref.loc["did", "se"], rtol=1e-6)


def test_change_errors(design: Design) -> None:
    with pytest.raises(DesignError, match="not a value"):
        change(design, "y", wave="wave", start="baseline", end="midline")


def test_attrition_adjustment_keeps_class_totals(design: Design) -> None:
    d = design.data
    rng = np.random.default_rng(0)
    kept = pd.Series(rng.uniform(size=len(d)) < 0.8)
    des = Design(d.assign(kept=kept.to_numpy()), weights="wt", strata="region", psu="village", fpc="N_h")
    a = adjust_attrition(des, "kept", classes="arm")
    for arm in ("pilot", "comparison"):
        m = (d["arm"] == arm).to_numpy()
        np.testing.assert_allclose(a.weights[m].sum(), d.loc[m, "wt"].sum(), rtol=1e-12)
    assert (a.weights[~kept.to_numpy()] == 0).all()
    assert a.audit().tidy()["step"].iloc[-1] == "attrition"


def test_change_with_replicates(design: Design, ref: pd.DataFrame) -> None:
    rep = design.replicate("jkn")
    res = change(rep, "y", wave="wave", start="baseline", end="endline").tidy().iloc[0]
    np.testing.assert_allclose(res["estimate"], ref.loc["all", "estimate"], rtol=1e-9)
    # jackknife and linearisation agree closely for a smooth statistic
    assert abs(res["std_error"] / ref.loc["all", "se"] - 1) < 0.05


def test_rake_by_wave_equals_separate_raking(design: Design) -> None:
    from welfare_eval.survey import rake

    m = {
        "baseline": {
            "arm": {"pilot": 2000.0, "comparison": 2200.0},
            "region": {r: 700.0 for r in range(1, 7)},
        },
        "endline": {
            "arm": {"pilot": 2100.0, "comparison": 2300.0},
            "region": {r: 4400.0 / 6 for r in range(1, 7)},
        },
    }
    both = rake(design, m, by="wave")
    data = design.data
    for wv in ("baseline", "endline"):
        sub = Design(data[data.wave == wv], weights="wt", strata="region", psu="village", fpc="N_h")
        sep = rake(sub, m[wv])
        np.testing.assert_allclose(both.weights[(data.wave == wv).to_numpy()], sep.weights, rtol=1e-9)
        np.testing.assert_allclose(
            both.total("arm", by="wave").tidy().query("wave == @wv")["std_error"], 0, atol=1e-6
        )
    from welfare_eval.survey import CalibrationError

    with pytest.raises(CalibrationError, match="no margins for group"):
        rake(design, {"baseline": m["baseline"]}, by="wave")
    bad = {**m, "endline": {**m["endline"], "arm": {"pilot": 1.0, "comparison": 1.0}}}
    with pytest.raises(CalibrationError, match="in group 'endline'"):
        rake(design, bad, by="wave")
