"""Public analytic functions: :func:`mde`, :func:`power`, :func:`sample_size`, :func:`planning_table`.

All four take the same design keywords (see :mod:`welfare_eval.power.analytic` for the formulas) and
solve for a different unknown: the minimum detectable effect given the sample and the target power; the
power given the sample and an effect; the smallest sample (clusters, individuals per cluster or
individuals) given an effect and the target power; or a grid of MDEs (powers) for planning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .analytic import (
    METHODS,
    Design,
    Method,
    check_alpha_power,
    design_from,
    multiplier,
    power_from_ncp,
    root_size,
    smallest_size,
)
from .results import MDEResult, PlanningTable, PowerResult, SampleSizeResult

__all__ = ["mde", "planning_table", "power", "sample_size"]

F = TypeVar("F", bound=Callable[..., Any])

_DESIGN_DOC = """
    design : {"cluster_rct", "matched_pair_did", "repeated_cross_section", "individual_rct"}
        ``cluster_rct``: two-level cluster-randomised trial measured once (PowerUp! CRA2_2r).
        ``matched_pair_did``: matched pairs of clusters (1 treated : k comparison), a household panel over
        ``waves``, effect by difference-in-differences with cluster and pair × wave fixed effects.
        ``repeated_cross_section``: the same DiD with new households every wave (unpaired unless
        ``paired=True``). ``individual_rct``: individuals randomised (two-sample t; R ``pwr``).
    clusters : int
        Number of clusters (villages); for paired designs the number of **pairs**.
    per_cluster : int
        Individuals (households) per cluster and wave (the average with unequal sizes).
    icc : float
        Intra-cluster correlation in [0, 1): the share of the outcome's variance between clusters.
    r2_cluster, r2_individual : float
        Share of the cluster-level / individual-level variance (left in the contrast) explained by
        covariates, in [0, 1) (PowerUp!'s R²₂ and R²₁; for ``cluster_rct`` a baseline covariate with
        over-time correlation φ gives R² = φ²).
    treated_share : float
        Share of clusters (individuals) treated, in (0, 1); for pairs ``1 / (1 + k)``.
    alpha : float
        Type I error rate in (0, 1).
    two_sided : bool
        Two-sided test (default) or one-sided in the direction of the effect.
    n : int
        ``individual_rct`` only: total number of individuals (both arms).
    covariates : int
        Number of cluster-level covariates g* (each costs one degree of freedom).
    pair_correlation : float
        Paired designs: share of the clusters' wave-to-wave variance common to the clusters of a pair
        (removed by the pair × wave fixed effects), in [0, 1].
    autocorr_cluster, autocorr_individual : float
        DiD designs: correlation over waves of the cluster effects and of a panel household's effects
        (the persistent share that differencing removes), in [-1, 1].
    waves, pre_waves : int
        DiD designs: number of survey waves and how many of them come before the start (the effect is
        the mean of the later waves minus the mean of the earlier ones).
    attrition : float
        Share of a wave's households not re-interviewed in the next wave (``matched_pair_did``), or
        not interviewed at all (``cluster_rct``: per_cluster × (1 − attrition) respond), in [0, 1).
    replace : bool
        ``matched_pair_did``: leavers are replaced by new households (sample size constant, panel
        overlap (1 − a)^lag) or not (sample shrinks by (1 − a) per wave).
    cv_cluster_size : float
        Coefficient of variation of the clusters' weights in the estimate: their sizes, or their summed
        survey weights (Eldridge et al. 2006 correction; a closed-form refinement for pairs).
    deff_weights : float
        Kish design effect of the survey weights within clusters, ``1 + CV²_w`` ≥ 1
        (:func:`welfare_eval.survey.kish_deff_by`):
        multiplies the household variance (weights that vary between clusters belong in
        ``cv_cluster_size``, as the CV of the clusters' summed weights).
    comparisons_per_pair : int
        Paired designs: comparison clusters per treated cluster (alternative to ``treated_share``).
    paired : bool
        ``repeated_cross_section``: clusters are matched pairs (``clusters`` = pairs).
    method : {"noncentral", "powerup"}
        MDE multiplier: exact noncentral t (default) or PowerUp!'s ``t(1−α/2) + t(power)``."""


def _doc(func: F) -> F:
    func.__doc__ = (func.__doc__ or "").replace("    {design_keywords}", _DESIGN_DOC.strip("\n"))
    return func


def _check_method(method: str) -> Method:
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {METHODS}")
    return method  # type: ignore[return-value]


def _check_effect(effect: Any, name: str = "effect", *, positive: bool = False) -> float:
    if isinstance(effect, bool) or not isinstance(effect, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}={effect!r}: must be a number (effect size in standard deviations)")
    e = float(effect)
    if not math.isfinite(e) or (positive and e <= 0):
        raise ValueError(f"{name}={effect!r}: must be a {'positive ' if positive else ''}finite number "
                         "(standard-deviation units)")
    return e


@_doc
def mde(
    *,
    design: str,
    clusters: int | None = None,
    per_cluster: int | None = None,
    icc: float | None = None,
    r2_cluster: float = 0.0,
    r2_individual: float = 0.0,
    treated_share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    n: int | None = None,
    covariates: int = 0,
    pair_correlation: float = 0.0,
    autocorr_cluster: float = 0.0,
    autocorr_individual: float = 0.0,
    waves: int = 2,
    pre_waves: int = 1,
    attrition: float = 0.0,
    replace: bool = True,
    cv_cluster_size: float = 0.0,
    deff_weights: float = 1.0,
    comparisons_per_pair: int | None = None,
    paired: bool | None = None,
    method: str = "noncentral",
) -> MDEResult:
    """Minimum detectable effect (in standard deviations of the outcome) of a design.

    ``MDE = M · SE``: ``SE`` the standard error of the effect estimator in SD units, ``M`` the multiplier
    of a t test with the design's degrees of freedom at level ``alpha`` and the target ``power``.

    Parameters
    ----------
    {design_keywords}
    power : float
        Target power in (0, 1) (must exceed ``alpha``).

    Returns
    -------
    MDEResult
        ``.estimate`` the MDE; ``.std_error``, ``.df``, ``.multiplier``; ``tidy()``, ``summary()``,
        ``plot()`` (power curve).

    Examples
    --------
    >>> from welfare_eval import power as pw
    >>> round(pw.mde(design="cluster_rct", clusters=20, per_cluster=15, icc=0.17, method="powerup").estimate, 3)
    0.629
    """
    check_alpha_power(alpha, power)
    meth = _check_method(method)
    des = design_from(locals())
    if power <= alpha and meth == "noncentral":
        raise ValueError(f"power={power} must exceed alpha={alpha}")
    m = multiplier(des.df(), alpha=alpha, power=power, two_sided=two_sided, method=meth)
    return MDEResult(design=des, alpha=alpha, two_sided=bool(two_sided), method=meth, effect=m * des.std_error(),
                     power=power, multiplier_value=m)


@_doc
def power(
    *,
    design: str,
    effect: float,
    clusters: int | None = None,
    per_cluster: int | None = None,
    icc: float | None = None,
    r2_cluster: float = 0.0,
    r2_individual: float = 0.0,
    treated_share: float = 0.5,
    alpha: float = 0.05,
    two_sided: bool = True,
    n: int | None = None,
    covariates: int = 0,
    pair_correlation: float = 0.0,
    autocorr_cluster: float = 0.0,
    autocorr_individual: float = 0.0,
    waves: int = 2,
    pre_waves: int = 1,
    attrition: float = 0.0,
    replace: bool = True,
    cv_cluster_size: float = 0.0,
    deff_weights: float = 1.0,
    comparisons_per_pair: int | None = None,
    paired: bool | None = None,
    method: str = "noncentral",
) -> PowerResult:
    """Power of the design's t test to detect ``effect`` (noncentral t, exact under the model).

    Power = ``P(T > t_c) + P(T < −t_c)`` (two-sided; ``P(T > t_c)`` one-sided) with ``T`` noncentral t,
    ``df`` the design's degrees of freedom and noncentrality ``effect / SE``. ``method`` does not change
    the power (PowerUp! and PowerUpR also use the noncentral t for power); it only sets the MDE
    reported by ``.mde``.

    Parameters
    ----------
    effect : float
        Effect size in standard deviations of the outcome (the sign is the hypothesised direction).
    {design_keywords}

    Returns
    -------
    PowerResult
        ``.estimate`` the power; ``.multiplier`` the noncentrality ``effect / SE``.
    """
    check_alpha_power(alpha)
    meth = _check_method(method)
    e = _check_effect(effect)
    des = design_from(locals())
    ncp = e / des.std_error()
    pw = power_from_ncp(ncp, des.df(), alpha, bool(two_sided))
    return PowerResult(design=des, alpha=alpha, two_sided=bool(two_sided), method=meth, effect=e, power=pw,
                       multiplier_value=ncp)


@_doc
def sample_size(
    *,
    design: str,
    effect: float,
    solve_for: str | None = None,
    clusters: int | None = None,
    per_cluster: int | None = None,
    icc: float | None = None,
    r2_cluster: float = 0.0,
    r2_individual: float = 0.0,
    treated_share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    n: int | None = None,
    covariates: int = 0,
    pair_correlation: float = 0.0,
    autocorr_cluster: float = 0.0,
    autocorr_individual: float = 0.0,
    waves: int = 2,
    pre_waves: int = 1,
    attrition: float = 0.0,
    replace: bool = True,
    cv_cluster_size: float = 0.0,
    deff_weights: float = 1.0,
    comparisons_per_pair: int | None = None,
    paired: bool | None = None,
    method: str = "noncentral",
) -> SampleSizeResult:
    """Smallest sample that detects ``effect`` with the target ``power``.

    The answer is a whole number rounded up: the smallest number of clusters (pairs), individuals per
    cluster, or individuals with power ≥ ``power`` (``method="noncentral"``) or with MDE ≤ ``effect``
    (``method="powerup"``, PowerUp!'s rule). The degrees of freedom change with the number of clusters,
    so the search evaluates the t distribution at every candidate (PowerUp!'s MRSS iterates the same
    fixed point).

    Parameters
    ----------
    effect : float
        Effect size to detect, in standard deviations (> 0).
    solve_for : {"clusters", "per_cluster", "n"}
        The unknown (leave it out of the call): ``clusters`` (default; pairs for paired designs),
        ``per_cluster``, or ``n`` (``individual_rct``, the default there).
    {design_keywords}
    power : float
        Target power in (0, 1).

    Returns
    -------
    SampleSizeResult
        ``.estimate`` the integer size, ``.power`` the power achieved with it, ``.exact`` the real-valued
        solution, ``.achieved_mde`` the MDE of the rounded design.

    Raises
    ------
    ValueError
        If no sample reaches the target (e.g. ``solve_for="per_cluster"`` when even infinitely many
        individuals per cluster leave the cluster-level variance too large).
    """
    check_alpha_power(alpha, power)
    meth = _check_method(method)
    e = _check_effect(effect, positive=True)
    if solve_for is None:
        solve_for = "n" if design == "individual_rct" else "clusters"
    allowed = ("n",) if design == "individual_rct" else ("clusters", "per_cluster")
    if solve_for not in allowed:
        raise ValueError(f"solve_for={solve_for!r}: design={design!r} can solve for {', '.join(allowed)}")
    given = {"clusters": clusters, "per_cluster": per_cluster, "n": n}[solve_for]
    if given is not None:
        raise ValueError(f"solve_for={solve_for!r}: leave {solve_for}= out of the call (it is the unknown)")
    if power <= alpha:
        raise ValueError(f"power={power} must exceed alpha={alpha}")
    two = bool(two_sided)
    require = tuple(s for s in ("clusters", "per_cluster", "n") if s != solve_for)
    base = design_from(locals(), require=require)

    def at(k: float) -> Design:
        return base.with_(**{solve_for: float(k)})

    def margin(k: float) -> float:
        d = at(k)
        if meth == "powerup":
            return e - d.mde(alpha=alpha, power=power, two_sided=two, method="powerup")
        return d.power(e, alpha=alpha, two_sided=two) - power

    if solve_for == "per_cluster":
        start = 1
        limit = margin(math.inf)
        if limit < 0:
            best = at(math.inf)
            raise ValueError(
                f"no number of individuals per cluster reaches the target: with {int(base.clusters)} "
                f"{base.size_name} even infinitely many per cluster give power "
                f"{best.power(e, alpha=alpha, two_sided=two):.3f} for effect {e:g}; add {base.size_name}"
            )
    else:
        # smallest size with df ≥ 1 (and at least 2 clusters / pairs)
        g = base.covariates
        if solve_for == "n":
            start = g + 3
        elif base.paired:
            start = max(2, g + 2)
        else:
            start = max(2, g + 3)
    size = smallest_size(lambda k: margin(k) >= 0, start=start, what=solve_for)
    # real-valued solution between the last failing and the first passing whole number
    lo = max(size - 1.0, 0.01) if solve_for == "per_cluster" else max(size - 1.0, start - 0.75)
    exact = root_size(margin, lo=min(lo, float(size)), hi=float(size))
    final = at(size)
    achieved = final.power(e, alpha=alpha, two_sided=two)
    m_final = multiplier(final.df(), alpha=alpha, power=power, two_sided=two, method=meth)
    return SampleSizeResult(solve_for=solve_for, size=int(size), target_power=power,
                            achieved_mde=m_final * final.std_error(), design=final, alpha=alpha, two_sided=two,
                            method=meth, effect=e, power=achieved, multiplier_value=m_final, exact=exact)


@_doc
def planning_table(
    *,
    design: str,
    clusters: Sequence[int],
    per_cluster: Sequence[int],
    icc: float | None = None,
    effect: float | None = None,
    r2_cluster: float = 0.0,
    r2_individual: float = 0.0,
    treated_share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    covariates: int = 0,
    pair_correlation: float = 0.0,
    autocorr_cluster: float = 0.0,
    autocorr_individual: float = 0.0,
    waves: int = 2,
    pre_waves: int = 1,
    attrition: float = 0.0,
    replace: bool = True,
    cv_cluster_size: float = 0.0,
    deff_weights: float = 1.0,
    comparisons_per_pair: int | None = None,
    paired: bool | None = None,
    method: str = "noncentral",
) -> PlanningTable:
    """MDE at the target power (or power for ``effect``) over a grid of clusters × individuals per cluster.

    For planning an expansion: e.g. pairs of villages per cohort (``clusters``) × households surveyed
    per village (``per_cluster``).

    Parameters
    ----------
    clusters, per_cluster : sequence of int
        The grid (clusters are pairs for paired designs).
    effect : float, optional
        If given, the table holds the power to detect ``effect`` instead of the MDE.
    {design_keywords}
    power : float
        Target power of the MDE.

    Returns
    -------
    PlanningTable
        ``tidy()`` long (``clusters``, ``per_cluster``, ``n_clusters``, ``n_obs``, ``mde`` or ``power``,
        ``std_error``, ``df``), ``wide()``, ``plot()``.
    """
    check_alpha_power(alpha, power)
    meth = _check_method(method)
    if design == "individual_rct":
        raise ValueError("planning_table: design='individual_rct' has no clusters; use sample_size(solve_for='n')")
    cl = _grid(clusters, "clusters")
    pcs = _grid(per_cluster, "per_cluster")
    e = None if effect is None else _check_effect(effect)
    args = dict(locals())
    rows = []
    first: Design | None = None
    for J in cl:
        for m in pcs:
            d = design_from(args, clusters=J, per_cluster=m)
            first = first or d
            se = d.std_error()
            row: dict[str, Any] = {"clusters": J, "per_cluster": m, "n_clusters": d.total_clusters,
                                   "n_obs": d.total_clusters * m * (d.waves if d.is_did else 1)}
            if e is None:
                mult = multiplier(d.df(), alpha=alpha, power=power, two_sided=bool(two_sided), method=meth)
                row["mde"] = mult * se
            else:
                row["power"] = power_from_ncp(e / se, d.df(), alpha, bool(two_sided))
            row["std_error"] = se
            row["df"] = d.df()
            rows.append(row)
    assert first is not None
    table = pd.DataFrame(rows)
    return PlanningTable(table, value="mde" if e is None else "power", design=first, alpha=alpha,
                         two_sided=bool(two_sided), power=power if e is None else None, effect=e, method=meth)


def _grid(values: Any, name: str) -> list[int]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(
                float(v)) or float(v) != math.floor(float(v)) or v < 1:
            raise ValueError(f"{name}: {v!r} is not a whole number ≥ 1")
        out.append(int(v))
    if not out:
        raise ValueError(f"{name}: give at least one value")
    return sorted(dict.fromkeys(out))
