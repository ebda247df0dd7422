"""The 2×2 DiD estimators behind every ATT(g, t) (Sant'Anna & Zhao 2020, as in R ``DRDID``).

Each function returns ``(att, psi)`` with ``psi`` the influence function on the estimator's own sample of
``n1`` observations, normalised like R ``DRDID`` (``att − θ ≈ mean(psi)``), so that ``psi / n1`` is each
observation's contribution to the estimation error; the caller sums those contributions by cluster.

* panel data (one row per unit, outcome change ``Y_t − Y_b``, covariates of the earlier period):
  :func:`reg_panel` (outcome regression, ``DRDID::reg_did_panel``), :func:`ipw_panel` (standardised IPW,
  ``DRDID::std_ipw_did_panel``); doubly robust: :func:`welfare_eval.did.doubly_robust.drdid_panel`;
* repeated cross-sections (one row per observation and period): :func:`reg_rc`, :func:`ipw_rc`; doubly
  robust: :func:`welfare_eval.did.doubly_robust.drdid_rc`;
* :func:`reg_rc_moments`: :func:`reg_rc` computed from weighted cell moments (Σw, Σw·y, Σw·x, Σw·xx',
  Σw·xy by cell), returning the *cluster sums* of the contributions directly: the estimator that makes
  household covariates possible on village × year cells (outcome regression is linear in those moments).

Covariate matrices passed here exclude the intercept (added inside). Weights are normalised to mean 1,
as R does (the estimates do not depend on their scale).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..doubly_robust import _logit

FloatArray = npt.NDArray[np.float64]

__all__ = ["ipw_panel", "ipw_rc", "reg_panel", "reg_rc", "reg_rc_moments"]


def _design(x: FloatArray | None, n: int) -> FloatArray:
    ones = np.ones((n, 1))
    if x is None or x.size == 0:
        return ones
    return np.column_stack([ones, np.asarray(x, dtype=float)])


def _wls(x: FloatArray, y: FloatArray, v: FloatArray, what: str) -> tuple[FloatArray, FloatArray]:
    """Weighted OLS coefficients and the (X'VX / n)^{-1} bread; refuses a singular design."""
    xtvx = (x * v[:, None]).T @ x
    if np.linalg.cond(xtvx) > 1e12:
        raise np.linalg.LinAlgError(f"singular outcome regression among {what} (collinear or constant covariates)")
    gam = np.linalg.solve(xtvx, (x * v[:, None]).T @ y)
    return np.asarray(gam, dtype=float), np.asarray(np.linalg.inv(xtvx / y.size), dtype=float)


def reg_panel(dy: FloatArray, d: FloatArray, x: FloatArray | None, w: FloatArray) -> tuple[float, FloatArray]:
    """Outcome-regression DiD on panel data (Heckman, Ichimura & Todd 1997; ``DRDID::reg_did_panel``)."""
    n = dy.size
    xx = _design(x, n)
    w = w / w.mean()
    wc = w * (1 - d)
    gam, bread = _wls(xx, dy, wc, "comparison units")
    fit = xx @ gam
    w1 = w * d
    eta_t = np.mean(w1 * dy) / np.mean(w1)
    eta_c = np.mean(w1 * fit) / np.mean(w1)
    lin_ols = (wc * (dy - fit))[:, None] * xx @ bread
    inf_t = (w1 * dy - w1 * eta_t) / np.mean(w1)
    m1 = np.mean(w1[:, None] * xx, axis=0)
    inf_c = (w1 * fit - w1 * eta_c + lin_ols @ m1) / np.mean(w1)
    return float(eta_t - eta_c), inf_t - inf_c


def _pscore(d: FloatArray, xx: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Fitted propensity score (capped below 1) and the logit's asymptotic linear representation."""
    _, ps = _logit(d, xx, w)
    ps = np.minimum(ps, 1 - 1e-6)
    hess = np.linalg.inv((xx * (w * ps * (1 - ps))[:, None]).T @ xx) * d.size
    return ps, (w * (d - ps))[:, None] * xx @ hess


def ipw_panel(dy: FloatArray, d: FloatArray, x: FloatArray | None, w: FloatArray, *,
              trim: float = 0.995) -> tuple[float, FloatArray]:
    """Standardised (Hájek) IPW DiD on panel data (Abadie 2005; ``DRDID::std_ipw_did_panel``).

    Comparison units with ``p(X) ≥ trim`` get zero weight, as in R ``DRDID``.
    """
    n = dy.size
    xx = _design(x, n)
    w = w / w.mean()
    ps, lin_ps = _pscore(d, xx, w)
    keep = np.where(d == 1, 1.0, (ps < trim).astype(float))
    w1 = keep * w * d
    w0 = keep * w * ps * (1 - d) / (1 - ps)
    eta_t = np.mean(w1 * dy) / np.mean(w1)
    eta_c = np.mean(w0 * dy) / np.mean(w0)
    inf_t = (w1 * dy - w1 * eta_t) / np.mean(w1)
    m2 = np.mean((w0 * (dy - eta_c))[:, None] * xx, axis=0)
    inf_c = (w0 * dy - w0 * eta_c + lin_ps @ m2) / np.mean(w0)
    return float(eta_t - eta_c), inf_t - inf_c


def reg_rc(y: FloatArray, post: FloatArray, d: FloatArray, x: FloatArray | None,
           w: FloatArray) -> tuple[float, FloatArray]:
    """Outcome-regression DiD on repeated cross-sections (``DRDID::reg_did_rc``)."""
    n = y.size
    xx = _design(x, n)
    w = w / w.mean()
    v_pre = w * (1 - d) * (1 - post)
    v_post = w * (1 - d) * post
    g_pre, b_pre = _wls(xx, y, v_pre, "comparison observations of the base period")
    g_post, b_post = _wls(xx, y, v_post, "comparison observations of the current period")
    f_pre, f_post = xx @ g_pre, xx @ g_post
    wt_pre, wt_post, wt = w * d * (1 - post), w * d * post, w * d
    eta_pre = np.mean(wt_pre * y) / np.mean(wt_pre)
    eta_post = np.mean(wt_post * y) / np.mean(wt_post)
    eta_c = np.mean(wt * (f_post - f_pre)) / np.mean(wt)
    att = (eta_post - eta_pre) - eta_c
    lin_pre = (v_pre * (y - f_pre))[:, None] * xx @ b_pre
    lin_post = (v_post * (y - f_post))[:, None] * xx @ b_post
    inf_t = (wt_post * (y - eta_post)) / np.mean(wt_post) - (wt_pre * (y - eta_pre)) / np.mean(wt_pre)
    m1 = np.mean(wt[:, None] * xx, axis=0)
    inf_c = (wt * (f_post - f_pre) - wt * eta_c + lin_post @ m1 - lin_pre @ m1) / np.mean(wt)
    return float(att), inf_t - inf_c


def ipw_rc(y: FloatArray, post: FloatArray, d: FloatArray, x: FloatArray | None, w: FloatArray, *,
           trim: float = 0.995) -> tuple[float, FloatArray]:
    """Standardised IPW DiD on repeated cross-sections (``DRDID::std_ipw_did_rc``)."""
    n = y.size
    xx = _design(x, n)
    w = w / w.mean()
    ps, lin_ps = _pscore(d, xx, w)
    keep = np.where(d == 1, 1.0, (ps < trim).astype(float))
    odds = ps / (1 - ps)
    parts = {
        "t_pre": keep * w * d * (1 - post),
        "t_post": keep * w * d * post,
        "c_pre": keep * w * odds * (1 - d) * (1 - post),
        "c_post": keep * w * odds * (1 - d) * post,
    }
    est: dict[str, float] = {}
    inf: dict[str, FloatArray] = {}
    for key, wk in parts.items():
        mk = np.mean(wk)
        est[key] = float(np.mean(wk * y) / mk)
        inf[key] = wk * (y - est[key]) / mk
    att = (est["t_post"] - est["t_pre"]) - (est["c_post"] - est["c_pre"])
    m2 = {k: np.mean((parts[k] * (y - est[k]))[:, None] * xx, axis=0) / np.mean(parts[k])
          for k in ("c_pre", "c_post")}
    inf_c = inf["c_post"] - inf["c_pre"] + lin_ps @ (m2["c_post"] - m2["c_pre"])
    return float(att), (inf["t_post"] - inf["t_pre"]) - inf_c


def reg_rc_moments(
    *,
    sw: FloatArray,
    swx: FloatArray,
    swxx: FloatArray,
    swxy: FloatArray,
    d: FloatArray,
    post: FloatArray,
    cluster: npt.NDArray[np.intp],
    n_clusters: int,
) -> tuple[float, FloatArray]:
    """:func:`reg_rc` from cell moments; returns the ATT and the cluster sums of the contributions.

    Cells ``j`` (e.g. village × year) in the 2×2 sample carry ``sw = Σw``, ``swx = Σw·x`` (``x`` with the
    intercept first, so ``swx[:, 0] = Σw``), ``swxx = Σw·xx'`` and ``swxy = Σw·x·y`` (``swxy[:, 0] = Σw·y``).
    The estimator is a smooth function of sums of these moments, so each cell's contribution to the
    linearised error is linear in its moments (the rows of a cell sum to it exactly):

    * treated means ``η_s = Σ_{T,s} Σw·y / Σ_{T,s} Σw``: contribution ``(Σw·y − η_s Σw) / W_{T,s}``;
    * comparison regressions ``β_s = (Σ_{C,s} Σw·xx')^{-1} Σ_{C,s} Σw·xy``: contribution
      ``M_s^{-1}(Σw·xy − Σw·xx' β_s)``;
    * ``η_c = Σ_T Σw·x'(β_1 − β_0) / W_T``: contribution ``(Σw·x'(β_1 − β_0) − η_c Σw) / W_T + m'δβ``
      with ``m = Σ_T Σw·x / W_T``.

    Equal to :func:`reg_rc` on the rows (tested), including the variance for clusters made of cells.
    """
    t_post, t_pre = (d == 1) & (post == 1), (d == 1) & (post == 0)
    c_post, c_pre = (d == 0) & (post == 1), (d == 0) & (post == 0)
    def beta(mask: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        m = swxx[mask].sum(axis=0)
        if np.linalg.cond(m) > 1e12:
            raise np.linalg.LinAlgError("singular outcome regression among comparison cells")
        return np.linalg.solve(m, swxy[mask].sum(axis=0)), np.linalg.inv(m)

    b_post, minv_post = beta(c_post)
    b_pre, minv_pre = beta(c_pre)
    swy = swxy[:, 0]
    w_tpost, w_tpre = sw[t_post].sum(), sw[t_pre].sum()
    eta_post, eta_pre = swy[t_post].sum() / w_tpost, swy[t_pre].sum() / w_tpre
    treat = d == 1
    w_t = sw[treat].sum()
    db = b_post - b_pre
    fitted = swx @ db
    eta_c = fitted[treat].sum() / w_t
    m = swx[treat].sum(axis=0) / w_t
    att = (eta_post - eta_pre) - eta_c
    contrib = np.zeros(sw.size)
    contrib += np.where(t_post, (swy - eta_post * sw) / w_tpost, 0.0)
    contrib -= np.where(t_pre, (swy - eta_pre * sw) / w_tpre, 0.0)
    contrib -= np.where(treat, (fitted - eta_c * sw) / w_t, 0.0)
    resid_post = swxy - np.einsum("jab,b->ja", swxx, b_post)
    resid_pre = swxy - np.einsum("jab,b->ja", swxx, b_pre)
    contrib -= np.where(c_post, resid_post @ (minv_post @ m), 0.0)
    contrib += np.where(c_pre, resid_pre @ (minv_pre @ m), 0.0)
    return float(att), np.bincount(cluster, weights=contrib, minlength=n_clusters).astype(float)
