"""``iebaltab``-style balance tests: group means with SEs, difference, its SE and p-value, joint tests.

Regression conventions (as Stata ``regress`` / World Bank ``iebaltab``, and R ``lm`` + ``sandwich``)
----------------------------------------------------------------------------------------------------
For each covariate ``x`` the difference is the coefficient of the treatment dummy in the weighted
least-squares regression ``x ~ 1 + treat [+ fixed-effect dummies]`` (weights ``w`` = survey weights,
like Stata ``aweight``; without fixed effects the coefficient is ``mean_treated - mean_control``).
Its variance (``vce``):

* ``"ols"``: ``s^2 (X'WX)^-1`` with ``s^2 = sum(w e^2) / (N - K)``; t with ``N - K`` df;
* ``"hc1"``: ``N/(N-K) (X'WX)^-1 [sum (w e)^2 x x'] (X'WX)^-1``; t with ``N - K`` df;
* ``"cluster"``: CR1, ``G/(G-1) (N-1)/(N-K) (X'WX)^-1 [sum_g u_g u_g'] (X'WX)^-1`` with
  ``u_g = sum_{i in g} w_i e_i x_i``; t with ``G - 1`` df (Stata's convention; R
  ``sandwich::vcovCL(type = "HC1")``).

The group means and their SEs come from the regression of ``x`` on a constant within each group, with
the same weights and ``vce``. The joint test (``iebaltab``'s F-test) regresses the treatment dummy on
all covariates (plus fixed effects) and tests that every covariate coefficient is zero with the Wald
statistic ``F = b' V^-1 b / q`` on ``(q, N - K)`` df, or ``(q, G - 1)`` df when clustered; with
``vce="ols"`` this is the classical nested-model F test. The regression algebra is written out with
numpy (rather than statsmodels) so that the small-sample factors and degrees of freedom above are
exactly the stated ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from welfare_eval._results import ResultBase
from welfare_eval.match.balance import _treat_vector, _weight_vector

__all__ = ["BalanceTestResult", "balance_tests", "joint_balance_test", "permutation_balance_test"]

Vce = Literal["ols", "hc1", "cluster"]
FloatArray = npt.NDArray[np.float64]


def _wls(
    y: FloatArray, x: FloatArray, w: FloatArray, vce: Vce, groups: npt.NDArray[Any] | None
) -> tuple[FloatArray, FloatArray, float]:
    """WLS coefficients, their covariance under ``vce`` and the t/F denominator df."""
    n, k = x.shape
    sw = np.sqrt(w)
    xw = x * sw[:, None]
    # Column scaling before the rank check and inversion: covariates in baht (1e6) and shares (1e-1)
    # would otherwise give a numerically singular X'WX.
    norms = np.linalg.norm(xw, axis=0)
    if (norms == 0).any() or np.linalg.matrix_rank(xw / norms) < k:
        raise ValueError("balance regression is rank deficient (a covariate or fixed effect is collinear)")
    xs = xw / norms
    bread = np.linalg.inv(xs.T @ xs) / np.outer(norms, norms)
    beta = bread @ (xw.T @ (y * sw))
    e = y - x @ beta
    if n - k <= 0:
        raise ValueError(f"too few observations ({n}) for {k} regression terms")
    if vce == "ols":
        s2 = float(np.sum(w * e**2) / (n - k))
        return beta, s2 * bread, float(n - k)
    if vce == "hc1":
        u = x * (w * e)[:, None]
        return beta, n / (n - k) * bread @ (u.T @ u) @ bread, float(n - k)
    if vce == "cluster":
        if groups is None:
            raise ValueError("vce='cluster' needs cluster=")
        u = x * (w * e)[:, None]
        codes, uniq = pd.factorize(pd.Series(groups), sort=True)
        g = len(uniq)
        if g < 2:
            raise ValueError("clustered standard errors need at least two clusters")
        ug = np.zeros((g, k))
        np.add.at(ug, codes, u)
        c = g / (g - 1) * (n - 1) / (n - k)
        return beta, c * bread @ (ug.T @ ug) @ bread, float(g - 1)
    raise ValueError(f"vce must be 'ols', 'hc1' or 'cluster', not {vce!r}")


def _fe_dummies(data: pd.DataFrame, fixed_effects: str | Sequence[str] | None) -> FloatArray:
    if fixed_effects is None:
        return np.zeros((len(data), 0))
    cols = [fixed_effects] if isinstance(fixed_effects, str) else list(fixed_effects)
    parts = []
    for c in cols:
        if c not in data.columns:
            raise ValueError(f"fixed-effect column {c!r} is not in the data")
        if data[c].isna().any():
            raise ValueError(f"fixed-effect column {c!r} has missing values")
        d = pd.get_dummies(data[c].astype(str), drop_first=True, dtype=float)
        parts.append(d.to_numpy())
    return np.hstack(parts) if parts else np.zeros((len(data), 0))


def _setup(
    data: pd.DataFrame, treat: str, weights: Any, cluster: str | None, vce: Vce | None
) -> tuple[npt.NDArray[np.int64], FloatArray, npt.NDArray[Any] | None, Vce]:
    t = _treat_vector(data, treat)
    w = _weight_vector(data, weights)
    groups = None
    if cluster is not None:
        if cluster not in data.columns:
            raise ValueError(f"cluster column {cluster!r} is not in the data")
        if data[cluster].isna().any():
            raise ValueError(f"cluster column {cluster!r} has missing values")
        groups = data[cluster].astype(str).to_numpy()
    v: Vce = vce if vce is not None else ("cluster" if cluster is not None else "ols")
    if v == "cluster" and groups is None:
        raise ValueError("vce='cluster' needs cluster=<column>")
    return t, w, groups, v


@dataclass(repr=False)
class BalanceTestResult(ResultBase):
    """``iebaltab``-style balance table with a joint test; exportable to CSV, XLSX and HTML."""

    table: pd.DataFrame
    joint: dict[str, Any]
    vce: str
    fixed_effects: list[str] = field(default_factory=list)
    weighted: bool = False
    cluster: str | None = None
    matching_weights: bool = False
    title: str = "Balance tests (difference = treated - control)"

    def tidy(self) -> pd.DataFrame:
        return self.table.reset_index()

    def notes(self) -> list[str]:
        vce_txt = {
            "ols": "classical OLS standard errors",
            "hc1": "heteroskedasticity-robust (HC1) standard errors",
            "cluster": f"standard errors clustered by {self.cluster} (CR1, t with G-1 df)",
        }[self.vce]
        out = [
            "Difference and SE from the regression of each covariate on the treatment dummy"
            + (f" with fixed effects for {', '.join(self.fixed_effects)}" if self.fixed_effects else "")
            + f"; {vce_txt}"
            + ("; matching weights" if self.matching_weights else "")
            + ("; survey weights" if self.weighted else "")
            + ".",
        ]
        j = self.joint
        if j and "message" in j:
            out.append(f"Joint test not available: {j['message']}.")
        elif j:
            out.append(
                f"Joint test (treatment on all covariates): F({j['df_num']:.0f}, {j['df_denom']:.0f}) = "
                f"{j['F']:.3f}, p = {j['p_value']:.4f}."
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """The table with a last row for the joint F test (in columns ``estimate`` = F, ``p_value``)."""
        out = self.table.copy()
        if self.joint:
            row = pd.DataFrame(
                {"estimate": [self.joint["F"]], "p_value": [self.joint["p_value"]], "df": [self.joint["df_denom"]]},
                index=pd.Index(
                    [f"F-test of joint significance (df {self.joint['df_num']:.0f})"], name=out.index.name
                ),
            )
            out = pd.concat([out, row])
        return out

    sheet_name = "balance"

    def _export_frame(self) -> pd.DataFrame:
        return self.to_frame()


def balance_tests(
    data: pd.DataFrame,
    *,
    treat: str,
    covariates: Sequence[str],
    weights: str | npt.ArrayLike | None = None,
    cluster: str | None = None,
    fixed_effects: str | Sequence[str] | None = None,
    vce: Vce | None = None,
) -> BalanceTestResult:
    """``iebaltab``-style table: N, mean and SE per group, difference (``estimate``), its ``std_error``, the t
    ``statistic``, ``df``, ``p_value``.

    Parameters
    ----------
    data : DataFrame
    treat : str
        0/1 treatment column.
    covariates : sequence of str
    weights : str, array-like or None
        Survey weights (analytic/probability weights, as Stata ``aweight``/``pweight`` for the point
        estimates).
    cluster : str, optional
        Cluster column; implies ``vce="cluster"`` unless ``vce`` is given.
    fixed_effects : str or sequence of str, optional
        Fixed effects in the difference regression (e.g. ``"pair_id"`` for matched pairs: the
        difference is then the mean within-pair difference).
    vce : {"ols", "hc1", "cluster"}, optional
        Variance estimator (see module docstring). Default ``"ols"`` (``"cluster"`` with ``cluster``).

    Returns
    -------
    BalanceTestResult
        ``.table`` indexed by covariate, ``.joint`` (F test), ``.to_csv/.to_excel/.to_html``.
    """
    covariates = list(covariates)
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise ValueError(f"covariate column(s) {missing} are not in the data")
    t, w, groups, v = _setup(data, treat, weights, cluster, vce)
    fe = _fe_dummies(data, fixed_effects)
    rows = []
    for cov in covariates:
        x = pd.to_numeric(data[cov], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(x)
        row: dict[str, Any] = {"covariate": cov}
        for lab, g in (("treated", 1), ("control", 0)):
            m = ok & (t == g)
            row[f"n_{lab}"] = int(m.sum())
            if m.sum() >= 2:
                b, vv, _ = _wls(
                    x[m], np.ones((int(m.sum()), 1)), w[m], v, None if groups is None else groups[m]
                )
                row[f"mean_{lab}"], row[f"se_{lab}"] = float(b[0]), float(np.sqrt(vv[0, 0]))
            else:
                row[f"mean_{lab}"], row[f"se_{lab}"] = (float(x[m][0]) if m.sum() else np.nan), np.nan
        design = np.column_stack([np.ones(len(x)), t.astype(float), fe])[ok]
        b, vv, df = _wls(x[ok], design, w[ok], v, None if groups is None else groups[ok])
        se = float(np.sqrt(vv[1, 1]))
        tt = float(b[1] / se) if se > 0 else np.nan
        row.update(estimate=float(b[1]), std_error=se, statistic=tt, df=df, p_value=float(2 * stats.t.sf(abs(tt), df)))
        if groups is not None:
            row["n_clusters"] = len(set(groups[ok]))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("covariate")
    try:
        joint = joint_balance_test(
            data,
            treat=treat,
            covariates=covariates,
            weights=weights,
            cluster=cluster,
            fixed_effects=fixed_effects,
            vce=v,
        )
    except ValueError as exc:  # e.g. more terms than villages: report, do not crash the table
        joint = {
            "F": np.nan,
            "p_value": np.nan,
            "df_num": float(len(covariates)),
            "df_denom": np.nan,
            "message": str(exc),
        }

    fes = (
        []
        if fixed_effects is None
        else ([fixed_effects] if isinstance(fixed_effects, str) else list(fixed_effects))
    )
    return BalanceTestResult(
        table=table, joint=joint, vce=v, fixed_effects=fes, weighted=weights is not None, cluster=cluster
    )


def joint_balance_test(
    data: pd.DataFrame,
    *,
    treat: str,
    covariates: Sequence[str],
    weights: str | npt.ArrayLike | None = None,
    cluster: str | None = None,
    fixed_effects: str | Sequence[str] | None = None,
    vce: Vce | None = None,
) -> dict[str, Any]:
    """Joint F test that no covariate predicts treatment (see module docstring).

    Rows with a missing covariate are left out (the count is returned as ``n``). Returns a dict
    with ``F``, ``df_num``, ``df_denom``, ``p_value``, ``n`` and ``vce``; ``F`` is NaN (with a
    ``message``) when a clustered covariance has rank below the number of covariates.
    """
    covariates = list(covariates)
    t, w, groups, v = _setup(data, treat, weights, cluster, vce)
    x = data[covariates].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ok = ~np.isnan(x).any(axis=1)
    fe = _fe_dummies(data, fixed_effects)
    design = np.column_stack([np.ones(len(t)), x, fe])[ok]
    b, vv, df = _wls(t[ok].astype(float), design, w[ok], v, None if groups is None else groups[ok])
    q = len(covariates)
    bb, vb = b[1 : q + 1], vv[1 : q + 1, 1 : q + 1]
    out: dict[str, Any] = {"n": int(ok.sum()), "df_num": float(q), "df_denom": df, "vce": v}
    sd = np.sqrt(np.diag(vb))
    if not (sd > 0).all() or np.linalg.matrix_rank(vb / np.outer(sd, sd)) < q:
        out.update(
            F=np.nan,
            p_value=np.nan,
            message=f"covariance of the {q} coefficients is singular (e.g. fewer clusters than covariates)",
        )
        return out
    f = float(bb @ np.linalg.solve(vb, bb) / q)
    out.update(F=f, p_value=float(stats.f.sf(f, q, df)))
    return out


def permutation_balance_test(
    data: pd.DataFrame,
    *,
    treat: str,
    covariates: Sequence[str],
    strata: str | None = None,
    n_perm: int = 2000,
    seed: int = 0,
    id_col: str | None = "village_id",
) -> dict[str, Any]:
    """Permutation test of overall balance (Hansen & Bowers style omnibus statistic).

    The statistic is the Mahalanobis distance between the treated and control mean vectors,
    ``T = d' S^-1 d`` with ``S`` the sample covariance of the covariates over all rows (which does
    not change under permutation). Treatment labels are permuted within ``strata`` (e.g. region, or
    ``pair_id`` for matched pairs, where this flips labels within pairs) with
    ``numpy.random.default_rng(seed)``; ``p = (1 + #{T* >= T}) / (1 + n_perm)``. Rows are put in a
    canonical order (by ``id_col`` when the data have it, else by the index) before permuting, so
    the p-value does not depend on row order. Means are unweighted (for 1:1 matched pairs this is
    the matched-sample comparison; with 1:k sets use :func:`balance_tests` with weights).
    """
    covariates = list(covariates)
    if id_col is not None and id_col in data.columns:
        d = data.sort_values(id_col, kind="mergesort")
    else:
        d = data.sort_index(kind="mergesort")
    t = _treat_vector(d, treat)
    x = d[covariates].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if np.isnan(x).any():
        raise ValueError("permutation_balance_test needs complete covariates (found missing values)")
    s = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    sinv = np.linalg.pinv(s)

    def stat(tv: npt.NDArray[np.int64]) -> float:
        dd = x[tv == 1].mean(axis=0) - x[tv == 0].mean(axis=0)
        return float(dd @ sinv @ dd)

    obs = stat(t)
    rng = np.random.default_rng(seed)
    if strata is None:
        blocks = [np.arange(len(t))]
    else:
        codes, _ = pd.factorize(d[strata], sort=True)
        blocks = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    count = 0
    tp = t.copy()
    for _ in range(n_perm):
        for blk in blocks:
            tp[blk] = rng.permutation(t[blk])
        if stat(tp) >= obs - 1e-12 * max(1.0, abs(obs)):
            count += 1
    return {
        "statistic": obs,
        "p_value": (1 + count) / (1 + n_perm),
        "n_perm": n_perm,
        "strata": strata,
        "seed": seed,
    }
