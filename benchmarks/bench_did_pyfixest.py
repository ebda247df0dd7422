"""One pyfixest timing on the data written by bench_did.py (run by it, in a separate environment).

Needs only pyfixest (+ wildboottest, pyarrow); e.g.::

    python3 -m venv /tmp/venv-pyfixest && /tmp/venv-pyfixest/bin/pip install pyfixest wildboottest pyarrow

Tasks: ``crv1`` (``feols`` with CRV1 by pair: fit included), ``crv3`` (CRV3 by pair), ``wild9999`` and
``wild262144`` (``wildboottest``, restricted WCR, Rademacher, at that many draws; pyfixest refuses weighted
fits there, so the fit is then unweighted and the result says so). Each task first fits a small slice of the data
(numba compilation and imports are not timed, as ours is warmed up too). Prints ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

try:
    import pandas as pd
    import pyfixest as pf
except ImportError as exc:  # pragma: no cover - depends on the environment
    print(f"pyfixest comparison skipped: {exc} (install pyfixest in a separate environment)", file=sys.stderr)
    sys.exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet")
    parser.add_argument("--task", required=True, choices=["crv1", "crv3", "wild9999", "wild262144"])
    parser.add_argument("--formula", required=True)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--term", default="D")
    args = parser.parse_args()
    data = pd.read_parquet(args.parquet)
    out: dict[str, object] = {"pyfixest": pf.__version__}
    # Warm-up on a few pairs (as bench_did.py warms ours up): numba's first-call compilation and imports are
    # not part of the timed work.
    small = data[data["pair_id"].isin(sorted(data["pair_id"].unique())[:4])]
    warm = pf.feols(args.formula, data=small, vcov={"CRV1": "pair_id"})
    warm.vcov({"CRV3": "pair_id"})
    if args.task.startswith("wild"):
        try:
            warm.wildboottest(param=args.term, reps=99, cluster="pair_id", seed=1)
        except Exception:  # a failure here shows again, and is reported, in the timed call
            pass
    if args.task in ("crv1", "crv3"):
        vc = {"CRV1" if args.task == "crv1" else "CRV3": "pair_id"}
        t0 = time.perf_counter()
        fit = pf.feols(args.formula, data=data, weights=args.weights, vcov=vc)
        se = float(fit.se()[args.term])
        out.update(time=time.perf_counter() - t0, estimate=float(fit.coef()[args.term]), se=se)
    else:
        reps = 9_999 if args.task == "wild9999" else 2**18
        unweighted = False
        try:
            fit = pf.feols(args.formula, data=data, weights=args.weights, vcov={"CRV1": "pair_id"})
            t0 = time.perf_counter()
            res = fit.wildboottest(param=args.term, reps=reps, cluster="pair_id", seed=1)
        except Exception:  # pyfixest refuses WLS here: time the unweighted fit instead
            unweighted = True
            fit = pf.feols(args.formula, data=data, vcov={"CRV1": "pair_id"})
            t0 = time.perf_counter()
            res = fit.wildboottest(param=args.term, reps=reps, cluster="pair_id", seed=1)
        out.update(time=time.perf_counter() - t0, unweighted=unweighted, t=float(res["t value"]),
                   p=float(res["Pr(>|t|)"]))
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
