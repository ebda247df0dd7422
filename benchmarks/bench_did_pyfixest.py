"""Wild cluster bootstrap timing in pyfixest (wildboottest) on the data written by bench_did.py.

Needs only pyfixest (+ numpy/pandas); run it in a separate environment, e.g.::

    python3 -m venv /tmp/pfx && /tmp/pfx/bin/pip install pyfixest wildboottest
    .venv/bin/python benchmarks/bench_did.py --reps 0 --skip-small --households 10000 --csv /tmp/did_10k.csv
    /tmp/pfx/bin/python benchmarks/bench_did_pyfixest.py /tmp/did_10k.csv [--draws 4096 65536] [--unit village_id]

pyfixest's wild bootstrap refuses weighted (WLS) fits, so the comparison is unweighted; compare with the
"unweighted" lines of bench_did.py (same data, same draws, restricted WCR11 bootstrap, Rademacher).
"""

from __future__ import annotations

import argparse
import sys
import time

try:
    import pandas as pd
    import pyfixest as pf
except ImportError as exc:  # pragma: no cover - depends on the environment
    print(f"pyfixest comparison skipped: {exc} (install pyfixest in a separate environment)")
    sys.exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--draws", type=int, nargs="+", default=[2**12, 2**16])
    parser.add_argument("--unit", default="hh_id", help="unit fixed effect (hh_id or village_id)")
    args = parser.parse_args()
    data = pd.read_csv(args.csv)
    print(f"pyfixest {pf.__version__}; {len(data):,} rows; y ~ D | {args.unit} + pair×wave, cluster pair_id")
    try:
        fw = pf.feols(f"y ~ D | {args.unit} + pw", data=data, weights="hh_weight", vcov={"CRV1": "pair_id"})
        fw.wildboottest(param="D", reps=args.draws[0], cluster="pair_id", seed=1)
    except Exception as exc:  # report whatever pyfixest says
        print(f"  weighted: {type(exc).__name__}: {exc}")
    t0 = time.perf_counter()
    fit = pf.feols(f"y ~ D | {args.unit} + pw", data=data, vcov={"CRV1": "pair_id"})
    print(f"  fit + CRV1: {time.perf_counter() - t0:.3f} s; estimate {float(fit.coef()['D']):.6f}, "
          f"CRV1 se {float(fit.se()['D']):.6f}")
    for b in args.draws:
        t0 = time.perf_counter()
        res = fit.wildboottest(param="D", reps=b, cluster="pair_id", seed=1)
        elapsed = time.perf_counter() - t0
        print(f"  wildboottest {b} draws: {elapsed:8.3f} s  t {float(res['t value']):.4f}  "
              f"p {float(res['Pr(>|t|)']):.4f}")
    # classic 2×2 without fixed effects (pyfixest's bootstrap needs no fixed-effect handling here)
    fit2 = pf.feols("y ~ treated * post", data=data, vcov={"CRV1": "pair_id"})
    print(f"  2×2 y ~ treated*post: estimate {float(fit2.coef()['treated:post']):.6f}, "
          f"CRV1 se {float(fit2.se()['treated:post']):.6f}")
    for b in args.draws:
        t0 = time.perf_counter()
        res = fit2.wildboottest(param="treated:post", reps=b, cluster="pair_id", seed=1)
        elapsed = time.perf_counter() - t0
        print(f"  2×2 wildboottest {b} draws: {elapsed:8.3f} s  t {float(res['t value']):.4f}  "
              f"p {float(res['Pr(>|t|)']):.4f}")


if __name__ == "__main__":
    main()
