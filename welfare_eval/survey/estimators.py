"""Design-based means, totals, proportions and ratios (R ``svymean``, ``svytotal``, ``svyciprop``, ``svyratio``).

Each estimator forms the weighted influence values ``z`` of its estimate within every domain and asks
the design for their covariance (:meth:`Design.vcov <welfare_eval.survey.Design.vcov>`: Taylor
linearisation after the weighting steps, or the replicates). Domains are subpopulations inside the full
design (never subsetting). ``deff`` is R's: the design variance over the SRS variance
``s^2_w (N̂ - n) / (N̂ n)``. The functions are the implementation of the ``Design`` methods of the same
name (``d.mean(...)`` is ``svymean(d, ...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from welfare_eval.survey.results import SurveyEstimate
from welfare_eval.survey.variance import (
    DesignError,
    SurveyDesign,
    srs_factor,
    t_quantile,
    weighted_variance,
)

__all__ = ["svymean", "svyproportion", "svyratio", "svytotal"]


def svymean(
    design: SurveyDesign,
    var: str | Sequence[str],
    by: str | Sequence[str] | None = None,
    *,
    na_rm: bool = False,
    level: float = 0.95,
    deff: Literal["wor", "replace"] = "wor",
    df: float | None = None,
) -> SurveyEstimate:
    """Weighted mean of ``var`` (a categorical variable gives one proportion per level; R ``svymean``).

    Domains ``by`` are estimated as subpopulations: units outside the domain keep their place in
    the design with zero contribution (never subsetting). ``deff`` follows R's ``svymean(...,
    deff=TRUE)``: the design variance over ``s^2_w (N̂ - n) / (N̂ n)`` with the ``n/(n-1)``
    weighted variance ``s^2_w`` (``deff="replace"`` drops the ``(N̂-n)/N̂`` factor). ``df``
    defaults to the design df of the whole design (#PSU − #strata) for every domain.

    Returns
    -------
    SurveyEstimate
        One row per domain and term: the ``by`` columns, ``term``, ``n``, ``estimate``,
        ``std_error``, ``df``, ``ci_low``, ``ci_high``, ``deff``; ``vcov`` across all rows.
    """
    return _linear(design, "mean", var, by, na_rm=na_rm, level=level, deff=deff, df=df)


def svytotal(
    design: SurveyDesign,
    var: str | Sequence[str],
    by: str | Sequence[str] | None = None,
    *,
    na_rm: bool = False,
    level: float = 0.95,
    deff: Literal["wor", "replace"] = "wor",
    df: float | None = None,
) -> SurveyEstimate:
    """Weighted (Horvitz-Thompson / calibrated) total of ``var``, optionally by domain (R ``svytotal``).

    Same arguments and table as :func:`svymean`.
    """
    return _linear(design, "total", var, by, na_rm=na_rm, level=level, deff=deff, df=df)


def _linear(
    design: SurveyDesign,
    kind: str,
    var: str | Sequence[str],
    by: str | Sequence[str] | None,
    *,
    na_rm: bool,
    level: float,
    deff: str,
    df: float | None,
) -> SurveyEstimate:
    """Mean (``kind="mean"``) or total of ``var`` by domain: estimates, influence values, vcov."""
    Y, terms, na = design.analysis_matrix(var)
    ok = design.check_missing(na, na_rm, f"variable {var!r}")
    labels, masks = design.domains(by)
    w = design.weights
    rows: list[dict[str, Any]] = []
    zs, ests, vsrs, doms = [], [], [], []
    for lab, m in zip(labels, masks, strict=True):
        dom = (m & ok).astype(float)
        wd = w * dom
        W = wd.sum()
        if W <= 0:
            raise DesignError(f"domain {lab or 'all'} has no units with positive weight")
        nobs = float(np.count_nonzero(wd))
        svar = weighted_variance(Y, wd)
        if kind == "mean":
            e = (wd[:, None] * Y).sum(axis=0) / W
            z = wd[:, None] * (Y - e) / W
            vs = svar * srs_factor(W, nobs, deff)
        else:
            e = (wd[:, None] * Y).sum(axis=0)
            z = wd[:, None] * Y
            vs = svar * W**2 * srs_factor(W, nobs, deff)
        for t in terms:
            rows.append({**lab, "term": t, "n": int(nobs)})
        zs.append(z)
        ests.append(e)
        vsrs.append(vs)
        doms.append(dom)
    Z = np.column_stack(zs)
    est = np.concatenate(ests)

    def theta(Wr: np.ndarray) -> np.ndarray:
        out = []
        for dom in doms:
            Wd = Wr * dom[:, None]
            tot = Wd.T @ Y
            out.append(tot / Wd.sum(axis=0)[:, None] if kind == "mean" else tot)
        return np.column_stack(out)

    vcov = design.vcov(Z, theta, est)
    return _finish(design, rows, est, vcov, np.concatenate(vsrs), kind, level, df)


def svyproportion(
    design: SurveyDesign,
    var: str,
    by: str | Sequence[str] | None = None,
    *,
    na_rm: bool = False,
    level: float = 0.95,
    method: Literal["mean", "logit"] = "mean",
    df: float | None = None,
) -> SurveyEstimate:
    """Proportion in each level of ``var`` (a 0/1 or boolean variable gives the share of 1).

    ``method="mean"`` gives the Wald interval of :func:`svymean`; ``"logit"`` the interval of R's
    ``svyciprop(method="logit")``: ``expit(logit(p) ± t se / (p (1 - p)))``.
    """
    s = design.column(var)
    res = svymean(design, var, by, na_rm=na_rm, level=level, df=df)
    tab = res.table
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        vals = s.dropna().astype(float).unique()
        if not set(vals) <= {0.0, 1.0}:
            raise DesignError(
                f"proportion: {var!r} is numeric but not 0/1; use mean() or a categorical column"
            )
    if method == "logit":
        p = tab["estimate"].to_numpy(dtype=float)
        se = tab["std_error"].to_numpy(dtype=float)
        dfv = tab["df"].to_numpy(dtype=float)
        tq = stats.t.ppf(0.5 + level / 2, dfv)
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.log(p / (1 - p))
            half = tq * se / (p * (1 - p))
        tab["ci_low"] = 1 / (1 + np.exp(-(lg - half)))
        tab["ci_high"] = 1 / (1 + np.exp(-(lg + half)))
    return SurveyEstimate(tab, res.vcov, statistic="proportion", method=res.method, level=level)


def svyratio(
    design: SurveyDesign,
    num: str,
    den: str,
    by: str | Sequence[str] | None = None,
    *,
    na_rm: bool = False,
    level: float = 0.95,
    deff: Literal["wor", "replace"] = "wor",
    df: float | None = None,
) -> SurveyEstimate:
    """Ratio of two totals ``sum(w num) / sum(w den)`` (R's ``svyratio``), optionally by domain."""
    Yn, _, na1 = design.analysis_matrix(num)
    Yd, _, na2 = design.analysis_matrix(den)
    if Yn.shape[1] != 1 or Yd.shape[1] != 1:
        raise DesignError("ratio: num and den must be numeric columns")
    ok = design.check_missing(na1 | na2, na_rm, f"ratio {num}/{den}")
    yn, yd = Yn[:, 0], Yd[:, 0]
    labels, masks = design.domains(by)
    w = design.weights
    rows, zs, ests, vsrs, doms = [], [], [], [], []
    for lab, m in zip(labels, masks, strict=True):
        dom = (m & ok).astype(float)
        wd = w * dom
        W = wd.sum()
        D = (wd * yd).sum()
        if D == 0:
            raise DesignError(f"ratio: the weighted total of {den!r} is zero in domain {lab or 'all'}")
        R = (wd * yn).sum() / D
        r = dom * (yn - R * yd) / D
        z = w * r
        nobs = float(np.count_nonzero(wd))
        vs = weighted_variance(r[:, None], wd) * W**2 * srs_factor(W, nobs, deff)
        rows.append({**lab, "term": f"{num}/{den}", "n": int(nobs)})
        zs.append(z)
        ests.append(R)
        vsrs.append(vs)
        doms.append(dom)

    def theta(Wr: np.ndarray) -> np.ndarray:
        return np.column_stack([((Wr * d[:, None]).T @ yn) / ((Wr * d[:, None]).T @ yd) for d in doms])

    est = np.asarray(ests, dtype=float)
    vcov = design.vcov(np.column_stack(zs), theta, est)
    return _finish(design, rows, est, vcov, np.concatenate(vsrs), "ratio", level, df)


def _finish(
    design: SurveyDesign,
    rows: list[dict[str, Any]],
    est: np.ndarray,
    vcov: np.ndarray,
    vsrs: np.ndarray,
    statistic: str,
    level: float,
    df: float | None,
    notes: list[str] | None = None,
) -> SurveyEstimate:
    """Estimate table (estimate, std_error, df, ci_low, ci_high, deff) from estimates and their vcov."""
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    dfv = design.df if df is None else df
    tq = t_quantile(level, dfv)
    tab = pd.DataFrame(rows)
    tab["estimate"] = est
    tab["std_error"] = se
    tab["df"] = dfv
    tab["ci_low"] = est - tq * se
    tab["ci_high"] = est + tq * se
    with np.errstate(divide="ignore", invalid="ignore"):
        tab["deff"] = np.diag(vcov) / vsrs
    notes = list(notes or [])
    if not dfv > 0:
        notes.append("design df <= 0 (one PSU per stratum?): intervals undefined; collapse strata")
    if design.replicate_info is not None and np.isnan(se).any():
        notes.append(
            "SE is NaN where a domain is empty in some replicates (e.g. BRR with a domain in one PSU per stratum: use Fay or JKn)"
        )
    return SurveyEstimate(
        tab, vcov, statistic=statistic, method=design.variance_method, level=level, extra_notes=notes
    )
