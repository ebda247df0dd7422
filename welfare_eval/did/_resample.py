"""Wild cluster bootstrap and randomization inference reduced to cluster-level algebra.

Both procedures are written so that, for every draw ``b`` and every hypothesised value ``r`` of the
tested coefficient, the statistic is a ratio of a linear and the square root of a quadratic function of
``r``::

    num_b(r) = n0_b - r n1_b
    den_b(r) = q00_b - 2 r q01_b + r^2 q11_b         (sum of squared cluster scores)
    coefficient statistic: num_b(r);  studentized: num_b(r) / sqrt(c den_b(r))

so a p-value at any ``r`` costs O(B) and confidence sets follow by exact test inversion (bisection on
the crossing points). The per-draw numbers come from G × G (wild) or G × K × K (randomization)
summaries, never from the N rows, so cost does not grow with the number of households (the idea of
Roodman, MacKinnon, Nielsen & Webb 2019, "Fast and wild", derived here directly for the restricted
wild cluster bootstrap-t with one tested coefficient).

Cost per draw: under full enumeration the wild bootstrap's quadratic forms are split between two halves of
the clusters (:func:`_five_enumerated`, O(G) per draw instead of O(G²)); randomization refits every
assignment by a batched Cholesky solve and two small matrix products per block of assignments
(:func:`randomization_terms`, O(G p²) per assignment and term). In test inversion, the studentized
statistic's draws that cannot reach the observed ``|t|`` at any ``r`` (a per-draw Cauchy–Schwarz bound)
are skipped (:meth:`DrawSet._above`): the counts, hence p-values and bounds, are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from ._linear import LinearFit

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "DrawSet",
    "randomization",
    "sign_matrix",
    "wild_bootstrap",
]

CHUNK = 1 << 15
#: assignments per block in :func:`randomization_terms` (per-assignment refits), and per sub-block of the
#: G-long cluster score vectors (sized to stay in the L2 cache)
RI_CHUNK = 1 << 14
RI_SUB = 1 << 11
#: largest number of coefficients solved by the vectorised Cholesky (LAPACK above)
SPD_LOOP_MAX = 8


def sign_matrix(g: int, draws: int, rng: np.random.Generator, *, kind: str = "rademacher") -> tuple[
    FloatArray, bool
]:
    """Bootstrap / assignment weights (draws × g) and whether they are the full enumeration.

    With Rademacher weights and ``2**g <= draws`` all ``2**g`` sign vectors are returned; they come in
    ± pairs and both statistics used here are odd in the signs, so only the half with ``v_1 = +1`` is
    returned (each row stands for two draws; p-values are unchanged).
    """
    if kind == "rademacher" and 2**g <= draws:
        return _enumeration(g), True
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(draws, g)), False
    if kind == "webb":
        vals = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
        return rng.choice(vals, size=(draws, g)), False
    raise ValueError(f"weights={kind!r}: use 'rademacher' or 'webb'")


@lru_cache(maxsize=4)
def _enumeration(g: int) -> FloatArray:
    """All sign vectors with ``v_1 = +1`` (2^(g-1) × g, read-only, cached: wild and ri share it)."""
    half = 2 ** (g - 1)
    codes = np.arange(half, dtype=np.int32)[:, None]
    bits = ((codes >> np.arange(g - 1, dtype=np.int32)[None, :]) & 1).astype(np.int8)
    v = np.ones((half, g))
    v[:, 1:] = 1 - 2 * bits
    v.setflags(write=False)
    return v


@lru_cache(maxsize=2)
def _enumeration_t(g: int) -> FloatArray:
    """:func:`_enumeration` transposed (g × 2^(g-1), C-contiguous, read-only): assignments along the last axis."""
    v = np.ascontiguousarray(_enumeration(g).T)
    v.setflags(write=False)
    return v


@dataclass
class DrawSet:
    """Per-draw coefficients of the statistic as a function of the hypothesised value ``r``."""

    n0: FloatArray
    n1: FloatArray
    q00: FloatArray
    q01: FloatArray
    q11: FloatArray
    factor: float  # small-sample factor c in the studentized statistic
    obs_n0: float
    obs_n1: float
    obs_q00: float
    obs_q01: float
    obs_q11: float
    enumerated: bool
    rule: Literal["wild", "ri"]
    #: studentized statistic: per draw a bound on |num(r)| / sqrt(den(r)) over every r, and the draws (with
    #: their coefficients) whose bound reaches 2^(k/4), by k (see :meth:`_above`)
    _sup: FloatArray | None = field(default=None, init=False, repr=False, compare=False)
    _levels: dict[int, tuple[npt.NDArray[np.intp], tuple[FloatArray, ...]] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def _sup_bound(self) -> FloatArray:
        """Per draw ``S ≥ max_r |n0 - r n1| / sqrt(q00 - 2 r q01 + r² q11)`` (``+inf`` where not safe).

        With ``u = (1, -r)`` and ``M = [[q00, q01], [q01, q11]]`` (a Gram matrix: the q's are sums of squares
        and cross-products of the cluster scores) the ratio is ``|u'n| / sqrt(u'Mu) ≤ sqrt(n'M⁻¹n)`` by
        Cauchy–Schwarz, for every ``r``. Used only where ``q01² ≤ (1 - 1e-6) q00 q11``: there the computed
        bound and the computed statistic are both within 1e-8 relative of exact (the rounding of a quadratic
        form is at most ``2 eps / (1 - |ρ|)`` of it), far inside the 1e-6 margin of :meth:`_above`; elsewhere
        ``S = +inf`` (the draw is always evaluated).
        """
        if self._sup is None:
            q00, q01, q11, n0, n1 = self.q00, self.q01, self.q11, self.n0, self.n1
            det = q00 * q11 - q01 * q01
            quad = q11 * n0 * n0 - 2.0 * q01 * n0 * n1 + q00 * n1 * n1
            safe = (q00 > 0) & (q11 > 0) & (det > 1e-6 * q00 * q11) & np.isfinite(quad)
            with np.errstate(divide="ignore", invalid="ignore"):
                self._sup = np.where(safe, np.sqrt(np.maximum(quad, 0.0) / det), np.inf)
        return self._sup

    def _above(self, ao: float) -> tuple[npt.NDArray[np.intp], tuple[FloatArray, ...]] | None:
        """Draws that can be greater than or tied with an observed studentized statistic ``|t| = ao`` (and
        their n0, n1, q00, q01, q11), or None when that is (nearly) every draw.

        Every other draw has ``|t*(r)| ≤ S / sqrt(c) < (1 - 1e-9) ao`` at any ``r`` (:meth:`_sup_bound`), so it
        is neither greater nor tied: counts over the returned draws equal counts over all draws. Subsets are
        cached on the grid ``2^(k/4)`` below the threshold, each computed from the next coarser one.
        """
        if not (np.isfinite(ao) and ao > 0):
            return None
        thr = ao * np.sqrt(self.factor) * (1 - 1e-9) / (1 + 1e-6)
        k = int(np.floor(4 * np.log2(thr)))
        if k < -40:
            return None
        k = min(k, 80)
        if k not in self._levels:
            coarser = [j for j in self._levels if j < k and self._levels[j] is not None]
            level = self._levels[max(coarser)] if coarser else None
            if level is not None:
                keep = self._sup_bound()[level[0]] >= 2.0 ** (k / 4)
                self._levels[k] = (level[0][keep], tuple(a[keep] for a in level[1]))
            else:
                idx = np.flatnonzero(self._sup_bound() >= 2.0 ** (k / 4))
                # more than half the draws: not worth a copy, the full evaluation is as fast
                self._levels[k] = None if idx.size > self.n0.size // 2 else (
                    idx, (self.n0[idx], self.n1[idx], self.q00[idx], self.q01[idx], self.q11[idx]))
        return self._levels[k]

    def _stat(self, r: float, n0: FloatArray | float, n1: FloatArray | float, q00: FloatArray | float,
              q01: FloatArray | float, q11: FloatArray | float, studentized: bool) -> FloatArray:
        num = np.asarray(n0) - r * np.asarray(n1)
        if not studentized:
            return np.asarray(num, dtype=float)
        den = np.asarray(q00) - 2 * r * np.asarray(q01) + r * r * np.asarray(q11)
        den = np.maximum(den, 0.0) * self.factor
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(num / np.sqrt(den), dtype=float)

    def stats(self, r: float, *, studentized: bool) -> tuple[FloatArray, float]:
        t = self._stat(r, self.n0, self.n1, self.q00, self.q01, self.q11, studentized)
        t_obs = float(self._stat(r, self.obs_n0, self.obs_n1, self.obs_q00, self.obs_q01, self.obs_q11,
                                 studentized))
        return t, t_obs

    def _counts(self, r: float, studentized: bool, sub: npt.NDArray[np.intp] | None = None) -> tuple[int, int]:
        """(#greater, #ties) of ``|t*|`` against ``|t|`` at ``r`` over the draws ``sub`` (all by default).

        Over all draws of the studentized statistic, once :meth:`confint` has computed the per-draw bound
        (:meth:`_sup_bound`), only the draws that can reach ``|t|`` are evaluated (:meth:`_above`); the
        counts are the same."""
        above = None
        if studentized and self._sup is not None and (sub is None or sub.size == self.n0.size):
            t_obs = float(self._stat(r, self.obs_n0, self.obs_n1, self.obs_q00, self.obs_q01, self.obs_q11,
                                     studentized))
            above = self._above(abs(t_obs))
        if above is not None:  # the draws that cannot reach |t| are left out (neither greater nor tied)
            n0, n1, q00, q01, q11 = above[1]
            t = self._stat(r, n0, n1, q00, q01, q11, studentized)
        elif sub is None or sub.size == self.n0.size:
            t, t_obs = self.stats(r, studentized=studentized)
        else:
            t = self._stat(r, self.n0[sub], self.n1[sub], self.q00[sub], self.q01[sub], self.q11[sub], studentized)
            t_obs = float(self._stat(r, self.obs_n0, self.obs_n1, self.obs_q00, self.obs_q01, self.obs_q11,
                                     studentized))
        a = np.abs(t)
        ao = abs(t_obs)
        tol = 1e-9 * max(ao, 1e-300)
        return int(np.count_nonzero(a > ao + tol)), int(np.count_nonzero(np.abs(a - ao) <= tol))

    def _p_from_counts(self, greater: int, ties: int) -> float:
        b = self.n0.size
        if self.rule == "wild":
            return float((greater + 0.5 * ties) / b)
        # randomization: the observed assignment is one of the rows (enumeration, or added in front)
        return float((greater + ties) / b)

    def pvalue(self, r: float, *, studentized: bool) -> float:
        """Two-sided p-value of H0: coefficient = r.

        ``wild``: boottest's convention, ``(#{|t*| > |t|} + ½ #{|t*| = |t|}) / B``.
        ``ri``: ``#{|T*| ≥ |T|} / B`` over all assignments, the observed one included (with sampled
        assignments it is added to the B draws: ``(1 + #) / (1 + B)``).
        Equality is judged with a relative tolerance of 1e-9 (exact ties such as ``v = ±1`` differ
        only by rounding).
        """
        return self._p_from_counts(*self._counts(r, studentized))

    def _certify(self, lo: float, hi: float, studentized: bool, sub: npt.NDArray[np.intp]) -> tuple[
        int, int, npt.NDArray[np.intp]
    ]:
        """Draws of ``sub`` whose comparison with the observed statistic is the same at every ``r`` in
        ``[lo, hi]``: returns (#greater, #ties) among them and the remaining (undecided) draws.

        Interval bounds: ``num(r)`` is linear and ``den(r)`` quadratic in ``r`` (1 for the coefficient
        statistic), so their ranges on the bracket are exact (end points and the vertex), which bounds
        ``|t*(r)|`` in ``[a_lo, a_hi]`` and ``|t(r)|`` in ``[o_lo, o_hi]``. A draw is *greater* on the whole
        bracket when ``a_lo > (1 + ε) o_hi``, *less* when ``a_hi < (1 - ε) o_lo`` and a *tie* when
        ``(1 - ε) o_hi < a_lo`` and ``a_hi < (1 + ε) o_lo`` (ε = 1e-9, the tie tolerance of :meth:`pvalue`;
        a further 1e-12 relative margin absorbs rounding). Those draws are counted once; :meth:`pvalue` on
        the rest gives exactly the same count at any ``r`` in the bracket.
        """
        full = sub.size == self.n0.size
        cached: tuple[FloatArray, ...] | None = None

        def num_range(a0: FloatArray | float, a1: FloatArray | float) -> tuple[FloatArray, FloatArray]:
            x, y = np.abs(a0 - lo * np.asarray(a1)), np.abs(a0 - hi * np.asarray(a1))
            cross = (a0 - lo * np.asarray(a1)) * (a0 - hi * np.asarray(a1)) <= 0
            return np.where(cross, 0.0, np.minimum(x, y)), np.maximum(x, y)

        def den_range(q0: FloatArray | float, q1: FloatArray | float, q2: FloatArray | float) -> tuple[
            FloatArray, FloatArray
        ]:
            q0, q1, q2 = np.asarray(q0), np.asarray(q1), np.asarray(q2)
            dl = q0 - 2 * lo * q1 + lo * lo * q2
            dh = q0 - 2 * hi * q1 + hi * hi * q2
            dmin, dmax = np.minimum(dl, dh), np.maximum(dl, dh)
            with np.errstate(divide="ignore", invalid="ignore"):
                vert = q1 / q2
                inside = (q2 != 0) & (vert > min(lo, hi)) & (vert < max(lo, hi))
                dv = np.where(inside, q0 - q1 * vert, dmin)
            return np.minimum(dmin, dv), np.maximum(dmax, np.where(inside, dv, dmax))

        omin, omax = num_range(self.obs_n0, self.obs_n1)
        if studentized:
            odmin, odmax = den_range(self.obs_q00, self.obs_q01, self.obs_q11)
            if not odmin > 0:
                return 0, 0, sub
            if full:  # leave out the draws that cannot reach the least |t| on the bracket (never greater or tied)
                above = self._above(float(omin) / np.sqrt(float(odmax) * self.factor) * (1 - 1e-12))
                if above is not None:
                    sub, cached = above
        if cached is not None:
            n0, n1, q = cached[0], cached[1], cached[2:]
        elif full:
            n0, n1, q = self.n0, self.n1, (self.q00, self.q01, self.q11)
        else:
            n0, n1 = self.n0[sub], self.n1[sub]
            q = (self.q00[sub], self.q01[sub], self.q11[sub]) if studentized else ()
        nmin, nmax = num_range(n0, n1)
        if studentized:
            dmin, dmax = den_range(*q)
            ok = dmin > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                a_lo = nmin / np.sqrt(np.where(ok, dmax, 1.0))
                a_hi = nmax / np.sqrt(np.where(ok, dmin, 1.0))
            o_lo, o_hi = float(omin) / np.sqrt(float(odmax)), float(omax) / np.sqrt(float(odmin))
        else:
            ok = np.ones(n0.shape, dtype=bool)
            a_lo, a_hi = nmin, nmax
            o_lo, o_hi = float(omin), float(omax)
        if not o_lo > 0:
            return 0, 0, sub
        eps, mar = 1e-9, 1e-12
        greater = ok & (a_lo > (1 + eps) * o_hi * (1 + mar))
        less = ok & (a_hi < (1 - eps) * o_lo * (1 - mar))
        tie = ok & (a_lo > (1 - eps) * o_hi * (1 + mar)) & (a_hi < (1 + eps) * o_lo * (1 - mar))
        undecided = sub[~(greater | less | tie)]
        return int(np.count_nonzero(greater)), int(np.count_nonzero(tie)), undecided

    def confint(self, estimate: float, scale: float, level: float, *, studentized: bool) -> tuple[float, float]:
        """Confidence set {r : p(r) > 1 - level}, returned as its hull [low, high].

        ``scale`` is a rough standard error used to bracket the bounds. Each bound is found by
        bisection between a point inside and a point outside (to 1e-10 relative precision). The
        bisection evaluates :meth:`pvalue` exactly, but only on the draws whose comparison with the
        observed statistic can still change inside the current bracket (:meth:`_certify`); the others
        are counted once, so the cost after the first steps no longer depends on the number of draws.
        For the studentized statistic, draws whose bound over every ``r`` stays below the observed ``|t|``
        are left out of each evaluation from the start (:meth:`_above`).
        """
        alpha = 1.0 - level

        def inside(r: float) -> bool:
            return self.pvalue(r, studentized=studentized) > alpha

        if studentized:  # many evaluations follow: worth the per-draw bound that skips hopeless draws
            self._sup_bound()
        if not inside(estimate):
            return (np.nan, np.nan)
        bounds: list[float] = []
        all_draws = np.arange(self.n0.size)
        for direction in (-1.0, 1.0):
            step = max(scale, 1e-12 * max(1.0, abs(estimate)))
            lo = estimate
            hi = estimate + direction * step
            k = 0
            while inside(hi):
                lo = hi
                step *= 2.0
                hi = estimate + direction * step
                k += 1
                if k > 60:
                    return (np.nan, np.nan) if direction < 0 else (bounds[0], np.inf)
            base_g, base_t, active = 0, 0, all_draws  # certified after the bracket has narrowed 8×
            for it in range(200):
                mid = 0.5 * (lo + hi)
                g_a, t_a = self._counts(mid, studentized, active)
                if self._p_from_counts(base_g + g_a, base_t + t_a) > alpha:
                    lo = mid
                else:
                    hi = mid
                if abs(hi - lo) <= 1e-11 * max(abs(lo), abs(hi), scale):
                    break
                if it % 3 == 2 and active.size > 64:  # bracket 8× narrower again: certify more draws
                    g_c, t_c, active = self._certify(lo, hi, studentized, active)
                    base_g += g_c
                    base_t += t_c
            bounds.append(0.5 * (lo + hi))
        return bounds[0], bounds[1]


def wild_bootstrap(fit: LinearFit, j: int, *, draws: int, rng: np.random.Generator,
                   weights: str = "rademacher") -> DrawSet:
    """Restricted (WCR) wild cluster bootstrap-t for coefficient ``j`` of ``fit``.

    Null imposed: ``β_j = r``. Restricted residuals ``ũ(r) = M_{X_-j}(y - r x_j)`` are linear in ``r``.
    For bootstrap weights ``v`` (one per cluster) the bootstrap regression gives
    ``β*_j - r = Σ_h a_h v_h`` with ``a_h = e_j'A X_h'ũ_h`` and cluster scores
    ``(e_j'A X_g' û*_g) = Σ_h C_gh v_h`` with
    ``C_gh = e_j'A X_g' [M_D(ũ ∘ 1_h)]_g - e_j'A X_g'X_g A X_h'ũ_h``
    (``M_D(ũ ∘ 1_h) = ũ ∘ 1_h`` when the fixed effects are nested in the clusters).
    """
    assert fit.cluster is not None
    x = fit.X
    others = [k for k in range(fit.p) if k != j]
    xo = x[:, others]
    if others:  # residuals off the other regressors (one small solve, not an N-column one)
        coef = np.linalg.solve(xo.T @ xo, xo.T @ np.column_stack([fit.y, x[:, j]]))  # (p-1) × 2
        u0 = fit.y - xo @ coef[:, 0]
        u1 = x[:, j] - xo @ coef[:, 1]
    else:
        u0, u1 = fit.y.copy(), x[:, j].copy()
    # restricted residual with null r:  ũ(r) = u0 - r u1
    ra = fit.A[j]  # e_j'A, length p
    gcount = fit.n_clusters
    xa = x @ ra  # per row: X A e_j
    # a_h(r) = a0_h - r a1_h
    a0 = fit.cluster_sums(xa * u0)
    a1 = fit.cluster_sums(xa * u1)
    # second term: e_j'A X_g'X_g A X_h'ũ_h  = m_g' (A X_h'ũ_h) with m_g = X_g'X_g A e_j
    mg = fit.cluster_sums(x * xa[:, None])  # G × p
    xu0 = fit.cluster_sums(x * u0[:, None])  # G × p
    xu1 = fit.cluster_sums(x * u1[:, None])
    second0 = mg @ fit.A @ xu0.T  # G × G  [g, h]
    second1 = mg @ fit.A @ xu1.T
    if fit.fe_nested:
        first0 = np.diag(a0)
        first1 = np.diag(a1)
    else:
        first0 = np.zeros((gcount, gcount))
        first1 = np.zeros((gcount, gcount))
        n = fit.n
        for h, idx in enumerate(fit.groups):
            z = np.zeros((n, 2))
            z[idx, 0] = u0[idx]
            z[idx, 1] = u1[idx]
            mz = fit.absorber.project(z)
            first0[:, h] = fit.cluster_sums(xa * mz[:, 0])
            first1[:, h] = fit.cluster_sums(xa * mz[:, 1])
    c0 = first0 - second0
    c1 = first1 - second1
    v, enumerated = sign_matrix(gcount, draws, rng, kind=weights)
    if enumerated and gcount >= 4:
        n0, n1, q00, q01, q11 = _five_enumerated(gcount, a0, a1, c0, c1)
    else:
        n0, n1, q00, q01, q11 = _five(v, a0, a1, c0, c1)
    # observed statistic: unrestricted estimate and CR1 scores (t = (β_j - r)/se)
    s = fit.scores()
    sj = s @ ra
    return DrawSet(n0=n0, n1=n1, q00=q00, q01=q01, q11=q11, factor=fit.cr1_factor,
                   obs_n0=float(fit.beta[j]), obs_n1=1.0, obs_q00=float(sj @ sj), obs_q01=0.0, obs_q11=0.0,
                   enumerated=enumerated, rule="wild")


def _five(v: FloatArray, a0: FloatArray, a1: FloatArray, c0: FloatArray, c1: FloatArray) -> tuple[
    FloatArray, FloatArray, FloatArray, FloatArray, FloatArray
]:
    b = v.shape[0]
    n0 = v @ a0
    n1 = v @ a1
    q00 = np.empty(b)
    q01 = np.empty(b)
    q11 = np.empty(b)
    for start in range(0, b, CHUNK):
        vv = v[start : start + CHUNK]
        s0 = vv @ c0.T
        s1 = vv @ c1.T
        q00[start : start + CHUNK] = np.einsum("bg,bg->b", s0, s0)
        q01[start : start + CHUNK] = np.einsum("bg,bg->b", s0, s1)
        q11[start : start + CHUNK] = np.einsum("bg,bg->b", s1, s1)
    return n0, n1, q00, q01, q11


def _five_enumerated(g: int, a0: FloatArray, a1: FloatArray, c0: FloatArray, c1: FloatArray) -> tuple[
    FloatArray, FloatArray, FloatArray, FloatArray, FloatArray
]:
    """:func:`_five` over the full enumeration (rows in the order of :func:`_enumeration`) by meeting in the
    middle.

    Split the clusters into a low half L (cluster 0 and the low code bits) and a high half H; the row with code
    ``c = c_L + 2^{|L|-1} c_H`` has ``v = (v_L(c_L), v_H(c_H))``. Linear terms are outer sums
    ``a_L'v_L + a_H'v_H``, and each quadratic form ``Σ_g (C v)_g^2 = v'Kv`` (``K = C'C``) is
    ``v_L'K_LL v_L + v_H'K_HH v_H + 2 v_H'K_HL v_L``: the last term for all rows at once is one matrix product
    ``(V_H K_HL) V_L'`` with inner dimension |L| ≈ G/2, instead of G^2 multiply-adds per row.
    """
    n_low = (g - 1) // 2  # code bits of L; L = clusters 0..n_low, H = the rest
    vl = _enumeration(n_low + 1)  # 2^n_low × |L|
    nh = g - 1 - n_low
    codes = np.arange(2**nh, dtype=np.int64)[:, None]
    vh = 1.0 - 2.0 * ((codes >> np.arange(nh)[None, :]) & 1)  # 2^nh × |H|
    lo, hi = slice(0, n_low + 1), slice(n_low + 1, g)

    def linear(a: FloatArray) -> FloatArray:
        return np.asarray(((vh @ a[hi])[:, None] + (vl @ a[lo])[None, :]).ravel())

    def quadratic(k: FloatArray) -> FloatArray:
        k = (k + k.T) / 2
        ql = np.einsum("bi,ij,bj->b", vl, k[lo, lo], vl)
        qh = np.einsum("bi,ij,bj->b", vh, k[hi, hi], vh)
        out = (vh @ (2.0 * k[hi, lo])) @ vl.T  # 2^nh × 2^n_low
        out += qh[:, None]
        out += ql[None, :]
        return np.asarray(out.ravel())

    return linear(a0), linear(a1), quadratic(c0.T @ c0), quadratic(c0.T @ c1), quadratic(c1.T @ c1)


def randomization(fit: LinearFit, j: int, flip: list[int], *, draws: int,
                  rng: np.random.Generator) -> DrawSet:
    """Randomization distribution of coefficient ``j`` over within-pair swaps of the pilot village.

    One coefficient of :func:`randomization_terms` (see there).
    """
    return randomization_terms(fit, [j], flip, draws=draws, rng=rng)[0]


def randomization_terms(fit: LinearFit, terms: Sequence[int], flip: list[int], *, draws: int,
                        rng: np.random.Generator) -> list[DrawSet]:
    """Randomization distributions of the coefficients ``terms`` over within-pair swaps of the pilot village.

    All terms share one set of assignments, and per assignment the refit (the coefficients at r = 0, their
    derivative and the rows of the inverse of X'X for the terms) is computed once for all of them.

    ``fit.cluster`` must be the pair. Swapping pilot and comparison in pair ``g`` turns each treatment
    column ``D = pilot × post`` into ``post - D``; ``post`` (and any period indicator) is absorbed by the
    pair × period fixed effects, so in the transformed space the swap multiplies the cluster's
    treatment columns (``flip``, the set F; the others are N) by ``s_g = -1`` while covariates stay. Under
    the sharp null "every effect equals r" the imputed outcome is ``y - r d`` with ``d = Σ_F D``. Per
    assignment ``s`` the fit needs only the cluster sums ``Γ_g = X_g'X_g``, ``X_g'y_g`` and ``X_g'd_g``:

    * ``X'X(s) = Σ_g S_g Γ_g S_g`` (``S_g = diag(s_g on F, 1 on N)``): its F×F and N×N blocks do not depend
      on ``s``, the F×N block is ``Σ_g s_g Γ_g[F, N]``; likewise ``X'y(s)``, ``X'd(s)`` are linear in ``s``
      (one matrix product with the sign matrix for all of them);
    * ``β0 = X'X(s)^{-1} X'y(s)``, ``β1 = X'X(s)^{-1} X'd(s)`` (``β(r) = β0 - r β1``) and the rows
      ``ρ_j = e_j'X'X(s)^{-1}`` by one batched Cholesky solve over the assignments;
    * the CR1 score of cluster ``g`` on coefficient ``j`` is ``z_g = ρ_j'S_g(c_g - Γ_g S_g β) = a_g + s_g b_g``
      (``c = X'y`` with ``β0``, ``c = X'd`` with ``β1``) where
      ``a_g = Σ_{k∈N} ρ_k c_gk - Σ_{k≤l same side} φ_kl Γ_gkl`` and
      ``b_g = Σ_{k∈F} ρ_k c_gk - Σ_{k<l across} φ_kl Γ_gkl``, ``φ_kl = ρ_k β_l + ρ_l β_k`` (``ρ_k β_k`` on the
      diagonal): two matrix products of a per-assignment vector with a fixed (G × ·) matrix, then
      ``q = Σ_g z_g^2`` — O(G p^2) per assignment and term, nothing of size N.

    The numerator and the scores are linear in ``r`` (the denominator quadratic), which :class:`DrawSet`
    exploits for test inversion.
    """
    assert fit.cluster is not None
    x, y = fit.X, fit.y
    gcount, p = fit.n_clusters, fit.p
    terms = list(terms)
    nt = len(terms)
    dvec = x[:, flip].sum(axis=1)  # imputation direction (treatment columns summed, transformed)
    gram = fit.cluster_grams(x)  # G × p × p
    cy = fit.cluster_sums(x * y[:, None])  # G × p
    cd = fit.cluster_sums(x * dvec[:, None])  # G × p
    sgn = np.zeros(p, dtype=bool)
    sgn[flip] = True
    fc, nc = np.flatnonzero(sgn), np.flatnonzero(~sgn)
    n_f, n_n = fc.size, nc.size
    signs, enumerated = sign_matrix(gcount, draws, rng)
    if enumerated:
        s_t = _enumeration_t(gcount)  # G × B; the observed assignment (all +1) is column 0
    else:  # the observed assignment is added in front of the sampled ones
        s_t = np.ascontiguousarray(np.vstack([np.ones((1, gcount)), signs]).T)
    b = s_t.shape[1]
    fixed_xtx = n_n == 0 or np.allclose(gram[:, sgn][:, :, ~sgn], 0.0)
    same = [(k, m) for k in range(p) for m in range(k, p) if sgn[k] == sgn[m]]
    cross = [(k, m) for k in range(p) for m in range(k + 1, p) if sgn[k] != sgn[m]]
    g_same = -gram[:, [k for k, _ in same], [m for _, m in same]]  # G × |same|
    g_cross = -gram[:, [k for k, _ in cross], [m for _, m in cross]]  # G × |cross|
    # a = ra[c] θa, b = rb[c] θb with θa = (ρ_N, φ_same), θb = (ρ_F, φ_cross); c = 0: (y, β0), c = 1: (d, β1)
    ra = np.stack([np.hstack([cc[:, nc], g_same]) for cc in (cy, cd)])  # 2 × G × da
    rb = np.stack([np.hstack([cc[:, fc], g_cross]) for cc in (cy, cd)])  # 2 × G × db
    da, db = n_n + len(same), n_f + len(cross)
    # the parts of X'y, X'd and X'X linear in s: X'y_F, X'd_F, X'X_FN (row-major)
    lmat = np.ascontiguousarray(np.hstack([cy[:, fc], cd[:, fc], gram[:, fc][:, :, nc].reshape(gcount, -1)]).T)
    cy_n, cd_n = cy[:, nc].sum(axis=0), cd[:, nc].sum(axis=0)
    gsum = gram.sum(axis=0)  # X'X at s = 1 (its F×F and N×N blocks at every s)
    outs = {k: np.empty((nt, b)) for k in ("n0", "n1", "q00", "q01", "q11")}
    chunk, sub = min(RI_CHUNK, b), min(RI_SUB, b)
    tha_buf, thb_buf = np.empty((nt, 2, da, chunk)), np.empty((nt, 2, db, chunk))
    tmp_buf = np.empty(chunk)
    za_buf, zb_buf = np.empty((nt, 2, gcount, sub)), np.empty((nt, 2, gcount, sub))
    for start in range(0, b, chunk):
        st = s_t[:, start : start + chunk]  # G × bc
        bc = st.shape[1]
        lin = lmat @ st
        rhs = np.zeros((p, 2 + nt, bc))  # right-hand sides: X'y, X'd, e_j for each term
        rhs[fc, 0] = lin[:n_f]
        rhs[fc, 1] = lin[n_f : 2 * n_f]
        rhs[nc, 0] = cy_n[:, None]
        rhs[nc, 1] = cd_n[:, None]
        for t, j in enumerate(terms):
            rhs[j, 2 + t] = 1.0
        if fixed_xtx:
            sol = (fit.A @ rhs.reshape(p, -1)).reshape(rhs.shape)
        else:
            xtx = np.empty((p, p, bc))
            xtx[...] = gsum[:, :, None]
            for i, f in enumerate(fc):
                for k, n in enumerate(nc):
                    xtx[f, n] = xtx[n, f] = lin[2 * n_f + i * n_n + k]
            sol = _spd_solve_batched(xtx, rhs)
        tha, thb, tmp = tha_buf[..., :bc], thb_buf[..., :bc], tmp_buf[:bc]
        for t in range(nt):
            rho = sol[:, 2 + t]
            for c in range(2):
                bt = sol[:, c]
                ta, tb = tha[t, c], thb[t, c]
                ta[:n_n] = rho[nc]
                tb[:n_f] = rho[fc]
                for e, (k, m) in enumerate(same):
                    np.multiply(rho[k], bt[m], out=ta[n_n + e])
                    if k != m:
                        np.multiply(rho[m], bt[k], out=tmp)
                        ta[n_n + e] += tmp
                for e, (k, m) in enumerate(cross):
                    np.multiply(rho[k], bt[m], out=tb[n_f + e])
                    np.multiply(rho[m], bt[k], out=tmp)
                    tb[n_f + e] += tmp
        outs["n0"][:, start : start + bc] = sol[terms, 0]
        outs["n1"][:, start : start + bc] = sol[terms, 1]
        for s0 in range(0, bc, sub):  # cache-sized blocks of the G-long score vectors
            w = min(sub, bc - s0)
            sl, osl = slice(s0, s0 + w), slice(start + s0, start + s0 + w)
            za, zb = za_buf[..., :w], zb_buf[..., :w]
            np.matmul(ra, tha[..., sl], out=za)  # terms × 2 × G × w
            np.matmul(rb, thb[..., sl], out=zb)
            zb *= st[:, sl]
            zb += za  # z_g = a_g + s_g b_g
            np.einsum("tgb,tgb->tb", zb[:, 0], zb[:, 0], out=outs["q00"][:, osl])
            np.einsum("tgb,tgb->tb", zb[:, 0], zb[:, 1], out=outs["q01"][:, osl])
            np.einsum("tgb,tgb->tb", zb[:, 1], zb[:, 1], out=outs["q11"][:, osl])
    # observed = the all-(+1) assignment; with enumeration it is row 0 (v_1 = +1, all bits 0)
    result = []
    for t in range(nt):
        out = {k: v[t] for k, v in outs.items()}
        obs = {k: float(val[0]) for k, val in out.items()}
        result.append(DrawSet(n0=out["n0"], n1=out["n1"], q00=out["q00"], q01=out["q01"], q11=out["q11"],
                              factor=fit.cr1_factor, obs_n0=obs["n0"], obs_n1=obs["n1"], obs_q00=obs["q00"],
                              obs_q01=obs["q01"], obs_q11=obs["q11"], enumerated=enumerated, rule="ri"))
    return result


def _spd_solve_batched(a: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve ``a x = rhs`` for symmetric positive definite ``a`` (p × p × n) and ``rhs`` (p × m × n), one
    system per index of the last axis.

    Cholesky without pivoting written over the last axis (each step one vector operation over all n
    systems), which for the few coefficients of a DiD regression is several times faster than LAPACK called
    once per system; above :data:`SPD_LOOP_MAX` coefficients LAPACK's batched solve is used. Raises
    ``ValueError`` when a system is not numerically positive definite (a swapped design that is singular).
    """
    p = a.shape[0]
    if p > SPD_LOOP_MAX:
        try:
            return np.asarray(np.linalg.solve(a.transpose(2, 0, 1), rhs.transpose(2, 0, 1)).transpose(1, 2, 0))
        except np.linalg.LinAlgError as err:
            raise ValueError("randomization: a swapped design is singular (a covariate collinear with the "
                             "treatment columns after a swap); drop it or use wild") from err
    low = np.empty_like(a)
    for j in range(p):
        d = a[j, j].copy()
        for k in range(j):
            d -= low[j, k] * low[j, k]
        if not np.all(d > 0):
            raise ValueError("randomization: a swapped design is singular (a covariate collinear with the "
                             "treatment columns after a swap); drop it or use wild")
        np.sqrt(d, out=low[j, j])
        inv = 1.0 / low[j, j]
        for i in range(j + 1, p):
            v = a[i, j].copy()
            for k in range(j):
                v -= low[i, k] * low[j, k]
            np.multiply(v, inv, out=low[i, j])
    x = rhs.copy()
    for i in range(p):  # L z = rhs
        for k in range(i):
            x[i] -= low[i, k] * x[k]
        x[i] /= low[i, i]
    for i in range(p - 1, -1, -1):  # L'x = z
        for k in range(i + 1, p):
            x[i] -= low[k, i] * x[k]
        x[i] /= low[i, i]
    return x
