"""Benchmark of welfare_eval.power: analytic calculations, design parameters, simulation power.

1. Analytic: mde, power, sample_size (pairs and households per village), planning_table (8 × 5 grid) for the
   pilot's design (matched-pair DiD, 18 pairs, 30 households per village, two waves, attrition 0.15).
2. design_parameters (ICC, pair correlation, autocorrelations, Kish deff; 999 pair-bootstrap resamples) on
   a simulated baseline + follow-up of 18 pairs × 2 villages × 30 households, and of 10,000 households.
3. Simulation power: seconds per simulated study by inference set (did.estimate with cr1 / cr1+cr2 /
   cr1+cr2+wild+ri, 999 draws), then ``--sims`` studies at effect 0 and at the analytic MDE (80 %):
   rejection rate of each method with its Monte Carlo standard error beside the analytic power.

Wall-clock and CPU seconds are both printed (the machine is shared; CPU time is the stable number).

Usage::

    .venv/bin/python benchmarks/bench_power.py [--sims 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from welfare_eval import power as pw
from welfare_eval.power.analytic import build_design

PILOT = dict(design="matched_pair_did", icc=0.1, waves=2, autocorr_cluster=0.6, autocorr_individual=0.4,
             pair_correlation=0.2, attrition=0.15, deff_weights=1.1)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds over ``repeat`` calls, and the last result."""
    best_wall = best_cpu = float("inf")
    out = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, out


def analytic(repeat: int) -> None:
    print("\n1. Analytic (pilot design: 18 pairs, 30 households, 2 waves)")
    cases = {
        "mde": lambda: pw.mde(clusters=18, per_cluster=30, **PILOT),
        "mde (PowerUp! multiplier)": lambda: pw.mde(clusters=18, per_cluster=30, method="powerup", **PILOT),
        "power": lambda: pw.power(clusters=18, per_cluster=30, effect=0.3, **PILOT),
        "sample_size (pairs)": lambda: pw.sample_size(per_cluster=30, effect=0.25, **PILOT),
        "sample_size (households)": lambda: pw.sample_size(clusters=40, effect=0.3, solve_for="per_cluster",
                                                           **PILOT),
        "planning_table 8 × 5": lambda: pw.planning_table(clusters=[18, 24, 36, 48, 72, 100, 150, 200],
                                                          per_cluster=[10, 20, 30, 40, 60], **PILOT),
    }
    rows = []
    for name, fn in cases.items():
        wall, cpu, res = timed(fn, repeat)
        est = res.estimate if hasattr(res, "estimate") else float("nan")
        rows.append({"call": name, "wall_ms": 1000 * wall, "cpu_ms": 1000 * cpu, "result": est})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4g}"))


def parameters(repeat: int) -> None:
    print("\n2. design_parameters (999 pair-bootstrap resamples)")
    rows = []
    for pairs, m in ((18, 30), (167, 30)):
        des = build_design(clusters=pairs, per_cluster=m, **PILOT)
        d = pw.simulate_design(des, rng=1)
        d["w"] = 1.0
        wall, cpu, res = timed(lambda d=d: pw.design_parameters(d, outcome="y", cluster="cluster", pair="pair",
                                                                unit="hh", wave="wave", weights="w", draws=999),
                               repeat)
        rows.append({"households": pairs * 2 * m, "rows": len(d), "wall_s": wall, "cpu_s": cpu,
                     "icc": res["icc"], "autocorr_cluster": res["autocorr_cluster"]})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4g}"))


def simulation(sims: int) -> None:
    print("\n3. Simulation power with did.estimate (pilot design; 999 wild / RI draws)")
    kw = dict(clusters=18, per_cluster=30, **PILOT)
    rows = []
    for inf in (("cr1",), ("cr1", "cr2"), ("cr1", "cr2", "wild", "ri")):
        n = 20
        w, c = time.perf_counter(), time.process_time()
        pw.simulate_power(effect=0.3, inference=inf, n_sims=n, seed=1, **kw)
        rows.append({"inference": "+".join(inf), "wall_s_per_study": (time.perf_counter() - w) / n,
                     "cpu_s_per_study": (time.process_time() - c) / n})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if sims <= 0:
        return
    mde = pw.mde(**kw).estimate
    w, c = time.perf_counter(), time.process_time()
    res = pw.simulate_power(effect=[0.0, mde], inference=("cr1", "cr2", "wild", "ri"), n_sims=sims, seed=2568,
                            **kw)
    print(f"\n{sims} studies per effect ({time.perf_counter() - w:.1f} s wall, {time.process_time() - c:.1f} s CPU); "
          f"analytic MDE at 80 % power = {mde:.4f} SD")
    cols = ["effect", "method", "power", "mc_std_error", "analytic_power", "mean_estimate", "empirical_std_error",
            "analytic_std_error"]
    print(res.tidy()[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sims", type=int, default=200, help="simulated studies per effect in section 3 (0: skip)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of each timing (best is printed)")
    args = ap.parse_args()
    os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")
    print(f"welfare_eval.power benchmark (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    analytic(args.repeat)
    parameters(args.repeat)
    simulation(args.sims)


if __name__ == "__main__":
    main()
