"""Cells: weighted sufficient statistics of row-level data by cluster × time (the contract between engines
and estimators).

Estimators whose point estimate and cluster-robust variance depend on the rows only through weighted sums
(counts, means, second moments) can run on these cells instead of the rows: the national household survey
(~12 million rows a year) reduces to ~75,000 village × year cells. :func:`reduce_cells` is the pandas
reference implementation; the engines in :mod:`welfare_eval.scale` produce the *same* table from Parquet with
DuckDB or Spark (a test checks them against this function).

Cell table
----------
One row per ``keys`` combination (e.g. ``village_id, year``), sorted by the keys, with

* the key columns, and the ``carry`` columns (constant within a cell, e.g. ``cohort``, ``province``;
  :func:`reduce_cells` checks that they are),
* ``n_rows``: number of rows in the cell (int64),
* ``sum_w``: Σ w (the weights; 1 for every row when unweighted),
* ``sum_w__<a>``: Σ w·a for each variable ``a``,
* ``sum_w__<a>__<b>``: Σ w·a·b for each pair ``a ≤ b`` in the order of ``variables`` (squares included).

Rows with a missing value in any variable or weight are not allowed (clean or drop them first, visibly):
the reduction refuses them, so that the cells describe exactly the rows the caller believes they do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["cell_columns", "moment_name", "reduce_cells"]


def moment_name(*variables: str) -> str:
    """Name of the cell column holding Σ w·Π variables (``sum_w`` for none)."""
    return "__".join(["sum_w", *variables])


def cell_columns(variables: Sequence[str]) -> list[str]:
    """The moment columns of a cell table over ``variables`` (after ``n_rows``), in their fixed order."""
    vs = list(variables)
    cols = [moment_name()]
    cols += [moment_name(a) for a in vs]
    cols += [moment_name(a, b) for i, a in enumerate(vs) for b in vs[i:]]
    return cols


def reduce_cells(
    data: pd.DataFrame,
    *,
    keys: Sequence[str],
    variables: Sequence[str],
    weights: str | None = None,
    carry: Sequence[str] = (),
) -> pd.DataFrame:
    """Weighted sums of ``variables`` and their products by ``keys`` (see the module docstring).

    Parameters
    ----------
    data : DataFrame
        Row-level data (e.g. households × year).
    keys : sequence of str
        Cell keys, e.g. ``("village_id", "year")``.
    variables : sequence of str
        Numeric columns whose first and second moments are kept (outcome, covariates).
    weights : str, optional
        Column of non-negative weights (default: every row weight 1).
    carry : sequence of str
        Columns constant within each cell, kept as they are (e.g. ``cohort``).

    Returns
    -------
    DataFrame
        The cell table, sorted by ``keys``.

    Raises
    ------
    ValueError
        Unknown or duplicated column names, missing values, negative weights, or a ``carry`` column that
        varies within a cell.
    """
    keys, variables, carry = list(keys), list(variables), list(carry)
    names = [*keys, *variables, *carry, *([weights] if weights else [])]
    missing = [c for c in dict.fromkeys(names) if c not in data.columns]
    if missing:
        raise ValueError(f"reduce_cells: column(s) {missing} are not in the data")
    if len(set(variables)) != len(variables) or set(variables) & set(keys):
        raise ValueError("reduce_cells: variables must be distinct and must not be keys")
    if not keys:
        raise ValueError("reduce_cells: give at least one key column")
    num = data[variables].apply(pd.to_numeric, errors="coerce").astype(float)
    bad = num.isna().any(axis=1) | data[keys].isna().any(axis=1)
    if weights:
        w = pd.to_numeric(data[weights], errors="coerce").astype(float)
        bad |= w.isna()
        if (w < 0).any():
            i = int(np.flatnonzero((w < 0).to_numpy())[0])
            raise ValueError(f"reduce_cells: weight {weights!r} is negative in row {i}")
    else:
        w = pd.Series(1.0, index=data.index)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        cols = [c for c in [*keys, *variables, *([weights] if weights else [])] if pd.isna(data[c].iloc[i])]
        raise ValueError(
            f"reduce_cells: {int(bad.sum())} row(s) with missing values (first: row {i}, column(s) {cols}); "
            "drop or impute them before reducing"
        )
    frame = data[keys].copy()
    frame["n_rows"] = 1
    frame[moment_name()] = w.to_numpy()
    wv = num.to_numpy() * w.to_numpy()[:, None]
    for j, a in enumerate(variables):
        frame[moment_name(a)] = wv[:, j]
    arr = num.to_numpy()
    for i, a in enumerate(variables):
        for j in range(i, len(variables)):
            frame[moment_name(a, variables[j])] = wv[:, i] * arr[:, j]
    g = frame.groupby(keys, sort=True, dropna=False)
    out = g.sum()
    out["n_rows"] = out["n_rows"].astype("int64")
    if carry:
        nun = data[[*keys, *carry]].groupby(keys, sort=True, dropna=False)[carry].nunique(dropna=False)
        varying = [c for c in carry if (nun[c] > 1).any()]
        if varying:
            cell = nun.index[(nun[varying[0]] > 1).to_numpy()][0]
            raise ValueError(f"reduce_cells: carry column {varying[0]!r} varies within cell {cell}")
        first = data[[*keys, *carry]].groupby(keys, sort=True, dropna=False)[carry].first()
        out = out.join(first)
    out = out.reset_index()
    return out[[*keys, *carry, "n_rows", *cell_columns(variables)]]
