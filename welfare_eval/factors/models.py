"""Which factors matter: success measures, bivariate associations and all-subsets regression.

Honest with 36 (or 18) villages:

* :func:`success_measures` defines the village success measures in one place (welfare coverage by wave and its
  change, number of welfare types received, welfare fund allocation per member, and the pilot village's own
  DiD effect = its coverage change minus that of its matched comparison village(s)).
* :func:`associations` — one regression per factor (standardised, so the slope is the correlation) with CR2
  standard errors (Bell & McCaffrey 2002) clustered on pairs (or HC2 without clusters) and Satterthwaite
  degrees of freedom (Imbens & Kolesár 2016: ``df = (Σλ)²/Σλ²``, λ the eigenvalues of ``G'G`` under the
  working model Ω = I; equal to ``clubSandwich`` "Satterthwaite"), Holm and Benjamini-Hochberg adjustment.
* :func:`all_subsets` — every model up to ``max_size`` factors with AICc (or BIC) weights, inclusion
  probabilities, model-averaged coefficients with Burnham & Anderson's unconditional SE, and the models in the
  95% confidence set; no stepwise selection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from welfare_eval._results import ResultBase

__all__ = [
    "AllSubsetsResult",
    "AssociationResult",
    "all_subsets",
    "associations",
    "cr2_test",
    "moderation",
    "moderation_did",
    "success_measures",
]


# --------------------------------------------------------------------------------------------------
# Success measures
# --------------------------------------------------------------------------------------------------
def _wmean(d: pd.DataFrame, col: str, weight: str | None) -> float:
    v = pd.to_numeric(d[col], errors="coerce").to_numpy(dtype=float)
    w = np.ones(len(v)) if weight is None else pd.to_numeric(d[weight], errors="coerce").to_numpy(dtype=float)
    ok = ~np.isnan(v) & ~np.isnan(w)
    return float(np.sum(v[ok] * w[ok]) / np.sum(w[ok])) if ok.any() and np.sum(w[ok]) > 0 else float("nan")


def success_measures(
    households: pd.DataFrame,
    *,
    villages: pd.DataFrame,
    benefits: pd.DataFrame | None = None,
    admin: pd.DataFrame | None = None,
    coverage: str = "member_welfare_fund",
    weight: str | None = "design_weight",
    first_wave: str = "baseline",
    last_wave: str = "endline",
    village: str = "village_id",
) -> pd.DataFrame:
    """Village success measures, defined once for the whole package.

    Parameters
    ----------
    households : DataFrame
        Household × wave: ``village``, ``wave``, the 0/1 ``coverage`` column (default membership of the
        welfare fund) and the ``weight``. Rows with ``interviewed == 0`` (when that column exists) or a
        missing coverage value are not used.
    villages : DataFrame
        Study villages with ``village``, ``arm`` (pilot/comparison) and ``pair_id``.
    benefits : DataFrame, optional
        Household × wave × ``welfare_type`` with ``received`` (0/1): gives ``n_welfare_types``, the number of
        welfare types received by at least one sampled household of the village in ``last_wave``.
    admin : DataFrame, optional
        Savings group × ``year`` with ``members`` and ``alloc_welfare`` (baht): gives
        ``welfare_fund_per_member`` = profit allocated to welfare per member in the village's latest year.
    coverage, weight, first_wave, last_wave, village : str
        Column names and wave codes.

    Returns
    -------
    DataFrame, one row per village: ``village_id``, ``arm``, ``pair_id``, ``coverage_<first>``,
    ``coverage_<last>``, ``coverage_change``, ``n_welfare_types``, ``welfare_fund_per_member`` and
    ``did_effect`` (pilot villages: own coverage change minus the mean change of the comparison villages of
    its pair; missing for comparison villages).
    """
    for c in (village, "wave", coverage, *([weight] if weight else [])):
        if c not in households.columns:
            raise ValueError(f"success_measures: households lacks column {c!r}")
    for c in (village, "arm", "pair_id"):
        if c not in villages.columns:
            raise ValueError(f"success_measures: villages lacks column {c!r}")
    h = households
    if "interviewed" in h.columns:
        h = h[pd.to_numeric(h["interviewed"], errors="coerce") == 1]
    h = h.assign(**{village: h[village].astype(str), "wave": h["wave"].astype(str)})
    out = villages[[village, "arm", "pair_id"]].copy()
    out[village] = out[village].astype(str)
    out["arm"] = out["arm"].astype(str)
    for wv in (first_wave, last_wave):
        sub = h[h["wave"] == wv]
        if sub.empty:
            raise ValueError(f"success_measures: no interviewed households in wave {wv!r}")
        cov = {v: _wmean(g, coverage, weight) for v, g in sub.groupby(village, sort=True)}
        out[f"coverage_{wv}"] = out[village].map(cov).astype(float)
    out["coverage_change"] = out[f"coverage_{last_wave}"] - out[f"coverage_{first_wave}"]
    if benefits is not None:
        b = benefits[benefits["wave"].astype(str) == last_wave]
        got = b[pd.to_numeric(b["received"], errors="coerce") == 1]
        n_types = got.groupby(got[village].astype(str))["welfare_type"].nunique()
        seen = set(b[village].astype(str))
        out["n_welfare_types"] = [
            float(n_types.get(v, 0)) if v in seen else np.nan for v in out[village]
        ]
    if admin is not None:
        for c in ("year", "members", "alloc_welfare"):
            if c not in admin.columns:
                raise ValueError(f"success_measures: admin lacks column {c!r}")
        a = admin.assign(**{village: admin[village].astype(str)})
        last = a.sort_values("year", kind="mergesort").groupby(village).tail(1).set_index(village)
        per = pd.to_numeric(last["alloc_welfare"], errors="coerce") / pd.to_numeric(last["members"], errors="coerce")
        out["welfare_fund_per_member"] = out[village].map(per).astype(float)
    comp = out[out["arm"] == "comparison"].groupby("pair_id")["coverage_change"].mean()
    out["did_effect"] = np.where(
        out["arm"] == "pilot", out["coverage_change"] - out["pair_id"].map(comp).astype(float), np.nan
    )
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# CR2 inference
# --------------------------------------------------------------------------------------------------
def _inv_sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(m)
    inv = np.where(w > 1e-12, 1.0 / np.sqrt(np.clip(w, 1e-12, None)), 0.0)
    return (v * inv) @ v.T


def cr2_test(
    x: np.ndarray, y: np.ndarray, cluster: np.ndarray | None, j: int
) -> tuple[float, float, float]:
    """OLS coefficient ``j`` with CR2 standard error and Satterthwaite df.

    ``x`` includes the intercept column. ``cluster=None`` treats every row as its own cluster (HC2).
    Returns ``(estimate, se, df)``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, _ = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    e = y - x @ beta
    h = x @ xtx_inv @ x.T
    ih = np.eye(n) - h
    c = xtx_inv[:, j]  # M c with c the unit vector
    groups = np.arange(n) if cluster is None else pd.factorize(np.asarray(cluster), sort=True)[0]
    ng = int(groups.max()) + 1
    g_mat = np.zeros((n, ng))
    v = 0.0
    for g in range(ng):
        idx = np.flatnonzero(groups == g)
        a_g = _inv_sqrt_psd(ih[np.ix_(idx, idx)])
        u = a_g @ x[idx] @ c  # weights of e_g
        v += float(u @ e[idx]) ** 2
        g_mat[:, g] = ih[idx].T @ u
    lam = np.linalg.eigvalsh(g_mat.T @ g_mat)
    df = float(lam.sum() ** 2 / (lam**2).sum())
    return float(beta[j]), float(np.sqrt(v)), df


def _holm(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="mergesort")[::-1]
    adj = np.minimum.accumulate(p[order] * m / (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


@dataclass(repr=False)
class AssociationResult(ResultBase):
    """Bivariate associations of each factor with a success measure."""

    table: pd.DataFrame
    outcome: str
    cluster: str | None
    n: int
    conf_level: float
    standardized: bool = True
    title: str = field(default="Bivariate associations with few-cluster inference", init=False)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def notes(self) -> list[str]:
        se = f"CR2 clustered on {self.cluster}" if self.cluster else "HC2"
        scale = (
            "on standardised variables, so the slope is the Pearson correlation"
            if self.standardized
            else "on the raw scale (outcome units per unit of the centred predictor)"
        )
        return [
            f"outcome {self.outcome}, n = {self.n}; one OLS per factor {scale}; {se} SE with Satterthwaite "
            "(Bell-McCaffrey) df; Holm and BH adjusted p",
        ]

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Forest plot of the standardised slopes with their intervals."""
        import matplotlib.pyplot as plt

        t = self.table.iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.35 * len(t) + 1))
        ax.errorbar(t["estimate"], t["predictor"], xerr=[t["estimate"] - t["ci_low"], t["ci_high"] - t["estimate"]],
                    fmt="o", capsize=3, **kwargs)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel(f"standardised association with {self.outcome}")
        return ax


def associations(
    data: pd.DataFrame,
    *,
    outcome: str,
    predictors: list[str],
    cluster: str | None = None,
    conf_level: float = 0.95,
    standardize: bool = True,
    n_perm: int = 0,
    seed: int | None = 0,
) -> AssociationResult:
    """Bivariate association of each predictor with ``outcome`` with small-sample cluster-robust inference.

    Each row: the standardised slope (= correlation), its CR2 (or HC2) SE, Satterthwaite df, t, p, CI, and
    Holm / Benjamini-Hochberg adjusted p-values over the predictors. Rows with a missing outcome or
    predictor are left out per regression (``n`` column). ``standardize=False`` gives raw-scale slopes
    (outcome units per unit of the predictor). ``n_perm > 0`` adds ``p_perm``, a permutation p-value of the
    correlation (predictor values permuted freely across rows, i.e. exchangeable villages; the clusters
    are not used by it), ``(1 + #{|r*| >= |r|}) / (1 + n_perm)``.
    """
    cols = [outcome, *predictors] + ([cluster] if cluster else [])
    miss = [c for c in cols if c not in data.columns]
    if miss:
        raise ValueError(f"associations: column(s) {miss} not found in data")
    rows = []
    for p in predictors:
        d = data[[outcome, p] + ([cluster] if cluster else [])].dropna()
        if len(d) < 4:
            raise ValueError(f"associations: only {len(d)} complete rows for {p!r}")
        y = d[outcome].to_numpy(dtype=float)
        xv = d[p].to_numpy(dtype=float)
        if y.std() == 0 or xv.std() == 0:
            raise ValueError(f"associations: {p!r} or {outcome!r} has no variance")
        ys = (y - y.mean()) / y.std(ddof=1) if standardize else y
        xs = (xv - xv.mean()) / xv.std(ddof=1) if standardize else xv - xv.mean()
        x = np.column_stack([np.ones(len(d)), xs])
        est, se, df = cr2_test(x, ys, d[cluster].to_numpy() if cluster else None, 1)
        t = est / se
        q = stats.t.ppf(0.5 + conf_level / 2, df)
        extra: dict[str, float] = {}
        if n_perm > 0:
            rng = np.random.default_rng(seed)
            r0 = abs(float(np.corrcoef(xv, y)[0, 1]))
            perm = np.array([abs(float(np.corrcoef(rng.permutation(xv), y)[0, 1])) for _ in range(n_perm)])
            extra["p_perm"] = float((1 + np.sum(perm >= r0 - 1e-12)) / (1 + n_perm))
        rows.append(
            {
                "predictor": p,
                "n": len(d),
                "estimate": est,
                "std_error": se,
                "df": df,
                "statistic": t,
                "p_value": float(2 * stats.t.sf(abs(t), df)),
                "ci_low": est - q * se,
                "ci_high": est + q * se,
                **extra,
            }
        )
    tab = pd.DataFrame(rows)
    tab["p_holm"] = _holm(tab["p_value"].to_numpy())
    tab["p_bh"] = _bh(tab["p_value"].to_numpy())
    return AssociationResult(tab, outcome, cluster, int(tab["n"].max()), conf_level, standardize)


def moderation(
    data: pd.DataFrame,
    *,
    predictors: list[str],
    effect: str = "did_effect",
    cluster: str | None = None,
    conf_level: float = 0.95,
) -> AssociationResult:
    """Moderation of the village DiD effect by each factor (one meta-regression per factor).

    Regresses the pilot villages' own DiD effect (``effect``, e.g. from :func:`success_measures`: pilot
    change minus its pair's change) on each centred factor score, raw scale, HC2 (or CR2) standard errors
    with Satterthwaite df. With one pilot per pair this is the pair-level version of the
    treated × post × factor interaction of a matched-pair DiD on village means. Rows without an effect
    (comparison villages) are not used.
    """
    if effect not in data.columns:
        raise ValueError(f"moderation: column {effect!r} not found; compute it with success_measures()")
    d = data[data[effect].notna()]
    res = associations(d, outcome=effect, predictors=predictors, cluster=cluster, conf_level=conf_level,
                       standardize=False)
    res.title = "Moderation of the DiD effect by the success factors"
    return res


# --------------------------------------------------------------------------------------------------
# All-subsets regression with model weights
# --------------------------------------------------------------------------------------------------
@dataclass(repr=False)
class AllSubsetsResult(ResultBase):
    """All-subsets regression with information-criterion weights.

    Attributes
    ----------
    models : DataFrame
        One row per model: ``predictors`` (``+``-joined), ``size``, ``r2``, ``adj_r2``, ``loglik``, ``aicc``,
        ``bic``, ``delta``, ``weight``, sorted by the criterion.
    table : DataFrame
        One row per predictor: inclusion probability (sum of weights of the models holding it), model-averaged
        coefficient over those models with Burnham & Anderson's unconditional SE, the coefficient averaged
        over all models (0 where absent), and how often it is in the 95% confidence set.
    """

    models: pd.DataFrame
    table: pd.DataFrame
    outcome: str
    criterion: str
    max_size: int
    n: int
    title: str = field(default="All-subsets regression with model weights", init=False)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Bar chart of the inclusion probabilities, with each predictor's share of the models as a mark."""
        import matplotlib.pyplot as plt

        t = self.table.iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.35 * len(t) + 1))
        ax.barh(t["predictor"], t["inclusion"], **kwargs)
        ax.plot(t["share_of_models"], t["predictor"], "k|", markersize=12, label="share of models")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"inclusion probability ({self.criterion.upper()} weights)")
        ax.legend(loc="lower right")
        return ax

    def top_models(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` best models."""
        return self.models.head(k).copy()

    def notes(self) -> list[str]:
        best = self.models.iloc[0]
        n95 = int((self.models["weight"].cumsum() < 0.95).sum() + 1)
        return [
            f"outcome {self.outcome}, n = {self.n}; all {len(self.models)} models with up to {self.max_size} "
            f"predictor(s); {self.criterion.upper()} weights (no stepwise selection)",
            f"best model: {best['predictors'] or '(intercept only)'} with weight {best['weight']:.2f}; "
            f"the 95% confidence set holds {n95} model(s): the data do not single out one model",
            "coefficients on standardised predictors and outcome; inclusion probability = sum of the weights of "
            "the models that hold the predictor (compare with its share of models)",
        ]


def all_subsets(
    data: pd.DataFrame,
    *,
    outcome: str,
    predictors: list[str],
    max_size: int | None = None,
    criterion: str = "aicc",
) -> AllSubsetsResult:
    """Fit every OLS model with up to ``max_size`` predictors and weigh them by AICc (or BIC).

    Parameters
    ----------
    data : DataFrame
        One row per village; rows with a missing value in the model columns are left out (all models use
        the same rows).
    outcome, predictors : str, list of str
    max_size : int, optional
        Largest model; default ``max(1, n // 10)`` (about ten villages per coefficient), never more than
        ``n - 4`` so that AICc is defined.
    criterion : {"aicc", "bic"}
        AICc counts K = predictors + intercept + residual variance.
    """
    if criterion not in ("aicc", "bic"):
        raise ValueError(f"all_subsets: criterion must be 'aicc' or 'bic' (got {criterion!r})")
    miss = [c for c in [outcome, *predictors] if c not in data.columns]
    if miss:
        raise ValueError(f"all_subsets: column(s) {miss} not found in data")
    d = data[[outcome, *predictors]].dropna()
    n = len(d)
    p = len(predictors)
    if max_size is None:
        max_size = max(1, n // 10)
    max_size = int(min(max_size, p, n - 4))
    if max_size < 1:
        raise ValueError(f"all_subsets: {n} complete rows are too few")
    y = d[outcome].to_numpy(dtype=float)
    y = (y - y.mean()) / y.std(ddof=1)
    x = d[predictors].to_numpy(dtype=float)
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    tss = float(y @ y)
    recs = []
    for k in range(max_size + 1):
        for s in combinations(range(p), k):
            xm = np.column_stack([np.ones(n), x[:, list(s)]])
            xtx_inv = np.linalg.pinv(xm.T @ xm)
            b = xtx_inv @ xm.T @ y
            rss = float(((y - xm @ b) ** 2).sum())
            kk = k + 2  # coefficients + intercept + sigma^2
            ll = -0.5 * n * (np.log(2 * np.pi) + np.log(rss / n) + 1)
            aicc = -2 * ll + 2 * kk + 2 * kk * (kk + 1) / (n - kk - 1)
            bic = -2 * ll + np.log(n) * kk
            sig2 = rss / (n - k - 1)
            se = np.sqrt(np.diag(xtx_inv) * sig2)
            recs.append(
                {
                    "predictors": "+".join(predictors[i] for i in s),
                    "size": k,
                    "r2": 1 - rss / tss,
                    "adj_r2": 1 - (rss / (n - k - 1)) / (tss / (n - 1)),
                    "loglik": ll,
                    "aicc": aicc,
                    "bic": bic,
                    "_coef": dict(zip([predictors[i] for i in s], b[1:], strict=True)),
                    "_se": dict(zip([predictors[i] for i in s], se[1:], strict=True)),
                }
            )
    models = pd.DataFrame(recs)
    crit = models[criterion].to_numpy()
    delta = crit - crit.min()
    w = np.exp(-delta / 2)
    models["delta"] = delta
    models["weight"] = w / w.sum()
    models = models.sort_values(["delta", "size"], kind="mergesort").reset_index(drop=True)
    in95 = models["weight"].cumsum().shift(fill_value=0) < 0.95
    rows = []
    for pr in predictors:
        has = models["_coef"].map(lambda c, pr=pr: pr in c).to_numpy()
        wt = models["weight"].to_numpy()
        coefs = np.array([c.get(pr, 0.0) for c in models["_coef"]])
        ses = np.array([s.get(pr, np.nan) for s in models["_se"]])
        incl = float(wt[has].sum())
        if has.any():
            wc = wt[has] / wt[has].sum()
            bbar = float((wc * coefs[has]).sum())
            se_u = float((wc * np.sqrt(ses[has] ** 2 + (coefs[has] - bbar) ** 2)).sum())
        else:  # pragma: no cover - every predictor is in some model when max_size >= 1
            bbar = se_u = float("nan")
        rows.append(
            {
                "predictor": pr,
                "inclusion": incl,
                "share_of_models": float(has.mean()),
                "coef_conditional": bbar,
                "se_unconditional": se_u,
                "coef_averaged": float((wt * coefs).sum()),
                "in_best_model": bool(has[0]),
                "in_95_set": int((has & in95.to_numpy()).sum()),
            }
        )
    table = pd.DataFrame(rows).sort_values("inclusion", ascending=False, kind="mergesort").reset_index(drop=True)
    models = models.drop(columns=["_coef", "_se"])
    return AllSubsetsResult(models, table, outcome, criterion, max_size, n)


def moderation_did(
    data: pd.DataFrame,
    *,
    scores: pd.DataFrame,
    predictors: list[str],
    outcome: str,
    treated: str = "treated",
    post: str = "post",
    unit: str = "village_id",
    pair: str = "pair_id",
    weights: str | None = None,
    period: str | None = None,
    method: str = "cr2",
    level: float = 0.95,
    dropna: bool = False,
) -> AssociationResult:
    """Moderation of the matched-pair DiD effect by each factor, estimated by :func:`welfare_eval.did.estimate`.

    For each factor f, fits ``y ~ D + D·(f - mean f) | unit + pair×period`` on ``data`` (household × wave or
    village × wave, optionally weighted) with the factor score of the unit's village taken from ``scores``
    (one row per ``unit``); the mean is over the treated units. The row reports the interaction coefficient
    (change of the effect per scale point) with ``method`` inference (CR2 + Satterthwaite by default,
    clustered on pairs). On village means with 1:1 pairs and two periods it equals :func:`moderation`.
    ``dropna`` is passed to :func:`welfare_eval.did.estimate` (rows with a missing outcome, e.g. households
    not interviewed, are then left out and reported there).
    """
    from welfare_eval.did import estimate  # lazy: did is a later stage

    miss = [c for c in [unit, *predictors] if c not in scores.columns]
    if miss:
        raise ValueError(f"moderation_did: scores lack column(s) {miss}")
    if scores[unit].duplicated().any():
        raise ValueError(f"moderation_did: scores has more than one row per {unit!r}")
    sc = scores[[unit, *predictors]].assign(**{unit: scores[unit].astype(str)}).set_index(unit)
    d = data.copy()
    key = d[unit].astype(str)
    unknown = sorted(set(key[d[treated] == 1]) - set(sc.index))
    if unknown:
        raise ValueError(f"moderation_did: treated unit {unknown[0]} has no factor scores")
    postv = pd.to_numeric(d[post], errors="coerce").to_numpy(dtype=float)
    dvec = pd.to_numeric(d[treated], errors="coerce").to_numpy(dtype=float) * postv
    rows = []
    for f in predictors:
        fv = key.map(sc[f]).astype(float).to_numpy()
        centre = float(sc.loc[sc.index.isin(set(key[d[treated] == 1])), f].mean())
        col = "_D_x_" + f
        d[col] = np.where(dvec == 1, fv - centre, 0.0)
        res = estimate(d, outcome=outcome, treated=treated, post=post, unit=unit, pair=pair, weights=weights,
                       covariates=[col], period=period, inference=(method,), level=level, dropna=dropna)
        t = res.tidy(all_terms=True)
        r = t[(t["term"] == col) & (t["method"] == method)].iloc[0]
        rows.append(
            {
                "predictor": f,
                "n": int(r["n_obs"]),
                "estimate": float(r["estimate"]),
                "std_error": float(r["std_error"]),
                "df": float(r["df"]),
                "statistic": float(r["statistic"]),
                "p_value": float(r["p_value"]),
                "ci_low": float(r["ci_low"]),
                "ci_high": float(r["ci_high"]),
            }
        )
        d = d.drop(columns=col)
    tab = pd.DataFrame(rows)
    tab["p_holm"] = _holm(tab["p_value"].to_numpy())
    tab["p_bh"] = _bh(tab["p_value"].to_numpy())
    out = AssociationResult(tab, outcome, pair, int(tab["n"].max()), level, False)
    out.title = f"Moderation of the DiD effect on {outcome} (matched-pair DiD, {method.upper()})"
    return out
