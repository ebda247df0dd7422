"""Benchmark of the scale-up evaluation end to end, printed side by side in one run.

Steps, each in a fresh child process (its wall time, CPU time — all threads and child processes, the Spark
JVM included — and peak resident memory are its own):

1. ``simulate``: ``welfare-eval scaleup simulate`` at ``--scale`` (1.0 = 75,000 villages, ≈ 72 M household
   rows, 2025–2030) with ``--workers`` processes (skipped with ``--reuse`` when the data exist).
2. ``reduce``: household Parquet → village × year cells of the plan's three outcomes, with DuckDB and with
   Spark in local mode (``local[2]``); the two cell tables are compared (keys and counts exact, sums to the
   last bits).
3. ``core``: **the national estimate** as the issue states it — Parquet → cells (DuckDB) → ``att_gt`` on the
   headline outcome (doubly robust, three village covariates, village clusters, 999-draw multiplier bootstrap
   with the uniform band) → the four aggregations and the pre-trend tests (``pipeline.scaleup_tables`` with
   the plan restricted to that); goal: under 2 minutes and 4 GB.
4. ``estimate``: the whole ``welfare-eval scaleup estimate`` (fingerprint of every household file, reduction,
   ATT(g,t) of three outcomes with bootstrap and aggregations, matching of the adopters within province,
   CS / Sun–Abraham / imputation / TWFE side by side and the Bacon decomposition), DuckDB; with
   ``--spark-estimate`` also with ``--engine spark``.
5. ``csdid``: the same estimation (household rows as repeated cross-sections, doubly robust, household
   weights, village clusters, 999-draw bootstrap, four aggregations) in PyPI ``csdid`` on a ``--sample``
   (default 1 %) random subsample of the household rows, run with a scratch environment's Python
   (``--csdid-python``, e.g. ``/tmp/venv-csdid/bin/python`` with ``pip install csdid==0.4.3``); welfare_eval
   on the same subsample (DuckDB cells → ``att_gt``) for the ratio, and the largest difference of the ATT(g,t).

Usage::

    .venv/bin/python benchmarks/bench_scaleup.py --scale 1.0 --data /tmp/scaleup_bench --workers 2
    .venv/bin/python benchmarks/bench_scaleup.py --scale 0.1 --engines duckdb --no-csdid

The data go to ``--data`` (a project folder; the national data in ``DATA/data/scale``, ≈ 0.6 GB at scale 1),
kept afterwards; without ``--data`` a temporary folder under /tmp is used and removed (unless ``--keep``). Times depend on the machine's load; the load average is printed. The latest table is
in ``benchmarks/results/bench_scaleup.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import _children, _cpu_s, _hwm_mb, _jvm_cpu_s, _self_peak_mb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _paths(data: str) -> Any:
    from welfare_eval import pipeline

    return pipeline.Paths.from_root(data, quiet=True)


def _core_plan(outcomes: list[str] | None = None) -> Any:
    from welfare_eval.study import default_plan

    plan = default_plan()
    su = plan.scaleup
    return plan.replace(scaleup={"outcomes": outcomes or [su.headline], "compare": [], "matching": {"covariates": []}})


# --------------------------------------------------------------------------------------------------
# Steps (child processes: ``bench_scaleup.py --step NAME --args JSON``)
# --------------------------------------------------------------------------------------------------
def step_simulate(a: dict[str, Any]) -> dict[str, Any]:
    from welfare_eval import pipeline

    t0, c0 = time.perf_counter(), _cpu_s()
    gen = pipeline.scaleup_simulate(_paths(a["data"]), scale=a["scale"], workers=a["workers"], force=True)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": wall, "cpu_s": cpu, "rows": gen["n_rows"], "villages": gen["n_villages"],
            "adopters": gen["n_adopters"], "bytes": gen["households"]["bytes"], "files": gen["households"]["files"],
            "peak_mb": _self_peak_mb(), "peak_worker_mb": child}


def step_reduce(a: dict[str, Any]) -> dict[str, Any]:
    from welfare_eval.scale import connect, reduce_cells
    from welfare_eval.study import default_plan

    variables = list(default_plan().scaleup.reduced_variables)
    hh = Path(a["data"]) / "data" / "scale" / "households"
    t0 = time.perf_counter()
    eng = connect(a["engine"])
    t_start = time.perf_counter() - t0
    t1, c1, j1 = time.perf_counter(), _cpu_s(), _jvm_cpu_s()
    cells = reduce_cells(hh, keys=["village_id", "year"], variables=variables, weights="weight",
                         carry=["province_code"], engine=eng, partition_types={"year": "int64"})
    wall, cpu = time.perf_counter() - t1, _cpu_s() - c1 + _jvm_cpu_s() - j1
    jvm = sum(_hwm_mb(c) for c in _children(os.getpid()))
    eng.close()
    cells.to_parquet(a["cells_out"])
    return {"start_s": t_start, "wall_s": wall, "cpu_s": cpu, "cells": len(cells), "rows": int(cells["n_rows"].sum()),
            "peak_mb": _self_peak_mb(), "jvm_peak_mb": jvm}


def step_core(a: dict[str, Any]) -> dict[str, Any]:
    """Parquet → DuckDB cells → att_gt (headline outcome, DR, bootstrap) → aggregations + pre-trend tests."""
    import pandas as pd

    from welfare_eval.pipeline import scaleup_tables

    plan = _core_plan(a.get("outcomes"))
    scale = Path(a["data"]) / "data" / "scale"
    source = a.get("households") or str(scale / "households")
    t0, c0 = time.perf_counter(), _cpu_s()
    villages = pd.read_parquet(scale / "villages.parquet")
    cells, res, secs = scaleup_tables(source, villages, plan, engine="duckdb")
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    att = res["scaleup_att_gt"]
    out = {"wall_s": wall, "cpu_s": cpu, "reduce_s": secs["reduce"], "analyze_s": secs["analyze"],
           "rows": int(cells["n_rows"].sum()), "cells": len(cells), "gt": len(att), "peak_mb": _self_peak_mb(),
           "cohort": att["cohort"].tolist(), "time": att["time"].tolist(), "att": att["estimate"].tolist(),
           "se": att["std_error"].tolist()}
    truth_p = scale / "truth.json"
    if truth_p.is_file() and not a.get("households"):
        t = pd.DataFrame(json.loads(truth_p.read_text("utf-8"))["effects"])
        t = t[t["outcome"] == plan.scaleup.headline].rename(columns={"year": "time"})
        m = att.merge(t[["cohort", "time", "att"]], on=["cohort", "time"], how="left")
        m["att"] = m["att"].where(m["time"] >= m["cohort"], 0.0)
        inside = (m["band_low"] <= m["att"]) & (m["att"] <= m["band_high"])
        out["inside_band"] = int(inside.sum())
        pre = res["scaleup_pretrend"]
        out["pretrend_p"] = float(pre.loc[pre["method"] == "wald", "p_value"].iloc[0])
    return out


def step_estimate(a: dict[str, Any]) -> dict[str, Any]:
    from welfare_eval.cli import main

    t0, c0, j0 = time.perf_counter(), _cpu_s(), _jvm_cpu_s()
    jvm_peak = [0.0]
    rc = main(["scaleup", "estimate", "--root", a["data"], "--engine", a["engine"], "--quiet"])
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0 + _jvm_cpu_s() - j0
    jvm_peak[0] = sum(_hwm_mb(c) for c in _children(os.getpid()))
    if rc != 0:
        raise RuntimeError(f"welfare-eval scaleup estimate --engine {a['engine']} failed")
    rec = json.loads((Path(a["data"]) / "data" / "scale" / "results" / "scaleup.json").read_text("utf-8"))
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": _self_peak_mb(), "jvm_peak_mb": jvm_peak[0], **rec["seconds"]}


def step_sample(a: dict[str, Any]) -> dict[str, Any]:
    """A seeded random ``fraction`` of the household rows with the village covariates: Parquet (for
    welfare_eval) and CSV (for csdid, whose environment has no Parquet reader)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as dsm
    import pyarrow.parquet as pq

    scale = Path(a["data"]) / "data" / "scale"
    part = dsm.partitioning(pa.schema([("year", pa.int64()), ("province_code", pa.string())]), flavor="hive")
    dset = dsm.dataset(scale / "households", partitioning=part)
    rng = np.random.default_rng(2568)
    parts = []
    for batch in dset.to_batches(columns=["village_id", "year", "province_code", "weight", "income"]):
        keep = rng.random(batch.num_rows) < a["fraction"]
        parts.append(batch.filter(pa.array(keep)))
    tab = pa.Table.from_batches(parts)
    pq.write_table(tab, a["parquet"])
    rows = tab.to_pandas()
    v = pd.read_parquet(scale / "villages.parquet")
    cov = pd.DataFrame({"village_id": v["village_id"].astype(str), "cohort": v["cohort"],
                        "log_mean_income": np.log(v["mean_income"]), "share_farm": v["share_farm"],
                        "log1p_sg_savings": np.log1p(v["sg_savings"])})
    rows = rows.assign(village_id=rows["village_id"].astype(str)).merge(cov, on="village_id", validate="many_to_one")
    rows["village_id"] = pd.factorize(rows["village_id"], sort=True)[0] + 1
    rows.drop(columns="province_code").to_csv(a["csv"], index=False)
    return {"rows": len(rows), "villages": int(rows["village_id"].nunique())}


STEPS = {"simulate": step_simulate, "reduce": step_reduce, "core": step_core, "estimate": step_estimate,
         "sample": step_sample}


def run_step(name: str, args: dict[str, Any], *, python: str | None = None, script: Path | None = None,
             argv: list[str] | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run a step (or another script) in a fresh process; returns its ``RESULT`` JSON with ``process_s``."""
    env = {**os.environ, "WELFARE_EVAL_PROGRESS": "0"}
    cmd = [python or sys.executable, str(script or __file__)]
    cmd += argv if argv is not None else ["--step", name, "--args", json.dumps(args)]
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=timeout)
    total = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"step {name} failed:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out: dict[str, Any] = json.loads(line[len("RESULT "):])
    out["process_s"] = total
    out["process_cpu_s"] = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    out["process_peak_mb"] = c1.ru_maxrss / 1024
    return out


def _cmp_cells(a: str, b: str) -> str:
    import numpy as np
    import pandas as pd

    x, y = pd.read_parquet(a), pd.read_parquet(b)
    if len(x) != len(y) or list(x.columns) != list(y.columns):
        return "DIFFERENT SHAPE"
    keys = all((x[c].astype(str) == y[c].astype(str)).all() for c in ("village_id", "year", "province_code"))
    n = bool((x["n_rows"].to_numpy() == y["n_rows"].to_numpy()).all())
    rel = max(float(np.max(np.abs(x[c].to_numpy() - y[c].to_numpy()) / np.maximum(np.abs(y[c].to_numpy()), 1e-300)))
              for c in x.columns if c.startswith("sum_w"))
    return f"keys {'=' if keys else '≠'}, counts {'=' if n else '≠'}, max rel. diff. of sums {rel:.1e}"


def _line(name: str, r: dict[str, Any], extra: str = "", *, jvm: bool = False) -> str:
    mem = r.get("peak_mb", 0.0) + (r.get("jvm_peak_mb", 0.0) if jvm else 0.0)
    return (f"{name:44s} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {mem / 1024:8.2f}  {extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--data", default=None, help="project folder for the data (default: a new folder under /tmp)")
    ap.add_argument("--reuse", action="store_true", help="reuse the national data in --data when present")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data folder (without --data)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    ap.add_argument("--spark-estimate", action="store_true", help="also run the whole estimate with --engine spark")
    ap.add_argument("--no-csdid", action="store_true")
    ap.add_argument("--csdid-python", default="/tmp/venv-csdid/bin/python")
    ap.add_argument("--sample", type=float, default=0.01, help="fraction of household rows for the csdid comparison")
    ap.add_argument("--csdid-timeout", type=float, default=3600)
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--args", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.step:
        print("RESULT " + json.dumps(STEPS[ns.step](json.loads(ns.args))), flush=True)
        return

    data = Path(ns.data) if ns.data else Path(tempfile.mkdtemp(prefix="welfare_scaleup_", dir="/tmp"))
    try:
        _run(ns, data)
    finally:
        if not ns.data and not ns.keep:
            import shutil

            shutil.rmtree(data, ignore_errors=True)


def _run(ns: argparse.Namespace, data: Path) -> None:
    scale_dir = data / "data" / "scale"
    (data / "data").mkdir(parents=True, exist_ok=True)
    (data / "reports").mkdir(exist_ok=True)
    print(f"bench_scaleup: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"data {scale_dir}")
    print(f"{'step':44s} {'wall s':>8s} {'CPU s':>8s} {'peak GB':>8s}  notes")
    gen_p = scale_dir / "generation.json"
    if ns.reuse and gen_p.is_file():
        gen = json.loads(gen_p.read_text("utf-8"))
        print(f"{'simulate (reused)':44s} {gen.get('seconds', float('nan')):8.1f} {'':8s} {'':8s}  {gen['n_rows']:,} rows, "
              f"{gen['n_villages']:,} villages, {gen['n_adopters']:,} adopters (seed {gen['seed']}, scale {gen['scale']:g})")
    else:
        r = run_step("simulate", {"data": str(data), "scale": ns.scale, "workers": ns.workers})
        print(_line(f"simulate ({ns.workers} worker processes)", r,
                    f"{r['rows']:,} rows of {r['villages']:,} villages ({r['adopters']:,} adopters), {r['files']} files, "
                    f"{r['bytes'] / 1e9:.2f} GB; workers' peak {r['peak_worker_mb'] / 1024:.2f} GB each"), flush=True)
    cells = {}
    for eng in ns.engines:
        out = str(data / f"cells_{eng}.parquet")
        r = run_step("reduce", {"data": str(data), "engine": eng, "cells_out": out})
        cells[eng] = out
        extra = f"{r['rows']:,} rows → {r['cells']:,} cells, {r['rows'] / r['wall_s'] / 1e6:.1f} M rows/s"
        extra += f"; session start {r['start_s']:.1f} s, JVM peak {r['jvm_peak_mb'] / 1024:.2f} GB" if eng == "spark" else ""
        print(_line(f"reduce, 3 outcomes ({eng})", r, extra, jvm=eng == "spark"), flush=True)
    if len(cells) == 2:
        print(f"{'  cells DuckDB vs Spark':44s} {'':8s} {'':8s} {'':8s}  {_cmp_cells(cells['spark'], cells['duckdb'])}")
    core = run_step("core", {"data": str(data)})
    goal = "MET" if core["wall_s"] < 120 and core["peak_mb"] < 4096 else "NOT MET"
    print(_line("national estimate: Parquet → ATT(g,t) + bands", core,
                f"reduce {core['reduce_s']:.1f} s + att_gt DR, 999-draw bootstrap, 4 aggregations, pre-tests "
                f"{core['analyze_s']:.1f} s; {core['gt']} ATT(g,t)"
                + (f", planted inside the uniform band {core['inside_band']}/{core['gt']}, pre-trend p = "
                   f"{core['pretrend_p']:.2f}" if "inside_band" in core else "")
                + f"; goal < 120 s and < 4 GB: {goal}"), flush=True)
    for eng in ["duckdb", *(["spark"] if ns.spark_estimate and "spark" in ns.engines else [])]:
        r = run_step("estimate", {"data": str(data), "engine": eng})
        print(_line(f"welfare-eval scaleup estimate --engine {eng}", r,
                    f"fingerprint {r['fingerprint']:.1f} s, reduce {r['reduce']:.1f} s, analysis {r['analyze']:.1f} s "
                    "(3 outcomes, matching, 5 estimators side by side, Bacon)", jvm=eng == "spark"), flush=True)
    if not ns.no_csdid:
        py = Path(ns.csdid_python)
        if not py.is_file():
            print(f"{'csdid':44s} skipped: {py} not found (python3 -m venv /tmp/venv-csdid && "
                  "/tmp/venv-csdid/bin/pip install csdid==0.4.3)")
        else:
            sp, sc = str(data / "sample.parquet"), str(data / "sample.csv")
            s = run_step("sample", {"data": str(data), "fraction": ns.sample, "parquet": sp, "csv": sc})
            ours = run_step("core", {"data": str(data), "households": sp})
            print(_line(f"welfare-eval on a {ns.sample:.0%} subsample", ours,
                        f"{s['rows']:,} household rows of {s['villages']:,} villages"), flush=True)
            try:
                c = run_step("csdid", {}, python=str(py), script=HERE / "csdid_scaleup.py",
                             argv=[sc, "income", "log_mean_income,share_farm,log1p_sg_savings", "999"],
                             timeout=ns.csdid_timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{'csdid 0.4.3, same subsample':44s} failed: {str(exc).strip().splitlines()[-1][:200]}")
            else:
                key = {(g, t): (a, se) for g, t, a, se in zip(ours["cohort"], ours["time"], ours["att"], ours["se"],
                                                              strict=True)}
                diffs = [abs(a - key[(g, t)][0]) / max(abs(key[(g, t)][1]), 1e-300)
                         for g, t, a in zip(c["group"], c["time"], c["att"], strict=True) if (g, t) in key]
                print(f"{'csdid 0.4.3, same subsample':44s} {c['process_s']:8.1f} {c['process_cpu_s']:8.1f} "
                      f"{c['process_peak_mb'] / 1024:8.2f}  fit + bootstrap {c['fit_s']:.1f} s, aggte ×4 "
                      f"{c['aggte_s']:.1f} s; {c['total_s'] / ours['wall_s']:.0f}× welfare-eval's wall time; "
                      f"max |ATT diff| = {max(diffs):.1e} SE over {len(diffs)} ATT(g,t)", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
