"""Matching adopters to comparison villages at national scale (≈ 2,000 adopters, ≈ 75,000 villages).

The heavy part is the household data: ≈ 12 million rows a year. The engine reduces them to one row per
village (:func:`village_means`: weighted pre-period means of household variables, filters pushed down),
and to per-stratum covariate moments (:func:`stratum_moments`: counts, means and SDs of adopters and
candidates per province, the "before" balance and an overlap check). The village table is small, so the
matching itself reuses :func:`welfare_eval.match.match_villages` — Mahalanobis (or propensity) distance,
exact strata (province by default), optimal or greedy 1:k without replacement, seeded ties — on that
table (:func:`match_adopters`). Within-province optimal matching of 2,000 adopters against 73,000
candidates takes well under a second: each province is a ≈ 26 × 1,000 assignment problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from welfare_eval.did.cells import moment_name
from welfare_eval.match import MatchResult, match_villages
from welfare_eval.scale.cells import Where, cell_means, reduce_cells
from welfare_eval.scale.engine import Engine, quiet_ibis

__all__ = ["adopter_indicator", "match_adopters", "stratum_moments", "village_means"]


def village_means(
    source: str | Path | ir.Table,
    *,
    variables: Sequence[str],
    weights: str | None = None,
    where: Where | None = None,
    id_col: str = "village_id",
    prefix: str = "hh_",
    engine: str | Engine = "duckdb",
    partition_types: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Weighted means of household variables per village, computed in the engine.

    Parameters
    ----------
    source : path or Ibis table
        Household rows (Parquet file or hive-partitioned folder).
    variables : sequence of str
        Household variables to average (e.g. pre-adoption income, welfare receipt, savings).
    weights : str, optional
        Survey weight column.
    where : filters, optional
        E.g. the pre-adoption years ``[("year", "<", 2027)]`` (pushed down to the Parquet scan).
    id_col : str
        Village id column.
    prefix : str
        Prefix of the mean columns (``hh_income`` …).
    engine, partition_types
        See :func:`welfare_eval.scale.reduce_cells`.

    Returns
    -------
    DataFrame
        One row per village with rows: ``id_col``, ``hh_n_rows`` (household-rows averaged over),
        ``hh_sum_w`` and ``<prefix><variable>`` = Σ w·x / Σ w, sorted by ``id_col``.
    """
    variables = list(variables)
    cells = reduce_cells(
        source,
        keys=[id_col],
        variables=variables,
        weights=weights,
        where=where,
        engine=engine,
        partition_types=partition_types,
    )
    means = cell_means(cells, variables)
    out = pd.DataFrame({id_col: means[id_col]})
    out[f"{prefix}n_rows"] = means["n_rows"].astype("int64")
    out[f"{prefix}sum_w"] = means[moment_name()]
    for a in variables:
        out[f"{prefix}{a}"] = means[f"mean__{a}"]
    return out


def adopter_indicator(cohort: pd.Series) -> pd.Series:
    """1 for villages with an adoption cohort (> 0), 0 for never-treated (cohort 0 or missing).

    Raises
    ------
    ValueError
        A cohort that is negative or not a whole number.
    """
    c = pd.to_numeric(cohort, errors="coerce")
    bad = cohort.notna() & (c.isna() | (c < 0) | (c.fillna(0) % 1 != 0))
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        val = cohort.iloc[i]
        val = val.item() if hasattr(val, "item") else val
        raise ValueError(
            f"cohort column {cohort.name!r}: value {val!r} (row {i}) is not a year or 0 (never treated)"
        )
    return (c.fillna(0) > 0).astype(int)


def match_adopters(
    villages: pd.DataFrame,
    *,
    covariates: Sequence[str],
    cohort: str = "cohort",
    exact: str | Sequence[str] | None = "province_code",
    eligible: str | None = "eligible",
    ratio: int = 1,
    method: str = "mahalanobis",
    caliper: float | None = None,
    algorithm: str = "optimal",
    seed: int = 0,
    n_reserves: int = 0,
    id_col: str = "village_id",
    **options: Any,
) -> MatchResult:
    """Match every adopting village to never-treated villages of the same province.

    Adopters are villages with ``cohort`` > 0; candidates are never-treated villages (``cohort`` 0 or
    missing) that are ``eligible`` (every never-treated village with ``eligible=None``). The matching is
    :func:`welfare_eval.match.match_villages` with ``exact`` strata (province by default); see there for
    the distance, the covariance convention, ties and reserves.

    Parameters
    ----------
    villages : DataFrame
        One row per village: id, cohort, exact-stratum columns, covariates (e.g. the village frame joined
        with :func:`village_means`).
    covariates : sequence of str
    cohort : str
        Adoption-year column (0 or missing = never treated).
    exact, eligible, ratio, method, caliper, algorithm, seed, n_reserves, id_col, **options
        Passed to :func:`welfare_eval.match.match_villages`.

    Returns
    -------
    MatchResult
        Its ``pairs`` have an extra column ``cohort``: the adoption year of the pair's adopter (the
        comparison villages inherit it, e.g. for event time in a matched DiD).
    """
    for c in (cohort, id_col):
        if c not in villages.columns:
            raise ValueError(f"match_adopters: column {c!r} is not in the village table")
    frame = villages.copy()
    if "_adopter" in frame.columns:
        raise ValueError("match_adopters: the column name '_adopter' is reserved")
    frame["_adopter"] = adopter_indicator(frame[cohort])
    if frame["_adopter"].sum() == 0:
        raise ValueError(f"match_adopters: no village has {cohort!r} > 0 (no adopters to match)")
    res = match_villages(
        frame,
        treat="_adopter",
        covariates=covariates,
        exact=exact,
        eligible=eligible,
        ratio=ratio,
        method=method,  # type: ignore[arg-type]
        caliper=caliper,
        algorithm=algorithm,  # type: ignore[arg-type]
        seed=seed,
        n_reserves=n_reserves,
        id_col=id_col,
        **options,
    )
    g = frame.set_index(frame[id_col].astype(str))[cohort]
    res.pairs["cohort"] = res.pairs["treated_id"].astype(str).map(g).astype("int64").to_numpy()
    return res


def stratum_moments(
    source: pd.DataFrame | str | Path | ir.Table,
    *,
    by: Sequence[str],
    variables: Sequence[str],
    weights: str | None = None,
    where: Where | None = None,
    engine: str | Engine = "duckdb",
    partition_types: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Counts, weighted means and SDs of ``variables`` per stratum, computed in the engine.

    With ``by=["province_code", "adopter"]`` this is the per-province balance of adopters and candidates
    before matching (and the overlap check: provinces with adopters but few candidates).

    Returns
    -------
    DataFrame
        ``by`` columns, ``n`` (rows), ``sum_w``, and ``mean__<a>``, ``sd__<a>`` for each variable. The SD is
        the weighted SD with the frequency-weight denominator Σw − 1 (the sample SD when unweighted);
        NaN when Σw ≤ 1.
    """
    variables = list(variables)
    src: Any = source
    if isinstance(source, pd.DataFrame):
        with quiet_ibis():
            src = ibis.memtable(source)
    cells = reduce_cells(
        src, keys=list(by), variables=variables, weights=weights, where=where, engine=engine,
        partition_types=partition_types,
    )
    m = cell_means(cells, variables)
    sw = m[moment_name()].to_numpy(dtype=float)
    out = m[list(by)].copy()
    out["n"] = m["n_rows"].astype("int64")
    out["sum_w"] = sw
    for a in variables:
        out[f"mean__{a}"] = m[f"mean__{a}"]
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(sw > 1, m[f"var__{a}"].to_numpy(dtype=float) * sw / (sw - 1), np.nan)
        out[f"sd__{a}"] = np.sqrt(var)
    return out
