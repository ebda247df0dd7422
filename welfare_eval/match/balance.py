"""Covariate balance diagnostics: means, SDs, standardized mean differences, variance ratios, KS.

Definitions (every number in the table can be recomputed from these lines)
--------------------------------------------------------------------------
For covariate ``x``, treated group ``t`` and control group ``c``, with (optional) weights ``w``:

* ``mean_treated``, ``mean_control``: weighted means ``sum(w x) / sum(w)``;
* ``sd_treated``, ``sd_control``: square roots of the unbiased reliability-weighted variances
  ``sum(v (x - m)^2) / (1 - sum(v^2))`` with ``v = w / sum(w)`` (plain sample SDs, ``n - 1``,
  when unweighted);
* ``sd_pooled = sqrt((sd_treated^2 + sd_control^2) / 2)``, computed **in the sample being tabulated**
  (the matched sample's own SDs after matching, not the pre-matching SDs);
* ``smd = (mean_treated - mean_control) / sd_pooled`` for *every* covariate, binary ones included
  (column ``type`` says which are binary; for them the sample variance is ``n/(n-1) p(1-p)``);
* ``variance_ratio = sd_treated^2 / sd_control^2``;
* ``ks``: weighted two-sample Kolmogorov–Smirnov statistic ``max |F_t - F_c|``;
* flags ``smd_gt_0_1`` / ``smd_gt_0_25``: ``|smd| > 0.1`` / ``|smd| > 0.25``.

Missing covariate values are left out covariate by covariate; ``n_treated``/``n_control`` count the
values actually used, so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from welfare_eval.match._stats import wks, wmean, wvar

__all__ = ["BALANCE_COLUMNS", "balance_table"]

#: Columns of :func:`balance_table`, in order.
BALANCE_COLUMNS: tuple[str, ...] = (
    "type",
    "n_treated",
    "n_control",
    "mean_treated",
    "mean_control",
    "sd_treated",
    "sd_control",
    "sd_pooled",
    "mean_diff",
    "smd",
    "variance_ratio",
    "ks",
    "smd_gt_0_1",
    "smd_gt_0_25",
)


def _treat_vector(data: pd.DataFrame, treat: str) -> npt.NDArray[np.int64]:
    if treat not in data.columns:
        raise ValueError(f"treatment column {treat!r} is not in the data; columns are {list(data.columns)}")
    t = pd.to_numeric(data[treat], errors="coerce")
    if t.isna().any():
        raise ValueError(f"treatment column {treat!r} has {int(t.isna().sum())} missing/non-numeric value(s)")
    bad = ~t.isin([0, 1])
    if bad.any():
        raise ValueError(f"treatment column {treat!r} must be 0/1; found {t[bad].iloc[0]!r}")
    tv = t.to_numpy(dtype=np.int64)
    if tv.sum() == 0 or tv.sum() == len(tv):
        raise ValueError(f"treatment column {treat!r} needs both treated (1) and control (0) rows")
    return tv


def _weight_vector(
    data: pd.DataFrame, weights: str | Sequence[float] | npt.ArrayLike | None
) -> npt.NDArray[np.float64]:
    if weights is None:
        return np.ones(len(data))
    if isinstance(weights, str):
        if weights not in data.columns:
            raise ValueError(f"weights column {weights!r} is not in the data")
        w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)
        name = f"weights column {weights!r}"
    else:
        w = np.asarray(weights, dtype=float)
        name = "weights"
        if w.shape != (len(data),):
            raise ValueError(f"weights has length {w.size}; it must have one value per row ({len(data)})")
    if np.isnan(w).any() or (w < 0).any() or np.isinf(w).any():
        raise ValueError(
            f"{name} must be finite and non-negative (found missing, negative or infinite values)"
        )
    return w


def _is_binary(x: pd.Series) -> bool:
    vals = {float(v) for v in pd.unique(x.dropna())}
    return len(vals) <= 2 and vals <= {0.0, 1.0}


def balance_table(
    data: pd.DataFrame,
    *,
    treat: str,
    covariates: Sequence[str],
    weights: str | npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Balance of covariates between treated and control rows.

    Parameters
    ----------
    data : DataFrame
        One row per unit (village).
    treat : str
        0/1 column, 1 = treated (pilot).
    covariates : sequence of str
        Numeric (or 0/1) columns.
    weights : str, array-like or None
        Survey and/or matching weights (column name or one value per row). The convention for
        weighted SDs and KS is given in the module docstring.

    Returns
    -------
    DataFrame
        Indexed by ``covariate``, columns :data:`BALANCE_COLUMNS`.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [1, 1, 0, 0, 0], "x": [1.0, 3.0, 0.0, 1.0, 2.0]})
    >>> b = balance_table(d, treat="t", covariates=["x"])
    >>> float(round(b.loc["x", "smd"], 6))  # (2 - 1) / sqrt((2 + 1) / 2)
    0.816497
    """
    covariates = list(covariates)
    if not covariates:
        raise ValueError("covariates= is empty; give at least one covariate")
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise ValueError(f"covariate column(s) {missing} are not in the data")
    t = _treat_vector(data, treat)
    w = _weight_vector(data, weights)
    rows: list[dict[str, Any]] = []
    for cov in covariates:
        col = data[cov]
        if col.dtype == bool:
            col = col.astype(float)
        x = pd.to_numeric(col, errors="coerce")
        if (x.isna() & col.notna()).any():
            raise ValueError(
                f"covariate {cov!r} is not numeric (first bad value {col[x.isna() & col.notna()].iloc[0]!r})"
            )
        xv = x.to_numpy(dtype=float)
        ok = ~np.isnan(xv)
        mt, mc = ok & (t == 1), ok & (t == 0)
        row: dict[str, Any] = {
            "covariate": cov,
            "type": "binary" if _is_binary(x) else "continuous",
            "n_treated": int(mt.sum()),
            "n_control": int(mc.sum()),
        }
        if mt.sum() == 0 or mc.sum() == 0 or w[mt].sum() == 0 or w[mc].sum() == 0:
            row.update(dict.fromkeys(BALANCE_COLUMNS[3:12], np.nan))
        else:
            m_t, m_c = wmean(xv[mt], w[mt]), wmean(xv[mc], w[mc])
            v_t, v_c = wvar(xv[mt], w[mt]), wvar(xv[mc], w[mc])
            sd_p = np.sqrt((v_t + v_c) / 2.0)
            row.update(
                mean_treated=m_t,
                mean_control=m_c,
                sd_treated=np.sqrt(v_t),
                sd_control=np.sqrt(v_c),
                sd_pooled=sd_p,
                mean_diff=m_t - m_c,
                smd=(m_t - m_c) / sd_p if sd_p > 0 else (0.0 if m_t == m_c else np.nan),
                variance_ratio=v_t / v_c if v_c > 0 else np.nan,
                ks=wks(xv[mt], w[mt], xv[mc], w[mc]),
            )
        rows.append(row)
    out = pd.DataFrame(rows).set_index("covariate")
    absd = out["smd"].abs()
    out["smd_gt_0_1"] = absd > 0.1
    out["smd_gt_0_25"] = absd > 0.25
    return out[list(BALANCE_COLUMNS)]
