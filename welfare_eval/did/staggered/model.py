"""Group-time average treatment effects with staggered adoption (Callaway & Sant'Anna 2021): :func:`att_gt`.

For each treated cohort ``g`` (first period treated) and period ``t``, ``ATT(g, t)`` is a 2×2 DiD between
cohort ``g`` and a comparison group — never-treated units (``control="never"``) or units not yet treated by
``max(t, b) + anticipation`` (``"not_yet"``) — between ``t`` and a base period ``b``: the last period before
``g − anticipation`` for post-treatment cells; for pre-treatment cells ``t − 1`` (``base_period="varying"``)
or that same last pre period (``"universal"``, whose own cell is the reference, 0 by construction).
Each 2×2 is estimated by outcome regression, standardised IPW or the doubly robust estimator of Sant'Anna &
Zhao (2020) (``method``), exactly as R ``did`` 2.x (``att_gt`` → ``DRDID``), with its influence function.

Three kinds of input
--------------------
* **panel** (``panel=True``, default when ``unit`` is given): one row per unit × period, every unit in every
  period (a balanced panel; an unbalanced one is refused with the unit and period named — use
  ``panel=False``). Covariates are taken in the earlier period of each 2×2, weights must be constant within
  unit. Clusters: ``cluster`` (constant within unit) or the unit.
* **repeated cross-sections** (``panel=False``): each row an observation of its period (R ``did``'s
  ``panel=FALSE``); with ``unit`` given, rows of a unit are one cluster (R's ``allow_unbalanced_panel``
  estimator, for unbalanced panels). ``cluster`` may be coarser (e.g. households clustered by village).
* **cells** (``cells=True``): the weighted cell moments of :mod:`welfare_eval.did.cells` (one row per
  ``unit × time``, e.g. village × year, with ``n_rows``, ``sum_w``, ``sum_w__<y>``, ...). The result is the
  repeated-cross-sections estimator on the rows the cells summarise (households within village-years,
  their weights ``w`` — which may change from year to year — clustered by ``cluster``, default ``unit``),
  to rounding error, with the same cluster-robust variance for clusters made of whole units (village or
  coarser). Possible on cells: no covariates or covariates constant within cells (any ``method``); row-level
  covariates with ``method="reg"`` (linear outcome regression needs only first and second moments).
  IPW and DR with row-level covariates need the rows, and are refused.

Conventions: ``cohort`` 0 or missing = never treated; cohorts after the last period (plus anticipation) are
never treated within the data (R ``did`` does the same); units treated in or before the first period (plus
anticipation) have no pre-period and are dropped — with a warning and a line in ``notes()``. Missing values
in the columns used, a cohort that changes within a unit, or a 2×2 without comparison observations are
errors naming the row, unit or cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..._blas import single_blas_thread
from ..doubly_robust import drdid_panel, drdid_rc
from . import _twobytwo as tbt
from ._data import (
    FloatArray,
    _Cell,
    _prepare,
    _Prepared,
)
from .bootstrap import BootstrapDraws
from .results import ATTgtResult

__all__ = ["att_gt"]

_METHODS = ("dr", "reg", "ipw")
_CONTROLS = ("never", "not_yet")
_BASES = ("varying", "universal")


# --------------------------------------------------------------------------------------------------------
# the group-time loop
# --------------------------------------------------------------------------------------------------------
def _cell_plan(prep: _Prepared, base_period: str, anticipation: int) -> list[tuple[float, int, int, bool]]:
    """(cohort, current period index, base period index, reference cell?) in R did's order."""
    times = prep.times
    plan = []
    first = 1 if base_period == "varying" else 0
    for gv in prep.cohorts:
        pre_idx = np.flatnonzero(times + anticipation < gv)
        pret_g = int(pre_idx[-1])
        for ti in range(first, times.size):
            base = ti - 1 if base_period == "varying" else pret_g
            if gv <= times[ti]:
                base = pret_g
            plan.append((float(gv), ti, base, base_period == "universal" and base == ti))
    return plan


def _estimate_cell(prep: _Prepared, gv: float, ti: int, base: int, *, control: str, anticipation: int,
                   method: str, trim: float) -> tuple[float, FloatArray, float, int]:
    """ATT(g, t), cluster contributions (G), n_obs, n_clusters of the 2×2 sample."""
    times = prep.times
    threshold = times[max(ti, base)] + anticipation
    g = prep.g
    treat = g == gv
    if control == "never":
        comp = g == 0
    else:
        comp = (g == 0) | ((g > threshold) & (g != gv))
    cell = f"ATT(g={gv:g}, t={times[ti]:g}) (base period {times[base]:g})"
    G = prep.n_clusters
    if prep.mode == "panel":
        assert prep.Y is not None
        keep = treat | comp
        if not comp.any():
            raise ValueError(f"att_gt: no {'never' if control == 'never' else 'never- or not-yet'}-treated comparison "
                             f"units left for {cell}")
        dy = prep.Y[keep, ti] - prep.Y[keep, base]
        d = treat[keep].astype(float)
        w = prep.w[keep]
        x = prep.x[keep, min(ti, base)] if prep.x is not None else None
        att, psi = _call(method, "panel", dy=dy, d=d, x=x, w=w, trim=trim, cell=cell)
        n1 = int(keep.sum())
        contrib = np.bincount(prep.cl[keep], weights=psi / n1, minlength=G).astype(float)
        return att, contrib, float(n1), int(np.count_nonzero(np.bincount(prep.cl[keep], minlength=G)))
    in_t = (prep.t_idx == ti) | (prep.t_idx == base)
    keep = in_t & (treat | comp)
    post = (prep.t_idx[keep] == ti).astype(float)
    d = treat[keep].astype(float)
    w = prep.w[keep]
    for dv, pv, what in ((1, 1, "treated"), (1, 0, "treated"), (0, 1, "comparison"), (0, 0, "comparison")):
        if not (((d == dv) & (post == pv) & (w > 0)).any()):
            period = times[ti] if pv else times[base]
            kind = "units of cohort" if dv else ("never-treated" if control == "never" else "never- or not-yet-treated")
            raise ValueError(f"att_gt: no {kind}{f' {gv:g}' if dv else ''} {'observations' if dv else 'comparison observations'} "
                             f"in period {period:g} for {cell} ({what} side is empty)")
    n_obs = float(prep.n_rows[keep].sum()) if prep.mode == "cells" and prep.n_rows is not None else float(keep.sum())
    cl = prep.cl[keep]
    if prep.moments is not None:
        mom = prep.moments
        try:
            att, contrib = tbt.reg_rc_moments(sw=w, swx=mom["swx"][keep], swxx=mom["swxx"][keep],
                                              swxy=mom["swxy"][keep], d=d, post=post, cluster=cl, n_clusters=G)
        except np.linalg.LinAlgError as e:
            raise ValueError(f"att_gt: {e} for {cell}") from None
        return att, contrib, n_obs, int(np.count_nonzero(np.bincount(cl, minlength=G)))
    x = prep.x[keep] if prep.x is not None else None
    att, psi = _call(method, "rc", y=prep.y[keep], post=post, d=d, x=x, w=w, trim=trim, cell=cell)
    contrib = np.bincount(cl, weights=psi / psi.size, minlength=G).astype(float)
    return att, contrib, n_obs, int(np.count_nonzero(np.bincount(cl, minlength=G)))


def _call(method: str, kind: str, *, cell: str, trim: float, **kw: Any) -> tuple[float, FloatArray]:
    try:
        if kind == "panel":
            if method == "reg":
                return tbt.reg_panel(kw["dy"], kw["d"], kw["x"], kw["w"])
            if method == "ipw":
                return tbt.ipw_panel(kw["dy"], kw["d"], kw["x"], kw["w"], trim=trim)
            att, psi = drdid_panel(kw["dy"], np.zeros_like(kw["dy"]), kw["d"], kw["x"], kw["w"], trim=trim)
            return att, psi
        if method == "reg":
            return tbt.reg_rc(kw["y"], kw["post"], kw["d"], kw["x"], kw["w"])
        if method == "ipw":
            return tbt.ipw_rc(kw["y"], kw["post"], kw["d"], kw["x"], kw["w"], trim=trim)
        return drdid_rc(kw["y"], kw["post"], kw["d"], kw["x"], kw["w"], trim=trim)
    except np.linalg.LinAlgError as e:
        raise ValueError(f"att_gt: singular 2×2 estimation for {cell}: {e}") from None
    except ValueError as e:
        raise ValueError(f"att_gt: {e} for {cell}") from None


def _estimate_all(prep: _Prepared, plan: list[tuple[float, int, int, bool]], rows: list[_Cell],
                  contribs: FloatArray, *, control: str, anticipation: int, method: str, trim: float) -> None:
    for k, (gv, ti, base, ref) in enumerate(plan):
        post = bool(gv <= prep.times[ti])
        if ref:
            rows.append(_Cell(gv, float(prep.times[ti]), float(prep.times[base]), post, 0.0, np.nan, 0))
            continue
        att, contrib, n_obs, n_cl = _estimate_cell(prep, gv, ti, base, control=control, anticipation=anticipation,
                                                  method=method, trim=trim)
        contribs[:, k] = contrib
        rows.append(_Cell(gv, float(prep.times[ti]), float(prep.times[base]), post, att, n_obs, n_cl))


def att_gt(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str,
    cohort: str,
    control: str = "never",
    covariates: Sequence[str] | None = None,
    method: str = "dr",
    weights: str | None = None,
    cluster: str | None = None,
    anticipation: int = 0,
    base_period: str = "varying",
    panel: bool | None = None,
    cells: bool = False,
    level: float = 0.95,
    std_errors: str = "analytic",
    draws: int = 999,
    multiplier: str = "rademacher",
    seed: int = 0,
    trim: float = 0.995,
) -> Any:
    """Group-time average treatment effects ATT(g, t) (Callaway & Sant'Anna 2021); see the module docstring.

    Parameters
    ----------
    data
        Long data (one row per unit × period, or per observation), or the cell table (``cells=True``).
    outcome, unit, time, cohort
        Columns: outcome; unit id (``None`` for pure repeated cross-sections); numeric period; first treated
        period (0 or missing = never treated).
    control
        ``"never"`` (never-treated units) or ``"not_yet"`` (never- and not-yet-treated units).
    covariates
        Covariate columns (panel: taken in the earlier period of each 2×2). With ``cells=True``: a column of
        that name in the cells is a cell-constant covariate; otherwise its moments (``sum_w__x``, ...) are used.
    method
        ``"dr"`` (doubly robust, default), ``"reg"`` (outcome regression) or ``"ipw"`` (standardised IPW).
    weights
        Sampling weights (rows; not with ``cells=True``, whose weights are ``sum_w``).
    cluster
        Cluster column (constant within unit); default the unit (rows without ``unit``: each row).
    anticipation
        Periods of anticipation ``δ``: the base period of cohort ``g`` is the last one before ``g − δ``.
    base_period
        ``"varying"`` (pre-period cells compare consecutive periods) or ``"universal"``.
    panel
        Balanced-panel estimator (default when ``unit`` is given and ``cells=False``), else repeated
        cross-sections.
    cells
        ``data`` is a cell table of :func:`welfare_eval.did.cells.reduce_cells` keyed by ``unit × time``.
    level, std_errors, draws, multiplier, seed
        Confidence level; ``"analytic"`` (influence function, default) or ``"bootstrap"`` (IQR of the
        multiplier bootstrap, as R ``did``) standard errors; bootstrap draws, ``"rademacher"`` or
        ``"mammen"`` multipliers and seed, used for the uniform sup-t bands (and the bootstrap SEs).
    trim
        Comparison units with propensity score ≥ ``trim`` get zero weight (IPW, DR), as R ``DRDID``.

    Returns
    -------
    ATTgtResult
        ``tidy()``, ``aggregate()``, ``pretrend_test()``, ``plot()``, ``vcov()``, ``influence()``, ``notes()``.
    """
    if control not in _CONTROLS:
        raise ValueError(f"att_gt: control={control!r}; use 'never' or 'not_yet'")
    if method not in _METHODS:
        raise ValueError(f"att_gt: method={method!r}; use 'dr', 'reg' or 'ipw'")
    if base_period not in _BASES:
        raise ValueError(f"att_gt: base_period={base_period!r}; use 'varying' or 'universal'")
    if std_errors not in ("analytic", "bootstrap"):
        raise ValueError(f"att_gt: std_errors={std_errors!r}; use 'analytic' or 'bootstrap'")
    if not (isinstance(anticipation, (int, np.integer)) and anticipation >= 0):
        raise ValueError(f"att_gt: anticipation={anticipation!r} must be a non-negative integer")
    if not 0 < level < 1:
        raise ValueError(f"att_gt: level={level} must be in (0, 1)")
    covs = list(covariates or [])
    if cells:
        if weights is not None:
            raise ValueError("att_gt(cells=True): weights are already in the cells (sum_w); drop weights=")
        if panel:
            raise ValueError("att_gt(cells=True) is the repeated cross-sections estimator; drop panel=True")
        use_panel = False
    else:
        use_panel = (unit is not None) if panel is None else bool(panel)
    prep = _prepare(data, outcome=outcome, unit=unit, time=time, cohort=cohort, covariates=covs, weights=weights,
                    cluster=cluster, anticipation=int(anticipation), control=control, panel=use_panel, cells=cells,
                    method=method)
    plan = _cell_plan(prep, base_period, int(anticipation))
    rows: list[_Cell] = []
    contribs = np.zeros((prep.n_clusters, len(plan)))
    with single_blas_thread():  # tall-and-thin regressions: one BLAS thread is faster
        _estimate_all(prep, plan, rows, contribs, control=control, anticipation=int(anticipation), method=method,
                      trim=trim)
    mode_note = {"panel": "balanced panel", "rc": "repeated cross-sections",
                 "cells": "cells (repeated cross-sections of the rows they summarise)"}[prep.mode]
    settings = {"outcome": outcome, "control": control, "method": method, "base_period": base_period,
                "anticipation": int(anticipation), "covariates": covs, "mode": prep.mode, "mode_label": mode_note,
                "cluster": cluster if cluster is not None else unit}
    return ATTgtResult(cells=rows, contrib=contribs, prep=prep, settings=settings, level=level,
                       std_errors=std_errors, boot=BootstrapDraws(draws=draws, seed=seed, kind=multiplier))
