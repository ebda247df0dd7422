"""Benchmark of the national-scale data path: simulation, DuckDB vs Spark-local reduction, matching, memory.

Every step runs in a fresh child process, so that its wall time and its peak memory are its own: peak
resident memory (RSS) is the child's ``ru_maxrss``, plus the high-water mark (``VmHWM``) of the Spark JVM
for Spark steps. Steps:

1. ``simulate``: :func:`welfare_eval.simulate.national.simulate_national` at the given scale (household rows
   streamed to hive Parquet; ``--workers`` processes).
2. ``reduce``: household rows → village × year cells (keys ``village_id, year``; six variables, 28 moment
   columns; survey weights; ``province_code`` carried) with DuckDB and with Spark in local mode
   (``local[2]``); the cells of both engines are compared (counts exact, sums to 1e-12 relative).
3. ``pandas``: the pandas reference ``did.cells.reduce_cells`` on the same rows read into memory (only at
   scales where that fits; it is the "before" of the engine).
4. ``match``: pre-adoption village means in DuckDB (``village_means``) + within-province Mahalanobis
   matching of every adopter (``match_adopters``).
5. ``design``: a check of the simulated design on the cells: planted ATT(g, t) of income vs the naive
   level difference, the unconditional DiD and a covariate-adjusted DiD (the last should agree).
6. ``estimate``: the national estimate end to end — Parquet → cells in DuckDB (joined with the village
   frame's covariates and cohort in the engine) → ``welfare_eval.did.att_gt`` (doubly robust, 999-draw
   bootstrap, uniform band) → four aggregations and the pre-trend test; planted ATT(g, t) vs the bands.

Usage::

    .venv/bin/python benchmarks/bench_scale.py                       # scales 0.01 and 0.1, both engines
    .venv/bin/python benchmarks/bench_scale.py --scales 1.0 --engines duckdb --workers 2
    .venv/bin/python benchmarks/bench_scale.py --out data/scale --keep   # keep the data (git-ignored)

Wall times and CPU times (user + system, all threads and child processes, the Spark JVM included) are
printed: on a shared machine the CPU time divided by the cores is the better estimate of the unloaded wall
time. The data go to ``--out`` (default a temporary folder under /tmp, removed afterwards unless ``--keep``);
≈ 18 bytes per household row on disk (≈ 1.3 GB at scale 1.0). Times depend on the machine's load (the
load average is printed with the results).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARS = ["income", "welfare_receipt", "savings", "hh_size", "elderly", "farm"]
KEYS = ["village_id", "year"]
PT = {"year": "int64"}


# --------------------------------------------------------------------------------------------------
# Memory of this process and of its (JVM) children
# --------------------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            txt = (task / "children").read_text().split()
            out.extend(int(c) for c in txt)
    except OSError:
        return out
    for c in list(out):
        out.extend(_children(c))
    return out


def _hwm_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process in MB (0 when unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its waited-for children so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def _jvm_cpu_s() -> float:
    """CPU seconds of the live child processes (the Spark JVM), from /proc/<pid>/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    tot = 0.0
    for pid in _children(os.getpid()):
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            tot += (int(f[11]) + int(f[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return tot


# --------------------------------------------------------------------------------------------------
# Steps (run in a child process: ``bench_scale.py --step NAME --args JSON``)
# --------------------------------------------------------------------------------------------------
def step_simulate(a: dict[str, Any]) -> dict[str, Any]:
    from welfare_eval.simulate.national import simulate_national

    t0, c0 = time.perf_counter(), _cpu_s()
    d = simulate_national(a["out"], scale=a["scale"], workers=a["workers"], overwrite=True)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    size = sum(f.stat().st_size for f in Path(a["out"]).rglob("*.parquet"))
    # worker processes are children: their peak is in RUSAGE_CHILDREN (max over children)
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rows": d.n_rows,
        "villages": len(d.villages),
        "adopters": int((d.villages["cohort"] > 0).sum()),
        "bytes": size,
        "peak_mb": _self_peak_mb(),
        "peak_worker_mb": child,
    }


def step_reduce(a: dict[str, Any]) -> dict[str, Any]:
    from welfare_eval.scale import connect, reduce_cells

    t0 = time.perf_counter()
    eng = connect(a["engine"], **({"threads": a["threads"]} if a["engine"] == "duckdb" and a["threads"] else {}))
    t_start = time.perf_counter() - t0
    t1, c1, j1 = time.perf_counter(), _cpu_s(), _jvm_cpu_s()
    cells = reduce_cells(
        a["households"], keys=KEYS, variables=VARS, weights="weight", carry=["province_code"], engine=eng,
        partition_types=PT,
    )
    wall, cpu = time.perf_counter() - t1, _cpu_s() - c1 + _jvm_cpu_s() - j1
    jvm = sum(_hwm_mb(c) for c in _children(os.getpid()))
    eng.close()
    cells.to_parquet(a["cells_out"])
    return {
        "start_s": t_start,
        "wall_s": wall,
        "cpu_s": cpu,
        "cells": len(cells),
        "rows": int(cells["n_rows"].sum()),
        "peak_mb": _self_peak_mb(),
        "jvm_peak_mb": jvm,
    }


def step_pandas(a: dict[str, Any]) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    from welfare_eval.did.cells import reduce_cells

    t0 = time.perf_counter()
    part = ds.partitioning(pa.schema([("year", pa.int64()), ("province_code", pa.string())]), flavor="hive")
    rows = ds.dataset(a["households"], partitioning=part).to_table().to_pandas()
    t_read = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), _cpu_s()
    cells = reduce_cells(rows, keys=KEYS, variables=VARS, weights="weight", carry=["province_code"])
    wall, cpu = time.perf_counter() - t1, _cpu_s() - c1
    cells.to_parquet(a["cells_out"])
    return {"read_s": t_read, "wall_s": wall, "cpu_s": cpu, "cells": len(cells), "peak_mb": _self_peak_mb()}


def step_match(a: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from welfare_eval.scale import match_adopters, village_means

    t0 = time.perf_counter()
    pre = village_means(
        a["households"], variables=["income", "welfare_receipt", "savings"], weights="weight",
        where=[("year", "<", 2027)], partition_types=PT,
    )
    t_means = time.perf_counter() - t0
    v = pd.read_parquet(Path(a["root"]) / "villages.parquet").merge(pre, on="village_id", how="left")
    v["log_sg_savings"] = np.log1p(v["sg_savings"])
    t1 = time.perf_counter()
    res = match_adopters(v, covariates=["hh_income", "hh_savings", "hh_welfare_receipt", "log_sg_savings", "sg_age"])
    t_match = time.perf_counter() - t1
    bal = res.balance().tidy().set_index(["sample", "covariate"])["smd"].abs()
    return {
        "means_s": t_means,
        "match_s": t_match,
        "pairs": len(res.pairs),
        "unmatched": len(res.unmatched),
        "max_abs_smd_before": float(bal.loc["before"].max()),
        "max_abs_smd_after": float(bal.loc["after"].max()),
        "peak_mb": _self_peak_mb(),
    }


def step_design(a: dict[str, Any]) -> dict[str, Any]:
    """Planted ATT(g, t) of income vs three simple estimates on the DuckDB cells (a check of the simulated
    design, not of the estimators): naive level difference, unconditional DiD, and covariate-adjusted DiD
    (outcome regression of the change on the frame covariates among never-treated villages, as in
    Callaway & Sant'Anna's "reg" estimator with a varying base period g − 1)."""
    import numpy as np
    import pandas as pd

    c = pd.read_parquet(a["cells"])
    c["y"] = c["sum_w__income"] / c["sum_w"]
    y = c.pivot(index="village_id", columns="year", values="y")
    sw = c.pivot(index="village_id", columns="year", values="sum_w")
    v = pd.read_parquet(Path(a["root"]) / "villages.parquet").set_index("village_id")
    x = pd.DataFrame(
        {"one": 1.0, "log_income": np.log(v["mean_income"]), "share_farm": v["share_farm"],
         "log_sg": np.log1p(v["sg_savings"])}
    )
    truth = pd.DataFrame(json.loads((Path(a["root"]) / "truth.json").read_text("utf-8"))["effects"])
    truth = truth[truth["outcome"] == "income"].set_index(["cohort", "year"])["att"]
    rows = []
    for g, t in [(2027, 2027), (2027, 2030), (2028, 2029), (2030, 2030)]:
        tr = v.index[v["cohort"] == g]
        co = v.index[v["cohort"] == 0]
        w_t, w_c = sw.loc[tr, g - 1].to_numpy(), sw.loc[co, g - 1].to_numpy()
        dy_t = (y.loc[tr, t] - y.loc[tr, g - 1]).to_numpy()
        dy_c = (y.loc[co, t] - y.loc[co, g - 1]).to_numpy()
        level = np.average(y.loc[tr, t], weights=w_t) - np.average(y.loc[co, t], weights=w_c)
        did = np.average(dy_t, weights=w_t) - np.average(dy_c, weights=w_c)
        xc, xt = x.loc[co].to_numpy(), x.loc[tr].to_numpy()
        beta = np.linalg.lstsq(xc * np.sqrt(w_c)[:, None], dy_c * np.sqrt(w_c), rcond=None)[0]
        reg = np.average(dy_t - xt @ beta, weights=w_t)
        rows.append({"g": g, "t": t, "truth": float(truth.loc[(g, t)]), "naive_level": float(level),
                     "did": float(did), "did_covariates": float(reg)})
    return {"rows": rows, "peak_mb": _self_peak_mb()}


def step_estimate(a: dict[str, Any]) -> dict[str, Any]:
    """The national estimate end to end: household Parquet → village × year cells in DuckDB (joined with the
    village frame's covariates and cohort inside the engine) → ``att_gt`` (doubly robust, never-treated
    controls, village clusters, 999-draw multiplier bootstrap with the uniform band) → the four
    aggregations and the pre-trend test; then the planted ATT(g, t) are checked against the bands."""
    import numpy as np
    import pandas as pd

    from welfare_eval.did import att_gt
    from welfare_eval.scale import connect, reduce_cells

    root = Path(a["root"])
    t0, c0 = time.perf_counter(), _cpu_s()
    v = pd.read_parquet(root / "villages.parquet")
    cov = pd.DataFrame({
        "village_id": v["village_id"], "cohort": v["cohort"], "log_income": np.log(v["mean_income"]),
        "share_farm": v["share_farm"], "log_sg_savings": np.log1p(v["sg_savings"]),
    })
    covs = ["log_income", "share_farm", "log_sg_savings"]
    with connect("duckdb") as eng:
        hh = eng.read_parquet(root / "households", partition_types=PT)
        joined = hh.join(eng.from_pandas(cov), "village_id")
        cells = reduce_cells(joined, keys=KEYS, variables=[a["outcome"]], weights="weight",
                             carry=["province_code", "cohort", *covs], engine=eng)
    t1 = time.perf_counter()
    res = att_gt(cells, outcome=a["outcome"], unit="village_id", time="year", cohort="cohort", cells=True,
                 covariates=covs, method="dr", control="never", draws=999, seed=1)
    tidy = res.tidy()
    aggs = {k: res.aggregate(k).tidy() for k in ("simple", "dynamic", "group", "calendar")}
    pre = res.pretrend_test()
    t2 = time.perf_counter()
    cpu = _cpu_s() - c0
    truth = pd.DataFrame(json.loads((root / "truth.json").read_text("utf-8"))["effects"])
    truth = truth[truth["outcome"] == a["outcome"]].rename(columns={"year": "time"})
    m = tidy.merge(truth[["cohort", "time", "att"]], on=["cohort", "time"], validate="one_to_one")
    band = [c for c in m.columns if "band" in c or "uniform" in c]
    lo, hi = (band[0], band[1]) if len(band) >= 2 else ("ci_low", "ci_high")
    inside = ((m["att"] >= m[lo]) & (m["att"] <= m[hi])).to_numpy()
    pt = pre.tidy() if hasattr(pre, "tidy") else pre
    return {
        "cells_s": t1 - t0, "estimate_s": t2 - t1, "total_s": t2 - t0, "cpu_s": cpu, "cells": len(cells),
        "gt": len(m), "inside_band": int(inside.sum()), "band_columns": [lo, hi],
        "max_abs_err": float(np.max(np.abs(m["estimate"] - m["att"]))),
        "dynamic": aggs["dynamic"][["term", "estimate", "std_error"]].to_dict(orient="records")
        if "term" in aggs["dynamic"].columns else aggs["dynamic"].head(12).to_dict(orient="records"),
        "pretrend_p": float(np.asarray(pt["p_value"])[0]) if "p_value" in getattr(pt, "columns", []) else None,
        "peak_mb": _self_peak_mb(),
    }


STEPS = {
    "estimate": step_estimate,
    "simulate": step_simulate,
    "reduce": step_reduce,
    "pandas": step_pandas,
    "match": step_match,
    "design": step_design,
}


def run_step(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one step in a fresh Python process and return its JSON result (with the child's wall time)."""
    env = {**os.environ, "WELFARE_EVAL_PROGRESS": "0"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--step", name, "--args", json.dumps(args)],
        capture_output=True, text=True, env=env, check=False,
    )
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"step {name} failed:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out: dict[str, Any] = json.loads(line[len("RESULT "):])
    out["process_s"] = total
    return out


def compare_cells(a: str, b: str) -> str:
    import numpy as np
    import pandas as pd

    x, y = pd.read_parquet(a), pd.read_parquet(b)
    if len(x) != len(y) or list(x.columns) != list(y.columns):
        return "DIFFERENT SHAPE"
    keys_ok = all((x[c].astype(str) == y[c].astype(str)).all() for c in [*KEYS, "province_code"])
    n_ok = (x["n_rows"].to_numpy() == y["n_rows"].to_numpy()).all()
    mom = [c for c in x.columns if c.startswith("sum_w")]
    rel = max(
        float(np.max(np.abs(x[c].to_numpy() - y[c].to_numpy()) / np.maximum(np.abs(y[c].to_numpy()), 1e-300)))
        for c in mom
    )
    return f"keys {'=' if keys_ok else '≠'}, counts {'=' if n_ok else '≠'}, max rel diff of sums {rel:.1e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.01, 0.1])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    ap.add_argument("--workers", type=int, default=2, help="simulation processes")
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (0 = all cores)")
    ap.add_argument("--pandas-max-scale", type=float, default=0.1, help="run the pandas reference up to this scale")
    ap.add_argument("--out", default=None, help="data folder (default: a temporary folder under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the simulated data")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--args", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.step:
        res = STEPS[ns.step](json.loads(ns.args))
        print("RESULT " + json.dumps(res), flush=True)
        return

    base = Path(ns.out) if ns.out else Path(tempfile.mkdtemp(prefix="welfare_scale_", dir="/tmp"))
    free = shutil.disk_usage(base if base.exists() else base.parent).free / 1e9
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, free disk at {base}: {free:.0f} GB")
    try:
        for scale in ns.scales:
            root = base / f"scale_{scale:g}"
            hh = str(root / "households")
            print(f"\n== scale {scale:g}", flush=True)
            sim = run_step("simulate", {"out": str(root), "scale": scale, "workers": ns.workers})
            rows = sim["rows"]
            print(
                f"simulate   {sim['wall_s']:8.1f} s (cpu {sim['cpu_s']:.0f} s)  {rows:>12,} rows ({sim['villages']:,} villages, "
                f"{sim['adopters']:,} adopters)  {rows / sim['wall_s'] / 1e6:6.2f} M rows/s  "
                f"{sim['bytes'] / 1e9:6.2f} GB on disk  peak RSS {sim['peak_mb']:.0f} MB "
                f"(workers {sim['peak_worker_mb']:.0f} MB each at most)",
                flush=True,
            )
            outs = {}
            for eng in ns.engines:
                cells_out = str(root / f"cells_{eng}.parquet")
                r = run_step("reduce", {"engine": eng, "households": hh, "cells_out": cells_out, "threads": ns.threads})
                outs[eng] = cells_out
                mem = f"peak RSS {r['peak_mb']:.0f} MB" + (f" + JVM {r['jvm_peak_mb']:.0f} MB" if eng == "spark" else "")
                print(
                    f"reduce {eng:7s}{r['wall_s']:6.1f} s (cpu {r['cpu_s']:.0f} s)  {r['rows']:>12,} rows → {r['cells']:,} cells  "
                    f"{r['rows'] / r['wall_s'] / 1e6:6.1f} M rows/s  start {r['start_s']:.1f} s  {mem}",
                    flush=True,
                )
            if scale <= ns.pandas_max_scale:
                cells_out = str(root / "cells_pandas.parquet")
                p = run_step("pandas", {"households": hh, "cells_out": cells_out})
                outs["pandas"] = cells_out
                print(
                    f"reduce pandas {p['wall_s']:6.1f} s (cpu {p['cpu_s']:.0f} s)  (+ {p['read_s']:.1f} s reading every row into memory)  "
                    f"peak RSS {p['peak_mb']:.0f} MB",
                    flush=True,
                )
            names = list(outs)
            for other in names[1:]:
                print(f"cells {names[0]} vs {other}: {compare_cells(outs[other], outs[names[0]])}")
            m = run_step("match", {"households": hh, "root": str(root)})
            print(
                f"match      pre-period village means (DuckDB) {m['means_s']:.1f} s, within-province matching "
                f"{m['match_s']:.1f} s: {m['pairs']:,} pairs, {m['unmatched']} unmatched; max |SMD| "
                f"{m['max_abs_smd_before']:.2f} → {m['max_abs_smd_after']:.2f}; peak RSS {m['peak_mb']:.0f} MB",
                flush=True,
            )
            if "duckdb" in outs:
                dz = run_step("design", {"cells": outs["duckdb"], "root": str(root)})
                print("design check (income, household-weighted; truth = planted finite-population ATT):")
                for r in dz["rows"]:
                    print(
                        f"  ATT({r['g']},{r['t']}) truth {r['truth']:8.0f}   naive level {r['naive_level']:8.0f}   "
                        f"DiD {r['did']:8.0f}   DiD | covariates {r['did_covariates']:8.0f}"
                    )
            if "duckdb" in ns.engines:
                e = run_step("estimate", {"root": str(root), "outcome": "income"})
                print(
                    f"estimate   Parquet → cells (DuckDB, joined with the frame's covariates) {e['cells_s']:.1f} s + "
                    f"att_gt dr + 999-draw bootstrap + 4 aggregations + pre-test {e['estimate_s']:.1f} s = "
                    f"{e['total_s']:.1f} s (cpu {e['cpu_s']:.0f} s), peak RSS {e['peak_mb']:.0f} MB; planted ATT(g,t) "
                    f"inside the 95% uniform band: {e['inside_band']}/{e['gt']}; pre-trend p = {e['pretrend_p']:.3f}",
                    flush=True,
                )
                dyn = ", ".join(f"{d['term']} {d['estimate']:.0f} ({d['std_error']:.0f})" for d in e["dynamic"])
                print(f"           dynamic (income, baht): {dyn}", flush=True)
            if not ns.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not ns.keep and not ns.out:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
