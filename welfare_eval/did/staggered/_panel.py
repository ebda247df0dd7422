"""Validated long panel for the regression-based estimators (TWFE/Bacon, Sun–Abraham, imputation)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._data import _check_missing, _cohort_codes, _constant_within, _numeric

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass
class LongPanel:
    y: FloatArray
    unit: IntArray  # codes
    t_idx: IntArray
    times: FloatArray
    g: FloatArray  # 0 = never treated (within the data)
    w: FloatArray
    cluster: IntArray
    x: FloatArray | None
    unit_labels: npt.NDArray[np.object_]
    notes: list[str]
    weighted: bool

    @property
    def n_units(self) -> int:
        return int(self.unit_labels.size)

    def balanced(self) -> bool:
        counts = np.bincount(self.unit * self.times.size + self.t_idx, minlength=self.n_units * self.times.size)
        return bool((counts == 1).all())


def long_panel(data: pd.DataFrame, *, who: str, outcome: str, unit: str, time: str, cohort: str,
               weights: str | None = None, cluster: str | None = None, covariates: Sequence[str] = (),
               anticipation: int = 0, drop_always_treated: bool = True) -> LongPanel:
    cols = list(dict.fromkeys([outcome, unit, time, cohort, *covariates,
                               *[c for c in (weights, cluster) if c is not None]]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"{who}: column(s) {missing} not in the data")
    df = data[cols].reset_index(drop=True)
    _check_missing(df, [c for c in cols if c != cohort], "the data")
    y = _numeric(df, outcome, "outcome")
    t_raw = _numeric(df, time, "time")
    times = np.unique(t_raw)
    if times.size < 2:
        raise ValueError(f"{who}: time column {time!r} has fewer than 2 periods")
    g_raw = _numeric(df, cohort, "cohort")
    ukey = df[unit].to_numpy()
    _constant_within(ukey, np.where(np.isnan(g_raw), 0.0, g_raw), f"cohort {cohort!r}", "unit")
    if cluster is not None and cluster != unit:
        _constant_within(ukey, df[cluster].to_numpy(), f"cluster {cluster!r}", "unit")
    if pd.DataFrame({"u": ukey, "t": t_raw}).duplicated().any():
        raise ValueError(f"{who}: more than one row for a unit and period; one row per unit × period")
    notes: list[str] = []
    g = _cohort_codes(g_raw, times, anticipation, notes, np.ones(len(df), dtype=bool), "rows")
    w = np.ones(len(df)) if weights is None else _numeric(df, weights, "weights")
    if not np.isfinite(w).all() or (w <= 0).any():
        raise ValueError(f"{who}: weights {weights!r} must be finite and > 0")
    keep = np.ones(len(df), dtype=bool)
    if drop_always_treated:
        early = (g > 0) & (g <= times.min() + anticipation)
        if early.any():
            msg = (f"dropped {pd.Series(ukey[early]).nunique()} unit(s) treated in or before the first period "
                   f"{times.min():g}: no untreated period")
            warnings.warn(msg, UserWarning, stacklevel=3)
            notes.append(msg)
            keep = ~early
    x = np.column_stack([_numeric(df, c, "covariate") for c in covariates]) if covariates else None
    ucodes, ulabels = pd.factorize(pd.Series(ukey[keep]), sort=True)
    clab = df[cluster].to_numpy()[keep] if cluster is not None else ukey[keep]
    ccodes, _ = pd.factorize(pd.Series(clab), sort=True)
    t_k = t_raw[keep]
    times = np.unique(t_k)
    return LongPanel(y=y[keep], unit=ucodes.astype(np.intp), t_idx=np.searchsorted(times, t_k).astype(np.intp),
                     times=times, g=g[keep], w=w[keep], cluster=ccodes.astype(np.intp),
                     x=x[keep] if x is not None else None, unit_labels=np.asarray(ulabels, dtype=object),
                     notes=notes, weighted=weights is not None)
