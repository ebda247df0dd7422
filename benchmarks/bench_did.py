"""Benchmark of welfare_eval.did.estimate: one table, layout × size × method, ours vs pyfixest.

Every (layout, size) runs in a fresh subprocess (so peak memory is that of one study), on data from
:func:`welfare_eval.did._testing.layout_panel` (18 pairs, households spread over the villages, three
survey rounds unless said otherwise). Methods, each a separate ``estimate`` call that includes building
the design and the fit:

* ``cr1``, ``cr2`` (with Satterthwaite df for every coefficient), ``cr3``;
* ``wild``: restricted wild cluster bootstrap-t, 2^18 draws (full enumeration of the 2^17 sign pairs), CI
  by test inversion;
* ``ri``: all 2^18 within-pair swaps, coefficient and studentized, CIs by test inversion;
* ``full``: the default call, ``inference=("cr1", "cr2", "wild", "ri")`` with all CIs (without ``ri``
  for the 2×2 layout, where it does not apply).

pyfixest (not in the project's lock; a scratch environment such as ``/tmp/venv-pyfixest`` with
``pip install pyfixest wildboottest pyarrow``) runs on the same rows (Parquet hand-over) in separate
subprocesses with a timeout: ``feols`` + CRV1, CRV3, and ``wildboottest`` at 9,999 and 2^18 draws
(pyfixest's wild bootstrap refuses weighted fits: it is then run unweighted and marked so; when 9,999 draws
already time out, 2^18 draws are not tried and shown as ``> timeout (skipped)``). The ratio is
pyfixest's time over ours for the corresponding method (CRV1 ↔ cr1, CRV3 ↔ cr3, wildboottest ↔ wild).

Usage::

    .venv/bin/python benchmarks/bench_did.py                      # 10,000 and 1,000,000 households
    .venv/bin/python benchmarks/bench_did.py --sizes 10000 --repeat 7 --pyfixest none
    .venv/bin/python benchmarks/bench_did.py --reps 1000          # also the Monte Carlo (rejection rates)

Timings (wall clock, and the process's CPU time beside them) are medians of ``--repeat`` runs (one run
at 1,000,000 households unless ``--repeat-large``); other processes on the machine slow the wall clock
down: the load average is printed, check ``uptime`` first. ``peak MB`` is the worker process's peak
resident memory (data included; the data's own share is printed under the layout).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_PYFIXEST = "/tmp/venv-pyfixest/bin/python"
METHODS = {
    "cr1": ("cr1",),
    "cr2": ("cr2",),
    "cr3": ("cr3",),
    "wild": ("wild",),
    "ri": ("ri",),
    "full": ("cr1", "cr2", "wild", "ri"),
}

#: name → (data options, estimate options, pyfixest formula, pyfixest weights, tested term in pyfixest)
LAYOUTS: dict[str, dict[str, Any]] = {
    "household FE, household weights": dict(
        data={}, spec=dict(unit="hh_id", weights="hh_weight"),
        formula="y ~ D | hh_id + pw", weights="hh_weight", term="D"),
    "household FE, weights varying by wave": dict(
        data={}, spec=dict(unit="hh_id", weights="weight"),
        formula="y ~ D | hh_id + pw", weights="weight", term="D"),
    "village FE on household rows, weights by wave": dict(
        data={}, spec=dict(unit="village_id", weights="weight"),
        formula="y ~ D | village_id + pw", weights="weight", term="D"),
    "no unit FE (2×2, clustered by pair), weights by wave": dict(
        data={}, spec=dict(unit=None, weights="weight"),
        formula="y ~ treated * post", weights="weight", term="treated:post"),
    "household FE, 1:2 sets, unbalanced, covariate, 2 waves": dict(
        data=dict(comparisons=2, unbalanced=0.1, waves=2), spec=dict(unit="hh_id", weights="weight",
                                                                     covariates=["x1"]),
        formula="y ~ D + x1 | hh_id + pw", weights="weight", term="D"),
    "village FE, 1:2 sets, unbalanced, covariate, effects by wave": dict(
        data=dict(comparisons=2, unbalanced=0.1), spec=dict(unit="village_id", weights="weight",
                                                            covariates=["x1"], by_wave=True),
        formula="y ~ D1 + D2 + x1 | village_id + pw", weights="weight", term="D1"),
}


def _estimate_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    kw: dict[str, Any] = dict(outcome="y", treated="treated", weights=spec.get("weights"),
                              covariates=spec.get("covariates"))
    if spec.get("unit") is None:
        kw.update(post="post", cluster="pair_id")
    elif spec.get("by_wave"):
        kw.update(post="wave", unit=spec["unit"], pair="pair_id")
    else:
        kw.update(post="post", period="wave", unit=spec["unit"], pair="pair_id")
    return kw


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------------
# worker: one layout × size in a fresh process
# ---------------------------------------------------------------------------------------------------
def worker(layout: str, households: int, repeat: int, parquet: str | None) -> None:
    from welfare_eval.did import DEFAULT_INFERENCE, estimate
    from welfare_eval.did._testing import layout_panel

    cfg = LAYOUTS[layout]
    warm = layout_panel(households=400, **cfg["data"])
    kw = _estimate_kwargs(cfg["spec"])
    estimate(warm, **kw)  # imports and first-call costs
    del warm
    data = layout_panel(households=households, **cfg["data"])
    rss_data = _rss_mb()
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    res = None
    for name, methods in METHODS.items():
        if cfg["spec"].get("unit") is None and name == "ri":
            continue  # randomization over within-pair swaps needs the matched-pair specification
        if name == "full":
            methods = DEFAULT_INFERENCE  # the default call (trimmed to what applies)
        runs, cpus = [], []
        for _ in range(repeat):
            res = None  # one result alive at a time: the peak is that of one estimate call
            t0, c0 = time.perf_counter(), time.process_time()
            res = estimate(data, inference=methods, draws=2**18, **kw)
            runs.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        times[name] = float(np.median(runs))
        cpu[name] = float(np.median(cpus))
    assert res is not None
    tab = res.tidy()
    res = None
    cr1 = estimate(data, inference=("cr1",), **kw).tidy().iloc[0]
    peak = _rss_mb()  # before the Parquet hand-over below
    out = {"rows": len(data), "households": int(data["hh_id"].nunique()), "times": times, "cpu": cpu,
           "rss_data_mb": rss_data, "peak_mb": peak, "estimate": float(cr1["estimate"]),
           "cr1_se": float(cr1["std_error"]), "cores": os.cpu_count(),
           "full_rows": tab[["term", "method", "p_value"]].to_dict("records")}
    if parquet:
        frame = data.assign(pw=data["pair_id"] * 10 + data["wave_no"], D=data["treated"] * data["post"],
                            D1=data["treated"] * (data["wave_no"] == 1), D2=data["treated"] * (data["wave_no"] == 2))
        frame = frame.drop(columns=["wave"])
        frame.to_parquet(parquet)
    print("RESULT " + json.dumps(out))


# ---------------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------------
def _run(cmd: list[str], timeout: float) -> dict[str, Any]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout:.0f} s (timeout)"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": err[:120]}


def _fmt(t: float | None) -> str:
    if t is None or not np.isfinite(t):
        return "—"
    return f"{t:.3f}" if t < 10 else f"{t:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5, help="runs per method at sizes < 1,000,000 (median)")
    parser.add_argument("--repeat-large", type=int, default=1, help="runs per method at 1,000,000 and more")
    parser.add_argument("--layouts", nargs="+", default=None, help="subset of layout numbers (1-based)")
    parser.add_argument("--pyfixest", default=DEFAULT_PYFIXEST, help="python with pyfixest, or 'none'")
    parser.add_argument("--pyfixest-timeout", type=float, default=120.0)
    parser.add_argument("--pyfixest-max-size", type=int, default=1_000_000)
    parser.add_argument("--pyfixest-large-tasks", nargs="*", default=["crv1", "crv3"],
                        help="pyfixest tasks at 1,000,000 households and more (its wild bootstrap times out "
                             "already at 10,000 with household FE)")
    parser.add_argument("--reps", type=int, default=0, help="Monte Carlo replications (0: skip)")
    parser.add_argument("--mc-draws", type=int, default=4096)
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write every row of the table to this JSON file (read by run_all.py)")
    parser.add_argument("--worker", nargs=3, metavar=("LAYOUT", "HOUSEHOLDS", "REPEAT"), help=argparse.SUPPRESS)
    parser.add_argument("--parquet", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]), args.parquet)
        return
    names = list(LAYOUTS)
    if args.layouts:
        names = [names[int(i) - 1] for i in args.layouts]
    use_pf = args.pyfixest != "none" and Path(args.pyfixest).exists()
    load = os.getloadavg()
    print(f"welfare_eval.did.estimate benchmark — cores: {os.cpu_count()}, load average at start: "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; 18 pairs; times in seconds "
          f"(median of {args.repeat} runs below 1,000,000 households, {args.repeat_large} above)")
    if not use_pf:
        print(f"pyfixest comparison skipped (no interpreter at {args.pyfixest})")
    records: list[dict[str, Any]] = []
    header = (f"{'layout':58s} {'households':>10s} {'rows':>9s} {'method':>6s} {'ours':>8s} {'ours CPU':>8s} "
              f"{'pyfixest':>22s} {'ratio':>7s} {'peak MB':>8s}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for size in args.sizes:
                repeat = args.repeat if size < 1_000_000 else args.repeat_large
                pq = str(Path(tmp) / "data.parquet") if use_pf and size <= args.pyfixest_max_size else None
                cmd = [sys.executable, __file__, "--worker", name, str(size), str(repeat)]
                if pq:
                    cmd += ["--parquet", pq]
                ours = _run(cmd, timeout=3600)
                if "error" in ours:
                    print(f"{name:58s} {size:>10,d}  ours failed: {ours['error']}")
                    records.append({"layout": name, "households": size, "error": ours["error"]})
                    continue
                pf: dict[str, dict[str, Any]] = {}
                if pq:
                    cfg = LAYOUTS[name]
                    tasks = ("crv1", "crv3", "wild9999", "wild262144") if size < 1_000_000 else \
                        tuple(args.pyfixest_large_tasks)
                    for task in tasks:
                        if task == "wild262144" and "timeout" in pf.get("wild9999", {}).get("error", ""):
                            # 26 times the draws of a run that already timed out: not worth the wait
                            pf[task] = {"error": f"> {args.pyfixest_timeout:.0f} s (skipped)"}
                            continue
                        pcmd = [args.pyfixest, str(HERE / "bench_did_pyfixest.py"), pq, "--task", task,
                                "--formula", cfg["formula"], "--weights", cfg["weights"], "--term", cfg["term"]]
                        pf[task] = _run(pcmd, timeout=args.pyfixest_timeout)
                pair = {"cr1": "crv1", "cr3": "crv3", "wild": "wild262144"}
                for method, t in ours["times"].items():
                    pf_txt, ratio = "", ""
                    task = pair.get(method)
                    rec: dict[str, Any] = {"layout": name, "households": ours["households"], "rows": ours["rows"],
                                           "method": method, "ours": t, "ours_cpu": ours["cpu"][method],
                                           "peak_mb": ours["peak_mb"] if method == "full" else None,
                                           "pyfixest_task": task if task and task in pf else None}
                    if task and task in pf:
                        r = pf[task]
                        if "error" in r:
                            pf_txt = r["error"][:22]
                            rec["pyfixest_error"] = r["error"]
                        else:
                            pf_txt = _fmt(r["time"]) + (" (unweighted)" if r.get("unweighted") else "")
                            ratio = f"{r['time'] / t:.1f}×"
                            rec.update(pyfixest=r["time"], pyfixest_unweighted=bool(r.get("unweighted")))
                    records.append(rec)
                    peak = f"{ours['peak_mb']:.0f}" if method == "full" else ""
                    print(f"{name:58s} {ours['households']:>10,d} {ours['rows']:>9,d} {method:>6s} {_fmt(t):>8s} "
                          f"{_fmt(ours['cpu'][method]):>8s} "
                          f"{pf_txt:>22s} {ratio:>7s} {peak:>8s}")
                if "wild9999" in pf:
                    r = pf["wild9999"]
                    txt = r["error"] if "error" in r else (
                        f"{_fmt(r['time'])} s" + (" (unweighted)" if r.get("unweighted") else ""))
                    print(f"{'':58s} {'':>10s} {'':>9s} {'':>6s} {'':>8s} {'':>8s} pyfixest wildboottest 9,999 draws: "
                          f"{txt}")
                if "crv1" in pf and "error" not in pf["crv1"]:
                    r = pf["crv1"]
                    print(f"{'':58s} {'':>10s} {'':>9s} {'':>6s} {'':>8s} {'':>8s} same numbers: estimate Δ = "
                          f"{abs(r['estimate'] - ours['estimate']):.1e}, CR1 SE ratio = {r['se'] / ours['cr1_se']:.6f}"
                          f"; data {ours['rss_data_mb']:.0f} MB of the peak")
    end = os.getloadavg()
    print(f"load average at the end: {end[0]:.1f} / {end[1]:.1f} / {end[2]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"cores": os.cpu_count(), "load_start": load, "load_end": end,
                                               "sizes": args.sizes, "rows": records}, indent=1))
    if args.reps:
        monte_carlo(args.reps, args.mc_draws)


def monte_carlo(reps: int, draws: int) -> None:
    """Rejection rates at 5 % under a planted null (demo-sized design, random draws, no CIs)."""
    from welfare_eval.did import estimate
    from welfare_eval.did._testing import matched_pair_panel

    spec: dict[str, Any] = dict(outcome="y", treated="treated", post="post", period="wave", unit="hh_id", pair="pair_id",
                weights="weight")
    rejections: dict[str, list[bool]] = {}
    t0 = time.perf_counter()
    for r in range(reps):
        data = matched_pair_panel(effect=0.0, seed=10_000 + r)
        res = estimate(data, inference=("cr1", "cr2", "wild", "ri"), draws=draws, seed=r, confint=False, **spec)
        for _, row in res.tidy().iterrows():
            rejections.setdefault(row["method"], []).append(bool(row["p_value"] < 0.05))
    elapsed = time.perf_counter() - t0
    print(f"\nMonte Carlo, planted null, {reps} replications, {draws} draws ({elapsed:.0f} s):")
    for method, rej in rejections.items():
        rate = np.mean(rej)
        se = np.sqrt(rate * (1 - rate) / len(rej))
        print(f"  {method:6s} rejection rate at 5%: {rate:6.3f}  (MC s.e. {se:.3f})")


if __name__ == "__main__":
    main()
