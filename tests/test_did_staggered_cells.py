"""att_gt on village × year cells equals att_gt on the household rows (repeated cross-sections, clustered by
village or coarser): estimates to 1e-10, standard errors, aggregations and bands likewise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did import att_gt
from welfare_eval.did.cells import reduce_cells


def households(seed: int = 7, villages: int = 60) -> pd.DataFrame:
    """Households within village-years (new draws each year), weights varying by year, planted effects."""
    rng = np.random.default_rng(seed)
    years = np.arange(2024, 2030)
    cohort_of = rng.choice([0, 0, 2026, 2027, 2028, 2031], size=villages)
    z_v = rng.normal(size=villages)  # village-level covariate
    rows = []
    for v in range(villages):
        a_v = rng.normal()
        for t in years:
            n = int(rng.integers(3, 12))
            x = rng.normal(size=n) + 0.3 * z_v[v]
            g = cohort_of[v]
            eff = 0.5 + 0.2 * (t - g) if g and t >= g else 0.0
            y = a_v + 0.1 * (t - 2024) + 0.4 * x + 0.3 * z_v[v] + eff + rng.normal(size=n)
            rows.append(pd.DataFrame({"village": f"v{v:03d}", "province": f"p{v % 9}", "year": t, "cohort": g,
                                      "y": y, "x": x, "z": z_v[v] + 0.05 * (t - 2024),
                                      "w": rng.uniform(0.5, 2.0, n) * (1 + 0.1 * (t - 2024))}))
    d = pd.concat(rows, ignore_index=True)
    d.loc[d["cohort"] == 0, "cohort"] = np.nan  # missing = never treated
    return d


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    d = households()
    d["cohort_f"] = d["cohort"].fillna(0)
    cells = reduce_cells(d, keys=["village", "year"], variables=["y", "x", "z"], weights="w",
                         carry=["cohort_f", "province"])
    return d, cells


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["estimate", "std_error", "ci_low", "ci_high", "band_low", "band_high"]
    np.testing.assert_allclose(a[cols].to_numpy(dtype=float), b[cols].to_numpy(dtype=float), rtol=1e-10,
                               atol=1e-11)


@pytest.mark.parametrize(
    ("covariates", "method", "control", "base", "cluster"),
    [
        ([], "dr", "never", "varying", None),
        ([], "reg", "not_yet", "universal", "province"),
        (["z"], "dr", "not_yet", "varying", None),
        (["z"], "ipw", "never", "universal", "province"),
        (["x"], "reg", "never", "varying", None),
        (["x", "z"], "reg", "not_yet", "varying", "province"),
    ],
)
def test_cells_equal_rows(data: tuple[pd.DataFrame, pd.DataFrame], covariates: list[str], method: str,
                          control: str, base: str, cluster: str | None) -> None:
    d, cells = data
    kw = {"outcome": "y", "time": "year", "control": control, "covariates": covariates, "method": method,
          "base_period": base, "draws": 199, "seed": 3}
    rows = att_gt(d, unit=None, cohort="cohort", weights="w", cluster=cluster or "village", panel=False, **kw)
    cel = att_gt(cells, unit="village", cohort="cohort_f", cluster=cluster, cells=True, **kw)
    _compare(rows.tidy(), cel.tidy())
    np.testing.assert_array_equal(rows.tidy()["n_obs"].to_numpy(), cel.tidy()["n_obs"].to_numpy())
    np.testing.assert_allclose(rows.vcov(), cel.vcov(), rtol=1e-9, atol=1e-14)
    for typ in ("simple", "dynamic", "group", "calendar"):
        _compare(rows.aggregate(typ).tidy(), cel.aggregate(typ).tidy())
    pa, pb = rows.pretrend_test(), cel.pretrend_test()
    np.testing.assert_allclose(pa[["statistic", "p_value"]].to_numpy(), pb[["statistic", "p_value"]].to_numpy(),
                               rtol=1e-9)


def test_cells_refuse_row_level_propensity(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, cells = data
    with pytest.raises(ValueError, match=r"covariate\(s\) \['x'\] vary within cells; method='dr'"):
        att_gt(cells, outcome="y", unit="village", time="year", cohort="cohort_f", covariates=["x"], cells=True)
    with pytest.raises(ValueError, match="weights are already in the cells"):
        att_gt(cells, outcome="y", unit="village", time="year", cohort="cohort_f", weights="w", cells=True)
    with pytest.raises(ValueError, match="not in the data"):
        att_gt(cells.drop(columns="sum_w__y"), outcome="y", unit="village", time="year", cohort="cohort_f",
               cells=True)


def test_cell_means_weighted_by_sum_w(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Without covariates, ATT(g,t) is the DiD of the sum_w-weighted village-year means (the cell estimator)."""
    d, cells = data
    res = att_gt(cells, outcome="y", unit="village", time="year", cohort="cohort_f", cells=True, method="reg")
    row = res.tidy().query("cohort == 2027 and time == 2028").iloc[0]
    c = cells.assign(m=cells["sum_w__y"] / cells["sum_w"])

    def mean(mask: pd.Series, year: int) -> float:
        s = c[mask & (c["year"] == year)]
        return float(np.average(s["m"], weights=s["sum_w"]))

    treat, never = c["cohort_f"] == 2027, (c["cohort_f"] == 0) | (c["cohort_f"] > 2029)  # 2031: after the data
    expect = (mean(treat, 2028) - mean(treat, 2026)) - (mean(never, 2028) - mean(never, 2026))
    assert row["estimate"] == pytest.approx(expect, rel=1e-12)
    # and those are the household-weighted means
    hh = d[(d["cohort"] == 2027) & (d["year"] == 2028)]
    assert mean(treat, 2028) == pytest.approx(np.average(hh["y"], weights=hh["w"]), rel=1e-12)


def test_carried_and_reduced_covariates_mix(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """A village-level covariate carried as a cell column works with row-level ones (method='reg')."""
    d, cells = data
    carried = cells.drop(columns=[c for c in cells.columns if "__z" in c]).assign(
        z=cells["sum_w__z"] / cells["sum_w"])
    kw = {"outcome": "y", "time": "year", "covariates": ["x", "z"], "method": "reg", "draws": 99}
    rows = att_gt(d, unit=None, cohort="cohort", weights="w", cluster="village", panel=False, **kw)
    cel = att_gt(carried, unit="village", cohort="cohort_f", cells=True, **kw)
    _compare(rows.tidy(), cel.tidy())
