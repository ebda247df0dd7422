"""The two-way fixed-effects DiD coefficient and its Goodman-Bacon (2021) decomposition (``bacondecomp``).

``y_it = β D_it + α_i + λ_t + ε_it`` with ``D_it = 1(t ≥ g_i)``: ``β̂`` (weighted, clustered CR1 as fixest)
is a weighted average of every 2×2 DiD between timing groups (Goodman-Bacon 2021, Theorem 1). In a balanced
panel without weights or covariates, with ``n_k`` the share of units in timing group ``k`` and ``D̄_k`` its
share of treated periods:

* treated ``k`` vs never treated ``U``: ``s_kU ∝ (n_k + n_U)² n_kU(1 − n_kU) D̄_k(1 − D̄_k)``;
* earlier ``k`` vs later ``l`` (``l`` not yet treated, window before ``l``):
  ``s^k_kl ∝ ((n_k + n_l)(1 − D̄_l))² n_kl(1 − n_kl) (D̄_k − D̄_l)/(1 − D̄_l) · (1 − D̄_k)/(1 − D̄_l)``;
* later ``l`` vs earlier ``k`` (``k`` already treated, window from ``k``):
  ``s^l_kl ∝ ((n_k + n_l) D̄_k)² n_kl(1 − n_kl) D̄_l/D̄_k · (D̄_k − D̄_l)/D̄_k``;

each divided by the variance of the two-way demeaned ``D``; the weights sum to one and ``Σ s β̂_2×2 = β̂``
exactly (checked at run time and in the tests). Units treated before the first period are kept here as an
"always treated" group (their comparisons are "later vs always treated"), as in ``bacondecomp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..._results import ResultBase
from .._absorb import Absorber
from .._linear import LinearFit
from ._panel import long_panel

__all__ = ["BaconResult", "twfe"]


class BaconResult(ResultBase):
    """TWFE coefficient (``tidy()``) and the Bacon decomposition (``decomposition()``, ``by_type()``)."""

    sheet_name = "twfe"

    def __init__(self, *, table: pd.DataFrame, decomposition: pd.DataFrame | None, notes: list[str],
                 outcome: str) -> None:
        self._table = table
        self._decomp = decomposition
        self._notes = notes
        self.title = f"Two-way fixed effects: {outcome}"

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def notes(self) -> list[str]:
        return list(self._notes)

    def decomposition(self) -> pd.DataFrame:
        """One row per 2×2 comparison: ``type``, ``treated``, ``control`` (cohorts; 0 = never, ``always``
        = treated before the first period), ``estimate``, ``weight``."""
        if self._decomp is None:
            raise ValueError("no Bacon decomposition: it needs a balanced panel without weights or covariates")
        return self._decomp.copy()

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted-average 2×2 estimate by comparison type (``bacondecomp``'s summary)."""
        d = self.decomposition()
        d["weighted"] = d["weight"] * d["estimate"]
        out = d.groupby("type", sort=False)[["weight", "weighted"]].sum()
        out["estimate"] = out["weighted"] / out["weight"]
        return out.drop(columns="weighted").reset_index()

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """2×2 estimates against their weights, by comparison type, with the TWFE coefficient."""
        import matplotlib.pyplot as plt

        d = self.decomposition()
        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 3.8))
        for typ, sub in d.groupby("type", sort=False):
            ax.scatter(sub["weight"], sub["estimate"], label=typ, **kwargs)
        ax.axhline(float(self._table["estimate"].iloc[0]), color="grey", ls="--", lw=0.8, label="TWFE")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("weight")
        ax.set_ylabel("2×2 DiD estimate")
        ax.legend(frameon=False, fontsize="small")
        return ax


def twfe(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str, weights: str | None = None,
         cluster: str | None = None, covariates: Sequence[str] | None = None, level: float = 0.95) -> BaconResult:
    """Static two-way fixed-effects DiD with CR1 standard error and, where exact, the Bacon decomposition.

    ``cohort``: first treated period (0/missing = never treated). The decomposition needs a balanced
    panel without ``weights`` or ``covariates`` (then it reproduces ``β̂`` to rounding error).
    """
    covs = list(covariates or [])
    p = long_panel(data, who="twfe", outcome=outcome, unit=unit, time=time, cohort=cohort, weights=weights,
                   cluster=cluster, covariates=covs, drop_always_treated=False)
    times = p.times
    treated = (p.g > 0) & (times[p.t_idx] >= p.g)
    if not treated.any() or treated.all():
        raise ValueError("twfe: the treatment indicator does not vary")
    X = treated.astype(float)[:, None]
    names = ["D"]
    if p.x is not None:
        X = np.column_stack([X, p.x])
        names += covs
    ab = Absorber([p.unit, p.t_idx], p.w)
    fit = LinearFit(ab.transform(X), ab.transform(p.y), names, ab, p.cluster, _raw=(X, p.y))
    v = fit.vcov_cr1()
    b, se = float(fit.beta[0]), float(np.sqrt(v[0, 0]))
    g_cl = fit.n_clusters
    q = stats.t.ppf(0.5 + level / 2, g_cl - 1)
    stat = b / se
    table = pd.DataFrame([{"term": "D", "method": "cr1", "estimate": b, "std_error": se, "df": float(g_cl - 1),
                           "statistic": stat, "p_value": float(2 * stats.t.sf(abs(stat), g_cl - 1)),
                           "ci_low": b - q * se, "ci_high": b + q * se, "n_obs": fit.n, "n_clusters": g_cl}])
    notes = [*list(p.notes), f"y ~ D | {unit} + {time}; CR1 by {cluster or unit} (fixest small-sample factor), " f"t({g_cl - 1}) intervals"]
    decomp = None
    if p.balanced() and weights is None and not covs:
        decomp = _bacon(p.y, p.unit, p.t_idx, p.g, times, p.n_units)
        total = float((decomp["weight"] * decomp["estimate"]).sum())
        notes.append(f"Goodman-Bacon decomposition: {len(decomp)} 2×2 comparisons, weights sum to "
                     f"{decomp['weight'].sum():.6f}, weighted sum {total:.6g} (TWFE {b:.6g})")
        if abs(total - b) > 1e-8 * max(1.0, abs(b)) or abs(decomp["weight"].sum() - 1) > 1e-8:
            raise RuntimeError("Bacon decomposition does not reproduce the TWFE coefficient")  # pragma: no cover
    else:
        notes.append("no Bacon decomposition: it is exact only for a balanced panel without weights or covariates")
    return BaconResult(table=table, decomposition=decomp, notes=notes, outcome=outcome)


def _bacon(y: np.ndarray, unit: np.ndarray, t_idx: np.ndarray, g: np.ndarray, times: np.ndarray,
           n_units: int) -> pd.DataFrame:
    T = times.size
    Y = np.zeros((n_units, T))
    Y[unit, t_idx] = y
    g_u = np.zeros(n_units)
    g_u[unit] = g
    # timing groups: 0 = never (incl. after the last period), else first treated period (clipped to the first)
    start = np.where(g_u > 0, np.maximum(g_u, times[0]), np.inf)
    groups = np.unique(start)
    share = np.array([(start == s).mean() for s in groups])
    dbar = np.array([np.mean(times >= s) for s in groups])
    D = (times[None, :] >= start[:, None]).astype(float)
    dd = D - D.mean(axis=1, keepdims=True) - D.mean(axis=0, keepdims=True) + D.mean()
    vd = float(np.mean(dd**2))
    means = np.array([Y[start == s].mean(axis=0) for s in groups])  # group × period

    def did(k: int, l_: int, pre: np.ndarray, post: np.ndarray) -> float:
        return float((means[k, post].mean() - means[k, pre].mean()) - (means[l_, post].mean() - means[l_, pre].mean()))

    def label(s: float) -> Any:
        if not np.isfinite(s):
            return 0.0
        return "always" if s <= times[0] else float(s)

    rows = []
    never = [i for i, s in enumerate(groups) if not np.isfinite(s)]
    treated_groups = [i for i, s in enumerate(groups) if np.isfinite(s)]
    for k in treated_groups:
        for u in never:
            if 0 < dbar[k] < 1:
                nku = share[k] / (share[k] + share[u])
                wgt = (share[k] + share[u]) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k]) / vd
                post = times >= groups[k]
                rows.append({"type": "Treated vs Untreated", "treated": label(groups[k]), "control": 0.0,
                             "estimate": did(k, u, ~post, post), "weight": wgt})
    for a in treated_groups:
        for b in treated_groups:
            if groups[a] >= groups[b]:
                continue
            k, l_ = a, b  # k treated earlier
            nkl = share[k] / (share[k] + share[l_])
            if dbar[k] < 1:  # earlier vs later (later as control), window before l
                wgt = (((share[k] + share[l_]) * (1 - dbar[l_])) ** 2 * nkl * (1 - nkl)
                       * (dbar[k] - dbar[l_]) / (1 - dbar[l_]) * (1 - dbar[k]) / (1 - dbar[l_]) / vd)
                win = times < groups[l_]
                post = win & (times >= groups[k])
                pre = win & (times < groups[k])
                rows.append({"type": "Earlier vs Later Treated", "treated": label(groups[k]),
                             "control": label(groups[l_]), "estimate": did(k, l_, pre, post), "weight": wgt})
            if dbar[l_] > 0:  # later vs earlier (earlier as control), window from k
                wgt = (((share[k] + share[l_]) * dbar[k]) ** 2 * nkl * (1 - nkl)
                       * dbar[l_] / dbar[k] * (dbar[k] - dbar[l_]) / dbar[k] / vd)
                win = times >= groups[k]
                post = win & (times >= groups[l_])
                pre = win & (times < groups[l_])
                typ = "Later vs Always Treated" if label(groups[k]) == "always" else "Later vs Earlier Treated"
                rows.append({"type": typ, "treated": label(groups[l_]), "control": label(groups[k]),
                             "estimate": did(l_, k, pre, post), "weight": wgt})
    out = pd.DataFrame(rows)
    out["treated"] = out["treated"].astype(object)
    out["control"] = out["control"].astype(object)
    return out
