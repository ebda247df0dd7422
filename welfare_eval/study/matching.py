"""Study step: matching of comparison villages within inspection region, and balance."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from welfare_eval.match import match_villages, permutation_balance_test
from welfare_eval.study.plan import AnalysisPlan

__all__ = ["analyze_matching"]


def analyze_matching(
    frame: pd.DataFrame, villages: pd.DataFrame, plan: AnalysisPlan, *, seed: int | None = None
) -> dict[str, pd.DataFrame]:
    """Match the pilots to eligible villages of their region and describe balance.

    The matching runs on the candidate frame with ``plan.matching`` (covariates, method, exact stratum);
    ``surveyed`` marks the pairs that are the ones in the fieldwork (``villages``).

    Returns
    -------
    dict of DataFrame
        ``pairs``, ``reserves``, ``unmatched``, ``balance`` (before/after), ``balance_tests`` (iebaltab-style
        within-pair differences, pair fixed effects) and ``balance_overall`` (joint F test and within-pair
        permutation test).
    """
    seed = plan.seed if seed is None else seed
    mp = plan.matching
    m = match_villages(frame, treat="pilot", covariates=list(mp.covariates), exact=mp.exact, method=cast(Any, mp.method),
                       seed=seed)
    pairs = m.pairs.copy()
    fieldwork = villages.pivot_table(index="pair_id", columns="arm", values="village_id", aggfunc="first")
    surveyed = set(zip(fieldwork.get("pilot", pd.Series(dtype=str)), fieldwork.get("comparison", pd.Series(dtype=str)),
                       strict=True))
    pairs["surveyed"] = [(t, c) in surveyed for t, c in zip(pairs["treated_id"], pairs["control_id"], strict=True)]
    out: dict[str, pd.DataFrame] = {
        "pairs": pairs,
        "reserves": m.reserves.copy(),
        "unmatched": m.unmatched.copy(),
        "balance": m.balance().tidy(),
    }
    bt = m.balance_tests()
    out["balance_tests"] = bt.tidy()
    perm = permutation_balance_test(m.matched_data(), treat="pilot", covariates=list(mp.covariates),
                                    strata="pair_id", seed=seed)
    out["balance_overall"] = pd.DataFrame(
        [
            {"test": "joint_f", "statistic": float(bt.joint["F"]), "df_num": float(bt.joint["df_num"]),
             "df_denom": float(bt.joint["df_denom"]), "p_value": float(bt.joint["p_value"]), "n_perm": 0},
            {"test": "permutation", "statistic": float(perm["statistic"]), "df_num": np.nan, "df_denom": np.nan,
             "p_value": float(perm["p_value"]), "n_perm": int(perm["n_perm"])},
        ]
    )
    return out
