"""The survey kernel and the design's public interface: Kish design effect, read-only sampling structure,
free-function estimators equal to the Design methods, custom weighting steps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import (
    Design,
    kish_deff,
    kish_deff_by,
    make_replicate_design,
    poststratify,
    rake,
    svyglm,
    svymean,
    svyproportion,
    svyquantile,
    svyratio,
    svytotal,
)
from welfare_eval.survey.variance import WeightOp, residualize, taylor_vcov


@pytest.fixture(scope="module")
def ts(fixtures: Path) -> Design:
    df = pd.read_csv(fixtures / "survey" / "twostage.csv")
    return Design(df, weights="pw", strata="stratum", psu="dnum", ssu="snum", fpc="fpc1", fpc_ssu="fpc2")


# ---------------------------------------------------------------------------- Kish
def test_kish_deff_brute_force() -> None:
    rng = np.random.default_rng(5)
    w = rng.gamma(2.0, 10.0, 200)
    deff, ess = kish_deff(w)
    n = len(w)
    assert deff == pytest.approx(n * np.sum(w**2) / np.sum(w) ** 2, rel=1e-14)
    assert ess == pytest.approx(np.sum(w) ** 2 / np.sum(w**2), rel=1e-14)
    assert ess == pytest.approx(n / deff, rel=1e-14)
    assert kish_deff(np.full(7, 3.5)) == pytest.approx((1.0, 7.0))
    # zero weights (outside the domain, nonrespondents) are left out
    assert kish_deff(np.r_[w, np.zeros(50)]) == pytest.approx((deff, ess), rel=1e-14)
    d0, e0 = kish_deff(np.zeros(3))
    assert np.isnan(d0) and e0 == 0.0
    assert kish_deff(pd.Series([1.0, 3.0])) == pytest.approx((2 * 10 / 16, 16 / 10))


@pytest.mark.parametrize(
    ("bad", "match"), [([1.0, np.nan], "finite"), ([1.0, np.inf], "finite"), ([1.0, -2.0], "negative")]
)
def test_kish_deff_rejects_bad_weights(bad: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        kish_deff(bad)


def test_kish_deff_by_matches_groupby() -> None:
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "arm": rng.choice(["pilot", "comparison"], 300),
            "wave": rng.choice(["baseline", "endline"], 300),
            "w": rng.uniform(5, 50, 300) * (rng.random(300) < 0.9),
        }
    )
    df.loc[(df.arm == "pilot") & (df.wave == "endline"), "w"] = 0.0  # a domain with no positive weight
    got = kish_deff_by(df, ["arm", "wave"], weights="w")
    assert list(got.columns) == ["arm", "wave", "n_positive", "sum_w", "kish_deff", "ess"]
    assert len(got) == 4  # the all-zero domain is kept, not dropped
    for _, row in got.iterrows():
        w = df.loc[(df.arm == row.arm) & (df.wave == row.wave), "w"]
        w = w[w > 0]
        assert row.n_positive == len(w)
        assert row.sum_w == pytest.approx(w.sum())
        if len(w):
            assert row.kish_deff == pytest.approx(len(w) * (w**2).sum() / w.sum() ** 2, rel=1e-13)
            assert row.ess == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-13)
        else:
            assert np.isnan(row.kish_deff) and row.ess == 0
    same = kish_deff_by(df, ["arm", "wave"], weights=df["w"].to_numpy())
    pd.testing.assert_frame_equal(got, same)
    one = kish_deff_by(df, "arm", weights="w")
    assert list(one["arm"]) == ["comparison", "pilot"]
    with pytest.raises(ValueError, match="not in the data"):
        kish_deff_by(df, "region", weights="w")
    with pytest.raises(ValueError, match="weights column"):
        kish_deff_by(df, "arm", weights="w_final")
    with pytest.raises(ValueError, match="3 values for 300 rows"):
        kish_deff_by(df, "arm", weights=np.ones(3))


def test_audit_uses_kish_deff(ts: Design) -> None:
    d = poststratify(ts, "stype", {"E": 4000.0, "H": 900.0, "M": 1200.0})
    row = d.audit().tidy().iloc[-1]
    assert (row["kish_deff"], row["ess"]) == kish_deff(d.weights)


# ---------------------------------------------------------------------------- the public interface
def test_sampling_is_read_only(ts: Design) -> None:
    s = ts.sampling
    assert s.n_psu == ts.n_psu and s.n_strata == ts.n_strata and s.has_ssu and s.has_strata
    assert list(s.strata_labels) == ["large", "medium", "small"]
    np.testing.assert_array_equal(s.n_h, [6, 6, 6])
    assert len(s.psu) == ts.n and np.all(s.psu_stratum[s.psu] == s.strata)
    with pytest.raises(ValueError, match="read-only"):
        s.psu[0] = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.psu = np.zeros(3)  # type: ignore[misc]
    np.testing.assert_array_equal(ts.base_weights, ts.weights)
    assert ts.weighting_steps == () and ts.calibration_steps == () and ts.replicate_info is None


def test_free_functions_are_the_methods(ts: Design) -> None:
    pd.testing.assert_frame_equal(
        svymean(ts, "api00", by="stype").tidy(), ts.mean("api00", by="stype").tidy()
    )
    pd.testing.assert_frame_equal(svytotal(ts, "api00").tidy(), ts.total("api00").tidy())
    pd.testing.assert_frame_equal(svyratio(ts, "api00", "api99").tidy(), ts.ratio("api00", "api99").tidy())
    pd.testing.assert_frame_equal(svyproportion(ts, "stype").tidy(), ts.proportion("stype").tidy())
    pd.testing.assert_frame_equal(svyquantile(ts, "api00", [0.5]).tidy(), ts.quantile("api00", [0.5]).tidy())
    pd.testing.assert_frame_equal(svyglm(ts, "api00 ~ api99").tidy(), ts.glm("api00 ~ api99").tidy())
    a, b = make_replicate_design(ts), ts.replicate()
    assert a.variance_method == b.variance_method == "jkn"
    np.testing.assert_array_equal(a.replicate_weights, b.replicate_weights)
    info = a.replicate_info
    assert info is not None and info.type == "jkn" and info.weights.shape == (ts.n, len(info.rscales))


def test_vcov_is_the_kernel(ts: Design) -> None:
    d = rake(ts, {"stype": {"E": 4000.0, "H": 900.0, "M": 1200.0}, "sch.wide": {"No": 800.0, "Yes": 5300.0}})
    y = d.data["api00"].to_numpy(dtype=float)
    z = (d.weights * y)[:, None]
    v = d.vcov(z, lambda W: W.T @ y, np.array([d.weights @ y]))
    want = taylor_vcov(residualize(z, d.calibration_steps), d.sampling, lonely_psu=d.lonely_psu)
    np.testing.assert_array_equal(v, want)
    assert float(np.sqrt(v[0, 0])) == pytest.approx(float(d.total("api00").std_error[0]), rel=1e-14)
    e, se = d.mean_se(y)
    m = d.mean("api00").tidy().iloc[0]
    assert e == pytest.approx(m["estimate"], rel=1e-14) and se == pytest.approx(m["std_error"], rel=1e-14)


def test_custom_weighting_step(ts: Design) -> None:
    def double(w: np.ndarray) -> tuple[np.ndarray, None]:
        return 2 * w, None

    d = ts.with_weighting_step(WeightOp("double", double, "x2"))
    np.testing.assert_allclose(d.weights, 2 * ts.weights)
    assert [op.name for op in d.weighting_steps] == ["double"]
    assert list(d.audit().tidy()["step"]) == ["base", "double"]
    np.testing.assert_array_equal(ts.weights, ts.base_weights)  # the original is unchanged
    r = d.replicate("jkn", reapply=True)
    np.testing.assert_allclose(r.replicate_weights, 2 * ts.replicate("jkn").replicate_weights)
    assert list(r.audit().tidy()["step"]) == ["base", "double", "replicate:jkn"]
