"""Sun & Abraham (2021) interaction-weighted event study (``fixest::sunab``).

``y_it = Σ_g Σ_{e ≠ ref} δ_{g,e} 1(G_i = g) 1(t − g = e) + α_i + λ_t (+ x'γ) + ε_it``, estimated on the
treated cohorts and a control cohort (never-treated units by default), every relative period of every
cohort interacted except the reference ``e = ref`` (default −1). The cohort-specific effects ``δ_{g,e}`` are
then averaged by event time with the cohorts' shares among the treated observations at that event time
(sums of weights, as ``fixest``'s aggregation): ``β_e = Σ_g ω_{g,e} δ_{g,e}``, with variance ``a'Va`` from the
CR1 cluster-robust covariance of the ``δ`` (fixest's small-sample factor; shares treated as fixed, like
``fixest``). Overall ATT: the average of the post-period ``δ_{g,e}`` weighted by the treated observations.

In a balanced panel without weights, ``δ_{g,e}`` equals ``att_gt``'s ATT(g, g+e) with never-treated
controls and a universal base period, and ``β_e`` its dynamic aggregation (tested).
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

__all__ = ["SunAbrahamResult", "sunab"]


class SunAbrahamResult(ResultBase):
    """Event-time effects (``tidy()``), cohort × event-time effects (``cohort_effects()``)."""

    sheet_name = "sunab"

    def __init__(self, *, table: pd.DataFrame, cohort_table: pd.DataFrame, fit: LinearFit, notes: list[str],
                 outcome: str) -> None:
        self._table = table
        self._cohort = cohort_table
        self.fit = fit
        self._notes = notes
        self.title = f"Sun–Abraham event study: {outcome}"

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def cohort_effects(self) -> pd.DataFrame:
        return self._cohort.copy()

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


def sunab(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str, weights: str | None = None,
          cluster: str | None = None, covariates: Sequence[str] | None = None, reference: int = -1,
          control_cohort: float | None = None, level: float = 0.95) -> SunAbrahamResult:
    """Sun–Abraham interaction-weighted estimator (see the module docstring).

    ``control_cohort``: a treated cohort used as the control when there are no never-treated units
    (periods from its adoption on are dropped, as Sun & Abraham recommend); default: the never treated.
    """
    covs = list(covariates or [])
    p = long_panel(data, who="sunab", outcome=outcome, unit=unit, time=time, cohort=cohort, weights=weights,
                   cluster=cluster, covariates=covs)
    notes = list(p.notes)
    times = p.times
    t = times[p.t_idx]
    keep = np.ones(p.y.size, dtype=bool)
    g = p.g.copy()
    if control_cohort is not None:
        if not (g == control_cohort).any():
            raise ValueError(f"sunab: control_cohort={control_cohort} is not a cohort in the data")
        keep = t < control_cohort
        g = np.where(g == control_cohort, 0.0, g)
        notes.append(f"control: cohort {control_cohort:g} (periods from {control_cohort:g} on dropped)")
        keep &= (g == 0) | (g < control_cohort)
    elif not (g == 0).any():
        raise ValueError("sunab: no never-treated units; pass control_cohort= (e.g. the last cohort)")
    else:
        notes.append("control: never-treated units")
    y, unit_c, t_idx, w, cl = p.y[keep], p.unit[keep], p.t_idx[keep], p.w[keep], p.cluster[keep]
    g, t = g[keep], t[keep]
    x = p.x[keep] if p.x is not None else None
    e = np.where(g > 0, t - g, np.nan)
    pairs = sorted({(gv, ev) for gv, ev in zip(g[g > 0], e[g > 0], strict=True) if ev != reference})
    if not pairs:
        raise ValueError("sunab: no cohort × relative-period cells to estimate")
    cols = [((g == gv) & (e == ev)).astype(float) for gv, ev in pairs]
    names = [f"g={gv:g}:e={ev:g}" for gv, ev in pairs]
    X = np.column_stack(cols)
    if x is not None:
        X = np.column_stack([X, x])
        names = names + covs
    ab = Absorber([unit_c, t_idx], w)
    Xt = ab.transform(X)
    norms = np.linalg.norm(Xt, axis=0)
    if (norms < 1e-9).any() or np.linalg.matrix_rank(Xt) < Xt.shape[1]:
        raise ValueError("sunab: collinear interactions (a cohort × period cell is spanned by the fixed effects); "
                         "check that there are control units in every period")
    cl_codes = pd.factorize(pd.Series(cl), sort=True)[0].astype(np.intp)
    fit = LinearFit(Xt, ab.transform(y), names, ab, cl_codes, _raw=(X, y))
    V = fit.vcov_cr1()
    G = fit.n_clusters
    z = stats.t.ppf(0.5 + level / 2, G - 1)
    k = len(pairs)
    beta = fit.beta[:k]
    Vd = V[:k, :k]
    cell_w = np.array([w[(g == gv) & (e == ev)].sum() for gv, ev in pairs])
    crow = []
    for j, (gv, ev) in enumerate(pairs):
        se = float(np.sqrt(Vd[j, j]))
        crow.append({"term": names[j], "cohort": gv, "event_time": ev, "estimate": beta[j], "std_error": se,
                     "ci_low": beta[j] - z * se, "ci_high": beta[j] + z * se, "weight_sum": cell_w[j]})
    cohort_table = pd.DataFrame(crow)
    evs = sorted({ev for _, ev in pairs})
    rows = []

    def row(term: str, a: np.ndarray, ev: float) -> dict[str, Any]:
        est = float(a @ beta)
        se = float(np.sqrt(a @ Vd @ a))
        st = est / se
        return {"term": term, "event_time": ev, "estimate": est, "std_error": se, "df": float(G - 1),
                "statistic": st, "p_value": float(2 * stats.t.sf(abs(st), G - 1)), "ci_low": est - z * se,
                "ci_high": est + z * se}

    for ev in evs:
        idx = [j for j, (_, e2) in enumerate(pairs) if e2 == ev]
        a = np.zeros(k)
        a[idx] = cell_w[idx] / cell_w[idx].sum()
        rows.append(row(f"e={ev:g}", a, ev))
    post = [j for j, (_, ev) in enumerate(pairs) if ev >= 0]
    if post:
        a = np.zeros(k)
        a[post] = cell_w[post] / cell_w[post].sum()
        rows.append(row("overall", a, np.nan))
    table = pd.DataFrame(rows)
    table["n_obs"] = fit.n
    table["n_clusters"] = G
    notes.append(f"y ~ cohort × relative period (reference e = {reference}) | {unit} + {time}; CR1 by "
                 f"{cluster or unit} (fixest factor), t({G - 1}) intervals; interaction weights = cohort shares of "
                 "the treated observations at each event time; overall = post-period average weighted the same way")
    return SunAbrahamResult(table=table, cohort_table=cohort_table, fit=fit, notes=notes, outcome=outcome)
