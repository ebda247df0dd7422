"""Bounded calibration against R survey 4.1.1 (tests/reference/survey/make_calibrate_bounds.R; issue 15 §8).

R truncates the raking multipliers to ``bounds`` inside ``grake``'s Newton iteration; ``bounds.const``
puts the bounds on the final weights; ``trim=`` clips ``g`` after calibration; weights far below the
totals are rescaled first; bounds that cannot be met stop with "Calibration failed" unless ``force``.
Weights, estimates and SEs are compared at 1e-6 relative.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import CalibrationError, Design, calibrate

RTOL = 1e-6
SA = "~ stype + api99"
SWA = "~ stype + sch_wide + api99"


@pytest.fixture(scope="module")
def ref(fixtures: Path) -> pd.DataFrame:
    return pd.read_csv(fixtures / "survey" / "calibration_bounds.csv").fillna({"domain": "", "term": ""})


@pytest.fixture(scope="module")
def rweights(fixtures: Path) -> pd.DataFrame:
    return pd.read_csv(fixtures / "survey" / "calibration_bounds_weights.csv")


@pytest.fixture(scope="module")
def designs(fixtures: Path) -> dict[str, Design]:
    c1 = pd.read_csv(fixtures / "survey" / "apiclus1.csv").rename(columns={"sch.wide": "sch_wide"})
    c1["one"] = 1.0
    ts = pd.read_csv(fixtures / "survey" / "twostage.csv").rename(columns={"sch.wide": "sch_wide"})
    return {
        "clus1": Design(c1, weights="pw", psu="dnum", fpc="fpc"),
        "one": Design(c1, weights="one", psu="dnum", fpc="fpc"),
        "ts": Design(ts, weights="pw", strata="stratum", psu="dnum", ssu="snum", fpc="fpc1", fpc_ssu="fpc2"),
    }


def _pop(ref: pd.DataFrame, name: str) -> dict[str, float]:
    r = ref[(ref.case == "population") & (ref.stat == name)]
    return dict(zip(r.term, r.estimate.astype(float), strict=True))


# case -> (design, formula, population, calibrate options); tol/max_iter as the R script
CASES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "clus1_raking_b05_18": ("clus1", SA, "pop_sa", {"calfun": "raking", "bounds": (0.5, 1.8)}),
    "clus1_raking_b06_20": ("clus1", SA, "pop_sa", {"calfun": "raking", "bounds": (0.6, 2.0)}),
    "clus1_raking3_b06_22": ("clus1", SWA, "pop_swa", {"calfun": "raking", "bounds": (0.6, 2.2)}),
    "ts_raking_b05_20": ("ts", SWA, "pop_ts", {"calfun": "raking", "bounds": (0.5, 2.0)}),
    "ts_raking_const_30_200": (
        "ts",
        SWA,
        "pop_ts",
        {"calfun": "raking", "bounds": (30, 200), "bounds_const": True},
    ),
    "ts_raking_const_40_150": (
        "ts",
        SWA,
        "pop_ts",
        {"calfun": "raking", "bounds": (40, 150), "bounds_const": True},
    ),
    "clus1_raking_trim_08_16": ("clus1", SA, "pop_sa", {"calfun": "raking", "trim": (0.8, 1.6)}),
    "clus1_logit_b04_19_trim_06_17": (
        "clus1",
        SA,
        "pop_sa",
        {"calfun": "logit", "bounds": (0.4, 1.9), "trim": (0.6, 1.7)},
    ),
    "clus1_linear_trim_06_17": ("clus1", SA, "pop_sa", {"calfun": "linear", "trim": (0.6, 1.7)}),
    "one_raking": ("one", SA, "pop_sa", {"calfun": "raking"}),
}
RESCALED = {
    "one_raking_b06_18": ("one", SA, "pop_sa", {"calfun": "raking", "bounds": (0.6, 1.8)}),
    "one_logit_b05_19": ("one", SA, "pop_sa", {"calfun": "logit", "bounds": (0.5, 1.9)}),
}
FAILING = {
    "clus1_raking_b09_11": ("clus1", SA, "pop_sa", {"calfun": "raking", "bounds": (0.9, 1.1)}),
    "ts_raking_b07_16": ("ts", SWA, "pop_ts", {"calfun": "raking", "bounds": (0.7, 1.6)}),
    "ts_raking_b07_16_trim_same": (
        "ts",
        SWA,
        "pop_ts",
        {"calfun": "raking", "bounds": (0.7, 1.6), "trim": (0.7, 1.6)},
    ),
}
KW = {"tol": 1e-12, "max_iter": 200}


def _run(case: tuple[str, str, str, dict[str, Any]], designs: dict[str, Design], ref: pd.DataFrame) -> Design:
    dname, formula, pop, kw = case
    return calibrate(designs[dname], formula, _pop(ref, pop), **kw, **KW)


def check(d: Design, name: str, ref: pd.DataFrame, rweights: pd.DataFrame) -> None:
    r = ref[ref.case == name]
    assert len(r) > 0, name
    np.testing.assert_allclose(d.weights, rweights.loc[rweights.case == name, "weight"], rtol=RTOL)

    def one(stat: str, term: str, got: pd.Series, domain: str = "") -> None:
        want = r[(r.stat == stat) & (r.term == term) & (r.domain == domain)].iloc[0]
        np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=RTOL)
        np.testing.assert_allclose(got["std_error"], want["se"], rtol=RTOL)

    one("mean", "api00", d.mean("api00").tidy().iloc[0])
    one("total", "api00", d.total("api00").tidy().iloc[0])
    if "enroll" in d.data.columns:
        one("total", "enroll", d.total("enroll").tidy().iloc[0])
    for _, row in d.mean("api00", by="sch_wide").tidy().iterrows():
        one("mean_by", "api00", row, str(row["sch_wide"]))
    one("ratio", "api00/api99", d.ratio("api00", "api99").tidy().iloc[0])


@pytest.mark.parametrize("name", list(CASES))
def test_bounded_calibration_matches_r(
    name: str, designs: dict[str, Design], ref: pd.DataFrame, rweights: pd.DataFrame
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these warns
        d = _run(CASES[name], designs, ref)
    check(d, name, ref, rweights)
    kw = CASES[name][3]
    base = designs[CASES[name][0]]
    if "bounds" in kw and "trim" not in kw:
        lo, hi = kw["bounds"]
        # the bounds hold: on g, or on the weights with bounds_const
        v = d.weights if kw.get("bounds_const") else d.weights / base.weights
        assert v.min() >= lo * (1 - 1e-12) and v.max() <= hi * (1 + 1e-12)
        # and the totals are met
        X_pop = _pop(ref, CASES[name][2])
        np.testing.assert_allclose(d.weights.sum(), X_pop["Intercept"], rtol=1e-9)


def test_raking_bounds_are_honoured_not_ignored(designs: dict[str, Design], ref: pd.DataFrame) -> None:
    """Issue 15 §8: raking with bounds used to return the unbounded solution (g outside the bounds)."""
    clus1 = designs["clus1"]
    free = calibrate(clus1, SA, _pop(ref, "pop_sa"), calfun="raking")
    g_free = free.weights / clus1.weights
    assert g_free.min() < 0.55 and g_free.max() > 1.9  # the unbounded solution leaves (0.6, 2.0)
    d = calibrate(clus1, SA, _pop(ref, "pop_sa"), calfun="raking", bounds=(0.6, 2.0))
    g = d.weights / clus1.weights
    assert g.min() == pytest.approx(0.6) and g.max() <= 2.0 + 1e-12
    np.testing.assert_allclose(d.total("api99").estimate, _pop(ref, "pop_sa")["api99"], rtol=1e-7)
    assert "bounds [0.6, 2]" in d.audit().tidy()["detail"].iloc[-1]


@pytest.mark.parametrize("name", list(RESCALED))
def test_rescaling_as_r_with_a_warning(
    name: str, designs: dict[str, Design], ref: pd.DataFrame, rweights: pd.DataFrame
) -> None:
    assert "rescaling by 40.9" in ref[(ref.case == name) & (ref.stat == "message")].term.iloc[0]
    with pytest.warns(UserWarning, match=r"multiplied by 40\.9"):
        d = _run(RESCALED[name], designs, ref)
    check(d, name, ref, rweights)


@pytest.mark.parametrize("name", list(FAILING))
def test_bounds_that_cannot_be_met_fail_as_in_r(
    name: str, designs: dict[str, Design], ref: pd.DataFrame
) -> None:
    assert set(ref[ref.case == name].stat) == {"message", "error"}  # R: "Calibration failed"
    with pytest.raises(
        CalibrationError, match="no weights with multipliers inside the bounds meet these totals"
    ):
        _run(FAILING[name], designs, ref)


def test_force_keeps_rs_last_iterate(
    designs: dict[str, Design], ref: pd.DataFrame, rweights: pd.DataFrame
) -> None:
    case = (*FAILING["ts_raking_b07_16"][:3], {**FAILING["ts_raking_b07_16"][3], "force": True})
    with pytest.warns(
        UserWarning, match=r"no convergence after 200 iterations \(max relative misfit 0\.214\)"
    ):
        d = _run(case, designs, ref)
    check(d, "ts_raking_b07_16_force", ref, rweights)


def test_trim_after_failure_as_r(
    designs: dict[str, Design], ref: pd.DataFrame, rweights: pd.DataFrame
) -> None:
    # every g of the failed iterate sits at a bound outside trim=(0.8, 1.5): R clips them all, the
    # trimmed weight has nowhere to go (R is silent; here a warning), and the failure is accepted
    case = (*FAILING["ts_raking_b07_16"][:3], {**FAILING["ts_raking_b07_16"][3], "trim": (0.8, 1.5)})
    with pytest.warns(UserWarning, match="cannot be given to other units"):
        d = _run(case, designs, ref)
    check(d, "ts_raking_b07_16_trim", ref, rweights)


def test_replicate_design_calibrated_per_replicate(
    designs: dict[str, Design], ref: pd.DataFrame, rweights: pd.DataFrame
) -> None:
    # two JK1 replicates cannot meet the totals within (0.5, 1.8): R keeps their last iterate with a warning
    assert (
        "Failed to converge"
        in ref[(ref.case == "clus1_jk1_raking_b05_18") & (ref.stat == "message")].term.iloc[0]
    )
    pop = _pop(ref, "pop_sa")
    with pytest.warns(UserWarning, match="on a replicate: its last iterate is kept"):
        d = calibrate(designs["clus1"].replicate("jk1"), SA, pop, calfun="raking", bounds=(0.5, 1.8), **KW)
    check(d, "clus1_jk1_raking_b05_18", ref, rweights)
    with pytest.warns(UserWarning, match="on a replicate"):
        again = calibrate(designs["clus1"], SA, pop, calfun="raking", bounds=(0.5, 1.8), **KW).replicate(
            "jk1"
        )
    np.testing.assert_allclose(again.replicate_weights, d.replicate_weights, rtol=1e-10)


def test_bounds_const_with_logit_needs_weights_inside(designs: dict[str, Design], ref: pd.DataFrame) -> None:
    with pytest.raises(CalibrationError, match=r"not strictly inside the bounds \(30, 200\).*row"):
        calibrate(
            designs["ts"], SWA, _pop(ref, "pop_ts"), calfun="logit", bounds=(30, 200), bounds_const=True
        )


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"bounds": (2.0, 1.0)}, "lower < upper"),
        ({"bounds": (0.5,)}, "two numbers"),
        ({"trim": (1.5, 0.5)}, r"trim=.*lower < upper"),
        ({"bounds_const": True}, "bounds_const=True needs finite bounds"),
        ({"calfun": "logit", "bounds": (0.5, np.inf)}, "finite bounds"),
    ],
)
def test_bad_bounds_are_clear_errors(
    kw: dict[str, Any], match: str, designs: dict[str, Design], ref: pd.DataFrame
) -> None:
    with pytest.raises(CalibrationError, match=match):
        calibrate(designs["clus1"], SA, _pop(ref, "pop_sa"), **{"calfun": "raking", **kw})


def test_bounded_raking_without_convergence_in_few_steps_says_so(
    designs: dict[str, Design], ref: pd.DataFrame
) -> None:
    # feasible bounds, but 2 Newton steps are not enough: the message says a solution exists
    with pytest.raises(CalibrationError, match=r"exist.*raise max_iter"):
        calibrate(designs["clus1"], SA, _pop(ref, "pop_sa"), calfun="raking", bounds=(0.5, 1.8), max_iter=2)
