"""match_villages against R MatchIt 4.5.1 (fixture made by tests/reference/match/make_matchit_pairs.R).

One pilot per region, so MatchIt's nearest-neighbour order and our optimal/greedy assignment solve
the same problem: the nearest admissible eligible village(s) of the same region.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.match import match_villages

COVS = ["mean_income", "share_farm", "sg_age", "sg_savings"]


@pytest.fixture(scope="module")
def frame(fixtures) -> pd.DataFrame:
    return pd.read_csv(fixtures / "match" / "matchit_frame.csv", dtype={"village_id": str})


@pytest.fixture(scope="module")
def ref(fixtures) -> pd.DataFrame:
    return pd.read_csv(fixtures / "match" / "matchit_pairs.csv", dtype={"treated_id": str, "control_id": str})


def _cmp(res_pairs: pd.DataFrame, ref: pd.DataFrame, config: str, *, check_distance: bool = True) -> None:
    r = ref[ref["config"] == config]
    got = res_pairs.merge(r, on=["treated_id", "control_id"], how="outer", indicator=True)
    assert (got["_merge"] == "both").all(), got[got["_merge"] != "both"]
    if check_distance:
        np.testing.assert_allclose(got["distance_x"], got["distance_y"], rtol=1e-10)


@pytest.mark.parametrize("algorithm", ["optimal", "greedy"])
def test_mahalanobis_frame_covariance(frame, ref, algorithm) -> None:
    r1 = match_villages(frame, treat="pilot", covariates=COVS, algorithm=algorithm)
    _cmp(r1.pairs, ref, "maha_frame_1to1")
    r2 = match_villages(frame, treat="pilot", covariates=COVS, ratio=2, algorithm=algorithm)
    _cmp(r2.pairs, ref, "maha_frame_1to2")


def test_mahalanobis_pooled_within_covariance(frame, ref) -> None:
    r = match_villages(frame, treat="pilot", covariates=COVS, covariance="pooled_within")
    _cmp(r.pairs, ref, "maha_pooled_1to1")


def test_logit_propensity_score_matches_glm(frame, ref) -> None:
    r = match_villages(frame, treat="pilot", covariates=COVS, method="propensity", caliper=0.5)
    ps = ref[ref["config"] == "logit_ps"].set_index("treated_id")["distance"]
    lp = r.data.set_index("village_id")["logit_ps"]
    np.testing.assert_allclose(lp.loc[ps.index], ps, rtol=1e-6, atol=1e-8)
    width = ref.loc[ref["config"] == "ps_caliper_0.5", "caliper_width"].iloc[0]
    assert r.caliper_width == pytest.approx(width, rel=1e-6)
    _cmp(r.pairs, ref, "ps_caliper_0.5", check_distance=False)
    np.testing.assert_allclose(r.pairs["distance"], r.pairs["ps_distance"])
    # pilots MatchIt could not match are reported by us, with the reason
    assert len(r.unmatched) == 8 - len(ref[ref["config"] == "ps_caliper_0.5"])
    assert (r.unmatched["reason"] == "no comparison village within the caliper").all()


def test_mahalanobis_within_ps_caliper(frame, ref) -> None:
    r = match_villages(frame, treat="pilot", covariates=COVS, caliper=0.5, covariance="pooled_within")
    _cmp(r.pairs, ref, "maha_pooled_ps_caliper_0.5")
    assert len(r.pairs) + len(r.unmatched) == 8
