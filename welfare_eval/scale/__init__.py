"""Data at national scale: household rows stay in Parquet, an engine reduces them to cells.

Public API
----------
connect(engine="duckdb" | "spark", ...) -> Engine
    An embedded DuckDB (default, nothing to start) or a Spark session (local ``local[2]`` without network,
    or your cluster's session); :meth:`Engine.read_parquet` opens a Parquet file or hive-partitioned folder
    lazily.
reduce_cells(source, *, keys, variables, weights=None, carry=(), where=None, engine="duckdb")
    Household rows → cluster × time cells (the contract of :mod:`welfare_eval.did.cells`) inside the
    engine: filters, projection and group-by pushed down, only the cells come back. One Ibis expression
    (:func:`cells_expr`) for DuckDB and Spark.
cell_means(cells, variables)
    Weighted means and variances per cell from the moment columns.
village_means(source, *, variables, weights=None, where=None, engine="duckdb")
    Weighted (e.g. pre-adoption) household means per village, reduced in the engine.
stratum_moments(source, *, by, variables, weights=None, engine="duckdb")
    Counts, means and SDs per stratum (e.g. province × adopter): balance before matching, overlap.
match_adopters(villages, *, covariates, cohort="cohort", exact="province_code", ratio=1, ...)
    Adopters (cohort > 0) matched to never-treated villages within province with
    :func:`welfare_eval.match.match_villages`; the pairs carry the adopter's cohort.

The national demo data (``welfare_eval.simulate.national``) are laid out as the engine expects:
``households/year=YYYY/province_code=PP/part-0.parquet`` (read with
``partition_types={"year": "int64"}``) and ``villages.parquet``.
"""

from __future__ import annotations

from welfare_eval.scale.cells import Where, apply_where, cell_means, cells_expr, reduce_cells
from welfare_eval.scale.engine import (
    ENGINES,
    Engine,
    EngineName,
    EngineUnavailableError,
    connect,
    java_available,
    parquet_files,
    spark_session,
)
from welfare_eval.scale.matching import adopter_indicator, match_adopters, stratum_moments, village_means

__all__ = [
    "ENGINES",
    "Engine",
    "EngineName",
    "EngineUnavailableError",
    "Where",
    "adopter_indicator",
    "apply_where",
    "cell_means",
    "cells_expr",
    "connect",
    "java_available",
    "match_adopters",
    "parquet_files",
    "reduce_cells",
    "spark_session",
    "stratum_moments",
    "village_means",
]
