"""Weighted descriptive statistics used by the balance diagnostics (hand-written, formulas cited).

Weighting conventions
---------------------
With weights ``w_i >= 0`` (all 1 when unweighted) and normalised weights ``v_i = w_i / sum(w)``:

* mean: ``m = sum(v_i x_i)``;
* variance: ``sum(v_i (x_i - m)^2) / (1 - sum(v_i^2))`` — the unbiased estimator for *reliability*
  weights; it equals the ordinary sample variance (``n - 1`` denominator) when all weights are equal
  and does not change when the weights are rescaled. This is the convention of R ``cobalt``
  (``col_w_sd``) and of ``Hmisc::wtd.var(normwt = FALSE, method = "unbiased")`` up to scale;
* empirical CDF: ``F(a) = sum(v_i [x_i <= a])``; the Kolmogorov–Smirnov statistic is
  ``max_a |F_t(a) - F_c(a)|`` over the pooled support (for a 0/1 variable this is ``|p_t - p_c|``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

__all__ = ["wks", "wmean", "wvar"]


def _norm(w: FloatArray) -> FloatArray:
    s = float(w.sum())
    if not s > 0:
        raise ValueError("weights sum to zero in a treatment group")
    return w / s


def wmean(x: FloatArray, w: FloatArray) -> float:
    """Weighted mean ``sum(w x) / sum(w)``."""
    return float(np.dot(_norm(w), x))


def wvar(x: FloatArray, w: FloatArray) -> float:
    """Unbiased reliability-weighted variance (sample variance when weights are equal); NaN if n_eff <= 1."""
    v = _norm(w)
    m = float(np.dot(v, x))
    denom = 1.0 - float(np.dot(v, v))
    if denom <= 1e-14:
        return float("nan")
    return float(np.dot(v, (x - m) ** 2) / denom)


def wks(xt: FloatArray, wt: FloatArray, xc: FloatArray, wc: FloatArray) -> float:
    """Weighted two-sample Kolmogorov–Smirnov statistic ``max |F_t - F_c|``."""
    grid = np.unique(np.concatenate([xt, xc]))
    vt, vc = _norm(wt), _norm(wc)
    ot, oc = np.argsort(xt, kind="mergesort"), np.argsort(xc, kind="mergesort")
    cum_t = np.concatenate([[0.0], np.cumsum(vt[ot])])
    cum_c = np.concatenate([[0.0], np.cumsum(vc[oc])])
    ft = cum_t[np.searchsorted(xt[ot], grid, side="right")]
    fc = cum_c[np.searchsorted(xc[oc], grid, side="right")]
    return float(np.max(np.abs(ft - fc)))
