"""Multiplier bootstrap of influence functions with clustering and sup-t bands (Callaway & Sant'Anna 2021).

The estimators here deliver, for ``K`` parameters, the matrix ``S`` (``G × K``) of *cluster contributions*:
``S[c, k]`` is the sum over the observations of cluster ``c`` of their influence-function contribution
``ψ_i / n`` to ``θ̂_k − θ_k`` (R ``did``'s ``inffunc / n`` summed by cluster). Then

* analytic variance: ``V = S'S`` (R ``did``: ``crossprod(rowsum(inffunc, cluster)) / n²``; no small-sample
  factor, as in R);
* one bootstrap draw: ``θ*_b − θ̂ = Σ_c v_bc S[c, ·]`` with i.i.d. multipliers ``v`` of mean 0 and variance 1
  (Rademacher, R ``BMisc::multiplier_bootstrap``; or Mammen's two-point weights);
* bootstrap standard error: the interquartile range of the draws divided by ``Φ⁻¹(.75) − Φ⁻¹(.25)``, with
  R's ``quantile(type = 1)`` order statistics (R ``did::mboot``);
* sup-t critical value: the ``level`` quantile (type 1) over draws of ``max_k |θ*_bk − θ̂_k| / se_k``, the
  uniform band ``θ̂_k ± c·se_k`` covering all ``K`` parameters jointly (Montiel Olea & Plagborg-Møller 2019).

Draws are generated in blocks of clusters from ``numpy.random.default_rng(seed)``, so the same seed gives
the same multipliers for every set of parameters built from the same clusters (ATT(g,t) and each
aggregation share them), and memory stays at ``draws × block`` whatever the number of clusters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from ..._blas import single_blas_thread

FloatArray = npt.NDArray[np.float64]

__all__ = ["BootstrapDraws", "iqr_se", "multiplier_draws", "quantile_type1", "sup_t_critical"]

_BLOCK = 8192
_IQR_NORMAL = float(stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
#: Mammen (1993) two-point weights: values and probability of the first
_MAMMEN_A, _MAMMEN_B = (1 - math.sqrt(5)) / 2, (1 + math.sqrt(5)) / 2
_MAMMEN_P = (math.sqrt(5) + 1) / (2 * math.sqrt(5))


def _codes(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> npt.NDArray[np.int8]:
    """Multiplier codes 0/1 (int8): Rademacher −1/+1, Mammen's two points."""
    if kind == "rademacher":
        return rng.integers(0, 2, size=shape, dtype=np.int8)
    if kind == "mammen":
        return (rng.random(shape) >= _MAMMEN_P).astype(np.int8)
    raise ValueError(f"multiplier={kind!r}: use 'rademacher' or 'mammen'")


#: largest multiplier matrix (draws × clusters, one byte each) kept in memory between calls
_CACHE_LIMIT = 200_000_000


def _blocks(n_clusters: int, draws: int, seed: int, kind: str) -> list[tuple[int, int, npt.NDArray[np.int8]]] | None:
    rng = np.random.default_rng(seed)
    out = []
    for a in range(0, n_clusters, _BLOCK):
        b = min(a + _BLOCK, n_clusters)
        out.append((a, b, _codes(rng, (draws, b - a), kind)))
    return out


def multiplier_draws(contrib: FloatArray, *, draws: int, seed: int, kind: str = "rademacher",
                     cache: dict[tuple[int, int, int, str], Any] | None = None) -> FloatArray:
    """``draws × K`` bootstrap deviations ``Σ_c v_bc S[c, ·]`` for cluster contributions ``S`` (``G × K``).

    The multipliers depend only on ``(G, draws, seed, kind)``; ``cache`` (a dict) keeps them (one byte
    each) between calls when they fit in 200 MB, so every parameter of a result shares the same draws.
    """
    s = np.asarray(contrib, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    if draws < 2:
        raise ValueError(f"draws={draws}: need at least 2 bootstrap draws")
    if kind not in ("rademacher", "mammen"):
        raise ValueError(f"multiplier={kind!r}: use 'rademacher' or 'mammen'")
    G = s.shape[0]
    key = (G, draws, seed, kind)
    blocks = None if cache is None else cache.get(key)
    if blocks is None:
        blocks = _blocks(G, draws, seed, kind)
        if cache is not None and draws * G <= _CACHE_LIMIT:
            cache[key] = blocks
    assert blocks is not None
    out = np.zeros((draws, s.shape[1]))
    with single_blas_thread(draws * G * s.shape[1]):
        lo, hi = (-1.0, 1.0) if kind == "rademacher" else (_MAMMEN_A, _MAMMEN_B)
        for a, b, codes in blocks:
            sub = np.nan_to_num(s[a:b])
            out += (hi - lo) * (codes.astype(np.float64) @ sub) + lo * sub.sum(axis=0)  # v = lo + (hi - lo) code
    return out


def quantile_type1(x: FloatArray, p: float) -> float:
    """R's ``quantile(x, p, type = 1)``: the order statistic ``x_(ceil(n p))`` (inverse empirical cdf)."""
    xs = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    if xs.size == 0:
        return float("nan")
    k = max(math.ceil(xs.size * p - 1e-12), 1)
    return float(xs[k - 1])


def iqr_se(boot: FloatArray) -> FloatArray:
    """Bootstrap standard errors: IQR (type-1 quantiles) / (Φ⁻¹(.75) − Φ⁻¹(.25)), per column (R ``mboot``)."""
    b = np.asarray(boot, dtype=float)
    return np.array([(quantile_type1(b[:, k], 0.75) - quantile_type1(b[:, k], 0.25)) / _IQR_NORMAL
                     for k in range(b.shape[1])])


def sup_t_critical(boot: FloatArray, se: FloatArray, level: float) -> float:
    """``level`` quantile (type 1) of ``max_k |boot_bk| / se_k`` over the columns with a positive, finite SE."""
    ok = np.isfinite(se) & (se > 0)
    if not ok.any():
        return float("nan")
    t = np.max(np.abs(boot[:, ok]) / se[ok], axis=1)
    return quantile_type1(t, level)


@dataclass
class BootstrapDraws:
    """Bootstrap settings shared by a result and its aggregations (with the cached multipliers)."""

    draws: int = 999
    seed: int = 0
    kind: str = "rademacher"
    _cache: dict[tuple[int, int, int, str], Any] = field(default_factory=dict, repr=False, compare=False)

    def __call__(self, contrib: FloatArray) -> FloatArray:
        return multiplier_draws(contrib, draws=self.draws, seed=self.seed, kind=self.kind, cache=self._cache)
