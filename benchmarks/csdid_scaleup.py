"""The scale-up estimate in PyPI ``csdid`` (run by ``bench_scaleup.py`` with a scratch environment's Python).

Reads household rows from a CSV (columns ``village_id`` (integer code), ``year``, ``cohort``, ``weight``, the
outcome and the covariates), runs ``ATTgt`` as repeated cross-sections (``panel=False``: households are
independent draws within village-years), doubly robust, never-treated comparisons, varying base period,
household weights, clustered by village, with the multiplier bootstrap (``biters`` draws, uniform band), then
the four aggregations; prints one JSON line ``RESULT {...}`` with the wall times and the ATT(g,t).

Imports only pandas, numpy and csdid (not welfare_eval): csdid pins its own versions, so it runs outside the
project's environment::

    /tmp/venv-csdid/bin/python benchmarks/csdid_scaleup.py rows.csv income log_mean_income,share_farm,log1p_sg_savings 999
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd


def main(path: str, outcome: str, covariates: str, biters: int) -> None:
    from csdid.att_gt import ATTgt

    warnings.simplefilter("ignore")
    d = pd.read_csv(path)
    d["obs_id"] = np.arange(1, len(d) + 1)
    t0 = time.perf_counter()
    m = ATTgt(yname=outcome, tname="year", idname="obs_id", gname="cohort", data=d, control_group="nevertreated",
              xformla=f"{outcome}~" + "+".join(covariates.split(",")), panel=False, clustervar="village_id",
              weights_name="weight", cband=True, biters=biters)
    with contextlib.redirect_stdout(io.StringIO()):
        m.fit(est_method="dr", base_period="varying", bstrap=True)
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        for typ in ("simple", "dynamic", "group", "calendar"):
            m.aggte(typec=typ, bstrap=True, biters=biters, cband=True)
    t2 = time.perf_counter()
    r = m.results
    out = {"rows": len(d), "fit_s": t1 - t0, "aggte_s": t2 - t1, "total_s": t2 - t0,
           "group": [float(v) for v in r["group"]], "time": [float(v) for v in r["year"]],
           "att": [float(v) for v in r["att"]], "se": [float(v) for v in r["se"]]}
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
