"""Reference doubly robust DiD results from the PyPI package ``drdid`` 1.1.7 (Python port of R DRDID).

Run once by hand in a scratch environment (the tests do not need the package)::

    python -m venv /tmp/drvenv && /tmp/drvenv/bin/pip install drdid==1.1.7 pandas
    /tmp/drvenv/bin/python tests/reference/did/make_drdid.py

Input ``drdid_panel.csv`` (two-period household panel, made with
``welfare_eval.did._testing.matched_pair_panel(pairs=18, households=10, effect=0.4, seed=31)`` plus a
baseline covariate ``z``). Output ``drdid.json``: ATT and sd(IF)/sqrt(n), unweighted and weighted,
covariates ``x1`` (baseline) and ``z``; ``rc_*``: the same rows as repeated cross-sections
(``drdid_rc``).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from drdid.drdid import drdid_panel, drdid_rc

HERE = Path(__file__).parent
d = pd.read_csv(HERE / "drdid_panel.csv")
pre = d[d["post"] == 0].set_index("hh_id").sort_index()
post = d[d["post"] == 1].set_index("hh_id").sort_index()
out = {"drdid": "1.1.7"}
for name, w in (("unweighted", None), ("weighted", pre["weight"].to_numpy())):
    att, inf = drdid_panel(post["y"].to_numpy(), pre["y"].to_numpy(), pre["treated"].to_numpy(),
                           covariates=pre[["x1", "z"]].to_numpy(), i_weights=w)
    inf = np.asarray(inf)
    out[name] = {"att": float(att), "se": float(np.std(inf, ddof=1) / np.sqrt(inf.size))}
    # the same rows treated as repeated cross-sections (covariates x1, z of each row)
    att, inf = drdid_rc(d["y"].to_numpy(), d["post"].to_numpy(), d["treated"].to_numpy(),
                        covariates=d[["x1", "z"]].to_numpy(),
                        i_weights=None if w is None else d["weight"].to_numpy())
    inf = np.asarray(inf)
    out[f"rc_{name}"] = {"att": float(att), "se": float(np.std(inf, ddof=1) / np.sqrt(inf.size))}
(HERE / "drdid.json").write_text(json.dumps(out, indent=2))
print(out)
