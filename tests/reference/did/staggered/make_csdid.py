"""Fixture from an independent implementation: PyPI ``csdid`` (a port of R ``did`` 2.x), analytic SEs.

Run once, in a scratch virtualenv outside the repository (csdid pins its own pandas/numpy)::

    python3 -m venv /tmp/venv-csdid && /tmp/venv-csdid/bin/pip install csdid==0.4.3 drdid==1.1.7
    /tmp/venv-csdid/bin/python tests/reference/did/staggered/make_csdid.py ../shared/reference/staggered/mpdta.csv

Writes ``csdid.json`` beside this script: for each case (R did's mpdta, cluster ``state`` = county code //
1000, weights ``w`` = 1 + (county mod 7)/10), the ATT(g,t) with analytic standard errors (``bstrap=False``),
the Wald pre-test, and the four aggregations with analytic standard errors.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

warnings.simplefilter("ignore")

CASES = [
    {"name": "never_varying_reg", "control": "never", "base_period": "varying", "method": "reg", "covariates": []},
    {"name": "notyet_universal_dr_lpop", "control": "not_yet", "base_period": "universal", "method": "dr",
     "covariates": ["lpop"]},
    {"name": "never_varying_ipw_lpop", "control": "never", "base_period": "varying", "method": "ipw",
     "covariates": ["lpop"]},
    {"name": "never_varying_dr_lpop_anticipation", "control": "never", "base_period": "varying", "method": "dr",
     "covariates": ["lpop"], "anticipation": 1},
    {"name": "notyet_varying_reg_lpop_weights_cluster", "control": "not_yet", "base_period": "varying",
     "method": "reg", "covariates": ["lpop"], "weights": "w", "cluster": "state"},
    {"name": "rc_never_varying_dr_lpop", "control": "never", "base_period": "varying", "method": "dr",
     "covariates": ["lpop"], "panel": False},
    {"name": "rc_notyet_universal_reg_lpop_weights", "control": "not_yet", "base_period": "universal",
     "method": "reg", "covariates": ["lpop"], "panel": False, "weights": "w"},
    {"name": "unbalanced_never_varying_dr_lpop", "control": "never", "base_period": "varying", "method": "dr",
     "covariates": ["lpop"], "unbalanced": True},
    {"name": "no_never_treated_notyet_varying_reg", "control": "not_yet", "base_period": "varying", "method": "reg",
     "covariates": [], "no_never": True},
]
AGGS = [("simple", {}), ("dynamic", {}), ("group", {}), ("calendar", {}), ("dynamic", {"balance_e": 1}),
        ("dynamic", {"min_e": -2, "max_e": 2})]


def _f(x: object) -> object:
    a = np.asarray(x, dtype=float)
    return [None if not np.isfinite(v) else float(v) for v in a.ravel()] if a.ndim else (
        None if not np.isfinite(a) else float(a))


def main(path: str) -> None:
    d = pd.read_csv(path)
    d["state"] = d["countyreal"] // 1000
    d["w"] = 1 + (d["countyreal"] % 7) / 10  # constant within county
    d["obs_id"] = np.arange(1, len(d) + 1)
    out = {"source": "csdid 0.4.3 (PyPI), bstrap=False (analytic influence-function SEs)", "cases": []}
    for case in CASES:
        xf = "lemp~" + "+".join(case["covariates"]) if case["covariates"] else None
        data = d.copy()
        if case.get("no_never"):  # every county eventually treated: R drops periods from the last cohort on
            data = data[data["first.treat"] > 0].reset_index(drop=True)
        if case.get("unbalanced"):  # drop about 1 row in 11, deterministically
            data = data[(data["countyreal"] + data["year"]) % 11 != 0].reset_index(drop=True)
        rc = not case.get("panel", True)
        m = ATTgt(yname="lemp", gname="first.treat", idname="obs_id" if rc else "countyreal", tname="year",
                  data=data, control_group="nevertreated" if case["control"] == "never" else "notyettreated",
                  xformla=xf, panel=case.get("panel", True), allow_unbalanced_panel=bool(case.get("unbalanced")),
                  anticipation=case.get("anticipation", 0), weights_name=case.get("weights"),
                  clustervar=case.get("cluster"))
        m.fit(est_method=case["method"], base_period=case["base_period"], bstrap=False)
        r = m.results
        res = {**case, "group": _f(r["group"]), "time": _f(r["year"]), "att": _f(r["att"]), "se": _f(r["se"]),
               "W": _f(m.MP["W"]), "Wpval": _f(m.MP["Wpval"]), "aggregations": []}
        for typ, kw in AGGS:
            with contextlib.redirect_stdout(io.StringIO()):
                m.aggte(typec=typ, bstrap=False, cband=False, **kw)
            a = m.atte
            res["aggregations"].append({"type": typ, **kw, "overall_att": _f(a["overall_att"]),
                                        "overall_se": _f(a["overall_se"]),
                                        "egt": _f(a["egt"]) if a.get("egt") is not None else None,
                                        "att_egt": _f(a["att_egt"]) if a.get("att_egt") is not None else None,
                                        "se_egt": _f(a["se_egt"]) if a.get("se_egt") is not None else None})
        out["cases"].append(res)
    target = Path(__file__).with_name("csdid.json")
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/staggered/mpdta.csv")
