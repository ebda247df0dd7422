"""Several survey waves: per-wave weights, panel attrition adjustment, change between waves.

The waves are stacked in one :class:`~welfare_eval.survey.design.Design` (one row per household ×
wave, same strata and PSU columns, each row with its own wave weight). The change in a mean between two
waves is then a contrast of two domain means whose covariance comes from the shared PSUs: the
influence values of both waves are summed within each village before the variance is taken, so the
positive covariance of repeated measurements in the same villages reduces the variance of the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from welfare_eval.survey.design import Design, DesignError
from welfare_eval.survey.results import SurveyEstimate
from welfare_eval.survey.variance import t_quantile
from welfare_eval.survey.weighting import adjust_nonresponse

__all__ = ["adjust_attrition", "change"]


def adjust_attrition(
    design: Design,
    retained: str,
    *,
    classes: str | Sequence[str] | None = None,
    propensity: str | None = None,
    n_classes: int | None = 5,
) -> Design:
    """Attrition adjustment for panel households: ``retained`` = 1 if re-interviewed.

    Apply it to the design of the later wave restricted to the baseline panel households (the
    weights of attritors go to zero, the retained households carry their class's weight). Same
    methods as :func:`~welfare_eval.survey.weighting.adjust_nonresponse`.
    """
    return adjust_nonresponse(
        design, retained, classes=classes, propensity=propensity, n_classes=n_classes, name="attrition"
    )


def change(
    design: Design,
    var: str,
    *,
    wave: str,
    start: Any,
    end: Any,
    by: str | Sequence[str] | None = None,
    statistic: str = "mean",
    na_rm: bool = False,
    level: float = 0.95,
) -> SurveyEstimate:
    """Change of the mean (or total) of ``var`` from wave ``start`` to wave ``end``, with its SE.

    Returns one row per ``by`` domain: the estimate ``theta_end - theta_start`` and its standard error
    from ``var_end + var_start - 2 cov`` computed on the stacked design (shared PSUs).
    """
    if wave not in design.data.columns:
        raise DesignError(f"wave column {wave!r} is not in the design data")
    levels = set(design.data[wave].unique())
    for lv in (start, end):
        if lv not in levels:
            raise DesignError(f"wave {lv!r} is not a value of {wave!r} (values: {sorted(map(str, levels))})")
    keys = [wave] + ([] if by is None else ([by] if isinstance(by, str) else list(by)))
    if statistic == "mean":
        est = design.mean(var, by=keys, na_rm=na_rm, level=level)
    elif statistic == "total":
        est = design.total(var, by=keys, na_rm=na_rm, level=level)
    else:
        raise DesignError(f"statistic={statistic!r}: use 'mean' or 'total'")
    tab = est.table
    rest = [
        c
        for c in tab.columns
        if c not in (wave, "estimate", "std_error", "df", "ci_low", "ci_high", "deff", "n")
    ]
    rows: list[dict[str, Any]] = []
    C: list[np.ndarray] = []
    for key, grp in tab.groupby(rest, sort=False):
        ia = grp.index[grp[wave] == start]
        ib = grp.index[grp[wave] == end]
        if len(ia) != 1 or len(ib) != 1:
            continue
        c = np.zeros(len(tab))
        c[ia[0]], c[ib[0]] = -1.0, 1.0
        C.append(c)
        tup = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(rest, tup, strict=True)), "from": start, "to": end})
    if not C:
        raise DesignError(f"no domain has both waves {start!r} and {end!r}")
    Cm = np.vstack(C)
    delta = Cm @ tab["estimate"].to_numpy(dtype=float)
    vc = Cm @ est.vcov @ Cm.T
    se = np.sqrt(np.clip(np.diag(vc), 0, None))
    dfv = float(tab["df"].iloc[0])
    tq = t_quantile(level, dfv)
    var_a = np.array([est.vcov[np.argmax(c < 0), np.argmax(c < 0)] for c in C])
    var_b = np.array([est.vcov[np.argmax(c > 0), np.argmax(c > 0)] for c in C])
    cov_ab = np.array([est.vcov[np.argmax(c < 0), np.argmax(c > 0)] for c in C])
    out = pd.DataFrame(rows)
    out["estimate"] = delta
    out["std_error"] = se
    out["df"] = dfv
    out["ci_low"] = delta - tq * se
    out["ci_high"] = delta + tq * se
    out["deff"] = np.nan
    out["cov_between_waves"] = cov_ab
    with np.errstate(invalid="ignore", divide="ignore"):
        out["corr_between_waves"] = cov_ab / np.sqrt(var_a * var_b)
    return SurveyEstimate(
        out,
        vc,
        statistic=f"change in {statistic}",
        method=est.method,
        level=level,
        extra_notes=["variance of the change includes the covariance between waves (shared PSUs)"],
    )
