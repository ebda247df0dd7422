"""Aggregations of ATT(g, t) (R ``did::aggte``): simple, dynamic (event time), group (cohort), calendar.

Every aggregate is a weighted average of ATT(g, t) with weights proportional to the cohort shares
``p_g`` (weighted share of the ids — units, or rows for repeated cross-sections — in cohort ``g``). The
shares are estimated, so their influence function enters the aggregate's (R's ``wif``): for cells
``k ∈ K`` with shares ``p_k``, ``S = Σ_K p_k`` and centred terms ``c_ik = w_i 1(G_i = g_k) − p_k``,
``wif_ik = c_ik / S − (Σ_K c_ik) p_k / S²``, added as ``wif · ATT_K``. With cluster contributions
(``/ n`` and summed by cluster) everything stays linear, so the aggregate's contribution matrix is
``S_gt a + wif · att``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

__all__ = ["Aggregation", "aggregate_effects"]

AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


@dataclass
class Aggregation:
    """Estimates and cluster contributions of an aggregation (rows and the overall summary)."""

    kind: str
    labels: list[float]  # event time / cohort / period per row (empty for simple)
    estimate: FloatArray
    contrib: FloatArray  # G × rows
    overall: float
    overall_contrib: FloatArray  # G
    cells_used: list[list[int]]  # ATT(g,t) columns entering each row
    min_e: float
    max_e: float
    balance_e: int | None


def _wif(keep: npt.NDArray[np.intp], pg_cell: FloatArray, cohort_col: npt.NDArray[np.intp], A: FloatArray,
         N: FloatArray, n_ids: float) -> FloatArray:
    """Cluster contributions of R's ``wif`` (G × len(keep))."""
    p = pg_cell[keep]
    s = p.sum()
    centred = (A[:, cohort_col[keep]] - N[:, None] * p[None, :]) / n_ids
    return centred / s - centred.sum(axis=1, keepdims=True) * (p / s**2)[None, :]


def aggregate_effects(*, kind: str, att: FloatArray, contrib: FloatArray, group: FloatArray, time: FloatArray,
                      cohorts: FloatArray, A: FloatArray, N: FloatArray, n_ids: float, times: FloatArray,
                      min_e: float = -np.inf, max_e: float = np.inf, balance_e: int | None = None) -> Aggregation:
    """Aggregate ATT(g,t) like ``aggte(type=kind, min_e, max_e, balance_e)``.

    ``att``/``contrib``/``group``/``time`` describe the ATT(g,t) cells (columns); ``A`` (G × cohorts) and
    ``N`` (G) are the per-cluster weighted cohort counts and id counts; ``n_ids`` the number of ids.
    """
    if kind not in AGGREGATIONS:
        raise ValueError(f"aggregate: type={kind!r}; use one of {AGGREGATIONS}")
    if np.isnan(att).any():
        raise ValueError("aggregate: some ATT(g,t) are missing")
    pg = A.sum(axis=0) / n_ids  # per cohort
    cohort_col = np.searchsorted(cohorts, group).astype(np.intp)
    pg_cell = pg[cohort_col]
    e = time - group
    ncl = contrib.shape[0]

    def combine(idx: npt.NDArray[np.intp], with_wif: bool = True) -> tuple[float, FloatArray]:
        wts = pg_cell[idx] / pg_cell[idx].sum()
        est = float(att[idx] @ wts)
        c = contrib[:, idx] @ wts
        if with_wif:
            c = c + _wif(idx, pg_cell, cohort_col, A, N, n_ids) @ att[idx]
        return est, c

    labels: list[float] = []
    ests: list[float] = []
    cons: list[FloatArray] = []
    used: list[list[int]] = []
    if kind == "simple":
        keep = np.flatnonzero((group <= time) & (time <= group + max_e))
        if keep.size == 0:
            raise ValueError("aggregate: no post-treatment ATT(g,t) within max_e")
        est, c = combine(keep)
        return Aggregation(kind, [], np.zeros(0), np.zeros((ncl, 0)), est, c, [keep.tolist()], min_e, max_e, balance_e)
    if kind == "group":
        for _j, gv in enumerate(cohorts):
            idx = np.flatnonzero((group == gv) & (gv <= time) & (time <= group + max_e))
            if idx.size == 0:
                continue
            est, c = combine(idx, with_wif=False)  # shares are equal within a cohort
            labels.append(float(gv))
            ests.append(est)
            cons.append(c)
            used.append(idx.tolist())
        if not ests:
            raise ValueError("aggregate: no cohort has post-treatment ATT(g,t) within max_e")
        gl = np.searchsorted(cohorts, np.array(labels)).astype(np.intp)
        pgg = pg[gl]
        wts = pgg / pgg.sum()
        est_arr = np.array(ests)
        con = np.column_stack(cons)
        overall = float(est_arr @ wts)
        # wif over cohorts: centred terms by cohort
        centred = (A[:, gl] - N[:, None] * pgg[None, :]) / n_ids
        s = pgg.sum()
        wif = centred / s - centred.sum(axis=1, keepdims=True) * (pgg / s**2)[None, :]
        oc = con @ wts + wif @ est_arr
        return Aggregation(kind, labels, est_arr, con, overall, oc, used, min_e, max_e, balance_e)
    if kind == "dynamic":
        include = np.ones(att.size, dtype=bool)
        eseq = np.unique(e)
        if balance_e is not None:
            if balance_e < 0:
                raise ValueError(f"aggregate: balance_e={balance_e} must be >= 0")
            include = (times.max() - group) >= balance_e
            eseq = np.unique(e[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - times.max() + min(times.min(), group.min()))]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if eseq.size == 0:
            raise ValueError("aggregate: no event time within min_e/max_e (and balance_e)")
        for ev in eseq:
            idx = np.flatnonzero((e == ev) & include)
            est, c = combine(idx)
            labels.append(float(ev))
            ests.append(est)
            cons.append(c)
            used.append(idx.tolist())
        est_arr = np.array(ests)
        con = np.column_stack(cons)
        pos = eseq >= 0
        if not pos.any():
            overall, oc = float("nan"), np.full(ncl, np.nan)
        else:
            overall = float(est_arr[pos].mean())
            oc = con[:, pos].mean(axis=1)
        return Aggregation(kind, labels, est_arr, con, overall, oc, used, min_e, max_e, balance_e)
    # calendar
    for tv in times[times >= group.min()]:
        idx = np.flatnonzero((time == tv) & (group <= time))
        if idx.size == 0:
            continue
        est, c = combine(idx)
        labels.append(float(tv))
        ests.append(est)
        cons.append(c)
        used.append(idx.tolist())
    if not ests:
        raise ValueError("aggregate: no calendar period with post-treatment ATT(g,t)")
    est_arr = np.array(ests)
    con = np.column_stack(cons)
    return Aggregation(kind, labels, est_arr, con, float(est_arr.mean()), con.mean(axis=1), used, min_e, max_e,
                       balance_e)
