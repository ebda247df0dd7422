"""Distances used for matching: Mahalanobis and the logit of a propensity score.

Conventions (stated here once and quoted in result notes)
---------------------------------------------------------
* **Mahalanobis covariance.** ``S`` is the sample covariance matrix (denominator ``n - 1``) of the
  covariates over the *matching population*: the treated villages plus every eligible, untreated
  candidate village of the frame, pooled over all regions (not within treatment group, not within
  region: a region holds too few villages for a stable 7×7 covariance). The distance between a pilot
  ``t`` and a candidate ``c`` is ``sqrt((x_t - x_c)' S^{-1} (x_t - x_c))``, as R's
  ``sqrt(stats::mahalanobis(x_t, x_c, S))``. ``covariance="pooled_within"`` uses instead the pooled
  within-treatment-group covariance ``(sum_g sum_i (x_gi - m_g)(x_gi - m_g)') / (n - 2)``.
* **Propensity score.** A logit of the treatment indicator on the covariates (with an intercept),
  fitted by maximum likelihood over the same matching population. Matching and calipers use the
  *linear predictor* (log-odds), ``|logit(p_t) - logit(p_c)|``, as recommended by Austin (2011).
* **Caliper.** Given in standard-deviation units of the logit propensity score; the SD is the sample
  SD (``n - 1``) of the logit over the whole matching population (treated and candidates pooled).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["covariance_matrix", "logit_propensity", "mahalanobis_matrix"]

Covariance = Literal["frame", "pooled_within"]
FloatArray = npt.NDArray[np.float64]


def covariance_matrix(
    x: pd.DataFrame, treat: npt.ArrayLike | None = None, *, kind: Covariance = "frame"
) -> FloatArray:
    """Covariance matrix used to scale Mahalanobis distances.

    Parameters
    ----------
    x : DataFrame
        Covariates of the matching population (rows = villages), no missing values.
    treat : array-like of 0/1, optional
        Needed for ``kind="pooled_within"``.
    kind : {"frame", "pooled_within"}
        ``"frame"``: sample covariance over all rows. ``"pooled_within"``: pooled within-group
        covariance (deviations from the group means, divided by ``n - 2``).

    Raises
    ------
    ValueError
        If a covariate has no variance, or the covariates are linearly dependent (singular ``S``).
    """
    arr = x.to_numpy(dtype=float)
    n = arr.shape[0]
    if n < 2:
        raise ValueError("need at least two villages to estimate the covariance of the covariates")
    if kind == "frame":
        s = np.cov(arr, rowvar=False, ddof=1)
    elif kind == "pooled_within":
        if treat is None:
            raise ValueError("covariance='pooled_within' needs the treatment indicator")
        t = np.asarray(treat, dtype=int)
        dev = arr.copy()
        for g in (0, 1):
            m = t == g
            dev[m] -= arr[m].mean(axis=0)
        s = dev.T @ dev / (n - 2)
    else:
        raise ValueError(f"covariance must be 'frame' or 'pooled_within', not {kind!r}")
    s = np.atleast_2d(s)
    var = np.diag(s)
    flat = [str(c) for c in x.columns if x[c].nunique(dropna=True) < 2]
    if flat:
        raise ValueError(
            f"covariate(s) {flat} have no variance in the matching population; drop them from covariates="
        )
    # Condition check on the correlation matrix (scale free).
    d = np.sqrt(var)
    corr = s / np.outer(d, d)
    eig = np.linalg.eigvalsh(corr)
    if eig.min() < 1e-10:
        raise ValueError(
            f"covariates {list(x.columns)} are linearly dependent in the matching population "
            "(singular covariance matrix); drop a redundant covariate"
        )
    return np.asarray(s, dtype=float)


def mahalanobis_matrix(xt: FloatArray, xc: FloatArray, cov: FloatArray) -> FloatArray:
    """Mahalanobis distances between every row of ``xt`` and every row of ``xc``.

    Uses a Cholesky factor ``S = L L'``: ``d(t, c) = ||L^{-1}(x_t - x_c)||``.
    """
    chol = np.linalg.cholesky(cov)
    zt = np.linalg.solve(chol, np.atleast_2d(xt).T).T
    zc = np.linalg.solve(chol, np.atleast_2d(xc).T).T
    diff = zt[:, None, :] - zc[None, :, :]
    return np.asarray(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), dtype=float)


def logit_propensity(x: pd.DataFrame, treat: npt.ArrayLike) -> FloatArray:
    """Linear predictor (log-odds) of a maximum-likelihood logit of ``treat`` on ``x`` plus intercept.

    Raises
    ------
    ValueError
        If the fit does not converge or the data are (quasi-)separated, in which case the
        propensity score is not estimable and a smaller set of covariates is needed.
    """
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    y = np.asarray(treat, dtype=float)
    design = sm.add_constant(x.to_numpy(dtype=float), has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = sm.Logit(y, design).fit(method="newton", maxiter=200, tol=1e-12, disp=False)
        except (PerfectSeparationWarning, ConvergenceWarning, np.linalg.LinAlgError) as exc:
            raise ValueError(
                f"propensity-score logit on {list(x.columns)} cannot be fitted ({type(exc).__name__}: "
                f"{exc}); use fewer covariates (ps_covariates=) or method='mahalanobis' without caliper"
            ) from None
    if not fit.mle_retvals.get("converged", True):
        raise ValueError("propensity-score logit did not converge; use fewer covariates (ps_covariates=)")
    return np.asarray(design @ fit.params, dtype=float)
