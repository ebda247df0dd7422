"""Acceptance on the demo study: matching within region reduces imbalance against the naive comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.match import match_villages, screen_eligibility

COVS = ["mean_income", "share_elderly", "share_farm", "sg_age", "sg_members", "sg_savings", "n_households"]


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    from welfare_eval.simulate import simulate_frame

    return simulate_frame()


def test_eligibility_screen_agrees_with_frame(demo: pd.DataFrame) -> None:
    scr = screen_eligibility(demo)
    assert len(scr) == len(demo)
    assert (scr["eligible"].to_numpy() == demo["eligible"].to_numpy()).all()
    assert (scr.loc[scr["eligible"] == 0, "reason"] != "").all()


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"algorithm": "greedy"},
        {"method": "propensity"},
        {"caliper": 0.25, "ps_covariates": ["mean_income", "sg_savings", "sg_age"]},
    ],
)
def test_matching_reduces_mean_abs_smd(demo: pd.DataFrame, kw: dict) -> None:
    res = match_villages(demo, treat="pilot", covariates=COVS, **kw)
    bal = res.balance()
    m = bal.mean_abs_smd()
    assert m["after"] < m["before"], m
    # the naive comparison really is the pilots against every eligible candidate
    naive = demo[(demo["pilot"] == 1) | (demo["eligible"] == 1)]
    assert bal.before.loc["mean_income", "n_control"] == int((naive["pilot"] == 0).sum())
    # every pilot is matched or reported
    pilots = set(demo.loc[demo["pilot"] == 1, "village_id"])
    assert set(res.pairs["treated_id"]) | set(res.unmatched["treated_id"]) == pilots


def test_demo_pairs_one_per_region_and_row_order(demo: pd.DataFrame) -> None:
    res = match_villages(demo, treat="pilot", covariates=COVS)
    p = res.pairs
    assert len(p) == demo["pilot"].sum() and p["region"].is_unique
    shuffled = match_villages(demo.sample(frac=1, random_state=9), treat="pilot", covariates=COVS)
    pd.testing.assert_frame_equal(shuffled.pairs, p)
    pd.testing.assert_frame_equal(shuffled.reserves, res.reserves)
    md = res.matched_data()
    assert set(md["arm"]) == {"pilot", "comparison"} and len(md) == 2 * len(p)
    bt = res.balance_tests()
    # pair fixed effects, 1:1, OLS: the t test is the paired t test
    wide = md.pivot(index="pair_id", columns="arm", values="sg_age")
    dd = wide["pilot"] - wide["comparison"]
    assert bt.table.loc["sg_age", "estimate"] == pytest.approx(dd.mean(), rel=1e-10)
    assert bt.table.loc["sg_age", "std_error"] == pytest.approx(dd.std(ddof=1) / np.sqrt(len(dd)), rel=1e-10)


def test_survey_weighted_balance(demo: pd.DataFrame) -> None:
    from welfare_eval.match import balance_table

    res = match_villages(demo, treat="pilot", covariates=COVS)
    bal = res.balance(weights="n_households")
    ref_before = balance_table(res.data, treat="pilot", covariates=COVS, weights="n_households")
    pd.testing.assert_frame_equal(bal.before.drop(columns="smd_denominator"), ref_before)
    md = res.matched_data()
    ref_after = balance_table(md, treat="pilot", covariates=COVS, weights=md["weight"] * md["n_households"])
    pd.testing.assert_frame_equal(bal.after.drop(columns="smd_denominator"), ref_after)
    assert "survey weights" in " ".join(bal.notes())
    assert not np.allclose(bal.after["smd"], res.balance().after["smd"])


def test_sd_denominator_before(demo: pd.DataFrame) -> None:
    res = match_villages(demo, treat="pilot", covariates=COVS)
    own, pre = res.balance(), res.balance(sd_denominator="before")
    np.testing.assert_allclose(pre.after["smd"], own.after["mean_diff"] / own.before["sd_pooled"], rtol=1e-12)
    np.testing.assert_allclose(pre.after["smd_denominator"], own.before["sd_pooled"])
    np.testing.assert_allclose(own.after["smd"], own.after["mean_diff"] / own.after["sd_pooled"], rtol=1e-12)
    assert "before matching" in " ".join(pre.notes())
