"""Imputation estimator of Borusyak, Jaravel & Spiess (2024) (R ``didimputation``).

1. On the untreated observations ``Ω₀`` (never treated, and ``t < g − anticipation``) fit
   ``Y_it(0) = α_i + λ_t (+ x'γ)`` by (weighted) least squares;
2. impute ``Ŷ_it(0)`` for the treated observations ``Ω₁`` and take ``τ̂_it = Y_it − Ŷ_it(0)``;
3. average ``τ̂`` with the observation weights by event time ``e = t − g`` (``tidy()``), by cohort × period
   (``cells()``) and over all of ``Ω₁`` (``overall``).

Each target ``τ̂_a = Σ_{Ω₁} a_it τ̂_it`` is linear in ``Y``: ``τ̂_a = Σ v_it Y_it`` with ``v = a`` on ``Ω₁`` and
``v = −W₀ Z₀ (Z₀'W₀Z₀)⁻¹ Z₁'a`` on ``Ω₀`` (BJS Theorem 3). Standard errors: BJS's conservative clustered
variance ``Σ_c (Σ_{it∈c} v_it ε̃_it)²`` with ``ε̃`` the ``Ω₀`` residuals and, on ``Ω₁``, ``τ̂_it`` minus its
weighted average within cohort × event time (``didimputation``'s choice; without the leave-out correction).
The normal equations of the two-way fixed effects are solved exactly with a sparse factorisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.linalg import splu

from ..._results import ResultBase
from ._panel import long_panel

__all__ = ["ImputationResult", "imputation"]


class ImputationResult(ResultBase):
    """Event-time effects (``tidy()``) and cohort × period effects (``cells()``)."""

    sheet_name = "imputation"

    def __init__(self, *, table: pd.DataFrame, cells: pd.DataFrame, notes: list[str], outcome: str) -> None:
        self._table = table
        self._cells = cells
        self._notes = notes
        self.title = f"Imputation estimator (Borusyak, Jaravel & Spiess): {outcome}"

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def cells(self) -> pd.DataFrame:
        return self._cells.copy()

    def notes(self) -> list[str]:
        return list(self._notes)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 3.8))
        t = self._table[self._table["term"] != "overall"]
        ax.errorbar(t["event_time"], t["estimate"], yerr=[t["estimate"] - t["ci_low"], t["ci_high"] - t["estimate"]],
                    fmt="o", capsize=3, **kwargs)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("periods since adoption")
        return ax


def imputation(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str,
               weights: str | None = None, cluster: str | None = None, covariates: Sequence[str] | None = None,
               anticipation: int = 0, horizons: Sequence[int] | None = None, level: float = 0.95) -> ImputationResult:
    """BJS imputation estimator (see the module docstring); ``horizons`` restricts the event times reported."""
    covs = list(covariates or [])
    p = long_panel(data, who="imputation", outcome=outcome, unit=unit, time=time, cohort=cohort, weights=weights,
                   cluster=cluster, covariates=covs, anticipation=anticipation)
    t = p.times[p.t_idx]
    treated = (p.g > 0) & (t >= p.g - anticipation)
    untreated = ~treated
    if not treated.any():
        raise ValueError("imputation: no treated observations")
    n_u, n_t = p.n_units, p.times.size
    miss_u = np.setdiff1d(np.unique(p.unit[treated]), np.unique(p.unit[untreated]))
    if miss_u.size:
        raise ValueError(f"imputation: unit {p.unit_labels[miss_u[0]]!r} has no untreated period; its fixed effect "
                         "cannot be estimated")
    miss_t = np.setdiff1d(np.unique(p.t_idx[treated]), np.unique(p.t_idx[untreated]))
    if miss_t.size:
        raise ValueError(f"imputation: no untreated observation in period {p.times[miss_t[0]]:g}; its effect cannot "
                         "be imputed (no never- or not-yet-treated units left)")
    # design: unit dummies, time dummies (first dropped), covariates
    n = p.y.size
    rows = np.arange(n)
    zu = sparse.csr_matrix((np.ones(n), (rows, p.unit)), shape=(n, n_u))
    tt = p.t_idx > 0
    zt = sparse.csr_matrix((np.ones(int(tt.sum())), (rows[tt], p.t_idx[tt] - 1)), shape=(n, n_t - 1))
    blocks = [zu, zt] + ([sparse.csr_matrix(p.x)] if p.x is not None else [])
    Z = sparse.hstack(blocks).tocsr()
    Z0, Z1 = Z[untreated], Z[treated]
    w0 = p.w[untreated]
    M = (Z0.T @ sparse.diags(w0) @ Z0).tocsc()
    try:
        lu = splu(M)
    except RuntimeError:
        raise ValueError("imputation: singular untreated-outcome model (collinear covariates?)") from None
    theta = lu.solve(Z0.T @ (w0 * p.y[untreated]))
    resid0 = p.y[untreated] - Z0 @ theta
    tau = p.y[treated] - Z1 @ theta
    g1, t1 = p.g[treated], t[treated]
    e1 = t1 - g1
    w1 = p.w[treated]
    # tau averaged within cohort × event time for the variance residuals
    key = pd.MultiIndex.from_arrays([g1, e1])
    codes, _ = pd.factorize(key)
    tbar = np.bincount(codes, weights=w1 * tau) / np.bincount(codes, weights=w1)
    eps1 = tau - tbar[codes]
    cl0, cl1 = p.cluster[untreated], p.cluster[treated]
    n_cl = int(p.cluster.max()) + 1
    z = stats.norm.ppf(0.5 + level / 2)

    def target(mask: np.ndarray, term: str, extra: dict[str, Any]) -> dict[str, Any]:
        a = np.where(mask, w1, 0.0)
        a = a / a.sum()
        est = float(a @ tau)
        h = lu.solve(np.asarray(Z1.T @ a).ravel())
        v0 = -w0 * (Z0 @ h)
        s = np.bincount(cl1, weights=a * eps1, minlength=n_cl) + np.bincount(cl0, weights=v0 * resid0, minlength=n_cl)
        se = float(np.sqrt(np.sum(s**2)))
        st = est / se if se > 0 else np.nan
        return {"term": term, **extra, "estimate": est, "std_error": se, "statistic": st,
                "p_value": float(2 * stats.norm.sf(abs(st))), "ci_low": est - z * se, "ci_high": est + z * se,
                "n_obs": int(mask.sum())}

    evs = np.unique(e1)
    if horizons is not None:
        evs = np.array([e for e in evs if e in set(horizons)])
    table = [target(e1 == ev, f"e={ev:g}", {"event_time": float(ev)}) for ev in evs]
    table.append(target(np.ones(e1.size, dtype=bool), "overall", {"event_time": np.nan}))
    cells = [target((g1 == gv) & (t1 == tv), f"ATT({gv:g},{tv:g})", {"cohort": gv, "time": tv})
             for gv, tv in sorted(set(zip(g1.tolist(), t1.tolist(), strict=True)))]
    out = pd.DataFrame(table)
    out["n_clusters"] = n_cl
    cel = pd.DataFrame(cells)
    cel["n_clusters"] = n_cl
    notes = [*list(p.notes), f"untreated model: {outcome} ~ {unit} + {time}" + (f" + {', '.join(covs)}" if covs else "") + f" on {int(untreated.sum())} untreated observations; {int(treated.sum())} treated observations imputed", f"conservative BJS standard errors clustered by {cluster or unit} ({n_cl} clusters), normal intervals"]
    return ImputationResult(table=out, cells=cel, notes=notes, outcome=outcome)
