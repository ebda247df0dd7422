"""Benchmark: wall time of each stage of `welfare-eval run` on the demo study (fresh temp folder).

Usage: .venv/bin/python benchmarks/bench_pipeline.py [--repeat N]
Prints one line per stage with the median over N runs. Speed is measured here, never in unit tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")

from welfare_eval import pipeline

ROOT = Path(__file__).resolve().parents[1]


def one_run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data" / "raw").mkdir(parents=True)
        shutil.copytree(ROOT / "reports", root / "reports", ignore=shutil.ignore_patterns("*.html", "_build"))
        paths = pipeline.Paths.from_root(root, quiet=True)
        times: dict[str, float] = {}
        for name, fn in (
            ("simulate", lambda: pipeline.simulate(paths, seed=2568)),
            ("clean", lambda: pipeline.clean(paths)),
            ("analyze", lambda: pipeline.analyze(paths, seed=2568)),
            ("report", lambda: pipeline.report(paths, engine="builtin")),
        ):
            t0 = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - t0
        times["total"] = sum(times.values())
        return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs = [one_run() for _ in range(args.repeat)]
    print(f"welfare-eval run on the demo study, median of {args.repeat} runs (2-core machine):")
    for stage in runs[0]:
        vals = [r[stage] for r in runs]
        print(f"  {stage:<9} {statistics.median(vals):7.2f} s   (min {min(vals):.2f}, max {max(vals):.2f})")


if __name__ == "__main__":
    main()
