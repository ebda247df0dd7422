"""`make bench`: one table of the DiD estimator (layout × size × method, ours vs pyfixest) and the pipeline's stage times.

Runs ``bench_did.py`` (every layout at 10,000 and 1,000,000 households, each method timed, pyfixest on the
same rows when ``/tmp/venv-pyfixest`` exists, see that script) and ``bench_pipeline.py`` (each stage of
``welfare-eval run`` on the demo study), streams their output, then prints a summary (the full inference set
against the goals of issue 13, and the pyfixest ratios) and saves everything, with the machine's core count,
its load average at the start and the end, the date and the commit, to ``benchmarks/results/bench_all.txt``
(the file the README links).

Usage::

    .venv/bin/python benchmarks/run_all.py            # full run (14 min on the shared 2-core machine), saves bench_all.txt
    .venv/bin/python benchmarks/run_all.py --quick    # 10,000 households only, 3 repeats, 1 pipeline run; saves nothing
    .venv/bin/python benchmarks/run_all.py --others   # then every other bench_*.py as well (printed, not saved)

The machine's cores may be shared with other jobs: the load average is recorded, and the wall clock is then
above the CPU time (both are shown). Speed is measured here, never in unit tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
#: goals of issue 13 for the full inference set (cr1 + cr2 + wild 2^18 + ri 2^18, all CIs), seconds
GOALS = {10_000: 0.2, 1_000_000: 10.0}
#: our method → the pyfixest task that does the same work
PAIRS = {"cr1": "crv1", "cr3": "crv3", "wild": "wild262144"}


def _stream(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd``, echo its output line by line as it comes, and return (exit code, output)."""
    lines: list[str] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # lines as they come, not when the child exits
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                          env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    return proc.returncode, "".join(lines)


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout.strip()


def _pyfixest_version(python: str) -> str:
    if not Path(python).exists():
        return "not installed"
    out = subprocess.run([python, "-c", "import pyfixest; print(pyfixest.__version__)"], capture_output=True,
                         text=True, check=False)
    return out.stdout.strip() or "not importable"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def _fmt_s(t: float | None) -> str:
    if t is None:
        return "—"
    return f"{t:.3f}" if t < 10 else f"{t:.1f}"


def summary(did: dict[str, Any]) -> list[str]:
    """The headline table: per layout and size, the full set against the goal and the pyfixest ratios."""
    by_key: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    order: list[tuple[str, int]] = []
    for rec in did["rows"]:
        if "method" not in rec:
            continue
        key = (rec["layout"], int(rec["households"]))
        if key not in by_key:
            by_key[key] = {}
            order.append(key)
        by_key[key][rec["method"]] = rec
    head = (f"{'layout':58s} {'households':>10s} {'full s':>7s} {'CPU s':>6s} {'goal':>5s} {'met':>4s} "
            f"{'peak MB':>7s}  {'pyfixest ÷ ours: CRV1':>21s} {'CRV3':>6s} {'wild 2^18':>18s}")
    out = [head, "-" * len(head)]
    met_all, checked = True, 0
    for layout, size in order:
        recs = by_key[(layout, size)]
        full = recs.get("full", {})
        nearest = min(GOALS, key=lambda g: abs(g - size))  # 10,008 households → the 10,000 goal
        goal = GOALS[nearest] if abs(size - nearest) <= 0.05 * nearest else None
        wall = full.get("ours")
        met = goal is not None and wall is not None and wall <= goal
        met_all &= met or goal is None
        checked += goal is not None
        ratios = []
        for method in PAIRS:
            rec = recs.get(method, {})
            if rec.get("pyfixest") is not None:
                ratio = f"{rec['pyfixest'] / rec['ours']:.1f}×"
                if rec.get("pyfixest_unweighted"):
                    ratio += " (unweighted)"
            elif rec.get("pyfixest_error"):
                err = rec["pyfixest_error"]
                ratio = err if err.startswith(">") else "fails"
            else:
                ratio = "—"
            ratios.append(ratio)
        peak = f"{full['peak_mb']:.0f}" if full.get("peak_mb") else "—"
        out.append(f"{layout:58s} {size:>10,d} {_fmt_s(wall):>7s} {_fmt_s(full.get('ours_cpu')):>6s} "
                   f"{'—' if goal is None else f'{goal:g}':>5s} {'—' if goal is None else 'yes' if met else 'NO':>4s} {peak:>7s}  {ratios[0]:>21s} {ratios[1]:>6s} "
                   f"{ratios[2]:>18s}")
    verdict = "no size with a goal was run" if not checked else "all met" if met_all else "not all met"
    out.append(f"goals (issue 13, wall clock): full set ≤ {GOALS[10_000]} s at 10,000 households, ≤ "
               f"{GOALS[1_000_000]:g} s at 1,000,000 — {verdict}. "
               "A ratio > 1 means pyfixest is slower at that work; '> N s' = pyfixest timed out.")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="10,000 households only, 3 repeats, pyfixest timeout 30 s, one pipeline run; not saved")
    ap.add_argument("--out", default=None,
                    help="file for the combined table (default: results/bench_all.txt for a full run, none for --quick)")
    ap.add_argument("--pyfixest", default="/tmp/venv-pyfixest/bin/python", help="python with pyfixest, or 'none'")
    ap.add_argument("--others", action="store_true", help="then run every other bench_*.py script too (printed only)")
    args = ap.parse_args()
    out_path = Path(args.out) if args.out else (None if args.quick else RESULTS / "bench_all.txt")

    t_start = time.perf_counter()
    load_start = _load()
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " + uncommitted changes"
    header = [
        f"# welfare_eval benchmarks: `make bench` (benchmarks/run_all.py{' --quick' if args.quick else ''}), "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit {commit}",
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"pyfixest {_pyfixest_version(args.pyfixest) if args.pyfixest != 'none' else 'not used'}",
        f"# load average (1 / 5 / 15 min) at the start: {load_start}. The cores are shared with other jobs: a wall",
        "# time well above the CPU time means the process waited for a core; compare CPU times across runs.",
    ]
    print("\n".join(header), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        did_json, pipe_json = Path(tmp) / "did.json", Path(tmp) / "pipeline.json"
        did_cmd = [sys.executable, str(HERE / "bench_did.py"), "--json", str(did_json), "--pyfixest", args.pyfixest]
        did_cmd += (["--sizes", "10000", "--repeat", "3", "--pyfixest-timeout", "30"] if args.quick
                    else ["--pyfixest-timeout", "30"])
        print("\n== 1. DiD estimator: layout × size × method, ours vs pyfixest (bench_did.py)", flush=True)
        rc_did, did_text = _stream(did_cmd)
        print("\n== 2. welfare-eval run: stage times (bench_pipeline.py)", flush=True)
        pipe_cmd = [sys.executable, str(HERE / "bench_pipeline.py"), "--json", str(pipe_json),
                    "--repeat", "1" if args.quick else "3"]
        rc_pipe, pipe_text = _stream(pipe_cmd)
        did = json.loads(did_json.read_text()) if did_json.exists() else {"rows": []}

    head_lines = summary(did)
    elapsed = time.perf_counter() - t_start
    footer = f"# load average at the end: {_load()}; the whole run took {elapsed / 60:.1f} min of wall clock."
    print("\n== Summary: the full inference set against the goals, and pyfixest's time over ours")
    print("\n".join(head_lines))
    print(footer)
    if out_path is not None:
        from welfare_eval._io import atomic_write_text

        text = "\n".join([
            *header, "",
            "## Summary: full inference set (cr1 + cr2 + wild 2^18 + ri 2^18, with CIs) against the goals",
            *head_lines, "",
            "## 1. DiD estimator: layout × size × method, ours vs pyfixest (benchmarks/bench_did.py)",
            did_text.rstrip(), "",
            "## 2. welfare-eval run on the demo study: stage times (benchmarks/bench_pipeline.py)",
            pipe_text.rstrip(), "",
            footer, "",
        ])
        atomic_write_text(out_path, text)
        print(f"saved to {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")

    failed = int(rc_did != 0) + int(rc_pipe != 0)
    if args.others:
        for script in sorted(HERE.glob("bench_*.py")):
            if script.name in {"bench_did.py", "bench_did_pyfixest.py", "bench_pipeline.py"}:
                continue
            print(f"\n== {script.name}", flush=True)
            failed += subprocess.run([sys.executable, str(script)], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
