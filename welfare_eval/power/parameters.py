"""Design parameters from data: ICC, pair correlation, correlations over waves, design effects.

Planning with the study's own numbers: from a baseline wave of household data (and, when given, a
follow-up wave of the same villages) estimate the variance components that
:func:`~welfare_eval.power.mde` needs, with confidence intervals.

Estimators (method of moments; no mixed-model fit, so nothing fails to converge and every number has
a closed form)
---------------------------------------------------------------------------------------------------
ICC (one-way random-effects ANOVA, unbalanced)
    ``σ²_B = (MSB − MSW) / n₀`` with ``n₀ = (N − Σ n_j² / N) / (J − 1)``, ``ICC = σ²_B / (σ²_B + MSW)``;
    confidence interval from the F distribution (Searle 1971; Donner & Wells 1986):
    ``F_L = F / F_{1−α/2}(J − 1, N − J)``, ``F_U = F · F_{1−α/2}(N − J, J − 1)``,
    ``ICC_{L,U} = (F_{L,U} − 1) / (F_{L,U} + n₀ − 1)`` (R ``psych::ICC``'s ICC1 when balanced).
Pair level (nested pair / village / household)
    One-way ANOVA of the village means by pair: ``σ²_pair = (MSB' − MSW') / n₀'`` and
    ``σ²_village = MSW' − MSW · mean(1/n_v)`` (the within-pair spread of village means less their
    sampling variance). ``pair_correlation`` = ``σ²_pair / (σ²_pair + σ²_village)`` (how much of the
    between-village variance matching explains: the correlation of the true means of two villages of a
    pair); ``icc_pair = σ²_pair / total``. Balanced: the nested ANOVA estimates (= REML when positive).
Over waves (two waves of the same villages; ``unit`` identifies panel households)
    ``autocorr_individual``: correlation of panel households' deviations from their village-wave mean
    between the two waves (pooled within villages); ``autocorr_cluster``: covariance of the village
    means across waves, less the part due to the households common to both waves, over
    ``√(σ²_B,1 σ²_B,2)``; ``pair_correlation_change``: the pair share of the variance of the villages'
    true changes (one-way ANOVA of the village changes by pair, less their sampling variance). The
    squares are the R² a baseline covariate would give (``r2_cluster``, ``r2_individual``).

Intervals other than the ICC's: percentile intervals from a bootstrap of pairs (or clusters when no
pair is given), ``draws`` resamples with ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._progress import progress
from .._results import ResultBase
from ..survey import kish_deff_by
from .analytic import DESIGNS

__all__ = ["DesignParameters", "ICCResult", "design_parameters", "icc"]

WAVE_ORDER = ("baseline", "midline", "endline")


# ------------------------------------------------------------------------------------------------
# one-way ANOVA ICC
# ------------------------------------------------------------------------------------------------
def _oneway(n: np.ndarray, mean: np.ndarray, ssd: np.ndarray) -> dict[str, float]:
    """One-way random-effects ANOVA from cluster sizes, means and within sums of squares."""
    N = float(n.sum())
    J = n.size
    grand = float(np.sum(n * mean) / N)
    ssb = float(np.sum(n * (mean - grand) ** 2))
    ssw = float(ssd.sum())
    dfb, dfw = J - 1, N - J
    msb = ssb / dfb if dfb > 0 else math.nan
    msw = ssw / dfw if dfw > 0 else math.nan
    n0 = (N - float(np.sum(n**2)) / N) / dfb if dfb > 0 else math.nan
    sb = (msb - msw) / n0 if dfb > 0 and dfw > 0 else math.nan
    total = sb + msw
    return {"N": N, "J": float(J), "msb": msb, "msw": msw, "dfb": float(dfb), "dfw": float(dfw), "n0": n0,
            "sigma2_between": sb, "sigma2_within": msw, "icc": sb / total if total > 0 else math.nan}


def _icc_interval(a: dict[str, float], level: float) -> tuple[float, float]:
    if not (a["dfb"] > 0 and a["dfw"] > 0 and a["msw"] > 0):
        return math.nan, math.nan
    F = a["msb"] / a["msw"]
    q = 1.0 - (1.0 - level) / 2.0
    fl = F / stats.f.ppf(q, a["dfb"], a["dfw"])
    fu = F * stats.f.ppf(q, a["dfw"], a["dfb"])
    n0 = a["n0"]
    return float((fl - 1.0) / (fl + n0 - 1.0)), float((fu - 1.0) / (fu + n0 - 1.0))


class ICCResult(ResultBase):
    """Result of :func:`icc`: the one-way ANOVA ICC with its F interval and the ANOVA table."""

    title = "Intra-cluster correlation (one-way ANOVA)"

    def __init__(self, anova: dict[str, float], *, level: float, outcome: str, cluster: str) -> None:
        self.anova = anova
        self.level = level
        self.outcome = outcome
        self.cluster = cluster
        self.ci_low, self.ci_high = _icc_interval(anova, level)

    @property
    def estimate(self) -> float:
        return float(self.anova["icc"])

    def tidy(self) -> pd.DataFrame:
        a = self.anova
        return pd.DataFrame([{
            "term": "icc", "estimate": a["icc"], "ci_low": self.ci_low, "ci_high": self.ci_high,
            "statistic": a["msb"] / a["msw"] if a["msw"] > 0 else math.nan, "df_num": a["dfb"], "df_denom": a["dfw"],
            "p_value": float(stats.f.sf(a["msb"] / a["msw"], a["dfb"], a["dfw"])) if a["msw"] > 0 else math.nan,
            "sigma2_between": a["sigma2_between"], "sigma2_within": a["sigma2_within"], "n0": a["n0"],
            "n_obs": int(a["N"]), "n_clusters": int(a["J"]), "method": "anova",
        }])

    def notes(self) -> list[str]:
        return [f"{self.outcome} by {self.cluster}: ICC = σ²_B / (σ²_B + σ²_W), σ²_B = (MSB − MSW)/n₀, "
                f"n₀ = {self.anova['n0']:.4g}; {round(100 * self.level)}% interval from F (Searle 1971)",
                "statistic: F = MSB/MSW testing ICC = 0"]


def _prepare(data: pd.DataFrame, cols: Sequence[str], *, outcome: str, dropna: bool) -> tuple[pd.DataFrame, list[str]]:
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"data has no column(s) {missing}; available: {list(data.columns)[:20]}")
    frame = data[list(dict.fromkeys(cols))].copy()
    notes: list[str] = []
    na = frame.isna().any(axis=1)
    if na.any():
        detail = ", ".join(f"{c}: {int(k)}" for c, k in frame.isna().sum().items() if k)
        if not dropna:
            raise ValueError(f"{int(na.sum())} row(s) have missing values ({detail}); drop them explicitly or "
                             "pass dropna=True")
        notes.append(f"{int(na.sum())} row(s) with missing values dropped ({detail})")
        frame = frame.loc[~na]
    y = pd.to_numeric(frame[outcome], errors="coerce")
    if y.isna().any() or not np.isfinite(y.to_numpy(dtype=float)).all():
        bad = frame.loc[y.isna() | ~np.isfinite(y.fillna(0).to_numpy(dtype=float)), outcome].iloc[:3].tolist()
        raise ValueError(f"outcome {outcome!r} must be numeric and finite; found {bad}")
    frame[outcome] = y.to_numpy(dtype=float)
    if frame.empty:
        raise ValueError("no rows to estimate from")
    return frame.reset_index(drop=True), notes


def _cluster_summary(frame: pd.DataFrame, outcome: str, cluster: str) -> pd.DataFrame:
    """Per cluster: n, mean and within sum of squared deviations (computed from deviations: stable)."""
    y = frame[outcome].to_numpy(dtype=float)
    y = y - y.mean()
    key = frame[cluster].astype(str).to_numpy()
    codes, uniq = pd.factorize(key, sort=True)
    n = np.bincount(codes).astype(float)
    mean = np.bincount(codes, weights=y) / n
    ssd = np.bincount(codes, weights=(y - mean[codes]) ** 2)
    return pd.DataFrame({"cluster": np.asarray(uniq), "n": n, "mean": mean, "ssd": ssd})


def icc(data: pd.DataFrame, *, outcome: str, cluster: str, level: float = 0.95, dropna: bool = False) -> ICCResult:
    """One-way random-effects ANOVA intra-cluster correlation with its F-based confidence interval.

    Parameters
    ----------
    data : DataFrame
        One row per individual (household), one wave.
    outcome, cluster : str
        Column names.
    level : float
        Confidence level of the interval.
    dropna : bool
        Drop rows with missing values (counted in the notes) instead of raising.

    Returns
    -------
    ICCResult
        ``.estimate``, ``.ci_low``, ``.ci_high``, ``.anova`` (MSB, MSW, n₀, variance components).
        The estimate can be negative (between-cluster variance below its sampling noise); planning
        uses ``max(0, ICC)``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level}: must be in (0, 1)")
    frame, _ = _prepare(data, [outcome, cluster], outcome=outcome, dropna=dropna)
    s = _cluster_summary(frame, outcome, cluster)
    if len(s) < 2:
        raise ValueError(f"cluster {cluster!r}: need at least 2 clusters (found {len(s)})")
    if s["n"].sum() <= len(s):
        raise ValueError(f"cluster {cluster!r}: every cluster has one row; the within-cluster variance is unknown")
    return ICCResult(_oneway(s["n"].to_numpy(), s["mean"].to_numpy(), s["ssd"].to_numpy()), level=level,
                     outcome=outcome, cluster=cluster)


# ------------------------------------------------------------------------------------------------
# the full set of design parameters
# ------------------------------------------------------------------------------------------------
@dataclass
class _Villages:
    """Sufficient statistics per cluster (village) for every estimator (and the bootstrap)."""

    pair: np.ndarray  # int codes (−1 when no pairs)
    n1: np.ndarray
    m1: np.ndarray
    d1: np.ndarray  # within sum of squared deviations, baseline
    n2: np.ndarray | None = None
    m2: np.ndarray | None = None
    d2: np.ndarray | None = None
    o: np.ndarray | None = None  # panel households (in both waves)
    p1: np.ndarray | None = None  # their within sums of squares, baseline / follow-up, and cross-products
    p2: np.ndarray | None = None
    pc: np.ndarray | None = None

    def take(self, idx: np.ndarray, pair: np.ndarray) -> _Villages:
        def t(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]
        return _Villages(pair=pair, n1=self.n1[idx], m1=self.m1[idx], d1=self.d1[idx], n2=t(self.n2),
                         m2=t(self.m2), d2=t(self.d2), o=t(self.o), p1=t(self.p1), p2=t(self.p2), pc=t(self.pc))


def _group_anova(x: np.ndarray, g: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """One-way ANOVA of values ``x`` in groups ``g`` (codes 0..A−1): (MSB, MSW, n₀, group sizes)."""
    A = int(g.max()) + 1
    size = np.bincount(g, minlength=A).astype(float)
    keep = size > 0
    gm = np.bincount(g, weights=x, minlength=A)[keep] / size[keep]
    size = size[keep]
    remap = np.cumsum(keep) - 1
    gi = remap[g]
    V, A = x.size, size.size
    grand = x.mean()
    msb = float(np.sum(size * (gm - grand) ** 2) / (A - 1)) if A > 1 else math.nan
    msw = float(np.sum((x - gm[gi]) ** 2) / (V - A)) if V > A else math.nan
    n0 = (V - float(np.sum(size**2)) / V) / (A - 1) if A > 1 else math.nan
    return msb, msw, n0, gi


def _within_mean(v: np.ndarray, g: np.ndarray) -> float:
    """Σ_p (g_p − 1) · mean_{v∈p}(v) / Σ_p (g_p − 1): the expected within-group mean square of noise ``v``."""
    A = int(g.max()) + 1
    size = np.bincount(g, minlength=A).astype(float)
    mv = np.bincount(g, weights=v, minlength=A)
    ok = size > 0
    num = float(np.sum((size[ok] - 1.0) * mv[ok] / size[ok]))
    den = float(np.sum(size[ok] - 1.0))
    return num / den if den > 0 else math.nan


def _estimates(S: _Villages) -> dict[str, float]:
    out: dict[str, float] = {}
    a1 = _oneway(S.n1, S.m1, S.d1)
    out["icc"] = a1["icc"]
    out["sigma2_between"] = a1["sigma2_between"]
    out["sigma2_within"] = a1["sigma2_within"]
    msw1 = a1["msw"]
    paired = bool(S.pair.size and S.pair.min() >= 0)
    if paired:
        msb_p, msw_p, n0_p, gi = _group_anova(S.m1, S.pair)
        s_pair = (msb_p - msw_p) / n0_p
        s_vil = msw_p - msw1 * _within_mean(1.0 / S.n1, gi)
        out["icc_pair"] = s_pair / (s_pair + s_vil + msw1)
        out["pair_correlation"] = s_pair / (s_pair + s_vil) if (s_pair + s_vil) > 0 else math.nan
    if S.n2 is not None:
        assert S.m2 is not None and S.d2 is not None
        a2 = _oneway(S.n2, S.m2, S.d2)
        msw2 = a2["msw"]
        cov_h = 0.0
        share = np.zeros_like(S.n1)
        if S.o is not None and S.pc is not None and S.p1 is not None and S.p2 is not None:
            dfo = float(np.sum(np.clip(S.o - 1.0, 0.0, None)))
            if dfo > 0:
                cov_h = float(S.pc.sum()) / dfo
                v1, v2 = float(S.p1.sum()) / dfo, float(S.p2.sum()) / dfo
                out["autocorr_individual"] = cov_h / math.sqrt(v1 * v2) if v1 > 0 and v2 > 0 else math.nan
                out["r2_individual"] = out["autocorr_individual"] ** 2
            share = S.o / (S.n1 * S.n2)
        cov_v = float(np.cov(S.m1, S.m2, ddof=1)[0, 1]) - cov_h * float(share.mean())
        b1, b2 = a1["sigma2_between"], a2["sigma2_between"]
        out["autocorr_cluster"] = cov_v / math.sqrt(b1 * b2) if b1 > 0 and b2 > 0 else math.nan
        out["r2_cluster"] = out["autocorr_cluster"] ** 2
        out["icc_followup"] = a2["icc"]
        if paired:
            delta = S.m2 - S.m1
            noise = msw1 / S.n1 + msw2 / S.n2 - 2.0 * cov_h * share
            msb_d, msw_d, n0_d, gi = _group_anova(delta, S.pair)
            s_pd = (msb_d - msw_d) / n0_d
            s_vd = msw_d - _within_mean(noise, gi)
            out["pair_correlation_change"] = s_pd / (s_pd + s_vd) if (s_pd + s_vd) > 0 else math.nan
    return out


#: Terms reported by :func:`design_parameters` (in this order) and what they mean.
TERMS: dict[str, str] = {
    "icc": "intra-cluster correlation at baseline (one-way ANOVA)",
    "icc_followup": "intra-cluster correlation at the follow-up wave",
    "icc_pair": "share of the total variance between pairs",
    "pair_correlation": "correlation of the true means of two villages of a pair (level, baseline)",
    "pair_correlation_change": "pair share of the villages' wave-to-wave change (what pair × wave effects remove)",
    "autocorr_cluster": "correlation of the true village means across waves",
    "autocorr_individual": "correlation of panel households' deviations across waves",
    "r2_cluster": "R² of follow-up village means on baseline ones (autocorr_cluster²)",
    "r2_individual": "R² of follow-up household values on baseline ones (autocorr_individual²)",
    "sd": "standard deviation of the outcome at baseline, √(σ²_B + σ²_W): MDE in outcome units = MDE × sd",
    "attrition": "share of the baseline households (unit) not found in the same village at the follow-up wave",
    "mean_cluster_size": "mean households per village (baseline)",
    "cv_cluster_size": "coefficient of variation of households per village (baseline)",
    "cv_cluster_weight": "coefficient of variation of the villages' summed weights (baseline)",
    "deff_weights": "Kish design effect of the weights within villages (baseline, size-weighted mean of n Σw² / (Σw)²)",
}


class DesignParameters(ResultBase):
    """Result of :func:`design_parameters`: one row per parameter with a confidence interval.

    ``as_dict(design)`` returns the keywords of :func:`~welfare_eval.power.mde` for that design
    (values clipped to their admissible ranges, e.g. a negative ICC to 0); pass them on with
    ``mde(design=..., clusters=..., per_cluster=..., **params.as_dict(design))``.
    """

    title = "Design parameters"
    sheet_name = "parameters"

    def __init__(self, table: pd.DataFrame, *, values: dict[str, float], outcome: str, level: float,
                 draws: int, unit: str, extra_notes: list[str]) -> None:
        self._table = table
        self.values = values
        self.outcome = outcome
        self.level = level
        self.draws = draws
        self.resampling_unit = unit
        self._notes = extra_notes

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def __getitem__(self, term: str) -> float:
        if term not in self.values:
            raise KeyError(f"{term!r}: estimated terms are {list(self.values)}")
        return self.values[term]

    def notes(self) -> list[str]:
        out = [f"outcome {self.outcome}; ICC interval from the F distribution; other intervals: "
               f"{round(100 * self.level)}% percentile bootstrap over {self.resampling_unit} ({self.draws} resamples)"]
        return out + self._notes

    def as_dict(self, design: str = "matched_pair_did", *, paired: bool | None = None) -> dict[str, float]:
        """Keywords of :func:`~welfare_eval.power.mde` for ``design`` from the estimates.

        ``cluster_rct`` gets ``icc`` and, with two waves, ``r2_cluster`` / ``r2_individual`` (a baseline
        covariate, R² = autocorrelation², an upper bound since the baseline is itself measured with
        sampling error); the DiD designs get ``icc``, ``autocorr_cluster``, ``autocorr_individual``
        (matched_pair_did), ``attrition`` (matched_pair_did, with ``unit``: the share of baseline households
        not re-interviewed at the follow-up wave, so that a two-wave design has the observed panel
        overlap) and ``pair_correlation`` (the pair share of the villages' *changes*, which is what the
        pair × wave fixed effects remove; paired designs). Parameters that could not be
        estimated are left out (the function's conservative defaults apply). Always
        ``cv_cluster_size`` (the CV of the villages' summed weights when weights were given: what sets
        their weight in a weighted estimate); ``deff_weights`` (within villages) when weights were given.
        """
        if design not in DESIGNS:
            raise ValueError(f"design={design!r}: choose one of {', '.join(DESIGNS)}")
        v = self.values
        out: dict[str, float] = {}

        def have(k: str) -> bool:
            return k in v and math.isfinite(v[k])

        if design == "individual_rct":
            if have("deff_weights"):
                out["deff_weights"] = max(1.0, v["deff_weights"])
            return out
        out["icc"] = float(min(max(v["icc"], 0.0), 0.999)) if have("icc") else 0.0
        if design == "cluster_rct":
            for k in ("r2_cluster", "r2_individual"):
                if have(k):
                    out[k] = float(min(max(v[k], 0.0), 0.999))
        else:
            if have("autocorr_cluster"):
                out["autocorr_cluster"] = float(min(max(v["autocorr_cluster"], -1.0), 1.0))
            if design == "matched_pair_did" and have("autocorr_individual"):
                out["autocorr_individual"] = float(min(max(v["autocorr_individual"], -1.0), 1.0))
            if design == "matched_pair_did" and have("attrition"):
                out["attrition"] = float(min(max(v["attrition"], 0.0), 0.999))
            is_paired = design == "matched_pair_did" or bool(paired)
            if is_paired and have("pair_correlation_change"):
                out["pair_correlation"] = float(min(max(v["pair_correlation_change"], 0.0), 1.0))
        # the clusters' weights in the estimate: summed survey weights when weighted, else sizes
        cv_key = "cv_cluster_weight" if have("cv_cluster_weight") else "cv_cluster_size"
        if have(cv_key):
            out["cv_cluster_size"] = float(v[cv_key])
        if have("deff_weights"):
            out["deff_weights"] = max(1.0, float(v["deff_weights"]))
        return out


def _wave_levels(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [lv for lv in series.cat.categories if (series == lv).any()]
    levels = sorted(pd.unique(series).tolist(), key=lambda v: (str(type(v)), v))
    if set(map(str, levels)) <= set(WAVE_ORDER):
        levels = sorted(levels, key=lambda v: WAVE_ORDER.index(str(v)))
    return levels


def design_parameters(
    data: pd.DataFrame,
    *,
    outcome: str,
    cluster: str,
    pair: str | None = None,
    unit: str | None = None,
    wave: str | None = None,
    baseline: Any = None,
    followup: Any = None,
    weights: str | None = None,
    level: float = 0.95,
    draws: int = 999,
    seed: int = 0,
    dropna: bool = False,
) -> DesignParameters:
    """Estimate the design parameters of :func:`~welfare_eval.power.mde` from survey data.

    Parameters
    ----------
    data : DataFrame
        One row per household (and wave, when ``wave`` is given).
    outcome, cluster : str
        Outcome and cluster (village) columns.
    pair : str, optional
        Matched pair (or matched set) of each cluster: gives ``icc_pair``, ``pair_correlation`` and,
        with two waves, ``pair_correlation_change``; the bootstrap then resamples pairs.
    unit : str, optional
        Household identifier stable across waves (panel households): gives ``autocorr_individual`` and
        corrects ``autocorr_cluster`` for the households common to both waves. Without it the waves
        are treated as independent samples.
    wave, baseline, followup : optional
        Wave column and the two levels to compare (default: its first two levels in survey order).
        Without ``wave`` the data are one baseline wave.
    weights : str, optional
        Survey weights: their Kish design effect at baseline (the variance components are unweighted).
    level : float
        Confidence level.
    draws, seed : int
        Bootstrap resamples (0: no intervals except the ICC's) and their seed.
    dropna : bool
        Drop rows with missing values (counted in the notes) instead of raising.

    Returns
    -------
    DesignParameters
        ``tidy()``: ``term``, ``estimate``, ``ci_low``, ``ci_high``, ``method``, ``n_obs``, ``n_clusters``;
        ``as_dict(design)``: keywords for :func:`~welfare_eval.power.mde`.
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level}: must be in (0, 1)")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 0:
        raise ValueError(f"draws={draws!r}: must be a whole number ≥ 0")
    if unit is not None and wave is None:
        raise ValueError("unit= identifies panel households across waves; give wave= too")
    cols = [outcome, cluster] + [c for c in (pair, unit, wave, weights) if c is not None]
    frame, notes = _prepare(data, cols, outcome=outcome, dropna=dropna)
    frame["_c"] = frame[cluster].astype(str)
    # waves ------------------------------------------------------------------------------------------
    if wave is not None:
        levels = _wave_levels(frame[wave])
        b = levels[0] if baseline is None else baseline
        if b not in levels:
            raise ValueError(f"baseline={b!r} is not a level of {wave!r} ({levels})")
        rest = [lv for lv in levels if lv != b]
        f = followup if followup is not None else (rest[0] if rest else None)
        if f is not None and (f not in levels or f == b):
            raise ValueError(f"followup={f!r} must be a level of {wave!r} other than the baseline ({levels})")
        base = frame[frame[wave] == b]
        foll = frame[frame[wave] == f] if f is not None else None
    else:
        base, foll = frame, None
    # pairs --------------------------------------------------------------------------------------------
    pair_of: dict[str, str] = {}
    if pair is not None:
        pp = frame[["_c", pair]].astype({pair: str}).drop_duplicates()
        multi = pp["_c"][pp["_c"].duplicated()].unique()
        if len(multi):
            raise ValueError(f"cluster(s) {list(multi[:5])} appear in more than one {pair!r}")
        pair_of = dict(zip(pp["_c"], pp[pair], strict=True))
    # per-village statistics -----------------------------------------------------------------------------
    sb = _cluster_summary(base, outcome, "_c")
    if len(sb) < 2:
        raise ValueError(f"cluster {cluster!r}: need at least 2 clusters at baseline (found {len(sb)})")
    if sb["n"].sum() <= len(sb):
        raise ValueError(f"cluster {cluster!r}: every cluster has one row at baseline; cannot split the variance")
    villages = sb["cluster"].to_numpy()
    if pair is not None:
        pcodes, puniq = pd.factorize(pd.Series([pair_of[v] for v in villages]), sort=True)
        if len(puniq) < 2:
            raise ValueError(f"pair {pair!r}: need at least 2 pairs (found {len(puniq)})")
        if len(puniq) == len(villages):
            raise ValueError(f"pair {pair!r}: every pair has a single village at baseline; pairs need ≥ 2 villages")
    else:
        pcodes = np.full(len(villages), -1)
    S = _Villages(pair=np.asarray(pcodes), n1=sb["n"].to_numpy(), m1=sb["mean"].to_numpy(),
                  d1=sb["ssd"].to_numpy())
    if foll is not None:
        sf = _cluster_summary(foll, outcome, "_c").set_index("cluster")
        miss = [v for v in villages if v not in sf.index]
        if miss:
            raise ValueError(f"cluster(s) {miss[:5]} have no rows at the follow-up wave; drop them explicitly")
        extra = [v for v in sf.index if v not in set(villages)]
        if extra:
            raise ValueError(f"cluster(s) {extra[:5]} have rows at the follow-up wave but none at baseline")
        sf = sf.loc[villages]
        # the centring of each wave's outcome is irrelevant to every estimator (covariances, changes'
        # variances), except the wave means themselves, which no estimator uses
        S.n2, S.m2, S.d2 = sf["n"].to_numpy(), sf["mean"].to_numpy(), sf["ssd"].to_numpy()
        if unit is not None:
            S.o, S.p1, S.p2, S.pc = _panel_stats(base, foll, outcome=outcome, unit=unit, villages=villages)
            if S.o.sum() == 0:
                notes.append(f"no household ({unit!r}) appears in both waves: autocorr_individual not estimated")
    values = _estimates(S)
    values["sd"] = math.sqrt(values["sigma2_between"] + values["sigma2_within"]) \
        if values["sigma2_between"] + values["sigma2_within"] > 0 else math.nan
    if S.o is not None:
        values["attrition"] = float(1.0 - S.o.sum() / S.n1.sum())
    # sizes and weights
    n1 = S.n1
    values["mean_cluster_size"] = float(n1.mean())
    values["cv_cluster_size"] = float(n1.std(ddof=0) / n1.mean())
    if weights is not None:
        w = pd.to_numeric(base[weights], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(w).all() or (w <= 0).any():
            raise ValueError(f"weights {weights!r}: {int((~np.isfinite(w) | (w <= 0)).sum())} value(s) missing, "
                             "non-finite or ≤ 0 at baseline; weights must be > 0")
        wk = kish_deff_by(pd.DataFrame({"c": base["_c"].to_numpy(), "w": w}), "c", weights="w")
        n_c = wk["n_positive"].to_numpy(dtype=float)
        values["deff_weights"] = float(np.sum(n_c * wk["kish_deff"].to_numpy(dtype=float)) / n_c.sum())
        tot = wk["sum_w"].to_numpy(dtype=float)
        values["cv_cluster_weight"] = float(tot.std(ddof=0) / tot.mean())
    # bootstrap -------------------------------------------------------------------------------------------
    rng = np.random.default_rng(seed)
    boot: dict[str, list[float]] = {}
    unit_name = "pairs" if pair is not None else "clusters"
    if draws:
        groups = [np.flatnonzero(S.pair == g) for g in range(int(S.pair.max()) + 1)] if pair is not None \
            else [np.array([i]) for i in range(len(villages))]
        G = len(groups)
        for _ in progress(range(draws), desc="bootstrap design parameters", total=draws):
            pick = rng.integers(0, G, size=G)
            idx = np.concatenate([groups[g] for g in pick])
            newpair = np.concatenate([np.full(groups[g].size, j) for j, g in enumerate(pick)]) if pair is not None \
                else np.full(idx.size, -1)
            sub = S.take(idx, newpair)
            if sub.n1.sum() <= sub.n1.size or np.unique(idx).size < 2:
                continue
            with np.errstate(all="ignore"):
                est = _estimates(sub)
            est["cv_cluster_size"] = float(sub.n1.std(ddof=0) / sub.n1.mean())
            for k, val in est.items():
                boot.setdefault(k, []).append(val)
    # table -----------------------------------------------------------------------------------------------
    q = (1.0 - level) / 2.0
    rows = []
    n_obs = int(S.n1.sum())
    for term in TERMS:
        if term not in values:
            continue
        est_v = values[term]
        if term == "icc":
            lo, hi = _icc_interval(_oneway(S.n1, S.m1, S.d1), level)
            method = "anova (F interval)"
        elif term in boot and len(boot[term]):
            arr = np.asarray(boot[term], dtype=float)
            arr = arr[np.isfinite(arr)]
            lo, hi = (float(np.quantile(arr, q)), float(np.quantile(arr, 1 - q))) if arr.size else (math.nan,) * 2
            method = f"moments (bootstrap {unit_name})"
        else:
            lo = hi = math.nan
            method = "sample" if term in ("mean_cluster_size", "deff_weights", "attrition",
                                          "cv_cluster_weight") else "moments"
        rows.append({"term": term, "estimate": est_v, "ci_low": lo, "ci_high": hi, "method": method,
                     "n_obs": n_obs, "n_clusters": len(villages), "description": TERMS[term]})
    table = pd.DataFrame(rows)
    if weights is not None:
        notes.append("variance components are unweighted; the weights enter as deff_weights (within villages) and "
                     "cv_cluster_weight (the villages' summed weights)")
    if values.get("autocorr_cluster", 0.0) > 1 or values.get("autocorr_individual", 0.0) > 1:
        notes.append("an autocorrelation estimate above 1 (sampling error): planning uses 1")
    if values.get("icc", 0.0) < 0:
        notes.append("negative ICC estimate (between-cluster variance below its sampling noise): planning uses 0")
    return DesignParameters(table, values=values, outcome=outcome, level=level, draws=draws, unit=unit_name,
                            extra_notes=notes)


def _panel_stats(base: pd.DataFrame, foll: pd.DataFrame, *, outcome: str, unit: str,
                 villages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per village: panel households (in both waves, same village), their within SS per wave and cross-products."""
    b = base[[unit, "_c", outcome]].rename(columns={outcome: "y1"})
    f = foll[[unit, "_c", outcome]].rename(columns={outcome: "y2"})
    for name, d in (("baseline", b), ("follow-up", f)):
        dup = d[unit].duplicated()
        if dup.any():
            raise ValueError(f"unit {unit!r}: {d.loc[dup, unit].iloc[0]!r} appears twice in the {name} wave")
    m = b.merge(f, on=[unit, "_c"], how="inner")
    idx = pd.Index(villages)
    o = np.zeros(len(villages))
    p1 = np.zeros(len(villages))
    p2 = np.zeros(len(villages))
    pc = np.zeros(len(villages))
    if len(m):
        g = m.groupby("_c")
        d1 = m["y1"] - g["y1"].transform("mean")
        d2 = m["y2"] - g["y2"].transform("mean")
        agg = pd.DataFrame({"_c": m["_c"], "one": 1.0, "a": d1 ** 2, "b": d2 ** 2, "c": d1 * d2}).groupby("_c").sum()
        pos = idx.get_indexer(agg.index)
        o[pos] = agg["one"].to_numpy()
        p1[pos], p2[pos], pc[pos] = agg["a"].to_numpy(), agg["b"].to_numpy(), agg["c"].to_numpy()
    return o, p1, p2, pc
