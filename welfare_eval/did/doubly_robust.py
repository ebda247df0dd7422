"""Doubly robust DiD (Sant'Anna & Zhao 2020, the "traditional" locally efficient estimators).

Panel data (:func:`drdid_panel`) and repeated cross-sections (:func:`drdid_rc`). Panel version:

For units observed before and after (``ΔY = Y_post - Y_pre``), covariates ``X`` taken at baseline
(an intercept is added), survey weights ``w`` normalised to mean 1::

    p(X)   logistic regression of D on X (weighted ML)
    μ0(X)  weighted least squares of ΔY on X among comparison units
    w1 = w D,   w0 = w p(X)(1 - D)/(1 - p(X))
    ATT = Σ w1 (ΔY - μ0) / Σ w1  -  Σ w0 (ΔY - μ0) / Σ w0

Comparison units with ``p(X) ≥ trim`` (default 0.995) get ``w0 = 0`` (as R ``DRDID`` ≥ 1.2).
The influence function includes the estimation effect of ``p`` and ``μ0``; standard errors:
``if`` = ``sd(IF)/sqrt(n)`` (R ``DRDID::drdid_panel``), and ``cr1`` = cluster sums of the influence
function by pair (or ``cluster``), ``G/(G-1)`` factor, t with ``G - 1`` df.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._results import ResultBase

__all__ = ["DRDiDResult", "dr_did", "drdid_panel", "drdid_rc"]


def _logit(d: np.ndarray, x: np.ndarray, w: np.ndarray, *, maxiter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton–Raphson; returns (coefficients, fitted probabilities)."""
    beta = np.zeros(x.shape[1])
    for _ in range(maxiter):
        eta = np.clip(x @ beta, -35, 35)
        p = 1.0 / (1.0 + np.exp(-eta))
        grad = x.T @ (w * (d - p))
        hess = (x * (w * p * (1 - p))[:, None]).T @ x
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(beta))):
            break
    else:  # pragma: no cover - separation or non-convergence
        raise ValueError("propensity score model did not converge (perfect separation by the covariates?)")
    eta = np.clip(x @ beta, -35, 35)
    return beta, 1.0 / (1.0 + np.exp(-eta))


def drdid_panel(y1: np.ndarray, y0: np.ndarray, d: np.ndarray, x: np.ndarray | None = None,
                w: np.ndarray | None = None, *, trim: float = 0.995) -> tuple[float, np.ndarray]:
    """ATT and its influence function (length n) for panel data; ``x`` without intercept column."""
    n = y1.size
    dy = np.asarray(y1, dtype=float) - np.asarray(y0, dtype=float)
    d = np.asarray(d, dtype=float)
    ones = np.ones((n, 1))
    x = ones if x is None or np.size(x) == 0 else np.column_stack([ones, np.asarray(x, dtype=float)])
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    w = w / w.mean()
    _, ps = _logit(d, x, w)
    ps = np.minimum(ps, 1 - 1e-6)
    keep = (d == 1) | (ps < trim)
    # outcome regression among comparison units
    wc = w * (1 - d)
    xtwx = (x * wc[:, None]).T @ x
    gamma = np.linalg.solve(xtwx, (x * wc[:, None]).T @ dy)
    mu0 = x @ gamma
    w1 = w * d
    w0 = w * ps * (1 - d) / (1 - ps) * keep
    r = dy - mu0
    eta1 = np.mean(w1 * r) / np.mean(w1)
    eta0 = np.mean(w0 * r) / np.mean(w0)
    att = eta1 - eta0
    # influence function
    lin_ols = (wc * r)[:, None] * x @ np.linalg.inv(xtwx / n)  # n × k
    hess_ps = np.linalg.inv((x * (w * ps * (1 - ps))[:, None]).T @ x) * n
    lin_ps = (w * (d - ps))[:, None] * x @ hess_ps
    m1 = np.mean(w1[:, None] * x, axis=0)
    inf_t = (w1 * r - w1 * eta1 - lin_ols @ m1) / np.mean(w1)
    m2 = np.mean((w0 * (r - eta0))[:, None] * x, axis=0)
    m3 = np.mean(w0[:, None] * x, axis=0)
    inf_c = (w0 * r - w0 * eta0 + lin_ps @ m2 - lin_ols @ m3) / np.mean(w0)
    return float(att), inf_t - inf_c


def drdid_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, x: np.ndarray | None = None,
             w: np.ndarray | None = None, *, trim: float = 0.995) -> tuple[float, np.ndarray]:
    """Locally efficient DR DiD for repeated cross-sections (Sant'Anna & Zhao 2020, τ^{dr,rc}_2).

    Four weighted OLS outcome regressions (comparison/pilot × pre/post) and a logit propensity score::

        ATT = (τ_t,post − τ_t,pre) − (τ_c,post − τ_c,pre) + (τ_d,post − τ_dt1) − (τ_d,pre − τ_dt0)

    each ``τ`` a weighted mean (ratio of means) of residuals ``y − μ_c,period(X)`` or of fitted contrasts
    ``μ_t,s − μ_c,s``; comparison weights ``w p/(1 − p)``. The influence function is the exact
    linearisation: for each ratio ``R = mean(a)/mean(b)``, ``(a − R b)/mean(b)`` plus the gradient of
    ``R`` in the nuisance parameters times their influence functions (OLS: ``(X'VX/n)^{-1} v x e``;
    logit: ``(X'diag(w p(1−p))X/n)^{-1} w (D − p) x``). Returns (ATT, influence function).
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(post, dtype=float)
    d = np.asarray(d, dtype=float)
    n = y.size
    ones = np.ones((n, 1))
    x = ones if x is None or np.size(x) == 0 else np.column_stack([ones, np.asarray(x, dtype=float)])
    k = x.shape[1]
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    w = w / w.mean()
    _, ps = _logit(d, x, w)
    ps = np.minimum(ps, 1 - 1e-6)
    keep = ((d == 1) | (ps < trim)).astype(float)
    odds = ps / (1 - ps)
    # outcome regressions and their influence functions (n × k each)
    groups = {"c0": (d == 0) & (t == 0), "c1": (d == 0) & (t == 1), "t0": (d == 1) & (t == 0),
              "t1": (d == 1) & (t == 1)}
    mu: dict[str, np.ndarray] = {}
    inf_gamma: dict[str, np.ndarray] = {}
    for key, mask in groups.items():
        v = w * mask
        xtvx = (x * v[:, None]).T @ x
        gam = np.linalg.solve(xtvx, (x * v[:, None]).T @ y)
        mu[key] = x @ gam
        inf_gamma[key] = (v * (y - mu[key]))[:, None] * x @ np.linalg.inv(xtvx / n)
    inf_beta = (w * (d - ps))[:, None] * x @ np.linalg.inv((x * (w * ps * (1 - ps))[:, None]).T @ x / n)
    mu_c = t * mu["c1"] + (1 - t) * mu["c0"]
    r = y - mu_c
    w_tpre, w_tpost = w * d * (1 - t), w * d * t
    w_cpre = w * odds * (1 - d) * (1 - t) * keep
    w_cpost = w * odds * (1 - d) * t * keep
    w_d, w_dt1, w_dt0 = w * d, w * d * t, w * d * (1 - t)
    zero = np.zeros((n, k))

    def ratio(a: np.ndarray, b: np.ndarray, da: dict[str, np.ndarray], db: dict[str, np.ndarray]) -> tuple[
        float, np.ndarray
    ]:
        """R = mean(a)/mean(b) and its influence function; da/db: per-observation gradients (n × k)."""
        mb = float(np.mean(b))
        rr = float(np.mean(a)) / mb
        inf = (a - rr * b) / mb
        for key in set(da) | set(db):
            grad = (np.mean(da.get(key, zero), axis=0) - rr * np.mean(db.get(key, zero), axis=0)) / mb
            inf = inf + (inf_beta if key == "ps" else inf_gamma[key]) @ grad
        return rr, inf

    xc0, xc1 = (1 - t)[:, None] * x, t[:, None] * x  # ∂μ_c/∂γ_c0, ∂μ_c/∂γ_c1
    terms = []
    for wk in (w_tpost, w_tpre):
        terms.append(ratio(wk * r, wk, {"c0": -wk[:, None] * xc0, "c1": -wk[:, None] * xc1}, {}))
    for wk in (w_cpost, w_cpre):
        # ∂(w p/(1-p))/∂β = w p/(1-p) x
        terms.append(ratio(wk * r, wk, {"ps": (wk * r)[:, None] * x, "c0": -wk[:, None] * xc0,
                                        "c1": -wk[:, None] * xc1}, {"ps": wk[:, None] * x}))
    fit_post = mu["t1"] - mu["c1"]
    fit_pre = mu["t0"] - mu["c0"]
    for wk, fitted, (kt, kc) in ((w_d, fit_post, ("t1", "c1")), (w_dt1, fit_post, ("t1", "c1")),
                                 (w_d, fit_pre, ("t0", "c0")), (w_dt0, fit_pre, ("t0", "c0"))):
        terms.append(ratio(wk * fitted, wk, {kt: wk[:, None] * x, kc: -wk[:, None] * x}, {}))
    signs = np.array([1, -1, -1, 1, 1, -1, -1, 1], dtype=float)
    att = float(sum(sg * tv for sg, (tv, _) in zip(signs, terms, strict=True)))
    inf = sum(sg * ti for sg, (_, ti) in zip(signs, terms, strict=True))
    return att, np.asarray(inf)


class DRDiDResult(ResultBase):
    """Doubly robust DiD estimate with influence-function and cluster-robust standard errors."""

    title = "Doubly robust DiD (Sant'Anna & Zhao 2020)"

    def __init__(self, table: pd.DataFrame, influence: np.ndarray, notes: list[str]) -> None:
        self._table = table
        self.influence_function = influence
        self._notes = notes

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def notes(self) -> list[str]:
        return list(self._notes)


def dr_did(data: pd.DataFrame, *, outcome: str, treated: str, post: str, unit: str | None = None,
           covariates: Sequence[str] | None = None, pair: str | None = None, weights: str | None = None,
           cluster: str | None = None, null: float = 0.0, level: float = 0.95, trim: float = 0.995) -> DRDiDResult:
    """Doubly robust DiD on a two-period panel (``unit`` given) or repeated cross-sections (``unit=None``).

    Panel: long format, one row per unit × period; covariates and weights from the pre-period row; every
    unit must appear exactly once in each period (checked). Repeated cross-sections: one row per
    observation, covariates of the row (:func:`drdid_rc`). Clusters: ``cluster``, else ``pair``; without
    either only the ``if`` standard error is reported.
    """
    covariates = list(covariates or [])
    cols = list(dict.fromkeys([outcome, treated, post, *([unit] if unit else []), *covariates,
                               *[c for c in (pair, weights, cluster) if c is not None]]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"data has no column(s) {missing}")
    df = data[cols]
    if df.isna().any().any():
        raise ValueError("missing values in the columns used; drop them explicitly")
    pv = pd.to_numeric(df[post], errors="coerce")
    if not pv.isin([0, 1]).all():
        raise ValueError(f"{post!r} must be 0/1 (two periods)")
    if unit is not None:
        counts = df.groupby([unit, post]).size().unstack(fill_value=0)
        bad = counts.index[(counts.reindex(columns=[0, 1], fill_value=0) != 1).any(axis=1)]
        if len(bad):
            raise ValueError(f"unit(s) {list(bad[:5])} not observed exactly once before and once after")
        pre = df[pv == 0].set_index(unit).sort_index()
        postd = df[pv == 1].set_index(unit).sort_index()
    else:
        pre = df
    d = pd.to_numeric(pre[treated]).to_numpy(dtype=float)
    if not np.isin(d, (0.0, 1.0)).all() or np.ptp(d) == 0:
        raise ValueError(f"{treated!r} must be 0/1 with both groups present")
    w = None
    if weights is not None:
        w = pre[weights].to_numpy(dtype=float)
        if not np.isfinite(w).all() or (w <= 0).any():
            raise ValueError(f"weights {weights!r} must be finite and > 0")
    x = pre[covariates].to_numpy(dtype=float) if covariates else None
    if unit is not None:
        att, inf = drdid_panel(postd[outcome].to_numpy(dtype=float), pre[outcome].to_numpy(dtype=float), d, x,
                               w, trim=trim)
    else:
        cells = pd.crosstab(pre[treated], pv)
        if cells.shape != (2, 2) or (cells.to_numpy() < 2).any():
            raise ValueError("repeated cross-sections need pilot and comparison observations before and after")
        att, inf = drdid_rc(pre[outcome].to_numpy(dtype=float), pv.to_numpy(dtype=float), d, x, w, trim=trim)
    n = inf.size
    rows: list[dict[str, Any]] = []
    se_if = float(np.std(inf, ddof=1) / np.sqrt(n))
    z = stats.norm.ppf(0.5 + level / 2)
    stat = (att - null) / se_if
    rows.append({"term": "ATT", "method": "if", "estimate": att, "std_error": se_if, "df": np.inf,
                 "statistic": stat, "p_value": 2 * stats.norm.sf(abs(stat)), "ci_low": att - z * se_if,
                 "ci_high": att + z * se_if, "n_obs": n, "n_clusters": np.nan})
    cl_col = cluster if cluster is not None else pair
    if cl_col is not None:
        codes = pd.factorize(pre[cl_col].astype(str), sort=True)[0]
        g = codes.max() + 1
        if g < 2:
            raise ValueError("fewer than 2 clusters")
        sums = np.bincount(codes, weights=inf, minlength=g)
        se = float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / n)
        q = stats.t.ppf(0.5 + level / 2, g - 1)
        stat = (att - null) / se
        rows.append({"term": "ATT", "method": "cr1", "estimate": att, "std_error": se, "df": float(g - 1),
                     "statistic": stat, "p_value": 2 * stats.t.sf(abs(stat), g - 1), "ci_low": att - q * se,
                     "ci_high": att + q * se, "n_obs": n, "n_clusters": g})
    kind = "panel units; covariates at baseline" if unit is not None else "observations (repeated cross-sections)"
    notes = [f"{n} {kind}; covariates: {covariates or 'none'}; comparison units with p(X) ≥ {trim} get zero weight"]
    return DRDiDResult(pd.DataFrame(rows), inf, notes)
