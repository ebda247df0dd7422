"""Benchmark of the study's power step (welfare_eval.study.power.analyze_power) on the demo study.

CPU and wall seconds of the step with the packaged plan, and of its parts (design parameters without the
bootstrap, the pair bootstrap, the simulation), on the weighted household sample of the demo (seed 2568), on
one BLAS thread as in ``analyze_study``. The plan keeps the step near 2 s so that ``welfare-eval run`` stays fast;
the last lines show what a decision-grade simulation costs.

Usage::

    .venv/bin/python benchmarks/bench_study_power.py [--repeat 3] [--big-sims 0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")


def demo_sample():
    from welfare_eval.clean import clean_all
    from welfare_eval.simulate import simulate_study, write_raw_exports
    from welfare_eval.study import default_plan
    from welfare_eval.study.impact import impact_sample
    from welfare_eval.study.sample import receipt_wide
    from welfare_eval.study.weights import weights_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_raw_exports(simulate_study(seed=2568), root / "raw")
        t = clean_all(root / "raw", root / "processed", key="demo").tables
    w = weights_pipeline(t["households"], t["villages"])
    return impact_sample(receipt_wide(w.households, t["benefits"]), default_plan().impact.outcomes)


def timed(fn, repeat: int) -> tuple[float, float]:
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu


def main() -> None:
    from welfare_eval._blas import single_blas_thread
    from welfare_eval.study import default_plan
    from welfare_eval.study.power import analyze_power

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="repetitions (best is printed)")
    ap.add_argument("--big-sims", type=int, default=0, help="also time a simulation with this many data sets per effect")
    args = ap.parse_args()
    sample = demo_sample()
    plan = default_plan()
    pp = plan.power
    cases = {
        "packaged plan": plan,
        "no simulation": plan.replace(power={"simulation": {"enabled": False}}),
        "no bootstrap, no simulation": plan.replace(power={"draws": 0, "simulation": {"enabled": False}}),
    }
    if args.big_sims:
        cases[f"simulation n_sims = {args.big_sims}"] = plan.replace(power={"draws": 0,
                                                                          "simulation": {"n_sims": args.big_sims}})
    print(f"study power step on the demo (load average {os.getloadavg()[0]:.1f}); packaged plan: "
          f"{len(pp.outcomes_for(plan.impact))} outcomes × {len(pp.waves_for(plan.impact))} waves, bootstrap "
          f"{pp.draws}, simulation {pp.simulation.n_sims} per effect × 2 effects, methods "
          f"{'/'.join(pp.simulation.methods)}")
    with single_blas_thread():
        for name, p in cases.items():
            wall, cpu = timed(lambda p=p: analyze_power(sample, p), 1 if name.startswith("simulation n_sims") else
                              args.repeat)
            print(f"  {name:<32} wall {wall:6.2f} s   cpu {cpu:6.2f} s")


if __name__ == "__main__":
    main()
