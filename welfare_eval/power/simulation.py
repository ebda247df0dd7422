"""Simulation power with the project's own estimator (DeclareDesign-style diagnosis).

:func:`simulate_design` draws household × wave data from the variance components of
:mod:`welfare_eval.power.analytic` (pairs, clusters, households, waves, panel attrition, unequal cluster
sizes, survey weights); :func:`simulate_power` estimates the effect in each draw with
:func:`welfare_eval.did.estimate` (the study's specification: cluster fixed effects, pair × wave fixed
effects, clustered by pair) and counts how often each inference method rejects. The analytic power is
reported beside it: they agree where the analytic assumptions hold (equal cluster sizes, enough pairs,
a t test), and the simulation shows where they do not (a handful of pairs, where the wild bootstrap and
randomization inference have too few distinct draws to reject at 5 %; very unequal cluster sizes).

Data-generating model (outcome variance 1 within a wave, matching the analytic parameters)::

    y_ivt = c_p + c_v + s_pt + w_vt + h_i + e_it + effect · treated_v · post_t

    var(c_p + c_v) = ρ φ_c        (persistent cluster effects, share π of it common to the pair)
    var(s_pt)      = ρ (1 − φ_c) π      pair × wave shocks (removed by pair × wave fixed effects)
    var(w_vt)      = ρ (1 − φ_c)(1 − π) cluster × wave shocks
    var(h_i)       = (1 − ρ) φ_h        persistent household effects (panel households)
    var(e_it)      = (1 − ρ)(1 − φ_h)   household × wave noise

Cluster sizes: ``per_cluster`` each, or, with ``cv_cluster_size`` > 0, gamma-distributed with that mean
and coefficient of variation, rounded (at least 1 household). Panel: each household of a wave stays for
the next with probability 1 − ``attrition`` and leavers are replaced by new households
(``replace=True``) or not (then a cluster keeps at least one household). Weights (``deff_weights`` > 1): log-normal household weights with Kish design effect
``deff_weights`` in expectation, independent of the outcome, constant over waves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._progress import progress
from .analytic import Design, check_alpha_power, design_from, power_from_ncp
from .results import SimulationResult

__all__ = ["simulate_design", "simulate_power"]

T_METHODS = ("iid", "hc1", "cr1", "cr2", "cr3", "jackknife")
SIM_METHODS = (*T_METHODS, "wild", "ri")


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run BLAS / LAPACK on one thread: thousands of small decompositions are up to 100 × faster than
    with OpenBLAS's thread pool, which spins when the cores are busy (``threadpoolctl`` if installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def simulate_design(design: Design, *, effect: float = 0.0, rng: np.random.Generator | int = 0) -> pd.DataFrame:
    """One draw of household × wave data from ``design`` (a :class:`~welfare_eval.power.Design`).

    Returns a DataFrame with ``pair``, ``cluster``, ``treated``, ``hh``, ``wave`` (0, 1, ...), ``post``,
    ``y`` and ``weight``.
    """
    if not design.is_did:
        raise ValueError(f"simulate_design: design={design.design!r} is not a DiD design "
                         "(use matched_pair_did or repeated_cross_section)")
    rng = np.random.default_rng(rng)
    rho, pc, phc = design.icc, design.pair_correlation, design.autocorr_cluster
    phh = design.autocorr_individual if design.panel else 0.0
    if phc < 0 or phh < 0:
        raise ValueError("simulate_design: negative correlations over waves cannot be simulated with this model")
    T, T0 = design.waves, design.pre_waves
    # clusters -------------------------------------------------------------------------------------------
    if design.paired:
        k = design.comparisons_per_pair
        if abs(k - round(k)) > 1e-9:
            raise ValueError(f"simulate_design: 1:k pairs need a whole k (treated_share = {design.treated_share:g})")
        k = round(k)
        P = int(design.clusters)
        pair = np.repeat(np.arange(P), 1 + k)
        treated = np.tile(np.r_[1, np.zeros(k, dtype=int)], P)
    else:
        J = int(design.clusters)
        n_t = round(design.treated_share * J)
        if not 0 < n_t < J:
            raise ValueError(f"simulate_design: {J} clusters × treated share {design.treated_share:g} leaves an arm empty")
        P = 1
        pair = np.zeros(J, dtype=int)
        treated = np.r_[np.ones(n_t, dtype=int), np.zeros(J - n_t, dtype=int)]
    V = pair.size
    m = int(design.per_cluster)
    if design.cv_cluster_size > 0:
        cv2 = design.cv_cluster_size**2
        sizes = np.maximum(1, np.rint(rng.gamma(1.0 / cv2, m * cv2, size=V))).astype(int)
    else:
        sizes = np.full(V, m)
    # cluster components ---------------------------------------------------------------------------------
    sd = math.sqrt
    c = (rng.normal(0, sd(rho * phc * pc), P)[pair] + rng.normal(0, sd(rho * phc * (1 - pc)), V))
    s = rng.normal(0, sd(rho * (1 - phc) * pc), (P, T))[pair]  # V × T
    w = rng.normal(0, sd(rho * (1 - phc) * (1 - pc)), (V, T))
    cluster_wave = c[:, None] + s + w
    # households and waves -------------------------------------------------------------------------------
    hh_parts, v_parts, t_parts = [], [], []
    next_id = 0
    keep_p = 1.0 - design.attrition
    for v in range(V):
        cur = np.arange(next_id, next_id + sizes[v])
        next_id += sizes[v]
        for t in range(T):
            if t > 0:
                if design.panel:
                    stay = cur[rng.random(cur.size) < keep_p]
                    if stay.size == 0 and not design.replace:  # keep every cluster in every wave
                        stay = cur[rng.integers(cur.size, size=1)]
                    if design.replace:
                        new = np.arange(next_id, next_id + sizes[v] - stay.size)
                        next_id += new.size
                        cur = np.concatenate([stay, new])
                    else:
                        cur = stay
                else:
                    cur = np.arange(next_id, next_id + sizes[v])
                    next_id += sizes[v]
            hh_parts.append(cur)
            v_parts.append(np.full(cur.size, v))
            t_parts.append(np.full(cur.size, t))
    hh = np.concatenate(hh_parts)
    vv = np.concatenate(v_parts)
    tt = np.concatenate(t_parts)
    h = rng.normal(0, sd((1 - rho) * phh), next_id)
    e = rng.normal(0, sd((1 - rho) * (1 - phh)), hh.size)
    post = (tt >= T0).astype(int)
    y = cluster_wave[vv, tt] + h[hh] + e + effect * treated[vv] * post
    if design.deff_weights > 1:
        s2 = math.log(design.deff_weights)
        wt = np.exp(rng.normal(-s2 / 2, math.sqrt(s2), next_id))[hh]
    else:
        wt = np.ones(hh.size)
    return pd.DataFrame({"pair": pair[vv], "cluster": vv, "treated": treated[vv], "hh": hh, "wave": tt,
                         "post": post, "y": y, "weight": wt})


def simulate_power(
    *,
    design: str = "matched_pair_did",
    clusters: int,
    per_cluster: int,
    icc: float,
    effect: float | Sequence[float],
    treated_share: float = 0.5,
    alpha: float = 0.05,
    two_sided: bool = True,
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
    inference: Sequence[str] = ("cr1", "cr2", "wild", "ri"),
    n_sims: int = 500,
    draws: int = 999,
    seed: int = 0,
) -> SimulationResult:
    """Monte Carlo power of :func:`welfare_eval.did.estimate` by inference method.

    Each of ``n_sims`` data sets is drawn by :func:`simulate_design` and analysed with the study's
    specification (``unit`` = cluster, pair × wave fixed effects, clustered by pair; unpaired
    ``repeated_cross_section``: cluster and wave fixed effects, clustered by cluster; survey weights when
    ``deff_weights`` > 1). A method rejects when its p-value is below ``alpha``.

    Parameters
    ----------
    design : {"matched_pair_did", "repeated_cross_section"}
        As in :func:`~welfare_eval.power.mde` (the other keywords too).
    effect : float or sequence of float
        Planted effect(s) in standard deviations; 0 gives the size (rejection rate under the null).
    inference : sequence of str
        Methods of :func:`welfare_eval.did.estimate` (``cr1``, ``cr2``, ``wild``, ``ri`` (which also gives
        ``ri_t``), ``cr3``, ``jackknife``, ``iid``, ``hc1``). One-sided tests only for the t-based methods.
    n_sims : int
        Simulated data sets per effect (Monte Carlo standard error ≤ 0.5/√n_sims).
    draws : int
        Wild bootstrap / randomization draws per data set (full enumeration when 2^pairs ≤ draws).
    seed : int
        Seed of the whole simulation (data and draws).

    Returns
    -------
    SimulationResult
        ``tidy()``: ``effect``, ``method``, ``power``, ``mc_std_error``, ``n_sims``, ``rejections``,
        ``analytic_power``, ``mean_estimate``, ``empirical_std_error``, ``analytic_std_error``;
        ``.estimates``: the estimate, CR1 standard error and p-values of every data set.
    """
    from welfare_eval.did import estimate

    check_alpha_power(alpha)
    if design not in ("matched_pair_did", "repeated_cross_section"):
        raise ValueError(f"simulate_power: design={design!r}; simulation covers 'matched_pair_did' and "
                         "'repeated_cross_section' (the DiD designs)")
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 1:
        raise ValueError(f"n_sims={n_sims!r}: must be a whole number ≥ 1")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws={draws!r}: must be a whole number ≥ 1")
    des = design_from(locals())
    methods = [inference] if isinstance(inference, str) else list(dict.fromkeys(inference))
    bad = [mm for mm in methods if mm not in SIM_METHODS]
    if bad or not methods:
        raise ValueError(f"inference: unknown method(s) {bad}; choose from {SIM_METHODS}")
    if not des.paired and "ri" in methods:
        raise ValueError("inference 'ri' swaps treatment within pairs; the unpaired design has no pairs")
    if not two_sided and any(mm in ("wild", "ri") for mm in methods):
        raise ValueError("one-sided tests are available for the t-based methods only (cr1, cr2, ...); "
                         "wild and ri report two-sided p-values")
    effects = [float(effect)] if isinstance(effect, (int, float, np.integer, np.floating)) else [
        float(x) for x in effect]
    if not effects or not all(math.isfinite(x) for x in effects):
        raise ValueError(f"effect={effect!r}: give finite effect size(s) in standard deviations")
    spec: dict[str, Any] = dict(outcome="y", treated="treated", post="post", period="wave", unit="cluster",
                                weights="weight" if des.deff_weights > 1 else None, draws=int(draws), confint=False)
    if des.paired:
        spec["pair"] = "pair"
    else:
        spec.update(pair="pair", cluster="cluster")  # pair is constant: pair × wave = wave fixed effects
    rng = np.random.default_rng(seed)
    se_an = des.std_error()
    df_an = des.df()
    rows: list[dict[str, Any]] = []
    est_rows: list[dict[str, Any]] = []
    total = len(effects) * n_sims
    it = ((e, s) for e in effects for s in range(n_sims))
    with _single_threaded_blas():
        for e, sim in progress(it, desc="simulating power", total=total):
            data = simulate_design(des, effect=e, rng=rng)
            res = estimate(data, inference=tuple(methods), seed=int(rng.integers(2**31)), **spec)
            tab = res.tidy()
            rec: dict[str, Any] = {"effect": e, "sim": sim, "estimate": float(tab["estimate"].iloc[0])}
            for _, r in tab.iterrows():
                meth = str(r["method"])
                if meth in T_METHODS and not two_sided:
                    p = float(stats.t.sf(r["statistic"] * (1 if e >= 0 else -1), r["df"]))
                else:
                    p = float(r["p_value"])
                rec[f"p_{meth}"] = p
                if meth == "cr1":
                    rec["std_error_cr1"] = float(r["std_error"])
            est_rows.append(rec)
    est = pd.DataFrame(est_rows)
    out_methods = [c[2:] for c in est.columns if c.startswith("p_")]
    for e in effects:
        sub = est[est["effect"] == e]
        n = len(sub)
        an = power_from_ncp(e / se_an, df_an, alpha, two_sided)
        for meth in out_methods:
            rej = int((sub[f"p_{meth}"] < alpha).sum())
            p_hat = rej / n
            rows.append({"effect": e, "method": meth, "power": p_hat,
                         "mc_std_error": math.sqrt(p_hat * (1 - p_hat) / n), "n_sims": n, "rejections": rej,
                         "analytic_power": an, "mean_estimate": float(sub["estimate"].mean()),
                         "empirical_std_error": float(sub["estimate"].std(ddof=1)) if n > 1 else math.nan,
                         "analytic_std_error": se_an})
    notes = []
    if des.cv_cluster_size > 0:
        notes.append("analytic power includes the Eldridge et al. (2006) correction for unequal cluster sizes")
    if not des.paired:
        notes.append("unpaired: analytic df = clusters − 2; CR1 uses clusters − 1")
    return SimulationResult(pd.DataFrame(rows), design=des, alpha=alpha, two_sided=bool(two_sided), seed=seed,
                            draws=int(draws), estimates=est, extra_notes=notes)
