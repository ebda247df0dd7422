"""Benchmark: wall and CPU time of each stage of `welfare-eval run` on the demo study (fresh temp folder).

Usage: .venv/bin/python benchmarks/bench_pipeline.py [--repeat N] [--monitoring] [--no-run]
Prints one line per stage with the median over N runs. `--monitoring` adds the monitoring stages `run` performs
when data/raw/monitoring holds forms: writing the demo's 218 quarterly forms (what `welfare-eval simulate` adds),
importing them into a fresh SQLite store, re-importing them (every file a duplicate: what a later `run` does) and
the latest quarter's progress report. Speed is measured here, never in unit tests.

The stages one by one are not `welfare-eval run`: `run` starts the analysis worker and the report's kernel
before simulating, so that they import what they need on the other core while this process simulates and
cleans. The last lines therefore time `welfare-eval run` itself, as `make run` calls it, in a fresh project
(unless `--no-run`), with the load average of the machine (other processes slow every figure down).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")

from welfare_eval import pipeline

ROOT = Path(__file__).resolve().parents[1]


def one_run(monitoring: bool) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data" / "raw").mkdir(parents=True)
        shutil.copytree(ROOT / "reports", root / "reports", ignore=shutil.ignore_patterns("*.html", "_build"))
        paths = pipeline.Paths.from_root(root, quiet=True)
        times: dict[str, tuple[float, float]] = {}
        stages: list[tuple[str, object]] = [
            ("simulate", lambda: pipeline.simulate(paths, seed=2568, monitoring=False)),  # as `run` simulates
            ("clean", lambda: pipeline.clean(paths)),
        ]
        if monitoring:
            def forms() -> None:
                from welfare_eval.simulate import simulate_study

                pipeline._write_demo_forms(paths, simulate_study(seed=2568))

            stages += [
                ("forms", forms),
                ("import", lambda: pipeline.monitor_import(paths, strict=False)),
                ("reimport", lambda: pipeline.monitor_import(paths, strict=False)),
                ("progress", lambda: pipeline.progress(paths)),
            ]
        stages += [
            ("analyze", lambda: pipeline.analyze(paths, seed=2568)),
            ("report", lambda: pipeline.report(paths, engine="builtin")),
        ]
        for name, fn in stages:
            t0, c0 = time.perf_counter(), time.process_time()
            fn()  # type: ignore[operator]
            times[name] = (time.perf_counter() - t0, time.process_time() - c0)
        times["total"] = (sum(w for w, _ in times.values()), sum(c for _, c in times.values()))
        return times


def whole_run() -> float:
    """Wall seconds of `welfare-eval run --quiet --engine builtin` (a fresh process) in a fresh project."""
    cli = Path(sys.executable).with_name("welfare-eval")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data" / "raw").mkdir(parents=True)
        shutil.copytree(ROOT / "reports", root / "reports", ignore=shutil.ignore_patterns("*.html", "_build"))
        t0 = time.perf_counter()
        subprocess.run([str(cli), "run", "--root", str(root), "--quiet", "--engine", "builtin"], check=True)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--monitoring", action="store_true", help="add the monitoring stages (forms, import, progress)")
    ap.add_argument("--json", default=None, metavar="PATH", help="also write the medians to this JSON file")
    ap.add_argument("--no-run", action="store_true", help="leave out the timing of `welfare-eval run` itself")
    args = ap.parse_args()
    load = os.getloadavg()
    runs = [one_run(args.monitoring) for _ in range(args.repeat)]
    end = os.getloadavg()
    print(f"welfare-eval run on the demo study, median of {args.repeat} runs ({os.cpu_count()} cores, load average "
          f"{load[0]:.1f} at start, {end[0]:.1f} at the end; CPU = this process, not the report's Jupyter kernel):")
    stages: dict[str, dict[str, float]] = {}
    for stage in runs[0]:
        wall = [r[stage][0] for r in runs]
        cpu = [r[stage][1] for r in runs]
        stages[stage] = {"wall": statistics.median(wall), "wall_min": min(wall), "wall_max": max(wall),
                         "cpu": statistics.median(cpu)}
        print(f"  {stage:<9} wall {statistics.median(wall):7.2f} s (min {min(wall):.2f}, max {max(wall):.2f})   "
              f"cpu {statistics.median(cpu):7.2f} s")
    run: dict[str, float] = {}
    if not args.no_run:
        load0 = os.getloadavg()[0]
        walls = [whole_run() for _ in range(args.repeat)]
        run = {"wall": statistics.median(walls), "wall_min": min(walls), "wall_max": max(walls), "load_start": load0,
               "load_end": os.getloadavg()[0]}
        print(f"welfare-eval run (fresh process and project; `make run` after install): wall "
              f"{statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
              f"load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} cores")
    if args.json:
        Path(args.json).write_text(json.dumps({"repeat": args.repeat, "cores": os.cpu_count(), "load_start": load,
                                               "load_end": end, "stages": stages, "run": run}, indent=1))


if __name__ == "__main__":
    main()
