"""Disclosure control and formatting of publication tables (welfare_eval.report.tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import null_space

from welfare_eval.report.tables import (
    format_p,
    format_table,
    html_table,
    recoverable_cells,
    suppress_small_cells,
    suppression_mask,
)


def _with_margins(inner: np.ndarray) -> pd.DataFrame:
    rows = [f"r{i}" for i in range(inner.shape[0])]
    cols = [f"c{j}" for j in range(inner.shape[1])]
    df = pd.DataFrame(inner, index=rows, columns=cols)
    df["total"] = df.sum(axis=1)
    df.loc["total"] = df.sum(axis=0)
    return df.astype(int)


def _determined_by_nullspace(df: pd.DataFrame, hidden: pd.DataFrame) -> list[tuple[str, str]]:
    """Independent check: a hidden cell is pinned down iff every null-space vector of the margin
    equations (restricted to the hidden cells) has a zero in its coordinate."""
    cells = [(r, c) for r in df.index for c in df.columns if hidden.loc[r, c]]
    if not cells:
        return []
    idx = {cell: k for k, cell in enumerate(cells)}
    eqs = []
    inner_rows = [r for r in df.index if r != "total"]
    inner_cols = [c for c in df.columns if c != "total"]
    for r in df.index:  # row sums
        a = np.zeros(len(cells))
        for c in inner_cols:
            if (r, c) in idx:
                a[idx[(r, c)]] = 1
        if (r, "total") in idx:
            a[idx[(r, "total")]] = -1
        eqs.append(a)
    for c in df.columns:  # column sums
        a = np.zeros(len(cells))
        for r in inner_rows:
            if (r, c) in idx:
                a[idx[(r, c)]] = 1
        if ("total", c) in idx:
            a[idx[("total", c)]] = -1
        eqs.append(a)
    ns = null_space(np.vstack(eqs))
    if ns.shape[1] == 0:
        return cells
    return [cell for cell, k in idx.items() if np.all(np.abs(ns[k]) < 1e-9)]


def test_primary_only_without_margins() -> None:
    t = pd.DataFrame({"n": [12, 3, 0, 5, 4]}, index=list("abcde"))
    m = suppression_mask(t, count_cols="n")
    assert m["n"].tolist() == [0, 1, 0, 0, 1]  # 1..4 suppressed, 0 and 5 published
    m0 = suppression_mask(t, count_cols="n", suppress_zero=True)
    assert m0["n"].tolist() == [0, 1, 1, 0, 1]
    out = suppress_small_cells(t, count_cols="n", marker="*")
    assert out["n"].tolist() == [12, "*", 0, 5, "*"]
    assert out.attrs["suppression"].equals(m)
    assert t["n"].tolist() == [12, 3, 0, 5, 4]  # input untouched


def test_complementary_down_a_column() -> None:
    t = pd.DataFrame({"pilot": [12, 3, 15], "comparison": [9, 14, 23]}, index=["savings", "loan", "total"])
    out = suppress_small_cells(t, count_cols=["pilot", "comparison"], total_row="total")
    # 'loan' (3) is primary; with the total published, 'savings' = 15 - 3 would reveal it
    assert out["pilot"].tolist() == ["x", "x", 15]
    assert out["comparison"].tolist() == [9, 14, 23]
    assert out.attrs["suppression"]["pilot"].tolist() == [2, 1, 0]


def test_two_way_table_rectangle() -> None:
    t = pd.DataFrame(
        {"a": [1, 10, 12, 23], "b": [8, 9, 2, 19], "c": [7, 6, 11, 24], "tot": [16, 25, 25, 66]},
        index=["r1", "r2", "r3", "total"],
    )
    m = suppression_mask(t, count_cols=["a", "b", "c", "tot"], total_row="total", total_col="tot")
    # hand-worked: primaries (r1,a)=1 and (r3,b)=2; the complements close a rectangle
    expect = pd.DataFrame(
        {"a": [1, 0, 2, 0], "b": [2, 0, 1, 0], "c": [0, 0, 0, 0], "tot": [0, 0, 0, 0]}, index=t.index
    )
    pd.testing.assert_frame_equal(m, expect, check_dtype=False)
    assert recoverable_cells(t[["a", "b", "c", "tot"]], m != 0, total_row="total", total_col="tot") == []


def test_line_rule_alone_can_leave_a_bridge_recoverable() -> None:
    # two hidden rectangles joined by one hidden cell: every row/column has 0 or >= 2 hidden cells,
    # yet the joining cell is fixed by the margins; recoverable_cells must find it
    inner = np.full((4, 4), 20)
    t = _with_margins(inner)
    hidden = pd.DataFrame(False, index=t.index, columns=t.columns)
    for cell in [("r0", "c0"), ("r0", "c1"), ("r1", "c0"), ("r1", "c1"), ("r1", "c2"),
                 ("r2", "c2"), ("r2", "c3"), ("r3", "c2"), ("r3", "c3")]:  # fmt: skip
        hidden.loc[cell] = True
    got = recoverable_cells(t, hidden, total_row="total", total_col="total")
    assert got == [("r1", "c2")]
    assert got == _determined_by_nullspace(t, hidden)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 4).flatmap(
        lambda r: st.integers(2, 4).flatmap(
            lambda c: st.lists(st.integers(0, 14), min_size=r * c, max_size=r * c).map(
                lambda v: np.array(v).reshape(r, c)
            )
        )
    )
)
def test_suppression_protects_every_hidden_cell(inner: np.ndarray) -> None:
    t = _with_margins(inner)
    out = suppress_small_cells(t, count_cols=list(t.columns), total_row="total", total_col="total")
    mask = out.attrs["suppression"]
    hidden = mask != 0
    # every primary cell is hidden, every published cell is unchanged
    assert ((t >= 1) & (t < 5)).le(hidden).all().all()
    for r in t.index:
        for c in t.columns:
            if not hidden.loc[r, c]:
                assert out.loc[r, c] == t.loc[r, c]
            else:
                assert out.loc[r, c] == "x"
    # no line with exactly one hidden cell, and (independent null-space check) no hidden cell
    # that the published margins determine exactly
    assert not (hidden.sum(axis=0) == 1).any()
    assert not (hidden.sum(axis=1) == 1).any()
    assert _determined_by_nullspace(t, hidden) == []


def test_suppression_does_not_depend_on_row_order() -> None:
    t = pd.DataFrame({"a": [3, 8, 8, 19], "b": [9, 9, 9, 27]}, index=["r1", "r2", "r3", "total"])
    m1 = suppression_mask(t, count_cols=["a", "b"], total_row="total")
    t2 = t.loc[["r3", "total", "r2", "r1"]]
    m2 = suppression_mask(t2, count_cols=["a", "b"], total_row="total")
    pd.testing.assert_frame_equal(m1, m2.loc[m1.index])


def test_statistics_table_with_value_columns() -> None:
    t = pd.DataFrame(
        {
            "n": [40, 3, 22, 65],
            "mean_income": [5100.0, 9999.0, 4800.0, 5101.0],
            "share": [0.4, 0.9, 0.5, 0.46],
        },
        index=["north", "south", "east", "all"],
    )
    out = suppress_small_cells(t, count_cols="n", value_cols=["mean_income", "share"], total_row="all")
    assert out.loc["south", "mean_income"] == "x" and out.loc["south", "n"] == "x"
    # complement: the smallest other row (east, n=22) is hidden too, otherwise n_south = 65 - 40 - 22
    assert out.loc["east", "mean_income"] == "x" and out.loc["east", "n"] == "x"
    assert out.loc["north", "mean_income"] == 5100.0
    kept_n = suppress_small_cells(t, count_cols="n", value_cols=["mean_income"], hide_counts=False)
    assert kept_n.loc["south", "n"] == 3 and kept_n.loc["south", "mean_income"] == "x"


def test_suppression_input_errors() -> None:
    t = pd.DataFrame({"n": [1, 2]})
    with pytest.raises(ValueError, match="count column"):
        suppress_small_cells(t, count_cols="m")
    with pytest.raises(ValueError, match="non-negative"):
        suppress_small_cells(pd.DataFrame({"n": [-1, 2]}), count_cols="n")
    with pytest.raises(ValueError, match="whole numbers"):
        suppress_small_cells(pd.DataFrame({"n": [1.5, 2]}), count_cols="n")
    with pytest.raises(ValueError, match="total_row"):
        suppress_small_cells(t, count_cols="n", total_row="total")
    with pytest.raises(ValueError, match="mapping"):
        suppress_small_cells(
            pd.DataFrame({"a": [1], "b": [2], "v": [0.1]}), count_cols=["a", "b"], value_cols=["v"]
        )


def test_format_p() -> None:
    assert format_p(0.0004) == "<\u00a00.001"  # a no-break space: "< 0.001" never splits across lines
    assert format_p(0.001) == "0.001"
    assert format_p(0.04999) == "0.050"
    assert format_p(1.0) == "1.000"
    assert format_p(float("nan")) == ""
    with pytest.raises(ValueError):
        format_p(1.5)


def test_format_table_thai_and_english() -> None:
    df = pd.DataFrame(
        {
            "estimate": [1234.5678, -0.0001, np.nan],
            "std_error": [12.3456, 0.5, 1.0],
            "p_value": [0.0004, 0.2, 0.05],
            "n_households": [1200, 35, 7],
            "share": [0.1234, 0.5, 1.0],
            "mystery": ["a", "b", "c"],
        }
    )
    df["n_households"] = df["n_households"].astype(object)
    df.loc[2, "n_households"] = "x"  # a suppression marker passes through
    th = format_table(df, "th", pct_cols=["share"], int_cols=["n_households"])
    assert list(th.columns) == [
        "ค่าประมาณ",
        "ความคลาดเคลื่อนมาตรฐาน",
        "ค่า p",
        "จำนวนครัวเรือน",
        "share",
        "mystery",
    ]
    assert th.iloc[:, 0].tolist() == ["1,234.57", "0.00", ""]
    assert th.iloc[:, 1].tolist() == ["12.35", "0.50", "1.00"]
    assert th.iloc[:, 2].tolist() == ["<\u00a00.001", "0.200", "0.050"]
    assert th.iloc[:, 3].tolist() == ["1,200", "35", "x"]
    assert th.iloc[:, 4].tolist() == ["12.3%", "50.0%", "100.0%"]
    en = format_table(df, "en", decimals={"estimate": 1}, thousands=False)
    assert list(en.columns)[:3] == ["Estimate", "Standard error", "p-value"]
    assert en.iloc[0, 0] == "1234.6"
    # counts that became object dtype through suppression stay whole numbers without int_cols
    sup = suppress_small_cells(pd.DataFrame({"n": [1200, 3, 40]}), count_cols="n")
    assert format_table(sup, "en").iloc[:, 0].tolist() == ["1,200", "x", "40"]
    h = html_table(th)
    assert h._repr_html_().startswith("<table") and "ค่าประมาณ" in h and '<th scope="col"' in h
