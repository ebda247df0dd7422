"""Multiple outcomes: Holm / BH against statsmodels, Romano–Wolf against a direct implementation."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from welfare_eval.did import adjust_pvalues, many_outcomes, romano_wolf
from welfare_eval.did._testing import matched_pair_panel


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjust_pvalues_matches_statsmodels(ours, theirs):
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, size=11)
    p[3] = p[5]  # a tie
    assert np.allclose(adjust_pvalues(p, ours), multipletests(p, method=theirs)[1], rtol=0, atol=1e-15)


def _rw_direct(t, ts):
    """Textbook step-down (Romano & Wolf 2005, algorithm 4.1 with max statistic), written plainly."""
    t = np.abs(t)
    ts = np.abs(ts)
    order = list(np.argsort(-t))
    out = {}
    prev = 0.0
    while order:
        j = order[0]
        mx = np.max(ts[:, order], axis=1)
        p = (np.sum(mx > t[j] + 1e-12) + 0.5 * np.sum(np.abs(mx - t[j]) <= 1e-12)) / len(mx)
        prev = max(prev, p)
        out[j] = prev
        order = order[1:]
    return np.array([out[j] for j in range(len(t))])


def test_romano_wolf_direct():
    rng = np.random.default_rng(3)
    ts = rng.standard_normal((5000, 4)) @ np.linalg.cholesky(np.full((4, 4), 0.5) + 0.5 * np.eye(4)).T
    t = np.array([2.5, 0.3, 1.9, -2.2])
    adj = romano_wolf(t, ts)
    assert np.allclose(adj, _rw_direct(t, ts), atol=1e-15)
    raw = np.array([np.mean(np.abs(ts[:, j]) >= abs(t[j])) for j in range(4)])
    assert np.all(adj >= raw - 1e-12)


def test_many_outcomes_table_and_single_outcome_identity():
    d = matched_pair_panel(pairs=8, households=3, seed=12, effect=0.5)
    d["y2"] = d["y"] * 0.5 + np.random.default_rng(1).normal(size=len(d))
    d["y3"] = np.random.default_rng(2).normal(size=len(d))
    res = many_outcomes(d, outcomes=["y", "y2", "y3"], treated="treated", post="post", period="wave",
                        unit="village_id", pair="pair_id", inference=("cr1", "wild", "ri"))
    tab = res.tidy()
    assert set(tab["outcome"]) == {"y", "y2", "y3"}
    assert tab.loc[tab["method"].isin(["wild", "ri_t"]), "p_romano_wolf"].notna().all()
    assert (tab["p_holm"] >= tab["p_value"] - 1e-15).all()
    one = many_outcomes(d, outcomes=["y"], treated="treated", post="post", period="wave", unit="village_id",
                        pair="pair_id", inference=("wild", "ri")).tidy()
    for m in ("wild", "ri_t"):
        row = one[one["method"] == m].iloc[0]
        assert row["p_romano_wolf"] == pytest.approx(row["p_value"], abs=1e-15)
