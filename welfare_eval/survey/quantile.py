"""Survey quantiles with Woodruff (1952) confidence intervals, following R ``svyquantile`` (survey 4.1).

Estimate: the "math" rule, the smallest sample value whose weighted CDF reaches ``q``. Interval
(``interval.type = "mean"``): the t-based Wald interval ``[p_L, p_U]`` of the estimated proportion
``F̂(q̂) = mean(y <= q̂)`` is mapped back through the quantile rule; SE = (upper − lower) / (2 t).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from welfare_eval.survey.results import SurveyEstimate

if TYPE_CHECKING:
    from welfare_eval.survey.design import Design

__all__ = ["qrule_math", "woodruff"]


def qrule_math(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """Weighted quantile, "math" rule of R ``survey`` (``qrule_math``): inverse of the weighted CDF.

    The smallest ``x`` whose weighted CDF is >= ``p``. (When ``p`` is below the first cumulative
    weight R 4.1.1 returns the second smallest value; here the smallest, as the rule defines.)
    """
    keep = w != 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    xs, cw = x[order], np.cumsum(w[order])
    total = cw[-1]
    below = np.flatnonzero(cw <= p * total)
    if not below.size:
        return float(xs[0])
    pos = int(below[-1])
    nxt = pos if pos == len(xs) - 1 else pos + 1
    wlow = p - cw[pos] / total
    return float(xs[pos] if wlow == 0 else xs[nxt])


def woodruff(
    design: Design,
    var: str,
    q: float | Sequence[float],
    by: str | Sequence[str] | None,
    *,
    na_rm: bool,
    level: float,
    df: float | None,
) -> SurveyEstimate:
    """Quantiles ``q`` of ``var`` with Woodruff intervals (see module docstring)."""
    from welfare_eval.survey.design import DesignError, _tquant

    qs = [float(q)] if isinstance(q, int | float) else [float(v) for v in q]
    if any(not 0 < v < 1 for v in qs):
        raise DesignError(f"quantile: q must lie strictly between 0 and 1, got {qs}")
    Y, terms, na = design._analysis_matrix(var)
    if Y.shape[1] != 1:
        raise DesignError(f"quantile: {var!r} must be numeric")
    ok = design._na_check(na, na_rm, f"variable {var!r}")
    y = Y[:, 0]
    labels, masks = design._domains(by)
    dfv = design.df if df is None else df
    tq = _tquant(level, dfv)
    rows: list[dict[str, Any]] = []
    ests, ses, lows, highs = [], [], [], []
    w = design.weights
    for lab, m in zip(labels, masks, strict=True):
        dom = m & ok
        wd = np.where(dom, w, 0.0)
        for p in qs:
            qhat = qrule_math(y[dom], w[dom], p)
            ind = (design.data[var].to_numpy(dtype=float, na_value=np.nan) <= qhat) & dom
            sub = design.subset_rows(dom)
            pm = sub._mean_array(ind.astype(float))
            pl, pu = pm[0] - tq * pm[1], pm[0] + tq * pm[1]
            lo = qrule_math(y[dom], w[dom], pl) if 0 <= pl <= 1 else float("nan")
            hi = qrule_math(y[dom], w[dom], pu) if 0 <= pu <= 1 else float("nan")
            rows.append({**lab, "term": f"{terms[0]}@q{p:g}", "q": p, "n": int(np.count_nonzero(wd))})
            ests.append(qhat)
            lows.append(lo)
            highs.append(hi)
            ses.append((hi - lo) / (2 * tq))
    table_rows = []
    for r, e, s, lo, hi in zip(rows, ests, ses, lows, highs, strict=True):
        table_rows.append(
            {**r, "estimate": e, "std_error": s, "df": dfv, "ci_low": lo, "ci_high": hi, "deff": float("nan")}
        )
    import pandas as pd

    tab = pd.DataFrame(table_rows)
    vcov = np.diag(np.square(np.asarray(ses, dtype=float)))
    return SurveyEstimate(
        tab,
        vcov,
        statistic="quantile",
        method=design.variance_method,
        level=level,
        extra_notes=[
            "Woodruff interval (R svyquantile interval.type='mean', qrule='math'); vcov diagonal only"
        ],
    )
