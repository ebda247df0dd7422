"""att_gt against R did's published mpdta numbers and the independent csdid fixture (analytic SEs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did import att_gt

# R did documentation / package vignette: att_gt(yname="lemp", ..., est_method="reg") on mpdta
PUBLISHED_ATT = {
    (2004, 2004): -0.0105, (2004, 2005): -0.0704, (2004, 2006): -0.1373, (2004, 2007): -0.1008,
    (2006, 2004): 0.0065, (2006, 2005): -0.0028, (2006, 2006): -0.0046, (2006, 2007): -0.0412,
    (2007, 2004): 0.0305, (2007, 2005): -0.0027, (2007, 2006): -0.0311, (2007, 2007): -0.0261,
}
PUBLISHED_DYNAMIC = {-3: 0.0305, -2: -0.0006, -1: -0.0245, 0: -0.0199, 1: -0.0510, 2: -0.1373, 3: -0.1008}


@pytest.fixture(scope="module")
def mpdta(shared_reference: Path) -> pd.DataFrame:
    d = pd.read_csv(shared_reference / "staggered" / "mpdta.csv")
    d["state"] = d["countyreal"] // 1000
    d["w"] = 1 + (d["countyreal"] % 7) / 10
    return d


def test_published_mpdta(mpdta: pd.DataFrame) -> None:
    res = att_gt(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", method="reg")
    tab = res.tidy()
    for (g, t), v in PUBLISHED_ATT.items():
        row = tab[(tab["cohort"] == g) & (tab["time"] == t)].iloc[0]
        assert round(float(row["estimate"]), 4) == v
    dyn = res.aggregate("dynamic").tidy()
    for e, v in PUBLISHED_DYNAMIC.items():
        assert round(float(dyn.loc[dyn["event_time"] == e, "estimate"].iloc[0]), 4) == v
    assert round(float(dyn.loc[dyn["term"] == "overall", "estimate"].iloc[0]), 4) == -0.0772
    simple = res.aggregate("simple").tidy()
    assert round(float(simple["estimate"].iloc[0]), 4) == -0.0400
    pt = res.pretrend_test()
    assert round(float(pt.loc[pt["method"] == "wald", "p_value"].iloc[0]), 3) == 0.168
    # published bootstrap SE of the dynamic overall effect (0.0219) is within bootstrap noise of ours
    assert abs(float(dyn.loc[dyn["term"] == "overall", "std_error"].iloc[0]) - 0.0219) < 0.003


def _case_kwargs(case: dict) -> dict:
    kw = {"outcome": "lemp", "time": "year", "cohort": "first.treat", "control": case["control"],
          "base_period": case["base_period"], "method": case["method"], "covariates": case["covariates"],
          "anticipation": case.get("anticipation", 0), "weights": case.get("weights"), "cluster": case.get("cluster")}
    if not case.get("panel", True):
        kw.update(unit=None, panel=False)
    elif case.get("unbalanced"):
        kw.update(unit="countyreal", panel=False)
    else:
        kw.update(unit="countyreal")
    return kw


def _cases(fixtures: Path) -> list[dict]:
    return json.loads((fixtures / "did" / "staggered" / "csdid.json").read_text())["cases"]


CASE_NAMES = [c["name"] for c in json.loads(
    (Path(__file__).parent / "reference" / "did" / "staggered" / "csdid.json").read_text())["cases"]]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_against_csdid(name: str, mpdta: pd.DataFrame, fixtures: Path) -> None:
    case = next(c for c in _cases(fixtures) if c["name"] == name)
    data = mpdta
    if case.get("no_never"):
        data = mpdta[mpdta["first.treat"] > 0].reset_index(drop=True)
    if case.get("unbalanced"):
        data = mpdta[(mpdta["countyreal"] + mpdta["year"]) % 11 != 0].reset_index(drop=True)
    with pytest.warns(UserWarning, match="dropped") if case.get("anticipation") else _nullcontext():
        res = att_gt(data, **_case_kwargs(case))
    tab = res.tidy()
    assert len(tab) == len(case["att"])
    for g, t, a, s in zip(case["group"], case["time"], case["att"], case["se"], strict=True):
        row = tab[(tab["cohort"] == g) & (tab["time"] == t)].iloc[0]
        assert row["estimate"] == pytest.approx(a, rel=1e-8, abs=1e-10)
        if s is None:
            assert np.isnan(row["std_error"])
        else:
            assert row["std_error"] == pytest.approx(s, rel=1e-7)
    if case["W"] is not None:
        pt = res.pretrend_test()
        assert float(pt.loc[pt["method"] == "wald", "statistic"].iloc[0]) == pytest.approx(case["W"], rel=1e-7)
    for agg in case["aggregations"]:
        kw = {k: agg[k] for k in ("min_e", "max_e", "balance_e") if k in agg}
        out = res.aggregate(agg["type"], **kw).tidy()
        overall = out[out["term"] == "overall"].iloc[0]
        assert overall["estimate"] == pytest.approx(agg["overall_att"], rel=1e-8, abs=1e-10)
        assert overall["std_error"] == pytest.approx(agg["overall_se"], rel=1e-7)
        if agg["egt"] is not None:
            rows = out[out["term"] != "overall"]
            col = {"dynamic": "event_time", "group": "cohort", "calendar": "time"}[agg["type"]]
            assert rows[col].tolist() == pytest.approx(agg["egt"])
            assert rows["estimate"].tolist() == pytest.approx(agg["att_egt"], rel=1e-8, abs=1e-10)
            ses = [np.nan if s is None else s for s in agg["se_egt"]]
            np.testing.assert_allclose(rows["std_error"].to_numpy(dtype=float), ses, rtol=1e-7)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None
