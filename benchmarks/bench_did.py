"""Benchmark and Monte Carlo check of welfare_eval.did.estimate on the demo-sized design.

Design: 18 pairs × 2 villages × 30 households × 3 waves (3,240 rows), survey weights, household
fixed effects absorbed with pair × wave fixed effects, clustered by pair.

1. Timing of the full inference set: cr1, cr2 (+ Satterthwaite df), wild (2^18 = 262,144 draws, full
   enumeration, CI by inversion), ri (all 2^18 within-pair swaps, coefficient and studentized, CIs by
   inversion). Goal: under 2 s on 2 cores.
2. Monte Carlo under a planted null (effect 0): rejection rate at 5 % of each method.

Usage::

    .venv/bin/python benchmarks/bench_did.py [--reps 1000] [--mc-draws 4096] [--repeat 3]

The Monte Carlo uses random (not enumerated) draws and skips the test-inversion intervals
(``confint=False``) to keep it to a few minutes.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from welfare_eval.did import estimate
from welfare_eval.did._testing import matched_pair_panel

SPEC = dict(outcome="y", treated="treated", post="post", period="wave", unit="hh_id", pair="pair_id",
            weights="weight")


def timing(repeat: int) -> None:
    data = matched_pair_panel(effect=0.3, seed=1)
    print(f"rows: {len(data)}, cores visible: {os.cpu_count()}")
    for methods in (("cr1",), ("cr2",), ("wild",), ("ri",), ("cr1", "cr2", "wild", "ri")):
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = estimate(data, inference=methods, draws=2**18, **SPEC)
            best = min(best, time.perf_counter() - t0)
        print(f"{'+'.join(methods):22s} {best:7.3f} s")
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(res.tidy())


def monte_carlo(reps: int, draws: int) -> None:
    rejections: dict[str, list[bool]] = {}
    t0 = time.perf_counter()
    for r in range(reps):
        data = matched_pair_panel(effect=0.0, seed=10_000 + r)
        res = estimate(data, inference=("cr1", "cr2", "wild", "ri"), draws=draws, seed=r, confint=False, **SPEC)
        for _, row in res.tidy().iterrows():
            rejections.setdefault(row["method"], []).append(bool(row["p_value"] < 0.05))
    elapsed = time.perf_counter() - t0
    print(f"\nMonte Carlo, planted null, {reps} replications, {draws} draws ({elapsed:.0f} s):")
    for method, rej in rejections.items():
        rate = np.mean(rej)
        se = np.sqrt(rate * (1 - rate) / len(rej))
        print(f"  {method:6s} rejection rate at 5%: {rate:6.3f}  (MC s.e. {se:.3f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--mc-draws", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timing(args.repeat)
    if args.reps:
        monte_carlo(args.reps, args.mc_draws)
