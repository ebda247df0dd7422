"""Staggered-adoption estimation on national-scale village × year cells (att_gt + bootstrap + aggregations).

Builds the cell table that the engines (DuckDB / Spark) hand to the estimator — one row per village × year
with ``n_rows``, ``sum_w``, ``sum_w__y``, ``sum_w__x``, ``sum_w__x__x``, ``sum_w__y__x``, ``sum_w__y__y``
(here drawn directly from the households' distribution, not reduced from 72 million rows) — and times
``att_gt`` on it for the three cases the cells support, the 999-draw multiplier bootstrap with the uniform
band, the four aggregations and the pre-trend test. Prints one table; peak memory from ``getrusage``.

    python benchmarks/bench_staggered.py [--villages 75000] [--households 160] [--draws 999]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from welfare_eval.did import att_gt


def national_cells(villages: int, households: int, seed: int = 2568) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2025, 2031)
    cohort = np.zeros(villages)
    adopters = rng.choice(villages, size=max(villages * 2000 // 75000, 40), replace=False)
    cohort[adopters] = rng.choice([2027, 2028, 2029, 2030], size=adopters.size)
    z = rng.normal(size=villages)
    v = np.repeat(np.arange(villages), years.size)
    t = np.tile(years, villages)
    g = cohort[v]
    n = rng.poisson(households, size=v.size).clip(1)
    wbar = rng.uniform(0.8, 1.2, size=v.size) * (1 + 0.02 * (t - 2025))
    sw = n * wbar
    xbar = 0.3 * z[v] + rng.normal(scale=1 / np.sqrt(n))
    e = t - g
    eff = np.where((g > 0) & (e >= 0), 0.05 + 0.02 * e + 0.01 * (g - 2027), 0.0)
    ybar = rng.normal(size=villages)[v] + 0.01 * (t - 2025) + 0.4 * xbar + eff + rng.normal(scale=0.3, size=v.size)
    vx, vy = 1.0, 1.0  # within-cell variances
    return pd.DataFrame({
        "village_id": v, "year": t, "cohort": g, "z": z[v], "n_rows": n, "sum_w": sw, "sum_w__y": sw * ybar,
        "sum_w__x": sw * xbar, "sum_w__y__y": sw * (ybar**2 + vy), "sum_w__y__x": sw * (ybar * xbar + 0.4 * vx),
        "sum_w__x__x": sw * (xbar**2 + vx)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--villages", type=int, default=75_000)
    ap.add_argument("--households", type=int, default=160)
    ap.add_argument("--draws", type=int, default=999)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cells = national_cells(args.villages, args.households)
    rows = []
    rows.append(("build cells", len(cells), time.perf_counter() - t0))
    base = {"outcome": "y", "unit": "village_id", "time": "year", "cohort": "cohort", "cells": True,
            "draws": args.draws}
    for label, kw in [("no covariates (reg)", {"method": "reg"}),
                      ("household covariate x (reg, moments)", {"method": "reg", "covariates": ["x"]}),
                      ("village covariate z (dr)", {"method": "dr", "covariates": ["z"]})]:
        t1 = time.perf_counter()
        res = att_gt(cells, **base, **kw)
        t2 = time.perf_counter()
        res.tidy()
        t3 = time.perf_counter()
        for typ in ("simple", "dynamic", "group", "calendar"):
            res.aggregate(typ).tidy()
        res.pretrend_test()
        t4 = time.perf_counter()
        rows.append((f"att_gt {label}", len(res.tidy()), t2 - t1))
        rows.append((f"  + {args.draws}-draw bootstrap, uniform band", res.n_clusters, t3 - t2))
        rows.append(("  + 4 aggregations (bootstrap each) + pre-tests", 4, t4 - t3))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hh = int(cells["n_rows"].sum())
    print(f"{args.villages:,} villages × 6 years = {len(cells):,} cells summarising {hh:,} household rows")
    print(f"{'step':52s} {'size':>9s} {'seconds':>8s}")
    for name, size, sec in rows:
        print(f"{name:52s} {size:9,d} {sec:8.2f}")
    print(f"peak memory (max RSS): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
