"""welfare_eval._worker.WorkerProcess: the one-process executor the analysis runs its independent steps in."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from concurrent.futures import BrokenExecutor
from pathlib import Path

import pandas as pd
import pytest

from welfare_eval._worker import WorkerProcess


def _fail(msg: str) -> None:
    raise ValueError(msg)


def _pid() -> int:
    return os.getpid()


def test_calls_run_in_order_in_another_process_and_return_exact_values() -> None:
    df = pd.DataFrame({"a": [1.0, math.pi, float("nan")], "s": pd.array(["x", None, "ก"], dtype="str")})
    w = WorkerProcess(["math"])
    try:
        futs = [w.submit(pow, 2, k) for k in range(5)]
        same = w.submit(pd.DataFrame.copy, df)
        pid = w.submit(_pid)
        assert [f.result(timeout=60) for f in futs] == [1, 2, 4, 8, 16]
        pd.testing.assert_frame_equal(same.result(timeout=60), df)
        assert pid.result(timeout=60) != os.getpid()
    finally:
        w.shutdown()


def test_an_error_of_the_call_is_raised_by_its_future_and_the_worker_goes_on() -> None:
    w = WorkerProcess()
    try:
        bad = w.submit(_fail, "villages.csv row 3: no village_id")
        good = w.submit(pow, 3, 2)
        with pytest.raises(ValueError, match="row 3: no village_id"):
            bad.result(timeout=60)
        assert good.result(timeout=60) == 9
    finally:
        w.shutdown()


def test_a_dead_worker_breaks_pending_and_later_calls() -> None:
    w = WorkerProcess()
    try:
        assert w.submit(pow, 2, 2).result(timeout=60) == 4
        w._proc.kill()
        with pytest.raises(BrokenExecutor):
            w.submit(pow, 2, 3).result(timeout=60)
        with pytest.raises(BrokenExecutor):
            w.submit(pow, 2, 4)
    finally:
        w.shutdown()


def test_a_worker_that_cannot_import_is_broken_not_hanging() -> None:
    w = WorkerProcess(["welfare_eval_no_such_module"])
    try:
        with pytest.raises(BrokenExecutor):
            w.submit(pow, 2, 2).result(timeout=60)
    finally:
        w.shutdown()


def test_the_callers_script_is_not_run_again_in_the_worker(tmp_path: Path) -> None:
    """A script without an `if __name__ == "__main__"` guard runs once (multiprocessing's spawn would rerun it)."""
    marks = tmp_path / "marks.txt"
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        from pathlib import Path
        from welfare_eval._worker import WorkerProcess
        with open({str(marks)!r}, "a") as fh:
            fh.write("ran\\n")
        w = WorkerProcess()
        print(w.submit(pow, 2, 10).result(timeout=60))
        w.shutdown()
    """), encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "1024"
    assert marks.read_text().splitlines() == ["ran"]


def test_prints_in_the_worker_do_not_corrupt_results() -> None:
    w = WorkerProcess()
    try:
        assert w.submit(print, "noise on stdout").result(timeout=60) is None
        assert w.submit(pow, 5, 2).result(timeout=60) == 25
    finally:
        w.shutdown()


@pytest.mark.slow
def test_the_analysis_with_a_worker_equals_the_serial_analysis(demo_analysis, clean_demo) -> None:
    """analyze_study(executor=WorkerProcess): descriptives, factors and power run beside impact and funds; every
    table is the same as in one process (same values, dtypes and order)."""
    from welfare_eval.study import analyze_study

    w = WorkerProcess(["welfare_eval.study.analyze"], env={"WELFARE_EVAL_PROGRESS": "0"})
    try:
        got = analyze_study(clean_demo.tables(), demo_analysis.plan, executor=w)
    finally:
        w.shutdown()
    assert sorted(got) == sorted(demo_analysis.results)
    for name, df in demo_analysis.results.items():
        if name == "impact_dr":  # the DR-DiD's statsmodels logit varies in the last bits from run to run
            pd.testing.assert_frame_equal(got[name], df, check_exact=False, rtol=1e-12, obj=name)
        else:
            pd.testing.assert_frame_equal(got[name], df, check_exact=True, obj=name)
