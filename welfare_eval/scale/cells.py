"""Household rows → cluster × time cells inside the engine (the contract of :mod:`welfare_eval.did.cells`).

:func:`cells_expr` writes the reduction once as an Ibis expression; DuckDB and Spark compile it to their
own SQL. Filters (``where``) and the column projection are pushed down to the Parquet scan (DuckDB skips
whole partition files whose ``year``/``province_code`` fail the filter), the group-by runs in the engine
and only the cells come back. :func:`reduce_cells` returns exactly the table of
:func:`welfare_eval.did.cells.reduce_cells` on the same rows: the same columns, the same row order (sorted
by the keys), counts equal, sums equal up to the order of floating-point summation (each row's products
are formed as in the reference, ``(w·a)·b``).

Like the reference, the reduction refuses rows with a missing value (NULL or NaN) in a key, a variable or
the weight, negative weights, and ``carry`` columns that vary within a cell; the checks ride along in the
same pass as the sums (a probe sum, a counter, and the ``carry`` columns as extra group keys) and the error
names the first offending cell.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.common.exceptions import IbisTypeError

from welfare_eval.did.cells import cell_columns, moment_name
from welfare_eval.scale.engine import Engine, connect, quiet_ibis

__all__ = ["Where", "apply_where", "cell_means", "cells_expr", "reduce_cells"]

#: A row filter: ``(column, op, value)`` with op one of ``== != < <= > >= in not in``.
Where = Sequence[tuple[str, str, Any]]

_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_VALID = "_we_n_valid"
_PROBE = "_we_probe"
_NEG = "_we_n_negative_weight"


def apply_where(table: ir.Table, where: Where | None) -> ir.Table:
    """``table`` filtered by simple predicates ``(column, op, value)`` (all must hold).

    Raises
    ------
    ValueError
        Unknown column or operator, or a non-list value for ``in`` / ``not in``.
    """
    if not where:
        return table
    preds = []
    for item in where:
        if not (isinstance(item, tuple | list) and len(item) == 3):
            raise ValueError(f"where: each filter is (column, op, value), got {item!r}")
        col, op, val = item
        if col not in table.columns:
            raise ValueError(f"where: column {col!r} is not in the data (columns: {list(table.columns)})")
        c = table[col]
        if op not in _OPS:
            raise ValueError(f"where: operator {op!r} for {col!r}; use one of {_OPS}")
        if op in ("in", "not in") and (isinstance(val, str) or not isinstance(val, Sequence | set | frozenset)):
            raise ValueError(f"where: {col!r} {op} needs a list of values, got {val!r}")
        try:
            if op in ("in", "not in"):
                vals = list(val)
                preds.append(c.isin(vals) if op == "in" else ~c.isin(vals))
            else:
                preds.append(_COMPARE[op](c, val))
        except IbisTypeError:
            raise ValueError(
                f"where: cannot compare column {col!r} of type {c.type()} with {val!r}; give a value of the "
                "column's type (partition columns are text unless partition_types= types them)"
            ) from None
    return table.filter(*preds)


def _check_names(
    table: ir.Table, keys: list[str], variables: list[str], weights: str | None, carry: list[str]
) -> None:
    if not keys:
        raise ValueError("reduce_cells: give at least one key column")
    if len(set(variables)) != len(variables) or set(variables) & set(keys):
        raise ValueError("reduce_cells: variables must be distinct and must not be keys")
    names = [*keys, *variables, *carry, *([weights] if weights else [])]
    missing = [c for c in dict.fromkeys(names) if c not in table.columns]
    if missing:
        raise ValueError(f"reduce_cells: column(s) {missing} are not in the data (columns: {list(table.columns)})")
    schema = table.schema()
    for c in [*variables, *([weights] if weights else [])]:
        dt = schema[c]
        if not (dt.is_numeric() or dt.is_boolean()):
            raise ValueError(
                f"reduce_cells: column {c!r} has type {dt}; variables and weights must be numeric (convert it first)"
            )
    reserved = [c for c in names if c.startswith("_we_")]
    if reserved:
        raise ValueError(f"reduce_cells: column names starting with '_we_' are reserved: {reserved}")


def _missing(table: ir.Table, c: str) -> ir.BooleanValue:
    m = table[c].isnull()
    if table.schema()[c].is_floating():
        m = m | table[c].isnan()
    return m


def cells_expr(
    table: ir.Table,
    *,
    keys: Sequence[str],
    variables: Sequence[str],
    weights: str | None = None,
    carry: Sequence[str] = (),
) -> ir.Table:
    """The cell reduction as one Ibis expression (runs unchanged on DuckDB, Spark or any Ibis backend).

    Groups by ``keys`` + ``carry`` (a ``carry`` column constant within cells adds no groups, so a key
    combination that appears twice in the result reveals a varying ``carry`` column) and returns
    ``n_rows``, the moment columns of :func:`welfare_eval.did.cells.cell_columns` and three check columns:
    ``_we_n_valid`` and ``_we_probe`` (the count and the sum of the per-row sum of weight and variables:
    fewer valid rows than ``n_rows`` means a NULL, a NaN sum a NaN), and ``_we_n_negative_weight``.
    Unordered; :func:`reduce_cells` checks, sorts and cleans the result.
    """
    keys, variables, carry = list(keys), list(variables), list(carry)
    _check_names(table, keys, variables, weights, carry)
    if set(carry) & set(keys):
        raise ValueError("reduce_cells: carry columns must not be keys")
    x = {a: table[a].cast("float64") for a in variables}
    w = table[weights].cast("float64") if weights else None
    # per-row products formed as in the pandas reference: w·a, then (w·a)·b
    wx = {a: (w * x[a] if w is not None else x[a]) for a in variables}
    aggs: dict[str, Any] = {"n_rows": table.count()}
    aggs[moment_name()] = w.sum() if w is not None else table.count().cast("float64")
    for a in variables:
        aggs[moment_name(a)] = wx[a].sum()
    for i, a in enumerate(variables):
        for b in variables[i:]:
            aggs[moment_name(a, b)] = (wx[a] * x[b]).sum()
    # Missing-value probe: the per-row sum of weight and variables is NULL if any of them is NULL and NaN if
    # any is NaN; its count and sum per cell flag such rows at the cost of one extra sum (the exact count
    # and columns are found by a second query, only when something is flagged).
    probe = None
    for v in [*([w] if w is not None else []), *x.values()]:
        probe = v if probe is None else probe + v
    assert probe is not None
    aggs[_VALID] = probe.count()
    aggs[_PROBE] = probe.sum()
    if w is not None:
        aggs[_NEG] = (w < 0).cast("int64").sum()
    return table.group_by([*keys, *carry]).aggregate(**aggs)


def _resolve(
    source: str | Path | ir.Table, engine: str | Engine, partition_types: Mapping[str, str] | None
) -> tuple[ir.Table, Engine | None, bool]:
    if isinstance(source, ir.Table):
        return source, engine if isinstance(engine, Engine) else None, False
    eng = engine if isinstance(engine, Engine) else connect(engine)
    owned = not isinstance(engine, Engine)
    try:
        return eng.read_parquet(source, partition_types=partition_types), eng, owned
    except BaseException:
        if owned:
            eng.close()
        raise


def _execute(expr: ir.Table, eng: Engine | None) -> pd.DataFrame:
    if eng is not None:
        return eng.execute(expr)
    with quiet_ibis():
        return expr.to_pandas()


def _first_cell(df: pd.DataFrame, keys: list[str], mask: pd.Series) -> dict[str, Any]:
    row = df.loc[mask].sort_values(keys, kind="mergesort").iloc[0]
    return {k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in keys}


def _text_dtype(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def reduce_cells(
    source: str | Path | ir.Table,
    *,
    keys: Sequence[str],
    variables: Sequence[str],
    weights: str | None = None,
    carry: Sequence[str] = (),
    where: Where | None = None,
    engine: str | Engine = "duckdb",
    partition_types: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Reduce row-level Parquet data to cells in a data engine (DuckDB by default, or Spark).

    Parameters
    ----------
    source : path or Ibis table
        A Parquet file or (hive-partitioned) folder, or a table of an engine (e.g.
        ``Engine.read_parquet(...)`` joined with a village table).
    keys, variables, weights, carry
        As in :func:`welfare_eval.did.cells.reduce_cells`.
    where : sequence of (column, op, value), optional
        Row filters applied in the engine before the reduction, e.g. ``[("year", ">=", 2026),
        ("province_code", "in", ["10", "12"])]``; filters on partition keys skip whole files.
    engine : {"duckdb", "spark"} or Engine
        Engine name (a fresh connection, closed afterwards) or a connected :class:`Engine` to reuse
        (recommended for Spark, whose start-up takes seconds).
    partition_types : mapping, optional
        Types of hive partition columns (default text), e.g. ``{"year": "int64"}``.

    Returns
    -------
    DataFrame
        The cell table of :func:`welfare_eval.did.cells.reduce_cells` (keys, carry, ``n_rows`` int64,
        moment columns float64), sorted by the keys; text keys and carry columns as pandas ``string``.

    Raises
    ------
    ValueError
        Unknown/duplicated/non-numeric columns, rows with missing values, negative weights, a ``carry``
        column varying within a cell, bad filters.
    """
    keys, variables, carry = list(keys), list(variables), list(carry)
    table, eng, owned = _resolve(source, engine, partition_types)
    try:
        table = apply_where(table, where)
        expr = cells_expr(table, keys=keys, variables=variables, weights=weights, carry=carry)
        out = _execute(expr, eng)
        suspect = (
            (out[_VALID].to_numpy() < out["n_rows"].to_numpy()).any()
            or out[_PROBE].isna().any()
            or out[keys].isna().any(axis=None)
        )
        if len(out) and suspect:
            _raise_missing(table, keys, [*variables, *([weights] if weights else [])], eng)
    finally:
        if owned and eng is not None:
            eng.close()
    if weights and len(out) and int(out[_NEG].sum()) > 0:
        cell = _first_cell(out, keys, out[_NEG] > 0)
        raise ValueError(f"reduce_cells: weight {weights!r} is negative in {int(out[_NEG].sum())} row(s) (first cell {cell})")
    dup = out.duplicated(keys, keep=False)
    if carry and dup.any():
        d = out.loc[dup]
        nun = d.groupby(keys, dropna=False)[carry].nunique(dropna=False)
        col = next(c for c in carry if (nun[c] > 1).any())
        cell = _first_cell(d, keys, pd.Series(True, index=d.index))
        raise ValueError(f"reduce_cells: carry column {col!r} varies within cell {cell}")
    out = out.sort_values(keys, kind="mergesort").reset_index(drop=True)
    res = out[[*keys, *carry, "n_rows", *cell_columns(variables)]].copy()
    res["n_rows"] = res["n_rows"].astype("int64")
    for m in cell_columns(variables):
        res[m] = res[m].astype("float64")
    for c in [*keys, *carry]:
        if _text_dtype(res[c]):
            res[c] = res[c].astype("string")
    return res


def _raise_missing(table: ir.Table, keys: list[str], values: list[str], eng: Engine | None) -> None:
    """Count the rows with a NULL/NaN key, variable or weight and raise; return if there are none.

    Runs only when the fast probe of :func:`cells_expr` flagged a cell (a NaN sum can also come from
    +inf and -inf in one cell, which the pandas reference accepts too).
    """
    cols = list(dict.fromkeys([*keys, *values]))
    flags = {c: _missing(table, c) for c in cols}
    anym = None
    for f in flags.values():
        anym = f if anym is None else (anym | f)
    assert anym is not None
    aggs = {f"c{i}": f.cast("int64").sum() for i, f in enumerate(flags.values())}
    aggs["n"] = anym.cast("int64").sum()
    tot = _execute(table.aggregate(**aggs), eng)
    n = int(tot["n"].iloc[0] or 0)
    if n == 0:
        return
    bad_cols = [c for i, c in enumerate(cols) if int(tot[f"c{i}"].iloc[0] or 0) > 0]
    bad_rows = table.filter(anym)
    first = _execute(bad_rows.group_by(keys).aggregate(_n=bad_rows.count()), eng)
    cell = _first_cell(first, keys, pd.Series(True, index=first.index))
    raise ValueError(
        f"reduce_cells: {n} row(s) with missing values (NULL/NaN) in column(s) {bad_cols} (first cell {cell}); "
        "drop or impute them before reducing"
    )


def cell_means(cells: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Weighted means and variances per cell from the moment columns.

    Adds ``mean__<a>`` = Σw·a / Σw and ``var__<a>`` = Σw·a² / Σw − mean² (the weighted population
    variance of the cell's rows, clipped at 0 against rounding) for every variable.

    Raises
    ------
    ValueError
        A moment column is missing, or a cell has Σw = 0.
    """
    out = cells.copy()
    sw = out[moment_name()].to_numpy(dtype=float) if moment_name() in out.columns else None
    if sw is None:
        raise ValueError("cell_means: the cell table has no 'sum_w' column")
    if (sw <= 0).any():
        raise ValueError("cell_means: a cell has total weight 0; drop it first")
    for a in variables:
        for col in (moment_name(a), moment_name(a, a)):
            if col not in out.columns:
                raise ValueError(f"cell_means: column {col!r} is missing (reduce with {a!r} among the variables)")
        mean = out[moment_name(a)].to_numpy(dtype=float) / sw
        out[f"mean__{a}"] = mean
        out[f"var__{a}"] = np.maximum(out[moment_name(a, a)].to_numpy(dtype=float) / sw - mean**2, 0.0)
    return out
