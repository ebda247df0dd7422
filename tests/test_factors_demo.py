"""The factors stage on the simulated demo study (welfare_eval.simulate): planted factors come out on top."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import welfare_eval.factors as F
from welfare_eval.reference import success_factors

fieldwork_mod = pytest.importorskip("welfare_eval.simulate.fieldwork")
frame_mod = pytest.importorskip("welfare_eval.simulate.frame")
study_mod = pytest.importorskip("welfare_eval.simulate.study")

FACTORS = list(success_factors()["code"])


def _fieldwork(seed):
    fr = frame_mod.simulate_frame(seed=seed)
    st = study_mod.default_choose(fr, seed)
    return fieldwork_mod.simulate_fieldwork(fr, st, seed=seed)


@pytest.fixture(scope="module")
def demo():
    fw = _fieldwork(2568)
    wide = F.committee_wide(fw.committee)
    agg = F.aggregate_villages(wide)
    return fw, wide, agg


def test_demo_scales_and_aggregation(demo):
    fw, wide, agg = demo
    assert len(wide) == fw.committee.groupby(["village_id", "member_no"]).ngroups
    rel = F.scale_reliability(wide).tidy()
    assert (rel["alpha"] > 0.6).all() and (rel["omega"] >= rel["alpha"] - 0.01).all()
    t = agg.tidy()
    assert (t["n_villages"] == fw.villages.shape[0]).all()
    assert (t["icc1"] > 0).all() and (t["p_value"] < 0.05).all()


def test_demo_internal_external_split(demo):
    _, wide, _ = demo
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # factor_analyzer's pinv note on KMO
        res = F.efa(wide, n_iter=30)
    assert res.kmo > 0.8
    assert res.split is not None and res.split["agreement"].iloc[0] >= 0.9


@pytest.mark.parametrize("seed", [2568, 1, 2])
def test_demo_planted_factors_dominate(seed):
    """The planted effect modifiers (truth.factor_coefficients) dominate the village effect multiplier when it
    is explained by the committee's village factor scores (18 pilot villages, 12 factors)."""
    fw = _fieldwork(seed)
    planted = {k for k, v in fw.truth.factor_coefficients.items() if v != 0}
    agg = F.aggregate_villages(F.committee_wide(fw.committee))
    v = agg.villages.merge(fw.truth.village_effects[["village_id", "multiplier"]], on="village_id")
    res = F.dominance(v, outcome="multiplier", predictors=FACTORS)
    order = list(res.tidy()["predictor"])
    assert order[0] in planted
    assert planted <= set(order[: len(planted) + 1])
    if seed == 2568:
        assert set(order[: len(planted)]) == planted


def test_demo_success_measures_and_moderation(demo):
    fw, _, agg = demo
    m = F.success_measures(fw.households, villages=fw.villages, benefits=fw.benefits, admin=fw.admin)
    assert len(m) == len(fw.villages)
    assert m["did_effect"].notna().sum() == (m["arm"] == "pilot").sum()
    assert ((m["coverage_endline"] >= 0) & (m["coverage_endline"] <= 1)).all()
    v = agg.villages.merge(m, on="village_id")
    mod = F.moderation(v, predictors=FACTORS).tidy()
    assert len(mod) == 12 and (mod["n"] == (m["arm"] == "pilot").sum()).all()
    assert np.isfinite(mod["std_error"]).all()
