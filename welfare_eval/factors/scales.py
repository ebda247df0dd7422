"""Likert scales of the success factors: reliability, factor scores, village aggregation.

Formulas
--------
* Cronbach's alpha ``a = k/(k-1) (1 - sum(s_i^2) / s_X^2)`` (sample variances, n-1), standardised alpha
  ``k r̄ / (1 + (k-1) r̄)``.
* Feldt (1965) interval: ``1 - (1-a) F_{1-γ/2}(n-1, (n-1)(k-1))`` to ``1 - (1-a) F_{γ/2}(...)``
  (same as ``psych::alpha.ci``).
* McDonald's omega from a one-factor minimum-residual (unweighted least squares) fit of the item correlation
  matrix R: ``omega = 1 - sum(ψ) / 1'R1`` (the ``omega.tot`` that ``psych::omega(x, nfactors = 1)`` prints)
  and the model-implied ``omega_model = (Σλ)² / ((Σλ)² + Σψ)``.
* Within-group agreement ``rwg(j)`` (James, Demaree & Wolf 1984) with the uniform null variance
  ``σ²_E = (A² - 1)/12`` for an A-point scale; one-way ANOVA ``ICC(1) = (MSB - MSW)/(MSB + (k0 - 1) MSW)``
  and ``ICC(2) = (MSB - MSW)/MSB`` (Bliese 2000), with ``k0 = (N - Σ n_j²/N)/(J - 1)`` for unequal groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from welfare_eval._results import ResultBase
from welfare_eval.reference import likert_band, success_factor_items, success_factors

__all__ = [
    "AggregationResult",
    "ICCResult",
    "ReliabilityResult",
    "ScaleReliabilityResult",
    "aggregate_villages",
    "committee_wide",
    "factor_scores",
    "feldt_ci",
    "icc",
    "minres_one_factor",
    "reliability",
    "rwg_j",
    "scale_reliability",
]


# --------------------------------------------------------------------------------------------------
# Reliability of one scale
# --------------------------------------------------------------------------------------------------
def feldt_ci(alpha: float, n: int, k: int, *, conf_level: float = 0.95) -> tuple[float, float]:
    """Feldt (1965) confidence interval of Cronbach's alpha for ``n`` respondents and ``k`` items."""
    if n < 2 or k < 2:
        raise ValueError(f"Feldt interval needs n >= 2 respondents and k >= 2 items (got n={n}, k={k})")
    g = 1.0 - conf_level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lower = 1.0 - (1.0 - alpha) * stats.f.ppf(1.0 - g / 2.0, df1, df2)
    upper = 1.0 - (1.0 - alpha) * stats.f.ppf(g / 2.0, df1, df2)
    return float(lower), float(upper)


def minres_one_factor(r: np.ndarray) -> np.ndarray:
    """Loadings of a one-factor minimum-residual (ULS) fit to a correlation matrix.

    Minimises the sum of squared off-diagonal residuals ``Σ_{i≠j} (r_ij - λ_i λ_j)²`` directly over the
    loadings (the fixed point of iterated principal axes, which ``psych::fa(fm = "minres")`` also finds);
    hand-written because factor_analyzer's optimiser stops at a looser tolerance. The sign is chosen so
    that the sum of loadings is positive.
    """
    r = np.asarray(r, dtype=float)
    k = r.shape[0]
    if k < 3:
        raise ValueError(f"a one-factor model needs at least 3 items (got {k})")
    iu = np.triu_indices(k, 1)
    # start: first principal axis with squared multiple correlations as communalities
    try:
        smc = 1.0 - 1.0 / np.diag(np.linalg.inv(r))
    except np.linalg.LinAlgError:
        smc = np.full(k, 0.5)
    rr = r.copy()
    np.fill_diagonal(rr, smc)
    w, v = np.linalg.eigh(rr)
    start = v[:, -1] * np.sqrt(max(w[-1], 1e-6))

    def resid(lam: np.ndarray) -> np.ndarray:
        return (r - np.outer(lam, lam))[iu]

    def jac(lam: np.ndarray) -> np.ndarray:
        j = np.zeros((len(iu[0]), k))
        rows = np.arange(len(iu[0]))
        j[rows, iu[0]] = -lam[iu[1]]
        j[rows, iu[1]] = -lam[iu[0]]
        return j

    sol = optimize.least_squares(resid, start, jac=jac, xtol=1e-15, ftol=1e-15, gtol=1e-15, method="lm")
    lam = sol.x
    return -lam if lam.sum() < 0 else lam


@dataclass(repr=False)
class ReliabilityResult(ResultBase):
    """Reliability of one Likert scale.

    Attributes
    ----------
    alpha, std_alpha : float
        Cronbach's alpha (raw, from covariances) and standardised alpha (from correlations).
    alpha_ci : tuple of float
        Feldt confidence interval of ``alpha`` at ``conf_level``.
    omega : float
        McDonald's omega total as ``psych::omega(nfactors = 1)$omega.tot``: ``1 - Σψ / 1'R1`` with
        ψ the uniquenesses of a one-factor minres fit and R the item correlation matrix.
    omega_model : float
        Model-implied omega ``(Σλ)² / ((Σλ)² + Σψ)`` from the same fit.
    items : pandas.DataFrame
        One row per item: mean, sd, item-total and corrected item-total (item-rest) correlation,
        alpha if the item is dropped, standardised one-factor loading.
    n, k, n_dropped : int
        Respondents used (complete cases), items, and respondents dropped for a missing item.
    """

    alpha: float
    std_alpha: float
    alpha_ci: tuple[float, float]
    omega: float
    omega_model: float
    items: pd.DataFrame
    n: int
    k: int
    n_dropped: int = 0
    conf_level: float = 0.95
    scale: str = ""
    title: str = field(default="Scale reliability", init=False)

    def tidy(self) -> pd.DataFrame:
        """Item statistics (one row per item)."""
        return self.items.copy()

    def scale_stats(self) -> pd.DataFrame:
        """One-row table of the scale statistics."""
        return pd.DataFrame(
            {
                "scale": [self.scale],
                "k": [self.k],
                "n": [self.n],
                "alpha": [self.alpha],
                "alpha_lower": [self.alpha_ci[0]],
                "alpha_upper": [self.alpha_ci[1]],
                "std_alpha": [self.std_alpha],
                "omega": [self.omega],
                "omega_model": [self.omega_model],
            }
        )

    def notes(self) -> list[str]:
        pct = round(100 * self.conf_level)
        out = [
            f"alpha = {self.alpha:.3f} ({pct}% Feldt CI {self.alpha_ci[0]:.3f} to {self.alpha_ci[1]:.3f}), "
            f"standardised alpha = {self.std_alpha:.3f}; n = {self.n}, k = {self.k}",
            f"omega total = {self.omega:.3f} (1 - Σψ/1'R1, one-factor minres; model-implied "
            f"{self.omega_model:.3f})",
        ]
        if self.n_dropped:
            out.append(f"{self.n_dropped} respondent(s) with a missing item were left out (complete cases)")
        return out

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Bar chart of the corrected item-total correlations."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * self.k + 1))
        it = self.items
        ax.barh(it["item"].astype(str), it["r_item_rest"], **kwargs)
        ax.invert_yaxis()
        ax.set_xlabel("corrected item-total correlation")
        ax.set_title(self.scale or self.title)
        return ax


def reliability(
    items: pd.DataFrame,
    *,
    conf_level: float = 0.95,
    scale: str = "",
    reverse: list[str] | None = None,
    scale_range: tuple[float, float] = (1, 5),
) -> ReliabilityResult:
    """Cronbach's alpha with Feldt interval, McDonald's omega and item statistics of one scale.

    Parameters
    ----------
    items : DataFrame
        One row per respondent, one numeric column per item (all keyed in the same direction).
        Respondents with a missing item are left out (complete cases) and counted in ``n_dropped``.
    conf_level : float
        Level of the Feldt interval.
    scale : str
        Name printed in the summary.
    reverse : list of str, optional
        Reverse-keyed items, recoded as ``low + high - x`` with ``scale_range = (low, high)``.
    scale_range : (float, float)
        Lowest and highest answer code (1, 5 for the 5-level Likert items).

    Returns
    -------
    ReliabilityResult
    """
    if not isinstance(items, pd.DataFrame):
        raise ValueError("reliability(items): pass a DataFrame with one column per item")
    x = items.apply(pd.to_numeric, errors="coerce")
    bad = [c for c in items.columns if x[c].notna().sum() < items[c].notna().sum()]
    if bad:
        raise ValueError(f"reliability: column {bad[0]!r} holds non-numeric values; recode it to numbers")
    for c in reverse or []:
        if c not in x.columns:
            raise ValueError(f"reliability: reverse-keyed item {c!r} is not a column of items")
        x[c] = scale_range[0] + scale_range[1] - x[c]
    k = x.shape[1]
    if k < 2:
        raise ValueError(f"reliability needs at least 2 item columns (got {k})")
    complete = x.dropna()
    n = len(complete)
    if n < 3:
        raise ValueError(f"reliability needs at least 3 complete respondents (got {n})")
    a = complete.to_numpy(dtype=float)
    sd = a.std(axis=0, ddof=1)
    if np.any(sd == 0):
        raise ValueError(f"reliability: item {complete.columns[int(np.argmin(sd))]!r} has no variance")
    cov = np.cov(a, rowvar=False, ddof=1)
    corr = np.corrcoef(a, rowvar=False)
    total = a.sum(axis=1)

    def _alpha(c: np.ndarray) -> float:
        kk = c.shape[0]
        return float(kk / (kk - 1) * (1.0 - np.trace(c) / c.sum()))

    alpha = _alpha(cov)
    rbar = (corr.sum() - k) / (k * (k - 1))
    std_alpha = float(k * rbar / (1 + (k - 1) * rbar))
    ci = feldt_ci(alpha, n, k, conf_level=conf_level)
    if k >= 3:
        lam = minres_one_factor(corr)
        psi = 1.0 - lam**2
        omega = float(1.0 - psi.sum() / corr.sum())
        omega_model = float(lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum()))
    else:
        lam = np.full(k, np.nan)
        omega = omega_model = float("nan")
    rows = []
    for j, name in enumerate(complete.columns):
        rest = total - a[:, j]
        keep = [i for i in range(k) if i != j]
        rows.append(
            {
                "item": name,
                "n": n,
                "mean": float(a[:, j].mean()),
                "sd": float(sd[j]),
                "r_item_total": float(np.corrcoef(a[:, j], total)[0, 1]),
                "r_item_rest": float(np.corrcoef(a[:, j], rest)[0, 1]),
                "alpha_if_dropped": _alpha(cov[np.ix_(keep, keep)]) if k > 2 else float("nan"),
                "loading": float(lam[j]),
            }
        )
    return ReliabilityResult(
        alpha=alpha,
        std_alpha=std_alpha,
        alpha_ci=ci,
        omega=omega,
        omega_model=omega_model,
        items=pd.DataFrame(rows),
        n=n,
        k=k,
        n_dropped=len(x) - n,
        conf_level=conf_level,
        scale=scale,
    )


# --------------------------------------------------------------------------------------------------
# Factor scores and reliability of the 12 success-factor scales
# --------------------------------------------------------------------------------------------------
def _item_map(items: pd.DataFrame | None) -> pd.DataFrame:
    m = success_factor_items() if items is None else items
    need = {"item", "factor"}
    if need - set(m.columns):
        raise ValueError("item map needs columns 'item' and 'factor'")
    return m


def _check_items_present(responses: pd.DataFrame, imap: pd.DataFrame) -> None:
    missing = [i for i in imap["item"] if i not in responses.columns]
    if missing:
        raise ValueError(
            f"responses lack item column(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
            "pass one column per item code of welfare_eval.reference.success_factor_items() "
            "(or an item map with columns 'item' and 'factor')"
        )


def committee_wide(
    committee: pd.DataFrame,
    *,
    village: str = "village_id",
    respondent: str = "member_no",
    item: str = "item",
    value: str = "score",
) -> pd.DataFrame:
    """Reshape committee ratings from long (member × item) to wide (one row per member, one column per item).

    Raises
    ------
    ValueError
        If a column is missing or a member rated the same item twice.
    """
    for c in (village, respondent, item, value):
        if c not in committee.columns:
            raise ValueError(f"committee_wide: column {c!r} not found; pass {c}=<column name>")
    d = committee[[village, respondent, item, value]].copy()
    d[village] = d[village].astype(str)
    dup = d.duplicated([village, respondent, item], keep=False)
    if dup.any():
        row = d[dup].iloc[0]
        raise ValueError(
            f"committee_wide: member {row[respondent]} of village {row[village]} rated item {row[item]!r} "
            "more than once; remove the duplicate ratings"
        )
    d[value] = pd.to_numeric(d[value], errors="coerce")
    wide = d.pivot(index=[village, respondent], columns=item, values=value)
    wide.columns = [str(c) for c in wide.columns]
    order = [i for i in success_factor_items()["item"] if i in wide.columns]
    order += [c for c in wide.columns if c not in order]
    return wide[order].reset_index()


def factor_scores(
    responses: pd.DataFrame,
    *,
    items: pd.DataFrame | None = None,
    min_items: int = 2,
    keep: list[str] | None = None,
) -> pd.DataFrame:
    """Factor scores per respondent: the mean of the answered items of each factor.

    Parameters
    ----------
    responses : DataFrame
        One row per respondent, one column per item (codes of ``success_factor_items()``).
    items : DataFrame, optional
        Item map with ``item`` and ``factor`` (default: the 36 items of the 12 success factors).
    min_items : int
        A factor score is missing when fewer than ``min_items`` of its items are answered.
    keep : list of str, optional
        Identifier columns of ``responses`` copied into the result (e.g. ``["village_id", "member_id"]``).

    Returns
    -------
    DataFrame with the ``keep`` columns and one column per factor code (in reference order).
    """
    imap = _item_map(items)
    _check_items_present(responses, imap)
    out = responses[keep].copy() if keep else pd.DataFrame(index=responses.index)
    for fac, grp in imap.groupby("factor", sort=False):
        block = responses[list(grp["item"])].apply(pd.to_numeric, errors="coerce")
        score = block.mean(axis=1)
        score[block.notna().sum(axis=1) < min(min_items, len(grp))] = np.nan
        out[str(fac)] = score.astype(float)
    return out


@dataclass(repr=False)
class ScaleReliabilityResult(ResultBase):
    """Reliability of every success-factor scale (one row per factor)."""

    table: pd.DataFrame
    by_factor: dict[str, ReliabilityResult]
    title: str = field(default="Reliability of the success-factor scales", init=False)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def notes(self) -> list[str]:
        return [
            "alpha: Cronbach's alpha with Feldt interval; omega: 1 - Σψ/1'R1 from a one-factor minres fit "
            "(psych::omega nfactors = 1, omega.tot); band: Thai mean-interpretation band of the scale mean"
        ]


def scale_reliability(
    responses: pd.DataFrame,
    *,
    items: pd.DataFrame | None = None,
    conf_level: float = 0.95,
    lang: str = "th",
) -> ScaleReliabilityResult:
    """Reliability (alpha, Feldt CI, omega) and mean with its Thai band for each success-factor scale.

    ``responses`` has one row per respondent and one column per item.
    """
    imap = _item_map(items)
    _check_items_present(responses, imap)
    facs = success_factors().set_index("code")
    rows = []
    res: dict[str, ReliabilityResult] = {}
    for fac, grp in imap.groupby("factor", sort=False):
        r = reliability(responses[list(grp["item"])], conf_level=conf_level, scale=str(fac))
        res[str(fac)] = r
        scale_mean = float(responses[list(grp["item"])].apply(pd.to_numeric, errors="coerce").mean(axis=1).mean())
        row = r.scale_stats().iloc[0].to_dict()
        row.pop("scale")
        code = str(fac)
        known = code in facs.index
        rows.append(
            {
                "factor": code,
                "group": str(facs.at[code, "group"]) if known else "",
                "label": str(facs.at[code, lang]) if known and lang in facs.columns else code,
                **row,
                "mean": scale_mean,
                "band": likert_band(scale_mean, "en" if lang == "en" else "th")
                if 1.0 <= scale_mean <= 5.0
                else "",
            }
        )
    return ScaleReliabilityResult(pd.DataFrame(rows), res)


# --------------------------------------------------------------------------------------------------
# Agreement and aggregation to villages
# --------------------------------------------------------------------------------------------------
def rwg_j(item_values: pd.DataFrame | np.ndarray, *, n_options: int = 5) -> float:
    """rwg(j) of one group of raters on J parallel items (James, Demaree & Wolf 1984).

    ``rwg(j) = J (1 - s̄²/σ²_E) / (J (1 - s̄²/σ²_E) + s̄²/σ²_E)`` with ``s̄²`` the mean of the item
    variances (n-1) within the group and ``σ²_E = (A² - 1)/12`` (uniform null). Values are truncated to 0
    when ``s̄² > σ²_E`` (the usual convention). With J = 1 this is the single-item ``rwg``.
    Returns NaN for a group of fewer than two raters.
    """
    a = np.asarray(item_values, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    a = a[~np.isnan(a).any(axis=1)]
    if a.shape[0] < 2:
        return float("nan")
    j = a.shape[1]
    s2 = float(a.var(axis=0, ddof=1).mean())
    sig_e = (n_options**2 - 1) / 12.0
    ratio = s2 / sig_e
    if ratio >= 1.0:
        return 0.0
    return float(j * (1.0 - ratio) / (j * (1.0 - ratio) + ratio))


@dataclass(repr=False)
class ICCResult(ResultBase):
    """One-way ANOVA intraclass correlations of a group-level aggregate (Bliese 2000)."""

    icc1: float
    icc2: float
    msb: float
    msw: float
    k0: float
    f: float
    df1: int
    df2: int
    p_value: float
    n_groups: int
    n: int
    title: str = field(default="Intraclass correlations (one-way ANOVA)", init=False)

    def tidy(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "icc1": self.icc1,
                    "icc2": self.icc2,
                    "msb": self.msb,
                    "msw": self.msw,
                    "k0": self.k0,
                    "F": self.f,
                    "df1": self.df1,
                    "df2": self.df2,
                    "p_value": self.p_value,
                    "n_groups": self.n_groups,
                    "n": self.n,
                }
            ]
        )

    def notes(self) -> list[str]:
        return [
            "ICC(1) = (MSB - MSW)/(MSB + (k0 - 1) MSW): reliability of one rater; ICC(2) = (MSB - MSW)/MSB: "
            "reliability of the group mean; k0 = (N - Σn²/N)/(J - 1)"
        ]


def icc(data: pd.DataFrame, *, group: str, value: str) -> ICCResult:
    """ICC(1) and ICC(2) of ``value`` nested in ``group`` from a one-way ANOVA (groups of any size).

    Rows with a missing value are not used; groups with one rater count towards MSB only.
    Equals ``psych::ICC`` ICC1 / ICC1k on balanced data.
    """
    for c in (group, value):
        if c not in data.columns:
            raise ValueError(f"icc: column {c!r} not found in data")
    d = data[[group, value]].dropna()
    y = d[value].to_numpy(dtype=float)
    codes, uniq = pd.factorize(d[group], sort=True)
    j = len(uniq)
    n = len(y)
    if j < 2 or n - j < 1:
        raise ValueError(f"icc needs at least 2 groups and more raters than groups (got {j} groups, {n} rows)")
    nj = np.bincount(codes).astype(float)
    means = np.bincount(codes, weights=y) / nj
    grand = y.mean()
    ssb = float((nj * (means - grand) ** 2).sum())
    ssw = float(((y - means[codes]) ** 2).sum())
    df1, df2 = j - 1, n - j
    msb, msw = ssb / df1, ssw / df2
    k0 = (n - (nj**2).sum() / n) / (j - 1)
    f = msb / msw if msw > 0 else float("inf")
    return ICCResult(
        icc1=float((msb - msw) / (msb + (k0 - 1) * msw)),
        icc2=float((msb - msw) / msb) if msb > 0 else float("nan"),
        msb=msb,
        msw=msw,
        k0=float(k0),
        f=float(f),
        df1=df1,
        df2=df2,
        p_value=float(stats.f.sf(f, df1, df2)),
        n_groups=j,
        n=n,
    )


@dataclass(repr=False)
class AggregationResult(ResultBase):
    """Committee ratings aggregated to villages, with agreement statistics.

    Attributes
    ----------
    villages : DataFrame
        One row per village: ``n_raters`` and the mean score of each factor.
    rwg : DataFrame
        One row per village: rwg(j) of each factor (J = items of the factor).
    table : DataFrame
        One row per factor: mean of the village scores with its Thai interpretation band, ICC(1), ICC(2),
        F test, median rwg(j), share of villages with rwg(j) ≥ 0.70.
    """

    villages: pd.DataFrame
    rwg: pd.DataFrame
    table: pd.DataFrame
    title: str = field(default="Aggregation of committee ratings to villages", init=False)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def notes(self) -> list[str]:
        return [
            "village score = mean of its raters' factor scores; rwg(j) with uniform null (σ²_E = 2 on 5 points), "
            "truncated at 0; ICC(1)/ICC(2) from one-way ANOVA of rater scores on village",
            "aggregation is usually defended by median rwg(j) ≥ 0.70 and a significant ICC(1); ICC(2) is the "
            "reliability of the village mean",
        ]


def aggregate_villages(
    responses: pd.DataFrame,
    *,
    village: str = "village_id",
    items: pd.DataFrame | None = None,
    min_items: int = 2,
    n_options: int = 5,
) -> AggregationResult:
    """Aggregate committee members' item ratings to village factor scores with rwg(j), ICC(1), ICC(2).

    Parameters
    ----------
    responses : DataFrame
        One row per committee member: the ``village`` column and one column per item code.
    village : str
        Name of the village identifier column.
    items : DataFrame, optional
        Item map (``item``, ``factor``); default the 36 items of the 12 success factors.
    min_items : int
        Minimum answered items for a member's factor score.
    n_options : int
        Number of Likert points (5) for the rwg null variance.
    """
    if village not in responses.columns:
        raise ValueError(f"aggregate_villages: column {village!r} not found; pass village=<column name>")
    imap = _item_map(items)
    _check_items_present(responses, imap)
    scores = factor_scores(responses, items=imap, min_items=min_items, keep=[village])
    facs = list(dict.fromkeys(imap["factor"].astype(str)))
    g = scores.groupby(village, sort=True)
    vill = g[facs].mean()
    vill.insert(0, "n_raters", g.size())
    # item ratings as numbers once, then each village's rows (in file order, as groupby gives them)
    fac_items = {f: list(imap.loc[imap["factor"] == f, "item"]) for f in facs}
    all_items = list(dict.fromkeys(i for f in facs for i in fac_items[f]))
    col = {i: k for k, i in enumerate(all_items)}
    values = np.asarray(responses[all_items].apply(pd.to_numeric, errors="coerce"), dtype=float)
    fac_cols = {f: [col[i] for i in fac_items[f]] for f in facs}
    groups = responses.groupby(village, sort=True)
    rows_of = groups.indices
    rwg_rows = {}
    for vid in groups.size().index:  # sorted, as iterating the groupby
        block = values[rows_of[vid]]
        # column-major, as a DataFrame's values: the same summation order in rwg_j, hence the same bits
        rwg_rows[vid] = {f: rwg_j(np.asfortranarray(block[:, fac_cols[f]]), n_options=n_options) for f in facs}
    rwg = pd.DataFrame.from_dict(rwg_rows, orient="index")[facs]
    rwg.index.name = village
    rows = []
    for f in facs:
        ic = icc(scores, group=village, value=f)
        rw = rwg[f].dropna()
        vmean = float(vill[f].mean())
        rows.append(
            {
                "factor": f,
                "mean": vmean,
                "band": likert_band(vmean, "th") if 1.0 <= vmean <= 5.0 else "",
                "n_villages": ic.n_groups,
                "n_raters": ic.n,
                "icc1": ic.icc1,
                "icc2": ic.icc2,
                "F": ic.f,
                "df1": ic.df1,
                "df2": ic.df2,
                "p_value": ic.p_value,
                "rwg_median": float(rw.median()) if len(rw) else float("nan"),
                "rwg_share_70": float((rw >= 0.70).mean()) if len(rw) else float("nan"),
            }
        )
    return AggregationResult(vill.reset_index(), rwg.reset_index(), pd.DataFrame(rows))
