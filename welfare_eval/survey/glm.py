"""Survey-weighted GLMs (linear and logistic) with design-based variance, as R ``svyglm``.

Coefficients solve the weighted score equations ``sum_i w_i x_i (y_i - mu_i) = 0`` (canonical links).
Taylor variance: the design covariance of the influence values ``w_i x_i (y_i - mu_i) A^{-1}`` with
``A = sum_i w_i v(mu_i) x_i x_i'`` (Binder 1983); replicate variance refits on each replicate.
Residual df = design df − p + 1 (R's ``df.residual``), used for t-based intervals and p-values.
``deff`` is R's: the design variance over the model-based variance of ``glm`` with weights
rescaled to mean 1 (for logistic models with the Pearson dispersion, i.e. R's ``quasibinomial()``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from welfare_eval.survey.results import GlmResult
from welfare_eval.survey.variance import DesignError, SurveyDesign, t_quantile

__all__ = ["svyglm"]


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, family: str) -> np.ndarray:
    if family == "gaussian":
        sw = np.sqrt(w)
        return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        mu = 1 / (1 + np.exp(-(X @ beta)))
        A = (X * (w * mu * (1 - mu))[:, None]).T @ X
        step = np.linalg.solve(A, X.T @ (w * (y - mu)))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(beta))):
            break
    else:
        raise DesignError("logistic svyglm did not converge (separation?): simplify the model")
    return beta


_FAMILIES = {
    "gaussian": "gaussian",
    "linear": "gaussian",
    "binomial": "binomial",
    "quasibinomial": "binomial",
    "logistic": "binomial",
}


def svyglm(
    design: SurveyDesign,
    formula: str,
    *,
    family: str = "gaussian",
    subset: str | None = None,
    level: float = 0.95,
) -> GlmResult:
    """Fit ``formula`` (``"y ~ x1 + C(g)"``, formulaic syntax) by survey-weighted ML.

    ``family``: ``"gaussian"`` (linear) or ``"binomial"`` (logistic; aliases ``"logistic"``,
    ``"quasibinomial"``). ``subset``: a boolean column; the model is fitted on that domain with the
    other units kept in the design at zero weight (R ``svyglm(subset=)``). Rows with missing values in
    the model variables are dropped in the same way.
    """
    from formulaic import model_matrix

    if family not in _FAMILIES:
        raise DesignError(f"family={family!r}: use 'gaussian' or 'binomial'")
    family = _FAMILIES[family]
    if "~" not in formula:
        raise DesignError(f"formula {formula!r} needs a response: 'y ~ x'")
    data = design.data
    mm = model_matrix(formula, data, na_action="drop")
    lhs, rhs = mm.lhs, mm.rhs
    keep_idx = np.asarray(rhs.index)
    keep = np.zeros(design.n, dtype=bool)
    keep[keep_idx] = True
    n = design.n
    names = list(rhs.columns)
    X = np.zeros((n, len(names)))
    X[keep_idx] = np.asarray(rhs, dtype=float)
    y = np.zeros(n)
    y[keep_idx] = np.asarray(lhs, dtype=float)[:, 0]
    if family == "binomial" and not set(np.unique(y[keep])) <= {0.0, 1.0}:
        raise DesignError("binomial svyglm needs a 0/1 response")
    in_fit = keep.copy()
    if subset is not None:
        sub = design.column(subset)
        if sub.isna().any():
            raise DesignError(f"subset column {subset!r} has missing values")
        in_fit &= sub.astype(bool).to_numpy()
    d = design.subset_rows(in_fit)
    w = d.weights
    beta = _fit(X, y, w, family)
    eta = X @ beta
    mu = eta if family == "gaussian" else 1 / (1 + np.exp(-eta))
    v = np.ones(n) if family == "gaussian" else mu * (1 - mu)
    A = (X * (w * v)[:, None]).T @ X
    Ainv = np.linalg.inv(A)
    z = (X * (w * (y - mu))[:, None]) @ Ainv

    def theta(Wr: np.ndarray) -> np.ndarray:
        return np.vstack([_fit(X, y, Wr[:, r], family) for r in range(Wr.shape[1])])

    vcov = d.vcov(z, theta, beta)
    p = len(beta)
    df_res = d.df + 1 - p
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    # model-based variance of glm() with weights rescaled to mean 1 (R's svyglm deff)
    wr = w[keep] / w[keep].mean()
    Xk = X[keep]
    if family == "gaussian":
        n_ok = np.count_nonzero(wr)
        disp = float(np.sum(wr * (y[keep] - mu[keep]) ** 2) / (n_ok - p))
        vsrs = disp * np.linalg.inv((Xk * wr[:, None]).T @ Xk)
    else:
        # quasibinomial (the family R users give svyglm): Pearson dispersion
        n_ok = np.count_nonzero(wr)
        disp = float(np.sum(wr * (y[keep] - mu[keep]) ** 2 / v[keep]) / (n_ok - p))
        vsrs = disp * np.linalg.inv((Xk * (wr * v[keep])[:, None]).T @ Xk)
    tq = t_quantile(level, df_res)
    tstat = beta / se
    tab = pd.DataFrame(
        {
            "term": names,
            "estimate": beta,
            "std_error": se,
            "df": df_res,
            "ci_low": beta - tq * se,
            "ci_high": beta + tq * se,
            "deff": np.diag(vcov) / np.diag(vsrs),
            "statistic": tstat,
            "p_value": 2 * stats.t.sf(np.abs(tstat), df_res) if df_res > 0 else np.nan,
        }
    )
    return GlmResult(
        tab, vcov, family=family, method=d.variance_method, df_residual=df_res, formula=formula, level=level
    )
