"""Monte Carlo under a planted null on a lighter demo design (village means, 18 pairs, 3 waves).

The full-size check (household rows, 2^18 draws) is in benchmarks/bench_did.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from welfare_eval.did import estimate
from welfare_eval.did._testing import matched_pair_panel


@pytest.mark.slow
def test_rejection_rates_under_the_null():
    reps = 300
    rej: dict[str, list[bool]] = {}
    for r in range(reps):
        d = matched_pair_panel(households=4, effect=0.0, seed=50_000 + r, weighted=False)
        village = d.groupby(["pair_id", "village_id", "treated", "wave", "post"], observed=True,
                            as_index=False)["y"].mean()
        res = estimate(village, outcome="y", treated="treated", post="post", period="wave", unit="village_id",
                       pair="pair_id", inference=("cr1", "cr2", "wild", "ri"), draws=2**10, seed=r,
                       confint=False)
        for _, row in res.tidy().iterrows():
            rej.setdefault(row["method"], []).append(bool(row["p_value"] < 0.05))
    rates = {m: float(np.mean(v)) for m, v in rej.items()}
    print(rates)
    # 300 replications: Monte Carlo s.e. of a 5% rate is 1.26 points
    for m in ("cr2", "wild", "ri", "ri_t"):
        assert 0.015 <= rates[m] <= 0.09, rates
