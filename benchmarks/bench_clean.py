"""Benchmark: `clean_all` on the full demo and on the fault corpus's reduced demo (CPU and wall time).

Usage: .venv/bin/python benchmarks/bench_clean.py [--repeat N]

Prints, for each demo: the first run (every file read and converted), a rerun with one raw file changed (the
unchanged files' converted sheets are remembered by content hash within the process), and an unchanged rerun;
medians over N repeats, CPU time (process) and wall time. Speed is measured here, never in unit tests.
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

KEY = b"benchmark-pseudonym-key-0123456789"


def _timed(raw: Path, out: Path) -> tuple[float, float]:
    from welfare_eval.clean import clean_all

    c, w = time.process_time(), time.perf_counter()
    clean_all(raw, out, key=KEY)
    return time.process_time() - c, time.perf_counter() - w


def bench(name: str, study: object, repeat: int) -> None:
    from welfare_eval.clean import core as clean_core
    from welfare_eval.clean import io as clean_io
    from welfare_eval.simulate import write_raw_exports

    rows: dict[str, list[tuple[float, float]]] = {"first run": [], "one file changed": [], "unchanged rerun": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            raw, out = Path(tmp) / "raw", Path(tmp) / "processed"
            write_raw_exports(study, raw)  # type: ignore[arg-type]
            clean_core._MEMO.clear()
            clean_core._TABLES.clear()
            clean_io._GRIDS.clear()
            rows["first run"].append(_timed(raw, out))
            p = raw / "study_villages.csv"
            p.write_bytes(p.read_bytes() + b"\n")
            rows["one file changed"].append(_timed(raw, out))
            rows["unchanged rerun"].append(_timed(raw, out))
            shutil.rmtree(out, ignore_errors=True)
    print(f"{name}, median of {repeat}:")
    for k, v in rows.items():
        print(f"  {k:<18} cpu {statistics.median(c for c, _ in v):6.2f} s   wall {statistics.median(w for _, w in v):6.2f} s")


def main() -> None:
    from welfare_eval.simulate import DefectConfig, FieldworkConfig, FrameConfig, simulate_study

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bench("full demo (seed 2568, 36 villages, 30 households per village and wave)", simulate_study(seed=2568),
          args.repeat)
    reduced = simulate_study(
        seed=7,
        frame_config=FrameConfig(villages_per_region=(2, 2)),
        fieldwork_config=FieldworkConfig(n_per_village=4, committee_size=(3, 4),
                                         defects=DefectConfig(exact_duplicate=0.05, changed_resubmission=0.05)),
    )
    bench("reduced demo of the fault corpus (seed 7, 6 villages, 4 households)", reduced, args.repeat)


if __name__ == "__main__":
    main()
