"""Many outcomes: DiD for each, with Holm, Benjamini–Hochberg and Romano–Wolf adjusted p-values.

* Holm (1979) step-down and Benjamini–Hochberg (1995) step-up adjust any method's p-values.
* Romano & Wolf (2005) step-down uses the *joint* resampling distribution: the same wild bootstrap
  weights (or the same within-pair swaps) for every outcome, which :func:`estimate` guarantees
  because draws depend only on the number of clusters and ``seed`` (full enumeration is
  deterministic). For the outcomes ordered by ``|t|`` (largest first) the k-th adjusted p-value is the
  share of draws whose ``max_{j ≥ k} |t*_j|`` reaches ``|t_(k)|`` (wild: ties count ½, as boottest),
  made monotone by a running maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .._results import ResultBase
from .estimate import DEFAULT_INFERENCE, DiDResult, estimate

__all__ = ["ManyOutcomes", "adjust_pvalues", "many_outcomes", "romano_wolf"]


def adjust_pvalues(p: npt.ArrayLike, method: str = "holm") -> np.ndarray:
    """Holm or Benjamini–Hochberg adjusted p-values (same order as ``p``)."""
    pv = np.asarray(p, dtype=float)
    m = pv.size
    if m == 0:
        return pv.copy()
    if np.isnan(pv).any():
        raise ValueError("adjust_pvalues: p-values contain NaN")
    order = np.argsort(pv, kind="stable")
    ps = pv[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ps)
    elif method in ("bh", "fdr_bh"):
        adj = np.minimum.accumulate((m / np.arange(m, 0, -1)) * ps[::-1])[::-1]
    else:
        raise ValueError(f"method={method!r}: use 'holm' or 'bh'")
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def romano_wolf(t_obs: npt.ArrayLike, t_star: npt.ArrayLike, *, ties: str = "half") -> np.ndarray:
    """Romano–Wolf step-down p-values from observed statistics (K) and joint draws (B × K).

    ``ties="half"`` counts draws equal to the observed value ½ (wild bootstrap, boottest's
    convention); ``ties="full"`` counts them 1 (randomization inference, observed assignment included).
    """
    t = np.abs(np.asarray(t_obs, dtype=float))
    ts = np.abs(np.atleast_2d(np.asarray(t_star, dtype=float)))
    k = t.size
    if ts.shape[1] != k:
        raise ValueError("t_star must have one column per outcome")
    order = np.argsort(-t, kind="stable")
    weight_tie = 0.5 if ties == "half" else 1.0
    adj = np.empty(k)
    running = 0.0
    for pos, j in enumerate(order):
        rest = order[pos:]
        mx = ts[:, rest].max(axis=1)
        tol = 1e-9 * max(t[j], 1e-300)
        p = (np.count_nonzero(mx > t[j] + tol) + weight_tie * np.count_nonzero(np.abs(mx - t[j]) <= tol)) / mx.size
        running = max(running, p)
        adj[j] = running
    return adj


class ManyOutcomes(ResultBase):
    """DiD results for several outcomes with adjusted p-values (one row per outcome × term × method)."""

    title = "Difference-in-differences, many outcomes"

    def __init__(self, results: dict[str, DiDResult], table: pd.DataFrame) -> None:
        self.results = results
        self._table = table

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def notes(self) -> list[str]:
        return ["p_holm, p_bh: adjusted within each term × method across outcomes; p_romano_wolf: step-down "
                "over the joint wild bootstrap / randomization draws (studentized)"]


def many_outcomes(data: pd.DataFrame, *, outcomes: Sequence[str], inference: Sequence[str] = DEFAULT_INFERENCE,
                  **kwargs: Any) -> ManyOutcomes:
    """Run :func:`~welfare_eval.did.estimate` for each outcome and adjust for multiplicity.

    ``kwargs`` are passed to :func:`estimate` (``treated``, ``post``, ``unit``, ``pair``, ``weights``,
    ``draws``, ``seed``, ...). Romano–Wolf p-values are given for ``wild`` and ``ri_t`` rows.
    """
    if len(outcomes) < 1:
        raise ValueError("outcomes: give at least one outcome column")
    results = {y: estimate(data, outcome=y, inference=inference, **kwargs) for y in outcomes}
    frames = []
    for y, res in results.items():
        tab = res.tidy()
        tab.insert(0, "outcome", y)
        frames.append(tab)
    table = pd.concat(frames, ignore_index=True)
    p_holm = np.full(len(table), np.nan)
    p_bh = np.full(len(table), np.nan)
    p_rw = np.full(len(table), np.nan)
    keys = list(zip(table["term"], table["method"], strict=True))
    for key in dict.fromkeys(keys):
        term, method = str(key[0]), str(key[1])
        rows = np.array([i for i, k in enumerate(keys) if k == key])
        pv = table["p_value"].to_numpy(dtype=float)[rows]
        p_holm[rows] = adjust_pvalues(pv, "holm")
        p_bh[rows] = adjust_pvalues(pv, "bh")
        if method in ("wild", "ri_t"):
            kind = "wild" if method == "wild" else "ri"
            t_obs, t_star = [], []
            for y in table["outcome"].to_numpy()[rows]:
                ds = results[str(y)].draws[(term, kind)]
                star, obs = ds.stats(results[str(y)].null, studentized=True)
                t_obs.append(obs)
                t_star.append(star)
            if len({s.size for s in t_star}) == 1:
                p_rw[rows] = romano_wolf(t_obs, np.column_stack(t_star), ties="half" if kind == "wild" else "full")
    table["p_holm"] = p_holm
    table["p_bh"] = p_bh
    table["p_romano_wolf"] = p_rw
    return ManyOutcomes(results, table)
