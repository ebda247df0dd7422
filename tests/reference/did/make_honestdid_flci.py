"""Reference FLCIs under Δ^SD(M) from the PyPI package ``honestdid`` 0.1.1 (Python port of R HonestDiD).

Run once by hand in a scratch environment (needs cvxpy and torch; the tests do not)::

    python -m venv /tmp/drvenv && /tmp/drvenv/bin/pip install honestdid==0.1.1
    /tmp/drvenv/bin/python tests/reference/did/make_honestdid_flci.py

Note: ``honestdid`` computes the folded-normal quantile by simulation (10^6 draws) and optimises on a
grid, so its half-lengths carry errors of about 1e-3 relative; ours are exact optima (see the test).
"""

import json
from pathlib import Path

import numpy as np
from honestdid import find_optimal_flci

rng = np.random.default_rng(5)
A = rng.normal(size=(5, 5))
sigma = (A @ A.T) / 25 + 0.02 * np.eye(5)
beta = np.array([0.05, -0.02, 0.01, 0.3, 0.4])
out = {"beta": beta.tolist(), "sigma": sigma.tolist(), "n_pre": 3, "n_post": 2, "cases": []}
for M in (0.0, 0.02, 0.1):
    for lv in ([1.0, 0.0], [0.5, 0.5]):
        r = find_optimal_flci(beta, sigma, M=M, numPrePeriods=3, numPostPeriods=2, l_vec=np.array(lv))
        out["cases"].append({"M": M, "l": lv, "ci": [float(x) for x in r["FLCI"]],
                             "half": float(r["optimalHalfLength"]),
                             "vec": [float(x) for x in np.ravel(r["optimalVec"])]})
Path(__file__).with_name("honestdid_flci.json").write_text(json.dumps(out, indent=1))
