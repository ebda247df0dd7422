"""Analytic minimum detectable effects, power and sample sizes.

Every calculation has the same three pieces:

1. the **standard error** of the effect estimator in standard-deviation units (:meth:`Design.variance`),
   from the design (clusters, households per cluster, waves, attrition) and the variance components
   (intra-cluster correlation, correlations over time, pair correlation, explained variance);
2. the **degrees of freedom** of its t statistic (:meth:`Design.df`);
3. the **t distribution**: power is the probability that a t statistic with noncentrality
   ``λ = effect / SE`` exceeds the critical value (noncentral t, exact for the t test under the model),
   and the minimum detectable effect is ``MDE = M · SE`` with the multiplier ``M`` solving
   power(M) = target.

PowerUp! (Dong & Maynard 2013) and its R port PowerUpR compute the MDE with the approximate multiplier
``M = t_{1-α/2, df} + t_{1-β, df}`` (central t quantiles; ``t_{1-α, df}`` one-sided) and power with the
noncentral t. ``method="powerup"`` reproduces that (the published PowerUp! examples are validated with
it); the default ``method="noncentral"`` inverts the noncentral t exactly, so that ``power(mde) = target``
holds to machine precision. The two multipliers differ by well under 1 % once df ≥ 10 and by up to a few
percent with very few degrees of freedom.

Designs (``design=``)
---------------------
``individual_rct``
    Individuals randomised (PowerUp! IRA1_1r, R ``pwr.t.test`` / ``pwr.t2n.test`` without covariates):
    ``Var = (1 - R²₁) / (p (1 - p) n)``, df = n − g − 2.
``cluster_rct``
    Two-level cluster-randomised trial, outcome measured once (PowerUp! CRA2_2r):
    ``Var = ρ (1 - R²₂) / (p (1 - p) J) + (1 - ρ)(1 - R²₁) / (p (1 - p) J n)``, df = J − g − 2.
``matched_pair_did``
    Matched pairs of clusters (one treated and k comparison clusters per pair), households surveyed in
    ``waves`` rounds (a panel with attrition), effect estimated by difference-in-differences with cluster
    and pair × wave fixed effects (the study's estimator, :func:`welfare_eval.did.estimate` with
    ``unit=`` the village): df = pairs − g − 1 (the paired-cluster t; CR1 uses G − 1).
``repeated_cross_section``
    The same DiD with new households in every wave (no household panel); unpaired by default
    (clusters = all clusters, df = J − g − 2), or paired with ``paired=True`` (clusters = pairs).

Variance of the DiD contrast
----------------------------
The outcome (variance 1 within a wave) is the sum of independent parts: cluster (village) effects with
share ``icc`` = ρ, of which a share ``autocorr_cluster`` = φ_c persists over waves and the rest are
wave-specific shocks; a share ``pair_correlation`` = π of the wave-specific shocks is common to the two
(or 1 + k) villages of a pair and is removed by the pair × wave fixed effects; household effects with
share 1 − ρ, of which ``autocorr_individual`` = φ_h persists (panel households). With ``T₀`` waves before
and ``T₁`` after, the contrast vector ``c_t = -1/T₀`` (before) and ``+1/T₁`` (after) gives per cluster ::

    V = ρ (1 − φ_c)(1 − π)(1 − R²₂)(1 + CV²) · (1/T₀ + 1/T₁)  +  (1 − ρ)(1 − R²₁) · c'Σc

where ``Σ`` is the covariance of the household means of the waves (``Σ_tt = 1/n_t``,
``Σ_ts = φ_h · o_ts / (n_t n_s)`` with ``o_ts`` households common to waves t and s: with ``attrition`` a
and replacement, ``n_t = n`` and ``o_ts = n (1 − a)^{|t−s|}``; without replacement
``n_t = n (1 − a)^t``; no overlap in repeated cross-sections). The effect estimate is a difference of
such contrasts between treated and comparison clusters, so ``Var(τ̂) = V / (p (1 − p) J)``
(with pairs: ``J = P (1 + k)``, ``p = 1 / (1 + k)``, i.e. ``V (1 + 1/k) / P``). The persistent cluster
and household effects cancel; this is McKenzie's (2012) "beyond baseline and follow-up" variance with
the cluster level added (Burlig, Preonas & Woerman 2020 give the general serial-correlation version).

Unequal cluster sizes
    ``cv_cluster_size`` (coefficient of variation of households per cluster). Unpaired designs: the
    cluster variance term is multiplied by ``1 + CV²``, the design-effect correction of Eldridge, Ashby
    & Kerry (2006), ``1 + ((CV² + 1) n̄ − 1) ρ``, exact (in expectation) for an analysis that weights
    households equally. Paired designs: the pair fixed effects weight each pair by the harmonic mean of
    its cluster sizes, which is less variable; with gamma-distributed sizes the factors are closed form
    (:meth:`Design.size_factors`): for 1:1 pairs and CV = 0.5 the cluster term grows by 1.13 (Eldridge:
    1.25) and the household term by 1.125.
Survey weights
    ``deff_weights`` multiplies the household (within-cluster) variance term: Kish's (1965) design effect
    of unequal weights within clusters, ``1 + CV²_w = n Σw² / (Σw)²``, assuming the
    weights are unrelated to the outcome (for ``individual_rct`` the whole variance); compute it with
    :func:`welfare_eval.survey.kish_deff` (within clusters: :func:`welfare_eval.survey.kish_deff_by`). A weighted mean of
    a cluster's households carries the cluster's effect whatever the weights, so within-cluster weights
    leave the cluster term alone; weights that differ *between* clusters set the clusters' weights in the
    estimate and act like unequal cluster sizes: pass the CV of the clusters' summed weights as
    ``cv_cluster_size`` (:meth:`DesignParameters.as_dict` does).
Covariates
    ``r2_cluster`` / ``r2_individual``: share of the cluster / household variance left in the contrast
    that covariates explain (PowerUp!'s R²₂, R²₁); ``covariates`` = number of cluster-level covariates g*
    (each costs one degree of freedom).

References
----------
Dong, N. & Maynard, R. (2013). PowerUp!: A tool for calculating minimum detectable effect sizes and
minimum required sample sizes for experimental and quasi-experimental design studies. *Journal of
Research on Educational Effectiveness* 6(1), 24–67. doi:10.1080/19345747.2012.673143.
Eldridge, S. M., Ashby, D. & Kerry, S. (2006). Sample size for cluster randomized trials: effect of
coefficient of variation of cluster size and analysis method. *Int. J. Epidemiology* 35, 1292–1300.
McKenzie, D. (2012). Beyond baseline and follow-up: the case for more T in experiments. *J. Development
Economics* 99, 210–221.
Kish, L. (1965). *Survey Sampling*. Wiley.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import optimize, stats

__all__ = [
    "DESIGNS",
    "METHODS",
    "Design",
    "build_design",
    "deff_cluster_size",
    "multiplier",
    "power_from_ncp",
]

DESIGNS: tuple[str, ...] = ("individual_rct", "cluster_rct", "matched_pair_did", "repeated_cross_section")
METHODS: tuple[str, ...] = ("noncentral", "powerup")
Method = Literal["noncentral", "powerup"]

#: Largest sample size the solvers search (clusters, households per cluster or individuals).
MAX_SIZE = 10**8


# ------------------------------------------------------------------------------------------------
# design effects
# ------------------------------------------------------------------------------------------------
def deff_cluster_size(*, per_cluster: float, icc: float, cv_cluster_size: float = 0.0) -> float:
    """Design effect of a cluster sample with unequal cluster sizes (Eldridge, Ashby & Kerry 2006).

    ``1 + ((CV² + 1) n̄ − 1) ρ``; with equal sizes (``CV = 0``) the familiar ``1 + (n̄ − 1) ρ``.
    """
    _check_unit(icc, "icc")
    if cv_cluster_size < 0 or not math.isfinite(cv_cluster_size):
        raise ValueError(f"cv_cluster_size={cv_cluster_size}: must be ≥ 0")
    if per_cluster < 1:
        raise ValueError(f"per_cluster={per_cluster}: must be ≥ 1")
    return 1.0 + ((cv_cluster_size**2 + 1.0) * per_cluster - 1.0) * icc


# ------------------------------------------------------------------------------------------------
# t distribution
# ------------------------------------------------------------------------------------------------
def critical_value(df: float, alpha: float, two_sided: bool) -> float:
    """Critical value of the t test: ``t_{1-α/2, df}`` (two-sided) or ``t_{1-α, df}``."""
    return float(stats.t.ppf(1.0 - (alpha / 2.0 if two_sided else alpha), df))


def nct_cdf(t: float, df: float, ncp: float) -> float:
    """Noncentral t distribution function ``P(T ≤ t)``.

    SciPy's ``nctdtr`` (Boost) returns NaN in part of the far tails (e.g. ``P(T < −2.8)`` with df = 4
    and noncentrality 7.9); there the value is computed from its definition
    ``T = (Z + λ) / √(V/df)``: ``P(T ≤ t) = ∫ Φ(t √(v/df) − λ) f_χ²(v; df) dv`` by adaptive quadrature
    over the central 1 − 2·10⁻¹⁶ of the χ² distribution.
    """
    from scipy import integrate, special

    p = float(special.nctdtr(df, ncp, t))
    if math.isfinite(p) and 0.0 <= p <= 1.0:
        return p
    lo, hi = float(stats.chi2.ppf(1e-16, df)), float(stats.chi2.isf(1e-16, df))
    val, _ = integrate.quad(lambda v: stats.norm.cdf(t * math.sqrt(v / df) - ncp) * stats.chi2.pdf(v, df),
                            lo, hi, points=[max(df - 2.0, lo * 1.0001)], epsabs=1e-300, epsrel=1e-10, limit=200)
    return min(max(float(val), 0.0), 1.0)


def power_from_ncp(ncp: float, df: float, alpha: float, two_sided: bool) -> float:
    """Power of the t test when the statistic is noncentral t with ``df`` and noncentrality ``ncp``.

    Two-sided: ``P(T > t_c) + P(T < −t_c)``; one-sided: ``P(T > t_c)`` (the effect's sign is the
    hypothesised direction, so a negative ``ncp`` gives power below α).
    """
    tc = critical_value(df, alpha, two_sided)
    p = 1.0 - nct_cdf(tc, df, ncp)
    if two_sided:
        p += nct_cdf(-tc, df, ncp)
    return min(max(p, 0.0), 1.0)


def multiplier(df: float, *, alpha: float, power: float, two_sided: bool, method: Method = "noncentral") -> float:
    """The MDE multiplier ``M`` (MDE = M · SE).

    ``method="noncentral"``: the noncentrality at which the t test has exactly the target power;
    ``"powerup"``: PowerUp!'s ``t_{1-α/2, df} + t_{power, df}`` (central t quantiles).
    """
    if method == "powerup":
        return critical_value(df, alpha, two_sided) + float(stats.t.ppf(power, df))
    if method != "noncentral":
        raise ValueError(f"method={method!r}: choose one of {METHODS}")
    if power <= alpha:
        raise ValueError(f"power={power} must exceed alpha={alpha} (the test's size)")
    start = critical_value(df, alpha, two_sided) + float(stats.t.ppf(power, df))
    hi = max(2.0 * start, 1.0)
    while power_from_ncp(hi, df, alpha, two_sided) < power:
        hi *= 2.0
    return float(optimize.brentq(lambda m: power_from_ncp(m, df, alpha, two_sided) - power, 0.0, hi,
                                 xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=500))


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------
def _check_unit(x: float, name: str, *, closed_high: bool = False, low_open: bool = False) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}={x!r}: must be a number")
    v = float(x)
    ok = (0.0 < v if low_open else 0.0 <= v) and (v <= 1.0 if closed_high else v < 1.0)
    if not (math.isfinite(v) and ok):
        lo = "(0" if low_open else "[0"
        hi = "1]" if closed_high else "1)"
        raise ValueError(f"{name}={x!r}: must be in {lo}, {hi}")
    return v


def _check_corr(x: float, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}={x!r}: must be a number")
    v = float(x)
    if not (math.isfinite(v) and -1.0 <= v <= 1.0):
        raise ValueError(f"{name}={x!r}: must be a correlation in [-1, 1]")
    return v


def _check_count(x: Any, name: str, *, minimum: int = 1) -> int:
    """A whole number ≥ minimum (integral floats such as 18.0 are accepted)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}={x!r}: must be a whole number")
    v = float(x)
    if not math.isfinite(v) or v != math.floor(v):
        raise ValueError(f"{name}={x!r}: must be a whole number (sample sizes are counts)")
    if v < minimum:
        raise ValueError(f"{name}={x!r}: must be at least {minimum}")
    return int(v)


def check_alpha_power(alpha: float, power: float | None = None) -> None:
    """``alpha`` and ``power`` must lie in (0, 1)."""
    _check_unit(alpha, "alpha", low_open=True)
    if power is not None:
        _check_unit(power, "power", low_open=True)


# ------------------------------------------------------------------------------------------------
# the design
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """A design and its variance components; computes the standard error and degrees of freedom.

    Sizes may be real numbers here (the sample-size solvers evaluate non-integer sizes); the public
    functions accept whole numbers only. See the module docstring for the formulas.
    """

    design: str
    clusters: float = math.nan
    per_cluster: float = math.nan
    n: float = math.nan
    icc: float = 0.0
    r2_cluster: float = 0.0
    r2_individual: float = 0.0
    treated_share: float = 0.5
    covariates: int = 0
    pair_correlation: float = 0.0
    autocorr_cluster: float = 0.0
    autocorr_individual: float = 0.0
    waves: int = 2
    pre_waves: int = 1
    attrition: float = 0.0
    replace: bool = True
    cv_cluster_size: float = 0.0
    deff_weights: float = 1.0
    paired: bool = False

    # -- structure -------------------------------------------------------------------------------
    @property
    def is_did(self) -> bool:
        return self.design in ("matched_pair_did", "repeated_cross_section")

    @property
    def panel(self) -> bool:
        """Households are followed over waves (matched_pair_did)."""
        return self.design == "matched_pair_did"

    @property
    def comparisons_per_pair(self) -> float:
        """k = comparison clusters per treated cluster, ``(1 − p) / p``."""
        return (1.0 - self.treated_share) / self.treated_share

    @property
    def total_clusters(self) -> float:
        """All clusters (treated and comparison): ``clusters`` or ``pairs × (1 + k)``."""
        if self.design == "individual_rct":
            return math.nan
        if self.paired:
            return self.clusters * (1.0 + self.comparisons_per_pair)
        return self.clusters

    @property
    def size_name(self) -> str:
        """What ``clusters`` counts: ``pairs`` or ``clusters``."""
        return "pairs" if self.paired else "clusters"

    def with_(self, **changes: Any) -> Design:
        return replace(self, **changes)

    # -- degrees of freedom ----------------------------------------------------------------------
    def df(self) -> float:
        """Degrees of freedom of the t statistic (see the module docstring)."""
        g = self.covariates
        if self.design == "individual_rct":
            return self.n - g - 2.0
        if self.paired:
            return self.clusters - g - 1.0
        return self.clusters - g - 2.0

    def df_rule(self) -> str:
        if self.design == "individual_rct":
            return "n − g − 2"
        return "pairs − g − 1" if self.paired else "clusters − g − 2"

    # -- variance --------------------------------------------------------------------------------
    def wave_sizes(self, per_cluster: float | None = None) -> np.ndarray:
        """Households per cluster in each wave (shrinking by ``1 − attrition`` without replacement)."""
        m = self.per_cluster if per_cluster is None else per_cluster
        if self.panel and not self.replace:
            return m * (1.0 - self.attrition) ** np.arange(self.waves)
        return np.full(self.waves, float(m))

    def wave_contrast(self) -> np.ndarray:
        """Weights of the wave means in the effect estimate (before: negative, after: positive).

        OLS with cluster and pair × wave fixed effects weights wave ``t`` by ``n_t (post_t − post̄)``,
        ``post̄`` the size-weighted share of later waves; with equal wave sizes this is ``−1/T₀`` before
        and ``+1/T₁`` after.
        """
        post = (np.arange(self.waves) >= self.pre_waves).astype(float)
        n_t = self.wave_sizes(1.0)
        dev = n_t * (post - np.sum(n_t * post) / np.sum(n_t))
        return dev / float(np.sum(dev * post))

    def household_wave_covariance(self, per_cluster: float | None = None) -> np.ndarray:
        """Covariance matrix of the household means of the waves (household part, unit variance)."""
        m = self.per_cluster if per_cluster is None else per_cluster
        T = self.waves
        keep = 1.0 - self.attrition
        t = np.arange(T)
        n_t = self.wave_sizes(m)
        cov = np.diag(1.0 / n_t)
        if self.panel and self.autocorr_individual != 0.0:
            lag = np.abs(t[:, None] - t[None, :])
            if self.replace:
                overlap = m * keep**lag
            else:
                overlap = m * keep ** np.maximum(t[:, None], t[None, :])
            off = self.autocorr_individual * overlap / np.outer(n_t, n_t)
            np.fill_diagonal(off, 0.0)
            cov = cov + off
        return cov

    def size_factors(self) -> tuple[float, float]:
        """Variance multipliers (cluster term, household term) for unequal cluster sizes.

        Unpaired designs (cluster_rct, unpaired DiD): Eldridge et al. (2006), ``(1 + CV², 1)``: the
        estimate weights clusters by their size, so the cluster term grows by ``Σm²/(Σm)² · J`` and
        the household term is unchanged.

        Paired designs: with pair × wave fixed effects the OLS estimate weights pair ``p`` by
        ``h_p = m_T S_C / (m_T + S_C)`` (``S_C`` the comparison clusters' households) and compares the
        treated cluster with the size-weighted comparison mean, so
        ``Var = [v_c Σ h_p² (1 + Q_p) + v_h Σ h_p] / (Σ h_p)²`` with ``Q_p = Σ m_c² / S_C²``. With
        independent gamma-distributed sizes (mean m̄, CV ⇒ shape a = 1/CV²) the expectations are closed
        form (``h = U·B(1 − B)``, ``U ~ Γ((k + 1) a)``, ``B ~ Beta(a, k a)``; comparison shares Dirichlet),
        and the ratio of expectations gives ``f_h = 1 + CV²/(k + 1)`` and
        ``f_c = E[h²](1 + E[Q]) / (E[h]² (1 + 1/k))``. Pairing halves the cost of unequal sizes
        relative to Eldridge's factor because a pair's weight depends on the harmonic mean of its
        cluster sizes.
        """
        cv = self.cv_cluster_size
        if cv <= 0:
            return 1.0, 1.0
        if not self.paired:
            return 1.0 + cv**2, 1.0
        a = 1.0 / cv**2
        k = self.comparisons_per_pair
        s = (k + 1.0) * a
        eh2_over_eh_sq = (a + 1.0) * (k * a + 1.0) * (s + 1.0) ** 2 / (k * a**2 * (s + 2.0) * (s + 3.0))
        eq = (a + 1.0) / (k * a + 1.0)
        f_c = eh2_over_eh_sq * (1.0 + eq) / (1.0 + 1.0 / k)
        f_h = 1.0 + cv**2 / (k + 1.0)
        return f_c, f_h

    def cluster_term(self) -> float:
        """Cluster-level variance per cluster (in units of the total variance)."""
        infl = (1.0 - self.r2_cluster) * self.size_factors()[0]
        if not self.is_did:
            return self.icc * infl
        c = self.wave_contrast()
        share = (1.0 - self.autocorr_cluster) * ((1.0 - self.pair_correlation) if self.paired else 1.0)
        return self.icc * share * infl * float(c @ c)

    def household_term(self, per_cluster: float | None = None) -> float:
        """Household-level variance per cluster (in units of the total variance)."""
        m = self.per_cluster if per_cluster is None else per_cluster
        if math.isinf(m):
            return 0.0
        scale = (1.0 - self.icc) * (1.0 - self.r2_individual) * self.size_factors()[1] * self.deff_weights
        if not self.is_did:
            return scale / (m * (1.0 - self.attrition))
        c = self.wave_contrast()
        return scale * float(c @ self.household_wave_covariance(m) @ c)

    def variance(self) -> float:
        """Variance of the effect estimator in squared standard-deviation units."""
        p = self.treated_share
        if self.design == "individual_rct":
            return (1.0 - self.r2_individual) / (p * (1.0 - p) * self.n) * self.deff_weights
        per = self.cluster_term() + self.household_term()
        return per / (p * (1.0 - p) * self.total_clusters)

    def std_error(self) -> float:
        """Standard error of the effect estimator in standard-deviation units."""
        return math.sqrt(self.variance())

    # -- results ---------------------------------------------------------------------------------
    def power(self, effect: float, *, alpha: float, two_sided: bool) -> float:
        """Power to detect ``effect`` (noncentral t)."""
        return power_from_ncp(effect / self.std_error(), self.df(), alpha, two_sided)

    def mde(self, *, alpha: float, power: float, two_sided: bool, method: Method = "noncentral") -> float:
        """Minimum detectable effect (``M · SE``)."""
        return multiplier(self.df(), alpha=alpha, power=power, two_sided=two_sided, method=method) * self.std_error()

    def describe(self) -> str:
        """One line describing the design (for notes)."""
        if self.design == "individual_rct":
            return f"individual randomisation: n = {_fmt(self.n)}, treated share {self.treated_share:g}"
        k = self.comparisons_per_pair
        if self.paired:
            who = f"{_fmt(self.clusters)} pairs (1 treated : {_fmt(k)} comparison)"
        else:
            who = f"{_fmt(self.clusters)} clusters (treated share {self.treated_share:g})"
        text = f"{self.design}: {who}, {_fmt(self.per_cluster)} per cluster, ICC {self.icc:g}"
        if self.is_did:
            text += (f", {self.waves} waves ({self.pre_waves} before, {self.waves - self.pre_waves} after), "
                     f"autocorrelation cluster {self.autocorr_cluster:g}")
            if self.panel:
                text += f" / household {self.autocorr_individual:g}, attrition {self.attrition:g}"
                text += " (replaced)" if self.replace else " (not replaced)"
            if self.paired:
                text += f", pair correlation {self.pair_correlation:g}"
        return text


def _fmt(x: float) -> str:
    return f"{x:g}" if not float(x).is_integer() else str(int(x))


# ------------------------------------------------------------------------------------------------
# building a design from the public keywords
# ------------------------------------------------------------------------------------------------
#: Keywords that only some designs use (with their neutral default) → designs that use them.
_APPLIES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "clusters": (None, ("cluster_rct", "matched_pair_did", "repeated_cross_section")),
    "per_cluster": (None, ("cluster_rct", "matched_pair_did", "repeated_cross_section")),
    "icc": (None, ("cluster_rct", "matched_pair_did", "repeated_cross_section")),
    "r2_cluster": (0.0, ("cluster_rct", "matched_pair_did", "repeated_cross_section")),
    "n": (None, ("individual_rct",)),
    "pair_correlation": (0.0, ("matched_pair_did", "repeated_cross_section")),
    "autocorr_cluster": (0.0, ("matched_pair_did", "repeated_cross_section")),
    "autocorr_individual": (0.0, ("matched_pair_did",)),
    "waves": (2, ("matched_pair_did", "repeated_cross_section")),
    "pre_waves": (1, ("matched_pair_did", "repeated_cross_section")),
    "attrition": (0.0, ("cluster_rct", "matched_pair_did")),
    "replace": (True, ("matched_pair_did",)),
    "cv_cluster_size": (0.0, ("cluster_rct", "matched_pair_did", "repeated_cross_section")),
    "comparisons_per_pair": (None, ("matched_pair_did", "repeated_cross_section")),
    "paired": (None, ("repeated_cross_section",)),
}


def build_design(
    *,
    design: str,
    clusters: Any = None,
    per_cluster: Any = None,
    n: Any = None,
    icc: Any = None,
    r2_cluster: float = 0.0,
    r2_individual: float = 0.0,
    treated_share: float = 0.5,
    covariates: Any = 0,
    pair_correlation: float = 0.0,
    autocorr_cluster: float = 0.0,
    autocorr_individual: float = 0.0,
    waves: Any = 2,
    pre_waves: Any = 1,
    attrition: float = 0.0,
    replace: bool = True,
    cv_cluster_size: float = 0.0,
    deff_weights: float = 1.0,
    comparisons_per_pair: Any = None,
    paired: bool | None = None,
    require: tuple[str, ...] = ("clusters", "per_cluster", "n"),
) -> Design:
    """Validate the public keywords and return a :class:`Design` (one-line ``ValueError`` otherwise).

    ``require`` lists the sizes that must be given (the sample-size solvers leave one out).
    """
    if design not in DESIGNS:
        raise ValueError(f"design={design!r}: choose one of {', '.join(DESIGNS)}")
    given = dict(clusters=clusters, per_cluster=per_cluster, icc=icc, r2_cluster=r2_cluster, n=n,
                 pair_correlation=pair_correlation, autocorr_cluster=autocorr_cluster,
                 autocorr_individual=autocorr_individual, waves=waves, pre_waves=pre_waves,
                 attrition=attrition, replace=replace, cv_cluster_size=cv_cluster_size,
                 comparisons_per_pair=comparisons_per_pair, paired=paired)
    for key, (neutral, designs) in _APPLIES.items():
        value = given[key]
        if design not in designs and value is not None and not _same(value, neutral):
            raise ValueError(
                f"{key}={value!r} does not apply to design={design!r} (used by {', '.join(designs)})"
            )
    # is the design paired?
    if design == "matched_pair_did":
        if paired is not None and not paired:
            raise ValueError("design='matched_pair_did' is paired; use design='repeated_cross_section' unpaired")
        is_paired = True
    elif design == "repeated_cross_section":
        is_paired = bool(paired) if paired is not None else False
    else:
        is_paired = False
    if not is_paired and not _same(pair_correlation, 0.0):
        raise ValueError("pair_correlation applies to paired designs (matched_pair_did, or "
                         "repeated_cross_section with paired=True)")

    # shares --------------------------------------------------------------------------------------
    p = _check_unit(treated_share, "treated_share", low_open=True)
    if comparisons_per_pair is not None:
        if not is_paired:
            raise ValueError("comparisons_per_pair applies to paired designs")
        k = _check_count(comparisons_per_pair, "comparisons_per_pair", minimum=1)
        if not _same(treated_share, 0.5) and abs(p - 1.0 / (1.0 + k)) > 1e-12:
            raise ValueError(f"treated_share={treated_share} contradicts comparisons_per_pair={k} "
                             f"(1:{k} pairs have treated share {1 / (1 + k):.4g}); give one of them")
        p = 1.0 / (1.0 + k)
    elif is_paired and p > 0.5 + 1e-12:
        raise ValueError(f"treated_share={treated_share}: pairs have one treated cluster and k ≥ 1 comparison "
                         "clusters, so the treated share is 1/(1 + k) ≤ 0.5")
    r2c = _check_unit(r2_cluster, "r2_cluster")
    r2i = _check_unit(r2_individual, "r2_individual")
    g = _check_count(covariates, "covariates", minimum=0)
    pc = _check_unit(pair_correlation, "pair_correlation", closed_high=True)
    ac = _check_corr(autocorr_cluster, "autocorr_cluster")
    ai = _check_corr(autocorr_individual, "autocorr_individual")
    att = _check_unit(attrition, "attrition")
    if not isinstance(cv_cluster_size, (int, float, np.integer, np.floating)) or isinstance(cv_cluster_size, bool) \
            or not math.isfinite(float(cv_cluster_size)) or float(cv_cluster_size) < 0:
        raise ValueError(f"cv_cluster_size={cv_cluster_size!r}: must be a number ≥ 0")
    if not isinstance(deff_weights, (int, float, np.integer, np.floating)) or isinstance(deff_weights, bool) \
            or not math.isfinite(float(deff_weights)) or float(deff_weights) < 1:
        raise ValueError(f"deff_weights={deff_weights!r}: must be a number ≥ 1 (Kish's design effect)")
    if not isinstance(replace, (bool, np.bool_)):
        raise ValueError(f"replace={replace!r}: must be True or False")
    T = _check_count(waves, "waves", minimum=2)
    T0 = _check_count(pre_waves, "pre_waves", minimum=1)
    if T0 >= T:
        raise ValueError(f"pre_waves={T0} must be smaller than waves={T} (at least one wave after the start)")

    # sizes and the ICC ---------------------------------------------------------------------------
    if design == "individual_rct":
        nn = math.nan
        if "n" in require:
            if n is None:
                raise ValueError("design='individual_rct' needs n= (total number of individuals)")
            nn = float(_check_count(n, "n", minimum=2))
        icc_v = 0.0
        J = m = math.nan
    else:
        if icc is None:
            raise ValueError(f"design={design!r} needs icc= (intra-cluster correlation in [0, 1))")
        icc_v = _check_unit(icc, "icc")
        nn = math.nan
        J = m = math.nan
        if "clusters" in require:
            what = "pairs" if is_paired else "clusters"
            if clusters is None:
                raise ValueError(f"design={design!r} needs clusters= (number of {what})")
            J = float(_check_count(clusters, "clusters", minimum=1))
            if J < 2:
                raise ValueError(f"clusters={clusters}: need at least 2 {what}")
        if "per_cluster" in require:
            if per_cluster is None:
                raise ValueError(f"design={design!r} needs per_cluster= (individuals per cluster and wave)")
            m = float(_check_count(per_cluster, "per_cluster", minimum=1))
    des = Design(design=design, clusters=J, per_cluster=m, n=nn, icc=icc_v, r2_cluster=r2c, r2_individual=r2i,
                 treated_share=p, covariates=g, pair_correlation=pc, autocorr_cluster=ac, autocorr_individual=ai,
                 waves=T, pre_waves=T0, attrition=att, replace=bool(replace),
                 cv_cluster_size=float(cv_cluster_size), deff_weights=float(deff_weights), paired=is_paired)
    if ("clusters" in require and design != "individual_rct") or ("n" in require and design == "individual_rct"):
        if des.df() < 1:
            raise ValueError(f"too few {'individuals' if design == 'individual_rct' else des.size_name}: "
                             f"df = {des.df_rule()} = {_fmt(des.df())} < 1")
    return des


#: The keywords of :func:`build_design` that the public functions share.
DESIGN_KEYS: tuple[str, ...] = (
    "design", "clusters", "per_cluster", "n", "icc", "r2_cluster", "r2_individual", "treated_share", "covariates",
    "pair_correlation", "autocorr_cluster", "autocorr_individual", "waves", "pre_waves", "attrition", "replace",
    "cv_cluster_size", "deff_weights", "comparisons_per_pair", "paired",
)


def design_from(values: dict[str, Any], **override: Any) -> Design:
    """:func:`build_design` from a public function's arguments (``locals()``), with ``override`` applied."""
    kw = {k: values[k] for k in DESIGN_KEYS if k in values}
    kw.update(override)
    return build_design(**kw)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # pragma: no cover - exotic inputs
        return False


# ------------------------------------------------------------------------------------------------
# sample-size search
# ------------------------------------------------------------------------------------------------
def smallest_size(
    ok: Callable[[int], bool], *, start: int, what: str
) -> int:
    """Smallest integer ``k ≥ start`` with ``ok(k)`` (``ok`` monotone: False ... False True ... True)."""
    if ok(start):
        return start
    lo, hi = start, max(2 * start, start + 1)
    while not ok(hi):
        lo, hi = hi, 2 * hi
        if hi > MAX_SIZE:
            raise ValueError(f"no {what} up to {MAX_SIZE:,} reaches the target; check the inputs")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def root_size(f: Callable[[float], float], *, lo: float, hi: float) -> float:
    """Real root of the increasing function ``f`` on ``[lo, hi]`` (``f(hi) ≥ 0``); ``lo`` if ``f(lo) ≥ 0``."""
    if f(lo) >= 0:
        return lo
    return float(optimize.brentq(f, lo, hi, xtol=1e-10, rtol=4 * np.finfo(float).eps, maxiter=500))
