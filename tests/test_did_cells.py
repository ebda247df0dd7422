"""The cell contract: weighted moments by cluster × time (checked by brute force)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.did.cells import cell_columns, moment_name, reduce_cells


def _rows(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    return pd.DataFrame(
        {
            "village": rng.integers(0, 12, n).astype(str),
            "year": rng.integers(2020, 2024, n),
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "w": rng.uniform(0.5, 3.0, n),
        }
    ).assign(cohort=lambda d: d["village"].astype(int) % 3)


def test_moments_equal_brute_force() -> None:
    d = _rows()
    cells = reduce_cells(d, keys=["village", "year"], variables=["y", "x"], weights="w", carry=["cohort"])
    assert list(cells.columns) == ["village", "year", "cohort", "n_rows", *cell_columns(["y", "x"])]
    for (v, t), g in d.groupby(["village", "year"]):
        row = cells[(cells["village"] == v) & (cells["year"] == t)].iloc[0]
        assert row["n_rows"] == len(g)
        assert row[moment_name()] == pytest.approx(g["w"].sum(), rel=1e-12)
        assert row[moment_name("y")] == pytest.approx((g["w"] * g["y"]).sum(), rel=1e-12)
        assert row[moment_name("y", "x")] == pytest.approx((g["w"] * g["y"] * g["x"]).sum(), rel=1e-12, abs=1e-12)
        assert row[moment_name("x", "x")] == pytest.approx((g["w"] * g["x"] ** 2).sum(), rel=1e-12)
        assert row["cohort"] == int(v) % 3
    # the weighted cell mean of y equals the rows' weighted mean (the estimators' use of the cells)
    tot = cells[moment_name("y")].sum() / cells[moment_name()].sum()
    assert tot == pytest.approx(np.average(d["y"], weights=d["w"]), rel=1e-12)


def test_unweighted_and_order_invariant() -> None:
    d = _rows(2)
    a = reduce_cells(d, keys=["village", "year"], variables=["y"])
    b = reduce_cells(d.sample(frac=1.0, random_state=3), keys=["village", "year"], variables=["y"])
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    assert (a[moment_name()] == a["n_rows"]).all()


def test_bad_input() -> None:
    d = _rows(3)
    with pytest.raises(ValueError, match="not in the data"):
        reduce_cells(d, keys=["village"], variables=["nope"])
    d2 = d.copy()
    d2.loc[5, "y"] = np.nan
    with pytest.raises(ValueError, match=r"row 5, column\(s\) \['y'\]"):
        reduce_cells(d2, keys=["village"], variables=["y"])
    d3 = d.copy()
    d3.loc[0, "w"] = -1.0
    with pytest.raises(ValueError, match="negative"):
        reduce_cells(d3, keys=["village"], variables=["y"], weights="w")
    d4 = d.copy()
    d4.loc[0, "cohort"] = 99
    with pytest.raises(ValueError, match="varies within cell"):
        reduce_cells(d4, keys=["village", "year"], variables=["y"], carry=["cohort"])
