"""Weighting pipeline against R survey 4.1.1 (tests/reference/survey/make_calibration.R, make_kfc_rake.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import (
    CalibrationError,
    Design,
    adjust_nonresponse,
    calibrate,
    poststratify,
    rake,
    trim,
)

RTOL = 1e-6


@pytest.fixture(scope="module")
def ref(fixtures: Path) -> pd.DataFrame:
    return pd.read_csv(fixtures / "survey" / "calibration.csv").fillna({"domain": ""})


@pytest.fixture(scope="module")
def popn(fixtures: Path) -> pd.DataFrame:
    return pd.read_csv(fixtures / "survey" / "calibration_population.csv")


def _margin(popn: pd.DataFrame, population: str, margin: str) -> dict[str, float]:
    sub = popn[(popn.population == population) & (popn.margin == margin)]
    return dict(zip(sub.level, sub["count"].astype(float), strict=True))


@pytest.fixture(scope="module")
def clus1(fixtures: Path) -> Design:
    return Design(pd.read_csv(fixtures / "survey" / "apiclus1.csv"), weights="pw", psu="dnum", fpc="fpc")


@pytest.fixture(scope="module")
def twostage(fixtures: Path) -> Design:
    ts = pd.read_csv(fixtures / "survey" / "twostage.csv")
    return Design(ts, weights="pw", strata="stratum", psu="dnum", ssu="snum", fpc="fpc1", fpc_ssu="fpc2")


def check(d: Design, name: str, ref: pd.DataFrame, *, enroll: bool = True) -> None:
    r = ref[ref.design == name]
    assert len(r) > 0, name

    def one(stat: str, term: str, got: pd.Series, domain: str = "") -> None:
        want = r[(r.stat == stat) & (r.term == term) & (r.domain == domain)].iloc[0]
        np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=RTOL)
        np.testing.assert_allclose(got["std_error"], want["se"], rtol=RTOL)

    one("mean", "api00", d.mean("api00").tidy().iloc[0])
    one("total", "api00", d.total("api00").tidy().iloc[0])
    if enroll:
        one("total", "enroll", d.total("enroll").tidy().iloc[0])
    for _, row in d.mean("api00", by="sch.wide").tidy().iterrows():
        one("mean_by", "api00", row, row["sch.wide"])
    one("ratio", "api00/api99", d.ratio("api00", "api99").tidy().iloc[0])


def test_poststratify(clus1: Design, ref: pd.DataFrame, fixtures: Path, popn: pd.DataFrame) -> None:
    d = poststratify(clus1, "stype", _margin(popn, "apipop", "stype"))
    check(d, "clus1_ps", ref)
    w = pd.read_csv(fixtures / "survey" / "calibration_weights.csv")
    np.testing.assert_allclose(d.weights, w["clus1_ps"], rtol=RTOL)


def test_poststratify_dataframe_population(clus1: Design, ref: pd.DataFrame) -> None:
    pop = pd.DataFrame({"stype": ["E", "H", "M"], "Freq": [4421, 755, 1018]})
    check(poststratify(clus1, "stype", pop), "clus1_ps", ref)


def test_rake_ipf_variance_matches_r_rake(
    clus1: Design, ref: pd.DataFrame, fixtures: Path, popn: pd.DataFrame
) -> None:
    margins = {"stype": _margin(popn, "apipop", "stype"), "sch.wide": _margin(popn, "apipop", "sch.wide")}
    d = rake(clus1, margins, variance="ipf")
    check(d, "clus1_rake_ipf", ref)
    w = pd.read_csv(fixtures / "survey" / "calibration_weights.csv")
    np.testing.assert_allclose(d.weights, w["clus1_rake"], rtol=RTOL)


def test_rake_default_variance_is_raking_calibration(
    clus1: Design, ref: pd.DataFrame, popn: pd.DataFrame
) -> None:
    margins = {"stype": _margin(popn, "apipop", "stype"), "sch.wide": _margin(popn, "apipop", "sch.wide")}
    check(rake(clus1, margins), "clus1_cal_raking", ref)
    check(calibrate(clus1, margins=margins, calfun="raking"), "clus1_cal_raking", ref)


def _pop4(popn: pd.DataFrame) -> dict[str, float]:
    st = _margin(popn, "apipop", "stype")
    return {
        "Intercept": sum(st.values()),
        "stype[T.H]": st["H"],
        "stype[T.M]": st["M"],
        "api99": float(popn.loc[popn.margin == "api99", "count"].iloc[0]),
    }


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("clus1_cal_linear", {}),
        ("clus1_cal_logit", {"calfun": "logit", "bounds": (0.4, 1.9)}),
        ("clus1_cal_truncated", {"calfun": "truncated", "bounds": (0.45, 1.8)}),
    ],
)
def test_calibrate(
    name: str, kw: dict, clus1: Design, ref: pd.DataFrame, fixtures: Path, popn: pd.DataFrame
) -> None:
    d = calibrate(clus1, "~ stype + api99", _pop4(popn), **kw)
    check(d, name, ref)
    w = pd.read_csv(fixtures / "survey" / "calibration_weights.csv")
    np.testing.assert_allclose(d.weights, w[name], rtol=RTOL)
    g = d.weights / clus1.weights
    if "bounds" in kw:
        lo, hi = kw["bounds"]
        assert g.min() >= lo - 1e-9 and g.max() <= hi + 1e-9


@pytest.mark.parametrize(
    ("chain", "name"), [("r", "clus1_ps_then_cal"), ("chain_rule", "clus1_ps_then_cal_rev")]
)
def test_chained_poststratify_then_calibrate(
    chain: str, name: str, fixtures: Path, ref: pd.DataFrame, popn: pd.DataFrame
) -> None:
    p4 = _pop4(popn)
    base = Design(
        pd.read_csv(fixtures / "survey" / "apiclus1.csv"),
        weights="pw",
        psu="dnum",
        fpc="fpc",
        calibration_chain=chain,  # type: ignore[arg-type]
    )
    d = poststratify(base, "stype", _margin(popn, "apipop", "stype"))
    d = calibrate(d, "~ api99", {"Intercept": p4["Intercept"], "api99": p4["api99"]})
    check(d, name, ref)
    assert [r["step"] for r in d.audit().rows] == ["base", "poststratify", "calibrate"]


def test_twostage_rake_and_logit(
    twostage: Design, ref: pd.DataFrame, fixtures: Path, popn: pd.DataFrame
) -> None:
    margins = {
        "stype": _margin(popn, "apipop_dnum", "stype"),
        "sch.wide": _margin(popn, "apipop_dnum", "sch.wide"),
    }
    w = pd.read_csv(fixtures / "survey" / "calibration_weights_ts.csv")
    d = rake(twostage, margins, variance="ipf")
    check(d, "ts_rake_ipf", ref, enroll=False)
    np.testing.assert_allclose(d.weights, w["rake"], rtol=RTOL)
    check(rake(twostage, margins), "ts_cal_raking", ref, enroll=False)
    d = calibrate(twostage, margins=margins, calfun="logit", bounds=(0.5, 2.5))
    check(d, "ts_cal_logit", ref, enroll=False)
    np.testing.assert_allclose(d.weights, w["cal_logit"], rtol=RTOL)


def test_trim(twostage: Design, ref: pd.DataFrame, fixtures: Path) -> None:
    w = pd.read_csv(fixtures / "survey" / "calibration_weights_ts.csv")
    d = trim(twostage, upper=150, lower=50)
    np.testing.assert_allclose(d.weights, w["trim"], rtol=RTOL)
    check(d, "ts_trim", ref, enroll=False)
    d = trim(twostage, upper=150, lower=50, strict=True)
    np.testing.assert_allclose(d.weights, w["trim_strict"], rtol=RTOL)
    check(d, "ts_trim_strict", ref, enroll=False)
    assert d.weights.max() <= 150 + 1e-9
    np.testing.assert_allclose(d.weights.sum(), twostage.weights.sum(), rtol=1e-12)
    p = trim(twostage, upper=150, redistribute="proportional", strict=True)
    assert p.weights.max() <= 150 + 1e-9
    np.testing.assert_allclose(p.weights.sum(), twostage.weights.sum(), rtol=1e-12)


def test_audit_trail(clus1: Design, popn: pd.DataFrame) -> None:
    d = calibrate(clus1, "~ stype + api99", _pop4(popn), calfun="logit", bounds=(0.4, 1.9))
    d = trim(d, upper=60)
    tab = d.audit().tidy()
    assert list(tab["step"]) == ["base", "calibrate", "trim"]
    w = d.weights
    last = tab.iloc[-1]
    np.testing.assert_allclose(last["max_w"], w.max())
    np.testing.assert_allclose(last["kish_deff"], len(w) * np.sum(w**2) / np.sum(w) ** 2)
    np.testing.assert_allclose(last["ess"], np.sum(w) ** 2 / np.sum(w**2))
    assert tab.iloc[0]["kish_deff"] == pytest.approx(1.0)  # equal base weights in apiclus1
    assert "Kish" in d.audit().summary() or "kish" in d.audit().summary()


def test_errors_say_what_to_fix(clus1: Design, popn: pd.DataFrame) -> None:
    st = _margin(popn, "apipop", "stype")
    with pytest.raises(CalibrationError, match=r"sample level\(s\) \['M'\] have no population count"):
        poststratify(clus1, "stype", {"E": st["E"], "H": st["H"]})
    with pytest.raises(CalibrationError, match="no sample units"):
        poststratify(clus1, "stype", {**st, "X": 10.0})
    with pytest.raises(CalibrationError, match="different population totals"):
        rake(clus1, {"stype": st, "sch.wide": {"No": 1.0, "Yes": 2.0}})
    with pytest.raises(CalibrationError, match="no convergence"):
        calibrate(clus1, "~ stype + api99", _pop4(popn), calfun="logit", bounds=(0.9, 1.1))
    with pytest.raises(CalibrationError, match="model-matrix columns"):
        calibrate(clus1, "~ stype", {"Intercept": 6194.0})


def test_rake_impossible_margins_do_not_converge() -> None:
    # all 'a' units are 'x': margins a=10 and x=90 cannot both hold
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "h": ["x", "x", "x", "y"], "psu": [1, 2, 3, 4]})
    d = Design(df, psu="psu")
    with pytest.raises(CalibrationError, match="no convergence"):
        rake(d, {"g": {"a": 50.0, "b": 50.0}, "h": {"x": 10.0, "y": 90.0}}, max_iter=50)


def test_nonresponse_weighting_classes() -> None:
    rng = np.random.default_rng(1)
    n = 400
    df = pd.DataFrame(
        {
            "psu": np.repeat(np.arange(40), 10),
            "cls": rng.choice(["a", "b", "c"], n),
            "w": rng.uniform(10, 30, n),
        }
    )
    df["resp"] = rng.uniform(size=n) < np.where(df["cls"] == "a", 0.5, 0.9)
    d = Design(df, weights="w", psu="psu")
    a = adjust_nonresponse(d, "resp", classes="cls")
    w = a.weights
    assert np.all(w[~df["resp"].to_numpy()] == 0)
    for c in "abc":
        m = (df["cls"] == c).to_numpy()
        np.testing.assert_allclose(w[m].sum(), df.loc[m, "w"].sum(), rtol=1e-12)
    p = adjust_nonresponse(d, "resp", propensity="~ C(cls)", n_classes=None)
    # a saturated propensity model gives the weighting-class adjustment
    np.testing.assert_allclose(p.weights, w, rtol=1e-8)
    bad = df.assign(resp=np.where(df["cls"] == "c", False, df["resp"]))
    with pytest.raises(CalibrationError, match="has no respondents"):
        adjust_nonresponse(Design(bad, weights="w", psu="psu"), "resp", classes="cls")


# Kalton & Flores-Cervantes (2003) raking factors as printed in ../shared/reference/README.md (row by row)
KFC_PUBLISHED = [[1.81, 1.45, 2.02], [1.08, 0.87, 1.21], [2.20, 1.76, 2.45], [1.83, 1.47, 2.04]]


def test_kalton_flores_cervantes_raking(fixtures: Path) -> None:
    cells = pd.read_csv(fixtures / "survey" / "kfc_rake.csv")
    units = cells.loc[cells.index.repeat(cells["n"]), ["a", "b"]].reset_index(drop=True)
    units["id"] = np.arange(len(units))
    d = Design(units, psu="id")
    margins = {
        "a": cells.groupby("a")["N"].sum().to_dict(),
        "b": cells.groupby("b")["N"].sum().to_dict(),
    }
    r = rake(d, margins)
    got = (
        pd.DataFrame({"a": units["a"], "b": units["b"], "f": r.weights})
        .groupby(["a", "b"])["f"]
        .agg(["min", "max"])
    )
    np.testing.assert_allclose(got["min"], got["max"], rtol=1e-12)  # one factor per cell
    merged = cells.merge(got.reset_index(), on=["a", "b"])
    np.testing.assert_allclose(merged["min"], merged["factor"], rtol=RTOL)
    table = got["min"].unstack("b").loc[["a1", "a2", "a3", "a4"], ["b1", "b2", "b3"]].to_numpy()
    np.testing.assert_array_equal(np.round(table, 2), np.array(KFC_PUBLISHED))
