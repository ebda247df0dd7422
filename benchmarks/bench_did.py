"""Benchmark and Monte Carlo check of welfare_eval.did.estimate on the demo-sized design.

Design: 18 pairs × 2 villages × 30 households × 3 waves (3,240 rows), survey weights, household
fixed effects absorbed with pair × wave fixed effects, clustered by pair.

1. Timing of the full inference set: cr1, cr2 (+ Satterthwaite df), wild (2^18 = 262,144 draws, full
   enumeration, CI by inversion), ri (all 2^18 within-pair swaps, coefficient and studentized, CIs by
   inversion). Goal: under 2 s on 2 cores.
2. Monte Carlo under a planted null (effect 0): rejection rate at 5 % of each method.

3. ``--households N``: the same timings on a study of about N households (18 pairs × 2 villages ×
   N/36 households × 3 waves), once with household-level weights (constant over waves: thin CR2 path)
   and once with weights varying by wave (reduced dense CR2: no low-rank structure under Φ = I);
   ``--csv PATH`` writes that data for ``benchmarks/bench_did_pyfixest.py`` (pyfixest comparison, run in a
   separate environment that has pyfixest).

Usage::

    .venv/bin/python benchmarks/bench_did.py [--reps 1000] [--mc-draws 4096] [--repeat 3]
    .venv/bin/python benchmarks/bench_did.py --reps 0 --households 10000 --csv /tmp/did_10k.csv

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


def scale(households: int, repeat: int, csv: str | None) -> None:
    per_village = max(1, round(households / 36))
    data = matched_pair_panel(households=per_village, effect=0.3, seed=1)
    data["hh_weight"] = data.groupby("hh_id")["weight"].transform("first")
    print(f"\nscale: {data['hh_id'].nunique():,} households, {len(data):,} rows, 18 pairs, cores: {os.cpu_count()}")
    for label, wcol in (("household weights (thin CR2)", "hh_weight"), ("weights varying by wave (reduced CR2)",
                                                                      "weight")):
        spec = {**SPEC, "weights": wcol}
        print(f"  {label}:")
        for methods in (("cr1",), ("cr2",), ("wild",), ("ri",), ("cr1", "cr2", "wild", "ri")):
            best = np.inf
            for _ in range(repeat):
                t0 = time.perf_counter()
                estimate(data, inference=methods, draws=2**18, **spec)
                best = min(best, time.perf_counter() - t0)
            print(f"    {'+'.join(methods):22s} {best:7.3f} s")
    # wild bootstrap at equal random draws (not enumerated: Rademacher with G = 18 enumerates at 2^18)
    for wcol, unit in (("hh_weight", "hh_id"), (None, "hh_id"), (None, "village_id")):
        spec = {**SPEC, "weights": wcol, "unit": unit}
        for b in (2**12, 2**16):
            best = np.inf
            for _ in range(repeat):
                t0 = time.perf_counter()
                res = estimate(data, inference=("wild",), draws=b, confint=False, **spec)
                best = min(best, time.perf_counter() - t0)
            row = res.tidy().iloc[0]
            print(f"  wild ({'weighted' if wcol else 'unweighted'}, unit FE {unit}), {b} random draws, p only: "
                  f"{best:7.3f} s (estimate {row['estimate']:.6f}, t {row['statistic']:.4f}, p {row['p_value']:.4f})")
    for b in (2**12, 2**16):  # classic 2×2, unweighted, clustered by pair (as the pyfixest comparison)
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = estimate(data, outcome="y", treated="treated", post="post", cluster="pair_id",
                           inference=("wild",), draws=b, confint=False)
            best = min(best, time.perf_counter() - t0)
        row = res.tidy().iloc[0]
        print(f"  wild (2×2 y ~ treated*post, unweighted), {b} random draws, p only: {best:7.3f} s "
              f"(estimate {row['estimate']:.6f}, t {row['statistic']:.4f}, p {row['p_value']:.4f})")
    if csv:
        data["pw"] = data["pair_id"].astype(str) + "x" + data["wave"].astype(str)
        data["D"] = data["treated"] * data["post"]
        data.to_csv(csv, index=False)
        print(f"  data written to {csv} (for benchmarks/bench_did_pyfixest.py)")


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
    parser.add_argument("--households", type=int, default=0, help="also time a study of this many households")
    parser.add_argument("--csv", default=None, help="write the --households data here (pyfixest comparison)")
    parser.add_argument("--skip-small", action="store_true", help="skip the demo-sized timing")
    args = parser.parse_args()
    if not args.skip_small:
        timing(args.repeat)
    if args.households:
        scale(args.households, args.repeat, args.csv)
    if args.reps:
        monte_carlo(args.reps, args.mc_draws)
