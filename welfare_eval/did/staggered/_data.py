"""Input preparation of :func:`~welfare_eval.did.staggered.att_gt`: checked arrays of units, periods, cohorts,
weights and clusters from row-level data or cells, and the record of one group-time cell."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..cells import moment_name

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass
class _Prepared:
    """Validated data in the form the 2×2 loop needs (one of three modes)."""

    mode: str  # "panel" | "rc" | "cells"
    times: FloatArray
    cohorts: FloatArray
    cluster_labels: npt.NDArray[Any]
    notes: list[str]
    # panel: per unit; rc: per row; cells: per cell
    g: FloatArray = field(default_factory=lambda: np.zeros(0))
    w: FloatArray = field(default_factory=lambda: np.zeros(0))
    cl: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    t_idx: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    y: FloatArray = field(default_factory=lambda: np.zeros(0))  # rc/cells: per row (cells: cell mean)
    x: FloatArray | None = None  # rc/cells(constant): (n, p); panel: (n_units, T, p)
    Y: FloatArray | None = None  # panel: (n_units, T)
    n_rows: FloatArray | None = None  # cells: rows per cell
    moments: dict[str, FloatArray] | None = None  # cells with row-level covariates (method="reg")
    # aggregation bookkeeping (R did's pg and its influence function), by cluster
    id_weight_by_cohort: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))  # G × n_cohorts
    id_count: FloatArray = field(default_factory=lambda: np.zeros(0))  # G
    n_ids: float = 0.0

    @property
    def n_clusters(self) -> int:
        return int(self.cluster_labels.size)


def _numeric(df: pd.DataFrame, col: str, what: str) -> FloatArray:
    s = df[col]
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        conv = pd.to_numeric(s, errors="coerce")
        bad = conv.isna() & s.notna()
        if bad.any():
            raise ValueError(f"{what} column {col!r} must be numeric (row {df.index[bad.to_numpy()][0]!r}: "
                             f"{s[bad].iloc[0]!r})")
        s = conv
    return s.to_numpy(dtype=float, na_value=np.nan)


def _check_missing(df: pd.DataFrame, cols: Sequence[str], where: str) -> None:
    for c in cols:
        na = df[c].isna().to_numpy()
        if na.any():
            i = df.index[na][0]
            raise ValueError(f"att_gt: column {c!r} is missing in {int(na.sum())} row(s) of {where} (first: row "
                             f"{i!r}); drop or impute them explicitly before estimating")


def _cohort_codes(g_raw: FloatArray, times: FloatArray, anticipation: int, notes: list[str],
                  keep: npt.NDArray[np.bool_], label: str) -> FloatArray:
    """Never treated = 0; cohorts after the last period (+ anticipation) recoded to 0 (noted)."""
    g = np.where(np.isnan(g_raw), 0.0, g_raw)
    if (g < 0).any():
        raise ValueError(f"att_gt: cohort values must be 0/missing (never treated) or the first treated period; "
                         f"found {g[g < 0][0]:g}")
    late = (g > times.max() + anticipation)
    if late.any():
        vals = sorted(set(g[late].tolist()))
        notes.append(f"cohort(s) {', '.join(f'{v:g}' for v in vals)} first treated after the last period "
                     f"{times.max():g} (+ anticipation {anticipation}): treated as never treated within the data "
                     f"({int(late[keep].sum())} {label})")
        g = np.where(late, 0.0, g)
    return g


def _constant_within(keys: npt.NDArray[Any], values: npt.NDArray[Any], what: str, key_name: str) -> None:
    frame = pd.DataFrame({"k": keys, "v": values})
    nun = frame.groupby("k", sort=False)["v"].nunique(dropna=False)
    if (nun > 1).any():
        k = nun.index[(nun > 1).to_numpy()][0]
        vals = sorted(set(frame.loc[frame["k"] == k, "v"].tolist()), key=str)
        raise ValueError(f"att_gt: {what} changes over time within {key_name} {k!r} (values {vals[:4]}); it must "
                         "be constant within each unit")


def _cluster_codes(labels: npt.NDArray[Any]) -> tuple[IntArray, npt.NDArray[Any]]:
    codes, uniq = pd.factorize(pd.Series(labels), sort=True)
    return codes.astype(np.intp), np.asarray(uniq)


def _prepare(data: pd.DataFrame, *, outcome: str, unit: str | None, time: str, cohort: str,
             covariates: list[str], weights: str | None, cluster: str | None, anticipation: int,
             control: str, panel: bool, cells: bool, method: str) -> _Prepared:
    if not isinstance(data, pd.DataFrame):
        raise ValueError("att_gt: data must be a pandas DataFrame")
    notes: list[str] = []
    if cells:
        needed = [time, cohort, "n_rows", moment_name(), moment_name(outcome)]
        needed += [c for c in (unit, cluster) if c is not None]
    else:
        needed = [outcome, time, cohort, *covariates]
        needed += [c for c in (unit, weights, cluster) if c is not None]
    needed = list(dict.fromkeys(needed))
    missing = [c for c in needed if c not in data.columns]
    if missing:
        hint = " (cells need the columns of welfare_eval.did.cells.reduce_cells)" if cells else ""
        raise ValueError(f"att_gt: column(s) {missing} not in the data{hint}")
    df = data.reset_index(drop=True)
    nonmissing = [c for c in needed if c != cohort]
    _check_missing(df, nonmissing, "the data")
    t_raw = _numeric(df, time, "time")
    times = np.unique(t_raw)
    if times.size < 2:
        raise ValueError(f"att_gt: time column {time!r} has fewer than 2 periods")
    g_raw = _numeric(df, cohort, "cohort")
    if cells:
        return _prepare_cells(df, outcome=outcome, unit=unit, time=time, cohort=cohort, covariates=covariates,
                              cluster=cluster, anticipation=anticipation, control=control, method=method,
                              t_raw=t_raw, times=times, g_raw=g_raw, notes=notes)
    y = _numeric(df, outcome, "outcome")
    if not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ValueError(f"att_gt: outcome {outcome!r} is not finite in row {i}")
    w = np.ones(len(df)) if weights is None else _numeric(df, weights, "weights")
    if not np.isfinite(w).all() or (w < 0).any():
        i = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise ValueError(f"att_gt: weights {weights!r} must be finite and non-negative (row {i}: {w[i]})")
    x = np.column_stack([_numeric(df, c, "covariate") for c in covariates]) if covariates else None
    if unit is not None:
        _constant_within(df[unit].to_numpy(), np.where(np.isnan(g_raw), 0.0, g_raw), f"cohort {cohort!r}", "unit")
        if cluster is not None and cluster != unit:
            _constant_within(df[unit].to_numpy(), df[cluster].to_numpy(), f"cluster {cluster!r}", "unit")
    g_all = _cohort_codes(g_raw, times, anticipation, notes, np.ones(len(df), dtype=bool), "rows")
    # units treated in (or before) the first period have no pre-period: dropped, visibly
    early = (g_all > 0) & (g_all <= times.min() + anticipation)
    if early.any():
        n_early = int(pd.Series(df[unit].to_numpy()[early]).nunique()) if unit is not None else int(early.sum())
        vals = sorted(set(g_all[early].tolist()))
        msg = (f"dropped {n_early} {'unit' if unit is not None else 'row'}(s) of cohort(s) "
               f"{', '.join(f'{v:g}' for v in vals)}, treated in or before the first period {times.min():g}"
               + (f" (+ anticipation {anticipation})" if anticipation else "") + ": no pre-treatment period")
        warnings.warn(msg, UserWarning, stacklevel=3)
        notes.append(msg)
        keep = ~early
        df, y, w, g_all, t_raw = df[keep].reset_index(drop=True), y[keep], w[keep], g_all[keep], t_raw[keep]
        x = x[keep] if x is not None else None
        times = np.unique(t_raw)
    g_all, t_raw, times, keep_rows = _no_never_treated(g_all, t_raw, times, anticipation, control, notes)
    if keep_rows is not None:
        df, y, w = df[keep_rows].reset_index(drop=True), y[keep_rows], w[keep_rows]  # g_all, t_raw: already
        x = x[keep_rows] if x is not None else None
    t_idx = np.searchsorted(times, t_raw).astype(np.intp)
    cohorts = _treated_cohorts(g_all, times, anticipation)
    if panel:
        if unit is None:
            raise ValueError("att_gt: panel=True needs unit=; pass panel=False for repeated cross-sections")
        ukey = df[unit].to_numpy()
        codes, ulabels = pd.factorize(pd.Series(ukey), sort=True)
        n_u, n_t = ulabels.size, times.size
        counts = np.zeros((n_u, n_t), dtype=np.int64)
        np.add.at(counts, (codes, t_idx), 1)
        if (counts > 1).any():
            u, t = np.argwhere(counts > 1)[0]
            raise ValueError(f"att_gt: unit {ulabels[u]!r} has {counts[u, t]} rows in period {times[t]:g}; a panel "
                             "needs one row per unit and period")
        if (counts == 0).any():
            u, t = np.argwhere(counts == 0)[0]
            n_bad = int((counts == 0).any(axis=1).sum())
            raise ValueError(f"att_gt: unbalanced panel: unit {ulabels[u]!r} has no row in period {times[t]:g} "
                             f"({n_bad} unit(s) miss a period); use panel=False (repeated cross-sections clustered "
                             "by unit, R did's allow_unbalanced_panel) or balance the panel explicitly")
        Y = np.zeros((n_u, n_t))
        Y[codes, t_idx] = y
        g_u = np.zeros(n_u)
        g_u[codes] = g_all
        wmin = np.full(n_u, np.inf)
        wmax = np.full(n_u, -np.inf)
        np.minimum.at(wmin, codes, w)
        np.maximum.at(wmax, codes, w)
        if weights is not None and (wmax - wmin > 1e-10 * np.maximum(1.0, np.abs(wmax))).any():
            u = int(np.flatnonzero(wmax - wmin > 1e-10 * np.maximum(1.0, np.abs(wmax)))[0])
            raise ValueError(f"att_gt: weights {weights!r} vary over time within unit {ulabels[u]!r}; the panel "
                             "estimator needs one weight per unit (use panel=False for weights by period)")
        X = None
        if x is not None:
            X = np.zeros((n_u, n_t, x.shape[1]))
            X[codes, t_idx] = x
        clab = df[cluster].to_numpy() if cluster is not None else ukey
        cl_u = np.empty(n_u, dtype=object)
        cl_u[codes] = clab
        cl, labels = _cluster_codes(cl_u)
        prep = _Prepared(mode="panel", times=times, cohorts=cohorts, cluster_labels=labels, notes=notes, g=g_u,
                         w=wmax, cl=cl, Y=Y, x=X)
        _bookkeeping(prep, g_u, wmax, cl, np.ones(n_u))
        return prep
    # repeated cross-sections (rows), clusters: cluster column, else unit, else each row
    if cluster is not None:
        clab = df[cluster].to_numpy()
    elif unit is not None:
        clab = df[unit].to_numpy()
    else:
        clab = np.arange(len(df))
    cl, labels = _cluster_codes(clab)
    prep = _Prepared(mode="rc", times=times, cohorts=cohorts, cluster_labels=labels, notes=notes, g=g_all, w=w,
                     cl=cl, t_idx=t_idx, y=y, x=x)
    if unit is not None:  # ids are units: R aggregates the rows of a unit (mean weight) for the cohort shares
        dup = pd.DataFrame({"u": df[unit].to_numpy(), "t": t_idx}).duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise ValueError(f"att_gt: unit {df[unit].iloc[i]!r} has more than one row in period {times[t_idx[i]]:g}; "
                             "unit= names a unit observed at most once per period (unbalanced panel). For "
                             "repeated cross-sections within groups (households within villages) pass unit=None "
                             "and cluster=<group column>")
        ucodes, _ = pd.factorize(pd.Series(df[unit].to_numpy()), sort=True)
        n_u = int(ucodes.max()) + 1
        cnt = np.bincount(ucodes, minlength=n_u).astype(float)
        w_u = np.bincount(ucodes, weights=w, minlength=n_u).astype(float) / cnt
        g_u = np.zeros(n_u)
        g_u[ucodes] = g_all
        cl_u = np.zeros(n_u, dtype=np.intp)
        cl_u[ucodes] = cl
        _bookkeeping(prep, g_u, w_u, cl_u, np.ones(n_u))
    else:
        _bookkeeping(prep, g_all, w, cl, np.ones(len(df)))
    return prep


def _no_never_treated(g: FloatArray, t: FloatArray, times: FloatArray, anticipation: int, control: str,
                      notes: list[str]) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_] | None]:
    if (g == 0).any():
        return g, t, times, None
    if control == "never":
        raise ValueError("att_gt: no never-treated units (cohort 0 or missing) are left for control='never'; use "
                         "control='not_yet' or recode a late cohort as never treated explicitly")
    latest = float(g.max())
    cutoff = latest - anticipation
    keep = t < cutoff
    notes.append(f"no never-treated units: periods from {cutoff:g} on have no not-yet-treated comparison units and "
                 f"were dropped, and cohort {latest:g} serves only as comparison (as R did)")
    t2 = t[keep]
    return g[keep], t2, np.unique(t2), keep


def _treated_cohorts(g: FloatArray, times: FloatArray, anticipation: int) -> FloatArray:
    cohorts = np.unique(g[g > 0])
    cohorts = cohorts[cohorts > times.min() + anticipation]
    if not (g == 0).any():
        cohorts = cohorts[cohorts < cohorts.max()] if cohorts.size else cohorts
    if cohorts.size == 0:
        raise ValueError("att_gt: no treated cohort with a pre-treatment period in the data")
    return cohorts


def _bookkeeping(prep: _Prepared, g_id: FloatArray, w_id: FloatArray, cl_id: IntArray, n_id: FloatArray) -> None:
    """Per cluster: Σ weight of the ids of each cohort, and the number of ids (R did's ``pg`` and ``wif``)."""
    G = prep.n_clusters
    A = np.zeros((G, prep.cohorts.size))
    for j, gv in enumerate(prep.cohorts):
        A[:, j] = np.bincount(cl_id, weights=w_id * (g_id == gv), minlength=G).astype(float)
    prep.id_weight_by_cohort = A
    prep.id_count = np.bincount(cl_id, weights=n_id, minlength=G).astype(float)
    prep.n_ids = float(n_id.sum())


def _prepare_cells(df: pd.DataFrame, *, outcome: str, unit: str | None, time: str, cohort: str,
                   covariates: list[str], cluster: str | None, anticipation: int, control: str, method: str,
                   t_raw: FloatArray, times: FloatArray, g_raw: FloatArray, notes: list[str]) -> _Prepared:
    if unit is None:
        raise ValueError("att_gt(cells=True) needs unit= (the cells' unit key, e.g. the village)")
    ukey = df[unit].to_numpy()
    dup = pd.DataFrame({"u": ukey, "t": t_raw}).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(f"att_gt(cells=True): more than one cell for {unit}={ukey[i]!r}, {time}={t_raw[i]:g}; "
                         "the cells must be keyed by unit × time")
    _constant_within(ukey, np.where(np.isnan(g_raw), 0.0, g_raw), f"cohort {cohort!r}", "unit")
    if cluster is not None and cluster != unit:
        _constant_within(ukey, df[cluster].to_numpy(), f"cluster {cluster!r}", "unit")
    sw = _numeric(df, moment_name(), "cell")
    n_rows = _numeric(df, "n_rows", "cell")
    if (sw < 0).any() or (n_rows < 0).any():
        raise ValueError("att_gt(cells=True): negative sum_w or n_rows in the cells")
    swy = _numeric(df, moment_name(outcome), "cell")
    # covariates: a column of that name = constant within the cell (carried); else moments
    const_cov: list[FloatArray] = []
    row_level: list[str] = []
    carried: dict[str, FloatArray] = {}
    for c in covariates:
        if c in df.columns:
            carried[c] = _numeric(df, c, "covariate")
            const_cov.append(carried[c])
            continue
        m1, m2 = moment_name(c), moment_name(c, c)
        if m1 not in df.columns or m2 not in df.columns:
            raise ValueError(f"att_gt(cells=True): covariate {c!r} is neither a cell column nor reduced "
                             f"({m1!r}, {m2!r} missing); reduce it with the outcome")
        s1, s2 = _numeric(df, m1, "cell"), _numeric(df, m2, "cell")
        mean = np.divide(s1, sw, out=np.zeros_like(s1), where=sw > 0)
        within = s2 - sw * mean**2  # Σ w (x − x̄)² within the cell
        if np.all(np.abs(within) <= 1e-9 * np.maximum(1.0, s2)):
            const_cov.append(mean)
        else:
            row_level.append(c)
    if row_level and method != "reg":
        raise ValueError(f"att_gt(cells=True): covariate(s) {row_level} vary within cells; method={method!r} "
                         "needs the rows (a propensity score of row-level covariates does not reduce to cell "
                         "moments). Use method='reg', covariates constant within cells, or the rows")
    g_all = _cohort_codes(g_raw, times, anticipation, notes, np.ones(len(df), dtype=bool), "cells")
    early = (g_all > 0) & (g_all <= times.min() + anticipation)
    keep = ~early
    if early.any():
        n_units = int(pd.Series(ukey[early]).nunique())
        msg = (f"dropped {n_units} unit(s) ({int(n_rows[early].sum())} rows) of cohort(s) "
               f"{', '.join(f'{v:g}' for v in sorted(set(g_all[early].tolist())))}, treated in or before the first "
               f"period {times.min():g}" + (f" (+ anticipation {anticipation})" if anticipation else "")
               + ": no pre-treatment period")
        warnings.warn(msg, UserWarning, stacklevel=3)
        notes.append(msg)
    times = np.unique(t_raw[keep])
    g2, t2, times, keep2 = _no_never_treated(g_all[keep], t_raw[keep], times, anticipation, control, notes)
    sel = np.flatnonzero(keep)
    if keep2 is not None:
        sel = sel[keep2]
    df = df.iloc[sel].reset_index(drop=True)
    sw, n_rows, swy, g_all, t_raw = sw[sel], n_rows[sel], swy[sel], g2, t2
    const_cov = [c[sel] for c in const_cov]
    cohorts = _treated_cohorts(g_all, times, anticipation)
    t_idx = np.searchsorted(times, t_raw).astype(np.intp)
    clab = df[cluster if cluster is not None else unit].to_numpy()
    cl, labels = _cluster_codes(clab)
    ybar = np.divide(swy, sw, out=np.zeros_like(swy), where=sw > 0)
    prep = _Prepared(mode="cells", times=times, cohorts=cohorts, cluster_labels=labels, notes=notes, g=g_all, w=sw,
                     cl=cl, t_idx=t_idx, y=ybar, n_rows=n_rows,
                     x=np.column_stack(const_cov) if const_cov else None)
    if row_level:  # linear outcome regression from first and second moments (all covariates)
        sel_df = df
        k = len(covariates) + 1

        def first(a: str) -> FloatArray:  # Σw·a
            return carried[a][sel] * sw if a in carried else _numeric(sel_df, moment_name(a), "cell")

        def second(a: str, b: str) -> FloatArray:  # Σw·a·b (b may be the outcome)
            if a in carried and b in carried:
                return carried[a][sel] * carried[b][sel] * sw
            if a in carried:
                return carried[a][sel] * (swy if b == outcome else first(b))
            if b in carried:
                return carried[b][sel] * first(a)
            return _moment(sel_df, a, b)

        swx = np.column_stack([sw, *[first(c) for c in covariates]])
        swxy = np.column_stack([swy, *[second(c, outcome) for c in covariates]])
        swxx = np.zeros((len(df), k, k))
        swxx[:, 0, 0] = sw
        for a, ca in enumerate(covariates, start=1):
            swxx[:, 0, a] = swxx[:, a, 0] = swx[:, a]
            for b, cb in enumerate(covariates, start=1):
                if b >= a:
                    swxx[:, a, b] = swxx[:, b, a] = second(ca, cb)
        prep.moments = {"swx": swx, "swxx": swxx, "swxy": swxy}
        prep.x = None
    _bookkeeping(prep, g_all, sw, cl, n_rows)
    return prep


def _moment(df: pd.DataFrame, a: str, b: str) -> FloatArray:
    for name in (moment_name(a, b), moment_name(b, a)):
        if name in df.columns:
            return _numeric(df, name, "cell")
    raise ValueError(f"att_gt(cells=True): cell column {moment_name(a, b)!r} is missing (reduce the outcome and "
                     "the covariates together)")


@dataclass
class _Cell:
    cohort: float
    time: float
    base: float
    post: bool
    estimate: float
    n_obs: float
    n_clusters: int
