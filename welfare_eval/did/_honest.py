"""Fixed-length confidence intervals under smoothness restrictions (Rambachan & Roth 2023, Δ^SD(M)).

Event-study coefficients ``β̂ = (β̂_pre, β̂_post) ~ N(β, Σ)`` with ``β = δ + (0, τ_post)``, periods
relative to the omitted reference period ``0``: pre ``-T_pre..-1``, post ``1..T_post``. The violation of
parallel trends ``δ`` (with ``δ_0 = 0``) lies in ``Δ^SD(M) = {δ : |δ_{t+1} - 2δ_t + δ_{t-1}| ≤ M}``.
Target ``θ = l'τ_post``.

Affine estimators ``θ̂ = v_pre'β̂_pre + l'β̂_post`` (Armstrong & Kolesár 2018). The bias ``v_pre'δ_pre +
l'δ_post`` is bounded over Δ^SD only if it vanishes on linear trends ``δ_t = b t``, i.e.
``v_pre't_pre + l't_post = 0``; then, writing ``δ = P s + b t`` with ``s`` the second differences and
``P`` a right inverse of the second-difference operator, the worst-case bias is ``M ||P'w||_1`` with
``w = (v_pre, l)``. The FLCI is ``θ̂ ± σ_w cv_α(bias/σ_w)``, ``cv_α(t)`` the ``1-α`` quantile of
``|N(t, 1)|`` (computed exactly), minimised over ``v_pre`` (low-dimensional; Nelder–Mead from four starts).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = ["flci_smoothness", "folded_normal_quantile", "relative_magnitudes"]


def folded_normal_quantile(p: float, mu: float) -> float:
    """``c`` with ``P(|Z + mu| ≤ c) = p``, ``Z ~ N(0, 1)``."""
    mu = abs(mu)

    # special.ndtr is the function stats.norm.cdf evaluates, without its argument checking (~50x faster;
    # the FLCI optimisation calls this tens of thousands of times)
    def f(c: float) -> float:
        return float(special.ndtr(c - mu) - special.ndtr(-c - mu) - p)

    hi = mu + float(special.ndtri(1 - (1 - p) / 2)) + 10.0
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-14))


def _second_difference_inverse(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, t): δ = P s + b t for second differences s over periods -n_pre..n_post with δ_0 = 0."""
    times = np.r_[np.arange(-n_pre, 0), np.arange(1, n_post + 1)].astype(float)
    full = np.r_[np.arange(-n_pre, 0), 0, np.arange(1, n_post + 1)]
    m = full.size
    d2 = np.zeros((m - 2, m))
    for i in range(m - 2):
        d2[i, i : i + 3] = (1.0, -2.0, 1.0)
    keep = full != 0
    d2r = d2[:, keep]  # δ_0 = 0 removed
    return np.linalg.pinv(d2r), times


def flci_smoothness(beta: np.ndarray, sigma: np.ndarray, n_pre: int, n_post: int, m: float,
                    l_vec: np.ndarray | None = None, alpha: float = 0.05) -> dict[str, object]:
    """Optimal FLCI for ``θ = l'τ_post`` under Δ^SD(M); returns interval, half-length, weights, bias."""
    beta = np.asarray(beta, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    if beta.size != n_pre + n_post or sigma.shape != (beta.size, beta.size):
        raise ValueError("beta/sigma must have n_pre + n_post entries (reference period excluded)")
    if n_pre < 1:
        raise ValueError("Δ^SD needs at least one pre-period coefficient")
    lv = np.zeros(n_post) if l_vec is None else np.asarray(l_vec, dtype=float)
    if l_vec is None:
        lv[0] = 1.0
    pmat, times = _second_difference_inverse(n_pre, n_post)
    t_pre, t_post = times[:n_pre], times[n_pre:]
    # v_pre = v0 + N z  with  v_pre't_pre = -l't_post
    target = -float(lv @ t_post)
    v0 = t_pre * target / float(t_pre @ t_pre)
    null = np.linalg.svd(t_pre[None, :])[2][1:].T  # n_pre × (n_pre - 1)
    level = 1 - alpha

    def parts(z: np.ndarray) -> tuple[float, float, np.ndarray]:
        w = np.r_[v0 + null @ z, lv]
        sd = float(np.sqrt(w @ sigma @ w))
        bias = m * float(np.abs(pmat.T @ w).sum())
        return sd, bias, w

    def half_length(z: np.ndarray) -> float:
        sd, bias, _ = parts(z)
        return sd * folded_normal_quantile(level, bias / sd)

    k = null.shape[1]
    if k == 0:
        zbest = np.zeros(0)
    else:
        rng = np.random.default_rng(0)
        starts = [np.zeros(k)] + [rng.normal(scale=2.0, size=k) for _ in range(3)]
        best = None
        for z0 in starts:
            res = optimize.minimize(half_length, z0, method="Nelder-Mead",
                                    options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 5_000})
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        zbest = best.x
    sd, bias, w = parts(zbest)
    chi = sd * folded_normal_quantile(level, bias / sd)
    est = float(w @ beta)
    return {"ci_low": est - chi, "ci_high": est + chi, "estimate": est, "half_length": chi, "weights": w,
            "max_bias": bias, "sd": sd, "M": m}


def relative_magnitudes(*, beta_pre: np.ndarray, beta_post: np.ndarray, se_pre: np.ndarray, se_post: np.ndarray,
                        crit: float, k_pre: Sequence[float], k_post: Sequence[float], reference: float,
                        terms: Sequence[str], mbar: Sequence[float]) -> pd.DataFrame:
    """Relative-magnitudes sensitivity (Rambachan & Roth 2023, Δ^RM(M̄)) of event-time effects.

    Post-period violations may change from one period to the next by at most ``M̄`` times the largest change
    between consecutive pre-periods, so ``|δ_k| ≤ (k − ref) M̄ Δ`` with ``Δ = max_j |δ_j − δ_{j−1}|`` over the
    pre-periods and the reference (``δ_ref = 0``). Per post term and ``M̄``: the identified set at the
    estimates (``id_low``, ``id_high``) and a *projection* confidence set, the union of identified sets over
    the simultaneous box ``β ± crit·se`` (valid, conservative; not HonestDiD's conditional/hybrid interval).
    """
    bp, bq = np.asarray(beta_pre, dtype=float), np.asarray(beta_post, dtype=float)
    sp, sq = np.asarray(se_pre, dtype=float), np.asarray(se_post, dtype=float)
    order = np.argsort(np.asarray(k_pre, dtype=float))
    ks = [float(k_pre[i]) for i in order] + [float(reference)]

    def delta_max(values: dict[float, tuple[float, float]]) -> float:
        out = 0.0
        for a, b in itertools.pairwise(ks):
            (la, ua), (lb, ub) = values[a], values[b]
            out = max(out, abs(ub - la), abs(lb - ua))
        return out

    point = {float(k_pre[i]): (bp[i], bp[i]) for i in range(bp.size)}
    box = {float(k_pre[i]): (bp[i] - crit * sp[i], bp[i] + crit * sp[i]) for i in range(bp.size)}
    point[float(reference)] = box[float(reference)] = (0.0, 0.0)
    d_point, d_box = delta_max(point), delta_max(box)
    rows = []
    for j, term in enumerate(terms):
        steps = float(k_post[j]) - float(reference)
        lo, hi = bq[j] - crit * sq[j], bq[j] + crit * sq[j]
        for m in mbar:
            rows.append({"term": term, "mbar": m,
                         "id_low": bq[j] - steps * m * d_point, "id_high": bq[j] + steps * m * d_point,
                         "ci_low": lo - steps * m * d_box, "ci_high": hi + steps * m * d_box})
    return pd.DataFrame(rows)
