"""Matching at national scale: engine-built village table → within-province matching of adopters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from welfare_eval.match import match_villages
from welfare_eval.scale import adopter_indicator, match_adopters, stratum_moments, village_means

PT = {"year": "int64"}


@pytest.fixture(scope="module")
def table(national_small):
    """Village frame + pre-adoption (2025) household means, built in the engine."""
    pre = village_means(
        national_small.households, variables=["income", "welfare_receipt", "savings"], weights="weight",
        where=[("year", "<", 2026)], partition_types=PT,
    )
    v = national_small.villages.merge(pre, on="village_id", how="left", validate="one_to_one")
    v["log_sg_savings"] = np.log1p(v["sg_savings"])
    return v


def test_village_means_equal_pandas(national_small, table):
    part = ds.partitioning(pa.schema([("year", pa.int64()), ("province_code", pa.string())]), flavor="hive")
    rows = ds.dataset(national_small.households, partitioning=part).to_table(filter=ds.field("year") < 2026).to_pandas()
    g = rows.assign(wy=rows["weight"] * rows["income"]).groupby("village_id")
    want = g["wy"].sum() / g["weight"].sum()
    got = table.set_index("village_id")["hh_income"]
    assert got.notna().all()  # every village has respondents in 2025
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-12)
    assert (table.set_index("village_id").loc[want.index, "hh_n_rows"].to_numpy() == g.size().to_numpy()).all()


def test_match_adopters_within_province(table):
    covs = ["hh_income", "hh_savings", "log_sg_savings", "sg_age", "share_farm"]
    res = match_adopters(table, covariates=covs, ratio=2)
    adopters = table.loc[table["cohort"] > 0]
    p = res.pairs
    assert set(p["treated_id"]) | set(res.unmatched["treated_id"]) == set(adopters["village_id"])
    v = table.set_index("village_id")
    assert (v.loc[p["treated_id"], "province_code"].to_numpy() == v.loc[p["control_id"], "province_code"].to_numpy()).all()
    assert (v.loc[p["control_id"], "cohort"] == 0).all() and (v.loc[p["control_id"], "eligible"] == 1).all()
    assert p["control_id"].is_unique  # without replacement
    assert (p["cohort"].to_numpy() == v.loc[p["treated_id"], "cohort"].to_numpy()).all()
    # the same as calling match_villages on the village table directly
    direct = match_villages(
        table.assign(adopter=(table["cohort"] > 0).astype(int)), treat="adopter", covariates=covs,
        exact="province_code", ratio=2, n_reserves=0,
    )
    pd.testing.assert_frame_equal(p.drop(columns="cohort"), direct.pairs)
    # matching improves balance on the matching covariates
    bal = res.balance().tidy().set_index(["sample", "covariate"])["smd"].abs()
    assert bal.loc["after"].mean() < bal.loc["before"].mean()


def test_match_adopters_errors(table):
    with pytest.raises(ValueError, match="no village has 'cohort' > 0"):
        match_adopters(table.assign(cohort=0), covariates=["sg_age"])
    with pytest.raises(ValueError, match="column 'adoption' is not in the village table"):
        match_adopters(table, covariates=["sg_age"], cohort="adoption")
    with pytest.raises(ValueError, match=r"value -1 .* is not a year or 0"):
        adopter_indicator(pd.Series([2027, 0, -1], name="cohort"))
    assert adopter_indicator(pd.Series([2027, 0, None], name="cohort")).tolist() == [1, 0, 0]


def test_stratum_moments_equal_pandas(table):
    t = table.assign(adopter=(table["cohort"] > 0).astype(int))
    got = stratum_moments(t, by=["province_code", "adopter"], variables=["hh_income", "sg_age"])
    g = t.groupby(["province_code", "adopter"])
    want = pd.DataFrame({"n": g.size(), "mean": g["hh_income"].mean(), "sd": g["hh_income"].std()}).reset_index()
    assert got["province_code"].astype(str).tolist() == want["province_code"].astype(str).tolist()
    assert (got["n"].to_numpy() == want["n"].to_numpy()).all()
    np.testing.assert_allclose(got["mean__hh_income"], want["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["sd__hh_income"], want["sd"], rtol=1e-9, equal_nan=True)
    assert got.loc[got["n"] == 1, "sd__hh_income"].isna().all()
    # weighted: frequency-weight SD equals the SD of the rows repeated w times
    tw = t.assign(w=(t["n_households"] % 3) + 1)
    gw = stratum_moments(tw, by=["adopter"], variables=["sg_age"], weights="w")
    rep = tw.loc[tw.index.repeat(tw["w"])]
    np.testing.assert_allclose(gw["sd__sg_age"], rep.groupby("adopter")["sg_age"].std().to_numpy(), rtol=1e-9)
